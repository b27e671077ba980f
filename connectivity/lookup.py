"""Looking things up in the current classification: a postcode, a premises, premises in a box,
and premises vector tiles. Each answer says which classification run it comes from."""

from __future__ import annotations

from typing import Any

import psycopg

from .db import SCHEMA
from .errors import BadRequest, NotFound
from .postcodes import normalise_postcode
from .reasons import SCHEMES, render

MAX_BBOX_DEG2 = 0.25  # about 17 x 35 km at Welsh latitudes
MAX_PAGE = 5000
TILE_MIN_ZOOM = 11

_PREMISES_COLUMNS = """c.uprn, c.postcode, c.status, c.probability_below, c.best_down, c.best_up,
    c.band, c.uso, c.evidence, c.evidence_release, c.gigabit_class, c.planned_build,
    c.contract_name, c.supplier, c.final_coverage_date, c.eligible_abc, c.abc_reason,
    c.eligible_lbf, c.lbf_reason, c.eligible_uso, c.uso_reason, c.eligible_voucher,
    c.voucher_reason, p.approximate,
    round(ST_X(ST_Transform(p.geom, 4326))::numeric, 6)::float8 AS lon,
    round(ST_Y(ST_Transform(p.geom, 4326))::numeric, 6)::float8 AS lat"""


def current_run(conn: psycopg.Connection) -> dict[str, Any]:
    row = conn.execute(
        f"SELECT id, label, synthetic FROM {SCHEMA}.classification_run WHERE is_current").fetchone()
    if row is None:
        raise NotFound("nothing is classified yet", "an officer must run `connectivity classify`")
    return {"id": row[0], "label": row[1], "synthetic": row[2]}


def _shape(row: dict[str, Any], lang: str) -> dict[str, Any]:
    out = {k: row[k] for k in row if not k.endswith("_reason") and k not in ("lon", "lat")}
    out["location"] = {"lon": row["lon"], "lat": row["lat"]}
    out["schemes"] = {
        s: {"eligible": row[f"eligible_{s}"], "reason_code": row[f"{s}_reason"],
            "reason": render(s, row[f"{s}_reason"], lang, row)}
        for s in SCHEMES}
    for s in SCHEMES:
        out.pop(f"eligible_{s}", None)
    return out


def premises_detail(conn: psycopg.Connection, uprn: int, lang: str = "en") -> dict[str, Any]:
    run = current_run(conn)
    cur = conn.execute(
        f"""SELECT {_PREMISES_COLUMNS} FROM {SCHEMA}.premises_class c
            JOIN {SCHEMA}.premises p USING (uprn) WHERE c.uprn = %s""", (uprn,))
    row = cur.fetchone()
    if row is None:
        raise NotFound(f"no premises with UPRN {uprn}")
    names = [d.name for d in cur.description]
    return {"classification": run["label"], "synthetic": run["synthetic"],
            **_shape(dict(zip(names, row, strict=True)), lang)}


def postcode_detail(conn: psycopg.Connection, raw: str, lang: str = "en") -> dict[str, Any]:
    postcode = normalise_postcode(raw)
    if postcode is None:
        raise BadRequest(f"{raw!r} is not a UK postcode; for example CF10 1AA")
    run = current_run(conn)
    place = conn.execute(
        f"""SELECT round(ST_X(ST_Transform(p.geom, 4326))::numeric, 6)::float8,
                   round(ST_Y(ST_Transform(p.geom, 4326))::numeric, 6)::float8,
                   a.code, a.name_en, a.name_cy
            FROM {SCHEMA}.postcode p
            LEFT JOIN {SCHEMA}.area a ON a.level = 'la' AND ST_Covers(a.geom, p.geom)
            WHERE p.postcode = %s""", (postcode,)).fetchone()
    if place is None:
        raise NotFound(f"postcode {postcode} is not in the service's data (Welsh postcodes only)")
    cur = conn.execute(
        f"""SELECT {_PREMISES_COLUMNS} FROM {SCHEMA}.premises_class c
            JOIN {SCHEMA}.premises p USING (uprn) WHERE c.postcode = %s ORDER BY c.uprn""",
        (postcode,))
    names = [d.name for d in cur.description]
    premises = [_shape(dict(zip(names, r, strict=True)), lang) for r in cur.fetchall()]
    stats = conn.execute(
        f"""SELECT premises, below, possibly_below, above, unknown, expected_below_30,
                   b_0_2, b_2_5, b_5_10, b_10_30, b_30_300, b_300, abc_eligible, abc_possibly,
                   uso_eligible FROM {SCHEMA}.area_stats WHERE level = 'postcode' AND code = %s""",
        (postcode,)).fetchone()
    keys = ("premises", "below", "possibly_below", "above", "unknown", "expected_below_30",
            "b_0_2", "b_2_5", "b_5_10", "b_10_30", "b_30_300", "b_300", "abc_eligible",
            "abc_possibly", "uso_eligible")
    return {
        "postcode": postcode, "classification": run["label"], "synthetic": run["synthetic"],
        "location": {"lon": place[0], "lat": place[1]},
        "local_authority": {"code": place[2], "name_en": place[3], "name_cy": place[4]},
        "summary": dict(zip(keys, stats, strict=True)) if stats else None,
        "premises": premises,
    }


def postcode_of_uprn(conn: psycopg.Connection, uprn: int) -> str | None:
    """The postcode of a classified premises, if it has one."""
    row = conn.execute(f"SELECT postcode FROM {SCHEMA}.premises_class WHERE uprn = %s",
                       (uprn,)).fetchone()
    return row[0] if row else None


def parse_bbox(text: str) -> tuple[float, float, float, float]:
    try:
        west, south, east, north = (float(v) for v in text.split(","))
    except ValueError:
        raise BadRequest("bbox must be four numbers: west,south,east,north (WGS84)") from None
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        raise BadRequest("bbox must be west,south,east,north with west < east and south < north")
    if (east - west) * (north - south) > MAX_BBOX_DEG2:
        raise BadRequest(f"bbox is too large: at most {MAX_BBOX_DEG2} square degrees; zoom in or "
                         "use an export")
    return west, south, east, north


def premises_geojson(conn: psycopg.Connection, bbox: tuple[float, float, float, float], *,
                     status: str | None = None, scheme: str | None = None, limit: int = 1000,
                     offset: int = 0, lang: str = "en") -> dict[str, Any]:
    if not 1 <= limit <= MAX_PAGE:
        raise BadRequest(f"limit must be between 1 and {MAX_PAGE}")
    if offset < 0:
        raise BadRequest("offset must be 0 or more")
    where, params = ["p.geom && ST_Transform(ST_MakeEnvelope(%s, %s, %s, %s, 4326), 27700)"], list(bbox)
    if status:
        if status not in ("below", "possibly_below", "above", "unknown"):
            raise BadRequest(f"unknown status {status!r}")
        where.append("c.status = %s")
        params.append(status)
    if scheme:
        if scheme not in SCHEMES:
            raise BadRequest(f"unknown scheme {scheme!r}; expected one of {', '.join(SCHEMES)}")
        where.append(f"c.eligible_{scheme} IN ('eligible', 'possibly')")
    run = current_run(conn)
    cur = conn.execute(
        f"""SELECT {_PREMISES_COLUMNS}, count(*) OVER () AS total
            FROM {SCHEMA}.premises_class c JOIN {SCHEMA}.premises p USING (uprn)
            WHERE {' AND '.join(where)} ORDER BY c.uprn LIMIT %s OFFSET %s""",
        (*params, limit, offset))
    names = [d.name for d in cur.description]
    rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    total = rows[0]["total"] if rows else 0
    features = []
    for row in rows:
        row.pop("total")
        props = _shape(row, lang)
        location = props.pop("location")
        features.append({"type": "Feature", "id": row["uprn"],
                         "geometry": {"type": "Point", "coordinates": [location["lon"], location["lat"]]},
                         "properties": props})
    return {"type": "FeatureCollection", "classification": run["label"],
            "synthetic": run["synthetic"], "numberMatched": total, "numberReturned": len(features),
            "offset": offset, "limit": limit, "features": features}


def premises_tile(conn: psycopg.Connection, z: int, x: int, y: int) -> tuple[bytes, str]:
    """A Mapbox vector tile of the current classification's premises (empty below zoom 11),
    and the run label it was made from (for the ETag)."""
    if not (0 <= z <= 22 and 0 <= x < 2 ** z and 0 <= y < 2 ** z):
        raise BadRequest(f"no tile {z}/{x}/{y}")
    run = current_run(conn)
    if z < TILE_MIN_ZOOM:
        return b"", run["label"]
    tile = conn.execute(
        f"""WITH b AS (SELECT ST_TileEnvelope(%(z)s, %(x)s, %(y)s) AS env)
            SELECT ST_AsMVT(t, 'premises', 4096, 'geom') FROM (
                SELECT c.uprn, c.status, c.probability_below, c.best_down, c.band, c.evidence,
                       c.eligible_abc, c.eligible_lbf, c.eligible_uso, c.planned_build,
                       ST_AsMVTGeom(ST_Transform(p.geom, 3857), b.env, 4096, 16, true) AS geom
                FROM b, {SCHEMA}.premises p JOIN {SCHEMA}.premises_class c USING (uprn)
                WHERE p.geom && ST_Transform(b.env, 27700)
            ) t WHERE geom IS NOT NULL""", {"z": z, "x": x, "y": y}).fetchone()[0]
    return bytes(tile or b""), run["label"]
