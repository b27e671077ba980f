"""Typed CSV staging: COPY at full speed when a file is clean, row by row when it is not.

For each input stream the header is read and matched here (alias map), then:

* **fast path**: the rest of the bytes go straight to ``COPY stage (...) FROM STDIN (FORMAT csv)``
  with typed columns, in a savepoint. PostgreSQL parses and type-checks in C; line numbers come
  from a sequence reset per file.
* **careful path**: if COPY refuses the file (a malformed number, a short or long row, a stray
  quote, mixed line ends, invalid UTF-8, a NUL byte), or COPY's result would be wrong (a quoted
  field spanning lines or bare CR line ends make line numbers drift; PostgreSQL takes NaN and
  Infinity as numbers), the savepoint is rolled back and the file is parsed row by row in Python;
  every bad value becomes a reject naming its line, column and value, and the good rows are
  COPYed into the same staging table.

Both paths read values alike: an empty field (quoted or not) is NULL, text is kept as it is,
numbers are what PostgreSQL's input functions take. The header is the first non-blank line.
Either way the loader then validates in bulk with SQL (ranges, duplicates) and publishes.
"""

from __future__ import annotations

import codecs
import dataclasses
import math
import re
from collections.abc import Callable, Iterator
from typing import Any

import psycopg

from connectivity.errors import InputError

from .columns import Field, match_columns
from .reading import STREAM_ERRORS, DecodedLines, Member, damaged, header_line, read_csv
from .runs import LoadContext, copy_rows

CHUNK_BYTES = 1 << 20
CAREFUL_CHUNK_ROWS = 50_000


_INTEGER = re.compile(r"[+-]?[0-9]+")


def parse_bigint(text: str) -> int:
    """What PostgreSQL's bigint input takes: ASCII digits (Python's int() also takes ``1_000``
    and other scripts' digits, which COPY would refuse)."""
    if not _INTEGER.fullmatch(text):
        raise ValueError
    value = int(text)
    if not -(2**63) <= value < 2**63:
        raise ValueError
    return value


def parse_float(text: str) -> float:
    """A finite number as PostgreSQL's float8 input spells it (no ``1_000``, no other scripts'
    digits); NaN and Infinity are refused."""
    if "_" in text or not text.isascii():
        raise ValueError
    value = float(text)
    if not math.isfinite(value):
        raise ValueError
    return value


_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError


PARSERS: dict[str, tuple[Callable[[str], Any], str]] = {
    "bigint": (parse_bigint, "not a whole number"),
    "float8": (parse_float, "not a number"),
    "boolean": (_bool, "not true or false"),
    "text": (lambda t: t, ""),
}


@dataclasses.dataclass(frozen=True)
class Column:
    """A staging column: the header field it comes from and its PostgreSQL type."""

    field: Field
    pgtype: str = "text"

    @property
    def name(self) -> str:
        return self.field.name


class Stage:
    """A temporary staging table ``name`` with ``file_no``, ``line`` and the typed columns."""

    def __init__(self, ctx: LoadContext, name: str, columns: list[Column]):
        self.ctx, self.name, self.columns = ctx, name, columns
        self.extra = 0  # text columns for file columns nobody asked for
        self._types = {c.name: c.pgtype for c in columns}
        self.careful_files: list[str] = []
        cols = ", ".join(f"{c.name} {c.pgtype}" for c in columns)
        ctx.conn.execute(f"CREATE TEMP SEQUENCE {name}_line_seq")
        ctx.conn.execute(
            f"CREATE TEMP TABLE {name} (file_no integer NOT NULL DEFAULT 0, file text, "
            f"line bigint NOT NULL DEFAULT nextval('{name}_line_seq'), {cols}) ON COMMIT DROP"
        )

    def _copy_columns(self, header: list[str], cols: dict[str, int]) -> list[str]:
        """One staging column per file column, in file order; unwanted ones go to extras."""
        by_index = {index: name for name, index in cols.items()}
        names = []
        extra = 0
        for index in range(len(header)):
            if index in by_index:
                names.append(by_index[index])
            else:
                extra += 1
                if extra > self.extra:
                    self.ctx.conn.execute(f"ALTER TABLE {self.name} ADD COLUMN extra_{extra} text")
                    self.extra = extra
                names.append(f"extra_{extra}")
        return names

    def load(self, file_no: int, member: Member, *, any_of=()) -> int:
        """Stage one stream; returns rows read (staged + rejected while parsing)."""
        conn = self.ctx.conn
        with member.open_binary() as raw:
            found = header_line(raw, member.label)
        if found is None:
            raise InputError("the file is empty", file=member.label)
        header_no, header = found
        cols = match_columns(header, [c.field for c in self.columns], file=member.label,
                             any_of=list(any_of), line=header_no)
        copy_names = self._copy_columns(header, cols)
        conn.execute(f"ALTER TABLE {self.name} ALTER COLUMN file_no SET DEFAULT {int(file_no)}")
        conn.execute(f"ALTER TABLE {self.name} ALTER COLUMN file SET DEFAULT "
                     + psycopg.sql.Literal(member.label).as_string(conn))
        start_line = header_no + 1
        conn.execute("SELECT setval(%s, %s, false)", (f"{self.name}_line_seq", start_line))
        try:
            with conn.transaction():
                rows = self._fast(file_no, member, copy_names, header_no)
        except (psycopg.errors.DataError, psycopg.errors.BadCopyFileFormat,
                psycopg.errors.InvalidTextRepresentation, psycopg.errors.CharacterNotInRepertoire,
                psycopg.errors.UntranslatableCharacter, psycopg.errors.NotNullViolation,
                _NotPlain) as exc:
            self.careful_files.append(f"{member.label} ({str(exc).splitlines()[0]})")
            rows = self._careful(member, header, cols, copy_names)
        if rows == 0:
            raise InputError("the file has a header but no rows", file=member.label)
        return rows

    def _fast(self, file_no: int, member: Member, copy_names: list[str], header_no: int) -> int:
        """COPY the stream after its header; raise :class:`_NotPlain` (inside the savepoint,
        so the rows go again) when COPY's row count or values would be wrong: a quoted field
        spanning lines or bare CR line ends (the line numbers would drift), NaN or Infinity
        (which PostgreSQL takes as numbers)."""
        conn = self.ctx.conn
        # an empty field is NULL, quoted ("") or not, as on the careful path
        columns = ", ".join(copy_names)
        sql = f"COPY {self.name} ({columns}) FROM STDIN (FORMAT csv, FORCE_NULL ({columns}))"
        stream = _DataStream(member.label, header_no)
        with member.open_binary() as raw, conn.cursor() as cur:
            with cur.copy(sql) as copy:
                for chunk in stream.chunks(raw):
                    copy.write(chunk)
                    self.ctx.progress.advance(len(chunk))
            rows = cur.rowcount
        if stream.bare_cr:
            raise _NotPlain("lines end in a bare CR")
        if rows != stream.data_lines:
            raise _NotPlain(f"{rows} records on {stream.data_lines} lines")
        floats = [n for n in copy_names if self._types.get(n) == "float8"]
        if stream.maybe_special and floats:
            special = " OR ".join(f"{n} IN ('NaN', 'Infinity', '-Infinity')" for n in floats)
            if conn.execute(f"SELECT 1 FROM {self.name} WHERE file_no = %s AND ({special}) "
                            "LIMIT 1", (file_no,)).fetchone():
                raise _NotPlain("NaN or Infinity where a number belongs")
        return rows

    def _careful(self, member: Member, header: list[str], cols: dict[str, int],
                 copy_names: list[str]) -> int:
        conn = self.ctx.conn
        types = self._types
        width = len(header)
        read = 0
        good: list[tuple] = []

        def flush() -> None:
            if good:
                copy_rows(conn, self.name, ("line", *copy_names), good)
                good.clear()
            self.ctx.rejects.flush()

        with member.open_binary() as raw:
            lines = DecodedLines(raw, member.label)
            records = read_csv(lines)
            next(records, None)  # the header
            for record in records:
                read += 1
                values = record.values
                if len(values) != width:
                    self.ctx.rejects.add(
                        member.label, record.line, None, ",".join(values)[:200],
                        f"row has {len(values)} fields, the header has {width}"
                        + (" (truncated line?)" if len(values) < width else ""))
                    continue
                out, bad = [], False
                for name, text, title in zip(copy_names, values, header, strict=True):
                    if "\x00" in text:
                        self.ctx.rejects.add(member.label, record.line, title, text,
                                             "contains a NUL byte (binary data in a text file?)")
                        bad = True
                        break
                    pgtype = types.get(name, "text")
                    if pgtype == "text":  # as COPY reads it: kept as it is, empty is NULL
                        out.append(text if text else None)
                        continue
                    stripped = text.strip()
                    if stripped == "":
                        out.append(None)
                        continue
                    parse, reason = PARSERS[pgtype]
                    try:
                        out.append(parse(stripped))
                    except (ValueError, OverflowError):
                        self.ctx.rejects.add(member.label, record.line, title, text, reason)
                        bad = True
                        break
                if not bad:
                    good.append((record.line, *out))
                if len(good) >= CAREFUL_CHUNK_ROWS:
                    flush()
            flush()
            if lines.non_utf8_lines:
                self.ctx.notes.append(f"{member.label}: {lines.non_utf8_lines} line(s) were not "
                                      "UTF-8 and were read as Windows-1252/latin-1")
        return read


def peek_header(member: Member) -> list[str]:
    """The header of a stream (its first non-blank line), parsed as CSV."""
    with member.open_binary() as raw:
        found = header_line(raw, member.label)
    if found is None:
        raise InputError("the file is empty", file=member.label)
    return found[1]


class _NotPlain(Exception):
    """COPY read the file, but its rows need the careful path (see :meth:`Stage._fast`)."""


#: letters of NaN and Infinity: a chunk without them holds neither (memchr is cheap; a regex is not)
_SPECIAL_LETTERS = (b"a", b"A", b"f", b"F")


class _DataStream:
    """The bytes of a stream after the BOM and the lines up to the header, as valid UTF-8
    chunks, noting what the fast path must check afterwards: how many data lines there were,
    whether any line ends in a bare CR, whether NaN or Infinity may be spelt in it.

    Invalid UTF-8 would make COPY fail mid-stream, so bytes are decoded incrementally and a
    decoding error makes the careful path take over instead."""

    def __init__(self, label: str, header_no: int):
        self.label, self.header_no = label, header_no
        self.data_lines = 0
        self.bare_cr = False
        self.maybe_special = False

    def chunks(self, raw) -> Iterator[bytes]:
        try:
            yield from self._chunks(raw)
        except STREAM_ERRORS as exc:
            raise damaged(exc, self.label) from None

    def _chunks(self, raw) -> Iterator[bytes]:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
        chunk = raw.read(CHUNK_BYTES)
        if chunk.startswith(codecs.BOM_UTF8):
            chunk = chunk[3:]
        skip = self.header_no  # the header and any blank lines before it
        while skip:
            newline = chunk.find(b"\n")
            while newline < 0:  # a header longer than a chunk, or no LF at all
                more = raw.read(CHUNK_BYTES)
                if not more:
                    self.bare_cr = b"\r" in chunk
                    return
                chunk += more
                newline = chunk.find(b"\n")
            if chunk.find(b"\r", 0, max(newline - 1, 0)) >= 0:  # a CR before the header's end
                self.bare_cr = True
            chunk = chunk[newline + 1:]
            skip -= 1
        # Bare CRs: in a file with LF line ends any CR is one (COPY refuses those outside quotes;
        # inside quotes they would count as line ends on the careful path). With CRLF line ends,
        # only files with quotes can hold one COPY takes: there, CRs must not outnumber LFs.
        newlines, last = 0, b"\n"
        crlf: bool | None = None  # the line-end style, from the first LF
        quoted = False
        excess_cr = 0
        while chunk:
            lfs = chunk.count(b"\n")
            newlines += lfs
            if crlf is None and lfs:
                at = chunk.find(b"\n")
                crlf = (chunk[at - 1:at] if at else last) == b"\r"
            quoted = quoted or b'"' in chunk
            if crlf:
                if quoted:
                    excess_cr += chunk.count(b"\r") - lfs
            elif b"\r" in chunk:
                self.bare_cr = True
            if not self.maybe_special and any(c in chunk for c in _SPECIAL_LETTERS):
                self.maybe_special = True
            last = chunk[-1:]
            if chunk.isascii() and not decoder.getstate()[0]:
                yield chunk  # the common case: nothing to check
            else:
                try:
                    text = decoder.decode(chunk)
                except UnicodeDecodeError:
                    raise psycopg.errors.CharacterNotInRepertoire("invalid UTF-8 in input") from None
                if text:
                    yield text.encode()
            chunk = raw.read(CHUNK_BYTES)
        if excess_cr > 0:
            self.bare_cr = True
        try:
            tail = decoder.decode(b"", final=True)
        except UnicodeDecodeError:  # a character cut short at the end
            raise psycopg.errors.CharacterNotInRepertoire("invalid UTF-8 in input") from None
        if tail:
            yield tail.encode()
        self.data_lines = newlines + (last != b"\n")
