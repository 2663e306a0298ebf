"""Tests of ncs.simulate: the motor-unit CMAP model, dispersion-only loss, cohorts."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ncs.errors import ValidationError
from ncs.simulate import (
    COHORT_COLUMNS,
    NERVE_LAYOUTS,
    cmap,
    cohort,
    dispersion_only_area_loss,
    unit_waveform,
)

# ------------------------------------------------------------------------------ unit waveform


def test_unit_waveform_phases_have_half_sine_areas():
    t = np.linspace(-2.0, 15.0, 170_001)
    u = unit_waveform(t, negative_ms=4.0, positive_ms=6.0, positive_ratio=0.4)
    dt = t[1] - t[0]
    assert u.min() == pytest.approx(-1.0, abs=1e-6)
    assert u.max() == pytest.approx(0.4, abs=1e-6)
    assert -u[u < 0].sum() * dt == pytest.approx(2 * 4.0 / math.pi, rel=1e-4)
    assert u[u > 0].sum() * dt == pytest.approx(2 * 0.4 * 6.0 / math.pi, rel=1e-4)
    assert np.all(u[(t < 0) | (t >= 10.0)] == 0)


# --------------------------------------------------------------------------------------- cmap


def test_synchronous_units_recover_the_simulator_parameters_exactly():
    sim = cmap(
        [70.0, 300.0, 420.0],
        cv_spread=0.0,
        amplitude_mv=8.0,
        cv_m_s=55.0,
        residual_latency_ms=2.0,
        unit_negative_ms=4.0,
        unit_positive_ms=6.0,
        unit_positive_ratio=0.4,
    )
    m = sim.measure()
    expected_latency = 2.0 + np.array([70.0, 300.0, 420.0]) / 55.0  # mm / (m/s) = ms
    assert sim.onset_ms == pytest.approx(expected_latency)
    assert m["latency_ms"].to_numpy() == pytest.approx(expected_latency, abs=1e-3)
    # sampled peaks: the true peak lies within half a sample (cos(pi * 0.025 / 4) of it)
    assert m["amplitude_mv"].to_numpy() == pytest.approx(8.0, rel=2e-4)
    assert m["pp_amplitude_mv"].to_numpy() == pytest.approx(8.0 * 1.4, rel=2e-4)
    assert m["area_mvms"].to_numpy() == pytest.approx(2 * 8.0 * 4.0 / math.pi, rel=5e-4)
    assert m["duration_ms"].to_numpy() == pytest.approx(4.0, abs=1e-3)
    assert m["total_duration_ms"].to_numpy() == pytest.approx(10.0, abs=1e-3)
    assert sim.unit_amplitude_mv.sum() == pytest.approx(8.0)


def test_noisy_offset_cmap_is_measured_within_stated_tolerances():
    sim = cmap(
        [70.0, 320.0], cv_spread=0.0, amplitude_mv=6.0, noise_mv=0.02, baseline_mv=-0.4, seed=11
    )
    m = sim.measure()
    assert (m["quality"] == "ok").all()
    assert m["baseline_mv"].to_numpy() == pytest.approx(-0.4, abs=0.02)
    assert np.abs(m["latency_ms"].to_numpy() - sim.onset_ms).max() < 0.15
    assert np.abs(m["amplitude_mv"].to_numpy() - 6.0).max() < 0.1
    assert m["area_mvms"].to_numpy() == pytest.approx(2 * 6.0 * 4.0 / math.pi, rel=0.03)


def test_dispersed_onset_is_the_fastest_conducting_unit():
    sim = cmap([70.0, 300.0, 500.0], cv_spread=0.4, seed=3)
    fastest = sim.unit_cv_m_s.max()
    assert fastest == pytest.approx(55.0 * (1 + 0.4 / 2), rel=0.01)
    assert sim.onset_ms == pytest.approx(2.0 + sim.distance_mm / fastest)
    m = sim.measure()
    # noise-free: the earliest unit leaves an exactly flat baseline; the onset is placed
    # within the sample interval where that happens (later units steepen the extrapolation)
    one_sample = 1000.0 / sim.fs_hz
    error = m["latency_ms"].to_numpy() - sim.onset_ms
    assert np.all((error > -1e-9) & (error < one_sample))


def test_signed_integral_is_conserved_by_dispersion():
    # Timing moves the units, it does not change their summed integral.
    sim = cmap(
        [70.0, 250.0, 600.0],
        cv_spread=0.6,
        unit_negative_ms=3.0,
        unit_positive_ms=5.0,
        unit_positive_ratio=0.5,
        sweep_ms=60.0,
        seed=5,
    )
    dt = 1000.0 / sim.fs_hz
    per_unit = -2 * 3.0 / math.pi + 2 * 0.5 * 5.0 / math.pi
    expected = sim.unit_amplitude_mv.sum() * per_unit
    assert sim.clean.sum(axis=1) * dt == pytest.approx(expected, rel=2e-3)


@settings(max_examples=10, deadline=None)
@given(spread=st.floats(0.15, 0.8), seed=st.integers(0, 2**16))
@example(spread=0.75, seed=584)  # the negative peak trimmed between the last two sites
def test_phase_cancellation_area_falls_duration_grows_with_distance(spread, seed):
    sim = cmap([70.0, 200.0, 350.0, 500.0], cv_spread=spread, n_units=60, sweep_ms=60.0, seed=seed)
    assert sim.conducting.all()  # no block anywhere
    m = sim.measure()
    area = m["area_mvms"].to_numpy()
    amplitude = m["amplitude_mv"].to_numpy()
    duration = m["duration_ms"].to_numpy()
    assert np.all(np.diff(area) < 0)
    assert np.all(np.diff(amplitude) < 0)
    assert duration[-1] > duration[0]
    if spread <= STEPWISE_SPREAD:
        assert np.all(np.diff(duration) > 0)


#: Up to this velocity spread the negative-peak duration grows at every site. Beyond it,
#: cancellation can trim the negative peak of the most dispersed response by a few hundredths
#: of a ms between two proximal sites (spread 0.75, seed 584: 6.93 -> 6.87 ms from 350 to
#: 500 mm; 1 of 150 seeds at 0.8, none of 150 at 0.6), while it still grows over the nerve.
STEPWISE_SPREAD = 0.6


def test_phase_cancellation_grows_with_velocity_spread():
    areas, durations = [], []
    for spread in (0.0, 0.2, 0.4, 0.6):
        m = cmap(400.0, cv_spread=spread, seed=2, sweep_ms=60.0).measure()
        areas.append(m.loc[0, "area_mvms"])
        durations.append(m.loc[0, "duration_ms"])
    assert np.all(np.diff(areas) < 0)
    assert np.all(np.diff(durations) > 0)


def test_block_removes_the_blocked_units_share_of_area():
    sim = cmap([70.0, 300.0], cv_spread=0.0, conducting_fraction=[1.0, 0.4], n_units=50, seed=9)
    assert sim.conducting[0].all()
    assert sim.conducting[1].sum() == 20
    share = sim.unit_amplitude_mv[sim.conducting[1]].sum() / sim.unit_amplitude_mv.sum()
    m = sim.measure()
    assert m.loc[1, "area_mvms"] / m.loc[0, "area_mvms"] == pytest.approx(share, rel=1e-3)
    assert m.loc[1, "amplitude_mv"] / m.loc[0, "amplitude_mv"] == pytest.approx(share, rel=1e-3)
    assert m.loc[1, "duration_ms"] == pytest.approx(m.loc[0, "duration_ms"], abs=1e-3)


def test_cmap_is_reproducible_with_a_seed():
    a = cmap([70.0, 300.0], noise_mv=0.05, seed=42)
    b = cmap([70.0, 300.0], noise_mv=0.05, seed=42)
    c = cmap([70.0, 300.0], noise_mv=0.05, seed=43)
    np.testing.assert_array_equal(a.traces, b.traces)
    assert not np.array_equal(a.traces, c.traces)


@pytest.mark.parametrize(
    ("kwargs", "column"),
    [
        ({"cv_spread": 2.0}, "cv_spread"),
        ({"cv_spread": -0.1}, "cv_spread"),
        ({"n_units": 0}, "n_units"),
        ({"distance_mm": -5.0}, "distance_mm"),
        ({"distance_mm": float("nan")}, "distance_mm"),
        ({"fs_hz": 0.0}, "fs_hz"),
        ({"conducting_fraction": 1.5}, "conducting_fraction"),
        ({"amplitude_mv": 0.0}, "amplitude_mv"),
    ],
)
def test_cmap_rejects_invalid_parameters(kwargs, column):
    args = {"distance_mm": 70.0, **kwargs}
    with pytest.raises(ValidationError) as info:
        cmap(args.pop("distance_mm"), **args)
    assert column in {p.column for p in info.value.problems}


# ------------------------------------------------------------------ dispersion-only area loss


def test_dispersion_only_loss_is_zero_without_spread_and_grows_with_distance_and_spread():
    distances = np.array([100.0, 200.0, 300.0, 400.0])
    spreads = np.array([0.0, 0.2, 0.4, 0.6])
    table = dispersion_only_area_loss(distances[:, None], spreads[None, :])
    assert len(table) == 16
    grid = table.pivot(index="distance_mm", columns="cv_spread", values="area_loss_pct")
    # no spread: identical CMAPs up to where they fall between samples (trapezoid rule)
    assert grid[0.0].to_numpy() == pytest.approx(0.0, abs=1e-4)
    values = grid.to_numpy()
    assert np.all(np.diff(values[:, 1:], axis=0) > 0)  # longer segment, more loss
    assert np.all(np.diff(values, axis=1) > 0 - 1e-9)  # wider spread, more loss
    assert np.all((values >= -1e-4) & (values < 100))
    spread_rows = table[table["cv_spread"] > 0]
    # phase cancellation takes more amplitude than area, and lengthens the negative peak
    assert (spread_rows["amplitude_loss_pct"] > spread_rows["area_loss_pct"]).all()
    assert (spread_rows["duration_change_pct"] > 0).all()


def test_dispersion_only_loss_equals_the_ratio_of_simulated_areas():
    row = dispersion_only_area_loss(250.0, 0.5, distal_distance_mm=80.0, n_units=120).iloc[0]
    assert row["area_loss_pct"] == pytest.approx(
        (row["distal_area_mvms"] - row["proximal_area_mvms"]) / row["distal_area_mvms"] * 100
    )
    # the distal CMAP at 80 mm is barely dispersed: its area is close to the synchronous one
    assert row["distal_area_mvms"] == pytest.approx(2 * 10.0 * 4.0 / math.pi, rel=0.02)


def test_dispersion_only_loss_rejects_impossible_spread():
    with pytest.raises(ValidationError):
        dispersion_only_area_loss(100.0, 2.5)


# -------------------------------------------------------------------------------------- cohort


@pytest.fixture(scope="module")
def sites() -> pd.DataFrame:
    return cohort(1500, seed=20240601, truth=True)


def test_cohort_has_exactly_the_tidy_columns():
    frame = cohort(3, seed=1)
    assert tuple(frame.columns) == COHORT_COLUMNS
    assert frame["site_order"].dtype == np.int64
    for column in (
        "latency_ms",
        "amplitude_mv",
        "area_mvms",
        "duration_ms",
        "distance_mm",
        "f_latency_ms",
        "f_persistence_pct",
        "distal_duration_ms",
        "lff_hz",
    ):
        assert frame[column].dtype == np.float64


def test_cohort_names_orders_and_muscles_are_canonical(sites):
    assert set(sites["nerve"]) == {"median", "ulnar", "peroneal", "tibial"}
    assert set(sites["side"]) <= {"L", "R"}
    assert set(sites["response"]) == {"present", "absent"}
    expected_sites = {
        "median": ["wrist", "elbow", "axilla"],
        "ulnar": ["wrist", "below elbow", "above elbow", "axilla"],
        "peroneal": ["ankle", "below fibular head", "popliteal fossa"],
        "tibial": ["ankle", "popliteal fossa"],
    }
    muscles = {"median": "APB", "ulnar": "ADM", "peroneal": "EDB", "tibial": "AH"}
    for nerve, group in sites.groupby("nerve"):
        names = expected_sites[nerve]
        assert list(group["site"].iloc[: len(names)]) == names
        assert (group["site"] == np.array(names)[group["site_order"]]).all()
        assert (group["muscle"] == muscles[nerve]).all()
    sizes = sites.groupby(["patient_id", "nerve", "side"]).size()
    assert sizes.groupby(level="nerve").unique().map(list).to_dict() == {
        n: [len(s)] for n, s in expected_sites.items()
    }


def test_cohort_latencies_increase_proximally_and_distances_are_positive(sites):
    present = sites[sites["response"] == "present"]
    keys = ["patient_id", "nerve", "side"]
    steps = present.groupby(keys)["latency_ms"].diff().dropna()
    assert (steps > 0).all()
    assert (sites["distance_mm"] > 0).all()
    distal = sites[sites["site_order"] == 0]
    assert set(distal["distance_mm"]) == {70.0, 80.0, 100.0}


def test_cohort_absent_rows_follow_the_design_rules(sites):
    absent = sites[sites["response"] == "absent"]
    assert len(absent) > 0
    assert (absent["amplitude_mv"] == 0).all()
    assert (absent["area_mvms"] == 0).all()
    assert absent["latency_ms"].isna().all()
    assert absent["duration_ms"].isna().all()
    present = sites[sites["response"] == "present"]
    assert present[["latency_ms", "amplitude_mv", "area_mvms", "duration_ms"]].notna().all().all()
    assert (present["amplitude_mv"] > 0).all()


def test_cohort_f_wave_and_distal_duration_only_on_the_distal_row(sites):
    proximal = sites[sites["site_order"] > 0]
    assert proximal[["f_latency_ms", "f_persistence_pct", "distal_duration_ms"]].isna().all().all()
    distal = sites[(sites["site_order"] == 0) & (sites["response"] == "present")]
    assert distal["f_persistence_pct"].between(0, 100).all()
    assert (distal["f_latency_ms"] > distal["latency_ms"]).all()
    assert (distal["distal_duration_ms"] >= distal["duration_ms"]).all()
    assert set(sites["lff_hz"]) <= {2.0, 10.0, 20.0}


def test_cohort_area_amplitude_and_duration_are_mutually_plausible(sites):
    present = sites[sites["response"] == "present"]
    shape = present["area_mvms"] / (present["amplitude_mv"] * present["duration_ms"])
    # a half-sine has shape 2/pi = 0.64; real CMAPs a little less. Rounding to 0.01 widens
    # the range for the smallest responses.
    big = present["amplitude_mv"] > 0.5
    assert shape[big].between(0.45, 0.72).all()
    assert shape.between(0.3, 0.9).all()


def test_cohort_values_stay_inside_the_plausibility_limits():
    # a synthetic cohort must never be set aside as slips: every value inside the limits of
    # ncs.plausibility, on a cohort big enough to reach the log-normal's tails
    import ncs
    from ncs.plausibility import IMPLAUSIBLE_LIMITS

    big = cohort(50_000, seed=7, both_sides=True)
    present = big[big["response"] == "present"]
    assert present["amplitude_mv"].max() < IMPLAUSIBLE_LIMITS["amplitude_max_mv"]
    assert present["amplitude_mv"].min() >= IMPLAUSIBLE_LIMITS["amplitude_min_mv"]
    assert present["area_mvms"].max() < IMPLAUSIBLE_LIMITS["area_max_mvms"]
    result = ncs.analyze(cohort(2_000, seed=3, both_sides=True))
    assert result.segments["implausible"].isna().all()  # no rise, no slip
    assert result.warnings.empty


def _segment_changes(sites: pd.DataFrame) -> pd.DataFrame:
    keys = ["patient_id", "nerve", "side"]
    ordered = sites.sort_values([*keys, "site_order"])
    previous = ordered.groupby(keys)[["amplitude_mv", "area_mvms", "duration_ms"]].shift()
    out = pd.DataFrame(
        {
            "pattern": ordered["pattern"],
            "amp_drop": (previous["amplitude_mv"] - ordered["amplitude_mv"])
            / previous["amplitude_mv"],
            "area_drop": (previous["area_mvms"] - ordered["area_mvms"]) / previous["area_mvms"],
            "dur_change": (ordered["duration_ms"] - previous["duration_ms"])
            / previous["duration_ms"],
            "nerve_key": ordered[keys].astype(str).agg("|".join, axis=1),
        }
    )
    return out.dropna(subset=["amp_drop"])


def test_cohort_patterns_look_like_their_names(sites):
    seg = _segment_changes(sites)
    counts = sites.drop_duplicates(["patient_id", "nerve", "side"])["pattern"].value_counts(
        normalize=True
    )
    assert set(counts.index) == {"normal", "block", "dispersion", "axonal", "absent"}
    assert 0.02 < counts["absent"] < 0.09  # 5 % of nerves by default
    normal = seg[seg["pattern"] == "normal"]
    assert normal["amp_drop"].max() < 0.15  # ratios 0.88-1.0 plus rounding
    assert normal["dur_change"].abs().max() < 0.12
    # every blocked nerve has a segment with a >= 40 % drop of amplitude and area
    block = seg[seg["pattern"] == "block"]  # complete blocks: proximal absent, 100 % drop
    worst = block.groupby("nerve_key")[["amp_drop", "area_drop"]].max()
    assert (worst["amp_drop"] > 0.39).all()
    assert (worst["area_drop"] > 0.3).all()
    at_block = block[(block["amp_drop"] > 0.39) & block["dur_change"].notna()]
    assert at_block["dur_change"].abs().max() < 0.13  # little duration change
    # every dispersed nerve has a segment whose duration grows by >= 30 %
    disp = seg[seg["pattern"] == "dispersion"]
    assert (disp.groupby("nerve_key")["dur_change"].max() > 0.29).all()
    at_disp = disp[disp["dur_change"] > 0.29]
    assert (at_disp["area_drop"] < at_disp["amp_drop"]).all()
    distal = sites[sites["site_order"] == 0]
    median_amp = distal.groupby("pattern")["amplitude_mv"].median()
    assert median_amp["axonal"] < 0.5 * median_amp["normal"]


def test_cohort_is_reproducible_and_seed_dependent():
    a = cohort(50, seed=7)
    b = cohort(50, seed=7)
    c = cohort(50, seed=8)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)


def test_cohort_options():
    both = cohort(10, both_sides=True, nerves=("tibial",), seed=1)
    assert len(both) == 10 * 2 * len(NERVE_LAYOUTS["tibial"].sites)
    assert (both.groupby("patient_id")["side"].nunique() == 2).all()
    only_normal = cohort(30, mix={"normal": 1.0}, seed=2)
    assert (only_normal["response"] == "present").all()
    empty = cohort(0, seed=1)
    assert tuple(empty.columns) == COHORT_COLUMNS
    assert len(empty) == 0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_patients": -1},
        {"nerves": ("median", "sciatic")},
        {"mix": {"normal": 1.0, "mystery": 0.1}},
        {"mix": {"normal": 0.0}},
        {"mix": {"normal": -1.0, "block": 1.0}},
        {"lff_hz": (0.0,)},
    ],
)
def test_cohort_rejects_invalid_options(kwargs):
    args = {"n_patients": 5, **kwargs}
    with pytest.raises(ValidationError):
        cohort(args.pop("n_patients"), **args)
