"""Single-study latency for EDX software: one patient, 8 nerves, ``ncs.analyze`` median.

Run: ``python benchmarks/bench_single_study.py [--repeat 300]``. Prints the median, the
95th percentile and the minimum of the call users make (sentences on, ``.findings`` and
``.patients`` read), of ``reasons=False``, of every scheme at once and of ``to_json()``,
beside the bare NumPy floor and the time to build one DataFrame of the study's rows, each
goal as met / not met, and the load average (other work on the machine shows in the median,
hardly in the minimum).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import pandas as pd
from bench_pipeline import load, numpy_floor

import ncs
from ncs import simulate


def median_ms(func, *args, repeat: int, **kwargs) -> tuple[float, float, float]:
    """Median, 95th percentile and minimum of ``repeat`` calls, in ms."""
    for _ in range(20):
        func(*args, **kwargs)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        func(*args, **kwargs)
        times.append(time.perf_counter() - t0)
    ms = np.array(times) * 1e3
    return float(np.median(ms)), float(np.percentile(ms, 95)), float(ms.min())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=300)
    args = parser.parse_args()
    study = simulate.cohort(1, seed=1, both_sides=True)  # 4 nerves x 2 sides, 24 sites
    n_nerves = study.groupby(["nerve", "side"]).ngroups
    print(f"study: {len(study)} sites, {n_nerves} nerves")
    columns = {c: study[c].to_numpy() for c in study.columns}

    def one_frame() -> pd.DataFrame:  # the yardstick: one DataFrame of the study's rows
        return pd.DataFrame(columns)

    def default() -> object:  # the call users make: sentences on, tables read
        res = ncs.analyze(study)
        return res.findings, res.patients

    def every_scheme() -> object:
        res = ncs.analyze(study, criteria="all")
        return res.findings, res.patients

    result = ncs.analyze(study)
    timings = {}
    for label, func in (
        ("analyze, sentences, read", default),
        ("analyze, reasons=False", lambda: ncs.analyze(study, reasons=False)),
        ('analyze, criteria="all"', every_scheme),
        ("to_json after analyze", result.to_json),
        ("numpy floor", lambda: numpy_floor(study)),
        ("one DataFrame of the rows", one_frame),
    ):
        timings[label] = median_ms(func, repeat=args.repeat)
        med, p95, low = timings[label]
        print(f"{label:<28} median {med:6.2f} ms   p95 {p95:6.2f} ms   min {low:6.2f} ms")
    frame = timings["one DataFrame of the rows"][0]
    for label, limit in (
        ("analyze, sentences, read", 2.0),
        ('analyze, criteria="all"', 8.0),
        ("to_json after analyze", 2.0),
    ):
        med = timings[label][0]
        verdict = "met" if med <= limit else "NOT met"
        print(
            f"goal {label}: median {med:.2f} ms (<= {limit:g} ms) {verdict}; "
            f"{med / frame:.1f} x one DataFrame of the rows"
        )
    print(f"load average: {load()} ({os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
