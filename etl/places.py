"""Named places for the search box: OpenStreetMap place points (GeoJSON / GeoPackage, the
Geofabrik ``gis_osm_places`` layer or an Overpass export): ``name`` and ``fclass`` (or ``place``),
optionally ``population``. Each load replaces the places (they are one gazetteer, not releases)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import shapely

from connectivity.db import SCHEMA
from connectivity.errors import InputError
from connectivity.places import fold

from .reading import read_vector, vector_text
from .runs import Counts, LoadContext, Loader, copy_rows

#: British National Grid extent (metres): points outside it are not in Britain
BNG_EXTENT = (0, 0, 700_000, 1_300_000)


class PlacesLoader(Loader):
    kind = "places"
    describes = "named places (OpenStreetMap place points)"
    suffixes = (".geojson", ".json", ".gpkg", ".gz", ".zip", ".shp")

    def load(self, ctx: LoadContext, paths: Sequence[Path]) -> Counts:
        ctx.conn.execute(
            """CREATE TEMP TABLE stage_place (name text, name_key text, kind text,
               population integer, wkb bytea) ON COMMIT DROP""")
        read = unnamed = 0
        for path in paths:
            rows, skipped = self._stage(ctx, path)
            read, unnamed = read + rows, unnamed + skipped
            ctx.progress.advance(path.stat().st_size)
        if unnamed:
            ctx.notes.append(f"{unnamed:,} unnamed places (mostly farms) left out: nobody can "
                             "search for them")
        ctx.rejects.flush()
        ctx.conn.execute(f"DELETE FROM {SCHEMA}.place")
        loaded = ctx.conn.execute(
            f"""INSERT INTO {SCHEMA}.place (name, name_key, kind, population, geom, run_id)
                SELECT name, name_key, kind, population, ST_GeomFromWKB(wkb, 27700), %s
                FROM stage_place""", (ctx.run_id,)).rowcount
        return Counts(read, loaded, unnamed)

    def _stage(self, ctx: LoadContext, path: Path) -> tuple[int, int]:
        """Stage one file's places; returns (rows read, unnamed rows left out)."""
        label = path.name
        frame, _declared = read_vector(path, ctx.options.get("crs"))
        by_lower = {c.lower(): c for c in frame.columns if c != "geometry"}
        kind_col = by_lower.get("fclass") or by_lower.get("place")
        if "name" not in by_lower or kind_col is None:
            raise InputError(
                "a places file needs a 'name' column and a 'fclass' (Geofabrik) or 'place' "
                f"(OSM tag) column. Found: {', '.join(by_lower.values())}", file=label)
        frame = frame.to_crs(27700)
        pop_col = by_lower.get("population")
        rows, unnamed = [], 0
        for line, (name, kind, pop, geom) in enumerate(zip(
                frame[by_lower["name"]], frame[kind_col],
                frame[pop_col] if pop_col else [None] * len(frame), frame.geometry,
                strict=True), start=1):
            name = vector_text(name)
            if name is None:
                unnamed += 1
                continue
            kind = vector_text(kind) or "place"
            nul = [(column, text) for column, text in ((by_lower["name"], name), (kind_col, kind))
                   if "\x00" in text]
            if nul:
                ctx.rejects.add(label, line, *nul[0], "contains a NUL byte (binary data?)")
                continue
            if geom is None or geom.is_empty or geom.geom_type != "Point":
                ctx.rejects.add(label, line, "geometry", None if geom is None else geom.geom_type,
                                "a place must be a point")
                continue
            x, y = geom.x, geom.y
            if not (BNG_EXTENT[0] <= x <= BNG_EXTENT[2] and BNG_EXTENT[1] <= y <= BNG_EXTENT[3]):
                ctx.rejects.add(label, line, "geometry", f"{x:.0f},{y:.0f}",
                                "outside Great Britain (British National Grid extent)")
                continue
            population = _whole(pop)
            rows.append((name, fold(name), kind, population,
                         shapely.to_wkb(geom)))
        copy_rows(ctx.conn, "stage_place", ("name", "name_key", "kind", "population", "wkb"), rows)
        return len(frame), unnamed


def _whole(value) -> int | None:
    """A population: a whole number from 1 to 2,147,483,647 (an integer column), else none."""
    try:
        number = int(float(value))
    except (TypeError, ValueError, OverflowError):  # None, 'lots', inf
        return None
    return number if 0 < number < 2**31 else None
