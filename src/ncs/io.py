"""Reading sites tables from files and writing results.

Formats are chosen by file extension: ``.csv`` (and ``.txt``/``.tsv``), ``.xlsx``
(``ncs-edx[xlsx]``), ``.parquet`` (``ncs-edx[parquet]``) and ``.json`` (a list of row
objects). Every reader returns the raw table; validation is :func:`ncs.validate`'s job.
Wide spreadsheets convert with :func:`from_wide` / :func:`to_wide` (from :mod:`ncs.wide`);
analysis results come back from JSON with :func:`from_json`.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd

from ncs.errors import Problem, ValidationError
from ncs.wide import detect_wide_columns, from_wide, to_wide

__all__ = [
    "MAX_BYTES",
    "detect_wide_columns",
    "from_json",
    "from_wide",
    "json_schema",
    "read_sites",
    "safe_for_spreadsheet",
    "to_wide",
    "write_table",
]

#: Columns read as text whatever they look like (keeps "007" as "007").
_TEXT_COLUMNS = ("patient_id", "nerve", "side", "site", "response", "muscle", "sex")


def _require(module: str, extra: str) -> ModuleType:
    """Import an optional dependency or say which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            f"{module} is needed for this feature; install it with pip install 'ncs-edx[{extra}]'"
        ) from err


_GIB = 1024**3
MAX_BYTES: dict[str, int] = {
    "csv": 2 * _GIB,
    "parquet": 2 * _GIB,
    "json": 256 * 1024**2,
    "xlsx": 64 * 1024**2,
}
"""Default size limits of input files per format [bytes]; ``read_sites(max_bytes=...)``
overrides them. An XLSX file is a zip archive: its unpacked size is limited to 16 times its
limit (a "zip bomb" is refused before it is unpacked)."""
_XLSX_UNPACKED_FACTOR = 16
_FORMATS = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "csv",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".parquet": "parquet",
    ".json": "json",
}


def _too_big(size: int, limit: int, what: str) -> ValidationError:
    return ValidationError(
        [
            Problem(
                None,
                None,
                f"{what} is {size:,} bytes, more than the limit of {limit:,} bytes; pass a "
                "larger max_bytes (command line: --max-bytes) if the file is trusted",
            )
        ]
    )


def _unreadable(fmt: str, err: BaseException) -> ValidationError:
    """A reader's failure in words without the file's content (which may hold patient data)."""
    return ValidationError([Problem(None, None, f"cannot read {fmt}: {type(err).__name__}")])


def _check_xlsx(path: Path, limit: int) -> None:
    """Refuse zip bombs and XLSX reading without XML entity protection."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(max(info.file_size, 0) for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, RuntimeError) as err:
        # RuntimeError: encrypted members; NotImplementedError: unsupported zip versions
        raise _unreadable("XLSX", err) from None
    if unpacked > limit * _XLSX_UNPACKED_FACTOR:
        raise _too_big(unpacked, limit * _XLSX_UNPACKED_FACTOR, "the unpacked XLSX content")
    _require("defusedxml", "xlsx")
    import openpyxl.xml

    if not getattr(openpyxl.xml, "DEFUSEDXML", False):
        raise ValidationError(
            [
                Problem(
                    None,
                    None,
                    "XLSX files are read only with defusedxml protection against XML entity "
                    "attacks; unset OPENPYXL_DEFUSEDXML or install defusedxml",
                )
            ]
        )


def read_sites(path: str | Path, *, max_bytes: int | None = None, **kwargs) -> pd.DataFrame:
    """Read a sites table from a CSV, XLSX, Parquet or JSON file.

    Parameters
    ----------
    path : str or pathlib.Path
        The file. Its extension selects the reader.
    max_bytes : int, optional
        Refuse files larger than this [bytes]; default :data:`MAX_BYTES` for the format
        (2 GiB for CSV and Parquet, 256 MiB for JSON, 64 MiB for XLSX).
    **kwargs
        Passed to the pandas reader (e.g. ``sep=";"`` or ``sheet_name="motor"``).

    Returns
    -------
    pandas.DataFrame
        The table as read (text key columns kept as text); validate it with
        :func:`ncs.validate` or pass it to :func:`ncs.analyze`.

    Raises
    ------
    ValidationError
        If the file does not exist, is larger than the limit, cannot be parsed, or its
        format is not supported. The message names the problem, never the file's content.

    Notes
    -----
    XLSX files are read by openpyxl with defusedxml, which refuses XML entity expansion
    ("billion laughs") and external entities; their unpacked size is checked first. No
    reader unpickles or evaluates anything.
    """
    p = Path(path)
    if not p.is_file():
        raise ValidationError([Problem(None, None, f"no such file: {p.name}")])
    suffix = p.suffix.lower()
    fmt = _FORMATS.get(suffix)
    limit = 0
    if fmt is not None:
        limit = MAX_BYTES[fmt] if max_bytes is None else int(max_bytes)
        size = p.stat().st_size
        if size > limit:
            raise _too_big(size, limit, "the file")
    text_dtypes = {c: "string" for c in _TEXT_COLUMNS}
    if suffix in (".csv", ".txt", ".tsv"):
        options = {"dtype": text_dtypes, "skipinitialspace": True}
        if suffix == ".tsv":
            options["sep"] = "\t"
        if not kwargs and has_module("pyarrow"):
            # multi-threaded reader; any trouble falls back to the C parser's own message
            try:
                return pd.read_csv(p, engine="pyarrow", **options)
            except Exception:
                pass
        options.update(kwargs)
        try:
            return pd.read_csv(p, **options)
        except (
            pd.errors.ParserError,
            UnicodeDecodeError,
            pd.errors.EmptyDataError,
            ValueError,
            OverflowError,
        ) as err:
            raise _unreadable("CSV", err) from None
    if fmt == "xlsx":
        _require("openpyxl", "xlsx")
        _check_xlsx(p, limit)
        try:
            return pd.read_excel(p, dtype=text_dtypes, engine="openpyxl", **kwargs)
        except TypeError:  # a wrong keyword argument: the caller's mistake, not the file's
            raise
        except Exception as err:  # any parser failure, defusedxml's refusals included
            raise _unreadable("XLSX", err) from None
    if fmt == "parquet":
        _require("pyarrow", "parquet")
        try:
            return pd.read_parquet(p, **kwargs)
        except (OSError, ValueError) as err:
            raise _unreadable("Parquet", err) from None
    if fmt == "json":
        return _read_json_rows(p, text_dtypes, kwargs)
    raise ValidationError(
        [
            Problem(
                None, None, f"unsupported file type {suffix!r}; use .csv, .xlsx, .parquet or .json"
            )
        ]
    )


def _read_json_rows(p: Path, text_dtypes: dict, kwargs: dict) -> pd.DataFrame:
    """A JSON list of row objects (or a pandas JSON layout given with ``orient=``)."""
    import json

    if kwargs:
        try:
            return pd.read_json(p, dtype=text_dtypes, **{"orient": "records", **kwargs})
        except ValueError as err:
            raise _unreadable("JSON", err) from None
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError) as err:
        raise _unreadable("JSON", err) from None
    if not isinstance(doc, list) or not all(isinstance(r, dict) for r in doc):
        raise ValidationError(
            [Problem(None, None, "a JSON sites file must be a list of row objects")]
        )
    frame = pd.DataFrame.from_records(doc) if doc else pd.DataFrame()
    for col in _TEXT_COLUMNS:
        if col in frame.columns:
            frame[col] = _as_text(frame[col])
    return frame


def _as_text(values: pd.Series) -> pd.Series:
    """Strings stay strings, missing stays missing; other cells are left for validation."""
    obj = values.astype(object)
    if all(isinstance(v, str) for v in pd.unique(obj.dropna())):
        return obj.astype("string")
    return obj


# --------------------------------------------------------------------------------------
# Writing: spreadsheet-safe text
# --------------------------------------------------------------------------------------

#: A text cell starting with one of these is read as a formula by spreadsheet programs.
FORMULA_PREFIXES: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")


def _neutralise(text: object) -> object:
    if isinstance(text, str) and text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


def safe_for_spreadsheet(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy whose text cells cannot run as spreadsheet formulas ("CSV injection").

    Every text cell (and column name) that starts with ``=``, ``+``, ``-``, ``@``, a tab or
    a carriage return gets a leading ``'``, which spreadsheet programs show as text. Numeric
    columns are left alone: a negative number is a number, not a formula.

    Parameters
    ----------
    frame : pandas.DataFrame
        A table about to be written as CSV or XLSX.

    Returns
    -------
    pandas.DataFrame
        The neutralised copy (same dtypes, same index).

    References
    ----------
    .. [1] OWASP. CSV Injection. https://owasp.org/www-community/attacks/CSV_Injection

    Examples
    --------
    >>> import pandas as pd
    >>> safe = safe_for_spreadsheet(pd.DataFrame({"id": ["=1+1", "P2"], "x": [-1.0, 2.0]}))
    >>> safe["id"].tolist(), safe["x"].tolist()
    (["'=1+1", 'P2'], [-1.0, 2.0])
    """
    out = frame.copy(deep=False)
    out.columns = [_neutralise(c) for c in frame.columns]
    for i in range(out.shape[1]):
        col = out.iloc[:, i]
        dtype = col.dtype
        if isinstance(dtype, pd.CategoricalDtype):
            cats = [_neutralise(c) for c in dtype.categories]
            if cats != list(dtype.categories):
                out.isetitem(i, col.cat.rename_categories(cats))
        elif isinstance(dtype, pd.StringDtype):
            risky = col.str.startswith(FORMULA_PREFIXES).fillna(False).to_numpy(dtype=bool)
            if risky.any():
                out.isetitem(i, col.mask(risky, "'" + col))
        elif dtype.kind == "O":
            try:
                codes, uniques = pd.factorize(col)
            except TypeError:  # unhashable cells: one by one
                out.isetitem(i, col.map(_neutralise))
                continue
            fixed = [_neutralise(u) for u in uniques]
            if any(a is not b for a, b in zip(fixed, uniques, strict=True)):
                values = np.array([*fixed, None], dtype=object)[codes]
                missing = codes < 0
                values[missing] = col.to_numpy()[missing]
                out.isetitem(i, pd.Series(values, index=col.index, dtype=object))
    return out


def write_table(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write a table as CSV/TSV, XLSX, Parquet or JSON, chosen by the file extension.

    CSV and XLSX output goes through :func:`safe_for_spreadsheet` first. The content is
    rendered completely before the file is written.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table.
    path : str or pathlib.Path
        Output file (``.csv``, ``.tsv``, ``.xlsx``, ``.parquet`` or ``.json``).

    Returns
    -------
    pathlib.Path
        The file written.
    """
    import io as _io

    out = Path(path)
    suffix = out.suffix.lower()
    buffer = _io.BytesIO()
    if suffix in (".csv", ".txt", ".tsv"):
        sep = "\t" if suffix == ".tsv" else ","
        text = safe_for_spreadsheet(frame).to_csv(index=False, sep=sep)
        buffer.write(text.encode("utf-8"))
    elif suffix == ".xlsx":
        _require("openpyxl", "xlsx")
        safe_for_spreadsheet(frame).to_excel(buffer, index=False, engine="openpyxl")
    elif suffix == ".parquet":
        _require("pyarrow", "parquet")
        frame.to_parquet(buffer, index=False)
    elif suffix == ".json":
        buffer.write(frame.to_json(orient="records", force_ascii=False).encode("utf-8"))
    else:
        raise ValueError(f"unsupported output type {suffix!r}; use .csv, .xlsx, .parquet, .json")
    out.write_bytes(buffer.getvalue())
    return out


def has_module(name: str) -> bool:
    """True when an optional dependency can be imported."""
    return importlib.util.find_spec(name) is not None


# --------------------------------------------------------------------------------------
# Analysis results as JSON (the layout of Analysis.to_dict(); JSON Schema in package data)
# --------------------------------------------------------------------------------------

#: Column-name endings that mark a float measure (units live in the names).
_FLOAT_SUFFIXES = ("_ms", "_mv", "_mvms", "_mm", "_m_s", "_pct", "_hz", "_c", "_cm", "_years")
#: Column names / prefixes that hold counts or positions (integers).
_INT_NAMES = ("site_order", "input_row", "distal_row", "proximal_row")
_INT_PREFIXES = ("n_",)


def json_schema() -> dict:
    """The JSON Schema (draft 2020-12) that :meth:`ncs.Analysis.to_json` output follows.

    Returns
    -------
    dict
        The schema, also shipped as ``ncs/data/analysis.schema.json`` and printed in the
        documentation. Its ``schema_version`` is :data:`ncs.analyze.JSON_SCHEMA_VERSION`.
    """
    import json
    from importlib import resources

    text = (resources.files("ncs") / "data" / "analysis.schema.json").read_text(encoding="utf-8")
    return json.loads(text)


def _looks_float(name: str) -> bool:
    from ncs.fwave import NERVE_MEASURES

    text_measures = ("muscle", "distal_response")
    if name in NERVE_MEASURES and name not in text_measures:
        return True
    return name.endswith(_FLOAT_SUFFIXES) and not _looks_int(name)


def _looks_int(name: str) -> bool:
    return name in _INT_NAMES or name.endswith("_order") or name.startswith(_INT_PREFIXES)


def _restore_column(name: str, values: list, categories: dict[str, tuple[str, ...]]):
    """A column from JSON values with the dtype ncs uses for it (see :func:`from_json`)."""
    import numpy as np

    from ncs._codes import CATEGORY_COLUMNS, from_labels

    present = [v for v in values if v is not None]
    kinds = {type(v) for v in present}
    if not present and name in categories:  # empty table or all-null declared column
        return pd.Categorical(values, categories=list(categories[name]))
    if name in categories and kinds <= {str} and set(present) <= set(categories[name]):
        return pd.Categorical(values, categories=list(categories[name]))
    if name in CATEGORY_COLUMNS and kinds <= {str}:  # keys and labels (sorted categories)
        return from_labels(np.asarray(values, dtype=object))
    if categories and kinds <= {str} and present:
        # finding columns are categoricals: block (with "probable") and three-valued items
        cats = categories.get(name, categories.get("*", ()))
        if set(present) <= set(cats):
            return pd.Categorical(values, categories=list(cats))
    if not values and _looks_int(name):  # empty table
        return np.zeros(0, dtype=np.int64)
    if not kinds:  # every value missing: decide by name
        if _looks_float(name) or _looks_int(name):
            return np.full(len(values), np.nan)
        return pd.array(values, dtype="string")
    if kinds <= {str}:
        return pd.array(values, dtype="string")
    if kinds <= {bool}:
        return (
            pd.array(values, dtype="boolean")
            if len(present) < len(values)
            else np.array(values, dtype=bool)
        )
    if kinds <= {int} and len(present) == len(values) and not _looks_float(name):
        return np.asarray(values, dtype=np.int64)
    if kinds <= {int, float}:
        return np.array([np.nan if v is None else v for v in values], dtype=float)
    return pd.Series(values, dtype=object).to_numpy()


def _table_from_records(
    records: list[dict], columns: tuple[str, ...], categories: dict[str, tuple[str, ...]]
) -> pd.DataFrame:
    """Rows of a JSON table as a DataFrame; ``columns`` gives the order (and an empty table's)."""
    present = list(dict.fromkeys(k for r in records for k in r)) if records else list(columns)
    data = {c: _restore_column(c, [r.get(c) for r in records], categories) for c in present}
    return pd.DataFrame(data, index=pd.RangeIndex(len(records)))


def _criterion_from_dict(d: dict):
    """A :class:`ncs.Criterion` from its ``to_dict()``: the registry's object when identical."""
    from ncs.registry import CRITERIA, criterion_from_dict

    known = CRITERIA.get(d.get("id", ""))
    if known is not None and known.to_dict() == d:
        return known

    try:
        rebuilt = criterion_from_dict(d)
        if rebuilt.to_dict() == d:
            return rebuilt
    except (KeyError, TypeError, ValueError):
        pass
    return CriterionRecord(d)


class CriterionRecord:
    """A criterion read from JSON that cannot be rebuilt exactly: its description, read-only.

    Carries ``id``, ``title``, ``citation`` (a :class:`ncs.Citation`), ``verified`` and the
    other keys of the JSON as attributes, and gives the same ``to_dict()`` back. It describes
    the criterion that produced a saved result; it cannot judge new segments.
    """

    def __init__(self, description: dict) -> None:
        from ncs.criteria import Citation

        self._description = description
        for key, value in description.items():
            setattr(self, key, value)

        def citation(c: dict) -> Citation:
            return Citation(key=c.get("key", ""), text=c.get("text", ""), doi=c.get("doi"))

        self.citation = citation(description.get("citation") or {})
        self.applied_in = tuple(citation(c) for c in description.get("applied_in") or ())
        self.id = str(description["id"])
        self.verified = bool(description.get("verified", False))

    def to_dict(self) -> dict:
        return self._description

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CriterionRecord) and other.to_dict() == self.to_dict()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"CriterionRecord(id={self.id!r})"


def from_json(source: str | Path | dict):
    """Rebuild an :class:`ncs.Analysis` from :meth:`~ncs.Analysis.to_json` output.

    Parameters
    ----------
    source : str, pathlib.Path or dict
        JSON text, a path to a ``.json`` file, or the parsed dict.

    Returns
    -------
    Analysis
        The same tables with the dtypes :func:`ncs.analyze` gives them: keys and labels
        (``patient_id``, ``nerve``, site names, ``scheme``, ``verdict``, ...) as
        categoricals over their sorted values,
        ``block``, ``dispersion`` and the nerve parameters as categoricals with their fixed
        values, other text (``reason``, ``evidence``) as pandas ``string``, counts and positions
        as ``int64``, measures as ``float64`` (``null`` -> NaN). Criteria are the registry's
        objects when their description is unchanged, else rebuilt from the JSON. ``meta``
        holds the producing ``ncs_version``, the criteria and ``n_input_rows``.

    Raises
    ------
    ValidationError
        If the text is not JSON, lacks a required table, or has an unknown ``schema_version``.

    Notes
    -----
    Extra columns are restored by the JSON type of their values (text -> ``string``, whole
    numbers without nulls -> ``int64``, other numbers -> ``float64``); an all-null column is
    float when its name ends in a unit (``_ms``, ``_mv``, ``_pct``, ...), text otherwise.

    Examples
    --------
    >>> import ncs
    >>> from ncs.cli import demo_path
    >>> from ncs.io import from_json
    >>> result = ncs.analyze(ncs.read_sites(demo_path()))
    >>> again = from_json(result.to_json())
    >>> again.patients.equals(result.patients)
    True
    """
    import json

    from ncs.analyze import FINDING_KEYS, JSON_SCHEMA_VERSION, Analysis
    from ncs.criteria import BLOCK_VALUES, DISPERSION_VALUES
    from ncs.plausibility import COLD_LIMB_VALUES
    from ncs.schema import COLUMNS
    from ncs.segments import SEGMENT_COLUMNS
    from ncs.summary import NERVE_COLUMNS, PATIENT_COLUMNS

    if isinstance(source, dict):
        doc = source
    else:
        text = str(source)
        if isinstance(source, Path) or not text.lstrip().startswith("{"):
            p = Path(source)
            if not p.is_file():
                raise ValidationError([Problem(None, None, f"no such file: {p.name}")])
            text = p.read_text(encoding="utf-8")
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as err:
            raise ValidationError(
                [Problem(None, None, f"not valid JSON: {err.msg} at line {err.lineno}")]
            ) from None
    if not isinstance(doc, dict):
        raise ValidationError([Problem(None, None, "expected a JSON object")])
    problems = []
    version = doc.get("schema_version")
    if version != JSON_SCHEMA_VERSION:
        problems.append(Problem(None, "schema_version", f"unsupported schema_version {version!r}"))
    tables = ("patients", "nerves", "segments", "findings", "sites")
    for key in ("criteria", *tables):
        if not isinstance(doc.get(key), list):
            problems.append(Problem(None, key, "missing or not a list"))
    if problems:
        raise ValidationError(problems)

    # in the nerves and findings tables, every three-valued text column is a categorical
    cats = {"block": BLOCK_VALUES, "dispersion": DISPERSION_VALUES, "*": DISPERSION_VALUES}
    # three-valued nerve parameters the summary declares (all-null columns included)
    import ncs.summary as _summary

    for name in getattr(_summary, "PARAMETERS", ()):
        cats.setdefault(name, getattr(_summary, "PARAMETER_VALUES", DISPERSION_VALUES))
    cats["cold_limb"] = COLD_LIMB_VALUES
    finding_columns = (*FINDING_KEYS, "criterion", "block", "dispersion", "reason", "cold_limb")
    site_columns = (*(c.name for c in COLUMNS if c.required), "site_order", "response")
    frames = {
        "patients": _table_from_records(doc["patients"], PATIENT_COLUMNS, {}),
        "nerves": _table_from_records(doc["nerves"], (*NERVE_COLUMNS, "cold_limb"), cats),
        "segments": _table_from_records(doc["segments"], SEGMENT_COLUMNS, {}),
        "findings": _table_from_records(doc["findings"], finding_columns, cats),
        "sites": _table_from_records(doc["sites"], site_columns, {}),
    }
    try:
        criteria = tuple(_criterion_from_dict(c) for c in doc["criteria"])
    except (KeyError, TypeError, ValueError) as err:
        raise ValidationError(
            [Problem(None, "criteria", f"cannot read a criterion: {type(err).__name__}: {err}")]
        ) from None
    meta = {
        "ncs_version": doc.get("ncs_version"),
        "criteria": {c.id: {"verified": c.verified, "citation": c.citation.text} for c in criteria},
        "n_input_rows": len(frames["sites"]),
    }
    if isinstance(doc.get("provenance"), dict):
        meta["provenance"] = doc["provenance"]
    return Analysis(criteria=criteria, meta=meta, **frames)
