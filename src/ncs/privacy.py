"""Pseudonymised patient ids: a keyed hash, stable across runs, files and machines.

:func:`pseudonymize` replaces each patient id by ``HMAC-SHA256(key, id)`` (hex, truncated).
The same key gives the same pseudonym for the same id everywhere, so results of separate
runs can still be joined; without the key an id cannot be recovered or confirmed by
guessing (unlike a plain hash of a short, structured id). Apply it to the sites table before
analysis and every output (tables, JSON, HTML, reason and evidence sentences) carries only
the pseudonym. The command line does this with ``--pseudonymize-key-file FILE``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from ncs.cells import factorize_cells

__all__ = ["MIN_KEY_BYTES", "load_key", "pseudonym", "pseudonymize"]

#: Shortest key accepted [bytes]: 128 bits. Generate one with ``python -c "import secrets;
#: print(secrets.token_hex(32))" > key.txt``.
MIN_KEY_BYTES = 16
#: Default pseudonym length [hex digits]: 64 bits, so that 10^7 patients collide with a
#: probability of about 3e-6 (checked: a collision raises rather than merging two patients).
DEFAULT_LENGTH = 16


def _key_bytes(key: bytes | str) -> bytes:
    data = key.encode("utf-8") if isinstance(key, str) else bytes(key)
    if len(data) < MIN_KEY_BYTES:
        raise ValueError(f"the pseudonymisation key must have at least {MIN_KEY_BYTES} bytes")
    return data


def load_key(path: str | os.PathLike[str]) -> bytes:
    """Read a key file (surrounding whitespace and the final newline are not part of the key).

    Parameters
    ----------
    path : path-like
        File holding the secret key (at least :data:`MIN_KEY_BYTES` bytes).

    Returns
    -------
    bytes
        The key.
    """
    return _key_bytes(Path(path).read_bytes().strip())


def pseudonym(patient_id: str, key: bytes | str, *, length: int = DEFAULT_LENGTH) -> str:
    """The pseudonym of one id: the first ``length`` hex digits of HMAC-SHA256(key, id).

    Parameters
    ----------
    patient_id : str
        The id as validation reads it (surrounding spaces removed).
    key : bytes or str
        The secret key (at least :data:`MIN_KEY_BYTES` bytes).
    length : int, default 16
        Hex digits kept (4 to 64).

    Returns
    -------
    str
        ``length`` lower-case hex digits.

    References
    ----------
    .. [1] Krawczyk H, Bellare M, Canetti R. HMAC: Keyed-Hashing for Message Authentication.
       RFC 2104, 1997.

    Examples
    --------
    >>> pseudonym("P001", b"0123456789abcdef0123456789abcdef")
    'd0f99f17a67d8935'
    """
    if not 4 <= length <= 64:
        raise ValueError("length must be between 4 and 64 hex digits")
    digest = hmac.new(_key_bytes(key), str(patient_id).encode("utf-8"), hashlib.sha256)
    return digest.hexdigest()[:length]


def pseudonymize(
    sites: pd.DataFrame,
    key: bytes | str,
    *,
    columns: Iterable[str] = ("patient_id",),
    length: int = DEFAULT_LENGTH,
) -> pd.DataFrame:
    """A copy of a table with its identifier columns replaced by keyed pseudonyms.

    Parameters
    ----------
    sites : pandas.DataFrame
        Sites table (or any table with the columns).
    key : bytes or str
        The secret key (at least :data:`MIN_KEY_BYTES` bytes); keep it apart from the data.
    columns : iterable of str, default ("patient_id",)
        Columns to replace; absent ones are skipped. Add any other identifying column
        (a name, a record number) that should not reach the outputs.
    length : int, default 16
        Hex digits per pseudonym.

    Returns
    -------
    pandas.DataFrame
        The copy: each id, read as validation reads it (text, surrounding spaces removed,
        ``7.0`` as ``"7"``), replaced by :func:`pseudonym`; missing and blank ids stay
        missing, so validation still reports them.

    Raises
    ------
    ValueError
        For a short key, or if two different ids get the same pseudonym (raise ``length``).
    """
    from ncs.schema import _text_of

    key_bytes = _key_bytes(key)
    out = sites.copy(deep=False)
    for col in columns:
        if col not in out.columns:
            continue
        try:
            if out[col].dtype == object:  # cells of any type: a TRUE is not a 1
                codes, uniques = factorize_cells(out[col].to_numpy(dtype=object))
            else:
                codes, uniques = pd.factorize(out[col], use_na_sentinel=True)
        except TypeError:  # unhashable cells: validation reports them
            codes, uniques = pd.factorize(out[col].astype(str), use_na_sentinel=True)
        texts = [_text_of(u) for u in uniques]
        names = [None if t is None else pseudonym(t, key_bytes, length=length) for t in texts]
        distinct_in = {t for t in texts if t is not None}
        distinct_out = {n for n in names if n is not None}
        if len(distinct_out) != len(distinct_in):
            raise ValueError("two ids share a pseudonym; use a larger length")
        table = np.array([*names, None], dtype=object)
        out[col] = pd.array(table[codes], dtype="string")
    return out
