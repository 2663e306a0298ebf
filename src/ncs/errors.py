"""Exceptions and warnings raised by ncs.

Every exception keeps all of its state in ``args`` so it survives pickling across
process boundaries (Dask workers, multiprocessing).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

__all__ = [
    "NcsError",
    "NcsWarning",
    "Problem",
    "UnknownCriteriaError",
    "ValidationError",
]

#: How many problems the exception message lists before "... and N more".
_MESSAGE_PROBLEMS = 5


class Problem(NamedTuple):
    """One problem found in an input table.

    Attributes
    ----------
    row : int or None
        Zero-based position of the offending row in the input table, or ``None``
        when the problem concerns the whole table (e.g. a missing column).
    column : str or None
        Column concerned, or ``None``.
    message : str
        What is wrong, in words. Never contains patient values.
    """

    row: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = []
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        prefix = ", ".join(where)
        return f"{prefix}: {self.message}" if prefix else self.message


class NcsError(Exception):
    """Base class of the errors ncs raises on purpose."""


class ValidationError(NcsError, ValueError):
    """The input table is invalid; ``problems`` lists every problem found.

    Parameters
    ----------
    problems : iterable of Problem or (row, column, message) tuples
        All problems found, in input order.
    """

    def __init__(self, problems: Iterable[Problem | Sequence[object]]) -> None:
        items = tuple(p if isinstance(p, Problem) else Problem(*p) for p in problems)
        super().__init__(items)
        self.problems: list[Problem] = list(items)

    def __str__(self) -> str:
        n = len(self.problems)
        head = "; ".join(str(p) for p in self.problems[:_MESSAGE_PROBLEMS])
        more = f"; ... and {n - _MESSAGE_PROBLEMS} more" if n > _MESSAGE_PROBLEMS else ""
        noun = "problem" if n == 1 else "problems"
        return f"{n} {noun} in the input: {head}{more}"

    def __reduce__(self):  # keep pickling exact (problems as plain tuples)
        return (type(self), (tuple(tuple(p) for p in self.problems),))


class UnknownCriteriaError(NcsError, KeyError):
    """A criterion or scheme id that is not in :data:`ncs.CRITERIA`."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0]) if self.args else ""


class NcsWarning(UserWarning):
    """Suspicious but valid input (e.g. amplitudes that look like microvolts)."""
