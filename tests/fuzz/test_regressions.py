"""Inputs the fuzzers missed and a seeded mutation of a valid study found, kept as tests.

Each is a clear ValidationError naming the cell, never a crash or a silently odd verdict.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import ncs


def _study() -> pd.DataFrame:
    """Two nerves of one patient, with an explicit site_order, valid as it is."""
    return pd.DataFrame(
        {
            "patient_id": "P1",
            "nerve": ["ulnar", "ulnar", "ulnar", "median", "median"],
            "side": "R",
            "site": ["wrist", "below elbow", "above elbow", "wrist", "elbow"],
            "site_order": [0, 1, 2, 0, 1],
            "latency_ms": [3.0, 6.5, 8.5, 3.2, 7.0],
            "amplitude_mv": [10.0, 9.5, 9.0, 9.0, 8.5],
            "area_mvms": [30.0, 29.0, 28.0, 27.0, 26.0],
            "duration_ms": [5.0, 5.1, 5.2, 5.0, 5.2],
            "distance_mm": [70.0, 220.0, 100.0, 70.0, 220.0],
            "f_latency_ms": [28.0, np.nan, np.nan, 27.0, np.nan],
            "f_persistence_pct": [80.0, np.nan, np.nan, 90.0, np.nan],
        }
    )


def _problem_cells(err: ncs.ValidationError) -> set[tuple[int | None, str | None]]:
    return {(p.row, p.column) for p in err.problems}


def test_the_study_is_valid():
    assert len(ncs.analyze(_study(), criteria="all").findings) > 0


@pytest.mark.parametrize("big", [2**63, 1e308, 1e19, 2**31])
@pytest.mark.parametrize("seed", [0, 3])
def test_huge_site_order_is_a_validation_error(big, seed):
    sites = _study()
    sites["site_order"] = sites["site_order"].astype(object)
    sites.loc[2, "site_order"] = big
    sites["row"] = np.arange(len(sites))
    shuffled = sites.sample(frac=1, random_state=seed).reset_index(drop=True)
    row = int(np.flatnonzero(shuffled["row"].to_numpy() == 2)[0])
    with pytest.raises(ncs.ValidationError) as info:
        ncs.analyze(shuffled.drop(columns="row"), criteria="all")
    assert (row, "site_order") in _problem_cells(info.value)


def test_large_but_sane_site_order_is_accepted():
    sites = _study()
    sites.loc[2, "site_order"] = 2**31 - 1
    assert len(ncs.analyze(sites, criteria="katz2002").findings) == 4


def test_huge_site_order_is_collected_not_raised():
    sites = _study()
    sites["site_order"] = sites["site_order"].astype(object)
    sites.loc[2, "site_order"] = 2**63
    res = ncs.analyze(sites, criteria="katz2002", errors="collect")
    rejected = res.rejected.set_index("input_row")["problems"]
    assert sorted(rejected.index) == [0, 1, 2]  # the whole nerve is set aside
    assert "site_order" in rejected[2]
    # the other nerve is still judged
    assert set(res.findings["nerve"].astype(str)) == {"median"}


@pytest.mark.parametrize("column", ["amp_lln_mv", "dml_uln_ms", "cv_lln_m_s", "f_latency_uln_ms"])
def test_a_zero_reference_limit_is_a_validation_error(column):
    sites = _study()
    sites[column] = np.nan
    sites.loc[3, column] = 0.0
    with pytest.raises(ncs.ValidationError) as info:
        ncs.analyze(sites, criteria="ean2021_cidp")
    assert (3, column) in _problem_cells(info.value)
    # small, but a limit (the low end of its plausible range: 0.5 m/s is no velocity limit)
    sites.loc[3, column] = {"cv_lln_m_s": 10.0}.get(column, 0.5)
    ncs.analyze(sites, criteria="ean2021_cidp")


@pytest.mark.parametrize("latency_row", [0, 1])
def test_f_latency_with_zero_persistence_is_a_validation_error(latency_row):
    sites = _study()
    sites.loc[0, "f_latency_ms"] = np.nan
    sites.loc[latency_row, "f_latency_ms"] = 28.0
    sites.loc[0, "f_persistence_pct"] = 0.0  # "no F waves", yet a latency of this nerve
    with pytest.raises(ncs.ValidationError) as info:
        ncs.analyze(sites, criteria="ean2021_cidp")
    assert (latency_row, "f_latency_ms") in _problem_cells(info.value)
    sites.loc[latency_row, "f_latency_ms"] = np.nan  # absent F waves alone are data
    res = ncs.analyze(sites, criteria="ean2021_cidp")
    assert res.nerves.set_index("nerve").loc["ulnar", "f_absent"] == 1.0


@pytest.mark.parametrize("row", [0, 1])
def test_zero_area_on_a_present_response_is_a_validation_error(row):
    sites = _study()
    sites.loc[row, "area_mvms"] = 0.0
    with pytest.raises(ncs.ValidationError) as info:
        ncs.analyze(sites, criteria="katz2002")
    assert (row, "area_mvms") in _problem_cells(info.value)


def test_zero_area_on_an_absent_response_is_data():
    sites = _study()
    sites["response"] = "present"
    sites.loc[2, ["response", "latency_ms", "amplitude_mv", "area_mvms", "duration_ms"]] = [
        "absent",
        np.nan,
        0.0,
        0.0,
        np.nan,
    ]
    f = ncs.analyze(sites, criteria="katz2002").findings
    row = f[(f["distal_site"] == "below elbow") & (f["proximal_site"] == "above elbow")]
    assert row["block"].item() == "yes"  # a 100 % drop


@pytest.mark.parametrize(
    ("pid", "text"),
    [
        (0, "0"),
        (-1, "-1"),
        (2**63, "9223372036854775808"),
        (2**63 + 1, "9223372036854775809"),  # no float holds it: float() gives 2**63
        (2**70, "1180591620717411303424"),
        (2**70 + 1, "1180591620717411303425"),
        # a whole-number float is written as its whole number (1.0 -> "1"), every digit of it
        (1e308, str(int(1e308))),
        (1.5, "1.5"),
    ],
)
def test_numeric_patient_ids(pid, text):
    # numbers in the patient_id column are read as typed, as text: one patient, whose id is
    # the number written out in full on every table (not rounded through a float, not lost)
    sites = _study()
    sites["patient_id"] = pid
    res = ncs.analyze(sites, criteria="katz2002")
    assert res.patients["patient_id"].astype(str).tolist() == [text]
    assert set(res.nerves["patient_id"].astype(str)) == {text}
    assert set(res.findings["patient_id"].astype(str)) == {text}


@pytest.mark.parametrize(
    ("pids", "texts"),
    [
        # one float (9.223372036854776e18) and one float (1.1805916207174113e21) respectively
        ((2**63, 2**63 + 1), ("9223372036854775808", "9223372036854775809")),
        ((2**70, 2**70 + 1), ("1180591620717411303424", "1180591620717411303425")),
        ((1, 1.5), ("1", "1.5")),  # one integer
        ((0, -1), ("0", "-1")),
    ],
)
def test_numeric_patient_ids_a_cast_would_merge_stay_two_patients(pids, texts):
    # the ulnar nerve is the first patient's, the median the second's
    sites = _study()
    sites["patient_id"] = [pids[0]] * 3 + [pids[1]] * 2
    res = ncs.analyze(sites, criteria="katz2002")
    assert sorted(res.patients["patient_id"].astype(str)) == sorted(texts)
    nerves = res.nerves
    owner = dict(zip(nerves["nerve"].astype(str), nerves["patient_id"].astype(str), strict=True))
    assert owner == {"ulnar": texts[0], "median": texts[1]}


@pytest.mark.parametrize("cell", [[1, 2], {"y": 2024}, {2024}])
def test_an_unhashable_study_date_is_a_validation_error(cell):
    # a list in a study_date cell crashed the date reading (TypeError), found by the fuzzer
    sites = _study()
    sites["visit"] = "baseline"
    sites["study_date"] = pd.Series(["2024-01-15"] * len(sites), dtype=object)
    sites.at[1, "study_date"] = cell
    with pytest.raises(ncs.ValidationError) as info:
        ncs.analyze(sites, criteria="katz2002")
    assert (1, "study_date") in _problem_cells(info.value)
    collected = ncs.analyze(sites, criteria="katz2002", errors="collect")
    # the whole ulnar nerve is set aside (one of its rows is invalid), the median judged
    assert sorted(collected.rejected["input_row"]) == [0, 1, 2]
    assert sorted(collected.sites["input_row"]) == [3, 4]
