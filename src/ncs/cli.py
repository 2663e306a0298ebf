"""Command line: ``ncs analyze``, ``validate``, ``report``, ``compare``, ``batch``, ``demo``,
``criteria``.

Exit codes: 0 success; 2 invalid input (every problem printed with its row and column) or
a usage error; 1 an internal error.
"""

from __future__ import annotations

import argparse
import inspect
import io
import json
import os
import sys
import warnings
from importlib import resources
from pathlib import Path

from ncs._version import __version__
from ncs.analyze import Analysis, analyze
from ncs.errors import NcsWarning, UnknownCriteriaError, ValidationError
from ncs.io import from_json, read_sites
from ncs.registry import CRITERIA, DEFAULT_CRITERIA

__all__ = ["main"]

EXIT_OK, EXIT_INTERNAL, EXIT_INVALID = 0, 1, 2

_EXAMPLES = """examples:
  ncs demo                                  analyse the bundled example study
  ncs analyze study.csv                     every verified criterion, as a table
  ncs analyze study.csv --criteria katz2002 --format json > result.json
  ncs analyze study.xlsx --format csv --table patients -o verdicts.csv
  ncs analyze study.csv --units amplitude=uV
  ncs analyze study.csv --table patients -o verdicts.parquet   format from the extension
  ncs analyze cohort.xlsx --wide -o findings.csv    wide sheet ("R median wrist amp", ...)
  ncs analyze study.csv --reference lab_limits.csv  a lab's own reference values
  ncs validate study.csv                    every problem with its row and column
  ncs report study.csv -o report.html       one self-contained HTML page
  ncs report result.json -o report.html     from a saved JSON result
  ncs criteria                              list the criteria with citations
  ncs batch cohort.parquet -d out/          big files: chunked, one file per table
  ncs compare study.csv -c katz2002 -c bouche1995   agreement tables between criteria
"""

#: Output format by output-file extension (when --format is not given).
_EXTENSION_FORMATS = {
    ".csv": "csv",
    ".json": "json",
    ".parquet": "parquet",
    ".html": "html",
    ".htm": "html",
    ".txt": "table",
}

_TABLES = ("findings", "segments", "nerves", "patients")


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

    def add_output_options(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--criteria",
            "-c",
            action="append",
            metavar="ID",
            help=f"criterion id (repeatable; default: {', '.join(DEFAULT_CRITERIA)}); "
            f"known: {', '.join(CRITERIA)}",
        )
        p.add_argument(
            "--format",
            "-f",
            choices=("table", "json", "csv", "parquet", "html"),
            default=None,
            help="output format (default: from the --output extension .csv/.json/.parquet/"
            ".html, else a text table)",
        )
        p.add_argument(
            "--table",
            choices=_TABLES,
            default="findings",
            help="which table csv and parquet output hold (default: findings)",
        )
        p.add_argument(
            "--units",
            action="append",
            metavar="QUANTITY=UNIT",
            default=[],
            help="input units if not canonical, e.g. amplitude=uV, time=s, distance=cm",
        )
        p.add_argument(
            "--output", "-o", metavar="FILE", help="write here instead of standard output"
        )
        add_input_options(p)

    def add_input_options(p: argparse.ArgumentParser) -> None:
        _add_safety_options(p)
        p.add_argument(
            "--reference",
            metavar="FILE",
            help="a lab's reference-value table (CSV, XLSX, Parquet, JSON) for the guideline "
            "schemes; default: the values shipped with ncs",
        )
        p.add_argument(
            "--wide",
            action="store_true",
            help="the file is a wide spreadsheet (one row per patient or nerve, headers like "
            "'R median wrist amp'); see ncs.io.from_wide",
        )

    p_an = sub.add_parser(
        "analyze",
        help="analyse a sites table (CSV, XLSX, Parquet, JSON)",
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p_an.add_argument("file", help="sites table, one row per stimulation site")
    add_output_options(p_an)

    p_batch = sub.add_parser(
        "batch",
        help="analyse a large CSV/Parquet file in patient-complete chunks into a directory",
    )
    p_batch.add_argument("file", help="sites table grouped by patient_id (.csv or .parquet)")
    p_batch.add_argument("--output-dir", "-d", required=True, help="directory for the tables")
    p_batch.add_argument("--chunk-rows", type=int, default=1_000_000, metavar="N")
    p_batch.add_argument("--criteria", "-c", action="append", metavar="ID")
    p_batch.add_argument("--units", action="append", metavar="QUANTITY=UNIT", default=[])
    p_batch.add_argument("--format", "-f", choices=("parquet", "csv"), default=None)
    p_batch.add_argument(
        "--reasons",
        action="store_true",
        help="write the sentences too (findings.reason, patients.evidence)",
    )
    p_batch.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_safety_options(p_batch, size_limit=False)
    p_cmp = sub.add_parser(
        "compare",
        help="agreement between criteria on the same segments (kappa, discordant segments)",
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p_cmp.add_argument("file", help="sites table, one row per stimulation site")
    _add_compare_options(p_cmp)

    p_demo = sub.add_parser("demo", help="analyse the bundled example study")
    add_output_options(p_demo)

    p_crit = sub.add_parser("criteria", help="list the criteria and their citations")
    p_crit.add_argument("--format", "-f", choices=("table", "json", "markdown"), default="table")

    p_val = sub.add_parser(
        "validate",
        help="check a sites table and list every problem (exit 2 when invalid)",
        epilog="examples:\n  ncs validate study.csv\n  ncs validate cohort.xlsx --wide\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p_val.add_argument("file", help="sites table, one row per stimulation site")
    p_val.add_argument(
        "--units", action="append", metavar="QUANTITY=UNIT", default=[], help="input units"
    )
    p_val.add_argument("--wide", action="store_true", help="the file is a wide spreadsheet")
    _add_safety_options(p_val)

    p_rep = sub.add_parser(
        "report",
        help="write a self-contained HTML report (verdicts, evidence, findings, plots)",
        epilog="examples:\n  ncs report study.csv -o report.html\n"
        "  ncs report study.csv -c katz2002 --title 'EMG lab, 2024-05-01' -o report.html\n"
        "  ncs report result.json -o report.html   (a saved `ncs analyze -f json` result)\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p_rep.add_argument("file", help="sites table, or a JSON result of ncs analyze")
    add_output_options(p_rep)
    p_rep.add_argument("--title", help="page title")
    p_rep.add_argument("--no-plots", action="store_true", help="leave the plots out")
    return parser


def _add_safety_options(p: argparse.ArgumentParser, size_limit: bool = True) -> None:
    """--pseudonymize-key-file (and --max-bytes) for every command that reads sites."""
    p.add_argument(
        "--pseudonymize-key-file",
        metavar="FILE",
        help="replace patient ids by keyed pseudonyms (HMAC-SHA256 with the key in FILE, "
        "at least 16 bytes) before anything is analysed or written",
    )
    if size_limit:
        p.add_argument(
            "--max-bytes",
            type=int,
            metavar="N",
            help="refuse input files larger than N bytes (default: 2 GiB for CSV/Parquet, "
            "256 MiB for JSON, 64 MiB for XLSX)",
        )


def _sites_from(path: Path, args: argparse.Namespace) -> object:
    """Read a sites file with the size limit and pseudonymisation the options ask for."""
    sites = read_sites(path, max_bytes=getattr(args, "max_bytes", None))
    return _pseudonymized(sites, args)


def _pseudonymized(sites, args: argparse.Namespace):
    key_file = getattr(args, "pseudonymize_key_file", None)
    if not key_file:
        return sites
    from ncs.privacy import load_key, pseudonymize

    try:
        key = load_key(key_file)
    except (OSError, ValueError) as err:
        message = f"cannot use the key file: {type(err).__name__}"
        if isinstance(err, ValueError):
            message = f"cannot use the key file: {err}"
        raise ValidationError([(None, "--pseudonymize-key-file", message)]) from None
    return pseudonymize(sites, key)


def _csv(frame) -> str:
    """CSV text of a table, with formula-like text cells neutralised."""
    from ncs.io import safe_for_spreadsheet

    return safe_for_spreadsheet(frame).to_csv(index=False)


def _add_compare_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--criteria",
        "-c",
        action="append",
        metavar="ID",
        help=f"criterion id (repeatable, at least two; default: {', '.join(DEFAULT_CRITERIA)})",
    )
    p.add_argument(
        "--format",
        "-f",
        choices=("table", "json", "csv"),
        default="table",
        help="table: agreement tables as text; csv: the --table table; json: everything",
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
        "--reference",
        metavar="COLUMN",
        help="column holding each patient's reference diagnosis (default: 'diagnosis' if present)",
    )
    p.add_argument(
        "--positive",
        action="append",
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
    p.add_argument("--draws", type=int, default=1000, help="simulation draws (default: 1000)")
    p.add_argument("--seed", type=int, default=0, help="simulation seed (default: 0)")
    p.add_argument(
        "--units",
        action="append",
        metavar="QUANTITY=UNIT",
        default=[],
        help="input units if not canonical, e.g. amplitude=uV",
    )
    p.add_argument("--output", "-o", metavar="FILE", help="write here instead of standard output")
    _add_safety_options(p)


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


def _run_compare(args: argparse.Namespace) -> int:
    from ncs.compare import compare

    sites = _sites_from(Path(args.file), args)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", NcsWarning)
        result = compare(
            sites,
            criteria=args.criteria,
            reference=args.reference,
            positive=args.positive,
            cv=_cv(args.cv),
            n_draws=args.draws,
            seed=args.seed,
            units=_units(args.units) or None,
        )
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)
    if args.format == "json":
        text = json.dumps(result.to_dict(), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    elif args.format == "csv":
        text = _csv(getattr(result, args.table))
    else:
        text = result.summary()
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return EXIT_OK


def _units(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        if "=" not in item:
            raise ValidationError([(None, None, f"--units takes QUANTITY=UNIT, got {item!r}")])
        key, value = item.split("=", 1)
        out[key.strip().lower()] = value.strip()
    return out


def demo_path() -> Path:
    """Path of the bundled example study."""
    return Path(str(resources.files("ncs") / "data" / "demo_study.csv"))


def render_table(result: Analysis) -> str:
    """Human-readable text: findings per patient and nerve, then each patient's verdicts."""
    lines: list[str] = []
    f = result.findings
    for pid, rows in f.groupby("patient_id", sort=True):
        lines.append(f"== patient {pid}")
        for (nerve, side), nrows in rows.groupby(["nerve", "side"], sort=True):
            lines.append(f"  {nerve} {side}")
            for r in nrows.itertuples(index=False):
                seg = f"{r.distal_site} -> {r.proximal_site}"
                if r.reference == "distal":
                    seg += " (vs most distal)"
                lines.append(f"    {seg:<38} {r.criterion:<11} block={r.block:<14} {r.reason}")
        lines.append("  verdicts:")
        for r in result.patients[result.patients["patient_id"] == pid].itertuples(index=False):
            lines.append(f"    {r.scheme:<11} {r.verdict}: {r.evidence}")
    single = result.nerves[(result.nerves["n_segments"] == 0)].drop_duplicates(
        ["patient_id", "nerve", "side"]
    )
    for r in single.itertuples(index=False):
        lines.append(
            f"note: {r.patient_id} {r.nerve} {r.side} has one site only: no segment to judge"
        )
    return "\n".join(lines) + "\n"


def _render(result: Analysis, fmt: str, table: str) -> str | bytes:
    if fmt == "json":
        return result.to_json(indent=2) + "\n"
    if fmt == "csv":
        return _csv(getattr(result, table))
    if fmt == "parquet":
        from ncs.io import _require

        _require("pyarrow", "parquet")
        buffer = io.BytesIO()
        getattr(result, table).to_parquet(buffer, index=False)
        return buffer.getvalue()
    if fmt == "html":
        from ncs.report import to_html

        return to_html(result)
    return render_table(result)


def _output_format(args: argparse.Namespace, default: str = "table") -> str:
    """--format if given, else from the output file's extension, else ``default``."""
    fmt = getattr(args, "format", None)
    if not fmt and getattr(args, "output", None):
        fmt = _EXTENSION_FORMATS.get(Path(args.output).suffix.lower())
    fmt = fmt or default
    if fmt == "parquet" and not getattr(args, "output", None):
        raise ValidationError([(None, "--output", "parquet output needs --output FILE")])
    return fmt


def _emit(content: str | bytes, output: str | None) -> None:
    """Write the fully rendered output to the file (or standard output) in one go."""
    if isinstance(content, bytes):
        if not output:
            raise ValidationError([(None, "--output", "binary output needs --output FILE")])
        Path(output).write_bytes(content)
    elif output:
        Path(output).write_text(content, encoding="utf-8")
    else:
        sys.stdout.write(content)


def _read_input(args: argparse.Namespace) -> object:
    """The sites table named on the command line (wide spreadsheets converted)."""
    path = demo_path() if args.command == "demo" else Path(args.file)
    sites = read_sites(path, max_bytes=getattr(args, "max_bytes", None))
    if getattr(args, "wide", False):
        from ncs.io import from_wide

        sites = from_wide(sites)
    return _pseudonymized(sites, args)


def _reference(args: argparse.Namespace) -> dict[str, object]:
    """``reference=`` for analyze when --reference is given and analyze supports it."""
    if not getattr(args, "reference", None):
        return {}
    if "reference" not in inspect.signature(analyze).parameters:
        raise ValidationError([(None, "--reference", "reference values are not supported yet")])
    return {"reference": read_sites(Path(args.reference))}


def _print_warnings(caught: list[warnings.WarningMessage]) -> None:
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)


def analysis_from_args(args: argparse.Namespace) -> Analysis:
    """Read, validate and analyse the input the options name (shared by the subcommands).

    Uses ``file`` (or the demo study), ``--wide``, ``--units``, ``--criteria`` and
    ``--reference``; warnings are printed to standard error.
    """
    sites = _read_input(args)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", NcsWarning)
        result = analyze(
            sites,
            criteria=getattr(args, "criteria", None),
            units=_units(getattr(args, "units", [])) or None,
            **_reference(args),
        )
    _print_warnings(caught)
    return result


def _validate(args: argparse.Namespace) -> int:
    from ncs.schema import NERVE_KEYS, validate

    sites = _read_input(args)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", NcsWarning)
        valid = validate(sites, units=_units(args.units) or None)
    _print_warnings(caught)
    n_nerves = len(valid[list(NERVE_KEYS)].drop_duplicates())
    n_patients = valid["patient_id"].nunique()
    print(f"valid: {len(valid)} rows, {n_nerves} nerves, {n_patients} patients")
    return EXIT_OK


def _is_result_json(path: Path) -> bool:
    """A JSON file holding a saved analysis (``schema_version`` key), not a sites table."""
    if path.suffix.lower() != ".json" or not path.is_file():
        return False
    with path.open("r", encoding="utf-8") as fh:
        head = fh.read(4096).lstrip()
    return head.startswith("{") and '"schema_version"' in head


def _report(args: argparse.Namespace) -> int:
    from ncs.report import to_html

    path = Path(args.file)
    fmt = _output_format(args, default="html")
    result = from_json(path) if _is_result_json(path) else analysis_from_args(args)
    if fmt == "html":
        content: str | bytes = to_html(result, title=args.title, plots=not args.no_plots)
    else:
        content = _render(result, fmt, args.table)
    _emit(content, args.output)
    return EXIT_OK


def _batch_key(args: argparse.Namespace) -> dict[str, bytes]:
    if not args.pseudonymize_key_file:
        return {}
    from ncs.privacy import load_key

    try:
        return {"pseudonymize_key": load_key(args.pseudonymize_key_file)}
    except (OSError, ValueError) as err:
        raise ValidationError(
            [(None, "--pseudonymize-key-file", f"cannot use the key file: {type(err).__name__}")]
        ) from None


def _run(args: argparse.Namespace) -> int:
    if args.command == "criteria":
        if args.format == "json":
            print(
                json.dumps([c.to_dict() for c in CRITERIA.values()], indent=2, ensure_ascii=False)
            )
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
    if args.command == "batch":
        from ncs.batch import analyze_file

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", NcsWarning)
            counts = analyze_file(
                args.file,
                args.output_dir,
                criteria=args.criteria,
                units=_units(args.units) or None,
                chunk_rows=args.chunk_rows,
                format=args.format,
                reasons=args.reasons,
                progress=False if args.no_progress else None,
                **_batch_key(args),
            )
        for w in caught[:20]:
            print(f"warning: {w.message}", file=sys.stderr)
        print(json.dumps(counts))
        return EXIT_OK
    if args.command == "compare":
        return _run_compare(args)
    if args.command == "validate":
        return _validate(args)
    if args.command == "report":
        return _report(args)
    fmt = _output_format(args)
    result = analysis_from_args(args)
    _emit(_render(result, fmt, args.table), args.output)
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
        print(f"ncs: invalid input: {len(err.problems)} problem(s)", file=sys.stderr)
        for p in err.problems:
            print(f"  {p}", file=sys.stderr)
        return EXIT_INVALID
    except UnknownCriteriaError as err:
        print(f"ncs: {err}", file=sys.stderr)
        return EXIT_INVALID
    except Exception as err:
        # the message of an unexpected error may quote input values: name the type only
        detail = f": {err}" if os.environ.get("NCS_DEBUG") else " (set NCS_DEBUG=1 for details)"
        print(f"ncs: internal error: {type(err).__name__}{detail}", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
