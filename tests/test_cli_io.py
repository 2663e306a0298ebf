"""Command-line conventions: shared input options, stdin, output formats, exit codes."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pandas as pd
import pytest

import ncs
import ncs.simulate
from conftest import FIXTURES, two_sites
from ncs.cli import main, render_table, render_verdicts

EXPORTS = FIXTURES / "exports"
NORMAL = FIXTURES / "normal.csv"


def _run(argv, capsys):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# --------------------------------------------------------------------------------------
# exit codes
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["analyze", "validate", "report", "compare", "convert"])
@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "the file is empty"), (b"patient_id,nerve,side,site\n", "no data rows")],
)
def test_empty_and_header_only_inputs_exit_2(tmp_path, capsys, command, content, message):
    path = tmp_path / "study.csv"
    path.write_bytes(content)
    out = tmp_path / ("out.html" if command == "report" else "out.csv")
    code, _, err = _run([command, path] + ([] if command == "validate" else ["-o", out]), capsys)
    assert code == 2 and message in err
    assert "Error" not in err and not out.exists()


def test_unknown_output_extension_exit_2(tmp_path, capsys):
    code, _, err = _run(["analyze", NORMAL, "-o", tmp_path / "out.foo"], capsys)
    assert code == 2 and "cannot tell the output format from '.foo'" in err
    assert not (tmp_path / "out.foo").exists()


def test_format_that_contradicts_the_extension_exit_2(tmp_path, capsys):
    code, _, err = _run(["analyze", NORMAL, "-f", "csv", "-o", tmp_path / "out.xlsx"], capsys)
    assert code == 2 and "does not match the extension '.xlsx'" in err


@pytest.mark.parametrize("command", ["analyze", "report", "compare", "convert"])
def test_missing_output_directory_exit_2_with_a_plain_message(tmp_path, capsys, command):
    target = tmp_path / "missing_dir" / "out.csv"
    if command == "report":
        target = target.with_suffix(".html")
    code, _, err = _run([command, NORMAL, "-o", target], capsys)
    assert code == 2
    assert "the output directory" in err and "does not exist" in err
    assert "internal" not in err


def test_unsure_separator_exit_2_naming_the_option(tmp_path, capsys):
    path = tmp_path / "odd.csv"
    path.write_bytes(b"a;b,c\n1;2,3\n")
    code, _, err = _run(["validate", path], capsys)
    assert code == 2 and "--sep" in err


def test_parquet_and_xlsx_to_stdout_exit_2(capsys):
    for fmt in ("parquet", "xlsx"):
        code, _, err = _run(["analyze", NORMAL, "-f", fmt], capsys)
        assert code == 2 and "needs --output" in err


def test_report_refuses_a_cohort_above_the_limit_with_advice(tmp_path, capsys):
    cohort = ncs.simulate.cohort(5, seed=1)
    path = tmp_path / "cohort.csv"
    cohort.to_csv(path, index=False)
    out = tmp_path / "r.html"
    code, _, err = _run(["report", path, "--max-patients", "3", "-o", out], capsys)
    assert code == 2 and "--patients" in err and not out.exists()
    ids = ",".join(sorted(cohort["patient_id"].unique())[:2])
    code, _, err = _run(
        ["report", path, "--max-patients", "3", "--patients", ids, "-o", out], capsys
    )
    assert code == 0, err
    page = out.read_text()
    assert page.count('<section class="patient"') == 2


def test_unknown_patient_in_patients_exit_2(capsys):
    code, _, err = _run(["analyze", NORMAL, "--patients", "NORM01,NOBODY"], capsys)
    assert code == 2 and "1 of the 2 patient(s) given are not in the file" in err
    assert "NOBODY" not in err


# --------------------------------------------------------------------------------------
# conventions
# --------------------------------------------------------------------------------------


def test_criteria_comma_separated_and_repeated(capsys):
    a = _run(
        ["analyze", NORMAL, "-c", "katz2002,bouche1995", "-f", "csv", "--table", "patients"], capsys
    )
    b = _run(
        [
            "analyze",
            NORMAL,
            "-c",
            "katz2002",
            "-c",
            "bouche1995",
            "-f",
            "csv",
            "--table",
            "patients",
        ],
        capsys,
    )
    assert a[0] == b[0] == 0 and a[1] == b[1]
    assert set(pd.read_csv(io.StringIO(a[1]))["scheme"]) == {"katz2002", "bouche1995"}


def test_stdin_is_read_and_sniffed():
    for content in (NORMAL.read_bytes(), (EXPORTS / "european.csv").read_bytes()):
        done = subprocess.run(
            [sys.executable, "-m", "ncs", "analyze", "-", "-f", "csv", "--table", "patients"],
            input=content,
            capture_output=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr.decode()
        assert "scheme" in done.stdout.decode()


def test_stdin_spreadsheet_needs_no_extension():
    pytest.importorskip("openpyxl")
    done = subprocess.run(
        [sys.executable, "-m", "ncs", "validate", "-", "-v"],
        input=(EXPORTS / "title_row.xlsx").read_bytes(),
        capture_output=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    assert "valid: 11 rows" in done.stdout.decode()
    assert "header in row 4 (detected)" in done.stderr.decode()


@pytest.mark.parametrize(
    ("suffix", "check"),
    [
        (".csv", lambda p: "scheme" in pd.read_csv(p).columns),
        (".tsv", lambda p: "scheme" in pd.read_csv(p, sep="\t").columns),
        (".json", lambda p: "patients" in json.loads(p.read_text())),
        (".html", lambda p: p.read_text().startswith("<!DOCTYPE html>")),
        (".txt", lambda p: "== patient NORM01" in p.read_text()),
    ],
)
def test_output_format_follows_every_extension(tmp_path, suffix, check):
    out = tmp_path / f"out{suffix}"
    assert main(["analyze", str(NORMAL), "--table", "patients", "-o", str(out)]) == 0
    assert check(out)


def test_xlsx_output_is_a_real_workbook_with_every_table(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    out = tmp_path / "all.xlsx"
    assert main(["analyze", str(NORMAL), "--table", "patients", "-o", str(out)]) == 0
    book = openpyxl.load_workbook(out)
    assert book.sheetnames[:5] == ["patients", "nerves", "segments", "findings", "sites"]
    table = pd.read_excel(out, sheet_name="patients")
    assert set(table["verdict"]) == {"not_demyelinating", "no_conduction_block"}


def test_table_sites_and_parquet(tmp_path):
    pytest.importorskip("pyarrow")
    out = tmp_path / "sites.parquet"
    assert main(["analyze", str(NORMAL), "--table", "sites", "-o", str(out)]) == 0
    assert len(pd.read_parquet(out)) == 10


@pytest.mark.parametrize(
    "command", ["analyze", "validate", "report", "compare", "batch", "convert"]
)
def test_every_subcommand_reads_a_wide_sheet(tmp_path, capsys, command):
    pytest.importorskip("openpyxl")
    path = EXPORTS / "lab_headers.xlsx"
    argv = [command, path, "--wide", "--sheet", "MNCS", "--header-row", "1"]
    if command == "batch":
        argv += ["-d", tmp_path / "out", "--format", "csv"]
    elif command == "report":
        argv += ["--no-plots", "-o", tmp_path / "r.html"]
    elif command == "compare":
        argv += ["-c", "katz2002,bouche1995"]
    code, out, err = _run(argv, capsys)
    assert code == 0, err
    if command == "batch":
        assert json.loads(out)["n_input_rows"] == 20


def test_batch_reads_a_european_csv(tmp_path, capsys):
    code, out, err = _run(["batch", EXPORTS / "european.csv", "-d", tmp_path, "-f", "csv"], capsys)
    assert code == 0, err
    counts = json.loads(out)
    assert counts["n_input_rows"] == 11 and counts["rejected"] == 0
    patients = pd.read_csv(tmp_path / "patients.csv")
    want = ncs.analyze(ncs.read_sites(FIXTURES / "missing_measures.csv")).patients
    assert sorted(patients["verdict"]) == sorted(want["verdict"].astype(str))


def test_verbose_says_what_was_detected_and_provenance_records_it(capsys):
    code, out, err = _run(["analyze", EXPORTS / "cp1252_names.csv", "-v", "-f", "json"], capsys)
    assert code == 0
    assert "separator ';' (detected)" in err and "encoding cp1252 (detected)" in err
    source = json.loads(out)["provenance"]["input"]
    assert source["sep"] == ";" and source["decimal"] == "," and source["encoding"] == "cp1252"
    assert source["layout"] == "tidy" and "sep" in source["detected"]


def test_wide_sheet_hint_without_wide(capsys):
    code, _, err = _run(["validate", EXPORTS / "segment_distances.csv", "-v"], capsys)
    assert code == 2
    assert "pass --wide" in err


# --------------------------------------------------------------------------------------
# messages name the file's own lines and headers
# --------------------------------------------------------------------------------------


def test_csv_problems_name_the_line_of_the_file(tmp_path, capsys):
    path = tmp_path / "study.csv"
    path.write_text("Lab export\n\n" + two_sites(amp=(10.0, -5.0)).to_csv(index=False))
    code, _, err = _run(["validate", path], capsys)
    assert code == 2
    assert "header (line 3)" in err
    assert "line 5, column 'amplitude_mv': negative value" in err


def test_wide_problems_name_the_sheet_row_and_header(tmp_path, capsys):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = "MNCS"
    ws.append(["Ulnar studies"])
    ws.append([])
    ws.append(
        [
            "Patient",
            "R Ulnar ADM Wrist Lat (msec)",
            "R Ulnar ADM Bel Elb Lat (msec)",
            "R Ulnar ADM Wrist Amp (mV)",
            "R Ulnar ADM Bel Elb Amp (mV)",
        ]
    )
    ws.append(["P1", 3.0, 7.0, 10.0, 8.0])
    ws.append(["P2", 3.0, 2.5, 10.0, 8.0])  # proximal latency shorter: a tidy-table problem
    ws.append(["P3", 3.0, "x", 10.0, 8.0])  # not a number: a cell of the sheet
    path = tmp_path / "wide.xlsx"
    book.save(path)
    code, _, err = _run(["validate", path, "--wide"], capsys)
    assert code == 2
    assert "row 6, column 'R Ulnar ADM Bel Elb Lat (msec)' (cell C6): not a number" in err
    ws.delete_rows(6)
    book.save(path)
    code, _, err = _run(["validate", path, "--wide"], capsys)
    assert code == 2
    assert "row 5, column 'R Ulnar ADM Bel Elb Lat (msec)' (cell C5): proximal latency" in err
    assert "(row 5" in err  # the distal site's row named in the sheet's numbers too
    assert "row 1," not in err and "row 2," not in err  # never the converted table's rows


def test_mapping_file_csv_and_yaml(tmp_path, capsys):
    wide = pd.DataFrame(
        {
            "Pt Code": ["P1"],
            "RUW lat": [3.0],
            "RUW amp": [10.0],
            "RUBE lat": [7.0],
            "RUBE amp": [5.0],
            "Comment": ["ok"],
        }
    )
    path = tmp_path / "odd.csv"
    wide.to_csv(path, index=False)
    mapping = tmp_path / "map.csv"
    mapping.write_text(
        "header,column,side,nerve,site\n"
        "Pt Code,patient_id,,,\n"
        "RUW lat,latency_ms,R,ulnar,wrist\n"
        "RUW amp,amplitude_mv,R,ulnar,wrist\n"
        "RUBE lat,latency_ms,R,ulnar,below elbow\n"
        "RUBE amp,amplitude_mv,R,ulnar,below elbow\n"
        "Comment,ignore,,,\n"
    )
    code, out, err = _run(["validate", path, "--wide", "--mapping", mapping], capsys)
    assert code == 0, err
    assert "valid: 2 rows, 1 nerves, 1 patients" in out
    pytest.importorskip("yaml")
    yaml_map = tmp_path / "map.yaml"
    yaml_map.write_text(
        "Pt Code: patient_id\n"
        "RUW lat: {column: latency_ms, side: R, nerve: ulnar, site: wrist}\n"
        "RUW amp: {column: amplitude_mv, side: R, nerve: ulnar, site: wrist, unit: mV}\n"
        "RUBE lat: {column: latency_ms, side: R, nerve: ulnar, site: below elbow}\n"
        "RUBE amp: {column: amplitude_mv, side: R, nerve: ulnar, site: below elbow}\n"
        "Comment: null\n"
    )
    code, out, err = _run(["validate", path, "--wide", "--mapping", yaml_map], capsys)
    assert code == 0, err


def test_mapping_renames_columns_of_a_tidy_file(tmp_path, capsys):
    frame = pd.read_csv(NORMAL).rename(columns={"amplitude_mv": "Amp (mV)", "latency_ms": "Lat"})
    path = tmp_path / "study.csv"
    frame.to_csv(path, index=False)
    mapping = tmp_path / "map.csv"
    mapping.write_text("header,column\nAmp (mV),amplitude_mv\nLat,latency_ms\n")
    code, _out, err = _run(["validate", path, "--mapping", mapping], capsys)
    assert code == 0, err


# --------------------------------------------------------------------------------------
# text output
# --------------------------------------------------------------------------------------


def _reference_text(result) -> str:
    """The text table written out row by row (an independent, slow rendering)."""
    lines = []
    f, p = result.findings, result.patients
    ids = sorted({str(x) for x in f["patient_id"]} | {str(x) for x in p["patient_id"]})
    for pid in ids:
        lines.append(f"== patient {pid}")
        rows = f[f["patient_id"].astype(str) == pid]
        keys = sorted({(str(n), str(s)) for n, s in zip(rows["nerve"], rows["side"], strict=True)})
        for nerve, side in keys:
            lines.append(f"  {nerve} {side}")
            sel = rows[(rows["nerve"].astype(str) == nerve) & (rows["side"].astype(str) == side)]
            for r in sel.itertuples(index=False):
                seg = f"{r.distal_site} -> {r.proximal_site}"
                if r.comparison == "distal":
                    seg += " (vs most distal)"
                lines.append(f"    {seg:<38} {r.criterion:<11} block={r.block:<14} {r.reason}")
        verdicts = p[p["patient_id"].astype(str) == pid]
        if len(verdicts):
            lines.append("  verdicts:")
        for r in verdicts.itertuples(index=False):
            lines.append(f"    {r.scheme:<11} {r.verdict}: {r.evidence}")
    single = result.nerves[result.nerves["n_segments"] == 0]
    for r in single.drop_duplicates(["patient_id", "nerve", "side"]).itertuples(index=False):
        lines.append(
            f"note: {r.patient_id} {r.nerve} {r.side} has one site only: no segment to judge"
        )
    return "\n".join(lines) + "\n"


def test_render_table_matches_a_row_by_row_rendering():
    sites = ncs.simulate.cohort(12, seed=3, both_sides=True)
    single = pd.DataFrame([{**sites.iloc[0].to_dict(), "patient_id": "ZZ-single", "site": "wrist"}])
    result = ncs.analyze(pd.concat([sites, single], ignore_index=True))
    assert render_table(result) == _reference_text(result)
    assert "== patient ZZ-single" in render_table(result)  # no segment, still listed


def test_large_text_output_shows_the_verdict_table(monkeypatch, capsys):
    import ncs.cli as cli

    monkeypatch.setattr(cli, "TEXT_MAX_FINDINGS", 2)
    code, out, _ = _run(["analyze", FIXTURES / "guideline_examples.csv"], capsys)
    assert code == 0
    result = ncs.analyze(ncs.read_sites(FIXTURES / "guideline_examples.csv"))
    n_patients = result.patients["patient_id"].nunique()
    assert out.splitlines()[0].split() == ["patient", "katz2002", "bouche1995"]
    assert len(out.splitlines()) == 1 + n_patients + 2  # header, patients, blank, advice
    assert f"findings of {n_patients} patients are not shown" in out and "--patients" in out
    first = sorted(result.patients["patient_id"].astype(str))[0]
    assert render_verdicts(result).splitlines()[1].split()[0] == first


def test_status_line_only_on_a_terminal(monkeypatch):
    import ncs._progress as progress

    monkeypatch.setattr(progress, "DELAY_S", 0.0)

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    term, pipe = Terminal(), io.StringIO()
    for stream in (term, pipe):
        with progress.Status("analysing", stream=stream) as status:
            status.update(3, 10)
            import time

            time.sleep(0.3)
    assert "ncs: analysing" in term.getvalue() and "3/10" in term.getvalue()
    assert pipe.getvalue() == ""


def test_warnings_name_the_line_of_the_file(tmp_path, capsys):
    path = tmp_path / "study.csv"
    path.write_text(
        "Lab export\n" + two_sites(amp=(10.0, 5000.0), area=(30.0, 30.0)).to_csv(index=False)
    )
    _, _, err = _run(["validate", path], capsys)
    warning = [line for line in err.splitlines() if line.startswith("warning:") and "µV" in line]
    assert warning and "line 4" in warning[0] and "row 1" not in warning[0]


def test_without_charset_normalizer_windows_1252_is_the_fallback(monkeypatch):
    import ncs.dialect as dialect

    monkeypatch.setattr(dialect, "_has_charset_normalizer", lambda: False)
    assert dialect.detect_encoding("Žák;Œ".encode("cp1252"), complete=True)[0] == "cp1252"
    assert dialect.detect_encoding(b"\x81\x8d;x", complete=True)[0] == "latin-1"


def test_rows_of_separators_only_are_blank_lines(tmp_path, capsys):
    # a spreadsheet's empty rows saved as ";;;;;;": skipped like blank lines, and a problem
    # below them names its own line (they used to be rows of missing values, and the lines
    # named were shifted, down to "line 0")
    path = tmp_path / "export.csv"
    path.write_text(
        "patient_id;nerve;side;site;latency_ms;amplitude_mv;distance_mm\n"
        "P1;median;R;wrist;3,6;8,2;70\n"
        ";;;;;;\n"
        "P1;median;R;elbow;7,9;2,9;230\n"
        ";;;;;;\n"
        "P2;ulnar;R;wrist;2,9;10,5;70\n"
        "P2;ulnar;R;below elbow;6,6;-1;210\n"
        ";;;;;;\n",
        "utf-8",
    )
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "line 7, column 'amplitude_mv': negative value" in err
    assert "value is missing" not in err and "line 0" not in err
    path.write_text(path.read_text("utf-8").replace(";-1;", ";10,1;"), "utf-8")
    assert main(["validate", str(path)]) == 0
    assert "valid: 4 rows, 2 nerves, 2 patients" in capsys.readouterr().out


def test_a_column_with_values_but_no_header_is_an_error(tmp_path, capsys):
    # unquoted decimal commas in a comma-separated file shift every cell after them: the
    # cells beyond the header's last column have no header, and are refused (they were read
    # as an 'Unnamed' column, and the shifted values judged)
    path = tmp_path / "shifted.csv"
    path.write_text(
        "patient_id,nerve,side,site,latency_ms,amplitude_mv,distance_mm,\n"
        "P1,median,R,wrist,3,6,8,70\n"
        "P1,median,R,elbow,7,9,3,230\n",
        "utf-8",
    )
    assert main(["analyze", str(path)]) == 2
    err = capsys.readouterr().err
    assert "column 8 has values but no header (first on line 2)" in err


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32", "utf-8"])
def test_a_wrong_encoding_option_is_a_user_error(tmp_path, capsys, encoding):
    # utf-16 raised its codec's own error (no BOM): an internal error, exit 1
    path = tmp_path / "cp1252.csv"
    path.write_bytes(
        "Messung Müller\npatient_id;nerve;side;site;latency_ms;amplitude_mv\n"
        "P1;median;R;wrist;3,6;8,2\n".encode("cp1252")
    )
    assert main(["analyze", str(path), "--encoding", encoding]) == 2
    assert f"the file is not {encoding}" in capsys.readouterr().err


def test_thousands_separators_in_a_decimal_comma_file_are_refused(tmp_path, capsys):
    # µV amplitudes written 8.200 (8200) in a ';' file with decimal commas were read as
    # 8.2: a thousands separator cannot be told from a decimal point, so it is an error
    path = tmp_path / "uv.csv"
    path.write_text(
        "patient_id;nerve;side;site;latency_ms;amplitude_uv;area_mvms;distance_mm\n"
        "P1;median;R;wrist;3,6;8.200;28,5;70\n"
        "P1;median;R;elbow;7,9;2.900;10,1;230\n",
        "utf-8",
    )
    assert main(["analyze", str(path), "--decimal", ","]) == 2
    err = capsys.readouterr().err
    assert "column 'amplitude_uv': 2 number(s) with '.' between groups of three digits" in err
    assert "(line 2, line 3)" in err
    path.write_text(path.read_text("utf-8").replace("8.200", "8200").replace("2.900", "2900"))
    assert main(["analyze", str(path), "--decimal", ","]) == 0, capsys.readouterr().err


def test_a_comma_between_groups_of_three_digits_names_both_readings():
    from ncs.cells import parse_numbers

    cells = parse_numbers(pd.Series(["8,200", "8,2", "1,250,000"], dtype=object))
    assert "thousands separator (8,200 = 8200) or a decimal comma" in cells.errors[0]
    assert "a decimal comma?" in cells.errors[1] and "thousands" not in cells.errors[1]
    assert "thousands separator" in cells.errors[2]


def test_free_text_beside_decimal_commas_is_not_read_as_thousands(tmp_path, capsys):
    # a comment column that happens to hold "1.250" among words is not a column of numbers
    path = tmp_path / "notes.csv"
    path.write_text(
        "patient_id;nerve;side;site;latency_ms;amplitude_mv;distance_mm;notes\n"
        "P1;median;R;wrist;3,6;8,2;70;device v1.250\n"
        "P1;median;R;elbow;7,9;2,9;230;1.250\n"
        "P1;ulnar;R;wrist;2,9;10,5;70;cold room\n",
        "utf-8",
    )
    assert main(["validate", str(path), "--decimal", ","]) == 0, capsys.readouterr().err


def test_a_title_padded_with_separators_is_not_the_header(tmp_path, capsys):
    # spreadsheets save a title cell as "EMG Export;;;;;;" (as wide as the table): it was
    # taken for the header, and every required column reported missing
    path = tmp_path / "export.csv"
    path.write_text(
        "EMG Export;;;;;;\n"
        "patient_id;nerve;side;site;latency_ms;amplitude_mv;distance_mm\n"
        "P1;median;R;wrist;3,6;8,2;70\n"
        "P1;median;R;elbow;7,9;2,9;230\n",
        "utf-8",
    )
    assert main(["validate", str(path), "-v"]) == 0
    captured = capsys.readouterr()
    assert "header on line 2 (detected)" in captured.err
    assert "valid: 2 rows" in captured.out


def test_the_text_output_places_a_warnings_row_in_the_file(tmp_path, capsys):
    # the warnings section of the text output said "(row 1)" (a table position) where
    # standard error said "(line 5)"
    path = tmp_path / "slip.csv"
    path.write_text(
        "EMG export\n\npatient_id,nerve,side,site,latency_ms,amplitude_mv,distance_mm\n"
        "P1,median,R,wrist,3.6,8.2,70\nP1,median,R,elbow,7.9,2900,230\n",
        "utf-8",
    )
    assert main(["analyze", str(path)]) == 0
    captured = capsys.readouterr()
    section = captured.out.split("warnings (1;", 1)[1]
    assert "(line 5)" in section and "(row 1)" not in section
    assert "(line 5)" in captured.err


def test_numbers_stored_as_text_with_decimal_commas_in_a_workbook(tmp_path, capsys):
    # the hint says --decimal ,: it now applies to text cells of a sheet too (it was CSV only,
    # so following the hint gave the same errors)
    path = _workbook(
        tmp_path / "text.xlsx",
        [
            ["patient_id", "nerve", "side", "site", "latency_ms", "amplitude_mv"],
            ["P1", "median", "R", "wrist", "3,6", "8,2"],
            ["P1", "median", "R", "elbow", "7,9", "2,9"],
        ],
    )
    assert main(["validate", str(path)]) == 2
    assert "--decimal ," in capsys.readouterr().err
    assert main(["validate", str(path), "--decimal", ","]) == 0
    out = tmp_path / "sites.csv"
    assert main(["convert", str(path), "--decimal", ",", "-o", str(out)]) == 0
    assert pd.read_csv(out)["amplitude_mv"].tolist() == [8.2, 2.9]


@pytest.mark.parametrize(
    ("header", "cell", "named"),
    [("amplitude_uv", "-2900", "amplitude_uv"), ("Amplitude_mV", "-2.9", "Amplitude_mV")],
)
def test_a_problem_names_the_files_own_header(tmp_path, capsys, header, cell, named):
    # the file says amplitude_uv (converted to amplitude_mv) or Amplitude_mV: the message
    # names the header the file has
    path = tmp_path / "sites.csv"
    path.write_text(
        f"patient_id,nerve,side,site,latency_ms,{header},distance_mm\n"
        f"P1,median,R,wrist,3.6,8200,70\nP1,median,R,elbow,7.9,{cell},230\n",
        "utf-8",
    )
    assert main(["validate", str(path)]) == 2
    assert f"line 3, column '{named}': negative value" in capsys.readouterr().err


def test_thousands_separators_in_a_workbook_read_with_decimal_commas_are_refused(tmp_path, capsys):
    # --decimal , on a sheet's text numbers: '8.200' is refused as in a CSV file, naming its
    # cell (it was read as 8.2)
    path = _workbook(
        tmp_path / "text.xlsx",
        [
            ["patient_id", "nerve", "side", "site", "latency_ms", "amplitude_mv"],
            ["P1", "median", "R", "wrist", "3,6", "8.200"],
            ["P1", "median", "R", "elbow", "7,9", "2.900"],
        ],
    )
    assert main(["validate", str(path), "--decimal", ","]) == 2
    err = capsys.readouterr().err
    assert "2 number(s) with '.' between groups of three digits" in err
    assert "row 2" in err and "row 3" in err


def test_a_true_cell_in_a_workbook_is_not_read_as_the_number_one(tmp_path, capsys):
    # a TRUE typed into a sheet's number column beside a 1 (Python: True == 1) was read as
    # an amplitude of 1 mV and judged; it is an error naming its row
    path = _workbook(
        tmp_path / "flag.xlsx",
        [
            ["patient_id", "nerve", "side", "site", "latency_ms", "amplitude_mv"],
            ["P1", "median", "R", "wrist", 3.6, 1],
            ["P1", "median", "R", "elbow", 7.9, True],
        ],
    )
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "row 3, column 'amplitude_mv' (cell F3): a true/false value, not a number" in err


def test_a_true_cell_in_a_workbook_key_is_not_the_same_patient_as_one(tmp_path):
    # patient 1 and a patient_id cell TRUE were one patient (Python: True == 1)
    path = _workbook(
        tmp_path / "flag.xlsx",
        [
            ["patient_id", "nerve", "side", "site", "latency_ms", "amplitude_mv"],
            [1, "median", "R", "wrist", 3.6, 8.2],
            [1, "median", "R", "elbow", 7.9, 7.9],
            [True, "ulnar", "R", "wrist", 3.1, 9.0],
            [True, "ulnar", "R", "below elbow", 7.0, 8.5],
        ],
    )
    out = tmp_path / "sites.csv"
    assert main(["convert", str(path), "-o", str(out)]) == 0
    assert pd.read_csv(out, dtype=str)["patient_id"].tolist() == ["1", "1", "True", "True"]


def test_a_saved_result_piped_to_report_is_reported(tmp_path):
    # `ncs analyze ... -f json | ncs report -` was refused: the result was read as a sites file
    saved = subprocess.run(
        [sys.executable, "-m", "ncs", "analyze", str(NORMAL), "-f", "json"],
        capture_output=True,
        check=True,
    ).stdout
    page = tmp_path / "page.html"
    done = subprocess.run(
        [sys.executable, "-m", "ncs", "report", "-", "--no-plots", "-o", str(page)],
        input=saved,
        capture_output=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    assert "katz2002" in page.read_text(encoding="utf-8")
    # the options of a sites file are refused as for a saved file
    done = subprocess.run(
        [sys.executable, "-m", "ncs", "report", "-", "--sep", ";", "-o", str(page)],
        input=saved,
        capture_output=True,
        check=False,
    )
    assert done.returncode == 2 and "saved result" in done.stderr.decode()
    # a sites table on standard input is still read as one
    done = subprocess.run(
        [sys.executable, "-m", "ncs", "report", "-", "--no-plots", "-f", "csv"],
        input=NORMAL.read_bytes(),
        capture_output=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()


@pytest.mark.parametrize("suffix", [".json", ".csv"])
def test_warnings_in_every_output_name_the_files_lines(tmp_path, suffix):
    # amplitudes typed in µV: stderr said "(line 2, line 3)", the JSON and CSV outputs
    # "(row 0, row 1)", positions in a table the user never sees
    path = tmp_path / "sites.csv"
    path.write_text(
        "patient_id;nerve;side;site;latency_ms;amplitude_mv;distance_mm\n"
        "P1;median;R;wrist;3,6;8200;70\nP1;median;R;elbow;7,9;7900;230\n",
        "utf-8",
    )
    out = tmp_path / f"out{suffix}"
    args = ["analyze", str(path), "-o", str(out)]
    if suffix == ".csv":
        args += ["--table", "warnings"]
    assert main(args) == 0
    if suffix == ".json":
        messages = [w["message"] for w in json.loads(out.read_text("utf-8"))["warnings"]]
    else:
        messages = pd.read_csv(out)["message"].tolist()
    amplitude = [m for m in messages if "amplitude_mv" in m]
    assert amplitude and all("(line 2, line 3)" in m for m in amplitude)
    assert not any("row 0" in m for m in messages)


def test_patients_naming_no_patient_is_an_error(capsys):
    # --patients "" (an empty shell variable) analysed every patient of the file
    assert main(["analyze", str(NORMAL), "--patients", ""]) == 2
    assert "--patients" in capsys.readouterr().err


def _workbook(path, rows: list[list]) -> object:
    """A one-sheet workbook of these rows (the first is the header), as a lab saves it."""
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    book.save(path)
    return path
