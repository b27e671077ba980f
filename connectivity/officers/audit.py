"""The audit log: one append-only row per officer action (the table's triggers refuse UPDATE,
DELETE and TRUNCATE). Never a password, token or resident's contact detail in ``detail``."""

from __future__ import annotations

import datetime as dt
import getpass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import Account, AuditEvent

#: every action the service records, so a typo cannot invent a new one
ACTIONS = frozenset({
    "sign_in", "sign_in.failed", "sign_in.limited", "sign_out", "session.expired",
    "account.create", "account.update", "account.password", "account.disable", "account.enable",
    "token.create", "token.revoke", "token.use", "token.refused",
    "report.view", "reports.export", "reports.purge",
    "backup", "restore",
    "list.create", "list.refresh", "list.export", "challenges.load",
    "challenge.create", "challenge.view", "challenge.accepted", "challenge.screened_out",
    "challenge.upheld", "challenge.rejected", "challenge.moot", "conflict.resolve",
    "corrections.publish", "classification.run",
    "plan.create", "plan.export",
})


def cli_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


def record(session: Session, action: str, *, account: Account | None = None,
           actor: str | None = None, object_type: str | None = None,
           object_id: str | int | None = None, detail: dict[str, Any] | None = None,
           client: str | None = None) -> AuditEvent:
    """Add one audit row to ``session`` (committed with the action it records)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    event = AuditEvent(
        account_id=account.id if account is not None else None,
        actor=actor or (account.email if account is not None else "anonymous"),
        action=action, object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        detail=detail or {}, client=client)
    session.add(event)
    session.flush()
    return event


def record_sql(conn: Any, action: str, *, actor: str, account_id: int | None = None,
                object_type: str | None = None, object_id: str | int | None = None,
                detail: dict[str, Any] | None = None) -> None:
    """The same row as :func:`record`, written on a psycopg connection inside a set-based job's
    own transaction (a load, publishing corrections), checked against the same allow-list."""
    import json

    from ..db import SCHEMA

    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    conn.execute(
        f"""INSERT INTO {SCHEMA}.audit_event (account_id, actor, action, object_type, object_id,
                                              detail) VALUES (%s, %s, %s, %s, %s, %s)""",
        (account_id, actor, action, object_type, None if object_id is None else str(object_id),
         json.dumps(detail or {}, default=str)))


def list_events(session: Session, *, since: dt.datetime | None = None, email: str | None = None,
                limit: int = 200, offset: int = 0) -> list[AuditEvent]:
    """Newest first."""
    stmt = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit).offset(offset)
    if since is not None:
        stmt = stmt.where(AuditEvent.at >= since)
    if email:
        stmt = stmt.where(AuditEvent.account_id.in_(
            select(Account.id).where(Account.email == email.strip().lower())))
    return list(session.scalars(stmt))


def as_dict(event: AuditEvent) -> dict[str, Any]:
    return {"id": event.id, "at": event.at, "actor": event.actor, "action": event.action,
            "object_type": event.object_type, "object_id": event.object_id,
            "detail": event.detail, "client": event.client}
