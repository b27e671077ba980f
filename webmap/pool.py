"""One connection pool per process, opened on first use (after gunicorn forks).

When PostgreSQL goes away (restart, crash, network), requests must get a prompt 503 rather than
hold a worker thread for the whole pool timeout each, and the app must heal by itself when the
server is back, without waiting out the pool's reconnection back-off. So:

- a connection is checked when it is handed out; a broken one (every pooled connection is broken
  after a restart) is dropped and the next one tried at once;
- each request's statements run in one transaction that sees one classification run (below);
- a failure to reach the server opens a breaker: requests are answered 503 at once, and at most
  every ``RETRY_EVERY`` seconds one of them tries a fresh connection (the others wait for its
  answer); the first that succeeds closes the breaker, and the pool, asked for connections
  again, reconnects straight away.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

import psycopg
from flask import current_app
from psycopg_pool import ConnectionPool, PoolTimeout

from connectivity.db import SCHEMA
from connectivity.db.connection import unavailable_error
from connectivity.errors import DatabaseUnavailable
from connectivity.settings import Settings

#: Each use of a connection is one transaction that first locks the current classification's
#: views: a classification becoming current (it replaces them) waits until the use is over, so
#: the run label, tiles, premises and statistics one request shows all come from one run.
_LOCK_VIEWS = (f"LOCK TABLE {SCHEMA}.premises_class, {SCHEMA}.area_stats "
               "IN ACCESS SHARE MODE")
#: longest a request waits for a pooled connection
POOL_TIMEOUT = 3.0
#: seconds between attempts to reach the database while it is known to be down
RETRY_EVERY = 0.5
#: connect timeout of those attempts
PROBE_TIMEOUT = 2


class Database:
    def __init__(self, settings: Settings):
        self.settings = settings
        self._pool: ConnectionPool | None = None
        self._lock = threading.Lock()
        self._probe_lock = threading.Lock()
        #: while the database is down: (monotonic time of the last failed attempt, its error)
        self._down: tuple[float, Exception] | None = None

    def _get_pool(self) -> ConnectionPool:
        with self._lock:
            if self._pool is None:
                pool = ConnectionPool(
                    self.settings.conninfo,
                    min_size=self.settings.pool_min_size,
                    max_size=self.settings.pool_max_size,
                    kwargs=self._connect_kwargs(),
                    timeout=POOL_TIMEOUT,
                    open=False,
                    name="gapmap",
                )
                pool.open(wait=False)
                self._pool = pool
            return self._pool

    def _connect_kwargs(self) -> dict:
        return {
            "autocommit": True,
            "application_name": "connectivity-web",
            # JIT compiles for queries PostGIS's cost estimates make look big; tile and lookup
            # queries are short, and the compile time would dominate them
            "options": f"-c statement_timeout={self.settings.statement_timeout_ms} -c jit=off",
            "connect_timeout": 5,
        }

    # -- the breaker -----------------------------------------------------------------------------
    def _admit(self) -> None:
        """Return at once while the database is up. While it is down, answer at once, except
        that every RETRY_EVERY seconds one request tries to connect; the requests that arrive
        meanwhile wait for its answer (at most a connect timeout)."""
        if self._down is None:
            return
        if not self._probe_lock.acquire(timeout=PROBE_TIMEOUT + 1):
            raise unavailable_error(self.settings, self._down[1])
        try:
            down = self._down
            if down is None:  # another request found it back
                return
            if time.monotonic() - down[0] < RETRY_EVERY:
                raise unavailable_error(self.settings, down[1])
            try:
                self._probe()
            except psycopg.OperationalError as exc:
                self._down = (time.monotonic(), exc)
                raise unavailable_error(self.settings, exc) from None
            self._down = None
        finally:
            self._probe_lock.release()

    def _unavailable(self, exc: Exception) -> DatabaseUnavailable:
        """The 503 for a failed request; the breaker opens only when the server does not answer
        a fresh connection either (a busy pool or one dropped connection does not open it)."""
        try:
            self._probe()
        except psycopg.OperationalError as probe_exc:
            self._down = (time.monotonic(), probe_exc)
            return unavailable_error(self.settings, probe_exc)
        return unavailable_error(self.settings, exc)

    # -- connections -----------------------------------------------------------------------------
    def _probe(self) -> None:
        """Connect afresh (without the pool): raises OperationalError when the server is away."""
        kwargs = self._connect_kwargs() | {"connect_timeout": PROBE_TIMEOUT}
        psycopg.connect(self.settings.conninfo, **kwargs).close()

    def _checked_out(self, pool: ConnectionPool) -> psycopg.Connection:
        """A working connection from the pool. A broken one (after a server restart every idle
        connection is) is dropped and the next one tried at once, as long as the server answers
        a fresh connection."""
        deadline = time.monotonic() + POOL_TIMEOUT
        while True:
            conn = pool.getconn(timeout=max(0.01, deadline - time.monotonic()))
            try:
                conn.execute("")
            except psycopg.Error:
                pool.putconn(conn)  # broken: the pool closes it and opens a replacement
                self._probe()
                continue
            return conn

    @contextlib.contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        self._admit()
        pool = self._get_pool()
        try:
            conn = self._checked_out(pool)
        except psycopg.OperationalError as exc:  # the fresh connection failed too
            self._down = (time.monotonic(), exc)
            raise unavailable_error(self.settings, exc) from None
        except PoolTimeout as exc:
            raise self._unavailable(exc) from None
        try:
            with conn.transaction():
                conn.execute(_LOCK_VIEWS)
                yield conn
        except psycopg.OperationalError as exc:  # includes statement timeouts
            raise (self._unavailable(exc) if conn.broken else
                   unavailable_error(self.settings, exc)) from None
        finally:
            pool.putconn(conn)

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.close()
                self._pool = None


def db_connection():
    """The current app's pooled connection, as a context manager."""
    return current_app.extensions["gapmap_db"].connection()
