"""OGC API - Features at ``/ogc``: premises and areas for GDAL, QGIS and other clients.

Written by hand over connectivity/features.py (docs/ogc.md says why not pygeoapi). JSON only
(GeoJSON for features, CRS84); conformance classes core, geojson and oas30; the OpenAPI 3.0
description is at ``/ogc/api``. Errors have the API's one shape (webmap/errors.py).
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any
from urllib.parse import urlencode

import psycopg
from flask import Blueprint, Response, current_app, request, url_for

from connectivity import __version__, runs
from connectivity.db import SCHEMA
from connectivity.errors import BadRequest
from connectivity.features import (
    COLLECTIONS,
    CRS84,
    DEFAULT_LIMIT,
    MAX_LIMIT,
    Collection,
    Prop,
    collection,
    extent,
    item,
    items,
    parse_crs84_bbox,
    parse_filters,
    parse_paging,
)
from connectivity.lookup import MAX_OFFSET, SPEEDTEST_LICENCE
from connectivity.outputs import used_speedtests
from connectivity.reasons import missing_columns_sql
from connectivity.vocab import ADDRESS_KINDS, SPEEDTEST_ATTRIBUTION

from .pool import db_connection

bp = Blueprint("ogc", __name__)

GEOJSON = "application/geo+json"
JSON = "application/json"
JSON_SCHEMA = "application/schema+json"
OPENAPI_30 = "application/vnd.oai.openapi+json;version=3.0"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
]
TITLE = "Broadband gap map for Wales"
DESCRIPTION = ("Premises broadband status and scheme eligibility, and figures per area, as OGC API "
               "- Features (GeoJSON, CRS84). Open Government Licence v3.0; contains OS data (c) "
               "Crown copyright and database right 2025.")


def _evidence(name: str, type_: str, description: str, enum: tuple[str, ...] | None = None) -> Prop:
    return Prop(name, f"c.{name}", type_, description, nullable=True, enum=enum)


#: the classification's newer evidence (issue 17), after the premises collection's own
#: properties (connectivity/features.py): null for a run classified before it was evidence
EVIDENCE = (
    _evidence("address_kind", "string", "What AddressBase says the premises is: residential, "
              "business or dual_use (null without an AddressBase record)",
              ADDRESS_KINDS.codes[:3]),  # not_premises are not classified
    _evidence("oa_code", "string", "The output area whose Ofcom counts were read for the premises"),
    _evidence("oa_premises", "integer",
              "Ofcom's premises in the output area (All Premises, from AddressBase: not our count)"),
    _evidence("oa_unable_30", "integer",
              "Ofcom: premises in the output area unable to receive 30 Mbit/s"),
    _evidence("oa_unable_decent", "integer",
              "Ofcom: premises in the output area unable to receive decent broadband from fixed "
              "or fixed wireless"),
    _evidence("fwa_decent_pct", "number",
              "Ofcom: % of premises in the postcode able to receive decent broadband by fixed "
              "wireless (which can meet a USO request)"),
    _evidence("speedtest_down", "number",
              "Average download of the speed tests in the premises' tile, Mbit/s (Speedtest by "
              "Ookla, CC BY-NC-SA 4.0, non-commercial use only: the collection's license link)"),
    _evidence("speedtest_up", "number",
              "Average upload of the speed tests in the premises' tile, Mbit/s (Speedtest by "
              "Ookla, CC BY-NC-SA 4.0, non-commercial use only)"),
    _evidence("speedtest_tests", "integer", "How many speed tests the tile's averages are of"),
    _evidence("speedtest_release", "string", "The quarter of the speed tests (Ookla open data)"),
    _evidence("speedtest_moved", "string", "Where speed tests moved a possibly-below premises "
              "(null: not moved)", ("below", "above")),
)
#: the premises' address (AddressBase), only with the public_addresses setting on
ADDRESSES = (
    Prop("address_en", "a.address_en", "string", "Address (AddressBase), in English",
         nullable=True),
    Prop("address_cy", "a.address_cy", "string",
         "Address in Welsh, where AddressBase has the Welsh-language variant", nullable=True),
)


def _addresses() -> bool:
    return current_app.config["GAPMAP_SETTINGS"].public_addresses


def _served(coll: Collection, addresses: bool) -> Collection:
    """``coll`` as served: premises with the newer evidence (and the addresses when
    ``addresses``). They are not queryable: the filters are features.py's."""
    if coll.level is not None:
        return coll
    return dataclasses.replace(coll, properties=(*coll.properties, *EVIDENCE,
                                                 *(ADDRESSES if addresses else ())))


def _add_evidence(conn: psycopg.Connection, features: list[dict[str, Any]],
                  addresses: bool) -> None:
    """Each premises feature's newer evidence (and address), read by UPRN in one query from
    the current run (the same run as the page: a request's connection holds the views, see
    webmap/pool.py); a run classified before the columns existed gives nulls."""
    if not features:
        return
    props = (*EVIDENCE, *(ADDRESSES if addresses else ()))
    join = f" LEFT JOIN {SCHEMA}.address a ON a.uprn = c.uprn" if addresses else ""
    cur = conn.execute(
        f"""SELECT c.uprn, {', '.join(f'{p.sql} AS {p.name}' for p in props)}
            FROM (SELECT *{missing_columns_sql(conn, 'premises_class')}
                  FROM {SCHEMA}.premises_class) c{join}
            WHERE c.uprn = ANY(%s)""", ([f["id"] for f in features],))
    found = {row[0]: row[1:] for row in cur.fetchall()}
    for feature in features:
        values = found.get(feature["id"], (None,) * len(props))
        feature["properties"].update(zip((p.name for p in props), values, strict=True))


def _licence_links(conn: psycopg.Connection) -> list[dict[str, str]]:
    """The speed tests' licence (CC BY-NC-SA 4.0), while the current run read Ookla."""
    run = runs.current(conn)
    if run is None or not used_speedtests(conn, run.label):
        return []
    return [_link(SPEEDTEST_LICENCE[1], "license", "text/html",
                  f"Speed test figures (speedtest_*): {SPEEDTEST_ATTRIBUTION.name('en')}")]


def _response(document: Any, mimetype: str = JSON) -> Response:
    response = Response(json.dumps(document, ensure_ascii=False, separators=(",", ":")),
                        content_type=mimetype)
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


def _check_args(allowed: set[str]) -> dict[str, str]:
    """The query parameters, refused (400) when unknown, repeated or not JSON-formatted."""
    unknown = sorted(set(request.args) - allowed)
    if unknown:
        raise BadRequest(f"unknown query parameter {', '.join(unknown)}; this resource takes "
                         f"{', '.join(sorted(allowed))}")
    args = {}
    for name, values in request.args.lists():
        if len(values) > 1:
            raise BadRequest(f"give {name} once")
        args[name] = values[0]
    if args.get("f", "json") != "json":
        raise BadRequest(f"f={args['f']!r} is not offered; this service answers in JSON only (f=json)")
    return args


def _url(endpoint: str, **values: Any) -> str:
    return url_for(f"ogc.{endpoint}", _external=True, **values)


def _link(href: str, rel: str, type_: str, title: str | None = None) -> dict[str, str]:
    link = {"href": href, "rel": rel, "type": type_}
    if title:
        link["title"] = title
    return link


def _collection_doc(conn, coll: Collection) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": coll.id, "title": coll.title, "description": coll.description,
        "itemType": "feature", "crs": [CRS84],
    }
    bbox = extent(conn, coll)
    if bbox is not None:
        doc["extent"] = {"spatial": {"bbox": [bbox], "crs": CRS84}}
    doc["links"] = [
        _link(_url("collection_page", cid=coll.id), "self", JSON, coll.title),
        _link(_url("items_page", cid=coll.id), "items", GEOJSON, f"{coll.title} (GeoJSON)"),
        _link(_url("schema_page", cid=coll.id), "describedBy", JSON_SCHEMA,
              f"{coll.title}: the schema of a feature"),
    ]
    if coll.level is None:
        # the licence in the description too: GDAL keeps a collection's description as its
        # layer's (a GeoPackage written from it keeps it), where links are lost
        for link in _licence_links(conn):
            doc["links"].append(link)
            doc["description"] += f" {link['title']} ({link['href']})."
    return doc


@bp.get("/")
@bp.get("")
def landing():
    _check_args({"f"})
    return _response({
        "title": TITLE, "description": DESCRIPTION,
        "links": [
            _link(_url("landing"), "self", JSON, "This document"),
            _link(_url("api"), "service-desc", OPENAPI_30, "The API definition (OpenAPI 3.0)"),
            _link(_url("conformance"), "conformance", JSON, "Conformance classes"),
            _link(_url("collections"), "data", JSON, "Collections"),
        ],
    })


@bp.get("/conformance")
def conformance():
    _check_args({"f"})
    return _response({"conformsTo": CONFORMANCE})


@bp.get("/collections")
def collections():
    _check_args({"f"})
    with db_connection() as conn:
        docs = [_collection_doc(conn, coll) for coll in COLLECTIONS.values()]
    return _response({"links": [_link(_url("collections"), "self", JSON, "Collections")],
                      "collections": docs})


@bp.get("/collections/<cid>")
def collection_page(cid: str):
    coll = collection(cid)
    _check_args({"f"})
    with db_connection() as conn:
        return _response(_collection_doc(conn, coll))


@bp.get("/collections/<cid>/schema")
def schema_page(cid: str):
    """The JSON Schema of a feature (rel="describedBy"): GDAL's OAPIF driver takes the field
    types from it rather than from the first page, where a property can be null throughout."""
    coll = collection(cid)
    _check_args({"f"})
    url = _url("schema_page", cid=coll.id)
    return _response({"$id": url, "title": f"{coll.title}: a feature",
                      **_feature_schema(_served(coll, _addresses()), for_gdal=True)}, JSON_SCHEMA)


@bp.get("/collections/<cid>/items")
def items_page(cid: str):
    coll = collection(cid)
    args = _check_args({"f", "bbox", "limit", "offset", *coll.queryables})
    bbox = parse_crs84_bbox(args["bbox"]) if "bbox" in args else None
    limit, offset = parse_paging(args.get("limit"), args.get("offset"))
    filters = parse_filters(coll, args)
    licences: list[dict[str, str]] = []
    with db_connection() as conn:
        page = items(conn, coll, bbox=bbox, filters=filters, limit=limit, offset=offset)
        if coll.level is None:
            _add_evidence(conn, page["features"], _addresses())
            licences = _licence_links(conn)
    returned = len(page["features"])

    def page_url(start: int) -> str:
        query = {k: v for k, v in args.items() if k != "offset"}
        if start:
            query["offset"] = str(start)
        return _url("items_page", cid=coll.id) + (f"?{urlencode(query)}" if query else "")

    links = [_link(page_url(offset), "self", GEOJSON, "This page"),
             _link(_url("collection_page", cid=coll.id), "collection", JSON, coll.title)]
    if offset + returned < page["matched"]:
        links.append(_link(page_url(offset + limit), "next", GEOJSON, "Next page"))
    if offset > 0:
        links.append(_link(page_url(max(0, offset - limit)), "prev", GEOJSON, "Previous page"))
    links += licences
    return _response({
        "type": "FeatureCollection",
        "numberMatched": page["matched"], "numberReturned": returned,
        "classification": page["classification"], "synthetic": page["synthetic"],
        "features": page["features"], "links": links,
    }, GEOJSON)


@bp.get("/collections/<cid>/items/<fid>")
def item_page(cid: str, fid: str):
    coll = collection(cid)
    _check_args({"f"})
    licences: list[dict[str, str]] = []
    with db_connection() as conn:
        feature = item(conn, coll, fid)
        if coll.level is None:
            _add_evidence(conn, [feature], _addresses())
            licences = _licence_links(conn)
    feature["links"] = [
        _link(_url("item_page", cid=coll.id, fid=feature["id"]), "self", GEOJSON, "This feature"),
        _link(_url("collection_page", cid=coll.id), "collection", JSON, coll.title),
        *licences,
    ]
    return _response(feature, GEOJSON)


@bp.get("/api")
def api():
    _check_args({"f"})
    return _response(openapi_document(_url("landing"), _addresses()), OPENAPI_30)


# ---------------------------------------------------------------------------------------------
# The OpenAPI 3.0 description: one path per collection, so clients (GDAL) see which properties
# each items path can filter on.
# ---------------------------------------------------------------------------------------------

def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/parameters/{name}"}


def _ok(description: str, mimetype: str, schema: dict | None = None) -> dict[str, Any]:
    return {"description": description,
            "content": {mimetype: {"schema": schema or {"type": "object"}}}}


_ERRORS = {status: {"description": text, "content": {JSON: {
    "schema": {"$ref": "#/components/schemas/Error"}}}}
    for status, text in (("400", "Bad request"), ("404", "Not found"),
                         ("503", "Database unavailable"))}


def _feature_schema(coll: Collection, for_gdal: bool = False) -> dict[str, Any]:
    """A feature of ``coll`` (OpenAPI 3.0 dialect: ``nullable``, since GDAL 3.6 reads only a
    string ``type``). ``for_gdal``: the collection's own schema, which leaves out the ``uprn``
    property (the feature id, described there as int64) because GDAL 3.6 makes every schema
    integer a 32-bit field; GDAL then takes it from the features, as Integer64."""
    props = [p for p in coll.properties if not (for_gdal and p.name == "uprn")]
    fid: dict[str, Any] = {"type": coll.id_type}
    if for_gdal:
        fid.update({"description": "The UPRN (the property uprn)" if coll.level is None
                    else "The area code (the property code)", "x-ogc-role": "id"})
        if coll.level is None:
            fid["format"] = "int64"
    return {
        "type": "object", "required": ["type", "id", "geometry", "properties"],
        "properties": {
            "type": {"type": "string", "enum": ["Feature"]},
            "id": fid,
            "geometry": {"type": "object", "properties": {
                "type": {"type": "string", "enum": [coll.geometry_type]},
                "coordinates": {"type": "array"}}},
            "properties": {"type": "object",
                           "required": [p.name for p in props],
                           "properties": {p.name: p.schema() for p in props}},
        },
    }


def openapi_document(server: str, addresses: bool = False) -> dict[str, Any]:
    """The OpenAPI 3.0 description; ``addresses``: the premises carry their addresses (the
    public_addresses setting)."""
    def op(summary: str, ok: dict, *errors: str, parameters: list | None = None) -> dict:
        return {"get": {"summary": summary, "parameters": parameters or [_ref("f")],
                        "responses": {"200": ok, **{e: _ERRORS[e] for e in errors}}}}

    paths: dict[str, Any] = {
        "/": op("Landing page", _ok("Links to the API definition, conformance and collections",
                                    JSON), "400"),
        "/api": op("This API definition", _ok("OpenAPI 3.0", OPENAPI_30), "400"),
        "/conformance": op("Conformance classes", _ok("conformsTo", JSON), "400"),
        "/collections": op("The collections", _ok("Collections", JSON), "400", "503"),
    }
    for coll in COLLECTIONS.values():
        base = f"/collections/{coll.id}"
        feature = {"$ref": f"#/components/schemas/{coll.id}-feature"}
        props = [{"name": p.name, "in": "query", "required": False, "style": "form",
                  "explode": False, "description": f"Only features whose {p.name} equals this",
                  "schema": {k: v for k, v in p.schema().items() if k != "nullable"}}
                 for p in coll.queryables.values()]
        paths[base] = op(coll.title, _ok("The collection", JSON), "400", "404", "503")
        paths[f"{base}/schema"] = op(f"{coll.title}: the JSON Schema of a feature",
                                     _ok("JSON Schema", JSON_SCHEMA), "400", "404")
        paths[f"{base}/items"] = op(
            f"{coll.title}: features", _ok("A page of features", GEOJSON, {
                "type": "object", "required": ["type", "features", "numberMatched",
                                               "numberReturned", "links"],
                "properties": {"type": {"type": "string", "enum": ["FeatureCollection"]},
                               "numberMatched": {"type": "integer", "minimum": 0},
                               "numberReturned": {"type": "integer", "minimum": 0},
                               "features": {"type": "array", "items": feature},
                               "links": {"type": "array"}}}),
            "400", "404", "503",
            parameters=[_ref("f"), _ref("bbox"), _ref("limit"), _ref("offset"), *props])
        paths[f"{base}/items/{{featureId}}"] = op(
            f"{coll.title}: one feature", _ok("The feature", GEOJSON, feature), "400", "404", "503",
            parameters=[_ref("f"), {"name": "featureId", "in": "path", "required": True,
                                    "description": "UPRN" if coll.level is None else "Area code",
                                    "schema": {"type": "string"}}])
    return {
        "openapi": "3.0.3",
        "info": {"title": f"{TITLE}: OGC API - Features", "version": __version__,
                 "description": DESCRIPTION,
                 "license": {"name": "Open Government Licence v3.0 (data); MIT (code)"}},
        "servers": [{"url": server}],
        "paths": paths,
        "components": {
            "parameters": {
                "f": {"name": "f", "in": "query", "required": False,
                      "description": "Format: JSON only (GeoJSON for features)",
                      "schema": {"type": "string", "enum": ["json"], "default": "json"}},
                "bbox": {"name": "bbox", "in": "query", "required": False, "style": "form",
                         "explode": False,
                         "description": "west,south,east,north in CRS84 (longitude, latitude)",
                         "schema": {"type": "array", "minItems": 4, "maxItems": 6,
                                    "items": {"type": "number"}}},
                "limit": {"name": "limit", "in": "query", "required": False, "style": "form",
                          "explode": False,
                          "description": f"Page size; above {MAX_LIMIT} it is lowered to it",
                          "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT,
                                     "default": DEFAULT_LIMIT}},
                "offset": {"name": "offset", "in": "query", "required": False, "style": "form",
                           "explode": False, "description": "Features to skip",
                           "schema": {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET,
                                      "default": 0}},
            },
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {
                    "type": "object", "required": ["status", "code", "message"],
                    "properties": {"status": {"type": "integer"}, "code": {"type": "string"},
                                   "message": {"type": "string"}}}}},
                **{f"{c.id}-feature": _feature_schema(_served(c, addresses))
                   for c in COLLECTIONS.values()},
            },
        },
    }
