"""One connection pool per process, opened on first use (after gunicorn forks)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import psycopg
from flask import current_app
from psycopg_pool import ConnectionPool, PoolTimeout

from connectivity.db.connection import unavailable_error
from connectivity.settings import Settings


class Database:
    def __init__(self, settings: Settings):
        self.settings = settings
        self._pool: ConnectionPool | None = None
        self._lock = threading.Lock()

    def _get_pool(self) -> ConnectionPool:
        with self._lock:
            if self._pool is None:
                pool = ConnectionPool(
                    self.settings.conninfo,
                    min_size=self.settings.pool_min_size,
                    max_size=self.settings.pool_max_size,
                    kwargs={
                        "autocommit": True,
                        "application_name": "connectivity-web",
                        "options": f"-c statement_timeout={self.settings.statement_timeout_ms}",
                        "connect_timeout": 5,
                    },
                    # replace connections broken by a server restart before handing them out
                    check=ConnectionPool.check_connection,
                    timeout=3,
                    open=False,
                    name="gapmap",
                )
                pool.open(wait=False)
                self._pool = pool
            return self._pool

    @contextlib.contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        try:
            with self._get_pool().connection() as conn:
                yield conn
        except (psycopg.OperationalError, PoolTimeout) as exc:
            raise unavailable_error(self.settings, exc) from None

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.close()
                self._pool = None


def db_connection():
    """The current app's pooled connection, as a context manager."""
    return current_app.extensions["gapmap_db"].connection()
