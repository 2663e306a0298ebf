"""Nerve- and patient-level roll-up of segment findings, per criterion.

Three-valued throughout: a nerve or patient is positive when a known finding is positive,
negative only when every finding that could make it positive is known to be negative, and
indeterminate (``not_assessable`` for nerves) otherwise, including when there is nothing to
judge at all (a nerve stimulated at one site only).
"""

from __future__ import annotations

from collections.abc import Sequence

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
)
from ncs.schema import NERVE_KEYS

__all__ = ["PATIENT_COLUMNS", "summarize_nerves", "summarize_patients"]

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

_CODE_OF = {
    "yes": _CODE_YES,
    "probable": _CODE_PROBABLE,
    "no": _CODE_NO,
    "not_assessable": _CODE_NA,
}
_SEGMENT_KEYS = ["patient_id", "nerve", "side", "distal_site", "proximal_site", "reference"]


def _codes(values: pd.Series) -> np.ndarray:
    """Category values -> ordered codes (no < not_assessable < probable < yes)."""
    lut = np.array([_CODE_OF[c] for c in values.cat.categories], dtype=np.int8)
    return lut[values.cat.codes.to_numpy()]


def _from_codes(codes: np.ndarray, categories: Sequence[str]) -> pd.Categorical:
    value = {
        _CODE_YES: "yes",
        _CODE_PROBABLE: "probable",
        _CODE_NO: "no",
        _CODE_NA: "not_assessable",
    }
    lut = np.full(4, -1, dtype=np.int8)
    for code, name in value.items():
        if name in categories:
            lut[code] = list(categories).index(name)
        elif name == "probable":  # no "probable" category: count it as yes
            lut[code] = list(categories).index("yes")
    return pd.Categorical.from_codes(lut[codes], categories=list(categories))


def _nerve_table(sites: pd.DataFrame) -> pd.DataFrame:
    """One row per nerve with its number of sites, sorted by key."""
    nerves = (
        sites.groupby(list(NERVE_KEYS), observed=True, sort=True, dropna=False)
        .size()
        .rename("n_sites")
        .reset_index()
    )
    return nerves


def summarize_nerves(
    sites: pd.DataFrame, findings: pd.DataFrame, criteria: Sequence[Criterion]
) -> pd.DataFrame:
    """Per nerve and criterion: block and dispersion over all the nerve's segments.

    Every nerve of ``sites`` appears, also those with one site only (no segment, so
    ``not_assessable``).

    Returns
    -------
    pandas.DataFrame
        ``patient_id, nerve, side, scheme, n_sites, n_segments, block, dispersion,
        n_block_segments, n_dispersion_segments, n_not_assessable_segments``.
    """
    base = _nerve_table(sites)
    keys = list(NERVE_KEYS)
    frames = []
    for crit in criteria:
        f = findings[findings["criterion"] == crit.id]
        b = _codes(f["block"])
        d = _codes(f["dispersion"])
        g = pd.DataFrame(
            {
                **{k: f[k].to_numpy() for k in keys},
                "block_code": b,
                "disp_code": d,
                "is_block": b >= _CODE_PROBABLE,
                "is_disp": d == _CODE_YES,
                "is_na": (b == _CODE_NA) | ((d == _CODE_NA) & crit.patient_counts_dispersion),
                "one": 1,
            }
        )
        agg = (
            g.groupby(keys, sort=False)
            .agg(
                n_segments=("one", "sum"),
                block_code=("block_code", "max"),
                disp_code=("disp_code", "max"),
                n_block_segments=("is_block", "sum"),
                n_dispersion_segments=("is_disp", "sum"),
                n_not_assessable_segments=("is_na", "sum"),
            )
            .reset_index()
        )
        merged = base.merge(agg, on=keys, how="left", validate="one_to_one")
        n_seg = merged["n_segments"].fillna(0).to_numpy(dtype=np.int64)
        block_code = merged["block_code"].fillna(_CODE_NA).to_numpy(dtype=np.int8)
        disp_code = merged["disp_code"].fillna(_CODE_NA).to_numpy(dtype=np.int8)
        out = merged[[*keys, "n_sites"]].copy()
        out.insert(3, "scheme", crit.id)
        out["n_segments"] = n_seg
        out["block"] = _from_codes(block_code, BLOCK_VALUES)
        out["dispersion"] = _from_codes(disp_code, DISPERSION_VALUES)
        for col in ("n_block_segments", "n_dispersion_segments", "n_not_assessable_segments"):
            out[col] = merged[col].fillna(0).to_numpy(dtype=np.int64)
        frames.append(out)
    if not frames:
        return base.assign(scheme=pd.Series(dtype="string"))
    nerves = pd.concat(frames, ignore_index=True)
    nerves["scheme"] = nerves["scheme"].astype("string")
    return nerves


def summarize_patients(
    nerves: pd.DataFrame, findings: pd.DataFrame, criteria: Sequence[Criterion]
) -> pd.DataFrame:
    """One row per (patient, scheme): the verdict and the evidence that carried it.

    Returns
    -------
    pandas.DataFrame
        ``patient_id, scheme, verdict, evidence, evidence_nerve, evidence_segment,
        evidence_rule, n_nerves, n_segments, n_positive_segments,
        n_not_assessable_segments, citation``.
    """
    frames = []
    for crit in criteria:
        nv = nerves[nerves["scheme"] == crit.id]
        b = _codes(nv["block"])
        d = _codes(nv["dispersion"])
        code = np.maximum(b, d) if crit.patient_counts_dispersion else b
        # A nerve with no segment (one site only) has nothing for this rule to judge: it
        # neither carries nor blocks a verdict. A patient with no segment at all is
        # indeterminate (code -1 falls to the default below).
        code = np.where(nv["n_segments"].to_numpy() == 0, -1, code).astype(np.int8)
        per = pd.DataFrame(
            {
                "patient_id": nv["patient_id"].to_numpy(),
                "code": code,
                "n_segments": nv["n_segments"].to_numpy(),
                "n_na": nv["n_not_assessable_segments"].to_numpy(),
                "n_pos": nv["n_block_segments"].to_numpy()
                + (nv["n_dispersion_segments"].to_numpy() if crit.patient_counts_dispersion else 0),
                "one": 1,
            }
        )
        agg = (
            per.groupby("patient_id", sort=True)
            .agg(
                code=("code", "max"),
                n_nerves=("one", "sum"),
                n_segments=("n_segments", "sum"),
                n_positive_findings=("n_pos", "sum"),
                n_not_assessable_segments=("n_na", "sum"),
            )
            .reset_index()
        )
        verdict_code = agg["code"].to_numpy()
        positive, negative, indeterminate = crit.verdicts
        verdict = np.select(
            [verdict_code >= _CODE_PROBABLE, verdict_code == _CODE_NO],
            [positive, negative],
            indeterminate,
        )
        out = pd.DataFrame({"patient_id": agg["patient_id"].astype("string"), "scheme": crit.id})
        out["verdict"] = verdict
        ev = _evidence(crit, findings[findings["criterion"] == crit.id], agg["patient_id"])
        out = pd.concat([out, ev.reset_index(drop=True)], axis=1)
        out["verdict_rule"] = _verdict_rule(crit)
        out["n_nerves"] = agg["n_nerves"].to_numpy()
        out["n_segments"] = agg["n_segments"].to_numpy()
        out["n_positive_findings"] = agg["n_positive_findings"].to_numpy()
        out["n_not_assessable_segments"] = agg["n_not_assessable_segments"].to_numpy()
        out["citation"] = crit.citation.text
        out["evidence"] = _evidence_sentence(out, crit)
        frames.append(out.drop(columns="evidence_reason"))
    patients = (
        pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=PATIENT_COLUMNS)
    )
    patients = patients[list(PATIENT_COLUMNS)]
    for col in (
        "scheme",
        "verdict",
        "evidence",
        "evidence_nerve",
        "evidence_segment",
        "evidence_rule",
        "verdict_rule",
        "citation",
    ):
        if col in patients.columns:
            patients[col] = patients[col].astype("string")
    return patients


def _verdict_rule(crit: Criterion) -> str:
    rules = [r.describe() for r in crit.block]
    what = " or ".join(rules)
    if crit.patient_counts_dispersion and crit.dispersion is not None:
        what += f"; or {crit.dispersion.describe()}"
    return f"{crit.verdicts[0]} if any segment meets: {what}"


def _evidence(crit: Criterion, findings: pd.DataFrame, patient_ids: pd.Series) -> pd.DataFrame:
    """The first positive finding of each patient (segment order), as columns."""
    b = _codes(findings["block"])
    d = _codes(findings["dispersion"])
    positive = b >= _CODE_PROBABLE
    if crit.patient_counts_dispersion:
        positive |= d == _CODE_YES
    pos = findings.loc[positive]
    first = pos.drop_duplicates("patient_id", keep="first")
    nerve_label = first["nerve"].astype("string") + " " + first["side"].astype("string")
    segment = (
        first["distal_site"].astype("string") + " to " + first["proximal_site"].astype("string")
    )
    rule_of = np.where(
        _codes(first["block"]) >= _CODE_PROBABLE,
        crit.block[0].name,
        crit.dispersion.name if crit.dispersion is not None else "",
    )
    ev = pd.DataFrame(
        {
            "patient_id": first["patient_id"].to_numpy(),
            "evidence_nerve": nerve_label.to_numpy(),
            "evidence_segment": segment.to_numpy(),
            "evidence_rule": rule_of,
            "evidence_reason": first["reason"].to_numpy(),
        }
    )
    table = pd.DataFrame({"patient_id": patient_ids.to_numpy()})
    return table.merge(ev, on="patient_id", how="left").drop(columns="patient_id")


def _evidence_sentence(out: pd.DataFrame, crit: Criterion) -> pd.Series:
    """One sentence per patient saying what carried the verdict."""
    positive, negative, _ = crit.verdicts
    n_pos = out["n_positive_findings"].astype("int64").astype("string")
    n_seg = out["n_segments"].astype("int64").astype("string")
    n_na = out["n_not_assessable_segments"].astype("int64").astype("string")
    pos_text = (
        out["evidence_nerve"].astype("string")
        + ", "
        + out["evidence_segment"].astype("string")
        + ": "
        + out["evidence_reason"].astype("string")
        + " ["
        + n_pos
        + " positive finding(s) in all]"
    )
    neg_text = (
        "all " + n_seg + " segment(s) judged; none met the rule (" + out["verdict_rule"] + ")"
    )
    ind_text = (
        "no segment met the rule, but "
        + n_na
        + " of "
        + n_seg
        + " segment(s) could not be judged (missing measures or absent distal response)"
    )
    no_seg_text = pd.Series(
        "no segment to judge (each nerve stimulated at one site only)",
        index=out.index,
        dtype="string",
    )
    verdict = out["verdict"]
    res = ind_text.where(out["n_segments"] > 0, no_seg_text)
    res = neg_text.where(verdict == negative, res)
    res = pos_text.where(verdict == positive, res)
    return res.astype("string")
