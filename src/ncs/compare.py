"""Criteria compared on the same segments: side by side, agreement, accuracy, margins, robustness.

:func:`compare` runs :func:`ncs.analyze` (or takes its result) and returns a
:class:`Comparison` with

* wide tables (one row per segment, nerve and patient, one column per scheme) with the
  discordant rows flagged and a sentence on why the schemes differ;
* pairwise agreement (contingency tables, percent agreement, Cohen's kappa with a 95 %
  confidence interval) at segment, nerve and patient level;
* sensitivity, specificity, PPV and NPV with Wilson intervals against a reference diagnosis;
* margins: every threshold's distance from its value, in percentage points and in the
  measure's own unit ("would flip at 5.74 mV proximal");
* robustness: the probability that each verdict holds when the site measurements vary with a
  given coefficient of variation (seeded, vectorised Monte Carlo).

Everything is derived from the criteria's :class:`~ncs.criteria.Threshold` data, never from
criterion-specific code, so user-defined criteria are compared the same way.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from statistics import NormalDist
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from ncs import _text as tx
from ncs.analyze import FINDING_KEYS, Analysis, _records, analyze
from ncs.criteria import (
    BLOCK_VALUES,
    DISPERSION_VALUES,
    Citation,
    Criterion,
    SegmentRule,
    Threshold,
)
from ncs.engine import (
    NO,
    NOT_APPLICABLE,
    NOT_ASSESSABLE,
    PROBABLE,
    YES,
    RuleOutcome,
    SegmentJudgement,
    category_codes,
    item_codes,
    judge,
    patient_verdicts,
    segment_items,
    threshold_bounds,
    threshold_truth,
    threshold_values,
)
from ncs.errors import ValidationError, warn
from ncs.explain import format_number, threshold_words
from ncs.labels import MEASURE_LABELS
from ncs.measures import FALSE, TRUE, UNKNOWN, percent_change, percent_drop
from ncs.schema import nerve_keys, patient_keys
from ncs.segments import segment_keys
from ncs.summary import nerve_context

__all__ = [
    "CLASSES",
    "DEFAULT_VARIABILITY",
    "KONG2009",
    "Comparison",
    "Variability",
    "cohens_kappa",
    "compare",
    "wilson_interval",
]

CLASSES: tuple[str, ...] = ("positive", "negative", "not_applicable", "not_assessable")
"""Categories every scheme's segment and nerve findings are mapped to for agreement:
``not_applicable`` where the scheme's rule excludes the segment, ``not_assessable`` where the
data do not tell (patients use ``positive``, ``negative``, ``indeterminate``)."""

_PATIENT_CLASSES: tuple[str, ...] = ("positive", "negative", "indeterminate")

SEGMENT_KEYS = FINDING_KEYS

# --------------------------------------------------------------------------------------
# Measurement variability
# --------------------------------------------------------------------------------------

#: How each segment measure is rebuilt from the site values (for margins and simulation):
#: measure -> (sites column, distal segment column, proximal segment column, kind, unit).
_MEASURE_SOURCES: Mapping[str, tuple[str, str, str, str, str]] = MappingProxyType(
    {
        "amp_drop_pct": (
            "amplitude_mv",
            "distal_amplitude_mv",
            "proximal_amplitude_mv",
            "drop",
            "mV",
        ),
        "area_drop_pct": ("area_mvms", "distal_area_mvms", "proximal_area_mvms", "drop", "mV·ms"),
        "dur_change_pct": (
            "duration_ms",
            "distal_duration_ms",
            "proximal_duration_ms",
            "change",
            "ms",
        ),
    }
)
_SITE_MEASURES = tuple(v[0] for v in _MEASURE_SOURCES.values())

_KONG2009 = Citation(
    key="kong2009",
    text=(
        "Kong X, Lesser EA, Gozani SN. Repeatability of nerve conduction measurements derived "
        "entirely by computer methods. Biomed Eng Online 2009;8:33."
    ),
    doi="10.1186/1475-925X-8-33",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Variability:
    """Coefficients of variation of the site measurements, with their source.

    Attributes
    ----------
    cv : mapping of str to float
        Coefficient of variation (a fraction: 0.156 = 15.6 %) per sites-table column
        (``amplitude_mv``, ``area_mvms``, ``duration_ms``). A column not named is held fixed.
    citation : Citation or None
        Where the numbers were read.
    verified : bool
        True when every number was read in the cited text.
    notes : str
        What the numbers are and how they are used.
    """

    cv: Mapping[str, float]
    citation: Citation | None = None
    verified: bool = False
    notes: str = ""

    def __post_init__(self) -> None:
        bad = {k: v for k, v in self.cv.items() if not (math.isfinite(v) and v >= 0)}
        if bad:
            raise ValueError(f"coefficients of variation must be finite and >= 0, got {bad}")
        unknown = set(self.cv) - set(_SITE_MEASURES)
        if unknown:
            raise ValueError(
                f"no variability model for {sorted(unknown)}; known: {sorted(_SITE_MEASURES)}"
            )
        object.__setattr__(self, "cv", MappingProxyType(dict(self.cv)))

    def sigma(self, column: str) -> float | None:
        """The log-scale standard deviation of one measurement of ``column``:
        ``sqrt(ln(1 + CV^2))`` (a log-normal error with that coefficient of variation), or
        None for a column held fixed. The robustness draws and the follow-up's
        measurement-variability interval both read it."""
        cv = self.cv.get(column)
        return None if cv is None else log_sigma(cv)

    @classmethod
    def of(cls, value: Variability | Mapping[str, float] | None) -> Variability:
        """A variability from what a caller passes: None (:data:`DEFAULT_VARIABILITY`), a
        :class:`Variability`, or a mapping of column to CV (a ``ValidationError`` if it is
        not one)."""
        if value is None:
            return DEFAULT_VARIABILITY
        if isinstance(value, Variability):
            return value
        try:
            return cls(cv=dict(value), notes="given by the caller")
        except (TypeError, ValueError) as err:  # checked like the input
            raise ValidationError([(None, None, f"variability: {err}")]) from None

    def to_dict(self) -> dict[str, Any]:
        return {
            "cv": dict(self.cv),
            "citation": None if self.citation is None else self.citation.to_dict(),
            "verified": self.verified,
            "notes": self.notes,
        }


KONG2009 = Variability(
    cv={"amplitude_mv": 0.156},
    citation=_KONG2009,
    verified=False,
    notes=(
        "Not verified as a CMAP-amplitude value: 0.156 is read in Kong et al. 2009 (abstract, "
        "Results): 'Amplitude parameters have a higher "
        "between-session-test CoVs in the range of 15.6--19.8%' (29 subjects, median, ulnar, "
        "deep peroneal and posterior tibial motor nerves and sensory nerves, two sessions 3-7 "
        "days apart). That range covers CMAP and SNAP amplitudes together; the per-nerve CMAP "
        "values in the paper's tables were not read. 0.156, the lower end, is applied to CMAP "
        "amplitude at every site. Between-session variation includes re-placing the "
        "electrodes, so it overstates the variation between two stimulation sites of one "
        "recording; the same abstract says "
        "between-test CoVs within a session are 30-80% lower. No published coefficient of "
        "variation for CMAP negative-peak area or duration was found, so area and duration are "
        "held fixed unless you pass cv={'area_mvms': ..., 'duration_ms': ...}."
    ),
)
"""Default variability: CMAP amplitude CV from Kong et al. 2009 (area and duration fixed)."""

DEFAULT_VARIABILITY = KONG2009


ROBUSTNESS_LABELS: tuple[str, ...] = (
    "robust_yes",
    "robust_no",
    "robust_not_applicable",
    "borderline",
    "not_assessable",
)
"""Values of the ``robustness`` columns."""

# --------------------------------------------------------------------------------------
# Pure statistics
# --------------------------------------------------------------------------------------


def log_sigma(cv: float) -> float:
    """The standard deviation on the log scale of a log-normal measurement error whose
    coefficient of variation is ``cv``: ``sqrt(ln(1 + cv^2))``."""
    return math.sqrt(math.log1p(cv * cv))


def z_value(confidence: float) -> float:
    """The standard normal quantile of a two-sided interval at ``confidence`` (1.96 at
    0.95): the one place the intervals of this module and of the follow-up take it."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def cohens_kappa(table: Any, confidence: float = 0.95) -> tuple[float, float, float, float]:
    """Cohen's kappa of a square contingency table, its standard error and confidence interval.

    Parameters
    ----------
    table : array_like of shape (k, k)
        Counts: rows are the first rater's categories, columns the second's (same order).
    confidence : float, default 0.95
        Coverage of the interval.

    Returns
    -------
    kappa, se, ci_low, ci_high : float
        NaN when undefined (no observations, or both raters put everything in one category).

    Notes
    -----
    ``kappa = (p_o - p_e) / (1 - p_e)`` with ``p_o = sum_i p_ii`` and
    ``p_e = sum_i p_i. p_.i`` (Cohen 1960). The standard error is the large-sample
    (non-null) one of Fleiss, Cohen and Everitt (1969), eq. 13:

    ``var = [A + B - C] / (n (1 - p_e)^2)``, with
    ``A = sum_i p_ii [1 - (p_i. + p_.i)(1 - kappa)]^2``,
    ``B = (1 - kappa)^2 sum_{i != j} p_ij (p_.i + p_j.)^2``,
    ``C = [kappa - p_e (1 - kappa)]^2``;

    the interval is ``kappa +/- z se`` (Wald), not clipped to [-1, 1].

    References
    ----------
    .. [1] Cohen J. A coefficient of agreement for nominal scales. Educ Psychol Meas
       1960;20:37-46.
    .. [2] Fleiss JL, Cohen J, Everitt BS. Large sample standard errors of kappa and weighted
       kappa. Psychol Bull 1969;72(5):323-327. doi:10.1037/h0028106

    Examples
    --------
    >>> k, se, lo, hi = cohens_kappa([[20, 5], [10, 15]])
    >>> round(k, 3)
    0.4
    """
    t = np.asarray(table, dtype=float)
    if t.ndim != 2 or t.shape[0] != t.shape[1]:
        raise ValueError(f"a square table is needed, got shape {t.shape}")
    if (t < 0).any() or not np.isfinite(t).all():
        raise ValueError("counts must be finite and non-negative")
    n = t.sum()
    nan = (math.nan, math.nan, math.nan, math.nan)
    if n == 0:
        return nan
    p = t / n
    rows = p.sum(axis=1)
    cols = p.sum(axis=0)
    po = float(np.trace(p))
    pe = float(rows @ cols)
    if math.isclose(pe, 1.0):
        return nan
    kappa = (po - pe) / (1 - pe)
    diag = np.diag(p)
    a = float(np.sum(diag * (1 - (rows + cols) * (1 - kappa)) ** 2))
    off = ~np.eye(len(p), dtype=bool)
    weights = (cols[:, None] + rows[None, :]) ** 2  # (p_.i + p_j.)^2 for cell (i, j)
    b = (1 - kappa) ** 2 * float(np.sum(p[off] * weights[off]))
    c = (kappa - pe * (1 - kappa)) ** 2
    var = max(a + b - c, 0.0) / (n * (1 - pe) ** 2)
    se = math.sqrt(var)
    z = z_value(confidence)
    return kappa, se, kappa - z * se, kappa + z * se


def wilson_interval(successes: Any, n: Any, confidence: float = 0.95) -> tuple[Any, Any]:
    """Wilson score interval of a binomial proportion.

    Parameters
    ----------
    successes, n : int or array_like of int
        Number of successes and of trials (NaN interval where ``n`` is 0).
    confidence : float, default 0.95

    Returns
    -------
    low, high : float or numpy.ndarray

    Notes
    -----
    ``(p + z^2/2n -/+ z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n)`` with ``p = successes / n``
    (Wilson 1927; recommended over the Wald interval by Newcombe 1998).

    References
    ----------
    .. [1] Wilson EB. Probable inference, the law of succession, and statistical inference.
       J Am Stat Assoc 1927;22:209-212.
    .. [2] Newcombe RG. Two-sided confidence intervals for the single proportion: comparison of
       seven methods. Stat Med 1998;17:857-872.

    Examples
    --------
    >>> lo, hi = wilson_interval(8, 10)
    >>> round(lo, 4), round(hi, 4)
    (0.4902, 0.9433)
    """
    s = np.asarray(successes, dtype=float)
    m = np.asarray(n, dtype=float)
    if np.any(s < 0) or np.any(s > m):
        raise ValueError("need 0 <= successes <= n")
    z = z_value(confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = s / m
        denom = 1 + z**2 / m
        centre = (p + z**2 / (2 * m)) / denom
        half = z * np.sqrt(p * (1 - p) / m + z**2 / (4 * m**2)) / denom
    low = np.where(m > 0, centre - half, np.nan)
    high = np.where(m > 0, centre + half, np.nan)
    if low.ndim == 0:
        return float(low), float(high)
    return low, high


# --------------------------------------------------------------------------------------
# The engine's outcomes as agreement classes
# --------------------------------------------------------------------------------------


def _rules(crit: Criterion) -> list[tuple[str, int, SegmentRule]]:
    """(kind, index, rule) for every rule of a criterion: block rules, then dispersion."""
    out = [("block", i, r) for i, r in enumerate(crit.block)]
    out += [("dispersion", i, r) for i, r in enumerate(crit.dispersion_rules)]
    return out


def _segment_class(code: np.ndarray) -> np.ndarray:
    """Outcome code -> index in :data:`CLASSES`."""
    return np.select([code >= PROBABLE, code == NO, code == NOT_APPLICABLE], [0, 1, 2], 3).astype(
        np.int8
    )


def _measures_of(segments: pd.DataFrame, crits: Iterable[Criterion]) -> dict[str, np.ndarray]:
    """The raw segment measures the criteria's thresholds read."""
    names = {t.measure for c in crits for _, _, r in _rules(c) for t in r.thresholds}
    return {m: segments[m].to_numpy(dtype=float, na_value=np.nan) for m in names}


# --------------------------------------------------------------------------------------
# Patient verdict classes
# --------------------------------------------------------------------------------------


def verdict_classes(crit: Criterion, verdicts: np.ndarray) -> np.ndarray:
    """Each patient verdict as an index into (positive, negative, indeterminate).

    The criterion's ``verdicts`` name its positive, negative and indeterminate labels. A
    criterion may carry a ``verdict_classes`` mapping (label -> class) for richer
    vocabularies; without one, any other label (a graded positive such as ``probable``) is
    positive.
    """
    mapping = getattr(crit, "verdict_classes", None)
    v = np.asarray(verdicts, dtype=object)
    if mapping:
        lut = {k: _PATIENT_CLASSES.index(c) for k, c in mapping.items()}
        return pd.Series(v, dtype=object).map(lut).fillna(2).to_numpy(dtype=np.int8)
    _, negative, indeterminate = crit.verdicts[:3]
    return np.select([v == negative, v == indeterminate], [1, 2], 0).astype(np.int8)


# --------------------------------------------------------------------------------------
# The result
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    """Result of :func:`compare`.

    Attributes
    ----------
    analysis : Analysis
        The analysis the comparison was made on.
    segments : pandas.DataFrame
        One row per segment: keys, measures, ``block_<id>`` and ``dispersion_<id>`` per
        scheme, ``discordant`` (block classes differ) and ``why`` (a sentence where they do).
    nerves : pandas.DataFrame
        One row per nerve: keys, ``block_<id>`` per scheme, ``discordant``, ``why`` (how many
        segments differ and the first one's sentence).
    patients : pandas.DataFrame
        One row per patient: ``verdict_<id>`` (each scheme's own label), ``class_<id>``
        (positive/negative/indeterminate), ``discordant``, ``why``, and ``diagnosis`` when
        given.
    agreement : pandas.DataFrame
        One row per (level, scheme pair, categories): counts, percent agreement, Cohen's
        kappa, its standard error and confidence interval.
    contingency : pandas.DataFrame
        The contingency tables in long form: (level, pair, categories, category_a,
        category_b, count).
    accuracy : pandas.DataFrame
        Per scheme against the reference diagnosis (empty without one).
    margins : pandas.DataFrame
        One row per (segment, scheme, threshold): the value, the threshold, the signed
        margin in percentage points and the proximal value at which the test would flip.
    robustness : pandas.DataFrame
        One row per (segment, scheme): block, nearest decisive margin, probability that the
        block finding holds under measurement variability, and its label.
    patient_robustness : pandas.DataFrame
        One row per (patient, scheme): verdict class, probability that it holds, label.
    meta : dict
        Variability used (with its citation), draws, seed, confidence, robust level.
    """

    analysis: Analysis
    segments: pd.DataFrame
    nerves: pd.DataFrame
    patients: pd.DataFrame
    agreement: pd.DataFrame
    contingency: pd.DataFrame
    accuracy: pd.DataFrame
    margins: pd.DataFrame
    robustness: pd.DataFrame
    patient_robustness: pd.DataFrame
    meta: dict[str, Any] = field(default_factory=dict)

    def table(
        self, scheme_a: str, scheme_b: str, level: str = "segment", categories: str = "all"
    ) -> pd.DataFrame:
        """One contingency table as a square DataFrame (rows: ``scheme_a``)."""
        c = self.contingency
        sel = c[
            (c["level"] == level)
            & (c["scheme_a"] == scheme_a)
            & (c["scheme_b"] == scheme_b)
            & (c["categories"] == categories)
        ]
        if sel.empty:
            raise KeyError(f"no table for {scheme_a} x {scheme_b} at {level} ({categories})")
        out = sel.pivot(index="category_a", columns="category_b", values="count")
        order_a = list(dict.fromkeys(sel["category_a"]))
        order_b = list(dict.fromkeys(sel["category_b"]))
        out = out.loc[order_a, order_b]
        out.index.name = scheme_a
        out.columns.name = scheme_b
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict of the tables (missing values as ``None``).

        ``margins`` (one row per segment, scheme and threshold) is left out for size; write it
        with ``comparison.margins.to_csv(...)``.
        """
        return {
            "meta": self.meta,
            "agreement": _records(self.agreement.astype({"n_agree": object})),
            "contingency": _records(self.contingency),
            "accuracy": _records(self.accuracy),
            "segments": _records(self.segments),
            "nerves": _records(self.nerves),
            "patients": _records(self.patients),
            "robustness": _records(self.robustness),
            "patient_robustness": _records(self.patient_robustness),
        }

    def summary(self) -> str:
        """The agreement tables as text, one block per level and scheme pair."""
        return render_agreement(self)


# --------------------------------------------------------------------------------------
# compare()
# --------------------------------------------------------------------------------------


def compare(
    sites_or_analysis: pd.DataFrame | Analysis,
    criteria: str | Criterion | Iterable[str | Criterion] | None = None,
    *,
    diagnosis: str | pd.Series | pd.DataFrame | None = None,
    positive: Iterable[Any] | None = None,
    cv: Mapping[str, float] | Variability | None = None,
    n_draws: int = 1000,
    seed: int = 0,
    robust_level: float = 0.95,
    confidence: float = 0.95,
    units: Mapping[str, str] | None = None,
) -> Comparison:
    """Judge the same segments under several criteria and compare the verdicts.

    Parameters
    ----------
    sites_or_analysis : pandas.DataFrame or Analysis
        A tidy sites table (analysed here) or the result of :func:`ncs.analyze`.
    criteria : str, Criterion or iterable of them, optional
        Schemes to compare (default: :data:`ncs.DEFAULT_CRITERIA`, Katz 2002 and Bouche
        1995). With an
        ``Analysis``, a subset of its criteria (default: all of them).
    diagnosis : str, pandas.Series or pandas.DataFrame, optional
        The reference diagnosis per patient: the name of a sites-table column (constant per
        patient), a Series indexed by ``patient_id``, or a DataFrame with ``patient_id`` and
        ``diagnosis``. Default: the sites table's ``diagnosis`` column when there is one.
    positive : str, scalar or iterable of them, optional
        Diagnosis values that count as positive (all other known values are negative): one
        value (``positive="MMN"``) or several (``positive=["MMN", "CIDP"]``), compared as
        text, case and surrounding blanks ignored (a whole number written ``1.0`` is ``1``).
        A warning says when none of them occurs among the diagnoses. Default: the diagnosis
        must be boolean-like (``True``/``False``, ``1``/``0`` (also ``1.0``/``0.0``, what a
        column with a blank cell reads as), ``yes``/``no``, ``positive``/``negative``). A
        missing diagnosis (blank, None, NaN) is unknown: the patient is left out of the
        accuracy (``n_no_diagnosis``).
    cv : mapping or Variability, optional
        Coefficient of variation (fraction) per sites column (``amplitude_mv``, ``area_mvms``,
        ``duration_ms``). Default :data:`DEFAULT_VARIABILITY` (Kong et al. 2009, amplitude
        only). ``{}`` switches the simulation off.
    n_draws : int, default 1000
        Monte Carlo draws per segment, at least 1.
    seed : int, default 0
        Seed of the random generator, 0 or more; the same inputs and seed give the same
        result.
    robust_level : float, default 0.95
        A finding is ``robust_yes`` / ``robust_no`` when it holds in at least this share of
        the draws, ``borderline`` otherwise; from 0.5 to 1 (below one half, a finding and
        its opposite could both be "robust").
    confidence : float, default 0.95
        Coverage of the kappa and Wilson intervals, strictly between 0 and 1.
    units : mapping, optional
        Input units, as for :func:`ncs.analyze`.

    Returns
    -------
    Comparison

    Raises
    ------
    ValidationError
        Bad sites table; a diagnosis that varies within a patient or is not boolean-like;
        an option out of its range or of the wrong type (each problem names the option);
        criteria named twice or none; with an ``Analysis``, a criterion it did not apply.
    UnknownCriteriaError
        A criterion id that is neither built in nor (with an ``Analysis``) applied in it.

    Notes
    -----
    Agreement categories are ``positive`` (block yes or probable; patient: the scheme's
    positive verdict), ``negative`` and ``not_assessable`` (patients: ``indeterminate``).
    Kappa is reported with the third category kept (``categories="all"``) and with the units
    either scheme could not assess excluded (``"assessable"``); at patient level also on the
    schemes' own labels (``"raw"``; kappa only where both use the same labels).

    Robustness: each site's amplitude, area and duration are multiplied by independent
    log-normal factors with mean 1 and the given CV (``sigma^2 = ln(1 + cv^2)``), the segment
    percentages are recomputed from the perturbed sites (a site shared by two segments moves
    both), and every criterion is re-applied from its thresholds. The share of draws giving
    the same block class (segments) or verdict class (patients) is ``p_holds``.

    References
    ----------
    .. [1] Fleiss JL, Cohen J, Everitt BS. Psychol Bull 1969;72:323-327.
    .. [2] Wilson EB. J Am Stat Assoc 1927;22:209-212.
    .. [3] Kong X, Lesser EA, Gozani SN. Biomed Eng Online 2009;8:33.

    Examples
    --------
    >>> import ncs
    >>> from ncs.cli import demo_path
    >>> c = ncs.compare(ncs.read_sites(demo_path()), n_draws=200)
    >>> c.patients[["verdict_katz2002", "verdict_bouche1995"]].values.tolist()
    [['demyelinating', 'conduction_block']]
    """
    _check_options(
        n_draws=n_draws,
        seed=seed,
        robust_level=robust_level,
        confidence=confidence,
        diagnosis=diagnosis,
    )
    positive = _positive_labels(positive)
    variability = Variability.of(cv)
    if isinstance(sites_or_analysis, Analysis):
        result = sites_or_analysis
        crits = result.criteria if criteria is None else _applied(result, criteria)
    else:
        result = analyze(sites_or_analysis, criteria, units=units)
        crits = result.criteria

    seg = result.segments
    n_seg = len(seg)
    measures = _measures_of(seg, crits)
    distal_absent = (seg["distal_response"] == "absent").to_numpy(dtype=bool, na_value=False)
    # one engine: the analysis' findings are the engine's outcomes on these segments, and the
    # margins and the simulation ask the same engine what-if questions
    judged = {c.id: judge(c, seg) for c in crits}
    base = {k: (j.block_code, j.disp_code) for k, j in judged.items()}

    wide_segments = _wide_segments(seg, crits, base, measures, distal_absent)
    wide_nerves = _wide_nerves(result, crits)
    diagnosis = _diagnosis(result, diagnosis, positive)
    wide_patients = _wide_patients(result, crits, diagnosis)
    keys = seg.columns  # with visits, every key has visit after patient_id
    wide_nerves["why"] = _why_of_groups(wide_segments, wide_nerves, list(nerve_keys(keys)))
    wide_patients["why"] = _why_of_groups(wide_segments, wide_patients, list(patient_keys(keys)))

    agreement, contingency = _agreement(
        crits, wide_segments, wide_nerves, wide_patients, confidence
    )
    accuracy = _accuracy(crits, wide_patients, confidence) if diagnosis is not None else None
    margins, margin_parts = _margins(seg, crits, measures, distal_absent, judged)
    robustness, patient_robustness = _robustness(
        result,
        crits,
        judged,
        margin_parts,
        variability,
        n_draws,
        seed,
        robust_level,
    )
    meta = {
        "criteria": [c.id for c in crits],
        "variability": variability.to_dict(),
        "n_draws": n_draws,
        "seed": seed,
        "robust_level": robust_level,
        "confidence": confidence,
        "kappa_se": "Fleiss, Cohen & Everitt 1969 large-sample standard error",
        "proportion_ci": "Wilson score interval",
        "n_segments": n_seg,
    }
    return Comparison(
        analysis=result,
        segments=wide_segments,
        nerves=wide_nerves,
        patients=wide_patients,
        agreement=agreement,
        contingency=contingency,
        accuracy=accuracy if accuracy is not None else _empty_accuracy(),
        margins=margins,
        robustness=robustness,
        patient_robustness=patient_robustness,
        meta=meta,
    )


#: Where ``robust_level`` may lie (both ends included): below one half, a finding and its
#: opposite could both hold in "at least this share" of the draws.
ROBUST_LEVEL_RANGE: tuple[float, float] = (0.5, 1.0)


def _whole(value: object) -> bool:
    """An int (numpy's too), never a bool."""
    return isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)


def _real(value: object) -> float | None:
    """A finite int or float (numpy's too) as a float, else None (bools and text too)."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | float | np.number):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _check_options(
    *, n_draws: object, seed: object, robust_level: object, confidence: object, diagnosis: object
) -> None:
    """compare's keyword arguments checked like the input, before anything is computed: a
    ValidationError with one problem per option, naming it."""
    problems = []
    if not _whole(n_draws) or n_draws < 1:  # type: ignore[operator]
        problems.append((None, "n_draws", f"n_draws must be a whole number >= 1, got {n_draws!r}"))
    if not _whole(seed) or seed < 0:  # type: ignore[operator]
        problems.append((None, "seed", f"seed must be a whole number >= 0, got {seed!r}"))
    low, high = ROBUST_LEVEL_RANGE
    level = _real(robust_level)
    if level is None or not low <= level <= high:
        problems.append(
            (
                None,
                "robust_level",
                f"robust_level must be a number from {low:g} to {high:g}, got {robust_level!r}",
            )
        )
    coverage = _real(confidence)
    if coverage is None or not 0 < coverage < 1:
        problems.append(
            (
                None,
                "confidence",
                f"confidence must be a number strictly between 0 and 1, got {confidence!r}",
            )
        )
    if diagnosis is not None and not isinstance(diagnosis, str | pd.Series | pd.DataFrame):
        problems.append(
            (
                None,
                "diagnosis",
                "diagnosis must be a column name, a Series indexed by patient_id or a "
                f"DataFrame with patient_id and diagnosis, got {type(diagnosis).__name__}",
            )
        )
    if problems:
        raise ValidationError(problems)


def _positive_labels(positive: object) -> dict[str, str] | None:
    """The diagnosis values counted as positive, as compared (:func:`_value_text`, lower
    case) and as given: one value (a string is one label, never its letters) or several;
    None: the diagnosis is boolean-like."""
    if positive is None:
        return None
    if isinstance(positive, str | bytes) or not isinstance(positive, Iterable):
        values = [positive]
    else:
        values = list(positive)
    missing = [v for v in values if _is_missing(v)]
    if not values or missing:
        what = "names no value" if not values else "holds a missing value"
        raise ValidationError(
            [
                (
                    None,
                    "positive",
                    f"positive {what}: give the diagnosis value (or values) that count as "
                    "positive, e.g. positive='MMN'",
                )
            ]
        )
    return {_value_text(v).lower(): _value_text(v) for v in values}


def _is_missing(value: object) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # a list or array: not one missing value
        return False


def _value_text(value: object) -> str:
    """A diagnosis value as text, stripped: a whole number is written without decimals
    (``1.0`` -> ``"1"``: a numeric column with a blank cell is read as floats)."""
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    if (
        isinstance(value, float | np.floating)
        and math.isfinite(value)
        and float(value) == int(value)
    ):
        return str(int(value))
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace").strip()
    return str(value).strip()


def _texts(values: pd.Series) -> np.ndarray:
    """:func:`_value_text` of every value of a Series without missing values (each distinct
    value converted once)."""
    codes, uniques = pd.factorize(values.astype(object), use_na_sentinel=True)
    table = np.array([_value_text(u) for u in uniques] + [""], dtype=object)
    return table[codes]


def _applied(result: Analysis, criteria) -> tuple[Criterion, ...]:
    """The criteria of an analysis a caller names (its own ids, variants included, first)."""
    from ncs.registry import resolve

    have = {c.id: c for c in result.criteria}
    wanted = resolve(criteria, known=have)
    missing = [c.id for c in wanted if c.id not in have]
    if missing:
        raise ValidationError(
            [
                (
                    None,
                    "criteria",
                    f"{', '.join(missing)} {'was' if len(missing) == 1 else 'were'} not applied "
                    f"in this analysis (it applied {', '.join(have)}): compare a subset of "
                    "them, or pass the sites table to compare",
                )
            ]
        )
    return tuple(have[c.id] for c in wanted)


def _categorical(codes: np.ndarray, categories: tuple[str, ...]) -> pd.Categorical:
    return pd.Categorical.from_codes(np.asarray(codes, dtype=np.int8), categories=list(categories))


# ---------------------------------------------------------------- wide tables and why


_OP_WORDS = {">": "over", ">=": "at least", "<": "under", "<=": "at most"}


def _cat(*parts) -> np.ndarray:
    """Element-wise concatenation of text (object arrays, text columns, plain strings), by
    the text kit (:func:`ncs._text.join`), as an object array."""
    texts = [tx.from_objects(p) if isinstance(p, np.ndarray) else p for p in parts]
    return tx.to_numpy(tx.join(*texts))


def _value_phrase(measure: str, values: np.ndarray) -> np.ndarray:
    """E.g. "amplitude fell 42.0%", "duration +9.0%", "area unknown" (object array)."""
    label = MEASURE_LABELS.get(measure, measure)
    unit = "%" if measure.endswith("_pct") else ""
    if measure.endswith("_drop_pct"):
        verb = np.where(values < 0, " rose ", " fell ").astype(object)
        text = _cat(label, verb, format_number(np.abs(values)), unit)
    else:
        text = _cat(f"{label} ", format_number(values, signed=True), unit)
    return np.where(np.isnan(values), f"{label} unknown", text).astype(object)


def _threshold_words(t: Threshold) -> str:
    unit = "%" if t.measure.endswith("_pct") else ""
    change = "|change| " if t.absolute else ""
    return f"{change}{_OP_WORDS[t.op]} {t.value:g}{unit}"


def _decisive(
    crit: Criterion, seg: pd.DataFrame, j: SegmentJudgement
) -> dict[tuple[str, int, int], np.ndarray]:
    """Per threshold: does flipping its (known) result alone change the outcome? Asked of
    the engine itself (:func:`ncs.engine.judge` with ``flip``)."""
    out = {}
    for kind, i, rule in _rules(crit):
        base = j.block_code if kind == "block" else j.disp_code
        for k in range(len(rule.thresholds)):
            flipped = judge(crit, seg, flip=(kind, i, k))
            code = flipped.block_code if kind == "block" else flipped.disp_code
            out[(kind, i, k)] = code != base
    return out


def _why(
    crits: tuple[Criterion, ...],
    seg: pd.DataFrame,
    measures: Mapping[str, np.ndarray],
    base: Mapping[str, tuple[np.ndarray, np.ndarray]],
    absent: np.ndarray,
    discordant: np.ndarray,
) -> np.ndarray:
    """A sentence per discordant segment: each measure that carried a scheme's outcome.

    A threshold *carries* its scheme's outcome when it is met for a positive scheme, not met
    for a negative one, or unknown for one that could not assess the segment. Every measure
    with at least one carrying threshold is named, with each scheme's result on it.
    """
    full = np.full(len(absent), "", dtype=object)
    idx = np.flatnonzero(discordant)
    if not idx.size:
        return full
    # only the discordant rows are worded
    seg = seg.iloc[idx].reset_index(drop=True)
    measures = {m: v[idx] for m, v in measures.items()}
    base = {k: (b[idx], d[idx]) for k, (b, d) in base.items()}
    absent = absent[idx]
    why = np.full(idx.size, "", dtype=object)
    per_measure: dict[str, list[tuple[Criterion, Threshold, np.ndarray, np.ndarray]]] = {}
    for c in crits:
        cls = _segment_class(base[c.id][0])
        for r in c.block:
            for t in r.thresholds:
                tr = threshold_truth(t, seg)
                carries = ((cls == 0) & (tr == TRUE)) | ((cls == 1) & (tr == FALSE))
                carries |= (cls == 3) & (tr == UNKNOWN)
                per_measure.setdefault(t.measure, []).append((c, t, tr, carries))
    for measure, items in per_measure.items():
        include = ~absent & np.logical_or.reduce([x[3] for x in items])
        if not include.any():
            continue
        parts = []
        for c, t, tr, _ in items:
            words = _threshold_words(t)
            phrase = np.select(
                [tr == TRUE, tr == FALSE],
                [f"{words} for {c.short}", f"not {words} for {c.short}"],
                "",
            )
            parts.append(phrase.astype(object))
        joined = parts[0]
        for p in parts[1:]:
            sep = np.where((joined != "") & (p != ""), ", ", "")
            joined = _cat(joined, sep, p)
        values = measures[measure]
        label = MEASURE_LABELS.get(measure, measure)
        users = ", ".join(dict.fromkeys(c.short for c, *_ in items))
        clause = np.where(
            np.isnan(values),
            f"{label} unknown (used by {users})",
            _cat(_value_phrase(measure, values), ": ", joined),
        )
        clause = np.where(include, clause, "")
        sep = np.where((why != "") & (clause != ""), "; ", "")
        why = _cat(why, sep, clause)
    for c in crits:  # schemes whose rules exclude the segment say why
        excluded = _segment_class(base[c.id][0]) == 2
        if not excluded.any():
            continue
        clause = np.where(excluded & ~absent, _exclusion_words(c, seg), "")
        sep = np.where((why != "") & (clause != ""), "; ", "")
        why = _cat(why, sep, clause)
    full[idx] = np.where(absent, "no response at the distal site", why)
    return full


def _exclusion_words(crit: Criterion, seg: pd.DataFrame) -> np.ndarray:
    """'not applicable for EAN/PNS 2021 CIDP (tibial nerve excluded from CB)' per segment."""
    from ncs.engine import WHY_PRECONDITION

    j = judge(crit, seg)
    notes = (
        "; ".join(dict.fromkeys(r.scope.note for r in crit.block if r.scope.note))
        or crit.scope.note
    )
    pre = "; ".join(dict.fromkeys(t.describe() for r in crit.block for t in r.preconditions))
    scope_text = f"not applicable for {crit.short}" + (f" ({notes})" if notes else "")
    pre_text = f"not applicable for {crit.short}" + (f" (needs {pre})" if pre else "")
    return np.where(j.block.why == WHY_PRECONDITION, pre_text, scope_text).astype(object)


def _wide_segments(seg, crits, base, measures, absent) -> pd.DataFrame:
    data: dict[str, Any] = {k: seg[k] for k in segment_keys(seg.columns)}
    for m in ("amp_drop_pct", "area_drop_pct", "dur_change_pct"):
        data[m] = seg[m]
    classes = []
    for c in crits:
        b, d = base[c.id]
        data[f"block_{c.id}"] = _categorical(category_codes(b, BLOCK_VALUES), BLOCK_VALUES)
        data[f"dispersion_{c.id}"] = _categorical(
            category_codes(d, DISPERSION_VALUES), DISPERSION_VALUES
        )
        classes.append(_segment_class(b))
    stacked = np.stack(classes) if classes else np.zeros((0, len(seg)), dtype=int)
    discordant = (stacked != stacked[0]).any(axis=0) if len(crits) else np.zeros(len(seg), bool)
    data["discordant"] = discordant
    data["why"] = pd.array(_why(crits, seg, measures, base, absent, discordant), dtype="string")
    return pd.DataFrame(data).reset_index(drop=True)


def _why_of_groups(wide_seg: pd.DataFrame, groups: pd.DataFrame, keys: list[str]):
    """For discordant nerves/patients: how many segments differ, and the first one's reason."""
    disc = wide_seg[wide_seg["discordant"].to_numpy(dtype=bool)]
    discordant = groups["discordant"].to_numpy(dtype=bool)
    out = np.full(len(groups), "", dtype=object)
    if not disc.empty:
        out = _first_discordant(disc, groups, keys, discordant)
    # discordant without a discordant segment: the schemes roll the same segments up differently
    out = np.where(
        discordant & (out == ""),
        "no segment's block finding differs: the verdicts part through other findings "
        "(e.g. dispersion) or the schemes' roll-up rules",
        out,
    )
    return pd.array(out.astype(object), dtype="string")


def _first_discordant(disc, groups, keys, discordant) -> np.ndarray:
    first = disc.groupby(keys, sort=False, observed=True).agg(
        n=("why", "size"),
        first_nerve=("nerve", "first"),
        first_side=("side", "first"),
        distal=("distal_site", "first"),
        proximal=("proximal_site", "first"),
        why=("why", "first"),
    )
    first = first.reset_index()
    text = _cat(
        first["n"].astype(str).to_numpy(dtype=object),
        " segment(s) judged differently, e.g. ",
        first["first_nerve"].to_numpy(dtype=object),
        " ",
        first["first_side"].to_numpy(dtype=object),
        " ",
        first["distal"].to_numpy(dtype=object),
        " to ",
        first["proximal"].to_numpy(dtype=object),
        ": ",
        first["why"].to_numpy(dtype=object),
    )
    first["text"] = text
    merged = groups[keys].merge(first[[*keys, "text"]], on=keys, how="left")
    return np.where(discordant, merged["text"].fillna("").to_numpy(dtype=object), "")


def _wide_nerves(result: Analysis, crits) -> pd.DataFrame:
    nv = result.nerves
    keys = list(nerve_keys(nv.columns))
    first = nv[nv["scheme"] == crits[0].id]
    out = first[keys].reset_index(drop=True)
    classes = []
    for c in crits:
        rows = nv[nv["scheme"] == c.id][[*keys, "block"]]
        merged = out.merge(rows, on=keys, how="left", validate="one_to_one")
        out[f"block_{c.id}"] = merged["block"].to_numpy()
        block = merged["block"].astype(object).to_numpy()
        classes.append(
            np.where(np.isin(block, ["yes", "probable"]), 0, np.where(block == "no", 1, 2))
        )
    stacked = np.stack(classes)
    out["discordant"] = (stacked != stacked[0]).any(axis=0)
    return out


def _wide_patients(result: Analysis, crits, diagnosis: pd.Series | None) -> pd.DataFrame:
    pt = result.patients
    keys = list(patient_keys(pt.columns))
    out = pt[pt["scheme"] == crits[0].id][keys].reset_index(drop=True)
    classes = []
    for c in crits:
        rows = pt[pt["scheme"] == c.id][[*keys, "verdict"]]
        merged = out.merge(rows, on=keys, how="left", validate="one_to_one")
        verdict = merged["verdict"].to_numpy(dtype=object)
        cls = verdict_classes(c, verdict)
        out[f"verdict_{c.id}"] = pd.array(verdict, dtype="string")
        out[f"class_{c.id}"] = _categorical(cls, _PATIENT_CLASSES)
        classes.append(cls)
    stacked = np.stack(classes)
    out["discordant"] = (stacked != stacked[0]).any(axis=0)
    if diagnosis is not None:
        d = diagnosis.reindex(out["patient_id"].astype(object))
        out["diagnosis"] = pd.array(d.to_numpy(dtype=object), dtype="boolean")
    return out


# ---------------------------------------------------------------- reference diagnosis

_TRUE_WORDS = frozenset({"true", "yes", "y", "1", "positive", "pos"})
_FALSE_WORDS = frozenset({"false", "no", "n", "0", "negative", "neg"})


def _diagnosis(result: Analysis, reference, positive) -> pd.Series | None:
    """Reference diagnosis per patient as a boolean Series indexed by patient_id (NA = unknown)."""
    sites = result.sites
    if reference is None:
        if "diagnosis" not in sites.columns:
            return None
        reference = "diagnosis"
    column = "diagnosis"
    if isinstance(reference, str):
        if reference not in sites.columns:
            raise ValidationError([(None, reference, "reference diagnosis column not found")])
        column = reference
        values = sites[reference]
        ids = sites["patient_id"].astype(object).to_numpy()
        known = values.notna().to_numpy()
        per = pd.DataFrame({"patient_id": ids[known], "value": _texts(values[known])})
        n_values = per.groupby("patient_id", sort=False)["value"].nunique()
        varying = n_values.index[n_values > 1]
        if len(varying):
            rows = np.flatnonzero(np.isin(ids, varying.to_numpy()) & known)
            raise ValidationError(
                [(int(r), reference, f"diagnosis differs within patient {ids[r]}") for r in rows]
            )
        raw = per.drop_duplicates("patient_id").set_index("patient_id")["value"]
    elif isinstance(reference, pd.DataFrame):
        if not {"patient_id", "diagnosis"} <= set(reference.columns):
            raise ValidationError([(None, None, "reference needs patient_id and diagnosis")])
        raw = reference.set_index(reference["patient_id"].astype(str))["diagnosis"]
    else:  # a Series (compare checked the type)
        raw = reference.copy()
        raw.index = raw.index.astype(str)
    if raw.index.duplicated().any():
        raise ValidationError([(None, "patient_id", "reference lists a patient twice")])
    return _as_boolean(raw, positive, column)


def _as_boolean(raw: pd.Series, positive: Mapping[str, str] | None, column: str) -> pd.Series:
    """Each patient's diagnosis as True/False (NA: unknown): in ``positive`` or not, or read
    as a boolean-like value (any other value refused)."""
    known = raw.notna().to_numpy()
    text = np.full(len(raw), "", dtype=object)
    text[known] = [t.lower() for t in _texts(raw[known])]
    out = np.full(len(raw), None, dtype=object)
    if positive is not None:
        out[known] = np.isin(text[known], list(positive))
        if known.any() and not np.any(out[known].astype(bool)):
            values = sorted(set(_texts(raw[known])))[:_SHOWN_VALUES]
            warn(
                "positive_not_found",
                f"positive={list(positive.values())} matches no diagnosis value (the values are "
                f"{values}): every patient with a diagnosis counts as negative",
                column=column,
            )
    else:
        is_true = np.isin(text, list(_TRUE_WORDS)) & known
        is_false = np.isin(text, list(_FALSE_WORDS)) & known
        bad = known & ~is_true & ~is_false
        if bad.any():
            examples = sorted(set(_texts(raw[bad])))[:_SHOWN_VALUES]
            raise ValidationError(
                [
                    (
                        None,
                        column,
                        f"diagnosis values {examples} are not boolean-like; "
                        "say which count as positive with positive=[...]",
                    )
                ]
            )
        out[is_true] = True
        out[is_false] = False
    return pd.Series(pd.array(out, dtype="boolean"), index=raw.index.astype(str))


#: How many distinct diagnosis values a message shows.
_SHOWN_VALUES = 5


# ---------------------------------------------------------------- agreement


def _pair_table(a: np.ndarray, b: np.ndarray, k: int) -> np.ndarray:
    return np.bincount(a.astype(np.int64) * k + b, minlength=k * k).reshape(k, k)


_AGREEMENT_COLUMNS = (
    "level",
    "scheme_a",
    "scheme_b",
    "categories",
    "n",
    "n_agree",
    "percent_agreement",
    "kappa",
    "kappa_se",
    "kappa_ci_low",
    "kappa_ci_high",
    "n_excluded",
)


def _agreement(crits, wide_seg, wide_nerves, wide_patients, confidence):
    levels: list[tuple[str, dict[str, np.ndarray], tuple[str, ...]]] = []
    seg_cls = {
        c.id: np.asarray(
            _segment_class(_code_of_block(wide_seg[f"block_{c.id}"].astype(object).to_numpy()))
        )
        for c in crits
    }
    levels.append(("segment", seg_cls, CLASSES))
    nerve_cls = {
        c.id: _segment_class(_code_of_block(wide_nerves[f"block_{c.id}"].astype(object).to_numpy()))
        for c in crits
    }
    levels.append(("nerve", nerve_cls, CLASSES))
    pat_cls = {c.id: np.asarray(wide_patients[f"class_{c.id}"].cat.codes) for c in crits}
    levels.append(("patient", pat_cls, _PATIENT_CLASSES))

    rows: list[dict[str, Any]] = []
    cells: list[dict[str, Any]] = []

    def add(level, a_id, b_id, label, table, cats_a, cats_b, n_excluded, square=True):
        n = int(table.sum())
        n_agree = int(np.trace(table)) if square else None
        kappa = cohens_kappa(table, confidence) if square else (math.nan,) * 4
        rows.append(
            {
                "level": level,
                "scheme_a": a_id,
                "scheme_b": b_id,
                "categories": label,
                "n": n,
                "n_agree": n_agree,
                "percent_agreement": (100.0 * n_agree / n) if (square and n) else math.nan,
                "kappa": kappa[0],
                "kappa_se": kappa[1],
                "kappa_ci_low": kappa[2],
                "kappa_ci_high": kappa[3],
                "n_excluded": n_excluded,
            }
        )
        for i, ca in enumerate(cats_a):
            for j, cb in enumerate(cats_b):
                cells.append(
                    {
                        "level": level,
                        "scheme_a": a_id,
                        "scheme_b": b_id,
                        "categories": label,
                        "category_a": ca,
                        "category_b": cb,
                        "count": int(table[i, j]),
                    }
                )

    for level, cls, cats in levels:
        for ca, cb in itertools.combinations(crits, 2):
            a, b = cls[ca.id], cls[cb.id]
            full = _pair_table(a, b, len(cats))
            add(level, ca.id, cb.id, "all", full, cats, cats, 0)
            add(
                level,
                ca.id,
                cb.id,
                "assessable",
                full[:2, :2],
                cats[:2],
                cats[:2],
                int(full.sum() - full[:2, :2].sum()),
            )
            if level == "patient":
                va = wide_patients[f"verdict_{ca.id}"].astype(object).to_numpy()
                vb = wide_patients[f"verdict_{cb.id}"].astype(object).to_numpy()
                labels_a = list(dict.fromkeys([*ca.verdicts, *sorted(set(va) - set(ca.verdicts))]))
                labels_b = list(dict.fromkeys([*cb.verdicts, *sorted(set(vb) - set(cb.verdicts))]))
                ia = np.array([labels_a.index(v) for v in va], dtype=np.int64)
                ib = np.array([labels_b.index(v) for v in vb], dtype=np.int64)
                table = np.zeros((len(labels_a), len(labels_b)), dtype=np.int64)
                np.add.at(table, (ia, ib), 1)
                same = labels_a == labels_b
                add(level, ca.id, cb.id, "raw", table, labels_a, labels_b, 0, square=same)
    agreement = pd.DataFrame(rows, columns=list(_AGREEMENT_COLUMNS))
    agreement["n_agree"] = agreement["n_agree"].astype("Int64")
    contingency = pd.DataFrame(
        cells,
        columns=[
            "level",
            "scheme_a",
            "scheme_b",
            "categories",
            "category_a",
            "category_b",
            "count",
        ],
    )
    return agreement, contingency


def _code_of_block(values: np.ndarray) -> np.ndarray:
    return np.select(
        [values == "yes", values == "probable", values == "no", values == "not_applicable"],
        [YES, PROBABLE, NO, NOT_APPLICABLE],
        NOT_ASSESSABLE,
    ).astype(np.int8)


# ---------------------------------------------------------------- accuracy

_ACCURACY_COLUMNS = (
    "scheme",
    "n",
    "true_positive",
    "false_positive",
    "false_negative",
    "true_negative",
    "n_indeterminate",
    "n_no_diagnosis",
    "sensitivity",
    "sensitivity_ci_low",
    "sensitivity_ci_high",
    "specificity",
    "specificity_ci_low",
    "specificity_ci_high",
    "ppv",
    "ppv_ci_low",
    "ppv_ci_high",
    "npv",
    "npv_ci_low",
    "npv_ci_high",
)


def _empty_accuracy() -> pd.DataFrame:
    return pd.DataFrame({c: [] for c in _ACCURACY_COLUMNS})


def _accuracy(crits, wide_patients: pd.DataFrame, confidence: float) -> pd.DataFrame:
    dx = wide_patients["diagnosis"]
    known = dx.notna().to_numpy()
    truth_pos = dx.fillna(False).to_numpy(dtype=bool)
    rows = []
    for c in crits:
        cls = np.asarray(wide_patients[f"class_{c.id}"].cat.codes)
        decided = known & (cls != 2)
        pred = cls == 0
        tp = int(np.sum(decided & pred & truth_pos))
        fp = int(np.sum(decided & pred & ~truth_pos))
        fn = int(np.sum(decided & ~pred & truth_pos))
        tn = int(np.sum(decided & ~pred & ~truth_pos))
        row: dict[str, Any] = {
            "scheme": c.id,
            "n": tp + fp + fn + tn,
            "true_positive": tp,
            "false_positive": fp,
            "false_negative": fn,
            "true_negative": tn,
            "n_indeterminate": int(np.sum(known & (cls == 2))),
            "n_no_diagnosis": int(np.sum(~known)),
        }
        for name, s, m in (
            ("sensitivity", tp, tp + fn),
            ("specificity", tn, tn + fp),
            ("ppv", tp, tp + fp),
            ("npv", tn, tn + fn),
        ):
            low, high = wilson_interval(s, m, confidence)
            row[name] = s / m if m else math.nan
            row[f"{name}_ci_low"] = low
            row[f"{name}_ci_high"] = high
        rows.append(row)
    return pd.DataFrame(rows, columns=list(_ACCURACY_COLUMNS))


# ---------------------------------------------------------------- margins


def _flip_value(
    t: Threshold, seg: pd.DataFrame, values: np.ndarray, bound: np.ndarray
) -> tuple[np.ndarray, str]:
    """Proximal value at which the threshold's result changes (NaN if not derivable)."""
    n = len(values)
    source = _MEASURE_SOURCES.get(t.measure)
    if source is None or t.of is not None:
        return np.full(n, np.nan), ""
    _, distal_col, _, kind, unit = source
    distal = seg[distal_col].to_numpy(dtype=float, na_value=np.nan)
    distal = np.where(distal > 0, distal, np.nan)
    if kind == "drop":
        flip = distal * (1 - bound / 100)
    else:
        sign = np.where(values < 0, -1.0, 1.0) if t.absolute else 1.0
        flip = distal * (1 + sign * bound / 100)
    return np.where(np.isnan(values), np.nan, flip), unit


_MARGIN_COLUMNS = (
    *SEGMENT_KEYS,
    "criterion",
    "rule",
    "rule_name",
    "measure",
    "value",
    "op",
    "threshold",
    "absolute",
    "met",
    "margin_points",
    "decisive",
    "flip_proximal",
    "unit",
)


def _key_columns(seg: pd.DataFrame, repeat: int) -> dict[str, pd.Categorical]:
    """The segment keys repeated ``repeat`` times, as categoricals (cheap for large tables)."""
    from ncs._codes import categorical, from_codes

    out = {}
    for k in segment_keys(seg.columns):
        values = categorical(seg[k])
        out[k] = from_codes(np.tile(np.asarray(values.codes), repeat), values.dtype)
    return out


def _constant_columns(labels: list[Any], n: int) -> pd.Categorical:
    """One value per part, each repeated ``n`` times."""
    uniques = list(dict.fromkeys(labels))
    codes = np.repeat(np.array([uniques.index(v) for v in labels], dtype=np.int64), n)
    return pd.Categorical.from_codes(codes, categories=uniques)


def _margins(
    seg, crits, measures, absent, judged: Mapping[str, SegmentJudgement]
) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """The long margins table, and its parts (one dict of arrays per threshold).

    ``decisive``: the engine's outcome changes when this threshold's result alone flips.
    """
    n = len(seg)
    parts: list[dict[str, Any]] = []
    for c in crits:
        decisive = _decisive(c, seg, judged[c.id])
        for kind, i, rule in _rules(c):
            for k, t in enumerate(rule.thresholds):
                v = measures[t.measure]
                compared = threshold_values(t, seg)
                ops, bound = threshold_bounds(t, seg)
                sign = np.where(np.isin(ops, [">", ">="]), 1.0, -1.0)
                flip, unit = _flip_value(t, seg, v, bound)
                parts.append(
                    {
                        "criterion": c.id,
                        "kind": kind,
                        "rule": f"{kind}[{i}]",
                        "rule_name": rule.name,
                        "threshold_obj": t,
                        "ops": ops,
                        "bound": bound,
                        "unit": unit,
                        "value": v,
                        "met": threshold_truth(t, seg),
                        "margin_points": np.round(sign * (compared - bound), 9),
                        "decisive": decisive[(kind, i, k)] & ~absent,
                        "flip_proximal": np.where(absent, np.nan, flip),
                    }
                )
    n_parts = len(parts)
    data: dict[str, Any] = _key_columns(seg, n_parts)
    data["criterion"] = _constant_columns([p["criterion"] for p in parts], n)
    data["rule"] = _constant_columns([p["rule"] for p in parts], n)
    data["rule_name"] = _constant_columns([p["rule_name"] for p in parts], n)
    data["measure"] = _constant_columns([p["threshold_obj"].measure for p in parts], n)
    data["value"] = _concat([p["value"] for p in parts], float)
    data["op"] = pd.Categorical(_concat([p["ops"] for p in parts], object))
    data["threshold"] = _concat([p["bound"] for p in parts], float)
    data["absolute"] = np.repeat([p["threshold_obj"].absolute for p in parts], n).astype(bool)
    met = _concat([p["met"] for p in parts], np.int8)
    data["met"] = pd.Categorical.from_codes(met, categories=["no", "unknown", "yes"])
    data["margin_points"] = _concat([p["margin_points"] for p in parts], float)
    data["decisive"] = _concat([p["decisive"] for p in parts], bool)
    data["flip_proximal"] = _concat([p["flip_proximal"] for p in parts], float)
    data["unit"] = _constant_columns([p["unit"] for p in parts], n)
    columns = [*segment_keys(seg.columns), *_MARGIN_COLUMNS[len(SEGMENT_KEYS) :]]
    return pd.DataFrame(data, columns=columns), parts


def _concat(arrays: list[np.ndarray], dtype) -> np.ndarray:
    return np.concatenate(arrays).astype(dtype) if arrays else np.array([], dtype=dtype)


def _margin_summary(
    seg: pd.DataFrame, crits, base, parts: list[dict[str, Any]]
) -> dict[str, dict[str, np.ndarray]]:
    """Per criterion and segment: the nearest decisive block threshold and a sentence.

    E.g. ``"block by 2.4 points (amplitude fell 32.4%, threshold >30%); would flip at 4.76 mV
    proximal"``.
    """
    n = len(seg)
    out = {}
    for c in crits:
        own = [p for p in parts if p["criterion"] == c.id and p["kind"] == "block"]
        margin = np.abs(np.stack([p["margin_points"] for p in own]))
        masked = np.where(np.stack([p["decisive"] for p in own]), margin, np.inf)
        best = np.argmin(masked, axis=0)
        cols = np.arange(n)
        has = np.isfinite(masked[best, cols])
        points = np.where(has, margin[best, cols], np.nan)
        flip = np.where(has, np.stack([p["flip_proximal"] for p in own])[best, cols], np.nan)
        code = base[c.id][0]
        outcome = np.select(
            [code >= PROBABLE, code == NO, code == NOT_APPLICABLE],
            ["block", "no block", "not applicable"],
            "not assessable",
        ).astype(object)
        text = _cat(outcome, ": no single measure's change would flip it")
        measure = np.full(n, "", dtype=object)
        unit = np.full(n, "", dtype=object)
        for j, p in enumerate(own):
            sel = has & (best == j)
            if not sel.any():
                continue
            t = p["threshold_obj"]
            measure[sel] = t.measure
            unit[sel] = p["unit"]
            which, _, texts = threshold_words(t, seg)
            change = "|change| " if t.absolute else ""
            bound = np.asarray([f", threshold {change}{b})" for b in texts], dtype=object)
            piece = _cat(
                outcome[sel],
                " by ",
                format_number(points[sel], 1),
                " points (",
                _value_phrase(t.measure, p["value"][sel]),
                bound[which[sel]],
            )
            if p["unit"]:
                flip_text = _cat(
                    "; would flip at ", format_number(flip[sel], 2), f" {p['unit']} proximal"
                )
                piece = _cat(piece, np.where(np.isnan(flip[sel]), "", flip_text).astype(object))
            text[sel] = piece
        text = np.where(code == NOT_ASSESSABLE, "not assessable", text).astype(object)
        out[c.id] = {
            "nearest_measure": np.where(has, measure, None),
            "margin_points": points,
            "flip_proximal": flip,
            "flip_unit": np.where(has & (unit != ""), unit, None),
            "margin": text,
        }
    return out


# ---------------------------------------------------------------- robustness

#: Draws simulated at once are limited so that one block holds about this many segment values.
_BLOCK_CELLS = 1_000_000


def _nerve_setup(result: Analysis, crits: tuple[Criterion, ...]) -> dict[str, Any]:
    """Per-nerve ids and measures the engine reads for the patient rules, as the analysis
    had them (rebuilt from ``result.sites`` for a result read back from JSON)."""
    inputs = result.engine_inputs
    if not inputs:
        inputs = analyze(
            result.sites, criteria=crits, reasons=False, **result.settings
        ).engine_inputs
    nv = result.nerves
    first = nv[nv["scheme"] == crits[0].id]
    new_patient = np.zeros(len(first), dtype=bool)
    new_patient[:1] = True
    for k in patient_keys(first.columns):  # one patient: one visit of a patient, if any
        codes = np.asarray(pd.Categorical(first[k].astype(object)).codes)
        new_patient[1:] |= codes[1:] != codes[:-1]
    nerve_patient = np.cumsum(new_patient) - 1
    return {
        "measures": inputs["measures"],
        "segment_nerve": np.asarray(inputs["segment_nerve"], dtype=np.int64),
        "nerve_first_row": np.asarray(inputs["nerve_first_row"], dtype=np.int64),
        "nerve_patient": nerve_patient.astype(np.int64),
        "n_patients": int(nerve_patient[-1]) + 1 if len(nerve_patient) else 0,
        "names": first["nerve"].to_numpy(dtype=object),
    }


def _flatten(j: SegmentJudgement) -> SegmentJudgement:
    """A judgement over (draws, segments) as one long run of segments, draw after draw."""

    def flat(o: RuleOutcome) -> RuleOutcome:
        k = o.status.shape[0]
        return RuleOutcome(
            o.code.reshape(-1),
            o.deciding_rule.reshape(-1),
            o.why.reshape(-1),
            o.status.reshape(k, o.code.size),
        )

    return SegmentJudgement(j.criterion, flat(j.block), flat(j.dispersion))


def _patient_classes(
    crit: Criterion,
    j: SegmentJudgement,
    setup: Mapping[str, Any],
    distal_amplitude: np.ndarray | None,
    amp_drop: np.ndarray,
) -> np.ndarray:
    """Patient verdict class (0 positive, 1 negative, 2 indeterminate) per draw and patient,
    from the engine's own patient rule on the drawn segment outcomes (shape (draws, n))."""
    n_draws = j.block_code.shape[0]
    n_nerves = len(setup["nerve_patient"])
    n_p = setup["n_patients"]
    draw = np.arange(n_draws)[:, None]
    measures = {k: np.tile(v, n_draws) for k, v in setup["measures"].items()}
    if distal_amplitude is not None:
        measures["distal_amplitude_mv"] = distal_amplitude.reshape(-1)
    ctx = nerve_context(
        crit,
        measures,
        (draw * n_p + setup["nerve_patient"][None, :]).reshape(-1),
        n_draws * n_p,
        np.tile(setup["names"], n_draws),
        (draw * n_nerves + setup["segment_nerve"][None, :]).reshape(-1),
        None,
    )
    flat = _flatten(j)
    seg_items = segment_items(flat, ctx)
    items = item_codes(crit, ctx, seg_items)
    verdicts = patient_verdicts(crit, flat, ctx, items, seg_items, amp_drop.reshape(-1))
    lut = np.array(
        [_PATIENT_CLASSES.index(crit.verdict_classes.get(v, "positive")) for v in crit.verdicts],
        dtype=np.int8,
    )
    return lut[verdicts.level].reshape(n_draws, n_p)


def _simulate(
    result: Analysis,
    crits: tuple[Criterion, ...],
    base_seg_class: Mapping[str, np.ndarray],
    base_pat_class: Mapping[str, np.ndarray],
    variability: Variability,
    n_draws: int,
    seed: int,
    setup: Mapping[str, Any],
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Number of draws in which each segment's class and each patient's class hold.

    Every draw is judged by the engine itself (:func:`ncs.engine.judge` on the drawn
    measures, then the scheme's nerve items and patient rule), so preconditions, scopes and
    nerve counts are simulated exactly as analysed.
    """
    seg = result.segments
    n = len(seg)
    n_p = setup["n_patients"]
    distal_row = seg["distal_row"].to_numpy(dtype=np.int64)
    proximal_row = seg["proximal_row"].to_numpy(dtype=np.int64)
    first_row = setup["nerve_first_row"]
    n_rows = (
        int(
            max(distal_row.max(initial=-1), proximal_row.max(initial=-1), first_row.max(initial=-1))
        )
        + 1
    )
    absent = (seg["distal_response"] == "absent").to_numpy(dtype=bool, na_value=False)
    hold_seg = {c.id: np.zeros(n, dtype=np.int64) for c in crits}
    hold_pat = {c.id: np.zeros(n_p, dtype=np.int64) for c in crits}
    used = {t.measure for c in crits for _, _, r in _rules(c) for t in r.thresholds}
    used |= {"amp_drop_pct"}  # Hadden's "normal" class reads it
    perturbed = {
        measure: (src, variability.cv[src[0]])
        for measure, src in _MEASURE_SOURCES.items()
        if variability.cv.get(src[0], 0) > 0
    }
    if not perturbed or n == 0:
        for c in crits:
            hold_seg[c.id][:] = n_draws
            hold_pat[c.id][:] = n_draws
        return hold_seg, hold_pat

    site_amp = np.full(n_rows, np.nan)
    site_amp[distal_row] = seg["distal_amplitude_mv"].to_numpy(dtype=float, na_value=np.nan)
    site_amp[proximal_row] = seg["proximal_amplitude_mv"].to_numpy(dtype=float, na_value=np.nan)
    nerve_amp = np.asarray(setup["measures"]["distal_amplitude_mv"], dtype=float)
    rng = np.random.default_rng(seed)
    block = max(1, min(n_draws, _BLOCK_CELLS // max(n, 1)))
    done = 0
    while done < n_draws:
        b = min(block, n_draws - done)
        measures: dict[str, np.ndarray] = {}
        factors: dict[str, np.ndarray] = {}
        for measure, ((col, distal_col, proximal_col, kind, _), _) in perturbed.items():
            if col not in factors:
                sigma = variability.sigma(col)
                factors[col] = np.exp(sigma * rng.standard_normal((b, n_rows)) - sigma**2 / 2)
            factor = factors[col]
            d = seg[distal_col].to_numpy(dtype=float, na_value=np.nan) * factor[:, distal_row]
            p = seg[proximal_col].to_numpy(dtype=float, na_value=np.nan) * factor[:, proximal_row]
            if kind == "drop":
                d = np.where(absent, np.nan, d)
                measures[measure] = percent_drop(d, p)
            else:
                measures[measure] = percent_change(d, p)
        if "amplitude_mv" in factors:
            amp_factor = factors["amplitude_mv"]
            measures["distal_amplitude_mv"] = (
                seg["distal_amplitude_mv"].to_numpy(dtype=float, na_value=np.nan)
                * amp_factor[:, distal_row]
            )
            nerve_distal = nerve_amp[None, :] * amp_factor[:, first_row]
        else:
            nerve_distal = None
        if "area_mvms" in factors and "area_or_pp_drop_pct" in used:
            pp = seg["pp_amp_drop_pct"].to_numpy(dtype=float, na_value=np.nan)
            measures["area_or_pp_drop_pct"] = np.fmax(measures["area_drop_pct"], pp)
        amp_drop = measures.get(
            "amp_drop_pct",
            np.broadcast_to(seg["amp_drop_pct"].to_numpy(dtype=float, na_value=np.nan), (b, n)),
        )
        for c in crits:
            j = judge(c, seg, measures=measures)
            hold_seg[c.id] += np.sum(_segment_class(j.block_code) == base_seg_class[c.id], axis=0)
            pc = _patient_classes(c, j, setup, nerve_distal, np.asarray(amp_drop))
            hold_pat[c.id] += np.sum(pc == base_pat_class[c.id], axis=0)
        done += b
    return hold_seg, hold_pat


def _label(base_class: np.ndarray, p: np.ndarray, level: float) -> np.ndarray:
    """Segment robustness label from its class (see :data:`CLASSES`) and p_holds."""
    return np.select(
        [base_class == 3, p < level, base_class == 0, base_class == 1],
        ["not_assessable", "borderline", "robust_yes", "robust_no"],
        "robust_not_applicable",
    )


def _patient_label(base_class: np.ndarray, p: np.ndarray, level: float) -> np.ndarray:
    return np.select(
        [base_class == 2, p < level, base_class == 0],
        ["not_assessable", "borderline", "robust_yes"],
        "robust_no",
    )


def _robustness(result, crits, judged, margin_parts, variability, n_draws, seed, level):
    seg = result.segments
    n = len(seg)
    pt = result.patients
    setup = _nerve_setup(result, crits)
    n_patients = setup["n_patients"]
    keys = list(patient_keys(pt.columns))
    ids = pt[pt["scheme"] == crits[0].id][keys]
    patient_ids = pd.MultiIndex.from_frame(ids.astype(object))
    base = {c.id: (judged[c.id].block_code, judged[c.id].disp_code) for c in crits}
    base_seg = {c.id: _segment_class(judged[c.id].block_code) for c in crits}
    verdicts = {}
    base_pat = {}
    for c in crits:
        rows = pt[pt["scheme"] == c.id]
        v = pd.Series(
            rows["verdict"].to_numpy(), pd.MultiIndex.from_frame(rows[keys].astype(object))
        )
        verdicts[c.id] = v.reindex(patient_ids).to_numpy(dtype=object)
        base_pat[c.id] = verdict_classes(c, verdicts[c.id])
    hold_seg, hold_pat = _simulate(
        result, crits, base_seg, base_pat, variability, n_draws, seed, setup
    )
    summary = _margin_summary(seg, crits, base, margin_parts)

    k = len(crits)
    robustness = pd.DataFrame(_key_columns(seg, k))
    robustness["criterion"] = _constant_columns([c.id for c in crits], n)
    block = _concat([base[c.id][0] for c in crits], np.int8)
    robustness["block"] = pd.Categorical.from_codes(
        category_codes(block, BLOCK_VALUES), categories=list(BLOCK_VALUES)
    )
    nearest = _concat([summary[c.id]["nearest_measure"] for c in crits], object)
    robustness["nearest_measure"] = pd.Categorical(nearest)
    robustness["margin_points"] = _concat([summary[c.id]["margin_points"] for c in crits], float)
    robustness["flip_proximal"] = _concat([summary[c.id]["flip_proximal"] for c in crits], float)
    robustness["flip_unit"] = pd.Categorical(
        _concat([summary[c.id]["flip_unit"] for c in crits], object)
    )
    margin_text = np.concatenate([summary[c.id]["margin"] for c in crits]) if k else []
    robustness["margin"] = pd.array(np.asarray(margin_text, dtype=object), dtype="string")
    cls = _segment_class(block)
    p = _concat([hold_seg[c.id] for c in crits], float) / n_draws
    robustness["p_holds"] = np.where(cls == 3, np.nan, p)
    robustness["robustness"] = pd.Categorical(
        _label(cls, p, level), categories=list(ROBUSTNESS_LABELS)
    )

    pat_parts = []
    for c in crits:
        pcls = base_pat[c.id]
        pp = hold_pat[c.id] / n_draws
        pat_parts.append(
            {
                **{k: ids[k].to_numpy(dtype=object) for k in keys},
                "scheme": np.full(n_patients, c.id, dtype=object),
                "verdict": verdicts[c.id],
                "class": np.asarray(_PATIENT_CLASSES, dtype=object)[pcls],
                "p_holds": np.where(pcls == 2, np.nan, pp),
                "robustness": _patient_label(pcls, pp, level),
            }
        )
    patients = _concat_parts(pat_parts)
    for col in (*keys, "scheme", "verdict", "class"):
        patients[col] = pd.array(patients[col].to_numpy(dtype=object), dtype="string")
    patients["robustness"] = pd.Categorical(
        patients["robustness"], categories=list(ROBUSTNESS_LABELS)
    )
    return robustness, patients


def _concat_parts(parts: list[dict[str, np.ndarray]]) -> pd.DataFrame:
    cols = list(parts[0])
    return pd.DataFrame({c: np.concatenate([np.asarray(p[c]) for p in parts]) for c in cols})


# ---------------------------------------------------------------- text


def render_agreement(comp: Comparison, levels: Iterable[str] = ("segment", "nerve", "patient")):
    """The agreement tables as plain text (used by ``ncs compare``)."""
    lines = []
    ag = comp.agreement
    for level in levels:
        rows = ag[ag["level"] == level]
        if rows.empty:
            continue
        lines.append(f"== {level} level")
        for r in rows.itertuples(index=False):
            table = comp.table(r.scheme_a, r.scheme_b, level, r.categories)
            lines.append(f"-- {r.scheme_a} (rows) x {r.scheme_b} (columns), {r.categories}")
            lines.extend("   " + line for line in table.to_string().splitlines())
            if math.isnan(r.kappa):
                kappa = "kappa: not defined"
            else:
                low, high = r.kappa_ci_low + 0.0, r.kappa_ci_high + 0.0
                kappa = (
                    f"kappa {r.kappa + 0.0:.3f} (95% CI {low:.3f} to {high:.3f}, "
                    f"SE {r.kappa_se:.3f})"
                )
            agree = (
                ""
                if pd.isna(r.n_agree)
                else f"agreement {r.n_agree}/{r.n} = {r.percent_agreement:.1f}%; "
            )
            excluded = f"; {r.n_excluded} excluded" if r.n_excluded else ""
            lines.append(f"   {agree}{kappa}{excluded}")
        lines.append("")
    acc = comp.accuracy
    if len(acc):
        lines.append("== against the reference diagnosis (patients)")
        for r in acc.itertuples(index=False):
            parts = []
            for name in ("sensitivity", "specificity", "ppv", "npv"):
                v = getattr(r, name)
                lo, hi = getattr(r, f"{name}_ci_low"), getattr(r, f"{name}_ci_high")
                shown = "n/a" if pd.isna(v) else f"{100 * v:.1f}% ({100 * lo:.1f}-{100 * hi:.1f})"
                parts.append(f"{name} {shown}")
            lines.append(
                f"   {r.scheme}: TP {r.true_positive} FP {r.false_positive} FN {r.false_negative} "
                f"TN {r.true_negative} (indeterminate {r.n_indeterminate}); " + ", ".join(parts)
            )
        lines.append("")
    disc = comp.segments[comp.segments["discordant"]]
    if len(disc):
        lines.append(f"== discordant segments ({len(disc)})")
        for r in disc.itertuples(index=False):
            lines.append(
                f"   {r.patient_id} {r.nerve} {r.side} {r.distal_site} -> {r.proximal_site}: "
                f"{r.why}"
            )
    return "\n".join(lines).rstrip() + "\n"
