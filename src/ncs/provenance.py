"""Provenance of a result: library version, criteria versions, reference table and limits.

Every :class:`~ncs.Analysis` carries this in ``meta`` and in ``to_json()`` under
``"provenance"``, so a stored result says what produced it. A criterion's ``version`` is a
short SHA-256 of its canonical JSON description (thresholds, operators, citations,
verification flags): any change to a rule changes it, and equal versions mean equal rules.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["criterion_version", "provenance"]


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=True, separators=(",", ":"))


def criterion_version(criterion: Any) -> str:
    """Short content hash of a criterion's ``to_dict()`` (16 hex digits of SHA-256).

    Parameters
    ----------
    criterion : Criterion
        Any object with a ``to_dict()`` method.

    Returns
    -------
    str
        Equal for criteria with equal descriptions, different after any change of a rule.
    """
    known = _VERSIONS.get(id(criterion))
    if known is not None and known[0] is criterion:  # criteria are frozen: computed once
        return known[1]
    text = _canonical(criterion.to_dict())
    version = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    if len(_VERSIONS) > 256:
        _VERSIONS.clear()
    _VERSIONS[id(criterion)] = (criterion, version)
    return version


_VERSIONS: dict[int, tuple[Any, str]] = {}


def _reference_sources(reference_name: str) -> list[str]:
    """Sources of the shipped reference table when it was used; else nothing known."""
    from ncs.normative import DEFAULT_REFERENCE_NAME

    if reference_name != DEFAULT_REFERENCE_NAME:
        return []
    return list(_default_sources())


@functools.lru_cache(maxsize=1)
def _default_sources() -> tuple[str, ...]:
    from ncs.normative import default_reference

    table = default_reference()
    if "source" not in table.columns:
        return ()
    return tuple(sorted({str(s) for s in table["source"].dropna()}))


def provenance(
    criteria: Iterable[Any],
    reference_name: str,
    temperature_limits_c: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """What produced a result, as JSON-able data.

    Parameters
    ----------
    criteria : iterable of Criterion
        The criteria applied.
    reference_name : str
        Name of the reference table used (``"none"`` when no limits were needed).
    temperature_limits_c : mapping, optional
        Limb temperature limits applied for the ``cold_limb`` flags.

    Returns
    -------
    dict
        ``ncs_version``; ``criteria``: a list of ``{id, version, verified, citation}``;
        ``reference``: ``{name, sources}`` (the sources of the shipped table when it was
        used); ``temperature_limits_c`` with its ``verified`` flag.
    """
    from ncs._version import __version__
    from ncs.plausibility import TEMPERATURE_LIMITS_C, TEMPERATURE_LIMITS_VERIFIED

    limits = dict(temperature_limits_c or TEMPERATURE_LIMITS_C)
    defaults = limits == dict(TEMPERATURE_LIMITS_C)
    return {
        "ncs_version": __version__,
        "criteria": [
            {
                "id": str(c.id),
                "version": criterion_version(c),
                "verified": bool(c.verified),
                "citation": c.citation.text,
            }
            for c in criteria
        ],
        "reference": {"name": reference_name, "sources": _reference_sources(reference_name)},
        "temperature_limits_c": {
            **limits,
            "verified": bool(TEMPERATURE_LIMITS_VERIFIED) if defaults else None,
        },
    }
