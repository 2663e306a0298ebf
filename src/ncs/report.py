"""The report a physician signs: one self-contained HTML page, print-ready, or a PDF.

One file, no external resources: inline CSS, plots as base64 PNG images drawn with matplotlib
(optional extra ``plot``; without it the report has every table and sentence but no plots).
Every string that comes from the input (patient ids, nerve and site names, extra columns) is
HTML-escaped, and escaped again for CSS where it appears in a running page header. The report
judges nothing: it lays out the tables of an :class:`~ncs.analyze.Analysis` (the engine's
findings, verdicts, the rule that decided each verdict, warnings) in clinical words taken
from :mod:`ncs.labels`, for every scheme in ``analysis.criteria``.

Layout, per patient on its own pages: the study's own table (per nerve: sites with onset
latency, amplitude, area, duration, distance, conduction velocity, F waves; abnormal values
marked against the reference limits used, the limits shown and their table named); the
segment judgements per nerve (measures, then each criterion's block and dispersion); the
impression (a paragraph made from the results, see :func:`impression`); each scheme's verdict
with the rule that decided it and its evidence; amplitude and area along each nerve (one small
multiple per nerve); the reason sentences. Before the patients: a warnings banner and an
overview; after them: the criteria, their citations and versions, the reference values and
how the input was read.

Printing: A4 and US Letter (every table fits the narrower A4 width; tables wrap, per-site
tables have the sites as rows), details expanded, one patient per page break, a running header
with the patient id, study date and page number and a footer with the library and criteria
versions (CSS page margin boxes: Chromium 131 or later, or any browser that supports them).
:func:`write_pdf` prints through a headless Chromium or Chrome.
"""

from __future__ import annotations

import base64
import html
import io
import math
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ncs import _text as tx
from ncs._version import __version__
from ncs.labels import (
    COLUMN_LABELS,
    FOLLOWUP_LABELS,
    NOT_IN_SCHEME,
    SIDE_LABELS,
    column_label,
    not_assessable_label,
    value_label,
)

__all__ = [
    "MAX_REPORT_PATIENTS",
    "PAPER_SIZES",
    "BrowserNotFoundError",
    "Clause",
    "PdfError",
    "find_browser",
    "impression",
    "to_html",
    "write_html",
    "write_pdf",
]

NerveKey = tuple[Any, str, str]  # (study, nerve, side); a study is an id or (id, visit)

#: Largest number of patients one report holds by default: a page with plots for more is
#: neither readable nor quick to write (about half a second per patient with plots).
MAX_REPORT_PATIENTS = 100

PAPER_SIZES: tuple[str, ...] = ("A4", "Letter")
"""Paper sizes the print stylesheet is laid out for (``paper=`` of :func:`to_html`)."""

_NERVE_KEYS = ("patient_id", "nerve", "side")
#: Order in which missing segment measures are named.
_MEASURE_ORDER = ("amp_drop_pct", "area_drop_pct", "dur_change_pct", "distal_amplitude_mv")
_POSITIVE_FINDING = ("yes", "probable")

#: The study table: (column, how many decimals at most). Velocity comes from the segments.
_STUDY_COLUMNS = (
    ("latency_ms", 2),
    ("amplitude_mv", 2),
    ("area_mvms", 2),
    ("duration_ms", 2),
    ("distance_mm", -1),  # negative: whole numbers without decimals (70 mm)
    ("cv_m_s", 1),
    ("f_latency_ms", 2),
    ("f_persistence_pct", -1),
)
#: Site columns shown in the study table or its header lines (not repeated as "other values").
_SITE_SHOWN = frozenset(
    {
        "patient_id",
        "nerve",
        "side",
        "site",
        "site_order",
        "response",
        "input_row",
        "muscle",
        "temperature_c",
        "age_years",
        "sex",
        "height_cm",
        "study_date",
        "visit",
        *(c for c, _ in _STUDY_COLUMNS),
    }
)
_SEGMENT_MEASURES = (
    ("distance_mm", 1, ""),
    ("cv_m_s", 1, ""),
    ("amp_drop_pct", 1, "drop"),
    ("area_drop_pct", 1, "drop"),
    ("dur_change_pct", 1, "change"),
)
#: Patient columns laid out in the verdicts table (others are listed under the evidence).
_PATIENT_SHOWN = frozenset(
    {
        "patient_id",
        "scheme",
        "verdict",
        "evidence",
        "evidence_nerve",
        "evidence_segment",
        "evidence_rule",
        "verdict_rule",
        "citation",
        "n_nerves",
        "n_segments",
        "n_positive_findings",
        "n_not_assessable_segments",
        "n_not_applicable_segments",
        "n_one_site_nerves",
        "visit",  # a serial study's keys: in the page's heading, not on every scheme's row
        "study_date",
    }
)
_ICONS = {"pos": "●", "neg": "○", "ind": "?", "na": "–"}
_TONE_WORDS = {
    "pos": "met or found",
    "neg": "not met or not found",
    "ind": "indeterminate (missing data) or equivocal",
    "na": "not applicable",
}


# --------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------


def _e(value: Any) -> str:
    """HTML-escaped text of a value (quotes included, safe in attributes too)."""
    return html.escape("" if value is None else str(value), quote=True)


def _css_string(text: str) -> str:
    """A CSS string literal of any text: every character but letters, digits and a few
    harmless ones as a 6-digit hex escape (so no quote, backslash or ``</style>`` can end it)."""
    safe = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,:;-_/()#+")
    return '"' + "".join(c if c in safe else f"\\{ord(c):06x} " for c in text) + '"'


def _missing(value: Any) -> bool:
    if value is None or value is pd.NA:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _text(value: Any) -> str:
    return "" if _missing(value) else str(value)


def _fmt(value: Any, decimals: int = 2, plain_integers: bool = False) -> str:
    """A number as a lab table shows it: at most ``decimals`` decimals, at least one
    (``8.0``, ``3.45``), or none for a whole number where ``plain_integers`` (``70`` mm)."""
    v = float(value)
    if not math.isfinite(v):
        return str(v)
    if plain_integers and v == round(v):
        return f"{v:.0f}"
    text = f"{v:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0")
        if text.endswith("."):
            text += "0"
    return text.replace("-", "−")


def _signed(value: float, decimals: int = 1) -> str:
    return ("+" if value > 0 else "") + _fmt(value, decimals)


def _drop_as_change(value: float) -> str:
    """A drop in % as the change a reader sees: a fall of 64.6 % reads "−64.6"."""
    return _signed(-value) if value != 0 else "0.0"


def _nerve_words(nerve: str, side: str) -> str:
    """ "right median nerve"."""
    side_word = SIDE_LABELS.get(side, side)
    return f"{side_word} {nerve} nerve"


def _nerve_title(nerve: str, side: str) -> str:
    """ "Median nerve, right"."""
    side_word = SIDE_LABELS.get(side, side)
    return f"{nerve[:1].upper()}{nerve[1:]} nerve, {side_word}"


def _join(words: Sequence[str], last: str = "and") -> str:
    words = list(words)
    if len(words) <= 1:
        return "".join(words)
    return f"{', '.join(words[:-1])} {last} {words[-1]}"


def _groups(df: pd.DataFrame, keys: Sequence[str]) -> dict[Any, pd.DataFrame]:
    """Sub-frames by key value(s), computed once (keys as plain str / tuples of str)."""
    keys = list(keys)
    if df.empty or any(k not in df.columns for k in keys):
        return {}
    by = keys[0] if len(keys) == 1 else keys
    out: dict[Any, pd.DataFrame] = {}
    for key, group in df.groupby(by, sort=False, observed=True, dropna=False):
        if isinstance(key, tuple):
            key = tuple(_text(k) for k in key)
            if len(keys) == 1:
                key = key[0]
        else:
            key = _text(key)
        out[key] = group
    return out


def _column(df: pd.DataFrame, name: str) -> np.ndarray:
    """A column as plain strings ("" for missing), or empty strings when absent."""
    if name not in df.columns:
        return np.full(len(df), "", dtype=object)
    s = df[name].astype(object)
    return s.where(s.notna(), "").astype(str).to_numpy()


def _first(df: pd.DataFrame | None, name: str) -> Any:
    """The first known value of a column, or None."""
    if df is None or name not in df.columns:
        return None
    known = df[name].dropna()
    return None if known.empty else known.iloc[0]


# --------------------------------------------------------------------------------------
# Schemes, verdict tones, badges
# --------------------------------------------------------------------------------------


def _short(crit: Any, cid: str) -> str:
    return str(getattr(crit, "short", None) or getattr(crit, "title", None) or cid)


def _scheme_html(crit: Any, cid: str) -> str:
    """A scheme's clinical name with its id beside it (never a bare id)."""
    return f'{_e(_short(crit, cid))} <span class="sid">{_e(cid)}</span>'


def _verdict_tone(crit: Any, verdict: str) -> str:
    classes = getattr(crit, "verdict_classes", None) or {}
    kind = classes.get(verdict)
    if kind == "positive":
        return "pos"
    if kind == "negative":
        return "neg"
    if kind == "indeterminate":
        return "ind"
    return "na" if not verdict else "ind"


def _finding_tone(value: str) -> str:
    if value in _POSITIVE_FINDING:
        return "pos"
    if value == "no":
        return "neg"
    if value == "not_assessable":
        return "ind"
    return "na"


def _badge(label: str, tone: str) -> str:
    """Text, colour and icon: the three differ together (colour is never the only cue)."""
    return (
        f'<span class="badge {tone}"><span class="icon" aria-hidden="true">{_ICONS[tone]}'
        f"</span> {_e(label)}</span>"
    )


def _verdict_badge(crit: Any, verdict: Any) -> str:
    if _missing(verdict):
        return _badge("no verdict", "na")
    v = str(verdict)
    return _badge(value_label(v), _verdict_tone(crit, v))


def _has_dispersion(crit: Any) -> bool:
    """Whether a criterion defines a dispersion rule (unknown criteria: assume it does)."""
    if crit is None:
        return True
    rules = getattr(crit, "dispersion_rules", None)
    return bool(rules) if rules is not None else True


def _rule_measures(crit: Any, which: str) -> list[str]:
    """The measures and limits a criterion's block or dispersion rules read: their
    thresholds' and preconditions' (a distal amplitude of at least 20 % of the LLN reads
    the LLN)."""
    rules = (
        getattr(crit, "block", ()) if which == "block" else getattr(crit, "dispersion_rules", ())
    )
    out: list[str] = []
    for rule in rules or ():
        for t in (*rule.thresholds, *rule.preconditions):
            for name in (t.measure, t.of):
                if name and name not in out:
                    out.append(name)
    return out


#: Nerve items that read the segments' findings (not a per-nerve measure): what their rules
#: read is named instead.
_SEGMENT_ITEMS = {
    "block": ("block",),
    "probable_block": ("block",),
    "dispersion": ("dispersion",),
    "block_or_dispersion": ("block", "dispersion"),
}


def _parameter_measures(crit: Any, parameter: str) -> list[str]:
    """What a nerve parameter of a criterion reads, from its items' data: the measure, the
    limit, the distal amplitude and its LLN where the item has an amplitude condition, and
    for an item made of segment findings what the segment rules read."""
    out: list[str] = []
    for item in getattr(crit, "nerve_items", ()):
        if item.parameter != parameter:
            continue
        names = [item.measure, item.limit]
        if item.low_amplitude or item.min_amplitude:
            names += ["distal_amplitude_mv", "amp_lln_mv"]
        for which in _SEGMENT_ITEMS.get(item.measure, ()):
            names = [n for n in names if n != item.measure] + _rule_measures(crit, which)
        out.extend(n for n in names if n and n not in out)
    return out


def _missing_of(names: Sequence[str], row: Mapping[str, Any]) -> list[str]:
    """The names a row holds as columns and has no value for (what can be read as missing;
    a segment measure is not a column of the nerves table)."""
    return [m for m in names if m in row and _missing(row.get(m))]


def _missing_measures(crit: Any, which: str, segment: Mapping[str, Any]) -> list[str]:
    """The measures a rule needs that this segment lacks (read, not judged)."""
    names = []
    for m in _rule_measures(crit, which):
        if m in segment and _missing(segment.get(m)):
            names.append(m)
    # area_or_pp_drop_pct is missing because the area is: name the area
    return ["area_drop_pct" if m == "area_or_pp_drop_pct" else m for m in names]


def _finding_label(crit: Any, which: str, value: str, segment: Mapping[str, Any] | None) -> str:
    """The words of one finding, with the missing measures named and "not part of this
    scheme" where the criterion has no such rule."""
    if which == "dispersion" and not _has_dispersion(crit):
        return NOT_IN_SCHEME
    if value == "not_assessable" and segment is not None:
        if _text(segment.get("implausible")):
            return value_label(value).replace("missing data", "a value not judged as data")
        return not_assessable_label(_missing_measures(crit, which, segment))
    return value_label(value)


def _finding_badge(
    crit: Any, which: str, value: Any, segment: Mapping[str, Any] | None = None
) -> str:
    if _missing(value):
        return _badge("–", "na")
    v = str(value)
    label = _finding_label(crit, which, v, segment)
    tone = "na" if label == NOT_IN_SCHEME else _finding_tone(v)
    return _badge(label, tone)


# --------------------------------------------------------------------------------------
# Everything the report reads, grouped once
# --------------------------------------------------------------------------------------


#: A study: a patient id, or (patient id, visit) when the analysis has serial studies.
Study = Any


def _study_name(study: Study) -> str:
    """How a study is named in headings: the patient id, with its visit where there is one."""
    if isinstance(study, tuple):
        pid, visit = study
        return f"{pid}, visit {visit}" if visit else pid
    return study


def _patient_of(study: Study) -> str:
    return study[0] if isinstance(study, tuple) else study


@dataclass
class _Context:
    analysis: Any
    crits: dict[str, Any]
    schemes: list[str]
    sites_by: dict[Any, pd.DataFrame]
    segs_by: dict[Any, pd.DataFrame]
    finds_by: dict[Any, pd.DataFrame]
    nerves_by: dict[Any, pd.DataFrame]
    patients_by: dict[Any, pd.DataFrame]
    sites_of_patient: dict[Any, pd.DataFrame]
    warnings_by_patient: dict[Any, pd.DataFrame]
    rejected_by_patient: dict[Any, pd.DataFrame]
    nerves_of: dict[Any, list[NerveKey]]
    patient_ids: list[Study]
    print_mode: bool
    visits: bool = False
    followup: Any = None


def _study_groups(df: pd.DataFrame | None, visits: bool, extra: Sequence[str] = ()) -> dict:
    """Sub-frames by study (patient id, or (patient id, visit)), then by ``extra`` keys:
    keys are the study, or (study, *extra)."""
    if df is None:
        return {}
    cols = ["patient_id", "visit"] if visits else ["patient_id"]
    if visits and "visit" not in df.columns:
        return {}
    grouped = _groups(df, [*cols, *extra])
    if not visits:
        return grouped
    out: dict[Any, pd.DataFrame] = {}
    for key, frame in grouped.items():
        study = (key[0], key[1])
        out[study if not extra else (study, *key[2:])] = frame
    return out


def _visit_places(analysis: Any) -> dict[Study, int]:
    """Each (patient, visit) study's place among the patient's visits."""
    from ncs.schema import visit_table

    settings = getattr(analysis, "settings", None) or {}
    try:
        table = visit_table(analysis.sites, settings.get("visits"))
    except Exception:  # a table read back without the columns: keep the listed order
        return {}
    pids = _column(table, "patient_id")
    place = table["visit_index"].to_numpy(dtype=np.int64).copy()
    # a patient whose visit order is not known: the visits as the input lists them
    unknown = pd.Series(~table["order_known"].to_numpy(dtype=bool)).groupby(pids).transform("any")
    first = table["first_row"].to_numpy(dtype=np.int64)
    place[unknown.to_numpy()] = first[unknown.to_numpy()]
    keys = zip(pids, _column(table, "visit"), strict=True)
    return {k: int(i) for k, i in zip(keys, place, strict=True)}


def _context(analysis: Any, print_mode: bool, followup: Any = None) -> _Context:
    crits = {str(c.id): c for c in getattr(analysis, "criteria", ())}
    patients = analysis.patients
    schemes = list(crits) or list(dict.fromkeys(_column(patients, "scheme")))
    visits = "visit" in analysis.sites.columns or "visit" in patients.columns
    extra = ["nerve", "side"]
    sites_by = _study_groups(analysis.sites, visits, extra)
    segs_by = _study_groups(analysis.segments, visits, extra)
    finds_by = _study_groups(analysis.findings, visits, extra)
    nerves_by = _study_groups(analysis.nerves, visits, extra)
    patients_by = _study_groups(patients, visits)
    warnings = getattr(analysis, "warnings", None)
    rejected = getattr(analysis, "rejected", None)
    nerve_keys = list(dict.fromkeys([*sites_by, *nerves_by, *segs_by]))
    nerves_of: dict[Any, list[NerveKey]] = {}
    for key in sorted(nerve_keys, key=lambda k: (_patient_of(k[0]), k[1], k[2])):
        nerves_of.setdefault(key[0], []).append(key)
    ids = list(dict.fromkeys([*patients_by, *nerves_of]))
    # patients in the order of the patients table, a patient's visits in visit order (by
    # date or the analysis' visits order, else as the input lists them); a study without
    # verdicts after them
    order = {p: i for i, p in enumerate(dict.fromkeys(_column(patients, "patient_id")))}
    place = _visit_places(analysis) if visits else {}
    ids.sort(key=lambda p: (order.get(_patient_of(p), len(order)), place.get(p, len(place))))
    by_patient = _groups(rejected, ["patient_id"]) if rejected is not None else {}
    if visits:  # rows set aside carry no visit: shown once, with the patient's first study
        firsts = {}
        for study in ids:
            firsts.setdefault(_patient_of(study), study)
        # a patient with every row set aside has no study: its rows stay under its id
        by_patient = {firsts.get(p, p): r for p, r in by_patient.items()}
    return _Context(
        analysis=analysis,
        crits=crits,
        schemes=schemes,
        sites_by=sites_by,
        segs_by=segs_by,
        finds_by=finds_by,
        nerves_by=nerves_by,
        patients_by=patients_by,
        sites_of_patient=_study_groups(analysis.sites, visits),
        warnings_by_patient=_study_groups(warnings, visits),
        rejected_by_patient=by_patient,
        nerves_of=nerves_of,
        patient_ids=ids,
        print_mode=print_mode,
        visits=visits,
        followup=followup,
    )


def _nerve_limits(nerve_rows: pd.DataFrame | None) -> dict[str, Any]:
    """Per-nerve measures and the limits used (the same in every scheme's row)."""
    out: dict[str, Any] = {}
    if nerve_rows is None or nerve_rows.empty:
        return out
    for col in (
        "dml_ms",
        "distal_amplitude_mv",
        "mcv_m_s",
        "f_latency_ms",
        "f_persistence_pct",
        "dml_uln_ms",
        "amp_lln_mv",
        "cv_lln_m_s",
        "f_latency_uln_ms",
        "reference_table",
        "cold_limb",
        "muscle",
    ):
        out[col] = _first(nerve_rows, col)
    return out


def _outside(value: Any, limit: Any, direction: str) -> bool:
    """Whether a value lies beyond a reference limit (strictly; equal is within). Both are
    shown on the page: this marks a value for the eye, it decides no finding. The
    comparison is the rule engine's (a threshold of 100 % of the limit, its ratio snapped as
    every rule's is), not a second one written here."""
    if _missing(value) or _missing(limit):
        return False
    from ncs.criteria import Threshold
    from ncs.engine import threshold_truth
    from ncs.measures import TRUE

    beyond = Threshold(
        measure="value", op=">" if direction == "above" else "<", value=1.0, of="limit"
    )
    measures = {"value": np.array([float(value)]), "limit": np.array([float(limit)])}
    return bool(threshold_truth(beyond, _ONE_ROW, measures)[0] == TRUE)


_ONE_ROW = pd.DataFrame(index=pd.RangeIndex(1))  # the rows _outside's threshold is read on


# --------------------------------------------------------------------------------------
# The impression: clinical sentences made from the results
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Clause:
    """One sentence of a patient's impression.

    Attributes
    ----------
    kind : str
        What the sentence says: ``block``, ``dispersion``, ``no_finding``, ``no_segment``,
        ``schemes_met``, ``schemes_other``, ``schemes_open``, ``not_assessable``,
        ``one_site``, ``items_not_assessable``, ``excluded``, ``rejected`` (what could not
        be judged), or a caveat: ``unverified``, ``default_reference``, ``cold_limb``,
        ``phase_cancellation``, ``warnings``.
    text : str
        The sentence.
    """

    kind: str
    text: str

    @property
    def caveat(self) -> bool:
        return self.kind in _CAVEATS


_CAVEATS = frozenset(
    {"unverified", "default_reference", "cold_limb", "phase_cancellation", "warnings"}
)


def impression(analysis: Any, patient_id: str, visit: str | None = None) -> list[Clause]:
    """A patient's impression in clinical language, clause by clause, from the results.

    Nothing is judged here and nothing is said that the tables do not hold: each sentence
    reads the findings, verdicts, warnings and criteria of ``analysis``.

    Parameters
    ----------
    analysis : Analysis
        Result of :func:`ncs.analyze`.
    patient_id : str
    visit : str, optional
        Which study of a patient with serial studies (a ``visit`` column); may be left out
        when the patient has one study.

    Returns
    -------
    list of Clause
        In order: the segments with conduction block and with temporal dispersion (per nerve,
        with the criteria that found them), or that none was found; the schemes met and at
        which level, the other verdicts, the indeterminate ones; what could not be judged
        and why (missing measures named, nerves with one site, items without their measure,
        segments the rules exclude, rows set aside); then the caveats (schemes not verified
        against their sources, the library's default reference values, a cold limb, a block
        by amplitude alone beside a dispersed response, warnings).

    Raises
    ------
    ValidationError
        A patient or visit the analysis does not hold (an impression of nobody is not an
        empty one), or a patient with several studies and no ``visit``.

    Examples
    --------
    >>> import ncs
    >>> from ncs.cli import demo_path
    >>> from ncs.report import impression
    >>> result = ncs.analyze(ncs.read_sites(demo_path()))
    >>> first = impression(result, "MMN01")[0]
    >>> first.kind, first.text[:62]
    ('block', 'Conduction block in the right median nerve: wrist to elbow (Ka')
    """
    ctx = _context(_patient_view(analysis, str(patient_id)), print_mode=False)
    study: Study = str(patient_id)
    if study in ctx.rejected_by_patient and not any(
        _patient_of(s) == study for s in ctx.patient_ids
    ):  # every row of the patient was set aside: the impression says so
        return _impression(ctx, study)
    if ctx.visits:
        studies = [s for s in ctx.patient_ids if s[0] == study]
        if visit is not None:
            study = (study, str(visit))
        elif len(studies) == 1:
            study = studies[0]
        elif studies:
            from ncs.errors import ValidationError

            raise ValidationError(
                [
                    (
                        None,
                        "visit",
                        f"patient {patient_id!r} has {len(studies)} studies: name the visit "
                        f"({', '.join(s[1] for s in studies)})",
                    )
                ]
            )
    if study not in ctx.patient_ids or (visit is not None and not ctx.visits):
        from ncs.errors import ValidationError

        if _patient_of(study) not in {_patient_of(s) for s in ctx.patient_ids}:
            problem = (None, "patient_id", f"no patient {str(patient_id)!r} in this analysis")
        elif ctx.visits:
            known = [s[1] for s in ctx.patient_ids if s[0] == _patient_of(study)]
            problem = (
                None,
                "visit",
                f"patient {patient_id!r} has no visit {visit!r} (visits: {', '.join(known)})",
            )
        else:
            problem = (None, "visit", "this analysis has no visits (no visit column)")
        raise ValidationError([problem])
    return _impression(ctx, study)


def _patient_view(analysis: Any, patient_id: str) -> Any:
    """The analysis' tables cut to one patient's rows (with the rest of it as it is), so
    that one patient's impression reads that patient's rows, not the whole cohort's: an
    impression from a cohort analysis is the one a single-patient analysis gives."""
    from types import SimpleNamespace

    def mine(df: pd.DataFrame | None, whole_input: bool = False) -> pd.DataFrame | None:
        if df is None or "patient_id" not in df.columns:
            return df
        keep = _column(df, "patient_id") == patient_id
        if whole_input:  # warnings about the whole input name no patient: every patient's
            keep |= df["patient_id"].isna().to_numpy()
        return df[keep]

    return SimpleNamespace(
        criteria=getattr(analysis, "criteria", ()),
        meta=getattr(analysis, "meta", {}),
        settings=getattr(analysis, "settings", None),
        sites=mine(analysis.sites),
        segments=mine(analysis.segments),
        findings=mine(analysis.findings),
        nerves=mine(analysis.nerves),
        patients=mine(analysis.patients),
        warnings=mine(getattr(analysis, "warnings", None), whole_input=True),
        rejected=mine(getattr(analysis, "rejected", None)),
    )


def _segment_words(distal: str, proximal: str) -> str:
    return f"{distal} to {proximal}"


def _criteria_words(yes: list[str], probable: list[str]) -> str:
    parts = []
    if yes:
        parts.append(", ".join(yes))
    if probable:
        parts.append("probable under " + ", ".join(probable))
    return "; ".join(parts)


def _impression(ctx: _Context, pid: str) -> list[Clause]:
    out: list[Clause] = []
    keys = ctx.nerves_of.get(pid, [])
    any_segment = False
    found_any = False
    # --- block and dispersion, per nerve ---------------------------------------------
    for which, noun in (("block", "Conduction block"), ("dispersion", "Temporal dispersion")):
        for key in keys:
            finds = ctx.finds_by.get(key)
            if finds is None or finds.empty:
                continue
            any_segment = True
            segments: dict[tuple[str, str], tuple[list[str], list[str]]] = {}
            values = _column(finds, which)
            for d, p, c, v in zip(
                _column(finds, "distal_site"),
                _column(finds, "proximal_site"),
                _column(finds, "criterion"),
                values,
                strict=True,
            ):
                if v not in _POSITIVE_FINDING:
                    continue
                yes, probable = segments.setdefault((d, p), ([], []))
                (yes if v == "yes" else probable).append(_short(ctx.crits.get(c), c))
            if not segments:
                continue
            found_any = True
            n_rules = sum(
                1 for s in ctx.schemes if which == "block" or _has_dispersion(ctx.crits.get(s))
            )
            pieces = [
                f"{_segment_words(d, p)} ("
                + (
                    f"all {n_rules} sets of criteria applied"
                    if len(yes) == n_rules > 2 and not probable
                    else _criteria_words(yes, probable)
                )
                + ")"
                for (d, p), (yes, probable) in segments.items()
            ]
            out.append(
                Clause(
                    which,
                    f"{noun} in the {_nerve_words(key[1], key[2])}: {'; '.join(pieces)}.",
                )
            )
    if not found_any:
        if any_segment:
            out.append(
                Clause(
                    "no_finding",
                    "No conduction block or temporal dispersion under the criteria applied, "
                    "in the segments that could be judged.",
                )
            )
        elif keys:
            out.append(
                Clause(
                    "no_segment",
                    "No segment to judge: each nerve was stimulated at one site only.",
                )
            )
    # --- schemes: which are met, at which level -----------------------------------------
    rows = ctx.patients_by.get(pid)
    if rows is not None and not rows.empty:
        met, other, open_ = [], [], []
        for scheme, verdict in zip(_column(rows, "scheme"), _column(rows, "verdict"), strict=True):
            crit = ctx.crits.get(scheme)
            tone = _verdict_tone(crit, verdict)
            words = f"{_short(crit, scheme)} ({value_label(verdict)})"
            if tone == "pos":
                met.append(words)
            elif verdict == "indeterminate":
                open_.append(f"{_short(crit, scheme)}")
            else:  # equivocal (Hadden) is a class of its own, not missing data
                other.append(f"{_short(crit, scheme)} ({value_label(verdict)})")
        if met:
            out.append(Clause("schemes_met", f"Criteria met: {'; '.join(met)}."))
        if other:
            out.append(Clause("schemes_other", f"Not met or another class: {'; '.join(other)}."))
        if open_:
            out.append(
                Clause(
                    "schemes_open",
                    f"Indeterminate, as missing data could change the verdict: {'; '.join(open_)}.",
                )
            )
    # --- what could not be judged, and why -----------------------------------------------
    out.extend(_not_judged_clauses(ctx, pid, keys))
    # --- caveats ----------------------------------------------------------------------------
    out.extend(_caveat_clauses(ctx, pid, keys))
    return out


def _not_judged_clauses(ctx: _Context, pid: str, keys: list[NerveKey]) -> list[Clause]:
    out: list[Clause] = []
    missing_pieces: list[str] = []
    excluded: dict[str, int] = {}
    one_site: list[str] = []
    for key in keys:
        nerve_words = _nerve_words(key[1], key[2])
        segs = ctx.segs_by.get(key)
        finds = ctx.finds_by.get(key)
        if segs is None or segs.empty:
            one_site.append(nerve_words)
            continue
        if finds is None or finds.empty:
            continue
        seg_records = {
            (
                _text(r.get("distal_site")),
                _text(r.get("proximal_site")),
                _text(r.get("comparison")),
            ): r
            for r in segs.to_dict("records")
        }
        # per segment and missing measures (or implausible value): the criteria; and the
        # criteria that exclude each segment
        open_by: dict[tuple[str, str, str], list[str]] = {}
        excluded_by: dict[tuple[str, str], list[str]] = {}
        for r in finds.to_dict("records"):
            cid = _text(r.get("criterion"))
            crit = ctx.crits.get(cid)
            d, p = _text(r.get("distal_site")), _text(r.get("proximal_site"))
            seg = seg_records.get((d, p, _text(r.get("comparison"))), {})
            missing: list[str] = []
            for which in ("block", "dispersion"):
                if which == "dispersion" and not _has_dispersion(crit):
                    continue
                v = _text(r.get(which))
                if v == "not_assessable":
                    missing += [m for m in _missing_measures(crit, which, seg) if m not in missing]
                    missing = missing or ["?"]
                elif v == "not_applicable" and which == "block":
                    names = excluded_by.setdefault((d, p), [])
                    if _short(crit, cid) not in names:
                        names.append(_short(crit, cid))
            if not missing:
                continue
            odd = _text(seg.get("implausible"))
            if odd:
                why = f"a value not judged as data: {odd}"
            else:
                known = [m for m in _MEASURE_ORDER if m in missing]
                words = [not_assessable_label([m]).rsplit("(", 1)[-1].rstrip(")") for m in known]
                why = f"{_join(words)} missing" if words else "a measure missing"
            names = open_by.setdefault((d, p, why), [])
            if _short(crit, cid) not in names:
                names.append(_short(crit, cid))
        for (d, p, why), names in open_by.items():
            missing_pieces.append(
                f"{nerve_words}, {_segment_words(d, p)}: {why} ({', '.join(names)})"
            )
        for names in excluded_by.values():
            for name in names:
                excluded[name] = excluded.get(name, 0) + 1
    if missing_pieces:
        out.append(
            Clause("not_assessable", "Could not be judged: " + "; ".join(missing_pieces) + ".")
        )
    if one_site:
        out.append(
            Clause(
                "one_site",
                f"One stimulation site only, no segment to judge: {_join(one_site)}.",
            )
        )
    items = _items_not_assessable(ctx, keys)
    if items:
        out.append(Clause("items_not_assessable", items))
    if excluded:
        counts = "; ".join(
            f"{name}, {n} segment{'s' if n != 1 else ''}" for name, n in excluded.items()
        )
        out.append(
            Clause(
                "excluded",
                "Outside a rule's scope or failing its precondition, so not applicable (not "
                f"missing data; see the segment judgements): {counts}.",
            )
        )
    rejected = ctx.rejected_by_patient.get(pid)
    if rejected is not None and not rejected.empty:
        n = len(rejected)
        out.append(
            Clause(
                "rejected",
                f"{n} input row{'s were' if n != 1 else ' was'} set aside as invalid and not "
                "analysed (listed at the top of the report).",
            )
        )
    return out


def _items_not_assessable(ctx: _Context, keys: list[NerveKey]) -> str:
    """ "Not assessable for missing data: F-wave latency prolonged in the right median nerve
    (F-wave latency missing; EFNS/PNS 2010 CIDP, EAN/PNS 2021 CIDP)."""
    per_nerve = (
        "dml_prolonged",
        "cv_slowed",
        "f_latency_prolonged",
        "f_waves_absent",
        "distal_duration_prolonged",
    )
    found: dict[tuple[str, str], tuple[list[str], list[str]]] = {}
    for key in keys:
        rows = ctx.nerves_by.get(key)
        if rows is None or rows.empty:
            continue
        for r in rows.to_dict("records"):
            scheme = _text(r.get("scheme"))
            for param in per_nerve:
                if _text(r.get(param)) != "not_assessable":
                    continue
                missing = _missing_of(_parameter_measures(ctx.crits.get(scheme), param), r)
                what = (
                    not_assessable_label(missing).rsplit("(", 1)[-1].rstrip(")") if missing else ""
                )
                nerves, schemes = found.setdefault((param, what), ([], []))
                words = _nerve_words(key[1], key[2])
                if words not in nerves:
                    nerves.append(words)
                name = _short(ctx.crits.get(scheme), scheme)
                if name not in schemes:
                    schemes.append(name)
    if not found:
        return ""
    pieces = []
    for (param, what), (nerves, schemes) in found.items():
        label = COLUMN_LABELS.get(param, param.replace("_", " "))
        label = label[:1].upper() + label[1:]
        because = f"{what} missing; " if what else ""
        pieces.append(f"{label} in the {_join(nerves)} ({because}{', '.join(schemes)})")
    return "Not assessable for missing data: " + "; ".join(pieces) + "."


def _caveat_clauses(ctx: _Context, pid: str, keys: list[NerveKey]) -> list[Clause]:
    out: list[Clause] = []
    rows = ctx.patients_by.get(pid)
    used = set(_column(rows, "scheme")) if rows is not None else set()
    unverified = [
        _short(c, cid)
        for cid, c in ctx.crits.items()
        if cid in used and not getattr(c, "verified", True)
    ]
    if unverified:
        many = len(unverified) > 1
        out.append(
            Clause(
                "unverified",
                f"Not verified against {'their sources' if many else 'its source'}: "
                f"{_join(unverified)}; read {'their verdicts' if many else 'its verdict'} as "
                "provisional.",
            )
        )
    from ncs.normative import DEFAULT_REFERENCE_NAME

    default_nerves = []
    for key in keys:
        table = _text(_nerve_limits(ctx.nerves_by.get(key)).get("reference_table"))
        if DEFAULT_REFERENCE_NAME in table:
            default_nerves.append(_nerve_words(key[1], key[2]))
    if default_nerves:
        out.append(
            Clause(
                "default_reference",
                "Reference limits are the library's default values (not verified against "
                "their sources), not the laboratory's own, for "
                + (
                    "every nerve."
                    if len(default_nerves) == len(keys) > 1
                    else f"the {_join(default_nerves)}."
                ),
            )
        )
    cold = []
    limits = (ctx.analysis.meta.get("provenance") or {}).get("temperature_limits_c") or {}
    from ncs.plausibility import LIMB_OF_NERVE

    for key in keys:
        if _text(_nerve_limits(ctx.nerves_by.get(key)).get("cold_limb")) != "yes":
            continue
        sites = ctx.sites_by.get(key)
        temp = None
        if sites is not None and "temperature_c" in sites:
            known = sites["temperature_c"].dropna()
            temp = float(known.min()) if not known.empty else None
        limit = limits.get(LIMB_OF_NERVE.get(key[1], ""))
        what = _nerve_words(key[1], key[2])
        if temp is not None:
            what += f" ({_fmt(temp, 1)} °C" + (
                f", below {_fmt(limit, 1)} °C)" if not _missing(limit) else ")"
            )
        cold.append(what)
    if cold:
        out.append(
            Clause(
                "cold_limb",
                f"Cold limb: {_join(cold)}; slowing and prolonged latencies there may be due "
                "to temperature.",
            )
        )
    phase = []
    for key in keys:
        finds = ctx.finds_by.get(key)
        if finds is None or "phase_cancellation_possible" not in finds:
            continue
        flagged = finds[finds["phase_cancellation_possible"].fillna(False).astype(bool)]
        for d, p, c in zip(
            _column(flagged, "distal_site"),
            _column(flagged, "proximal_site"),
            _column(flagged, "criterion"),
            strict=True,
        ):
            phase.append(
                f"{_nerve_words(key[1], key[2])}, {_segment_words(d, p)} "
                f"({_short(ctx.crits.get(c), c)})"
            )
    if phase:
        out.append(
            Clause(
                "phase_cancellation",
                f"A block by amplitude alone beside a dispersed response: {'; '.join(phase)}; "
                "phase cancellation may explain the amplitude drop.",
            )
        )
    warnings = ctx.warnings_by_patient.get(pid)
    n_warn = 0 if warnings is None else len(warnings)
    general = _general_warnings(ctx.analysis)
    if n_warn or len(general):
        parts = []
        if n_warn:
            parts.append(f"{n_warn} about this patient's data")
        if len(general):
            parts.append(f"{len(general)} about the whole input")
        out.append(
            Clause(
                "warnings",
                f"Warnings: {' and '.join(parts)} (at the top of the report and at each nerve); "
                "check them before relying on these results.",
            )
        )
    return out


def _general_warnings(analysis: Any) -> pd.DataFrame:
    w = getattr(analysis, "warnings", None)
    if w is None or w.empty:
        return pd.DataFrame(columns=["code", "message"])
    return w[w["patient_id"].isna()] if "patient_id" in w else w


# --------------------------------------------------------------------------------------
# Plots (matplotlib, optional)
# --------------------------------------------------------------------------------------


def _matplotlib_available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=150, bbox_inches="tight")
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f"data:image/png;base64,{data}"


def _img(uri: str, alt: str) -> str:
    return f'<img class="plot" alt="{_e(alt)}" src="{uri}">'


def _nerve_plots(ctx: _Context, pid: str) -> tuple[str, str]:
    """One figure of small multiples, one per nerve with two sites or more; its alt text."""
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    from ncs.plot import PALETTE, _draw_nerve

    keys = [
        k
        for k in ctx.nerves_of.get(pid, [])
        if (s := ctx.sites_by.get(k)) is not None and len(s) > 1 and "site_order" in s
    ]
    if not keys:
        return "", ""
    ncols = 1 if len(keys) == 1 else 2
    nrows = math.ceil(len(keys) / ncols)
    fig = Figure(figsize=(7.2 if ncols == 2 else 4.6, 2.5 * nrows + 0.5))
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    crits = [ctx.crits[s] for s in ctx.schemes if s in ctx.crits]
    empty = pd.DataFrame(columns=["distal_site", "proximal_site", "criterion", "block"])
    for ax, key in zip(axes, keys, strict=False):
        _draw_nerve(
            ax,
            ctx.sites_by[key],
            ctx.segs_by.get(key, empty),
            ctx.finds_by.get(key, empty),
            crits,
            title=_nerve_title(key[1], key[2]),
        )
    for ax in axes[len(keys) :]:
        ax.set_visible(False)
    handles = [
        Line2D([], [], color=PALETTE["amplitude"], marker="o", ls="-", label="amplitude (mV)"),
        Line2D(
            [],
            [],
            color=PALETTE["area"],
            marker="s",
            ls="--",
            markerfacecolor="none",
            label="area (mV·ms)",
        ),
        Patch(facecolor=PALETTE["block"], alpha=0.25, hatch="////", label="conduction block"),
        Patch(
            facecolor=PALETTE["dispersion"],
            alpha=0.25,
            hatch="\\\\\\\\",
            label="temporal dispersion",
        ),
        Line2D([], [], color="#555555", ls=":", label="drop thresholds from the distal response"),
    ]
    fig.legend(handles=handles, loc="lower center", ncol=3, fontsize=7, frameon=False)
    fig.tight_layout(rect=(0, 0.08 if nrows == 1 else 0.05, 1, 1))
    alt = "Amplitude and area along each nerve: " + "; ".join(
        _nerve_title(k[1], k[2]) for k in keys
    )
    return _png(fig), alt


def _threshold_caption(ctx: _Context) -> str:
    from ncs.plot import drop_thresholds

    crits = [ctx.crits[s] for s in ctx.schemes if s in ctx.crits]
    by_value: dict[float, list[str]] = {}
    for measure, value, names in drop_thresholds(crits):
        what = "amplitude" if measure == "amp_drop_pct" else "area"
        by_value.setdefault(value, []).append(f"{what}: {', '.join(names)}")
    return "; ".join(f"−{v:g} % ({' / '.join(w)})" for v, w in by_value.items())


def _trace_plot(traces: Any) -> str:
    from matplotlib.figure import Figure

    from ncs.plot import plot_traces

    n = traces.to_traces().n_traces if hasattr(traces, "to_traces") else traces.n_traces
    fig = Figure(figsize=(6.4, 1.2 + 1.1 * n))
    ax = fig.subplots()
    plot_traces(traces, ax=ax)
    return _png(fig)


# --------------------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------------------


def _where(record: Mapping[str, Any]) -> str:
    parts = []
    if _text(record.get("patient_id")):
        parts.append(f"Patient {record.get('patient_id')}")
    if _text(record.get("nerve")):
        parts.append(f"{record.get('nerve')} {_text(record.get('side'))}".strip())
    if _text(record.get("site")):
        parts.append(str(record.get("site")))
    row = record.get("input_row")
    if not _missing(row):
        parts.append(f"data row {int(row) + 1}")
    return " · ".join(parts) if parts else "the whole input"


def _warning_items(rows: pd.DataFrame, *, where: bool = True) -> str:
    items = []
    for r in rows.to_dict("records"):
        head = f"<b>{_e(_where(r))}</b>: " if where else ""
        items.append(f"<li>{head}{_e(r.get('message'))}</li>")
    return "".join(items)


def _banner(analysis: Any) -> str:
    """Warnings and rows set aside, at the top of the report."""
    warnings = getattr(analysis, "warnings", None)
    rejected = getattr(analysis, "rejected", None)
    parts = []
    if warnings is not None and not warnings.empty:
        n = len(warnings)
        parts.append(
            f'<section class="banner" role="alert" aria-labelledby="warnings-title">'
            f'<h2 id="warnings-title"><span aria-hidden="true">⚠</span> '
            f"{n} warning{'s' if n != 1 else ''}: check before relying on the results</h2>"
            f"<ul>{_warning_items(warnings)}</ul>"
            '<p class="muted">Data rows are counted from 1, after the header.</p></section>'
        )
    if rejected is not None and not rejected.empty:
        n = len(rejected)
        items = "".join(
            f"<li><b>{_e(_where(r))}</b>: {_e(r.get('problems'))}</li>"
            for r in rejected.to_dict("records")
        )
        parts.append(
            f'<section class="banner" role="alert" aria-labelledby="rejected-title">'
            f'<h2 id="rejected-title"><span aria-hidden="true">⚠</span> {n} input '
            f"row{'s' if n != 1 else ''} set aside as invalid (not analysed)</h2>"
            f"<ul>{items}</ul></section>"
        )
    return "".join(parts)


def _overview(ctx: _Context) -> str:
    patients = ctx.analysis.patients
    if patients.empty:
        return "<p>No patients.</p>"
    head = "".join(f'<th scope="col">{_scheme_html(ctx.crits.get(s), s)}</th>' for s in ctx.schemes)
    rows = []
    for i, study in enumerate(ctx.patient_ids):
        mine = ctx.patients_by.get(study)
        verdicts = (
            dict(zip(_column(mine, "scheme"), _column(mine, "verdict"), strict=True))
            if mine is not None
            else {}
        )
        cells = "".join(
            f"<td>{_verdict_badge(ctx.crits.get(s), verdicts.get(s))}</td>" for s in ctx.schemes
        )
        name = _e(_patient_of(study))
        if ctx.visits:
            name += f'<br><span class="muted">{_e(_visit_words(ctx, study))}</span>'
        rows.append(f'<tr><th scope="row"><a href="#p{i}">{name}</a></th>{cells}</tr>')
    what = "study" if ctx.visits else "patient"
    return (
        f'<table class="overview"><caption>Verdict of each {what} under each set of '
        f'criteria</caption><thead><tr><th scope="col">{_e(column_label("patient_id"))}</th>'
        f"{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _visit_words(ctx: _Context, study: Study) -> str:
    """ "visit baseline, 2023-01-16": a study's visit and date (serial studies)."""
    if not isinstance(study, tuple):
        return ""
    _, date = _patient_meta(ctx, study)
    return f"visit {study[1]}" + (f", {date}" if date else "")


def _legend() -> str:
    items = "".join(f"<li>{_badge(_TONE_WORDS[t], t)}</li>" for t in ("pos", "neg", "ind", "na"))
    return (
        f'<ul class="legend" aria-label="How verdicts and findings are marked">{items}'
        '<li><span class="abn">value <span class="flag">↑</span></span> above / '
        '<span class="abn">value <span class="flag">↓</span></span> below the reference '
        "limit shown</li></ul>"
    )


def _patient_meta(ctx: _Context, pid: str) -> tuple[str, str]:
    """The line under a patient's heading, and the study date (or "")."""
    sites = ctx.sites_of_patient.get(pid)
    date = _text(_first(sites, "study_date"))
    if date[:10].count("-") == 2:
        date = date[:10]
    bits = [f"Study date: {date or 'not given'}"]
    visit = _text(_first(sites, "visit"))
    if visit:
        bits.append(f"visit {visit}")
    for col in ("age_years", "sex", "height_cm"):
        v = _first(sites, col)
        if not _missing(v):
            text = (
                _fmt(v, 1, plain_integers=True)
                if isinstance(v, (int, float, np.number))
                else str(v)
            )
            bits.append(f"{column_label(col).split(' (')[0]}: {text}")
    return " · ".join(bits), date


def _value_cell(value: Any, decimals: int, limit: Any = None, direction: str = "") -> str:
    if _missing(value):
        return '<td class="num missing" title="not recorded">–</td>'
    text = _fmt(value, abs(decimals), plain_integers=decimals < 0)
    if direction and _outside(value, limit, direction):
        arrow = "↑" if direction == "above" else "↓"
        word = "above the upper" if direction == "above" else "below the lower"
        return (
            f'<td class="num abn"><b>{_e(text)}</b> <span class="flag" aria-hidden="true">'
            f'{arrow}</span><span class="sr">({word} limit {_e(_fmt(limit, 2))})</span></td>'
        )
    return f'<td class="num">{_e(text)}</td>'


def _study_table(ctx: _Context, pid: str) -> tuple[str, list[str]]:
    """The study's own table: per nerve, the sites as rows; and the reference tables used."""
    head = "".join(f'<th scope="col">{_e(column_label(c))}</th>' for c, _ in _STUDY_COLUMNS)
    bodies = []
    references: list[str] = []
    for key in ctx.nerves_of.get(pid, []):
        sites = ctx.sites_by.get(key)
        if sites is None or sites.empty:
            continue
        ordered = sites.sort_values("site_order", kind="stable") if "site_order" in sites else sites
        limits = _nerve_limits(ctx.nerves_by.get(key))
        reference = _text(limits.get("reference_table"))
        if reference and reference not in references:
            references.append(reference)
        mark = f"<sup>{references.index(reference) + 1}</sup>" if reference else ""
        muscle = _text(limits.get("muscle")) or _text(_first(sites, "muscle"))
        temps = sites["temperature_c"].dropna() if "temperature_c" in sites else pd.Series([])
        info = []
        if muscle:
            info.append(f"recording {muscle}")
        if not temps.empty:
            low, high = float(temps.min()), float(temps.max())
            info.append(
                f"{_fmt(low, 1)} °C" if low == high else f"{_fmt(low, 1)}–{_fmt(high, 1)} °C"
            )
        if _text(limits.get("cold_limb")) == "yes":
            info.append("cold limb")
        if ctx.warnings_by_patient.get(pid) is not None:
            w = ctx.warnings_by_patient[pid]
            n_w = int(((_column(w, "nerve") == key[1]) & (_column(w, "side") == key[2])).sum())
            if n_w:
                info.append(f"⚠ {n_w} warning{'s' if n_w != 1 else ''}")
        title = _e(_nerve_title(key[1], key[2]))
        rows = [
            f'<tr class="nerve-row"><th scope="rowgroup" colspan="{len(_STUDY_COLUMNS) + 1}">'
            f"{title}{' · ' + _e(' · '.join(info)) if info else ''}</th></tr>"
        ]
        cv_at = {}
        segs = ctx.segs_by.get(key)
        if segs is not None and not segs.empty:
            for p, c, v in zip(
                _column(segs, "proximal_site"),
                _column(segs, "comparison"),
                segs["cv_m_s"].to_numpy(dtype=float, na_value=np.nan),
                strict=True,
            ):
                if c == "adjacent":
                    cv_at[p] = v
        for i, r in enumerate(ordered.to_dict("records")):
            absent = _text(r.get("response")) == "absent"
            cells = [f'<th scope="row">{_e(r.get("site"))}</th>']
            for col, dec in _STUDY_COLUMNS:
                if col == "cv_m_s":
                    cells.append(
                        _value_cell(
                            cv_at.get(_text(r.get("site"))), dec, limits.get("cv_lln_m_s"), "below"
                        )
                    )
                elif col in ("f_latency_ms", "f_persistence_pct"):
                    if i == 0:
                        value = limits.get(col) if not _missing(limits.get(col)) else r.get(col)
                        if col == "f_persistence_pct" and not _missing(value) and float(value) == 0:
                            cells.append('<td class="num abn"><b>0</b> (absent)</td>')
                        else:
                            cells.append(
                                _value_cell(value, dec, limits.get("f_latency_uln_ms"), "above")
                                if col == "f_latency_ms"
                                else _value_cell(value, dec)
                            )
                    else:
                        cells.append(_value_cell(r.get(col), dec))
                elif absent and col in ("amplitude_mv", "area_mvms"):
                    cells.append('<td class="num abn"><b>no response</b></td>')
                elif col == "latency_ms" and i == 0:
                    cells.append(_value_cell(r.get(col), dec, limits.get("dml_uln_ms"), "above"))
                elif col == "amplitude_mv" and i == 0:
                    cells.append(_value_cell(r.get(col), dec, limits.get("amp_lln_mv"), "below"))
                else:
                    cells.append(_value_cell(r.get(col), dec))
            rows.append(f"<tr>{''.join(cells)}</tr>")
        limit_cells = []
        any_limit = False
        for col, _ in _STUDY_COLUMNS:
            limit_col, op = {
                "latency_ms": ("dml_uln_ms", "≤"),
                "amplitude_mv": ("amp_lln_mv", "≥"),
                "cv_m_s": ("cv_lln_m_s", "≥"),
                "f_latency_ms": ("f_latency_uln_ms", "≤"),
            }.get(col, ("", ""))
            value = limits.get(limit_col) if limit_col else None
            if _missing(value):
                limit_cells.append("<td></td>")
            else:
                any_limit = True
                limit_cells.append(f'<td class="num limit">{op} {_e(_fmt(value, 2))}</td>')
        if any_limit:
            rows.append(
                f'<tr class="limits"><th scope="row">limit{mark}</th>{"".join(limit_cells)}</tr>'
            )
        bodies.append(f"<tbody>{''.join(rows)}</tbody>")
    if not bodies:
        return "", references
    table = (
        '<table class="study"><caption>Motor nerve conduction: the values recorded, '
        "distal to proximal (velocity: from the next distal site; F waves: per nerve)</caption>"
        f'<thead><tr><th scope="col">{_e(column_label("site"))}</th>{head}</tr></thead>'
        f"{''.join(bodies)}</table>"
    )
    return table, references


def _reference_note(references: list[str]) -> str:
    if not references:
        return (
            '<p class="note">No reference limits were applied: the criteria used need none, '
            "so no value is marked as abnormal.</p>"
        )
    items = "".join(f"<li>{_e(r)}</li>" for r in references)
    return (
        '<div class="note"><p>Reference limits from (distal latency and amplitude at the most '
        "distal site, velocity of each segment, F-wave latency; ↑ above, ↓ below the limit):"
        f"</p><ol>{items}</ol></div>"
    )


def _other_values(ctx: _Context, pid: str) -> str:
    """Columns recorded for the sites beyond the study table (comments, extra measures)."""
    items = []
    for key in ctx.nerves_of.get(pid, []):
        sites = ctx.sites_by.get(key)
        if sites is None or sites.empty:
            continue
        extra = [c for c in sites.columns if c not in _SITE_SHOWN and sites[c].notna().any()]
        if not extra:
            continue
        for r in sites.to_dict("records"):
            pairs = [
                f"{_e(column_label(c))}: {_e(_fmt(r[c], 2) if isinstance(r[c], float) else r[c])}"
                for c in extra
                if not _missing(r.get(c))
            ]
            if pairs:
                items.append(
                    f"<li><b>{_e(_nerve_title(key[1], key[2]))}, {_e(r.get('site'))}</b>: "
                    f"{'; '.join(pairs)}</li>"
                )
    if not items:
        return ""
    return f'<h4>Other values recorded</h4><ul class="other">{"".join(items)}</ul>'


def _segment_tables(ctx: _Context, key: NerveKey) -> str:
    segs = ctx.segs_by.get(key)
    finds = ctx.finds_by.get(key)
    if segs is None or segs.empty:
        return '<p class="muted">One stimulation site only: no segment to judge.</p>'
    records = segs.to_dict("records")
    labels = []
    for r in records:
        label = _segment_words(_text(r.get("distal_site")), _text(r.get("proximal_site")))
        labels.append(label)
    # measures: the segments as rows
    head = "".join(f'<th scope="col">{_e(column_label(c))}</th>' for c, _, _ in _SEGMENT_MEASURES)
    rows = []
    notes = []
    for label, r in zip(labels, records, strict=True):
        cells = [f'<th scope="row">{_e(label)}</th>']
        cells.append(f"<td>{_e(value_label(_text(r.get('comparison'))))}</td>")
        for col, dec, kind in _SEGMENT_MEASURES:
            v = r.get(col)
            if _missing(v):
                cells.append('<td class="num missing" title="not known">–</td>')
            elif kind == "drop":
                cells.append(f'<td class="num">{_e(_fmt(v, dec))}</td>')
            elif kind == "change":
                cells.append(f'<td class="num">{_e(_signed(float(v)))}</td>')
            else:
                cells.append(f'<td class="num">{_e(_fmt(v, dec, plain_integers=True))}</td>')
        rows.append(f"<tr>{''.join(cells)}</tr>")
        odd = _text(r.get("implausible"))
        if odd:
            notes.append(f"<li><b>{_e(label)}</b>: not judged as data: {_e(odd)}</li>")
    measures = (
        '<table class="segments"><caption>Segments: changes from the distal to the proximal '
        "response (drop: 100 × (distal − proximal) / distal; duration change: 100 × "
        "(proximal − distal) / distal)</caption>"
        f'<thead><tr><th scope="col">Segment</th><th scope="col">'
        f"{_e(column_label('comparison'))}</th>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )
    if notes:
        measures += f'<ul class="warn-list">{"".join(notes)}</ul>'
    # judgements: criteria as rows, segments as columns (fits the page for any number of
    # criteria)
    by: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    if finds is not None:
        for f in finds.to_dict("records"):
            by[
                (
                    _text(f.get("distal_site")),
                    _text(f.get("proximal_site")),
                    _text(f.get("comparison")),
                    _text(f.get("criterion")),
                )
            ] = f
    head = "".join(f'<th scope="col">{_e(label)}</th>' for label in labels)
    rows = []
    for s in ctx.schemes:
        crit = ctx.crits.get(s)
        cells = [f'<th scope="row">{_scheme_html(crit, s)}</th>']
        for r in records:
            f = by.get(
                (
                    _text(r.get("distal_site")),
                    _text(r.get("proximal_site")),
                    _text(r.get("comparison")),
                    s,
                )
            )
            if f is None:
                cells.append('<td class="missing">–</td>')
                continue
            flag = ""
            if bool(f.get("phase_cancellation_possible")) and not _missing(
                f.get("phase_cancellation_possible")
            ):
                flag = (
                    '<br><span class="flagnote">amplitude-only drop beside dispersion: phase '
                    "cancellation possible</span>"
                )
            cells.append(
                f'<td><span class="what">{_e(column_label("block"))}:</span> '
                f"{_finding_badge(crit, 'block', f.get('block'), r)}{flag}<br>"
                f'<span class="what">{_e(column_label("dispersion"))}:</span> '
                f"{_finding_badge(crit, 'dispersion', f.get('dispersion'), r)}</td>"
            )
        rows.append(f"<tr>{''.join(cells)}</tr>")
    judgements = (
        '<table class="judgements"><caption>Conduction block and temporal dispersion under '
        "each set of criteria</caption>"
        f'<thead><tr><th scope="col">Criteria</th>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )
    return measures + judgements


def _parameter_table(ctx: _Context, key: NerveKey) -> str:
    """Per-nerve parameters of the guideline schemes: parameters as rows, schemes as columns."""
    rows_ = ctx.nerves_by.get(key)
    if rows_ is None or rows_.empty:
        return ""
    from ncs.summary import PARAMETERS

    with_items = [s for s in ctx.schemes if getattr(ctx.crits.get(s), "nerve_items", ())]
    if not with_items:
        return ""
    by_scheme = {_text(r.get("scheme")): r for r in rows_.to_dict("records")}
    params = [
        p
        for p in PARAMETERS
        if p in rows_.columns and any(not _missing(by_scheme.get(s, {}).get(p)) for s in with_items)
    ]
    if not params:
        return ""
    head = "".join(f'<th scope="col">{_scheme_html(ctx.crits.get(s), s)}</th>' for s in with_items)
    body = []
    for p in params:
        cells = [f'<th scope="row">{_e(column_label(p))}</th>']
        for s in with_items:
            r = by_scheme.get(s, {})
            v = r.get(p)
            if _missing(v):
                cells.append(f"<td>{_badge(NOT_IN_SCHEME, 'na')}</td>")
                continue
            v = str(v)
            if v == "not_assessable":
                missing = _missing_of(_parameter_measures(ctx.crits.get(s), p), r)
                label = not_assessable_label(missing)
            else:
                label = value_label(v)
            cells.append(f"<td>{_badge(label, _finding_tone(v))}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return (
        '<table class="parameters"><caption>Demyelinating parameters of this nerve under the '
        "guideline criteria</caption>"
        f'<thead><tr><th scope="col">Parameter</th>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def _nerve_section(ctx: _Context, key: NerveKey) -> str:
    _, nerve, side = key
    parts = [f'<section class="nerve"><h4>{_e(_nerve_title(nerve, side))}</h4>']
    w = ctx.warnings_by_patient.get(key[0])
    if w is not None and not w.empty:
        mine = w[(_column(w, "nerve") == nerve) & (_column(w, "side") == side)]
        if not mine.empty:
            parts.append(
                '<div class="callout" role="note"><b><span aria-hidden="true">⚠</span> '
                f"Warning{'s' if len(mine) != 1 else ''} for this nerve</b>"
                f"<ul>{_warning_items(mine)}</ul></div>"
            )
    parts.append(_segment_tables(ctx, key))
    parts.append(_parameter_table(ctx, key))
    parts.append("</section>")
    return "".join(parts)


def _explanation(crit: Any, record: Mapping[str, Any]) -> tuple[str, str]:
    """(rule line, evidence) of a verdict: "Decided by: <rule>" when the evidence says the
    rule decided, else "Rule applied: <rule>"; the evidence without the repeated rule."""
    rule = _text(record.get("verdict_rule"))
    evidence = _text(record.get("evidence"))
    lead = f"decided by: {rule}" if rule else ""
    tone = _verdict_tone(crit, _text(record.get("verdict")))
    if lead and evidence.startswith(lead):
        rest = evidence[len(lead) :].lstrip("; ").strip()
        return f"<b>Decided by:</b> {_e(rule)}", rest
    if rule and tone == "pos":
        return f"<b>Decided by:</b> {_e(rule)}", evidence
    if rule:
        return f"<b>Rule applied:</b> {_e(rule)}", evidence
    return "", evidence


def _counts_line(record: Mapping[str, Any]) -> str:
    bits = []
    for col in (
        "n_segments",
        "n_positive_findings",
        "n_not_assessable_segments",
        "n_not_applicable_segments",
        "n_one_site_nerves",
    ):
        v = record.get(col)
        if not _missing(v):
            bits.append(f"{column_label(col)}: {int(v)}")
    return " · ".join(bits)


def _verdicts_table(ctx: _Context, rows: pd.DataFrame) -> str:
    body = []
    for record in rows.to_dict("records"):
        scheme = _text(record.get("scheme"))
        crit = ctx.crits.get(scheme)
        rule, evidence = _explanation(crit, record)
        extra = [
            f"{_e(column_label(c))}: {_e(_text(record.get(c)))}"
            for c in rows.columns
            if c not in _PATIENT_SHOWN and not _missing(record.get(c))
        ]
        counts = _counts_line(record)
        details = ""
        if counts or extra:
            details = f'<p class="muted">{_e(counts)}{"<br>" if counts and extra else ""}'
            details += "<br>".join(extra) + "</p>"
        status = (
            ""
            if getattr(crit, "verified", True)
            else '<br><span class="unverified">not verified</span>'
        )
        body.append(
            f'<tr><th scope="row">{_scheme_html(crit, scheme)}{status}</th>'
            f"<td>{_verdict_badge(crit, record.get('verdict'))}</td>"
            f'<td class="why">{rule}{"<br>" if rule and evidence else ""}'
            f"{'<b>Evidence:</b> ' + _e(evidence) if evidence else ''}{details}</td></tr>"
        )
    return (
        '<table class="verdicts"><caption>Verdict under each set of criteria, with the rule '
        "that decided it</caption><thead><tr>"
        f'<th scope="col">Criteria</th><th scope="col">{_e(column_label("verdict"))}</th>'
        f'<th scope="col">Why</th></tr></thead><tbody>{"".join(body)}</tbody></table>'
    )


def _impression_html(clauses: list[Clause]) -> str:
    main = [c for c in clauses if not c.caveat]
    caveats = [c for c in clauses if c.caveat]
    text = " ".join(
        f'<span class="clause" data-kind="{_e(c.kind)}">{_e(c.text)}</span>' for c in main
    )
    out = f'<p class="impression">{text}</p>'
    if caveats:
        items = "".join(
            f'<li class="clause" data-kind="{_e(c.kind)}">{_e(c.text)}</li>' for c in caveats
        )
        out += f'<p class="caveat-head"><b>Caveats</b></p><ul class="caveats">{items}</ul>'
    return out


def _reasons(ctx: _Context, pid: str) -> str:
    blocks = []
    for key in ctx.nerves_of.get(pid, []):
        finds = ctx.finds_by.get(key)
        if finds is None or finds.empty or "reason" not in finds:
            continue
        items = []
        for f in finds.to_dict("records"):
            cid = _text(f.get("criterion"))
            seg = _segment_words(_text(f.get("distal_site")), _text(f.get("proximal_site")))
            items.append(
                f"<li><b>{_e(seg)}, {_e(_short(ctx.crits.get(cid), cid))}</b>: "
                f"{_e(f.get('reason'))}</li>"
            )
        blocks.append(
            f'<h4>{_e(_nerve_title(key[1], key[2]))}</h4><ul class="reasons">{"".join(items)}</ul>'
        )
    if not blocks:
        return ""
    opened = " open" if ctx.print_mode else ""
    return (
        f'<details class="reasons"{opened}><summary>Reasons: the rule and the numbers behind '
        f"each finding</summary>{''.join(blocks)}</details>"
    )


def _patient_page(
    ctx: _Context,
    index: int,
    pid: str,
    plots: bool,
    traces: Mapping[NerveKey, Any],
) -> str:
    """One study's pages (a patient's, or one visit of a patient with serial studies)."""
    meta, _ = _patient_meta(ctx, pid)
    parts = [
        f'<section class="patient" id="p{index}" aria-labelledby="p{index}-title">'
        f'<h2 id="p{index}-title">Patient {_e(_study_name(pid))}</h2>'
        f'<p class="meta">{_e(meta)}</p>'
    ]
    w = ctx.warnings_by_patient.get(pid)
    if w is not None and not w.empty:
        parts.append(
            '<div class="callout" role="note"><b><span aria-hidden="true">⚠</span> '
            f"{len(w)} warning{'s' if len(w) != 1 else ''} about this patient's data</b>"
            f"<ul>{_warning_items(w)}</ul></div>"
        )
    table, references = _study_table(ctx, pid)
    if table:
        parts.append("<h3>Motor nerve conduction studies</h3>" + table)
        parts.append(_reference_note(references))
        parts.append(_other_values(ctx, pid))
    nerve_parts = [_nerve_section(ctx, key) for key in ctx.nerves_of.get(pid, [])]
    if nerve_parts:
        parts.append("<h3>Segment judgements</h3>" + "".join(nerve_parts))
    parts.append('<section class="impression-box"><h3>Impression</h3>')
    parts.append(_impression_html(_impression(ctx, pid)))
    parts.append("</section>")
    verdicts = ctx.patients_by.get(pid)
    if verdicts is not None and not verdicts.empty:
        parts.append("<h3>Verdicts by criteria</h3>" + _verdicts_table(ctx, verdicts))
    if plots:
        uri, alt = _nerve_plots(ctx, pid)
        if uri:
            caption = _threshold_caption(ctx)
            parts.append(
                '<h3>Amplitude and area along each nerve</h3><figure class="plots">'
                + _img(uri, alt)
                + "<figcaption>Distal → proximal. Amplitude: filled circles, solid line, left "
                "axis; area: open squares, dashed line, right axis, scaled so that the distal area "
                "sits at the height of the distal amplitude; changes in % on each "
                "segment. Shaded ////: conduction block under at least one set of criteria "
                "(* by amplitude alone beside dispersion); shaded \\\\\\\\: temporal "
                "dispersion."
                + (
                    f" Dotted lines: drops from the distal response that the criteria use, "
                    f"{_e(caption)}."
                    if caption
                    else ""
                )
                + "</figcaption></figure>"
            )
        for key in ctx.nerves_of.get(pid, []):
            found = _traces_of(traces, key)
            if found is not None:
                parts.append(
                    f"<h4>Traces, {_e(_nerve_title(key[1], key[2]))}</h4>"
                    + _img(_trace_plot(found), f"traces, {key[1]} {key[2]}")
                )
    parts.append(_reasons(ctx, pid))
    parts.append("</section>")
    return "".join(parts)


# --------------------------------------------------------------------------------------
# Follow-up: consecutive visits of a patient compared (tables of ncs.followup)
# --------------------------------------------------------------------------------------

_TRANSITION_TONES = {
    "new_block": "pos",
    "persisting": "pos",
    "resolved": "neg",
    "no_block": "neg",
    "not_assessable": "ind",
}
_COURSE_TONES = {"worsened": "pos", "improved": "neg", "unchanged": "na", "not_assessable": "ind"}


def _followup_badge(value: Any, tones: Mapping[str, str]) -> str:
    if _missing(value):
        return _badge("nothing to compare", "na")
    v = str(value)
    return _badge(FOLLOWUP_LABELS.get(v, v.replace("_", " ")), tones.get(v, "na"))


def _transition_badge(r: Mapping[str, Any]) -> str:
    """A segment's transition; one the rule set aside at a visit, with no block at the other,
    reads as excluded, not as missing data (the follow-up's own course treats it so)."""
    blocks = {_text(r.get("block_before")), _text(r.get("block_after"))}
    if (
        _text(r.get("transition")) == "not_assessable"
        and "not_applicable" in blocks
        and blocks <= {"no", "not_applicable"}
    ):
        return _badge(value_label("not_applicable"), "na")
    return _followup_badge(r.get("transition"), _TRANSITION_TONES)


def _visit_label(visit: Any, date: Any) -> str:
    date = _text(date)[:10]
    return f"{_text(visit)} ({date})" if date else _text(visit)


def _followup_of(ctx: _Context, pid: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The follow-up's patient, nerve and segment rows of one patient."""
    fu = ctx.followup
    out = []
    for table in (fu.patients, fu.nerves, fu.segments):
        out.append(table[_column(table, "patient_id") == pid])
    return out[0], out[1], out[2]


def _pairs_of(patients: pd.DataFrame) -> list[tuple[str, str]]:
    """A patient's visit pairs in order (before, after); ("visit", "") when studied once."""
    return list(
        dict.fromkeys(
            zip(_column(patients, "visit_before"), _column(patients, "visit_after"), strict=True)
        )
    )


def _change_cells(record: Mapping[str, Any], measure: str) -> str:
    """Before → after (%), the change in points, and the range variability alone gives."""
    before = record.get(f"{measure}_before_pct")
    after = record.get(f"{measure}_after_pct")
    change = record.get(f"{measure}_change_pts")
    values = f"{_fmt(before, 1)} → {_fmt(after, 1)}"
    if _missing(before) and _missing(after):
        values = "—"
    decimals = _change_decimals(record) if measure == "amp_drop" else 1
    shown = _signed_as_written(change, decimals) if not _missing(change) else "—"
    return f'<td class="num">{_e(values)}</td><td class="num">{_e(shown)}</td>'


def _change_decimals(record: Mapping[str, Any]) -> int:
    """Decimals for the amplitude-drop change and its variability range such that a change
    beyond a bound never reads as equal to it (as the follow-up sentences print them)."""
    values = [record.get(k) for k in ("amp_drop_change_pts", *_BOUNDS)]
    if any(_missing(v) for v in values):
        return 1
    change, low, high = (np.array([float(v)]) for v in values)
    return int(max(tx.decimals_apart(change, low, 1)[0], tx.decimals_apart(change, high, 1)[0]))


_BOUNDS = ("amp_drop_change_low_pts", "amp_drop_change_high_pts")


def _signed_as_written(value: Any, decimals: int) -> str:
    """A change in points as the follow-up sentences write it (the text kit's rounding, which
    :func:`ncs._text.decimals_apart` reasons with), "+" only above 0, a true minus sign."""
    (text,), _ = tx.number_table(np.array([float(value)]), decimals, signed=True)
    if float(value) <= 0 and text.startswith("+"):  # 0, or rounds to 0 from below
        text = text[1:]
    return text.replace("-", "−")


def _variability_cell(record: Mapping[str, Any]) -> str:
    low, high = (record.get(k) for k in _BOUNDS)
    beyond = _text(record.get("beyond_variability"))
    words = {"yes": "beyond", "no": "within", "not_assessable": "not assessable"}.get(beyond, "")
    span = ""
    if not _missing(low) and not _missing(high):
        decimals = _change_decimals(record)
        span = f" ({_signed_as_written(low, decimals)} to {_signed_as_written(high, decimals)})"
    if not words:
        return '<td class="missing">—</td>'
    tone = {"beyond": "flag", "within": "", "not assessable": "missing"}[words]
    return f'<td class="{tone}">{_e(words + span)}</td>'


def _followup_segments(ctx: _Context, segments: pd.DataFrame, vb: str, va: str) -> str:
    """Per nerve: each segment under each criterion at both visits."""
    if segments.empty:
        return ""
    blocks = []
    nerves, sides = _column(segments, "nerve"), _column(segments, "side")
    for nerve, side in dict.fromkeys(zip(nerves, sides, strict=True)):
        mine = segments[(nerves == nerve) & (sides == side)]
        records = mine.to_dict("records")

        def where(r: Mapping[str, Any]) -> tuple[str, str, str]:
            return (
                _text(r.get("distal_site")),
                _text(r.get("proximal_site")),
                _text(r.get("comparison")),
            )

        order = {k: i for i, k in enumerate(dict.fromkeys(where(r) for r in records))}
        schemes = {s: i for i, s in enumerate(ctx.schemes)}
        records.sort(
            key=lambda r: (order[where(r)], schemes.get(_text(r.get("criterion")), len(schemes)))
        )
        rows = []
        for r in records:
            crit = ctx.crits.get(_text(r.get("criterion")))
            studied = _text(r.get("studied"))
            segment = _segment_words(_text(r.get("distal_site")), _text(r.get("proximal_site")))
            if _text(r.get("comparison")) == "distal":
                segment += " (from the most distal site)"
            if studied == "before_only":
                segment += f" — studied at {vb} only"
            elif studied == "after_only":
                segment += f" — studied at {va} only"
            blocks_cell = (
                f"{_finding_badge_plain(r.get('block_before'))} → "
                f"{_finding_badge_plain(r.get('block_after'))}"
            )
            rows.append(
                f'<tr><th scope="row">{_e(segment)}</th>'
                f"<td>{_scheme_html(crit, _text(r.get('criterion')))}</td>"
                f"<td>{blocks_cell}</td>"
                f"<td>{_transition_badge(r)}</td>"
                + _change_cells(r, "amp_drop")
                + _variability_cell(r)
                + _change_cells(r, "area_drop")
                + "</tr>"
            )
        blocks.append(
            f"<h4>{_e(_nerve_title(nerve, side))}</h4>"
            '<table class="followup"><thead><tr>'
            '<th scope="col">Segment</th><th scope="col">Criteria</th>'
            f'<th scope="col">Block: {_e(vb)} → {_e(va)}</th>'
            '<th scope="col">Transition</th>'
            '<th scope="col">Amplitude drop (%)</th><th scope="col">Change (points)</th>'
            '<th scope="col">Measurement variability</th>'
            '<th scope="col">Area drop (%)</th><th scope="col">Change (points)</th>'
            f"</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        )
    return "".join(blocks)


def _finding_badge_plain(value: Any) -> str:
    """A block finding at one visit ("—" when the segment was not studied then)."""
    if _missing(value):
        return '<span class="missing">not studied</span>'
    v = str(value)
    return _badge(value_label(v).split(" — ")[0], _finding_tone(v))


def _followup_courses(ctx: _Context, patients: pd.DataFrame) -> str:
    rows = []
    records = patients.to_dict("records")
    schemes = {s: i for i, s in enumerate(ctx.schemes)}
    records.sort(key=lambda r: schemes.get(_text(r.get("criterion")), len(schemes)))
    for r in records:
        cid = _text(r.get("criterion"))
        crit = ctx.crits.get(cid)
        rows.append(
            f'<tr><th scope="row">{_scheme_html(crit, cid)}</th>'
            f"<td>{_verdict_badge(crit, r.get('verdict_before'))}</td>"
            f"<td>{_verdict_badge(crit, r.get('verdict_after'))}</td>"
            f"<td>{_followup_badge(r.get('course'), _COURSE_TONES)}</td>"
            f'<td class="why">{_e(_text(r.get("evidence")))}</td></tr>'
        )
    first = records[0] if records else {}
    vb, va = _text(first.get("visit_before")), _text(first.get("visit_after"))
    return (
        '<table class="verdicts followup-courses"><caption>Each visit\'s verdict and the '
        "course of conduction block between them, under each set of criteria</caption>"
        f'<thead><tr><th scope="col">Criteria</th><th scope="col">{_e(vb)}</th>'
        f'<th scope="col">{_e(va)}</th><th scope="col">Course</th>'
        f'<th scope="col">Why</th></tr></thead><tbody>{"".join(rows)}</tbody></table>'
    )


def _followup_impression(ctx: _Context, patients: pd.DataFrame, vb: str) -> str:
    """One sentence: each scheme's course since the earlier visit."""
    records = patients.to_dict("records")
    schemes = {s: i for i, s in enumerate(ctx.schemes)}
    records.sort(key=lambda r: schemes.get(_text(r.get("criterion")), len(schemes)))
    by_course: dict[str, list[str]] = {}
    for r in records:
        course = _text(r.get("course"))
        label = FOLLOWUP_LABELS.get(course, course.replace("_", " "))
        cid = _text(r.get("criterion"))
        by_course.setdefault(label, []).append(_short(ctx.crits.get(cid), cid))
    parts = [f"{label} under {_join(names)}" for label, names in by_course.items()]
    return f"Conduction block since {vb}: {'; '.join(parts)}." if parts else ""


def _followup_section(ctx: _Context, index: int, pid: str, plots: bool) -> str:
    """A patient's follow-up: every pair of consecutive visits compared (the tables of
    :func:`ncs.followup`; nothing judged again)."""
    patients, _, segments = _followup_of(ctx, pid)
    parts = [
        f'<section class="patient followup" id="f{index}" aria-labelledby="f{index}-title">'
        f'<h2 id="f{index}-title">Follow-up of patient {_e(pid)}</h2>'
    ]
    fu = ctx.followup
    own = fu.warnings
    if len(own):
        mine = own[
            (_column(own, "patient_id") == pid)
            & np.char.startswith(_column(own, "code").astype(str), "followup_")
        ]
        if not mine.empty:
            parts.append(
                '<div class="callout" role="note"><b><span aria-hidden="true">⚠</span> '
                f"About comparing the visits</b><ul>{_warning_items(mine)}</ul></div>"
            )
    pairs = _pairs_of(patients)
    if not pairs or all(not va for _, va in pairs):
        parts.append("<p>Studied at one visit: there is nothing to compare.</p></section>")
        return "".join(parts)
    for vb, va in pairs:
        if not va:
            continue
        here = patients[
            (_column(patients, "visit_before") == vb) & (_column(patients, "visit_after") == va)
        ]
        first = here.iloc[0]
        days = first.get("days_between")
        when = f", {_fmt(days, 0, plain_integers=True)} days apart" if not _missing(days) else ""
        parts.append(
            f"<h3>{_e(_visit_label(vb, first.get('study_date_before')))} → "
            f"{_e(_visit_label(va, first.get('study_date_after')))}{_e(when)}</h3>"
        )
        sentence = _followup_impression(ctx, here, vb)
        if sentence:
            parts.append(f'<p class="impression">{_e(sentence)}</p>')
        parts.append(_followup_courses(ctx, here))
        segs = segments[
            (_column(segments, "visit_before") == vb) & (_column(segments, "visit_after") == va)
        ]
        table = _followup_segments(ctx, segs, vb, va)
        if table:
            parts.append("<h3>Segments compared</h3>" + table)
    definition = _text(fu.meta.get("variability_definition"))
    if definition:
        parts.append(f'<p class="note">Measurement variability: {_e(definition)}</p>')
    if plots and len(segments):
        uri = _followup_plot(fu, pid)
        if uri:
            parts.append(
                '<h3>Drops at each visit</h3><figure class="plots">'
                + _img(uri, f"slopegraph of the amplitude drops of patient {pid}")
                + "<figcaption>Each segment's amplitude drop at each visit, joined by a line "
                "coloured by its transition; the criteria's thresholds shaded from the "
                "threshold up; an open circle: a segment studied at one visit only."
                "</figcaption></figure>"
            )
    sentences = (
        [_text(x) for x in _column(segments, "sentence") if _text(x)]
        if "sentence" in segments.columns
        else []
    )
    if sentences:
        opened = " open" if ctx.print_mode else ""
        items = "".join(f"<li>{_e(t)}</li>" for t in sentences)
        parts.append(
            f'<details class="reasons"{opened}><summary>Each segment compared, in '
            f'words</summary><ul class="reasons">{items}</ul></details>'
        )
    parts.append("</section>")
    return "".join(parts)


def _followup_plot(fu: Any, pid: str) -> str:
    from ncs.plot import plot_followup

    try:
        axes = plot_followup(fu, patient=pid)
    except (ValueError, KeyError):  # nothing to draw for this patient
        return ""
    import matplotlib.pyplot as plt

    fig = np.atleast_1d(axes).flat[0].figure
    try:
        return _png(fig)
    finally:
        plt.close(fig)


def _followup_for(analysis: Any, followup: Any) -> tuple[Any, Any, str]:
    """(analysis, follow-up or None, note): the follow-up given, or computed for an
    analysis with serial studies (a note says why there is none when it cannot be)."""
    from ncs.followup import FollowUp
    from ncs.followup import followup as compare_visits

    if isinstance(analysis, FollowUp):
        return analysis.analysis, (analysis if followup is not False else None), ""
    if followup is False or (followup is None and "visit" not in analysis.sites.columns):
        return analysis, None, ""
    if isinstance(followup, FollowUp):
        return analysis, followup, ""
    from ncs.errors import ValidationError

    try:
        return analysis, compare_visits(analysis), ""
    except (ValidationError, ValueError) as err:
        return analysis, None, f"The visits are not compared: {err}"


def _traces_of(traces: Mapping[Any, Any], key: NerveKey) -> Any:
    """The traces given for a nerve: by (patient_id, nerve, side), or by (patient_id, visit,
    nerve, side) for serial studies."""
    study, nerve, side = key
    if isinstance(study, tuple):
        return traces.get((*study, nerve, side))
    return traces.get(key)


def _end_matter(ctx: _Context) -> str:
    meta = ctx.analysis.meta or {}
    prov = meta.get("provenance") or {}
    versions = {c.get("id"): c.get("version") for c in prov.get("criteria", []) if c}
    items = []
    for cid, crit in ctx.crits.items():
        status = "verified" if getattr(crit, "verified", False) else "not verified"
        version = versions.get(cid)
        items.append(
            f"<li><b>{_scheme_html(crit, cid)}</b> — {_e(getattr(crit, 'title', ''))} "
            f"({_e(status)}{'; version ' + _e(version) if version else ''}). "
            f'<span class="citation">{_citation_html(crit)}</span></li>'
        )
    parts = [
        '<section class="end" aria-labelledby="criteria-title">'
        '<h2 id="criteria-title">Criteria applied</h2>'
        f"<ul>{''.join(items)}</ul>"
    ]
    reference = prov.get("reference") or {}
    if isinstance(reference, Mapping) and reference.get("name"):
        sources = "".join(f"<li>{_e(s)}</li>" for s in reference.get("sources", []) or [])
        parts.append(
            f"<h3>Reference values</h3><p>{_e(reference['name'])}</p>"
            + (f'<ul class="small">{sources}</ul>' if sources else "")
        )
    temps = prov.get("temperature_limits_c")
    if isinstance(temps, Mapping):
        verified = "" if temps.get("verified") else " (not confirmed against their source)"
        parts.append(
            "<h3>Limb temperature</h3><p>A limb is called cold below "
            f"{_e(_text(temps.get('upper')))} °C (arm) or {_e(_text(temps.get('lower')))} °C "
            f"(leg){_e(verified)}.</p>"
        )
    source = prov.get("input")
    if isinstance(source, Mapping) and source:
        bits = [
            f"{_e(k.replace('_', ' '))}: {_e(', '.join(map(str, v)) if isinstance(v, list) else v)}"
            for k, v in source.items()
            if v not in (None, "", [])
        ]
        parts.append(f'<h3>Input</h3><p class="small">{" · ".join(bits)}</p>')
    parts.append(
        "<h3>How to read this report</h3><p>Drops are 100 × (distal − proximal) / distal; "
        "the duration change is 100 × (proximal − distal) / distal. A missing measure is "
        "unknown, never zero: a finding that needs it is <i>not assessable — missing data</i>. "
        "What a rule excludes (its scope, a failed precondition such as a small distal CMAP, "
        "no distal response) is <i>not applicable — excluded by the rule</i>, never missing "
        f"data. A scheme without such a rule reads <i>{_e(NOT_IN_SCHEME)}</i>.</p>"
        f"<p>Generated by ncs {_e(meta.get('ncs_version', __version__))}.</p></section>"
    )
    return "".join(parts)


def _citation_html(crit: Any, fallback: Any = None) -> str:
    """Citation text of a criterion (DOI as a link), or the fallback text."""
    citation = getattr(crit, "citation", None)
    text = getattr(citation, "text", None) or fallback
    if _missing(text):
        return ""
    out = _e(text)
    doi = getattr(citation, "doi", None)
    if doi:
        out += f' doi:<a href="https://doi.org/{_e(doi)}">{_e(doi)}</a>'
    for applied in getattr(crit, "applied_in", ()) or ():
        out += f"<br>as applied in: {_e(applied.text)}"
    return out


# --------------------------------------------------------------------------------------
# Style: screen and print
# --------------------------------------------------------------------------------------

_CSS = """
:root { --pos: #a33a00; --pos-bg: #fde6d8; --neg: #00558a; --neg-bg: #e1eef8;
        --ind: #6b5200; --ind-bg: #fff1c2; --line: #c9ced6; --muted: #4f5660; }
* { box-sizing: border-box; }
body { font-family: "DejaVu Sans", "Liberation Sans", system-ui, -apple-system, "Segoe UI",
       Roboto, Arial, sans-serif; margin: 0 auto; max-width: 1150px; padding: 1.5em;
       color: #1b1f24; line-height: 1.4; font-variant-ligatures: none; }
h1 { font-size: 1.6em; margin: 0 0 .2em; }
h2 { font-size: 1.3em; border-bottom: 2px solid var(--line); padding-bottom: .2em;
     margin-top: 2em; }
h3 { font-size: 1.1em; margin: 1.3em 0 .4em; }
h4 { font-size: .98em; margin: 1em 0 .3em; }
.meta, .muted, .note { color: var(--muted); font-size: .9em; }
.small { font-size: .8em; }
table { border-collapse: collapse; margin: .3em 0 .8em; font-size: .86em; width: 100%; }
caption { text-align: left; font-size: .82em; color: var(--muted); padding: .1em 0 .25em;
          caption-side: top; }
th, td { border: 1px solid var(--line); padding: .2em .4em; text-align: left;
         vertical-align: top; overflow-wrap: break-word; }
thead th { background: #eef1f4; font-weight: 600; }
tbody th { font-weight: 600; background: #f8f9fa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.abn b { font-weight: 700; }
.flag { font-weight: 700; }
tr.nerve-row th { background: #e6e9ee; font-size: .9em; }
tr.limits th, tr.limits td { color: var(--muted); font-size: .8em; background: #fafbfc; }
table.study td, table.study th { padding: .15em .35em; }
table.study tbody th[scope=row] { width: 15%; }
table.verdicts td:nth-child(2) { width: 17%; }
table.verdicts th[scope=row] { width: 17%; }
table.followup th[scope=row] { width: 20%; }
table.followup td, table.followup th { padding: .15em .3em; }
td.why { overflow-wrap: anywhere; }
.sid { color: var(--muted); font-size: .75em; font-weight: 400; white-space: nowrap; }
.badge { display: inline-block; overflow-wrap: normal; padding: 0 .35em; border-radius: .25em;
         font-weight: 600; border: 1px solid transparent; }
.badge .icon { font-weight: 700; }
.pos { color: var(--pos); background: var(--pos-bg); border-color: #e9b89a; }
.neg { color: var(--neg); background: var(--neg-bg); }
.ind { color: var(--ind); background: var(--ind-bg); border-style: dashed; border-color: #c9a640; }
.na { color: var(--muted); background: #f1f2f4; font-weight: 400; }
.what { color: var(--muted); font-size: .8em; }
.flagnote { color: var(--pos); font-size: .8em; font-style: italic; }
.unverified { color: var(--ind); font-size: .8em; font-weight: 600; }
.sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0);
      white-space: nowrap; }
.missing { color: var(--muted); }
ul.legend { list-style: none; padding: 0; margin: .3em 0 1em; display: flex;
            flex-wrap: wrap; gap: .4em 1em; font-size: .85em; }
.banner { border: 2px solid #b06000; background: #fff5e6; padding: .4em .9em;
          margin: 1em 0; border-radius: .3em; }
.banner h2 { border: 0; margin: .2em 0; font-size: 1.1em; color: #7a3e00; }
.banner ul, .callout ul { margin: .2em 0; padding-left: 1.2em; }
.callout { border-left: 4px solid #b06000; background: #fff5e6; padding: .3em .7em;
           margin: .4em 0 .6em; font-size: .9em; }
.warn-list { font-size: .85em; color: #7a3e00; }
section.nerve { border-left: 3px solid var(--line); padding-left: .8em; margin: .8em 0; }
.impression-box { border: 1px solid var(--line); padding: .2em .9em .4em;
                  border-radius: .3em; background: #fbfcfd; }
p.impression { font-size: .98em; }
ul.caveats { font-size: .9em; margin-top: .1em; }
p.caveat-head { margin: .4em 0 0; }
ul.reasons, ul.other { margin: .2em 0 .8em; padding-left: 1.2em; font-size: .84em; }
ul.reasons li { margin: .12em 0; }
.citation { font-size: .82em; color: var(--muted); }
figure.plots { margin: .4em 0; }
figure.plots figcaption { font-size: .8em; color: var(--muted); }
img.plot { max-width: 100%; height: auto; display: block; margin: .3em 0; }
section.patient { margin-top: 2.5em; }
details { font-size: .88em; margin: .4em 0 .6em; }
@media print {
  body { max-width: none; padding: 0; font-size: 9pt; line-height: 1.3; }
  h1 { font-size: 15pt; } h2 { font-size: 12.5pt; margin-top: 0; } h3 { font-size: 11pt; }
  h4 { font-size: 9.5pt; }
  table { font-size: 7.8pt; width: 100%; page-break-inside: auto; }
  thead { display: table-header-group; }
  tr, img.plot, .callout, .banner li { break-inside: avoid; }
  h2, h3, h4, caption { break-after: avoid; }
  section.patient { break-before: page; margin-top: 0; }
  section.end { break-before: page; }
  .impression-box { break-inside: avoid; }
  details::details-content { content-visibility: visible; display: block; height: auto; }
  details > summary { list-style: none; font-weight: 600; }
  a { color: inherit; text-decoration: none; }
  .badge, .banner, .callout, thead th, tbody th, tr.nerve-row th {
    -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"""


def _page_css(ctx: _Context, title: str, paper: str | None) -> str:
    """Page boxes: size, margins, running header and footer (per patient: a named page)."""
    prov = (ctx.analysis.meta or {}).get("provenance") or {}
    versions = {c.get("id"): c.get("version") for c in prov.get("criteria", []) if c}
    crit_bits = [
        f"{_short(ctx.crits.get(s), s)} {versions.get(s) or ''}".strip() for s in ctx.schemes
    ]
    version = (ctx.analysis.meta or {}).get("ncs_version", __version__)
    footer = f"ncs {version} · criteria: {', '.join(crit_bits)}"
    size = f"size: {paper};" if paper else ""
    box = "font-family: 'DejaVu Sans', 'Liberation Sans', Arial, sans-serif; color: #4f5660;"
    rules = [
        f"@page {{ {size} margin: 17mm 13mm 19mm 13mm;"
        f" @top-left {{ content: {_css_string(title)}; font-size: 8pt; {box} }}"
        ' @top-right { content: "Page " counter(page) " of " counter(pages);'
        f" font-size: 8pt; {box} }}"
        f" @bottom-left {{ content: {_css_string(footer)}; font-size: 6.5pt; {box}"
        " vertical-align: top; padding-top: 3mm; } }"
    ]
    for i, pid in enumerate(ctx.patient_ids):
        _, date = _patient_meta(ctx, pid)
        head = f"Patient {_study_name(pid)} · study date {date or 'not given'}"
        rules.append(
            f"@page patient{i} {{ @top-left {{ content: {_css_string(head)}; font-size: 8pt;"
            f" font-weight: 600; {box} }} }}"
        )
        rules.append(f"#p{i} {{ page: patient{i}; }}")
        if ctx.followup is not None:
            head = f"Patient {_patient_of(pid)} · follow-up"
            rules.append(
                f"@page followup{i} {{ @top-left {{ content: {_css_string(head)}; font-size: 8pt;"
                f" font-weight: 600; {box} }} }}"
            )
            rules.append(f"#f{i} {{ page: followup{i}; }}")
    return "\n".join(rules)


# --------------------------------------------------------------------------------------
# The page
# --------------------------------------------------------------------------------------


def to_html(
    analysis: Any,
    *,
    title: str | None = None,
    traces: Mapping[NerveKey, Any] | None = None,
    plots: bool = True,
    max_patients: int | None = MAX_REPORT_PATIENTS,
    progress: Callable[[int, int], Any] | None = None,
    paper: str | None = None,
    print_mode: bool = False,
    followup: Any = None,
) -> str:
    """One self-contained HTML page reporting an analysis, ready to print.

    Parameters
    ----------
    analysis : Analysis or FollowUp
        Result of :func:`ncs.analyze` (or :func:`ncs.io.from_json`), or of
        :func:`ncs.followup` (its analysis is reported, with the follow-up section).
    title : str, optional
        Page title; default ``"Nerve conduction study report"``. Escaped like all text.
    traces : mapping, optional
        Raw CMAP traces to draw, by ``(patient_id, nerve, side)`` (serial studies:
        ``(patient_id, visit, nerve, side)``): a
        :class:`ncs.waveform.Traces` (or anything :func:`ncs.plot.plot_traces` accepts that
        carries its sampling rate).
    plots : bool, default True
        Draw the plots (needs matplotlib, ``pip install 'ncs-edx[plot]'``). Without
        matplotlib the report is written without plots and says so.
    max_patients : int or None, default :data:`MAX_REPORT_PATIENTS`
        Refuse an analysis of more patients than this (``None``: no limit); report a
        cohort a few patients at a time.
    progress : callable, optional
        Called as ``progress(done, total)`` after each patient.
    paper : {"A4", "Letter"}, optional
        Fix the printed page size. Default: the printer's (the layout fits both).
    print_mode : bool, default False
        Write the collapsible parts expanded (as :func:`write_pdf` does); printing from a
        browser expands them either way where the browser supports it.
    followup : FollowUp or bool, optional
        Serial studies (a ``visit`` column): each patient's pages (one per visit) are followed
        by a follow-up section comparing consecutive visits, from this
        :func:`ncs.followup` result; by default it is computed from the analysis
        (``False``: no follow-up section). Where the visits' order is not known the report
        says so instead.

    Raises
    ------
    ValidationError
        When the analysis has more than ``max_patients`` patients, or ``paper`` is not one
        of :data:`PAPER_SIZES`.

    Returns
    -------
    str
        The HTML document. It loads nothing from elsewhere: CSS is inline and plots are
        embedded PNG images.

    Notes
    -----
    Per patient: the study's own table (abnormal values marked against the reference limits
    used, which are shown and named), each nerve's segments with every criterion's block and
    dispersion finding, the impression (:func:`impression`), each scheme's verdict with the
    rule that decided it and its evidence, the plots, and the reason sentences. Warnings are
    listed at the top and at their patient and nerve.

    References
    ----------
    .. [1] Katz JS, et al. Neurology 2002;58:615-620, as applied in Simon NG, et al.
       Neurology 2013;81:2116-2120.
    .. [2] Bouche P, Léger JM, et al. J Neurol Neurosurg Psychiatry 1995 (supplement).

    Examples
    --------
    >>> import ncs
    >>> from ncs.cli import demo_path
    >>> from ncs.report import to_html
    >>> result = ncs.analyze(ncs.read_sites(demo_path()))
    >>> page = to_html(result, plots=False)
    >>> page.startswith("<!DOCTYPE html>") and "Conduction block in the right median" in page
    True
    """
    if paper is not None:
        match = {p.lower(): p for p in PAPER_SIZES}.get(str(paper).lower())
        if match is None:
            from ncs.errors import ValidationError

            raise ValidationError(
                [(None, "paper", f"must be one of {', '.join(PAPER_SIZES)}, got {paper!r}")]
            )
        paper = match
    title = title or "Nerve conduction study report"
    # counted before anything is built: a cohort too large for one report is refused at once
    patients_table = getattr(analysis, "analysis", analysis).patients
    n_patients = int(patients_table["patient_id"].nunique()) if len(patients_table) else 0
    if max_patients is not None and n_patients > max_patients:
        from ncs.errors import ValidationError

        raise ValidationError(
            [
                (
                    None,
                    None,
                    f"the analysis has {n_patients:,} patients; one HTML report shows "
                    f"at most {max_patients:,}: report a few patients at a time (or pass "
                    "max_patients=None)",
                )
            ]
        )
    analysis, fu, fu_note = _followup_for(analysis, followup)
    ctx = _context(analysis, print_mode=print_mode, followup=fu)
    note = ""
    if plots and not _matplotlib_available():
        plots = False
        note = (
            '<p class="muted">Plots are not shown: matplotlib is not installed '
            "(pip install 'ncs-edx[plot]').</p>"
        )
    traces = dict(traces or {})
    n_nerves = sum(len(v) for v in ctx.nerves_of.values())
    counts = (
        f"{n_patients} patient(s)"
        + (f", {len(ctx.patient_ids)} visit(s)" if ctx.visits else "")
        + f", {n_nerves} nerve(s), "
        f"{len(analysis.sites)} site(s), {len(analysis.segments)} segment(s)"
    )
    schemes = ", ".join(f"{_short(ctx.crits.get(s), s)} ({s})" for s in ctx.schemes)
    body = [
        f"<header><h1>{_e(title)}</h1>",
        f'<p class="meta">{_e(counts)} · criteria: {_e(schemes)} · '
        f"ncs {_e(analysis.meta.get('ncs_version', __version__))}</p>{note}"
        + (f'<p class="callout">{_e(fu_note)}</p>' if fu_note else "")
        + "</header>",
        _banner(analysis),
        '<h2 id="overview">Overview</h2>',
        _overview(ctx),
        _legend(),
    ]
    last = {_patient_of(study): i for i, study in enumerate(ctx.patient_ids)}
    for i, pid in enumerate(ctx.patient_ids):
        body.append(_patient_page(ctx, i, pid, plots, traces))
        if ctx.followup is not None and last[_patient_of(pid)] == i:
            body.append(_followup_section(ctx, i, _patient_of(pid), plots))
        if progress is not None:
            progress(i + 1, len(ctx.patient_ids))
    body.append(_end_matter(ctx))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_CSS}\n{_page_css(ctx, title, paper)}</style>"
        "</head><body><main>" + "".join(body) + "</main></body></html>\n"
    )


def write_html(analysis: Any, path: str | Path, **kwargs: Any) -> Path:
    """Write :func:`to_html` of ``analysis`` to ``path`` (UTF-8) and return the path.

    Parameters
    ----------
    analysis : Analysis
        Result of :func:`ncs.analyze`.
    path : str or pathlib.Path
        Output file, e.g. ``report.html``.
    **kwargs
        Passed to :func:`to_html` (``title``, ``traces``, ``plots``, ``paper``, ...).

    Returns
    -------
    pathlib.Path
        The file written. The page is rendered completely before the file is opened, so a
        failure leaves no half-written file.

    References
    ----------
    .. [1] Katz JS, et al. Neurology 2002;58:615-620, as applied in Simon NG, et al.
       Neurology 2013;81:2116-2120.
    """
    text = to_html(analysis, **kwargs)
    out = Path(path)
    out.write_text(text, encoding="utf-8")
    return out


# --------------------------------------------------------------------------------------
# PDF through a headless Chromium
# --------------------------------------------------------------------------------------


class BrowserNotFoundError(RuntimeError):
    """No Chromium or Chrome browser to print a PDF with."""


class PdfError(RuntimeError):
    """The browser ran but wrote no PDF."""


#: Browser commands looked for, in order (after ``NCS_BROWSER``).
BROWSER_NAMES: tuple[str, ...] = (
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
    "chrome",
)
_BROWSER_PATHS = (
    "/usr/bin/chromium",
    "/Applications/Chromium.app/Contents/MacOS/Chromium",
    "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
    r"C:\Program Files\Google\Chrome\Application\chrome.exe",
)
#: Flags for printing offline: headless, no network, no first-run work, a fresh profile.
_BROWSER_FLAGS = (
    "--headless",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--no-pdf-header-footer",
)


def find_browser(browser: str | os.PathLike | None = None) -> str | None:
    """The Chromium or Chrome executable to print with, or None.

    Looks at ``browser`` (a path or a command name), then the ``NCS_BROWSER`` environment
    variable, then the usual command names (:data:`BROWSER_NAMES`) and install locations.
    """
    for candidate in (browser, os.environ.get("NCS_BROWSER")):
        if candidate:
            text = os.fspath(candidate)
            if Path(text).is_file():
                return text
            found = shutil.which(text)
            if found:
                return found
            if browser is not None and candidate is browser:
                return None
    for name in BROWSER_NAMES:
        found = shutil.which(name)
        if found:
            return found
    for path in _BROWSER_PATHS:
        if Path(path).is_file():
            return path
    return None


def write_pdf(
    analysis: Any,
    path: str | Path,
    *,
    paper: str = "A4",
    browser: str | os.PathLike | None = None,
    timeout: float = 300.0,
    **kwargs: Any,
) -> Path:
    """Print the report of ``analysis`` to a PDF through a headless Chromium or Chrome.

    Parameters
    ----------
    analysis : Analysis
        Result of :func:`ncs.analyze`.
    path : str or pathlib.Path
        The PDF to write. It appears complete or not at all.
    paper : {"A4", "Letter"}, default "A4"
    browser : str or path, optional
        The browser executable; default :func:`find_browser`.
    timeout : float, default 300
        Seconds to wait for the browser. [s]
    **kwargs
        Passed to :func:`to_html` (``title``, ``plots``, ``traces``, ...).

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    BrowserNotFoundError
        No Chromium or Chrome was found (install one, or write the HTML and print it from a
        browser).
    PdfError
        The browser ran but wrote no PDF.

    References
    ----------
    .. [1] Katz JS, et al. Neurology 2002;58:615-620, as applied in Simon NG, et al.
       Neurology 2013;81:2116-2120.
    """
    exe = find_browser(browser)
    if exe is None:
        raise BrowserNotFoundError(
            "writing a PDF needs a Chromium or Chrome browser and none was found (looked for "
            f"{', '.join(BROWSER_NAMES)}; NCS_BROWSER names one): install one (e.g. "
            "'apt-get install chromium'), or write report.html and print it from a browser"
        )
    page = to_html(analysis, paper=paper, print_mode=True, **kwargs)
    out = Path(path)
    with tempfile.TemporaryDirectory(prefix="ncs-report-") as tmp:
        source = Path(tmp) / "report.html"
        source.write_text(page, encoding="utf-8")
        target = Path(tmp) / "report.pdf"
        flags = list(_BROWSER_FLAGS)
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            flags.append("--no-sandbox")  # Chromium refuses to run as root with its sandbox
        cmd = [
            exe,
            *flags,
            f"--user-data-dir={Path(tmp) / 'profile'}",
            f"--print-to-pdf={target}",
            source.as_uri(),
        ]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as err:
            raise PdfError(f"the browser did not finish within {timeout:g} s") from err
        except OSError as err:
            raise PdfError(f"the browser could not be started: {err}") from err
        if not target.is_file() or target.stat().st_size == 0:
            tail = (proc.stderr or "").strip().splitlines()[-3:]
            raise PdfError(
                f"the browser wrote no PDF (exit code {proc.returncode})"
                + (": " + " / ".join(tail) if tail else "")
            )
        shutil.move(str(target), out)
    return out
