"""Reading sites tables from files and writing results.

Formats are chosen by file extension: ``.csv`` (and ``.txt``/``.tsv``), ``.xlsx``
(``ncs-edx[xlsx]``), ``.parquet`` (``ncs-edx[parquet]``) and ``.json`` (a list of row
objects). Every reader returns the raw table; validation is :func:`ncs.validate`'s job.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from types import ModuleType

import pandas as pd

from ncs.errors import Problem, ValidationError

__all__ = ["read_sites"]

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


def read_sites(path: str | Path, **kwargs) -> pd.DataFrame:
    """Read a sites table from a CSV, XLSX, Parquet or JSON file.

    Parameters
    ----------
    path : str or pathlib.Path
        The file. Its extension selects the reader.
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
        If the file does not exist or its format is not supported.
    """
    p = Path(path)
    if not p.is_file():
        raise ValidationError([Problem(None, None, f"no such file: {p.name}")])
    suffix = p.suffix.lower()
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
        except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as err:
            raise ValidationError(
                [Problem(None, None, f"cannot read CSV: {type(err).__name__}")]
            ) from None
    if suffix in (".xlsx", ".xlsm"):
        _require("openpyxl", "xlsx")
        return pd.read_excel(p, dtype=text_dtypes, engine="openpyxl", **kwargs)
    if suffix == ".parquet":
        _require("pyarrow", "parquet")
        return pd.read_parquet(p, **kwargs)
    if suffix == ".json":
        return pd.read_json(p, orient="records", dtype=text_dtypes, **kwargs)
    raise ValidationError(
        [
            Problem(
                None, None, f"unsupported file type {suffix!r}; use .csv, .xlsx, .parquet or .json"
            )
        ]
    )


def has_module(name: str) -> bool:
    """True when an optional dependency can be imported."""
    return importlib.util.find_spec(name) is not None
