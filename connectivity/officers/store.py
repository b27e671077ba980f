"""SQLAlchemy engines and sessions for the officers' records, over the same psycopg 3 driver
and the same connection settings as the rest of the product."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from sqlalchemy import Engine, create_engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from ..db.connection import unavailable_error
from ..settings import Settings


def make_engine(settings: Settings, *, pooled: bool = True, application_name: str = "connectivity-officers") -> Engine:
    """An engine for ``settings``; ``pooled`` for the web app (a small pool per worker), else one
    connection per session (the command line)."""

    def connect() -> psycopg.Connection:
        try:
            return psycopg.connect(settings.conninfo, connect_timeout=10,
                                   application_name=application_name)
        except psycopg.OperationalError as exc:
            raise unavailable_error(settings, exc) from None

    options = ({"pool_size": 2, "max_overflow": 4, "pool_pre_ping": True, "pool_recycle": 1800}
               if pooled else {"poolclass": NullPool})
    return create_engine("postgresql+psycopg://", creator=connect, **options)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(settings: Settings) -> Iterator[Session]:
    """One transaction for a command: committed when the block ends, rolled back on an error."""
    engine = make_engine(settings, pooled=False)
    try:
        with session_factory(engine)() as session:
            try:
                yield session
                session.commit()
            except OperationalError as exc:
                session.rollback()
                raise unavailable_error(settings, exc.orig or exc) from None
            except BaseException:
                session.rollback()
                raise
    finally:
        engine.dispose()
