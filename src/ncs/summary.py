"""Nerve- and patient-level roll-up of segment findings, per criterion: the result tables.

The rule engine (:mod:`ncs.engine`) decides every nerve item and patient verdict; this module
lays the codes out as the ``nerves`` and ``patients`` tables and asks :mod:`ncs.explain` for
the evidence sentences. Three-valued throughout: a nerve or patient is positive when a known
finding is positive, negative when every finding that could make it positive is known to be
negative or excluded by the rule, and indeterminate (``not_assessable`` for nerves) only where
missing data leave it open. A nerve stimulated at one site has no segment: it is listed
(``not_assessable``) but neither carries nor blocks a patient verdict; a patient with no
segment at all is indeterminate under the segment rules.

Everything is computed on integer codes with NumPy (``ufunc.at`` / ``bincount`` over nerve
and patient ids), so the cost does not grow with Python-level loops over nerves or patients.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ncs import _text as tx
from ncs._codes import (
    CATEGORY_COLUMNS,
    categorical,
    concat,
    constant,
    fixed,
    from_codes,
    from_labels,
    from_table,
    labels,
    names_of,
    table,
    take,
)
from ncs.criteria import BLOCK_VALUES, DISPERSION_VALUES, Criterion
from ncs.engine import (
    NOT_APPLICABLE,
    NOT_ASSESSABLE,
    PROBABLE,
    YES,
    NerveContext,
    SegmentJudgement,
    category_codes,
    item_codes,
    nerve_outcomes,
    parameter_codes,
    patient_verdicts,
    segment_items,
)
from ncs.explain import LazyReasons, rules_evidence, scheme_rule, segment_evidence
from ncs.fwave import NERVE_MEASURES
from ncs.measures import TRUE
from ncs.normative import distal_duration_cutoffs
from ncs.schema import nerve_keys, patient_keys

__all__ = [
    "NERVE_COLUMNS",
    "PARAMETERS",
    "PARAMETER_VALUES",
    "PATIENT_COLUMNS",
    "nerve_context",
    "summarize",
]

PARAMETERS: tuple[str, ...] = (
    "dml_prolonged",
    "cv_slowed",
    "f_latency_prolonged",
    "f_waves_absent",
    "conduction_block",
    "probable_conduction_block",
    "temporal_dispersion",
    "distal_duration_prolonged",
)
"""Per-nerve demyelinating parameters of the guideline schemes (missing where the scheme has
no such item)."""
PARAMETER_VALUES: tuple[str, ...] = ("yes", "no", "not_assessable", "not_applicable")
"""Values of the parameter columns: ``not_applicable`` where the item excludes the nerve
(a failed minimum distal amplitude, an excluded nerve, an inexcitable nerve, ...)."""

NERVE_COLUMNS: tuple[str, ...] = (
    "patient_id",
    "nerve",
    "side",
    "scheme",
    "n_sites",
    "n_segments",
    "block",
    "dispersion",
    "n_block_segments",
    "n_dispersion_segments",
    "n_not_assessable_segments",
    "n_not_applicable_segments",
    "parameters_met",
    *PARAMETERS,
    *NERVE_MEASURES,
    "distal_duration_cutoff_ms",
    "reference_table",
)
"""Columns of the nerves table, in order (with ``visit`` after ``patient_id`` when the sites
have visits)."""

PATIENT_COLUMNS: tuple[str, ...] = (
    "patient_id",
    "scheme",
    "verdict",
    "evidence",
    "evidence_nerve",
    "evidence_segment",
    "evidence_rule",
    "verdict_rule",
    "n_nerves",
    "n_segments",
    "n_positive_findings",
    "n_not_assessable_segments",
    "n_not_applicable_segments",
    "n_one_site_nerves",
    "citation",
)
"""Columns of the patients table, in order (with ``visit``, and ``study_date`` where given,
after ``patient_id`` when the sites have visits: one row per (patient, visit, scheme))."""


def _with_visit(columns: tuple[str, ...], keys: tuple[str, ...]) -> tuple[str, ...]:
    """``columns`` with the study keys after ``patient_id`` (``visit``, ``study_date``)."""
    extra = tuple(k for k in keys if k != "patient_id")
    if not extra:
        return columns
    at = columns.index("patient_id") + 1
    return (*columns[:at], *extra, *columns[at:])


_OP_CODES = (">", ">=", "<", "<=")


def _max_at(n: int, index: np.ndarray, values: np.ndarray, initial: int) -> np.ndarray:
    out = np.full(n, initial, dtype=np.int8)
    np.maximum.at(out, index, values)
    return out


def _count(n: int, index: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    return np.bincount(index, weights=weights, minlength=n).astype(np.int64)


def summarize(
    segments: pd.DataFrame,
    segment_nerve: np.ndarray,
    sorted_sites: pd.DataFrame,
    site_nerve: np.ndarray,
    judgements: Sequence[SegmentJudgement],
    measures: dict[str, np.ndarray] | None = None,
    reference_name: str = "",
    cutoffs: pd.DataFrame | None = None,
    *,
    evidence: bool = True,
    sentences: Sequence | None = None,
    nerve_columns: Mapping[str, Any] | None = None,
    set_aside: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The nerves and patients tables for every judged criterion.

    Parameters
    ----------
    segments, segment_nerve, sorted_sites, site_nerve
        Output of :func:`ncs.segments.build_segments`.
    judgements : sequence of SegmentJudgement
        One per criterion, arrays aligned with ``segments`` (:func:`ncs.engine.judge`).
    measures : dict of numpy.ndarray, optional
        Per-nerve measures and limits (:func:`ncs.fwave.nerve_measures`).
    reference_name : str
        Which reference table supplied the limits.
    cutoffs : pandas.DataFrame, optional
        Distal CMAP duration cut-offs (:func:`ncs.normative.distal_duration_cutoffs`).
    sentences : sequence of text columns, optional
        The findings' sentences per judgement (:func:`ncs.explain.explain_findings`), when
        already made: the evidence quotes them instead of wording them again.
    evidence : bool, default True
        Build the patients' ``evidence`` sentences. ``False`` leaves the column out (every
        other column, the evidence labels and counts included, is the same); see
        :func:`ncs.analyze.render_evidence`.
    nerve_columns : mapping, optional
        More columns for the nerves table (one value per row, criteria after one another),
        added at its end (the ``cold_limb`` flag of :func:`ncs.analyze`).
    set_aside : pandas.DataFrame, optional
        Rows set aside for invalid input (``Analysis.rejected``): a patient's nerves among
        them are nerves of which nothing is known, and a patient rule they could meet is
        unknown for that patient, not "not met" (:attr:`ncs.engine.NerveContext.unseen`).

    Returns
    -------
    nerves : pandas.DataFrame
        Columns :data:`NERVE_COLUMNS`; one row per (nerve, scheme), every nerve included.
    patients : pandas.DataFrame
        Columns :data:`PATIENT_COLUMNS` (without ``evidence`` unless asked for); one row per
        (patient, scheme).
    """
    n_nerves = int(site_nerve.max()) + 1 if len(site_nerve) else 0
    first_site = np.flatnonzero(np.r_[True, site_nerve[1:] != site_nerve[:-1]]) if n_nerves else []
    first_site = np.asarray(first_site, dtype=np.int64)
    columns = sorted_sites.columns
    key_codes = {k: take(categorical(sorted_sites[k]), first_site) for k in nerve_keys(columns)}
    keys = {k: labels(key_codes[k]) for k in ("nerve", "side")}
    nerve_codes = np.asarray(key_codes["nerve"].codes, dtype=np.int64)
    side_codes = np.asarray(key_codes["side"].codes, dtype=np.int64)
    n_sites = _count(n_nerves, site_nerve)
    n_seg = _count(n_nerves, segment_nerve)
    # nerves are sorted by patient (and visit) first, so the nerves of one study of a patient
    # are contiguous: a "patient" below is one (patient, visit) where there are visits
    study_keys = patient_keys(columns)
    new_patient = np.zeros(n_nerves, dtype=bool)
    if n_nerves:
        new_patient[0] = True
        for k in study_keys:
            codes = np.asarray(key_codes[k].codes)
            new_patient[1:] |= codes[1:] != codes[:-1]
    nerve_patient = np.cumsum(new_patient) - 1 if n_nerves else np.zeros(0, dtype=np.int64)
    n_patients = int(nerve_patient[-1]) + 1 if n_nerves else 0
    patient_first = np.flatnonzero(new_patient).astype(np.int64)
    patient_ids = {k: take(key_codes[k], patient_first) for k in study_keys}
    if "study_date" in columns and "visit" in columns:
        patient_ids["study_date"] = take(
            categorical(sorted_sites["study_date"]), first_site[patient_first]
        )
    text_measures = {
        c: take(categorical(sorted_sites[c]), first_site)
        if c in sorted_sites.columns
        else constant(None, n_nerves)
        for c in ("muscle", "response")
    }
    segment_patient = nerve_patient[segment_nerve] if n_nerves else segment_nerve
    n_one_site = _count(n_patients, nerve_patient, n_seg == 0)
    unseen = unseen_nerves(set_aside, patient_ids.get("patient_id"), n_patients)

    nerve_parts: list[dict[str, np.ndarray]] = []
    patient_parts: list[dict[str, np.ndarray]] = []
    n_nerves_of_patient = _count(n_patients, nerve_patient)
    if measures is None:
        measures = {c: np.full(n_nerves, np.nan) for c in NERVE_MEASURES}
        measures["muscle"] = measures["distal_response"] = np.full(n_nerves, None, dtype=object)
        measures["distal_absent"] = np.zeros(n_nerves, dtype=bool)
    nerve_names = keys["nerve"]
    amp_drop = (
        segments["amp_drop_pct"].to_numpy(dtype=float, na_value=np.nan)
        if "amp_drop_pct" in segments.columns
        else np.full(len(segments), np.nan)
    )
    for k_judgement, j in enumerate(judgements):
        crit, b, d = j.criterion, j.block_code, j.disp_code
        counts_disp = crit.patient_counts_dispersion and bool(crit.dispersion_rules)
        is_block = b >= PROBABLE
        is_disp = d == YES
        is_na = (b == NOT_ASSESSABLE) | ((d == NOT_ASSESSABLE) & counts_disp)
        is_excluded = b == NOT_APPLICABLE
        ctx = nerve_context(
            crit, measures, nerve_patient, n_patients, nerve_names, segment_nerve, cutoffs, unseen
        )
        cutoff = ctx.measures["distal_duration_cutoff_ms"]
        nerve_part = {
            **key_codes,
            "scheme": constant(crit.id, n_nerves),
            "n_sites": n_sites,
            "n_segments": n_seg,
            "block": category_codes(nerve_outcomes(b, ctx), BLOCK_VALUES),
            "dispersion": category_codes(nerve_outcomes(d, ctx), DISPERSION_VALUES),
            "n_block_segments": _count(n_nerves, segment_nerve, is_block),
            "n_dispersion_segments": _count(n_nerves, segment_nerve, is_disp),
            "n_not_assessable_segments": _count(n_nerves, segment_nerve, is_na),
            "n_not_applicable_segments": _count(n_nerves, segment_nerve, is_excluded),
            "reference_table": constant(reference_name if crit.nerve_items else None, n_nerves),
        }
        for col in NERVE_MEASURES:
            nerve_part[col] = measures[col]
        nerve_part["muscle"] = text_measures["muscle"]
        nerve_part["distal_response"] = text_measures["response"]
        nerve_part["distal_duration_cutoff_ms"] = cutoff
        seg_items = segment_items(j, ctx)
        items = item_codes(crit, ctx, seg_items)
        _parameter_columns(nerve_part, crit, items, n_nerves)
        nerve_parts.append(nerve_part)

        verdicts = patient_verdicts(crit, j, ctx, items, seg_items, amp_drop)
        part = _patient_part(
            crit,
            j,
            verdicts,
            segments,
            segment_nerve,
            segment_patient,
            n_patients,
            patient_ids,
            is_block | (is_disp if counts_disp else False),
            is_na,
            is_excluded,
            n_one_site,
            (nerve_codes, side_codes, key_codes),
            items,
            ctx,
            evidence=evidence,
            sentences=None if sentences is None else sentences[k_judgement],
        )
        part["n_nerves"] = n_nerves_of_patient
        patient_parts.append(part)

    nerves = _frame(
        nerve_parts,
        _with_visit(NERVE_COLUMNS, study_keys),
        {
            "block": BLOCK_VALUES,
            "dispersion": DISPERSION_VALUES,
            **{p: PARAMETER_VALUES for p in PARAMETERS},
        },
        nerve_columns,
    )
    columns = PATIENT_COLUMNS if evidence else tuple(c for c in PATIENT_COLUMNS if c != "evidence")
    patients = _frame(patient_parts, _with_visit(columns, tuple(patient_ids)), {})
    return nerves, patients


_FREE_TEXT = frozenset({"evidence"})
"""Text columns that stay ``string`` (one sentence per row); every other one is a category."""

_TEXT_COLUMNS = (CATEGORY_COLUMNS | _FREE_TEXT) & frozenset(
    (*NERVE_COLUMNS, *PATIENT_COLUMNS, "visit", "study_date")
)
"""Text columns of the nerves and patients tables."""

_FLOAT_COLUMNS = frozenset(NERVE_MEASURES) - {"muscle", "distal_response"} | {
    "distal_duration_cutoff_ms"
}


def nerve_context(
    crit: Criterion,
    measures: dict[str, np.ndarray],
    nerve_patient: np.ndarray,
    n_patients: int,
    nerve_names: np.ndarray,
    segment_nerve: np.ndarray,
    cutoffs: pd.DataFrame | None = None,
    unseen: np.ndarray | None = None,
) -> NerveContext:
    """What the engine reads for one scheme's nerve items: the per-nerve measures with the
    scheme's distal-duration cut-offs (and their operators) added, and the nerves of each
    patient set aside (``unseen``, :func:`unseen_nerves`)."""
    cutoff, cutoff_op = _cutoffs_for(
        crit,
        nerve_names,
        measures["lff_hz"],
        cutoffs,
    )
    return NerveContext(
        patient=nerve_patient,
        n_patients=n_patients,
        names=nerve_names,
        measures={
            **measures,
            "distal_duration_cutoff_ms": cutoff,
            "distal_duration_cutoff_op": cutoff_op,
        },
        segment_nerve=segment_nerve,
        unseen=unseen,
    )


def unseen_nerves(
    set_aside: pd.DataFrame | None, patients: pd.Categorical | None, n_patients: int
) -> np.ndarray | None:
    """Per patient, the nerves among the rows set aside for invalid input (None: none).

    A nerve is its nerve and side as written (case and spaces aside); rows with the
    patient's id count for each of the patient's visits (the rows set aside do not say
    which visit they were). Rows without a patient id count for no patient: the nerves
    they may belong to were set aside with them (:func:`ncs.schema.split_invalid`).
    """
    if set_aside is None or not len(set_aside) or patients is None or not n_patients:
        return None

    def text(col: str) -> pd.Series:
        if col not in set_aside:
            return pd.Series("", index=set_aside.index, dtype="string")
        words = set_aside[col].astype("string").str.lower().str.split().str.join(" ")
        return words.fillna("")

    rows = pd.DataFrame(
        {
            "patient_id": set_aside["patient_id"].astype("string"),
            "nerve": text("nerve"),
            "side": text("side"),
        }
    ).dropna(subset=["patient_id"])
    if rows.empty:
        return None
    per_patient = rows.drop_duplicates().groupby("patient_id", sort=False).size()
    ids = pd.Index(labels(patients), dtype=object)
    out = per_patient.reindex(ids).fillna(0).to_numpy(dtype=np.int64)
    return out if out.any() else None


def _cutoffs_for(
    crit: Criterion, nerves: np.ndarray, lff_hz: np.ndarray, cutoffs: pd.DataFrame | None
) -> tuple[np.ndarray, np.ndarray]:
    """Distal CMAP duration cut-off per nerve for this scheme (NaN without a known filter or
    without a cut-off for the nerve at that filter), and the table's operator for it (as an
    index into ``(">", ">=", "<", "<=")``; -1 where none)."""
    out = np.full(len(nerves), np.nan)
    ops = np.full(len(nerves), -1, dtype=np.int8)
    if not any(i.measure == "distal_duration_ms" for i in crit.nerve_items):
        return out, ops
    rules = _scheme_cutoff_rules(crit.id, cutoffs)
    if not rules and crit.verdict_kind != crit.id:
        # a variant of a guideline scheme (ean2021_cidp_adjacent, a lab's copy) without rows
        # of its own takes the cut-offs of the guideline whose patient rule it keeps
        rules = _scheme_cutoff_rules(crit.verdict_kind, cutoffs)
    if not rules or not len(nerves):
        return out, ops
    for nerve, lff, cutoff_ms, op in rules:  # a handful of table rows, not data rows
        sel = (nerves == nerve) & ~np.isnan(lff_hz)
        if lff is not None:
            sel &= np.isclose(lff_hz, lff)
        out[sel] = cutoff_ms
        if op >= 0:
            ops[sel] = op
    return out, ops


def _scheme_cutoff_rules(
    scheme: str, cutoffs: pd.DataFrame | None
) -> tuple[tuple[str, float | None, float, int], ...]:
    return _default_cutoff_rules(scheme) if cutoffs is None else _cutoff_rules(cutoffs, scheme)


def _cutoff_rules(
    cutoffs: pd.DataFrame, scheme: str
) -> tuple[tuple[str, float | None, float, int], ...]:
    """A scheme's rows of a cut-off table: (nerve, filter or None, cut-off, operator code)."""
    rows = cutoffs[cutoffs["scheme"] == scheme]
    has_op = "op" in rows.columns
    return tuple(
        (
            r.nerve,
            None if pd.isna(r.lff_hz) else float(r.lff_hz),
            float(r.cutoff_ms),
            _OP_CODES.index(str(r.op).strip()) if has_op and not pd.isna(r.op) else -1,
        )
        for r in rows.itertuples(index=False)
    )


@functools.lru_cache(maxsize=64)
def _default_cutoff_rules(scheme: str) -> tuple[tuple[str, float | None, float, int], ...]:
    """:func:`_cutoff_rules` of the shipped table (read once)."""
    return _cutoff_rules(distal_duration_cutoffs(), scheme)


def _parameter_columns(
    part: dict[str, np.ndarray], crit: Criterion, items: dict[int, np.ndarray], n: int
) -> None:
    """Fill the parameter columns (category codes; -1 = missing) and ``parameters_met``."""
    merged: dict[str, np.ndarray] = {}
    for k, item in enumerate(crit.nerve_items):
        codes = items[k]
        if item.parameter in merged:
            codes = np.maximum(merged[item.parameter], codes)
        merged[item.parameter] = codes
    for param in PARAMETERS:
        if param in merged:
            part[param] = parameter_codes(merged[param], PARAMETER_VALUES)
        else:
            part[param] = np.full(n, -1, dtype=np.int8)
    if not crit.nerve_items:
        part["parameters_met"] = constant(None, n)
        return
    # which items each nerve meets, as a bit mask; one label per distinct mask
    mask = np.zeros(n, dtype=np.int64)
    for k in range(len(crit.nerve_items)):
        mask |= (items[k] == TRUE).astype(np.int64) << k
    masks, index = np.unique(mask, return_inverse=True)
    names = [
        ",".join(dict.fromkeys(i.id for k, i in enumerate(crit.nerve_items) if (m >> k) & 1))
        or None
        for m in masks.tolist()
    ]
    part["parameters_met"] = from_table(names, index.reshape(-1))


def _not_applicable_items(
    crit: Criterion, items: dict[int, np.ndarray], ctx: NerveContext
) -> dict[str, np.ndarray]:
    """Per measured item id: the number of each patient's nerves the rules excluded it in
    (the nerves table says which nerves and the item's rule says why)."""
    by_id: dict[str, np.ndarray] = {}
    for k, item in enumerate(crit.nerve_items):
        if item.measure in ("block", "probable_block", "dispersion", "block_or_dispersion"):
            continue  # segment items: each segment's sentence says why it is not applicable
        codes = items[k]
        by_id[item.id] = np.maximum(by_id[item.id], codes) if item.id in by_id else codes
    return {
        item_id: _count(ctx.n_patients, ctx.patient, codes == NOT_APPLICABLE)
        for item_id, codes in by_id.items()
    }


def _patient_part(
    crit: Criterion,
    j: SegmentJudgement,
    verdicts,
    segments: pd.DataFrame,
    segment_nerve: np.ndarray,
    segment_patient: np.ndarray,
    n_patients: int,
    patient_ids: dict[str, pd.Categorical],
    positive_segment: np.ndarray,
    na_segment: np.ndarray,
    excluded_segment: np.ndarray,
    n_one_site: np.ndarray,
    nerve_keys: tuple,
    items: dict[int, np.ndarray],
    ctx: NerveContext,
    *,
    evidence: bool = True,
    sentences=None,
) -> dict[str, np.ndarray]:
    """Verdicts with their evidence (arrays).

    ``evidence=False`` leaves out the sentence (``evidence``); the labels and counts that
    name the evidence are built either way, as codes (one label per distinct value).
    """
    nerve_codes, side_codes, key_codes = nerve_keys
    n_pos = _count(n_patients, segment_patient, positive_segment)
    n_na = _count(n_patients, segment_patient, na_segment)
    n_excluded = _count(n_patients, segment_patient, excluded_segment)
    n_seg = _count(n_patients, segment_patient)

    pos_idx = np.flatnonzero(positive_segment)
    pos_patient = segment_patient[pos_idx]  # segments are grouped by patient: no sort needed
    first = (
        np.flatnonzero(np.r_[True, pos_patient[1:] != pos_patient[:-1]])
        if pos_idx.size
        else pos_idx
    )
    has_ev = pos_patient[first]
    ev = pos_idx[first]
    ev_nerve = np.full(n_patients, -1, dtype=np.int64)
    ev_nerve[has_ev] = segment_nerve[ev]
    if crit.nerve_items:
        item_nerve = _first_item_nerve(items, ctx.patient, n_patients)
        ev_nerve = np.where(ev_nerve < 0, item_nerve, ev_nerve)
    distal = categorical(segments["distal_site"])
    proximal = categorical(segments["proximal_site"])
    site_codes = np.full((2, n_patients), -1, dtype=np.int64)
    site_codes[0, has_ev] = np.asarray(distal.codes)[ev]
    site_codes[1, has_ev] = np.asarray(proximal.codes)[ev]
    ev_segment = pair_labels(
        site_codes[0], names_of(distal), site_codes[1], names_of(proximal), " to "
    )
    rule_index = np.full(n_patients, -1, dtype=np.int64)
    rule_index[has_ev] = np.where(j.block_code[ev] >= PROBABLE, 0, 1)
    disp_name = crit.dispersion_rules[0].name if crit.dispersion_rules else None
    deciding = verdicts.deciding
    rule_names = [scheme_rule(crit, rid, verdicts.names) for rid in verdicts.decided_by]
    overall = scheme_rule(crit, None, verdicts.names)
    part = {
        **patient_ids,
        "scheme": constant(crit.id, n_patients),
        "verdict": from_table(list(crit.verdicts), verdicts.level),
        "evidence_nerve": pair_labels(
            np.where(ev_nerve < 0, -1, nerve_codes[ev_nerve]),
            names_of(key_codes["nerve"]),
            side_codes[ev_nerve],
            names_of(key_codes["side"]),
            " ",
        ),
        "evidence_segment": ev_segment,
        "evidence_rule": from_table([crit.block[0].name, disp_name, None], rule_index),
        "verdict_rule": from_table(
            [*rule_names, overall], np.where(deciding < 0, len(rule_names), deciding)
        ),
        "n_segments": n_seg,
        "n_positive_findings": n_pos,
        "n_not_assessable_segments": n_na,
        "n_not_applicable_segments": n_excluded,
        "n_one_site_nerves": n_one_site,
        "citation": constant(crit.citation.text, n_patients),
    }
    if not evidence:
        return part
    counts = {
        "n_segments": n_seg,
        "n_positive": n_pos,
        "n_not_assessable": n_na,
        "n_not_applicable": n_excluded,
        "n_one_site": n_one_site,
    }
    if "implausible" in segments.columns:
        odd = np.asarray(pd.notna(segments["implausible"].array), dtype=bool)
        counts["n_implausible"] = _count(n_patients, segment_patient, odd)
    if ctx.unseen is not None:
        counts["n_set_aside"] = np.asarray(ctx.unseen, dtype=np.int64)
    if crit.verdict_kind in ("any_segment", "cb_grade"):
        has_reason = np.zeros(n_patients, dtype=bool)
        has_reason[has_ev] = True
        reason = LazyReasons(j, segments)[ev] if sentences is None else tx.take(sentences, ev)
        where = tx.join(
            _label_strings(segments["nerve"], segments["side"], ev),
            ", ",
            _categorical_strings(ev_segment, has_ev),
        )
        part["evidence"] = segment_evidence(crit, verdicts, reason, where, has_reason, counts)
    else:
        excluded = _not_applicable_items(crit, items, ctx)
        part["evidence"] = rules_evidence(crit, verdicts, excluded, counts)
    return part


def _first_item_nerve(
    item_codes: dict[int, np.ndarray], nerve_patient: np.ndarray, n_patients: int
) -> np.ndarray:
    """Id of each patient's first nerve meeting any item (-1 if none)."""
    out = np.full(n_patients, -1, dtype=np.int64)
    if not item_codes or not n_patients:
        return out
    any_met = np.any(np.stack([c == TRUE for c in item_codes.values()]), axis=0)
    idx = np.flatnonzero(any_met)
    if idx.size:
        pats, first = np.unique(nerve_patient[idx], return_index=True)
        out[pats] = idx[first]
    return out


def _label_strings(first: pd.Series, second: pd.Series, rows: np.ndarray) -> tx.Text:
    """``"<first> <second>"`` for some rows of two text columns."""
    a, b = categorical(first), categorical(second)
    codes_a = np.asarray(a.codes)[rows].astype(np.int64)
    codes_b = np.asarray(b.codes)[rows].astype(np.int64)
    names_a, names_b = [*names_of(a), ""], [*names_of(b), ""]  # code -1 (missing) -> ""
    return tx.by_key([codes_a, codes_b], lambda k: f"{names_a[k[0]]} {names_b[k[1]]}")


def _categorical_strings(values: pd.Categorical, rows: np.ndarray) -> tx.Text:
    """Some rows of a categorical as text (missing -> "")."""
    return tx.words([*names_of(values), ""], np.asarray(values.codes)[rows].astype(np.int64))


def pair_labels(
    first: np.ndarray,
    first_names: Sequence[str],
    second: np.ndarray,
    second_names: Sequence[str],
    sep: str,
) -> pd.Categorical:
    """``"<first><sep><second>"`` per row from two code arrays, as a categorical.

    A row whose ``first`` code is -1 is missing. Each distinct pair is formatted once (in
    Python: there are few), then the rows take their label's code.
    """
    a = np.asarray(first, dtype=np.int64)
    b = np.asarray(second, dtype=np.int64)
    width = len(second_names) + 1
    key = np.where(a < 0, -1, a * width + (b + 1))
    present = key >= 0
    pairs, inverse = np.unique(key[present], return_inverse=True)
    second_table = ("", *second_names)  # code -1 -> ""
    names = np.array(
        [f"{first_names[k // width]}{sep}{second_table[k % width]}" for k in pairs.tolist()],
        dtype=object,
    )
    distinct, remap = np.unique(names, return_inverse=True)  # two pairs may read the same
    codes = np.full(len(key), -1, dtype=np.int64)
    codes[present] = np.asarray(remap).reshape(-1)[np.asarray(inverse).reshape(-1)]
    return from_codes(codes, [str(x) for x in distinct])


def _frame(
    parts: list[dict[str, np.ndarray]],
    columns: tuple[str, ...],
    categorical: dict[str, tuple[str, ...]],
    extra: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """One DataFrame from per-criterion column arrays (concatenated once).

    Text columns become categoricals over the sorted values present (label arrays are
    factorised, categorical parts joined by their codes); free text (``evidence``) stays
    ``string``.
    """
    data: dict[str, object] = {}
    for col in columns:
        # each column's parts are let go once it is joined: the peak is the table and one
        # column's parts, not the table twice
        pieces = [p.pop(col) for p in parts]
        if col in categorical:
            values = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int8)
            data[col] = fixed(values, categorical[col])
        elif col in _FREE_TEXT:
            data[col] = tx.to_pandas(tuple(pieces))
        elif col in _TEXT_COLUMNS:
            if all(isinstance(p, pd.Categorical) for p in pieces):
                data[col] = concat(pieces)
            else:  # labels: one factorisation of all parts
                data[col] = from_labels(
                    np.concatenate([np.asarray(p, dtype=object) for p in pieces])
                    if pieces
                    else np.array([], dtype=object)
                )
        else:
            values = np.concatenate(pieces) if pieces else np.zeros(0)
            data[col] = values.astype(float if col in _FLOAT_COLUMNS else np.int64)
    data.update(extra or {})
    n_rows = len(next(iter(data.values()))) if data else 0
    return table(data, n_rows)
