"""The two text engines (Python lists for short columns, Arrow for long ones) write the same
strings: numbers digit for digit, and every sentence of an analysis."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ncs
from conftest import FIXTURES
from ncs import _codes, simulate
from ncs import _text as tx

pa = pytest.importorskip("pyarrow")


def _both(func, monkeypatch):
    """func() with lists, then with Arrow (every column counts as long)."""
    small = func()
    monkeypatch.setattr(tx, "SMALL", -1)
    large = func()
    monkeypatch.setattr(tx, "SMALL", 2048)
    return small, large


def _plain(text) -> list[str]:
    return text.to_pylist() if isinstance(text, pa.Array) else list(text)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.floats(-1e6, 1e6, allow_nan=False),
            st.just(float("nan")),
            st.sampled_from([0.5, 1.5, 2.5, -0.05, 29.96, 30.04, 19.5, 0.0, -0.0]),
        ),
        min_size=1,
        max_size=30,
    ),
    st.lists(st.integers(0, 6), min_size=1, max_size=30),
    st.booleans(),
)
def test_numbers_are_the_same_digits_in_both_engines(values, decimals, signed):
    v = np.asarray(values, dtype=float)
    d = np.resize(np.asarray(decimals, dtype=np.int64), v.size)
    small = _plain(tx.number(v, d, signed=signed))
    old, tx.SMALL = tx.SMALL, -1
    try:
        large = _plain(tx.number(v, d, signed=signed))
    finally:
        tx.SMALL = old
    assert small == large


def test_numbers_by_hand():
    # half to even at the printed decimal, zero-padded fractions, signs
    v = np.array([2.5, 3.5, 0.05, -1.25, 12.0, float("nan"), -0.04])
    for engine in (2048, -1):
        old, tx.SMALL = tx.SMALL, engine
        try:
            assert _plain(tx.number(v, 0)) == ["2", "4", "0", "-1", "12", "unknown", "0"]
            assert _plain(tx.number(v, [1, 1, 2, 2, 3, 1, 1], signed=True)) == [
                "+2.5",
                "+3.5",
                "+0.05",
                "-1.25",
                "+12.000",
                "unknown",
                "+0.0",
            ]
        finally:
            tx.SMALL = old


def test_infinite_and_huge_numbers_are_written_as_they_are():
    # they used to print "+0.0" (the cast to integer digits overflowed)
    v = np.array([np.inf, -np.inf, 2.5, 1e20, -3e17, float("nan")])
    for engine in (2048, -1):
        old, tx.SMALL = tx.SMALL, engine
        try:
            assert _plain(tx.number(v, 1, signed=True)) == [
                "+inf",
                "-inf",
                "+2.5",
                "+100000000000000000000.0",
                "-300000000000000000.0",
                "unknown",
            ]
            assert _plain(tx.number(v, 0)) == [
                "inf",
                "-inf",
                "2",
                "100000000000000000000",
                "-300000000000000000",
                "unknown",
            ]
        finally:
            tx.SMALL = old


def test_every_operation_takes_a_column_built_in_chunks():
    # a long sentence column is a pyarrow ChunkedArray (tx.chunked); each operation of the kit
    # gives with it what it gives with the same column as one array (is_empty read every
    # chunked row as non-empty, join and where failed)
    rows = ["a", "", "bc", "", "d", "ef"] * 3
    whole = pa.array(rows, pa.large_string())
    chunked = pa.chunked_array([whole.slice(0, 7), whole.slice(7, 5), whole.slice(12)])
    mask = np.arange(len(rows)) % 2 == 0
    index = np.arange(len(rows))[::-1].copy()
    for text in (whole, chunked):
        assert tx.is_empty(text).tolist() == [r == "" for r in rows]
        assert _plain(tx.join(text, "!", text)) == [f"{r}!{r}" for r in rows]
        assert _plain(tx.where(mask, text, "-")) == [
            r if m else "-" for r, m in zip(rows, mask, strict=True)
        ]
        assert _plain(tx.concat([text, text])) == rows + rows
        assert _plain(tx.take(text, index)) == [rows[i] for i in index]
        assert _plain(tx.scatter(text, np.array([1]), ["x"])) == [rows[0], "x", *rows[2:]]
        halves = [(np.arange(9), tx.take(text, np.arange(9))), (np.arange(9, 18), ["z"] * 9)]
        assert _plain(tx.assemble(halves, 18)) == rows[:9] + ["z"] * 9
        assert list(tx.to_pandas(text)) == rows


@pytest.mark.parametrize(
    "sites",
    [
        pd.concat(
            [
                ncs.read_sites(p)
                for p in sorted(FIXTURES.glob("*.csv"))
                if not p.name.startswith("followup_")
            ],
            ignore_index=True,
        ),
        # serial studies: every row has a visit
        pd.concat(
            [ncs.read_sites(p) for p in sorted(FIXTURES.glob("followup_*.csv"))],
            ignore_index=True,
        ),
        simulate.cohort(40, seed=3),
    ],
    ids=["fixtures", "followup fixtures", "cohort"],
)
def test_every_sentence_is_the_same_in_both_engines(sites, monkeypatch):
    def run():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ncs.NcsWarning)
            res = ncs.analyze(sites, criteria="all")
        return list(res.findings["reason"]), list(res.patients["evidence"])

    small, large = _both(run, monkeypatch)
    assert small == large


def test_sentences_built_in_chunks_are_the_same(monkeypatch):
    # a long column's sentences are built CHUNK rows at a time (peak memory); small chunks
    # here, every row's sentence and every patient's evidence (which takes sentences across
    # chunks) as in one piece
    sites = simulate.cohort(60, seed=5)

    def run():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ncs.NcsWarning)
            res = ncs.analyze(sites, criteria="all")
        return list(res.findings["reason"]), list(res.patients["evidence"])

    monkeypatch.setattr(tx, "SMALL", -1)  # Arrow engine, as a cohort
    whole = run()
    monkeypatch.setattr(tx, "CHUNK", 7)
    assert run() == whole
    # a chunk of a long table is a row view (each column gathered when read), also where
    # several rules of a scheme each word their own rows
    monkeypatch.setattr(_codes, "_COMBINE_BELOW", 0)
    assert run() == whole
    chunked = tx.chunked(lambda rows: tx.number(np.arange(20.0)[rows], 0), 20)
    assert isinstance(chunked, pa.ChunkedArray) and chunked.num_chunks == 3
    assert tx.take(chunked, np.array([19, 0, 7, 6, 13, 14])).to_pylist() == [
        "19",
        "0",
        "7",
        "6",
        "13",
        "14",
    ]


def test_kit_operations_agree(monkeypatch):
    def run():
        n = 5
        a = tx.words(["x", "y", ""], np.array([0, 1, 2, 0, 1]))
        b = tx.join(a, "-", tx.number(np.arange(n) / 3, 2))
        c = tx.where(np.array([True, False, True, False, True]), b, "z")
        d = tx.scatter(c, np.array([1, 3]), tx.words(["q"], np.zeros(2, np.int64)))
        e = tx.concat([d, tx.take(d, np.array([4, 0]))])
        keyed = tx.by_key([np.array([1, 2, 1, 2, 3])], lambda k: f"k{k[0]}")
        return _plain(e), list(tx.is_empty(a)), _plain(keyed), list(tx.to_pandas(e))

    small, large = _both(run, monkeypatch)
    assert small == large
    assert small[0] == ["x-0.00", "q", "-0.67", "q", "y-1.33", "y-1.33", "x-0.00"]
    assert small[1] == [False, False, True, False, False]
    assert small[2] == ["k1", "k2", "k1", "k2", "k3"]


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.text(alphabet="ab ,é", max_size=3),  # a plain string (empty ones included)
            st.lists(st.text(alphabet="xyz-µ", max_size=3), min_size=4, max_size=4),
        ),
        min_size=1,
        max_size=3 * tx.JOIN_GROUP,
    ).filter(lambda parts: any(isinstance(p, list) for p in parts))
)
def test_join_of_many_parts_is_plain_concatenation(parts):
    """However many parts (Arrow joins them in groups) and wherever the plain strings and
    empty strings fall, each row is its parts one after another, in both engines."""
    expected = ["".join(p if isinstance(p, str) else p[row] for p in parts) for row in range(4)]
    assert _plain(tx.join(*parts)) == expected
    arrow_parts = [p if isinstance(p, str) else pa.array(p, pa.large_string()) for p in parts]
    assert _plain(tx.join(*arrow_parts)) == expected


def test_row_ids_are_the_same_whether_the_key_fits_one_integer_or_not():
    # three columns; the rows (1, 5, 0) and (1, 5, 0) share an id, ids follow key order
    a = np.array([1, 0, 1, 2, 0, -1])
    b = np.array([5, 7, 5, 0, 7, 3])
    c = np.array([0, 2, 0, 1, 1, 4])
    # the distinct rows in key order: (-1, 3, 4), (0, 7, 1), (0, 7, 2), (1, 5, 0), (2, 0, 1)
    expected = [3, 2, 3, 4, 1, 0]
    assert _codes.row_ids([a, b, c]).tolist() == expected
    huge = np.array([2**40, 0, 2**40, 2**41, 0, -1])  # the combined key would overflow int64
    assert _codes.combined_key([huge, b * 2**30, c]) is None
    assert _codes.row_ids([huge, b * 2**30, c]).tolist() == expected
