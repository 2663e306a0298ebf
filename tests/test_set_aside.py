"""Nerves set aside for invalid rows (``errors="collect"``): which go, and what the patient
verdicts may still say.

A nerve with an invalid row is set aside whole. A row whose patient, nerve or side cannot be
read belongs to no nerve, but the nerve it was a site of lost that site (a segment across the
gap with the wrong length): the nerves it may be a site of go with it. A nerve set aside is a
nerve of which nothing is known: a patient rule it could meet is unknown, never "not met", so
a negative verdict becomes indeterminate while a met one stands. Expected values are worked by
hand from the rules (limits of ``schemes.helpers.REFERENCE``).
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ncs
from ncs.measures import FALSE, TRUE, UNKNOWN
from ncs.schema import stand_in_patients
from ncs.schemes import at_least, one_plus_other, two_plus_other
from schemes.helpers import REFERENCE, absent, nerve, study

pytestmark = pytest.mark.filterwarnings("ignore::ncs.NcsWarning")


def collect(sites: pd.DataFrame, criteria) -> ncs.Analysis:
    return ncs.analyze(sites, criteria=criteria, reference=REFERENCE, errors="collect")


def verdicts(result: ncs.Analysis, patient: str = "P") -> dict[str, str]:
    p = result.patients[result.patients["patient_id"] == patient]
    return dict(zip(p["scheme"].astype(str), p["verdict"].astype(str), strict=True))


def bad_median() -> pd.DataFrame:
    """A median nerve with a negative amplitude: invalid, set aside whole."""
    return nerve("median", (-1.0, 5.0))


# --- what a patient verdict may still say --------------------------------------------------------


def test_a_negative_verdict_with_a_nerve_set_aside_is_indeterminate():
    # ulnar 10 -> 10 mV: no drop, no block under either rule; the median might have had one
    clean = study(nerve("ulnar"))
    assert verdicts(collect(clean, ["katz2002", "bouche1995"])) == {
        "katz2002": "not_demyelinating",
        "bouche1995": "no_conduction_block",
    }
    result = collect(study(nerve("ulnar"), bad_median()), ["katz2002", "bouche1995"])
    assert set(result.rejected["nerve"]) == {"median"}
    assert verdicts(result) == {"katz2002": "indeterminate", "bouche1995": "indeterminate"}
    evidence = result.patients["evidence"].tolist()
    assert all("1 nerve(s) set aside for invalid input rows" in e for e in evidence)
    warned = result.warnings[result.warnings["code"] == "nerves_set_aside"]
    # one row per such patient: its first valid row (the ulnar wrist, input row 0)
    assert warned["input_row"].tolist() == [0] and warned["patient_id"].tolist() == ["P"]


def test_a_block_found_stands_with_a_nerve_set_aside():
    # ulnar 10 -> 3 mV (area 30 -> 9): 70 % drops of both, duration unchanged: a block under
    # Katz (> 30 %) and a partial block under Bouche (> 50 % both, |change| < 15 %)
    result = collect(study(nerve("ulnar", (10.0, 3.0)), bad_median()), ["katz2002", "bouche1995"])
    assert verdicts(result) == {"katz2002": "demyelinating", "bouche1995": "conduction_block"}


def test_guideline_levels_known_to_be_met_stand_and_not_met_becomes_open():
    # EFNS 2010 CIDP (a): DML >= 50 % above the ULN (4.0 ms): 6.0 ms in the ulnar nerve only:
    # possible (one nerve). The set-aside median could be the second nerve (definite): the
    # verdict stays the highest level known to be met, possible.
    slow = study(nerve("ulnar", dml=6.0), nerve("peroneal"), bad_median())
    assert verdicts(collect(slow, "efns2010_cidp")) == {"efns2010_cidp": "possible"}
    # every nerve normal: not_met on the nerves judged, but the median could meet an item
    normal = study(nerve("ulnar"), nerve("peroneal"))
    assert verdicts(collect(normal, "efns2010_cidp")) == {"efns2010_cidp": "not_met"}
    with_bad = study(nerve("ulnar"), nerve("peroneal"), bad_median())
    assert verdicts(collect(with_bad, "efns2010_cidp")) == {"efns2010_cidp": "indeterminate"}
    # AAN 1991 needs 3 of 4 items; three of them need >= 2 nerves, so one unknown nerve can
    # meet only the block/dispersion item (>= 1 nerve): 1 of 3 at most, still not met
    assert verdicts(collect(with_bad, "aan1991_cidp")) == {"aan1991_cidp": "not_met"}


def test_hadden_normal_needs_every_nerve():
    # two normal nerves: every nerve within normal limits -> normal; a third set aside could
    # be abnormal: no class is met on the known data -> equivocal
    normal = study(nerve("ulnar"), nerve("peroneal"))
    assert verdicts(collect(normal, "hadden1998_gbs")) == {"hadden1998_gbs": "normal"}
    with_bad = study(nerve("ulnar"), nerve("peroneal"), bad_median())
    result = collect(with_bad, "hadden1998_gbs")
    assert verdicts(result) == {"hadden1998_gbs": "equivocal"}
    assert "normal: every nerve within normal limits" in result.patients["evidence"].item()


def test_simon_with_a_nerve_set_aside_is_open_not_positive():
    # Simon 2013: demyelinating if a Katz finding or an item is met; normal ulnar (no
    # finding, no item), the median set aside: either could be met there, neither is known
    normal = study(nerve("ulnar"), nerve("peroneal"))
    assert verdicts(collect(normal, "simon2013")) == {"simon2013": "not_demyelinating"}
    with_bad = study(nerve("ulnar"), nerve("peroneal"), bad_median())
    assert verdicts(collect(with_bad, "simon2013")) == {"simon2013": "indeterminate"}


def test_hadden_inexcitable_needs_every_nerve():
    # no distal response in any nerve judged: inexcitable; a nerve set aside may respond, so
    # inexcitable is open (not met, not ruled out): equivocal, and the evidence says so
    dead = study(absent("ulnar"), absent("peroneal"))
    result = collect(dead, "hadden1998_gbs")
    assert verdicts(result) == {"hadden1998_gbs": "inexcitable"}
    assert "could be met" not in result.patients["evidence"].item()  # nothing left open
    result = collect(study(absent("ulnar"), absent("peroneal"), bad_median()), "hadden1998_gbs")
    assert verdicts(result) == {"hadden1998_gbs": "equivocal"}
    opened = _opened(result)
    assert "inexcitable: no distal response in any nerve" in opened
    # the set-aside nerve may be the one excitable nerve, with two features
    assert "demyelinating: >= 2 demyelinating features in the one excitable nerve" in opened


def test_hadden_the_one_responding_nerve_with_a_nerve_set_aside():
    # one nerve responds, 0.49 mV (9.8 % of the 5 mV LLN), the other is absent: inexcitable.
    # A nerve set aside may respond too: "only one responding nerve" is open, so is the class
    tiny = study(nerve("ulnar", (0.49, 0.49)), absent("peroneal"))
    assert verdicts(collect(tiny, "hadden1998_gbs")) == {"hadden1998_gbs": "inexcitable"}
    result = collect(
        study(nerve("ulnar", (0.49, 0.49)), absent("peroneal"), bad_median()), "hadden1998_gbs"
    )
    assert verdicts(result) == {"hadden1998_gbs": "equivocal"}
    assert "inexcitable: no distal response in any nerve" in _opened(result)


def _opened(result: ncs.Analysis) -> str:
    """The classes the evidence says the missing data could still meet."""
    evidence = result.patients["evidence"].item()
    return evidence.partition("could be met with the missing data: ")[2]


def test_other_patients_are_not_touched():
    other = nerve("ulnar", patient="Q")
    result = collect(study(nerve("ulnar"), bad_median(), other), "katz2002")
    assert verdicts(result, "Q") == {"katz2002": "not_demyelinating"}
    assert verdicts(result, "P") == {"katz2002": "indeterminate"}


# --- the nerve-counting rules with unseen nerves (against every completion) ----------------------

CODES = st.sampled_from([FALSE, UNKNOWN, TRUE])


def _completions(a, b, unseen):
    """Every way the unknown codes and the unseen nerves could turn out (True/False each)."""
    slots = [i for i, c in enumerate(a) if c == UNKNOWN] + [
        len(a) + i for i, c in enumerate(b) if c == UNKNOWN
    ]
    n_free = len(slots) + 2 * unseen
    for bits in itertools.product((False, True), repeat=n_free):
        fa = [c == TRUE for c in a] + [False] * unseen
        fb = [c == TRUE for c in b] + [False] * unseen
        for slot, bit in zip(slots, bits, strict=False):
            if slot < len(a):
                fa[slot] = bit
            else:
                fb[slot - len(a)] = bit
        extra = bits[len(slots) :]
        for u in range(unseen):
            fa[len(a) + u], fb[len(b) + u] = extra[2 * u], extra[2 * u + 1]
        yield fa, fb


def _three(values: list[bool]) -> int:
    return TRUE if all(values) else (FALSE if not any(values) else UNKNOWN)


@settings(max_examples=300, deadline=None)
@given(st.lists(CODES, min_size=0, max_size=4), st.data(), st.integers(0, 2))
def test_nerve_counts_with_unseen_nerves_match_every_completion(a, data, unseen):
    b = data.draw(st.lists(CODES, min_size=len(a), max_size=len(a)))
    codes_a = np.array(a, dtype=np.int8)
    codes_b = np.array(b, dtype=np.int8)
    patient = np.zeros(len(a), dtype=np.int64)
    u = np.array([unseen])
    worlds = list(_completions(a, b, unseen))

    def nerves(flags):
        return [i for i, f in enumerate(flags) if f]

    for k in (1, 2):
        want = _three([len(nerves(fa)) >= k for fa, _ in worlds])
        assert at_least(codes_a, patient, 1, k, u)[0] == want
    pair = [any(x != y for x in nerves(fa) for y in nerves(fb)) for fa, fb in worlds]
    assert one_plus_other(codes_a, codes_b, patient, 1, u)[0] == _three(pair)
    trio = [
        any(len([x for x in nerves(fa) if x != y]) >= 2 for y in nerves(fb)) for fa, fb in worlds
    ]
    assert two_plus_other(codes_a, codes_b, patient, 1, u)[0] == _three(trio)


# --- which nerves go with a row that belongs to no nerve -----------------------------------------


def three_site_median() -> pd.DataFrame:
    return nerve("median", (8.0, 7.8, 7.6), distance=(200.0, 120.0))


def test_a_row_without_a_patient_takes_its_nerve_with_it():
    # the elbow row lost its patient id: on its own the median became wrist -> axilla with the
    # axilla's 120 mm (the distance from the elbow) as the whole length
    sites = study(three_site_median(), nerve("ulnar"))
    sites.loc[1, "patient_id"] = None
    result = collect(sites, "katz2002")
    why = dict(zip(result.rejected["input_row"], result.rejected["problems"], strict=True))
    assert why == {
        0: "a row whose patient, visit, nerve or side cannot be read may be a site of this "
        "nerve (row 1)",
        1: "column 'patient_id': value is missing",
        2: "a row whose patient, visit, nerve or side cannot be read may be a site of this "
        "nerve (row 1)",
    }
    assert set(result.nerves["nerve"].astype(str)) == {"ulnar"}


def test_a_row_without_a_patient_between_other_nerves_goes_alone():
    # a radial row with no patient between the ulnar and peroneal nerves: neither beside it
    # is a radial nerve, so no nerve is known to have lost it
    radial = nerve("radial", (6.0,), sites=("forearm",))
    sites = study(nerve("ulnar"), radial, nerve("peroneal"))
    sites.loc[2, "patient_id"] = None
    result = collect(sites, "katz2002")
    assert result.rejected["input_row"].tolist() == [2]
    assert set(result.nerves["nerve"].astype(str)) == {"ulnar", "peroneal"}


def test_a_misspelt_nerve_sets_aside_the_nerves_that_lack_its_site():
    # "medain" at the elbow: the patient's nerves on that side missing an elbow site, for
    # which the elbow is a site, are the median (its elbow is this row) and the ulnar (no
    # elbow site of its own); the peroneal has no elbow: kept
    sites = study(three_site_median(), nerve("ulnar"), nerve("peroneal"))
    sites.loc[1, "nerve"] = "medain"
    result = collect(sites, "katz2002")
    assert set(result.rejected["nerve"].astype(str)) == {"median", "medain", "ulnar"}
    assert set(result.nerves["nerve"].astype(str)) == {"peroneal"}
    assert verdicts(result) == {"katz2002": "indeterminate"}


def test_stand_in_patients_reads_the_row_before_then_after():
    sites = study(
        nerve("ulnar", patient="A"), nerve("median", patient="B"), nerve("ulnar", patient="C")
    )
    sites.loc[[1, 2, 4], "patient_id"] = None  # A's ulnar elbow, B's median wrist, C's ulnar wrist
    patients, anchor = stand_in_patients(sites)
    # row 1: the row before (0, A's ulnar) agrees; row 2 (median): the row before is an
    # ulnar row without a patient, the row after (3) B's median; row 4: the row before (3) is
    # a median, the row after (5) C's ulnar
    assert patients.tolist() == ["A", "A", "B", "B", "C", "C"]
    assert anchor.tolist() == [-1, 0, 3, -1, 5, -1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rejected = collect(sites, "katz2002").rejected
    assert set(rejected["input_row"]) == set(range(6))  # each nerve lost a site
