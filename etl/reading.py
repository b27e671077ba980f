"""Reading delimited text inputs: plain, gzip or zip; UTF-8 with or without BOM, CRLF; streamed.

Lines that are not valid UTF-8 are decoded as Windows-1252 (a superset of latin-1 for printable
characters) and counted, so a file saved by Excel loses nothing; the loader reports the count.
Line ends may be LF, CRLF or a bare CR (old Mac software); UTF-16 files (Excel's "Unicode Text")
are refused with a message saying so, as are damaged gzip and zip streams.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import gzip
import re
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from connectivity.errors import InputError

_HEADER_SPACE = re.compile(r"\s+")
_BARE_CR = re.compile(rb"(?<=\r)(?!\n)")
#: what reading a damaged gzip or zip stream raises (zlib.error is no OSError)
STREAM_ERRORS = (OSError, EOFError, zlib.error, zipfile.BadZipFile)


def normalise_header(name: str) -> str:
    """Compare headers case- and space-insensitively: ``' Postcode  Space'`` -> ``'postcode space'``."""
    return _HEADER_SPACE.sub(" ", name.replace("\ufeff", "")).strip().lower()


@dataclasses.dataclass
class Member:
    """One delimited text stream: a plain file, a gzip file, or one member of a zip."""

    label: str  # what errors and rejects call it: file.csv or archive.zip!member.csv
    open_binary: object  # callable returning a binary file object


def _macos_extra(name: str) -> bool:
    """The ``__MACOSX/`` folder and ``._name`` AppleDouble files that macOS adds to zips."""
    return name.startswith("__MACOSX/") or name.rsplit("/", 1)[-1].startswith("._")


def members(path: Path, pattern: str = r"\.(csv|txt)$") -> list[Member]:
    """The text streams in ``path``; a zip yields each member whose name matches ``pattern``
    (not the resource forks macOS adds)."""
    name = path.name.lower()
    if name.endswith(".zip"):
        try:
            archive = zipfile.ZipFile(path)
            names = [
                info.filename
                for info in archive.infolist()
                if not info.is_dir() and re.search(pattern, info.filename, re.I)
                and not _macos_extra(info.filename)
            ]
            bad = archive.testzip()
        except STREAM_ERRORS as exc:
            raise InputError(f"not a readable zip archive ({exc})", file=path.name) from None
        if bad is not None:
            raise InputError(f"zip member {bad!r} is corrupt (CRC check failed)", file=path.name)
        if not names:
            raise InputError(
                f"the zip holds no file matching {pattern}", file=path.name,
                hint="name the files inside it directly",
            )
        return [
            Member(f"{path.name}!{n}", (lambda n=n: zipfile.ZipFile(path).open(n)))
            for n in sorted(names)
        ]
    if name.endswith(".gz"):
        return [Member(path.name, lambda: gzip.open(path, "rb"))]
    return [Member(path.name, lambda: path.open("rb"))]


def refuse_utf16(first_bytes: bytes, label: str) -> None:
    """Raise :class:`InputError` when a stream starts with a UTF-16 byte order mark."""
    if first_bytes.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise InputError("the file is UTF-16 text (as Excel's 'Unicode Text' saves it); "
                         "expected UTF-8", file=label, line=1,
                         hint="save it as 'CSV UTF-8 (comma delimited)'")


def damaged(exc: BaseException, label: str) -> InputError:
    """The error for a stream that cannot be read to its end."""
    return InputError(f"the file is damaged or truncated ({exc})", file=label)


class DecodedLines:
    """Iterates text lines from a binary stream; counts bytes read and lines not in UTF-8.

    A bare CR ends a line as LF and CRLF do (each yielded line keeps its line end, as the csv
    module wants), so line numbers count physical lines whatever the line ends."""

    def __init__(self, raw: IO[bytes], label: str):
        self.raw, self.label = raw, label
        self.bytes_read = 0
        self.non_utf8_lines = 0
        self._first = True

    def __iter__(self) -> Iterator[str]:
        try:
            for chunk in self.raw:
                self.bytes_read += len(chunk)
                if self._first:
                    self._first = False
                    refuse_utf16(chunk, self.label)
                    if chunk.startswith(codecs.BOM_UTF8):
                        chunk = chunk[3:]
                pieces = [chunk]
                cr = chunk.find(b"\r")
                if 0 <= cr < len(chunk) - (2 if chunk.endswith(b"\r\n") else 1):  # a bare CR
                    pieces = [p for p in _BARE_CR.split(chunk) if p]
                for piece in pieces:
                    try:
                        yield piece.decode("utf-8")
                    except UnicodeDecodeError:
                        self.non_utf8_lines += 1
                        yield piece.decode("cp1252", errors="replace")
        except STREAM_ERRORS as exc:
            raise damaged(exc, self.label) from None


def header_line(raw: IO[bytes], label: str) -> tuple[int, list[str]] | None:
    """The first non-blank line of a stream and its line number, parsed as CSV (BOM removed);
    ``None`` when the stream holds only blank lines."""
    for number, text in enumerate(DecodedLines(raw, label), start=1):
        if text.strip():
            try:
                return number, next(csv.reader([text], strict=False), [])
            except csv.Error as exc:
                raise InputError(f"malformed CSV header ({exc})", file=label, line=number) from None
    return None


@dataclasses.dataclass
class CsvRow:
    line: int  # physical line number where the record ends (header = line 1)
    values: list[str]


def read_csv(lines: DecodedLines, *, delimiter: str = ",") -> Iterator[CsvRow]:
    """Yield parsed records with their line numbers; blank lines are skipped."""
    reader = csv.reader(lines, delimiter=delimiter, strict=False)
    try:
        for values in reader:
            if not values or (len(values) == 1 and not values[0].strip()):
                continue
            yield CsvRow(reader.line_num, values)
    except csv.Error as exc:
        raise InputError(f"malformed CSV ({exc})", file=lines.label, line=reader.line_num) from None



def read_vector(path: Path, crs: str | None):
    """A vector file (GeoJSON, GeoPackage, Shapefile; plain, .gz or .zip) as a GeoDataFrame with a
    CRS: the file's own, else ``crs`` (the --crs option), else an :class:`InputError`.
    Returns ``(frame, declared)``: whether the file declared its CRS itself."""
    import pyogrio

    source = f"/vsigzip/{path}" if path.name.lower().endswith(".gz") else str(path)
    try:
        frame = pyogrio.read_dataframe(source)
    except Exception as exc:  # pyogrio raises several types for unreadable data
        raise InputError(f"cannot read as a vector dataset ({exc})", file=path.name) from None
    if len(frame) == 0:
        raise InputError("the file holds no features", file=path.name)
    if frame.crs is not None:
        return frame, True
    if not crs:
        raise InputError("the file declares no coordinate reference system", file=path.name,
                         hint="say which with --crs EPSG:27700 (or EPSG:4326)")
    return frame.set_crs(crs), False


def vector_text(value) -> str | None:
    """A text attribute of a vector file as read by :func:`read_vector`: stripped, or ``None``
    when missing, blank or NaN (pandas' missing value)."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    text = str(value).strip()
    return text or None
