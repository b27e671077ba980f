"""The officers' records in the web app: one SQLAlchemy engine per process (a small pool), and
one ORM session per request, closed when the request ends."""

from __future__ import annotations

from flask import Flask, current_app, g
from sqlalchemy.orm import Session

from connectivity.officers import make_engine, session_factory
from connectivity.settings import Settings


def init_app(app: Flask, settings: Settings) -> None:
    engine = make_engine(settings, application_name="gapmap-web-officers")
    app.extensions["gapmap_orm"] = session_factory(engine)
    app.extensions["gapmap_orm_engine"] = engine

    @app.teardown_appcontext
    def close_session(exc):
        session = g.pop("orm_session", None)
        if session is not None:
            if exc is not None:
                session.rollback()
            session.close()


def orm_session() -> Session:
    """A new session (the caller commits); ``request_session`` shares one per request."""
    return current_app.extensions["gapmap_orm"]()


def request_session() -> Session:
    session = g.get("orm_session")
    if session is None:
        session = g.orm_session = orm_session()
    return session
