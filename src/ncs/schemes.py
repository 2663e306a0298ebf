"""Guideline schemes: per-nerve demyelinating parameters and patient-level rules.

A scheme is a :class:`~ncs.criteria.Criterion` (its segment rules for conduction block and
temporal dispersion) plus :class:`NerveItem` parameters (distal latency, velocity, F waves,
distal CMAP duration) judged per nerve against reference limits, combined into a patient
verdict by nerve-counting rules written once here and shared:

* :func:`at_least` -- "in k nerves";
* :func:`one_plus_other` -- "in 1 nerve + >= 1 other demyelinating parameter in >= 1 other
  nerve";
* :func:`two_plus_other` -- "in 2 nerves + >= 1 other parameter in >= 1 other nerve";
* :func:`k_of` -- "at least k of these items".

All of them are three-valued (:data:`~ncs.measures.TRUE`, ``FALSE``, ``UNKNOWN``) and work on
integer codes per nerve with ``bincount`` over patient ids: no Python loop over patients.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ncs.measures import FALSE, OPERATORS, PCT_DECIMALS, TRUE, UNKNOWN, truth

__all__ = [
    "NerveItem",
    "at_least",
    "evaluate_item",
    "k_of",
    "one_plus_other",
    "two_plus_other",
]

#: How an item's nerve count may be completed by another parameter (see NerveItem).
CORROBORATION = ("none", "or_one_plus_other", "one_plus_other", "two_plus_other")

#: Item measures derived from the scheme's own segment findings, rolled up per nerve.
SEGMENT_MEASURES = ("block", "probable_block", "dispersion", "block_or_dispersion")


@dataclass(frozen=True, slots=True, kw_only=True)
class NerveItem:
    """One per-nerve demyelinating parameter of a scheme.

    The test is ``measure / limit op multiplier`` ("distal latency >= 50% above ULN" is
    ``measure="dml_ms", op=">=", multiplier=1.5, limit="dml_uln_ms"``), with an optional
    amplitude-dependent multiplier and an optional minimum distal amplitude.

    Attributes
    ----------
    id : str
        The guideline's label, e.g. ``"a"``.
    name : str
        What it finds, e.g. ``"distal motor latency prolonged"``.
    parameter : str
        Nerves-table column it fills (``dml_prolonged``, ``cv_slowed``,
        ``f_latency_prolonged``, ``f_waves_absent``, ``distal_duration_prolonged``,
        ``conduction_block``, ``probable_conduction_block``, ``temporal_dispersion``).
    measure : str
        Per-nerve measure (:data:`ncs.fwave.NERVE_MEASURES`), or one of
        :data:`SEGMENT_MEASURES` for findings rolled up from the scheme's segments.
    op, multiplier, limit
        The comparison; ``limit=None`` compares the measure itself with ``multiplier``.
    low_amplitude : (fraction, multiplier) or None
        Where the distal CMAP is below ``fraction`` x LLN, use this multiplier instead.
    min_amplitude : (op, fraction) or None
        The item counts only where the distal CMAP is ``op fraction`` x LLN.
    exclude_nerves : tuple of str
        Nerves never counted for this item.
    count : str
        The nerve-count rule in words (documentation).
    min_nerves : int
        Nerves that must meet the item (``"in 2 nerves"`` is 2).
    corroboration : {"none", "or_one_plus_other", "one_plus_other", "two_plus_other"}
        ``"none"``: met in ``min_nerves`` nerves; ``"or_one_plus_other"``: that, or in one
        nerve plus another parameter in another nerve; ``"one_plus_other"``: in one nerve
        plus another parameter in another nerve; ``"two_plus_other"``: in two nerves plus
        another parameter in a third nerve.
    not_corroborated_by : tuple of str
        Item ids that may not serve as the "other parameter" (the item itself never does).
    counts_as_other : bool
        Whether this item is a demyelinating parameter that corroborates others and makes a
        single-nerve level (False for a level's own item such as EFNS probable CB).
    source : str
    verified : bool
    """

    id: str
    name: str
    parameter: str
    measure: str
    op: str = ">="
    multiplier: float = 1.0
    limit: str | None = None
    low_amplitude: tuple[float, float] | None = None
    min_amplitude: tuple[str, float] | None = None
    exclude_nerves: tuple[str, ...] = ()
    count: str = ""
    min_nerves: int = 2
    corroboration: str = "none"
    not_corroborated_by: tuple[str, ...] = ()
    counts_as_other: bool = True
    source: str = ""
    verified: bool = True

    def __post_init__(self) -> None:
        if self.op not in OPERATORS:
            raise ValueError(f"operator must be one of {sorted(OPERATORS)}, got {self.op!r}")
        if self.corroboration not in CORROBORATION:
            raise ValueError(f"corroboration must be one of {CORROBORATION}")

    def count_rule(self) -> str:
        """The nerve-count rule as the data define it, e.g. ``"in >= 2 nerves"``."""
        unless = (
            " (not " + ", ".join(f"({x})" for x in self.not_corroborated_by) + ")"
            if self.not_corroborated_by
            else ""
        )
        other = f"another parameter{unless}"
        if self.corroboration == "two_plus_other":
            return f"in >= 2 nerves + {other} in a third nerve"
        if self.corroboration == "one_plus_other":
            return f"in >= 1 nerve + {other} in another nerve"
        count = f"in >= {self.min_nerves} nerve{'s' if self.min_nerves != 1 else ''}"
        if self.corroboration == "or_one_plus_other":
            return f"{count}, or in 1 nerve + {other} in another nerve"
        return count

    def describe(self) -> str:
        """E.g. ``"(a) distal motor latency prolonged: dml >= 1.5 x ULN"``."""
        if self.measure in SEGMENT_MEASURES:
            rule = f"{self.measure.replace('_', ' ')} in the scheme's segment findings"
        elif self.measure == "f_absent":
            rule = "F-wave persistence 0%"
        else:
            rule = f"{self.measure} {self.op} {self.multiplier:g} x {self.limit or ''}".strip()
            if self.low_amplitude:
                frac, mult = self.low_amplitude
                rule += f" ({self.op} {mult:g} x {self.limit} if distal CMAP < {frac:g} x LLN)"
        if self.min_amplitude:
            op, frac = self.min_amplitude
            rule += f", counted only if distal CMAP {op} {frac:g} x LLN"
        if self.exclude_nerves:
            rule += f"; not counted in: {', '.join(self.exclude_nerves)}"
        return f"({self.id}) {self.name}: {rule}; {self.count_rule()}"

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "parameter": self.parameter,
            "measure": self.measure,
            "op": self.op,
            "multiplier": self.multiplier,
            "limit": self.limit,
            "low_amplitude": None if self.low_amplitude is None else list(self.low_amplitude),
            "min_amplitude": None if self.min_amplitude is None else list(self.min_amplitude),
            "exclude_nerves": list(self.exclude_nerves),
            "count": self.count,
            "min_nerves": self.min_nerves,
            "corroboration": self.corroboration,
            "not_corroborated_by": list(self.not_corroborated_by),
            "counts_as_other": self.counts_as_other,
            "source": self.source,
            "verified": self.verified,
            "text": self.describe(),
        }


def _ratio(values: np.ndarray, limit: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(limit > 0, np.round(values / limit, PCT_DECIMALS), np.nan)


def _either(cond: np.ndarray, when_true: np.ndarray, when_false: np.ndarray) -> np.ndarray:
    """Three-valued choice: where ``cond`` is unknown, the result is known only if both agree."""
    agree = np.where(when_true == when_false, when_true, UNKNOWN)
    return np.where(cond == TRUE, when_true, np.where(cond == FALSE, when_false, agree)).astype(
        np.int8
    )


def evaluate_item(
    item: NerveItem,
    measures: dict[str, np.ndarray],
    nerve_names: np.ndarray,
    segment_codes: dict[str, np.ndarray],
) -> np.ndarray:
    """Three-valued result of one item for every nerve (int8 codes)."""
    n = len(nerve_names)
    amp_ratio = _ratio(measures["distal_amplitude_mv"], measures["amp_lln_mv"])
    if item.measure in SEGMENT_MEASURES:
        out = segment_codes[item.measure].copy()
    elif item.measure == "f_absent":
        v = measures["f_absent"]
        out = np.where(np.isnan(v), UNKNOWN, np.where(v == 1.0, TRUE, FALSE)).astype(np.int8)
    else:
        v = measures[item.measure]
        ratio = _ratio(v, measures[item.limit]) if item.limit else v
        out = truth(ratio, item.op, item.multiplier)
        if item.low_amplitude is not None:
            fraction, low_multiplier = item.low_amplitude
            low = truth(amp_ratio, "<", fraction)
            out = _either(low, truth(ratio, item.op, low_multiplier), out)
        if item.measure == "f_latency_ms":
            # absent F waves have no latency to be prolonged (absence is its own item)
            out = np.where(measures["f_absent"] == 1.0, FALSE, out)
        if item.measure == "distal_duration_ms":
            # the cut-offs depend on the low-frequency filter: without lff_hz the item is
            # not evaluated (it never fires), as the criteria reference requires
            out = np.where(np.isnan(measures["lff_hz"]), FALSE, out)
    if item.min_amplitude is not None:
        op, fraction = item.min_amplitude
        gate = truth(amp_ratio, op, fraction)
        out = np.where(
            gate == FALSE, FALSE, np.where(gate == UNKNOWN, np.minimum(out, UNKNOWN), out)
        )
    if item.exclude_nerves:
        out = np.where(np.isin(nerve_names, list(item.exclude_nerves)), FALSE, out)
    return np.asarray(out, dtype=np.int8).reshape(n)


# --------------------------------------------------------------------------------------
# Nerve-counting combinators (three-valued, per patient)
# --------------------------------------------------------------------------------------


def _counts(
    codes: np.ndarray, patient: np.ndarray, n_patients: int
) -> tuple[np.ndarray, np.ndarray]:
    known = np.bincount(patient, weights=codes == TRUE, minlength=n_patients)
    maybe = np.bincount(patient, weights=codes >= UNKNOWN, minlength=n_patients)
    return known, maybe


def _three(known: np.ndarray, possible: np.ndarray) -> np.ndarray:
    return np.where(known, TRUE, np.where(possible, UNKNOWN, FALSE)).astype(np.int8)


def at_least(codes: np.ndarray, patient: np.ndarray, n_patients: int, k: int) -> np.ndarray:
    """Met in at least ``k`` nerves of the patient."""
    known, maybe = _counts(codes, patient, n_patients)
    return _three(known >= k, maybe >= k)


def one_plus_other(
    codes: np.ndarray, other: np.ndarray, patient: np.ndarray, n_patients: int
) -> np.ndarray:
    """Met in one nerve, plus another parameter in a *different* nerve.

    The number of ordered pairs (A, B), A meeting ``codes``, B meeting ``other``, A != B, is
    ``n_codes * n_other - n_both``; the rule holds when it is positive.
    """

    def pairs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        na = np.bincount(patient, weights=a, minlength=n_patients)
        nb = np.bincount(patient, weights=b, minlength=n_patients)
        both = np.bincount(patient, weights=a & b, minlength=n_patients)
        return na * nb - both

    known = pairs(codes == TRUE, other == TRUE) > 0
    possible = pairs(codes >= UNKNOWN, other >= UNKNOWN) > 0
    return _three(known, possible)


def two_plus_other(
    codes: np.ndarray, other: np.ndarray, patient: np.ndarray, n_patients: int
) -> np.ndarray:
    """Met in two nerves, plus another parameter in a third nerve.

    Holds when some nerve B meets ``other`` and at least two nerves other than B meet
    ``codes``: either >= 3 nerves meet ``codes`` (and any B exists), or exactly 2 do and B
    is not one of them.
    """

    def holds(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        na = np.bincount(patient, weights=a, minlength=n_patients)
        nb = np.bincount(patient, weights=b, minlength=n_patients)
        b_only = np.bincount(patient, weights=b & ~a, minlength=n_patients)
        return ((na >= 3) & (nb >= 1)) | ((na >= 2) & (b_only >= 1))

    return _three(holds(codes == TRUE, other == TRUE), holds(codes >= UNKNOWN, other >= UNKNOWN))


def k_of(results: Sequence[np.ndarray], k: int) -> np.ndarray:
    """At least ``k`` of the (per-patient) three-valued results hold."""
    stack = np.stack(results)
    known = (stack == TRUE).sum(axis=0)
    maybe = (stack >= UNKNOWN).sum(axis=0)
    return _three(known >= k, maybe >= k)


def any_of(results: Sequence[np.ndarray]) -> np.ndarray:
    """Kleene OR of three-valued results."""
    return np.max(np.stack(results), axis=0).astype(np.int8)


def all_of(results: Sequence[np.ndarray]) -> np.ndarray:
    """Kleene AND of three-valued results."""
    return np.min(np.stack(results), axis=0).astype(np.int8)


def negate(codes: np.ndarray) -> np.ndarray:
    """Kleene NOT."""
    return (TRUE - codes).astype(np.int8)


@dataclass(frozen=True)
class PatientContext:
    """Per-nerve and per-patient arrays a scheme's patient rule needs."""

    nerve_patient: np.ndarray
    n_patients: int
    nerve_names: np.ndarray
    measures: dict[str, np.ndarray]
    segment_codes: dict[str, np.ndarray]  # per nerve, rolled from the scheme's segments
    items: dict[int, np.ndarray]  # item index -> codes per nerve


def _by_id(crit_items: Sequence[NerveItem], ctx: PatientContext) -> dict[str, np.ndarray]:
    """Item codes by item id; items sharing an id are OR-ed (AAN's 'absent or prolonged')."""
    out: dict[str, np.ndarray] = {}
    for k, item in enumerate(crit_items):
        codes = ctx.items[k]
        out[item.id] = np.maximum(out[item.id], codes) if item.id in out else codes
    return out


def item_rule(item: NerveItem, items: Sequence[NerveItem], ctx: PatientContext) -> np.ndarray:
    """Per patient: the item with its nerve-count rule (three-valued)."""
    p, n_p = ctx.nerve_patient, ctx.n_patients
    codes = _by_id(items, ctx)
    c = codes[item.id]
    excluded = {item.id, *item.not_corroborated_by}
    others = [codes[i.id] for i in items if i.counts_as_other and i.id not in excluded]
    other = any_of(others) if others else np.full(len(c), FALSE, dtype=np.int8)
    count = at_least(c, p, n_p, item.min_nerves)
    if item.corroboration == "none":
        return count
    if item.corroboration == "two_plus_other":
        return two_plus_other(c, other, p, n_p)
    pair = one_plus_other(c, other, p, n_p)
    return pair if item.corroboration == "one_plus_other" else any_of([count, pair])


def _unique_items(items: Sequence[NerveItem]) -> list[NerveItem]:
    """First item of each id (items sharing an id are OR-ed into one by :func:`_by_id`)."""
    seen: dict[str, NerveItem] = {}
    for item in items:
        seen.setdefault(item.id, item)
    return list(seen.values())


def guideline_rules(
    crit_items: Sequence[NerveItem], ctx: PatientContext
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Per-item rules of a graded scheme (EFNS/PNS 2010, EAN/PNS 2021 CIDP).

    Returns the per-item patient results (item id -> codes), the "any parameter with its
    nerve-count rule" result (definite / strongly supportive) and the "any parameter in one
    nerve" result (possible / weakly supportive). Items with ``counts_as_other=False`` (a
    level's own item, e.g. EFNS probable CB) are in the first dict only.
    """
    p, n_p = ctx.nerve_patient, ctx.n_patients
    codes = _by_id(crit_items, ctx)
    rules = {i.id: item_rule(i, crit_items, ctx) for i in _unique_items(crit_items)}
    parameters = [i.id for i in _unique_items(crit_items) if i.counts_as_other]
    full = any_of([rules[i] for i in parameters])
    single = any_of([at_least(codes[i], p, n_p, 1) for i in parameters])
    return rules, full, single


def aan1991_rules(crit_items: Sequence[NerveItem], ctx: PatientContext) -> dict[str, np.ndarray]:
    """Each AAN 1991 item with its nerve count, per patient (the verdict counts them)."""
    return {i.id: item_rule(i, crit_items, ctx) for i in _unique_items(crit_items)}


def hadden1998_classes(
    crit_items: Sequence[NerveItem],
    ctx: PatientContext,
    segment_ok: np.ndarray,
    options: dict,
) -> dict[str, np.ndarray]:
    """Hadden 1998 classes per patient (three-valued), in the order they are tried.

    ``segment_ok`` is, per nerve, whether no segment meets the conduction-block amplitude
    rule (for "normal"). ``options`` holds the class thresholds (fractions of the LLN) from
    the criterion's data: ``judgeable_above``, ``inexcitable_below``, ``axonal_below``,
    ``axonal_min_nerves``.
    """
    p, n_p = ctx.nerve_patient, ctx.n_patients
    m = ctx.measures
    amp_ratio = _ratio(m["distal_amplitude_mv"], m["amp_lln_mv"])
    judgeable = truth(amp_ratio, ">", options["judgeable_above"])
    items = []
    for codes in _by_id(crit_items, ctx).values():
        gated = np.where(
            judgeable == FALSE,
            FALSE,
            np.where(judgeable == UNKNOWN, np.minimum(codes, UNKNOWN), codes),
        )
        items.append(gated.astype(np.int8))
    stack = np.stack(items)
    feature = any_of(items)
    n_true = (stack == TRUE).sum(axis=0)
    n_maybe = (stack >= UNKNOWN).sum(axis=0)
    two_items = np.where(n_true >= 2, TRUE, np.where(n_maybe >= 2, UNKNOWN, FALSE)).astype(np.int8)

    excitable = (m["distal_response"] == "present") & (m["distal_amplitude_mv"] > 0)
    n_excitable = np.bincount(p, weights=excitable, minlength=n_p)
    only_one = np.where(n_excitable == 1, TRUE, FALSE).astype(np.int8)
    demyelinating = any_of(
        [at_least(feature, p, n_p, 2), all_of([at_least(two_items, p, n_p, 1), only_one])]
    )

    tiny = truth(amp_ratio, "<", options["inexcitable_below"])
    none_excitable = np.where(n_excitable == 0, TRUE, FALSE).astype(np.int8)
    tiny_excitable = np.where(excitable, tiny, FALSE).astype(np.int8)
    inexcitable = any_of([none_excitable, all_of([only_one, at_least(tiny_excitable, p, n_p, 1)])])

    low = truth(amp_ratio, "<", options["axonal_below"])
    axonal = all_of(
        [negate(at_least(feature, p, n_p, 1)), at_least(low, p, n_p, options["axonal_min_nerves"])]
    )

    f_present = np.where(
        np.isnan(m["f_absent"]), UNKNOWN, np.where(m["f_absent"] == 0.0, TRUE, FALSE)
    )
    nerve_normal = all_of(
        [
            truth(amp_ratio, ">=", 1.0),
            truth(_ratio(m["dml_ms"], m["dml_uln_ms"]), "<=", 1.0),
            f_present.astype(np.int8),
            truth(_ratio(m["f_latency_ms"], m["f_latency_uln_ms"]), "<=", 1.0),
            truth(_ratio(m["mcv_m_s"], m["cv_lln_m_s"]), ">=", 1.0),
            segment_ok,
        ]
    )
    normal = negate(at_least(negate(nerve_normal), p, n_p, 1))
    return {
        "demyelinating": demyelinating,
        "inexcitable": inexcitable,
        "axonal": axonal,
        "normal": normal,
    }
