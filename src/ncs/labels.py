"""Words for measures, limits, operators, columns and values: one table, shared.

The rule descriptions (:mod:`ncs.criteria`), the sentences (:mod:`ncs.explain`), the criteria
reference in the docs, the command line's text output and the HTML report all take their
words from here, so a measure is called the same thing everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

__all__ = [
    "COLUMN_LABELS",
    "FOLLOWUP_LABELS",
    "LIMIT_LABELS",
    "MEASURE_LABELS",
    "NOT_IN_SCHEME",
    "OP_TEXT",
    "SIDE_LABELS",
    "VALUE_LABELS",
    "column_label",
    "not_assessable_label",
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
        "site_order": "Site order",
        "input_row": "Input row",
        "source_row": "Line in the file",
        "wide_row": "Row in the sheet",
        "code": "Warning",
        "message": "Message",
        "column": "Column",
        "problems": "Problems",
        "phase_cancellation_possible": "Phase cancellation possible",
        "implausible": "Not judged as data",
        "parameters_met": "Parameters met",
        "distal_response": "Distal response",
        "proximal_response": "Proximal response",
        "f_absent": "F waves absent",
        "distal_duration_cutoff_ms": "Distal CMAP duration cut-off (ms)",
        "distal_duration_uln_ms": "Distal CMAP duration ULN (ms)",
        "citation": "Citation",
        "evidence_nerve": "Nerve of the evidence",
        "evidence_segment": "Segment of the evidence",
        "evidence_rule": "Rule of the evidence",
        "verdict_rule": "Decided by",
        "n_nerves": "Nerves",
        "n_one_site_nerves": "Nerves with one site only",
        "proximal_amplitude_mv": "Proximal amplitude (mV)",
        "distal_area_mvms": "Distal area (mV·ms)",
        "proximal_area_mvms": "Proximal area (mV·ms)",
        "distal_latency_ms": "Distal latency (ms)",
        "proximal_latency_ms": "Proximal latency (ms)",
        "pp_amplitude_mv": "Peak-to-peak amplitude (mV)",
        "pp_amp_drop_pct": "Peak-to-peak amplitude drop (%)",
        "area_or_pp_drop_pct": "Area (or peak-to-peak amplitude) drop (%)",
        "total_duration_ms": "Total duration (ms)",
        "entrapment": "Entrapment zone",
        "from_most_distal": "From the most distal site",
        "comment": "Comment",
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
        "adjacent": "the next distal site",
        "distal": "the most distal site",
        # patient verdicts (ncs.DESIGN: one vocabulary per scheme)
        "demyelinating": "demyelinating",
        "not_demyelinating": "not demyelinating",
        "indeterminate": "indeterminate — missing data could change it",
        "conduction_block": "conduction block",
        "no_conduction_block": "no conduction block",
        "definite": "definite",
        "possible": "possible",
        "not_met": "not met",
        "met": "met",
        "strongly_supportive": "strongly supportive",
        "weakly_supportive": "weakly supportive",
        "definite_cb": "definite conduction block",
        "probable_cb": "probable conduction block",
        "no_cb": "no conduction block",
        "axonal": "axonal",
        "inexcitable": "inexcitable",
        "equivocal": "equivocal — no class met on the known data",
        "normal": "normal",
    }
)
"""How finding values and patient verdicts read for people (``not_assessable`` and
``not_applicable`` differ; a scheme without a rule reads :data:`NOT_IN_SCHEME`)."""

FOLLOWUP_LABELS: Mapping[str, str] = MappingProxyType(
    {
        # segment transitions between two visits (ncs.followup.TRANSITIONS)
        "new_block": "new block",
        "resolved": "block resolved",
        "persisting": "block persisting",
        "no_block": "no block at either visit",
        # nerve and patient courses (ncs.followup.COURSES)
        "improved": "improved",
        "worsened": "worsened",
        "unchanged": "unchanged",
        # both: what the two visits do not tell
        "not_assessable": "not assessable",
    }
)
"""How follow-up transitions and courses read for people (the report's follow-up section)."""

NOT_IN_SCHEME = "n/a — not part of this scheme"
"""A finding or parameter the scheme has no rule for (Bouche 1995 has no dispersion rule):
neither missing data nor an exclusion by a rule."""

SIDE_LABELS: Mapping[str, str] = MappingProxyType({"R": "right", "L": "left"})
"""Sides in words."""


def column_label(name: str) -> str:
    """The clinical heading of a column (the name itself, de-underscored, when unknown)."""
    return COLUMN_LABELS.get(name, name.replace("_", " "))


def value_label(value: str) -> str:
    """The words for a finding value or verdict (the value, de-underscored, when unknown)."""
    return VALUE_LABELS.get(value, value.replace("_", " "))


def not_assessable_label(missing: Iterable[str] = ()) -> str:
    """``"not assessable — missing data (area, duration)"``: the measures named in words.

    ``missing`` holds column names (``area_drop_pct``, ``f_latency_ms``, ...) or words.
    """
    words = []
    for name in missing:
        word = MEASURE_LABELS.get(name) or _lower_label(name)
        if word not in words:
            words.append(word)
    base = VALUE_LABELS["not_assessable"]
    return f"{base} ({', '.join(words)})" if words else base


def _lower_label(name: str) -> str:
    """A column's label without its unit, in lower case ("F-wave latency")."""
    label = COLUMN_LABELS.get(name)
    if label is None:
        return name.replace("_", " ")
    label = label.split(" (", 1)[0]
    return label if label[:2].isupper() or label.startswith("F-") else label[0].lower() + label[1:]
