"""Text columns as integer codes into sorted categories (the output tables' key dtype).

Every key and label column of the output tables (``patient_id``, ``nerve``, ``side``, site
names, ``reference``, ``criterion``/``scheme``, ``verdict``, ...) is a pandas ``category``
whose categories are the distinct values present, in sorted order. A key then costs one small
integer per row, tables of millions of rows are built by taking codes, and the same values
give the same dtype whichever rows they came from (so results of two runs compare equal).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

CATEGORY_COLUMNS: frozenset[str] = frozenset(
    {
        # sites
        "patient_id",
        "nerve",
        "side",
        "site",
        "response",
        "muscle",
        "sex",
        # segments and findings
        "distal_site",
        "proximal_site",
        "reference",
        "distal_response",
        "proximal_response",
        "entrapment",
        "criterion",
        # nerves and patients
        "scheme",
        "parameters_met",
        "verdict",
        "evidence_nerve",
        "evidence_segment",
        "evidence_rule",
        "verdict_rule",
        "citation",
    }
)
"""Text columns of the output tables that are categoricals over the sorted values present.

``block``, ``dispersion`` and the nerve parameters are categoricals with fixed categories;
``reason`` and ``evidence`` (one sentence per row) are pandas ``string``.
"""


def _small_codes(codes: np.ndarray, n_categories: int) -> np.ndarray:
    """Codes in the integer type pandas itself would choose for this many categories."""
    if n_categories < 2**7:
        return codes.astype(np.int8, copy=False)
    if n_categories < 2**15:
        return codes.astype(np.int16, copy=False)
    return codes.astype(np.int32, copy=False)


def from_codes(codes: np.ndarray, categories: Sequence[str] | pd.Index) -> pd.Categorical:
    """A categorical of ``codes`` (-1 = missing) into unique ``categories``.

    The categories are sorted and those no code refers to are dropped, so the dtype depends
    only on the values present.
    """
    codes = np.asarray(codes)
    cats = categories if isinstance(categories, pd.Index) else pd.Index(list(categories))
    n = len(cats)
    if n > 1 and not cats.is_monotonic_increasing:
        order = np.argsort(np.asarray(cats, dtype=object), kind="stable")
        rank = np.empty(n + 1, dtype=np.int64)
        rank[order] = np.arange(n)
        rank[-1] = -1
        codes, cats = rank[codes], cats[order]
    if n:
        used = np.bincount(codes[codes >= 0], minlength=n).astype(bool) if codes.size else None
        if used is None or not used.all():
            used = np.zeros(n, dtype=bool) if used is None else used
            remap = np.cumsum(used) - 1
            remap = np.append(remap, -1)  # code -1 stays missing
            codes = remap[codes]
            cats = cats[used]
    if not len(cats):
        cats = pd.Index([], dtype=object)  # no values: the same dtype whatever the source
    return pd.Categorical.from_codes(
        _small_codes(codes, len(cats)), dtype=pd.CategoricalDtype(cats), validate=False
    )


def take(values: pd.Categorical, rows: np.ndarray) -> pd.Categorical:
    """Rows of a categorical (codes taken; unused categories dropped)."""
    return from_codes(np.asarray(values.codes)[rows], values.categories)


def from_labels(values: np.ndarray) -> pd.Categorical:
    """A categorical from an object array of a few distinct labels (None -> missing)."""
    codes, uniques = pd.factorize(np.asarray(values, dtype=object), sort=True)
    return from_codes(codes, pd.Index(list(uniques)))


def sorted_codes(values: pd.Series | pd.Categorical) -> tuple[np.ndarray, pd.Index]:
    """Codes that sort like the values (missing -1) and the sorted distinct values.

    Free for a categorical whose categories are sorted (what ncs produces); otherwise one
    factorisation.
    """
    if isinstance(values, pd.Series):
        values = values.array
    if isinstance(values, pd.Categorical):
        cats = values.categories
        codes = np.asarray(values.codes).astype(np.int64)
        if cats.is_monotonic_increasing:
            return codes, cats
        order = np.argsort(np.asarray(cats, dtype=object), kind="stable")
        rank = np.empty(len(cats) + 1, dtype=np.int64)
        rank[order] = np.arange(len(cats))
        rank[-1] = -1
        return rank[codes], cats[order]
    codes, uniques = pd.factorize(pd.array(values, dtype="string"), sort=True)
    return codes.astype(np.int64), pd.Index(list(uniques))


def categorical(values) -> pd.Categorical:
    """Any text column as a categorical with sorted categories of the values present."""
    codes, cats = sorted_codes(values)
    return from_codes(codes, pd.Index(list(cats)))


def from_table(labels: Sequence[str | None], index: np.ndarray) -> pd.Categorical:
    """``labels[index]`` as a categorical, for a short table of labels (None = missing)."""
    codes, uniques = pd.factorize(np.asarray(list(labels), dtype=object))
    return from_codes(codes[np.asarray(index)], pd.Index(list(uniques)))


def constant(value: str | None, n: int) -> pd.Categorical:
    """``n`` copies of one label (or ``n`` missing values)."""
    if value is None:
        return from_codes(np.full(n, -1, dtype=np.int8), pd.Index([], dtype=object))
    return from_codes(np.zeros(n, dtype=np.int8), [value])


def concat(parts: Sequence[pd.Categorical]) -> pd.Categorical:
    """Categoricals one after another, over the union of their categories (sorted)."""
    if not parts:
        return from_codes(np.zeros(0, dtype=np.int8), pd.Index([], dtype=object))
    first = parts[0].categories
    if all(p.categories.equals(first) for p in parts[1:]):
        return from_codes(np.concatenate([np.asarray(p.codes) for p in parts]), first)
    union = pd.Index(sorted({c for p in parts for c in p.categories}))
    codes = []
    for p in parts:
        position = np.append(union.get_indexer(p.categories), -1)
        codes.append(position[np.asarray(p.codes).astype(np.int64)])
    return from_codes(np.concatenate(codes), union)


def as_strings(frame: pd.DataFrame) -> pd.DataFrame:
    """A shallow copy with every text categorical as a pandas ``string`` column."""
    out = frame.copy(deep=False)
    for col in out.columns:
        if isinstance(out[col].dtype, pd.CategoricalDtype):
            out[col] = out[col].astype(object).astype("string")
    return out
