"""Open data: the Atom change feeds (``/feeds/wales.atom``, ``/feeds/<code>.atom``, ``?lang=cy``)
and the published releases of ``connectivity publish`` from the ``publish_dir`` setting
(``/data/catalog.jsonld``, ``/data/<release>/<file>``), sent by Werkzeug with their content
types, ETags, conditional and range requests."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, current_app, request, send_from_directory

from connectivity.errors import NotFound
from connectivity.feeds import feed
from connectivity.publishing import CATALOG, MEDIA_TYPES

from .pool import db_connection

bp = Blueprint("data", __name__)


def _atom(code: str | None) -> Response:
    lang = "cy" if request.args.get("lang") == "cy" else "en"
    with db_connection() as conn:
        body = feed(conn, code, lang, request.host_url)
    return Response(body, mimetype="application/atom+xml",
                    headers={"Cache-Control": "public, max-age=300",
                             "Access-Control-Allow-Origin": "*", "Content-Language": lang})


@bp.get("/feeds/wales.atom")
def wales_feed():
    return _atom(None)


@bp.get("/feeds/<code>.atom")
def area_feed(code: str):
    return _atom(code)


def _folder() -> Path:
    folder = current_app.config["GAPMAP_SETTINGS"].publish_dir
    if folder is None or not Path(folder).is_dir():
        raise NotFound("no published data is served here",
                       "set publish_dir to a folder written by `connectivity publish --out DIR`")
    return Path(folder)


def _send(folder: Path, name: str) -> Response:
    if any(part.startswith(".") for part in Path(name).parts):
        raise NotFound(f"no published file {name}")
    mimetype = MEDIA_TYPES.get(Path(name).suffix, "application/octet-stream")
    # gunicorn's file wrapper cannot seek, so Werkzeug would read a range's file from the start
    # up to the range (a tile near the end of a large archive: the whole file); its own can
    request.environ.pop("wsgi.file_wrapper", None)
    response = send_from_directory(folder, name, mimetype=mimetype, conditional=True,
                                   max_age=300)
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.get("/data/catalog.jsonld")
def catalog():
    return _send(_folder(), CATALOG)


@bp.get("/data/<release>/<path:name>")
def download(release: str, name: str):
    folder = _folder()
    if release.startswith(".") or not (folder / release).is_dir():
        raise NotFound(f"no published release {release}")
    return _send(folder / release, name)
