"""Slips found in labs' files: each is read as written, or refused naming its place."""

from __future__ import annotations

import re
import zipfile

import pandas as pd
import pytest

import ncs
from conftest import FIXTURES
from ncs.cli import main

MMN = FIXTURES / "mmn_forearm_block.csv"


def _run(argv, capsys):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# --------------------------------------------------------------------------------------
# XLSX: a <dimension> element that understates the used range
# --------------------------------------------------------------------------------------


def _redimension(plain, path, ref: str):
    """A copy of the workbook ``plain`` whose sheet declares ``<dimension ref=...>``."""
    with zipfile.ZipFile(plain) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                tag = f'<dimension ref="{ref}"/>'.encode()
                data, n = re.subn(rb'<dimension ref="[^"]*"\s*/>', tag, data)
                assert n == 1
            out.writestr(info, data)
    return path


def _workbook_with_dimension(tmp_path, ref: str):
    """The MMN fixture (11 site rows, 14 columns: A1:N12) as XLSX, its sheet's
    ``<dimension ref>`` rewritten to ``ref`` (as some streaming writers get it wrong)."""
    pytest.importorskip("openpyxl")
    frame = pd.read_csv(MMN, dtype={"patient_id": str})
    plain = tmp_path / "plain.xlsx"
    frame.to_excel(plain, index=False, sheet_name="Motor")
    path = _redimension(plain, tmp_path / f"dimension_{ref.replace(':', '_')}.xlsx", ref)
    return path, frame


@pytest.mark.parametrize("ref", ["A1:N4", "A1:H12", "A1:B2"])
def test_an_understated_sheet_dimension_loses_no_row_or_column(tmp_path, capsys, ref):
    path, frame = _workbook_with_dimension(tmp_path, ref)
    sites = ncs.read_sites(path)
    assert sites.shape == (11, 14)  # every row of A2:N12, every column of A:N
    assert list(sites.columns) == list(frame.columns)
    assert sites["temperature_c"].tolist() == frame["temperature_c"].tolist()  # column N
    assert sites.attrs["ncs_source"].lines([10]).tolist() == [12]  # the last sheet row
    code, _, err = _run(["analyze", path, "-v"], capsys)
    assert code == 0 and "11 site row(s), 1 patient(s)" in err


def test_a_formula_beyond_an_understated_dimension_is_still_named(tmp_path):
    # the amplitude of the last site a formula: openpyxl stores no value for it
    _mmn_workbook(tmp_path / "plain.xlsx", {"G12": ("=G11*0.96", "General")})
    path = _redimension(tmp_path / "plain.xlsx", tmp_path / "formula.xlsx", "A1:N4")
    with pytest.raises(ncs.ValidationError) as err:
        ncs.read_sites(path)
    (problem,) = err.value.problems
    assert problem.column == "amplitude_mv" and "cell G12 of sheet 'Motor'" in problem.message


# --------------------------------------------------------------------------------------
# Two columns with the same header, or two headers read as the same column
# --------------------------------------------------------------------------------------


def _with_extra_column(header: str, value: str = "1.0", source=MMN) -> list[list[str]]:
    """The lines of a CSV fixture as cells, with one more column at the end."""
    import csv

    with open(source, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    return [[*row, header if k == 0 else value] for k, row in enumerate(rows)]


def _write_csv(path, rows, sep=","):
    import csv

    with open(path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, delimiter=sep, lineterminator="\n").writerows(rows)
    return path


@pytest.mark.parametrize(
    ("header", "message"),
    [
        # the fixture's amplitude_mv is its 7th column; the copy is the 15th
        ("amplitude_mv", "two columns have this header (columns 7 and 15 of the header on line 1)"),
        (
            "Amplitude_mV",
            "columns 7 ('amplitude_mv') and 15 ('Amplitude_mV') of the header on line 1 are "
            "both read as 'amplitude_mv'",
        ),
    ],
)
def test_csv_columns_with_the_same_header_are_an_error_naming_both(
    tmp_path, capsys, header, message
):
    path = _write_csv(tmp_path / "dup.csv", _with_extra_column(header))
    code, out, err = _run(["validate", path], capsys)
    assert code == 2 and "valid:" not in out
    assert message in err and f"column {header!r}" in err
    assert "amplitude_mv.1" not in err


def test_xlsx_headers_read_as_the_same_column_are_an_error_naming_both(tmp_path, capsys):
    pytest.importorskip("openpyxl")
    rows = _with_extra_column("Amplitude_mV")
    frame = pd.DataFrame(rows[1:], columns=rows[0])
    path = tmp_path / "dup.xlsx"
    frame.to_excel(path, index=False, sheet_name="Motor")
    code, _, err = _run(["validate", path], capsys)
    assert code == 2
    assert (
        "columns G ('amplitude_mv') and O ('Amplitude_mV') of sheet 'Motor' are both read as "
        "'amplitude_mv'" in err
    )


def test_a_wide_csv_with_a_header_twice_names_the_header(tmp_path, capsys):
    source = FIXTURES / "exports" / "segment_distances.csv"
    header = "R Median APB Wrist Amp (mV)"  # the 4th column of the export
    rows = _with_extra_column(header, "8.2", source=source)
    path = _write_csv(tmp_path / "wide.csv", rows)
    code, _, err = _run(["validate", path, "--wide"], capsys)
    assert code == 2
    assert f"column {header!r}: two columns have this header (columns 4 and {len(rows[0])}" in err
    assert ".1'" not in err


# --------------------------------------------------------------------------------------
# CSV: a line with fewer cells than the header (a cell left out, its separator missing)
# --------------------------------------------------------------------------------------

HEADER = "patient_id,nerve,side,site,latency_ms,amplitude_mv,area_mvms,duration_ms,distance_mm"
WRIST = "{p},ulnar,R,wrist,2.9,10.5,31.0,5.9,70"
BELOW_ELBOW = "{p},ulnar,R,below elbow,6.6,10.1,30.2,6.1,210"
#: Q0's below-elbow line without its amplitude: 8 cells, the header names 9.
AMPLITUDE_LEFT_OUT = "Q0,ulnar,R,below elbow,6.6,30.2,6.1,210"


def _patients_csv(
    path, n=20, sep=",", decimal=".", replace=None, header=HEADER, end="", extra=""
) -> object:
    """``n`` patients Q0.. with an ulnar nerve at wrist (line 2 + 2i) and below elbow
    (line 3 + 2i); ``replace`` maps a line number to the line written instead; ``extra``
    is added to every data line, ``end`` to every line (a trailing separator)."""
    lines = [header]
    for i in range(n):
        lines += [WRIST.format(p=f"Q{i}") + extra, BELOW_ELBOW.format(p=f"Q{i}") + extra]
    for number, line in (replace or {}).items():
        lines[number - 1] = line
    text = "".join(
        line.replace(",", "\x00").replace(".", decimal).replace("\x00", sep) + end + "\n"
        for line in lines
    )
    path.write_text(text, encoding="utf-8")
    return path


DIALECTS = [(",", "."), (";", ","), (";", ".")]


@pytest.mark.parametrize(("sep", "decimal"), DIALECTS)
@pytest.mark.parametrize("command", ["validate", "analyze"])
def test_a_line_with_a_cell_left_out_is_an_error_naming_it(tmp_path, capsys, sep, decimal, command):
    path = _patients_csv(
        tmp_path / "study.csv", sep=sep, decimal=decimal, replace={3: AMPLITUDE_LEFT_OUT}
    )
    code, out, err = _run([command, path], capsys)
    assert code == 2 and "valid:" not in out and "block" not in out
    assert "line 3 has 8 cells but the header (line 1) names 9 columns" in err


@pytest.mark.parametrize(("sep", "decimal"), DIALECTS)
@pytest.mark.parametrize("given", [False, True])
def test_a_short_line_in_a_tiny_file_is_named_not_a_separator_puzzle(
    tmp_path, capsys, sep, decimal, given
):
    # header, a full line, a short line: detection used to give up on the separator
    path = _patients_csv(
        tmp_path / "tiny.csv", n=1, sep=sep, decimal=decimal, replace={3: AMPLITUDE_LEFT_OUT}
    )
    code, _, err = _run(["validate", path, *(["--sep", sep] if given else [])], capsys)
    assert code == 2
    assert "line 3 has 8 cells but the header (line 1) names 9 columns" in err
    assert "separated" not in err and "--header-row" not in err


def test_short_lines_beyond_the_detection_sample_are_named(tmp_path, capsys):
    # patient Q1500's below-elbow line is line 3 + 2 * 1500 = 3003, past the first 64 KiB;
    # line 3005 lacks two cells (area and duration)
    short_by_two = "Q1501,ulnar,R,below elbow,6.6,10.1,210"
    path = _patients_csv(
        tmp_path / "big.csv",
        n=2000,
        replace={3003: AMPLITUDE_LEFT_OUT.replace("Q0", "Q1500"), 3005: short_by_two},
    )
    assert path.stat().st_size > 64 * 1024
    code, _, err = _run(["validate", path], capsys)
    assert code == 2
    assert "line 3003 has 8 cells but the header (line 1) names 9 columns" in err
    assert "line 3005 has 7 cells but the header (line 1) names 9 columns" in err


@pytest.mark.parametrize(("sep", "decimal"), DIALECTS)
def test_a_line_short_by_its_trailing_separator_is_named(tmp_path, capsys, sep, decimal):
    # every line ends with the separator; line 3 still lacks its amplitude cell
    path = _patients_csv(
        tmp_path / "study.csv", sep=sep, decimal=decimal, end=sep, replace={3: AMPLITUDE_LEFT_OUT}
    )
    code, _, err = _run(["validate", path], capsys)
    assert code == 2
    assert "line 3 has 8 cells but the header (line 1) names 9 columns" in err


@pytest.mark.parametrize(("sep", "decimal"), DIALECTS)
@pytest.mark.parametrize("n", [1, 20])
def test_every_line_equally_short_reads_the_last_columns_as_empty(
    tmp_path, capsys, sep, decimal, n
):
    # a writer that leaves out the empty cells at the end of every line: the header names
    # 10 columns (muscle last), every line has 9 cells
    path = _patients_csv(
        tmp_path / "study.csv", n=n, sep=sep, decimal=decimal, header=HEADER + ",muscle"
    )
    code, out, err = _run(["validate", path, "-v"], capsys)
    assert code == 0, err
    assert f"valid: {2 * n} rows" in out
    assert (
        "every line below the header has 9 cells, the header names 10: column 'muscle' read as empty"
        in err
    )
    sites = ncs.validate(ncs.read_sites(path))
    assert sites["amplitude_mv"].tolist()[:2] == [10.5, 10.1]  # WRIST and BELOW_ELBOW
    assert sites["distance_mm"].tolist()[:2] == [70.0, 210.0]
    assert sites["muscle"].isna().all()


def test_every_line_equally_short_but_one_is_still_an_error(tmp_path, capsys):
    # 10 header names, 9 cells on every line but line 5, which has 8
    path = _patients_csv(
        tmp_path / "study.csv",
        header=HEADER + ",muscle",
        replace={5: AMPLITUDE_LEFT_OUT.replace("Q0", "Q1")},
    )
    code, _, err = _run(["validate", path], capsys)
    assert code == 2
    assert "line 5 has 8 cells but the header (line 1) names 10 columns" in err
    assert "line 2 has" not in err  # the usual width is not listed line by line


def test_full_lines_with_empty_cells_stay_readable(tmp_path, capsys):
    # empty cells written as two separators in a row (or at the end): nothing left out
    path = _patients_csv(tmp_path / "study.csv", header=HEADER + ",muscle", extra=",")
    path.write_text(path.read_text().replace("2.9,10.5,31.0,5.9,70", "2.9,10.5,,,70"))
    code, out, err = _run(["validate", path], capsys)
    assert code == 0, err
    assert "valid: 40 rows" in out


def test_a_separator_ending_only_the_header_adds_no_column(tmp_path, capsys):
    # the header ends with ';', the lines below do not: the header is still line 1 (it was
    # skipped as a title, and the first data line taken for the header)
    path = tmp_path / "study.csv"
    path.write_bytes(
        b"patient_id;nerve;side;site;latency_ms;amplitude_mv;\n"
        b"P1;ulnar;R;wrist;3,0;10,0\nP1;ulnar;R;below elbow;7,0;9,0\n"
    )
    sites = ncs.read_sites(path)
    assert sites.attrs["ncs_source"].header_row == 1
    assert ncs.validate(sites)["amplitude_mv"].tolist() == [10.0, 9.0]  # decimal commas read
    code, out, _ = _run(["validate", path], capsys)
    assert code == 0 and "valid: 2 rows" in out


# --------------------------------------------------------------------------------------
# XLSX: cells formatted as percentages (Excel stores 70% as 0.7)
# --------------------------------------------------------------------------------------


def _mmn_workbook(path, formats: dict[str, tuple[object, str]], wide=False):
    """The MMN fixture as a sheet 'Motor'; ``formats`` maps a cell ("M2") to the value
    stored in it and its number format."""
    openpyxl = pytest.importorskip("openpyxl")
    source = FIXTURES / "exports" / "segment_distances.csv" if wide else MMN
    frame = pd.read_csv(source, dtype={"patient_id": str, "Patient ID": str})
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = "Motor"
    ws.append(list(frame.columns))
    for record in frame.itertuples(index=False):
        ws.append([None if pd.isna(v) else v for v in record])
    for cell, (value, number_format) in formats.items():
        ws[cell] = value
        ws[cell].number_format = number_format
    book.save(path)
    return path


def test_a_percentage_cell_in_a_percentage_column_reads_as_the_percentage_shown(tmp_path, capsys):
    # f_persistence_pct is column M; MMN01's median F persistence is on row 2, ulnar on row 5
    path = _mmn_workbook(tmp_path / "pct.xlsx", {"M2": (0.7, "0%"), "M5": (0.855, "0.0%")})
    sites = ncs.read_sites(path)
    # 0.7 shown as 70%, 0.855 as 85.5%: the percentages, not fractions of one percent
    assert sites["f_persistence_pct"].iloc[[0, 3]].tolist() == [70.0, 85.5]
    ncs.validate(sites)
    out = tmp_path / "sites.csv"
    code, _, err = _run(["convert", path, "-o", out], capsys)
    assert code == 0, err
    assert pd.read_csv(out)["f_persistence_pct"].iloc[[0, 3]].tolist() == [70.0, 85.5]


def test_a_percent_sign_written_into_the_format_is_not_a_percentage(tmp_path):
    # 0"%" and 0\% show 70 as "70%" without multiplying by 100: the number is as typed
    path = _mmn_workbook(tmp_path / "pct.xlsx", {"M2": (70, '0"%"'), "M5": (85, "0\\%")})
    sites = ncs.read_sites(path)
    assert sites["f_persistence_pct"].iloc[[0, 3]].tolist() == [70.0, 85.0]
    ncs.validate(sites)


def test_a_percentage_cell_in_another_column_is_an_error_naming_the_cell(tmp_path, capsys):
    # amplitude_mv is column G: 0.082 formatted 0.0% shows "8.2%", not 8.2 mV
    path = _mmn_workbook(tmp_path / "pct.xlsx", {"G3": (0.082, "0.0%")})
    code, out, err = _run(["analyze", path], capsys)
    assert code == 2 and "block" not in out
    assert (
        "column 'amplitude_mv': cell G3 of sheet 'Motor' is formatted as a percentage (it "
        "shows 8.2%) but the column is not a percentage" in err
    )


def test_a_wide_percentage_header_reads_the_percentage_shown(tmp_path, capsys):
    # "R Median F Pers (%)" is the 23rd column of the export (W); its value on row 2 is 70
    path = _mmn_workbook(tmp_path / "wide.xlsx", {"W2": (0.7, "0%")}, wide=True)
    out = tmp_path / "sites.csv"
    code, _, err = _run(["convert", path, "--wide", "-o", out], capsys)
    assert code == 0, err
    sites = pd.read_csv(out)
    median = sites[(sites["nerve"] == "median") & (sites["side"] == "R")]
    assert median["f_persistence_pct"].dropna().tolist() == [70.0]


def test_short_lines_are_named_in_python_too_whatever_the_pandas_engine(tmp_path):
    path = _patients_csv(tmp_path / "study.csv", replace={3: AMPLITUDE_LEFT_OUT})
    for options in ({}, {"engine": "python"}, {"sep": ",", "header_row": 1}):
        with pytest.raises(ncs.ValidationError) as err:
            ncs.read_sites(path, **options)
        (problem,) = err.value.problems
        assert problem.message.startswith("line 3 has 8 cells but the header (line 1) names 9")
