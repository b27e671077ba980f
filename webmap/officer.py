"""The officers' workspace: pages under /<lang>/officer/ (signed in) and the officer API under
/api/v1/officer/ (bearer tokens). Thin views: scoping, audit and the records live in
``connectivity.officers``. Every response here is ``Cache-Control: no-store`` (personal data)."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, g, jsonify, render_template, request

from connectivity.errors import BadRequest
from connectivity.officers import audit
from connectivity.officers.accounts import account_dict, list_accounts
from connectivity.officers.reports import (
    PAGE_SIZE,
    STATUSES,
    report_dict,
    report_in_scope,
    reports_in_scope,
)
from connectivity.officers.scope import visible_authorities

from .auth import current_account, login_required, role_required, token_required
from .pages import add_lang, pull_lang
from .security import client_address, csrf
from .workspace import request_session

bp = Blueprint("officer", __name__)
bp.url_value_preprocessor(pull_lang)
bp.url_defaults(add_lang)
api = Blueprint("officer_api", __name__)
csrf.exempt(api)  # bearer tokens, never cookies: a cross-site page cannot send one


@bp.after_request
@api.after_request
def no_store(response):
    response.headers["Cache-Control"] = "no-store"
    response.headers.setdefault("Vary", "Cookie, Authorization")
    if response.status_code == 401 and request.blueprint == "officer_api":
        response.headers["WWW-Authenticate"] = 'Bearer realm="gapmap officer API"'
    return response


def _page_args() -> tuple[str | None, int, int]:
    status = request.args.get("status") or None
    if status == "all":
        status = None
    try:
        page = int(request.args.get("page", "1"))
        per_page = int(request.args.get("per_page", str(PAGE_SIZE)))
    except ValueError:
        raise BadRequest("page and per_page must be whole numbers") from None
    return status, page, per_page


def _reports_for(account, action_detail: dict) -> tuple[list[dict], int, int, int, str | None]:
    status, page, per_page = _page_args()
    db = request_session()
    rows, total = reports_in_scope(db, account, status=status, page=page, per_page=per_page)
    if account.sees_contact_details and rows:
        audit.record(db, "report.view", account=account, client=client_address(),
                     object_type="report", object_id=None,
                     detail={**action_detail, "reports": [r.id for r in rows]})
    db.commit()
    return [report_dict(r, account) for r in rows], total, page, per_page, status


# -- pages ------------------------------------------------------------------------------------
@bp.get("/<lang>/officer/")
@login_required
def home():
    account = current_account()
    rows, total, page, per_page, status = _reports_for(account, {"page": "officer.home"})
    areas = visible_authorities(request_session(), account)
    return render_template("officer/home.html", account=account, reports=rows, total=total,
                           page=page, per_page=per_page, status=status, statuses=STATUSES,
                           areas=areas, pages=max(1, -(-total // per_page)))


@bp.get("/<lang>/officer/reports/<report_id>")
@login_required
def report(report_id: str):
    account = current_account()
    db = request_session()
    row = report_in_scope(db, account, report_id)
    if account.sees_contact_details:
        audit.record(db, "report.view", account=account, client=client_address(),
                     object_type="report", object_id=row.id, detail={"page": "officer.report"})
    db.commit()
    return render_template("officer/report.html", account=account, report=report_dict(row, account))


@bp.get("/<lang>/officer/audit")
@role_required("admin")
def audit_page():
    db = request_session()
    since = None
    if request.args.get("since"):
        try:
            since = dt.datetime.fromisoformat(request.args["since"]).replace(tzinfo=dt.UTC)
        except ValueError:
            raise BadRequest("since must be a date, e.g. 2026-11-01") from None
    try:
        page = max(1, int(request.args.get("page", "1")))
    except ValueError:
        raise BadRequest("page must be a whole number") from None
    events = audit.list_events(db, since=since, email=request.args.get("user") or None,
                               limit=100, offset=(page - 1) * 100)
    return render_template("officer/audit.html", events=[audit.as_dict(e) for e in events],
                           page=page, since=request.args.get("since", ""),
                           user=request.args.get("user", ""))


@bp.get("/<lang>/officer/accounts")
@role_required("admin")
def accounts_page():
    rows = [account_dict(a) for a in list_accounts(request_session())]
    return render_template("officer/accounts.html", accounts=rows)


# -- API --------------------------------------------------------------------------------------
@api.get("/me")
@token_required
def me():
    data = account_dict(g.account)
    data["authorities"] = visible_authorities(request_session(), g.account)
    return jsonify(data)


@api.get("/reports")
@token_required
def api_reports():
    rows, total, page, per_page, status = _reports_for(g.account, {"route": request.path})
    return jsonify({"reports": rows, "total": total, "page": page, "per_page": per_page,
                    "status": status or "all"})


@api.get("/reports/<report_id>")
@token_required
def api_report(report_id: str):
    db = request_session()
    row = report_in_scope(db, g.account, report_id)
    if g.account.sees_contact_details:
        audit.record(db, "report.view", account=g.account, client=client_address(),
                     object_type="report", object_id=row.id, detail={"route": request.path})
    db.commit()
    return jsonify(report_dict(row, g.account))


# -- names in the reader's language -----------------------------------------------------------
def role_names() -> dict[str, str]:
    from flask_babel import gettext as _

    return {"admin": _("administrator"), "officer": _("officer"), "viewer": _("viewer (read-only)")}


def report_status_names() -> dict[str, str]:
    from flask_babel import gettext as _

    return {"new": _("New"), "accepted": _("Accepted"), "rejected": _("Rejected")}


def la_name(code: str | None) -> str:
    """An authority's name in the page's language (the code itself when it is not loaded)."""
    if not code:
        return "–"
    names = g.get("la_names")
    if names is None:
        from connectivity.db import SCHEMA

        from .pool import db_connection

        with db_connection() as conn:
            names = g.la_names = {c: (en, cy) for c, en, cy in conn.execute(
                f"SELECT code, name_en, name_cy FROM {SCHEMA}.area WHERE level = 'la'")}
    en, cy = names.get(code, (code, None))
    return (cy or en) if g.get("lang") == "cy" else en


def init_app(app) -> None:
    from .auth import sign_in_texts
    from .pages import report_texts

    app.add_template_filter(la_name, "la_name")
    app.jinja_env.globals.update(
        role_names=role_names, report_status_names=report_status_names,
        problem_names=report_texts, sign_in_texts=sign_in_texts)
