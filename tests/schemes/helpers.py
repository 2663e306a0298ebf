"""Small studies for the scheme tests, built from the guideline's words.

Every test here uses one laboratory reference table with round limits for every nerve, so
each boundary can be worked by hand: distal latency ULN 4.0 ms, amplitude LLN 5.0 mV,
velocity LLN 50 m/s, F-wave latency ULN 30 ms (:data:`REFERENCE`, passed explicitly).

A nerve is built from its amplitudes, distal to proximal; area, duration, latency and
distance follow from simple defaults that are normal under every scheme (area = 3 x
amplitude, duration 5 ms at every site, distal latency 3 ms, 200 mm segments conducted in
3.5 ms, i.e. 57 m/s, F waves at 25 ms with 80 % persistence).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

import ncs

#: Round limits for every nerve (the issue's unit reference values).
REFERENCE = pd.DataFrame(
    {
        "nerve": ["median", "ulnar", "peroneal", "tibial", "radial"],
        "dml_uln_ms": 4.0,
        "amp_lln_mv": 5.0,
        "cv_lln_m_s": 50.0,
        "f_latency_uln_ms": 30.0,
    }
)

#: Stimulation sites of each nerve, distal to proximal.
SITES = {
    "median": ("wrist", "elbow", "axilla", "erb"),
    "ulnar": ("wrist", "below elbow", "above elbow", "axilla", "erb"),
    "peroneal": ("ankle", "below fibular head", "popliteal fossa"),
    "tibial": ("ankle", "popliteal fossa"),
    "radial": ("forearm", "elbow"),
}


def reference(**limits: float) -> pd.DataFrame:
    """:data:`REFERENCE` with some limits changed for every nerve (e.g. ``amp_lln_mv=4.0``)."""
    out = REFERENCE.copy()
    for column, value in limits.items():
        out[column] = value
    return out


def _per_segment(value: float | Sequence[float], n: int) -> list[float]:
    if isinstance(value, (int, float)):
        return [float(value)] * n
    values = [float(v) for v in value]
    if len(values) != n:
        raise ValueError(f"need {n} values, got {len(values)}")
    return values


def nerve(
    name: str,
    amp: Sequence[float] = (10.0, 10.0),
    *,
    area: Sequence[float] | None = None,
    dur: Sequence[float] | None = None,
    sites: Sequence[str] | None = None,
    dml: float = 3.0,
    distance: float | Sequence[float] = 200.0,
    dlat: float | Sequence[float] = 3.5,
    f: float | None = 25.0,
    persistence: float | None = 80.0,
    lff: float | None = None,
    distal_duration: float | None = None,
    side: str = "R",
    patient: str = "P",
) -> pd.DataFrame:
    """One nerve: amplitudes (mV) distal to proximal; one site per amplitude.

    ``distance`` and ``dlat`` are per segment (a number for all): the velocity of segment
    ``k`` is ``distance[k] / dlat[k]`` (mm / ms = m/s).
    """
    n = len(amp)
    sites = tuple(sites) if sites is not None else SITES[name][:n]
    segments = n - 1
    gaps = _per_segment(distance, segments) if segments else []
    steps = _per_segment(dlat, segments) if segments else []
    latency = [dml]
    for step in steps:
        latency.append(latency[-1] + step)
    first = [1.0] + [np.nan] * (n - 1)
    return pd.DataFrame(
        {
            "patient_id": patient,
            "nerve": name,
            "side": side,
            "site": list(sites),
            "latency_ms": latency,
            "amplitude_mv": [float(a) for a in amp],
            "area_mvms": [3.0 * a for a in amp] if area is None else [float(a) for a in area],
            "duration_ms": [5.0] * n if dur is None else [float(d) for d in dur],
            "distance_mm": [70.0, *gaps],
            "f_latency_ms": [np.nan if f is None else f * x for x in first],
            "f_persistence_pct": [
                np.nan if persistence is None else persistence * x for x in first
            ],
            "lff_hz": [np.nan if lff is None else lff * x for x in first],
            "distal_duration_ms": [
                np.nan if distal_duration is None else distal_duration * x for x in first
            ],
        }
    )


def absent(name: str, *, side: str = "R", patient: str = "P") -> pd.DataFrame:
    """A nerve with no response at its distal site (and no F waves)."""
    return pd.DataFrame(
        {
            "patient_id": [patient],
            "nerve": [name],
            "side": [side],
            "site": [SITES[name][0]],
            "response": ["absent"],
            "latency_ms": [np.nan],
            "amplitude_mv": [np.nan],
            "f_persistence_pct": [0.0],
        }
    )


def study(*nerves: pd.DataFrame) -> pd.DataFrame:
    """Several nerves of one patient (or several patients) as one sites table."""
    return pd.concat(nerves, ignore_index=True)


def run(sites: pd.DataFrame, scheme, ref: pd.DataFrame | None = None) -> ncs.Analysis:
    return ncs.analyze(sites, criteria=scheme, reference=REFERENCE if ref is None else ref)


def verdict(sites: pd.DataFrame, scheme, ref: pd.DataFrame | None = None, patient="P") -> str:
    p = run(sites, scheme, ref).patients
    return str(p.loc[p["patient_id"] == patient, "verdict"].item())


def nerve_row(sites: pd.DataFrame, scheme, name: str, side="R", ref=None) -> pd.Series:
    n = run(sites, scheme, ref).nerves
    return n[(n["nerve"] == name) & (n["side"] == side)].iloc[0]


def param(sites: pd.DataFrame, scheme, column: str, name: str, ref=None) -> str:
    """A nerve's parameter column (``dml_prolonged``, ...) as text."""
    return str(nerve_row(sites, scheme, name, ref=ref)[column])


def finding(
    sites: pd.DataFrame, scheme, distal: str, proximal: str, column="block", ref=None
) -> str:
    """One segment's finding (the segment between two named sites)."""
    f = run(sites, scheme, ref).findings
    row = f[(f["distal_site"] == distal) & (f["proximal_site"] == proximal)]
    return str(row[column].item())


def findings(sites: pd.DataFrame, scheme, column="block", ref=None) -> dict[tuple[str, str], str]:
    """Every segment's finding, by (distal site, proximal site)."""
    f = run(sites, scheme, ref).findings
    return {
        (d, p): str(v)
        for d, p, v in zip(f["distal_site"], f["proximal_site"], f[column], strict=True)
    }
