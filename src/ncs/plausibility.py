"""Plausibility of valid input: units that look wrong, supplied velocities, cold limbs.

Called by :func:`ncs.validate` (cells of unsupported types, unit checks, supplied
conduction velocities) and :func:`ncs.analyze` (cold limbs). Nothing here changes a
measured value: a unit mix-up that is unambiguous raises :class:`~ncs.ValidationError`, one
that is only likely raises an :class:`~ncs.NcsWarning` naming the ``units=`` fix, and a
cold limb is flagged in a ``cold_limb`` column of ``findings`` and ``nerves``.

Messages carry counts, row numbers and column names only, never patient values.
"""

from __future__ import annotations

import decimal
from collections.abc import Mapping
from types import MappingProxyType

import numpy as np
import pandas as pd

from ncs._codes import equals_mask
from ncs.errors import Problem, ValidationError, warn
from ncs.normative import LIMIT_COLUMNS, LIMIT_RANGES, out_of_range

__all__ = [
    "COLD_LIMB_VALUES",
    "CV_MISMATCH_PCT",
    "DISTANCE_LOOKS_LIKE_CM_MM",
    "IMPLAUSIBLE_LIMITS",
    "IMPLAUSIBLE_REASONS",
    "LATENCY_LOOKS_LIKE_S_MS",
    "LIMB_OF_NERVE",
    "PER_NERVE_VALUES",
    "TEMPERATURE_LIMITS_C",
    "TEMPERATURE_LIMITS_VERIFIED",
    "check_cells",
    "check_valid",
    "cold_limbs",
    "contradictions",
    "declared_unit_problems",
    "implausible_cells",
    "nerve_value_conflicts",
    "side_typos",
    "temperature_limits",
]

#: Every known onset latency below this (ms) means the latencies are in seconds: motor
#: onset latencies include neuromuscular transmission and are never near 0.1 ms.
LATENCY_LOOKS_LIKE_S_MS = 0.1
#: Every known inter-site distance below this (mm), with velocities that come out below
#: :data:`_CV_SLOW_M_S`, suggests distances in cm (forearm and leg segments are 150-400 mm).
DISTANCE_LOOKS_LIKE_CM_MM = 60.0
_CV_SLOW_M_S = 15.0
#: A supplied ``cv_m_s`` that differs from the recomputed one by more than this (% of the
#: recomputed value) raises a warning.
CV_MISMATCH_PCT = 10.0

TEMPERATURE_LIMITS_C: Mapping[str, float] = MappingProxyType({"upper": 33.0, "lower": 30.0})
"""Default limb temperature limits (°C) below which findings are flagged ``cold_limb``.

33 °C (palm) for upper-limb nerves and 30 °C (external malleolus) for lower-limb nerves are
the numbers usually attributed to the EFNS/PNS 2010 CIDP guideline's good practice points.
They could **not** be confirmed against the guideline text (see
:data:`TEMPERATURE_LIMITS_VERIFIED`): pass your laboratory's limits as
``analyze(..., temperature_limits_c={"upper": ..., "lower": ...})``.
"""
TEMPERATURE_LIMITS_VERIFIED = False
"""Whether :data:`TEMPERATURE_LIMITS_C` was confirmed against its source (it was not)."""

COLD_LIMB_VALUES: tuple[str, ...] = ("yes", "no", "not_assessable")
"""Values of the ``cold_limb`` column (a categorical, like the other three-valued columns)."""

LIMB_OF_NERVE: Mapping[str, str] = MappingProxyType(
    {
        "median": "upper",
        "ulnar": "upper",
        "radial": "upper",
        "musculocutaneous": "upper",
        "axillary": "upper",
        "peroneal": "lower",
        "tibial": "lower",
        "femoral": "lower",
    }
)
"""Limb of each canonical nerve name; other nerves (facial, phrenic, ...) are not flagged."""

_NERVE = ("patient_id", "nerve", "side")

#: Cell types a sites table may hold in a known column (anything else is reported).
_CELL_TYPES = (str, int, float, bool, np.number, np.bool_, decimal.Decimal, type(None))


# --------------------------------------------------------------------------------------
# Cells of unsupported types (before validation proper)
# --------------------------------------------------------------------------------------


def check_cells(df: pd.DataFrame, columns: tuple[str, ...]) -> tuple[pd.DataFrame, list[Problem]]:
    """Rows whose cell in a known column is not text or a number (a list, a dict, bytes...).

    Parameters
    ----------
    df : pandas.DataFrame
        The input with canonical column names.
    columns : tuple of str
        The known columns to check (others pass through untouched).

    Returns
    -------
    df : pandas.DataFrame
        ``df``, with offending cells emptied (a copy when there are any).
    problems : list of Problem
        One per offending cell: row, column, and the kind of value (never the value).
    """
    problems: list[Problem] = []
    dtypes = df.dtypes  # one look at every column's type, no column read
    wanted = set(columns)
    objects = [
        c
        for c, t in zip(df.columns, dtypes, strict=True)
        if isinstance(t, np.dtype) and t.kind == "O" and c in wanted
    ]
    for col in objects:
        values = df[col].to_numpy()
        try:  # per unique value where the cells are hashable (the usual case)
            codes, uniques = pd.factorize(values)
            verdicts = np.array([_cell_problem(u) or "" for u in uniques] + [""], dtype=object)
            found = verdicts[codes]
        except TypeError:  # lists, dicts, sets: cell by cell
            found = np.array([_cell_problem(v) or "" for v in values], dtype=object)
        bad = found != ""
        if bad.any():
            for i in np.flatnonzero(bad):
                problems.append(Problem(int(i), col, str(found[i])))
            df = df.copy(deep=False)
            df[col] = np.where(bad, None, values)
    return df, problems


def _cell_problem(value: object) -> str | None:
    """Why a cell cannot be read (its type, never its value), or None."""
    if not isinstance(value, _CELL_TYPES):
        return f"unsupported value of type {type(value).__name__}"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > _FLOAT_MAX:
        return "not a finite number"
    return None


_FLOAT_MAX = float(np.finfo(float).max)


#: Per-nerve values that may be written on any row of the nerve: all rows must agree.
PER_NERVE_VALUES: tuple[str, ...] = (
    "f_latency_ms",
    "f_persistence_pct",
    "lff_hz",
    "dml_uln_ms",
    "amp_lln_mv",
    "cv_lln_m_s",
    "f_latency_uln_ms",
)


def nerve_value_conflicts(
    values: Mapping[str, np.ndarray], nerve_id: np.ndarray, keyed: np.ndarray
) -> list[Problem]:
    """Rows whose per-nerve value (F waves, filter, limits) differs within the nerve.

    Parameters
    ----------
    values : mapping of str to numpy.ndarray
        Validated numeric columns (NaN = not given).
    nerve_id, keyed : numpy.ndarray
        Nerve of each row, and whether its keys are all known.

    Returns
    -------
    list of Problem
        One per row holding a value of a nerve whose given values disagree, so that
        ``errors="collect"`` sets that nerve aside like any other invalid row.
    """
    problems: list[Problem] = []
    n_nerves = int(nerve_id.max()) + 1 if len(nerve_id) else 0
    for col in PER_NERVE_VALUES:
        if col not in values:
            continue
        v = np.asarray(values[col], dtype=float)
        known = ~np.isnan(v) & keyed
        if not known.any():
            continue
        rows = np.flatnonzero(known)
        ids = nerve_id[rows]
        one = np.full(n_nerves, np.nan)
        one[ids] = v[rows]  # one of each nerve's known values (whichever the write kept)
        differ = np.zeros(n_nerves, dtype=bool)
        differ[ids[v[rows] != one[ids]]] = True  # values differ iff one differs from it
        for i in np.flatnonzero(known & differ[nerve_id]):
            problems.append(
                Problem(int(i), col, "differs between rows of the same nerve (give it once)")
            )
    return problems


#: Per-row reference-limit columns: every rule compares a measure with a multiple of them.
LIMIT_VALUES: tuple[str, ...] = LIMIT_COLUMNS


def contradictions(
    values: Mapping[str, np.ndarray], absent: np.ndarray, nerve_id: np.ndarray, keyed: np.ndarray
) -> list[Problem]:
    """Cells whose value cannot be a measurement, or contradicts another cell of the nerve.

    * a reference limit (per-row LLN or ULN) of 0: no laboratory's normal limit is 0, and
      every rule divides by it, so it would silently make each finding against it unknown;
      or one outside :data:`ncs.normative.LIMIT_RANGES` (written in another unit);
    * an area of 0 at a site with a response (an absent response is written as such);
    * an F-wave latency for a nerve whose F-wave persistence is 0 % (no F waves).

    Parameters
    ----------
    values : mapping of str to numpy.ndarray
        Validated numeric columns (NaN = not given).
    absent : numpy.ndarray of bool
        Rows whose response is absent.
    nerve_id, keyed : numpy.ndarray
        Nerve of each row, and whether its keys are all known.

    Returns
    -------
    list of Problem
        One per offending cell.
    """
    problems: list[Problem] = []

    def flag(mask: np.ndarray, column: str, message: str) -> None:
        problems.extend(Problem(int(i), column, message) for i in np.flatnonzero(mask))

    for col in LIMIT_VALUES:
        if col in values:
            flag(values[col] == 0, col, "a reference limit of 0 (a limit must be positive)")
            low, high = LIMIT_RANGES[col]
            flag(
                (values[col] > 0) & out_of_range(values[col], col),
                col,
                f"a reference limit outside {low:g} to {high:g}, where no such limit lies "
                "(written in another unit?)",
            )
    if "area_mvms" in values:
        flag(
            (values["area_mvms"] == 0) & ~absent,
            "area_mvms",
            "zero area on a site with a response (write response=absent or NR)",
        )
    if "f_persistence_pct" in values and "f_latency_ms" in values:
        n_nerves = int(nerve_id.max()) + 1 if len(nerve_id) else 0
        no_f = np.zeros(n_nerves, dtype=bool)
        no_f[nerve_id[(values["f_persistence_pct"] == 0) & keyed]] = True
        flag(
            keyed & no_f[nerve_id] & ~np.isnan(values["f_latency_ms"]),
            "f_latency_ms",
            "an F-wave latency for a nerve whose F-wave persistence is 0% (no F waves)",
        )
    return problems


# --------------------------------------------------------------------------------------
# Units by range, supplied velocities (on the validated table)
# --------------------------------------------------------------------------------------


def _adjacent(
    valid: pd.DataFrame,
    nerve_id: np.ndarray | None = None,
    site_sort: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (distal row, proximal row) of neighbouring sites of each nerve (positions).

    ``nerve_id`` and ``site_sort`` come from validation (the rows in nerve and site order;
    None: already in that order); without ``nerve_id`` the keys are factorised and sorted.
    """
    n = len(valid)
    if n < 2:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    if nerve_id is not None:  # ids and order from validation: no new factorisation or sort
        idx = np.arange(n) if site_sort is None else site_sort
        same = nerve_id[idx][1:] == nerve_id[idx][:-1]
        return idx[:-1][same], idx[1:][same]
    order = valid["site_order"].to_numpy(dtype=np.int64)
    keys = ("patient_id", "visit", "nerve", "side") if "visit" in valid else _NERVE
    codes = [pd.factorize(valid[c].astype("string"), sort=True)[0] for c in keys]
    idx = np.lexsort((order, *codes[::-1]))
    key = np.stack([c[idx] for c in codes], axis=1)
    same = (key[1:] == key[:-1]).all(axis=1)
    return idx[:-1][same], idx[1:][same]


def _column(valid: pd.DataFrame, name: str) -> np.ndarray:
    if name not in valid.columns:
        return np.full(len(valid), np.nan)
    values = valid[name]
    if values.dtype.kind in "fiu":  # validated numeric columns: no conversion
        return values.to_numpy(dtype=float)
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def check_valid(
    valid: pd.DataFrame,
    nerve_id: np.ndarray | None = None,
    site_sort: np.ndarray | None = None,
) -> None:
    """Unit and velocity plausibility of a validated sites table.

    Parameters
    ----------
    valid : pandas.DataFrame
        Output of validation (canonical units, ``site_order`` and ``input_row`` present).
    nerve_id : numpy.ndarray, optional
        Nerve id of each row, when validation already computed it.
    site_sort : numpy.ndarray, optional
        With ``nerve_id``: the rows in nerve and site order (None: they are in that order).

    Raises
    ------
    ValidationError
        When every known latency is below :data:`LATENCY_LOOKS_LIKE_S_MS` ms: they are
        seconds (``units={"time": "s"}``), and every derived velocity and latency would be
        wrong by a factor of 1000.

    Warns
    -----
    NcsWarning
        When every inter-site distance is below :data:`DISTANCE_LOOKS_LIKE_CM_MM` mm and the
        velocities come out implausibly slow (distances in cm?), and when a supplied
        ``cv_m_s`` differs from the recomputed velocity by more than :data:`CV_MISMATCH_PCT`.
    """
    if len(valid) == 0:
        return
    lat = _column(valid, "latency_ms")
    with np.errstate(invalid="ignore"):
        known = lat[~np.isnan(lat)]
        if known.size and (known < LATENCY_LOOKS_LIKE_S_MS).all():
            raise ValidationError(
                [
                    Problem(
                        None,
                        "latency_ms",
                        f"every latency is below {LATENCY_LOOKS_LIKE_S_MS:g} ms: the values "
                        "look like seconds; pass units={'time': 's'} (command line: "
                        "--units time=s)",
                    )
                ]
            )
    distal, proximal = _adjacent(valid, nerve_id, site_sort)
    if distal.size == 0:
        return
    rows = valid["input_row"].to_numpy(dtype=np.int64)
    dist = _column(valid, "distance_mm")[proximal]
    with np.errstate(divide="ignore", invalid="ignore"):
        dlat = lat[proximal] - lat[distal]
        cv = np.where(dlat > 0, dist / dlat, np.nan)
        known_dist = dist[~np.isnan(dist)]
        known_cv = cv[~np.isnan(cv)]
        if (
            known_dist.size
            and (known_dist < DISTANCE_LOOKS_LIKE_CM_MM).all()
            and (known_cv.size == 0 or np.median(known_cv) < _CV_SLOW_M_S)
        ):
            warn(
                "distances_look_like_cm",
                f"every distance between stimulation sites is below "
                f"{DISTANCE_LOOKS_LIKE_CM_MM:g} mm: were they entered in cm? Pass "
                "units={'distance': 'cm'} if so (command line: --units distance=cm).",
                (),
                "distance_mm",
                stacklevel=4,
            )
    if "cv_m_s" in valid.columns:
        given = _column(valid, "cv_m_s")[proximal]
        with np.errstate(divide="ignore", invalid="ignore"):
            off = np.abs(given - cv) / cv * 100.0 > CV_MISMATCH_PCT
        if off.any():
            first = int(rows[proximal[np.flatnonzero(off)[0]]])
            warn(
                "cv_mismatch",
                f"{int(off.sum())} supplied conduction velocities (cv_m_s) differ by more "
                f"than {CV_MISMATCH_PCT:g}% from distance / latency difference (first at "
                f"row {first}): check distances, latencies and site labels",
                rows[proximal[np.flatnonzero(off)]],
                "cv_m_s",
                stacklevel=4,
            )


# --------------------------------------------------------------------------------------
# Cold limbs
# --------------------------------------------------------------------------------------


def temperature_limits(limits: Mapping[str, float] | float | None = None) -> dict[str, float]:
    """Temperature limits per limb, from a mapping, one number for both, or the defaults.

    Parameters
    ----------
    limits : mapping or float, optional
        ``{"upper": °C, "lower": °C}`` (a missing limb keeps its default), one number for
        both limbs, or None for :data:`TEMPERATURE_LIMITS_C`.

    Returns
    -------
    dict of str to float
        Limit per limb [°C].

    Raises
    ------
    ValidationError
        For an unknown limb or a limit that is not a finite number (the same error class as
        a bad unit or a bad input cell).
    """
    out = dict(TEMPERATURE_LIMITS_C)
    if limits is None:
        return out

    def number(value: object, limb: str) -> float:
        try:
            result = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            result = float("nan")
        if not np.isfinite(result):
            raise ValidationError(
                [Problem(None, None, f"temperature limit for {limb} must be a number in °C")]
            )
        return result

    if isinstance(limits, Mapping):
        unknown = set(limits) - set(out)
        if unknown:
            raise ValidationError(
                [
                    Problem(
                        None,
                        None,
                        f"temperature limits are per limb {sorted(out)}; got {sorted(unknown)}",
                    )
                ]
            )
        out.update({k: number(v, k) for k, v in limits.items()})
    else:
        out = dict.fromkeys(out, number(limits, "both limbs"))
    return out


def _nerve_index(frame: pd.DataFrame) -> pd.MultiIndex:
    keys = ("patient_id", "visit", "nerve", "side") if "visit" in frame else _NERVE
    return pd.MultiIndex.from_arrays(
        [frame[c].astype("string").to_numpy(dtype=object, na_value=None) for c in keys]
    )


def cold_limbs(
    sites: pd.DataFrame,
    tables: Mapping[str, pd.DataFrame],
    limits: Mapping[str, float] | float | None = None,
) -> dict[str, pd.DataFrame]:
    """Add a ``cold_limb`` column (``yes``/``no``/``not_assessable``) to tables keyed by nerve.

    ``yes`` when any known ``temperature_c`` of the nerve's rows is below the limit of its
    limb (its findings may be distorted: cooling slows conduction and raises amplitudes and
    durations); ``no`` when temperatures are known and none is below; ``not_assessable``
    when no temperature was given or the nerve belongs to no limb in :data:`LIMB_OF_NERVE`.

    Parameters
    ----------
    sites : pandas.DataFrame
        Validated sites.
    tables : mapping of str to pandas.DataFrame
        Tables with ``patient_id``, ``nerve`` and ``side`` columns (findings, nerves).
    limits : mapping or float, optional
        See :func:`temperature_limits`.

    Returns
    -------
    dict of str to pandas.DataFrame
        The same tables (shallow copies) with ``cold_limb`` added.

    References
    ----------
    .. [1] Van den Bergh PYK, et al. European Federation of Neurological Societies/Peripheral
       Nerve Society guideline on management of chronic inflammatory demyelinating
       polyradiculoneuropathy. Eur J Neurol 2010;17:356-363 (temperature good practice
       point; the numbers used here are not confirmed against the text).
    """
    lims = temperature_limits(limits)
    out: dict[str, pd.DataFrame] = {}
    temp = _column(sites, "temperature_c")
    has_temp = bool((~np.isnan(temp)).any())
    if has_temp:
        limb = sites["nerve"].astype("string").map(LIMB_OF_NERVE).to_numpy(dtype=object)
        limit = np.array([lims.get(x, np.nan) if x else np.nan for x in (None, "upper", "lower")])
        code = np.where(limb == "upper", 1, np.where(limb == "lower", 2, 0))
        row_limit = limit[code]
        with np.errstate(invalid="ignore"):
            cold_row = np.where(np.isnan(temp) | np.isnan(row_limit), np.nan, temp < row_limit)
        index = _nerve_index(sites)
        nerve_codes, uniques = pd.factorize(index)
        cold = np.full(len(uniques), -np.inf)
        known = ~np.isnan(cold_row)
        np.maximum.at(cold, nerve_codes[known], cold_row[known])
        cold = np.where(np.isinf(cold), np.nan, cold)
    for name, table in tables.items():
        frame = table.copy(deep=False)
        values = np.full(len(frame), np.nan)
        if has_temp and len(frame):
            pos = pd.Index(uniques).get_indexer(_nerve_index(frame))
            values = np.where(pos >= 0, cold[pos], np.nan)
        codes = np.where(np.isnan(values), 2, np.where(values == 1.0, 0, 1)).astype(np.int8)
        frame["cold_limb"] = pd.Categorical.from_codes(codes, categories=list(COLD_LIMB_VALUES))
        out[name] = frame
    return out


def cold_limb_codes(
    sorted_sites: pd.DataFrame,
    site_nerve: np.ndarray,
    n_nerves: int,
    limits: Mapping[str, float],
) -> np.ndarray:
    """Per nerve id: index into :data:`COLD_LIMB_VALUES` (yes / no / not_assessable).

    The array form of :func:`cold_limbs` for the analysis pipeline (sites sorted by nerve,
    ``site_nerve`` their nerve ids): no per-nerve Python and no key matching.
    """
    out = np.full(n_nerves, 2, dtype=np.int8)
    if n_nerves == 0 or "temperature_c" not in sorted_sites.columns:
        return out
    temp = _column(sorted_sites, "temperature_c")
    if np.isnan(temp).all():
        return out
    nerve = sorted_sites["nerve"].to_numpy(dtype=object)
    limb_codes, limb_names = pd.factorize(nerve)
    per_name = np.array(
        [
            lims if (lims := limits.get(LIMB_OF_NERVE.get(str(x), ""), np.nan)) else np.nan
            for x in limb_names
        ]
        + [np.nan],
        dtype=float,
    )
    row_limit = per_name[limb_codes]
    known = ~np.isnan(temp) & ~np.isnan(row_limit)
    cold = np.full(n_nerves, -1.0)
    np.maximum.at(cold, site_nerve[known], (temp[known] < row_limit[known]).astype(float))
    return np.where(cold == 1.0, 0, np.where(cold == 0.0, 1, 2)).astype(np.int8)


# --------------------------------------------------------------------------------------
# Values that cannot be a CMAP: never judged as data
# --------------------------------------------------------------------------------------

IMPLAUSIBLE_LIMITS: Mapping[str, float] = MappingProxyType(
    {
        "amplitude_max_mv": 50.0,
        "amplitude_min_mv": 0.01,
        "area_max_mvms": 200.0,
        "duration_max_ms": 100.0,
        "duration_min_ms": 0.5,
        "rise_max": 3.0,
        "declared_uv_max_mv": 0.05,
    }
)
"""Where a value stops being a CMAP and becomes a slip (not cited: see
:data:`IMPLAUSIBLE_REASONS`; every segment such a value enters is ``not_assessable``).

``amplitude_max_mv``
    A negative-peak CMAP amplitude above 50 mV: the largest normal means reported are about
    15 mV (tibial, abductor hallucis, 15.3 ± 4.5 mV in Buschbacher 1999), so 50 mV is more
    than 7 SD above them, while a value typed in µV (× 1000) lands far above it.
``amplitude_min_mv``
    A present response below 0.01 mV (10 µV) is within the noise of any motor recording;
    no response is written ``absent`` (``NR``).
``area_max_mvms``
    A negative-peak area above 200 mV·ms, several times the largest normal areas (tens of
    mV·ms), while a value typed in µV·ms lands far above it.
``duration_max_ms``
    A negative-peak CMAP duration above 100 ms: normal ones are about 4-7 ms and even a
    markedly dispersed response lasts a few tens of ms, while a value typed in µs (× 1000)
    lands far above it. A slip by a factor of ten that stays within the limits (5.2 typed as
    52) is not caught here.
``duration_min_ms``
    A present response lasting less than 0.5 ms is not a CMAP (a stimulus artefact, or a
    value typed in seconds).
``rise_max``
    A proximal response more than 3 × the distal one. A modest rise is physiology or
    technique (a Martin-Gruber anastomosis adds median-to-ulnar fibres above the wrist;
    submaximal distal stimulation gives a smaller distal response); three times is beyond
    both, while a unit slip (× 1000) or swapped site labels give far more. Such a segment
    is not judged either way.
``declared_uv_max_mv``
    When amplitudes were declared in µV and every one of them is below 0.05 mV after the
    conversion, they were in mV already (a ``ValidationError``).
"""

IMPLAUSIBLE_REASONS: Mapping[str, str] = MappingProxyType(
    {
        "amplitude_high": "above {amplitude_max_mv:g} mV, no CMAP is this large (µV typed as mV?)",
        "amplitude_low": "a present response below {amplitude_min_mv:g} mV is noise "
        "(no response is written NR)",
        "area_high": "above {area_max_mvms:g} mV·ms, no CMAP area is this large "
        "(µV·ms typed as mV·ms?)",
        "duration_high": "above {duration_max_ms:g} ms, no CMAP lasts this long (µs typed as ms?)",
        "duration_low": "below {duration_min_ms:g} ms, no CMAP is this short (seconds typed "
        "as ms, or a stimulus artefact?)",
        "rise": "more than {rise_max:g} × the distal response (a unit slip, swapped sites or "
        "submaximal distal stimulation?)",
    }
)
"""The words for each implausible value (filled in from :data:`IMPLAUSIBLE_LIMITS`)."""


def _reason(code: str) -> str:
    return IMPLAUSIBLE_REASONS[code].format(**IMPLAUSIBLE_LIMITS)


def implausible_cells(valid: pd.DataFrame) -> dict[str, np.ndarray]:
    """Masks of the amplitude, area and duration cells that cannot be a CMAP (present
    responses only).

    Returns
    -------
    dict
        ``amplitude_mv``, ``area_mvms`` and ``duration_ms``: boolean masks in ``valid``'s
        row order; ``amplitude_code``, ``area_code`` and ``duration_code``: the
        :data:`IMPLAUSIBLE_REASONS` key per row (``None`` where the value is plausible), or
        ``None`` instead of the array when no value of that kind is implausible (the usual
        case: no array of a million ``None`` is made).
    """
    n = len(valid)
    present = ~_column_equals(valid, "response", "absent")
    amp = _column(valid, "amplitude_mv")
    area = _column(valid, "area_mvms")
    dur = _column(valid, "duration_ms")
    lim = IMPLAUSIBLE_LIMITS
    with np.errstate(invalid="ignore"):
        amp_high = present & (amp > lim["amplitude_max_mv"])
        amp_low = present & (amp > 0) & (amp < lim["amplitude_min_mv"])
        area_high = present & (area > lim["area_max_mvms"])
        dur_high = present & (dur > lim["duration_max_ms"])
        dur_low = present & (dur > 0) & (dur < lim["duration_min_ms"])
    return {
        "amplitude_mv": amp_high | amp_low,
        "area_mvms": area_high,
        "duration_ms": dur_high | dur_low,
        "amplitude_code": _codes(n, amplitude_high=amp_high, amplitude_low=amp_low),
        "area_code": _codes(n, area_high=area_high),
        "duration_code": _codes(n, duration_high=dur_high, duration_low=dur_low),
    }


def _codes(n: int, **masks: np.ndarray) -> np.ndarray | None:
    """The :data:`IMPLAUSIBLE_REASONS` key of each row a mask flags (None elsewhere); None
    when no row is flagged."""
    if not any(m.any() for m in masks.values()):
        return None
    out = np.full(n, None, dtype=object)
    for code, mask in masks.items():
        out[mask] = code
    return out


def _column_equals(valid: pd.DataFrame, name: str, value: str) -> np.ndarray:
    if name not in valid.columns:
        return np.zeros(len(valid), dtype=bool)
    return equals_mask(valid[name], value)


def warn_implausible(valid: pd.DataFrame, cells: Mapping[str, np.ndarray] | None = None) -> None:
    """One warning per implausible cell kind, naming its rows (:func:`ncs.errors.warn`)."""
    cells = implausible_cells(valid) if cells is None else cells
    rows = valid["input_row"].to_numpy(dtype=np.int64) if len(valid) else np.zeros(0, int)
    for column, code_column, kinds in (
        ("amplitude_mv", "amplitude_code", ("amplitude_high", "amplitude_low")),
        ("area_mvms", "area_code", ("area_high",)),
        ("duration_ms", "duration_code", ("duration_high", "duration_low")),
    ):
        codes = cells.get(code_column)
        if codes is None:  # none of this kind (the usual case)
            continue
        for code in kinds:
            hit = np.flatnonzero(codes == code)
            if not hit.size:
                continue
            shown = ", ".join(f"row {int(r)}" for r in rows[hit][:5])
            more = f" and {hit.size - 5} more" if hit.size > 5 else ""
            warn(
                f"implausible_{column.split('_')[0]}",
                f"{hit.size} {column} value(s) {_reason(code)} ({shown}{more}); the "
                "segments they enter are not judged (not_assessable)",
                rows[hit],
                column,
                stacklevel=4,
            )


def declared_unit_problems(
    amplitude_mv: np.ndarray,
    absent: np.ndarray,
    units: Mapping[str, str] | None,
    declared_by: str | None = None,
) -> list[Problem]:
    """A whole table declared in µV whose every converted amplitude is below
    ``declared_uv_max_mv``: the values were in mV already.

    The declaration is ``units={'amplitude': 'uV'}``, or ``declared_by``: what said µV (an
    ``amplitude_uv`` column, wide headers in µV) and its fix, in words for the message.
    """
    declared = str((units or {}).get("amplitude", "")).strip().lower()
    if declared not in ("uv", "µv", "μv", "microvolt", "microvolts") and declared_by is None:
        return []
    present = amplitude_mv[~absent & ~np.isnan(amplitude_mv)]
    limit = IMPLAUSIBLE_LIMITS["declared_uv_max_mv"]
    if present.size and (present < limit).all():
        fix = (
            declared_by
            if declared_by is not None
            else "drop units={'amplitude': 'uV'} (command line: --units amplitude=uV)"
        )
        return [
            Problem(
                None,
                "amplitude_mv",
                f"amplitudes were declared in µV, but every one is below {limit:g} mV after "
                f"the conversion: they look like mV already; {fix}",
            )
        ]
    return []


def rise_reason() -> str:
    """The words for a proximal response too large against the distal one."""
    return _reason("rise")


def cell_reason(code: str) -> str:
    """The words for an implausible cell (a key of :data:`IMPLAUSIBLE_REASONS`)."""
    return _reason(code)


def side_typos(valid: pd.DataFrame, nerve_id: np.ndarray) -> None:
    """Warn where a patient's nerve has one site on each side: a side typed wrong on one row
    splits one nerve into two one-site nerves, and its segments disappear."""
    if len(valid) == 0:
        return
    n_nerves = int(nerve_id.max()) + 1
    n_sites = np.bincount(nerve_id, minlength=n_nerves)
    single = n_sites[nerve_id] == 1
    if single.sum() < 2:
        return
    rows = np.flatnonzero(single)
    frame = pd.DataFrame(
        {
            "patient": valid["patient_id"].astype(object).to_numpy()[rows],
            "nerve": valid["nerve"].astype(object).to_numpy()[rows],
            "side": valid["side"].astype(object).to_numpy()[rows],
            "row": valid["input_row"].to_numpy(dtype=np.int64)[rows],
        }
    )
    group = ["patient", "nerve"]
    if "visit" in valid.columns:  # one study: one visit of the patient
        frame["visit"] = valid["visit"].astype(object).to_numpy()[rows]
        group = ["patient", "visit", "nerve"]
    sides = frame.groupby(group, sort=False, observed=True)["side"].transform("nunique")
    both = frame[sides.to_numpy() == 2]
    if both.empty:
        return
    pairs = both.groupby(group, sort=False, observed=True).ngroups
    shown = ", ".join(f"row {int(r)}" for r in both["row"].to_numpy()[:6])
    warn(
        "side_typo",
        f"{pairs} nerve(s) stimulated at one site on each side ({shown}): is a side typed "
        "wrong? Each is judged as a one-site nerve with no segment",
        both["row"].to_numpy(),
        "side",
        stacklevel=4,
    )
