"""The OpenAPI 3.1 document of the HTTP API, served at ``/openapi.json``.

Written by hand, kept honest by tests/test_api.py, which checks that every route of the app is
documented and every documented path exists, and validates the document."""

from __future__ import annotations

from flask import Blueprint, jsonify

from connectivity import __version__

bp = Blueprint("openapi", __name__)

_ERROR = {"description": "Error", "content": {"application/json": {
    "schema": {"$ref": "#/components/schemas/Error"}}}}
_LANG = {"name": "lang", "in": "query", "required": False,
         "description": "Language of the reasons: en or cy (default: Accept-Language).",
         "schema": {"type": "string", "enum": ["en", "cy"]}}


def _json(description: str, schema: dict | None = None) -> dict:
    return {"description": description, "content": {"application/json": {
        "schema": schema or {"type": "object"}}}}


def _param(name: str, where: str, description: str, schema: dict, required: bool = False) -> dict:
    return {"name": name, "in": where, "required": required or where == "path",
            "description": description, "schema": schema}


DOCUMENT = {
    "openapi": "3.1.0",
    "info": {
        "title": "Broadband gap map for Wales API",
        "version": __version__,
        "description": "Premises broadband evidence, status and scheme eligibility for Wales, "
                       "in English and Welsh. Coordinates are WGS84. Errors always have the "
                       "shape {\"error\": {\"status\", \"code\", \"message\"}}.",
        "license": {"name": "Open Government Licence v3.0 (data); MIT (code)"},
    },
    "paths": {
        "/api/v1/health": {"get": {"summary": "Service and database health", "responses": {
            "200": _json("Healthy"), "503": _ERROR}}},
        "/api/v1/areas": {"get": {
            "summary": "Areas of a level with their counts",
            "parameters": [_param("level", "query", "Area level", {
                "type": "string", "enum": ["country", "la", "ward", "lsoa", "msoa", "constituency", "oa"],
                "default": "la"})],
            "responses": {"200": _json("Areas"), "400": _ERROR}}},
        "/api/v1/areas.geojson": {"get": {
            "summary": "Areas of a level as GeoJSON (simplified)",
            "parameters": [_param("level", "query", "Area level", {"type": "string", "default": "la"})],
            "responses": {"200": {"description": "FeatureCollection", "content": {
                "application/geo+json": {"schema": {"type": "object"}}}}, "400": _ERROR}}},
        "/api/v1/areas/{code}": {"get": {
            "summary": "One area",
            "parameters": [_param("code", "path", "Area code, e.g. W06000015", {"type": "string"})],
            "responses": {"200": _json("Area"), "404": _ERROR}}},
        "/api/v1/postcodes/{postcode}": {"get": {
            "summary": "What a postcode's premises can get, and which help may apply",
            "parameters": [_param("postcode", "path", "Any spelling: cf101aa, CF10 1AA",
                                  {"type": "string"}), _LANG],
            "responses": {"200": _json("Postcode"), "400": _ERROR, "404": _ERROR}}},
        "/api/v1/premises/{uprn}": {"get": {
            "summary": "One premises: best speed, evidence, status, eligibility with reasons",
            "parameters": [_param("uprn", "path", "UPRN", {"type": "integer"}), _LANG],
            "responses": {"200": _json("Premises"), "404": _ERROR}}},
        "/api/v1/premises": {"get": {
            "summary": "Premises in a box, as GeoJSON, paged",
            "parameters": [
                _param("bbox", "query", "west,south,east,north (WGS84), at most 0.25 square degrees",
                       {"type": "string"}, required=True),
                _param("status", "query", "Only this status",
                       {"type": "string", "enum": ["below", "possibly_below", "above", "unknown"]}),
                _param("scheme", "query", "Only premises eligible or possibly eligible",
                       {"type": "string", "enum": ["abc", "lbf", "uso", "voucher"]}),
                _param("limit", "query", "Page size", {"type": "integer", "minimum": 1,
                                                       "maximum": 5000, "default": 1000}),
                _param("offset", "query", "Page start", {"type": "integer", "minimum": 0, "default": 0}),
                _LANG],
            "responses": {"200": {"description": "FeatureCollection", "content": {
                "application/geo+json": {"schema": {"type": "object"}}}}, "400": _ERROR}}},
        "/api/v1/releases": {"get": {"summary": "Loaded source releases and classification runs",
                                     "responses": {"200": _json("Releases")}}},
        "/api/v1/diff": {"get": {
            "summary": "What changed between two classification runs",
            "parameters": [
                _param("from", "query", "Older classification label", {"type": "string"}, True),
                _param("to", "query", "Newer classification label", {"type": "string"}, True),
                _param("level", "query", "Area level for per-area change", {"type": "string", "default": "la"}),
                _param("limit", "query", "How many changed premises to list", {"type": "integer", "default": 100})],
            "responses": {"200": _json("Change"), "400": _ERROR, "404": _ERROR}}},
        "/tiles/premises/{z}/{x}/{y}.pbf": {"get": {
            "summary": "Premises of the current classification as a Mapbox vector tile (layer "
                       "'premises'; empty below zoom 11)",
            "parameters": [_param("z", "path", "Zoom", {"type": "integer"}),
                           _param("x", "path", "Column", {"type": "integer"}),
                           _param("y", "path", "Row", {"type": "integer"})],
            "responses": {"200": {"description": "Tile", "content": {
                "application/vnd.mapbox-vector-tile": {"schema": {"type": "string",
                                                               "format": "binary"}}}},
                          "304": {"description": "Not modified (ETag)"}, "400": _ERROR}}},
    },
    "components": {"schemas": {"Error": {
        "type": "object", "required": ["error"],
        "properties": {"error": {"type": "object", "required": ["status", "code", "message"],
                                 "properties": {"status": {"type": "integer"},
                                                "code": {"type": "string"},
                                                "message": {"type": "string"}}}}}}},
}


@bp.get("/openapi.json")
def openapi():
    response = jsonify(DOCUMENT)
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response
