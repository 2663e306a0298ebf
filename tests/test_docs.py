"""The documentation: generated pages match the library, worked examples match by hand."""

from __future__ import annotations

import importlib.util
import re
from fractions import Fraction

import pytest

import ncs
from conftest import FIXTURES, ROOT
from ncs.schema import COLUMNS

DOCS = ROOT / "docs"
EXAMPLES = sorted((DOCS / "examples").glob("*.md"))


def _hooks():
    spec = importlib.util.spec_from_file_location("ncs_docs_hooks", DOCS / "hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _nav_files() -> list[str]:
    text = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    nav = text[text.index("\nnav:") :]
    return re.findall(r":\s*([\w/.-]+\.md)\s*$", nav, flags=re.MULTILINE)


def test_column_table_lists_every_column():
    table = _hooks().columns_markdown()
    for column in COLUMNS:
        assert (
            f"| `{column.name}` | {column.kind} | {'yes' if column.required else 'no'} |" in table
        )
    assert "<!-- ncs:columns -->" in (DOCS / "tidy-format.md").read_text(encoding="utf-8")


def test_criteria_page_follows_the_registry():
    page = _hooks().criteria_markdown()
    headings = re.findall(r"^## `([^`]+)`", page, flags=re.MULTILINE)
    assert headings == list(ncs.CRITERIA)
    for criterion in ncs.CRITERIA.values():
        section = page.split(f"## `{criterion.id}`", 1)[1].split("\n## `", 1)[0]
        for rule in _hooks()._rules(criterion):
            for threshold in rule.thresholds:
                assert threshold.measure in section
                assert f"{threshold.value:g}" in section
        for verdict in criterion.verdicts:
            assert f"`{verdict}`" in section
        assert criterion.citation.text in section
    assert "<!-- ncs:criteria -->" in (DOCS / "criteria.md").read_text(encoding="utf-8")


def test_json_schema_page_is_generated():
    assert "<!-- ncs:json-schema -->" in (DOCS / "reports.md").read_text(encoding="utf-8")
    assert '"schema_version"' in _hooks().json_schema_markdown()


def test_every_page_is_in_the_navigation():
    nav = _nav_files()
    pages = sorted(str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md"))
    conditional = {"performance.md"}  # added by the hook when it exists
    assert sorted(set(pages) - conditional) == sorted(set(nav))
    assert "waveforms.md" in nav


def test_performance_page_joins_the_navigation_when_written(tmp_path, monkeypatch):
    hooks = _hooks()
    config = {"nav": [{"Home": "index.md"}, {"Limitations": "limitations.md"}]}
    monkeypatch.setattr(hooks, "DOCS", tmp_path)
    assert hooks.on_config(dict(config, nav=list(config["nav"])))["nav"] == config["nav"]
    (tmp_path / "performance.md").write_text("# Performance\n", encoding="utf-8")
    nav = hooks.on_config(dict(config, nav=list(config["nav"])))["nav"]
    assert nav == [
        {"Home": "index.md"},
        {"Performance": "performance.md"},
        {"Limitations": "limitations.md"},
    ]


# --- worked examples ---------------------------------------------------------------------

_MEASURES = {
    "amplitude (mV)": ("amp_drop_pct", "amplitude_mv"),
    "area (mV·ms)": ("area_drop_pct", "area_mvms"),
    "duration (ms)": ("dur_change_pct", "duration_ms"),
}
_NUMBER = r"[0-9]+(?:\.[0-9]+)?"


def _evaluate(calculation: str) -> Fraction:
    """'(a − b) / c × 100' with exact rationals (the doc's arithmetic, not the library's)."""
    m = re.fullmatch(rf"\(({_NUMBER}) − ({_NUMBER})\) / ({_NUMBER}) × 100", calculation.strip())
    assert m, calculation
    a, b, c = (Fraction(x) for x in m.groups())
    return (a - b) / c * 100


def _example(path):
    text = path.read_text(encoding="utf-8")
    meta = dict(re.findall(r"(\w+)=(\S+)", re.search(r"<!-- example: (.*?) -->", text).group(1)))
    rows = re.findall(
        r"^\| (.+?) \| (.+?) \| (.+?) \| (.+?) \| (.+?) \|$", text, flags=re.MULTILINE
    )
    table = {r[0]: r[1:] for r in rows if r[0] in _MEASURES}
    block, dispersion = re.search(
        r"Block: \*\*(\w+)\*\* · dispersion: \*\*(\w+)\*\*", text
    ).groups()
    verdict = re.search(r"^Verdict: \*\*(\w+)\*\*$", text, flags=re.MULTILINE).group(1)
    return meta, table, block, dispersion, verdict


def test_there_is_an_example_for_the_seed_criteria():
    schemes = {_example(p)[0]["scheme"] for p in EXAMPLES}
    assert {"katz2002", "bouche1995"} <= schemes
    assert schemes <= set(ncs.CRITERIA)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_worked_example(path):
    meta, table, block, dispersion, verdict = _example(path)
    assert set(table) == set(_MEASURES)
    sites = ncs.read_sites(FIXTURES / meta["fixture"])
    nerve = sites[
        (sites["patient_id"] == meta["patient"])
        & (sites["nerve"] == meta["nerve"])
        & (sites["side"] == meta["side"])
    ].set_index("site")
    result = ncs.analyze(sites, criteria=meta["scheme"])
    seg = result.segments
    seg = seg[
        (seg["patient_id"] == meta["patient"])
        & (seg["nerve"] == meta["nerve"])
        & (seg["distal_site"] == meta["distal"])
        & (seg["proximal_site"] == meta["proximal"])
        & (seg["comparison"] == "adjacent")
    ]
    assert len(seg) == 1
    for label, (measure, column) in _MEASURES.items():
        distal, proximal, calculation, stated = table[label]
        # the inputs are the fixture's numbers
        assert float(distal) == nerve.loc[meta["distal"], column]
        assert float(proximal) == nerve.loc[meta["proximal"], column]
        # the doc's arithmetic is right, to the one decimal it states
        exact = _evaluate(calculation)
        if measure == "dur_change_pct":  # (proximal − distal) / distal
            assert calculation.startswith(f"({proximal} − {distal}) / {distal}")
        else:  # (distal − proximal) / distal
            assert calculation.startswith(f"({distal} − {proximal}) / {distal}")
        assert abs(exact - Fraction(stated.lstrip("+"))) <= Fraction(5, 100)
        # and the library agrees
        assert seg[measure].iloc[0] == pytest.approx(float(exact), abs=1e-9)
    finding = result.findings.loc[seg.index[0]]
    assert str(finding["block"]) == block
    assert str(finding["dispersion"]) == dispersion
    patient = result.patients[result.patients["patient_id"] == meta["patient"]]
    assert patient["verdict"].tolist() == [verdict]


def test_reading_files_page_lists_the_one_table_of_cell_words():
    from ncs.cells import ABSENT_WORDS, MISSING_WORDS
    from ncs.names import MUSCLE_ALIASES

    page = (DOCS / "reading-files.md").read_text(encoding="utf-8")
    for marker in ("<!-- ncs:cell-words -->", "<!-- ncs:muscles -->", "<!-- ncs:site-words -->"):
        assert marker in page
    table = _hooks().cell_words_markdown()
    for word in (MISSING_WORDS | ABSENT_WORDS) - {""}:
        assert f"`{word}`" in table
    muscles = _hooks().muscles_markdown()
    assert all(f"`{m}`" in muscles for m in set(MUSCLE_ALIASES.values()))
    for option in ("--sep", "--decimal", "--encoding", "--sheet", "--header-row", "--mapping"):
        assert option in page
