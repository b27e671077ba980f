"""The offline base map's JSON API, ``/api/v1/base``: the land (``land.geojson?zoom=``) and the
place and postcode labels (``labels.geojson?bbox=&zoom=&lang=``) over
:mod:`connectivity.basemap`. Answers are cached per data version in the app (a small LRU) and
carry an ETag and Cache-Control like the tiles."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

from flask import Blueprint, Response, current_app, request

from connectivity.basemap import (
    labels,
    land,
    land_zoom,
    parse_label_box,
    parse_lang,
    parse_zoom,
)
from connectivity.maptiles import data_version

from .pool import db_connection

bp = Blueprint("basemap", __name__)

#: answers kept per app: every land zoom plus the label boxes most recently asked for
CACHE_SIZE = 256


class _Cache:
    """A thread-safe least-recently-used map of (data version, key) to GeoJSON text."""

    def __init__(self, size: int):
        self.size, self.items, self.lock = size, OrderedDict(), threading.Lock()

    def get(self, key):
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return self.items[key]
            return None

    def put(self, key, value) -> None:
        with self.lock:
            self.items[key] = value
            self.items.move_to_end(key)
            while len(self.items) > self.size:
                self.items.popitem(last=False)


@bp.record_once
def _setup(state) -> None:
    state.app.extensions["gapmap_basemap_cache"] = _Cache(CACHE_SIZE)


def _answer(key: str, make) -> Response:
    """The cached answer for ``key`` at the current data version, made with ``make(conn)``."""
    cache = current_app.extensions["gapmap_basemap_cache"]
    with db_connection() as conn:
        version = data_version(conn)
        etag = hashlib.sha1(f"{version}/{key}".encode()).hexdigest()[:20]
        headers = {"ETag": f'"{etag}"', "Cache-Control": "public, max-age=300",
                   "Access-Control-Allow-Origin": "*"}
        if request.if_none_match.contains(etag):
            return Response(status=304, headers=headers)
        body = cache.get((version, key))
        if body is None:
            body = make(conn)
            cache.put((version, key), body)
    return Response(body, mimetype="application/geo+json", headers=headers)


@bp.get("/land.geojson")
def land_geojson():
    zoom = land_zoom(parse_zoom(request.args.get("zoom")))
    return _answer(f"land/{zoom}", lambda conn: land(conn, zoom))


@bp.get("/labels.geojson")
def labels_geojson():
    zoom = parse_zoom(request.args.get("zoom"))
    lang = parse_lang(request.args.get("lang"))
    box = parse_label_box(request.args.get("bbox"), zoom)
    key = f"labels/{zoom}/{lang}/" + ",".join(f"{v:.6f}" for v in box)
    return _answer(key, lambda conn: labels(conn, box, zoom, lang))
