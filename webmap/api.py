"""The JSON API, version 1. Views parse the request, call the domain, serialise the answer."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from connectivity.areas import area_detail, area_geojson, area_summaries, check_level
from connectivity.db import server_info
from connectivity.db.migrate import current_version

from .pool import db_connection

bp = Blueprint("api", __name__)


@bp.after_request
def api_headers(response):
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers.setdefault("Cache-Control", "public, max-age=300")
    return response


@bp.get("/health")
def health():
    with db_connection() as conn:
        info = server_info(conn)
        version = current_version(conn)
    response = jsonify({"status": "ok", "schema_version": version, **info})
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/areas")
def areas():
    level = check_level(request.args.get("level", "la"))
    with db_connection() as conn:
        items = area_summaries(conn, level)
    return jsonify({"level": level, "count": len(items), "areas": items})


@bp.get("/areas.geojson")
def areas_geojson():
    level = check_level(request.args.get("level", "la"))
    with db_connection() as conn:
        collection = area_geojson(conn, level)
    response = jsonify(collection)
    response.mimetype = "application/geo+json"
    return response


@bp.get("/areas/<code>")
def area(code: str):
    with db_connection() as conn:
        return jsonify(area_detail(conn, code))
