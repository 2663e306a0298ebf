"""Per-nerve measures (distal latency, velocity, F waves, distal CMAP duration) and limits.

One row per nerve, computed column-wise from the sorted sites and the segments. These are the
inputs of the guideline schemes' nerve-level items (:mod:`ncs.schemes`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ncs._codes import equals_mask, floats, labels
from ncs.errors import Problem, ValidationError, warn
from ncs.normative import LIMIT_COLUMNS, limits_for, other_muscle, reference_table

__all__ = ["NERVE_MEASURES", "nerve_measures"]

NERVE_MEASURES: tuple[str, ...] = (
    "muscle",
    "dml_ms",
    "distal_amplitude_mv",
    "distal_response",
    "mcv_m_s",
    "f_latency_ms",
    "f_persistence_pct",
    "f_absent",
    "distal_duration_ms",
    "lff_hz",
    *LIMIT_COLUMNS,
)
"""Per-nerve columns: measures, then the reference limits applied."""

#: Per-nerve values that may be given on any one row of the nerve (all rows must agree).
_NERVE_VALUES = ("f_latency_ms", "f_persistence_pct", "lff_hz", *LIMIT_COLUMNS)


def _labels(column: pd.Series, rows: np.ndarray) -> np.ndarray:
    """Some rows of a text column as an object array (missing -> None)."""
    if isinstance(column.array, pd.Categorical):
        return labels(column.array, rows)
    return column.iloc[rows].to_numpy(dtype=object, na_value=None)


def _first_per_nerve(
    values: np.ndarray, nerve: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """First known value of each nerve (sorted order), and whether known values disagree.

    ``nerve`` is the sorted sites' nerve id, so each nerve's rows are contiguous and the
    first row of each run of known values is found without a sort.
    """
    out = np.full(n, np.nan)
    conflict = np.zeros(n, dtype=bool)
    idx = np.flatnonzero(~np.isnan(values))
    if idx.size == 0:
        return out, conflict
    ids = nerve[idx]
    if bool((ids[1:] >= ids[:-1]).all()):
        first = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    else:  # not grouped (never from build_segments): the first occurrence by sorting
        first = np.unique(ids, return_index=True)[1]
    out[ids[first]] = values[idx[first]]
    conflict[ids[values[idx] != out[ids]]] = True  # values differ iff one differs from the first
    return out, conflict


def nerve_measures(
    sorted_sites: pd.DataFrame,
    site_nerve: np.ndarray,
    segments: pd.DataFrame,
    segment_nerve: np.ndarray,
    reference: pd.DataFrame | None = None,
    *,
    limits: bool = True,
    fallback: bool = False,
) -> tuple[dict[str, np.ndarray], str]:
    """Measures and reference limits of every nerve.

    Parameters
    ----------
    sorted_sites, site_nerve, segments, segment_nerve
        Output of :func:`ncs.segments.build_segments`.
    reference : pandas.DataFrame, optional
        A lab's reference table (see :func:`ncs.normative.reference_table`).
    limits : bool, default True
        Look the reference limits up (False: only per-row limit columns are used, and the
        reference name is ``"none"``).
    fallback : bool, default False
        For a nerve the laboratory's table does not list, use the shipped defaults (named in
        the returned reference name). Without it such a nerve has no limits and a warning
        names it.

    Returns
    -------
    measures : dict of numpy.ndarray
        :data:`NERVE_MEASURES`, one value per nerve id. ``dml_ms`` and
        ``distal_amplitude_mv`` are read at the most distal site; ``mcv_m_s`` is the slowest
        known adjacent-segment velocity (segments with an absent response have none), with
        ``cv_n_measurable`` and ``cv_n_unknown`` counting the segments that have one and those
        whose velocity is unknown, and ``n_segments`` the adjacent segments; ``f_absent`` is
        1.0 where F-wave persistence is 0, 0.0 where F waves were recorded, NaN where
        unknown; per-nerve values (F waves, filter, per-row limits) may be given on any one
        row of the nerve.
    reference_name : str
        Which reference table supplied the limits.

    Raises
    ------
    ValidationError
        When a per-nerve value is given with different values on rows of one nerve.
    """
    n = int(site_nerve.max()) + 1 if len(site_nerve) else 0
    first = (
        np.flatnonzero(np.r_[True, site_nerve[1:] != site_nerve[:-1]]) if n else np.zeros(0, int)
    )
    out: dict[str, np.ndarray] = {}
    lat = sorted_sites["latency_ms"].to_numpy(dtype=float)
    amp = sorted_sites["amplitude_mv"].to_numpy(dtype=float)
    out["dml_ms"] = lat[first]
    out["distal_amplitude_mv"] = amp[first]
    out["distal_response"] = _labels(sorted_sites["response"], first)
    out["distal_absent"] = np.asarray(out["distal_response"] == "absent", dtype=bool)
    if "muscle" in sorted_sites.columns:
        out["muscle"] = _labels(sorted_sites["muscle"], first)
    else:
        out["muscle"] = np.full(n, None, dtype=object)

    cv = floats(segments["cv_m_s"])
    adjacent = equals_mask(segments["comparison"], "adjacent")
    # a segment with an absent response has no velocity to measure (not an unknown one)
    measurable = adjacent.copy()
    for col in ("distal_response", "proximal_response"):
        if col in segments.columns:
            measurable &= ~equals_mask(segments[col], "absent")
    known = measurable & ~np.isnan(cv)
    mcv = np.full(n, np.inf)
    np.minimum.at(mcv, segment_nerve[known], cv[known])
    out["mcv_m_s"] = np.where(np.isinf(mcv), np.nan, mcv)
    out["cv_n_measurable"] = np.bincount(segment_nerve[measurable], minlength=n).astype(float)
    out["cv_n_unknown"] = np.bincount(segment_nerve[measurable & np.isnan(cv)], minlength=n).astype(
        float
    )
    out["n_segments"] = np.bincount(segment_nerve[adjacent], minlength=n).astype(float)

    problems: list[Problem] = []
    rows = sorted_sites["input_row"].to_numpy()
    for col in _NERVE_VALUES:
        if col not in sorted_sites.columns:
            out[col] = np.full(n, np.nan)
            continue
        values = floats(sorted_sites[col])
        out[col], conflict = _first_per_nerve(values, site_nerve, n)
        bad = conflict[site_nerve] & ~np.isnan(values)
        for i in np.flatnonzero(bad):
            problems.append(
                Problem(int(rows[i]), col, "differs between rows of the same nerve (give it once)")
            )
    if problems:
        raise ValidationError(sorted(problems, key=lambda p: p.row))
    out["f_persistence_pct"] = out["f_persistence_pct"]
    persistence = out["f_persistence_pct"]
    out["f_absent"] = np.where(
        persistence == 0,
        1.0,
        np.where((persistence > 0) | ~np.isnan(out["f_latency_ms"]), 0.0, np.nan),
    )
    if "distal_duration_ms" in sorted_sites.columns:
        dd = floats(sorted_sites["distal_duration_ms"])
        out["distal_duration_ms"], _ = _first_per_nerve(dd, site_nerve, n)
    else:
        out["distal_duration_ms"] = np.full(n, np.nan)

    if not limits:
        return out, "none"
    table, name = reference_table(reference)
    nerves = _labels(sorted_sites["nerve"], first)
    looked_up = limits_for(nerves, out["muscle"], table)
    given = np.zeros(n, dtype=bool)  # per-row limits of the nerve's own rows
    for col in LIMIT_COLUMNS:
        given |= ~np.isnan(out[col])
    absent = ~np.isin(nerves, table["nerve"].to_numpy(dtype=object)) & ~given
    if absent.any():
        missing = sorted({str(x) for x in nerves[absent]})
        if fallback and reference is not None:
            default, _ = reference_table(None)
            backup = limits_for(nerves, out["muscle"], default)
            for col in LIMIT_COLUMNS:
                looked_up[col] = np.where(absent, backup[col], looked_up[col])
            name = f"{name} + ncs defaults for: {', '.join(missing)}"
        else:
            rows = sorted_sites["input_row"].to_numpy(dtype=np.int64)[first[absent]]
            advice = (
                "add it to the table, or pass reference_fallback=True to use the shipped "
                "defaults for it (recorded in the result)"
                if reference is not None
                else "pass a reference table that has it"
            )
            warn(
                "reference_missing_nerve",
                f"no reference limits for the {', '.join(missing)} nerve(s) in "
                f"{'the reference table' if reference is not None else 'the shipped table'}: "
                f"the items that need limits are not assessable there; {advice}",
                rows,
                "nerve",
                stacklevel=4,
            )
    other = other_muscle(nerves, out["muscle"], table) & ~given & ~absent
    if other.any():  # the table has the nerve at other muscles only: no limits of its own
        rows = sorted_sites["input_row"].to_numpy(dtype=np.int64)[first[other]]
        pairs = zip(nerves[other], out["muscle"][other], strict=True)
        what = sorted({f"the {x} nerve recorded at {m}" for x, m in pairs})
        advice = (
            "add a row for the muscle, or one without a muscle (any muscle)"
            if reference is not None
            else "pass a reference table that has it"
        )
        warn(
            "reference_other_muscle",
            f"no reference limits for {', '.join(what)}: "
            f"{'the reference table' if reference is not None else 'the shipped table'} has "
            "the nerve at other muscles only, and another muscle's limits are not used, so "
            f"the items that need limits are not assessable there; {advice}",
            rows,
            "muscle",
            stacklevel=4,
        )
    for col in LIMIT_COLUMNS:  # per-row columns of the same name override the table
        out[col] = np.where(np.isnan(out[col]), looked_up[col], out[col])
    return out, name
