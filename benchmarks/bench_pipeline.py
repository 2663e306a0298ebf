"""Cohort-scale benchmark: the library vs a bare NumPy floor vs a naive per-row reference.

Run: ``python benchmarks/bench_pipeline.py [--sites 1000000] [--reasons]``. Prints sites per
second, the ratios, and peak memory (tracemalloc for Python/NumPy allocations plus the peak
of pyarrow's memory pool, which tracemalloc cannot see), with the input's text columns
backed by pyarrow and as Python objects. Times are the best of three calls, for the floor
and the library alike; the library's first call in a fresh process is printed too (the
operating system hands out fresh memory pages then).
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import time
import tracemalloc

import numpy as np
import pandas as pd

import ncs
from ncs import simulate

SITES_PER_PATIENT = 12  # cohort(): 4 nerves x 3 sites


def numpy_floor(df: pd.DataFrame) -> np.ndarray:
    """Only the irreducible arithmetic: key codes, sort, adjacent differences, thresholds,
    a per-patient reduction (Katz: any drop >30% or duration increase >30%)."""
    pc, _ = pd.factorize(df["patient_id"])
    nc, _ = pd.factorize(df["nerve"])
    sc, _ = pd.factorize(df["side"])
    idx = np.lexsort((df["site_order"].to_numpy(), sc, nc, pc))
    pc, nc, sc = pc[idx], nc[idx], sc[idx]
    amp = df["amplitude_mv"].to_numpy()[idx]
    area = df["area_mvms"].to_numpy()[idx]
    dur = df["duration_ms"].to_numpy()[idx]
    same = (pc[1:] == pc[:-1]) & (nc[1:] == nc[:-1]) & (sc[1:] == sc[:-1])
    with np.errstate(all="ignore"):
        amp_drop = (amp[:-1] - amp[1:]) / amp[:-1] * 100
        area_drop = (area[:-1] - area[1:]) / area[:-1] * 100
        dur_change = (dur[1:] - dur[:-1]) / dur[:-1] * 100
    positive = ((amp_drop > 30) | (area_drop > 30) | (dur_change > 30)) & same
    out = np.zeros(int(pc.max()) + 1, dtype=bool)
    np.logical_or.at(out, pc[:-1], positive)
    return out


def naive(df: pd.DataFrame) -> dict[str, bool]:
    """An honest per-row pure-Python reference (dicts and loops, no NumPy)."""
    nerves: dict[tuple, list] = {}
    cols = [
        df[c].tolist()
        for c in (
            "patient_id",
            "nerve",
            "side",
            "site_order",
            "amplitude_mv",
            "area_mvms",
            "duration_ms",
        )
    ]
    for pid, nerve, side, order, amp, area, dur in zip(*cols, strict=True):
        nerves.setdefault((pid, nerve, side), []).append((order, amp, area, dur))
    verdict: dict[str, bool] = {}
    for (pid, _, _), rows in nerves.items():
        rows.sort()
        hit = verdict.get(pid, False)
        for (_, a0, r0, d0), (_, a1, r1, d1) in itertools.pairwise(rows):
            amp_block = a0 > 0 and (a0 - a1) / a0 * 100 > 30
            area_block = r0 > 0 and (r0 - r1) / r0 * 100 > 30
            dispersed = d0 == d0 and d1 == d1 and d0 > 0 and (d1 - d0) / d0 * 100 > 30
            if amp_block or area_block or dispersed:
                hit = True
        verdict[pid] = hit
    return verdict


def load() -> str:
    """The 1-, 5- and 15-minute load averages."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def timed(func, *args, repeat: int = 1, **kwargs) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = func(*args, **kwargs)
        best = min(best, time.perf_counter() - t0)
    return best, out


def peak_memory(func, *args, **kwargs) -> tuple[int, int]:
    """(tracemalloc peak, pyarrow pool peak) in bytes while running func.

    pyarrow's pool only keeps a high-water mark for the whole process, so call this in a
    fresh process (see :func:`measure_in_child`); the pool figure is the mark's rise above
    what was allocated before the call.
    """
    try:
        import pyarrow as pa

        pool = pa.default_memory_pool()
        before = pool.bytes_allocated()
    except ImportError:
        pool, before = None, 0
    tracemalloc.start()
    func(*args, **kwargs)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    arrow_peak = (pool.max_memory() - before) if pool is not None else 0
    return peak, max(arrow_peak, 0)


def _child(n_patients: int, seed: int, objects: bool, queue) -> None:
    df = simulate.cohort(n_patients, seed=seed)
    if objects:
        df = df.astype({c: object for c in df.columns if df[c].dtype.kind not in "fiub"})
    traced, arrow = peak_memory(ncs.analyze, df, reasons=False, errors="collect")
    queue.put((traced, arrow, int(df.memory_usage(deep=True).sum()), len(df)))


def measure_in_child(n_patients: int, seed: int, objects: bool) -> tuple[int, int, int, int]:
    """Peak memory of the library in a fresh process: (traced, arrow, frame bytes, rows)."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(n_patients, seed, objects, queue))
    proc.start()
    out = queue.get()
    proc.join()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sites", type=int, default=1_000_000)
    parser.add_argument("--reasons", action="store_true", help="also time reasons=True")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    n_patients = -(-args.sites // SITES_PER_PATIENT)
    df = simulate.cohort(n_patients, seed=args.seed)
    n = len(df)
    string_storage = getattr(df["patient_id"].dtype, "storage", "object")
    print(
        f"python {platform.python_version()}  numpy {np.__version__}  pandas {pd.__version__}"
        f"  strings: {string_storage}"
    )
    print(
        f"cohort: {n:,} sites, {n_patients:,} patients, input frame "
        f"{df.memory_usage(deep=True).sum() / 2**20:,.0f} MiB"
    )

    print(f"load average before: {load()} ({os.cpu_count()} cores)")
    t_floor, floor_out = timed(numpy_floor, df, repeat=3)
    t_first, res = timed(ncs.analyze, df, reasons=False, errors="collect")
    t_lib, res = timed(ncs.analyze, df, repeat=3, reasons=False, errors="collect")
    t_naive, naive_out = timed(naive, df)
    # the floor and the naive reference agree with each other and with the library (Katz)
    katz = res.patients[res.patients["scheme"] == "katz2002"].set_index("patient_id")["verdict"]
    ids = pd.factorize(df["patient_id"])[1]
    assert (floor_out == np.array([naive_out[p] for p in ids])).all()
    lib_positive = (katz.loc[list(ids)] == "demyelinating").to_numpy()
    # the floor judges adjacent pairs only; the library also compares with the distal site
    assert not (floor_out & ~lib_positive).any()
    agree = (lib_positive == floor_out).mean()

    def rate(t: float) -> str:
        return f"{n / t:>12,.0f} sites/s  ({t:7.3f} s)"

    print(f"numpy floor      {rate(t_floor)}")
    print(f"library          {rate(t_lib)}   = {t_lib / t_floor:5.1f} x floor")
    print(f"library, 1st call{rate(t_first)}   = {t_first / t_floor:5.1f} x floor")
    print(
        f"naive per-row    {rate(t_naive)}   = {t_naive / t_floor:5.1f} x floor, "
        f"{t_naive / t_lib:4.1f} x library"
    )
    print(f"(Katz patient verdicts: floor and library agree on {agree:.2%} of patients)")
    if args.reasons:
        t_full, _ = timed(ncs.analyze, df)
        print(f"library+reasons  {rate(t_full)}   = {t_full / t_floor:5.1f} x floor")
    for label, objects in ((f"strings: {string_storage}", False), ("strings: object", True)):
        traced, arrow, size, rows = measure_in_child(n_patients, args.seed, objects)
        print(
            f"peak memory ({label}): tracemalloc {traced / 2**20:,.0f} MiB + pyarrow pool "
            f"{arrow / 2**20:,.0f} MiB = {(traced + arrow) / rows:,.0f} bytes per site "
            f"({(traced + arrow) / size:.1f} x the {size / 2**20:,.0f} MiB input frame)"
        )
    print(f"load average after: {load()}")


if __name__ == "__main__":
    main()
