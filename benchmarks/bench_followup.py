"""Follow-up benchmark: ``ncs.followup`` against ``ncs.analyze`` on the same serial study.

Run: ``python benchmarks/bench_followup.py [--patients 100000] [--lean-only]``. A synthetic
cohort (``ncs.simulate.cohort``) is the baseline visit; the follow-up visit is the same
patients and nerves with every amplitude and area multiplied by an independent log-normal
factor (CV 15 %) and a tenth of the proximal sites cut to a third (new blocks), so every kind
of transition occurs. Both visits together are the input of both calls. Prints the best of
``--repeat`` calls of each and their ratio (the goal: a follow-up costs at most about one
extra ``analyze``, i.e. a ratio of about 2 or less, since ``followup`` runs ``analyze``
once), the time of the comparison alone (``followup`` given the analysis) and the ratio of
analyze plus comparison to analyze, with the machine's load average. Calls are interleaved
and the best of ``--repeat`` is kept for each.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import time
import warnings

import numpy as np
import pandas as pd

import ncs
from ncs import simulate

GOAL_RATIO = 2.0  # a follow-up costs at most about one extra analyze (issue's goal)


def serial_cohort(n_patients: int, seed: int) -> pd.DataFrame:
    """Two visits of ``n_patients`` synthetic patients (study dates six months apart)."""
    base = simulate.cohort(n_patients, seed=seed)
    rng = np.random.default_rng(seed + 1)
    later = base.copy()
    sigma = np.sqrt(np.log1p(0.15**2))
    for col in ("amplitude_mv", "area_mvms"):
        factor = np.exp(sigma * rng.standard_normal(len(later)) - sigma**2 / 2)
        later[col] = np.round(later[col].to_numpy() * factor, 2)
    proximal = later["site_order"].to_numpy() > 0
    cut = proximal & (rng.random(len(later)) < 0.1)
    for col in ("amplitude_mv", "area_mvms"):
        later.loc[cut, col] = np.round(later.loc[cut, col] / 3, 2)
    present = later["response"].astype(str).to_numpy() == "present"
    for col in ("amplitude_mv", "area_mvms"):  # an amplitude rounded to 0 is not a CMAP
        values = later[col].to_numpy(dtype=float)
        later[col] = np.where(present & (values <= 0), 0.01, values)
    base["visit"], base["study_date"] = "baseline", "2024-01-15"
    later["visit"], later["study_date"] = "6 months", "2024-07-15"
    return pd.concat([base, later], ignore_index=True)


def best_of(repeat: int, func, *args, **kwargs) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = func(*args, **kwargs)
        best = min(best, time.perf_counter() - t0)
    return best, out


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--lean-only",
        action="store_true",
        help="time reasons=False only (by default the call users make, with its sentences, too)",
    )
    args = parser.parse_args()
    warnings.simplefilter("ignore", ncs.NcsWarning)  # a few simulated values look like µV
    sites = serial_cohort(args.patients, args.seed)
    print(f"python {platform.python_version()}  numpy {np.__version__}  pandas {pd.__version__}")
    print(
        f"{args.patients:,} patients x 2 visits: {len(sites):,} sites; "
        f"load average before: {load()} ({os.cpu_count()} cores)"
    )
    modes = [False] if args.lean_only else [False, True]
    for reasons in modes:
        options = {"reasons": reasons, "errors": "collect"}
        t_an = t_fu = t_cmp = float("inf")
        for _ in range(args.repeat):  # interleaved: a drifting load hits both alike
            t, res = best_of(1, ncs.analyze, sites, **options)
            t_an = min(t_an, t)
            t, cmp = best_of(1, ncs.followup, res)  # the comparison alone, on the analysis
            t_cmp = min(t_cmp, t)
            blocks = res.findings["block"].value_counts().to_dict()
            del res, cmp  # one result in memory at a time
            gc.collect()
            t, fu = best_of(1, ncs.followup, sites, **options)
            t_fu = min(t_fu, t)
            assert fu.analysis.findings["block"].value_counts().to_dict() == blocks
            if _ < args.repeat - 1:
                del fu
                gc.collect()
        counts = fu.segments["transition"].value_counts().to_dict()
        label = "with sentences" if reasons else "reasons=False "
        print(
            f"{label}  analyze {t_an:7.2f} s   followup {t_fu:7.2f} s   ratio {t_fu / t_an:4.2f}"
            f"   comparison alone {t_cmp:6.2f} s: (analyze + comparison) / analyze = "
            f"{(t_an + t_cmp) / t_an:4.2f}   ({len(fu.segments):,} segment rows)"
        )
        print(f"  transitions: {counts}")
        ratio = t_fu / t_an
        verdict = "met" if ratio <= GOAL_RATIO else "NOT met"
        print(
            f"goal {label.strip()}: followup / analyze {ratio:.2f} (<= {GOAL_RATIO:g}: at most "
            f"one extra analyze) {verdict}"
        )
    print(f"load average after: {load()}")
    try:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        print(f"peak resident memory of this process: {peak:,.1f} GiB")
    except ImportError:  # not on this platform
        pass


if __name__ == "__main__":
    main()
