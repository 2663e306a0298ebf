"""The input options every ``ncs`` subcommand that reads sites shares, and reading them.

A subcommand adds the options with :func:`add_input_options` and reads its input with
:func:`read_input`; a new subcommand does the same and gets every layout, dialect and
spreadsheet option, ``-`` for standard input, ``--patients``, pseudonymisation and messages
that name the file's own lines::

    p = sub.add_parser("followup")
    p.add_argument("file")
    add_input_options(p)
    ...
    data = read_input(args)          # data.sites: the tidy table
    result = ncs.followup(data.sites, units=data.units)

:func:`problem_lines` turns a :class:`~ncs.ValidationError` into lines that name the line
of a CSV file, or the sheet row and header of a spreadsheet, never an internal row number.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ncs.errors import Problem, ValidationError
from ncs.io import Source, read_sites

__all__ = [
    "CommaList",
    "Input",
    "add_input_options",
    "place_rows",
    "problem_lines",
    "read_input",
]


class CommaList(argparse.Action):
    """A repeatable option whose values may also be comma-separated (``-c a,b -c c``)."""

    def __call__(self, parser, namespace, values, option_string=None):
        items = list(getattr(namespace, self.dest, None) or [])
        items.extend(v.strip() for v in str(values).split(",") if v.strip())
        setattr(namespace, self.dest, items)


def add_input_options(parser: argparse.ArgumentParser, *, size_limit: bool = True) -> None:
    """Add the options that say how to read a sites file (one set for every subcommand).

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The subcommand's parser; it has (or gets) a positional ``file`` of its own.
    size_limit : bool, default True
        Add ``--max-bytes``.
    """
    group = parser.add_argument_group(
        "reading the input",
        "layout, CSV dialect and spreadsheet options (detected when not given; -v says what "
        "was detected); FILE '-' reads standard input",
    )
    group.add_argument(
        "--wide",
        action="store_true",
        help="the file is a wide spreadsheet (one row per patient or nerve, headers like "
        "'R Median APB Wrist Lat (msec)')",
    )
    group.add_argument(
        "--mapping",
        metavar="FILE",
        help="header mapping file (CSV: header,column,side,nerve,site,muscle,unit; or YAML) "
        "for headers ncs does not read by itself",
    )
    group.add_argument(
        "--sheet", metavar="NAME|N", help="XLSX sheet, by name or number (1 = first)"
    )
    group.add_argument(
        "--header-row",
        type=int,
        metavar="N",
        help="line (CSV) or sheet row (XLSX) holding the column names, counted from 1",
    )
    group.add_argument(
        "--sep", metavar="CHAR", help="CSV column separator: ',' ';' tab '|' (default: detected)"
    )
    group.add_argument(
        "--decimal",
        choices=(".", ","),
        help="decimal mark of CSV numbers, and of numbers stored as text in XLSX (default: "
        "detected in CSV)",
    )
    group.add_argument(
        "--encoding",
        metavar="NAME",
        help="CSV text encoding, e.g. utf-8, cp1252, latin-1 (default: detected)",
    )
    group.add_argument(
        "--format-in",
        choices=("csv", "xlsx", "parquet", "json"),
        help="input format (default: from the extension, or sniffed from the content)",
    )
    group.add_argument(
        "--units",
        action="append",
        metavar="QUANTITY=UNIT",
        default=[],
        help="input units if not canonical, e.g. amplitude=uV, time=s, distance=cm",
    )
    group.add_argument(
        "--patients",
        action=CommaList,
        metavar="ID,...",
        help="only these patients (comma-separated, repeatable)",
    )
    group.add_argument(
        "--pseudonymize-key-file",
        metavar="FILE",
        help="replace patient ids by keyed pseudonyms (HMAC-SHA256 with the key in FILE, "
        "at least 16 bytes) before anything is analysed or written",
    )
    if size_limit:
        group.add_argument(
            "--max-bytes",
            type=int,
            metavar="N",
            help="refuse input files larger than N bytes (default: 2 GiB for CSV/Parquet, "
            "256 MiB for JSON, 64 MiB for XLSX)",
        )
    group.add_argument(
        "--verbose",
        "-v",
        action="store_true",
        help="say on standard error how the file was read (dialect, sheet, headers)",
    )


@dataclass
class Input:
    """A sites table read as the options say.

    Attributes
    ----------
    sites : pandas.DataFrame
        The tidy table (a wide sheet converted), filtered and pseudonymised as asked.
    source : Source or None
        How the file was read (None for a table that did not come from a file).
    wide : pandas.DataFrame or None
        The wide sheet as read, when ``--wide``.
    mapping : dict or None
        The header mapping (``--mapping``).
    rows : numpy.ndarray or None
        Row of the table as read for each row of ``sites`` (after ``--patients``).
    units : dict or None
        ``--units`` as ``analyze(units=...)`` takes it.
    notes : list of str
        Hints for verbose output.
    converted : pandas.DataFrame or None
        The tidy table a wide sheet became, before ``--patients`` (for messages).
    """

    sites: pd.DataFrame
    source: Source | None = None
    wide: pd.DataFrame | None = None
    mapping: dict[str, Any] | None = None
    rows: np.ndarray | None = None
    units: dict[str, str] | None = None
    notes: list[str] = field(default_factory=list)
    converted: pd.DataFrame | None = None

    def provenance(self) -> dict[str, Any]:
        """How the input was read, for a result's provenance (``provenance["input"]``)."""
        out: dict[str, Any] = self.source.to_dict() if self.source is not None else {}
        out["layout"] = "wide" if self.wide is not None else "tidy"
        if self.mapping is not None:
            out["mapping_headers"] = len(self.mapping)
        return out


def parse_units(items: Sequence[str] | None) -> dict[str, str]:
    """``--units QUANTITY=UNIT`` items as a dict."""
    out = {}
    for item in items or []:
        if "=" not in item:
            raise ValidationError([(None, None, f"--units takes QUANTITY=UNIT, got {item!r}")])
        key, value = item.split("=", 1)
        out[key.strip().lower()] = value.strip()
    return out


def read_input(args: argparse.Namespace, path: str | Path | None = None) -> Input:
    """Read the sites file the options name (``args.file`` unless ``path`` is given).

    Parameters
    ----------
    args : argparse.Namespace
        Parsed options of a parser set up by :func:`add_input_options` (options it lacks
        take their defaults).
    path : str or pathlib.Path, optional
        The file; default ``args.file``. ``"-"`` reads standard input.

    Returns
    -------
    Input

    Raises
    ------
    ValidationError
        Whatever prevents reading: the message names the option to pass when detection is
        unsure. The caller attaches the returned (or partly read) input to ``args`` so that
        later errors can be placed in the file: see :func:`problem_lines`.
    """
    from ncs.wide import from_wide, read_mapping

    target = path if path is not None else args.file
    options = {
        "max_bytes": getattr(args, "max_bytes", None),
        "format": getattr(args, "format_in", None),
        "sep": getattr(args, "sep", None),
        "decimal": getattr(args, "decimal", None),
        "encoding": getattr(args, "encoding", None),
        "sheet": getattr(args, "sheet", None),
        "header_row": getattr(args, "header_row", None),
    }
    mapping = None
    if getattr(args, "mapping", None):
        mapping = read_mapping(args.mapping)
    from ncs._progress import Status

    stdin = str(target) == "-"
    # standard input already read (ncs report looked for a saved result in it) is kept
    source_file: Any = (
        (getattr(args, "_stdin", None) or sys.stdin.buffer) if stdin else Path(target)
    )
    with Status(f"reading {'standard input' if stdin else Path(target).name}"):
        table = read_sites(source_file, **options)
    source = table.attrs.get("ncs_source")
    data = Input(sites=table, source=source, mapping=mapping)
    args._ncs_input = data  # lets the error handler place problems in the file
    if getattr(args, "wide", False):
        data.wide = table
        data.sites = data.converted = from_wide(table, mapping)
    elif mapping:
        data.sites = _rename_tidy(table, mapping)
    elif _looks_wide(table):
        data.notes.append(
            "the headers look like a wide sheet (one row per patient); pass --wide if it is one"
        )
    data.units = parse_units(getattr(args, "units", None)) or None
    patients = getattr(args, "patients", None)
    if patients is not None:  # --patients "" names no patient: not every patient
        data.sites, data.rows = _only_patients(data.sites, patients)
    data.sites = _pseudonymized(data.sites, args)
    if getattr(args, "verbose", False):
        for line in describe(data):
            print(f"ncs: {line}", file=sys.stderr)
    return data


def describe(data: Input) -> list[str]:
    """Lines on how the input was read (for ``--verbose``)."""
    lines = []
    if data.source is not None:
        lines.append(data.source.describe())
        lines.extend(data.source.notes)
    if data.wide is not None:
        from ncs.wide import detect_wide_columns

        plan = detect_wide_columns(data.wide.columns, data.mapping)
        lines.append(
            f"wide sheet: {len(plan.measures)} measurement header(s), "
            f"{len(plan.identity)} identity or pass-through column(s), "
            f"{len(plan.ignored)} ignored"
        )
        for header, why in plan.ignored.items():
            lines.append(f"ignored {header!r}: {why}")
    lines.extend(data.notes)
    n_patients = data.sites["patient_id"].nunique() if "patient_id" in data.sites else 0
    lines.append(f"{len(data.sites):,} site row(s), {n_patients:,} patient(s)")
    return lines


def _looks_wide(table: pd.DataFrame) -> bool:
    from ncs.schema import REQUIRED

    names = {str(c).strip().lower().replace(" ", "_") for c in table.columns}
    if set(REQUIRED) <= names:
        return False
    from ncs.wide import detect_wide_columns

    plan = detect_wide_columns(table.columns)
    return sum(c.site is not None and c.side is not None for c in plan.measures.values()) >= 2


def _rename_tidy(table: pd.DataFrame, mapping: dict[str, Any]) -> pd.DataFrame:
    """A mapping on a tidy table renames columns (header -> column) or drops them."""
    rename, drop, problems = {}, [], []
    for header, spec in mapping.items():
        if header not in table.columns:
            continue
        if spec is None:
            drop.append(header)
        elif isinstance(spec, str):
            rename[header] = spec
        elif isinstance(spec, dict) and set(spec) <= {"column", "measure"}:
            rename[header] = spec.get("column", spec.get("measure"))
        else:
            problems.append(
                Problem(
                    None,
                    header,
                    "a mapping entry with side, nerve or site describes a wide sheet; pass --wide",
                )
            )
    if problems:
        raise ValidationError(problems)
    out = table.drop(columns=drop).rename(columns=rename)
    out.attrs = table.attrs
    return out


def _only_patients(sites: pd.DataFrame, patients: list[str]) -> tuple[pd.DataFrame, np.ndarray]:
    if "patient_id" not in sites.columns:
        raise ValidationError([Problem(None, "patient_id", "required column is missing")])
    if not patients:
        raise ValidationError([Problem(None, "--patients", "names no patient (give IDs: P1,P7)")])
    ids = sites["patient_id"].astype("string").str.strip()
    wanted = set(patients)
    keep = ids.isin(wanted).fillna(False).to_numpy(dtype=bool)
    found = set(ids[keep].dropna())
    missing = len(wanted - found)
    if missing:
        raise ValidationError(
            [
                Problem(
                    None,
                    "--patients",
                    f"{missing} of the {len(wanted)} patient(s) given are not in the file",
                )
            ]
        )
    rows = np.flatnonzero(keep)
    out = sites.iloc[rows].reset_index(drop=True)
    out.attrs = sites.attrs
    return out, rows


def _pseudonymized(sites: pd.DataFrame, args: argparse.Namespace) -> pd.DataFrame:
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


# --------------------------------------------------------------------------------------
# Problems placed in the file
# --------------------------------------------------------------------------------------


def problem_lines(err: ValidationError, data: Input | None) -> list[str]:
    """The problems of ``err`` as lines naming the place in the file a person finds.

    Parameters
    ----------
    err : ValidationError
        Raised while reading, converting, validating or analysing ``data``.
    data : Input or None
        What :func:`read_input` read (None: the rows are printed as they are).

    Returns
    -------
    list of str
        A heading that says how rows are counted, then one line per problem: ``line 7,
        column 'amplitude_mv': negative value`` (CSV: file lines, the header counted), or
        ``row 7, column 'R Median APB Wrist Amp' (cell D7): ...`` (a sheet's own rows and
        headers; a wide sheet's internal tidy rows never appear).
    """
    if data is None or data.source is None:
        return [_plain(p) for p in err.problems]
    out = []
    placed = False
    locate = _Locator(data)
    for p in err.problems:
        where = locate(p)
        placed |= p.row is not None
        message = _ROW_IN_MESSAGE.sub(
            lambda m: f"({locate(Problem(int(m.group(1)), None, '')) or m.group(0)})", p.message
        )
        out.append(f"{where}: {message}" if where else message)
    if placed:
        out.insert(0, f"({data.source.counting()})")
    return out


_ROW_IN_TEXT = re.compile(r"\brow (\d+)\b")


def place_rows(text: str, data: Input | None) -> str:
    """``row N`` (a table position) in a message replaced by its place in the file."""
    if data is None or data.source is None or "row " not in text:
        return text
    locate = _Locator(data)

    def place(match: re.Match) -> str:
        try:
            return locate(Problem(int(match.group(1)), None, "")) or match.group(0)
        except (IndexError, ValueError, KeyError):
            return match.group(0)

    return _ROW_IN_TEXT.sub(place, text)


def _plain(p: Problem) -> str:
    if p.column is not None and p.column.startswith("--") and p.row is None:
        return f"{p.column}: {p.message}"
    return str(p)


_ROW_IN_MESSAGE = re.compile(r"\(row (\d+)\)")


class _Locator:
    """Maps a problem's row (and tidy column) to the file's row and header."""

    def __init__(self, data: Input) -> None:
        self.data = data
        self.plan = None
        if data.wide is not None:
            from ncs.wide import detect_wide_columns

            self.plan = detect_wide_columns(data.wide.columns, data.mapping)

    def __call__(self, p: Problem) -> str:
        data, source = self.data, self.data.source
        assert source is not None
        if p.row is None:
            if p.column is None:
                return ""
            return p.column if p.column.startswith("--") else f"column {p.column!r}"
        row = int(p.row)
        if data.rows is not None and row < len(data.rows):
            row = int(data.rows[row])
        if data.wide is None:
            return source.where(row, self._file_header(p.column))
        # a wide sheet: problems found while converting carry the wide row and the header;
        # problems of the converted table carry a tidy row, from one wide row and header
        tidy = data.converted
        if tidy is None:
            return source.where(row, p.column)
        if "wide_row" not in tidy.columns or row >= len(tidy):
            return f"row {p.row} of the converted table" + (
                f", column {p.column!r}" if p.column else ""
            )
        record = tidy.iloc[row]
        wide_row = int(record["wide_row"])
        header = self._header(record, p.column)
        return source.where(wide_row, header)

    def _file_header(self, column: str | None) -> str | None:
        """The file's own header of a tidy column (``Amplitude (mV)`` read as
        ``amplitude_mv``, an ``amplitude_uv`` column converted to ``amplitude_mv``)."""
        if column is None or self.data.sites is None or column in self.data.sites.columns:
            return column
        from ncs.schema import ALT_COLUMNS

        for header in self.data.sites.columns:
            key = str(header).strip().lower().replace(" ", "_")
            if key == column or ALT_COLUMNS.get(key, (None,))[0] == column:
                return str(header)
        return column

    def _header(self, record: pd.Series, column: str | None) -> str | None:
        if column is None or self.plan is None:
            return column
        for header, target in self.plan.identity.items():
            if target == column:
                return header
        matches = []
        for header, col in self.plan.measures.items():
            if col.measure != column:
                continue
            if col.segment is not None:
                if record.get("site") not in col.segment:
                    continue
            elif col.site is not None and col.site != record.get("site"):
                continue
            if col.side is not None and col.side != record.get("side"):
                continue
            if col.nerve is not None and col.nerve != record.get("nerve"):
                continue
            matches.append(header)
        if matches:
            return matches[0]
        if column == "response":  # an NR cell: any measure of the site
            return None
        return column
