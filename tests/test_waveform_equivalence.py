"""``ncs.waveform.measure`` gives exactly the results of its previous implementation.

The markers are now placed by local searches (a few samples from where each search starts,
widened only where nothing is found) instead of boolean masks over the whole 2-D array.
Every value must stay the same, bit for bit: the previous code is kept, unchanged, in
``tests/waveform_reference.py`` and both run on the same traces here: the benchmark's 1,000
simulated CMAPs and edge cases (flat, clipped, inverted, cut short, NaN and infinite samples,
overflow, 1-D input, spikes, slow ramps, long phases, other sampling rates and options),
then random traces from hypothesis. The private search helpers are checked against their
one-line definitions too.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ncs.errors import ValidationError
from ncs.simulate import cmap
from ncs.waveform import (
    _first_from,
    _first_run,
    _last_before,
    _last_true,
    _segment_sums,
    measure,
)
from waveform_reference import measure as reference_measure

FS = 20_000.0
DT = 1000.0 / FS
STIM = 2.0


def assert_same(traces, fs=FS, stim=STIM, **kwargs):
    """Both implementations give identical frames (values, NaNs, dtypes, strings)."""
    new = measure(traces, fs, stim, **kwargs)
    old = reference_measure(traces, fs, stim, **kwargs)
    pd.testing.assert_frame_equal(new, old, check_exact=True)
    return new


def benchmark_traces(n_traces: int = 1000, seed: int = 0) -> np.ndarray:
    """The traces of ``benchmarks/bench_waveform.py``: noisy CMAPs, three sites, 12 spreads."""
    rng = np.random.default_rng(seed)
    sims = [
        cmap([70.0, 300.0, 420.0], cv_spread=spread, noise_mv=0.02, baseline_mv=0.1, seed=i)
        for i, spread in enumerate(np.linspace(0.0, 0.5, 12))
    ]
    pool = np.vstack([s.traces for s in sims])
    picks = rng.integers(0, pool.shape[0], n_traces)
    return pool[picks] + rng.normal(0.0, 0.02, (n_traces, pool.shape[1]))


def time_axis(sweep_ms: float = 50.0, stim_ms: float = STIM, fs: float = FS) -> np.ndarray:
    return np.arange(round(sweep_ms * fs / 1000.0)) * (1000.0 / fs) - stim_ms


def half_sine(t: np.ndarray, start: float, duration: float, height: float) -> np.ndarray:
    inside = (t >= start) & (t < start + duration)
    return np.where(inside, height * np.sin(np.pi * (t - start) / duration), 0.0)


def biphasic(t, onset=3.0, neg=4.0, neg_ms=5.0, pos=1.5, pos_ms=7.0, offset=0.0):
    return half_sine(t, onset, neg_ms, -neg) + half_sine(t, onset + neg_ms, pos_ms, pos) + offset


# ------------------------------------------------------------------------------ the benchmark


def test_benchmark_traces_give_identical_results():
    traces = benchmark_traces()
    result = assert_same(traces)
    assert (result["quality"] == "ok").all()  # the comparison covers every marker


@pytest.mark.parametrize("kwargs", [{"units": "uV"}, {"invert": True}, {"units": "V"}])
def test_benchmark_traces_in_other_units_and_polarity(kwargs):
    traces = benchmark_traces(200, seed=1)
    if kwargs.get("units") == "uV":
        traces = traces * 1000.0
    if kwargs.get("units") == "V":
        traces = traces / 1000.0
    if kwargs.get("invert"):
        traces = -traces
    assert_same(traces, **kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"min_departure_ms": 0.0},  # a run of one sample
        {"min_departure_ms": 0.1},  # two samples
        {"min_departure_ms": 0.15},  # three: doubling plus a remainder
        {"min_departure_ms": 0.35},  # seven
        {"min_departure_ms": 1.0},  # twenty
        {"threshold_sd": 0.0, "threshold_fraction": 0.0},  # any departure at all
        {"threshold_sd": 3.0, "threshold_fraction": 0.2},
        {"onset_window_ms": (2.0, 6.0)},  # distal responses only
        {"end_ms": 12.0},  # sweep cut inside the responses
        {"baseline_ms": (-1.5, -0.2)},
        {"artefact_ms": 0.9, "onset_window_ms": (1.0, 40.0)},
    ],
)
def test_benchmark_traces_with_other_options(kwargs):
    assert_same(benchmark_traces(300, seed=2), **kwargs)


@pytest.mark.parametrize("fs", [5_000.0, 10_000.0, 48_000.0])
def test_other_sampling_rates(fs):
    sims = cmap([70.0, 250.0, 400.0], cv_spread=0.3, noise_mv=0.03, fs_hz=fs, seed=4)
    assert_same(sims.traces, fs=fs, stim=sims.stim_ms)


# ---------------------------------------------------------------------------------- edge cases


def edge_traces() -> dict[str, np.ndarray]:
    """One trace per edge case on a 50 ms sweep (stimulus at 2 ms, 20 kHz)."""
    t = time_axis()
    rng = np.random.default_rng(11)
    base = biphasic(t)
    cases = {
        "clean": base,
        "flat zero": np.zeros_like(t),
        "flat offset": np.full_like(t, 0.37),
        "noise only": rng.normal(0.0, 0.01, t.size),
        "clipped negative peak": np.clip(biphasic(t, neg=9.0), -5.0, 5.0),
        "clipped both phases": np.clip(biphasic(t, neg=9.0, pos=6.0), -2.0, 2.0),
        "saturated whole sweep": np.where(t > 3.0, -5.0, 0.0),
        "inverted (positive first)": -base,
        "no return to baseline": np.where(t > 5.5, -4.0, base),
        "sweep ends falling": biphasic(t, neg_ms=200.0),
        "positive phase never returns": np.where(t > 9.0, 1.0, base),
        "late larger negativity": base + half_sine(t, 30.0, 5.0, -9.0),
        "large artefact before onset": base + half_sine(t, 0.1, 0.5, -20.0),
        "positive swing before the peak": base + half_sine(t, 1.0, 1.5, 3.0),
        "spike then response": np.where((t >= 1.5) & (t < 1.6), -3.0, base),
        "spikes only": np.where(np.isin(np.arange(t.size) % 97, [0]), -3.0, 0.0),
        "slow ramp onset": np.where(t > 2.0, -np.minimum((t - 2.0) * 0.05, 3.0), 0.0),
        "long negative phase": biphasic(t, neg_ms=30.0, pos_ms=10.0),
        "two negative peaks": half_sine(t, 3.0, 3.0, -3.0) + half_sine(t, 7.0, 2.0, -1.5),
        "tiny response": biphasic(t, neg=1e-6, pos=3e-7),
        "huge response": biphasic(t, neg=1e6, pos=3e5),
        "ties at the peak": np.where((t >= 4.0) & (t < 5.0), -4.0, 0.0),
        "starts during artefact": biphasic(t, onset=0.6),
        "after the window": biphasic(t, onset=35.0),
        "noisy with offset": base + 0.5 + rng.normal(0.0, 0.05, t.size),
        "exactly at threshold": np.where((t > 3.0) & (t < 8.0), -0.05 * 4.0, 0.0)
        + half_sine(t, 10.0, 4.0, -4.0),
    }
    # non-finite samples: in the baseline segment, in the analysed part, and at the end
    for name, index, value in [
        ("NaN in baseline", 10, np.nan),
        ("NaN in response", 300, np.nan),
        ("NaN at the end", t.size - 1, np.nan),
        ("+inf in response", 150, np.inf),
        ("-inf in baseline", 5, -np.inf),
    ]:
        x = base.copy()
        x[index] = value
        cases[name] = x
    return cases


def test_edge_cases_one_batch():
    cases = edge_traces()
    result = assert_same(np.vstack(list(cases.values())))
    result.index = list(cases)
    # the batch covers every way a marker can fail, so the comparison covers each branch
    reasons = set("; ".join(result["quality"]).split("; "))
    assert reasons >= {
        "ok",
        "non-finite samples",
        "no response",
        "onset before search window",
        "negative peak at end of trace",
        "negative phase does not return to baseline",
        "response does not return to baseline",
    }


@pytest.mark.parametrize("name", list(edge_traces()))
def test_edge_cases_one_trace_at_a_time(name):
    trace = edge_traces()[name]
    single = assert_same(trace)  # 1-D input
    batch = assert_same(trace[np.newaxis, :])
    pd.testing.assert_frame_equal(single, batch, check_exact=True)


def test_edge_cases_raise_no_numpy_warning_the_previous_code_did_not():
    traces = np.vstack(list(edge_traces().values()))
    caught = []
    for implementation in (measure, reference_measure):
        with warnings.catch_warnings(record=True) as log:
            warnings.simplefilter("always")
            implementation(traces, FS, STIM)
        caught.append({str(w.message) for w in log})
    assert caught[0] <= caught[1]


def test_edge_cases_stored_negative_up_and_in_microvolts():
    traces = np.vstack(list(edge_traces().values()))
    assert_same(-traces * 1000.0, units="uV", invert=True)


def test_edge_cases_with_a_post_artefact_baseline():
    traces = np.vstack(list(edge_traces().values()))[:, 40:]  # no pre-stimulus segment
    assert_same(traces, stim=0.0)


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_overflowing_finite_samples_stay_finite_rows():
    t = time_axis()
    x = np.vstack([biphasic(t) * 1e305, biphasic(t)])
    x[0, 500:520] = 1.7e308  # finite in V, infinite once converted to mV
    assert_same(x, units="V")


def test_empty_batch_and_short_traces():
    assert assert_same(np.zeros((0, 1000))).shape == (0, 12)
    t = time_axis(sweep_ms=3.5)  # analysed part of 50 samples
    assert_same(np.vstack([biphasic(t, onset=1.2, neg_ms=0.5, pos_ms=0.5), np.zeros_like(t)]))


def test_non_contiguous_and_fortran_ordered_input():
    traces = benchmark_traces(50, seed=5)
    assert_same(np.asfortranarray(traces))
    assert_same(traces[::2, :])
    assert_same(traces.astype(np.float32))


def test_invalid_arguments_are_rejected_alike():
    for kwargs in ({"units": "kV"}, {"min_departure_ms": -1.0}, {"end_ms": 1.0}):
        with pytest.raises(ValidationError) as new:
            measure(np.zeros((2, 1000)), FS, STIM, **kwargs)
        with pytest.raises(ValidationError) as old:
            reference_measure(np.zeros((2, 1000)), FS, STIM, **kwargs)
        assert new.value.problems == old.value.problems


# --------------------------------------------------------------------------- random traces


@st.composite
def cmap_like(draw):
    """Batches of sums of random half-sine phases, offsets, noise and glitches."""
    n_rows = draw(st.integers(1, 6))
    n_samples = draw(st.integers(70, 700))  # the analysed part starts at sample 60
    t = time_axis(sweep_ms=n_samples * DT)
    rows = []
    for _ in range(n_rows):
        x = np.full(t.size, draw(st.floats(-3.0, 3.0)))
        for _ in range(draw(st.integers(0, 4))):
            start = draw(st.floats(-1.0, t[-1]))
            duration = draw(st.floats(0.05, 20.0))
            height = draw(st.floats(-10.0, 10.0))
            x = x + half_sine(t, start, duration, height)
        noise = draw(st.sampled_from([0.0, 1e-3, 0.05]))
        seed = draw(st.integers(0, 2**16))
        x = x + np.random.default_rng(seed).normal(0.0, noise, t.size) if noise else x
        if draw(st.booleans()):
            x = np.round(x, draw(st.integers(0, 3)))  # quantised: plateaus and exact ties
        rows.append(x)
    return np.vstack(rows)


@settings(max_examples=150, deadline=None)
@given(
    traces=cmap_like(),
    run_ms=st.sampled_from([0.0, 0.05, 0.1, 0.2, 0.55]),
    threshold_sd=st.sampled_from([0.0, 2.0, 5.0]),
    threshold_fraction=st.sampled_from([0.0, 0.05, 0.3]),
)
def test_random_traces_give_identical_results(traces, run_ms, threshold_sd, threshold_fraction):
    assert_same(
        traces,
        min_departure_ms=run_ms,
        threshold_sd=threshold_sd,
        threshold_fraction=threshold_fraction,
    )


@settings(max_examples=100, deadline=None)
@given(
    traces=hnp.arrays(
        np.float64,
        st.tuples(st.integers(1, 4), st.integers(70, 200)),
        elements=st.floats(-5.0, 5.0, allow_nan=False) | st.sampled_from([0.0, 1.0, np.nan]),
    )
)
def test_arbitrary_samples_give_identical_results(traces):
    assert_same(traces)


# --------------------------------------------------------------------- the search helpers


@st.composite
def masks(draw):
    """Boolean rows, dense or with a few True (so that the searches must widen)."""
    n_rows = draw(st.integers(1, 5))
    n_cols = draw(st.integers(1, 300))
    mask = np.zeros((n_rows, n_cols), dtype=bool)
    for i in range(n_rows):
        if draw(st.booleans()):
            mask[i] = draw(hnp.arrays(bool, n_cols))
        else:
            mask[i, draw(st.lists(st.integers(0, n_cols - 1), max_size=3))] = True
    return mask


@given(mask=masks(), data=st.data())
def test_first_from_is_the_first_true_at_or_after_start(mask, data):
    n_rows, n_cols = mask.shape
    rows = np.arange(n_rows)
    start = np.array(
        data.draw(st.lists(st.integers(0, n_cols + 2), min_size=n_rows, max_size=n_rows))
    )
    width = data.draw(st.integers(1, 70))
    idx, found = _first_from(mask.astype(float), rows, start, lambda v, r: v > 0.5, width)
    for i in range(n_rows):
        hits = np.flatnonzero(mask[i, start[i] :]) + start[i]
        assert found[i] == (hits.size > 0)
        assert idx[i] == (hits[0] if hits.size else 0)


@given(mask=masks(), data=st.data())
def test_last_before_is_the_last_true_before_stop(mask, data):
    n_rows, n_cols = mask.shape
    rows = np.arange(n_rows)
    stop = np.array(data.draw(st.lists(st.integers(0, n_cols), min_size=n_rows, max_size=n_rows)))
    width = data.draw(st.integers(1, 70))
    idx, found = _last_before(mask.astype(float), rows, stop, lambda v, r: v > 0.5, width)
    for i in range(n_rows):
        hits = np.flatnonzero(mask[i, : stop[i]])
        assert found[i] == (hits.size > 0)
        assert idx[i] == (hits[-1] if hits.size else 0)


@given(mask=masks(), run=st.integers(1, 12), n_starts=st.integers(-2, 100))
def test_first_run_is_the_first_start_of_run_trues(mask, run, n_starts):
    n_rows, n_cols = mask.shape
    padded = np.zeros((n_rows, (n_cols // 8 + 1) * 8), dtype=bool)
    padded[:, :n_cols] = mask
    idx, found = _first_run(padded, n_cols, run, n_starts)
    for i in range(n_rows):
        starts = [s for s in range(min(n_starts, n_cols - run + 1)) if mask[i, s : s + run].all()]
        assert found[i] == bool(starts)
        assert idx[i] == (starts[0] if starts else idx[i])  # index unused where none


@given(mask=masks())
def test_last_true_is_the_last_true(mask):
    n_rows, n_cols = mask.shape
    padded = np.zeros((n_rows, (n_cols // 8 + 1) * 8), dtype=bool)
    padded[:, :n_cols] = mask
    idx, found = _last_true(padded)
    for i in range(n_rows):
        hits = np.flatnonzero(mask[i])
        assert found[i] == (hits.size > 0)
        assert idx[i] == (hits[-1] if hits.size else 0)


def test_searches_reach_both_ends_of_the_trace():
    """One True anywhere in a row of 23: every start or stop and first window finds it."""
    n_cols = 23
    for position in range(n_cols):
        row = np.zeros((1, n_cols))
        row[0, position] = 1.0
        for width in range(1, 9):
            for bound in range(n_cols + 1):
                here = np.array([bound])
                idx, found = _first_from(row, np.arange(1), here, lambda v, r: v > 0.5, width)
                assert (found[0], idx[0]) == ((True, position) if position >= bound else (False, 0))
                idx, found = _last_before(row, np.arange(1), here, lambda v, r: v > 0.5, width)
                assert (found[0], idx[0]) == ((True, position) if position < bound else (False, 0))


@settings(max_examples=100, deadline=None)
@given(
    values=hnp.arrays(
        np.float64,
        st.tuples(st.integers(1, 6), st.integers(2, 300)),
        elements=st.floats(-1e6, 1e6, allow_nan=False, width=64),
    ),
    data=st.data(),
)
def test_segment_sums_are_the_sums_of_reduceat_over_the_whole_array(values, data):
    n_rows, n_cols = values.shape
    start = np.array([data.draw(st.integers(0, n_cols - 1)) for _ in range(n_rows)])
    stop = np.array([data.draw(st.integers(s + 1, n_cols)) for s in start])
    rows = np.array(sorted(data.draw(st.sets(st.integers(0, n_rows - 1)))), dtype=np.intp)
    sums = _segment_sums(values, rows, start, stop)
    at = np.arange(n_rows) * n_cols
    bounds = np.column_stack([at + start, at + stop]).ravel()
    whole = np.add.reduceat(values.ravel(), bounds[bounds < values.size])[::2]
    assert np.array_equal(sums[rows], whole[rows])  # the same floats, not just close
    assert not sums[np.setdiff1d(np.arange(n_rows), rows)].any()


def test_numpy_buffer_size_is_left_as_it_was():
    before = np.getbufsize()
    measure(benchmark_traces(20), FS, STIM)
    with pytest.raises(ValidationError):
        measure(np.zeros((2, 1000)), FS, STIM, units="kV")
    assert np.getbufsize() == before
