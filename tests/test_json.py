"""JSON output: the published JSON Schema, stable keys, and the from_json round trip."""

from __future__ import annotations

import dataclasses
import json
import warnings
from pathlib import Path

import pandas as pd
import pytest

import ncs
from conftest import FIXTURES, ROOT, two_sites
from ncs.analyze import JSON_SCHEMA_VERSION
from ncs.errors import ValidationError
from ncs.io import from_json, json_schema

jsonschema = pytest.importorskip("jsonschema")

FIXTURE_FILES = sorted(FIXTURES.glob("*.csv"))
TABLES = ("sites", "segments", "findings", "nerves", "patients")


def _validator():
    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_schema_is_draft_2020_12_and_docs_copy_is_identical():
    schema = json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["properties"]["schema_version"]["const"] == 2 == JSON_SCHEMA_VERSION
    docs_copy = json.loads((ROOT / "docs" / "analysis.schema.json").read_text(encoding="utf-8"))
    assert docs_copy == schema


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda p: p.stem)
def test_every_fixture_validates(path):
    result = ncs.analyze(ncs.read_sites(path))
    doc = json.loads(result.to_json())
    errors = sorted(_validator().iter_errors(doc), key=str)
    assert not errors, errors[:3]


def test_schema_rejects_what_it_should():
    result = ncs.analyze(ncs.read_sites(FIXTURES / "mmn_forearm_block.csv"))
    validator = _validator()
    good = json.loads(result.to_json())
    for mutate in (
        lambda d: d.pop("patients"),
        lambda d: d.__setitem__("schema_version", 1),
        lambda d: d["findings"][0].__setitem__("block", "maybe"),
        lambda d: d["findings"][0].pop("reason"),
        lambda d: d["segments"][0].__setitem__("amp_drop_pct", "64%"),
        lambda d: d["patients"][0].pop("verdict"),
        lambda d: d["sites"][0].__setitem__("side", "X"),
    ):
        bad = json.loads(json.dumps(good))
        mutate(bad)
        assert not validator.is_valid(bad)


def test_additional_columns_and_keys_are_allowed():
    """The lead adds columns and criteria later: consumers must ignore what they don't know."""
    result = ncs.analyze(ncs.read_sites(FIXTURES / "normal.csv"))
    doc = json.loads(result.to_json())
    doc["patients"][0]["new_column"] = 1.5
    doc["reference"] = {"source": "lab"}
    doc["criteria"][0]["per_nerve"] = {"median": 1}
    assert _validator().is_valid(doc)


def test_stable_top_level_keys():
    result = ncs.analyze(ncs.read_sites(FIXTURES / "normal.csv"))
    doc = json.loads(result.to_json())
    required = set(json_schema()["required"])
    assert required == {
        "schema_version",
        "ncs_version",
        "criteria",
        *TABLES,
        "warnings",
        "rejected",
    }
    assert required <= set(doc)
    assert doc["schema_version"] == 2


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda p: p.stem)
def test_round_trip_every_fixture(path):
    result = ncs.analyze(ncs.read_sites(path))
    again = from_json(result.to_json())
    for table in TABLES:
        pd.testing.assert_frame_equal(getattr(again, table), getattr(result, table))
    assert again.criteria == result.criteria
    assert again.criteria[0] is ncs.CRITERIA[result.criteria[0].id]
    assert again.to_json() == result.to_json()


def test_round_trip_from_a_file_and_a_dict(tmp_path):
    result = ncs.analyze(ncs.read_sites(FIXTURES / "missing_measures.csv"))
    path = tmp_path / "result.json"
    path.write_text(result.to_json(indent=2), encoding="utf-8")
    for source in (path, str(path), json.loads(result.to_json())):
        pd.testing.assert_frame_equal(from_json(source).patients, result.patients)


def test_round_trip_keeps_the_rows_set_aside_and_the_warnings():
    # an analysis of 4 input rows, 2 set aside (a negative amplitude): read back, it still
    # has 4 input rows, the 2 rows set aside as they were, and its warnings
    good = two_sites()
    bad = two_sites(patient="P2", amp=(-1.0, 5.0))
    result = ncs.analyze(pd.concat([good, bad], ignore_index=True), errors="collect")
    assert len(result.rejected) == 2 and result.meta["n_input_rows"] == 4
    again = from_json(result.to_json())
    pd.testing.assert_frame_equal(again.rejected, result.rejected)
    pd.testing.assert_frame_equal(again.warnings, result.warnings)
    assert again.meta["n_input_rows"] == 4
    assert again.to_json() == result.to_json()


def test_round_trip_custom_criterion_and_empty_tables():
    custom = dataclasses.replace(ncs.CRITERIA["katz2002"], id="katz_40", title="Katz at 40%")
    sites = pd.DataFrame(
        {
            "patient_id": ["A"],
            "nerve": ["median"],
            "side": ["R"],
            "site": ["wrist"],
            "latency_ms": [3.0],
            "amplitude_mv": [5.0],
        }
    )
    result = ncs.analyze(sites, criteria=[custom])
    assert result.segments.empty and result.findings.empty
    again = from_json(result.to_json())
    assert again.criteria == (custom,)
    for table in TABLES:
        pd.testing.assert_frame_equal(getattr(again, table), getattr(result, table))


@pytest.mark.parametrize(
    "text",
    ["not json", "[1, 2]", '{"schema_version": 99}', '{"schema_version": 2, "patients": []}'],
)
def test_bad_documents_raise_validation_error(text, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValidationError):
        from_json(path)


def test_missing_file_raises_validation_error():
    with pytest.raises(ValidationError):
        from_json(Path("/nonexistent/result.json"))


def test_a_criterion_that_cannot_be_rebuilt_is_kept_as_a_record():
    """Criteria fields added later (or by other producers) survive: described, not dropped."""
    from ncs.io import CriterionRecord
    from ncs.report import to_html

    result = ncs.analyze(ncs.read_sites(FIXTURES / "mmn_forearm_block.csv"), criteria="katz2002")
    doc = json.loads(result.to_json())
    doc["criteria"][0]["per_nerve_limits"] = {"median": 1.0}
    again = from_json(doc)
    (record,) = again.criteria
    assert isinstance(record, CriterionRecord)
    assert record.id == "katz2002" and record.to_dict() == doc["criteria"][0]
    assert record.citation.doi == "10.1212/wnl.58.4.615"
    assert json.loads(again.to_json())["criteria"] == doc["criteria"]
    assert "demyelinating" in to_html(again, plots=False)


def _slow_value(v):
    """One value as JSON wants it, worked out value by value (the reference)."""
    import datetime
    import math

    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, datetime.date | datetime.timedelta):  # ISO 8601 (pandas' own too)
        return v.isoformat()
    if hasattr(v, "item"):
        v = v.item()
        if isinstance(v, float) and not math.isfinite(v):
            return None
    return v


@pytest.mark.parametrize("pandas_iterator", [True, False])
def test_records_of_every_column_type_match_a_value_by_value_conversion(
    pandas_iterator, monkeypatch
):
    import datetime

    import numpy as np

    from ncs import _codes
    from ncs.analyze import _records

    if not pandas_iterator:  # the public path of the shim gives the same records
        monkeypatch.setattr(_codes, "_ITER_ARRAYS", None)

    frame = pd.DataFrame(
        {
            "cat": pd.Categorical(["b", None, "a"]),
            "num_cat": pd.Categorical([2, 1, None]),
            "f": [1.5, float("nan"), float("inf")],
            "i": np.array([1, 2, 3], dtype=np.int64),
            "b": [True, False, True],
            "nullable_int": pd.array([1, None, 3], dtype="Int64"),
            "nullable_bool": pd.array([True, None, False], dtype="boolean"),
            "s": pd.array(["x", None, "z"], dtype="string"),
            "o": np.array([datetime.date(2024, 1, 2), None, "w"], dtype=object),
            "when": pd.to_datetime(["2024-01-02 09:30", None, "2024-03-04 00:00"]),
            "when_tz": pd.to_datetime(["2024-01-02", "2024-01-03", None]).tz_localize("UTC"),
            "took": pd.to_timedelta([1.5, None, 3.0], unit="s"),
        }
    )
    got = _records(frame)
    expected = [
        {c: _slow_value(frame[c].astype(object).iloc[i]) for c in frame.columns}
        for i in range(len(frame))
    ]
    assert got == expected
    assert json.dumps(got, allow_nan=False)  # plain JSON: no NaN, no numpy scalars
    assert all(type(row["i"]) is int and type(row["b"]) is bool for row in got)
    assert got[0]["num_cat"] == 2 and type(got[0]["num_cat"]) is int


def test_a_follow_up_result_is_named_as_such(tmp_path, capsys):
    from ncs.cli import main

    serial = FIXTURES / "followup_resolved.csv"
    fu = tmp_path / "followup.json"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["followup", str(serial), "-o", str(fu)]) == 0
    with pytest.raises(ncs.ValidationError, match="this is a follow-up result"):
        from_json(fu)
    capsys.readouterr()
    assert main(["report", str(fu), "-o", str(tmp_path / "r.html")]) == 2
    assert "this is a follow-up result" in capsys.readouterr().err
