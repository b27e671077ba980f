"""Finding named places for the search box: towns, villages, hamlets, farms (OpenStreetMap, with
their Welsh names from the table etl/places.py loads), and areas by their English or Welsh name
(authorities, wards)."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

import psycopg

from .db import SCHEMA

#: how a place kind ranks among the matches (0 the biggest) and the zoom to show it; an authority
#: ranks with a city
KIND_ORDER = {"city": (0, 13), "town": (1, 14), "suburb": (2, 15), "village": (3, 15),
              "hamlet": (4, 16), "locality": (5, 16), "island": (6, 13), "farm": (7, 17)}
AREA_KINDS = {"la": (0, 10), "ward": (8, 13)}
#: the kinds that a search may jump to while other matches of the name are smaller places
BIG_KINDS = ("city", "town", "la")
MAX_RESULTS = 20
_ACCENTED = "âêîôûŵŷÂÊÎÔÛŴŶáéíóúẃýàèìòùẁỳäëïöüẅÿ"
_PLAIN = "aeiouwyAEIOUWY" + "aeiouwy" * 3


def _sql_fold(expr: str) -> str:
    """``fold`` in SQL, for area names (the accents Welsh uses; enough for Welsh place names)."""
    return (f"btrim(regexp_replace(lower(translate({expr}, '{_ACCENTED}', '{_PLAIN}')), "
            "'[^[:alnum:]]+', ' ', 'g'))")


def fold(name: str) -> str:
    """``name`` folded for matching: lower case, accents dropped, punctuation as spaces.

    >>> fold("Llanfair-ym-Muallt"), fold("  Ynys Môn "), fold("St. Davids")
    ('llanfair ym muallt', 'ynys mon', 'st davids')
    """
    decomposed = unicodedata.normalize("NFKD", name)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()
    return " ".join(re.sub(r"[\W_]+", " ", plain).split())


def search_places(conn: psycopg.Connection, query: str, limit: int = MAX_RESULTS) -> list[dict[str, Any]]:
    """Places and areas whose English or Welsh name matches ``query`` (``exact``), or, for places,
    starts with it; bigger places first (by kind: city, authority, town, ... then population),
    an exact match before a prefix one of the same kind. The ``limit`` keeps exact matches before
    prefix ones, so a hamlet called just what was typed is listed even when hundreds of villages
    start with it. Each with its kind's ``rank`` (0 the biggest), WGS84 coordinates and a zoom."""
    key = " ".join(fold(query).split())
    if len(key) < 2:
        return []
    kinds = "CASE kind " + " ".join(f"WHEN '{k}' THEN {rank}" for k, (rank, _z) in
                                    KIND_ORDER.items()) + " ELSE 9 END"
    zooms = "CASE kind " + " ".join(f"WHEN '{k}' THEN {z}" for k, (_r, z) in
                                    KIND_ORDER.items()) + " ELSE 15 END"
    area_rank = "CASE a.level " + " ".join(f"WHEN '{k}' THEN {r}" for k, (r, _z) in
                                           AREA_KINDS.items()) + " END"
    area_zoom = "CASE a.level " + " ".join(f"WHEN '{k}' THEN {z}" for k, (_r, z) in
                                           AREA_KINDS.items()) + " END"
    rows = conn.execute(
        f"""WITH hits AS (
              SELECT p.name, p.name_cy, p.kind, {kinds} AS rank, {zooms} AS zoom,
                     (p.name_key = %(key)s OR p.name_cy_key IS NOT DISTINCT FROM %(key)s) AS exact,
                     p.geom, p.population
              FROM {SCHEMA}.place p
              WHERE p.name_key LIKE %(prefix)s OR p.name_cy_key LIKE %(prefix)s
              UNION ALL
              SELECT a.name_en, a.name_cy, a.level, {area_rank}, {area_zoom},
                     true, ST_PointOnSurface(a.geom), NULL
              FROM {SCHEMA}.area a
              WHERE a.level IN ('la', 'ward')
                AND ({_sql_fold("a.name_en")} = %(key)s
                     OR {_sql_fold("coalesce(a.name_cy, '')")} = %(key)s)
            ), kept AS (
              SELECT * FROM hits
              ORDER BY exact DESC, rank, population DESC NULLS LAST, name
              LIMIT %(limit)s
            )
            SELECT h.name, h.name_cy, h.kind, h.rank, h.zoom, h.exact,
                   round(ST_X(ST_Transform(h.geom, 4326))::numeric, 5)::float8,
                   round(ST_Y(ST_Transform(h.geom, 4326))::numeric, 5)::float8,
                   la.code, la.name_en, la.name_cy
            FROM kept h
            LEFT JOIN LATERAL (SELECT code, name_en, name_cy FROM {SCHEMA}.area
                               WHERE level = 'la' AND ST_Intersects(geom, h.geom)
                               ORDER BY code LIMIT 1) la ON true
            ORDER BY h.rank, h.exact DESC, h.population DESC NULLS LAST, h.name, la.code""",
        {"key": key, "prefix": key.replace("%", r"\%").replace("_", r"\_") + "%",
         "limit": limit}).fetchall()
    keys = ("name", "name_cy", "kind", "rank", "zoom", "exact", "lon", "lat", "la_code",
            "la_name_en", "la_name_cy")
    return [dict(zip(keys, row, strict=True)) for row in rows]


def _same_place(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """An authority and a city or town in it that share its name ("Wrexham", "Caerdydd")."""
    kinds = {a["kind"], b["kind"]}
    return (len(kinds) == 2 and "la" in kinds and kinds - {"la"} <= {"city", "town"}
            and a["la_code"] == b["la_code"])


def best_match(places: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The place a search should go straight to, of ``search_places``' answer, or None for a list.

    Only an exact match: the only one (or a city or town with the authority of its name), or a
    city, town or authority that outranks every other exact match; and never while a bigger place
    starts with what was typed ("Aber", a hamlet, while Aberystwyth is a town). Between an
    authority and its city or town of the same name, the city or town."""
    exact = [p for p in places if p["exact"]]
    if not exact:
        return None
    top = exact[0]
    twin = next((p for p in exact[1:] if _same_place(top, p)), None)
    if twin is not None and top["kind"] == "la":
        top = twin
    rivals = [p for p in exact if p is not top and not _same_place(top, p)]
    if any(p["rank"] < top["rank"] for p in places if p is not top and not _same_place(top, p)):
        return None
    if not rivals or (top["kind"] in BIG_KINDS and all(p["rank"] > top["rank"] for p in rivals)):
        return top
    return None
