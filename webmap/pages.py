"""Pages for people, under /en/... and /cy/...; ``/`` picks the language from the browser."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, g, redirect, render_template, request, url_for

from connectivity.areas import area_geojson, area_summaries
from connectivity.lookup import postcode_detail, postcode_of_uprn
from connectivity.postcodes import normalise_postcode
from connectivity.releases import synthetic_loaded

from .i18n import LANGUAGES, negotiate
from .mapview import build_map, build_postcode_map
from .pool import db_connection

bp = Blueprint("pages", __name__)


@bp.url_value_preprocessor
def pull_lang(endpoint, values):
    if values and "lang" in values:
        lang = values.pop("lang")
        if lang not in LANGUAGES:
            abort(404)
        g.lang = lang


@bp.url_defaults
def add_lang(endpoint, values):
    if "lang" not in values and current_app.url_map.is_endpoint_expecting(endpoint, "lang"):
        values["lang"] = getattr(g, "lang", None) or negotiate()


@bp.after_request
def vary(response):
    response.headers.add("Vary", "Accept-Language")
    response.headers.setdefault("Content-Language", getattr(g, "lang", "en"))
    return response


@bp.get("/")
def root():
    return redirect(url_for("pages.map_page", lang=negotiate()), code=302)


@bp.get("/<lang>/")
def map_page():
    settings = current_app.config["GAPMAP_SETTINGS"]
    with db_connection() as conn:
        geojson = area_geojson(conn, "la")
        synthetic = synthetic_loaded(conn)
    rendered = build_map(geojson, g.lang, settings,
                         lambda path: url_for("static", filename=path), synthetic=synthetic,
                         tiles_url=_tiles_url())
    total = sum(f["properties"]["postcodes"] for f in geojson["features"])
    return render_template("map.html", map=rendered, areas=len(geojson["features"]),
                           postcodes_total=total, synthetic=synthetic)


@bp.get("/<lang>/areas")
def areas_page():
    with db_connection() as conn:
        areas = area_summaries(conn, "la")
        synthetic = synthetic_loaded(conn)
    return render_template("areas.html", areas=areas, synthetic=synthetic,
                           postcodes_total=sum(a["postcodes"] for a in areas),
                           premises_total=sum(a["premises"] for a in areas))


def _tiles_url() -> str:
    return url_for("tiles.premises", z=0, x=0, y=0).replace("/0/0/0.pbf", "/{z}/{x}/{y}.pbf")


@bp.get("/<lang>/search")
def search():
    """A postcode goes to its page; a UPRN to its postcode's page; anything else is explained."""
    query = (request.args.get("q") or "").strip()
    postcode = normalise_postcode(query)
    if postcode:
        return redirect(url_for("pages.postcode_page", lang=g.lang, postcode=postcode.replace(" ", "")))
    if query.isdigit() and len(query) <= 12:
        with db_connection() as conn:
            found = postcode_of_uprn(conn, int(query))
        if found:
            return redirect(url_for("pages.postcode_page", lang=g.lang,
                                    postcode=found.replace(" ", "")) + f"#uprn-{int(query)}")
    return render_template("search.html", query=query), 404 if query else 200


@bp.get("/<lang>/postcode/<postcode>")
def postcode_page(postcode: str):
    with db_connection() as conn:
        data = postcode_detail(conn, postcode, g.lang)
    label = data["postcode"]
    rendered = build_postcode_map(data["location"]["lat"], data["location"]["lon"], label, g.lang,
                                  lambda path: url_for("static", filename=path), _tiles_url(),
                                  data["synthetic"])
    return render_template("postcode.html", data=data, map=rendered, synthetic=data["synthetic"])


def switch_url(lang: str) -> str:
    """The current page in ``lang`` (for the language switch)."""
    endpoint = request.endpoint or "pages.map_page"
    args = dict(request.view_args or {})
    args["lang"] = lang
    try:
        return url_for(endpoint, **args)
    except Exception:  # pages without a language in their URL
        return url_for("pages.map_page", lang=lang)


@bp.app_context_processor
def inject():
    return {"switch_url": switch_url, "lang": getattr(g, "lang", None) or negotiate()}
