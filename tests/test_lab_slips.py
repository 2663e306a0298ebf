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
    openpyxl = pytest.importorskip("openpyxl")
    frame = pd.read_csv(MMN, dtype={"patient_id": str})
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = "Motor"
    ws.append(list(frame.columns))
    for record in frame.itertuples(index=False):
        ws.append([None if pd.isna(v) else v for v in record])
    ws["G12"] = "=G11*0.96"  # amplitude of the last site: openpyxl stores no value
    book.save(tmp_path / "plain.xlsx")
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
