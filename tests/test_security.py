"""Untrusted input and safe output: XLSX attacks, size limits, formula injection, HTML
escaping, pseudonyms, messages without patient values, determinism and provenance."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

import ncs
from conftest import FIXTURES, two_sites
from ncs.cli import main
from ncs.io import safe_for_spreadsheet, write_table
from ncs.privacy import pseudonym, pseudonymize

KEY = b"0123456789abcdef0123456789abcdef"


# --- XLSX: entity attacks and zip bombs ------------------------------------------------------


def _xlsx_bytes(frame: pd.DataFrame) -> bytes:
    pytest.importorskip("openpyxl")
    buffer = io.BytesIO()
    frame.to_excel(buffer, index=False, engine="openpyxl")
    return buffer.getvalue()


def _replace_member(data: bytes, name: str, new: bytes) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, new if info.filename == name else src.read(info))
        if name not in src.namelist():
            dst.writestr(name, new)
    return out.getvalue()


LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
        for i in range(1, 10)
    )
    + b"]>"
)
EXTERNAL = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'


@pytest.mark.parametrize("header, entity", [(LAUGHS, b"&lol9;"), (EXTERNAL, b"&xxe;")])
def test_xlsx_entity_attacks_are_refused(tmp_path, header, entity):
    good = _xlsx_bytes(two_sites())
    sheet = zipfile.ZipFile(io.BytesIO(good)).read("xl/worksheets/sheet1.xml")
    body = sheet.split(b"?>", 1)[-1]
    assert b"<sheetData>" in body
    body = body.replace(b"<sheetData>", b"<sheetData>" + entity, 1)
    path = tmp_path / "attack.xlsx"
    path.write_bytes(_replace_member(good, "xl/worksheets/sheet1.xml", header + body))
    with pytest.raises(ncs.ValidationError, match="cannot read XLSX"):
        ncs.read_sites(path)


def test_xlsx_zip_bomb_is_refused_before_unpacking(tmp_path):
    good = _xlsx_bytes(two_sites())
    path = tmp_path / "bomb.xlsx"
    path.write_bytes(_replace_member(good, "xl/media/zeros.bin", b"\0" * 2_000_000))
    size = path.stat().st_size
    assert size < 50_000  # 2 MB of zeros packs small
    with pytest.raises(ncs.ValidationError, match="unpacked XLSX content"):
        ncs.read_sites(path, max_bytes=100_000)  # unpacked limit: 16 x 100 kB = 1.6 MB
    assert len(ncs.read_sites(path, max_bytes=200_000)) == 2


def test_unsupported_zip_versions_are_a_validation_error(tmp_path):
    # found by the 10,000-example fuzz run: zipfile raises NotImplementedError for them
    good = bytearray(_xlsx_bytes(two_sites()))
    header = good.rfind(b"PK\x01\x02")  # last central-directory entry
    good[header + 6] = 64  # "version needed to extract": 6.4
    path = tmp_path / "v64.xlsx"
    path.write_bytes(bytes(good))
    with pytest.raises(ncs.ValidationError, match="cannot read XLSX"):
        ncs.read_sites(path)


def test_size_limit_names_the_limit(tmp_path):
    path = tmp_path / "s.csv"
    two_sites().to_csv(path, index=False)
    size = path.stat().st_size
    with pytest.raises(ncs.ValidationError, match=f"{size:,} bytes, more than the limit of 100"):
        ncs.read_sites(path, max_bytes=100)
    assert len(ncs.read_sites(path, max_bytes=size)) == 2
    assert main(["validate", str(path), "--max-bytes", "100"]) == 2


def test_json_sites_must_be_a_list_of_rows(tmp_path):
    path = tmp_path / "s.json"
    path.write_text('{"patient_id": "P1"}', encoding="utf-8")
    with pytest.raises(ncs.ValidationError, match="list of row objects"):
        ncs.read_sites(path)
    path.write_text("[{", encoding="utf-8")
    with pytest.raises(ncs.ValidationError, match="cannot read JSON: JSONDecodeError"):
        ncs.read_sites(path)


# --- formula injection -----------------------------------------------------------------------

DANGEROUS = ["=1+1", "+1", "-1+2", "@SUM(A1)", "\tx", "\rx"]


def test_every_formula_prefix_is_neutralised_and_numbers_are_kept():
    frame = pd.DataFrame(
        {
            "text": pd.array([*DANGEROUS, "P1", None], dtype="string"),
            "objects": pd.Series([*DANGEROUS, 3.5, None], dtype=object),
            "number": [-1.0, -2.5, 3.0, -4.0, 5.0, -6.0, -7.0, np.nan],
            "category": pd.Categorical([*DANGEROUS, "ok", None]),
            "=header": range(8),
        }
    )
    safe = safe_for_spreadsheet(frame)
    expected = [f"'{v}" for v in DANGEROUS]
    assert safe["text"].tolist()[:6] == expected and safe["text"].iloc[6] == "P1"
    assert pd.isna(safe["text"].iloc[7])
    assert safe["objects"].tolist()[:7] == [*expected, 3.5]
    assert safe["category"].astype(object).tolist()[:7] == [*expected, "ok"]
    pd.testing.assert_series_equal(safe["number"], frame["number"])
    assert "'=header" in safe.columns
    assert frame["text"].iloc[0] == "=1+1"  # the input is not changed


def test_neutralising_a_column_keeps_its_true_false_cells():
    # the column is rewritten where a cell starts a formula: a TRUE beside a 1 was written 1
    frame = pd.DataFrame({"objects": pd.Series([1, True, "=x", 0, False], dtype=object)})
    cells = safe_for_spreadsheet(frame)["objects"].tolist()
    assert cells == [1, True, "'=x", 0, False]
    assert [type(c) for c in cells] == [int, bool, str, int, bool]


def _study_with_id(patient: str) -> pd.DataFrame:
    return two_sites(amp=(10.0, 3.0), area=(30.0, 9.0), patient=patient)


def test_cli_csv_output_is_neutralised(tmp_path, capsys):
    path = tmp_path / "s.csv"
    _study_with_id('=HYPERLINK("http://x","y")').to_csv(path, index=False)
    for table in ("findings", "patients"):
        assert main(["analyze", str(path), "-f", "csv", "--table", table]) == 0
        out = pd.read_csv(io.StringIO(capsys.readouterr().out), dtype=str)
        assert out["patient_id"].str.startswith("'=").all()
        assert not any(line.startswith("=") for line in out.to_csv().splitlines())


def test_batch_csv_output_is_neutralised(tmp_path):
    from ncs.batch import analyze_file

    src = tmp_path / "s.csv"
    _study_with_id("@evil").to_csv(src, index=False)
    analyze_file(src, tmp_path / "out", format="csv")
    patients = pd.read_csv(tmp_path / "out" / "patients.csv", dtype=str)
    assert (patients["patient_id"] == "'@evil").all()


def test_write_table_xlsx_cells_are_text(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    path = write_table(pd.DataFrame({"id": ["=1+1"], "x": [-2.0]}), tmp_path / "t.xlsx")
    sheet = openpyxl.load_workbook(path).active
    assert sheet["A2"].value == "'=1+1" and sheet["A2"].data_type == "s"
    assert sheet["B2"].value == -2


# --- HTML ------------------------------------------------------------------------------------


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def test_html_escapes_every_user_string_and_loads_nothing():
    from ncs.report import to_html

    nasty = ["<script>alert(1)</script>", '" onmouseover="alert(1)', "'><img src=x onerror=1>"]
    sites = two_sites(amp=(10.0, 3.0), patient=nasty[0] + nasty[1])
    sites["site"] = [nasty[2] + " a", nasty[0] + " b"]
    sites["site_order"] = [0, 1]
    sites["muscle"] = nasty[1]
    sites[nasty[0]] = nasty[2]  # an extra column: its name and value are shown
    page = to_html(ncs.analyze(sites, criteria="all"), title=nasty[0], plots=False)
    parser = _Tags()
    parser.feed(page)
    names = [t for t, _ in parser.tags]
    assert "script" not in names and "link" not in names and "iframe" not in names
    for _, attrs in parser.tags:
        assert not any(k.startswith("on") for k in attrs)
        assert attrs.get("src") is None or attrs["src"].startswith("data:")
    for text in nasty:
        assert text not in page
    assert "@import" not in page and "url(" not in page


# --- privacy ---------------------------------------------------------------------------------


def test_pseudonym_is_hmac_sha256():
    # printf P001 | openssl dgst -sha256 -hmac 0123456789abcdef0123456789abcdef
    assert pseudonym("P001", KEY, length=64) == (
        "d0f99f17a67d8935d9dee29e1fe723bba26097faa8acf2a706f80671f3d1f860"
    )
    assert pseudonym("P001", KEY) == "d0f99f17a67d8935"
    assert pseudonym("P001", KEY[::-1]) != pseudonym("P001", KEY)
    with pytest.raises(ValueError, match="at least 16 bytes"):
        pseudonym("P001", b"short")


def test_pseudonymize_reads_ids_as_validation_does():
    frame = pd.DataFrame({"patient_id": [" P1", "P1", None, "", 7.0, "7"], "x": range(6)})
    out = pseudonymize(frame, KEY)
    ids = out["patient_id"].tolist()
    assert ids[0] == ids[1] == pseudonym("P1", KEY)
    assert pd.isna(ids[2]) and pd.isna(ids[3])
    assert ids[4] == ids[5] == pseudonym("7", KEY)
    assert frame["patient_id"].iloc[1] == "P1"  # input unchanged


def test_pseudonymize_keeps_a_true_cell_apart_from_patient_one():
    # Python sees True == 1: patient 1 and a TRUE cell got one pseudonym (one patient)
    frame = pd.DataFrame({"patient_id": np.array([1, True, 1.0, False, 0], dtype=object)})
    ids = pseudonymize(frame, KEY)["patient_id"].tolist()
    assert ids[0] == ids[2] == pseudonym("1", KEY)
    assert ids[1] == pseudonym("True", KEY)
    assert ids[3] == pseudonym("False", KEY) and ids[4] == pseudonym("0", KEY)


def test_no_output_carries_the_real_id(tmp_path, capsys):
    secret = "Jane-Doe-1970"
    path = tmp_path / "s.csv"
    _study_with_id(secret).to_csv(path, index=False)
    key = tmp_path / "key.txt"
    key.write_bytes(KEY + b"\n")
    for fmt in ("json", "csv", "table", "html"):
        code = main(["analyze", str(path), "-f", fmt, "--pseudonymize-key-file", str(key)])
        out = capsys.readouterr().out
        assert code == 0 and secret not in out and pseudonym(secret, KEY) in out
    assert main(["compare", str(path), "--pseudonymize-key-file", str(key), "-f", "json"]) == 0
    assert secret not in capsys.readouterr().out
    assert main(["batch", str(path), "-d", str(tmp_path / "b"), "-f", "csv",
                 "--pseudonymize-key-file", str(key)]) == 0  # fmt: skip
    for table in (tmp_path / "b").iterdir():
        assert secret not in table.read_text(encoding="utf-8")
    key.write_bytes(b"short")
    assert main(["analyze", str(path), "--pseudonymize-key-file", str(key)]) == 2


def test_messages_carry_no_patient_values(capsys, monkeypatch):
    sites = _study_with_id("Zsecret-42")
    sites["latency_ms"] = ["Zsecret-lat", 7.0]
    sites["side"] = ["Zsecret-side", "R"]
    with pytest.raises(ncs.ValidationError) as err:
        ncs.analyze(sites)
    assert "Zsecret" not in str(err.value)
    assert {(p.row, p.column) for p in err.value.problems} >= {(0, "latency_ms"), (0, "side")}

    def boom(*args, **kwargs):
        raise RuntimeError("value Zsecret-42 broke it")

    monkeypatch.setattr("ncs.cli.analyze", boom)
    monkeypatch.delenv("NCS_DEBUG", raising=False)
    assert main(["demo"]) == 1
    err_text = capsys.readouterr().err
    assert "RuntimeError" in err_text and "Zsecret" not in err_text


# --- determinism and provenance --------------------------------------------------------------


def test_json_is_byte_identical_across_runs_and_processes():
    code = (
        "import ncs; from ncs.cli import demo_path; "
        "print(ncs.analyze(ncs.read_sites(demo_path()), criteria='all').to_json())"
    )
    outs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("0", "1", "12345")
    }
    assert len(outs) == 1


def test_row_order_changes_only_row_numbers():
    sites = ncs.read_sites(FIXTURES / "mmn_forearm_block.csv")
    shuffled = sites.sample(frac=1.0, random_state=3).reset_index(drop=True)
    a = ncs.analyze(sites, criteria="all").to_dict()
    b = ncs.analyze(shuffled, criteria="all").to_dict()
    for table in ("patients", "nerves", "findings"):
        assert json.dumps(a[table]) == json.dumps(b[table])
    rows = ("distal_row", "proximal_row")
    strip = [{k: v for k, v in r.items() if k not in rows} for r in a["segments"]]
    assert strip == [{k: v for k, v in r.items() if k not in rows} for r in b["segments"]]
    assert a["provenance"] == b["provenance"]


def test_every_result_carries_its_provenance():
    result = ncs.analyze(two_sites(), criteria="all")
    prov = json.loads(result.to_json())["provenance"]
    assert prov["ncs_version"] == ncs.__version__
    ids = [c["id"] for c in prov["criteria"]]
    assert ids == [c.id for c in result.criteria]
    for entry, crit in zip(prov["criteria"], result.criteria, strict=True):
        assert entry["verified"] == crit.verified and len(entry["version"]) == 16
    assert prov["reference"]["name"] == result.meta["reference"]
    assert any("Chen" in s for s in prov["reference"]["sources"])
    assert prov["temperature_limits_c"] == {"upper": 33.0, "lower": 30.0, "verified": False}
    # a changed threshold changes the criterion's version
    import dataclasses

    from ncs.provenance import criterion_version

    katz = ncs.CRITERIA["katz2002"]
    assert criterion_version(dataclasses.replace(katz, title="x")) != criterion_version(katz)
    lab = ncs.analyze(two_sites(), criteria="all", reference=_lab_table())
    assert json.loads(lab.to_json())["provenance"]["reference"] == {"name": "lab X", "sources": []}


def _lab_table() -> pd.DataFrame:
    table = pd.DataFrame({"nerve": ["ulnar"], "amp_lln_mv": [6.0]})
    table.attrs["name"] = "lab X"
    return table
