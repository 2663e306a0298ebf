"""Reading sites tables from files and writing results.

Formats are chosen by file extension: ``.csv`` (and ``.txt``/``.tsv``), ``.xlsx``
(``ncs-edx[xlsx]``), ``.parquet`` (``ncs-edx[parquet]``) and ``.json`` (a list of row
objects). Every reader returns the raw table; validation is :func:`ncs.validate`'s job.
Wide spreadsheets convert with :func:`from_wide` / :func:`to_wide` (from :mod:`ncs.wide`);
analysis results come back from JSON with :func:`from_json`.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from ncs._optional import require as _require
from ncs.cells import factorize_cells
from ncs.errors import Problem, ValidationError
from ncs.schema import ALT_COLUMNS, COLUMNS
from ncs.wide import detect_wide_columns, from_wide, to_wide

__all__ = [
    "MAX_BYTES",
    "Source",
    "detect_wide_columns",
    "from_json",
    "from_wide",
    "json_schema",
    "read_sites",
    "safe_for_spreadsheet",
    "to_wide",
    "workbook_bytes",
    "write_table",
]

#: Columns read as text whatever they look like (keeps "007" as "007"): the sites table's
#: text and date columns (:data:`ncs.schema.COLUMNS`).
_TEXT_COLUMNS = tuple(c.name for c in COLUMNS if c.kind in ("str", "date"))


_GIB = 1024**3
MAX_BYTES: dict[str, int] = {
    "csv": 2 * _GIB,
    "parquet": 2 * _GIB,
    "json": 256 * 1024**2,
    "xlsx": 64 * 1024**2,
}
"""Default size limits of input files per format [bytes]; ``read_sites(max_bytes=...)``
overrides them. An XLSX file is a zip archive: its unpacked size is limited to 16 times its
limit (a "zip bomb" is refused before it is unpacked)."""
_XLSX_UNPACKED_FACTOR = 16
_FORMATS = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "csv",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".parquet": "parquet",
    ".json": "json",
}


def _too_big(size: int, limit: int, what: str) -> ValidationError:
    return ValidationError(
        [
            Problem(
                None,
                None,
                f"{what} is {size:,} bytes, more than the limit of {limit:,} bytes; pass a "
                "larger max_bytes (command line: --max-bytes) if the file is trusted",
            )
        ]
    )


def _unreadable(fmt: str, err: BaseException) -> ValidationError:
    """A reader's failure in words without the file's content (which may hold patient data)."""
    return ValidationError([Problem(None, None, f"cannot read {fmt}: {type(err).__name__}")])


def _check_xlsx(path: Any, limit: int) -> None:
    """Refuse zip bombs and XLSX reading without XML entity protection."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(max(info.file_size, 0) for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, RuntimeError) as err:
        # RuntimeError: encrypted members; NotImplementedError: unsupported zip versions
        raise _unreadable("XLSX", err) from None
    if unpacked > limit * _XLSX_UNPACKED_FACTOR:
        raise _too_big(unpacked, limit * _XLSX_UNPACKED_FACTOR, "the unpacked XLSX content")
    _require("defusedxml", "xlsx")
    import openpyxl.xml

    if not getattr(openpyxl.xml, "DEFUSEDXML", False):
        raise ValidationError(
            [
                Problem(
                    None,
                    None,
                    "XLSX files are read only with defusedxml protection against XML entity "
                    "attacks; unset OPENPYXL_DEFUSEDXML or install defusedxml",
                )
            ]
        )


@dataclass(frozen=True, eq=False)
class Source:
    """Where a sites table came from and how it was read (``sites.attrs["ncs_source"]``).

    Attributes
    ----------
    name : str
        The file's name as given (``"-"`` for standard input).
    format : str
        ``csv``, ``xlsx``, ``parquet`` or ``json``.
    encoding, sep, decimal : str or None
        CSV only: how the text was read.
    sheet : str or None
        XLSX only: the sheet read.
    header_row : int or None
        Line (CSV) or sheet row (XLSX) of the column names, counted from 1.
    detected : tuple of str
        Which settings were detected rather than given.
    notes : tuple of str
        What detection saw, in words.

    Notes
    -----
    :meth:`where` turns a row position of the table into the place a person finds in the
    file: ``line 7`` of a CSV file (the header line counted, 1 = first line), ``row 7`` of
    a sheet, ``record 3`` of JSON or Parquet. Line numbers of CSV rows are worked out only
    when a message needs them (blank lines and quoted line breaks are counted).
    """

    name: str
    format: str
    encoding: str | None = None
    sep: str | None = None
    decimal: str | None = None
    sheet: str | None = None
    header_row: int | None = None
    detected: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    rows: np.ndarray | None = field(default=None, repr=False)
    columns: dict[str, str] | None = field(default=None, repr=False)
    _text: Any = field(default=None, repr=False)  # path or bytes of a CSV, for line numbers

    def __deepcopy__(self, memo: dict) -> Source:  # immutable: pandas may copy attrs freely
        return self

    def lines(self, positions: Any) -> np.ndarray:
        """File line (CSV), sheet row (XLSX) or record number (others) of table rows.

        Parameters
        ----------
        positions : array-like of int
            0-based positions in the table read.

        Returns
        -------
        numpy.ndarray of int
            1-based, as a person counts in the file (the header line included for CSV and
            XLSX).
        """
        positions = np.asarray(positions, dtype=np.int64)
        if self.rows is not None:
            return self.rows[positions]
        if self.format == "csv" and self._text is not None:
            table = _csv_record_lines(self, int(positions.max(initial=-1)) + 1)
            return table[positions]
        return positions + 1

    def where(self, position: int | None, column: str | None = None) -> str:
        """The place of a table row (and column) in the file, in words."""
        parts = []
        if position is not None:
            number = int(self.lines([position])[0])
            if self.format == "csv":
                parts.append(f"line {number}")
            elif self.format == "xlsx":
                parts.append(f"row {number}")
            else:
                parts.append(f"record {number}")
        if column is not None:
            letter = (self.columns or {}).get(column)
            if letter and position is not None and self.format == "xlsx":
                parts.append(f"column {column!r} (cell {letter}{number})")
            else:
                parts.append(f"column {column!r}")
        return ", ".join(parts)

    def counting(self) -> str:
        """How :meth:`where` counts, in words."""
        if self.format == "csv":
            return (
                f"line numbers of {self.name}, counted from 1 with the header "
                f"(line {self.header_row})"
            )
        if self.format == "xlsx":
            return f"row numbers of sheet {self.sheet!r} of {self.name}, as the sheet shows them"
        return f"record numbers of {self.name}, counted from 1"

    def describe(self) -> str:
        """One line on how the file was read (verbose output)."""

        def how(key: str) -> str:
            return "detected" if key in self.detected else "given"

        if self.format == "csv":
            sep = {"\t": "tab"}.get(self.sep or "", repr(self.sep))
            return (
                f"{self.name}: CSV, encoding {self.encoding} ({how('encoding')}), separator "
                f"{sep} ({how('sep')}), decimal mark {self.decimal!r} ({how('decimal')}), "
                f"header on line {self.header_row} ({how('header_row')})"
            )
        if self.format == "xlsx":
            return (
                f"{self.name}: XLSX, sheet {self.sheet!r} ({how('sheet')}), header in row "
                f"{self.header_row} ({how('header_row')})"
            )
        return f"{self.name}: {self.format}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-able description (for provenance)."""
        out: dict[str, Any] = {"file": self.name, "format": self.format}
        for key in ("encoding", "sep", "decimal", "sheet", "header_row"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        out["detected"] = list(self.detected)
        if self.notes:
            out["notes"] = list(self.notes)
        return out


def _csv_record_lines(source: Source, n: int) -> np.ndarray:
    """Starting line of each of the first ``n`` data records of a CSV file (1-based)."""
    import csv
    import io as _io

    data = source._text
    raw = data if isinstance(data, bytes) else Path(data).read_bytes()
    text = _io.TextIOWrapper(_io.BytesIO(raw), encoding=source.encoding, newline="")
    out = np.zeros(max(n, 0), dtype=np.int64)
    header = int(source.header_row or 1)
    for _ in range(header - 1):
        text.readline()
    reader = csv.reader(text, delimiter=source.sep or ",")
    try:
        next(reader)  # the header
        k = 0
        while k < n:
            before = reader.line_num
            row = next(reader)
            if not any(cell.strip() for cell in row):
                continue
            out[k] = header - 1 + before + 1
            k += 1
    except (StopIteration, csv.Error, UnicodeDecodeError):
        pass
    return out


_SNIFF = (
    (b"PK\x03\x04", "xlsx"),
    (b"PAR1", "parquet"),
)


def _sniff_format(head: bytes) -> str:
    for magic, fmt in _SNIFF:
        if head.startswith(magic):
            return fmt
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped[:1] in (b"[", b"{"):
        return "json"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return "xls"
    return "csv"


def read_sites(
    path: str | Path | IO[bytes],
    *,
    max_bytes: int | None = None,
    format: str | None = None,
    sep: str | None = None,
    decimal: str | None = None,
    encoding: str | None = None,
    sheet: str | int | None = None,
    header_row: int | None = None,
    **kwargs: Any,
) -> pd.DataFrame:
    """Read a sites table from a CSV, XLSX, Parquet or JSON file, as labs write them.

    Parameters
    ----------
    path : str, pathlib.Path or binary file
        The file (its extension, else its first bytes, tell the format), or an open binary
        file such as ``sys.stdin.buffer``.
    max_bytes : int, optional
        Refuse files larger than this [bytes]; default :data:`MAX_BYTES` for the format
        (2 GiB for CSV and Parquet, 256 MiB for JSON, 64 MiB for XLSX).
    format : {"csv", "xlsx", "parquet", "json"}, optional
        The format, when neither the extension nor the content should decide.
    sep, decimal, encoding : str, optional
        CSV: column separator (``","``, ``";"``, ``"\\t"`` or ``"tab"``, ``"|"``), decimal
        mark (``"."`` or ``","``) and text encoding (``"utf-8"``, ``"cp1252"``,
        ``"latin-1"``, ...); default: detected (:mod:`ncs.dialect`).
    sheet : str or int, optional
        XLSX: the sheet's name, or its number counted from 1; default: the one sheet whose
        headers ncs knows (:mod:`ncs.spreadsheet`).
    header_row : int, optional
        Line (CSV) or sheet row (XLSX) of the column names, counted from 1; default:
        detected (title and blank rows above the header are skipped).
    **kwargs
        Passed to the pandas reader (CSV, Parquet, JSON), overriding detection; XLSX also
        takes pandas' ``sheet_name`` (counted from 0).

    Returns
    -------
    pandas.DataFrame
        The table as read (text key columns kept as text, empty header-less columns
        dropped); validate it with :func:`ncs.validate` or pass it to :func:`ncs.analyze`.
        ``attrs["ncs_source"]`` is a :class:`Source`: how the file was read, and the line
        of the file each row came from.

    Raises
    ------
    ValidationError
        If the file does not exist, is empty or has no data rows, is larger than the limit,
        cannot be parsed, or its format is not supported, or detection is unsure (the
        message names the option to pass). Messages never quote the file's content.

    Notes
    -----
    Cells are read as written: only an empty cell is missing at this stage, so that
    :func:`ncs.validate` reads every "no value" and "no response" word by one rule
    (:mod:`ncs.cells`). XLSX files are read by openpyxl with defusedxml, which refuses XML
    entity expansion ("billion laughs") and external entities; their unpacked size is
    checked first. No reader unpickles or evaluates anything.

    Examples
    --------
    >>> import ncs
    >>> from ncs.cli import demo_path
    >>> sites = ncs.read_sites(demo_path())
    >>> source = sites.attrs["ncs_source"]
    >>> source.sep, source.decimal, source.where(0)
    (',', '.', 'line 2')
    """
    stream = None
    if hasattr(path, "read"):
        stream = path
        name = str(getattr(path, "name", "-"))
        if not isinstance(name, str) or name.startswith("<"):
            name = "-"
        p = None
    else:
        p = Path(path)
        name = p.name
        if not p.is_file():
            raise ValidationError([Problem(None, None, f"no such file: {p.name}")])
    suffix = p.suffix.lower() if p is not None else ""
    fmt = format or _FORMATS.get(suffix)
    data: bytes | None = None
    if stream is not None:
        limit = MAX_BYTES.get(fmt or "csv", MAX_BYTES["csv"]) if max_bytes is None else max_bytes
        data = stream.read(int(limit) + 1)
        if isinstance(data, str):
            data = data.encode("utf-8")
        if len(data) > limit:
            raise _too_big(len(data), int(limit), "the input")
        fmt = fmt or _sniff_format(data[:16])
    elif fmt is None and p is not None and suffix in ("", ".dat"):
        with p.open("rb") as fh:
            fmt = _sniff_format(fh.read(16))
    if fmt == "xls" or suffix == ".xls":
        raise ValidationError(
            [Problem(None, None, "old Excel .xls files are not read; save the sheet as .xlsx")]
        )
    if fmt not in MAX_BYTES:
        raise ValidationError(
            [
                Problem(
                    None,
                    None,
                    f"unsupported file type {suffix or fmt!r}; use .csv, .tsv, .txt, .xlsx, "
                    ".parquet or .json",
                )
            ]
        )
    limit = MAX_BYTES[fmt] if max_bytes is None else int(max_bytes)
    size = len(data) if data is not None else p.stat().st_size  # type: ignore[union-attr]
    if size > limit:
        raise _too_big(size, limit, "the file")
    if size == 0:
        raise ValidationError([Problem(None, None, f"the file is empty: {name}")])
    if fmt == "csv":
        if suffix == ".tsv" and sep is None and "sep" not in kwargs:
            sep = "\t"
        frame, source = _read_csv(p, data, name, sep, decimal, encoding, header_row, kwargs)
    elif fmt == "xlsx":
        frame, source = _read_xlsx(p, data, name, limit, sheet, header_row, kwargs)
        if decimal == "," and len(frame):  # numbers stored as text with decimal commas
            _refuse_thousands(frame, lambda rows: [source.where(int(r)) for r in rows])
            frame = _decimal_commas(frame)
    elif fmt == "parquet":
        _require("pyarrow", "parquet")
        import io as _io

        try:
            frame = pd.read_parquet(_io.BytesIO(data) if data is not None else p, **kwargs)
        except (OSError, ValueError) as err:
            raise _unreadable("Parquet", err) from None
        source = Source(name=name, format="parquet")
    else:
        frame = _read_json_rows(p, data, _text_dtypes(), kwargs)
        source = Source(name=name, format="json")
    if frame.shape[1] == 0 and len(frame) == 0:
        raise ValidationError([Problem(None, None, f"the file is empty: {name}")])
    if len(frame) == 0:
        raise ValidationError([Problem(None, None, f"no data rows: {name} has a header line only")])
    frame.attrs["ncs_source"] = source
    return frame


def _text_dtypes() -> dict[str, str]:
    return {c: "string" for c in _TEXT_COLUMNS}


def _read_csv(
    p: Path | None,
    data: bytes | None,
    name: str,
    sep: str | None,
    decimal: str | None,
    encoding: str | None,
    header_row: int | None,
    kwargs: dict[str, Any],
) -> tuple[pd.DataFrame, Source]:
    """A CSV file with its dialect detected once from a sample (see :mod:`ncs.dialect`)."""
    import io as _io

    from ncs.dialect import SAMPLE_BYTES, detect_csv

    sep = kwargs.pop("sep", kwargs.pop("delimiter", sep))
    decimal = kwargs.pop("decimal", decimal)
    encoding = kwargs.pop("encoding", encoding)
    if data is not None:
        sample = data[:SAMPLE_BYTES]
        complete = len(data) <= SAMPLE_BYTES
    else:
        with p.open("rb") as fh:  # type: ignore[union-attr]
            sample = fh.read(SAMPLE_BYTES + 1)
        complete = len(sample) <= SAMPLE_BYTES
        sample = sample[:SAMPLE_BYTES]
    dialect = detect_csv(
        sample,
        complete=complete,
        sep=sep,
        decimal=decimal,
        encoding=encoding,
        header_line=header_row,
    )
    options: dict[str, Any] = {
        "sep": dialect.sep,
        "decimal": dialect.decimal,
        "encoding": dialect.encoding,
        "skiprows": dialect.header_line - 1,
        "dtype": _text_dtypes(),
        "skipinitialspace": True,
        "keep_default_na": False,
        "na_values": [""],
        "index_col": False,
    }
    options.update(kwargs)
    text_of = data if data is not None else p
    # options that change how lines become rows and columns: the reader trusts them
    header_cells = None if _STRUCTURE_OPTIONS & set(kwargs) else _header_cells(text_of, dialect)
    if header_cells is not None:
        refuse_same_headers(
            header_cells,
            [str(k + 1) for k in range(len(header_cells))],
            f"of the header on line {dialect.header_line}",
        )
    try:
        with warnings.catch_warnings():
            # a row longer than the header would lose its last cells: an error, not a warning
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(_io.BytesIO(data) if data is not None else p, **options)
    except (pd.errors.ParserError, pd.errors.ParserWarning) as err:
        raise ValidationError(
            [_long_row_problem(data if data is not None else p, dialect, err)]
        ) from None
    except UnicodeError:  # a decoding error, or a codec's own (utf-16 without a BOM)
        raise ValidationError(
            [
                Problem(
                    None,
                    None,
                    f"the file is not {dialect.encoding} throughout (the first "
                    f"{SAMPLE_BYTES // 1024} KiB are): pass the encoding, e.g. "
                    "encoding='cp1252' (command line: --encoding cp1252)",
                )
            ]
        ) from None
    except pd.errors.EmptyDataError:
        raise ValidationError([Problem(None, None, f"the file is empty: {name}")]) from None
    except (ValueError, OverflowError) as err:
        raise _unreadable("CSV", err) from None
    notes = dialect.notes
    if header_cells is not None:
        note = _check_line_widths(text_of, dialect, header_cells, frame)
        notes = (*notes, note) if note else notes
    frame = _drop_empty_unnamed(frame)
    _refuse_unnamed(frame, data if data is not None else p, dialect)
    # a row of separators only (";;;;", a spreadsheet's empty row saved as CSV) is a blank
    # line, as the line numbers of problems count it: no data to keep or to judge
    blank = frame.isna().all(axis=1).to_numpy() if frame.shape[1] else np.zeros(0, bool)
    if blank.any():
        frame = frame[~blank].reset_index(drop=True)
    if dialect.decimal == "," and len(frame):
        _refuse_thousands(
            frame, lambda rows: [f"line {int(x)}" for x in _lines_of(text_of, dialect, rows)]
        )
        frame = _decimal_commas(frame)
    source = Source(
        name=name,
        format="csv",
        encoding=dialect.encoding,
        sep=dialect.sep,
        decimal=dialect.decimal,
        header_row=dialect.header_line,
        detected=tuple("header_row" if d == "header_line" else d for d in dialect.detected),
        notes=notes,
        _text=data if data is not None else p,
    )
    return frame, source


def _long_row_problem(data: Any, dialect: Any, err: BaseException) -> Problem:
    """The first line with more cells than the header (found again with :mod:`csv`)."""
    import csv

    raw = data if isinstance(data, bytes) else Path(data).read_bytes()
    text = raw.decode(dialect.encoding, errors="replace").lstrip("\ufeff")
    lines = text.splitlines(keepends=True)[dialect.header_line - 1 :]
    reader = csv.reader(lines, delimiter=dialect.sep)
    try:
        width = len(next(reader))
        while True:
            before = reader.line_num
            row = next(reader)
            if row and row[-1] == "":
                row = row[:-1]  # a separator ending the line adds no cell
            if len(row) > width:
                line = dialect.header_line + before
                return Problem(
                    None,
                    None,
                    f"line {line} has {len(row)} cells but the header (line "
                    f"{dialect.header_line}) names {width} columns: a separator inside an "
                    "unquoted cell, or a column without a header?",
                )
    except (StopIteration, csv.Error):
        pass
    return _unreadable("CSV", err).problems[0]


#: ``pandas.read_csv`` options that change how a file's lines become rows and columns;
#: given, they are trusted and the reader's checks of the header and the line widths skip.
_STRUCTURE_OPTIONS = frozenset(
    {"names", "header", "usecols", "skiprows", "skipfooter", "nrows", "comment", "quotechar"}
    | {"quoting", "escapechar", "doublequote", "lineterminator"}
)


@contextmanager
def _csv_lines(data: Any, dialect: Any) -> Iterator[Any]:
    """The CSV records of a file from its header line on (a :mod:`csv` reader, quotes
    respected, spaces after a separator skipped as pandas skips them); the file is closed
    on leaving the ``with`` block."""
    import csv
    import io as _io

    with (
        _io.BytesIO(data) if isinstance(data, bytes) else Path(data).open("rb") as raw,
        _io.TextIOWrapper(raw, encoding=dialect.encoding, newline="") as text,
    ):
        for _ in range(dialect.header_line - 1):
            text.readline()
        yield csv.reader(text, delimiter=dialect.sep, skipinitialspace=True)


def _header_cells(data: Any, dialect: Any) -> list[str] | None:
    """The cells of a CSV file's header line, spaces around them stripped (None: unreadable,
    left to the reader's own error)."""
    import csv

    try:
        with _csv_lines(data, dialect) as reader:
            return [cell.strip().lstrip("\ufeff") for cell in next(reader)]
    except (StopIteration, csv.Error, UnicodeError):
        return None


def _check_line_widths(
    data: Any, dialect: Any, header_cells: list[str], frame: pd.DataFrame
) -> str | None:
    """Lines with fewer cells than the header are an error naming them.

    pandas fills a short line up with empty cells at its end: a cell left out in the
    middle of a line (its separator missing) would shift the cells after it into the
    wrong columns, silently. A file whose every line has the same number of cells, fewer
    than the header names, is read: its writer leaves out the empty cells at the end of
    each line, and the columns at the end are empty. A separator ending every line (most
    lines) adds no cell.

    Parameters
    ----------
    data : bytes or path
        The CSV file.
    dialect : ncs.dialect.CsvDialect
        How it is written.
    header_cells : list of str
        The cells of its header line.
    frame : pandas.DataFrame
        The table pandas read from it: only when its last named column has an empty cell
        (which every short line leaves) is the file read again, line by line.

    Returns
    -------
    str or None
        A note when every line is equally short (its last columns read as empty).

    Raises
    ------
    ValidationError
        Naming the lines with fewer cells (:func:`ncs.dialect.short_lines_error`).
    """
    import csv

    from ncs.dialect import MAX_LINES_NAMED, short_lines_error, short_widths

    named = len(header_cells)
    while named and not header_cells[named - 1]:
        named -= 1
    if not named or (frame.shape[1] >= named and frame.iloc[:, named - 1].notna().all()):
        return None
    widths: dict[tuple[int, bool], int] = {}  # (cells, last cell empty) -> lines
    first: dict[tuple[int, bool], list[int]] = {}  # the first lines of each, for messages
    try:
        with _csv_lines(data, dialect) as reader:
            next(reader)  # the header
            before = reader.line_num  # lines read: the next record starts after them
            for row in reader:
                if row and (row[0].strip() or any(c.strip() for c in row)):  # not blank
                    key = (len(row), row[-1] == "")
                    widths[key] = widths.get(key, 0) + 1
                    if key[0] <= named and len(first.setdefault(key, [])) < MAX_LINES_NAMED:
                        first[key].append(dialect.header_line + before)
                before = reader.line_num
    except (csv.Error, UnicodeError, StopIteration):
        return None  # pandas read the file: its own reading stands
    total = sum(widths.values())
    ending = sum(k for (n, empty), k in widths.items() if empty and n == named + 1)
    trailing = 2 * ending > total  # most lines end with the separator

    def cells(key: tuple[int, bool]) -> int:
        n, empty = key
        return n - 1 if trailing and empty else n

    by_cells: dict[int, int] = {}
    for key, k in widths.items():
        by_cells[cells(key)] = by_cells.get(cells(key), 0) + k
    equal, short = short_widths(by_cells, named)
    if equal is not None:  # every line as short: the columns at the end are empty
        missing = ", ".join(repr(h) for h in header_cells[equal:named])
        columns = "column" if named - equal == 1 else "columns"
        return (
            f"every line below the header has {equal} cells, the header names {named}: "
            f"{columns} {missing} read as empty"
        )
    if not short:
        return None
    keys = [key for key in widths if cells(key) in short]
    found = sorted((line, cells(key)) for key in keys for line in first.get(key, []))
    raise short_lines_error(found, sum(widths[key] for key in keys), dialect.header_line, named)


def _column_key(header: str) -> str:
    """The sites-table column a header names, as validation reads it (``Amplitude mV`` ->
    ``amplitude_mv``; see ``ncs.schema``)."""
    return header.strip().lower().replace(" ", "_")


#: Columns of the sites table a header may name (with the unit-bearing alternatives).
_KNOWN_COLUMNS = frozenset(c.name for c in COLUMNS) | frozenset(ALT_COLUMNS)


def refuse_same_headers(headers: list[str], places: list[str], where: str) -> None:
    """Two columns with the same header, or two headers read as the same column of the
    sites table (``Amplitude_mV`` beside ``amplitude_mv``), are an error naming both.

    Parameters
    ----------
    headers : list of str
        The headers, in the file's order (empty: a column without a header, not checked).
    places : list of str
        How a person finds each column: its number (CSV) or letter (XLSX).
    where : str
        Which header line or sheet, in words (``"of the header on line 1"``).

    Raises
    ------
    ValidationError
        Naming every such pair of columns. pandas would rename the second column
        (``amplitude_mv.1``) or keep both, and one of them would be read silently.
    """
    problems = []
    same: dict[str, int] = {}
    known: dict[str, int] = {}
    for k, header in enumerate(headers):
        text = " ".join(str(header).split())
        if not text:
            continue
        if text in same:
            problems.append(
                Problem(
                    None,
                    text,
                    f"two columns have this header (columns {places[same[text]]} and "
                    f"{places[k]} {where})",
                )
            )
            continue
        same[text] = k
        key = _column_key(text)
        if key not in _KNOWN_COLUMNS:
            continue
        if key in known:
            first = known[key]
            problems.append(
                Problem(
                    None,
                    text,
                    f"columns {places[first]} ({' '.join(str(headers[first]).split())!r}) and "
                    f"{places[k]} ({text!r}) {where} are both read as {key!r}: keep one",
                )
            )
            continue
        known[key] = k
    if problems:
        raise ValidationError(problems)


def _lines_of(data: Any, dialect: Any, rows: np.ndarray) -> np.ndarray:
    """The file's line of each of some data rows (positions of the table as read), for a
    problem found while the file is read (before its :class:`Source` is made)."""
    source = Source(
        name="",
        format="csv",
        encoding=dialect.encoding,
        sep=dialect.sep,
        decimal=dialect.decimal,
        header_row=dialect.header_line,
        _text=data,
    )
    return _csv_record_lines(source, int(rows.max()) + 1)[rows]


def _refuse_unnamed(frame: pd.DataFrame, data: Any, dialect: Any) -> None:
    """A column with values but no header is an error (as in a spreadsheet): its cells
    would otherwise be read as an extra column, or shift the others (unquoted decimal
    commas in a comma-separated file)."""
    unnamed = [c for c in frame.columns if isinstance(c, str) and c.startswith("Unnamed: ")]
    if not unnamed:
        return
    problems = []
    for c in unnamed:
        first = int(np.flatnonzero(frame[c].notna().to_numpy())[0])
        line = int(_lines_of(data, dialect, np.array([first]))[0])
        number = int(c.split(": ", 1)[1]) + 1
        problems.append(
            Problem(
                None,
                None,
                f"column {number} has values but no header (first on line {line}): name it "
                "in the header, or quote cells holding the separator (a decimal comma in a "
                "comma-separated file?)",
            )
        )
    raise ValidationError(problems)


def _drop_empty_unnamed(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns without a header and without values (a trailing separator) are not data."""
    drop = [
        c
        for c in frame.columns
        if isinstance(c, str) and c.startswith("Unnamed: ") and frame[c].isna().all()
    ]
    return frame.drop(columns=drop) if drop else frame


_COMMA_DECIMAL = r"^\s*[-+]?\d+,\d+\s*$"
_DOT_THOUSANDS = r"^\s*[-+]?\d{1,3}(\.\d{3})+(,\d+)?\s*$"
_NUMBER_WITH_COMMA = r"^\s*[-+]?\d+(,\d+)?\s*$"


def _number_text_columns(frame: pd.DataFrame):
    """Each column read as text that may hold numbers (not a key or label column): its
    name, its values and those values as pandas ``string``."""
    for col in frame.columns:
        values = frame[col]
        if col in _TEXT_COLUMNS or values.dtype.kind in "fiub":
            continue
        if not (values.dtype == object or isinstance(values.dtype, pd.StringDtype)):
            continue
        yield col, values, values.astype("string")


def _refuse_thousands(frame: pd.DataFrame, places) -> None:
    """In a file with decimal commas, a number written with '.' between groups of three
    digits (8.200) is a thousands separator, or a decimal point: it cannot be read either
    way without guessing, so it is an error naming its place (it was read as 8.2).
    ``places(rows)`` words the place of some rows of the table in the file (CSV lines,
    sheet rows)."""
    problems = []
    for col, _, text in _number_text_columns(frame):
        hits = text.str.match(_DOT_THOUSANDS).fillna(False).to_numpy(bool)
        if not hits.any():
            continue
        # a column of numbers (not free text that happens to hold '1.250'): most of its
        # cells are numbers in the file's convention or in this form
        numeric = hits | text.str.match(_NUMBER_WITH_COMMA).fillna(False).to_numpy(bool)
        if numeric.sum() * 2 < text.notna().sum():
            continue
        rows = np.flatnonzero(hits)
        where = ", ".join(places(rows[:6])) + (" ..." if rows.size > 6 else "")
        problems.append(
            Problem(
                None,
                str(col),
                f"{rows.size} number(s) with '.' between groups of three digits in a file "
                f"whose decimal mark is ',' ({where}): a thousands separator (8.200 = 8200) "
                "or a decimal point? write the numbers without thousands separators",
            )
        )
    if problems:
        raise ValidationError(problems)


def _decimal_commas(frame: pd.DataFrame) -> pd.DataFrame:
    """Text columns whose number cells have decimal commas (next to words such as NR)."""
    out = frame
    for col, values, text in _number_text_columns(frame):
        commas = text.str.match(_COMMA_DECIMAL).fillna(False).to_numpy(dtype=bool)
        if commas.any():
            if out is frame:
                out = frame.copy(deep=False)
            fixed = text.str.replace(",", ".", regex=False).str.strip()
            out[col] = values.astype(object).mask(commas, fixed.astype(object))
    return out


def _read_xlsx(
    p: Path | None,
    data: bytes | None,
    name: str,
    limit: int,
    sheet: str | int | None,
    header_row: int | None,
    kwargs: dict[str, Any],
) -> tuple[pd.DataFrame, Source]:
    import io as _io

    from ncs.spreadsheet import read_sheet

    _require("openpyxl", "xlsx")
    source_file: Any = _io.BytesIO(data) if data is not None else p
    _check_xlsx(source_file, limit)
    if "sheet_name" in kwargs:
        chosen = kwargs.pop("sheet_name")
        sheet = chosen + 1 if isinstance(chosen, int) else chosen
    if kwargs:
        raise TypeError(f"unexpected keyword argument(s) for XLSX: {sorted(kwargs)}")
    if hasattr(source_file, "seek"):
        source_file.seek(0)
    try:
        table = read_sheet(source_file, sheet=sheet, header_row=header_row)
    except ValidationError:
        raise
    except Exception as err:  # any parser failure, defusedxml's refusals included
        raise _unreadable("XLSX", err) from None
    frame = table.frame
    headers = [str(c) for c in frame.columns]
    refuse_same_headers(headers, [table.columns[h] for h in headers], f"of sheet {table.sheet!r}")
    for col in _TEXT_COLUMNS:
        if col in frame.columns:
            frame[col] = _text_cells(frame[col])
    source = Source(
        name=name,
        format="xlsx",
        sheet=table.sheet,
        header_row=table.header_row,
        detected=table.detected,
        notes=table.notes,
        rows=table.rows,
        columns=table.columns,
    )
    return frame, source


def _text_cells(values: pd.Series) -> pd.Series:
    """A text column of a sheet: numbers as typed (7 -> "7"), text stripped, blanks missing."""

    def text(v: Any) -> Any:
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return None
        if isinstance(v, float) and v.is_integer():
            return str(int(v))
        if isinstance(v, str | int | float):
            return str(v)
        return v

    codes, uniques = factorize_cells(values.to_numpy(dtype=object))
    mapped = np.array([text(u) for u in uniques] + [None], dtype=object)[codes]
    return _as_text(pd.Series(mapped, index=values.index))


def _read_json_rows(p: Path | None, data: bytes | None, text_dtypes: dict, kwargs: dict):
    """A JSON list of row objects (or a pandas JSON layout given with ``orient=``)."""
    import io as _io
    import json

    if kwargs:
        try:
            return pd.read_json(
                _io.BytesIO(data) if data is not None else p,
                dtype=text_dtypes,
                **{"orient": "records", **kwargs},
            )
        except ValueError as err:
            raise _unreadable("JSON", err) from None
    try:
        raw = data if data is not None else p.read_bytes()  # type: ignore[union-attr]
        doc = json.loads(raw.decode("utf-8-sig"))
    except (ValueError, UnicodeDecodeError, RecursionError) as err:
        raise _unreadable("JSON", err) from None
    if not isinstance(doc, list) or not all(isinstance(r, dict) for r in doc):
        raise ValidationError(
            [Problem(None, None, "a JSON sites file must be a list of row objects")]
        )
    if not doc:
        raise ValidationError([Problem(None, None, "no data rows: the JSON list is empty")])
    frame = pd.DataFrame.from_records(doc)
    for col in _TEXT_COLUMNS:
        if col in frame.columns:
            frame[col] = _as_text(frame[col])
    return frame


def _as_text(values: pd.Series) -> pd.Series:
    """Strings stay strings, missing stays missing; other cells are left for validation."""
    obj = values.astype(object)
    if all(isinstance(v, str) for v in pd.unique(obj.dropna())):
        return obj.astype("string")
    return obj


# --------------------------------------------------------------------------------------
# Writing: spreadsheet-safe text
# --------------------------------------------------------------------------------------

#: A text cell starting with one of these is read as a formula by spreadsheet programs.
FORMULA_PREFIXES: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")


def _neutralise(text: object) -> object:
    if isinstance(text, str) and text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


def safe_for_spreadsheet(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy whose text cells cannot run as spreadsheet formulas ("CSV injection").

    Every text cell (and column name) that starts with ``=``, ``+``, ``-``, ``@``, a tab or
    a carriage return gets a leading ``'``, which spreadsheet programs show as text. Numeric
    columns are left alone: a negative number is a number, not a formula.

    Parameters
    ----------
    frame : pandas.DataFrame
        A table about to be written as CSV or XLSX.

    Returns
    -------
    pandas.DataFrame
        The neutralised copy (same dtypes, same index).

    References
    ----------
    .. [1] OWASP. CSV Injection. https://owasp.org/www-community/attacks/CSV_Injection

    Examples
    --------
    >>> import pandas as pd
    >>> safe = safe_for_spreadsheet(pd.DataFrame({"id": ["=1+1", "P2"], "x": [-1.0, 2.0]}))
    >>> safe["id"].tolist(), safe["x"].tolist()
    (["'=1+1", 'P2'], [-1.0, 2.0])
    """
    out = frame.copy(deep=False)
    out.columns = [_neutralise(c) for c in frame.columns]
    for i in range(out.shape[1]):
        col = out.iloc[:, i]
        dtype = col.dtype
        if isinstance(dtype, pd.CategoricalDtype):
            cats = [_neutralise(c) for c in dtype.categories]
            if cats != list(dtype.categories):
                out.isetitem(i, col.cat.rename_categories(cats))
        elif isinstance(dtype, pd.StringDtype):
            risky = col.str.startswith(FORMULA_PREFIXES).fillna(False).to_numpy(dtype=bool)
            if risky.any():
                out.isetitem(i, col.mask(risky, "'" + col))
        elif dtype.kind == "O":
            try:
                codes, uniques = factorize_cells(col.to_numpy(dtype=object))
            except TypeError:  # unhashable cells: one by one
                out.isetitem(i, col.map(_neutralise))
                continue
            fixed = [_neutralise(u) for u in uniques]
            if any(a is not b for a, b in zip(fixed, uniques, strict=True)):
                values = np.array([*fixed, None], dtype=object)[codes]
                missing = codes < 0
                values[missing] = col.to_numpy()[missing]
                out.isetitem(i, pd.Series(values, index=col.index, dtype=object))
    return out


def write_table(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write a table as CSV/TSV, XLSX, Parquet or JSON, chosen by the file extension.

    CSV and XLSX output goes through :func:`safe_for_spreadsheet` first. The content is
    rendered completely before the file is written.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table.
    path : str or pathlib.Path
        Output file (``.csv``, ``.tsv``, ``.xlsx``, ``.parquet`` or ``.json``).

    Returns
    -------
    pathlib.Path
        The file written.
    """
    import io as _io

    out = Path(path)
    suffix = out.suffix.lower()
    buffer = _io.BytesIO()
    if suffix in (".csv", ".txt", ".tsv"):
        sep = "\t" if suffix == ".tsv" else ","
        text = safe_for_spreadsheet(frame).to_csv(index=False, sep=sep)
        buffer.write(text.encode("utf-8"))
    elif suffix == ".xlsx":
        _require("openpyxl", "xlsx")
        safe_for_spreadsheet(frame).to_excel(buffer, index=False, engine="openpyxl")
    elif suffix == ".parquet":
        _require("pyarrow", "parquet")
        frame.to_parquet(buffer, index=False)
    elif suffix == ".json":
        buffer.write(frame.to_json(orient="records", force_ascii=False).encode("utf-8"))
    else:
        raise ValueError(f"unsupported output type {suffix!r}; use .csv, .xlsx, .parquet, .json")
    out.write_bytes(buffer.getvalue())
    return out


def workbook_bytes(tables: dict[str, pd.DataFrame]) -> bytes:
    """An XLSX workbook with one sheet per table (named by its key), spreadsheet-safe.

    Parameters
    ----------
    tables : dict of str to pandas.DataFrame
        Sheet name -> table, in sheet order.

    Returns
    -------
    bytes
        The ``.xlsx`` file's content (needs ``ncs-edx[xlsx]``).
    """
    import io as _io

    _require("openpyxl", "xlsx")
    buffer = _io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        for name, frame in tables.items():
            plain = frame.copy(deep=False)
            for col in plain.columns:  # categoricals and pandas strings as plain objects
                if isinstance(plain[col].dtype, pd.CategoricalDtype | pd.StringDtype):
                    plain[col] = plain[col].astype(object).where(plain[col].notna(), None)
            safe_for_spreadsheet(plain).to_excel(writer, sheet_name=name[:31], index=False)
    return buffer.getvalue()


# --------------------------------------------------------------------------------------
# Analysis results as JSON (the layout of Analysis.to_dict(); JSON Schema in package data)
# --------------------------------------------------------------------------------------

#: Column-name endings that mark a float measure (units live in the names).
_FLOAT_SUFFIXES = ("_ms", "_mv", "_mvms", "_mm", "_m_s", "_pct", "_hz", "_c", "_cm", "_years")
#: Column names / prefixes that hold counts or positions (integers).
_INT_NAMES = ("site_order", "input_row", "distal_row", "proximal_row")
_INT_PREFIXES = ("n_",)
_BOOL_NAMES = ("from_most_distal", "phase_cancellation_possible")


def json_schema() -> dict:
    """The JSON Schema (draft 2020-12) that :meth:`ncs.Analysis.to_json` output follows.

    Returns
    -------
    dict
        The schema, also shipped as ``ncs/data/analysis.schema.json`` and printed in the
        documentation. Its ``schema_version`` is :data:`ncs.analyze.JSON_SCHEMA_VERSION`.
    """
    import json
    from importlib import resources

    text = (resources.files("ncs") / "data" / "analysis.schema.json").read_text(encoding="utf-8")
    return json.loads(text)


def _looks_float(name: str) -> bool:
    from ncs.fwave import NERVE_MEASURES

    text_measures = ("muscle", "distal_response")
    if name in NERVE_MEASURES and name not in text_measures:
        return True
    return name.endswith(_FLOAT_SUFFIXES) and not _looks_int(name)


def _looks_int(name: str) -> bool:
    return name in _INT_NAMES or name.endswith("_order") or name.startswith(_INT_PREFIXES)


def _restore_column(name: str, values: list, categories: dict[str, tuple[str, ...]]):
    """A column from JSON values with the dtype ncs uses for it (see :func:`from_json`)."""
    import numpy as np

    from ncs._codes import CATEGORY_COLUMNS, from_labels

    present = [v for v in values if v is not None]
    kinds = {type(v) for v in present}
    if not present and name in categories:  # empty table or all-null declared column
        return pd.Categorical(values, categories=list(categories[name]))
    if name in categories and kinds <= {str} and set(present) <= set(categories[name]):
        return pd.Categorical(values, categories=list(categories[name]))
    if name in CATEGORY_COLUMNS and kinds <= {str}:  # keys and labels (sorted categories)
        return from_labels(np.asarray(values, dtype=object))
    if categories and kinds <= {str} and present:
        # finding columns are categoricals: block (with "probable") and three-valued items
        cats = categories.get(name, categories.get("*", ()))
        if set(present) <= set(cats):
            return pd.Categorical(values, categories=list(cats))
    if not values and _looks_int(name):  # empty table
        return np.zeros(0, dtype=np.int64)
    if not values and name in _BOOL_NAMES:
        return np.zeros(0, dtype=bool)
    if not kinds:  # every value missing: decide by name
        if _looks_float(name) or _looks_int(name):
            return np.full(len(values), np.nan)
        return pd.array(values, dtype="string")
    if kinds <= {str}:
        return pd.array(values, dtype="string")
    if kinds <= {bool}:
        return (
            pd.array(values, dtype="boolean")
            if len(present) < len(values)
            else np.array(values, dtype=bool)
        )
    if kinds <= {int} and len(present) == len(values) and not _looks_float(name):
        return np.asarray(values, dtype=np.int64)
    if kinds <= {int, float}:
        return np.array([np.nan if v is None else v for v in values], dtype=float)
    return pd.Series(values, dtype=object).to_numpy()


def _table_from_records(
    records: list[dict], columns: tuple[str, ...], categories: dict[str, tuple[str, ...]]
) -> pd.DataFrame:
    """Rows of a JSON table as a DataFrame; ``columns`` gives the order (and an empty table's)."""
    present = list(dict.fromkeys(k for r in records for k in r)) if records else list(columns)
    data = {c: _restore_column(c, [r.get(c) for r in records], categories) for c in present}
    return pd.DataFrame(data, index=pd.RangeIndex(len(records)))


def _criterion_from_dict(d: dict):
    """A :class:`ncs.Criterion` from its ``to_dict()``: the registry's object when identical."""
    from ncs.registry import CRITERIA, criterion_from_dict

    known = CRITERIA.get(d.get("id", ""))
    if known is not None and known.to_dict() == d:
        return known

    try:
        rebuilt = criterion_from_dict(d)
        if rebuilt.to_dict() == d:
            return rebuilt
    except (KeyError, TypeError, ValueError):
        pass
    return CriterionRecord(d)


class CriterionRecord:
    """A criterion read from JSON that cannot be rebuilt exactly: its description, read-only.

    Carries ``id``, ``title``, ``citation`` (a :class:`ncs.Citation`), ``verified`` and the
    other keys of the JSON as attributes, and gives the same ``to_dict()`` back. It describes
    the criterion that produced a saved result; it cannot judge new segments.
    """

    def __init__(self, description: dict) -> None:
        from ncs.criteria import Citation

        self._description = description
        for key, value in description.items():
            setattr(self, key, value)

        def citation(c: dict) -> Citation:
            return Citation(key=c.get("key", ""), text=c.get("text", ""), doi=c.get("doi"))

        self.citation = citation(description.get("citation") or {})
        self.applied_in = tuple(citation(c) for c in description.get("applied_in") or ())
        self.id = str(description["id"])
        self.verified = bool(description.get("verified", False))

    def to_dict(self) -> dict:
        return self._description

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CriterionRecord) and other.to_dict() == self.to_dict()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"CriterionRecord(id={self.id!r})"


def from_json(source: str | Path | dict):
    """Rebuild an :class:`ncs.Analysis` from :meth:`~ncs.Analysis.to_json` output.

    Parameters
    ----------
    source : str, pathlib.Path or dict
        JSON text, a path to a ``.json`` file, or the parsed dict.

    Returns
    -------
    Analysis
        The same tables with the dtypes :func:`ncs.analyze` gives them: keys and labels
        (``patient_id``, ``nerve``, site names, ``scheme``, ``verdict``, ...) as
        categoricals over their sorted values,
        ``block``, ``dispersion`` and the nerve parameters as categoricals with their fixed
        values, other text (``reason``, ``evidence``) as pandas ``string``, counts and positions
        as ``int64``, measures as ``float64`` (``null`` -> NaN). Criteria are the registry's
        objects when their description is unchanged, else rebuilt from the JSON. ``meta``
        holds the producing ``ncs_version``, the criteria and ``n_input_rows``.

    Raises
    ------
    ValidationError
        If the text is not JSON, lacks a required table, or has an unknown ``schema_version``.

    Notes
    -----
    Extra columns are restored by the JSON type of their values (text -> ``string``, whole
    numbers without nulls -> ``int64``, other numbers -> ``float64``); an all-null column is
    float when its name ends in a unit (``_ms``, ``_mv``, ``_pct``, ...), text otherwise.

    Examples
    --------
    >>> import ncs
    >>> from ncs.cli import demo_path
    >>> from ncs.io import from_json
    >>> result = ncs.analyze(ncs.read_sites(demo_path()))
    >>> again = from_json(result.to_json())
    >>> again.patients.equals(result.patients)
    True
    """
    import json

    from ncs.analyze import FINDING_KEYS, JSON_SCHEMA_VERSION, Analysis
    from ncs.criteria import BLOCK_VALUES, DISPERSION_VALUES
    from ncs.plausibility import COLD_LIMB_VALUES
    from ncs.schema import COLUMNS
    from ncs.segments import SEGMENT_COLUMNS
    from ncs.summary import NERVE_COLUMNS, PATIENT_COLUMNS

    if isinstance(source, dict):
        doc = source
    else:
        text = str(source)
        if isinstance(source, Path) or not text.lstrip().startswith("{"):
            p = Path(source)
            if not p.is_file():
                raise ValidationError([Problem(None, None, f"no such file: {p.name}")])
            text = p.read_text(encoding="utf-8")
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as err:
            raise ValidationError(
                [Problem(None, None, f"not valid JSON: {err.msg} at line {err.lineno}")]
            ) from None
    if not isinstance(doc, dict):
        raise ValidationError([Problem(None, None, "expected a JSON object")])
    if doc.get("kind") == "followup":
        raise ValidationError(
            [
                Problem(
                    None,
                    None,
                    "this is a follow-up result (ncs followup -o followup.json); an analysis "
                    "is read here (ncs analyze -o result.json): report the serial studies "
                    "from their sites file (ncs report serial.csv)",
                )
            ]
        )
    problems = []
    version = doc.get("schema_version")
    if version != JSON_SCHEMA_VERSION:
        problems.append(Problem(None, "schema_version", f"unsupported schema_version {version!r}"))
    tables = ("patients", "nerves", "segments", "findings", "sites")
    for key in ("criteria", *tables):
        if not isinstance(doc.get(key), list):
            problems.append(Problem(None, key, "missing or not a list"))
    if problems:
        raise ValidationError(problems)

    # in the nerves and findings tables, every three-valued text column is a categorical
    cats = {"block": BLOCK_VALUES, "dispersion": DISPERSION_VALUES, "*": DISPERSION_VALUES}
    # three-valued nerve parameters the summary declares (all-null columns included)
    import ncs.summary as _summary

    for name in getattr(_summary, "PARAMETERS", ()):
        cats.setdefault(name, getattr(_summary, "PARAMETER_VALUES", DISPERSION_VALUES))
    cats["cold_limb"] = COLD_LIMB_VALUES
    finding_columns = (
        *FINDING_KEYS,
        "criterion",
        "block",
        "dispersion",
        "phase_cancellation_possible",
        "reason",
        "cold_limb",
    )
    site_columns = (*(c.name for c in COLUMNS if c.required), "site_order", "response")
    frames = {
        "patients": _table_from_records(doc["patients"], PATIENT_COLUMNS, {}),
        "nerves": _table_from_records(doc["nerves"], (*NERVE_COLUMNS, "cold_limb"), cats),
        "segments": _table_from_records(doc["segments"], SEGMENT_COLUMNS, {}),
        "findings": _table_from_records(doc["findings"], finding_columns, cats),
        "sites": _table_from_records(doc["sites"], site_columns, {}),
    }
    try:
        criteria = tuple(_criterion_from_dict(c) for c in doc["criteria"])
    except (KeyError, TypeError, ValueError) as err:
        raise ValidationError(
            [Problem(None, "criteria", f"cannot read a criterion: {type(err).__name__}: {err}")]
        ) from None
    rejected_rows = doc.get("rejected") if isinstance(doc.get("rejected"), list) else []
    meta = {
        "ncs_version": doc.get("ncs_version"),
        "criteria": {c.id: {"verified": c.verified, "citation": c.citation.text} for c in criteria},
        "n_input_rows": len(frames["sites"]) + len(rejected_rows),  # every row the input had
    }
    if isinstance(doc.get("provenance"), dict):
        meta["provenance"] = doc["provenance"]
    extra = {}
    if isinstance(doc.get("warnings"), list):
        from ncs.analyze import WARNING_COLUMNS

        warned = _table_from_records(doc["warnings"], WARNING_COLUMNS, {})
        for col in WARNING_COLUMNS[:-1]:  # text columns, as analyze gives them
            warned[col] = warned[col].astype("string")
        warned["input_row"] = pd.array(warned["input_row"], dtype="Int64")
        extra["warnings"] = warned
    if rejected_rows:
        from ncs.schema import REJECTED_COLUMNS

        rejected = _table_from_records(rejected_rows, REJECTED_COLUMNS, {})
        for col in REJECTED_COLUMNS[1:]:  # text columns, as analyze gives them
            rejected[col] = rejected[col].astype(object).astype("string")
        extra["rejected"] = rejected
    return Analysis(criteria=criteria, meta=meta, **frames, **extra)
