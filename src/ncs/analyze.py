"""The one-call entry point: sites in, segments, findings, nerves and patients out."""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ncs import _text as tx
from ncs import normative
from ncs._codes import (
    ColumnCache,
    categorical,
    column_arrays,
    fixed,
    from_codes,
    names_of,
    table,
)
from ncs._version import __version__
from ncs.criteria import BLOCK_VALUES, DISPERSION_VALUES, Criterion
from ncs.engine import SegmentJudgement, category_codes, dispersion_confound, judge
from ncs.errors import NcsWarning, Problem, ValidationError, collect_warnings, warn
from ncs.explain import explain_findings
from ncs.fwave import nerve_measures
from ncs.plausibility import (
    COLD_LIMB_VALUES,
    cold_limb_codes,
    implausible_cells,
    side_typos,
    temperature_limits,
    warn_implausible,
)
from ncs.provenance import provenance
from ncs.registry import get_criteria, resolve
from ncs.schema import checked_sites, empty_rejected, patient_keys
from ncs.segments import SEGMENT_KEYS, build_segments, segment_keys
from ncs.summary import summarize

__all__ = [
    "JSON_SCHEMA_VERSION",
    "Analysis",
    "analyze",
    "classify",
    "render_evidence",
    "render_reasons",
]

JSON_SCHEMA_VERSION = 2
"""Version of the ``to_dict()`` / ``to_json()`` layout; bumped on any incompatible change."""


@dataclass(frozen=True)
class Analysis:
    """Result of :func:`analyze`.

    Attributes
    ----------
    sites : pandas.DataFrame
        The validated, normalised input (one row per input row, ``input_row`` = position).
    segments : pandas.DataFrame
        One row per comparison of two sites (see :func:`ncs.segments`).
    findings : pandas.DataFrame
        One row per (segment, criterion): ``block``, ``dispersion``, ``reason``.
    nerves : pandas.DataFrame
        One row per (nerve, scheme), every nerve included.
    patients : pandas.DataFrame
        One row per (patient, scheme): ``verdict`` and its evidence.
    criteria : tuple of Criterion
        The criteria applied.
    meta : dict
        Provenance: library version, criteria ids and their verification status.
    rejected : pandas.DataFrame
        With ``errors="collect"``: the rows set aside as invalid, with their problems
        (columns :data:`ncs.schema.REJECTED_COLUMNS`); empty otherwise.
    warnings : pandas.DataFrame
        One row per warning and input row it names (:data:`WARNING_COLUMNS`: ``code``,
        ``message``, ``patient_id``, ``nerve``, ``side``, ``site``, ``column``,
        ``input_row``): every :class:`~ncs.NcsWarning` the call emitted, as data (also in
        the JSON, the report and the command line's tables).
    settings : dict
        The keyword arguments of :func:`analyze` that shaped the result besides the criteria
        (``reference``, ``distal_duration_cutoffs``, ``temperature_limits_c``), so sentences
        left out with ``reasons=False`` can be rendered later exactly
        (:func:`ncs.analyze.render_evidence`).
    engine_inputs : dict
        What the rule engine read besides the tables (per-nerve measures, nerve ids of the
        segments, each nerve's distal-site row), so :mod:`ncs.compare` can judge again under
        simulated measurement variability with the same engine. Empty for a result read back
        from JSON (it is then rebuilt from ``sites``).
    """

    sites: pd.DataFrame
    segments: pd.DataFrame
    findings: pd.DataFrame
    nerves: pd.DataFrame
    patients: pd.DataFrame
    criteria: tuple[Criterion, ...]
    meta: dict[str, Any] = field(default_factory=dict)
    rejected: pd.DataFrame = field(default_factory=empty_rejected)
    warnings: pd.DataFrame = field(default_factory=lambda: _empty_warnings())
    settings: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    engine_inputs: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able nested dict with stable keys (``schema_version`` says which layout)."""
        return {
            "schema_version": JSON_SCHEMA_VERSION,
            "ncs_version": self.meta.get("ncs_version", __version__),
            "criteria": [c.to_dict() for c in self.criteria],
            "patients": _records(self._patients_with_evidence()),
            "nerves": _records(self.nerves),
            "segments": _records(self.segments),
            "findings": _records(self._findings_with_reasons()),
            "sites": _records(self.sites),
            "warnings": _records(self.warnings),
            "rejected": _records(self.rejected),
            "provenance": _jsonable(self.meta.get("provenance")),
        }

    def to_json(self, *, indent: int | None = None) -> str:
        """The :meth:`to_dict` content as JSON text (no NaN: missing values are ``null``)."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False, allow_nan=False)

    def _findings_with_reasons(self) -> pd.DataFrame:
        """``findings``, with the sentences rendered if ``reasons=False`` left them out."""
        if "reason" in self.findings.columns or self.findings.empty:
            return self.findings
        out = self.findings.copy(deep=False)
        out["reason"] = render_reasons(self)
        return out

    def _patients_with_evidence(self) -> pd.DataFrame:
        """``patients``, with the evidence sentences rendered if ``reasons=False`` left them out."""
        if "evidence" in self.patients.columns:
            return self.patients
        out = self.patients.copy(deep=False)
        out.insert(3, "evidence", render_evidence(self))
        return out

    def summary(self) -> str:
        """A few lines per patient: each scheme's verdict and its evidence."""
        lines = []
        patients = self._patients_with_evidence()
        keys = list(patient_keys(patients.columns))
        for key, rows in patients.groupby(keys, sort=False, observed=True):
            key = key if isinstance(key, tuple) else (key,)
            visit = f", visit {key[1]}" if len(key) > 1 else ""
            date = rows["study_date"].iloc[0] if "study_date" in rows.columns else None
            lines.append(f"patient {key[0]}{visit}" + (f" ({date})" if pd.notna(date) else ""))
            for r in rows.itertuples(index=False):
                lines.append(f"  {r.scheme}: {r.verdict} - {r.evidence}")
        return "\n".join(lines)


def _empty_warnings() -> pd.DataFrame:
    return _EMPTY_WARNINGS.copy()


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """DataFrame rows as dicts of plain Python values; NaN/NA -> None.

    Each column is turned into a list of Python values in one C-level pass where its dtype
    allows (numbers, booleans, categories, strings); other object columns value by value.
    """
    if not len(df):
        return []
    names = [str(name) for name in df.columns]
    cols = [_column_values(array) for array in column_arrays(df)]
    return [dict(zip(names, row, strict=True)) for row in zip(*cols, strict=True)]


def _column_values(array: Any) -> list[Any]:
    """A column's values (:func:`ncs._codes.column_arrays`) as a list of plain Python values
    (missing -> None)."""
    if isinstance(array, pd.Categorical):
        names = names_of(array)  # cached for a categorical made here
        if not all(type(c) is str for c in names):  # categories of another type (extra columns)
            names = [None if _is_missing(c) else _plain(c) for c in names]
        table = np.empty(len(names) + 1, dtype=object)
        table[:-1] = names
        table[-1] = None  # code -1: missing
        return table[np.asarray(array.codes)].tolist()
    dtype = array.dtype
    if isinstance(array, np.ndarray):
        values = array
        if dtype.kind == "f":
            out = values.tolist()
            for i in np.flatnonzero(~np.isfinite(values)).tolist():
                out[i] = None
            return out
        if dtype.kind in "iub":
            return values.tolist()
    elif isinstance(dtype, pd.StringDtype):
        return array.to_numpy(dtype=object, na_value=None).tolist()
    elif dtype.kind in "iub":  # nullable integers and booleans (Int64, boolean) with NA
        values = array.to_numpy(dtype=object, na_value=None)
        return [None if v is None else (bool(v) if dtype.kind == "b" else int(v)) for v in values]
    if isinstance(array, np.ndarray) and dtype.kind in "mM":  # as pandas' Timestamps
        array = pd.array(array)
    values = np.asarray(array, dtype=object)
    return [None if _is_missing(v) else _plain(v) for v in values.tolist()]


def _is_missing(v: Any) -> bool:
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    return isinstance(v, float) and math.isnan(v)


def _plain(v: Any) -> Any:
    if isinstance(v, np.generic):
        v = v.item()
    if hasattr(v, "isoformat"):  # dates and times read from spreadsheets
        return v.isoformat()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if not isinstance(v, str | int | float | bool):  # bytes, lists, ... in extra columns
        return str(v)
    return v


def _jsonable(value: Any) -> Any:
    """``value`` through a JSON round trip (a copy of plain data; None stays None)."""
    return None if value is None else json.loads(json.dumps(value, default=str))


def analyze(
    sites: pd.DataFrame,
    criteria: str | Criterion | Iterable[str | Criterion] | None = None,
    *,
    units: Mapping[str, str] | None = None,
    reference: pd.DataFrame | None = None,
    distal_duration_cutoffs: pd.DataFrame | None = None,
    errors: str = "raise",
    reasons: bool = True,
    temperature_limits_c: Mapping[str, float] | float | None = None,
    reference_fallback: bool = False,
    visits: Iterable[str] | None = None,
) -> Analysis:
    """Judge a nerve conduction study (or a cohort) under one or more criteria.

    Parameters
    ----------
    sites : pandas.DataFrame
        Tidy sites table, one row per stimulation site (see :func:`ncs.validate`).
    criteria : str, Criterion, or iterable of them, optional
        Criterion ids from :data:`ncs.CRITERIA` or custom criteria, ``"all"`` (every built-in
        scheme) or ``"verified"``. Default: :data:`ncs.DEFAULT_CRITERIA` (``katz2002`` and
        ``bouche1995``, the two seed criteria: verified and independent of reference
        values).
    units : mapping, optional
        Units of the input if not the canonical ones, e.g. ``{"amplitude": "uV"}``.
    reference : pandas.DataFrame, optional
        A laboratory's reference values (normal limits) per nerve [and muscle]; see
        :func:`ncs.normative.reference_table`. Default: the shipped table (unverified values;
        see the docs). Per-row columns of the same names in ``sites`` override both.
    distal_duration_cutoffs : pandas.DataFrame, optional
        Distal CMAP duration cut-offs per scheme, low-frequency filter and nerve (item g);
        default :func:`ncs.normative.distal_duration_cutoffs`.
    errors : {"raise", "collect"}, default "raise"
        ``"raise"``: any invalid row raises :class:`ValidationError` and nothing is
        computed. ``"collect"`` (batch use): each nerve with an invalid row is set aside in
        ``Analysis.rejected`` with its problems and everything else is analysed (see
        :func:`ncs.schema.split_invalid`).
    reasons : bool, default True
        Build the sentences: ``findings.reason`` and ``patients.evidence``. ``False`` leaves
        both columns out (the text costs more than the judging on large cohorts); every
        verdict, count and evidence label (``evidence_nerve``, ``evidence_segment``,
        ``evidence_rule``) is still there, and the sentences can be rendered later for the
        rows that matter with :func:`ncs.analyze.render_reasons` and
        :func:`ncs.analyze.render_evidence` (``to_dict``/``to_json`` and ``summary`` render
        the evidence themselves).
    temperature_limits_c : mapping or float, optional
        Limb temperature limits [°C] for the ``cold_limb`` flag of ``findings`` and
        ``nerves`` (from ``temperature_c``), e.g. ``{"upper": 32, "lower": 30}``; default
        :data:`ncs.plausibility.TEMPERATURE_LIMITS_C` (not confirmed against its source).
    reference_fallback : bool, default False
        For a nerve the laboratory's ``reference`` table does not list, use the shipped
        defaults (recorded in the result's reference name). Without it such a nerve has no
        limits, its items that need them are not assessable, and a warning names it.
    visits : sequence of str, optional
        Serial studies (a ``visit`` column): the visit labels in their order, earliest
        first, for tables without ``study_date``. It orders each patient's visits in the
        tables; a table with visits is analysed the same without it (each visit on its own).

    Returns
    -------
    Analysis
        ``segments``, ``findings``, ``nerves``, ``patients`` (and ``to_dict``/``to_json``).
        With a ``visit`` column in ``sites`` (serial studies) every table is keyed by
        (``patient_id``, ``visit``): a nerve is (patient, visit, nerve, side), the patients
        table has one row per (patient, visit, scheme) with ``visit`` (and ``study_date``
        where given) after ``patient_id``, and each patient's visits come in their order
        (:func:`ncs.schema.visit_table`). Each visit is judged on its own rows only.
        Keys and labels (``patient_id``, ``nerve``, ``side``, site names, ``reference``,
        ``criterion``/``scheme``, ``verdict``, ``response``, ``entrapment``, the evidence
        labels, ``citation``, ...) are pandas ``category`` columns whose
        categories are the values present, sorted; ``block``, ``dispersion`` and the nerve
        parameters are ``category`` columns with their fixed values; the sentences
        (``reason``, ``evidence``) are ``string``. A categorical compares equal to plain
        text (``patients["verdict"] == "demyelinating"``); ``.astype(str)`` gives plain
        text where string methods are wanted.

    Raises
    ------
    ValidationError
        Listing every problem in the input (nothing is computed), a reference table with a
        column or nerve name it does not know, or an option out of its range (``errors``,
        ``reasons``, ``temperature_limits_c``).
    UnknownCriteriaError
        For a criterion id that is not known.

    References
    ----------
    .. [1] Katz JS, et al. Axonal multifocal motor neuropathy without conduction block or
       other features of demyelination. Neurology 2002;58:615-620.
    .. [2] Simon NG, Ayer G, Lomen-Hoerth C. Neurology 2013;81:2116-2120.
    .. [3] Bouche P, Léger JM, et al. J Neurol Neurosurg Psychiatry 1995 (supplement).

    Examples
    --------
    >>> import pandas as pd, ncs
    >>> sites = pd.DataFrame({
    ...     "patient_id": ["P1", "P1"], "nerve": ["ulnar", "ulnar"], "side": ["R", "R"],
    ...     "site": ["wrist", "below elbow"], "latency_ms": [2.9, 7.0],
    ...     "amplitude_mv": [10.0, 3.0], "area_mvms": [30.0, 9.0], "duration_ms": [6.0, 6.3],
    ...     "distance_mm": [80, 230]})
    >>> result = ncs.analyze(sites)
    >>> result.patients[["scheme", "verdict"]].values.tolist()
    [['katz2002', 'demyelinating'], ['bouche1995', 'conduction_block']]
    """
    crits = resolve(criteria)
    if not crits:
        raise ValueError("no criteria to apply")
    if distal_duration_cutoffs is not None:  # a lab's table: read and checked like reference
        distal_duration_cutoffs = normative.distal_duration_cutoffs(
            distal_duration_cutoffs, criteria=crits
        )
    _check_options(errors=errors, reasons=reasons, reference_fallback=reference_fallback)
    limits = temperature_limits(temperature_limits_c)
    with collect_warnings() as records:
        visits = None if visits is None else list(visits)
        valid, rejected, nerve_id, site_sort = checked_sites(sites, units, errors, visits)
        cells = implausible_cells(valid)
        warn_implausible(valid, cells)
        side_typos(valid, nerve_id)
        seg, segment_nerve, sorted_sites, site_nerve = build_segments(
            valid, nerve_id=nerve_id, site_sort=site_sort, implausible=cells
        )
        sites_read = sorted_sites  # each column's Series made once per call
        needs_reference = reference is not None or any(_uses_reference(c) for c in crits)
        measures, reference_name = nerve_measures(
            sites_read,
            site_nerve,
            seg,
            segment_nerve,
            reference,
            limits=needs_reference,
            fallback=reference_fallback,
        )
        first = _first_positions(site_nerve)
        valid_first = first if site_sort is None else np.asarray(site_sort)[first]
        # a distal amplitude that cannot be a CMAP is unknown to every nerve item
        measures["distal_amplitude_mv"] = np.where(
            cells["amplitude_mv"][valid_first], np.nan, measures["distal_amplitude_mv"]
        )
        seg["amp_lln_mv"] = measures["amp_lln_mv"][segment_nerve] if len(seg) else np.zeros(0)
        seg_read = ColumnCache(seg)
        judgements = [judge(c, seg_read) for c in crits]
        confound = [dispersion_confound(j, seg_read) for j in judgements]
        sentences = (
            [explain_findings(j, seg_read, c) for j, c in zip(judgements, confound, strict=True)]
            if reasons
            else None
        )
        n_nerves = int(site_nerve.max()) + 1 if len(site_nerve) else 0
        cold = cold_limb_codes(sites_read, site_nerve, n_nerves, limits)
        k = len(crits)
        findings = _findings(
            seg_read,
            judgements,
            confound,
            sentences,
            {"cold_limb": fixed(np.tile(cold[segment_nerve], k), COLD_LIMB_VALUES)},
        )
        nerves, patients = summarize(
            seg_read,
            segment_nerve,
            sites_read,
            site_nerve,
            judgements,
            measures,
            reference_name,
            distal_duration_cutoffs,
            evidence=reasons,
            sentences=sentences,
            nerve_columns={"cold_limb": fixed(np.tile(cold, k), COLD_LIMB_VALUES)},
            set_aside=rejected,
        )
        _warn_set_aside(rejected, valid)
    meta = {
        "ncs_version": __version__,
        "criteria": {c.id: {"verified": c.verified, "citation": c.citation.text} for c in crits},
        "reference": reference_name,
        "n_input_rows": len(valid) + len(rejected),
    }
    meta["provenance"] = provenance(crits, reference_name, limits)
    source = getattr(sites, "attrs", {}).get("ncs_source")
    if source is not None and hasattr(source, "to_dict"):  # how a file was read (ncs.io)
        meta["provenance"]["input"] = source.to_dict()
    return Analysis(
        sites=valid,
        segments=seg,
        findings=findings,
        nerves=nerves,
        patients=patients,
        criteria=crits,
        meta=meta,
        rejected=rejected,
        warnings=warnings_table(records, valid),
        settings={
            "reference": reference,
            "reference_fallback": reference_fallback,
            "distal_duration_cutoffs": distal_duration_cutoffs,
            "temperature_limits_c": temperature_limits_c,
            "visits": visits,
        },
        engine_inputs={
            "measures": measures,
            "segment_nerve": segment_nerve,
            "nerve_first_row": _first_rows(sites_read, site_nerve),
        },
    )


def _warn_set_aside(rejected: pd.DataFrame, valid: pd.DataFrame) -> None:
    """Say which patients had nerves set aside for invalid rows (``errors="collect"``): their
    verdicts rest on the other nerves."""
    if not len(rejected) or not len(valid):
        return
    ids = set(rejected["patient_id"].dropna().astype(str))
    patient = categorical(valid["patient_id"])  # compared per distinct id, not per row
    codes = np.asarray(patient.codes, dtype=np.int64)
    hit = np.array([name in ids for name in names_of(patient)], dtype=bool)
    seen, first_row = np.unique(codes, return_index=True)
    first = first_row[hit[seen]]
    if not first.size:
        return
    rows = np.sort(valid["input_row"].to_numpy(dtype=np.int64)[first])  # a row of each
    warn(
        "nerves_set_aside",
        f"{rows.size} patient(s) with nerve(s) set aside for invalid rows (the patients of "
        f"{_rows_text(rows)}): their verdicts rest on the other nerves, and a rule the "
        "set-aside nerves could meet is unknown for them, not 'not met' (see "
        "Analysis.rejected)",
        rows,
        "patient_id",
        stacklevel=3,
    )


def _rows_text(rows: np.ndarray, most: int = 5) -> str:
    """'row 3, row 17 and 4 more'."""
    shown = ", ".join(f"row {int(r)}" for r in rows[:most])
    return shown + (f" and {rows.size - most} more" if rows.size > most else "")


def _check_options(*, errors: object, reasons: object, reference_fallback: object) -> None:
    """Keyword arguments checked like the input: a ValidationError naming the option (a
    string such as "no" is true in Python: it would switch an option on)."""
    problems = []
    if errors not in ("raise", "collect"):
        problems.append(Problem(None, None, f"errors must be 'raise' or 'collect', got {errors!r}"))
    for name, value in (("reasons", reasons), ("reference_fallback", reference_fallback)):
        if not isinstance(value, bool | np.bool_):
            problems.append(Problem(None, None, f"{name} must be True or False, got {value!r}"))
    if problems:
        raise ValidationError(problems)


def _first_positions(site_nerve: np.ndarray) -> np.ndarray:
    """Positions (in the sorted sites) of each nerve's most distal site."""
    if not len(site_nerve):
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(np.r_[True, site_nerve[1:] != site_nerve[:-1]])


WARNING_COLUMNS: tuple[str, ...] = (
    "code",
    "message",
    "patient_id",
    "nerve",
    "side",
    "site",
    "column",
    "input_row",
)
"""Columns of :attr:`Analysis.warnings`."""

_EMPTY_WARNINGS = pd.DataFrame(
    {c: pd.array([], dtype="Int64" if c == "input_row" else "string") for c in WARNING_COLUMNS}
)


def warnings_table(records: list, valid: pd.DataFrame) -> pd.DataFrame:
    """One row per warning and input row it names (one row without a row for a warning about
    the whole table), with the patient, nerve, side and site of that row (and its ``visit``
    after ``patient_id`` when the sites have visits)."""
    if not records:
        out = _EMPTY_WARNINGS.copy()
        if "visit" in valid.columns:
            out.insert(3, "visit", pd.array([], dtype="string"))
        return out
    codes, messages, columns, rows = [], [], [], []
    for r in records:
        named = r.rows or (-1,)
        codes.extend([r.code] * len(named))
        messages.extend([r.message] * len(named))
        columns.extend([r.column] * len(named))
        rows.extend(named)
    row = np.asarray(rows, dtype=np.int64)
    input_rows = valid["input_row"].to_numpy(dtype=np.int64) if len(valid) else np.zeros(0, int)
    position = pd.Index(input_rows).get_indexer(row) if len(row) else np.zeros(0, int)
    data: dict[str, Any] = {
        "code": pd.array(codes, dtype="string"),
        "message": pd.array(messages, dtype="string"),
    }
    found = position >= 0
    keys = (*patient_keys(valid.columns), "nerve", "side", "site")
    for key in keys:
        picked = np.full(len(row), None, dtype=object)
        if found.any():  # only the rows the warnings name
            picked[found] = valid[key].iloc[position[found]].astype(object).to_numpy()
        data[key] = pd.array(picked, dtype="string")
    data["column"] = pd.array(columns, dtype="string")
    data["input_row"] = pd.array(np.where(row < 0, None, row), dtype="Int64")
    names = list(WARNING_COLUMNS)
    if "visit" in keys:
        names.insert(names.index("patient_id") + 1, "visit")
    return pd.DataFrame(data, columns=names)


def _first_rows(sorted_sites, site_nerve: np.ndarray) -> np.ndarray:
    """The input row of each nerve's most distal site."""
    if not len(site_nerve):
        return np.zeros(0, dtype=np.int64)
    first = np.flatnonzero(np.r_[True, site_nerve[1:] != site_nerve[:-1]])
    return sorted_sites["input_row"].to_numpy(dtype=np.int64)[first]


FINDING_KEYS: tuple[str, ...] = SEGMENT_KEYS
"""The segment keys each finding repeats (with its ``criterion``)."""


def _findings(
    seg: pd.DataFrame,
    judgements: list[SegmentJudgement],
    confound: list[np.ndarray],
    sentences: list | None,
    extra: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """All criteria's findings in one table: criterion by criterion, segment order within
    (``extra`` columns, already repeated per criterion, at the end)."""
    k = len(judgements)
    n = len(seg)
    data: dict[str, Any] = {}
    for key in segment_keys(seg.columns):  # integer codes repeated, not strings copied
        values = categorical(seg[key])  # made by build_segments: every category is used
        codes = np.tile(np.asarray(values.codes), k)
        data[key] = from_codes(codes, values.dtype, all_used=n > 0)
    ids = [j.criterion.id for j in judgements]
    data["criterion"] = from_codes(np.repeat(np.arange(k, dtype=np.int8), n), ids)
    block = np.concatenate([j.block_code for j in judgements])
    disp = np.concatenate([j.disp_code for j in judgements])
    data["block"] = fixed(category_codes(block, BLOCK_VALUES), BLOCK_VALUES)
    data["dispersion"] = fixed(category_codes(disp, DISPERSION_VALUES), DISPERSION_VALUES)
    data["phase_cancellation_possible"] = (
        np.concatenate(confound) if confound else np.zeros(0, dtype=bool)
    )
    if sentences is not None:
        data["reason"] = tx.to_pandas(tuple(sentences))
    data.update(extra or {})
    return table(data, k * n)


def _uses_reference(crit: Criterion) -> bool:
    """Whether a criterion needs reference limits (nerve items or limit-relative thresholds)."""
    if crit.nerve_items:
        return True
    rules = (*crit.block, *crit.dispersion_rules)
    return any(t.of for r in rules for t in (*r.thresholds, *r.preconditions))


def classify(criterion: str | Criterion, segments: pd.DataFrame) -> pd.DataFrame:
    """Judge every segment under one criterion.

    Parameters
    ----------
    criterion : str or Criterion
        Id from :data:`ncs.CRITERIA` or a custom :class:`~ncs.criteria.Criterion`.
    segments : pandas.DataFrame
        Output of :func:`ncs.segments` (with ``amp_lln_mv`` where a rule is relative to it).

    Returns
    -------
    pandas.DataFrame
        Same row order as ``segments``: the segment keys, ``criterion``, ``block``
        (:data:`~ncs.criteria.BLOCK_VALUES`), ``dispersion``
        (:data:`~ncs.criteria.DISPERSION_VALUES`) and ``reason``, one sentence with the
        numbers and the rule that decided.

    Notes
    -----
    See :func:`ncs.engine.judge` for the logic: three-valued (Kleene), strongest block rule
    first, ``not_applicable`` where the rule excludes the segment, ``not_assessable`` where
    the data do not tell.

    References
    ----------
    .. [1] Katz JS, et al. Neurology 2002;58:615-620, as applied in Simon NG, et al.
       Neurology 2013;81:2116-2120.
    .. [2] Bouche P, Léger JM, et al. J Neurol Neurosurg Psychiatry 1995 (supplement).
    """
    crit = get_criteria(criterion)
    j = judge(crit, segments)
    out = segments[list(segment_keys(segments.columns))].copy()
    out["criterion"] = pd.array([crit.id] * len(out), dtype="string")
    out["block"] = pd.Categorical.from_codes(
        category_codes(j.block_code, BLOCK_VALUES), categories=list(BLOCK_VALUES)
    )
    out["dispersion"] = pd.Categorical.from_codes(
        category_codes(j.disp_code, DISPERSION_VALUES), categories=list(DISPERSION_VALUES)
    )
    out["reason"] = tx.to_pandas(explain_findings(j, segments))
    return out


def render_reasons(result: Analysis, findings: pd.DataFrame | None = None) -> pd.Series:
    """Reason sentences for some or all findings, rendered on demand.

    The batch path (``ncs.analyze(..., reasons=False)``, :mod:`ncs.batch`, :mod:`ncs.dask`)
    leaves sentences out of ``findings``; this renders them afterwards for the rows that
    matter (for example the positive findings of a few patients), by judging those segments
    again (judging is row-local, so the sentences are the ones a full run writes).

    Parameters
    ----------
    result : Analysis
        The analysis the findings come from.
    findings : pandas.DataFrame, optional
        Rows of ``result.findings`` with their original index labels (filter, do not reset
        the index). Default: every finding.

    Returns
    -------
    pandas.Series
        ``string`` dtype, one sentence per row of ``findings``, with its index.

    Examples
    --------
    >>> import ncs, ncs.simulate
    >>> from ncs.analyze import render_reasons
    >>> sites = ncs.simulate.cohort(3, seed=1)
    >>> lean = ncs.analyze(sites, reasons=False)
    >>> "reason" in lean.findings.columns
    False
    >>> some = lean.findings[lean.findings["block"] == "yes"]
    >>> full = ncs.analyze(sites)
    >>> render_reasons(lean, some).equals(full.findings.loc[some.index, "reason"])
    True
    """
    table_ = result.findings if findings is None else findings
    n_seg = len(result.segments)
    labels_ = table_.index.to_numpy(dtype=np.int64)
    seg_row = labels_ % n_seg if n_seg else labels_
    crit_of = {c.id: c for c in result.criteria}
    out = tx.empty(len(table_))
    criterion = table_["criterion"].to_numpy(dtype=object)
    for cid in pd.unique(criterion):
        sel = np.flatnonzero(criterion == cid)
        rows = seg_row[sel]
        chosen = result.segments.iloc[rows].reset_index(drop=True)
        out = tx.scatter(out, sel, explain_findings(judge(crit_of[cid], chosen), chosen))
    return pd.Series(tx.to_pandas(out), index=table_.index, name="reason")


def render_evidence(result: Analysis, patients: pd.DataFrame | None = None) -> pd.Series:
    """Patient evidence sentences, rendered on demand.

    ``ncs.analyze(..., reasons=False)`` (and the batch and Dask paths) leave
    ``patients.evidence`` out; the evidence labels and counts are there either way. This
    renders the sentences for some or all patients by analysing those patients' sites again
    with sentences on (each patient is judged on their own rows only, so the sentences are
    the ones a full run writes), under the same criteria and settings.

    Parameters
    ----------
    result : Analysis
        The analysis the patients come from.
    patients : pandas.DataFrame, optional
        Rows of ``result.patients`` (filter, do not reset the index). Default: every row.

    Returns
    -------
    pandas.Series
        ``string`` dtype, one sentence per row of ``patients``, with its index.

    Examples
    --------
    >>> import ncs, ncs.simulate
    >>> from ncs.analyze import render_evidence
    >>> sites = ncs.simulate.cohort(3, seed=1)
    >>> lean = ncs.analyze(sites, reasons=False)
    >>> "evidence" in lean.patients.columns
    False
    >>> full = ncs.analyze(sites)
    >>> render_evidence(lean).equals(full.patients["evidence"])
    True
    """
    table_ = result.patients if patients is None else patients
    out = pd.Series(pd.array([], dtype="string"), name="evidence")
    if table_.empty:
        return out.reindex(table_.index)
    if "evidence" in table_.columns:
        return table_["evidence"].astype("string")
    ids = pd.unique(table_["patient_id"].astype(object))
    sites = result.sites
    chosen = sites[sites["patient_id"].astype(object).isin(ids)]
    with warnings.catch_warnings():  # the first run warned already
        warnings.simplefilter("ignore", NcsWarning)
        again = analyze(chosen, criteria=result.criteria, errors="collect", **result.settings)
    done = again.patients
    keys = [*patient_keys(done.columns), "scheme"]
    key = pd.MultiIndex.from_arrays([done[k].astype(object) for k in keys])
    where = key.get_indexer(pd.MultiIndex.from_arrays([table_[k].astype(object) for k in keys]))
    text = np.append(done["evidence"].to_numpy(dtype=object), pd.NA)[where]  # -1: not found
    return pd.Series(text, index=table_.index, dtype="string", name="evidence")
