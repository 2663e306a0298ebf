"""What a rule excludes is not_applicable, never unknown; only missing data leave a verdict open.

Every expected value is worked by hand from the guideline's words (docs/criteria and
/shared/criteria.md); the numbers in the comments are the arithmetic.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ncs
from ncs.testing.strategies import studies

# limits of the worked cases: median DML ULN 4.4 ms, amplitude LLN 4.1 mV, velocity
# LLN 49 m/s, F ULN 31 ms; ulnar 3.3 ms, 7.9 mV, 52 m/s, 32 ms
LAB = pd.DataFrame(
    {
        "nerve": ["median", "ulnar", "peroneal", "tibial"],
        "dml_uln_ms": [4.4, 3.3, 6.5, 6.1],
        "amp_lln_mv": [4.1, 7.9, 1.3, 4.4],
        "cv_lln_m_s": [49.0, 52.0, 38.0, 39.0],
        "f_latency_uln_ms": [31.0, 32.0, 56.0, 56.0],
    }
)
GUIDELINES = ["efns2010_cidp", "ean2021_cidp"]


def site_rows(
    nerve, sites, latency, amplitude, duration, distance, *, area=None, f=None, persistence=None
):
    n = len(sites)
    return pd.DataFrame(
        {
            "patient_id": "P",
            "nerve": nerve,
            "side": "R",
            "site": list(sites),
            "latency_ms": list(latency),
            "amplitude_mv": list(amplitude),
            "area_mvms": [np.nan] * n if area is None else list(area),
            "duration_ms": list(duration),
            "distance_mm": list(distance),
            "f_latency_ms": [f] + [np.nan] * (n - 1),
            "f_persistence_pct": [persistence] + [np.nan] * (n - 1),
        }
    )


def verdicts(sites, criteria=GUIDELINES, reference=LAB):
    res = ncs.analyze(sites, criteria=criteria, reference=reference)
    scheme, verdict = res.patients["scheme"].astype(str), res.patients["verdict"].astype(str)
    return dict(zip(scheme, verdict, strict=True))


def param(sites, scheme, column, nerve, reference=LAB):
    res = ncs.analyze(sites, criteria=scheme, reference=reference)
    nv = res.nerves.set_index("nerve")
    return str(nv.loc[nerve, column])


def ulnar_normal():
    # 220 mm / 4.0 ms = 55 m/s >= 52; DML 2.5 <= 3.3; F 29 ms <= 32; drops 5 % and 3.3 %;
    # duration +2 %
    return site_rows(
        "ulnar",
        ["wrist", "below elbow"],
        [2.5, 6.5],
        [10.0, 9.5],
        [5.0, 5.1],
        [70.0, 220.0],
        area=[30.0, 29.0],
        f=29.0,
        persistence=80.0,
    )


def median(distal_amp, proximal_amp):
    # 220 mm / 4.0 ms = 55 m/s; F 28 ms; duration 5.0 -> 5.2 (+4 %)
    return site_rows(
        "median",
        ["wrist", "elbow"],
        [3.0, 7.0],
        [distal_amp, proximal_amp],
        [5.0, 5.2],
        [70.0, 220.0],
        f=28.0,
        persistence=80.0,
    )


# --- fault 1: a failed precondition or an inexcitable nerve ---------------------------------


def test_small_distal_cmap_makes_the_block_not_applicable_and_the_study_decided():
    # median distal 0.8 mV = 19.5 % of 4.1 mV: under the 20 % the block item needs, so the
    # block cannot count whatever is measured proximally; F waves (28 / 31 = 0.90 of ULN, even
    # the relaxed 1.5 x for a CMAP < 80 % of LLN is far) and velocities (55 m/s) are normal.
    sites = pd.concat([median(0.8, 0.76), ulnar_normal()], ignore_index=True)
    assert verdicts(sites) == {"efns2010_cidp": "not_met", "ean2021_cidp": "not_met"}
    res = ncs.analyze(sites, criteria="efns2010_cidp", reference=LAB)
    f = res.findings.set_index("nerve")
    assert f.loc["median", "block"] == "not_applicable"
    assert "0.80 mV = 19.5% of the limit (not ≥20% of LLN)" in f.loc["median", "reason"]
    nv = res.nerves.set_index("nerve")
    assert nv.loc["median", "conduction_block"] == "not_applicable"
    assert nv.loc["median", "f_waves_absent"] == "not_applicable"  # its gate is 20 % too
    assert nv.loc["median", "dml_prolonged"] == "not_applicable"  # median excluded from (a)
    assert nv.loc["median", "cv_slowed"] == "no"
    # with a normal median CMAP the same study is decided the same way
    normal = pd.concat([median(6.0, 5.7), ulnar_normal()], ignore_index=True)
    assert verdicts(normal) == {"efns2010_cidp": "not_met", "ean2021_cidp": "not_met"}


def test_an_inexcitable_nerve_beside_normal_nerves_is_data():
    # no response at any median site, F waves absent: every item of that nerve is excluded
    # (nothing to measure), none is unknown
    nr = pd.DataFrame(
        {
            "patient_id": "P",
            "nerve": "median",
            "side": "R",
            "site": ["wrist", "elbow"],
            "response": ["NR", "NR"],
            "latency_ms": [np.nan, np.nan],
            "amplitude_mv": [np.nan, np.nan],
            "duration_ms": [np.nan, np.nan],
            "distance_mm": [70.0, 220.0],
            "f_latency_ms": [np.nan, np.nan],
            "f_persistence_pct": [0.0, np.nan],
        }
    )
    sites = pd.concat([nr, ulnar_normal()], ignore_index=True)
    assert verdicts(sites) == {"efns2010_cidp": "not_met", "ean2021_cidp": "not_met"}
    res = ncs.analyze(sites, criteria="efns2010_cidp", reference=LAB)
    nv = res.nerves.set_index("nerve")
    for column in ("dml_prolonged", "cv_slowed", "f_latency_prolonged", "f_waves_absent"):
        assert nv.loc["median", column] == "not_applicable", column
    assert nv.loc["median", "block"] == "not_applicable"
    assert verdicts(sites, ["katz2002", "bouche1995"]) == {
        "katz2002": "not_demyelinating",
        "bouche1995": "no_conduction_block",
    }


# --- fault 2: EFNS 2010, an unknown Erb's-point segment ------------------------------------


def test_unknown_erb_segment_leaves_only_the_probable_rule_open():
    # median 8.0 / 7.6 / 7.2 mV, Erb's point amplitude missing. The definite rule never
    # considers a segment ending at Erb's point, so item (e) is "no"; only the probable rule
    # (>= 50 % to Erb's point) is open, and it would need a second nerve or another parameter
    # in another nerve, which the normal ulnar cannot give: not_met.
    med = site_rows(
        "median",
        ["wrist", "elbow", "axilla", "erb"],
        [3.0, 7.0, 9.0, 13.0],
        [8.0, 7.6, 7.2, np.nan],
        [5.0, 5.1, 5.2, 5.3],
        [70.0, 220.0, 110.0, 200.0],
        f=28.0,
        persistence=80.0,
    )
    sites = pd.concat([med, ulnar_normal()], ignore_index=True)
    res = ncs.analyze(sites, criteria="efns2010_cidp", reference=LAB)
    nv = res.nerves.set_index("nerve")
    assert nv.loc["median", "conduction_block"] == "no"
    assert nv.loc["median", "probable_conduction_block"] == "not_assessable"
    assert res.patients["verdict"].item() == "not_met"


# --- fault 3: the probable rule's own scope ----------------------------------------------------


def test_tibial_definite_block_is_not_a_probable_block():
    # tibial 10.0 -> 4.0 mV (60 %): a definite block (>= 50 %, tibial counted), but the probable
    # rule excludes the tibial nerve, so the probable item is not applicable there
    tib = site_rows(
        "tibial",
        ["ankle", "popliteal fossa"],
        [4.0, 12.0],
        [10.0, 4.0],
        [5.0, 5.2],
        [100.0, 400.0],
        f=45.0,
        persistence=90.0,
    )
    nv = ncs.analyze(tib, criteria="efns2010_cidp", reference=LAB).nerves.iloc[0]
    assert nv["conduction_block"] == "yes"
    assert nv["probable_conduction_block"] == "not_applicable"
    # a median 60 % drop meets both (>= 50 % and >= 30 %, median in the probable scope)
    med = ncs.analyze(median(10.0, 4.0), criteria="efns2010_cidp", reference=LAB).nerves.iloc[0]
    assert med["conduction_block"] == "yes"
    assert med["probable_conduction_block"] == "yes"


# --- fault 4: an unknown segment velocity --------------------------------------------------


def test_one_unknown_velocity_keeps_cv_slowed_open():
    # ulnar wrist 3.0 ms, below elbow 7.0 ms over 220 mm (55 m/s, normal), above elbow latency
    # missing (110 mm): its velocity could be slow, so cv_slowed is not known to be "no"
    ulnar = site_rows(
        "ulnar",
        ["wrist", "below elbow", "above elbow"],
        [3.0, 7.0, np.nan],
        [10.0, 9.8, 9.6],
        [5.0, 5.1, 5.1],
        [70.0, 220.0, 110.0],
        f=29.0,
        persistence=80.0,
    )
    assert param(ulnar, "efns2010_cidp", "cv_slowed", "ulnar") == "not_assessable"
    # a known slow segment decides it: 110 mm over 4.0 ms = 27.5 m/s <= 0.7 x 52 = 36.4
    slow = ulnar.copy()
    slow.loc[2, "latency_ms"] = 11.0
    assert param(slow, "efns2010_cidp", "cv_slowed", "ulnar") == "yes"
    slow.loc[2, "latency_ms"] = 9.0  # 110 / 2.0 = 55 m/s: every velocity known and normal
    assert param(slow, "efns2010_cidp", "cv_slowed", "ulnar") == "no"


# --- fault 5: the operator of a user's cut-off table ---------------------------------------


@pytest.mark.parametrize(("op", "expected"), [(">=", "yes"), (">", "no")])
def test_cutoff_table_operator_is_honoured(op, expected):
    # distal CMAP duration exactly at the lab's cut-off (7.0 ms at 2 Hz): met only with ">="
    sites = median(8.0, 7.8)
    sites["lff_hz"] = [2.0, np.nan]
    sites["distal_duration_ms"] = [7.0, np.nan]
    cutoffs = pd.DataFrame(
        {
            "scheme": ["ean2021_cidp"],
            "lff_hz": [2.0],
            "nerve": ["median"],
            "cutoff_ms": [7.0],
            "op": [op],
            "verified": [False],
            "source": ["lab"],
        }
    )
    res = ncs.analyze(
        sites, criteria="ean2021_cidp", reference=LAB, distal_duration_cutoffs=cutoffs
    )
    assert res.nerves["distal_duration_prolonged"].item() == expected


# --- the differential's classes -----------------------------------------------------------


def test_integer_truncation_traps():
    # ulnar 36.6 m/s against LLN 52 is 70.38 % of LLN: not <= 70 %, not slowed (EFNS 2010)
    ulnar = site_rows(
        "ulnar", ["wrist", "below elbow"], [3.0, 9.0], [10.0, 9.8], [5.0, 5.0], [70.0, 219.6]
    )  # 219.6 mm / 6.0 ms = 36.6 m/s
    assert param(ulnar, "efns2010_cidp", "cv_slowed", "ulnar") == "no"
    # 4.14 -> 2.91 mV is a 29.71 % drop: no EAN/PNS 2021 block (>= 30 %)
    drop = site_rows(
        "ulnar", ["wrist", "below elbow"], [3.0, 7.0], [4.14, 2.91], [5.0, 5.0], [70.0, 220.0]
    )
    f = ncs.analyze(drop, criteria="ean2021_cidp", reference=LAB.assign(amp_lln_mv=4.0))
    assert f.findings["block"].item() == "no"


def test_percent_of_limit_float_traps():
    # 10.0 -> 7.0 mV: exactly 30 % (floating point says 30.000000000000004): an EAN block
    # (>= 30 %), not a Katz block (> 30 %)
    sites = site_rows(
        "ulnar",
        ["wrist", "below elbow"],
        [3.0, 7.0],
        [10.0, 7.0],
        [5.0, 5.0],
        [70.0, 220.0],
        area=[30.0, 29.0],
    )
    res = ncs.analyze(sites, criteria=["ean2021_cidp", "katz2002"], reference=LAB)
    f = res.findings
    block = dict(zip(f["criterion"].astype(str), f["block"].astype(str), strict=True))
    assert block == {"ean2021_cidp": "yes", "katz2002": "no"}
    # 5.0 -> 6.5 ms: exactly +30 %, not "> 30 %": no dispersion (EFNS 2010)
    disp = site_rows(
        "ulnar", ["wrist", "below elbow"], [3.0, 7.0], [10.0, 9.0], [5.0, 6.5], [70.0, 220.0]
    )
    res = ncs.analyze(disp, criteria="efns2010_cidp", reference=LAB)
    assert res.findings["dispersion"].item() == "no"
    # 127.4 mm / 3.5 ms = 36.4 m/s = exactly 70 % of 52 (floating point: 0.7000000000000001):
    # slowed under "<= 70 % of LLN"
    slow = site_rows(
        "ulnar", ["wrist", "below elbow"], [3.0, 6.5], [10.0, 9.8], [5.0, 5.0], [70.0, 127.4]
    )
    assert param(slow, "efns2010_cidp", "cv_slowed", "ulnar") == "yes"


@pytest.mark.parametrize(
    ("scheme", "f", "expected"),
    [
        ("ean2021_cidp", 38.4, "yes"),  # exactly 120 % of 32 ms: >= 20 % above ULN
        ("ean2021_cidp", 38.39, "no"),
        ("efns2010_cidp", 41.6, "yes"),  # exactly 130 % of 32 ms
        ("efns2010_cidp", 41.59, "no"),
    ],
)
def test_f_latency_ge_boundaries(scheme, f, expected):
    sites = ulnar_normal()
    sites.loc[0, "f_latency_ms"] = f
    assert param(sites, scheme, "f_latency_prolonged", "ulnar") == expected


def test_a_fifty_percent_drop_is_a_2010_definite_block():
    res = ncs.analyze(median(8.0, 4.0), criteria="efns2010_cidp", reference=LAB)
    assert res.findings["block"].item() == "yes"


def _tibial_three(durations):
    return site_rows(
        "tibial",
        ["ankle", "popliteal fossa", "thigh"],
        [4.0, 12.0, 14.0],
        [10.0, 9.0, 8.8],
        durations,
        [100.0, 400.0, 100.0],
    )


def test_tibial_dispersion_needs_100_percent_on_every_comparison():
    # EAN/PNS 2021: tibial dispersion >= 100 %, adjacent and against the most distal site
    f = ncs.analyze(_tibial_three([5.0, 9.95, 10.0]), criteria="ean2021_cidp", reference=LAB)
    disp = f.findings.set_index(["distal_site", "proximal_site"])["dispersion"].astype(str)
    assert disp[("ankle", "popliteal fossa")] == "no"  # +99 %
    assert disp[("popliteal fossa", "thigh")] == "no"  # +0.5 %
    assert disp[("ankle", "thigh")] == "yes"  # +100 %


def test_tibial_block_excluded_on_every_tibial_segment():
    sites = _tibial_three([5.0, 5.0, 5.0])
    sites["amplitude_mv"] = [10.0, 2.0, 1.0]
    f = ncs.analyze(sites, criteria="ean2021_cidp", reference=LAB).findings
    assert set(f["block"].astype(str)) == {"not_applicable"}


def test_missing_proximal_values_are_not_assessable_not_no():
    sites = median(8.0, np.nan)
    for scheme in ("efns2010_cidp", "ean2021_cidp", "katz2002"):
        f = ncs.analyze(sites, criteria=scheme, reference=LAB).findings
        assert f["block"].item() == "not_assessable", scheme


# --- options for the choices the wording leaves open -----------------------------------------


def test_median_distal_latency_option():
    # median DML 7.0 ms >= 1.5 x 4.4 = 6.6 ms: excluded by default (carpal tunnel syndrome
    # cannot be told apart from conduction data alone); counted when asked for
    sites = median(8.0, 7.8)
    sites.loc[0, "latency_ms"] = 7.0
    sites.loc[1, "latency_ms"] = 11.0
    assert param(sites, "efns2010_cidp", "dml_prolonged", "median") == "not_applicable"
    counted = ncs.with_options("efns2010_cidp", count_median_dml=True)
    assert counted.id == "efns2010_cidp_median_dml"
    assert param(sites, counted, "dml_prolonged", "median") == "yes"
    assert counted.option("count_median_dml") is True


def test_block_comparisons_option():
    # wrist / elbow / axilla 10.0 / 7.5 / 6.0 mV: adjacent drops 25 % and 20 %, axilla against
    # the wrist 40 % (EAN >= 30 %). Default: both kinds of comparison.
    med = site_rows(
        "median",
        ["wrist", "elbow", "axilla"],
        [3.0, 7.0, 9.0],
        [10.0, 7.5, 6.0],
        [5.0, 5.1, 5.2],
        [70.0, 220.0, 110.0],
    )
    both = ncs.analyze(med, criteria="ean2021_cidp", reference=LAB).findings
    assert list(both["block"].astype(str)) == ["no", "no", "yes"]
    adjacent = ncs.with_options("ean2021_cidp", block_comparisons="adjacent")
    f = ncs.analyze(med, criteria=adjacent, reference=LAB).findings
    assert list(f["block"].astype(str)) == ["no", "no", "not_applicable"]
    # each proximal site against the most distal one: wrist-elbow and wrist-axilla judged,
    # elbow-axilla not
    distal = ncs.with_options("ean2021_cidp", block_comparisons="most_distal")
    f = ncs.analyze(med, criteria=distal, reference=LAB).findings
    assert list(f["block"].astype(str)) == ["no", "not_applicable", "yes"]
    with pytest.raises(ValueError, match="block_comparisons"):
        ncs.with_options("ean2021_cidp", block_comparisons="proximal")


# --- the property ------------------------------------------------------------------------------

#: Schemes in which an inexcitable nerve is excluded by every rule. Hadden 1998 is not one:
#: its classes count excitable nerves and its "normal" class needs every nerve normal.
_ALL_EXCLUDED = [
    "katz2002",
    "bouche1995",
    "simon2013",
    "efns2010_cidp",
    "ean2021_cidp",
    "efns2010_mmn",
    "aan1991_cidp",
]


def _inexcitable(patient, nerve, side):
    return pd.DataFrame(
        {
            "patient_id": patient,
            "nerve": nerve,
            "side": side,
            "site": ["ankle" if nerve in ("peroneal", "tibial") else "wrist"],
            "response": ["absent"],
            "latency_ms": [np.nan],
            "amplitude_mv": [np.nan],
            "f_persistence_pct": [0.0],
        }
    )


@settings(max_examples=40, deadline=None)
@given(studies(), st.sampled_from(["median", "ulnar", "peroneal", "tibial"]))
def test_adding_an_excluded_nerve_never_changes_a_decided_verdict(sites, nerve):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ncs.NcsWarning)
        before = ncs.analyze(sites, criteria=_ALL_EXCLUDED)
        extra = []
        for pid in sites["patient_id"].unique():
            have = sites[sites["patient_id"] == pid]
            sides = {"L", "R"} - set(have.loc[have["nerve"] == nerve, "side"])
            if sides:
                extra.append(_inexcitable(pid, nerve, sorted(sides)[0]))
        if not extra:
            return
        after = ncs.analyze(pd.concat([sites, *extra], ignore_index=True), criteria=_ALL_EXCLUDED)
    key = ["patient_id", "scheme"]
    a = before.patients.astype({"patient_id": str, "scheme": str}).set_index(key)["verdict"]
    b = after.patients.astype({"patient_id": str, "scheme": str}).set_index(key)["verdict"]
    decided = ~a.astype(str).isin(["indeterminate"])
    assert (b[a.index[decided]].astype(str) == a[decided].astype(str)).all()
