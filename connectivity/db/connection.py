"""Opening connections with messages that say how to fix a failure."""

from __future__ import annotations

import psycopg

from ..errors import DatabaseUnavailable
from ..settings import Settings

#: Every table of the product lives in this schema (PostGIS stays in ``public``).
SCHEMA = "gapmap"


def unavailable_error(settings: Settings, exc: Exception) -> DatabaseUnavailable:
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if settings.uses_local_cluster:
        hint = "start the project-local PostGIS with `connectivity db up`, or set DATABASE_URL"
    else:
        hint = "check DATABASE_URL (or the PG* variables) and that the server is running"
    return DatabaseUnavailable(
        f"cannot connect to PostgreSQL at {settings.redacted_conninfo()}: {detail}", hint
    )


def connect(settings: Settings, *, autocommit: bool = False, **kwargs) -> psycopg.Connection:
    """Open a connection to the configured database, or raise :class:`DatabaseUnavailable`."""
    try:
        return psycopg.connect(
            settings.conninfo,
            autocommit=autocommit,
            connect_timeout=kwargs.pop("connect_timeout", 10),
            application_name=kwargs.pop("application_name", "connectivity"),
            **kwargs,
        )
    except psycopg.OperationalError as exc:
        raise unavailable_error(settings, exc) from None


def server_info(conn: psycopg.Connection) -> dict:
    """Server and PostGIS versions (PostGIS ``None`` when the extension is not installed)."""
    row = conn.execute(
        "SELECT current_setting('server_version'), current_database(), "
        "(SELECT extversion FROM pg_extension WHERE extname = 'postgis')"
    ).fetchone()
    return {"server_version": row[0], "database": row[1], "postgis_version": row[2]}
