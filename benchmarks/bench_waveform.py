"""Benchmark: ``ncs.waveform.measure`` on 1,000 traces vs a bare numpy floor; ``cohort`` size.

Run ``python benchmarks/bench_waveform.py``. Prints, from the same run:

- ``measure`` on 1,000 simulated CMAP traces (50 ms sweeps at 20 kHz, with noise);
- the numpy floor on the same array: one ``argmin`` (negative peak) plus one trapezoidal
  integral per row, the least work any amplitude-plus-area measurement must do;
- their ratio against the goal (measure at most 5x the floor), with "met" or "NOT met";
- ``measure`` on one trace (the per-call cost an EDX program pays per recording);
- ``ncs.simulate.cohort`` generating about 1,000,000 stimulation sites.

The floor and ``measure`` are timed in alternation, ``--repeat`` times each, and the ratio is
that of their best (minimum) times: on a shared machine, other work slows both in the
median and hardly either in the minimum. The load average is printed. Timings are
informative only; no test asserts on them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import numpy as np

from ncs.simulate import cmap, cohort
from ncs.waveform import measure

#: Goal (issue 16): ``measure`` on 1,000 traces within this multiple of the numpy floor.
GOAL_RATIO = 5.0


def best_of(func: Callable[[], object], repeat: int) -> float:
    """Best wall-clock time of ``repeat`` calls, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def alternate(
    first: Callable[[], object], second: Callable[[], object], repeat: int
) -> tuple[list[float], list[float]]:
    """Wall-clock times of ``first`` and ``second`` called in turn, ``repeat`` times each."""
    first(), second()  # warm-up: first-touch memory, caches
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        for func, bucket in zip((first, second), times, strict=True):
            start = time.perf_counter()
            func()
            bucket.append(time.perf_counter() - start)
    return times


def make_traces(n_traces: int, seed: int = 0) -> tuple[np.ndarray, float, float]:
    """``n_traces`` noisy CMAPs from three stimulation distances and varied spreads."""
    rng = np.random.default_rng(seed)
    sims = [
        cmap([70.0, 300.0, 420.0], cv_spread=spread, noise_mv=0.02, baseline_mv=0.1, seed=i)
        for i, spread in enumerate(np.linspace(0.0, 0.5, 12))
    ]
    pool = np.vstack([s.traces for s in sims])
    picks = rng.integers(0, pool.shape[0], n_traces)
    noise = rng.normal(0.0, 0.02, (n_traces, pool.shape[1]))
    return pool[picks] + noise, sims[0].fs_hz, sims[0].stim_ms


def numpy_floor(traces: np.ndarray, fs_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """Negative peak (argmin) and trapezoidal area of every row: the bare minimum."""
    peak = np.argmin(traces, axis=1)
    area = np.trapezoid(traces, dx=1000.0 / fs_hz, axis=1)
    return peak, area


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=int, default=1000)
    parser.add_argument("--sites", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()

    traces, fs_hz, stim_ms = make_traces(args.traces)
    n_samples = traces.shape[1]
    t_floor, t_measure = alternate(
        lambda: numpy_floor(traces, fs_hz), lambda: measure(traces, fs_hz, stim_ms), args.repeat
    )
    best_floor, best_measure = min(t_floor), min(t_measure)
    ratio = best_measure / best_floor
    result = measure(traces, fs_hz, stim_ms)
    n_ok = int((result["quality"] == "ok").sum())
    print(f"traces: {args.traces} x {n_samples} samples ({fs_hz:g} Hz); {n_ok} measured 'ok'")
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} cores)")
    print(f"best of {args.repeat}, alternating:   best     median")
    print(
        f"measure():                   {best_measure * 1e3:8.2f} ms "
        f"{statistics.median(t_measure) * 1e3:8.2f} ms"
    )
    print(
        f"numpy argmin + trapezoid:    {best_floor * 1e3:8.2f} ms "
        f"{statistics.median(t_floor) * 1e3:8.2f} ms"
    )
    print(f"measure per trace:           {best_measure / args.traces * 1e6:8.2f} us")
    t_one = best_of(lambda: measure(traces[0], fs_hz, stim_ms), 10 * args.repeat)
    print(f"measure() of one trace:      {t_one * 1e3:8.2f} ms")
    verdict = "met" if ratio <= GOAL_RATIO else "NOT met"
    label = f"measure / floor on {args.traces:,} traces"
    print(f"goal {label}: {ratio:.1f}x (<= {GOAL_RATIO:g}x) {verdict}")

    sites_per_patient = 12  # median 3 + ulnar 4 + peroneal 3 + tibial 2, one side
    n_patients = -(-args.sites // sites_per_patient)
    start = time.perf_counter()
    frame = cohort(n_patients, seed=1)
    t_cohort = time.perf_counter() - start
    print(f"cohort(): {len(frame):,} sites ({n_patients:,} patients) in {t_cohort:.2f} s")


if __name__ == "__main__":
    main()
