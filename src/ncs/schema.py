"""The tidy sites table: its columns, units, normalisation and validation.

One row per stimulation site of one nerve. :func:`validate` checks every row, collects every
problem, and either returns a normalised copy or raises one :class:`~ncs.errors.ValidationError`
listing them all. Nothing half-validated is returned.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import pandas as pd

from ncs.errors import NcsWarning, Problem, ValidationError
from ncs.names import normalize_nerve, normalize_side, normalize_site, site_rank

__all__ = ["COLUMNS", "KEYS", "NERVE_KEYS", "Column", "normalize_units", "validate"]


@dataclass(frozen=True, slots=True)
class Column:
    """One column of the tidy sites table."""

    name: str
    kind: str  # "str" or "float" or "int"
    required: bool
    unit: str
    meaning: str


COLUMNS: tuple[Column, ...] = (
    Column("patient_id", "str", True, "", "study/patient key"),
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
)
"""The columns ncs knows, in output order. Unknown extra columns pass through unchanged."""

_BY_NAME: Mapping[str, Column] = MappingProxyType({c.name: c for c in COLUMNS})
REQUIRED: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.required)
NUMERIC: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.kind in ("float", "int"))

NERVE_KEYS: tuple[str, ...] = ("patient_id", "nerve", "side")
"""A nerve is identified by these columns."""
KEYS: tuple[str, ...] = (*NERVE_KEYS, "site")
"""A stimulation site is identified by these columns."""

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
_ALT_COLUMNS: Mapping[str, tuple[str, float]] = MappingProxyType(
    {
        "amplitude_uv": ("amplitude_mv", 1e-3),
        "area_uvms": ("area_mvms", 1e-3),
        "pp_amplitude_uv": ("pp_amplitude_mv", 1e-3),
        "distance_cm": ("distance_mm", 10.0),
    }
)

_RESPONSE: Mapping[str, str] = MappingProxyType(
    {
        "present": "present",
        "p": "present",
        "yes": "present",
        "y": "present",
        "ok": "present",
        "absent": "absent",
        "nr": "absent",
        "no response": "absent",
        "none": "absent",
        "no": "absent",
        "n": "absent",
        "a": "absent",
    }
)
_ABSENT_WORDS = frozenset({"nr", "absent", "no response", "none"})

#: Plausibility limits that only raise warnings (never change a result).
_AMPLITUDE_LOOKS_LIKE_UV_MV = 100.0  # a motor CMAP above 100 mV is almost surely µV


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


def validate(
    sites: pd.DataFrame,
    *,
    units: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Check and normalise a sites table; raise one error listing every problem.

    Parameters
    ----------
    sites : pandas.DataFrame
        One row per stimulation site (see the tidy input format in the user guide).
    units : mapping, optional
        Units of the numeric columns if not the canonical ones, e.g. ``{"amplitude": "uV"}``
        (see :func:`normalize_units`).

    Returns
    -------
    pandas.DataFrame
        A new table, in input order, with canonical nerve/side/site names, a ``site_order``
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
        For valid but suspicious values (amplitudes that look like µV).
    """
    if not isinstance(sites, pd.DataFrame):
        raise ValidationError(
            [Problem(None, None, f"expected a pandas DataFrame, got {type(sites).__name__}")]
        )
    df = _canonical_columns(sites)
    problems: list[Problem] = []

    # Alternative unit-bearing column names (amplitude_uv, area_uvms, distance_cm).
    for alt, (canon, factor) in _ALT_COLUMNS.items():
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

    missing = [c for c in REQUIRED if c not in df.columns]
    for col in missing:
        problems.append(Problem(None, col, "required column is missing"))
    if missing:
        raise ValidationError(problems)

    n = len(df)
    df = df.reset_index(drop=True)
    df["input_row"] = np.arange(n, dtype=np.int64)

    # --- text keys -------------------------------------------------------------------
    for col in ("patient_id", "nerve", "side", "site"):
        blank = _blank(df[col])
        for i in np.flatnonzero(blank):
            problems.append(Problem(int(i), col, "value is missing"))
    df["patient_id"] = df["patient_id"].astype("string").str.strip()
    nerve = normalize_nerve(df["nerve"])
    bad = nerve.isna().to_numpy() & ~_blank(df["nerve"])
    for i in np.flatnonzero(bad):
        problems.append(Problem(int(i), "nerve", "unknown nerve name"))
    side = normalize_side(df["side"])
    bad = side.isna().to_numpy() & ~_blank(df["side"])
    for i in np.flatnonzero(bad):
        problems.append(Problem(int(i), "side", "unknown side; use L or R"))
    df["nerve"] = nerve
    df["side"] = side
    df["site"] = normalize_site(df["site"])

    # --- response, including "NR" typed into the amplitude column --------------------
    amp_text = df["amplitude_mv"].astype("string").str.strip().str.lower()
    amp_says_absent = amp_text.isin(_ABSENT_WORDS).fillna(False).to_numpy(dtype=bool)
    if "response" in df.columns:
        raw = df["response"].astype("string").str.strip().str.lower()
        response = raw.map(_RESPONSE, na_action="ignore").astype("string")
        bad = (
            response.isna().to_numpy()
            & raw.notna().to_numpy()
            & (raw != "").fillna(False).to_numpy()
        )
        for i in np.flatnonzero(bad):
            problems.append(
                Problem(int(i), "response", "unknown response; use present or absent (NR)")
            )
        response = response.fillna("present")
    else:
        response = pd.Series("present", index=df.index, dtype="string")
    response = response.mask(amp_says_absent, "absent")
    absent = (response == "absent").to_numpy(dtype=bool)
    df["response"] = response
    df.loc[amp_says_absent, "amplitude_mv"] = np.nan

    # --- numeric columns ---------------------------------------------------------------
    for col in NUMERIC:
        if col not in df.columns:
            continue
        raw = df[col]
        values = _to_float(raw)
        was_text = ~_blank(raw) & np.isnan(values)
        for i in np.flatnonzero(was_text):
            problems.append(Problem(int(i), col, "not a number"))
        infinite = np.isinf(values)
        for i in np.flatnonzero(infinite):
            problems.append(Problem(int(i), col, "not a finite number"))
        values = np.where(infinite, np.nan, values)
        if col not in ("temperature_c",):
            negative = values < 0
            for i in np.flatnonzero(negative):
                problems.append(Problem(int(i), col, "negative value"))
        df[col] = values

    amp = df["amplitude_mv"].to_numpy()
    zero_present = (amp == 0) & ~absent
    for i in np.flatnonzero(zero_present):
        problems.append(
            Problem(
                int(i),
                "amplitude_mv",
                "zero amplitude on a site not marked as an absent response "
                "(write response=absent or NR)",
            )
        )
    for col, what in (
        ("latency_ms", "latency"),
        ("duration_ms", "duration"),
        ("distance_mm", "distance"),
    ):
        if col in df.columns:
            v = df[col].to_numpy()
            zero = (v == 0) & ~absent if col != "distance_mm" else (v == 0)
            for i in np.flatnonzero(zero):
                problems.append(Problem(int(i), col, f"zero {what}"))
    for col in ("amplitude_mv", "area_mvms", "pp_amplitude_mv"):
        if col in df.columns:
            v = df[col].to_numpy()
            for i in np.flatnonzero(absent & (v > 0)):
                problems.append(Problem(int(i), col, "a value is given for an absent response"))
            df[col] = np.where(absent, 0.0, v)
    for col in ("latency_ms", "duration_ms"):
        if col in df.columns:
            v = df[col].to_numpy()
            for i in np.flatnonzero(absent & (v > 0)):
                problems.append(Problem(int(i), col, "a value is given for an absent response"))
            df[col] = np.where(absent, np.nan, v)
    if "area_mvms" not in df.columns:
        df["area_mvms"] = np.where(absent, 0.0, np.nan)
    if "duration_ms" not in df.columns:
        df["duration_ms"] = np.nan
    if "distance_mm" not in df.columns:
        df["distance_mm"] = np.nan

    # --- site order, duplicates, latency order -----------------------------------------
    problems.extend(_derive_site_order(df))
    keyed = (
        df["patient_id"].notna()
        & df["nerve"].notna()
        & df["side"].notna()
        & df["site_order"].notna()
    ).to_numpy(dtype=bool)
    problems.extend(_check_within_nerve(df.loc[keyed]))

    if problems:
        problems.sort(key=lambda p: (-1 if p.row is None else p.row, p.column or ""))
        raise ValidationError(problems)

    _warn_suspicious(df)
    return _ordered(df)


def _canonical_columns(sites: pd.DataFrame) -> pd.DataFrame:
    """Copy with known columns renamed from case/space variants (``Amplitude_mV``)."""
    known = {c.name for c in COLUMNS} | set(_ALT_COLUMNS)
    rename = {}
    present = set(map(str, sites.columns))
    for col in sites.columns:
        key = str(col).strip().lower().replace(" ", "_")
        if key != col and key in known and key not in present:
            rename[col] = key
    return sites.rename(columns=rename).copy()


def _to_float(values: pd.Series) -> np.ndarray:
    """Numeric cells as float64; text that is not a number becomes NaN."""
    if values.dtype.kind in "fiub":
        return values.to_numpy(dtype=float, na_value=np.nan)
    text = values.astype("string").str.strip()
    num = pd.to_numeric(text, errors="coerce")
    return pd.Series(num).to_numpy(dtype=float, na_value=np.nan)


def _blank(values: pd.Series) -> np.ndarray:
    """True where a cell is missing or an empty/whitespace string."""
    s = values.astype("string")
    return (s.isna() | (s.str.strip() == "")).fillna(True).to_numpy(dtype=bool)


def _derive_site_order(df: pd.DataFrame) -> list[Problem]:
    """Fill ``site_order`` from known site names where the input gives none."""
    problems: list[Problem] = []
    rank = site_rank(df["nerve"], df["site"])
    nerve_id = _nerve_codes(df)
    if "site_order" in df.columns:
        given = df["site_order"].to_numpy(dtype=float)
        not_int = ~np.isnan(given) & (given != np.round(given))
        for i in np.flatnonzero(not_int):
            problems.append(Problem(int(i), "site_order", "site_order must be a whole number"))
        has = ~np.isnan(given)
    else:
        given = np.full(len(df), np.nan)
        has = np.zeros(len(df), dtype=bool)
    # Per nerve: all given, none given, or mixed (a problem).
    n_given = np.bincount(nerve_id, weights=has, minlength=nerve_id.max() + 1 if len(df) else 0)
    n_rows = np.bincount(nerve_id, minlength=nerve_id.max() + 1 if len(df) else 0)
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
    rank_values = rank.to_numpy(dtype=float, na_value=np.nan)
    need = ~all_given & ~mixed
    unknown = need & np.isnan(rank_values) & df["nerve"].notna().to_numpy()
    for i in np.flatnonzero(unknown):
        problems.append(
            Problem(
                int(i),
                "site",
                "cannot derive site_order from this site name for this nerve; "
                "give a site_order column",
            )
        )
    order_key = np.where(all_given, given, rank_values)
    # Dense position within the nerve for derived orders; explicit orders are kept as given.
    derived = pd.Series(order_key).groupby(nerve_id).rank(method="dense").to_numpy() - 1
    final = np.where(all_given, given, derived)
    df["site_order"] = pd.array(
        np.where(np.isnan(final), -1, final).astype(np.int64), dtype="Int64"
    )
    df.loc[np.isnan(final), "site_order"] = pd.NA
    return problems


def _nerve_codes(df: pd.DataFrame) -> np.ndarray:
    codes, _ = pd.MultiIndex.from_frame(
        df[list(NERVE_KEYS)].astype("string").fillna("\x00")
    ).factorize()
    return codes.astype(np.int64)


def _check_within_nerve(df: pd.DataFrame) -> list[Problem]:
    """Duplicate sites/orders, and proximal latencies that are not after distal ones."""
    problems: list[Problem] = []
    if df.empty:
        return problems
    input_row = df["input_row"].to_numpy()
    nerve_id = _nerve_codes(df)
    dup_site = pd.DataFrame(
        {"n": nerve_id, "s": df["site"].astype("string").to_numpy()}
    ).duplicated()
    dup_site = dup_site.to_numpy()
    for i in np.flatnonzero(dup_site):
        problems.append(
            Problem(int(input_row[i]), "site", "a second row for the same site of this nerve")
        )
    order = df["site_order"].to_numpy(dtype=np.int64)
    dup_order = pd.DataFrame({"n": nerve_id, "o": order}).duplicated().to_numpy() & ~dup_site
    for i in np.flatnonzero(dup_order):
        problems.append(
            Problem(int(input_row[i]), "site_order", "two sites of this nerve share a site_order")
        )
    # Latency order among the remaining rows (a duplicated site has no place in the order).
    first_of_order = ~pd.DataFrame({"n": nerve_id, "o": order}).duplicated(keep=False).to_numpy()
    lat = df["latency_ms"].to_numpy()
    known = ~np.isnan(lat) & first_of_order
    idx = np.flatnonzero(known)
    sort = np.lexsort((order[idx], nerve_id[idx]))
    rows = idx[sort]
    same_nerve = nerve_id[rows][1:] == nerve_id[rows][:-1]
    not_after = same_nerve & (lat[rows][1:] <= lat[rows][:-1])
    for k in np.flatnonzero(not_after):
        problems.append(
            Problem(
                int(input_row[rows[k + 1]]),
                "latency_ms",
                f"proximal latency is not longer than the latency at the more distal site "
                f"(row {int(input_row[rows[k]])}); sites mislabelled or misordered?",
            )
        )
    return problems


def _warn_suspicious(df: pd.DataFrame) -> None:
    amp = df["amplitude_mv"].to_numpy()
    big = amp > _AMPLITUDE_LOOKS_LIKE_UV_MV
    if big.any():
        rows = np.flatnonzero(big)
        warnings.warn(
            f"{big.sum()} amplitude(s) above {_AMPLITUDE_LOOKS_LIKE_UV_MV:g} mV (first at row "
            f"{int(rows[0])}): were they entered in µV? Pass units={{'amplitude': 'uV'}} if so.",
            NcsWarning,
            stacklevel=3,
        )


def _ordered(df: pd.DataFrame) -> pd.DataFrame:
    known = [c.name for c in COLUMNS if c.name in df.columns]
    rest = [c for c in df.columns if c not in known and c != "input_row"]
    out = df[[*known, "input_row", *rest]].copy()
    for col in ("patient_id", "nerve", "side", "site", "response"):
        out[col] = out[col].astype("string")
    if "muscle" in out.columns:
        out["muscle"] = out["muscle"].astype("string")
    return out
