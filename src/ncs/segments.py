"""Segments: pairs of stimulation sites of one nerve, with their conduction measures."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ncs._codes import (
    ColumnCache,
    categorical,
    combined_key,
    constant,
    from_codes,
    from_labels,
    labels,
    sorted_codes,
    table,
    take,
)
from ncs.errors import warn
from ncs.measures import percent_change, percent_drop
from ncs.names import ENTRAPMENT_ZONES, entrapment_codes, site_rank_codes
from ncs.plausibility import IMPLAUSIBLE_LIMITS, cell_reason, implausible_cells, rise_reason
from ncs.schema import NERVE_KEYS, validate, visit_ranks

__all__ = ["SEGMENT_COLUMNS", "segment_keys", "segments", "sort_sites"]

SEGMENT_KEYS: tuple[str, ...] = (
    "patient_id",
    "nerve",
    "side",
    "distal_site",
    "proximal_site",
    "comparison",
)
"""Columns that identify a segment (and, with ``criterion``, a finding); with visits,
``visit`` follows ``patient_id`` (:func:`segment_keys`)."""


def segment_keys(columns) -> tuple[str, ...]:
    """:data:`SEGMENT_KEYS`, with ``visit`` after ``patient_id`` when ``columns`` has it."""
    if "visit" in columns:
        return (SEGMENT_KEYS[0], "visit", *SEGMENT_KEYS[1:])
    return SEGMENT_KEYS


SEGMENT_COLUMNS: tuple[str, ...] = (
    *SEGMENT_KEYS,
    "distance_mm",
    "cv_m_s",
    "amp_drop_pct",
    "area_drop_pct",
    "dur_change_pct",
    "distal_amplitude_mv",
    "proximal_amplitude_mv",
    "distal_area_mvms",
    "proximal_area_mvms",
    "distal_duration_ms",
    "proximal_duration_ms",
    "distal_latency_ms",
    "proximal_latency_ms",
    "distal_response",
    "proximal_response",
    "distal_site_order",
    "proximal_site_order",
    "from_most_distal",
    "distal_row",
    "proximal_row",
    "pp_amp_drop_pct",
    "area_or_pp_drop_pct",
    "entrapment",
    "implausible",
    "amp_lln_mv",
)
"""Columns of :func:`segments` output, in order."""

#: Conduction velocities outside this range raise an NcsWarning (distance unit or site mix-up).
_CV_PLAUSIBLE_M_S = (10.0, 100.0)


def sort_sites(
    sites: pd.DataFrame, visits: Sequence[str] | None = None
) -> tuple[pd.DataFrame, np.ndarray]:
    """Sites sorted by nerve key values, then distal to proximal; plus a nerve id per row.

    The order depends only on the key values, never on input row order. With a ``visit``
    column a patient's visits come in their order (:func:`ncs.schema.visit_table`).
    """
    codes = [sorted_codes(sites[col])[0] for col in NERVE_KEYS]
    rank = visit_ranks(sites, visits)
    if rank is not None:
        codes.insert(1, rank)
    order = sites["site_order"].to_numpy(dtype=np.int64)
    nerve_key = combined_key(codes)
    key = None if nerve_key is None else combined_key([nerve_key, order])
    n = len(order)
    if key is None:  # too many distinct values for one int64 key
        idx = np.lexsort((order, *codes[::-1]))
    elif n < 2 or bool((key[1:] > key[:-1]).all()):
        idx = None  # already in order (files grouped by patient usually are)
    else:
        idx = np.argsort(key, kind="stable")
    if idx is None:
        sorted_sites = sites.copy(deep=False)  # a new frame sharing the (unchanged) columns
        if not sites.index.equals(pd.RangeIndex(n)):
            sorted_sites = sites.reset_index(drop=True)
        keys = np.stack(codes, axis=1) if nerve_key is None else nerve_key
    else:
        sorted_sites = sites.iloc[idx].reset_index(drop=True)
        keys = np.stack([c[idx] for c in codes], axis=1) if nerve_key is None else nerve_key[idx]
    new_nerve = np.ones(n, dtype=bool)
    if n > 1:
        change = keys[1:] != keys[:-1]
        new_nerve[1:] = change.any(axis=1) if change.ndim == 2 else change
    nerve_id = np.cumsum(new_nerve) - 1
    return sorted_sites, nerve_id


def segments(
    sites: pd.DataFrame,
    *,
    units: Mapping[str, str] | None = None,
    validated: bool = False,
    visits: Sequence[str] | None = None,
) -> pd.DataFrame:
    """One row per comparison of two stimulation sites of a nerve.

    Two kinds of comparison are made, told apart by ``comparison``:

    * ``"adjacent"``: each site against its next more distal neighbour;
    * ``"distal"``: each site from the third one on against the most distal site (the
      second site against the most distal one is already the first adjacent pair and is not
      repeated).

    Parameters
    ----------
    sites : pandas.DataFrame
        Tidy sites table (validated here unless ``validated=True``).
    units : mapping, optional
        Units of the input columns, passed to :func:`ncs.validate`.
    validated : bool, default False
        Skip validation because ``sites`` is the output of :func:`ncs.validate`.
    visits : sequence of str, optional
        The order of the visit labels (serial studies), as for :func:`ncs.validate`.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`SEGMENT_COLUMNS` (with ``visit`` after ``patient_id`` when the sites
        have visits). ``distance_mm`` is the nerve length between the two
        sites, ``cv_m_s`` the conduction velocity over it (distance / latency difference),
        ``amp_drop_pct`` and ``area_drop_pct`` the fall of the proximal response relative to
        the distal one, ``dur_change_pct`` the signed change of negative-peak duration.
        Measures that cannot be computed are NaN (never zero). ``distal_row`` and
        ``proximal_row`` point back to the input rows. Text columns (keys, site names,
        ``comparison``, responses, ``entrapment``) are pandas ``category`` over their sorted
        values.

    Notes
    -----
    ``amp_drop_pct = 100 (A_distal - A_proximal) / A_distal``; ``dur_change_pct = 100
    (D_proximal - D_distal) / D_distal``; ``cv_m_s = distance_mm / (L_proximal - L_distal)``
    (mm/ms = m/s). An absent proximal response (with a distal response) is a 100 % drop; an
    absent distal response makes every measure of the segment unknown.

    Warns
    -----
    NcsWarning
        When conduction velocities fall outside 10-100 m/s (distances in cm?).
    """
    if not validated:
        sites = validate(sites, units=units, visits=visits)
    seg, _, _, _ = build_segments(sites, implausible=implausible_cells(sites), visits=visits)
    return seg


def build_segments(
    sites: pd.DataFrame,
    *,
    nerve_id: np.ndarray | None = None,
    site_sort: np.ndarray | None = None,
    implausible: Mapping[str, np.ndarray] | None = None,
    visits: Sequence[str] | None = None,
) -> tuple[pd.DataFrame, np.ndarray, ColumnCache, np.ndarray]:
    """Segments of validated sites, plus the ids that tie them to nerves.

    Parameters
    ----------
    sites : pandas.DataFrame
        Validated sites.
    nerve_id, site_sort : numpy.ndarray, optional
        From validation: each row's nerve id (dense, in key order) and the permutation
        putting the rows in nerve and site order (None: already in it). Without
        ``nerve_id`` the rows are sorted here (:func:`sort_sites`).
    implausible : mapping, optional
        :func:`ncs.plausibility.implausible_cells` of ``sites`` (in its row order): those
        amplitudes and areas enter no percentage and no distal amplitude (they are unknown
        to every rule), and each segment they enter says why in ``implausible``.
    visits : sequence of str, optional
        The order of the visit labels, for sorting here (without ``nerve_id``).

    Returns
    -------
    segments : pandas.DataFrame
        As :func:`segments`, grouped by nerve in key order.
    segment_nerve : numpy.ndarray
        Nerve id of each segment (position in the sorted nerve list).
    sorted_sites : ColumnCache
        The sites sorted by nerve keys, then distal to proximal (columns gathered when
        first read).
    site_nerve : numpy.ndarray
        Nerve id of each sorted site.
    """
    if nerve_id is None:
        sorted_frame, nerve_id = sort_sites(sites, visits)
        s = ColumnCache(sorted_frame)
    elif site_sort is None:
        s = ColumnCache(sites.reset_index(drop=True) if _odd_index(sites) else sites)
    else:
        s = ColumnCache(sites, rows=site_sort)
        nerve_id = nerve_id[site_sort]
    n = len(s)
    pos = np.arange(n)
    first = np.zeros(n, dtype=np.int64)
    n_sites = np.bincount(nerve_id) if n else np.zeros(0, dtype=np.int64)
    if n:
        starts = np.flatnonzero(np.r_[True, nerve_id[1:] != nerve_id[:-1]])
        first = starts[nerve_id]
    position = pos - first

    # Deterministic order, placed directly (no sort): nerve by nerve, its adjacent segments
    # distal to proximal, then its comparisons against the most distal site.
    n_adjacent = np.maximum(n_sites - 1, 0)
    n_far = np.maximum(n_sites - 2, 0)
    offset = np.cumsum(n_adjacent + n_far) - (n_adjacent + n_far)
    total = int((n_adjacent + n_far).sum())
    distal = np.empty(total, dtype=np.int64)
    proximal = np.empty(total, dtype=np.int64)
    is_far = np.zeros(total, dtype=bool)
    adj_prox = pos[position >= 1]
    at = offset[nerve_id[adj_prox]] + position[adj_prox] - 1
    distal[at], proximal[at] = adj_prox - 1, adj_prox
    far_prox = pos[position >= 2]
    nid = nerve_id[far_prox]
    at = offset[nid] + n_adjacent[nid] + position[far_prox] - 2
    distal[at], proximal[at], is_far[at] = first[far_prox], far_prox, True

    # Nerve length between sites: sum of per-site distances strictly above the distal site.
    dist = s["distance_mm"].to_numpy(dtype=float)
    dist_known = np.where(np.isnan(dist), 0.0, dist)
    dist_nan = np.isnan(dist).astype(np.int64)
    csum = np.cumsum(dist_known)
    cnan = np.cumsum(dist_nan)
    length = csum[proximal] - csum[distal]
    unknown_length = (cnan[proximal] - cnan[distal]) > 0
    length = np.where(unknown_length, np.nan, length)

    lat = s["latency_ms"].to_numpy(dtype=float)
    amp = s["amplitude_mv"].to_numpy(dtype=float)
    area = s["area_mvms"].to_numpy(dtype=float)
    dur = s["duration_ms"].to_numpy(dtype=float)
    keys = ("patient_id", "visit") if "visit" in s.columns else ("patient_id",)
    text = {c: categorical(s[c]) for c in (*keys, "nerve", "side", "site", "response")}
    resp = text["response"]
    absent = np.asarray(resp == "absent", dtype=bool)
    distal_present = ~absent[distal]
    notes, amp_rise, area_rise = None, np.zeros(distal.size, bool), np.zeros(distal.size, bool)
    if implausible is not None:
        amp, area, dur, notes, amp_rise, area_rise = _set_aside(
            amp, area, dur, implausible, site_sort, distal, proximal, absent, text["site"]
        )

    with np.errstate(divide="ignore", invalid="ignore"):
        dlat = lat[proximal] - lat[distal]
        cv = np.where(dlat > 0, length / dlat, np.nan)

    amp_d = np.where(distal_present, amp[distal], np.nan)
    area_d = np.where(distal_present, area[distal], np.nan)
    out = {
        **{k: take(text[k], distal) for k in keys},
        "nerve": take(text["nerve"], distal),
        "side": take(text["side"], distal),
        "distal_site": take(text["site"], distal),
        "proximal_site": take(text["site"], proximal),
        "comparison": from_codes(is_far.astype(np.int8), COMPARISON_VALUES),
        "distance_mm": length,
        "cv_m_s": cv,
        "amp_drop_pct": np.where(amp_rise, np.nan, percent_drop(amp_d, amp[proximal])),
        "area_drop_pct": np.where(area_rise, np.nan, percent_drop(area_d, area[proximal])),
        "dur_change_pct": percent_change(dur[distal], dur[proximal]),
        "distal_amplitude_mv": np.where(amp_rise, np.nan, amp[distal]),
        "proximal_amplitude_mv": amp[proximal],
        "distal_area_mvms": area[distal],
        "proximal_area_mvms": area[proximal],
        "distal_duration_ms": dur[distal],
        "proximal_duration_ms": dur[proximal],
        "distal_latency_ms": lat[distal],
        "proximal_latency_ms": lat[proximal],
        "distal_response": take(resp, distal),
        "proximal_response": take(resp, proximal),
        "distal_site_order": s["site_order"].to_numpy(dtype=np.int64)[distal],
        "proximal_site_order": s["site_order"].to_numpy(dtype=np.int64)[proximal],
        "from_most_distal": position[distal] == 0,
        "distal_row": s["input_row"].to_numpy(dtype=np.int64)[distal],
        "proximal_row": s["input_row"].to_numpy(dtype=np.int64)[proximal],
    }
    if "pp_amplitude_mv" in s.columns:
        pp = s["pp_amplitude_mv"].to_numpy(dtype=float)
        pp_d = np.where(distal_present, pp[distal], np.nan)
        out["pp_amp_drop_pct"] = percent_drop(pp_d, pp[proximal])
    else:
        out["pp_amp_drop_pct"] = np.full(distal.size, np.nan)
    # "drop in negative-peak area or peak-to-peak amplitude" (AAN 1991): either one that was
    # measured; where both were, the larger drop
    out["area_or_pp_drop_pct"] = np.fmax(out["area_drop_pct"], out["pp_amp_drop_pct"])
    nerve, site = text["nerve"], text["site"]
    nerve_codes, nerve_names = np.asarray(nerve.codes), list(nerve.categories)
    rank = site_rank_codes(nerve_codes, nerve_names, np.asarray(site.codes), list(site.categories))
    zone = entrapment_codes(nerve_codes[distal], nerve_names, rank[distal], rank[proximal])
    out["entrapment"] = from_codes(zone, [z[3] for z in ENTRAPMENT_ZONES])
    out["implausible"] = constant(None, distal.size) if notes is None else from_labels(notes)
    out["amp_lln_mv"] = np.full(distal.size, np.nan)  # filled by analyze from the reference
    seg = table(out, distal.size)
    _warn_cv(cv, out["proximal_row"])
    return seg, nerve_id[distal], s, nerve_id


def _set_aside(
    amp: np.ndarray,
    area: np.ndarray,
    dur: np.ndarray,
    implausible: Mapping[str, np.ndarray],
    site_sort: np.ndarray | None,
    distal: np.ndarray,
    proximal: np.ndarray,
    absent: np.ndarray,
    sites: pd.Categorical,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None, np.ndarray, np.ndarray]:
    """Amplitudes, areas and durations that cannot be a CMAP set to unknown, with a note per
    segment they enter (``None`` if none), and the segments whose proximal response rises
    more than any conduction gives (amplitude, area)."""

    def sort(values: np.ndarray) -> np.ndarray:
        values = np.asarray(values)
        return values if site_sort is None else values[site_sort]

    amp_bad, area_bad = sort(implausible["amplitude_mv"]), sort(implausible["area_mvms"])
    dur_bad = sort(implausible.get("duration_ms", np.zeros(amp.size, dtype=bool)))

    def code(kind: str, row: int) -> str:
        """The reason key of one implausible cell (a sorted row)."""
        codes = implausible[kind]
        return codes[row if site_sort is None else site_sort[row]]

    both = ~absent[distal] & ~absent[proximal]
    amp_rise = _rises(amp, distal, proximal, both & ~amp_bad[distal] & ~amp_bad[proximal])
    area_rise = _rises(area, distal, proximal, both & ~area_bad[distal] & ~area_bad[proximal])
    cell = amp_bad[distal] | amp_bad[proximal] | area_bad[distal] | area_bad[proximal]
    cell |= dur_bad[distal] | dur_bad[proximal]
    flagged = np.flatnonzero(cell | amp_rise | area_rise)
    if not flagged.size:
        return amp, area, dur, None, amp_rise, area_rise
    names = labels(sites)
    notes = np.full(distal.size, None, dtype=object)
    for k in flagged.tolist():  # only the segments a slip enters: rare, worded one by one
        d, p = distal[k], proximal[k]
        parts = []
        for row in (d, p):
            if amp_bad[row]:
                reason = cell_reason(code("amplitude_code", row))
                parts.append(f"{names[row]} amplitude {amp[row]:.6g} mV {reason}")
            if area_bad[row]:
                reason = cell_reason(code("area_code", row))
                parts.append(f"{names[row]} area {area[row]:.6g} mV·ms {reason}")
            if dur_bad[row]:
                reason = cell_reason(code("duration_code", row))
                parts.append(f"{names[row]} duration {dur[row]:.6g} ms {reason}")
        rise = rise_reason()
        if amp_rise[k]:
            parts.append(f"{names[p]} amplitude {amp[p] / amp[d]:.1f} × {names[d]}: {rise}")
        if area_rise[k]:
            parts.append(f"{names[p]} area {area[p] / area[d]:.1f} × {names[d]}: {rise}")
        notes[k] = "; ".join(parts)
    amp = np.where(amp_bad, np.nan, amp)
    area = np.where(area_bad, np.nan, area)
    dur = np.where(dur_bad, np.nan, dur)
    return amp, area, dur, notes, amp_rise, area_rise


def _rises(
    values: np.ndarray, distal: np.ndarray, proximal: np.ndarray, judged: np.ndarray
) -> np.ndarray:
    """Segments whose proximal value is more than ``rise_max`` x the distal one, compared as
    every percentage is (snapped: 0.7 -> 2.1 is exactly 3 x): a drop below
    -(rise_max - 1) x 100 %. Only the segments near or beyond the limit are computed."""
    limit = IMPLAUSIBLE_LIMITS["rise_max"]
    d, p = values[distal], values[proximal]
    with np.errstate(invalid="ignore"):
        near = np.flatnonzero(judged & (p > limit * d * _RISE_MARGIN))
    out = np.zeros(distal.size, dtype=bool)
    if near.size:
        out[near] = percent_drop(d[near], p[near]) < -(limit - 1.0) * 100.0
    return out


#: A rise within this factor below the limit is checked exactly (far wider than float noise).
_RISE_MARGIN = 0.999


def _odd_index(frame: pd.DataFrame) -> bool:
    return not (
        isinstance(frame.index, pd.RangeIndex) and frame.index.equals(pd.RangeIndex(len(frame)))
    )


COMPARISON_VALUES: tuple[str, ...] = ("adjacent", "distal")
"""Values of ``segments.comparison``."""


def _warn_cv(cv: np.ndarray, rows: np.ndarray) -> None:
    low, high = _CV_PLAUSIBLE_M_S
    with np.errstate(invalid="ignore"):
        odd = (cv < low) | (cv > high)
    if odd.any():
        warn(
            "velocity_out_of_range",
            f"{int(odd.sum())} segment conduction velocities outside {low:g}-{high:g} m/s: "
            "check distances (mm, not cm) and site labels",
            rows[odd],
            "cv_m_s",
            stacklevel=3,
        )
