"""Reading an XLSX workbook as labs save it: the right sheet, the header row, honest cells.

* **Sheet**: the one named or numbered (``sheet="Motor"``, ``sheet=2``: counted from 1 as
  a spreadsheet program shows them); by default the only sheet whose header row names
  columns ncs knows (tidy columns or wide headers); the error lists the sheets when that
  is not one sheet.
* **Header row**: given (``header_row=3``: row 3 of the sheet), or the first row, among the
  first 30, that is at least half as wide as the table and holds only text: title rows and
  blank rows above it are skipped.
* **Cells**: a formula is read by the value the spreadsheet program stored with it; a
  formula without a stored value (a file written by a program that does not calculate) is
  an error naming the cell. Dates stay dates, so that a number the spreadsheet turned into
  a date is reported as such (:mod:`ncs.cells`). A number formatted as a percentage (Excel
  stores 70% as 0.7) is the percentage the sheet shows (70) in a column of percentages,
  and an error naming the cell in any other column. Blank rows are skipped; every data
  row keeps its sheet row number for messages.
"""

from __future__ import annotations

import datetime as _dt
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from ncs.errors import Problem, ValidationError

__all__ = ["SheetTable", "column_letter", "read_sheet"]

#: Rows searched for the header.
HEADER_SEARCH_ROWS = 30
#: A number formatted as a percentage shows this many times its stored value (70% = 0.7).
PERCENT = 100
#: Parts of a number format that are shown as they are written, not format codes:
#: "quoted text", \\x (an escaped character), _x and *x (padding), [colour or condition].
_FORMAT_LITERALS = re.compile(r'"[^"]*"|\\.|[_*].|\[[^\]]*\]')


@dataclass(frozen=True)
class SheetTable:
    """A table read from one sheet.

    Attributes
    ----------
    frame : pandas.DataFrame
        Column names from the header row; one row per non-blank row below it.
    sheet : str
        The sheet's name.
    header_row : int
        Sheet row of the header (1 = first row).
    rows : numpy.ndarray of int
        Sheet row of each row of ``frame``.
    columns : dict
        Header -> column letter (``"C"``).
    detected : tuple of str
        ``"sheet"`` and/or ``"header_row"`` when they were detected.
    notes : tuple of str
        What detection saw, in words.
    """

    frame: pd.DataFrame
    sheet: str
    header_row: int
    rows: np.ndarray
    columns: dict[str, str]
    detected: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


def column_letter(index: int) -> str:
    """Spreadsheet column letters of a 0-based column index (0 -> A, 27 -> AB)."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _fail(message: str, column: str | None = None) -> ValidationError:
    return ValidationError([Problem(None, column, message)])


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _find_header(rows: list[tuple[Any, ...]]) -> int | None:
    """Index of the header among the first rows, or None."""
    widths = [sum(not _blank(v) for v in row) for row in rows]
    if not widths or max(widths) < 2:
        return None
    width = max(widths)
    for i, row in enumerate(rows):
        filled = [v for v in row if not _blank(v)]
        if len(filled) >= max(2, width / 2) and all(isinstance(v, str) for v in filled):
            return i
    return None


def _known_headers(names: list[str]) -> int:
    """How many headers ncs reads: tidy columns, identity columns or wide measurements."""
    from ncs.schema import COLUMNS
    from ncs.wide import detect_wide_columns

    tidy = {c.name for c in COLUMNS}
    plan = detect_wide_columns([n for n in names if n])
    identity = {h for h, target in plan.identity.items() if target != h}
    tidy_hits = {n for n in names if n.strip().lower().replace(" ", "_") in tidy}
    return len(tidy_hits | identity | set(plan.measures))


def _iter_values(sheet: Any) -> Iterator[tuple[Any, ...]]:
    """Every row of a sheet as a tuple of cell values, without its trailing empty cells.

    The ``<dimension ref="A1:N4">`` a worksheet declares is not trusted: some writers
    understate the used range, and openpyxl's read-only mode would stop at it (rows and
    columns beyond it silently lost). Spreadsheet programs ignore it, and so does ncs.
    """
    _whole(sheet)
    for row in sheet.iter_rows(values_only=True):
        yield _trimmed(row)


def _whole(sheet: Any) -> None:
    """Make a read-only sheet read every row and column (see :func:`_iter_values`)."""
    reset = getattr(sheet, "reset_dimensions", None)
    if reset is not None:
        reset()


def _sheet_rows(book: Any, sheet: Any) -> tuple[list[tuple[Any, ...]], set[tuple[int, int]]]:
    """The rows of a sheet (as :func:`_iter_values`) and its number cells formatted as
    percentages, as (row, column) indices from 0. Cells are looked at one by one only
    when the workbook has a percentage format at all."""
    if not _has_percent_styles(book):
        return list(_iter_values(sheet)), set()
    _whole(sheet)
    rows = []
    percent = set()
    for i, row in enumerate(sheet.iter_rows()):
        for j, cell in enumerate(row):
            value = cell.value
            if (
                isinstance(value, int | float)
                and not isinstance(value, bool)
                and cell.has_style
                and _is_percent_format(cell.number_format)
            ):
                percent.add((i, j))
        rows.append(_trimmed(tuple(cell.value for cell in row)))
    return rows, percent


def _has_percent_styles(book: Any) -> bool:
    """Whether a cell style of the workbook formats numbers as percentages (True when
    openpyxl does not say: the cells are then looked at one by one)."""
    styles = getattr(book, "_cell_styles", None)
    custom = getattr(book, "_number_formats", None)
    if styles is None or custom is None:
        return True
    from openpyxl.styles.numbers import BUILTIN_FORMATS, BUILTIN_FORMATS_MAX_SIZE

    for style in styles:
        number = style.numFmtId
        if number < BUILTIN_FORMATS_MAX_SIZE:
            code = BUILTIN_FORMATS.get(number)
        else:
            k = number - BUILTIN_FORMATS_MAX_SIZE
            code = custom[k] if k < len(custom) else None
        if code and _is_percent_format(code):
            return True
    return False


@lru_cache(maxsize=256)
def _is_percent_format(code: str | None) -> bool:
    """Whether a number format shows numbers as percentages (``0%``, ``0.0%``): a ``%``
    that is a format code, not written text (``0"%"`` and ``0\\%`` show 70 as 70%)."""
    return bool(code) and "%" in _FORMAT_LITERALS.sub("", code)


def _percent_header(header: str) -> bool:
    """Whether a column holds percentages: a ``*_pct`` column of the sites table, a header
    whose unit is ``%``, ``pct`` or ``percent`` (``R Median F Pers (%)``), or one ncs reads
    as a percentage (``R Median F Pers``)."""
    from ncs.wide import detect_wide_columns

    text = header.strip().lower()
    if text.replace(" ", "_").endswith("_pct") or "%" in text:
        return True
    if {"pct", "percent"} & set(re.findall(r"[a-z]+", text)):
        return True
    column = detect_wide_columns([header]).measures.get(header)
    return column is not None and column.measure.endswith("_pct")


def _shown(value: float) -> Decimal:
    """The percentage a spreadsheet shows for a number formatted as one (0.7 -> 70),
    computed in decimal from the number as written (0.7 * 100 is 70.00000000000001)."""
    return Decimal(repr(value)) * PERCENT


def _read_percentages(
    data: list[tuple[Any, ...]],
    sheet_rows: list[int],
    percent: set[tuple[int, int]],
    keep: list[int],
    headers: list[str],
    sheet: str,
) -> list[tuple[Any, ...]]:
    """Data rows with their percentage cells read as the sheet shows them, in columns of
    percentages; in other columns such a cell is an error naming it."""
    row_of = {number: k for k, number in enumerate(sheet_rows)}
    out_of = {j: out for out, j in enumerate(keep)}
    fixed: dict[int, list[Any]] = {}
    problems = []
    for i, j in sorted(percent):
        k, out = row_of.get(i + 1), out_of.get(j)
        if k is None or out is None:  # the header, a row above it, a column left out
            continue
        value = data[k][out]
        shown = _shown(value)
        if _percent_header(headers[out]):
            fixed.setdefault(k, list(data[k]))[out] = float(shown)
            continue
        problems.append(
            Problem(
                None,
                headers[out],
                f"cell {column_letter(j)}{i + 1} of sheet {sheet!r} is formatted as a "
                f"percentage (it shows {shown.normalize():f}%) but the column is not a "
                "percentage: format the cell as a number, holding the value in the "
                "column's unit",
            )
        )
    if problems:
        raise ValidationError(problems)
    return [tuple(fixed[k]) if k in fixed else row for k, row in enumerate(data)]


def _trimmed(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """A row without its trailing empty cells (a formatted empty cell far to the right of
    the table adds no column)."""
    end = len(row)
    while end and row[end - 1] is None:
        end -= 1
    return row if end == len(row) else row[:end]


def read_sheet(
    source: Path | IO[bytes],
    *,
    sheet: str | int | None = None,
    header_row: int | None = None,
) -> SheetTable:
    """Read one sheet of an XLSX workbook as a table (see the module documentation).

    Parameters
    ----------
    source : pathlib.Path or binary file
        The workbook.
    sheet : str or int, optional
        Sheet name, or its number counted from 1; default: detected.
    header_row : int, optional
        Sheet row of the column names (1 = first row); default: detected.

    Returns
    -------
    SheetTable

    Raises
    ------
    ValidationError
        Unknown sheet, no header found, an empty sheet or one without data rows, two
        columns with the same header, a formula without a stored value.
    """
    import openpyxl

    try:
        book = openpyxl.load_workbook(source, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError) as err:
        raise _fail(f"cannot read XLSX: {type(err).__name__}") from None
    try:
        return _read_book(book, source, sheet, header_row)
    finally:
        book.close()


def _read_book(book: Any, source: Any, sheet: Any, header_row: int | None) -> SheetTable:
    names = list(book.sheetnames)
    detected: list[str] = []
    notes: list[str] = []
    if sheet is None:
        name = _choose_sheet(book, names, header_row)
        detected.append("sheet")
        if len(names) > 1:
            notes.append(f"sheet {name!r} of {len(names)} ({', '.join(map(repr, names))})")
    elif isinstance(sheet, int) or (isinstance(sheet, str) and sheet.strip().isdigit()):
        number = int(sheet)
        if isinstance(sheet, str) and sheet.strip() in names:
            name = sheet.strip()
        elif not 1 <= number <= len(names):
            raise _fail(
                f"the workbook has {len(names)} sheet(s) ({', '.join(map(repr, names))}); "
                f"there is no sheet {number} (sheets count from 1)"
            )
        else:
            name = names[number - 1]
    else:
        if sheet not in names:
            raise _fail(f"no sheet named {sheet!r}; the workbook has {', '.join(map(repr, names))}")
        name = sheet
    ws = book[name]
    rows, percent = _sheet_rows(book, ws)
    # trailing blank rows and columns are common: ignore them
    while rows and all(_blank(v) for v in rows[-1]):
        rows.pop()
    if not rows:
        raise _fail(f"the sheet {name!r} is empty")
    if header_row is None:
        index = _find_header(rows[:HEADER_SEARCH_ROWS])
        if index is None:
            raise _fail(
                f"cannot find the header row of sheet {name!r} (a row of column names in the "
                f"first {HEADER_SEARCH_ROWS} rows); pass header_row= (command line: "
                "--header-row N, the sheet row holding the column names)"
            )
        detected.append("header_row")
        if index:
            notes.append(f"{index} row(s) above the header skipped (title or blank)")
    else:
        if header_row < 1:
            raise _fail("the header row is counted from 1 (the first row of the sheet)")
        index = header_row - 1
        if index >= len(rows):
            raise _fail(f"the sheet {name!r} has no row {header_row}")
    header = rows[index]
    body = rows[index + 1 :]
    width = max((len(r) for r in rows[index:]), default=0)
    headers: list[str] = []
    keep: list[int] = []
    letters: dict[str, str] = {}
    problems: list[Problem] = []
    for j in range(width):
        value = header[j] if j < len(header) else None
        has_data = any(j < len(r) and not _blank(r[j]) for r in body)
        if _blank(value):
            if has_data:
                problems.append(
                    Problem(
                        None,
                        None,
                        f"column {column_letter(j)} of sheet {name!r} has values but no "
                        f"header in row {index + 1}",
                    )
                )
            continue
        text = _header_text(value)
        if text in letters:
            problems.append(
                Problem(
                    None,
                    text,
                    f"two columns have this header (columns {letters[text]} and "
                    f"{column_letter(j)} of sheet {name!r})",
                )
            )
            continue
        letters[text] = column_letter(j)
        headers.append(text)
        keep.append(j)
    if problems:
        raise ValidationError(problems)
    data: list[tuple[Any, ...]] = []
    sheet_rows: list[int] = []
    for k, row in enumerate(body):
        cells = tuple(row[j] if j < len(row) else None for j in keep)
        if all(_blank(v) for v in cells):
            continue
        data.append(cells)
        sheet_rows.append(index + 2 + k)
    if not data:
        raise _fail(f"no data rows: sheet {name!r} has a header row only")
    if percent:
        data = _read_percentages(data, sheet_rows, percent, keep, headers, name)
    _check_formulas(source, name, index, keep, headers, sheet_rows, data)
    frame = pd.DataFrame.from_records(data, columns=headers)
    return SheetTable(
        frame=frame,
        sheet=name,
        header_row=index + 1,
        rows=np.asarray(sheet_rows, dtype=np.int64),
        columns=letters,
        detected=tuple(detected),
        notes=tuple(notes),
    )


def _header_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, _dt.datetime | _dt.date):
        return value.isoformat()
    return " ".join(str(value).split())


def _choose_sheet(book: Any, names: list[str], header_row: int | None) -> str:
    if len(names) == 1:
        return names[0]
    scores = []
    for name in names:
        ws = book[name]
        head = []
        for k, row in enumerate(_iter_values(ws)):
            head.append(row)
            if k + 1 >= HEADER_SEARCH_ROWS:
                break
        if header_row is not None:
            index = header_row - 1 if header_row - 1 < len(head) else None
        else:
            index = _find_header(head)
        if index is None or index + 1 >= len(head):
            scores.append(0)
            continue
        headers = [_header_text(v) for v in head[index] if not _blank(v)]
        scores.append(_known_headers(headers))
    best = [n for n, s in zip(names, scores, strict=True) if s and s == max(scores)]
    with_tables = [n for n, s in zip(names, scores, strict=True) if s]
    if len(with_tables) == 1:
        return with_tables[0]
    listing = ", ".join(map(repr, names))
    if not with_tables:
        raise _fail(
            f"no sheet of the workbook ({listing}) has a header row with column names ncs "
            "knows; pass sheet= (command line: --sheet NAME or --sheet NUMBER)"
        )
    raise _fail(
        f"{len(with_tables)} sheets hold tables ncs can read ({', '.join(map(repr, with_tables))}"
        f", the best match {best[0]!r}); pass sheet= (command line: --sheet NAME or "
        "--sheet NUMBER, counted from 1)"
    )


def _check_formulas(
    source: Any,
    sheet: str,
    header_index: int,
    keep: list[int],
    headers: list[str],
    sheet_rows: list[int],
    data: list[tuple[Any, ...]],
) -> None:
    """A formula cell whose stored value is missing is an error naming the cell."""
    if not any(v is None for row in data for v in row):
        return
    if not _has_formulas(source, sheet):
        return
    import openpyxl

    if hasattr(source, "seek"):
        source.seek(0)
    book = openpyxl.load_workbook(source, read_only=True, data_only=False)
    try:
        ws = book[sheet]
        wanted = {row: k for k, row in enumerate(sheet_rows)}
        problems = []
        for number, row in enumerate(_iter_values(ws), start=1):
            k = wanted.get(number)
            if k is None:
                continue
            for out, j in enumerate(keep):
                value = row[j] if j < len(row) else None
                if isinstance(value, str) and value.startswith("=") and data[k][out] is None:
                    problems.append(
                        Problem(
                            None,
                            headers[out],
                            f"cell {column_letter(j)}{number} of sheet {sheet!r} holds a "
                            "formula without a stored value (the file was saved by a program "
                            "that does not calculate formulas): open and save it in a "
                            "spreadsheet program, or paste the values",
                        )
                    )
    finally:
        book.close()
    if problems:
        raise ValidationError(problems)


def _has_formulas(source: Any, sheet: str) -> bool:
    """Whether the sheet's XML holds any formula element (a byte search, no parsing)."""
    try:
        if hasattr(source, "seek"):
            source.seek(0)
        with zipfile.ZipFile(source) as archive:
            members = [n for n in archive.namelist() if n.startswith("xl/worksheets/sheet")]
            for member in members:
                with archive.open(member) as fh:
                    chunk_tail = b""
                    while True:
                        chunk = fh.read(1 << 20)
                        if not chunk:
                            break
                        if b"<f>" in chunk_tail + chunk or b"<f " in chunk_tail + chunk:
                            return True
                        chunk_tail = chunk[-3:]
    except (zipfile.BadZipFile, OSError, KeyError):
        return True  # look properly
    finally:
        if hasattr(source, "seek"):
            source.seek(0)
    return False
