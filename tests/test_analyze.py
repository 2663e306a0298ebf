"""analyze(): roll-up to nerves and patients, accounting of rows, JSON output."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import ncs
from conftest import FIXTURES, two_sites
from ncs import simulate


def _study() -> pd.DataFrame:
    """Patient A: ulnar block; patient B: normal median + a one-site tibial nerve."""
    a = two_sites(amp=(10.0, 4.0), area=(30.0, 12.0), dur=(6.0, 6.3), patient="A")
    b = two_sites(
        amp=(9.0, 8.5),
        area=(30.0, 28.0),
        dur=(5.0, 5.2),
        patient="B",
        nerve="median",
        sites=("wrist", "elbow"),
    )
    c = two_sites(
        patient="B", nerve="tibial", sites=("ankle", "popliteal fossa"), amp=(12.0, 10.0)
    ).iloc[[0]]
    return pd.concat([a, b, c], ignore_index=True)


def test_tables_and_keys():
    res = ncs.analyze(_study())
    assert {"segments", "findings", "nerves", "patients"} <= set(vars(res))
    assert list(res.findings.columns[:6]) == [
        "patient_id",
        "nerve",
        "side",
        "distal_site",
        "proximal_site",
        "comparison",
    ]
    assert {"criterion", "block", "dispersion", "reason"} <= set(res.findings.columns)
    assert len(res.findings) == len(res.segments) * 2


def test_every_nerve_appears_including_single_site():
    res = ncs.analyze(_study())
    nerves = res.nerves[res.nerves["scheme"] == "katz2002"].set_index(["patient_id", "nerve"])
    assert nerves.loc[("B", "tibial"), "n_sites"] == 1
    assert nerves.loc[("B", "tibial"), "n_segments"] == 0
    assert nerves.loc[("B", "tibial"), "block"] == "not_assessable"
    assert nerves.loc[("A", "ulnar"), "block"] == "yes"


def test_patient_verdicts_and_evidence():
    res = ncs.analyze(_study())
    p = res.patients.set_index(["patient_id", "scheme"])
    assert p.loc[("A", "katz2002"), "verdict"] == "demyelinating"
    assert p.loc[("A", "bouche1995"), "verdict"] == "conduction_block"
    # the single-site tibial nerve neither carries nor blocks a verdict
    assert p.loc[("B", "katz2002"), "verdict"] == "not_demyelinating"
    assert p.loc[("B", "bouche1995"), "verdict"] == "no_conduction_block"
    ev = p.loc[("A", "bouche1995")]
    assert ev["evidence_nerve"] == "ulnar R"
    assert ev["evidence_segment"] == "wrist to below elbow"
    assert ev["evidence_rule"] == "partial conduction block"
    assert "amplitude fell 60.0% (>50%)" in ev["evidence"]
    assert "Bouche" in ev["citation"]


def test_patient_with_only_single_site_nerves_is_indeterminate():
    res = ncs.analyze(two_sites().iloc[[0]])
    assert set(res.patients["verdict"]) == {"indeterminate"}
    assert len(res.nerves) == 2  # one nerve x two schemes
    assert "one site only" in res.patients["evidence"].iloc[0]


def test_indeterminate_when_unknown_could_meet_the_rule():
    sites = two_sites(amp=(10, 9), area=(np.nan, np.nan), dur=(np.nan, np.nan))
    res = ncs.analyze(sites, criteria="katz2002")
    assert res.patients["verdict"].iloc[0] == "indeterminate"


def test_dispersion_counts_for_katz_patient_but_not_bouche():
    sites = two_sites(amp=(10, 9), area=(30, 28), dur=(5.0, 7.0))  # +40 % duration
    res = ncs.analyze(sites)
    p = res.patients.set_index("scheme")["verdict"]
    assert p["katz2002"] == "demyelinating"
    assert p["bouche1995"] == "no_conduction_block"


def test_every_input_row_accounted_for():
    sites = _study()
    res = ncs.analyze(sites)
    used = set(res.segments["distal_row"]) | set(res.segments["proximal_row"])
    single = res.sites.merge(
        res.nerves[res.nerves["n_segments"] == 0][
            ["patient_id", "nerve", "side"]
        ].drop_duplicates(),
        on=["patient_id", "nerve", "side"],
    )["input_row"]
    assert used | set(single) == set(range(len(sites)))
    assert len(res.sites) == len(sites)


def test_json_round_trip_is_plain_and_stable():
    res = ncs.analyze(_study())
    text = res.to_json()
    data = json.loads(text)
    assert data["schema_version"] == 2
    assert data["ncs_version"] == ncs.__version__
    assert [c["id"] for c in data["criteria"]] == ["katz2002", "bouche1995"]
    assert len(data["findings"]) == len(res.findings)
    assert data["patients"][0]["verdict"] in {"demyelinating", "not_demyelinating", "indeterminate"}
    assert "NaN" not in text
    assert ncs.analyze(_study()).to_json() == text  # deterministic


def test_missing_values_are_null_in_json():
    res = ncs.analyze(two_sites(area=(np.nan, np.nan)))
    seg = res.to_dict()["segments"][0]
    assert seg["area_drop_pct"] is None


def test_empty_input_gives_empty_results():
    empty = two_sites().iloc[:0]
    res = ncs.analyze(empty)
    assert len(res.segments) == len(res.findings) == len(res.patients) == 0


def test_mv_and_uv_give_the_same_verdicts():
    sites = pd.read_csv(FIXTURES / "mmn_forearm_block.csv")
    uv = sites.copy()
    uv["amplitude_mv"] *= 1000
    uv["area_mvms"] *= 1000
    a = ncs.analyze(sites)
    b = ncs.analyze(uv, units={"amplitude": "uV"})
    pd.testing.assert_frame_equal(a.findings, b.findings)
    pd.testing.assert_frame_equal(a.patients, b.patients)


def test_criteria_given_twice_is_an_error():
    with pytest.raises(ValueError):
        ncs.analyze(two_sites(), criteria=["katz2002", "katz2002"])


def test_invalid_input_computes_nothing():
    with pytest.raises(ncs.ValidationError):
        ncs.analyze(two_sites(latency=(5.0, 4.0)))


def test_small_tables_match_the_public_constructor(monkeypatch):
    """The fast constructor of small output tables gives what pd.DataFrame(dict) gives."""
    from ncs import _codes

    sites = simulate.cohort(2, seed=3, both_sides=True)
    fast = ncs.analyze(sites)
    monkeypatch.setattr(_codes, "_FROM_ARRAYS", None)
    public = ncs.analyze(sites)
    for name in ("sites", "segments", "findings", "nerves", "patients"):
        pd.testing.assert_frame_equal(getattr(fast, name), getattr(public, name))
        assert getattr(fast, name)._mgr.nblocks == getattr(public, name)._mgr.nblocks


def test_renaming_one_tables_columns_leaves_the_others_alone():
    a = ncs.analyze(simulate.cohort(1, seed=1))
    b = ncs.analyze(simulate.cohort(1, seed=2))
    a.patients.columns.name = "renamed"
    assert b.patients.columns.name is None


@pytest.mark.parametrize("n_patients", [2, 1000], ids=["small table", "large table"])
def test_extra_columns_keep_their_dtype(monkeypatch, n_patients):
    """Columns ncs does not know pass through with the dtype they came in with, whatever
    the size of the table and whichever constructor builds it."""
    from ncs import _codes

    sites = simulate.cohort(n_patients, seed=3)
    n = len(sites)
    extra = {
        "note": pd.array(["x"] * n, dtype="string"),
        "count": pd.array([1, None] * (n // 2), dtype="Int64"),
        "when": pd.Series(pd.Timestamp("2026-01-01"), index=sites.index),
        "flag": np.ones(n, dtype=bool),
        "text_objects": pd.Series(["t"] * n, dtype=object),
    }
    for name, values in extra.items():
        sites[name] = values
    want = {name: sites[name].dtype for name in extra}
    fast = ncs.analyze(sites).sites
    monkeypatch.setattr(_codes, "_FROM_ARRAYS", None)
    public = ncs.analyze(sites).sites
    for frame in (fast, public):
        assert {name: frame[name].dtype for name in extra} == want
        for name in extra:
            assert frame[name].tolist() == sites[name].tolist()
    pd.testing.assert_frame_equal(fast, public)
