"""Validation and normalisation of the tidy sites table."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest

import ncs
from conftest import two_sites
from ncs.errors import Problem, ValidationError


def _problems(df: pd.DataFrame, **kw) -> list[Problem]:
    with pytest.raises(ValidationError) as info:
        ncs.validate(df, **kw)
    return info.value.problems


def _where(problems: list[Problem]) -> set[tuple[int | None, str | None]]:
    return {(p.row, p.column) for p in problems}


def test_valid_table_is_normalised():
    df = two_sites(nerve="Fibular", sites=("Ankle", "Below Fibular Head"), side="right")
    df["nerve"] = ["Fibular", "fibular "]
    out = ncs.validate(df)
    assert list(out["nerve"]) == ["peroneal", "peroneal"]
    assert list(out["side"]) == ["R", "R"]
    assert list(out["site"]) == ["ankle", "below fibular head"]
    assert list(out["site_order"]) == [0, 1]
    assert list(out["input_row"]) == [0, 1]
    assert list(out["response"]) == ["present", "present"]


def test_aliases_and_punctuation():
    df = two_sites(sites=("WR", "Below-Elbow"), nerve="ULNAR")
    df["side"] = ["Lt", "lt"]
    out = ncs.validate(df)
    assert list(out["site"]) == ["wrist", "below elbow"]
    assert list(out["side"]) == ["L", "L"]


def test_site_order_derived_in_proximal_order_whatever_the_row_order():
    df = pd.concat([two_sites(sites=("wrist", "below elbow"))] * 1, ignore_index=True)
    extra = two_sites(sites=("axilla", "above elbow"), latency=(11.0, 9.0), amp=(9.0, 9.5))
    df = pd.concat([extra.iloc[[0]], df, extra.iloc[[1]]], ignore_index=True)
    out = ncs.validate(df)
    order = dict(zip(out["site"], out["site_order"], strict=True))
    assert order == {"wrist": 0, "below elbow": 1, "above elbow": 2, "axilla": 3}


def test_explicit_site_order_kept_and_unknown_site_names_allowed():
    df = two_sites(sites=("mid forearm x", "upper arm y"))
    df["site_order"] = [0, 1]
    out = ncs.validate(df)
    assert list(out["site_order"]) == [0, 1]
    assert list(out["site"]) == ["mid forearm x", "upper arm y"]


def test_unknown_site_without_order_is_a_problem():
    df = two_sites(sites=("wrist", "somewhere odd"))
    assert (1, "site") in _where(_problems(df))


def test_mixed_site_order_is_a_problem():
    df = two_sites()
    df["site_order"] = [0, np.nan]
    assert (1, "site_order") in _where(_problems(df))


def test_every_problem_listed_with_row_and_column():
    df = pd.DataFrame(
        {
            "patient_id": ["P1", "P1", "P1", "P1", "P2", "P2"],
            "nerve": ["median", "median", "median", "spleen", "ulnar", "ulnar"],
            "side": ["R", "R", "R", "R", "X", "L"],
            "site": ["wrist", "elbow", "elbow", "wrist", "wrist", "below elbow"],
            "latency_ms": [3.5, 7.9, 8.0, 3.0, "abc", 6.0],
            "amplitude_mv": [8.0, -2.0, 5.0, 4.0, 0.0, np.inf],
        }
    )
    problems = _problems(df)
    where = _where(problems)
    assert (1, "amplitude_mv") in where  # negative
    assert (2, "site") in where  # second row for the same site
    assert (3, "nerve") in where  # unknown nerve
    assert (4, "side") in where  # unknown side
    assert (4, "latency_ms") in where  # not a number
    assert (4, "amplitude_mv") in where  # zero amplitude, not marked absent
    assert (5, "amplitude_mv") in where  # infinite
    err = ValidationError(problems)
    assert str(err).startswith(f"{len(problems)} problems in the input")


def test_missing_required_columns_listed_together():
    df = two_sites().drop(columns=["latency_ms", "side"])
    where = _where(_problems(df))
    assert (None, "latency_ms") in where
    assert (None, "side") in where


def test_proximal_latency_not_after_distal_is_an_error():
    df = two_sites(latency=(7.0, 7.0))
    problems = _problems(df)
    assert (1, "latency_ms") in _where(problems)
    assert "not longer" in problems[0].message
    df = two_sites(latency=(7.0, 3.0))
    assert (1, "latency_ms") in _where(_problems(df))


def test_latency_order_skips_absent_sites():
    df = pd.concat(
        [
            two_sites(
                sites=("wrist", "below elbow"),
                latency=(3.0, np.nan),
                amp=(5, 0),
                area=(15, 0),
                dur=(6, np.nan),
                response=("present", "NR"),
            ),
            two_sites(sites=("above elbow", "axilla"), latency=(9.0, 11.0), amp=(4, 4)),
        ],
        ignore_index=True,
    )
    out = ncs.validate(df)
    assert list(out["response"]) == ["present", "absent", "present", "present"]


def test_absent_response_is_data():
    df = two_sites(
        amp=(4.0, np.nan),
        area=(12.0, np.nan),
        dur=(6.0, np.nan),
        latency=(3.0, np.nan),
        response=("present", "NR"),
    )
    out = ncs.validate(df)
    assert out.loc[1, "response"] == "absent"
    assert out.loc[1, "amplitude_mv"] == 0.0
    assert out.loc[1, "area_mvms"] == 0.0
    assert np.isnan(out.loc[1, "latency_ms"])
    assert np.isnan(out.loc[1, "duration_ms"])


def test_nr_typed_in_the_amplitude_column():
    df = two_sites(amp=(4.0, "NR"), area=(12.0, np.nan), dur=(6.0, np.nan), latency=(3.0, np.nan))
    df = df.drop(columns="response")
    out = ncs.validate(df)
    assert list(out["response"]) == ["present", "absent"]
    assert out.loc[1, "amplitude_mv"] == 0.0


def test_absent_response_with_an_amplitude_is_a_contradiction():
    df = two_sites(amp=(4.0, 2.0), response=("present", "absent"), latency=(3.0, np.nan))
    assert (1, "amplitude_mv") in _where(_problems(df))


def test_zero_amplitude_on_present_response():
    df = two_sites(amp=(4.0, 0.0))
    problems = _problems(df)
    assert (1, "amplitude_mv") in _where(problems)
    assert "absent" in problems[0].message


def test_unknown_response_word():
    df = two_sites(response=("present", "maybe"))
    assert (1, "response") in _where(_problems(df))


def test_missing_values_are_unknown_not_errors():
    df = two_sites(area=(np.nan, np.nan), dur=(np.nan, np.nan))
    out = ncs.validate(df)
    assert out["area_mvms"].isna().all()


def test_empty_strings_are_missing():
    df = two_sites()
    df["area_mvms"] = ["", " "]
    out = ncs.validate(df)
    assert out["area_mvms"].isna().all()


def test_units_microvolts_and_centimetres():
    df = two_sites(amp=(10_000.0, 7_000.0), area=(30_000.0, 21_000.0), distance=(7.0, 22.0))
    out = ncs.validate(df, units={"amplitude": "uV", "distance": "cm"})
    assert list(out["amplitude_mv"]) == [10.0, 7.0]
    assert list(out["area_mvms"]) == [30.0, 21.0]
    assert list(out["distance_mm"]) == [70.0, 220.0]


def test_unit_bearing_column_names():
    df = two_sites(amp=(10_000.0, 7_000.0)).rename(columns={"amplitude_mv": "amplitude_uv"})
    out = ncs.validate(df)
    assert list(out["amplitude_mv"]) == [10.0, 7.0]


def test_unknown_unit_is_a_problem():
    assert _problems(two_sites(), units={"amplitude": "furlong"})


def test_amplitudes_that_look_like_microvolts_warn():
    df = two_sites(amp=(8200.0, 2900.0))
    with pytest.warns(ncs.NcsWarning, match="µV"):
        ncs.validate(df)


def test_plausible_values_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ncs.analyze(two_sites())


def test_implausible_velocity_warns():
    df = two_sites(distance=(7.0, 22.0))  # cm typed as mm: 22 mm / 4 ms = 5.5 m/s
    with pytest.warns(ncs.NcsWarning, match="m/s"):
        ncs.segments(df)


def test_case_variant_column_names():
    df = two_sites().rename(columns={"amplitude_mv": "Amplitude_mV", "latency_ms": "Latency ms"})
    out = ncs.validate(df)
    assert "amplitude_mv" in out.columns and "latency_ms" in out.columns


def test_extra_columns_pass_through():
    df = two_sites()
    df["technologist"] = ["AB", "AB"]
    out = ncs.validate(df)
    assert list(out["technologist"]) == ["AB", "AB"]


def test_not_a_dataframe():
    with pytest.raises(ValidationError):
        ncs.validate([1, 2, 3])


def test_validation_error_pickles_and_is_value_error():
    err = ValidationError([(3, "amplitude_mv", "negative value"), (None, "nerve", "missing")])
    back = pickle.loads(pickle.dumps(err))
    assert back.problems == err.problems
    assert isinstance(back, ValueError)
    assert str(back) == str(err)


def test_error_message_lists_first_few_only():
    err = ValidationError([(i, "x", "bad") for i in range(12)])
    assert "and 7 more" in str(err)


def test_patient_ids_keep_leading_zeros(tmp_path):
    path = tmp_path / "s.csv"
    two_sites(patient="007").to_csv(path, index=False)
    out = ncs.validate(ncs.read_sites(path))
    assert list(out["patient_id"]) == ["007", "007"]
