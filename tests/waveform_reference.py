"""The previous implementation of ``ncs.waveform.measure``, frozen as a test oracle.

``ncs.waveform.measure`` was rewritten for speed (local marker searches instead of passes
over whole 2-D arrays). Its results must stay exactly the same: this module keeps the
earlier code, which placed every marker with boolean masks over the whole array, unchanged
(its constants copied, not imported), so ``tests/test_waveform_equivalence.py`` can compare
the two on the same traces. Do not "fix" it: it is the definition the new code must match.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ncs.errors import ValidationError

_UNIT_TO_MV: Mapping[str, float] = {
    "mv": 1.0,
    "uv": 1e-3,
    "µv": 1e-3,  # micro sign
    "μv": 1e-3,  # greek mu
    "v": 1e3,
}
_ONSET_BAND_SD = 1.0
Q_OK = "ok"
Q_NONFINITE = "non-finite samples"
Q_NO_RESPONSE = "no response"
Q_ONSET_EARLY = "onset before search window"
Q_PEAK_AT_END = "negative peak at end of trace"
Q_NO_RETURN = "negative phase does not return to baseline"
Q_NO_LAST_RETURN = "last negative phase does not return to baseline"
Q_NO_FINAL_RETURN = "response does not return to baseline"


def _units_factor(units: str, problems: list[tuple[Any, Any, str]]) -> float:
    key = str(units).strip().lower()
    if key not in _UNIT_TO_MV:
        problems.append((None, "units", f"unknown unit {units!r}; use 'mV', 'uV' or 'V'"))
        return 1.0
    return _UNIT_TO_MV[key]


def _as_2d(traces: Any, problems: list[tuple[Any, Any, str]]) -> tuple[np.ndarray, bool]:
    """Return a float64 2-D view/copy of ``traces`` and whether the input was 1-D."""
    try:
        arr = np.asarray(traces, dtype=np.float64)
    except (TypeError, ValueError):
        problems.append((None, "traces", "must be a numeric array"))
        return np.zeros((0, 0)), False
    if arr.ndim not in (1, 2):
        problems.append(
            (None, "traces", f"must be 1-D (one trace) or 2-D (one per row), got {arr.ndim}-D")
        )
        return np.zeros((0, 0)), False
    single = arr.ndim == 1
    arr2 = arr[np.newaxis, :] if single else arr
    if arr2.shape[1] < 4:
        n_got = arr2.shape[1]
        problems.append((None, "traces", f"needs at least 4 samples per trace, got {n_got}"))
    return arr2, single


def _last_true(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of the last True per row (0 where none) and whether there is one."""
    has = mask.any(axis=1)
    idx = mask.shape[1] - 1 - np.argmax(mask[:, ::-1], axis=1)
    return np.where(has, idx, 0), has


def _first_true_from(
    mask: np.ndarray, start: np.ndarray, cols: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Index of the first True at or after ``start`` per row (0 where none), and found-flags."""
    cand = mask & (cols >= start[:, np.newaxis])
    idx = np.argmax(cand, axis=1)
    has = cand[np.arange(mask.shape[0]), idx]
    return idx, has


def _leave_fraction(u0: np.ndarray, u1: np.ndarray, u2: np.ndarray) -> np.ndarray:
    """Where, between samples 0 and 1 (as a fraction), a signal leaves the zero level.

    ``u0 <= 0 < u1`` are the last sample at the level and the first one past it, ``u2`` the
    next one. The zero of the line through u1-u2 extrapolated back (exact when a linear
    departure starts between two samples, whatever the signal did before), or of the chord
    u0-u1 when that line does not rise; kept within the sample interval.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        chord = np.where(u1 > u0, -u0 / (u1 - u0), 0.0)
        back = np.where(u2 > u1, 1.0 - u1 / (u2 - u1), np.nan)
    return np.clip(np.where(np.isnan(back), chord, back), 0.0, 1.0)


def _return_fraction(v_prev: np.ndarray, v0: np.ndarray, v1: np.ndarray) -> np.ndarray:
    """Where, between samples 0 and 1 (as a fraction), a deflection returns to zero.

    ``v0 > 0 >= v1`` are the last sample of the deflection and the first at or past zero,
    ``v_prev`` the sample before ``v0``. The zero of the line through v_prev-v0
    extrapolated forward (exact when the deflection ends linearly between two samples, also
    at a kink or on a flat baseline), or of the chord v0-v1 when that line does not fall;
    kept within the sample interval.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        chord = np.where(v0 > v1, v0 / (v0 - v1), 0.0)
        ahead = np.where(v_prev > v0, v0 / (v_prev - v0), np.nan)
    return np.clip(np.where(np.isnan(ahead), chord, ahead), 0.0, 1.0)


def _return_point(
    y: np.ndarray, k: np.ndarray, sign: np.ndarray | float, rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Fractional index of a return to baseline just before sample ``k`` and ``k - 1``."""
    k0 = np.maximum(k - 1, 0)
    km = np.maximum(k - 2, 0)
    v_prev = np.where(k >= 2, sign * y[rows, km], -np.inf)
    frac = _return_fraction(v_prev, sign * y[rows, k0], sign * y[rows, k])
    return k0 + frac, k0


def measure(
    traces: Any,
    fs_hz: float,
    stim_ms: float = 0.0,
    *,
    units: str = "mV",
    invert: bool = False,
    artefact_ms: float = 0.5,
    onset_window_ms: tuple[float, float] = (1.0, 30.0),
    baseline_ms: tuple[float, float] | None = None,
    end_ms: float | None = None,
    threshold_sd: float = 5.0,
    threshold_fraction: float = 0.05,
    min_departure_ms: float = 0.2,
) -> pd.DataFrame:
    """The previous ``ncs.waveform.measure``, unchanged."""
    problems: list[tuple[Any, Any, str]] = []
    x_in, _ = _as_2d(traces, problems)
    factor = _units_factor(units, problems)
    scalars = {
        "fs_hz": fs_hz,
        "stim_ms": stim_ms,
        "artefact_ms": artefact_ms,
        "threshold_sd": threshold_sd,
        "threshold_fraction": threshold_fraction,
        "min_departure_ms": min_departure_ms,
    }
    for name, value in scalars.items():
        try:
            ok = math.isfinite(float(value))
        except (TypeError, ValueError):
            ok = False
        if not ok:
            problems.append((None, name, "must be a finite number"))
        elif name == "fs_hz" and float(value) <= 0:
            problems.append((None, name, "must be > 0"))
        elif name != "fs_hz" and float(value) < 0:
            problems.append((None, name, "must be >= 0"))
    if problems:
        raise ValidationError(problems)

    fs = float(fs_hz)
    n_rows, n_samples = x_in.shape
    ms_per_sample = 1000.0 / fs
    sweep_ms = n_samples * ms_per_sample
    stim = float(stim_ms)

    def col(t_from_stim_ms: float) -> int:
        """First sample index at or after a time relative to the stimulus."""
        return math.ceil((stim + t_from_stim_ms) / ms_per_sample - 1e-9)

    win_lo, win_hi = (float(v) for v in onset_window_ms)
    if not (math.isfinite(win_lo) and math.isfinite(win_hi) and win_hi > win_lo >= 0):
        problems.append((None, "onset_window_ms", "must be finite with 0 <= start < end"))
    if win_lo < artefact_ms:
        problems.append((None, "onset_window_ms", "must start after the artefact window"))
    if stim >= sweep_ms:
        problems.append((None, "stim_ms", "the stimulus is after the end of the sweep"))
    if baseline_ms is None:
        if stim >= 0.5:
            b_lo, b_hi = 0, col(0.0)
        else:
            b_lo, b_hi = col(float(artefact_ms)), col(win_lo)
    else:
        b_lo, b_hi = col(float(baseline_ms[0])), col(float(baseline_ms[1]))
    b_lo, b_hi = max(b_lo, 0), min(b_hi, n_samples)
    if b_hi - b_lo < 2:
        problems.append(
            (
                None,
                "baseline_ms",
                "the baseline segment has fewer than 2 samples; record at least 0.5 ms "
                "before the stimulus or give baseline_ms",
            )
        )
    s0 = max(col(win_lo), 0)
    s_end = n_samples if end_ms is None else min(col(float(end_ms)), n_samples)
    onset_last = min(col(win_hi), s_end) - s0  # detection must start before this (local)
    if s_end - s0 < 4:
        problems.append((None, "end_ms", "the analysed sweep is shorter than 4 samples"))
    if problems:
        raise ValidationError(problems)

    # ---- baseline, scaled and polarity-normalised ------------------------------------------
    scale = factor * (-1.0 if invert else 1.0)
    seg = x_in[:, b_lo:b_hi] * scale
    region = x_in[:, s0:s_end]
    finite = np.isfinite(seg).all(axis=1) & np.isfinite(region).all(axis=1)
    baseline = seg.mean(axis=1)
    noise = seg.std(axis=1, ddof=1)
    baseline = np.where(finite, baseline, 0.0)
    noise = np.where(finite, noise, 0.0)

    # y: negativity relative to the baseline (positive during the negative phase).
    y = baseline[:, np.newaxis] - region * scale
    if not finite.all():
        y[~finite] = 0.0
    n_cols = y.shape[1]
    cols = np.arange(n_cols)
    rows = np.arange(n_rows)

    y_max = y.max(axis=1)
    # rounding: a flat segment equal to the baseline may differ from it by a few ulps
    tiny = 1e-9 * (np.abs(baseline) + np.abs(y_max) + np.abs(y.min(axis=1)))
    threshold = np.maximum(threshold_sd * noise, threshold_fraction * y_max)
    above = y > threshold[:, np.newaxis]

    # ---- 1. detection: first sustained run above threshold --------------------------------
    run = max(1, round(min_departure_ms / ms_per_sample))
    if run == 1:
        det_idx, has_det = _first_true_from(above, np.zeros(n_rows, dtype=np.int64), cols)
    else:
        counts = np.cumsum(above, axis=1, dtype=np.int32)
        window_count = counts.copy()
        window_count[:, run:] -= counts[:, :-run]
        ends = window_count == run
        end_idx, has_det = _first_true_from(ends, np.zeros(n_rows, dtype=np.int64), cols)
        det_idx = end_idx - run + 1
        del counts, window_count, ends
    has_det &= det_idx < onset_last
    has_det &= finite & (y_max > 0)
    det_idx = np.where(has_det, det_idx, 0)

    # ---- 2. onset: back to the last sample at or above baseline ---------------------------
    # "at baseline" for the onset means within one noise SD (exactly 0 for clean signals):
    # walking back to y <= 0 through noise would stop at random early dips.
    level = np.maximum(_ONSET_BAND_SD * noise, tiny)
    before_det = (y <= level[:, np.newaxis]) & (cols < det_idx[:, np.newaxis])
    j, has_j = _last_true(before_det)
    del before_det
    has_onset = has_det & has_j
    jp1 = np.minimum(j + 1, n_cols - 1)
    jp2 = np.minimum(j + 2, n_cols - 1)
    u2 = np.where(j + 2 < n_cols, y[rows, jp2] - level, -np.inf)
    onset = j + _leave_fraction(y[rows, j] - level, y[rows, jp1] - level, u2)
    at_or_above = y <= tiny[:, np.newaxis]  # signal at (or above) the baseline level

    # ---- 3. negative peak -------------------------------------------------------------------
    masked = np.where(cols >= det_idx[:, np.newaxis], y, -np.inf)
    peak = np.argmax(masked, axis=1)
    del masked
    peak_ok = has_det & (peak < n_cols - 1)
    amplitude = y[rows, peak]
    # largest positive value after the negative peak: min of y from the peak to the end
    flat = y.ravel()
    starts = rows * n_cols + np.where(peak_ok, peak, 0)
    ends_ = (rows + 1) * n_cols
    idx_pairs = np.column_stack([starts, ends_]).ravel()[:-1]
    y_min_after = np.minimum.reduceat(flat, idx_pairs)[::2]
    pp_amplitude = amplitude - np.minimum(y_min_after, 0.0)

    # ---- 4. first return to baseline after the peak; area ---------------------------------
    ret_k, has_ret = _first_true_from(at_or_above, peak + 1, cols)
    has_ret &= peak_ok & has_onset
    ret, k0 = _return_point(y, ret_k, 1.0, rows)
    # integral of y from onset to return: interior samples j+1..k0 by trapezoid + end pieces
    a_start = np.where(has_ret, rows * n_cols + jp1, rows * n_cols)
    a_end = np.where(has_ret, rows * n_cols + k0 + 1, rows * n_cols + 1)
    # every index is < flat.size (k0 <= n_cols - 2), so the last pair needs no trimming
    sums = np.add.reduceat(flat, np.column_stack([a_start, a_end]).ravel())[::2]
    y_first = y[rows, jp1]
    y_last = y[rows, k0]
    interior = sums - 0.5 * (y_first + y_last)  # trapezoid over samples jp1..k0
    frac_on = onset - j
    frac_ret = ret - k0
    area = (interior + 0.5 * (1.0 - frac_on) * y_first + 0.5 * frac_ret * y_last) * ms_per_sample

    # ---- 5. return to baseline of the last negative deflection ----------------------------
    q, _ = _last_true(above)
    last_k, has_last = _first_true_from(at_or_above, q + 1, cols)
    has_last &= peak_ok & has_onset
    last_ret, _ = _return_point(y, last_k, 1.0, rows)

    # ---- 6. final return to baseline ---------------------------------------------------------
    z, _ = _last_true(above | (y < -threshold[:, np.newaxis]))
    z_negative = y[rows, z] > 0
    back = np.where(z_negative[:, np.newaxis], at_or_above, y >= -tiny[:, np.newaxis])
    fin_k, has_fin = _first_true_from(back, z + 1, cols)
    has_fin &= peak_ok & has_onset
    fin, _ = _return_point(y, fin_k, np.where(z_negative, 1.0, -1.0), rows)

    # ---- assemble -----------------------------------------------------------------------------
    nan = np.nan
    offset_ms = s0 * ms_per_sample - stim
    latency = np.where(has_onset, onset * ms_per_sample + offset_ms, nan)
    out = {
        "latency_ms": latency,
        "amplitude_mv": np.where(peak_ok, amplitude, nan),
        "pp_amplitude_mv": np.where(peak_ok, pp_amplitude, nan),
        "area_mvms": np.where(has_ret, area, nan),
        "duration_ms": np.where(has_ret, (ret - onset) * ms_per_sample, nan),
        "distal_duration_ms": np.where(has_last, (last_ret - onset) * ms_per_sample, nan),
        "total_duration_ms": np.where(has_fin, (fin - onset) * ms_per_sample, nan),
        "peak_latency_ms": np.where(peak_ok, peak * ms_per_sample + offset_ms, nan),
        "baseline_mv": np.where(finite, baseline, nan),
        "noise_sd_mv": np.where(finite, noise, nan),
    }
    frame = pd.DataFrame(out)

    reasons = [
        (~finite, Q_NONFINITE),
        (finite & ~has_det, Q_NO_RESPONSE),
        (has_det & ~has_j, Q_ONSET_EARLY),
        (has_det & ~peak_ok, Q_PEAK_AT_END),
        (peak_ok & has_onset & ~has_ret, Q_NO_RETURN),
        (has_ret & ~has_last, Q_NO_LAST_RETURN),
        (has_last & ~has_fin, Q_NO_FINAL_RETURN),
    ]
    quality = np.full(n_rows, "", dtype=object)
    for mask, reason in reasons:
        if mask.any():
            sep = np.where(quality[mask] == "", "", "; ")
            quality[mask] = quality[mask] + sep + reason
    quality[quality == ""] = Q_OK
    response = np.where(has_det, "present", np.where(finite, "absent", None))
    frame["response"] = pd.Series(response, dtype="string")
    frame["quality"] = pd.Series(quality, dtype="string")
    return frame
