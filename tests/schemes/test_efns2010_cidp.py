"""EFNS/PNS 2010 CIDP: every rule of the scheme, worked by hand from the guideline's words.

Rule table (criteria compendium section 4; limits of :data:`helpers.REFERENCE`):

====  =========================================  ============================  ====================
item  rule                                       here                          nerve count
====  =========================================  ============================  ====================
(a)   DML >= 50 % above ULN; median not counted  >= 6.0 ms                     2 nerves
(b)   MCV >= 30 % below LLN                      <= 35 m/s                     2 nerves
(c)   F latency >= 30 % above ULN                >= 39 ms                      2 nerves
      (>= 50 % if distal CMAP < 80 % LLN)        (>= 45 ms if < 4.0 mV)
(d)   F waves absent, distal CMAP >= 20 % LLN    >= 1.0 mV                     2 nerves + other
(e)   amplitude drop >= 50 %, distal >= 20 % LLN not across the ulnar elbow,  2, or 1 + other
                                                 not to Erb's point
(f)   duration increase > 30 %                                                 2 nerves
(g)   distal CMAP duration >= 6.6/6.7/7.6/8.8 ms  only with a filter setting   1 + other
prob. amplitude drop >= 30 %, tibial excluded;   distal >= 1.0 mV              2, or 1 + other
      to Erb's point >= 50 % (probable only)
====  =========================================  ============================  ====================

Levels: definite = an item with its count; probable = the probable-CB rule with its count;
possible = an item in one nerve only.
"""

from __future__ import annotations

import pandas as pd
import pytest

import ncs

from .helpers import (
    REFERENCE,
    finding,
    findings,
    nerve,
    nerve_row,
    param,
    reference,
    run,
    study,
    verdict,
)

S = "efns2010_cidp"
SLOW = {"distance": 300.0, "dlat": 10.0}  # 30 m/s: (b)
NORMAL = nerve("peroneal")


# --- (a) distal motor latency -------------------------------------------------------------------


@pytest.mark.parametrize(("dml", "expected"), [(6.0, "yes"), (5.99, "no"), (6.01, "yes")])
def test_a_dml_50_percent_above_uln(dml, expected):
    assert param(nerve("ulnar", dml=dml), S, "dml_prolonged", "ulnar") == expected


def test_a_median_not_counted_but_other_nerves_are():
    assert param(nerve("median", dml=9.0), S, "dml_prolonged", "median") == "not_applicable"
    assert param(nerve("peroneal", dml=9.0), S, "dml_prolonged", "peroneal") == "yes"
    # two nerves with (a), but one is the median: possible, not definite
    assert verdict(study(nerve("median", dml=9.0), nerve("ulnar", dml=9.0)), S) == "possible"
    assert verdict(study(nerve("peroneal", dml=9.0), nerve("ulnar", dml=9.0)), S) == "definite"


# --- (b) velocity --------------------------------------------------------------------------------


@pytest.mark.parametrize(("distance", "expected"), [(350.0, "yes"), (351.0, "no"), (349.0, "yes")])
def test_b_velocity_30_percent_below_lln(distance, expected):
    # <= 0.7 x 50 = 35 m/s; 351 mm / 10 ms = 35.1 m/s
    sites = nerve("ulnar", distance=distance, dlat=10.0)
    assert param(sites, S, "cv_slowed", "ulnar") == expected


# --- (c) F latency -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amp", "f", "expected"),
    [
        (10.0, 39.0, "yes"),  # 30 ms ULN x 1.3 = 39.0 ms; >= so 39.0 is met
        (10.0, 38.9, "no"),
        (10.0, 39.1, "yes"),
        (4.0, 39.0, "yes"),  # exactly 80 % of LLN is not "< 80 %": the 30 % rule
        (4.0, 38.9, "no"),
        (4.01, 39.0, "yes"),  # 4.01 / 5 = 80.2 % of LLN: the 30 % rule, 39 >= 39
        (4.2, 41.0, "yes"),  # 84 % of LLN: still the 30 % rule
        (3.99, 39.0, "no"),  # 79.8 % of LLN, < 80 %: 30 ms x 1.5 = 45.0 ms needed
        (3.99, 44.9, "no"),
        (3.99, 45.0, "yes"),  # >= so 45.0 is met
        (3.99, 45.1, "yes"),
        (3.7, 42.0, "no"),  # 74 % of LLN, 140 % of ULN: the 50 % rule applies
    ],
)
def test_c_f_latency_with_the_low_amplitude_rule(amp, f, expected):
    sites = nerve("median", (amp, amp), f=f)
    assert param(sites, S, "f_latency_prolonged", "median") == expected


@pytest.mark.parametrize(("f", "expected"), [(50.0, "yes"), (40.0, "not_assessable"), (30.0, "no")])
def test_c_unknown_lln_decides_only_where_both_rules_agree(f, expected):
    # no amplitude LLN: which multiplier applies is unknown; 50 ms meets both (39 and 45),
    # 30 ms neither, 40 ms only the 30 % rule
    ref = reference(amp_lln_mv=float("nan"))
    assert param(nerve("median", f=f), S, "f_latency_prolonged", "median", ref=ref) == expected


# --- (d) absent F waves --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amp", "expected"),
    [(1.0, "yes"), (0.99, "not_applicable"), (1.01, "yes"), (5.0, "yes")],
)
def test_d_absent_f_counts_only_with_distal_cmap_20_percent_lln(amp, expected):
    # 5 mV LLN x 0.2 = 1.0 mV; >= so 1.0 mV counts, 0.99 mV (19.8 %) does not
    sites = nerve("ulnar", (amp, amp), f=None, persistence=0.0)
    assert param(sites, S, "f_waves_absent", "ulnar") == expected
    # absent F waves have no latency to be prolonged
    assert param(sites, S, "f_latency_prolonged", "ulnar") == "not_applicable"


ABSENT_F = {"f": None, "persistence": 0.0}


def test_d_needs_two_nerves_and_another_parameter_in_a_third():
    two_absent = [nerve("ulnar", **ABSENT_F), nerve("median", **ABSENT_F)]
    assert verdict(study(*two_absent, nerve("peroneal", **SLOW)), S) == "definite"
    # no other parameter: (d) in two nerves alone is possible only
    assert verdict(study(*two_absent, NORMAL), S) == "possible"
    # the other parameter in one of the two F-absent nerves is not enough
    same = study(nerve("ulnar", **ABSENT_F, **SLOW), nerve("median", **ABSENT_F), NORMAL)
    assert verdict(same, S) == "possible"
    # one F-absent nerve plus another parameter elsewhere is not enough either
    one = study(nerve("ulnar", **ABSENT_F), nerve("median"), nerve("peroneal", **SLOW))
    assert verdict(one, S) == "possible"


# --- (e) definite conduction block and the probable rule -----------------------------------------


@pytest.mark.parametrize(
    ("name", "prox", "block"),
    [
        ("ulnar", 5.0, "yes"),  # 50 % >= 50 %: definite
        ("ulnar", 5.01, "probable"),  # 49.9 %: probable (>= 30 %)
        ("ulnar", 4.99, "yes"),
        ("ulnar", 7.0, "probable"),  # 30 %: >= 30 %
        ("ulnar", 7.01, "no"),  # 29.9 %
        ("ulnar", 6.99, "probable"),  # 30.1 %: >= 30 %, < 50 %
        ("median", 5.0, "yes"),
        ("peroneal", 6.0, "probable"),
        ("tibial", 5.0, "yes"),  # the tibial nerve counts for the 50 % rule
        ("tibial", 4.99, "yes"),  # 50.1 %
        ("tibial", 5.01, "no"),  # 49.9 %: under 50 %, and no probable rule for the tibial
        ("tibial", 6.0, "no"),  # 40 %: tibial excluded from the probable rule
        ("tibial", 6.99, "no"),
    ],
)
def test_e_block_grades(name, prox, block):
    assert run(nerve(name, (10.0, prox)), S).findings["block"].item() == block


@pytest.mark.parametrize(
    ("amp", "is_block"), [(1.0, True), (0.99, False), (1.01, True), (0.9, False)]
)
def test_e_block_needs_distal_cmap_20_percent_lln(amp, is_block):
    # 5 mV LLN x 0.2 = 1.0 mV; >= so 1.0 mV passes, 0.99 mV (19.8 %) and 0.9 mV (18 %) do
    # not. A 44 % drop is the probable grade (>= 30 %, < 50 %), a 67 % drop the definite one;
    # a failed precondition leaves the segment to neither rule: not_applicable
    for prox, grade in ((amp * 0.56, "probable"), (amp * 0.33, "yes")):
        block = run(nerve("ulnar", (amp, prox)), S).findings["block"].item()
        assert block == (grade if is_block else "not_applicable")


def test_e_failed_precondition_is_not_applicable_and_study_not_met():
    low = nerve("ulnar", (0.9, 0.5))  # 18 % of LLN, 44 % drop
    assert run(low, S).findings["block"].item() == "not_applicable"
    # the nerve's only segment is excluded: the item does not apply to this nerve
    assert param(study(low, nerve("median")), S, "conduction_block", "ulnar") == "not_applicable"
    assert verdict(study(low, nerve("median"), NORMAL), S) == "not_met"


def test_no_block_across_the_ulnar_elbow():
    sites = nerve("ulnar", (10.0, 10.0, 2.0))
    got = findings(sites, S)
    assert got[("wrist", "below elbow")] == "no"
    # the 80 % drop is across the elbow: every block rule leaves those segments out
    assert got[("below elbow", "above elbow")] == "not_applicable"
    assert got[("wrist", "above elbow")] == "not_applicable"
    assert param(sites, S, "conduction_block", "ulnar") == "no"
    assert verdict(study(sites, nerve("median")), S) == "not_met"
    # the same drop between the wrist and below the elbow is a block
    assert verdict(study(nerve("ulnar", (10.0, 2.0)), nerve("median", (10.0, 2.0))), S) == (
        "definite"
    )


def test_erb_point_needs_50_percent_and_is_only_probable():
    def erb(prox):
        return nerve("median", (10.0, 10.0, 10.0, prox))

    assert finding(erb(6.0), S, "axilla", "erb") == "no"  # 40 %
    assert finding(erb(6.0), S, "wrist", "erb") == "no"
    assert finding(erb(5.0), S, "axilla", "erb") == "probable"  # 50 %: probable, not definite
    assert finding(erb(5.0), S, "wrist", "erb") == "probable"
    assert finding(erb(5.01), S, "axilla", "erb") == "no"  # 49.9 %
    assert finding(erb(4.99), S, "axilla", "erb") == "probable"  # 50.1 %
    assert finding(erb(2.0), S, "axilla", "erb") == "probable"  # 80 %: still probable


def test_erb_rule_keeps_the_ulnar_elbow_out():
    # wrist -> Erb's point crosses the ulnar elbow, where the 55 % drop is
    sites = nerve("ulnar", (10.0, 10.0, 4.5, 4.5, 4.5))
    got = findings(sites, S)
    assert got[("wrist", "erb")] == "not_applicable"
    assert got[("axilla", "erb")] == "no"
    assert param(sites, S, "probable_conduction_block", "ulnar") == "no"
    assert verdict(study(sites, nerve("median")), S) == "not_met"


def test_erb_rule_needs_distal_cmap_20_percent_lln():
    for amp in (0.9, 0.99):  # 18 % and 19.8 % of LLN, 67-70 % drop
        sites = nerve("median", (amp, amp, amp, 0.3))
        # the Erb's point rule's precondition fails; the other rules leave Erb's point out
        assert finding(sites, S, "axilla", "erb") == "not_applicable"
        assert finding(sites, S, "wrist", "erb") == "not_applicable"
    # 5 mV LLN x 0.2 = 1.0 mV; >= so 1.0 mV (a 70 % drop) passes, and 1.01 mV (70.3 %)
    for amp in (1.0, 1.01):
        ok = nerve("median", (amp, amp, amp, 0.3))
        assert finding(ok, S, "axilla", "erb") == "probable"


# --- (f) temporal dispersion --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prox", "expected"), [(6.5, "no"), (6.51, "yes"), (6.49, "no"), (7.0, "yes")]
)
def test_f_dispersion_over_30_percent(prox, expected):
    # 5.0 ms x 1.3 = 6.5 ms is +30 %: "> 30 %" so not met; 6.51 is +30.2 %, 6.49 +29.8 %
    sites = nerve("ulnar", dur=(5.0, prox))
    assert run(sites, S).findings["dispersion"].item() == expected
    assert param(sites, S, "temporal_dispersion", "ulnar") == expected


def test_f_dispersion_in_two_nerves_is_definite():
    dispersed = {"dur": (5.0, 7.0)}  # +40 %
    two = study(nerve("ulnar", **dispersed), nerve("median", **dispersed))
    assert verdict(two, S) == "definite"
    assert verdict(study(nerve("ulnar", **dispersed), nerve("median")), S) == "possible"
    n = run(two, S).nerves
    assert list(n["n_dispersion_segments"]) == [1, 1]
    assert list(n["parameters_met"].astype(str)) == ["f", "f"]


# --- (g) distal CMAP duration --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "cutoff"), [("median", 6.6), ("ulnar", 6.7), ("peroneal", 7.6), ("tibial", 8.8)]
)
def test_g_distal_duration_at_its_cutoff(name, cutoff):
    def g(duration):
        return param(
            nerve(name, lff=2.0, distal_duration=duration), S, "distal_duration_prolonged", name
        )

    assert g(cutoff) == "yes"  # >= the cut-off
    assert g(round(cutoff - 0.01, 2)) == "no"
    assert g(round(cutoff + 0.01, 2)) == "yes"


def test_g_needs_a_filter_setting():
    sites = nerve("median", distal_duration=9.0)
    assert param(sites, S, "distal_duration_prolonged", "median") == "not_applicable"


def test_g_needs_another_parameter_in_another_nerve():
    g = {"lff": 2.0, "distal_duration": 9.0}
    assert verdict(study(nerve("median", **g), nerve("ulnar", **SLOW)), S) == "definite"
    assert verdict(study(nerve("median", **g), nerve("ulnar")), S) == "possible"
    # (g) in two nerves alone stays possible: (g) is not its own corroboration
    assert verdict(study(nerve("median", **g), nerve("ulnar", **g)), S) == "possible"


# --- nerve-count branches and levels ------------------------------------------------------------


def test_b_in_two_nerves_definite_in_one_possible():
    assert verdict(study(nerve("ulnar", **SLOW), nerve("median", **SLOW)), S) == "definite"
    assert verdict(study(nerve("ulnar", **SLOW), nerve("median")), S) == "possible"


def test_c_in_two_nerves_definite_in_one_possible():
    assert verdict(study(nerve("ulnar", f=40.0), nerve("median", f=40.0)), S) == "definite"
    assert verdict(study(nerve("ulnar", f=40.0), nerve("median")), S) == "possible"


def test_a_in_two_nerves_definite_in_one_possible():
    assert verdict(study(nerve("ulnar", dml=6.0), nerve("peroneal", dml=6.0)), S) == "definite"
    assert verdict(study(nerve("ulnar", dml=6.0), nerve("peroneal")), S) == "possible"


def test_e_in_two_nerves_alone_is_definite():
    two = study(nerve("ulnar", (10.0, 5.0)), nerve("median", (10.0, 5.0)))
    assert verdict(two, S) == "definite"


def test_e_in_one_nerve_plus_another_parameter_elsewhere_is_definite():
    block = nerve("ulnar", (10.0, 4.0))  # 60 %
    assert verdict(study(block, nerve("median", **SLOW)), S) == "definite"
    assert verdict(study(block, nerve("median")), S) == "possible"
    # the other parameter in the blocked nerve itself does not count
    assert verdict(study(nerve("ulnar", (10.0, 4.0), **SLOW), nerve("median")), S) == "possible"
    # absent F waves may corroborate a 2010 definite block
    assert verdict(study(block, nerve("median", **ABSENT_F)), S) == "definite"


def test_probable_block_in_two_nerves_is_probable():
    sites = study(nerve("ulnar", (10.0, 6.0)), nerve("median", (10.0, 6.0)))  # 40 % each
    assert verdict(sites, S) == "probable"


def test_probable_block_plus_another_parameter_elsewhere_is_probable():
    sites = study(nerve("ulnar", (10.0, 6.0)), nerve("median", **SLOW))
    assert verdict(sites, S) == "probable"  # not possible
    # alone, a 30-49 % block is none of (a)-(g): not even possible
    assert verdict(study(nerve("ulnar", (10.0, 6.0)), nerve("median")), S) == "not_met"


def test_probable_block_corroborated_by_a_tibial_definite_block():
    # the tibial 60 % block is item (e), a demyelinating parameter in another nerve: the
    # ulnar 40 % block (probable, >= 30 %) in one nerve + (e) in another = probable; the
    # tibial block alone in one nerve is (e) in 1 nerve only = possible without the ulnar
    sites = study(nerve("ulnar", (10.0, 6.0)), nerve("tibial", (10.0, 4.0)))
    assert verdict(sites, S) == "probable"
    assert verdict(study(nerve("ulnar"), nerve("tibial", (10.0, 4.0))), S) == "possible"


def test_normal_study_not_met_and_unknown_f_indeterminate():
    assert verdict(study(nerve("ulnar"), nerve("median")), S) == "not_met"
    unknown = study(
        nerve("ulnar", f=None, persistence=None), nerve("median", f=None, persistence=None)
    )
    assert verdict(unknown, S) == "indeterminate"


def test_inexcitable_nerve_beside_normal_nerves_is_not_met():
    from .helpers import absent

    assert verdict(study(absent("tibial"), nerve("ulnar"), nerve("median")), S) == "not_met"


# --- columns nobody else asserts -----------------------------------------------------------------


def test_nerve_and_patient_counts_and_evidence_columns():
    sites = study(nerve("ulnar", (10.0, 4.0), **SLOW, dur=(5.0, 7.0)), nerve("median", **SLOW))
    res = run(sites, S)
    ulnar = res.nerves[res.nerves["nerve"] == "ulnar"].iloc[0]
    assert ulnar["n_block_segments"] == 1
    assert ulnar["n_dispersion_segments"] == 1
    assert str(ulnar["parameters_met"]) == "b,e,f,probable"
    median = res.nerves[res.nerves["nerve"] == "median"].iloc[0]
    assert str(median["parameters_met"]) == "b"
    assert median["n_dispersion_segments"] == 0
    p = res.patients.iloc[0]
    assert p["verdict"] == "definite"
    assert p["n_positive_findings"] == 1  # one blocked segment
    assert str(p["evidence_segment"]) == "wrist to below elbow"
    assert str(p["evidence_nerve"]) == "ulnar R"
    assert nerve_row(sites, S, "median")["n_block_segments"] == 0


def test_d_unknown_lln_leaves_absent_f_open():
    # whether the distal CMAP is >= 20 % of an unknown LLN is unknown: absent F waves may or
    # may not count; F waves that were recorded never count, whatever the LLN
    ref = reference(amp_lln_mv=float("nan"))
    absent_f = nerve("ulnar", **ABSENT_F)
    assert param(absent_f, S, "f_waves_absent", "ulnar", ref=ref) == "not_assessable"
    assert param(nerve("ulnar"), S, "f_waves_absent", "ulnar", ref=ref) == "no"


@pytest.mark.parametrize(("duration", "expected"), [(7.0, "yes"), (6.99, "no"), (7.01, "yes")])
def test_g_a_cutoff_table_without_operators_uses_the_schemes_own(duration, expected):
    # a lab's own cut-off (7.0 ms for the median nerve), no operator column: ">=" (2010)
    table = pd.DataFrame(
        {"scheme": [S], "lff_hz": [float("nan")], "nerve": ["median"], "cutoff_ms": [7.0]}
    )
    res = ncs.analyze(
        nerve("median", lff=2.0, distal_duration=duration),
        criteria=S,
        reference=REFERENCE,
        distal_duration_cutoffs=table,
    )
    assert str(res.nerves["distal_duration_prolonged"].item()) == expected


# --- (b) with unknown or unmeasurable velocities -------------------------------------------------


def test_b_an_unknown_segment_velocity_keeps_the_item_open():
    # wrist -> below elbow 57 m/s, below -> above elbow without a distance: that velocity is
    # unknown and could be <= 35 m/s
    sites = nerve("ulnar", (10.0, 10.0, 10.0), distance=[200.0, float("nan")])
    assert param(sites, S, "cv_slowed", "ulnar") == "not_assessable"
    # a known slow segment decides whatever the unknown one is
    slow = nerve("ulnar", (10.0, 10.0, 10.0), distance=[300.0, float("nan")], dlat=[10.0, 3.5])
    assert param(slow, S, "cv_slowed", "ulnar") == "yes"


def test_b_no_velocity_where_the_proximal_response_is_absent():
    sites = nerve("ulnar", (10.0, 10.0))
    sites["response"] = ["present", "absent"]
    sites.loc[1, ["latency_ms", "amplitude_mv", "area_mvms", "duration_ms"]] = [
        float("nan"),
        0.0,
        0.0,
        float("nan"),
    ]
    both = study(sites, nerve("median"))
    assert param(both, S, "cv_slowed", "ulnar") == "not_applicable"
    assert param(both, S, "conduction_block", "ulnar") == "yes"  # a 100 % drop
    assert verdict(both, S) == "possible"
    # a nerve stimulated at one site has no velocity to judge yet
    assert param(study(nerve("ulnar", (10.0,)), nerve("median")), S, "cv_slowed", "ulnar") == (
        "not_assessable"
    )


def test_evidence_names_the_deciding_rule():
    p = run(study(nerve("ulnar", **SLOW), nerve("median", **SLOW)), S).patients.iloc[0]
    assert p["evidence"].startswith("decided by: (b) motor conduction velocity slowed, in >= 2")
    p = run(study(nerve("ulnar", **SLOW), nerve("median")), S).patients.iloc[0]
    assert p["evidence"].startswith("decided by: (b) motor conduction velocity slowed in one nerve")
    p = run(study(nerve("ulnar", (10.0, 6.0)), nerve("median", **SLOW)), S).patients.iloc[0]
    assert p["evidence"].startswith("decided by: (probable) probable conduction block")


def test_unknown_f_waves_and_an_inexcitable_nerve_in_the_nerve_columns():
    unknown = nerve("ulnar", f=None, persistence=None)
    assert param(unknown, S, "f_waves_absent", "ulnar") == "not_assessable"
    assert param(unknown, S, "f_latency_prolonged", "ulnar") == "not_assessable"
    from .helpers import absent

    inexcitable = study(absent("tibial"), nerve("ulnar"))
    for column in ("conduction_block", "temporal_dispersion", "cv_slowed", "dml_prolonged"):
        assert param(inexcitable, S, column, "tibial") == "not_applicable", column


def test_d_in_three_nerves_still_needs_another_parameter():
    three = [nerve(n, **ABSENT_F) for n in ("ulnar", "median", "peroneal")]
    assert verdict(study(*three), S) == "possible"
    assert verdict(study(*three, nerve("tibial", **SLOW)), S) == "definite"
    # the other parameter in one of three F-absent nerves: the other two are still two
    other = [nerve("ulnar", **ABSENT_F, **SLOW), *three[1:]]
    assert verdict(study(*other), S) == "definite"


def test_d_left_open_by_a_third_nerve_with_unknown_f_waves():
    # two F-absent nerves; the third nerve's F waves unknown: its F latency could be the
    # other parameter, so (d) is open (and the verdict is possible on what is known)
    sites = study(
        nerve("ulnar", **ABSENT_F),
        nerve("median", **ABSENT_F),
        nerve("peroneal", f=None, persistence=None),
    )
    p = run(sites, S).patients.iloc[0]
    assert p["verdict"] == "possible"
    assert "could be met with the missing data: (d) F waves absent;" in p["evidence"]


def test_d_left_open_by_a_nerve_whose_f_waves_are_unknown():
    # F absent in one nerve, unknown in a second (they may be absent too), slowing in a third:
    # (d) could be met with the missing data
    sites = study(
        nerve("ulnar", **ABSENT_F),
        nerve("median", f=None, persistence=None),
        nerve("peroneal", **SLOW),
    )
    p = run(sites, S).patients.iloc[0]
    assert p["verdict"] == "possible"
    assert "could be met with the missing data: (d) F waves absent;" in p["evidence"]
