"""Reference values (normal limits) per nerve and recording muscle, with their sources.

The shipped default table (``src/ncs/data/reference_values.csv``) is long-format: one row
per (nerve, muscle, parameter) with the value, whether it was confirmed against its source,
and the source. **None of the shipped defaults could be confirmed against the source tables**
(they are flagged ``verified=False``); laboratories should pass their own limits. Limits are
resolved per nerve in this order: a per-row column of the same name in the sites table, the
table passed as ``reference=``, the shipped default.
"""

from __future__ import annotations

import difflib
from functools import lru_cache
from importlib import resources

import numpy as np
import pandas as pd

from ncs.errors import Problem, ValidationError

__all__ = ["LIMIT_COLUMNS", "default_reference", "distal_duration_cutoffs", "reference_table"]

LIMIT_COLUMNS: tuple[str, ...] = ("dml_uln_ms", "amp_lln_mv", "cv_lln_m_s", "f_latency_uln_ms")
"""Reference limits used by the guideline schemes."""

DEFAULT_REFERENCE_NAME = "ncs default (Chen et al. 2016 / Preston & Shapiro 2013; unverified)"


@lru_cache(maxsize=1)
def _read_default() -> pd.DataFrame:
    with resources.files("ncs").joinpath("data", "reference_values.csv").open("rb") as fh:
        return pd.read_csv(fh, dtype={"nerve": str, "muscle": str, "parameter": str, "source": str})


def default_reference() -> pd.DataFrame:
    """The shipped default table in long format (nerve, muscle, parameter, value, source)."""
    return _read_default().copy()


@lru_cache(maxsize=1)
def _read_cutoffs() -> pd.DataFrame:
    with resources.files("ncs").joinpath("data", "distal_duration_cutoffs.csv").open("rb") as fh:
        return pd.read_csv(fh, dtype={"scheme": str, "nerve": str, "op": str, "source": str})


def distal_duration_cutoffs() -> pd.DataFrame:
    """Distal CMAP duration cut-offs per scheme, low-frequency filter and nerve (item g).

    Every row is flagged ``verified=False``: the filter setting behind each cut-off could
    not be confirmed in a guideline text (see the criteria reference).
    """
    return _read_cutoffs().copy()


def reference_table(reference: pd.DataFrame | None = None) -> tuple[pd.DataFrame, str]:
    """Wide reference table (one row per nerve [and muscle]) and a name for provenance.

    Parameters
    ----------
    reference : pandas.DataFrame, optional
        A lab's table: either wide (columns ``nerve`` [, ``muscle``] and any of
        :data:`LIMIT_COLUMNS`) or long (``nerve``, [``muscle``,] ``parameter``, ``value``).
        None uses the shipped default.

    Returns
    -------
    table : pandas.DataFrame
        Columns ``nerve``, ``muscle`` (may be missing = any muscle) and the limits.
    name : str
        What was used (recorded in every result).

    Raises
    ------
    ValidationError
        A column (or long-format parameter) that is not a limit, a note column (``source``,
        ``verified``, ``notes``, ...), ``nerve`` or ``muscle``: a misspelt limit is never
        dropped quietly; an unknown or missing nerve name.
    """
    if reference is None:
        return _default_wide(), DEFAULT_REFERENCE_NAME
    return _wide(reference)


@lru_cache(maxsize=1)
def _default_wide() -> pd.DataFrame:
    table, _ = _wide(None)
    return table


#: Columns a laboratory's reference table may carry besides the limits (kept out of the lookup).
_NOTE_COLUMNS = frozenset({"source", "sources", "verified", "notes", "note", "comment", "unit"})


def _wide(reference: pd.DataFrame | None) -> tuple[pd.DataFrame, str]:
    if reference is None:
        long, name = _read_default(), DEFAULT_REFERENCE_NAME
    else:
        long, name = reference, str(reference.attrs.get("name", "user reference table"))
    if "parameter" in long.columns and "value" in long.columns:
        long = long.copy()
        is_limit = long["parameter"].isin(LIMIT_COLUMNS).to_numpy()
        values, limit_problems = _limit_values(long["value"], "value")
        _raise_if(
            [p for p in limit_problems if p.row is not None and is_limit[p.row]],
            "parameter",
            long["parameter"],
        )
        long["value"] = values
        index = ["nerve", "muscle"] if "muscle" in long.columns else ["nerve"]
        wide = long.pivot_table(index=index, columns="parameter", values="value", aggfunc="first")
        wide = wide.reset_index()
        wide.columns.name = None
    else:
        wide = long.copy()
    problems = []
    if "nerve" not in wide.columns:
        problems.append(Problem(None, "nerve", "reference table needs a nerve column"))
    notes = [c for c in wide.columns if str(c).strip().lower() in _NOTE_COLUMNS]
    unknown = [c for c in wide.columns if c not in ("nerve", "muscle", *LIMIT_COLUMNS, *notes)]
    for c in unknown:  # a misspelt limit is never dropped quietly
        close = difflib.get_close_matches(str(c), LIMIT_COLUMNS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        what = "parameter" if "parameter" in long.columns else "column"
        problems.append(
            Problem(
                None,
                str(c),
                f"unknown {what} in the reference table{hint}; known: {', '.join(LIMIT_COLUMNS)}",
            )
        )
    limits = [c for c in LIMIT_COLUMNS if c in wide.columns]
    if not limits:
        problems.append(Problem(None, None, f"reference table has none of {list(LIMIT_COLUMNS)}"))
    if problems:
        raise ValidationError(problems)
    from ncs.names import normalize_nerve

    wide = wide.drop(columns=notes)
    names = normalize_nerve(wide["nerve"])
    bad = names.isna().to_numpy() & wide["nerve"].notna().to_numpy()
    if bad.any() or wide["nerve"].isna().any():
        raise ValidationError(
            [
                Problem(int(i), "nerve", f"unknown nerve name {wide['nerve'].iloc[i]!r}")
                if not pd.isna(wide["nerve"].iloc[i])
                else Problem(int(i), "nerve", "nerve name is missing")
                for i in np.flatnonzero(bad | wide["nerve"].isna().to_numpy())
            ]
        )
    wide["nerve"] = names.astype(object)
    if "muscle" not in wide.columns:
        wide["muscle"] = None
    wide["muscle"] = wide["muscle"].map(lambda m: None if pd.isna(m) else str(m).strip().upper())
    if "parameter" in long.columns and "value" in long.columns:
        for col in LIMIT_COLUMNS:  # checked above, row by row of the long table
            wide[col] = wide[col].astype(float) if col in wide else np.nan
    else:
        found: list[Problem] = []
        for col in LIMIT_COLUMNS:
            if col in wide:
                wide[col], col_problems = _limit_values(wide[col], col)
                found.extend(col_problems)
            else:
                wide[col] = np.nan
        _raise_if(found)
    return wide[["nerve", "muscle", *LIMIT_COLUMNS]], name


def _limit_values(cells: pd.Series, column: str) -> tuple[np.ndarray, list[Problem]]:
    """A column of limits read by the rule of :mod:`ncs.cells` (empty = no limit), and a
    problem for each cell that is not a number or not above 0: a limit of 0 or below would
    make every value abnormal (or none), so it is refused, never used."""
    from ncs.cells import parse_numbers

    read = parse_numbers(cells.reset_index(drop=True))
    problems = [
        Problem(int(i), column, f"reference limit: {read.errors[i]}")
        for i in np.flatnonzero(read.errors != None)  # noqa: E711 - elementwise
    ]
    with np.errstate(invalid="ignore"):
        not_positive = read.values <= 0
    problems.extend(
        Problem(int(i), column, "a reference limit must be above 0")
        for i in np.flatnonzero(not_positive)
    )
    return np.where(not_positive, np.nan, read.values), problems


def _raise_if(
    problems: list[Problem], name_column: str | None = None, names: pd.Series | None = None
) -> None:
    """Raise the reference table's problems (each naming its row), if any."""
    if not problems:
        return
    if names is not None:  # long format: say which parameter the row holds
        problems = [
            Problem(p.row, p.column, f"{p.message} ({name_column} {names.iloc[p.row]!r})")
            for p in problems
        ]
    raise ValidationError(sorted(problems, key=lambda p: (p.row or 0, p.column or "")))


def limits_for(
    nerves: np.ndarray,
    muscles: np.ndarray,
    table: pd.DataFrame,
) -> dict[str, np.ndarray]:
    """Limits per nerve: an exact (nerve, muscle) row first, else the nerve's muscle-less row,
    else the nerve's only row."""
    n = len(nerves)
    out = {c: np.full(n, np.nan) for c in LIMIT_COLUMNS}
    if n == 0:
        return out
    lookup = _lookup(table)
    nerve_codes, nerve_uniques = pd.factorize(np.asarray(nerves, dtype=object))
    raw_codes, raw_uniques = pd.factorize(np.asarray(muscles, dtype=object))
    cleaned = [str(m).strip().upper() for m in raw_uniques]  # per distinct muscle only
    muscle_codes, muscle_uniques = pd.factorize(np.array([*cleaned, None], dtype=object)[raw_codes])
    combined = nerve_codes.astype(np.int64) * (len(muscle_uniques) + 1) + (muscle_codes + 1)
    pairs, inverse = np.unique(combined, return_inverse=True)
    values = np.full((len(pairs), len(LIMIT_COLUMNS)), np.nan)
    for k, code in enumerate(pairs):  # one lookup per distinct (nerve, muscle)
        nerve = nerve_uniques[code // (len(muscle_uniques) + 1)]
        m = code % (len(muscle_uniques) + 1) - 1
        muscle = muscle_uniques[m] if m >= 0 else None
        row = lookup.get((nerve, muscle)) or lookup.get((nerve, None))
        if row is not None:
            values[k] = row
    for j, c in enumerate(LIMIT_COLUMNS):
        out[c] = values[inverse.reshape(-1), j]
    return out


_LOOKUPS: dict[int, dict] = {}


def _lookup(table: pd.DataFrame) -> dict:
    """(nerve, muscle) -> limits; (nerve, None) -> the muscle-less row, else the first row."""
    key = id(table)
    if key in _LOOKUPS and table is _default_wide():
        return _LOOKUPS[key]
    rows = table.to_dict("records")
    out: dict = {}
    first: dict = {}
    for r in rows:
        limits = tuple(float(r[c]) for c in LIMIT_COLUMNS)
        if r["muscle"] is None:
            out[(r["nerve"], None)] = limits  # a muscle-less row is the nerve's default
        else:
            out.setdefault((r["nerve"], r["muscle"]), limits)
            first.setdefault(r["nerve"], limits)
    for nerve, limits in first.items():
        out.setdefault((nerve, None), limits)
    if table is _default_wide():
        _LOOKUPS[key] = out
    return out
