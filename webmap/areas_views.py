"""The areas page: what the map shows, as a table, at every level the database holds, with an
authority filter for the fine levels, sorting by any column without JavaScript, and the same table
as CSV (its attribution once, in CSVW metadata the file's ``Link`` header points to). Adds its
routes to the pages blueprint (as ``plan_views`` adds the plan pages to the officer blueprint).

Every query parameter is checked here, so a wrong one is a 400 page in the visitor's language
that names the value and what was expected, never a 500."""

from __future__ import annotations

import csv
import io
import json

from flask import Response, g, render_template, request, url_for
from flask_babel import gettext as _

from connectivity.areas import (
    FIGURES,
    FILTER_LEVELS,
    FIRST_ORDER,
    OGL,
    TABLE_ATTRIBUTION,
    TABLE_LEVELS,
    area_table,
    authorities,
    table_sorts,
)
from connectivity.releases import synthetic_loaded
from connectivity.transparency import challenge_stats
from connectivity.vocab import AREA_LEVELS

from .errors import error_response
from .pages import bp
from .pool import db_connection

PARAMETERS = ("level", "la", "sort", "order")
SYNTHETIC_NOTICE = "SYNTHETIC DEMO DATA: premises and speeds are invented. "


class _Invalid(Exception):
    """A query parameter the table cannot take; ``message`` is in the page's language."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _labels() -> dict[str, str]:
    """Each column's heading in the page's language (the CSV's header stays English)."""
    return {
        "code": _("Code"), "la": _("Local authority"), "postcodes": _("Postcodes"),
        "premises": _("Premises"), "residential": _("Residential premises"),
        "business": _("Business premises"), "below": _("Below 30 Mbit/s"),
        "possibly_below": _("Possibly below 30 Mbit/s"),
        "expected_below_30": _("Expected below 30 Mbit/s"),
        "share_below": _("Share below 30 Mbit/s"),
        "abc_incl_possibly": _("Eligible for Access Broadband Cymru (incl. possibly)"),
        "lbf_incl_possibly": _("Local Broadband Fund targets (incl. possibly)"),
        "planned_build": _("In a planned build"),
        "wimd_rank": _("WIMD 2019 rank (1 = most deprived)"),
    }


def _plurals() -> dict[str, str]:
    return {"la": _("Local authorities"), "ward": _("Wards"), "lsoa": _("LSOAs"),
            "msoa": _("MSOAs"), "constituency": _("Constituencies")}


def _parse(known_authorities: list[dict]) -> dict:
    """The table's parameters from the query string, each checked, or _Invalid."""
    for name in request.args:
        if name not in PARAMETERS:
            raise _Invalid(_("Unknown parameter “%(name)s”. This page takes: %(names)s.",
                             name=name, names=", ".join(PARAMETERS)))
        if len(request.args.getlist(name)) > 1:
            raise _Invalid(_("The parameter “%(name)s” is given more than once.", name=name))
    level = request.args.get("level", "la")
    if level not in TABLE_LEVELS:
        raise _Invalid(_("Unknown level “%(value)s”. Levels: %(values)s.",
                         value=level, values=", ".join(TABLE_LEVELS)))
    la = request.args.get("la", "").strip().upper() or None
    if la is not None:
        if level not in FILTER_LEVELS:
            raise _Invalid(_("The authority filter applies to wards, LSOAs and MSOAs, not to "
                             "level “%(level)s”.", level=level))
        if la not in {a["code"] for a in known_authorities}:
            raise _Invalid(_("There is no local authority with the code “%(value)s”. Codes run "
                             "from W06000001 to W06000024.", value=request.args["la"]))
    sorts = table_sorts(level, la is not None)
    sort = request.args.get("sort", "code")
    if sort not in sorts:
        raise _Invalid(_("This table cannot be sorted by “%(value)s”. Sorts: %(values)s.",
                         value=sort, values=", ".join(sorts)))
    order = request.args.get("order", FIRST_ORDER.get(sort, "desc") if "sort" in request.args
                             else "asc")
    if order not in ("asc", "desc"):
        raise _Invalid(_("Unknown order “%(value)s”. Orders: asc, desc.", value=order))
    return {"level": level, "la": la, "sort": sort, "order": order}


def _table(conn):
    """The checked parameters and the table they ask for."""
    choices = authorities(conn)
    params = _parse(choices)
    return params, choices, area_table(conn, lang=g.lang, **params)


def _query(params: dict, **changes) -> dict:
    """URL arguments for the table with ``changes``; defaults left out, so links stay short."""
    merged = {**params, **changes}
    out = {}
    if merged["level"] != "la":
        out["level"] = merged["level"]
    if merged.get("la") and merged["level"] in FILTER_LEVELS:
        out["la"] = merged["la"]
    if merged["sort"] != "code" or merged["order"] != "asc":
        out["sort"], out["order"] = merged["sort"], merged["order"]
    return out


def _invalid_page(exc: _Invalid):
    return error_response(400, "bad_request", exc.message, exc.message)


@bp.get("/<lang>/areas")
def areas_page():
    with db_connection() as conn:
        try:
            params, choices, table = _table(conn)
        except _Invalid as exc:
            return _invalid_page(exc)
        synthetic = synthetic_loaded(conn)
        challenges = challenge_stats(conn, with_names=True)
    labels = _labels()
    level_names = AREA_LEVELS.names(g.lang)
    headers = []
    for key in table_sorts(params["level"], params["la"] is not None):
        sorted_here = key == params["sort"]
        next_order = ("desc" if params["order"] == "asc" else "asc") if sorted_here \
            else FIRST_ORDER.get(key, "desc")
        headers.append({
            "key": key, "label": level_names[params["level"]] if key == "name" else labels[key],
            "num": key in FIGURES, "sorted": params["order"] if sorted_here else None,
            "href": url_for("pages.areas_page", lang=g.lang,
                            **_query(params, sort=key, order=next_order))})
    levels = [{"code": code, "label": _plurals()[code], "current": code == params["level"],
               "href": url_for("pages.areas_page", lang=g.lang, **_query(
                   params, level=code, sort="code", order="asc"))} for code in TABLE_LEVELS]
    sort_label = next(h["label"] for h in headers if h["key"] == params["sort"])
    return render_template(
        "areas.html", table=table, params=params, headers=headers, levels=levels,
        authorities=choices, plural=_plurals()[params["level"]], sort_label=sort_label,
        filter_levels=FILTER_LEVELS, synthetic=synthetic, challenges=challenges,
        csv_href=url_for("pages.areas_csv", lang=g.lang, **_query(params)),
        metadata_href=url_for("pages.areas_csv_metadata", lang=g.lang, **_query(params)))


def _file_name(table: dict) -> str:
    parts = ["gapmap-areas", table["level"], table["la"]["code"] if table["la"] else "wales",
             table["run"] or "unclassified"]
    if table["sort"] != "code" or table["order"] != "asc":
        parts += [table["sort"], table["order"]]
    return "-".join(parts)


def _cell(value) -> object:
    return "" if value is None else value


@bp.get("/<lang>/areas.csv")
def areas_csv():
    """Exactly the table the page shows (level, filter, sort) as CSV: UTF-8 with a BOM and CRLF,
    as the exports write it, for Excel; empty cells where no premises are loaded."""
    with db_connection() as conn:
        try:
            params, _choices, table = _table(conn)
        except _Invalid as exc:
            return _invalid_page(exc)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(table["columns"])
    for row in table["rows"]:
        writer.writerow([_cell(row[c]) for c in table["columns"]])
    name = _file_name(table)
    link = url_for("pages.areas_csv_metadata", lang=g.lang, **_query(params))
    return Response(("\ufeff" + out.getvalue()).encode("utf-8"), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{name}.csv"',
        "Link": f'<{link}>; rel="describedby"; type="application/csvm+json"'})


@bp.get("/<lang>/areas.csv-metadata.json")
def areas_csv_metadata():
    """The CSV's CSVW metadata: its attribution and licence (said once for the file, not on
    every row), the classification it comes from, and each column's title in both languages."""
    with db_connection() as conn:
        try:
            params, _choices, table = _table(conn)
        except _Invalid as exc:
            return _invalid_page(exc)
        synthetic = synthetic_loaded(conn)
    titles = _column_titles(table["level"])
    document = {
        "@context": ["http://www.w3.org/ns/csvw", {"@language": "en"}],
        "url": url_for("pages.areas_csv", lang=g.lang, _external=True, **_query(params)),
        "dc:title": f"Broadband gap map for Wales: {AREA_LEVELS.name(table['level'], 'en')}"
                    + (f" in {table['la']['name_en']}" if table["la"] else ""),
        "dc:description": (SYNTHETIC_NOTICE if synthetic else "")
                          + f"Classification {table['run'] or '(none yet)'}. "
                          + "Empty cells: no premises loaded for the area. "
                          + ("" if table["addresses"] else
                             "Residential and business are empty for every area: not known, "
                             "since no AddressBase was loaded when the classification ran. ")
                          + "Residential and business premises come from OS AddressBase; a "
                          + "dual-use premises counts in both. " + TABLE_ATTRIBUTION,
        "dc:license": {"@id": OGL},
        "dc:rights": TABLE_ATTRIBUTION,
        "dialect": {"encoding": "utf-8", "header": True, "lineTerminators": ["\r\n"]},
        "tableSchema": {"columns": [{"name": c, "titles": titles[c]} for c in table["columns"]],
                        "primaryKey": "code"},
    }
    return Response(json.dumps(document, indent=1, ensure_ascii=False) + "\n",
                    mimetype="application/csvm+json", headers={
                        "Content-Disposition":
                            f'attachment; filename="{_file_name(table)}.csv-metadata.json"'})


def _column_titles(level: str) -> dict[str, dict[str, str]]:
    """Each CSV column's title in English and Welsh (the catalogue's, in each locale)."""
    from flask_babel import force_locale

    out: dict[str, dict[str, str]] = {}
    for lang in ("en", "cy"):
        with force_locale(lang):
            labels = _labels()
            level_name = AREA_LEVELS.name(level, lang)
            la_name = AREA_LEVELS.name("la", lang)
            english, welsh = _("English name"), _("Welsh name")  # outside f-strings: extracted
            extra = {"code": labels["code"],
                     "name_en": f"{level_name} ({english})",
                     "name_cy": f"{level_name} ({welsh})",
                     "la_code": f"{la_name} ({labels['code']})",
                     "la_name_en": f"{la_name} ({english})",
                     "la_name_cy": f"{la_name} ({welsh})"}
        for key, title in {**extra, **labels}.items():
            out.setdefault(key, {})[lang] = title
    return out
