"""Counters for the fuzz suite, printed at the end of the run (the closing note's numbers).

``examples``: inputs tried; ``valid``/``validation_errors``: how each ended; ``other_errors``:
any other exception (a test fails on the first one, so a green run has 0); ``rows_in`` and
``rows_lost``: input rows of completed analyses and those missing from the result.
Set ``NCS_FUZZ_STATS=path.json`` to also write them to a file.
"""

from __future__ import annotations

import json
import os
from collections import Counter

import pytest

STATS: Counter = Counter()


@pytest.fixture
def fuzz_stats() -> Counter:
    return STATS


def pytest_terminal_summary(terminalreporter) -> None:
    if not STATS:
        return
    terminalreporter.write_sep("-", "fuzz statistics")
    for key in sorted(STATS):
        terminalreporter.write_line(f"{key}: {STATS[key]}")
    path = os.environ.get("NCS_FUZZ_STATS")
    if path:
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(dict(STATS), fh, indent=2, sort_keys=True)
