"""Single-study latency for EDX software: one patient, 8 nerves, ``ncs.analyze`` median.

Run: ``python benchmarks/bench_single_study.py [--repeat 300]``. Prints the median and the
95th percentile beside the bare NumPy floor on the same study.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from bench_pipeline import numpy_floor

import ncs
from ncs import simulate


def median_ms(func, *args, repeat: int, **kwargs) -> tuple[float, float]:
    for _ in range(20):
        func(*args, **kwargs)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        func(*args, **kwargs)
        times.append(time.perf_counter() - t0)
    return float(np.median(times)) * 1e3, float(np.percentile(times, 95)) * 1e3


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
            med, p95 = median_ms(res.to_json, repeat=args.repeat)
        else:
            med, p95 = median_ms(ncs.analyze, study, repeat=args.repeat, **kwargs)
        print(f"{label:<26} median {med:6.2f} ms   p95 {p95:6.2f} ms")
    med, p95 = median_ms(numpy_floor, study, repeat=args.repeat)
    print(f"{'numpy floor':<26} median {med:6.2f} ms   p95 {p95:6.2f} ms")


if __name__ == "__main__":
    main()
