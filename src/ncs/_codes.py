"""Text columns as integer codes into sorted categories (the output tables' key dtype).

Every key and label column of the output tables (``patient_id``, ``nerve``, ``side``, site
names, ``reference``, ``criterion``/``scheme``, ``verdict``, ...) is a pandas ``category``
whose categories are the distinct values present, in sorted order. A key then costs one small
integer per row, tables of millions of rows are built by taking codes, and the same values
give the same dtype whichever rows they came from (so results of two runs compare equal).
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Sequence

import numpy as np
import pandas as pd

CATEGORY_COLUMNS: frozenset[str] = frozenset(
    {
        # sites
        "patient_id",
        "visit",
        "study_date",
        "nerve",
        "side",
        "site",
        "response",
        "muscle",
        "sex",
        # segments and findings
        "distal_site",
        "proximal_site",
        "comparison",
        "reference_table",
        "distal_response",
        "proximal_response",
        "entrapment",
        "implausible",
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


_SMALL = 512  # category lists up to this length get a cached dtype

# dtypes of short category lists, shared, with their categories as a tuple of str (reading
# a tuple is much cheaper than reading the categories' Index)
_DTYPES: dict[tuple[str, ...], pd.CategoricalDtype] = {}
_NAMES: dict[int, tuple[str, ...]] = {}


def _new_dtype(categories: Sequence[str] | pd.Index) -> pd.CategoricalDtype:
    if not len(categories):
        return pd.CategoricalDtype(pd.Index([], dtype=object))  # the same whatever the source
    index = categories if isinstance(categories, pd.Index) else pd.Index(list(categories))
    return pd.CategoricalDtype(index)


def _dtype(categories: Sequence[str] | pd.Index) -> pd.CategoricalDtype:
    """The categorical dtype of these (sorted, unique) categories; shared when short."""
    if len(categories) > _SMALL:
        return _new_dtype(categories)
    names = tuple(categories)
    dtype = _DTYPES.get(names)
    if dtype is None:
        if len(_DTYPES) >= 4096:  # bounded: forget all and start again
            _DTYPES.clear()
            _NAMES.clear()
        dtype = _DTYPES[names] = _new_dtype(list(names))
        _NAMES[id(dtype)] = names
    return dtype


def _is_sorted(categories: Sequence[str] | pd.Index) -> bool:
    if isinstance(categories, pd.Index):
        return bool(categories.is_monotonic_increasing)
    if len(categories) > 64:  # compare in one C loop
        values = np.asarray(categories, dtype=object)
        return bool((values[1:] > values[:-1]).all())
    return all(a < b for a, b in itertools.pairwise(categories))


# the sort of short category lists, worked out once: (sorted names, rank or None)
_SORTS: dict[tuple[str, ...], tuple[tuple[str, ...], np.ndarray | None]] = {}


def _sorted_names(names: tuple[str, ...]) -> tuple[tuple[str, ...], np.ndarray | None]:
    """The categories sorted, and each old code's new code (None: already sorted)."""
    found = _SORTS.get(names)
    if found is None:
        if len(_SORTS) >= 4096:  # bounded: forget all and start again
            _SORTS.clear()
        if len(names) < 2 or _is_sorted(names):
            found = (names, None)
        else:
            order = np.argsort(np.asarray(names, dtype=object), kind="stable")
            rank = np.empty(len(names) + 1, dtype=np.int64)
            rank[order] = np.arange(len(names))
            rank[-1] = -1
            found = (tuple(names[i] for i in order), rank)
        _SORTS[names] = found
    return found


def from_codes(
    codes: np.ndarray,
    categories: Sequence[str] | pd.Index | pd.CategoricalDtype,
    *,
    all_used: bool = False,
) -> pd.Categorical:
    """A categorical of ``codes`` (-1 = missing) into unique ``categories``.

    The categories are sorted and those no code refers to are dropped, so the dtype depends
    only on the values present. ``categories`` may be the dtype of a categorical made here
    (its categories are sorted already); it is reused when every category is used.
    ``all_used=True`` says the caller knows every category is used (codes repeated from a
    categorical made here, say), which skips the check.
    """
    codes = np.asarray(codes)
    dtype = categories if isinstance(categories, pd.CategoricalDtype) else None
    cats = categories
    if dtype is not None:
        cats = _NAMES.get(id(dtype)) or dtype.categories
    n = len(cats)
    if dtype is None and n > 1:
        if n <= _SMALL and not isinstance(cats, pd.Index):
            cats, rank = _sorted_names(tuple(cats))
            if rank is not None:
                codes = rank[codes]
        elif not _is_sorted(cats):
            order = np.argsort(np.asarray(cats, dtype=object), kind="stable")
            rank = np.empty(n + 1, dtype=np.int64)
            rank[order] = np.arange(n)
            rank[-1] = -1
            codes = rank[codes]
            cats = pd.Index(cats)[order]
    if n and not all_used:
        used = _used(codes, n)
        if not used.all():
            remap = np.append(np.cumsum(used) - 1, -1)  # code -1 stays missing
            codes = remap[codes]
            if n <= _SMALL:
                cats = [c for c, u in zip(cats, used.tolist(), strict=True) if u]
            else:
                cats = pd.Index(cats)[used]
            dtype = None
    if dtype is None:
        dtype = _dtype(cats)
    return pd.Categorical.from_codes(
        _small_codes(codes, len(dtype.categories)), dtype=dtype, validate=False
    )


def _used(codes: np.ndarray, n: int) -> np.ndarray:
    """Which of ``n`` categories the codes (-1 = missing) refer to."""
    if n <= 2 and codes.size > 4096:  # two reductions beat a scatter on long columns
        low, high = int(codes.min()), int(codes.max())
        if high == n - 1 and (n == 1 or low == 0):  # 0 and n - 1 both present: all used
            return np.ones(n, dtype=bool)
    seen = np.zeros(n + 1, dtype=bool)
    seen[codes] = True  # code -1 marks the spare last slot
    return seen[:n]


def take(values: pd.Categorical, rows: np.ndarray) -> pd.Categorical:
    """Rows of a categorical made here (codes taken; unused categories dropped)."""
    return from_codes(np.asarray(values.codes)[rows], values.dtype)


def from_labels(values: np.ndarray) -> pd.Categorical:
    """A categorical from an object array of a few distinct labels (None -> missing)."""
    codes, uniques = pd.factorize(np.asarray(values, dtype=object), sort=True)
    return from_codes(codes, list(uniques))


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
        if id(values.dtype) in _NAMES or len(cats) < 2 or cats.is_monotonic_increasing:
            return codes, cats
        order = np.argsort(np.asarray(cats, dtype=object), kind="stable")
        rank = np.empty(len(cats) + 1, dtype=np.int64)
        rank[order] = np.arange(len(cats))
        rank[-1] = -1
        return rank[codes], cats[order]
    codes, uniques = pd.factorize(pd.array(values, dtype="string"), sort=True)
    return codes.astype(np.int64), pd.Index(list(uniques))


def categorical(values) -> pd.Categorical:
    """Any text column as a categorical with sorted categories.

    A categorical made here is returned as it is (it may carry categories a filter left
    unused; :func:`take` and :func:`from_codes` drop them).
    """
    array = values.array if isinstance(values, pd.Series) else values
    if isinstance(array, pd.Categorical) and id(array.dtype) in _NAMES:
        return array
    if isinstance(array, pd.Categorical):
        return from_codes(
            np.asarray(array.codes), array.dtype if _sorted_dtype(array) else array.categories
        )
    codes, cats = sorted_codes(values)
    return from_codes(codes, cats)


def _sorted_dtype(values: pd.Categorical) -> bool:
    cats = values.categories
    return not values.ordered and (len(cats) < 2 or bool(cats.is_monotonic_increasing))


def from_table(labels: Sequence[str | None], index: np.ndarray) -> pd.Categorical:
    """``labels[index]`` as a categorical, for a short table of labels (None = missing)."""
    position: dict[str, int] = {}
    codes = [-1 if label is None else position.setdefault(label, len(position)) for label in labels]
    return from_codes(np.array(codes, dtype=np.int64)[np.asarray(index)], list(position))


def constant(value: str | None, n: int) -> pd.Categorical:
    """``n`` copies of one label (or ``n`` missing values)."""
    if value is None:
        return from_codes(np.full(n, -1, dtype=np.int8), [])
    return from_codes(np.zeros(n, dtype=np.int8), [value], all_used=n > 0)


def concat(parts: Sequence[pd.Categorical]) -> pd.Categorical:
    """Categoricals one after another, over the union of their categories (sorted)."""
    if not parts:
        return from_codes(np.zeros(0, dtype=np.int8), [])
    first = parts[0].dtype
    names = [_NAMES.get(id(p.dtype)) or tuple(p.categories.tolist()) for p in parts]
    if all(n == names[0] for n in names[1:]):
        return from_codes(np.concatenate([np.asarray(p.codes) for p in parts]), first)
    union = sorted({c for part in names for c in part})
    position = {c: i for i, c in enumerate(union)}
    codes = []
    for p, part in zip(parts, names, strict=True):
        table = np.array([position[c] for c in part] + [-1], dtype=np.int64)
        codes.append(table[np.asarray(p.codes).astype(np.int64)])
    return from_codes(np.concatenate(codes), union)


def combined_key(columns: list[np.ndarray]) -> np.ndarray | None:
    """One int64 per row that sorts like the rows of these integer columns (>= -1).

    None when the columns have too many distinct values to fit one int64.
    """
    key = np.zeros(len(columns[0]), dtype=np.int64)
    span = 1
    for col in columns:
        width = int(col.max(initial=-1)) + 2  # -1 (missing) -> 0
        span *= width
        if span >= 2**62:
            return None
        key = key * width + (col + 1)
    return key


def dense_ids(key: np.ndarray) -> np.ndarray:
    """0-based ids of the distinct values of a non-negative int64 key, in key order.

    The same as ``np.unique(key, return_inverse=True)[1]``; a table of the key's range
    replaces the sort when the range is small against the number of rows.
    """
    if key.size == 0:
        return np.zeros(0, dtype=np.int64)
    top = int(key.max()) + 1
    if top > 8 * key.size + 4096:
        return np.unique(key, return_inverse=True)[1].reshape(-1).astype(np.int64)
    seen = np.zeros(top, dtype=bool)
    seen[key] = True
    return (np.cumsum(seen) - 1)[key]


def row_ids(columns: Sequence[np.ndarray]) -> np.ndarray:
    """0-based ids of the distinct rows of some integer columns (>= -1), in key order.

    One int64 key per row where the columns' values fit (:func:`combined_key`,
    :func:`dense_ids`), else a sort of the stacked rows: the same ids either way.
    """
    if not len(columns) or not np.asarray(columns[0]).size:
        return np.zeros(0, dtype=np.int64)
    key = combined_key(list(columns))
    if key is None:  # too many distinct values for one int64 key
        stacked = np.stack(columns, axis=1)
        return np.unique(stacked, axis=0, return_inverse=True)[1].reshape(-1).astype(np.int64)
    return dense_ids(key)


@functools.lru_cache(maxsize=256)
def fixed_dtype(categories: tuple[str, ...]) -> pd.CategoricalDtype:
    """The categorical dtype of a fixed list of values, in the given order (cached)."""
    return pd.CategoricalDtype(pd.Index(list(categories)))


def fixed(codes: np.ndarray, categories: tuple[str, ...]) -> pd.Categorical:
    """Codes (-1 = missing) into a fixed list of values such as ``BLOCK_VALUES``."""
    return pd.Categorical.from_codes(
        np.asarray(codes, dtype=np.int8), dtype=fixed_dtype(tuple(categories)), validate=False
    )


def table(data: dict[str, object], n: int) -> pd.DataFrame:
    """A DataFrame of freshly made columns (``n`` rows each, a RangeIndex).

    A large table keeps each column as it is: pandas would otherwise combine same-dtype
    columns into blocks, copying every value. A small one is combined (quicker to build and
    to select rows from); its columns are 1-D NumPy or pandas arrays of length ``n`` made by
    ncs, so pandas' checks of arbitrary input are skipped where pandas offers that
    (``DataFrame._from_arrays``, in every supported pandas; else the public constructor).
    Every path keeps each column's dtype as given (an object array stays ``object``).
    """
    if n >= _COMBINE_BELOW:
        return pd.DataFrame(_objects_kept(data), copy=False)
    if _FROM_ARRAYS is not None:
        try:
            return _FROM_ARRAYS(
                list(data.values()),
                columns=_column_index(tuple(data)).copy(),  # a copy: its name is settable
                index=pd.RangeIndex(n),
                verify_integrity=False,
            )
        except TypeError:  # a pandas whose private constructor changed: the public one
            pass
    return pd.DataFrame(_objects_kept(data))


def _objects_kept(data: dict[str, object]) -> dict[str, object]:
    """Object arrays wrapped so that pandas keeps them ``object`` (as ``_from_arrays`` does)
    instead of inferring a string dtype: a column's dtype never depends on the table size."""
    return {
        k: pd.Series(v, dtype=object, copy=False)
        if isinstance(v, np.ndarray) and v.dtype.kind == "O"
        else v
        for k, v in data.items()
    }


_FROM_ARRAYS = getattr(pd.DataFrame, "_from_arrays", None)
_ITER_ARRAYS = getattr(pd.DataFrame, "_iter_column_arrays", None)


def column_arrays(frame: pd.DataFrame) -> list:
    """Each column's values, in column order: a NumPy array for a NumPy dtype, else the
    pandas extension array (categorical, string, nullable ...), never copied.

    Reading a column through pandas makes a Series each time (about 5 µs); a table's rows
    turned into JSON read every column of five tables. pandas' own column iterator
    (``DataFrame._iter_column_arrays``, in every supported pandas) makes none; without it,
    the public path gives the same arrays.
    """
    if _ITER_ARRAYS is not None:
        try:
            return list(_ITER_ARRAYS(frame))
        except (TypeError, AttributeError):  # a pandas whose private iterator changed
            pass
    return [
        column.to_numpy() if isinstance(column.dtype, np.dtype) else column.array
        for _, column in frame.items()
    ]


@functools.lru_cache(maxsize=256)
def _column_index(names: tuple[str, ...]) -> pd.Index:
    """The columns Index of a table layout (made once; callers take a cheap copy)."""
    return pd.Index(list(names))


_COMBINE_BELOW = 10_000  # rows


def as_strings(frame: pd.DataFrame) -> pd.DataFrame:
    """A shallow copy with every text categorical as a pandas ``string`` column."""
    out = frame.copy(deep=False)
    for col in out.columns:
        if isinstance(out[col].dtype, pd.CategoricalDtype):
            out[col] = out[col].astype(object).astype("string")
    return out


def code_of(values: pd.Categorical, value: str) -> int:
    """The code of ``value`` in a categorical's categories (-1 if it is not one)."""
    names = _NAMES.get(id(values.dtype))
    if names is not None:
        return names.index(value) if value in names else -1
    return int(values.categories.get_indexer([value])[0])


def names_of(values: pd.Categorical) -> tuple[str, ...]:
    """A categorical's categories as a tuple of str."""
    names = _NAMES.get(id(values.dtype))
    return names if names is not None else tuple(values.categories.tolist())


def labels(values: pd.Categorical, rows: np.ndarray | None = None) -> np.ndarray:
    """Some (default all) values of a categorical as an object array (missing -> None)."""
    names = names_of(values)
    codes = np.asarray(values.codes)
    return np.array([*names, None], dtype=object)[codes if rows is None else codes[rows]]


def floats(column: pd.Series) -> np.ndarray:
    """A numeric column as float64 values (missing -> NaN), without a copy when it is one."""
    if column.dtype == np.float64:
        return column.to_numpy()
    return column.to_numpy(dtype=float, na_value=np.nan)


class ColumnCache:
    """Read-only access to a DataFrame's columns, each column's Series made once.

    pandas builds a new Series on every ``frame[column]``; the analysis reads the same
    columns many times per call. With ``rows``, the cache is a view of those rows in that
    order (a sorted table, say): each column is gathered the first time it is read, so the
    columns nobody reads are never copied. ``columns`` and ``len`` describe the view.
    """

    __slots__ = ("_local", "_parent", "_series", "frame", "rows")

    def __init__(self, frame: pd.DataFrame, rows: np.ndarray | None = None) -> None:
        if rows is not None and len(frame) < _COMBINE_BELOW:  # small: one take is cheaper
            frame, rows = frame.take(rows).reset_index(drop=True), None
        self.frame = frame
        self.rows = rows
        self._series: dict[str, pd.Series] = {}
        self._parent: ColumnCache | None = None
        self._local: np.ndarray | None = None

    def view(self, rows: np.ndarray) -> ColumnCache:
        """Some rows of this cache, in that order: each column is gathered from this cache's
        Series when first read (a few columns of a few rows: no table is copied)."""
        out = ColumnCache.__new__(ColumnCache)
        out.frame = self.frame
        out.rows = rows if self.rows is None else self.rows[rows]
        out._series = {}
        out._parent = self
        out._local = rows
        return out

    @property
    def columns(self) -> pd.Index:
        return self.frame.columns

    def __getitem__(self, key):
        if isinstance(key, str):
            series = self._series.get(key)
            if series is None:
                if self._parent is not None:  # a view: gather from the parent's Series
                    values = self._parent[key].array.take(self._local)
                    series = pd.Series(values, name=key, copy=False)
                else:
                    series = self.frame[key]
                    if self.rows is not None:
                        values = series.array.take(self.rows)
                        series = pd.Series(values, name=key, copy=False)
                self._series[key] = series
            return series
        if self.rows is not None:
            raise TypeError("a row view reads one column at a time")
        return self.frame[key]

    def __len__(self) -> int:
        return len(self.frame) if self.rows is None else len(self.rows)

    def __getattr__(self, name: str):
        if name in ColumnCache.__slots__ or self.rows is not None:
            raise AttributeError(name)
        return getattr(self.frame, name)


def equals_mask(column: pd.Series, value: str) -> np.ndarray:
    """``column == value`` as plain booleans (missing -> False), for text or categorical."""
    values = column.array
    if isinstance(values, pd.Categorical):  # compare codes: no per-call pandas machinery
        where = code_of(values, value)
        codes = np.asarray(values.codes)
        return codes == where if where >= 0 else np.zeros(codes.size, dtype=bool)
    return np.asarray(column.eq(value).to_numpy(dtype=bool, na_value=False), dtype=bool)


def isin_mask(column: pd.Series, values: Sequence[str]) -> np.ndarray:
    """``column.isin(values)`` as plain booleans (missing -> False)."""
    array = column.array
    if isinstance(array, pd.Categorical):
        wanted = np.zeros(len(array.categories) + 1, dtype=bool)
        for v in values:
            where = code_of(array, v)
            if where >= 0:
                wanted[where] = True
        return wanted[np.asarray(array.codes)]  # code -1 (missing) reads the spare last slot
    return np.asarray(column.isin(list(values)).to_numpy(dtype=bool, na_value=False), dtype=bool)
