"""Load runs: hashing inputs, idempotency, one transaction per load, rejects, the run record.

Every load goes through :func:`run_load`:

1. hash the input files (SHA-256) and make a fingerprint of kind + options + hashes;
2. in one transaction: take a lock for the kind, skip if the same fingerprint already loaded
   (unless ``force``), insert the run record, let the loader stream, stage, validate and publish;
3. check rows read = loaded + rejected, write the counts, commit.

A failure rolls everything back (a killed process leaves nothing behind either); a ``failed`` run is
then recorded on its own, with the message, so ``connectivity status`` shows what happened.
"""

from __future__ import annotations

import abc
import dataclasses
import datetime as dt
import hashlib
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psycopg

from connectivity.db import SCHEMA, connect
from connectivity.db.migrate import require_current
from connectivity.errors import GapmapError, InputError
from connectivity.settings import Settings

from .progress import Progress


@dataclasses.dataclass
class LoadResult:
    kind: str
    status: str  # succeeded | skipped | failed
    run_id: int | None
    release: str | None
    files: list[dict]
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    rows_filtered: int = 0
    seconds: float = 0.0
    notes: list[str] = dataclasses.field(default_factory=list)
    message: str | None = None
    format: str | None = None  # what the loader read the files as

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class RejectSink:
    """Buffers rejected rows; :meth:`flush` COPYs them into ``gapmap.reject``.

    Loaders call ``flush()`` between chunks (never while their own COPY is open), so memory stays
    bounded by one chunk's rejects.
    """

    def __init__(self, conn: psycopg.Connection, run_id: int):
        self.conn, self.run_id = conn, run_id
        self.count = 0
        self._buffer: list[tuple] = []

    def add(self, file: str, line: int | None, column: str | None, value: Any, reason: str) -> None:
        text = None if value is None else _no_nul(str(value)[:500])
        self._buffer.append((self.run_id, file, line, column and _no_nul(column), text, reason))
        self.count += 1

    def counted(self, n: int) -> None:
        """Count ``n`` rejects that the loader wrote itself with set-based SQL."""
        self.count += n

    def flush(self) -> None:
        if not self._buffer:
            return
        copy_rows(self.conn, f"{SCHEMA}.reject",
                  ("run_id", "file", "line", "column_name", "value", "reason"), self._buffer)
        self._buffer.clear()


@dataclasses.dataclass
class LoadContext:
    """What a loader gets: the open transaction, its run, where to send rejects, progress."""

    conn: psycopg.Connection
    run_id: int
    release: str | None
    options: dict[str, Any]
    rejects: RejectSink
    progress: Progress
    notes: list[str]
    synthetic: bool = False


@dataclasses.dataclass
class Counts:
    rows_read: int
    rows_loaded: int
    #: rows skipped on purpose (outside --within, raster cells without data): counted, not stored
    rows_filtered: int = 0


class Loader(abc.ABC):
    """What every loader is: a kind, what it reads, option checks, and the load itself.
    The defaults suit loaders that take no options of their own and read CSV (plain, gz, zip)."""

    kind: str
    describes: str
    #: file endings looked for in a folder given as input
    suffixes: tuple[str, ...] = (".csv", ".zip", ".gz")

    def check_options(self, paths: Sequence[Path], options: dict[str, Any]) -> dict[str, Any]:
        """Validate options before anything is hashed or written; return them normalised."""
        return {}

    def wants(self, path: Path) -> bool:
        """Whether a file found in a folder given as input is one to read."""
        return True

    @abc.abstractmethod
    def load(self, ctx: LoadContext, paths: Sequence[Path]) -> Counts:
        """Read, stage, validate and publish inside ``ctx.conn``'s transaction."""


def expand_inputs(paths: Sequence[Path], suffixes: tuple[str, ...],
                  wants=lambda path: True) -> list[Path]:
    """Folders become the files inside them (sorted, recursively) that end with ``suffixes``
    and that the loader ``wants``."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and wants(p)
                           and p.name.lower().endswith(suffixes))
            if not found:
                raise InputError(f"the folder holds no {'/'.join(suffixes)} files",
                                 file=str(path))
            out.extend(found)
        else:
            out.append(path)
    return out


def copy_rows(conn: psycopg.Connection, table: str, columns: Sequence[str], rows) -> None:
    """COPY an iterable of tuples into ``table (columns)`` (text format, one round trip)."""
    with conn.cursor().copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def describe_files(paths: Sequence[Path]) -> list[dict]:
    files = []
    for path in paths:
        if not path.exists():
            raise InputError("file not found", file=str(path), hint="check the path")
        if path.is_dir():
            raise InputError("is a folder; name the files inside it", file=str(path))
        files.append({"name": path.name, "path": str(path), "sha256": sha256_file(path),
                      "bytes": path.stat().st_size})
    return files


def fingerprint(kind: str, options: dict, files: list[dict]) -> str:
    payload = json.dumps(
        {"kind": kind, "options": options, "files": sorted(f["sha256"] for f in files)},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def run_load(
    settings: Settings,
    loader: Loader,
    paths: Sequence[Path],
    *,
    release: str | None = None,
    options: dict[str, Any] | None = None,
    force: bool = False,
    show_progress: bool = False,
    synthetic: bool = False,
) -> LoadResult:
    """Load ``paths`` with ``loader`` in one transaction; see the module docstring."""
    paths = expand_inputs([Path(p) for p in paths], loader.suffixes, loader.wants)
    if not paths:
        raise InputError(f"no input files given for {loader.kind}")
    options = loader.check_options(paths, dict(options or {}))
    files = describe_files(paths)
    print_ = fingerprint(loader.kind, {**options, "release": release}, files)
    started = time.monotonic()
    started_at = dt.datetime.now(dt.UTC)
    notes: list[str] = []
    conn = connect(settings, autocommit=True, application_name=f"connectivity load {loader.kind}")
    try:
        require_current(conn)
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"load:{loader.kind}",))
            previous = conn.execute(
                f"SELECT id FROM {SCHEMA}.load_run WHERE fingerprint = %s AND status = 'succeeded' "
                "ORDER BY id DESC LIMIT 1",
                (print_,),
            ).fetchone()
            if previous and not force:
                return LoadResult(
                    loader.kind, "skipped", previous[0], release, files,
                    seconds=time.monotonic() - started,
                    message=f"already loaded as run {previous[0]}; use --force to load again",
                )
            run_id = conn.execute(
                f"INSERT INTO {SCHEMA}.load_run (kind, release, status, fingerprint, files, "
                "options, started_at, synthetic) VALUES (%s, %s, 'succeeded', %s, %s, %s, %s, %s) "
                "RETURNING id",
                (loader.kind, release, print_, json.dumps(files), json.dumps(options, default=str),
                 started_at, synthetic),
            ).fetchone()[0]
            rejects = RejectSink(conn, run_id)
            total = sum(f["bytes"] for f in files)
            with Progress(f"load {loader.kind}", total, enabled=show_progress) as progress:
                ctx = LoadContext(conn, run_id, release, options, rejects, progress, notes,
                                  synthetic)
                counts = loader.load(ctx, paths)
            rejects.flush()
            if counts.rows_read != counts.rows_loaded + rejects.count + counts.rows_filtered:
                raise GapmapError(
                    f"internal error in the {loader.kind} loader: read {counts.rows_read} rows but "
                    f"loaded {counts.rows_loaded}, rejected {rejects.count} and filtered "
                    f"{counts.rows_filtered}; nothing was loaded"
                )
            conn.execute(
                f"UPDATE {SCHEMA}.load_run SET rows_read = %s, rows_loaded = %s, "
                "rows_rejected = %s, rows_filtered = %s, release = %s, "
                "finished_at = clock_timestamp(), message = %s WHERE id = %s",
                (counts.rows_read, counts.rows_loaded, rejects.count, counts.rows_filtered,
                 ctx.release, "; ".join(notes) or None, run_id),
            )
        return LoadResult(
            loader.kind, "succeeded", run_id, ctx.release, files, counts.rows_read,
            counts.rows_loaded, rejects.count, counts.rows_filtered,
            time.monotonic() - started, notes, format=_format(loader, files),
        )
    except BaseException as exc:
        # The transaction above has rolled back. Record the failure on its own (best effort:
        # when the database itself is gone there is nowhere to record it).
        if conn.closed or isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        _record_failure(conn, loader.kind, release, print_, files, options, started_at, exc)
        raise
    finally:
        conn.close()


def _format(loader: Loader, files: list[dict]) -> str:
    """'OS Open UPRN (CSV), from zip' - the loader's format and the containers it opened."""
    containers = sorted({c for f in files for c in ("zip", "gzip")
                         if f["name"].lower().endswith({"zip": ".zip", "gzip": ".gz"}[c])})
    text = loader.describes
    return text + (f", from {' and '.join(containers)}" if containers else "")


def _record_failure(conn, kind, release, print_, files, options, started_at, exc) -> None:
    try:
        if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            conn.rollback()
        message = _no_nul(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        with conn.transaction():
            conn.execute(
                f"INSERT INTO {SCHEMA}.load_run (kind, release, status, fingerprint, files, "
                "options, started_at, message) VALUES (%s, %s, 'failed', %s, %s, %s, %s, %s)",
                (kind, release, print_, json.dumps(files), json.dumps(options, default=str),
                 started_at, message[:2000]),
            )
    except psycopg.Error:
        pass


def _no_nul(text: str) -> str:
    """PostgreSQL text cannot hold NUL: keep it visible as ``\\x00``."""
    return text.replace("\x00", "\\x00")


def list_runs(conn: psycopg.Connection, limit: int = 100) -> list[dict]:
    rows = conn.execute(
        f"""SELECT id, kind, release, status, files, rows_read, rows_loaded, rows_rejected,
                   rows_filtered, synthetic, started_at, finished_at, message
            FROM {SCHEMA}.load_run ORDER BY id DESC LIMIT %s""",
        (limit,),
    ).fetchall()
    keys = ["id", "kind", "release", "status", "files", "rows_read", "rows_loaded",
            "rows_rejected", "rows_filtered", "synthetic", "started_at", "finished_at", "message"]
    out = []
    for row in rows:
        item = dict(zip(keys, row, strict=True))
        item["files"] = [{"name": f["name"], "sha256": f["sha256"], "bytes": f["bytes"]}
                         for f in item["files"]]
        item["started_at"] = item["started_at"].isoformat()
        item["finished_at"] = item["finished_at"].isoformat() if item["finished_at"] else None
        out.append(item)
    return out


def list_rejects(conn: psycopg.Connection, run_id: int, limit: int | None = None) -> list[dict]:
    sql = (f"SELECT file, line, column_name, value, reason FROM {SCHEMA}.reject "
           "WHERE run_id = %s ORDER BY file, line NULLS LAST, column_name")
    params: tuple = (run_id,)
    if limit is not None:
        sql += " LIMIT %s"
        params += (limit,)
    return [
        {"file": f, "line": ln, "column": c, "value": v, "reason": r}
        for f, ln, c, v, r in conn.execute(sql, params).fetchall()
    ]
