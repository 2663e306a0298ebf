"""Command line: ``ncs analyze``, ``validate``, ``report``, ``compare``, ``followup``,
``batch``, ``convert``, ``demo``, ``criteria``.

Exit codes: 0 success; 2 invalid input (every problem printed with the line of the file,
or the sheet row and header, where it is), a usage error, or an output that cannot be
written as asked; 1 an internal error.

Every subcommand that reads sites shares one set of input options
(:func:`ncs.cli_input.add_input_options`) and one reader (:func:`ncs.cli_input.read_input`).
"""

from __future__ import annotations

import argparse
import inspect
import io
import json
import os
import re
import sys
import warnings
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from ncs._progress import Status
from ncs._version import __version__
from ncs.analyze import Analysis, analyze
from ncs.batch import DEFAULT_CHUNK_ROWS
from ncs.cli_input import (
    CommaList,
    Input,
    add_input_options,
    parse_units,
    place_rows,
    problem_lines,
    read_input,
)
from ncs.errors import NcsWarning, Problem, UnknownCriteriaError, ValidationError
from ncs.io import MAX_BYTES, from_json, read_sites
from ncs.normative import reference_table
from ncs.registry import CRITERIA, DEFAULT_CRITERIA, resolve
from ncs.schema import nerve_keys

__all__ = [
    "add_input_options",
    "main",
    "read_input",
    "render_followup",
    "render_table",
]

EXIT_OK, EXIT_INTERNAL, EXIT_INVALID = 0, 1, 2

#: Above this many findings, text output to the terminal shows the per-patient verdict
#: table only, and says how to get the rest.
TEXT_MAX_FINDINGS = 5000

_EXAMPLES = """examples:
  ncs demo                                  analyse the bundled example study
  ncs analyze study.csv                     the default criteria (katz2002, bouche1995)
  ncs analyze study.csv -c katz2002,bouche1995 -f json > result.json
  ncs analyze study.csv --table patients -o verdicts.xlsx   format from the extension
  ncs analyze export.csv -v                 say how the file was read (separator, ...)
  ncs analyze export.csv --sep ';' --decimal , --encoding cp1252   European CSV, by hand
  ncs analyze lab.xlsx --sheet Motor --header-row 3 --wide
  ncs analyze cohort.xlsx --wide --mapping headers.csv -o findings.csv
  ncs analyze study.csv --units amplitude=uV
  ncs analyze study.csv --reference lab_limits.csv  a lab's own reference values
  cat study.csv | ncs analyze -             standard input (format sniffed, or --format-in)
  ncs validate study.csv                    every problem with its line in the file
  ncs convert lab.xlsx --wide -o sites.csv  the tidy sites table a wide sheet becomes
  ncs report study.csv -o report.html       one self-contained HTML page
  ncs report cohort.csv --patients P1,P7 -o report.html
  ncs report study.csv -o report.pdf        the same, printed to PDF (needs Chromium)
  ncs report result.json -o report.html     from a saved JSON result
  ncs criteria                              list the criteria with citations
  ncs batch cohort.parquet -d out/          big files: chunked, one file per table
  ncs compare study.csv -c katz2002,bouche1995   agreement tables between criteria
  ncs followup serial.csv                   baseline and follow-up compared (visit column)
"""

#: Output format by output-file extension.
_EXTENSION_FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".json": "json",
    ".parquet": "parquet",
    ".html": "html",
    ".htm": "html",
    ".txt": "table",
    ".xlsx": "xlsx",
}
_TEXT_FORMATS = ("table", "csv", "tsv", "json", "html")

_TABLES = ("findings", "segments", "nerves", "patients", "sites", "rejected", "warnings")
_FOLLOWUP_TABLES = ("segments", "nerves", "patients", "visits", "warnings", "rejected")

_FOLLOWUP_EXAMPLES = """examples:
  ncs followup serial.csv                   each patient's visits compared (text)
  ncs followup serial.csv --visits baseline,6m,12m   visit order without study_date
  ncs followup serial.csv -c bouche1995 -o followup.xlsx   every table, one sheet each
  ncs followup serial.csv --table patients -o courses.csv
  ncs followup serial.csv -o followup.json   everything, with the variability definition
  ncs followup serial.csv --cv amplitude_mv=0.1 --patterns all -o followup.html
"""


def _at_least(low: int):
    """An argparse type: a whole number >= ``low`` (anything else is a usage error, exit 2)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
        return value

    parse.__name__ = f"whole number >= {low}"
    return parse


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ncs",
        description="Conduction block, temporal dispersion and demyelination criteria for motor "
        "nerve conduction studies.",
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"ncs {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    def criteria_option(p: argparse.ArgumentParser, extra: str = "") -> None:
        p.add_argument(
            "--criteria",
            "-c",
            action=CommaList,
            metavar="ID[,ID...]",
            help=f"criterion ids, comma-separated or repeated{extra} (default: "
            f"{', '.join(DEFAULT_CRITERIA)}); known: {', '.join(CRITERIA)}",
        )

    def add_output_options(
        p: argparse.ArgumentParser,
        formats: tuple[str, ...],
        tables: tuple[str, ...] = _TABLES,
        default_table: str = "findings",
    ) -> None:
        """--criteria, --format, --table, --output, --reference and --visits."""
        criteria_option(p)
        p.add_argument(
            "--format",
            "-f",
            choices=formats,
            default=None,
            help="output format (default: from the --output extension "
            f"{', '.join(sorted(_EXTENSION_FORMATS))}, else a text table)",
        )
        p.add_argument(
            "--table",
            choices=tables,
            default=default_table,
            help=f"which table csv, tsv and parquet output hold (default: {default_table}; "
            "xlsx holds every table, one sheet each)",
        )
        p.add_argument(
            "--output", "-o", metavar="FILE", help="write here instead of standard output"
        )
        p.add_argument(
            "--reference",
            metavar="FILE",
            help="a lab's reference-value table (CSV, XLSX, Parquet, JSON) for the guideline "
            "schemes; default: the values shipped with ncs",
        )
        visits_option(p)

    formats = ("table", "json", "csv", "tsv", "parquet", "xlsx", "html")
    p_an = sub.add_parser(
        "analyze",
        help="analyse a sites table (CSV, XLSX, Parquet, JSON)",
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p_an.add_argument("file", help="sites table, one row per stimulation site ('-': stdin)")
    add_output_options(p_an, formats)
    add_input_options(p_an)

    p_batch = sub.add_parser(
        "batch",
        help="analyse a large CSV/Parquet file in patient-complete chunks into a directory",
    )
    p_batch.add_argument("file", help="sites table grouped by patient_id")
    p_batch.add_argument("--output-dir", "-d", required=True, help="directory for the tables")
    p_batch.add_argument(
        "--chunk-rows",
        type=_at_least(1),
        default=DEFAULT_CHUNK_ROWS,
        metavar="N",
        help=f"rows read per chunk, at least 1 (default: {DEFAULT_CHUNK_ROWS:_})",
    )
    criteria_option(p_batch)
    p_batch.add_argument("--format", "-f", choices=("parquet", "csv"), default=None)
    p_batch.add_argument(
        "--reasons",
        action="store_true",
        help="write the sentences too (findings.reason, patients.evidence)",
    )
    p_batch.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_input_options(p_batch, size_limit=False)

    p_cmp = sub.add_parser(
        "compare",
        help="agreement between criteria on the same segments (kappa, discordant segments)",
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p_cmp.add_argument("file", help="sites table, one row per stimulation site ('-': stdin)")
    _add_compare_options(p_cmp, criteria_option)
    add_input_options(p_cmp)

    p_fu = sub.add_parser(
        "followup",
        help="serial studies: each patient's consecutive visits compared segment by segment",
        epilog=_FOLLOWUP_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p_fu.add_argument(
        "file", help="sites table with a visit column (and study_date), one row per site"
    )
    add_output_options(p_fu, formats, _FOLLOWUP_TABLES, "segments")
    p_fu.add_argument(
        "--cv",
        action="append",
        metavar="COLUMN=FRACTION",
        default=[],
        help="test-retest coefficient of variation of a site measure, e.g. amplitude_mv=0.1 "
        "or area_mvms=0.12 (default: Kong et al. 2009, amplitude 0.156)",
    )
    p_fu.add_argument(
        "--confidence",
        type=float,
        default=0.95,
        help="level of the measurement-variability interval (default: 0.95)",
    )
    p_fu.add_argument(
        "--patterns",
        action=CommaList,
        metavar="ID[,ID...]",
        help="serial-study patterns to add: all, ercf, resolution_pattern (unverified; see "
        "the docs)",
    )
    p_fu.add_argument("--no-plots", action="store_true", help="html: leave the plots out")
    add_input_options(p_fu)

    p_conv = sub.add_parser(
        "convert",
        help="write the tidy sites table a file becomes (a wide sheet, a European CSV, ...)",
        epilog="examples:\n  ncs convert lab.xlsx --wide -o sites.csv\n"
        "  ncs convert export.csv -o sites.parquet\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p_conv.add_argument("file", help="sites table or wide sheet ('-': stdin)")
    p_conv.add_argument(
        "--output",
        "-o",
        metavar="FILE",
        help="output file (.csv, .tsv, .xlsx, .parquet, .json); default: CSV on stdout",
    )
    add_input_options(p_conv)

    p_demo = sub.add_parser("demo", help="analyse the bundled example study")
    add_output_options(p_demo, formats)

    p_crit = sub.add_parser("criteria", help="list the criteria and their citations")
    p_crit.add_argument("--format", "-f", choices=("table", "json", "markdown"), default="table")

    p_val = sub.add_parser(
        "validate",
        help="check a sites table and list every problem (exit 2 when invalid)",
        epilog="examples:\n  ncs validate study.csv\n  ncs validate cohort.xlsx --wide -v\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p_val.add_argument("file", help="sites table, one row per stimulation site ('-': stdin)")
    visits_option(p_val)
    add_input_options(p_val)

    p_rep = sub.add_parser(
        "report",
        help="write a self-contained HTML report (verdicts, evidence, findings, plots)",
        epilog="examples:\n  ncs report study.csv -o report.html\n"
        "  ncs report study.csv -c katz2002 --title 'EMG lab, 2024-05-01' -o report.html\n"
        "  ncs report cohort.csv --patients P1,P7 -o report.html   (a cohort: pick patients)\n"
        "  ncs report result.json -o report.html   (a saved `ncs analyze -f json` result)\n"
        "  ncs analyze study.csv -f json | ncs report - -o report.html\n"
        "  ncs report study.csv -o report.pdf       (printed through a headless Chromium)\n"
        "  ncs report study.csv --paper letter -o report.pdf\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p_rep.add_argument(
        "file", help="sites table, or a JSON result of ncs analyze ('-': stdin, either)"
    )
    add_output_options(p_rep, formats)
    p_rep.add_argument("--title", help="page title")
    p_rep.add_argument(
        "--paper",
        type=str.lower,
        choices=("a4", "letter"),
        default=None,
        help="page size: A4 (the default of a PDF) or letter; an HTML report without it "
        "prints on the printer's paper",
    )
    p_rep.add_argument(
        "--browser",
        metavar="PATH",
        help="Chromium or Chrome executable for a PDF (default: NCS_BROWSER, else chromium, "
        "google-chrome, ... on the PATH)",
    )
    p_rep.add_argument("--no-plots", action="store_true", help="leave the plots out")
    p_rep.add_argument(
        "--max-patients",
        type=int,
        metavar="N",
        help="largest number of patients in one report (default: "
        "ncs.report.MAX_REPORT_PATIENTS); pick patients with --patients",
    )
    add_input_options(p_rep)
    return parser


def visits_option(p: argparse.ArgumentParser) -> None:
    """``--visits``: the order of the visit labels of serial studies without dates."""
    p.add_argument(
        "--visits",
        action=CommaList,
        metavar="LABEL[,LABEL...]",
        help="serial studies (a visit column) without study_date: the visit labels in their "
        "order, earliest first, e.g. --visits baseline,6m,12m",
    )


def _add_compare_options(p: argparse.ArgumentParser, criteria_option) -> None:
    criteria_option(p, extra=", at least two")
    p.add_argument(
        "--format",
        "-f",
        choices=("table", "json", "csv"),
        default=None,
        help="table: agreement tables as text; csv: the --table table; json: everything "
        "(default: from the --output extension, else table)",
    )
    p.add_argument(
        "--table",
        choices=(
            "agreement",
            "contingency",
            "accuracy",
            "segments",
            "nerves",
            "patients",
            "robustness",
            "patient_robustness",
            "margins",
        ),
        default="agreement",
        help="which table --format csv writes (default: agreement)",
    )
    p.add_argument(
        "--diagnosis",
        metavar="COLUMN",
        help="column holding each patient's reference diagnosis (default: 'diagnosis' if present)",
    )
    p.add_argument(
        "--positive",
        action=CommaList,
        metavar="VALUE",
        help="diagnosis value counted as positive (repeatable; default: boolean-like values)",
    )
    p.add_argument(
        "--cv",
        action="append",
        metavar="COLUMN=FRACTION",
        default=[],
        help="coefficient of variation of a site measure for the robustness simulation, "
        "e.g. amplitude_mv=0.1 (default: Kong et al. 2009, amplitude 0.156)",
    )
    p.add_argument(
        "--draws", type=_at_least(1), default=1000, help="simulation draws (default: 1000)"
    )
    p.add_argument(
        "--seed", type=_at_least(0), default=0, help="simulation seed, 0 or more (default: 0)"
    )
    p.add_argument("--output", "-o", metavar="FILE", help="write here instead of standard output")


def _cv(items: list[str]) -> dict[str, float] | None:
    if not items:
        return None
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        try:
            out[key.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise ValidationError([(None, None, f"--cv takes COLUMN=FRACTION, got {item!r}")])
    return out


def _csv(frame: pd.DataFrame, sep: str = ",") -> str:
    """CSV text of a table, with formula-like text cells neutralised."""
    from ncs.io import safe_for_spreadsheet

    return safe_for_spreadsheet(frame).to_csv(index=False, sep=sep)


def _run_compare(args: argparse.Namespace) -> int:
    from ncs.compare import compare

    fmt = _output_format(args, default="table", allowed=("table", "json", "csv"))
    _check_output_dir(args.output)
    data = read_input(args)
    with warnings.catch_warnings(record=True) as caught, Status("comparing criteria"):
        warnings.simplefilter("always", NcsWarning)
        result = compare(
            data.sites,
            criteria=args.criteria,
            diagnosis=args.diagnosis,
            positive=args.positive,
            cv=_cv(args.cv),
            n_draws=args.draws,
            seed=args.seed,
            units=data.units,
        )
    _print_warnings(caught, data)
    if fmt == "json":
        text = json.dumps(result.to_dict(), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    elif fmt == "csv":
        text = _csv(getattr(result, args.table))
    else:
        text = result.summary()
    _emit(text, args.output)
    return EXIT_OK


def demo_path() -> Path:
    """Path of the bundled example study."""
    return Path(str(resources.files("ncs") / "data" / "demo_study.csv"))


# --------------------------------------------------------------------------------------
# Text output
# --------------------------------------------------------------------------------------


def _codes_over(values: pd.Series, categories: pd.Index) -> np.ndarray:
    return pd.Categorical(values.astype(object), categories=categories).codes.astype(np.int64)


def _text(values: pd.Series) -> np.ndarray:
    """A column as an object array of str ('' for missing)."""
    return values.astype(object).where(values.notna(), "").to_numpy(dtype=object)


def _formatted(keys: list[np.ndarray], fmt) -> np.ndarray:
    """``fmt(*row)`` for each row of ``keys``, formatted once per distinct row."""
    if not len(keys[0]):
        return np.zeros(0, dtype=object)
    frame = pd.DataFrame({str(i): k for i, k in enumerate(keys)})
    codes, uniques = pd.factorize(pd.MultiIndex.from_frame(frame))
    table = np.array([fmt(*u) for u in uniques], dtype=object)
    return table[codes]


def render_table(result: Analysis) -> str:
    """Human-readable text: findings per patient and nerve, then each patient's verdicts.

    Linear in the number of findings: rows are ordered with one sort and every distinct
    piece of text is formatted once (see ``benchmarks/bench_render.py``).

    Parameters
    ----------
    result : Analysis
        The analysis to show.

    Returns
    -------
    str
        One block per patient (in patient-id order): ``== patient ID``, the findings of each
        nerve, then ``verdicts:``; then a note for each nerve stimulated at one site only.
    """
    f, p = result.findings, result.patients
    if "visit" in p.columns:  # serial studies: one block per visit of a patient, in order
        f_ids, p_ids = _study_labels(f), _study_labels(p)
        ids = pd.Index(pd.unique(np.concatenate([p_ids, f_ids])))
        heads = _study_heads(p, ids)
    else:
        f_ids = f["patient_id"].astype(str) if len(f) else f["patient_id"]
        p_ids = p["patient_id"].astype(str) if len(p) else p["patient_id"]
        ids = pd.Index(
            pd.unique(
                np.concatenate([f["patient_id"].astype(object), p["patient_id"].astype(object)])
            )
        )
        ids = ids[ids.notna()].astype(str).sort_values()
        heads = np.array([f"== patient {pid}" for pid in ids], dtype=object)
    texts, k1, k2, k3 = [], [], [], []

    def add(text: np.ndarray, patient: np.ndarray, section: int, position: np.ndarray) -> None:
        texts.append(text)
        k1.append(patient)
        k2.append(np.full(len(text), section, dtype=np.int64))
        k3.append(np.asarray(position, dtype=np.int64))

    n_ids = len(ids)
    add(heads, np.arange(n_ids), 0, np.zeros(n_ids))
    if len(f):
        fp = _codes_over(f_ids, ids)
        nerve, side = _text(f["nerve"]), _text(f["side"])
        nerve_codes = pd.factorize(nerve, sort=True)[0]
        side_codes = pd.factorize(side, sort=True)[0]
        order = np.lexsort((side_codes, nerve_codes, fp))  # stable: table order within a nerve
        fp, nerve, side = fp[order], nerve[order], side[order]
        ncodes, scodes = nerve_codes[order], side_codes[order]
        prefix = _formatted(
            [
                _text(f["distal_site"])[order],
                _text(f["proximal_site"])[order],
                _text(f["comparison"])[order],
                _text(f["criterion"])[order],
                _text(f["block"])[order],
            ],
            lambda d, px, ref, crit, block: (
                f"    {d + ' -> ' + px + (' (vs most distal)' if ref == 'distal' else ''):<38}"
                f" {crit:<11} block={block:<14} "
            ),
        )
        reason = _text(f["reason"])[order] if "reason" in f.columns else np.full(len(f), "")
        rank = np.arange(len(f), dtype=np.int64)
        add(prefix + reason, fp, 1, 2 * rank + 1)
        new_nerve = np.ones(len(f), dtype=bool)
        new_nerve[1:] = (
            (fp[1:] != fp[:-1]) | (ncodes[1:] != ncodes[:-1]) | (scodes[1:] != scodes[:-1])
        )
        first = np.flatnonzero(new_nerve)
        heads = _formatted([nerve[first], side[first]], lambda n, s: f"  {n} {s}")
        add(heads, fp[first], 1, 2 * rank[first])
    if len(p):
        pp = _codes_over(p_ids, ids)
        has = np.unique(pp)
        add(np.full(len(has), "  verdicts:", dtype=object), has, 2, np.zeros(len(has)))
        evidence = _text(p["evidence"]) if "evidence" in p.columns else np.full(len(p), "")
        lead = _formatted(
            [_text(p["scheme"]), _text(p["verdict"])], lambda s, v: f"    {s:<11} {v}: "
        )
        add(lead + evidence, pp, 3, np.arange(len(p)))
    text = np.concatenate(texts)
    order = np.lexsort((np.concatenate(k3), np.concatenate(k2), np.concatenate(k1)))
    lines = text[order].tolist()
    nerves = result.nerves
    keys = list(nerve_keys(nerves.columns))
    single = nerves[nerves["n_segments"] == 0].drop_duplicates(keys)
    if len(single):
        lines.extend(
            _formatted(
                [_text(single[k]) for k in keys],
                lambda *key: f"note: {' '.join(key)} has one site only: no segment to judge",
            ).tolist()
        )
    return "\n".join(lines) + "\n"


def _study_labels(frame: pd.DataFrame) -> pd.Series:
    """One label per row for its (patient, visit), as text."""
    if not len(frame):
        return pd.Series([], dtype=object)
    return pd.Series(_text(frame["patient_id"]) + "\x1f" + _text(frame["visit"]), dtype=object)


def _study_heads(patients: pd.DataFrame, ids: pd.Index) -> np.ndarray:
    """``== patient P1, visit baseline (2024-01-15)`` for each (patient, visit) label."""
    dates = {}
    if "study_date" in patients.columns and len(patients):
        dates = dict(zip(_study_labels(patients), _text(patients["study_date"]), strict=True))
    heads = []
    for label in ids:
        pid, _, visit = str(label).partition("\x1f")
        date = dates.get(label, "")
        heads.append(f"== patient {pid}, visit {visit}" + (f" ({date})" if date else ""))
    return np.array(heads, dtype=object)


def render_verdicts(result: Analysis) -> str:
    """The per-patient verdict table: one line per patient, one column per scheme."""
    p = result.patients
    if not len(p):
        return "no patients\n"
    visits = "visit" in p.columns
    ids = (
        pd.Series(_text(p["patient_id"]) + " / " + _text(p["visit"]))
        if visits
        else p["patient_id"].astype(str)
    )
    wide = pd.DataFrame(
        {
            "patient_id": ids.to_numpy(),
            "scheme": p["scheme"].astype(str).to_numpy(),
            "verdict": _text(p["verdict"]),
        }
    ).pivot(index="patient_id", columns="scheme", values="verdict")
    # serial studies keep each patient's visits in their order (the patients table's)
    wide = wide.reindex(pd.unique(ids.to_numpy())) if visits else wide.sort_index()
    schemes = [s for s in dict.fromkeys(p["scheme"].astype(str)) if s in wide.columns]
    wide = wide[schemes].fillna("")
    width = max(10, int(wide.index.str.len().max()))
    columns = [wide.index.to_numpy(dtype=object)]
    header = [f"{'patient / visit' if visits else 'patient':<{width}}"]
    for s in schemes:
        w = max(len(s), int(wide[s].str.len().max()))
        header.append(f"{s:<{w}}")
        columns.append(wide[s].str.pad(w, side="right").to_numpy(dtype=object))
    columns[0] = pd.Series(columns[0]).str.pad(width, side="right").to_numpy(dtype=object)
    body = columns[0]
    for c in columns[1:]:
        body = body + "  " + c
    return "  ".join(header).rstrip() + "\n" + "\n".join(s.rstrip() for s in body) + "\n"


def _render_text(result: Analysis, to_terminal: bool, data: Input | None = None) -> str:
    if not to_terminal or len(result.findings) <= TEXT_MAX_FINDINGS:
        return render_table(result) + _warnings_text(result)
    n_patients = result.patients["patient_id"].nunique()
    return (
        render_verdicts(result)
        + f"\n{len(result.findings):,} findings of {n_patients:,} patients are not shown (more "
        f"than {TEXT_MAX_FINDINGS:,} lines): write them to a file with -o findings.csv (or "
        "-o result.json, -o all.xlsx), or show a few patients with --patients ID,...\n"
        + _warnings_text(result)
    )


def _warnings_text(result: Analysis) -> str:
    """The result's warnings, one line per warning (their rows are in --table warnings);
    the rows a message names are the file's (:func:`_place_warnings`)."""
    table = getattr(result, "warnings", None)
    if not isinstance(table, pd.DataFrame) or table.empty:
        return ""
    messages = table.drop_duplicates(["code", "message"])
    # the rows a message names were placed in the file when the result was made
    lines = [f"  {r.code}: {r.message}" for r in messages.itertuples(index=False)]
    return (
        f"\nwarnings ({len(messages)}; their rows: --table warnings):\n" + "\n".join(lines) + "\n"
    )


# --------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------


def _table_of(result: Analysis, table: str) -> pd.DataFrame:
    frame = getattr(result, table, None)
    if not isinstance(frame, pd.DataFrame):
        raise ValidationError([(None, "--table", f"this result has no {table} table")])
    return frame


def _result_tables(result: Analysis) -> dict[str, pd.DataFrame]:
    tables = {}
    for name in ("patients", "nerves", "segments", "findings", "sites", "rejected", "warnings"):
        frame = getattr(result, name, None)
        if isinstance(frame, pd.DataFrame) and (len(frame) or name in _TABLES[:5]):
            tables[name] = frame
    return tables


def _render(
    result: Analysis,
    fmt: str,
    table: str,
    to_terminal: bool = False,
    data: Input | None = None,
) -> str | bytes:
    if fmt == "json":
        return result.to_json(indent=2) + "\n"
    if fmt in ("csv", "tsv"):
        return _csv(_table_of(result, table), sep="\t" if fmt == "tsv" else ",")
    if fmt == "parquet":
        from ncs.io import _require

        _require("pyarrow", "parquet")
        buffer = io.BytesIO()
        _table_of(result, table).to_parquet(buffer, index=False)
        return buffer.getvalue()
    if fmt == "xlsx":
        from ncs.io import workbook_bytes

        tables = _result_tables(result)
        if table in tables:  # the asked-for table first
            tables = {table: tables.pop(table), **tables}
        return workbook_bytes(tables)
    if fmt == "html":
        from ncs.report import to_html

        return to_html(result)
    return _render_text(result, to_terminal, data)


def _output_format(
    args: argparse.Namespace,
    default: str = "table",
    allowed: tuple[str, ...] | None = None,
) -> str:
    """--format if given, else from the output file's extension, else ``default``."""
    fmt = getattr(args, "format", None)
    output = getattr(args, "output", None)
    if output:
        suffix = Path(output).suffix.lower()
        by_extension = _EXTENSION_FORMATS.get(suffix)
        known = sorted(_EXTENSION_FORMATS)
        if allowed is not None:
            known = [e for e, f in _EXTENSION_FORMATS.items() if f in allowed]
        if by_extension is None or (allowed is not None and by_extension not in allowed):
            if not fmt:
                raise ValidationError(
                    [
                        (
                            None,
                            "--output",
                            f"cannot tell the output format from {suffix or 'no extension'!r}; "
                            f"use one of {', '.join(sorted(known))} or pass --format",
                        )
                    ]
                )
        elif fmt and fmt != by_extension and not (suffix == ".txt" and fmt in _TEXT_FORMATS):
            raise ValidationError(
                [
                    (
                        None,
                        "--output",
                        f"--format {fmt} does not match the extension {suffix!r} (which "
                        f"means {by_extension}); change one of them",
                    )
                ]
            )
        fmt = fmt or by_extension
    fmt = fmt or default
    if fmt in ("parquet", "xlsx") and not output:
        raise ValidationError([(None, "--output", f"{fmt} output needs --output FILE")])
    return fmt


def _check_output_dir(output: str | None) -> None:
    """A missing output directory is the user's to create: say so before any work."""
    if not output:
        return
    parent = Path(output).parent
    if not parent.is_dir():
        raise ValidationError(
            [(None, "--output", f"the output directory {str(parent)!r} does not exist")]
        )
    if Path(output).is_dir():
        raise ValidationError([(None, "--output", f"{output!r} is a directory, not a file")])


def _emit(content: str | bytes, output: str | None) -> None:
    """Write the fully rendered output to the file (or standard output) in one go."""
    if isinstance(content, bytes):
        if not output:
            raise ValidationError([(None, "--output", "binary output needs --output FILE")])
        _write(Path(output), content)
    elif output:
        _write(Path(output), content.encode("utf-8"))
    else:
        sys.stdout.write(content)


def _write(path: Path, content: bytes) -> None:
    try:
        path.write_bytes(content)
    except OSError as err:
        raise ValidationError(
            [(None, "--output", f"cannot write {path.name}: {err.strerror or type(err).__name__}")]
        ) from None


# --------------------------------------------------------------------------------------
# Reading and analysing
# --------------------------------------------------------------------------------------


_OTHER_ROW = re.compile(r"in row (\d+)\)")
"""The other row a reference-table problem names ("... 52 in row 1)"), placed in the file."""


def _reference(args: argparse.Namespace) -> dict[str, object]:
    """``reference=`` for analyze when --reference is given and analyze supports it."""
    if not getattr(args, "reference", None):
        return {}
    if "reference" not in inspect.signature(analyze).parameters:
        raise ValidationError([(None, "--reference", "reference values are not supported yet")])
    table = read_sites(Path(args.reference))
    try:
        reference_table(table)  # checked here, so that its problems name its own file
    except ValidationError as err:
        source = table.attrs.get("ncs_source")
        name = source.name if source is not None else str(args.reference)

        def place(p: Problem) -> str:
            if source is None or (p.row is None and p.column is None):
                return ""
            return f", {source.where(p.row, p.column)}"

        def message(p: Problem) -> str:  # "in row N)" (the other row of a conflict) placed
            if source is None:
                return p.message

            def line(m: re.Match) -> str:
                try:
                    return f"in {source.where(int(m.group(1)))})"
                except (IndexError, ValueError, KeyError):
                    return m.group(0)

            return _OTHER_ROW.sub(line, p.message)

        raise ValidationError(
            [
                Problem(None, None, f"reference table {name}{place(p)}: {message(p)}")
                for p in err.problems
            ]
        ) from None
    return {"reference": table}


def _print_warnings(caught: list[warnings.WarningMessage], data: Input | None = None) -> None:
    """Warnings on standard error, their row numbers placed in the file as messages are."""
    for w in caught:
        print(f"warning: {place_rows(str(w.message), data)}", file=sys.stderr)


def _input_of(args: argparse.Namespace) -> Input:
    if args.command == "demo":
        return read_input(args, demo_path())
    return read_input(args)


def analysis_from_args(args: argparse.Namespace, data: Input | None = None) -> Analysis:
    """Read, validate and analyse the input the options name (shared by the subcommands).

    Uses ``file`` (or the demo study), the input options (:func:`add_input_options`),
    ``--criteria`` and ``--reference``; warnings are printed to standard error. The result's
    provenance records how the input was read (``provenance["input"]``).
    """
    data = data if data is not None else _input_of(args)
    with warnings.catch_warnings(record=True) as caught, Status("analysing"):
        warnings.simplefilter("always", NcsWarning)
        result = analyze(
            data.sites,
            criteria=getattr(args, "criteria", None),
            units=data.units,
            visits=getattr(args, "visits", None),
            **_reference(args),
        )
    _print_warnings(caught, data)
    _place_warnings(result.warnings, data)
    provenance = result.meta.get("provenance")
    if isinstance(provenance, dict):
        provenance["input"] = data.provenance()
    return result


def _place_warnings(table: pd.DataFrame, data: Input | None) -> None:
    """The rows a warning's message names ("row 0, row 1": table positions) placed in the
    file (its lines, or a sheet's rows), as on standard error: every output of the result
    (JSON, CSV, XLSX, the report, the text table) then names what the user can find."""
    if data is None or data.source is None or table.empty or "message" not in table:
        return
    placed = [place_rows(str(m), data) for m in table["message"].astype(object)]
    table["message"] = pd.array(placed, dtype="string")


def _validate(args: argparse.Namespace) -> int:
    from ncs.schema import nerve_keys, validate

    data = read_input(args)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", NcsWarning)
        valid = validate(data.sites, units=data.units, visits=args.visits)
    _print_warnings(caught, data)
    n_nerves = len(valid[list(nerve_keys(valid.columns))].drop_duplicates())
    n_patients = valid["patient_id"].nunique()
    visits = ""
    if "visit" in valid.columns:
        n_visits = len(valid[["patient_id", "visit"]].drop_duplicates())
        visits = f" ({n_visits} visits)"
    print(f"valid: {len(valid)} rows, {n_nerves} nerves, {n_patients} patients{visits}")
    return EXIT_OK


def _convert(args: argparse.Namespace) -> int:
    from ncs.schema import validate

    fmt = "csv"
    if args.output:
        suffix = Path(args.output).suffix.lower()
        fmt = {".csv": "csv", ".tsv": "tsv", ".txt": "csv"}.get(suffix, suffix.lstrip("."))
        if fmt not in ("csv", "tsv", "xlsx", "parquet", "json"):
            raise ValidationError(
                [
                    (
                        None,
                        "--output",
                        f"cannot write a sites table as {suffix or 'no extension'!r}; use "
                        ".csv, .tsv, .xlsx, .parquet or .json",
                    )
                ]
            )
    _check_output_dir(args.output)
    data = read_input(args)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", NcsWarning)
        valid = validate(data.sites, units=data.units)
    _print_warnings(caught, data)
    out = _sites_for_output(valid, data)
    if args.output:
        from ncs.io import write_table

        try:
            write_table(out, args.output)
        except OSError as err:
            raise ValidationError(
                [(None, "--output", f"cannot write: {err.strerror or type(err).__name__}")]
            ) from None
    else:
        sys.stdout.write(_csv(out))
    return EXIT_OK


def _sites_for_output(valid: pd.DataFrame, data: Input) -> pd.DataFrame:
    """The validated sites with the file row each came from (``source_row``)."""
    rows = valid["input_row"].to_numpy(dtype=np.int64)
    if data.rows is not None:
        rows = data.rows[rows]
    if data.converted is not None and "wide_row" in data.converted.columns:
        rows = data.converted["wide_row"].to_numpy(dtype=np.int64)[rows]
    out = valid.drop(columns=[c for c in ("input_row", "wide_row") if c in valid.columns])
    if data.source is not None:
        out["source_row"] = data.source.lines(rows)
    return out


def _is_result_json(path: Path) -> bool:
    """A JSON file holding a saved analysis (``schema_version`` key), not a sites table."""
    if path.suffix.lower() != ".json" or not path.is_file():
        return False
    with path.open("rb") as fh:
        return _looks_like_result(fh.read(4096))


def _looks_like_result(head: bytes) -> bool:
    """The first bytes of a saved analysis: a JSON object with a ``schema_version`` key."""
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")
    return text.startswith("{") and '"schema_version"' in text


def _saved_result(args: argparse.Namespace) -> Analysis | None:
    """The saved analysis ``ncs report`` was given (a ``.json`` file, or standard input
    holding one: ``ncs analyze ... -f json | ncs report -``), or None for a sites table.

    Standard input is read once; a sites table read from it is kept for
    :func:`ncs.cli_input.read_input`.
    """
    path = Path(args.file)
    if str(args.file) != "-":
        return _result_from_json(args, path) if _is_result_json(path) else None
    given = getattr(args, "max_bytes", None)
    limit = MAX_BYTES["json"] if given is None else int(given)
    data = sys.stdin.buffer.read((MAX_BYTES["csv"] if given is None else int(given)) + 1)
    args._stdin = io.BytesIO(data)
    if not _looks_like_result(data[:4096]):
        return None
    if len(data) > limit:
        raise ValidationError(
            [(None, None, f"the input is larger than {limit:,} bytes, the limit for JSON")]
        )
    return _result_from_json(args, Path("standard input"), data.decode("utf-8-sig"))


#: Options that say how to read and analyse a sites file: a saved result was read and
#: analysed already, so none of them can act on it (dest, the flag users type).
_SITES_FILE_OPTIONS = (
    ("criteria", "--criteria"),
    ("reference", "--reference"),
    ("visits", "--visits"),
    ("wide", "--wide"),
    ("mapping", "--mapping"),
    ("sheet", "--sheet"),
    ("header_row", "--header-row"),
    ("sep", "--sep"),
    ("decimal", "--decimal"),
    ("encoding", "--encoding"),
    ("units", "--units"),
    ("patients", "--patients"),
    ("pseudonymize_key_file", "--pseudonymize-key-file"),
)


def _result_from_json(args: argparse.Namespace, path: Path, text: str | None = None) -> Analysis:
    """A saved result (``ncs analyze -o result.json``), refusing the options it cannot take:
    reported as it is, a --pseudonymize-key-file or --patients would be silently ignored
    (real ids, every patient on the page)."""
    given = [flag for dest, flag in _SITES_FILE_OPTIONS if getattr(args, dest, None)]
    if given:
        raise ValidationError(
            [
                (
                    None,
                    given[0],
                    f"{', '.join(given)} act on a sites file; {path.name} is a saved result, "
                    "reported as it was analysed: run ncs analyze (or ncs report) on the sites "
                    "file with them",
                )
            ]
        )
    return from_json(path if text is None else text)


def _report(args: argparse.Namespace) -> int:
    from ncs.report import MAX_REPORT_PATIENTS, to_html

    if args.output and Path(args.output).suffix.lower() == ".pdf":
        return _report_pdf(args)
    fmt = _output_format(args, default="html")
    _check_output_dir(args.output)
    limit = args.max_patients if args.max_patients is not None else MAX_REPORT_PATIENTS
    result = _saved_result(args)
    if result is None:
        data = read_input(args)
        if fmt == "html":
            n = data.sites["patient_id"].nunique() if "patient_id" in data.sites else 0
            _check_report_size(n, limit)
        result = analysis_from_args(args, data)
    if fmt == "html":
        with Status("writing the report") as status:
            content: str | bytes = to_html(
                result,
                title=args.title,
                plots=not args.no_plots,
                max_patients=limit,
                progress=lambda done, total: status.update(done, total, "writing the report"),
                paper=_paper(args),
            )
    else:
        content = _render(result, fmt, args.table)
    _emit(content, args.output)
    return EXIT_OK


def _paper(args: argparse.Namespace, default: str | None = None) -> str | None:
    return {"a4": "A4", "letter": "Letter"}.get(args.paper or "", default)


def _report_pdf(args: argparse.Namespace) -> int:
    """``ncs report ... -o report.pdf``: the report printed through a headless Chromium."""
    from ncs.report import (
        MAX_REPORT_PATIENTS,
        BrowserNotFoundError,
        PdfError,
        find_browser,
        write_pdf,
    )

    _check_output_dir(args.output)
    browser = find_browser(args.browser)
    if browser is None:  # said before any work is done
        where = f"{args.browser!r} was not found" if args.browser else "none was found"
        print(
            "ncs: cannot write a PDF: it is printed through a Chromium or Chrome browser and "
            f"{where}. Install one (e.g. apt-get install chromium), name it with --browser "
            "PATH or NCS_BROWSER, or write report.html and print it from a browser.",
            file=sys.stderr,
        )
        return EXIT_INVALID
    limit = args.max_patients if args.max_patients is not None else MAX_REPORT_PATIENTS
    result = _saved_result(args)
    if result is None:
        data = read_input(args)
        n = data.sites["patient_id"].nunique() if "patient_id" in data.sites else 0
        _check_report_size(n, limit)
        result = analysis_from_args(args, data)
    try:
        with Status("printing the report"):
            write_pdf(
                result,
                args.output,
                paper=_paper(args, "A4"),
                browser=browser,
                title=args.title,
                plots=not args.no_plots,
                max_patients=limit,
            )
    except (BrowserNotFoundError, PdfError) as err:
        print(f"ncs: cannot write a PDF: {err}", file=sys.stderr)
        return EXIT_INVALID
    return EXIT_OK


def _check_report_size(n_patients: int, limit: int) -> None:
    if limit and n_patients > limit:
        raise ValidationError(
            [
                (
                    None,
                    None,
                    f"the input has {n_patients:,} patients; one HTML report shows at most "
                    f"{limit:,}: pick patients with --patients ID,... (or raise the limit with "
                    "--max-patients N), or write the tables with ncs analyze -o result.xlsx",
                )
            ]
        )


def _batch(args: argparse.Namespace) -> int:
    from ncs.batch import analyze_file

    simple = not (args.wide or args.mapping or args.patients or args.file == "-")
    suffix = Path(args.file).suffix.lower()
    read_options = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", NcsWarning)
        if simple and suffix in (".csv", ".tsv", ".txt", ".parquet") and not args.format_in:
            if suffix != ".parquet":
                read_options = _csv_read_options(args)
            counts = _analyze_file(analyze_file, args.file, args, read_options)
        else:  # anything else is read in memory first (sheets, wide layouts, stdin)
            import tempfile

            data = read_input(args)
            with tempfile.TemporaryDirectory(prefix="ncs-batch-") as tmp:
                staged = Path(tmp) / "sites.csv"
                data.sites.to_csv(staged, index=False)
                counts = _analyze_file(analyze_file, staged, args, _STAGED_CSV)
    for w in caught[:20]:
        print(f"warning: {w.message}", file=sys.stderr)
    print(json.dumps(counts))
    return EXIT_OK


_STAGED_CSV = {"keep_default_na": False, "na_values": [""]}


def _analyze_file(analyze_file, path, args: argparse.Namespace, read_options) -> dict:
    kwargs = {}
    if read_options is not None:
        kwargs["read_options"] = read_options
    if args.pseudonymize_key_file:
        from ncs.privacy import load_key

        try:
            kwargs["pseudonymize_key"] = load_key(args.pseudonymize_key_file)
        except (OSError, ValueError) as err:
            raise ValidationError(
                [
                    (
                        None,
                        "--pseudonymize-key-file",
                        f"cannot use the key file: {type(err).__name__}",
                    )
                ]
            ) from None
    return analyze_file(
        path,
        args.output_dir,
        criteria=args.criteria,
        units=parse_units(args.units) or None,
        chunk_rows=args.chunk_rows,
        format=args.format,
        reasons=args.reasons,
        progress=False if args.no_progress else None,
        **kwargs,
    )


def _csv_read_options(args: argparse.Namespace) -> dict:
    """pandas options for a CSV file read in chunks, its dialect detected once."""
    from ncs.dialect import SAMPLE_BYTES, detect_csv

    path = Path(args.file)
    if not path.is_file():
        raise ValidationError([(None, None, f"no such file: {path.name}")])
    with path.open("rb") as fh:
        sample = fh.read(SAMPLE_BYTES + 1)
    if not sample:
        raise ValidationError([(None, None, f"the file is empty: {path.name}")])
    dialect = detect_csv(
        sample[:SAMPLE_BYTES],
        complete=len(sample) <= SAMPLE_BYTES,
        sep=args.sep if args.sep is not None else ("\t" if path.suffix == ".tsv" else None),
        decimal=args.decimal,
        encoding=args.encoding,
        header_line=args.header_row,
    )
    if args.verbose:
        print(f"ncs: {path.name}: {dialect.describe()}", file=sys.stderr)
    return {
        "sep": dialect.sep,
        "decimal": dialect.decimal,
        "encoding": dialect.encoding,
        "skiprows": dialect.header_line - 1,
        "keep_default_na": False,
        "na_values": [""],
        "index_col": False,
    }


def _criteria_listing(args: argparse.Namespace) -> int:
    if args.format == "json":
        print(json.dumps([c.to_dict() for c in CRITERIA.values()], indent=2, ensure_ascii=False))
    elif args.format == "markdown":
        from ncs.criteria_doc import criteria_markdown

        sys.stdout.write(criteria_markdown())
    else:
        for c in CRITERIA.values():
            status = "verified" if c.verified else "NOT VERIFIED"
            print(f"{c.id:<12} {c.title} [{status}]")
            for rule in c.block:
                print(f"{'':<12}   {rule.outcome} {rule.name}: {rule.describe()}")
            for rule in c.dispersion_rules:
                print(f"{'':<12}   {rule.name}: {rule.describe()}")
            print(f"{'':<12}   {c.citation.text}")
    return EXIT_OK


def _run_followup(args: argparse.Namespace) -> int:
    from ncs.followup import followup

    fmt = _output_format(args)
    _check_output_dir(args.output)
    data = read_input(args)
    patterns = args.patterns
    if patterns and "all" in patterns:
        patterns = "all"
    with warnings.catch_warnings(record=True) as caught, Status("comparing visits"):
        warnings.simplefilter("always", NcsWarning)
        result = followup(
            data.sites,
            criteria=args.criteria,
            visits=args.visits,
            variability=_cv(args.cv),
            patterns=patterns,
            confidence=args.confidence,
            units=data.units,
            **_reference(args),
        )
    _print_warnings(caught, data)
    _place_warnings(result.warnings, data)
    if result.analysis.warnings is not result.warnings:
        _place_warnings(result.analysis.warnings, data)
    provenance = result.analysis.meta.get("provenance")
    if isinstance(provenance, dict):
        provenance["input"] = data.provenance()
    tables = {
        "patients": result.patients,
        "nerves": result.nerves,
        "segments": result.segments,
        "visits": result.visits,
        "warnings": result.warnings,
        "rejected": result.analysis.rejected,
    }
    with Status("writing"):
        if fmt == "json":
            content: str | bytes = result.to_json(indent=2) + "\n"
        elif fmt in ("csv", "tsv"):
            content = _csv(tables[args.table], sep="\t" if fmt == "tsv" else ",")
        elif fmt == "parquet":
            from ncs.io import _require

            _require("pyarrow", "parquet")
            buffer = io.BytesIO()
            tables[args.table].to_parquet(buffer, index=False)
            content = buffer.getvalue()
        elif fmt == "xlsx":
            from ncs.io import workbook_bytes

            content = workbook_bytes({k: v for k, v in tables.items() if len(v) or k != "rejected"})
        elif fmt == "html":
            from ncs.report import to_html

            content = to_html(result, plots=not args.no_plots)
        else:
            content = render_followup(result, to_terminal=not args.output)
    _emit(content, args.output)
    return EXIT_OK


def render_followup(result, *, to_terminal: bool = False) -> str:
    """A follow-up as text: per patient and visit pair, each criterion's course with its
    evidence, then per nerve its course and its segments' sentences.

    Linear in the number of rows (one sort; text built column-wise).
    """
    p, nv, sg = result.patients, result.nerves, result.segments
    if to_terminal and len(sg) > TEXT_MAX_FINDINGS:
        lines = [
            f"{r.patient_id}: {r.visit_before} -> {r.visit_after}  {r.criterion}: {r.course}"
            for r in p.head(200).itertuples(index=False)
        ]
        return (
            "\n".join(lines)
            + f"\n\n{len(sg):,} segment comparisons of {p['patient_id'].nunique():,} patients are "
            "not shown: write them to a file with -o followup.csv (or -o followup.xlsx)\n"
            + _warnings_text(result)
        )

    def pair_key(frame: pd.DataFrame) -> np.ndarray:
        return (
            _text(frame["patient_id"])
            + "\x1f"
            + _text(frame["visit_before"])
            + "\x1f"
            + (_text(frame["visit_after"]))
        )

    pairs = pd.Index(pd.unique(pair_key(p))) if len(p) else pd.Index([])
    crits = pd.Index([c.id for c in result.criteria])
    texts, keys = [], []

    def add(text, pair, section, nerve, crit, row) -> None:
        texts.append(np.asarray(text, dtype=object))
        keys.append([np.asarray(x, dtype=np.int64) for x in (pair, section, nerve, crit, row)])

    if len(p):
        pp = pairs.get_indexer(pair_key(p))
        first = np.flatnonzero(~pd.Series(pp).duplicated().to_numpy())
        dates = {}
        for side in ("before", "after"):
            col = f"study_date_{side}"
            dates[side] = (
                _formatted([_text(p[col])], lambda d: f" ({d})" if d else "")
                if col in p.columns
                else np.full(len(p), "", dtype=object)
            )
        head = _formatted(
            [
                _text(p["patient_id"]),
                _text(p["visit_before"]),
                dates["before"],
                _text(p["visit_after"]),
                dates["after"],
            ],
            lambda pid, b, db, a, da: (
                f"== patient {pid}: {b}{db}" + (f" -> {a}{da}" if a else " (one visit only)")
            ),
        )
        zeros = np.zeros(first.size)
        add(head[first], pp[first], zeros, zeros, zeros, zeros)
        crit = crits.get_indexer(_text(p["criterion"]))
        evidence = _text(p["evidence"]) if "evidence" in p.columns else _text(p["course"])
        lead = _formatted(
            [_text(p["criterion"]), _text(p["verdict_before"]), _text(p["verdict_after"])],
            lambda c, b, a: f"  {c:<11} verdict {b}" + (f" -> {a}" if a else "") + ": ",
        )
        n = len(p)
        add(lead + evidence, pp, np.ones(n), np.zeros(n), crit, np.zeros(n))
    if len(nv):
        pn = pairs.get_indexer(pair_key(nv))
        nerve_key = pd.factorize(_text(nv["nerve"]) + " " + _text(nv["side"]), sort=True)[0]
        crit = crits.get_indexer(_text(nv["criterion"]))
        evidence = _text(nv["evidence"]) if "evidence" in nv.columns else _text(nv["course"])
        lead = _formatted(
            [_text(nv["nerve"]), _text(nv["side"]), _text(nv["criterion"])],
            lambda n_, s_, c: f"  {n_} {s_}, {c}: ",
        )
        n = len(nv)
        add(lead + evidence, pn, np.full(n, 2), nerve_key, crit, np.zeros(n))
    if len(sg):
        ps = pairs.get_indexer(pair_key(sg))
        nerve_names = pd.Index(sorted(set(_text(nv["nerve"]) + " " + _text(nv["side"]))))
        nerve_key = nerve_names.get_indexer(_text(sg["nerve"]) + " " + _text(sg["side"]))
        crit = crits.get_indexer(_text(sg["criterion"]))
        text = _text(sg["sentence"]) if "sentence" in sg.columns else _text(sg["transition"])
        n = len(sg)
        add("      " + text, ps, np.full(n, 2), nerve_key, crit, np.arange(1, n + 1))
    if not texts:
        return "no visits to compare\n" + _warnings_text(result)
    text = np.concatenate(texts)
    cols = [np.concatenate([k[i] for k in keys]) for i in range(5)]
    order = np.lexsort(cols[::-1])
    return "\n".join(text[order].tolist()) + "\n" + _warnings_text(result)


#: Fewest criteria ``ncs compare`` compares (agreement is between two or more).
MIN_COMPARED = 2


def _check_criteria(args: argparse.Namespace) -> None:
    """``--criteria`` checked before any input is read: named once each (``all`` includes
    every criterion), at least one, and for ``compare`` at least two. Raises
    ValidationError naming the flag (UnknownCriteriaError for an unknown id)."""
    named = getattr(args, "criteria", None)
    if named is None:
        return
    try:
        crits = resolve(named)
    except ValidationError as err:
        raise ValidationError(
            [Problem(p.row, "--criteria", p.message) for p in err.problems]
        ) from None
    if args.command == "compare" and len(crits) < MIN_COMPARED:
        raise ValidationError(
            [
                Problem(
                    None,
                    "--criteria",
                    f"compare needs two or more criteria, got {len(crits)} "
                    f"({', '.join(c.id for c in crits)}); e.g. -c katz2002,bouche1995",
                )
            ]
        )


def _run(args: argparse.Namespace) -> int:
    _check_criteria(args)
    if args.command == "followup":
        return _run_followup(args)
    if args.command == "criteria":
        return _criteria_listing(args)
    if args.command == "batch":
        return _batch(args)
    if args.command == "compare":
        return _run_compare(args)
    if args.command == "validate":
        return _validate(args)
    if args.command == "convert":
        return _convert(args)
    if args.command == "report":
        return _report(args)
    fmt = _output_format(args)
    _check_output_dir(args.output)
    data = _input_of(args)
    result = analysis_from_args(args, data)
    to_terminal = not args.output
    with Status("writing"):
        content = _render(result, fmt, args.table, to_terminal=to_terminal, data=data)
    _emit(content, args.output)
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``ncs`` command; returns the exit code."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    try:
        return _run(args)
    except ValidationError as err:
        lines = problem_lines(err, getattr(args, "_ncs_input", None))
        n = len(err.problems)
        options = all(str(p.column or "").startswith("--") for p in err.problems)
        what = "cannot do that" if options else "invalid input"
        print(f"ncs: {what}: {n} problem{'s' if n != 1 else ''}", file=sys.stderr)
        for line in lines:
            print(f"  {line}", file=sys.stderr)
        data = getattr(args, "_ncs_input", None)
        for note in getattr(data, "notes", []):
            print(f"  hint: {note}", file=sys.stderr)
        return EXIT_INVALID
    except UnknownCriteriaError as err:
        print(f"ncs: {err}", file=sys.stderr)
        return EXIT_INVALID
    except ImportError as err:  # an optional dependency the input needs
        print(f"ncs: {err}", file=sys.stderr)
        return EXIT_INVALID
    except Exception as err:
        # the message of an unexpected error may quote input values: name the type only
        detail = f": {err}" if os.environ.get("NCS_DEBUG") else " (set NCS_DEBUG=1 for details)"
        print(f"ncs: internal error: {type(err).__name__}{detail}", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
