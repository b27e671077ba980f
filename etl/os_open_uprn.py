"""OS Open UPRN (``UPRN,X_COORDINATE,Y_COORDINATE,LATITUDE,LONGITUDE``, UTF-8 BOM), plain, gzip
or zip, with an optional ``--within`` filter to keep only premises in some loaded areas.

The grid columns (EPSG:27700) are used as published; the WGS84 columns are not needed. The file
is staged with COPY at full speed when it is clean (see :mod:`etl.staging`), checked in SQL and
published by rebuilding the premises table (see :mod:`etl.premises_table`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psycopg

from connectivity.db import SCHEMA
from connectivity.errors import InputError

from .checks import grid_problem_sql, uprn_problem_sql
from .columns import Field
from .premises_table import publish_premises
from .reading import members
from .runs import Counts, LoadContext, Loader
from .staging import Column, Stage

KIND = "uprn"
COLUMNS = [
    Column(Field("uprn", ("uprn",)), "bigint"),
    Column(Field("x", ("x_coordinate", "easting", "eastings", "x")), "float8"),
    Column(Field("y", ("y_coordinate", "northing", "northings", "y")), "float8"),
]
#: how far outside a --within area's (generalised) boundary a premises may lie and still count
WITHIN_TOLERANCE_M = 100


def parse_within(value: str | None) -> list[str] | None:
    """``None``/``none``: no filter; ``wales``: every loaded authority; else area codes."""
    if value is None or value.strip().lower() in ("", "none"):
        return None
    if value.strip().lower() == "wales":
        return ["*"]
    return sorted({code.strip().upper() for code in value.split(",") if code.strip()})


def within_filter(ctx: LoadContext, codes: list[str]) -> str:
    """A temp table of subdivided polygons for ``codes``; returns its name."""
    conn = ctx.conn
    if codes == ["*"]:
        where, params = "level = 'la'", ()
    else:
        where, params = "code = ANY(%s)", (codes,)
    found = conn.execute(f"SELECT code FROM {SCHEMA}.area WHERE {where}", params).fetchall()
    if not found:
        raise InputError(
            f"--within {','.join(codes) if codes != ['*'] else 'wales'}: no such areas are loaded",
            hint="load boundaries first (connectivity load boundaries ... --level la)",
        )
    if codes != ["*"]:
        missing = sorted(set(codes) - {r[0] for r in found})
        if missing:
            raise InputError(f"--within: unknown area code(s) {', '.join(missing)}")
    conn.execute(
        f"""CREATE TEMP TABLE within_parts ON COMMIT DROP AS
            SELECT ST_Subdivide(geom, 128) AS geom FROM {SCHEMA}.area WHERE {where}""", params)
    conn.execute("CREATE INDEX ON within_parts USING gist (geom)")
    conn.execute("ANALYZE within_parts")
    return "within_parts"


class UprnLoader(Loader):
    kind = KIND
    describes = "OS Open UPRN (CSV)"

    def check_options(self, paths: Sequence[Path], options: dict[str, Any]) -> dict[str, Any]:
        within = parse_within(options.get("within"))
        return {"within": within} if within else {}

    def load(self, ctx: LoadContext, paths: Sequence[Path]) -> Counts:
        ctx.conn.execute("SET LOCAL work_mem = '256MB'")
        stage = Stage(ctx, "stage_uprn", COLUMNS)
        rows_read = 0
        inputs = [m for p in paths for m in members(p, r"\.csv$")]
        for file_no, member in enumerate(inputs):
            rows_read += stage.load(file_no, member)
        if stage.careful_files:
            ctx.notes.append("read row by row (COPY refused the file): "
                             + "; ".join(stage.careful_files))
        return Counts(rows_read, *self._check_and_publish(ctx))

    def _check_and_publish(self, ctx: LoadContext) -> tuple[int, int]:
        conn = ctx.conn
        uprn_why, xy_why = uprn_problem_sql("uprn"), grid_problem_sql("x", "y")
        bad = f"({uprn_why}) IS NOT NULL OR ({xy_why}) IS NOT NULL"
        ctx.rejects.counted(conn.execute(
            f"""INSERT INTO {SCHEMA}.reject (run_id, file, line, column_name, value, reason)
                SELECT %s, file, line,
                  CASE WHEN ({uprn_why}) IS NOT NULL THEN 'UPRN' ELSE 'X_COORDINATE/Y_COORDINATE' END,
                  CASE WHEN ({uprn_why}) IS NOT NULL THEN uprn::text ELSE x || ',' || y END,
                  coalesce({uprn_why}, {xy_why})
                FROM stage_uprn WHERE {bad}""", (ctx.run_id,)).rowcount)
        good = f"NOT ({bad})"
        # duplicates: the first occurrence (file order, then line) wins. A unique index proves
        # there are none in a fraction of the time a GROUP BY takes to find them.
        try:
            with conn.transaction():
                conn.execute(f"CREATE UNIQUE INDEX stage_uprn_unique ON stage_uprn (uprn) WHERE {good}")
        except psycopg.errors.UniqueViolation:
            self._drop_duplicates(ctx, good)
        valid = (f"SELECT uprn, ST_SetSRID(ST_MakePoint(x, y), 27700) AS geom, "
                 f"NULL::text AS postcode, false AS approximate FROM stage_uprn WHERE {good}")
        filtered = 0
        within = ctx.options.get("within")
        if within:
            conn.execute(f"CREATE TEMP TABLE uprn_valid ON COMMIT DROP AS {valid}")
            parts = within_filter(ctx, within)
            filtered = conn.execute(
                f"""DELETE FROM uprn_valid v WHERE NOT EXISTS (
                        SELECT 1 FROM {parts} w WHERE ST_DWithin(w.geom, v.geom, {WITHIN_TOLERANCE_M}))"""
            ).rowcount
            ctx.notes.append(f"{filtered:,} premises outside --within were left out")
        else:
            # no copy of 2 million rows: the publish step reads through the view
            conn.execute(f"CREATE TEMP VIEW uprn_valid AS {valid}")
        return publish_premises(ctx, "uprn_valid"), filtered

    @staticmethod
    def _drop_duplicates(ctx: LoadContext, good: str) -> None:
        conn = ctx.conn
        ctx.rejects.counted(conn.execute(
            f"""WITH ranked AS (
                    SELECT ctid, uprn, file, line, row_number() OVER w AS rn,
                           first_value(file) OVER w AS first_file,
                           first_value(line) OVER w AS first_line
                    FROM stage_uprn
                    WHERE {good} AND uprn IN (
                        SELECT uprn FROM stage_uprn WHERE {good} GROUP BY uprn HAVING count(*) > 1)
                    WINDOW w AS (PARTITION BY uprn ORDER BY file_no, line)),
                gone AS (DELETE FROM stage_uprn v USING ranked r
                         WHERE v.ctid = r.ctid AND r.rn > 1
                         RETURNING r.file, r.line, r.uprn, r.first_file, r.first_line)
                INSERT INTO {SCHEMA}.reject (run_id, file, line, column_name, value, reason)
                SELECT %s, file, line, 'UPRN', uprn::text,
                       'duplicate UPRN: first seen in ' || first_file || ' line ' || first_line
                FROM gone""", (ctx.run_id,)).rowcount)
