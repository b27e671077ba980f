"""Challenges in the officers' workspace: the review queue, a challenge beside the premises'
current evidence, the screening and decision forms, filing a challenge, conflicts with newer
releases, and an admin's "publish the corrections and classify"; the same under
/api/v1/officer/challenges for scripts. Thin views over ``connectivity.officers.challenges``
(which scopes, checks and audits every transition). Routes are added to the officer
blueprints, so they share its sign-in, ``no-store`` and language handling; ``create_app``
imports this module before it registers them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import current_app, flash, g, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _

from connectivity.errors import BadRequest, GapmapError, NotFound
from connectivity.lookup import premises_detail
from connectivity.officers import audit
from connectivity.officers import challenges as ch
from connectivity.officers.models import CorrectionConflict
from connectivity.officers.reports import report_dict
from connectivity.officers.scope import get_scoped
from connectivity.vocab import (
    AVAILABILITY_REASONS,
    CHALLENGE_KINDS,
    CHALLENGE_ORIGINS,
    CHALLENGE_REASONS,
    CHALLENGE_STATES,
    CHALLENGE_TRANSITIONS,
    EVIDENCE,
)

from .auth import (
    current_account,
    login_required,
    require_change_rights,
    role_required,
    token_required,
)
from .officer import api, bp
from .pool import db_connection
from .security import client_address
from .workspace import request_session

#: speed-test rows on the filing form
TEST_ROWS = 5
#: British National Grid: what an easting and a northing may be
GRID = {"easting": (0.0, 700000.0), "northing": (0.0, 1300000.0)}
#: fields of the API's bodies that are text
TEXT_FIELDS = {"reason", "message", "kind", "outcome", "valid_until"}


def _settings():
    return current_app.config["GAPMAP_SETTINGS"]


# -- parsing ----------------------------------------------------------------------------------
def _filters(values) -> dict[str, Any]:
    """The queue's filters, the same names on the page and in the API."""
    state = values.get("state") or None
    if state == "all":
        state = None
    overdue = str(values.get("overdue", "")).lower() in ("1", "true", "on", "yes")
    try:
        page = int(values.get("page", "1"))
        per_page = int(values.get("per_page", str(ch.PAGE_SIZE)))
    except ValueError:
        raise BadRequest("page and per_page must be whole numbers") from None
    return {"state": state, "kind": values.get("kind") or None, "overdue": overdue,
            "page": page, "per_page": per_page}


def _number(raw: Any, what: str) -> float:
    try:
        return float(str(raw).strip().replace(",", "."))
    except ValueError:
        raise BadRequest(f"{what} {raw!r} is not a number") from None


def _point(easting: Any, northing: Any) -> tuple[float, float] | None:
    """A point in British National Grid metres, or None when neither is given."""
    blank = [v is None or str(v).strip() == "" for v in (easting, northing)]
    if all(blank):
        return None
    if any(blank):
        raise BadRequest("give both the easting and the northing (British National Grid metres)")
    point = (_number(easting, "easting"), _number(northing, "northing"))
    for (name, (low, high)), value in zip(GRID.items(), point, strict=True):
        if not low <= value <= high:  # also refuses NaN
            raise BadRequest(f"{name} {value:g} is outside Great Britain ({low:g} to {high:g} m)")
    return point


def _date(raw: Any, what: str) -> dt.date | None:
    text = "" if raw is None else str(raw).strip()
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise BadRequest(f"{what} {raw!r} is not a date (YYYY-MM-DD)") from None


def _uprn(raw: Any) -> int | None:
    text = "" if raw is None else str(raw).strip()
    if not text:
        return None
    if not (text.isascii() and text.isdigit()) or len(text) > 15:
        raise BadRequest(f"UPRN {raw!r} is not a UPRN (a whole number)")
    return int(text)


def _json_ready(value: Any) -> Any:
    """Dates and times as ISO 8601 (Flask would write HTTP dates)."""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    return value


def _after_upheld(account) -> dict | None:
    """With ``classify_after_decision``, publish the corrections and classify at once."""
    if not _settings().classify_after_decision:
        return None
    from etl.corrections import publish_and_classify

    return publish_and_classify(_settings(), actor=account.email, account_id=account.id)


# -- the review queue -------------------------------------------------------------------------
@bp.get("/<lang>/officer/challenges")
@login_required
def challenges_page():
    account = current_account()
    db = request_session()
    wanted = _filters(request.args)
    rows, total = ch.challenges_in_scope(db, account, **wanted)
    counts = ch.counts_in_scope(db, account)
    conflicts = len(ch.conflicts_in_scope(db, account))
    db.commit()
    per_page = wanted["per_page"]
    return render_template(
        "officer/challenges.html", account=account, rows=rows, total=total, counts=counts,
        conflicts=conflicts, filters=wanted, pages=max(1, -(-total // per_page)),
        overdue_ids={c.id for c in rows if ch.is_overdue(c)}, **_names())


def _names() -> dict[str, Any]:
    lang = g.get("lang", "en")
    return {"kind_names": CHALLENGE_KINDS.names(lang), "state_names": CHALLENGE_STATES.names(lang),
            "origin_names": CHALLENGE_ORIGINS.names(lang),
            "reason_names": CHALLENGE_REASONS.names(lang),
            "availability_names": AVAILABILITY_REASONS.names(lang),
            "evidence_names": EVIDENCE.names(lang), "states": CHALLENGE_STATES.codes,
            "kinds": CHALLENGE_KINDS.codes}


@bp.post("/<lang>/officer/challenges/publish")
@role_required("admin")
def challenges_publish():
    """Publish the corrections in force as a correction release and classify with them."""
    from etl.corrections import publish_and_classify

    account = current_account()
    result = publish_and_classify(_settings(), actor=account.email, account_id=account.id)
    flash(_publish_message(result))
    return redirect(url_for("officer.challenges_page", lang=g.lang), code=303)


def _publish_message(result: dict) -> str:
    published = result["publish"]
    run = result["classification"]["label"]
    if published["status"] == "succeeded":
        return _("Published correction release %(release)s (corrections in force: %(count)s). "
                 "The map now shows classification %(run)s.", release=published["release"],
                 count=published["corrections"], run=run)
    return _("No new corrections to publish. The map now shows classification %(run)s.", run=run)


# -- one challenge ----------------------------------------------------------------------------
def _premises_now(uprn: int | None) -> dict | None:
    """The premises as the public map shows it now (None: not on the current classification)."""
    if uprn is None:
        return None
    try:
        with db_connection() as conn:
            return premises_detail(conn, uprn, g.lang)
    except NotFound:
        return None


def _challenge_context(db, account, challenge) -> dict[str, Any]:
    settings = _settings()
    data = ch.challenge_dict(challenge, account, settings)
    report = None
    if challenge.report is not None:
        report = report_dict(challenge.report, account)  # the contact only for those who may
    allowed = CHALLENGE_TRANSITIONS[challenge.state]
    return {
        "account": account, "c": data, "report": report,
        "evidence": ch.check_evidence(challenge, settings),
        "neighbours": ch.neighbours(db, challenge), "building": ch.building(db, challenge, settings),
        "premises": _premises_now(challenge.uprn),
        "address": ch.premises_address(db, challenge.uprn),
        "may_screen": account.may_change and challenge.state == "submitted",
        "outcomes": [o for o in ("upheld", "rejected", "moot") if o in allowed]
        if account.may_change else [],
        "screen_reasons": [r.code for r in CHALLENGE_REASONS if r.state == "screened_out"],
        "decide_reasons": {o: [r.code for r in CHALLENGE_REASONS if r.state == o]
                           for o in ("upheld", "rejected", "moot")},
        "speed_kind": challenge.kind in ch.SPEED_KINDS,
        "min_tests": settings.challenge_min_speed_tests, **_names()}


def _show(db, account, challenge, *, error: str | None = None, values=None, status: int = 200):
    context = _challenge_context(db, account, challenge)
    audit.record(db, "challenge.view", account=account, client=client_address(),
                 object_type="challenge", object_id=challenge.id,
                 detail={"page": "officer.challenge_page",
                         "contact": bool(context["report"] and "contact" in context["report"])})
    db.commit()
    return render_template("officer/challenge.html", error=error, values=values or {},
                           **context), status


@bp.get("/<lang>/officer/challenges/<challenge_id>")
@login_required
def challenge_page(challenge_id: str):
    account = current_account()
    db = request_session()
    return _show(db, account, ch.challenge_in_scope(db, account, challenge_id))


def _change(challenge_id: str, apply) -> Any:
    """A form that changes a challenge: in scope first (404), then rights (403), then the
    change; a refused change shows the page again with what was wrong (400)."""
    account = current_account()
    db = request_session()
    challenge = ch.challenge_in_scope(db, account, challenge_id)
    require_change_rights(account)
    try:
        done = apply(db, account, challenge, request.form)
    except BadRequest as exc:
        db.rollback()
        challenge = ch.challenge_in_scope(db, account, challenge_id)
        return _show(db, account, challenge, error=str(exc), values=request.form, status=400)
    db.commit()
    flash(_("Challenge %(id)s is now: %(state)s.", id=challenge.id,
            state=CHALLENGE_STATES.name(challenge.state, g.lang)))
    if done == "upheld":
        try:
            result = _after_upheld(account)
        except GapmapError as exc:
            flash(_("The classification after the decision failed: %(error)s", error=exc.message))
        else:
            if result is not None:
                flash(_publish_message(result))
    return redirect(url_for("officer.challenge_page", lang=g.lang, challenge_id=challenge.id),
                    code=303)


def _screen_form(db, account, challenge, form) -> str:
    decision = form.get("decision")
    if decision not in ("accept", "screen_out"):
        raise BadRequest(_("Choose whether to accept the challenge for review or screen it out."))
    ch.screen(db, challenge, account, _settings(), accept=decision == "accept",
              reason=(form.get("reason") or None) if decision == "screen_out" else None,
              message=form.get("message"), kind=form.get("kind") or None,
              point=_point(form.get("easting"), form.get("northing")),
              actor=account.email, client=client_address())
    return challenge.state


def _decide_form(db, account, challenge, form) -> str:
    outcome = form.get("outcome")
    if outcome not in ("upheld", "rejected", "moot"):
        raise BadRequest(_("Choose a decision: upheld, rejected or no longer needed."))
    reason = form.get(f"reason_{outcome}") or form.get("reason") or None
    upheld = outcome == "upheld"
    ch.decide(db, challenge, account, _settings(), outcome=outcome, reason=reason,
              message=form.get("message"),
              down=form.get("down") if upheld else None, up=form.get("up") if upheld else None,
              valid_until=_date(form.get("valid_until"), "valid until") if upheld else None,
              whole_building=upheld and form.get("whole_building") == "on",
              actor=account.email, client=client_address())
    return challenge.state


@bp.post("/<lang>/officer/challenges/<challenge_id>/screen")
@login_required
def challenge_screen(challenge_id: str):
    return _change(challenge_id, _screen_form)


@bp.post("/<lang>/officer/challenges/<challenge_id>/decide")
@login_required
def challenge_decide(challenge_id: str):
    return _change(challenge_id, _decide_form)


# -- filing a challenge -----------------------------------------------------------------------
@bp.route("/<lang>/officer/challenges/new", methods=["GET", "POST"])
@login_required
def challenge_new():
    account = current_account()
    require_change_rights(account)
    values = request.form if request.method == "POST" else request.args
    error, status = None, 200
    if request.method == "POST":
        db = request_session()
        try:
            form = request.form
            challenge = ch.file_challenge(
                db, account, _settings(), kind=form.get("kind", ""), uprn=_uprn(form.get("uprn")),
                point=_point(form.get("easting"), form.get("northing")),
                availability_reason=form.get("availability_reason") or None,
                claimed_down=form.get("claimed_down"), claimed_up=form.get("claimed_up"),
                tests=ch.parse_tests(form.getlist("test_date"), form.getlist("test_down"),
                                     form.getlist("test_up")),
                evidence_ref=form.get("evidence_ref"),
                observed_on=_date(form.get("observed_on"), "observed on"),
                note=form.get("note"), actor=account.email, client=client_address())
        except (BadRequest, NotFound) as exc:
            db.rollback()
            error, status = str(exc), exc.http_status
        else:
            db.commit()
            flash(_("Challenge %(id)s is filed.", id=challenge.id))
            return redirect(url_for("officer.challenge_page", lang=g.lang,
                                    challenge_id=challenge.id), code=303)
    return render_template("officer/challenge_new.html", account=account, values=values,
                           error=error, rows=range(TEST_ROWS), **_names()), status


# -- conflicts --------------------------------------------------------------------------------
def _conflicts_page(account, *, error: str | None = None, status: int = 200):
    db = request_session()
    rows = ch.conflicts_in_scope(db, account)
    db.commit()
    return render_template("officer/conflicts.html", account=account, conflicts=rows,
                           error=error, winner=_settings().correction_conflict_winner,
                           **_names()), status


@bp.get("/<lang>/officer/conflicts")
@login_required
def conflicts_page():
    return _conflicts_page(current_account())


@bp.post("/<lang>/officer/conflicts/<conflict_id>/resolve")
@login_required
def conflict_resolve(conflict_id: str):
    account = current_account()
    db = request_session()
    conflict = get_scoped(db, CorrectionConflict, conflict_id, account, "conflict")
    require_change_rights(account)
    try:
        ch.resolve_conflict(db, conflict.id, account,
                            resolution=request.form.get("resolution", ""),
                            actor=account.email, client=client_address())
    except BadRequest as exc:
        db.rollback()
        return _conflicts_page(account, error=str(exc), status=400)
    db.commit()
    flash(_("Conflict %(id)s is resolved.", id=conflict.id))
    return redirect(url_for("officer.conflicts_page", lang=g.lang), code=303)


# -- API --------------------------------------------------------------------------------------
def _body(allowed: set[str]) -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest("send a JSON object (Content-Type: application/json)")
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise BadRequest(f"unknown field(s) {', '.join(unknown)}; expected "
                         + ", ".join(sorted(allowed)))
    for name in sorted(allowed & TEXT_FIELDS):
        if body.get(name) is not None and not isinstance(body[name], str):
            raise BadRequest(f"{name} must be a string")
    return body


def _api_challenge(db, account, challenge) -> dict:
    data = ch.challenge_dict(challenge, account, _settings())
    data["neighbours"] = ch.neighbours(db, challenge)
    data["building"] = ch.building(db, challenge, _settings())
    data["address"] = ch.premises_address(db, challenge.uprn)
    return _json_ready(data)


@api.get("/challenges")
@token_required
def api_challenges():
    db = request_session()
    wanted = _filters(request.args)
    rows, total = ch.challenges_in_scope(db, g.account, **wanted)
    data = {"challenges": [_json_ready(ch.challenge_dict(c, g.account, _settings()))
                           for c in rows],
            "total": total, "page": wanted["page"], "per_page": wanted["per_page"],
            "counts": ch.counts_in_scope(db, g.account)}
    db.commit()
    return jsonify(data)


@api.get("/challenges/<challenge_id>")
@token_required
def api_challenge(challenge_id: str):
    db = request_session()
    challenge = ch.challenge_in_scope(db, g.account, challenge_id)
    data = _api_challenge(db, g.account, challenge)
    audit.record(db, "challenge.view", account=g.account, client=client_address(),
                 object_type="challenge", object_id=challenge.id, detail={"route": request.path})
    db.commit()
    return jsonify(data)


def _api_change(challenge_id: str, allowed: set[str], apply):
    db = request_session()
    challenge = ch.challenge_in_scope(db, g.account, challenge_id)
    require_change_rights(g.account)
    body = _body(allowed)
    apply(db, challenge, body)
    data = _api_challenge(db, g.account, challenge)
    db.commit()
    if challenge.state == "upheld":
        result = _after_upheld(g.account)
        if result is not None:
            data["classification"] = result["classification"]["label"]
    return jsonify(data)


@api.post("/challenges/<challenge_id>/screen")
@token_required
def api_challenge_screen(challenge_id: str):
    """``{"accept": true}`` or ``{"accept": false, "reason": "too_few_tests"}``; also
    ``message``, ``kind`` and ``point`` ([easting, northing], British National Grid)."""
    def apply(db, challenge, body):
        if not isinstance(body.get("accept"), bool):
            raise BadRequest("accept: true (accept for review) or false (screen out)")
        point = body.get("point")
        if point is not None and not (isinstance(point, list) and len(point) == 2):
            raise BadRequest("point: [easting, northing] in British National Grid metres")
        ch.screen(db, challenge, g.account, _settings(), accept=body["accept"],
                  reason=body.get("reason"), message=body.get("message"), kind=body.get("kind"),
                  point=_point(*point) if point else None, actor=g.account.email,
                  client=client_address())

    return _api_change(challenge_id, {"accept", "reason", "message", "kind", "point"}, apply)


@api.post("/challenges/<challenge_id>/decide")
@token_required
def api_challenge_decide(challenge_id: str):
    """``{"outcome": "upheld", "down": 4.5, "up": 0.5}`` (also ``reason``, ``message``,
    ``valid_until``, ``whole_building``), or ``rejected`` / ``moot`` with a ``reason``."""
    def apply(db, challenge, body):
        if body.get("outcome") not in ("upheld", "rejected", "moot"):
            raise BadRequest("outcome: upheld, rejected or moot")
        whole = body.get("whole_building", False)
        if not isinstance(whole, bool):
            raise BadRequest("whole_building: true or false")
        ch.decide(db, challenge, g.account, _settings(), outcome=body["outcome"],
                  reason=body.get("reason"), message=body.get("message"), down=body.get("down"),
                  up=body.get("up"), valid_until=_date(body.get("valid_until"), "valid_until"),
                  whole_building=whole, actor=g.account.email, client=client_address())

    return _api_change(challenge_id, {"outcome", "reason", "message", "down", "up",
                                      "valid_until", "whole_building"}, apply)
