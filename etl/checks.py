"""Set-based checks on a staging table: each moves the rows it catches into ``gapmap.reject``.

Every staging table has ``file_no``, ``file`` and ``line``; the checks delete what they reject, so
what is left is what gets published.
"""

from __future__ import annotations

from connectivity.db import SCHEMA

from .runs import LoadContext


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
