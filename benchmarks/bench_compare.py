"""Benchmark: ``ncs.compare`` on a synthetic cohort of about 10^5 segments.

Run ``python benchmarks/bench_compare.py``. Prints, for Katz 2002 and Bouche 1995:

- ``compare`` without simulation (wide tables, agreement, margins, sentences);
- ``compare`` with the robustness simulation (``--draws`` draws per segment);
- the numpy floor of the simulation: drawing the perturbations and recomputing one
  percentage per draw and segment, the least work any simulation must do;
- a naive per-segment Python loop of the same simulation, timed on a sample and scaled up;
- the ratios.

Timings are informative only; no test asserts on them.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

import ncs
from ncs.compare import compare
from ncs.simulate import cohort


def timed(func):
    start = time.perf_counter()
    out = func()
    return out, time.perf_counter() - start


def naive_simulation(seg, n_draws: int, cv: float, seed: int) -> np.ndarray:
    """Per-segment, per-draw Python loop: Katz amplitude/area rule only."""
    rng = np.random.default_rng(seed)
    sigma = np.sqrt(np.log1p(cv**2))
    held = np.zeros(len(seg))
    amp_d = seg["distal_amplitude_mv"].to_numpy()
    amp_p = seg["proximal_amplitude_mv"].to_numpy()
    area = seg["area_drop_pct"].to_numpy()
    for i in range(len(seg)):
        base = (amp_d[i] - amp_p[i]) / amp_d[i] * 100 > 30 or area[i] > 30
        for _ in range(n_draws):
            d = amp_d[i] * np.exp(sigma * rng.standard_normal() - sigma**2 / 2)
            p = amp_p[i] * np.exp(sigma * rng.standard_normal() - sigma**2 / 2)
            held[i] += ((d - p) / d * 100 > 30 or area[i] > 30) == base
    return held / n_draws


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--patients", type=int, default=8500)
    parser.add_argument("--draws", type=int, default=1000)
    args = parser.parse_args()
    warnings.simplefilter("ignore", ncs.NcsWarning)
    np.seterr(invalid="ignore", divide="ignore")  # absent responses give NaN, as in ncs

    sites = cohort(args.patients, seed=1)
    analysis, t_analyze = timed(lambda: ncs.analyze(sites))
    seg = analysis.segments
    n = len(seg)
    print(f"{len(sites):,} sites, {n:,} segments; analyze {t_analyze:.2f} s")

    _, t_plain = timed(lambda: compare(analysis, cv={}))
    print(f"compare without simulation: {t_plain:.2f} s")
    _, t_sim = timed(lambda: compare(analysis, n_draws=args.draws))
    print(f"compare with {args.draws} draws: {t_sim:.2f} s ({t_sim - t_plain:.2f} s simulating)")

    def floor():
        rng = np.random.default_rng(0)
        d = seg["distal_amplitude_mv"].to_numpy()
        p = seg["proximal_amplitude_mv"].to_numpy()
        block = max(1, 1_000_000 // n)
        for start in range(0, args.draws, block):
            b = min(block, args.draws - start)
            f = np.exp(0.15 * rng.standard_normal((b, 2, n)))
            _ = (d * f[:, 0] - p * f[:, 1]) / (d * f[:, 0]) > 0.3

    _, t_floor = timed(floor)
    print(f"numpy floor of the simulation: {t_floor:.2f} s")

    sample = seg.iloc[:200]
    _, t_naive_sample = timed(lambda: naive_simulation(sample, args.draws, 0.156, 0))
    t_naive = t_naive_sample * n / len(sample)
    print(f"naive per-segment loop (scaled from 200 segments): {t_naive:.1f} s")
    simulating = max(t_sim - t_plain, 1e-9)
    print(
        f"ratios: simulation / numpy floor = {simulating / t_floor:.1f}; "
        f"naive loop / simulation = {t_naive / simulating:.0f}"
    )


if __name__ == "__main__":
    main()
