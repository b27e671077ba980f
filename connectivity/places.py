"""Finding named places for the search box: towns, villages, hamlets, farms (OpenStreetMap),
and areas by their English or Welsh name (authorities, wards)."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

import psycopg

from .db import SCHEMA

#: how a place kind ranks when several share a name (bigger places first) and the zoom to show it
KIND_ORDER = {"city": (0, 13), "town": (1, 14), "suburb": (2, 15), "village": (3, 15),
              "hamlet": (4, 16), "locality": (5, 16), "island": (6, 13), "farm": (7, 17)}
AREA_KINDS = {"la": (0, 10), "ward": (8, 13)}
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
    """Places and areas whose name matches ``query``: exact matches first, then names starting
    with it; within each, bigger places first. Each with WGS84 coordinates and a zoom to show it."""
    key = " ".join(fold(query).split())
    if len(key) < 2:
        return []
    kinds = "CASE kind " + " ".join(f"WHEN '{k}' THEN {rank}" for k, (rank, _z) in
                                    KIND_ORDER.items()) + " ELSE 9 END"
    zooms = "CASE kind " + " ".join(f"WHEN '{k}' THEN {z}" for k, (_r, z) in
                                    KIND_ORDER.items()) + " ELSE 15 END"
    rows = conn.execute(
        f"""WITH hits AS (
              SELECT p.name, NULL::text AS name_cy, p.kind, {kinds} AS rank, {zooms} AS zoom,
                     p.name_key = %(key)s AS exact, p.geom, p.population
              FROM {SCHEMA}.place p
              WHERE p.name_key LIKE %(prefix)s
              UNION ALL
              SELECT a.name_en, a.name_cy, a.level,
                     CASE a.level WHEN 'la' THEN 0 ELSE 8 END,
                     CASE a.level WHEN 'la' THEN 10 ELSE 13 END,
                     true, ST_PointOnSurface(a.geom), NULL
              FROM {SCHEMA}.area a
              WHERE a.level IN ('la', 'ward')
                AND ({_sql_fold("a.name_en")} = %(key)s
                     OR {_sql_fold("coalesce(a.name_cy, '')")} = %(key)s)
            )
            SELECT h.name, h.name_cy, h.kind, h.zoom, h.exact,
                   round(ST_X(ST_Transform(h.geom, 4326))::numeric, 5)::float8,
                   round(ST_Y(ST_Transform(h.geom, 4326))::numeric, 5)::float8,
                   la.code, la.name_en, la.name_cy
            FROM hits h
            LEFT JOIN LATERAL (SELECT code, name_en, name_cy FROM {SCHEMA}.area
                               WHERE level = 'la' AND ST_Intersects(geom, h.geom)
                               ORDER BY code LIMIT 1) la ON true
            ORDER BY h.exact DESC, h.rank, h.population DESC NULLS LAST, h.name, la.code
            LIMIT %(limit)s""",
        {"key": key, "prefix": key.replace("%", r"\%").replace("_", r"\_") + "%",
         "limit": limit}).fetchall()
    keys = ("name", "name_cy", "kind", "zoom", "exact", "lon", "lat", "la_code", "la_name_en",
            "la_name_cy")
    return [dict(zip(keys, row, strict=True)) for row in rows]
