"""Nerve- and patient-level roll-up of segment findings, per criterion.

Three-valued throughout: a nerve or patient is positive when a known finding is positive,
negative only when every finding that could make it positive is known to be negative, and
indeterminate (``not_assessable`` for nerves) otherwise. A nerve stimulated at one site has no
segment: it is listed (``not_assessable``) but neither carries nor blocks a patient verdict; a
patient with no segment at all is indeterminate.

Everything is computed on integer codes with NumPy (``ufunc.at`` / ``bincount`` over nerve
and patient ids), so the cost does not grow with Python-level loops over nerves or patients.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

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
    text_array,
)
from ncs.criteria import (
    _CODE_NA,
    _CODE_NO,
    _CODE_PROBABLE,
    _CODE_YES,
    BLOCK_VALUES,
    DISPERSION_VALUES,
    Criterion,
    SegmentJudgement,
    category_codes,
)
from ncs.explain import _S, _add, join_strings
from ncs.fwave import NERVE_MEASURES
from ncs.measures import FALSE, TRUE, UNKNOWN, truth
from ncs.normative import distal_duration_cutoffs
from ncs.schema import NERVE_KEYS
from ncs.schemes import (
    PatientContext,
    aan1991_rules,
    evaluate_item,
    guideline_rules,
    hadden1998_classes,
    k_of,
)

__all__ = ["NERVE_COLUMNS", "PATIENT_COLUMNS", "summarize"]

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
"""Per-nerve demyelinating parameters of the guideline schemes (yes / no / not_assessable;
missing where the scheme has no such item)."""
PARAMETER_VALUES: tuple[str, ...] = ("yes", "no", "not_assessable")

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
    "parameters_met",
    *PARAMETERS,
    *NERVE_MEASURES,
    "distal_duration_cutoff_ms",
    "reference",
)
"""Columns of the nerves table, in order."""

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
    "citation",
)
"""Columns of the patients table, in order."""


def _max_at(n: int, index: np.ndarray, values: np.ndarray, initial: int = -1) -> np.ndarray:
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
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The nerves and patients tables for every judged criterion.

    Parameters
    ----------
    segments, segment_nerve, sorted_sites, site_nerve
        Output of :func:`ncs.segments.build_segments`.
    judgements : sequence of SegmentJudgement
        One per criterion, arrays aligned with ``segments``.
    measures : dict of numpy.ndarray, optional
        Per-nerve measures and limits (:func:`ncs.fwave.nerve_measures`).
    reference_name : str
        Which reference table supplied the limits.
    cutoffs : pandas.DataFrame, optional
        Distal CMAP duration cut-offs (:func:`ncs.normative.distal_duration_cutoffs`).
    evidence : bool, default True
        Build the patients' ``evidence`` sentences. ``False`` leaves the column out (every
        other column, the evidence labels and counts included, is the same); see
        :func:`ncs.explain.render_evidence`.

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
    key_codes = {k: take(categorical(sorted_sites[k]), first_site) for k in NERVE_KEYS}
    keys = {k: labels(key_codes[k]) for k in ("nerve", "side")}
    nerve_codes = np.asarray(key_codes["nerve"].codes, dtype=np.int64)
    side_codes = np.asarray(key_codes["side"].codes, dtype=np.int64)
    n_sites = _count(n_nerves, site_nerve)
    n_seg = _count(n_nerves, segment_nerve)
    # nerves are sorted by patient first, so a patient's nerves are contiguous
    patient_codes = np.asarray(key_codes["patient_id"].codes)
    new_patient = np.r_[True, patient_codes[1:] != patient_codes[:-1]] if n_nerves else []
    nerve_patient = np.cumsum(new_patient) - 1 if n_nerves else np.zeros(0, dtype=np.int64)
    n_patients = int(nerve_patient[-1]) + 1 if n_nerves else 0
    patient_ids = take(key_codes["patient_id"], np.flatnonzero(new_patient).astype(np.int64))
    text_measures = {
        c: take(categorical(sorted_sites[c]), first_site)
        if c in sorted_sites.columns
        else constant(None, n_nerves)
        for c in ("muscle", "response")
    }
    segment_patient = nerve_patient[segment_nerve] if n_nerves else segment_nerve

    nerve_parts: list[dict[str, np.ndarray]] = []
    patient_parts: list[dict[str, np.ndarray]] = []
    n_nerves_of_patient = _count(n_patients, nerve_patient)
    if measures is None:
        measures = {c: np.full(n_nerves, np.nan) for c in NERVE_MEASURES}
        measures["muscle"] = measures["distal_response"] = np.full(n_nerves, None, dtype=object)
    nerve_names = keys["nerve"]
    for j in judgements:
        crit, b, d = j.criterion, j.block_code, j.disp_code
        counts_disp = crit.patient_counts_dispersion and bool(crit.dispersion_rules)
        is_block = b >= _CODE_PROBABLE
        is_disp = d == _CODE_YES
        is_na = (b == _CODE_NA) | ((d == _CODE_NA) & counts_disp)
        nerve_block = _max_at(n_nerves, segment_nerve, b)
        nerve_disp = _max_at(n_nerves, segment_nerve, d)
        nerve_part = {
            **key_codes,
            "scheme": constant(crit.id, n_nerves),
            "n_sites": n_sites,
            "n_segments": n_seg,
            "block": category_codes(nerve_block, BLOCK_VALUES),
            "dispersion": category_codes(nerve_disp, DISPERSION_VALUES),
            "n_block_segments": _count(n_nerves, segment_nerve, is_block),
            "n_dispersion_segments": _count(n_nerves, segment_nerve, is_disp),
            "n_not_assessable_segments": _count(n_nerves, segment_nerve, is_na),
            "reference": constant(reference_name if crit.nerve_items else None, n_nerves),
        }
        for col in NERVE_MEASURES:
            nerve_part[col] = measures[col]
        nerve_part["muscle"] = text_measures["muscle"]
        nerve_part["distal_response"] = text_measures["response"]
        uses_cutoff = any(i.measure == "distal_duration_ms" for i in crit.nerve_items)
        cutoff = (
            _cutoffs_for(
                crit,
                nerve_names,
                measures["lff_hz"],
                distal_duration_cutoffs() if cutoffs is None else cutoffs,
            )
            if uses_cutoff
            else np.full(n_nerves, np.nan)
        )
        nerve_part["distal_duration_cutoff_ms"] = cutoff
        seg_items = {
            "block": _max_at(n_nerves, segment_nerve, _item_code(b, _CODE_YES)),
            "probable_block": _max_at(n_nerves, segment_nerve, _item_code(b, _CODE_PROBABLE)),
            "dispersion": _max_at(n_nerves, segment_nerve, _item_code(d, _CODE_YES)),
        }
        seg_items = {k: np.maximum(v, FALSE).astype(np.int8) for k, v in seg_items.items()}
        seg_items["block_or_dispersion"] = np.maximum(seg_items["block"], seg_items["dispersion"])
        scheme_measures = {**measures, "distal_duration_cutoff_ms": cutoff}
        item_codes = {
            k: evaluate_item(item, scheme_measures, nerve_names, seg_items)
            for k, item in enumerate(crit.nerve_items)
        }
        _parameter_columns(nerve_part, crit, item_codes, n_nerves)
        nerve_parts.append(nerve_part)

        # patient level: a segment is positive on block (or dispersion where it counts)
        seg_code = np.maximum(b, d) if counts_disp else b
        patient_code = _max_at(n_patients, segment_patient, seg_code)  # -1: no segment
        pos = is_block | (is_disp if counts_disp else False)
        ctx = PatientContext(
            nerve_patient=nerve_patient,
            n_patients=n_patients,
            nerve_names=nerve_names,
            measures=scheme_measures,
            segment_codes=seg_items,
            items=item_codes,
        )
        verdict, scheme_evidence = _verdicts(
            crit, patient_code, ctx, segments, segment_nerve, n_nerves, evidence=evidence
        )
        part = _patient_part(
            crit,
            j,
            segments,
            segment_nerve,
            segment_patient,
            n_patients,
            patient_ids,
            verdict,
            pos,
            is_na,
            patient_code,
            evidence=evidence,
        )
        if scheme_evidence is not None:
            if evidence:
                part["evidence"] = scheme_evidence
            first = _first_item_nerve(item_codes, nerve_patient, n_patients)
            ids = part["evidence_nerve"]
            part["evidence_nerve"] = np.where(ids < 0, first, ids)
        ids = part["evidence_nerve"]
        part["evidence_nerve"] = pair_labels(
            np.where(ids < 0, -1, nerve_codes[ids]),
            names_of(key_codes["nerve"]),
            side_codes[ids],
            names_of(key_codes["side"]),
            " ",
        )
        part["n_nerves"] = n_nerves_of_patient
        part["n_segments"] = _count(n_patients, segment_patient, seg_code >= 0)
        patient_parts.append(part)

    nerves = _frame(
        nerve_parts,
        NERVE_COLUMNS,
        {
            "block": BLOCK_VALUES,
            "dispersion": DISPERSION_VALUES,
            **{p: PARAMETER_VALUES for p in PARAMETERS},
        },
    )
    columns = PATIENT_COLUMNS if evidence else tuple(c for c in PATIENT_COLUMNS if c != "evidence")
    patients = _frame(patient_parts, columns, {})
    return nerves, patients


_FREE_TEXT = frozenset({"evidence"})
"""Text columns that stay ``string`` (one sentence per row); every other one is a category."""

_TEXT_COLUMNS = (CATEGORY_COLUMNS | _FREE_TEXT) & frozenset((*NERVE_COLUMNS, *PATIENT_COLUMNS))
"""Text columns of the nerves and patients tables."""

_FLOAT_COLUMNS = frozenset(NERVE_MEASURES) - {"muscle", "distal_response"} | {
    "distal_duration_cutoff_ms"
}


def _item_code(codes: np.ndarray, at_least_code: int) -> np.ndarray:
    """Segment codes -> three-valued 'this segment shows the finding' (excluded: -1)."""
    out = np.where(codes >= at_least_code, TRUE, np.where(codes == _CODE_NA, UNKNOWN, FALSE))
    return np.where(codes < 0, -1, out).astype(np.int8)


def _cutoffs_for(
    crit: Criterion, nerves: np.ndarray, lff_hz: np.ndarray, cutoffs: pd.DataFrame
) -> np.ndarray:
    """Distal CMAP duration cut-off per nerve for this scheme (NaN without a known filter)."""
    out = np.full(len(nerves), np.nan)
    rows = cutoffs[cutoffs["scheme"] == crit.id]
    if rows.empty or not len(nerves):
        return out
    for r in rows.itertuples(index=False):  # a handful of table rows, not data rows
        sel = (nerves == r.nerve) & ~np.isnan(lff_hz)
        if not pd.isna(r.lff_hz):
            sel &= np.isclose(lff_hz, float(r.lff_hz))
        out[sel] = float(r.cutoff_ms)
    return out


def _parameter_columns(
    part: dict[str, np.ndarray], crit: Criterion, item_codes: dict[int, np.ndarray], n: int
) -> None:
    """Fill the parameter columns (category codes; -1 = missing) and ``parameters_met``."""
    cats = {TRUE: 0, FALSE: 1, UNKNOWN: 2}
    merged: dict[str, np.ndarray] = {}
    for k, item in enumerate(crit.nerve_items):
        codes = item_codes[k]
        if item.parameter in merged:
            codes = np.maximum(merged[item.parameter], codes)
        merged[item.parameter] = codes
    if not crit.nerve_items:
        for param in PARAMETERS:
            part[param] = np.full(n, -1, dtype=np.int8)
        part["parameters_met"] = constant(None, n)
        return
    for param in PARAMETERS:
        if param in merged:
            codes = merged[param]
            part[param] = np.select(
                [codes == TRUE, codes == FALSE], [cats[TRUE], cats[FALSE]], cats[UNKNOWN]
            ).astype(np.int8)
        else:
            part[param] = np.full(n, -1, dtype=np.int8)
    # which items each nerve meets, as a bit mask; one label per distinct mask
    mask = np.zeros(n, dtype=np.int64)
    for k in range(len(crit.nerve_items)):
        mask |= (item_codes[k] == TRUE).astype(np.int64) << k
    masks, index = np.unique(mask, return_inverse=True)
    labels = [
        ",".join(item.id for k, item in enumerate(crit.nerve_items) if (m >> k) & 1) or None
        for m in masks.tolist()
    ]
    part["parameters_met"] = from_table(labels, index.reshape(-1))


def _verdicts(
    crit: Criterion,
    patient_code: np.ndarray,
    ctx: PatientContext,
    segments: pd.DataFrame,
    segment_nerve: np.ndarray,
    n_nerves: int,
    *,
    evidence: bool = True,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Patient verdict labels for the criterion's rule, and scheme-specific evidence text.

    With ``evidence=False`` the text is not built; a scheme that has its own evidence still
    returns an (empty) array so the caller knows it does.
    """
    kind = crit.verdict_kind
    v = crit.verdicts
    if kind == "any_segment":
        level = np.select([patient_code >= _CODE_PROBABLE, patient_code == _CODE_NO], [0, 1], 2)
        return from_table(v[:3], level), None
    if kind == "cb_grade":
        level = np.select(
            [patient_code == _CODE_YES, patient_code == _CODE_PROBABLE, patient_code == _CODE_NO],
            [0, 1, 2],
            3,
        )
        return from_table(v[:4], level), None
    names = {item.id: item.name for item in crit.nerve_items}
    seg_result = np.where(
        patient_code >= _CODE_PROBABLE, TRUE, np.where(patient_code == _CODE_NA, UNKNOWN, FALSE)
    ).astype(np.int8)
    if kind == "simon2013":
        from ncs.schemes import any_of, at_least

        items = [at_least(c, ctx.nerve_patient, ctx.n_patients, 1) for c in ctx.items.values()]
        rules = {"katz": seg_result, **{crit.nerve_items[k].id: r for k, r in enumerate(items)}}
        names["katz"] = "Katz 2002 block or dispersion in a segment"
        result = any_of(list(rules.values()))
        verdict = _levels([result], [v[0]], v[1], v[2])
        if not evidence:
            return verdict, _NO_TEXT
        return verdict, _rules_evidence(verdict, rules, names, v[0])
    if kind in ("efns2010_cidp", "ean2021_cidp"):
        rules, full, single = guideline_rules(crit.nerve_items, ctx)
        if kind == "efns2010_cidp":
            verdict = _levels([full, rules["probable"], single], [v[0], v[1], v[2]], v[3], v[4])
            single_level = v[2]
        else:
            verdict = _levels([full, single], [v[0], v[1]], v[2], v[3])
            single_level = v[1]
        if not evidence:
            return verdict, _NO_TEXT
        text = _rules_evidence(verdict, rules, names, None)
        one_nerve = _one_nerve_evidence(crit, ctx)
        text = np.where(
            (verdict == single_level) & (one_nerve != ""),
            join_strings(one_nerve, "; nerve-count rule not met (", text, ")"),
            text,
        )
        return verdict, text.astype(object)
    if kind == "aan1991_cidp":
        rules = aan1991_rules(crit.nerve_items, ctx)
        met = k_of(list(rules.values()), crit.option("min_items"))
        verdict = _levels([met], [v[0]], v[1], v[2])
        if not evidence:
            return verdict, _NO_TEXT
        return verdict, _rules_evidence(verdict, rules, names, None)
    if kind == "hadden1998_gbs":
        # "normal": every proximal/distal amplitude ratio > 0.5, i.e. every drop below it
        drop = segments["amp_drop_pct"].to_numpy(dtype=float)
        ok = truth(drop, "<", crit.option("normal_drop_below_pct"))
        nerve_ok = np.full(n_nerves, TRUE, dtype=np.int8)
        np.minimum.at(nerve_ok, segment_nerve, ok)
        classes = hadden1998_classes(crit.nerve_items, ctx, nerve_ok, dict(crit.options))
        verdict = np.full(ctx.n_patients, "equivocal", dtype=object)
        decided = np.zeros(ctx.n_patients, dtype=bool)
        for name in ("demyelinating", "inexcitable", "axonal", "normal"):
            hit = (classes[name] == TRUE) & ~decided
            verdict[hit] = name
            decided |= hit
        if not evidence:
            return verdict, _NO_TEXT
        text = np.where(
            decided,
            join_strings("classified ", verdict, " by the Hadden 1998 rules"),
            "no class is met on the known data (equivocal)",
        )
        return verdict, text.astype(object)
    raise ValueError(f"unknown verdict rule {kind!r} in criterion {crit.id!r}")


_NO_TEXT = np.zeros(0, dtype=object)
"""Stands for scheme evidence that was not asked for (``evidence=False``)."""


def _levels(
    results: list[np.ndarray], labels: list[str], negative: str, indeterminate: str
) -> np.ndarray:
    """Highest level known to be met; negative when none could be; else indeterminate."""
    n = len(results[0]) if results else 0
    verdict = np.full(n, indeterminate, dtype=object)
    decided = np.zeros(n, dtype=bool)
    for result, label in zip(results, labels, strict=True):
        hit = (result == TRUE) & ~decided
        verdict[hit] = label
        decided |= hit
    none_possible = np.all(np.stack(results) == FALSE, axis=0) if results else np.ones(n, bool)
    verdict[~decided & none_possible] = negative
    return verdict


def _rules_evidence(
    verdict: np.ndarray, rules: dict[str, np.ndarray], names: dict[str, str], _positive: str | None
) -> np.ndarray:
    """'met: (b) ...; (f) ...' / 'could be met with the missing data: ...' per patient."""
    n = len(verdict)
    met = np.full(n, "", dtype=object)
    open_ = np.full(n, "", dtype=object)
    for rid, result in rules.items():
        label = f"({rid}) {names.get(rid, rid)}"
        met = np.where(result == TRUE, join_strings(met, "; ", label), met)
        open_ = np.where(result == UNKNOWN, join_strings(open_, "; ", label), open_)
    met = _strip_lead(met)
    open_ = _strip_lead(open_)
    text = np.where(met != "", join_strings("met: ", met), "no rule met")
    text = np.where(
        open_ != "", join_strings(text, "; could be met with the missing data: ", open_), text
    )
    return text.astype(object)


def _one_nerve_evidence(crit: Criterion, ctx: PatientContext) -> np.ndarray:
    """'in one nerve only: (e) partial motor conduction block (1 nerve)' per patient."""
    n = ctx.n_patients
    text = np.full(n, "", dtype=object)
    for k, item in enumerate(crit.nerve_items):
        if item.id == "probable":
            continue
        count = np.bincount(ctx.nerve_patient, weights=ctx.items[k] == TRUE, minlength=n)
        piece = join_strings(f"({item.id}) {item.name} in ", count.astype(np.int64), " nerve(s)")
        text = np.where(count > 0, join_strings(text, "; ", piece), text)
    text = _strip_lead(text)
    return np.where(text != "", join_strings("met: ", text), "").astype(object)


def _strip_lead(values: np.ndarray) -> np.ndarray:
    return (
        pd.Series(values, dtype="string").str.removeprefix("; ").fillna("").to_numpy(dtype=object)
    )


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


def _label_strings(first: pd.Series, second: pd.Series, rows: np.ndarray) -> np.ndarray:
    """``"<first> <second>"`` for some rows of two text columns, as NumPy strings."""
    a, b = categorical(first), categorical(second)
    table_a = np.asarray([*names_of(a), ""], dtype=_S)  # code -1 (missing) -> ""
    table_b = np.asarray([*names_of(b), ""], dtype=_S)
    return _add(table_a[np.asarray(a.codes)[rows]], " ", table_b[np.asarray(b.codes)[rows]])


def _categorical_strings(values: pd.Categorical, rows: np.ndarray) -> np.ndarray:
    """Some rows of a categorical as NumPy strings (missing -> "")."""
    table_ = np.asarray([*names_of(values), ""], dtype=_S)
    return table_[np.asarray(values.codes)[rows]]


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
) -> pd.DataFrame:
    """One DataFrame from per-criterion column arrays (concatenated once).

    Text columns become categoricals over the sorted values present (label arrays are
    factorised, categorical parts joined by their codes); free text (``evidence``) stays
    ``string``.
    """
    data: dict[str, object] = {}
    for col in columns:
        pieces = [p[col] for p in parts]
        if col in categorical:
            values = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int8)
            data[col] = fixed(values, categorical[col])
        elif col in _FREE_TEXT:
            values = (
                np.concatenate([np.asarray(p, dtype=_S) for p in pieces])
                if pieces
                else np.array([], dtype=object)
            )
            data[col] = text_array(values)
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
    n_rows = len(next(iter(data.values()))) if data else 0
    return table(data, n_rows)


def verdict_rule(crit: Criterion) -> str:
    """The patient rule in words, e.g. ``"demyelinating if any segment meets: ..."``."""
    known = _RULE_TEXTS.get(id(crit))
    if known is not None and known[0] is crit:
        return known[1]
    text = _verdict_rule(crit)
    if len(_RULE_TEXTS) > 256:
        _RULE_TEXTS.clear()
    _RULE_TEXTS[id(crit)] = (crit, text)  # criteria are frozen: the words never change
    return text


_RULE_TEXTS: dict[int, tuple[Criterion, str]] = {}


def _verdict_rule(crit: Criterion) -> str:
    what = " or ".join(r.describe() for r in crit.block)
    if crit.patient_counts_dispersion and crit.dispersion_rules:
        what += "; or " + " or ".join(r.describe() for r in crit.dispersion_rules)
    return f"{crit.verdicts[0]} if any segment meets: {what}"


def _patient_part(
    crit: Criterion,
    j: SegmentJudgement,
    segments: pd.DataFrame,
    segment_nerve: np.ndarray,
    segment_patient: np.ndarray,
    n_patients: int,
    patient_ids: np.ndarray,
    verdict: np.ndarray,
    positive_segment: np.ndarray,
    na_segment: np.ndarray,
    patient_code: np.ndarray,
    *,
    evidence: bool = True,
) -> dict[str, np.ndarray]:
    """Verdicts with the first positive finding of each patient as evidence (arrays).

    ``evidence=False`` leaves out the sentence (``evidence``); the labels and counts that
    name the evidence are built either way, as codes (one label per distinct value).
    ``evidence_nerve`` is returned as nerve ids (-1: none), labelled by the caller.
    """
    n_pos = _count(n_patients, segment_patient, positive_segment)
    n_na = _count(n_patients, segment_patient, na_segment)
    n_seg = _count(n_patients, segment_patient, (j.block_code >= 0) | (j.disp_code >= 0))
    rule_text = verdict_rule(crit)

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
    distal = categorical(segments["distal_site"])
    proximal = categorical(segments["proximal_site"])
    site_codes = np.full((2, n_patients), -1, dtype=np.int64)
    site_codes[0, has_ev] = np.asarray(distal.codes)[ev]
    site_codes[1, has_ev] = np.asarray(proximal.codes)[ev]
    ev_segment = pair_labels(
        site_codes[0], names_of(distal), site_codes[1], names_of(proximal), " to "
    )
    rule_index = np.full(n_patients, -1, dtype=np.int64)
    rule_index[has_ev] = np.where(j.block_code[ev] >= _CODE_PROBABLE, 0, 1)
    disp_name = crit.dispersion_rules[0].name if crit.dispersion_rules else None
    part = {
        "patient_id": patient_ids,
        "scheme": constant(crit.id, n_patients),
        "verdict": verdict,
        "evidence_nerve": ev_nerve,
        "evidence_segment": ev_segment,
        "evidence_rule": from_table([crit.block[0].name, disp_name, None], rule_index),
        "verdict_rule": constant(rule_text, n_patients),
        "n_positive_findings": n_pos,
        "n_not_assessable_segments": n_na,
        "citation": constant(crit.citation.text, n_patients),
    }
    if not evidence:
        return part

    # one sentence per patient, each kind built only for the patients it describes
    positive = patient_code >= _CODE_PROBABLE
    negative = ~positive & (patient_code == _CODE_NO)
    nothing = ~positive & ~negative & (n_seg == 0)
    text = np.empty(n_patients, dtype=_S)
    rows = np.flatnonzero(positive)
    if rows.size:
        at = np.full(n_patients, -1, dtype=np.int64)
        at[has_ev] = np.arange(has_ev.size)
        k = at[rows]  # -1 (no evidence row) picks the blank appended last
        blank = np.array([""], dtype=_S)
        reason = np.concatenate([np.asarray(j.reason[ev], dtype=_S), blank])
        nerve_side = np.concatenate(
            [_label_strings(segments["nerve"], segments["side"], ev), blank]
        )
        text[rows] = _add(
            nerve_side[k],
            ", ",
            _categorical_strings(ev_segment, rows),
            ": ",
            reason[k],
            " [",
            n_pos[rows].astype(_S),
            " positive finding(s) in all]",
        )
    rows = np.flatnonzero(negative)
    if rows.size:
        text[rows] = _add(
            "all ",
            n_seg[rows].astype(_S),
            f" segment(s) judged; none met the rule ({rule_text})",
        )
    text[nothing] = "no segment to judge (each nerve stimulated at one site only)"
    rows = np.flatnonzero(~positive & ~negative & ~nothing)
    if rows.size:
        text[rows] = _add(
            "no segment met the rule, but ",
            n_na[rows].astype(_S),
            " of ",
            n_seg[rows].astype(_S),
            " segment(s) could not be judged (missing measures or absent distal response)",
        )
    part["evidence"] = text
    return part
