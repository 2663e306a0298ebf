"""The criteria reference as Markdown, generated from :data:`ncs.CRITERIA`.

Used by the documentation build and ``ncs criteria --format markdown``, so the published
reference cannot drift from the code: every rule with its measure, operator and threshold,
preconditions and scope, every per-nerve item with its nerve-count rule, the patient rule,
the citation, where each number was read, and its verification status.
"""

from __future__ import annotations

from collections.abc import Iterable

from ncs.criteria import Criterion, SegmentRule, Threshold
from ncs.explain import SCHEME_RULES
from ncs.labels import OP_TEXT
from ncs.normative import default_reference, distal_duration_cutoffs
from ncs.registry import CRITERIA, DEFAULT_CRITERIA

__all__ = ["criteria_markdown", "reference_markdown"]


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _threshold(t: Threshold) -> str:
    measure = f"|{t.measure}|" if t.absolute else t.measure
    value = f"{t.value:g} × {t.of}" if t.of else f"{t.value:g}"
    text = f"`{measure}` {OP_TEXT[t.op]} {value}"
    for nerve, op, v in t.overrides:
        text += f" ({nerve}: {OP_TEXT[op]} {v:g})"
    if not t.verified:
        text += " **(unverified)**"
    return text


def _rule_rows(kind: str, rules: Iterable[SegmentRule]) -> list[str]:
    rows = []
    for r in rules:
        joiner = " or " if r.combine == "any" else " and "
        thresholds = joiner.join(_threshold(t) for t in r.thresholds)
        pre = " and ".join(_threshold(t) for t in r.preconditions) or "—"
        scope = r.scope.note or "all segments"
        status = "yes" if r.verified and all(t.verified for t in r.thresholds) else "**no**"
        rows.append(
            f"| {kind} | {_cell(r.name)} | `{r.outcome}` | {_cell(thresholds)} | {_cell(pre)} "
            f"| {_cell(scope)} | {status} |"
        )
    return rows


def _cutoff_rows(scheme: str) -> list[str]:
    cut = distal_duration_cutoffs()
    cut = cut[cut["scheme"] == scheme]
    out = [
        "",
        "Distal CMAP duration cut-offs (item g; used only when `lff_hz` is given):",
        "",
        "| low-frequency filter | nerve | cut-off | verified | source |",
        "|---|---|---|---|---|",
    ]
    for r in cut.itertuples(index=False):
        lff = "any (not stated)" if r.lff_hz != r.lff_hz else f"{r.lff_hz:g} Hz"
        out.append(
            f"| {lff} | {r.nerve} | {OP_TEXT[r.op]} {r.cutoff_ms:g} ms "
            f"| {'yes' if r.verified else '**no**'} | {_cell(r.source)} |"
        )
    return out


def _criterion(c: Criterion) -> str:
    status = "verified" if c.verified else "**not verified** (applied only when asked for)"
    default = " Applied by default." if c.id in DEFAULT_CRITERIA else ""
    out = [f"## `{c.id}` — {c.title}", "", f"Status: {status}.{default}", ""]
    out += [
        "| aspect | finds | outcome | thresholds | only when | segments | verified |",
        "|---|---|---|---|---|---|---|",
    ]
    out += _rule_rows("block", c.block)
    out += _rule_rows("dispersion", c.dispersion_rules)
    if c.scope.note:
        out += ["", f"Segments considered: {_cell(c.scope.note)}."]
    if c.nerve_items:
        out += [
            "",
            "| item | parameter | test | nerve-count rule | verified | source |",
            "|---|---|---|---|---|---|",
        ]
        for item in c.nerve_items:
            test = item.describe().split(": ", 1)[1].rsplit("; ", 1)[0]
            words = f" (guideline: {item.count})" if item.count else ""
            out.append(
                f"| ({item.id}) {_cell(item.name)} | `{item.parameter}` | {_cell(test)} "
                f"| {_cell(item.count_rule() + words)} | {'yes' if item.verified else '**no**'} "
                f"| {_cell(item.source)} |"
            )
    if any(item.measure == "distal_duration_ms" for item in c.nerve_items):
        out += _cutoff_rows(c.id)
    out += _applicability(c)
    verdicts = ", ".join(f"`{v}`" for v in c.verdicts)
    rule = SCHEME_RULES.get(c.verdict_kind, c.verdict_kind)
    out += ["", f"Patient verdicts: {verdicts}. Rule: {rule}."]
    if c.options:
        opts = ", ".join(f"`{k}={v!r}`" for k, v in c.options)
        out += ["", f"Options: {opts}."]
    doi = f" doi:{c.citation.doi}" if c.citation.doi else ""
    out += ["", f"**Source.** {_cell(c.citation.text)}{doi}"]
    for applied in c.applied_in:
        doi = f" doi:{applied.doi}" if applied.doi else ""
        out += ["", f"**Read in.** {_cell(applied.text)}{doi}"]
    sources = sorted(
        {
            t.source
            for r in (*c.block, *c.dispersion_rules)
            for t in (*r.thresholds, *r.preconditions)
            if t.source
        }
    )
    for s in sources:
        out += ["", f"> {_cell(s)}"]
    if c.notes:
        out += ["", f"**How it is applied.** {_cell(c.notes)}"]
    return "\n".join(out)


def _applicability(c: Criterion) -> list[str]:
    """What the scheme treats as not applicable (excluded) and as not assessable (unknown)."""
    excluded = ["a segment with no response at its distal site (an inexcitable nerve)"]
    if c.scope.note:
        excluded.append(f"segments outside the criterion's scope ({c.scope.note})")
    for kind, rules in (("block", c.block), ("dispersion", c.dispersion_rules)):
        for r in rules:
            if r.scope.note:
                excluded.append(f"{kind} rule '{r.name}' ({r.outcome}): {r.scope.note}")
            for t in r.preconditions:
                excluded.append(f"{kind} rule '{r.name}' ({r.outcome}) where not {t.describe()}")
    if not c.dispersion_rules:
        excluded.append("dispersion: the criterion has no dispersion rule")
    measured = [i for i in c.nerve_items if i.measure not in ("block", "probable_block")]
    measured = [i for i in measured if i.measure not in ("dispersion", "block_or_dispersion")]
    for item in c.nerve_items:
        if item.exclude_nerves:
            excluded.append(f"item ({item.id}) in the {', '.join(item.exclude_nerves)} nerve")
        if item.min_amplitude:
            op, fraction = item.min_amplitude
            excluded.append(
                f"item ({item.id}) where the distal CMAP is not {OP_TEXT[op]} "
                f"{fraction * 100:g}% of LLN"
            )
    if measured:
        excluded.append("every measured item in an inexcitable nerve (nothing to measure)")
    if any(i.measure == "f_latency_ms" for i in c.nerve_items):
        excluded.append("F-wave latency where F waves are absent (absence is its own item)")
    if any(i.measure == "distal_duration_ms" for i in c.nerve_items):
        excluded.append(
            "the distal CMAP duration without a filter setting (lff_hz) or without a cut-off "
            "for the nerve at that filter"
        )
    measures = sorted(
        {
            f"`{t.measure}`"
            for r in (*c.block, *c.dispersion_rules)
            for t in (*r.thresholds, *r.preconditions)
        }
        | {f"`{t.of}`" for r in c.block for t in r.preconditions if t.of}
        | {f"`{i.measure}`" for i in measured if i.measure != "f_absent"}
        | {f"`{i.limit}`" for i in measured if i.limit}
    )
    if any(i.measure == "f_absent" for i in c.nerve_items):
        measures.append("F-wave persistence")
    velocity = any(i.measure == "mcv_m_s" for i in c.nerve_items)
    unknown = (
        f"a value the rules read is missing ({', '.join(measures)})"
        + (", or an unknown segment velocity where the known ones are normal" if velocity else "")
        + "; a nerve stimulated at one site has no segment to judge (listed, but it neither "
        "carries nor blocks a verdict)"
    )
    lines = ["", "**Not applicable** (the rule excludes it; never makes a verdict unknown):", ""]
    lines += [f"- {_cell(e)}" for e in dict.fromkeys(excluded)]
    lines += ["", f"**Not assessable** (the data do not tell): {_cell(unknown)}."]
    return lines


def criteria_markdown(criteria: Iterable[Criterion] | None = None) -> str:
    """Markdown reference of the given criteria (default: every built-in one)."""
    items = list(CRITERIA.values()) if criteria is None else list(criteria)
    return "\n\n".join(_criterion(c) for c in items) + "\n"


def reference_markdown() -> str:
    """The shipped default reference values with their sources, as a Markdown table."""
    table = default_reference()
    lines = [
        "| nerve | muscle | limit | value | verified | source |",
        "|---|---|---|---|---|---|",
    ]
    for r in table.itertuples(index=False):
        lines.append(
            f"| {r.nerve} | {r.muscle} | `{r.parameter}` | {r.value:g} "
            f"| {'yes' if r.verified else '**no**'} | {_cell(r.source)} |"
        )
    return "\n".join(lines) + "\n"
