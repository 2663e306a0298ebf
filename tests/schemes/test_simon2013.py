"""Simon et al. 2013 exclusion rule: Katz 2002 block or dispersion, slowing, or F prolongation.

Rule table (Simon 2013 Methods; limits of :data:`helpers.REFERENCE`):

==============  ====================================================  =========================
what            rule                                                  here
==============  ====================================================  =========================
block (Katz)    amplitude or area drop > 30 % in any segment
dispersion      duration increase > 30 % in any segment (counts too)
slowing         a segment velocity below the LLN                      < 50 m/s
F waves         minimal latency above the ULN                         > 30 ms
==============  ====================================================  =========================

Demyelinating when any of these holds; not_demyelinating when all are known not to.
"""

from __future__ import annotations

import numpy as np
import pytest

from .helpers import nerve, param, run, study, verdict

S = "simon2013"


def test_normal_study():
    assert verdict(study(nerve("ulnar"), nerve("median")), S) == "not_demyelinating"


@pytest.mark.parametrize(
    ("prox", "expected"),
    [
        (6.5, "not_demyelinating"),  # 5.0 ms x 1.3 = 6.5 ms is +30 %: "> 30 %" not met
        (6.51, "demyelinating"),  # +30.2 %
        (6.49, "not_demyelinating"),  # +29.8 %
        (7.0, "demyelinating"),
    ],
)
def test_dispersion_alone(prox, expected):
    # ulnar duration 5.0 -> 7.0 ms (+40 %), nothing else abnormal: demyelinating
    sites = study(nerve("ulnar", dur=(5.0, prox)), nerve("median"))
    assert verdict(sites, S) == expected
    n = run(sites, S).nerves.set_index("nerve")
    assert n.loc["ulnar", "n_dispersion_segments"] == (expected == "demyelinating")
    assert n.loc["ulnar", "n_block_segments"] == 0


@pytest.mark.parametrize(
    ("prox", "expected"),
    [(7.0, "not_demyelinating"), (6.99, "demyelinating"), (7.01, "not_demyelinating")],
)
def test_amplitude_drop(prox, expected):
    # 10 -> 7 mV is a 30 % drop: "> 30 %" not met; 6.99 mV is 30.1 %, 7.01 mV 29.9 %
    sites = nerve("ulnar", (10.0, prox), area=(30.0, 30.0))
    assert verdict(sites, S) == expected


@pytest.mark.parametrize(
    ("prox", "expected"),
    [(21.0, "not_demyelinating"), (20.97, "demyelinating"), (21.03, "not_demyelinating")],
)
def test_area_drop(prox, expected):
    # 30 -> 21 mV ms is a 30 % drop: not > 30 %; 20.97 is 30.1 %, 21.03 is 29.9 %
    assert verdict(nerve("ulnar", area=(30.0, prox)), S) == expected


@pytest.mark.parametrize(
    ("distance", "expected"),
    [
        (200.0, "not_demyelinating"),
        (199.0, "demyelinating"),
        (201.0, "not_demyelinating"),  # 50.25 m/s
        (210.0, "not_demyelinating"),
    ],
)
def test_slowing_below_the_lln(distance, expected):
    # 200 mm / 4 ms = 50 m/s = the LLN: not below it; 199 mm: 49.75 m/s
    sites = nerve("ulnar", distance=distance, dlat=4.0)
    assert verdict(sites, S) == expected
    assert param(sites, S, "cv_slowed", "ulnar") == ("yes" if expected == "demyelinating" else "no")


@pytest.mark.parametrize(
    ("f", "expected"),
    [
        (30.0, "not_demyelinating"),  # = ULN 30 ms: not above it
        (30.1, "demyelinating"),
        (29.9, "not_demyelinating"),
        (29.0, "not_demyelinating"),
    ],
)
def test_f_latency_above_the_uln(f, expected):
    assert verdict(nerve("ulnar", f=f), S) == expected


def test_unknown_measures_leave_it_open():
    # an area missing on a segment whose amplitude and duration are normal: Katz is unknown
    assert verdict(nerve("ulnar", area=(30.0, np.nan)), S) == "indeterminate"
    # ... but a known positive decides
    assert verdict(nerve("ulnar", area=(30.0, np.nan), f=31.0), S) == "demyelinating"
    assert verdict(nerve("ulnar", f=None, persistence=None), S) == "indeterminate"


def test_patient_columns():
    sites = study(nerve("ulnar", dur=(5.0, 7.0)), nerve("median"))
    p = run(sites, S).patients.iloc[0]
    assert p["n_positive_findings"] == 1
    assert str(p["evidence_segment"]) == "wrist to below elbow"
    assert str(p["evidence_nerve"]) == "ulnar R"


def test_the_rule_in_words_says_any_nerve():
    p = run(nerve("ulnar", distance=199.0, dlat=4.0), S).patients.iloc[0]
    assert p["verdict"] == "demyelinating"  # one nerve is enough
    assert "in >= 2 nerves" not in p["evidence"]
    assert "in >= 2 nerves" not in p["verdict_rule"]
    assert "in >= 1 nerve" in p["verdict_rule"]


def test_a_study_without_segments_is_judged_on_its_f_waves():
    # nerves stimulated at one site only: no segment, so no block, dispersion or velocity to
    # report; the F waves decide
    one_site = study(nerve("ulnar", (10.0,)), nerve("median", (10.0,)))
    assert verdict(one_site, S) == "not_demyelinating"
    late = study(nerve("ulnar", (10.0,), f=31.0), nerve("median", (10.0,)))
    assert verdict(late, S) == "demyelinating"
