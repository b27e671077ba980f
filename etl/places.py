"""Named places for the search box: OpenStreetMap place points (GeoJSON / GeoPackage, the
Geofabrik ``gis_osm_places`` layer or an Overpass export): ``name`` and ``fclass`` (or ``place``),
optionally ``population``. Each load replaces the places (they are one gazetteer, not releases).

OSM's ``name`` is one name, usually the English form ("Cardigan"), so each place is given its Welsh
name from a table of Welsh names (``osm_name,name_cy,kind,la_code``; the shipped one is
data/osm/wales_place_names_cy.csv, see data/README.md): a row names every place called
``osm_name``, or only those of ``kind`` and in the authority ``la_code`` when both are given (for
names several places share). An OSM name that is already both ("Biwmares / Beaumaris") keeps its
other part as the place's name once the table gives the Welsh one."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import shapely

from connectivity.db import SCHEMA
from connectivity.errors import InputError
from connectivity.places import fold

from .reading import read_vector, vector_text
from .runs import Counts, LoadContext, Loader, copy_rows, sha256_file

#: British National Grid extent (metres): points outside it are not in Britain
BNG_EXTENT = (0, 0, 700_000, 1_300_000)
#: the table of Welsh names looked for beside the places file, then in this checkout's data/osm
NAMES_FILE = "wales_place_names_cy.csv"
BUNDLED_NAMES = Path(__file__).resolve().parent.parent / "data" / "osm" / NAMES_FILE
#: a place in the authority ``la_code`` may lie this far outside its generalised coastline (metres)
LA_SLACK_M = 1000
_LA_CODE = re.compile(r"W06\d{6}")


def default_names_table(paths: Sequence[Path]) -> Path | None:
    """The table of Welsh names for ``paths``: beside the first places file, else the bundled one."""
    for candidate in (paths[0].parent / NAMES_FILE, BUNDLED_NAMES):
        if candidate.is_file():
            return candidate
    return None


def read_names_table(path: Path) -> list[tuple[int, str, str, str, str | None, str | None]]:
    """The rows of a table of Welsh names: (line, osm_name, name_cy, name_cy_key, kind, la_code).

    The whole table is refused, with its line, when a row is malformed: a missing name, an
    authority code that is not W06nnnnnn, a kind without an authority (or the other way round),
    or the same place named twice."""
    label = path.name
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"is not UTF-8 text ({exc.reason} at byte {exc.start})", file=label,
                         hint="save the table of Welsh names as UTF-8") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [h.strip().lower() for h in next(reader, [])]
    wanted = ["osm_name", "name_cy", "kind", "la_code"]
    if header != wanted:
        raise InputError(f"a table of Welsh names needs the columns {','.join(wanted)}",
                         file=label, line=1, value=",".join(header))
    rows, seen = [], {}
    for line, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(wanted):
            raise InputError(f"has {len(cells)} fields, expected {len(wanted)}", file=label,
                             line=line, value=",".join(cells))
        osm_name, name_cy, kind, la_code = (c.strip() for c in cells)
        for column, value in (("osm_name", osm_name), ("name_cy", name_cy)):
            if not fold(value):
                raise InputError("is empty", file=label, line=line, column=column)
        if la_code and not _LA_CODE.fullmatch(la_code):
            raise InputError("is not a Welsh authority code (W06 and six digits)", file=label,
                             line=line, column="la_code", value=la_code)
        if bool(kind) != bool(la_code):
            raise InputError("a row for one of several places of a name needs both its kind and "
                             "its authority", file=label, line=line,
                             column="la_code" if kind else "kind")
        key = (osm_name, kind, la_code)
        if key in seen:
            raise InputError(f"names the same place as line {seen[key]}", file=label, line=line,
                             value=osm_name)
        seen[key] = line
        rows.append((line, osm_name, name_cy, fold(name_cy), kind or None, la_code or None))
    return rows


def english_part(osm_name: str, welsh: set[str]) -> str:
    """``osm_name`` without its Welsh part, for OSM's bilingual names: 'Biwmares / Beaumaris' with
    the Welsh name 'Biwmares' is 'Beaumaris'. Any other name is itself.

    >>> english_part("Biwmares / Beaumaris", {"Biwmares"}), english_part("Cardigan", {"Aberteifi"})
    ('Beaumaris', 'Cardigan')
    """
    parts = [part.strip() for part in osm_name.split(" / ")]
    rest = [part for part in parts if fold(part) not in {fold(w) for w in welsh}]
    return " / ".join(rest) if len(parts) > 1 and rest and len(rest) < len(parts) else osm_name


class PlacesLoader(Loader):
    kind = "places"
    describes = "named places (OpenStreetMap place points)"
    suffixes = (".geojson", ".json", ".gpkg", ".gz", ".zip", ".shp")

    def check_options(self, paths: Sequence[Path], options: dict[str, Any]) -> dict[str, Any]:
        """``welsh_names``: the table of Welsh names (default: see :func:`default_names_table`;
        empty for none). Its hash is an option, so a changed table loads again."""
        clean = {"crs": options["crs"]} if options.get("crs") else {}
        if "welsh_names" in options and not options["welsh_names"]:
            return clean
        table = Path(options["welsh_names"]) if options.get("welsh_names") else \
            default_names_table(paths)
        if table is None:
            return clean
        if not table.is_file():
            raise InputError("table of Welsh names not found", file=str(table),
                             hint="check the path, or give none to load without Welsh names")
        return {**clean, "welsh_names": str(table), "welsh_names_sha256": sha256_file(table)}

    def load(self, ctx: LoadContext, paths: Sequence[Path]) -> Counts:
        table = Path(ctx.options["welsh_names"]) if ctx.options.get("welsh_names") else None
        names = read_names_table(table) if table else []
        welsh_of: dict[str, set[str]] = {}
        for _line, osm_name, name_cy, *_ in names:
            welsh_of.setdefault(osm_name, set()).add(name_cy)
        ctx.conn.execute(
            """CREATE TEMP TABLE stage_place (osm_name text, name text, name_key text, kind text,
               population integer, wkb bytea) ON COMMIT DROP""")
        ctx.conn.execute(
            """CREATE TEMP TABLE stage_name_cy (line integer, osm_name text, name_cy text,
               name_cy_key text, kind text, la_code text) ON COMMIT DROP""")
        copy_rows(ctx.conn, "stage_name_cy", ("line", "osm_name", "name_cy", "name_cy_key", "kind",
                                              "la_code"), names)
        read = unnamed = 0
        for path in paths:
            rows, skipped = self._stage(ctx, path, welsh_of)
            read, unnamed = read + rows, unnamed + skipped
            ctx.progress.advance(path.stat().st_size)
        if unnamed:
            ctx.notes.append(f"{unnamed:,} unnamed places (mostly farms) left out: nobody can "
                             "search for them")
        ctx.rejects.flush()
        ctx.conn.execute(f"DELETE FROM {SCHEMA}.place")
        # a row for one place of a shared name (kind and authority given) wins over a row for all
        loaded, named, unmatched = ctx.conn.execute(
            f"""WITH matched AS (
                  SELECT s.name, s.name_key, n.line, n.name_cy, n.name_cy_key, s.kind,
                         s.population, s.geom
                  FROM (SELECT *, ST_GeomFromWKB(wkb, 27700) AS geom FROM stage_place) s
                  LEFT JOIN LATERAL (
                      SELECT n.line, n.name_cy, n.name_cy_key FROM stage_name_cy n
                      WHERE n.osm_name = s.osm_name
                        AND (n.la_code IS NULL
                             OR (n.kind = s.kind AND EXISTS (
                                  SELECT 1 FROM {SCHEMA}.area a
                                  WHERE a.level = 'la' AND a.code = n.la_code
                                    AND ST_DWithin(a.geom, s.geom, %(slack)s))))
                      ORDER BY n.la_code IS NULL LIMIT 1) n ON true),
                inserted AS (
                  INSERT INTO {SCHEMA}.place (name, name_key, name_cy, name_cy_key, kind,
                                              population, geom, run_id)
                  SELECT name, name_key, name_cy, name_cy_key, kind, population, geom, %(run)s
                  FROM matched RETURNING name_cy)
                SELECT (SELECT count(*) FROM inserted),
                       (SELECT count(name_cy) FROM inserted),
                       (SELECT array_agg(osm_name ORDER BY line) FROM stage_name_cy
                        WHERE line NOT IN (SELECT line FROM matched WHERE line IS NOT NULL))""",
            {"run": ctx.run_id, "slack": LA_SLACK_M}).fetchone()
        if table:
            unmatched = unmatched or []
            shown = ", ".join(unmatched[:5]) + (", ..." if len(unmatched) > 5 else "")
            ctx.notes.append(f"{named:,} of {loaded:,} places got a Welsh name from {table.name} "
                             f"({len(names):,} rows" +
                             (f"; {len(unmatched):,} matched no place: {shown})" if unmatched
                              else ")"))
        else:
            ctx.notes.append("no table of Welsh names: places are found by their OSM name only")
        return Counts(read, loaded, unnamed)

    def _stage(self, ctx: LoadContext, path: Path,
               welsh_of: dict[str, set[str]]) -> tuple[int, int]:
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
            shown = english_part(name, welsh_of[name]) if name in welsh_of else name
            rows.append((name, shown, fold(shown), kind, population, shapely.to_wkb(geom)))
        copy_rows(ctx.conn, "stage_place",
                  ("osm_name", "name", "name_key", "kind", "population", "wkb"), rows)
        return len(frame), unnamed


def _whole(value) -> int | None:
    """A population: a whole number from 1 to 2,147,483,647 (an integer column), else none."""
    try:
        number = int(float(value))
    except (TypeError, ValueError, OverflowError):  # None, 'lots', inf
        return None
    return number if 0 < number < 2**31 else None
