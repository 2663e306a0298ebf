"""Each example study gets the verdicts worked by hand in data/fixtures/README.md."""

from __future__ import annotations

import filecmp

import pytest

import ncs
from conftest import FIXTURES, ROOT

# (file, patient, scheme) -> verdict, as stated (and worked by hand) in data/fixtures/README.md
EXPECTED = {
    ("mmn_forearm_block.csv", "MMN01", "katz2002"): "demyelinating",
    ("mmn_forearm_block.csv", "MMN01", "bouche1995"): "conduction_block",
    ("cidp_dispersion.csv", "CIDP01", "katz2002"): "demyelinating",
    ("cidp_dispersion.csv", "CIDP01", "bouche1995"): "no_conduction_block",
    ("als_axonal.csv", "ALS01", "katz2002"): "not_demyelinating",
    ("als_axonal.csv", "ALS01", "bouche1995"): "no_conduction_block",
    ("normal.csv", "NORM01", "katz2002"): "not_demyelinating",
    ("normal.csv", "NORM01", "bouche1995"): "no_conduction_block",
    ("missing_measures.csv", "MISS01", "katz2002"): "indeterminate",
    ("missing_measures.csv", "MISS01", "bouche1995"): "no_conduction_block",
    ("missing_measures.csv", "MISS02", "katz2002"): "demyelinating",
    ("missing_measures.csv", "MISS02", "bouche1995"): "indeterminate",
    ("guideline_examples.csv", "PROB01", "katz2002"): "demyelinating",
    ("guideline_examples.csv", "PROB01", "bouche1995"): "no_conduction_block",
    ("guideline_examples.csv", "PROB01", "efns2010_cidp"): "probable",
    ("guideline_examples.csv", "PROB01", "efns2010_mmn"): "probable_cb",
    ("guideline_examples.csv", "INEX01", "katz2002"): "not_demyelinating",
    ("guideline_examples.csv", "INEX01", "bouche1995"): "no_conduction_block",
    ("guideline_examples.csv", "INEX01", "hadden1998_gbs"): "inexcitable",
    ("guideline_examples.csv", "OPEN01", "katz2002"): "indeterminate",
    ("guideline_examples.csv", "OPEN01", "bouche1995"): "no_conduction_block",
}

# Verdicts under the guideline schemes (the table at the end of data/fixtures/README.md).
SCHEMES = (
    "simon2013",
    "efns2010_cidp",
    "ean2021_cidp",
    "efns2010_mmn",
    "aan1991_cidp",
    "hadden1998_gbs",
)
GUIDELINE_TABLE = {
    ("mmn_forearm_block.csv", "MMN01"): (
        "demyelinating",
        "possible",
        "weakly_supportive",
        "definite_cb",
        "not_met",
        "equivocal",
    ),
    ("cidp_dispersion.csv", "CIDP01"): (
        "demyelinating",
        "definite",
        "strongly_supportive",
        "no_cb",
        "met",
        "demyelinating",
    ),
    ("als_axonal.csv", "ALS01"): (
        "not_demyelinating",
        "possible",
        "weakly_supportive",
        "no_cb",
        "not_met",
        "axonal",
    ),
    ("normal.csv", "NORM01"): (
        "not_demyelinating",
        "not_met",
        "not_met",
        "no_cb",
        "not_met",
        "normal",
    ),
    ("missing_measures.csv", "MISS01"): ("indeterminate",) * 4 + ("not_met", "equivocal"),
    ("missing_measures.csv", "MISS02"): (
        "demyelinating",
        "possible",
        "weakly_supportive",
        "indeterminate",
        "not_met",
        "equivocal",
    ),
    ("guideline_examples.csv", "PROB01"): (
        "demyelinating",
        "probable",
        "strongly_supportive",
        "probable_cb",
        "not_met",
        "normal",
    ),
    ("guideline_examples.csv", "INEX01"): (
        "not_demyelinating",
        "not_met",
        "not_met",
        "no_cb",
        "not_met",
        "inexcitable",
    ),
    ("guideline_examples.csv", "OPEN01"): (
        "demyelinating",
        "indeterminate",
        "indeterminate",
        "no_cb",
        "indeterminate",
        "demyelinating",
    ),
}


@pytest.mark.parametrize(("file", "patient"), sorted(GUIDELINE_TABLE))
def test_fixture_guideline_verdicts(file, patient):
    res = ncs.analyze(ncs.read_sites(FIXTURES / file), criteria=list(SCHEMES))
    p = res.patients[res.patients["patient_id"] == patient].set_index("scheme")["verdict"]
    assert tuple(p[s] for s in SCHEMES) == GUIDELINE_TABLE[(file, patient)]


def test_every_verdict_of_every_scheme_has_a_fixture_patient():
    seen = {s: set() for s in ncs.CRITERIA}
    for (_file, _patient, scheme), v in EXPECTED.items():
        seen[scheme].add(v)
    for verdicts in GUIDELINE_TABLE.values():
        for scheme, v in zip(SCHEMES, verdicts, strict=True):
            seen[scheme].add(v)
    for scheme, crit in ncs.CRITERIA.items():
        assert seen[scheme] == set(crit.verdicts), scheme


@pytest.mark.parametrize(("file", "patient", "scheme"), sorted(EXPECTED))
def test_fixture_verdict(file, patient, scheme):
    res = ncs.analyze(ncs.read_sites(FIXTURES / file), criteria=scheme)
    p = res.patients.set_index(["patient_id", "scheme"])
    assert p.loc[(patient, scheme), "verdict"] == EXPECTED[(file, patient, scheme)]


def test_readme_states_the_same_verdicts():
    readme = (FIXTURES / "README.md").read_text(encoding="utf-8")
    for (file, _patient, scheme), verdict in EXPECTED.items():
        assert f"`{file}`" in readme
        assert f"`{scheme}`: {verdict}" in readme


def test_mmn_block_segment_numbers():
    res = ncs.analyze(ncs.read_sites(FIXTURES / "mmn_forearm_block.csv"))
    seg = res.segments.set_index(["nerve", "distal_site", "proximal_site"]).loc[
        ("median", "wrist", "elbow")
    ]
    assert seg["amp_drop_pct"] == pytest.approx(100 * (8.2 - 2.9) / 8.2)  # 64.63 %
    assert seg["area_drop_pct"] == pytest.approx(100 * (28.5 - 10.1) / 28.5)  # 64.56 %
    assert seg["dur_change_pct"] == pytest.approx(100 * (5.9 - 5.4) / 5.4)  # +9.26 %
    assert seg["cv_m_s"] == pytest.approx(230 / (7.9 - 3.6))


def test_missing_measures_study_keeps_every_nerve():
    res = ncs.analyze(ncs.read_sites(FIXTURES / "missing_measures.csv"))
    katz = res.nerves[res.nerves["scheme"] == "katz2002"].set_index(["patient_id", "nerve"])
    assert katz.loc[("MISS01", "tibial"), "n_segments"] == 0
    # no response at either peroneal site: an absent response is data, and an inexcitable
    # nerve cannot show a block (not applicable, never unknown)
    assert katz.loc[("MISS01", "peroneal"), "block"] == "not_applicable"
    assert katz.loc[("MISS01", "tibial"), "block"] == "not_assessable"  # one site only
    assert len(res.sites) == 11


def test_demo_study_is_the_mmn_fixture():
    assert filecmp.cmp(
        ROOT / "src" / "ncs" / "data" / "demo_study.csv",
        FIXTURES / "mmn_forearm_block.csv",
        shallow=False,
    )
