"""EAN/PNS 2021 CIDP motor criteria: every rule of the scheme, worked by hand.

Rule table (criteria compendium section 5; limits of :data:`helpers.REFERENCE`):

====  =========================================  =============================  ===================
item  rule                                       here                           nerve count
====  =========================================  =============================  ===================
(a)   DML >= 50 % above ULN; median not counted  >= 6.0 ms                      2 nerves
(b)   MCV >= 30 % below LLN                      <= 35 m/s                      2 nerves
(c)   F latency >= 20 % above ULN                >= 36 ms                       2 nerves
      (>= 50 % if distal CMAP < 80 % LLN)        (>= 45 ms if < 4.0 mV)
(d)   F waves absent, distal CMAP >= 20 % LLN    >= 1.0 mV                      2 nerves + other
(e)   amplitude drop >= 30 %, distal >= 20 % LLN tibial, ulnar elbow and Erb's  2, or 1 + other
      to Erb's point: >= 50 %                    point excluded from the 30 %   (not absent F)
(f)   duration increase > 30 % (tibial >= 100 %)                                2 nerves
(g)   distal CMAP duration > filter cut-off      2 Hz: 8.4/9.6/8.8/9.2 ms       1 + other
====  =========================================  =============================  ===================

Levels: strongly supportive = an item with its count; weakly supportive = in one nerve only.
"""

from __future__ import annotations

import pandas as pd
import pytest

import ncs

from .helpers import REFERENCE, finding, findings, nerve, param, reference, run, study, verdict

S = "ean2021_cidp"
SLOW = {"distance": 300.0, "dlat": 10.0}  # 30 m/s: (b)
ABSENT_F = {"f": None, "persistence": 0.0}


# --- (a), (b), (c), (d): per-nerve items ---------------------------------------------------------


@pytest.mark.parametrize(("dml", "expected"), [(6.0, "yes"), (5.99, "no"), (6.01, "yes")])
def test_a_dml_50_percent_above_uln(dml, expected):
    assert param(nerve("ulnar", dml=dml), S, "dml_prolonged", "ulnar") == expected


def test_a_median_not_counted():
    assert param(nerve("median", dml=9.0), S, "dml_prolonged", "median") == "not_applicable"
    assert verdict(study(nerve("median", dml=9.0), nerve("ulnar", dml=9.0)), S) == (
        "weakly_supportive"
    )
    assert verdict(study(nerve("peroneal", dml=9.0), nerve("ulnar", dml=9.0)), S) == (
        "strongly_supportive"
    )


@pytest.mark.parametrize(("distance", "expected"), [(350.0, "yes"), (351.0, "no"), (349.0, "yes")])
def test_b_velocity_30_percent_below_lln(distance, expected):
    assert param(nerve("ulnar", distance=distance, dlat=10.0), S, "cv_slowed", "ulnar") == expected


@pytest.mark.parametrize(
    ("amp", "f", "expected"),
    [
        (10.0, 36.0, "yes"),  # 30 ms ULN x 1.2 = 36.0 ms; >= so 36.0 is met
        (10.0, 35.9, "no"),
        (10.0, 36.1, "yes"),
        (4.0, 36.0, "yes"),  # exactly 80 % of LLN is not "< 80 %": the 20 % rule
        (4.01, 36.0, "yes"),  # 4.01 / 5 = 80.2 % of LLN: the 20 % rule, 36 >= 36
        (4.2, 37.0, "yes"),
        (3.99, 36.0, "no"),  # 79.8 % of LLN, < 80 %: 30 ms x 1.5 = 45.0 ms needed
        (3.99, 44.9, "no"),
        (3.99, 45.0, "yes"),  # >= so 45.0 is met
        (3.99, 45.1, "yes"),
    ],
)
def test_c_f_latency_with_the_80_percent_lln_switch(amp, f, expected):
    assert param(nerve("ulnar", (amp, amp), f=f), S, "f_latency_prolonged", "ulnar") == expected


@pytest.mark.parametrize(
    ("amp", "expected"),
    [(1.0, "yes"), (0.99, "not_applicable"), (1.01, "yes"), (0.9, "not_applicable")],
)
def test_d_f_absent_20_percent_gate(amp, expected):
    # 5 mV LLN x 0.2 = 1.0 mV; >= so 1.0 mV counts, 0.99 mV (19.8 %) does not
    sites = nerve("ulnar", (amp, amp), **ABSENT_F)
    assert param(sites, S, "f_waves_absent", "ulnar") == expected


def test_d_needs_two_nerves_and_another_parameter_in_a_third():
    two = [nerve("ulnar", **ABSENT_F), nerve("median", **ABSENT_F)]
    assert verdict(study(*two, nerve("peroneal", **SLOW)), S) == "strongly_supportive"
    assert verdict(study(*two, nerve("peroneal")), S) == "weakly_supportive"


# --- (e) conduction block ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "prox", "block"),
    [
        ("ulnar", 7.0, "yes"),  # 30 %
        ("ulnar", 7.01, "no"),  # 29.9 %
        ("ulnar", 6.99, "yes"),
        ("median", 5.0, "yes"),
        ("peroneal", 6.0, "yes"),
    ],
)
def test_e_block_30_percent(name, prox, block):
    assert run(nerve(name, (10.0, prox)), S).findings["block"].item() == block


@pytest.mark.parametrize("prox", [7.0, 4.0, 1.0])
def test_e_tibial_excluded(prox):
    sites = nerve("tibial", (10.0, prox))
    assert run(sites, S).findings["block"].item() == "not_applicable"
    assert param(sites, S, "conduction_block", "tibial") == "not_applicable"


@pytest.mark.parametrize(
    ("amp", "is_block"), [(1.0, True), (0.99, False), (1.01, True), (0.9, False)]
)
def test_e_block_needs_distal_cmap_20_percent_lln(amp, is_block):
    # 5 mV LLN x 0.2 = 1.0 mV; >= so 1.0 mV passes, 0.99 mV (19.8 %) does not; a failed
    # precondition leaves the segment to no rule: not_applicable
    for prox in (amp * 0.56, amp * 0.33):  # 44 % and 67 % drops, both >= 30 %
        block = run(nerve("ulnar", (amp, prox)), S).findings["block"].item()
        assert block == ("yes" if is_block else "not_applicable")


def test_e_failed_precondition_leaves_a_complete_study_not_met():
    low = nerve("ulnar", (0.9, 0.5))
    assert verdict(study(low, nerve("median"), nerve("peroneal")), S) == "not_met"


def test_e_no_block_across_the_ulnar_elbow():
    sites = nerve("ulnar", (10.0, 10.0, 6.0))  # below elbow 10 -> above elbow 6 mV
    got = findings(sites, S)
    assert got[("below elbow", "above elbow")] == "not_applicable"
    assert got[("wrist", "above elbow")] == "not_applicable"
    assert got[("wrist", "below elbow")] == "no"
    assert verdict(study(sites, nerve("median")), S) == "not_met"


def test_e_erb_point_needs_50_percent():
    def erb(prox):
        return nerve("median", (10.0, 10.0, 10.0, prox))

    assert finding(erb(5.0), S, "axilla", "erb") == "yes"  # 50 %
    assert finding(erb(5.0), S, "wrist", "erb") == "yes"
    assert finding(erb(5.01), S, "axilla", "erb") == "no"  # 49.9 %: the 30 % rule is not for Erb
    assert finding(erb(4.99), S, "axilla", "erb") == "yes"  # 50.1 %
    assert finding(erb(6.0), S, "wrist", "erb") == "no"
    assert verdict(study(erb(5.0), nerve("ulnar", (10.0, 5.0))), S) == "strongly_supportive"


def test_e_erb_rule_keeps_the_ulnar_elbow_out():
    sites = nerve("ulnar", (10.0, 10.0, 4.5, 4.5, 4.5))
    got = findings(sites, S)
    assert got[("wrist", "erb")] == "not_applicable"  # crosses the ulnar elbow
    assert got[("wrist", "axilla")] == "not_applicable"
    assert got[("axilla", "erb")] == "no"
    assert param(sites, S, "conduction_block", "ulnar") == "no"
    assert verdict(study(sites, nerve("median")), S) == "not_met"


def test_e_erb_rule_needs_distal_cmap_20_percent_lln():
    # 5 mV LLN x 0.2 = 1.0 mV, ">="; below it the Erb's point rule does not apply, and the
    # 30 % rule leaves Erb's point out: not_applicable
    for amp in (0.9, 0.99):  # 18 % and 19.8 % of LLN, 67-70 % drop
        low = nerve("median", (amp, amp, amp, 0.3))
        assert finding(low, S, "axilla", "erb") == "not_applicable"
        assert finding(low, S, "wrist", "erb") == "not_applicable"
    for amp in (1.0, 1.01):  # 20 % and 20.2 % of LLN, 70 % and 70.3 % drop
        assert finding(nerve("median", (amp, amp, amp, 0.3)), S, "axilla", "erb") == "yes"


def test_e_count_rule_and_absent_f_cannot_corroborate():
    block = nerve("ulnar", (10.0, 6.0))  # 40 %
    assert verdict(study(block, nerve("median", (10.0, 6.0))), S) == "strongly_supportive"
    assert verdict(study(block, nerve("median", **SLOW)), S) == "strongly_supportive"
    assert verdict(study(block, nerve("median")), S) == "weakly_supportive"
    assert verdict(study(block, nerve("median", **ABSENT_F)), S) == "weakly_supportive"


# --- (f) temporal dispersion ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "prox", "expected"),
    [
        ("ulnar", 6.5, "no"),  # 5.0 ms x 1.3 = 6.5 ms is +30 %: not > 30 %
        ("ulnar", 6.51, "yes"),  # +30.2 %
        ("ulnar", 6.49, "no"),  # +29.8 %
        ("median", 7.0, "yes"),
        ("tibial", 7.0, "no"),  # tibial needs >= 100 %
        ("tibial", 9.99, "no"),  # +99.8 %
        ("tibial", 10.0, "yes"),  # 5.0 ms x 2 = 10.0 ms is +100 %; >= so met
        ("tibial", 10.01, "yes"),  # +100.2 %
    ],
)
def test_f_dispersion(name, prox, expected):
    sites = nerve(name, dur=(5.0, prox))
    assert run(sites, S).findings["dispersion"].item() == expected
    assert param(sites, S, "temporal_dispersion", name) == expected


def test_f_dispersion_in_two_nerves_is_strongly_supportive():
    dispersed = {"dur": (5.0, 7.0)}  # +40 %
    two = study(nerve("ulnar", **dispersed), nerve("median", **dispersed))
    assert verdict(two, S) == "strongly_supportive"
    assert verdict(study(nerve("ulnar", **dispersed), nerve("median")), S) == "weakly_supportive"
    res = run(two, S)
    assert list(res.nerves["n_dispersion_segments"]) == [1, 1]
    assert list(res.nerves["parameters_met"].astype(str)) == ["f", "f"]


# --- (g) distal CMAP duration --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lff", "name", "cutoff"),
    [
        (2.0, "median", 8.4),
        (2.0, "ulnar", 9.6),
        (2.0, "peroneal", 8.8),
        (2.0, "tibial", 9.2),
        (5.0, "median", 8.0),
        (5.0, "ulnar", 8.6),
        (5.0, "peroneal", 8.5),
        (5.0, "tibial", 8.3),
    ],
)
def test_g_distal_duration_above_its_cutoff(lff, name, cutoff):
    def g(duration):
        sites = nerve(name, lff=lff, distal_duration=duration)
        return param(sites, S, "distal_duration_prolonged", name)

    assert g(cutoff) == "no"  # "> cut-off"
    assert g(round(cutoff + 0.01, 2)) == "yes"
    assert g(round(cutoff - 0.01, 2)) == "no"


def test_g_needs_a_filter_and_another_parameter_in_another_nerve():
    g = {"lff": 2.0, "distal_duration": 9.0}
    assert (
        param(nerve("median", distal_duration=9.0), S, "distal_duration_prolonged", "median")
        == "not_applicable"
    )
    assert verdict(study(nerve("median", **g), nerve("ulnar", **SLOW)), S) == "strongly_supportive"
    assert verdict(study(nerve("median", **g), nerve("ulnar")), S) == "weakly_supportive"
    assert verdict(study(nerve("median", **g), nerve("peroneal", **g)), S) == "weakly_supportive"


# --- counts and levels ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "item",
    [SLOW, {"f": 36.0}, {"dml": 6.0}],
    ids=["b", "c", "a"],
)
def test_items_in_two_nerves_strongly_in_one_weakly(item):
    assert verdict(study(nerve("ulnar", **item), nerve("peroneal", **item)), S) == (
        "strongly_supportive"
    )
    assert verdict(study(nerve("ulnar", **item), nerve("peroneal")), S) == "weakly_supportive"


def test_normal_study_not_met_unknown_f_indeterminate():
    assert verdict(study(nerve("ulnar"), nerve("median")), S) == "not_met"
    unknown = {"f": None, "persistence": None}
    assert verdict(study(nerve("ulnar", **unknown), nerve("median", **unknown)), S) == (
        "indeterminate"
    )


def test_patient_columns():
    sites = study(nerve("ulnar", (10.0, 10.0, 6.0)), nerve("median", (10.0, 6.0)))
    p = run(sites, S).patients.iloc[0]
    assert p["verdict"] == "weakly_supportive"
    assert p["n_positive_findings"] == 1  # the median block; the ulnar elbow is excluded
    assert str(p["evidence_segment"]) == "wrist to elbow"
    assert str(p["evidence_nerve"]) == "median R"


def test_e_unknown_lln_leaves_the_block_open():
    # no amplitude LLN: whether the distal CMAP is >= 20 % of it is unknown, so a 40 % drop
    # can be neither counted nor ruled out
    ref = reference(amp_lln_mv=float("nan"))
    sites = study(nerve("ulnar", (10.0, 6.0)), nerve("median"))
    assert run(sites, S, ref).findings.set_index("nerve").loc["ulnar", "block"] == "not_assessable"
    assert param(sites, S, "conduction_block", "ulnar", ref=ref) == "not_assessable"


def test_e_unknown_lln_with_a_small_drop_is_no_block():
    # a 10 % drop meets no rule whatever the distal CMAP is: no block, and a complete study
    # with it is not_met
    ref = reference(amp_lln_mv=float("nan"))
    assert finding(nerve("ulnar", (10.0, 9.0)), S, "wrist", "below elbow", ref=ref) == "no"


def test_e_zero_lln_in_a_lab_table_is_refused_and_never_meets_the_precondition():
    sites = nerve("ulnar", (10.0, 6.0))
    with pytest.raises(ncs.ValidationError, match="a reference limit must be above 0"):
        run(sites, S, reference(amp_lln_mv=0.0))
    # the engine itself, given a segments table with a limit of 0: the distal CMAP is no
    # multiple of it, so the precondition is never met (40 % drop: a block with LLN 5 mV)
    segments = ncs.segments(sites)
    segments["amp_lln_mv"] = 5.0
    assert ncs.classify(S, segments)["block"].item() == "yes"
    segments["amp_lln_mv"] = 0.0
    assert ncs.classify(S, segments)["block"].item() != "yes"


@pytest.mark.parametrize(("duration", "expected"), [(7.0, "no"), (7.01, "yes"), (6.99, "no")])
def test_g_a_cutoff_table_without_operators_uses_the_schemes_own(duration, expected):
    # a lab's own cut-off (7.0 ms for the median nerve at 2 Hz), no operator column: ">" (2021)
    table = pd.DataFrame({"scheme": [S], "lff_hz": [2.0], "nerve": ["median"], "cutoff_ms": [7.0]})
    res = ncs.analyze(
        nerve("median", lff=2.0, distal_duration=duration),
        criteria=S,
        reference=REFERENCE,
        distal_duration_cutoffs=table,
    )
    assert str(res.nerves["distal_duration_prolonged"].item()) == expected


@pytest.mark.parametrize("duration", [8.4, 8.41])
def test_g_a_variant_of_the_scheme_keeps_its_cutoffs(duration):
    # a variant (block judged on adjacent segments only) has the scheme's item (g): the
    # median's 8.4 ms cut-off at 2 Hz applies (it found no row for its own id: not_applicable)
    variant = ncs.with_options(S, block_comparisons="adjacent")
    sites = nerve("median", lff=2.0, distal_duration=duration)
    expected = "yes" if duration > 8.4 else "no"
    assert param(sites, variant, "distal_duration_prolonged", "median") == expected
    assert param(sites, S, "distal_duration_prolonged", "median") == expected


def test_evidence_names_the_deciding_rule():
    p = run(study(nerve("ulnar", **SLOW), nerve("median", **SLOW)), S).patients.iloc[0]
    assert p["evidence"].startswith("decided by: (b) motor conduction velocity slowed, in >= 2")
    p = run(study(nerve("ulnar", **SLOW), nerve("median")), S).patients.iloc[0]
    assert p["evidence"].startswith("decided by: (b) motor conduction velocity slowed in one nerve")
    assert p["verdict_rule"].startswith("(b) motor conduction velocity slowed in one nerve")


def test_an_item_that_needs_corroboration_alone_in_a_custom_scheme_is_never_corroborated():
    # a scheme of one item, (b) with "one nerve plus another parameter": no other parameter
    # exists, so slowing in one nerve can never reach the strongly supportive level; one
    # nerve meets the weakly supportive rule by itself
    import dataclasses

    from ncs.guidelines import EAN2021_CIDP

    (b,) = [i for i in EAN2021_CIDP.nerve_items if i.id == "b"]
    alone = dataclasses.replace(
        EAN2021_CIDP,
        id="ean_b_alone",
        nerve_items=(dataclasses.replace(b, corroboration="one_plus_other"),),
    )
    sites = study(nerve("ulnar", **SLOW), nerve("median"))
    res = ncs.analyze(sites, criteria=alone, reference=REFERENCE)
    assert res.patients["verdict"].item() == "weakly_supportive"
