"""ncs.dask on a distributed LocalCluster equals the single-machine analysis."""

from __future__ import annotations

import pandas as pd
import pytest

from ncs import simulate
from ncs.analyze import FINDING_KEYS

pytestmark = pytest.mark.slow

dask = pytest.importorskip("dask")
dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

SORT_KEYS = {
    "segments": ["distal_row", "proximal_row"],
    "findings": [*FINDING_KEYS, "criterion"],
    "nerves": ["patient_id", "nerve", "side", "scheme"],
    "patients": ["patient_id", "scheme"],
    "rejected": ["input_row"],
}


def _by_value(column: pd.Series) -> pd.Series:
    # partitions' categoricals are joined with the union of their categories, in partition
    # order: sort keys by their text, not by category position
    return column.astype(str) if isinstance(column.dtype, pd.CategoricalDtype) else column


def _sorted(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    return frame.sort_values(SORT_KEYS[table], kind="stable", key=_by_value).reset_index(drop=True)


@pytest.fixture(scope="module")
def cluster_client():
    # Process workers, 2 of them: the set-up a real cluster has (pickling across processes).
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def _cohort_with_bad_rows() -> pd.DataFrame:
    sites = simulate.cohort(120, seed=11)
    sites["latency_ms"] = sites["latency_ms"].astype(object)
    sites.loc[5, "latency_ms"] = "n/a"  # a bad value: its nerve is set aside
    sites.loc[40, "patient_id"] = None  # no patient: the row alone is set aside
    # a single-site nerve (kept, no segment)
    extra = sites.iloc[[0]].assign(
        patient_id="SINGLE", nerve="radial", site="forearm", site_order=0
    )
    return pd.concat([sites, extra], ignore_index=True)


def test_dask_on_local_cluster_equals_single_machine(cluster_client):
    import ncs.dask

    sites = _cohort_with_bad_rows()
    whole = ncs.analyze(sites, errors="collect", reasons=False)
    ddf = dd.from_pandas(sites, npartitions=5)
    out = ncs.dask.analyze(ddf)
    computed = dict(zip(out, dask.compute(*out.values()), strict=True))
    assert set(computed) == {"segments", "findings", "nerves", "patients", "rejected"}
    expected = {
        "segments": whole.segments,
        "findings": whole.findings,
        "nerves": whole.nerves,
        "patients": whole.patients,
        "rejected": whole.rejected,
    }
    assert len(whole.rejected) > 0
    for name, frame in expected.items():
        got = _sorted(computed[name], name)
        want = _sorted(frame, name)
        assert list(got.columns) == list(want.columns), name
        pd.testing.assert_frame_equal(got, want, check_categorical=False, obj=name)


def test_dask_never_splits_a_nerve(cluster_client):
    import ncs.dask

    sites = simulate.cohort(60, seed=4)
    ddf = dd.from_pandas(sites, npartitions=7)
    nerves = ncs.dask.analyze(ddf)["nerves"].compute()
    # every nerve appears once per scheme, with all of its sites
    assert not nerves.duplicated(["patient_id", "nerve", "side", "scheme"]).any()
    n_sites = sites.groupby(["patient_id", "nerve", "side"]).size()
    got = nerves[nerves["scheme"] == "katz2002"].set_index(["patient_id", "nerve", "side"])
    assert (got["n_sites"].sort_index().to_numpy() == n_sites.sort_index().to_numpy()).all()


def test_import_ncs_does_not_import_dask():
    import subprocess
    import sys

    code = "import sys, ncs, ncs.batch; print('dask' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
