"""Explanation sentences for findings, built column-wise (no per-row Python formatting).

A sentence states the numbers, the threshold each was held against, and what followed, e.g.
``"amplitude fell 58.0% (>50%) and area fell 62.0% (>50%) and duration +9.0% (|change| <15%):
partial conduction block (Bouche 1995)"``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from ncs.analyze import Analysis
    from ncs.criteria import Criterion, SegmentRule, Threshold

__all__ = ["LazyReasons", "explain_findings", "format_number", "join_strings", "render_reasons"]

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


def _column(segments: pd.DataFrame | Mapping[str, Any], name: str) -> np.ndarray:
    """A measure column as floats, from a DataFrame or a mapping of arrays."""
    values = segments[name]
    if isinstance(values, np.ndarray):
        return values.astype(float, copy=False)
    return values.to_numpy(dtype=float, na_value=np.nan)


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
    known = ~np.isnan(v)
    out = np.empty(v.shape, dtype=_S)
    out[~known] = "unknown"
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
        phrase = _add(verb, number, unit, condition)
    else:
        number = format_number(values, decimals, signed=True)
        phrase = _add(number, unit, condition)
        phrase = np.strings.add(" ", phrase)
    phrase = np.strings.add(label, phrase)
    return np.where(known, phrase, f"{label} unknown").astype(_S)


def _rule_text(rule: SegmentRule, segments: pd.DataFrame | Mapping[str, Any], n: int) -> np.ndarray:
    joiner = " and " if rule.combine == "all" else ", "
    parts = [_threshold_phrase(t, _column(segments, t.measure)) for t in rule.thresholds]
    out = parts[0]
    for p in parts[1:]:
        out = _add(out, joiner, p)
    return out


def _outcome(codes: np.ndarray, name: str, probable_name: str | None = None) -> np.ndarray:
    from ncs.criteria import _CODE_NA, _CODE_NO, _CODE_PROBABLE, _CODE_YES

    table = np.empty(4, dtype=_S)
    table[[_CODE_NO, _CODE_NA, _CODE_PROBABLE, _CODE_YES]] = [
        f"no {name}",
        f"{name} not assessable",
        probable_name or f"probable {name}",
        name,
    ]
    return table[codes]


def explain_findings(
    criterion: Criterion,
    segments: pd.DataFrame | Mapping[str, Any],
    block_code: np.ndarray,
    dispersion_code: np.ndarray,
    distal_absent: np.ndarray,
) -> np.ndarray:
    """One explanation sentence per segment for one criterion (see module docstring).

    ``segments`` is the segments table, or a mapping from measure name to an array aligned
    with the codes.
    """
    n = len(block_code)
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
    absent_text = "no response at the distal site: not assessable"
    text = np.where(distal_absent, absent_text, text).astype(_S)
    return _add(text, f" ({criterion.short})")


def join_strings(*parts) -> np.ndarray:
    """Element-wise concatenation of strings and arrays (missing -> ""); object array out."""
    out = None
    for p in parts:
        if isinstance(p, str):
            piece = p
        else:
            a = np.asarray(p)
            if a.dtype.kind == "O":
                a = np.where(pd.isna(a), "", a)
            piece = a.astype(_S)
        out = piece if out is None else np.strings.add(out, piece)
    return np.asarray(out, dtype=_S).astype(object)


class LazyReasons:
    """One criterion's reason sentences, rendered only for the rows that are asked for.

    Indexing (an integer array, a boolean mask or a slice) renders those rows and returns
    them as a NumPy string array, so the batch path can skip building millions of sentences
    and still explain the few findings a patient verdict cites.

    Parameters
    ----------
    criterion : Criterion
        The criterion whose findings are explained.
    segments : pandas.DataFrame
        The segments table the codes belong to.
    block_code, dispersion_code : numpy.ndarray
        Ordered outcome codes per segment (see :func:`ncs.criteria.judge`).
    distal_absent : numpy.ndarray of bool
        Segments whose distal response is absent.
    """

    __slots__ = ("block_code", "criterion", "dispersion_code", "distal_absent", "segments")

    def __init__(
        self,
        criterion: Criterion,
        segments: pd.DataFrame,
        block_code: np.ndarray,
        dispersion_code: np.ndarray,
        distal_absent: np.ndarray,
    ) -> None:
        self.criterion = criterion
        self.segments = segments
        self.block_code = block_code
        self.dispersion_code = dispersion_code
        self.distal_absent = distal_absent

    def __len__(self) -> int:
        return len(self.block_code)

    def __getitem__(self, rows) -> np.ndarray:
        idx = np.arange(len(self))[rows]
        measures = {m: _column(self.segments, m)[idx] for m in _measures(self.criterion)}
        return explain_findings(
            self.criterion,
            measures,
            self.block_code[idx],
            self.dispersion_code[idx],
            self.distal_absent[idx],
        )

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = self[:]
        return out if dtype is None else out.astype(dtype)


def _measures(criterion: Criterion) -> list[str]:
    rules = [*criterion.block]
    if criterion.dispersion is not None:
        rules.append(criterion.dispersion)
    return sorted({t.measure for r in rules for t in r.thresholds})


def _codes_of_names(values: pd.Series) -> np.ndarray:
    """Finding values ("yes", "probable", "no", "not_assessable") -> ordered outcome codes."""
    from ncs.criteria import _CODE_NA, _CODE_NO, _CODE_PROBABLE, _CODE_YES

    by_name = {"yes": _CODE_YES, "probable": _CODE_PROBABLE, "no": _CODE_NO}
    cat = pd.Categorical(values)
    lut = [by_name.get(str(c), _CODE_NA) for c in cat.categories]
    return np.array([*lut, _CODE_NA], dtype=np.int8)[cat.codes]


def render_reasons(result: Analysis, findings: pd.DataFrame | None = None) -> pd.Series:
    """Reason sentences for some or all findings, rendered on demand.

    The batch path (``ncs.analyze(..., reasons=False)``, :mod:`ncs.batch`, :mod:`ncs.dask`)
    leaves sentences out of ``findings``; this renders them afterwards for the rows that
    matter (for example the positive findings of a few patients).

    Parameters
    ----------
    result : Analysis
        The analysis the findings come from.
    findings : pandas.DataFrame, optional
        Rows of ``result.findings`` with their original index labels (filter, do not reset
        the index). Default: every finding.

    Returns
    -------
    pandas.Series
        ``string`` dtype, one sentence per row of ``findings``, with its index.

    Examples
    --------
    >>> import ncs, ncs.simulate
    >>> from ncs.explain import render_reasons
    >>> sites = ncs.simulate.cohort(3, seed=1)
    >>> lean = ncs.analyze(sites, reasons=False)
    >>> "reason" in lean.findings.columns
    False
    >>> some = lean.findings[lean.findings["block"] == "yes"]
    >>> full = ncs.analyze(sites)
    >>> render_reasons(lean, some).equals(full.findings.loc[some.index, "reason"])
    True
    """
    table = result.findings if findings is None else findings
    n_seg = len(result.segments)
    labels = table.index.to_numpy(dtype=np.int64)
    seg_row = labels % n_seg if n_seg else labels
    crit_of = {c.id: c for c in result.criteria}
    out = np.empty(len(table), dtype=_S)
    criterion = table["criterion"].to_numpy(dtype=object)
    absent = (result.segments["distal_response"] == "absent").to_numpy(dtype=bool, na_value=False)
    for cid in pd.unique(criterion):
        sel = np.flatnonzero(criterion == cid)
        rows = seg_row[sel]
        codes = [_codes_of_names(table[col].iloc[sel]) for col in ("block", "dispersion")]
        crit = crit_of[cid]
        measures = {m: _column(result.segments, m)[rows] for m in _measures(crit)}
        out[sel] = explain_findings(crit, measures, codes[0], codes[1], absent[rows])
    return pd.Series(out.astype(object), index=table.index, dtype="string", name="reason")
