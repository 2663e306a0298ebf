"""The generated criteria reference covers every rule, item, citation and status."""

from __future__ import annotations

import ncs
from ncs.criteria_doc import criteria_markdown, reference_markdown


def test_every_criterion_rule_and_item_is_documented():
    text = criteria_markdown()
    for c in ncs.CRITERIA.values():
        assert f"## `{c.id}`" in text
        assert c.citation.text in text
        section = text.split(f"## `{c.id}`")[1].split("\n## ")[0]
        assert ("**not verified**" in section) == (not c.verified)
        for rule in (*c.block, *c.dispersion_rules):
            for t in rule.thresholds:
                assert t.measure in section
                assert f"{t.value:g}" in section
        for item in c.nerve_items:
            assert f"({item.id}) {item.name}" in section
            assert item.count_rule() in section
            if item.count:
                assert item.count in section
        for v in c.verdicts:
            assert f"`{v}`" in section


def test_distal_duration_cutoffs_listed_as_unverified():
    text = criteria_markdown([ncs.CRITERIA["ean2021_cidp"]])
    assert "| 2 Hz | ulnar | > 9.6 ms | **no**" in text
    assert "| 5 Hz | median | > 8 ms | **no**" in text


def test_reference_values_listed_with_sources():
    text = reference_markdown()
    assert "| median | APB | `dml_uln_ms` | 4.5 | **no** | Chen S" in text
    assert text.count("\n") == len(ncs.normative.default_reference()) + 2


def test_cli_markdown(capsys):
    from ncs.cli import main

    assert main(["criteria", "--format", "markdown"]) == 0
    assert capsys.readouterr().out == criteria_markdown()
