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
import math
from collections.abc import Iterable, Mapping
from functools import lru_cache
from importlib import resources
from types import MappingProxyType

import numpy as np
import pandas as pd

from ncs.criteria import Criterion
from ncs.errors import Problem, ValidationError

__all__ = [
    "CUTOFF_COLUMNS",
    "CUTOFF_OPS",
    "CUTOFF_RANGE_MS",
    "LIMIT_COLUMNS",
    "LIMIT_RANGES",
    "default_reference",
    "distal_duration_cutoffs",
    "other_muscle",
    "out_of_range",
    "reference_table",
]

LIMIT_COLUMNS: tuple[str, ...] = ("dml_uln_ms", "amp_lln_mv", "cv_lln_m_s", "f_latency_uln_ms")
"""Reference limits used by the guideline schemes."""

LIMIT_RANGES: Mapping[str, tuple[float, float]] = MappingProxyType(
    {
        "dml_uln_ms": (0.1, 100.0),
        "amp_lln_mv": (0.01, 20.0),
        "cv_lln_m_s": (10.0, 150.0),
        "f_latency_uln_ms": (0.1, 200.0),
    }
)
"""Where a reference limit can lie, in its unit (both ends excluded from refusal: a limit
outside ``(low, high)`` is a ``ValidationError``). Not cited: these catch a limit typed in
another unit, which would otherwise turn every value of the nerve abnormal or normal (a
verdict flipped by a slip), and lie far from every laboratory's limits.

``dml_uln_ms``, ``f_latency_uln_ms``
    Limits are 3-7 ms (distal motor latency) and 25-65 ms (F wave); one in seconds lands
    below 0.1 ms (as :data:`ncs.plausibility.LATENCY_LOOKS_LIKE_S_MS` says of latencies),
    one in µs far above 100 or 200 ms.
``amp_lln_mv``
    Lower limits of normal are 1-8 mV; normal mean amplitudes stay below about 15 mV
    (tibial), so a lower limit above 20 mV is a value in µV (1,000 times too large); one
    below 0.01 mV (10 µV, noise) is a value in V.
``cv_lln_m_s``
    Lower limits are 38-52 m/s and the fastest motor velocities about 70-80 m/s; a limit
    above 150 m/s is in another unit (cm/s), one below 10 m/s too (cm/ms, dm/s).
"""


def out_of_range(values: np.ndarray, column: str) -> np.ndarray:
    """Which limits of ``column`` lie outside :data:`LIMIT_RANGES` (NaN: no limit, False)."""
    low, high = LIMIT_RANGES[column]
    with np.errstate(invalid="ignore"):
        return (values < low) | (values > high)


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
        shipped = pd.read_csv(fh, dtype={"scheme": str, "nerve": str, "op": str, "source": str})
    return _checked_cutoffs(shipped, ())


#: Columns of a distal-duration cut-off table, in the order :func:`distal_duration_cutoffs`
#: returns them (besides note columns such as ``verified`` and ``source``).
CUTOFF_COLUMNS: tuple[str, ...] = ("scheme", "lff_hz", "nerve", "cutoff_ms", "op")
#: Columns a cut-off table must have (``lff_hz`` blank = any filter; ``op`` blank = the
#: scheme's own operator).
_CUTOFF_REQUIRED: tuple[str, ...] = ("scheme", "nerve", "cutoff_ms")
#: Operators a cut-off row may give (those of the engine's ``distal_duration_cutoff_op``).
CUTOFF_OPS: tuple[str, ...] = (">", ">=", "<", "<=")
CUTOFF_RANGE_MS: tuple[float, float] = (0.1, 100.0)
"""Where a distal CMAP duration cut-off can lie, in ms (both ends excluded from refusal):
cut-offs are 6-10 ms; one written in seconds lands below 0.1 ms, one in µs far above 100 ms
(the same reasoning as ``dml_uln_ms`` in :data:`LIMIT_RANGES`). Not cited."""


def distal_duration_cutoffs(
    table: pd.DataFrame | None = None, *, criteria: Iterable[Criterion] = ()
) -> pd.DataFrame:
    """Distal CMAP duration cut-offs per scheme, low-frequency filter and nerve (item g).

    Every row of the shipped table is flagged ``verified=False``: the filter setting behind
    each cut-off could not be confirmed in a guideline text (see the criteria reference).

    Parameters
    ----------
    table : pandas.DataFrame, optional
        A laboratory's table, read and checked: columns ``scheme``, ``nerve``,
        ``cutoff_ms`` and optionally ``lff_hz`` (blank: any filter) and ``op`` (one of
        ``>``, ``>=``, ``<``, ``<=``; blank: the scheme's own), plus note columns
        (``verified``, ``source``, ``notes``, ...). None: the shipped table.
    criteria : iterable of Criterion, optional
        Criteria applied besides the built-in ones (custom schemes): those with a distal
        CMAP duration item may be named in ``scheme`` too.

    Returns
    -------
    pandas.DataFrame
        A copy with ``scheme`` as the scheme's id, ``nerve`` as its canonical name (as
        :func:`ncs.names.normalize_nerve`), ``lff_hz`` and ``cutoff_ms`` as floats (``lff_hz``
        NaN: any filter) and ``op`` as text (missing: the scheme's own), then the notes.

    Raises
    ------
    ValidationError
        Naming each problem's row (0-based, in the table as given) and column: a table that
        is not a DataFrame or has no rows; a missing or unknown column (a misspelt
        ``cutof_ms`` is never dropped quietly); a scheme that is not one with a distal CMAP
        duration item, or an unknown nerve (the known ones listed: a misspelt name would
        otherwise leave item g not applicable without a word); a missing, non-numeric,
        non-positive or implausible cut-off (:data:`CUTOFF_RANGE_MS`); a filter that is not
        a number above 0; an unknown operator; the same scheme, filter and nerve twice with
        other values; or one scheme and nerve with rows for both any filter and a given
        filter (which applies would depend on the row order).

    Examples
    --------
    >>> import pandas as pd
    >>> lab = pd.DataFrame({"scheme": ["ean2021_cidp"], "lff_hz": [2], "nerve": ["Median"],
    ...                     "cutoff_ms": [8.4]})
    >>> distal_duration_cutoffs(lab)[["scheme", "lff_hz", "nerve", "cutoff_ms"]].values.tolist()
    [['ean2021_cidp', 2.0, 'median', 8.4]]
    """
    if table is None:
        return _read_cutoffs().copy()
    return _checked_cutoffs(table, tuple(criteria))


def _duration_schemes(criteria: Iterable[Criterion]) -> dict[str, str]:
    """Ids of the schemes with a distal CMAP duration item, by lower-case id."""
    from ncs.registry import CRITERIA

    out = {}
    for crit in (*CRITERIA.values(), *criteria):
        if any(i.measure == DISTAL_DURATION for i in crit.nerve_items):
            out.setdefault(crit.id.lower(), crit.id)
    return out


#: The measure of the distal CMAP duration item (EFNS/PNS 2010, EAN/PNS 2021 item g).
DISTAL_DURATION = "distal_duration_ms"


def _checked_cutoffs(table: object, criteria: Iterable[Criterion]) -> pd.DataFrame:
    """A cut-off table read and checked (see :func:`distal_duration_cutoffs`)."""
    if not isinstance(table, pd.DataFrame):
        raise ValidationError(
            [
                Problem(
                    None,
                    None,
                    "the distal-duration cut-off table must be a DataFrame with columns "
                    f"{', '.join(CUTOFF_COLUMNS)}, got {type(table).__name__}",
                )
            ]
        )
    given = table.reset_index(drop=True)
    rename = {}  # names written in another case or with spaces (Scheme, Cutoff ms)
    for col in given.columns:
        key = str(col).strip().lower().replace(" ", "_")
        if key != col and key in CUTOFF_COLUMNS and key not in given.columns:
            rename[col] = key
    given = given.rename(columns=rename)
    notes = [c for c in given.columns if str(c).strip().lower() in _NOTE_COLUMNS]
    problems = [
        Problem(None, c, f"the distal-duration cut-off table needs a {c} column")
        for c in _CUTOFF_REQUIRED
        if c not in given.columns
    ]
    for c in given.columns:
        if c not in CUTOFF_COLUMNS and c not in notes:
            close = difflib.get_close_matches(str(c), CUTOFF_COLUMNS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(
                Problem(
                    None,
                    str(c),
                    f"unknown column in the distal-duration cut-off table{hint}; known: "
                    f"{', '.join(CUTOFF_COLUMNS)} and notes",
                )
            )
    if not problems and not len(given):
        problems.append(
            Problem(
                None,
                None,
                "the distal-duration cut-off table has no rows (item g would apply nowhere); "
                "pass None for the shipped table",
            )
        )
    if problems:
        raise ValidationError(problems)
    n = len(given)
    schemes = _cutoff_schemes(given["scheme"], _duration_schemes(criteria), problems)
    nerves = _cutoff_nerves(given["nerve"], problems)
    cutoff, found = _limit_values(given["cutoff_ms"], "cutoff_ms")
    problems.extend(
        Problem(p.row, p.column, p.message.replace("reference limit", "cut-off")) for p in found
    )
    blank = given["cutoff_ms"].isna().to_numpy()
    problems.extend(
        Problem(int(i), "cutoff_ms", "the cut-off is missing") for i in np.flatnonzero(blank)
    )
    low, high = CUTOFF_RANGE_MS
    with np.errstate(invalid="ignore"):
        odd = (cutoff < low) | (cutoff > high)
    problems.extend(
        Problem(
            int(i),
            "cutoff_ms",
            f"a cut-off of {cutoff[i]:g} ms lies outside {low:g} to {high:g} ms, where no "
            "distal CMAP duration cut-off lies (written in another unit?)",
        )
        for i in np.flatnonzero(odd)
    )
    if "lff_hz" in given.columns:
        lff, found = _limit_values(given["lff_hz"], "lff_hz")
        problems.extend(
            Problem(p.row, p.column, p.message.replace("reference limit", "filter setting"))
            for p in found
        )
    else:
        lff = np.full(n, np.nan)
    ops = np.full(n, None, dtype=object)
    if "op" in given.columns:
        for i, value in enumerate(given["op"].astype(object).tolist()):
            if value is None or (not isinstance(value, str) and pd.isna(value)):
                continue
            text = str(value).strip()
            if text in CUTOFF_OPS:
                ops[i] = text
            elif text:
                problems.append(
                    Problem(
                        i,
                        "op",
                        f"unknown operator {text!r} in the cut-off table; use one of "
                        f"{', '.join(CUTOFF_OPS)} (or leave it blank for the scheme's own)",
                    )
                )
    if not problems:
        problems.extend(_cutoff_conflicts(schemes, nerves, lff, cutoff, ops))
    if problems:
        raise ValidationError(sorted(problems, key=lambda p: (p.row or 0, p.column or "")))
    out = pd.DataFrame(
        {
            "scheme": pd.Series(schemes, dtype=object),
            "lff_hz": lff,
            "nerve": pd.Series(nerves, dtype=object),
            "cutoff_ms": cutoff,
            "op": pd.Series(ops, dtype=object),
        }
    )
    for c in notes:
        out[c] = given[c].to_numpy()
    return out


def _cutoff_schemes(
    column: pd.Series, known: Mapping[str, str], problems: list[Problem]
) -> list[str | None]:
    """Each row's scheme id; a missing one, or one without a distal-duration item, is a
    problem (each unknown name once, at its first row)."""
    out: list[str | None] = []
    first: dict[str, int] = {}
    for i, value in enumerate(column.astype(object).tolist()):
        text = None if value is None or pd.isna(value) else str(value).strip()
        if not text:
            problems.append(Problem(i, "scheme", "scheme is missing"))
            out.append(None)
        elif text.lower() in known:
            out.append(known[text.lower()])
        else:
            first.setdefault(text, i)
            out.append(None)
    for text, i in first.items():
        close = difflib.get_close_matches(text.lower(), list(known), n=1)
        hint = f" (did you mean {known[close[0]]!r}?)" if close else ""
        problems.append(
            Problem(
                i,
                "scheme",
                f"unknown scheme {text!r} in the cut-off table{hint}: no scheme of that id has "
                f"a distal CMAP duration item; known: {', '.join(sorted(known.values()))}",
            )
        )
    return out


def _cutoff_nerves(column: pd.Series, problems: list[Problem]) -> list[str | None]:
    """Each row's canonical nerve; a missing or unknown name is a problem (the known listed)."""
    from ncs.names import NERVE_ALIASES, normalize_nerve

    names = normalize_nerve(column)
    missing = column.isna().to_numpy()
    unknown = names.isna().to_numpy() & ~missing
    known = ", ".join(sorted(set(NERVE_ALIASES.values())))
    for i in np.flatnonzero(missing | unknown):
        message = (
            "nerve is missing"
            if missing[i]
            else f"unknown nerve {column.iloc[i]!r} in the cut-off table; known: {known}"
        )
        problems.append(Problem(int(i), "nerve", message))
    return [None if pd.isna(v) else str(v) for v in names.tolist()]


def _cutoff_conflicts(
    schemes: list, nerves: list, lff: np.ndarray, cutoff: np.ndarray, ops: np.ndarray
) -> list[Problem]:
    """A row that repeats a scheme, filter and nerve with another cut-off or operator, and a
    scheme and nerve with rows both for any filter (blank) and for a given one."""
    problems = []
    seen: dict[tuple, int] = {}
    any_filter: dict[tuple, bool] = {}
    for i, (scheme, nerve) in enumerate(zip(schemes, nerves, strict=True)):
        blank = bool(np.isnan(lff[i]))
        pair = (scheme, nerve)
        if any_filter.setdefault(pair, blank) != blank:
            problems.append(
                Problem(
                    i,
                    "lff_hz",
                    f"the {scheme} cut-off of the {nerve} nerve is given both for any filter "
                    "(blank lff_hz) and for a given filter: which applies would depend on the "
                    "row order; give one or the other",
                )
            )
            continue
        key = (scheme, nerve, None if blank else float(lff[i]))
        j = seen.setdefault(key, i)
        if j != i and (cutoff[j] != cutoff[i] or ops[j] != ops[i]):
            problems.append(
                Problem(
                    i,
                    "cutoff_ms",
                    f"a second cut-off for the {nerve} nerve under {scheme}"
                    f"{'' if blank else f' at {lff[i]:g} Hz'} with another value "
                    f"({cutoff[i]:g} {ops[i] or ''} here, {cutoff[j]:g} {ops[j] or ''} in "
                    f"row {j}); keep one",
                )
            )
    return problems


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
    """The lookup table (one row per nerve and muscle, a blank muscle = any muscle).

    Every problem names the table's own row (0-based): names are read and limits checked
    on the rows as given, before a long table is turned wide, so no row is lost on the way
    (a blank muscle or nerve used to vanish in the pivot).
    """
    if reference is None:
        given, name = _read_default(), DEFAULT_REFERENCE_NAME
    else:
        given, name = reference, str(reference.attrs.get("name", "user reference table"))
    table = given.reset_index(drop=True)
    known = {"nerve", "muscle", "parameter", "value", *LIMIT_COLUMNS}
    rename = {}  # names written in another case or with spaces (Nerve, CV LLN m s)
    for col in table.columns:
        key = str(col).strip().lower().replace(" ", "_")
        if key != col and key in known and key not in table.columns:
            rename[col] = key
    if rename:
        table = table.rename(columns=rename)
    is_long = "parameter" in table.columns and "value" in table.columns
    notes = [c for c in table.columns if str(c).strip().lower() in _NOTE_COLUMNS]
    parameters = _check_columns(table, notes, is_long)
    nerves = _nerve_names(table["nerve"])
    muscles = [_muscle_name(m) for m in table["muscle"]] if "muscle" in table else None
    if muscles is None:
        muscles = [None] * len(table)
    if is_long:
        values, found = _limit_values(table["value"], "value")
        found.extend(_range_problems(values, parameters, "value"))
        _raise_if(found, "parameter", pd.Series(parameters, dtype=object))
        keys = list(zip(nerves, muscles, parameters, strict=True))
        _raise_if(_conflicts(keys, values[:, None], ("value",), "limit"))
        limits: dict[tuple, dict[str, float]] = {}
        for (nerve, muscle, parameter), value in zip(keys, values.tolist(), strict=True):
            limits.setdefault((nerve, muscle), {})[parameter] = value
        rows = [
            {"nerve": nerve, "muscle": muscle, **{c: given.get(c, np.nan) for c in LIMIT_COLUMNS}}
            for (nerve, muscle), given in limits.items()
        ]
    else:
        present = [c for c in LIMIT_COLUMNS if c in table.columns]
        columns, found = [], []
        for col in present:
            values, col_problems = _limit_values(table[col], col)
            columns.append(values)
            found.extend(col_problems)
        _raise_if(found)
        grid = np.column_stack(columns)
        keys = list(zip(nerves, muscles, strict=True))
        _raise_if(_conflicts(keys, grid, tuple(present), "row"))
        first = {key: i for i, key in reversed(list(enumerate(keys)))}
        kept = sorted(first.values())
        rows = [
            {"nerve": keys[i][0], "muscle": keys[i][1], **dict(zip(present, grid[i], strict=True))}
            for i in kept
        ]
        rows = [{**r, **{c: r.get(c, np.nan) for c in LIMIT_COLUMNS}} for r in rows]
    data: dict[str, object] = {}
    for col in ("nerve", "muscle"):  # object columns: a blank muscle stays None
        names = np.empty(len(rows), dtype=object)
        names[:] = [r[col] for r in rows]
        data[col] = pd.Series(names, dtype=object)
    for col in LIMIT_COLUMNS:
        data[col] = np.array([r[col] for r in rows], dtype=float)
    return pd.DataFrame(data), name


def _check_columns(table: pd.DataFrame, notes: list, is_long: bool) -> list[str]:
    """A table without a nerve column or any limit, or with a column (or long-format
    parameter) that is neither a limit, a name nor a note, is refused: a misspelt limit or a
    column that splits the limits (by age, say) is never dropped quietly. Returns a long
    table's parameter per row, as read (blanks stripped)."""
    problems = []
    if "nerve" not in table.columns:
        problems.append(Problem(None, "nerve", "reference table needs a nerve column"))
    names = ("nerve", "muscle", *notes)
    if is_long:
        others = [c for c in table.columns if c not in (*names, "parameter", "value")]
        for c in others:
            problems.append(
                Problem(
                    None,
                    str(c),
                    "unknown column in a long reference table (nerve, muscle, parameter, value "
                    "and notes are read)",
                )
            )
        # each row's parameter as text or None (a nullable column's missing cells included)
        column = table["parameter"].astype(object)
        parameters = [None if pd.isna(p) else str(p).strip() for p in column.tolist()]
        first_row: dict[str, int] = {}
        for i, p in enumerate(parameters):
            if not p:
                problems.append(Problem(i, "parameter", "parameter is missing"))
            elif p not in LIMIT_COLUMNS:
                first_row.setdefault(p, i)
        for p, i in first_row.items():  # a misspelt limit is never dropped quietly
            problems.append(
                Problem(
                    i,
                    "parameter",
                    f"unknown parameter {p!r} in the reference table"
                    f"{_did_you_mean(p)}; known: {', '.join(LIMIT_COLUMNS)}",
                )
            )
        limits = [c for c in LIMIT_COLUMNS if c in set(parameters)]
    else:
        unknown = [c for c in table.columns if c not in (*names, *LIMIT_COLUMNS)]
        limits = [c for c in LIMIT_COLUMNS if c in table.columns]
        for c in unknown:  # a misspelt limit is never dropped quietly
            problems.append(
                Problem(
                    None,
                    str(c),
                    f"unknown column in the reference table{_did_you_mean(str(c))}; known: "
                    f"{', '.join(LIMIT_COLUMNS)}",
                )
            )
    if not limits:
        problems.append(Problem(None, None, f"reference table has none of {list(LIMIT_COLUMNS)}"))
    if problems:
        raise ValidationError(problems)
    return parameters if is_long else []


def _did_you_mean(name: str) -> str:
    close = difflib.get_close_matches(name, LIMIT_COLUMNS, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _nerve_names(column: pd.Series) -> list[str]:
    """Canonical nerve names of the table's rows; a missing or unknown name is an error."""
    from ncs.names import normalize_nerve

    names = normalize_nerve(column)
    missing = column.isna().to_numpy()
    unknown = names.isna().to_numpy() & ~missing
    if missing.any() or unknown.any():
        raise ValidationError(
            [
                Problem(int(i), "nerve", "nerve name is missing")
                if missing[i]
                else Problem(int(i), "nerve", f"unknown nerve name {column.iloc[i]!r}")
                for i in np.flatnonzero(missing | unknown)
            ]
        )
    return [str(v) for v in names.tolist()]


def _muscle_name(value: object) -> str | None:
    """A recording muscle as the lookup spells it (blank: any muscle)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    text = str(value).strip().upper()
    return text or None


def _conflicts(
    keys: list[tuple], values: np.ndarray, columns: tuple[str, ...], what: str
) -> list[Problem]:
    """A problem for each row that repeats an earlier row's key with other limits.

    A blank and a number differ; the same values twice (a name written two ways, say) are
    no conflict.
    """
    problems = []
    seen: dict[tuple, int] = {}
    for i, key in enumerate(keys):
        j = seen.setdefault(key, i)
        if j == i:
            continue
        for k, col in enumerate(columns):
            a, b = values[j, k], values[i, k]
            if not (a == b or (np.isnan(a) and np.isnan(b))):
                nerve, muscle = key[0], key[1]
                where = f"{nerve} ({muscle})" if muscle else nerve
                label = f" {key[2]}" if len(key) > 2 else f" {col}"
                problems.append(
                    Problem(
                        i,
                        col,
                        f"a second {what} for the {where}{label} with another value "
                        f"({_shown(b)} here, {_shown(a)} in row {j}); keep one",
                    )
                )
    return problems


def _shown(value: float) -> str:
    return "blank" if np.isnan(value) else f"{value:g}"


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
    if column in LIMIT_RANGES:  # a wide table's column (a long table's rows: see _ranges)
        problems.extend(_range_problems(read.values, [column] * len(read.values), column))
    return np.where(not_positive, np.nan, read.values), problems


def _range_problems(values: np.ndarray, limits: list, column: str) -> list[Problem]:
    """A problem for each limit outside :data:`LIMIT_RANGES` (``limits``: each row's)."""
    problems = []
    for i, (value, limit) in enumerate(zip(values.tolist(), limits, strict=True)):
        if limit in LIMIT_RANGES and value > 0 and out_of_range(np.array([value]), limit)[0]:
            low, high = LIMIT_RANGES[limit]
            problems.append(
                Problem(
                    i,
                    column,
                    f"a reference limit of {value:g} for {limit} lies outside {low:g} to "
                    f"{high:g}, where no such limit lies (written in another unit?)",
                )
            )
    return problems


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
    """Limits per nerve: an exact (nerve, muscle) row first (its blank limits from the
    nerve's muscle-less row), else the nerve's muscle-less row; a nerve whose muscle is not
    recorded takes the nerve's first row when the table has no muscle-less one. A nerve
    recorded at a muscle the table has no row for (only other muscles of that nerve) gets no
    limits (see :func:`other_muscle`): another muscle's limits are not its own."""
    n = len(nerves)
    out = {c: np.full(n, np.nan) for c in LIMIT_COLUMNS}
    if n == 0:
        return out
    lookup = _lookup(table)
    pairs, inverse = _distinct_pairs(nerves, muscles)
    values = np.full((len(pairs), len(LIMIT_COLUMNS)), np.nan)
    for k, (nerve, muscle) in enumerate(pairs):  # one lookup per distinct (nerve, muscle)
        row = lookup.get((nerve, muscle)) or lookup.get((nerve, None))
        if row is None and muscle is None:  # no muscle recorded: the nerve's first row
            row = lookup.get((nerve, _FIRST))
        if row is not None:
            values[k] = row
    for j, c in enumerate(LIMIT_COLUMNS):
        out[c] = values[inverse, j]
    return out


def _distinct_pairs(nerves: np.ndarray, muscles: np.ndarray) -> tuple[list[tuple], np.ndarray]:
    """The distinct (nerve, muscle as the lookup spells it or None) pairs, and each row's."""
    nerve_codes, nerve_uniques = pd.factorize(np.asarray(nerves, dtype=object))
    raw_codes, raw_uniques = pd.factorize(np.asarray(muscles, dtype=object))
    cleaned = [_muscle_name(m) for m in raw_uniques]  # per distinct muscle only
    muscle_codes, muscle_uniques = pd.factorize(np.array([*cleaned, None], dtype=object)[raw_codes])
    width = len(muscle_uniques) + 1
    combined = nerve_codes.astype(np.int64) * width + (muscle_codes + 1)
    codes, inverse = np.unique(combined, return_inverse=True)
    pairs = [
        (nerve_uniques[c // width], muscle_uniques[c % width - 1] if c % width else None)
        for c in codes.tolist()
    ]
    return pairs, inverse.reshape(-1)


def other_muscle(nerves: np.ndarray, muscles: np.ndarray, table: pd.DataFrame) -> np.ndarray:
    """Per nerve: recorded at a muscle the table has no row for, while it has rows for other
    muscles of that nerve and none for any muscle (the nerve gets no limits there)."""
    if not len(nerves):
        return np.zeros(0, dtype=bool)
    lookup = _lookup(table)
    pairs, inverse = _distinct_pairs(nerves, muscles)
    other = np.array(
        [
            muscle is not None
            and (nerve, muscle) not in lookup
            and (nerve, None) not in lookup
            and (nerve, _FIRST) in lookup
            for nerve, muscle in pairs
        ],
        dtype=bool,
    )
    return other[inverse]


_FIRST = "\x00first"  # the lookup key of a nerve's first row with a muscle
_LOOKUPS: dict[int, dict] = {}


def _lookup(table: pd.DataFrame) -> dict:
    """(nerve, muscle) -> limits: the muscle's row, each limit it leaves blank taken from the
    nerve's any-muscle row (blank muscle); (nerve, None) -> the any-muscle row; (nerve,
    _FIRST) -> the nerve's first row with a muscle."""
    key = id(table)
    if key in _LOOKUPS and table is _default_wide():
        return _LOOKUPS[key]
    rows = table.to_dict("records")
    exact: dict = {}
    any_muscle: dict = {}
    first: dict = {}
    for r in rows:
        limits = tuple(float(r[c]) for c in LIMIT_COLUMNS)
        if r["muscle"] is None:
            any_muscle[r["nerve"]] = limits  # a muscle-less row is the nerve's default
        else:
            exact.setdefault((r["nerve"], r["muscle"]), limits)
            first.setdefault(r["nerve"], limits)
    out: dict = {}
    for (nerve, muscle), limits in exact.items():
        base = any_muscle.get(nerve)
        if base is not None:  # a limit the muscle's row leaves blank is the nerve's own
            limits = tuple(b if math.isnan(v) else v for v, b in zip(limits, base, strict=True))
        out[(nerve, muscle)] = limits
    for nerve, limits in any_muscle.items():
        out[(nerve, None)] = limits
    for nerve, limits in first.items():
        out[(nerve, _FIRST)] = limits
    if table is _default_wide():
        _LOOKUPS[key] = out
    return out
