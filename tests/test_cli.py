"""The ncs command line."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd

from conftest import FIXTURES, two_sites
from ncs.cli import main


def test_demo_table(capsys):
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "patient MMN01" in out
    assert "bouche1995  conduction_block" in out


def test_analyze_json(capsys):
    assert main(["analyze", str(FIXTURES / "cidp_dispersion.csv"), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    verdicts = {p["scheme"]: p["verdict"] for p in data["patients"]}
    assert verdicts == {"katz2002": "demyelinating", "bouche1995": "no_conduction_block"}


def test_analyze_csv_one_criterion(tmp_path):
    out = tmp_path / "p.csv"
    code = main(
        [
            "analyze",
            str(FIXTURES / "normal.csv"),
            "-c",
            "katz2002",
            "-f",
            "csv",
            "--table",
            "patients",
            "-o",
            str(out),
        ]
    )
    assert code == 0
    table = pd.read_csv(out)
    assert list(table["scheme"]) == ["katz2002"]
    assert list(table["verdict"]) == ["not_demyelinating"]


def test_invalid_input_exit_2_lists_every_problem(tmp_path, capsys):
    bad = two_sites(latency=(7.0, 3.0), amp=(-1.0, 5.0))
    path = tmp_path / "bad.csv"
    bad.to_csv(path, index=False)
    assert main(["analyze", str(path)]) == 2
    err = capsys.readouterr().err
    assert "line 2, column 'amplitude_mv'" in err
    assert "line 3, column 'latency_ms'" in err


def test_missing_file_and_unknown_criterion_exit_2(capsys):
    assert main(["analyze", "/nonexistent/file.csv"]) == 2
    assert main(["analyze", str(FIXTURES / "normal.csv"), "-c", "nope"]) == 2


def test_usage_error_exit_2():
    assert main(["frobnicate"]) == 2


def test_units_option(tmp_path, capsys):
    sites = pd.read_csv(FIXTURES / "mmn_forearm_block.csv")
    sites["amplitude_mv"] *= 1000
    sites["area_mvms"] *= 1000
    path = tmp_path / "uv.csv"
    sites.to_csv(path, index=False)
    assert (
        main(["analyze", str(path), "--units", "amplitude=uV", "-f", "csv", "--table", "patients"])
        == 0
    )
    out = capsys.readouterr()
    assert "conduction_block" in out.out
    assert "warning" not in out.err


def test_criteria_listing(capsys):
    assert main(["criteria", "--format", "json"]) == 0
    ids = [c["id"] for c in json.loads(capsys.readouterr().out)]
    assert "katz2002" in ids and "bouche1995" in ids


def test_console_script_runs():
    proc = subprocess.run([sys.executable, "-m", "ncs", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0
    assert "examples:" in proc.stdout
