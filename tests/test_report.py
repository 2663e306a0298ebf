"""The HTML report: content, clinical labels, the impression clause by clause, the rule that
decided each verdict, escaping, self-containment, and rendering without matplotlib.

Expected sentences are worked by hand from the fixtures (data/fixtures/README.md gives the
numbers) and the criteria's published rules, not copied from the code.
"""

from __future__ import annotations

import builtins
import dataclasses
import html
import re
import warnings
from html.parser import HTMLParser

import pandas as pd
import pytest

import ncs
from conftest import FIXTURES, two_sites
from ncs.labels import NOT_IN_SCHEME, value_label
from ncs.report import impression, to_html, write_html

NASTY = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "a'b&c"]
ALL_FIXTURES = sorted(p.name for p in FIXTURES.glob("*.csv"))


class _Collector(HTMLParser):
    """Tags, attributes and text of a page, and the text of every heading and label."""

    LABELS = ("h1", "h2", "h3", "h4", "h5", "h6", "th", "caption", "summary", "figcaption")

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.labels: list[str] = []  # text of headings/labels, scheme-id spans left out
        self.ids_beside: list[str] = []  # label text around each scheme-id span
        self._open: list[str] = []
        self._in_label = 0
        self._in_sid = 0
        self._current: list[str] = []
        self._sids: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        self._open.append(tag)
        if tag in self.LABELS:
            self._in_label += 1
            if self._in_label == 1:
                self._current, self._sids = [], []
        if tag == "span" and "sid" in (a.get("class") or "").split():
            self._in_sid += 1

    def handle_endtag(self, tag):
        while self._open:
            top = self._open.pop()
            if top == "span" and self._in_sid:
                self._in_sid -= 1
            if top in self.LABELS:
                self._in_label -= 1
                if self._in_label == 0:
                    text = " ".join("".join(self._current).split())
                    self.labels.append(text)
                    self.ids_beside.extend(f"{text}|{s}" for s in self._sids)
            if top == tag:
                break

    def handle_data(self, data):
        self.text.append(data)
        if self._in_label:
            if self._in_sid:
                self._sids.append(data.strip())
            else:
                self._current.append(data)


def _parse(page: str) -> _Collector:
    parser = _Collector()
    parser.feed(page)
    return parser


def _text(page: str) -> str:
    return " ".join(" ".join(_parse(page).text).split())


def _quiet(sites, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ncs.NcsWarning)
        return ncs.analyze(sites, **kw)


def _fixture(name, criteria=None, **kw):
    return _quiet(ncs.read_sites(FIXTURES / name), criteria=criteria, **kw)


def _clauses(result, pid) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for c in impression(result, pid):
        out.setdefault(c.kind, []).append(c.text)
    return out


@pytest.fixture(scope="module")
def mmn():
    return ncs.analyze(ncs.read_sites(FIXTURES / "mmn_forearm_block.csv"))


# --- content ------------------------------------------------------------------------------


def test_verdicts_evidence_and_citations_on_the_page(mmn):
    page = to_html(mmn, plots=False)
    text = _text(page)
    # hand-worked verdicts of this fixture (data/fixtures/README.md), in clinical words
    assert "● demyelinating" in text and "● conduction block" in text
    assert "Patient MMN01" in text
    for row in mmn.patients.itertuples():
        assert " ".join(row.evidence.split()) in text
    assert "amplitude fell 64.6% (>50%) and area fell 64.6% (>50%)" in text
    assert "Neurology 2002;58(4):615-620" in text
    assert any(
        a.get("href") == "https://doi.org/10.1212/wnl.58.4.615"
        for t, a in _parse(page).tags
        if t == "a"
    )
    for nerve in ("Median", "Ulnar", "Peroneal", "Tibial"):
        assert f"{nerve} nerve, right" in text
    for site in ("wrist", "elbow", "axilla"):
        assert site in text


def test_the_study_table_holds_every_site_value_with_the_limits_and_their_table():
    result = _fixture("mmn_forearm_block.csv", "all")
    page = to_html(result, plots=False)
    study = page[
        page.index('<table class="study"') : page.index(
            "</table>", page.index('<table class="study"')
        )
    ]
    cells = re.findall(r"<td[^>]*>(?:<b>)?([^<]*)", study)
    # median R wrist: 3.6 ms, 8.2 mV, 28.5 mV·ms, 5.4 ms, 70 mm; F 29.1 ms, 70 %
    for value in ("3.6", "8.2", "28.5", "5.4", "70", "29.1", "7.9", "2.9", "10.1", "5.9", "230"):
        assert value in cells
    # velocity of wrist -> elbow: 230 mm / (7.9 - 3.6) ms = 53.49 m/s
    assert "53.5" in cells
    # the limits used (default table: median ULN 4.5 ms, LLN 4.1 mV, 49 m/s; F ULN 31 ms)
    for limit in ("≤ 4.5", "≥ 4.1", "≥ 49.0", "≤ 31.0"):
        assert limit in study
    from ncs.normative import DEFAULT_REFERENCE_NAME

    assert DEFAULT_REFERENCE_NAME in _text(page)


@pytest.mark.parametrize(
    ("measure", "value", "marked"),
    [
        ("latency", 4.4, False),  # median distal latency ULN 4.5 ms (default): above it
        ("latency", 4.5, False),
        ("latency", 4.6, True),
        ("amp", 4.2, False),  # median distal amplitude LLN 4.1 mV (default): below it
        ("amp", 4.1, False),
        ("amp", 4.0, True),
    ],
)
def test_a_value_beyond_its_limit_is_marked_at_the_boundary(measure, value, marked):
    given = {"latency": (value, 8.6)} if measure == "latency" else {"amp": (value, 3.9)}
    sites = two_sites(nerve="median", sites=("wrist", "elbow"), **given)
    page = to_html(_quiet(sites, criteria="efns2010_cidp"), plots=False)
    cell = re.search(r'<td class="num( abn)?">(?:<b>)?' + re.escape(f"{value}"), page)
    assert cell is not None
    assert bool(cell.group(1)) is marked


def _parameter_cells(page: str, parameter_label: str) -> list[str]:
    """The badge texts of one row of a nerve's parameters table."""
    row = re.search(
        r"<tr><th scope=\"row\">" + re.escape(parameter_label) + r"</th>(.*?)</tr>", page
    )
    assert row is not None, parameter_label
    return [
        html.unescape(re.sub(r"<[^>]+>", "", c)).strip()
        for c in re.findall(r"<td>(.*?)</td>", row.group(1))
    ]


def test_a_parameter_not_assessable_names_what_its_rule_lacks():
    # a lab table without an amplitude LLN: F waves are absent (persistence 0 %) but EFNS
    # item (d) counts them only with a distal amplitude >= 20 % of the LLN, and the block
    # rules' precondition is the same: both are not assessable for want of the LLN, and the
    # page says so (it named nothing for F waves, and amplitude and area, which are there,
    # for the block)
    sites = two_sites(nerve="ulnar").assign(f_persistence_pct=[0.0, None])
    lab = pd.DataFrame(
        {"nerve": ["ulnar"], "dml_uln_ms": [3.3], "cv_lln_m_s": [52.0], "f_latency_uln_ms": [32.0]}
    )
    page = to_html(_quiet(sites, criteria="efns2010_cidp", reference=lab), plots=False)
    lacking = "not assessable — missing data (amplitude LLN)"
    from ncs.labels import column_label

    assert _parameter_cells(page, column_label("f_waves_absent")) == [f"? {lacking}"]
    assert _parameter_cells(page, column_label("conduction_block")) == [f"? {lacking}"]
    assert "missing data (amplitude, area)" not in page


def test_without_limits_nothing_is_marked_and_it_says_so(mmn):
    page = to_html(mmn, plots=False)  # Katz and Bouche need no reference limits
    assert "No reference limits were applied" in page
    assert 'class="num abn"' not in page


def test_absent_responses_read_no_response():
    page = to_html(_fixture("missing_measures.csv"), plots=False)
    assert "no response" in _text(page)


def test_every_scheme_from_the_analysis_is_shown():
    """Schemes come from analysis.criteria, not a fixed list."""
    sites = ncs.read_sites(FIXTURES / "normal.csv")
    only_katz = to_html(ncs.analyze(sites, criteria="katz2002"), plots=False)
    assert "katz2002" in only_katz and "bouche1995" not in only_katz
    custom = dataclasses.replace(
        ncs.CRITERIA["katz2002"], id="katz_custom", title="My lab's Katz", short="Lab Katz"
    )
    page = to_html(ncs.analyze(sites, criteria=[custom]), plots=False)
    assert "katz_custom" in page and "My lab&#x27;s Katz" in page and "Lab Katz" in page


def test_extra_columns_appear_with_a_clinical_label(mmn):
    patients = mmn.patients.assign(new_column_from_lead=["value-xyz"] * len(mmn.patients))
    page = to_html(dataclasses.replace(mmn, patients=patients), plots=False)
    assert "new column from lead: value-xyz" in _text(page)
    sites = ncs.read_sites(FIXTURES / "mmn_forearm_block.csv").assign(comment="repeated x2")
    text = _text(to_html(ncs.analyze(sites), plots=False))
    assert "Comment: repeated x2" in text


# --- clinical labels ----------------------------------------------------------------------


def _raw_names(result) -> set[str]:
    names = set()
    for table in (
        result.sites,
        result.segments,
        result.findings,
        result.nerves,
        result.patients,
        result.warnings,
        result.rejected,
    ):
        names.update(str(c) for c in table.columns)
    return names


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_no_raw_column_name_or_bare_scheme_id_as_a_heading_or_label(name):
    result = _fixture(name, "all")
    parsed = _parse(to_html(result, plots=False))
    raw = _raw_names(result)
    ids = {c.id for c in result.criteria}
    shorts = {c.id: c.short for c in result.criteria}
    for label in parsed.labels:
        assert label not in raw, label  # a bare column name ("block", "verdict", ...)
        words = set(re.findall(r"[A-Za-z0-9_]+", label))
        assert not {w for w in words if "_" in w} & raw, label  # nor one inside a label
        assert not (words & ids), label  # ids only in their own span, beside the title
    assert parsed.ids_beside  # the ids are there, each beside its title
    for pair in parsed.ids_beside:
        text, sid = pair.split("|")
        assert sid in ids and shorts[sid] in text, pair
    # no badge shows a raw value (not_assessable, no_cb, ...)
    page_text = " ".join(parsed.text)
    for value in ("not_assessable", "not_applicable", "no_conduction_block", "not_demyelinating"):
        for icon in ("●", "○", "?", "–"):  # every badge's icon
            assert f"{icon} {value}" not in page_text


def test_a_scheme_without_a_dispersion_rule_reads_not_part_of_it():
    result = _fixture("missing_measures.csv")
    page = to_html(result, plots=False)
    # read inside the judgement tables (the guide to the report names every label too)
    tables = re.findall(r'<table class="judgements">.*?</table>', page, flags=re.S)
    assert tables
    text = _text("".join(tables))
    # Bouche 1995 has no dispersion rule: never "not assessable" for its dispersion
    assert NOT_IN_SCHEME in text
    # Katz 2002 at MISS01 median: duration not recorded (and area): the measures are named
    assert "not assessable — missing data (area, duration)" in text
    assert "not applicable — excluded by the rule" in text  # MISS01 peroneal: no response


# --- the impression, clause by clause -----------------------------------------------------


def test_impression_block_and_schemes_mmn():
    c = _clauses(_fixture("mmn_forearm_block.csv"), "MMN01")
    # median R: wrist 8.2 -> elbow 2.9 mV (-64.6 %), area -64.6 %, duration +9.3 %: block under
    # Katz (>30 %) and Bouche (>50 %, |duration| <15 %); wrist -> axilla 8.2 -> 2.7 mV (-67.1 %),
    # area 28.5 -> 9.6 (-66.3 %), duration +11.1 %: both again; elbow -> axilla -6.9 %: neither
    assert c["block"] == [
        "Conduction block in the right median nerve: wrist to elbow (Katz 2002, Bouche 1995); "
        "wrist to axilla (Katz 2002, Bouche 1995)."
    ]
    assert "dispersion" not in c  # every duration change <= +13.6 %
    assert c["schemes_met"] == [
        "Criteria met: Katz 2002 (demyelinating); Bouche 1995 (conduction block)."
    ]
    assert "schemes_open" not in c and "schemes_other" not in c
    assert "not_assessable" not in c and "one_site" not in c


def test_impression_dispersion_and_phase_cancellation_cidp():
    c = _clauses(_fixture("cidp_dispersion.csv"), "CIDP01")
    # median: duration 7.2 -> 10.8 ms (+50 % > 30 %), amplitude -37.3 % (> 30 %), area -24.8 %
    # (not > 30 %): Katz block by amplitude alone beside dispersion
    assert (
        "Temporal dispersion in the left median nerve: wrist to elbow (Katz 2002)."
        in c["dispersion"]
    )
    assert c["schemes_other"] == ["Not met or another class: Bouche 1995 (no conduction block)."]
    (phase,) = c["phase_cancellation"]
    assert "left median nerve, wrist to elbow (Katz 2002)" in phase
    assert phase.endswith("phase cancellation may explain the amplitude drop.")


def test_impression_nothing_found_normal():
    c = _clauses(_fixture("normal.csv"), "NORM01")
    assert c["no_finding"] == [
        "No conduction block or temporal dispersion under the criteria applied, in the "
        "segments that could be judged."
    ]
    assert c["schemes_other"] == [
        "Not met or another class: Katz 2002 (not demyelinating); Bouche 1995 (no conduction "
        "block)."
    ]
    assert not any(k in c for k in ("block", "dispersion", "warnings", "cold_limb"))


def test_impression_what_could_not_be_judged_and_why():
    result = _fixture("missing_measures.csv")
    c = _clauses(result, "MISS01")
    # median -8.0 % and ulnar -12.1 %: Katz could still be met by the unrecorded areas and
    # durations; Bouche's both-drops-over-50 % is ruled out already
    assert c["not_assessable"] == [
        "Could not be judged: right median nerve, wrist to elbow: area and duration missing "
        "(Katz 2002); right ulnar nerve, wrist to below elbow: area and duration missing "
        "(Katz 2002)."
    ]
    assert c["one_site"] == ["One stimulation site only, no segment to judge: right tibial nerve."]
    # peroneal: no response at either site: excluded (not applicable), not missing data
    (excluded,) = c["excluded"]
    assert "not missing data" in excluded
    assert "Katz 2002, 1 segment" in excluded and "Bouche 1995, 1 segment" in excluded
    assert c["schemes_open"] == [
        "Indeterminate, as missing data could change the verdict: Katz 2002."
    ]
    c2 = _clauses(result, "MISS02")
    # ulnar -58.1 %: Katz met by amplitude alone; Bouche needs the area and duration
    assert c2["block"] == [
        "Conduction block in the left ulnar nerve: wrist to below elbow (Katz 2002)."
    ]
    assert (
        "left ulnar nerve, wrist to below elbow: area and duration missing (Bouche 1995)"
        in c2["not_assessable"][0]
    )


def test_impression_items_without_their_measure_and_no_segment():
    result = _fixture("guideline_examples.csv", "all")
    open01 = _clauses(result, "OPEN01")
    (items,) = open01["items_not_assessable"]
    assert items.startswith(
        "Not assessable for missing data: F-wave latency prolonged in the "
        "right median nerve and right ulnar nerve (F-wave latency missing;"
    )
    inex = _clauses(result, "INEX01")
    assert inex["no_segment"] == [
        "No segment to judge: each nerve was stimulated at one site only."
    ]
    assert "Hadden 1998 (inexcitable)" in inex["schemes_other"][0]


def test_impression_caveats_unverified_and_default_reference():
    sites = ncs.read_sites(FIXTURES / "mmn_forearm_block.csv")
    c = _clauses(_quiet(sites, criteria="efns2010_cidp"), "MMN01")
    assert c["unverified"] == [
        "Not verified against its source: EFNS/PNS 2010 CIDP; read its verdict as provisional."
    ]
    assert "default values" in c["default_reference"][0]
    lab = pd.DataFrame(
        {
            "nerve": ["median", "ulnar", "peroneal", "tibial"],
            "dml_uln_ms": [4.4, 3.3, 6.5, 6.1],
            "amp_lln_mv": [4.1, 7.9, 1.3, 4.4],
            "cv_lln_m_s": [49.0, 52.0, 38.0, 39.0],
            "f_latency_uln_ms": [31.0, 32.0, 56.0, 56.0],
        }
    )
    c = _clauses(_quiet(sites, criteria="efns2010_cidp", reference=lab), "MMN01")
    assert "default_reference" not in c
    c = _clauses(_quiet(sites, criteria="katz2002"), "MMN01")  # verified, needs no limits
    assert "unverified" not in c and "default_reference" not in c


def test_impression_caveat_cold_limb():
    sites = two_sites(nerve="median", sites=("wrist", "elbow")).assign(temperature_c=31.0)
    result = _quiet(sites, temperature_limits_c={"upper": 32.0, "lower": 30.0})
    (cold,) = _clauses(result, "P1")["cold_limb"]
    assert cold.startswith("Cold limb: right median nerve (31.0 °C, below 32.0 °C)")
    warm = _quiet(sites.assign(temperature_c=32.0), temperature_limits_c={"upper": 32.0})
    assert "cold_limb" not in _clauses(warm, "P1")  # 32.0 is not below 32.0


def test_impression_caveat_warnings_and_rejected_rows():
    # elbow 3000 mV / 10600 mV·ms: µV typed as mV, not judged as data (tests/test_slips.py)
    sites = two_sites(
        nerve="median", sites=("wrist", "elbow"), amp=(8.0, 3000.0), area=(28.0, 10600.0)
    )
    c = _clauses(_quiet(sites), "P1")
    # two warnings: the amplitude above 50 mV and the area above 200 mV·ms
    assert c["warnings"][0].startswith("Warnings: 2 about this patient's data")
    assert "a value not judged as data" in c["not_assessable"][0]
    bad = pd.concat([two_sites(), two_sites(nerve="median", sites=("wrist", "elbow"))])
    bad = bad.reset_index(drop=True)
    bad.loc[3, "latency_ms"] = 1.0  # proximal before distal: an error, the nerve is set aside
    c = _clauses(_quiet(bad, errors="collect"), "P1")
    assert c["rejected"][0].startswith("2 input rows were set aside as invalid")


def test_impression_clauses_are_on_the_page(mmn):
    text = _text(to_html(mmn, plots=False))
    for clause in impression(mmn, "MMN01"):
        assert clause.text in text


# --- the rule that decided each verdict ---------------------------------------------------


def _verdict_row(page: str, scheme: str) -> str:
    table = page[page.index('<table class="verdicts"') :]
    table = table[: table.index("</table>")]
    for row in table.split("<tr>"):
        if f'<span class="sid">{scheme}</span>' in row:
            return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", row)).split())
    raise AssertionError(scheme)


def test_the_rule_that_decided_is_shown_not_the_first_rule():
    result = _fixture("guideline_examples.csv", "all")
    page = to_html(result, plots=False)
    pages = {pid: page[page.index(f"Patient {pid}</h2>") :] for pid in ("OPEN01", "PROB01")}
    # OPEN01: velocities 38.3 and 40.4 m/s < 90 % of LLN (44.1, 46.8) in two nerves decide the
    # Hadden class; no segment has a block
    row = _verdict_row(pages["OPEN01"], "hadden1998_gbs")
    assert "Decided by: demyelinating: a demyelinating feature in each of >= 2 nerves" in row
    assert "(mcv) motor conduction velocity slowed in 2 nerve(s)" in row
    assert "(cb)" not in row
    # PROB01: 40 % drops in two nerves: EFNS probable, by the probable-block item
    row = _verdict_row(pages["PROB01"], "efns2010_cidp")
    assert "Decided by: (probable) probable conduction block" in row
    cidp = _fixture("cidp_dispersion.csv", "all")
    row = _verdict_row(to_html(cidp, plots=False), "efns2010_cidp")
    assert "● definite" in row
    assert "Decided by: (b) motor conduction velocity slowed, in >= 2 nerves" in row


def test_a_verdict_no_rule_decided_reads_rule_applied_not_decided_by():
    result = _fixture("mmn_forearm_block.csv", "all")
    page = to_html(result, plots=False)
    row = _verdict_row(page, "aan1991_cidp")  # not met: only item 2 in one nerve
    assert "? " not in row and "○ not met" in row
    assert "Rule applied: met when at least 3 of the 4 items hold" in row
    assert "Decided by" not in row
    row = _verdict_row(page, "hadden1998_gbs")  # equivocal: no class met, nothing missing
    assert value_label("equivocal") in row and "Rule applied:" in row
    open_ = _clauses(result, "MMN01").get("schemes_open", [])
    assert not any("Hadden" in t for t in open_)  # equivocal is not "missing data"


# --- warnings -----------------------------------------------------------------------------


def test_warnings_banner_at_the_top_and_at_the_nerve():
    sites = two_sites(nerve="median", sites=("wrist", "elbow"), amp=(8.0, 3000.0))
    page = to_html(_quiet(sites), plots=False)
    banner = page.index('class="banner"')
    assert banner < page.index('id="overview"')
    assert "above 50 mV" in page[banner : page.index('id="overview"')]
    nerve = page.index("Warning for this nerve")
    assert nerve > page.index('id="p0"')
    assert "data row 2" in page  # the elbow row, counted from 1 after the header


def test_no_banner_without_warnings(mmn):
    assert 'class="banner"' not in to_html(mmn, plots=False)


# --- escaping and self-containment --------------------------------------------------------


@pytest.mark.parametrize("nasty", [*NASTY, "</style><script>x</script>", 'a"b\\c'])
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
    assert nasty not in page  # only escaped forms (HTML, or CSS in the page headers)
    assert page.count("</style>") == 1
    assert nasty in "".join(parsed.text)


def test_running_headers_name_each_patient_and_the_footer_the_versions(mmn):
    page = to_html(mmn, plots=False)
    style = page[page.index("<style>") : page.index("</style>")]
    assert "@page patient0" in style and "#p0 { page: patient0; }" in style
    assert 'counter(page) " of " counter(pages)' in style
    version = mmn.meta["provenance"]["criteria"][0]["version"]
    assert version in style and "ncs " in style


def test_paper_size():
    result = ncs.analyze(ncs.read_sites(FIXTURES / "normal.csv"))
    assert "size: A4;" in to_html(result, plots=False, paper="a4")
    assert "size: Letter;" in to_html(result, plots=False, paper="Letter")
    assert " size:" not in to_html(result, plots=False).split("@page", 1)[1][:20]
    with pytest.raises(ncs.ValidationError, match="paper"):
        to_html(result, plots=False, paper="A5")


def test_print_mode_opens_the_details(mmn):
    assert '<details class="reasons" open>' in to_html(mmn, plots=False, print_mode=True)
    assert '<details class="reasons">' in to_html(mmn, plots=False)


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
    assert len(images) == 1  # one figure of small multiples per patient
    assert images[0]["alt"].count("nerve, right") == 4  # one panel per nerve


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
    assert "● conduction block" in _text(page)


def test_missing_values_and_single_site_nerves():
    result = ncs.analyze(ncs.read_sites(FIXTURES / "missing_measures.csv"))
    page = to_html(result, plots=False)
    assert value_label("indeterminate") in _text(page)
    assert "One stimulation site only" in page  # MISS01 tibial, ankle only
    assert 'title="not recorded"' in page


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
    assert value_label("indeterminate") in _text(page) and "One stimulation site only" in page


# --- serial studies: a page per visit and the follow-up section ------------------------------


def _followup_text(page: str) -> str:
    """The text of the follow-up section(s) of a page."""
    start = page.index('<section class="patient followup"')
    return _text(page[start:])


def test_serial_studies_have_a_page_per_visit_and_a_followup_section():
    result = _fixture("followup_ivig_persisting.csv")
    page = to_html(result, plots=False)
    headings = [t for t in _parse(page).labels if t.startswith("Patient ")]
    assert headings == ["Patient FU_IVIG, visit baseline", "Patient FU_IVIG, visit after IVIg"]
    follow = _followup_text(page)
    assert follow.startswith("Follow-up of patient FU_IVIG")
    assert "baseline (2023-01-16) → after IVIg (2023-07-17), 182 days apart" in follow
    # worked by hand (data/fixtures/README.md): 64.634 % -> 58.140 %, -6.495 points, range
    # [-29.582, +16.108] with CV 0.156; area 64.561 % -> 58.389 %, -6.172 points
    assert (
        "wrist to elbow Katz 2002 katz2002 ● yes → ● yes ● block persisting 64.6 → 58.1 −6.5 "
        "within (−29.6 to +16.1) 64.6 → 58.4 −6.2"
    ) in follow
    assert (
        "wrist to axilla (from the most distal site) Bouche 1995 bouche1995 ● yes → ● yes "
        "● block persisting 67.1 → 60.5 −6.6 within (−27.5 to +15.0)"
    ) in follow
    assert "Conduction block since baseline: unchanged under Katz 2002 and Bouche 1995." in follow
    # the follow-up is the one ncs.followup computes: passing it gives the same page
    fu = ncs.followup(result)
    assert to_html(fu, plots=False) == page
    assert to_html(result, plots=False, followup=fu) == page
    assert "Follow-up of patient" not in to_html(result, plots=False, followup=False)


@pytest.mark.parametrize(
    ("name", "pid", "expected"),
    [
        # ulnar R wrist -> below elbow 60.000 % -> 7.813 % (-52.188), range [-33.458, +18.219]
        (
            "followup_resolved.csv",
            "FU_RES",
            [
                "wrist to below elbow Katz 2002 katz2002 ● yes → ○ no ○ block resolved "
                "60.0 → 7.8 −52.2 beyond (−33.5 to +18.2)",
                "Conduction block since day 7: improved under Katz 2002 and Bouche 1995.",
            ],
        ),
        # ulnar L wrist -> below elbow 4.444 % -> 60.227 % (+55.783), range [-79.928, +43.523]
        (
            "followup_new_block.csv",
            "FU_NEW",
            [
                "wrist to below elbow Katz 2002 katz2002 ○ no → ● yes ● new block "
                "4.4 → 60.2 +55.8 beyond (−79.9 to +43.5)",
                "Conduction block since first study: worsened under Katz 2002 and Bouche 1995.",
            ],
        ),
        # the axilla is stimulated at 6 months only: listed, never a new block
        (
            "followup_site_added.csv",
            "FU_ADD",
            [
                "elbow to axilla — studied at 6 months only Katz 2002 katz2002 not studied → "
                "● yes ? not assessable",
                "Conduction block since baseline: unchanged under Katz 2002 and Bouche 1995.",
            ],
        ),
    ],
)
def test_followup_section_on_the_hand_worked_fixtures(name, pid, expected):
    follow = _followup_text(to_html(_fixture(name), plots=False))
    assert follow.startswith(f"Follow-up of patient {pid}")
    for text in expected:
        assert text in follow, (text, follow[:1500])


def test_followup_section_for_undated_visits_needs_their_order():
    sites = ncs.read_sites(FIXTURES / "followup_no_new_block.csv")  # no study_date
    page = to_html(_quiet(sites, visits=["pre-IVIg", "post-IVIg"]), plots=False)
    assert "Conduction block since pre-IVIg: unchanged" in _followup_text(page)
    # without the order the visits are reported, not compared, and the page says why
    page = to_html(_quiet(sites), plots=False)
    assert "Follow-up of patient" not in page
    assert "The visits are not compared" in _text(page)
    # pages in the input's order (pre-IVIg rows first), not the labels' alphabetical order
    assert [t for t in _parse(page).labels if t.startswith("Patient ")] == [
        "Patient FU_LMN, visit pre-IVIg",
        "Patient FU_LMN, visit post-IVIg",
    ]


def test_followup_section_escapes_visit_labels_and_names_single_visits():
    sites = ncs.read_sites(FIXTURES / "followup_resolved.csv")
    sites["visit"] = sites["visit"].replace({"day 28": "<b>day 28</b>"})
    once = sites[sites["visit"] == "day 7"].assign(patient_id="ONCE")
    page = to_html(_quiet(pd.concat([sites, once], ignore_index=True)), plots=False)
    assert "<b>day 28</b>" not in page and "&lt;b&gt;day 28&lt;/b&gt;" in page
    once_section = _text(page[page.index('<section class="patient followup" id="f2"') :])
    assert once_section.startswith("Follow-up of patient ONCE")
    assert "Studied at one visit: there is nothing to compare." in once_section


def test_impression_of_serial_studies_names_the_visit():
    result = _fixture("followup_resolved.csv")
    before = [c.kind for c in impression(result, "FU_RES", visit="day 7")]
    after = [c.kind for c in impression(result, "FU_RES", visit="day 28")]
    assert "block" in before and "block" not in after  # the ulnar block resolved
    with pytest.raises(ncs.ValidationError, match="name the visit"):
        impression(result, "FU_RES")
    with pytest.raises(ncs.ValidationError, match=r"has no visit 'day 99'.*day 7, day 28"):
        impression(result, "FU_RES", visit="day 99")


def test_an_impression_from_a_cohort_is_the_one_of_the_patient_alone():
    # one patient's impression reads that patient's rows (it used to build the whole
    # cohort's context first: seconds per patient on a cohort of thousands)
    from ncs import simulate

    cohort = simulate.cohort(12, seed=4)
    whole = _quiet(cohort)
    for pid in cohort["patient_id"].unique()[:4]:
        alone = _quiet(cohort[cohort["patient_id"] == pid])
        assert impression(whole, pid) == impression(alone, pid), pid
    serial = pd.concat(
        [ncs.read_sites(FIXTURES / f) for f in ("followup_resolved.csv", "followup_new_block.csv")],
        ignore_index=True,
    )
    whole = _quiet(serial)
    alone = _quiet(serial[serial["patient_id"] == "FU_RES"])
    for visit in ("day 7", "day 28"):
        assert impression(whole, "FU_RES", visit) == impression(alone, "FU_RES", visit), visit


def test_an_impression_keeps_the_warnings_about_the_whole_input():
    # distances in cm: a warning about the whole input (no patient) is a caveat of every
    # patient's impression, as on the page
    from ncs.cli import demo_path

    sites = ncs.read_sites(demo_path())
    result = _quiet(sites.assign(distance_mm=sites["distance_mm"] / 10))
    assert result.warnings["patient_id"].isna().any()  # the premise
    (caveat,) = [c.text for c in impression(result, "MMN01") if c.kind == "warnings"]
    assert "1 about the whole input" in caveat


def test_an_impression_of_a_patient_whose_rows_were_all_set_aside_says_so():
    # errors="collect": every row of BAD1 set aside; its impression says so (no error)
    from ncs.cli import demo_path

    sites = ncs.read_sites(demo_path())
    bad = sites.iloc[:2].assign(patient_id="BAD1", latency_ms="abc")
    result = _quiet(pd.concat([sites, bad], ignore_index=True), errors="collect")
    kinds = {c.kind: c.text for c in impression(result, "BAD1")}
    assert "2 input rows were set aside as invalid" in kinds["rejected"]
    serial = ncs.read_sites(FIXTURES / "followup_resolved.csv")
    bad = serial.iloc[:2].assign(patient_id="BAD2", latency_ms="abc")
    result = _quiet(pd.concat([serial, bad], ignore_index=True), errors="collect")
    kinds = {c.kind: c.text for c in impression(result, "BAD2")}
    assert "2 input rows were set aside as invalid" in kinds["rejected"]


def test_impression_of_a_patient_not_in_the_analysis_is_an_error(mmn):
    # an impression of nobody is not an empty impression ("nothing found" by omission)
    pid = str(mmn.patients["patient_id"].iloc[0])
    assert impression(mmn, pid)
    with pytest.raises(ncs.ValidationError, match="no patient 'P404' in this analysis"):
        impression(mmn, "P404")
    with pytest.raises(ncs.ValidationError, match="no visits"):
        impression(mmn, pid, visit="day 7")


# --- PDF without a browser ------------------------------------------------------------------


def test_write_pdf_without_a_browser_says_so(tmp_path, mmn, monkeypatch):
    from ncs.report import BrowserNotFoundError, write_pdf

    monkeypatch.setenv("NCS_BROWSER", "")
    monkeypatch.setattr("ncs.report.find_browser", lambda browser=None: None)
    with pytest.raises(BrowserNotFoundError, match="Chromium or Chrome"):
        write_pdf(mmn, tmp_path / "r.pdf")
    assert not (tmp_path / "r.pdf").exists()


def test_cli_pdf_without_a_browser_exits_2(tmp_path, capsys):
    from ncs.cli import main

    out = tmp_path / "r.pdf"
    code = main(
        [
            "report",
            str(FIXTURES / "normal.csv"),
            "-o",
            str(out),
            "--browser",
            str(tmp_path / "none"),
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "cannot write a PDF" in err and "--browser" in err
    assert not out.exists()


def test_too_many_patients_are_refused_before_the_report_is_built(monkeypatch):
    from ncs import report, simulate

    result = ncs.analyze(simulate.cohort(3, seed=2))
    assert result.patients["patient_id"].nunique() == 3

    def built(*args, **kwargs):
        raise AssertionError("the report was built before the patients were counted")

    monkeypatch.setattr(report, "_context", built)
    with pytest.raises(
        ncs.ValidationError, match="has 3 patients; one HTML report shows at most 2"
    ):
        report.to_html(result, plots=False, max_patients=2)
    serial = ncs.read_sites(FIXTURES / "followup_resolved.csv")
    fu = ncs.followup(serial)
    with pytest.raises(AssertionError, match="built before"):  # 1 patient: within the limit
        report.to_html(fu, plots=False, max_patients=1)


def test_a_serial_study_names_its_visit_in_the_heading_not_on_every_verdict_row():
    result = ncs.analyze(ncs.read_sites(FIXTURES / "followup_resolved.csv"))
    page = to_html(result, plots=False, followup=False)
    # two studies (day 7, day 28), two schemes: the date once per study heading
    assert page.count("Study date: 2024") == 2
    assert "Visit: day" not in page


def test_followup_segment_the_rule_sets_aside_reads_excluded_not_missing():
    # EFNS/PNS 2010 MMN sets aside a distal CMAP <= 1 mV (peroneal 0.9 mV at both visits):
    # the transition reads "not applicable", as the findings do, never "not assessable"
    import numpy as np

    sites = ncs.read_sites(FIXTURES / "followup_no_new_block.csv")
    peroneal = sites["nerve"] == "peroneal"
    sites.loc[peroneal, "amplitude_mv"] = np.where(
        sites.loc[peroneal, "site"] == "ankle", 0.9, 0.85
    )
    fu = ncs.followup(sites, "efns2010_mmn", visits=["pre-IVIg", "post-IVIg"])
    assert fu.segments.set_index("nerve").loc["peroneal", "transition"] == "not_assessable"
    page = to_html(fu, plots=False)
    tables = re.findall(r'<table class="followup">.*?</table>', page, flags=re.S)
    (table,) = [t for t in tables if "fibular head" in t]
    text = _text(table)
    # the block at each visit reads "not applicable", and so does the transition
    assert text.count("– not applicable") == 3
    assert text.count("not applicable — excluded by the rule") == 1  # the transition
    assert "not assessable" not in text
