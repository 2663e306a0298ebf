"""EFNS/PNS 2010 MMN conduction block grades: every rule, worked by hand.

Rule table (criteria compendium section 6.4), all on negative-peak AREA, proximal vs distal:

==============  ==============  ====================  =======================================
grade           area drop       duration increase     where
==============  ==============  ====================  =======================================
definite        >= 50 %         <= 30 %               median, ulnar, peroneal
probable (1)    >= 30 %         <= 30 %               long upper-limb segments (median, ulnar)
probable (2)    >= 50 %         > 30 %                median, ulnar, peroneal
==============  ==============  ====================  =======================================

Every grade needs the distal CMAP of the segment > 20 % of LLN **and** > 1 mV; segments
crossing common entrapment sites (ulnar elbow, peroneal fibular head, wrist) and other nerves
are not considered. Patient: definite_cb / probable_cb when such a block is found in >= 1
nerve (the 2010 count), no_cb when every considered segment is ruled out.
"""

from __future__ import annotations

import numpy as np
import pytest

from .helpers import findings, nerve, reference, run, study, verdict

S = "efns2010_mmn"


def seg(name="ulnar", area=(30.0, 15.0), dur=(5.0, 5.0), amp=(10.0, 10.0)):
    return nerve(name, amp, area=area, dur=dur)


def block(sites, ref=None) -> str:
    return run(sites, S, ref).findings["block"].item()


@pytest.mark.parametrize(
    ("area", "dur", "expected"),
    [
        ((30.0, 15.0), (5.0, 5.0), "yes"),  # 50 %, no duration change: definite
        ((30.0, 14.99), (5.0, 5.0), "yes"),  # 15.01 / 30 = 50.03 %: definite
        ((30.0, 15.0), (5.0, 6.5), "yes"),  # 50 %, 5.0 x 1.3 = 6.5 ms: +30 % (<= 30 %)
        ((30.0, 15.0), (5.0, 6.49), "yes"),  # 50 %, +29.8 %: definite
        ((30.0, 15.0), (5.0, 6.52), "probable"),  # 50 %, +30.4 %: probable rule 2
        ((30.0, 15.01), (5.0, 5.0), "probable"),  # 49.97 %: probable rule 1
        ((30.0, 21.0), (5.0, 5.0), "probable"),  # 9 / 30 = 30 %: >= 30 %
        ((30.0, 20.99), (5.0, 5.0), "probable"),  # 30.03 %
        ((30.0, 21.0), (5.0, 6.5), "probable"),  # 30 %, +30 %
        ((30.0, 21.0), (5.0, 6.49), "probable"),  # 30 %, +29.8 %
        ((30.0, 21.0), (5.0, 6.52), "no"),  # 30 %, +30.4 %: neither probable rule
        ((30.0, 21.01), (5.0, 5.0), "no"),  # 29.97 %
        ((30.0, 15.0), (5.0, 7.0), "probable"),  # 50 %, +40 %: rule 2 (>= 50 %, > 30 %)
        ((30.0, 14.99), (5.0, 7.0), "probable"),  # 50.03 %, +40 %: rule 2
        ((30.0, 15.01), (5.0, 7.0), "no"),  # 49.97 %, +40 %: rule 2 < 50 %, rule 1 > +30 %
        ((30.0, 30.0), (5.0, 8.0), "no"),  # dispersion alone is not a block
        ((30.0, 15.6), (5.0, 7.0), "no"),  # 48 %, +40 %: rule 2 needs >= 50 %
        ((30.0, 6.0), (5.0, 10.0), "probable"),  # 80 %, +100 %
    ],
)
def test_grades_in_an_arm_nerve(area, dur, expected):
    assert block(seg(area=area, dur=dur)) == expected


@pytest.mark.parametrize(
    ("area", "dur", "expected"),
    [
        ((30.0, 15.0), (5.0, 5.0), "yes"),  # 50 %: >= 50 %
        ((30.0, 14.99), (5.0, 5.0), "yes"),  # 50.03 %
        ((30.0, 15.01), (5.0, 5.0), "no"),  # 49.97 %: and no 30 % rule in the leg
        ((30.0, 18.0), (5.0, 5.0), "no"),  # 40 %: the 30 % rule is for upper-limb nerves only
        ((30.0, 15.0), (5.0, 6.5), "yes"),  # 50 %, +30 % (<= 30 %): definite
        ((30.0, 15.0), (5.0, 6.49), "yes"),  # +29.8 %
        ((30.0, 15.0), (5.0, 6.51), "probable"),  # +30.2 %: rule 2
        ((30.0, 15.0), (5.0, 7.0), "probable"),  # 50 % with +40 %: rule 2 is for every nerve
        ((30.0, 14.99), (5.0, 7.0), "probable"),  # 50.03 %, +40 %
        ((30.0, 15.01), (5.0, 7.0), "no"),  # 49.97 %, +40 %
    ],
)
def test_grades_in_the_peroneal_nerve(area, dur, expected):
    assert block(seg("peroneal", area=area, dur=dur)) == expected


@pytest.mark.parametrize("name", ["median", "ulnar"])
def test_probable_rule_1_in_median_and_ulnar(name):
    assert block(seg(name, area=(30.0, 18.0))) == "probable"  # 40 %


@pytest.mark.parametrize("name", ["median", "ulnar", "peroneal"])
def test_definite_block_in_each_listed_nerve(name):
    sites = seg(name)
    assert block(sites) == "yes"
    assert verdict(sites, S) == "definite_cb"


@pytest.mark.parametrize("name", ["tibial", "radial"])
def test_other_nerves_not_considered(name):
    other = seg(name, area=(30.0, 6.0))  # 80 %: outside the scheme's nerves, not judged
    assert block(other) == "not_applicable"
    assert verdict(study(other, seg(area=(30.0, 30.0))), S) == "no_cb"


# --- the distal CMAP floors, one at a time ------------------------------------------------------


@pytest.mark.parametrize(
    ("lln", "amp", "is_block"),
    [
        (4.0, 1.0, False),  # > 20 % of LLN (4 x 0.2 = 0.8 mV) but not > 1 mV
        (4.0, 1.01, True),
        (4.0, 0.99, False),
        (6.0, 1.2, False),  # > 1 mV but exactly 20 % of LLN (6 x 0.2 = 1.2 mV), not more
        (6.0, 1.21, True),  # 20.17 % of LLN
        (6.0, 1.19, False),  # 19.83 % of LLN
        (1.0, 1.0, False),  # a lab LLN of 1.0 mV: the 1-mV floor decides
        (1.0, 1.01, True),
        (1.0, 0.99, False),
        (5.0, 1.0, False),  # both at the limit (5 x 0.2 = 1.0 mV)
        (5.0, 1.01, True),  # 20.2 % of LLN and > 1 mV
        (5.0, 0.9, False),
    ],
)
@pytest.mark.parametrize(
    ("area", "dur", "grade"),
    [
        ((30.0, 15.0), (5.0, 5.0), "yes"),
        ((30.0, 18.0), (5.0, 5.0), "probable"),
        ((30.0, 15.0), (5.0, 7.0), "probable"),
    ],
    ids=["definite", "probable-1", "probable-2"],
)
def test_floors_for_every_grade(lln, amp, is_block, area, dur, grade):
    # a floor not met leaves the segment to no grade's rule: not_applicable
    got = block(seg(area=area, dur=dur, amp=(amp, amp)), reference(amp_lln_mv=lln))
    assert got == (grade if is_block else "not_applicable")


# --- entrapment sites ------------------------------------------------------------------------------


def test_no_block_across_the_ulnar_elbow():
    # wrist / below elbow / above elbow, area 30, 30, 12 mV ms: the 60 % drop is at the elbow
    sites = nerve("ulnar", (10.0, 10.0, 4.0), area=(30.0, 30.0, 12.0))
    got = findings(sites, S)
    assert got[("wrist", "below elbow")] == "no"
    assert got[("below elbow", "above elbow")] == "not_applicable"
    assert got[("wrist", "above elbow")] == "not_applicable"
    assert verdict(sites, S) == "no_cb"


def test_no_block_across_the_fibular_head():
    sites = nerve("peroneal", (10.0, 10.0, 4.0), area=(30.0, 30.0, 12.0))
    got = findings(sites, S)
    assert got[("below fibular head", "popliteal fossa")] == "not_applicable"
    assert verdict(sites, S) == "no_cb"


def test_a_forearm_block_beside_the_elbow_is_found():
    sites = nerve("ulnar", (10.0, 4.0, 4.0), area=(30.0, 12.0, 12.0))
    assert findings(sites, S)[("wrist", "below elbow")] == "yes"
    assert verdict(sites, S) == "definite_cb"


# --- patient verdicts ------------------------------------------------------------------------------


def test_verdicts():
    normal = seg(area=(30.0, 30.0))
    assert verdict(study(seg("median"), normal), S) == "definite_cb"
    assert verdict(study(seg("median", area=(30.0, 18.0)), normal), S) == "probable_cb"
    assert verdict(study(seg("median", area=(30.0, 15.0), dur=(5.0, 7.0)), normal), S) == (
        "probable_cb"
    )
    assert verdict(study(seg("median", area=(30.0, 30.0)), normal), S) == "no_cb"
    # the strongest grade wins
    assert verdict(study(seg("median", area=(30.0, 18.0)), seg()), S) == "definite_cb"


def test_patient_columns():
    sites = study(seg("median", area=(30.0, 18.0)), seg(area=(30.0, 30.0)))
    p = run(sites, S).patients.iloc[0]
    assert p["n_positive_findings"] == 1
    assert str(p["evidence_segment"]) == "wrist to elbow"
    assert str(p["evidence_nerve"]) == "median R"


def test_the_dispersed_probable_rule_is_worded_with_its_own_bounds():
    # area 30 -> 15 mV·ms (50.0 % drop), duration 5 -> 7 ms (+40.0 %): the probable rule for a
    # dispersed block reads "area >= 50 %" and "duration > 30 %", in the finding and in the
    # rule the patient's verdict names (its bounds are the guideline's, worded as written)
    res = run(nerve("ulnar", area=(30, 15), dur=(5, 7)), S)
    assert res.findings["block"].item() == "probable"
    assert "area fell 50.0% (≥50%) and duration +40.0% (>30%)" in res.findings["reason"].item()
    assert (
        "area drop >= 50% and duration increase > 30% (when" in res.patients["verdict_rule"].item()
    )


def test_which_nerves_have_no_distal_response_comes_from_the_nerve_measures():
    # the engine reads the per-nerve flag made by ncs.fwave.nerve_measures; measures without
    # it (the nerves table made without per-nerve measures) know of no absent response
    from ncs import engine

    measures = {"distal_amplitude_mv": np.array([5.0, 5.0])}
    assert engine._absent(measures).tolist() == [False, False]
    measures["distal_absent"] = np.array([True, False])
    assert engine._absent(measures).tolist() == [True, False]
