"""Explanation sentences for findings, built column-wise (no per-row Python formatting).

A sentence states the numbers, the threshold each was held against, and what followed, e.g.
``"amplitude fell 58.0% (>50%) and area fell 62.0% (>50%) and duration +9.0% (|change| <15%):
partial conduction block (Bouche 1995)"``.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ncs._codes import floats
from ncs.errors import NcsWarning

if TYPE_CHECKING:
    from ncs.analyze import Analysis
    from ncs.criteria import Criterion, RuleOutcome, SegmentRule, Threshold

__all__ = [
    "LazyReasons",
    "explain_findings",
    "format_number",
    "join_strings",
    "render_evidence",
    "render_reasons",
]

_S = np.dtypes.StringDType()

#: Decimals shown for a value; a value this close to its threshold gets more (so that a
#: 30.04% drop judged ">30%" is not printed as "30.0%").
_DECIMALS = 1
_DECIMALS_NEAR = 3
_NEAR = 0.05


def _strings(values, n: int | None = None) -> np.ndarray:
    if isinstance(values, str):
        # one string seen n times (a read-only view): no n separate string allocations
        return np.broadcast_to(np.array(values, dtype=_S), (n,))
    return np.asarray(values, dtype=_S)


def _add(*parts) -> np.ndarray:
    out = parts[0]
    for p in parts[1:]:
        out = np.strings.add(out, p)
    return out


def format_number(
    values: np.ndarray, decimals: np.ndarray | int = _DECIMALS, *, signed: bool = False
) -> np.ndarray:
    """Format floats with a fixed number of decimals, vectorised (NaN -> ``"unknown"``).

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
    whole = (scaled // scale).astype(_S)
    point = dec > 0
    if point.any():  # whole part, point, zero-padded fraction
        frac = np.strings.zfill((scaled % scale).astype(_S), dec)
        text = (
            _add(whole, ".", frac)
            if point.all()
            else np.where(point, _add(whole, ".", frac), whole)
        )
    else:
        text = whole
    negative = (v < 0) & (scaled > 0)
    if signed:
        text = _add(np.where(negative, "-", "+").astype(_S), text)
    elif negative.any():
        text = _add(np.where(negative, "-", "").astype(_S), text)
    return text.astype(_S) if all_known else np.where(known, text, "unknown").astype(_S)


#: How operators are written in sentences.
OP_TEXT = {">": ">", ">=": "≥", "<": "<", "<=": "≤"}


def _bounds(t: Threshold, segments: pd.DataFrame, n: int) -> tuple[np.ndarray, list, list[str]]:
    """Which (operator, value) applies to each row, the pairs, and each pair's bound text.

    Row code 0 is the threshold's own pair, k the k-th nerve override (the last matching
    override wins). Texts are made once per pair, not per row.
    """
    from ncs.criteria import LIMIT_LABELS, _equals

    pairs = [(t.op, t.value), *((op, value) for _, op, value in t.overrides)]
    which = np.zeros(n, dtype=np.int64)
    for k, (name, _, _) in enumerate(t.overrides, start=1):
        which[_equals(segments["nerve"], name)] = k
    unit = "%" if t.measure.endswith("_pct") else (" mV" if t.measure.endswith("_mv") else "")
    texts = []
    for op, value in pairs:
        if t.of is not None:
            texts.append(f"{OP_TEXT[op]}{value * 100:g}% of {LIMIT_LABELS.get(t.of, t.of)}")
        else:
            texts.append(f"{OP_TEXT[op]}{value:g}{unit}")
    return which, pairs, texts


def _threshold_phrase(t: Threshold, segments: pd.DataFrame) -> np.ndarray:
    """E.g. "amplitude fell 42.0% (>30%)", "duration +9.0% (not >30%)", "area unknown".

    The words around the number come from a small table (one entry per operator/value pair
    and outcome), indexed per row; only the numbers are formatted per row.
    """
    from ncs.criteria import MEASURE_LABELS
    from ncs.measures import OPERATORS

    raw = floats(segments[t.measure])
    compared = t.values(segments)
    label = MEASURE_LABELS.get(t.measure, t.measure)
    n = raw.shape[0]
    which, pairs, bounds = _bounds(t, segments, n)
    thresholds = np.array([value for _, value in pairs], dtype=float)[which]
    met = np.zeros(n, dtype=bool)
    with np.errstate(invalid="ignore"):
        for k, (op, value) in enumerate(pairs):
            sel = which == k
            met[sel] = OPERATORS[op](compared[sel], value)
    known = ~np.isnan(compared)
    outcome = 2 * which + (~met).astype(np.int64)  # (pair, met) -> row of the word tables
    if t.of is not None:
        words = [w for b in bounds for w in (f" ({b})", f" (not {b})")]
        suffix = np.array([f"% of the limit{w}" for w in words], dtype=_S)[outcome]
        near = np.abs(compared - thresholds) < _NEAR / 100
        ratio = format_number(compared * 100, np.where(near & (compared != thresholds), 3, 0))
        mv = format_number(raw, 2)
        phrase = _add(np.array(f"{label} ", dtype=_S), mv, " mV = ", ratio, suffix)
        return np.where(
            known, phrase, _strings(f"{label} relative to its limit unknown", n)
        ).astype(_S)
    decimals = np.where(
        (np.abs(compared - thresholds) < _NEAR) & (compared != thresholds),
        _DECIMALS_NEAR,
        _DECIMALS,
    )
    unit = "%" if t.measure.endswith("_pct") else ""
    change = "|change| " if t.absolute else ""
    words = [w for b in bounds for w in (f" ({change}{b})", f" ({change}not {b})")]
    suffix = np.array([f"{unit}{w}" for w in words], dtype=_S)[outcome]
    if t.measure.endswith("_drop_pct"):
        prefix = np.array([f"{label} fell ", f"{label} rose "], dtype=_S)[(raw < 0).astype(int)]
        number = format_number(np.abs(raw), decimals)
    else:
        prefix = np.array(f"{label} ", dtype=_S)
        number = format_number(raw, decimals, signed=t.measure.endswith("_pct"))
    phrase = _add(prefix, number, suffix)
    if known.all():
        return phrase
    return np.where(known, phrase, _strings(f"{label} unknown", n)).astype(_S)


def _rule_text(rule: SegmentRule, segments: pd.DataFrame) -> np.ndarray:
    joiner = " and " if rule.combine == "all" else ", "
    parts = [_threshold_phrase(t, segments) for t in rule.thresholds]
    out = parts[0]
    for p in parts[1:]:
        out = _add(out, joiner, p)
    return out


def _precondition_text(rule: SegmentRule, segments: pd.DataFrame) -> np.ndarray:
    parts = [_threshold_phrase(t, segments) for t in rule.preconditions]
    out = parts[0]
    for p in parts[1:]:
        out = _add(out, " and ", p)
    return out


def _outcome(codes: np.ndarray, name: str) -> np.ndarray:
    from ncs.criteria import _CODE_NA, _CODE_NO, _CODE_PROBABLE, _CODE_YES

    table = np.empty(5, dtype=_S)  # index 4: code -1 (not considered; replaced by the caller)
    table[[_CODE_NO, _CODE_NA, _CODE_PROBABLE, _CODE_YES, 4]] = [
        f"no {name}",
        f"{name} not assessable",
        f"probable {name}",
        name,
        f"{name} not considered",
    ]
    return table[np.where(codes < 0, 4, codes)]


def _explain_rules(
    rules: tuple[SegmentRule, ...],
    outcome: RuleOutcome,
    segments: pd.DataFrame,
    exclusion_note: str,
) -> np.ndarray:
    """Sentence part for one aspect (block or dispersion) from how its rules decided."""
    from ncs.criteria import WHY_DISTAL_ABSENT, WHY_EXCLUDED, WHY_PRECONDITION

    n = len(segments)
    name = rules[0].name
    text = np.full(n, "", dtype=_S)
    for k, rule in enumerate(rules):
        sel = outcome.deciding_rule == k
        if not sel.any():
            continue
        body = _rule_text(rule, segments)
        text = body if sel.all() else np.where(sel, body, text)
        failed = sel & (outcome.why == WHY_PRECONDITION)
        if rule.preconditions and failed.any():
            text = np.where(failed, _precondition_text(rule, segments), text)
    text = _add(text, ": ", _outcome(outcome.code, name))
    # the rarer outcomes replace the sentence only where they occur
    excluded = outcome.why == WHY_EXCLUDED
    if excluded.any():
        note = f" ({exclusion_note})" if exclusion_note else ""
        text = np.where(excluded, _strings(f"{name} not considered{note}", n), text)
    absent = outcome.why == WHY_DISTAL_ABSENT
    if absent.any():
        words = f"no response at the distal site: {name} not assessable"
        text = np.where(absent, _strings(words, n), text)
    return text.astype(_S, copy=False)


def explain_findings(
    criterion: Criterion,
    segments: pd.DataFrame,
    block: RuleOutcome,
    dispersion: RuleOutcome | None,
) -> np.ndarray:
    """One explanation sentence per segment for one criterion (see module docstring)."""
    n = len(block.code)
    if n == 0:
        return np.array([], dtype=_S)
    note = criterion.scope.note or "; ".join(r.scope.note for r in criterion.block if r.scope.note)
    text = _explain_rules(criterion.block, block, segments, note)
    if dispersion is not None and criterion.dispersion_rules:
        rules = criterion.dispersion_rules
        dnote = criterion.scope.note or "; ".join(r.scope.note for r in rules if r.scope.note)
        disp = _explain_rules(rules, dispersion, segments, dnote)
        both_absent = (block.why == dispersion.why) & (block.why == 3)
        text = np.where(both_absent, text, _add(text, "; ", disp)).astype(_S)
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
    and still explain the few findings a patient verdict cites. Rendering a subset gives the
    same sentences as rendering everything: each sentence depends on its own row only.

    Parameters
    ----------
    criterion : Criterion
        The criterion whose findings are explained.
    segments : pandas.DataFrame
        The segments table the outcomes belong to.
    block, dispersion : RuleOutcome
        How the criterion's rules decided (see :func:`ncs.criteria.judge`).
    """

    __slots__ = ("block", "criterion", "dispersion", "segments")

    def __init__(
        self,
        criterion: Criterion,
        segments: pd.DataFrame,
        block: RuleOutcome,
        dispersion: RuleOutcome | None,
    ) -> None:
        self.criterion = criterion
        self.segments = segments
        self.block = block
        self.dispersion = dispersion

    def __len__(self) -> int:
        return len(self.block.code)

    def __getitem__(self, rows) -> np.ndarray:
        idx = np.arange(len(self))[rows]
        return explain_findings(
            self.criterion,
            self.segments[_columns_used(self.criterion, self.segments)].iloc[idx],
            self.block.take(idx),
            None if self.dispersion is None else self.dispersion.take(idx),
        )

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = self[:]
        return out if dtype is None else out.astype(dtype)


def _columns_used(criterion: Criterion, segments: pd.DataFrame) -> list[str]:
    """The segment columns the criterion's sentences read (measures, limits, nerve)."""
    rules = (*criterion.block, *criterion.dispersion_rules)
    names = {"nerve"}
    for rule in rules:
        for t in (*rule.thresholds, *rule.preconditions):
            names.add(t.measure)
            if t.of is not None:
                names.add(t.of)
    return [c for c in segments.columns if c in names]


def render_reasons(result: Analysis, findings: pd.DataFrame | None = None) -> pd.Series:
    """Reason sentences for some or all findings, rendered on demand.

    The batch path (``ncs.analyze(..., reasons=False)``, :mod:`ncs.batch`, :mod:`ncs.dask`)
    leaves sentences out of ``findings``; this renders them afterwards for the rows that
    matter (for example the positive findings of a few patients), by judging those segments
    again (judging is row-local, so the sentences are the ones a full run writes).

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
    from ncs.criteria import judge

    table = result.findings if findings is None else findings
    n_seg = len(result.segments)
    labels = table.index.to_numpy(dtype=np.int64)
    seg_row = labels % n_seg if n_seg else labels
    crit_of = {c.id: c for c in result.criteria}
    out = np.empty(len(table), dtype=_S)
    criterion = table["criterion"].to_numpy(dtype=object)
    for cid in pd.unique(criterion):
        sel = np.flatnonzero(criterion == cid)
        rows = seg_row[sel]
        j = judge(crit_of[cid], result.segments.iloc[rows], reasons=True)
        out[sel] = j.reason
    return pd.Series(out.astype(object), index=table.index, dtype="string", name="reason")


def render_evidence(result: Analysis, patients: pd.DataFrame | None = None) -> pd.Series:
    """Patient evidence sentences, rendered on demand.

    ``ncs.analyze(..., reasons=False)`` (and the batch and Dask paths) leave
    ``patients.evidence`` out; the evidence labels and counts are there either way. This
    renders the sentences for some or all patients by analysing those patients' sites again
    with sentences on (each patient is judged on their own rows only, so the sentences are
    the ones a full run writes), under the same criteria and settings.

    Parameters
    ----------
    result : Analysis
        The analysis the patients come from.
    patients : pandas.DataFrame, optional
        Rows of ``result.patients`` (filter, do not reset the index). Default: every row.

    Returns
    -------
    pandas.Series
        ``string`` dtype, one sentence per row of ``patients``, with its index.

    Examples
    --------
    >>> import ncs, ncs.simulate
    >>> from ncs.explain import render_evidence
    >>> sites = ncs.simulate.cohort(3, seed=1)
    >>> lean = ncs.analyze(sites, reasons=False)
    >>> "evidence" in lean.patients.columns
    False
    >>> full = ncs.analyze(sites)
    >>> render_evidence(lean).equals(full.patients["evidence"])
    True
    """
    from ncs.analyze import analyze

    table = result.patients if patients is None else patients
    out = pd.Series(pd.array([], dtype="string"), name="evidence")
    if table.empty:
        return out.reindex(table.index)
    if "evidence" in table.columns:
        return table["evidence"].astype("string")
    ids = pd.unique(table["patient_id"].astype(object))
    sites = result.sites
    chosen = sites[sites["patient_id"].astype(object).isin(ids)]
    with warnings.catch_warnings():  # the first run warned already
        warnings.simplefilter("ignore", NcsWarning)
        again = analyze(chosen, criteria=result.criteria, errors="collect", **result.settings)
    done = again.patients
    key = pd.MultiIndex.from_arrays(
        [done["patient_id"].astype(object), done["scheme"].astype(object)]
    )
    where = key.get_indexer(
        pd.MultiIndex.from_arrays(
            [table["patient_id"].astype(object), table["scheme"].astype(object)]
        )
    )
    text = np.append(done["evidence"].to_numpy(dtype=object), pd.NA)[where]  # -1: not found
    return pd.Series(text, index=table.index, dtype="string", name="evidence")
