"""Files as labs export them give the same findings and verdicts as their tidy UTF-8 twins.

Every comparison runs through the command line. The exports in ``data/fixtures/exports``
are written by ``make_exports.py`` next to them (the XLSX files are committed as it wrote
them; a test here checks that they still match it). See that folder's README.
"""

from __future__ import annotations

import io

import pandas as pd
import pytest

from conftest import FIXTURES
from ncs.cli import main

EXPORTS = FIXTURES / "exports"
CRITERIA = "katz2002,bouche1995,efns2010_cidp,efns2010_mmn,hadden1998_gbs"
FINDING_KEYS = ["patient_id", "nerve", "side", "distal_site", "proximal_site", "comparison"]

# export file, its options, its tidy UTF-8 twin
CASES = [
    ("european.csv", [], FIXTURES / "missing_measures.csv"),
    ("cp1252_names.csv", [], EXPORTS / "cp1252_names.twin.csv"),
    ("title_row.xlsx", [], FIXTURES / "mmn_forearm_block.csv"),
    ("second_sheet.xlsx", [], FIXTURES / "normal.csv"),
    ("lab_headers.xlsx", ["--wide"], EXPORTS / "lab_headers.twin.csv"),
    ("segment_distances.csv", ["--wide"], EXPORTS / "segment_distances.twin.csv"),
]


def _table(path, options, table, capsys) -> pd.DataFrame:
    code = main(["analyze", str(path), *options, "-c", CRITERIA, "-f", "csv", "--table", table])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return pd.read_csv(io.StringIO(captured.out), dtype={"patient_id": str})


@pytest.mark.parametrize(("export", "options", "twin"), CASES, ids=[c[0] for c in CASES])
def test_export_gives_the_twins_verdicts_and_findings(export, options, twin, capsys):
    if export.endswith(".xlsx"):
        pytest.importorskip("openpyxl")
    got = _table(EXPORTS / export, options, "patients", capsys)
    want = _table(twin, [], "patients", capsys)
    keys = ["patient_id", "scheme", "verdict"]
    pd.testing.assert_frame_equal(
        got[keys].sort_values(keys[:2]).reset_index(drop=True),
        want[keys].sort_values(keys[:2]).reset_index(drop=True),
    )
    got = _table(EXPORTS / export, options, "findings", capsys)
    want = _table(twin, [], "findings", capsys)
    cols = [*FINDING_KEYS, "criterion", "block", "dispersion", "reason"]
    order = [*FINDING_KEYS, "criterion"]
    pd.testing.assert_frame_equal(
        got[cols].sort_values(order).reset_index(drop=True),
        want[cols].sort_values(order).reset_index(drop=True),
    )


@pytest.mark.parametrize(("export", "options", "twin"), CASES, ids=[c[0] for c in CASES])
def test_convert_gives_the_twin_as_a_tidy_table(export, options, twin, tmp_path, capsys):
    if export.endswith(".xlsx"):
        pytest.importorskip("openpyxl")
    out = tmp_path / "sites.csv"
    assert main(["convert", str(EXPORTS / export), *options, "-o", str(out)]) == 0, (
        capsys.readouterr().err
    )
    assert main(["convert", str(twin), "-o", str(tmp_path / "twin.csv")]) == 0
    got = pd.read_csv(out, dtype={"patient_id": str})
    want = pd.read_csv(tmp_path / "twin.csv", dtype={"patient_id": str})
    keys = ["patient_id", "nerve", "side", "site"]
    measures = ["response", "latency_ms", "amplitude_mv", "area_mvms", "duration_ms"]
    measures += ["distance_mm", "muscle"]
    got = got.sort_values(keys).reset_index(drop=True)
    want = want.sort_values(keys).reset_index(drop=True)
    pd.testing.assert_frame_equal(got[keys + measures], want[keys + measures])
    assert got["source_row"].min() >= 2  # a row of the file, never 0


def test_cp1252_names_are_read_as_written(tmp_path):
    out = tmp_path / "sites.csv"
    assert main(["convert", str(EXPORTS / "cp1252_names.csv"), "-o", str(out)]) == 0
    ids = set(pd.read_csv(out)["patient_id"])
    assert ids == {"Élodie Dupré", "François Œhlers-Žák"}  # Œ and Ž exist in cp1252 only


def test_european_export_reads_its_words_by_the_one_rule(tmp_path):
    out = tmp_path / "sites.csv"
    assert main(["convert", str(EXPORTS / "european.csv"), "-o", str(out)]) == 0
    sites = pd.read_csv(out)
    # '-' and 'n/a' were left empty; 'NR' in latency and amplitude made the response absent.
    # 11 rows: 2 with an area (MISS02 median), 2 absent responses (area 0), 7 left empty
    assert sites["area_mvms"].isna().sum() == 7 and sites["duration_ms"].isna().all()
    assert (sites["response"] == "absent").sum() == 2
    assert sites.loc[sites["response"] == "absent", "amplitude_mv"].eq(0).all()


def test_committed_xlsx_fixtures_match_their_script(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_exports", EXPORTS / "make_exports.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(tmp_path)
    for name in ("title_row.xlsx", "second_sheet.xlsx", "lab_headers.xlsx"):
        fresh = openpyxl.load_workbook(tmp_path / name)
        committed = openpyxl.load_workbook(EXPORTS / name)
        assert fresh.sheetnames == committed.sheetnames
        for sheet in fresh.sheetnames:
            a = list(fresh[sheet].iter_rows(values_only=True))
            b = list(committed[sheet].iter_rows(values_only=True))
            assert a == b, f"{name} sheet {sheet} differs from make_exports.py"
    for name in (
        "european.csv",
        "cp1252_names.csv",
        "cp1252_names.twin.csv",
        "lab_headers.twin.csv",
        "segment_distances.csv",
        "segment_distances.twin.csv",
    ):
        assert (tmp_path / name).read_bytes() == (EXPORTS / name).read_bytes(), name
