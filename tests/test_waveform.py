"""Tests of ncs.waveform: markers and measures against analytic shapes, readers."""

from __future__ import annotations

import io
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ncs.errors import ValidationError
from ncs.waveform import MEASURE_COLUMNS, Traces, from_array, measure, read_edf, read_text

FS = 20_000.0
DT = 1000.0 / FS  # ms per sample
STIM = 2.0


def trapezoid_tolerance(duration_ms: float) -> float:
    """Relative error bound of the trapezoid rule on a half-sine sampled every DT ms.

    The rule underestimates a half-sine integral by about (pi * dt / T)**2 / 12; twice that
    leaves room for the sub-sample end pieces.
    """
    return 2 * (math.pi * DT / duration_ms) ** 2 / 12 + 1e-9


def time_axis(sweep_ms: float = 50.0, stim_ms: float = STIM, fs: float = FS) -> np.ndarray:
    return np.arange(round(sweep_ms * fs / 1000.0)) * (1000.0 / fs) - stim_ms


def half_sine(t: np.ndarray, start: float, duration: float, height: float) -> np.ndarray:
    """A half-sine bump of ``height`` (sign included) on [start, start + duration)."""
    inside = (t >= start) & (t < start + duration)
    return np.where(inside, height * np.sin(np.pi * (t - start) / duration), 0.0)


def biphasic(
    t: np.ndarray,
    onset: float = 3.0,
    neg_amp: float = 4.0,
    neg_dur: float = 5.0,
    pos_amp: float = 1.5,
    pos_dur: float = 7.0,
    offset: float = 0.0,
) -> np.ndarray:
    return (
        half_sine(t, onset, neg_dur, -neg_amp)
        + half_sine(t, onset + neg_dur, pos_dur, pos_amp)
        + offset
    )


# --------------------------------------------------------------------------------- analytic


def test_biphasic_half_sines_give_their_analytic_measures():
    t = time_axis()
    x = biphasic(t, onset=3.0, neg_amp=4.0, neg_dur=5.0, pos_amp=1.5, pos_dur=7.0, offset=0.3)
    row = measure(x, FS, stim_ms=STIM).iloc[0]
    assert row["quality"] == "ok"
    assert row["response"] == "present"
    assert row["latency_ms"] == pytest.approx(3.0, abs=1e-6)
    assert row["amplitude_mv"] == pytest.approx(4.0, rel=1e-9)  # peak falls on a sample
    assert row["pp_amplitude_mv"] == pytest.approx(5.5, rel=1e-9)
    assert row["area_mvms"] == pytest.approx(2 * 4.0 * 5.0 / math.pi, rel=trapezoid_tolerance(5.0))
    assert row["duration_ms"] == pytest.approx(5.0, abs=1e-6)
    assert row["distal_duration_ms"] == pytest.approx(5.0, abs=1e-6)
    assert row["total_duration_ms"] == pytest.approx(12.0, abs=1e-6)
    assert row["peak_latency_ms"] == pytest.approx(5.5, abs=1e-9)
    assert row["baseline_mv"] == pytest.approx(0.3)
    assert row["noise_sd_mv"] == pytest.approx(0.0, abs=1e-12)


def test_onset_between_samples_is_placed_within_a_small_fraction_of_a_sample():
    t = time_axis()
    onset = 3.0 + 0.37 * DT
    x = biphasic(t, onset=onset, neg_amp=6.0, neg_dur=4.2, pos_amp=2.0, pos_dur=6.0)
    row = measure(x, FS, stim_ms=STIM).iloc[0]
    # the first departed samples lie on a sine, nearly a line: sub-sample accuracy
    assert row["latency_ms"] == pytest.approx(onset, abs=0.02 * DT)
    assert row["duration_ms"] == pytest.approx(4.2, abs=0.05 * DT)
    assert row["total_duration_ms"] == pytest.approx(10.2, abs=0.05 * DT)
    assert row["area_mvms"] == pytest.approx(2 * 6.0 * 4.2 / math.pi, rel=trapezoid_tolerance(4.2))


def test_monophasic_negative_phase_ending_on_a_flat_baseline():
    t = time_axis()
    x = half_sine(t, 4.0 + 0.6 * DT, 3.0, -2.0)
    row = measure(x, FS, stim_ms=STIM).iloc[0]
    assert row["duration_ms"] == pytest.approx(3.0, abs=0.05 * DT)
    assert row["total_duration_ms"] == pytest.approx(3.0, abs=0.05 * DT)
    assert row["pp_amplitude_mv"] == pytest.approx(row["amplitude_mv"])  # no positive phase
    assert row["area_mvms"] == pytest.approx(2 * 2.0 * 3.0 / math.pi, rel=trapezoid_tolerance(3.0))


def test_two_negative_peaks_distal_duration_spans_both():
    t = time_axis()
    # first negative phase 3 ms, back to baseline for 1 ms, second negative phase 2 ms
    x = half_sine(t, 3.0, 3.0, -3.0) + half_sine(t, 7.0, 2.0, -1.5)
    row = measure(x, FS, stim_ms=STIM).iloc[0]
    assert row["duration_ms"] == pytest.approx(3.0, abs=1e-6)
    assert row["area_mvms"] == pytest.approx(2 * 3.0 * 3.0 / math.pi, rel=trapezoid_tolerance(3.0))
    assert row["distal_duration_ms"] == pytest.approx(6.0, abs=1e-6)  # 3.0 -> 9.0 ms
    assert row["total_duration_ms"] == pytest.approx(6.0, abs=1e-6)
    assert row["amplitude_mv"] == pytest.approx(3.0, rel=1e-9)


def test_late_peak_below_threshold_is_not_a_negative_peak():
    t = time_axis()
    # a late negativity of 2% of the amplitude is below the 5% detection threshold
    x = biphasic(t, 3.0, 5.0, 4.0, 1.0, 5.0) + half_sine(t, 20.0, 2.0, -0.1)
    row = measure(x, FS, stim_ms=STIM).iloc[0]
    assert row["distal_duration_ms"] == pytest.approx(4.0, abs=1e-6)
    assert row["total_duration_ms"] == pytest.approx(9.0, abs=1e-6)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    onset=st.floats(1.5, 12.0),
    neg_amp=st.floats(0.05, 40.0),
    neg_dur=st.floats(1.5, 9.0),
    pos_ratio=st.floats(0.0, 1.0),
    pos_dur=st.floats(1.5, 12.0),
    offset=st.floats(-5.0, 5.0),
    microvolts=st.booleans(),
)
def test_measures_match_half_sine_formulas(
    onset, neg_amp, neg_dur, pos_ratio, pos_dur, offset, microvolts
):
    t = time_axis(sweep_ms=45.0)
    x = biphasic(t, onset, neg_amp, neg_dur, pos_ratio * neg_amp, pos_dur, offset)
    if microvolts:
        x = x * 1000.0
    row = measure(x, FS, STIM, units="uV" if microvolts else "mV").iloc[0]
    assert row["quality"] == "ok"
    # amplitude: the sampled peak is within cos(pi * dt / (2 T)) of the true one
    sampling = 1 - math.cos(math.pi * DT / (2 * neg_dur))
    assert neg_amp * (1 - sampling) - 1e-9 <= row["amplitude_mv"] <= neg_amp * (1 + 1e-9)
    assert row["latency_ms"] == pytest.approx(onset, abs=0.05 * DT)
    assert row["duration_ms"] == pytest.approx(neg_dur, abs=0.1 * DT)
    assert row["area_mvms"] == pytest.approx(
        2 * neg_amp * neg_dur / math.pi, rel=trapezoid_tolerance(neg_dur)
    )
    expected_total = neg_dur + (pos_dur if pos_ratio * neg_amp > 0.05 * neg_amp else 0.0)
    if pos_ratio == 0 or 0.04 < pos_ratio < 0.06:
        return  # at the 5 % threshold the positive phase may or may not count
    assert row["total_duration_ms"] == pytest.approx(expected_total, abs=0.1 * DT)
    positive = pos_ratio * neg_amp
    pos_sampling = 1 - math.cos(math.pi * DT / (2 * pos_dur))
    tolerance = neg_amp * sampling + positive * pos_sampling + 1e-9
    assert row["pp_amplitude_mv"] == pytest.approx(neg_amp + positive, abs=tolerance)


# ---------------------------------------------------------------------- units, polarity, batch


def test_microvolts_and_inverted_polarity_give_the_same_measures():
    t = time_axis()
    x = biphasic(t, 3.3, 7.0, 5.5, 3.0, 6.0, offset=-0.2)
    ref = measure(x, FS, STIM)
    as_uv = measure(x * 1000.0, FS, STIM, units="uV")
    inverted = measure(-x, FS, STIM, invert=True)
    pd.testing.assert_frame_equal(ref, as_uv, rtol=1e-9)
    pd.testing.assert_frame_equal(ref, inverted, rtol=1e-12)


def test_batch_rows_are_independent_and_keep_their_order():
    t = time_axis()
    rows = np.vstack(
        [
            biphasic(t, 3.0, 5.0, 5.0, 1.0, 6.0),
            np.zeros_like(t),
            biphasic(t, 6.5, 1.0, 7.0, 0.5, 8.0, offset=1.0),
            biphasic(t, 12.0, 0.3, 4.0, 0.1, 4.0),
        ]
    )
    batch = measure(rows, FS, STIM)
    assert list(batch.index) == [0, 1, 2, 3]
    for i in range(rows.shape[0]):
        single = measure(rows[i], FS, STIM)
        pd.testing.assert_frame_equal(batch.iloc[[i]].reset_index(drop=True), single)
    assert list(batch["latency_ms"].round(6).iloc[[0, 2, 3]]) == [3.0, 6.5, 12.0]
    reversed_rows = measure(rows[::-1], FS, STIM)
    pd.testing.assert_frame_equal(
        reversed_rows.iloc[::-1].reset_index(drop=True), batch, check_exact=False
    )


def test_output_columns_are_sites_table_names_and_types():
    frame = measure(biphasic(time_axis()), FS, STIM)
    assert tuple(frame.columns[: len(MEASURE_COLUMNS)]) == MEASURE_COLUMNS
    assert set(MEASURE_COLUMNS) >= {"latency_ms", "amplitude_mv", "area_mvms", "duration_ms"}
    for column in MEASURE_COLUMNS:
        assert frame[column].dtype == np.float64
    assert {"response", "quality"} <= set(frame.columns)


# -------------------------------------------------------------------------- noise and offsets


def test_noise_and_baseline_offset_stay_within_stated_tolerances():
    rng = np.random.default_rng(7)
    t = time_axis()
    n = 300
    clean = biphasic(t, 3.0, 5.0, 5.0, 2.0, 6.0, offset=-0.7)
    noisy = clean + rng.normal(0.0, 0.02, (n, t.size))  # SNR 250
    m = measure(noisy, FS, STIM)
    assert (m["quality"] == "ok").all()
    assert m["baseline_mv"].to_numpy() == pytest.approx(-0.7, abs=0.02)
    assert m["noise_sd_mv"].median() == pytest.approx(0.02, rel=0.1)
    assert np.abs(m["latency_ms"] - 3.0).max() < 0.15
    assert abs(m["latency_ms"].median() - 3.0) < 0.05
    # amplitude: the noisiest of a few samples near the peak adds up to ~4 SD
    assert np.abs(m["amplitude_mv"] - 5.0).max() < 0.1
    assert np.abs(m["area_mvms"] / (2 * 5.0 * 5.0 / math.pi) - 1).max() < 0.03
    assert np.abs(m["duration_ms"] - 5.0).max() < 0.3


def test_noise_alone_is_no_response():
    rng = np.random.default_rng(3)
    x = rng.normal(0.0, 0.01, (5, 1000))
    m = measure(x, FS, STIM)
    assert (m["quality"] == "no response").all()
    assert (m["response"] == "absent").all()
    assert m[list(MEASURE_COLUMNS)].isna().all().all()


def test_short_spike_before_the_response_is_ignored():
    t = time_axis()
    x = biphasic(t, 3.0, 4.0, 5.0, 1.5, 7.0)
    spike = (t >= 1.5) & (t < 1.5 + 2 * DT)  # 0.1 ms, shorter than min_departure_ms
    x = np.where(spike, -2.0, x)
    row = measure(x, FS, STIM).iloc[0]
    assert row["latency_ms"] == pytest.approx(3.0, abs=1e-6)
    # with no persistence requirement the spike is taken as the onset
    row1 = measure(x, FS, STIM, min_departure_ms=0.0).iloc[0]
    assert row1["latency_ms"] < 2.0


def test_post_artefact_baseline_when_there_is_no_pre_stimulus_segment():
    t = time_axis(stim_ms=0.0)
    x = biphasic(t, 3.0, 4.0, 5.0, 1.5, 7.0, offset=0.5)
    row = measure(x, FS, 0.0).iloc[0]
    assert row["baseline_mv"] == pytest.approx(0.5)
    assert row["latency_ms"] == pytest.approx(3.0, abs=1e-6)
    explicit = measure(x, FS, 0.0, baseline_ms=(0.5, 2.0)).iloc[0]
    assert explicit["amplitude_mv"] == pytest.approx(4.0)


# ---------------------------------------------------------------------- failures are reported


def test_non_finite_samples_give_nan_and_a_reason():
    x = np.vstack([biphasic(time_axis()), biphasic(time_axis())])
    x[1, 300] = np.nan
    m = measure(x, FS, STIM)
    assert m.loc[0, "quality"] == "ok"
    assert m.loc[1, "quality"] == "non-finite samples"
    assert pd.isna(m.loc[1, "response"])
    assert m.loc[1, list(MEASURE_COLUMNS)].isna().all()


def test_negative_phase_cut_by_the_end_of_the_sweep():
    t = time_axis(sweep_ms=9.0)  # the 5 ms negative phase from 3 ms ends at 8 ms > 7 ms
    x = biphasic(t, 3.0, 4.0, 5.0, 1.5, 7.0)
    row = measure(x, FS, STIM).iloc[0]
    assert row["quality"] == "negative phase does not return to baseline"
    assert row["latency_ms"] == pytest.approx(3.0, abs=1e-6)
    assert row["amplitude_mv"] == pytest.approx(4.0)
    for column in ("area_mvms", "duration_ms", "distal_duration_ms", "total_duration_ms"):
        assert np.isnan(row[column])


def test_peak_at_the_end_of_the_sweep_is_not_an_amplitude():
    t = time_axis(sweep_ms=6.5)  # ends while the signal is still falling (peak at 7.5 ms)
    x = biphasic(t, 3.0, 4.0, 9.0, 1.5, 7.0)
    row = measure(x, FS, STIM).iloc[0]
    assert "negative peak at end of trace" in row["quality"]
    assert np.isnan(row["amplitude_mv"])
    assert row["latency_ms"] == pytest.approx(3.0, abs=1e-6)


def test_response_already_under_way_at_the_window_start_has_no_onset():
    t = time_axis()
    x = biphasic(t, 0.6, 4.0, 5.0, 1.5, 7.0)  # starts inside the artefact window
    row = measure(x, FS, STIM).iloc[0]
    assert "onset before search window" in row["quality"]
    assert np.isnan(row["latency_ms"])
    assert np.isnan(row["duration_ms"])
    assert row["amplitude_mv"] == pytest.approx(4.0)


def test_response_after_the_physiological_window_is_no_response():
    t = time_axis(sweep_ms=60.0)
    x = biphasic(t, 35.0, 4.0, 5.0, 1.5, 7.0)
    row = measure(x, FS, STIM).iloc[0]
    assert row["quality"] == "no response"
    wide = measure(x, FS, STIM, onset_window_ms=(1.0, 40.0)).iloc[0]
    assert wide["latency_ms"] == pytest.approx(35.0, abs=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "column"),
    [
        ({"fs_hz": float("nan")}, "fs_hz"),
        ({"fs_hz": 0.0}, "fs_hz"),
        ({"fs_hz": float("inf")}, "fs_hz"),
        ({"units": "kV"}, "units"),
        ({"stim_ms": 100.0}, "stim_ms"),
        ({"traces": np.zeros((2, 3, 400))}, "traces"),
        ({"traces": np.float64(1.0)}, "traces"),
        ({"traces": [["a", "b"]]}, "traces"),
        ({"stim_ms": 0.0, "onset_window_ms": (0.5, 30.0)}, "baseline_ms"),
        ({"onset_window_ms": (0.2, 30.0)}, "onset_window_ms"),
    ],
)
def test_invalid_arguments_raise_validation_error(kwargs, column):
    args = {"traces": biphasic(time_axis()), "fs_hz": FS, "stim_ms": STIM, **kwargs}
    with pytest.raises(ValidationError) as info:
        measure(args.pop("traces"), args.pop("fs_hz"), **args)
    assert column in {p.column for p in info.value.problems}


def test_every_argument_problem_is_listed_at_once():
    with pytest.raises(ValidationError) as info:
        measure(np.zeros(100), float("nan"), units="furlong", threshold_sd=-1.0)
    assert {"fs_hz", "units", "threshold_sd"} <= {p.column for p in info.value.problems}


# ------------------------------------------------------------------------------------ readers


def test_from_array_reads_site_metadata_from_labels():
    t = time_axis()
    data = np.vstack([biphasic(t, 3.0), biphasic(t, 7.0)])
    traces = from_array(
        data * 1000.0,
        FS,
        stim_ms=STIM,
        units="uV",
        invert=False,
        sites=["R Median APB Wrist 70 mm", "R median APB above-elbow 23.5 cm"],
    )
    assert isinstance(traces, Traces)
    assert traces.data_mv == pytest.approx(data)
    sites = traces.sites
    assert list(sites["site"]) == ["wrist", "above elbow"]
    assert list(sites["nerve"]) == ["median", "median"]
    assert list(sites["side"]) == ["R", "R"]
    assert list(sites["muscle"]) == ["APB", "APB"]
    assert list(sites["distance_mm"]) == [70.0, 235.0]
    measured = traces.measure()
    assert list(measured["latency_ms"].round(6)) == [3.0, 7.0]
    assert measured.loc[1, "site"] == "above elbow"


def test_from_array_rejects_mismatched_sites():
    with pytest.raises(ValidationError):
        from_array(np.zeros((2, 100)), FS, sites=["wrist"])
    with pytest.raises(ValidationError):
        from_array(np.zeros((2, 100)), -1.0)


def test_read_text_with_a_time_column_in_milliseconds():
    t = time_axis()
    wrist = biphasic(t, 3.0, 5.0, 5.0, 1.0, 6.0)
    elbow = biphasic(t, 7.5, 4.0, 5.5, 1.0, 6.0)
    frame = pd.DataFrame({"time_ms": t, "wrist": -wrist, "elbow": -elbow})  # negative-up file
    buffer = io.StringIO(frame.to_csv(index=False))
    traces = read_text(buffer, invert=True)
    assert traces.fs_hz == pytest.approx(FS)
    assert traces.stim_ms == pytest.approx(STIM)
    m = traces.measure()
    assert list(m["site"]) == ["wrist", "elbow"]
    assert m["latency_ms"].to_numpy() == pytest.approx([3.0, 7.5], abs=1e-6)
    assert m["amplitude_mv"].to_numpy() == pytest.approx([5.0, 4.0])


def test_read_text_semicolon_microvolts_without_time_column_needs_fs():
    t = time_axis()
    text = "trace 1;trace 2\n" + "\n".join(
        f"{a:.6f};{b:.6f}" for a, b in zip(biphasic(t) * 1000, biphasic(t, 4.0) * 1000, strict=True)
    )
    with pytest.raises(ValidationError) as info:
        read_text(io.StringIO(text), units="uV")
    assert "fs_hz" in {p.column for p in info.value.problems}
    traces = read_text(io.StringIO(text), units="uV", fs_hz=FS, stim_ms=STIM)
    m = traces.measure()
    assert m["latency_ms"].to_numpy() == pytest.approx([3.0, 4.0], abs=1e-4)
    assert m["amplitude_mv"].to_numpy() == pytest.approx([4.0, 4.0], abs=1e-5)


def test_read_text_rejects_non_uniform_time():
    csv = "time_ms,a\n0,1\n0.05,2\n0.2,3\n0.25,4\n0.3,5\n"
    with pytest.raises(ValidationError):
        read_text(io.StringIO(csv))


def test_read_edf_maps_labels_prefilter_and_annotations(tmp_path):
    pyedflib = pytest.importorskip("pyedflib")
    from pyedflib import highlevel

    fs = 20_000
    t = np.arange(fs) / fs * 1000.0 - STIM  # one 1-s record, stimulus at 2 ms
    wrist = biphasic(t, 3.2, 6.0, 5.0, 2.0, 6.0) * 1000.0  # stored in uV
    elbow = biphasic(t, 7.4, 5.0, 5.5, 2.0, 6.0) * 1000.0
    headers = highlevel.make_signal_headers(
        ["L Median Wrist", "L Median Elbow"],
        dimension="uV",
        sample_frequency=fs,
        physical_min=-20_000,
        physical_max=20_000,
    )
    for header in headers:
        header["prefilter"] = "HP:10Hz LP:10kHz"
    path = tmp_path / "ncs.edf"
    writer = pyedflib.EdfWriter(str(path), 2, file_type=pyedflib.FILETYPE_EDFPLUS)
    writer.set_number_of_annotation_signals(4)
    writer.setSignalHeaders(headers)
    writer.writeSamples([wrist, elbow])
    writer.writeAnnotation(STIM / 1000.0, -1, "Stimulus")
    writer.writeAnnotation(0.0, -1, "trace=0; dist_mm=70")
    writer.writeAnnotation(0.0, -1, "channel=L Median Elbow; dist_cm=23")
    writer.close()

    traces = read_edf(path)
    assert traces.stim_ms == pytest.approx(STIM)
    assert traces.fs_hz == pytest.approx(fs)
    sites = traces.sites
    assert list(sites["site"]) == ["wrist", "elbow"]
    assert list(sites["side"]) == ["L", "L"]
    assert list(sites["distance_mm"]) == [70.0, 230.0]
    assert list(sites["lff_hz"]) == [10.0, 10.0]
    assert "dist_cm=23" in sites.loc[1, "annotations"]
    m = traces.measure()
    assert m["latency_ms"].to_numpy() == pytest.approx([3.2, 7.4], abs=0.01)
    # 16-bit EDF resolution over +-20 mV is 0.6 uV
    assert m["amplitude_mv"].to_numpy() == pytest.approx([6.0, 5.0], abs=2e-3)
    only_elbow = read_edf(path, channels=["L Median Elbow"], stim_ms=2.0)
    assert only_elbow.n_traces == 1
    with pytest.raises(ValidationError):
        read_edf(path, channels=["no such channel"])
