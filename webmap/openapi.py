"""The OpenAPI 3.1 document of the HTTP API, served at ``/openapi.json``.

Written by hand, kept honest by tests: tests/test_api.py checks that every route of the app is
documented and every documented path exists, and validates the document; tests/test_schemathesis.py
sends generated requests to every operation and checks each answer against its status codes,
media types and response schemas. The OGC API - Features at ``/ogc`` has its own document at
``/ogc/api`` (webmap/ogc.py)."""

from __future__ import annotations

from flask import Blueprint, jsonify

from connectivity import __version__
from connectivity.basemap import CELL_PX as BASE_CELL_PX
from connectivity.basemap import MAX_BOX_PX as BASE_MAX_BOX_PX
from connectivity.basemap import MAX_LABELS as BASE_MAX_LABELS
from connectivity.basemap import MAX_ZOOM as BASE_MAX_ZOOM
from connectivity.basemap import MIN_ZOOM as BASE_MIN_ZOOM
from connectivity.basemap import PLACE_KINDS as BASE_PLACE_KINDS
from connectivity.lookup import MAX_OFFSET, MAX_PAGE, MAX_RADIUS_M, PERFORMANCE_BANDS
from connectivity.officers.listfilters import HELP, ListFilters
from connectivity.vocab import (
    AREA_LEVELS,
    CHALLENGE_KINDS,
    CHALLENGE_ORIGINS,
    CHALLENGE_STATES,
    SCHEMES,
    STATUSES,
)

bp = Blueprint("openapi", __name__)

_ERROR = {"description": "Error", "content": {"application/json": {
    "schema": {"$ref": "#/components/schemas/Error"}}}}
_LANG = {"name": "lang", "in": "query", "required": False,
         "description": "Language of the reasons: en or cy (default: Accept-Language).",
         "schema": {"type": "string", "enum": ["en", "cy"]}}
_NUMBER = r"-?[0-9]+(\.[0-9]+)?"


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(description: str, schema: dict) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _geojson(description: str, schema: dict) -> dict:
    return {"description": description, "content": {"application/geo+json": {"schema": schema}}}


def _param(name: str, where: str, description: str, schema: dict, required: bool = False) -> dict:
    return {"name": name, "in": where, "required": required or where == "path",
            "description": description, "schema": schema}


def _object(properties: dict, optional: tuple[str, ...] = ()) -> dict:
    """An object with these properties, all required but ``optional``."""
    return {"type": "object", "required": [k for k in properties if k not in optional],
            "properties": properties}


def _null(type_: str, **extra) -> dict:
    return {"type": [type_, "null"], **extra}


_TILE = {"200": {"description": "Tile (empty outside the zooms the layer is drawn at)",
                 "content": {"application/vnd.mapbox-vector-tile": {
                     "schema": {"type": "string", "format": "binary"}}}},
         "304": {"description": "Not modified (ETag)"},
         "400": _ERROR,
         "404": {"description": "No such layer, or z, x or y is not a whole number 0 or more",
                 "content": {"application/json": {"schema": _ref("Error")}}}}
_ZXY = [_param("z", "path", "Zoom", {"type": "integer", "minimum": 0}),
        _param("x", "path", "Column", {"type": "integer", "minimum": 0}),
        _param("y", "path", "Row", {"type": "integer", "minimum": 0})]
_LON = _param("lon", "query", "Longitude (WGS84)",
              {"type": "number", "minimum": -180, "maximum": 180})
_LAT = _param("lat", "query", "Latitude (WGS84)", {"type": "number", "minimum": -90, "maximum": 90})

_SCHEMAS = {
    "Error": _object({"error": _object({
        "status": {"type": "integer"}, "code": {"type": "string"},
        "message": {"type": "string"}})}),
    "Health": _object({
        "status": {"type": "string", "enum": ["ok"]}, "schema_version": {"type": "integer"},
        "server_version": {"type": "string"}, "database": {"type": "string"},
        "postgis_version": _null("string")}),
    "Location": _object({"lon": {"type": "number"}, "lat": {"type": "number"}}),
    "AreaSummary": _object({
        "code": {"type": "string"}, "level": {"type": "string", "enum": list(AREA_LEVELS.codes)},
        "name_en": {"type": "string"}, "name_cy": _null("string"), "vintage": _null("string"),
        "area_km2": {"type": "number"}, "postcodes": {"type": "integer"},
        "premises": {"type": "integer"},
        "expected_below_30": _null("number", description="Expected premises below 30 Mbit/s"),
        "share_below": _null("number", description="expected_below_30 / premises"),
        "residential": _null("integer", description="Residential premises (AddressBase: "
                             "residential and dual use); null when not known: no AddressBase "
                             "was loaded when the current classification ran"),
        "business": _null("integer", description="Business premises (AddressBase: business and "
                          "dual use); null when not known"),
        "bbox": {"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 4,
                 "description": "west, south, east, north (WGS84); one area only"},
    }, optional=("bbox",)),
    "Areas": _object({
        "level": _null("string", description="null: every level containing the point"),
        "location": _ref("Location"), "count": {"type": "integer"},
        "areas": {"type": "array", "items": _ref("AreaSummary")},
    }, optional=("location",)),
    "AreasGeoJSON": _object({
        "type": {"type": "string", "enum": ["FeatureCollection"]},
        "features": {"type": "array", "items": _object({
            "type": {"type": "string", "enum": ["Feature"]}, "id": {"type": "string"},
            "geometry": {"type": "object"},
            "properties": _object({
                "code": {"type": "string"}, "name_en": {"type": "string"},
                "name_cy": _null("string"), "postcodes": {"type": "integer"},
                "premises": {"type": "integer"}, "area_km2": {"type": "number"},
                "expected_below_30": _null("number"), "share_below": _null("number"),
                "residential": _null("integer"), "business": _null("integer")})})}}),
    "Scheme": _object({
        "eligible": {"type": "string", "enum": ["eligible", "possibly", "not_eligible", "unknown"]},
        "reason_code": {"type": "string"}, "reason": {"type": "string"}}),
    "SpeedTests": {
        "description": "Speed tests in the premises' zoom-16 tile (Ookla open data), supporting "
                       "evidence beside the prediction. Speedtest by Ookla, CC BY-NC-SA 4.0: "
                       "non-commercial use only; shown or passed on only with attribution and "
                       "licence.",
        **_object({
            "down": {"type": "number", "minimum": 0, "description": "Average download, Mbit/s"},
            "up": _null("number", minimum=0, description="Average upload, Mbit/s"),
            "latency_ms": _null("number", description="Average latency, ms"),
            "tests": _null("integer", minimum=0), "devices": _null("integer", minimum=0),
            "release": _null("string", description="The Ookla release, e.g. 2026-Q2"),
            "moved": _null("string", enum=["below", "above", None],
                           description="What the tests did to the status (null: nothing)"),
            "attribution": {"type": "string", "description": "Say this wherever they are shown"},
            "licence": {"type": "string", "enum": ["CC BY-NC-SA 4.0"]},
            "licence_url": {"type": "string", "format": "uri"},
            "non_commercial": {"type": "boolean", "enum": [True]}})},
    "Measured": {
        "description": "Ofcom fixed performance for the postcode: speeds measured on the lines "
                       "in use (what people buy, not what they could get). Since July 2024 "
                       "Ofcom publishes average measured speeds as robust only at local "
                       "authority level: a postcode's figures are indicative. Null when the "
                       "release has no row for the postcode.",
        **_object({
            "release": {"type": "string"},
            "lines": _null("integer", minimum=1,
                           description="Lines counted; null when the file gives no counts"),
            "min_lines": {"type": "integer", "minimum": 1,
                          "description": "The performance_min_lines setting"},
            "shown": {"type": "boolean",
                      "description": "False: fewer lines than min_lines, every figure null"},
            "median_down": _null("number", minimum=0), "avg_down": _null("number", minimum=0),
            "median_up": _null("number", minimum=0), "avg_up": _null("number", minimum=0),
            "lines_below_30_pct": _null("number", minimum=0, maximum=100),
            "lines_30_or_more_pct": _null("number", minimum=0, maximum=100),
            "lines_300_or_more_pct": _null(
                "number", minimum=0, maximum=100,
                description="Share of the lines at 300 Mbit/s or more; null when the band is "
                            "empty in the file or not kept"),
            "bands": {"oneOf": [{"type": "null"}, {
                "type": "array", "minItems": len(PERFORMANCE_BANDS),
                "maxItems": len(PERFORMANCE_BANDS),
                "items": _object({
                    "band": {"type": "string", "enum": [c for _, c in PERFORMANCE_BANDS]},
                    "name": {"type": "string", "description": "The band's name in the "
                                                              "language asked for"},
                    "lines": _null("integer", minimum=0,
                                   description="Lines measured in the band; null when the "
                                               "file leaves the band empty")})}],
                      "description": "Lines measured in each of Ofcom's bands, in order; null "
                                     "when the figures are withheld, no line is counted, or "
                                     "the release was loaded before the bands were kept"}})},
    "DecentBroadband": {
        "description": "Ofcom postcode coverage (the release the classification read): decent "
                       "broadband is 10 Mbit/s down and 1 up. A USO request may be met by fixed "
                       "wireless (FWA). Null without a row.",
        **_object({
            "release": {"type": "string"},
            "fixed_unable_10_pct": _null("number", minimum=0, maximum=100,
                                         description="% unable to get 10 Mbit/s by a fixed line"),
            "fwa_decent_pct": _null("number", minimum=0, maximum=100,
                                    description="% able to get decent broadband from FWA"),
            "unable_decent_pct": _null("number", minimum=0, maximum=100,
                                       description="% unable to get decent broadband from "
                                                   "fixed or FWA")})},
    "Premises": _object({
        "uprn": {"type": "integer"}, "postcode": _null("string"),
        "status": {"type": "string", "enum": list(STATUSES.codes)},
        "probability_below": _null("number", minimum=0, maximum=1),
        "best_down": _null("number", minimum=0), "best_up": _null("number", minimum=0),
        "band": _null("string"), "uso": _null("boolean"), "evidence": {"type": "string"},
        "evidence_release": _null("string"), "gigabit_class": _null("string"),
        "planned_build": {"type": "boolean"}, "contract_name": _null("string"),
        "supplier": _null("string"), "final_coverage_date": _null("string"),
        "approximate": {"type": "boolean"}, "location": _ref("Location"),
        "schemes": _object({s: _ref("Scheme") for s in SCHEMES.codes}),
        "speedtest": {"oneOf": [{"type": "null"}, _ref("SpeedTests")],
                      "description": "Null when its tile has no speed tests shown"},
        "address": _null("string", description="From AddressBase (Welsh on ?lang=cy when "
                                               "there is one); only with the public_addresses "
                                               "setting on, and then null without an address"),
        "distance_m": {"type": "number", "description": "From the point asked about"},
    }, optional=("location", "distance_m", "address")),
    "PremisesCollection": _object({
        "type": {"type": "string", "enum": ["FeatureCollection"]},
        "classification": {"type": "string"}, "synthetic": {"type": "boolean"},
        "numberMatched": {"type": "integer", "minimum": 0},
        "numberReturned": {"type": "integer", "minimum": 0},
        "offset": {"type": "integer"}, "limit": {"type": "integer"},
        "location": _ref("Location"), "radius": {"type": "number"},
        "features": {"type": "array", "items": _object({
            "type": {"type": "string", "enum": ["Feature"]}, "id": {"type": "integer"},
            "geometry": _object({"type": {"type": "string", "enum": ["Point"]},
                                 "coordinates": {"type": "array", "items": {"type": "number"},
                                                 "minItems": 2, "maxItems": 2}}),
            "properties": _ref("Premises")})},
    }, optional=("location", "radius")),
    "Postcode": _object({
        "postcode": {"type": "string"}, "classification": {"type": "string"},
        "synthetic": {"type": "boolean"}, "location": _ref("Location"),
        "bounds": {"description": "The premises' extent padded by 40 m, WGS84 "
                                  "[[south, west], [north, east]]; null without premises",
                   "oneOf": [{"type": "null"}, {
                       "type": "array", "minItems": 2, "maxItems": 2, "items": {
                           "type": "array", "items": {"type": "number"},
                           "minItems": 2, "maxItems": 2}}]},
        "local_authority": _object({"code": _null("string"), "name_en": _null("string"),
                                    "name_cy": _null("string")}),
        "summary": {"oneOf": [{"type": "null"}, {
            "type": "object", "additionalProperties": {"type": "number"}}]},
        "premises": {"type": "array", "items": _ref("Premises")},
        "measured": {"oneOf": [{"type": "null"}, _ref("Measured")]},
        "decent_broadband": {"oneOf": [{"type": "null"}, _ref("DecentBroadband")]}}),
    "Releases": _object({
        "releases": {"type": "array", "items": _object({
            "source": {"type": "string"}, "label": {"type": "string"},
            "published": _null("string", format="date"), "synthetic": {"type": "boolean"},
            "run_id": _null("integer")})},
        "classifications": {"type": "array", "items": _object({
            "id": {"type": "integer"}, "label": {"type": "string"},
            "releases": {"type": "object", "additionalProperties": {"type": "string"}},
            "rules_version": {"type": "string"}, "premises": {"type": "integer"},
            "synthetic": {"type": "boolean"},
            "started_at": {"type": "string", "format": "date-time"},
            "finished_at": {"type": "string", "format": "date-time"},
            "is_current": {"type": "boolean"}})}}),
    "Change": _object({
        "from": {"type": "string"}, "to": {"type": "string"},
        "premises_changed": {"type": "integer", "minimum": 0},
        "status_changes": {"type": "array", "items": _object({
            "from": {"type": "string"}, "to": {"type": "string"},
            "premises": {"type": "integer"}})},
        "areas": {"type": "array", "items": {"type": "object"}},
        "premises": {"type": "array", "items": _object({"uprn": {"type": "integer"}})}}),
}

_REPORT = _object({
    "id": {"type": "integer"}, "created_at": {"type": "string", "format": "date-time"},
    "postcode": {"type": "string"}, "la_code": {"type": ["string", "null"]},
    "uprn": {"type": ["integer", "null"]}, "problem": {"type": "string"},
    "measured_down": {"type": ["number", "null"]}, "measured_up": {"type": ["number", "null"]},
    "message": {"type": ["string", "null"]}, "lang": {"type": "string", "enum": ["en", "cy"]},
    "classification": {"type": ["string", "null"]}, "status": {"type": "string"},
    "closed_at": {"type": ["string", "null"]},
    "contact": {"type": ["string", "null"], "description": "officer and admin tokens only"},
    "contact_purged": {"type": "boolean"}}, optional=("contact", "contact_purged"))
_SCHEMAS.update({
    "Report": _REPORT,
    "Reports": _object({"reports": {"type": "array", "items": _REPORT},
                        "total": {"type": "integer"}, "page": {"type": "integer"},
                        "per_page": {"type": "integer"}, "status": {"type": "string"}}),
    "Account": _object({
        "id": {"type": "integer"}, "email": {"type": "string"}, "name": {"type": "string"},
        "role": {"type": "string", "enum": ["admin", "officer", "viewer"]},
        "areas": {"type": "array", "items": {"type": "string"}},
        "authorities": {"type": "array", "items": {"type": "string"}},
        "lang": {"type": "string", "enum": ["en", "cy"]}}),
})

# -- target lists (connectivity/officers/lists.py; docs/lists.md) ---------------------------
_LIST_ID = _param("list_id", "path", "List id (or its name)", {"type": "string"})
_FILTER_PARAMS = [
    _param(name, "query", HELP[name] + (" Repeatable." if name in ListFilters.multiple() else ""),
           {"type": "array", "items": {"type": "string"}} if name in ListFilters.multiple()
           else {"type": "string"}) for name in ListFilters.names()]
_LIST_SECURITY = {"tags": ["officer"], "security": [{"bearerAuth": []}]}
_COUNTS = _object({"total": {"type": "integer"}, "status": {"type": "object"},
                   "scheme": {"type": "object"}})
_SCHEMAS.update({
    "ListCounts": _COUNTS,
    "List": {"type": "object", "required": ["id", "name", "owner", "authorities", "filters",
                                            "snapshots"],
             "properties": {"id": {"type": "integer"}, "name": {"type": "string"},
                            "notes": {"type": "string"}, "owner": {"type": "string"},
                            "authorities": {"type": "array", "items": {"type": "string"}},
                            "filters": {"type": "object"}, "polygon": {"type": "boolean"},
                            "snapshots": {"type": "array", "items": {"type": "object"}},
                            "counts": _COUNTS}},
})
_LIST_PATHS = {
    "/api/v1/officer/lists": {
        "get": {"summary": "The saved target lists of the token's authorities", **_LIST_SECURITY,
                "responses": {"200": _json("Lists", _object({"lists": {
                    "type": "array", "items": _ref("List")}})), "401": _ERROR}},
        "post": {"summary": "Save a target list and its first snapshot (not for viewers)",
                 "description": "JSON: name, notes, authorities (W06 codes), filters (the names "
                                "of /lists/count), polygon (a GeoJSON geometry in WGS84), run.",
                 **_LIST_SECURITY,
                 "requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}},
                 "responses": {"201": _json("The list", _ref("List")), "400": _ERROR,
                               "401": _ERROR, "403": _ERROR, "404": _ERROR}}},
    "/api/v1/officer/lists/count": {"get": {
        "summary": "The live count of a definition, by status and scheme (nothing is saved)",
        **_LIST_SECURITY,
        "parameters": [*_FILTER_PARAMS,
                       _param("authority", "query", "Within these authorities (default: the "
                                                    "token's)",
                              {"type": "array", "items": {"type": "string"}}),
                       _param("polygon", "query", "A GeoJSON geometry (WGS84)", {"type": "string"}),
                       _param("run", "query", "Classification label", {"type": "string"})],
        "responses": {"200": _json("Counts", _ref("ListCounts")), "400": _ERROR, "401": _ERROR,
                      "404": _ERROR}}},
    "/api/v1/officer/lists/{list_id}": {"get": {
        "summary": "One list: definition, snapshots, counts of the latest (404 outside scope)",
        **_LIST_SECURITY, "parameters": [_LIST_ID],
        "responses": {"200": _json("The list", _ref("List")), "400": _ERROR, "401": _ERROR,
                      "404": _ERROR}}},
    "/api/v1/officer/lists/{list_id}/premises": {"get": {
        "summary": "A page of a snapshot's premises, sorted", **_LIST_SECURITY,
        "parameters": [_LIST_ID,
                       _param("snapshot", "query", "Snapshot id (default: the latest)",
                              {"type": "string"}),
                       _param("sort", "query", "Sort column", {"type": "string"}),
                       _param("order", "query", "asc or desc",
                              {"type": "string", "enum": ["asc", "desc"]}),
                       _param("page", "query", "Page, from 1", {"type": "integer", "minimum": 1}),
                       _param("per_page", "query", "Premises a page",
                              {"type": "integer", "minimum": 1, "maximum": 1000})],
        "responses": {"200": _json("Premises", {"type": "object"}), "400": _ERROR,
                      "401": _ERROR, "404": _ERROR}}},
    "/api/v1/officer/lists/{list_id}/refresh": {
        "get": {"summary": "What a refresh on the current classification would change",
                **_LIST_SECURITY, "parameters": [_LIST_ID],
                "responses": {"200": _json("Changes", {"type": "object"}), "400": _ERROR,
                              "401": _ERROR, "404": _ERROR}},
        "post": {"summary": "Refresh and keep the result as a new snapshot (not for viewers)",
                 **_LIST_SECURITY, "parameters": [_LIST_ID],
                 "responses": {"200": _json("Changes", {"type": "object"}), "400": _ERROR,
                               "401": _ERROR, "403": _ERROR, "404": _ERROR}}},
    "/api/v1/officer/lists/{list_id}/export": {"get": {
        "summary": "A snapshot as CSV (UTF-8 with BOM), GeoPackage or GeoJSON (audited)",
        **_LIST_SECURITY,
        "parameters": [_LIST_ID,
                       _param("format", "query", "File format",
                              {"type": "string", "enum": ["csv", "gpkg", "geojson"]}),
                       _param("snapshot", "query", "Snapshot id (default: the latest)",
                              {"type": "string"}), _LANG],
        "responses": {"200": {"description": "The file", "content": {
            "text/csv": {"schema": {"type": "string"}},
            "application/geopackage+sqlite3": {"schema": {"type": "string"}},
            "application/geo+json": {"schema": {"type": "object"}}}},
            "400": _ERROR, "401": _ERROR, "404": _ERROR}}},
}

# -- intervention plans (connectivity/officers/plans.py, bidpack.py; docs/planning.md) -------
_PLAN_ID = _param("plan_id", "path", "Plan id (or its name)", {"type": "string"})
_PLAN_SECURITY = {"tags": ["officer"], "security": [{"bearerAuth": []}]}
_SCHEMAS.update({
    "Plan": {"type": "object", "required": ["id", "name", "authority", "owner", "target", "run",
                                            "costs_version", "clustering", "totals"],
             "properties": {
                 "id": {"type": "integer"}, "name": {"type": "string"},
                 "authority": {"type": "string"}, "owner": {"type": "string"},
                 "notes": {"type": "string"},
                 "target": {"type": "string", "enum": ["30", "gigabit"]},
                 "list": _null("string"), "snapshot": _null("integer"),
                 "run": {"type": "string"}, "releases": {"type": "object"},
                 "synthetic": {"type": "boolean"}, "costs_version": {"type": "string"},
                 "clustering": {"type": "object"},
                 "network_proxy": {"type": "string", "description": "what the served distance "
                                   "is: the nearest premises with 30 Mbit/s or more, a proxy "
                                   "for the nearest network"},
                 "created_by": {"type": "string"}, "created_at": {"type": "string"},
                 "totals": {"type": "object"},
                 "clusters": {"type": "array", "items": {"type": "object"}}}},
})
_PLAN_PATHS = {
    "/api/v1/officer/plans": {
        "get": {"summary": "The intervention plans of the token's authorities", **_PLAN_SECURITY,
                "responses": {"200": _json("Plans", _object({"plans": {
                    "type": "array", "items": _ref("Plan")}})), "401": _ERROR}},
        "post": {"summary": "Cluster, cost and save chosen clusters as a plan (not for viewers)",
                 "description": "JSON: name, area (a W06 code), clusters (ids, 0 for the "
                                "isolated premises) or all: true, list (a saved list), "
                                "distance_m, min_premises, probability_below, target (30 or "
                                "gigabit), notes.",
                 **_PLAN_SECURITY,
                 "requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}},
                 "responses": {"201": _json("The plan", _ref("Plan")), "400": _ERROR,
                               "401": _ERROR, "403": _ERROR, "404": _ERROR}}},
    "/api/v1/officer/plans/{plan_id}": {"get": {
        "summary": "One plan with its clusters and totals (404 outside scope)",
        **_PLAN_SECURITY, "parameters": [_PLAN_ID],
        "responses": {"200": _json("The plan", _ref("Plan")), "400": _ERROR, "401": _ERROR,
                      "404": _ERROR}}},
    "/api/v1/officer/plans/{plan_id}/bidpack": {"get": {
        "summary": "The plan's bid pack: a zip of a GeoPackage, the premises CSV and a "
                   "bilingual summary (audited)",
        **_PLAN_SECURITY, "parameters": [_PLAN_ID],
        "responses": {"200": {"description": "The zip", "content": {
            "application/zip": {"schema": {"type": "string"}}}},
            "400": _ERROR, "401": _ERROR, "404": _ERROR}}},
}

# -- challenges (connectivity/officers/challenges.py, connectivity/transparency.py) -----------
_CHALLENGE_ID = _param("challenge_id", "path", "Challenge id", {"type": "integer"})
_CHALLENGE_SECURITY = {"tags": ["officer"], "security": [{"bearerAuth": []}]}
_DATE_TIME = _null("string", format="date-time")
_SPEED = _null("number")
_CHALLENGE = {"type": "object", "required": [
    "id", "created_at", "kind", "origin", "uprn", "postcode", "la_code", "state", "reason",
    "due_at", "overdue", "history", "evidence"], "properties": {
    "id": {"type": "integer"}, "created_at": {"type": "string", "format": "date-time"},
    "kind": {"type": "string", "enum": list(CHALLENGE_KINDS.codes)},
    "origin": {"type": "string", "enum": list(CHALLENGE_ORIGINS.codes)},
    "report_id": _null("integer"), "load_run_id": _null("integer"),
    "source_line": _null("integer"), "filed_by": _null("string"),
    "uprn": _null("integer"), "postcode": _null("string"), "la_code": _null("string"),
    "point_27700": {"type": ["array", "null"], "items": {"type": "number"},
                    "description": "[easting, northing], British National Grid metres"},
    "availability_reason": _null("string"), "claimed_down": _SPEED, "claimed_up": _SPEED,
    "tests": {"type": "array", "items": {"type": "object"}},
    "evidence_ref": _null("string"), "observed_on": _null("string", format="date"),
    "note": _null("string"), "lang": {"type": "string", "enum": ["en", "cy"]},
    "state": {"type": "string", "enum": list(CHALLENGE_STATES.codes)},
    "reason": _null("string"), "message": _null("string"),
    "due_at": {"type": "string", "format": "date-time"}, "overdue": {"type": "boolean"},
    "screened_at": _DATE_TIME, "decided_at": _DATE_TIME, "decided_by": _null("string"),
    "corrected_down": _SPEED, "corrected_up": _SPEED, "whole_building": {"type": "boolean"},
    "valid_until": _null("string", format="date"), "withdrawn_at": _DATE_TIME,
    "history": {"type": "array", "items": {"type": "object"}},
    "evidence": _object({"tests": {"type": "integer"}, "days": {"type": "integer"},
                         "median_down": _SPEED, "median_up": _SPEED,
                         "enough": {"type": "boolean"},
                         "problems": {"type": "array", "items": {"type": "string"}}}),
    "neighbours": {"type": "object", "description": "other challenges (and of the same kind) "
                                                    "and reports in the same postcode"},
    "building": {"type": "object", "description": "units at the same point, how many are "
                                                  "challenged, whether that escalates"},
    "classification": {"type": "string", "description": "the classification run after an "
                                                        "upheld decision (classify_after_decision)"}}}
_CHALLENGE_STAT = _object({
    "la_code": {"type": "string"}, "name_en": _null("string"), "name_cy": _null("string"),
    "received": {"type": "integer", "minimum": 0}, "upheld": {"type": "integer", "minimum": 0},
    "rejected": {"type": "integer", "minimum": 0}, "moot": {"type": "integer", "minimum": 0},
    "pending": {"type": "integer", "minimum": 0},
    "median_days_to_decision": _null("number", minimum=0)})
_SCHEMAS.update({
    "Challenge": _CHALLENGE,
    "Challenges": _object({"challenges": {"type": "array", "items": _ref("Challenge")},
                           "total": {"type": "integer"}, "page": {"type": "integer"},
                           "per_page": {"type": "integer"},
                           "counts": {"type": "object", "description": "challenges per state in "
                                      "the token's scope, and how many open ones are overdue"}}),
    "ChallengeStats": _object({"authorities": {"type": "array", "items": _CHALLENGE_STAT}}),
})
_CHALLENGE_RESPONSES = {"200": _json("The challenge", _ref("Challenge")), "400": _ERROR,
                        "401": _ERROR, "403": _ERROR, "404": _ERROR}
_CHALLENGE_PATHS = {
    "/api/v1/challenges/stats": {"get": {
        "summary": "Challenges per local authority: received, upheld, rejected, moot, pending, "
                   "median days to a decision (counts only, no personal data)",
        "parameters": [_param("la", "query", "Only this authority (W06 code)",
                              {"type": "string"})],
        "responses": {"200": _json("Figures", _ref("ChallengeStats")), "400": _ERROR}}},
    "/api/v1/officer/challenges": {"get": {
        "summary": "Challenges in the token's authorities, the nearest deadline first",
        **_CHALLENGE_SECURITY,
        "parameters": [
            _param("state", "query", "A state, open (submitted or accepted) or all",
                   {"type": "string", "enum": ["all", "open", *CHALLENGE_STATES.codes]}),
            _param("kind", "query", "Only this kind",
                   {"type": "string", "enum": list(CHALLENGE_KINDS.codes)}),
            _param("overdue", "query", "Only open challenges past their deadline (1 or true)",
                   {"type": "string", "enum": ["1", "true", "0", "false"]}),
            _param("page", "query", "Page, from 1", {"type": "integer", "minimum": 1}),
            _param("per_page", "query", "Challenges a page",
                   {"type": "integer", "minimum": 1, "maximum": 500, "default": 25})],
        "responses": {"200": _json("Challenges", _ref("Challenges")), "400": _ERROR,
                      "401": _ERROR}}},
    "/api/v1/officer/challenges/{challenge_id}": {"get": {
        "summary": "One challenge with its history, evidence check, neighbours and building "
                   "(404 outside the token's authorities; audited as challenge.view)",
        **_CHALLENGE_SECURITY, "parameters": [_CHALLENGE_ID],
        "responses": {"200": _json("The challenge", _ref("Challenge")), "400": _ERROR,
                      "401": _ERROR, "404": _ERROR}}},
    "/api/v1/officer/challenges/{challenge_id}/screen": {"post": {
        "summary": "Accept a submitted challenge for review, or screen it out (not for viewers)",
        "description": "JSON: accept (true or false), reason (a screened_out reason code; "
                       "default: what the evidence check found missing), message (to the "
                       "filer), kind (correct it), point ([easting, northing], British "
                       "National Grid).",
        **_CHALLENGE_SECURITY, "parameters": [_CHALLENGE_ID],
        "requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}},
        "responses": _CHALLENGE_RESPONSES}},
    "/api/v1/officer/challenges/{challenge_id}/decide": {"post": {
        "summary": "Decide a challenge: upheld, rejected or moot (not for viewers)",
        "description": "JSON: outcome (upheld, rejected, moot), reason (a reason code of that "
                       "outcome), message, and for upheld: down and up (Mbit/s; needed for "
                       "speed and availability), valid_until (YYYY-MM-DD), whole_building.",
        **_CHALLENGE_SECURITY, "parameters": [_CHALLENGE_ID],
        "requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}},
        "responses": _CHALLENGE_RESPONSES}},
}

#: the offline base map (webmap/basemap.py over connectivity/basemap.py)
_BASE_ZOOM = _param("zoom", "query", "Map zoom, a whole number", {
    "type": "integer", "minimum": BASE_MIN_ZOOM, "maximum": BASE_MAX_ZOOM}, True)
_BASE_CACHED = {"304": {"description": "Not modified (ETag)"}, "400": _ERROR}
_BASE_PATHS = {
    "/api/v1/base/land.geojson": {"get": {
        "summary": "The land of the offline base map: the union of the local authorities, "
                   "simplified for the zoom (one feature; none before boundaries are loaded)",
        "tags": ["base map"], "parameters": [_BASE_ZOOM],
        "responses": {"200": _geojson("FeatureCollection", _object({
            "type": {"type": "string", "enum": ["FeatureCollection"]},
            "features": {"type": "array", "maxItems": 1, "items": _object({
                "type": {"type": "string", "enum": ["Feature"]},
                "geometry": _object({
                    "type": {"type": "string", "enum": ["Polygon", "MultiPolygon"]},
                    "coordinates": {"type": "array"}}),
                "properties": _object({"zoom": {"type": "integer"},
                                       "tolerance_m": {"type": "number"}})})}})),
            **_BASE_CACHED}}},
    "/api/v1/base/labels.geojson": {"get": {
        "summary": "Place and postcode labels of the offline base map in a box, best first",
        "description": "Cities from zoom 8, towns from 9, villages from 11, suburbs from 12, "
                       "hamlets from 13, localities and postcodes from 14, farms from 15; at "
                       f"most one label per {BASE_CELL_PX[0]} x {BASE_CELL_PX[1]} pixel cell "
                       f"and {BASE_MAX_LABELS} in all. With lang=cy a place's Welsh name where "
                       "one is known.",
        "tags": ["base map"],
        "parameters": [
            _param("bbox", "query", f"west,south,east,north (WGS84), at most {BASE_MAX_BOX_PX} "
                                    "pixels a side at the zoom",
                   {"type": "string", "pattern": f"^{_NUMBER}(,{_NUMBER}){{3}}$"}, True),
            _BASE_ZOOM,
            _param("lang", "query", "Language of the names",
                   {"type": "string", "enum": ["en", "cy"]}, True)],
        "responses": {"200": _geojson("FeatureCollection", _object({
            "type": {"type": "string", "enum": ["FeatureCollection"]},
            "features": {"type": "array", "maxItems": BASE_MAX_LABELS, "items": _object({
                "type": {"type": "string", "enum": ["Feature"]},
                "geometry": _object({
                    "type": {"type": "string", "enum": ["Point"]},
                    "coordinates": {"type": "array", "items": {"type": "number"},
                                    "minItems": 2, "maxItems": 2}}),
                "properties": _object({
                    "name": {"type": "string"},
                    "kind": {"type": "string", "enum": [*BASE_PLACE_KINDS, "postcode"]},
                    "rank": {"type": "integer", "minimum": 1}})})}})),
            **_BASE_CACHED}}},
}

DOCUMENT = {
    "openapi": "3.1.0",
    "info": {
        "title": "Broadband gap map for Wales API",
        "version": __version__,
        "description": "Premises broadband evidence, status and scheme eligibility for Wales, "
                       "in English and Welsh. Coordinates are WGS84. Errors always have the "
                       "shape {\"error\": {\"status\", \"code\", \"message\"}}. The same data as "
                       "OGC API - Features for GIS clients: /ogc (described at /ogc/api).",
        "license": {"name": "Open Government Licence v3.0 (data); MIT (code)"},
    },
    "paths": {
        "/api/v1/health": {"get": {"summary": "Service and database health", "responses": {
            "200": _json("Healthy", _ref("Health")), "503": _ERROR}}},
        "/api/v1/areas": {"get": {
            "summary": "Areas of a level with their counts, or the areas containing a point",
            "description": "With lon= and lat=: the areas that contain the point, of every level "
                           "(largest first) or of the level given.",
            "parameters": [
                _param("level", "query", "Area level (default la; with lon/lat: every level)",
                       {"type": "string", "enum": list(AREA_LEVELS.codes)}),
                _LON, _LAT],
            "responses": {"200": _json("Areas", _ref("Areas")), "400": _ERROR}}},
        "/api/v1/areas.geojson": {"get": {
            "summary": "Areas of a level as GeoJSON (simplified)",
            "parameters": [_param("level", "query", "Area level",
                                  {"type": "string", "enum": list(AREA_LEVELS.codes), "default": "la"})],
            "responses": {"200": _geojson("FeatureCollection", _ref("AreasGeoJSON")),
                          "400": _ERROR}}},
        "/api/v1/areas/{code}": {"get": {
            "summary": "One area",
            "parameters": [_param("code", "path", "Area code, e.g. W06000015", {"type": "string"})],
            "responses": {"200": _json("Area", _ref("AreaSummary")), "400": _ERROR,
                          "404": _ERROR}}},
        "/api/v1/postcodes/{postcode}": {"get": {
            "summary": "What a postcode's premises can get, and which help may apply",
            "parameters": [_param("postcode", "path", "Any spelling: cf101aa, CF10 1AA",
                                  {"type": "string"}), _LANG],
            "responses": {"200": _json("Postcode", _ref("Postcode")), "400": _ERROR,
                          "404": _ERROR}}},
        "/api/v1/premises/{uprn}": {"get": {
            "summary": "One premises: best speed, evidence, status, eligibility with reasons, "
                       "its tile's speed tests and its postcode's measured speeds",
            "parameters": [_param("uprn", "path", "UPRN", {"type": "integer", "minimum": 1}),
                           _LANG],
            "responses": {"200": _json("Premises", {"allOf": [_ref("Premises"), _object({
                "classification": {"type": "string"}, "synthetic": {"type": "boolean"},
                "location": _ref("Location"),
                "measured": {"oneOf": [{"type": "null"}, _ref("Measured")]},
                "decent_broadband": {"oneOf": [{"type": "null"}, _ref("DecentBroadband")]}})]}),
                "400": _ERROR, "404": _ERROR}}},
        "/api/v1/premises": {"get": {
            "summary": "Premises in a box, or near a point, as GeoJSON, paged",
            "description": "Give bbox=, or lon= and lat= (and radius=): premises within radius "
                           "metres of the point, nearest first, each with distance_m.",
            "parameters": [
                _param("bbox", "query", "west,south,east,north (WGS84), at most 0.25 square "
                                        "degrees",
                       {"type": "string", "pattern": f"^{_NUMBER}(,{_NUMBER}){{3}}$"}),
                _LON, _LAT,
                _param("radius", "query", "Metres around lon, lat",
                       {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_RADIUS_M,
                        "default": 100}),
                _param("status", "query", "Only this status",
                       {"type": "string", "enum": list(STATUSES.codes)}),
                _param("scheme", "query", "Only premises eligible or possibly eligible",
                       {"type": "string", "enum": list(SCHEMES.codes)}),
                _param("limit", "query", "Page size", {"type": "integer", "minimum": 1,
                                                       "maximum": MAX_PAGE, "default": 1000}),
                _param("offset", "query", "Page start", {"type": "integer", "minimum": 0,
                                                         "maximum": MAX_OFFSET, "default": 0}),
                _LANG],
            "responses": {"200": _geojson("FeatureCollection", _ref("PremisesCollection")),
                          "400": _ERROR, "404": _ERROR}}},
        "/api/v1/releases": {"get": {"summary": "Loaded source releases and classification runs",
                                     "responses": {"200": _json("Releases", _ref("Releases"))}}},
        "/api/v1/diff": {"get": {
            "summary": "What changed between two classification runs",
            "parameters": [
                _param("from", "query", "Older classification label", {"type": "string"}, True),
                _param("to", "query", "Newer classification label", {"type": "string"}, True),
                _param("level", "query", "Area level for per-area change",
                       {"type": "string", "default": "la"}),
                _param("limit", "query", "How many changed premises to list",
                       {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 100})],
            "responses": {"200": _json("Change", _ref("Change")), "400": _ERROR,
                          "404": _ERROR}}},
        "/tiles/premises/{z}/{x}/{y}.pbf": {"get": {
            "summary": "Premises of the current classification as a Mapbox vector tile (layer "
                       "'premises'; empty below zoom 11)",
            "parameters": _ZXY, "responses": _TILE}},
        "/tiles/areas/{level}/{z}/{x}/{y}.pbf": {"get": {
            "summary": "Areas of a level with their statistics as a Mapbox vector tile (layer "
                       "named like the level)",
            "parameters": [_param("level", "path", "Area level",
                                  {"type": "string",
                                   "enum": ["la", "ward", "lsoa", "msoa", "constituency"]}),
                           *_ZXY],
            "responses": _TILE}},
        "/tiles/hex/{size}/{z}/{x}/{y}.pbf": {"get": {
            "summary": "Hexagons holding premises, with their statistics, as a Mapbox vector "
                       "tile (layer 'hex')",
            "parameters": [_param("size", "path", "Edge length, metres",
                                  {"type": "integer", "enum": [8000, 2000, 500]}), *_ZXY],
            "responses": _TILE}},
        "/api/v1/officer/me": {"get": {
            "summary": "The account behind the token, with the authorities it may see",
            "tags": ["officer"], "security": [{"bearerAuth": []}],
            "responses": {"200": _json("Account", _ref("Account")), "401": _ERROR}}},
        "/api/v1/officer/reports": {"get": {
            "summary": "Residents' reports in the token's authorities, newest first (contact "
                       "details only for officer and admin tokens)",
            "tags": ["officer"], "security": [{"bearerAuth": []}],
            "parameters": [
                _param("status", "query", "Report status, or all",
                       {"type": "string", "enum": ["new", "accepted", "rejected", "all"]}),
                _param("page", "query", "Page, from 1", {"type": "integer", "minimum": 1}),
                _param("per_page", "query", "Reports a page",
                       {"type": "integer", "minimum": 1, "maximum": 500, "default": 25})],
            "responses": {"200": _json("Reports", _ref("Reports")), "400": _ERROR,
                          "401": _ERROR}}},
        "/api/v1/officer/reports/{report_id}": {"get": {
            "summary": "One resident's report (404 outside the token's authorities)",
            "tags": ["officer"], "security": [{"bearerAuth": []}],
            "parameters": [_param("report_id", "path", "Report reference", {"type": "integer"})],
            "responses": {"200": _json("Report", _ref("Report")), "401": _ERROR,
                          "404": _ERROR}}},
        **_LIST_PATHS,
        **_CHALLENGE_PATHS,
        **_PLAN_PATHS,
        **_BASE_PATHS,
    },
    "components": {
        "schemas": _SCHEMAS,
        "securitySchemes": {"bearerAuth": {
            "type": "http", "scheme": "bearer",
            "description": "An API token from `connectivity users token EMAIL --name NAME`"}},
    },
}

# Every route answers 400 to a NUL or other control character in its path or query
# (webmap/security.py checks them before any view), so every operation documents it.
for _item in DOCUMENT["paths"].values():
    for _operation in _item.values():
        _operation["responses"].setdefault("400", _ERROR)


@bp.get("/openapi.json")
def openapi():
    response = jsonify(DOCUMENT)
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response
