"""Batch path: invalid rows set aside per nerve, row accounting, lazy reasons, chunked files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import ncs
from ncs import simulate
from ncs.analyze import FINDING_KEYS, render_evidence, render_reasons
from ncs.batch import account, analyze_file
from ncs.schema import REJECTED_COLUMNS, split_invalid

pytestmark = pytest.mark.filterwarnings("ignore::ncs.NcsWarning")


def _cohort_with_bad_rows() -> tuple[pd.DataFrame, set[int], int]:
    """Cohort with injected bad rows; returns it, the rows to reject, and single-site rows."""
    sites = simulate.cohort(30, seed=7)  # 4 nerves x 3 sites per patient, grouped
    sites["amplitude_mv"] = sites["amplitude_mv"].astype(object)
    rejected = set()
    # 1. a text amplitude in the middle site of the first nerve: its 3 rows go
    sites.loc[1, "amplitude_mv"] = "lots"
    rejected |= {0, 1, 2}
    # 2. a missing patient id on the axilla row of patient 4's median (rows 48-50): the row
    # before it is that median, so the median goes with it (it lost its axilla site)
    sites.loc[50, "patient_id"] = None
    rejected |= {48, 49, 50}
    # 3. a proximal latency before the distal one: the whole nerve goes
    sites.loc[100, "latency_ms"] = sites.loc[99, "latency_ms"] - 1.0
    nerve = sites.loc[100, ["patient_id", "nerve", "side"]]
    same = (sites[["patient_id", "nerve", "side"]] == nerve.to_numpy()).all(axis=1)
    rejected |= set(np.flatnonzero(same.to_numpy()).tolist())
    # 4. an unknown nerve name on patient 16's peroneal below the fibular head (rows 199-201):
    # of the patient's nerves, only the peroneal lacks that site and has it as a site
    sites.loc[200, "nerve"] = "sciatic-ish"
    rejected |= {199, 200, 201}
    # two single-site nerves (valid, no segment)
    single = sites.iloc[[12, 24]].assign(nerve="radial", site="forearm", site_order=0)
    single["patient_id"] = ["S1", "S2"]
    out = pd.concat([sites, single], ignore_index=True)
    return out, rejected, 2


def test_default_still_raises_on_bad_rows():
    sites, _, _ = _cohort_with_bad_rows()
    with pytest.raises(ncs.ValidationError) as err:
        ncs.analyze(sites)
    assert {p.row for p in err.value.problems} >= {1, 50, 100, 200}


def test_every_row_accounted_for_with_injected_bad_rows():
    sites, expected_rejected, n_single = _cohort_with_bad_rows()
    n = len(sites)
    # rows 50 and 200 belong to no nerve (no patient, unknown nerve name): the nerves they
    # were sites of go with them (see tests/test_set_aside.py)
    res = ncs.analyze(sites, errors="collect")
    assert list(res.rejected.columns) == list(REJECTED_COLUMNS)
    assert set(res.rejected["input_row"]) == expected_rejected
    used = set(res.segments["distal_row"]) | set(res.segments["proximal_row"])
    counts = res.sites.groupby(["patient_id", "nerve", "side"])["input_row"].transform("size")
    single = set(res.sites.loc[counts == 1, "input_row"])
    assert len(single) == n_single
    # the three parts are disjoint and cover every input row exactly once
    assert used.isdisjoint(single) and used.isdisjoint(expected_rejected)
    assert used | single | expected_rejected == set(range(n))
    assert len(used) + len(single) + len(expected_rejected) == n
    a = account(res)
    assert a == {
        "n_input_rows": n,
        "n_rows_in_segments": len(used),
        "n_rows_single_site": n_single,
        "n_rows_rejected": len(expected_rejected),
        "balanced": 1,
    }


def test_rejected_rows_say_why():
    sites, _, _ = _cohort_with_bad_rows()
    res = ncs.analyze(sites, errors="collect")
    why = dict(zip(res.rejected["input_row"], res.rejected["problems"], strict=True))
    assert why[1].startswith("column 'amplitude_mv': not a number")
    assert why[0] == "another row of this nerve is invalid (row 1)"
    assert why[50] == "column 'patient_id': value is missing"
    assert (
        why[48]
        == why[49]
        == (
            "a row whose patient, visit, nerve or side cannot be read may be a site of this nerve "
            "(row 50)"
        )
    )
    assert "unknown nerve name" in why[200]
    assert "proximal latency is not longer" in why[100]


def test_other_nerves_of_a_patient_with_a_bad_row_are_kept():
    sites, _, _ = _cohort_with_bad_rows()
    res = ncs.analyze(sites, errors="collect")
    p0 = res.nerves[(res.nerves["patient_id"] == "P000000") & (res.nerves["scheme"] == "katz2002")]
    assert len(p0) == 3  # 4 nerves, the first rejected


def test_collect_equals_raise_on_clean_input():
    sites = simulate.cohort(10, seed=3)
    a = ncs.analyze(sites)
    b = ncs.analyze(sites, errors="collect")
    for name in ("segments", "findings", "nerves", "patients"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))
    assert len(b.rejected) == 0


def test_table_level_problems_still_raise_in_collect_mode():
    sites = simulate.cohort(2, seed=3).drop(columns=["latency_ms"])
    with pytest.raises(ncs.ValidationError):
        split_invalid(sites)


def test_unknown_errors_mode():
    with pytest.raises(ValueError, match="errors must be"):
        ncs.analyze(simulate.cohort(1, seed=1), errors="ignore")


def test_reasons_false_drops_only_the_sentences():
    sites = simulate.cohort(15, seed=5)
    full = ncs.analyze(sites)
    lean = ncs.analyze(sites, reasons=False)
    assert "reason" not in lean.findings.columns
    pd.testing.assert_frame_equal(lean.findings, full.findings.drop(columns="reason"))
    # the patients keep every column but the sentence: verdicts, labels, counts
    assert "evidence" not in lean.patients.columns
    pd.testing.assert_frame_equal(lean.patients, full.patients.drop(columns="evidence"))
    pd.testing.assert_frame_equal(lean.nerves, full.nerves)


@pytest.mark.parametrize("criteria", [None, "all"])
def test_render_evidence_matches_eager_sentences(criteria):
    sites = simulate.cohort(30, seed=11, both_sides=True)
    full = ncs.analyze(sites, criteria)
    lean = ncs.analyze(sites, criteria, reasons=False)
    pd.testing.assert_series_equal(render_evidence(lean), full.patients["evidence"])
    # a few rows, out of order: the same sentences, under their own index labels
    subset = lean.patients.iloc[[40, 3, 17]]
    pd.testing.assert_series_equal(
        render_evidence(lean, subset), full.patients["evidence"].iloc[[40, 3, 17]]
    )


def test_render_evidence_uses_the_run_settings():
    """A lab reference table changes guideline verdicts; the rendered evidence follows it."""
    sites = simulate.cohort(20, seed=4)
    lab = ncs.normative.reference_table()[0].assign(cv_lln_m_s=70.0)  # everything is slow
    full = ncs.analyze(sites, "simon2013", reference=lab)
    lean = ncs.analyze(sites, "simon2013", reference=lab, reasons=False)
    default = ncs.analyze(sites, "simon2013")
    assert not full.patients["evidence"].equals(default.patients["evidence"])
    pd.testing.assert_series_equal(render_evidence(lean), full.patients["evidence"])


def test_lean_result_json_carries_the_evidence():
    sites = simulate.cohort(5, seed=2)
    full = ncs.analyze(sites).to_dict()
    lean = ncs.analyze(sites, reasons=False).to_dict()
    assert [p["evidence"] for p in lean["patients"]] == [p["evidence"] for p in full["patients"]]
    assert lean["patients"] == full["patients"]


def test_render_reasons_matches_eager_sentences():
    sites = simulate.cohort(15, seed=5)
    full = ncs.analyze(sites)
    lean = ncs.analyze(sites, reasons=False)
    pd.testing.assert_series_equal(render_reasons(lean), full.findings["reason"])
    subset = lean.findings.iloc[[3, 70, 5]]
    pd.testing.assert_series_equal(
        render_reasons(lean, subset), full.findings["reason"].iloc[[3, 70, 5]]
    )


# --- chunked files ---------------------------------------------------------------------------


def _sorted(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    return frame.sort_values(keys, kind="stable").reset_index(drop=True)


@pytest.mark.parametrize("chunk_rows", [1, 7, 12, 50, 10_000])
def test_analyze_file_equals_whole_analysis_for_any_chunk_size(tmp_path, chunk_rows):
    sites, _, _ = _cohort_with_bad_rows()
    path = tmp_path / "sites.csv"
    sites.to_csv(path, index=False)
    whole = ncs.analyze(pd.read_csv(path), errors="collect", reasons=False)
    counts = analyze_file(path, tmp_path / "out", chunk_rows=chunk_rows, format="csv")
    assert counts["n_input_rows"] == len(sites)
    assert counts["n_rows_in_segments"] + counts["n_rows_single_site"] + counts[
        "n_rows_rejected"
    ] == len(sites)
    seg = pd.read_csv(tmp_path / "out" / "segments.csv")
    assert seg["distal_row"].tolist() == whole.segments["distal_row"].tolist()
    rej = pd.read_csv(tmp_path / "out" / "rejected.csv")
    assert rej["input_row"].tolist() == whole.rejected["input_row"].tolist()
    pat = pd.read_csv(tmp_path / "out" / "patients.csv")
    want = whole.patients[["patient_id", "scheme", "verdict"]].astype(str)
    got = pat[["patient_id", "scheme", "verdict"]].astype(str)
    pd.testing.assert_frame_equal(
        _sorted(got, ["patient_id", "scheme"]), _sorted(want, ["patient_id", "scheme"])
    )


def test_analyze_file_parquet_round_trip(tmp_path):
    pytest.importorskip("pyarrow")
    sites = simulate.cohort(40, seed=9)
    sites.to_parquet(tmp_path / "sites.parquet")
    counts = analyze_file(tmp_path / "sites.parquet", tmp_path / "out", chunk_rows=25)
    whole = ncs.analyze(sites, reasons=False)
    assert counts["findings"] == len(whole.findings)
    keys = {
        "segments": ["distal_row", "proximal_row"],
        "findings": ["criterion", *FINDING_KEYS],
        "nerves": ["scheme", "patient_id", "nerve", "side"],
        "patients": ["scheme", "patient_id"],
    }
    for name, key in keys.items():
        got = _sorted(pd.read_parquet(tmp_path / "out" / f"{name}.parquet"), key)
        want = _sorted(getattr(whole, name), key)
        pd.testing.assert_frame_equal(
            got, want, check_dtype=False, check_categorical=False, obj=name
        )


def test_analyze_file_refuses_a_file_not_grouped_by_patient(tmp_path):
    sites = simulate.cohort(6, seed=2)
    shuffled = pd.concat([sites.iloc[:30], sites.iloc[[0]], sites.iloc[30:]], ignore_index=True)
    shuffled.loc[30, "site"] = "axilla"
    path = tmp_path / "sites.csv"
    shuffled.to_csv(path, index=False)
    out = tmp_path / "out"
    with pytest.raises(ncs.ValidationError, match="not grouped by patient"):
        analyze_file(path, out, chunk_rows=10, format="csv")
    assert list(out.iterdir()) == []  # nothing written half-way


def test_progress_bar_is_silent_when_not_a_terminal(tmp_path, capsys):
    sites = simulate.cohort(3, seed=2)
    sites.to_csv(tmp_path / "s.csv", index=False)
    analyze_file(tmp_path / "s.csv", tmp_path / "out", chunk_rows=5, format="csv")
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""


def test_cli_batch_writes_every_table(tmp_path, capsys):
    import json

    from ncs.cli import main

    sites = simulate.cohort(5, seed=1)
    sites.to_csv(tmp_path / "s.csv", index=False)
    code = main(
        [
            "batch",
            str(tmp_path / "s.csv"),
            "-d",
            str(tmp_path / "out"),
            "--chunk-rows",
            "7",
            "--format",
            "csv",
        ]
    )
    assert code == 0
    counts = json.loads(capsys.readouterr().out)
    assert counts["n_input_rows"] == len(sites) == counts["n_rows_in_segments"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "findings.csv",
        "nerves.csv",
        "patients.csv",
        "rejected.csv",
        "segments.csv",
        "warnings.csv",
    ]


@pytest.mark.parametrize("chunk_rows", [1, 5, 1000])
def test_analyze_file_skips_rows_of_separators_only(tmp_path, chunk_rows):
    # ";;;;;" (a spreadsheet's empty row saved as CSV) is a blank line, as ncs analyze reads
    # it; batch read it as a row and rejected it for its missing values
    sites = simulate.cohort(3, seed=4)
    lines = sites.to_csv(index=False, sep=";").splitlines()
    blank = ";" * (sites.shape[1] - 1)
    # data rows 0-11 are patient 1, then a blank row (position 12), then the others
    lines = [lines[0], *lines[1:13], blank, *lines[13:], blank]
    path = tmp_path / "sites.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    counts = analyze_file(path, out, chunk_rows=chunk_rows, format="csv", read_options={"sep": ";"})
    assert counts["n_rows_rejected"] == 0
    assert counts["n_input_rows"] == len(sites)
    whole = ncs.analyze(sites, reasons=False)
    assert counts["findings"] == len(whole.findings)
    seg = pd.read_csv(out / "segments.csv")
    # rows after the blank one keep their place in the file (the blank row counted)
    file_rows = np.r_[np.arange(12), np.arange(13, len(sites) + 1)]
    assert sorted(seg["distal_row"]) == sorted(file_rows[whole.segments["distal_row"]])


@pytest.mark.parametrize("second", ["amplitude_mv", "Amplitude_mV"])
def test_analyze_file_refuses_two_columns_of_one_name(tmp_path, second):
    # pandas renamed the second amplitude_mv to amplitude_mv.1 and the batch read the first
    sites = simulate.cohort(2, seed=3)
    sites.insert(len(sites.columns), "extra", 1.0)
    text = sites.to_csv(index=False).replace(",extra\n", f",{second}\n", 1)
    path = tmp_path / "sites.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ncs.ValidationError, match="amplitude_mv"):
        analyze_file(path, tmp_path / "out", format="csv")
    assert not (tmp_path / "out" / "patients.csv").exists()


def test_analyze_file_writes_the_warnings_with_file_rows(tmp_path):
    # the batch wrote no warnings anywhere but standard error: an amplitude typed in µV, a
    # nerve set aside, were in no output file. Rows are the file's (0 = first data row)
    sites = simulate.cohort(4, seed=5)
    sites["amplitude_mv"] = sites["amplitude_mv"].astype(object)
    sites.loc[37, "amplitude_mv"] = 9100.0  # patient 3, µV typed in a mV column
    sites.loc[13, "amplitude_mv"] = "lots"  # patient 1: its nerve is set aside
    path = tmp_path / "sites.csv"
    sites.to_csv(path, index=False)
    counts = analyze_file(path, tmp_path / "out", chunk_rows=12, format="csv")
    warned = pd.read_csv(tmp_path / "out" / "warnings.csv")
    assert counts["warnings"] == len(warned)
    amp = warned[warned["code"] == "implausible_amplitude"]
    assert amp["input_row"].tolist() == [37]
    assert "(row 37)" in amp["message"].item()  # not the row within its chunk (1)
    aside = warned[warned["code"] == "nerves_set_aside"]
    assert aside["patient_id"].tolist() == [sites.loc[13, "patient_id"]]
