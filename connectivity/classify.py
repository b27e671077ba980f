"""Classification: every premises' best speed, the evidence it rests on, its status, and its
eligibility for each scheme; then statistics for every area. Set-based SQL only.

A run picks one release per source (the newest, or the newest on or before ``--release``),
builds ``gapmap.premises_class_<id>`` and ``gapmap.area_stats_<id>`` with CREATE TABLE AS, and
points the views ``gapmap.premises_class`` / ``gapmap.area_stats`` at them in the same
transaction. The rules (thresholds, evidence order, schemes) come from the rules file and are
stored with the run. See docs/classification.md.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

import psycopg

from .db import SCHEMA
from .errors import BadRequest, NotFound

EVIDENCE_SOURCES = ("correction", "ofcom-api", "bduk", "ofcom-coverage", "speed-raster")
#: sizes (edge length, metres) of the hexagon grids statistics are kept for
HEX_SIZES = (500, 2000, 8000)
BANDS = [("b_0_2", 0, 2), ("b_2_5", 2, 5), ("b_5_10", 5, 10), ("b_10_30", 10, 30),
         ("b_30_300", 30, 300), ("b_300", 300, None)]


def choose_releases(conn: psycopg.Connection, up_to: str | None) -> dict[str, tuple[int, str]]:
    """The release used per source: the newest, or the newest labelled on or before ``up_to``."""
    rows = conn.execute(
        f"""SELECT DISTINCT ON (source) source, id, label FROM {SCHEMA}.release
            WHERE source = ANY(%s) AND (%s::text IS NULL OR label <= %s)
            ORDER BY source, label DESC""",
        (list(EVIDENCE_SOURCES), up_to, up_to)).fetchall()
    return {source: (rid, label) for source, rid, label in rows}


def _raster_probability(rules: dict) -> str:
    steps = rules["evidence"]["raster_probability_below"]
    whens = " ".join(f"WHEN r_down < {float(s['below'])} THEN {float(s['probability'])}" for s in steps)
    return f"CASE {whens} ELSE 0 END"


def _evidence_case(rules: dict) -> str:
    conditions = {
        "correction": "s_source = 'correction'",
        "ofcom-api": "s_source = 'ofcom-api'",
        "bduk": "current_gigabit",
        "oa": "false",  # output-area counts need output-area polygons: not wired yet
        "postcode": "unable_30_pct IS NOT NULL",
        "speed-raster": "r_down IS NOT NULL",
    }
    whens = " ".join(f"WHEN {conditions[s]} THEN '{s}'" for s in rules["evidence"]["order"])
    return f"CASE {whens} ELSE 'none' END"


def classify(conn: psycopg.Connection, rules: dict, *, up_to: str | None = None,
             label: str | None = None) -> dict[str, Any]:
    """Run a classification in one transaction; ``conn`` must be in autocommit mode."""
    started = time.monotonic()
    started_at = dt.datetime.now(dt.UTC)
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('gapmap classify'))")
        conn.execute("SET LOCAL work_mem = '256MB'")
        releases = choose_releases(conn, up_to)
        if not conn.execute(f"SELECT EXISTS (SELECT 1 FROM {SCHEMA}.premises)").fetchone()[0]:
            raise BadRequest("no premises are loaded: load premises first "
                             "(connectivity load uprn ...)")
        run_label = label or max([lab for _, lab in releases.values()] or ["no-evidence"])
        if conn.execute(f"SELECT 1 FROM {SCHEMA}.classification_run WHERE label = %s",
                        (run_label,)).fetchone():
            raise BadRequest(f"a classification labelled {run_label!r} exists already",
                             "name this one with --label, or drop the old one with "
                             "`connectivity classify --drop LABEL`")
        synthetic = conn.execute(
            f"SELECT coalesce(bool_or(synthetic), false) FROM {SCHEMA}.release WHERE id = ANY(%s)",
            ([rid for rid, _ in releases.values()],)).fetchone()[0]
        run_id = conn.execute(
            f"""INSERT INTO {SCHEMA}.classification_run (label, releases, rules_version, rules,
                    synthetic, started_at) VALUES (%s, %s, %s, %s, %s, %s) RETURNING id""",
            (run_label, json.dumps({s: lab for s, (_, lab) in releases.items()}),
             rules["version"], json.dumps(rules), synthetic, started_at)).fetchone()[0]
        _build_premises(conn, run_id, releases, rules)
        _build_stats(conn, run_id)
        premises = conn.execute(f"SELECT count(*) FROM {SCHEMA}.premises_class_{run_id}").fetchone()[0]
        _make_current(conn, run_id)
        conn.execute(f"UPDATE {SCHEMA}.classification_run SET premises = %s, "
                     "finished_at = clock_timestamp() WHERE id = %s", (premises, run_id))
        summary = conn.execute(
            f"""SELECT status, count(*) FROM {SCHEMA}.premises_class_{run_id}
                GROUP BY status ORDER BY status""").fetchall()
        evidence = conn.execute(
            f"""SELECT evidence, count(*) FROM {SCHEMA}.premises_class_{run_id}
                GROUP BY evidence ORDER BY evidence""").fetchall()
    return {
        "run_id": run_id, "label": run_label, "premises": premises,
        "releases": {s: lab for s, (_, lab) in releases.items()},
        "rules_version": rules["version"], "status": dict(summary), "evidence": dict(evidence),
        "seconds": round(time.monotonic() - started, 2),
    }


def _build_premises(conn: psycopg.Connection, run_id: int, releases: dict, rules: dict) -> None:
    t = rules["thresholds"]
    sf, uso_d, uso_u = float(t["superfast_down"]), float(t["uso_down"]), float(t["uso_up"])
    strong = [releases[s][0] for s in ("correction", "ofcom-api") if s in releases]
    rid = {s: releases.get(s, (None, None)) for s in EVIDENCE_SOURCES}
    conn.execute(
        f"""CREATE TEMP TABLE c_strong ON COMMIT DROP AS
            SELECT DISTINCT ON (e.uprn) e.uprn, coalesce(e.max_down, 0) AS down,
                   coalesce(e.max_up, 0) AS up, r.source, r.label
            FROM {SCHEMA}.ev_premises_speed e JOIN {SCHEMA}.release r ON r.id = e.release_id
            WHERE e.release_id = ANY(%s)
            ORDER BY e.uprn, (r.source = 'correction') DESC""", (strong,))
    conn.execute("CREATE INDEX ON c_strong (uprn)")
    voucher = rules["schemes"]["voucher"]
    voucher_sql = ("'suspended_in_wales'" if voucher.get("suspended_in_wales") else
                   f"""CASE WHEN evidence = 'none' THEN 'no_evidence'
                            WHEN best_down < {float(voucher['max_down'])} AND NOT planned_build
                            THEN 'below_100_no_plan' ELSE 'not_eligible' END""")
    exclude_planned = "planned_build" if rules["schemes"]["lbf"].get("exclude_planned_builds", True) else "false"
    conn.execute(
        f"""CREATE TABLE {SCHEMA}.premises_class_{run_id} AS
        WITH base AS (
            SELECT p.uprn, coalesce(p.postcode, b.postcode) AS postcode,
                   s.down AS s_down, s.up AS s_up, s.source AS s_source, s.label AS s_label,
                   coalesce(b.current_gigabit, false) AS current_gigabit,
                   coalesce(b.future_gigabit, false) AS future_gigabit,
                   coalesce(b.gis, false) AS in_contract, b.subsidy_control_status,
                   b.gis_contract_name, b.gis_supplier, b.gis_final_coverage_date,
                   c.unable_30_pct, c.unable_decent_pct, c.pct_down_0_2, c.pct_down_2_5,
                   c.pct_down_5_10, c.pct_down_10_30, c.pct_down_30_300, c.pct_down_300,
                   r.max_down AS r_down
            FROM {SCHEMA}.premises p
            LEFT JOIN c_strong s ON s.uprn = p.uprn
            LEFT JOIN {SCHEMA}.ev_bduk b ON b.uprn = p.uprn AND b.release_id = %(bduk)s
            LEFT JOIN {SCHEMA}.ev_postcode_coverage c
                   ON c.postcode = coalesce(p.postcode, b.postcode) AND c.release_id = %(pc)s
                  AND NOT c.residential_only
            LEFT JOIN {SCHEMA}.ev_premises_speed r ON r.uprn = p.uprn AND r.release_id = %(raster)s
        ), decided AS (
            SELECT *, {_evidence_case(rules)} AS evidence,
                   future_gigabit OR in_contract AS planned_build
            FROM base
        ), pooled AS (
            -- Ofcom's postcode share covers every premises of the postcode; premises already
            -- settled by stronger evidence are taken out, and the rest share what is left.
            SELECT d.*,
              count(*) OVER pc AS pc_premises,
              count(*) FILTER (WHERE evidence IN ('correction', 'ofcom-api') AND s_down < {sf}) OVER pc
                AS pc_known_below,
              count(*) FILTER (WHERE evidence IN ('correction', 'ofcom-api')
                               AND (s_down < {uso_d} OR s_up < {uso_u})) OVER pc AS pc_known_uso,
              count(*) FILTER (WHERE evidence = 'postcode') OVER pc AS pc_open
            FROM decided d
            WINDOW pc AS (PARTITION BY postcode)
        ), measured AS (
            SELECT d.*,
              CASE evidence
                WHEN 'correction' THEN s_down WHEN 'ofcom-api' THEN s_down
                WHEN 'bduk' THEN {float(t["gigabit_down"])} WHEN 'speed-raster' THEN r_down END AS best_down,
              CASE evidence WHEN 'correction' THEN s_up WHEN 'ofcom-api' THEN s_up END AS best_up,
              CASE evidence
                WHEN 'correction' THEN s_label WHEN 'ofcom-api' THEN s_label
                WHEN 'bduk' THEN %(bduk_label)s WHEN 'postcode' THEN %(pc_label)s
                WHEN 'speed-raster' THEN %(raster_label)s END AS evidence_release,
              CASE
                WHEN evidence IN ('correction', 'ofcom-api') THEN (s_down < {sf})::int::real
                WHEN evidence = 'bduk' THEN 0
                WHEN evidence = 'postcode' THEN round(greatest(0, least(1,
                    (unable_30_pct / 100.0 * pc_premises - pc_known_below) / pc_open))::numeric, 4)::real
                WHEN evidence = 'speed-raster' THEN ({_raster_probability(rules)})::real
              END AS probability_below,
              CASE WHEN evidence = 'postcode' THEN round(greatest(0, least(1,
                    (unable_decent_pct / 100.0 * pc_premises - pc_known_uso) / pc_open))::numeric, 4)::real
              END AS probability_uso
            FROM pooled d
        ), statused AS (
            SELECT m.*,
              CASE
                WHEN evidence = 'none' THEN 'unknown'
                WHEN evidence = 'speed-raster' THEN 'possibly_below'
                WHEN probability_below >= 1 THEN 'below'
                WHEN probability_below <= 0 THEN 'above'
                ELSE 'possibly_below' END AS status,
              CASE
                WHEN evidence IN ('correction', 'ofcom-api') THEN s_down < {uso_d} OR s_up < {uso_u}
                WHEN evidence = 'bduk' THEN false
                WHEN evidence = 'postcode' AND probability_uso >= 1 THEN true
                WHEN evidence = 'postcode' AND probability_uso <= 0 THEN false
              END AS uso
            FROM measured m
        )
        SELECT uprn, postcode, status, probability_below, best_down, best_up,
          CASE
            WHEN best_down IS NOT NULL AND evidence <> 'speed-raster' THEN
              CASE WHEN best_down < 2 THEN '0<2' WHEN best_down < 5 THEN '2<5'
                   WHEN best_down < 10 THEN '5<10' WHEN best_down < 30 THEN '10<30'
                   WHEN best_down < 300 THEN '30<300' ELSE '>=300' END
            WHEN evidence = 'postcode' THEN
              CASE WHEN pct_down_0_2 >= 100 THEN '0<2' WHEN pct_down_2_5 >= 100 THEN '2<5'
                   WHEN pct_down_5_10 >= 100 THEN '5<10' WHEN pct_down_10_30 >= 100 THEN '10<30'
                   WHEN pct_down_30_300 >= 100 THEN '30<300' WHEN pct_down_300 >= 100 THEN '>=300'
              END
          END AS band,
          uso, probability_uso, evidence, evidence_release,
          subsidy_control_status AS gigabit_class, current_gigabit, future_gigabit,
          planned_build, gis_contract_name AS contract_name, gis_supplier AS supplier,
          gis_final_coverage_date AS final_coverage_date,
          CASE status WHEN 'below' THEN 'eligible' WHEN 'possibly_below' THEN 'possibly'
                      WHEN 'above' THEN 'not_eligible' ELSE 'unknown' END AS eligible_abc,
          CASE
            WHEN status = 'unknown' THEN 'no_evidence'
            WHEN status = 'below' AND evidence = 'postcode' THEN 'below_30_area'
            WHEN status = 'below' THEN 'below_30'
            WHEN status = 'possibly_below' AND evidence = 'speed-raster' THEN 'possibly_below_30_modelled'
            WHEN status = 'possibly_below' THEN 'possibly_below_30'
            WHEN evidence = 'bduk' THEN 'gigabit_available'
            WHEN evidence = 'postcode' THEN 'not_below_30_area'
            ELSE 'not_below_30' END AS abc_reason,
          CASE
            WHEN status = 'unknown' THEN 'unknown'
            WHEN status IN ('below', 'possibly_below') AND {exclude_planned} THEN 'not_eligible'
            WHEN status = 'below' THEN 'eligible'
            WHEN status = 'possibly_below' THEN 'possibly'
            ELSE 'not_eligible' END AS eligible_lbf,
          CASE
            WHEN status = 'unknown' THEN 'no_evidence'
            WHEN status IN ('below', 'possibly_below') AND {exclude_planned} THEN 'in_planned_build'
            WHEN status = 'below' THEN 'target'
            WHEN status = 'possibly_below' THEN 'possible_target'
            ELSE 'not_below_30' END AS lbf_reason,
          CASE WHEN uso THEN 'eligible' WHEN NOT uso THEN 'not_eligible'
               WHEN probability_uso > 0 THEN 'possibly' ELSE 'unknown' END AS eligible_uso,
          CASE
            WHEN uso AND evidence = 'postcode' THEN 'below_uso_area'
            WHEN uso THEN 'below_uso'
            WHEN NOT uso THEN 'decent_available'
            WHEN probability_uso > 0 THEN 'possibly_below_uso'
            ELSE 'no_evidence' END AS uso_reason,
          CASE WHEN {voucher_sql} = 'below_100_no_plan' THEN 'eligible' ELSE 'not_eligible' END
            AS eligible_voucher,
          {voucher_sql} AS voucher_reason
        FROM statused""",
        {"bduk": rid["bduk"][0], "pc": rid["ofcom-coverage"][0], "raster": rid["speed-raster"][0],
         "bduk_label": rid["bduk"][1], "pc_label": rid["ofcom-coverage"][1],
         "raster_label": rid["speed-raster"][1]})
    conn.execute(f"ALTER TABLE {SCHEMA}.premises_class_{run_id} ADD PRIMARY KEY (uprn)")
    conn.execute(f"CREATE INDEX ON {SCHEMA}.premises_class_{run_id} (postcode)")


def _membership(conn: psycopg.Connection) -> bool:
    """Bring ``gapmap.premises_area`` up to date; returns True when it had to be rebuilt."""
    state = conn.execute(
        f"""SELECT coalesce(string_agg(kind || ':' || last, ',' ORDER BY kind), '')
            FROM (SELECT kind, max(id)::text AS last FROM {SCHEMA}.load_run
                  WHERE status = 'succeeded' AND kind IN ('boundaries', 'uprn', 'premises')
                  GROUP BY kind) k""").fetchone()[0]
    built = conn.execute(f"SELECT built_for FROM {SCHEMA}.membership_state").fetchone()
    if built and built[0] == state:
        return False
    conn.execute(f"TRUNCATE {SCHEMA}.premises_area")
    conn.execute(
        f"""CREATE TEMP TABLE c_parts ON COMMIT DROP AS
            SELECT level, code, ST_Subdivide(geom, 128) AS geom FROM {SCHEMA}.area""")
    conn.execute("CREATE INDEX ON c_parts USING gist (geom)")
    conn.execute("ANALYZE c_parts")
    conn.execute(
        f"""INSERT INTO {SCHEMA}.premises_area (level, uprn, code)
            SELECT DISTINCT ON (a.level, p.uprn) a.level, p.uprn, a.code
            FROM {SCHEMA}.premises p JOIN c_parts a ON ST_Intersects(a.geom, p.geom)
            ORDER BY a.level, p.uprn, a.code""")
    for size in HEX_SIZES:
        conn.execute(
            f"""INSERT INTO {SCHEMA}.premises_area (level, uprn, code)
                SELECT DISTINCT ON (p.uprn) 'hex{size}', p.uprn, 'H{size}_' || h.i || '_' || h.j
                FROM (SELECT ST_Extent(geom)::geometry AS e FROM {SCHEMA}.premises) x,
                     LATERAL ST_HexagonGrid({size}, ST_SetSRID(x.e, 27700)) h
                JOIN {SCHEMA}.premises p ON ST_Intersects(h.geom, p.geom)
                ORDER BY p.uprn, h.i, h.j""")
        conn.execute(
            f"""INSERT INTO {SCHEMA}.hex_cell (size, code, geom)
                SELECT {size}, 'H{size}_' || h.i || '_' || h.j, h.geom
                FROM (SELECT ST_Extent(geom)::geometry AS e FROM {SCHEMA}.premises) x,
                     LATERAL ST_HexagonGrid({size}, ST_SetSRID(x.e, 27700)) h
                WHERE EXISTS (SELECT 1 FROM {SCHEMA}.premises_area m
                              WHERE m.level = 'hex{size}' AND m.code = 'H{size}_' || h.i || '_' || h.j)
                ON CONFLICT (code) DO NOTHING""")
    conn.execute(f"ANALYZE {SCHEMA}.premises_area")
    conn.execute(
        f"""INSERT INTO {SCHEMA}.membership_state (id, built_for) VALUES (1, %s)
            ON CONFLICT (id) DO UPDATE SET built_for = EXCLUDED.built_for, built_at = now()""",
        (state,))
    return True


def _build_stats(conn: psycopg.Connection, run_id: int) -> None:
    """Statistics per area for every loaded level, per postcode and per hexagon size."""
    _membership(conn)
    bands = ", ".join(f"count(*) FILTER (WHERE c.band = '{label}') AS {name}"
                      for name, label in [(n, lab) for n, lab in zip(
                          [b[0] for b in BANDS], ["0<2", "2<5", "5<10", "10<30", "30<300", ">=300"],
                          strict=True)])
    conn.execute(
        f"""CREATE TABLE {SCHEMA}.area_stats_{run_id} AS
            SELECT m.level, m.code, count(*) AS premises,
              count(*) FILTER (WHERE status = 'below') AS below,
              count(*) FILTER (WHERE status = 'possibly_below') AS possibly_below,
              count(*) FILTER (WHERE status = 'above') AS above,
              count(*) FILTER (WHERE status = 'unknown') AS unknown,
              round(sum(CASE WHEN status = 'below' THEN 1
                             WHEN status = 'possibly_below' THEN probability_below ELSE 0 END)::numeric, 2)::float8
                AS expected_below_30,
              percentile_cont(0.5) WITHIN GROUP (ORDER BY best_down)
                FILTER (WHERE evidence IN ('correction', 'ofcom-api')) AS median_down,
              {bands},
              count(*) FILTER (WHERE eligible_abc = 'eligible') AS abc_eligible,
              count(*) FILTER (WHERE eligible_abc = 'possibly') AS abc_possibly,
              count(*) FILTER (WHERE eligible_lbf = 'eligible') AS lbf_eligible,
              count(*) FILTER (WHERE eligible_lbf = 'possibly') AS lbf_possibly,
              count(*) FILTER (WHERE eligible_uso = 'eligible') AS uso_eligible,
              count(*) FILTER (WHERE eligible_uso = 'possibly') AS uso_possibly,
              count(*) FILTER (WHERE eligible_voucher = 'eligible') AS voucher_eligible,
              count(*) FILTER (WHERE planned_build) AS planned_build
            FROM (SELECT uprn, level, code FROM {SCHEMA}.premises_area
                  UNION ALL
                  SELECT uprn, 'postcode', postcode FROM {SCHEMA}.premises_class_{run_id}
                  WHERE postcode IS NOT NULL) m
            JOIN {SCHEMA}.premises_class_{run_id} c USING (uprn)
            GROUP BY m.level, m.code""")
    conn.execute(
        f"""ALTER TABLE {SCHEMA}.area_stats_{run_id}
              ADD COLUMN share_below real, ADD COLUMN wimd_rank integer,
              ADD PRIMARY KEY (level, code)""")
    conn.execute(
        f"""UPDATE {SCHEMA}.area_stats_{run_id} s SET
              share_below = CASE WHEN premises > 0 THEN expected_below_30 / premises END,
              wimd_rank = w.wimd_rank
            FROM (SELECT s2.level, s2.code, w.wimd_rank FROM {SCHEMA}.area_stats_{run_id} s2
                  LEFT JOIN {SCHEMA}.wimd w ON s2.level = 'lsoa' AND w.lsoa_code = s2.code) w
            WHERE w.level = s.level AND w.code = s.code""")


def _make_current(conn: psycopg.Connection, run_id: int) -> None:
    conn.execute(f"UPDATE {SCHEMA}.classification_run SET is_current = false WHERE is_current")
    conn.execute(f"UPDATE {SCHEMA}.classification_run SET is_current = true WHERE id = %s", (run_id,))
    conn.execute(f"DROP VIEW IF EXISTS {SCHEMA}.premises_class")
    conn.execute(f"DROP VIEW IF EXISTS {SCHEMA}.area_stats")
    conn.execute(f"CREATE VIEW {SCHEMA}.premises_class AS SELECT * FROM {SCHEMA}.premises_class_{run_id}")
    conn.execute(f"CREATE VIEW {SCHEMA}.area_stats AS SELECT * FROM {SCHEMA}.area_stats_{run_id}")


def run_by_label(conn: psycopg.Connection, label: str | None) -> tuple[int, str]:
    """The classification run called ``label`` (None: the current one)."""
    if label is None:
        row = conn.execute(f"SELECT id, label FROM {SCHEMA}.classification_run WHERE is_current").fetchone()
        if row is None:
            raise NotFound("nothing is classified yet", "run `connectivity classify`")
    else:
        row = conn.execute(f"SELECT id, label FROM {SCHEMA}.classification_run WHERE label = %s",
                           (label,)).fetchone()
        if row is None:
            raise NotFound(f"no classification run labelled {label!r}",
                           "list them with `connectivity classify --list`")
    return row[0], row[1]


def list_runs(conn: psycopg.Connection) -> list[dict]:
    rows = conn.execute(
        f"""SELECT id, label, releases, rules_version, premises, synthetic, started_at,
                   finished_at, is_current FROM {SCHEMA}.classification_run ORDER BY id""").fetchall()
    keys = ("id", "label", "releases", "rules_version", "premises", "synthetic", "started_at",
            "finished_at", "is_current")
    return [dict(zip(keys, r, strict=True)) for r in rows]
