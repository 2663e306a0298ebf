"""Slips in options (keyword arguments and command-line flags) are refused with a
``ValidationError`` (or ``UnknownCriteriaError``) naming the option, never judged as data and
never an internal error."""

from __future__ import annotations

import pytest

import ncs
from conftest import FIXTURES, two_sites
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
