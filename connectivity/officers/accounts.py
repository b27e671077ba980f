"""Accounts, sign-in, server-side sessions and API tokens. Every change is audited.

Passwords are argon2id hashes; session ids and API tokens are 256 random bits handed out once
and kept only as SHA-256. Nothing here logs or returns a password, token or hash.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from ..errors import BadRequest, NotFound, TooManyRequests, Unauthorized
from ..settings import Settings
from . import audit, ratelimit
from .models import ROLES, Account, AccountArea, AccountSession, ApiToken
from .passwords import check_new_password, hash_password, needs_rehash, verify_password

LANGS = ("en", "cy")
TOKEN_PREFIX = "gmt_"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_LA = re.compile(r"^W06[0-9]{6}$")
#: how often a session's last-seen time is written (a write per request would be wasteful)
_TOUCH_EVERY = dt.timedelta(seconds=60)


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def _now(session: Session) -> dt.datetime:
    return session.execute(select(func.now())).scalar_one()


def normalise_email(email: str) -> str:
    value = (email or "").strip().lower()
    if not _EMAIL.match(value) or len(value) > 254:
        raise BadRequest(f"{email!r} is not an email address", "for example name@example.gov.wales")
    return value


def _check_areas(session: Session, role: str, areas: Iterable[str]) -> list[str]:
    codes = sorted({a.strip().upper() for a in areas if a.strip()})
    bad = [c for c in codes if not _LA.match(c)]
    if bad:
        raise BadRequest(f"not local authority codes: {', '.join(bad)}",
                         "use W06 codes, e.g. W06000008 for Ceredigion")
    known = set(session.scalars(text("SELECT code FROM gapmap.area WHERE level = 'la'")))
    unknown = [c for c in codes if known and c not in known]
    if unknown:
        raise BadRequest(f"no local authority {', '.join(unknown)} in the loaded boundaries",
                         "`connectivity stats --level la` lists the authorities")
    if role != "admin" and not codes:
        raise BadRequest(f"an {role} account needs at least one authority (--area CODE)",
                         "a Welsh Government officer gets all 22: repeat --area for each")
    return codes


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise BadRequest(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
    return role


def _check_lang(lang: str) -> str:
    if lang not in LANGS:
        raise BadRequest(f"unknown language {lang!r}; expected en or cy")
    return lang


def find_account(session: Session, email: str) -> Account:
    account = session.scalars(select(Account).where(Account.email == normalise_email(email))).first()
    if account is None:
        raise NotFound(f"no account {email.strip().lower()}", "`connectivity users list` lists them")
    return account


def list_accounts(session: Session) -> list[Account]:
    return list(session.scalars(select(Account).order_by(Account.email)))


def account_dict(account: Account) -> dict[str, Any]:
    return {"id": account.id, "email": account.email, "name": account.name, "role": account.role,
            "areas": account.la_codes, "lang": account.lang, "created_at": account.created_at,
            "last_sign_in_at": account.last_sign_in_at, "disabled_at": account.disabled_at,
            "has_password": account.password_hash is not None}


def add_account(session: Session, *, email: str, role: str, areas: Iterable[str] = (),
                name: str = "", lang: str = "en", password: str, actor: str,
                by: Account | None = None) -> Account:
    email = normalise_email(email)
    role = _check_role(role)
    codes = _check_areas(session, role, areas)
    _check_lang(lang)
    if session.scalars(select(Account.id).where(Account.email == email)).first() is not None:
        raise BadRequest(f"an account {email} exists already", "change it with `connectivity users set`")
    check_new_password(password, email=email, name=name)
    account = Account(email=email, name=name.strip(), role=role, lang=lang,
                      password_hash=hash_password(password),
                      areas=[AccountArea(la_code=c) for c in codes])
    session.add(account)
    session.flush()
    audit.record(session, "account.create", account=by, actor=actor, object_type="account",
                 object_id=account.id, detail={"email": email, "role": role, "areas": codes,
                                               "lang": lang})
    return account


def set_account(session: Session, email: str, *, role: str | None = None,
                areas: Iterable[str] | None = None, name: str | None = None,
                lang: str | None = None, actor: str, by: Account | None = None) -> Account:
    account = find_account(session, email)
    changes: dict[str, Any] = {}
    new_role = _check_role(role) if role is not None else account.role
    if role is not None and role != account.role:
        changes["role"] = [account.role, role]
        account.role = role
    if areas is not None or role is not None:
        codes = _check_areas(session, new_role, account.la_codes if areas is None else areas)
        if codes != account.la_codes:
            changes["areas"] = [account.la_codes, codes]
            account.areas = [AccountArea(la_code=c) for c in codes]
    if name is not None and name.strip() != account.name:
        changes["name"] = True  # the name itself is personal data: not copied into the log
        account.name = name.strip()
    if lang is not None and _check_lang(lang) != account.lang:
        changes["lang"] = [account.lang, lang]
        account.lang = lang
    if changes:
        account.updated_at = _now(session)
        session.flush()
        audit.record(session, "account.update", account=by, actor=actor, object_type="account",
                     object_id=account.id, detail={"email": account.email, "changes": changes})
    return account


def set_password(session: Session, email: str, password: str, *, actor: str,
                 by: Account | None = None) -> Account:
    account = find_account(session, email)
    check_new_password(password, email=account.email, name=account.name)
    account.password_hash = hash_password(password)
    account.updated_at = _now(session)
    end_sessions(session, account)
    audit.record(session, "account.password", account=by, actor=actor, object_type="account",
                 object_id=account.id, detail={"email": account.email})
    return account


def disable_account(session: Session, email: str, *, actor: str,
                    by: Account | None = None, enable: bool = False) -> Account:
    account = find_account(session, email)
    if enable:
        account.disabled_at = None
    else:
        account.disabled_at = account.disabled_at or _now(session)
        end_sessions(session, account)
    account.updated_at = _now(session)
    audit.record(session, "account.enable" if enable else "account.disable", account=by,
                 actor=actor, object_type="account", object_id=account.id,
                 detail={"email": account.email})
    return account


# -- sessions (browser) -----------------------------------------------------------------------

@dataclass(frozen=True)
class SignIn:
    account: Account
    session_id: str  # the cookie's value; only its hash is stored


def _limits(settings: Settings) -> tuple[int, int]:
    return settings.sign_in_max_failures, settings.sign_in_window_minutes * 60


def sign_in(session: Session, settings: Settings, email: str, password: str, *,
            client: str) -> SignIn:
    """Check the password and open a server-side session; every outcome is audited.

    Raises TooManyRequests when the account or the client address has had too many failures in
    the window (checked before the password, so a locked account reveals nothing), and
    Unauthorized for a wrong email or password (the same message for both)."""
    if not settings.secret_key:
        raise Unauthorized("sign-in needs CONNECTIVITY_SECRET_KEY to be set")
    limit, window = _limits(settings)
    address = (email or "").strip().lower()[:254]
    by_account = ratelimit.key(settings.secret_key, "account", address)
    by_client = ratelimit.key(settings.secret_key, "client", client)
    account = session.scalars(select(Account).where(Account.email == address)).first()
    for bucket, hashed in (("sign_in_account", by_account), ("sign_in_client", by_client)):
        try:
            ratelimit.check(session, bucket, hashed, limit, window,
                            "too many failed sign-ins; try again later")
        except TooManyRequests:
            audit.record(session, "sign_in.limited", account=account, client=client,
                         actor=account.email if account else "anonymous",
                         detail={"by": bucket.removeprefix("sign_in_")})
            raise
    ok = verify_password(account.password_hash if account else None, password or "")
    if not ok or account is None or account.disabled_at is not None:
        ratelimit.hit(session, "sign_in_account", by_account, window)
        ratelimit.hit(session, "sign_in_client", by_client, window)
        audit.record(session, "sign_in.failed", account=account, client=client,
                     actor=account.email if account else "anonymous",
                     detail={"reason": "disabled" if ok and account else "wrong_password"
                             if account else "unknown_account"})
        raise Unauthorized("that email and password do not match an active account")
    if needs_rehash(account.password_hash):
        account.password_hash = hash_password(password)
    session_id = secrets.token_urlsafe(32)
    session.add(AccountSession(id_hash=_sha256(session_id), account_id=account.id))
    account.last_sign_in_at = _now(session)
    audit.record(session, "sign_in", account=account, client=client, object_type="account",
                 object_id=account.id)
    return SignIn(account, session_id)


def load_session(session: Session, settings: Settings, session_id: str) -> Account | None:
    """The account of an open session, or None (unknown, ended, idle or too old: ended now)."""
    if not session_id:
        return None
    row = session.get(AccountSession, _sha256(session_id))
    if row is None or row.ended_at is not None:
        return None
    now = _now(session)
    idle = dt.timedelta(minutes=settings.session_idle_minutes)
    absolute = dt.timedelta(hours=settings.session_absolute_hours)
    account = row.account
    if account.disabled_at is not None:
        row.ended_at = now
        return None
    if now - row.last_seen_at > idle or now - row.created_at > absolute:
        row.ended_at = now
        audit.record(session, "session.expired", account=account, object_type="account",
                     object_id=account.id,
                     detail={"why": "idle" if now - row.last_seen_at > idle else "absolute"})
        return None
    if now - row.last_seen_at > _TOUCH_EVERY:
        row.last_seen_at = now
    return account


def sign_out(session: Session, session_id: str, *, client: str) -> None:
    row = session.get(AccountSession, _sha256(session_id)) if session_id else None
    if row is not None and row.ended_at is None:
        row.ended_at = _now(session)
        audit.record(session, "sign_out", account=row.account, client=client,
                     object_type="account", object_id=row.account_id)


def end_sessions(session: Session, account: Account) -> None:
    session.execute(update(AccountSession)
                    .where(AccountSession.account_id == account.id, AccountSession.ended_at.is_(None))
                    .values(ended_at=func.now()))


# -- API tokens -------------------------------------------------------------------------------

def create_token(session: Session, email: str, name: str, *, actor: str,
                 by: Account | None = None) -> tuple[ApiToken, str]:
    """A new token for the account: (its record, the token itself — shown once, never stored)."""
    account = find_account(session, email)
    name = (name or "").strip()
    if not 1 <= len(name) <= 100:
        raise BadRequest("a token needs a name of 1 to 100 characters (--name)",
                         "say what uses it, e.g. --name 'nightly export'")
    if account.disabled_at is not None:
        raise BadRequest(f"account {account.email} is disabled")
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(account_id=account.id, name=name, token_hash=_sha256(plain))
    session.add(token)
    session.flush()
    audit.record(session, "token.create", account=by, actor=actor, object_type="token",
                 object_id=token.id, detail={"email": account.email, "name": name})
    return token, plain


def revoke_token(session: Session, token_id: int, *, actor: str,
                 by: Account | None = None) -> ApiToken:
    token = session.get(ApiToken, token_id)
    if token is None:
        raise NotFound(f"no token {token_id}", "`connectivity users list --json` shows each account's tokens")
    if token.revoked_at is None:
        token.revoked_at = _now(session)
        audit.record(session, "token.revoke", account=by, actor=actor, object_type="token",
                     object_id=token.id, detail={"email": token.account.email, "name": token.name})
    return token


def token_dict(token: ApiToken) -> dict[str, Any]:
    return {"id": token.id, "name": token.name, "created_at": token.created_at,
            "last_used_at": token.last_used_at, "revoked_at": token.revoked_at}


def authenticate_token(session: Session, plain: str, *, client: str, route: str) -> Account:
    """The account behind a bearer token; Unauthorized for a missing, unknown, revoked token or a
    disabled account. Use is recorded on the token and in the audit log."""
    token = (session.scalars(select(ApiToken).where(ApiToken.token_hash == _sha256(plain))).first()
             if plain and plain.startswith(TOKEN_PREFIX) else None)
    if token is None or token.revoked_at is not None or token.account.disabled_at is not None:
        if token is not None:
            audit.record(session, "token.refused", account=token.account, client=client,
                         object_type="token", object_id=token.id,
                         detail={"why": "revoked" if token.revoked_at else "disabled",
                                 "route": route})
        raise Unauthorized("a valid API token is needed: send Authorization: Bearer <token>",
                           "`connectivity users token EMAIL --name NAME` makes one")
    token.last_used_at = _now(session)
    audit.record(session, "token.use", account=token.account, client=client,
                 object_type="token", object_id=token.id, detail={"route": route})
    return token.account
