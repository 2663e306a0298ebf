"""Explanation sentences for findings, built column-wise (no per-row Python formatting).

A sentence states the numbers, the threshold each was held against, and what followed, e.g.
``"amplitude fell 58.0% (>50%) and area fell 62.0% (>50%) and duration +9.0% (|change| <15%):
partial conduction block (Bouche 1995)"``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from ncs.criteria import Criterion, SegmentRule, Threshold

__all__ = ["explain_findings", "format_number", "join_strings"]

_S = np.dtypes.StringDType()

#: Decimals shown for a value; a value this close to its threshold gets more (so that a
#: 30.04% drop judged ">30%" is not printed as "30.0%").
_DECIMALS = 1
_DECIMALS_NEAR = 3
_NEAR = 0.05


def _strings(values, n: int | None = None) -> np.ndarray:
    if isinstance(values, str):
        return np.full(n, values, dtype=_S)
    return np.asarray(values, dtype=_S)


def _add(*parts) -> np.ndarray:
    out = parts[0]
    for p in parts[1:]:
        out = np.strings.add(out, p)
    return out


def format_number(
    values: np.ndarray, decimals: np.ndarray | int = _DECIMALS, *, signed: bool = False
) -> np.ndarray:
    """Format floats with a fixed number of decimals, vectorised (NaN -> ``"unknown"``)."""
    v = np.asarray(values, dtype=float)
    dec = np.broadcast_to(np.asarray(decimals, dtype=np.int64), v.shape)
    out = np.full(v.shape, "unknown", dtype=_S)
    known = ~np.isnan(v)
    for d in np.unique(dec[known]):
        sel = known & (dec == d)
        scale = 10 ** int(d)
        scaled = np.rint(np.abs(v[sel]) * scale).astype(np.int64)
        whole = (scaled // scale).astype(_S)
        if d > 0:
            frac = np.strings.zfill((scaled % scale).astype(_S), int(d))
            text = _add(whole, ".", frac)
        else:
            text = whole
        negative = (v[sel] < 0) & (scaled > 0)
        if signed:
            sign = np.where(negative, "-", "+").astype(_S)
        else:
            sign = np.where(negative, "-", "").astype(_S)
        out[sel] = _add(sign, text)
    return out


def _threshold_phrase(t: Threshold, values: np.ndarray) -> np.ndarray:
    """E.g. "amplitude fell 42.0% (>30%)", "duration +9.0% (not >30%)", "area unknown"."""
    from ncs.criteria import MEASURE_LABELS

    label = MEASURE_LABELS.get(t.measure, t.measure)
    n = values.shape[0]
    compared = np.abs(values) if t.absolute else values
    decimals = np.where(
        (np.abs(compared - t.value) < _NEAR) & (compared != t.value), _DECIMALS_NEAR, _DECIMALS
    )
    from ncs.measures import OPERATORS

    with np.errstate(invalid="ignore"):
        met = OPERATORS[t.op](compared, t.value)
    known = ~np.isnan(values)
    unit = "%" if t.measure.endswith("_pct") else ""
    bound = f"{t.op}{t.value:g}{unit}"
    if t.absolute:
        yes_text, no_text = f" (|change| {bound})", f" (|change| not {bound})"
    else:
        yes_text, no_text = f" ({bound})", f" (not {bound})"
    condition = np.where(met, yes_text, no_text).astype(_S)
    if t.measure.endswith("_drop_pct"):
        verb = np.where(values < 0, " rose ", " fell ").astype(_S)
        number = format_number(np.abs(values), decimals)
        phrase = _add(_strings(label, n), verb, number, unit, condition)
    else:
        number = format_number(values, decimals, signed=True)
        phrase = _add(_strings(label, n), " ", number, unit, condition)
    return np.where(known, phrase, _strings(f"{label} unknown", n)).astype(_S)


def _rule_text(rule: SegmentRule, segments: pd.DataFrame, n: int) -> np.ndarray:
    joiner = " and " if rule.combine == "all" else ", "
    parts = [
        _threshold_phrase(t, segments[t.measure].to_numpy(dtype=float, na_value=np.nan))
        for t in rule.thresholds
    ]
    out = parts[0]
    for p in parts[1:]:
        out = _add(out, joiner, p)
    return out


def _outcome(codes: np.ndarray, name: str, probable_name: str | None = None) -> np.ndarray:
    from ncs.criteria import _CODE_NO, _CODE_PROBABLE, _CODE_YES

    return np.select(
        [codes == _CODE_YES, codes == _CODE_PROBABLE, codes == _CODE_NO],
        [name, probable_name or f"probable {name}", f"no {name}"],
        f"{name} not assessable",
    ).astype(_S)


def explain_findings(
    criterion: Criterion,
    segments: pd.DataFrame,
    block_code: np.ndarray,
    dispersion_code: np.ndarray,
    distal_absent: np.ndarray,
) -> np.ndarray:
    """One explanation sentence per segment for one criterion (see module docstring)."""
    n = len(segments)
    if n == 0:
        return np.array([], dtype=_S)
    from ncs.criteria import _CODE_PROBABLE

    main = criterion.block[0]
    block_text = _rule_text(main, segments, n)
    # A "probable" outcome is explained by the rule that gave it.
    for rule in criterion.block[1:]:
        if rule.outcome == "probable":
            block_text = np.where(
                block_code == _CODE_PROBABLE, _rule_text(rule, segments, n), block_text
            )
    text = _add(block_text, ": ", _outcome(block_code, main.name))
    if criterion.dispersion is not None:
        disp_text = _rule_text(criterion.dispersion, segments, n)
        text = _add(
            text, "; ", disp_text, ": ", _outcome(dispersion_code, criterion.dispersion.name)
        )
    absent_text = _strings("no response at the distal site: not assessable", n)
    text = np.where(distal_absent, absent_text, text).astype(_S)
    return _add(text, f" ({criterion.short})")


def join_strings(*parts) -> np.ndarray:
    """Element-wise concatenation of strings and arrays (missing -> ""); object array out."""
    out = None
    for p in parts:
        if isinstance(p, str):
            piece = p
        else:
            a = np.asarray(p, dtype=object)
            a = np.where(pd.isna(a), "", a)
            piece = a.astype(str).astype(_S)
        out = piece if out is None else np.strings.add(out, piece)
    return np.asarray(out, dtype=_S).astype(object)
