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

import numpy as np
import pandas as pd

from ncs.errors import UnknownCriteriaError
from ncs.measures import FALSE, OPERATORS, TRUE, UNKNOWN, compare, truth

__all__ = [
    "BLOCK_VALUES",
    "CRITERIA",
    "DEFAULT_CRITERIA",
    "DISPERSION_VALUES",
    "Citation",
    "Criterion",
    "SegmentRule",
    "Threshold",
    "classify",
    "get_criteria",
    "list_criteria",
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
        Column of the segments table (``amp_drop_pct``, ``area_drop_pct``, ``dur_change_pct``).
    op : {">", ">=", "<", "<="}
        Applied as ``measure op value``.
    value : float
        The threshold, in the measure's unit (percent for the ``*_pct`` measures).
    absolute : bool
        Compare the absolute value (a "change" in either direction).
    source : str
        Where the number is written (paper, section, wording).
    """

    measure: str
    op: str
    value: float
    absolute: bool = False
    source: str = ""

    def __post_init__(self) -> None:
        if self.op not in OPERATORS:
            raise ValueError(f"operator must be one of {sorted(OPERATORS)}, got {self.op!r}")

    def test(self, segments: pd.DataFrame) -> pd.arrays.BooleanArray:
        """Three-valued result of this comparison on every segment row (nullable booleans)."""
        return compare(segments[self.measure], self.op, self.value, absolute=self.absolute)

    def truth(self, segments: pd.DataFrame) -> np.ndarray:
        """Three-valued result as codes: ``TRUE``, ``FALSE`` or ``UNKNOWN`` (int8)."""
        values = segments[self.measure].to_numpy(dtype=float, na_value=np.nan)
        return truth(values, self.op, self.value, absolute=self.absolute)

    def describe(self) -> str:
        """E.g. ``"amplitude drop > 30%"``."""
        label = MEASURE_LABELS.get(self.measure, self.measure)
        noun = {"amp_drop_pct": " drop", "area_drop_pct": " drop"}.get(self.measure, "")
        if self.measure == "dur_change_pct":
            noun = " change" if self.absolute else " increase"
        unit = "%" if self.measure.endswith("_pct") else ""
        absval = "|" if self.absolute else ""
        return f"{absval}{label}{noun}{absval} {self.op} {self.value:g}{unit}"

    def to_dict(self) -> dict[str, object]:
        return {
            "measure": self.measure,
            "op": self.op,
            "value": self.value,
            "absolute": self.absolute,
            "source": self.source,
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
    """

    outcome: str
    combine: str
    thresholds: tuple[Threshold, ...]
    name: str

    def __post_init__(self) -> None:
        if self.combine not in ("any", "all"):
            raise ValueError(f"combine must be 'any' or 'all', got {self.combine!r}")
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

    def describe(self) -> str:
        joiner = " or " if self.combine == "any" else " and "
        return joiner.join(t.describe() for t in self.thresholds)

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "outcome": self.outcome,
            "combine": self.combine,
            "thresholds": [t.to_dict() for t in self.thresholds],
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
    verified : bool
        True when every number was read in a source text.
    notes : str
        How the definition was operationalised and what the source leaves open.
    """

    id: str
    title: str
    short: str
    citation: Citation
    block: tuple[SegmentRule, ...]
    dispersion: SegmentRule | None = None
    verdicts: tuple[str, str, str]
    patient_counts_dispersion: bool = False
    verified: bool = False
    applied_in: tuple[Citation, ...] = field(default_factory=tuple)
    notes: str = ""

    def to_dict(self) -> dict[str, object]:
        """JSON-able description (for EDX software and the docs)."""
        return {
            "id": self.id,
            "title": self.title,
            "short": self.short,
            "citation": self.citation.to_dict(),
            "applied_in": [c.to_dict() for c in self.applied_in],
            "block": [r.to_dict() for r in self.block],
            "dispersion": None if self.dispersion is None else self.dispersion.to_dict(),
            "verdicts": list(self.verdicts),
            "patient_counts_dispersion": self.patient_counts_dispersion,
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

CRITERIA: Mapping[str, Criterion] = MappingProxyType({c.id: c for c in (KATZ2002, BOUCHE1995)})
"""Every built-in criterion, by id."""

DEFAULT_CRITERIA: tuple[str, ...] = tuple(c.id for c in CRITERIA.values() if c.verified)
"""Criteria applied when none are named: the verified ones."""


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
    """Criteria named by the user (an id, a Criterion, several, or None = defaults)."""
    if criteria is None:
        items: list[str | Criterion] = list(DEFAULT_CRITERIA)
    elif isinstance(criteria, (str, Criterion)):
        items = [criteria]
    else:
        items = list(criteria)
    out = tuple(get_criteria(c) for c in items)
    ids = [c.id for c in out]
    if len(set(ids)) != len(ids):
        raise ValueError(f"criteria named twice: {ids}")
    return out


# --------------------------------------------------------------------------------------
# Classification
# --------------------------------------------------------------------------------------

#: Ordered codes of a block/dispersion value: a larger code is a more positive finding.
_CODE_NO, _CODE_NA, _CODE_PROBABLE, _CODE_YES = 0, 1, 2, 3


def judge(
    crit: Criterion, segments: pd.DataFrame, *, reasons: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Block and dispersion codes and reason sentences for every segment (arrays).

    The array-level core of :func:`classify`; see there for the logic. With
    ``reasons=False`` the sentences are a :class:`ncs.explain.LazyReasons`, rendered only
    for the rows indexed.
    """
    from ncs.explain import LazyReasons, explain_findings  # local: keeps the text layer apart

    n = len(segments)
    block_code = np.full(n, _CODE_NA, dtype=np.int8)
    decided = np.zeros(n, dtype=bool)
    all_ruled_out = np.ones(n, dtype=bool)
    for rule in crit.block:
        r = rule.truth(segments)
        met = (r == TRUE) & ~decided
        block_code[met] = _CODE_YES if rule.outcome == "yes" else _CODE_PROBABLE
        decided |= met
        all_ruled_out &= r == FALSE
    block_code[~decided & all_ruled_out] = _CODE_NO

    if crit.dispersion is not None:
        d = crit.dispersion.truth(segments)
        disp_code = np.where(d == TRUE, _CODE_YES, np.where(d == FALSE, _CODE_NO, _CODE_NA))
        disp_code = disp_code.astype(np.int8)
    else:
        disp_code = np.full(n, _CODE_NA, dtype=np.int8)

    distal_absent = (segments["distal_response"] == "absent").to_numpy(dtype=bool, na_value=False)
    block_code[distal_absent] = _CODE_NA
    disp_code[distal_absent] = _CODE_NA
    explain = explain_findings if reasons else LazyReasons
    reason = explain(crit, segments, block_code, disp_code, distal_absent)
    return block_code, disp_code, reason


def category_codes(codes: np.ndarray, categories: tuple[str, ...]) -> np.ndarray:
    """Ordered codes -> positions in ``categories`` (``probable`` -> ``yes`` if absent)."""
    names = {
        _CODE_YES: "yes",
        _CODE_PROBABLE: "probable",
        _CODE_NO: "no",
        _CODE_NA: "not_assessable",
    }
    lut = np.full(4, -1, dtype=np.int8)
    for code, name in names.items():
        lut[code] = categories.index(name if name in categories else "yes")
    return lut[codes]


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
    block_code, disp_code, reason = judge(crit, segments)
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
