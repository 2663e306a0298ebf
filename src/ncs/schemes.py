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
integer codes per nerve with ``bincount`` over patient ids: no Python loop over patients. The
exclusion codes below ``FALSE`` (``NOT_APPLICABLE``, a nerve with no segment) count as not met:
what a rule excludes never makes a count unknown. ``unseen`` (per patient) counts nerves of
which nothing is known (set aside for invalid input rows): each may meet every parameter, so
it can make a count that is not met unknown, never met. The rule engine (:mod:`ncs.engine`)
applies the items and these combinators.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ncs.measures import FALSE, OPERATORS, TRUE, UNKNOWN

__all__ = [
    "NerveItem",
    "all_of",
    "any_of",
    "at_least",
    "k_of",
    "negate",
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


def _unseen(unseen: np.ndarray | None, n_patients: int) -> np.ndarray:
    """Per patient, the nerves of which nothing is known (none when not given)."""
    return np.zeros(n_patients) if unseen is None else np.asarray(unseen, dtype=float)


def at_least(
    codes: np.ndarray,
    patient: np.ndarray,
    n_patients: int,
    k: int,
    unseen: np.ndarray | None = None,
) -> np.ndarray:
    """Met in at least ``k`` nerves of the patient (``unseen`` nerves may be among them)."""
    known, maybe = _counts(codes, patient, n_patients)
    return _three(known >= k, maybe + _unseen(unseen, n_patients) >= k)


def one_plus_other(
    codes: np.ndarray,
    other: np.ndarray,
    patient: np.ndarray,
    n_patients: int,
    unseen: np.ndarray | None = None,
) -> np.ndarray:
    """Met in one nerve, plus another parameter in a *different* nerve.

    The number of ordered pairs (A, B), A meeting ``codes``, B meeting ``other``, A != B, is
    ``n_codes * n_other - n_both``; the rule holds when it is positive. An ``unseen`` nerve
    may meet both.
    """
    extra = _unseen(unseen, n_patients)

    def pairs(a: np.ndarray, b: np.ndarray, u: np.ndarray) -> np.ndarray:
        na = np.bincount(patient, weights=a, minlength=n_patients) + u
        nb = np.bincount(patient, weights=b, minlength=n_patients) + u
        both = np.bincount(patient, weights=a & b, minlength=n_patients) + u
        return na * nb - both

    known = pairs(codes == TRUE, other == TRUE, np.zeros(n_patients)) > 0
    possible = pairs(codes >= UNKNOWN, other >= UNKNOWN, extra) > 0
    return _three(known, possible)


def two_plus_other(
    codes: np.ndarray,
    other: np.ndarray,
    patient: np.ndarray,
    n_patients: int,
    unseen: np.ndarray | None = None,
) -> np.ndarray:
    """Met in two nerves, plus another parameter in a third nerve.

    Holds when some nerve B meets ``other`` and at least two nerves other than B meet
    ``codes``: either >= 3 nerves meet ``codes`` (and any B exists), or exactly 2 do and B
    is not one of them. ``unseen`` nerves may meet both; each is one nerve, so it is one of
    the two, or the third, not both.
    """
    extra = _unseen(unseen, n_patients)

    def holds(a: np.ndarray, b: np.ndarray, u: np.ndarray) -> np.ndarray:
        na = np.bincount(patient, weights=a, minlength=n_patients)
        nb = np.bincount(patient, weights=b, minlength=n_patients)
        b_only = np.bincount(patient, weights=b & ~a, minlength=n_patients)
        # >= 3 nerves meet codes and one meets other; or 2 meet codes and a third other
        # (the unseen nerves fill what is missing of either, one role each)
        short = np.maximum(2 - na, 0) + np.maximum(1 - b_only, 0)
        return ((na + u >= 3) & (nb + u >= 1)) | (short <= u)

    known = holds(codes == TRUE, other == TRUE, np.zeros(n_patients))
    return _three(known, holds(codes >= UNKNOWN, other >= UNKNOWN, extra))


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
    """Kleene NOT (``NOT_APPLICABLE`` and other exclusion codes read as ``FALSE``)."""
    return (TRUE - np.maximum(codes, FALSE)).astype(np.int8)
