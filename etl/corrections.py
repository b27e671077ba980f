"""Publishing corrections: the upheld challenges still in force become a release of source
``correction`` through the recorded load path.

:func:`publish` first lists the conflicts newer Ofcom and BDUK releases have with upheld
corrections (``gapmap.correction_conflict``), then writes every correction in force to a CSV file
(kept under ``<cache_dir>/corrections/``: what a release held can always be read again) and loads
that file like any source with :class:`CorrectionLoader` (hashed, fingerprinted, one transaction,
rejects with their reasons, rows read = loaded + rejected). The new release holds *all* the
corrections in force, so the newest release is the whole story and a withdrawn or expired
correction simply drops out. Loading:

* ``gapmap.ev_correction``: one row per premises and kind, with its provenance (challenge,
  officer, decision date, valid until);
* ``gapmap.ev_premises_speed``: the corrected speeds (the newest decision per premises), which
  the classification ranks first (evidence ``correction``);
* ``gapmap.premises``: missing premises added (a provisional reference above every real UPRN),
  misplaced ones moved; what an earlier release added or moved and this one no longer does is
  taken back. When premises change, the area membership is rebuilt by the next classification.

Non-premises are excluded, and slipped builds lose their planned-build flag, by the
classification itself (connectivity/classify.py). Design: docs/challenges.md.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psycopg

from connectivity.db import SCHEMA, connect
from connectivity.errors import InputError
from connectivity.officers import audit
from connectivity.officers.challenges import PROVISIONAL_BASE
from connectivity.rules import load_rules
from connectivity.settings import Settings
from connectivity.vocab import CHALLENGE_KINDS

from .runs import Counts, LoadContext, Loader, LoadResult, copy_rows, run_load, sha256_file

COLUMNS = ("challenge_id", "uprn", "kind", "max_down", "max_up", "easting", "northing",
           "postcode", "decided_by", "decided_at", "valid_until")

#: the corrections in force: upheld, not withdrawn, not expired, and (when releases win
#: conflicts) without an open conflict; a whole-building correction covers every premises at
#: the same point; per premises and kind the newest decision wins
IN_FORCE = f"""
    WITH c AS (
        SELECT ch.*, coalesce(a.email, 'unknown') AS decider
        FROM {SCHEMA}.challenge ch LEFT JOIN {SCHEMA}.account a ON a.id = ch.decided_by
        WHERE ch.state = 'upheld' AND ch.withdrawn_at IS NULL
          AND (ch.valid_until IS NULL OR ch.valid_until >= current_date)
          AND (%(winner)s = 'correction' OR NOT EXISTS (
                SELECT 1 FROM {SCHEMA}.correction_conflict k
                WHERE k.challenge_id = ch.id AND k.resolved_at IS NULL))
    )
    SELECT DISTINCT ON (u.uprn, c.kind)
           c.id, u.uprn, c.kind, c.corrected_down, c.corrected_up,
           round(ST_X(c.geom)::numeric, 2), round(ST_Y(c.geom)::numeric, 2),
           c.postcode, c.decider, c.decided_at, c.valid_until
    FROM c CROSS JOIN LATERAL (
        SELECT c.uprn WHERE NOT c.whole_building
        UNION
        SELECT o.uprn FROM {SCHEMA}.premises p JOIN {SCHEMA}.premises o ON o.geom = p.geom
        WHERE c.whole_building AND p.uprn = c.uprn
    ) u
    ORDER BY u.uprn, c.kind, c.decided_at DESC, c.id DESC"""


def corrections_in_force(conn: psycopg.Connection, winner: str) -> list[tuple]:
    return conn.execute(IN_FORCE, {"winner": winner}).fetchall()


def write_file(rows: Sequence[tuple], path: Path) -> Path:
    """The correction file: UTF-8 CSV, one row per premises and kind, sorted."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(COLUMNS)
        for row in rows:
            out.writerow(["" if v is None else
                          v.isoformat() if isinstance(v, dt.date | dt.datetime) else v
                          for v in row])
    return path


def find_conflicts(conn: psycopg.Connection, superfast: float) -> int:
    """List, once each, the disagreements between upheld corrections in force and premises-level
    releases loaded after the decision: an Ofcom premises prediction on the other side of the
    superfast line from the corrected speed; a BDUK release that still has a slipped build in a
    contract or plan. Returns how many new conflicts were found."""
    found = conn.execute(
        f"""WITH upheld AS (
                SELECT * FROM {SCHEMA}.challenge
                WHERE state = 'upheld' AND withdrawn_at IS NULL
                  AND (valid_until IS NULL OR valid_until >= current_date)
            ), newer AS (
                SELECT r.id, r.source, r.label, coalesce(l.finished_at, l.started_at) AS loaded_at
                FROM {SCHEMA}.release r JOIN {SCHEMA}.load_run l ON l.id = r.run_id
                WHERE r.source IN ('ofcom-api', 'bduk')
            ), speed AS (
                SELECT u.id, u.uprn, n.id AS release_id, n.source, n.label, u.la_code,
                       jsonb_build_object('corrected_down', u.corrected_down,
                                          'release_down', e.max_down,
                                          'line', %(sf)s::real) AS detail
                FROM upheld u
                JOIN newer n ON n.source = 'ofcom-api' AND n.loaded_at > u.decided_at
                JOIN {SCHEMA}.ev_premises_speed e ON e.release_id = n.id AND e.uprn = u.uprn
                WHERE u.kind IN ('speed', 'availability')
                  AND (coalesce(e.max_down, 0) >= %(sf)s) <> (u.corrected_down >= %(sf)s)
            ), build AS (
                SELECT u.id, u.uprn, n.id, n.source, n.label, u.la_code,
                       jsonb_build_object('contract', b.gis_contract_name,
                                          'final_coverage_date', b.gis_final_coverage_date,
                                          'future_gigabit', b.future_gigabit)
                FROM upheld u
                JOIN newer n ON n.source = 'bduk' AND n.loaded_at > u.decided_at
                JOIN {SCHEMA}.ev_bduk b ON b.release_id = n.id AND b.uprn = u.uprn
                WHERE u.kind = 'planned_build' AND (b.gis OR b.future_gigabit)
            )
            INSERT INTO {SCHEMA}.correction_conflict (challenge_id, uprn, release_id, source,
                                                      release, la_code, detail)
            SELECT * FROM (SELECT * FROM speed UNION ALL SELECT * FROM build) x
            ON CONFLICT (challenge_id, uprn, release_id) DO NOTHING""",
        {"sf": superfast})
    return found.rowcount or 0


def _number(text: str, column: str) -> float | None:
    if text == "":
        return None
    value = float(text)
    if not math.isfinite(value) or not 0 <= value <= 10000:
        raise ValueError(f"{column} must be between 0 and 10000")
    return value


class CorrectionLoader(Loader):
    """Loads a correction file written by :func:`write_file` (not a ``connectivity load`` kind:
    corrections come from decided challenges, through :func:`publish`)."""

    kind = "correction"
    describes = "corrections from upheld challenges"
    suffixes = (".csv",)

    def load(self, ctx: LoadContext, paths: Sequence[Path]) -> Counts:
        conn = ctx.conn
        read = loaded = 0
        conn.execute(
            """CREATE TEMP TABLE s_correction (challenge_id bigint, uprn bigint, kind text,
                   max_down real, max_up real, x float8, y float8, postcode text,
                   decided_by text, decided_at timestamptz, valid_until date, line bigint)
               ON COMMIT DROP""")
        staged = []
        for path in paths:
            with path.open(encoding="utf-8", newline="") as fh:
                reader = csv.reader(fh)
                header = next(reader, None)
                if header is None or tuple(header) != COLUMNS:
                    raise InputError(f"not a correction file: expected the columns "
                                     f"{', '.join(COLUMNS)}; found {', '.join(header or [])}",
                                     file=path.name)
                for line, row in enumerate(reader, start=2):
                    read += 1
                    record = dict(zip(COLUMNS, row, strict=False))
                    try:
                        if len(row) != len(COLUMNS):
                            raise ValueError(f"expected {len(COLUMNS)} fields, found {len(row)}")
                        CHALLENGE_KINDS.check(record["kind"])
                        staged.append((
                            int(record["challenge_id"]), int(record["uprn"]), record["kind"],
                            _number(record["max_down"], "max_down"),
                            _number(record["max_up"], "max_up"),
                            float(record["easting"]) if record["easting"] else None,
                            float(record["northing"]) if record["northing"] else None,
                            record["postcode"] or None, record["decided_by"],
                            dt.datetime.fromisoformat(record["decided_at"]),
                            dt.date.fromisoformat(record["valid_until"])
                            if record["valid_until"] else None, line))
                    except Exception as exc:  # every reason a row can fail is a reject
                        ctx.rejects.add(path.name, line, None, ",".join(row)[:200],
                                        str(exc).splitlines()[0])
        copy_rows(conn, "s_correction", ("challenge_id", "uprn", "kind", "max_down", "max_up",
                                          "x", "y", "postcode", "decided_by", "decided_at",
                                          "valid_until", "line"), staged)
        # a row must be an upheld challenge's (not one the file made up)
        bad = conn.execute(
            f"""SELECT s.line, s.challenge_id FROM s_correction s
                WHERE NOT EXISTS (SELECT 1 FROM {SCHEMA}.challenge c
                                  WHERE c.id = s.challenge_id AND c.state = 'upheld'
                                    AND c.kind = s.kind)""").fetchall()
        for line, cid in bad:
            ctx.rejects.add(paths[0].name, line, "challenge_id", cid,
                            "no upheld challenge of this kind has this id")
        conn.execute(f"""DELETE FROM s_correction s WHERE NOT EXISTS (
                             SELECT 1 FROM {SCHEMA}.challenge c WHERE c.id = s.challenge_id
                             AND c.state = 'upheld' AND c.kind = s.kind)""")
        # the day and a serial number: sorts after the month-labelled source releases of the
        # same month, so `classify --release 2026-11` leaves out December's corrections
        today = conn.execute("SELECT current_date::text").fetchone()[0]
        serial = conn.execute(
            f"""SELECT count(*) + 1 FROM {SCHEMA}.release
                WHERE source = 'correction' AND label LIKE %s""", (today + ".%",)).fetchone()[0]
        label = ctx.release or f"{today}.{serial:03d}"
        ctx.release = label
        previous = conn.execute(
            f"SELECT id FROM {SCHEMA}.release WHERE source = 'correction' ORDER BY label DESC "
            "LIMIT 1").fetchone()
        release_id = conn.execute(
            f"""INSERT INTO {SCHEMA}.release (source, label, published, run_id, synthetic)
                VALUES ('correction', %s, current_date, %s, false) RETURNING id""",
            (label, ctx.run_id)).fetchone()[0]
        loaded = conn.execute(
            f"""INSERT INTO {SCHEMA}.ev_correction (release_id, uprn, kind, challenge_id,
                    decided_by, decided_at, valid_until, max_down, max_up, geom, previous_geom,
                    postcode, added, excluded, no_planned_build)
                SELECT %(rel)s, s.uprn, s.kind, s.challenge_id, s.decided_by, s.decided_at,
                       s.valid_until, s.max_down, s.max_up,
                       CASE WHEN s.x IS NOT NULL THEN ST_SetSRID(ST_MakePoint(s.x, s.y), 27700) END,
                       CASE WHEN s.kind = 'wrong_location' THEN coalesce(
                           (SELECT o.previous_geom FROM {SCHEMA}.ev_correction o
                            WHERE o.release_id = %(prev)s AND o.uprn = s.uprn
                              AND o.kind = 'wrong_location'),
                           (SELECT p.geom FROM {SCHEMA}.premises p WHERE p.uprn = s.uprn)) END,
                       s.postcode, s.kind = 'missing_premises', s.kind = 'not_premises',
                       s.kind = 'planned_build'
                FROM s_correction s""",
            {"rel": release_id, "prev": previous[0] if previous else None}).rowcount
        conn.execute(
            f"""INSERT INTO {SCHEMA}.ev_premises_speed (release_id, uprn, max_down, max_up)
                SELECT DISTINCT ON (uprn) %s, uprn, max_down, max_up FROM s_correction
                WHERE max_down IS NOT NULL ORDER BY uprn, decided_at DESC""", (release_id,))
        changed = self._apply_to_premises(ctx, release_id, previous[0] if previous else None)
        if changed:
            ctx.notes.append(f"{changed} premises added, moved or restored: the next "
                             "classification rebuilds area membership")
            conn.execute(f"UPDATE {SCHEMA}.membership_state SET built_for = 'corrections'")
        return Counts(read, loaded)

    @staticmethod
    def _apply_to_premises(ctx: LoadContext, release_id: int, previous: int | None) -> int:
        conn = ctx.conn
        changed = conn.execute(
            f"""INSERT INTO {SCHEMA}.premises (uprn, geom, postcode, approximate, run_id)
                SELECT uprn, geom, postcode, false, %s FROM {SCHEMA}.ev_correction
                WHERE release_id = %s AND added
                ON CONFLICT (uprn) DO NOTHING""", (ctx.run_id, release_id)).rowcount
        changed += conn.execute(
            f"""UPDATE {SCHEMA}.premises p SET geom = x.geom
                FROM {SCHEMA}.ev_correction x
                WHERE x.release_id = %s AND x.kind = 'wrong_location' AND x.uprn = p.uprn
                  AND NOT ST_Equals(p.geom, x.geom)""", (release_id,)).rowcount
        # what is no longer corrected goes back: premises added by an earlier correction,
        # premises moved by the previous release
        changed += conn.execute(
            f"""DELETE FROM {SCHEMA}.premises p WHERE p.uprn >= %s
                AND NOT EXISTS (SELECT 1 FROM {SCHEMA}.ev_correction x
                                WHERE x.release_id = %s AND x.uprn = p.uprn AND x.added)""",
            (PROVISIONAL_BASE, release_id)).rowcount
        if previous is not None:
            changed += conn.execute(
                f"""UPDATE {SCHEMA}.premises p SET geom = o.previous_geom
                    FROM {SCHEMA}.ev_correction o
                    WHERE o.release_id = %s AND o.kind = 'wrong_location' AND o.uprn = p.uprn
                      AND o.previous_geom IS NOT NULL
                      AND NOT EXISTS (SELECT 1 FROM {SCHEMA}.ev_correction x
                                      WHERE x.release_id = %s AND x.uprn = o.uprn
                                        AND x.kind = 'wrong_location')""",
                (previous, release_id)).rowcount
        return changed


def publish(settings: Settings, *, actor: str, account_id: int | None = None,
            show_progress: bool = False) -> dict[str, Any]:
    """Find conflicts, write the corrections in force to a file and load it as a new correction
    release (skipped when it holds exactly what the newest one holds, or when there has never
    been a correction). Audited."""
    rules = load_rules(settings.rules_file)
    with connect(settings, autocommit=True, application_name="gapmap: publish corrections") as conn:
        with conn.transaction():
            conflicts = find_conflicts(conn, rules.thresholds.superfast_down)
            rows = corrections_in_force(conn, settings.correction_conflict_winner)
            newest = conn.execute(
                f"""SELECT r.label, l.files -> 0 ->> 'sha256' FROM {SCHEMA}.release r
                    LEFT JOIN {SCHEMA}.load_run l ON l.id = r.run_id
                    WHERE r.source = 'correction' ORDER BY r.label DESC LIMIT 1""").fetchone()
    if not rows and newest is None:
        return {"status": "skipped", "message": "no upheld corrections to publish",
                "corrections": 0, "conflicts_found": conflicts, "release": None,
                "run_id": None, "file": None}
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H%M%S%f")
    path = write_file(rows, Path(settings.cache_dir) / "corrections" / f"corrections-{stamp}.csv")
    if newest is not None and newest[1] == sha256_file(path):
        path.unlink()
        return {"status": "skipped", "corrections": len(rows), "conflicts_found": conflicts,
                "release": newest[0], "run_id": None, "file": None,
                "message": f"the newest correction release, {newest[0]}, holds these corrections"}
    # force: the same corrections may have been published before and withdrawn since; what
    # counts is whether the newest release holds them
    result: LoadResult = run_load(settings, CorrectionLoader(), [path], release=None,
                                  force=True, show_progress=show_progress)
    with connect(settings, autocommit=True, application_name="gapmap: publish corrections") as conn:
        audit.record_sql(conn, "corrections.publish", actor=actor, account_id=account_id,
                         object_type="load_run", object_id=result.run_id,
                         detail={"status": result.status, "release": result.release,
                                 "corrections": len(rows), "conflicts_found": conflicts,
                                 "file": path.name})
    out = result.as_dict()
    out.update(corrections=len(rows), conflicts_found=conflicts, file=str(path))
    return out



def publish_and_classify(settings: Settings, *, actor: str, account_id: int | None = None,
                         show_progress: bool = False) -> dict[str, Any]:
    """:func:`publish`, then a classification with the rules in force (what an admin starts from
    the workspace, what ``classify_after_decision`` runs after an upheld decision, and what
    ``connectivity challenges publish --classify`` runs from cron). The classification is
    labelled after the correction release it uses, or, when the corrections did not change,
    with the time (labels are unique). Audited as ``classification.run``."""
    from connectivity.classify import classify
    from connectivity.runs import exists

    published = publish(settings, actor=actor, account_id=account_id,
                        show_progress=show_progress)
    rules = load_rules(settings.rules_file)
    with connect(settings, autocommit=True, application_name="gapmap: classify after corrections") as conn:
        label = published.get("release")
        if label is None or exists(conn, label):
            label = "run-" + dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H%M%S.%f")
        result = classify(conn, rules, label=label)
        audit.record_sql(conn, "classification.run", actor=actor, account_id=account_id,
                         object_type="classification", object_id=result["label"],
                         detail={"premises": result["premises"], "releases": result["releases"],
                                 "seconds": result["seconds"]})
    return {"publish": published, "classification": result}
