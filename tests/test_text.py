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
from ncs import _text as tx
from ncs import simulate

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
