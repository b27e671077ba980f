"""Intervention plans: chosen clusters of an authority's targets (or of a saved list's
premises), frozen with their figures, outlines and premises, their totals, and two plans side by
side. The plan records are ORM objects (models.py); the clustering and costing
(``connectivity.planning``) and the frozen premises are set-based SQL on the session's own
connection, so a plan and its clusters are saved in one transaction. Scoping: a plan belongs to
one authority, seen by the accounts whose scope holds it (scope.py). Design: docs/planning.md."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from .. import planning
from ..costs import OPTIONS, CostModel
from ..db import SCHEMA
from ..errors import BadRequest, Forbidden, NotFound
from . import audit
from .lists import get_list, get_snapshot, raw
from .models import Account, Plan, PlanCluster
from .scope import in_scope, visible_authorities

#: the figures of a cluster kept in gapmap.plan_cluster (outline and centroid aside)
CLUSTER_COLUMNS = (
    "cluster_id", "kind", "premises", "settled", "expected", "targets", "planned_members",
    "planned_nearby", "need_wimd_rank", "lsoas", "most_deprived", "served_distance_m", "mst_m",
    "link_m", "route_m", "fibre_gbp", "fixed_wireless_gbp", "leo_satellite_gbp", "recommended",
    "recommended_gbp", "per_premises_gbp", "meets_target", "very_high_cost", "robust")
_SQL_TYPES = {"cluster_id": "integer", "kind": "text", "premises": "integer",
              "settled": "integer", "expected": "real", "targets": "integer",
              "planned_members": "integer", "planned_nearby": "integer",
              "need_wimd_rank": "real", "lsoas": "integer", "most_deprived": "integer",
              "served_distance_m": "real", "mst_m": "real", "link_m": "real", "route_m": "real",
              "fibre_gbp": "float8", "fixed_wireless_gbp": "float8",
              "leo_satellite_gbp": "float8", "recommended": "text", "recommended_gbp": "float8",
              "per_premises_gbp": "float8", "meets_target": "boolean",
              "very_high_cost": "boolean", "robust": "boolean"}


def _may_change(account: Account | None) -> None:
    if account is not None and not account.may_change:
        raise Forbidden("viewers may read plans, not create them")


# -- the plans an account sees ------------------------------------------------------------------
def _visible(account: Account | None):
    stmt = select(Plan).order_by(Plan.name)
    return stmt if account is None else stmt.where(in_scope(Plan.la_code, account))


def visible_plans(session: Session, account: Account | None) -> list[Plan]:
    return list(session.scalars(_visible(account)))


def get_plan(session: Session, account: Account | None, ident: Any) -> Plan:
    """The plan with id or name ``ident`` if ``account`` may see it, else NotFound (the same
    answer for a plan outside the scope and one that does not exist)."""
    text = str(ident).strip()
    cond = Plan.name == text
    if text.isdigit() and len(text) < 19:
        cond = or_(Plan.id == int(text), Plan.name == text)
    found = session.scalars(_visible(account).where(cond)).first()
    if found is None:
        raise NotFound(f"no plan {text}")
    return found


# -- clusters for choosing ----------------------------------------------------------------------
def clusters_for(session: Session, account: Account | None, model: CostModel,
                 params: planning.Params, *, la: str, list_ident: Any = None,
                 progress=None) -> dict[str, Any]:
    """The costed clusters of ``la``'s targets, or of a list's latest snapshot in ``la``, as
    ``account`` may see them (NotFound outside its scope)."""
    code = _authority_in_scope(session, account, la)
    snapshot_id, list_name = _list_source(session, account, list_ident, code)
    result = planning.clusters(raw(session), model, params, la=code, snapshot_id=snapshot_id,
                               progress=progress)
    result["list"] = list_name
    return result


def _authority_in_scope(session: Session, account: Account | None, la: str) -> str:
    code = planning.check_authority(raw(session), la)
    if account is not None and code not in visible_authorities(session, account):
        raise NotFound(f"no local authority {code}")
    return code


def _list_source(session: Session, account: Account | None, ident: Any,
                 la: str) -> tuple[int | None, str | None]:
    if ident in (None, ""):
        return None, None
    target = get_list(session, account, ident)
    if la not in target.la_codes:
        raise BadRequest(f"list {target.name} does not belong to {la}",
                         f"its authorities: {', '.join(target.la_codes)}")
    return get_snapshot(target).id, target.name


# -- creating -----------------------------------------------------------------------------------
def create_plan(session: Session, *, name: str, owner: Account, la: str, model: CostModel,
                params: planning.Params, cluster_ids: list[int] | None = None,
                list_ident: Any = None, notes: str = "", actor: str,
                by: Account | None = None, client: str | None = None,
                progress=None) -> Plan:
    """Cluster and cost ``la``'s targets (or a list's snapshot in ``la``) and save the clusters
    ``cluster_ids`` (None: every cluster and the isolated premises, id 0) as a plan, frozen.
    Audited (``plan.create``)."""
    _may_change(by)
    _may_change(owner)
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise BadRequest("a plan needs a name of 1 to 200 characters")
    if len(notes or "") > 10_000:
        raise BadRequest("notes are limited to 10,000 characters")
    if session.scalar(select(Plan.id).where(Plan.name == name)) is not None:
        raise BadRequest(f"a plan named {name!r} exists already", "choose another name")
    code = _authority_in_scope(session, by, la)
    if code not in visible_authorities(session, owner):
        raise BadRequest(f"{code}: not an authority of {owner.email}",
                         "a plan belongs to an authority of its owner")
    snapshot_id, list_name = _list_source(session, by, list_ident, code)
    conn = raw(session)
    result = planning.clusters(conn, model, params, la=code, snapshot_id=snapshot_id,
                               progress=progress)
    groups = result["clusters"] + ([result["isolated"]] if result["isolated"] else [])
    known = {g["id"] for g in groups}
    if cluster_ids is None:
        chosen = sorted(known)
    else:
        chosen = sorted(set(int(c) for c in cluster_ids))
        unknown = [c for c in chosen if c not in known]
        if unknown:
            raise BadRequest(
                f"no cluster {', '.join(map(str, unknown))} in {code} with these settings",
                f"the clusters are 1 to {len(result['clusters'])}"
                + (" and 0 (the isolated premises)" if result["isolated"] else "")
                + ": see `connectivity plan clusters --area CODE`")
    if not chosen:
        raise BadRequest(f"{code} has no target premises to plan for with these settings")
    run = conn.execute(f"SELECT id, releases FROM {SCHEMA}.classification_run WHERE label = %s",
                       (result["run"],)).fetchone()
    plan = Plan(name=name, la_code=code, owner_id=owner.id, notes=notes or "",
                target=params.target, list_id=None, snapshot_id=snapshot_id,
                list_name=list_name, run_id=run[0], run_label=result["run"], releases=run[1],
                synthetic=result["synthetic"], costs_version=model.version,
                costs=model.as_dict(), distance_m=params.distance_m,
                min_premises=params.min_premises, probability_below=params.probability_below,
                authority_targets=result["totals"]["authority_targets"], created_by=actor)
    if list_ident not in (None, ""):
        plan.list_id = get_list(session, by, list_ident).id
    session.add(plan)
    session.flush()
    rows = [_cluster_row(g) for g in groups if g["id"] in chosen]
    spec = ", ".join(f"{c} {_SQL_TYPES[c]}" for c in CLUSTER_COLUMNS)
    conn.execute(
        f"""INSERT INTO {SCHEMA}.plan_cluster (plan_id, {', '.join(CLUSTER_COLUMNS)}, outline,
                                               centroid)
            SELECT %(plan)s, {', '.join('v.' + c for c in CLUSTER_COLUMNS)}, o.outline, o.centroid
            FROM jsonb_to_recordset(%(rows)s::jsonb) AS v({spec})
            LEFT JOIN (SELECT cluster_id, {planning.OUTLINE_SQL} AS outline,
                              ST_Centroid(ST_Collect(geom)) AS centroid
                       FROM plan_member WHERE cluster_id > 0 GROUP BY 1) o USING (cluster_id)""",
        {"plan": plan.id, "rows": json.dumps(rows), "eps": params.distance_m})
    conn.execute(
        f"""INSERT INTO {SCHEMA}.plan_premises (plan_id, cluster_id, uprn, status,
                probability_below, planned_build, is_target, lsoa, wimd_rank, geom)
            SELECT %(plan)s, m.cluster_id, m.uprn, m.status, m.probability_below,
                   m.planned_build, m.is_target, m.lsoa, w.wimd_rank, m.geom
            FROM plan_member m LEFT JOIN {SCHEMA}.wimd w ON w.lsoa_code = m.lsoa
            WHERE m.cluster_id = ANY(%(chosen)s)""", {"plan": plan.id, "chosen": chosen})
    session.expire(plan, ["clusters"])
    data = plan_dict(session, plan, with_clusters=False)
    audit.record(session, "plan.create", account=by, actor=actor, object_type="plan",
                 object_id=plan.id, client=client,
                 detail={"name": name, "authority": code, "target": params.target,
                         "list": list_name, "run": result["run"],
                         "costs_version": model.version, "clusters": chosen,
                         "premises": data["totals"]["premises"],
                         "recommended_gbp": data["totals"]["recommended_gbp"]})
    return plan


def _cluster_row(group: dict[str, Any]) -> dict[str, Any]:
    row = {c: group.get(c) for c in CLUSTER_COLUMNS}
    row["cluster_id"] = group["id"]
    for option in OPTIONS:
        o = group["options"].get(option)
        row[f"{option}_gbp"] = None if o is None else o["gbp"]
    return row


# -- reading ------------------------------------------------------------------------------------
def cluster_dict(c: PlanCluster, model: CostModel | None = None) -> dict[str, Any]:
    data = {col: getattr(c, col) for col in CLUSTER_COLUMNS}
    data["id"] = data.pop("cluster_id")
    data["per_option"] = {
        o: None if getattr(c, f"{o}_gbp") is None else {
            "gbp": getattr(c, f"{o}_gbp"),
            "per_premises": round(getattr(c, f"{o}_gbp") / c.premises, 2) if c.premises else None}
        for o in OPTIONS}
    return data


def plan_totals(plan: Plan) -> dict[str, Any]:
    """What the plan reaches: premises, expected premises, the recommended cost by option and
    per premises, the share of the authority's targets, the premises in the most deprived WIMD
    quintile."""
    groups = [{"id": c.cluster_id, "premises": c.premises, "expected": c.expected,
               "targets": c.targets, "most_deprived": c.most_deprived,
               "very_high_cost": c.very_high_cost, "robust": c.robust,
               "recommended": c.recommended, "recommended_gbp": c.recommended_gbp or 0.0}
              for c in plan.clusters]
    t = planning.totals(groups)
    t["expected"] = round(t["expected"], 1)
    t["authority_targets"] = plan.authority_targets
    t["share_of_targets"] = (round(t["targets"] / plan.authority_targets, 4)
                             if plan.authority_targets else None)
    return t


def plan_dict(session: Session, plan: Plan, *, with_clusters: bool = True) -> dict[str, Any]:
    data = {"id": plan.id, "name": plan.name, "authority": plan.la_code,
            "owner": plan.owner.email, "notes": plan.notes, "target": plan.target,
            "list": plan.list_name, "snapshot": plan.snapshot_id, "run": plan.run_label,
            "releases": plan.releases, "synthetic": plan.synthetic,
            "costs_version": plan.costs_version,
            "clustering": {"distance_m": plan.distance_m, "min_premises": plan.min_premises,
                           "probability_below": plan.probability_below},
            "network_proxy": planning.NETWORK_PROXY,
            "created_by": plan.created_by, "created_at": plan.created_at,
            "totals": plan_totals(plan)}
    if with_clusters:
        data["clusters"] = [cluster_dict(c) for c in plan.clusters]
    return data


def compare(session: Session, a: Plan, b: Plan) -> dict[str, Any]:
    """Two plans side by side: their totals, the difference (b - a) of each figure, and the
    premises they share."""
    ta, tb = plan_totals(a), plan_totals(b)
    shared = raw(session).execute(
        f"""SELECT count(*) FROM {SCHEMA}.plan_premises x JOIN {SCHEMA}.plan_premises y
            USING (uprn) WHERE x.plan_id = %s AND y.plan_id = %s""", (a.id, b.id)).fetchone()[0]
    figures = ("clusters", "premises", "expected", "targets", "most_deprived",
               "recommended_gbp", "per_premises_gbp", "share_of_targets", "very_high_cost")
    diff = {f: (None if ta[f] is None or tb[f] is None else round(tb[f] - ta[f], 4))
            for f in figures}
    return {"a": plan_dict(session, a, with_clusters=False),
            "b": plan_dict(session, b, with_clusters=False),
            "difference": diff, "shared_premises": shared}


# -- outlines for a map -------------------------------------------------------------------------
def member_outlines(session: Session, params: planning.Params) -> dict[int, dict[str, Any]]:
    """{cluster id: its outline as a GeoJSON geometry in WGS84} of the clusters just made
    (``plan_member`` of this session, as :func:`clusters_for` leaves it)."""
    rows = raw(session).execute(
        f"""SELECT cluster_id, ST_AsGeoJSON(ST_Transform({planning.OUTLINE_SQL}, 4326), 6)
            FROM plan_member WHERE cluster_id > 0 GROUP BY cluster_id ORDER BY cluster_id""",
        {"eps": params.distance_m}).fetchall()
    return {cid: json.loads(shape) for cid, shape in rows}


def plan_outlines(session: Session, plan: Plan) -> dict[int, dict[str, Any]]:
    """{cluster id: its frozen outline as a GeoJSON geometry in WGS84} of a plan's clusters."""
    rows = raw(session).execute(
        f"""SELECT cluster_id, ST_AsGeoJSON(ST_Transform(outline, 4326), 6)
            FROM {SCHEMA}.plan_cluster WHERE plan_id = %s AND outline IS NOT NULL
            ORDER BY cluster_id""", (plan.id,)).fetchall()
    return {cid: json.loads(shape) for cid, shape in rows}
