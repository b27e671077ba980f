"""Generic premises files: CSV, GeoPackage, GeoJSON or Shapefile with a UPRN and either
coordinates in a stated CRS, latitude/longitude, or only a postcode (then the premises is placed
at the postcode's centroid and marked approximate)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psycopg
import shapely
from pyproj import CRS

from connectivity.db import SCHEMA
from connectivity.errors import InputError

from .checks import (
    BAD_UPRN,
    GB_LAT,
    GB_LON,
    OUTSIDE_GB,
    SWAPPED,
    ZERO,
    crs_option,
    grid_problem_sql,
    normalise_postcodes,
    parse_uprn,
    reject_duplicates,
    reject_where,
    uprn_problem_sql,
)
from .columns import Field
from .premises_table import publish_premises
from .reading import members, read_vector
from .runs import Counts, LoadContext, Loader, copy_rows
from .staging import Column, Stage

KIND = "premises"
COLUMNS = [
    Column(Field("uprn", ("uprn",)), "bigint"),
    Column(Field("x", ("x_coordinate", "x", "easting", "eastings"), required=False), "float8"),
    Column(Field("y", ("y_coordinate", "y", "northing", "northings"), required=False), "float8"),
    Column(Field("lat", ("latitude", "lat"), required=False), "float8"),
    Column(Field("lon", ("longitude", "lon", "long", "lng"), required=False), "float8"),
    Column(Field("postcode", ("postcode", "pcds", "postcode_space"), required=False), "text"),
]
VECTOR_SUFFIXES = (".gpkg", ".geojson", ".json", ".shp", ".fgb")


class PremisesLoader(Loader):
    kind = KIND
    describes = "premises (CSV / GeoPackage / GeoJSON)"
    suffixes = (".csv", ".gz", ".zip") + VECTOR_SUFFIXES

    def check_options(self, paths: Sequence[Path], options: dict[str, Any]) -> dict[str, Any]:
        return {"crs": crs_option(options["crs"])} if options.get("crs") else {}

    def load(self, ctx: LoadContext, paths: Sequence[Path]) -> Counts:
        conn = ctx.conn
        stage = Stage(ctx, "stage_premises", COLUMNS)
        conn.execute("ALTER TABLE stage_premises ADD COLUMN srid integer")
        read = 0
        for file_no, path in enumerate(paths):
            if path.name.lower().endswith(VECTOR_SUFFIXES):
                read += self._vector(ctx, file_no, path)
                continue
            srid = int(ctx.options.get("crs", "EPSG:27700").split(":")[1])
            conn.execute(f"ALTER TABLE stage_premises ALTER COLUMN srid SET DEFAULT {srid}")
            for member in members(path, r"\.csv$"):
                read += stage.load(file_no, member,
                                   any_of=[("x", "y"), ("lat", "lon"), ("postcode",)])
        if stage.careful_files:
            ctx.notes.append("read row by row (COPY refused the file): " + "; ".join(stage.careful_files))
        return Counts(read, self._check_and_publish(ctx))

    def _vector(self, ctx: LoadContext, file_no: int, path: Path) -> int:
        label = path.name
        frame, _ = read_vector(path, ctx.options.get("crs"))
        epsg = CRS.from_user_input(frame.crs).to_epsg()
        if not epsg:
            frame, epsg = frame.to_crs(27700), 27700
        by_lower = {c.lower(): c for c in frame.columns}
        uprn_col = by_lower.get("uprn")
        if uprn_col is None:
            raise InputError(f"missing column uprn. Found: {', '.join(frame.columns)}", file=label)
        pc_col = next((by_lower[c] for c in ("postcode", "pcds") if c in by_lower), None)
        rows = []
        for index, (uprn, geom) in enumerate(zip(frame[uprn_col], frame.geometry, strict=True), 1):
            postcode = frame[pc_col].iloc[index - 1] if pc_col else None
            x = y = None
            if geom is not None and not geom.is_empty:
                if geom.geom_type != "Point":
                    ctx.rejects.add(label, index, "geometry", geom.geom_type, "premises must be points")
                    continue
                x, y = shapely.get_x(geom), shapely.get_y(geom)
            try:
                uprn_value = parse_uprn(uprn)
            except ValueError:
                missing = uprn is None or uprn != uprn  # NaN: pandas' missing value
                ctx.rejects.add(label, index, uprn_col, None if missing else uprn,
                                "missing UPRN" if missing else BAD_UPRN)
                continue
            postcode = None if postcode is None or postcode != postcode else str(postcode)
            if postcode and "\x00" in postcode:
                ctx.rejects.add(label, index, pc_col, postcode, "not a UK postcode")
                continue
            rows.append((file_no, label, index, uprn_value, x, y, postcode, epsg))
        copy_rows(ctx.conn, "stage_premises",
                  ("file_no", "file", "line", "uprn", "x", "y", "postcode", "srid"), rows)
        ctx.rejects.flush()
        return len(frame)

    @staticmethod
    def _check_and_publish(ctx: LoadContext) -> int:
        conn = ctx.conn
        t = "stage_premises"
        reject_where(ctx, t, f"({uprn_problem_sql('uprn')}) IS NOT NULL", "uprn", "uprn",
                     uprn_problem_sql("uprn"))
        normalise_postcodes(ctx, t)
        xy = "x IS NOT NULL AND y IS NOT NULL"
        latlon = f"NOT ({xy}) AND lat IS NOT NULL AND lon IS NOT NULL"  # used when x/y are not
        reject_where(ctx, t, f"({xy} AND x = 0 AND y = 0) OR ({latlon} AND lat = 0 AND lon = 0)",
                     "coordinates", "coalesce(x, lat) || ',' || coalesce(y, lon)", f"'{ZERO}'")
        reject_where(ctx, t, f"{latlon} AND lat BETWEEN {GB_LON[0]} AND {GB_LON[1]} "
                     f"AND lon BETWEEN {GB_LAT[0]} AND {GB_LAT[1]}",
                     "latitude/longitude", "lat || ',' || lon", f"'{SWAPPED}'")
        reject_where(ctx, t, f"{latlon} AND NOT (lat BETWEEN -90 AND 90 AND lon BETWEEN -180 AND 180)",
                     "latitude/longitude", "lat || ',' || lon",
                     "'not a latitude/longitude (latitude -90 to 90, longitude -180 to 180)'")
        conn.execute(
            f"""ALTER TABLE {t} ADD COLUMN geom geometry(Point, 27700),
                              ADD COLUMN approximate boolean NOT NULL DEFAULT false""")

        def place(to_bng) -> str:
            return f"""UPDATE {t} SET geom = CASE
                    WHEN {xy} THEN
                        CASE WHEN srid = 27700 THEN ST_SetSRID(ST_MakePoint(x, y), 27700)
                             ELSE {to_bng('ST_SetSRID(ST_MakePoint(x, y), srid)')} END
                    WHEN {latlon} THEN {to_bng('ST_SetSRID(ST_MakePoint(lon, lat), 4326)')}
                    END"""
        try:
            with conn.transaction():
                conn.execute(place(lambda g: f"ST_Transform({g}, 27700)"))
        except psycopg.errors.InternalError:
            # PROJ refused a point (wrong --crs, say): again, with a NULL for each refused one
            conn.execute(
                """CREATE FUNCTION pg_temp.bng_or_null(g geometry) RETURNS geometry
                   LANGUAGE plpgsql AS $$
                   BEGIN RETURN ST_Transform(g, 27700);
                   EXCEPTION WHEN OTHERS THEN RETURN NULL; END $$""")
            conn.execute(place(lambda g: f"pg_temp.bng_or_null({g})"))
        reject_where(ctx, t, f"geom IS NULL AND ({xy} OR {latlon})", "coordinates",
                     f"CASE WHEN {xy} THEN x || ',' || y ELSE lat || ',' || lon END",
                     f"'cannot be transformed from EPSG:' || CASE WHEN {xy} THEN srid ELSE 4326 END"
                     " || ' to British National Grid (is --crs right?)'")
        conn.execute(
            f"""UPDATE {t} s SET geom = p.geom, approximate = true FROM {SCHEMA}.postcode p
                WHERE s.geom IS NULL AND s.postcode = p.postcode""")
        reject_where(ctx, t, "geom IS NULL", "coordinates",
                     "coalesce(postcode, coalesce(x::text, '') || ',' || coalesce(y::text, ''))",
                     "CASE WHEN postcode IS NOT NULL AND x IS NULL AND lat IS NULL THEN "
                     "'no coordinates, and the postcode is not loaded' ELSE 'missing coordinates' END")
        outside = grid_problem_sql("ST_X(geom)", "ST_Y(geom)")
        reject_where(ctx, t, f"({outside}) IS NOT NULL", "coordinates",
                     "round(ST_X(geom)) || ',' || round(ST_Y(geom))", f"'{OUTSIDE_GB}'")
        reject_duplicates(ctx, t, ["uprn"], "UPRN", "uprn")
        approx = conn.execute(f"SELECT count(*) FROM {t} WHERE approximate").fetchone()[0]
        if approx:
            ctx.notes.append(f"{approx:,} premises placed at their postcode centroid (approximate)")
        return publish_premises(ctx, t)
