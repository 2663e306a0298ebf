"""Column-wise text building: the few string operations the sentences are made of.

Sentences are built a column at a time from word tables and formatted numbers, never by
formatting one row at a time in Python. Everything here works on NumPy ``StringDType``
arrays (one string per row); a plain ``str`` stands for the same text on every row.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["S", "join", "join_objects", "number", "strings", "where", "words"]

S = np.dtypes.StringDType()
"""The string dtype of every text column built here."""


def strings(values, n: int | None = None) -> np.ndarray:
    """An array of strings; a single ``str`` repeated ``n`` times (a read-only view)."""
    if isinstance(values, str):
        return np.broadcast_to(np.array(values, dtype=S), (n if n is not None else 1,))
    return np.asarray(values, dtype=S)


def join(*parts) -> np.ndarray:
    """Element-wise concatenation of string arrays and plain strings."""
    out = parts[0]
    for p in parts[1:]:
        out = np.strings.add(out, p)
    return np.asarray(out, dtype=S) if not isinstance(out, np.ndarray) else out


def join_objects(*parts) -> np.ndarray:
    """Like :func:`join`, for object arrays that may hold missing values (-> ``""``); an
    object array out."""
    out = None
    for p in parts:
        if isinstance(p, str):
            piece = p
        else:
            a = np.asarray(p)
            if a.dtype.kind == "O":
                a = np.where(pd.isna(a), "", a)
            piece = a.astype(S)
        out = piece if out is None else np.strings.add(out, piece)
    return np.asarray(out, dtype=S).astype(object)


def words(table: Sequence[str], index: np.ndarray) -> np.ndarray:
    """``table[index]`` per row: the words of each row's case, from a short table."""
    return np.asarray(list(table), dtype=S)[np.asarray(index)]


def where(mask: np.ndarray, a, b) -> np.ndarray:
    """``a`` where ``mask``, else ``b`` (strings or string arrays)."""
    return np.where(mask, a, b).astype(S, copy=False)


def number(
    values: np.ndarray, decimals: np.ndarray | int = 1, *, signed: bool = False
) -> np.ndarray:
    """Floats with a fixed number of decimals, vectorised (NaN -> ``"unknown"``).

    ``decimals`` may differ per value. Each value is rounded half to even at its number of
    decimals (``np.rint``), then written as whole part, point and zero-padded fraction.
    """
    v = np.asarray(values, dtype=float)
    if np.ndim(decimals) == 0:
        dec = np.full(v.shape, int(decimals), dtype=np.int64)
    else:
        dec = np.asarray(decimals, dtype=np.int64)
    known = ~np.isnan(v)
    all_known = bool(known.all())
    scale = 10**dec
    if all_known:
        scaled = np.rint(np.abs(v) * scale).astype(np.int64)
    else:
        scaled = np.where(known, np.rint(np.abs(np.where(known, v, 0.0)) * scale), 0)
        scaled = scaled.astype(np.int64)
    whole = (scaled // scale).astype(S)
    point = dec > 0
    if point.any():  # whole part, point, zero-padded fraction
        frac = np.strings.zfill((scaled % scale).astype(S), dec)
        text = (
            join(whole, ".", frac)
            if point.all()
            else np.where(point, join(whole, ".", frac), whole)
        )
    else:
        text = whole
    negative = (v < 0) & (scaled > 0)
    if signed:
        text = join(np.where(negative, "-", "+").astype(S), text)
    elif negative.any():
        text = join(np.where(negative, "-", "").astype(S), text)
    return text.astype(S) if all_known else np.where(known, text, "unknown").astype(S)


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
