"""The offline base map: land and place labels from the data we ship, so a map with no online
base tiles (the default) still shows where the land is and what places are called.

- :func:`land`: the union of the local authority boundaries, simplified for a zoom (about one
  pixel), tiny islands dropped, as one GeoJSON (Multi)Polygon in WGS84.
- :func:`labels`: the bundled OpenStreetMap places (and from zoom 14 the postcode centroids) in a
  box, each kind from its own zoom, thinned to the best-ranked one per grid cell of about one
  label's size (so the answer is bounded and already nearly free of overlaps; the browser drops
  the few overlaps left), in the page's language where a Welsh name is known.

Both return GeoJSON text made in PostGIS, set-based; the web layer caches it per data version
(:func:`connectivity.maptiles.data_version`). docs/basemap.md says why and what else can be used.
"""

from __future__ import annotations

import math
import re

import psycopg

from .db import SCHEMA
from .errors import BadRequest
from .lookup import parse_bbox

#: zooms a request may name (Leaflet's range); land is the same above LAND_MAX_ZOOM
MIN_ZOOM, MAX_ZOOM = 0, 22
#: simplification tolerance (metres, British National Grid) per zoom: about one pixel at 52° N
LAND_TOLERANCE_M = {5: 2000, 6: 1000, 7: 500, 8: 250, 9: 120, 10: 60, 11: 30, 12: 15, 13: 5}
LAND_MIN_ZOOM, LAND_MAX_ZOOM = min(LAND_TOLERANCE_M), max(LAND_TOLERANCE_M)

#: place kinds labelled, best first, with the zoom each is labelled from (OSM ``place=*``);
#: other kinds (county, island...) are not labelled: counties are not today's authorities
PLACE_KINDS = {"city": 8, "town": 9, "village": 11, "suburb": 12, "hamlet": 13,
               "locality": 14, "farm": 15}
#: postcode centroids are labelled from this zoom, after every place
POSTCODE_MIN_ZOOM = 14
#: a grid cell (pixels) holds at most one label: about one label's size with a margin
CELL_PX = (128, 40)
#: the most labels one answer holds, and the largest box asked for (pixels at its zoom a side)
MAX_LABELS = 400
MAX_BOX_PX = 8192
#: Web Mercator's extent in latitude (the map's projection ends there)
MAX_LAT = 85.0511
LANGS = ("en", "cy")
_WORLD_M = 2 * math.pi * 6378137  # the Web Mercator world's width in metres


def parse_zoom(text: str | None) -> int:
    """A zoom from a query-string value: a whole number MIN_ZOOM to MAX_ZOOM."""
    if text is None or not re.fullmatch(r"[0-9]{1,3}", text):
        raise BadRequest(f"zoom must be a whole number from {MIN_ZOOM} to {MAX_ZOOM}, "
                         f"got {text!r}")
    zoom = int(text)
    if not MIN_ZOOM <= zoom <= MAX_ZOOM:
        raise BadRequest(f"zoom must be a whole number from {MIN_ZOOM} to {MAX_ZOOM}, got {zoom}")
    return zoom


def parse_lang(text: str | None) -> str:
    if text not in LANGS:
        raise BadRequest(f"lang must be en or cy, got {text!r}")
    return text


def land_zoom(zoom: int) -> int:
    """The zoom whose land is drawn at ``zoom`` (zooms outside the table share its ends)."""
    return min(max(zoom, LAND_MIN_ZOOM), LAND_MAX_ZOOM)


def land(conn: psycopg.Connection, zoom: int) -> str:
    """The land at ``zoom`` as a GeoJSON FeatureCollection (text): one feature, the union of
    the local authorities simplified by LAND_TOLERANCE_M, with parts under four square
    tolerances (islets smaller than a few pixels) left out; no feature before boundaries load."""
    tolerance = LAND_TOLERANCE_M[land_zoom(zoom)]
    digits = 4 if land_zoom(zoom) <= 9 else 5  # about 10 m, 1 m
    return conn.execute(
        f"""WITH u AS (SELECT ST_Union(geom) AS g FROM {SCHEMA}.area WHERE level = 'la'),
                 parts AS (SELECT (ST_Dump(ST_SimplifyPreserveTopology(g, %(tol)s))).geom AS g
                           FROM u WHERE g IS NOT NULL),
                 kept AS (SELECT ST_Multi(ST_Collect(g)) AS g FROM parts
                          WHERE ST_Area(g) >= 4.0 * %(tol)s * %(tol)s)
            SELECT json_build_object('type', 'FeatureCollection', 'features', coalesce(
                (SELECT json_agg(json_build_object(
                     'type', 'Feature',
                     'geometry', ST_AsGeoJSON(ST_Transform(g, 4326), %(digits)s)::json,
                     'properties', json_build_object('zoom', %(zoom)s, 'tolerance_m', %(tol)s)))
                 FROM kept WHERE g IS NOT NULL), '[]'::json))::text""",
        {"tol": tolerance, "digits": digits, "zoom": land_zoom(zoom)}).fetchone()[0]


def parse_label_box(text: str | None, zoom: int) -> tuple[float, float, float, float]:
    """``west,south,east,north`` (WGS84) inside the Web Mercator world, at most MAX_BOX_PX
    pixels a side at ``zoom``."""
    west, south, east, north = parse_bbox(text or "", max_deg2=None)
    if not -MAX_LAT <= south < north <= MAX_LAT:
        raise BadRequest(f"bbox latitudes must be within -{MAX_LAT} and {MAX_LAT} "
                         "(the web map's projection)")
    scale = 256 * 2 ** zoom
    width = (east - west) / 360 * scale
    height = (_mercator_y(north) - _mercator_y(south)) / _WORLD_M * scale
    if max(width, height) > MAX_BOX_PX:
        raise BadRequest(f"bbox is too large for zoom {zoom}: at most {MAX_BOX_PX} pixels a "
                         f"side, this one is {max(width, height):.0f}; zoom in or ask for less")
    return west, south, east, north


def _mercator_y(lat: float) -> float:
    return 6378137 * math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))


def has_welsh_names(conn: psycopg.Connection) -> bool:
    """Whether the places carry Welsh names (``place.name_cy``, migration 0010)."""
    return conn.execute(
        f"""SELECT EXISTS (SELECT 1 FROM pg_attribute
                           WHERE attrelid = '{SCHEMA}.place'::regclass AND attname = 'name_cy'
                             AND NOT attisdropped)""").fetchone()[0]


def labels(conn: psycopg.Connection, bbox: tuple[float, float, float, float], zoom: int,
           lang: str) -> str:
    """The labels in ``bbox`` at ``zoom`` as a GeoJSON FeatureCollection (text) of points with
    ``name``, ``kind`` (a place kind or ``postcode``) and ``rank`` (1 = best), best first.

    Places of PLACE_KINDS from their zooms and postcodes from POSTCODE_MIN_ZOOM; in each grid
    cell of CELL_PX pixels (fixed to the world, so panning keeps the choice) only the best:
    places by kind, then population (largest first), then name; postcodes after places. At most
    MAX_LABELS. On ``cy`` a place's Welsh name where one is known."""
    kinds = [(kind, order) for order, (kind, low) in enumerate(PLACE_KINDS.items(), start=1)
             if low <= zoom]
    if not kinds:
        return '{"type": "FeatureCollection", "features": []}'
    name = ("coalesce(nullif(p.name_cy, ''), p.name)" if lang == "cy" and has_welsh_names(conn)
            else "p.name")
    resolution = _WORLD_M / (256 * 2 ** zoom)  # metres (Web Mercator) per pixel
    postcodes = (f"""UNION ALL
                 SELECT pc.postcode, 'postcode', {len(PLACE_KINDS) + 1}, NULL::integer,
                        pc.geom_3857
                 FROM {SCHEMA}.postcode pc, b WHERE pc.geom_3857 && b.env"""
                 if zoom >= POSTCODE_MIN_ZOOM else "")
    return conn.execute(
        f"""WITH b AS (SELECT ST_Transform(ST_MakeEnvelope(%(w)s, %(s)s, %(e)s, %(n)s, 4326),
                                           3857) AS env),
                 k (kind, kind_order) AS (SELECT * FROM unnest(%(kinds)s::text[],
                                                                %(orders)s::int[])),
                 candidates (name, kind, kind_order, population, g) AS (
                     SELECT {name}, p.kind, k.kind_order, p.population, p3.g
                     FROM {SCHEMA}.place p JOIN k USING (kind),
                          LATERAL (SELECT ST_Transform(p.geom, 3857) AS g) p3, b
                     WHERE p3.g && b.env
                     {postcodes}),
                 best AS (
                     SELECT DISTINCT ON (floor(ST_X(g) / %(cw)s), floor(ST_Y(g) / %(ch)s)) *
                     FROM candidates
                     ORDER BY floor(ST_X(g) / %(cw)s), floor(ST_Y(g) / %(ch)s),
                              kind_order, population DESC NULLS LAST, name, ST_X(g), ST_Y(g)),
                 ranked AS (
                     SELECT *, row_number() OVER (
                         ORDER BY kind_order, population DESC NULLS LAST, name, ST_X(g), ST_Y(g)) AS rank
                     FROM best)
            SELECT json_build_object('type', 'FeatureCollection', 'features', coalesce(
                json_agg(json_build_object(
                    'type', 'Feature',
                    'geometry', ST_AsGeoJSON(ST_Transform(g, 4326), 5)::json,
                    'properties', json_build_object('name', name, 'kind', kind, 'rank', rank))
                    ORDER BY rank), '[]'::json))::text
            FROM (SELECT * FROM ranked ORDER BY rank LIMIT %(limit)s) top""",
        {"w": bbox[0], "s": bbox[1], "e": bbox[2], "n": bbox[3],
         "kinds": [k for k, _ in kinds], "orders": [o for _, o in kinds],
         "cw": CELL_PX[0] * resolution, "ch": CELL_PX[1] * resolution,
         "limit": MAX_LABELS}).fetchone()[0]


__all__ = ["CELL_PX", "LAND_TOLERANCE_M", "MAX_BOX_PX", "MAX_LABELS", "PLACE_KINDS",
           "POSTCODE_MIN_ZOOM", "has_welsh_names", "labels", "land", "land_zoom",
           "parse_label_box", "parse_lang", "parse_zoom"]
