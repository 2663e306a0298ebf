"""Criteria comparison: kappa, Wilson intervals, wide tables, margins, robustness, CLI.

Expected numbers are worked by hand (in the comments) or from a closed form, never copied
from the code's output.
"""

from __future__ import annotations

import dataclasses
import json
import math
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest

import ncs
from conftest import FIXTURES, SEED_FIXTURES, two_sites
from ncs.cli import main
from ncs.compare import KONG2009, Variability, cohens_kappa, compare, wilson_interval

Z95 = 1.959963984540054  # standard normal 97.5th percentile


def fixture_sites() -> pd.DataFrame:
    files = [FIXTURES / name for name in SEED_FIXTURES]
    return pd.concat([ncs.read_sites(f) for f in files], ignore_index=True)


# ------------------------------------------------------------------ Cohen's kappa


def test_kappa_2x2_by_hand():
    # table [[20, 5], [10, 15]], n = 50 -> proportions [[.4, .1], [.2, .3]]
    # rows p_i. = (.5, .5), columns p_.j = (.6, .4)
    # p_o = .4 + .3 = .7; p_e = .5*.6 + .5*.4 = .5; kappa = (.7 - .5) / (1 - .5) = .4
    # Fleiss, Cohen & Everitt 1969:
    # A = .4 [1 - (.5 + .6)(.6)]^2 + .3 [1 - (.5 + .4)(.6)]^2 = .4(.34)^2 + .3(.46)^2
    #   = .04624 + .06348 = .10972
    # B = (.6)^2 [.1 (p_.1 + p_2.)^2 + .2 (p_.2 + p_1.)^2] = .36 [.1(1.1)^2 + .2(.9)^2]
    #   = .36 (.121 + .162) = .10188
    # C = [.4 - .5(.6)]^2 = .01
    # var = (.10972 + .10188 - .01) / (50 (.5)^2) = .2016 / 12.5 = .016128
    kappa, se, low, high = cohens_kappa([[20, 5], [10, 15]])
    assert kappa == pytest.approx(0.4, abs=1e-12)
    assert se == pytest.approx(math.sqrt(0.016128), abs=1e-12)
    assert low == pytest.approx(0.4 - Z95 * math.sqrt(0.016128), abs=1e-12)
    assert high == pytest.approx(0.4 + Z95 * math.sqrt(0.016128), abs=1e-12)
    assert (round(low, 4), round(high, 4)) == (0.1511, 0.6489)


def test_kappa_3x3_by_hand():
    # table [[10, 2, 0], [3, 8, 1], [0, 1, 5]], n = 30
    # rows (12, 12, 6)/30 = (.4, .4, .2); columns (13, 11, 6)/30
    # p_o = 23/30; p_e = (.4*13 + .4*11 + .2*6)/30 = 10.8/30 = 9/25
    # kappa = (23/30 - 9/25) / (16/25) = (61/150)(25/16) = 61/96
    # A = sum_i p_ii [1 - (p_i. + p_.i)(35/96)]^2 = 139871/331776
    # B = (35/96)^2 sum_{i!=j} p_ij (p_.i + p_j.)^2
    #   = (35/96)^2 [2/30 (13/30 + 12/30)^2 + 3/30 (11/30 + 12/30)^2
    #                + 1/30 (11/30 + 6/30)^2 + 1/30 (6/30 + 12/30)^2]
    #   = (1225/9216)(0.0694444 + 0.0587778 + 0.0107037 + 0.012) = 0.0169844
    # C = (61/96 - (9/25)(35/96))^2 = (0.6354167 - 0.13125)^2 = 0.2541840
    # var = (0.4215826 + 0.0169844 - 0.2541840) / (30 (16/25)^2) = 0.1843830 / 12.288
    kappa, se, low, high = cohens_kappa(np.array([[10, 2, 0], [3, 8, 1], [0, 1, 5]]))
    assert kappa == pytest.approx(61 / 96, abs=1e-12)
    var = (139871 / 331776 + 0.0169844 - 0.2541840) / 12.288
    assert se == pytest.approx(math.sqrt(var), abs=1e-6)
    assert low == pytest.approx(61 / 96 - Z95 * math.sqrt(var), abs=1e-5)
    assert high == pytest.approx(61 / 96 + Z95 * math.sqrt(var), abs=1e-5)


def test_kappa_perfect_and_chance():
    # perfect agreement with both categories used: kappa 1 and, by the formula, se 0
    k, se, _, _ = cohens_kappa([[7, 0], [0, 3]])
    assert k == pytest.approx(1.0) and se == pytest.approx(0.0, abs=1e-12)
    # independent margins: p_o = p_e -> kappa 0
    k, *_ = cohens_kappa([[4, 4], [4, 4]])
    assert k == pytest.approx(0.0)


def test_kappa_undefined():
    assert all(math.isnan(v) for v in cohens_kappa([[0, 0], [0, 0]]))
    # both raters put everything in one category: p_e = 1
    assert all(math.isnan(v) for v in cohens_kappa([[9, 0], [0, 0]]))
    with pytest.raises(ValueError):
        cohens_kappa([[1, 2, 3]])
    with pytest.raises(ValueError):
        cohens_kappa([[1, -1], [0, 1]])


def test_kappa_confidence_level():
    _, se, low, high = cohens_kappa([[20, 5], [10, 15]], confidence=0.90)
    z90 = NormalDist().inv_cdf(0.95)
    assert high - low == pytest.approx(2 * z90 * se)


# ------------------------------------------------------------------ Wilson interval


def test_wilson_by_hand():
    # 8/10: p = .8, z^2 = 3.841459, z^2/n = .3841459, denominator 1.3841459
    # centre = (.8 + .1920729) / 1.3841459 = .7167402
    # half = z sqrt(.8*.2/10 + 3.841459/400) / 1.3841459 = 1.959964 * .1600114 / 1.3841459
    #      = .3136166 / 1.3841459 = .2265777
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.7167402 - 0.2265777, abs=1e-6)
    assert high == pytest.approx(0.7167402 + 0.2265777, abs=1e-6)
    # 1/2: centre is .5 by symmetry; half = z sqrt(.125 + z^2/16) / (1 + z^2/2)
    #      = 1.959964 * .6042277 / 2.9207294 = .4054685
    low, high = wilson_interval(1, 2)
    assert (low, high) == pytest.approx((0.5 - 0.4054685, 0.5 + 0.4054685), abs=1e-6)


def test_wilson_edges():
    # 0 successes: low is exactly 0, high is (z^2/n) / (1 + z^2/n)
    low, high = wilson_interval(0, 10)
    assert low == pytest.approx(0.0, abs=1e-12)
    assert high == pytest.approx(0.3841459 / 1.3841459, abs=1e-6)
    low, high = wilson_interval(10, 10)
    assert high == pytest.approx(1.0, abs=1e-12)
    assert all(math.isnan(v) for v in wilson_interval(0, 0))
    lows, highs = wilson_interval([0, 8], [10, 10])
    assert lows.shape == (2,) and highs[1] == pytest.approx(0.7167402 + 0.2265777, abs=1e-6)
    with pytest.raises(ValueError):
        wilson_interval(3, 2)


# ------------------------------------------------------------------ fixtures side by side


@pytest.fixture(scope="module")
def fixture_comparison():
    return compare(fixture_sites(), n_draws=200)


def test_patients_side_by_side(fixture_comparison):
    p = fixture_comparison.patients.set_index("patient_id")
    # expected verdicts: data/fixtures/README.md
    assert p.loc["CIDP01", "verdict_katz2002"] == "demyelinating"
    assert p.loc["CIDP01", "verdict_bouche1995"] == "no_conduction_block"
    assert p.loc["MISS02", "class_bouche1995"] == "indeterminate"
    # MISS01: Katz indeterminate (areas, durations missing); Bouche already rules it out
    # (amplitude drops 8 % and 12 %, both needed > 50 %), the absent peroneal not applicable
    assert p.loc["MISS01", "class_bouche1995"] == "negative"
    assert set(p.index[p["discordant"]]) == {"CIDP01", "MISS01", "MISS02"}
    assert p.loc["CIDP01", "why"].startswith("5 segment(s) judged differently, e.g. median L")
    assert p.loc["NORM01", "why"] == ""


def test_patient_discordant_through_dispersion_only():
    # amplitude 10 -> 9, area 30 -> 28, duration 6 -> 8.4 (+40%): no block for either scheme,
    # Katz counts the dispersion (>30%) for the patient, Bouche does not.
    c = compare(two_sites(amp=(10.0, 9.0), area=(30.0, 28.0), dur=(6.0, 8.4)), cv={})
    p = c.patients.iloc[0]
    assert p["verdict_katz2002"] == "demyelinating"
    assert p["verdict_bouche1995"] == "no_conduction_block"
    assert not c.segments["discordant"].iloc[0]
    assert p["why"].startswith("no segment's block finding differs")


def test_segment_agreement_cidp():
    # CIDP01: six segments. Katz positive on 5 (amplitude drops 37.3, 32.4, 39.7, 38.1, 52.5%;
    # ulnar below-above elbow 10.9% / area 8.0% is negative); Bouche negative on all 6.
    # Table [[0, 5, 0], [0, 1, 0], [0, 0, 0]]: p_o = 1/6, p_e = (5/6)(0) + (1/6)(1) = 1/6
    c = compare(ncs.read_sites(FIXTURES / "cidp_dispersion.csv"), cv={})
    t = c.table("katz2002", "bouche1995", "segment")
    assert t.loc["positive", "negative"] == 5
    assert t.loc["negative", "negative"] == 1
    assert int(t.to_numpy().sum()) == 6
    row = c.agreement.query("level == 'segment' and categories == 'all'").iloc[0]
    assert row["n_agree"] == 1
    assert row["percent_agreement"] == pytest.approx(100 / 6)
    assert row["kappa"] == pytest.approx(0.0, abs=1e-12)


def test_why_sentence(fixture_comparison):
    s = fixture_comparison.segments
    median = s[(s["patient_id"] == "CIDP01") & (s["nerve"] == "median")].iloc[0]
    assert median["discordant"]
    # 5.1 -> 3.2 mV: 100 * 1.9 / 5.1 = 37.25%
    assert "amplitude fell 37.3%: over 30% for Katz 2002, not over 50% for Bouche 1995" in str(
        median["why"]
    )
    # Bouche also fails on duration 7.2 -> 10.8 ms (+50%)
    assert "duration +50.0%: not |change| under 15% for Bouche 1995" in str(median["why"])
    missing = s[(s["patient_id"] == "MISS02") & (s["nerve"] == "ulnar")].iloc[0]
    assert "area unknown" in str(missing["why"])
    assert (s.loc[~s["discordant"], "why"] == "").all()


def test_not_assessable_kept_and_excluded(fixture_comparison):
    ag = fixture_comparison.agreement
    seg = ag[(ag["level"] == "segment")].set_index("categories")
    t_all = fixture_comparison.table("katz2002", "bouche1995", "segment", "all")
    t_ok = fixture_comparison.table("katz2002", "bouche1995", "segment", "assessable")
    assert list(t_all.index) == ["positive", "negative", "not_applicable", "not_assessable"]
    assert list(t_ok.index) == ["positive", "negative"]
    assert seg.loc["all", "n"] == len(fixture_comparison.segments)
    assert seg.loc["assessable", "n"] + seg.loc["assessable", "n_excluded"] == seg.loc["all", "n"]
    # the kappa in the table equals kappa of its own contingency table
    assert seg.loc["assessable", "kappa"] == pytest.approx(cohens_kappa(t_ok.to_numpy())[0])


def test_patient_raw_labels(fixture_comparison):
    raw = fixture_comparison.table("katz2002", "bouche1995", "patient", "raw")
    assert raw.loc["demyelinating", "no_conduction_block"] == 1  # CIDP01
    row = fixture_comparison.agreement.query("level == 'patient' and categories == 'raw'")
    assert math.isnan(row["kappa"].iloc[0])  # different vocabularies: no kappa


def test_to_dict_is_json(fixture_comparison):
    text = json.dumps(fixture_comparison.to_dict(), allow_nan=False)
    assert '"kappa"' in text


# ------------------------------------------------------------------ margins


def test_margins_by_hand():
    # amplitude 10 -> 6.9 mV (31% drop), area 30 -> 24 (20%), duration 6.0 -> 6.2 (+3.3%)
    c = compare(two_sites(amp=(10.0, 6.9), area=(30.0, 24.0), dur=(6.0, 6.2)), cv={})
    m = c.margins.set_index(["criterion", "measure"])
    katz_amp = m.loc[("katz2002", "amp_drop_pct")]
    assert katz_amp["margin_points"] == pytest.approx(1.0)
    assert katz_amp["flip_proximal"] == pytest.approx(7.0)  # 10 * (1 - 0.30)
    assert katz_amp["unit"] == "mV"
    assert bool(katz_amp["decisive"])  # amplitude alone carries the Katz block
    assert not bool(m.loc[("katz2002", "area_drop_pct"), "decisive"])
    katz_area = m.loc[("katz2002", "area_drop_pct")]
    assert katz_area["margin_points"] == pytest.approx(-10.0)
    assert katz_area["flip_proximal"] == pytest.approx(21.0)  # 30 * 0.7
    bouche_dur = m.loc[("bouche1995", "dur_change_pct")]
    assert bouche_dur["flip_proximal"] == pytest.approx(6.9)  # 6 * 1.15
    assert bouche_dur["margin_points"] == pytest.approx(15 - 100 * 0.2 / 6)
    r = c.robustness.set_index("criterion")
    assert r.loc["katz2002", "margin"] == (
        "block by 1.0 points (amplitude fell 31.0%, threshold >30%); would flip at 7.00 mV proximal"
    )
    # Bouche fails on amplitude and area: no one measure flips it
    assert "no single measure" in r.loc["bouche1995", "margin"]


def test_custom_criterion_margins_follow_its_thresholds():
    katz = ncs.CRITERIA["katz2002"]
    rule = katz.block[0]
    strict = dataclasses.replace(
        katz,
        id="katz_40",
        short="Katz 40",
        block=(
            dataclasses.replace(
                rule,
                thresholds=tuple(dataclasses.replace(t, value=40.0) for t in rule.thresholds),
            ),
        ),
    )
    c = compare(two_sites(amp=(10.0, 6.5), area=(30.0, 24.0)), [katz, strict], cv={})
    m = c.margins.set_index(["criterion", "measure"])
    assert m.loc[("katz_40", "amp_drop_pct"), "flip_proximal"] == pytest.approx(6.0)
    assert m.loc[("katz_40", "amp_drop_pct"), "margin_points"] == pytest.approx(-5.0)
    why = c.segments["why"].iloc[0]
    assert why.startswith("amplitude fell 35.0%: over 30% for Katz 2002, not over 40% for Katz 40")


# ------------------------------------------------------------------ robustness


def test_robustness_matches_closed_form():
    # Katz block rests on amplitude alone (area drop 20% is fixed: no CV given for it).
    # Drop > 30% <=> P/D < 0.7. With independent log-normal factors (sigma^2 = ln(1 + cv^2)),
    # ln(P/D) ~ N(ln 0.69, 2 sigma^2), so P(block holds) = Phi((ln 0.7 - ln 0.69) / (sqrt 2 sigma)).
    cv = 0.156
    sigma = math.sqrt(math.log1p(cv**2))
    expected = NormalDist().cdf(math.log(0.7 / 0.69) / (math.sqrt(2) * sigma))
    c = compare(
        two_sites(amp=(10.0, 6.9), area=(30.0, 24.0)),
        "katz2002",
        cv={"amplitude_mv": cv},
        n_draws=20_000,
        seed=3,
    )
    row = c.robustness.iloc[0]
    # Monte Carlo standard error sqrt(.25 / 20000) = .0035
    assert row["p_holds"] == pytest.approx(expected, abs=0.015)
    assert row["robustness"] == "borderline"


def test_robust_labels_and_no_simulation():
    far = two_sites(amp=(10.0, 1.0), area=(30.0, 3.0), dur=(6.0, 6.1))
    c = compare(far, cv={"amplitude_mv": 0.1, "area_mvms": 0.1, "duration_ms": 0.05}, seed=1)
    r = c.robustness.set_index("criterion")
    assert r.loc["katz2002", "robustness"] == "robust_yes"
    assert r.loc["bouche1995", "robustness"] == "robust_yes"
    normal = two_sites(amp=(10.0, 9.8), area=(30.0, 29.5))
    c = compare(normal, cv={})
    assert (c.robustness["p_holds"] == 1.0).all()
    assert set(c.robustness["robustness"]) == {"robust_no"}
    assert set(c.patient_robustness["robustness"]) == {"robust_no"}


def test_simulation_is_seeded():
    sites = fixture_sites()
    a = compare(sites, n_draws=300, seed=7).robustness["p_holds"]
    b = compare(sites, n_draws=300, seed=7).robustness["p_holds"]
    d = compare(sites, n_draws=300, seed=8).robustness["p_holds"]
    pd.testing.assert_series_equal(a, b)
    assert not a.equals(d)


def test_not_assessable_is_not_simulated():
    sites = ncs.read_sites(FIXTURES / "missing_measures.csv")
    c = compare(sites, n_draws=50)
    r = c.robustness
    na = r[r["block"] == "not_assessable"]
    assert len(na) and na["p_holds"].isna().all()
    assert (na["robustness"] == "not_assessable").all()


def test_variability_default_is_labelled():
    assert KONG2009.citation is not None and KONG2009.citation.doi
    assert not KONG2009.verified  # the CMAP-only value was not read in the tables
    assert set(KONG2009.cv) == {"amplitude_mv"}
    with pytest.raises(ValueError):
        Variability(cv={"latency_ms": 0.1})
    with pytest.raises(ValueError):
        Variability(cv={"amplitude_mv": -0.1})


# ------------------------------------------------------------------ reference diagnosis


def test_accuracy_against_reference():
    sites = fixture_sites()
    dx = pd.Series({"MMN01": True, "CIDP01": True, "ALS01": False, "NORM01": False})
    c = compare(sites, diagnosis=dx, cv={})
    acc = c.accuracy.set_index("scheme")
    # Katz: MMN01 and CIDP01 positive (TP 2), ALS01 and NORM01 negative (TN 2);
    # MISS01/MISS02 have no diagnosis.
    assert acc.loc["katz2002", ["true_positive", "true_negative"]].tolist() == [2, 2]
    assert acc.loc["katz2002", "n_no_diagnosis"] == 2
    # Bouche misses CIDP01: sensitivity 1/2 with Wilson (.0945315, .9054685)
    assert acc.loc["bouche1995", "false_negative"] == 1
    assert acc.loc["bouche1995", "sensitivity"] == pytest.approx(0.5)
    assert acc.loc["bouche1995", "sensitivity_ci_low"] == pytest.approx(0.0945315, abs=1e-6)
    assert acc.loc["bouche1995", "sensitivity_ci_high"] == pytest.approx(0.9054685, abs=1e-6)
    # specificity 2/2: Wilson high is 1, low is 1 - (z^2/2)/(1 + z^2/2) = 1/(1 + 1.920729)
    assert acc.loc["bouche1995", "specificity_ci_low"] == pytest.approx(1 / 2.920729, abs=1e-6)


def test_diagnosis_column_in_sites():
    sites = fixture_sites()
    label = {"MMN01": "MMN", "CIDP01": "CIDP", "ALS01": "ALS", "NORM01": "normal"}
    sites["diagnosis"] = sites["patient_id"].map(label)
    assert "diagnosis" in ncs.validate(sites).columns  # passes validation through
    c = compare(sites, positive=["MMN", "CIDP"], cv={})
    assert c.patients.set_index("patient_id").loc["ALS01", "diagnosis"] == False  # noqa: E712
    assert c.accuracy.set_index("scheme").loc["katz2002", "true_positive"] == 2
    with pytest.raises(ncs.ValidationError, match="boolean-like"):
        compare(sites, cv={})


def test_diagnosis_must_be_constant_per_patient():
    sites = fixture_sites()
    sites["diagnosis"] = "yes"
    sites.loc[sites.index[sites["patient_id"] == "MMN01"][0], "diagnosis"] = "no"
    with pytest.raises(ncs.ValidationError) as err:
        compare(sites, cv={})
    assert any("MMN01" in str(p) for p in err.value.problems)


# ------------------------------------------------------------------ edges and CLI


def test_single_site_study():
    one = two_sites().iloc[:1]
    c = compare(one, n_draws=10)
    assert len(c.segments) == 0 and len(c.robustness) == 0
    assert c.patients["class_katz2002"].iloc[0] == "indeterminate"


def test_analysis_input_and_subset():
    a = ncs.analyze(fixture_sites())
    c = compare(a, ["bouche1995", "katz2002"], cv={})
    assert c.meta["criteria"] == ["bouche1995", "katz2002"]
    other = dataclasses.replace(ncs.CRITERIA["katz2002"], id="katz_other")
    with pytest.raises(ValueError, match="not applied"):
        compare(a, [other])


def test_cli_compare(tmp_path, capsys):
    path = FIXTURES / "cidp_dispersion.csv"
    assert main(["compare", str(path), "--draws", "20"]) == 0
    out = capsys.readouterr().out
    assert "kappa" in out and "discordant segments" in out
    target = tmp_path / "agreement.csv"
    assert (
        main(["compare", str(path), "-f", "csv", "--cv", "amplitude_mv=0.1", "-o", str(target)])
        == 0
    )
    table = pd.read_csv(target)
    assert {"level", "kappa", "kappa_ci_low"} <= set(table.columns)
    assert main(["compare", str(path), "--cv", "amplitude_mv"]) == 2


def test_docs_worked_numbers(fixture_comparison):
    # docs/compare.md: patient kappa 1/4, segment kappa 196/492 (worked there by hand)
    ag = fixture_comparison.agreement.set_index(["level", "categories"])
    assert ag.loc[("patient", "all"), "kappa"] == pytest.approx(1 / 4)
    assert ag.loc[("patient", "assessable"), "kappa"] == pytest.approx(0.5)
    assert ag.loc[("segment", "all"), "kappa"] == pytest.approx(196 / 492)
    table = fixture_comparison.table("katz2002", "bouche1995", "segment")
    assert table.to_numpy().tolist() == [[2, 5, 0, 1], [0, 26, 0, 0], [0, 0, 1, 0], [0, 2, 0, 0]]
    assert ag.loc[("segment", "all"), "percent_agreement"] == pytest.approx(100 * 29 / 37)


def test_docs_closed_form_cidp_ulnar():
    # docs/compare.md: CIDP01 ulnar wrist -> below elbow, 6.8 -> 4.6 mV, area drop 18.9% fixed:
    # p = Phi((ln 0.7 - ln(4.6/6.8)) / (sqrt 2 sigma)) with sigma^2 = ln(1 + 0.156^2)
    sigma = math.sqrt(math.log1p(0.156**2))
    expected = NormalDist().cdf((math.log(0.7) - math.log(4.6 / 6.8)) / (math.sqrt(2) * sigma))
    assert expected == pytest.approx(0.562, abs=0.001)
    c = compare(ncs.read_sites(FIXTURES / "cidp_dispersion.csv"), "katz2002", n_draws=20_000)
    r = c.robustness
    row = r[(r["nerve"] == "ulnar") & (r["proximal_site"] == "below elbow")].iloc[0]
    assert row["p_holds"] == pytest.approx(expected, abs=0.015)
    assert row["flip_proximal"] == pytest.approx(4.76)


def test_robustness_follows_a_changed_precondition():
    # compare has no rules of its own: give Katz a precondition (distal CMAP >= 20 mV, which
    # this 10 mV response fails) and the finding, its robustness and the patient's follow it
    strict = dataclasses.replace(
        ncs.CRITERIA["katz2002"],
        id="katz_floor",
        block=tuple(
            dataclasses.replace(
                r,
                preconditions=(ncs.Threshold(measure="distal_amplitude_mv", op=">=", value=20.0),),
            )
            for r in ncs.CRITERIA["katz2002"].block
        ),
    )
    sites = two_sites(amp=(10.0, 2.0), area=(30.0, 6.0), dur=(6.0, 6.1))
    c = compare(sites, [strict, "bouche1995"], n_draws=50)
    r = c.robustness.set_index("criterion")
    assert r.loc["katz_floor", "block"] == "not_applicable"
    assert r.loc["katz_floor", "robustness"] == "robust_not_applicable"
    assert r.loc["katz_floor", "p_holds"] == 1.0
    assert r.loc["bouche1995", "robustness"] == "robust_yes"
    assert c.segments["block_katz_floor"].iloc[0] == "not_applicable"
    pr = c.patient_robustness.set_index("scheme")
    assert pr.loc["katz_floor", "class"] == "negative"  # excluded: never indeterminate
    assert pr.loc["katz_floor", "robustness"] == "robust_no"


def test_no_finding_is_left_unsimulated_on_the_fixtures():
    # the guideline schemes' preconditions and scopes are simulated like any rule
    sites = pd.concat([ncs.read_sites(FIXTURES / n) for n in SEED_FIXTURES], ignore_index=True)
    c = compare(sites, ["efns2010_mmn", "ean2021_cidp"], n_draws=30)
    assert "not_simulated" not in set(c.robustness["robustness"].astype(str))
    assert "not_simulated" not in set(c.patient_robustness["robustness"].astype(str))
    assert c.patient_robustness["p_holds"].notna().sum() > 0


def test_compare_every_scheme_runs_and_classes_graded_verdicts():
    sites = pd.concat(
        [ncs.read_sites(FIXTURES / name) for name in SEED_FIXTURES], ignore_index=True
    )
    c = compare(sites, "all", cv={})
    p = c.patients.set_index("patient_id")
    # CIDP01 is "definite" under EFNS/PNS 2010 and "met" under AAN 1991: both positive
    assert p.loc["CIDP01", "class_efns2010_cidp"] == "positive"
    assert p.loc["CIDP01", "class_aan1991_cidp"] == "positive"
    # ALS01 is only "possible" (F waves absent in one nerve): negative for criteria met
    assert p.loc["ALS01", "verdict_efns2010_cidp"] == "possible"
    assert p.loc["ALS01", "class_efns2010_cidp"] == "negative"
    assert p.loc["ALS01", "class_hadden1998_gbs"] == "negative"  # axonal


def test_decisive_area_and_duration_thresholds_by_hand():
    # amplitude 10 -> 9.5 mV (5%), area 30 -> 20.7 (31%), duration 6.0 -> 6.2 (+3.3%):
    # Katz finds a block on area alone, and no dispersion on its one duration threshold
    c = compare(two_sites(amp=(10.0, 9.5), area=(30.0, 20.7), dur=(6.0, 6.2)), cv={})
    m = c.margins.set_index(["criterion", "measure"])
    assert bool(m.loc[("katz2002", "area_drop_pct"), "decisive"])  # area alone carries it
    assert not bool(m.loc[("katz2002", "amp_drop_pct"), "decisive"])
    # Katz's dispersion rule has one threshold (duration > 30 %): +3.3 % is not met, so no
    # dispersion, 26.7 points short (0.2 / 6.0 = 3.33 %; 3.33 - 30 = -26.67), and flipping
    # that one result alone would make it dispersion: decisive
    katz_dur = m.loc[("katz2002", "dur_change_pct")]
    assert c.segments["dispersion_katz2002"].item() == "no"
    assert katz_dur["met"] == "no"
    assert katz_dur["margin_points"] == pytest.approx(10 / 3 - 30, abs=1e-6)
    assert bool(katz_dur["decisive"])
    # a duration threshold is not decisive just for being there: Bouche's guard (|change|
    # < 15 %) is met, but amplitude (5 %) and area (31 %) fall short of its "> 50 %", so
    # flipping the guard alone leaves no block
    assert c.segments["block_bouche1995"].item() == "no"
    assert m.loc[("bouche1995", "dur_change_pct"), "met"] == "yes"
    assert not bool(m.loc[("bouche1995", "dur_change_pct"), "decisive"])
    # nor is a lone threshold whose result is unknown: without the proximal duration Katz's
    # dispersion is not_assessable, and flipping an unknown result changes nothing
    unknown = compare(two_sites(amp=(10.0, 9.5), area=(30.0, 20.7), dur=(6.0, np.nan)), cv={})
    u = unknown.margins.set_index(["criterion", "measure"])
    assert unknown.segments["dispersion_katz2002"].item() == "not_assessable"
    assert u.loc[("katz2002", "dur_change_pct"), "met"] == "unknown"
    assert not bool(u.loc[("katz2002", "dur_change_pct"), "decisive"])
