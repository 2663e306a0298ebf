"""Words for measures, limits, operators, columns and values: one table, shared.

The rule descriptions (:mod:`ncs.criteria`), the sentences (:mod:`ncs.explain`), the criteria
reference in the docs, the command line's text output and the HTML report all take their
words from here, so a measure is called the same thing everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

__all__ = [
    "COLUMN_LABELS",
    "LIMIT_LABELS",
    "MEASURE_LABELS",
    "OP_TEXT",
    "VALUE_LABELS",
    "column_label",
    "value_label",
]

MEASURE_LABELS: Mapping[str, str] = MappingProxyType(
    {
        "amp_drop_pct": "amplitude",
        "area_drop_pct": "area",
        "dur_change_pct": "duration",
        "distal_amplitude_mv": "distal amplitude",
        "amp_ratio": "proximal/distal amplitude ratio",
        "pp_amp_drop_pct": "peak-to-peak amplitude",
        "area_or_pp_drop_pct": "area (or peak-to-peak amplitude)",
    }
)
"""The word used for each segment measure in sentences and rule descriptions."""

LIMIT_LABELS: Mapping[str, str] = MappingProxyType(
    {
        "amp_lln_mv": "LLN",
        "dml_uln_ms": "ULN",
        "cv_lln_m_s": "LLN",
        "f_latency_uln_ms": "ULN",
        "distal_duration_cutoff_ms": "cut-off",
    }
)
"""The word used for each reference limit."""

OP_TEXT: Mapping[str, str] = MappingProxyType({">": ">", ">=": "≥", "<": "<", "<=": "≤"})
"""How comparison operators are written for people."""

COLUMN_LABELS: Mapping[str, str] = MappingProxyType(
    {
        "patient_id": "Patient",
        "visit": "Visit",
        "study_date": "Study date",
        "nerve": "Nerve",
        "side": "Side",
        "site": "Site",
        "muscle": "Muscle",
        "response": "Response",
        "latency_ms": "Onset latency (ms)",
        "amplitude_mv": "Amplitude (mV)",
        "area_mvms": "Area (mV·ms)",
        "duration_ms": "Duration (ms)",
        "distance_mm": "Distance (mm)",
        "cv_m_s": "Conduction velocity (m/s)",
        "f_latency_ms": "F-wave latency (ms)",
        "f_persistence_pct": "F-wave persistence (%)",
        "distal_duration_ms": "Distal CMAP duration (ms)",
        "lff_hz": "Low-frequency filter (Hz)",
        "temperature_c": "Temperature (°C)",
        "age_years": "Age (years)",
        "height_cm": "Height (cm)",
        "sex": "Sex",
        "distal_site": "Distal site",
        "proximal_site": "Proximal site",
        "comparison": "Compared with",
        "reference_table": "Reference values",
        "amp_drop_pct": "Amplitude drop (%)",
        "area_drop_pct": "Area drop (%)",
        "dur_change_pct": "Duration change (%)",
        "distal_amplitude_mv": "Distal amplitude (mV)",
        "criterion": "Criterion",
        "scheme": "Criteria",
        "block": "Conduction block",
        "dispersion": "Temporal dispersion",
        "reason": "Why",
        "verdict": "Verdict",
        "evidence": "Evidence",
        "n_sites": "Sites",
        "n_segments": "Segments",
        "n_block_segments": "Segments with block",
        "n_dispersion_segments": "Segments with dispersion",
        "n_not_assessable_segments": "Segments not assessable",
        "n_not_applicable_segments": "Segments not applicable",
        "n_positive_findings": "Positive findings",
        "dml_ms": "Distal motor latency (ms)",
        "mcv_m_s": "Slowest conduction velocity (m/s)",
        "dml_uln_ms": "Distal latency ULN (ms)",
        "amp_lln_mv": "Amplitude LLN (mV)",
        "cv_lln_m_s": "Velocity LLN (m/s)",
        "f_latency_uln_ms": "F-wave latency ULN (ms)",
        "dml_prolonged": "Distal latency prolonged",
        "cv_slowed": "Conduction slowed",
        "f_latency_prolonged": "F-wave latency prolonged",
        "f_waves_absent": "F waves absent",
        "conduction_block": "Conduction block",
        "probable_conduction_block": "Probable conduction block",
        "temporal_dispersion": "Temporal dispersion",
        "distal_duration_prolonged": "Distal CMAP duration prolonged",
        "cold_limb": "Cold limb",
    }
)
"""Column headings in clinical language (report, text output)."""

VALUE_LABELS: Mapping[str, str] = MappingProxyType(
    {
        "yes": "yes",
        "probable": "probable",
        "no": "no",
        "not_assessable": "not assessable — missing data",
        "not_applicable": "not applicable — excluded by the rule",
        "present": "present",
        "absent": "absent (no response)",
    }
)
"""How finding values read for people (``not_assessable`` and ``not_applicable`` differ)."""


def column_label(name: str) -> str:
    """The clinical heading of a column (the name itself, de-underscored, when unknown)."""
    return COLUMN_LABELS.get(name, name.replace("_", " "))


def value_label(value: str) -> str:
    """The words for a finding value (the value itself when unknown)."""
    return VALUE_LABELS.get(value, value.replace("_", " "))
