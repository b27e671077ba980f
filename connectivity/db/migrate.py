"""Versioned schema migrations: ordered SQL files, recorded in the database.

Files are ``migrations/NNNN_name.sql``; each runs once, in its own transaction, and is recorded in
``gapmap.schema_migration`` with its SHA-256. An applied file that has since been edited is an error
(write a new migration instead). A PostgreSQL advisory lock makes concurrent runs safe.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from importlib import resources

import psycopg

from ..errors import SchemaError
from .connection import SCHEMA

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_LOCK_KEY = 0x6761706D6170  # "gapmap"


@dataclasses.dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def available_migrations() -> list[Migration]:
    folder = resources.files(__package__) / "migrations"
    found = []
    for entry in folder.iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise SchemaError(f"two migration files share a version number: {versions}")
    return found


def _ensure_bookkeeping(conn: psycopg.Connection) -> None:
    conn.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    conn.execute(
        f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.schema_migration (
            version integer PRIMARY KEY,
            name text NOT NULL,
            checksum text NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now())"""
    )


def applied_migrations(conn: psycopg.Connection) -> dict[int, tuple[str, str]]:
    exists = conn.execute(
        "SELECT to_regclass(%s) IS NOT NULL", (f"{SCHEMA}.schema_migration",)
    ).fetchone()[0]
    if not exists:
        return {}
    rows = conn.execute(f"SELECT version, name, checksum FROM {SCHEMA}.schema_migration").fetchall()
    return {v: (n, c) for v, n, c in rows}


def current_version(conn: psycopg.Connection) -> int:
    """The highest applied migration, 0 for an empty database."""
    applied = applied_migrations(conn)
    return max(applied) if applied else 0


def _check(applied: dict[int, tuple[str, str]], available: list[Migration]) -> None:
    known = {m.version: m for m in available}
    for version, (name, checksum) in sorted(applied.items()):
        migration = known.get(version)
        if migration is None:
            raise SchemaError(
                f"the database has migration {version:04d}_{name}, which this code does not know",
                "the database was migrated by a newer version of the code: upgrade the code",
            )
        if migration.checksum != checksum:
            raise SchemaError(
                f"migration {version:04d}_{name} was edited after it was applied",
                "never edit an applied migration; add a new one (or `connectivity db reset` a "
                "development database)",
            )


def pending_migrations(conn: psycopg.Connection) -> list[Migration]:
    available = available_migrations()
    applied = applied_migrations(conn)
    _check(applied, available)
    return [m for m in available if m.version not in applied]


def require_current(conn: psycopg.Connection) -> int:
    """Raise :class:`SchemaError` unless every migration has been applied; return the version."""
    pending = pending_migrations(conn)
    if pending:
        raise SchemaError(
            f"the database schema is at version {current_version(conn)}, this code needs "
            f"{pending[-1].version}",
            "run `connectivity db migrate`",
        )
    return current_version(conn)


def migrate(conn: psycopg.Connection) -> list[Migration]:
    """Apply every pending migration; return those applied. ``conn`` must be in autocommit mode."""
    if not conn.autocommit:
        raise ValueError("migrate() needs an autocommit connection: each migration commits alone")
    conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
    try:
        _ensure_bookkeeping(conn)
        done = []
        for migration in pending_migrations(conn):
            try:
                with conn.transaction():
                    conn.execute(migration.sql)
                    conn.execute(
                        f"INSERT INTO {SCHEMA}.schema_migration (version, name, checksum) "
                        "VALUES (%s, %s, %s)",
                        (migration.version, migration.name, migration.checksum),
                    )
            except psycopg.errors.FeatureNotSupported as exc:
                raise SchemaError(
                    f"migration {migration.version:04d}_{migration.name} failed: {exc}",
                    "install PostGIS 3 for this PostgreSQL (Debian: postgresql-15-postgis-3)",
                ) from None
            except psycopg.errors.UndefinedFile as exc:
                raise SchemaError(
                    f"migration {migration.version:04d}_{migration.name} failed: {exc}",
                    "install PostGIS 3 for this PostgreSQL (Debian: postgresql-15-postgis-3)",
                ) from None
            except psycopg.errors.InsufficientPrivilege as exc:
                raise SchemaError(
                    f"migration {migration.version:04d}_{migration.name} failed: {exc}",
                    "a superuser must run `CREATE EXTENSION postgis` in this database once",
                ) from None
            done.append(migration)
        return done
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))


def reset(conn: psycopg.Connection) -> list[Migration]:
    """Drop every table of the product and migrate again from nothing."""
    if not conn.autocommit:
        raise ValueError("reset() needs an autocommit connection")
    conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
    return migrate(conn)
