"""Hadden et al. 1998 GBS classification: every item and class cut-off, worked by hand.

Rule table (criteria compendium section 7.2; limits of :data:`helpers.REFERENCE`):

==========  ===========================================  =====================================
item        rule                                         here
==========  ===========================================  =====================================
MCV         < 90 % LLN (< 85 % if dCMAP < 50 % LLN)       < 45 m/s (< 42.5 m/s if < 2.5 mV)
DML         > 110 % ULN (> 120 % if dCMAP < 100 % LLN)    > 4.4 ms (> 4.8 ms if < 5.0 mV)
CB          pCMAP/dCMAP < 0.5 and dCMAP > 20 % LLN        drop > 50 %, distal > 1.0 mV
F           > 120 % ULN                                   > 36 ms
==========  ===========================================  =====================================

Items are judged only where the distal CMAP is > 10 % of LLN (0.5 mV).
Classes, tried in this order: demyelinating (an item in each of >= 2 nerves, or >= 2 items in
the one excitable nerve); inexcitable (no distal response, or only one nerve with a distal
CMAP < 10 % of LLN); axonal (no item in any nerve and distal CMAP < 80 % of LLN in >= 2
nerves); normal (every nerve: distal CMAP >= LLN, DML <= ULN, F present and <= ULN, MCV >=
LLN, every proximal/distal ratio > 0.5); equivocal otherwise.
"""

from __future__ import annotations

import pytest

import ncs

from .helpers import absent, nerve, param, reference, run, study, verdict

S = "hadden1998_gbs"


# --- items -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amp", "distance", "expected"),
    [
        (10.0, 450.0, "no"),  # 50 m/s LLN x 0.9 = 45 m/s (450 mm / 10 ms): not < 45
        (10.0, 449.0, "yes"),  # 44.9 m/s
        (10.0, 451.0, "no"),  # 45.1 m/s
        (2.5, 449.0, "yes"),  # exactly 50 % of LLN: the 90 % rule
        (2.5, 440.0, "yes"),  # 50 %: the 90 % rule, 44 < 45
        (2.51, 440.0, "yes"),  # 50.2 %: the 90 % rule
        (2.49, 440.0, "no"),  # 49.8 %: the 85 % rule, 44 is not < 42.5
        (2.49, 425.0, "no"),  # < 50 % of LLN: 50 x 0.85 = 42.5 m/s; "<" so 42.5 is not met
        (2.49, 424.0, "yes"),  # 42.4 m/s
        (2.49, 426.0, "no"),  # 42.6 m/s
        (2.4, 440.0, "no"),
    ],
)
def test_velocity(amp, distance, expected):
    sites = nerve("ulnar", (amp, amp), distance=distance, dlat=10.0)
    assert param(sites, S, "cv_slowed", "ulnar") == expected


@pytest.mark.parametrize(
    ("amp", "dml", "expected"),
    [
        (10.0, 4.4, "no"),  # 4.0 ms ULN x 1.1 = 4.4 ms; ">" so 4.4 is not met
        (10.0, 4.41, "yes"),
        (10.0, 4.39, "no"),
        (5.0, 4.41, "yes"),  # exactly the LLN (not < 100 %): the 110 % rule
        (5.01, 4.41, "yes"),  # above the LLN: the 110 % rule
        (4.99, 4.41, "no"),  # below the LLN: the 120 % rule, 4.41 is not > 4.8
        (4.99, 4.8, "no"),  # below the LLN: 4.0 x 1.2 = 4.8 ms; ">" so 4.8 is not met
        (4.99, 4.81, "yes"),
        (4.99, 4.79, "no"),
        (4.9, 4.6, "no"),
    ],
)
def test_distal_latency(amp, dml, expected):
    assert param(nerve("ulnar", (amp, amp), dml=dml), S, "dml_prolonged", "ulnar") == expected


@pytest.mark.parametrize(
    ("f", "expected"), [(36.0, "no"), (36.1, "yes"), (35.9, "no"), (34.0, "no")]
)
def test_f_latency(f, expected):
    # 30 ms ULN x 1.2 = 36 ms; ">" so 36.0 is not met
    assert param(nerve("ulnar", f=f), S, "f_latency_prolonged", "ulnar") == expected


@pytest.mark.parametrize(
    ("amp", "expected"),
    [
        ((10.0, 5.0), "no"),  # ratio 0.5: not < 0.5 (a 50 % drop is not > 50 %)
        ((10.0, 4.99), "yes"),  # ratio 0.499
        ((10.0, 5.01), "no"),  # ratio 0.501
        # 5 mV LLN x 0.2 = 1.0 mV; "dCMAP > 20 % LLN": below or at it the rule does not apply
        ((1.0, 0.3), "not_applicable"),  # distal exactly 20 % of LLN: not > 20 %
        ((1.01, 0.3), "yes"),  # 20.2 % of LLN, ratio 0.297
        ((0.99, 0.3), "not_applicable"),  # 19.8 % of LLN, ratio 0.303
        ((0.9, 0.3), "not_applicable"),  # 18 % of LLN, 67 % drop
        ((0.9, 0.5), "not_applicable"),  # 18 %, 44 %
    ],
)
def test_conduction_block(amp, expected):
    assert run(nerve("ulnar", amp), S).findings["block"].item() == expected


# --- demyelinating ----------------------------------------------------------------------------------

ITEMS = {
    "mcv": {"distance": 400.0, "dlat": 10.0},
    "dml": {"dml": 5.0},
    "cb": {"amp": (10.0, 4.0)},
    "f": {"f": 40.0},
}


@pytest.mark.parametrize("item", list(ITEMS))
def test_an_item_in_each_of_two_nerves_is_demyelinating(item):
    kw = ITEMS[item]
    assert verdict(study(nerve("ulnar", **kw), nerve("median", **kw)), S) == "demyelinating"
    assert verdict(study(nerve("ulnar", **kw), nerve("median")), S) == "equivocal"


def test_two_items_in_the_one_excitable_nerve():
    two = nerve("ulnar", **ITEMS["mcv"], **ITEMS["dml"])
    assert verdict(study(two, absent("median"), absent("peroneal")), S) == "demyelinating"
    one = nerve("ulnar", **ITEMS["mcv"])
    assert verdict(study(one, absent("median"), absent("peroneal")), S) == "equivocal"
    # two items in one nerve when the other nerves respond normally: not enough
    assert verdict(study(two, nerve("median")), S) == "equivocal"


@pytest.mark.parametrize(
    ("amp", "expected"),
    [(0.5, "axonal"), (0.49, "axonal"), (0.51, "demyelinating"), (0.525, "demyelinating")],
)
def test_items_judged_only_above_10_percent_of_lln(amp, expected):
    # two nerves at 40 m/s; 5 mV LLN x 0.1 = 0.5 mV, features judged where dCMAP > 0.5 mV.
    # 0.51 and 0.525 mV (10.2 and 10.5 %): judged; dCMAP < 50 % of LLN, so the 85 % rule:
    # 40 < 42.5 m/s in each of 2 nerves -> demyelinating. At 0.5 mV (exactly 10 %, not more)
    # and 0.49 mV: not judged, so no feature in any nerve; two responding nerves are not
    # inexcitable; both dCMAPs < 80 % of LLN (4.0 mV) -> axonal
    slow = {"distance": 400.0, "dlat": 10.0}
    sites = study(nerve("ulnar", (amp, amp), **slow), nerve("median", (amp, amp), **slow))
    assert verdict(sites, S) == expected


# --- inexcitable, axonal, normal, equivocal ---------------------------------------------------------


def test_inexcitable():
    assert verdict(study(absent("ulnar"), absent("median")), S) == "inexcitable"
    # one nerve responds, under 10 % of LLN (5 mV x 0.1 = 0.5 mV; 0.49 mV is 9.8 %)
    assert verdict(study(nerve("ulnar", (0.49, 0.49)), absent("median")), S) == "inexcitable"
    # at 10 %, 10.2 % and 10.4 % of LLN it is not inexcitable ("< 10 %"). No feature: none
    # is judged at 10 %, and at 10.2-10.4 % the ulnar nerve's DML (3 ms), velocity (57 m/s),
    # F latency (25 ms) and drop (0 %) are normal; the ulnar dCMAP and the absent median one
    # (0 mV) are both < 80 % of LLN (4.0 mV): axonal
    for amp in (0.5, 0.51, 0.52):
        assert verdict(study(nerve("ulnar", (amp, amp)), absent("median")), S) == "axonal", amp
    # two responding nerves, both tiny (6 % of LLN): not inexcitable (that allows only one
    # responding nerve); nothing judged, both < 80 % of LLN: axonal
    tiny = (0.3, 0.3)
    assert verdict(study(nerve("ulnar", tiny), nerve("median", tiny)), S) == "axonal"


def test_a_responding_nerve_with_an_unknown_amplitude_is_excitable():
    # a present response whose distal amplitude is not known (not measured, or set aside as
    # implausible) is excitable: "inexcitable" means no distal response. It was counted as
    # inexcitable (NaN > 0 is false)
    unknown = (float("nan"), 8.0)
    two = study(nerve("ulnar", unknown), nerve("median", unknown))
    # nothing can be judged (dCMAP > 10 % of LLN unknown), two responding nerves: not
    # inexcitable; the other classes need the amplitude: open, equivocal
    assert verdict(two, S) == "equivocal"
    assert "inexcitable" not in _open_classes(two)
    # the only responding nerve, its amplitude unknown: "< 10 % of LLN" is unknown, so
    # inexcitable is possible, not met
    one = study(nerve("ulnar", unknown), absent("median"))
    assert verdict(one, S) == "equivocal"
    assert _open_classes(one).startswith("inexcitable: ")
    # the same with distal amplitudes typed in µV (8200 in a mV table): set aside as
    # implausible, never read as "no response"
    slip = study(nerve("ulnar", (8200.0, 8.0)), nerve("median", (9100.0, 8.0)))
    with pytest.warns(ncs.NcsWarning, match="above 50 mV"):
        assert verdict(slip, S) == "equivocal"


def test_two_nerves_responding_at_one_millivolt_are_axonal_not_inexcitable():
    # 1.0 mV is 20 % of the 5 mV LLN: both nerves respond (excitable), items are judged
    # (> 10 % of LLN) and none is met (DML 3 ms, 57 m/s, F 25 ms, no drop); both distal CMAPs
    # are < 80 % of LLN (4.0 mV): axonal
    low = (1.0, 1.0)
    assert verdict(study(nerve("ulnar", low), nerve("peroneal", low)), S) == "axonal"


def test_axonal():
    assert (
        verdict(study(nerve("ulnar", (3.99, 3.99)), nerve("median", (3.99, 3.99))), S) == "axonal"
    )
    # 80 % and 82 % of LLN: not < 80 %
    assert verdict(study(nerve("ulnar", (4.0, 4.0)), nerve("median", (4.1, 4.1))), S) == "equivocal"
    # 3.99 mV = 79.8 % (axonal above); 4.01 mV = 80.2 % in both: not < 80 %, and under the
    # LLN so not normal either: equivocal
    assert verdict(study(nerve("ulnar", (4.01, 4.01)), nerve("median", (4.01, 4.01))), S) == (
        "equivocal"
    )
    # one low nerve is not enough
    assert verdict(study(nerve("ulnar", (3.0, 3.0)), nerve("median")), S) == "equivocal"
    # a demyelinating item in one nerve rules axonal out
    low_slow = nerve("ulnar", (3.0, 3.0), **ITEMS["mcv"])
    assert verdict(study(low_slow, nerve("median", (3.0, 3.0))), S) == "equivocal"


def test_normal_and_each_of_its_conditions():
    normal = nerve("median")
    assert verdict(study(nerve("ulnar"), normal), S) == "normal"
    edge = {"amp": (5.0, 5.0), "dml": 4.0, "f": 30.0, "distance": 200.0, "dlat": 4.0}
    assert verdict(study(nerve("ulnar", **edge), normal), S) == "normal"  # every limit exactly
    not_normal = [
        {"amp": (4.99, 4.99)},  # distal CMAP under the LLN
        {"dml": 4.01},  # DML over the ULN
        {"f": 30.1},  # F latency over the ULN
        {"f": None, "persistence": 0.0},  # F waves absent
        {"distance": 199.0, "dlat": 4.0},  # 49.75 m/s
        {"amp": (10.0, 5.0)},  # exactly 50 % drop: ratio 0.5 is not > 0.5
    ]
    for kw in not_normal:
        assert verdict(study(nerve("ulnar", **kw), normal), S) == "equivocal", kw
    assert verdict(study(nerve("ulnar", (10.0, 5.01)), normal), S) == "normal"  # ratio 0.501


@pytest.mark.parametrize(
    ("kw", "expected"),
    [
        ({"amp": (5.0, 5.0)}, "normal"),  # distal CMAP = LLN 5 mV: >= LLN
        ({"amp": (5.01, 5.01)}, "normal"),
        ({"amp": (4.99, 4.99)}, "equivocal"),
        ({"dml": 4.0}, "normal"),  # DML = ULN 4 ms: <= ULN
        ({"dml": 3.99}, "normal"),
        ({"dml": 4.01}, "equivocal"),
        ({"f": 30.0}, "normal"),  # F latency = ULN 30 ms: <= ULN
        ({"f": 29.9}, "normal"),
        ({"f": 30.1}, "equivocal"),
        ({"distance": 200.0, "dlat": 4.0}, "normal"),  # 50 m/s = LLN: >= LLN
        ({"distance": 201.0, "dlat": 4.0}, "normal"),  # 50.25 m/s
        ({"distance": 199.0, "dlat": 4.0}, "equivocal"),  # 49.75 m/s
        ({"amp": (10.0, 5.0)}, "equivocal"),  # ratio 0.5: not > 0.5
        ({"amp": (10.0, 5.01)}, "normal"),  # ratio 0.501
        ({"amp": (10.0, 4.99)}, "equivocal"),  # ratio 0.499 (a block in one nerve)
    ],
)
def test_normal_at_just_inside_and_just_outside_each_limit(kw, expected):
    # the other nerve normal; every value just outside a limit is no demyelinating feature
    # in two nerves, no inexcitable or axonal study either: equivocal
    assert verdict(study(nerve("ulnar", **kw), nerve("median")), S) == expected


def test_patient_and_nerve_columns():
    kw = ITEMS["cb"]
    res = run(study(nerve("ulnar", **kw), nerve("median", **kw, f=40.0)), S)
    p = res.patients.iloc[0]
    assert p["verdict"] == "demyelinating"
    assert p["n_positive_findings"] == 2
    assert str(p["evidence_segment"]) == "wrist to elbow"  # the first nerve: median
    n = res.nerves.set_index("nerve")
    assert str(n.loc["median", "parameters_met"]) == "cb,f"
    assert str(n.loc["ulnar", "parameters_met"]) == "cb"
    assert n.loc["ulnar", "n_block_segments"] == 1


def test_unknown_lln_leaves_the_class_open():
    # without an amplitude LLN no item can be judged (dCMAP > 10 % of LLN is unknown), the
    # distal CMAP cannot be called low or normal: no class is met
    ref = reference(amp_lln_mv=float("nan"))
    slow = ITEMS["mcv"]
    assert verdict(study(nerve("ulnar", **slow), nerve("median", **slow)), S, ref) == "equivocal"
    assert verdict(study(nerve("ulnar"), nerve("median")), S, ref) == "equivocal"
    assert verdict(study(nerve("ulnar", (3.0, 3.0)), nerve("median", (3.0, 3.0))), S, ref) == (
        "equivocal"
    )
    assert param(nerve("ulnar", **slow), S, "cv_slowed", "ulnar", ref=ref) == "yes"


def _open_classes(sites, ref=None) -> str:
    """The part of the evidence naming what the missing data could still meet."""
    evidence = run(sites, S, ref).patients["evidence"].item()
    assert evidence.startswith("no class is met on the known data")
    text = evidence.partition("could be met with the missing data: ")[2]
    return text.partition("; not applicable")[0]


def test_what_missing_data_could_still_make_of_a_study():
    slow = ITEMS["mcv"]
    unknown_f = {"f": None, "persistence": None}
    # the one excitable nerve: slowing known, F waves unknown -> two features possible
    one = study(nerve("ulnar", **slow, **unknown_f), absent("median"), absent("peroneal"))
    assert _open_classes(one) == (
        "demyelinating: >= 2 demyelinating features in the one excitable nerve; "
        "(f) F-wave latency prolonged"
    )
    # slowing in one nerve, F waves unknown in the other -> a feature in each of 2 nerves
    two = study(nerve("ulnar", **slow), nerve("median", **unknown_f))
    assert _open_classes(two) == (
        "demyelinating: a demyelinating feature in each of >= 2 nerves; "
        "(f) F-wave latency prolonged"
    )
    # two low nerves, F waves unknown in one -> axonal if that nerve has no feature
    low = study(nerve("ulnar", (3.0, 3.0), **unknown_f), nerve("median", (3.0, 3.0)))
    assert _open_classes(low) == (
        "axonal: no demyelinating feature and distal CMAP < 80% of LLN in >= 2 nerves; "
        "(f) F-wave latency prolonged"
    )
    # no amplitude LLN: low or normal amplitudes are both possible
    ref = reference(amp_lln_mv=float("nan"))
    # ... and slowing in two nerves may or may not be judged (dCMAP > 10 % of LLN unknown)
    slow_two = study(nerve("ulnar", **slow), nerve("median", **slow))
    assert _open_classes(slow_two, ref) == (
        "demyelinating: a demyelinating feature in each of >= 2 nerves; "
        "axonal: no demyelinating feature and distal CMAP < 80% of LLN in >= 2 nerves; "
        "(mcv) motor conduction velocity slowed"
    )
    assert _open_classes(study(nerve("ulnar"), nerve("median")), ref) == (
        "axonal: no demyelinating feature and distal CMAP < 80% of LLN in >= 2 nerves; "
        "normal: every nerve within normal limits"
    )


def _evidence(sites, ref=None) -> str:
    return run(sites, S, ref).patients["evidence"].item()


def test_nothing_left_open_when_the_data_are_complete():
    # the one excitable nerve with one feature, every other item known: no class could be met
    one = study(nerve("ulnar", **ITEMS["mcv"]), absent("median"), absent("peroneal"))
    assert verdict(one, S) == "equivocal"
    assert "could be met" not in _evidence(one)
    # absent F waves in an otherwise normal nerve: not normal, and no item (F latency is not
    # measured): nothing is open either
    no_f = study(nerve("ulnar", f=None, persistence=0.0), nerve("median"))
    assert verdict(no_f, S) == "equivocal"
    assert "could be met" not in _evidence(no_f)


def test_unknown_f_waves_leave_normal_open():
    sites = study(nerve("ulnar", f=None, persistence=None), nerve("median"))
    assert verdict(sites, S) == "equivocal"
    assert _open_classes(sites) == (
        "normal: every nerve within normal limits; (f) F-wave latency prolonged"
    )


def test_axonal_at_exactly_80_percent_of_lln_in_both_nerves():
    assert verdict(study(nerve("ulnar", (4.0, 4.0)), nerve("median", (4.0, 4.0))), S) == (
        "equivocal"
    )


def test_evidence_counts_the_nerves_of_each_item():
    slow = ITEMS["mcv"]
    demyelinating = study(nerve("ulnar", **slow), nerve("median", **slow, f=40.0))
    assert _evidence(demyelinating) == (
        "decided by: demyelinating: a demyelinating feature in each of >= 2 nerves; "
        "also met: (mcv) motor conduction velocity slowed in 2 nerve(s); "
        "(f) F-wave latency prolonged in 1 nerve(s)"
    )


def test_the_reason_names_the_failed_precondition():
    reason = run(nerve("ulnar", (0.9, 0.3)), S).findings["reason"].item()
    assert "0.90 mV = 18% of the limit (not >20% of LLN)" in reason
    assert run(nerve("ulnar", (0.9, 0.3)), S).findings["block"].item() == "not_applicable"
