"""Postcode centroids: OS Code-Point Open (header-less area files, folder or zip), headered CSVs
such as the bundled Welsh extract, and ONS NSPL/ONSPD, all through one alias map.

Coordinates are British National Grid eastings/northings, or WGS84 latitude/longitude when a file
has no grid columns; both end up as EPSG:27700 points.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from connectivity.areas import refresh_area_summary
from connectivity.db import SCHEMA
from connectivity.errors import InputError
from connectivity.postcodes import normalise_postcode

from .checks import ZERO, grid_problem, latlon_problem
from .columns import Field, match_columns
from .reading import DecodedLines, members, read_csv
from .runs import Counts, LoadContext, Loader, copy_rows
from .staging import parse_bigint, parse_float

KIND = "postcodes"
_DOC = re.compile(r"(^|[!/])doc/", re.I)
CHUNK_ROWS = 50_000

#: Code-Point Open's header-less column order (Doc/Code-Point_Open_Column_Headers.csv, short names).
CODEPOINT_COLUMNS = ["PC", "PQ", "EA", "NO", "CY", "RH", "LH", "CC", "DC", "WC"]

FIELDS = [
    Field("postcode", ("postcode", "pcds", "pcd", "pcd2", "pcd8", "pcd7", "pc", "postcode_space")),
    Field("eastings", ("eastings", "ea", "east1m", "oseast1m", "x_coordinate", "easting"),
          required=False),
    Field("northings", ("northings", "no", "north1m", "osnrth1m", "y_coordinate", "northing"),
          required=False),
    Field("latitude", ("latitude", "lat"), required=False),
    Field("longitude", ("longitude", "long", "lon"), required=False),
    Field("pqi", ("positional_quality_indicator", "pq", "pqi"), required=False),
    Field("la_code", ("admin_district_code", "dc", "oslaua", "laua"), required=False,
          patterns=(r"lad\d{2}cd",)),
    Field("ward_code", ("admin_ward_code", "wc", "osward"), required=False,
          patterns=(r"wd\d{2}cd",)),
]


class PostcodesLoader(Loader):
    kind = KIND

    def wants(self, path: Path) -> bool:
        """Not the Doc/ folder of a Code-Point Open download (headers and code lists)."""
        return "doc" not in (part.lower() for part in path.parent.parts[-1:])
    describes = "postcode centroids (Code-Point Open / headered CSV / NSPL)"

    def load(self, ctx: LoadContext, paths: Sequence[Path]) -> Counts:
        conn = ctx.conn
        conn.execute(
            """CREATE TEMP TABLE stage_postcode (
                file_no int, file text, line bigint, postcode text, x float8, y float8,
                srid int, pqi smallint, la_code text, ward_code text) ON COMMIT DROP"""
        )
        rows_read = 0
        # Code-Point Open zips carry a Doc/ folder of header and code lists beside Data/CSV/
        inputs = [m for p in paths for m in members(p) if not _DOC.search(m.label)]
        for file_no, member in enumerate(inputs):
            rows_read += self._stage_member(ctx, file_no, member)
        loaded = self._publish(ctx)
        # the areas page's stored postcode counts, in this load's transaction
        refresh_area_summary(conn, authorities=False)
        return Counts(rows_read, loaded)

    def _stage_member(self, ctx: LoadContext, file_no: int, member) -> int:
        with member.open_binary() as raw:
            lines = DecodedLines(raw, member.label)
            records = read_csv(lines)
            first = next(records, None)
            if first is None:
                raise InputError("the file is empty", file=member.label)
            if normalise_postcode(first.values[0]) and len(first.values) == len(CODEPOINT_COLUMNS):
                header, pending = CODEPOINT_COLUMNS, [first]  # Code-Point Open: no header row
            else:
                header, pending = first.values, []
            cols = match_columns(
                header, FIELDS, file=member.label,
                any_of=[("eastings", "northings"), ("latitude", "longitude")], line=first.line,
            )
            read = 0
            chunk: list[tuple] = []
            seen_bytes = 0

            def flush() -> None:
                nonlocal seen_bytes
                if chunk:
                    copy_rows(ctx.conn, "stage_postcode",
                              ("file_no", "file", "line", "postcode", "x", "y", "srid", "pqi",
                               "la_code", "ward_code"), chunk)
                    chunk.clear()
                ctx.rejects.flush()
                ctx.progress.advance(lines.bytes_read - seen_bytes)
                seen_bytes = lines.bytes_read

            for record in _chain(pending, records):
                read += 1
                row = self._parse(ctx, member.label, record, cols)
                if row is not None:
                    chunk.append((file_no, member.label, record.line, *row))
                if len(chunk) >= CHUNK_ROWS:
                    flush()
            flush()
            if read == 0:
                raise InputError("the file has a header but no rows", file=member.label)
            if lines.non_utf8_lines:
                ctx.notes.append(
                    f"{member.label}: {lines.non_utf8_lines} line(s) were not UTF-8 and were read "
                    "as Windows-1252/latin-1"
                )
            return read

    @staticmethod
    def _parse(ctx: LoadContext, label: str, record, cols: dict[str, int]):
        values = record.values

        def get(name: str) -> str | None:
            index = cols.get(name)
            if index is None or index >= len(values):
                return None
            text = values[index].strip()
            return text or None

        def reject(column: str | None, value: Any, reason: str) -> None:
            ctx.rejects.add(label, record.line, column, value, reason)

        if len(values) < max(cols.values()) + 1:
            reject(None, ",".join(values), f"row has {len(values)} fields, expected at least "
                   f"{max(cols.values()) + 1} (truncated line?)")
            return None
        for name, index in cols.items():
            if "\x00" in values[index]:
                reject(name, values[index], "contains a NUL byte (binary data in a text file?)")
                return None
        raw_pc = get("postcode")
        postcode = normalise_postcode(raw_pc)
        if postcode is None:
            reject("postcode", raw_pc, "not a UK postcode")
            return None
        pqi = get("pqi")
        if pqi is not None:
            try:
                pqi_value = parse_bigint(pqi)
            except ValueError:
                reject("pqi", pqi, "positional quality must be a whole number")
                return None
            if not 0 <= pqi_value <= 100:
                reject("pqi", pqi, "positional quality must be from 0 to 100")
                return None
        else:
            pqi_value = None
        if "eastings" in cols and get("eastings") is not None:
            parsed = _numbers(get("eastings"), get("northings"))
            if parsed is None:
                reject("eastings/northings", f"{get('eastings')},{get('northings')}",
                       "eastings and northings must be numbers")
                return None
            x, y = parsed
            problem = grid_problem(x, y)
            if problem:
                reject("eastings/northings", f"{x:g},{y:g}", problem
                       + (f"; positional quality {pqi_value}" if problem == ZERO and pqi_value
                          else ""))
                return None
            srid = 27700
        elif "latitude" in cols and get("latitude") is not None:
            parsed = _numbers(get("latitude"), get("longitude"))
            if parsed is None:
                reject("latitude/longitude", f"{get('latitude')},{get('longitude')}",
                       "latitude and longitude must be numbers")
                return None
            lat, lon = parsed
            problem = latlon_problem(lat, lon)
            if problem:
                reject("latitude/longitude", f"{lat:g},{lon:g}", problem)
                return None
            x, y, srid = lon, lat, 4326
        else:
            reject("eastings/northings", None, "no coordinates"
                   + (f" (positional quality {pqi_value})" if pqi_value else ""))
            return None
        return (postcode, x, y, srid, pqi_value, get("la_code"), get("ward_code"))

    @staticmethod
    def _publish(ctx: LoadContext) -> int:
        conn = ctx.conn
        dup = conn.execute(
            f"""INSERT INTO {SCHEMA}.reject (run_id, file, line, column_name, value, reason)
                SELECT %s, file, line, 'postcode', postcode,
                       'duplicate postcode: first seen in ' || first_file || ' line ' || first_line
                FROM (SELECT *, row_number() OVER w AS rn,
                             first_value(file) OVER w AS first_file,
                             first_value(line) OVER w AS first_line
                      FROM stage_postcode WINDOW w AS (PARTITION BY postcode ORDER BY file_no, line)
                     ) ranked
                WHERE rn > 1""",
            (ctx.run_id,),
        ).rowcount
        ctx.rejects.counted(dup)
        loaded = conn.execute(
            f"""INSERT INTO {SCHEMA}.postcode (postcode, geom, positional_quality, la_code,
                                              ward_code, run_id)
                SELECT DISTINCT ON (postcode) postcode,
                       CASE WHEN srid = 27700 THEN ST_SetSRID(ST_MakePoint(x, y), 27700)
                            ELSE ST_Transform(ST_SetSRID(ST_MakePoint(x, y), 4326), 27700) END,
                       pqi, la_code, ward_code, %s
                FROM stage_postcode ORDER BY postcode, file_no, line
                ON CONFLICT (postcode) DO UPDATE SET geom = EXCLUDED.geom,
                    positional_quality = EXCLUDED.positional_quality,
                    la_code = EXCLUDED.la_code, ward_code = EXCLUDED.ward_code,
                    run_id = EXCLUDED.run_id""",
            (ctx.run_id,),
        ).rowcount
        return loaded


def _numbers(a: str | None, b: str | None) -> tuple[float, float] | None:
    """Two finite numbers, or None."""
    try:
        return parse_float(a), parse_float(b)
    except (TypeError, ValueError):
        return None


def _chain(first: list, rest):
    yield from first
    yield from rest
