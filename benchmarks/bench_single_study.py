"""Single-study latency for EDX software: one patient, 8 nerves, ``ncs.analyze`` median.

Run: ``python benchmarks/bench_single_study.py [--repeat 300]``. Prints the median, the
95th percentile and the minimum beside the bare NumPy floor on the same study, and the load
average (other work on the machine shows in the median, hardly in the minimum).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
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
    for label, kwargs in (
        ("analyze (with sentences)", {}),
        ("analyze (reasons=False)", {"reasons": False}),
        ("to_json after analyze", None),
    ):
        if kwargs is None:
            res = ncs.analyze(study)
            med, p95, low = median_ms(res.to_json, repeat=args.repeat)
        else:
            med, p95, low = median_ms(ncs.analyze, study, repeat=args.repeat, **kwargs)
        print(f"{label:<26} median {med:6.2f} ms   p95 {p95:6.2f} ms   min {low:6.2f} ms")
    med, p95, low = median_ms(numpy_floor, study, repeat=args.repeat)
    print(f"{'numpy floor':<26} median {med:6.2f} ms   p95 {p95:6.2f} ms   min {low:6.2f} ms")
    print(f"load average: {load()} ({os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
