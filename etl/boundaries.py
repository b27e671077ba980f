"""Boundaries (GeoJSON, GeoPackage, Shapefile, zipped or gzipped): ``--level la|ward|lsoa|...``.

Code and name columns are found by prefix, so any vintage works (``LAD25CD``/``LAD25NM``/
``LAD25NMW``, ``WD13CD``, ``CTYUA21NMW``...), or named with ``code_column``/``name_column``/
``name_cy_column``. Geometries are reprojected to EPSG:27700; invalid ones are repaired with
``ST_MakeValid`` (and counted), those that are empty or not polygons after repair are rejected.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import shapely

from connectivity.areas import refresh_area_summary
from connectivity.db import SCHEMA
from connectivity.errors import InputError

from .checks import GB_EASTINGS, GB_NORTHINGS, crs_option, reject_where
from .reading import read_vector, vector_text
from .runs import Counts, LoadContext, Loader, copy_rows

KIND = "boundaries"
LEVELS = {
    "country": ("CTRY",),
    "la": ("LAD", "CTYUA", "UA", "LAU1"),
    "ward": ("WD",),
    "lsoa": ("LSOA",),
    "msoa": ("MSOA",),
    "constituency": ("PCON", "PCONS"),
    "oa": ("OA",),
}


def find_columns(columns: Sequence[str], level: str, options: dict[str, Any], file: str) -> dict:
    """Pick the code, English name and Welsh name columns for ``level``."""
    by_upper = {c.upper(): c for c in columns}
    chosen: dict[str, str | None] = {}
    for key in ("code_column", "name_column", "name_cy_column"):
        if options.get(key):
            if options[key].upper() not in by_upper:
                raise InputError(
                    f"column {options[key]!r} (--{key.replace('_', '-')}) is not in the file. "
                    f"Found: {', '.join(columns)}", file=file,
                )
            chosen[key] = by_upper[options[key].upper()]
    vintage = None
    if "code_column" not in chosen:
        prefixes = "|".join(LEVELS[level])
        hits = [c for c in columns if re.fullmatch(rf"({prefixes})(\d{{2}})?CD", c, re.I)]
        if not hits:
            raise InputError(
                f"no {level} code column: expected a name like "
                + " or ".join(f"{p}25CD" for p in LEVELS[level])
                + f". Found: {', '.join(columns)}",
                file=file,
                hint="name it with --code-column, or check --level",
            )
        chosen["code_column"] = sorted(hits)[-1]  # the newest vintage if several
    stem = re.sub(r"CD$", "", chosen["code_column"], flags=re.I)
    vintage = stem.upper()
    if "name_column" not in chosen:
        chosen["name_column"] = by_upper.get(f"{stem.upper()}NM")
        if chosen["name_column"] is None and level == "oa":
            # ONS output areas have codes and no names (OA21CD, then the LSOA they are in)
            chosen["name_column"] = chosen["code_column"]
        if chosen["name_column"] is None:
            raise InputError(
                f"no name column {stem}NM beside {chosen['code_column']}. "
                f"Found: {', '.join(columns)}",
                file=file, hint="name it with --name-column",
            )
    if "name_cy_column" not in chosen:
        chosen["name_cy_column"] = by_upper.get(f"{stem.upper()}NMW")
    chosen["vintage"] = vintage
    return chosen


class BoundariesLoader(Loader):
    kind = KIND
    describes = "boundaries (GeoJSON / GeoPackage / Shapefile)"
    suffixes = (".geojson", ".json", ".gpkg", ".shp", ".fgb", ".zip", ".gz")

    def check_options(self, paths: Sequence[Path], options: dict[str, Any]) -> dict[str, Any]:
        level = options.get("level")
        if level not in LEVELS:
            raise InputError(
                f"unknown or missing boundary level {level!r}",
                hint="use --level " + "|".join(LEVELS),
            )
        clean = {"level": level}
        for key in ("code_column", "name_column", "name_cy_column"):
            if options.get(key):
                clean[key] = options[key]
        if options.get("crs"):
            clean["crs"] = crs_option(options["crs"])
        return clean

    def load(self, ctx: LoadContext, paths: Sequence[Path]) -> Counts:
        conn = ctx.conn
        level = ctx.options["level"]
        conn.execute(
            """CREATE TEMP TABLE stage_area (file_no int, file text, line bigint, code text,
               name_en text, name_cy text, vintage text, wkb bytea) ON COMMIT DROP"""
        )
        rows_read = 0
        for file_no, path in enumerate(paths):
            rows_read += self._stage_file(ctx, file_no, path, level)
            ctx.progress.advance(path.stat().st_size)
        loaded = self._publish(ctx, level)
        # the areas page's stored postcode counts and authorities, in this load's transaction
        refresh_area_summary(conn, [level])
        return Counts(rows_read, loaded)

    def _stage_file(self, ctx: LoadContext, file_no: int, path: Path, level: str) -> int:
        label = path.name
        frame, declared = read_vector(path, ctx.options.get("crs"))
        if declared and ctx.options.get("crs"):
            ctx.notes.append(f"{label}: declared CRS {frame.crs.to_string()} used, --crs ignored")
        columns = [c for c in frame.columns if c != "geometry"]
        cols = find_columns(columns, level, ctx.options, label)
        frame = frame.to_crs(27700)
        rows = []
        for index, (code, name_en, name_cy, geom) in enumerate(
            zip(
                frame[cols["code_column"]],
                frame[cols["name_column"]],
                frame[cols["name_cy_column"]] if cols["name_cy_column"] else [None] * len(frame),
                frame.geometry,
                strict=True,
            ),
            start=1,
        ):
            code = vector_text(code)
            if code is None or not re.fullmatch(r"[A-Z][0-9A-Z]{2,15}", code.upper()):
                ctx.rejects.add(label, index, cols["code_column"], code, "missing or malformed area code")
                continue
            if vector_text(name_en) is None:
                ctx.rejects.add(label, index, cols["name_column"], None, "missing area name")
                continue
            nul = [(column, value) for column, value in ((cols["name_column"], vector_text(name_en)),
                                                         (cols["name_cy_column"], vector_text(name_cy)))
                   if value and "\x00" in value]
            if nul:
                ctx.rejects.add(label, index, *nul[0], "contains a NUL byte (binary data?)")
                continue
            if geom is None or geom.is_empty:
                ctx.rejects.add(label, index, "geometry", None, "missing or empty geometry")
                continue
            if geom.geom_type not in ("Polygon", "MultiPolygon", "GeometryCollection"):
                ctx.rejects.add(label, index, "geometry", geom.geom_type,
                                "not a polygon: boundaries must be polygons")
                continue
            if not all(math.isfinite(b) for b in geom.bounds):
                ctx.rejects.add(label, index, "geometry", code,
                                "coordinates cannot be transformed to British National Grid "
                                "(is the CRS right?)")
                continue
            rows.append((file_no, label, index, code.upper(), vector_text(name_en), vector_text(name_cy),
                         cols["vintage"], shapely.to_wkb(geom)))
        copy_rows(ctx.conn, "stage_area",
                  ("file_no", "file", "line", "code", "name_en", "name_cy", "vintage", "wkb"), rows)
        ctx.rejects.flush()
        return len(frame)

    @staticmethod
    def _publish(ctx: LoadContext, level: str) -> int:
        conn = ctx.conn
        conn.execute(
            """CREATE TEMP TABLE stage_area_fixed ON COMMIT DROP AS
               SELECT file_no, file, line, code, name_en, name_cy, vintage, ST_IsValid(g) AS was_valid,
                      ST_Multi(ST_CollectionExtract(ST_MakeValid(g), 3)) AS geom
               FROM (SELECT *, ST_GeomFromWKB(wkb, 27700) AS g FROM stage_area) s"""
        )
        repaired = conn.execute(
            "SELECT count(*) FROM stage_area_fixed WHERE NOT was_valid AND NOT ST_IsEmpty(geom)"
        ).fetchone()[0]
        if repaired:
            ctx.notes.append(f"repaired {repaired} invalid polygon(s) with ST_MakeValid")
        ctx.rejects.counted(conn.execute(
            f"""INSERT INTO {SCHEMA}.reject (run_id, file, line, column_name, value, reason)
                SELECT %s, file, line, 'geometry', code,
                       'invalid polygon that is empty after repair (ST_MakeValid)'
                FROM stage_area_fixed WHERE ST_IsEmpty(geom)""",
            (ctx.run_id,),
        ).rowcount)
        reject_where(ctx, "stage_area_fixed",
                     "NOT ST_IsEmpty(geom) AND NOT ST_Intersects(geom, ST_MakeEnvelope("
                     f"{GB_EASTINGS[0]}, {GB_NORTHINGS[0]}, {GB_EASTINGS[1]}, {GB_NORTHINGS[1]}, 27700))",
                     "geometry", "round(ST_X(ST_Centroid(geom))) || ',' || round(ST_Y(ST_Centroid(geom)))",
                     "'outside Great Britain (is the CRS right? latitude and longitude swapped?)'")
        ctx.rejects.counted(conn.execute(
            f"""INSERT INTO {SCHEMA}.reject (run_id, file, line, column_name, value, reason)
                SELECT %s, file, line, 'code', code,
                       'duplicate area code: first seen in ' || first_file || ' line ' || first_line
                FROM (SELECT *, row_number() OVER w AS rn, first_value(file) OVER w AS first_file,
                             first_value(line) OVER w AS first_line
                      FROM stage_area_fixed WHERE NOT ST_IsEmpty(geom)
                      WINDOW w AS (PARTITION BY code ORDER BY file_no, line)) r
                WHERE rn > 1""",
            (ctx.run_id,),
        ).rowcount)
        return conn.execute(
            f"""INSERT INTO {SCHEMA}.area (level, code, name_en, name_cy, vintage, run_id, geom)
                SELECT DISTINCT ON (code) %s, code, name_en, name_cy, vintage, %s, geom
                FROM stage_area_fixed WHERE NOT ST_IsEmpty(geom)
                ORDER BY code, file_no, line
                ON CONFLICT (level, code) DO UPDATE SET name_en = EXCLUDED.name_en,
                    name_cy = EXCLUDED.name_cy, vintage = EXCLUDED.vintage,
                    run_id = EXCLUDED.run_id, geom = EXCLUDED.geom""",
            (level, ctx.run_id),
        ).rowcount
