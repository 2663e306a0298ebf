"""The built-in criteria by id, and the functions that find, list, vary and rebuild them.

:data:`CRITERIA` gathers the seed criteria (:mod:`ncs.criteria`) and the guideline schemes
(:mod:`ncs.guidelines`). Nothing here judges anything: see :mod:`ncs.engine`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import Any

import pandas as pd

from ncs.criteria import (
    BOUCHE1995,
    KATZ2002,
    Citation,
    Criterion,
    Scope,
    SegmentRule,
    Threshold,
)
from ncs.errors import UnknownCriteriaError, ValidationError
from ncs.guidelines import GUIDELINES
from ncs.schemes import NerveItem

__all__ = [
    "CRITERIA",
    "DEFAULT_CRITERIA",
    "criterion_from_dict",
    "get_criteria",
    "list_criteria",
    "resolve",
    "with_entrapment_sites",
    "with_options",
]

CRITERIA: Mapping[str, Criterion] = MappingProxyType(
    {c.id: c for c in (KATZ2002, BOUCHE1995, *GUIDELINES)}
)
"""Every built-in criterion and scheme, by id."""

DEFAULT_CRITERIA: tuple[str, ...] = ("katz2002", "bouche1995")
"""Criteria applied when none are named: the two seed criteria, verified and independent of
reference values. ``criteria="all"`` applies every built-in scheme; ``"verified"`` the
verified ones."""


def get_criteria(criteria: str | Criterion) -> Criterion:
    """Look a criterion up by id, or pass a :class:`Criterion` through.

    Raises
    ------
    UnknownCriteriaError
        For an id not in :data:`CRITERIA`.
    """
    if isinstance(criteria, Criterion):
        return criteria
    try:
        return CRITERIA[str(criteria).strip().lower()]
    except KeyError:
        raise UnknownCriteriaError(
            f"unknown criterion {criteria!r}; known: {', '.join(sorted(CRITERIA))}"
        ) from None


def list_criteria() -> pd.DataFrame:
    """One row per built-in criterion: id, title, citation, verified."""
    return pd.DataFrame(
        [
            {
                "id": c.id,
                "title": c.title,
                "citation": c.citation.text,
                "doi": c.citation.doi,
                "verified": c.verified,
            }
            for c in CRITERIA.values()
        ]
    )


def resolve(
    criteria: str | Criterion | Iterable[str | Criterion] | None,
    *,
    known: Mapping[str, Criterion] | None = None,
) -> tuple[Criterion, ...]:
    """Criteria named by the user, each once.

    Parameters
    ----------
    criteria : str, Criterion, iterable of them, or None
        An id, a :class:`Criterion`, several of them, ``"all"`` (every built-in criterion),
        ``"verified"`` (the verified ones), or None (:data:`DEFAULT_CRITERIA`).
    known : mapping of str to Criterion, optional
        Criteria an id is looked up in before :data:`CRITERIA` (e.g. those an analysis
        applied, variants included).

    Returns
    -------
    tuple of Criterion
        In the order named (``"all"`` and ``"verified"`` in the order of :data:`CRITERIA`).

    Raises
    ------
    UnknownCriteriaError
        For an id not in :data:`CRITERIA`.
    ValidationError
        When ``criteria`` is neither an id, a Criterion nor an iterable of them, names none,
        or names a criterion twice (also through ``"all"`` or ``"verified"``): applied twice,
        a criterion would be counted twice, so the slip is refused rather than guessed at.

    Examples
    --------
    >>> [c.id for c in resolve("katz2002,bouche1995".split(","))]
    ['katz2002', 'bouche1995']
    """
    if criteria is None:
        named: list[str | Criterion] = list(DEFAULT_CRITERIA)
    elif isinstance(criteria, (str, Criterion)):
        named = [criteria]
    elif isinstance(criteria, Iterable):
        named = list(criteria)
    else:
        raise ValidationError(
            [
                (
                    None,
                    "criteria",
                    "criteria must be a criterion id, a Criterion or a list of them, got "
                    f"{type(criteria).__name__}",
                )
            ]
        )
    items: list[str | Criterion] = []
    keywords: dict[str, str] = {}  # id -> the keyword that named it
    for c in named:
        word = c.strip().lower() if isinstance(c, str) else None
        if word in _KEYWORDS:
            ids = [k for k, v in CRITERIA.items() if word == "all" or v.verified]
            items.extend(ids)
            for k in ids:
                keywords.setdefault(k, word)
        else:
            items.append(c)
    out = tuple(_lookup(c, known or {}) for c in items)
    if not out:
        raise ValidationError(
            [
                (
                    None,
                    "criteria",
                    f"no criteria named: name at least one; known: {', '.join(CRITERIA)}",
                )
            ]
        )
    ids = [c.id for c in out]
    twice = list(dict.fromkeys(k for k in ids if ids.count(k) > 1))
    if twice:
        problems = []
        for k in twice:
            via = f' ("{keywords[k]}" includes it)' if k in keywords else ""
            problems.append((None, "criteria", f"{k} named twice{via}: name each criterion once"))
        raise ValidationError(problems)
    return out


def _lookup(criterion: str | Criterion, known: Mapping[str, Criterion]) -> Criterion:
    """A criterion by id, in ``known`` first (exact, then lower case), then in CRITERIA."""
    if isinstance(criterion, str) and known:
        for key in (criterion.strip(), criterion.strip().lower()):
            if key in known:
                return known[key]
        if criterion.strip().lower() not in CRITERIA:
            raise UnknownCriteriaError(
                f"unknown criterion {criterion!r}; known: {', '.join(sorted({*CRITERIA, *known}))}"
            )
    return get_criteria(criterion)


#: Words that name several built-in criteria at once (``criteria="all"``).
_KEYWORDS = ("all", "verified")


def with_entrapment_sites(criterion: str | Criterion, exclude: bool) -> Criterion:
    """A variant of a criterion that does (or does not) judge segments crossing entrapment
    sites (median at the wrist, ulnar at the wrist and across the elbow, peroneal at the
    fibular head; :data:`ncs.names.ENTRAPMENT_ZONES`).

    Parameters
    ----------
    criterion : str or Criterion
    exclude : bool
        True: skip every segment crossing an entrapment zone, for every rule. False: judge
        them all (also where the scheme itself excludes a zone).

    Returns
    -------
    Criterion
        With id ``<id>_no_entrapment`` or ``<id>_with_entrapment`` and ``verified=False``
        when it departs from the source.

    Examples
    --------
    >>> strict = with_entrapment_sites("katz2002", exclude=True)
    >>> strict.id
    'katz2002_no_entrapment'
    """
    crit = get_criteria(criterion)

    def scope(s: Scope) -> Scope:
        return replace(s, exclude_entrapment=exclude, exclude_zones=())

    def rule(r: SegmentRule) -> SegmentRule:
        return replace(r, scope=scope(r.scope))

    dispersion = crit.dispersion
    if isinstance(dispersion, SegmentRule):
        dispersion = rule(dispersion)
    elif dispersion is not None:
        dispersion = tuple(rule(r) for r in dispersion)
    suffix = "_no_entrapment" if exclude else "_with_entrapment"
    note = " Variant: segments crossing common entrapment sites are " + (
        "not considered." if exclude else "judged like any other."
    )
    return replace(
        crit,
        id=crit.id + suffix,
        scope=scope(crit.scope),
        block=tuple(rule(r) for r in crit.block),
        dispersion=dispersion,
        verified=False,
        notes=crit.notes + note,
    )


#: Comparisons a block rule may judge (``with_options(..., block_comparisons=...)``).
BLOCK_COMPARISONS: tuple[str, ...] = ("both", "adjacent", "most_distal")


def with_options(
    criterion: str | Criterion,
    *,
    count_median_dml: bool | None = None,
    block_comparisons: str | None = None,
) -> Criterion:
    """A variant of a criterion for a choice its source's wording leaves open.

    Parameters
    ----------
    criterion : str or Criterion
    count_median_dml : bool, optional
        Count the median nerve's distal motor latency for the DML item of EFNS/PNS 2010 and
        EAN/PNS 2021 (item a). Default (``False``): not counted, because the guidelines
        exclude median neuropathy at the wrist (carpal tunnel syndrome), which a conduction
        study alone cannot tell apart; pass ``True`` when carpal tunnel syndrome has been
        excluded clinically.
    block_comparisons : {"both", "adjacent", "most_distal"}, optional
        Which comparisons the block rules judge. Default ``"both"``: each segment between
        neighbouring sites and each proximal site against the most distal one, as the
        guidelines' "proximal versus distal" can be read either way and a block between two
        proximal sites is still a block; ``"adjacent"``: neighbouring sites only;
        ``"most_distal"``: each proximal site against the most distal site only.

    Returns
    -------
    Criterion
        With an id suffix per option (``_median_dml``, ``_adjacent``, ``_most_distal``), the
        option recorded in ``options`` (and so in the provenance version hash) and ``notes``;
        ``verified`` unchanged, since both readings are the source's.

    Raises
    ------
    ValueError
        For an unknown ``block_comparisons``, or ``count_median_dml`` on a criterion without
        a distal-latency item.

    Examples
    --------
    >>> ncs_variant = with_options("ean2021_cidp", block_comparisons="most_distal")
    >>> ncs_variant.id, ncs_variant.option("block_comparisons")
    ('ean2021_cidp_most_distal', 'most_distal')
    """
    crit = get_criteria(criterion)
    suffix, notes, options = "", "", dict(crit.options)
    if count_median_dml is not None:
        items = list(crit.nerve_items)
        dml = [k for k, i in enumerate(items) if i.parameter == "dml_prolonged"]
        if not dml:
            raise ValueError(f"{crit.id} has no distal motor latency item")
        for k in dml:
            kept = tuple(n for n in items[k].exclude_nerves if n != "median")
            items[k] = replace(
                items[k], exclude_nerves=kept if count_median_dml else (*kept, "median")
            )
        crit = replace(crit, nerve_items=tuple(items))
        options["count_median_dml"] = bool(count_median_dml)
        if count_median_dml:
            suffix += "_median_dml"
            notes += " Option: the median nerve's distal latency is counted (item a)."
    if block_comparisons is not None:
        if block_comparisons not in BLOCK_COMPARISONS:
            raise ValueError(
                f"block_comparisons must be one of {BLOCK_COMPARISONS} (which comparisons "
                f"the block rules judge), got {block_comparisons!r}"
            )

        def scope(s: Scope) -> Scope:
            if block_comparisons == "adjacent":
                return replace(s, comparisons=("adjacent",), from_most_distal_only=False)
            if block_comparisons == "most_distal":
                return replace(s, comparisons=("adjacent", "distal"), from_most_distal_only=True)
            return replace(s, comparisons=("adjacent", "distal"), from_most_distal_only=False)

        crit = replace(crit, block=tuple(replace(r, scope=scope(r.scope)) for r in crit.block))
        options["block_comparisons"] = block_comparisons
        if block_comparisons != "both":
            suffix += f"_{block_comparisons}"
            notes += f" Option: block judged on {block_comparisons.replace('_', ' ')} comparisons."
    return replace(
        crit, id=crit.id + suffix, options=tuple(options.items()), notes=crit.notes + notes
    )


def criterion_from_dict(d: Mapping[str, Any]) -> Criterion:
    """Rebuild a :class:`Criterion` from its :meth:`Criterion.to_dict` output.

    The inverse of ``to_dict``: ``criterion_from_dict(c.to_dict()) == c`` for every
    criterion (built-in or custom), so saved results and criteria files for EDX software can
    be read back.

    Raises
    ------
    KeyError, TypeError, ValueError
        When the description is incomplete or inconsistent.
    """

    def citation(c: Mapping[str, Any]) -> Citation:
        return Citation(key=c["key"], text=c["text"], doi=c.get("doi"))

    def threshold(t: Mapping[str, Any]) -> Threshold:
        return Threshold(
            measure=t["measure"],
            op=t["op"],
            value=float(t["value"]),
            absolute=bool(t.get("absolute", False)),
            of=t.get("of"),
            overrides=tuple((n, o, float(v)) for n, o, v in t.get("overrides", ())),
            source=t.get("source", ""),
            verified=bool(t.get("verified", True)),
        )

    def scope(s: Mapping[str, Any] | None) -> Scope:
        if not s:
            return Scope()

        def opt(key: str) -> tuple | None:
            value = s.get(key)
            return None if value is None else tuple(value)

        return Scope(
            nerves=opt("nerves"),
            exclude_nerves=tuple(s.get("exclude_nerves", ())),
            exclude_entrapment=bool(s.get("exclude_entrapment", False)),
            exclude_zones=tuple(s.get("exclude_zones", ())),
            only_pairs=(
                None if s.get("only_pairs") is None else tuple(tuple(p) for p in s["only_pairs"])
            ),
            exclude_proximal_sites=tuple(s.get("exclude_proximal_sites", ())),
            only_proximal_sites=opt("only_proximal_sites"),
            comparisons=tuple(s.get("comparisons", s.get("references", ("adjacent", "distal")))),
            from_most_distal_only=bool(s.get("from_most_distal_only", False)),
            note=s.get("note", ""),
        )

    def rule(r: Mapping[str, Any]) -> SegmentRule:
        return SegmentRule(
            outcome=r["outcome"],
            combine=r["combine"],
            thresholds=tuple(threshold(t) for t in r["thresholds"]),
            name=r["name"],
            scope=scope(r.get("scope")),
            preconditions=tuple(threshold(t) for t in r.get("preconditions", ())),
            verified=bool(r.get("verified", True)),
        )

    def item(i: Mapping[str, Any]) -> NerveItem:
        return NerveItem(
            id=i["id"],
            name=i["name"],
            parameter=i["parameter"],
            measure=i["measure"],
            op=i.get("op", ">="),
            multiplier=float(i.get("multiplier", 1.0)),
            limit=i.get("limit"),
            low_amplitude=None if i.get("low_amplitude") is None else tuple(i["low_amplitude"]),
            min_amplitude=None if i.get("min_amplitude") is None else tuple(i["min_amplitude"]),
            exclude_nerves=tuple(i.get("exclude_nerves", ())),
            count=i.get("count", ""),
            min_nerves=int(i.get("min_nerves", 2)),
            corroboration=i.get("corroboration", "none"),
            not_corroborated_by=tuple(i.get("not_corroborated_by", ())),
            counts_as_other=bool(i.get("counts_as_other", True)),
            source=i.get("source", ""),
            verified=bool(i.get("verified", True)),
        )

    dispersion_rules = d.get("dispersion") or []
    if isinstance(dispersion_rules, Mapping):  # older layout: one rule
        dispersion_rules = [dispersion_rules]
    rules = tuple(rule(r) for r in dispersion_rules)
    dispersion: SegmentRule | tuple[SegmentRule, ...] | None
    dispersion = None if not rules else rules[0] if len(rules) == 1 else rules
    return Criterion(
        id=d["id"],
        title=d["title"],
        short=d["short"],
        citation=citation(d["citation"]),
        applied_in=tuple(citation(c) for c in d.get("applied_in", ())),
        block=tuple(rule(r) for r in d["block"]),
        dispersion=dispersion,
        verdicts=tuple(d["verdicts"]),
        patient_counts_dispersion=bool(d.get("patient_counts_dispersion", False)),
        scope=scope(d.get("scope")),
        nerve_items=tuple(item(i) for i in d.get("nerve_items", ())),
        verdict_kind=d.get("verdict_kind", "any_segment"),
        options=tuple((k, v) for k, v in (d.get("options") or {}).items()),
        verified=bool(d.get("verified", False)),
        notes=d.get("notes", ""),
    )
