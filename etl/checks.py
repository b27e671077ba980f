"""Checks on input values: coordinates and UPRNs, each as a Python function and as the SQL
that says the same in bulk (a test keeps the two alike), and set-based checks on a staging table,
each moving the rows it catches into ``gapmap.reject``.

Every staging table has ``file_no``, ``file`` and ``line``; the checks delete what they reject, so
what is left is what gets published.
"""

from __future__ import annotations

import math
import numbers
import re
from typing import Any

from connectivity.db import SCHEMA
from connectivity.errors import InputError

from .runs import LoadContext

#: British National Grid extent of Great Britain (metres); the limits themselves are outside
GB_EASTINGS = (0, 700_000)
GB_NORTHINGS = (0, 1_250_000)
#: the WGS84 box around Great Britain (degrees); the limits themselves are inside
GB_LAT = (49.8, 60.95)
GB_LON = (-8.75, 1.8)
MAX_UPRN = 999_999_999_999

OUTSIDE_GRID = "outside Great Britain's National Grid extent"
OUTSIDE_GB = "outside Great Britain"
SWAPPED = "latitude and longitude look swapped"
ZERO = "no coordinates (0,0)"
MISSING = "missing coordinates"
BAD_UPRN = "UPRN must be a positive whole number of at most 12 digits"


def grid_problem(x: float | None, y: float | None) -> str | None:
    """What is wrong with British National Grid eastings/northings, or ``None``."""
    if x is None or y is None:
        return MISSING
    if x == 0 and y == 0:
        return ZERO
    if not (GB_EASTINGS[0] < x < GB_EASTINGS[1] and GB_NORTHINGS[0] < y < GB_NORTHINGS[1]):
        return OUTSIDE_GRID
    return None


def grid_problem_sql(x: str, y: str) -> str:
    """:func:`grid_problem` in SQL on columns ``x``, ``y`` (NaN is greater than any number)."""
    return (f"CASE WHEN {x} IS NULL OR {y} IS NULL THEN '{MISSING}' "
            f"WHEN {x} = 0 AND {y} = 0 THEN '{ZERO}' "
            f"WHEN NOT ({x} > {GB_EASTINGS[0]} AND {x} < {GB_EASTINGS[1]} "
            f"AND {y} > {GB_NORTHINGS[0]} AND {y} < {GB_NORTHINGS[1]}) "
            f"THEN {_sql_text(OUTSIDE_GRID)} END")


def latlon_problem(lat: float | None, lon: float | None) -> str | None:
    """What is wrong with a WGS84 latitude/longitude for a place in Great Britain, or ``None``."""
    if lat is None or lon is None:
        return MISSING
    if lat == 0 and lon == 0:
        return ZERO
    if GB_LAT[0] <= lon <= GB_LAT[1] and GB_LON[0] <= lat <= GB_LON[1]:
        return SWAPPED
    if not (GB_LAT[0] <= lat <= GB_LAT[1] and GB_LON[0] <= lon <= GB_LON[1]):
        return OUTSIDE_GB
    return None


def latlon_problem_sql(lat: str, lon: str) -> str:
    """:func:`latlon_problem` in SQL on columns ``lat``, ``lon``."""
    return (f"CASE WHEN {lat} IS NULL OR {lon} IS NULL THEN '{MISSING}' "
            f"WHEN {lat} = 0 AND {lon} = 0 THEN '{ZERO}' "
            f"WHEN {lon} BETWEEN {GB_LAT[0]} AND {GB_LAT[1]} "
            f"AND {lat} BETWEEN {GB_LON[0]} AND {GB_LON[1]} THEN '{SWAPPED}' "
            f"WHEN NOT ({lat} BETWEEN {GB_LAT[0]} AND {GB_LAT[1]} "
            f"AND {lon} BETWEEN {GB_LON[0]} AND {GB_LON[1]}) THEN '{OUTSIDE_GB}' END")


def uprn_problem_sql(uprn: str) -> str:
    """SQL: why a bigint UPRN column value is not a UPRN, or NULL."""
    return (f"CASE WHEN {uprn} IS NULL THEN 'missing UPRN' "
            f"WHEN {uprn} <= 0 OR {uprn} > {MAX_UPRN} THEN '{BAD_UPRN}' END")


_DIGITS = re.compile(r"\s*\+?[0-9]{1,12}\s*")


def parse_uprn(value: Any) -> int:
    """A UPRN from a JSON or data-frame value: a whole number 1..999,999,999,999, given as an
    integer, an integral float, or a string of ASCII digits. Raises ``ValueError`` for anything
    else (booleans, fractions, NaN, ``1_000``)."""
    if isinstance(value, str):
        if not _DIGITS.fullmatch(value):
            raise ValueError(value)
        value = int(value)
    elif isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = int(value)  # numpy integers too
    elif isinstance(value, numbers.Real) and not isinstance(value, bool):
        if not (math.isfinite(value) and float(value).is_integer()):
            raise ValueError(value)
        value = int(value)
    else:  # None, booleans, anything else
        raise ValueError(value)
    if not 0 < value <= MAX_UPRN:
        raise ValueError(value)
    return value


def crs_option(value: str) -> str:
    """A ``--crs`` option as ``EPSG:n``; :class:`InputError` if it is none or has no EPSG code."""
    from pyproj import CRS  # slow to import: only when a --crs is given

    try:
        epsg = CRS.from_user_input(value).to_epsg()
    except Exception:  # pyproj raises CRSError and others
        raise InputError(f"--crs {value!r} is not a coordinate reference system",
                         hint="use e.g. EPSG:27700") from None
    if not epsg:
        raise InputError(f"--crs {value!r} has no EPSG code", hint="use e.g. EPSG:27700")
    return f"EPSG:{epsg}"


def _sql_text(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def reject_where(ctx: LoadContext, table: str, condition: str, column: str, value_sql: str,
                 reason_sql: str) -> int:
    """Reject (and remove) the rows of ``table`` where ``condition`` holds."""
    n = ctx.conn.execute(
        f"""WITH gone AS (DELETE FROM {table} WHERE {condition}
                          RETURNING file, line, ({value_sql})::text AS value, ({reason_sql}) AS reason)
            INSERT INTO {SCHEMA}.reject (run_id, file, line, column_name, value, reason)
            SELECT %s, file, line, %s, value, reason FROM gone""",
        (ctx.run_id, column),
    ).rowcount
    ctx.rejects.counted(n)
    return n


def reject_duplicates(ctx: LoadContext, table: str, key: list[str], what: str,
                      column: str, value: str | None = None) -> int:
    """Keep the first row of each ``key`` (file order, then line); reject the others.
    ``value`` is the SQL for the reject's value (default: the key columns)."""
    keys = ", ".join(key)
    dup = ctx.conn.execute(
        f"SELECT 1 FROM {table} GROUP BY {keys} HAVING count(*) > 1 LIMIT 1").fetchone()
    if not dup:
        return 0
    value = value or " || ' ' || ".join(f"{k}::text" for k in key)
    n = ctx.conn.execute(
        f"""WITH ranked AS (
                SELECT ctid, file, line, {value} AS value, row_number() OVER w AS rn,
                       first_value(file) OVER w AS first_file, first_value(line) OVER w AS first_line
                FROM {table} WINDOW w AS (PARTITION BY {keys} ORDER BY file_no, line)),
            gone AS (DELETE FROM {table} t USING ranked r WHERE t.ctid = r.ctid AND r.rn > 1
                     RETURNING r.file, r.line, r.value, r.first_file, r.first_line)
            INSERT INTO {SCHEMA}.reject (run_id, file, line, column_name, value, reason)
            SELECT %s, file, line, %s, value,
                   'duplicate {what}: first seen in ' || first_file || ' line ' || first_line
            FROM gone""",
        (ctx.run_id, column),
    ).rowcount
    ctx.rejects.counted(n)
    return n


def normalise_postcodes(ctx: LoadContext, table: str, column: str = "postcode",
                        header: str = "postcode", required: bool = False) -> int:
    """Normalise a postcode column in place; reject rows whose postcode is not one."""
    rejected = reject_where(
        ctx, table,
        f"{column} IS NOT NULL AND gapmap.normalise_postcode({column}) IS NULL"
        + (f" OR {column} IS NULL" if required else ""),
        header, column, f"CASE WHEN {column} IS NULL THEN 'missing postcode' "
        "ELSE 'not a UK postcode' END")
    # rewrite only the rows spelt differently (most files already use the published form)
    ctx.conn.execute(f"UPDATE {table} SET {column} = gapmap.normalise_postcode({column}) "
                     f"WHERE {column} IS DISTINCT FROM gapmap.normalise_postcode({column})")
    return rejected
