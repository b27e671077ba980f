"""Vector tiles from PostGIS (``ST_AsMVT``) through the connection pool, with ETags."""

from __future__ import annotations

import hashlib

from flask import Blueprint, Response, request

from connectivity.lookup import premises_tile

from .pool import db_connection

bp = Blueprint("tiles", __name__)


@bp.get("/tiles/premises/<int:z>/<int:x>/<int:y>.pbf")
def premises(z: int, x: int, y: int):
    with db_connection() as conn:
        tile, run = premises_tile(conn, z, x, y)
    etag = hashlib.sha1(f"{run}/{z}/{x}/{y}".encode()).hexdigest()[:20]
    headers = {"ETag": f'"{etag}"', "Cache-Control": "public, max-age=300",
               "Access-Control-Allow-Origin": "*"}
    if request.if_none_match.contains(etag):
        return Response(status=304, headers=headers)
    return Response(tile, mimetype="application/vnd.mapbox-vector-tile", headers=headers)
