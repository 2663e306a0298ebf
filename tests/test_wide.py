"""Wide spreadsheets: header detection, the mapping format, problems, and round trips."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import ncs
from conftest import FIXTURES
from ncs.errors import ValidationError
from ncs.io import detect_wide_columns, from_wide, to_wide
from ncs.schema import nerve_keys
from ncs.wide import WideColumn

FIXTURE_FILES = sorted(FIXTURES.glob("*.csv"))
# segment/site positions depend on row order, which a round trip through a wide sheet changes
_ROW_COLUMNS = ["distal_row", "proximal_row"]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("R median wrist amp", WideColumn("amplitude_mv", "R", "median", "wrist")),
        ("Median_L_Elbow_Lat_ms", WideColumn("latency_ms", "L", "median", "elbow")),
        ("L Ulnar B.Elbow Area", WideColumn("area_mvms", "L", "ulnar", "below elbow")),
        (
            "Rt Peroneal BFH Dur (ms)",
            WideColumn("duration_ms", "R", "peroneal", "below fibular head"),
        ),
        ("R tibial ankle amp (uV)", WideColumn("amplitude_mv", "R", "tibial", "ankle", 1e-3)),
        (
            "L ulnar A.Elbow distance (cm)",
            WideColumn("distance_mm", "L", "ulnar", "above elbow", 10.0),
        ),
        (
            "Left Fibular Pop Fossa Amplitude mV",
            WideColumn("amplitude_mv", "L", "peroneal", "popliteal fossa"),
        ),
        ("R median F-wave latency", WideColumn("f_latency_ms", "R", "median", None)),
        ("wrist amp", WideColumn("amplitude_mv", None, None, "wrist")),
        (
            "R ulnar below elbow amplitude_mv",
            WideColumn("amplitude_mv", "R", "ulnar", "below elbow"),
        ),
        ("R median wrist area (mV·ms)", WideColumn("area_mvms", "R", "median", "wrist")),
    ],
)
def test_header_patterns(header, expected):
    plan = detect_wide_columns([header])
    assert plan.problems == []
    assert plan.measures == {header: expected}


def test_identity_ignored_and_problem_headers():
    plan = detect_wide_columns(
        [
            "Patient ID",
            "Side",
            "Nerve",
            "Age",
            "Comments",
            "R median CV",
            "R median midpalm amp",
            "R median wrist lat (mV)",
            "R median wrist",
        ]
    )
    assert plan.identity == {
        "Patient ID": "patient_id",
        "Side": "side",
        "Nerve": "nerve",
        "Age": "age_years",
        "Comments": "Comments",
    }
    assert list(plan.ignored) == ["R median CV"]
    assert {p.column for p in plan.problems} == {
        "R median midpalm amp",  # an unknown word: never guessed
        "R median wrist lat (mV)",  # a unit that does not fit the measure
        "R median wrist",  # a site and nerve but no measure
    }
    assert all(p.row is None for p in plan.problems)


def test_unmatched_measurement_header_is_a_validation_error():
    wide = pd.DataFrame(
        {"patient": ["P1"], "R median wrist amp": [8.0], "R median wirst lat": [3.5]}
    )
    with pytest.raises(ValidationError) as err:
        from_wide(wide)
    assert [(p.row, p.column) for p in err.value.problems] == [(None, "R median wirst lat")]


def test_one_row_per_patient_by_hand():
    wide = pd.DataFrame(
        {
            "Patient": ["P1", "P2"],
            "R ulnar wrist amp (uV)": [10000.0, 9000.0],
            "R ulnar wrist lat": [3.0, 3.1],
            "R ulnar B.Elbow amp (uV)": [6000.0, "NR"],
            "R ulnar B.Elbow lat": [7.0, "NR"],
            "R ulnar wrist dist (cm)": [7.0, 7.0],
            "R ulnar B.Elbow dist (cm)": [22.0, 21.0],
            "R ulnar F lat": [28.0, np.nan],
            "Comments": ["ok", "<b>"],
            "R ulnar CV": [55.0, np.nan],
        }
    )
    tidy = from_wide(wide)
    assert tidy[["patient_id", "nerve", "side", "site"]].values.tolist() == [
        ["P1", "ulnar", "R", "wrist"],
        ["P1", "ulnar", "R", "below elbow"],
        ["P2", "ulnar", "R", "wrist"],
        ["P2", "ulnar", "R", "below elbow"],
    ]
    assert tidy["amplitude_mv"].tolist() == pytest.approx([10.0, 6.0, 9.0, np.nan], nan_ok=True)
    assert tidy["distance_mm"].tolist() == pytest.approx([70.0, 220.0, 70.0, 210.0])
    assert tidy["response"].tolist()[3] == "absent"
    assert tidy["f_latency_ms"].tolist()[:2] == pytest.approx([28.0, np.nan], nan_ok=True)
    assert tidy["Comments"].tolist() == ["ok", "ok", "<b>", "<b>"]
    assert tidy["wide_row"].tolist() == [0, 0, 1, 1]
    result = ncs.analyze(tidy)
    # P1: 10 -> 6 mV is a 40% drop (>30%): Katz block. P2: proximal absent -> 100% drop.
    verdicts = dict(
        zip(
            result.patients["patient_id"].astype(str) + "/" + result.patients["scheme"].astype(str),
            result.patients["verdict"],
            strict=True,
        )
    )
    assert verdicts["P1/katz2002"] == "demyelinating"
    assert verdicts["P2/katz2002"] == "demyelinating"


def test_one_row_per_nerve_with_mapping():
    wide = pd.DataFrame(
        {
            "subject": ["S1", "S1"],
            "side": ["left", "left"],
            "nerve": ["Median", "Ulnar"],
            "Wr amp": [9.0, 11.0],
            "Wr lat": [3.4, 2.8],
            "prox amp": [8.0, 4.0],
            "prox lat": [7.5, 6.4],
        }
    )
    with pytest.raises(ValidationError) as err:
        from_wide(wide)  # "prox" is not a site name
    assert {p.column for p in err.value.problems} == {"prox amp", "prox lat"}
    mapping = {
        "prox amp": (None, None, "elbow", "amplitude_mv"),
        "prox lat": {"site": "elbow", "measure": "lat"},
    }
    tidy = from_wide(wide, mapping)
    assert tidy[["nerve", "side", "site"]].values.tolist() == [
        ["Median", "left", "wrist"],
        ["Median", "left", "elbow"],
        ["Ulnar", "left", "wrist"],
        ["Ulnar", "left", "elbow"],
    ]
    result = ncs.analyze(tidy)  # names are normalised by validation
    nerves = result.nerves[result.nerves["scheme"] == "katz2002"]
    # ulnar 11 -> 4 mV = 63.6% drop (>30%): block on amplitude alone; median 9 -> 8 = 11.1%
    # rules nothing in, and the area (not recorded) could: not assessable
    assert dict(zip(nerves["nerve"], nerves["block"].astype(str), strict=True)) == {
        "median": "not_assessable",
        "ulnar": "yes",
    }


def test_problems_carry_wide_row_and_header():
    wide = pd.DataFrame(
        {
            "patient": ["P1", "P2", "P3"],
            "R median wrist amp": [8.0, "eight", np.nan],
            "R median elbow amp": [7.0, 6.0, np.nan],
        }
    )
    with pytest.raises(ValidationError) as err:
        from_wide(wide)
    assert [(p.row, p.column) for p in err.value.problems] == [
        (1, "R median wrist amp"),
        (2, None),  # an id but no measurement: reported, not dropped
    ]


def test_no_patient_column_needs_patient_id():
    wide = pd.DataFrame({"R median wrist amp": [8.0], "R median wrist lat": [3.0]})
    with pytest.raises(ValidationError):
        from_wide(wide)
    assert from_wide(wide, patient_id="P9")["patient_id"].tolist() == ["P9"]


@pytest.mark.parametrize("layout", ["patient", "nerve"])
@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda p: p.stem)
def test_round_trip_wide_tidy_analyze(path, layout):
    tidy = ncs.read_sites(path)
    wide = to_wide(tidy, layout=layout)
    back = from_wide(wide)
    expected, got = ncs.analyze(tidy), ncs.analyze(back)
    for table in ("segments", "findings", "nerves", "patients"):
        a, b = getattr(expected, table), getattr(got, table)
        pd.testing.assert_frame_equal(
            a.drop(columns=_ROW_COLUMNS, errors="ignore"),
            b.drop(columns=_ROW_COLUMNS, errors="ignore"),
        )
    # the site measures themselves survive, row for row
    keys = [*nerve_keys(expected.sites.columns), "site"]  # with visit for serial studies
    cols = [
        *keys,
        "latency_ms",
        "amplitude_mv",
        "area_mvms",
        "duration_ms",
        "distance_mm",
        "response",
    ]
    a = expected.sites[cols].sort_values(keys).reset_index(drop=True)
    b = got.sites[cols].sort_values(keys).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)


def test_to_wide_headers_are_detected_back():
    tidy = ncs.read_sites(FIXTURES / "mmn_forearm_block.csv")
    wide = to_wide(tidy)
    assert wide.shape[0] == 1
    assert "R median wrist amplitude_mv" in wide.columns
    assert "R median f_latency_ms" in wide.columns
    assert wide.loc[0, "R median elbow amplitude_mv"] == 2.9
    plan = detect_wide_columns(wide.columns)
    assert plan.problems == [] and set(plan.identity) == {"patient_id"}


@pytest.mark.parametrize("layout", ["patient", "nerve"])
def test_round_trip_synthetic_cohort(layout):
    """Absent responses, F waves, muscles and many nerves per patient survive the round trip."""
    import warnings

    from ncs.simulate import cohort

    tidy = cohort(40, seed=7)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ncs.NcsWarning)
        expected = ncs.analyze(tidy)
        got = ncs.analyze(from_wide(to_wide(tidy, layout=layout)))
    for table in ("segments", "findings", "nerves", "patients"):
        a = getattr(expected, table).drop(columns=_ROW_COLUMNS, errors="ignore")
        b = getattr(got, table).drop(columns=_ROW_COLUMNS, errors="ignore")
        pd.testing.assert_frame_equal(a, b)
