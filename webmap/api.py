"""The JSON API, version 1. Views parse the request, call the domain, serialise the answer."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from connectivity.areas import area_detail, area_geojson, area_summaries, check_level
from connectivity.db import server_info
from connectivity.db.migrate import current_version
from connectivity.errors import BadRequest
from connectivity.lookup import (
    MAX_PAGE,
    areas_at,
    parse_bbox,
    parse_point,
    postcode_detail,
    premises_detail,
    premises_geojson,
)
from connectivity.outputs import diff
from connectivity.releases import list_releases
from connectivity.runs import list_runs
from connectivity.transparency import challenge_stats

from .i18n import negotiate
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
    if "lon" in request.args or "lat" in request.args:
        lon, lat = parse_point(request.args.get("lon"), request.args.get("lat"))
        level = request.args.get("level")
        with db_connection() as conn:
            items = areas_at(conn, lon, lat, level)
        return jsonify({"level": level, "location": {"lon": lon, "lat": lat},
                        "count": len(items), "areas": items})
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


def _int_arg(name: str, default: int) -> int:
    value = request.args.get(name, default)
    try:
        return int(value)
    except (TypeError, ValueError):
        raise BadRequest(f"{name} must be a whole number, got {value!r}") from None


def _float_arg(name: str, default: float) -> float:
    value = request.args.get(name, default)
    try:
        return float(value)
    except (TypeError, ValueError):
        raise BadRequest(f"{name} must be a number, got {value!r}") from None


def _public() -> dict:
    """What the public answers show by the settings: addresses (public_addresses) and the
    fewest lines a postcode's measured speeds need (performance_min_lines)."""
    settings = current_app.config["GAPMAP_SETTINGS"]
    return {"addresses": settings.public_addresses, "min_lines": settings.performance_min_lines}


@bp.get("/postcodes/<postcode>")
def postcode(postcode: str):
    with db_connection() as conn:
        return jsonify(postcode_detail(conn, postcode, negotiate(), **_public()))


@bp.get("/premises/<int:uprn>")
def premises_one(uprn: int):
    with db_connection() as conn:
        return jsonify(premises_detail(conn, uprn, negotiate(), **_public()))


@bp.get("/premises")
def premises_many():
    bbox = near = None
    if "bbox" in request.args:
        bbox = parse_bbox(request.args["bbox"])
    if "lon" in request.args or "lat" in request.args or "radius" in request.args:
        near = (*parse_point(request.args.get("lon"), request.args.get("lat")),
                _float_arg("radius", 100))
    with db_connection() as conn:
        collection = premises_geojson(
            conn, bbox, near=near, status=request.args.get("status"),
            scheme=request.args.get("scheme"), limit=_int_arg("limit", 1000),
            offset=_int_arg("offset", 0), lang=negotiate(),
            addresses=current_app.config["GAPMAP_SETTINGS"].public_addresses)
    response = jsonify(collection)
    response.mimetype = "application/geo+json"
    return response


@bp.get("/releases")
def releases():
    with db_connection() as conn:
        runs = list_runs(conn)
        for run in runs:
            run["started_at"] = run["started_at"].isoformat()
            run["finished_at"] = run["finished_at"].isoformat()
        return jsonify({"releases": list_releases(conn), "classifications": runs})


@bp.get("/diff")
def release_diff():
    before, after = request.args.get("from"), request.args.get("to")
    if not before or not after:
        raise BadRequest("give from= and to=, two classification labels (see /api/v1/releases)")
    limit = _int_arg("limit", 100)
    if not 1 <= limit <= MAX_PAGE:
        raise BadRequest(f"limit must be between 1 and {MAX_PAGE}")
    with db_connection() as conn:
        return jsonify(diff(conn, before, after, request.args.get("level", "la"), limit))


@bp.get("/challenges/stats")
def challenges_stats():
    """Per authority: challenges received, upheld, rejected, moot, pending, and the median days
    to a decision (counts only: no premises, no person)."""
    la = request.args.get("la") or None
    with db_connection() as conn:
        rows = challenge_stats(conn, la, with_names=True)
    return jsonify({"authorities": rows})
