"""The tidy sites table: its columns, units, normalisation and validation.

One row per stimulation site of one nerve. :func:`validate` checks every row, collects every
problem, and either returns a normalised copy or raises one :class:`~ncs.errors.ValidationError`
listing them all. Nothing half-validated is returned.
"""

from __future__ import annotations

import datetime as _dt
import functools
import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import NamedTuple

import numpy as np
import pandas as pd

from ncs._codes import combined_key, from_codes, row_ids, sorted_codes
from ncs._codes import table as new_table
from ncs.cells import (
    ABSENT_WORDS,
    RESPONSE_MEASURES,
    factorize_cells,
    missing_text,
    normalise_word,
    parse_numbers,
)
from ncs.errors import Problem, ValidationError
from ncs.names import (
    NERVE_ALIASES,
    SIDE_ALIASES,
    SITE_RANK,
    canonical_site,
    clean_name,
    site_rank_codes,
)
from ncs.plausibility import (
    check_cells,
    check_valid,
    contradictions,
    declared_unit_problems,
    nerve_value_conflicts,
    warn_implausible,
)

__all__ = [
    "COLUMNS",
    "KEYS",
    "NERVE_KEYS",
    "REJECTED_COLUMNS",
    "Column",
    "empty_rejected",
    "nerve_keys",
    "normalize_units",
    "patient_keys",
    "split_invalid",
    "stand_in_patients",
    "validate",
    "visit_table",
]


@dataclass(frozen=True, slots=True)
class Column:
    """One column of the tidy sites table."""

    name: str
    kind: str  # "str", "float", "int" or "date"
    required: bool
    unit: str
    meaning: str


COLUMNS: tuple[Column, ...] = (
    Column("patient_id", "str", True, "", "study/patient key"),
    Column(
        "visit",
        "str",
        False,
        "",
        "which study of the patient (serial studies), a label such as baseline or 6 months; "
        "a nerve is then (patient_id, visit, nerve, side)",
    ),
    Column(
        "study_date",
        "date",
        False,
        "",
        "date of the study, ISO 8601 (YYYY-MM-DD): one per (patient_id, visit); it orders "
        "the visits",
    ),
    Column(
        "nerve", "str", True, "", "median, ulnar, peroneal (alias fibular), tibial, radial, ..."
    ),
    Column("side", "str", True, "", "L or R (left/right accepted)"),
    Column("site", "str", True, "", "stimulation site, e.g. wrist, below elbow, axilla, ankle"),
    Column("site_order", "int", False, "", "0 = most distal, increasing proximally"),
    Column("response", "str", False, "", "present (default) or absent (NR)"),
    Column("latency_ms", "float", True, "ms", "onset latency"),
    Column("amplitude_mv", "float", True, "mV", "negative-peak amplitude"),
    Column("area_mvms", "float", False, "mV·ms", "negative-peak area"),
    Column("duration_ms", "float", False, "ms", "negative-peak duration"),
    Column("distance_mm", "float", False, "mm", "distance from the next more distal site"),
    Column("muscle", "str", False, "", "recording muscle"),
    Column("f_latency_ms", "float", False, "ms", "minimal F-wave latency of the nerve"),
    Column("f_persistence_pct", "float", False, "%", "F-wave persistence (0 = absent)"),
    Column(
        "distal_duration_ms", "float", False, "ms", "distal CMAP duration (negative-phase span)"
    ),
    Column("lff_hz", "float", False, "Hz", "low-frequency (high-pass) filter setting"),
    Column("total_duration_ms", "float", False, "ms", "total CMAP duration"),
    Column("pp_amplitude_mv", "float", False, "mV", "peak-to-peak amplitude"),
    Column("temperature_c", "float", False, "°C", "limb temperature"),
    Column("age_years", "float", False, "years", "age"),
    Column("height_cm", "float", False, "cm", "height"),
    Column("sex", "str", False, "", "sex"),
    Column("cv_m_s", "float", False, "m/s", "conduction velocity as reported (checked only)"),
    Column("dml_uln_ms", "float", False, "ms", "per-row reference limit: distal latency ULN"),
    Column("amp_lln_mv", "float", False, "mV", "per-row reference limit: amplitude LLN"),
    Column("cv_lln_m_s", "float", False, "m/s", "per-row reference limit: velocity LLN"),
    Column("f_latency_uln_ms", "float", False, "ms", "per-row reference limit: F latency ULN"),
)
"""The columns ncs knows, in output order. Unknown extra columns pass through unchanged."""

_BY_NAME: Mapping[str, Column] = MappingProxyType({c.name: c for c in COLUMNS})
REQUIRED: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.required)
MAX_INTEGER = 2**31 - 1
"""Largest value of a whole-number column (``site_order``): keys built from it stay exact."""
NUMERIC: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.kind in ("float", "int"))

NERVE_KEYS: tuple[str, ...] = ("patient_id", "nerve", "side")
"""A nerve is identified by these columns."""
KEYS: tuple[str, ...] = (*NERVE_KEYS, "site")
"""A stimulation site is identified by these columns (and ``visit`` where given)."""


def patient_keys(columns) -> tuple[str, ...]:
    """The columns that identify one study of a patient: ``patient_id`` and, in a table with a
    ``visit`` column (serial studies), ``visit``.

    Examples
    --------
    >>> patient_keys(["patient_id", "nerve"]), patient_keys(["patient_id", "visit"])
    (('patient_id',), ('patient_id', 'visit'))
    """
    return ("patient_id", "visit") if "visit" in columns else ("patient_id",)


def nerve_keys(columns) -> tuple[str, ...]:
    """The columns that identify a nerve: :data:`NERVE_KEYS`, with ``visit`` after
    ``patient_id`` in a table with a ``visit`` column."""
    return (*patient_keys(columns), "nerve", "side")


# Unit handling: the canonical units are fixed by the column names; these are the only
# factors ncs ever applies (to the canonical unit).
_UNIT_FACTORS: Mapping[str, Mapping[str, float]] = MappingProxyType(
    {
        "amplitude": MappingProxyType({"mv": 1.0, "uv": 1e-3, "µv": 1e-3, "μv": 1e-3, "v": 1e3}),
        "time": MappingProxyType({"ms": 1.0, "s": 1e3, "us": 1e-3, "µs": 1e-3}),
        "distance": MappingProxyType({"mm": 1.0, "cm": 10.0, "m": 1e3}),
    }
)
# Which columns each unit governs. Area follows the amplitude unit (mV·ms vs µV·ms).
_UNIT_COLUMNS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "amplitude": ("amplitude_mv", "area_mvms", "pp_amplitude_mv"),
        "time": (
            "latency_ms",
            "duration_ms",
            "f_latency_ms",
            "distal_duration_ms",
            "total_duration_ms",
        ),
        "distance": ("distance_mm",),
    }
)
# Alternative column names that carry their own unit: name -> (canonical name, factor).
ALT_COLUMNS: Mapping[str, tuple[str, float]] = MappingProxyType(
    {
        "amplitude_uv": ("amplitude_mv", 1e-3),
        "area_uvms": ("area_mvms", 1e-3),
        "pp_amplitude_uv": ("pp_amplitude_mv", 1e-3),
        "distance_cm": ("distance_mm", 10.0),
    }
)

_RESPONSE: Mapping[str, str] = MappingProxyType(
    {
        **dict.fromkeys(("present", "p", "yes", "y", "ok"), "present"),
        **dict.fromkeys((*ABSENT_WORDS, "none", "no", "n", "a"), "absent"),
    }
)
"""Words of the ``response`` column; a :data:`ncs.cells.MISSING_WORDS` word is blank."""


def normalize_units(
    sites: pd.DataFrame,
    *,
    amplitude: str = "mV",
    time: str = "ms",
    distance: str = "mm",
) -> pd.DataFrame:
    """Convert amplitude/area, time and distance columns to the canonical units.

    This is the only function in ncs that changes units.

    Parameters
    ----------
    sites : pandas.DataFrame
        Sites table whose canonical columns (``amplitude_mv``, ``area_mvms``, ``latency_ms``,
        ``distance_mm``, ...) hold values in the units named here.
    amplitude : {"mV", "uV", "µV", "V"}
        Unit of amplitudes; areas are taken to be in the same unit times ms.
    time : {"ms", "s", "us"}
        Unit of latencies and durations.
    distance : {"mm", "cm", "m"}
        Unit of distances.

    Returns
    -------
    pandas.DataFrame
        A copy with numeric values in mV, mV·ms, ms and mm.

    Raises
    ------
    ValidationError
        If a unit is not one of the accepted spellings.
    """
    out = sites.copy()
    problems: list[Problem] = []
    for quantity, unit in (("amplitude", amplitude), ("time", time), ("distance", distance)):
        factor = _UNIT_FACTORS[quantity].get(str(unit).strip().lower())
        if factor is None:
            problems.append(
                Problem(
                    None,
                    None,
                    f"unknown {quantity} unit {unit!r}; "
                    f"use one of {sorted(_UNIT_FACTORS[quantity])}",
                )
            )
            continue
        if factor == 1.0:
            continue
        for col in _UNIT_COLUMNS[quantity]:
            if col in out.columns:
                out[col] = _scale(out[col], factor)
    if problems:
        raise ValidationError(problems)
    return out


def _scale(values: pd.Series, factor: float) -> pd.Series:
    """Multiply numeric cells by ``factor``; leave text cells (e.g. "NR") for validation."""
    numeric = pd.to_numeric(values, errors="coerce")
    # divide by an exact power of ten where converting down: 7000 µV -> 7.0 mV exactly
    scaled = numeric / round(1.0 / factor) if factor < 1.0 else numeric * factor
    if values.dtype.kind in "fiub":
        return scaled
    # keep text cells (e.g. "NR") for validation to read
    return scaled.astype(object).where(numeric.notna(), values.astype(object))


_SMALL_TABLE = 4096  # rows; below this, text columns are factorised as Python objects


class _Text:
    """A text column as codes into its unique values (vectorised per unique, not per row)."""

    __slots__ = ("codes", "uniques")

    def __init__(self, values: pd.Series) -> None:
        if len(values) < _SMALL_TABLE and isinstance(values.dtype, pd.StringDtype):
            values = values.to_numpy(dtype=object)  # faster for a single study
        if values.dtype == object:  # cells of any type: a TRUE is not a 1
            codes, uniques = factorize_cells(np.asarray(values, dtype=object))
        else:
            codes, uniques = pd.factorize(values, use_na_sentinel=True)
        self.codes = codes
        self.uniques = np.asarray(uniques, dtype=object).tolist()

    def map(self, func, missing, dtype=object) -> np.ndarray:
        """``func`` applied to each unique value; ``missing`` for missing cells."""
        table = np.array([func(u) for u in self.uniques] + [missing], dtype=dtype)
        return table[self.codes]


class _Coded(NamedTuple):
    """A normalised text column: codes (-1 = missing) into sorted distinct values."""

    codes: np.ndarray
    categories: list[str]


def _coded(text: _Text, func) -> _Coded:
    """``func`` applied to each distinct value (None = missing), as :class:`_Coded`."""
    if func is _text_of and all(type(u) is str for u in text.uniques):
        return _coded_strings(text)
    mapped = [func(u) for u in text.uniques]
    distinct = sorted({m for m in mapped if m is not None})
    position = {v: i for i, v in enumerate(distinct)}
    table = np.array([position.get(m, -1) for m in mapped] + [-1], dtype=np.int64)
    return _Coded(table[text.codes], distinct)


def _coded_strings(text: _Text) -> _Coded:
    """:func:`_coded` with :func:`_text_of` for distinct values that are all ``str``.

    Vectorised over the distinct values (a cohort has one per patient): stripped, blank ->
    missing, codes into the sorted distinct results.
    """
    stripped = [u.strip() or None for u in text.uniques]
    if None not in stripped and all(a < b for a, b in itertools.pairwise(stripped)):
        # distinct and sorted already (a table grouped by sorted ids): codes are positions
        return _Coded(np.asarray(text.codes, dtype=np.int64), stripped)
    codes, distinct = pd.factorize(
        np.array(stripped, dtype=object), sort=True, use_na_sentinel=True
    )
    table = np.append(codes.astype(np.int64), -1)
    return _Coded(table[text.codes], np.asarray(distinct, dtype=object).tolist())


def _coded_strings_of(values: np.ndarray) -> _Coded:
    """An object array of str (None = missing) as :class:`_Coded` (sorted categories)."""
    codes, distinct = pd.factorize(np.asarray(values, dtype=object), sort=True)
    return _Coded(np.asarray(codes, dtype=np.int64), [str(d) for d in distinct])


# --------------------------------------------------------------------------------------
# Visits (serial studies): labels, dates, order
# --------------------------------------------------------------------------------------

_NOT_A_DATE = object()  # marker: a study_date cell that is not a date
_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?")


def _iso_date(value) -> str | object | None:
    """A ``study_date`` cell as ``YYYY-MM-DD`` (None: blank; :data:`_NOT_A_DATE`: not a date).

    Dates and date-times (spreadsheet cells, pandas timestamps) give their date; text must
    be an ISO 8601 date, optionally with a time of day (``2021-03-04``,
    ``2021-03-04T09:30``). Day-first and month-first spellings (``04/03/2021``) are refused:
    both readings exist.
    """
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and np.isnan(value):
        return None
    if isinstance(value, _dt.date | np.datetime64):  # datetime and Timestamp are dates too
        stamp = pd.Timestamp(value)
        return None if pd.isna(stamp) else stamp.date().isoformat()
    if not isinstance(value, str):
        return _NOT_A_DATE
    text = value.strip()
    if not text or missing_text(text):
        return None
    match = _ISO_DATE.fullmatch(text)
    if match is None:
        return _NOT_A_DATE
    try:
        return _dt.date(*(int(g) for g in match.groups())).isoformat()
    except ValueError:  # 2021-02-30
        return _NOT_A_DATE


def _dates_of(column: pd.Series) -> np.ndarray:
    """:func:`_iso_date` of every cell (once per distinct value where cells are hashable)."""
    try:
        return _Text(column).map(_iso_date, None)
    except TypeError:  # lists, dicts: cell by cell (they are not dates)
        return np.array([_iso_date(v) for v in column.tolist()], dtype=object)


def _visit_labels(
    visits: Sequence[str] | None, has_visit: bool, problems: list[Problem]
) -> dict[str, int] | None:
    """The ``visits=`` order as label -> position (None when not given); problems added."""
    if visits is None:
        return None
    if isinstance(visits, str) or not isinstance(visits, Sequence | np.ndarray | pd.Index):
        problems.append(
            Problem(None, "visit", "visits must be a list of visit labels, earliest first")
        )
        return None
    labels_ = [_text_of(v) for v in visits]
    if any(label is None for label in labels_):
        problems.append(Problem(None, "visit", "the visits order holds a blank label"))
    elif len(set(labels_)) != len(labels_):
        problems.append(Problem(None, "visit", "the visits order names a visit twice"))
    if not has_visit:
        problems.append(
            Problem(None, "visit", "a visits order is given but the table has no visit column")
        )
    return {label: i for i, label in enumerate(labels_) if label is not None}


class _Studies(NamedTuple):
    """Each row's study (one visit of one patient) and the place of its visit."""

    rank: np.ndarray | None  # place among the patient's visits, 0 = first (-1: unknown keys)
    decided: np.ndarray | None  # that place is known from dates or the visits order
    date: np.ndarray | None  # study_date codes, each visit's date on all of its rows
    problems: list[Problem]


def _study_order(text: Mapping[str, _Coded], order: Mapping[str, int] | None) -> _Studies:
    """One date per visit of a patient, and the order of each patient's visits.

    A patient's visits are ordered by ``study_date`` when every one of them has a date
    (visits on the same day by the ``visits=`` order); otherwise by the ``visits=`` order;
    a visit placed by neither is placed after its label only to give the tables a fixed
    order, and ``decided`` says so (a follow-up needs a known order). Vectorised over rows;
    the per-visit arrays have one entry per (patient, visit).
    """
    has_visit, has_date = "visit" in text, "study_date" in text
    if not has_visit and not has_date:
        return _Studies(None, None, None, [])
    problems: list[Problem] = []
    patient = np.asarray(text["patient_id"].codes, dtype=np.int64)
    n = patient.size
    visit = np.asarray(text["visit"].codes, dtype=np.int64) if has_visit else np.zeros(n, np.int64)
    date = np.asarray(text["study_date"].codes, dtype=np.int64) if has_date else np.full(n, -1)
    position = np.full(n, -1, dtype=np.int64)
    if order is not None and has_visit:
        table_ = np.array([order.get(v, -1) for v in text["visit"].categories] + [-1])
        position = table_[visit]
        names = text["visit"].categories
        for i in np.flatnonzero((visit >= 0) & (position < 0)):
            problems.append(
                Problem(
                    int(i),
                    "visit",
                    f"visit {names[visit[i]]!r} is not in the visits order given "
                    "(visits=, --visits)",
                )
            )
    keyed = (patient >= 0) & (visit >= 0)
    rows = np.flatnonzero(keyed)
    study = np.full(n, -1, dtype=np.int64)
    if rows.size:
        study[rows] = row_ids([patient[rows], visit[rows]])
    n_studies = int(study.max(initial=-1)) + 1

    # one date per study: the smallest and largest date code of its dated rows
    dated = keyed & (date >= 0)
    high = np.full(n_studies, -1, dtype=np.int64)
    low = np.full(n_studies, np.iinfo(np.int64).max, dtype=np.int64)
    np.maximum.at(high, study[dated], date[dated])
    np.minimum.at(low, study[dated], date[dated])
    conflict = (high >= 0) & (low != high)
    if conflict.any():
        where = "visit" if has_visit else "patient (no visit column: one study each)"
        for s_ in np.flatnonzero(conflict).tolist():  # error path: few
            members = np.flatnonzero(dated & (study == s_))
            listed = ", ".join(str(int(r)) for r in members[:8]) + (
                ", ..." if members.size > 8 else ""
            )
            for i in members:
                problems.append(
                    Problem(
                        int(i),
                        "study_date",
                        f"more than one study_date within this {where} (rows {listed}); "
                        "give one date per visit",
                    )
                )
    study_date = np.where(conflict, -1, high)
    filled = date
    if n_studies:
        safe = np.maximum(study, 0)
        filled = np.where(keyed & ~conflict[safe], study_date[safe], date)
    if not has_visit:
        return _Studies(None, None, filled if has_date else None, problems)

    rep = np.zeros(n_studies, dtype=np.int64)
    rep[study[rows]] = rows  # one row of each study
    s_patient, s_visit, s_position = patient[rep], visit[rep], position[rep]
    n_patients = int(s_patient.max(initial=-1)) + 1
    undated = np.bincount(s_patient, weights=study_date < 0, minlength=n_patients) > 0
    primary = np.where(undated[s_patient], -1, study_date)
    srt = np.lexsort((s_visit, s_position, primary, s_patient))
    first = np.r_[True, s_patient[srt][1:] != s_patient[srt][:-1]] if n_studies else srt
    k = np.arange(n_studies)
    rank_sorted = k - np.maximum.accumulate(np.where(first, k, 0)) if n_studies else k
    p, q = primary[srt], s_position[srt]
    p_before, q_before = np.r_[-1, p[:-1]], np.r_[-1, q[:-1]]
    by_date = (p >= 0) & (p_before >= 0) & (p != p_before)
    by_order = (q >= 0) & (q_before >= 0) & (q != q_before)
    s_rank = np.empty(n_studies, dtype=np.int64)
    s_rank[srt] = rank_sorted
    s_decided = np.empty(n_studies, dtype=bool)
    s_decided[srt] = first | by_date | by_order

    # dates and a visits order given together must agree
    both = np.flatnonzero((study_date >= 0) & (s_position >= 0))
    if both.size > 1:
        o = both[np.lexsort((s_position[both], s_patient[both]))]
        back = (s_patient[o][1:] == s_patient[o][:-1]) & (study_date[o][1:] < study_date[o][:-1])
        for k_ in np.flatnonzero(back).tolist():  # error path
            later, earlier = int(o[k_ + 1]), int(o[k_])
            names = text["visit"].categories
            message = (
                f"visit {names[s_visit[later]]!r} comes after {names[s_visit[earlier]]!r} in "
                "the visits order given, but its study_date is earlier"
            )
            for i in np.flatnonzero(study == later):
                problems.append(Problem(int(i), "visit", message))
    safe = np.maximum(study, 0)
    rank = np.where(keyed, s_rank[safe] if n_studies else -1, -1)
    decided = np.where(keyed, s_decided[safe] if n_studies else False, False)
    return _Studies(rank, decided, filled if has_date else None, problems)


def _codes_of(values: pd.Series) -> _Coded:
    """A validated text column as :class:`_Coded` (codes into its sorted values)."""
    codes, categories = sorted_codes(values)
    return _Coded(np.asarray(codes, dtype=np.int64), [str(c) for c in categories])


def visit_ranks(sites: pd.DataFrame, visits: Sequence[str] | None = None) -> np.ndarray | None:
    """Per row of a validated table: the place of its visit among its patient's visits
    (0 = first; see :func:`visit_table`), or None for a table without ``visit``."""
    if "visit" not in sites.columns:
        return None
    text = {c: _codes_of(sites[c]) for c in ("patient_id", "visit", "study_date") if c in sites}
    problems: list[Problem] = []
    order = _visit_labels(visits, True, problems)
    return _study_order(text, order).rank


def visit_table(
    sites: pd.DataFrame,
    visits: Sequence[str] | None = None,
    *,
    require_order: bool = False,
) -> pd.DataFrame:
    """The studies of a validated sites table: one row per (patient, visit), in visit order.

    A patient's visits are ordered by ``study_date`` when each of them has one (the
    ``visits`` order breaks ties between visits on the same day), else by the ``visits``
    order, never by their labels.

    Parameters
    ----------
    sites : pandas.DataFrame
        Output of :func:`validate` (with a ``visit`` column).
    visits : sequence of str, optional
        Visit labels, earliest first.
    require_order : bool, default False
        Raise when the order of a patient's visits is not known.

    Returns
    -------
    pandas.DataFrame
        ``patient_id``, ``visit``, ``study_date`` (where the table has it), ``visit_index``
        (0 = the patient's first visit), ``order_known`` (whether dates or the ``visits``
        order place this visit after the previous one; always True for the first),
        ``n_rows`` and ``first_row`` (the smallest ``input_row`` of the visit).

    Raises
    ------
    ValidationError
        Without a ``visit`` column; with ``require_order=True``, naming a row of each visit
        whose place is unknown.

    Examples
    --------
    >>> import pandas as pd
    >>> sites = pd.DataFrame({"patient_id": "P1", "visit": ["after", "before"] * 2,
    ...     "study_date": ["2024-06-01", "2024-01-15"] * 2, "nerve": "ulnar", "side": "R",
    ...     "site": ["wrist", "wrist", "below elbow", "below elbow"],
    ...     "latency_ms": [3.0, 3.1, 7.0, 7.2], "amplitude_mv": [9.0, 8.0, 8.0, 4.0]})
    >>> visit_table(validate(sites))[["visit", "study_date", "visit_index"]]
        visit  study_date  visit_index
    0  before  2024-01-15            0
    1   after  2024-06-01            1
    """
    if "visit" not in sites.columns:
        raise ValidationError(
            [Problem(None, "visit", "no visit column: serial studies need one (a label)")]
        )
    text = {c: _codes_of(sites[c]) for c in ("patient_id", "visit", "study_date") if c in sites}
    problems: list[Problem] = []
    order = _visit_labels(visits, True, problems)
    studies = _study_order(text, order)
    problems.extend(studies.problems)
    if problems:
        raise ValidationError(problems)
    patient, visit = text["patient_id"].codes, text["visit"].codes
    rank, decided = studies.rank, studies.decided
    input_row = sites["input_row"].to_numpy(dtype=np.int64) if "input_row" in sites else None
    if input_row is None:
        input_row = np.arange(len(sites), dtype=np.int64)
    frame = pd.DataFrame({"p": patient, "r": rank, "v": visit, "d": decided, "row": input_row})
    if studies.date is not None:
        frame["t"] = studies.date
    grouped = frame.groupby(["p", "r"], sort=True)
    first = grouped.first()
    out = pd.DataFrame(
        {
            "patient_id": from_codes(
                first.index.get_level_values("p").to_numpy(), text["patient_id"].categories
            ),
            "visit": from_codes(first["v"].to_numpy(), text["visit"].categories),
        }
    )
    if studies.date is not None:
        out["study_date"] = from_codes(first["t"].to_numpy(), text["study_date"].categories)
    out["visit_index"] = first.index.get_level_values("r").to_numpy(dtype=np.int64)
    out["order_known"] = first["d"].to_numpy(dtype=bool)
    out["n_rows"] = grouped.size().to_numpy(dtype=np.int64)
    out["first_row"] = grouped["row"].min().to_numpy(dtype=np.int64)
    if require_order and not out["order_known"].all():
        shared = np.zeros(len(out), dtype=bool)  # a date another visit of the patient has too
        if "study_date" in out.columns:
            dated = out["study_date"].notna().to_numpy()
            keys = out[["patient_id", "study_date"]].astype(object)
            shared = dated & keys.duplicated(keep=False).to_numpy()
        problems = []
        for i in np.flatnonzero(~out["order_known"].to_numpy()):
            row, v = int(out["first_row"].iloc[i]), str(out["visit"].iloc[i])
            if shared[i]:
                why = (
                    f"it has the same study_date ({out['study_date'].iloc[i]}) as another "
                    "visit of the patient, so the dates cannot order them: give the visits "
                    "order"
                )
            else:
                why = "give a study_date for every visit, or the visits order"
            problems.append(
                Problem(
                    row,
                    "visit",
                    f"the order of visit {v!r} against the patient's other visits is not "
                    f"known: {why} (visits=[...] in Python, --visits on the command line)",
                )
            )
        raise ValidationError(problems)
    return out


_RESPONSE_ABSENT, _RESPONSE_PRESENT, _RESPONSE_UNKNOWN, _RESPONSE_BLANK = 0, 1, -1, -2


def _response_code(value) -> int:
    """A ``response`` cell as a code: absent, present, an unknown word, or blank."""
    text = _text_of(value)
    if text is None or missing_text(text):
        return _RESPONSE_BLANK
    word = _RESPONSE.get(normalise_word(text))
    if word is None:
        return _RESPONSE_UNKNOWN
    return _RESPONSE_ABSENT if word == "absent" else _RESPONSE_PRESENT


def _text_of(value) -> str | None:
    """Cell -> stripped text, or None when missing/blank (1.0 -> "1")."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float):
        if np.isnan(value):
            return None
        if value.is_integer():
            return str(int(value))
    text = str(value).strip()
    return text or None


def validate(
    sites: pd.DataFrame,
    *,
    units: Mapping[str, str] | None = None,
    visits: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Check and normalise a sites table; raise one error listing every problem.

    Parameters
    ----------
    sites : pandas.DataFrame
        One row per stimulation site (see the tidy input format in the user guide).
    units : mapping, optional
        Units of the numeric columns if not the canonical ones, e.g. ``{"amplitude": "uV"}``
        (see :func:`normalize_units`).
    visits : sequence of str, optional
        The order of the ``visit`` labels (serial studies), earliest first, for tables
        without ``study_date`` (see :func:`visit_table`). Every visit must be one of them.

    Returns
    -------
    pandas.DataFrame
        A new table, in input order, with canonical nerve/side/site names (text columns
        ``patient_id``, ``visit``, ``nerve``, ``side``, ``site``, ``response``, ``muscle``,
        ``sex`` as pandas ``category`` over their sorted values; ``study_date`` as a
        ``category`` of ISO dates, each visit's date on every row of the visit), a ``site_order``
        (derived from known site names when absent), a ``response`` column, absent responses
        carrying amplitude and area 0 and no latency or duration, an ``input_row`` column
        (position in the input), and every numeric column as float.

    Raises
    ------
    ValidationError
        With ``.problems``: every (row, column, message) found.

    Warns
    -----
    NcsWarning
        For valid but suspicious values: an amplitude or area no CMAP has (typed in µV?),
        distances that look like cm, velocities out of range.
    """
    valid, problems = _validate(sites, units, visits)[:2]
    if problems:
        raise ValidationError(problems)
    warn_implausible(valid)
    return valid


REJECTED_COLUMNS: tuple[str, ...] = ("input_row", "patient_id", "nerve", "side", "site", "problems")
"""Columns of the rejected-rows table of :func:`split_invalid`, in order."""


def empty_rejected() -> pd.DataFrame:
    """A rejected-rows table with no rows (the dtypes of :func:`split_invalid`)."""
    return _empty_rejected().copy(deep=False)


@functools.lru_cache(maxsize=1)
def _empty_rejected() -> pd.DataFrame:
    text = pd.array([], dtype="string")
    data = {c: text for c in REJECTED_COLUMNS}
    data["input_row"] = np.zeros(0, dtype=np.int64)
    return pd.DataFrame(data)


def split_invalid(
    sites: pd.DataFrame,
    *,
    units: Mapping[str, str] | None = None,
    visits: Sequence[str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Validate, setting aside the nerves with invalid rows instead of raising.

    The batch counterpart of :func:`validate`: a row with a problem is rejected together
    with the other rows of its nerve (one bad site would corrupt that nerve's segments, for
    instance by dropping a distance from a conduction length), and every other nerve, of the
    same patient too, is validated and kept. A row whose patient, visit, nerve or side cannot
    be read belongs to no nerve, but the nerve it was a site of lost it: the nerves it may be
    a site of are set aside with it (of its patient, or of the patient
    :func:`stand_in_patients` gives a row without one: those that agree with its keys, lack
    its site and have that site name). Each input row ends up in exactly one of the two
    tables.

    Parameters
    ----------
    sites : pandas.DataFrame
        One row per stimulation site.
    units, visits : optional
        As for :func:`validate`.

    Returns
    -------
    valid : pandas.DataFrame
        As :func:`validate` returns it, for the accepted rows only; ``input_row`` keeps each
        row's position in ``sites``.
    rejected : pandas.DataFrame
        Columns :data:`REJECTED_COLUMNS`: one row per rejected input row, in input order,
        with its key values as written and its ``problems`` in words (a row rejected because
        another row of its nerve is invalid says which).

    Raises
    ------
    ValidationError
        For problems of the whole table (a required column missing, an unknown unit), where
        no row can be checked.

    Examples
    --------
    >>> import pandas as pd
    >>> sites = pd.DataFrame({
    ...     "patient_id": ["P1"] * 4, "nerve": ["ulnar", "ulnar", "median", "median"],
    ...     "side": "R", "site": ["wrist", "below elbow", "wrist", "elbow"],
    ...     "latency_ms": [2.9, 7.0, 3.5, "oops"], "amplitude_mv": [10.0, 3.0, 9.0, 8.5]})
    >>> valid, rejected = split_invalid(sites)
    >>> valid["input_row"].tolist(), rejected["input_row"].tolist()
    ([0, 1], [2, 3])
    >>> rejected["problems"].tolist()[1].split(" (")[0]
    "column 'latency_ms': not a number"
    """
    valid, rejected, _ = _split_invalid(sites, units, visits)
    warn_implausible(valid)  # as validate() does: values that look like another unit
    return valid, rejected


def checked_sites(
    sites: pd.DataFrame,
    units: Mapping[str, str] | None,
    errors: str,
    visits: Sequence[str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray, np.ndarray | None]:
    """For the analysis pipeline: validated sites, rejected rows, nerve ids and site order.

    ``errors`` is ``"raise"`` (:func:`validate`) or ``"collect"`` (:func:`split_invalid`).
    Returns the two tables, each valid row's nerve id (dense, in key order) and the
    permutation putting the valid rows in nerve and site order (None: already in it), so
    that later steps need not sort or factorise the keys again.
    """
    if errors == "collect":
        valid, rejected, checked = _split_invalid(sites, units, visits)
    elif errors == "raise":
        checked = _validate(sites, units, visits)
        if checked.problems:
            raise ValidationError(checked.problems)
        valid, rejected = checked.valid, empty_rejected()
    else:
        raise ValueError(f"errors must be 'raise' or 'collect', got {errors!r}")
    return valid, rejected, checked.nerve_id, checked.site_sort


def _split_invalid(
    sites: pd.DataFrame, units: Mapping[str, str] | None, visits: Sequence[str] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, _Checked]:
    n = len(sites) if isinstance(sites, pd.DataFrame) else 0
    positions = np.arange(n, dtype=np.int64)
    current = sites
    reject = np.zeros(n, dtype=bool)
    messages: dict[int, list[str]] = {}
    while True:
        checked = _validate(current, units, visits)
        if not checked.problems:
            break
        if any(p.row is None for p in checked.problems):
            raise ValidationError([p for p in checked.problems if p.row is None])
        bad_local = np.zeros(len(current), dtype=bool)
        for prob in checked.problems:
            bad_local[prob.row] = True
            where = f"column {prob.column!r}: " if prob.column else ""
            messages.setdefault(int(positions[prob.row]), []).append(where + prob.message)
        nid, keyed = checked.nerve_id, checked.keyed
        bad_nerve = np.zeros(int(nid.max(initial=-1)) + 1, dtype=bool)
        bad_nerve[nid[bad_local & keyed]] = True
        first_bad = np.full(bad_nerve.size, n, dtype=np.int64)
        np.minimum.at(first_bad, nid[bad_local & keyed], positions[bad_local & keyed])
        # a row whose patient, visit, nerve or side cannot be read belongs to no nerve, but
        # the nerve it was a site of lost that site: the nerves it may belong to go too
        unkeyed_first = _nerves_of_unkeyed(
            checked, np.flatnonzero(bad_local & ~keyed), bad_nerve.size
        )
        maybe = (unkeyed_first >= 0) & ~bad_nerve
        bad_nerve |= maybe
        drop = bad_local | (keyed & bad_nerve[nid])
        for i in np.flatnonzero(drop & ~bad_local):  # rejected rows only (few)
            if maybe[nid[i]]:
                row = int(positions[unkeyed_first[nid[i]]])
                messages[int(positions[i])] = [
                    "a row whose patient, visit, nerve or side cannot be read may be a site "
                    f"of this nerve (row {row})"
                ]
                continue
            row = int(first_bad[nid[i]])
            messages[int(positions[i])] = [f"another row of this nerve is invalid (row {row})"]
        reject[positions[drop]] = True
        positions = positions[~drop]
        current = sites.iloc[positions]
    valid = checked.valid
    valid["input_row"] = positions[valid["input_row"].to_numpy()]
    return valid, _rejected_table(sites, np.flatnonzero(reject), messages), checked


def _nerves_of_unkeyed(checked: _Checked, rows: np.ndarray, n_nerves: int) -> np.ndarray:
    """Per nerve, the first of ``rows`` (rows whose patient, visit, nerve or side cannot be
    read) that may be one of its sites; -1 for none.

    A row may be a site of its patient's nerves that agree with the keys it has (a misspelt
    nerve name: the patient's nerves on that side); a row without a patient takes the
    patient :func:`stand_in_patients` gives it (none: it goes alone). Of these nerves, one
    that has the row's site already, or for which that site name is not one of its sites,
    did not lose it and is kept.
    """
    first = np.full(n_nerves, -1, dtype=np.int64)
    if not rows.size or not checked.key_codes or checked.text is None:
        return first
    codes = np.stack(checked.key_codes, axis=1)
    keyed, nerve_id = checked.keyed, checked.nerve_id
    n = codes.shape[0]
    # a row without a patient: the patient of the row beside it (stand_in_patients); a row
    # with neither is set aside alone
    anchor = _stand_in(codes[:, 0], codes[:, -2], codes[:, -1], keyed)
    has = anchor >= 0
    codes[has, 0] = codes[anchor[has], 0]
    rows = rows[codes[rows, 0] >= 0]
    known = codes[rows] >= 0
    kept = np.flatnonzero(keyed)
    found_u: list[np.ndarray] = [np.zeros(0, dtype=np.int64)]
    found_j: list[np.ndarray] = [np.zeros(0, dtype=np.int64)]
    for pattern in np.unique(known, axis=0):
        sel = rows[(known == pattern).all(axis=1)]
        cols = np.flatnonzero(pattern)
        names = [f"k{c}" for c in cols]
        left = pd.DataFrame(codes[np.ix_(sel, cols)], columns=names).assign(u=sel)
        right = pd.DataFrame(codes[np.ix_(kept, cols)], columns=names).assign(j=kept)
        pairs = left.merge(right, on=names)  # the patient's nerves that agree with the row
        found_u.append(pairs["u"].to_numpy(dtype=np.int64))
        found_j.append(pairs["j"].to_numpy(dtype=np.int64))
    u, j = np.concatenate(found_u), np.concatenate(found_j)
    u, j = _could_lose_site(checked.text, nerve_id, keyed, u, j)
    if u.size:
        lowest = np.full(n_nerves, n, dtype=np.int64)
        np.minimum.at(lowest, nerve_id[j], u)
        first = np.where(lowest < n, lowest, -1)
    return first


def _could_lose_site(
    text: Mapping[str, _Coded],
    nerve_id: np.ndarray,
    keyed: np.ndarray,
    u: np.ndarray,
    j: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The (row, nerve row) pairs whose nerve may be missing the row's site: it has no site of
    that name, and the name is one of its sites (or either is not in :data:`SITE_RANK`)."""
    site = np.asarray(text["site"].codes, dtype=np.int64)
    if not u.size:
        return u, j
    n_sites = len(text["site"].categories) + 1
    has = np.unique(nerve_id[keyed] * n_sites + site[keyed] + 1)
    lacks = ~np.isin(nerve_id[j] * n_sites + site[u] + 1, has) | (site[u] < 0)
    nerve_names, site_names = text["nerve"].categories, text["site"].categories
    nerve = np.asarray(text["nerve"].codes, dtype=np.int64)[j]
    listed = {name for ranks in SITE_RANK.values() for name in ranks}
    table = np.ones((len(nerve_names) + 1, n_sites), dtype=bool)  # code -1: any
    for a, nerve_name in enumerate(nerve_names):
        ranks = SITE_RANK.get(nerve_name)
        if ranks:
            for b, site_name in enumerate(site_names):
                table[a, b] = site_name in ranks or site_name not in listed
    fits = table[nerve, site[u]]
    keep = lacks & fits
    return u[keep], j[keep]


def _rejected_table(
    sites: pd.DataFrame, rows: np.ndarray, messages: Mapping[int, list[str]]
) -> pd.DataFrame:
    if rows.size == 0:
        return empty_rejected()
    raw, _ = check_cells(_canonical_columns(sites).iloc[rows], REJECTED_COLUMNS)
    data: dict[str, object] = {"input_row": rows.astype(np.int64)}
    for col in REJECTED_COLUMNS[1:-1]:
        if col in raw.columns:
            data[col] = pd.array(_Text(raw[col]).map(_text_of, None), dtype="string")
        else:
            data[col] = pd.array([None] * rows.size, dtype="string")
    data["problems"] = pd.array(["; ".join(messages[int(r)]) for r in rows], dtype="string")
    return pd.DataFrame(data)


class _Checked(NamedTuple):
    valid: pd.DataFrame | None
    problems: list[Problem]
    nerve_id: np.ndarray
    keyed: np.ndarray
    site_sort: np.ndarray | None = None
    """Rows in nerve order, distal to proximal within a nerve (None: already in order)."""
    key_codes: tuple[np.ndarray, ...] = ()
    """Each row's codes of patient, [visit,] nerve and side (-1: missing or unknown)."""
    text: Mapping[str, _Coded] | None = None
    """The text columns as codes (nerve and site names read for rows without a nerve)."""


def _sort_by_nerve_and_site(nerve_id: np.ndarray, order: np.ndarray) -> np.ndarray | None:
    """Stable permutation sorting rows by (nerve id, site order); None when already sorted."""
    key = combined_key([nerve_id, order])
    if key is None:
        return np.lexsort((order, nerve_id))
    if key.size < 2 or bool((key[1:] >= key[:-1]).all()):
        return None
    return np.argsort(key, kind="stable")


def _validate(
    sites: pd.DataFrame,
    units: Mapping[str, str] | None,
    visits: Sequence[str] | None = None,
) -> _Checked:
    """Validation proper: the valid table, or None and every row-level problem.

    Table-level problems (missing columns, unknown units) raise at once: nothing can be
    checked without them. ``nerve_id``/``keyed`` say which nerve each row belongs to.
    """
    if not isinstance(sites, pd.DataFrame):
        raise ValidationError(
            [Problem(None, None, f"expected a pandas DataFrame, got {type(sites).__name__}")]
        )
    df = _canonical_columns(sites)
    problems: list[Problem] = []

    # Alternative unit-bearing column names (amplitude_uv, area_uvms, distance_cm); an
    # amplitude declared in µV by its column or headers is checked like units= (below)
    declared_by = sites.attrs.get("ncs_amplitude_declared_uv")
    if "amplitude_uv" in df.columns:
        declared_by = "the column amplitude_uv says µV: name it amplitude_mv"
    for alt, (canon, factor) in ALT_COLUMNS.items():
        if alt in df.columns:
            if canon in df.columns:
                problems.append(Problem(None, alt, f"both {alt!r} and {canon!r} given; keep one"))
                continue
            df[canon] = _scale(df.pop(alt), factor)
    if units:
        unknown = set(units) - set(_UNIT_FACTORS)
        if unknown:
            problems.append(
                Problem(
                    None,
                    None,
                    f"unknown unit keys {sorted(unknown)}; use amplitude, time, distance",
                )
            )
        else:
            try:
                df = normalize_units(df, **{k: str(v) for k, v in units.items()})
            except ValidationError as err:
                problems.extend(err.problems)

    if len(set(map(str, df.columns))) != df.shape[1]:
        problems.append(Problem(None, None, "duplicate column names"))
    missing = [c for c in REQUIRED if c not in df.columns]
    for col in missing:
        problems.append(Problem(None, col, "required column is missing"))
    order = _visit_labels(visits, "visit" in df.columns, problems)
    if problems:
        raise ValidationError(problems)

    n = len(df)
    if not isinstance(df.index, pd.RangeIndex) or not df.index.equals(pd.RangeIndex(n)):
        df = df.reset_index(drop=True)
    # number columns are read by ncs.cells (dates, spreadsheet errors and words included)
    df, cell_problems = check_cells(
        df, tuple(c for c in _BY_NAME if c not in NUMERIC and c != "study_date")
    )
    problems.extend(cell_problems)
    out: dict[str, np.ndarray] = {}

    def flag(mask: np.ndarray, col: str, message: str) -> None:
        for i in np.flatnonzero(mask):
            problems.append(Problem(int(i), col, message))

    # --- text keys: normalised once per unique value, kept as codes ----------------------
    text: dict[str, _Coded] = {}
    patient_text = _Text(df["patient_id"])
    text["patient_id"] = _coded(patient_text, _text_of)
    flag(text["patient_id"].codes < 0, "patient_id", "value is missing")
    for col, message in (
        ("nerve", "unknown nerve name"),
        ("side", "unknown side; use L or R"),
    ):
        col_text = _Text(df[col])
        blank = col_text.map(lambda u: _text_of(u) is None, True, dtype=bool)
        canon = _coded(col_text, _KEY_READERS[col])
        flag(blank, col, "value is missing")
        flag(~blank & (canon.codes < 0), col, message)
        text[col] = canon
    text["site"] = _coded(_Text(df["site"]), lambda u: canonical_site(_text_of(u)))
    flag(text["site"].codes < 0, "site", "value is missing")
    if "visit" in df.columns:
        text["visit"] = _coded(_Text(df["visit"]), _text_of)
        flag(text["visit"].codes < 0, "visit", "value is missing")
    if "study_date" in df.columns:
        iso = _dates_of(df["study_date"])
        bad = np.array([d is _NOT_A_DATE for d in iso.tolist()], dtype=bool)
        flag(bad, "study_date", "not a date: write study dates as YYYY-MM-DD (ISO 8601)")
        text["study_date"] = _coded_strings_of(np.where(bad, None, iso))

    # --- numbers, and "NR" typed into a measure of the response (ncs.cells: one rule) ---
    says_absent = np.zeros(n, dtype=bool)
    for col in NUMERIC:
        if col not in df.columns:
            continue
        cells = parse_numbers(df[col], response=col in RESPONSE_MEASURES)
        for i in np.flatnonzero(cells.errors != None):  # noqa: E711 - elementwise
            problems.append(Problem(int(i), col, str(cells.errors[i])))
        says_absent |= cells.absent
        values = cells.values
        if col != "temperature_c":
            with np.errstate(invalid="ignore"):
                flag(values < 0, col, "negative value")
        if _BY_NAME[col].kind == "int":  # whole-number keys must fit the integer site keys
            too_large = values > MAX_INTEGER
            flag(too_large, col, f"too large (at most {MAX_INTEGER})")
            values = np.where(too_large, np.nan, values)
        out[col] = values
    if "response" in df.columns:
        response = _Text(df["response"]).map(_response_code, _RESPONSE_BLANK, dtype=np.int8)
        flag(
            response == _RESPONSE_UNKNOWN,
            "response",
            "unknown response; use present or absent (NR)",
        )
        flag(
            (response == _RESPONSE_PRESENT) & says_absent,
            "response",
            "response is 'present' but a measure of this site says NR",
        )
        absent = (response == _RESPONSE_ABSENT) | says_absent
    else:
        absent = says_absent

    amp = out["amplitude_mv"]
    problems.extend(declared_unit_problems(amp, absent, units, declared_by))
    flag(
        (amp == 0) & ~absent,
        "amplitude_mv",
        "zero amplitude on a site not marked as an absent response (write response=absent or NR)",
    )
    for col, what in (("latency_ms", "latency"), ("duration_ms", "duration")):
        if col in out:
            flag((out[col] == 0) & ~absent, col, f"zero {what}")
    if "distance_mm" in out:
        flag(out["distance_mm"] == 0, "distance_mm", "zero distance")
    for col in ("amplitude_mv", "area_mvms", "pp_amplitude_mv"):
        if col in out:
            flag(absent & (out[col] > 0), col, "a value is given for an absent response")
            out[col] = np.where(absent, 0.0, out[col])
    for col in ("latency_ms", "duration_ms"):
        if col in out:
            flag(absent & (out[col] > 0), col, "a value is given for an absent response")
            out[col] = np.where(absent, np.nan, out[col])
    out.setdefault("area_mvms", np.where(absent, 0.0, np.nan))
    out.setdefault("duration_ms", np.full(n, np.nan))
    out.setdefault("distance_mm", np.full(n, np.nan))
    text["response"] = _Coded(np.where(absent, 0, 1), ["absent", "present"])
    for col in ("muscle", "sex"):
        if col in df.columns:
            text[col] = _coded(_Text(df[col]), _text_of)

    # --- visits: one date each, their order; nerves, site order, duplicates, latency order ---
    studies = _study_order(text, order)
    problems.extend(studies.problems)
    if studies.date is not None:
        text["study_date"] = _Coded(studies.date, text["study_date"].categories)
    nerve_id, keyed, key_codes = _nerve_ids(text, studies.rank)
    order, order_problems = _site_order(text, out.get("site_order"), nerve_id, keyed)
    problems.extend(order_problems)
    out["site_order"] = order
    site_sort = _sort_by_nerve_and_site(nerve_id, order)
    problems.extend(
        _check_within_nerve(out, text["site"].codes, nerve_id, keyed & (order >= 0), site_sort)
    )
    problems.extend(nerve_value_conflicts(out, nerve_id, keyed))
    problems.extend(contradictions(out, absent, nerve_id, keyed))

    if problems:
        problems.sort(key=lambda p: (-1 if p.row is None else p.row, p.column or ""))
        return _Checked(None, problems, nerve_id, keyed, key_codes=key_codes, text=text)

    valid = _assemble(df, out, text, n)
    check_valid(valid, nerve_id, site_sort)  # units that look wrong, supplied velocities
    return _Checked(valid, [], nerve_id, keyed, site_sort, key_codes, text)


#: How each key cell is read (None: missing or unknown), by validation and by
#: :func:`stand_in_patients`.
_KEY_READERS = {
    "patient_id": _text_of,
    "visit": _text_of,
    "nerve": lambda u: NERVE_ALIASES.get(clean_name(_text_of(u) or "")),
    "side": lambda u: SIDE_ALIASES.get(clean_name(_text_of(u) or "")),
}


def stand_in_patients(sites: pd.DataFrame) -> tuple[pd.Series, np.ndarray]:
    """For each row whose patient id cannot be read, the patient it is taken to belong to
    when its invalid row is set aside (``errors="collect"``), and the row that says so.

    That is the patient of the row before it, else of the row after it, when that row has
    every key (patient, visit, nerve, side) and agrees with the keys this row has: rows of
    a nerve are written together. The nerves of that patient this row may be a site of are
    then set aside with it (:func:`split_invalid`). ``ncs.dask`` sends such a row to that
    patient's partition.

    Returns
    -------
    patients : pandas.Series
        Per row (``sites``' index): its own patient id, the stand-in one, or missing.
    anchor : numpy.ndarray of int64
        Per row: the position of the row the stand-in was read from (-1: none, or the row
        has its own patient id).
    """
    df = _canonical_columns(sites).reset_index(drop=True)
    keys = [c for c in ("patient_id", "visit", "nerve", "side") if c in df.columns]
    coded = {c: _coded(_Text(df[c]), _KEY_READERS[c]) for c in keys}
    codes = tuple(np.asarray(coded[c].codes, dtype=np.int64) for c in keys)
    if "patient_id" not in coded or not len(df):
        return pd.Series(pd.NA, index=sites.index, dtype=object), np.full(len(df), -1)
    keyed = np.logical_and.reduce([c >= 0 for c in codes])
    by_name = dict(zip(keys, codes, strict=True))
    missing = np.full(len(df), -1, dtype=np.int64)
    anchor = _stand_in(codes[0], by_name.get("nerve", missing), by_name.get("side", missing), keyed)
    pid = codes[0].copy()
    pid[anchor >= 0] = codes[0][anchor[anchor >= 0]]
    names = np.array([*coded["patient_id"].categories, pd.NA], dtype=object)
    return pd.Series(names[pid], index=sites.index, dtype=object), anchor


def _stand_in(
    patient: np.ndarray, nerve: np.ndarray, side: np.ndarray, keyed: np.ndarray
) -> np.ndarray:
    """Per row without a patient (code -1), the row before it, else after it, that has every
    key and the row's nerve and side where the row has them (-1: none)."""
    n = patient.size
    anchor = np.full(n, -1, dtype=np.int64)
    rows = np.flatnonzero(patient < 0)
    for step in (-1, 1):  # the row after, then the row before (which wins)
        j = rows - step
        inside = (j >= 0) & (j < n)
        jj = np.where(inside, j, 0)
        same = ((nerve[jj] == nerve[rows]) | (nerve[rows] < 0)) & (
            (side[jj] == side[rows]) | (side[rows] < 0)
        )
        agree = inside & keyed[jj] & same
        anchor[rows[agree]] = j[agree]
    return anchor


def _canonical_columns(sites: pd.DataFrame) -> pd.DataFrame:
    """Copy with known columns renamed from case/space variants (``Amplitude_mV``)."""
    known = {c.name for c in COLUMNS} | set(ALT_COLUMNS)
    rename = {}
    present = set(map(str, sites.columns))
    for col in sites.columns:
        key = str(col).strip().lower().replace(" ", "_")
        if key != col and key in known and key not in present:
            rename[col] = key
    return sites.rename(columns=rename) if rename else sites.copy(deep=False)


def _nerve_ids(
    text: dict[str, _Coded], visit_rank: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, ...]]:
    """Id per row of its (patient, [visit,] nerve, side), whether all keys are known, and
    the key codes (-1: missing or unknown).

    Ids follow the key order; a visit is placed by ``visit_rank`` (its place among the
    patient's visits, :func:`_study_order`), so a patient's visits come in their order.
    """
    codes = [text[c].codes for c in NERVE_KEYS]
    if visit_rank is not None:
        codes.insert(1, visit_rank)
    keyed = np.logical_and.reduce([c >= 0 for c in codes])
    return row_ids(codes), keyed, tuple(np.asarray(c, dtype=np.int64) for c in codes)


def _site_order(
    text: dict[str, _Coded],
    given: np.ndarray | None,
    nerve_id: np.ndarray,
    keyed: np.ndarray,
) -> tuple[np.ndarray, list[Problem]]:
    """Explicit site_order where the whole nerve has one; else derived from site names.

    Returns the order per row (-1 where unknown) and the problems found.
    """
    problems: list[Problem] = []
    n = len(nerve_id)
    if given is not None:
        with np.errstate(invalid="ignore"):
            not_int = ~np.isnan(given) & (given != np.round(given))
        for i in np.flatnonzero(not_int):
            problems.append(Problem(int(i), "site_order", "site_order must be a whole number"))
        has = ~np.isnan(given)
    else:
        given = np.full(n, np.nan)
        has = np.zeros(n, dtype=bool)
    n_nerves = int(nerve_id.max()) + 1 if n else 0
    n_given = np.bincount(nerve_id, weights=has, minlength=n_nerves)
    n_rows = np.bincount(nerve_id, minlength=n_nerves)
    all_given = (n_given == n_rows)[nerve_id]
    mixed = ((n_given > 0) & (n_given < n_rows))[nerve_id]
    for i in np.flatnonzero(mixed & ~has):
        problems.append(
            Problem(
                int(i),
                "site_order",
                "site_order is missing here but given for other sites of this nerve",
            )
        )
    nerve, site = text["nerve"], text["site"]
    rank = site_rank_codes(nerve.codes, nerve.categories, site.codes, site.categories)
    need = ~all_given & ~mixed
    unknown = need & np.isnan(rank) & (nerve.codes >= 0) & (site.codes >= 0)
    for i in np.flatnonzero(unknown):
        problems.append(
            Problem(
                int(i),
                "site",
                "cannot derive site_order from this site name for this nerve; "
                "give a site_order column",
            )
        )
    # Derived orders become positions 0..k-1 within the nerve; explicit orders are kept.
    final = given.copy()
    derive = np.flatnonzero(~all_given)
    if derive.size:
        final[derive] = _dense_rank_within(nerve_id[derive], rank[derive])
    final = np.where(np.isnan(final) | ~keyed, -1, final)
    return final.astype(np.int64), problems


def _dense_rank_within(group: np.ndarray, key: np.ndarray) -> np.ndarray:
    """0-based dense rank of ``key`` within each group (NaN keys -> NaN)."""
    n = len(group)
    result = np.full(n, np.nan)
    ok = ~np.isnan(key)
    idx = np.flatnonzero(ok)
    if idx.size == 0:
        return result
    srt = idx[np.lexsort((key[idx], group[idx]))]
    g, k = group[srt], key[srt]
    new_group = np.r_[True, g[1:] != g[:-1]]
    new_value = new_group | np.r_[True, k[1:] != k[:-1]]
    c = np.cumsum(new_value)
    start = np.maximum.accumulate(np.where(new_group, c, 0))
    result[srt] = c - start
    return result


def _check_within_nerve(
    out: dict[str, np.ndarray],
    site_codes: np.ndarray,
    nerve_id: np.ndarray,
    usable: np.ndarray,
    site_sort: np.ndarray | None,
) -> list[Problem]:
    """Duplicate sites/orders, and proximal latencies that are not after distal ones.

    ``site_sort`` orders all rows by nerve, then site order (None: they are in that order).
    """
    problems: list[Problem] = []
    rows = np.flatnonzero(usable)
    if rows.size == 0:
        return problems
    nid = nerve_id[rows]
    site_codes = site_codes[rows]
    order = out["site_order"][rows]

    def duplicated(key2: np.ndarray) -> np.ndarray:
        """Rows whose (nerve, key2) an earlier row already has (hashing, no sort)."""
        key = combined_key([nid, key2])
        if key is None:
            return pd.DataFrame({"n": nid, "k": key2}).duplicated().to_numpy()
        small_range = key.size and int(key.max()) < 8 * key.size + 4096
        if small_range and np.bincount(key).max() < 2:  # the usual case: no repeats
            return np.zeros(key.size, dtype=bool)
        if key.size < _SMALL_TABLE:  # a sort is cheaper than a hash table here
            dup = np.ones(key.size, dtype=bool)
            dup[np.unique(key, return_index=True)[1]] = False
            return dup
        return pd.Series(key).duplicated().to_numpy()

    dup_site = duplicated(site_codes)
    for i in rows[dup_site]:
        problems.append(Problem(int(i), "site", "a second row for the same site of this nerve"))
    dup_order = duplicated(order) & ~dup_site
    for i in rows[dup_order]:
        problems.append(Problem(int(i), "site_order", "two sites of this nerve share a site_order"))
    # Latency order among the remaining rows (a duplicated order has no place in the order).
    clash = dup_site | dup_order
    keep = np.zeros(len(nerve_id), dtype=bool)
    keep[rows[~clash]] = True
    keep &= ~np.isnan(out["latency_ms"])
    srt = np.flatnonzero(keep) if site_sort is None else site_sort[keep[site_sort]]
    lat = out["latency_ms"][srt]
    same_nerve = nerve_id[srt][1:] == nerve_id[srt][:-1]
    not_after = same_nerve & (lat[1:] <= lat[:-1])
    for k in np.flatnonzero(not_after):
        problems.append(
            Problem(
                int(srt[k + 1]),
                "latency_ms",
                "proximal latency is not longer than the latency at the more distal site "
                f"(row {int(srt[k])}); sites mislabelled or misordered?",
            )
        )
    return problems


def _assemble(
    df: pd.DataFrame, out: dict[str, np.ndarray], text: dict[str, _Coded], n: int
) -> pd.DataFrame:
    """The validated table: known columns in order, then input_row, then extra columns.

    Text columns are categoricals over their sorted distinct values.
    """
    data: dict[str, object] = {}
    for c in COLUMNS:
        if c.name in text:
            coded = text[c.name]
            data[c.name] = from_codes(coded.codes, coded.categories)
            continue
        if c.name in out:
            values = out[c.name]
        elif c.name in df.columns:
            values = _own_copy(df[c.name])
        else:
            continue
        if c.name == "site_order":
            values = values.astype(np.int64)
        data[c.name] = values
    data["input_row"] = np.arange(n, dtype=np.int64)
    for col in df.columns:
        if col not in data:
            data[col] = _own_copy(df[col])
    return new_table(data, n)


def _own_copy(column: pd.Series) -> np.ndarray | pd.api.extensions.ExtensionArray:
    """A column's values as a copy (the input's arrays are never shared), dtype kept."""
    if isinstance(column.dtype, np.dtype):
        return column.to_numpy(copy=True)
    return column.array.copy()
