"""Serial studies: a baseline and its follow-up, compared segment by segment.

:func:`followup` analyses every visit with :func:`ncs.analyze` (one call: a visit is judged
on its own rows, exactly as if it were alone), then lines up each patient's consecutive
visits and says, for every segment and criterion, how the block finding moved:

* ``new_block``: no block at the earlier visit, a block (``yes`` or ``probable``) at the later;
* ``resolved``: a block at the earlier visit, none at the later;
* ``persisting``: a block at both;
* ``no_block``: no block at either;
* ``not_assessable``: anything else, with the reason (which visit was not assessable or not
  applicable, and why), and every segment studied at one visit only (a site added at the
  follow-up is listed as such, never as a new block).

Changes of the segment measures are in percentage points, later minus earlier. Whether a
change of a drop exceeds what measurement variability alone gives is judged with the
variability model of :mod:`ncs.compare` (:func:`reliable_change`); nerves and patients get a
``course`` (``improved``, ``worsened``, ``unchanged``, ``not_assessable``) from their
segments. Optional patterns from the serial-study literature (:data:`PATTERNS`) are cited and
carry ``verified`` flags.

Nothing here judges a segment: every block and dispersion finding is the engine's, read from
the analysis.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from ncs import _text as tx
from ncs._codes import (
    categorical,
    fixed,
    from_codes,
    names_of,
    row_ids,
    table,
)
from ncs._version import __version__
from ncs.analyze import Analysis, _records, analyze, render_reasons, warnings_table
from ncs.compare import DEFAULT_VARIABILITY, Variability, log_sigma, z_value
from ncs.criteria import BLOCK_VALUES, DISPERSION_VALUES, Citation, Criterion, Threshold
from ncs.errors import Problem, ValidationError, collect_warnings, warn
from ncs.measures import FALSE, PCT_DECIMALS, TRUE, UNKNOWN, percent_change, truth
from ncs.schema import visit_table

__all__ = [
    "COURSES",
    "ERCF2017",
    "FOLLOWUP_SCHEMA_VERSION",
    "PATTERNS",
    "RESOLUTION_DISPERSION",
    "STUDIED",
    "THREE_VALUED",
    "TRANSITIONS",
    "FollowUp",
    "Pattern",
    "followup",
    "json_schema",
    "reliable_change",
]

FOLLOWUP_SCHEMA_VERSION = 1
"""Version of :meth:`FollowUp.to_dict` / ``to_json`` (``followup.schema.json``)."""

TRANSITIONS: tuple[str, ...] = ("new_block", "resolved", "persisting", "no_block", "not_assessable")
"""Values of ``FollowUp.segments.transition``."""
COURSES: tuple[str, ...] = ("improved", "worsened", "unchanged", "not_assessable")
"""Values of the ``course`` of nerves and patients."""
STUDIED: tuple[str, ...] = ("both", "before_only", "after_only")
"""Values of ``studied``: at both visits of the pair, or at one of them only."""
THREE_VALUED: tuple[str, ...] = ("yes", "no", "not_assessable")
"""Values of ``beyond_variability`` and of the nerve patterns."""
RESOLUTION_VALUES: tuple[str, ...] = (
    "without_dispersion",
    "with_dispersion",
    "not_assessable",
    "not_applicable",
)
"""Values of ``resolution_pattern`` (resolved blocks only; missing elsewhere)."""

_TRANSITION_WORDS = {
    "new_block": "new block",
    "resolved": "block resolved",
    "persisting": "block persisting",
    "no_block": "no block at either visit",
    "not_assessable": "not assessable",
}

# block codes (positions in BLOCK_VALUES) and dispersion codes (positions in DISPERSION_VALUES)
_YES, _PROBABLE, _NO, _NOT_ASSESSABLE, _NOT_APPLICABLE = (
    BLOCK_VALUES.index(v) for v in ("yes", "probable", "no", "not_assessable", "not_applicable")
)
_D_YES, _D_NO, _D_NOT_ASSESSABLE, _D_NOT_APPLICABLE = (
    DISPERSION_VALUES.index(v) for v in ("yes", "no", "not_assessable", "not_applicable")
)
_NEW, _RESOLVED, _PERSISTING, _NO_BLOCK, _OPEN = range(5)  # TRANSITIONS
_IMPROVED, _WORSENED, _UNCHANGED, _COURSE_OPEN = range(4)  # COURSES
_BOTH, _BEFORE_ONLY, _AFTER_ONLY = range(3)  # STUDIED
_B_YES, _B_NO, _B_OPEN = range(3)  # THREE_VALUED


# --------------------------------------------------------------------------------------
# Patterns from the serial-study literature (data, with their sources)
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Pattern:
    """A pattern of change between two studies, from the serial-study literature.

    Attributes
    ----------
    id : str
        Stable id (the column of ``FollowUp.nerves`` or ``FollowUp.segments`` it fills).
    title : str
        What it is, in words.
    level : {"nerve", "segment"}
        Which table holds it.
    citation : Citation or None
        Where its definition was read (None: no source definition was read).
    thresholds : tuple of Threshold
        Its numbers, each with the words it was read in.
    verified : bool
        True only when the whole rule, as applied here, was read in the cited text.
    notes : str
        What was read, and what is this library's interpretation.
    """

    id: str
    title: str
    level: str
    citation: Citation | None
    thresholds: tuple[Threshold, ...] = ()
    verified: bool = False
    notes: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "level": self.level,
            "citation": None if self.citation is None else self.citation.to_dict(),
            "thresholds": [
                {"measure": t.measure, "op": t.op, "value": t.value, "source": t.source}
                for t in self.thresholds
            ],
            "verified": self.verified,
            "notes": self.notes,
        }


_ERCF_CITATION = Citation(
    key="ercf2017",
    text=(
        "Electrodiagnosis of reversible conduction failure in Guillain-Barré syndrome. "
        "Muscle Nerve 2017;56(5):919-924 (authors not read here)."
    ),
    doi="10.1002/mus.25577",
)

ERCF_AMPLITUDE_RISE = Threshold(
    measure="distal_amplitude_rise_pct",
    op=">=",
    value=50.0,
    source=(
        "Muscle Nerve 2017;56:919-924, abstract (Methods): 'a 50% increase in amplitude of "
        "distal compound muscle action potentials'; Results: 'an amplitude increase of at "
        "least 50%'"
    ),
    verified=True,
)
"""ERCF part (i): the distal CMAP amplitude rises by at least 50 % between the studies."""

ERCF2017 = Pattern(
    id="ercf",
    title="early reversible conduction failure (ERCF)",
    level="nerve",
    citation=_ERCF_CITATION,
    thresholds=(ERCF_AMPLITUDE_RISE,),
    verified=False,
    notes=(
        "Read in the abstract (PMID 28093784): a nerve shows ERCF if on follow-up (i) the "
        "distal CMAP (or SNAP) amplitude rises by 50% ('at least 50%'), or (ii) a proximal "
        "motor conduction block resolves with an accompanying decrease in distal latencies "
        "or CMAP duration or increase in conduction velocities. Applied here to motor "
        "nerves: (i) the nerve's distal CMAP amplitude, later vs earlier, >= 50% rise "
        "(not assessable when the distal response was absent at the earlier study: a "
        "percentage rise from nothing is not defined); (ii) a segment whose block resolved "
        "under the criterion applied, with the nerve's distal latency shorter, the "
        "segment's proximal CMAP duration shorter, or its conduction velocity faster at the "
        "later study. Interpretations, not read in the source (hence verified=False): any "
        "segment counts as 'proximal' (the abstract does not say which segments), the block "
        "is the criterion's own, and any decrease or increase counts (the abstract gives no "
        "amount). Proposed for axonal Guillain-Barré syndrome; the abstract does not say "
        "it applies elsewhere."
    ),
)
"""Early reversible conduction failure (Muscle Nerve 2017): a nerve-level pattern."""

RESOLUTION_DISPERSION = Pattern(
    id="resolution_pattern",
    title="resolution with or without temporal dispersion",
    level="segment",
    citation=None,
    verified=False,
    notes=(
        "Not from a source definition (none was read): a description of the data. For a "
        "segment whose block resolved, whether the criterion's own dispersion rule finds "
        "the proximal response dispersed at the later study: 'without_dispersion' (the "
        "picture of reversible conduction failure, a block that resolves without the "
        "proximal response becoming dispersed) or 'with_dispersion' (the picture usually "
        "described for the slower, remyelinating resolution of a demyelinating block); "
        "'not_applicable' where the criterion has no dispersion rule or excludes the "
        "segment. The time between the studies is not used (no source gives a number)."
    ),
)
"""Resolved blocks with or without dispersion at the later study (unverified description)."""

PATTERNS: Mapping[str, Pattern] = MappingProxyType(
    {p.id: p for p in (ERCF2017, RESOLUTION_DISPERSION)}
)
"""The optional patterns by id (``followup(..., patterns="all")`` applies them all)."""


# --------------------------------------------------------------------------------------
# Measurement variability of a change
# --------------------------------------------------------------------------------------

_CHANGE_MEASURES: Mapping[str, tuple[str, str, str]] = MappingProxyType(
    {
        # segment measure -> (sites column of its CV, kind, prefix of the follow-up columns)
        "amp_drop_pct": ("amplitude_mv", "drop", "amp_drop"),
        "area_drop_pct": ("area_mvms", "drop", "area_drop"),
        "dur_change_pct": ("duration_ms", "change", "dur_change"),
    }
)

VARIABILITY_DEFINITION = (
    "Reliable change of a drop (Jacobson & Truax's reliable change index, applied to the "
    "logarithm of the proximal/distal ratio): each site's measurement varies by an "
    "independent log-normal factor with the test-retest coefficient of variation CV of "
    "ncs.compare (sigma^2 = ln(1 + CV^2)), so the log ratio of one study varies with "
    "variance 2 sigma^2 and its change between two studies with 4 sigma^2. A change is "
    "beyond measurement variability when |ln(R_after / R_before)| > z * 2 sigma "
    "(z = 1.96 at 95%), R = 1 - drop/100 (or 1 + change/100 for the duration change). "
    "In percentage points of the drop, changes within [100 R_before (1 - e^(2 z sigma)), "
    "100 R_before (1 - e^(-2 z sigma))] are within variability. Not from a guideline or an "
    "electrodiagnostic source: this library's application of a general statistic to the "
    "variability model of ncs.compare. Independent errors at the two sites overstate the "
    "variation of a ratio measured in one sitting (electrode placement, shared by both "
    "sites, cancels in the ratio), so the interval is wide: a change beyond it is unlikely "
    "to be measurement variation; one within it may still be real."
)
"""How :func:`reliable_change` decides, in words (also in ``FollowUp.meta``)."""

_JACOBSON_TRUAX = Citation(
    key="jacobson1991",
    text=(
        "Jacobson NS, Truax P. Clinical significance: a statistical approach to defining "
        "meaningful change in psychotherapy research. J Consult Clin Psychol 1991;59:12-19 "
        "(the reliable change index RC = (x2 - x1) / S_diff, S_diff = sqrt(2) SE, |RC| > "
        "1.96; read in a secondary reproduction only)."
    ),
    doi="10.1037/0022-006X.59.1.12",
)

_WHY_VARIABILITY = (
    "",
    "a drop unknown at a visit",
    "no response at the proximal site at a visit (the variability model is multiplicative: "
    "it says nothing about a response that is absent)",
    "no test-retest coefficient of variation for this measure",
)


def reliable_change(
    before_pct: np.ndarray,
    after_pct: np.ndarray,
    cv: float | None,
    *,
    kind: str = "drop",
    confidence: float = 0.95,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Whether the change of a segment's drop between two studies exceeds measurement
    variability, and the range of changes variability alone gives.

    Parameters
    ----------
    before_pct, after_pct : numpy.ndarray
        The segment's drop (``kind="drop"``, e.g. ``amp_drop_pct``) or signed change
        (``kind="change"``, ``dur_change_pct``) at the earlier and the later study. [%]
    cv : float or None
        Test-retest coefficient of variation of the site measurement (a fraction), as in
        :class:`ncs.compare.Variability`; None: not known.
    kind : {"drop", "change"}
        ``drop = 100 (1 - R)`` or ``change = 100 (R - 1)``, R the proximal/distal ratio.
    confidence : float, default 0.95
        Two-sided level of the interval.

    Returns
    -------
    low, high : numpy.ndarray
        The changes (after minus before, percentage points) measurement variability alone
        gives at ``confidence``, around the earlier value. NaN where not assessable.
    code : numpy.ndarray
        0 ``yes`` (the change is outside [low, high]), 1 ``no``, 2 ``not_assessable``
        (:data:`THREE_VALUED`).
    why : numpy.ndarray
        Why not assessable: 1 a drop unknown, 2 an absent proximal response at a visit
        (ratio 0), 3 no CV; 0 where assessable.

    Notes
    -----
    See :data:`VARIABILITY_DEFINITION`. With sigma^2 = ln(1 + CV^2) and k = 2 z sigma, a
    drop changes beyond variability when it leaves ``[100 R_b (1 - e^k), 100 R_b (1 -
    e^-k)]`` (a duration change: ``[100 R_b (e^-k - 1), 100 R_b (e^k - 1)]``). Values are
    snapped to :data:`ncs.measures.PCT_DECIMALS` decimals before they are compared.

    References
    ----------
    .. [1] Jacobson NS, Truax P. J Consult Clin Psychol 1991;59:12-19 (reliable change).
    .. [2] Kong X, Lesser EA, Gozani SN. Biomed Eng Online 2009;8:33 (the default CV).

    Examples
    --------
    >>> import numpy as np
    >>> low, high, code, why = reliable_change(np.array([64.6]), np.array([30.0]), 0.156)
    >>> np.round(low, 1).tolist(), np.round(high, 1).tolist(), code.tolist()
    ([-29.6], [16.1], [0])
    """
    before = np.asarray(before_pct, dtype=float)
    after = np.asarray(after_pct, dtype=float)
    sign = -1.0 if kind == "drop" else 1.0
    ratio_b = 1.0 + sign * before / 100.0
    ratio_a = 1.0 + sign * after / 100.0
    change = np.round(after - before, PCT_DECIMALS)
    why = np.zeros(before.shape, dtype=np.int8)
    unknown = np.isnan(before) | np.isnan(after)
    zero = ~unknown & ((ratio_b <= 0) | (ratio_a <= 0))
    same_zero = zero & (ratio_b <= 0) & (ratio_a <= 0) & (change == 0)
    why[unknown] = 1
    why[zero & ~same_zero] = 2
    if cv is None or not math.isfinite(cv):
        why[:] = np.where(why == 1, 1, 3)
        nan = np.full(before.shape, np.nan)
        return nan, nan.copy(), np.full(before.shape, _B_OPEN, dtype=np.int8), why
    k = 2.0 * z_value(confidence) * log_sigma(cv)
    up, down = math.expm1(k), math.expm1(-k)  # e^k - 1 > 0, e^-k - 1 < 0
    with np.errstate(invalid="ignore"):
        a = np.round(100.0 * ratio_b * sign * up, PCT_DECIMALS)
        b = np.round(100.0 * ratio_b * sign * down, PCT_DECIMALS)
    low, high = np.minimum(a, b), np.maximum(a, b)
    assessable = why == 0
    low = np.where(assessable, low, np.nan)
    high = np.where(assessable, high, np.nan)
    with np.errstate(invalid="ignore"):
        beyond = (change < low) | (change > high)
    code = np.where(assessable, np.where(beyond, _B_YES, _B_NO), _B_OPEN).astype(np.int8)
    return low, high, code, why


# --------------------------------------------------------------------------------------
# The result
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FollowUp:
    """Result of :func:`followup`: each patient's consecutive visits compared.

    Attributes
    ----------
    analysis : Analysis
        The analysis of every visit (:func:`ncs.analyze`): the findings each comparison
        reads, and everything a visit shows on its own.
    visits : pandas.DataFrame
        One row per (patient, visit) in visit order (:func:`ncs.schema.visit_table`).
    segments : pandas.DataFrame
        One row per (segment, consecutive visit pair, criterion): the segment keys
        (``patient_id, nerve, side, distal_site, proximal_site, comparison``),
        ``criterion``, ``visit_before``, ``visit_after`` (and their ``study_date_*``),
        ``studied`` (:data:`STUDIED`), ``block_before``, ``block_after``, ``transition``
        (:data:`TRANSITIONS`), ``dispersion_before``, ``dispersion_after``, each measure at
        both visits and its change (``amp_drop_change_pts``, ``area_drop_change_pts``,
        ``dur_change_change_pts``: after minus before, percentage points),
        ``beyond_variability`` (amplitude drop; ``area_beyond_variability``,
        ``dur_beyond_variability``) with the range variability alone gives
        (``*_change_low_pts``, ``*_change_high_pts``), the rows of ``analysis.segments``
        compared (``segment_before``, ``segment_after``; -1: not studied) and a
        ``sentence``. Segments studied at one visit of the pair only are listed with
        ``studied`` saying which and ``transition`` ``not_assessable``.
    nerves : pandas.DataFrame
        One row per (nerve, visit pair, criterion): ``studied``, the nerve's ``block`` at
        each visit (``block_before``, ``block_after``), its blocked segments at each visit,
        the number of segments per transition, those studied at one visit only, the
        nerve's distal latency and amplitude at each visit, its recording muscle at each
        visit (``muscle_before``, ``muscle_after``, when the sites have a ``muscle``
        column; a change is also said in the evidence and warned of), ``course``
        (:data:`COURSES`) and ``evidence``; the nerve patterns asked for (``ercf``).
    patients : pandas.DataFrame
        One row per (patient, visit pair, criterion): each visit's ``verdict``
        (``verdict_before``, ``verdict_after``), the counts of transitions, ``course`` and
        ``evidence``. A patient studied once has one row, ``visit_after`` missing and
        ``course`` ``not_assessable``.
    variability : Variability
        The variability model (:data:`ncs.compare.DEFAULT_VARIABILITY` unless given).
    patterns : tuple of Pattern
        The patterns applied.
    warnings : pandas.DataFrame
        The analysis' warnings and the follow-up's own (``visit_unmatched_muscle``,
        ``single_visit``), one row per warning and input row.
    meta : dict
        ``confidence``, the variability definition and its citation, versions.
    """

    analysis: Analysis
    visits: pd.DataFrame
    segments: pd.DataFrame
    nerves: pd.DataFrame
    patients: pd.DataFrame
    variability: Variability = DEFAULT_VARIABILITY
    patterns: tuple[Pattern, ...] = ()
    warnings: pd.DataFrame = field(default_factory=pd.DataFrame)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def criteria(self) -> tuple[Criterion, ...]:
        """The criteria applied (those of the analysis)."""
        return self.analysis.criteria

    def to_dict(self, *, analysis: bool = False) -> dict[str, Any]:
        """JSON-able dict (``followup.schema.json``); ``analysis=True`` adds the analysis'
        own ``to_dict()`` under ``"analysis"``."""
        out = {
            "schema_version": FOLLOWUP_SCHEMA_VERSION,
            "kind": "followup",
            "ncs_version": self.meta.get("ncs_version", __version__),
            "criteria": [c.to_dict() for c in self.criteria],
            "variability": _variability_dict(self.variability, self.meta),
            "patterns": [p.to_dict() for p in self.patterns],
            "visits": _records(self.visits),
            "patients": _records(self.patients),
            "nerves": _records(self.nerves),
            "segments": _records(self.segments),
            "warnings": _records(self.warnings),
            "rejected": _records(self.analysis.rejected),
            "provenance": json.loads(json.dumps(self.analysis.meta.get("provenance"), default=str)),
        }
        if analysis:
            out["analysis"] = self.analysis.to_dict()
        return out

    def to_json(self, *, indent: int | None = None, analysis: bool = False) -> str:
        """:meth:`to_dict` as JSON text (missing values are ``null``)."""
        return json.dumps(
            self.to_dict(analysis=analysis), indent=indent, ensure_ascii=False, allow_nan=False
        )

    def summary(self) -> str:
        """A few lines per patient and visit pair: each criterion's course and evidence."""
        lines = []
        p = self.patients
        for r in p.itertuples(index=False):
            head = f"patient {r.patient_id}: {r.visit_before}"
            if not pd.isna(r.visit_after):
                head += f" -> {r.visit_after}"
            lines.append(f"{head}  {r.criterion}: {r.course} - {getattr(r, 'evidence', '')}")
        return "\n".join(lines)

    def thresholds(self, measure: str = "amp_drop_pct") -> pd.DataFrame:
        """The criteria's thresholds on one segment measure (for the bands of a plot):
        ``criterion``, ``rule``, ``outcome``, ``op``, ``value``, ``nerve`` (None: every
        nerve; else a nerve override), ``verified``."""
        rows = []
        for c in self.criteria:
            for rule in (*getattr(c, "block", ()), *getattr(c, "dispersion_rules", ())):
                for t in rule.thresholds:
                    if t.measure != measure or t.of is not None:
                        continue
                    rows.append((c.id, rule.name, rule.outcome, t.op, t.value, None, t.verified))
                    for nerve, op, value in t.overrides:
                        rows.append((c.id, rule.name, rule.outcome, op, value, nerve, t.verified))
        return pd.DataFrame(
            rows, columns=["criterion", "rule", "outcome", "op", "value", "nerve", "verified"]
        )


def _variability_dict(v: Variability, meta: Mapping[str, Any]) -> dict[str, Any]:
    return {
        **v.to_dict(),
        "confidence": meta.get("confidence", 0.95),
        "definition": VARIABILITY_DEFINITION,
        "definition_citation": _JACOBSON_TRUAX.to_dict(),
    }


def json_schema() -> dict:
    """The JSON Schema (draft 2020-12) of :meth:`FollowUp.to_json` (package data)."""
    text = (resources.files("ncs") / "data" / "followup.schema.json").read_text(encoding="utf-8")
    return json.loads(text)


# --------------------------------------------------------------------------------------
# followup()
# --------------------------------------------------------------------------------------


def followup(
    sites: pd.DataFrame | Analysis,
    criteria: str | Criterion | Iterable[str | Criterion] | None = None,
    *,
    visits: Sequence[str] | None = None,
    variability: Variability | Mapping[str, float] | None = None,
    patterns: str | Iterable[str] | None = None,
    confidence: float = 0.95,
    **analyze_options: Any,
) -> FollowUp:
    """Compare each patient's consecutive visits, segment by segment, under each criterion.

    Parameters
    ----------
    sites : pandas.DataFrame or Analysis
        Tidy sites with a ``visit`` column (and ``study_date`` where known); or the
        :func:`ncs.analyze` result of such a table (made with its ``visits`` order).
    criteria : str, Criterion or iterable, optional
        As for :func:`ncs.analyze` (default :data:`ncs.DEFAULT_CRITERIA`).
    visits : sequence of str, optional
        The visit labels in their order, earliest first, for visits without
        ``study_date``. The order is never taken from the labels: without dates or this
        order a patient's visits cannot be compared (:class:`~ncs.ValidationError` naming
        the rows).
    variability : Variability or mapping, optional
        Test-retest coefficients of variation (:class:`ncs.compare.Variability`, or a
        mapping such as ``{"amplitude_mv": 0.1, "area_mvms": 0.12}``). Default
        :data:`ncs.compare.DEFAULT_VARIABILITY` (amplitude only; unverified, see its notes).
    patterns : "all" or iterable of str, optional
        Patterns of :data:`PATTERNS` to apply (``"ercf"``, ``"resolution_pattern"``);
        default none.
    confidence : float, default 0.95
        Level of the measurement-variability interval.
    **analyze_options
        Passed to :func:`ncs.analyze` (``units``, ``reference``, ``errors``, ``reasons``,
        ...). ``reasons=False`` leaves the sentences out here too (as does an analysis
        made with it).

    Returns
    -------
    FollowUp
        ``segments``, ``nerves``, ``patients`` (and ``to_dict``/``to_json``).

    Raises
    ------
    ValidationError
        Invalid input (as :func:`ncs.analyze`), no ``visit`` column, or a patient whose
        visit order is not known.

    Notes
    -----
    ``transition`` compares the criterion's block finding of the same segment (the same
    two sites, whether adjacent at both visits or not: a site added between them at one
    visit keeps them compared; ``comparison`` is the earlier visit's) at two consecutive
    visits. ``course`` of a nerve or patient
    reads its segments studied at both visits under the criterion: ``worsened`` when a
    block appeared or a persisting block's amplitude drop rose beyond measurement
    variability; ``improved`` when a block resolved or a persisting block's drop fell
    beyond variability, and no segment worsened or is not assessable; ``unchanged`` when no
    segment changed so (segments the rule excludes at a visit are neither); else
    ``not_assessable``. It is about conduction block only: each visit's verdict is beside
    it (``verdict_before``, ``verdict_after``).

    References
    ----------
    .. [1] Jacobson NS, Truax P. J Consult Clin Psychol 1991;59:12-19 (reliable change).
    .. [2] Electrodiagnosis of reversible conduction failure in Guillain-Barré syndrome.
       Muscle Nerve 2017;56:919-924 (the ``ercf`` pattern).

    Examples
    --------
    >>> import pandas as pd, ncs
    >>> def visit(label, date, proximal_mv, proximal_area):
    ...     return pd.DataFrame({"patient_id": "P1", "visit": label, "study_date": date,
    ...         "nerve": "ulnar", "side": "R", "site": ["wrist", "below elbow"],
    ...         "latency_ms": [3.0, 7.0], "amplitude_mv": [10.0, proximal_mv],
    ...         "area_mvms": [30.0, proximal_area], "duration_ms": [6.0, 6.3],
    ...         "distance_mm": [70, 220]})
    >>> sites = pd.concat([visit("baseline", "2024-01-10", 3.0, 9.0),
    ...                    visit("after IVIg", "2024-04-10", 9.0, 27.0)])
    >>> fu = ncs.followup(sites, "katz2002")
    >>> fu.segments[["block_before", "block_after", "transition", "amp_drop_change_pts"]]
      block_before block_after transition  amp_drop_change_pts
    0          yes          no   resolved                -60.0
    >>> fu.patients[["verdict_before", "verdict_after", "course"]].values.tolist()
    [['demyelinating', 'not_demyelinating', 'improved']]
    """
    variability = Variability.of(variability)
    chosen = _patterns(patterns)
    if not 0.5 <= confidence < 1:
        raise ValidationError([Problem(None, None, "confidence must be in [0.5, 1)")])
    if isinstance(sites, Analysis):
        if criteria is not None or analyze_options:
            raise ValueError("pass criteria and analysis options to ncs.analyze, not here")
        result = sites
        given = result.settings.get("visits")
        if visits is not None and given is not None and list(visits) != list(given):
            raise ValueError("the analysis was made with another visits order")
        # read back from JSON, or made without the visits order now given (its nerves are
        # then in no known visit order): analyse its sites again, in that order
        reorder = given is None and visits is not None
        visits = given if visits is None else visits
        if not result.engine_inputs or reorder:
            settings = {k: v for k, v in result.settings.items() if k != "visits"}
            result = analyze(result.sites, result.criteria, visits=visits, **settings)
    else:
        result = analyze(sites, criteria, visits=visits, **analyze_options)
    # sentences as the analysis has them (a lean analysis gives a lean follow-up)
    reasons = "reason" in result.findings.columns
    if "visit" not in result.sites.columns:
        raise ValidationError(
            [
                Problem(
                    None,
                    "visit",
                    "no visit column: a follow-up compares the visits of each patient "
                    "(give a visit label per row, and study_date or the visits order)",
                )
            ]
        )
    with collect_warnings() as records:
        studies = visit_table(result.sites, visits, require_order=True)
        build = _Build(result, variability, confidence, chosen, reasons)
        segments, nerves, patients = build.tables()
    own = warnings_table(records, result.sites)
    both = [t for t in (result.warnings, own) if len(t)]
    all_warnings = pd.concat(both, ignore_index=True) if both else own
    meta = {
        "ncs_version": __version__,
        "confidence": confidence,
        "variability_definition": VARIABILITY_DEFINITION,
        "criteria": [c.id for c in result.criteria],
        "patterns": [p.id for p in chosen],
    }
    return FollowUp(
        analysis=result,
        visits=studies,
        segments=segments,
        nerves=nerves,
        patients=patients,
        variability=variability,
        patterns=chosen,
        warnings=all_warnings,
        meta=meta,
    )


def _patterns(patterns: str | Iterable[str] | None) -> tuple[Pattern, ...]:
    if patterns is None:
        return ()
    ids = (
        list(PATTERNS)
        if patterns == "all"
        else [patterns]
        if isinstance(patterns, str)
        else list(patterns)
    )
    unknown = [p for p in ids if p not in PATTERNS]
    if unknown:
        raise ValidationError(
            [Problem(None, None, f"unknown pattern(s) {unknown}; known: {sorted(PATTERNS)}")]
        )
    return tuple(PATTERNS[p] for p in dict.fromkeys(ids))


# --------------------------------------------------------------------------------------
# Building the tables (vectorised over segments, nerves and patients)
# --------------------------------------------------------------------------------------


def _codes(values: pd.Series) -> tuple[np.ndarray, tuple[str, ...]]:
    c = categorical(values)
    return np.asarray(c.codes, dtype=np.int64), names_of(c)


def _changes(values: np.ndarray) -> np.ndarray:
    """Positions where a sorted code array changes (the first row is a change)."""
    out = np.ones(values.size, dtype=bool)
    if values.size > 1:
        out[1:] = values[1:] != values[:-1]
    return out


def _pairs(
    ident: np.ndarray,
    patient: np.ndarray,
    index: np.ndarray,
    n_visits: np.ndarray,
    offset: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows of a visit-pair table from units (segments or nerves) at each visit.

    ``ident`` says which units are the same across visits (dense ids), ``index`` is each
    unit's visit index within its patient. Returns, per row (one per unit identity and
    consecutive visit pair of its patient), the unit at the earlier and at the later visit
    (-1: not studied there) and the pair's global id.
    """
    last = n_visits[patient] - 1
    as_before = np.flatnonzero(index < last)
    as_after = np.flatnonzero(index >= 1)
    pair_b = offset[patient[as_before]] + index[as_before]
    pair_a = offset[patient[as_after]] + index[as_after] - 1
    n_ident = int(ident.max(initial=-1)) + 1
    key = np.concatenate([pair_b * n_ident + ident[as_before], pair_a * n_ident + ident[as_after]])
    unit = np.concatenate([as_before, as_after])
    side = np.concatenate([np.zeros(as_before.size, bool), np.ones(as_after.size, bool)])
    order = np.argsort(key, kind="stable")
    k = key[order]
    group = np.cumsum(_changes(k)) - 1
    n = int(group[-1]) + 1 if group.size else 0
    before = np.full(n, -1, dtype=np.int64)
    after = np.full(n, -1, dtype=np.int64)
    s = side[order]
    before[group[~s]] = unit[order][~s]
    after[group[s]] = unit[order][s]
    pair = np.zeros(n, dtype=np.int64)
    pair[group] = k // max(n_ident, 1)
    return before, after, pair


class _Build:
    """The follow-up tables of one analysis (the state the steps share).

    Studies (one visit of one patient) are numbered in the analysis' own order: patients
    by id, each patient's visits in visit order; the patients table of the analysis has one
    row per study and scheme in that order, the nerves table one row per nerve and scheme,
    nerves grouped by study. A visit pair is (patient, visit index k, k + 1).
    """

    def __init__(
        self,
        result: Analysis,
        variability: Variability,
        confidence: float,
        patterns: tuple[Pattern, ...],
        reasons: bool,
    ) -> None:
        self.result = result
        self.variability = variability
        self.confidence = confidence
        self.patterns = patterns
        self.reasons = reasons
        self.k = len(result.criteria)
        self._studies()

    # -- studies and visit pairs -----------------------------------------------------------

    def _studies(self) -> None:
        r, k = self.result, self.k
        n_nerves = len(r.nerves) // k if k else 0
        n_studies = len(r.patients) // k if k else 0
        first = r.nerves.iloc[:n_nerves]
        self.first = first
        # nerve -> study: a new study where the patient or the visit changes
        pcode = _codes(first["patient_id"])[0]
        vcode = _codes(first["visit"])[0]
        new_patient = _changes(pcode)
        new_study = new_patient | _changes(vcode)
        study = np.cumsum(new_study) - 1
        self.study_nerve = np.flatnonzero(new_study)  # first nerve of each study
        patient = np.cumsum(new_patient) - 1
        n_patients = int(patient[-1]) + 1 if n_nerves else 0
        study_of = np.zeros(n_patients, dtype=np.int64)  # each patient's first study
        study_of[patient[new_patient]] = study[new_patient]
        index = study - study_of[patient]
        n_visits = np.zeros(n_patients, dtype=np.int64)
        np.maximum.at(n_visits, patient, index + 1)
        self.nerve_patient, self.nerve_index = patient, index
        self.n_patients, self.n_visits, self.study_of = n_patients, n_visits, study_of
        # each study's labels, from the analysis' patients table (first scheme's rows)
        studies = r.patients.iloc[:n_studies]
        self.study_cols = {
            c: categorical(studies[c])
            for c in ("patient_id", "visit", "study_date")
            if c in studies.columns
        }
        n_pairs = np.maximum(n_visits - 1, 0)
        self.pair_offset = np.cumsum(n_pairs) - n_pairs
        self.n_pairs = int(n_pairs.sum())
        self.pair_patient = np.repeat(np.arange(n_patients), n_pairs)
        self.pair_index = np.arange(self.n_pairs) - self.pair_offset[self.pair_patient]
        self.single = np.flatnonzero(n_visits == 1)
        # nerve identities (patient, nerve, side) across visits
        codes = [patient, _codes(first["nerve"])[0], _codes(first["side"])[0]]
        self.nerve_ident = row_ids(codes)
        self.nerve_codes = codes

    def _study_columns(self, before: np.ndarray, after: np.ndarray) -> dict[str, Any]:
        """``patient_id``, ``visit_before``, ``visit_after`` (and the study dates) of rows
        given their earlier and later study (-1: none)."""
        cols = self.study_cols
        out: dict[str, Any] = {"patient_id": _take(cols["patient_id"], before)}
        out["visit_before"] = _take(cols["visit"], before)
        out["visit_after"] = _take(cols["visit"], after)
        if "study_date" in cols:
            out["study_date_before"] = _take(cols["study_date"], before)
            out["study_date_after"] = _take(cols["study_date"], after)
        return out

    def _pair_studies(self, pair: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        first = self.study_of[self.pair_patient[pair]] + self.pair_index[pair]
        return first, first + 1

    # -- the tables ------------------------------------------------------------------------

    def tables(self) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        nerve_rows = self._nerve_pairs()
        seg_rows = self._segment_pairs(nerve_rows)
        segments, state = self._segments(seg_rows)
        nerves = self._nerves(nerve_rows, seg_rows, state)
        patients = self._patients(seg_rows, state, nerve_rows)
        return segments, nerves, patients

    def _nerve_pairs(self) -> dict[str, np.ndarray]:
        before, after, pair = _pairs(
            self.nerve_ident,
            self.nerve_patient,
            self.nerve_index,
            self.n_visits,
            self.pair_offset,
        )
        rep = np.where(before >= 0, before, after)
        codes = self.nerve_codes
        order = np.lexsort((codes[2][rep], codes[1][rep], pair))
        rows = {"before": before[order], "after": after[order], "pair": pair[order]}
        rows["rep"] = rep[order]
        self._warn_muscle(rows)
        return rows

    def _segment_pairs(self, nerve_rows: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        seg = self.result.segments
        segment_nerve = np.asarray(self.result.engine_inputs["segment_nerve"], dtype=np.int64)
        patient = self.nerve_patient[segment_nerve]
        index = self.nerve_index[segment_nerve]
        # a segment is its two sites: the same two sites are compared across visits whether
        # they are adjacent at both or a site was added between them at one (inching turns
        # an adjacent pair into one against the most distal site); within a visit each pair
        # of sites is one segment (ncs.segments)
        codes = [self.nerve_ident[segment_nerve]]
        for col in ("distal_site", "proximal_site"):
            codes.append(_codes(seg[col])[0])
        ident = row_ids(codes)
        comparison = _codes(seg["comparison"])[0]
        before, after, pair = _pairs(ident, patient, index, self.n_visits, self.pair_offset)
        rep = np.where(before >= 0, before, after)
        nerve_of = self.nerve_ident[segment_nerve[rep]]
        n_ident = int(self.nerve_ident.max(initial=-1)) + 1
        # the row of the nerves table (one scheme) each segment row belongs to
        nerve_key = nerve_rows["pair"] * n_ident + self.nerve_ident[nerve_rows["rep"]]
        sort = np.argsort(nerve_key)
        at = np.searchsorted(nerve_key[sort], pair * n_ident + nerve_of)
        group = sort[np.minimum(at, max(sort.size - 1, 0))] if sort.size else at
        order = np.lexsort(
            (
                seg["proximal_site_order"].to_numpy(dtype=np.int64)[rep],
                seg["distal_site_order"].to_numpy(dtype=np.int64)[rep],
                comparison[rep],
                group,
            )
        )
        return {
            "before": before[order],
            "after": after[order],
            "pair": pair[order],
            "rep": rep[order],
            "group": group[order],
        }

    def _warn_muscle(self, rows: dict[str, np.ndarray]) -> None:
        """Warn where a nerve was recorded at another muscle at the later visit."""
        first = self.first
        if "muscle" not in first.columns:
            return
        both = (rows["before"] >= 0) & (rows["after"] >= 0)
        muscle = np.asarray(categorical(first["muscle"]).codes)
        b = muscle[np.maximum(rows["before"], 0)] if len(first) else muscle
        a = muscle[np.maximum(rows["after"], 0)] if len(first) else muscle
        other = both & (b >= 0) & (a >= 0) & (b != a)
        if not other.any():
            return
        first_row = np.asarray(self.result.engine_inputs["nerve_first_row"], dtype=np.int64)
        where = first_row[rows["after"][other]]
        warn(
            "followup_muscle_changed",
            f"{int(other.sum())} nerve(s) recorded at another muscle at the later visit "
            f"({', '.join(f'row {int(w)}' for w in where[:6])}): their segments are "
            "compared as recorded, but amplitudes of different muscles differ",
            where,
            "muscle",
            stacklevel=5,
        )

    # -- segments --------------------------------------------------------------------------

    def _segments(self, rows: dict[str, np.ndarray]) -> tuple[pd.DataFrame, dict[str, Any]]:
        r, k = self.result, self.k
        seg, findings = r.segments, r.findings
        n_seg = len(seg)
        before, after, rep, pair = rows["before"], rows["after"], rows["rep"], rows["pair"]
        n = before.size
        has_b, has_a = before >= 0, after >= 0
        studied = np.where(has_b & has_a, _BOTH, np.where(has_b, _BEFORE_ONLY, _AFTER_ONLY))
        block = np.asarray(findings["block"].array.codes, dtype=np.int8)
        disp = np.asarray(findings["dispersion"].array.codes, dtype=np.int8)
        b_block, a_block = (
            _per_criterion(block, before, n_seg, k),
            _per_criterion(block, after, n_seg, k),
        )
        b_disp, a_disp = (
            _per_criterion(disp, before, n_seg, k),
            _per_criterion(disp, after, n_seg, k),
        )
        transition = _transition(b_block, a_block)
        study_b, study_a = self._pair_studies(pair)
        cols = self._study_columns(study_b, study_a)
        data: dict[str, Any] = {"patient_id": _tile(cols.pop("patient_id"), k)}
        for col in ("nerve", "side", "distal_site", "proximal_site", "comparison"):
            data[col] = _tile(_take(categorical(seg[col]), rep), k)
        data["criterion"] = self._criterion_column(n)
        for key, values in cols.items():
            data[key] = _tile(values, k)
        data["studied"] = fixed(np.tile(studied, k), STUDIED)
        data["block_before"] = fixed(b_block, BLOCK_VALUES)
        data["block_after"] = fixed(a_block, BLOCK_VALUES)
        data["transition"] = fixed(transition, TRANSITIONS)
        data["dispersion_before"] = fixed(b_disp, DISPERSION_VALUES)
        data["dispersion_after"] = fixed(a_disp, DISPERSION_VALUES)
        measured = {}
        for measure, (cv_column, kind, prefix) in _CHANGE_MEASURES.items():
            values = seg[measure].to_numpy(dtype=float, na_value=np.nan)
            vb = _values_at(values, before)
            va = _values_at(values, after)
            change = np.round(va - vb, PCT_DECIMALS)
            low, high, code, why = reliable_change(
                vb, va, self.variability.cv.get(cv_column), kind=kind, confidence=self.confidence
            )
            measured[measure] = (vb, va, change, low, high, code, why)
            data[f"{prefix}_before_pct"] = np.tile(vb, k)
            data[f"{prefix}_after_pct"] = np.tile(va, k)
            data[f"{prefix}_change_pts"] = np.tile(change, k)
        for measure, (_, _, prefix) in _CHANGE_MEASURES.items():
            low, high, code = measured[measure][3:6]
            data[_BEYOND_COLUMNS[measure]] = fixed(np.tile(code, k), THREE_VALUED)
            data[f"{prefix}_change_low_pts"] = np.tile(low, k)
            data[f"{prefix}_change_high_pts"] = np.tile(high, k)
        if RESOLUTION_DISPERSION in self.patterns:
            data["resolution_pattern"] = fixed(_resolution(transition, a_disp), RESOLUTION_VALUES)
        data["segment_before"] = np.tile(before, k)
        data["segment_after"] = np.tile(after, k)
        amp = measured["amp_drop_pct"]
        state = {
            "n": n,
            "transition": transition,
            "b_block": b_block,
            "a_block": a_block,
            "amp_change": np.tile(amp[2], k),
            "amp_beyond": np.tile(amp[5], k),
            "studied": np.tile(studied, k),
        }
        state["class"] = _segment_class(state)
        if self.reasons:
            # one text column per criterion, kept as chunks of one pandas column (no copy)
            data["sentence"] = tx.to_pandas(tuple(self._segment_sentences(rows, state, measured)))
        return table(data, k * n), state

    def _criterion_column(self, n: int) -> pd.Categorical:
        ids = [c.id for c in self.result.criteria]
        return from_codes(np.repeat(np.arange(self.k), n), ids)

    def _segment_sentences(self, rows, state, measured) -> list[tx.Text]:
        """One sentence per (criterion, segment row), one text column per criterion. The text
        that does not depend on the criterion (the segment, the visits, the measures) is
        built once per segment row."""
        k, n = self.k, state["n"]
        seg = self.result.segments
        rep = rows["rep"]

        def codes_of(name: str) -> tuple[np.ndarray, list[str]]:
            values = _take(categorical(seg[name]), rep)
            return np.asarray(values.codes, dtype=np.int64), [*names_of(values), ""]

        # the segment's place: each distinct (nerve, side, sites, comparison) worded once
        (nerve, nerves), (side, sides), (dist, dists), (prox, proxs) = (
            codes_of(c) for c in ("nerve", "side", "distal_site", "proximal_site")
        )
        vs_distal = np.asarray(categorical(seg["comparison"]).codes)[rep] == _DISTAL
        place = tx.by_key(
            [nerve, side, dist, prox, vs_distal],
            lambda k: (
                f"{nerves[k[0]]} {sides[k[1]]} {dists[k[2]]} to {proxs[k[3]]}"
                + (" (vs most distal), " if k[4] else ", ")
            ),
        )
        study_b, study_a = self._pair_studies(rows["pair"])
        cols = self._study_columns(study_b, study_a)
        vb_codes = np.asarray(cols["visit_before"].codes, dtype=np.int64)
        va_codes = np.asarray(cols["visit_after"].codes, dtype=np.int64)
        vb_names = [*names_of(cols["visit_before"]), ""]
        va_names = [*names_of(cols["visit_after"]), ""]
        vb, va = _strings(cols["visit_before"]), _strings(cols["visit_after"])
        # the measures: each number written once per distinct value with the words around
        # it, few columns to join
        vbp, vap, change, low, high, code, why = measured["amp_drop_pct"]
        assessable = code != _B_OPEN
        lead = [
            "beyond measurement variability (",
            "within measurement variability (",
            *(f"variability not assessable: {w}" for w in _WHY_VARIABILITY),
        ]
        area_b, area_a, area_c = measured["area_drop_pct"][:3]
        dur_b, dur_a, dur_c = measured["dur_change_pct"][:3]
        no_area = np.isnan(area_b) & np.isnan(area_a)
        no_dur = np.isnan(dur_b) & np.isnan(dur_a)
        level = f" points at {self.confidence * 100:g}%)"
        # the change and its bounds with the decimals that keep a change beyond a bound from
        # reading as equal to it (-29.30 beyond -29.28, not -29.3 beyond -29.3)
        apart = np.maximum(tx.decimals_apart(change, low, 1), tx.decimals_apart(change, high, 1))
        measures = tx.join(
            _numbers(vbp, "; amplitude drop {}% -> ", unknown="; amplitude drop unknown -> "),
            _numbers(vap, "{}% (", unknown="unknown ("),
            _numbers(
                change, "{} points, ", signed=True, unknown="change unknown, ", decimals=apart
            ),
            tx.words(lead, np.where(assessable, code, 2 + why)),
            _numbers(
                low, "{} to ", signed=True, unknown="unknown to ", blank=~assessable, decimals=apart
            ),
            _numbers(
                high,
                "{}" + level + ")",
                signed=True,
                unknown="unknown" + level + ")",
                blank=~assessable,
                blank_text=")",
                decimals=apart,
            ),
            _numbers(
                area_b, "; area drop {}% -> ", unknown="; area drop unknown -> ", blank=no_area
            ),
            _numbers(area_a, "{}% (", unknown="unknown (", blank=no_area),
            _numbers(area_c, "{} points)", signed=True, unknown="change unknown)", blank=no_area),
            _numbers(
                dur_b,
                "; duration change {}% -> ",
                signed=True,
                unknown="; duration change unknown -> ",
                blank=no_dur,
            ),
            _numbers(dur_a, "{}% (", signed=True, unknown="unknown (", blank=no_dur),
            _numbers(dur_c, "{} points)", signed=True, unknown="change unknown)", blank=no_dur),
        )
        # per criterion: the transition with both visits' findings
        t, bb, ab = state["transition"], state["b_block"], state["a_block"]
        case = (t.astype(np.int64) * 6 + np.where(bb < 0, 5, bb)) * 6 + np.where(ab < 0, 5, ab)
        cases = np.arange(5 * 6 * 6)
        first_part = [
            f"{_TRANSITION_WORDS[TRANSITIONS[c // 36]]} ({_BLOCK_WORDS[(c // 6) % 6]} at "
            for c in cases.tolist()
        ]
        second_part = [f", {_BLOCK_WORDS[c % 6]} at " for c in cases.tolist()]
        crit_words = [f"{c.id}: " for c in self.result.criteria]
        studied = state["studied"]
        one_visit = studied[:n] != _BOTH
        open_all = (t == _OPEN) & (studied == _BOTH)
        why_open = self._why_open(np.flatnonzero(open_all), rows, state) if open_all.any() else None
        done = 0
        parts = []
        for c in range(k):  # one join per criterion: the shared columns are read, not copied
            here = slice(c * n, (c + 1) * n)
            open_rows = np.flatnonzero(open_all[here])
            suffix: tx.Text | str = ""
            if open_rows.size:
                text = tx.take(why_open, np.arange(done, done + open_rows.size))
                done += open_rows.size
                rest = np.flatnonzero(~open_all[here])
                suffix = tx.assemble(
                    [(open_rows, tx.join(". ", text)), (rest, tx.empty(rest.size))], n
                )
            # the criterion, the transition and both visits' findings: each distinct
            # (case, visit before, visit after) worded once
            transition = tx.by_key(
                [case[here], vb_codes, va_codes],
                lambda key, c=c: (
                    f"{crit_words[c]}{first_part[key[0]]}{vb_names[key[1]]}"
                    f"{second_part[key[0]]}{va_names[key[2]]})"
                ),
            )
            out = tx.join(place, transition, measures, suffix)
            one = np.flatnonzero(one_visit)
            if one.size:
                out = tx.scatter(out, one, self._one_visit(c, one, place, vb, va, state, vbp, vap))
            parts.append(out)
        return parts

    def _one_visit(self, c, one, place, vb, va, state, vbp, vap) -> tx.Text:
        """Sentences of segments studied at one visit of the pair (rows ``one`` of criterion
        ``c``): listed, not compared."""
        n = state["n"]
        at = c * n + one
        only_b = state["studied"][at] == _BEFORE_ONLY
        bb, ab = state["b_block"][at], state["a_block"][at]
        vb_one, va_one = tx.take(vb, one), tx.take(va, one)
        visit = tx.where(only_b, vb_one, va_one)
        other = tx.where(only_b, va_one, vb_one)
        grade = tx.words(_BLOCK_WORDS, np.where(only_b, np.where(bb < 0, 5, bb), ab))
        drop = tx.where(only_b, _pct(vbp[one]), _pct(vap[one]))
        return tx.join(
            tx.take(place, one),
            f"{self.result.criteria[c].id}: ",
            "studied at ",
            visit,
            " only, not at ",
            other,
            ": not compared (",
            grade,
            " at ",
            visit,
            ", amplitude drop ",
            drop,
            ")",
        )

    def _why_open(self, open_rows: np.ndarray, rows, state) -> tx.Text:
        """For comparisons not assessable: which visit was not assessable or not
        applicable, with that visit's finding sentence."""
        n = state["n"]
        n_seg = len(self.result.segments)
        crit, row = open_rows // n, open_rows % n
        bb, ab = state["b_block"][open_rows], state["a_block"][open_rows]
        open_codes = (_NOT_ASSESSABLE, _NOT_APPLICABLE)
        use_before = np.isin(bb, open_codes)
        seg = np.where(use_before, rows["before"][row], rows["after"][row])
        reasons = _finding_reasons(self.result, crit * n_seg + seg)
        study_b, study_a = self._pair_studies(rows["pair"][row])
        cols = self._study_columns(study_b, study_a)
        visit = tx.where(use_before, _strings(cols["visit_before"]), _strings(cols["visit_after"]))
        what = tx.where(
            np.where(use_before, bb, ab) == _NOT_APPLICABLE, "not applicable", "not assessable"
        )
        also = tx.where(
            use_before & np.isin(ab, open_codes),
            tx.join(
                " (",
                tx.where(ab == _NOT_APPLICABLE, "not applicable", "not assessable"),
                " at ",
                _strings(cols["visit_after"]),
                " too)",
            ),
            "",
        )
        return tx.join("The block is ", what, " at ", visit, also, ": ", reasons)

    # -- nerves ----------------------------------------------------------------------------

    def _nerves(self, nerve_rows, seg_rows, state) -> pd.DataFrame:
        r, k = self.result, self.k
        nv, first = r.nerves, self.first
        n_nerves = len(first)
        before, after, rep, pair = (nerve_rows[x] for x in ("before", "after", "rep", "pair"))
        m = before.size
        has_b, has_a = before >= 0, after >= 0
        studied = np.where(has_b & has_a, _BOTH, np.where(has_b, _BEFORE_ONLY, _AFTER_ONLY))
        study_b, study_a = self._pair_studies(pair)
        cols = self._study_columns(study_b, study_a)
        data: dict[str, Any] = {"patient_id": _tile(cols.pop("patient_id"), k)}
        for col in ("nerve", "side"):
            data[col] = _tile(_take(categorical(first[col]), rep), k)
        data["criterion"] = self._criterion_column(m)
        for key, values in cols.items():
            data[key] = _tile(values, k)
        data["studied"] = fixed(np.tile(studied, k), STUDIED)
        block = np.asarray(nv["block"].array.codes, dtype=np.int8)
        data["block_before"] = fixed(_per_criterion(block, before, n_nerves, k), BLOCK_VALUES)
        data["block_after"] = fixed(_per_criterion(block, after, n_nerves, k), BLOCK_VALUES)
        n_block = nv["n_block_segments"].to_numpy(dtype=np.int64)
        for which, name in ((before, "before"), (after, "after")):
            values = _per_criterion(n_block, which, n_nerves, k)
            data[f"n_block_segments_{name}"] = pd.arrays.IntegerArray(
                np.maximum(values, 0), np.tile(which < 0, k)
            )
        counts = _transition_counts(state, seg_rows["group"], m, self.k)
        data.update(counts)
        for col, name in (
            ("dml_ms", "dml_{}_ms"),
            ("distal_amplitude_mv", "distal_amplitude_{}_mv"),
        ):
            values = first[col].to_numpy(dtype=float, na_value=np.nan)
            data[name.format("before")] = np.tile(_values_at(values, before), k)
            data[name.format("after")] = np.tile(_values_at(values, after), k)
        if "muscle" in first.columns:  # the recording muscle at each visit (a change warns)
            muscle = categorical(first["muscle"])
            for which, name in ((before, "before"), (after, "after")):
                codes = np.where(which >= 0, np.asarray(muscle.codes)[np.maximum(which, 0)], -1)
                data[f"muscle_{name}"] = from_codes(np.tile(codes, k), names_of(muscle))
        group = _by_criterion(seg_rows["group"], state["n"], m, k)
        course, deciding = _course(state["class"], group, k * m)
        no_pair = np.tile(studied != _BOTH, k)
        course = np.where(no_pair, _COURSE_OPEN, course).astype(np.int8)
        data["course"] = fixed(course, COURSES)
        if ERCF2017 in self.patterns:
            data["ercf"] = fixed(self._ercf(nerve_rows, seg_rows, state, m), THREE_VALUED)
        if self.reasons:
            data["evidence"] = _text_column(
                self._evidence(data, course, deciding, state, seg_rows, counts, no_pair, "nerve")
            )
        return table(data, k * m)

    def _ercf(self, nerve_rows, seg_rows, state, m: int) -> np.ndarray:
        """Early reversible conduction failure per (criterion, nerve row), codes into
        :data:`THREE_VALUED` (see :data:`ERCF2017`)."""
        k, first, seg = self.k, self.first, self.result.segments
        before, after = nerve_rows["before"], nerve_rows["after"]
        both = (before >= 0) & (after >= 0)
        amp = first["distal_amplitude_mv"].to_numpy(dtype=float, na_value=np.nan)
        dml = first["dml_ms"].to_numpy(dtype=float, na_value=np.nan)
        # (i) the distal CMAP amplitude rises by at least 50 %
        rise = percent_change(_values_at(amp, before), _values_at(amp, after))
        part_i = truth(rise, ERCF_AMPLITUDE_RISE.op, ERCF_AMPLITUDE_RISE.value)
        dml_shorter = truth(_difference(_values_at(dml, before), _values_at(dml, after)), "<", 0.0)
        # (ii) a resolved block with a shorter latency or duration or a faster velocity
        sb, sa = seg_rows["before"], seg_rows["after"]
        cv = seg["cv_m_s"].to_numpy(dtype=float, na_value=np.nan)
        dur = seg["proximal_duration_ms"].to_numpy(dtype=float, na_value=np.nan)
        faster = truth(_difference(_values_at(cv, sb), _values_at(cv, sa)), ">", 0.0)
        shorter = truth(_difference(_values_at(dur, sb), _values_at(dur, sa)), "<", 0.0)
        accompanied = np.maximum(np.maximum(faster, shorter), dml_shorter[seg_rows["group"]])
        t = state["transition"]
        bb, ab = state["b_block"], state["a_block"]
        could = (
            (t == _OPEN)
            & np.isin(bb, (_YES, _PROBABLE, _NOT_ASSESSABLE))
            & np.isin(ab, (_NO, _NOT_ASSESSABLE))
        )
        resolved = np.where(t == _RESOLVED, TRUE, np.where(could, UNKNOWN, FALSE)).astype(np.int8)
        seg_ii = np.minimum(resolved, np.tile(accompanied, k))
        group = _by_criterion(seg_rows["group"], state["n"], m, k)
        part_ii = np.full(k * m, FALSE, dtype=np.int8)
        np.maximum.at(part_ii, group, seg_ii)
        code = np.maximum(np.tile(part_i, k), part_ii)
        code = np.where(np.tile(both, k), code, UNKNOWN)
        return np.select([code == TRUE, code == FALSE], [_B_YES, _B_NO], _B_OPEN).astype(np.int8)

    # -- patients --------------------------------------------------------------------------

    def _patients(self, seg_rows, state, nerve_rows) -> pd.DataFrame:
        r, k = self.result, self.k
        single = self.single
        # rows: every visit pair, and every patient studied once, by patient then pair
        patient = np.concatenate([self.pair_patient, single])
        index = np.concatenate([self.pair_index, np.zeros(single.size, np.int64)])
        order = np.lexsort((index, patient))
        m = order.size
        study_b = np.concatenate(
            [self.study_of[self.pair_patient] + self.pair_index, self.study_of[single]]
        )[order]
        study_a = np.concatenate(
            [self.study_of[self.pair_patient] + self.pair_index + 1, np.full(single.size, -1)]
        )[order]
        rank = np.empty(m, dtype=np.int64)
        rank[order] = np.arange(m)  # row of each pair (pairs come first in `patient`)
        cols = self._study_columns(study_b, study_a)
        data: dict[str, Any] = {"patient_id": _tile(cols.pop("patient_id"), k)}
        data["criterion"] = self._criterion_column(m)
        for key, values in cols.items():
            data[key] = _tile(values, k)
        if "study_date" in self.study_cols:
            data["days_between"] = _days_between(
                data["study_date_before"], data["study_date_after"]
            )
        n_studies = len(r.patients) // k if k else 0
        verdict = categorical(r.patients["verdict"])
        vcodes = np.asarray(verdict.codes, dtype=np.int64)
        data["verdict_before"] = from_codes(
            _per_criterion(vcodes, study_b, n_studies, k), verdict.dtype
        )
        data["verdict_after"] = from_codes(
            _per_criterion(vcodes, study_a, n_studies, k), verdict.dtype
        )
        seg_group = rank[seg_rows["pair"]]
        counts = _transition_counts(state, seg_group, m, k)
        data.update(counts)
        nerve_group = rank[nerve_rows["pair"]]
        has_b, has_a = nerve_rows["before"] >= 0, nerve_rows["after"] >= 0
        for mask, name in (
            (has_b & has_a, "n_nerves_compared"),
            (has_b & ~has_a, "n_nerves_before_only"),
            (has_a & ~has_b, "n_nerves_after_only"),
        ):
            data[name] = np.tile(
                np.bincount(nerve_group, weights=mask, minlength=m).astype(np.int64), k
            )
        group = _by_criterion(seg_group, state["n"], m, k)
        course, deciding = _course(state["class"], group, k * m)
        one_visit = np.tile(study_a < 0, k)
        course = np.where(one_visit, _COURSE_OPEN, course).astype(np.int8)
        data["course"] = fixed(course, COURSES)
        if self.reasons:
            data["evidence"] = _text_column(
                self._evidence(
                    data, course, deciding, state, seg_rows, counts, one_visit, "patient"
                )
            )
        if single.size:
            first_row = np.asarray(r.engine_inputs["nerve_first_row"], dtype=np.int64)
            rows = first_row[self.study_nerve[self.study_of[single]]]
            warn(
                "followup_single_visit",
                f"{single.size} patient(s) studied at one visit only: nothing to compare "
                f"({', '.join(f'row {int(w)}' for w in rows[:6])})",
                rows,
                "visit",
                stacklevel=5,
            )
        return table(data, k * m)

    # -- evidence --------------------------------------------------------------------------

    def _evidence(self, data, course, deciding, state, seg_rows, counts, no_pair, level):
        """``"<course>: <what> in <segment> [counts]"`` per nerve or patient row."""
        seg = self.result.segments
        n = state["n"]
        has = deciding >= 0
        pick = np.where(has, deciding, 0)
        row = pick % n if n else pick
        rep = seg_rows["rep"][row] if n else np.zeros(pick.size, np.int64)
        t = state["transition"][pick] if n else np.zeros(pick.size, np.int8)
        change = state["amp_change"][pick] if n else np.zeros(pick.size)

        def labels_of(col: str) -> tx.Text:
            if not n:
                return tx.empty(pick.size)
            return _strings(_take(categorical(seg[col]), rep))

        place = tx.join(labels_of("distal_site"), " to ", labels_of("proximal_site"))
        if level == "patient":
            place = tx.join(labels_of("nerve"), " ", labels_of("side"), " ", place)
        bb = state["b_block"][pick] if n else np.full(pick.size, -1, np.int8)
        ab = state["a_block"][pick] if n else np.full(pick.size, -1, np.int8)
        visits = tx.join(
            tx.words(_BLOCK_WORDS, np.where(bb < 0, 5, bb)),
            " at ",
            _strings(data["visit_before"]),
            ", ",
            tx.words(_BLOCK_WORDS, np.where(ab < 0, 5, ab)),
            " at ",
            _strings(data["visit_after"]),
        )
        what = tx.where(
            t == _PERSISTING,
            tx.join(
                "block persisting with the amplitude drop ",
                tx.number(change, 1, signed=True),
                " points (beyond measurement variability)",
            ),
            tx.where(
                t == _OPEN,
                tx.join("comparison not assessable (", visits, ")"),
                tx.words([_TRANSITION_WORDS[x] for x in TRANSITIONS], t),
            ),
        )
        words = tx.words(_COURSE_WORDS, course)
        lead = tx.where(has, tx.join(words, ": ", what, " in ", place), words)
        names = (
            "n_new_block",
            "n_resolved",
            "n_persisting",
            "n_no_block",
            "n_not_assessable",
            "n_segments_before_only",
            "n_segments_after_only",
        )
        vb_cat, va_cat = data["visit_before"], data["visit_after"]
        vb_names, va_names = (*names_of(vb_cat), ""), (*names_of(va_cat), "")
        tallies = tx.by_key(
            [*(counts[c] for c in names), np.asarray(vb_cat.codes), np.asarray(va_cat.codes)],
            lambda key: _tallies(vb_names, va_names, *key),
        )
        if level == "nerve":
            only_b = np.asarray(data["studied"].codes) == _BEFORE_ONLY
            visit = tx.where(only_b, _strings(data["visit_before"]), _strings(data["visit_after"]))
            single = tx.join("not assessable: the nerve was studied at ", visit, " only")
        else:
            single = tx.join(
                "not assessable: one visit only (", _strings(data["visit_before"]), ")"
            )
        out = tx.where(no_pair, single, tx.join(lead, tallies))
        if level == "nerve" and "muscle_before" in data:
            mb, ma = data["muscle_before"], data["muscle_after"]
            b, a = np.asarray(mb.codes, dtype=np.int64), np.asarray(ma.codes, dtype=np.int64)
            b_names, a_names = names_of(mb), names_of(ma)
            union = {n: i for i, n in enumerate(sorted({*b_names, *a_names}))}
            b_ids = np.array([union[n] for n in b_names] + [-1], dtype=np.int64)[b]
            a_ids = np.array([union[n] for n in a_names] + [-2], dtype=np.int64)[a]
            changed = (b >= 0) & (a >= 0) & (b_ids != a_ids)  # codes, not row by row
            if changed.any():  # few rows: a nerve recorded at another muscle at the later visit
                note = tx.by_key(
                    [np.where(changed, b, -1), np.where(changed, a, -1)],
                    lambda key: (
                        f" (recorded at {b_names[key[0]]}, then at {a_names[key[1]]}: "
                        "amplitudes of different muscles differ)"
                        if key[0] >= 0
                        else ""
                    ),
                )
                out = tx.join(out, note)
        return out


# --------------------------------------------------------------------------------------
# Kernels
# --------------------------------------------------------------------------------------


def _transition(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Transition codes (:data:`TRANSITIONS`) from block codes at two visits (-1: not
    studied)."""
    blocked_b = (before == _YES) | (before == _PROBABLE)
    blocked_a = (after == _YES) | (after == _PROBABLE)
    clear_b, clear_a = before == _NO, after == _NO
    return np.select(
        [clear_b & blocked_a, blocked_b & clear_a, blocked_b & blocked_a, clear_b & clear_a],
        [_NEW, _RESOLVED, _PERSISTING, _NO_BLOCK],
        _OPEN,
    ).astype(np.int8)


_WORSE, _BETTER, _SAME, _UNKNOWN, _EXCLUDED, _NOT_COMPARED = range(6)


def _segment_class(state: Mapping[str, np.ndarray]) -> np.ndarray:
    """What each (criterion, segment row) says about the course: worse, better, same,
    unknown, excluded by the rule at a visit, or not compared (studied at one visit)."""
    t, bb, ab = state["transition"], state["b_block"], state["a_block"]
    change, beyond = state["amp_change"], state["amp_beyond"]
    # excluded: the rule set the segment aside at a visit and found no block at the other
    # (a block at one visit beside an exclusion at the other is a change nobody can judge)
    neither_block = ((bb == _NO) | (bb == _NOT_APPLICABLE)) & (
        (ab == _NO) | (ab == _NOT_APPLICABLE)
    )
    excluded = ((bb == _NOT_APPLICABLE) | (ab == _NOT_APPLICABLE)) & neither_block
    persisting = t == _PERSISTING
    return np.select(
        [
            state["studied"] != _BOTH,
            t == _NEW,
            persisting & (beyond == _B_YES) & (change > 0),
            t == _RESOLVED,
            persisting & (beyond == _B_YES) & (change < 0),
            (t == _NO_BLOCK) | (persisting & (beyond == _B_NO)),
            excluded & (t == _OPEN),
        ],
        [_NOT_COMPARED, _WORSE, _WORSE, _BETTER, _BETTER, _SAME, _EXCLUDED],
        _UNKNOWN,
    ).astype(np.int8)


def _course(seg_class: np.ndarray, group: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Course per group from its segments' classes (Kleene: a known worsening suffices;
    improvement needs no worsening and nothing unknown), and the segment row that decided
    (first worse, first better, first unknown; -1 none)."""
    counts = np.bincount(seg_class.astype(np.int64) * n + group, minlength=6 * n).reshape(6, n)
    worse, better, unknown = counts[_WORSE], counts[_BETTER], counts[_UNKNOWN]
    compared = counts[:_NOT_COMPARED].sum(axis=0)
    course = np.select(
        [worse > 0, (better > 0) & (unknown == 0), (unknown == 0) & (compared > 0)],
        [_WORSENED, _IMPROVED, _UNCHANGED],
        _COURSE_OPEN,
    ).astype(np.int8)
    want = np.select(
        [course == _WORSENED, course == _IMPROVED, course == _COURSE_OPEN],
        [_WORSE, _BETTER, _UNKNOWN],
        -1,
    )
    deciding = np.full(n, -1, dtype=np.int64)
    hit = np.flatnonzero(seg_class == want[group])
    if hit.size:
        g = group[hit]
        first = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(first, g, hit)
        found = first < np.iinfo(np.int64).max
        deciding[found] = first[found]
    return course, deciding


def _transition_counts(state, group: np.ndarray, m: int, k: int) -> dict[str, np.ndarray]:
    """Per (criterion, group) row: segments per transition (studied at both visits) and
    segments studied at one visit only."""
    n = state["n"]
    g = np.tile(group, k) + np.repeat(np.arange(k), n) * m
    t = state["transition"].astype(np.int64)
    studied = state["studied"]
    both = studied == _BOTH
    out = {}
    for code, name in (
        (_NEW, "n_new_block"),
        (_RESOLVED, "n_resolved"),
        (_PERSISTING, "n_persisting"),
        (_NO_BLOCK, "n_no_block"),
        (_OPEN, "n_not_assessable"),
    ):
        out[name] = np.bincount(g, weights=both & (t == code), minlength=k * m).astype(np.int64)
    out["n_segments_before_only"] = np.bincount(
        g, weights=studied == _BEFORE_ONLY, minlength=k * m
    ).astype(np.int64)
    out["n_segments_after_only"] = np.bincount(
        g, weights=studied == _AFTER_ONLY, minlength=k * m
    ).astype(np.int64)
    return out


def _resolution(transition: np.ndarray, after_disp: np.ndarray) -> np.ndarray:
    """``resolution_pattern`` codes: resolved rows by the dispersion finding at the later
    visit; -1 (missing) elsewhere."""
    return np.where(
        transition != _RESOLVED,
        -1,
        np.select(
            [after_disp == _D_NO, after_disp == _D_YES, after_disp == _D_NOT_ASSESSABLE],
            [0, 1, 2],
            3,
        ),
    ).astype(np.int8)


def _finding_reasons(result: Analysis, finding_rows: np.ndarray) -> tx.Text:
    """The analysis' finding sentences of some findings rows (rendered if left out)."""
    f = result.findings
    rows = np.asarray(finding_rows, dtype=np.int64)
    if "reason" in f.columns:
        column = f["reason"].array
        if tx.HAS_ARROW and rows.size > tx.SMALL and hasattr(column, "__arrow_array__"):
            import pyarrow as pa

            chunks = pa.chunked_array(column.__arrow_array__())
            # chunk by chunk: pyarrow's take on a chunked array may join the chunks first
            picked = tx.take(chunks.cast(pa.large_string()), rows)
            return picked.fill_null("")
        return tx.from_objects(f["reason"].iloc[rows].to_numpy(dtype=object, na_value=""))
    text = render_reasons(result, f.iloc[rows])
    return tx.from_objects(text.to_numpy(dtype=object, na_value=""))


_COURSE_WORDS = (
    "improved",
    "worsened",
    "unchanged: no block appeared or resolved, and no persisting block's amplitude drop "
    "changed beyond measurement variability",
    "not assessable",
)
_BLOCK_WORDS = ("block", "probable block", "no block", "block not assessable", "not applicable", "")
_DISTAL = 1  # code of "distal" in the segments' comparison (adjacent, distal)
_BEYOND_COLUMNS = MappingProxyType(
    {
        "amp_drop_pct": "beyond_variability",
        "area_drop_pct": "area_beyond_variability",
        "dur_change_pct": "dur_beyond_variability",
    }
)


def _per_criterion(values: np.ndarray, which: np.ndarray, n_units: int, k: int) -> np.ndarray:
    """Per (criterion, row): ``values`` of unit ``which`` in criterion-major tables of
    ``n_units`` units per criterion; -1 where ``which`` is -1."""
    if not n_units:
        return np.full(k * which.size, -1, dtype=values.dtype)
    pos = (np.arange(k)[:, None] * n_units + np.maximum(which, 0)[None, :]).reshape(-1)
    return np.where(np.tile(which >= 0, k), values[pos], -1).astype(values.dtype)


def _difference(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """``after - before`` snapped to :data:`ncs.measures.PCT_DECIMALS` decimals: a velocity
    computed from two latency differences is not "faster" by 1e-14 m/s."""
    return np.round(after - before, PCT_DECIMALS)


def _values_at(values: np.ndarray, which: np.ndarray) -> np.ndarray:
    """``values[which]``, NaN where ``which`` is -1."""
    if not values.size:
        return np.full(which.size, np.nan)
    return np.where(which >= 0, values[np.maximum(which, 0)], np.nan)


def _by_criterion(group: np.ndarray, n: int, m: int, k: int) -> np.ndarray:
    """Group ids per (criterion, row) of criterion-major rows: ``c * m + group``."""
    return np.tile(group, k) + np.repeat(np.arange(k, dtype=np.int64) * m, n)


def _take(values: pd.Categorical, rows: np.ndarray) -> pd.Categorical:
    """Rows of a categorical (-1: missing)."""
    codes = np.asarray(values.codes, dtype=np.int64)
    picked = np.where(rows >= 0, codes[np.maximum(rows, 0)], -1) if codes.size else rows
    return from_codes(picked, values.dtype)


def _days_between(before: pd.Categorical, after: pd.Categorical) -> np.ndarray:
    """Days from each ``before`` date to its ``after`` date (ISO dates; NaN where either is
    missing). Each distinct date is parsed once."""

    def days(dates: pd.Categorical) -> np.ndarray:
        parsed = pd.to_datetime(pd.Index(list(names_of(dates)), dtype=object), format="ISO8601")
        epoch_days = (parsed.to_numpy(dtype="datetime64[D]").astype(np.int64)).astype(float)
        return np.append(epoch_days, np.nan)[np.asarray(dates.codes, dtype=np.int64)]

    return days(after) - days(before)


def _tile(values: pd.Categorical, k: int) -> pd.Categorical:
    return from_codes(np.tile(np.asarray(values.codes), k), values.dtype)


def _tallies(vb_names, va_names, new, res, per, no, na, bo, ao, b, a) -> str:
    """The counts of a nerve's or patient's transitions, in words."""
    return (
        f" [{new} new, {res} resolved, {per} persisting, {no} without block, {na} not "
        f"assessable; {bo} segment(s) studied at {vb_names[b]} only, {ao} at "
        f"{va_names[a]} only]"
    )


def _numbers(
    values: np.ndarray,
    pattern: str,
    *,
    signed: bool = False,
    unknown: str = "unknown",
    blank: np.ndarray | None = None,
    blank_text: str = "",
    decimals: np.ndarray | int = 1,
) -> tx.Text:
    """Numbers with one decimal (or ``decimals``, per value) in ``pattern`` (``"{}%"``),
    ``unknown`` where NaN and ``blank_text`` where ``blank``: each distinct value written
    once, with its words (:func:`ncs._text.number_table`)."""
    table, index = tx.number_table(values, decimals, signed=signed)
    table = [unknown if t == "unknown" else pattern.format(t) for t in table]
    if blank is not None:
        index = np.where(blank, len(table), index)
        table.append(blank_text)
    return tx.words(table, index)


def _pct(values: np.ndarray, *, signed: bool = False) -> tx.Text:
    """``"64.6%"`` (``"+9.3%"`` when signed), ``"unknown"`` where NaN."""
    known = ~np.isnan(values)
    return tx.where(known, tx.join(tx.number(values, 1, signed=signed), "%"), "unknown")


def _strings(values: pd.Categorical) -> tx.Text:
    """A categorical as text (missing -> "")."""
    names = names_of(values)
    codes = np.asarray(values.codes, dtype=np.int64)
    return tx.words([*names, ""], np.where(codes < 0, len(names), codes))


def _text_column(values: tx.Text):
    return tx.to_pandas(values)
