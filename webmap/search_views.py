"""The search box: postcodes, UPRNs and named places. Adds its routes to the pages blueprint (as
``plan_views`` adds the plan pages to the officer blueprint)."""

from __future__ import annotations

from flask import g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from connectivity.lookup import postcode_of_uprn
from connectivity.places import search_places
from connectivity.postcodes import normalise_postcode

from .i18n import area_name
from .pages import bp
from .pool import db_connection


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
    places = []
    if query:
        with db_connection() as conn:
            places = search_places(conn, query)
        exact = [p for p in places if p["exact"]]
        if len(exact) == 1 or (exact and exact[0]["kind"] in ("city", "town", "la")
                               and all(p["kind"] not in ("city", "town", "la") for p in exact[1:])):
            return redirect(_place_url(exact[0]))
    for place in places:
        place["url"] = _place_url(place)
    return render_template("search.html", query=query, places=places, place_kinds=place_kinds()), \
        404 if query and not places else 200


def place_kinds() -> dict[str, str]:
    return {"city": _("city"), "town": _("town"), "village": _("village"), "hamlet": _("hamlet"),
            "suburb": _("suburb"), "locality": _("locality"), "farm": _("farm"),
            "island": _("island"), "county": _("county"), "region": _("region"),
            "la": _("local authority"), "ward": _("ward")}


def _place_url(place: dict) -> str:
    label = area_name({"name_en": place["name"], "name_cy": place["name_cy"]}, g.lang)
    return url_for("pages.map_page", lang=g.lang, at=f"{place['lat']},{place['lon']},{place['zoom']}",
                   label=label)
