"""Typed CSV staging: COPY at full speed when a file is clean, row by row when it is not.

For each input stream the header is read and matched here (alias map), then:

* **fast path**: the rest of the bytes go straight to ``COPY stage (...) FROM STDIN (FORMAT csv)``
  with typed columns, in a savepoint. PostgreSQL parses and type-checks in C; line numbers come
  from a sequence reset per file.
* **careful path**: if COPY refuses the file (a malformed number, a short or long row, a stray
  quote, mixed line ends), the savepoint is rolled back and the file is parsed row by row in
  Python; every bad value becomes a reject naming its line, column and value, and the good rows
  are COPYed into the same staging table.

Either way the loader then validates in bulk with SQL (ranges, duplicates) and publishes.
"""

from __future__ import annotations

import codecs
import dataclasses
import math
from collections.abc import Callable, Iterator
from typing import Any

import psycopg

from connectivity.errors import InputError

from .columns import Field, match_columns
from .reading import DecodedLines, Member, read_csv
from .runs import LoadContext, copy_rows

CHUNK_BYTES = 1 << 20
CAREFUL_CHUNK_ROWS = 50_000


def _bigint(text: str) -> int:
    value = int(text)
    if not -(2**63) <= value < 2**63:
        raise ValueError
    return value


def _float(text: str) -> float:
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
    "bigint": (_bigint, "not a whole number"),
    "float8": (_float, "not a number"),
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
            first_line = _first_line(raw, member.label)
        if first_line is None:
            raise InputError("the file is empty", file=member.label)
        first = next(read_csv(DecodedLines(iter([first_line.encode("utf-8")]), member.label)), None)
        if first is None:
            raise InputError("the file is empty", file=member.label)
        header = first.values
        cols = match_columns(header, [c.field for c in self.columns], file=member.label,
                             any_of=list(any_of))
        copy_names = self._copy_columns(header, cols)
        conn.execute(f"ALTER TABLE {self.name} ALTER COLUMN file_no SET DEFAULT {int(file_no)}")
        conn.execute(f"ALTER TABLE {self.name} ALTER COLUMN file SET DEFAULT "
                     + psycopg.sql.Literal(member.label).as_string(conn))
        start_line = 2  # the header is line 1
        conn.execute("SELECT setval(%s, %s, false)", (f"{self.name}_line_seq", start_line))
        try:
            with conn.transaction():
                rows = self._fast(member, copy_names)
        except (psycopg.errors.DataError, psycopg.errors.BadCopyFileFormat,
                psycopg.errors.InvalidTextRepresentation, psycopg.errors.CharacterNotInRepertoire,
                psycopg.errors.UntranslatableCharacter, psycopg.errors.NotNullViolation) as exc:
            self.careful_files.append(f"{member.label} ({str(exc).splitlines()[0]})")
            conn.execute("SELECT setval(%s, %s, false)", (f"{self.name}_line_seq", start_line))
            rows = self._careful(member, header, cols, copy_names)
        if rows == 0:
            raise InputError("the file has a header but no rows", file=member.label)
        return rows

    def _fast(self, member: Member, copy_names: list[str]) -> int:
        conn = self.ctx.conn
        sql = f"COPY {self.name} ({', '.join(copy_names)}) FROM STDIN (FORMAT csv)"
        with member.open_binary() as raw, conn.cursor() as cur:
            with cur.copy(sql) as copy:
                for chunk in _data_chunks(raw):
                    copy.write(chunk)
                    self.ctx.progress.advance(len(chunk))
            return cur.rowcount

    def _careful(self, member: Member, header: list[str], cols: dict[str, int],
                 copy_names: list[str]) -> int:
        conn = self.ctx.conn
        types = {c.name: c.pgtype for c in self.columns}
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
                for name, text in zip(copy_names, values, strict=True):
                    pgtype = types.get(name, "text")
                    stripped = text.strip()
                    if stripped == "" or pgtype == "text":
                        out.append(stripped if stripped else None)
                        continue
                    parse, reason = PARSERS[pgtype]
                    try:
                        out.append(parse(stripped))
                    except (ValueError, OverflowError):
                        self.ctx.rejects.add(member.label, record.line, header[cols[name]],
                                             text, reason)
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
    """The first row of a stream, parsed as CSV (for choosing how to load it)."""
    with member.open_binary() as raw:
        line = _first_line(raw, member.label)
    if line is None:
        raise InputError("the file is empty", file=member.label)
    row = next(read_csv(DecodedLines(iter([line.encode("utf-8")]), member.label)), None)
    return row.values if row else []


def _first_line(raw, label: str) -> str | None:
    """The first line, decoded (BOM removed); None for an empty file."""
    try:
        for line in raw:
            text = line.decode("utf-8-sig", errors="replace").rstrip("\r\n")
            return text if text.strip() else None
    except (OSError, EOFError) as exc:
        raise InputError(f"the file is damaged or truncated ({exc})", file=label) from None
    return None


def _data_chunks(raw) -> Iterator[bytes]:
    """The stream's bytes after the BOM and the header line, as valid UTF-8 chunks.

    Invalid UTF-8 would make COPY fail mid-stream, so bytes are decoded incrementally and replaced
    characters (U+FFFD) make the careful path take over instead."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
    first = True
    pending_skip = True
    while True:
        chunk = raw.read(CHUNK_BYTES)
        if not chunk:
            tail = decoder.decode(b"", final=True)
            if tail:
                yield tail.encode()
            return
        if first:
            first = False
            if chunk.startswith(codecs.BOM_UTF8):
                chunk = chunk[3:]
        if pending_skip:
            newline = chunk.find(b"\n")
            while newline < 0:  # a header longer than a chunk
                more = raw.read(CHUNK_BYTES)
                if not more:
                    return
                chunk += more
                newline = chunk.find(b"\n")
            chunk = chunk[newline + 1:]
            pending_skip = False
        if chunk.isascii() and not decoder.getstate()[0]:
            yield chunk  # the common case: nothing to check
            continue
        try:
            text = decoder.decode(chunk)
        except UnicodeDecodeError:
            raise psycopg.errors.CharacterNotInRepertoire("invalid UTF-8 in input") from None
        if text:
            yield text.encode()
