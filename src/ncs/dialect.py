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
  skipped; when two fit, the one giving more columns, and two giving as many are an error.
  Lines below the header with fewer cells than it are a cell left out, an error naming
  them (:func:`short_lines_error`), unless every line has as many (a writer that leaves
  out the empty cells at the end of every line): they are found here when the header fits
  only with them, and in the whole file by :func:`ncs.read_sites`;
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
    "short_lines_error",
    "short_widths",
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
#: A header names at least this many columns (a single name is a title, or not CSV).
_MIN_COLUMNS = 2
#: Lines with too few cells named one by one in an error (the others are counted).
MAX_LINES_NAMED = 10

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


#: How the lines below a header fit it (:class:`_Layout`): nine in ten have its cells;
#: every line has the same number of cells, fewer than the header; some lines have fewer.
_FULL, _EQUALLY_SHORT, _SOME_SHORT = "full", "equally short", "some short"


@dataclass(frozen=True)
class _Layout:
    sep: str
    n_columns: int
    header_index: int  # index into the sample lines
    share: float  # of the non-blank lines from the header on with n_columns fields
    kind: str = _FULL  # _FULL, _EQUALLY_SHORT or _SOME_SHORT
    named: int = 0  # columns the header names (a separator ending it adds none)
    short: frozenset[int] = frozenset()  # numbers of cells of lines with a cell left out


def short_widths(widths: dict[int, int], named: int) -> tuple[int | None, frozenset[int]]:
    """Which lines below a header have a cell left out, by their number of cells.

    Parameters
    ----------
    widths : dict of int to int
        Number of cells -> how many lines below the header have as many (a separator
        ending a line not counted as a cell when the header does not end with one).
    named : int
        Columns the header names.

    Returns
    -------
    equal : int or None
        The number of cells of every line, when all have as many and fewer than the header
        names (a writer that leaves out the empty cells at the end of every line): the
        columns at the end are empty, not an error.
    short : frozenset of int
        Numbers of cells that are a cell left out: fewer than the header names and than
        most lines have (the usual number), or, when no line has fewer than the usual
        number, every number fewer than the header names.

    Examples
    --------
    >>> short_widths({9: 40, 8: 1}, named=9)
    (None, frozenset({8}))
    >>> short_widths({9: 40}, named=10)
    (9, frozenset())
    >>> short_widths({9: 39, 8: 1}, named=10)
    (None, frozenset({8}))
    """
    fewer = {w for w in widths if w < named}
    if not fewer:
        return None, frozenset()
    if len(widths) == 1:
        return next(iter(widths)), frozenset()
    usual = max(widths, key=lambda w: (widths[w], w))  # most lines; the wider on a tie
    return None, frozenset(w for w in fewer if w < usual) or frozenset(fewer)


def _layout(lines: list[str], sep: str) -> _Layout | None:
    """The first line that reads as a header the lines below it fit (None: no such line).

    A header has at least two cells, mostly names rather than numbers; the non-blank lines
    below it have as many cells (or one more, empty, when lines end with the separator;
    or one fewer when only the header ends with it). Failing that, a header fits lines of
    which nine in ten have at most its cells, half of them as many as the most, at least
    two: when every line has as many (fewer than the header), ``_EQUALLY_SHORT`` (a writer
    that leaves out the empty cells at the end of every line); else ``_SOME_SHORT``, with
    the numbers of cells of lines with a cell left out (:func:`short_widths`), an error.
    """
    counts = _field_counts(lines, sep)
    for i, width in enumerate(counts[: _MAX_TITLE_LINES + 1]):
        if width < _MIN_COLUMNS or not _header_cells_look_like_names(lines[i], sep):
            continue
        below = [(c, lines[j]) for j, c in enumerate(counts[i + 1 :], start=i + 1) if c]
        if not below:
            continue
        named = width - 1 if lines[i].rstrip().endswith(sep) else width
        widths: dict[int, int] = {}
        for c, line in below:
            fits = c in (width, named) or (c == width + 1 and line.rstrip().endswith(sep))
            key = named if fits else c
            widths[key] = widths.get(key, 0) + 1
        share = widths.get(named, 0) / len(below)
        if share >= _MIN_SHARE:
            return _Layout(sep, width, i, share, _FULL, named)
        usual = max(widths, key=lambda w: (widths[w], w))
        at_most = sum(k for w, k in widths.items() if w <= named)
        if (
            at_most < _MIN_SHARE * len(below)
            or usual < _MIN_COLUMNS
            or 2 * widths[usual] < len(below)
        ):
            continue
        equal, short = short_widths(widths, named)
        if equal is not None:
            return _Layout(sep, width, i, 1.0, _EQUALLY_SHORT, named)
        if short:
            return _Layout(sep, width, i, share, _SOME_SHORT, named, short)
    return None


def short_lines_error(
    lines: list[tuple[int, int]], n_lines: int, header_line: int, n_columns: int
) -> ValidationError:
    """The error for lines with fewer cells than the header: a cell left out.

    Parameters
    ----------
    lines : list of (int, int)
        Line of the file (1 = first line) and its number of cells, for the first lines
        found (at most :data:`MAX_LINES_NAMED` are named).
    n_lines : int
        How many such lines there are in all.
    header_line : int
        Line of the header.
    n_columns : int
        Columns the header names.

    Returns
    -------
    ValidationError
        One problem per line named, and one counting the others.
    """
    problems = [
        Problem(
            None,
            None,
            f"line {line} has {cells} cells but the header (line {header_line}) names "
            f"{n_columns} columns: a cell left out? the cells after it would be read into "
            "the wrong columns; write every cell, an empty one as two separators in a row",
        )
        for line, cells in lines[:MAX_LINES_NAMED]
    ]
    if n_lines > len(problems):
        problems.append(
            Problem(
                None,
                None,
                f"{n_lines - len(problems)} more line(s) with fewer cells than the header "
                f"(line {header_line}) names",
            )
        )
    return ValidationError(problems)


def _short_lines(lines: list[str], layout: _Layout) -> ValidationError:
    """The error naming the sample's lines with fewer cells than the header (_SOME_SHORT)."""
    reader = csv.reader(lines[layout.header_index :], delimiter=layout.sep)
    next(reader)  # the header
    found = []
    n = 0
    while True:
        before = reader.line_num  # lines read: the record starts on the next one
        row = next(reader, None)
        if row is None:
            break
        if not any(cell.strip() for cell in row) or len(row) not in layout.short:
            continue
        n += 1
        found.append((layout.header_index + 1 + before, len(row)))
    return short_lines_error(found, n, layout.header_index + 1, layout.named)


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
        When the file is empty, or detection is unsure: the message names the option;
        or when the header fits the lines below it only with some of them short of
        cells (a cell left out): the message names those lines.

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
    layout = None
    if sep is None:
        sep, layout = _detect_separator(lines, text, header_line)
        detected.append("sep")
    elif header_line is None:
        layout = _layout(lines, sep)
    if layout is not None and layout.kind == _SOME_SHORT:
        raise _short_lines(lines, layout)
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
        candidates.append(
            _Layout(
                sep,
                layout.n_columns,
                start + layout.header_index,
                layout.share,
                layout.kind,
                layout.named,
                layout.short,
            )
        )
    if not candidates:
        raise _unsure(
            "cannot tell how the columns are separated (tried ',', ';', tab and '|'); pass "
            "sep= (command line: --sep ';' or --sep tab)"
        )
    earliest = min(c.header_index for c in candidates)
    candidates = [c for c in candidates if c.header_index == earliest]
    if any(c.kind == _FULL for c in candidates):  # lines that fit the header, first
        candidates = [c for c in candidates if c.kind == _FULL]
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
