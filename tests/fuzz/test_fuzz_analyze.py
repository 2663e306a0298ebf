"""Fuzzing analyze: any table gives a complete result or a ValidationError, and no row is lost.

The ``ci`` hypothesis profile runs a few hundred examples per test in every CI run; the
``fuzz`` profile runs 10,000 per test::

    HYPOTHESIS_PROFILE=fuzz python -m pytest tests/fuzz
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings

import ncs
from ncs._codes import CATEGORY_COLUMNS
from ncs.batch import account
from ncs.schema import NERVE_KEYS
from ncs.testing.strategies import SECRET_PREFIX, messy_sites

CRITERIA = [None, "all"]
_fixture_ok = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])


def _run(sites: pd.DataFrame, **kwargs):
    """analyze() with its warnings recorded: (result or the ValidationError, warnings)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = ncs.analyze(sites, **kwargs)
        except ncs.ValidationError as err:
            result = err
    return result, [str(w.message) for w in caught]


def _no_patient_values(err_or_none, messages) -> None:
    texts = list(messages)
    if err_or_none is not None:
        texts.append(str(err_or_none))
        texts.extend(p.message for p in err_or_none.problems)
    for text in texts:
        assert SECRET_PREFIX not in text, "a patient id leaked into a message"


def _check_categories(result: ncs.Analysis) -> None:
    """Every text key column's categories are exactly the sorted values present."""
    for name in ("sites", "segments", "findings", "nerves", "patients"):
        frame = getattr(result, name)
        for col in frame.columns:
            if col not in CATEGORY_COLUMNS:
                continue
            values = frame[col]
            assert isinstance(values.dtype, pd.CategoricalDtype), (name, col)
            present = sorted(set(values.dropna().astype(str)))
            assert list(values.cat.categories) == present, (name, col)


def _check_complete(result: ncs.Analysis, sites: pd.DataFrame) -> None:
    n = len(sites)
    assert len(result.sites) == n
    assert sorted(result.sites["input_row"].tolist()) == list(range(n))
    assert result.rejected.empty
    # every nerve appears in the nerves table under every scheme
    keys = result.sites[list(NERVE_KEYS)].astype(str).drop_duplicates()
    have = result.nerves[list(NERVE_KEYS)].astype(str).drop_duplicates()
    assert len(keys.merge(have, how="left", indicator=True).query("_merge == 'left_only'")) == 0
    assert len(result.findings) == len(result.segments) * len(result.criteria)
    assert account(result)["balanced"] == 1
    _check_categories(result)
    result.to_json()  # the whole result serialises (no NaN, no odd objects)


@pytest.mark.parametrize("criteria", CRITERIA, ids=["default", "all"])
@_fixture_ok
@given(sites=messy_sites())
def test_analyze_completes_or_raises_validation_error(sites, criteria, fuzz_stats):
    fuzz_stats["examples"] += 1
    try:
        outcome, messages = _run(sites, criteria=criteria)
    except Exception:
        fuzz_stats["other_errors"] += 1
        raise
    if isinstance(outcome, ncs.ValidationError):
        fuzz_stats["validation_errors"] += 1
        assert outcome.problems
        _no_patient_values(outcome, messages)
        return
    fuzz_stats["valid"] += 1
    fuzz_stats["rows_in"] += len(sites)
    lost = len(set(range(len(sites))) - set(outcome.sites["input_row"].tolist()))
    fuzz_stats["rows_lost"] += lost
    _no_patient_values(None, messages)
    _check_complete(outcome, sites)


@pytest.mark.parametrize("criteria", CRITERIA, ids=["default", "all"])
@_fixture_ok
@given(sites=messy_sites())
def test_collect_accounts_for_every_row(sites, criteria, fuzz_stats):
    fuzz_stats["examples"] += 1
    try:
        outcome, messages = _run(sites, criteria=criteria, errors="collect")
    except Exception:
        fuzz_stats["other_errors"] += 1
        raise
    if isinstance(outcome, ncs.ValidationError):
        fuzz_stats["validation_errors"] += 1
        # only problems of the whole table (a column missing) may stop a collecting run
        assert all(p.row is None for p in outcome.problems)
        _no_patient_values(outcome, messages)
        return
    fuzz_stats["valid"] += 1
    n = len(sites)
    used = outcome.sites["input_row"].to_numpy(dtype=np.int64)
    rejected = outcome.rejected["input_row"].to_numpy(dtype=np.int64)
    assert np.intersect1d(used, rejected).size == 0
    seen = set(used.tolist()) | set(rejected.tolist())
    fuzz_stats["rows_in"] += n
    fuzz_stats["rows_lost"] += len(set(range(n)) - seen)
    assert seen == set(range(n))
    assert account(outcome)["balanced"] == 1
    _check_categories(outcome)
    for text in messages:
        assert SECRET_PREFIX not in text
    outcome.to_json()
