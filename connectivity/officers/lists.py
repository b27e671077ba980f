"""Saved target lists: a definition (filters, a polygon) evaluated on a classification run into a
frozen snapshot of premises, refreshed on a newer run (what was added, removed and changed) and
exported. The list records are ORM objects (models.py); counting, snapshots, diffs and exports are
set-based SQL over the run's tables, run on the session's own connection, so a list and its
snapshot are saved in one transaction. Scoping: a list belongs to authorities
(``target_list_area``), and an account sees it when any of them is in its scope (scope.py).
Design and reasons: docs/lists.md."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session

from .. import runs
from ..db import SCHEMA
from ..errors import BadRequest, Forbidden, NotFound
from ..outputs import EXPORT_COLUMNS, export_columns_sql, used_speedtests, write_query
from ..reasons import SPEEDTEST_COLUMNS, missing_columns_sql, source_name_sql
from ..vocab import EVIDENCE, LANGS, REASONS, SCHEMES, STATUSES
from . import audit
from .listfilters import ListFilters, area_levels, wimd_lsoas
from .models import Account, TargetList, TargetListArea, TargetListSnapshot
from .scope import in_scope, visible_authorities

FORMATS = ("csv", "gpkg", "geojson")
#: what a snapshot keeps of each premises (gapmap.target_list_premises, geom aside)
SNAPSHOT_COLUMNS = (
    "uprn", "la_code", "postcode", "status", "probability_below", "best_down", "best_up", "band",
    "uso", "evidence", "evidence_release", "gigabit_class", "planned_build", "contract_name",
    "supplier", "final_coverage_date", "eligible_abc", "abc_reason", "eligible_lbf", "lbf_reason",
    "eligible_uso", "uso_reason", "eligible_voucher", "voucher_reason", *SPEEDTEST_COLUMNS)
#: what a snapshot keeps of each premises' AddressBase record (migration 0014), as it was when
#: the snapshot was taken: a later AddressBase load does not rewrite a list (docs/lists.md)
ADDRESS_COLUMNS = ("address_en", "address_cy", "parent_uprn", "class_code")
#: what a refresh compares, premises by premises
COMPARED = ("status", "band", "eligible_abc", "eligible_lbf", "eligible_uso", "eligible_voucher",
            "planned_build")
LIST_EXPORT_COLUMNS = [*EXPORT_COLUMNS, *ADDRESS_COLUMNS, "release_published", "list_name",
                       "snapshot"]
SORTS = ("uprn", "postcode", "status", "probability_below", "best_down", "band", "la_code")
PAGE_SIZE = 50


def raw(session: Session):
    """The psycopg connection under ``session`` (the same transaction)."""
    return session.connection().connection.driver_connection


# -- evaluating a definition ----------------------------------------------------------------
def selection(conn, run_id: int, filters: ListFilters, polygon_wkb: bytes | None,
              authorities: list[str] | None, *, full: bool = True,
              leave_out: list[int] | None = None,
              addresses: bool = False) -> tuple[str, dict[str, Any]]:
    """``FROM ... WHERE ...`` over run ``run_id`` for the premises the definition selects
    (aliases: c the run's classification, m premises_place, p premises, and with ``addresses``
    a, the premises' AddressBase record in gapmap.address, LEFT JOINed). Unless
    ``full`` (a snapshot needs the authority and the point of every premises), the areas and the
    points are joined only when a filter needs them: a count of a whole run reads one table.
    ``leave_out``: UPRNs left out (what :func:`count` has instead of ``authorities`` when
    every premises of the run but these is in them)."""
    where, params = filters.where(area_levels(conn, filters.area), wimd_lsoas(conn, filters))
    if authorities is not None:
        where.insert(0, "m.la = ANY(%(authorities)s)")
        params["authorities"] = list(authorities)
    if leave_out:
        where.insert(0, "c.uprn <> ALL(%(leave_out)s)")
        params["leave_out"] = list(leave_out)
    if polygon_wkb is not None:
        where.append("ST_Intersects(p.geom, ST_GeomFromWKB(%(polygon)s, 27700))")
        params["polygon"] = polygon_wkb
    areas = full or authorities is not None or bool(filters.area) or filters.needs_wimd
    points = full or polygon_wkb is not None
    sql = (f"FROM {SCHEMA}.premises_class_{int(run_id)} c "
           + (f"JOIN {SCHEMA}.premises_place m USING (uprn) " if areas else "")
           + (f"JOIN {SCHEMA}.premises p USING (uprn) " if points else "")
           + (f"LEFT JOIN {SCHEMA}.address a ON a.uprn = c.uprn " if addresses else "")
           + (f"WHERE {' AND '.join(where)}" if where else ""))
    return sql, params


def _counts_sql() -> str:
    by_status = ", ".join(f"count(*) FILTER (WHERE status = '{s}')" for s in STATUSES.codes)
    by_scheme = ", ".join(f"count(*) FILTER (WHERE eligible_{s} = 'eligible'), "
                          f"count(*) FILTER (WHERE eligible_{s} = 'possibly')"
                          for s in SCHEMES.codes)
    return f"count(*), {by_status}, {by_scheme}"


def _counts(row: tuple) -> dict[str, Any]:
    total, *rest = row
    status = dict(zip(STATUSES.codes, rest[:len(STATUSES)], strict=True))
    pairs = rest[len(STATUSES):]
    scheme = {s: {"eligible": pairs[2 * i], "possibly": pairs[2 * i + 1]}
              for i, s in enumerate(SCHEMES.codes)}
    return {"total": total, "status": status, "scheme": scheme}


def count(conn, account: Account | None, filters: ListFilters, *, polygon=None,
          authorities: list[str] | None = None, run: str | None = None) -> dict[str, Any]:
    """The live count: how many premises the definition selects on ``run`` (default: the
    current one), by status and scheme, within ``authorities`` (default: the account's scope).

    Exact, and as cheap as the definition allows (docs/lists.md, "Performance"): authorities
    and nothing else are summed from the run's statistics per authority; an admin's every
    authority, which holds every premises but a few, leaves those few out by UPRN instead of
    joining the areas of every premises; the rest is one statement over the run's table,
    joined to the areas and the points only when a filter needs them."""
    chosen = runs.by_label(conn, run)
    scope = _authorities_for_count(conn, account, authorities)
    # premises_place is rebuilt only by the classification that makes its run current, so the
    # current run's statistics were counted over the premises_place there is now
    current = run is None or getattr(runs.current(conn), "id", None) == chosen.id
    row = None
    if current and polygon is None:
        row = _from_statistics(conn, chosen, filters, scope)
    if row is None:
        within, leave_out = scope, None
        if current and scope is not None and not filters.area and not filters.needs_wimd:
            leave_out = _outside(conn, chosen, scope)
            if leave_out is not None:
                within = None
        frm, params = selection(conn, chosen.id, filters, _wkb(polygon), within, full=False,
                                leave_out=leave_out)
        row = _without_jit(conn, f"SELECT {_counts_sql()} {frm}", params)
    return {"run": chosen.label, "authorities": scope, **_counts(row)}


#: at most this many premises outside a count's authorities are left out by UPRN rather than
#: by joining every premises' areas (an admin's authorities hold every premises but a few)
OUTSIDE_MAX = 10_000


def _la_statistics(conn, run: runs.Run) -> list[dict[str, Any]]:
    """The run's statistics of every authority (``area_stats_<id>``), a dict per authority."""
    cur = conn.execute(f"SELECT * FROM {SCHEMA}.area_stats_{int(run.id)} WHERE level = 'la'")
    names = [d.name for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def _from_statistics(conn, run: runs.Run, filters: ListFilters,
                     scope: list[str] | None) -> tuple | None:
    """The counts of a definition that is authorities and nothing else (the builder's first
    count) on the current run ``run``, summed from its statistics per authority: the same
    premises, counted over the same premises_place. None for any other definition. A count
    the statistics do not hold (the voucher's 'possibly') is counted from the run's table,
    over those premises only."""
    if filters != ListFilters(area=filters.area):
        return None
    codes = None if scope is None else set(scope)
    if filters.area:
        if any(level != "la" for level in area_levels(conn, filters.area).values()):
            return None
        codes = set(filters.area) if codes is None else codes & set(filters.area)
    if codes is None:
        return None  # every premises of the run: one table anyway
    rows = [r for r in _la_statistics(conn, run) if r["code"] in codes]
    wanted = [("premises", "true"), *((s, f"status = '{s}'") for s in STATUSES.codes),
              *((f"{s}_{kind}", f"eligible_{s} = '{kind}'")
                for s in SCHEMES.codes for kind in ("eligible", "possibly"))]
    if not rows:
        return (0,) * len(wanted)
    missing = [(name, cond) for name, cond in wanted if name not in rows[0]]
    extra: dict[str, int] = {}
    if missing:
        conds = [cond for _, cond in missing]
        got = _without_jit(
            conn,
            f"SELECT {', '.join(f'count(*) FILTER (WHERE {c})' for c in conds)} "
            f"FROM {SCHEMA}.premises_class_{int(run.id)} c "
            f"JOIN {SCHEMA}.premises_place m USING (uprn) "
            f"WHERE m.la = ANY(%(codes)s) AND ({' OR '.join(conds)})",
            {"codes": sorted(codes)})
        extra = {name: n for (name, _), n in zip(missing, got, strict=True)}
    return tuple(extra[name] if name in extra else int(sum(r[name] or 0 for r in rows))
                 for name, _ in wanted)


def _outside(conn, run: runs.Run, authorities: list[str]) -> list[int] | None:
    """The premises of the current run ``run`` outside ``authorities``, when they are few and
    provably all of them; else None (the count joins premises_place instead).

    The run's statistics say how many premises each authority holds; when those of
    ``authorities`` add up to every premises of the run, nothing is outside and the count reads
    the run's table alone. When a few are missing, they are looked up (premises with no
    authority, or one of the others) and used only if exactly that many are found: then every
    other premises has an authority in the list, and leaving these out is the same as the
    join."""
    stats = _la_statistics(conn, run)
    wanted = set(authorities)
    missing = run.premises - sum(r["premises"] or 0 for r in stats if r["code"] in wanted)
    if missing == 0:
        return []
    if not 0 < missing <= OUTSIDE_MAX:
        return None
    others = sorted(r["code"] for r in stats if r["code"] not in wanted)
    found = [r[0] for r in conn.execute(
        f"""SELECT m.uprn FROM {SCHEMA}.premises_place m
            JOIN {SCHEMA}.premises_class_{int(run.id)} c USING (uprn)
            WHERE m.la IS NULL OR m.la = ANY(%s)""", (others,), prepare=False)]
    return found if len(found) == missing else None


def _without_jit(conn, sql: str, params: dict[str, Any]) -> tuple:
    """``sql``'s one row, planned for its own parameters with JIT off, the setting put back
    afterwards (in a savepoint, or a transaction of its own on an autocommit connection).

    Never prepared: psycopg prepares a query run five times, and PostgreSQL may then plan it
    once for any parameters, guessing how many premises ``= ANY(%s)`` keeps (the LSOAs of
    three WIMD deciles were taken for a handful, and a 0.2 s count took 5.5 s). JIT: a count
    costs the planner more than jit_above_cost, and compiling its thirteen aggregates took
    40-60 ms of a 200 ms count; the web pool's connections have JIT off, the ORM's do not."""
    with conn.transaction():
        jit = conn.execute("SELECT current_setting('jit')").fetchone()[0]
        conn.execute("SELECT set_config('jit', 'off', true)")
        row = conn.execute(sql, params, prepare=False).fetchone()
        conn.execute("SELECT set_config('jit', %s, true)", (jit,))
    return row


def _authorities_for_count(conn, account: Account | None, wanted: list[str] | None) -> list[str] | None:
    if account is None:
        return list(wanted) if wanted else None
    seen = sorted(r[0] for r in conn.execute(
        f"SELECT {SCHEMA}.account_authorities(%s)", (account.id,)))
    if wanted:
        outside = sorted(set(wanted) - set(seen))
        if outside:
            raise NotFound(f"no authority {', '.join(outside)}")
        return sorted(set(wanted))
    return seen


def _wkb(polygon) -> bytes | None:
    if polygon is None:
        return None
    if hasattr(polygon, "wkb"):
        return polygon.wkb
    from geoalchemy2.shape import to_shape

    return to_shape(polygon).wkb


# -- the lists an account sees ----------------------------------------------------------------
def _visible(account: Account | None):
    stmt = select(TargetList).order_by(TargetList.name)
    if account is None:  # the command line, run by the service's operator
        return stmt
    return stmt.where(exists().where(TargetListArea.list_id == TargetList.id,
                                     in_scope(TargetListArea.la_code, account)))


def visible_lists(session: Session, account: Account | None) -> list[TargetList]:
    return list(session.scalars(_visible(account)))


def get_list(session: Session, account: Account | None, ident: Any) -> TargetList:
    """The list with id or name ``ident`` if ``account`` may see it, else NotFound (the same
    answer for a list outside the scope and one that does not exist)."""
    text = str(ident).strip()
    cond = TargetList.name == text
    if text.isdigit() and len(text) < 19:  # an id, or a name made of digits
        cond = or_(TargetList.id == int(text), TargetList.name == text)
    found = session.scalars(_visible(account).where(cond)).first()
    if found is None:
        raise NotFound(f"no list {text}")
    return found


def get_snapshot(target: TargetList, snapshot_id: Any = None) -> TargetListSnapshot:
    if snapshot_id in (None, ""):
        if target.latest is None:
            raise NotFound(f"list {target.name} has no snapshot")
        return target.latest
    for snap in target.snapshots:
        if str(snap.id) == str(snapshot_id).strip():
            return snap
    raise NotFound(f"list {target.name} has no snapshot {snapshot_id}")


def _may_change(account: Account | None) -> None:
    if account is not None and not account.may_change:
        raise Forbidden("viewers may read lists, not create or change them")


# -- creating and refreshing -----------------------------------------------------------------
def create_list(session: Session, *, name: str, owner: Account, filters: ListFilters,
                polygon=None, authorities: list[str] = (), notes: str = "",
                run: str | None = None, actor: str, by: Account | None = None,
                client: str | None = None) -> TargetList:
    """Save a list and its first snapshot (evaluated on ``run``, default the current one).
    ``authorities`` default to the owner's; an admin owner's default to the authorities of the
    premises selected. Audited (``list.create``)."""
    from geoalchemy2.shape import from_shape

    _may_change(by)
    _may_change(owner)
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise BadRequest("a list needs a name of 1 to 200 characters")
    if len(notes or "") > 10_000:
        raise BadRequest("notes are limited to 10,000 characters")
    if session.scalar(select(TargetList.id).where(TargetList.name == name)) is not None:
        raise BadRequest(f"a list named {name!r} exists already", "choose another name")
    conn = raw(session)
    chosen = runs.by_label(conn, run)
    scope = visible_authorities(session, owner)
    wanted = sorted({a.strip().upper() for a in authorities if a.strip()})
    outside = [a for a in wanted if a not in scope]
    if outside:
        raise BadRequest(f"{', '.join(outside)}: not an authority of {owner.email}",
                         f"choose among {', '.join(scope) or '(none)'}")
    if by is not None and by.role != "admin":
        mine = visible_authorities(session, by)
        if any(a not in mine for a in wanted or owner.la_codes):
            raise NotFound("no such authority")
    chosen_areas: list[str] | None = wanted or (owner.la_codes if owner.role != "admin" else None)
    if owner.role != "admin" and not chosen_areas:
        raise BadRequest(f"{owner.email} works in no authority", "give it one with users set --area")
    target = TargetList(name=name, notes=notes or "", owner_id=owner.id,
                        filters=filters.to_dict(),
                        polygon=None if polygon is None else from_shape(polygon, srid=27700))
    session.add(target)
    session.flush()
    snap = _snapshot(session, target, chosen, filters, chosen_areas, actor)
    if chosen_areas is None:
        chosen_areas = [r[0] for r in conn.execute(
            f"SELECT DISTINCT la_code FROM {SCHEMA}.target_list_premises "
            "WHERE snapshot_id = %s AND la_code IS NOT NULL ORDER BY 1", (snap.id,))]
        if not chosen_areas:
            raise BadRequest("the list selects no premises, so it belongs to no authority",
                             "give its authorities (--authority CODE)")
    for code in chosen_areas:
        session.add(TargetListArea(list_id=target.id, la_code=code))
    session.flush()
    session.refresh(target)
    audit.record(session, "list.create", account=by, actor=actor, object_type="list",
                 object_id=target.id, client=client,
                 detail={"name": name, "filters": target.filters, "polygon": polygon is not None,
                         "authorities": chosen_areas, "run": chosen.label,
                         "premises": snap.premises})
    return target


def _snapshot(session: Session, target: TargetList, run: runs.Run, filters: ListFilters,
              authorities: list[str] | None, actor: str) -> TargetListSnapshot:
    conn = raw(session)
    releases = conn.execute(f"SELECT releases FROM {SCHEMA}.classification_run WHERE id = %s",
                            (run.id,)).fetchone()[0]
    snap = TargetListSnapshot(list_id=target.id, run_id=run.id, run_label=run.label,
                              releases=releases, synthetic=run.synthetic, premises=0,
                              created_by=actor)
    session.add(snap)
    session.flush()
    frm, params = selection(conn, run.id, filters, _wkb(target.polygon), authorities,
                            addresses=True)
    # never prepared, like a count (_without_jit): planned for its own areas and LSOAs
    # a run classified before speed tests were evidence has no speed test columns: NULLs
    missing = missing_columns_sql(conn, f"premises_class_{run.id}")
    cols = [f"NULL::{SPEEDTEST_COLUMNS[c]}" if f" AS {c}" in missing else f"c.{c}"
            for c in SNAPSHOT_COLUMNS]
    cols[1] = "m.la"
    # the address as AddressBase holds it now (NULL without a record), kept from here on
    cols += [f"a.{c}" for c in ADDRESS_COLUMNS]
    names = ", ".join((*SNAPSHOT_COLUMNS, *ADDRESS_COLUMNS))
    n = conn.execute(
        f"""INSERT INTO {SCHEMA}.target_list_premises (snapshot_id, {names}, geom)
            SELECT %(snapshot)s, {', '.join(cols)}, p.geom {frm}""",
        {**params, "snapshot": snap.id}, prepare=False).rowcount
    snap.premises = n
    supply = _address_supply(conn, snap.id)
    if supply is not None:  # the snapshot rests on that AddressBase supply too
        snap.releases = {**(releases or {}), "addressbase": supply}
    session.flush()
    return snap


def _address_supply(conn, snapshot_id: int) -> str | None:
    """The label of the AddressBase supply whose records snapshot ``snapshot_id`` holds (None
    when it holds none): the load's release when one was given, else the supply date in the
    file's name (``AddressBasePlus_FULL_2026-01-01_001.csv``), else the day it was loaded. A
    load is a full supply and replaces gapmap.address, so its records are of one load."""
    row = conn.execute(
        f"""SELECT r.release, r.files, r.finished_at::date FROM {SCHEMA}.load_run r
            WHERE r.id = (SELECT a.run_id FROM {SCHEMA}.address a
                          JOIN {SCHEMA}.target_list_premises t ON t.uprn = a.uprn
                          WHERE t.snapshot_id = %s AND t.class_code IS NOT NULL LIMIT 1)""",
        (snapshot_id,)).fetchone()
    return None if row is None else supply_label(*row)


def supply_label(release: str | None, files: list | None, loaded) -> str:
    """An AddressBase load's label: its release, else the supply date in a file's name, else
    the day it was loaded (``loaded``, a date)."""
    if release:
        return str(release)
    for f in files or []:
        found = re.search(r"_(\d{4}-\d{2}-\d{2})_", str(f.get("name", "")))
        if found:
            return found.group(1)
    return loaded.isoformat()


def address_year(session: Session, snap: TargetListSnapshot) -> int | None:
    """The year of the AddressBase supply whose addresses snapshot ``snap`` holds, for the
    attribution its files carry; None when it holds no AddressBase record. The year of the
    supply's label, else (a label that is not a date) of the snapshot."""
    label = str((snap.releases or {}).get("addressbase") or "")
    if not label:
        held = raw(session).execute(
            f"SELECT EXISTS (SELECT 1 FROM {SCHEMA}.target_list_premises WHERE snapshot_id = %s "
            "AND class_code IS NOT NULL)", (snap.id,)).fetchone()[0]
        if not held:
            return None
    return int(label[:4]) if label[:4].isdigit() else snap.created_at.year


def refresh(session: Session, target: TargetList, *, accept: bool, actor: str,
            by: Account | None = None, client: str | None = None, run: str | None = None,
            lang: str = "en", limit: int | None = None) -> dict[str, Any]:
    """The list evaluated again on ``run`` (default: the current one) beside its latest
    snapshot: premises added, removed and changed (status, band, eligibility, planned build),
    each with the old and the new reasons. ``accept`` keeps it as a new snapshot (the old ones
    stay). Audited (``list.refresh``) when accepted."""
    if accept:
        _may_change(by)
    conn = raw(session)
    chosen = runs.by_label(conn, run)
    old = get_snapshot(target)
    filters = ListFilters.from_dict(target.filters)
    frm, params = selection(conn, chosen.id, filters, _wkb(target.polygon), target.la_codes)
    changed = " OR ".join(f"o.{c} IS DISTINCT FROM n.{c}" for c in COMPARED)
    reasons = [f"{s}_reason" for s in SCHEMES.codes]
    fields = ", ".join(f"o.{c} AS {c}_before, n.{c} AS {c}_after" for c in (*COMPARED, *reasons))
    diff_sql = f"""
        WITH n AS (SELECT c.*, m.la AS la {frm}),
             o AS (SELECT * FROM {SCHEMA}.target_list_premises WHERE snapshot_id = %(old)s)
        SELECT coalesce(n.uprn, o.uprn) AS uprn, coalesce(n.postcode, o.postcode) AS postcode,
               CASE WHEN o.uprn IS NULL THEN 'added' WHEN n.uprn IS NULL THEN 'removed'
                    ELSE 'changed' END AS change, {fields}
        FROM n FULL JOIN o USING (uprn)
        WHERE o.uprn IS NULL OR n.uprn IS NULL OR {changed}
        ORDER BY 3, 1"""
    cur = conn.execute(diff_sql + (f" LIMIT {int(limit)}" if limit else ""),
                       {**params, "old": old.id}, prepare=False)
    names = [d.name for d in cur.description]
    premises = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    totals = dict(conn.execute(
        f"SELECT change, count(*) FROM ({diff_sql}) d GROUP BY 1", {**params, "old": old.id},
        prepare=False).fetchall())
    for row in premises:
        for s in SCHEMES.codes:
            for when in ("before", "after"):
                code = row[f"{s}_reason_{when}"]
                row[f"{s}_reason_{when}_text"] = (REASONS[s].name(code, lang)
                                                  if code in REASONS[s] else code)
    result = {"list": target.name, "from": old.run_label, "from_snapshot": old.id,
              "to": chosen.label, "added": totals.get("added", 0),
              "removed": totals.get("removed", 0), "changed": totals.get("changed", 0),
              "premises": premises, "accepted": False, "snapshot": None}
    if accept:
        snap = _snapshot(session, target, chosen, filters, target.la_codes, actor)
        session.refresh(target)
        result.update(accepted=True, snapshot=snap.id, premises_now=snap.premises)
        audit.record(session, "list.refresh", account=by, actor=actor, object_type="list",
                     object_id=target.id, client=client,
                     detail={"from": old.run_label, "to": chosen.label, "snapshot": snap.id,
                             "added": result["added"], "removed": result["removed"],
                             "changed": result["changed"], "premises": snap.premises})
    return result


# -- reading a snapshot ----------------------------------------------------------------------
def summary(session: Session, snap: TargetListSnapshot) -> dict[str, Any]:
    """Counts by status and scheme of a snapshot."""
    row = raw(session).execute(
        f"SELECT {_counts_sql()} FROM {SCHEMA}.target_list_premises WHERE snapshot_id = %s",
        (snap.id,)).fetchone()
    return _counts(row)


def premises_page(session: Session, snap: TargetListSnapshot, *, page: int = 1,
                  per_page: int = PAGE_SIZE, sort: str = "uprn",
                  descending: bool = False) -> tuple[list[dict[str, Any]], int]:
    """One page of a snapshot's premises, sorted (then by UPRN), with WGS84 coordinates."""
    if sort not in SORTS:
        raise BadRequest(f"unknown sort {sort!r}; expected one of {', '.join(SORTS)}")
    if page < 1 or not 1 <= per_page <= 1000:
        raise BadRequest("page must be at least 1 and per_page between 1 and 1000")
    order = f"{sort} {'DESC' if descending else 'ASC'} NULLS LAST, uprn"
    cur = raw(session).execute(
        f"""SELECT {', '.join(SNAPSHOT_COLUMNS)}, {', '.join(ADDRESS_COLUMNS)},
                   round(ST_Y(ST_Transform(geom, 4326))::numeric, 6)::float8 AS latitude,
                   round(ST_X(ST_Transform(geom, 4326))::numeric, 6)::float8 AS longitude
            FROM {SCHEMA}.target_list_premises WHERE snapshot_id = %s
            ORDER BY {order} LIMIT %s OFFSET %s""", (snap.id, per_page, (page - 1) * per_page))
    names = [d.name for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()], snap.premises


def list_dict(session: Session, target: TargetList, *, with_summary: bool = True) -> dict[str, Any]:
    data = {"id": target.id, "name": target.name, "notes": target.notes,
            "owner": target.owner.email, "authorities": target.la_codes,
            "filters": target.filters, "polygon": target.polygon is not None,
            "created_at": target.created_at, "updated_at": target.updated_at,
            "snapshots": [{"id": s.id, "run": s.run_label, "releases": s.releases,
                           "premises": s.premises, "created_at": s.created_at,
                           "created_by": s.created_by, "synthetic": s.synthetic}
                          for s in target.snapshots]}
    if with_summary and target.latest is not None:
        data["counts"] = summary(session, target.latest)
    return data


# -- exports ---------------------------------------------------------------------------------
def _release_published_sql() -> str:
    whens = " ".join(f"WHEN '{t.code}' THEN '{t.release_source}'"
                     for t in EVIDENCE if t.release_source)
    return (f"(SELECT r.published FROM {SCHEMA}.release r WHERE r.label = c.evidence_release "
            f"AND r.source = CASE c.evidence {whens} END)")


def export_list(session: Session, target: TargetList, out: Path, fmt: str, *, actor: str,
                snapshot: Any = None, lang: str = "en", by: Account | None = None,
                client: str | None = None) -> int:
    """Write a snapshot (default: the latest) of ``target`` as CSV (UTF-8 with BOM), GeoPackage
    (EPSG:27700, with a QGIS style by status) or GeoJSON (WGS84), with reasons in ``lang``,
    release dates and the attribution (once per file: :func:`~connectivity.outputs.write_query`).
    Audited (``list.export``) with the row count."""
    if fmt not in FORMATS:
        raise BadRequest(f"unknown format {fmt!r}; expected csv, gpkg or geojson")
    if lang not in LANGS:
        raise BadRequest("lang must be en or cy")
    snap = get_snapshot(target, snapshot)
    conn = raw(session)
    chosen = runs.by_label(conn, snap.run_label, with_rules=True)
    rules = chosen.rules
    sql = f"""
        SELECT {export_columns_sql(lang, rules, "c.geom")},
               c.la_code, {', '.join(f'c.{c}' for c in ADDRESS_COLUMNS)},
               {_release_published_sql()} AS release_published,
               %(list)s AS list_name, %(snapshot)s AS snapshot
        FROM (SELECT *, {source_name_sql(lang)} AS source_name
              FROM {SCHEMA}.target_list_premises WHERE snapshot_id = %(snapshot_id)s) c
        ORDER BY c.uprn"""
    params = {"run": snap.run_label, "list": target.name, "snapshot_id": snap.id,
              "snapshot": f"{snap.id} ({snap.created_at:%Y-%m-%d %H:%M} UTC, classification "
                          f"{snap.run_label})"}
    rows = write_query(conn, out, fmt, sql, params, snap.run_label, snap.synthetic,
                       columns=LIST_EXPORT_COLUMNS,
                       speedtests=used_speedtests(conn, snap.run_label),
                       addresses=address_year(session, snap))
    audit.record(session, "list.export", account=by, actor=actor, object_type="list",
                 object_id=target.id, client=client,
                 detail={"format": fmt, "rows": rows, "snapshot": snap.id, "lang": lang})
    return rows


#: the most premises a list's map draws (every below-30 premises in Wales is about 120,000)
MAX_MAP_POINTS = 250_000


def snapshot_points(session: Session, snap: TargetListSnapshot,
                    limit: int = MAX_MAP_POINTS) -> dict[str, Any]:
    """Every premises of a snapshot for its map, compactly: ``[lon, lat, status, uprn]`` rows
    (WGS84 to 5 decimals, about a metre; the status as its index in ``statuses``), in UPRN order,
    at most ``limit`` of them (``truncated`` says so)."""
    statuses = list(STATUSES.codes)
    rows = raw(session).execute(
        f"""SELECT round(ST_X(ST_Transform(geom, 4326))::numeric, 5)::float8,
                   round(ST_Y(ST_Transform(geom, 4326))::numeric, 5)::float8,
                   array_position(%s::text[], status) - 1, uprn
            FROM {SCHEMA}.target_list_premises WHERE snapshot_id = %s AND geom IS NOT NULL
            ORDER BY uprn LIMIT %s""", (statuses, snap.id, limit + 1)).fetchall()
    return {"statuses": statuses, "points": [list(r) for r in rows[:limit]],
            "truncated": len(rows) > limit, "premises": snap.premises}
