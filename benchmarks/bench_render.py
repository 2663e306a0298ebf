"""Benchmark: the command line's text table against its CSV output, on about 10^5 sites.

Run ``python benchmarks/bench_render.py``. Prints the time of:

- ``ncs.cli.render_table`` (the text ``ncs analyze`` prints) on the whole cohort;
- the CSV path of the same command (``--format csv``: the findings table made
  spreadsheet-safe and written as CSV) on the same result;
- the text floor: joining the already formatted finding lines, the least work any text
  output must do;
- the previous renderer (a per-patient groupby with ``.loc`` look-ups), timed on a sample
  of patients because it grows faster than linearly;
- the ratios, the one that matters being text / CSV (the goal: within 2x).

It also renders half and a quarter of the cohort to show the text renderer grows linearly.
Timings are informative only; no test asserts on them.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

import ncs
from ncs.cli import _render, render_table
from ncs.simulate import cohort


def timed(func, repeat: int = 3):
    best, out = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        out = func()
        best = min(best, time.perf_counter() - start)
    return out, best


def previous_renderer(result) -> str:
    """The renderer this one replaced: a groupby per patient and a .loc per patient."""
    lines: list[str] = []
    f = result.findings
    for pid, rows in f.groupby("patient_id", sort=True, observed=True):
        lines.append(f"== patient {pid}")
        for (nerve, side), nrows in rows.groupby(["nerve", "side"], sort=True, observed=True):
            lines.append(f"  {nerve} {side}")
            for r in nrows.itertuples(index=False):
                seg = f"{r.distal_site} -> {r.proximal_site}"
                if r.reference == "distal":
                    seg += " (vs most distal)"
                lines.append(f"    {seg:<38} {r.criterion:<11} block={r.block:<14} {r.reason}")
        lines.append("  verdicts:")
        for r in result.patients[result.patients["patient_id"] == pid].itertuples(index=False):
            lines.append(f"    {r.scheme:<11} {r.verdict}: {r.evidence}")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--patients", type=int, default=8_500, help="about 12 sites each")
    parser.add_argument("--sample", type=int, default=500, help="patients for the old renderer")
    args = parser.parse_args()
    warnings.simplefilter("ignore", ncs.NcsWarning)

    sites = cohort(args.patients, seed=1)
    result = ncs.analyze(sites)
    n_sites, n_findings = len(sites), len(result.findings)
    print(f"{args.patients:,} patients, {n_sites:,} sites, {n_findings:,} findings")

    text, t_text = timed(lambda: render_table(result))
    _, t_csv = timed(lambda: _render(result, "csv", "findings"))
    lines = text.splitlines()
    _, t_floor = timed(lambda: "\n".join(lines) + "\n")
    print(f"text table (render_table)      {t_text:8.3f} s   {len(text) / 1e6:6.1f} MB")
    print(f"CSV output (--format csv)      {t_csv:8.3f} s")
    print(f"text floor (join of the lines) {t_floor:8.3f} s")
    print(f"ratio text / CSV               {t_text / t_csv:8.2f}   (goal: <= 2)")
    print(f"ratio text / floor             {t_text / t_floor:8.1f}")

    for fraction in (0.25, 0.5):
        ids = np.unique(sites["patient_id"])[: int(args.patients * fraction)]
        part = ncs.analyze(sites[sites["patient_id"].isin(ids)])
        _, t_part = timed(lambda part=part: render_table(part))
        print(
            f"text table on {fraction:4.0%} of the patients {t_part:8.3f} s   "
            f"(x{t_text / t_part:4.2f} for x{1 / fraction:.0f} the patients)"
        )

    ids = np.unique(sites["patient_id"])[: args.sample]
    sample = ncs.analyze(sites[sites["patient_id"].isin(ids)])
    _, t_old = timed(lambda: previous_renderer(sample), repeat=1)
    _, t_new = timed(lambda: render_table(sample))
    print(
        f"previous renderer, {args.sample:,} patients   {t_old:8.3f} s   "
        f"(this one: {t_new:.3f} s, x{t_old / t_new:.0f})"
    )


if __name__ == "__main__":
    main()
