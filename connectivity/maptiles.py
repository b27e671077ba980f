"""Vector tiles of areas and hexagons with their statistics (``ST_AsMVT``), for the middle zooms
of the map. Premises tiles are in :mod:`connectivity.lookup`.

Each feature carries what every map theme needs, so changing the theme restyles the tiles in the
browser without fetching them again: names in both languages, premises, the share below 30 Mbit/s,
the shares eligible for each scheme, the share in planned build, and (LSOAs) the WIMD rank.
"""

from __future__ import annotations

import psycopg

from . import runs
from .db import SCHEMA
from .errors import BadRequest, NotFound

#: boundary levels drawn as tiles, with the zooms they are served at (outside: empty tiles)
AREA_TILE_ZOOMS = {"la": (5, 14), "ward": (8, 15), "lsoa": (8, 15), "msoa": (7, 14),
                   "constituency": (5, 14)}
#: hexagon sizes (edge, metres) drawn as tiles, with their zooms
HEX_TILE_ZOOMS = {8000: (5, 10), 2000: (7, 13), 500: (10, 15)}

_STATS = """s.premises, s.below, s.possibly_below,
    round(s.expected_below_30::numeric, 1)::float8 AS expected_below_30,
    round(s.share_below::numeric, 4)::float8 AS share_below,
    s.abc_eligible + s.abc_possibly AS abc, s.lbf_eligible + s.lbf_possibly AS lbf,
    s.uso_eligible + s.uso_possibly AS uso, s.planned_build,
    round(((s.abc_eligible + s.abc_possibly)::float8 / nullif(s.premises, 0))::numeric, 4)::float8
        AS share_abc,
    round(((s.lbf_eligible + s.lbf_possibly)::float8 / nullif(s.premises, 0))::numeric, 4)::float8
        AS share_lbf,
    round((s.planned_build::float8 / nullif(s.premises, 0))::numeric, 4)::float8 AS share_planned"""


def buffered_envelope(buffer: int) -> str:
    """SQL for the tile's box grown by twice a ``buffer`` (of 4096 tile units) that ST_AsMVTGeom
    keeps: a prefilter only (it rounds points to the tile's grid, so one a fraction of a pixel
    beyond the buffer can be kept; ST_AsMVTGeom decides exactly which features are in the tile)."""
    return ("ST_Expand(ST_TileEnvelope(%(z)s, %(x)s, %(y)s), "
            "(ST_XMax(ST_TileEnvelope(%(z)s, %(x)s, %(y)s)) "
            f"- ST_XMin(ST_TileEnvelope(%(z)s, %(x)s, %(y)s))) * {2 * buffer} / 4096)")


#: the area and hexagon tiles' prefilter, for their 16/4096 buffer
BUFFERED_ENVELOPE = buffered_envelope(16)


def _check_tile(z: int, x: int, y: int) -> None:
    if not (0 <= z <= 22 and 0 <= x < 2 ** z and 0 <= y < 2 ** z):
        raise BadRequest(f"no tile {z}/{x}/{y}")


def area_tile(conn: psycopg.Connection, level: str, z: int, x: int, y: int) -> tuple[bytes, str]:
    """A tile of the areas of ``level`` (layer name = level) with their statistics, and the
    version it was made from (for the ETag): the classification run, or 'none' before one."""
    if level not in AREA_TILE_ZOOMS:
        raise NotFound(f"no area tiles for level {level!r}; levels: {', '.join(AREA_TILE_ZOOMS)}")
    _check_tile(z, x, y)
    run = runs.current(conn)
    version = f"run{run.id}" if run else "none"
    low, high = AREA_TILE_ZOOMS[level]
    if not low <= z <= high:
        return b"", version
    # before the first classification the statistics view has none of these columns
    stats = _STATS if run else "NULL::int AS premises"
    join = (f"LEFT JOIN {SCHEMA}.area_stats s ON s.level = a.level AND s.code = a.code"
            if run else "")
    wimd = (f", (SELECT w.wimd_rank FROM {SCHEMA}.wimd w WHERE w.lsoa_code = a.code) AS wimd_rank"
            if level == "lsoa" else "")
    tile = conn.execute(
        f"""WITH b AS (SELECT ST_TileEnvelope(%(z)s, %(x)s, %(y)s) AS env,
                          {BUFFERED_ENVELOPE} AS benv)
            SELECT ST_AsMVT(t, %(level)s, 4096, 'geom') FROM (
                SELECT a.code, a.name_en, a.name_cy, {stats} {wimd},
                       ST_AsMVTGeom(a.geom_3857, b.env, 4096, 16, true) AS geom
                FROM b, {SCHEMA}.area a {join}
                WHERE a.level = %(level)s AND a.geom_3857 && b.benv
                ORDER BY a.code  -- the same bytes every time: one ETag, one body
            ) t WHERE geom IS NOT NULL""",
        {"z": z, "x": x, "y": y, "level": level}).fetchone()[0]
    return bytes(tile or b""), version


def hex_tile(conn: psycopg.Connection, size: int, z: int, x: int, y: int,
             layer: str = "hex") -> tuple[bytes, str]:
    """A tile of the hexagons of ``size`` metres that hold premises (layer name ``layer``), with
    their statistics, and the version it was made from (for the ETag). The static archive
    (:mod:`connectivity.tilearchive`) names each size's layer apart, ``hex2000``."""
    if size not in HEX_TILE_ZOOMS:
        raise NotFound(f"no hexagon tiles of size {size}; sizes: "
                       + ", ".join(str(s) for s in HEX_TILE_ZOOMS))
    _check_tile(z, x, y)
    run = runs.current(conn)
    version = f"run{run.id}" if run else "none"
    low, high = HEX_TILE_ZOOMS[size]
    if run is None or not low <= z <= high:
        return b"", version
    tile = conn.execute(
        f"""WITH b AS (SELECT ST_TileEnvelope(%(z)s, %(x)s, %(y)s) AS env,
                          {BUFFERED_ENVELOPE} AS benv)
            SELECT ST_AsMVT(t, %(layer)s, 4096, 'geom') FROM (
                SELECT h.code, {_STATS},
                       ST_AsMVTGeom(ST_Transform(h.geom, 3857), b.env, 4096, 16, true) AS geom
                FROM b, {SCHEMA}.hex_cell h
                JOIN {SCHEMA}.area_stats s ON s.level = %(level)s AND s.code = h.code
                WHERE h.size = %(size)s AND h.geom && ST_Transform(b.benv, 27700)
                ORDER BY h.code  -- the same bytes every time: one ETag, one body
            ) t WHERE geom IS NOT NULL""",
        {"z": z, "x": x, "y": y, "size": size, "level": f"hex{size}",
         "layer": layer}).fetchone()[0]
    return bytes(tile or b""), version


def area_figures(conn: psycopg.Connection, level: str = "la") -> dict[str, dict]:
    """The statistics every map theme needs for each area of ``level`` (as in the tiles), by code;
    empty before the first classification."""
    if runs.current(conn) is None:
        return {}
    cur = conn.execute(
        f"SELECT s.code, {_STATS} FROM {SCHEMA}.area_stats s WHERE s.level = %s", (level,))
    names = [d.name for d in cur.description]
    return {row[0]: dict(zip(names[1:], row[1:], strict=True)) for row in cur.fetchall()}


def data_version(conn: psycopg.Connection) -> str:
    """Changes whenever anything the map shows may have changed: a load or a classification."""
    loaded = conn.execute(f"SELECT coalesce(max(id), 0) FROM {SCHEMA}.load_run "
                          "WHERE status = 'succeeded'").fetchone()[0]
    run = runs.current(conn)
    return f"{loaded}/{run.id if run else 0}"
