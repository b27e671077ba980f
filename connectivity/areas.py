"""Areas and what the map shows about them. Set-based SQL; callers pass an open connection.

Area membership is spatial (``ST_Covers`` on the EPSG:27700 geometry), never the area codes a
source happens to publish, so any boundary set the officers load works the same way. Premises
figures come from the current classification's statistics (``gapmap.area_stats``).
"""

from __future__ import annotations

import json
from typing import Any

import psycopg

from .db import SCHEMA
from .errors import NotFound
from .vocab import AREA_LEVELS

_SUMMARY_SQL = f"""
SELECT a.code, a.name_en, a.name_cy, a.vintage,
       round((ST_Area(a.geom) / 1e6)::numeric, 1)::float8 AS area_km2,
       (SELECT count(*) FROM {SCHEMA}.postcode p WHERE ST_Covers(a.geom, p.geom)) AS postcodes,
       coalesce(st.premises, 0) AS premises, st.expected_below_30, st.share_below::float8
FROM {SCHEMA}.area a
LEFT JOIN {SCHEMA}.area_stats st ON st.level = a.level AND st.code = a.code
WHERE a.level = %(level)s {{where}}
ORDER BY a.code
"""

_GEOJSON_SQL = f"""
SELECT json_build_object(
    'type', 'FeatureCollection',
    'features', coalesce(json_agg(json_build_object(
        'type', 'Feature',
        'id', s.code,
        'geometry', ST_AsGeoJSON(a.geom_simple, 5)::json,
        'properties', json_build_object(
            'code', s.code, 'name_en', s.name_en, 'name_cy', s.name_cy,
            'postcodes', s.postcodes, 'premises', s.premises, 'area_km2', s.area_km2,
            'expected_below_30', s.expected_below_30, 'share_below', s.share_below))
        ORDER BY s.code), '[]'::json))
FROM ({_SUMMARY_SQL.format(where="")}) s
JOIN {SCHEMA}.area a ON a.level = %(level)s AND a.code = s.code
"""

_KEYS = ("code", "name_en", "name_cy", "vintage", "area_km2", "postcodes", "premises",
         "expected_below_30", "share_below")


def check_level(level: str) -> str:
    return AREA_LEVELS.check(level)


def area_summaries(conn: psycopg.Connection, level: str = "la") -> list[dict[str, Any]]:
    """Every area of ``level`` with its names and counts of postcodes and premises inside it."""
    rows = conn.execute(_SUMMARY_SQL.format(where=""), {"level": check_level(level)}).fetchall()
    return [dict(zip(_KEYS, row, strict=True)) | {"level": level} for row in rows]


def area_detail(conn: psycopg.Connection, code: str) -> dict[str, Any]:
    """One area by code (any level)."""
    level_row = conn.execute(
        f"SELECT level FROM {SCHEMA}.area WHERE code = %s ORDER BY level LIMIT 1", (code.upper(),)
    ).fetchone()
    if level_row is None:
        raise NotFound(f"no area with code {code!r}")
    row = conn.execute(
        _SUMMARY_SQL.format(where="AND a.code = %(code)s"),
        {"level": level_row[0], "code": code.upper()},
    ).fetchone()
    bbox = conn.execute(
        f"""SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b)
            FROM (SELECT ST_Extent(geom_simple) AS b FROM {SCHEMA}.area
                  WHERE level = %s AND code = %s) e""",
        (level_row[0], code.upper()),
    ).fetchone()
    return dict(zip(_KEYS, row, strict=True)) | {"level": level_row[0], "bbox": list(bbox)}


def area_geojson(conn: psycopg.Connection, level: str = "la") -> dict[str, Any]:
    """A GeoJSON FeatureCollection (WGS84, simplified) of the areas of ``level`` with their counts."""
    row = conn.execute(_GEOJSON_SQL, {"level": check_level(level)}).fetchone()
    value = row[0]
    return value if isinstance(value, dict) else json.loads(value)


def counts(conn: psycopg.Connection) -> dict[str, int]:
    """How many areas (by level), postcodes and premises the database holds."""
    out = {f"areas_{level}": n for level, n in conn.execute(
        f"SELECT level, count(*) FROM {SCHEMA}.area GROUP BY level ORDER BY level").fetchall()}
    out["postcodes"] = conn.execute(f"SELECT count(*) FROM {SCHEMA}.postcode").fetchone()[0]
    out["premises"] = conn.execute(f"SELECT count(*) FROM {SCHEMA}.premises").fetchone()[0]
    return out
