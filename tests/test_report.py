"""The HTML report: content, escaping, self-containment, and rendering without matplotlib."""

from __future__ import annotations

import builtins
import re
from html.parser import HTMLParser

import pandas as pd
import pytest

import ncs
from conftest import FIXTURES, two_sites
from ncs.report import to_html, write_html

NASTY = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "a'b&c"]


class _Collector(HTMLParser):
    """Tags, attributes and text of a page, to check what a browser would see."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def _parse(page: str) -> _Collector:
    parser = _Collector()
    parser.feed(page)
    return parser


@pytest.fixture(scope="module")
def mmn():
    return ncs.analyze(ncs.read_sites(FIXTURES / "mmn_forearm_block.csv"))


def test_verdicts_evidence_and_citations_on_the_page(mmn):
    page = to_html(mmn, plots=False)
    text = " ".join(_parse(page).text)
    # hand-worked verdicts of this fixture (data/fixtures/README.md)
    assert "demyelinating" in text and "conduction_block" in text
    assert "Patient MMN01" in text
    # the evidence sentence of each scheme, and the reason of the blocked segment
    for row in mmn.patients.itertuples():
        assert row.evidence in text
    assert "amplitude fell 64.6% (>50%) and area fell 64.6% (>50%)" in text
    # citations with the DOI as a link
    assert "Neurology 2002;58(4):615-620" in text
    assert any(
        a.get("href") == "https://doi.org/10.1212/wnl.58.4.615"
        for t, a in _parse(page).tags
        if t == "a"
    )
    # every nerve, and every site of the median nerve
    for nerve in ("median", "ulnar", "peroneal", "tibial"):
        assert f"{nerve} R" in text
    for site in ("wrist", "elbow", "axilla"):
        assert site in text


def test_every_scheme_from_the_analysis_is_shown():
    """Schemes come from analysis.criteria, not a fixed list."""
    sites = ncs.read_sites(FIXTURES / "normal.csv")
    only_katz = to_html(ncs.analyze(sites, criteria="katz2002"), plots=False)
    assert "katz2002" in only_katz and "bouche1995" not in only_katz
    import dataclasses

    custom = dataclasses.replace(ncs.CRITERIA["katz2002"], id="katz_custom", title="My lab's Katz")
    page = to_html(ncs.analyze(sites, criteria=[custom]), plots=False)
    assert "katz_custom" in page and "My lab&#x27;s Katz" in page


def test_extra_columns_appear(mmn):
    import dataclasses

    patients = mmn.patients.assign(new_column_from_lead=["value-xyz"] * len(mmn.patients))
    page = to_html(dataclasses.replace(mmn, patients=patients), plots=False)
    assert "new_column_from_lead" in page and "value-xyz" in page


@pytest.mark.parametrize("nasty", NASTY)
def test_user_strings_are_escaped(nasty):
    sites = two_sites(amp=(10.0, 3.0), patient=nasty)
    sites["site_order"] = [0, 1]
    sites["site"] = ["wrist", nasty + " site"]
    sites["comment"] = [nasty, nasty]
    result = ncs.analyze(sites)
    page = to_html(result, title=nasty, plots=False)
    parsed = _parse(page)
    assert "script" not in [t for t, _ in parsed.tags]
    assert "img" not in [t for t, _ in parsed.tags]
    assert not any(k.startswith("on") for _, attrs in parsed.tags for k in attrs)
    assert nasty not in page  # only escaped forms
    # and the text a reader sees is the original string
    assert nasty in "".join(parsed.text)


def test_self_contained_no_external_resources(mmn):
    page = to_html(mmn)  # with plots when matplotlib is present
    parsed = _parse(page)
    for tag, attrs in parsed.tags:
        assert tag not in ("script", "link", "iframe", "object", "embed")
        if tag == "img":
            assert attrs["src"].startswith("data:image/png;base64,")
    assert "@import" not in page and "url(" not in page
    assert "<style>" in page


def test_plots_present_with_matplotlib(mmn):
    pytest.importorskip("matplotlib")
    page = to_html(mmn)
    images = [a for t, a in _parse(page).tags if t == "img"]
    assert len(images) == 4  # one per nerve (every nerve of this study has >= 2 sites)


def test_without_matplotlib_the_report_still_renders(mmn, monkeypatch):
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError("no matplotlib here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    page = to_html(mmn)
    assert "<img" not in page
    assert "matplotlib is not installed" in page
    assert "conduction_block" in page


def test_missing_values_and_single_site_nerves():
    result = ncs.analyze(ncs.read_sites(FIXTURES / "missing_measures.csv"))
    page = to_html(result, plots=False)
    assert "indeterminate" in page
    assert "One stimulation site only" in page  # MISS01 tibial, ankle only
    assert 'title="missing"' in page


def test_traces_are_drawn_when_given(mmn):
    pytest.importorskip("matplotlib")
    from ncs.simulate import cmap

    sim = cmap([70.0, 300.0, 430.0], amplitude_mv=8.0, seed=1)
    without = to_html(mmn)
    page = to_html(mmn, traces={("MMN01", "median", "R"): sim})
    assert page.count("<img") == without.count("<img") + 1
    assert 'alt="traces, median R"' in page


def test_write_html(tmp_path, mmn):
    path = write_html(mmn, tmp_path / "r.html", plots=False)
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    assert re.search(r'<meta charset="utf-8">', text)


def test_report_of_a_round_tripped_json_result(mmn):
    again = ncs.io.from_json(mmn.to_json())
    assert to_html(again, plots=False) == to_html(mmn, plots=False)


def test_empty_findings_table_is_fine():
    sites = pd.DataFrame(
        {
            "patient_id": ["A"],
            "nerve": ["median"],
            "side": ["R"],
            "site": ["wrist"],
            "latency_ms": [3.5],
            "amplitude_mv": [8.0],
        }
    )
    page = to_html(ncs.analyze(sites))
    assert "indeterminate" in page and "One stimulation site only" in page
