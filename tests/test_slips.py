"""A slip is never judged as data, and every warning travels with the result.

Each case is one a new user met with a realistic study (issue: real lab data); expected values
are worked by hand from the rules and the plausibility limits in ncs.plausibility.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import ncs
from conftest import FIXTURES
from ncs import normative
from ncs.io import json_schema


def median(amp=(8.0, 3.0), area=(28.0, 10.6), side=("R", "R")):
    # 8.0 -> 3.0 mV is a 62.5 % drop, 28.0 -> 10.6 mV·ms 62.1 %: a block under both seeds
    return pd.DataFrame(
        {
            "patient_id": "P",
            "nerve": "median",
            "side": list(side),
            "site": ["wrist", "elbow"],
            "latency_ms": [3.5, 7.8],
            "amplitude_mv": list(amp),
            "area_mvms": list(area),
            "duration_ms": [5.4, 5.9],
            "distance_mm": [70.0, 230.0],
        }
    )


def quiet(sites, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ncs.NcsWarning)
        return ncs.analyze(sites, **kw)


def test_split_invalid_warns_of_an_implausible_value_as_validate_does():
    from ncs.schema import split_invalid, validate

    slipped = median(amp=(8.0, 3000.0), area=(28.0, 10600.0))
    for check in (validate, lambda s: split_invalid(s)[0]):
        with pytest.warns(ncs.NcsWarning, match="above 50 mV"):
            check(slipped)


def test_the_study_without_a_slip_is_a_block():
    res = quiet(median())
    assert set(res.findings["block"].astype(str)) == {"yes"}
    assert res.warnings.empty


def test_one_cell_in_microvolts_is_not_judged():
    # elbow 3000 / 10600 typed in µV: 3000 mV is above any CMAP (50 mV), 10600 mV·ms above any
    # area (200 mV·ms): the segment is not judged, never "no block"
    with pytest.warns(ncs.NcsWarning, match="above 50 mV"):
        res = ncs.analyze(median(amp=(8.0, 3000.0), area=(28.0, 10600.0)))
    assert set(res.findings["block"].astype(str)) == {"not_assessable"}
    assert set(res.patients["verdict"].astype(str)) == {"indeterminate"}
    reason = res.findings["reason"].iloc[0]
    assert reason.startswith("not judged as data: elbow amplitude 3000 mV above 50 mV")
    assert "rose" not in reason
    w = res.warnings.set_index("code")
    assert w.loc["implausible_amplitude", "input_row"] == 1
    assert w.loc["implausible_amplitude", "site"] == "elbow"
    assert w.loc["implausible_area", "column"] == "area_mvms"


def test_amplitude_in_microvolts_with_area_in_mv_is_judged_on_the_area_alone():
    # the area (28.0 -> 10.6, 62.1 %) is real and meets Katz (> 30 %) by itself; the amplitude
    # is unknown, so Bouche (both > 50 %) cannot be met: not assessable
    res = quiet(median(amp=(8.0, 3000.0)))
    block = dict(
        zip(res.findings["criterion"].astype(str), res.findings["block"].astype(str), strict=True)
    )
    assert block == {"katz2002": "yes", "bouche1995": "not_assessable"}
    assert "amplitude unknown, area fell 62.1% (>30%)" in res.findings["reason"].iloc[0]


def test_a_slip_at_the_distal_site_does_not_fake_a_block():
    # 10.0 mV typed as 10000 (µV) at the wrist, elbow 9.5: not a 99.9 % drop
    sites = median(amp=(10000.0, 9.5), area=(30.0, 29.0))
    res = quiet(sites)
    assert "yes" not in set(res.findings["block"].astype(str))


def test_a_rise_beyond_any_conduction_is_not_judged():
    # elbow 30 mV against a wrist 8 mV (3.75 x): a slip or swapped sites; the amplitude drop is
    # not judged, so Katz (amplitude or area) cannot say "no block" from the area's 3.6 %;
    # Bouche needs both drops > 50 %, and the area alone already rules that out
    res = quiet(median(amp=(8.0, 30.0), area=(28.0, 27.0)))
    f = res.findings.set_index("criterion")
    assert f.loc["katz2002", "block"] == "not_assessable"
    assert f.loc["bouche1995", "block"] == "no"
    assert "elbow amplitude 3.8 × wrist" in f.loc["katz2002", "reason"]
    # a modest rise (Martin-Gruber anastomosis, 1.3 x) is judged as it is
    res = quiet(median(amp=(8.0, 10.4), area=(28.0, 27.0)))
    assert set(res.findings["block"].astype(str)) == {"no"}


@pytest.mark.parametrize(
    ("distal", "proximal", "set_aside"),
    [
        (0.7, 2.1, False),  # exactly 3 x (2.1 / 0.7 is 3.0000000000000004 in floats)
        (0.3, 0.9, False),  # exactly 3 x
        (1.0, 3.0, False),
        (1.0, 3.001, True),  # just above 3 x
        (1.0, 2.999, False),  # just below
    ],
)
def test_the_rise_limit_is_three_times_exactly(distal, proximal, set_aside):
    # "more than 3 x the distal response" is compared as the percentages are (snapped), so a
    # rise of exactly 3 x is judged whatever its floating-point quotient; amplitude and area
    res = quiet(median(amp=(distal, proximal), area=(distal, proximal)))
    katz = res.findings.set_index("criterion").loc["katz2002", "block"]
    assert (katz == "not_assessable") is set_aside
    if not set_aside:
        assert katz == "no"  # a rise is no drop


@pytest.mark.parametrize(
    ("proximal_ms", "set_aside", "dispersion"),
    [
        (5200.0, True, None),  # 5.2 ms typed in µs: was "duration +99900.0%", dispersion
        (100.0, False, "yes"),  # the limit itself is a duration: 5.2 -> 100 ms is +1823 %
        (100.01, True, None),
        (99.99, False, "yes"),
        (0.5, False, "no"),  # the low limit itself: 5.2 -> 0.5 ms is -90 %, no increase
        (0.49, True, None),  # below 0.5 ms: not a CMAP
        (0.0052, True, None),  # seconds typed as ms
    ],
)
def test_a_duration_no_cmap_has_is_not_judged(proximal_ms, set_aside, dispersion):
    sites = median(amp=(8.0, 7.6), area=(28.0, 27.0))
    sites["duration_ms"] = [5.2, proximal_ms]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ncs.NcsWarning)
        res = ncs.analyze(sites)
    f = res.findings.set_index("criterion")
    codes = {getattr(w.message, "code", None) for w in caught}
    if set_aside:
        # 5 % amplitude and 3.6 % area drops: no block by either (Bouche's amplitude drop
        # alone rules its block out); the duration change is unknown: dispersion is not
        # assessable, never "yes"
        assert f.loc["katz2002", "dispersion"] == "not_assessable"
        assert f.loc["bouche1995", "block"] == "no"
        assert "implausible_duration" in set(res.warnings["code"])
        assert "not judged as data" in f.loc["katz2002", "reason"]
    else:  # judged as the value it is (Katz: duration increase > 30 %)
        assert f.loc["katz2002", "dispersion"] == dispersion
        assert "implausible_duration" not in codes | set(res.warnings["code"])


def test_a_side_typo_warns_and_the_one_site_nerves_are_said():
    sites = median(side=("L", "R"))  # "Left" on the wrist row of a right median
    with pytest.warns(ncs.NcsWarning, match="one site on each side"):
        res = ncs.analyze(sites)
    assert set(res.warnings["code"]) == {"side_typo"}
    assert sorted(res.warnings["input_row"].tolist()) == [0, 1]
    p = res.patients.iloc[0]
    assert p["n_one_site_nerves"] == 2
    assert "2 nerve(s) with one site only" in p["evidence"]
    assert p["verdict"] == "indeterminate"  # nothing judged: never "not demyelinating"


def test_amplitudes_declared_in_microvolts_that_are_millivolts_are_an_error():
    with pytest.raises(ncs.ValidationError, match="look like mV already"):
        ncs.analyze(median(), units={"amplitude": "uV"})
    # real microvolts are read as they should be
    uv = median(amp=(8000.0, 3000.0), area=(28000.0, 10600.0))
    res = ncs.analyze(uv, units={"amplitude": "uV"})
    assert set(res.findings["block"].astype(str)) == {"yes"}


# --- reference tables -------------------------------------------------------------------


def _study():
    return ncs.read_sites(FIXTURES / "mmn_forearm_block.csv")


LAB = pd.DataFrame(
    {
        "nerve": ["median", "ulnar", "peroneal", "tibial"],
        "dml_uln_ms": [4.4, 3.3, 6.5, 6.1],
        "amp_lln_mv": [4.1, 7.9, 1.3, 4.4],
        "cv_lln_m_s": [49.0, 52.0, 38.0, 39.0],
        "f_latency_uln_ms": [31.0, 32.0, 56.0, 56.0],
    }
)


def test_a_misspelt_reference_column_is_an_error():
    lab = LAB.rename(columns={"cv_lln_m_s": "cv_lln_ms"})
    with pytest.raises(ncs.ValidationError, match="did you mean 'cv_lln_m_s'"):
        ncs.analyze(_study(), criteria="efns2010_cidp", reference=lab)


def test_an_unknown_nerve_in_the_reference_table_is_an_error():
    lab = LAB.replace({"nerve": {"median": "medianus"}})
    with pytest.raises(ncs.ValidationError, match="unknown nerve name 'medianus'"):
        ncs.analyze(_study(), criteria="efns2010_cidp", reference=lab)


def test_a_nerve_missing_from_the_reference_table_is_said_or_filled_when_asked():
    lab = LAB[LAB["nerve"] != "ulnar"]
    with pytest.warns(ncs.NcsWarning, match="no reference limits for the ulnar"):
        res = ncs.analyze(_study(), criteria="efns2010_cidp", reference=lab)
    assert "reference_missing_nerve" in set(res.warnings["code"])
    ulnar = res.nerves.set_index("nerve").loc["ulnar"]
    assert np.isnan(ulnar["cv_lln_m_s"])
    filled = ncs.analyze(_study(), criteria="efns2010_cidp", reference=lab, reference_fallback=True)
    assert filled.warnings.empty
    assert filled.nerves.set_index("nerve").loc["ulnar", "cv_lln_m_s"] == pytest.approx(52.0)
    assert "ncs defaults for: ulnar" in filled.meta["reference"]


@pytest.mark.parametrize(
    ("column", "cell", "message"),
    [
        ("dml_uln_ms", 0.0, "a reference limit must be above 0"),
        ("amp_lln_mv", -4.1, "a reference limit must be above 0"),
        ("cv_lln_m_s", "fifty", "reference limit: not a number"),
        ("f_latency_uln_ms", float("inf"), "reference limit: not a finite number"),
    ],
)
def test_a_reference_limit_that_cannot_be_one_is_an_error(column, cell, message):
    # a distal latency limit of 0 would call every distal latency prolonged (a verdict
    # flipped by a slip): refused, naming the row and column, never used
    lab = LAB.astype({column: object})
    lab.loc[1, column] = cell  # the ulnar row
    with pytest.raises(ncs.ValidationError) as info:
        ncs.analyze(_study(), criteria="efns2010_cidp", reference=lab)
    assert [(p.row, p.column) for p in info.value.problems] == [(1, column)]
    assert message in info.value.problems[0].message


def test_a_reference_limit_in_a_long_table_is_checked_row_by_row():
    long = LAB.melt(id_vars="nerve", var_name="parameter", value_name="value")
    long.loc[5, "value"] = 0.0  # ulnar amp_lln_mv (rows: 4 DML, then 4 amplitude limits)
    with pytest.raises(ncs.ValidationError) as info:
        ncs.analyze(_study(), criteria="efns2010_cidp", reference=long)
    (problem,) = info.value.problems
    assert (problem.row, problem.column) == (5, "value")
    assert "above 0" in problem.message and "'amp_lln_mv'" in problem.message
    # a blank limit is no limit, not an error (the nerve's items are then not assessable)
    long.loc[5, "value"] = None
    res = ncs.analyze(_study(), criteria="efns2010_cidp", reference=long)
    assert np.isnan(res.nerves.set_index("nerve").loc["ulnar", "amp_lln_mv"])


def _long_lab(**columns):
    return pd.DataFrame(
        {
            "nerve": ["median", "ulnar", "ulnar"],
            "muscle": ["APB", None, None],
            "parameter": ["cv_lln_m_s", "cv_lln_m_s", "amp_lln_mv"],
            "value": [49.0, 52.0, 7.9],
            **columns,
        }
    )


def test_a_long_reference_row_without_a_muscle_is_the_nerves_limit():
    # a blank muscle in a long table means "any muscle": the ulnar rows are its limits
    # (they used to vanish, leaving the ulnar nerve without limits)
    table, _ = normative.reference_table(_long_lab())
    ulnar = table[table["nerve"] == "ulnar"]
    assert len(ulnar) == 1 and ulnar["muscle"].iloc[0] is None
    assert ulnar["cv_lln_m_s"].iloc[0] == 52.0 and ulnar["amp_lln_mv"].iloc[0] == 7.9
    res = ncs.analyze(_study(), criteria="efns2010_cidp", reference=_long_lab())
    assert res.nerves.set_index("nerve").loc["ulnar", "cv_lln_m_s"] == pytest.approx(52.0)
    missing = res.warnings[res.warnings["code"] == "reference_missing_nerve"]
    assert set(missing["nerve"]) == {"peroneal", "tibial"}  # not in the lab's table


def test_a_muscles_own_row_takes_the_nerves_limits_it_leaves_blank():
    # median: DML and velocity limits for any muscle, an amplitude LLN for APB only. The APB
    # has its own amplitude LLN and the nerve's DML and velocity limits (they used to be
    # lost for the APB: the lookup took its row whole)
    long = pd.DataFrame(
        {
            "nerve": ["median", "median", "median"],
            "muscle": [None, None, "APB"],
            "parameter": ["dml_uln_ms", "cv_lln_m_s", "amp_lln_mv"],
            "value": [4.4, 49.0, 4.0],
        }
    )
    table, _ = normative.reference_table(long)
    limits = normative.limits_for(np.array(["median", "median"]), np.array(["APB", "FPB"]), table)
    assert limits["dml_uln_ms"].tolist() == [4.4, 4.4]
    assert limits["cv_lln_m_s"].tolist() == [49.0, 49.0]
    assert limits["amp_lln_mv"][0] == 4.0 and np.isnan(limits["amp_lln_mv"][1])
    # the same in a wide table, and a muscle's own value wins over the nerve's
    wide = pd.DataFrame(
        {
            "nerve": ["median", "median"],
            "muscle": [None, "APB"],
            "dml_uln_ms": [4.4, 4.2],
            "amp_lln_mv": [None, 4.0],
        }
    )
    table, _ = normative.reference_table(wide)
    limits = normative.limits_for(np.array(["median"]), np.array(["APB"]), table)
    assert (limits["dml_uln_ms"][0], limits["amp_lln_mv"][0]) == (4.2, 4.0)


@pytest.mark.parametrize("backend", ["numpy_nullable", "pyarrow", None])
def test_a_long_reference_row_without_a_parameter_is_an_error_naming_it(backend, tmp_path):
    if backend == "pyarrow":
        pytest.importorskip("pyarrow")
    path = tmp_path / "limits.csv"
    path.write_text("nerve,parameter,value\nmedian,cv_lln_m_s,49\nmedian,,3\n", "utf-8")
    long = pd.read_csv(path, dtype_backend=backend) if backend else pd.read_csv(path)
    with pytest.raises(ncs.ValidationError) as info:
        normative.reference_table(long)
    assert [(p.row, p.column) for p in info.value.problems] == [(1, "parameter")]
    assert "parameter is missing" in info.value.problems[0].message


def test_an_unknown_parameter_of_a_long_reference_table_names_its_first_row():
    lab = _long_lab()
    lab.loc[2, "parameter"] = "amp_lln_uv"
    with pytest.raises(ncs.ValidationError) as info:
        normative.reference_table(lab)
    (problem,) = info.value.problems
    assert (problem.row, problem.column) == (2, "parameter")
    assert "unknown parameter 'amp_lln_uv'" in problem.message
    assert "did you mean 'amp_lln_mv'" in problem.message


def test_a_long_reference_row_without_a_nerve_is_an_error_naming_it():
    lab = _long_lab()
    lab.loc[2, "nerve"] = None
    with pytest.raises(ncs.ValidationError) as info:
        normative.reference_table(lab)
    assert [(p.row, p.column) for p in info.value.problems] == [(2, "nerve")]
    assert "nerve name is missing" in info.value.problems[0].message


def test_an_unknown_nerve_in_a_long_reference_table_names_its_own_row():
    lab = _long_lab()
    lab.loc[2, "nerve"] = "ulnaris"
    with pytest.raises(ncs.ValidationError) as info:
        normative.reference_table(lab)
    assert [(p.row, p.column) for p in info.value.problems] == [(2, "nerve")]


def test_two_values_for_one_reference_limit_are_an_error():
    # which of two different limits a lab meant is not ours to pick
    lab = pd.concat([_long_lab(), _long_lab().iloc[[1]].assign(value=50.0)], ignore_index=True)
    with pytest.raises(ncs.ValidationError) as info:
        normative.reference_table(lab)
    (problem,) = info.value.problems
    assert (problem.row, problem.column) == (3, "value")
    assert "row 1" in problem.message and "cv_lln_m_s" in problem.message
    # the same value twice is no conflict; neither is a name written two ways for one limit
    same = pd.concat([_long_lab(), _long_lab().iloc[[1]].assign(nerve="Ulnar")])
    table, _ = normative.reference_table(same)
    assert (table["nerve"] == "ulnar").sum() == 1


def test_two_rows_for_one_nerve_in_a_wide_reference_table_are_an_error():
    lab = pd.concat([LAB, LAB.iloc[[1]].assign(nerve="Ulnar", cv_lln_m_s=50.0)], ignore_index=True)
    with pytest.raises(ncs.ValidationError) as info:
        normative.reference_table(lab)
    (problem,) = info.value.problems
    assert (problem.row, problem.column) == (4, "cv_lln_m_s")
    assert "row 1" in problem.message
    table, _ = normative.reference_table(pd.concat([LAB, LAB.iloc[[1]]], ignore_index=True))
    assert len(table) == len(LAB)


def test_an_unknown_column_of_a_long_reference_table_is_an_error():
    # a column that splits the limits (by age, say) must not be dropped quietly
    lab = _long_lab(age_group=["<60", "<60", "<60"])
    with pytest.raises(ncs.ValidationError, match="age_group"):
        normative.reference_table(lab)
    normative.reference_table(_long_lab(source=["lab 2024"] * 3))  # a note column is fine


# each limit's plausible range, written out here (docs/plausibility.md): refused below the
# low end and above the high end, accepted at both ends
_RANGES = {
    "dml_uln_ms": (0.1, 100.0),
    "amp_lln_mv": (0.01, 20.0),
    "cv_lln_m_s": (10.0, 150.0),
    "f_latency_uln_ms": (0.1, 200.0),
}


def _edges():
    for column, (low, high) in _RANGES.items():
        yield column, low, True
        yield column, high, True
        yield column, np.nextafter(low, 0), False
        yield column, np.nextafter(high, np.inf), False
        yield column, low * 0.999, False
        yield column, high * 1.001, False


@pytest.mark.parametrize(("column", "value", "accepted"), list(_edges()))
def test_a_reference_limit_in_another_unit_is_refused(column, value, accepted):
    # an LLN of 4100 (µV) would call every amplitude reduced: refused at the table's row,
    # in a wide table, a long one and a per-row column of the sites table alike
    wide = LAB.astype({column: float})
    wide.loc[2, column] = value
    long = wide.melt(id_vars="nerve", var_name="parameter", value_name="value")
    row = list(LAB.columns[1:]).index(column) * len(LAB) + 2  # the melted peroneal row
    per_row = _study().assign(**{column: value})
    for table, place in ((wide, (2, column)), (long, (row, "value"))):
        if accepted:
            normative.reference_table(table)
            continue
        with pytest.raises(ncs.ValidationError) as info:
            normative.reference_table(table)
        assert [(p.row, p.column) for p in info.value.problems] == [place]
        assert "another unit" in info.value.problems[0].message
    if accepted:
        ncs.validate(per_row)
    else:
        with pytest.raises(ncs.ValidationError) as info:
            ncs.validate(per_row)
        assert {p.column for p in info.value.problems} == {column}
        assert len(info.value.problems) == len(per_row)
        assert all("another unit" in p.message for p in info.value.problems)


def test_an_amplitude_limit_in_microvolts_through_the_command_line(tmp_path, capsys):
    from ncs.cli import main

    ref = tmp_path / "limits.csv"
    ref.write_text("nerve,amp_lln_mv\nmedian,4100\nulnar,7.9\n", "utf-8")
    sites = FIXTURES / "mmn_forearm_block.csv"
    assert main(["analyze", str(sites), "-c", "efns2010_cidp", "--reference", str(ref)]) == 2
    err = capsys.readouterr().err
    assert "limits.csv, line 2, column 'amp_lln_mv'" in err
    assert "a reference limit of 4100 for amp_lln_mv lies outside 0.01 to 20" in err


def test_note_columns_of_a_reference_table_are_allowed():
    res = ncs.analyze(_study(), criteria="efns2010_cidp", reference=LAB.assign(source="lab 2024"))
    assert res.warnings.empty


# --- the dispersion confound ------------------------------------------------------------------


def test_amplitude_only_block_beside_dispersion_is_flagged_not_changed():
    # amplitude -40 %, area -21 %, duration +45 %: Katz block by amplitude alone (as the rule
    # says), flagged, and worded
    sites = pd.DataFrame(
        {
            "patient_id": "P",
            "nerve": "ulnar",
            "side": "R",
            "site": ["wrist", "below elbow"],
            "latency_ms": [3.0, 7.0],
            "amplitude_mv": [10.0, 6.0],
            "area_mvms": [30.0, 23.7],
            "duration_ms": [5.0, 7.25],
            "distance_mm": [70.0, 220.0],
        }
    )
    f = quiet(sites, criteria=["katz2002", "efns2010_mmn"]).findings.set_index("criterion")
    assert f.loc["katz2002", "block"] == "yes"
    assert bool(f.loc["katz2002", "phase_cancellation_possible"])
    assert (
        "amplitude-only drop with duration +45.0%: phase cancellation possible"
        in (f.loc["katz2002", "reason"])
    )
    assert not bool(f.loc["efns2010_mmn", "phase_cancellation_possible"])
    # an area drop past the threshold too: the block does not rest on the amplitude alone
    sites.loc[1, "area_mvms"] = 18.0
    f = quiet(sites, criteria="katz2002").findings
    assert not bool(f["phase_cancellation_possible"].item())


# --- options are checked like the input ---------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [{"reasons": "no"}, {"reasons": 0}, {"errors": "ignore"}, {"temperature_limits_c": "warm"}],
)
def test_bad_options_are_validation_errors(kwargs):
    with pytest.raises(ncs.ValidationError):
        ncs.analyze(median(), **kwargs)


# --- JSON ---------------------------------------------------------------------------------


def _validator():
    from jsonschema import Draft202012Validator

    return Draft202012Validator(json_schema())


@pytest.mark.parametrize("reasons", [True, False])
@pytest.mark.parametrize("errors", ["raise", "collect"])
@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.csv")), ids=lambda p: p.stem)
def test_every_fixture_json_validates_and_carries_its_warnings(path, reasons, errors):
    sites = ncs.read_sites(path)
    if errors == "collect":  # one invalid row: its nerve is set aside and said
        sites = pd.concat([sites, sites.iloc[[0]].assign(latency_ms=-1.0)], ignore_index=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ncs.NcsWarning)
        res = ncs.analyze(sites, criteria="all", reasons=reasons, errors=errors)
    doc = json.loads(res.to_json())
    errs = sorted(_validator().iter_errors(doc), key=str)
    assert not errs, errs[0].message
    emitted = {str(w.message) for w in caught if issubclass(w.category, ncs.NcsWarning)}
    assert emitted == {w["message"] for w in doc["warnings"]}
    if errors == "collect":
        assert doc["rejected"], "the set-aside rows are in the JSON"


def test_side_typo_warning_is_in_the_json():
    doc = json.loads(quiet(median(side=("L", "R"))).to_json())
    assert [w["code"] for w in doc["warnings"]] == ["side_typo", "side_typo"]


# --- the property -----------------------------------------------------------------------------


def _valid_study(rnd_amp, rnd_area, n_sites):
    """A plausible study: amplitudes 1-15 mV falling by at most 70 % per site."""
    sites = ["wrist", "elbow", "axilla"][:n_sites]
    amp = [rnd_amp[0]]
    area = [rnd_area[0]]
    for k in range(1, n_sites):
        amp.append(round(amp[-1] * rnd_amp[k], 2))
        area.append(round(area[-1] * rnd_area[k], 2))
    return pd.DataFrame(
        {
            "patient_id": "P",
            "nerve": "median",
            "side": "R",
            "site": sites,
            "latency_ms": [3.5, 7.8, 10.0][:n_sites],
            "amplitude_mv": amp,
            "area_mvms": area,
            "duration_ms": [5.4, 5.9, 6.1][:n_sites],
            "distance_mm": [70.0, 230.0, 120.0][:n_sites],
        }
    )


@settings(max_examples=60, deadline=None)
@given(
    st.tuples(st.floats(1.0, 15.0), st.floats(0.3, 1.2), st.floats(0.3, 1.2)),
    st.tuples(st.floats(3.0, 50.0), st.floats(0.3, 1.2), st.floats(0.3, 1.2)),
    st.integers(2, 3),
    st.integers(0, 2),
    st.sampled_from(["amplitude_mv", "area_mvms"]),
)
def test_a_unit_slip_only_ever_makes_a_finding_not_assessable(amp, area, n, row, column):
    assume(row < n)
    sites = _valid_study(amp, area, n)
    slipped = sites.copy()
    slipped.loc[row, column] = slipped.loc[row, column] * 1000
    before = quiet(sites, criteria=["katz2002", "bouche1995"])
    try:
        after = quiet(slipped, criteria=["katz2002", "bouche1995"])
    except ncs.ValidationError:
        return
    a = before.findings["block"].astype(str).to_numpy()
    b = after.findings["block"].astype(str).to_numpy()
    changed = a != b
    assert set(b[changed]) <= {"not_assessable"}, (a, b)
    assert row in set(after.warnings["input_row"].dropna().astype(int))


def test_a_long_reference_parameter_with_spaces_is_read():
    lab = _long_lab()
    lab["parameter"] = [" cv_lln_m_s", "cv_lln_m_s ", " amp_lln_mv "]
    table, _ = normative.reference_table(lab)
    ulnar = table[table["nerve"] == "ulnar"].iloc[0]
    assert (ulnar["cv_lln_m_s"], ulnar["amp_lln_mv"]) == (52.0, 7.9)


def test_amplitudes_declared_in_microvolts_by_their_column_are_checked_like_units():
    # an amplitude_uv column holding mV values (12.1, 10.2, ...) became 0.012 mV and was
    # judged; as with units={"amplitude": "uV"}, every amplitude below 0.05 mV after the
    # conversion is an error naming the fix
    sites = pd.DataFrame(
        {
            "patient_id": "P1",
            "nerve": ["tibial", "tibial", "ulnar", "ulnar"],
            "side": "R",
            "site": ["ankle", "popliteal fossa", "wrist", "below elbow"],
            "latency_ms": [4.8, 13.4, 2.9, 6.6],
            "amplitude_uv": [12.1, 10.2, 10.5, 10.1],
            "distance_mm": [100, 400, 70, 210],
        }
    )
    with pytest.raises(ncs.ValidationError, match="name it amplitude_mv"):
        ncs.analyze(sites)
    ncs.analyze(sites.assign(amplitude_uv=sites["amplitude_uv"] * 1000))  # real µV: read


def test_amplitudes_declared_in_microvolts_by_wide_headers_are_checked_like_units():
    from ncs.wide import from_wide

    wide = pd.DataFrame(
        {
            "patient_id": ["P1"],
            "R Tibial AH Ankle Lat (ms)": [4.8],
            "R Tibial AH Ankle Amp (uV)": [12.1],
            "R Tibial AH Popliteal Fossa Lat (ms)": [13.4],
            "R Tibial AH Popliteal Fossa Amp (uV)": [10.2],
        }
    )
    sites = from_wide(wide)
    with pytest.raises(ncs.ValidationError, match="amplitude headers say µV"):
        ncs.analyze(sites)
    scaled = wide.copy()
    for col in [c for c in wide.columns if "Amp" in c]:
        scaled[col] = wide[col] * 1000
    ncs.analyze(from_wide(scaled))


def test_a_reference_row_for_another_muscle_is_not_used():
    # the lab's table has the ulnar nerve at FDI only; the study records it at ADM: FDI's
    # limits were used without a word; now no limits there, and a warning names the nerve
    lab = pd.DataFrame(
        {
            "nerve": ["ulnar", "median"],
            "muscle": ["FDI", "APB"],
            "dml_uln_ms": [4.5, 4.4],
            "amp_lln_mv": [7.0, 4.1],
            "cv_lln_m_s": [50.0, 49.0],
            "f_latency_uln_ms": [32.0, 31.0],
        }
    )
    with pytest.warns(ncs.NcsWarning, match="the ulnar nerve recorded at ADM"):
        res = ncs.analyze(_study(), criteria="efns2010_cidp", reference=lab)
    nerves = res.nerves.set_index("nerve")
    assert np.isnan(nerves.loc["ulnar", "dml_uln_ms"])
    assert nerves.loc["median", "dml_uln_ms"] == 4.4
    assert "reference_other_muscle" in set(res.warnings["code"])
    # a row without a muscle (any muscle) is the nerve's: used, no warning about it
    anyone = pd.concat([lab, lab.iloc[[0]].assign(muscle=None, dml_uln_ms=3.3)])
    res = ncs.analyze(_study(), criteria="efns2010_cidp", reference=anyone)
    assert res.nerves.set_index("nerve").loc["ulnar", "dml_uln_ms"] == 3.3
    assert "reference_other_muscle" not in set(res.warnings["code"])
    # a study that names no muscle takes the nerve's first row, as before
    res = ncs.analyze(_study().drop(columns="muscle"), criteria="efns2010_cidp", reference=lab)
    assert res.nerves.set_index("nerve").loc["ulnar", "dml_uln_ms"] == 4.5


def test_reference_table_column_names_in_another_case_are_read():
    lab = LAB.rename(columns={"nerve": "Nerve", "cv_lln_m_s": "CV_LLN_m_s"})
    table, _ = normative.reference_table(lab)
    assert table.set_index("nerve").loc["ulnar", "cv_lln_m_s"] == 52.0
    long = _long_lab().rename(columns={"nerve": "Nerve", "muscle": " Muscle ", "value": "Value"})
    table, _ = normative.reference_table(long)
    assert table.set_index("nerve").loc["ulnar", "cv_lln_m_s"] == 52.0


def test_a_muscle_the_shipped_table_lacks_says_so():
    # the shipped table has the ulnar nerve at ADM; a study recorded at FDI gets no limits
    # there, and the warning points to a reference table (the shipped one cannot be edited)
    sites = _study()
    sites.loc[sites["nerve"] == "ulnar", "muscle"] = "FDI"
    with pytest.warns(ncs.NcsWarning) as caught:
        res = ncs.analyze(sites, criteria="efns2010_cidp")
    (message,) = [str(w.message) for w in caught if "recorded at FDI" in str(w.message)]
    assert "the shipped table has the nerve at other muscles only" in message
    assert "pass a reference table that has it" in message
    assert np.isnan(res.nerves.set_index("nerve").loc["ulnar", "amp_lln_mv"])


@pytest.mark.parametrize(
    ("number", "flag", "label"), [(1, True, "1"), (0, False, "0"), (1.0, True, "1")]
)
def test_a_true_false_patient_id_is_not_the_patient_with_that_number(number, flag, label):
    # Python sees True == 1: patient 1 and a patient_id cell TRUE (an object column built
    # from a sheet) were one patient, their nerves judged together
    one = median().assign(patient_id=number)
    other = median(amp=(8.0, 7.5), area=(28.0, 27.0)).assign(patient_id=flag, nerve="ulnar")
    other["site"] = ["wrist", "below elbow"]
    sites = pd.concat([one, other], ignore_index=True)
    sites["patient_id"] = np.array([number, number, flag, flag], dtype=object)
    patients = ncs.analyze(sites, criteria="katz2002").patients
    assert len(patients) == 2
    verdicts = dict(zip(patients["patient_id"].astype(str), patients["verdict"], strict=True))
    # 62.5 % drop in the numbered patient's median; 6.25 % in the other's ulnar
    assert verdicts == {label: "demyelinating", str(flag): "not_demyelinating"}
