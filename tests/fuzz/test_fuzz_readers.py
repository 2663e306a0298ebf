"""Fuzzing the file readers: malformed CSV, JSON and XLSX files end in a table or a
ValidationError, never another exception, and the table then analyses or raises one."""

from __future__ import annotations

import io
import json
import tempfile
import warnings
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ncs
from ncs.testing.strategies import studies

_fixture_ok = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])


def _read_and_analyze(data: bytes, suffix: str, stats) -> None:
    stats["files"] += 1
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"sites{suffix}"
        path.write_bytes(data)
        try:
            sites = ncs.read_sites(path)
        except ncs.ValidationError:
            stats["file_validation_errors"] += 1
            return
        except Exception:
            stats["other_errors"] += 1
            raise
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            result = ncs.analyze(sites, errors="collect")
        except ncs.ValidationError as err:
            assert all(p.row is None for p in err.problems)
            stats["file_validation_errors"] += 1
            return
        except Exception:
            stats["other_errors"] += 1
            raise
    seen = set(result.sites["input_row"]) | set(result.rejected["input_row"])
    stats["rows_lost"] += len(set(range(len(sites))) - seen)
    assert seen == set(range(len(sites)))
    stats["files_analysed"] += 1


def _csv_of(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode("utf-8")


def _mutate(data: bytes, edits: list[tuple[int, int]]) -> bytes:
    buf = bytearray(data)
    for pos, byte in edits:
        if buf:
            buf[pos % len(buf)] = byte
    return bytes(buf)


_edits = st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=8)


@_fixture_ok
@given(data=st.one_of(st.binary(max_size=400), st.text(max_size=400).map(str.encode)))
def test_random_bytes_as_csv_and_json(data, fuzz_stats):
    _read_and_analyze(data, ".csv", fuzz_stats)
    _read_and_analyze(data, ".json", fuzz_stats)


@_fixture_ok
@given(
    sites=studies(max_patients=2),
    edits=_edits,
    inject=st.sampled_from([b",", b";", b"\t", b'"', b"\n", b"\r"]),
)
def test_mutated_csv(sites, edits, inject, fuzz_stats):
    data = _csv_of(sites)
    data = _mutate(data, edits)
    if edits:
        cut = edits[0][0] % (len(data) + 1)
        data = data[:cut] + inject + data[cut:]
    _read_and_analyze(data, ".csv", fuzz_stats)


_json_values = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.floats(allow_nan=False), st.integers(), st.text(max_size=6)
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=20,
)


@_fixture_ok
@given(doc=st.one_of(_json_values, studies(max_patients=2).map(lambda f: f.to_dict("records"))))
def test_odd_json(doc, fuzz_stats):
    data = json.dumps(doc, default=str).encode("utf-8")
    _read_and_analyze(data, ".json", fuzz_stats)


_XLSX: dict[str, bytes] = {}


def _valid_xlsx() -> bytes:
    if "demo" not in _XLSX:
        pytest.importorskip("openpyxl")
        from ncs.cli import demo_path

        buffer = io.BytesIO()
        ncs.read_sites(demo_path()).to_excel(buffer, index=False, engine="openpyxl")
        _XLSX["demo"] = buffer.getvalue()
    return _XLSX["demo"]


@_fixture_ok
@given(edits=_edits)
def test_mutated_xlsx(edits, fuzz_stats):
    _read_and_analyze(_mutate(_valid_xlsx(), edits), ".xlsx", fuzz_stats)
