"""Rate limits whose counters live in PostgreSQL, so they hold across every web worker.

Each counted event is a row of ``gapmap.rate_event`` keyed by an HMAC of what is counted (the
secret key makes the hash useless to anyone reading the table). A transaction-scoped advisory
lock on the key makes count-then-insert atomic under concurrency.
"""

from __future__ import annotations

import hashlib
import hmac

from sqlalchemy import text
from sqlalchemy.orm import Session

from ..errors import TooManyRequests


def key(secret: str, *parts: str) -> str:
    message = "\x1f".join(parts).encode("utf-8")
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()[:40]


def count(session: Session, bucket: str, hashed: str, window_s: int) -> tuple[int, int]:
    """(events in the window, seconds until the oldest of them leaves it)."""
    session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:b || :k, 0))"),
                    {"b": bucket, "k": hashed})
    row = session.execute(text(
        """SELECT count(*), coalesce(ceil(extract(epoch FROM min(at) + make_interval(secs => :w)
                                                  - now()))::int, 0)
           FROM gapmap.rate_event
           WHERE bucket = :b AND key = :k AND at > now() - make_interval(secs => :w)"""),
        {"b": bucket, "k": hashed, "w": window_s}).one()
    return int(row[0]), max(int(row[1]), 1)


def hit(session: Session, bucket: str, hashed: str, window_s: int) -> None:
    """Count one event, and forget this key's events older than the window."""
    session.execute(text(
        "DELETE FROM gapmap.rate_event WHERE bucket = :b AND key = :k "
        "AND at <= now() - make_interval(secs => :w)"), {"b": bucket, "k": hashed, "w": window_s})
    session.execute(text("INSERT INTO gapmap.rate_event (bucket, key) VALUES (:b, :k)"),
                    {"b": bucket, "k": hashed})


def check(session: Session, bucket: str, hashed: str, limit: int, window_s: int,
          message: str) -> None:
    """Raise TooManyRequests when the key has ``limit`` events in the window already."""
    n, retry = count(session, bucket, hashed, window_s)
    if n >= limit:
        raise TooManyRequests(message, retry_after=retry)


def check_and_hit(session: Session, bucket: str, hashed: str, limit: int, window_s: int,
                  message: str) -> None:
    check(session, bucket, hashed, limit, window_s, message)
    hit(session, bucket, hashed, window_s)
