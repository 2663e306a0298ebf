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
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ncs.criteria import (
    _CODE_NA,
    _CODE_NO,
    _CODE_PROBABLE,
    _CODE_YES,
    BLOCK_VALUES,
    DISPERSION_VALUES,
    Criterion,
    category_codes,
)
from ncs.explain import join_strings
from ncs.schema import NERVE_KEYS

__all__ = ["NERVE_COLUMNS", "PATIENT_COLUMNS", "Judgement", "summarize"]

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


@dataclass(frozen=True)
class Judgement:
    """One criterion's segment results as arrays, in segment order."""

    criterion: Criterion
    block_code: np.ndarray
    disp_code: np.ndarray
    reason: np.ndarray


def _max_at(n: int, index: np.ndarray, values: np.ndarray, initial: int = -1) -> np.ndarray:
    out = np.full(n, initial, dtype=np.int8)
    np.maximum.at(out, index, values)
    return out


def _count(n: int, index: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    return np.bincount(index, weights=weights, minlength=n).astype(np.int64)


def _text(values: np.ndarray) -> pd.arrays.StringArray:
    return pd.array(np.asarray(values, dtype=object), dtype="string")


def summarize(
    segments: pd.DataFrame,
    segment_nerve: np.ndarray,
    sorted_sites: pd.DataFrame,
    site_nerve: np.ndarray,
    judgements: Sequence[Judgement],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The nerves and patients tables for every judged criterion.

    Parameters
    ----------
    segments, segment_nerve, sorted_sites, site_nerve
        Output of :func:`ncs.segments.build_segments`.
    judgements : sequence of Judgement
        One per criterion, arrays aligned with ``segments``.

    Returns
    -------
    nerves : pandas.DataFrame
        Columns :data:`NERVE_COLUMNS`; one row per (nerve, scheme), every nerve included.
    patients : pandas.DataFrame
        Columns :data:`PATIENT_COLUMNS`; one row per (patient, scheme).
    """
    n_nerves = int(site_nerve.max()) + 1 if len(site_nerve) else 0
    first_site = np.flatnonzero(np.r_[True, site_nerve[1:] != site_nerve[:-1]]) if n_nerves else []
    keys = {k: sorted_sites[k].to_numpy(dtype=object)[first_site] for k in NERVE_KEYS}
    n_sites = _count(n_nerves, site_nerve)
    n_seg = _count(n_nerves, segment_nerve)
    # nerves are sorted by patient first, so a patient's nerves are contiguous
    new_patient = np.r_[True, keys["patient_id"][1:] != keys["patient_id"][:-1]] if n_nerves else []
    nerve_patient = np.cumsum(new_patient) - 1 if n_nerves else np.zeros(0, dtype=np.int64)
    n_patients = int(nerve_patient[-1]) + 1 if n_nerves else 0
    patient_ids = keys["patient_id"][np.flatnonzero(new_patient)] if n_nerves else np.array([])
    segment_patient = nerve_patient[segment_nerve] if n_nerves else segment_nerve

    nerve_parts: list[dict[str, np.ndarray]] = []
    patient_parts: list[dict[str, np.ndarray]] = []
    n_nerves_of_patient = _count(n_patients, nerve_patient)
    n_seg_of_patient = _count(n_patients, segment_patient)
    for j in judgements:
        crit, b, d = j.criterion, j.block_code, j.disp_code
        counts_disp = crit.patient_counts_dispersion and crit.dispersion is not None
        is_block = b >= _CODE_PROBABLE
        is_disp = d == _CODE_YES
        is_na = (b == _CODE_NA) | ((d == _CODE_NA) & counts_disp)
        nerve_block = _max_at(n_nerves, segment_nerve, b)
        nerve_disp = _max_at(n_nerves, segment_nerve, d)
        nerve_block[n_seg == 0] = _CODE_NA
        nerve_disp[n_seg == 0] = _CODE_NA
        nerve_parts.append(
            {
                **keys,
                "scheme": np.full(n_nerves, crit.id, dtype=object),
                "n_sites": n_sites,
                "n_segments": n_seg,
                "block": category_codes(nerve_block, BLOCK_VALUES),
                "dispersion": category_codes(nerve_disp, DISPERSION_VALUES),
                "n_block_segments": _count(n_nerves, segment_nerve, is_block),
                "n_dispersion_segments": _count(n_nerves, segment_nerve, is_disp),
                "n_not_assessable_segments": _count(n_nerves, segment_nerve, is_na),
            }
        )

        # patient level: a segment is positive on block (or dispersion where it counts)
        seg_code = np.maximum(b, d) if counts_disp else b
        patient_code = _max_at(n_patients, segment_patient, seg_code)  # -1: no segment
        positive, negative, indeterminate = crit.verdicts
        verdict = np.select(
            [patient_code >= _CODE_PROBABLE, patient_code == _CODE_NO],
            [positive, negative],
            indeterminate,
        ).astype(object)
        pos = is_block | (is_disp if counts_disp else False)
        part = _patient_part(
            crit, j, segments, segment_patient, n_patients, patient_ids, verdict, pos, is_na
        )
        part["n_nerves"] = n_nerves_of_patient
        part["n_segments"] = n_seg_of_patient
        patient_parts.append(part)

    nerves = _frame(
        nerve_parts, NERVE_COLUMNS, {"block": BLOCK_VALUES, "dispersion": DISPERSION_VALUES}
    )
    patients = _frame(patient_parts, PATIENT_COLUMNS, {})
    return nerves, patients


_TEXT_COLUMNS = frozenset(
    {
        "patient_id",
        "nerve",
        "side",
        "scheme",
        "verdict",
        "evidence",
        "evidence_nerve",
        "evidence_segment",
        "evidence_rule",
        "verdict_rule",
        "citation",
    }
)


def _frame(
    parts: list[dict[str, np.ndarray]],
    columns: tuple[str, ...],
    categorical: dict[str, tuple[str, ...]],
) -> pd.DataFrame:
    """One DataFrame from per-criterion column arrays (concatenated once)."""
    data: dict[str, object] = {}
    for col in columns:
        values = np.concatenate([p[col] for p in parts]) if parts else np.array([], dtype=object)
        if col in categorical:
            cats = list(categorical[col])
            data[col] = pd.Categorical.from_codes(values.astype(np.int8), categories=cats)
        elif col in _TEXT_COLUMNS:
            data[col] = _text(values)
        else:
            data[col] = values.astype(np.int64)
    return pd.DataFrame(data)


def verdict_rule(crit: Criterion) -> str:
    """The patient rule in words, e.g. ``"demyelinating if any segment meets: ..."``."""
    what = " or ".join(r.describe() for r in crit.block)
    if crit.patient_counts_dispersion and crit.dispersion is not None:
        what += f"; or {crit.dispersion.describe()}"
    return f"{crit.verdicts[0]} if any segment meets: {what}"


def _patient_part(
    crit: Criterion,
    j: Judgement,
    segments: pd.DataFrame,
    segment_patient: np.ndarray,
    n_patients: int,
    patient_ids: np.ndarray,
    verdict: np.ndarray,
    positive_segment: np.ndarray,
    na_segment: np.ndarray,
) -> dict[str, np.ndarray]:
    """Verdicts with the first positive finding of each patient as evidence (arrays)."""
    n_pos = _count(n_patients, segment_patient, positive_segment)
    n_na = _count(n_patients, segment_patient, na_segment)
    n_seg = _count(n_patients, segment_patient)
    rule_text = verdict_rule(crit)

    pos_idx = np.flatnonzero(positive_segment)
    has_ev, first = np.unique(segment_patient[pos_idx], return_index=True)
    ev = pos_idx[first]
    ev_nerve = np.full(n_patients, None, dtype=object)
    ev_segment = np.full(n_patients, None, dtype=object)
    ev_rule = np.full(n_patients, None, dtype=object)
    ev_reason = np.full(n_patients, "", dtype=object)
    if ev.size:
        seg = {
            c: segments[c].to_numpy(dtype=object)[ev]
            for c in ("nerve", "side", "distal_site", "proximal_site")
        }
        ev_nerve[has_ev] = join_strings(seg["nerve"], " ", seg["side"])
        ev_segment[has_ev] = join_strings(seg["distal_site"], " to ", seg["proximal_site"])
        block_positive = j.block_code[ev] >= _CODE_PROBABLE
        disp_name = crit.dispersion.name if crit.dispersion is not None else ""
        ev_rule[has_ev] = np.where(block_positive, crit.block[0].name, disp_name)
        ev_reason[has_ev] = j.reason[ev].astype(object)

    positive, negative, _ = crit.verdicts
    evidence = np.select(
        [verdict == positive, verdict == negative, n_seg == 0],
        [
            join_strings(
                ev_nerve,
                ", ",
                ev_segment,
                ": ",
                ev_reason,
                " [",
                n_pos.astype(str),
                " positive finding(s) in all]",
            ),
            join_strings(
                "all ", n_seg.astype(str), f" segment(s) judged; none met the rule ({rule_text})"
            ),
            "no segment to judge (each nerve stimulated at one site only)",
        ],
        join_strings(
            "no segment met the rule, but ",
            n_na.astype(str),
            " of ",
            n_seg.astype(str),
            " segment(s) could not be judged (missing measures or absent distal response)",
        ),
    )
    return {
        "patient_id": np.asarray(patient_ids, dtype=object),
        "scheme": np.full(n_patients, crit.id, dtype=object),
        "verdict": verdict,
        "evidence": evidence,
        "evidence_nerve": ev_nerve,
        "evidence_segment": ev_segment,
        "evidence_rule": ev_rule,
        "verdict_rule": np.full(n_patients, rule_text, dtype=object),
        "n_positive_findings": n_pos,
        "n_not_assessable_segments": n_na,
        "citation": np.full(n_patients, crit.citation.text, dtype=object),
    }
