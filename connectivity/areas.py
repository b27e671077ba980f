"""Areas and what the map shows about them. Set-based SQL; callers pass an open connection.

Area membership is spatial (``ST_Covers`` on the EPSG:27700 geometry), never the area codes a
source happens to publish, so any boundary set the officers load works the same way. Premises
figures come from the current classification's statistics (``gapmap.area_stats``).
"""

from __future__ import annotations

import json
from typing import Any

import psycopg

from . import runs
from .db import SCHEMA
from .errors import BadRequest, NotFound
from .vocab import AREA_LEVELS

#: the postcodes inside an area, from the stored summary (gapmap.area_summary, written when
#: boundaries or postcodes are loaded); counted here only for an area the summary lacks (one
#: written by something other than the loaders)
_POSTCODES = (f"coalesce(sm.postcodes, (SELECT count(*) FROM {SCHEMA}.postcode p "
              "WHERE ST_Covers(a.geom, p.geom)))::int")

def _summary_sql(where: str = "", addresses: bool = False) -> str:
    """One row per area of ``%(level)s`` (and ``where``): names, size, postcodes and the current
    run's figures; the residential and business premises only when ``addresses``
    (:func:`address_counts_known`), else NULL: not known, which is not 0."""
    homes = ("st.residential, st.business" if addresses
             else "NULL::int AS residential, NULL::int AS business")
    return f"""
SELECT a.code, a.name_en, a.name_cy, a.vintage,
       round((ST_Area(a.geom) / 1e6)::numeric, 1)::float8 AS area_km2,
       {_POSTCODES} AS postcodes,
       coalesce(st.premises, 0) AS premises, st.expected_below_30, st.share_below::float8,
       {homes}
FROM {SCHEMA}.area a
LEFT JOIN {SCHEMA}.area_summary sm ON sm.level = a.level AND sm.code = a.code
LEFT JOIN {SCHEMA}.area_stats st ON st.level = a.level AND st.code = a.code
WHERE a.level = %(level)s {where}
ORDER BY a.code
"""


def _geojson_sql(addresses: bool) -> str:
    return f"""
SELECT json_build_object(
    'type', 'FeatureCollection',
    'features', coalesce(json_agg(json_build_object(
        'type', 'Feature',
        'id', s.code,
        'geometry', ST_AsGeoJSON(a.geom_simple, 5)::json,
        'properties', json_build_object(
            'code', s.code, 'name_en', s.name_en, 'name_cy', s.name_cy,
            'postcodes', s.postcodes, 'premises', s.premises, 'area_km2', s.area_km2,
            'expected_below_30', s.expected_below_30, 'share_below', s.share_below,
            'residential', s.residential, 'business', s.business))
        ORDER BY s.code), '[]'::json))
FROM ({_summary_sql(addresses=addresses)}) s
JOIN {SCHEMA}.area a ON a.level = %(level)s AND a.code = s.code
"""


_KEYS = ("code", "name_en", "name_cy", "vintage", "area_km2", "postcodes", "premises",
         "expected_below_30", "share_below", "residential", "business")


def check_level(level: str) -> str:
    return AREA_LEVELS.check(level)


def area_summaries(conn: psycopg.Connection, level: str = "la") -> list[dict[str, Any]]:
    """Every area of ``level`` with its names and counts of postcodes and premises inside it."""
    rows = conn.execute(_summary_sql(addresses=address_counts_known(conn)),
                        {"level": check_level(level)}).fetchall()
    return [dict(zip(_KEYS, row, strict=True)) | {"level": level} for row in rows]


def area_detail(conn: psycopg.Connection, code: str, *,
                addresses: bool | None = None) -> dict[str, Any]:
    """One area by code (any level). ``addresses``: :func:`address_counts_known`, when the
    caller already asked (asked here otherwise)."""
    level_row = conn.execute(
        f"SELECT level FROM {SCHEMA}.area WHERE code = %s ORDER BY level LIMIT 1", (code.upper(),)
    ).fetchone()
    if level_row is None:
        raise NotFound(f"no area with code {code!r}")
    row = conn.execute(
        _summary_sql("AND a.code = %(code)s",
                     address_counts_known(conn) if addresses is None else addresses),
        {"level": level_row[0], "code": code.upper()},
    ).fetchone()
    bbox = conn.execute(
        f"""SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b)
            FROM (SELECT ST_Extent(geom_simple) AS b FROM {SCHEMA}.area
                  WHERE level = %s AND code = %s) e""",
        (level_row[0], code.upper()),
    ).fetchone()
    return dict(zip(_KEYS, row, strict=True)) | {"level": level_row[0], "bbox": list(bbox)}


def area_geojson(conn: psycopg.Connection, level: str = "la") -> dict[str, Any]:
    """A GeoJSON FeatureCollection (WGS84, simplified) of the areas of ``level`` with their counts."""
    row = conn.execute(_geojson_sql(address_counts_known(conn)),
                       {"level": check_level(level)}).fetchone()
    value = row[0]
    return value if isinstance(value, dict) else json.loads(value)


def counts(conn: psycopg.Connection) -> dict[str, int]:
    """How many areas (by level), postcodes and premises the database holds."""
    out = {f"areas_{level}": n for level, n in conn.execute(
        f"SELECT level, count(*) FROM {SCHEMA}.area GROUP BY level ORDER BY level").fetchall()}
    out["postcodes"] = conn.execute(f"SELECT count(*) FROM {SCHEMA}.postcode").fetchone()[0]
    out["premises"] = conn.execute(f"SELECT count(*) FROM {SCHEMA}.premises").fetchone()[0]
    return out


# --- The areas table: every figure the map shows, per area of a level, sorted and filtered ---

#: the levels the areas table offers, in the order people move between them
TABLE_LEVELS = ("la", "ward", "lsoa", "msoa", "constituency")
#: the levels the authority filter applies to: an area belongs to the authority covering a point
#: on its surface (ST_PointOnSurface). Constituencies cross authorities, so they are not filtered.
FILTER_LEVELS = ("ward", "lsoa", "msoa")
#: figures of the table: column (also the CSV header and the sort key) -> SQL over the statistics.
#: ``abc_incl_possibly`` and ``lbf_incl_possibly`` count eligible and possibly eligible premises,
#: as the map's themes and popups do.
FIGURES = {
    "postcodes": _POSTCODES,
    "premises": "st.premises",
    "residential": "st.residential",
    "business": "st.business",
    "below": "st.below",
    "possibly_below": "st.possibly_below",
    "expected_below_30": "st.expected_below_30",
    "share_below": "round(st.share_below::numeric, 4)::float8",
    "abc_incl_possibly": "st.abc_eligible + st.abc_possibly",
    "lbf_incl_possibly": "st.lbf_eligible + st.lbf_possibly",
    "planned_build": "st.planned_build",
    "wimd_rank": "(SELECT w.wimd_rank FROM {schema}.wimd w WHERE w.lsoa_code = a.code)",
}
#: figures from AddressBase (classify.MORE_COUNTS: dual use counts in both): unknown (None)
#: for a run made with no AddressBase loaded, or made before the statistics counted them
ADDRESS_FIGURES = ("residential", "business")
#: the figures summed in the table's total row (the share is recomputed from the sums)
SUMMED = ("postcodes", "premises", "residential", "business", "below", "possibly_below", "expected_below_30",
          "abc_incl_possibly", "lbf_incl_possibly", "planned_build")
#: the order a column sorts in when first chosen: names ascending, figures largest first
#: (WIMD rank 1 is the most deprived, so it too starts ascending)
FIRST_ORDER = {"code": "asc", "name": "asc", "la": "asc", "wimd_rank": "asc"}
#: ICU collations for names, so Welsh digraphs (ch, dd, ll, ...) sort as Welsh readers expect
_COLLATIONS = {"en": '"en-GB-x-icu"', "cy": '"cy-GB-x-icu"'}
#: said once per file (the CSV's CSVW metadata) and on the page, never on every row
TABLE_ATTRIBUTION = (
    "Contains OS data (c) Crown copyright and database right 2025; Royal Mail data (c) Royal Mail "
    "copyright and database right 2025; National Statistics data (c) Crown copyright and database "
    "right 2025; Ofcom and BDUK data under the Open Government Licence v3.0. Wards, LSOAs and "
    "MSOAs: Contains Ordnance Survey, Office for National Statistics, National Records Scotland "
    "and LPS Intellectual Property data (c) Crown copyright and database right 2016, under the Open "
    "Government Licence v3.0; GeoJSON conversion \"UK Boundary Data by Martin Chorley\", CC BY 4.0. "
    "WIMD 2019: Contains Welsh Government data licensed under the Open Government Licence v3.0. "
    "Classification by the Wales broadband gap map."
)
OGL = "http://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/"


def table_columns(level: str, filtered: bool) -> list[str]:
    """The columns of the areas table of ``level`` in order (they are the CSV's header): the
    authority of each area only for a fine level shown for all Wales, the WIMD rank only for
    LSOAs (the geography WIMD 2019 is published for)."""
    check_table_level(level)
    columns = ["code", "name_en", "name_cy"]
    if level in FILTER_LEVELS and not filtered:
        columns += ["la_code", "la_name_en", "la_name_cy"]
    columns += [c for c in FIGURES if c != "wimd_rank" or level == "lsoa"]
    return columns


def table_sorts(level: str, filtered: bool) -> list[str]:
    """The sort keys the table of ``level`` accepts: ``code``, ``name`` (in the page's language),
    ``la`` (the authority's name, where shown) and each figure."""
    columns = table_columns(level, filtered)
    return ["code", "name", *(["la"] if "la_code" in columns else []),
            *(c for c in columns if c in FIGURES)]


def check_table_level(level: str) -> str:
    if level not in TABLE_LEVELS:
        raise BadRequest(f"unknown level {level!r}; levels: {', '.join(TABLE_LEVELS)}")
    return level


def authorities(conn: psycopg.Connection) -> list[dict[str, Any]]:
    """The local authorities (code, names), by code: the choices of the table's filter."""
    rows = conn.execute(f"SELECT code, name_en, name_cy FROM {SCHEMA}.area WHERE level = 'la' "
                        "ORDER BY code").fetchall()
    return [{"code": c, "name_en": en, "name_cy": cy} for c, en, cy in rows]


def area_table(conn: psycopg.Connection, level: str = "la", la: str | None = None,
               sort: str = "code", order: str = "asc", lang: str = "en") -> dict[str, Any]:
    """The areas table: each area of ``level`` (only those in authority ``la``, for a fine level)
    with every figure the map shows, sorted by ``sort`` in ``order`` (missing figures last, ties
    by code). A figure is None where no premises are loaded for the area (or, for the WIMD rank,
    where the area has none), which is not the same as 0.

    The residential and business counts are None for every area when the current run knows
    none (:func:`address_counts_known`).

    Returns ``{"level", "la" (the authority's code and names, or None), "sort", "order",
    "columns", "rows", "total" (the summed figures of the rows), "with_premises" (rows with
    premises loaded), "run" (the classification's label, or None before one), "addresses"
    (whether the residential and business counts are known)}``."""
    check_table_level(level)
    if la is not None:
        if level not in FILTER_LEVELS:
            raise BadRequest(f"the authority filter applies to levels {', '.join(FILTER_LEVELS)}, "
                             f"not {level!r}")
        authority = next((a for a in authorities(conn) if a["code"] == la.upper()), None)
        if authority is None:
            raise BadRequest(f"no local authority {la!r}")
    else:
        authority = None
    if sort not in table_sorts(level, authority is not None):
        raise BadRequest(f"cannot sort the {level} table by {sort!r}; "
                         f"sorts: {', '.join(table_sorts(level, authority is not None))}")
    if order not in ("asc", "desc"):
        raise BadRequest(f"unknown order {order!r}; orders: asc, desc")
    if lang not in _COLLATIONS:
        raise BadRequest(f"unknown language {lang!r}; languages: {', '.join(_COLLATIONS)}")
    columns = table_columns(level, authority is not None)
    run = runs.current(conn)
    addresses = run is not None and address_counts_known(conn)
    # before the first classification the statistics view has none of the figures' columns;
    # a run made before AddressBase was counted has no residential or business column
    figures = {c: (sql.format(schema=SCHEMA)
                   if (run or c in ("postcodes", "wimd_rank"))
                   and (addresses or c not in ADDRESS_FIGURES)
                   else "NULL::int") for c, sql in FIGURES.items() if c in columns}
    first, second = ("name_cy", "name_en") if lang == "cy" else ("name_en", "name_cy")
    collate = f"COLLATE {_COLLATIONS[lang]}"
    names_sql = {"name": f"coalesce(a.{first}, a.{second}) {collate}",
                 "la": f"coalesce(p.{first}, p.{second}) {collate}"}
    direction = "DESC" if order == "desc" else "ASC"
    la_columns = "p.code AS la_code, p.name_en AS la_name_en, p.name_cy AS la_name_cy, "
    join = (f"LEFT JOIN {SCHEMA}.area_stats st ON st.level = a.level AND st.code = a.code"
            if run else "")
    # each fine area's authority as stored (gapmap.area_summary), found here only for an area
    # the summary lacks
    parent = (f"""LEFT JOIN LATERAL (
                      SELECT CASE WHEN sm.code IS NOT NULL THEN sm.la_code ELSE (
                          SELECT l.code FROM {SCHEMA}.area l
                          WHERE l.level = 'la' AND ST_Covers(l.geom, ST_PointOnSurface(a.geom))
                          ORDER BY l.code LIMIT 1) END AS code) pc ON true
                  LEFT JOIN {SCHEMA}.area p ON p.level = 'la' AND p.code = pc.code"""
              if level in FILTER_LEVELS else "")
    sort_key = {"name": "sort_name", "la": "sort_name"}.get(sort, sort)
    sql = f"""
        SELECT * FROM (
            SELECT a.code, a.name_en, a.name_cy, {la_columns if "la_code" in columns else ""}
                   {", ".join(f"{expr} AS {name}" for name, expr in figures.items())},
                   {names_sql.get(sort, "NULL")} AS sort_name
            FROM {SCHEMA}.area a
            LEFT JOIN {SCHEMA}.area_summary sm ON sm.level = a.level AND sm.code = a.code
            {parent} {join}
            WHERE a.level = %(level)s {"AND p.code = %(la)s" if authority else ""}
        ) t
        ORDER BY {sort_key} {direction} NULLS LAST, code"""
    rows = conn.execute(sql, {"level": level, "la": authority and authority["code"]}).fetchall()
    names = [*columns, "sort_name"]
    out = [dict(zip(names, row, strict=True)) for row in rows]
    for row in out:
        del row["sort_name"]
    total = {c: sum(r[c] for r in out if r[c] is not None) if any(r[c] is not None for r in out)
             else None for c in SUMMED}
    if total["expected_below_30"] is not None:
        total["expected_below_30"] = round(total["expected_below_30"], 2)
    total["share_below"] = (round(total["expected_below_30"] / total["premises"], 4)
                            if total["premises"] else None)
    return {"level": level, "la": authority, "sort": sort, "order": order, "columns": columns,
            "rows": out, "total": total,
            "with_premises": sum(1 for r in out if r["premises"] is not None),
            "run": run.label if run else None, "addresses": addresses}


def address_counts_known(conn: psycopg.Connection) -> bool:
    """Whether the current run's statistics know the residential and business premises: its
    statistics have the columns (runs made before AddressBase was counted have not) and some
    authority has a residential or business premises (a run made with no AddressBase loaded has
    0 for every area, which is not the same as none)."""
    columns = {name for (name,) in conn.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 "
        "AND NOT attisdropped", (f"{SCHEMA}.area_stats",))}
    if not set(ADDRESS_FIGURES) <= columns:
        return False
    return conn.execute(
        f"""SELECT EXISTS (SELECT 1 FROM {SCHEMA}.area_stats
                           WHERE level = 'la' AND (residential > 0 OR business > 0))""").fetchone()[0]


# --- What depends on boundaries and postcodes only, stored when they are loaded ---

def refresh_area_summary(conn: psycopg.Connection, levels: list[str] | None = None, *,
                         authorities: bool = True) -> None:
    """Recount ``gapmap.area_summary`` for the areas of ``levels`` (None: every level): the
    postcodes each covers and, with ``authorities``, the authority of each ward, LSOA and MSOA
    (the one covering a point on its surface; when ``la`` is among the levels, every fine
    area's). The loaders call it inside their load's transaction (`connectivity load
    boundaries`: the level loaded; `connectivity load postcodes`: every level, postcodes only),
    so a load that fails leaves the summary as it was. Set-based: one statement per figure."""
    every = levels is None
    levels = list(AREA_LEVELS.codes) if every else list(levels)
    conn.execute(
        f"""INSERT INTO {SCHEMA}.area_summary (level, code, postcodes)
            SELECT a.level, a.code,
                   (SELECT count(*) FROM {SCHEMA}.postcode p WHERE ST_Covers(a.geom, p.geom))
            FROM {SCHEMA}.area a WHERE a.level = ANY(%s)
            ON CONFLICT (level, code) DO UPDATE SET postcodes = EXCLUDED.postcodes""", (levels,))
    if not authorities:
        return
    fine = list(FILTER_LEVELS) if every or "la" in levels else [
        v for v in levels if v in FILTER_LEVELS]
    conn.execute(
        f"""UPDATE {SCHEMA}.area_summary s SET la_code = f.la_code
            FROM (SELECT a.level, a.code,
                         (SELECT l.code FROM {SCHEMA}.area l
                          WHERE l.level = 'la' AND ST_Covers(l.geom, ST_PointOnSurface(a.geom))
                          ORDER BY l.code LIMIT 1) AS la_code
                  FROM {SCHEMA}.area a WHERE a.level = ANY(%s)) f
            WHERE s.level = f.level AND s.code = f.code
              AND s.la_code IS DISTINCT FROM f.la_code""", (fine,))
