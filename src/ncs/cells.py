"""What a number cell may hold: a number, a "no value" word, or an absent-response word.

One rule for every input: tidy tables (:func:`ncs.validate`), wide spreadsheets
(:func:`ncs.io.from_wide`), every file format. A cell in a number column is read as

* a **number** (``8.2``, ``8``, ``1e-3``; surrounding spaces ignored);
* **no value** (the measure is unknown, never zero): a blank cell or one of
  :data:`MISSING_WORDS` (``n/a``, ``NA``, ``-``, ``nd`` ...);
* **no response** (an absent CMAP: amplitude and area 0, no latency): one of
  :data:`ABSENT_WORDS` (``NR``, ``absent``, ``no response`` ...), accepted in the measures
  of a response (:data:`RESPONSE_MEASURES`) only;
* anything else is an **error naming the cell**, with a hint when the cell looks like a
  known slip: a date (a spreadsheet turned ``3.6`` into 3 June), a decimal comma read
  without ``decimal=","``, a spreadsheet error value (``#VALUE!``), ``none`` (which means
  "no response" to some and "not measured" to others).

Words are compared case-insensitively after trimming and collapsing spaces. Parsing works
on the distinct values of a column, never cell by cell.
"""

from __future__ import annotations

import datetime as _dt
import numbers
import re
from typing import NamedTuple

import numpy as np
import pandas as pd

__all__ = [
    "ABSENT_WORDS",
    "AMBIGUOUS_WORDS",
    "MISSING_WORDS",
    "RESPONSE_MEASURES",
    "NumberCells",
    "normalise_word",
    "parse_numbers",
]

MISSING_WORDS: frozenset[str] = frozenset(
    {
        "",
        "-",
        "--",
        "---",
        "–",  # en dash
        "—",  # em dash
        ".",
        "n/a",
        "n.a.",
        "n.a",
        "na",
        "nan",
        "null",
        "nd",
        "n.d.",
        "n/d",
        "not done",
        "not measured",
        "not recorded",
        "nm",
        "nt",
        "not tested",
        "missing",
    }
)
"""Cells that mean "no value here" (the measure is unknown: never zero, never absent)."""

ABSENT_WORDS: frozenset[str] = frozenset(
    {
        "nr",
        "n/r",
        "n.r.",
        "no response",
        "no resp",
        "absent",
        "abs",
        "no cmap",
        "unrecordable",
        "not recordable",
        "unobtainable",
        "inexcitable",
    }
)
"""Cells that mean "no response at this site" (an absent CMAP; see :data:`RESPONSE_MEASURES`)."""

AMBIGUOUS_WORDS: dict[str, str] = {
    "none": "'none' may mean no response or not measured: write NR for no response, or "
    "leave the cell empty (or n/a) when it was not measured",
    "0/0": "write NR for no response, or leave the cell empty when it was not measured",
}
"""Words refused in number cells with the reason (both readings exist in lab files)."""

RESPONSE_MEASURES: frozenset[str] = frozenset(
    {
        "latency_ms",
        "amplitude_mv",
        "area_mvms",
        "duration_ms",
        "pp_amplitude_mv",
        "total_duration_ms",
        "peak_latency_ms",
    }
)
"""Measures of a response: an absent-response word here marks the site's response absent.

Elsewhere (a distance, an F-wave latency, a temperature) an absent-response word is an
error: a distance is measured on the limb, and absent F waves are written as
``f_persistence_pct`` 0.
"""

_SPACES = re.compile(r"\s+")
#: Text that a spreadsheet produces when it takes a number for a date (3.6 -> 03.06.2024,
#: 3-Jun, Jun-03, 2024-06-03, 03/06/2024).
_DATE_TEXT = re.compile(
    r"^(\d{1,2}[./-]\d{1,2}[./-]\d{2,4}|\d{4}-\d{1,2}-\d{1,2}([ t].*)?"
    r"|\d{1,2}[ .-]?(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?([ .-]\d{2,4})?"
    r"|(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*[ .-]?\d{1,4})$"
)
_DECIMAL_COMMA = re.compile(r"^[-+]?\d+,\d+$")
_COMMA_THOUSANDS = re.compile(r"^[-+]?\d{1,3}(,\d{3})+$")
_SPREADSHEET_ERROR = re.compile(r"^#(n/a|value!|div/0!|ref!|name\?|num!|null!|spill!|calc!)$")

_DATE_MESSAGE = (
    "Excel turned this into a date: the cell holds a date, not a number; format the column "
    "as Number and type the value again"
)


def normalise_word(text: str) -> str:
    """Lower case, trimmed, inner spaces collapsed: the form the word tables use."""
    return _SPACES.sub(" ", text.strip().lower())


class NumberCells(NamedTuple):
    """A number column read by :func:`parse_numbers`.

    Attributes
    ----------
    values : numpy.ndarray of float
        The numbers; NaN where there is no number (no value, no response, or an error).
    absent : numpy.ndarray of bool
        Cells holding an absent-response word (``NR``).
    errors : numpy.ndarray of object
        Per cell: ``None``, or why it cannot be read (never the cell's value).
    """

    values: np.ndarray
    absent: np.ndarray
    errors: np.ndarray


def _read_one(value: object, response: bool) -> tuple[float, bool, str | None]:
    """One distinct cell value -> (number, absent, error)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return np.nan, False, None
    if isinstance(value, bool | np.bool_):
        return np.nan, False, "a true/false value, not a number"
    if isinstance(value, int | float | np.integer | np.floating):
        if isinstance(value, np.floating) and _narrow_float(value.dtype):
            value = str(value)  # the number as written (see _as_written)
        try:
            number = float(value)
        except OverflowError:  # an int beyond the float range
            return np.nan, False, "not a finite number"
        if np.isinf(number):
            return np.nan, False, "not a finite number"
        return number, False, None
    if isinstance(value, _dt.date | _dt.time | _dt.timedelta | np.datetime64 | np.timedelta64):
        return np.nan, False, _DATE_MESSAGE
    if not isinstance(value, str):
        import decimal

        if isinstance(value, decimal.Decimal):
            if value.is_nan():  # as a float NaN: no value
                return np.nan, False, None
            if value.is_infinite():
                return np.nan, False, "not a finite number"
            try:
                number = float(value)
            except OverflowError:  # pragma: no cover - float() of a Decimal gives inf
                return np.nan, False, "not a finite number"
            if np.isinf(number):  # beyond the float range (1E+400)
                return np.nan, False, "not a finite number"
            return number, False, None
        return np.nan, False, f"unsupported value of type {type(value).__name__}"
    word = normalise_word(value)
    if word in MISSING_WORDS:
        return np.nan, False, None
    if word in ABSENT_WORDS:
        if response:
            return np.nan, True, None
        return (
            np.nan,
            False,
            "a no-response word (NR) where a response cannot be absent; leave the cell empty "
            "if it was not measured",
        )
    try:
        if "_" in word:  # Python reads 8_0 as 80; no spreadsheet or lab does
            raise ValueError(word)
        number = float(word)
    except ValueError:
        pass
    else:
        if np.isnan(number):  # "nan" is a missing word; "-nan", "+nan" are not numbers
            return np.nan, False, "not a number"
        if np.isinf(number):
            return np.nan, False, "not a finite number"
        return number, False, None
    if word in AMBIGUOUS_WORDS:
        return np.nan, False, AMBIGUOUS_WORDS[word]
    if _SPREADSHEET_ERROR.match(word):
        return np.nan, False, "a spreadsheet error value (#VALUE!, #N/A, ...), not a number"
    if _COMMA_THOUSANDS.match(word):
        return (
            np.nan,
            False,
            "not a number: ',' between groups of three digits is a thousands separator "
            "(8,200 = 8200) or a decimal comma (8.2)? write the number without thousands "
            "separators, or read the file with decimal=',' (command line: --decimal ,) if "
            "it has decimal commas",
        )
    if _DECIMAL_COMMA.match(word):
        return (
            np.nan,
            False,
            "not a number: a decimal comma? read the file with decimal=',' "
            "(command line: --decimal ,)",
        )
    if _DATE_TEXT.match(word):
        return np.nan, False, _DATE_MESSAGE
    return np.nan, False, "not a number" + (_HINT_RESPONSE if response else _HINT)


_HINT = " (a number, or empty or n/a when not measured)"
_HINT_RESPONSE = " (a number, empty or n/a when not measured, or NR for no response)"


def _is_true_false(value: object) -> bool:
    return isinstance(value, bool | np.bool_)


def factorize_cells(cells: np.ndarray) -> tuple[np.ndarray, list]:
    """Codes (-1 = missing) and distinct values of an object array of cells, as
    ``pd.factorize`` gives them but with true/false cells apart from the numbers equal to
    them.

    Python sees ``True == 1`` and ``False == 0`` (one hash), so ``pd.factorize`` puts a
    TRUE typed into a sheet's column together with a 1: in a number column it was read as
    the number 1 (or the 1 refused as a true/false value, whichever came first), in a text
    column patient 1 and a TRUE were one patient. Where a distinct value is a true/false
    value or a number equal to one, the cells' types split the codes again. Raises
    TypeError for unhashable cells, as pandas does.
    """
    codes, uniques = pd.factorize(cells, use_na_sentinel=True)
    uniques = list(uniques)
    if not any(
        _is_true_false(u) or (isinstance(u, numbers.Number) and u in (0, 1)) for u in uniques
    ):
        return codes, uniques
    flags = np.fromiter((_is_true_false(v) for v in cells.tolist()), dtype=bool, count=cells.size)
    key = np.where(codes < 0, -1, codes * 2 + flags)
    new_codes, distinct = pd.factorize(key, use_na_sentinel=False)
    new_uniques = []
    for k in np.asarray(distinct).tolist():
        if k < 0:
            continue
        value = uniques[k // 2]
        if k % 2:  # the true/false cells of this value
            new_uniques.append(bool(value))
        else:  # the numbers (a true/false value seen first stands for them)
            new_uniques.append(int(value) if _is_true_false(value) else value)
    present = np.asarray(distinct) >= 0
    table = np.full(len(distinct) + 1, -1, dtype=np.int64)
    table[np.flatnonzero(present)] = np.arange(int(present.sum()))
    return table[new_codes], new_uniques


def _narrow_float(dtype: object) -> bool:
    """A float type narrower than float64 (NumPy, pandas' ``Float32`` or Arrow's)."""
    np_dtype = dtype if isinstance(dtype, np.dtype) else getattr(dtype, "numpy_dtype", None)
    return isinstance(np_dtype, np.dtype) and np_dtype.kind == "f" and np_dtype.itemsize < 8


def _as_written(values: pd.Series) -> np.ndarray:
    """float32 (or float16) cells as the float64 of their shortest decimal form.

    2.1 stored as float32 is 2.0999999046...: widened as it is, a drop from 3.0 to it is
    30.000003 %, a block by "> 30 %" that the same study in float64 (or as text) is not.
    The shortest decimal that reads back as the same float32 is the number as written.
    """
    narrow = np.asarray(values.to_numpy(dtype=np.float32, na_value=np.nan))
    return narrow.astype(str).astype(np.float64)


def parse_numbers(values: pd.Series, *, response: bool = False) -> NumberCells:
    """Read a number column of any dtype by the rule of this module.

    Parameters
    ----------
    values : pandas.Series
        The cells as read from the file (numbers, text, dates, missing).
    response : bool, default False
        Whether the column is a measure of a response (see :data:`RESPONSE_MEASURES`), where
        ``NR`` marks the response absent; elsewhere ``NR`` is an error.

    Returns
    -------
    NumberCells
        Numbers, the absent-response mask and the error of each cell.

    Examples
    --------
    >>> import pandas as pd
    >>> cells = parse_numbers(pd.Series(["8.2", "n/a", "NR", " - ", "x"]), response=True)
    >>> cells.values.tolist()[:2], cells.absent.tolist()
    ([8.2, nan], [False, False, True, False, False])
    >>> [e is not None for e in cells.errors]
    [False, False, False, False, True]
    """
    n = len(values)
    if _narrow_float(values.dtype):  # float32: the number as written, not its binary expansion
        values = pd.Series(_as_written(values), index=values.index)
    kind = values.dtype.kind if isinstance(values.dtype, np.dtype) else ""
    if kind in "fiu" and kind:
        numbers = values.to_numpy(dtype=float, na_value=np.nan)
        errors = np.full(n, None, dtype=object)
        infinite = np.isinf(numbers)
        if infinite.any():
            errors[infinite] = "not a finite number"
            numbers = np.where(infinite, np.nan, numbers)
        return NumberCells(numbers, np.zeros(n, dtype=bool), errors)
    if kind in "mM" and kind:
        dates = values.notna().to_numpy()
        errors = np.where(dates, _DATE_MESSAGE, None).astype(object)
        return NumberCells(np.full(n, np.nan), np.zeros(n, dtype=bool), errors)
    if kind == "b" and kind:
        errors = np.full(n, "a true/false value, not a number", dtype=object)
        return NumberCells(np.full(n, np.nan), np.zeros(n, dtype=bool), errors)
    cells = values.to_numpy(dtype=object)
    try:
        codes, uniques = factorize_cells(cells)
    except TypeError:  # unhashable cells (lists, dicts): one by one
        parsed = [_read_one(v, response) for v in cells]
        codes = np.arange(n)
    else:
        parsed = [_read_one(u, response) for u in uniques]
    parsed.append((np.nan, False, None))  # code -1: a missing cell
    numbers = np.array([p[0] for p in parsed], dtype=float)[codes]
    absent = np.array([p[1] for p in parsed], dtype=bool)[codes]
    errors = np.array([p[2] for p in parsed], dtype=object)[codes]
    return NumberCells(numbers, absent, errors)


def missing_text(value: object) -> bool:
    """Whether a text cell means "no value" (blank or a :data:`MISSING_WORDS` word)."""
    if value is None or value is pd.NA:
        return True
    if isinstance(value, float) and np.isnan(value):
        return True
    return isinstance(value, str) and normalise_word(value) in MISSING_WORDS
