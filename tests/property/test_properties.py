"""Hypothesis properties: invariances, monotonicity, and errors only as ValidationError."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from hypothesis import assume, given
from hypothesis import strategies as st

import ncs
from ncs.testing.strategies import SITES, studies

RANK = {"not_applicable": -1, "no": 0, "not_assessable": 1, "probable": 2, "yes": 3}


def _analyze(sites, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ncs.NcsWarning)
        return ncs.analyze(sites, **kw)


def _comparable(res):
    seg = res.segments.drop(columns=["distal_row", "proximal_row"])
    return seg, res.findings, res.nerves, res.patients


@given(studies(), st.randoms(use_true_random=False))
def test_row_order_never_changes_results(sites, rnd):
    order = list(range(len(sites)))
    rnd.shuffle(order)
    a = _comparable(_analyze(sites))
    b = _comparable(_analyze(sites.iloc[order].reset_index(drop=True)))
    for x, y in zip(a, b, strict=True):
        pd.testing.assert_frame_equal(x.reset_index(drop=True), y.reset_index(drop=True))


@given(studies())
def test_microvolts_declared_never_change_verdicts(sites):
    uv = sites.copy()
    uv["amplitude_mv"] = uv["amplitude_mv"] * 1000
    uv["area_mvms"] = uv["area_mvms"] * 1000
    a = _analyze(sites)
    b = _analyze(uv, units={"amplitude": "uV"})
    for col in ("block", "dispersion"):
        assert list(a.findings[col]) == list(b.findings[col])
    assert list(a.patients["verdict"]) == list(b.patients["verdict"])
    np.testing.assert_allclose(
        a.segments["amp_drop_pct"], b.segments["amp_drop_pct"], rtol=0, atol=1e-9
    )


@given(studies(), st.data())
def test_bigger_drop_never_gives_a_milder_block(sites, data):
    candidates = [
        i
        for i in range(len(sites))
        if sites.loc[i, "site"] != SITES[sites.loc[i, "nerve"]][0]
        and sites.loc[i, "response"] == "present"
    ]
    assume(candidates)
    i = data.draw(st.sampled_from(candidates))
    factor = data.draw(st.floats(0.05, 0.99))
    lower = sites.copy()
    lower.loc[i, "amplitude_mv"] = max(round(lower.loc[i, "amplitude_mv"] * factor, 3), 0.001)
    lower.loc[i, "area_mvms"] = lower.loc[i, "area_mvms"] * factor
    a = _analyze(sites)
    b = _analyze(lower)
    key = ["patient_id", "nerve", "side", "distal_site", "proximal_site", "comparison", "criterion"]
    fa = a.findings.set_index(key)
    fb = b.findings.set_index(key)
    site_i = sites.loc[i]
    mask = (
        (fa.index.get_level_values("patient_id") == site_i["patient_id"])
        & (fa.index.get_level_values("nerve") == site_i["nerve"])
        & (fa.index.get_level_values("side") == site_i["side"])
        & (fa.index.get_level_values("proximal_site") == site_i["site"])
    )
    # a value set aside as implausible (a rise beyond any conduction, a value no CMAP has)
    # is not judged at all: monotonicity is a property of judged values
    judged = ~(
        fa.loc[mask, "reason"].str.startswith("not judged")
        | fb.loc[fa.index[mask], "reason"].str.startswith("not judged")
    ).to_numpy()
    before = fa.loc[mask, "block"].map(RANK).astype(int)[judged]
    after = fb.loc[fa.index[mask], "block"].map(RANK).astype(int)[judged]
    assert (after >= before).all()


@given(studies())
def test_more_criteria_never_change_a_criterion(sites):
    both = _analyze(sites)
    katz = _analyze(sites, criteria="katz2002")
    pd.testing.assert_frame_equal(
        both.findings[both.findings["criterion"] == "katz2002"].reset_index(drop=True),
        katz.findings.reset_index(drop=True),
        check_categorical=False,  # a filtered categorical keeps the other criterion's id
    )


_junk = st.one_of(
    st.none(),
    st.just(np.nan),
    st.just(np.inf),
    st.just(""),
    st.just("NR"),
    st.text(max_size=6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-5, 10**6),
)


@given(st.data())
def test_messy_input_raises_only_validation_error(data):
    n = data.draw(st.integers(0, 6))
    columns = data.draw(
        st.lists(
            st.sampled_from(
                [
                    "patient_id",
                    "nerve",
                    "side",
                    "site",
                    "latency_ms",
                    "amplitude_mv",
                    "area_mvms",
                    "duration_ms",
                    "distance_mm",
                    "response",
                    "site_order",
                ]
            ),
            min_size=0,
            max_size=11,
            unique=True,
        )
    )
    table = {}
    for col in columns:
        choices = {
            "nerve": st.one_of(st.sampled_from(["median", "Ulnar", "fibular", "spleen"]), _junk),
            "side": st.one_of(st.sampled_from(["L", "right", "x"]), _junk),
            "site": st.one_of(st.sampled_from(["wrist", "elbow", "below elbow", "axilla"]), _junk),
            "patient_id": st.one_of(st.sampled_from(["A", "B"]), _junk),
        }.get(col, _junk)
        table[col] = data.draw(st.lists(choices, min_size=n, max_size=n))
    df = pd.DataFrame(table)
    try:
        res = _analyze(df)
    except ncs.ValidationError as err:
        assert err.problems
        return
    assert len(res.sites) == n
