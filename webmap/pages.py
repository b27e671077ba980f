"""Pages for people, under /en/... and /cy/...; ``/`` picks the language from the browser."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from markupsafe import Markup

from connectivity.areas import area_geojson
from connectivity.db import SCHEMA
from connectivity.errors import BadRequest, NotFound
from connectivity.lookup import SPEEDTEST_LICENCE, postcode_detail, speedtest_release
from connectivity.maptiles import area_figures, data_version
from connectivity.postcodes import normalise_postcode, postcode_standing
from connectivity.releases import synthetic_loaded
from connectivity.reports import PROBLEMS, FieldError, report_status, submit_report
from connectivity.selection import selection_summary
from connectivity.vocab import CHALLENGE_REASONS, CHALLENGE_STATES, EVIDENCE

from .i18n import LANGUAGES, area_name, negotiate
from .mapview import build_map, build_postcode_map
from .pool import db_connection
from .security import check_report_form

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


def _authorities(conn) -> tuple[dict, bool, int]:
    """The authorities with every figure the map themes need, whether the data is synthetic, and
    the number of WIMD-ranked LSOAs; kept per process until a load or classification changes them
    (counting postcodes per authority is a spatial join: too slow for every page view)."""
    version = data_version(conn)
    cache = current_app.extensions.get("gapmap_map_cache")
    if cache is None or cache["version"] != version:
        geojson = area_geojson(conn, "la")
        figures = area_figures(conn, "la")
        for feature in geojson["features"]:
            feature["properties"].update(figures.get(feature["properties"]["code"], {}))
        wimd = conn.execute(f"SELECT count(*) FROM {SCHEMA}.wimd").fetchone()[0]
        # a new dict, swapped in one assignment: other threads see the old one or the new one
        cache = {"version": version, "geojson": geojson, "synthetic": synthetic_loaded(conn),
                 "wimd": wimd}
        current_app.extensions["gapmap_map_cache"] = cache
    # build_map writes labels into each feature's properties: give it its own properties, the
    # geometries (the bulk) are shared and never changed
    geojson = cache["geojson"]
    features = [{**f, "properties": dict(f["properties"])} for f in geojson["features"]]
    return {**geojson, "features": features}, cache["synthetic"], cache["wimd"]


def _view() -> dict | None:
    """``?at=lat,lon,zoom`` (and ``label``): where the map opens, e.g. on a place found by search."""
    raw = request.args.get("at")
    if not raw:
        return None
    try:
        lat, lon, zoom = (float(v) for v in raw.split(","))
    except ValueError:
        raise BadRequest("at must be lat,lon,zoom, e.g. 52.24,-4.26,14") from None
    if not (49 <= lat <= 61 and -9 <= lon <= 3 and 6 <= zoom <= 18):
        raise BadRequest("at is outside Britain or the zoom is not 6 to 18")
    return {"lat": lat, "lon": lon, "zoom": zoom, "label": request.args.get("label", "")[:100]}


@bp.get("/<lang>/")
def map_page():
    settings = current_app.config["GAPMAP_SETTINGS"]
    codes = [c for v in request.args.getlist("la") for c in v.split(",") if c.strip()]
    theme = request.args.get("theme", "need")
    view = _view()
    with db_connection() as conn:
        geojson, synthetic, wimd = _authorities(conn)
        selection = selection_summary(conn, codes) if codes else {"areas": [], "total": None}
        attribution = speedtest_attribution(speedtest_release(conn))
    urls = {
        "premises": _tiles_url(),
        "areas": url_for("tiles.areas", level="LEVEL", z=0, x=0, y=0).replace("/0/0/0.pbf", "/{z}/{x}/{y}.pbf"),
        "hex": url_for("tiles.hexagons", size=1, z=0, x=0, y=0).replace("/1/0/0/0.pbf", "/SIZE/{z}/{x}/{y}.pbf"),
        "premises_api": url_for("api.premises_one", uprn=0).replace("/0", "/UPRN") + f"?lang={g.lang}",
        "postcode": url_for("pages.postcode_page", lang=g.lang, postcode="PC"),
        "area": url_for("pages.map_page", lang=g.lang, la="CODE", theme=theme),
    }
    selected = [a["code"] for a in selection["areas"]]
    rendered = build_map(geojson, g.lang, settings,
                         lambda path: url_for("static", filename=path), synthetic=synthetic,
                         urls=urls, selected=selected, view=view, theme=theme, wimd_count=wimd)
    features = sorted(geojson["features"], key=lambda f: area_name(f["properties"], g.lang))
    total = sum(f["properties"]["postcodes"] for f in geojson["features"])
    return render_template("map.html", map=rendered, areas=len(geojson["features"]),
                           postcodes_total=total, synthetic=synthetic, selection=selection,
                           selected=set(selected), authorities=[f["properties"] for f in features],
                           extra_attribution=attribution)


def speedtest_attribution(release: str | None) -> str:
    """What the map's attribution adds (HTML, Leaflet's) while the current classification read
    an Ookla release: the speed tests' source and licence, linked; "" when it read none."""
    if not release:
        return ""
    return str(Markup('{} (<a href="{}">{}</a>)').format(
        _("Speed tests %(release)s: Speedtest® by Ookla®, non-commercial use only",
          release=release), SPEEDTEST_LICENCE[1], SPEEDTEST_LICENCE[0]))


def _tiles_url() -> str:
    return url_for("tiles.premises", z=0, x=0, y=0).replace("/0/0/0.pbf", "/{z}/{x}/{y}.pbf")


#: Ofcom's checker covers every UK postcode: a link for postcodes outside our data, never fetched
OFCOM_CHECKER_URL = "https://checker.ofcom.org.uk/"


class _NoSuchPostcode(Exception):
    """The postcode in the address is not one of ours: the response explains why."""

    def __init__(self, response):
        super().__init__("no such postcode")
        self.response = response


@bp.errorhandler(_NoSuchPostcode)
def _no_such_postcode(exc: _NoSuchPostcode):
    return exc.response


def _postcode_data(conn, raw: str) -> dict:
    """``postcode_detail`` of ``raw``; for a text that is not a postcode, or a postcode that is
    not in our data (the postcode table holds Welsh postcodes only), a 404 page that says which,
    in the reader's language."""
    settings = current_app.config["GAPMAP_SETTINGS"]
    if normalise_postcode(raw) is not None:
        try:
            return postcode_detail(conn, raw, g.lang, addresses=settings.public_addresses,
                                   min_lines=settings.performance_min_lines)
        except NotFound:
            standing = postcode_standing(conn, raw)
            if standing.known:  # not the postcode's fault (say, nothing classified yet)
                raise
    else:
        standing = postcode_standing(conn, raw)
    response = current_app.make_response((render_template(
        "postcode_unknown.html", standing=standing, shown=standing.text.strip()[:20],
        checker_url=OFCOM_CHECKER_URL), 404))
    raise _NoSuchPostcode(response)


def _report_url(postcode: str, **args) -> str:
    return url_for("pages.report_page", lang=g.lang, postcode=postcode.replace(" ", ""), **args)


@bp.get("/<lang>/postcode/<postcode>")
def postcode_page(postcode: str):
    settings = current_app.config["GAPMAP_SETTINGS"]
    with db_connection() as conn:
        data = _postcode_data(conn, postcode)
        attribution = speedtest_attribution(speedtest_release(conn))
    label = data["postcode"]
    rendered = build_postcode_map(data["location"]["lat"], data["location"]["lon"], label, g.lang,
                                  lambda path: url_for("static", filename=path), _tiles_url(),
                                  data["synthetic"], settings.tiles_archive_url,
                                  bounds=data.get("bounds"), postcode=label,
                                  report_url=_report_url(label))
    return render_template("postcode.html", data=data, map=rendered, synthetic=data["synthetic"],
                           settings=settings, evidence_names=EVIDENCE.names(g.lang),
                           missing_url=_report_url(label, problem="missing"),
                           extra_attribution=attribution, speedtest_licence=SPEEDTEST_LICENCE)


def report_texts() -> dict[str, str]:
    """What each problem means, and what each field error says, in the reader's language."""
    return {
        "slower": _("Premises here cannot get the speed the map shows"),
        "faster": _("Premises here can get a faster connection than the map shows"),
        "unavailable": _("A provider refused to connect my premises, or cannot install it"),
        "missing": _("My premises is not on the map"),
        "other": _("Something else"),
        "choose_problem": _("Choose what is wrong."),
        "bad_uprn": _("Choose a premises from the list."),
        "not_here": _("Choose a premises from the list."),
        "not_a_number": _("Give the speed as a number of Mbit/s, for example 7.5."),
        "out_of_range": _("Give a speed between 0 and 10,000 Mbit/s."),
        "too_long": _("This is too long: shorten it."),
        "say_more": _("Tell us what is wrong."),
        "bad_postcode": _("This is not a postcode."),
    }


#: where the error summary sends the reader for each field (a group of radios: its first one)
FIELD_ANCHORS = {"problem": f"problem-{PROBLEMS[0]}"}


@bp.route("/<lang>/postcode/<postcode>/report", methods=["GET", "POST"])
def report_page(postcode: str):
    """Residents tell the officers the map is wrong about their premises or postcode. The
    premises of the postcode are offered as a list (no source we load gives addresses); ``?uprn=``
    chooses one (the postcode page and its map link here), ``?problem=`` a problem."""
    with db_connection() as conn:
        data = _postcode_data(conn, postcode)
        if request.method == "POST":
            form = request.form
        else:
            form = {"uprn": request.args.get("uprn", "")}
            if request.args.get("problem") in PROBLEMS:
                form["problem"] = request.args["problem"]
        errors: list[FieldError] = []
        if request.method == "POST":
            check_report_form(postcode)
            if form.get("website"):  # a field people cannot see: only robots fill it in
                abort(400)
            try:
                done = submit_report(
                    conn, postcode=data["postcode"], uprn=form.get("uprn"),
                    problem=form.get("problem", ""), measured_down=form.get("measured_down"),
                    measured_up=form.get("measured_up"), message=form.get("message"),
                    contact=form.get("contact"), lang=g.lang,
                    screen_days=current_app.config["GAPMAP_SETTINGS"].challenge_screen_days)
            except FieldError as exc:
                errors = getattr(exc, "errors", [exc])
            else:
                status_url = url_for("pages.report_status_page", lang=g.lang, ref=done.ref,
                                     t=done.token, _external=False)
                return render_template("report_done.html", data=data, ref=done.ref,
                                       status_url=status_url, synthetic=data["synthetic"])
    texts = report_texts()
    messages = {e.field: texts.get(e.reason, e.message) for e in errors}
    return render_template("report.html", data=data, form=form, errors=messages,
                           anchors={f: FIELD_ANCHORS.get(f, f"field-{f}") for f in messages},
                           problems=PROBLEMS, texts=texts,
                           synthetic=data["synthetic"]), 400 if errors else 200


@bp.route("/<lang>/reports/<ref>")
def report_status_page(ref: str):
    """The resident's private status link: the report's state and the officer's decision, in
    the page's language. A wrong or missing token shows nothing (the same 404 as no report)."""
    with db_connection() as conn:
        status = report_status(conn, ref, request.args.get("t"))
    if status is None:
        abort(404)
    reason = status["reason"]
    message = (CHALLENGE_REASONS[reason].message(g.lang) if reason in CHALLENGE_REASONS else
               _("An officer will look at your report soon."))
    response = current_app.make_response(render_template(
        "report_status.html", status=status, state=CHALLENGE_STATES.name(status["state"] or
                                                                         "submitted", g.lang),
        message=message, texts=report_texts()))
    # the link is private: never cached by a shared cache, never sent on as a referrer
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def switch_url(lang: str) -> str:
    """The current page in ``lang`` (for the language switch)."""
    endpoint = request.endpoint or "pages.map_page"
    # the same query (a table's level, filter and sort; a map's view), never a form's body
    query = request.args.to_dict(flat=False) if request.method == "GET" else {}
    args = {**query, **(request.view_args or {}), "lang": lang}
    try:
        return url_for(endpoint, **args)
    except Exception:  # pages without a language in their URL
        return url_for("pages.map_page", lang=lang)


@bp.app_context_processor
def inject():
    return {"switch_url": switch_url, "lang": getattr(g, "lang", None) or negotiate()}
