"""Conduction-block and temporal-dispersion criteria as data, and their segment classifier.

Each criterion is a frozen :class:`Criterion` holding its thresholds (measure, operator,
value), its citation and its verification status. One function, :func:`classify`, applies any
criterion to a segments table, vectorised, with three-valued logic:

* a rule is **met** (``yes``) when the measures already known satisfy it;
* **not met** (``no``) when the known measures already rule it out;
* **not_assessable** otherwise (a measure it needs is missing), with the reason.

Custom criteria are first-class: ``dataclasses.replace(CRITERIA["katz2002"], id="katz_40",
block=...)`` gives a variant that every function accepts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from ncs._codes import floats
from ncs.errors import UnknownCriteriaError
from ncs.measures import FALSE, OPERATORS, PCT_DECIMALS, TRUE, UNKNOWN, truth

__all__ = [
    "BLOCK_VALUES",
    "CRITERIA",
    "DEFAULT_CRITERIA",
    "DISPERSION_VALUES",
    "Citation",
    "Criterion",
    "Scope",
    "SegmentRule",
    "Threshold",
    "classify",
    "criterion_from_dict",
    "get_criteria",
    "list_criteria",
    "with_entrapment_sites",
]

BLOCK_VALUES: tuple[str, ...] = ("yes", "probable", "no", "not_assessable")
"""Possible values of ``findings.block``."""
DISPERSION_VALUES: tuple[str, ...] = ("yes", "no", "not_assessable")
"""Possible values of ``findings.dispersion``."""

#: Words used for each segment measure in explanations.
MEASURE_LABELS: Mapping[str, str] = MappingProxyType(
    {
        "amp_drop_pct": "amplitude",
        "area_drop_pct": "area",
        "dur_change_pct": "duration",
        "distal_amplitude_mv": "distal amplitude",
        "amp_ratio": "proximal/distal amplitude ratio",
        "pp_amp_drop_pct": "peak-to-peak amplitude",
        "area_or_pp_drop_pct": "area (or peak-to-peak amplitude)",
    }
)

#: Words used for reference limits in explanations.
LIMIT_LABELS: Mapping[str, str] = MappingProxyType(
    {
        "amp_lln_mv": "LLN",
        "dml_uln_ms": "ULN",
        "cv_lln_m_s": "LLN",
        "f_latency_uln_ms": "ULN",
    }
)


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

    def values(self, segments: pd.DataFrame) -> np.ndarray:
        """The compared quantity per row (absolute and relative to its limit if asked)."""
        values = floats(segments[self.measure])
        if self.absolute:
            values = np.abs(values)
        if self.of is not None:
            limit = (
                floats(segments[self.of])
                if self.of in segments.columns
                else np.full(len(values), np.nan)
            )
            with np.errstate(divide="ignore", invalid="ignore"):
                values = np.where(limit > 0, np.round(values / limit, PCT_DECIMALS), np.nan)
        return values

    def test(self, segments: pd.DataFrame) -> pd.arrays.BooleanArray:
        """Three-valued result of this comparison on every segment row (nullable booleans)."""
        codes = self.truth(segments)
        return pd.arrays.BooleanArray(codes == TRUE, codes == UNKNOWN)

    def truth(self, segments: pd.DataFrame) -> np.ndarray:
        """Three-valued result as codes: ``TRUE``, ``FALSE`` or ``UNKNOWN`` (int8)."""
        values = self.values(segments)
        out = truth(values, self.op, self.value)
        if self.overrides:
            for name, op, value in self.overrides:
                sel = _equals(segments["nerve"], name)
                out[sel] = truth(values[sel], op, value)
        return out

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


def _equals(column: pd.Series, value: str) -> np.ndarray:
    """``column == value`` as plain booleans (missing -> False), for text or categorical."""
    values = column.array
    if isinstance(values, pd.Categorical):  # compare codes: no per-call pandas machinery
        from ncs._codes import code_of

        where = code_of(values, value)
        codes = np.asarray(values.codes)
        return codes == where if where >= 0 else np.zeros(codes.size, dtype=bool)
    return np.asarray(column.eq(value).to_numpy(dtype=bool, na_value=False), dtype=bool)


def _isin(column: pd.Series, values: Iterable[str]) -> np.ndarray:
    """``column.isin(values)`` as plain booleans (missing -> False)."""
    return np.asarray(column.isin(list(values)).to_numpy(dtype=bool, na_value=False), dtype=bool)


@dataclass(frozen=True, slots=True, kw_only=True)
class Scope:
    """Which segments a rule (or a whole criterion) considers.

    A segment outside the scope is *not considered*: the rule can neither be met nor ruled
    out there, and the roll-up ignores it (it is not "unknown").

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
    references : tuple of str
        Which comparisons: ``"adjacent"`` and/or ``"distal"``.
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
    references: tuple[str, ...] = ("adjacent", "distal")
    note: str = ""

    def applies(self, segments: pd.DataFrame) -> np.ndarray:
        """Boolean per segment row: inside this scope."""
        n = len(segments)
        ok = np.ones(n, dtype=bool)
        if n == 0:
            return ok
        if self.is_everything():
            return ok
        nerve, proximal = segments["nerve"], segments["proximal_site"]
        if self.nerves is not None:
            ok &= _isin(nerve, self.nerves)
        if self.exclude_nerves:
            ok &= ~_isin(nerve, self.exclude_nerves)
        if self.exclude_entrapment and "entrapment" in segments.columns:
            ok &= segments["entrapment"].isna().to_numpy()
        if self.exclude_zones and "entrapment" in segments.columns:
            ok &= ~_isin(segments["entrapment"], self.exclude_zones)
        if self.only_pairs is not None:
            pair = np.zeros(n, dtype=bool)
            for name, distal, prox in self.only_pairs:  # a few listed pairs, not data rows
                pair |= (
                    _equals(nerve, name)
                    & _equals(segments["distal_site"], distal)
                    & _equals(proximal, prox)
                )
            ok &= pair
        if self.exclude_proximal_sites:
            ok &= ~_isin(proximal, self.exclude_proximal_sites)
        if self.only_proximal_sites is not None:
            ok &= _isin(proximal, self.only_proximal_sites)
        if tuple(self.references) != ("adjacent", "distal"):
            ok &= _isin(segments["reference"], self.references)
        return ok

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
            "references": list(self.references),
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
        one fails the segment is ``not_assessable`` for this rule, with the reason.
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

    def evaluate(self, segments: pd.DataFrame) -> pd.arrays.BooleanArray:
        """Kleene combination of the thresholds on every segment row (nullable booleans)."""
        codes = self.truth(segments)
        return pd.arrays.BooleanArray(codes == TRUE, codes == UNKNOWN)

    def truth(self, segments: pd.DataFrame) -> np.ndarray:
        """Kleene combination as codes: OR is the maximum, AND the minimum of the codes."""
        combine = np.maximum if self.combine == "any" else np.minimum
        out = self.thresholds[0].truth(segments)
        for t in self.thresholds[1:]:
            out = combine(out, t.truth(segments))
        return out

    def precondition_truth(self, segments: pd.DataFrame) -> np.ndarray:
        """Kleene AND of the preconditions (TRUE where there are none)."""
        out = np.full(len(segments), TRUE, dtype=np.int8)
        for t in self.preconditions:
            out = np.minimum(out, t.truth(segments))
        return out

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
        "defines no separate dispersion rule, so dispersion is not assessed. A proximal absent "
        "response gives 100% drops but no duration, so the segment is not assessable on the "
        "letter of the rule. The paper's MMN patients needed at least two such blocks; the "
        "patient verdict here reports conduction_block from one block and gives the count. "
        "Bibliographic details (authors after the first two, volume, pages) are as given with "
        "the seed text and not yet confirmed."
    ),
)

from ncs.guidelines import GUIDELINES  # noqa: E402 - needs the classes above

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


def resolve(criteria: str | Criterion | Iterable[str | Criterion] | None) -> tuple[Criterion, ...]:
    """Criteria named by the user: an id, a Criterion, several, ``"all"``, ``"verified"``,
    or None (the defaults)."""
    if criteria is None:
        named: list[str | Criterion] = list(DEFAULT_CRITERIA)
    elif isinstance(criteria, (str, Criterion)):
        named = [criteria]
    else:
        named = list(criteria)
    items: list[str | Criterion] = []
    for c in named:
        word = c.strip().lower() if isinstance(c, str) else None
        if word == "all":
            items.extend(CRITERIA)
        elif word == "verified":
            items.extend(k for k, v in CRITERIA.items() if v.verified)
        else:
            items.append(c)
    out = tuple(get_criteria(c) for c in items)
    ids = [c.id for c in out]
    if len(set(ids)) != len(ids):
        raise ValueError(f"criteria named twice: {ids}")
    return out


# --------------------------------------------------------------------------------------
# Classification
# --------------------------------------------------------------------------------------

#: Ordered codes of a block/dispersion value: a larger code is a more positive finding.
#: ``_CODE_EXCLUDED`` marks a segment the criterion does not consider: shown as
#: ``not_assessable`` with the reason, but ignored by the roll-up.
_CODE_EXCLUDED, _CODE_NO, _CODE_NA, _CODE_PROBABLE, _CODE_YES = -1, 0, 1, 2, 3

#: Why a segment's result is what it is, beyond the thresholds (for explanations).
WHY_RULE, WHY_EXCLUDED, WHY_PRECONDITION, WHY_DISTAL_ABSENT = 0, 1, 2, 3


@dataclass(frozen=True)
class RuleOutcome:
    """Per-segment arrays describing how a list of rules decided (see :func:`_apply_rules`)."""

    code: np.ndarray  # ordered code per segment (-1 = not considered)
    deciding_rule: np.ndarray  # index of the rule whose text explains the result (-1: none)
    why: np.ndarray  # WHY_* code

    def take(self, rows: np.ndarray) -> RuleOutcome:
        """The outcome of some segments only."""
        return RuleOutcome(self.code[rows], self.deciding_rule[rows], self.why[rows])


def _apply_rules(
    rules: tuple[SegmentRule, ...], segments: pd.DataFrame, considered: np.ndarray
) -> RuleOutcome:
    """First rule met gives its outcome; ``no`` only when every applicable rule is ruled out."""
    n = len(segments)
    code = np.full(n, _CODE_NA, dtype=np.int8)
    deciding = np.full(n, -1, dtype=np.int64)
    decided = np.zeros(n, dtype=bool)
    ruled_out = np.ones(n, dtype=bool)
    any_applicable = np.zeros(n, dtype=bool)
    pre_failed = np.zeros(n, dtype=bool)
    for k, rule in enumerate(rules):
        applicable = rule.scope.applies(segments) & considered
        pre = rule.precondition_truth(segments)
        thr = rule.truth(segments)
        r = np.where(pre == TRUE, thr, np.where(pre == FALSE, -1, UNKNOWN))
        met = applicable & (r == TRUE) & ~decided
        code[met] = _CODE_YES if rule.outcome == "yes" else _CODE_PROBABLE
        deciding[met] = k
        decided |= met
        ruled_out &= ~applicable | (r == FALSE)
        pre_failed |= applicable & (pre == FALSE)
        # undecided rows are explained by the last applicable rule
        deciding = np.where(~decided & applicable, k, deciding)
        any_applicable |= applicable
    code[~decided & ruled_out & any_applicable] = _CODE_NO
    code[~any_applicable] = _CODE_EXCLUDED
    why = np.full(n, WHY_RULE, dtype=np.int8)
    why[~any_applicable] = WHY_EXCLUDED
    why[any_applicable & ~decided & pre_failed & (code == _CODE_NA)] = WHY_PRECONDITION
    return RuleOutcome(code, deciding, why)


@dataclass(frozen=True)
class SegmentJudgement:
    """Everything :func:`judge` decides for one criterion, as arrays in segment order."""

    criterion: Criterion
    block: RuleOutcome
    dispersion: RuleOutcome | None
    reason: np.ndarray

    @property
    def block_code(self) -> np.ndarray:
        return self.block.code

    @property
    def disp_code(self) -> np.ndarray:
        if self.dispersion is None:
            return np.full(len(self.block.code), _CODE_EXCLUDED, dtype=np.int8)
        return self.dispersion.code


def judge(crit: Criterion, segments: pd.DataFrame, *, reasons: bool = True) -> SegmentJudgement:
    """Block and dispersion outcomes and reason sentences for every segment (arrays).

    The array-level core of :func:`classify`; see there for the logic. With
    ``reasons=False`` the sentences are a :class:`ncs.explain.LazyReasons`, rendered only
    for the rows indexed.
    """
    from ncs.explain import LazyReasons, explain_findings  # local: keeps the text layer apart

    considered = crit.scope.applies(segments)
    distal_absent = _equals(segments["distal_response"], "absent")
    block = _apply_rules(crit.block, segments, considered)
    dispersion = (
        _apply_rules(crit.dispersion_rules, segments, considered) if crit.dispersion_rules else None
    )
    for outcome in (block, dispersion):
        if outcome is None:
            continue
        judged = distal_absent & (outcome.code != _CODE_EXCLUDED)
        outcome.code[judged] = _CODE_NA
        outcome.why[judged] = WHY_DISTAL_ABSENT
    if reasons:
        reason = explain_findings(crit, segments, block, dispersion)
    else:
        reason = LazyReasons(crit, segments, block, dispersion)
    return SegmentJudgement(crit, block, dispersion, reason)


def category_codes(codes: np.ndarray, categories: tuple[str, ...]) -> np.ndarray:
    """Ordered codes -> positions in ``categories``.

    ``probable`` becomes ``yes`` where the categories have no ``probable``; a segment not
    considered (code -1) shows as ``not_assessable``.
    """
    names = {
        _CODE_YES: "yes",
        _CODE_PROBABLE: "probable",
        _CODE_NO: "no",
        _CODE_NA: "not_assessable",
    }
    lut = np.full(5, -1, dtype=np.int8)
    for code, name in names.items():
        lut[code] = categories.index(name if name in categories else "yes")
    lut[4] = categories.index("not_assessable")  # code -1 (not considered)
    codes = np.asarray(codes)
    return lut[np.where(codes < 0, 4, codes)]


def classify(criterion: str | Criterion, segments: pd.DataFrame) -> pd.DataFrame:
    """Judge every segment under one criterion.

    Parameters
    ----------
    criterion : str or Criterion
        Id from :data:`CRITERIA` or a custom :class:`Criterion`.
    segments : pandas.DataFrame
        Output of :func:`ncs.segments`.

    Returns
    -------
    pandas.DataFrame
        Same row order as ``segments``: the segment keys, ``criterion``, ``block``
        (:data:`BLOCK_VALUES`), ``dispersion`` (:data:`DISPERSION_VALUES`) and ``reason``,
        one sentence with the numbers and the rule that decided.

    Notes
    -----
    Three-valued (Kleene) logic: "any" rules are met as soon as one known threshold is met
    and ruled out only when all thresholds are known and unmet; "all" rules are ruled out as
    soon as one known threshold fails. Block rules are tried strongest first. A segment
    whose distal response is absent cannot be judged.

    References
    ----------
    .. [1] Katz JS, et al. Neurology 2002;58:615-620, as applied in Simon NG, et al.
       Neurology 2013;81:2116-2120.
    .. [2] Bouche P, Léger JM, et al. J Neurol Neurosurg Psychiatry 1995 (supplement).
    """
    crit = get_criteria(criterion)
    j = judge(crit, segments)
    block_code, disp_code, reason = j.block_code, j.disp_code, j.reason
    keys = ["patient_id", "nerve", "side", "distal_site", "proximal_site", "reference"]
    out = segments[keys].copy()
    out["criterion"] = pd.array([crit.id] * len(out), dtype="string")
    out["block"] = pd.Categorical.from_codes(
        category_codes(block_code, BLOCK_VALUES), categories=list(BLOCK_VALUES)
    )
    out["dispersion"] = pd.Categorical.from_codes(
        category_codes(disp_code, DISPERSION_VALUES), categories=list(DISPERSION_VALUES)
    )
    out["reason"] = pd.array(reason.astype(object), dtype="string")
    return out


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
    from dataclasses import replace

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
    from ncs.schemes import NerveItem

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
            references=tuple(s.get("references", ("adjacent", "distal"))),
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
