"""Shared test helpers and hypothesis profiles."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "data" / "fixtures"
#: The five example studies of the seed criteria (the worked numbers in docs/compare.md).
SEED_FIXTURES = (
    "als_axonal.csv",
    "cidp_dispersion.csv",
    "missing_measures.csv",
    "mmn_forearm_block.csv",
    "normal.csv",
)

#: Arrow-backed dtypes need pyarrow (an optional extra: the core suite runs without it).
NEEDS_ARROW = pytest.mark.skipif(
    importlib.util.find_spec("pyarrow") is None, reason="pyarrow not installed"
)

settings.register_profile(
    "ci", max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "dev", max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "fuzz", max_examples=10_000, deadline=None, suppress_health_check=list(HealthCheck)
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


def two_sites(
    amp=(10.0, 5.0),
    area=(30.0, 15.0),
    dur=(6.0, 6.2),
    *,
    nerve="ulnar",
    sites=("wrist", "below elbow"),
    latency=(3.0, 7.0),
    distance=(70.0, 220.0),
    response=("present", "present"),
    patient="P1",
    side="R",
) -> pd.DataFrame:
    """A one-segment study: distal and proximal values given as (distal, proximal) pairs."""
    return pd.DataFrame(
        {
            "patient_id": [patient, patient],
            "nerve": [nerve, nerve],
            "side": [side, side],
            "site": list(sites),
            "response": list(response),
            "latency_ms": list(latency),
            "amplitude_mv": list(amp),
            "area_mvms": list(area),
            "duration_ms": list(dur),
            "distance_mm": list(distance),
        }
    )


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES
