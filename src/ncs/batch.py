"""Cohort-scale analysis: files larger than memory, processed patient-complete in chunks.

:func:`analyze_file` reads a sites table (CSV, or Parquet with ``ncs-edx[parquet]``) in
chunks of rows, never splits a patient between two analyses (the trailing patient of each
chunk is carried over to the next), and appends every output table to files in an output
directory. Invalid rows do not stop the run: each nerve with an invalid row is set aside in
the ``rejected`` table with its problems (``errors="collect"`` of :func:`ncs.analyze`), so
that every input row is accounted for::

    input rows = rows used in segments + rows of single-site nerves + rejected rows

(:func:`account` checks it on an :class:`~ncs.Analysis`).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from ncs._optional import has_module
from ncs.analyze import Analysis, analyze
from ncs.criteria import Criterion
from ncs.errors import Problem, ValidationError
from ncs.io import (
    _TEXT_COLUMNS,
    _decimal_commas,
    _require,
    refuse_same_headers,
    safe_for_spreadsheet,
)
from ncs.privacy import pseudonymize
from ncs.schema import nerve_keys

__all__ = ["FILES", "TABLES", "account", "analyze_file", "empty_tables", "renumber"]

TABLES: tuple[str, ...] = ("segments", "findings", "nerves", "patients", "rejected")
"""The result tables of a chunk (:func:`renumber`, ``ncs.dask``)."""

FILES: tuple[str, ...] = (*TABLES, "warnings")
"""The tables :func:`analyze_file` writes, one file each: every warning is in the output,
not only on standard error."""

#: Columns of the warnings file (``visit`` always: the chunks need one layout).
_WARNING_FILE_COLUMNS: tuple[str, ...] = (
    "code",
    "message",
    "patient_id",
    "visit",
    "nerve",
    "side",
    "site",
    "column",
    "input_row",
)

#: How a message names a row of the analysed frame ("(row 3, row 17)").
_ROW_IN_MESSAGE = r"\brow (\d+)\b"

#: Rows per chunk when none is given: about 1 GB of working memory per chunk.
DEFAULT_CHUNK_ROWS = 1_000_000


#: How a problem names another row of the analysed frame ("(row 12)").
_NAMED_ROW = r"\(row (\d+)\)"


def renumber(result: Analysis, rows: np.ndarray) -> dict[str, pd.DataFrame]:
    """The result tables with row numbers mapped from positions in the analysed frame.

    Parameters
    ----------
    result : Analysis
        Analysis of a slice of a larger table.
    rows : numpy.ndarray of int
        ``rows[i]`` is the row number, in the larger table, of position ``i`` of the slice.

    Returns
    -------
    dict of str to pandas.DataFrame
        :data:`TABLES`, with ``segments.distal_row``/``proximal_row``,
        ``rejected.input_row`` and the rows named in ``rejected.problems`` ("another row
        of this nerve is invalid (row 12)") renumbered.
    """
    rows = np.asarray(rows, dtype=np.int64)
    seg = result.segments.copy(deep=False)
    for col in ("distal_row", "proximal_row"):
        seg[col] = rows[seg[col].to_numpy()]
    rejected = result.rejected.copy(deep=False)
    rejected["input_row"] = rows[rejected["input_row"].to_numpy()]
    if len(rejected):
        rejected["problems"] = rejected["problems"].str.replace(
            _NAMED_ROW, lambda m: f"(row {int(rows[int(m.group(1))])})", regex=True
        )
    return {
        "segments": seg,
        "findings": result.findings,
        "nerves": result.nerves,
        "patients": result.patients,
        "rejected": rejected,
    }


def _warnings_file(warnings_table: pd.DataFrame, rows: np.ndarray) -> pd.DataFrame:
    """A chunk's warnings in the file's layout, their rows (column and message) renumbered
    to positions in the whole file."""
    out = pd.DataFrame(
        {
            c: warnings_table[c]
            if c in warnings_table.columns
            else pd.array([None] * len(warnings_table), dtype="string")
            for c in _WARNING_FILE_COLUMNS
        }
    )
    row = out["input_row"].to_numpy(dtype=np.float64, na_value=np.nan)
    known = ~np.isnan(row)
    placed = np.full(len(out), np.nan)
    placed[known] = rows[row[known].astype(np.int64)]
    out["input_row"] = pd.array(np.where(known, placed, np.nan)).astype("Int64")
    if len(out):
        out["message"] = (
            out["message"]
            .astype("string")
            .str.replace(_ROW_IN_MESSAGE, lambda m: f"row {int(rows[int(m.group(1))])}", regex=True)
        )
    return out


def empty_tables(
    criteria: str | Criterion | Iterable[str | Criterion] | None = None,
    *,
    reasons: bool = False,
) -> dict[str, pd.DataFrame]:
    """Zero-row versions of the :data:`TABLES` (their columns and dtypes), e.g. Dask ``meta``."""
    from ncs.schema import REQUIRED

    text = {"patient_id", "nerve", "side", "site"}
    empty = pd.DataFrame(
        {c: pd.array([], dtype="string") if c in text else np.zeros(0) for c in REQUIRED}
    )
    result = analyze(empty, criteria=criteria, errors="collect", reasons=reasons)
    return renumber(result, np.zeros(0, dtype=np.int64))


def account(result: Analysis) -> dict[str, int]:
    """Where every input row went.

    Returns
    -------
    dict
        ``n_input_rows``, ``n_rows_in_segments`` (distinct rows used by at least one segment;
        absent responses included), ``n_rows_single_site`` (rows of nerves stimulated at one
        site only), ``n_rows_rejected``, and ``balanced``: whether the three parts add up to
        the input.
    """
    seg = result.segments
    used = np.union1d(seg["distal_row"].to_numpy(), seg["proximal_row"].to_numpy())
    sites = result.sites
    nerve_rows = sites.groupby(list(nerve_keys(sites.columns)), sort=False, observed=True)[
        "input_row"
    ].transform("size")
    n_single = int((nerve_rows.to_numpy() == 1).sum())
    n_input = int(result.meta.get("n_input_rows", len(sites) + len(result.rejected)))
    out = {
        "n_input_rows": n_input,
        "n_rows_in_segments": int(used.size),
        "n_rows_single_site": n_single,
        "n_rows_rejected": len(result.rejected),
    }
    out["balanced"] = int(out["n_rows_in_segments"] + n_single + out["n_rows_rejected"] == n_input)
    return out


# --------------------------------------------------------------------------------------
# Reading in chunks
# --------------------------------------------------------------------------------------


#: How a CSV file is read by default: only an empty cell is missing here, so that words
#: such as ``n/a`` and ``NR`` are read by one rule in validation (:mod:`ncs.cells`).
_CSV_OPTIONS: dict[str, Any] = {"keep_default_na": False, "na_values": [""], "index_col": False}


def _csv_chunks(
    path: Path, chunk_rows: int, handle: IO[bytes], read_options: Mapping[str, Any] | None = None
) -> Iterator[pd.DataFrame]:
    options = {**_CSV_OPTIONS, **(read_options or {})}
    if path.suffix.lower() == ".tsv":
        options.setdefault("sep", "\t")
    _check_header(handle, options)
    reader = pd.read_csv(
        handle,
        chunksize=chunk_rows,
        dtype={c: "string" for c in _TEXT_COLUMNS},
        skipinitialspace=True,
        **options,
    )
    with reader:
        for chunk in reader:  # indexed by position in the file (0 = first data row)
            # a row of separators only (";;;;", a spreadsheet's empty row saved as CSV) is a
            # blank line, as ncs.read_sites reads it: no data to keep or to judge
            blank = chunk.isna().all(axis=1).to_numpy()
            if blank.any():
                chunk = chunk[~blank]
            # decimal commas in columns that also hold words (8,2 next to NR)
            yield _decimal_commas(chunk) if options.get("decimal") == "," else chunk


def _check_header(handle: IO[bytes], options: Mapping[str, Any]) -> None:
    """Two columns with the same header (or read as the same column) are an error naming
    both, as :func:`ncs.read_sites` says (pandas would rename the second ``x.1``)."""
    start = handle.tell()
    keep = ("sep", "encoding", "skiprows", "quotechar", "escapechar", "comment")
    header = pd.read_csv(
        handle,
        header=None,
        nrows=1,
        dtype=str,
        keep_default_na=False,
        **{k: v for k, v in options.items() if k in keep},
    )
    handle.seek(start)
    cells = [str(c) for c in header.iloc[0].tolist()] if len(header) else []
    refuse_same_headers(cells, [str(k + 1) for k in range(len(cells))], "of the header line")


def _parquet_chunks(path: Path, chunk_rows: int) -> Iterator[pd.DataFrame]:
    pq = _require("pyarrow.parquet", "parquet")
    file = pq.ParquetFile(path)
    offset = 0
    for batch in file.iter_batches(batch_size=chunk_rows):
        frame = batch.to_pandas()  # indexed by position in the file, as CSV chunks are
        frame.index = pd.RangeIndex(offset, offset + len(frame))
        offset += len(frame)
        yield frame


class _Progress:
    """A one-line progress bar on stderr, drawn only when stderr is a terminal."""

    def __init__(self, total: float, unit: str, enabled: bool | None) -> None:
        stream = sys.stderr
        self.enabled = stream.isatty() if enabled is None else enabled
        self.total = max(float(total), 1.0)
        self.unit = unit
        self.start = time.perf_counter()
        self.last = 0.0

    def update(self, done: float, n_rows: int, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if not force and now - self.last < 0.2:
            return
        self.last = now
        frac = min(done / self.total, 1.0)
        width = 30
        bar = "#" * int(frac * width)
        rate = n_rows / max(now - self.start, 1e-9)
        sys.stderr.write(f"\rncs [{bar:<{width}}] {frac:6.1%}  {n_rows:,} rows  {rate:,.0f} rows/s")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")
            sys.stderr.flush()


# --------------------------------------------------------------------------------------
# Writing incrementally
# --------------------------------------------------------------------------------------


class _Writer:
    """Appends DataFrames to one file per table (Parquet or CSV)."""

    def __init__(self, directory: Path, fmt: str, schemas: Mapping[str, pd.DataFrame]) -> None:
        self.directory = directory
        self.fmt = fmt
        self.schemas = schemas
        self.writers: dict[str, Any] = {}
        self.counts = dict.fromkeys(schemas, 0)

    def path(self, table: str) -> Path:
        return self.directory / f"{table}.{self.fmt}"

    def write(self, table: str, frame: pd.DataFrame) -> None:
        self.counts[table] += len(frame)
        if self.fmt == "parquet":
            pa = _require("pyarrow", "parquet")
            pq = _require("pyarrow.parquet", "parquet")
            if table not in self.writers:
                schema = pa.Schema.from_pandas(self.schemas[table], preserve_index=False)
                # categoricals differ in categories from chunk to chunk: store plain strings
                fields = [
                    f.with_type(pa.string()) if pa.types.is_dictionary(f.type) else f
                    for f in schema
                ]
                schema = pa.schema(fields, metadata=schema.metadata)
                self.writers[table] = pq.ParquetWriter(self.path(table), schema)
            writer = self.writers[table]
            if len(frame):
                arrow = pa.Table.from_pandas(frame, preserve_index=False)
                arrow = arrow.select(writer.schema.names).cast(writer.schema)
                writer.write_table(arrow)
        else:
            first = table not in self.writers
            if first:
                self.writers[table] = True
                safe_for_spreadsheet(self.schemas[table]).to_csv(self.path(table), index=False)
            if len(frame):
                safe_for_spreadsheet(frame).to_csv(
                    self.path(table), mode="a", header=False, index=False
                )

    def close(self) -> None:
        for table in self.schemas:
            if table not in self.writers:
                self.write(table, self.schemas[table])
        if self.fmt == "parquet":
            for writer in self.writers.values():
                writer.close()


def _patient_keys(frame: pd.DataFrame) -> np.ndarray:
    """Patient key per row as validation will read it (stripped text; missing -> None)."""
    if "patient_id" not in frame.columns:
        raise ValidationError([Problem(None, "patient_id", "required column is missing")])
    text = frame["patient_id"].astype("string").str.strip()
    return text.where(text != "").to_numpy(dtype=object, na_value=None)


def _runs(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start positions and values of runs of equal keys."""
    n = len(keys)
    if n == 0:
        return np.zeros(0, dtype=np.int64), keys
    change = np.ones(n, dtype=bool)
    change[1:] = keys[1:] != keys[:-1]
    starts = np.flatnonzero(change)
    return starts, keys[starts]


#: Output formats of :func:`analyze_file`.
FORMATS: tuple[str, ...] = ("parquet", "csv")


def _check_options(*, chunk_rows: object, format: object) -> None:
    """Keyword arguments checked like the input: a ValidationError naming the option (a
    chunk of no rows would never end; a float or text is a slip, never rounded)."""
    problems = []
    integer = isinstance(chunk_rows, int | np.integer) and not isinstance(chunk_rows, bool)
    if not integer or chunk_rows < 1:
        problems.append(
            Problem(
                None, "chunk_rows", f"chunk_rows must be a whole number >= 1, got {chunk_rows!r}"
            )
        )
    if format is not None and format not in FORMATS:
        problems.append(
            Problem(None, "format", f"format must be one of {', '.join(FORMATS)}, got {format!r}")
        )
    if problems:
        raise ValidationError(problems)


def analyze_file(
    path: str | os.PathLike[str],
    output_dir: str | os.PathLike[str],
    *,
    criteria: str | Criterion | Iterable[str | Criterion] | None = None,
    units: Mapping[str, str] | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    format: str | None = None,
    reasons: bool = False,
    progress: bool | None = None,
    pseudonymize_key: bytes | str | None = None,
    read_options: Mapping[str, Any] | None = None,
) -> dict[str, int]:
    """Analyse a sites file chunk by chunk, patient-complete, writing every table.

    Parameters
    ----------
    path : path-like
        ``.csv`` (``.txt``/``.tsv``) or ``.parquet`` sites table, **grouped by patient**:
        all rows of a patient are contiguous (any order of patients). Sort a file that is
        not, e.g. ``duckdb -c "COPY (SELECT * FROM 'in.csv' ORDER BY patient_id) TO
        'sorted.parquet'"``, or with pandas when it fits in memory.
    output_dir : path-like
        Directory (created if needed) that receives ``segments``, ``findings``, ``nerves``,
        ``patients``, ``rejected`` and ``warnings`` as ``<table>.parquet`` or
        ``<table>.csv`` (:data:`FILES`; the warnings with the rows they name as positions in
        the file).
    criteria : str, Criterion or iterable, optional
        As for :func:`ncs.analyze`.
    units : mapping, optional
        As for :func:`ncs.analyze`.
    chunk_rows : int, default 1_000_000
        Rows read per chunk; memory grows with it (about 1 KiB per row at peak).
    format : {"parquet", "csv"}, optional
        Output format; default Parquet when pyarrow is installed, else CSV.
    reasons : bool, default False
        Write the sentences, ``findings.reason`` and ``patients.evidence`` (slow on large
        cohorts). Without them the patients keep their evidence labels and counts
        (``evidence_nerve``, ``evidence_segment``, ``evidence_rule``,
        ``n_positive_findings``); ``render_reasons`` and ``render_evidence`` render
        sentences afterwards (``from ncs.analyze import render_reasons``: ``ncs.analyze``
        itself is the function).
    progress : bool, optional
        Draw a progress bar on stderr; default: only when stderr is a terminal.
    pseudonymize_key : bytes or str, optional
        Replace patient ids by keyed pseudonyms (:func:`ncs.privacy.pseudonymize`) before
        each chunk is analysed, so that no output file holds a real id.
    read_options : mapping, optional
        CSV only: options for :func:`pandas.read_csv` (``sep``, ``decimal``, ``encoding``,
        ``skiprows``), e.g. from :func:`ncs.dialect.detect_csv`. Only an empty cell is
        missing unless they say otherwise.

    Returns
    -------
    dict of str to int
        Rows written per table (``segments`` ... ``warnings``), ``n_input_rows``,
        ``n_rows_in_segments``, ``n_rows_single_site``, ``n_rows_rejected`` and
        ``n_chunks``.

    Raises
    ------
    ValidationError
        When ``chunk_rows`` is not a whole number >= 1 or ``format`` is unknown, or the file
        is missing, unreadable, lacks a required column, or is not grouped by patient.
        Nothing is left in ``output_dir`` then: tables are written to a temporary directory
        and moved into place only when the whole file has been analysed.

    Notes
    -----
    Row numbers in the output (``distal_row``, ``proximal_row``, ``rejected.input_row``)
    are positions in the whole file (0 = first data row). A CSV row of separators only
    (``;;;;``, an empty spreadsheet row saved as CSV) is a blank line, as
    :func:`ncs.read_sites` reads it: it is skipped, counted in the positions of the rows
    after it, and is not an input row.
    """
    src = Path(path)
    _check_options(chunk_rows=chunk_rows, format=format)
    if not src.is_file():
        raise ValidationError([Problem(None, None, f"no such file: {src.name}")])
    fmt = format or ("parquet" if has_module("pyarrow") else "csv")
    suffix = src.suffix.lower()
    out_dir = Path(output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    schemas = empty_tables(criteria, reasons=reasons)
    schemas["warnings"] = _warnings_file(
        pd.DataFrame({c: pd.array([], dtype="string") for c in _WARNING_FILE_COLUMNS}).astype(
            {"input_row": "Int64"}
        ),
        np.zeros(0, dtype=np.int64),
    )
    tmp = Path(tempfile.mkdtemp(prefix=".ncs-partial-", dir=out_dir))
    writer = _Writer(tmp, fmt, schemas)
    totals = {"n_input_rows": 0, "n_rows_in_segments": 0, "n_rows_single_site": 0}
    totals["n_chunks"] = 0
    handle = None
    try:
        if suffix in (".csv", ".txt", ".tsv"):
            handle = open(src, "rb")  # noqa: SIM115 - closed in finally
            chunks = _csv_chunks(src, chunk_rows, handle, read_options)
            bar = _Progress(src.stat().st_size, "bytes", progress)
        elif suffix == ".parquet":
            pq = _require("pyarrow.parquet", "parquet")
            bar = _Progress(pq.ParquetFile(src).metadata.num_rows, "rows", progress)
            chunks = _parquet_chunks(src, chunk_rows)
        else:
            raise ValidationError(
                [Problem(None, None, f"unsupported file type {suffix!r}; use .csv or .parquet")]
            )

        def run(frame: pd.DataFrame, rows: np.ndarray) -> None:
            if pseudonymize_key is not None:
                frame = pseudonymize(frame, pseudonymize_key)
            result = analyze(
                frame, criteria=criteria, units=units, errors="collect", reasons=reasons
            )
            for name, table in renumber(result, rows).items():
                writer.write(name, table)
            writer.write("warnings", _warnings_file(result.warnings, rows))
            counts = account(result)
            for key in ("n_input_rows", "n_rows_in_segments", "n_rows_single_site"):
                totals[key] += counts[key]
            totals["n_chunks"] += 1

        done: set[str] = set()
        carry: pd.DataFrame | None = None
        carry_rows = np.zeros(0, dtype=np.int64)
        offset = 0
        try:
            for chunk in chunks:
                rows = chunk.index.to_numpy(dtype=np.int64)  # positions in the file
                offset += len(chunk)
                if carry is not None and len(carry):
                    chunk = pd.concat([carry, chunk], ignore_index=True)
                    rows = np.concatenate([carry_rows, rows])
                else:
                    chunk = chunk.reset_index(drop=True)
                keys = _patient_keys(chunk)
                named = np.flatnonzero(~pd.isna(keys))  # rows without a patient are rejected
                starts, values = _runs(keys[named])
                starts = named[starts]
                seen = values
                if len(pd.unique(seen)) != len(seen) or not done.isdisjoint(seen):
                    seen = list(seen)
                    again = next(
                        int(rows[s])
                        for s, v in zip(starts, values, strict=True)
                        if v is not None and (v in done or seen.count(v) > 1)
                    )
                    raise ValidationError(
                        [
                            Problem(
                                again,
                                "patient_id",
                                "the file is not grouped by patient: this patient's rows "
                                "are not contiguous; sort the file by patient_id first",
                            )
                        ]
                    )
                # the last patient may continue in the next chunk
                cut = int(starts[-1]) if len(starts) else len(chunk)
                head = chunk.iloc[:cut]
                done.update(values[:-1])
                if len(head):
                    run(head, rows[:cut])
                carry, carry_rows = chunk.iloc[cut:], rows[cut:]
                bar.update(handle.tell() if handle is not None else offset, offset)
            if carry is not None and len(carry):
                run(carry.reset_index(drop=True), carry_rows)
        except (pd.errors.ParserError, UnicodeDecodeError) as err:
            raise ValidationError(
                [Problem(None, None, f"cannot read {suffix[1:].upper()}: {type(err).__name__}")]
            ) from None
        bar.update(bar.total, offset, force=True)
        bar.close()
        writer.close()
        for table in FILES:
            os.replace(writer.path(table), out_dir / writer.path(table).name)
    finally:
        if handle is not None:
            handle.close()
        shutil.rmtree(tmp, ignore_errors=True)
    counts = dict(writer.counts)
    counts.update(totals)
    counts["n_rows_rejected"] = counts["rejected"]
    return counts
