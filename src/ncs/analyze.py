"""The one-call entry point: sites in, segments, findings, nerves and patients out."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ncs._version import __version__
from ncs.criteria import (
    BLOCK_VALUES,
    DISPERSION_VALUES,
    Criterion,
    category_codes,
    judge,
    resolve,
)
from ncs.schema import validate
from ncs.segments import build_segments
from ncs.summary import Judgement, summarize

__all__ = ["JSON_SCHEMA_VERSION", "Analysis", "analyze"]

JSON_SCHEMA_VERSION = 1
"""Version of the ``to_dict()`` / ``to_json()`` layout; bumped on any incompatible change."""


@dataclass(frozen=True)
class Analysis:
    """Result of :func:`analyze`.

    Attributes
    ----------
    sites : pandas.DataFrame
        The validated, normalised input (one row per input row, ``input_row`` = position).
    segments : pandas.DataFrame
        One row per comparison of two sites (see :func:`ncs.segments`).
    findings : pandas.DataFrame
        One row per (segment, criterion): ``block``, ``dispersion``, ``reason``.
    nerves : pandas.DataFrame
        One row per (nerve, scheme), every nerve included.
    patients : pandas.DataFrame
        One row per (patient, scheme): ``verdict`` and its evidence.
    criteria : tuple of Criterion
        The criteria applied.
    meta : dict
        Provenance: library version, criteria ids and their verification status.
    """

    sites: pd.DataFrame
    segments: pd.DataFrame
    findings: pd.DataFrame
    nerves: pd.DataFrame
    patients: pd.DataFrame
    criteria: tuple[Criterion, ...]
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able nested dict with stable keys (``schema_version`` says which layout)."""
        return {
            "schema_version": JSON_SCHEMA_VERSION,
            "ncs_version": self.meta.get("ncs_version", __version__),
            "criteria": [c.to_dict() for c in self.criteria],
            "patients": _records(self.patients),
            "nerves": _records(self.nerves),
            "segments": _records(self.segments),
            "findings": _records(self.findings),
            "sites": _records(self.sites),
        }

    def to_json(self, *, indent: int | None = None) -> str:
        """The :meth:`to_dict` content as JSON text (no NaN: missing values are ``null``)."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False, allow_nan=False)

    def summary(self) -> str:
        """A few lines per patient: each scheme's verdict and its evidence."""
        lines = []
        for pid, rows in self.patients.groupby("patient_id", sort=True):
            lines.append(f"patient {pid}")
            for r in rows.itertuples(index=False):
                lines.append(f"  {r.scheme}: {r.verdict} - {r.evidence}")
        return "\n".join(lines)


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """DataFrame rows as dicts of plain Python values; NaN/NA -> None."""
    cols = {}
    for col in df.columns:
        s = df[col]
        if s.dtype.kind in "iu":
            cols[col] = [int(v) for v in s.to_numpy()]
        elif s.dtype.kind == "f":
            cols[col] = [None if math.isnan(v) else float(v) for v in s.to_numpy()]
        elif s.dtype.kind == "b":
            cols[col] = [bool(v) for v in s.to_numpy()]
        else:
            values = s.astype(object).to_numpy()
            cols[col] = [None if _is_missing(v) else _plain(v) for v in values]
    names = list(cols)
    return [dict(zip(names, row, strict=True)) for row in zip(*cols.values(), strict=True)]


def _is_missing(v: Any) -> bool:
    if v is None or v is pd.NA:
        return True
    return isinstance(v, float) and math.isnan(v)


def _plain(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    return v


def analyze(
    sites: pd.DataFrame,
    criteria: str | Criterion | Iterable[str | Criterion] | None = None,
    *,
    units: Mapping[str, str] | None = None,
) -> Analysis:
    """Judge a nerve conduction study (or a cohort) under one or more criteria.

    Parameters
    ----------
    sites : pandas.DataFrame
        Tidy sites table, one row per stimulation site (see :func:`ncs.validate`).
    criteria : str, Criterion, or iterable of them, optional
        Criterion ids from :data:`ncs.CRITERIA` or custom criteria. Default: every verified
        built-in criterion.
    units : mapping, optional
        Units of the input if not the canonical ones, e.g. ``{"amplitude": "uV"}``.

    Returns
    -------
    Analysis
        ``segments``, ``findings``, ``nerves``, ``patients`` (and ``to_dict``/``to_json``).

    Raises
    ------
    ValidationError
        Listing every problem in the input; nothing is computed.
    UnknownCriteriaError
        For a criterion id that is not known.

    References
    ----------
    .. [1] Katz JS, et al. Axonal multifocal motor neuropathy without conduction block or
       other features of demyelination. Neurology 2002;58:615-620.
    .. [2] Simon NG, Ayer G, Lomen-Hoerth C. Neurology 2013;81:2116-2120.
    .. [3] Bouche P, Léger JM, et al. J Neurol Neurosurg Psychiatry 1995 (supplement).

    Examples
    --------
    >>> import pandas as pd, ncs
    >>> sites = pd.DataFrame({
    ...     "patient_id": ["P1", "P1"], "nerve": ["ulnar", "ulnar"], "side": ["R", "R"],
    ...     "site": ["wrist", "below elbow"], "latency_ms": [2.9, 7.0],
    ...     "amplitude_mv": [10.0, 3.0], "area_mvms": [30.0, 9.0], "duration_ms": [6.0, 6.3],
    ...     "distance_mm": [80, 230]})
    >>> result = ncs.analyze(sites)
    >>> result.patients[["scheme", "verdict"]].values.tolist()
    [['katz2002', 'demyelinating'], ['bouche1995', 'conduction_block']]
    """
    crits = resolve(criteria)
    if not crits:
        raise ValueError("no criteria to apply")
    valid = validate(sites, units=units)
    seg, segment_nerve, sorted_sites, site_nerve = build_segments(valid)
    judgements = [Judgement(c, *judge(c, seg)) for c in crits]
    findings = _findings(seg, judgements)
    nerves, patients = summarize(seg, segment_nerve, sorted_sites, site_nerve, judgements)
    meta = {
        "ncs_version": __version__,
        "criteria": {c.id: {"verified": c.verified, "citation": c.citation.text} for c in crits},
        "n_input_rows": len(valid),
    }
    return Analysis(
        sites=valid,
        segments=seg,
        findings=findings,
        nerves=nerves,
        patients=patients,
        criteria=crits,
        meta=meta,
    )


FINDING_KEYS: tuple[str, ...] = (
    "patient_id",
    "nerve",
    "side",
    "distal_site",
    "proximal_site",
    "reference",
)


def _findings(seg: pd.DataFrame, judgements: list[Judgement]) -> pd.DataFrame:
    """All criteria's findings in one table: criterion by criterion, segment order within."""
    k = len(judgements)
    n = len(seg)
    data: dict[str, Any] = {}
    for key in FINDING_KEYS:
        values = seg[key].to_numpy(dtype=object)
        data[key] = pd.array(np.tile(values, k), dtype="string")
    data["criterion"] = pd.array(
        np.repeat(np.array([j.criterion.id for j in judgements], dtype=object), n), dtype="string"
    )
    block = np.concatenate([j.block_code for j in judgements])
    disp = np.concatenate([j.disp_code for j in judgements])
    data["block"] = pd.Categorical.from_codes(
        category_codes(block, BLOCK_VALUES), categories=list(BLOCK_VALUES)
    )
    data["dispersion"] = pd.Categorical.from_codes(
        category_codes(disp, DISPERSION_VALUES), categories=list(DISPERSION_VALUES)
    )
    reason = np.concatenate([j.reason for j in judgements]) if judgements else np.array([])
    data["reason"] = pd.array(reason.astype(object), dtype="string")
    return pd.DataFrame(data)
