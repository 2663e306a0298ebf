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
from ncs._codes import ColumnCache, categorical, equals_mask, floats, names_of
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


def threshold_phrase(t: Threshold, segments: pd.DataFrame, blank: np.ndarray | None = None) -> list:
    """E.g. "amplitude fell 42.0% (>30%)", "duration +9.0% (not >30%)", "area unknown".

    Returned as sentence parts, each taken from a short table (the words around the numbers
    per operator/value pair and outcome, each distinct number written once), to be joined
    with the rest of the sentence in one go. Rows in ``blank`` get no words at all (their
    sentence says something else).
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
            sel = which == k if len(pairs) > 1 else slice(None)
            met[sel] = OPERATORS[op](compared[sel], value)
    known = ~np.isnan(compared)
    hide = np.zeros(n, dtype=bool) if blank is None else np.asarray(blank, dtype=bool)
    outcome = 2 * which + (~met).astype(np.int64)  # (pair, met) -> row of the word tables

    def pick(codes: np.ndarray, table: list[str], missing: int, empty: int) -> np.ndarray:
        """Codes with the unknown rows at ``missing`` and the blank ones at ``empty``."""
        return np.where(hide, empty, np.where(known, codes, missing))

    if t.of is not None:
        words = [w for b in bounds for w in (f" ({b})", f" (not {b})")]
        suffixes = [f"% of the limit{w}" for w in words]
        percent = compared * 100
        ratios, ratio = tx.number_table(
            percent, tx.decimals_apart(percent, thresholds * 100, _DECIMALS_OF_LIMIT)
        )
        mvs, mv = tx.number_table(raw, _DECIMALS_MV)
        limit_word = LIMIT_LABELS.get(t.of, t.of)
        no_raw = np.isnan(raw)
        # lead: "<label> " | "<label> unknown" (no value) | "" ; then the value, then
        # " mV = " | " mV, LLN unknown" (no limit) | "" ; the ratio and its bound
        lead = np.where(hide, 2, np.where(no_raw, 1, 0))
        middle = np.where(hide | no_raw, 2, np.where(known, 0, 1))
        return [
            tx.words([f"{label} ", f"{label} unknown", ""], lead),
            tx.words([*mvs, ""], np.where(hide | no_raw, len(mvs), mv)),
            tx.words([" mV = ", f" mV, {limit_word} unknown", ""], middle),
            tx.words([*ratios, ""], pick(ratio, ratios, len(ratios), len(ratios))),
            tx.words([*suffixes, ""], pick(outcome, suffixes, len(suffixes), len(suffixes))),
        ]
    is_mv = t.measure.endswith("_mv")
    base = _DECIMALS_MV if is_mv else _DECIMALS_PCT
    decimals = tx.decimals_apart(np.abs(raw) if t.absolute else raw, thresholds, base)
    unit = "%" if t.measure.endswith("_pct") else (" mV" if is_mv else "")
    change = "|change| " if t.absolute else ""
    suffixes = [f"{unit}{w}" for b in bounds for w in (f" ({change}{b})", f" ({change}not {b})")]
    if t.measure.endswith("_drop_pct"):
        numbers, index = tx.number_table(np.abs(raw), decimals)
        prefixes = [f"{label} fell ", f"{label} rose "]
        prefix = (raw < 0).astype(np.int64)
    else:
        numbers, index = tx.number_table(raw, decimals, signed=t.measure.endswith("_pct"))
        prefixes = [f"{label} "]
        prefix = np.zeros(n, dtype=np.int64)
    unknown = f"{label} unknown"
    n_suffix = len(suffixes)
    if len(prefixes) * len(numbers) * n_suffix > max(n, 64):  # numbers barely repeat
        p_table = [*prefixes, unknown, ""]
        return [
            tx.words(p_table, pick(prefix, p_table, len(prefixes), len(prefixes) + 1)),
            tx.words([*numbers, ""], pick(index, numbers, len(numbers), len(numbers))),
            tx.words([*suffixes, ""], pick(outcome, suffixes, n_suffix, n_suffix)),
        ]
    # every (prefix, number, bound and outcome) is written once; the rows take theirs
    table = [p + num + suf for p in prefixes for num in numbers for suf in suffixes]
    code = (prefix * len(numbers) + index) * n_suffix + outcome
    table += [unknown, ""]
    return [tx.words(table, pick(code, table, len(table) - 2, len(table) - 1))]


def _phrase_parts(
    thresholds: Sequence[Threshold],
    segments: pd.DataFrame,
    joiner: str,
    blank: np.ndarray | None = None,
) -> list:
    """The thresholds' phrases with their joiner, as parts of a sentence (not yet joined)."""
    parts: list = []
    hidden = blank is not None and bool(np.any(blank))
    for k, t in enumerate(thresholds):
        if k:
            parts.append(
                tx.words([joiner, ""], np.asarray(blank, dtype=np.int64)) if hidden else joiner
            )
        parts.extend(threshold_phrase(t, segments, blank if hidden else None))
    return parts


def _joined(parts: list) -> tx.Text:
    return parts[0] if len(parts) == 1 else tx.join(*parts)


def _rule_parts(rule: SegmentRule, segments: pd.DataFrame, blank=None) -> list:
    joiner = " and " if rule.combine == "all" else ", "
    return _phrase_parts(rule.thresholds, segments, joiner, blank)


def _precondition_truth(rule: SegmentRule, segments: pd.DataFrame) -> np.ndarray:
    out = np.full(len(segments), TRUE, dtype=np.int8)
    for t in rule.preconditions:
        out = np.minimum(out, threshold_truth(t, segments))
    return out


def _outcome_table(name: str) -> list[str]:
    """Words per outcome code (index: code + 1)."""
    table = {
        int(NO): f"no {name}",
        int(NOT_ASSESSABLE): f"{name} not assessable",
        int(PROBABLE): f"probable {name}",
        int(YES): name,
        int(NOT_APPLICABLE): f"{name} not applicable",
    }
    return [table[c] for c in range(-1, 4)]


def _scope_note(crit: Criterion, rules: Sequence[SegmentRule]) -> str:
    return crit.scope.note or "; ".join(dict.fromkeys(r.scope.note for r in rules if r.scope.note))


def _rule_body(
    rule: SegmentRule,
    outcome: RuleOutcome,
    segments: pd.DataFrame,
    rows: np.ndarray | None,
    columns: list[str],
    blank: np.ndarray | None = None,
) -> list:
    """The thresholds' words (and the preconditions' where they matter) for some rows, as
    sentence parts."""
    seg = segments if rows is None else _rows_of(segments, rows, columns)
    code = outcome.code if rows is None else outcome.code[rows]
    why = outcome.why if rows is None else outcome.why[rows]
    if not rule.preconditions:
        return _rule_parts(rule, seg, blank)
    failed = why == WHY_PRECONDITION
    pre_text = _joined(_phrase_parts(rule.preconditions, seg, " and "))
    if failed.all():
        return [pre_text]
    pre = _precondition_truth(rule, seg)
    body = _joined(_rule_parts(rule, seg))
    # the rule held, or it could not be judged for want of its precondition: say so
    shown = (code >= PROBABLE) | ((code == NOT_ASSESSABLE) & (pre != TRUE))
    if shown.any():
        body = tx.where(shown, tx.join(body, ", ", pre_text), body)
    return [tx.where(failed, pre_text, body) if failed.any() else body]


def _aspect_parts(
    crit: Criterion,
    rules: Sequence[SegmentRule],
    outcome: RuleOutcome,
    segments: pd.DataFrame,
    hide: np.ndarray | None = None,
) -> list:
    """Sentence parts for one aspect (block or dispersion) from how its rules decided.

    Each rule's words are built only for the segments that rule explains; the parts are
    joined once, with the rest of the sentence, by :func:`explain_findings`. A segment the
    rules exclude (outside their scope, no distal response) reads one phrase instead; rows
    in ``hide`` get no words for this aspect at all.
    """
    n = len(outcome.code)
    name = rules[0].name
    deciding = outcome.deciding_rule
    scope = outcome.why == WHY_SCOPE
    absent = outcome.why == WHY_DISTAL_ABSENT
    hidden = np.zeros(n, dtype=bool) if hide is None else np.asarray(hide, dtype=bool)
    special = scope | absent | hidden  # rows whose words are the outcome part alone
    used = [k for k in range(len(rules)) if (deciding == k).any()]
    if len(used) <= 1:
        rule = rules[used[0]] if used else None
        if rule is None:
            parts = [tx.words([""], np.zeros(n, dtype=np.int64))]
        elif not rule.preconditions:  # phrases straight from their tables, blank where special
            parts = _rule_body(rule, outcome, segments, None, [], special)
        else:  # worded with its preconditions (materialised): blank the special rows
            body = _joined(_rule_body(rule, outcome, segments, None, []))
            parts = [tx.where(special, "", body) if special.any() else body]
    else:
        columns = _columns_used(crit, segments)
        pieces = []
        for k in used:
            rows = np.flatnonzero((deciding == k) & ~special)
            if rows.size:
                pieces.append(
                    (rows, _joined(_rule_body(rules[k], outcome, segments, rows, columns)))
                )
        rest = np.flatnonzero(special | (deciding < 0))
        if rest.size:  # no rule's words: the outcome part says it all
            pieces.append((rest, tx.words([""], np.zeros(rest.size, dtype=np.int64))))
        parts = [tx.assemble(pieces, n)]
    note = _scope_note(crit, rules)
    note = f" ({note})" if note else ""
    table = [
        *_outcome_table(name),
        f"{name} not applicable{note}",
        f"no response at the distal site: {name} not applicable",
        "",
    ]
    code = outcome.code.astype(np.int64) + 1
    code = np.where(scope, 5, np.where(absent, 6, code))
    code = np.where(hidden, 7, code)
    colon = tx.words([": ", ""], special.astype(np.int64)) if special.any() else ": "
    return [*parts, colon, tx.words(table, code)]


def explain_findings(
    j: SegmentJudgement, segments: pd.DataFrame, confound: np.ndarray | None = None
) -> tx.Text:
    """One explanation sentence per segment for one criterion (see the module docstring).

    A block resting on the amplitude alone beside a dispersed response
    (:func:`ncs.engine.dispersion_confound`) gets "amplitude-only drop with duration +45.0%:
    phase cancellation possible". The sentence is joined once from its parts.
    """
    n = len(j.block.code)
    if n == 0:
        return tx.empty(0)
    if confound is None:
        confound = dispersion_confound(j, segments)

    def build(rows: np.ndarray | None) -> tx.Text:
        if rows is None:
            return _finding_sentences(j, segments, confound)
        return _finding_sentences(j.take(rows), _row_view(segments, rows), confound[rows])

    return tx.chunked(build, n)


def _row_view(segments: pd.DataFrame | ColumnCache, rows: np.ndarray) -> ColumnCache:
    """Some rows of the segments, each column gathered when it is read."""
    if isinstance(segments, ColumnCache):
        if segments.rows is not None:
            return ColumnCache(segments.frame, segments.rows[rows])
        return ColumnCache(segments.frame, rows)
    return ColumnCache(segments, rows)


def _rows_of(segments: pd.DataFrame | ColumnCache, rows: np.ndarray, columns: list[str]):
    """Some rows of the segments: a view of a :class:`ColumnCache` gathers each column when
    it is read (a rule's words read a few columns); from a table, only ``columns`` are
    copied."""
    if isinstance(segments, ColumnCache):
        return segments.view(rows)
    return segments[columns].iloc[rows].reset_index(drop=True)


def _finding_sentences(
    j: SegmentJudgement, segments: pd.DataFrame, confound: np.ndarray
) -> tx.Text:
    crit = j.criterion
    parts = _aspect_parts(crit, crit.block, j.block, segments)
    if crit.dispersion_rules:
        # where both aspects are excluded for the same reason, the block part says it once
        both_absent = (j.block.why == WHY_DISTAL_ABSENT) & (j.dispersion.why == WHY_DISTAL_ABSENT)
        both_scope = (j.block.why == WHY_SCOPE) & (j.dispersion.why == WHY_SCOPE)
        same = both_absent | both_scope
        disp = _aspect_parts(crit, crit.dispersion_rules, j.dispersion, segments, same)
        separator = tx.words(["; ", ""], same.astype(np.int64)) if same.any() else "; "
        parts = [*parts, separator, *disp]
    if confound.any():
        # "; amplitude-only drop with duration +45.0%: ..." where flagged, "" elsewhere
        numbers, index = tx.number_table(floats(segments["dur_change_pct"]), 1, signed=True)
        clauses = [
            "",
            *(
                f"; amplitude-only drop with duration {x}%: phase cancellation possible"
                for x in numbers
            ),
        ]
        parts.append(tx.words(clauses, np.where(confound, index + 1, 0)))
    parts.append(f" ({crit.short})")
    if "implausible" in segments.columns:
        notes = categorical(segments["implausible"])
        codes = np.asarray(notes.codes).astype(np.int64)
        if (codes >= 0).any():  # "not judged as data: <why>; " before the sentence
            prefixes = ["", *(f"not judged as data: {c}; " for c in names_of(notes))]
            parts.insert(0, tx.words(prefixes, codes + 1))
    return tx.join(*parts)


class LazyReasons:
    """One criterion's reason sentences, rendered only for the rows that are asked for.

    Indexing (an integer array, a boolean mask or a slice) renders those rows and returns
    them as a text column (:mod:`ncs._text`), so the batch path can skip building millions
    of sentences and still explain the few findings a patient verdict cites. Rendering a
    subset gives the same sentences as rendering everything: each sentence depends on its
    own row only.
    """

    __slots__ = ("judgement", "segments")

    def __init__(self, judgement: SegmentJudgement, segments: pd.DataFrame) -> None:
        self.judgement = judgement
        self.segments = segments

    def __len__(self) -> int:
        return len(self.judgement.block.code)

    def __getitem__(self, rows) -> tx.Text:
        idx = np.arange(len(self))[rows]
        columns = _columns_used(self.judgement.criterion, self.segments)
        return explain_findings(
            self.judgement.take(idx), self.segments[columns].iloc[idx].reset_index(drop=True)
        )


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
    first_reason: tx.Text,
    first_where: tx.Text,
    has_reason: np.ndarray,
    counts: Mapping[str, np.ndarray],
) -> tx.Text:
    """Evidence sentences of the any-segment rules (Katz, Bouche, MMN grades), per patient.

    Parameters
    ----------
    first_reason, first_where : text columns
        For the patients with a positive finding (``has_reason``, in patient order), the
        sentence of the first one and where it is ("median R, wrist to elbow").
    has_reason : numpy.ndarray of bool
        Per patient: has a positive finding.
    counts : mapping
        Per patient: ``n_segments``, ``n_positive``, ``n_not_assessable``,
        ``n_not_applicable``, ``n_one_site`` (nerves with one site only), ``n_implausible``,
        ``n_set_aside`` (nerves set aside for invalid input rows).
    """
    code = verdicts.patient_code
    judged = counts["n_segments"] - counts["n_not_applicable"]
    rule = verdict_rule(crit)
    zeros = np.zeros(len(code), dtype=np.int64)

    def other(key: tuple) -> str:
        c, n_judged, n_open = key[:3]
        if c in (NO, NOT_APPLICABLE):
            if n_judged > 0:
                text = f"all {n_judged} segment(s) judged; none met the rule ({rule})"
            else:
                text = (
                    "no segment the rule applies to: every nerve is inexcitable or excluded by "
                    "the rule"
                )
        elif c == NOT_ASSESSABLE:
            text = (
                f"no segment met the rule, but {n_open} of {n_judged} segment(s) could not be "
                "judged (missing measures)"
            )
        elif c == NO_SEGMENT:
            text = "no segment to judge (each nerve stimulated at one site only)"
        else:
            text = ""
        return text + _not_judged_words(key[3:])

    positive = code >= PROBABLE
    keys = [
        np.where(positive, PROBABLE, code),
        np.where(positive, 0, judged),
        np.where(positive, 0, counts["n_not_assessable"]),
        *_not_judged_keys(counts, zeros),
    ]
    text = tx.by_key(keys, other)
    rows = np.flatnonzero(positive & has_reason)
    if rows.size:
        tail = tx.by_key([counts["n_positive"][rows], *(k[rows] for k in keys[3:])], _positive_tail)
        lead = tx.join(first_where, ": ", first_reason, tail)
        text = tx.scatter(text, rows, tx.join(lead, tx.take(text, rows)))
    return text


def _positive_tail(key: tuple) -> str:
    return f" [{key[0]} positive finding(s) in all]"


def _not_judged_keys(counts: Mapping[str, np.ndarray], zeros: np.ndarray) -> list[np.ndarray]:
    return [
        counts["n_not_applicable"],
        counts.get("n_implausible", zeros),
        counts.get("n_one_site", zeros),
        counts.get("n_set_aside", zeros),
    ]


#: How many keys :func:`_not_judged_keys` gives (they close every evidence key).
_N_NOT_JUDGED = 4


def _not_judged_words(key: tuple) -> str:
    """'; 2 segment(s) not applicable (excluded by the rule); 1 nerve(s) with one site only'."""
    n_excluded, n_odd, n_one, n_set_aside = key
    out = ""
    if n_excluded:
        out += f"; {n_excluded} segment(s) not applicable (excluded by the rule)"
    if n_odd:
        out += f"; {n_odd} segment(s) with a value that cannot be a CMAP (not judged)"
    if n_one:
        out += f"; {n_one} nerve(s) with one site only (no segment)"
    if n_set_aside:
        out += (
            f"; {n_set_aside} nerve(s) set aside for invalid input rows (not judged: they "
            "could meet the rules)"
        )
    return out


def rules_evidence(
    crit: Criterion,
    verdicts: Verdicts,
    not_applicable: Mapping[str, np.ndarray],
    counts: Mapping[str, np.ndarray],
) -> tx.Text:
    """Evidence sentences of the guideline schemes, per patient.

    Starts with the rule that decided the verdict ("decided by: (b) motor conduction velocity
    slowed, in >= 2 nerves"), then the other rules met (each item with the number of nerves
    meeting it), those the missing data could still meet, and what the rules excluded.
    Each distinct combination is worded once (:func:`ncs._text.by_key`).

    Parameters
    ----------
    not_applicable : mapping of item id to numpy.ndarray
        Per patient, the number of nerves in which the rules excluded each measured item.
    """
    ids = verdicts.decided_by
    hadden = crit.verdict_kind == "hadden1998_gbs"
    rule_ids = [rid for rid in verdicts.rules if not rid.endswith(":1")]
    zeros = np.zeros(len(verdicts.level), dtype=np.int64)
    keys = [verdicts.deciding]
    for rid in rule_ids:
        result = verdicts.rules[rid]
        nerves = verdicts.item_nerves.get(rid)
        # per rule: 0 not met, 1 open, 2 + nerves met
        keys.append(
            np.where(
                result == TRUE,
                2 + (nerves if nerves is not None else zeros),
                np.where(result == UNKNOWN, 1, 0),
            )
        )
    excluded_ids = list(not_applicable)
    keys.extend(not_applicable[i] for i in excluded_ids)
    keys.extend(_not_judged_keys(counts, zeros))
    lead_table = [f"decided by: {scheme_rule(crit, rid, verdicts.names)}" for rid in ids]

    def words(key: tuple) -> str:
        deciding = key[0]
        states = key[1 : 1 + len(rule_ids)]
        excluded = key[1 + len(rule_ids) : 1 + len(rule_ids) + len(excluded_ids)]
        met, open_ = [], []
        for rid, state in zip(rule_ids, states, strict=True):
            label = _rule_label(rid, verdicts.names)
            if state == 1:
                open_.append(label)
            elif state >= 2 and rid not in _CLASS_RULES:
                if deciding >= 0 and ids[deciding] == rid:
                    continue
                nerves = verdicts.item_nerves.get(rid)
                met.append(f"{label} in {state - 2} nerve(s)" if nerves is not None else label)
        if deciding >= 0:
            text = lead_table[deciding]
            if met:
                text += "; also met: " + "; ".join(met)
        elif hadden:
            text = "no class is met on the known data"
            if met:
                text += "; abnormal, but not enough for a class: " + "; ".join(met)
        else:
            text = (
                "met, but not enough for the verdict's rule: " + "; ".join(met)
                if met
                else "no rule met"
            )
        if open_:
            text += "; could be met with the missing data: " + "; ".join(open_)
        shown = [f"({i}) in {c} nerve(s)" for i, c in zip(excluded_ids, excluded, strict=True) if c]
        if shown:
            text += "; not applicable: " + "; ".join(shown)
        return text + _not_judged_words(key[-_N_NOT_JUDGED:])

    return tx.by_key(keys, words)


_CLASS_RULES = frozenset({"demyelinating", "demyelinating_one", "inexcitable", "axonal", "normal"})


def _rule_label(rid: str, names: Mapping[str, str]) -> str:
    """How a patient rule is named in evidence: "(b) motor conduction velocity slowed"."""
    name = names.get(rid, rid)
    if rid in _CLASS_RULES:
        return f"{rid.removesuffix('_one')}: {name}"
    if rid in ("katz", "segment", "min_items"):
        return name
    return f"({rid.removeprefix('item:').removesuffix(':1')}) {name}"
