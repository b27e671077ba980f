"""The search box: postcodes, UPRNs and named places. Adds its routes to the pages blueprint (as
``plan_views`` adds the plan pages to the officer blueprint)."""

from __future__ import annotations

from flask import g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from connectivity.lookup import postcode_of_uprn
from connectivity.places import best_match, fold, search_places
from connectivity.postcodes import normalise_postcode

from .pages import bp
from .pool import db_connection


@bp.get("/<lang>/search")
def search():
    """A postcode goes to its page; a UPRN to its postcode's page; anything else is explained."""
    query = (request.args.get("q") or "").strip()
    postcode = normalise_postcode(query)
    if postcode:
        return redirect(url_for("pages.postcode_page", lang=g.lang, postcode=postcode.replace(" ", "")))
    if query.isascii() and query.isdigit() and len(query) <= 12:
        with db_connection() as conn:
            found = postcode_of_uprn(conn, int(query))
        if found:
            return redirect(url_for("pages.postcode_page", lang=g.lang,
                                    postcode=found.replace(" ", "")) + f"#uprn-{int(query)}")
    places = []
    if query:
        with db_connection() as conn:
            places = search_places(conn, query)
        best = best_match(places)
        if best is not None:
            return redirect(_place_url(best))
    for place in places:
        place["url"], place["label"] = _place_url(place), place_label(place, g.lang)
    return render_template("search.html", query=query, places=places, place_kinds=place_kinds()), \
        404 if query and not places else 200


def place_kinds() -> dict[str, str]:
    return {"city": _("city"), "town": _("town"), "village": _("village"), "hamlet": _("hamlet"),
            "suburb": _("suburb"), "locality": _("locality"), "farm": _("farm"),
            "island": _("island"), "county": _("county"), "region": _("region"),
            "la": _("local authority"), "ward": _("ward")}


def place_label(place: dict, lang: str) -> str:
    """The place's name in ``lang`` with the other language's in brackets, when it differs by more
    than accents: 'Aberteifi (Cardigan)' in Welsh, 'Cardigan (Aberteifi)' in English."""
    english, welsh = place["name"], place["name_cy"]
    if not welsh or fold(welsh) == fold(english):
        return welsh if lang == "cy" and welsh else english
    return f"{welsh} ({english})" if lang == "cy" else f"{english} ({welsh})"


def _place_url(place: dict) -> str:
    return url_for("pages.map_page", lang=g.lang, at=f"{place['lat']},{place['lon']},{place['zoom']}",
                   label=place_label(place, g.lang))
