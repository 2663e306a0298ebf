"""Wide headers as EMG machines write them: muscles, time units, segment distances, peaks."""

from __future__ import annotations

import pandas as pd
import pytest

import ncs
from ncs.wide import WideColumn, detect_wide_columns, from_wide, read_mapping


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (
            "R Median APB Wrist Lat (msec)",
            WideColumn("latency_ms", "R", "median", "wrist", 1.0, "APB"),
        ),
        (
            "R Ulnar ADM Bel Elb Amp (mV)",
            WideColumn("amplitude_mv", "R", "ulnar", "below elbow", 1.0, "ADM"),
        ),
        (
            "R Ulnar FDI Ab Elb Onset Lat",
            WideColumn("latency_ms", "R", "ulnar", "above elbow", 1.0, "FDI"),
        ),
        ("L Ulnar B.Elbow Area (mV*ms)", WideColumn("area_mvms", "L", "ulnar", "below elbow")),
        (
            "L Peroneal EDB Fib Head Dur (msec)",
            WideColumn("duration_ms", "L", "peroneal", "below fibular head", 1.0, "EDB"),
        ),
        (
            "L Peroneal TA Pop Lat (s)",
            WideColumn("latency_ms", "L", "peroneal", "popliteal fossa", 1000.0, "TA"),
        ),
        (
            "R Tibial AH Ankle Amp (uV)",
            WideColumn("amplitude_mv", "R", "tibial", "ankle", 0.001, "AH"),
        ),
        (
            "R Radial EDC Forearm Lat ms",
            WideColumn("latency_ms", "R", "radial", "forearm", 1.0, "EDC"),
        ),
        (
            "R Median Wrist-Elbow Dist (cm)",
            WideColumn("distance_mm", "R", "median", None, 10.0, segment=("wrist", "elbow")),
        ),
        (
            "R Median APB-Wrist Dist (cm)",
            WideColumn("distance_mm", "R", "median", "wrist", 10.0, "APB"),
        ),
        ("R Median Wrist Peak Lat", WideColumn("peak_latency_ms", "R", "median", "wrist")),
        ("R Median Wrist NP Lat (msec)", WideColumn("peak_latency_ms", "R", "median", "wrist")),
    ],
)
def test_lab_headers(header, expected):
    plan = detect_wide_columns(["Patient", header])
    assert plan.measures == {header: expected}, plan.problems


@pytest.mark.parametrize(
    "header",
    ["R Median Wrist-Elbow CV (m/s)", "R Median Wrist-Elbow Amp Drop (%)", "R Ulnar Area Ratio"],
)
def test_derived_and_change_headers_are_ignored_with_a_reason(header):
    plan = detect_wide_columns(["Patient", header])
    assert header in plan.ignored and not plan.measures


def test_two_sites_on_a_measure_other_than_distance_is_a_problem():
    plan = detect_wide_columns(["Patient", "R Median Wrist-Elbow Amp"])
    assert "only a distance belongs to a segment" in plan.problems[0].message


def _study(**extra) -> pd.DataFrame:
    base = {
        "Patient": ["P1"],
        "R Median APB Wrist Lat (msec)": [3.6],
        "R Median APB Wrist Amp (mV)": [8.2],
        "R Median APB Elbow Lat (msec)": [7.9],
        "R Median APB Elbow Amp (mV)": [2.9],
    }
    return pd.DataFrame({**base, **extra})


def test_muscle_goes_into_the_muscle_column_of_the_nerve():
    tidy = from_wide(_study())
    assert tidy["muscle"].tolist() == ["APB", "APB"]


def test_one_nerve_at_two_muscles_is_a_problem_naming_both():
    wide = _study(**{"R Median FDI Axilla Amp (mV)": [2.0], "R Median FDI Axilla Lat": [10.0]})
    with pytest.raises(ncs.ValidationError) as err:
        from_wide(wide)
    assert "recorded at 2 muscles (APB, FDI)" in str(err.value)


def test_segment_distance_goes_to_the_proximal_site_in_mm():
    tidy = from_wide(_study(**{"R Median Elbow-Wrist Dist (cm)": [23.0]}))
    assert tidy.set_index("site")["distance_mm"].to_dict() == pytest.approx(
        {"wrist": float("nan"), "elbow": 230.0}, nan_ok=True
    )


def test_segment_distance_must_join_neighbouring_recorded_sites():
    wide = _study(
        **{
            "R Median APB Axilla Lat (msec)": [10.1],
            "R Median APB Axilla Amp (mV)": [2.7],
            "R Median Wrist-Axilla Dist (cm)": [36.0],  # elbow lies between
        }
    )
    with pytest.raises(ncs.ValidationError) as err:
        from_wide(wide)
    (problem,) = err.value.problems
    assert (problem.row, problem.column) == (0, "R Median Wrist-Axilla Dist (cm)")
    assert "next site distal to 'axilla' with data in this row is 'elbow'" in problem.message


def test_peak_latency_is_never_the_onset_latency():
    tidy = from_wide(_study(**{"R Median APB Wrist Peak Lat (msec)": [6.7]}))
    assert tidy["latency_ms"].tolist() == [3.6, 7.9]
    assert tidy["peak_latency_ms"].tolist()[0] == 6.7
    only_peaks = pd.DataFrame(
        {
            "Patient": ["P1"],
            "R Median Wrist Peak Lat": [6.7],
            "R Median Wrist Amp": [8.2],
        }
    )
    with pytest.raises(ncs.ValidationError, match="peak latency is not the onset latency"):
        from_wide(only_peaks)


def test_lab_headers_analyse_like_the_tidy_study():
    wide = _study(
        **{
            "R Median APB Wrist Area (mV*ms)": [28.5],
            "R Median APB Elbow Area (mV*ms)": [10.1],
            "R Median APB Wrist Dur (msec)": [5.4],
            "R Median APB Elbow Dur (msec)": [5.9],
        }
    )
    patients = ncs.analyze(from_wide(wide)).patients
    verdicts = dict(
        zip(patients["scheme"].astype(str), patients["verdict"].astype(str), strict=True)
    )
    # amplitude 8.2 -> 2.9 (-64.6 %), area 28.5 -> 10.1 (-64.6 %), duration +9.3 %
    assert verdicts == {"katz2002": "demyelinating", "bouche1995": "conduction_block"}


def test_mapping_file_errors_are_validation_errors(tmp_path):
    bad = tmp_path / "map.csv"
    bad.write_text("name,target\nA,B\n")
    with pytest.raises(ncs.ValidationError, match="'header' and 'column'"):
        read_mapping(bad)
    twice = tmp_path / "twice.csv"
    twice.write_text("header,column\nA,latency_ms\nA,amplitude_mv\n")
    with pytest.raises(ncs.ValidationError, match="named twice"):
        read_mapping(twice)
    with pytest.raises(ncs.ValidationError, match="no such mapping file"):
        read_mapping(tmp_path / "missing.csv")


def test_mapping_with_unit_and_muscle(tmp_path):
    path = tmp_path / "map.csv"
    path.write_text(
        "header,column,side,nerve,site,muscle,unit\n"
        "W amp,amplitude_mv,R,median,wrist,abductor pollicis brevis,uV\n"
        "W lat,latency_ms,R,median,wrist,,s\n"
    )
    mapping = read_mapping(path)
    plan = detect_wide_columns(["Patient", "W amp", "W lat"], mapping)
    assert plan.measures["W amp"] == WideColumn(
        "amplitude_mv", "R", "median", "wrist", 0.001, "APB"
    )
    assert plan.measures["W lat"].factor == 1000.0
