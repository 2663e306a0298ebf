"""Segment measures and exact threshold tests.

The arithmetic kernels here work on a float, a NumPy array or a pandas Series and return the
same kind. Percentages are snapped to :data:`PCT_DECIMALS` decimal places before any
threshold is applied, so that a drop written as 10.0 mV -> 7.0 mV is exactly 30 % (floating
point alone gives 30.000000000000004, which ">30 %" would wrongly accept).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import TypeVar

import numpy as np
import pandas as pd

__all__ = [
    "FALSE",
    "NOT_APPLICABLE",
    "OPERATORS",
    "PCT_DECIMALS",
    "TRUE",
    "UNKNOWN",
    "compare",
    "percent_change",
    "percent_drop",
    "truth",
]

FALSE, UNKNOWN, TRUE = np.int8(0), np.int8(1), np.int8(2)
"""Three-valued truth codes, ordered so that Kleene OR is ``max`` and AND is ``min``."""

NOT_APPLICABLE = np.int8(-1)
"""A fourth code, below ``FALSE``: the rule excludes this unit (a failed precondition, a nerve
or segment outside its scope, an inexcitable nerve). It is never *unknown*: wherever a count
or a Kleene OR reads it, it acts as ``FALSE`` (``max(NOT_APPLICABLE, FALSE)`` is ``FALSE``)."""

PCT_DECIMALS = 9
"""Percentages are rounded to this many decimals before comparison (1e-9 percentage points).

Clinical inputs carry at most three or four significant decimals, so no real difference is
lost; floating-point noise (about 1e-14 on a percentage) is removed.
"""

OPERATORS: dict[str, Callable[[np.ndarray, float], np.ndarray]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}
"""The comparison operators a threshold may use."""

Numeric = TypeVar("Numeric", float, np.ndarray, pd.Series)


def _as_float_array(x) -> np.ndarray:
    if isinstance(x, pd.Series):
        return x.to_numpy(dtype=float, na_value=np.nan)
    return np.asarray(x, dtype=float)


def _like(template, values: np.ndarray):
    if isinstance(template, pd.Series):
        return pd.Series(values, index=template.index, name=template.name)
    if np.ndim(template) == 0:
        return float(values)
    return values


def percent_drop(distal, proximal):
    """Reduction of the proximal value relative to the distal one, in percent.

    ``100 * (distal - proximal) / distal``, snapped to :data:`PCT_DECIMALS` decimals.
    Positive for a fall, negative for a rise; NaN where ``distal`` is missing or not
    positive (nothing to fall from) or ``proximal`` is missing.

    Parameters
    ----------
    distal, proximal : float, numpy.ndarray or pandas.Series
        Values at the distal and the proximal stimulation site of a segment (any unit, the
        same for both: mV for amplitudes, mV·ms for areas).

    Returns
    -------
    float, numpy.ndarray or pandas.Series
        Same kind as ``distal``. [%]

    Notes
    -----
    All conduction-block definitions are phrased as the proximal response relative to the
    distal response of the pair: "reduction = 1 - proximal/distal".

    Examples
    --------
    >>> percent_drop(10.0, 7.0)
    30.0
    >>> percent_drop(10.0, 7.0) > 30
    False
    """
    d = _as_float_array(distal)
    p = _as_float_array(proximal)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(d > 0, (d - p) / d * 100.0, np.nan)
    return _like(distal, np.round(out, PCT_DECIMALS))


def percent_change(distal, proximal):
    """Signed change of the proximal value relative to the distal one, in percent.

    ``100 * (proximal - distal) / distal``, snapped to :data:`PCT_DECIMALS` decimals; used
    for CMAP duration (positive = the proximal response is longer, i.e. dispersed).

    Parameters
    ----------
    distal, proximal : float, numpy.ndarray or pandas.Series
        Durations at the distal and proximal site. [ms]

    Returns
    -------
    float, numpy.ndarray or pandas.Series
        Same kind as ``distal``; NaN where either is missing or ``distal`` is not
        positive. [%]

    Examples
    --------
    >>> percent_change(5.0, 5.75)
    15.0
    """
    d = _as_float_array(distal)
    p = _as_float_array(proximal)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(d > 0, (p - d) / d * 100.0, np.nan)
    return _like(distal, np.round(out, PCT_DECIMALS))


def compare(values, op: str, threshold: float, *, absolute: bool = False) -> pd.arrays.BooleanArray:
    """Three-valued threshold test: True, False, or <NA> where the value is missing.

    Parameters
    ----------
    values : array-like of float
        Measured values (NaN = unknown).
    op : {">", ">=", "<", "<="}
        Comparison, applied as ``value op threshold``.
    threshold : float
        The threshold, in the unit of ``values``.
    absolute : bool, default False
        Compare ``abs(value)`` (e.g. "duration change <15 %" in either direction).

    Returns
    -------
    pandas.arrays.BooleanArray
        Nullable booleans; combine them with ``&`` and ``|`` for Kleene logic.
    """
    codes = truth(_as_float_array(values), op, threshold, absolute=absolute)
    return pd.arrays.BooleanArray(codes == TRUE, codes == UNKNOWN)


def truth(values: np.ndarray, op: str, threshold: float, *, absolute: bool = False) -> np.ndarray:
    """Like :func:`compare`, as int8 codes :data:`TRUE`, :data:`FALSE`, :data:`UNKNOWN`."""
    v = np.abs(values) if absolute else values
    with np.errstate(invalid="ignore"):
        result = OPERATORS[op](v, threshold)
    return np.where(np.isnan(v), UNKNOWN, np.where(result, TRUE, FALSE)).astype(np.int8)
