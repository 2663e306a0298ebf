"""Katz 2002 and Bouche 1995 at, just below and just above every threshold.

Expected values are worked from the published rules with exact decimal arithmetic
(``decimal.Decimal``), never from the library's own output.
"""

from __future__ import annotations

import dataclasses
import pickle
from decimal import Decimal

import pandas as pd
import pytest

import ncs
from conftest import two_sites
from ncs.criteria import SegmentRule, Threshold
from ncs.registry import CRITERIA, get_criteria

# Distal values that make the boundary proximal value awkward in binary floating point.
DISTAL_AMPLITUDES = ("10.0", "5.0", "1.0", "0.1", "8.3", "12.7", "3.3", "7.9")


def _at_drop(distal: str, pct: str) -> float:
    """Proximal value that is exactly ``pct`` percent below ``distal`` (decimal arithmetic)."""
    d = Decimal(distal)
    return float(d - d * Decimal(pct) / 100)


def _at_change(distal: str, pct: str) -> float:
    d = Decimal(distal)
    return float(d + d * Decimal(pct) / 100)


def _finding(sites: pd.DataFrame, criterion: str) -> pd.Series:
    result = ncs.analyze(sites, criteria=criterion)
    f = result.findings
    assert len(f) == 1
    return f.iloc[0]


def test_float_trap_is_real():
    # The reason this file exists: naive float arithmetic misjudges the boundary.
    assert (1 - 7.0 / 10.0) * 100 > 30
    assert 5.75 / 5 - 1 < 0.15


# --- Katz 2002: amplitude drop > 30% ---------------------------------------------------


@pytest.mark.parametrize("distal", DISTAL_AMPLITUDES)
def test_katz_amplitude_exactly_30_is_not_block(distal):
    d = float(distal)
    prox = _at_drop(distal, "30")
    # area and duration well clear of their thresholds
    f = _finding(two_sites(amp=(d, prox), area=(30.0, 29.0), dur=(6.0, 6.1)), "katz2002")
    assert f["block"] == "no"


@pytest.mark.parametrize("distal", DISTAL_AMPLITUDES)
@pytest.mark.parametrize("step", ["0.1", "0.01", "0.001"])
def test_katz_amplitude_just_over_30_is_block(distal, step):
    d = float(distal)
    prox = _at_drop(distal, str(Decimal("30") + Decimal(step)))
    f = _finding(two_sites(amp=(d, prox), area=(30.0, 29.0), dur=(6.0, 6.1)), "katz2002")
    assert f["block"] == "yes"


@pytest.mark.parametrize("distal", DISTAL_AMPLITUDES)
@pytest.mark.parametrize("step", ["0.1", "0.01", "0.001"])
def test_katz_amplitude_just_under_30_is_not_block(distal, step):
    d = float(distal)
    prox = _at_drop(distal, str(Decimal("30") - Decimal(step)))
    f = _finding(two_sites(amp=(d, prox), area=(30.0, 29.0), dur=(6.0, 6.1)), "katz2002")
    assert f["block"] == "no"


@pytest.mark.parametrize(
    ("distal", "proximal", "expected"),
    [
        ("30.0", "21.0", "no"),  # exactly 30 %
        ("20.0", "14.0", "no"),
        ("0.3", "0.21", "no"),
        ("30.0", "20.99", "yes"),  # 30.033 %
        ("30.0", "21.01", "no"),  # 29.967 %
        ("12.5", "8.74", "yes"),  # 30.08 %
        ("12.5", "8.76", "no"),  # 29.92 %
    ],
)
def test_katz_area_boundary(distal, proximal, expected):
    # amplitude drop small so that only the area decides
    sites = two_sites(amp=(10.0, 9.5), area=(float(distal), float(proximal)), dur=(6.0, 6.1))
    assert _finding(sites, "katz2002")["block"] == expected


@pytest.mark.parametrize(
    ("distal", "proximal", "expected"),
    [
        ("5.0", "6.5", "no"),  # exactly +30 %
        ("6.0", "7.8", "no"),
        ("4.1", "5.33", "no"),
        ("5.0", "6.51", "yes"),  # +30.2 %
        ("5.0", "6.49", "no"),  # +29.8 %
        ("7.3", "9.4901", "yes"),  # +30.001 %
        ("7.3", "9.4899", "no"),  # +29.999 %
        ("6.0", "3.0", "no"),  # shorter proximal response: not dispersion
    ],
)
def test_katz_dispersion_boundary(distal, proximal, expected):
    sites = two_sites(amp=(10.0, 9.5), area=(30.0, 29.0), dur=(float(distal), float(proximal)))
    f = _finding(sites, "katz2002")
    assert f["dispersion"] == expected
    assert f["block"] == "no"


def test_katz_amplitude_or_area_alone_suffices():
    assert _finding(two_sites(amp=(10, 6), area=(30, 29)), "katz2002")["block"] == "yes"
    assert _finding(two_sites(amp=(10, 9.5), area=(30, 20)), "katz2002")["block"] == "yes"


# --- Bouche 1995: amplitude > 50% AND area > 50% AND |duration change| < 15% -------------


@pytest.mark.parametrize("distal", DISTAL_AMPLITUDES)
def test_bouche_amplitude_exactly_50_is_not_block(distal):
    d = float(distal)
    sites = two_sites(amp=(d, _at_drop(distal, "50")), area=(30.0, 10.0), dur=(6.0, 6.3))
    assert _finding(sites, "bouche1995")["block"] == "no"


@pytest.mark.parametrize("distal", DISTAL_AMPLITUDES)
@pytest.mark.parametrize("step", ["0.1", "0.001"])
def test_bouche_amplitude_around_50(distal, step):
    d = float(distal)
    over = two_sites(
        amp=(d, _at_drop(distal, str(50 + Decimal(step)))), area=(30.0, 10.0), dur=(6.0, 6.3)
    )
    under = two_sites(
        amp=(d, _at_drop(distal, str(50 - Decimal(step)))), area=(30.0, 10.0), dur=(6.0, 6.3)
    )
    assert _finding(over, "bouche1995")["block"] == "yes"
    assert _finding(under, "bouche1995")["block"] == "no"


@pytest.mark.parametrize(
    ("distal", "proximal", "expected"),
    [
        ("30.0", "15.0", "no"),  # exactly 50 %
        ("2.2", "1.1", "no"),
        ("30.0", "14.99", "yes"),
        ("30.0", "15.01", "no"),
        ("0.7", "0.3499", "yes"),
        ("0.7", "0.3501", "no"),
    ],
)
def test_bouche_area_boundary(distal, proximal, expected):
    sites = two_sites(amp=(10.0, 3.0), area=(float(distal), float(proximal)), dur=(6.0, 6.3))
    assert _finding(sites, "bouche1995")["block"] == expected


@pytest.mark.parametrize(
    ("distal", "proximal", "expected"),
    [
        ("5.0", "5.75", "no"),  # exactly +15 %: not under 15 %
        ("4.0", "4.6", "no"),
        ("6.0", "6.9", "no"),
        ("5.0", "4.25", "no"),  # exactly -15 %: a change of 15 % either way
        ("5.0", "5.74", "yes"),  # +14.8 %
        ("5.0", "5.76", "no"),  # +15.2 %
        ("5.0", "4.26", "yes"),  # -14.8 %
        ("5.0", "4.24", "no"),  # -15.2 %
        ("6.6", "7.5899", "yes"),  # +14.998 %
        ("6.6", "7.5901", "no"),  # +15.002 %
    ],
)
def test_bouche_duration_boundary(distal, proximal, expected):
    sites = two_sites(amp=(10.0, 3.0), area=(30.0, 9.0), dur=(float(distal), float(proximal)))
    assert _finding(sites, "bouche1995")["block"] == expected


def test_bouche_needs_both_drops():
    assert _finding(two_sites(amp=(10, 3), area=(30, 20)), "bouche1995")["block"] == "no"
    assert _finding(two_sites(amp=(10, 6), area=(30, 9)), "bouche1995")["block"] == "no"
    assert _finding(two_sites(amp=(10, 3), area=(30, 9)), "bouche1995")["block"] == "yes"


# --- three-valued logic -----------------------------------------------------------------


def test_katz_amplitude_alone_decides_when_area_missing():
    f = _finding(two_sites(amp=(10, 6), area=(float("nan"), float("nan"))), "katz2002")
    assert f["block"] == "yes"


def test_katz_small_amplitude_drop_with_missing_area_is_not_assessable():
    f = _finding(two_sites(amp=(10, 9), area=(float("nan"), float("nan"))), "katz2002")
    assert f["block"] == "not_assessable"
    assert "area unknown" in f["reason"]


def test_katz_missing_duration_dispersion_not_assessable():
    f = _finding(two_sites(amp=(10, 9), area=(30, 29), dur=(6.0, float("nan"))), "katz2002")
    assert f["block"] == "no"
    assert f["dispersion"] == "not_assessable"


def test_bouche_known_failure_rules_out_despite_missing():
    # amplitude drop 10 % already fails the AND rule, whatever the missing area says
    f = _finding(
        two_sites(amp=(10, 9), area=(float("nan"), float("nan")), dur=(float("nan"),) * 2),
        "bouche1995",
    )
    assert f["block"] == "no"


def test_bouche_missing_area_with_big_amplitude_drop_not_assessable():
    f = _finding(two_sites(amp=(10, 3), area=(float("nan"), float("nan"))), "bouche1995")
    assert f["block"] == "not_assessable"


def test_absent_proximal_response_is_100_percent_drop():
    sites = two_sites(
        amp=(4.0, 0.0),
        area=(12.0, 0.0),
        dur=(6.0, float("nan")),
        response=("present", "absent"),
        latency=(3.0, float("nan")),
    )
    res = ncs.analyze(sites)
    seg = res.segments.iloc[0]
    assert seg["amp_drop_pct"] == 100.0
    assert seg["area_drop_pct"] == 100.0
    f = res.findings.set_index("criterion")
    assert f.loc["katz2002", "block"] == "yes"
    # Bouche needs a duration change under 15 %, which cannot be measured without a response
    assert f.loc["bouche1995", "block"] == "not_assessable"


def test_absent_distal_response_is_not_applicable():
    # an absent response is data: an inexcitable nerve cannot show a block, so the rules do
    # not apply (never "unknown")
    sites = two_sites(
        amp=(0.0, 0.0),
        area=(0.0, 0.0),
        dur=(float("nan"),) * 2,
        response=("absent", "absent"),
        latency=(float("nan"),) * 2,
    )
    res = ncs.analyze(sites)
    assert set(res.findings["block"]) == {"not_applicable"}
    assert all("no response at the distal site" in r for r in res.findings["reason"])
    assert set(res.patients["verdict"]) == {"not_demyelinating", "no_conduction_block"}


# --- reasons ------------------------------------------------------------------------------


def test_reason_states_numbers_and_rule():
    f = _finding(two_sites(amp=(8.2, 2.9), area=(28.5, 10.1), dur=(5.4, 5.9)), "bouche1995")
    # 64.6 % / 64.6 % / +9.3 % worked by hand
    assert f["reason"] == (
        "amplitude fell 64.6% (>50%) and area fell 64.6% (>50%) and duration +9.3% "
        "(|change| <15%): partial conduction block (Bouche 1995)"
    )


def test_reason_near_threshold_shows_more_decimals():
    # 30.04 % would print as "30.0% (>30%)" with one decimal: a value is printed with enough
    # decimals never to read as equal to the threshold it is compared with
    f = _finding(two_sites(amp=(10.0, 6.996), area=(30, 29), dur=(6, 6.1)), "katz2002")
    assert f["block"] == "yes"
    assert "amplitude fell 30.04% (>30%)" in f["reason"]
    # 29.96 % is "no" and would print "30.0% (not >30%)"
    f = _finding(two_sites(amp=(10.0, 7.004), area=(30, 29), dur=(6, 6.1)), "katz2002")
    assert f["block"] == "no"
    assert "amplitude fell 29.96% (not >30%)" in f["reason"]
    # exactly on the threshold, one decimal is enough: it is the threshold
    f = _finding(two_sites(amp=(10.0, 7.0), area=(30, 29), dur=(6, 6.1)), "katz2002")
    assert "amplitude fell 30.0% (not >30%)" in f["reason"]


def test_reason_for_a_rise():
    f = _finding(two_sites(amp=(10.0, 11.0), area=(30, 31), dur=(6, 6.1)), "katz2002")
    assert "amplitude rose 10.0% (not >30%)" in f["reason"]


# --- registry -----------------------------------------------------------------------------


def test_registry_contents_and_citations():
    assert set(CRITERIA) >= {"katz2002", "bouche1995"}
    # verdict vocabularies as DESIGN.md states them
    design = {
        "katz2002": {"demyelinating", "not_demyelinating", "indeterminate"},
        "simon2013": {"demyelinating", "not_demyelinating", "indeterminate"},
        "bouche1995": {"conduction_block", "no_conduction_block", "indeterminate"},
        "efns2010_cidp": {"definite", "probable", "possible", "not_met", "indeterminate"},
        "ean2021_cidp": {"strongly_supportive", "weakly_supportive", "not_met", "indeterminate"},
        "efns2010_mmn": {"definite_cb", "probable_cb", "no_cb", "indeterminate"},
        "aan1991_cidp": {"met", "not_met", "indeterminate"},
        "hadden1998_gbs": {"demyelinating", "axonal", "inexcitable", "equivocal", "normal"},
    }
    assert set(CRITERIA) == set(design)
    for c in CRITERIA.values():
        assert c.citation.text
        assert set(c.verdicts) == design[c.id]
        d = c.to_dict()
        assert d["id"] == c.id
    katz = CRITERIA["katz2002"]
    assert [(t.measure, t.op, t.value) for t in katz.block[0].thresholds] == [
        ("amp_drop_pct", ">", 30.0),
        ("area_drop_pct", ">", 30.0),
    ]
    assert katz.block[0].combine == "any"
    bouche = CRITERIA["bouche1995"]
    assert [(t.measure, t.op, t.value, t.absolute) for t in bouche.block[0].thresholds] == [
        ("amp_drop_pct", ">", 50.0, False),
        ("area_drop_pct", ">", 50.0, False),
        ("dur_change_pct", "<", 15.0, True),
    ]
    assert bouche.block[0].combine == "all"


def test_unknown_criterion():
    with pytest.raises(ncs.UnknownCriteriaError, match="katz2002"):
        get_criteria("katz2003")
    with pytest.raises(KeyError):
        ncs.analyze(two_sites(), criteria="nope")


def test_custom_criterion_via_replace():
    katz = CRITERIA["katz2002"]
    strict = dataclasses.replace(
        katz,
        id="katz_40",
        block=(
            SegmentRule(
                outcome="yes",
                combine="any",
                name="conduction block",
                thresholds=(Threshold(measure="amp_drop_pct", op=">", value=40.0),),
            ),
        ),
    )
    sites = two_sites(amp=(10.0, 6.5), area=(30, 29))  # 35 % drop
    res = ncs.analyze(sites, criteria=[katz, strict])
    f = res.findings.set_index("criterion")["block"]
    assert f["katz2002"] == "yes"
    assert f["katz_40"] == "no"
    assert set(res.patients["scheme"]) == {"katz2002", "katz_40"}


def test_threshold_rejects_unknown_operator():
    with pytest.raises(ValueError):
        Threshold(measure="amp_drop_pct", op="=>", value=30)


def test_criteria_pickle():
    for c in CRITERIA.values():
        assert pickle.loads(pickle.dumps(c)) == c


def test_bouche_defines_no_dispersion_rule():
    # no rule of the scheme: not applicable (never "not assessable", which means missing data)
    f = _finding(two_sites(amp=(10, 3), area=(30, 9), dur=(5.0, 9.0)), "bouche1995")
    assert f["dispersion"] == "not_applicable"
    assert f["block"] == "no"


def test_every_criterion_round_trips_through_its_dict():
    from ncs.registry import criterion_from_dict

    for c in CRITERIA.values():
        assert criterion_from_dict(c.to_dict()) == c
    variant = ncs.with_entrapment_sites("efns2010_mmn", exclude=False)
    assert criterion_from_dict(variant.to_dict()) == variant


def test_verdict_classes_cover_every_verdict():
    for c in CRITERIA.values():
        classes = c.verdict_classes
        assert set(classes) == set(c.verdicts)
        assert set(classes.values()) <= {"positive", "negative", "indeterminate"}
        assert "positive" in classes.values() and "negative" in classes.values()
    assert CRITERIA["efns2010_cidp"].verdict_classes["probable"] == "positive"
    assert CRITERIA["efns2010_cidp"].verdict_classes["possible"] == "negative"
    assert CRITERIA["hadden1998_gbs"].verdict_classes["axonal"] == "negative"


def test_scope_references_limit_the_comparisons():
    import dataclasses

    import pandas as pd

    katz = ncs.CRITERIA["katz2002"]
    adjacent_only = dataclasses.replace(
        katz, id="katz_adjacent", scope=dataclasses.replace(katz.scope, comparisons=("adjacent",))
    )
    sites = pd.DataFrame(
        {
            "patient_id": "P",
            "nerve": "ulnar",
            "side": "R",
            "site": ["wrist", "below elbow", "above elbow"],
            "latency_ms": [3.0, 7.0, 9.0],
            "amplitude_mv": [10.0, 8.0, 6.4],  # 20 % per step, 36 % wrist to above elbow
            "area_mvms": [30.0, 24.0, 19.2],
            "duration_ms": [5.0, 5.0, 5.0],
            "distance_mm": [70.0, 200.0, 100.0],
        }
    )
    f = ncs.analyze(sites, criteria=[katz, adjacent_only]).findings
    whole = f[(f["distal_site"] == "wrist") & (f["proximal_site"] == "above elbow")]
    assert whole.set_index("criterion").loc["katz2002", "block"] == "yes"
    assert whole.set_index("criterion").loc["katz_adjacent", "block"] == "not_applicable"
    p = ncs.analyze(sites, criteria=[katz, adjacent_only]).patients.set_index("scheme")
    assert p.loc["katz2002", "verdict"] == "demyelinating"
    assert p.loc["katz_adjacent", "verdict"] == "not_demyelinating"


def test_a_probable_block_makes_an_any_segment_verdict_positive():
    # a custom criterion whose only block rule gives "probable": a segment meeting it is a
    # block for the patient rule "positive if any segment meets the rule"
    katz = ncs.CRITERIA["katz2002"]
    probable = dataclasses.replace(
        katz,
        id="katz_probable",
        block=tuple(dataclasses.replace(r, outcome="probable") for r in katz.block),
        dispersion=None,
    )
    sites = two_sites(amp=(10.0, 6.0), area=(30.0, 18.0), dur=(5.0, 5.0))  # 40 % drops
    res = ncs.analyze(sites, criteria=probable)
    assert res.findings["block"].item() == "probable"
    assert res.patients["verdict"].item() == "demyelinating"
    normal = two_sites(amp=(10.0, 9.0), area=(30.0, 27.0), dur=(5.0, 5.0))
    assert ncs.analyze(normal, criteria=probable).patients["verdict"].item() == "not_demyelinating"
