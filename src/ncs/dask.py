"""Run the analysis on Dask DataFrames, partition-wise, on one machine or a cluster.

``import ncs`` never imports Dask; this module imports it when a function is called
(install with ``pip install 'ncs-edx[dask]'``).

The partition-invariance of the analysis (a patient's result depends on that patient's
rows only) is what makes this correct: rows are shuffled so that every patient lies in one
partition, each partition is analysed with :func:`ncs.analyze`, and the tables are
concatenated. Row numbers (``distal_row``, ``proximal_row``, ``rejected.input_row``) are
positions in the input Dask DataFrame, as on one machine.

On a cluster the call is the same; only the client changes::

    from distributed import Client
    import dask.dataframe as dd
    import ncs.dask

    client = Client("tcp://scheduler-host:8786")       # or a dask-jobqueue / Kubernetes cluster
    ddf = dd.read_parquet("s3://bucket/cohort/*.parquet")   # storage every worker can read
    out = ncs.dask.analyze(ddf, criteria=["katz2002", "bouche1995"])
    out["patients"].to_parquet("s3://bucket/results/patients/")
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from ncs.criteria import Criterion

__all__ = ["analyze"]

_ROW = "__ncs_row"
_ANCHOR = "__ncs_anchor"
_KEY = "__ncs_key"


def _with_keys(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows with their shuffle key (the patient id, or for a row without one the
    patient of the row beside it: :func:`ncs.schema.stand_in_patients`) and the row each
    is placed after."""
    from ncs.schema import stand_in_patients

    patients, anchor = stand_in_patients(frame)
    rows = frame[_ROW].to_numpy(dtype=np.int64)
    after = np.where(anchor >= 0, rows[np.maximum(anchor, 0)], rows)
    return frame.assign(**{_KEY: patients.astype("string").fillna(""), _ANCHOR: after})


def _analyze_partition(
    frame: pd.DataFrame,
    criteria: Any,
    units: Mapping[str, str] | None,
    reasons: bool,
) -> dict[str, pd.DataFrame]:
    from ncs.analyze import analyze as analyze_frame
    from ncs.batch import renumber

    # input order, each row without a patient id right after the row that names its patient
    # (as on one machine, where that row is beside it: ncs.schema.stand_in_patients)
    frame = frame.sort_values([_ANCHOR, _ROW], kind="stable")
    rows = frame[_ROW].to_numpy(dtype=np.int64)
    sites = frame.drop(columns=[_ROW, _ANCHOR]).reset_index(drop=True)
    result = analyze_frame(sites, criteria=criteria, units=units, errors="collect", reasons=reasons)
    return renumber(result, rows)


def analyze(
    ddf: Any,
    criteria: str | Criterion | Iterable[str | Criterion] | None = None,
    *,
    units: Mapping[str, str] | None = None,
    reasons: bool = False,
    npartitions: int | None = None,
) -> dict[str, Any]:
    """Analyse a Dask DataFrame of sites; one Dask DataFrame out per table.

    Parameters
    ----------
    ddf : dask.dataframe.DataFrame
        Tidy sites table (one row per stimulation site), any partitioning.
    criteria : str, Criterion or iterable, optional
        As for :func:`ncs.analyze`.
    units : mapping, optional
        As for :func:`ncs.analyze`.
    reasons : bool, default False
        Build the sentences, ``findings.reason`` and ``patients.evidence`` (costly at
        scale; see :func:`ncs.analyze.render_reasons` and
        :func:`ncs.analyze.render_evidence`).
    npartitions : int, optional
        Partitions after the shuffle by ``patient_id`` (default: as many as ``ddf``).

    Returns
    -------
    dict of str to dask.dataframe.DataFrame
        ``segments``, ``findings``, ``nerves``, ``patients`` and ``rejected`` (invalid rows
        are set aside per nerve, as with ``errors="collect"``). Lazy: compute them together
        (``dask.compute(*out.values())``) so each partition is analysed once. Row order
        differs from the single-machine result; sort by the key columns to compare.

    Notes
    -----
    Rows are first numbered (a cumulative sum over partitions), then shuffled on
    ``patient_id`` so that no patient, hence no nerve, is split between partitions. A row
    without a patient id goes with the patient of the row before (else after) it, as on one
    machine (:func:`ncs.schema.stand_in_patients`), and is analysed right after that row.
    (Two such rows beside one row, before and after it, are the one case where the second
    may be placed otherwise than on one machine.)
    """
    try:
        import dask
        import dask.dataframe as dd
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "dask is needed for this feature; install it with pip install 'ncs-edx[dask]'"
        ) from err
    from ncs.batch import empty_tables

    meta = empty_tables(criteria, reasons=reasons)
    numbered = ddf.assign(**{_ROW: 1})
    numbered[_ROW] = numbered[_ROW].cumsum() - 1
    # A row without a patient id is invalid; it goes with the patient of the row beside it
    # (one row of each neighbouring partition is seen), whose nerves it may be a site of.
    meta_keys = numbered._meta.assign(
        **{_KEY: pd.Series([], dtype="string"), _ANCHOR: pd.Series([], dtype=np.int64)}
    )
    numbered = numbered.map_overlap(_with_keys, before=1, after=1, meta=meta_keys)
    shuffled = numbered.shuffle(on=_KEY, npartitions=npartitions or ddf.npartitions).drop(
        columns=[_KEY]
    )
    parts = [
        dask.delayed(_analyze_partition, pure=True)(part, criteria, units, reasons)
        for part in shuffled.to_delayed()
    ]
    return {
        name: dd.from_delayed([p[name] for p in parts], meta=meta[name], verify_meta=False)
        for name in meta
    }
