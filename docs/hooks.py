"""MkDocs hooks: pages generated from the library at build time, so they cannot drift.

* ``<!-- ncs:columns -->``      the tidy-format column table, from ``ncs.schema.COLUMNS``;
* ``<!-- ncs:criteria -->``     every criterion of ``ncs.CRITERIA`` with rules and citations;
* ``<!-- ncs:json-schema -->``  the JSON Schema shipped as package data;
* ``<!-- ncs:followup-json-schema -->``  the follow-up JSON Schema (package data);
* ``<!-- ncs:cell-words -->``   the words of a number cell, from ``ncs.cells``;
* ``<!-- ncs:muscles -->``      recording muscles of wide headers, from ``ncs.names``;
* ``<!-- ncs:site-words -->``   site spellings of wide headers, from ``ncs.names``.

``docs/performance.md`` is added to the navigation when it exists.
"""

from __future__ import annotations

import json
from pathlib import Path

DOCS = Path(__file__).resolve().parent


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def columns_markdown() -> str:
    """The tidy sites table's columns as a Markdown table."""
    from ncs.schema import COLUMNS

    lines = ["| column | type | required | unit | meaning |", "|---|---|---|---|---|"]
    for c in COLUMNS:
        lines.append(
            f"| `{c.name}` | {c.kind} | {'yes' if c.required else 'no'} | {_cell(c.unit)} | "
            f"{_cell(c.meaning)} |"
        )
    return "\n".join(lines)


def _rules(c) -> list:
    rules = getattr(c, "dispersion_rules", None)
    if rules is None:
        rules = () if c.dispersion is None else (c.dispersion,)
    return [*c.block, *rules]


def criteria_markdown() -> str:
    """Every criterion in the registry, from the library's own generator."""
    from ncs.criteria_doc import criteria_markdown as library_markdown

    return library_markdown()


def reference_values_markdown() -> str:
    """The shipped default reference values with their sources."""
    from ncs.criteria_doc import reference_markdown

    return reference_markdown()


def json_schema_markdown() -> str:
    from ncs.io import json_schema

    return "```json\n" + json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n```"


def followup_json_schema_markdown() -> str:
    from ncs.followup import json_schema

    return "```json\n" + json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n```"


def _words(words) -> str:
    return ", ".join(f"`{w}`" if w else "(blank)" for w in sorted(words))


def cell_words_markdown() -> str:
    """What a number cell may hold: the one table of ``ncs.cells``."""
    from ncs.cells import ABSENT_WORDS, AMBIGUOUS_WORDS, MISSING_WORDS, RESPONSE_MEASURES

    lines = [
        "| a cell holding | means | accepted in |",
        "|---|---|---|",
        "| a number (`8.2`, `8`, `1e-3`) | the value | every number column |",
        f"| {_words(MISSING_WORDS)} | no value: unknown, never zero | every number column |",
        f"| {_words(ABSENT_WORDS)} | no response at this site (amplitude and area 0, no "
        f"latency) | {_words(RESPONSE_MEASURES)} |",
        f"| {_words(AMBIGUOUS_WORDS)} | refused: both readings exist | nowhere |",
        "| anything else (text, a date, `#VALUE!`, `8,2` read without `--decimal ,`) | an "
        "error naming the cell, with a hint for the usual slips | nowhere |",
    ]
    return "\n".join(lines)


def muscles_markdown() -> str:
    """Recording muscles the wide-header reader knows."""
    from ncs.names import MUSCLE_ALIASES

    by_muscle: dict[str, list[str]] = {}
    for alias, muscle in MUSCLE_ALIASES.items():
        by_muscle.setdefault(muscle, []).append(alias)
    lines = ["| muscle column | written in headers as |", "|---|---|"]
    for muscle, aliases in by_muscle.items():
        lines.append(f"| `{muscle}` | {_words(aliases)} |")
    return "\n".join(lines)


def site_words_markdown() -> str:
    """Site spellings the readers know (cleaned: lower case, punctuation as spaces)."""
    from ncs.names import SITE_ALIASES

    by_site: dict[str, list[str]] = {}
    for alias, site in SITE_ALIASES.items():
        by_site.setdefault(site, []).append(alias)
    lines = ["| site | spellings (after cleaning: `B.Elbow` reads `b elbow`) |", "|---|---|"]
    for site, aliases in by_site.items():
        lines.append(f"| `{site}` | {_words(aliases)} |")
    return "\n".join(lines)


_GENERATED = {
    "<!-- ncs:columns -->": columns_markdown,
    "<!-- ncs:criteria -->": criteria_markdown,
    "<!-- ncs:reference-values -->": reference_values_markdown,
    "<!-- ncs:json-schema -->": json_schema_markdown,
    "<!-- ncs:followup-json-schema -->": followup_json_schema_markdown,
    "<!-- ncs:cell-words -->": cell_words_markdown,
    "<!-- ncs:muscles -->": muscles_markdown,
    "<!-- ncs:site-words -->": site_words_markdown,
}


def on_config(config, **kwargs):
    """Add the performance page to the navigation once it is written."""
    if (DOCS / "performance.md").is_file() and config.get("nav"):
        names = [
            next(iter(item.values())) if isinstance(item, dict) else item for item in config["nav"]
        ]
        if "performance.md" not in names:
            at = names.index("limitations.md") if "limitations.md" in names else len(names)
            config["nav"].insert(at, {"Performance": "performance.md"})
    return config


def on_page_markdown(markdown: str, **kwargs) -> str:
    for marker, render in _GENERATED.items():
        if marker in markdown:
            markdown = markdown.replace(marker, render())
    return markdown
