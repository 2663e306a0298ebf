"""Sentences for findings and verdicts, built column-wise (no per-row Python formatting).

A finding's sentence states the numbers, the threshold each was held against, and what
followed, e.g. ``"amplitude fell 58.0% (>50%) and area fell 62.0% (>50%) and duration +9.0%
(|change| <15%): partial conduction block (Bouche 1995)"``. What a rule excludes reads "not
applicable" with the reason (``"distal amplitude 0.80 mV = 19.5% of the limit (not ≥20% of
LLN): partial motor conduction block not applicable"``); what the data do not tell reads "not
assessable". A printed value never rounds onto the threshold it is compared with.

This module reads the rules (:mod:`ncs.criteria`) and the engine's outcomes
(:mod:`ncs.engine`); it judges nothing itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ncs import _text as tx
from ncs._codes import equals_mask, floats
from ncs.criteria import Criterion, SegmentRule, Threshold
from ncs.engine import (
    NO,
    NO_SEGMENT,
    NOT_APPLICABLE,
    NOT_ASSESSABLE,
    PROBABLE,
    WHY_DISTAL_ABSENT,
    WHY_PRECONDITION,
    WHY_SCOPE,
    YES,
    RuleOutcome,
    SegmentJudgement,
    Verdicts,
    dispersion_confound,
    threshold_truth,
    threshold_values,
)
from ncs.labels import LIMIT_LABELS, MEASURE_LABELS, OP_TEXT
from ncs.measures import OPERATORS, TRUE, UNKNOWN

__all__ = [
    "LazyReasons",
    "explain_findings",
    "format_number",
    "rules_evidence",
    "segment_evidence",
    "verdict_rule",
]

format_number = tx.number
"""Format floats with a fixed number of decimals, vectorised (see :func:`ncs._text.number`)."""

#: Decimals shown for each kind of value before :func:`ncs._text.decimals_apart` adds more.
_DECIMALS_PCT = 1
_DECIMALS_MV = 2
_DECIMALS_OF_LIMIT = 0


def threshold_words(t: Threshold, segments: pd.DataFrame) -> tuple[np.ndarray, list, list[str]]:
    """Which (operator, value) applies to each row, the pairs, and each pair's bound text.

    Row code 0 is the threshold's own pair, k the k-th nerve override (the last matching
    override wins). Texts are made once per pair, not per row.
    """
    pairs = [(t.op, t.value), *((op, value) for _, op, value in t.overrides)]
    which = np.zeros(len(segments), dtype=np.int64)
    for k, (name, _, _) in enumerate(t.overrides, start=1):
        which[equals_mask(segments["nerve"], name)] = k
    unit = "%" if t.measure.endswith("_pct") else (" mV" if t.measure.endswith("_mv") else "")
    texts = []
    for op, value in pairs:
        if t.of is not None:
            texts.append(f"{OP_TEXT[op]}{value * 100:g}% of {LIMIT_LABELS.get(t.of, t.of)}")
        else:
            texts.append(f"{OP_TEXT[op]}{value:g}{unit}")
    return which, pairs, texts


def threshold_phrase(t: Threshold, segments: pd.DataFrame) -> np.ndarray:
    """E.g. "amplitude fell 42.0% (>30%)", "duration +9.0% (not >30%)", "area unknown".

    The words around the number come from a small table (one entry per operator/value pair
    and outcome), indexed per row; only the numbers are formatted per row.
    """
    raw = floats(segments[t.measure])
    compared = threshold_values(t, segments)
    label = MEASURE_LABELS.get(t.measure, t.measure)
    n = raw.shape[0]
    which, pairs, bounds = threshold_words(t, segments)
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
        suffix = tx.words([f"% of the limit{w}" for w in words], outcome)
        percent = compared * 100
        ratio = tx.number(percent, tx.decimals_apart(percent, thresholds * 100, _DECIMALS_OF_LIMIT))
        mv = tx.number(raw, _DECIMALS_MV)
        phrase = tx.join(f"{label} ", mv, " mV = ", ratio, suffix)
        limit_word = LIMIT_LABELS.get(t.of, t.of)
        missing = tx.where(
            np.isnan(raw),
            f"{label} unknown",
            tx.join(f"{label} ", mv, f" mV, {limit_word} unknown"),
        )
        return tx.where(known, phrase, missing)
    is_mv = t.measure.endswith("_mv")
    base = _DECIMALS_MV if is_mv else _DECIMALS_PCT
    decimals = tx.decimals_apart(np.abs(raw) if t.absolute else raw, thresholds, base)
    unit = "%" if t.measure.endswith("_pct") else (" mV" if is_mv else "")
    change = "|change| " if t.absolute else ""
    words = [w for b in bounds for w in (f" ({change}{b})", f" ({change}not {b})")]
    suffix = tx.words([f"{unit}{w}" for w in words], outcome)
    if t.measure.endswith("_drop_pct"):
        prefix = tx.words([f"{label} fell ", f"{label} rose "], (raw < 0).astype(int))
        number = tx.number(np.abs(raw), decimals)
    else:
        prefix = tx.strings(f"{label} ", n)
        number = tx.number(raw, decimals, signed=t.measure.endswith("_pct"))
    phrase = tx.join(prefix, number, suffix)
    if known.all():
        return phrase
    return tx.where(known, phrase, f"{label} unknown")


def _phrases(thresholds: Sequence[Threshold], segments: pd.DataFrame, joiner: str) -> np.ndarray:
    parts = [threshold_phrase(t, segments) for t in thresholds]
    out = parts[0]
    for p in parts[1:]:
        out = tx.join(out, joiner, p)
    return out


def _rule_text(rule: SegmentRule, segments: pd.DataFrame) -> np.ndarray:
    return _phrases(rule.thresholds, segments, " and " if rule.combine == "all" else ", ")


def _precondition_truth(rule: SegmentRule, segments: pd.DataFrame) -> np.ndarray:
    out = np.full(len(segments), TRUE, dtype=np.int8)
    for t in rule.preconditions:
        out = np.minimum(out, threshold_truth(t, segments))
    return out


def _outcome_words(codes: np.ndarray, name: str) -> np.ndarray:
    table = {
        int(NO): f"no {name}",
        int(NOT_ASSESSABLE): f"{name} not assessable",
        int(PROBABLE): f"probable {name}",
        int(YES): name,
        int(NOT_APPLICABLE): f"{name} not applicable",
    }
    words = [table[c] for c in range(-1, 4)]
    return tx.words(words, np.asarray(codes).astype(np.int64) + 1)


def _scope_note(crit: Criterion, rules: Sequence[SegmentRule]) -> str:
    return crit.scope.note or "; ".join(dict.fromkeys(r.scope.note for r in rules if r.scope.note))


def _explain_rules(
    crit: Criterion,
    rules: Sequence[SegmentRule],
    outcome: RuleOutcome,
    segments: pd.DataFrame,
) -> np.ndarray:
    """Sentence part for one aspect (block or dispersion) from how its rules decided."""
    n = len(segments)
    name = rules[0].name
    text = tx.strings("", n)
    code = outcome.code
    for k, rule in enumerate(rules):
        sel = outcome.deciding_rule == k
        if not sel.any():
            continue
        body = _rule_text(rule, segments)
        if rule.preconditions:
            pre = _precondition_truth(rule, segments)
            pre_text = _phrases(rule.preconditions, segments, " and ")
            failed = outcome.why == WHY_PRECONDITION
            # the rule held, or it could not be judged for want of its precondition: say so
            shown = (code >= PROBABLE) | ((code == NOT_ASSESSABLE) & (pre != TRUE))
            body = tx.where(failed, pre_text, tx.where(shown, tx.join(body, ", ", pre_text), body))
        text = body if sel.all() else tx.where(sel, body, text)
    text = tx.join(text, ": ", _outcome_words(code, name))
    # the rarer outcomes replace the sentence only where they occur
    scope = outcome.why == WHY_SCOPE
    if scope.any():
        note = _scope_note(crit, rules)
        note = f" ({note})" if note else ""
        text = tx.where(scope, f"{name} not applicable{note}", text)
    absent = outcome.why == WHY_DISTAL_ABSENT
    if absent.any():
        text = tx.where(absent, f"no response at the distal site: {name} not applicable", text)
    return text


def explain_findings(
    j: SegmentJudgement, segments: pd.DataFrame, confound: np.ndarray | None = None
) -> np.ndarray:
    """One explanation sentence per segment for one criterion (see the module docstring).

    A block resting on the amplitude alone beside a dispersed response
    (:func:`ncs.engine.dispersion_confound`) gets "amplitude-only drop with duration +45.0%:
    phase cancellation possible".
    """
    crit = j.criterion
    n = len(j.block.code)
    if n == 0:
        return np.array([], dtype=tx.S)
    if confound is None:
        confound = dispersion_confound(j, segments)
    text = _explain_rules(crit, crit.block, j.block, segments)
    if crit.dispersion_rules:
        disp = _explain_rules(crit, crit.dispersion_rules, j.dispersion, segments)
        both_absent = (j.block.why == WHY_DISTAL_ABSENT) & (j.dispersion.why == WHY_DISTAL_ABSENT)
        both_scope = (j.block.why == WHY_SCOPE) & (j.dispersion.why == WHY_SCOPE)
        text = tx.where(both_absent | both_scope, text, tx.join(text, "; ", disp))
    if confound.any():
        duration = floats(segments["dur_change_pct"])
        clause = tx.join(
            "; amplitude-only drop with duration ",
            tx.number(duration, 1, signed=True),
            "%: phase cancellation possible",
        )
        text = tx.where(confound, tx.join(text, clause), text)
    text = tx.join(text, f" ({crit.short})")
    if "implausible" in segments.columns:
        notes = segments["implausible"].array
        flagged = np.asarray(pd.notna(notes), dtype=bool)
        if flagged.any():
            words = np.where(flagged, np.asarray(notes, dtype=object), "").astype(tx.S)
            text = tx.where(flagged, tx.join("not judged as data: ", words, "; ", text), text)
    return text


class LazyReasons:
    """One criterion's reason sentences, rendered only for the rows that are asked for.

    Indexing (an integer array, a boolean mask or a slice) renders those rows and returns
    them as a NumPy string array, so the batch path can skip building millions of sentences
    and still explain the few findings a patient verdict cites. Rendering a subset gives the
    same sentences as rendering everything: each sentence depends on its own row only.
    """

    __slots__ = ("judgement", "segments")

    def __init__(self, judgement: SegmentJudgement, segments: pd.DataFrame) -> None:
        self.judgement = judgement
        self.segments = segments

    def __len__(self) -> int:
        return len(self.judgement.block.code)

    def __getitem__(self, rows) -> np.ndarray:
        idx = np.arange(len(self))[rows]
        columns = _columns_used(self.judgement.criterion, self.segments)
        return explain_findings(
            self.judgement.take(idx), self.segments[columns].iloc[idx].reset_index(drop=True)
        )

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = self[:]
        return out if dtype is None else out.astype(dtype)


def _columns_used(criterion: Criterion, segments: pd.DataFrame) -> list[str]:
    """The segment columns the criterion's sentences read (measures, limits, nerve)."""
    rules = (*criterion.block, *criterion.dispersion_rules)
    names = {"nerve", "implausible"}
    for rule in rules:
        for t in (*rule.thresholds, *rule.preconditions):
            names.add(t.measure)
            if t.of is not None:
                names.add(t.of)
    return [c for c in segments.columns if c in names]


# --------------------------------------------------------------------------------------
# Patient evidence
# --------------------------------------------------------------------------------------


SCHEME_RULES: Mapping[str, str] = {
    "any_segment": "positive verdict when any considered segment meets a rule (block, or "
    "dispersion where it counts); negative when every considered segment is known to meet "
    "none or is excluded by the rule; indeterminate otherwise (or when no segment could be "
    "judged)",
    "cb_grade": "the best conduction-block grade found in any considered segment; no_cb when "
    "every considered segment is known to meet none or is excluded by the rule",
    "simon2013": "positive when any segment meets Katz 2002 or any nerve meets an item",
    "efns2010_cidp": "definite: an item with its nerve-count rule; probable: the probable-block "
    "item with its rule; possible: any item in one nerve; the highest level known to be met "
    "is reported",
    "ean2021_cidp": "strongly supportive: an item with its nerve-count rule; weakly "
    "supportive: any item in one nerve",
    "aan1991_cidp": "met when at least 3 of the 4 items hold with their nerve counts",
    "hadden1998_gbs": "the first class that holds, in the order demyelinating, inexcitable, "
    "axonal, normal; otherwise equivocal",
}
"""Each patient rule (``Criterion.verdict_kind``) in words."""


def scheme_rule(crit: Criterion, rule_id: str | None, names: Mapping[str, str]) -> str:
    """The rule that decided a verdict in words (``rule_id`` from
    :attr:`ncs.engine.Verdicts.decided_by`), or the scheme's whole patient rule (None)."""
    kind = crit.verdict_kind
    if rule_id is None or rule_id == "segment":
        if kind in ("any_segment", "cb_grade"):
            return verdict_rule(crit)
        return SCHEME_RULES.get(kind, kind)
    label = _rule_label(rule_id, names)
    items = {i.id: i for i in crit.nerve_items}
    if rule_id.endswith(":1"):
        return label
    item = items.get(rule_id)
    return f"{label}, {item.count_rule()}" if item is not None else label


def verdict_rule(crit: Criterion) -> str:
    """The patient rule in words, e.g. ``"demyelinating if any segment meets: ..."``."""
    what = " or ".join(r.describe() for r in crit.block)
    if crit.patient_counts_dispersion and crit.dispersion_rules:
        what += "; or " + " or ".join(r.describe() for r in crit.dispersion_rules)
    return f"{crit.verdicts[0]} if any segment meets: {what}"


def segment_evidence(
    crit: Criterion,
    verdicts: Verdicts,
    first_reason: np.ndarray,
    first_where: np.ndarray,
    counts: Mapping[str, np.ndarray],
) -> np.ndarray:
    """Evidence sentences of the any-segment rules (Katz, Bouche, MMN grades), per patient.

    Parameters
    ----------
    first_reason, first_where : numpy.ndarray of str
        Per patient, the sentence of the first positive finding and where it is ("median R,
        wrist to elbow"); empty where there is none.
    counts : mapping
        Per patient: ``n_segments``, ``n_positive``, ``n_not_assessable``,
        ``n_not_applicable``, ``n_one_site`` (nerves with one site only).
    """
    n = len(verdicts.level)
    code = verdicts.patient_code
    positive = code >= PROBABLE
    text = tx.strings("", n).copy()
    if positive.any():
        text = tx.where(
            positive,
            tx.join(
                first_where,
                ": ",
                first_reason,
                " [",
                counts["n_positive"].astype(tx.S),
                " positive finding(s) in all]",
            ),
            text,
        )
    judged = counts["n_segments"] - counts["n_not_applicable"]
    rule = verdict_rule(crit)
    negative = (code == NO) | (code == NOT_APPLICABLE)
    if negative.any():
        text = tx.where(
            negative,
            tx.where(
                judged > 0,
                tx.join(
                    "all ", judged.astype(tx.S), f" segment(s) judged; none met the rule ({rule})"
                ),
                "no segment the rule applies to: every nerve is inexcitable or excluded by the "
                "rule",
            ),
            text,
        )
    open_ = code == NOT_ASSESSABLE
    if open_.any():
        text = tx.where(
            open_,
            tx.join(
                "no segment met the rule, but ",
                counts["n_not_assessable"].astype(tx.S),
                " of ",
                judged.astype(tx.S),
                " segment(s) could not be judged (missing measures)",
            ),
            text,
        )
    nothing = code == NO_SEGMENT
    if nothing.any():
        text = tx.where(
            nothing, "no segment to judge (each nerve stimulated at one site only)", text
        )
    return tx.join(text, _not_judged(counts))


def _not_judged(counts: Mapping[str, np.ndarray]) -> np.ndarray:
    """'; 2 segment(s) not applicable (excluded by the rule); 1 nerve(s) with one site only'."""
    n = len(counts["n_segments"])
    out = tx.strings("", n)
    na = counts["n_not_applicable"]
    if (na > 0).any():
        piece = tx.join("; ", na.astype(tx.S), " segment(s) not applicable (excluded by the rule)")
        out = tx.where(na > 0, tx.join(out, piece), out)
    odd = counts.get("n_implausible")
    if odd is not None and (odd > 0).any():
        piece = tx.join(
            "; ", odd.astype(tx.S), " segment(s) with a value that cannot be a CMAP (not judged)"
        )
        out = tx.where(odd > 0, tx.join(out, piece), out)
    one = counts.get("n_one_site")
    if one is not None and (one > 0).any():
        piece = tx.join("; ", one.astype(tx.S), " nerve(s) with one site only (no segment)")
        out = tx.where(one > 0, tx.join(out, piece), out)
    return out


def rules_evidence(
    crit: Criterion,
    verdicts: Verdicts,
    not_applicable: np.ndarray,
    counts: Mapping[str, np.ndarray],
) -> np.ndarray:
    """Evidence sentences of the guideline schemes, per patient.

    Starts with the rule that decided the verdict ("decided by: (b) motor conduction velocity
    slowed, in >= 2 nerves"), then the other rules met (each item with the number of nerves
    meeting it), those the missing data could still meet, and what the rules excluded.

    Parameters
    ----------
    not_applicable : numpy.ndarray of str
        Per patient, "(a) in 1 nerve(s); ..." for the items the rules excluded (may be empty).
    """
    n = len(verdicts.level)
    ids = verdicts.decided_by
    if len(ids):
        table = [f"decided by: {scheme_rule(crit, rid, verdicts.names)}" for rid in ids]
        lead = tx.words([*table, ""], np.where(verdicts.deciding < 0, len(ids), verdicts.deciding))
    else:
        lead = tx.strings("", n)
    hadden = crit.verdict_kind == "hadden1998_gbs"
    none = "no class is met on the known data" if hadden else "no rule met"
    lead = tx.where(verdicts.deciding < 0, none, lead)
    met = tx.strings("", n)
    open_ = tx.strings("", n)
    deciding_id = np.asarray([*ids, ""], dtype=object)[
        np.where(verdicts.deciding < 0, len(ids), verdicts.deciding)
    ]
    for rid, result in verdicts.rules.items():
        if rid.endswith(":1"):
            continue
        label = _rule_label(rid, verdicts.names)
        nerves = verdicts.item_nerves.get(rid)
        piece = (
            tx.join(f"{label} in ", nerves.astype(tx.S), " nerve(s)")
            if nerves is not None
            else tx.strings(label, n)
        )
        shown = (result == TRUE) & (deciding_id != rid) & (rid not in _CLASS_RULES)
        met = tx.where(shown, tx.where(met != "", tx.join(met, "; ", piece), piece), met)
        unknown = result == UNKNOWN
        open_ = tx.where(unknown, tx.where(open_ != "", tx.join(open_, "; ", label), label), open_)
    decided = verdicts.deciding >= 0
    body = tx.where(
        met != "",
        tx.where(
            decided,
            tx.join(lead, "; also met: ", met),
            tx.join(lead, "; met: ", met)
            if hadden
            else tx.join("met, but not enough for the verdict's rule: ", met),
        ),
        lead,
    )
    body = tx.where(
        open_ != "", tx.join(body, "; could be met with the missing data: ", open_), body
    )
    excluded = np.asarray(not_applicable, dtype=tx.S)
    body = tx.where(excluded != "", tx.join(body, "; not applicable: ", excluded), body)
    return tx.join(body, _not_judged(counts))


_CLASS_RULES = frozenset({"demyelinating", "demyelinating_one", "inexcitable", "axonal", "normal"})


def _rule_label(rid: str, names: Mapping[str, str]) -> str:
    """How a patient rule is named in evidence: "(b) motor conduction velocity slowed"."""
    name = names.get(rid, rid)
    if rid in _CLASS_RULES:
        return f"{rid.removesuffix('_one')}: {name}"
    if rid in ("katz", "segment", "min_items"):
        return name
    return f"({rid.removeprefix('item:').removesuffix(':1')}) {name}"
