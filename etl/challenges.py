"""Bulk challenge files: one challenge to the map per row (an authority's, a community
group's or a provider's list), loaded like any other source as ``connectivity load challenges``.

A CSV with a header (plain, .gz or .zip; UTF-8 with or without BOM, or Windows-1252; LF, CRLF or
CR), the columns found by name in any order::

    uprn,kind,claimed_down,claimed_up,test_dates,test_down,test_up,evidence_ref,date
    [,availability_reason][,easting,northing][,postcode][,note]

Every row becomes a ``gapmap.challenge`` in state ``submitted`` (origin ``bulk``, with its load run
and line) with its first ``gapmap.challenge_event``, or a reject naming file, line, column, value
and reason; the load writes one audit event. What is checked, and why: docs/etl.md, "Bulk
challenge files". Whether the evidence is enough (three speed tests on different days, say) is
the officer's screening (connectivity.officers.challenges), not the load's.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from connectivity.db import SCHEMA
from connectivity.errors import BadRequest, Forbidden, NotFound
from connectivity.officers import audit
from connectivity.officers.accounts import normalise_email
from connectivity.officers.audit import cli_actor
from connectivity.settings import SETTINGS
from connectivity.vocab import AVAILABILITY_REASONS, CHALLENGE_KINDS, OPEN_CHALLENGE_STATES

from .checks import (
    BAD_UPRN,
    MAX_UPRN,
    MISSING,
    ZERO,
    normalise_postcodes,
    reject_duplicates,
    reject_where,
)
from .columns import Field
from .reading import members
from .runs import Counts, LoadContext, Loader
from .staging import Column, Stage

KIND = "challenges"
AUDIT_ACTION = "challenges.load"  # one of connectivity.officers.audit.ACTIONS
MAX_SPEED = 10_000  # Mbit/s, as gapmap.challenge's CHECKs
MAX_EVIDENCE_REF = 200
MAX_NOTE = 2000
#: British National Grid box around Wales (metres, limits inside); a point must also lie in a
#: loaded Welsh authority when any are loaded
WALES_EASTINGS = (140_000, 370_000)
WALES_NORTHINGS = (160_000, 400_000)
#: kinds that say where the premises really is, so need a point
NEEDS_POINT = ("missing_premises", "wrong_location")
#: the kind whose premises is not on the map, so has no loaded UPRN
MISSING_PREMISES = "missing_premises"
SCREEN_DAYS_DEFAULT = next(s.default for s in SETTINGS if s.name == "challenge_screen_days")
STAGE = "stage_challenge"


def _opt(name: str, *aliases: str) -> Field:
    return Field(name, aliases or (name,), required=False)


COLUMNS = [
    Column(Field("uprn", ("uprn",)), "bigint"),
    Column(Field("kind", ("kind", "challenge_kind")), "text"),
    Column(Field("claimed_down", ("claimed_down",)), "float8"),
    Column(Field("claimed_up", ("claimed_up",)), "float8"),
    Column(Field("test_dates", ("test_dates",)), "text"),
    Column(Field("test_down", ("test_down",)), "text"),
    Column(Field("test_up", ("test_up",)), "text"),
    Column(Field("evidence_ref", ("evidence_ref",)), "text"),
    Column(Field("date", ("date", "observed_on")), "text"),
    Column(_opt("availability_reason"), "text"),
    Column(_opt("easting", "easting", "eastings", "x"), "float8"),
    Column(_opt("northing", "northing", "northings", "y"), "float8"),
    Column(_opt("postcode", "postcode", "pcds"), "text"),
    Column(_opt("note", "note", "notes"), "text"),
]
TEXT_COLUMNS = ("kind", "test_dates", "test_down", "test_up", "evidence_ref", "date",
                "availability_reason", "postcode")


def _codes(codes: Sequence[str]) -> str:
    return ", ".join(f"'{c}'" for c in codes)


def _code_sql(column: str) -> str:
    """A code as people type it: any case, spaces or hyphens for underscores."""
    return f"lower(replace(replace(btrim({column}), ' ', '_'), '-', '_'))"


#: helpers for the checks, in the load's own session (pg_temp): parse a date or a speed the way
#: the file must spell it (NULL when it does not), and find the first bad item of a test list
_FUNCTIONS = [
    """CREATE OR REPLACE FUNCTION pg_temp.iso_date(t text) RETURNS date LANGUAGE plpgsql
       IMMUTABLE AS $$
       BEGIN
           IF t IS NULL OR t !~ '^\\s*[0-9]{4}-[0-9]{2}-[0-9]{2}\\s*$' THEN RETURN NULL; END IF;
           RETURN btrim(t)::date;
       EXCEPTION WHEN others THEN RETURN NULL;
       END $$""",
    """CREATE OR REPLACE FUNCTION pg_temp.speed(t text) RETURNS float8 LANGUAGE plpgsql
       IMMUTABLE AS $$
       BEGIN
           IF t IS NULL OR t !~ '^\\s*[+-]?([0-9]+\\.?[0-9]*|\\.[0-9]+)([eE][+-]?[0-9]+)?\\s*$'
               THEN RETURN NULL; END IF;
           RETURN btrim(t)::float8;
       EXCEPTION WHEN others THEN RETURN NULL;  -- out of range (1e999)
       END $$""",
    """CREATE OR REPLACE FUNCTION pg_temp.bad_test_date(items text[]) RETURNS text
        LANGUAGE sql STABLE AS $$
        SELECT CASE WHEN btrim(e) = '' THEN format('test %s has no date', n)
                    WHEN pg_temp.iso_date(e) IS NULL
                        THEN format('test %s: %s is not a date (expected YYYY-MM-DD)', n,
                                    quote_literal(btrim(e)))
                    ELSE format('test %s: %s is in the future', n, btrim(e)) END
        FROM unnest(items) WITH ORDINALITY AS u(e, n)
        WHERE pg_temp.iso_date(e) IS NULL OR pg_temp.iso_date(e) > current_date
        ORDER BY n LIMIT 1 $$""",
    f"""CREATE OR REPLACE FUNCTION pg_temp.bad_test_speed(items text[]) RETURNS text
        LANGUAGE sql IMMUTABLE AS $$
        SELECT CASE WHEN btrim(e) = '' THEN format('test %s has no speed', n)
                    WHEN pg_temp.speed(e) IS NULL
                        THEN format('test %s: %s is not a number', n, quote_literal(btrim(e)))
                    ELSE format('test %s: %s is not a speed from 0 to {MAX_SPEED:,} Mbit/s', n,
                                btrim(e)) END
        FROM unnest(items) WITH ORDINALITY AS u(e, n)
        WHERE pg_temp.speed(e) IS NULL OR pg_temp.speed(e) NOT BETWEEN 0 AND {MAX_SPEED}
        ORDER BY n LIMIT 1 $$""",
]


class ChallengesLoader(Loader):
    kind = KIND
    describes = "bulk challenge file (CSV)"

    def check_options(self, paths: Sequence[Path], options: dict[str, Any]) -> dict[str, Any]:
        by = options.get("by")
        screen_days = options.get("screen_days")
        if screen_days is None:
            screen_days = SCREEN_DAYS_DEFAULT
        if isinstance(screen_days, bool) or not isinstance(screen_days, int) or screen_days < 1:
            raise BadRequest(f"--screen-days {screen_days!r}: expected a whole number of at "
                             "least 1")
        return {"by": normalise_email(by) if by else None, "screen_days": screen_days}

    def load(self, ctx: LoadContext, paths: Sequence[Path]) -> Counts:
        conn = ctx.conn
        filer = _filer(ctx)
        stage = Stage(ctx, STAGE, COLUMNS)
        read = sum(stage.load(i, m) for i, m in
                   enumerate(m for p in paths for m in members(p, r"\.csv$")))
        if stage.careful_files:
            ctx.notes.append("read row by row (COPY refused the file): "
                             + "; ".join(stage.careful_files))
        for sql in _FUNCTIONS:
            conn.execute(sql)
        _check_rows(ctx)
        _check_against_database(ctx, filer)
        loaded = _publish(ctx, filer)
        ctx.rejects.flush()
        audit.record_sql(conn, AUDIT_ACTION, actor=filer["actor"], account_id=filer["id"],
                         object_type="load_run", object_id=ctx.run_id,
                         detail={"loaded": loaded, "rejected": ctx.rejects.count})
        return Counts(read, loaded)


def _filer(ctx: LoadContext) -> dict[str, Any]:
    """Who files the challenges: the ``--by`` account (which must exist, be enabled and not be a
    viewer), else the command line's user."""
    email = ctx.options.get("by")
    if not email:
        return {"id": None, "actor": cli_actor(), "email": None, "role": None}
    row = ctx.conn.execute(
        f"SELECT id, role, disabled_at FROM {SCHEMA}.account WHERE email = %s", (email,)
    ).fetchone()
    if row is None:
        raise NotFound(f"--by {email}: no such account",
                       "`connectivity users list` lists the accounts")
    account_id, role, disabled_at = row
    if disabled_at is not None:
        raise Forbidden(f"--by {email}: the account is disabled")
    if role == "viewer":
        raise Forbidden(f"--by {email}: a viewer cannot file challenges",
                        "file them as an officer or an admin")
    return {"id": account_id, "actor": email, "email": email, "role": role}


def _check_rows(ctx: LoadContext) -> None:
    """What a row must be on its own; each check rejects (and removes) the rows it catches,
    so a row gets one reject, for the first problem in this order."""
    conn, t = ctx.conn, STAGE
    conn.execute(f"UPDATE {t} SET " + ", ".join(
        f"{c} = nullif(btrim({c}), '')" for c in TEXT_COLUMNS))
    kinds = _codes(CHALLENGE_KINDS.codes)
    reject_where(ctx, t, f"kind IS NULL OR {_code_sql('kind')} NOT IN ({kinds})", "kind", "kind",
                 "CASE WHEN kind IS NULL THEN 'missing kind' ELSE 'unknown challenge kind; "
                 f"expected one of {', '.join(CHALLENGE_KINDS.codes)}' END")
    conn.execute(f"UPDATE {t} SET kind = {_code_sql('kind')} WHERE kind <> {_code_sql('kind')}")
    reject_where(ctx, t, f"(uprn IS NULL AND kind <> '{MISSING_PREMISES}') "
                 f"OR uprn <= 0 OR uprn > {MAX_UPRN}", "uprn", "uprn",
                 f"CASE WHEN uprn IS NULL THEN 'missing UPRN (only a {MISSING_PREMISES} "
                 f"challenge may have none)' ELSE '{BAD_UPRN}' END")
    reject_where(ctx, t, "pg_temp.iso_date(date) IS NULL OR pg_temp.iso_date(date) > current_date",
                 "date", "date",
                 "CASE WHEN date IS NULL THEN 'missing date (the day the problem was observed, "
                 "YYYY-MM-DD)' WHEN pg_temp.iso_date(date) IS NULL THEN 'not a date (expected "
                 "YYYY-MM-DD)' ELSE 'the date is in the future' END")
    for column in ("claimed_down", "claimed_up"):
        reject_where(ctx, t, f"{column} NOT BETWEEN 0 AND {MAX_SPEED}", column, column,
                     f"'a speed must be from 0 to {MAX_SPEED:,} Mbit/s'")
    # the speed tests: three lists, item i of each is test i
    conn.execute(f"""ALTER TABLE {t} ADD COLUMN t_dates text[], ADD COLUMN t_down text[],
                                     ADD COLUMN t_up text[]""")
    conn.execute(f"""UPDATE {t} SET t_dates = string_to_array(test_dates, ';'),
                                    t_down = string_to_array(test_down, ';'),
                                    t_up = string_to_array(test_up, ';')
                     WHERE test_dates IS NOT NULL OR test_down IS NOT NULL OR test_up IS NOT NULL""")
    n = {c: f"coalesce(cardinality({c}), 0)" for c in ("t_dates", "t_down", "t_up")}
    reject_where(ctx, t, f"NOT ({n['t_dates']} = {n['t_down']} AND {n['t_down']} = {n['t_up']})",
                 "test_dates/test_down/test_up",
                 "coalesce(test_dates, '') || ' | ' || coalesce(test_down, '') || ' | ' "
                 "|| coalesce(test_up, '')",
                 f"'the speed test lists differ in length: ' || {n['t_dates']} || ' dates, ' || "
                 f"{n['t_down']} || ' download and ' || {n['t_up']} || ' upload speeds'")
    for column, items, check in (("test_dates", "t_dates", "bad_test_date"),
                                 ("test_down", "t_down", "bad_test_speed"),
                                 ("test_up", "t_up", "bad_test_speed")):
        reject_where(ctx, t, f"{items} IS NOT NULL AND pg_temp.{check}({items}) IS NOT NULL",
                     column, column, f"pg_temp.{check}({items})")
    for column, most in (("evidence_ref", MAX_EVIDENCE_REF), ("note", MAX_NOTE)):
        reject_where(ctx, t, f"length({column}) > {most}", column, column,
                     f"'longer than {most:,} characters (' || length({column}) || ')'")
    reasons = _codes(AVAILABILITY_REASONS.codes)
    reject_where(ctx, t, f"(availability_reason IS NULL AND kind = 'availability') OR "
                 f"{_code_sql('availability_reason')} NOT IN ({reasons})",
                 "availability_reason", "availability_reason",
                 "CASE WHEN availability_reason IS NULL THEN 'an availability challenge needs "
                 f"an availability_reason: one of {', '.join(AVAILABILITY_REASONS.codes)}' ELSE "
                 "'unknown availability reason; expected one of "
                 f"{', '.join(AVAILABILITY_REASONS.codes)}' END")
    conn.execute(f"UPDATE {t} SET availability_reason = {_code_sql('availability_reason')} "
                 f"WHERE availability_reason <> {_code_sql('availability_reason')}")
    _check_point(ctx)
    normalise_postcodes(ctx, t)


def _check_point(ctx: LoadContext) -> None:
    """Easting and northing (British National Grid): both or neither, and needed where the
    kind says where the premises really is; inside Wales."""
    t = STAGE
    xy = "coalesce(easting::text, '') || ',' || coalesce(northing::text, '')"
    needs = _codes(NEEDS_POINT)
    reject_where(ctx, t, f"(easting IS NULL) <> (northing IS NULL) OR "
                 f"(easting IS NULL AND kind IN ({needs}))", "easting/northing",
                 f"CASE WHEN easting IS NULL AND northing IS NULL THEN NULL ELSE {xy} END",
                 f"CASE WHEN easting IS NULL AND northing IS NULL THEN '{MISSING}: a ' || kind "
                 f"|| ' challenge needs easting and northing (British National Grid metres)' "
                 f"ELSE '{MISSING}: give both easting and northing' END")
    reject_where(ctx, t, "easting = 0 AND northing = 0", "easting/northing", xy, f"'{ZERO}'")
    box = (f"easting BETWEEN {WALES_EASTINGS[0]} AND {WALES_EASTINGS[1]} AND northing BETWEEN "
           f"{WALES_NORTHINGS[0]} AND {WALES_NORTHINGS[1]}")
    reject_where(ctx, t, f"easting IS NOT NULL AND NOT ({box})", "easting/northing", xy,
                 f"'outside Wales (British National Grid eastings {WALES_EASTINGS[0]:,}-"
                 f"{WALES_EASTINGS[1]:,}, northings {WALES_NORTHINGS[0]:,}-"
                 f"{WALES_NORTHINGS[1]:,})'")
    ctx.conn.execute(f"ALTER TABLE {t} ADD COLUMN geom geometry(Point, 27700)")
    ctx.conn.execute(f"UPDATE {t} SET geom = ST_SetSRID(ST_MakePoint(easting, northing), 27700) "
                     "WHERE easting IS NOT NULL")
    welsh = f"FROM {SCHEMA}.area a WHERE a.level = 'la' AND left(a.code, 1) = 'W'"
    if ctx.conn.execute(f"SELECT EXISTS (SELECT 1 {welsh})").fetchone()[0]:
        reject_where(ctx, t, f"geom IS NOT NULL AND NOT EXISTS (SELECT 1 {welsh} "
                     f"AND ST_Intersects(a.geom, {t}.geom))", "easting/northing", xy,
                     "'not inside any loaded Welsh local authority'")


def _check_against_database(ctx: LoadContext, filer: dict[str, Any]) -> None:
    """Duplicates in the file, the premises (loaded, or not for a missing one), its authority
    and the filer's scope, and challenges of the same kind still open."""
    conn, t = ctx.conn, STAGE
    reject_duplicates(ctx, t, ["coalesce(uprn::text, easting || ',' || northing)", "kind"],
                      "challenge (the same premises and kind)", "uprn/kind",
                      "coalesce(uprn::text, easting || ',' || northing) || ' ' || kind")
    premises = f"SELECT 1 FROM {SCHEMA}.premises p WHERE p.uprn = {t}.uprn"
    reject_where(ctx, t, f"kind <> '{MISSING_PREMISES}' AND NOT EXISTS ({premises})", "uprn",
                 "uprn", "'unknown UPRN: no such premises is loaded'")
    reject_where(ctx, t, f"kind = '{MISSING_PREMISES}' AND uprn IS NOT NULL AND EXISTS "
                 f"({premises})", "uprn", "uprn",
                 "'the premises is already on the map (a loaded UPRN): a missing_premises "
                 "challenge is for one that is not; wrong_location moves one'")
    # the authority: where the classification placed the premises, else where it lies, else
    # where the file's point is (on a line between two, the lowest code, as membership does)
    def authority_of(point: str) -> str:
        return (f"(SELECT a.code FROM {SCHEMA}.area a WHERE a.level = 'la' AND "
                f"ST_Intersects(a.geom, {point}) ORDER BY a.code LIMIT 1)")
    conn.execute(f"ALTER TABLE {t} ADD COLUMN la_code text")
    conn.execute(
        f"""UPDATE {t} s SET la_code = coalesce(
                (SELECT m.la FROM {SCHEMA}.premises_place m WHERE m.uprn = s.uprn),
                (SELECT {authority_of('p.geom')} FROM {SCHEMA}.premises p WHERE p.uprn = s.uprn),
                {authority_of('s.geom')})""")
    if filer["id"] is not None:
        mine = f"SELECT gapmap.account_authorities({int(filer['id'])})"
        orphan = " AND la_code IS NOT NULL" if filer["role"] == "admin" else ""
        for column, value, where in (("uprn", "uprn", "uprn IS NOT NULL"),
                                     ("easting/northing", "easting || ',' || northing",
                                      "uprn IS NULL")):
            reject_where(ctx, t, f"{where} AND ((la_code IS NULL{orphan}) OR "
                         f"la_code NOT IN ({mine}))", column, value,
                         f"'outside the authorities of {filer['email']}: ' || coalesce("
                         "'the premises is in ' || la_code, 'no authority found for it')")
    open_states = _codes(OPEN_CHALLENGE_STATES)
    same = (f"SELECT min(c.id) FROM {SCHEMA}.challenge c WHERE c.kind = {t}.kind AND c.state IN "
            f"({open_states}) AND CASE WHEN {t}.uprn IS NOT NULL THEN c.uprn = {t}.uprn ELSE "
            f"c.uprn IS NULL AND ST_DWithin(c.geom, {t}.geom, 1) END")
    reject_where(ctx, t, f"({same}) IS NOT NULL", "uprn/kind",
                 "coalesce(uprn::text, easting || ',' || northing) || ' ' || kind",
                 f"'already challenged: challenge ' || ({same}) || ' is open'")


def _publish(ctx: LoadContext, filer: dict[str, Any]) -> int:
    conn, t = ctx.conn, STAGE
    classified = conn.execute(
        f"SELECT to_regclass('{SCHEMA}.premises_class') IS NOT NULL").fetchone()[0]
    class_postcode = (f"(SELECT c.postcode FROM {SCHEMA}.premises_class c WHERE c.uprn = s.uprn "
                      "LIMIT 1), " if classified else "")
    tests = ("(SELECT coalesce(jsonb_agg(jsonb_build_object('date', pg_temp.iso_date(d)::text, "
             "'down', pg_temp.speed(dn), 'up', pg_temp.speed(u)) ORDER BY n), '[]'::jsonb) "
             "FROM unnest(s.t_dates, s.t_down, s.t_up) WITH ORDINALITY AS x(d, dn, u, n))")
    loaded = conn.execute(
        f"""INSERT INTO {SCHEMA}.challenge (kind, origin, load_run_id, source_line, filed_by,
                uprn, postcode, la_code, geom, availability_reason, claimed_down, claimed_up,
                tests, evidence_ref, observed_on, note, lang, state, due_at)
            SELECT s.kind, 'bulk', %(run)s, s.line, %(filer)s, s.uprn,
                coalesce(s.postcode, {class_postcode}
                         (SELECT p.postcode FROM {SCHEMA}.premises p WHERE p.uprn = s.uprn)),
                s.la_code, s.geom, s.availability_reason, s.claimed_down, s.claimed_up,
                {tests}, s.evidence_ref, pg_temp.iso_date(s.date), s.note, 'en', 'submitted',
                now() + make_interval(days => %(days)s)
            FROM {t} s ORDER BY s.file_no, s.line""",
        {"run": ctx.run_id, "filer": filer["id"], "days": ctx.options["screen_days"]}).rowcount
    conn.execute(
        f"""INSERT INTO {SCHEMA}.challenge_event (challenge_id, account_id, actor, from_state,
                to_state)
            SELECT id, %s, %s, NULL, 'submitted' FROM {SCHEMA}.challenge
            WHERE load_run_id = %s ORDER BY id""",
        (filer["id"], filer["actor"], ctx.run_id))
    return loaded
