"""Cohort-scale benchmark: the library vs a bare NumPy floor vs a naive per-row reference.

Run: ``python benchmarks/bench_pipeline.py [--sites 480000]``. Times the call users make
(``ncs.analyze(df)`` with its sentences, ``.findings`` and ``.patients`` read) and the lean
batch call (``reasons=False``) on shuffled rows, prints sites per second, the ratios to a bare
NumPy floor and to naive per-row references (with and without sentences), each goal of the
project as met / not met, and peak memory (tracemalloc for Python/NumPy allocations plus the peak
of pyarrow's memory pool, which tracemalloc cannot see), with the input's text columns
backed by pyarrow and as Python objects. Times are the best of three calls, for the floor
and the library alike; the library's first call in a fresh process is printed too (the
operating system hands out fresh memory pages then).
"""

from __future__ import annotations

import argparse
import gc
import itertools
import os
import platform
import time
import tracemalloc
import warnings

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


def _pct(x: float) -> str:
    return f"{x:.1f}"


def naive_sentences(df: pd.DataFrame) -> tuple[list[str], dict[str, str]]:
    """The per-row pure-Python reference that also writes the sentences: Katz 2002 and
    Bouche 1995 on every segment (neighbouring sites and against the most distal one), a
    sentence per finding and an evidence sentence per patient and criterion, as the library
    writes them (the same words and numbers; the library's wording is richer in rare cases)."""
    nerves: dict[tuple, list] = {}
    cols = [
        df[c].tolist()
        for c in (
            "patient_id",
            "nerve",
            "side",
            "site",
            "site_order",
            "amplitude_mv",
            "area_mvms",
            "duration_ms",
        )
    ]
    for pid, nerve, side, site, order, amp, area, dur in zip(*cols, strict=True):
        nerves.setdefault((pid, nerve, side), []).append((order, site, amp, area, dur))
    reasons: list[str] = []
    evidence: dict[str, str] = {}

    def drop(d: float, p: float) -> float:
        return (d - p) / d * 100 if d == d and p == p and d > 0 else float("nan")

    def phrase(label: str, value: float, threshold: float) -> str:
        if value != value:
            return f"{label} unknown"
        verb = "rose" if value < 0 else "fell"
        ok = "" if value > threshold else "not "
        return f"{label} {verb} {_pct(abs(value))}% ({ok}>{threshold:g}%)"

    for (pid, nerve, side), rows in sorted(nerves.items()):
        rows.sort()
        pairs = list(itertools.pairwise(rows)) + [(rows[0], r) for r in rows[2:]]
        for (_, s0, a0, r0, d0), (_, s1, a1, r1, d1) in pairs:
            amp, area = drop(a0, a1), drop(r0, r1)
            dur = (d1 - d0) / d0 * 100 if d0 == d0 and d1 == d1 and d0 > 0 else float("nan")
            block = amp > 30 or area > 30
            disp = dur > 30
            reasons.append(
                f"{phrase('amplitude', amp, 30)}, {phrase('area', area, 30)}: "
                f"{'conduction block' if block else 'no conduction block'}; duration "
                f"{'+' if dur >= 0 else '-'}{_pct(abs(dur))}% ({'' if disp else 'not '}>30%): "
                f"{'temporal dispersion' if disp else 'no temporal dispersion'} (Katz 2002)"
            )
            if (block or disp) and pid not in evidence:
                evidence[pid] = f"{nerve} {side}, {s0} to {s1}: {reasons[-1]}"
            partial = amp > 50 and area > 50 and abs(dur) < 15
            reasons.append(
                f"{phrase('amplitude', amp, 50)} and {phrase('area', area, 50)} and duration "
                f"{'+' if dur >= 0 else '-'}{_pct(abs(dur))}% (|change| <15%): "
                f"{'partial conduction block' if partial else 'no partial conduction block'} "
                "(Bouche 1995)"
            )
        evidence.setdefault(pid, "all segment(s) judged; none met the rule")
    return reasons, evidence


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


def _status_bytes(key: str) -> int | None:
    """A memory figure of this process from /proc/self/status (Linux), in bytes."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _reset_peak_rss() -> bool:
    """Reset the process's resident-memory high-water mark (Linux 4.0+)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_memory(func, *args, **kwargs) -> tuple[int, int, int | None]:
    """(tracemalloc peak, pyarrow pool peak, resident peak) in bytes while running func.

    tracemalloc sees Python and NumPy allocations, not pyarrow's buffers; pyarrow's pool
    keeps one high-water mark for the whole process, so call this in a fresh process (see
    :func:`measure_in_child`): the pool figure is the mark's rise above what was allocated
    before the call. The two peaks need not fall at the same moment, so their sum
    overstates the peak; the rise of the resident high-water mark over the resident memory
    before the call (Linux; None elsewhere) is the process's real peak, allocator slack
    included.
    """
    try:
        import pyarrow as pa

        pool = pa.default_memory_pool()
        before = pool.bytes_allocated()
    except ImportError:
        pool, before = None, 0
    gc.collect()
    rss_before = _status_bytes("VmRSS:") if _reset_peak_rss() else None
    func(*args, **kwargs)
    rss_peak = _status_bytes("VmHWM:") if rss_before is not None else None
    tracemalloc.start()
    func(*args, **kwargs)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    arrow_peak = (pool.max_memory() - before) if pool is not None else 0
    rss = rss_peak - rss_before if rss_peak is not None and rss_before is not None else None
    return peak, max(arrow_peak, 0), rss


def _child(n_patients: int, seed: int, objects: bool, reasons: bool, queue) -> None:
    df = simulate.cohort(n_patients, seed=seed).sample(frac=1, random_state=seed)
    df = df.reset_index(drop=True)
    if objects:
        df = df.astype({c: object for c in df.columns if df[c].dtype.kind not in "fiub"})

    def call():  # the default call, its tables read (the first call sets up caches)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ncs.NcsWarning)
            res = ncs.analyze(df, reasons=reasons)
            return res.findings, res.patients

    ncs.analyze(df.iloc[:1000], reasons=reasons)  # imports and caches, not the cohort
    traced, arrow, rss = peak_memory(call)
    queue.put((traced, arrow, rss, int(df.memory_usage(deep=True).sum()), len(df)))


def measure_in_child(
    n_patients: int, seed: int, objects: bool, reasons: bool = True
) -> tuple[int, int, int | None, int, int]:
    """Peak memory of the library in a fresh process: (traced, arrow, resident, frame bytes,
    rows)."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(n_patients, seed, objects, reasons, queue))
    proc.start()
    out = queue.get()
    proc.join()
    return out


def goal(label: str, value: float, limit: float, unit: str = "x", lower: bool = True) -> str:
    met = value <= limit if lower else value >= limit
    relation = "<=" if lower else ">="
    verdict = "met" if met else "NOT met"
    return f"goal {label}: {value:.1f}{unit} ({relation} {limit:g}{unit}) {verdict}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sites", type=int, default=480_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    n_patients = -(-args.sites // SITES_PER_PATIENT)
    # rows shuffled: the library must not depend on the input's order
    df = simulate.cohort(n_patients, seed=args.seed).sample(frac=1, random_state=args.seed)
    df = df.reset_index(drop=True)
    n = len(df)
    string_storage = getattr(df["patient_id"].dtype, "storage", "object")
    print(
        f"python {platform.python_version()}  numpy {np.__version__}  pandas {pd.__version__}"
        f"  strings: {string_storage}"
    )
    print(
        f"cohort: {n:,} sites (shuffled), {n_patients:,} patients, input frame "
        f"{df.memory_usage(deep=True).sum() / 2**20:,.0f} MiB"
    )

    def default() -> object:  # the call users make: sentences on, tables read
        res = ncs.analyze(df)
        return res.findings, res.patients

    def lean() -> object:
        res = ncs.analyze(df, reasons=False, errors="collect")
        return res.findings, res.patients

    print(f"load average before: {load()} ({os.cpu_count()} cores)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ncs.NcsWarning)
        t_floor, floor_out = timed(numpy_floor, df, repeat=3)
        t_first, _ = timed(default)
        t_default, (findings, patients) = timed(default, repeat=3)
        t_lean, _ = timed(lean, repeat=3)
        t_validate, _ = timed(ncs.validate, df, repeat=3)
    t_naive, naive_out = timed(naive, df)
    t_naive_text, (naive_reasons, _) = timed(naive_sentences, df)
    # the floor and the naive reference agree with each other and with the library (Katz)
    katz = patients[patients["scheme"] == "katz2002"].set_index("patient_id")["verdict"]
    ids = pd.factorize(df["patient_id"])[1]
    assert (floor_out == np.array([naive_out[p] for p in ids])).all()
    lib_positive = (katz.loc[list(ids)] == "demyelinating").to_numpy()
    # the floor judges adjacent pairs only; the library also compares with the distal site
    assert not (floor_out & ~lib_positive).any()
    agree = (lib_positive == floor_out).mean()
    assert len(naive_reasons) == len(findings)

    def rate(t: float) -> str:
        return f"{n / t:>12,.0f} sites/s  ({t:7.3f} s)"

    print(f"numpy floor                  {rate(t_floor)}")
    print(f"library, default call        {rate(t_default)}   = {t_default / t_floor:5.1f} x floor")
    print(f"library, default, 1st call   {rate(t_first)}   = {t_first / t_floor:5.1f} x floor")
    print(f"library, reasons=False       {rate(t_lean)}   = {t_lean / t_floor:5.1f} x floor")
    print(f"naive per-row, no sentences  {rate(t_naive)}   = {t_naive / t_floor:5.1f} x floor")
    print(
        f"naive per-row, sentences     {rate(t_naive_text)}   = {t_naive_text / t_floor:5.1f} "
        f"x floor, {t_naive_text / t_default:4.1f} x the library's default call"
    )
    print(f"(Katz patient verdicts: floor and library agree on {agree:.2%} of patients)")
    # what the ">= 10 x the naive reference" goal leaves: validating the input alone (every
    # cell read by one rule, nothing judged) is part of every call
    budget = t_naive_text / 10
    print(
        f"validation alone (ncs.validate) {rate(t_validate)}   = {t_validate / t_floor:5.1f} x "
        f"floor; the >= 10 x goal leaves the default call {budget / t_floor:4.1f} x floor, "
        f"{(budget - t_validate) / t_floor:+4.1f} x floor after validation"
    )
    lines = [
        goal("default call / floor", t_default / t_floor, 10),
        goal("naive with sentences / default call", t_naive_text / t_default, 10, lower=False),
        goal("reasons=False / floor", t_lean / t_floor, 4),
    ]
    for label, objects in ((f"strings: {string_storage}", False), ("strings: object", True)):
        traced, arrow, rss, size, rows = measure_in_child(n_patients, args.seed, objects)
        print(
            f"peak memory, default call ({label}): tracemalloc {traced / rows:,.0f} B/site, "
            f"pyarrow pool {arrow / rows:,.0f} B/site (sum {(traced + arrow) / rows:,.0f}: an "
            "upper bound, the two peaks need not coincide); resident peak "
            + (f"{rss / rows:,.0f} B/site" if rss is not None else "not measurable here")
            + f"; input frame {size / rows:,.0f} B/site"
        )
        per_site = (rss if rss is not None else traced + arrow) / rows
        lines.append(goal(f"peak memory per site ({label})", per_site, 1024, unit=" B"))
    print("\n".join(lines))
    print(f"load average after: {load()}")


if __name__ == "__main__":
    main()
