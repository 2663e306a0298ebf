"""How a CSV file is written: encoding, column separator, decimal mark, header line.

Detection reads one sample from the start of the file (64 KiB), once per file:

* **encoding**: a byte-order mark (UTF-8, UTF-16, UTF-32) decides; else text that decodes as
  UTF-8 is UTF-8; else a legacy 8-bit encoding, chosen by `charset-normalizer
  <https://github.com/jawah/charset_normalizer>`_ when it is installed
  (``pip install 'ncs-edx[detect]'``), with Windows-1252 preferred whenever it reads the
  sample the same way; without it, Windows-1252 (or Latin-1 when the bytes are not
  Windows-1252);
* **separator**: the one of ``,`` ``;`` tab ``|`` that splits the header line (names, not
  numbers) and nine in ten of the lines below it into the same number of columns (fields
  read by :mod:`csv`, quotes respected); lines above the header (a title, blank lines) are
  skipped; when two fit, the one giving more columns, and two giving as many are an error;
* **decimal mark**: a comma when number cells are written ``8,2`` and none ``8.2``.

Whatever is unsure raises :class:`~ncs.ValidationError` naming the option that settles it
(``sep=``/``--sep``, ``decimal=``/``--decimal``, ``encoding=``/``--encoding``,
``header_row=``/``--header-row``).
"""

from __future__ import annotations

import codecs
import csv
import importlib.util
import re
from dataclasses import dataclass, field

from ncs.errors import Problem, ValidationError

__all__ = [
    "SAMPLE_BYTES",
    "SEPARATORS",
    "CsvDialect",
    "decode_text",
    "detect_csv",
    "detect_encoding",
]

#: Bytes read from the start of a file for detection.
SAMPLE_BYTES = 64 * 1024
#: Column separators detection considers, in order of preference.
SEPARATORS: tuple[str, ...] = (",", ";", "\t", "|")
#: Lines read (at most) to find the header and the separator.
_SAMPLE_LINES = 200
#: A header further down than this is not looked for (title blocks are short).
_MAX_TITLE_LINES = 30
#: Share of the lines below a header that must have its number of cells.
_MIN_SHARE = 0.9

_SEPARATOR_NAMES = {",": "','", ";": "';'", "\t": "tab", "|": "'|'"}
_SEPARATOR_OPTIONS = {",": ",", ";": "';'", "\t": "tab", "|": "'|'"}
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_COMMA_NUMBER = re.compile(r"^[-+]?\d+,\d+$")
_POINT_NUMBER = re.compile(r"^[-+]?\d*\.\d+$")
_NUMBER = re.compile(r"^[-+]?(\d+([.,]\d*)?|[.,]\d+)([eE][-+]?\d+)?$")


@dataclass(frozen=True)
class CsvDialect:
    """How a CSV file is written (see :func:`detect_csv`).

    Attributes
    ----------
    encoding : str
        Python codec name (``utf-8``, ``utf-8-sig``, ``cp1252``, ``latin-1``, ``utf-16``).
    sep : str
        Column separator.
    decimal : str
        Decimal mark of number cells, ``.`` or ``,``.
    header_line : int
        Line of the file that holds the column names (1 = first line).
    detected : tuple of str
        Which of ``encoding``, ``sep``, ``decimal``, ``header_line`` were detected (the
        others were given).
    notes : tuple of str
        What detection saw, in words (for verbose output and provenance).
    """

    encoding: str
    sep: str
    decimal: str
    header_line: int = 1
    detected: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())

    def describe(self) -> str:
        """One line: every setting, and whether it was detected or given."""

        def how(name: str) -> str:
            return "detected" if name in self.detected else "given"

        parts = [
            f"encoding {self.encoding} ({how('encoding')})",
            f"separator {_SEPARATOR_NAMES.get(self.sep, repr(self.sep))} ({how('sep')})",
            f"decimal mark '{self.decimal}' ({how('decimal')})",
            f"header on line {self.header_line} ({how('header_line')})",
        ]
        return ", ".join(parts)


def _unsure(message: str) -> ValidationError:
    return ValidationError([Problem(None, None, message)])


def _has_charset_normalizer() -> bool:
    return importlib.util.find_spec("charset_normalizer") is not None


def detect_encoding(sample: bytes, *, complete: bool = False) -> tuple[str, str]:
    """The text encoding of a file from a sample of its first bytes.

    Parameters
    ----------
    sample : bytes
        The first bytes of the file (up to :data:`SAMPLE_BYTES`).
    complete : bool, default False
        Whether the sample is the whole file (else a character cut at its end is allowed).

    Returns
    -------
    encoding : str
        Python codec name.
    how : str
        Why, in words.

    Raises
    ------
    ValidationError
        For bytes that look like UTF-16 without a byte-order mark (pass the encoding).

    Examples
    --------
    >>> detect_encoding("Élodie;median".encode("cp1252"), complete=True)[0]
    'cp1252'
    >>> detect_encoding("Élodie;median".encode("utf-8"), complete=True)[0]
    'utf-8'
    """
    for bom, name in _BOMS:
        if sample.startswith(bom):
            return name, "byte-order mark"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=complete)
    except UnicodeDecodeError:
        pass
    else:
        return "utf-8", "valid UTF-8"
    if b"\x00" in sample:
        raise _unsure(
            "the file holds NUL bytes: UTF-16 text without a byte-order mark? pass "
            "encoding='utf-16-le' (command line: --encoding utf-16-le)"
        )
    if _has_charset_normalizer():
        from charset_normalizer import from_bytes

        results = list(from_bytes(sample))
        if results:
            best = results[0]
            for result in results:  # Windows-1252 when it reads the text as well as the best
                if result.chaos > best.chaos + 0.05 or result.coherence < best.coherence - 0.05:
                    continue
                names = {codecs.lookup(e).name for e in result.could_be_from_charset}
                if "cp1252" in names or _same_text(sample, "cp1252", result.encoding):
                    return "cp1252", "not UTF-8; Windows-1252 (charset-normalizer)"
            name = codecs.lookup(best.encoding).name
            if _same_text(sample, "cp1252", name):
                return "cp1252", "not UTF-8; Windows-1252 (charset-normalizer agrees)"
            return name, "not UTF-8; charset-normalizer"
    try:
        sample.decode("cp1252")
    except UnicodeDecodeError:
        return "latin-1", "not UTF-8 nor Windows-1252"
    return "cp1252", "not UTF-8; Windows-1252 decodes it"


def _same_text(sample: bytes, a: str, b: str) -> bool:
    try:
        return sample.decode(a) == sample.decode(b)
    except (UnicodeDecodeError, LookupError):
        return False


def decode_text(data: bytes) -> str:
    """Bytes of a small text file decoded with the detected encoding."""
    encoding, _ = detect_encoding(data[:SAMPLE_BYTES], complete=len(data) <= SAMPLE_BYTES)
    return data.decode(encoding, errors="strict")


_NEWLINE = re.compile(r"\r\n|\n|\r")


def _sample_lines(text: str, complete: bool) -> list[str]:
    lines = _NEWLINE.split(text)
    if complete and lines and lines[-1] == "":
        lines = lines[:-1]
    if not complete and lines:
        lines = lines[:-1]  # the last line may be cut
    return lines[:_SAMPLE_LINES]


def _field_counts(lines: list[str], sep: str) -> list[int]:
    """Fields per line (0 for a blank line), reading quotes as CSV does."""
    counts = []
    reader = csv.reader(lines, delimiter=sep)
    try:
        for row in reader:
            counts.append(len(row) if any(cell.strip() for cell in row) else 0)
    except csv.Error:
        return []
    return counts


def _header_cells_look_like_names(line: str, sep: str) -> bool:
    """A header holds names: more than half of its cells are filled (a title padded with
    separators to the table's width, ``EMG Export;;;;;;``, is not one), and at most half
    of those are numbers."""
    cells = [c.strip() for c in next(csv.reader([line], delimiter=sep), [])]
    filled = [c for c in cells if c]
    numbers = sum(bool(_NUMBER.match(c)) for c in filled)
    return len(filled) * 2 > len(cells) and numbers * 2 <= len(filled)


@dataclass(frozen=True)
class _Layout:
    sep: str
    n_columns: int
    header_index: int  # index into the sample lines
    share: float  # of the non-blank lines from the header on with n_columns fields


def _layout(lines: list[str], sep: str) -> _Layout | None:
    """The first line that reads as a header the lines below it fit (None: no such line).

    A header has at least two cells, mostly names rather than numbers; the non-blank lines
    below it have as many cells (or one more, empty, when lines end with the separator).
    """
    counts = _field_counts(lines, sep)
    for i, width in enumerate(counts[: _MAX_TITLE_LINES + 1]):
        if width < 2 or not _header_cells_look_like_names(lines[i], sep):
            continue
        below = [(c, lines[j]) for j, c in enumerate(counts[i + 1 :], start=i + 1) if c]
        if not below:
            continue
        fits = sum(
            c == width or (c == width + 1 and line.rstrip().endswith(sep)) for c, line in below
        )
        share = fits / len(below)
        if share >= _MIN_SHARE:
            return _Layout(sep, width, i, share)
    return None


def detect_csv(
    sample: bytes,
    *,
    complete: bool,
    sep: str | None = None,
    decimal: str | None = None,
    encoding: str | None = None,
    header_line: int | None = None,
) -> CsvDialect:
    """Detect what is not given of a CSV file's dialect from a sample of its first bytes.

    Parameters
    ----------
    sample : bytes
        The first :data:`SAMPLE_BYTES` bytes of the file (or all of it).
    complete : bool
        Whether ``sample`` is the whole file.
    sep, decimal, encoding : str, optional
        Given settings (not detected). ``sep`` may be ``"tab"`` or ``"\\t"``.
    header_line : int, optional
        Line holding the column names (1 = first line); default: detected.

    Returns
    -------
    CsvDialect

    Raises
    ------
    ValidationError
        When the file is empty, or detection is unsure: the message names the option.

    Examples
    --------
    >>> text = "patient_id;site;amplitude_mv\\nP1;wrist;8,2\\nP1;elbow;2,9\\n"
    >>> d = detect_csv(text.encode("cp1252"), complete=True)
    >>> d.sep, d.decimal, d.header_line
    (';', ',', 1)
    """
    detected: list[str] = []
    notes: list[str] = []
    if sep is not None:
        sep = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}.get(
            sep.lower() if len(sep) > 1 else sep, sep
        )
        if len(sep) != 1:
            raise _unsure(f"a column separator is one character, not {sep!r}")
    if decimal is not None and decimal not in (".", ","):
        raise _unsure(f"the decimal mark is '.' or ',', not {decimal!r}")
    if encoding is None:
        encoding, how = detect_encoding(sample, complete=complete)
        detected.append("encoding")
        notes.append(f"encoding {encoding}: {how}")
    else:
        try:
            encoding = codecs.lookup(encoding).name
        except LookupError:
            raise _unsure(f"unknown encoding {encoding!r}; e.g. utf-8, cp1252, latin-1") from None
    try:
        text = codecs.getincrementaldecoder(encoding)().decode(sample, final=complete)
    except UnicodeError as err:  # a decoding error, or a codec's own (utf-16 without a BOM)
        where = f" (byte {err.start} cannot be read)" if hasattr(err, "start") else ""
        raise _unsure(
            f"the file is not {encoding}{where}; pass the "
            "encoding, e.g. encoding='cp1252' (command line: --encoding cp1252)"
        ) from None
    text = text.lstrip("\ufeff")
    if not text.strip():
        raise _unsure("the file is empty")
    lines = _sample_lines(text, complete)
    if not lines:
        raise _unsure(
            f"the first {SAMPLE_BYTES:,} bytes hold no complete line; is this a CSV file?"
        )

    if complete and sum(bool(line.strip()) for line in lines) == 1:
        raise _unsure("no data rows: the file has a header line only")
    if sep is None:
        sep, layout = _detect_separator(lines, text, header_line)
        detected.append("sep")
    elif header_line is None:
        layout = _layout(lines, sep)
    if header_line is None:
        if layout is None:
            raise _unsure(
                f"cannot find the header line with separator "
                f"{_SEPARATOR_NAMES.get(sep, repr(sep))}; pass header_row= (command line: "
                "--header-row N, the line holding the column names)"
            )
        header_line = _physical_line(lines, layout.header_index)
        detected.append("header_line")
        if layout.header_index:
            notes.append(f"{header_line - 1} line(s) above the header skipped (title)")
    elif header_line < 1:
        raise _unsure("the header row is counted from 1 (the first line of the file)")

    if decimal is None:
        decimal = _detect_decimal(lines, sep, header_line)
        detected.append("decimal")
    return CsvDialect(
        encoding=encoding,
        sep=sep,
        decimal=decimal,
        header_line=int(header_line),
        detected=tuple(detected),
        notes=tuple(notes),
    )


def _physical_line(lines: list[str], index: int) -> int:
    """1-based physical line of sample line ``index`` (splitlines keeps one per line)."""
    return index + 1


def _detect_separator(
    lines: list[str], text: str, header_line: int | None
) -> tuple[str, _Layout | None]:
    candidates = []
    for sep in SEPARATORS:
        start = header_line - 1 if header_line else 0
        layout = _layout(lines[start:], sep)
        if layout is None or (header_line and layout.header_index != 0):
            continue
        candidates.append(_Layout(sep, layout.n_columns, start + layout.header_index, layout.share))
    if not candidates:
        raise _unsure(
            "cannot tell how the columns are separated (tried ',', ';', tab and '|'); pass "
            "sep= (command line: --sep ';' or --sep tab)"
        )
    earliest = min(c.header_index for c in candidates)
    candidates = [c for c in candidates if c.header_index == earliest]
    widest = max(c.n_columns for c in candidates)
    candidates = [c for c in candidates if c.n_columns == widest]
    if len(candidates) == 1:
        return candidates[0].sep, candidates[0]
    names = " or ".join(_SEPARATOR_NAMES[c.sep] for c in candidates)
    options = " or ".join(f"--sep {_SEPARATOR_OPTIONS[c.sep]}" for c in candidates)
    raise _unsure(
        f"cannot tell whether the columns are separated by {names}; pass sep= "
        f"(command line: {options})"
    )


def _detect_decimal(lines: list[str], sep: str, header_line: int) -> str:
    rows = list(csv.reader(lines[header_line:], delimiter=sep))
    comma = point = 0
    for row in rows:
        for cell in row:
            cell = cell.strip()
            if _COMMA_NUMBER.match(cell):
                comma += 1
            elif _POINT_NUMBER.match(cell):
                point += 1
    if comma and point:
        raise _unsure(
            "numbers are written with decimal commas (8,2) and with decimal points (8.2) "
            "in the same file; pass decimal= (command line: --decimal , or --decimal .)"
        )
    if comma and sep == ",":  # only quoted cells can hold a comma here
        return ","
    return "," if comma else "."
