"""Residents' reports that the map is wrong: checked, stored, listed for officers."""

from __future__ import annotations

from typing import Any

import psycopg

from . import runs
from .db import SCHEMA
from .errors import BadRequest, NotFound
from .postcodes import normalise_postcode

PROBLEMS = ("slower", "faster", "missing", "other")
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


def submit_report(conn: psycopg.Connection, *, postcode: str, uprn: str | int | None,
                  problem: str, measured_down: str | None = None, measured_up: str | None = None,
                  message: str | None = None, contact: str | None = None, lang: str = "en") -> int:
    """Check a report against the data and store it; returns its reference number (that of the
    earlier one when the same report came in the last day: repeats are not stored twice).
    Raises FieldError naming the first field that is wrong."""
    pc = normalise_postcode(postcode or "")
    if pc is None:
        raise FieldError("postcode", "bad_postcode", f"{postcode!r} is not a UK postcode")
    if not conn.execute(f"SELECT 1 FROM {SCHEMA}.postcode WHERE postcode = %s", (pc,)).fetchone():
        raise NotFound(f"postcode {pc} is not in the service's data (Welsh postcodes only)")
    if problem not in PROBLEMS:
        raise FieldError("problem", "choose_problem", "say what is wrong: " + ", ".join(PROBLEMS))
    chosen = None
    if uprn not in (None, ""):
        try:
            chosen = int(uprn)
        except (TypeError, ValueError):
            raise FieldError("uprn", "bad_uprn", "the premises must be a UPRN (a whole number)") from None
        # OS Open UPRN has no postcodes: the classification gives each premises its postcode
        known = conn.execute(
            f"""SELECT coalesce((SELECT c.postcode FROM {SCHEMA}.premises_class c WHERE c.uprn = p.uprn),
                                p.postcode)
                FROM {SCHEMA}.premises p WHERE p.uprn = %s""", (chosen,)).fetchone()
        if known is None or known[0] != pc:
            raise FieldError("uprn", "not_here", f"UPRN {chosen} is not a premises of {pc}")
    down = _speed(measured_down, "measured_down")
    up = _speed(measured_up, "measured_up")
    text = (message or "").strip()
    if len(text) > MAX_MESSAGE:
        raise FieldError("message", "too_long", f"the message is longer than {MAX_MESSAGE} characters")
    if problem == "other" and not text:
        raise FieldError("message", "say_more", "say what is wrong in the message")
    who = (contact or "").strip()
    if len(who) > MAX_CONTACT:
        raise FieldError("contact", "too_long", f"the contact is longer than {MAX_CONTACT} characters")
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
    if same:
        return same[0]
    run = runs.current(conn)
    return conn.execute(
        f"""INSERT INTO {SCHEMA}.report (postcode, uprn, problem, measured_down, measured_up,
                                         message, contact, lang, classification, la_code)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, ({AUTHORITY_OF_POSTCODE}))
            RETURNING id""",
        (pc, chosen, problem, down, up, text or None, who or None,
         lang if lang in ("en", "cy") else "en", run.label if run else None, pc, pc)).fetchone()[0]


def list_reports(conn: psycopg.Connection, status: str | None = "new") -> list[dict[str, Any]]:
    """Reports, oldest first (``status`` None: all)."""
    cur = conn.execute(
        f"""SELECT id, created_at, postcode, uprn, problem, measured_down, measured_up, message,
                   contact, lang, classification, status
            FROM {SCHEMA}.report WHERE %(status)s::text IS NULL OR status = %(status)s
            ORDER BY created_at, id""", {"status": status})
    names = [d.name for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
