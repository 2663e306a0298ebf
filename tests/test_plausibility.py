"""Units by range, supplied velocities, cold limbs, cells of unsupported types."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest

import ncs
from conftest import two_sites


def _warnings(sites, **kwargs) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ncs.NcsWarning)
        ncs.analyze(sites, **kwargs)
    return [str(w.message) for w in caught]


def test_latencies_in_seconds_are_an_error_with_the_fix():
    sites = two_sites(latency=(0.003, 0.007))
    with pytest.raises(ncs.ValidationError, match=r"look like seconds.*'time': 's'") as err:
        ncs.analyze(sites)
    assert err.value.problems[0].column == "latency_ms"
    ncs.analyze(sites, units={"time": "s"})  # the suggested fix works
    ncs.analyze(two_sites(latency=(0.1, 4.0)))  # one latency at the limit: not all below


def test_distances_in_cm_warn_with_the_fix():
    # 22 cm between wrist and elbow written as 22 "mm": 22 / 4 ms = 5.5 m/s
    messages = _warnings(two_sites(distance=(7.0, 22.0)))
    assert any("units={'distance': 'cm'}" in m for m in messages)
    assert not any("cm?" in m for m in _warnings(two_sites(distance=(70.0, 220.0))))
    # short inching-like segments with plausible velocities do not warn: 40 mm / 0.8 ms
    inching = two_sites(distance=(70.0, 40.0), latency=(3.0, 3.8))
    assert not any("cm?" in m for m in _warnings(inching))


@pytest.mark.parametrize("given, warns", [(55.0, False), (60.0, False), (49.6, False),
                                          (61.0, True), (49.0, True)])  # fmt: skip
def test_supplied_velocity_is_checked(given, warns):
    # recomputed: 220 mm / (7.0 - 3.0) ms = 55 m/s; 10% of it is 5.5 m/s
    sites = two_sites()
    sites["cv_m_s"] = [None, given]
    messages = _warnings(sites)
    assert any("cv_m_s" in m for m in messages) == warns


def test_supplied_velocity_must_be_a_number():
    sites = two_sites()
    sites["cv_m_s"] = [None, "fast"]
    with pytest.raises(ncs.ValidationError, match="not a number"):
        ncs.analyze(sites)


def _cold(nerve, sites_, temperature, **kwargs):
    df = two_sites(nerve=nerve, sites=sites_)
    if temperature is not None:
        df["temperature_c"] = temperature
    result = ncs.analyze(df, **kwargs)
    values = set(result.findings["cold_limb"].astype(str)) | set(
        result.nerves["cold_limb"].astype(str)
    )
    assert len(values) == 1
    return values.pop()


ARM = ("ulnar", ("wrist", "below elbow"))
LEG = ("peroneal", ("ankle", "below fibular head"))


def test_cold_limbs_are_flagged_at_the_limb_limit():
    assert _cold(*ARM, 32.9) == "yes"  # default upper-limb limit 33 °C
    assert _cold(*ARM, 33.0) == "no"
    assert _cold(*LEG, 29.9) == "yes"  # default lower-limb limit 30 °C
    assert _cold(*LEG, 30.0) == "no"
    assert _cold(*ARM, None) == "not_assessable"
    assert _cold(*ARM, 32.0, temperature_limits_c={"upper": 32.0}) == "no"
    assert _cold(*LEG, 31.0, temperature_limits_c=32.0) == "yes"
    with pytest.raises(ValueError, match="per limb"):
        _cold(*ARM, 32.0, temperature_limits_c={"arm": 32.0})


def test_one_cold_site_makes_the_nerve_cold():
    df = two_sites()
    df["temperature_c"] = [34.0, 31.0]
    result = ncs.analyze(df)
    assert set(result.nerves["cold_limb"].astype(str)) == {"yes"}


@pytest.mark.parametrize("cell", [[1, 2], {"a": 1}, b"x", 10**400])
def test_unsupported_cells_are_reported_not_crashed_on(cell):
    df = two_sites().astype(object)
    values = df["amplitude_mv"].to_numpy(dtype=object).copy()
    values[1] = cell
    df["amplitude_mv"] = pd.Series(values, dtype=object)
    with pytest.raises(ncs.ValidationError) as err:
        ncs.analyze(df)
    assert (1, "amplitude_mv") in {(p.row, p.column) for p in err.value.problems}
    result = ncs.analyze(df, errors="collect")
    assert sorted(result.rejected["input_row"]) == [0, 1]


def test_per_nerve_values_that_disagree_reject_only_that_nerve():
    # found by the 10,000-example fuzz run: the conflict used to stop a collecting run
    ulnar = two_sites()
    ulnar["f_latency_ms"] = [30.0, 31.0]
    median = two_sites(nerve="median", sites=("wrist", "elbow"))
    sites = pd.concat([ulnar, median], ignore_index=True)
    with pytest.raises(ncs.ValidationError) as err:
        ncs.analyze(sites)
    assert {(p.row, p.column) for p in err.value.problems} == {
        (0, "f_latency_ms"),
        (1, "f_latency_ms"),
    }
    result = ncs.analyze(sites, errors="collect")
    assert sorted(result.rejected["input_row"]) == [0, 1]
    assert sorted(result.sites["input_row"]) == [2, 3]
