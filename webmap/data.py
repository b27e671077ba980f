"""Open data: the Atom change feeds (``/feeds/wales.atom``, ``/feeds/<code>.atom``, ``?lang=cy``)
and the published releases of ``connectivity publish`` from the ``publish_dir`` setting
(``/data/catalog.jsonld``, ``/data/<release>/<file>``), sent by Werkzeug with their content
types, ETags, conditional and range requests; ``/<lang>/data`` is the catalogue as a page."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from flask import Blueprint, Response, current_app, g, render_template, request, send_from_directory
from flask_babel import format_decimal

from connectivity.errors import NotFound
from connectivity.feeds import feed
from connectivity.lookup import SPEEDTEST_LICENCE
from connectivity.publishing import CATALOG, MEDIA_TYPES, OGL, catalogue_page, scope_names
from connectivity.releases import synthetic_loaded
from connectivity.vocab import SPEEDTESTS

from .pages import add_lang, pull_lang
from .pool import db_connection

bp = Blueprint("data", __name__)
bp.url_value_preprocessor(pull_lang)
bp.url_defaults(add_lang)


def file_size(size: int) -> str:
    """A byte count as people read it (kB and MB in powers of 1,000, as file managers do)."""
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if size >= scale:
            return f"{format_decimal(round(size / scale, 1))} {unit}"
    return f"{format_decimal(size)} B"


@bp.get("/<lang>/data")
def data_page():
    """The published releases for people: each file with what it is, its format, size, licence
    and attribution, its release and the releases it used, SHA-256 and its download link."""
    folder = current_app.config["GAPMAP_SETTINGS"].publish_dir
    with db_connection() as conn:
        names = scope_names(conn)
        synthetic = synthetic_loaded(conn)
    releases = catalogue_page(folder, g.lang, names)
    for release in releases:  # dates for Flask-Babel's filters, in the reader's language
        if release.get("issued"):
            release["issued"] = dt.datetime.fromisoformat(release["issued"])
        for source in release.get("sources", []):
            source["issued"] = source["issued"] and dt.date.fromisoformat(source["issued"])
            # the catalogue names a source release "<source> <label>": Ookla's speed tests are
            # CC BY-NC-SA 4.0 (non-commercial), not the Open Government Licence of the rest
            if source["title"].split(" ", 1)[0] == SPEEDTESTS.release_source:
                source["licence"] = SPEEDTEST_LICENCE
        for area in release["areas"]:
            area["files"] = sum(len(ds["files"]) for ds in area["datasets"])
    response = Response(render_template("data.html", releases=releases, synthetic=synthetic,
                                        file_size=file_size, ogl=OGL))
    response.headers["Content-Language"] = g.lang
    return response


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
