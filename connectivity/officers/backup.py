"""Backup and restore of the officers' records: the only data that cannot be loaded again from
open sources. ``pg_dump --format=custom --data-only`` of the workspace tables (and the schema
version), read back by ``pg_restore`` into a database migrated to the same version, then checked
row count by row count against the dump itself.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import psycopg

from ..db.connection import SCHEMA
from ..db.migrate import current_version
from ..errors import GapmapError, InputError, SchemaError

#: the workspace tables, parents before children (restore order)
TABLES = ("account", "account_area", "api_token", "report", "audit_event", "target_list",
          "target_list_area", "target_list_snapshot", "target_list_premises")
_COPY = re.compile(r"^COPY (?:\"?gapmap\"?)\.\"?(\w+)\"? \(")


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        for candidate in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True):
            return str(candidate)
        raise GapmapError(f"{name} is not installed", "install the PostgreSQL client "
                          "(Debian: apt-get install postgresql-client)")
    return found


def counts(conn: psycopg.Connection) -> dict[str, int]:
    return {t: conn.execute(f"SELECT count(*) FROM {SCHEMA}.{t}").fetchone()[0] for t in TABLES}


def backup(conninfo: str, output: Path) -> dict:
    """Write the dump to ``output`` (through a temporary file renamed into place); returns the
    schema version and the rows per table, as the dump holds them (one snapshot)."""
    output = Path(output)
    partial = output.with_name(f".{output.name}.partial")
    tables = [arg for t in (*TABLES, "schema_migration") for arg in ("--table", f"{SCHEMA}.{t}")]
    with psycopg.connect(conninfo, autocommit=False) as conn:
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
        version = current_version(conn)
        rows = counts(conn)
        try:
            subprocess.run([_tool("pg_dump"), "--format=custom", "--data-only", "--no-owner",
                            f"--snapshot={snapshot}", *tables, "--file", str(partial),
                            "--dbname", conninfo], check=True, capture_output=True)
        except subprocess.CalledProcessError as exc:
            partial.unlink(missing_ok=True)
            raise GapmapError(f"pg_dump failed: {exc.stderr.decode(errors='replace').strip()}") from None
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise GapmapError(f"cannot write {output}: {exc.strerror}") from None
    os.replace(partial, output)
    return {"file": str(output), "bytes": output.stat().st_size, "schema_version": version,
            "rows": rows}


def dump_contents(path: Path) -> tuple[int, dict[str, int]]:
    """(schema version, rows per table) read from the dump itself, streaming its COPY data."""
    if not Path(path).is_file():
        raise InputError("no such backup file", file=str(path))
    proc = subprocess.Popen([_tool("pg_restore"), "--data-only", "--file", "-", str(path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            encoding="utf-8", errors="replace")
    rows: dict[str, int] = {}
    versions: list[int] = []
    table = None
    assert proc.stdout is not None
    for line in proc.stdout:
        if table is None:
            match = _COPY.match(line)
            if match:
                table = match[1]
                rows.setdefault(table, 0)
        elif line == "\\.\n":
            table = None
        else:
            rows[table] += 1
            if table == "schema_migration":
                versions.append(int(line.split("\t", 1)[0]))
    err = proc.stderr.read() if proc.stderr else ""
    if proc.wait() != 0:
        raise InputError(f"not a backup made by `connectivity backup`: {err.strip()}",
                         file=str(path))
    if not versions:
        raise InputError("the file holds no schema version: not made by `connectivity backup`",
                         file=str(path))
    rows.pop("schema_migration", None)
    return max(versions), {t: rows.get(t, 0) for t in TABLES}


def restore(conninfo: str, path: Path, *, replace: bool = False) -> dict:
    """Load the dump into the workspace tables, in one transaction, then check every table's row
    count against the dump. The database must be migrated to the dump's schema version, and its
    workspace tables empty (``replace`` empties them first; the audit log is append-only, so
    replacing needs the table owner, who may disable its triggers for the restore)."""
    version, expected = dump_contents(path)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        have = current_version(conn)
        if have != version:
            raise SchemaError(f"the backup is of schema version {version}, the database is at {have}",
                              "migrate the database (or restore into one at that version)")
        present = counts(conn)
    if any(present.values()) and not replace:
        raise GapmapError("the workspace tables are not empty: "
                          + ", ".join(f"{t} {n}" for t, n in present.items() if n),
                          "restore into a fresh database, or pass --replace to empty them first")
    items = subprocess.run([_tool("pg_restore"), "--list", str(path)], check=True,
                           capture_output=True, text=True).stdout
    keep = [line for line in items.splitlines()
            if line and not line.startswith(";") and "schema_migration" not in line]
    listing = Path(str(path) + ".list")
    try:
        listing.write_text("\n".join(keep) + "\n")
        with psycopg.connect(conninfo, autocommit=False) as conn:
            if replace:
                conn.execute(f"ALTER TABLE {SCHEMA}.audit_event DISABLE TRIGGER USER")
                conn.execute("TRUNCATE " + ", ".join(f"{SCHEMA}.{t}" for t in TABLES)
                             + f", {SCHEMA}.account_session, {SCHEMA}.rate_event")
                conn.execute(f"ALTER TABLE {SCHEMA}.audit_event ENABLE TRIGGER USER")
            sql = subprocess.run([_tool("pg_restore"), "--data-only", "--use-list", str(listing),
                                  "--file", "-", str(path)], check=True, capture_output=True,
                                 text=True).stdout
            _run_restore_script(conn, sql)
            for table in ("account", "api_token", "report", "audit_event", "target_list",
                          "target_list_snapshot"):
                conn.execute(f"SELECT setval(pg_get_serial_sequence('{SCHEMA}.{table}', 'id'), "
                             f"coalesce((SELECT max(id) FROM {SCHEMA}.{table}), 0) + 1, false)")
            got = counts(conn)
            if got != expected:
                conn.rollback()
                raise GapmapError(f"restore check failed: the dump holds {expected}, the "
                                  f"database now {got}; nothing was restored")
            conn.commit()
    finally:
        listing.unlink(missing_ok=True)
    return {"file": str(path), "schema_version": version, "rows": expected}


def _run_restore_script(conn: psycopg.Connection, sql: str) -> None:
    """Run pg_restore's plain-SQL output (SET lines, COPY blocks, setval calls) on ``conn``."""
    lines = iter(sql.splitlines(keepends=True))
    statement: list[str] = []
    for line in lines:
        match = _COPY.match(line)
        if match:
            with conn.cursor().copy(line.rstrip().rstrip(";")) as copy:
                for data in lines:
                    if data == "\\.\n":
                        break
                    copy.write(data)
            continue
        if line.startswith(("--", "\\")) or not line.strip():
            continue  # comments, and psql meta-commands (\restrict ... in newer pg_restore)
        statement.append(line)
        if line.rstrip().endswith(";"):
            text = "".join(statement)
            statement = []
            if text.startswith("SELECT pg_catalog.set_config('search_path'"):
                continue  # keep our own search_path (PostGIS lives in public)
            conn.execute(text)
