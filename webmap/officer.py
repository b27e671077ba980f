"""The officers' workspace: pages under /<lang>/officer/ (signed in) and the officer API under
/api/v1/officer/ (bearer tokens). Thin views: scoping, audit and the records live in
``connectivity.officers``. Every response here is ``Cache-Control: no-store`` (personal data)."""

from __future__ import annotations

import datetime as dt
import json
import re

from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)

from connectivity.errors import BadRequest
from connectivity.officers import audit, dashboard, lists, plans
from connectivity.officers.accounts import account_dict, list_accounts
from connectivity.officers.reports import (
    PAGE_SIZE,
    STATUSES,
    report_dict,
    report_in_scope,
    reports_in_scope,
)
from connectivity.officers.scope import visible_authorities

from .auth import (
    current_account,
    login_required,
    require_change_rights,
    role_required,
    token_required,
)
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
    db = request_session()
    areas = visible_authorities(db, account)
    conn = lists.raw(db)
    settings = current_app.config["GAPMAP_SETTINGS"]
    board = {"figures": dashboard.figures(conn, areas),
             "freshness": dashboard.freshness(conn, settings.stale_release_months),
             "stale_months": settings.stale_release_months,
             "challenges": [r for r in dashboard.challenges(conn, areas)
                            if r["open"] or r["conflicts"]],
             "lists": [lists.list_dict(db, t, with_summary=False)
                       for t in lists.visible_lists(db, account)][:20],
             "plans": plans.visible_plans(db, account)[:20]}
    return render_template("officer/home.html", account=account, reports=rows, total=total,
                           page=page, per_page=per_page, status=status, statuses=STATUSES,
                           areas=areas, pages=max(1, -(-total // per_page)), board=board)


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


# -- target lists (pages) ---------------------------------------------------------------------
def _form_definition(values, files):
    """The list builder's form: the filters (same names as the API), authorities, polygon."""
    from connectivity.officers.listfilters import ListFilters
    from connectivity.officers.polygons import polygon_from_geojson, read_polygon_file

    raw = {name: [v for v in values.getlist(name) if v.strip()] for name in ListFilters.names()}
    filters = ListFilters.from_dict(raw)
    authorities = [a for a in values.getlist("authority") if a]
    shape = None
    drawn = values.get("polygon")
    if drawn:  # drawn on the map (GeoJSON, WGS84)
        try:
            shape = polygon_from_geojson(json.loads(drawn))
        except ValueError:
            raise BadRequest("the drawn polygon is not GeoJSON") from None
    upload = files.get("polygon_file")
    if upload is not None and upload.filename:
        import tempfile
        from pathlib import Path

        suffix = Path(upload.filename).suffix.lower()
        with tempfile.TemporaryDirectory(prefix="gapmap-polygon-") as folder:
            path = Path(folder) / (Path(upload.filename).stem[:60] + suffix)
            upload.save(path)
            shape = read_polygon_file(path)
    return filters, authorities, shape


def _list_form_context(account, values, files=None, *, count_it: bool):
    from connectivity.officers.listfilters import GIGABIT_CLASSES, HELP, PLANNED, ListFilters
    from connectivity.vocab import BANDS, SCHEMES
    from connectivity.vocab import GIGABIT_CLASSES as GIGABIT_NAMES

    db = request_session()
    context = {"account": account, "values": values, "areas": visible_authorities(db, account),
               "filter_help": HELP, "schemes": SCHEMES.codes, "bands": BANDS.codes,
               "gigabit_classes": list(GIGABIT_CLASSES), "planned_values": PLANNED,
               "scheme_names": SCHEMES.names(g.get("lang", "en")),
               "gigabit_names": GIGABIT_NAMES.names(g.get("lang", "en")),
               "band_names": BANDS.names(g.get("lang", "en")),
               "deciles": range(1, 11), "count": None, "error": None,
               "filter_names": ListFilters.names()}
    if count_it:
        try:
            filters, authorities, shape = _form_definition(values, files or {})
            context["count"] = lists.count(lists.raw(db), account, filters, polygon=shape,
                                           authorities=authorities or None)
        except BadRequest as exc:
            context["error"] = str(exc)
    return context


@bp.get("/<lang>/officer/lists")
@login_required
def lists_page():
    account = current_account()
    db = request_session()
    rows = [lists.list_dict(db, t, with_summary=False) for t in lists.visible_lists(db, account)]
    return render_template("officer/lists.html", account=account, lists=rows)


@bp.route("/<lang>/officer/lists/new", methods=["GET", "POST"])
@login_required
def lists_new():
    """The list builder: a GET with ``count`` shows the live count of the form's definition (no
    JavaScript needed); a POST saves the list."""
    account = current_account()
    require_change_rights(account)
    if request.method == "GET":
        context = _list_form_context(account, request.args, count_it="count" in request.args)
        return render_template("officer/lists_new.html", **context)
    db = request_session()
    try:
        filters, authorities, shape = _form_definition(request.form, request.files)
        target = lists.create_list(db, name=request.form.get("name", ""), owner=account,
                                   by=account, filters=filters, polygon=shape,
                                   authorities=authorities, notes=request.form.get("notes", ""),
                                   actor=account.email, client=client_address())
    except BadRequest as exc:
        db.rollback()
        context = _list_form_context(account, request.form, count_it=False)
        context["error"] = str(exc)
        return render_template("officer/lists_new.html", **context), 400
    db.commit()
    return redirect(url_for("officer.list_page", lang=g.lang, list_id=target.id), code=303)


@bp.get("/<lang>/officer/lists/count")
@login_required
def lists_count():
    """The builder's live count as JSON (its script asks as the form changes)."""
    from flask_babel import format_decimal
    from flask_babel import gettext as _

    account = current_account()
    db = request_session()
    try:
        filters, authorities, shape = _form_definition(request.args, {})
        data = lists.count(lists.raw(db), account, filters, polygon=shape,
                           authorities=authorities or None)
    except BadRequest as exc:
        return jsonify({"error": {"status": 400, "code": "bad_request", "message": str(exc)}}), 400
    data["text"] = _("%(total)s premises on classification %(run)s.",
                     total=format_decimal(data["total"]), run=data["run"])
    return jsonify(data)


@bp.get("/<lang>/officer/lists/<list_id>")
@login_required
def list_page(list_id: str):
    account = current_account()
    db = request_session()
    target = lists.get_list(db, account, list_id)
    snap = lists.get_snapshot(target, request.args.get("snapshot"))
    try:
        page = max(1, int(request.args.get("page", "1")))
    except ValueError:
        raise BadRequest("page must be a whole number") from None
    sort = request.args.get("sort", "uprn")
    descending = request.args.get("order") == "desc"
    rows, total = lists.premises_page(db, snap, page=page, sort=sort, descending=descending)
    return render_template(
        "officer/list.html", account=account, target=lists.list_dict(db, target), snap=snap,
        counts=lists.summary(db, snap), rows=rows, total=total, page=page,
        pages=max(1, -(-total // lists.PAGE_SIZE)), sort=sort, order="desc" if descending else "asc",
        sorts=lists.SORTS,
        points_url=url_for("officer.list_points", lang=g.lang, list_id=target.id, snapshot=snap.id))


@bp.get("/<lang>/officer/lists/<list_id>/points.json")
@login_required
def list_points(list_id: str):
    """Every premises of a snapshot for the list page's map (the table shows one page)."""
    account = current_account()
    db = request_session()
    snap = lists.get_snapshot(lists.get_list(db, account, list_id), request.args.get("snapshot"))
    response = jsonify(lists.snapshot_points(db, snap))
    response.headers["Cache-Control"] = "private, max-age=300"
    return response


@bp.route("/<lang>/officer/lists/<list_id>/refresh", methods=["GET", "POST"])
@login_required
def list_refresh(list_id: str):
    account = current_account()
    db = request_session()
    target = lists.get_list(db, account, list_id)
    if request.method == "POST":
        require_change_rights(account)
        lists.refresh(db, target, accept=True, actor=account.email, by=account,
                      client=client_address(), limit=1)
        db.commit()
        return redirect(url_for("officer.list_page", lang=g.lang, list_id=target.id), code=303)
    changes = lists.refresh(db, target, accept=False, actor=account.email, lang=g.lang,
                            limit=500)
    db.rollback()
    return render_template("officer/list_refresh.html", account=account, target=target,
                           changes=changes)


@bp.get("/<lang>/officer/lists/<list_id>/export")
@login_required
def list_export(list_id: str):
    account = current_account()
    db = request_session()
    return _send_export(db, lists.get_list(db, account, list_id), account)


# -- target lists (API) -----------------------------------------------------------------------
#: query parameters of the list routes that are not filters
LIST_PARAMS = ("authority", "polygon", "run")


def _definition_from(values, *, multi: bool):
    """Filters, authorities, polygon and run from the query string (``multi``) or a JSON body."""
    from connectivity.officers.listfilters import ListFilters
    from connectivity.officers.polygons import polygon_from_geojson

    if multi:
        raw = {k: values.getlist(k) for k in values if k not in LIST_PARAMS}
        authorities = values.getlist("authority")
        polygon_text = values.get("polygon")
        try:
            polygon = json.loads(polygon_text) if polygon_text else None
        except ValueError:
            raise BadRequest("polygon must be a GeoJSON geometry (WGS84)") from None
        run = values.get("run") or None
    else:
        raw = values.get("filters") or {}
        if not isinstance(raw, dict):
            raise BadRequest("filters must be an object of filter names to values")
        authorities = values.get("authorities") or []
        if not isinstance(authorities, list):
            raise BadRequest("authorities must be a list of W06 codes")
        polygon = values.get("polygon")
        run = values.get("run") or None
    shape = polygon_from_geojson(polygon) if polygon else None
    return ListFilters.from_dict(raw), [str(a).upper() for a in authorities], shape, run


def _json_body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest("send a JSON object (Content-Type: application/json)")
    return body


@api.get("/lists")
@token_required
def api_lists():
    db = request_session()
    return jsonify({"lists": [lists.list_dict(db, t, with_summary=False)
                              for t in lists.visible_lists(db, g.account)]})


@api.post("/lists")
@token_required
def api_list_create():
    require_change_rights(g.account)
    body = _json_body()
    unknown = sorted(set(body) - {"name", "notes", "authorities", "filters", "polygon", "run"})
    if unknown:
        raise BadRequest(f"unknown field(s) {', '.join(unknown)}")
    filters, authorities, shape, run = _definition_from(body, multi=False)
    db = request_session()
    target = lists.create_list(db, name=str(body.get("name") or ""), owner=g.account,
                               by=g.account, filters=filters, polygon=shape,
                               authorities=authorities, notes=str(body.get("notes") or ""),
                               run=run, actor=g.account.email, client=client_address())
    data = lists.list_dict(db, target)
    db.commit()
    return jsonify(data), 201


@api.get("/lists/count")
@token_required
def api_list_count():
    """The live count: the premises a definition selects, by status and scheme."""
    filters, authorities, shape, run = _definition_from(request.args, multi=True)
    db = request_session()
    return jsonify(lists.count(lists.raw(db), g.account, filters, polygon=shape,
                               authorities=authorities or None, run=run))


@api.get("/lists/<list_id>")
@token_required
def api_list(list_id: str):
    db = request_session()
    return jsonify(lists.list_dict(db, lists.get_list(db, g.account, list_id)))


def _int_arg(name: str, default: int) -> int:
    try:
        return int(request.args.get(name, str(default)))
    except ValueError:
        raise BadRequest(f"{name} must be a whole number") from None


@api.get("/lists/<list_id>/premises")
@token_required
def api_list_premises(list_id: str):
    db = request_session()
    target = lists.get_list(db, g.account, list_id)
    snap = lists.get_snapshot(target, request.args.get("snapshot"))
    rows, total = lists.premises_page(
        db, snap, page=_int_arg("page", 1), per_page=_int_arg("per_page", lists.PAGE_SIZE),
        sort=request.args.get("sort", "uprn"), descending=request.args.get("order") == "desc")
    return jsonify({"list": target.id, "snapshot": snap.id, "run": snap.run_label,
                    "total": total, "premises": rows})


@api.get("/lists/<list_id>/refresh")
@token_required
def api_list_refresh(list_id: str):
    """What a refresh on the current classification would change (nothing is saved)."""
    db = request_session()
    target = lists.get_list(db, g.account, list_id)
    return jsonify(lists.refresh(db, target, accept=False, actor=g.account.email,
                                 lang=request.args.get("lang", "en"),
                                 limit=_int_arg("limit", 1000)))


@api.post("/lists/<list_id>/refresh")
@token_required
def api_list_refresh_accept(list_id: str):
    """Refresh on the current classification and keep the result as a new snapshot."""
    db = request_session()
    target = lists.get_list(db, g.account, list_id)
    require_change_rights(g.account)
    data = lists.refresh(db, target, accept=True, actor=g.account.email, by=g.account,
                         client=client_address(), limit=_int_arg("limit", 1000))
    db.commit()
    return jsonify(data)


EXPORT_TYPES = {"csv": "text/csv; charset=utf-8", "gpkg": "application/geopackage+sqlite3",
                "geojson": "application/geo+json"}


@api.get("/lists/<list_id>/export")
@token_required
def api_list_export(list_id: str):
    db = request_session()
    target = lists.get_list(db, g.account, list_id)
    return _send_export(db, target, g.account)


def _send_export(db, target, account):
    """A list's snapshot as a file (viewers too: a list holds no personal data); audited.
    A CSV carries its attribution and column descriptions in CSVW metadata, not in its rows:
    ``format=csv-metadata`` gives that file, and the CSV's ``Link: rel=describedby`` header
    points to it (how CSVW tools find it)."""
    import tempfile
    from pathlib import Path

    fmt = request.args.get("format", "csv")
    if fmt not in EXPORT_TYPES and fmt != "csv-metadata":
        raise BadRequest(f"unknown format {fmt!r}; expected csv, csv-metadata, gpkg or geojson")
    lang = request.args.get("lang") or g.get("lang") or "en"
    written = "csv" if fmt == "csv-metadata" else fmt
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", target.name).strip("-") or f"list-{target.id}"
    with tempfile.TemporaryDirectory(prefix="gapmap-list-") as folder:
        out = Path(folder) / f"{name}.{written}"
        lists.export_list(db, target, out, written, actor=account.email, by=account,
                          snapshot=request.args.get("snapshot"), lang=lang,
                          client=client_address())
        if fmt == "csv-metadata":
            out = out.with_name(f"{out.name}-metadata.json")
        data = out.read_bytes()
    db.commit()
    if fmt == "csv-metadata":
        return Response(data, mimetype="application/csvm+json", headers={
            "Content-Disposition": f'attachment; filename="{name}.csv-metadata.json"'})
    headers = {"Content-Disposition": f'attachment; filename="{name}.{fmt}"'}
    if fmt == "csv":
        args = {**request.args.to_dict(), "format": "csv-metadata"}
        headers["Link"] = (f'<{url_for(request.endpoint, **request.view_args, **args)}>; '
                           'rel="describedby"; type="application/csvm+json"')
    return Response(data, mimetype=EXPORT_TYPES[fmt], headers=headers)


# -- names in the reader's language -----------------------------------------------------------
def role_names() -> dict[str, str]:
    from flask_babel import gettext as _

    return {"admin": _("administrator"), "officer": _("officer"), "viewer": _("viewer (read-only)")}


def figure_names() -> dict[str, str]:
    from flask_babel import gettext as _

    return {"premises": _("Premises"), "below": _("Below 30 Mbit/s"),
            "possibly_below": _("Possibly below 30 Mbit/s"),
            "expected_below_30": _("Expected below 30 Mbit/s (the sum of the probabilities)"),
            "abc_eligible": _("Eligible for ABC"), "lbf_eligible": _("Eligible for LBF"),
            "uso_eligible": _("Eligible under the USO"), "planned_build": _("In a planned build")}


def report_status_names() -> dict[str, str]:
    from flask_babel import gettext as _

    return {"new": _("New"), "accepted": _("Accepted"), "rejected": _("Rejected")}


def address_in_lang(address_en: str | None, address_cy: str | None) -> str | None:
    """A premises' AddressBase address in the page's language: the Welsh-language one on a
    Welsh page when AddressBase gives one, else the English (and the reverse); None when
    neither is held (the page says so)."""
    if g.get("lang") == "cy":
        return address_cy or address_en or None
    return address_en or address_cy or None


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
        role_names=role_names, report_status_names=report_status_names, figure_names=figure_names,
        address_in_lang=address_in_lang,
        problem_names=report_texts, sign_in_texts=sign_in_texts)
