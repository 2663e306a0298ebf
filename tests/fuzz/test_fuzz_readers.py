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


# --- laboratory reference tables ------------------------------------------------------------

try:  # Arrow-backed columns when pyarrow is installed (it is optional)
    import pyarrow  # noqa: F401

    _ARROW = True
except ImportError:
    _ARROW = False

_REF_NERVES = ["median", "ulnar", "peroneal", "tibial", "Median ", "medianus", "", None, 7]
_REF_MUSCLES = ["APB", "ADM", " apb", "", None, 3.5, "EDB"]
_REF_PARAMETERS = [
    "dml_uln_ms",
    "amp_lln_mv",
    "cv_lln_m_s",
    "f_latency_uln_ms",
    " cv_lln_m_s ",
    "amp_lln_uv",
    "",
    None,
]
_REF_VALUES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["4,4", "4.4", "fifty", "", None, "NR", 0, -1, 4100, 0.0041, True]),
)


@st.composite
def reference_tables(draw) -> pd.DataFrame:
    """A laboratory's reference table, long or wide, as a lab might write it (or slip)."""
    n = draw(st.integers(0, 8))
    slips = draw(st.booleans())  # half the tables as a careful lab writes them
    nerve_names = _REF_NERVES if slips else _REF_NERVES[:5]
    parameters = _REF_PARAMETERS if slips else _REF_PARAMETERS[:5]
    values = _REF_VALUES if slips else st.floats(0.5, 60.0)
    nerves = draw(st.lists(st.sampled_from(nerve_names), min_size=n, max_size=n))
    muscles = draw(st.lists(st.sampled_from(_REF_MUSCLES), min_size=n, max_size=n))
    if draw(st.booleans()):  # long
        table = {
            "nerve": nerves,
            "parameter": draw(st.lists(st.sampled_from(parameters), min_size=n, max_size=n)),
            "value": draw(st.lists(values, min_size=n, max_size=n)),
        }
    else:
        pool = _REF_PARAMETERS[:6] if slips else _REF_PARAMETERS[:4]
        columns = draw(st.lists(st.sampled_from(pool), max_size=5, unique=True))
        table = {"nerve": nerves}
        for col in columns:
            table[col] = draw(st.lists(values, min_size=n, max_size=n))
    if draw(st.booleans()):
        table["muscle"] = muscles
    if slips and draw(st.booleans()):
        table[draw(st.sampled_from(["source", "age_group", "unit"]))] = ["x"] * n
    frame = pd.DataFrame(table)
    if "nerve" in frame and draw(st.booleans()):
        frame = frame.drop(columns="nerve")
    backend = draw(st.sampled_from([None, "numpy_nullable", *(["pyarrow"] if _ARROW else [])]))
    if backend is not None and len(frame.columns):
        frame = frame.convert_dtypes(dtype_backend=backend)
    return frame


@_fixture_ok
@given(table=reference_tables())
def test_any_reference_table_gives_limits_or_a_validation_error(table, fuzz_stats):
    from ncs import normative

    fuzz_stats["reference_tables"] += 1
    try:
        wide, _ = normative.reference_table(table)
    except ncs.ValidationError as err:
        fuzz_stats["reference_validation_errors"] += 1
        for p in err.problems:  # each problem names a row of the table, or none
            assert p.row is None or 0 <= p.row < len(table)
        return
    assert list(wide.columns) == ["nerve", "muscle", *normative.LIMIT_COLUMNS]
    assert wide["muscle"].map(lambda m: m is None or isinstance(m, str)).all()
    for col in normative.LIMIT_COLUMNS:  # every limit is a number in its range, or none
        values = wide[col].to_numpy(dtype=float)
        known = ~pd.isna(values)
        assert not normative.out_of_range(values[known], col).any()
        assert (values[known] > 0).all()
    limits = normative.limits_for(
        wide["nerve"].to_numpy(dtype=object), wide["muscle"].to_numpy(dtype=object), wide
    )
    assert set(limits) == set(normative.LIMIT_COLUMNS)
    fuzz_stats["reference_tables_read"] += 1
    with warnings.catch_warnings():  # a table that reads is one analyze takes
        warnings.simplefilter("ignore")
        result = ncs.analyze(_REF_STUDY, criteria="efns2010_cidp", reference=table)
    assert len(result.nerves) == 2


_REF_STUDY = pd.DataFrame(
    {
        "patient_id": "P",
        "nerve": ["median", "median", "tibial", "tibial"],
        "side": "R",
        "site": ["wrist", "elbow", "ankle", "knee"],
        "latency_ms": [3.6, 7.8, 4.5, 12.0],
        "amplitude_mv": [8.0, 3.0, 10.0, 8.0],
        "area_mvms": [28.0, 10.0, 30.0, 24.0],
        "duration_ms": [5.5, 5.9, 5.5, 6.0],
        "distance_mm": [70, 230, 80, 400],
        "muscle": ["APB", "APB", "AH", "AH"],
    }
)
