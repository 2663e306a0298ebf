"""The rule engine: criteria applied to segments, nerves and patients, vectorised.

This is the one implementation of every rule. It reads the rules as data (:mod:`ncs.criteria`,
:mod:`ncs.guidelines`, :mod:`ncs.schemes`) and returns integer codes; it writes no sentence
(:mod:`ncs.explain` words the outcomes) and builds no table (:mod:`ncs.summary` does).

* :func:`judge` applies a criterion's segment rules (thresholds combined with Kleene logic,
  scopes, preconditions) to measure arrays of any leading shape: ``(n_segments,)`` for an
  analysis, ``(n_draws, n_segments)`` for the robustness simulation of :mod:`ncs.compare`.
* :func:`segment_items` and :func:`evaluate_item` give each nerve's demyelinating parameters
  (:class:`~ncs.schemes.NerveItem`) from per-nerve measures and the segment findings.
* :func:`patient_verdicts` applies the scheme's patient rule (nerve counts, levels, classes).

Codes
-----
Segment outcomes are ordered so that a larger code is a more positive finding:
:data:`NOT_APPLICABLE` (-1, the rule excludes the segment) < :data:`NO` (0) <
:data:`NOT_ASSESSABLE` (1, the data do not tell) < :data:`PROBABLE` (2) < :data:`YES` (3).
Rule and item results use the truth codes of :mod:`ncs.measures` (``FALSE`` 0, ``UNKNOWN`` 1,
``TRUE`` 2) and ``NOT_APPLICABLE`` (-1). :data:`NO_SEGMENT` (-2) marks a nerve or patient with
no segment at all (one stimulation site): it is listed, but it neither carries nor blocks a
verdict. Wherever a count or a Kleene OR reads ``NOT_APPLICABLE`` or ``NO_SEGMENT``, they act
as ``FALSE``: what a rule excludes never makes a verdict unknown; only missing data can.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ncs._codes import equals_mask, floats, isin_mask
from ncs.criteria import Criterion, Scope, SegmentRule, Threshold
from ncs.measures import FALSE, NOT_APPLICABLE, PCT_DECIMALS, TRUE, UNKNOWN, truth
from ncs.schemes import (
    SEGMENT_MEASURES,
    NerveItem,
    all_of,
    any_of,
    at_least,
    k_of,
    negate,
    one_plus_other,
    two_plus_other,
)

__all__ = [
    "NO",
    "NOT_APPLICABLE",
    "NOT_ASSESSABLE",
    "NO_SEGMENT",
    "PROBABLE",
    "YES",
    "NerveContext",
    "RuleOutcome",
    "SegmentJudgement",
    "Verdicts",
    "category_codes",
    "dispersion_confound",
    "evaluate_item",
    "item_codes",
    "judge",
    "nerve_outcomes",
    "patient_verdicts",
    "scope_mask",
    "segment_items",
    "threshold_bounds",
    "threshold_truth",
    "threshold_values",
]

NO_SEGMENT = np.int8(-2)
NO, NOT_ASSESSABLE, PROBABLE, YES = np.int8(0), np.int8(1), np.int8(2), np.int8(3)

#: Why a segment's outcome is what it is, beyond the thresholds (read by the sentences).
WHY_RULE, WHY_SCOPE, WHY_PRECONDITION, WHY_DISTAL_ABSENT, WHY_NO_RULE = 0, 1, 2, 3, 4

_OUTCOME_CODE = {"yes": YES, "probable": PROBABLE}

# --------------------------------------------------------------------------------------
# Segment rules
# --------------------------------------------------------------------------------------


def scope_mask(scope: Scope, segments: pd.DataFrame) -> np.ndarray:
    """Boolean per segment row: inside ``scope``.

    ``segments`` needs the key columns (``nerve``, ``distal_site``, ``proximal_site``,
    ``comparison``) and, for entrapment exclusions, ``entrapment``.
    """
    n = len(segments)
    ok = np.ones(n, dtype=bool)
    if n == 0 or scope.is_everything():
        return ok
    nerve, proximal = segments["nerve"], segments["proximal_site"]
    if scope.nerves is not None:
        ok &= isin_mask(nerve, scope.nerves)
    if scope.exclude_nerves:
        ok &= ~isin_mask(nerve, scope.exclude_nerves)
    if scope.exclude_entrapment and "entrapment" in segments.columns:
        ok &= segments["entrapment"].isna().to_numpy()
    if scope.exclude_zones and "entrapment" in segments.columns:
        ok &= ~isin_mask(segments["entrapment"], scope.exclude_zones)
    if scope.only_pairs is not None:
        pair = np.zeros(n, dtype=bool)
        for name, distal, prox in scope.only_pairs:  # a few listed pairs, not data rows
            pair |= (
                equals_mask(nerve, name)
                & equals_mask(segments["distal_site"], distal)
                & equals_mask(proximal, prox)
            )
        ok &= pair
    if scope.exclude_proximal_sites:
        ok &= ~isin_mask(proximal, scope.exclude_proximal_sites)
    if scope.only_proximal_sites is not None:
        ok &= isin_mask(proximal, scope.only_proximal_sites)
    if tuple(scope.comparisons) != ("adjacent", "distal"):
        ok &= isin_mask(segments["comparison"], scope.comparisons)
    if scope.from_most_distal_only:
        ok &= segments["from_most_distal"].to_numpy(dtype=bool, na_value=False)
    return ok


def _measure(
    segments: pd.DataFrame, measures: Mapping[str, np.ndarray] | None, name: str, *, limit: bool
) -> np.ndarray:
    if measures is not None and name in measures:
        return np.asarray(measures[name], dtype=float)
    if name in segments.columns:
        return floats(segments[name])
    if limit:  # a reference limit nobody supplied: unknown
        return np.full(len(segments), np.nan)
    raise ValueError(f"a rule uses the measure {name!r}, which the segments table does not have")


def threshold_values(
    t: Threshold, segments: pd.DataFrame, measures: Mapping[str, np.ndarray] | None = None
) -> np.ndarray:
    """The quantity a threshold compares, per segment (absolute and relative to its limit if
    the threshold says so). ``measures`` overrides columns of ``segments`` (any leading
    shape)."""
    values = _measure(segments, measures, t.measure, limit=False)
    if t.absolute:
        values = np.abs(values)
    if t.of is not None:
        limit = _measure(segments, measures, t.of, limit=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            values = np.where(limit > 0, np.round(values / limit, PCT_DECIMALS), np.nan)
    return values


def threshold_truth(
    t: Threshold,
    segments: pd.DataFrame,
    measures: Mapping[str, np.ndarray] | None = None,
    values: np.ndarray | None = None,
) -> np.ndarray:
    """Three-valued result of one threshold per segment (int8 truth codes), nerve overrides
    applied."""
    if values is None:
        values = threshold_values(t, segments, measures)
    out = truth(values, t.op, t.value)
    for name, op, value in t.overrides:
        sel = equals_mask(segments["nerve"], name)
        if sel.any():
            out[..., sel] = truth(values[..., sel], op, value)
    return out


def threshold_bounds(t: Threshold, segments: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The operator and value each segment is compared with (nerve overrides applied): an
    object array of operators and a float array of values."""
    n = len(segments)
    ops = np.full(n, t.op, dtype=object)
    values = np.full(n, t.value, dtype=float)
    for name, op, value in t.overrides:
        sel = equals_mask(segments["nerve"], name)
        ops[sel] = op
        values[sel] = value
    return ops, values


def _negate_known(codes: np.ndarray) -> np.ndarray:
    return np.where(codes == TRUE, FALSE, np.where(codes == FALSE, TRUE, codes)).astype(np.int8)


def _rule_status(
    rule: SegmentRule,
    segments: pd.DataFrame,
    measures: Mapping[str, np.ndarray] | None,
    in_scope: np.ndarray,
    flip: int | None,
) -> np.ndarray:
    """TRUE / FALSE / UNKNOWN / NOT_APPLICABLE of one rule per segment.

    A failed precondition makes the rule not applicable; an unknown precondition leaves it
    unknown unless its thresholds already rule it out (it can then be neither met nor
    applicable: not met either way).
    """
    combine = np.maximum if rule.combine == "any" else np.minimum
    thr = None
    for k, t in enumerate(rule.thresholds):
        codes = threshold_truth(t, segments, measures)
        if flip == k:
            codes = _negate_known(codes)
        thr = codes if thr is None else combine(thr, codes)
    pre = None
    for t in rule.preconditions:
        codes = threshold_truth(t, segments, measures)
        pre = codes if pre is None else np.minimum(pre, codes)
    status = thr
    if pre is not None:
        status = np.where(
            pre == FALSE,
            NOT_APPLICABLE,
            np.where((pre == TRUE) | (thr == FALSE), thr, UNKNOWN),
        )
    return np.where(in_scope, status, NOT_APPLICABLE).astype(np.int8)


@dataclass(frozen=True)
class RuleOutcome:
    """How one aspect (block or dispersion) of a criterion decided, per segment.

    Attributes
    ----------
    code : numpy.ndarray of int8
        Ordered outcome code per segment (``NOT_APPLICABLE`` ... ``YES``).
    deciding_rule : numpy.ndarray of int64
        Index of the rule whose words explain the outcome (-1: none).
    why : numpy.ndarray of int8
        ``WHY_*`` code: decided by a rule's thresholds, outside every rule's scope, a failed
        precondition, no response at the distal site, or no rule of this kind.
    status : numpy.ndarray of int8, shape (n_rules, ...)
        Each rule's own result (truth codes, ``NOT_APPLICABLE`` where it does not apply).
    """

    code: np.ndarray
    deciding_rule: np.ndarray
    why: np.ndarray
    status: np.ndarray

    def take(self, rows: np.ndarray) -> RuleOutcome:
        """The outcome of some segments only (last axis)."""
        return RuleOutcome(
            self.code[..., rows],
            self.deciding_rule[..., rows],
            self.why[..., rows],
            self.status[..., rows],
        )


def _decide(
    rules: Sequence[SegmentRule], status: np.ndarray, in_scope: np.ndarray, distal_absent
) -> RuleOutcome:
    """Combine the rules' results: the first rule met gives its outcome (strongest first);
    else unknown if any rule is unknown; else ``no`` if any applicable rule is not met;
    else not applicable."""
    shape = status.shape[1:]
    code = np.full(shape, NOT_APPLICABLE, dtype=np.int8)
    deciding = np.full(shape, -1, dtype=np.int64)
    decided = np.zeros(shape, dtype=bool)
    for k, rule in enumerate(rules):
        met = (status[k] == TRUE) & ~decided
        code[met] = _OUTCOME_CODE[rule.outcome]
        deciding[met] = k
        decided |= met
    for value, outcome in ((UNKNOWN, NOT_ASSESSABLE), (FALSE, NO)):
        for k in range(len(rules)):  # the last rule with this result explains the outcome
            hit = (status[k] == value) & ~decided
            deciding[hit] = k
        now = ~decided & (deciding >= 0)
        code[now] = outcome
        decided |= now
    why = np.full(shape, WHY_RULE, dtype=np.int8)
    any_scope = in_scope.any(axis=0) if len(rules) else np.zeros(shape[-1:], dtype=bool)
    rest = ~decided
    if rest.any():
        # not applicable: a precondition failed in some rule in scope, or no rule covers it
        for k in range(len(rules)):
            deciding[rest & in_scope[k]] = k
        why[rest] = WHY_PRECONDITION
        why[rest & ~any_scope] = WHY_SCOPE
        deciding[rest & ~any_scope] = -1
    if len(rules) == 0:
        why[...] = WHY_NO_RULE
    if distal_absent.any():
        sel = distal_absent & any_scope
        code[..., sel] = NOT_APPLICABLE
        why[..., sel] = WHY_DISTAL_ABSENT
        deciding[..., sel] = -1
    return RuleOutcome(code, deciding, why, status)


def _judge_rules(
    rules: Sequence[SegmentRule],
    segments: pd.DataFrame,
    measures: Mapping[str, np.ndarray] | None,
    considered: np.ndarray,
    distal_absent: np.ndarray,
    shape: tuple[int, ...],
    flip: tuple[int, int] | None,
) -> RuleOutcome:
    masks = {}
    in_scope = np.zeros((len(rules), shape[-1]), dtype=bool)
    status = np.full((len(rules), *shape), NOT_APPLICABLE, dtype=np.int8)
    for k, rule in enumerate(rules):
        mask = masks.get(rule.scope)
        if mask is None:
            mask = masks[rule.scope] = scope_mask(rule.scope, segments) & considered
        in_scope[k] = mask
        which = flip[1] if flip is not None and flip[0] == k else None
        status[k] = _rule_status(rule, segments, measures, mask, which)
    if distal_absent.any():
        status[..., distal_absent] = NOT_APPLICABLE
    return _decide(rules, status, in_scope, distal_absent)


@dataclass(frozen=True)
class SegmentJudgement:
    """Everything :func:`judge` decides for one criterion, as arrays in segment order."""

    criterion: Criterion
    block: RuleOutcome
    dispersion: RuleOutcome

    @property
    def block_code(self) -> np.ndarray:
        return self.block.code

    @property
    def disp_code(self) -> np.ndarray:
        return self.dispersion.code

    def take(self, rows: np.ndarray) -> SegmentJudgement:
        return SegmentJudgement(self.criterion, self.block.take(rows), self.dispersion.take(rows))


def judge(
    crit: Criterion,
    segments: pd.DataFrame,
    *,
    measures: Mapping[str, np.ndarray] | None = None,
    flip: tuple[str, int, int] | None = None,
) -> SegmentJudgement:
    """Block and dispersion outcomes of one criterion on every segment.

    Parameters
    ----------
    crit : Criterion
    segments : pandas.DataFrame
        The segments table (:func:`ncs.segments`): keys for the scopes, measures for the
        thresholds, ``distal_response``.
    measures : mapping of str to numpy.ndarray, optional
        Measure arrays replacing columns of ``segments``, of shape ``(..., n_segments)``
        (e.g. simulated draws); the outcomes take their shape.
    flip : (kind, rule index, threshold index), optional
        Negate one threshold's known result (``kind`` is ``"block"`` or ``"dispersion"``):
        what the outcome would be if that threshold alone went the other way.

    Returns
    -------
    SegmentJudgement

    Notes
    -----
    Three-valued (Kleene) logic: ``"any"`` rules are met as soon as one known threshold is
    met and ruled out only when all are known and unmet; ``"all"`` rules are ruled out as soon
    as one known threshold fails. Block rules are tried strongest first; the first met gives
    its outcome. A segment outside every rule's scope, or whose rules' preconditions fail, is
    ``not_applicable``, as is a segment with no response at its distal site (an inexcitable
    nerve cannot show a block). Missing measures make it ``not_assessable``.
    """
    n = len(segments)
    shape: tuple[int, ...] = (n,)
    if measures:
        shape = np.broadcast_shapes(*(np.shape(v) for v in measures.values()), (n,))
    considered = scope_mask(crit.scope, segments)
    distal_absent = (
        equals_mask(segments["distal_response"], "absent")
        if "distal_response" in segments.columns
        else np.zeros(n, dtype=bool)
    )
    flip_block = flip[1:] if flip is not None and flip[0] == "block" else None
    flip_disp = flip[1:] if flip is not None and flip[0] == "dispersion" else None
    block = _judge_rules(
        crit.block, segments, measures, considered, distal_absent, shape, flip_block
    )
    dispersion = _judge_rules(
        crit.dispersion_rules, segments, measures, considered, distal_absent, shape, flip_disp
    )
    return SegmentJudgement(crit, block, dispersion)


#: Segment measures that are a drop of the CMAP area (for :func:`dispersion_confound`).
AREA_MEASURES: tuple[str, ...] = ("area_drop_pct", "area_or_pp_drop_pct")


def dispersion_confound(j: SegmentJudgement, segments: pd.DataFrame) -> np.ndarray:
    """Segments whose block rests on the amplitude alone while the duration rose past the
    criterion's dispersion threshold: phase cancellation may explain the amplitude drop.

    An annotation, not a rule: the block stays exactly as the rule says. True where the
    block is ``yes``/``probable``, the dispersion ``yes``, and no area threshold of the rule
    that decided the block is met.
    """
    positive = (j.block_code >= PROBABLE) & (j.disp_code == YES)
    if not positive.any():
        return positive
    area_met = np.zeros(positive.shape, dtype=bool)
    for k, rule in enumerate(j.criterion.block):
        decided = j.block.deciding_rule == k
        for t in rule.thresholds:
            if t.measure in AREA_MEASURES:
                area_met |= decided & (threshold_truth(t, segments) == TRUE)
    return positive & ~area_met


_CATEGORY_NAMES = {
    int(YES): "yes",
    int(PROBABLE): "probable",
    int(NO): "no",
    int(NOT_ASSESSABLE): "not_assessable",
    int(NOT_APPLICABLE): "not_applicable",
    int(NO_SEGMENT): "not_assessable",
}


def category_codes(codes: np.ndarray, categories: Sequence[str]) -> np.ndarray:
    """Ordered outcome codes -> positions in ``categories`` (e.g. ``BLOCK_VALUES``).

    ``probable`` becomes ``yes`` where the categories have no ``probable``; a nerve with no
    segment (:data:`NO_SEGMENT`) reads ``not_assessable``.
    """
    lut = np.full(6, -1, dtype=np.int8)
    for code, name in _CATEGORY_NAMES.items():
        lut[code + 2] = categories.index(name if name in categories else "yes")
    return lut[np.asarray(codes).astype(np.int64) + 2]


#: Nerve parameter codes (truth codes and the two exclusion codes) -> PARAMETER_VALUES.
_PARAMETER_NAMES = {
    int(TRUE): "yes",
    int(FALSE): "no",
    int(UNKNOWN): "not_assessable",
    int(NOT_APPLICABLE): "not_applicable",
    int(NO_SEGMENT): "not_assessable",
}


def parameter_codes(codes: np.ndarray, categories: Sequence[str]) -> np.ndarray:
    """Item codes -> positions in ``categories`` (``yes``/``no``/``not_assessable``/...)."""
    lut = np.full(5, -1, dtype=np.int8)
    for code, name in _PARAMETER_NAMES.items():
        lut[code + 2] = categories.index(name)
    return lut[np.asarray(codes).astype(np.int64) + 2]


# --------------------------------------------------------------------------------------
# Nerve items
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NerveContext:
    """Per-nerve arrays the nerve items and patient rules read.

    Attributes
    ----------
    patient : numpy.ndarray of int64
        Patient index of each nerve (nerves of a patient are contiguous).
    n_patients : int
    names : numpy.ndarray of object
        Nerve names (``median``, ...).
    measures : dict of numpy.ndarray
        Per-nerve measures and limits (:func:`ncs.fwave.nerve_measures`), with the scheme's
        distal-duration cut-off (``distal_duration_cutoff_ms`` and its operator code
        ``distal_duration_cutoff_op``) where it has one.
    segment_nerve : numpy.ndarray of int64
        Nerve index of each segment.
    unseen : numpy.ndarray of int64, optional
        Per patient, the nerves of which nothing is known: set aside for invalid input rows
        (``errors="collect"``). Each may meet every rule, so a rule not met on the other
        nerves is unknown, never "not met", for that patient.
    """

    patient: np.ndarray
    n_patients: int
    names: np.ndarray
    measures: Mapping[str, np.ndarray]
    segment_nerve: np.ndarray
    unseen: np.ndarray | None = None

    @property
    def n_nerves(self) -> int:
        return len(self.patient)

    def segment_patient(self) -> np.ndarray:
        return self.patient[self.segment_nerve] if len(self.segment_nerve) else self.segment_nerve


def _max_at(n: int, index: np.ndarray, values: np.ndarray, initial: int) -> np.ndarray:
    out = np.full(n, initial, dtype=np.int8)
    np.maximum.at(out, index, values)
    return out


def nerve_outcomes(segment_codes: np.ndarray, ctx: NerveContext) -> np.ndarray:
    """The highest segment outcome of each nerve; ``NO_SEGMENT`` for a nerve without a
    segment, except an inexcitable one (no response at its only site), which no further
    stimulation site could show a block in: ``NOT_APPLICABLE``."""
    out = _max_at(ctx.n_nerves, ctx.segment_nerve, segment_codes, NO_SEGMENT)
    out[(out == NO_SEGMENT) & _absent(ctx.measures)] = NOT_APPLICABLE
    return out


def segment_items(j: SegmentJudgement, ctx: NerveContext) -> dict[str, np.ndarray]:
    """Per nerve, the segment findings as items, each from the rules that define it.

    ``block``: a rule with outcome ``yes`` met in a segment of the nerve; ``probable_block``:
    a rule with outcome ``probable`` met (by its own scope: a definite block in a nerve the
    probable rule excludes is not a probable block); ``dispersion``; ``block_or_dispersion``.
    Codes are truth codes, ``NOT_APPLICABLE`` where no segment of the nerve is in the rules'
    scope and ``NO_SEGMENT`` for a nerve with no segment.
    """
    rules = j.criterion.block

    def of(outcome: RuleOutcome, which: list[int]) -> np.ndarray:
        if not which:
            per_segment = np.full(outcome.code.shape, NOT_APPLICABLE, dtype=np.int8)
        else:
            per_segment = np.max(outcome.status[which], axis=0)
        return nerve_outcomes(per_segment, ctx)

    yes = [k for k, r in enumerate(rules) if r.outcome == "yes"]
    probable = [k for k, r in enumerate(rules) if r.outcome == "probable"]
    dispersion = [k for k, r in enumerate(j.criterion.dispersion_rules) if r.outcome == "yes"]
    out = {
        "block": of(j.block, yes),
        "probable_block": of(j.block, probable),
        "dispersion": of(j.dispersion, dispersion),
    }
    out["block_or_dispersion"] = np.maximum(out["block"], out["dispersion"])
    return out


def _ratio(values: np.ndarray, limit: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(limit > 0, np.round(values / limit, PCT_DECIMALS), np.nan)


def _either(cond: np.ndarray, when_true: np.ndarray, when_false: np.ndarray) -> np.ndarray:
    """Three-valued choice: where ``cond`` is unknown, the result is known only if both agree."""
    agree = np.where(when_true == when_false, when_true, UNKNOWN)
    return np.where(cond == TRUE, when_true, np.where(cond == FALSE, when_false, agree)).astype(
        np.int8
    )


_OP_CODES: tuple[str, ...] = (">", ">=", "<", "<=")
"""Operator codes of ``distal_duration_cutoff_op`` (index into this tuple; -1 = none)."""


def evaluate_item(
    item: NerveItem,
    measures: Mapping[str, np.ndarray],
    nerve_names: np.ndarray,
    segment_codes: Mapping[str, np.ndarray],
) -> np.ndarray:
    """Result of one item for every nerve: truth codes, ``NOT_APPLICABLE`` where the item
    excludes the nerve, ``NO_SEGMENT`` where it needs a segment and the nerve has none.

    Exclusions (``not_applicable``): the item's ``exclude_nerves``; a failed minimum distal
    amplitude (``min_amplitude``); an inexcitable nerve (no response at the distal site) for
    every measured item, as there is nothing to measure; F-wave latency where F waves are
    absent (absence is its own item); the distal CMAP duration without a known low-frequency
    filter or without a cut-off for the nerve at that filter. An unknown segment velocity
    leaves ``cv_slowed`` unknown unless a known velocity already meets the item.
    """
    amp_ratio = _ratio(measures["distal_amplitude_mv"], measures["amp_lln_mv"])
    inexcitable = _absent(measures)
    if item.measure in SEGMENT_MEASURES:
        out = np.asarray(segment_codes[item.measure], dtype=np.int8).copy()
    elif item.measure == "f_absent":
        v = measures["f_absent"]
        out = np.where(np.isnan(v), UNKNOWN, np.where(v == 1.0, TRUE, FALSE)).astype(np.int8)
        out = np.where(inexcitable, NOT_APPLICABLE, out)
    else:
        v = measures[item.measure]
        if item.measure == "distal_duration_ms":
            out = _distal_duration_item(item, v, measures)
        else:
            ratio = _ratio(v, measures[item.limit]) if item.limit else v
            out = truth(ratio, item.op, item.multiplier)
            if item.low_amplitude is not None:
                fraction, low_multiplier = item.low_amplitude
                low = truth(amp_ratio, "<", fraction)
                out = _either(low, truth(ratio, item.op, low_multiplier), out)
        if item.measure == "f_latency_ms":
            out = np.where(measures["f_absent"] == 1.0, NOT_APPLICABLE, out)
        if item.measure == "mcv_m_s":
            out = _velocity_item(out, measures)
        out = np.where(inexcitable, NOT_APPLICABLE, out)
    if item.min_amplitude is not None:
        op, fraction = item.min_amplitude
        gate = truth(amp_ratio, op, fraction)
        out = np.where(
            gate == FALSE,
            NOT_APPLICABLE,
            np.where(gate == UNKNOWN, np.minimum(out, UNKNOWN), out),
        )
    if item.exclude_nerves:
        out = np.where(np.isin(nerve_names, list(item.exclude_nerves)), NOT_APPLICABLE, out)
    return np.asarray(out, dtype=np.int8).reshape(len(nerve_names))


def _absent(measures: Mapping[str, np.ndarray]) -> np.ndarray:
    """Per nerve: no response at the distal site (``distal_absent`` of
    :func:`ncs.fwave.nerve_measures`; measures without it know of no absent response)."""
    absent = measures.get("distal_absent")
    if absent is None:
        return np.zeros(len(measures["distal_amplitude_mv"]), dtype=bool)
    return np.asarray(absent, dtype=bool)


def _velocity_item(out: np.ndarray, measures: Mapping[str, np.ndarray]) -> np.ndarray:
    """The slowest known velocity decides ``met``; an unknown one keeps ``no`` open."""
    n_unknown = measures.get("cv_n_unknown")
    n_measurable = measures.get("cv_n_measurable")
    n_segments = measures.get("n_segments")
    if n_unknown is not None:
        out = np.where((out == FALSE) & (n_unknown > 0), UNKNOWN, out)
    if n_measurable is not None:
        # segments whose responses are absent have no velocity: not applicable, not unknown
        out = np.where((n_measurable == 0) & (out == UNKNOWN), NOT_APPLICABLE, out)
    if n_segments is not None:
        out = np.where(n_segments == 0, NO_SEGMENT, out)
    return out.astype(np.int8)


def _distal_duration_item(
    item: NerveItem, values: np.ndarray, measures: Mapping[str, np.ndarray]
) -> np.ndarray:
    """Distal CMAP duration against the scheme's cut-off for the nerve and filter, with the
    cut-off table's own operator where it gives one."""
    cutoff = measures.get("distal_duration_cutoff_ms")
    if cutoff is None:
        return np.full(len(values), NOT_APPLICABLE, dtype=np.int8)
    op_code = measures.get("distal_duration_cutoff_op")
    ratio = _ratio(values, cutoff)
    out = truth(ratio, item.op, 1.0)
    if op_code is not None:
        for k, op in enumerate(_OP_CODES):
            sel = op_code == k
            if sel.any():
                out[sel] = truth(ratio[sel], op, 1.0)
    # without a filter setting, or without a cut-off for this nerve and filter, the item does
    # not apply (the cut-offs depend on the filter)
    no_cutoff = np.isnan(measures["lff_hz"]) | np.isnan(cutoff)
    return np.where(no_cutoff, NOT_APPLICABLE, out).astype(np.int8)


def item_codes(
    crit: Criterion, ctx: NerveContext, seg_items: Mapping[str, np.ndarray]
) -> dict[int, np.ndarray]:
    """Every nerve item of the scheme, by its position in ``crit.nerve_items``."""
    return {
        k: evaluate_item(item, ctx.measures, ctx.names, seg_items)
        for k, item in enumerate(crit.nerve_items)
    }


# --------------------------------------------------------------------------------------
# Patient rules
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdicts:
    """A scheme's patient verdicts and the rules behind them.

    Attributes
    ----------
    level : numpy.ndarray of int64
        Index into ``criterion.verdicts`` per patient.
    rules : dict of str to numpy.ndarray
        Per-patient three-valued result of each rule the verdict reads (item ids with their
        nerve-count rules, Hadden's classes, ``"segment"`` for the any-segment rules).
    names : dict of str to str
        Each rule's name in words.
    deciding : numpy.ndarray of int64
        Per patient, index into ``decided_by`` of the rule that decided the verdict (-1: none
        met; the verdict is negative or indeterminate).
    decided_by : tuple of str
        Rule ids, in order.
    patient_code : numpy.ndarray of int8
        Highest segment outcome per patient (``NO_SEGMENT`` without segments).
    item_nerves : dict of str to numpy.ndarray
        For the rules that are nerve items: per patient, the number of nerves meeting it.
    """

    level: np.ndarray
    rules: dict[str, np.ndarray]
    names: dict[str, str]
    deciding: np.ndarray
    decided_by: tuple[str, ...]
    patient_code: np.ndarray
    item_nerves: dict[str, np.ndarray] = field(default_factory=dict)


def _by_id(items: Sequence[NerveItem], codes: Mapping[int, np.ndarray]) -> dict[str, np.ndarray]:
    """Item codes by item id; items sharing an id are OR-ed (AAN's 'absent or prolonged')."""
    out: dict[str, np.ndarray] = {}
    for k, item in enumerate(items):
        c = codes[k]
        out[item.id] = np.maximum(out[item.id], c) if item.id in out else c
    return out


def _unique_items(items: Sequence[NerveItem]) -> list[NerveItem]:
    seen: dict[str, NerveItem] = {}
    for item in items:
        seen.setdefault(item.id, item)
    return list(seen.values())


def item_rule(
    item: NerveItem, items: Sequence[NerveItem], codes: Mapping[str, np.ndarray], ctx: NerveContext
) -> np.ndarray:
    """Per patient: the item with its nerve-count rule (three-valued)."""
    p, n_p = ctx.patient, ctx.n_patients
    c = codes[item.id]
    excluded = {item.id, *item.not_corroborated_by}
    others = [codes[i.id] for i in items if i.counts_as_other and i.id not in excluded]
    other = any_of(others) if others else np.full(len(c), FALSE, dtype=np.int8)
    u = ctx.unseen
    count = at_least(c, p, n_p, item.min_nerves, u)
    if item.corroboration == "none":
        return count
    if item.corroboration == "two_plus_other":
        return two_plus_other(c, other, p, n_p, u)
    pair = one_plus_other(c, other, p, n_p, u)
    return pair if item.corroboration == "one_plus_other" else any_of([count, pair])


def _unless_unseen(rule: np.ndarray, ctx: NerveContext) -> np.ndarray:
    """A per-patient rule not met on the nerves judged is unknown where a nerve was set
    aside (:attr:`NerveContext.unseen`): that nerve may meet it."""
    if ctx.unseen is None:
        return rule
    return np.where((np.asarray(ctx.unseen) > 0) & (rule == FALSE), UNKNOWN, rule).astype(np.int8)


def _three_valued(known: np.ndarray, possible: np.ndarray) -> np.ndarray:
    """TRUE where ``known``, else UNKNOWN where ``possible``, else FALSE."""
    return np.where(known, TRUE, np.where(possible, UNKNOWN, FALSE)).astype(np.int8)


def _levels(results: Sequence[np.ndarray], n: int) -> tuple[np.ndarray, np.ndarray]:
    """Index of the highest level known to be met (``len(results)`` when none could be,
    ``len(results) + 1`` when undecided), and which result decided."""
    level = np.full(n, len(results) + 1, dtype=np.int64)
    deciding = np.full(n, -1, dtype=np.int64)
    decided = np.zeros(n, dtype=bool)
    for k, result in enumerate(results):
        hit = (result == TRUE) & ~decided
        level[hit] = k
        deciding[hit] = k
        decided |= hit
    none_possible = np.all(np.stack(results) == FALSE, axis=0) if results else np.ones(n, bool)
    level[~decided & none_possible] = len(results)
    return level, deciding


def _first_met(rules: Mapping[str, np.ndarray], ids: Sequence[str], n: int) -> np.ndarray:
    """Per patient, the index (in ``ids``) of the first rule met (-1: none)."""
    out = np.full(n, -1, dtype=np.int64)
    for k, rid in reversed(list(enumerate(ids))):
        out[rules[rid] == TRUE] = k
    return out


def patient_verdicts(
    crit: Criterion,
    j: SegmentJudgement,
    ctx: NerveContext,
    items: Mapping[int, np.ndarray],
    seg_items: Mapping[str, np.ndarray],
    amp_drop_pct: np.ndarray | None = None,
) -> Verdicts:
    """The scheme's patient rule, per patient.

    ``amp_drop_pct`` (per segment) is read by Hadden 1998's "normal" class.
    """
    n_p = ctx.n_patients
    seg_patient = ctx.segment_patient()
    counts_disp = crit.patient_counts_dispersion and bool(crit.dispersion_rules)
    seg_code = np.maximum(j.block_code, j.disp_code) if counts_disp else j.block_code
    patient_code = _max_at(n_p, ctx.patient, nerve_outcomes(seg_code, ctx), NO_SEGMENT)
    kind = crit.verdict_kind
    segment_rule = _unless_unseen(
        np.select(
            [patient_code >= PROBABLE, patient_code == NOT_ASSESSABLE, patient_code == NO_SEGMENT],
            [TRUE, UNKNOWN, UNKNOWN],
            FALSE,
        ).astype(np.int8),
        ctx,
    )
    names: dict[str, str] = {}
    for item in crit.nerve_items:  # items sharing an id are one rule (AAN's "absent or prolonged")
        names[item.id] = f"{names[item.id]} or {item.name}" if item.id in names else item.name
    if kind in ("any_segment", "cb_grade"):
        names["segment"] = "a segment meets a rule"
        if kind == "any_segment":
            level = np.select([patient_code >= PROBABLE, segment_rule == FALSE], [0, 1], 2)
        else:
            level = np.select(
                [patient_code == YES, patient_code == PROBABLE, segment_rule == FALSE],
                [0, 1, 2],
                3,
            )
        deciding = np.where(patient_code >= PROBABLE, 0, -1)
        return Verdicts(
            level.astype(np.int64),
            {"segment": segment_rule},
            names,
            deciding.astype(np.int64),
            ("segment",),
            patient_code,
        )
    codes = _by_id(crit.nerve_items, items)
    if kind == "simon2013":
        # a patient with no segment has no Katz finding to report: the items decide
        katz = _unless_unseen(
            np.where(patient_code == NO_SEGMENT, FALSE, segment_rule).astype(np.int8), ctx
        )
        rules = {"katz": katz}
        names["katz"] = "Katz 2002 block or dispersion in a segment"
        for item in _unique_items(crit.nerve_items):
            rules[item.id] = at_least(codes[item.id], ctx.patient, n_p, item.min_nerves, ctx.unseen)
        result = any_of(list(rules.values()))
        level, _ = _levels([result], n_p)
        ids = tuple(rules)
        deciding = _first_met(rules, ids, n_p)
        return Verdicts(
            level, rules, names, deciding, ids, patient_code, _nerves_meeting(codes, ctx)
        )
    if kind in ("efns2010_cidp", "ean2021_cidp"):
        rules = {
            i.id: item_rule(i, crit.nerve_items, codes, ctx)
            for i in _unique_items(crit.nerve_items)
        }
        parameters = [i.id for i in _unique_items(crit.nerve_items) if i.counts_as_other]
        full = any_of([rules[i] for i in parameters])
        single_rules = {i: at_least(codes[i], ctx.patient, n_p, 1, ctx.unseen) for i in parameters}
        single = any_of(list(single_rules.values()))
        if kind == "efns2010_cidp":
            level, by_level = _levels([full, rules["probable"], single], n_p)
        else:
            level, by_level = _levels([full, single], n_p)
        ids = (*parameters, *(i for i in rules if i not in parameters))
        first_full = _first_met(rules, ids, n_p)
        single_ids = tuple(f"{i}:1" for i in parameters)
        first_single = _first_met({f"{i}:1": c for i, c in single_rules.items()}, single_ids, n_p)
        deciding = np.full(n_p, -1, dtype=np.int64)
        full_level = by_level == 0
        deciding[full_level] = first_full[full_level]
        if kind == "efns2010_cidp":
            deciding[by_level == 1] = ids.index("probable")
        single_level = by_level == (2 if kind == "efns2010_cidp" else 1)
        deciding[single_level] = len(ids) + first_single[single_level]
        for i in parameters:
            names[f"{i}:1"] = f"{names[i]} in one nerve"
        all_rules = {**rules, **{f"{i}:1": c for i, c in single_rules.items()}}
        return Verdicts(
            level,
            all_rules,
            names,
            deciding,
            (*ids, *single_ids),
            patient_code,
            _nerves_meeting(codes, ctx),
        )
    if kind == "aan1991_cidp":
        rules = {
            i.id: item_rule(i, crit.nerve_items, codes, ctx)
            for i in _unique_items(crit.nerve_items)
        }
        met = k_of(list(rules.values()), crit.option("min_items"))
        level, _ = _levels([met], n_p)
        ids = tuple(rules)
        deciding = np.where(met == TRUE, 0, -1).astype(np.int64)
        names["min_items"] = f"at least {crit.option('min_items')} of the items"
        return Verdicts(
            level, rules, names, deciding, ("min_items",), patient_code, _nerves_meeting(codes, ctx)
        )
    if kind == "hadden1998_gbs":
        return _hadden(crit, ctx, codes, patient_code, seg_patient, amp_drop_pct)
    raise ValueError(f"unknown verdict rule {kind!r} in criterion {crit.id!r}")


#: Hadden 1998 classes in the order they are tried, with their rule in words.
HADDEN_CLASSES: tuple[tuple[str, str], ...] = (
    ("demyelinating", "a demyelinating feature in each of >= 2 nerves"),
    ("demyelinating_one", ">= 2 demyelinating features in the one excitable nerve"),
    ("inexcitable", "no distal response in any nerve (or only one, < 10% of LLN)"),
    ("axonal", "no demyelinating feature and distal CMAP < 80% of LLN in >= 2 nerves"),
    ("normal", "every nerve within normal limits"),
)


def _hadden(
    crit: Criterion,
    ctx: NerveContext,
    codes: Mapping[str, np.ndarray],
    patient_code: np.ndarray,
    seg_patient: np.ndarray,
    amp_drop_pct: np.ndarray | None,
) -> Verdicts:
    """Hadden 1998 classes per patient (three-valued), tried in order."""
    options = dict(crit.options)
    p, n_p = ctx.patient, ctx.n_patients
    m = ctx.measures
    amp_ratio = _ratio(m["distal_amplitude_mv"], m["amp_lln_mv"])
    judgeable = truth(amp_ratio, ">", options["judgeable_above"])
    items = []
    for c in codes.values():
        gated = np.where(
            judgeable == FALSE,
            NOT_APPLICABLE,
            np.where(judgeable == UNKNOWN, np.minimum(c, UNKNOWN), c),
        )
        items.append(np.maximum(gated, FALSE).astype(np.int8))
    stack = np.stack(items)
    feature = any_of(items)
    n_true = (stack == TRUE).sum(axis=0)
    n_maybe = (stack >= UNKNOWN).sum(axis=0)
    two_items = np.where(n_true >= 2, TRUE, np.where(n_maybe >= 2, UNKNOWN, FALSE)).astype(np.int8)

    # a nerve is excitable when its distal site responds: an unknown amplitude (not measured,
    # or set aside as implausible) is still a response; a 0 mV one is an absent response
    excitable = ~_absent(m) & ~(m["distal_amplitude_mv"] == 0)
    n_excitable = np.bincount(p, weights=excitable, minlength=n_p)
    u = np.zeros(n_p) if ctx.unseen is None else np.asarray(ctx.unseen, dtype=float)
    # an unseen nerve may or may not respond
    only_one = _three_valued(
        (n_excitable == 1) & (u == 0), (n_excitable <= 1) & (n_excitable + u >= 1)
    )
    demyelinating = at_least(feature, p, n_p, options["demyelinating_min_nerves"], u)
    demyelinating_one = all_of([at_least(two_items, p, n_p, 1, u), only_one])

    tiny = truth(amp_ratio, "<", options["inexcitable_below"])
    none_excitable = _three_valued((n_excitable == 0) & (u == 0), n_excitable == 0)
    tiny_excitable = np.where(excitable, tiny, FALSE).astype(np.int8)
    inexcitable = any_of(
        [none_excitable, all_of([only_one, at_least(tiny_excitable, p, n_p, 1, u)])]
    )

    low = truth(amp_ratio, "<", options["axonal_below"])
    axonal = all_of(
        [
            negate(at_least(feature, p, n_p, 1, u)),
            at_least(low, p, n_p, options["axonal_min_nerves"], u),
        ]
    )

    drop = np.full(len(ctx.segment_nerve), np.nan) if amp_drop_pct is None else amp_drop_pct
    ok = truth(drop, "<", options["normal_drop_below_pct"])
    segment_ok = np.full(ctx.n_nerves, TRUE, dtype=np.int8)
    np.minimum.at(segment_ok, ctx.segment_nerve, ok)
    f_present = np.where(
        np.isnan(m["f_absent"]), UNKNOWN, np.where(m["f_absent"] == 0.0, TRUE, FALSE)
    ).astype(np.int8)
    within = options["normal_within"]
    nerve_normal = all_of(
        [
            truth(amp_ratio, ">=", within),
            truth(_ratio(m["dml_ms"], m["dml_uln_ms"]), "<=", within),
            f_present,
            truth(_ratio(m["f_latency_ms"], m["f_latency_uln_ms"]), "<=", within),
            truth(_ratio(m["mcv_m_s"], m["cv_lln_m_s"]), ">=", within),
            segment_ok,
        ]
    )
    normal = negate(at_least(negate(nerve_normal), p, n_p, 1, u))
    rules = {
        "demyelinating": demyelinating,
        "demyelinating_one": demyelinating_one,
        "inexcitable": inexcitable,
        "axonal": axonal,
        "normal": normal,
    }
    ids = tuple(name for name, _ in HADDEN_CLASSES)
    names = dict(HADDEN_CLASSES)
    deciding = np.full(n_p, -1, dtype=np.int64)
    for k, rid in enumerate(ids):
        hit = (rules[rid] == TRUE) & (deciding < 0)
        deciding[hit] = k
    verdict_of_rule = [crit.verdicts.index(r.removesuffix("_one")) for r in ids]
    level = np.where(
        deciding >= 0,
        np.asarray(verdict_of_rule, dtype=np.int64)[np.maximum(deciding, 0)],
        crit.verdicts.index("equivocal"),
    ).astype(np.int64)
    item_nerves = {}
    for k, item in enumerate(_unique_items(crit.nerve_items)):
        rules[f"item:{item.id}"] = at_least(items[k], p, n_p, 1, u)
        names[f"item:{item.id}"] = item.name
        item_nerves[f"item:{item.id}"] = np.bincount(p, weights=items[k] == TRUE, minlength=n_p)
    item_nerves = {k: v.astype(np.int64) for k, v in item_nerves.items()}
    return Verdicts(level, rules, names, deciding, ids, patient_code, item_nerves)


def _nerves_meeting(codes: Mapping[str, np.ndarray], ctx: NerveContext) -> dict[str, np.ndarray]:
    """Per item id: the number of each patient's nerves meeting it."""
    return {
        k: np.bincount(ctx.patient, weights=c == TRUE, minlength=ctx.n_patients).astype(np.int64)
        for k, c in codes.items()
    }
