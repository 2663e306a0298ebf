"""read_sites on files as labs write them: CSV dialects, spreadsheets, empty files."""

from __future__ import annotations

import datetime
import io

import numpy as np
import pandas as pd
import pytest

import ncs
from conftest import FIXTURES
from ncs.dialect import detect_csv, detect_encoding
from ncs.errors import ValidationError
from ncs.io import read_sites

NORMAL = pd.read_csv(FIXTURES / "normal.csv", dtype={"patient_id": str})


def _european(frame: pd.DataFrame, sep=";", decimal=",", encoding="utf-8") -> bytes:
    text = frame.to_csv(index=False, sep=sep, decimal=decimal, lineterminator="\r\n")
    return text.encode(encoding)


def _same_sites(a: pd.DataFrame, b: pd.DataFrame) -> None:
    va, vb = ncs.validate(a), ncs.validate(b)
    cols = ["patient_id", "nerve", "side", "site", "latency_ms", "amplitude_mv", "area_mvms"]
    pd.testing.assert_frame_equal(va[cols], vb[cols])


@pytest.mark.parametrize(
    ("sep", "decimal", "encoding"),
    [
        (";", ",", "utf-8"),
        (";", ".", "utf-8"),
        (";", ",", "utf-8-sig"),
        (";", ",", "cp1252"),
        ("\t", ",", "utf-8"),
        ("|", ".", "latin-1"),
        (",", ".", "utf-16"),
    ],
)
def test_every_dialect_is_detected_and_reported(tmp_path, sep, decimal, encoding):
    path = tmp_path / "export.csv"
    path.write_bytes(_european(NORMAL, sep, decimal, encoding))
    sites = read_sites(path)
    _same_sites(sites, NORMAL)
    source = sites.attrs["ncs_source"]
    assert (source.sep, source.decimal) == (sep, decimal)
    assert {"sep", "decimal", "encoding", "header_row"} <= set(source.detected)
    assert source.to_dict()["sep"] == sep


def test_given_settings_override_detection(tmp_path):
    path = tmp_path / "export.csv"
    path.write_bytes(_european(NORMAL))
    sites = read_sites(path, sep=";", decimal=",", encoding="utf-8")
    _same_sites(sites, NORMAL)
    assert sites.attrs["ncs_source"].detected == ("header_row",)


def test_decimal_commas_next_to_words_are_numbers(tmp_path):
    frame = NORMAL.astype(str).apply(lambda c: c.str.replace(".", ",", regex=False))
    frame.loc[0, "amplitude_mv"] = "n/a"
    path = tmp_path / "export.csv"
    path.write_bytes(_european(frame))
    valid = ncs.validate(read_sites(path))
    assert np.isnan(valid["amplitude_mv"].iloc[0])
    assert valid["amplitude_mv"].iloc[1] == NORMAL["amplitude_mv"].iloc[1]


def test_title_lines_above_the_header_are_skipped(tmp_path):
    path = tmp_path / "export.csv"
    path.write_bytes(b"EMG lab export\r\nPrinted 2024-05-01\r\n\r\n" + _european(NORMAL))
    sites = read_sites(path)
    _same_sites(sites, NORMAL)
    source = sites.attrs["ncs_source"]
    assert source.header_row == 4 and source.where(0) == "line 5"
    assert read_sites(path, header_row=4).attrs["ncs_source"].header_row == 4


def test_lines_count_blank_lines_and_quoted_line_breaks(tmp_path):
    text = (
        "patient_id,nerve,side,site,latency_ms,amplitude_mv,comment\n"
        'P1,ulnar,R,wrist,3.0,10,"two\nlines"\n'
        "\n"
        "P1,ulnar,R,below elbow,7.0,-5,\n"
    )
    path = tmp_path / "study.csv"
    path.write_text(text)
    source = read_sites(path).attrs["ncs_source"]
    assert source.lines([0, 1]).tolist() == [2, 5]


@pytest.mark.parametrize(
    ("content", "option"),
    [
        (b"a;b,c\n1;2,3\n4;5,6\n", "--sep"),  # ',' and ';' both split every line in two
        (b"a;b\n1,5;2.5\n", "--decimal"),
        (b"single\n1\n2\n", "--sep"),
    ],
)
def test_unsure_detection_names_the_option(tmp_path, content, option):
    path = tmp_path / "export.csv"
    path.write_bytes(content)
    with pytest.raises(ValidationError) as err:
        read_sites(path)
    assert option in str(err.value)


def test_a_file_that_is_not_the_given_encoding_names_the_option(tmp_path):
    path = tmp_path / "export.csv"
    path.write_bytes(_european(NORMAL.assign(patient_id="Élodie"), encoding="cp1252"))
    with pytest.raises(ValidationError) as err:
        read_sites(path, encoding="utf-8")
    assert "--encoding" in str(err.value)


def test_encoding_detection_prefers_windows_1252_and_keeps_utf8():
    assert detect_encoding("Œhlers Žák".encode("cp1252"), complete=True)[0] == "cp1252"
    assert detect_encoding("Œhlers Žák".encode(), complete=True)[0] == "utf-8"
    assert detect_encoding(b"\xef\xbb\xbfa,b", complete=True)[0] == "utf-8-sig"
    # a multi-byte character cut at the end of the sample is not an error
    assert detect_encoding("é".encode()[:1], complete=False)[0] == "utf-8"


def test_detection_reads_one_sample(tmp_path, monkeypatch):
    import ncs.dialect as dialect

    calls = []
    original = dialect.detect_csv
    monkeypatch.setattr(dialect, "detect_csv", lambda *a, **k: calls.append(1) or original(*a, **k))
    big = pd.concat([NORMAL] * 2000, ignore_index=True)
    path = tmp_path / "big.csv"
    path.write_bytes(_european(big))
    assert len(read_sites(path)) == len(big)
    assert len(calls) == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"\xef\xbb\xbf \r\n", "the file is empty"),
        (b"patient_id,nerve,side,site,latency_ms,amplitude_mv\n", "no data rows"),
        (b"patient_id;nerve;side;site\r\n\r\n", "no data rows"),
    ],
)
def test_empty_and_header_only_files(tmp_path, content, message):
    path = tmp_path / "study.csv"
    path.write_bytes(content)
    with pytest.raises(ValidationError) as err:
        read_sites(path)
    assert message in str(err.value)
    assert "Error" not in str(err.value)  # never a pandas class name


def test_trailing_separators_add_no_column(tmp_path):
    path = tmp_path / "study.csv"
    text = NORMAL.to_csv(index=False, sep=";")
    path.write_text("\n".join(line + ";" for line in text.splitlines()) + "\n")
    assert list(read_sites(path).columns) == list(NORMAL.columns)


def test_stdin_like_streams_are_sniffed():
    data = NORMAL.to_csv(index=False).encode()
    sites = read_sites(io.BytesIO(data))
    _same_sites(sites, NORMAL)
    assert sites.attrs["ncs_source"].name == "-"
    records = NORMAL.to_json(orient="records").encode()
    assert len(read_sites(io.BytesIO(records))) == len(NORMAL)


# ------------------------------------------------------------------------------------
# Spreadsheets
# ------------------------------------------------------------------------------------


def _book(path, sheets: dict[str, list[list[object]]]):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        ws = book.create_sheet(name)
        for row in rows:
            ws.append(row)
    book.save(path)
    return path


def _rows(frame: pd.DataFrame) -> list[list[object]]:
    return [list(frame.columns)] + [[None if pd.isna(v) else v for v in r] for r in frame.values]


def test_sheet_by_name_and_number_and_detected(tmp_path):
    path = _book(tmp_path / "s.xlsx", {"Notes": [["read me"]], "Motor": _rows(NORMAL)})
    for sheet in (None, "Motor", 2, "2"):
        sites = read_sites(path, sheet=sheet)
        _same_sites(sites, NORMAL)
        assert sites.attrs["ncs_source"].sheet == "Motor"
    with pytest.raises(ValidationError, match="no sheet named 'Sensory'"):
        read_sites(path, sheet="Sensory")
    with pytest.raises(ValidationError, match="there is no sheet 3"):
        read_sites(path, sheet=3)


def test_two_sheets_with_tables_ask_for_sheet(tmp_path):
    path = _book(tmp_path / "s.xlsx", {"A": _rows(NORMAL), "B": _rows(NORMAL)})
    with pytest.raises(ValidationError, match="--sheet"):
        read_sites(path)


def test_title_and_blank_rows_above_the_header(tmp_path):
    rows = [["Lab export"], ["Printed", datetime.datetime(2024, 5, 1)], [], *_rows(NORMAL)]
    path = _book(tmp_path / "s.xlsx", {"Export": rows})
    sites = read_sites(path)
    _same_sites(sites, NORMAL)
    source = sites.attrs["ncs_source"]
    assert source.header_row == 4 and source.where(0, "amplitude_mv") == (
        "row 5, column 'amplitude_mv' (cell G5)"
    )
    assert read_sites(path, header_row=4).attrs["ncs_source"].header_row == 4


def test_a_header_that_cannot_be_found_asks_for_header_row(tmp_path):
    path = _book(tmp_path / "s.xlsx", {"Export": [[1, 2, 3], [4, 5, 6]]})
    with pytest.raises(ValidationError, match="--header-row"):
        read_sites(path)


def test_formula_without_stored_value_is_an_error_naming_the_cell(tmp_path):
    rows = _rows(NORMAL)
    rows[2][6] = "=G2*0.96"  # amplitude of the second site: openpyxl stores no value
    path = _book(tmp_path / "s.xlsx", {"Motor": rows})
    with pytest.raises(ValidationError) as err:
        read_sites(path)
    (problem,) = err.value.problems
    assert problem.column == "amplitude_mv" and "cell G3 of sheet 'Motor'" in problem.message


def test_excel_dates_in_number_cells_say_so(tmp_path):
    rows = _rows(NORMAL)
    rows[2][5] = datetime.datetime(2024, 6, 3)  # a latency of 3.6 typed in a German Excel
    path = _book(tmp_path / "s.xlsx", {"Motor": rows})
    with pytest.raises(ValidationError) as err:
        ncs.validate(read_sites(path))
    (problem,) = err.value.problems
    assert (problem.row, problem.column) == (1, "latency_ms")
    assert "Excel turned this into a date" in problem.message


def test_empty_sheet_and_header_only_sheet(tmp_path):
    path = _book(tmp_path / "e.xlsx", {"Motor": []})
    with pytest.raises(ValidationError, match="is empty"):
        read_sites(path)
    path = _book(tmp_path / "h.xlsx", {"Motor": [list(NORMAL.columns)]})
    with pytest.raises(ValidationError, match="no data rows"):
        read_sites(path)


def test_duplicate_headers_are_named(tmp_path):
    rows = _rows(NORMAL)
    rows[0][7] = "amplitude_mv"
    path = _book(tmp_path / "s.xlsx", {"Motor": rows})
    with pytest.raises(ValidationError, match="columns G and H"):
        read_sites(path)


def test_detect_csv_on_a_sample():
    dialect = detect_csv(b"a;b;c\r\n1;2,5;x\r\n", complete=True)
    assert (dialect.sep, dialect.decimal, dialect.header_line) == (";", ",", 1)
    assert "separator ';' (detected)" in dialect.describe()


@pytest.mark.parametrize(
    ("content", "line"),
    [
        (b"a;b;c\n1;2;x;9\n3;4;y\n", 2),  # pandas would drop the 9 with a warning
        (b"a;b;c\n1;2;x\n3;4;y;7;8\n", 3),  # pandas would raise a ParserError
        (b"Export\n\na;b;c\n1;2;x\n\n3;4;y;7;8\n", 6),
    ],
)
def test_a_row_longer_than_the_header_is_an_error_naming_its_line(tmp_path, content, line):
    path = tmp_path / "study.csv"
    path.write_bytes(content)
    header = content.split(b"\n").index(b"a;b;c") + 1
    with pytest.raises(ValidationError) as err:
        read_sites(path, sep=";", header_row=header)
    assert f"line {line} has" in str(err.value) and "Parser" not in str(err.value)
