"""The validate and report subcommands, --reference, --wide and output formats."""

from __future__ import annotations

import inspect
import json
import re

import pandas as pd
import pytest

from conftest import FIXTURES, two_sites
from ncs.analyze import analyze
from ncs.cli import main
from ncs.io import to_wide


def test_validate_ok(capsys):
    # mmn_forearm_block.csv: 11 rows, 4 nerves (median, ulnar, peroneal, tibial), 1 patient
    assert main(["validate", str(FIXTURES / "mmn_forearm_block.csv")]) == 0
    assert capsys.readouterr().out.strip() == "valid: 11 rows, 4 nerves, 1 patients"


def test_validate_lists_every_problem_exit_2(tmp_path, capsys):
    bad = two_sites(latency=(7.0, 3.0), amp=(-1.0, 5.0))
    bad.loc[1, "side"] = "middle"
    path = tmp_path / "bad.csv"
    bad.to_csv(path, index=False)
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "line 2, column 'amplitude_mv': negative value" in err
    assert "line 3, column 'side'" in err


@pytest.mark.parametrize("suffix", [".xlsx", ".parquet", ".json"])
def test_reads_every_format(tmp_path, suffix, capsys):
    sites = pd.read_csv(FIXTURES / "normal.csv", dtype={"patient_id": "string"})
    path = tmp_path / f"study{suffix}"
    if suffix == ".xlsx":
        pytest.importorskip("openpyxl")
        sites.to_excel(path, index=False)
    elif suffix == ".parquet":
        pytest.importorskip("pyarrow")
        sites.to_parquet(path, index=False)
    else:
        sites.to_json(path, orient="records")
    assert main(["validate", str(path)]) == 0
    assert "valid: 10 rows, 4 nerves, 1 patients" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("suffix", "reader"),
    [(".csv", pd.read_csv), (".parquet", pd.read_parquet), (".json", None)],
)
def test_output_format_follows_extension(tmp_path, suffix, reader):
    if suffix == ".parquet":
        pytest.importorskip("pyarrow")
    out = tmp_path / f"out{suffix}"
    assert (
        main(["analyze", str(FIXTURES / "normal.csv"), "--table", "patients", "-o", str(out)]) == 0
    )
    if reader is None:
        verdicts = {p["scheme"]: p["verdict"] for p in json.loads(out.read_text())["patients"]}
    else:
        table = reader(out)
        verdicts = dict(zip(table["scheme"], table["verdict"], strict=True))
    assert verdicts == {"katz2002": "not_demyelinating", "bouche1995": "no_conduction_block"}


def test_parquet_to_stdout_is_refused(capsys):
    assert main(["analyze", str(FIXTURES / "normal.csv"), "-f", "parquet"]) == 2


def test_report_writes_one_html_file(tmp_path):
    out = tmp_path / "report.html"
    code = main(["report", str(FIXTURES / "cidp_dispersion.csv"), "-o", str(out), "--no-plots"])
    assert code == 0
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    text = re.sub(r"<[^>]+>", "", page)  # what a reader sees: clinical words, not raw values
    assert "● demyelinating" in text and "○ no conduction block" in text


def test_report_from_saved_json(tmp_path):
    saved = tmp_path / "result.json"
    assert main(["analyze", str(FIXTURES / "mmn_forearm_block.csv"), "-o", str(saved)]) == 0
    out = tmp_path / "report.html"
    assert main(["report", str(saved), "-o", str(out), "--no-plots", "--title", "<MMN>"]) == 0
    page = out.read_text(encoding="utf-8")
    assert "<title>&lt;MMN&gt;</title>" in page
    assert "● conduction block" in re.sub(r"<[^>]+>", "", page)


def test_report_invalid_input_writes_nothing(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    two_sites(amp=(-1.0, 5.0)).to_csv(bad, index=False)
    out = tmp_path / "report.html"
    assert main(["report", str(bad), "-o", str(out)]) == 2
    assert not out.exists()


def test_reference_option(tmp_path, capsys):
    ref = tmp_path / "ref.csv"
    pd.DataFrame({"nerve": ["median"], "amp_lln_mv": [4.0]}).to_csv(ref, index=False)
    code = main(["analyze", str(FIXTURES / "normal.csv"), "--reference", str(ref)])
    if "reference" in inspect.signature(analyze).parameters:
        assert code == 0
    else:
        assert code == 2
        assert "reference values are not supported yet" in capsys.readouterr().err


def test_a_reference_table_problem_names_the_reference_file(tmp_path, capsys):
    # a lab table's slip is placed in that file (its line), not in the sites file's lines
    ref = tmp_path / "lab limits.csv"
    ref.write_text("nerve;dml_uln_ms;amp_lln_mv\nmedian;4,4;4,1\nulnar;0;7,9\n", "utf-8")
    sites = FIXTURES / "mmn_forearm_block.csv"
    code = main(["analyze", str(sites), "-c", "efns2010_cidp", "--reference", str(ref)])
    err = capsys.readouterr().err
    assert code == 2
    assert "reference table lab limits.csv, line 3, column 'dml_uln_ms'" in err
    assert "a reference limit must be above 0" in err
    assert "mmn_forearm_block.csv" not in err
    # the same table with a sane limit is read (European dialect detected) and used
    ref.write_text("nerve;dml_uln_ms;amp_lln_mv\nmedian;4,4;4,1\nulnar;3,3;7,9\n", "utf-8")
    code = main(["analyze", str(sites), "-c", "efns2010_cidp", "--reference", str(ref)])
    assert code == 0, capsys.readouterr().err


def test_a_long_lab_reference_table_keeps_its_blank_muscle_rows(tmp_path, capsys):
    # a cp1252 long table with ';' and decimal commas: the ulnar limits have no muscle (any
    # muscle); they are used, and a second, different ulnar limit names its line
    ref = tmp_path / "limits.csv"
    lines = [
        "nerve;muscle;parameter;value;source",
        "median;APB;cv_lln_m_s;49,0;Labor M\u00fcnchen",
        "ulnar;;cv_lln_m_s;52,0;Labor M\u00fcnchen",
    ]
    ref.write_bytes("\n".join(lines).encode("cp1252") + b"\n")
    sites = FIXTURES / "mmn_forearm_block.csv"
    out = tmp_path / "nerves.csv"
    args = ["analyze", str(sites), "-c", "efns2010_cidp", "--reference", str(ref)]
    assert main([*args, "--table", "nerves", "-o", str(out)]) == 0, capsys.readouterr().err
    nerves = pd.read_csv(out)
    assert nerves.loc[nerves["nerve"] == "ulnar", "cv_lln_m_s"].tolist() == [52.0]
    ref.write_bytes("\n".join([*lines, "Ulnar;;cv_lln_m_s;50;Labor"]).encode("cp1252") + b"\n")
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "reference table limits.csv, line 4, column 'value'" in err
    assert "(50 here, 52 in line 3)" in err


def test_wide_input(tmp_path, capsys):
    wide = to_wide(pd.read_csv(FIXTURES / "mmn_forearm_block.csv"))
    path = tmp_path / "wide.csv"
    wide.to_csv(path, index=False)
    assert main(["validate", str(path), "--wide"]) == 0
    assert "valid: 11 rows, 4 nerves, 1 patients" in capsys.readouterr().out
    assert main(["analyze", str(path), "--wide", "-f", "csv", "--table", "patients"]) == 0
    assert "conduction_block" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["analyze", "validate", "report", "demo", "criteria"])
def test_help_of_every_command(command, capsys):
    assert main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert "usage: ncs " + command in out
    if command in ("validate", "report"):
        assert "examples:" in out


def test_the_help_states_the_librarys_own_defaults():
    # the command line writes its defaults in its help and its options (the library is not
    # imported to build them, for start-up time): they must be the library's
    import inspect as _inspect

    from ncs.cli import _parser
    from ncs.compare import DEFAULT_VARIABILITY
    from ncs.followup import followup

    parser = _parser()
    args = parser.parse_args(["followup", "x.csv"])
    assert args.confidence == _inspect.signature(followup).parameters["confidence"].default
    helps = {
        name: sub.format_help()
        for name, sub in parser._subparsers._group_actions[0].choices.items()
        if name in ("followup", "compare")
    }
    for text in helps.values():
        text = " ".join(text.split())
        for column, cv in DEFAULT_VARIABILITY.cv.items():
            assert f"{column.split('_')[0]} {cv:g}" in text
        assert "Kong et al. 2009" in text
        assert str(DEFAULT_VARIABILITY.citation.text).startswith("Kong")
    default = _inspect.signature(followup).parameters["confidence"].default
    assert f"(default: {default:g})" in " ".join(helps["followup"].split())


def test_a_reference_problem_keeps_the_labs_own_words(tmp_path, capsys):
    # a nerve name that reads "row 99" is the lab's text, not a row to place
    ref = tmp_path / "limits.csv"
    ref.write_text("nerve,cv_lln_m_s\nrow 99,49\n", "utf-8")
    sites = FIXTURES / "mmn_forearm_block.csv"
    assert main(["analyze", str(sites), "-c", "efns2010_cidp", "--reference", str(ref)]) == 2
    err = capsys.readouterr().err
    assert "unknown nerve name 'row 99'" in err
    assert "limits.csv, line 2, column 'nerve'" in err


@pytest.mark.parametrize(
    "options",
    [
        ["--pseudonymize-key-file", "KEY"],
        ["--patients", "MMN01"],
        ["-c", "katz2002"],
        ["--units", "amplitude=uV"],
        ["--sep", ";"],
    ],
)
def test_a_saved_result_refuses_the_options_of_a_sites_file(tmp_path, capsys, options):
    # a report of result.json used to ignore them silently: real patient ids on a page asked
    # for with pseudonyms, every patient on a page asked for one
    key = tmp_path / "key.txt"
    key.write_bytes(b"k" * 32)
    options = [str(key) if o == "KEY" else o for o in options]
    result = tmp_path / "result.json"
    assert main(["analyze", str(FIXTURES / "mmn_forearm_block.csv"), "-o", str(result)]) == 0
    capsys.readouterr()
    page = tmp_path / "page.html"
    assert main(["report", str(result), *options, "-o", str(page)]) == 2
    err = capsys.readouterr().err
    assert options[0] in err and "saved result" in err
    assert not page.exists()
    assert main(["report", str(result), "-o", str(page)]) == 0  # without them: as analysed
