"""Raw CMAP waveforms: marker placement, measurement and readers.

A compound muscle action potential (CMAP) recorded belly-tendon starts with a negative
(upward on most EDX screens) phase. :func:`measure` places the usual markers (onset,
negative peak, return to baseline) on one trace or on a 2-D batch of traces at once, fully
vectorised, and returns the measures under the column names of the tidy sites table
(``latency_ms``, ``amplitude_mv``, ``area_mvms``, ``duration_ms``, ...), so measured traces
feed :func:`ncs.analyze` directly.

Readers turn text/CSV columns, NumPy arrays and EDF/EDF+ files (optional extra ``edf``) into
a :class:`Traces` object: a 2-D array in mV with the negative phase negative, the sampling
rate, the stimulus time, and one row of site metadata per trace.

Conventions
-----------
Polarity: the negative phase has negative values in every array this module returns. Input
stored negative-up is flipped with ``invert=True``. Units: outputs are in mV and ms; input in
µV is converted with ``units="uV"``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from os import PathLike
from typing import Any

import numpy as np
import pandas as pd

from ncs.errors import ValidationError

__all__ = [
    "MEASURE_COLUMNS",
    "Traces",
    "from_array",
    "measure",
    "read_edf",
    "read_text",
]

#: Measures returned by :func:`measure`, in order (sites-table column names).
MEASURE_COLUMNS: tuple[str, ...] = (
    "latency_ms",
    "amplitude_mv",
    "pp_amplitude_mv",
    "area_mvms",
    "duration_ms",
    "distal_duration_ms",
    "total_duration_ms",
)

#: Extra diagnostic columns returned by :func:`measure` after the measures.
_DIAGNOSTIC_COLUMNS: tuple[str, ...] = (
    "peak_latency_ms",
    "baseline_mv",
    "noise_sd_mv",
    "response",
    "quality",
)

_UNIT_TO_MV: Mapping[str, float] = {
    "mv": 1.0,
    "uv": 1e-3,
    "µv": 1e-3,  # micro sign
    "μv": 1e-3,  # greek mu
    "v": 1e3,
}

#: The onset is where the signal leaves the band baseline +/- this many noise SDs.
_ONSET_BAND_SD = 1.0

# Quality reasons (short, stable strings).
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


#: Array kinds refused as samples, by numpy dtype kind.
_REFUSED_KINDS: Mapping[str, str] = {"c": "complex", "b": "bool"}

#: ``threshold_fraction`` lies in ``[0, MAX)``: at 1 the threshold is the largest
#: negativity itself, which no sample exceeds, so every trace would read as absent.
_THRESHOLD_FRACTION_MAX = 1.0


def _check_invert(invert: object, problems: list[tuple[Any, Any, str]]) -> None:
    """``invert`` must be True or False: a string such as ``"no"`` is truthy, and read as
    True it would flip every trace (a clean CMAP reported absent)."""
    if not isinstance(invert, bool | np.bool_):
        problems.append((None, "invert", f"must be True or False, got {invert!r}"))


def _window(
    value: object, name: str, problems: list[tuple[Any, Any, str]]
) -> tuple[float, float] | None:
    """A (start, end) pair of finite numbers in ms, or None with a problem recorded."""
    pair = None
    if not isinstance(value, str | bytes):
        try:
            pair = tuple(float(v) for v in value)  # type: ignore[union-attr]
        except (TypeError, ValueError):
            pair = None
    if pair is None or len(pair) != 2 or not all(math.isfinite(v) for v in pair):
        problems.append(
            (None, name, f"must be a pair of finite numbers (start, end) in ms, got {value!r}")
        )
        return None
    return pair[0], pair[1]


def _as_2d(traces: Any, problems: list[tuple[Any, Any, str]]) -> tuple[np.ndarray, bool]:
    """Return a float64 2-D view/copy of ``traces`` and whether the input was 1-D.

    Complex samples are refused (casting would silently drop the imaginary part), and so
    are booleans (a mask, not a signal)."""
    try:
        given = np.asarray(traces)
        kind = _REFUSED_KINDS.get(given.dtype.kind)
        if kind is not None:
            problems.append(
                (None, "traces", f"must be real numbers, got {kind} samples ({given.dtype})")
            )
            return np.zeros((0, 0)), False
        arr = given.astype(np.float64, copy=False)
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


#: First window of each local marker search (widened 4-fold where nothing is found), in ms:
#: the onset lies a few samples before the detection and the return after the last negative
#: deflection a few after it; the final return follows the last deflection's fall below
#: threshold; the return after the negative peak is about half the negative phase away.
_ONSET_SEARCH_MS = 0.8
_LAST_RETURN_SEARCH_MS = 0.8
_FINAL_RETURN_SEARCH_MS = 1.6
_PEAK_RETURN_SEARCH_MS = 4.0
_MIN_SEARCH_SAMPLES = 16


@contextmanager
def _row_passes(n_cols: int) -> Iterator[None]:
    """Ufunc buffers of one row for passes such as ``y > threshold[:, np.newaxis]``.

    With numpy's default buffer (8192 elements) a pass over rows shorter than half of it
    that reads one value per row copies that value out into buffers spanning several rows;
    with a buffer of one row each row is done in place, twice as fast or more for rows of
    about 1,000 samples. Rows under 256 samples keep the default (there the cost of one call
    per row dominates). The size is restored on exit (``np.errstate`` scopes it).
    """
    with np.errstate():
        if 256 <= n_cols < 8192:
            np.setbufsize(-(-n_cols // 16) * 16)
        yield


def _windows(y: np.ndarray, width: int) -> np.ndarray:
    """Read-only view of every run of ``width`` consecutive samples: ``[row, start, k]``."""
    n_rows, n_cols = y.shape
    s_row, s_col = y.strides
    return np.lib.stride_tricks.as_strided(
        y, (n_rows, n_cols - width + 1, width), (s_row, s_col, s_col), writeable=False
    )


def _first_from(
    y: np.ndarray,
    rows: np.ndarray,
    start: np.ndarray,
    hit: Callable[[np.ndarray, np.ndarray], np.ndarray],
    width: int,
) -> tuple[np.ndarray, np.ndarray]:
    """First sample at or after ``start`` where ``hit`` holds, in each of ``rows`` of ``y``.

    ``hit(values, rows)`` tests a block of samples (one row of ``values`` per entry of
    ``rows``) elementwise. Only a window of samples from ``start`` is read, widened for the
    rows where nothing was found until the end of the trace: a marker a few samples away
    costs a few samples. Returns the index (0 where none) and whether one was found, one
    entry per entry of ``rows``.
    """
    n_cols = y.shape[1]
    found_at = np.zeros(rows.size, dtype=np.intp)
    found = np.zeros(rows.size, dtype=bool)
    todo = np.arange(rows.size)
    lo = np.asarray(start, dtype=np.intp).copy()
    while todo.size:
        width = min(width, n_cols)
        s = lo[todo]
        w0 = np.minimum(s, n_cols - width)
        r = rows[todo]
        mask = hit(_windows(y, width)[r, w0], r)
        mask &= np.arange(width) >= (s - w0)[:, np.newaxis]
        k = np.argmax(mask, axis=1)
        ok = mask[np.arange(todo.size), k]
        found_at[todo[ok]] = w0[ok] + k[ok]
        found[todo[ok]] = True
        more = ~ok & (w0 + width < n_cols)
        lo[todo[more]] = w0[more] + width
        todo = todo[more]
        width *= 4
    return found_at, found


def _last_before(
    y: np.ndarray,
    rows: np.ndarray,
    stop: np.ndarray,
    hit: Callable[[np.ndarray, np.ndarray], np.ndarray],
    width: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Last sample before ``stop`` where ``hit`` holds, in each of ``rows`` of ``y``.

    The mirror of :func:`_first_from`: windows of samples ending at ``stop``, widened for
    the rows where nothing was found until the start of the trace.
    """
    n_cols = y.shape[1]
    found_at = np.zeros(rows.size, dtype=np.intp)
    found = np.zeros(rows.size, dtype=bool)
    todo = np.arange(rows.size)
    hi = np.asarray(stop, dtype=np.intp).copy()
    while todo.size:
        width = min(width, n_cols)
        e = hi[todo]
        w0 = np.clip(e - width, 0, n_cols - width)
        r = rows[todo]
        mask = hit(_windows(y, width)[r, w0], r)
        mask &= np.arange(width) < (e - w0)[:, np.newaxis]
        k = width - 1 - np.argmax(mask[:, ::-1], axis=1)
        ok = mask[np.arange(todo.size), k]
        found_at[todo[ok]] = w0[ok] + k[ok]
        found[todo[ok]] = True
        more = ~ok & (w0 > 0)
        hi[todo[more]] = w0[more]
        todo = todo[more]
        width *= 4
    return found_at, found


def _first_run(
    above: np.ndarray, n_cols: int, run: int, n_starts: int
) -> tuple[np.ndarray, np.ndarray]:
    """First sample before ``n_starts`` that starts ``run`` consecutive True, per row.

    ``above`` is C-contiguous with ``n_cols`` samples and at least one False column after
    them in each row, so a run never joins two rows and the rows can be scanned as one
    array. Runs are found by doubling: after the step of width ``w`` a True at ``s`` means
    ``above[s : s + 2w]`` is all True, so ``run`` takes about log2(run) boolean ANDs.
    """
    n_rows, padded = above.shape
    limit = min(n_starts, n_cols - run + 1)
    if limit <= 0:
        return np.zeros(n_rows, dtype=np.intp), np.zeros(n_rows, dtype=bool)
    starts = above.ravel()
    width = 1
    while 2 * width <= run:
        starts = starts[:-width] & starts[width:]
        width *= 2
    if width < run:
        rest = run - width  # <= width: the two runs of width overlap or touch
        starts = starts[:-rest] & starts[rest:]
    grid = np.lib.stride_tricks.as_strided(
        starts, (n_rows, limit), (padded * starts.itemsize, starts.itemsize), writeable=False
    )
    idx = np.argmax(grid, axis=1)
    return idx, grid[np.arange(n_rows), idx]


def _last_true(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of the last True per row (0 where none) and whether there is one.

    ``mask`` is C-contiguous with a multiple of 8 columns: it is scanned as 64-bit words
    (8 samples at a time) for the last non-zero word, then that word's 8 samples.
    """
    n_rows, n_cols = mask.shape
    nonzero = mask.view(np.uint64) != 0
    # 1 + index of the last non-zero word, 0 where none
    after = np.max(nonzero * np.arange(1, nonzero.shape[1] + 1, dtype=np.int32), axis=1)
    has = after > 0
    word = np.maximum(after - 1, 0)
    octet = mask.reshape(n_rows, n_cols // 8, 8)[np.arange(n_rows), word]
    idx = 8 * word + 7 - np.argmax(octet[:, ::-1], axis=1)
    return np.where(has, idx, 0), has


def _segment_sums(
    y: np.ndarray, rows: np.ndarray, start: np.ndarray, stop: np.ndarray
) -> np.ndarray:
    """Sum of ``y[i, start[i]:stop[i]]`` for each row ``i`` in ``rows`` (0 elsewhere).

    Each segment is copied out once into equal-width slots of one array and summed by
    ``np.add.reduceat``, which adds each segment pairwise on its own: the sums do not
    depend on the other samples of the row (the same floats as reducing the whole array at
    these segments). ``stop > start`` in every row of ``rows``.
    """
    sums = np.zeros(y.shape[0])
    if rows.size == 0:
        return sums
    n_cols = y.shape[1]
    first, length = start[rows], stop[rows] - start[rows]
    width = int(length.max())
    w0 = np.minimum(first, n_cols - width)
    pieces = _windows(y, width)[rows, w0].ravel()
    at = np.arange(rows.size) * width + (first - w0)
    bounds = np.column_stack([at, at + length]).ravel()
    if bounds[-1] == pieces.size:  # the last segment runs to the end of the array
        bounds = bounds[:-1]
    sums[rows] = np.add.reduceat(pieces, bounds)[::2]
    return sums


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
    """Measure onset latency, amplitudes, area and durations of CMAP traces.

    Parameters
    ----------
    traces : array_like
        One trace (1-D) or a batch (2-D, one trace per row), sampled uniformly, with the
        negative phase negative (see ``invert``). Sample 0 is the start of the sweep.
    fs_hz : float
        Sampling rate. [Hz]
    stim_ms : float, default 0.0
        Time of the stimulus from the start of the sweep; latencies are measured from it.
        Samples before it (the pre-stimulus segment) are used as baseline when there are at
        least 0.5 ms of them. [ms]
    units : {"mV", "uV", "V"}, default "mV"
        Units of ``traces``. Outputs are always in mV.
    invert : bool, default False
        Set when the system stores the negative phase as positive values (negative-up).
        Must be True or False (a string such as ``"no"`` is refused, not read as True).
    artefact_ms : float, default 0.5
        Length of the stimulus artefact after the stimulus; never used as baseline. [ms]
    onset_window_ms : (float, float), default (1.0, 30.0)
        Physiological window, from the stimulus, in which the onset is searched. [ms]
    baseline_ms : (float, float), optional
        Baseline segment ``[start, end)`` relative to the stimulus (negative = before it).
        Default: the pre-stimulus segment when it is at least 0.5 ms long, else the
        post-artefact segment ``[artefact_ms, onset_window_ms[0])``. [ms]
    end_ms : float, optional
        End of the analysed part of the sweep, from the stimulus (exclude F waves or late
        artefacts). Default: end of the sweep. [ms]
    threshold_sd : float, default 5.0
        Detection threshold in baseline standard deviations.
    threshold_fraction : float, default 0.05
        Detection threshold as a fraction of the largest negative deflection in the
        analysed part of the trace, in ``[0, 1)`` (at 1 no sample exceeds it). The
        threshold is the larger of the two.
    min_departure_ms : float, default 0.2
        A departure from baseline must last at least this long to count (rejects spikes). [ms]

    Returns
    -------
    pandas.DataFrame
        One row per trace, in input order, with columns ``latency_ms`` (onset from the
        stimulus), ``amplitude_mv`` (baseline to negative peak, positive), ``pp_amplitude_mv``
        (negative peak to the following positive peak), ``area_mvms`` (negative-peak area,
        positive), ``duration_ms`` (negative-peak duration: onset to first return to
        baseline), ``distal_duration_ms`` (onset of the first negative deflection to return
        to baseline of the last), ``total_duration_ms`` (onset to the final return to
        baseline), diagnostics ``peak_latency_ms``, ``baseline_mv``, ``noise_sd_mv``,
        ``response`` (``"present"``, ``"absent"`` or missing when the trace could not be
        judged) and ``quality`` (``"ok"`` or the reasons, joined by ``"; "``, why a marker
        could not be placed). A value that cannot be measured is NaN, never a guess.

    Raises
    ------
    ncs.errors.ValidationError
        Invalid arguments (non-finite or non-positive ``fs_hz``, 0-D or 3-D ``traces``,
        complex or boolean samples, an unknown unit, ``invert`` not a bool,
        ``threshold_fraction`` outside ``[0, 1)``, a window that is not a pair of finite
        numbers or lies outside the sweep); every problem is listed.

    Notes
    -----
    All markers are placed on the signal relative to the baseline ``b`` (mean of the
    baseline segment) and its standard deviation ``s``. Write ``y = b - x`` (the negativity;
    positive during the negative phase).

    1. *Detection.* The threshold is ``h = max(threshold_sd * s, threshold_fraction * max y)``.
       The response is detected at the first sample in ``onset_window_ms`` that starts a run
       of at least ``min_departure_ms`` with ``y > h``: a sustained negative departure from
       baseline. No such run: ``response="absent"``, quality ``"no response"``.
    2. *Onset* (``latency_ms``). From the detection sample, the algorithm walks back to the
       last sample still within the baseline band (``y <= s``; ``y <= 0`` for a noise-free
       trace) and places the onset between it and the next sample, where the line through
       the first two departed samples, extrapolated back, crosses the band (the chord
       between the two samples when that line does not rise). The onset is where the signal
       leaves the baseline, not where it crosses the detection threshold (a two-threshold
       method; cf. Hodges and Bui 1996). If the signal is already past the band throughout
       the start of the window, the onset is NaN (``"onset before search window"``).
    3. *Negative peak*: the most negative sample after detection; ``amplitude_mv = y_peak``.
       ``pp_amplitude_mv`` adds the largest positive value after the negative peak.
    4. *Negative-peak duration and area*: from the onset to the first baseline crossing
       after the negative peak (interpolated); the area is the trapezoidal integral of ``y``
       between these two points.
    5. *Distal CMAP duration*: from the onset to the baseline crossing that follows the last
       sample with ``y > h`` (the return to baseline of the last negative peak), as defined
       by Isose et al. (2009) and used in the EFNS/PNS CIDP guideline.
    6. *Total duration*: from the onset to the baseline crossing that follows the last sample
       with ``|y| > h`` (the final return to baseline, usually of the positive phase).

    Each return to baseline is placed between the last sample of the deflection and the
    first at or past baseline, where the line through the deflection's last two samples,
    extrapolated forward, meets the baseline (the chord when that line does not head for
    it): exact at a kink or where a phase ends on a flat baseline.

    Durations depend on the low-frequency filter (Mitsuma et al. 2015): record ``lff_hz``
    with the measures. The result is exact for piecewise-linear signals and within a
    fraction of a sample interval for smooth ones (see ``docs/waveforms.md``).

    The computation is vectorised over rows, with no Python loop per trace: five passes over
    the whole 2-D array (the negativity ``y``, its largest and smallest value, the samples
    beyond the threshold either way), then each marker is searched for from where it must
    start, in a window of a few samples that is widened only for the traces where it was
    not found.

    References
    ----------
    .. [1] Stålberg E, van Dijk H, Falck B, et al. Standards for quantification of EMG and
       neurography. Clin Neurophysiol. 2019;130(9):1688-1729.
    .. [2] Hodges PW, Bui BH. A comparison of computer-based methods for the determination of
       onset of muscle contraction using electromyography. Electroencephalogr Clin
       Neurophysiol. 1996;101(6):511-519.
    .. [3] Isose S, Kuwabara S, Kokubun N, et al. Utility of the distal compound muscle action
       potential duration for diagnosis of demyelinating neuropathies. J Peripher Nerv Syst.
       2009;14(3):151-158.
    .. [4] Mitsuma S, Van den Bergh P, Rajabally YA, et al. Effects of low frequency filtering
       on distal compound muscle action potential duration for diagnosis of CIDP: a
       multicenter study. J Neurol Sci. 2015;353(1-2):64-67.

    Examples
    --------
    >>> import numpy as np
    >>> fs = 20_000.0
    >>> t = np.arange(1000) / fs * 1000 - 2.0          # ms from a stimulus at 2 ms
    >>> neg = (t >= 3) & (t < 8)                       # 5 ms negative half-sine, 4 mV
    >>> x = np.where(neg, -4 * np.sin(np.pi * (t - 3) / 5), 0.0)
    >>> m = measure(x, fs, stim_ms=2.0)
    >>> float(m.loc[0, "latency_ms"].round(3)), float(m.loc[0, "amplitude_mv"].round(3))
    (3.0, 4.0)
    >>> float(m.loc[0, "area_mvms"].round(2))          # 2 * A * T / pi = 12.73
    12.73
    """
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
        elif name == "threshold_fraction" and float(value) >= _THRESHOLD_FRACTION_MAX:
            problems.append(
                (
                    None,
                    name,
                    "must be below 1 (a fraction of the largest negativity, which no sample "
                    f"exceeds), got {value!r}",
                )
            )
    _check_invert(invert, problems)
    window = _window(onset_window_ms, "onset_window_ms", problems)
    base_window = None if baseline_ms is None else _window(baseline_ms, "baseline_ms", problems)
    if end_ms is not None:
        try:
            end_ok = math.isfinite(float(end_ms))
        except (TypeError, ValueError):
            end_ok = False
        if not end_ok:
            problems.append((None, "end_ms", f"must be a finite number, got {end_ms!r}"))
    if problems:
        raise ValidationError(problems)
    assert window is not None  # checked above

    fs = float(fs_hz)
    n_rows, n_samples = x_in.shape
    ms_per_sample = 1000.0 / fs
    sweep_ms = n_samples * ms_per_sample
    stim = float(stim_ms)

    def col(t_from_stim_ms: float) -> int:
        """First sample index at or after a time relative to the stimulus."""
        return math.ceil((stim + t_from_stim_ms) / ms_per_sample - 1e-9)

    win_lo, win_hi = window
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
        assert base_window is not None  # checked above
        b_lo, b_hi = col(base_window[0]), col(base_window[1])
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
    baseline = seg.mean(axis=1)
    noise = seg.std(axis=1, ddof=1)
    # y: negativity relative to the baseline (positive during the negative phase), the same
    # floats as baseline - region * scale (x * 1 is x, and b - (-x) is b + x), C-ordered
    n_cols = s_end - s0
    # (inf - inf, which numpy would warn about, only in rows with non-finite samples: zeroed)
    with _row_passes(n_cols), np.errstate(invalid="ignore"):
        if scale == 1.0:
            y = np.subtract(baseline[:, np.newaxis], region, order="C")
        elif scale == -1.0:
            y = np.add(baseline[:, np.newaxis], region, order="C")
        else:
            y = np.multiply(region, scale, order="C")
            np.subtract(baseline[:, np.newaxis], y, out=y)
    rows = np.arange(n_rows)
    top = np.argmax(y, axis=1)  # first largest negativity (NaN first, as max propagates it)
    bottom = np.argmin(y, axis=1)
    y_max = y[rows, top]
    y_min = y[rows, bottom]
    # a NaN or infinite sample anywhere makes y's max or min non-finite; only those rows are
    # checked sample by sample (an overflowing but finite input stays "finite")
    finite = np.isfinite(y_max) & np.isfinite(y_min)
    if not finite.all():
        odd = np.flatnonzero(~finite)
        finite[odd] = np.isfinite(seg[odd]).all(axis=1) & np.isfinite(region[odd]).all(axis=1)
        bad = odd[~finite[odd]]
        for values in (y, baseline, noise, y_max, y_min, top, bottom):
            values[bad] = 0

    # rounding: a flat segment equal to the baseline may differ from it by a few ulps
    tiny = 1e-9 * (np.abs(baseline) + np.abs(y_max) + np.abs(y_min))
    threshold = np.maximum(threshold_sd * noise, threshold_fraction * y_max)
    # boolean buffers padded to whole 8-sample words, with at least one False column after
    # the samples of each row (see _first_run and _last_true)
    padded = (n_cols // 8 + 1) * 8
    outside = np.zeros((n_rows, padded), dtype=bool)  # |y| > threshold
    above = np.zeros((n_rows, padded), dtype=bool)  # y > threshold
    with _row_passes(n_cols):
        np.greater(y, threshold[:, np.newaxis], out=above[:, :n_cols])
        np.less(y, -threshold[:, np.newaxis], out=outside[:, :n_cols])
    outside |= above

    # ---- 1. detection: first sustained run above threshold --------------------------------
    run = max(1, round(min_departure_ms / ms_per_sample))
    det_idx, has_det = _first_run(above, n_cols, run, onset_last)
    has_det &= finite & (y_max > 0)
    det_idx = np.where(has_det, det_idx, 0)
    q, _ = _last_true(above)  # last sample above threshold (step 5)
    z, _ = _last_true(outside)  # last sample with |y| above threshold (step 6)
    del above, outside

    # ---- 2. onset: back to the last sample at or above baseline ---------------------------
    def window(ms: float) -> int:
        """Samples in the first window of a local search."""
        return max(_MIN_SEARCH_SAMPLES, math.ceil(ms / ms_per_sample))

    # "at baseline" for the onset means within one noise SD (exactly 0 for clean signals):
    # walking back to y <= 0 through noise would stop at random early dips.
    level = np.maximum(_ONSET_BAND_SD * noise, tiny)
    found = np.flatnonzero(has_det)
    j = np.zeros(n_rows, dtype=np.intp)
    has_j = np.zeros(n_rows, dtype=bool)
    j[found], has_j[found] = _last_before(
        y, found, det_idx[found], lambda v, r: v <= level[r, np.newaxis], window(_ONSET_SEARCH_MS)
    )
    has_onset = has_det & has_j
    jp1 = np.minimum(j + 1, n_cols - 1)
    jp2 = np.minimum(j + 2, n_cols - 1)
    u2 = np.where(j + 2 < n_cols, y[rows, jp2] - level, -np.inf)
    onset = j + _leave_fraction(y[rows, j] - level, y[rows, jp1] - level, u2)

    # ---- 3. negative peak -------------------------------------------------------------------
    # the first largest negativity from detection on: the row's own unless it comes earlier
    peak = top.copy()
    early = np.flatnonzero(has_det & (top < det_idx))
    if early.size:
        after = np.arange(n_cols) >= det_idx[early, np.newaxis]
        peak[early] = np.argmax(np.where(after, y[early], -np.inf), axis=1)
    peak_ok = has_det & (peak < n_cols - 1)
    amplitude = y[rows, peak]
    # largest positive value after the negative peak: min of y from the peak to the end
    y_min_after = y_min.copy()
    early = np.flatnonzero(peak_ok & (bottom < peak))
    if early.size:
        after = np.arange(n_cols) >= peak[early, np.newaxis]
        y_min_after[early] = np.where(after, y[early], np.inf).min(axis=1)
    pp_amplitude = amplitude - np.minimum(y_min_after, 0.0)

    # ---- 4. first return to baseline after the peak; area ---------------------------------
    def at_or_above(v: np.ndarray, r: np.ndarray) -> np.ndarray:
        """Samples at (or above) the baseline level."""
        return v <= tiny[r, np.newaxis]

    onset_rows = np.flatnonzero(peak_ok & has_onset)
    ret_k = np.zeros(n_rows, dtype=np.intp)
    has_ret = np.zeros(n_rows, dtype=bool)
    ret_k[onset_rows], has_ret[onset_rows] = _first_from(
        y, onset_rows, peak[onset_rows] + 1, at_or_above, window(_PEAK_RETURN_SEARCH_MS)
    )
    ret, k0 = _return_point(y, ret_k, 1.0, rows)
    # integral of y from onset to return: interior samples j+1..k0 by trapezoid + end pieces
    sums = _segment_sums(y, np.flatnonzero(has_ret), jp1, k0 + 1)
    y_first = y[rows, jp1]
    y_last = y[rows, k0]
    interior = sums - 0.5 * (y_first + y_last)  # trapezoid over samples jp1..k0
    frac_on = onset - j
    frac_ret = ret - k0
    area = (interior + 0.5 * (1.0 - frac_on) * y_first + 0.5 * frac_ret * y_last) * ms_per_sample

    # ---- 5. return to baseline of the last negative deflection ----------------------------
    last_k = np.zeros(n_rows, dtype=np.intp)
    has_last = np.zeros(n_rows, dtype=bool)
    last_k[onset_rows], has_last[onset_rows] = _first_from(
        y, onset_rows, q[onset_rows] + 1, at_or_above, window(_LAST_RETURN_SEARCH_MS)
    )
    last_ret, _ = _return_point(y, last_k, 1.0, rows)

    # ---- 6. final return to baseline ---------------------------------------------------------
    z_negative = y[rows, z] > 0
    side = np.where(z_negative, 1.0, -1.0)

    def back_to_baseline(v: np.ndarray, r: np.ndarray) -> np.ndarray:
        """At or past the baseline level, seen from the last deflection's side: y <= tiny
        after a negative one, y >= -tiny (-y <= tiny, exactly) after a positive one."""
        return v * side[r, np.newaxis] <= tiny[r, np.newaxis]

    fin_k = np.zeros(n_rows, dtype=np.intp)
    has_fin = np.zeros(n_rows, dtype=bool)
    fin_k[onset_rows], has_fin[onset_rows] = _first_from(
        y, onset_rows, z[onset_rows] + 1, back_to_baseline, window(_FINAL_RETURN_SEARCH_MS)
    )
    fin, _ = _return_point(y, fin_k, side, rows)

    # ---- assemble -----------------------------------------------------------------------------
    nan = np.nan
    offset_ms = s0 * ms_per_sample - stim
    latency = np.where(has_onset, onset * ms_per_sample + offset_ms, nan)
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
    response = np.full(n_rows, None, dtype=object)
    response[finite] = "absent"
    response[has_det] = "present"  # (detected rows are finite)
    # one constructor call: the string columns as arrays, not inserted one by one
    text = pd.StringDtype()  # dtype "string" as configured now, without parsing the name
    frame = pd.DataFrame(
        {
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
            "response": pd.array(response, dtype=text),
            "quality": pd.array(quality, dtype=text),
        },
        copy=False,
    )
    return frame


# =============================================================================================
# Traces container and readers
# =============================================================================================


@dataclass(frozen=True)
class Traces:
    """A batch of CMAP traces with their sampling rate and per-trace site metadata.

    Parameters
    ----------
    data_mv : numpy.ndarray
        2-D array, one trace per row, in mV, negative phase negative. [mV]
    fs_hz : float
        Sampling rate. [Hz]
    stim_ms : float
        Stimulus time from the start of the sweep. [ms]
    sites : pandas.DataFrame
        One row per trace: ``label`` and, where known, ``nerve``, ``side``, ``site``,
        ``muscle``, ``distance_mm``, ``lff_hz``, ``annotations``.
    annotations : pandas.DataFrame
        File annotations (``onset_s``, ``duration_s``, ``text``); empty when none.

    References
    ----------
    .. [1] Stålberg E, van Dijk H, Falck B, et al. Standards for quantification of EMG and
       neurography. Clin Neurophysiol. 2019;130(9):1688-1729.
    """

    data_mv: np.ndarray
    fs_hz: float
    stim_ms: float = 0.0
    sites: pd.DataFrame = field(default_factory=pd.DataFrame)
    annotations: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame({"onset_s": [], "duration_s": [], "text": []})
    )

    @property
    def n_traces(self) -> int:
        """Number of traces (rows of ``data_mv``)."""
        return int(self.data_mv.shape[0])

    @property
    def time_ms(self) -> np.ndarray:
        """Time of each sample from the stimulus. [ms]"""
        return np.arange(self.data_mv.shape[1]) * (1000.0 / self.fs_hz) - self.stim_ms

    def measure(self, **kwargs: Any) -> pd.DataFrame:
        """Measure every trace; the site metadata columns come first.

        Parameters
        ----------
        **kwargs
            Passed to :func:`measure` (``units``, ``stim_ms`` and ``invert`` are fixed by
            the container).

        Returns
        -------
        pandas.DataFrame
            ``sites`` joined column-wise with the output of :func:`measure`.

        References
        ----------
        .. [1] Stålberg E, van Dijk H, Falck B, et al. Standards for quantification of EMG
           and neurography. Clin Neurophysiol. 2019;130(9):1688-1729.
        """
        measured = measure(self.data_mv, self.fs_hz, self.stim_ms, **kwargs)
        sites = self.sites.reset_index(drop=True)
        keep = [c for c in sites.columns if c not in measured.columns]
        return pd.concat([sites[keep], measured], axis=1)


_LABEL_TOKEN = re.compile(r"[^0-9a-zµμ.]+")
_DISTANCE = re.compile(r"(\d+(?:\.\d+)?)\s*(mm|cm)\b", re.IGNORECASE)
_MUSCLES = ("apb", "adm", "edb", "ah", "fdi", "ta", "edc", "eip", "bb", "deltoid")
_KEY_VALUE = re.compile(r"([A-Za-z_]+)\s*[=:]\s*([^;,]+)")
_PREFILTER_HP = re.compile(r"HP\s*:?\s*(\d+(?:\.\d+)?)\s*(m?Hz)", re.IGNORECASE)


def _parse_label(label: str) -> dict[str, Any]:
    """Nerve, side, site, muscle and distance found in a channel/column label.

    Names are matched on whole words against the canonical tables in :mod:`ncs.names`
    (longest match first); nothing is guessed when no name matches.
    """
    from ncs.names import NERVE_ALIASES, SIDE_ALIASES, SITE_ALIASES

    out: dict[str, Any] = {}
    text = str(label)
    dist = _DISTANCE.search(text)
    if dist:
        value = float(dist.group(1)) * (10.0 if dist.group(2).lower() == "cm" else 1.0)
        out["distance_mm"] = value
        text = text[: dist.start()] + " " + text[dist.end() :]
    tokens = [t for t in _LABEL_TOKEN.split(text.lower().replace("'", "")) if t]
    used = [False] * len(tokens)
    for key, table in (("site", SITE_ALIASES), ("nerve", NERVE_ALIASES)):
        for size in (4, 3, 2, 1):
            found = False
            for i in range(len(tokens) - size + 1):
                if any(used[i : i + size]):
                    continue
                phrase = " ".join(tokens[i : i + size])
                if phrase in table:
                    out[key] = table[phrase]
                    used[i : i + size] = [True] * size
                    found = True
                    break
            if found:
                break
    for i, tok in enumerate(tokens):
        if used[i]:
            continue
        if "side" not in out and tok in SIDE_ALIASES:
            out["side"] = SIDE_ALIASES[tok]
        elif "muscle" not in out and tok in _MUSCLES:
            out["muscle"] = tok.upper() if len(tok) <= 3 else tok
    return out


def _sites_from_labels(labels: Sequence[str]) -> pd.DataFrame:
    parsed = [_parse_label(lab) for lab in labels]
    frame = pd.DataFrame({"label": pd.Series([str(lab) for lab in labels], dtype="string")})
    for key in ("nerve", "side", "site", "muscle"):
        values = [p.get(key) for p in parsed]
        if any(v is not None for v in values):
            frame[key] = pd.Series(values, dtype="string")
    dist = [p.get("distance_mm", np.nan) for p in parsed]
    if not all(math.isnan(d) for d in dist):
        frame["distance_mm"] = np.asarray(dist, dtype=float)
    return frame


def _sites_frame(sites: Any, n_traces: int) -> pd.DataFrame:
    if sites is None:
        return pd.DataFrame({"label": pd.Series([str(i) for i in range(n_traces)], dtype="string")})
    if isinstance(sites, pd.DataFrame):
        if len(sites) != n_traces:
            raise ValidationError([(None, "sites", f"has {len(sites)} rows for {n_traces} traces")])
        return sites.reset_index(drop=True)
    labels = [str(s) for s in sites]
    if len(labels) != n_traces:
        raise ValidationError([(None, "sites", f"has {len(labels)} labels for {n_traces} traces")])
    return _sites_from_labels(labels)


def from_array(
    data: Any,
    fs_hz: float,
    *,
    stim_ms: float = 0.0,
    units: str = "mV",
    invert: bool = False,
    sites: pd.DataFrame | Sequence[str] | None = None,
) -> Traces:
    """Wrap a NumPy array of traces (one per row) as :class:`Traces`.

    Parameters
    ----------
    data : array_like
        1-D (one trace) or 2-D (one trace per row) samples.
    fs_hz : float
        Sampling rate. [Hz]
    stim_ms : float, default 0.0
        Stimulus time from the start of the sweep. [ms]
    units : {"mV", "uV", "V"}, default "mV"
        Units of ``data``; stored as mV.
    invert : bool, default False
        Flip the sign (systems that store the negative phase as positive values).
    sites : DataFrame or sequence of str, optional
        Per-trace metadata (a DataFrame with one row per trace) or labels such as
        ``"R median APB wrist 70 mm"``, from which nerve, side, site, muscle and distance are
        read where present.

    Returns
    -------
    Traces
        The traces in mV, negative phase negative.

    References
    ----------
    .. [1] Stålberg E, van Dijk H, Falck B, et al. Standards for quantification of EMG and
       neurography. Clin Neurophysiol. 2019;130(9):1688-1729.
    """
    problems: list[tuple[Any, Any, str]] = []
    arr, _ = _as_2d(data, problems)
    factor = _units_factor(units, problems)
    try:
        fs_ok = math.isfinite(float(fs_hz)) and float(fs_hz) > 0
    except (TypeError, ValueError):
        fs_ok = False
    if not fs_ok:
        problems.append((None, "fs_hz", "must be finite and > 0"))
    _check_invert(invert, problems)
    if problems:
        raise ValidationError(problems)
    data_mv = arr * (factor * (-1.0 if invert else 1.0))
    return Traces(
        data_mv=np.ascontiguousarray(data_mv),
        fs_hz=float(fs_hz),
        stim_ms=float(stim_ms),
        sites=_sites_frame(sites, data_mv.shape[0]),
    )


_TIME_COLUMNS: Mapping[str, float] = {
    "time_ms": 1.0,
    "t_ms": 1.0,
    "ms": 1.0,
    "time": 1.0,
    "t": 1.0,
    "time_s": 1000.0,
    "t_s": 1000.0,
    "s": 1000.0,
}


def read_text(
    path: str | PathLike[str] | Any,
    *,
    fs_hz: float | None = None,
    time_column: str | None = None,
    stim_ms: float | None = None,
    units: str = "mV",
    invert: bool = False,
    sep: str | None = None,
) -> Traces:
    """Read traces stored as columns of a text/CSV file (one column per trace).

    Parameters
    ----------
    path : str, path-like or file-like
        The file. Each numeric column is one trace; its header is the trace label, from
        which nerve, side, site, muscle and distance (``"... 70 mm"``) are read where present.
    fs_hz : float, optional
        Sampling rate; required unless the file has a time column. [Hz]
    time_column : str, optional
        Name of the time column. Default: the first of ``time_ms``, ``t_ms``, ``ms``,
        ``time``, ``t`` (ms) or ``time_s``, ``t_s``, ``s`` (seconds), case-insensitive. Time
        is taken as time from the stimulus, so ``stim_ms`` defaults to ``-time[0]``.
    stim_ms : float, optional
        Stimulus time from the first sample. Default: from the time column, else 0. [ms]
    units : {"mV", "uV", "V"}, default "mV"
        Units of the samples.
    invert : bool, default False
        Flip the sign (negative-up storage).
    sep : str, optional
        Field separator; default: sniffed (comma, tab, semicolon or whitespace).

    Returns
    -------
    Traces
        The traces in mV, negative phase negative.

    Raises
    ------
    ncs.errors.ValidationError
        No trace columns, non-numeric samples, a non-uniform time column, or neither
        ``fs_hz`` nor a time column.

    References
    ----------
    .. [1] Stålberg E, van Dijk H, Falck B, et al. Standards for quantification of EMG and
       neurography. Clin Neurophysiol. 2019;130(9):1688-1729.
    """
    bad: list[tuple[Any, Any, str]] = []
    _check_invert(invert, bad)
    if bad:
        raise ValidationError(bad)
    table = pd.read_csv(path, sep=sep, engine="python" if sep is None else "c")
    lower = {str(c).strip().lower(): c for c in table.columns}
    tcol = None
    t_factor = 1.0
    if time_column is not None:
        if time_column not in table.columns:
            raise ValidationError([(None, time_column, "time column not found")])
        tcol = time_column
        t_factor = _TIME_COLUMNS.get(str(time_column).strip().lower(), 1.0)
    else:
        for name, factor in _TIME_COLUMNS.items():
            if name in lower:
                tcol, t_factor = lower[name], factor
                break
    problems: list[tuple[Any, Any, str]] = []
    trace_cols = [c for c in table.columns if c != tcol]
    if not trace_cols:
        problems.append((None, None, "no trace columns"))
    for c in trace_cols:
        if not pd.api.types.is_numeric_dtype(table[c]):
            problems.append((None, str(c), "samples must be numeric"))
    fs = fs_hz
    stim = 0.0 if stim_ms is None else float(stim_ms)
    if tcol is not None:
        t = pd.to_numeric(table[tcol], errors="coerce").to_numpy(dtype=float) * t_factor
        steps = np.diff(t)
        if t.size < 2 or not np.all(np.isfinite(t)) or np.any(steps <= 0):
            problems.append((None, str(tcol), "time must be finite and increasing"))
        else:
            step = float(np.median(steps))
            if np.max(np.abs(steps - step)) > 1e-3 * step:
                problems.append((None, str(tcol), "time is not uniformly sampled"))
            if fs is None:
                fs = 1000.0 / step
            if stim_ms is None:
                stim = -float(t[0])
    if fs is None:
        problems.append((None, "fs_hz", "give fs_hz or a time column"))
    if problems:
        raise ValidationError(problems)
    data = table[trace_cols].to_numpy(dtype=float).T
    return from_array(
        data,
        float(fs),  # type: ignore[arg-type]
        stim_ms=stim,
        units=units,
        invert=invert,
        sites=[str(c) for c in trace_cols],
    )


def _require_pyedflib() -> Any:
    from ncs._optional import require

    return require("pyedflib", "edf")


def _parse_key_values(text: str) -> dict[str, str]:
    return {k.strip().lower(): v.strip() for k, v in _KEY_VALUE.findall(text)}


def read_edf(
    path: str | PathLike[str],
    *,
    channels: Sequence[str | int] | None = None,
    stim_ms: float | None = None,
    invert: bool = False,
) -> Traces:
    """Read CMAP traces from an EDF or EDF+ file (one signal per trace).

    Parameters
    ----------
    path : str or path-like
        The EDF/EDF+ file.
    channels : sequence of str or int, optional
        Signals to read, by label or index. Default: every signal (EDF+ annotation signals
        are never traces).
    stim_ms : float, optional
        Stimulus time from the start of the record. Default: the onset of the first EDF+
        annotation whose text starts with ``"stim"`` (e.g. ``"Stimulus"``), else 0. [ms]
    invert : bool, default False
        Flip the sign (negative-up storage).

    Returns
    -------
    Traces
        Traces in mV (converted from each signal's physical dimension: V, mV or uV).
        ``sites`` has ``label`` and, where found, ``nerve``, ``side``, ``site``, ``muscle``,
        ``distance_mm`` (from the signal label or annotations), ``lff_hz`` (from the
        ``HP:`` item of the signal's prefilter field) and ``annotations`` (texts addressed
        to the signal).

    Raises
    ------
    ImportError
        pyedflib is not installed (``pip install 'ncs-edx[edf]'``).
    ncs.errors.ValidationError
        Unknown channels, signals with different sampling rates, unknown units.

    Notes
    -----
    Site metadata are read from two places, later ones winning:

    1. the signal label, e.g. ``"R Median APB Wrist 70mm"`` (names matched against
       :mod:`ncs.names`, distances written ``NN mm`` or ``NN cm``);
    2. EDF+ annotations of the form ``"channel=<label>; site=elbow; distance_mm=230"``
       (keys ``channel`` or ``trace`` (0-based index), then any of ``nerve``, ``side``,
       ``site``, ``muscle``, ``distance_mm`` (or ``dist_mm``), ``distance_cm`` (or
       ``dist_cm``), ``lff_hz``). EDF+ writers such as EDFlib keep at most 40 characters
       of an annotation text, so short forms (``"trace=1; dist_mm=230"``) are safer.

    References
    ----------
    .. [1] Kemp B, Värri A, Rosa AC, Nielsen KD, Gade J. A simple format for exchange of
       digitized polygraphic recordings. Electroencephalogr Clin Neurophysiol.
       1992;82(5):391-393.
    .. [2] Kemp B, Olivan J. European data format 'plus' (EDF+), an EDF alike standard format
       for the exchange of physiological data. Clin Neurophysiol. 2003;114(9):1755-1761.
    """
    problems: list[tuple[Any, Any, str]] = []
    _check_invert(invert, problems)
    if problems:
        raise ValidationError(problems)
    pyedflib = _require_pyedflib()
    with pyedflib.EdfReader(str(path)) as reader:
        labels = [str(lab).strip() for lab in reader.getSignalLabels()]
        if channels is None:
            picks = list(range(len(labels)))
        else:
            picks = []
            for ch in channels:
                if isinstance(ch, int | np.integer) and 0 <= int(ch) < len(labels):
                    picks.append(int(ch))
                elif isinstance(ch, str) and ch.strip() in labels:
                    picks.append(labels.index(ch.strip()))
                else:
                    problems.append((None, "channels", f"no signal {ch!r} in the file"))
        rates = [float(reader.getSampleFrequency(i)) for i in picks]
        dims = [str(reader.getPhysicalDimension(i)).strip() for i in picks]
        prefilters = [str(reader.getPrefilter(i)) for i in picks]
        signals = [np.asarray(reader.readSignal(i), dtype=float) for i in picks]
        onsets, durations, texts = reader.readAnnotations()
    if picks and len(set(rates)) > 1:
        problems.append((None, "channels", f"signals have different sampling rates: {rates}"))
    if not picks:
        problems.append((None, "channels", "no signals to read"))
    factors = []
    for lab, dim in zip([labels[i] for i in picks], dims, strict=True):
        key = dim.lower() if dim else "mv"
        if key not in _UNIT_TO_MV:
            problems.append((None, lab, f"unknown physical dimension {dim!r}"))
        factors.append(_UNIT_TO_MV.get(key, 1.0))
    if problems:
        raise ValidationError(problems)
    n_samples = min(s.size for s in signals)
    data = np.vstack([s[:n_samples] * f for s, f in zip(signals, factors, strict=True)])
    if invert:
        data = -data
    picked_labels = [labels[i] for i in picks]
    sites = _sites_from_labels(picked_labels)
    lff = []
    for pf in prefilters:
        m = _PREFILTER_HP.search(pf)
        if m is None:
            lff.append(np.nan)
        else:
            value = float(m.group(1))
            lff.append(value / 1000.0 if m.group(2).lower() == "mhz" else value)
    if not all(math.isnan(v) for v in lff):
        sites["lff_hz"] = np.asarray(lff, dtype=float)

    annotations = pd.DataFrame(
        {
            "onset_s": np.asarray(onsets, dtype=float),
            "duration_s": np.asarray(durations, dtype=float),
            "text": pd.Series([str(t) for t in texts], dtype="string"),
        }
    )
    stim = 0.0 if stim_ms is None else float(stim_ms)
    per_trace_notes: list[list[str]] = [[] for _ in picks]
    for onset_s, text in zip(annotations["onset_s"], annotations["text"], strict=True):
        text = str(text)
        if stim_ms is None and text.strip().lower().startswith("stim") and "=" not in text:
            stim = float(onset_s) * 1000.0
            stim_ms = stim
            continue
        kv = _parse_key_values(text)
        target = None
        if "channel" in kv and kv["channel"] in picked_labels:
            target = picked_labels.index(kv["channel"])
        elif "trace" in kv and kv["trace"].isdigit() and int(kv["trace"]) < len(picks):
            target = int(kv["trace"])
        if target is None:
            continue
        per_trace_notes[target].append(text)
        parsed = _parse_label(" ".join(v for k, v in kv.items() if k in ("nerve", "side", "site")))
        for key in ("nerve", "side", "site"):
            if key in kv and key in parsed:
                if key not in sites:
                    sites[key] = pd.Series([None] * len(picks), dtype="string")
                sites.loc[target, key] = parsed[key]
        if "muscle" in kv:
            if "muscle" not in sites:
                sites["muscle"] = pd.Series([None] * len(picks), dtype="string")
            sites.loc[target, "muscle"] = kv["muscle"]
        numeric_keys = (
            ("distance_mm", 1.0, "distance_mm"),
            ("dist_mm", 1.0, "distance_mm"),
            ("distance_cm", 10.0, "distance_mm"),
            ("dist_cm", 10.0, "distance_mm"),
            ("lff_hz", 1.0, "lff_hz"),
        )
        for key, mult, column in numeric_keys:
            if key in kv:
                try:
                    value = float(kv[key].split()[0]) * mult
                except (ValueError, IndexError):
                    continue
                if column not in sites:
                    sites[column] = np.full(len(picks), np.nan)
                sites.loc[target, column] = value
    if any(per_trace_notes):
        sites["annotations"] = pd.Series(["; ".join(n) for n in per_trace_notes], dtype="string")
    return Traces(
        data_mv=np.ascontiguousarray(data),
        fs_hz=rates[0],
        stim_ms=stim,
        sites=sites,
        annotations=annotations,
    )
