"""Wide spreadsheets <-> the tidy sites table.

Most EDX data lives in wide spreadsheets: one row per patient (headers such as
``R median wrist amp``, ``Median_L_Elbow_Lat_ms``, ``L Ulnar B.Elbow Area``) or one row per
nerve (identity columns ``side`` and ``nerve``, headers such as ``wrist amp (mV)``).
:func:`from_wide` turns either layout into the tidy table (one row per stimulation site);
:func:`to_wide` goes back.

The mapping format
------------------
A mapping says what each measurement header holds: ``{header: spec}`` where ``spec`` is

* a :class:`WideColumn` (``measure``, ``side``, ``nerve``, ``site``, ``factor``);
* a tuple ``(side, nerve, site, measure)``, any of the first three ``None`` when it comes
  from an identity column (or, for nerve-level measures such as ``f_latency_ms``, ``site``
  is ``None``);
* a dict with those keys (and optionally ``factor``);
* ``None``: leave this header out of the tidy table on purpose (it still passes through
  nowhere; you said so).

``measure`` is a tidy column name (``amplitude_mv``, ``latency_ms``, ``area_mvms``,
``duration_ms``, ``distance_mm``, ``response``, ``f_latency_ms``, ...) or a unit-bearing
variant (``amplitude_uv``, ``area_uvms``, ``distance_cm``), or a word the detector knows
(``amp``, ``lat``, ``dur``, ...). Headers not in the mapping are detected from their words.

Header detection
----------------
A header is split into words (spaces, ``_``, ``.``, ``-``, brackets) and read by longest
match against the name tables of :mod:`ncs.names` (sides, nerves, sites), the measure words
below, unit words (``mV``, ``uV``, ``ms``, ``mm``, ``cm``, ``mV·ms``, ``%``) and filler words
(``cmap``, ``motor``, ``stim``). A header whose words are all known and include a measure is
a measurement; a unit word converts to the canonical unit (``amp uV`` is divided by 1000).
A header with some known words and some unknown is an error, never guessed at. A header with
no measurement words is an identity column: ``patient_id`` (``patient``, ``id``, ``subject``,
``MRN``...), ``side``, ``nerve``, ``site``, demographic columns (``age``, ``height``,
``sex``, ``temperature``), and anything else passes through to every tidy row of its wide
row under its own name. Conduction velocities (``CV``, ``NCV``) are derived by ncs from
latencies and distances; such headers are listed in :attr:`WidePlan.ignored`, not used.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from ncs.cells import RESPONSE_MEASURES, parse_numbers
from ncs.errors import Problem, ValidationError
from ncs.names import (
    MUSCLE_ALIASES,
    NERVE_ALIASES,
    SIDE_ALIASES,
    SITE_ALIASES,
    clean_name,
    site_rank_array,
)
from ncs.schema import ALT_COLUMNS

__all__ = [
    "WideColumn",
    "WidePlan",
    "detect_wide_columns",
    "from_wide",
    "read_mapping",
    "to_wide",
]

#: Measures that belong to a stimulation site (a header must name a site or have a site column).
SITE_MEASURES: tuple[str, ...] = (
    "latency_ms",
    "amplitude_mv",
    "area_mvms",
    "duration_ms",
    "distance_mm",
    "pp_amplitude_mv",
    "total_duration_ms",
    "peak_latency_ms",
    "response",
)
#: Measures of a whole nerve (written on the nerve's most distal row when no site is named).
NERVE_MEASURES: tuple[str, ...] = (
    "f_latency_ms",
    "f_persistence_pct",
    "distal_duration_ms",
    "lff_hz",
    "muscle",
    "temperature_c",
)
_TEXT_MEASURES = frozenset({"response", "muscle"})

# measure words (cleaned phrases) -> tidy column
_MEASURE_WORDS: dict[str, str] = {
    **dict.fromkeys(
        (
            "amp",
            "ampl",
            "amplitude",
            "cmap amp",
            "cmap amplitude",
            "neg amp",
            "np amp",
            "neg peak amp",
            "negative peak amplitude",
            "negative amplitude",
            "peak amp",
            "peak amplitude",
            "base peak amp",
            "baseline peak amp",
            "b p amp",
            "bp amp",
        ),
        "amplitude_mv",
    ),
    **dict.fromkeys(
        (
            "pp amp",
            "p p amp",
            "pp amplitude",
            "peak to peak amp",
            "peak to peak amplitude",
            "peak peak amp",
            "pk pk amp",
            "ptp amp",
        ),
        "pp_amplitude_mv",
    ),
    **dict.fromkeys(
        (
            "lat",
            "latency",
            "onset latency",
            "onset lat",
            "onset",
            "lat onset",
            "latency onset",
            "on lat",
        ),
        "latency_ms",
    ),
    # a peak latency is not an onset latency: its own column, never latency_ms
    **dict.fromkeys(
        (
            "peak lat",
            "peak latency",
            "pk lat",
            "pk latency",
            "lat peak",
            "latency peak",
            "neg peak lat",
            "neg peak latency",
            "negative peak latency",
            "np lat",
            "np latency",
        ),
        "peak_latency_ms",
    ),
    **dict.fromkeys(
        ("area", "neg area", "np area", "negative peak area", "negative area"), "area_mvms"
    ),
    **dict.fromkeys(
        ("dur", "duration", "neg dur", "np dur", "negative peak duration", "neg duration"),
        "duration_ms",
    ),
    **dict.fromkeys(("total dur", "total duration"), "total_duration_ms"),
    **dict.fromkeys(("distal dur", "distal duration"), "distal_duration_ms"),
    **dict.fromkeys(("dist", "distance"), "distance_mm"),
    **dict.fromkeys(("response", "resp"), "response"),
    **dict.fromkeys(
        (
            "f lat",
            "f latency",
            "f wave",
            "fwave",
            "f wave lat",
            "f wave latency",
            "fwave lat",
            "fwave latency",
            "min f",
            "f min",
            "min f lat",
        ),
        "f_latency_ms",
    ),
    **dict.fromkeys(
        ("f persistence", "f pers", "f persist", "f wave persistence", "fwave persistence"),
        "f_persistence_pct",
    ),
    **dict.fromkeys(("lff", "low frequency filter", "high pass"), "lff_hz"),
    **dict.fromkeys(("muscle", "rec muscle", "recording muscle"), "muscle"),
}
# tidy column names as written by to_wide / typed by users (``amplitude_mv`` -> words)
for _col in (*SITE_MEASURES, *NERVE_MEASURES):
    _MEASURE_WORDS.setdefault(clean_name(_col), _col)
_MEASURE_WORDS.setdefault("temperature", "temperature_c")

# unit words -> (quantity, factor to the canonical unit)
_UNITS: Mapping[str, tuple[str, float]] = MappingProxyType(
    {
        "mv": ("amplitude", 1.0),
        "uv": ("amplitude", 1e-3),
        "µv": ("amplitude", 1e-3),
        "μv": ("amplitude", 1e-3),
        "ms": ("time", 1.0),
        "msec": ("time", 1.0),
        "msecs": ("time", 1.0),
        "millisecond": ("time", 1.0),
        "milliseconds": ("time", 1.0),
        "s": ("time", 1e3),
        "sec": ("time", 1e3),
        "secs": ("time", 1e3),
        "us": ("time", 1e-3),
        "µs": ("time", 1e-3),
        "μs": ("time", 1e-3),
        "mm": ("distance", 1.0),
        "cm": ("distance", 10.0),
        "mvms": ("area", 1.0),
        "mv ms": ("area", 1.0),
        "mv msec": ("area", 1.0),
        "uvms": ("area", 1e-3),
        "uv ms": ("area", 1e-3),
        "%": ("percent", 1.0),
        "pct": ("percent", 1.0),
        "hz": ("frequency", 1.0),
        "c": ("temperature", 1.0),
    }
)
_QUANTITY: Mapping[str, str] = MappingProxyType(
    {
        "amplitude_mv": "amplitude",
        "pp_amplitude_mv": "amplitude",
        "area_mvms": "area",
        "latency_ms": "time",
        "duration_ms": "time",
        "total_duration_ms": "time",
        "distal_duration_ms": "time",
        "f_latency_ms": "time",
        "distance_mm": "distance",
        "f_persistence_pct": "percent",
        "lff_hz": "frequency",
        "temperature_c": "temperature",
        "peak_latency_ms": "time",
    }
)
_DERIVED = frozenset({"cv", "ncv", "velocity", "conduction velocity", "cv m s", "m s"})
#: Words of a change between two sites (ncs computes changes from the sites' values).
_CHANGE = frozenset(
    {"drop", "decrement", "diff", "difference", "ratio", "change", "reduction", "decay", "delta"}
)
_FILLER = frozenset({"cmap", "motor", "stim", "stimulation", "value", "mcv", "mncs", "ncs"})

_IDENTITY: Mapping[str, str] = MappingProxyType(
    {
        **dict.fromkeys(
            (
                "patient id",
                "patient",
                "id",
                "subject",
                "subject id",
                "pid",
                "mrn",
                "study id",
                "case",
                "case id",
                "patient no",
                "patient number",
                "patientid",
            ),
            "patient_id",
        ),
        **dict.fromkeys(
            ("visit", "visit label", "visit id", "visit name", "timepoint", "time point"),
            "visit",
        ),
        **dict.fromkeys(
            ("study date", "exam date", "examination date", "visit date", "test date"),
            "study_date",
        ),
        "side": "side",
        "nerve": "nerve",
        "nerve name": "nerve",
        **dict.fromkeys(("site", "stim site", "stimulation site", "site name"), "site"),
        "site order": "site_order",
        **dict.fromkeys(("age", "age years"), "age_years"),
        **dict.fromkeys(("height", "height cm"), "height_cm"),
        **dict.fromkeys(("sex", "gender"), "sex"),
        **dict.fromkeys(
            ("temperature", "temp", "temperature c", "temp c", "limb temperature"),
            "temperature_c",
        ),
        **dict.fromkeys(("muscle", "recording muscle"), "muscle"),
    }
)

# one phrase table: cleaned phrase -> (kind, value); earlier kinds win on a clash
_PHRASES: dict[str, tuple[str, Any]] = {}
for _kind, _table in (
    ("measure", _MEASURE_WORDS),
    ("site", SITE_ALIASES),
    ("nerve", NERVE_ALIASES),
    ("side", SIDE_ALIASES),
    ("unit", _UNITS),
    ("derived", dict.fromkeys(_DERIVED, True)),
    ("change", dict.fromkeys(_CHANGE, True)),
    ("filler", dict.fromkeys(_FILLER, True)),
    ("muscle", MUSCLE_ALIASES),
):
    for _phrase, _value in _table.items():
        _PHRASES.setdefault(_phrase, (_kind, _value))
_MAX_WORDS = max(len(p.split()) for p in _PHRASES)
_SPLIT = re.compile(r"[^0-9a-zµμ%]+")


@dataclass(frozen=True, slots=True, repr=False)
class WideColumn:
    """What one wide header holds.

    Attributes
    ----------
    measure : str
        Tidy column name (``amplitude_mv``, ``latency_ms``, ``f_latency_ms``, ...).
    side, nerve, site : str or None
        Fixed by the header; ``None`` when taken from an identity column of each row (for
        nerve-level measures ``site`` may stay ``None``).
    factor : float
        Multiplies the cell values into the canonical unit (e.g. 0.001 for µV).
    muscle : str or None
        Recording muscle named by the header (``APB``, ``EDB``, ...), written into the
        ``muscle`` column of the nerve's rows.
    segment : tuple of two str, or None
        For a segment distance (``Wrist-Elbow Dist``): the two sites as written. The value
        goes to the more proximal site's ``distance_mm`` (the distance from the next more
        distal site), and ``site`` is ``None``.
    """

    measure: str
    side: str | None = None
    nerve: str | None = None
    site: str | None = None
    factor: float = 1.0
    muscle: str | None = None
    segment: tuple[str, str] | None = None

    def __repr__(self) -> str:
        names = ("measure", "side", "nerve", "site", "factor", "muscle", "segment")
        shown = [
            f"{n}={getattr(self, n)!r}"
            for n in names
            if n in ("measure", "side", "nerve", "site", "factor") or getattr(self, n) is not None
        ]
        return f"WideColumn({', '.join(shown)})"


@dataclass(frozen=True)
class WidePlan:
    """How :func:`from_wide` reads each header (see :func:`detect_wide_columns`).

    Attributes
    ----------
    measures : dict
        Header -> :class:`WideColumn` for every measurement header.
    identity : dict
        Header -> tidy name (``patient_id``, ``side``, ``nerve``, ``site``, ``age_years``...)
        or the header itself for a pass-through column.
    ignored : dict
        Header -> why it is not used (derived quantities such as conduction velocity, and
        headers mapped to ``None``).
    problems : list of Problem
        Headers that look like measurements but cannot be read (row ``None``).
    """

    measures: dict[str, WideColumn] = field(default_factory=dict)
    identity: dict[str, str] = field(default_factory=dict)
    ignored: dict[str, str] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


def _words(header: str) -> list[str]:
    text = str(header).lower().replace("'", "").replace("·", " ").replace("*", " ")
    text = text.replace("/", " ")
    return [w for w in _SPLIT.split(text) if w]


def _parse_header(header: str) -> tuple[dict[str, list[Any]], list[str]]:
    """Longest-match reading of a header: found names by kind, and the unknown words."""
    words = _words(header)
    found: dict[str, list[Any]] = {}
    unknown: list[str] = []
    i = 0
    while i < len(words):
        for size in range(min(_MAX_WORDS, len(words) - i), 0, -1):
            phrase = " ".join(words[i : i + size])
            if phrase in _PHRASES:
                kind, value = _PHRASES[phrase]
                found.setdefault(kind, []).append(value)
                i += size
                break
        else:
            unknown.append(words[i])
            i += 1
    return found, unknown


def _read_header(header: str) -> WideColumn | str | Problem | None:
    """A WideColumn, ``"derived"`` or ``"change"``, a Problem, or None (not a measurement)."""
    found, unknown = _parse_header(header)
    if "change" in found:
        return "change"
    if "derived" in found and not ({"measure"} & set(found)):
        return "derived"
    measures = found.get("measure", [])
    if not measures:
        if ("unit" in found or "site" in found) and len(found) > 1:
            return Problem(None, header, "looks like a measurement but names no measure")
        return None
    for kind in ("measure", "side", "nerve", "unit", "muscle"):
        if len(set(map(str, found.get(kind, [])))) > 1:
            return Problem(None, header, f"names more than one {kind}")
    if unknown:
        return Problem(None, header, f"cannot read the word(s) {' '.join(unknown)!r}")
    measure = measures[0]
    factor = 1.0
    if "unit" in found:
        quantity, factor = found["unit"][0]
        if _QUANTITY.get(measure) != quantity:
            return Problem(None, header, f"unit does not fit the measure {measure}")
    sites = list(dict.fromkeys(found.get("site", [])))
    site, segment = (sites or [None])[0], None
    if len(sites) == 2:
        if measure != "distance_mm":
            return Problem(
                None,
                header,
                "names two sites: only a distance belongs to a segment ('Wrist-Elbow Dist'); "
                "changes between sites are computed by ncs",
            )
        site, segment = None, (sites[0], sites[1])
    elif len(sites) > 2:
        return Problem(None, header, "names more than two sites")
    return WideColumn(
        measure=measure,
        side=(found.get("side") or [None])[0],
        nerve=(found.get("nerve") or [None])[0],
        site=site,
        factor=factor,
        muscle=(found.get("muscle") or [None])[0],
        segment=segment,
    )


#: Identity columns a mapping entry may name instead of a measure.
_IDENTITY_TARGETS = frozenset(
    {
        "patient_id",
        "visit",
        "study_date",
        "side",
        "nerve",
        "site",
        "site_order",
        "age_years",
        "height_cm",
        "sex",
    }
)
_SPEC_KEYS = frozenset({"measure", "column", "side", "nerve", "site", "factor", "unit", "muscle"})


def _spec(header: str, spec: Any) -> WideColumn | str | Problem:
    """A user's mapping entry as a WideColumn (or an identity target such as ``patient_id``)."""
    if isinstance(spec, str):
        if spec in _IDENTITY_TARGETS:
            return spec
        spec = {"measure": spec}
    if isinstance(spec, WideColumn):
        col = spec
    elif isinstance(spec, Mapping):
        spec = {k: v for k, v in spec.items() if v is not None and v != ""}
        if "column" in spec:
            spec["measure"] = spec.pop("column")
        if set(spec) - _SPEC_KEYS or "measure" not in spec:
            return Problem(
                None, header, f"mapping entry needs 'column' and only {sorted(_SPEC_KEYS)}"
            )
        if spec["measure"] in _IDENTITY_TARGETS and len(spec) == 1:
            return str(spec["measure"])
        unit = spec.pop("unit", None)
        try:
            factor = float(spec.pop("factor", 1.0))
        except (TypeError, ValueError):
            return Problem(None, header, "mapping entry: factor must be a number")
        if unit is not None:
            known = _UNITS.get(clean_name(str(unit)).replace(" ", "")) or _UNITS.get(
                clean_name(str(unit))
            )
            if known is None:
                return Problem(None, header, f"unknown unit {unit!r} in the mapping")
            factor *= known[1]
        col = WideColumn(factor=factor, **{k: str(v) for k, v in spec.items()})
    elif isinstance(spec, tuple) and len(spec) == 4:
        col = WideColumn(side=spec[0], nerve=spec[1], site=spec[2], measure=spec[3])
    else:
        return Problem(None, header, "mapping entry must be (side, nerve, site, measure)")
    measure, factor = col.measure, col.factor
    if measure in ALT_COLUMNS:
        measure, alt = ALT_COLUMNS[measure]
        factor *= alt
    elif measure not in SITE_MEASURES and measure not in NERVE_MEASURES:
        word = _MEASURE_WORDS.get(clean_name(str(measure)))
        if word is None:
            return Problem(None, header, f"unknown measure {col.measure!r} in the mapping")
        measure = word
    side = SIDE_ALIASES.get(clean_name(col.side)) if col.side is not None else None
    nerve = NERVE_ALIASES.get(clean_name(col.nerve)) if col.nerve is not None else None
    if col.side is not None and side is None:
        return Problem(None, header, f"unknown side {col.side!r} in the mapping")
    if col.nerve is not None and nerve is None:
        return Problem(None, header, f"unknown nerve {col.nerve!r} in the mapping")
    site = None if col.site is None else SITE_ALIASES.get(clean_name(col.site), col.site)
    muscle = None
    if col.muscle is not None:
        muscle = MUSCLE_ALIASES.get(clean_name(col.muscle), col.muscle)
    return WideColumn(
        measure=measure, side=side, nerve=nerve, site=site, factor=factor, muscle=muscle
    )


def detect_wide_columns(
    columns: Iterable[Any], mapping: Mapping[str, Any] | None = None
) -> WidePlan:
    """Read the headers of a wide table: measurements, identity columns, ignored, problems.

    Parameters
    ----------
    columns : iterable
        The headers (e.g. ``df.columns``).
    mapping : mapping, optional
        Header -> spec for headers the detector cannot read or reads wrongly (see the module
        documentation for the format). Entries override detection.

    Returns
    -------
    WidePlan
        Inspect it before converting a new spreadsheet layout.

    Examples
    --------
    >>> plan = detect_wide_columns(["Patient", "R median wrist amp", "Median_L_Elbow_Lat_ms"])
    >>> plan.identity
    {'Patient': 'patient_id'}
    >>> plan.measures["Median_L_Elbow_Lat_ms"]
    WideColumn(measure='latency_ms', side='L', nerve='median', site='elbow', factor=1.0)
    """
    mapping = dict(mapping or {})
    plan = WidePlan()
    seen: dict[tuple[Any, ...], str] = {}
    for header in columns:
        name = str(header)
        if name in mapping:
            spec = mapping[name]
            result: Any = "mapped-out" if spec is None else _spec(name, spec)
        else:
            identity = _IDENTITY.get(clean_name(name))
            result = identity if identity is not None else _read_header(name)
        if result is None:
            plan.identity[name] = name
        elif result == "mapped-out":
            plan.ignored[name] = "mapped to None"
        elif result == "derived":
            plan.ignored[name] = "derived quantity (ncs computes it from latency and distance)"
        elif result == "change":
            plan.ignored[name] = "a change between sites (ncs computes it from the sites)"
        elif isinstance(result, str):
            plan.identity[name] = result
        elif isinstance(result, Problem):
            plan.problems.append(result)
        else:
            key = (
                result.measure,
                result.side,
                result.nerve,
                result.site,
                result.muscle,
                frozenset(result.segment or ()),
            )
            if key in seen:
                plan.problems.append(
                    Problem(None, name, f"holds the same measure as column {seen[key]!r}")
                )
                continue
            seen[key] = name
            plan.measures[name] = result
    targets = list(plan.identity.values())
    for target in ("patient_id", "side", "nerve", "site"):
        if targets.count(target) > 1:
            plan.problems.append(Problem(None, None, f"more than one {target} column"))
    return plan


def _scaled(values: np.ndarray, factor: float) -> np.ndarray:
    """Values times ``factor``; an exact power of ten divides (7000 µV -> 7.0 mV exactly)."""
    if factor == 1.0:
        return values
    if factor < 1.0 and abs(1.0 / factor - round(1.0 / factor)) < 1e-9:
        return values / round(1.0 / factor)
    return values * factor


def _proximal_of_pair(
    nerves: np.ndarray, pair: tuple[str, str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row: the proximal and distal site of a segment, and whether the order is known."""
    canon = np.array(
        [NERVE_ALIASES.get(clean_name(str(v)), v) if v is not None else None for v in nerves],
        dtype=object,
    )
    a, b = pair
    rank_a = site_rank_array(canon, np.full(len(canon), a, dtype=object))
    rank_b = site_rank_array(canon, np.full(len(canon), b, dtype=object))
    known = ~np.isnan(rank_a) & ~np.isnan(rank_b) & (rank_a != rank_b)
    a_proximal = rank_a > rank_b
    proximal = np.where(a_proximal, a, b).astype(object)
    distal = np.where(a_proximal, b, a).astype(object)
    return proximal, distal, known


def from_wide(
    df: pd.DataFrame,
    mapping: Mapping[str, Any] | None = None,
    *,
    patient_id: str | None = None,
) -> pd.DataFrame:
    """Convert a wide spreadsheet (one row per patient or per nerve) to the tidy sites table.

    Parameters
    ----------
    df : pandas.DataFrame
        The wide table. Identity columns (``patient_id`` and its aliases, ``side``,
        ``nerve``, ``site``) supply what a header does not name.
    mapping : mapping, optional
        Header -> ``(side, nerve, site, measure)`` (or :class:`WideColumn`, dict, ``None``)
        for headers the detector cannot read; see the module documentation and
        :func:`read_mapping` for mapping files.
    patient_id : str, optional
        The patient id when the table has no patient column (a single-patient export).

    Returns
    -------
    pandas.DataFrame
        One row per stimulation site with data: ``patient_id, nerve, side, site`` (and
        ``response`` where a cell said ``NR``), the measures in canonical units, ``muscle``
        where headers name the recording muscle, the pass-through identity columns, and
        ``wide_row`` (position of the source row). Pass it to :func:`ncs.validate` or
        :func:`ncs.analyze`.

    Raises
    ------
    ValidationError
        Listing every header that looks like a measurement but cannot be read, every cell
        that is not a number, a no-value word or (in a measure of a response) a
        no-response word (:mod:`ncs.cells`), every row with an id but no measurement, every
        nerve-level value of a nerve without sites, every segment distance whose two sites
        are not neighbours in the row, and every nerve recorded at two muscles.
        ``Problem.row`` is the position of the wide row, ``Problem.column`` the header.

    Notes
    -----
    A cell reading ``NR`` (``absent``, ``no response``) in a measure of a response marks
    that site's response absent; missing-value words (``n/a``, ``-``) leave the cell empty.
    A site whose cells are all empty is not a site (no row). Rows that are completely
    empty are skipped. Nerve-level measures (``f_latency_ms``, ...) are written on the
    nerve's most distal site row. A segment distance (``Wrist-Elbow Dist``) is the
    proximal site's ``distance_mm``. A peak latency is kept as ``peak_latency_ms``, never
    read as the onset latency.

    Examples
    --------
    >>> import pandas as pd
    >>> wide = pd.DataFrame({"patient": ["P1"], "R ulnar wrist amp": [10.0],
    ...     "R ulnar wrist lat": [3.0], "R ulnar below elbow amp": [5.0],
    ...     "R ulnar below elbow lat (ms)": [7.0]})
    >>> from_wide(wide)[["patient_id", "nerve", "side", "site", "amplitude_mv"]]
      patient_id  nerve side         site  amplitude_mv
    0         P1  ulnar    R        wrist          10.0
    1         P1  ulnar    R  below elbow           5.0
    """
    plan = detect_wide_columns(df.columns, mapping)
    problems = list(plan.problems)
    by_target = {target: header for header, target in plan.identity.items()}
    n = len(df)
    frame = df.reset_index(drop=True)
    frame.columns = [str(c) for c in frame.columns]

    def identity_values(target: str) -> np.ndarray | None:
        header = by_target.get(target)
        if header is None:
            return None
        values = frame[header].astype("string").str.strip()
        return values.to_numpy(dtype=object, na_value=None)

    patients = identity_values("patient_id")
    if patients is None:
        if patient_id is None:
            problems.append(
                Problem(
                    None,
                    "patient_id",
                    "no patient id column: name one 'patient_id' (or map a header to "
                    "patient_id in a mapping file; Python: patient_id=)",
                )
            )
        patients = np.full(n, patient_id, dtype=object)
    row_sides, row_nerves, row_sites = (identity_values(t) for t in ("side", "nerve", "site"))
    for header, col in plan.measures.items():
        for attr, values in (("side", row_sides), ("nerve", row_nerves)):
            if getattr(col, attr) is None and values is None:
                problems.append(
                    Problem(None, header, f"names no {attr} and there is no {attr} column")
                )
        if (
            col.site is None
            and col.segment is None
            and row_sites is None
            and col.measure in SITE_MEASURES
        ):
            problems.append(Problem(None, header, "names no site and there is no site column"))
    if "latency_ms" not in {c.measure for c in plan.measures.values()}:
        peak = [h for h, c in plan.measures.items() if c.measure == "peak_latency_ms"]
        if peak:
            problems.append(
                Problem(
                    None,
                    peak[0],
                    "a peak latency is not the onset latency ncs needs, and the sheet has no "
                    "onset latency column; export onset latencies (or map a header to "
                    "latency_ms if it holds onsets)",
                )
            )
    if problems:
        raise ValidationError(problems)

    pieces, nerve_pieces, muscle_pieces, segment_pieces = [], [], [], []
    wide_row = np.arange(n, dtype=np.int64)
    has_data = np.zeros(n, dtype=bool)
    for header, col in plan.measures.items():
        raw = frame[header]
        if col.measure in _TEXT_MEASURES:
            values = raw.astype("string").str.strip().to_numpy(dtype=object, na_value=None)
            absent = np.zeros(n, dtype=bool)
            given = np.array([v not in (None, "") for v in values], dtype=bool)
        else:
            cells = parse_numbers(raw, response=col.measure in RESPONSE_MEASURES)
            for i in np.flatnonzero(cells.errors != None):  # noqa: E711 - elementwise
                problems.append(Problem(int(i), header, str(cells.errors[i])))
            values, absent = _scaled(cells.values, col.factor), cells.absent
            given = ~np.isnan(values) | absent
        has_data |= given
        sides = np.full(n, col.side, dtype=object) if col.side else row_sides
        nerves = np.full(n, col.nerve, dtype=object) if col.nerve else row_nerves
        keys = {"wide_row": wide_row, "patient_id": patients, "side": sides, "nerve": nerves}
        part = pd.DataFrame({**keys, "measure": col.measure, "value": values, "absent": absent})
        if col.muscle is not None:
            muscle_pieces.append(
                pd.DataFrame({**keys, "muscle": col.muscle, "header": header})[given]
            )
        if col.segment is not None:
            proximal, distal, known = _proximal_of_pair(nerves, col.segment)
            for i in np.flatnonzero(given & ~known):
                problems.append(
                    Problem(
                        int(i),
                        header,
                        f"cannot tell which of {col.segment[0]!r} and {col.segment[1]!r} is "
                        "the proximal site for this nerve; map the header to one site",
                    )
                )
            ok = given & known
            pieces.append(part[ok].assign(site=proximal[ok]))
            segment_pieces.append(
                pd.DataFrame({**keys, "site": proximal, "distal": distal, "header": header})[ok]
            )
            continue
        part = part[given]
        if col.site is None and col.measure not in SITE_MEASURES and row_sites is None:
            nerve_pieces.append(part.assign(header=header))
        else:
            site = np.full(n, col.site, dtype=object) if col.site else row_sites
            pieces.append(part.assign(site=site[given]))
    blank_row = frame.isna().all(axis=1).to_numpy()
    for i in np.flatnonzero(~has_data & ~blank_row):
        problems.append(Problem(int(i), None, "no measurement in this row"))

    nkeys = ["wide_row", "patient_id", "side", "nerve"]
    site_keys = [*nkeys, "site"]
    muscles = None
    if muscle_pieces:
        muscles = pd.concat(muscle_pieces, ignore_index=True)
        muscles[nkeys] = muscles[nkeys].fillna("\x00")
        distinct = muscles.drop_duplicates([*nkeys, "muscle"])
        clash = distinct.duplicated(nkeys, keep=False).to_numpy()
        for (row, _, side, nerve), group in distinct[clash].groupby(nkeys, sort=True):
            problems.append(
                Problem(
                    int(row),
                    str(group["header"].iloc[-1]),
                    f"the {side} {nerve} nerve is recorded at {len(group)} muscles "
                    f"({', '.join(map(str, group['muscle']))}): ncs reads one recording per "
                    "nerve; split the sheet, or leave one out with a mapping (header: ignore)",
                )
            )
        muscles = distinct[~clash]
    long = pd.concat(pieces, ignore_index=True) if pieces else None
    if long is None or long.empty:
        if problems:
            raise ValidationError(problems)
        raise ValidationError([Problem(None, None, "no measurement columns found")])
    keyed = long[site_keys].fillna("\x00")
    long[site_keys] = keyed
    twice = long.duplicated([*site_keys, "measure"], keep=False).to_numpy()
    if twice.any():
        for row, group in long[twice].groupby("wide_row", sort=True):
            problems.append(
                Problem(
                    int(row),
                    None,
                    f"two columns give the {', '.join(sorted(set(group['measure'])))} of the "
                    "same site",
                )
            )
    if problems:
        problems.sort(key=lambda p: (-1 if p.row is None else p.row, p.column or ""))
        raise ValidationError(problems)
    tidy = long.pivot(index=site_keys, columns="measure", values="value")
    absent = long.groupby(site_keys, sort=False)["absent"].any().reindex(tidy.index)
    tidy = tidy.reset_index()
    tidy.columns.name = None
    if absent.to_numpy().any() or "response" in tidy.columns:
        given = (
            tidy["response"] if "response" in tidy.columns else pd.Series(None, index=tidy.index)
        )
        tidy["response"] = np.where(absent.to_numpy(), "absent", given.astype(object))
    for measure in tidy.columns:
        if measure in _QUANTITY:
            tidy[measure] = pd.to_numeric(tidy[measure])

    # order: source row, then nerve and side as first seen, then distal to proximal
    nerve_canon = tidy["nerve"].map(lambda v: NERVE_ALIASES.get(clean_name(str(v)), v))
    rank = site_rank_array(
        nerve_canon.to_numpy(dtype=object),
        tidy["site"].map(lambda v: SITE_ALIASES.get(clean_name(str(v)), v)).to_numpy(dtype=object),
    )
    first_seen = pd.factorize(tidy["side"].astype(str) + "\x1f" + tidy["nerve"].astype(str))[0]
    order = np.lexsort((np.nan_to_num(rank, nan=1e9), first_seen, tidy["wide_row"].to_numpy()))
    tidy = tidy.iloc[order].reset_index(drop=True)

    if segment_pieces:
        problems.extend(_check_segment_distances(tidy, segment_pieces, nkeys))
    if muscles is not None and len(muscles):
        on_nerve = tidy[nkeys].merge(muscles[[*nkeys, "muscle"]], on=nkeys, how="left")
        named = on_nerve["muscle"].to_numpy(dtype=object)
        if "muscle" in tidy.columns:
            given = tidy["muscle"].to_numpy(dtype=object)
            tidy["muscle"] = np.where(pd.isna(given), named, given)
        else:
            tidy["muscle"] = named
    if nerve_pieces:
        nerve_long = pd.concat(nerve_pieces, ignore_index=True)
        nerve_long[nkeys] = nerve_long[nkeys].fillna("\x00")
        first = tidy.drop_duplicates(nkeys)[nkeys].assign(_target=lambda d: d.index)
        merged = nerve_long.merge(first, on=nkeys, how="left")
        orphan = merged["_target"].isna().to_numpy()
        for r, h in zip(merged.loc[orphan, "wide_row"], merged.loc[orphan, "header"], strict=True):
            problems.append(Problem(int(r), h, "a nerve value for a nerve without any site"))
        merged = merged[~orphan]
        for measure, group in merged.groupby("measure", sort=False):
            numeric = measure in _QUANTITY
            column = np.full(
                len(tidy), np.nan if numeric else None, dtype=float if numeric else object
            )
            target = group["_target"].to_numpy(dtype=np.int64)
            column[target] = group["value"].to_numpy(dtype=float if numeric else object)
            tidy[measure] = column
    if problems:
        problems.sort(key=lambda p: (-1 if p.row is None else p.row, p.column or ""))
        raise ValidationError(problems)

    for col in site_keys[1:]:
        tidy[col] = tidy[col].replace("\x00", None)
    out = {c: tidy[c] for c in ("patient_id", "nerve", "side", "site")}
    measures = [m for m in (*SITE_MEASURES, *NERVE_MEASURES) if m in tidy.columns]
    if "response" in measures:
        measures.remove("response")
        out["response"] = tidy["response"]
    for m in measures:
        out[m] = tidy[m]
    for header, target in plan.identity.items():
        if target in ("patient_id", "side", "nerve", "site") or target in out:
            continue
        out[target] = frame[header].to_numpy()[tidy["wide_row"].to_numpy(dtype=np.int64)]
    out["wide_row"] = tidy["wide_row"].astype(np.int64)
    result = pd.DataFrame(out)
    amplitude = [c for c in plan.measures.values() if c.measure == "amplitude_mv"]
    if amplitude and all(c.factor < 1.0 for c in amplitude):  # every amplitude header in µV
        # validation checks a declared µV as it checks units= (values that were mV already)
        result.attrs["ncs_amplitude_declared_uv"] = "the amplitude headers say µV: write mV"
    return result


def _check_segment_distances(
    tidy: pd.DataFrame, segment_pieces: list[pd.DataFrame], nkeys: list[str]
) -> list[Problem]:
    """A segment distance must join the proximal site to the next recorded distal site."""
    segments = pd.concat(segment_pieces, ignore_index=True)
    segments[[*nkeys, "site"]] = segments[[*nkeys, "site"]].fillna("\x00")
    keys = tidy[nkeys]
    same_nerve = (keys.shift(1) == keys).all(axis=1).to_numpy()
    previous = np.where(same_nerve, tidy["site"].shift(1).to_numpy(dtype=object), None)
    placed = tidy[[*nkeys, "site"]].assign(_previous=previous)
    merged = segments.merge(placed, on=[*nkeys, "site"], how="left")
    wrong = (merged["_previous"].to_numpy(dtype=object) != merged["distal"].to_numpy()).nonzero()
    problems = []
    for i in wrong[0]:
        row = merged.iloc[int(i)]
        before, site = row["_previous"], row["site"]
        if before:
            what = f"the next site distal to {site!r} with data in this row is {before!r}"
        else:
            what = f"no site distal to {site!r} has data in this row"
        problems.append(
            Problem(
                int(row["wide_row"]),
                str(row["header"]),
                f"a distance from {row['distal']!r} to {site!r}, but {what}; a segment "
                "distance joins two neighbouring recorded sites",
            )
        )
    return problems


def to_wide(
    sites: pd.DataFrame,
    *,
    layout: str = "patient",
    measures: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Write a tidy sites table as a wide spreadsheet that :func:`from_wide` reads back.

    Parameters
    ----------
    sites : pandas.DataFrame
        Tidy sites table (validated first, so names are canonical).
    layout : {"patient", "nerve"}
        One row per patient (headers ``"R median wrist amplitude_mv"``) or one row per nerve
        (identity columns ``side`` and ``nerve``, headers ``"wrist amplitude_mv"``).
    measures : iterable of str, optional
        Tidy columns to write; default every site and nerve measure present.

    Returns
    -------
    pandas.DataFrame
        The wide table. Site-level measures get one column per (side, nerve, site);
        nerve-level measures one per (side, nerve), from the nerve's first non-missing value.

    Examples
    --------
    >>> import pandas as pd
    >>> tidy = pd.DataFrame({"patient_id": ["P1", "P1"], "nerve": ["ulnar"] * 2,
    ...     "side": ["R"] * 2, "site": ["wrist", "below elbow"], "latency_ms": [3.0, 7.0],
    ...     "amplitude_mv": [10.0, 5.0]})
    >>> list(to_wide(tidy).columns)  # doctest: +NORMALIZE_WHITESPACE
    ['patient_id', 'R ulnar wrist latency_ms', 'R ulnar wrist amplitude_mv',
     'R ulnar below elbow latency_ms', 'R ulnar below elbow amplitude_mv']
    """
    from ncs._codes import as_strings
    from ncs.schema import validate

    if layout not in ("patient", "nerve"):
        raise ValueError(f"layout must be 'patient' or 'nerve', got {layout!r}")
    valid = as_strings(validate(sites))  # text keys as strings: headers are built from them
    if measures is None:
        site_measures = [
            m
            for m in SITE_MEASURES
            if m in valid.columns and m != "response" and valid[m].notna().any()
        ]
        if (valid["response"] == "absent").any():
            site_measures.append("response")
        nerve_measures = [
            m for m in NERVE_MEASURES if m in valid.columns and valid[m].notna().any()
        ]
    else:
        chosen = list(measures)
        site_measures = [m for m in chosen if m in SITE_MEASURES]
        nerve_measures = [m for m in chosen if m in NERVE_MEASURES]
    study = ["patient_id", "visit"] if "visit" in valid.columns else ["patient_id"]
    valid = valid.sort_values([*study, "nerve", "side", "site_order"], kind="stable")
    index = study if layout == "patient" else [*study, "side", "nerve"]
    prefix = valid["side"] + " " + valid["nerve"] + " " if layout == "patient" else ""

    rank = {m: i for i, m in enumerate((*SITE_MEASURES, *NERVE_MEASURES))}
    long = valid.melt(
        id_vars=[*index, "site_order"],
        value_vars=site_measures,
        var_name="measure",
        ignore_index=False,
    )
    header = (prefix + valid["site"]).reindex(long.index) + " " + long["measure"]
    long = long.assign(
        header=header.to_numpy(),
        side_=valid["side"].reindex(long.index).to_numpy(),
        nerve_=valid["nerve"].reindex(long.index).to_numpy(),
    )
    parts = [long]
    if nerve_measures:
        nerve = [*study, "side", "nerve"]
        first = valid.groupby(nerve, sort=False)[nerve_measures].first()
        first = first.reset_index()
        nl = first.melt(id_vars=nerve, value_vars=nerve_measures, var_name="measure")
        nl = nl[nl["value"].notna()]
        pre = nl["side"] + " " + nl["nerve"] + " " if layout == "patient" else ""
        nl = nl.assign(
            header=(pre + nl["measure"]).to_numpy(),
            site_order=np.iinfo(np.int64).max,
            side_=nl["side"].to_numpy(),
            nerve_=nl["nerve"].to_numpy(),
        )
        parts.append(nl)
    both = pd.concat(parts, ignore_index=True)
    both["rank_"] = both["measure"].map(rank)
    ordered = both.sort_values(["side_", "nerve_", "site_order", "rank_"], kind="stable")
    headers = list(dict.fromkeys(ordered["header"]))
    both = both[[*index, "header", "value"]]
    wide = both.pivot(index=index, columns="header", values="value")
    wide = wide.reindex(columns=headers).reset_index()
    wide.columns.name = None
    if "study_date" in valid.columns and "visit" in valid.columns:  # one date per visit
        dates = valid.drop_duplicates(study).set_index(study)["study_date"]
        at = pd.MultiIndex.from_frame(wide[study])
        wide.insert(len(study), "study_date", dates.reindex(at).to_numpy(dtype=object))
    for h in headers:
        converted = pd.to_numeric(wide[h], errors="coerce")
        if converted.notna().sum() == wide[h].notna().sum():
            wide[h] = converted
    return wide


#: Words that leave a header out in a mapping file (as ``None`` does in Python).
_IGNORE = frozenset({"", "ignore", "none", "null", "-", "skip"})
_MAPPING_COLUMNS = ("header", "column", "side", "nerve", "site", "muscle", "unit", "factor")


def read_mapping(path: str | Any) -> dict[str, Any]:
    """Read a header mapping file: CSV always, YAML with ``pip install 'ncs-edx[yaml]'``.

    Parameters
    ----------
    path : str or pathlib.Path
        ``.csv`` (``.tsv``, ``.txt``) with a header row ``header,column`` and optionally
        ``side``, ``nerve``, ``site``, ``muscle``, ``unit``, ``factor``; or ``.yaml``/``.yml``
        mapping each header to a column name or to a dict with those keys.

    Returns
    -------
    dict
        Header -> spec, as :func:`from_wide` and :func:`detect_wide_columns` take it:
        ``None`` for a header to leave out (column ``ignore``), the identity column name for
        ``patient_id``/``side``/``nerve``/``site``..., else a dict.

    Raises
    ------
    ValidationError
        When the file is missing or unreadable, lacks ``header`` and ``column``, names a
        header twice, or has an unknown key.

    Examples
    --------
    A CSV mapping file::

        header,column,side,nerve,site,unit
        Pt Code,patient_id,,,,
        Comment,ignore,,,,
        RMed W Lat,latency_ms,R,median,wrist,ms
        RMed W-E,distance_mm,R,median,elbow,cm
    """
    from pathlib import Path

    p = Path(path)
    if not p.is_file():
        raise ValidationError([Problem(None, None, f"no such mapping file: {p.name}")])
    if p.suffix.lower() in (".yaml", ".yml"):
        return _mapping_from_yaml(p)
    return _mapping_from_csv(p)


def _mapping_entry(header: str, spec: Any, problems: list[Problem]) -> Any:
    if spec is None or (isinstance(spec, str) and spec.strip().lower() in _IGNORE):
        return None
    if isinstance(spec, str):
        return spec.strip()
    if isinstance(spec, Mapping):
        unknown = set(map(str, spec)) - set(_MAPPING_COLUMNS[1:]) - {"measure"}
        if unknown:
            problems.append(
                Problem(None, header, f"unknown key(s) {sorted(unknown)} in the mapping file")
            )
            return None
        entry = {str(k): v for k, v in spec.items() if v is not None and str(v).strip() != ""}
        column = entry.get("column", entry.get("measure"))
        if column is None or str(column).strip().lower() in _IGNORE:
            return None
        return entry
    problems.append(Problem(None, header, "a mapping entry is a column name or a dict"))
    return None


def _mapping_from_csv(p: Any) -> dict[str, Any]:
    import csv

    from ncs.dialect import decode_text

    text = decode_text(p.read_bytes())
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    rows = list(csv.reader(text.splitlines(), dialect))
    problems: list[Problem] = []
    if not rows:
        raise ValidationError([Problem(None, None, "the mapping file is empty")])
    names = [clean_name(h).replace(" ", "_") for h in rows[0]]
    if "measure" in names and "column" not in names:
        names[names.index("measure")] = "column"
    if "header" not in names or "column" not in names:
        raise ValidationError(
            [Problem(None, None, "a mapping file needs the columns 'header' and 'column'")]
        )
    unknown = [n for n in names if n and n not in _MAPPING_COLUMNS]
    if unknown:
        raise ValidationError(
            [Problem(None, None, f"unknown column(s) {unknown} in the mapping file")]
        )
    out: dict[str, Any] = {}
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        record = dict(zip(names, (cell.strip() for cell in row), strict=False))
        header = record.pop("header", "")
        if not header:
            problems.append(Problem(None, None, f"line {line} of the mapping file has no header"))
            continue
        if header in out:
            problems.append(Problem(None, header, "named twice in the mapping file"))
            continue
        spec = {k: v for k, v in record.items() if v}
        if set(spec) <= {"column"}:
            out[header] = _mapping_entry(header, spec.get("column"), problems)
        else:
            out[header] = _mapping_entry(header, spec, problems)
    if problems:
        raise ValidationError(problems)
    return out


def _mapping_from_yaml(p: Any) -> dict[str, Any]:
    from ncs._optional import require

    yaml = require("yaml", "yaml")
    try:
        doc = yaml.safe_load(p.read_text(encoding="utf-8-sig"))
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise ValidationError(
            [Problem(None, None, f"cannot read the YAML mapping file: {type(err).__name__}")]
        ) from None
    if doc is None:
        raise ValidationError([Problem(None, None, "the mapping file is empty")])
    if not isinstance(doc, Mapping):
        raise ValidationError(
            [Problem(None, None, "a YAML mapping file maps each header to a column")]
        )
    problems: list[Problem] = []
    out = {str(h): _mapping_entry(str(h), spec, problems) for h, spec in doc.items()}
    if problems:
        raise ValidationError(problems)
    return out
