"""Column-wise text building: the few string operations sentences are made of.

A text column is built from word tables and formatted numbers, a column at a time, never by
formatting one row at a time in the caller. Two engines do the work, chosen by the number of
rows and giving the same strings:

* up to :data:`SMALL` rows, Python lists (a single study: each operation is one list
  comprehension over a few dozen strings, with no per-call set-up);
* above, Arrow compute kernels over contiguous string buffers (a cohort: no Python object
  per row and per operation) when ``pyarrow`` is installed (it is an optional dependency:
  without it the list engine builds every column, with the same strings, more slowly).

A text column (:data:`Text`) is a ``list`` of ``str`` or a ``pyarrow`` large-string array; a
plain ``str`` stands for the same text on every row wherever a column is accepted.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Union

import numpy as np
import pandas as pd

try:  # optional: the fast engine for long columns
    import pyarrow as pa
    import pyarrow.compute as pc
except ImportError:  # pragma: no cover - exercised by the core-only CI install
    pa = None
    pc = None

__all__ = [
    "CHUNK",
    "HAS_ARROW",
    "SMALL",
    "Text",
    "assemble",
    "by_key",
    "chunked",
    "concat",
    "decimals_apart",
    "empty",
    "from_objects",
    "is_empty",
    "join",
    "length",
    "number",
    "number_table",
    "scatter",
    "take",
    "to_numpy",
    "to_pandas",
    "where",
    "words",
]

SMALL = 2048
"""Columns up to this many rows are built with Python lists, longer ones with Arrow."""

HAS_ARROW = pa is not None
"""Whether the Arrow engine is available (``pyarrow`` installed)."""

_Array: type | tuple = pa.Array if HAS_ARROW else ()
_Chunked: type | tuple = pa.ChunkedArray if HAS_ARROW else ()
_ARROW_TYPES: tuple = (pa.Array, pa.ChunkedArray) if HAS_ARROW else ()

CHUNK = 65_536
"""Long sentence columns are built this many rows at a time (:func:`chunked`): the parts of
one chunk are freed before the next is built, so the peak memory is the sentences plus one
chunk's parts, not every part of every row."""
Text = Union[list, _Array] if HAS_ARROW else list  # noqa: UP007 - a runtime alias
_T = pa.large_string() if HAS_ARROW else None


def _arrow(n: int) -> bool:
    return HAS_ARROW and n > SMALL


def _whole(text: object) -> object:
    """A column built in chunks (:func:`chunked`) as one Arrow array; anything else as it
    is. Every operation of the kit accepts both."""
    if isinstance(text, _Chunked):
        return text.combine_chunks() if text.num_chunks != 1 else text.chunk(0)
    return text


def _scalar(text: str) -> pa.Scalar:
    return pa.scalar(text, _T)


def length(text: Text) -> int:
    return len(text)


def empty(n: int) -> Text:
    """``n`` empty strings."""
    return words([""], np.zeros(n, dtype=np.int64))


def words(table: Sequence[str], index: np.ndarray) -> Text:
    """``table[index]`` per row: the words of each row's case, from a short table."""
    index = np.asarray(index, dtype=np.int64)
    if _arrow(index.size):
        return pa.array(list(table), _T).take(pa.array(index))
    table = list(table)
    return [table[i] for i in index.tolist()]


def from_objects(values: np.ndarray | Sequence[object]) -> Text:
    """Text from an object array or sequence (missing -> ``""``)."""
    values = np.asarray(values, dtype=object)
    missing = pd.isna(values)
    if missing.any():
        values = np.where(missing, "", values)
    if _arrow(values.size):
        return pa.array(values.tolist(), _T)
    return [str(v) for v in values.tolist()]


def _length_of(parts: Sequence[object]) -> int | None:
    for p in parts:
        if not isinstance(p, str):
            return len(p)
    return None


def join(*parts: Text | str) -> Text:
    """Element-wise concatenation of text columns and plain strings."""
    parts = tuple(_whole(p) for p in parts)
    n = _length_of(parts)
    if n is None:
        return "".join(parts)  # type: ignore[arg-type]
    if any(isinstance(p, _Array) for p in parts):
        return _arrow_join(parts)
    columns = [p if isinstance(p, list) else None for p in parts]
    if all(c is not None for c in columns) and len(parts) == 2:
        return [a + b for a, b in zip(parts[0], parts[1], strict=True)]  # type: ignore[arg-type]
    pieces = [p if isinstance(p, list) else [p] * n for p in parts]
    return ["".join(t) for t in zip(*pieces, strict=True)]


JOIN_GROUP = 12
"""Arrow joins at most this many columns in one call: its element-wise join slows down
faster than the number of columns grows (29 columns of 600,000 rows take about twice as long
in one call as in groups of 6 to 16 and a join of the groups; 12 columns at once are faster
than 8 and 4)."""


def _arrow_join(parts: Sequence[Text | str]) -> pa.Array:
    """Element-wise join with Arrow: neighbouring plain strings joined first, then the
    columns in groups of :data:`JOIN_GROUP` and the groups' results in turn."""
    merged: list = []
    for p in parts:
        if isinstance(p, str) and merged and isinstance(merged[-1], str):
            merged[-1] += p
        else:
            merged.append(p)
    args = [
        _scalar(p) if isinstance(p, str) else (p if isinstance(p, _Array) else pa.array(p, _T))
        for p in merged
        if not (isinstance(p, str) and not p)
    ]
    while len(args) > JOIN_GROUP:
        args = [
            pc.binary_join_element_wise(*args[i : i + JOIN_GROUP], _scalar(""))
            if len(args[i : i + JOIN_GROUP]) > 1
            else args[i]
            for i in range(0, len(args), JOIN_GROUP)
        ]
    if len(args) == 1 and isinstance(args[0], _Array):
        return args[0]
    return pc.binary_join_element_wise(*args, _scalar(""))


def where(mask: np.ndarray, a: Text | str, b: Text | str) -> Text:
    """``a`` where ``mask``, else ``b``."""
    a, b = _whole(a), _whole(b)
    mask = np.asarray(mask, dtype=bool)
    n = mask.size
    if (
        isinstance(a, _Array)
        or isinstance(b, _Array)
        or (_arrow(n) and not isinstance(a, list) and not isinstance(b, list))
    ):
        left = (
            _scalar(a) if isinstance(a, str) else (a if isinstance(a, _Array) else pa.array(a, _T))
        )
        right = (
            _scalar(b) if isinstance(b, str) else (b if isinstance(b, _Array) else pa.array(b, _T))
        )
        return pc.if_else(pa.array(mask), left, right)
    if not mask.any():
        return list(b) if isinstance(b, list) else [b] * n
    if mask.all():
        return list(a) if isinstance(a, list) else [a] * n
    la = a if isinstance(a, list) else [a] * n
    lb = b if isinstance(b, list) else [b] * n
    return [x if m else y for m, x, y in zip(mask.tolist(), la, lb, strict=True)]


def take(text: Text, index: np.ndarray) -> Text:
    """Rows of a text column (an integer index)."""
    index = np.asarray(index, dtype=np.int64)
    if isinstance(text, _Chunked):  # a long column built in chunks
        out = _take_chunked(text, index)
        return out if _arrow(index.size) else out.to_pylist()
    if isinstance(text, _Array):
        out = text.take(pa.array(index))
        return out if _arrow(index.size) else out.to_pylist()
    if _arrow(index.size):
        return pa.array(text, _T).take(pa.array(index))
    return [text[i] for i in index.tolist()]


def _take_chunked(text: pa.ChunkedArray, index: np.ndarray) -> pa.Array:
    """Rows of a chunked column, taken chunk by chunk (pyarrow's own ``take`` on a chunked
    array may join the chunks first: a copy of the whole column)."""
    starts = np.cumsum([0, *(len(c) for c in text.chunks)])
    which = np.searchsorted(starts, index, side="right") - 1
    order = np.argsort(which, kind="stable")
    pieces = []
    for k in np.unique(which).tolist():
        local = index[which == k] - starts[k]
        pieces.append(text.chunks[k].take(pa.array(local)))
    gathered = pa.concat_arrays(pieces) if pieces else pa.array([], _T)
    back = np.empty_like(order)
    back[order] = np.arange(order.size)
    return gathered.take(pa.array(back))


def scatter(text: Text, rows: np.ndarray, values: Text) -> Text:
    """``text`` with ``values`` in place of the given rows (an integer index)."""
    text, values = _whole(text), _whole(values)
    rows = np.asarray(rows, dtype=np.int64)
    n = len(text)
    if not rows.size:
        return text
    if isinstance(text, _Array) or isinstance(values, _Array) or _arrow(n):
        base = text if isinstance(text, _Array) else pa.array(text, _T)
        new = values if isinstance(values, _Array) else pa.array(values, _T)
        if rows.size > 1 and (rows[1:] < rows[:-1]).any():  # the mask fills rows in order
            order = np.argsort(rows, kind="stable")
            rows, new = rows[order], new.take(pa.array(order))
        mask = np.zeros(n, dtype=bool)
        mask[rows] = True
        return pc.replace_with_mask(base, pa.array(mask), new)
    out = list(text)
    for r, v in zip(rows.tolist(), values, strict=True):
        out[r] = v
    return out


def assemble(pieces: Sequence[tuple[np.ndarray, Text]], n: int) -> Text:
    """One column of ``n`` rows from pieces that each fill some rows (together: every row
    once), with a single gather."""
    rows = np.concatenate([np.asarray(r, dtype=np.int64) for r, _ in pieces])
    texts = [_whole(t) for _, t in pieces]
    if _arrow(n) or any(isinstance(t, _Array) for t in texts):
        where_ = np.empty(n, dtype=np.int64)
        where_[rows] = np.arange(rows.size)
        return concat(texts).take(pa.array(where_))
    out: list = [""] * n
    flat = concat(texts)
    for r, v in zip(rows.tolist(), flat, strict=True):
        out[r] = v
    return out


def by_key(keys: Sequence[np.ndarray], format_key) -> Text:
    """Per row, ``format_key(key)`` of the row's key (one integer per array in ``keys``).

    Each distinct key is formatted once, in Python; the rows then take their text from that
    short table. For sentences made of a few counts and flags per row (patient evidence), the
    cost grows with the number of distinct combinations, not with the rows.
    """
    columns = [np.asarray(k, dtype=np.int64) for k in keys]
    n = columns[0].size if columns else 0
    if n == 0:
        return []
    # one int64 per row (mixed radix over each column's range), else rows of a matrix
    low = [int(c.min()) for c in columns]
    spans = [int(c.max()) - lo + 1 for c, lo in zip(columns, low, strict=True)]
    if float(np.prod(np.asarray(spans, dtype=float))) < 2**62:
        key = np.zeros(n, dtype=np.int64)
        for c, lo, span in zip(columns, low, spans, strict=True):
            key = key * span + (c - lo)
        inverse, distinct = _distinct(key)
        rows = []
        for k in distinct:
            parts = []
            for lo, span in zip(reversed(low), reversed(spans), strict=True):
                k, r = divmod(k, span)
                parts.append(r + lo)
            rows.append(tuple(reversed(parts)))
    else:
        matrix, inverse = np.unique(np.stack(columns, axis=1), axis=0, return_inverse=True)
        rows = [tuple(r) for r in matrix.tolist()]
    table = [format_key(r) for r in rows]
    return words(table, np.asarray(inverse).reshape(-1))


def concat(texts: Sequence[Text]) -> Text:
    """Text columns one after another."""
    texts = [_whole(t) for t in texts]
    n = sum(len(t) for t in texts)
    if _arrow(n) or any(isinstance(t, _Array) for t in texts):
        arrays = [t if isinstance(t, _Array) else pa.array(t, _T) for t in texts]
        return pa.concat_arrays(arrays) if arrays else pa.array([], _T)
    out: list = []
    for t in texts:
        out.extend(t)
    return out


def chunked(build, n: int) -> Text:
    """``build(rows)`` for consecutive row ranges of at most :data:`CHUNK` rows, as one text
    column (a ``pyarrow.ChunkedArray`` when there is more than one chunk). ``build`` takes
    an integer index of rows and returns their text."""
    if n <= CHUNK or not HAS_ARROW:
        return build(None)
    pieces = []
    for start in range(0, n, CHUNK):
        piece = build(np.arange(start, min(n, start + CHUNK), dtype=np.int64))
        pieces.append(piece if isinstance(piece, _Array) else pa.array(piece, _T))
    return pa.chunked_array(pieces, type=_T)


def is_empty(text: Text) -> np.ndarray:
    """Per row: the string is empty."""
    text = _whole(text)
    if isinstance(text, _Array):
        return np.asarray(pc.equal(pc.utf8_length(text), 0).to_numpy(zero_copy_only=False))
    return np.fromiter((s == "" for s in text), dtype=bool, count=len(text))


def to_pandas(text: Text | Sequence[Text]) -> pd.api.extensions.ExtensionArray:
    """A pandas ``string`` array (Arrow-backed where pandas' strings are) of one text column,
    or of several one after another (kept as chunks: no copy)."""
    texts = list(text) if isinstance(text, tuple) else [text]
    if _ARROW_STRINGS:
        arrays = []
        for t in texts:
            if isinstance(t, _Chunked):
                arrays.extend(t.chunks)
            else:
                arrays.append(t if isinstance(t, _Array) else pa.array(t, _T))
        if len(arrays) == 1:
            return pd.arrays.ArrowStringArray(arrays[0])
        return pd.arrays.ArrowStringArray(pa.chunked_array(arrays, type=_T))
    values: list = []
    for t in texts:
        values.extend(t.to_pylist() if isinstance(t, _ARROW_TYPES) else t)
    return pd.array(np.asarray(values, dtype=object), dtype="string")


def to_numpy(text: Text) -> np.ndarray:
    """An object array of ``str``."""
    values = text.to_pylist() if isinstance(text, _ARROW_TYPES) else text
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


_ARROW_STRINGS = HAS_ARROW and getattr(pd.StringDtype(), "storage", "python") == "pyarrow"


# --------------------------------------------------------------------------------------
# Numbers
# --------------------------------------------------------------------------------------


def _digits(values: np.ndarray, dec: np.ndarray):
    """Rounded magnitude as (whole, fraction) integers, sign and known masks."""
    known = ~np.isnan(values)
    scale = 10**dec
    magnitude = np.abs(np.where(known, values, 0.0))
    scaled = np.rint(magnitude * scale).astype(np.int64)
    negative = (values < 0) & (scaled > 0)
    return scaled // scale, scaled % scale, negative, known


def _distinct(key: np.ndarray) -> tuple[np.ndarray, list[int]]:
    """Each row's index into the distinct keys, and the distinct keys (hashing for long
    columns, a dict for short ones: no per-call set-up)."""
    if key.size > SMALL:
        inverse, distinct = pd.factorize(key)
        return inverse, np.asarray(distinct).tolist()
    seen: dict[int, int] = {}
    inverse = np.fromiter(
        (seen.setdefault(k, len(seen)) for k in key.tolist()), dtype=np.int64, count=key.size
    )
    return inverse, list(seen)


def number(values: np.ndarray, decimals: np.ndarray | int = 1, *, signed: bool = False) -> Text:
    """Floats with a fixed number of decimals (NaN -> ``"unknown"``).

    ``decimals`` may differ per value. Each value is rounded half to even at its number of
    decimals (``np.rint`` of the scaled magnitude), then written as whole part, point and
    zero-padded fraction. Each distinct rounded value is written once, in Python, and the
    rows take their text from that table (clinical numbers repeat a lot), so both engines
    print the same digits.
    """
    return words(*number_table(values, decimals, signed=signed))


def number_table(
    values: np.ndarray, decimals: np.ndarray | int = 1, *, signed: bool = False
) -> tuple[list[str], np.ndarray]:
    """The distinct formatted numbers and each row's index into them (see :func:`number`)."""
    v = np.asarray(values, dtype=float)
    n = v.size
    if np.ndim(decimals) == 0:
        dec = np.full(n, int(decimals), dtype=np.int64)
    else:
        dec = np.asarray(decimals, dtype=np.int64)
    with np.errstate(invalid="ignore", over="ignore"):
        huge = np.isinf(v) | (np.abs(v) * 10.0**dec >= _CAP)
    if huge.any():  # infinite, or beyond the integer digits: written one by one, never wrapped
        return _with_huge(v, dec, huge, signed)
    whole, frac, negative, known = _digits(v, dec)
    scaled = whole * 10**dec + frac
    # one int64 per row: rounded magnitude, decimals, sign, known (scaled magnitudes below
    # 2**50; larger ones and infinities never reach here)
    key = ((scaled * 16 + dec) * 2 + negative) * 2 + known
    inverse, distinct = _distinct(key)
    table = []
    for k in distinct:
        k, is_known = divmod(k, 2)
        k, neg = divmod(k, 2)
        magnitude, d = divmod(k, 16)
        if not is_known:
            table.append("unknown")
            continue
        w, f = divmod(magnitude, 10**d)
        text = f"{w}.{f:0{d}d}" if d > 0 else f"{w}"
        if signed:
            text = ("-" if neg else "+") + text
        elif neg:
            text = "-" + text
        table.append(text)
    return table, np.asarray(inverse).reshape(-1)


_CAP = float(2**50)


def _with_huge(
    v: np.ndarray, dec: np.ndarray, huge: np.ndarray, signed: bool
) -> tuple[list[str], np.ndarray]:
    """:func:`number_table` for columns holding infinite or very large values: the others as
    usual, these written by Python ("inf", or every digit), each distinct one once."""
    rest = np.flatnonzero(~huge)
    table, index = number_table(v[rest], dec[rest], signed=signed)
    inverse = np.empty(v.size, dtype=np.int64)
    inverse[rest] = index
    written: dict[str, int] = {}
    for i in np.flatnonzero(huge).tolist():
        x, d = float(v[i]), int(dec[i])
        text = ("inf" if x > 0 else "-inf") if math.isinf(x) else f"{x:.{d}f}"
        if signed and x > 0:
            text = "+" + text
        if text not in written:
            written[text] = len(table)
            table.append(text)
        inverse[i] = written[text]
    return table, inverse


def decimals_apart(
    values: np.ndarray, thresholds: np.ndarray | float, base: int, *, most: int = 9
) -> np.ndarray:
    """Decimals to print each value with so that it never reads as equal to its threshold.

    Starts at ``base`` and adds decimals where the rounded value would equal the threshold
    although the value differs from it (19.5 % of a limit is not printed "20 %" beside
    "not >= 20 %"). A value rounded at ``d`` decimals cannot land on the other side of a
    threshold with at most ``d`` decimals without first equalling it, so this suffices.
    """
    v = np.asarray(values, dtype=float)
    t = np.broadcast_to(np.asarray(thresholds, dtype=float), v.shape)
    dec = np.full(v.shape, base, dtype=np.int64)
    with np.errstate(invalid="ignore"):
        todo = (v != t) & ~np.isnan(v) & ~np.isnan(t)
        for d in range(base, most + 1):
            if not todo.any():
                break
            dec[todo] = d
            todo &= np.round(v, d) == np.round(t, d)
    return dec
