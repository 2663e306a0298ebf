"""Segments: pairs, distances, velocities and percentages, worked by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import ncs
from conftest import two_sites
from ncs.measures import compare, percent_change, percent_drop


def _ulnar_four_sites() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "patient_id": ["P1"] * 4,
            "nerve": ["ulnar"] * 4,
            "side": ["R"] * 4,
            "site": ["axilla", "wrist", "above elbow", "below elbow"],  # shuffled on purpose
            "latency_ms": [11.0, 3.0, 9.0, 7.0],
            "amplitude_mv": [6.0, 10.0, 7.0, 8.0],
            "area_mvms": [18.0, 30.0, 21.0, 24.0],
            "duration_ms": [7.0, 5.0, 6.5, 6.0],
            "distance_mm": [120.0, 70.0, 100.0, 200.0],
        }
    )


def test_pairs_adjacent_then_against_most_distal():
    seg = ncs.segments(_ulnar_four_sites())
    pairs = list(zip(seg["distal_site"], seg["proximal_site"], seg["comparison"], strict=True))
    assert pairs == [
        ("wrist", "below elbow", "adjacent"),
        ("below elbow", "above elbow", "adjacent"),
        ("above elbow", "axilla", "adjacent"),
        ("wrist", "above elbow", "distal"),
        ("wrist", "axilla", "distal"),
    ]


def test_measures_worked_by_hand():
    seg = ncs.segments(_ulnar_four_sites()).set_index(["distal_site", "proximal_site"])
    r = seg.loc[("wrist", "below elbow")]
    assert r["distance_mm"] == 200.0
    assert r["cv_m_s"] == pytest.approx(200.0 / (7.0 - 3.0))  # 50 m/s
    assert r["amp_drop_pct"] == 20.0  # (10 - 8) / 10
    assert r["area_drop_pct"] == 20.0  # (30 - 24) / 30
    assert r["dur_change_pct"] == 20.0  # (6 - 5) / 5
    assert r["distal_amplitude_mv"] == 10.0
    r = seg.loc[("wrist", "axilla")]
    assert r["distance_mm"] == 420.0  # 200 + 100 + 120
    assert r["cv_m_s"] == pytest.approx(420.0 / 8.0)
    assert r["amp_drop_pct"] == 40.0  # (10 - 6) / 10
    assert r["dur_change_pct"] == 40.0  # (7 - 5) / 5
    r = seg.loc[("above elbow", "axilla")]
    assert r["amp_drop_pct"] == pytest.approx(100 * 1 / 7)
    assert r["dur_change_pct"] == pytest.approx(100 * 0.5 / 6.5)


def test_row_pointers_refer_to_input_rows():
    sites = _ulnar_four_sites()
    seg = ncs.segments(sites)
    for r in seg.itertuples():
        assert sites.loc[r.distal_row, "site"] == r.distal_site
        assert sites.loc[r.proximal_row, "site"] == r.proximal_site


def test_missing_distance_gives_unknown_velocity_not_zero():
    sites = _ulnar_four_sites()
    sites.loc[sites["site"] == "above elbow", "distance_mm"] = np.nan
    seg = ncs.segments(sites).set_index(["distal_site", "proximal_site"])
    assert math.isnan(seg.loc[("below elbow", "above elbow"), "cv_m_s"])
    assert math.isnan(seg.loc[("wrist", "axilla"), "cv_m_s"])  # sum crosses the unknown part
    assert seg.loc[("wrist", "below elbow"), "cv_m_s"] == pytest.approx(50.0)


def test_single_site_nerve_has_no_segment():
    sites = two_sites().iloc[[0]]
    assert len(ncs.segments(sites)) == 0


def test_two_nerves_never_paired():
    a = two_sites(nerve="median", sites=("wrist", "elbow"))
    b = two_sites(nerve="median", sites=("wrist", "elbow"), side="L")
    seg = ncs.segments(pd.concat([a, b], ignore_index=True))
    assert len(seg) == 2
    assert set(seg["side"]) == {"L", "R"}


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("float", 10.0),
        ("array", np.array([10.0, 8.0])),
        ("series", pd.Series([10.0, 8.0], name="amp")),
    ],
)
def test_kernels_keep_the_input_kind(kind, value):
    prox = value * 0.7 if kind != "float" else 7.0
    out = percent_drop(value, prox)
    if kind == "float":
        assert isinstance(out, float) and out == 30.0
    elif kind == "array":
        assert isinstance(out, np.ndarray) and list(out) == [30.0, 30.0]
    else:
        assert isinstance(out, pd.Series) and out.name == "amp" and list(out) == [30.0, 30.0]


def test_kernels_snap_float_noise():
    assert percent_drop(10.0, 7.0) == 30.0
    assert percent_drop(0.1, 0.07) == 30.0
    assert percent_change(5.0, 5.75) == 15.0
    assert percent_change(5.0, 4.25) == -15.0


def test_kernels_unknown_where_nothing_to_fall_from():
    assert math.isnan(percent_drop(0.0, 0.0))
    assert math.isnan(percent_drop(np.nan, 3.0))
    assert math.isnan(percent_drop(3.0, np.nan))
    assert math.isnan(percent_change(np.nan, 3.0))


def test_compare_is_three_valued():
    r = compare(np.array([31.0, 30.0, np.nan]), ">", 30.0)
    assert list(r.to_numpy(dtype=object, na_value=None)) == [True, False, None]
    r = compare(np.array([-15.0, 14.9]), "<", 15.0, absolute=True)
    assert list(r.to_numpy(dtype=bool)) == [False, True]
