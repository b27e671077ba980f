"""Residents' reports as officers see them: scoped to their authorities, contact details only
for roles that may see them, and blanked once the retention period has passed."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from ..errors import BadRequest
from . import audit
from .models import Account, Report
from .scope import get_scoped, scoped

STATUSES = ("new", "accepted", "rejected")
PAGE_SIZE = 25


def report_dict(report: Report, account: Account | None) -> dict[str, Any]:
    """A report for ``account``: the contact only where its role may see contact details."""
    row = {"id": report.id, "created_at": report.created_at, "postcode": report.postcode,
           "la_code": report.la_code, "uprn": report.uprn, "problem": report.problem,
           "measured_down": report.measured_down, "measured_up": report.measured_up,
           "message": report.message, "lang": report.lang,
           "classification": report.classification, "status": report.status,
           "closed_at": report.closed_at}
    if account is not None and account.sees_contact_details:
        row["contact"] = report.contact
        row["contact_purged"] = report.contact_purged_at is not None
    return row


def reports_in_scope(session: Session, account: Account, *, status: str | None = None,
                     page: int = 1, per_page: int = PAGE_SIZE) -> tuple[list[Report], int]:
    """The reports ``account`` may see, newest first: (one page, the total)."""
    if status is not None and status not in STATUSES:
        raise BadRequest(f"unknown status {status!r}; expected one of {', '.join(STATUSES)}")
    if page < 1 or not 1 <= per_page <= 500:
        raise BadRequest("page must be at least 1 and per_page between 1 and 500")
    stmt = scoped(select(Report), Report.la_code, account)
    if status:
        stmt = stmt.where(Report.status == status)
    total = session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = session.scalars(stmt.order_by(Report.created_at.desc(), Report.id.desc())
                           .limit(per_page).offset((page - 1) * per_page))
    return list(rows), int(total or 0)


def report_in_scope(session: Session, account: Account, report_id: Any) -> Report:
    return get_scoped(session, Report, report_id, account, "report")


def purge_contacts(session: Session, *, months: int, actor: str, by: Account | None = None,
                   now: dt.datetime | None = None) -> int:
    """Blank the contact details of reports closed more than ``months`` ago; audited with the
    number of reports touched. Returns that number."""
    cutoff = session.execute(
        text("SELECT coalesce(CAST(:now AS timestamptz), now()) - make_interval(months => :m)"),
        {"now": now, "m": months}).scalar_one()
    result = session.execute(
        update(Report)
        .where(Report.contact.is_not(None), Report.closed_at.is_not(None),
               Report.closed_at < cutoff)
        .values(contact=None, contact_purged_at=func.now())
        .execution_options(synchronize_session=False))
    count = result.rowcount or 0
    audit.record(session, "reports.purge", account=by, actor=actor, object_type="report",
                 detail={"purged": count, "closed_before": cutoff.isoformat(),
                         "retention_months": months})
    return count
