"""The officers' workspace: accounts, sessions, API tokens, authority scoping, the audit log and
residents' reports as officers see them. SQLAlchemy ORM over the migrated tables (models.py);
scoping is done in SQL in one place (scope.py)."""

from .models import MAPPED, Account, AccountArea, AccountSession, ApiToken, AuditEvent, Report
from .store import make_engine, session_factory, session_scope

__all__ = [
    "MAPPED",
    "Account",
    "AccountArea",
    "AccountSession",
    "ApiToken",
    "AuditEvent",
    "Report",
    "make_engine",
    "session_factory",
    "session_scope",
]
