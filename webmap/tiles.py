"""Vector tiles from PostGIS (``ST_AsMVT``) through the connection pool, with ETags:
premises (from zoom 11), areas of a level, and hexagons of a size."""

from __future__ import annotations

import hashlib

from flask import Blueprint, Response, request

from connectivity.lookup import premises_tile
from connectivity.maptiles import area_tile, hex_tile

from .pool import db_connection

bp = Blueprint("tiles", __name__)


def _tile_response(tile: bytes, version: str, key: str) -> Response:
    etag = hashlib.sha1(f"{version}/{key}".encode()).hexdigest()[:20]
    headers = {"ETag": f'"{etag}"', "Cache-Control": "public, max-age=300",
               "Access-Control-Allow-Origin": "*"}
    if request.if_none_match.contains(etag):
        return Response(status=304, headers=headers)
    return Response(tile, mimetype="application/vnd.mapbox-vector-tile", headers=headers)


@bp.get("/tiles/premises/<int:z>/<int:x>/<int:y>.pbf")
def premises(z: int, x: int, y: int):
    with db_connection() as conn:
        tile, run = premises_tile(conn, z, x, y)
    return _tile_response(tile, run, f"{z}/{x}/{y}")


@bp.get("/tiles/areas/<level>/<int:z>/<int:x>/<int:y>.pbf")
def areas(level: str, z: int, x: int, y: int):
    with db_connection() as conn:
        tile, version = area_tile(conn, level, z, x, y)
    return _tile_response(tile, version, f"areas/{level}/{z}/{x}/{y}")


@bp.get("/tiles/hex/<int:size>/<int:z>/<int:x>/<int:y>.pbf")
def hexagons(size: int, z: int, x: int, y: int):
    with db_connection() as conn:
        tile, version = hex_tile(conn, size, z, x, y)
    return _tile_response(tile, version, f"hex/{size}/{z}/{x}/{y}")
