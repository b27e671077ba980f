"""Intervention planning: where an authority's target premises cluster, how long a fibre route
to each cluster would be, what connecting it would cost by each option, and which option to
recommend. Set-based SQL through psycopg for the clustering (``ST_ClusterDBSCAN`` in metres on
the British National Grid points) and every per-cluster figure; the minimum spanning tree of each
cluster in numpy over the Delaunay edges of its premises. Design and reasons: docs/planning.md.

The premises come from an authority's current targets (below 30 Mbit/s, or possibly below with
at least ``probability_below``, and in no planned build) or from a saved target list's latest
snapshot. Everything works on three temporary tables, so a caller (or a test) can also fill them
itself:

* ``plan_input`` (uprn, status, probability_below, planned_build, is_target, lsoa, la, geom):
  the premises to cluster;
* ``plan_served`` (geom): premises with 30 Mbit/s or more, **a proxy for the nearest network**:
  a served premises says some network reaches there, not that a fibre spine does;
* ``plan_planned`` (geom): other premises in a planned build, for the overlap.

:func:`analyse` adds ``plan_member`` (the input with its ``cluster_id``; 0 is isolated), which
:mod:`connectivity.officers.plans` freezes into a plan in the same transaction.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import psycopg
import shapely

from . import runs
from .costs import OPTIONS, TARGETS, CostModel
from .db import SCHEMA
from .errors import BadRequest, NotFound

#: the nearest served premises is looked for this far (metres) round the premises clustered;
#: beyond it a cluster has no link, so no fibre price
NETWORK_SEARCH_M = 20_000.0
#: what every figure shown beside the served distance says
NETWORK_PROXY = ("distance to the nearest premises with 30 Mbit/s or more: a proxy for the "
                 "nearest network, not a surveyed network point")
NETWORK_PROXY_CY = ("pellter i'r safle agosaf sydd â 30 Mbit/s neu fwy: dirprwy ar gyfer y "
                    "rhwydwaith agosaf, nid pwynt rhwydwaith wedi'i arolygu")
NON_FIBRE = tuple(o for o in OPTIONS if o != "fibre")


@dataclass(frozen=True)
class Params:
    """How to cluster and what to aim for (defaults: the cost model's [clusters])."""
    distance_m: float
    min_premises: int
    probability_below: float
    target: str = "30"

    def as_dict(self) -> dict[str, Any]:
        return {"distance_m": self.distance_m, "min_premises": self.min_premises,
                "probability_below": self.probability_below, "target": self.target}


def params_from(model: CostModel, *, distance_m: float | None = None,
                min_premises: int | None = None, probability_below: float | None = None,
                target: str | None = None) -> Params:
    """The model's clustering settings, each overridden when given (and checked)."""
    p = Params(model.clusters.distance_m if distance_m is None else float(distance_m),
               model.clusters.min_premises if min_premises is None else int(min_premises),
               model.clusters.probability_below if probability_below is None
               else float(probability_below),
               "30" if target is None else str(target))
    if not 0 < p.distance_m <= 5000:
        raise BadRequest(f"the clustering distance must be above 0 and at most 5000 m, got "
                         f"{p.distance_m:g}")
    if not 1 <= p.min_premises <= 10_000:
        raise BadRequest(f"the minimum premises of a cluster must be from 1 to 10000, got "
                         f"{p.min_premises}")
    if not 0 <= p.probability_below <= 1:
        raise BadRequest(f"the probability must be between 0 and 1, got {p.probability_below:g}")
    if p.target not in TARGETS:
        raise BadRequest(f"unknown target {p.target!r}; expected 30 or gigabit")
    return p


# -- the input ----------------------------------------------------------------------------------
_INPUT_COLUMNS = ("uprn bigint PRIMARY KEY, status text NOT NULL, probability_below real, "
                  "planned_build boolean NOT NULL DEFAULT false, is_target boolean NOT NULL "
                  "DEFAULT true, lsoa text, la text, geom geometry(Point, 27700) NOT NULL")


def create_input_tables(conn: psycopg.Connection) -> None:
    """Empty ``plan_input``, ``plan_served`` and ``plan_planned`` (temporary, this session)."""
    conn.execute("DROP TABLE IF EXISTS pg_temp.plan_input, pg_temp.plan_served, "
                 "pg_temp.plan_planned, pg_temp.plan_member")
    conn.execute(f"CREATE TEMP TABLE plan_input ({_INPUT_COLUMNS})")
    conn.execute("CREATE TEMP TABLE plan_served (geom geometry(Point, 27700) NOT NULL)")
    conn.execute("CREATE TEMP TABLE plan_planned (geom geometry(Point, 27700) NOT NULL)")


def _target_condition(alias: str = "c") -> str:
    return (f"NOT coalesce({alias}.planned_build, false) AND ({alias}.status = 'below' OR "
            f"({alias}.status = 'possibly_below' AND {alias}.probability_below >= "
            f"%(probability)s))")


def authority_targets(conn: psycopg.Connection, run: runs.Run, la: str,
                      probability_below: float) -> int:
    """How many premises of ``la`` are targets on ``run`` (the share's denominator)."""
    return conn.execute(
        f"""SELECT count(*) FROM {SCHEMA}.premises_class_{int(run.id)} c
            JOIN {SCHEMA}.premises_place m USING (uprn)
            WHERE m.la = %(la)s AND {_target_condition()}""",
        {"la": la, "probability": probability_below}).fetchone()[0]


def check_authority(conn: psycopg.Connection, la: str) -> str:
    code = (la or "").strip().upper()
    found = conn.execute(f"SELECT 1 FROM {SCHEMA}.area WHERE level = 'la' AND code = %s",
                         (code,)).fetchone()
    if found is None:
        raise NotFound(f"no local authority {code or '(none)'}",
                       "give a W06 code of a loaded authority (`connectivity stats --level la`)")
    return code


def stage_authority(conn: psycopg.Connection, run: runs.Run, la: str, params: Params) -> None:
    """``plan_input`` = the targets of ``la`` on ``run``."""
    conn.execute(
        f"""INSERT INTO plan_input (uprn, status, probability_below, planned_build, is_target,
                                    lsoa, la, geom)
            SELECT c.uprn, c.status, c.probability_below, coalesce(c.planned_build, false), true,
                   m.lsoa, m.la, p.geom
            FROM {SCHEMA}.premises_class_{int(run.id)} c
            JOIN {SCHEMA}.premises_place m USING (uprn)
            JOIN {SCHEMA}.premises p USING (uprn)
            WHERE m.la = %(la)s AND {_target_condition()}""",
        {"la": la, "probability": params.probability_below})


def stage_snapshot(conn: psycopg.Connection, run: runs.Run, snapshot_id: int, la: str,
                   params: Params) -> None:
    """``plan_input`` = the premises of a list's snapshot in ``la`` (as frozen), each marked
    whether it is a target on ``run`` today."""
    conn.execute(
        f"""INSERT INTO plan_input (uprn, status, probability_below, planned_build, is_target,
                                    lsoa, la, geom)
            SELECT t.uprn, t.status, t.probability_below, coalesce(t.planned_build, false),
                   coalesce(m.la = %(la)s AND {_target_condition('c')}, false), m.lsoa,
                   t.la_code, t.geom
            FROM {SCHEMA}.target_list_premises t
            LEFT JOIN {SCHEMA}.premises_place m USING (uprn)
            LEFT JOIN {SCHEMA}.premises_class_{int(run.id)} c USING (uprn)
            WHERE t.snapshot_id = %(snapshot)s AND t.la_code = %(la)s""",
        {"la": la, "snapshot": snapshot_id, "probability": params.probability_below})


def stage_network(conn: psycopg.Connection, run: runs.Run, params: Params) -> None:
    """``plan_served`` and ``plan_planned`` round the input, from ``run``."""
    extent = ("(SELECT ST_SetSRID(ST_Expand(ST_Extent(geom), %(r)s)::geometry, 27700) "
              "FROM plan_input)")
    conn.execute(
        f"""INSERT INTO plan_served (geom)
            SELECT p.geom FROM {SCHEMA}.premises p
            JOIN {SCHEMA}.premises_class_{int(run.id)} c USING (uprn)
            WHERE c.status = 'above' AND p.geom && {extent}""", {"r": NETWORK_SEARCH_M})
    conn.execute(
        f"""INSERT INTO plan_planned (geom)
            SELECT p.geom FROM {SCHEMA}.premises p
            JOIN {SCHEMA}.premises_class_{int(run.id)} c USING (uprn)
            WHERE c.planned_build AND p.geom && {extent}
              AND NOT EXISTS (SELECT 1 FROM plan_input i WHERE i.uprn = p.uprn)""",
        {"r": params.distance_m})


# -- the analysis -------------------------------------------------------------------------------
def cluster_sql() -> str:
    """``plan_member``: every input premises with its cluster, numbered 1, 2, ... in the order of
    each cluster's smallest UPRN (0: in no cluster, isolated). The window is ordered by UPRN, so
    the same premises and parameters always give the same clusters."""
    return """
        CREATE TEMP TABLE plan_member AS
        WITH d AS (
            SELECT uprn, ST_ClusterDBSCAN(geom, eps => %(eps)s, minpoints => %(minpoints)s)
                         OVER (ORDER BY uprn) AS k
            FROM plan_input),
        n AS (SELECT k, row_number() OVER (ORDER BY min(uprn))::integer AS cluster_id
              FROM d WHERE k IS NOT NULL GROUP BY k)
        SELECT i.*, coalesce(n.cluster_id, 0) AS cluster_id
        FROM plan_input i JOIN d USING (uprn) LEFT JOIN n USING (k)"""


def _figures_sql() -> str:
    return f"""
        WITH ranked AS (SELECT count(*) AS n FROM {SCHEMA}.wimd),
        g AS (
            SELECT cluster_id, count(*)::integer AS premises,
                   count(*) FILTER (WHERE status = 'below')::integer AS settled,
                   sum(CASE status WHEN 'below' THEN 1
                                   WHEN 'possibly_below' THEN coalesce(probability_below, 0)
                                   ELSE 0 END)::float8 AS expected,
                   count(*) FILTER (WHERE planned_build)::integer AS planned_members,
                   count(*) FILTER (WHERE is_target)::integer AS targets,
                   count(*) FILTER (WHERE w.wimd_rank * 5 <= (SELECT n FROM ranked))::integer
                       AS most_deprived,
                   CASE WHEN cluster_id > 0 THEN ST_Collect(m.geom) END AS pts
            FROM plan_member m LEFT JOIN {SCHEMA}.wimd w ON w.lsoa_code = m.lsoa
            GROUP BY cluster_id),
        need AS (
            SELECT x.cluster_id, percentile_cont(0.5) WITHIN GROUP (ORDER BY w.wimd_rank)
                       AS need, count(*)::integer AS lsoas
            FROM (SELECT DISTINCT cluster_id, lsoa FROM plan_member) x
            JOIN {SCHEMA}.wimd w ON w.lsoa_code = x.lsoa GROUP BY 1)
        SELECT g.cluster_id, g.premises, g.settled, g.expected, g.planned_members, g.targets,
               g.most_deprived, need.need, coalesce(need.lsoas, 0),
               served.d,
               (SELECT count(*)::integer FROM plan_planned pp
                WHERE g.pts IS NOT NULL AND ST_DWithin(pp.geom, g.pts, %(eps)s)),
               ST_X(ST_Centroid(g.pts)), ST_Y(ST_Centroid(g.pts)),
               ST_X(ST_Transform(ST_Centroid(g.pts), 4326)),
               ST_Y(ST_Transform(ST_Centroid(g.pts), 4326))
        FROM g LEFT JOIN need USING (cluster_id)
        LEFT JOIN LATERAL (SELECT ST_Distance(s.geom, g.pts) AS d FROM plan_served s
                           WHERE g.pts IS NOT NULL
                           ORDER BY s.geom <-> g.pts LIMIT 1) served ON true
        ORDER BY g.cluster_id"""


#: the SQL of a cluster's outline: its convex hull, buffered by half the clustering distance
#: (always a polygon, also for two premises or a line of them)
OUTLINE_SQL = "ST_Buffer(ST_ConvexHull(ST_Collect(geom)), %(eps)s / 2.0, 8)"


def analyse(conn: psycopg.Connection, model: CostModel, params: Params, *,
            progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Cluster ``plan_input`` (filled), cost every cluster and the isolated premises, and
    recommend an option for each. Leaves ``plan_member`` for a plan to freeze."""
    say = progress or (lambda message: None)
    steps: dict[str, float] = {}
    t0 = time.perf_counter()
    conn.execute("CREATE INDEX ON plan_served USING gist (geom)")
    conn.execute("CREATE INDEX ON plan_planned USING gist (geom)")
    conn.execute("ANALYZE plan_input")
    conn.execute("ANALYZE plan_served")
    conn.execute("DROP TABLE IF EXISTS pg_temp.plan_member")
    eps = {"eps": params.distance_m, "minpoints": params.min_premises}
    say("clustering")
    conn.execute(cluster_sql(), eps)
    steps["cluster_s"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    say("figures per cluster")
    rows = conn.execute(_figures_sql(), eps).fetchall()
    steps["figures_s"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    say("routes (minimum spanning trees)")
    coords = conn.execute("SELECT cluster_id, ST_X(geom), ST_Y(geom) FROM plan_member "
                          "WHERE cluster_id > 0 ORDER BY cluster_id, uprn").fetchall()
    mst = mst_by_cluster(coords)
    steps["routes_s"] = time.perf_counter() - t2
    groups = []
    for (cid, n, settled, expected, planned_members, targets, most_deprived, need, lsoas,
         served, planned_nearby, x, y, lon, lat) in rows:
        group = {"id": cid, "kind": "cluster" if cid else "isolated", "premises": n,
                 "settled": settled, "expected": round(expected, 3),
                 "targets": targets, "planned_members": planned_members,
                 "planned_nearby": planned_nearby if cid else None,
                 "need_wimd_rank": None if need is None else float(need), "lsoas": lsoas,
                 "most_deprived": most_deprived,
                 "served_distance_m": None if served is None else round(served, 1),
                 "centroid": None if x is None else [round(x, 1), round(y, 1)],
                 "centroid_lonlat": None if lon is None else [round(lon, 6), round(lat, 6)]}
        group.update(cost(model, params.target, n, mst.get(cid) if cid else None,
                          served if cid else None, fibre=bool(cid)))
        groups.append(group)
    steps["total_s"] = time.perf_counter() - t0
    return {"params": params.as_dict(), "costs_version": model.version,
            "network_proxy": NETWORK_PROXY,
            "clusters": [g for g in groups if g["id"]],
            "isolated": next((g for g in groups if not g["id"]), None),
            "totals": totals(groups), "steps": {k: round(v, 3) for k, v in steps.items()}}


def cost(model: CostModel, target: str, premises: int, mst_m: float | None,
         link_m: float | None, *, fibre: bool) -> dict[str, Any]:
    """The route, each option's cost and the recommendation for ``premises`` premises whose
    minimum spanning tree is ``mst_m`` long and ``link_m`` from the nearest served premises
    (``fibre`` False: isolated premises, for the non-fibre options only)."""
    route = None
    if fibre and mst_m is not None and link_m is not None:
        route = (mst_m + link_m) * model.route.routing_factor
    options: dict[str, Any] = {}
    for option in OPTIONS:
        gbp = model.option_cost(option, premises, route) if (fibre or option != "fibre") else None
        options[option] = None if gbp is None else {
            "gbp": round(gbp, 2), "per_premises": round(gbp / premises, 2) if premises else None,
            "reaches_30": model.reaches(option, "30"),
            "reaches_gigabit": model.reaches(option, "gigabit"),
            "meets_target": model.reaches(option, target)}
    priced = {o: v for o, v in options.items() if v is not None}
    meeting = {o: v for o, v in priced.items() if v["meets_target"]}
    pool = meeting or priced
    recommended = min(pool, key=lambda o: (pool[o]["gbp"], OPTIONS.index(o))) if pool else None
    s = model.flags.sensitivity
    robust = None
    if recommended is not None:
        mine = pool[recommended]["gbp"]
        robust = all(mine * (1 + s) <= v["gbp"] * (1 - s)
                     for o, v in pool.items() if o != recommended)
    per = pool[recommended]["per_premises"] if recommended else None
    return {"mst_m": None if mst_m is None else round(mst_m, 1),
            "link_m": None if link_m is None or not fibre else round(link_m, 1),
            "route_m": None if route is None else round(route, 1),
            "options": options, "recommended": recommended,
            "recommended_gbp": pool[recommended]["gbp"] if recommended else None,
            "per_premises_gbp": per, "meets_target": bool(meeting),
            "very_high_cost": per is not None and per > model.flags.very_high_cost_gbp,
            "robust": robust}


def totals(groups: list[dict[str, Any]]) -> dict[str, Any]:
    """Premises, expected premises, the recommended cost split by option, cost per premises."""
    premises = sum(g["premises"] for g in groups)
    by_option = {o: {"groups": 0, "premises": 0, "gbp": 0.0} for o in OPTIONS}
    for g in groups:
        if g["recommended"]:
            b = by_option[g["recommended"]]
            b["groups"] += 1
            b["premises"] += g["premises"]
            b["gbp"] = round(b["gbp"] + g["recommended_gbp"], 2)
    gbp = round(sum(b["gbp"] for b in by_option.values()), 2)
    return {"clusters": sum(1 for g in groups if g["id"]),
            "clustered_premises": sum(g["premises"] for g in groups if g["id"]),
            "isolated_premises": sum(g["premises"] for g in groups if not g["id"]),
            "premises": premises, "expected": round(sum(g["expected"] for g in groups), 3),
            "targets": sum(g["targets"] for g in groups),
            "most_deprived": sum(g["most_deprived"] for g in groups),
            "very_high_cost": sum(1 for g in groups if g["very_high_cost"]),
            "not_robust": sum(1 for g in groups if g["robust"] is False),
            "recommended_gbp": gbp, "per_premises_gbp": round(gbp / premises, 2) if premises else None,
            "by_option": by_option}


# -- minimum spanning trees ---------------------------------------------------------------------
def mst_by_cluster(rows: list[tuple]) -> dict[int, float]:
    """{cluster: length of the Euclidean minimum spanning tree of its points} from rows of
    (cluster, x, y) sorted by cluster."""
    if not rows:
        return {}
    data = np.asarray(rows, dtype=float)
    ids = data[:, 0].astype(int)
    cuts = np.flatnonzero(np.diff(ids)) + 1
    out = {}
    for part in np.split(np.arange(len(ids)), cuts):
        out[int(ids[part[0]])] = mst_length(data[part, 1:])
    return out


def mst_length(points: np.ndarray) -> float:
    """The length of the Euclidean minimum spanning tree of ``points`` (n x 2).

    The tree is a subgraph of the Delaunay triangulation, so Kruskal's algorithm runs over the
    triangulation's O(n) edges (GEOS, through shapely) instead of all n(n-1)/2 pairs. Premises
    at the same point (flats) are one vertex: they add nothing to the route."""
    pts = np.unique(np.asarray(points, dtype=float), axis=0)
    n = len(pts)
    if n < 2:
        return 0.0
    if n == 2:
        return float(np.hypot(*(pts[1] - pts[0])))
    edges = shapely.get_coordinates(
        shapely.delaunay_triangles(shapely.multipoints(pts), only_edges=True))
    index = {(x, y): i for i, (x, y) in enumerate(map(tuple, pts))}
    ends = np.array([index[(x, y)] for x, y in map(tuple, edges)]).reshape(-1, 2)
    a, b = ends[:, 0], ends[:, 1]
    length = np.hypot(*(pts[a] - pts[b]).T)
    parent = np.arange(n)

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    total, joined = 0.0, 0
    for e in np.argsort(length, kind="stable"):
        ra, rb = root(a[e]), root(b[e])
        if ra != rb:
            parent[ra] = rb
            total += float(length[e])
            joined += 1
            if joined == n - 1:
                break
    if joined != n - 1:  # a triangulation always connects its points; refuse to guess
        raise RuntimeError(f"the Delaunay edges of {n} points did not connect them")
    return total


# -- from an authority or a list ----------------------------------------------------------------
def prepare(conn: psycopg.Connection, model: CostModel, params: Params, *, la: str,
            snapshot_id: int | None = None, run: str | None = None) -> tuple[runs.Run, int]:
    """Fill the input tables for ``la`` (its current targets, or a list's snapshot in it);
    returns the run the network and targets come from and the authority's target count."""
    code = check_authority(conn, la)
    chosen = runs.by_label(conn, run)
    create_input_tables(conn)
    if snapshot_id is None:
        stage_authority(conn, chosen, code, params)
    else:
        stage_snapshot(conn, chosen, snapshot_id, code, params)
    stage_network(conn, chosen, params)
    return chosen, authority_targets(conn, chosen, code, params.probability_below)


def clusters(conn: psycopg.Connection, model: CostModel, params: Params, *, la: str,
             snapshot_id: int | None = None, run: str | None = None,
             progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """The clusters of ``la``'s targets (or of a list's snapshot in ``la``), costed."""
    say = progress or (lambda message: None)
    say("selecting premises")
    t0 = time.perf_counter()
    chosen, targets = prepare(conn, model, params, la=la, snapshot_id=snapshot_id, run=run)
    staged = time.perf_counter() - t0
    result = analyse(conn, model, params, progress=progress)
    result["steps"]["prepare_s"] = round(staged, 3)
    t = result["totals"]
    t["authority_targets"] = targets
    t["share_of_targets"] = round(t["targets"] / targets, 4) if targets else None
    return {"authority": la.strip().upper(), "run": chosen.label, "synthetic": chosen.synthetic,
            "snapshot": snapshot_id, **result}


__all__ = ["NETWORK_PROXY", "NETWORK_SEARCH_M", "Params", "analyse", "clusters", "cost",
           "create_input_tables", "mst_length", "params_from", "prepare", "totals"]
