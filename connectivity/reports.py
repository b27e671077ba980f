"""Residents' reports that the map is wrong: checked, stored, listed for officers."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

import psycopg

from . import runs
from .db import SCHEMA
from .errors import BadRequest, NotFound
from .postcodes import normalise_postcode

PROBLEMS = ("slower", "faster", "unavailable", "missing", "other")
#: the challenge a report becomes ("other" is most often "I cannot get it": the officer can
#: change the kind while screening)
KIND_OF_PROBLEM = {"slower": "speed", "faster": "speed", "unavailable": "availability",
                   "missing": "missing_premises", "other": "availability"}
MAX_MESSAGE = 2000
MAX_CONTACT = 200
MAX_SPEED = 10000.0
#: the authority a report belongs to, for scoping: as the postcode's source publishes it, else
#: the authority its centroid falls in (two %s: the postcode, twice)
AUTHORITY_OF_POSTCODE = f"""coalesce(
    (SELECT p.la_code FROM {SCHEMA}.postcode p WHERE p.postcode = %s AND p.la_code ~ '^W06'),
    (SELECT a.code FROM {SCHEMA}.area a JOIN {SCHEMA}.postcode p ON ST_Intersects(a.geom, p.geom)
     WHERE a.level = 'la' AND p.postcode = %s ORDER BY a.code LIMIT 1))"""


class FieldError(BadRequest):
    """A form field that cannot be accepted: ``field`` names it, ``reason`` says why (a short
    code the web form turns into a sentence in the reader's language)."""

    def __init__(self, field: str, reason: str, message: str):
        super().__init__(message)
        self.field, self.reason = field, reason


class FieldErrors(FieldError):
    """Every field of a form that cannot be accepted, in the form's order (``errors``); it is
    also the first of them, so ``except FieldError`` sees the first field that is wrong."""

    def __init__(self, errors: list[FieldError]):
        first = errors[0]
        super().__init__(first.field, first.reason, "; ".join(e.message for e in errors))
        self.errors = list(errors)


def _speed(raw: str | None, field: str) -> float | None:
    text = (raw or "").strip().replace(",", ".")
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise FieldError(field, "not_a_number", f"{field} must be a number of Mbit/s, e.g. 7.5") from None
    if not 0 <= value <= MAX_SPEED:
        raise FieldError(field, "out_of_range", f"{field} must be between 0 and {MAX_SPEED:.0f} Mbit/s")
    return value


@dataclass(frozen=True)
class Submitted:
    """A stored report: its reference, and the token of the resident's private status link
    (shown once; only its SHA-256 is kept)."""

    ref: int
    token: str


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def submit_report(conn: psycopg.Connection, *, postcode: str, uprn: str | int | None,
                  problem: str, measured_down: str | None = None, measured_up: str | None = None,
                  message: str | None = None, contact: str | None = None, lang: str = "en",
                  screen_days: int = 10) -> Submitted:
    """Check a report against the data and store it with the challenge it becomes (in state
    submitted, to be screened within ``screen_days``); returns its reference (that of the
    earlier one when the same report came in the last day: repeats are not stored twice) and a
    new status token. Raises FieldErrors naming every field that is wrong (the
    postcode alone first: a form for no postcode has nothing else to check)."""
    pc = normalise_postcode(postcode or "")
    if pc is None:
        raise FieldError("postcode", "bad_postcode", f"{postcode!r} is not a UK postcode")
    if not conn.execute(f"SELECT 1 FROM {SCHEMA}.postcode WHERE postcode = %s", (pc,)).fetchone():
        raise NotFound(f"postcode {pc} is not in the service's data (Welsh postcodes only)")
    errors: list[FieldError] = []
    if problem not in PROBLEMS:
        errors.append(FieldError("problem", "choose_problem",
                                 "say what is wrong: " + ", ".join(PROBLEMS)))
    chosen = None
    if uprn not in (None, ""):
        try:
            chosen = int(uprn)
        except (TypeError, ValueError):
            errors.append(FieldError("uprn", "bad_uprn",
                                     "the premises must be a UPRN (a whole number)"))
        if chosen is not None and not 0 < chosen < 2**63:
            errors.append(FieldError("uprn", "not_here", f"UPRN {chosen} is not a premises of {pc}"))
        elif chosen is not None:
            # OS Open UPRN has no postcodes: the classification gives each premises its postcode
            known = conn.execute(
                f"""SELECT coalesce((SELECT c.postcode FROM {SCHEMA}.premises_class c
                                     WHERE c.uprn = p.uprn), p.postcode)
                    FROM {SCHEMA}.premises p WHERE p.uprn = %s""", (chosen,)).fetchone()
            if known is None or known[0] != pc:
                errors.append(FieldError("uprn", "not_here", f"UPRN {chosen} is not a premises of {pc}"))
    speeds: dict[str, float | None] = {}
    for field, raw in (("measured_down", measured_down), ("measured_up", measured_up)):
        try:
            speeds[field] = _speed(raw, field)
        except FieldError as exc:
            errors.append(exc)
    down, up = speeds.get("measured_down"), speeds.get("measured_up")
    text = (message or "").strip()
    if len(text) > MAX_MESSAGE:
        errors.append(FieldError("message", "too_long",
                                 f"the message is longer than {MAX_MESSAGE} characters"))
    elif problem == "other" and not text:
        errors.append(FieldError("message", "say_more", "say what is wrong in the message"))
    who = (contact or "").strip()
    if len(who) > MAX_CONTACT:
        errors.append(FieldError("contact", "too_long",
                                 f"the contact is longer than {MAX_CONTACT} characters"))
    if errors:
        raise FieldErrors(errors)
    # the same report again within a day (a double click, a reload, a retry) is the same report
    same = conn.execute(
        f"""SELECT id FROM {SCHEMA}.report
            WHERE postcode = %s AND uprn IS NOT DISTINCT FROM %s AND problem = %s
              AND measured_down IS NOT DISTINCT FROM %s::real
              AND measured_up IS NOT DISTINCT FROM %s::real
              AND message IS NOT DISTINCT FROM %s AND contact IS NOT DISTINCT FROM %s
              AND created_at > now() - interval '1 day'
            ORDER BY id LIMIT 1""",
        (pc, chosen, problem, down, up, text or None, who or None)).fetchone()
    token = secrets.token_urlsafe(24)
    with conn.transaction():
        if same:
            ref = same[0]
        else:
            ref = _store(conn, pc, chosen, problem, down, up, text, who, lang, screen_days)
        conn.execute(f"INSERT INTO {SCHEMA}.report_token (token_hash, report_id) VALUES (%s, %s)",
                     (_token_hash(token), ref))
    return Submitted(ref, token)


def _store(conn: psycopg.Connection, pc: str, uprn: int | None, problem: str, down, up,
           text: str, who: str, lang: str, screen_days: int) -> int:
    run = runs.current(conn)
    lang = lang if lang in ("en", "cy") else "en"
    ref = conn.execute(
        f"""INSERT INTO {SCHEMA}.report (postcode, uprn, problem, measured_down, measured_up,
                                         message, contact, lang, classification, la_code)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, ({AUTHORITY_OF_POSTCODE}))
            RETURNING id""",
        (pc, uprn, problem, down, up, text or None, who or None,
         lang, run.label if run else None, pc, pc)).fetchone()[0]
    # The challenge it becomes. A missing premises is placed at the postcode's centroid until
    # an officer places it; a measured speed is one test, dated the day of the report. A report
    # that names no premises (the premises is optional on the form) cannot be a challenge about
    # one (the table's CHECK): it stays a report, which the officers read and may file a
    # challenge from.
    kind = KIND_OF_PROBLEM[problem]
    if uprn is None and kind != "missing_premises":
        return ref
    conn.execute(
        f"""INSERT INTO {SCHEMA}.challenge (kind, origin, report_id, uprn, postcode, la_code, geom,
                                            claimed_down, claimed_up, tests, note, lang, due_at)
            SELECT %(kind)s, 'report', r.id, r.uprn, r.postcode, r.la_code,
                   CASE WHEN %(kind)s = 'missing_premises' THEN p.geom END,
                   r.measured_down, r.measured_up,
                   CASE WHEN r.measured_down IS NULL THEN '[]'::jsonb
                        ELSE jsonb_build_array(jsonb_build_object(
                            'date', current_date, 'down', r.measured_down, 'up', r.measured_up))
                   END,
                   r.message, r.lang, now() + make_interval(days => %(days)s)
            FROM {SCHEMA}.report r JOIN {SCHEMA}.postcode p ON p.postcode = r.postcode
            WHERE r.id = %(ref)s""",
        {"kind": kind, "ref": ref, "days": screen_days})
    conn.execute(
        f"""INSERT INTO {SCHEMA}.challenge_event (challenge_id, actor, to_state)
            SELECT id, 'resident', 'submitted' FROM {SCHEMA}.challenge WHERE report_id = %s""",
        (ref,))
    return ref


def report_status(conn: psycopg.Connection, ref: Any, token: str | None) -> dict[str, Any] | None:
    """What the resident's private status link shows: the report and its challenge's state and
    message; None (show nothing) unless ``token`` is one issued for report ``ref``."""
    try:
        ref = int(ref)
    except (TypeError, ValueError):
        return None
    if not token or len(token) > 100 or not 0 < ref < 2**63:
        return None
    row = conn.execute(
        f"""SELECT r.id, r.created_at, r.postcode, r.uprn, r.problem, r.lang, c.kind, c.state,
                   c.reason, c.message, coalesce(c.decided_at, c.screened_at) AS changed_at,
                   array_agg(t.token_hash) AS hashes
            FROM {SCHEMA}.report r
            JOIN {SCHEMA}.report_token t ON t.report_id = r.id
            LEFT JOIN {SCHEMA}.challenge c ON c.report_id = r.id
            WHERE r.id = %s GROUP BY r.id, c.id""", (ref,)).fetchone()
    if row is None:
        return None
    wanted = _token_hash(token)
    if not any(hmac.compare_digest(wanted, h) for h in row[-1]):
        return None
    names = ("ref", "created_at", "postcode", "uprn", "problem", "lang", "kind", "state",
             "reason", "message", "changed_at")
    return dict(zip(names, row[:-1], strict=True))


def list_reports(conn: psycopg.Connection, status: str | None = "new") -> list[dict[str, Any]]:
    """Reports, oldest first (``status`` None: all)."""
    cur = conn.execute(
        f"""SELECT id, created_at, postcode, uprn, problem, measured_down, measured_up, message,
                   contact, lang, classification, status
            FROM {SCHEMA}.report WHERE %(status)s::text IS NULL OR status = %(status)s
            ORDER BY created_at, id""", {"status": status})
    names = [d.name for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
