"""Classification: every premises' best speed, the evidence it rests on, its status, and its
eligibility for each scheme; then statistics for every area. Set-based SQL only.

A run picks one release per source (the newest, or the newest on or before ``--release``),
builds ``gapmap.premises_class_<id>`` and ``gapmap.area_stats_<id>`` with CREATE TABLE AS, and
points the views ``gapmap.premises_class`` / ``gapmap.area_stats`` at them in the same
transaction. The rules (thresholds, evidence order, schemes: a :class:`~connectivity.rules.Rules`)
come from the rules file and are stored with the run (connectivity/runs.py). See
docs/classification.md.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from typing import Any

import psycopg

from . import runs
from .db import SCHEMA
from .errors import BadRequest
from .rules import Rules
from .vocab import AREA_LEVELS, BANDS, CLASSIFIED_SOURCES, SPEEDTESTS, STATUSES

#: sizes (edge length, metres) of the hexagon grids statistics are kept for
HEX_SIZES = (500, 2000, 8000)
#: boundary levels (gapmap.area.level); each is a column of gapmap.premises_place
LEVEL_COLUMNS = AREA_LEVELS.codes
#: statistics column -> what it counts, in the order of the area_stats columns
COUNTS = {
    **{code: f"status = '{code}'" for code in STATUSES.codes},
    **{band.column: f"band = '{band.code}'" for band in BANDS},
    "abc_eligible": "eligible_abc = 'eligible'", "abc_possibly": "eligible_abc = 'possibly'",
    "lbf_eligible": "eligible_lbf = 'eligible'", "lbf_possibly": "eligible_lbf = 'possibly'",
    "uso_eligible": "eligible_uso = 'eligible'", "uso_possibly": "eligible_uso = 'possibly'",
    "voucher_eligible": "eligible_voucher = 'eligible'", "planned_build": "planned_build",
}
#: statistics columns added after ``wimd_rank`` (issue 17): premises by AddressBase kind (a dual
#: use premises is a dwelling and a business, so it counts in both), premises whose status rests
#: on output-area counts, and USO-eligible premises in a postcode where Ofcom says some premises
#: can get decent broadband by fixed wireless (which can meet a USO request)
MORE_COUNTS = {
    "residential": "address_kind IN ('residential', 'dual_use')",
    "business": "address_kind IN ('business', 'dual_use')",
    "evidence_oa": "evidence = 'oa'",
    "uso_eligible_fwa": "eligible_uso = 'eligible' AND fwa_decent_pct > 0",
}
#: evidence about one premises (premises-level): what output-area and postcode shares are
#: pooled around, and whose speeds the median download of an area is taken over
PREMISES_LEVEL = ("correction", "ofcom-api")
#: levels of many small areas: their statistics are summed from the combinations of areas,
#: postcode and hexagons themselves; the other levels' from those summed without these keys
FINE_LEVELS = ("oa", "postcode", "hex500")


def _month_key(label: str) -> str:
    """SQL: a release label as a month, so quarters compare with months: ``2026-Q1`` (tests
    taken January to March) is ``2026-03``; other labels are themselves."""
    return (f"CASE WHEN {label} ~ '^[0-9]{{4}}-Q[1-4]$' THEN left({label}, 5) || "
            f"lpad((right({label}, 1)::int * 3)::text, 2, '0') ELSE {label} END")


def _as_month(label: str | None) -> str | None:
    """:func:`_month_key` in Python."""
    if label is not None and re.fullmatch(r"[0-9]{4}-Q[1-4]", label):
        return f"{label[:5]}{int(label[-1]) * 3:02d}"
    return label


def choose_releases(conn: psycopg.Connection, up_to: str | None) -> dict[str, tuple[int, str]]:
    """The release used per source: the newest, or the newest labelled on or before ``up_to``
    (a quarter, ``2026-Q1``, counts as its last month, ``2026-03``)."""
    rows = conn.execute(
        f"""SELECT DISTINCT ON (source) source, id, label FROM {SCHEMA}.release
            WHERE source = ANY(%s)
              AND (%s::text IS NULL OR {_month_key('label')} <= %s)
            ORDER BY source, {_month_key('label')} DESC, label DESC""",
        (list(CLASSIFIED_SOURCES), up_to, _as_month(up_to))).fetchall()
    return {source: (rid, label) for source, rid, label in rows}


def _raster_probability(rules: Rules) -> str:
    steps = rules.evidence.raster_probability_below
    whens = " ".join(f"WHEN r_down < {s.below} THEN {s.probability}" for s in steps)
    return f"CASE {whens} ELSE 0 END"


def _evidence_case(rules: Rules, oa: bool = False) -> str:
    conditions = {
        "correction": "s_source = 'correction'",
        "ofcom-api": "s_source = 'ofcom-api'",
        "bduk": "current_gigabit",
        # output-area counts: the premises' output area (membership) has Ofcom counts
        "oa": "oa_share_30 IS NOT NULL" if oa else "false",
        "postcode": "unable_30_pct IS NOT NULL",
        "speed-raster": "r_down IS NOT NULL",
    }
    whens = " ".join(f"WHEN {conditions[s]} THEN '{s}'" for s in rules.evidence.order)
    return f"CASE {whens} ELSE 'none' END"


def _speedtest_move(rules: Rules) -> str:
    """SQL: where a shown speed test tile moves a "possibly below" premises ('below', 'above'),
    or NULL. Only output-area and postcode shares strictly between 0 and 1 and modelled speeds
    are "possibly below"; everything else is settled by its own evidence and never moved."""
    st = rules.speedtests
    moves = []
    if st.move_below:
        moves.append(f"WHEN st_down < {st.below_down} THEN 'below'")
    if st.move_above:
        moves.append(f"WHEN st_down >= {st.above_down} THEN 'above'")
    if not moves:
        return "NULL::text"
    return (f"""(CASE WHEN st_down IS NOT NULL AND (evidence = 'speed-raster'
                   OR (evidence IN ('oa', 'postcode') AND probability_below > 0
                       AND probability_below < 1))
                 THEN CASE {' '.join(moves)} END END)""")


def _bands(speed: str) -> str:
    """The Ofcom band of a download speed (Mbit/s), from connectivity.vocab.BANDS."""
    bounded = [b for b in BANDS if b.below is not None]
    whens = " ".join(f"WHEN {speed} < {b.below:g} THEN '{b.code}'" for b in bounded)
    return f"CASE {whens} ELSE '{BANDS.codes[-1]}' END"


def _postcode_band() -> str:
    """The band every premises of a postcode is in, when Ofcom puts 100 % in one band."""
    whens = " ".join(f"WHEN pct_down_{b.column.removeprefix('b_')} >= 100 THEN '{b.code}'"
                     for b in BANDS)
    return f"CASE {whens} END"


def _line_status(line: float, superfast: float) -> str:
    """A premises' status against a scheme's line (Mbit/s) rather than the superfast line.

    The superfast line's own status when they are the same line. Otherwise premises-level
    speeds are compared with the line; gigabit is above it; postcode and modelled evidence,
    which say only whether the premises can receive the superfast line, settle what follows
    from that (below a line is below any higher one, at or above it is above any lower one)
    and leave the rest 'unsettled'."""
    if line == superfast:
        return "status"
    follows = "WHEN status = 'above' THEN 'above'" if line < superfast else \
        "WHEN status = 'below' THEN 'below'"
    return f"""(CASE
              WHEN evidence IN ('correction', 'ofcom-api') THEN
                CASE WHEN s_down < {line} THEN 'below' ELSE 'above' END
              WHEN status = 'unknown' THEN 'unknown'
              WHEN evidence = 'bduk' THEN 'above'
              {follows}
              ELSE 'unsettled' END)"""


def classify(conn: psycopg.Connection, rules: Rules, *, up_to: str | None = None,
             label: str | None = None) -> dict[str, Any]:
    """Run a classification in one transaction; ``conn`` must be in autocommit mode."""
    started = time.monotonic()
    started_at = dt.datetime.now(dt.UTC)
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('gapmap classify'))")
        # Big sorts and hashes stay in memory; JIT compiling these wide expressions costs more
        # than it saves (docs/performance.md).
        conn.execute("SET LOCAL work_mem = '256MB'")
        conn.execute("SET LOCAL jit = off")
        releases = choose_releases(conn, up_to)
        if not conn.execute(f"SELECT EXISTS (SELECT 1 FROM {SCHEMA}.premises)").fetchone()[0]:
            raise BadRequest("no premises are loaded: load premises first "
                             "(connectivity load uprn ...)")
        # labelled by the evidence a status rests on (a quarter of speed tests is not that)
        run_label = label or max([lab for s, (_, lab) in releases.items()
                                  if s != SPEEDTESTS.release_source] or ["no-evidence"])
        if runs.exists(conn, run_label):
            raise BadRequest(f"a classification labelled {run_label!r} exists already",
                             "name this one with --label (the labels in use: "
                             "`connectivity classify --list`)")
        synthetic = conn.execute(
            f"SELECT coalesce(bool_or(synthetic), false) FROM {SCHEMA}.release WHERE id = ANY(%s)",
            ([rid for rid, _ in releases.values()],)).fetchone()[0]
        run_id = runs.start(conn, run_label, {s: lab for s, (_, lab) in releases.items()},
                            rules, synthetic, started_at)
        # membership first: the premises table reads each premises' output area
        steps = {"membership": time.monotonic()}
        _membership(conn)
        steps["premises"] = time.monotonic()
        _build_premises(conn, run_id, releases, rules)
        steps["statistics"] = time.monotonic()
        _build_stats(conn, run_id)
        steps["swap"] = time.monotonic()
        counted = conn.execute(
            f"""SELECT status, evidence, count(*) FROM {SCHEMA}.premises_class_{run_id}
                GROUP BY status, evidence""").fetchall()
        premises = sum(n for _, _, n in counted)
        runs.make_current(conn, run_id, premises)
    ends = [*list(steps.values())[1:], time.monotonic()]
    summary: dict[str, int] = {}
    evidence: dict[str, int] = {}
    for status, source, n in counted:
        summary[status] = summary.get(status, 0) + n
        evidence[source] = evidence.get(source, 0) + n
    return {
        "run_id": run_id, "label": run_label, "premises": premises,
        "releases": {s: lab for s, (_, lab) in releases.items()},
        "rules_version": rules.version, "status": dict(sorted(summary.items())),
        "evidence": dict(sorted(evidence.items())),
        "seconds": round(time.monotonic() - started, 2),
        # where the time went: area membership (0 when it was still current), the premises
        # table, the statistics, and the counts and swap of the views
        "steps": {name: round(end - start, 2)
                  for (name, start), end in zip(steps.items(), ends, strict=True)},
    }


def _oa_in_use(conn: psycopg.Connection, rules: Rules, coverage_release: int | None) -> bool:
    """Whether output-area counts can decide anything this run: "oa" is in the evidence order,
    the chosen Ofcom coverage release has output-area rows and output areas are loaded. When
    not, the premises table is built without the output-area steps (and is what it was)."""
    if "oa" not in rules.evidence.order or coverage_release is None:
        return False
    return conn.execute(
        f"""SELECT EXISTS (SELECT 1 FROM {SCHEMA}.ev_area_coverage
                           WHERE release_id = %s AND level = 'oa')
               AND EXISTS (SELECT 1 FROM {SCHEMA}.area WHERE level = 'oa')""",
        (coverage_release,)).fetchone()[0]


def _clamped(expr: str) -> str:
    """SQL: ``expr`` clamped to 0..1 and kept to four places, as a real (NULL stays NULL:
    GREATEST and LEAST would otherwise skip it and answer 1)."""
    return (f"CASE WHEN ({expr}) IS NOT NULL THEN "
            f"round(greatest(0, least(1, {expr}))::numeric, 4)::real END")


def _build_premises(conn: psycopg.Connection, run_id: int, releases: dict, rules: Rules) -> None:
    t, schemes = rules.thresholds, rules.schemes
    sf, uso_d, uso_u = t.superfast_down, t.uso_down, t.uso_up
    strong = [releases[s][0] for s in PREMISES_LEVEL if s in releases]
    rid = {s: releases.get(s, (None, None)) for s in CLASSIFIED_SOURCES}
    st = rules.speedtests
    moved = _speedtest_move(rules)
    oa = _oa_in_use(conn, rules, rid["ofcom-coverage"][0])
    voucher_sql = ("'suspended_in_wales'" if schemes.voucher.suspended_in_wales else
                   f"""CASE WHEN evidence = 'none' THEN 'no_evidence'
                            WHEN best_down < {schemes.voucher.max_down} AND NOT planned_build
                            THEN 'below_100_no_plan' ELSE 'not_eligible' END""")
    exclude_planned = "planned_build" if schemes.lbf.exclude_planned_builds else "false"
    # each scheme's status against its own line (just `status` when that is the superfast line)
    abc, lbf = (_line_status(s.max_down, sf) for s in (schemes.abc, schemes.lbf))
    level = "evidence IN ('correction', 'ofcom-api')"
    known_below = f"{level} AND s_down < {sf}"
    known_uso = f"{level} AND (s_down < {uso_d} OR s_up < {uso_u})"
    if oa:
        # Ofcom's counts for the premises' output area: the shares unable to receive 30 Mbit/s
        # and decent broadband, of Ofcom's premises (All Premises: AddressBase, not ours)
        oa_columns = """pl.oa AS oa_code, oc.all_premises AS oa_premises,
                   oc.unable_30_count AS oa_unable_30, oc.unable_decent_count AS oa_unable_decent,
                   CASE WHEN oc.all_premises > 0 THEN
                     least(1, oc.unable_30_count::float8 / oc.all_premises) END AS oa_share_30,
                   CASE WHEN oc.all_premises > 0 THEN
                     least(1, oc.unable_decent_count::float8 / oc.all_premises) END AS oa_share_uso"""
        oa_joins = f"""LEFT JOIN {SCHEMA}.premises_place pl ON pl.uprn = p.uprn
            LEFT JOIN {SCHEMA}.ev_area_coverage oc ON oc.release_id = %(pc)s AND oc.level = 'oa'
                  AND oc.code = pl.oa"""
        oa_q = "(oa_share_30 * oa_n - oa_known_below) / nullif(oa_open, 0)"
        refine = (f"CASE WHEN tentative = 'oa' AND {oa_q} > 0 AND {oa_q} < 1 "
                  "AND unable_30_pct IS NOT NULL THEN 'postcode' ELSE tentative END"
                  if "postcode" in rules.evidence.order else "tentative")
        # Output-area counts first: premises settled by premises-level evidence are taken out,
        # the rest share what is left (oa_q). Where that settles nothing (0 < oa_q < 1), a
        # premises whose postcode has Ofcom figures takes the finer postcode share instead.
        oa_steps = f"""
        ), oa_pool AS (
            SELECT d.*, count(*) OVER oa AS oa_n,
              count(*) FILTER (WHERE {known_below.replace('evidence', 'tentative')}) OVER oa
                AS oa_known_below,
              count(*) FILTER (WHERE {known_uso.replace('evidence', 'tentative')}) OVER oa
                AS oa_known_uso,
              count(*) FILTER (WHERE tentative = 'oa') OVER oa AS oa_open
            FROM decided0 d
            WINDOW oa AS (PARTITION BY oa_code COLLATE "C")
        ), decided AS (
            SELECT d.*, {oa_q} AS oa_q,
                   (oa_share_uso * oa_n - oa_known_uso) / nullif(oa_open, 0) AS oa_q_uso,
                   {refine} AS evidence
            FROM oa_pool d"""
        decided_as = "decided0"
        evidence_name = "tentative"
        # output-area premises settled below count as known in their postcode's pool
        pc_known_below = f"({known_below}) OR (evidence = 'oa' AND oa_q >= 1)"
        pc_known_uso = f"({known_uso}) OR (evidence = 'oa' AND oa_q_uso >= 1)"
        p_below, p_uso = "p_below0", "p_uso0"
        # the output area's premises without postcode evidence share what its count leaves
        # once the postcode-evidence premises in it have their shares
        rest = "(PARTITION BY oa_code COLLATE \"C\")"
        oa_rest = f"""
        ), oa_rest AS (
            SELECT m.*,
              CASE WHEN evidence = 'oa' THEN {_clamped(
                  "(oa_share_30 * oa_n - oa_known_below - coalesce(sum(p_below0) FILTER "
                  f"(WHERE evidence = 'postcode') OVER {rest}, 0)) / count(*) FILTER "
                  f"(WHERE evidence = 'oa') OVER {rest}")}
                ELSE p_below0 END AS probability_below,
              CASE WHEN evidence = 'oa' THEN {_clamped(
                  "(oa_share_uso * oa_n - oa_known_uso - coalesce(sum(p_uso0) FILTER "
                  f"(WHERE evidence = 'postcode') OVER {rest}, 0)) / count(*) FILTER "
                  f"(WHERE evidence = 'oa') OVER {rest}")}
                ELSE p_uso0 END AS probability_uso
            FROM measured m
            OFFSET 0"""
        after_measured = "oa_rest"
    else:
        oa_columns = """NULL::text AS oa_code, NULL::integer AS oa_premises,
                   NULL::integer AS oa_unable_30, NULL::integer AS oa_unable_decent,
                   NULL::float8 AS oa_share_30, NULL::float8 AS oa_share_uso"""
        oa_joins = oa_steps = oa_rest = ""
        decided_as, evidence_name = "decided", "evidence"
        pc_known_below, pc_known_uso = known_below, known_uso
        p_below, p_uso = "probability_below", "probability_uso"
        after_measured = "measured"
    # One pass over premises and the evidence tables. "OFFSET 0" keeps each step a
    # subquery of its own: without it PostgreSQL folds the steps together and works out
    # status, probability and evidence again for every column that uses them.
    conn.execute(
        f"""CREATE TABLE {SCHEMA}.premises_class_{run_id} AS
        WITH strong AS (
            SELECT DISTINCT ON (e.uprn) e.uprn, coalesce(e.max_down, 0) AS down,
                   coalesce(e.max_up, 0) AS up, r.source, r.label
            FROM {SCHEMA}.ev_premises_speed e JOIN {SCHEMA}.release r ON r.id = e.release_id
            WHERE e.release_id = ANY(%(strong)s)
            ORDER BY e.uprn, (r.source = 'correction') DESC
        ), tile AS (
            -- the speed test tile holding each premises (tiles share edges: on an edge, the
            -- lowest quadkey), when it has enough tests from enough devices to be shown
            SELECT DISTINCT ON (p.uprn) p.uprn, t.avg_down, t.avg_up, t.avg_lat_ms, t.tests,
                   t.devices
            FROM {SCHEMA}.ev_speedtest_tile t
            JOIN {SCHEMA}.premises p ON ST_Intersects(t.geom, p.geom)
            WHERE t.release_id = %(ookla)s AND t.tests >= {int(st.min_tests)}
              AND t.devices >= {int(st.min_devices)}
            ORDER BY p.uprn, t.quadkey COLLATE "C"
        ), base AS (
            SELECT p.uprn, coalesce(p.postcode, b.postcode) AS postcode,
                   s.down AS s_down, s.up AS s_up, s.source AS s_source, s.label AS s_label,
                   coalesce(b.current_gigabit, false) AS current_gigabit,
                   coalesce(b.future_gigabit AND x.no_plan IS NOT TRUE, false) AS future_gigabit,
                   coalesce(b.gis AND x.no_plan IS NOT TRUE, false) AS in_contract,
                   coalesce(x.added, false) AS added_by_correction, b.subsidy_control_status,
                   b.gis_contract_name, b.gis_supplier, b.gis_final_coverage_date,
                   c.unable_30_pct, c.unable_decent_pct, c.pct_down_0_2, c.pct_down_2_5,
                   c.pct_down_5_10, c.pct_down_10_30, c.pct_down_30_300, c.pct_down_300,
                   c.fwa_decent_pct, ad.kind AS address_kind,
                   r.max_down AS r_down, st.avg_down AS st_down, st.avg_up AS st_up,
                   st.avg_lat_ms AS st_lat, st.tests AS st_tests, st.devices AS st_devices,
                   {oa_columns}
            FROM {SCHEMA}.premises p
            LEFT JOIN strong s ON s.uprn = p.uprn
            LEFT JOIN tile st ON st.uprn = p.uprn
            LEFT JOIN {SCHEMA}.ev_bduk b ON b.uprn = p.uprn AND b.release_id = %(bduk)s
            LEFT JOIN {SCHEMA}.ev_postcode_coverage c
                   ON c.postcode = coalesce(p.postcode, b.postcode) AND c.release_id = %(pc)s
                  AND NOT c.residential_only
            LEFT JOIN {SCHEMA}.ev_premises_speed r ON r.uprn = p.uprn AND r.release_id = %(raster)s
            -- AddressBase: what the premises is (a record that is not a premises is left out
            -- of every count and target, as an excluding correction is)
            LEFT JOIN {SCHEMA}.address ad ON ad.uprn = p.uprn
            {oa_joins}
            -- corrections that are not speeds: a premises added, a non-premises (kept in
            -- gapmap.premises, left out of every count), a planned build that slipped
            LEFT JOIN (SELECT uprn, bool_or(added) AS added, bool_or(excluded) AS excluded,
                              bool_or(no_planned_build) AS no_plan
                       FROM {SCHEMA}.ev_correction WHERE release_id = %(correction)s
                       GROUP BY uprn) x ON x.uprn = p.uprn
            WHERE x.excluded IS NOT TRUE AND ad.kind IS DISTINCT FROM 'not_premises'
        ), {decided_as} AS (
            SELECT *, {_evidence_case(rules, oa)} AS {evidence_name},
                   future_gigabit OR in_contract AS planned_build
            FROM base{oa_steps}
        ), pooled AS (
            -- Ofcom's postcode share covers every premises of the postcode; premises already
            -- settled by stronger evidence are taken out, and the rest share what is left.
            -- (Partitioned in byte order: the same groups, a faster sort.)
            SELECT d.*,
              count(*) OVER pc AS pc_premises,
              count(*) FILTER (WHERE {pc_known_below}) OVER pc AS pc_known_below,
              count(*) FILTER (WHERE {pc_known_uso}) OVER pc AS pc_known_uso,
              count(*) FILTER (WHERE evidence = 'postcode') OVER pc AS pc_open
            FROM decided d
            WINDOW pc AS (PARTITION BY postcode COLLATE "C")
        ), measured AS (
            SELECT d.*,
              CASE evidence
                WHEN 'correction' THEN s_down WHEN 'ofcom-api' THEN s_down
                WHEN 'bduk' THEN {t.gigabit_down} WHEN 'speed-raster' THEN r_down END AS best_down,
              CASE evidence WHEN 'correction' THEN s_up WHEN 'ofcom-api' THEN s_up END AS best_up,
              CASE evidence
                WHEN 'correction' THEN s_label WHEN 'ofcom-api' THEN s_label
                WHEN 'bduk' THEN %(bduk_label)s WHEN 'oa' THEN %(pc_label)s
                WHEN 'postcode' THEN %(pc_label)s
                WHEN 'speed-raster' THEN %(raster_label)s END AS evidence_release,
              CASE
                WHEN evidence IN ('correction', 'ofcom-api') THEN (s_down < {sf})::int::real
                WHEN evidence = 'bduk' THEN 0
                WHEN evidence = 'postcode' THEN round(greatest(0, least(1,
                    (unable_30_pct / 100.0 * pc_premises - pc_known_below) / pc_open))::numeric, 4)::real
                WHEN evidence = 'speed-raster' THEN ({_raster_probability(rules)})::real
              END AS {p_below},
              CASE WHEN evidence = 'postcode' THEN {_clamped(
                  "(unable_decent_pct / 100.0 * pc_premises - pc_known_uso) / pc_open")}
              END AS {p_uso}
            FROM pooled d
            OFFSET 0{oa_rest}
        ), statused AS (
            SELECT m.*,
              CASE
                WHEN evidence = 'none' THEN 'unknown'
                WHEN evidence = 'speed-raster' THEN coalesce({moved}, 'possibly_below')
                WHEN probability_below >= 1 THEN 'below'
                WHEN probability_below <= 0 THEN 'above'
                ELSE coalesce({moved}, 'possibly_below') END AS status,
              {moved} AS speedtest_moved,
              CASE
                WHEN evidence IN ('correction', 'ofcom-api') THEN s_down < {uso_d} OR s_up < {uso_u}
                WHEN evidence = 'bduk' THEN false
                WHEN evidence IN ('oa', 'postcode') AND probability_uso >= 1 THEN true
                WHEN evidence IN ('oa', 'postcode') AND probability_uso <= 0 THEN false
              END AS uso
            FROM {after_measured} m
            OFFSET 0
        )
        SELECT uprn, postcode, status,
          -- speed tests that move a premises settle it as far as the figures go
          CASE speedtest_moved WHEN 'below' THEN 1::real WHEN 'above' THEN 0::real
            ELSE probability_below END AS probability_below,
          best_down, best_up,
          CASE
            WHEN best_down IS NOT NULL AND evidence <> 'speed-raster' THEN {_bands("best_down")}
            WHEN evidence = 'postcode' THEN {_postcode_band()}
          END AS band,
          uso, probability_uso, evidence, evidence_release,
          subsidy_control_status AS gigabit_class, current_gigabit, future_gigabit,
          planned_build, added_by_correction, gis_contract_name AS contract_name,
          st_down AS speedtest_down, st_up AS speedtest_up, st_lat AS speedtest_latency_ms,
          st_tests AS speedtest_tests, st_devices AS speedtest_devices,
          CASE WHEN st_down IS NOT NULL THEN %(ookla_label)s::text END AS speedtest_release,
          speedtest_moved,
          gis_supplier AS supplier,
          gis_final_coverage_date AS final_coverage_date,
          CASE {abc} WHEN 'below' THEN 'eligible' WHEN 'possibly_below' THEN 'possibly'
                     WHEN 'unsettled' THEN 'possibly' WHEN 'above' THEN 'not_eligible'
                     ELSE 'unknown' END AS eligible_abc,
          CASE
            WHEN status = 'unknown' THEN 'no_evidence'
            WHEN {abc} = 'unsettled' THEN 'line_not_settled'
            WHEN {abc} = 'below' AND speedtest_moved = 'below' THEN 'below_30_speedtests'
            WHEN {abc} = 'below' AND evidence = 'oa' THEN 'below_30_oa'
            WHEN {abc} = 'below' AND evidence = 'postcode' THEN 'below_30_area'
            WHEN {abc} = 'below' THEN 'below_30'
            WHEN {abc} = 'possibly_below' AND evidence = 'speed-raster' THEN 'possibly_below_30_modelled'
            WHEN {abc} = 'possibly_below' AND evidence = 'oa' THEN 'possibly_below_30_oa'
            WHEN {abc} = 'possibly_below' THEN 'possibly_below_30'
            WHEN speedtest_moved = 'above' THEN 'not_below_30_speedtests'
            WHEN evidence = 'bduk' THEN 'gigabit_available'
            WHEN evidence = 'oa' THEN 'not_below_30_oa'
            WHEN evidence = 'postcode' THEN 'not_below_30_area'
            ELSE 'not_below_30' END AS abc_reason,
          CASE
            WHEN status = 'unknown' THEN 'unknown'
            WHEN {lbf} IN ('below', 'possibly_below', 'unsettled') AND {exclude_planned}
              THEN 'not_eligible'
            WHEN {lbf} = 'below' THEN 'eligible'
            WHEN {lbf} IN ('possibly_below', 'unsettled') THEN 'possibly'
            ELSE 'not_eligible' END AS eligible_lbf,
          CASE
            WHEN status = 'unknown' THEN 'no_evidence'
            WHEN {lbf} IN ('below', 'possibly_below', 'unsettled') AND {exclude_planned}
              THEN 'in_planned_build'
            WHEN {lbf} = 'below' AND speedtest_moved = 'below' THEN 'target_speedtests'
            WHEN {lbf} = 'below' THEN 'target'
            WHEN {lbf} = 'possibly_below' THEN 'possible_target'
            WHEN {lbf} = 'unsettled' THEN 'line_not_settled'
            WHEN speedtest_moved = 'above' THEN 'not_below_30_speedtests'
            ELSE 'not_below_30' END AS lbf_reason,
          CASE WHEN uso THEN 'eligible' WHEN NOT uso THEN 'not_eligible'
               WHEN probability_uso > 0 THEN 'possibly' ELSE 'unknown' END AS eligible_uso,
          CASE
            WHEN uso AND evidence = 'oa' THEN 'below_uso_oa'
            WHEN uso AND evidence = 'postcode' THEN 'below_uso_area'
            WHEN uso AND fwa_decent_pct > 0 THEN 'below_uso_fwa'
            WHEN uso THEN 'below_uso'
            WHEN NOT uso THEN 'decent_available'
            WHEN probability_uso > 0 AND evidence = 'oa' THEN 'possibly_below_uso_oa'
            WHEN probability_uso > 0 AND fwa_decent_pct > 0 THEN 'possibly_below_uso_fwa'
            WHEN probability_uso > 0 THEN 'possibly_below_uso'
            ELSE 'no_evidence' END AS uso_reason,
          CASE WHEN {voucher_sql} = 'below_100_no_plan' THEN 'eligible' ELSE 'not_eligible' END
            AS eligible_voucher,
          {voucher_sql} AS voucher_reason,
          oa_code, oa_premises, oa_unable_30, oa_unable_decent, fwa_decent_pct, address_kind
        FROM statused""",
        {"strong": strong, "bduk": rid["bduk"][0], "correction": rid["correction"][0], "pc": rid["ofcom-coverage"][0],
         "raster": rid["speed-raster"][0], "bduk_label": rid["bduk"][1],
         "pc_label": rid["ofcom-coverage"][1], "raster_label": rid["speed-raster"][1],
         "ookla": rid["ookla"][0], "ookla_label": rid["ookla"][1]})
    conn.execute(f"ALTER TABLE {SCHEMA}.premises_class_{run_id} ADD PRIMARY KEY (uprn)")
    conn.execute(f"CREATE INDEX ON {SCHEMA}.premises_class_{run_id} (postcode)")
    # The target lists' live counts (connectivity/officers/lists.py) filter on status and the
    # schemes: one partial index over the premises any such filter can select (about 8 % of
    # Wales; 0.2-0.5 s to build, 4.6 MB). docs/lists.md, "Performance".
    conn.execute(
        f"""CREATE INDEX ON {SCHEMA}.premises_class_{run_id} (status, probability_below)
            WHERE status <> 'above' OR eligible_abc IN ('eligible', 'possibly')
               OR eligible_lbf IN ('eligible', 'possibly')
               OR eligible_uso IN ('eligible', 'possibly')
               OR eligible_voucher IN ('eligible', 'possibly')""")


def _hex_cells(points: str) -> str:
    """A query giving, for every row (uprn, x, y) of ``points``, the cell of each hexagon grid
    that holds the point: ``uprn, hex<size>_i, hex<size>_j``.

    The cells of ``ST_HexagonGrid(size, ...)`` (flat-topped hexagons of edge ``size``, origin
    0,0: column i is centred on x = 1.5 size i, cell (i, j) on y = 2h j + h (i mod 2) with
    h = size sqrt(3) / 2), worked out by arithmetic instead of a spatial join with the grid. A
    point lies between two columns, a = floor(x / 1.5 size) and a + 1; in each it belongs to
    the cell whose centre is nearest in y (rounding), and the nearer of those two centres wins.
    A point within a micrometre of an edge (on it, or too close for floating point to be sure)
    is settled as the spatial join settled it: the lowest (i, j) among the ``ST_Hexagon`` cells
    around it that intersect it.
    """
    def each(template: str) -> str:
        return ", ".join(template.format(s=s, w=f"{1.5 * s!r}::float8", h=f"{_h(s)!r}::float8",
                                         h2=f"{2 * _h(s)!r}::float8") for s in HEX_SIZES)

    dist_a = "xa{s} * xa{s} + ya{s} * ya{s}"
    dist_b = "xb{s} * xb{s} + yb{s} * yb{s}"
    on_edge = ("SELECT ARRAY[ci, cj] FROM generate_series(a{s} - 1, a{s} + 2) AS ci, "
               "generate_series(least(ja{s}, jb{s})::int - 2, greatest(ja{s}, jb{s})::int + 2) AS cj "
               f"WHERE ST_Intersects(ST_Hexagon({{s}}, ci, cj, {_ORIGIN}), "
               "ST_SetSRID(ST_MakePoint(x, y), 27700)) ORDER BY ci, cj LIMIT 1")
    steps = [
        # the two candidate columns, a and a + 1
        "uprn, x, y, " + each("floor(x / {w})::int AS a{s}"),
        # the point's position in each column, in cell heights (a whole number: a cell centre)
        "uprn, x, y, " + each("a{s}, (y - (a{s} & 1) * {h}) / {h2} AS va{s}, "
                              "(y - (1 - (a{s} & 1)) * {h}) / {h2} AS vb{s}"),
        # the nearest cell in each column
        "uprn, x, y, " + each("a{s}, va{s}, vb{s}, round(va{s}) AS ja{s}, round(vb{s}) AS jb{s}"),
        # the point's offsets from those two cell centres
        "uprn, x, y, " + each("a{s}, va{s}, vb{s}, ja{s}, jb{s}, x - {w} * a{s} AS xa{s}, "
                              "{h2} * (va{s} - ja{s}) AS ya{s}, x - {w} * (a{s} + 1) AS xb{s}, "
                              "{h2} * (vb{s} - jb{s}) AS yb{s}"),
        # the nearer of the two, and whether the point is (nearly) as near to another cell
        "uprn, x, y, " + each(f"a{{s}}, ja{{s}}, jb{{s}}, {dist_b} < {dist_a} AS b{{s}}, "
                              f"abs({dist_a} - ({dist_b})) < {{s}} * 1e-5 "
                              "OR abs(abs(va{s} - ja{s}) - 0.5) * {h2} < 1e-6 "
                              "OR abs(abs(vb{s} - jb{s}) - 0.5) * {h2} < 1e-6 AS edge{s}"),
        "uprn, " + each(f"CASE WHEN edge{{s}} THEN ({on_edge}) END AS exact{{s}}, "
                        "a{s} + b{s}::int AS i{s}, (CASE WHEN b{s} THEN jb{s} ELSE ja{s} END)::int AS j{s}"),
    ]
    query = points
    for n, step in enumerate(steps):
        query = f"SELECT {step} FROM ({query}) s{n} OFFSET 0"
    return (f"SELECT uprn, {each('coalesce(exact{s}[1], i{s}) AS hex{s}_i, coalesce(exact{s}[2], j{s}) AS hex{s}_j')} "
            f"FROM ({query}) cells")


_ORIGIN = "'SRID=27700;POINT(0 0)'::geometry"


def _h(size: int) -> float:
    """Half the height of a flat-topped hexagon of edge ``size``: centre to edge."""
    return size * 3 ** 0.5 / 2


def _membership(conn: psycopg.Connection) -> bool:
    """Bring ``gapmap.premises_place`` up to date; returns True when it had to be rebuilt."""
    state = conn.execute(
        f"""SELECT coalesce(string_agg(kind || ':' || last, ',' ORDER BY kind), '')
            FROM (SELECT kind, max(id)::text AS last FROM {SCHEMA}.load_run
                  WHERE status = 'succeeded' AND kind IN ('boundaries', 'uprn', 'premises')
                  GROUP BY kind) k""").fetchone()[0]
    built = conn.execute(f"SELECT built_for FROM {SCHEMA}.membership_state").fetchone()
    if built and built[0] == state:
        return False
    conn.execute(f"TRUNCATE {SCHEMA}.premises_place")
    # The premises points in space-filling-curve order (PostGIS sorts geometries so), with an
    # index of their own: the premises table is in whatever order its loader left it, and
    # testing the points of one boundary piece would otherwise read a page per point.
    conn.execute(f"""CREATE TEMP TABLE c_points ON COMMIT DROP AS
                     SELECT uprn, geom FROM {SCHEMA}.premises ORDER BY geom""")
    conn.execute("CREATE INDEX ON c_points USING gist (geom)")
    conn.execute("ANALYZE c_points")
    # Point in polygon, one boundary piece at a time (pieces of at most 64 vertices, cut when
    # the boundaries were loaded: gapmap.area_part): the piece stays the same while PostGIS
    # tests the points in its bounding box, so it is prepared once. "OFFSET 0" keeps that
    # order; PostgreSQL would otherwise look the pieces up point by point. A premises on the
    # line between two areas of a level goes to the lowest code, as before.
    levels = ",\n".join(f"min(a.code COLLATE \"C\") FILTER (WHERE a.level = '{level}') AS {level}"
                        for level in LEVEL_COLUMNS)
    hexes = ", ".join(f"h.hex{s}_i, h.hex{s}_j" for s in HEX_SIZES)
    conn.execute(
        f"""INSERT INTO {SCHEMA}.premises_place (uprn, {', '.join(LEVEL_COLUMNS)},
                {hexes.replace('h.', '')})
            WITH inside AS (
                SELECT x.uprn, {levels}
                FROM {SCHEMA}.area_part a
                CROSS JOIN LATERAL (SELECT p.uprn FROM c_points p
                                    WHERE ST_Intersects(a.geom, p.geom) OFFSET 0) x
                GROUP BY x.uprn
            )
            SELECT h.uprn, {', '.join(f'i.{level}' for level in LEVEL_COLUMNS)}, {hexes}
            FROM ({_hex_cells("SELECT uprn, ST_X(geom) AS x, ST_Y(geom) AS y FROM c_points")}) h
            LEFT JOIN inside i USING (uprn)""")
    conn.execute(f"ANALYZE {SCHEMA}.premises_place")
    conn.execute(
        f"""INSERT INTO {SCHEMA}.membership_state (id, built_for) VALUES (1, %s)
            ON CONFLICT (id) DO UPDATE SET built_for = EXCLUDED.built_for, built_at = now()""",
        (state,))
    return True


def _grouping(keys: dict[str, list[str]]) -> tuple[str, str, str]:
    """GROUPING SETS over ``keys`` (level -> key columns): the sets, and the level and code
    expressions of each group."""
    sets = ", ".join(f"({', '.join(cols)})" for cols in keys.values())
    level = " ".join(f"WHEN GROUPING({cols[0]}) = 0 THEN '{name}'" for name, cols in keys.items())
    code = " ".join(
        f"WHEN GROUPING({cols[0]}) = 0 THEN "
        + (cols[0] if len(cols) == 1 else f"'H{name[3:]}_' || {cols[0]} || '_' || {cols[1]}")
        for name, cols in keys.items())
    return sets, f"CASE {level} END", f"CASE {code} END"


def _build_stats(conn: psycopg.Connection, run_id: int) -> None:
    """Statistics per area for every loaded level, per postcode and per hexagon size.

    Not one grouping of every premises per level: premises are first counted per combination
    of their areas, postcode and hexagons (about eight premises each) and, for premises-level
    evidence, its download speed, in one pass over the run's table joined to membership. Those
    counts are then summed with GROUPING SETS: the levels of many small areas (output areas,
    postcodes, 500 m hexagons) from the combinations, the others from the combinations summed
    once more without those keys (a few thousand rows). The exact median download of an area
    comes from the same counts: its premises-level speeds with how many premises have each, in
    order, the middle one or two picked by cumulative count (what ``percentile_cont(0.5)`` of
    every premises gives, without reading the premises again and sorting them for each level).
    """
    keys: dict[str, list[str]] = {level: [level] for level in LEVEL_COLUMNS}
    keys["postcode"] = ["postcode"]
    keys.update({f"hex{s}": [f"hex{s}_i", f"hex{s}_j"] for s in HEX_SIZES})
    columns = ", ".join(col for cols in keys.values() for col in cols)
    fine = {name: cols for name, cols in keys.items() if name in FINE_LEVELS}
    coarse = {name: cols for name, cols in keys.items() if name not in FINE_LEVELS}
    coarse_columns = ", ".join(col for cols in coarse.values() for col in cols)
    names = list(COUNTS | MORE_COUNTS)
    counts = ",\n".join(f"(count(*) FILTER (WHERE {cond}))::int AS {name}"
                         for name, cond in (COUNTS | MORE_COUNTS).items())
    source = f"{SCHEMA}.premises_class_{run_id} c JOIN {SCHEMA}.premises_place m USING (uprn)"
    premises_level = ", ".join(f"'{e}'" for e in PREMISES_LEVEL)
    # The planner takes every premises for a combination of its own (it cannot know there are
    # about eight a combination) and would sort 1.5 million rows on 14 keys; hashing them is
    # twice as fast. `speed` is the download of premises-level evidence (NULL otherwise): a
    # combination has a row per speed among its premises (at Wales scale 238,000 rows for
    # 183,000 combinations), which is what the medians need.
    conn.execute("SET LOCAL enable_sort = off")
    conn.execute(
        f"""CREATE TEMP TABLE c_groups ON COMMIT DROP AS
            SELECT {columns},
              CASE WHEN evidence IN ({premises_level}) THEN best_down END AS speed,
              count(*)::int AS premises, {counts},
              sum(CASE WHEN status = 'below' THEN 1
                       WHEN status = 'possibly_below' THEN probability_below::numeric
                       ELSE 0 END) AS expected
            FROM {source}
            GROUP BY {columns}, speed""")
    conn.execute("SET LOCAL enable_sort TO DEFAULT")

    def summed(group: dict[str, list[str]], rows: str) -> str:
        sets, level, code = _grouping(group)
        return f"""SELECT {level} AS level, {code} AS code, sum(premises) AS premises,
                       round(sum(expected), 2)::float8 AS expected_below_30,
                       {', '.join(f'sum({n}) AS {n}' for n in names)}
                   FROM {rows} g GROUP BY GROUPING SETS ({sets})"""

    def speeds(group: dict[str, list[str]], rows: str) -> str:
        _, level, code = _grouping(group)
        sets = ", ".join(f"({', '.join([*cols, 'speed'])})" for cols in group.values())
        return f"""SELECT {level} AS level, {code} AS code, speed::float8 AS speed,
                       sum(premises)::int AS n
                   FROM {rows} g GROUP BY GROUPING SETS ({sets})"""

    # the coarse levels' rows: the combinations summed without the fine keys (each sum an
    # integer again, so that summing it gives the type a sum of counts has)
    coarse_sums = (f"""(SELECT {coarse_columns}, sum(premises)::int AS premises,
                        {', '.join(f'sum({n})::int AS {n}' for n in names)},
                        sum(expected) AS expected
                        FROM c_groups GROUP BY {coarse_columns})""")
    coarse_speeds = (f"""(SELECT {coarse_columns}, speed, sum(premises)::int AS premises
                          FROM c_groups WHERE speed IS NOT NULL
                          GROUP BY {coarse_columns}, speed)""")
    fine_speeds = "(SELECT * FROM c_groups WHERE speed IS NOT NULL)"
    conn.execute("SET LOCAL enable_sort = off")
    conn.execute(
        f"""CREATE TABLE {SCHEMA}.area_stats_{run_id} AS
            WITH sums AS (
                {summed(fine, "c_groups")}
                UNION ALL
                {summed(coarse, coarse_sums)}
            ), speeds AS (
                -- each area's premises-level speeds, with how many premises have each
                {speeds(fine, fine_speeds)}
                UNION ALL
                {speeds(coarse, coarse_speeds)}
            ), ranked AS (
                SELECT level, code, speed, sum(n) OVER upto AS upto,
                       sum(n) OVER area AS total
                FROM speeds
                WINDOW area AS (PARTITION BY level COLLATE "C", code COLLATE "C"),
                       upto AS (area ORDER BY speed)
            ), medians AS (
                -- percentile_cont(0.5) of N speeds: the speeds at 0-based positions
                -- floor((N - 1) / 2) and floor(N / 2) (the first speed whose cumulative count
                -- passes each), interpolated as PostgreSQL does, in float8: lo + 0.5 (hi - lo)
                SELECT level, code,
                       CASE WHEN lo = hi THEN lo ELSE lo + 0.5::float8 * (hi - lo) END
                         AS median_down
                FROM (SELECT level, code,
                             min(speed) FILTER (WHERE upto > (total - 1) / 2) AS lo,
                             min(speed) FILTER (WHERE upto > total / 2) AS hi
                      FROM ranked GROUP BY level, code) middle
            )
            SELECT s.level, s.code, s.premises, {', '.join(f's.{n}' for n in list(COUNTS)[:4])},
                   s.expected_below_30, m.median_down,
                   {', '.join(f's.{n}' for n in list(COUNTS)[4:])},
                   (CASE WHEN s.premises > 0 THEN s.expected_below_30 / s.premises END)::real
                     AS share_below,
                   w.wimd_rank, {', '.join(f's.{n}' for n in MORE_COUNTS)}
            FROM sums s
            LEFT JOIN medians m ON m.level = s.level AND m.code = s.code
            LEFT JOIN {SCHEMA}.wimd w ON s.level = 'lsoa' AND w.lsoa_code = s.code
            WHERE s.code IS NOT NULL""")
    conn.execute("SET LOCAL enable_sort TO DEFAULT")
    # Outlines of the hexagons that hold premises (the same cells as ST_HexagonGrid's): the
    # hexagon rows just made, those without an outline yet (usually none: cells are kept).
    hexes = ", ".join(f"'hex{s}'" for s in HEX_SIZES)
    conn.execute(
        f"""INSERT INTO {SCHEMA}.hex_cell (size, code, geom)
            SELECT size, code, ST_Hexagon(size, split_part(code, '_', 2)::int,
                                          split_part(code, '_', 3)::int, {_ORIGIN})
            FROM (SELECT substr(level, 4)::int AS size, code
                  FROM {SCHEMA}.area_stats_{run_id} s
                  WHERE level IN ({hexes})
                    AND NOT EXISTS (SELECT 1 FROM {SCHEMA}.hex_cell h WHERE h.code = s.code)) c
            ON CONFLICT (code) DO NOTHING""")
    conn.execute(f"ALTER TABLE {SCHEMA}.area_stats_{run_id} ADD PRIMARY KEY (level, code)")
