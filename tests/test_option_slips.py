"""Slips in options (keyword arguments and command-line flags) are refused with a
``ValidationError`` (or ``UnknownCriteriaError``) naming the option, never judged as data and
never an internal error."""

from __future__ import annotations

import pytest

import ncs
from conftest import FIXTURES, NEEDS_ARROW, two_sites
from ncs.cli import main
from ncs.errors import UnknownCriteriaError, ValidationError
from ncs.registry import resolve

#: Exit code of the command line for invalid input or options.
EXIT_INVALID = 2

# ---------------------------------------------------------------- criteria


@pytest.mark.parametrize(
    ("criteria", "words"),
    [
        (["katz2002", "katz2002"], "katz2002 named twice"),
        (["katz2002", " KATZ2002 "], "katz2002 named twice"),
        (["all", "katz2002"], "katz2002 named twice"),
        (["verified", "bouche1995"], "bouche1995 named twice"),
        ([], "no criteria named"),
        ((), "no criteria named"),
        (5, "criteria must be"),
        (3.5, "criteria must be"),
    ],
)
def test_criteria_slips_are_validation_errors(criteria, words):
    with pytest.raises(ValidationError, match=words) as err:
        resolve(criteria)
    assert err.value.problems[0].column == "criteria"
    with pytest.raises(ValidationError, match=words):
        ncs.analyze(two_sites(), criteria=criteria)


def test_the_same_criterion_object_twice_is_refused():
    katz = ncs.CRITERIA["katz2002"]
    with pytest.raises(ValidationError, match="katz2002 named twice"):
        resolve([katz, "katz2002"])


def test_unknown_criterion_stays_unknown_criteria_error():
    with pytest.raises(UnknownCriteriaError, match="unknown criterion"):
        resolve(["katz2002", "katz2020"])


def test_valid_criteria_resolve_in_order():
    assert [c.id for c in resolve(["bouche1995", "katz2002"])] == ["bouche1995", "katz2002"]
    assert [c.id for c in resolve(None)] == list(ncs.DEFAULT_CRITERIA)
    assert len(resolve("all")) == len(ncs.CRITERIA)


@pytest.mark.parametrize(
    "argv",
    [
        ["analyze", str(FIXTURES / "normal.csv"), "-c", "katz2002,katz2002"],
        ["analyze", str(FIXTURES / "normal.csv"), "-c", "all,katz2002"],
        ["analyze", str(FIXTURES / "normal.csv"), "-c", ","],
        ["compare", str(FIXTURES / "normal.csv"), "-c", "katz2002,katz2002"],
        ["report", str(FIXTURES / "normal.csv"), "-c", "katz2002", "-c", "katz2002"],
        ["followup", str(FIXTURES / "followup_resolved.csv"), "-c", "katz2002,katz2002"],
    ],
)
def test_cli_criteria_slips_exit_2(argv, capsys, tmp_path):
    if argv[0] == "report":
        argv = [*argv, "-o", str(tmp_path / "r.html")]
    assert main(argv) == EXIT_INVALID
    err = capsys.readouterr().err
    assert "internal error" not in err
    assert "--criteria" in err
    assert "named twice" in err or "no criteria named" in err
    assert not (tmp_path / "r.html").exists()


# ---------------------------------------------------------------- ncs compare


@pytest.mark.parametrize("criteria", ["katz2002", "efns2010_mmn"])
def test_cli_compare_of_one_criterion_exit_2(criteria, capsys):
    assert main(["compare", str(FIXTURES / "normal.csv"), "-c", criteria]) == EXIT_INVALID
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "two or more criteria" in captured.err


def test_cli_compare_of_two_criteria_runs(capsys):
    argv = ["compare", str(FIXTURES / "normal.csv"), "-c", "katz2002,bouche1995", "--draws", "10"]
    assert main(argv) == 0
    assert "katz2002" in capsys.readouterr().out


# ---------------------------------------------------------------- ncs batch


@pytest.mark.parametrize("chunk_rows", [0, -5, 1.5, "10", True, None])
def test_batch_chunk_rows_slips_are_validation_errors(chunk_rows, tmp_path):
    from ncs.batch import analyze_file

    out = tmp_path / "out"
    with pytest.raises(ValidationError, match="chunk_rows") as err:
        analyze_file(FIXTURES / "normal.csv", out, chunk_rows=chunk_rows)
    assert err.value.problems[0].column == "chunk_rows"
    assert not out.exists()  # nothing written


def test_batch_unknown_format_is_a_validation_error(tmp_path):
    from ncs.batch import analyze_file

    with pytest.raises(ValidationError, match="format"):
        analyze_file(FIXTURES / "normal.csv", tmp_path / "out", format="xlsx")


@pytest.mark.parametrize("value", ["0", "-5"])
def test_cli_batch_chunk_rows_below_one_is_a_usage_error(value, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["batch", str(FIXTURES / "normal.csv"), "-d", str(out), "--chunk-rows", value]
    assert main(argv) == EXIT_INVALID
    err = capsys.readouterr().err
    assert "--chunk-rows" in err
    assert "internal error" not in err
    assert not out.exists()


# ---------------------------------------------------------------- compare

#: Four seed studies, one patient each, with a clinical diagnosis.
_DIAGNOSES = {"MMN01": "MMN", "CIDP01": "CIDP", "NORM01": "normal", "ALS01": "ALS"}
_FILES = ("mmn_forearm_block.csv", "cidp_dispersion.csv", "normal.csv", "als_axonal.csv")
#: Few draws: these tests check options, not the simulation.
_DRAWS = 5


@pytest.fixture(scope="module")
def cohort():
    import pandas as pd

    sites = pd.concat([ncs.read_sites(FIXTURES / f) for f in _FILES], ignore_index=True)
    sites["diagnosis"] = sites["patient_id"].map(_DIAGNOSES)
    return sites


@pytest.fixture(scope="module")
def seed_analysis(cohort):
    return ncs.analyze(cohort, criteria=["katz2002", "bouche1995"])


def _diagnosis_of(comparison) -> dict:
    p = comparison.patients
    pairs = zip(p["patient_id"], p["diagnosis"], strict=True)
    return {pid: (None if pd_isna(d) else bool(d)) for pid, d in pairs}


def pd_isna(value) -> bool:
    import pandas as pd

    return bool(pd.isna(value))


@pytest.mark.parametrize("positive", ["MMN", " mmn ", ["MMN"], ("MMN",)])
def test_compare_positive_one_label_as_a_string(seed_analysis, positive):
    c = ncs.compare(seed_analysis, positive=positive, n_draws=_DRAWS)
    assert _diagnosis_of(c) == {"MMN01": True, "CIDP01": False, "NORM01": False, "ALS01": False}
    # by hand: Katz 2002 calls MMN01 (median 8.2 -> 2.9 mV, 65% drop) and CIDP01 (median
    # 5.1 -> 3.2 mV, 37%) demyelinating, NORM01 and ALS01 not: TP 1, FP 1, FN 0, TN 2
    katz = c.accuracy.set_index("scheme").loc["katz2002"]
    assert (katz.true_positive, katz.false_positive, katz.false_negative, katz.true_negative) == (
        1,
        1,
        0,
        2,
    )


def test_compare_positive_naming_nothing_is_refused(seed_analysis):
    with pytest.raises(ValidationError, match="positive") as err:
        ncs.compare(seed_analysis, positive=[], n_draws=_DRAWS)
    assert err.value.problems[0].column == "positive"


def test_compare_positive_matching_no_diagnosis_warns(seed_analysis):
    with pytest.warns(ncs.NcsWarning, match="MNN"):
        c = ncs.compare(seed_analysis, positive="MNN", n_draws=_DRAWS)
    assert not any(_diagnosis_of(c).values())


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("n_draws", 0),
        ("n_draws", -1),
        ("n_draws", 1.5),
        ("n_draws", "10"),
        ("n_draws", True),
        ("n_draws", None),
        ("seed", -1),
        ("seed", 1.5),
        ("seed", "a"),
        ("seed", None),
        ("robust_level", 1.5),
        ("robust_level", 0.4),
        ("robust_level", float("nan")),
        ("robust_level", "0.9"),
        ("confidence", 0),
        ("confidence", 1),
        ("confidence", float("nan")),
        ("confidence", "0.9"),
        ("confidence", None),
        ("diagnosis", 5),
    ],
)
def test_compare_option_slips_are_validation_errors(seed_analysis, option, value):
    kwargs = {"n_draws": _DRAWS, option: value}
    with pytest.raises(ValidationError, match=option) as err:
        ncs.compare(seed_analysis, positive="MMN", **kwargs)
    assert err.value.problems[0].column == option


def test_compare_diagnosis_series_with_none_is_unknown(seed_analysis):
    import pandas as pd

    dx = pd.Series({"MMN01": True, "CIDP01": False, "NORM01": None, "ALS01": False})
    c = ncs.compare(seed_analysis, diagnosis=dx, n_draws=_DRAWS)
    assert _diagnosis_of(c) == {"MMN01": True, "CIDP01": False, "NORM01": None, "ALS01": False}
    katz = c.accuracy.set_index("scheme").loc["katz2002"]
    assert katz.n_no_diagnosis == 1


@pytest.mark.parametrize("dtype", ["float64", pytest.param("double[pyarrow]", marks=NEEDS_ARROW)])
@pytest.mark.parametrize("as_column", [True, False])
def test_compare_float_diagnosis_one_zero_with_a_blank_is_boolean(cohort, as_column, dtype):
    import numpy as np
    import pandas as pd

    # a column of 1/0 with one blank cell is read as floats: 1.0, 0.0, NaN
    codes = {"MMN01": 1.0, "CIDP01": 0.0, "NORM01": np.nan, "ALS01": 0.0}
    sites = cohort.assign(dx=cohort["patient_id"].map(codes).astype(dtype))
    analysis = ncs.analyze(sites, criteria=["katz2002", "bouche1995"])
    dx = "dx" if as_column else pd.Series(codes)
    c = ncs.compare(analysis, diagnosis=dx, n_draws=_DRAWS)
    assert _diagnosis_of(c) == {"MMN01": True, "CIDP01": False, "NORM01": None, "ALS01": False}


def test_compare_float_diagnosis_other_than_one_zero_is_refused(cohort):
    sites = cohort.assign(dx=cohort["patient_id"].map({"MMN01": 0.5}).fillna(0.0))
    analysis = ncs.analyze(sites, criteria=["katz2002", "bouche1995"])
    with pytest.raises(ValidationError, match="not boolean-like") as err:
        ncs.compare(analysis, diagnosis="dx", n_draws=_DRAWS)
    assert err.value.problems[0].column == "dx"


def test_compare_positive_one_on_a_float_column(cohort):
    sites = cohort.assign(dx=cohort["patient_id"].map({"MMN01": 1.0}).fillna(0.0))
    analysis = ncs.analyze(sites, criteria=["katz2002", "bouche1995"])
    for positive in (1, 1.0, [1], "1"):
        c = ncs.compare(analysis, diagnosis="dx", positive=positive, n_draws=_DRAWS)
        assert _diagnosis_of(c)["MMN01"] is True
        assert not _diagnosis_of(c)["CIDP01"]


def test_compare_analysis_without_the_criterion_names_the_applied_ones(seed_analysis):
    with pytest.raises(ValidationError, match="simon2013") as err:
        ncs.compare(seed_analysis, ["simon2013", "katz2002"], n_draws=_DRAWS)
    assert err.value.problems[0].column == "criteria"
    assert "katz2002, bouche1995" in str(err.value)


def test_compare_analysis_subset_by_the_analysis_own_ids(cohort):
    from ncs.registry import with_entrapment_sites

    strict = with_entrapment_sites("katz2002", exclude=True)
    analysis = ncs.analyze(cohort, criteria=[strict, "katz2002"])
    chosen = ["katz2002_no_entrapment", "katz2002"]
    c = ncs.compare(analysis, chosen, positive="MMN", n_draws=_DRAWS)
    assert c.meta["criteria"] == ["katz2002_no_entrapment", "katz2002"]


@pytest.mark.parametrize(
    ("flag", "value"), [("--draws", "0"), ("--draws", "1.5"), ("--seed", "-1")]
)
def test_cli_compare_simulation_flags_out_of_range_are_usage_errors(flag, value, capsys):
    argv = ["compare", str(FIXTURES / "normal.csv"), flag, value]
    assert main(argv) == EXIT_INVALID
    err = capsys.readouterr().err
    assert flag in err
    assert "internal error" not in err


# ---------------------------------------------------------------- waveform.measure

#: Sampling rate and stimulus time of the test trace.
_FS_HZ = 20_000.0
_STIM_MS = 2.0
#: A 5 mV negative half-sine from 3 to 8 ms after the stimulus.
_AMPLITUDE_MV, _ONSET_MS, _HALF_MS = 5.0, 3.0, 5.0


def _cmap():
    import numpy as np

    t = np.arange(1000) / _FS_HZ * 1000 - _STIM_MS
    neg = (t >= _ONSET_MS) & (t < _ONSET_MS + _HALF_MS)
    return np.where(neg, -_AMPLITUDE_MV * np.sin(np.pi * (t - _ONSET_MS) / _HALF_MS), 0.0)


def test_waveform_test_trace_is_a_clean_cmap():
    from ncs.waveform import measure

    m = measure(_cmap(), _FS_HZ, _STIM_MS)
    assert m.loc[0, "response"] == "present"
    assert m.loc[0, "amplitude_mv"] == pytest.approx(_AMPLITUDE_MV)
    assert m.loc[0, "latency_ms"] == pytest.approx(_ONSET_MS)


@pytest.mark.parametrize("invert", ["no", "False", "true", 1, 0, None, [False]])
def test_waveform_invert_must_be_a_bool(invert):
    from ncs.waveform import from_array, measure

    with pytest.raises(ValidationError, match="invert") as err:
        measure(_cmap(), _FS_HZ, _STIM_MS, invert=invert)
    assert err.value.problems[0].column == "invert"
    with pytest.raises(ValidationError, match="invert"):
        from_array(_cmap(), _FS_HZ, stim_ms=_STIM_MS, invert=invert)


def test_waveform_invert_numpy_bool_is_a_bool():
    import numpy as np

    from ncs.waveform import measure

    m = measure(-_cmap(), _FS_HZ, _STIM_MS, invert=np.bool_(True))
    assert m.loc[0, "amplitude_mv"] == pytest.approx(_AMPLITUDE_MV)


@pytest.mark.parametrize("fraction", [1.0, 1.5, -0.1, float("nan")])
def test_waveform_threshold_fraction_outside_zero_one(fraction):
    from ncs.waveform import measure

    with pytest.raises(ValidationError, match="threshold_fraction"):
        measure(_cmap(), _FS_HZ, _STIM_MS, threshold_fraction=fraction)


@pytest.mark.parametrize("fraction", [0.0, 0.05, 0.5])
def test_waveform_threshold_fraction_inside_zero_one(fraction):
    from ncs.waveform import measure

    m = measure(_cmap(), _FS_HZ, _STIM_MS, threshold_fraction=fraction)
    assert m.loc[0, "response"] == "present"


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("onset_window_ms", (1,)),
        ("onset_window_ms", (1, 2, 3)),
        ("onset_window_ms", "ab"),
        ("onset_window_ms", "12"),
        ("onset_window_ms", 5),
        ("onset_window_ms", None),
        ("onset_window_ms", (1, float("nan"))),
        ("baseline_ms", (1,)),
        ("baseline_ms", "ab"),
        ("baseline_ms", (-1.0, float("nan"))),
        ("end_ms", "x"),
        ("end_ms", float("inf")),
    ],
)
def test_waveform_window_slips_are_validation_errors(option, value):
    from ncs.waveform import measure

    with pytest.raises(ValidationError, match=option) as err:
        measure(_cmap(), _FS_HZ, _STIM_MS, **{option: value})
    assert err.value.problems[0].column == option


@pytest.mark.parametrize("kind", ["complex", "bool"])
def test_waveform_complex_or_boolean_traces_are_refused(kind):
    from ncs.waveform import from_array, measure

    x = _cmap()
    traces = x + 1j * x if kind == "complex" else x < 0
    with pytest.raises(ValidationError, match=kind) as err:
        measure(traces, _FS_HZ, _STIM_MS)
    assert err.value.problems[0].column == "traces"
    with pytest.raises(ValidationError, match=kind):
        from_array(traces, _FS_HZ, stim_ms=_STIM_MS)


# ---------------------------------------------------------------- distal-duration cut-offs


def _cutoffs(**columns):
    import pandas as pd

    base = {
        "scheme": ["ean2021_cidp", "ean2021_cidp"],
        "lff_hz": [2.0, 2.0],
        "nerve": ["median", "ulnar"],
        "cutoff_ms": [8.4, 9.6],
        "op": [">", ">"],
    }
    base.update(columns)
    return pd.DataFrame({k: v for k, v in base.items() if v is not None})


def test_cutoff_table_of_a_lab_is_read_and_normalised():
    from ncs.normative import distal_duration_cutoffs

    table = _cutoffs(nerve=[" Median ", "ULNAR"], scheme=["EAN2021_CIDP", "ean2021_cidp "])
    read = distal_duration_cutoffs(table)
    assert read["nerve"].tolist() == ["median", "ulnar"]
    assert read["scheme"].tolist() == ["ean2021_cidp", "ean2021_cidp"]
    assert read["cutoff_ms"].tolist() == [8.4, 9.6]
    # without lff_hz and op columns: any filter, the scheme's own operator
    bare = distal_duration_cutoffs(_cutoffs(lff_hz=None, op=None))
    assert bare["lff_hz"].isna().all()
    assert bare["op"].isna().all()


def test_shipped_cutoff_table_passes_its_own_checks():
    from ncs.normative import distal_duration_cutoffs

    shipped = distal_duration_cutoffs()
    assert set(shipped["scheme"]) == {"efns2010_cidp", "ean2021_cidp"}
    assert distal_duration_cutoffs(shipped).equals(shipped)


@pytest.mark.parametrize(
    ("table", "column", "words"),
    [
        (_cutoffs(nerve=["medianus", "ulnar"]), "nerve", "unknown nerve 'medianus'"),
        (_cutoffs(nerve=[None, "ulnar"]), "nerve", "nerve is missing"),
        (_cutoffs(scheme=["ean2021_cdip", "ean2021_cidp"]), "scheme", "did you mean"),
        (_cutoffs(scheme=["katz2002", "ean2021_cidp"]), "scheme", "unknown scheme 'katz2002'"),
        (_cutoffs(cutoff_ms=[float("nan"), 9.6]), "cutoff_ms", "cut-off is missing"),
        (_cutoffs(cutoff_ms=[-8.4, 9.6]), "cutoff_ms", "above 0"),
        (_cutoffs(cutoff_ms=["x", 9.6]), "cutoff_ms", "cut-off"),
        (_cutoffs(cutoff_ms=[0.0084, 9.6]), "cutoff_ms", "another unit"),
        (_cutoffs(op=["=>", ">"]), "op", "unknown operator '=>'"),
        (_cutoffs(lff_hz=[-2.0, 2.0]), "lff_hz", "above 0"),
        (_cutoffs(nerve=["median", "median"]), "cutoff_ms", "second cut-off"),
        (_cutoffs(lff_hz=[float("nan"), 2.0], nerve=["median", "median"]), "lff_hz", "any filter"),
    ],
)
def test_cutoff_table_slips_name_row_and_column(table, column, words):
    from ncs.normative import distal_duration_cutoffs

    with pytest.raises(ValidationError, match=words) as err:
        distal_duration_cutoffs(table)
    assert err.value.problems[0].column == column
    assert err.value.problems[0].row == 0 or "second" in words or "any filter" in words


def test_cutoff_table_unknown_names_list_the_known_ones():
    from ncs.normative import distal_duration_cutoffs

    with pytest.raises(ValidationError) as err:
        distal_duration_cutoffs(_cutoffs(nerve=["medianus", "ulnar"], scheme=["x", "x"]))
    text = " ".join(p.message for p in err.value.problems)
    assert "known: ean2021_cidp, efns2010_cidp" in text
    assert "median" in text.split("unknown nerve")[1]


@pytest.mark.parametrize(
    ("table", "words"),
    [
        ("x", "must be a DataFrame"),
        ({"scheme": ["ean2021_cidp"]}, "must be a DataFrame"),
        (None, None),
    ],
)
def test_cutoff_table_of_the_wrong_type(table, words):
    from ncs.normative import distal_duration_cutoffs

    if words is None:  # None: the shipped table
        assert len(distal_duration_cutoffs(table))
        return
    with pytest.raises(ValidationError, match=words):
        distal_duration_cutoffs(table)


def test_cutoff_table_empty_or_with_a_misspelt_column():
    import pandas as pd

    from ncs.normative import distal_duration_cutoffs

    with pytest.raises(ValidationError, match="needs a scheme column"):
        distal_duration_cutoffs(pd.DataFrame())
    with pytest.raises(ValidationError, match="no rows"):
        distal_duration_cutoffs(_cutoffs().iloc[:0])
    with pytest.raises(ValidationError, match="did you mean 'cutoff_ms'") as err:
        distal_duration_cutoffs(_cutoffs().rename(columns={"cutoff_ms": "cutof_ms"}))
    assert {p.column for p in err.value.problems} == {"cutof_ms", "cutoff_ms"}


def test_cutoff_table_scheme_of_a_custom_criterion():
    from dataclasses import replace

    from ncs.normative import distal_duration_cutoffs

    custom = replace(ncs.CRITERIA["ean2021_cidp"], id="lab_cidp")
    table = _cutoffs(scheme=["lab_cidp", "lab_cidp"])
    with pytest.raises(ValidationError, match="unknown scheme 'lab_cidp'"):
        distal_duration_cutoffs(table)
    assert distal_duration_cutoffs(table, criteria=[custom])["scheme"].tolist() == [
        "lab_cidp",
        "lab_cidp",
    ]


def test_analyze_refuses_a_cutoff_table_with_an_unknown_nerve():
    sites = two_sites(nerve="median", sites=("wrist", "elbow"))
    with pytest.raises(ValidationError, match="medianus"):
        ncs.analyze(
            sites,
            criteria="ean2021_cidp",
            distal_duration_cutoffs=_cutoffs(nerve=["medianus", "ulnar"]),
        )


# ---------------------------------------------------------------- README


def _readme() -> str:
    from conftest import ROOT

    return (ROOT / "README.md").read_text(encoding="utf-8")


def _resolve(dotted: str) -> object:
    """``dotted`` as a user reaches it after ``import ncs`` (and ``import ncs.<module>``
    where the name is a submodule the package does not import itself)."""
    import importlib

    obj: object = importlib.import_module("ncs")
    parts = dotted.split(".")
    for k, part in enumerate(parts[1:], start=2):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            obj = importlib.import_module(".".join(parts[:k]))
    return obj


def test_readme_names_resolve():
    import re

    names = sorted(set(re.findall(r"`(ncs(?:\.[A-Za-z_]\w*)+)", _readme())))
    assert "ncs.compare" in names
    unresolved = []
    for name in names:
        try:
            _resolve(name)
        except (AttributeError, ModuleNotFoundError):
            unresolved.append(name)
    assert not unresolved


def test_readme_python_blocks_run(monkeypatch, capsys):
    import re

    from conftest import ROOT

    monkeypatch.chdir(ROOT)
    blocks = re.findall(r"```python\n(.*?)```", _readme(), flags=re.S)
    assert blocks
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})  # the README's own code
    assert "MMN01" in capsys.readouterr().out


@pytest.mark.parametrize("option", ["reasons", "reference_fallback"])
@pytest.mark.parametrize("value", ["no", "False", 0, None])
def test_analyze_switches_are_true_or_false(option, value):
    # "no" is true in Python: reference_fallback="no" switched the fallback on
    with pytest.raises(ValidationError, match=f"{option} must be True or False"):
        ncs.analyze(two_sites(), **{option: value})
