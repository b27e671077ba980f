"""Reading delimited text inputs: plain, gzip or zip; UTF-8 with or without BOM, CRLF; streamed.

Lines that are not valid UTF-8 are decoded as Windows-1252 (a superset of latin-1 for printable
characters) and counted, so a file saved by Excel loses nothing; the loader reports the count.
"""

from __future__ import annotations

import csv
import dataclasses
import gzip
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from connectivity.errors import InputError

_HEADER_SPACE = re.compile(r"\s+")


def normalise_header(name: str) -> str:
    """Compare headers case- and space-insensitively: ``' Postcode  Space'`` -> ``'postcode space'``."""
    return _HEADER_SPACE.sub(" ", name.replace("\ufeff", "")).strip().lower()


@dataclasses.dataclass
class Member:
    """One delimited text stream: a plain file, a gzip file, or one member of a zip."""

    label: str  # what errors and rejects call it: file.csv or archive.zip!member.csv
    open_binary: object  # callable returning a binary file object


def members(path: Path, pattern: str = r"\.(csv|txt)$") -> list[Member]:
    """The text streams in ``path``; a zip yields each member whose name matches ``pattern``."""
    name = path.name.lower()
    if name.endswith(".zip"):
        try:
            archive = zipfile.ZipFile(path)
            names = [
                info.filename
                for info in archive.infolist()
                if not info.is_dir() and re.search(pattern, info.filename, re.I)
            ]
            bad = archive.testzip()
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
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


class DecodedLines:
    """Iterates text lines from a binary stream; counts bytes read and lines not in UTF-8."""

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
                    if chunk.startswith(b"\xef\xbb\xbf"):
                        chunk = chunk[3:]
                try:
                    yield chunk.decode("utf-8")
                except UnicodeDecodeError:
                    self.non_utf8_lines += 1
                    yield chunk.decode("cp1252", errors="replace")
        except (OSError, EOFError, zipfile.BadZipFile) as exc:
            raise InputError(f"the file is damaged or truncated ({exc})", file=self.label) from None


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
