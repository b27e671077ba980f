"""Looking things up in the current classification: a postcode, a premises, premises in a box or
near a point, the areas at a point, and premises vector tiles. Each answer says which
classification run it comes from."""

from __future__ import annotations

import math
from typing import Any

import psycopg

from . import runs
from .areas import address_counts_known, area_detail, check_level
from .db import SCHEMA
from .errors import BadRequest, NotFound
from .maptiles import buffered_envelope
from .postcodes import normalise_postcode
from .reasons import SPEEDTEST_COLUMNS, missing_columns_sql, render
from .rules import Rules
from .vocab import AREA_LEVELS, BANDS, SCHEMES, SPEEDTEST_ATTRIBUTION, STATUSES

MAX_BBOX_DEG2 = 0.25  # about 17 x 35 km at Welsh latitudes
MAX_PAGE = 5000
#: the largest offset any paged answer takes (the API's and OGC's)
MAX_OFFSET = 2**31 - 1
MAX_RADIUS_M = 2000
TILE_MIN_ZOOM = 11
#: a postcode's map bounds: its premises' extent grown by this many metres each way
BOUNDS_PAD_M = 40
#: the premises tiles' buffer, in tile units of 4096 (128 = 8 px of a 256 px tile): more than the
#: largest dot the map draws (radius 5 px and a 1 px outline at zoom 15 and over), so a dot on a
#: tile's edge is drawn whole by its neighbours
PREMISES_BUFFER = 128
#: WGS84 boxes and points are clipped to this (EPSG:27700's area of use, padded) before they are
#: transformed: far outside it the grid gives meaningless coordinates
SERVICE_AREA = (-10.0, 49.0, 3.0, 62.0)

_PREMISES_COLUMNS = """c.uprn, c.postcode, c.status, c.probability_below, c.best_down, c.best_up,
    c.band, c.uso, c.evidence, c.evidence_release, c.gigabit_class, c.planned_build,
    c.contract_name, c.supplier, c.final_coverage_date, c.eligible_abc, c.abc_reason,
    c.eligible_lbf, c.lbf_reason, c.eligible_uso, c.uso_reason, c.eligible_voucher,
    c.voucher_reason, c.speedtest_down, c.speedtest_up, c.speedtest_latency_ms, c.speedtest_tests,
    c.speedtest_devices, c.speedtest_release, c.speedtest_moved, c.oa_code, c.oa_premises,
    c.oa_unable_30, c.oa_unable_decent, c.fwa_decent_pct, p.approximate,
    round(ST_X(ST_Transform(p.geom, 4326))::numeric, 6)::float8 AS lon,
    round(ST_Y(ST_Transform(p.geom, 4326))::numeric, 6)::float8 AS lat"""


#: where the speed test figures' licence is read (shown and linked wherever they are)
SPEEDTEST_LICENCE = ("CC BY-NC-SA 4.0", "https://creativecommons.org/licenses/by-nc-sa/4.0/")
#: the speed test columns beyond the reasons' own (reasons.SPEEDTEST_COLUMNS) that this answer
#: reads: NULL for a run classified before speed tests were evidence
_MORE_SPEEDTEST_COLUMNS = {"speedtest_up": "real", "speedtest_latency_ms": "real",
                           "speedtest_devices": "integer", "speedtest_moved": "text"}


def _classes(conn: psycopg.Connection) -> str:
    """The current run's premises, with NULL speed test figures for a run classified before
    speed tests were evidence (its table lacks them)."""
    have = {name for (name,) in conn.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 "
        "AND NOT attisdropped", (f"{SCHEMA}.premises_class",))}
    more = "".join(f", NULL::{kind} AS {name}" for name, kind in _MORE_SPEEDTEST_COLUMNS.items()
                   if name not in have and name not in SPEEDTEST_COLUMNS)
    return (f"(SELECT *{missing_columns_sql(conn, 'premises_class')}{more} "
            f"FROM {SCHEMA}.premises_class)")


def _speedtest(row: dict[str, Any], lang: str) -> dict[str, Any] | None:
    """The speed tests of the premises' tile, with their licence (never without it); None when
    its tile has none shown."""
    if row.get("speedtest_down") is None:
        return None
    return {"down": row["speedtest_down"], "up": row["speedtest_up"],
            "latency_ms": row["speedtest_latency_ms"], "tests": row["speedtest_tests"],
            "devices": row["speedtest_devices"], "release": row["speedtest_release"],
            "moved": row["speedtest_moved"], "attribution": SPEEDTEST_ATTRIBUTION.name(lang),
            "licence": SPEEDTEST_LICENCE[0], "licence_url": SPEEDTEST_LICENCE[1],
            "non_commercial": True}


def _shape(row: dict[str, Any], lang: str, rules: Rules) -> dict[str, Any]:
    out = {k: row[k] for k in row if not k.endswith("_reason") and k not in ("lon", "lat")
           and not k.startswith(("speedtest_", "oa_")) and k != "fwa_decent_pct"
           and k not in ("address_en", "address_cy")}
    # the output-area counts and the fixed wireless share are read by the reasons only: the
    # postcode's own figures are in "decent_broadband", the area's in the areas API
    if "address_en" in row:  # only when the public_addresses setting is on
        out["address"] = (row["address_cy"] if lang == "cy" and row["address_cy"]
                          else row["address_en"])
    out["speedtest"] = _speedtest(row, lang)
    out["location"] = {"lon": row["lon"], "lat": row["lat"]}
    out["schemes"] = {
        s: {"eligible": row[f"eligible_{s}"], "reason_code": row[f"{s}_reason"],
            "reason": render(s, row[f"{s}_reason"], lang, row, rules)}
        for s in SCHEMES.codes}
    for s in SCHEMES.codes:
        out.pop(f"eligible_{s}", None)
    return out


def _address_join(addresses: bool) -> tuple[str, str]:
    """The columns and join that add each premises' address from gapmap.address (AddressBase),
    or nothing: public pages show addresses only with the public_addresses setting on."""
    if not addresses:
        return "", ""
    return (", a.address_en, a.address_cy",
            f" LEFT JOIN {SCHEMA}.address a ON a.uprn = c.uprn")


def _run_releases(conn: psycopg.Connection) -> dict[str, str]:
    """The release label per source the current run read."""
    run = runs.current(conn)  # (which run is current is asked in runs.py only)
    if run is None:
        return {}
    row = conn.execute(f"SELECT releases FROM {SCHEMA}.classification_run WHERE id = %s",
                       (run.id,)).fetchone()
    return dict(row[0] or {}) if row else {}


def speedtest_release(conn: psycopg.Connection) -> str | None:
    """The Ookla release the current run read (its map must then name Ookla), if any."""
    return _run_releases(conn).get("ookla")


#: Ofcom's bands of measured lines (fixed performance), in the order it publishes them: the
#: column of gapmap.ev_postcode_performance (migration 0015) and the band's code, as the
#: coverage bands spell theirs (vocab.BANDS)
PERFORMANCE_BANDS = (("lines_0_2", "0<2"), ("lines_2_5", "2<5"), ("lines_5_10", "5<10"),
                     ("lines_10_30", "10<30"), ("lines_30_300", "30<300"), ("lines_300", ">=300"))


def measured_speeds(conn: psycopg.Connection, postcode: str | None, releases: dict[str, str],
                    min_lines: int = 4, lang: str = "en") -> dict[str, Any] | None:
    """Ofcom's measured line speeds of ``postcode`` (fixed performance: the lines people use,
    so what they buy, not what they could get), from the newest performance release no later
    than the Ofcom coverage release the run read (the newest when it read none); None when that
    release has no row for the postcode. With fewer than ``min_lines`` lines counted, the
    figures are withheld (``shown`` false); a file with no line counts (``lines`` 0) says
    nothing either way, and its figures are shown.

    ``bands`` gives the lines in each of Ofcom's bands (null where the file left the band
    empty), each with its name in ``lang``, and is null altogether when the figures are
    withheld, when no line is counted or when the row was loaded before the bands were kept
    (migration 0015). ``lines`` and the
    shares below and at or above 30 Mbit/s count an empty band as 0 lines;
    ``lines_300_or_more_pct`` is null when the ">= 300" band is empty or not kept."""
    if postcode is None:
        return None
    up_to = releases.get("ofcom-coverage")
    row = conn.execute(
        f"""WITH r AS (SELECT id, label FROM {SCHEMA}.release
                       WHERE source = 'ofcom-performance'
                         AND (%(up_to)s::text IS NULL OR label <= %(up_to)s)
                       ORDER BY label DESC LIMIT 1)
            SELECT r.label, e.median_down, e.avg_down, e.median_up, e.avg_up,
                   e.lines_below_30, e.lines_total,
                   {', '.join(f'e.{column}' for column, _ in PERFORMANCE_BANDS)}
            FROM r JOIN {SCHEMA}.ev_postcode_performance e
                 ON e.release_id = r.id AND e.postcode = %(pc)s""",
        {"up_to": up_to, "pc": postcode}).fetchone()
    if row is None:
        return None
    label, median_down, avg_down, median_up, avg_up, below, total = row[:7]
    counted = row[7:]
    lines = total or None
    shown = lines is None or lines >= min_lines
    def fig(value: float | None) -> float | None:
        return round(value, 1) if shown and value is not None else None
    share = round(100.0 * below / lines, 1) if shown and lines else None
    kept = shown and lines is not None and any(n is not None for n in counted)
    bands = ([{"band": code, "name": BANDS.name(code, lang), "lines": n}
              for (_, code), n in zip(PERFORMANCE_BANDS, counted, strict=True)]
             if kept else None)
    top = counted[-1]
    return {"release": label, "lines": lines, "min_lines": min_lines, "shown": shown,
            "median_down": fig(median_down), "avg_down": fig(avg_down),
            "median_up": fig(median_up), "avg_up": fig(avg_up),
            "lines_below_30_pct": share,
            "lines_30_or_more_pct": None if share is None else round(100.0 - share, 1),
            "lines_300_or_more_pct": (round(100.0 * top / lines, 1)
                                      if kept and top is not None else None),
            "bands": bands}


def decent_broadband(conn: psycopg.Connection, postcode: str | None,
                     releases: dict[str, str]) -> dict[str, Any] | None:
    """Decent broadband (10 Mbit/s down, 1 up) at ``postcode`` in the Ofcom postcode coverage
    release the run read: the share unable to get 10 Mbit/s by a fixed line, the share able to
    get decent broadband from fixed wireless (FWA), and the share unable by either; None
    without a row."""
    label = releases.get("ofcom-coverage")
    if postcode is None or label is None:
        return None
    row = conn.execute(
        f"""SELECT e.unable_10_pct, e.fwa_decent_pct, e.unable_decent_pct
            FROM {SCHEMA}.ev_postcode_coverage e JOIN {SCHEMA}.release r ON r.id = e.release_id
            WHERE r.source = 'ofcom-coverage' AND r.label = %s AND e.postcode = %s
              AND NOT e.residential_only""", (label, postcode)).fetchone()
    if row is None:
        return None
    return {"release": label, "fixed_unable_10_pct": row[0], "fwa_decent_pct": row[1],
            "unable_decent_pct": row[2]}


def premises_detail(conn: psycopg.Connection, uprn: int, lang: str = "en", *,
                    addresses: bool = False, min_lines: int = 4) -> dict[str, Any]:
    """One premises as the API gives it; with its postcode's measured speeds and decent
    broadband figures; with its address only when ``addresses`` (public_addresses)."""
    run = runs.require_current(conn, with_rules=True)
    extra, join = _address_join(addresses)
    cur = conn.execute(
        f"""SELECT {_PREMISES_COLUMNS}{extra} FROM {_classes(conn)} c
            JOIN {SCHEMA}.premises p USING (uprn){join} WHERE c.uprn = %s""", (uprn,))
    row = cur.fetchone()
    if row is None:
        raise NotFound(f"no premises with UPRN {uprn}")
    names = [d.name for d in cur.description]
    shaped = _shape(dict(zip(names, row, strict=True)), lang, run.rules)
    releases = _run_releases(conn)
    return {"classification": run.label, "synthetic": run.synthetic, **shaped,
            "measured": measured_speeds(conn, shaped["postcode"], releases, min_lines, lang),
            "decent_broadband": decent_broadband(conn, shaped["postcode"], releases)}


def postcode_detail(conn: psycopg.Connection, raw: str, lang: str = "en", *,
                    addresses: bool = False, min_lines: int = 4) -> dict[str, Any]:
    """A postcode: its place, its premises (each with its address only when ``addresses``),
    their summary, Ofcom's measured speeds and decent broadband figures for it."""
    postcode = normalise_postcode(raw)
    if postcode is None:
        raise BadRequest(f"{raw!r} is not a UK postcode; for example CF10 1AA")
    run = runs.require_current(conn, with_rules=True)
    place = conn.execute(
        f"""SELECT round(ST_X(ST_Transform(p.geom, 4326))::numeric, 6)::float8,
                   round(ST_Y(ST_Transform(p.geom, 4326))::numeric, 6)::float8,
                   a.code, a.name_en, a.name_cy
            FROM {SCHEMA}.postcode p
            LEFT JOIN {SCHEMA}.area a ON a.level = 'la' AND ST_Covers(a.geom, p.geom)
            WHERE p.postcode = %s""", (postcode,)).fetchone()
    if place is None:
        raise NotFound(f"postcode {postcode} is not in the service's data (Welsh postcodes only)")
    extra, join = _address_join(addresses)
    cur = conn.execute(
        f"""SELECT {_PREMISES_COLUMNS}{extra} FROM {_classes(conn)} c
            JOIN {SCHEMA}.premises p USING (uprn){join} WHERE c.postcode = %s ORDER BY c.uprn""",
        (postcode,))
    names = [d.name for d in cur.description]
    premises = [_shape(dict(zip(names, r, strict=True)), lang, run.rules) for r in cur.fetchall()]
    # the premises' extent, padded by BOUNDS_PAD_M (a lone premises still gets a street around it)
    box = conn.execute(
        f"""SELECT ST_YMin(b), ST_XMin(b), ST_YMax(b), ST_XMax(b) FROM (
                SELECT ST_Transform(ST_Expand(ST_SetSRID(ST_Extent(p.geom)::geometry, 27700), %s),
                                    4326) AS b
                FROM {_classes(conn)} c JOIN {SCHEMA}.premises p USING (uprn)
                WHERE c.postcode = %s) e WHERE b IS NOT NULL""",
        (BOUNDS_PAD_M, postcode)).fetchone()
    stats = conn.execute(
        f"""SELECT premises, below, possibly_below, above, unknown, expected_below_30,
                   b_0_2, b_2_5, b_5_10, b_10_30, b_30_300, b_300, abc_eligible, abc_possibly,
                   uso_eligible FROM {SCHEMA}.area_stats WHERE level = 'postcode' AND code = %s""",
        (postcode,)).fetchone()
    keys = ("premises", "below", "possibly_below", "above", "unknown", "expected_below_30",
            "b_0_2", "b_2_5", "b_5_10", "b_10_30", "b_30_300", "b_300", "abc_eligible",
            "abc_possibly", "uso_eligible")
    releases = _run_releases(conn)
    return {
        "postcode": postcode, "classification": run.label, "synthetic": run.synthetic,
        "location": {"lon": place[0], "lat": place[1]},
        "local_authority": {"code": place[2], "name_en": place[3], "name_cy": place[4]},
        "summary": dict(zip(keys, stats, strict=True)) if stats else None,
        "premises": premises,
        "measured": measured_speeds(conn, postcode, releases, min_lines, lang),
        "decent_broadband": decent_broadband(conn, postcode, releases),
        "bounds": ([[round(box[0], 6), round(box[1], 6)], [round(box[2], 6), round(box[3], 6)]]
                   if box else None),
    }


def postcode_of_uprn(conn: psycopg.Connection, uprn: int) -> str | None:
    """The postcode of a classified premises, if it has one."""
    row = conn.execute(f"SELECT postcode FROM {SCHEMA}.premises_class WHERE uprn = %s",
                       (uprn,)).fetchone()
    return row[0] if row else None


def parse_bbox(text: str, *, crs: str = "WGS84", max_deg2: float | None = MAX_BBOX_DEG2,
               three_d: bool = False) -> tuple[float, float, float, float]:
    """``west,south,east,north`` in degrees (``crs`` names them in messages); at most
    ``max_deg2`` square degrees (None: any size); ``three_d`` also takes the 6-number form
    (west,south,low,east,north,high) and drops the heights."""
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if three_d and len(values) == 6:
        values = [values[0], values[1], values[3], values[4]]
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise BadRequest(f"bbox must be four numbers: west,south,east,north ({crs})")
    west, south, east, north = values
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        raise BadRequest("bbox must be west,south,east,north with -180 <= west < east <= 180 and "
                         "-90 <= south < north <= 90")
    if max_deg2 is not None and (east - west) * (north - south) > max_deg2:
        raise BadRequest(f"bbox is too large: at most {max_deg2} square degrees; zoom in or "
                         "use an export")
    return west, south, east, north


def parse_point(lon: str | None, lat: str | None) -> tuple[float, float]:
    """``lon`` and ``lat`` (WGS84 degrees) from query-string values."""
    if lon is None or lat is None:
        raise BadRequest("give both lon= and lat= (WGS84 degrees)")
    try:
        point = float(lon), float(lat)
    except ValueError:
        raise BadRequest(f"lon and lat must be numbers, got {lon!r} and {lat!r}") from None
    if not (math.isfinite(point[0]) and math.isfinite(point[1])
            and -180 <= point[0] <= 180 and -90 <= point[1] <= 90):
        raise BadRequest("lon must be between -180 and 180 and lat between -90 and 90")
    return point


def in_service_area(lon: float, lat: float) -> bool:
    west, south, east, north = SERVICE_AREA
    return west <= lon <= east and south <= lat <= north


def clip_to_service_area(bbox: tuple[float, float, float, float]
                         ) -> tuple[float, float, float, float] | None:
    """The part of a WGS84 box inside the service area, None when there is none."""
    west, south, east, north = (max(bbox[0], SERVICE_AREA[0]), max(bbox[1], SERVICE_AREA[1]),
                                min(bbox[2], SERVICE_AREA[2]), min(bbox[3], SERVICE_AREA[3]))
    return (west, south, east, north) if west < east and south < north else None


def premises_geojson(conn: psycopg.Connection,
                     bbox: tuple[float, float, float, float] | None = None, *,
                     near: tuple[float, float, float] | None = None, status: str | None = None,
                     scheme: str | None = None, limit: int = 1000, offset: int = 0,
                     lang: str = "en", addresses: bool = False) -> dict[str, Any]:
    """Premises in a WGS84 ``bbox``, or within ``near`` = (lon, lat, radius in metres) of a point
    (nearest first, each with its ``distance_m``), as a GeoJSON page; each with its address
    only when ``addresses`` (public_addresses)."""
    if bbox is None and near is None:
        raise BadRequest("give bbox=west,south,east,north (WGS84), or lon=, lat= and radius=")
    if bbox is not None and near is not None:
        raise BadRequest("give bbox= or lon= and lat=, not both")
    if not 1 <= limit <= MAX_PAGE:
        raise BadRequest(f"limit must be between 1 and {MAX_PAGE}")
    if not 0 <= offset <= MAX_OFFSET:
        raise BadRequest(f"offset must be between 0 and {MAX_OFFSET}")
    if near is not None and not 0 < near[2] <= MAX_RADIUS_M:
        raise BadRequest(f"radius must be more than 0 and at most {MAX_RADIUS_M} metres")
    where: list[str] = []
    params: dict[str, Any] = {"limit": limit, "offset": offset}
    if status:
        STATUSES.check(status)
        where.append("c.status = %(status)s")
        params["status"] = status
    if scheme:
        SCHEMES.check(scheme)
        where.append(f"c.eligible_{scheme} IN ('eligible', 'possibly')")
    run = runs.require_current(conn, with_rules=True)
    distance, order = "", "c.uprn"
    if bbox is not None:
        bbox = clip_to_service_area(bbox)
        where.append("p.geom && ST_Transform(ST_MakeEnvelope(%(west)s, %(south)s, %(east)s, "
                     "%(north)s, 4326), 27700)" if bbox else "false")
        params.update(zip(("west", "south", "east", "north"), bbox or (0, 0, 0, 0), strict=True))
    else:
        lon, lat, radius = near
        point = "ST_Transform(ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326), 27700)"
        inside = in_service_area(lon, lat)
        where.append(f"ST_DWithin(p.geom, {point}, %(radius)s)" if inside else "false")
        params.update(lon=lon, lat=lat, radius=radius)
        # outside, the point is never transformed: the planner folds the constant transform
        # even under WHERE false, and PROJ refuses points far outside the grid
        distance = (f", round(ST_Distance(p.geom, {point})::numeric, 1)::float8 AS distance_m"
                    if inside else ", NULL::float8 AS distance_m")
        order = "distance_m, c.uprn"
    extra, join = _address_join(addresses)
    # not a prepared statement: a generic plan would transform the box or point once per row
    cur = conn.execute(
        f"""SELECT {_PREMISES_COLUMNS}{extra}{distance}, count(*) OVER () AS total
            FROM {_classes(conn)} c JOIN {SCHEMA}.premises p USING (uprn){join}
            WHERE {' AND '.join(where)} ORDER BY {order} LIMIT %(limit)s OFFSET %(offset)s""",
        params, prepare=False)
    names = [d.name for d in cur.description]
    rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    total = rows[0]["total"] if rows else 0
    features = []
    for row in rows:
        row.pop("total")
        props = _shape(row, lang, run.rules)
        location = props.pop("location")
        features.append({"type": "Feature", "id": row["uprn"],
                         "geometry": {"type": "Point", "coordinates": [location["lon"], location["lat"]]},
                         "properties": props})
    out = {"type": "FeatureCollection", "classification": run.label,
           "synthetic": run.synthetic, "numberMatched": total, "numberReturned": len(features),
           "offset": offset, "limit": limit, "features": features}
    if near is not None:
        out["location"] = {"lon": near[0], "lat": near[1]}
        out["radius"] = near[2]
    return out


def areas_at(conn: psycopg.Connection, lon: float, lat: float,
             level: str | None = None) -> list[dict[str, Any]]:
    """The areas (of ``level``, or of every level) that contain a WGS84 point, largest level
    first, each as :func:`connectivity.areas.area_detail` gives it."""
    if level is not None:
        check_level(level)
    if not in_service_area(lon, lat):
        return []
    codes = conn.execute(
        f"""SELECT code FROM {SCHEMA}.area
            WHERE ST_Covers(geom, ST_Transform(ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326),
                                               27700))
              AND (%(level)s::text IS NULL OR level = %(level)s)
            ORDER BY array_position(%(levels)s, level), code""",
        {"lon": lon, "lat": lat, "level": level, "levels": list(AREA_LEVELS.codes)}, prepare=False).fetchall()
    known = address_counts_known(conn)  # once for every area, not once each
    return [area_detail(conn, code, addresses=known) for (code,) in codes]


def premises_tile(conn: psycopg.Connection, z: int, x: int, y: int) -> tuple[bytes, str]:
    """A Mapbox vector tile of the current classification's premises (empty below zoom 11), each
    with its postcode (the postcode map highlights its own), with a buffer of PREMISES_BUFFER,
    and the run label it was made from (for the ETag)."""
    if not (0 <= z <= 22 and 0 <= x < 2 ** z and 0 <= y < 2 ** z):
        raise BadRequest(f"no tile {z}/{x}/{y}")
    run = runs.require_current(conn)
    if z < TILE_MIN_ZOOM:
        return b"", run.label
    tile = conn.execute(
        f"""WITH b AS (SELECT ST_TileEnvelope(%(z)s, %(x)s, %(y)s) AS env,
                          {buffered_envelope(PREMISES_BUFFER)} AS benv)
            SELECT ST_AsMVT(t, 'premises', 4096, 'geom') FROM (
                SELECT c.uprn, c.postcode, c.status, c.probability_below, c.best_down, c.band, c.evidence,
                       c.eligible_abc, c.eligible_lbf, c.eligible_uso, c.planned_build,
                       ST_AsMVTGeom(ST_Transform(p.geom, 3857), b.env, 4096, {PREMISES_BUFFER},
                                    true) AS geom
                FROM b, {SCHEMA}.premises p JOIN {SCHEMA}.premises_class c USING (uprn)
                WHERE p.geom && ST_Transform(b.benv, 27700)
                ORDER BY c.uprn  -- the same bytes every time: one ETag, one body
            ) t WHERE geom IS NOT NULL""", {"z": z, "x": x, "y": y}).fetchone()[0]
    return bytes(tile or b""), run.label
