"""Authority scoping, in one place, in SQL.

Every officer page, API route and export that reads a scoped record goes through these
functions. They add ``<la column> IN (SELECT gapmap.account_authorities(:account))`` to the query,
so the database decides what an account may see (the function is in migration 0005): an admin sees
every authority, an officer or viewer the authorities on the account, a disabled account none.
An object outside the scope is reported as not found, never as forbidden, so its existence is not
revealed.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, and_, func, literal, or_, select
from sqlalchemy.orm import Session

from ..errors import NotFound
from .models import Account

T = TypeVar("T")


def authorities(account: Account) -> Select:
    """The LA codes ``account`` may see, as a subquery."""
    return select(func.gapmap.account_authorities(literal(account.id)))


def in_scope(la_column: ColumnElement, account: Account) -> ColumnElement[bool]:
    """A condition on ``la_column``: the row is in an authority the account may see. Rows with no
    authority (none could be found for them) are visible to admins only."""
    condition = la_column.in_(authorities(account))
    if account.role == "admin" and account.disabled_at is None:
        return or_(condition, la_column.is_(None))
    return condition


def scoped(stmt: Select, la_column: ColumnElement, account: Account) -> Select:
    return stmt.where(in_scope(la_column, account))


def get_scoped(session: Session, model: type[T], ident: Any, account: Account,
               what: str = "object") -> T:
    """The ``model`` row with primary key ``ident`` if ``account`` may see it, else NotFound."""
    pk = model.__mapper__.primary_key[0]  # type: ignore[attr-defined]
    try:
        key = pk.type.python_type(ident)
    except (TypeError, ValueError):
        raise NotFound(f"no {what} {ident}") from None
    row = session.scalars(scoped(select(model).where(and_(pk == key)),
                                 model.la_code, account)).first()  # type: ignore[attr-defined]
    if row is None:
        raise NotFound(f"no {what} {ident}")
    return row


def visible_authorities(session: Session, account: Account) -> list[str]:
    return sorted(session.scalars(authorities(account)))
