"""Hypothesis strategies for sites tables: realistic studies, and every way to get one wrong.

For property tests of ncs itself and of adapters that produce sites tables (EDX exports,
spreadsheet converters)::

    from hypothesis import given
    from ncs.testing.strategies import messy_sites

    @given(messy_sites())
    def test_my_adapter(sites): ...

Patient ids start with :data:`SECRET_PREFIX`, so a test can check that no id leaks into an
error message or a warning. Needs ``hypothesis`` (``pip install 'ncs-edx[test]'``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import strategies as st

from ncs.schema import COLUMNS, MAX_INTEGER, NUMERIC

__all__ = [
    "SECRET_PREFIX",
    "SITES",
    "VISITS",
    "extreme_numbers",
    "junk",
    "messy_sites",
    "nerve_rows",
    "serial_studies",
    "studies",
]

#: Every generated patient id starts with this (look for it in messages: it must not be there).
SECRET_PREFIX = "Zsecret"

#: Known sites per nerve, distal to proximal.
SITES: dict[str, list[str]] = {
    "median": ["wrist", "elbow", "axilla", "erb"],
    "ulnar": ["wrist", "below elbow", "above elbow", "axilla"],
    "peroneal": ["ankle", "below fibular head", "popliteal fossa"],
    "tibial": ["ankle", "popliteal fossa"],
    "radial": ["forearm", "elbow"],
}
_KNOWN_COLUMNS: tuple[str, ...] = tuple(c.name for c in COLUMNS)
_TRICKY_TEXT = (
    "",
    " ",
    "NR",
    "nr",
    "absent",
    "nan",
    "NaN",
    "inf",
    "-inf",
    "1e400",
    "-1",
    "0",
    "1,5",
    "=1+1",
    "+SUM(A1)",
    "@cmd",
    "\t",
    "<script>alert(1)</script>",
    '"><img src=x>',
    "μV",
    "wrist",
    "elbow",
    "Median",
    "FIBULAR",
    "left",
    "R",
    "Ω≈ç√",
    "\u200b",
    "😀",
)


def _decimal(lo: float, hi: float, places: int = 2) -> st.SearchStrategy[float]:
    return st.integers(int(lo * 10**places), int(hi * 10**places)).map(lambda v: v / 10**places)


def junk() -> st.SearchStrategy[object]:
    """One cell of anything a spreadsheet or a careless script may hold."""
    return st.one_of(
        st.none(),
        st.just(np.nan),
        st.floats(allow_nan=True, allow_infinity=True),
        st.floats(-1e6, 1e6),
        st.integers(-(2**70), 2**70),
        st.booleans(),
        st.sampled_from(_TRICKY_TEXT),
        st.text(max_size=8),
        st.sampled_from([[1, 2], {"a": 1}, b"bytes", pd.Timestamp("2024-01-01"), 1 + 2j]),
    )


#: Numeric columns of the sites table (every one may get an extreme value).
_NUMERIC_COLUMNS: tuple[str, ...] = NUMERIC


def extreme_numbers() -> st.SearchStrategy[object]:
    """Integers and floats at the edges: beyond int64, near float max and min, signed zeros."""
    return st.one_of(
        st.sampled_from(
            # the largest whole-number key validation accepts, the first it refuses, and
            # the edges of the integer types
            [
                MAX_INTEGER,
                MAX_INTEGER + 1,
                2**53 + 1,
                2**63 - 1,
                2**63,
                2**64,
                -(2**63),
                10**19,
                10**30,
            ]
        ),
        st.sampled_from([1e308, -1e308, 1.7976931348623157e308, 5e-324, 1e-300, -0.0, 0.0]),
        st.integers(-(2**80), 2**80),
        st.floats(allow_nan=False, allow_infinity=False, width=64),
    )


def _patient(i: int) -> str:
    return f"{SECRET_PREFIX}{i:03d}"


@st.composite
def nerve_rows(draw, patient: str, nerve: str, side: str) -> list[dict[str, object]]:
    """Valid rows of one nerve: 1 to all of its known sites, realistic values."""
    n_sites = draw(st.integers(1, len(SITES[nerve])))
    temperature = draw(st.one_of(st.none(), _decimal(26.0, 36.0, 1)))
    rows = []
    latency = draw(_decimal(2.0, 6.0, 1))
    for k in range(n_sites):
        absent = k > 0 and draw(st.integers(0, 7)) == 0
        row: dict[str, object] = {
            "patient_id": patient,
            "nerve": nerve,
            "side": side,
            "site": SITES[nerve][k],
            "response": "absent" if absent else "present",
            "latency_ms": np.nan if absent else latency,
            "amplitude_mv": 0.0 if absent else draw(_decimal(0.1, 20.0)),
            "area_mvms": 0.0 if absent else draw(st.one_of(st.just(np.nan), _decimal(0.2, 60.0))),
            "duration_ms": np.nan
            if absent
            else draw(st.one_of(st.just(np.nan), _decimal(2.0, 15.0))),
            "distance_mm": float(draw(st.integers(60, 400))),
        }
        if temperature is not None:
            row["temperature_c"] = temperature
        rows.append(row)
        latency = round(latency + draw(_decimal(1.5, 12.0, 1)), 1)
    if draw(st.booleans()):
        persistence = draw(st.sampled_from([0.0, 20.0, 80.0, 100.0]))
        rows[0]["f_persistence_pct"] = persistence
        # absent F waves (0 %) have no latency
        rows[0]["f_latency_ms"] = np.nan if persistence == 0 else draw(_decimal(20.0, 70.0, 1))
    return rows


@st.composite
def studies(draw, max_patients: int = 3) -> pd.DataFrame:
    """Valid studies: 1 to ``max_patients`` patients, 1 to 3 nerves each, 1 site or more."""
    rows: list[dict[str, object]] = []
    for p in range(draw(st.integers(1, max_patients))):
        nerves = draw(st.lists(st.sampled_from(sorted(SITES)), min_size=1, max_size=3, unique=True))
        for nerve in nerves:
            side = draw(st.sampled_from(["L", "R"]))
            rows.extend(draw(nerve_rows(_patient(p), nerve, side)))
    df = pd.DataFrame(rows)
    if draw(st.booleans()):  # an explicit site_order (0 = most distal; any spacing)
        step = draw(st.sampled_from([1, 10, 2**20]))
        df["site_order"] = [SITES[r["nerve"]].index(r["site"]) * step for r in rows]
    return df


#: Visit labels of :func:`serial_studies`, in visit order (not the alphabetical order).
VISITS: tuple[str, ...] = ("baseline", "after IVIg", "12 months")


@st.composite
def serial_studies(
    draw, max_patients: int = 3, max_visits: int = 3, dates: bool | None = None
) -> pd.DataFrame:
    """Valid serial studies: each patient studied at 1 to ``max_visits`` visits (labels
    :data:`VISITS`, in that order; ``study_date`` 90 days apart when ``dates``, drawn when
    None), each visit an independent study as :func:`studies` draws it."""
    with_dates = draw(st.booleans()) if dates is None else dates
    rows: list[dict[str, object]] = []
    for p in range(draw(st.integers(1, max_patients))):
        first_day = pd.Timestamp("2020-01-01") + pd.Timedelta(days=draw(st.integers(0, 700)))
        for v in range(draw(st.integers(1, min(max_visits, len(VISITS))))):
            nerves = draw(
                st.lists(st.sampled_from(sorted(SITES)), min_size=1, max_size=3, unique=True)
            )
            for nerve in nerves:
                side = draw(st.sampled_from(["L", "R"]))
                for row in draw(nerve_rows(_patient(p), nerve, side)):
                    row["visit"] = VISITS[v]
                    if with_dates:
                        day = first_day + pd.Timedelta(days=90 * v)
                        row["study_date"] = day.date().isoformat()
                    rows.append(row)
    return pd.DataFrame(rows)


@st.composite
def _corrupted(draw) -> pd.DataFrame:
    """A valid study with some cells, rows or columns made wrong."""
    df = draw(studies()).astype(object)
    n = len(df)
    columns = list(df.columns)
    for _ in range(draw(st.integers(0, 6))):
        col = draw(st.sampled_from([*columns, *_KNOWN_COLUMNS, "extra"]))
        if col not in df.columns:
            df[col] = None
        cells = df[col].to_numpy(dtype=object).copy()
        cells[draw(st.integers(0, n - 1))] = draw(junk())
        df[col] = pd.Series(cells, index=df.index, dtype=object)
    if draw(st.integers(0, 5)) == 0:  # duplicate rows (duplicate keys)
        extra = draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=3))
        df = pd.concat([df, df.iloc[extra]], ignore_index=True)
    if draw(st.integers(0, 7)) == 0:  # a missing column
        df = df.drop(columns=[draw(st.sampled_from(list(df.columns)))])
    if draw(st.integers(0, 5)) == 0:  # huge, negative or tiny numbers in a whole column
        col = draw(st.sampled_from(["latency_ms", "amplitude_mv", "distance_mm", "area_mvms"]))
        if col in df.columns:
            factor = draw(st.sampled_from([-1.0, 1e-3, 1e3, 1e300, 0.0]))
            df[col] = pd.to_numeric(df[col], errors="coerce") * factor
    if draw(st.integers(0, 3)) == 0:  # an extreme number in one cell of a numeric column
        col = draw(st.sampled_from(_NUMERIC_COLUMNS))
        if col not in df.columns:
            df[col] = None
        cells = df[col].to_numpy(dtype=object).copy()
        cells[draw(st.integers(0, len(df) - 1))] = draw(extreme_numbers())
        df[col] = pd.Series(cells, index=df.index, dtype=object)
    if "patient_id" in df.columns and draw(st.integers(0, 4)) == 0:  # numeric patient ids
        keys = [repr(p) for p in df["patient_id"]]
        ids = {k: draw(st.one_of(extreme_numbers(), st.integers(0, 10))) for k in sorted(set(keys))}
        df["patient_id"] = pd.Series([ids[k] for k in keys], index=df.index, dtype=object)
    if draw(st.booleans()):  # row order
        df = df.sample(frac=1.0, random_state=draw(st.integers(0, 2**16))).reset_index(drop=True)
    return df


@st.composite
def _random_table(draw) -> pd.DataFrame:
    """Any columns (known names or not), any cells: 0 to 8 rows."""
    n = draw(st.integers(0, 8))
    names = draw(
        st.lists(
            st.one_of(st.sampled_from(_KNOWN_COLUMNS), st.text(max_size=6)),
            max_size=10,
            unique=True,
        )
    )
    if draw(st.booleans()):  # usually keep the required columns, so that rows get checked
        names = list(dict.fromkeys([*_KNOWN_COLUMNS[:4], "latency_ms", "amplitude_mv", *names]))
    data = {}
    for name in names:
        if name == "patient_id":
            data[name] = [
                draw(st.one_of(st.just(_patient(draw(st.integers(0, 3)))), junk()))
                for _ in range(n)
            ]
        elif name == "nerve":
            data[name] = [draw(st.one_of(st.sampled_from(sorted(SITES)), junk())) for _ in range(n)]
        elif name == "site":
            sites = sorted({s for v in SITES.values() for s in v})
            data[name] = [draw(st.one_of(st.sampled_from(sites), junk())) for _ in range(n)]
        elif name == "side":
            data[name] = [draw(st.one_of(st.sampled_from(["L", "R"]), junk())) for _ in range(n)]
        else:
            data[name] = [draw(junk()) for _ in range(n)]
    return pd.DataFrame(data, index=pd.RangeIndex(n), dtype=object)


def messy_sites() -> st.SearchStrategy[pd.DataFrame]:
    """Sites tables of every kind: valid studies, corrupted ones, and arbitrary tables.

    Covers wrong types, NaN and inf, empty strings, huge and negative numbers, duplicate
    keys, missing columns, unicode, nerves with 0 or 1 site, and lists/dicts/bytes in cells.
    """
    return st.one_of(studies(), _corrupted(), _random_table())
