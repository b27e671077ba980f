"""Feature collections for OGC API - Features (served by webmap/ogc.py): the premises of the current
classification and the areas of each level with their statistics. Set-based SQL; callers pass an
open connection. Nothing here knows about HTTP beyond raising ``BadRequest`` / ``NotFound``.

Geometry is stored in EPSG:27700 and answered in CRS84 (WGS84 longitude, latitude). A CRS84 bbox
is a curved shape on the British National Grid: it is densified (a vertex every 0.01 degree)
before it is transformed to 27700, so it follows the curves to within about 3 cm (finer than the
6-decimal coordinates answered) and the spatial index on ``geom`` does the filtering, with no
transform per premises.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg

from . import runs
from .db import SCHEMA
from .errors import BadRequest, NotFound
from .lookup import MAX_OFFSET, clip_to_service_area, parse_bbox
from .postcodes import normalise_postcode
from .vocab import BANDS, ELIGIBILITY, EVIDENCE, STATUSES

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
DEFAULT_LIMIT = 10
MAX_LIMIT = 10_000
#: a box the planner expects to hold at most this many premises is sorted in memory in one pass;
#: a larger one is counted, and its pages walk the UPRN index
SORTED_IN_ONE_PASS = 50_000


@dataclass(frozen=True)
class Prop:
    """One feature property: its SQL expression, JSON type and whether it can be filtered on."""

    name: str
    sql: str
    type: str  # JSON Schema type: string, integer, number, boolean
    description: str
    nullable: bool = False
    enum: tuple[str, ...] | None = None
    queryable: bool = False

    def schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "description": self.description}
        if self.enum:
            out["enum"] = list(self.enum)
        if self.nullable:
            out["nullable"] = True
        return out

    def parse(self, raw: str) -> Any:
        """A query-string value as the value to compare with; BadRequest when it cannot be one."""
        if self.name == "postcode":
            postcode = normalise_postcode(raw)
            if postcode is None:
                raise BadRequest(f"postcode={raw!r} is not a UK postcode; for example CF48 1AA")
            return postcode
        if self.name == "code":
            return raw.strip().upper()
        if self.enum is not None and raw not in self.enum:
            raise BadRequest(f"{self.name}={raw!r} is not one of {', '.join(self.enum)}")
        if self.type == "boolean":
            value = {"true": True, "1": True, "false": False, "0": False}.get(raw.lower())
            if value is None:
                raise BadRequest(f"{self.name} must be true or false, got {raw!r}")
            return value
        if self.type == "integer":
            try:
                return int(raw)
            except ValueError:
                raise BadRequest(f"{self.name} must be a whole number, got {raw!r}") from None
        return raw


@dataclass(frozen=True)
class Collection:
    id: str
    title: str
    description: str
    level: str | None  # area level; None for premises
    geometry_type: str
    properties: tuple[Prop, ...]

    @property
    def queryables(self) -> dict[str, Prop]:
        return {p.name: p for p in self.properties if p.queryable}

    @property
    def id_type(self) -> str:
        return "integer" if self.level is None else "string"


_PREMISES = Collection(
    id="premises",
    title="Premises",
    description="Every premises of the current classification: its best known download and "
                "upload speed, the evidence that decided its status, and whether Access Broadband "
                "Cymru (abc), the Local Broadband Fund (lbf) or the Universal Service Obligation "
                "(uso) may help. The feature id is the UPRN.",
    level=None,
    geometry_type="Point",
    properties=(
        Prop("uprn", "c.uprn", "integer", "Unique Property Reference Number", queryable=True),
        Prop("postcode", "c.postcode", "string", "Postcode", nullable=True, queryable=True),
        Prop("status", "c.status", "string", "Below 30 Mbit/s, possibly below, above, or unknown",
             enum=STATUSES.codes, queryable=True),
        Prop("probability_below", "c.probability_below", "number",
             "Probability that the premises cannot get 30 Mbit/s (0 to 1)", nullable=True),
        Prop("best_down_mbps", "c.best_down", "number", "Best predicted download, Mbit/s",
             nullable=True),
        Prop("best_up_mbps", "c.best_up", "number", "Best predicted upload, Mbit/s", nullable=True),
        Prop("band", "c.band", "string", "Ofcom download band, Mbit/s", nullable=True, enum=BANDS.codes,
             queryable=True),
        Prop("evidence", "c.evidence", "string", "The strongest evidence about the premises",
             enum=EVIDENCE.codes, queryable=True),
        Prop("evidence_release", "c.evidence_release", "string", "Release of that evidence",
             nullable=True, queryable=True),
        Prop("eligible_abc", "c.eligible_abc", "string", "Access Broadband Cymru",
             enum=ELIGIBILITY.codes, queryable=True),
        Prop("eligible_lbf", "c.eligible_lbf", "string", "Local Broadband Fund targeting",
             enum=ELIGIBILITY.codes, queryable=True),
        Prop("eligible_uso", "c.eligible_uso", "string", "Universal Service Obligation",
             enum=ELIGIBILITY.codes, queryable=True),
        Prop("planned_build", "c.planned_build", "boolean",
             "In a planned commercial or publicly funded gigabit build", queryable=True),
        Prop("approximate", "p.approximate", "boolean",
             "Placed at its postcode centroid (no coordinates of its own)", queryable=True),
    ),
)


def _area_collection(cid: str, level: str, title: str, description: str) -> Collection:
    def stat(name: str, column: str, description: str, type_: str = "integer") -> Prop:
        return Prop(name, f"st.{column}", type_, description, nullable=True)

    return Collection(
        id=cid, title=title, level=level, geometry_type="MultiPolygon",
        description=f"{description} with the current classification's figures (0 where no "
                    "premises are classified; null before the first classification). Boundaries "
                    "simplified at 50 m. The feature id is the area code.",
        properties=(
            Prop("code", "a.code", "string", "Area code", queryable=True),
            Prop("name_en", "a.name_en", "string", "Name in English", queryable=True),
            Prop("name_cy", "a.name_cy", "string", "Name in Welsh", nullable=True, queryable=True),
            stat("premises", "premises", "Premises in the area"),
            stat("below", "below", "Premises below 30 Mbit/s"),
            stat("possibly_below", "possibly_below", "Premises possibly below 30 Mbit/s"),
            stat("expected_below_30", "expected_below_30",
                 "Expected premises below 30 Mbit/s (possibly-below counted by probability)",
                 "number"),
            stat("share_below", "share_below",
                 "expected_below_30 / premises (null without premises)", "number"),
            stat("abc_eligible", "abc_eligible", "Premises eligible for Access Broadband Cymru"),
            stat("lbf_eligible", "lbf_eligible", "Premises eligible for Local Broadband Fund "
                                                 "targeting"),
            stat("uso_eligible", "uso_eligible", "Premises eligible for a USO connection"),
        ),
    )


COLLECTIONS: dict[str, Collection] = {c.id: c for c in (
    _PREMISES,
    _area_collection("local-authorities", "la", "Local authorities",
                     "The 22 Welsh unitary authorities"),
    _area_collection("wards", "ward", "Electoral wards", "Electoral wards"),
    _area_collection("lsoas", "lsoa", "LSOAs", "Lower layer super output areas"),
    _area_collection("msoas", "msoa", "MSOAs", "Middle layer super output areas"),
    _area_collection("constituencies", "constituency", "Constituencies",
                     "Senedd or Westminster constituencies, as loaded"),
)}


def collection(cid: str) -> Collection:
    try:
        return COLLECTIONS[cid]
    except KeyError:
        raise NotFound(f"no collection {cid!r}; collections: {', '.join(COLLECTIONS)}") from None


def parse_crs84_bbox(text: str) -> tuple[float, float, float, float]:
    """``west,south,east,north`` (or the 6-number 3D form) in CRS84; no size limit (paged)."""
    return parse_bbox(text, crs="CRS84 longitude, latitude", max_deg2=None, three_d=True)


def parse_paging(limit: str | None, offset: str | None) -> tuple[int, int]:
    """``limit`` (default 10; above the maximum it is lowered to it) and ``offset`` (default 0)."""
    try:
        page = DEFAULT_LIMIT if limit is None else int(limit)
    except ValueError:
        raise BadRequest(f"limit must be a whole number, got {limit!r}") from None
    try:
        start = 0 if offset is None else int(offset)
    except ValueError:
        raise BadRequest(f"offset must be a whole number, got {offset!r}") from None
    if page < 1:
        raise BadRequest(f"limit must be at least 1, got {page}")
    if not 0 <= start <= MAX_OFFSET:
        raise BadRequest(f"offset must be between 0 and {MAX_OFFSET}, got {start}")
    return min(page, MAX_LIMIT), start


def parse_filters(coll: Collection, args: dict[str, str]) -> dict[str, Any]:
    """Equality filters from query parameters named like queryable properties."""
    props = coll.queryables
    return {name: props[name].parse(value) for name, value in args.items() if name in props}


def _outward(value: float | None, up: bool) -> float | None:
    if value is None:
        return None
    return (math.ceil if up else math.floor)(value * 1e6) / 1e6


def extent(conn: psycopg.Connection, coll: Collection) -> list[float] | None:
    """The CRS84 bounding box of the collection's features, None when it has none."""
    if coll.level is None:
        # the 27700 extent densified (1 km) before transforming, so the box holds every point
        sql = f"""SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b) FROM (
                    SELECT ST_Transform(ST_Segmentize(ST_SetSRID(ST_Extent(geom)::geometry, 27700),
                                                      1000), 4326) AS b
                    FROM {SCHEMA}.premises) e"""
        params: tuple = ()
    else:
        sql = f"""SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b)
                  FROM (SELECT ST_Extent(geom_simple) AS b FROM {SCHEMA}.area WHERE level = %s) e"""
        params = (coll.level,)
    with _snapshot(conn):
        row = conn.execute(sql, params).fetchone()
    if row is None or row[0] is None:
        return None
    return [_outward(row[0], False), _outward(row[1], False), _outward(row[2], True),
            _outward(row[3], True)]


_ENVELOPE_27700 = ("ST_Transform(ST_Segmentize(ST_MakeEnvelope(%(west)s, %(south)s, %(east)s, "
                   "%(north)s, 4326), 0.01), 27700)")
_ENVELOPE_4326 = "ST_MakeEnvelope(%(west)s, %(south)s, %(east)s, %(north)s, 4326)"


@contextlib.contextmanager
def _snapshot(conn: psycopg.Connection) -> Iterator[None]:
    """One read-only snapshot, so a count and its page agree even when a classification run swaps
    the views between them; no JIT, whose compile time dwarfs these indexed queries."""
    fresh = conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    with conn.transaction():
        if fresh:
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        conn.execute("SET LOCAL jit = off")
        yield


def _filters(coll: Collection, filters: dict[str, Any], params: dict[str, Any]) -> list[str]:
    props = {p.name: p for p in coll.properties}
    where = []
    for i, (name, value) in enumerate(sorted(filters.items())):
        where.append(f"{props[name].sql} = %(f{i})s")
        params[f"f{i}"] = value
    return where


def _and(where: list[str]) -> str:
    return f" WHERE {' AND '.join(where)}" if where else ""


def _premises_columns(geo: str = "p") -> str:
    """The premises properties and CRS84 coordinates; ``geo``: the alias holding geom, approximate."""
    columns = [f"{geo}.{p.sql[2:]}" if p.sql.startswith("p.") else p.sql
               for p in _PREMISES.properties]
    return ", ".join(f"{sql} AS {p.name}" for sql, p in zip(columns, _PREMISES.properties,
                                                               strict=True)) + f""",
        round(ST_X(ST_Transform({geo}.geom, 4326))::numeric, 6)::float8 AS lon,
        round(ST_Y(ST_Transform({geo}.geom, 4326))::numeric, 6)::float8 AS lat"""


def _premises_box_page(conn: psycopg.Connection, joined: str, where: list[str],
                       params: dict[str, Any]) -> tuple[int, list[dict[str, Any]]]:
    """One pass over a box holding few premises: they are found (spatial index), counted, the
    page is cut from them in UPRN order and only then given its columns. Ordering the join by
    UPRN instead lets the planner walk the UPRN index hoping to meet the box soon, which UPRNs,
    allocated by authority, turn into a scan of most of the table."""
    rows = _rows(conn.execute(
        f"""WITH hit AS MATERIALIZED (SELECT c.uprn, p.geom, p.approximate FROM {joined}{_and(where)}),
                m AS (SELECT count(*) AS matched FROM hit)
            SELECT m.matched, page.* FROM m LEFT JOIN LATERAL (
                SELECT {_premises_columns("p")}
                FROM (SELECT * FROM hit ORDER BY uprn LIMIT %(limit)s OFFSET %(offset)s) p
                JOIN {SCHEMA}.premises_class c USING (uprn) ORDER BY c.uprn) page ON true""",
        params, prepare=False))
    matched = rows[0]["matched"]  # one row even for an empty page (LEFT JOIN)
    for row in rows:
        del row["matched"]
    return matched, [_premises_feature(row) for row in rows if row["uprn"] is not None]


def _premises_page(conn: psycopg.Connection, run: runs.Run, bbox, filters: dict[str, Any],
                   limit: int, offset: int) -> tuple[int, list[dict[str, Any]]]:
    params: dict[str, Any] = {"limit": limit, "offset": offset}
    where = _filters(_PREMISES, filters, params)
    joined = f"{SCHEMA}.premises_class c JOIN {SCHEMA}.premises p USING (uprn)"
    if bbox is not None:
        params.update(zip(("west", "south", "east", "north"), bbox, strict=True))
        where.insert(0, f"ST_Intersects({_ENVELOPE_27700}, p.geom)")
        # never a prepared statement: its generic plan would transform the box once per row
        estimate = conn.execute(f"EXPLAIN (FORMAT JSON) SELECT 1 FROM {joined}{_and(where)}",
                                params, prepare=False).fetchone()[0][0]["Plan"]["Plan Rows"]
        if estimate <= SORTED_IN_ONE_PASS:
            return _premises_box_page(conn, joined, where, params)
        # a box holding most premises: count them, and walk the UPRN index for the page
        matched = conn.execute(f"SELECT count(*) FROM {joined}{_and(where)}", params,
                               prepare=False).fetchone()[0]
        rows = _rows(conn.execute(
            f"""SELECT {_premises_columns()} FROM {joined}{_and(where)}
                ORDER BY c.uprn LIMIT %(limit)s OFFSET %(offset)s""", params, prepare=False))
        return matched, [_premises_feature(row) for row in rows]
    if not filters:  # classification covers every premises, and premises are never deleted
        matched = run.premises
    else:
        counted = joined if "approximate" in filters else f"{SCHEMA}.premises_class c"
        matched = conn.execute(f"SELECT count(*) FROM {counted}{_and(where)}", params).fetchone()[0]
    page_sql = (f"SELECT {_premises_columns()} FROM {joined}{_and(where)} "
                "ORDER BY c.uprn LIMIT %(limit)s OFFSET %(offset)s")
    rows = _rows(conn.execute(page_sql, params))
    return matched, [_premises_feature(row) for row in rows]


def _area_columns(coll: Collection, classified: bool) -> str:
    """Counts are 0 where a classified area holds no premises (it has no statistics row) and
    null before the first classification (the statistics view has none of the columns)."""
    def column(p: Prop) -> str:
        if not p.sql.startswith("st."):
            return p.sql
        if not classified:
            return f"NULL::{'float8' if p.type == 'number' else 'bigint'}"
        return p.sql if p.name == "share_below" else f"coalesce({p.sql}, 0)"

    columns = [column(p) for p in coll.properties]
    return ", ".join(f"{sql} AS {p.name}" for sql, p in zip(columns, coll.properties, strict=True))


def _area_from(classified: bool) -> str:
    stats = (f" LEFT JOIN {SCHEMA}.area_stats st ON st.level = a.level AND st.code = a.code"
             if classified else "")
    return f"{SCHEMA}.area a{stats}"


def _area_page(conn: psycopg.Connection, coll: Collection, classified: bool, bbox,
               filters: dict[str, Any], limit: int, offset: int) -> tuple[int, list[dict[str, Any]]]:
    params: dict[str, Any] = {"level": coll.level, "limit": limit, "offset": offset}
    where = ["a.level = %(level)s", *_filters(coll, filters, params)]
    if bbox is not None:  # the index on geom finds candidates; the answered (simplified) shape decides
        params.update(zip(("west", "south", "east", "north"), bbox, strict=True))
        where.append(f"a.geom && ST_Expand({_ENVELOPE_27700}, 1) "
                     f"AND ST_Intersects(a.geom_simple, {_ENVELOPE_4326})")
    # never a prepared statement: its generic plan would transform the box once per row
    matched = conn.execute(f"SELECT count(*) FROM {SCHEMA}.area a{_and(where)}", params,
                           prepare=False).fetchone()[0]
    rows = _rows(conn.execute(
        f"""SELECT {_area_columns(coll, classified)}, ST_AsGeoJSON(a.geom_simple, 5) AS geometry
            FROM {_area_from(classified)}{_and(where)}
            ORDER BY a.code LIMIT %(limit)s OFFSET %(offset)s""", params, prepare=False))
    return matched, [_area_feature(row) for row in rows]


def _premises_feature(row: dict[str, Any]) -> dict[str, Any]:
    geometry = {"type": "Point", "coordinates": [row.pop("lon"), row.pop("lat")]}
    return {"type": "Feature", "id": row["uprn"], "geometry": geometry, "properties": row}


def _area_feature(row: dict[str, Any]) -> dict[str, Any]:
    geometry = json.loads(row.pop("geometry"))
    return {"type": "Feature", "id": row["code"], "geometry": geometry, "properties": row}


def _rows(cur: psycopg.Cursor) -> list[dict[str, Any]]:
    names = [d.name for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def items(conn: psycopg.Connection, coll: Collection, *,
          bbox: tuple[float, float, float, float] | None = None,
          filters: dict[str, Any] | None = None, limit: int = DEFAULT_LIMIT,
          offset: int = 0) -> dict[str, Any]:
    """A page of features in order of their id (UPRN, area code), and how many match in all.

    Returns ``{"matched", "features", "classification", "synthetic"}``; premises before the first
    classification are NotFound."""
    filters = filters or {}
    with _snapshot(conn):
        run = runs.current(conn)
        if coll.level is None and run is None:
            raise NotFound(*runs.NOT_CLASSIFIED)
        info = {"classification": run.label if run else None,
                "synthetic": run.synthetic if run else None}
        if bbox is not None:
            bbox = clip_to_service_area(bbox)
            if bbox is None:  # nowhere near Great Britain
                return {"matched": 0, "features": [], **info}
        if coll.level is None:
            matched, features = _premises_page(conn, run, bbox, filters, limit, offset)
        else:
            matched, features = _area_page(conn, coll, run is not None, bbox, filters, limit,
                                           offset)
    return {"matched": matched, "features": features, **info}


def item(conn: psycopg.Connection, coll: Collection, fid: str) -> dict[str, Any]:
    """One feature by id (a UPRN or an area code), with the classification it comes from."""
    with _snapshot(conn):
        run = runs.current(conn)
        if coll.level is None:
            if run is None:
                raise NotFound(*runs.NOT_CLASSIFIED)
            uprn = int(fid) if fid.isascii() and fid.isdigit() and len(fid) <= 18 else None
            rows = [] if uprn is None else _rows(conn.execute(
                f"""SELECT {_premises_columns()} FROM {SCHEMA}.premises_class c
                    JOIN {SCHEMA}.premises p USING (uprn) WHERE c.uprn = %s""", (uprn,)))
            feature = _premises_feature(rows[0]) if rows else None
            missing = f"no premises with UPRN {fid!r}"
        else:
            rows = _rows(conn.execute(
                f"""SELECT {_area_columns(coll, run is not None)},
                           ST_AsGeoJSON(a.geom_simple, 5) AS geometry
                    FROM {_area_from(run is not None)} WHERE a.level = %s AND a.code = %s""",
                (coll.level, fid.upper())))
            feature = _area_feature(rows[0]) if rows else None
            missing = f"no area {fid!r} in {coll.id}"
    if feature is None:
        raise NotFound(missing)
    feature["classification"] = run.label if run else None
    return feature
