"""Exceptions and warnings raised by ncs.

Every exception keeps all of its state in ``args`` so it survives pickling across
process boundaries (Dask workers, multiprocessing).
"""

from __future__ import annotations

import contextlib
import contextvars
import warnings
from collections.abc import Iterable, Iterator, Sequence
from typing import NamedTuple

__all__ = [
    "NcsError",
    "NcsWarning",
    "Problem",
    "UnknownCriteriaError",
    "ValidationError",
    "WarningRecord",
    "collect_warnings",
    "warn",
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
    """Suspicious but valid input (e.g. amplitudes that look like microvolts).

    Every warning an analysis emits is also part of its result (``Analysis.warnings``, the
    JSON, the report and the command line's tables), not only a Python warning.
    """


class WarningRecord(NamedTuple):
    """One warning as data: what, where.

    Attributes
    ----------
    code : str
        Stable id of the check (``implausible_amplitude``, ``side_typo``, ...).
    message : str
        What was seen and what to do, in words.
    rows : tuple of int
        Zero-based positions of the input rows concerned (empty for the whole table).
    column : str or None
        The column concerned, if one.
    """

    code: str
    message: str
    rows: tuple[int, ...] = ()
    column: str | None = None


_COLLECTOR: contextvars.ContextVar[list[WarningRecord] | None] = contextvars.ContextVar(
    "ncs_warning_collector", default=None
)


def warn(
    code: str,
    message: str,
    rows: Iterable[int] = (),
    column: str | None = None,
    *,
    stacklevel: int = 3,
) -> None:
    """Emit an :class:`NcsWarning` and record it for the result being built.

    The record goes to the innermost :func:`collect_warnings` of this thread or task (none:
    only the Python warning is emitted).
    """
    record = WarningRecord(code, message, tuple(int(r) for r in rows), column)
    collector = _COLLECTOR.get()
    if collector is not None:
        collector.append(record)
    warnings.warn(message, NcsWarning, stacklevel=stacklevel)


@contextlib.contextmanager
def collect_warnings() -> Iterator[list[WarningRecord]]:
    """Collect the warnings :func:`warn` emits in this block (thread- and task-local)."""
    records: list[WarningRecord] = []
    token = _COLLECTOR.set(records)
    try:
        yield records
    finally:
        _COLLECTOR.reset(token)
