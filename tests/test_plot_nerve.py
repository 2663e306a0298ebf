"""Tests of ncs.plot.plot_nerve (skipped when matplotlib is not installed): what is shaded,
bracketed and written reads the findings, worked by hand here."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import ncs  # noqa: E402
from ncs.errors import ValidationError  # noqa: E402
from ncs.plot import plot_nerve  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _median(amps, areas, visit=None, date=None):
    sites = pd.DataFrame(
        {
            "patient_id": "P",
            "nerve": "median",
            "side": "R",
            "site": ["wrist", "elbow", "axilla"],
            "latency_ms": [3.5, 7.5, 9.8],
            "amplitude_mv": amps,
            "area_mvms": areas,
            "duration_ms": [5.5, 5.6, 5.7],
            "distance_mm": [70, 230, 130],
        }
    )
    if visit is not None:
        sites.insert(1, "visit", visit)
        sites.insert(2, "study_date", date)
    return sites


def _spans(ax):
    """The x ranges of the shaded segments (axvspan rectangles), rounded."""
    spans = []
    for patch in ax.patches:
        if hasattr(patch, "get_width"):  # a Rectangle (matplotlib >= 3.9)
            xs = np.array([patch.get_x(), patch.get_x() + patch.get_width()])
        else:  # a Polygon
            xs = np.asarray(patch.get_xy())[:, 0]
        spans.append((round(float(xs.min()), 6), round(float(xs.max()), 6)))
    return sorted(spans)


def _texts(ax):
    return [t.get_text() for t in ax.texts]


def test_an_adjacent_block_is_shaded_over_its_segment():
    # wrist 10 -> elbow 5 mV: amplitude -50 %, area 30 -> 15: -50 % (Katz: > 30 %, a block);
    # elbow 5 -> axilla 4.8: -4 % (no block); wrist -> axilla -52 %: a block against the
    # most distal site too, which the adjacent shading already covers
    res = ncs.analyze(_median([10.0, 5.0, 4.8], [30.0, 15.0, 14.4]), criteria="katz2002")
    ax = plot_nerve(res, "P", "median", "R")
    assert _spans(ax) == [(0.0, 1.0)]
    assert _texts(ax).count("block") == 1
    assert not [t for t in _texts(ax) if t.startswith("block vs")]


def test_a_block_found_only_against_the_most_distal_site_is_bracketed():
    # wrist 10 -> elbow 8 (-20 %) -> axilla 6 (-25 %): no adjacent segment falls > 30 %, but
    # wrist -> axilla falls 40 % (amplitude and area): Katz finds the block there only. It
    # used to be drawn nowhere.
    res = ncs.analyze(_median([10.0, 8.0, 6.0], [30.0, 24.0, 18.0]), criteria="katz2002")
    far = res.findings[res.findings["comparison"] == "distal"]
    assert far["block"].tolist() == ["yes"]  # the premise, from the findings
    ax = plot_nerve(res, "P", "median", "R")
    assert _spans(ax) == []  # no adjacent segment is shaded
    (label,) = [t for t in _texts(ax) if t.startswith("block vs")]
    assert label == "block vs wrist: Katz 2002"
    (bracket,) = [a for a in ax.texts if getattr(a, "arrow_patch", None) is not None]
    assert sorted((bracket.xy[0], bracket.xyann[0])) == [0.0, 2.0]  # wrist to axilla


def test_a_probable_block_against_the_most_distal_site_says_probable():
    res = ncs.analyze(_median([10.0, 8.0, 6.0], [30.0, 24.0, 18.0]), criteria="katz2002")
    findings = res.findings.copy()
    far = (findings["comparison"] == "distal").to_numpy()
    findings["block"] = findings["block"].astype(object)
    findings.loc[far, "block"] = "probable"
    ax = plot_nerve(dataclasses.replace(res, findings=findings), "P", "median", "R")
    assert "block vs wrist: Katz 2002 (probable)" in _texts(ax)


def test_serial_studies_are_drawn_one_visit_at_a_time():
    sites = pd.concat(
        [
            _median([10.0, 5.0, 4.8], [30.0, 15.0, 14.4], "before", "2024-01-01"),
            _median([10.0, 9.5, 9.2], [30.0, 28.5, 27.6], "after", "2024-06-01"),
        ],
        ignore_index=True,
    )
    res = ncs.analyze(sites, criteria="katz2002")
    with pytest.raises(ValidationError, match="2 studies: name the visit"):
        plot_nerve(res, "P", "median", "R")
    before = plot_nerve(res, "P", "median", "R", visit="before")
    assert list(before.get_lines()[0].get_ydata()) == [10.0, 5.0, 4.8]
    assert _spans(before) == [(0.0, 1.0)]
    after = plot_nerve(res, "P", "median", "R", visit="after")
    assert list(after.get_lines()[0].get_ydata()) == [10.0, 9.5, 9.2]
    assert _spans(after) == []  # the block resolved
    with pytest.raises(ValidationError, match="no sites"):
        plot_nerve(res, "P", "median", "R", visit="day 99")


def _segments_of(nerve, sites, criteria):
    """The segments of one nerve studied at these sites (distal to proximal)."""
    n = len(sites)
    study = pd.DataFrame(
        {
            "patient_id": "P",
            "nerve": nerve,
            "side": "R",
            "site": list(sites),
            "latency_ms": [3.5 + 3.0 * i for i in range(n)],
            "amplitude_mv": [10.0] * n,
            "area_mvms": [30.0] * n,
            "duration_ms": [5.5] * n,
            "distance_mm": [80] * n,
        }
    )
    return ncs.analyze(study, criteria=criteria).segments


def test_threshold_lines_leave_out_rules_whose_scope_leaves_the_nerve_out():
    from ncs.plot import drop_thresholds

    def lines(cid, nerve, sites):
        crits = [ncs.CRITERIA[cid]]
        return {
            (m, v) for m, v, _ in drop_thresholds(crits, nerve, _segments_of(nerve, sites, cid))
        }

    median = ("wrist", "elbow", "axilla")
    tibial = ("ankle", "knee")
    # EFNS/PNS 2010 CIDP: the partial-block rule (amplitude >= 30 %) excludes the tibial nerve
    assert ("amp_drop_pct", 30.0) in lines("efns2010_cidp", "median", median)
    assert ("amp_drop_pct", 30.0) not in lines("efns2010_cidp", "tibial", tibial)
    # EAN/PNS 2021: the 30 % rule excludes the tibial nerve and the 50 % rule is Erb's point
    # only: no block rule takes a tibial segment, so no line
    assert lines("ean2021_cidp", "tibial", tibial) == set()
    assert ("amp_drop_pct", 50.0) not in lines("ean2021_cidp", "median", median)
    assert ("amp_drop_pct", 50.0) in lines("ean2021_cidp", "median", ("wrist", "elbow", "erb"))
    # EFNS/PNS 2010 MMN: median, ulnar and peroneal only; its area >= 30 % rule (definite
    # block) median and ulnar only
    assert lines("efns2010_mmn", "tibial", tibial) == set()
    assert ("area_drop_pct", 30.0) in lines("efns2010_mmn", "ulnar", ("wrist", "below elbow"))
    peroneal = ("ankle", "below fibular head")
    assert ("area_drop_pct", 30.0) not in lines("efns2010_mmn", "peroneal", peroneal)
    # a criterion limited to listed segments (as AAN 1991's forearm and leg segments)
    katz = ncs.CRITERIA["katz2002"]
    pairs = (("median", "wrist", "elbow"),)
    forearm = dataclasses.replace(
        katz, id="katz_forearm", scope=dataclasses.replace(katz.scope, only_pairs=pairs)
    )
    seg = _segments_of("median", median, "katz2002")
    assert {(m, v) for m, v, _ in drop_thresholds([forearm], "median", seg)} == {
        ("amp_drop_pct", 30.0),
        ("area_drop_pct", 30.0),
    }
    ulnar = _segments_of("ulnar", ("wrist", "below elbow"), "katz2002")
    assert drop_thresholds([forearm], "ulnar", ulnar) == []


def test_one_criterions_adjacent_block_does_not_hide_anothers_bracket():
    # ulnar 10 / 7 / 4.9 / 4.8 mV at wrist, below elbow, above elbow, axilla (areas in
    # proportion): EFNS/PNS 2010 CIDP finds a probable block wrist to below elbow (-30 %,
    # >= 30 %), Katz 2002 none there (-30 %, not > 30 %) but wrist to above elbow (-51 %,
    # against the most distal site): Katz's bracket is drawn beside EFNS's shading
    sites = pd.DataFrame(
        {
            "patient_id": "P",
            "nerve": "ulnar",
            "side": "R",
            "site": ["wrist", "below elbow", "above elbow", "axilla"],
            "latency_ms": [3.0, 7.0, 9.0, 11.0],
            "amplitude_mv": [10.0, 7.0, 4.9, 4.8],
            "area_mvms": [30.0, 21.0, 14.7, 14.4],
            "duration_ms": [5.5, 5.6, 5.7, 5.8],
            "distance_mm": [70, 220, 100, 120],
        }
    )
    res = ncs.analyze(sites, criteria=["katz2002", "efns2010_cidp"])
    ax = plot_nerve(res, "P", "ulnar", "R")
    assert (0.0, 1.0) in _spans(ax)  # EFNS's probable block, shaded
    brackets = [t for t in _texts(ax) if t.startswith("block vs wrist")]
    assert any("Katz 2002" in t for t in brackets), _texts(ax)
