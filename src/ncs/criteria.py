"""Conduction-block and temporal-dispersion criteria as data.

Each criterion is a frozen :class:`Criterion` holding its segment rules (:class:`SegmentRule`:
thresholds on a measure with an operator and a value, a scope, preconditions), its citation
and its verification status. These are data: the rule engine (:mod:`ncs.engine`) applies them,
:mod:`ncs.explain` words their outcomes, and :mod:`ncs.registry` gathers the built-in ones.

Custom criteria are first-class: ``dataclasses.replace(CRITERIA["katz2002"], id="katz_40",
block=...)`` gives a variant that every function accepts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ncs.labels import LIMIT_LABELS, MEASURE_LABELS
from ncs.measures import OPERATORS

__all__ = [
    "BLOCK_VALUES",
    "BOUCHE1995",
    "DISPERSION_VALUES",
    "KATZ2002",
    "Citation",
    "Criterion",
    "Scope",
    "SegmentRule",
    "Threshold",
]

BLOCK_VALUES: tuple[str, ...] = ("yes", "probable", "no", "not_assessable", "not_applicable")
"""Possible values of ``findings.block``: ``not_assessable`` = the data do not tell (a measure
the rule needs is missing); ``not_applicable`` = the rule excludes this segment (outside its
scope, a failed precondition, no response at the distal site)."""
DISPERSION_VALUES: tuple[str, ...] = ("yes", "no", "not_assessable", "not_applicable")
"""Possible values of ``findings.dispersion`` (``not_applicable`` also where the criterion has
no dispersion rule)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Citation:
    """A bibliographic source.

    Attributes
    ----------
    key : str
        Short key, also used in ``docs/references.bib``.
    text : str
        Full reference: authors, title, journal, year;volume:pages.
    doi : str or None
        DOI without the ``https://doi.org/`` prefix.
    """

    key: str
    text: str
    doi: str | None = None

    def to_dict(self) -> dict[str, str | None]:
        return {"key": self.key, "text": self.text, "doi": self.doi}


@dataclass(frozen=True, slots=True, kw_only=True)
class Threshold:
    """One comparison of a segment measure with a number.

    Attributes
    ----------
    measure : str
        Column of the segments table (``amp_drop_pct``, ``area_drop_pct``, ``dur_change_pct``,
        ``distal_amplitude_mv``, ...).
    op : {">", ">=", "<", "<="}
        Applied as ``measure op value``.
    value : float
        The threshold, in the measure's unit (percent for the ``*_pct`` measures), or a
        multiple of the reference limit named by ``of``.
    absolute : bool
        Compare the absolute value (a "change" in either direction).
    of : str or None
        A reference-limit column (``amp_lln_mv``, ...): the test is then
        ``measure / limit op value`` ("distal amplitude >= 20% of LLN" is
        ``measure="distal_amplitude_mv", op=">=", value=0.2, of="amp_lln_mv"``). Unknown
        where the limit is unknown.
    overrides : tuple of (nerve, op, value)
        Nerve-specific operator and value replacing ``op`` and ``value`` for that nerve.
    source : str
        Where the number is written (paper, section, wording).
    verified : bool
        False when the number (or an override) could not be confirmed in a source text.
    """

    measure: str
    op: str
    value: float
    absolute: bool = False
    of: str | None = None
    overrides: tuple[tuple[str, str, float], ...] = ()
    source: str = ""
    verified: bool = True

    def __post_init__(self) -> None:
        for op in (self.op, *(o for _, o, _ in self.overrides)):
            if op not in OPERATORS:
                raise ValueError(f"operator must be one of {sorted(OPERATORS)}, got {op!r}")

    def describe(self, nerve: str | None = None) -> str:
        """E.g. ``"amplitude drop > 30%"``, ``"distal amplitude >= 20% of LLN"``."""
        op, value = self.op, self.value
        for name, o, v in self.overrides:
            if name == nerve:
                op, value = o, v
        label = MEASURE_LABELS.get(self.measure, self.measure)
        noun = " drop" if self.measure.endswith("_drop_pct") else ""
        if self.measure == "dur_change_pct":
            noun = " change" if self.absolute else " increase"
        absval = "|" if self.absolute else ""
        if self.of is not None:
            bound = f"{value * 100:g}% of {LIMIT_LABELS.get(self.of, self.of)}"
        else:
            bound = f"{value:g}{'%' if self.measure.endswith('_pct') else ''}"
            if self.measure.endswith("_mv"):
                bound += " mV"
        text = f"{absval}{label}{noun}{absval} {op} {bound}"
        if self.overrides and nerve is None:
            text += "".join(
                f" ({name}: {o} {v:g}{'%' if self.measure.endswith('_pct') else ''})"
                for name, o, v in self.overrides
            )
        return text

    def to_dict(self) -> dict[str, object]:
        return {
            "measure": self.measure,
            "op": self.op,
            "value": self.value,
            "absolute": self.absolute,
            "of": self.of,
            "overrides": [list(o) for o in self.overrides],
            "source": self.source,
            "verified": self.verified,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Scope:
    """Which segments a rule (or a whole criterion) considers.

    A segment outside the scope is ``not_applicable`` for the rule: the rule can neither be met
    nor ruled out there, and the roll-up never reads it as unknown.

    Attributes
    ----------
    nerves : tuple of str or None
        Only these nerves (None = all).
    exclude_nerves : tuple of str
        Never these nerves.
    exclude_entrapment : bool
        Skip segments that cross a common entrapment site (:data:`ncs.names.ENTRAPMENT_ZONES`).
    exclude_zones : tuple of str
        Skip segments crossing these entrapment zones only (labels of ``ENTRAPMENT_ZONES``).
    only_pairs : tuple of (nerve, distal site, proximal site) or None
        Only these segments (e.g. the forearm and leg segments of AAN 1991).
    exclude_proximal_sites, only_proximal_sites : tuple of str
        Segments by their proximal stimulation site (e.g. Erb's point).
    comparisons : tuple of str
        Which comparisons (the segments' ``comparison``): ``"adjacent"`` and/or ``"distal"``.
    from_most_distal_only : bool
        Only comparisons whose distal site is the nerve's most distal site (each proximal
        site against the most distal one, the adjacent first segment included).
    note : str
        Why, in words (used in explanations).
    """

    nerves: tuple[str, ...] | None = None
    exclude_nerves: tuple[str, ...] = ()
    exclude_entrapment: bool = False
    exclude_zones: tuple[str, ...] = ()
    only_pairs: tuple[tuple[str, str, str], ...] | None = None
    exclude_proximal_sites: tuple[str, ...] = ()
    only_proximal_sites: tuple[str, ...] | None = None
    comparisons: tuple[str, ...] = ("adjacent", "distal")
    from_most_distal_only: bool = False
    note: str = ""

    def is_everything(self) -> bool:
        return self == Scope(note=self.note)

    def to_dict(self) -> dict[str, object]:
        return {
            "nerves": None if self.nerves is None else list(self.nerves),
            "exclude_nerves": list(self.exclude_nerves),
            "exclude_entrapment": self.exclude_entrapment,
            "exclude_zones": list(self.exclude_zones),
            "only_pairs": None if self.only_pairs is None else [list(p) for p in self.only_pairs],
            "exclude_proximal_sites": list(self.exclude_proximal_sites),
            "only_proximal_sites": (
                None if self.only_proximal_sites is None else list(self.only_proximal_sites)
            ),
            "comparisons": list(self.comparisons),
            "from_most_distal_only": self.from_most_distal_only,
            "note": self.note,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class SegmentRule:
    """A rule over one segment: its thresholds combined with ``any`` (OR) or ``all`` (AND).

    Attributes
    ----------
    outcome : {"yes", "probable"}
        The block value this rule gives when met (dispersion rules use ``"yes"``).
    combine : {"any", "all"}
        How the thresholds combine (Kleene OR / AND).
    thresholds : tuple of Threshold
    name : str
        What the rule finds, e.g. ``"conduction block"``.
    scope : Scope
        Segments the rule considers (all by default).
    preconditions : tuple of Threshold
        Conditions for the rule to be judged at all (e.g. a distal CMAP >= 20% of LLN). Where
        one fails, the rule is ``not_applicable`` to the segment (with the reason); where one
        is unknown, the rule can still be ruled out by its thresholds but not met.
    verified : bool
        False when part of the rule could not be confirmed in a source text.
    """

    outcome: str
    combine: str
    thresholds: tuple[Threshold, ...]
    name: str
    scope: Scope = field(default_factory=Scope)
    preconditions: tuple[Threshold, ...] = ()
    verified: bool = True

    def __post_init__(self) -> None:
        if self.combine not in ("any", "all"):
            raise ValueError(f"combine must be 'any' or 'all', got {self.combine!r}")
        if self.outcome not in ("yes", "probable"):
            raise ValueError(f"outcome must be 'yes' or 'probable', got {self.outcome!r}")
        if not self.thresholds:
            raise ValueError("a rule needs at least one threshold")

    def describe(self) -> str:
        joiner = " or " if self.combine == "any" else " and "
        text = joiner.join(t.describe() for t in self.thresholds)
        if self.preconditions:
            text += " (when " + " and ".join(t.describe() for t in self.preconditions) + ")"
        if self.scope.note:
            text += f" [{self.scope.note}]"
        return text

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "outcome": self.outcome,
            "combine": self.combine,
            "thresholds": [t.to_dict() for t in self.thresholds],
            "preconditions": [t.to_dict() for t in self.preconditions],
            "scope": self.scope.to_dict(),
            "verified": self.verified,
            "text": self.describe(),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Criterion:
    """A segment criterion for conduction block (and optionally temporal dispersion).

    Attributes
    ----------
    id : str
        Stable id, ``<author or body><year>``.
    title : str
        One line saying what it is.
    short : str
        Name used at the end of explanation sentences, e.g. ``"Katz 2002"``.
    citation : Citation
        The source of the definition.
    applied_in : tuple of Citation
        Where the definition was read, when that is not the original (e.g. the study that
        applied it).
    block : tuple of SegmentRule
        Block rules, strongest first; the first one met gives its outcome.
    dispersion : SegmentRule or None
        The temporal-dispersion rule, if the criterion defines one.
    verdicts : tuple of str
        Patient verdict vocabulary: (positive, negative, indeterminate).
    patient_counts_dispersion : bool
        Whether a dispersed segment makes the patient verdict positive.
    scope : Scope
        Segments the criterion considers at all (e.g. only median, ulnar and peroneal).
    nerve_items : tuple of NerveItem
        Per-nerve demyelinating parameters (distal latency, velocity, F waves, ...) used by
        the patient verdict of guideline schemes.
    verdict_kind : str
        Which patient rule combines the findings: ``"any_segment"`` (a positive segment
        makes the patient positive) or a guideline's own rule (see :mod:`ncs.schemes`).
    options : tuple of (name, value)
        Scheme options (e.g. whether absent F waves may corroborate a single-nerve block).
    verified : bool
        True when every number was read in a source text (or a faithful secondary
        reproduction); guideline schemes with any unconfirmed rule are False.
    notes : str
        How the definition was operationalised and what the source leaves open.
    """

    id: str
    title: str
    short: str
    citation: Citation
    block: tuple[SegmentRule, ...]
    dispersion: SegmentRule | tuple[SegmentRule, ...] | None = None
    verdicts: tuple[str, ...]
    patient_counts_dispersion: bool = False
    verified: bool = False
    applied_in: tuple[Citation, ...] = field(default_factory=tuple)
    notes: str = ""
    scope: Scope = field(default_factory=Scope)
    nerve_items: tuple[Any, ...] = ()
    verdict_kind: str = "any_segment"
    options: tuple[tuple[str, Any], ...] = ()

    def option(self, name: str, default: Any = None) -> Any:
        """Value of a scheme option (``options`` is a tuple of (name, value) pairs)."""
        return dict(self.options).get(name, default)

    @property
    def verdict_classes(self) -> dict[str, str]:
        """Each patient verdict as ``"positive"``, ``"negative"`` or ``"indeterminate"``.

        Used to compare schemes with different vocabularies. Graded schemes count their
        criteria-fulfilled levels as positive: EFNS/PNS 2010 CIDP definite and probable
        (possible, specificity too low to call the criteria met, is negative); EAN/PNS 2021
        strongly supportive (weakly supportive is negative); MMN definite and probable CB;
        Hadden 1998 demyelinating (axonal, inexcitable and normal are negative, equivocal is
        indeterminate).
        """
        v = self.verdicts
        if self.verdict_kind == "efns2010_cidp":
            return dict(
                zip(
                    v,
                    ("positive", "positive", "negative", "negative", "indeterminate"),
                    strict=True,
                )
            )
        if self.verdict_kind in ("ean2021_cidp", "cb_grade"):
            second = "negative" if self.verdict_kind == "ean2021_cidp" else "positive"
            return dict(zip(v, ("positive", second, "negative", "indeterminate"), strict=True))
        if self.verdict_kind == "hadden1998_gbs":
            classes = {"demyelinating": "positive", "equivocal": "indeterminate"}
            return {x: classes.get(x, "negative") for x in v}
        return dict(zip(v[:3], ("positive", "negative", "indeterminate"), strict=True))

    @property
    def dispersion_rules(self) -> tuple[SegmentRule, ...]:
        """The dispersion rules as a tuple (empty when the criterion defines none)."""
        if self.dispersion is None:
            return ()
        if isinstance(self.dispersion, SegmentRule):
            return (self.dispersion,)
        return tuple(self.dispersion)

    def to_dict(self) -> dict[str, object]:
        """JSON-able description (for EDX software and the docs)."""
        return {
            "id": self.id,
            "title": self.title,
            "short": self.short,
            "citation": self.citation.to_dict(),
            "applied_in": [c.to_dict() for c in self.applied_in],
            "block": [r.to_dict() for r in self.block],
            "dispersion": [r.to_dict() for r in self.dispersion_rules],
            "verdicts": list(self.verdicts),
            "patient_counts_dispersion": self.patient_counts_dispersion,
            "scope": self.scope.to_dict(),
            "nerve_items": [i.to_dict() for i in self.nerve_items],
            "verdict_kind": self.verdict_kind,
            "options": dict(self.options),
            "verified": self.verified,
            "notes": self.notes,
        }


# --------------------------------------------------------------------------------------
# The seed criteria. Every number below is transcribed from the text named in `source`.
# --------------------------------------------------------------------------------------

_SIMON_2013 = Citation(
    key="simon2013",
    text=(
        "Simon NG, Ayer G, Lomen-Hoerth C. Is IVIg therapy warranted in progressive lower motor "
        "neuron syndromes without conduction block? Neurology 2013;81(24):2116-2120."
    ),
    doi="10.1212/01.wnl.0000437301.28441.7e",
)

_KATZ_2002 = Citation(
    key="katz2002",
    text=(
        "Katz JS, Barohn RJ, Kojan S, Wolfe GI, Nations SP, Saperstein DS, Amato AA. Axonal "
        "multifocal motor neuropathy without conduction block or other features of "
        "demyelination. Neurology 2002;58(4):615-620."
    ),
    doi="10.1212/wnl.58.4.615",
)

_KATZ_SOURCE = (
    "Simon et al. 2013, Methods: 'The definitions of CB and temporal dispersion used by Katz "
    "et al. were applied ..., with a reduction of CMAP amplitude or area of >30%, or increase "
    "of the CMAP duration of >30% in any segment considered significant.'"
)

KATZ2002 = Criterion(
    id="katz2002",
    title=(
        "Katz et al. 2002 conduction block / temporal dispersion (as applied by Simon et al. 2013)"
    ),
    short="Katz 2002",
    citation=_KATZ_2002,
    applied_in=(_SIMON_2013,),
    block=(
        SegmentRule(
            outcome="yes",
            combine="any",
            name="conduction block",
            thresholds=(
                Threshold(measure="amp_drop_pct", op=">", value=30.0, source=_KATZ_SOURCE),
                Threshold(measure="area_drop_pct", op=">", value=30.0, source=_KATZ_SOURCE),
            ),
        ),
    ),
    dispersion=SegmentRule(
        outcome="yes",
        combine="any",
        name="temporal dispersion",
        thresholds=(Threshold(measure="dur_change_pct", op=">", value=30.0, source=_KATZ_SOURCE),),
    ),
    verdicts=("demyelinating", "not_demyelinating", "indeterminate"),
    patient_counts_dispersion=True,
    verified=True,
    notes=(
        "Thresholds read verbatim in Simon et al. 2013 (the study that applied Katz's "
        "definitions); Katz 2002's own text was not reachable. Either drop alone suffices for "
        "block; duration is CMAP negative-peak duration, increase = proximal longer than distal. "
        "No minimum distal amplitude is stated, so none is applied. The patient is "
        "'demyelinating' when any segment shows block or dispersion."
    ),
)

_BOUCHE_1995 = Citation(
    key="bouche1995",
    text=(
        "Bouche P, Léger JM, et al. Human immunoglobulin treatment of multifocal motor neuropathy "
        "and polyneuropathy associated with monoclonal gammopathy. J Neurol Neurosurg "
        "Psychiatry 1995 (supplement)."
    ),
    doi=None,
)

_BOUCHE_SOURCE = (
    "Bouche/Léger et al. 1995, MMN section: 'at least two partial conduction blocks defined with "
    "the following criteria: > 50% reduction in both the compound muscle action potentials "
    "(CMAP) amplitude and the negative peak area on proximal stimulation compared with the "
    "distally stimulated response, with a < 15% change in the negative peak duration.'"
)

BOUCHE1995 = Criterion(
    id="bouche1995",
    title="Bouche et al. 1995 partial conduction block (MMN IVIg study)",
    short="Bouche 1995",
    citation=_BOUCHE_1995,
    block=(
        SegmentRule(
            outcome="yes",
            combine="all",
            name="partial conduction block",
            thresholds=(
                Threshold(measure="amp_drop_pct", op=">", value=50.0, source=_BOUCHE_SOURCE),
                Threshold(measure="area_drop_pct", op=">", value=50.0, source=_BOUCHE_SOURCE),
                Threshold(
                    measure="dur_change_pct",
                    op="<",
                    value=15.0,
                    absolute=True,
                    source=_BOUCHE_SOURCE,
                ),
            ),
        ),
    ),
    dispersion=None,
    verdicts=("conduction_block", "no_conduction_block", "indeterminate"),
    patient_counts_dispersion=False,
    verified=True,
    notes=(
        "Definition read verbatim in the seed paper. Both drops must exceed 50% and the "
        "negative-peak duration must change by less than 15% in either direction. The paper "
        "defines no separate dispersion rule, so dispersion is not applicable. A proximal absent "
        "response gives 100% drops but no duration, so the segment is not assessable on the "
        "letter of the rule. The paper's MMN patients needed at least two such blocks; the "
        "patient verdict here reports conduction_block from one block and gives the count. "
        "Bibliographic details (authors after the first two, volume, pages) are as given with "
        "the seed text and not yet confirmed."
    ),
)
