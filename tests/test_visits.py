"""Serial studies: a visit column (and study_date) keys every table on (patient, visit)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import ncs
from conftest import FIXTURES, two_sites
from ncs.cli import main
from ncs.errors import ValidationError
from ncs.schema import visit_table
from ncs.testing.strategies import VISITS, serial_studies
from ncs.wide import from_wide, to_wide


def _analyze(sites, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ncs.NcsWarning)
        return ncs.analyze(sites, **kw)


def _two_visits(dates=True) -> pd.DataFrame:
    """MMN01 before treatment (median forearm block) and after (block resolved).

    Labels chosen so that their alphabetical order ("post" < "pre") is not the visit order.
    """
    pre = pd.read_csv(FIXTURES / "mmn_forearm_block.csv")
    post = pre.copy()
    median = post["nerve"] == "median"
    post.loc[median & (post["site"] == "elbow"), ["amplitude_mv", "area_mvms"]] = [7.9, 27.5]
    post.loc[median & (post["site"] == "axilla"), ["amplitude_mv", "area_mvms"]] = [7.7, 27.0]
    pre["visit"], post["visit"] = "pre", "post"
    if dates:
        pre["study_date"], post["study_date"] = "2023-02-01", "2023-08-01"
    return pd.concat([post, pre], ignore_index=True)


def _by_study(result, table):
    frame = getattr(result, table)
    return {k: g.reset_index(drop=True) for k, g in frame.groupby("visit", observed=True)}


def test_each_visit_is_judged_as_if_it_were_alone():
    both = _two_visits()
    result = _analyze(both)
    for visit in ("pre", "post"):
        alone = _analyze(both[both["visit"] == visit])
        for table in ("findings", "nerves", "patients"):
            got = _by_study(result, table)[visit]
            want = _by_study(alone, table)[visit]
            cols = [c for c in want.columns if c not in ("visit", "study_date")]
            pd.testing.assert_frame_equal(
                got[cols].astype(str), want[cols].astype(str), check_dtype=False
            )
    verdicts = result.patients.set_index(["visit", "scheme"])["verdict"].astype(str)
    # hand-worked: before, the median forearm drops 64.6 % (block under both criteria); after,
    # wrist 8.2 -> elbow 7.9 -> axilla 7.7 mV (-3.7 %, -2.5 %, -6.1 % from the wrist), areas
    # 28.5 -> 27.5 -> 27.0 mV·ms: no block anywhere
    assert verdicts["pre", "katz2002"] == "demyelinating"
    assert verdicts["pre", "bouche1995"] == "conduction_block"
    assert verdicts["post", "katz2002"] == "not_demyelinating"
    assert verdicts["post", "bouche1995"] == "no_conduction_block"


def test_visit_column_follows_patient_id_everywhere():
    result = _analyze(_two_visits())
    for table in ("segments", "findings", "nerves", "patients", "sites"):
        cols = list(getattr(result, table).columns)
        assert cols[cols.index("patient_id") + 1] == "visit", table
    assert list(result.patients.columns[:3]) == ["patient_id", "visit", "study_date"]
    assert len(result.patients) == 2 * 2  # (patient, visit, scheme)
    assert result.patients["visit"].dtype == "category"


def test_visits_come_in_date_order_not_label_order():
    result = _analyze(_two_visits())
    assert list(pd.unique(result.patients["visit"].astype(str))) == ["pre", "post"]
    assert list(pd.unique(result.nerves["visit"].astype(str))) == ["pre", "post"]
    table = visit_table(result.sites)
    assert table["visit"].astype(str).tolist() == ["pre", "post"]
    assert table["study_date"].astype(str).tolist() == ["2023-02-01", "2023-08-01"]
    assert table["order_known"].all()


def test_visits_argument_orders_undated_visits():
    result = _analyze(_two_visits(dates=False), visits=["pre", "post"])
    assert list(pd.unique(result.patients["visit"].astype(str))) == ["pre", "post"]
    assert "study_date" not in result.patients.columns
    table = visit_table(result.sites, ["pre", "post"], require_order=True)
    assert table["visit_index"].tolist() == [0, 1]


def test_undated_visits_without_an_order_analyse_but_have_no_known_order():
    result = _analyze(_two_visits(dates=False))  # analysing needs no order
    assert set(result.patients["visit"].astype(str)) == {"pre", "post"}
    table = visit_table(result.sites)
    assert table["order_known"].tolist() == [True, False]
    with pytest.raises(ValidationError, match="order of visit"):
        visit_table(result.sites, require_order=True)


def test_no_visit_column_adds_no_column():
    result = _analyze(pd.read_csv(FIXTURES / "mmn_forearm_block.csv"))
    for table in ("segments", "findings", "nerves", "patients", "sites", "warnings"):
        assert "visit" not in getattr(result, table).columns
        assert "study_date" not in getattr(result, table).columns


def _study(visit, date, patient="P1", amp=(10.0, 5.0)):
    df = two_sites(amp=amp, patient=patient)
    df["visit"] = visit
    df["study_date"] = date
    return df


def test_one_date_per_visit_else_the_rows_are_named():
    df = pd.concat([_study("pre", "2023-01-01"), _study("post", "2023-06-01")])
    df.iloc[1, df.columns.get_loc("study_date")] = "2023-01-02"
    with pytest.raises(ValidationError) as info:
        ncs.validate(df.reset_index(drop=True))
    where = {(p.row, p.column) for p in info.value.problems}
    assert where == {(0, "study_date"), (1, "study_date")}
    assert "rows 0, 1" in info.value.problems[0].message


def test_a_blank_date_takes_its_visits_date():
    df = pd.concat([_study("pre", "2023-01-01"), _study("post", "2023-06-01")])
    df.iloc[1, df.columns.get_loc("study_date")] = None
    valid = ncs.validate(df.reset_index(drop=True))
    assert valid["study_date"].astype(str).tolist()[:2] == ["2023-01-01", "2023-01-01"]


@pytest.mark.parametrize(
    "cell",
    ["01/02/2023", "2023-02-30", "44927", "2023-1-5", "last week"],
)
def test_a_study_date_is_an_iso_date_or_an_error(cell):
    df = _study("pre", cell)
    with pytest.raises(ValidationError, match="YYYY-MM-DD"):
        ncs.validate(df)


@pytest.mark.parametrize(
    "cell",
    [
        "2023-02-01",
        " 2023-02-01 ",
        "2023-02-01T09:30",
        "2023-02-01 09:30:00",
        pd.Timestamp("2023-02-01 09:30"),
    ],
)
def test_dates_and_date_times_give_the_date(cell):
    df = _study("pre", None)
    df["study_date"] = [cell, cell]
    assert ncs.validate(df)["study_date"].astype(str).tolist() == ["2023-02-01"] * 2


def test_a_date_typed_column_is_read():
    df = _study("pre", None)
    df["study_date"] = pd.to_datetime(["2023-02-01", "2023-02-01"])
    assert ncs.validate(df)["study_date"].astype(str).tolist() == ["2023-02-01"] * 2


def test_two_dates_without_a_visit_column_say_to_add_one():
    df = pd.concat([_study("pre", "2023-01-01"), _study("post", "2023-06-01")])
    with pytest.raises(ValidationError, match="no visit column"):
        ncs.validate(df.drop(columns="visit").reset_index(drop=True))


def test_visits_order_problems():
    df = pd.concat([_study("pre", None), _study("post", None)]).reset_index(drop=True)
    df = df.drop(columns="study_date")
    with pytest.raises(ValidationError, match="'post' is not in the visits order"):
        ncs.validate(df, visits=["pre"])
    with pytest.raises(ValidationError, match="twice"):
        ncs.validate(df, visits=["pre", "post", "pre"])
    with pytest.raises(ValidationError, match="list of visit labels"):
        ncs.validate(df, visits="pre,post")
    with pytest.raises(ValidationError, match="no visit column"):
        ncs.validate(df.drop(columns="visit"), visits=["pre", "post"])


def test_dates_and_a_visits_order_must_agree():
    df = pd.concat([_study("pre", "2023-01-01"), _study("post", "2023-06-01")])
    df = df.reset_index(drop=True)
    ncs.validate(df, visits=["pre", "post"])
    with pytest.raises(ValidationError, match="earlier"):
        ncs.validate(df, visits=["post", "pre"])


def test_same_day_visits_are_ordered_by_the_visits_argument():
    df = pd.concat([_study("a", "2023-01-01"), _study("b", "2023-01-01")]).reset_index(drop=True)
    assert not visit_table(ncs.validate(df))["order_known"].all()
    table = visit_table(ncs.validate(df), visits=["b", "a"], require_order=True)
    assert table["visit"].astype(str).tolist() == ["b", "a"]
    # without the order: the message says the two share a date (not "give a study_date")
    with pytest.raises(ValidationError) as info:
        visit_table(ncs.validate(df), require_order=True)
    messages = " ".join(p.message for p in info.value.problems)
    assert "same study_date (2023-01-01) as another visit" in messages
    assert "give a study_date for every visit" not in messages
    undated = pd.concat([_study("a", None), _study("b", None)]).reset_index(drop=True)
    with pytest.raises(ValidationError, match="give a study_date for every visit"):
        visit_table(ncs.validate(undated), require_order=True)


def test_a_blank_visit_is_an_error():
    df = pd.concat([_study("pre", None), _study("post", None)]).reset_index(drop=True)
    df.loc[3, "visit"] = " "
    with pytest.raises(ValidationError) as info:
        ncs.validate(df)
    assert {(p.row, p.column) for p in info.value.problems} == {(3, "visit")}


def test_collect_sets_aside_the_nerve_of_a_bad_date_only():
    df = pd.concat([_study("pre", "2023-01-01"), _study("post", "2023-06-01")])
    df = df.reset_index(drop=True)
    df.loc[2, "study_date"] = "June"
    result = _analyze(df, errors="collect")
    assert result.rejected["input_row"].tolist() == [2, 3]
    assert result.patients["visit"].astype(str).unique().tolist() == ["pre"]


def test_same_site_at_two_visits_is_not_a_duplicate():
    df = pd.concat([_study("pre", None), _study("post", None)]).reset_index(drop=True)
    ncs.validate(df)  # without a visit column the same rows would be duplicates
    with pytest.raises(ValidationError, match="second row for the same site"):
        ncs.validate(df.drop(columns=["visit", "study_date"]))


def test_side_typo_warning_is_per_visit():
    pre = _study("pre", None)
    post = _study("post", None)
    pre, post = pre.iloc[[0]], post.iloc[[0]].assign(side="L")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ncs.NcsWarning)
        ncs.analyze(pd.concat([pre, post], ignore_index=True))
    assert not [w for w in caught if "one site on each side" in str(w.message)]


def test_warnings_name_the_visit():
    df = pd.concat([_study("pre", None), _study("post", None)]).reset_index(drop=True)
    df.loc[3, "amplitude_mv"] = 500.0  # not a CMAP: warned, not judged
    result = _analyze(df)
    warned = result.warnings
    assert list(warned.columns[:4]) == ["code", "message", "patient_id", "visit"]
    assert warned["visit"].astype(str).tolist() == ["post"]


def test_json_schema_and_round_trip():
    jsonschema = pytest.importorskip("jsonschema")
    from ncs.io import from_json, json_schema

    result = _analyze(_two_visits())
    doc = json.loads(result.to_json())
    jsonschema.validate(doc, json_schema())
    assert doc["patients"][0]["visit"] == "pre"
    assert doc["patients"][0]["study_date"] == "2023-02-01"
    again = from_json(doc)
    pd.testing.assert_frame_equal(again.patients, result.patients)


def test_render_evidence_per_visit():
    from ncs.analyze import render_evidence

    both = _two_visits()
    lean = _analyze(both, reasons=False)
    full = _analyze(both)
    assert render_evidence(lean).equals(full.patients["evidence"])


def test_summary_names_each_visit():
    text = _analyze(_two_visits()).summary()
    assert text.index("visit pre (2023-02-01)") < text.index("visit post (2023-08-01)")


def test_compare_keys_on_visits():
    from ncs.compare import compare

    comp = compare(_two_visits(), criteria=["katz2002", "bouche1995"], n_draws=20)
    assert comp.patients[["patient_id", "visit"]].astype(str).values.tolist() == [
        ["MMN01", "pre"],
        ["MMN01", "post"],
    ]
    assert "visit" in comp.patient_robustness.columns


def test_wide_round_trip_keeps_visits():
    both = _two_visits()
    wide = to_wide(both)
    assert list(wide.columns[:3]) == ["patient_id", "visit", "study_date"]
    back = from_wide(wide)
    a, b = _analyze(both), _analyze(back)
    cols = ["patient_id", "visit", "study_date", "scheme", "verdict"]
    pd.testing.assert_frame_equal(a.patients[cols], b.patients[cols])


def test_wide_sheet_with_visit_and_exam_date_headers():
    wide = to_wide(_two_visits())
    wide = wide.rename(
        columns={"patient_id": "Patient", "visit": "Visit", "study_date": "Exam Date"}
    )
    tidy = from_wide(wide)
    assert {"visit", "study_date"} <= set(tidy.columns)


def test_cli_text_and_validate(tmp_path, capsys):
    path = tmp_path / "serial.csv"
    _two_visits(dates=False).to_csv(path, index=False)
    assert main(["validate", str(path)]) == 0
    assert "1 patients (2 visits)" in capsys.readouterr().out
    assert main(["analyze", str(path), "--visits", "pre,post"]) == 0
    out = capsys.readouterr().out
    assert out.index("== patient MMN01, visit pre") < out.index("== patient MMN01, visit post")
    assert main(["analyze", str(path), "--visits", "pre"]) == 2
    assert "'post' is not in the visits order" in capsys.readouterr().err


def test_cli_verdict_table_in_visit_order(tmp_path, capsys):
    from ncs.cli import render_verdicts

    text = render_verdicts(_analyze(_two_visits()))
    lines = text.splitlines()
    assert lines[0].startswith("patient / visit")
    assert lines[1].startswith("MMN01 / pre") and lines[2].startswith("MMN01 / post")


# --------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------


def _tables(result):
    seg = result.segments.drop(columns=["distal_row", "proximal_row"])
    return seg, result.findings, result.nerves, result.patients


@given(serial_studies(max_patients=2))
def test_splitting_by_visit_never_changes_a_verdict(sites):
    together = _analyze(sites)
    for visit in VISITS:
        part = sites[sites["visit"] == visit]
        if part.empty:
            continue
        alone = _analyze(part.reset_index(drop=True))
        for a, b in zip(_tables(together), _tables(alone), strict=True):
            a = a[a["visit"] == visit].reset_index(drop=True)
            cols = [c for c in a.columns if c not in ("visit", "study_date")]
            pd.testing.assert_frame_equal(
                a[cols].astype(str), b.reset_index(drop=True)[cols].astype(str)
            )


@given(serial_studies(), st.randoms(use_true_random=False))
def test_row_order_never_matters_with_visits(sites, rnd):
    order = list(range(len(sites)))
    rnd.shuffle(order)
    kw = {} if "study_date" in sites.columns else {"visits": list(VISITS)}
    a = _tables(_analyze(sites, **kw))
    b = _tables(_analyze(sites.iloc[order].reset_index(drop=True), **kw))
    for x, y in zip(a, b, strict=True):
        pd.testing.assert_frame_equal(x.reset_index(drop=True), y.reset_index(drop=True))


@given(serial_studies(dates=True))
def test_dated_visits_come_in_date_order(sites):
    patients = _analyze(sites).patients
    for _, rows in patients.groupby(["patient_id", "scheme"], observed=True):
        dates = rows["study_date"].astype(str).tolist()
        assert dates == sorted(dates)
        assert np.all(np.diff([VISITS.index(v) for v in rows["visit"].astype(str)]) > 0)


def test_cli_report_shows_each_visit_and_compares_them(tmp_path):
    path = tmp_path / "serial.csv"
    _two_visits().to_csv(path, index=False)
    out = tmp_path / "r.html"
    assert main(["report", str(path), "-o", str(out), "--no-plots"]) == 0
    page = out.read_text(encoding="utf-8")
    # a page per visit, in date order (not the labels' order: "post" < "pre"), then the
    # follow-up: the median forearm block of MMN01 resolved after treatment
    first, second = page.index("Patient MMN01, visit pre"), page.index("Patient MMN01, visit post")
    assert first < second < page.index("Follow-up of patient MMN01")
    assert "block resolved" in page[second:]
    one = tmp_path / "one.csv"
    _two_visits()[lambda d: d["visit"] == "pre"].to_csv(one, index=False)
    assert main(["report", str(one), "-o", str(tmp_path / "r1.html"), "--no-plots"]) == 0
    assert "nothing to compare" in (tmp_path / "r1.html").read_text(encoding="utf-8")
