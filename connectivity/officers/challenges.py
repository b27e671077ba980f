"""Challenges to the map as officers handle them: filed, screened, decided, every transition
recorded (``gapmap.challenge_event`` and the audit log), scoped to the officer's authorities.

States (connectivity.vocab.CHALLENGE_STATES)::

    submitted --accept--> accepted --uphold--> upheld
        |                    |------reject---> rejected
        |--screen out--> screened_out          |
        '------------------------moot----------'--> moot

Each transition carries a reason code (vocab.CHALLENGE_REASONS, which says what the filer is
told in their language) and may carry the officer's own message. An upheld challenge is a
correction; ``etl/corrections.py`` publishes the corrections in force as a release the next
classification reads. Design and reasons: docs/challenges.md.
"""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Text, func, literal, select, text
from sqlalchemy.orm import Session

from ..db import SCHEMA
from ..errors import BadRequest, Forbidden, NotFound
from ..settings import Settings
from ..vocab import (
    AVAILABILITY_REASONS,
    CHALLENGE_KINDS,
    CHALLENGE_REASONS,
    CHALLENGE_STATES,
    CHALLENGE_TRANSITIONS,
    OPEN_CHALLENGE_STATES,
)
from . import audit
from .models import Account, Challenge, ChallengeEvent, CorrectionConflict, Report
from .scope import get_scoped, in_scope, scoped

PAGE_SIZE = 25
MAX_SPEED = 10000.0
#: kinds whose correction is a speed: an upheld one must say the speeds really available
SPEED_KINDS = ("availability", "speed")
#: premises added by a correction get a reference above every real UPRN (at most 12 digits)
PROVISIONAL_BASE = 900_000_000_000_000
#: the authority a premises is in (one %s or :uprn): where the classification placed it
AUTHORITY_OF_UPRN = f"(SELECT m.la FROM {SCHEMA}.premises_place m WHERE m.uprn = :uprn)"
AUTHORITY_OF_POINT = (f"(SELECT a.code FROM {SCHEMA}.area a WHERE a.level = 'la' AND "
                      "ST_Intersects(a.geom, ST_SetSRID(ST_MakePoint(:x, :y), 27700)) "
                      "ORDER BY a.code LIMIT 1)")


def provisional_uprn(challenge_id: int) -> int:
    return PROVISIONAL_BASE + int(challenge_id)


# -- evidence ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class EvidenceCheck:
    """What a challenge's evidence amounts to, against the settings' rules."""

    tests: int
    days: int
    median_down: float | None
    median_up: float | None
    enough: bool
    problems: tuple[str, ...]  # reason codes of what is missing

    def as_dict(self) -> dict[str, Any]:
        return {"tests": self.tests, "days": self.days, "median_down": self.median_down,
                "median_up": self.median_up, "enough": self.enough,
                "problems": list(self.problems)}


def check_evidence(challenge: Challenge, settings: Settings) -> EvidenceCheck:
    """Speed: at least ``challenge_min_speed_tests`` tests on different days (the median is the
    measured speed). Availability: a reason and an evidence reference or note. Location kinds:
    a premises or a point. The rules are NTIA BEAD's and the FCC's (docs/challenges.md)."""
    tests = [t for t in (challenge.tests or []) if t.get("down") is not None]
    days = len({t.get("date") for t in tests})
    downs = [float(t["down"]) for t in tests]
    ups = [float(t["up"]) for t in tests if t.get("up") is not None]
    median_down = round(statistics.median(downs), 2) if downs else None
    median_up = round(statistics.median(ups), 2) if ups else None
    problems: list[str] = []
    if challenge.kind == "speed" and days < settings.challenge_min_speed_tests:
        problems.append("too_few_tests")
    if challenge.kind == "availability" and not (
            challenge.availability_reason and (challenge.evidence_ref or challenge.note)):
        problems.append("bare_assertion")
    if challenge.kind in ("missing_premises", "wrong_location") and challenge.geom is None:
        problems.append("premises_not_identified")
    if challenge.kind not in ("missing_premises",) and challenge.uprn is None:
        problems.append("premises_not_identified")
    return EvidenceCheck(len(tests), days, median_down, median_up, not problems, tuple(problems))


def parse_tests(dates: list[str], downs: list[Any], ups: list[Any]) -> list[dict[str, Any]]:
    """Speed tests from three parallel lists (a form's or a file's), checked."""
    if not len(dates) == len(downs) == len(ups):
        raise BadRequest("give a date, a download and an upload speed for every test")
    out = []
    for date, down, up in zip(dates, downs, ups, strict=True):
        if not (date or down or up):
            continue
        try:
            day = dt.date.fromisoformat(str(date).strip())
        except ValueError:
            raise BadRequest(f"test date {date!r} is not a date (YYYY-MM-DD)") from None
        if day > dt.date.today():
            raise BadRequest(f"test date {day} is in the future")
        out.append({"date": day.isoformat(), "down": _speed(down, "test download"),
                    "up": _speed(up, "test upload", optional=True)})
    return out


def _speed(value: Any, what: str, *, optional: bool = False) -> float | None:
    raw = "" if value is None else str(value).strip().replace(",", ".")
    if not raw:
        if optional:
            return None
        raise BadRequest(f"{what}: give a speed in Mbit/s")
    try:
        number = float(raw)
    except ValueError:
        raise BadRequest(f"{what}: {value!r} is not a number of Mbit/s") from None
    if not 0 <= number <= MAX_SPEED:  # also refuses NaN
        raise BadRequest(f"{what}: {number:g} is not between 0 and {MAX_SPEED:g} Mbit/s")
    return number


# -- reading ----------------------------------------------------------------------------------
def challenges_in_scope(session: Session, account: Account, *, state: str | None = None,
                        kind: str | None = None, overdue: bool = False, postcode: str | None = None,
                        page: int = 1, per_page: int = PAGE_SIZE) -> tuple[list[Challenge], int]:
    """The challenges ``account`` may see, oldest deadline first: (one page, the total).
    ``state`` may be a state code or ``open`` (submitted or accepted)."""
    if state is not None and state != "open":
        CHALLENGE_STATES.check(state)
    if kind is not None:
        CHALLENGE_KINDS.check(kind)
    if page < 1 or not 1 <= per_page <= 500:
        raise BadRequest("page must be at least 1 and per_page between 1 and 500")
    stmt = scoped(select(Challenge), Challenge.la_code, account)
    if state == "open":
        stmt = stmt.where(Challenge.state.in_(OPEN_CHALLENGE_STATES))
    elif state:
        stmt = stmt.where(Challenge.state == state)
    if kind:
        stmt = stmt.where(Challenge.kind == kind)
    if overdue:
        stmt = stmt.where(Challenge.state.in_(OPEN_CHALLENGE_STATES), Challenge.due_at < func.now())
    if postcode:
        stmt = stmt.where(Challenge.postcode == postcode)
    total = session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = session.scalars(stmt.order_by(Challenge.due_at, Challenge.id)
                           .limit(per_page).offset((page - 1) * per_page))
    return list(rows), int(total or 0)


def challenge_in_scope(session: Session, account: Account, challenge_id: Any) -> Challenge:
    return get_scoped(session, Challenge, challenge_id, account, "challenge")


def counts_in_scope(session: Session, account: Account) -> dict[str, int]:
    """Challenges per state in scope, and how many open ones are overdue."""
    stmt = scoped(select(Challenge.state, func.count()), Challenge.la_code, account) \
        .group_by(Challenge.state)
    counts = {code: 0 for code in CHALLENGE_STATES.codes}
    counts.update({state: n for state, n in session.execute(stmt)})
    counts["overdue"] = int(session.scalar(
        scoped(select(func.count()).select_from(Challenge), Challenge.la_code, account)
        .where(Challenge.state.in_(OPEN_CHALLENGE_STATES), Challenge.due_at < func.now())) or 0)
    return counts


def is_overdue(challenge: Challenge, now: dt.datetime | None = None) -> bool:
    now = now or dt.datetime.now(dt.UTC)
    return challenge.state in OPEN_CHALLENGE_STATES and challenge.due_at < now


def challenge_dict(challenge: Challenge, account: Account | None = None,
                   settings: Settings | None = None) -> dict[str, Any]:
    """A challenge for the API and the CLI (no resident's contact detail: that stays on the
    report, for roles that may see it)."""
    point = None
    if challenge.geom is not None:
        from geoalchemy2.shape import to_shape
        shape = to_shape(challenge.geom)
        point = [round(shape.x, 1), round(shape.y, 1)]
    row = {
        "id": challenge.id, "created_at": challenge.created_at, "kind": challenge.kind,
        "origin": challenge.origin, "report_id": challenge.report_id,
        "load_run_id": challenge.load_run_id, "source_line": challenge.source_line,
        "filed_by": challenge.filer.email if challenge.filer else None,
        "uprn": challenge.uprn, "postcode": challenge.postcode, "la_code": challenge.la_code,
        "point_27700": point, "availability_reason": challenge.availability_reason,
        "claimed_down": challenge.claimed_down, "claimed_up": challenge.claimed_up,
        "tests": challenge.tests, "evidence_ref": challenge.evidence_ref,
        "observed_on": challenge.observed_on, "note": challenge.note, "lang": challenge.lang,
        "state": challenge.state, "reason": challenge.reason, "message": challenge.message,
        "due_at": challenge.due_at, "overdue": is_overdue(challenge),
        "screened_at": challenge.screened_at, "decided_at": challenge.decided_at,
        "decided_by": challenge.decider.email if challenge.decider else None,
        "corrected_down": challenge.corrected_down, "corrected_up": challenge.corrected_up,
        "whole_building": challenge.whole_building, "valid_until": challenge.valid_until,
        "withdrawn_at": challenge.withdrawn_at,
        "history": [{"at": e.at, "actor": e.actor, "from": e.from_state, "to": e.to_state,
                     "reason": e.reason, "message": e.message} for e in challenge.events],
    }
    if settings is not None:
        row["evidence"] = check_evidence(challenge, settings).as_dict()
    return row


def premises_address(session: Session, uprn: int | None) -> dict[str, Any] | None:
    """The challenged premises' AddressBase record as gapmap.address holds it now (a challenge
    is handled against the premises as it is, not as a list once kept it): its English and
    Welsh addresses, parent UPRN, class code and kind; None when no AddressBase load holds the
    UPRN. Officers only (the public pages show addresses only with ``public_addresses``)."""
    if uprn is None:
        return None
    row = session.execute(text(
        f"""SELECT address_en, address_cy, parent_uprn, class_code, kind
            FROM {SCHEMA}.address WHERE uprn = :uprn"""), {"uprn": uprn}).mappings().first()
    return dict(row) if row is not None else None


def neighbours(session: Session, challenge: Challenge) -> dict[str, int]:
    """Other challenges and reports in the same postcode ("4 neighbours report the same")."""
    if not challenge.postcode:
        return {"challenges": 0, "same_kind": 0, "reports": 0}
    row = session.execute(text(
        f"""SELECT count(*), count(*) FILTER (WHERE kind = :kind)
            FROM {SCHEMA}.challenge WHERE postcode = :pc AND id <> :id
              AND state NOT IN ('screened_out', 'rejected')"""),
        {"pc": challenge.postcode, "id": challenge.id, "kind": challenge.kind}).one()
    reports = session.scalar(select(func.count()).select_from(Report).where(
        Report.postcode == challenge.postcode, Report.id != (challenge.report_id or 0)))
    return {"challenges": int(row[0]), "same_kind": int(row[1]), "reports": int(reports or 0)}


def building(session: Session, challenge: Challenge, settings: Settings) -> dict[str, Any]:
    """The building the premises is in (every premises at the same point: flats), how many of its
    units have challenges of the same kind that are not rejected, and whether that escalates the
    building: at least ``challenge_building_units`` units or ``challenge_building_percent`` of
    them (and more than one unit)."""
    if challenge.uprn is None:
        return {"units": 0, "challenged": 0, "escalates": False, "uprns": []}
    rows = session.execute(text(
        f"""SELECT o.uprn, EXISTS (SELECT 1 FROM {SCHEMA}.challenge c WHERE c.uprn = o.uprn
                                   AND c.kind = :kind
                                   AND c.state NOT IN ('screened_out', 'rejected'))
            FROM {SCHEMA}.premises p JOIN {SCHEMA}.premises o ON o.geom = p.geom
            WHERE p.uprn = :uprn ORDER BY o.uprn"""),
        {"uprn": challenge.uprn, "kind": challenge.kind}).all()
    units, challenged = len(rows), sum(1 for _, c in rows if c)
    escalates = units > 1 and (challenged >= settings.challenge_building_units
                               or 100.0 * challenged / units >= settings.challenge_building_percent)
    return {"units": units, "challenged": challenged, "escalates": escalates,
            "uprns": [u for u, _ in rows]}


# -- filing -----------------------------------------------------------------------------------
def _due(session: Session, days: int) -> dt.datetime:
    return session.execute(text("SELECT now() + make_interval(days => :d)"), {"d": days}).scalar_one()


def _event(session: Session, challenge: Challenge, account: Account | None, actor: str,
           from_state: str | None, to_state: str, reason: str | None = None,
           message: str | None = None) -> None:
    session.add(ChallengeEvent(challenge_id=challenge.id, account_id=account.id if account else None,
                               actor=actor, from_state=from_state, to_state=to_state, reason=reason,
                               message=message))


def file_challenge(session: Session, account: Account, settings: Settings, *, kind: str,
                   uprn: int | None = None, point: tuple[float, float] | None = None,
                   availability_reason: str | None = None, claimed_down: Any = None,
                   claimed_up: Any = None, tests: list[dict[str, Any]] | None = None,
                   evidence_ref: str | None = None, observed_on: dt.date | None = None,
                   note: str | None = None, actor: str | None = None,
                   client: str | None = None) -> Challenge:
    """An officer files a challenge about a premises in their authorities (or a missing one at
    ``point``, British National Grid metres). Audited."""
    if not account.may_change:
        raise Forbidden("viewers cannot file challenges")
    CHALLENGE_KINDS.check(kind)
    if availability_reason:
        AVAILABILITY_REASONS.check(availability_reason)
    if kind in ("missing_premises", "wrong_location") and point is None:
        raise BadRequest("place the premises on the map: a missing or misplaced premises needs "
                         "its point")
    if kind != "missing_premises" and uprn is None:
        raise BadRequest("say which premises (its UPRN)")
    la_code = postcode = None
    if uprn is not None:
        found = session.execute(text(
            f"""SELECT coalesce((SELECT c.postcode FROM {SCHEMA}.premises_class c
                                 WHERE c.uprn = p.uprn), p.postcode), {AUTHORITY_OF_UPRN}
                FROM {SCHEMA}.premises p WHERE p.uprn = :uprn"""), {"uprn": uprn}).first()
        if found is None:
            raise NotFound(f"no premises with UPRN {uprn}")
        postcode, la_code = found
    if la_code is None and point is not None:
        la_code = session.execute(text(f"SELECT {AUTHORITY_OF_POINT}"),
                                  {"x": point[0], "y": point[1]}).scalar_one()
    if la_code is None or not session.scalar(select(in_scope(literal(la_code, Text()), account))):
        raise NotFound("that premises is not in your authorities")
    if uprn is not None:
        open_one = session.scalar(select(Challenge.id).where(
            Challenge.uprn == uprn, Challenge.kind == kind,
            Challenge.state.in_(OPEN_CHALLENGE_STATES)))
        if open_one:
            raise BadRequest(f"premises {uprn} already has an open {kind} challenge ({open_one})")
    words = (note or "").strip()
    if len(words) > 2000:
        raise BadRequest("the note is longer than 2000 characters")
    ref = (evidence_ref or "").strip()
    if len(ref) > 200:
        raise BadRequest("the evidence reference is longer than 200 characters")
    challenge = Challenge(
        kind=kind, origin="officer", filed_by=account.id, uprn=uprn, postcode=postcode,
        la_code=la_code,
        geom=(None if point is None else
              func.ST_SetSRID(func.ST_MakePoint(float(point[0]), float(point[1])), 27700)),
        availability_reason=availability_reason or None,
        claimed_down=_speed(claimed_down, "claimed download", optional=True),
        claimed_up=_speed(claimed_up, "claimed upload", optional=True), tests=tests or [],
        evidence_ref=ref or None, observed_on=observed_on, note=words or None, lang=account.lang,
        due_at=_due(session, settings.challenge_screen_days))
    session.add(challenge)
    session.flush()
    who = actor or account.email
    _event(session, challenge, account, who, None, "submitted")
    audit.record(session, "challenge.create", account=account, actor=who,
                 object_type="challenge", object_id=challenge.id,
                 detail={"kind": kind, "uprn": uprn, "la_code": la_code}, client=client)
    session.flush()
    session.refresh(challenge)
    return challenge


# -- transitions ------------------------------------------------------------------------------
def _transition(session: Session, challenge: Challenge, account: Account, to_state: str,
                reason: str, message: str | None, *, actor: str | None, client: str | None,
                detail: dict[str, Any] | None = None) -> None:
    if not account.may_change:
        raise Forbidden("viewers cannot change challenges")
    allowed = CHALLENGE_TRANSITIONS[challenge.state]
    if to_state not in allowed:
        raise BadRequest(
            f"challenge {challenge.id} is {challenge.state}: it cannot become {to_state}"
            + (f" (it can become: {', '.join(allowed)})" if allowed else " (it is closed)"))
    term = CHALLENGE_REASONS[CHALLENGE_REASONS.check(reason)]
    if term.state != to_state:
        fits = [r.code for r in CHALLENGE_REASONS if r.state == to_state]
        raise BadRequest(f"reason {reason!r} is not a reason to make a challenge {to_state}; "
                         f"use one of: {', '.join(fits)}")
    words = (message or "").strip() or None
    if words and len(words) > 2000:
        raise BadRequest("the message is longer than 2000 characters")
    before = challenge.state
    challenge.state, challenge.reason, challenge.message = to_state, reason, words
    who = actor or account.email
    _event(session, challenge, account, who, before, to_state, reason, words)
    audit.record(session, f"challenge.{to_state}", account=account, actor=who,
                 object_type="challenge", object_id=challenge.id,
                 detail={"from": before, "reason": reason, **(detail or {})}, client=client)
    if challenge.report_id is not None and to_state not in OPEN_CHALLENGE_STATES:
        # the resident's report closes with its challenge (retention counts from then)
        session.execute(text(f"UPDATE {SCHEMA}.report SET status = :s WHERE id = :id"),
                        {"s": "accepted" if to_state == "upheld" else "rejected",
                         "id": challenge.report_id})
    session.flush()


def screen(session: Session, challenge: Challenge, account: Account, settings: Settings, *,
           accept: bool, reason: str | None = None, message: str | None = None,
           kind: str | None = None, point: tuple[float, float] | None = None,
           actor: str | None = None, client: str | None = None) -> Challenge:
    """Accept a submitted challenge for review (its decision is then due in
    ``challenge_decide_days``) or screen it out for lack of evidence. The officer may correct its
    kind and place its point first (a resident's "other" report, a missing premises)."""
    if kind is not None and kind != challenge.kind:
        CHALLENGE_KINDS.check(kind)
        challenge.kind = kind
    if point is not None:
        challenge.geom = func.ST_SetSRID(func.ST_MakePoint(float(point[0]), float(point[1])), 27700)
        session.flush()
        session.refresh(challenge)
    if accept:
        reason = reason or "evidence_complete"
        challenge.due_at = _due(session, settings.challenge_decide_days)
    elif reason is None:
        problems = check_evidence(challenge, settings).problems
        reason = problems[0] if problems else "bare_assertion"
    challenge.screened_at = func.now()
    _transition(session, challenge, account, "accepted" if accept else "screened_out", reason,
                message, actor=actor, client=client,
                detail={"kind": challenge.kind} if kind else None)
    session.refresh(challenge)
    return challenge


def decide(session: Session, challenge: Challenge, account: Account, settings: Settings, *,
           outcome: str, reason: str | None = None, message: str | None = None,
           down: Any = None, up: Any = None, valid_until: dt.date | None = None,
           whole_building: bool = False, actor: str | None = None,
           client: str | None = None) -> Challenge:
    """Decide an accepted challenge: ``upheld`` (a correction: speed kinds need the speeds really
    available, ``down`` and ``up``), ``rejected`` or ``moot`` (moot also from submitted)."""
    if outcome not in ("upheld", "rejected", "moot"):
        raise BadRequest(f"outcome {outcome!r}: expected upheld, rejected or moot")
    reason = reason or {"upheld": "evidence_confirms", "rejected": "evidence_contradicts",
                        "moot": "already_corrected"}[outcome]
    detail: dict[str, Any] = {}
    if outcome == "upheld":
        if challenge.kind in SPEED_KINDS:
            challenge.corrected_down = _speed(down, "corrected download")
            challenge.corrected_up = _speed(up, "corrected upload")
            detail.update(down=challenge.corrected_down, up=challenge.corrected_up)
        elif down not in (None, "") or up not in (None, ""):
            if challenge.kind != "missing_premises":
                raise BadRequest(f"a {challenge.kind} correction carries no speeds")
            challenge.corrected_down = _speed(down, "corrected download")
            challenge.corrected_up = _speed(up, "corrected upload")
        if challenge.kind == "missing_premises":
            challenge.uprn = provisional_uprn(challenge.id)
            detail["added_as"] = challenge.uprn
        today = session.execute(text("SELECT current_date")).scalar_one()
        until = valid_until or _add_months(today, settings.correction_valid_months)
        if until < today:
            raise BadRequest(f"valid until {until} is in the past")
        challenge.valid_until = until
        detail["valid_until"] = until.isoformat()
        if whole_building:
            if challenge.kind not in SPEED_KINDS:
                raise BadRequest("only a speed or availability correction applies to a whole "
                                 "building")
            challenge.whole_building = True
            detail["whole_building"] = building(session, challenge, settings)["units"]
    challenge.decided_at = func.now()
    challenge.decided_by = account.id
    _transition(session, challenge, account, outcome, reason, message, actor=actor,
                client=client, detail=detail)
    session.refresh(challenge)
    return challenge


def _add_months(day: dt.date, months: int) -> dt.date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return dt.date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


# -- conflicts --------------------------------------------------------------------------------
def conflicts_in_scope(session: Session, account: Account, *,
                       open_only: bool = True) -> list[CorrectionConflict]:
    stmt = scoped(select(CorrectionConflict), CorrectionConflict.la_code, account)
    if open_only:
        stmt = stmt.where(CorrectionConflict.resolved_at.is_(None))
    return list(session.scalars(stmt.order_by(CorrectionConflict.found_at, CorrectionConflict.id)))


def resolve_conflict(session: Session, conflict_id: Any, account: Account, *, resolution: str,
                     actor: str | None = None, client: str | None = None) -> CorrectionConflict:
    """``keep_correction`` (the correction stays in force) or ``accept_release`` (the correction
    is withdrawn: the next publication leaves it out). Audited."""
    if not account.may_change:
        raise Forbidden("viewers cannot resolve conflicts")
    if resolution not in ("keep_correction", "accept_release"):
        raise BadRequest("resolution: keep_correction or accept_release")
    conflict = get_scoped(session, CorrectionConflict, conflict_id, account, "conflict")
    if conflict.resolved_at is not None:
        raise BadRequest(f"conflict {conflict.id} was resolved already ({conflict.resolution})")
    conflict.resolved_at, conflict.resolved_by, conflict.resolution = \
        func.now(), account.id, resolution
    if resolution == "accept_release":
        conflict.challenge.withdrawn_at = func.now()
    audit.record(session, "conflict.resolve", account=account, actor=actor or account.email,
                 object_type="challenge", object_id=conflict.challenge_id,
                 detail={"conflict": conflict.id, "resolution": resolution,
                         "release": f"{conflict.source} {conflict.release}"}, client=client)
    session.flush()
    session.refresh(conflict)
    return conflict


def conflict_dict(conflict: CorrectionConflict) -> dict[str, Any]:
    return {"id": conflict.id, "challenge_id": conflict.challenge_id, "uprn": conflict.uprn,
            "source": conflict.source, "release": conflict.release, "detail": conflict.detail,
            "la_code": conflict.la_code, "found_at": conflict.found_at,
            "resolved_at": conflict.resolved_at, "resolution": conflict.resolution}
