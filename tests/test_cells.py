"""One rule for number cells, in tidy tables and wide sheets alike (ncs.cells)."""

from __future__ import annotations

import datetime
import decimal

import numpy as np
import pandas as pd
import pytest

import ncs
from conftest import NEEDS_ARROW, two_sites
from ncs.cells import ABSENT_WORDS, MISSING_WORDS, RESPONSE_MEASURES, parse_numbers
from ncs.wide import from_wide


@pytest.mark.parametrize("word", sorted(MISSING_WORDS))
def test_every_no_value_word_is_missing_in_tidy_and_wide_input(word):
    # tidy: the area of the proximal site
    sites = two_sites().astype({"area_mvms": object})
    sites.loc[1, "area_mvms"] = word.upper() if word else word
    valid = ncs.validate(sites)
    assert np.isnan(valid["area_mvms"].iloc[1]) and valid["response"].iloc[1] == "present"
    # wide: the same cell
    wide = pd.DataFrame(
        {
            "patient": ["P1"],
            "R ulnar wrist lat": [3.0],
            "R ulnar wrist amp": [10.0],
            "R ulnar below elbow lat": [7.0],
            "R ulnar below elbow amp": [5.0],
            "R ulnar below elbow area": [word],
        }
    )
    tidy = from_wide(wide)  # a column of no values gives no measure at all
    assert "area_mvms" not in tidy.columns or tidy["area_mvms"].isna().all()
    assert "response" not in tidy.columns


@pytest.mark.parametrize("word", sorted(ABSENT_WORDS))
@pytest.mark.parametrize("column", ["latency_ms", "amplitude_mv", "area_mvms", "duration_ms"])
def test_every_no_response_word_marks_the_site_absent_in_any_response_measure(word, column):
    sites = two_sites().astype({column: object})
    # the proximal response is absent: blank its other response measures, word in one column
    for c in ("latency_ms", "amplitude_mv", "area_mvms", "duration_ms"):
        sites.loc[1, c] = None
    sites.loc[1, column] = word.upper()
    sites.loc[1, "response"] = None
    valid = ncs.validate(sites)
    row = valid.iloc[1]
    assert row["response"] == "absent" and row["amplitude_mv"] == 0.0
    assert np.isnan(row["latency_ms"])
    # the same word in the same measure of a wide sheet
    header = {"latency_ms": "lat", "amplitude_mv": "amp", "area_mvms": "area"}
    header["duration_ms"] = "dur"
    wide = pd.DataFrame(
        {
            "patient": ["P1"],
            "R ulnar wrist lat": [3.0],
            "R ulnar wrist amp": [10.0],
            f"R ulnar below elbow {header[column]}": [word],
        }
    )
    tidy = from_wide(wide)
    assert tidy.loc[tidy["site"] == "below elbow", "response"].tolist() == ["absent"]


def test_no_response_word_where_a_response_cannot_be_absent_is_an_error():
    sites = two_sites().astype({"distance_mm": object})
    sites.loc[1, "distance_mm"] = "NR"
    with pytest.raises(ncs.ValidationError) as err:
        ncs.validate(sites)
    assert err.value.problems[0][:2] == (1, "distance_mm")
    assert "no-response word" in err.value.problems[0].message
    wide = pd.DataFrame(
        {"patient": ["P1"], "R ulnar wrist lat": [3.0], "R ulnar wrist dist": ["NR"]}
    )
    with pytest.raises(ncs.ValidationError) as err:
        from_wide(wide)
    assert err.value.problems[0][:2] == (0, "R ulnar wrist dist")


@pytest.mark.parametrize(
    ("cell", "hint"),
    [
        ("x", "not a number"),
        ("none", "may mean no response or not measured"),
        ("#VALUE!", "spreadsheet error value"),
        ("#N/A", "spreadsheet error value"),
        ("8,2", "decimal comma"),
        ("03.06.2024", "Excel turned this into a date"),
        ("3-Jun", "Excel turned this into a date"),
        (datetime.datetime(2024, 6, 3), "Excel turned this into a date"),
        (datetime.date(2024, 6, 3), "Excel turned this into a date"),
        (True, "true/false"),
        ("inf", "not a finite number"),
        (10**400, "not a finite number"),
        (decimal.Decimal("Infinity"), "not a finite number"),  # was read: dispersion yes
        (decimal.Decimal("-Infinity"), "not a finite number"),
        (decimal.Decimal("1E+400"), "not a finite number"),
        ("8_0", "not a number"),  # Python reads it as 80
        ("1_000", "not a number"),
    ],
)
def test_anything_else_is_an_error_naming_the_cell(cell, hint):
    sites = two_sites().astype({"amplitude_mv": object})
    sites.loc[1, "amplitude_mv"] = cell
    with pytest.raises(ncs.ValidationError) as err:
        ncs.validate(sites)
    (problem,) = err.value.problems
    assert (problem.row, problem.column) == (1, "amplitude_mv")
    assert hint in problem.message


@pytest.mark.parametrize(
    "first", [1, 1.0, 0, 0.0, np.int64(1), np.float64(0.0), decimal.Decimal("1")]
)
@pytest.mark.parametrize("flag", [True, False, np.bool_(True), np.bool_(False)])
@pytest.mark.parametrize("flag_first", [False, True])
def test_a_true_false_cell_is_never_read_as_a_number_equal_to_it(first, flag, flag_first):
    # Python sees True == 1 and False == 0 (one hash): a TRUE typed into a column holding a 1
    # was read as 1, and a 1 after a TRUE was refused as a true/false value
    cells = [flag, first, 7.5] if flag_first else [first, flag, 7.5]
    parsed = parse_numbers(pd.Series(cells, dtype=object))
    at_flag, at_number = (0, 1) if flag_first else (1, 0)
    assert np.isnan(parsed.values[at_flag])
    assert "true/false" in parsed.errors[at_flag]
    assert parsed.values[at_number] == float(first)
    assert parsed.errors[at_number] is None
    assert parsed.values[2] == 7.5


def test_a_column_of_dates_is_reported_cell_by_cell():
    sites = two_sites()
    sites["duration_ms"] = pd.to_datetime(["2024-06-03", None])
    with pytest.raises(ncs.ValidationError) as err:
        ncs.validate(sites)
    assert [(p.row, p.column) for p in err.value.problems] == [(0, "duration_ms")]
    assert "Excel turned this into a date" in err.value.problems[0].message


def test_present_response_with_nr_in_a_measure_is_a_contradiction():
    sites = two_sites().astype({"amplitude_mv": object})
    sites.loc[1, ["amplitude_mv", "latency_ms", "area_mvms", "duration_ms"]] = [
        "NR",
        None,
        None,
        None,
    ]
    with pytest.raises(ncs.ValidationError) as err:
        ncs.validate(sites)
    assert err.value.problems[0][:2] == (1, "response")


def test_parse_numbers_reads_each_distinct_value_once(monkeypatch):
    import ncs.cells as cells

    calls = []
    original = cells._read_one
    monkeypatch.setattr(cells, "_read_one", lambda v, r: calls.append(v) or original(v, r))
    values = pd.Series(["8.2", "n/a", "NR"] * 1000, dtype=object)
    parsed = parse_numbers(values, response=True)
    assert len(calls) == 3
    assert parsed.absent.sum() == 1000 and np.isnan(parsed.values[1])


def test_response_measures_are_the_measures_of_a_cmap():
    assert {"latency_ms", "amplitude_mv", "area_mvms", "duration_ms"} <= RESPONSE_MEASURES
    assert "distance_mm" not in RESPONSE_MEASURES and "f_latency_ms" not in RESPONSE_MEASURES
    assert not (MISSING_WORDS & ABSENT_WORDS)


@pytest.mark.parametrize(
    "dtype",
    ["float64", "float32", "Float32", pytest.param("float32[pyarrow]", marks=NEEDS_ARROW), object],
)
def test_a_narrow_float_column_is_read_as_written(dtype):
    # 3.0 -> 2.1 mV is a 30 % drop exactly: not a block by Katz's "> 30 %". In float32 2.1 is
    # 2.0999999046..., widened as it is a 30.000003 % drop: a block that the same study in
    # float64 (or as text) is not. Each cell is read as the number written
    # object: a column of NumPy float32 cells (as a float32 array's items)
    amp = list(np.array([3.0, 2.1], dtype=np.float32)) if dtype is object else [3.0, 2.1]
    sites = two_sites(amp=(3.0, 2.1), area=(30.0, 30.0))
    sites["amplitude_mv"] = pd.Series(amp, dtype=dtype)
    result = ncs.analyze(sites, criteria="katz2002")
    assert result.segments["amp_drop_pct"].iloc[0] == pytest.approx(30.0, abs=1e-12)
    assert result.findings["block"].iloc[0] == "no"


def test_a_decimal_nan_is_no_value_and_a_decimal_number_is_read():
    sites = two_sites().astype({"duration_ms": object})
    sites.loc[0, "duration_ms"] = decimal.Decimal("6.5")
    sites.loc[1, "duration_ms"] = decimal.Decimal("NaN")
    valid = ncs.validate(sites)
    assert valid["duration_ms"].iloc[0] == 6.5 and np.isnan(valid["duration_ms"].iloc[1])
