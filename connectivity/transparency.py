"""What the service tells the public about challenges: per authority, how many were received,
upheld, rejected (screened out or rejected after review), found moot and still pending, and the
median days from receipt to a decision. Counts only: no premises, no person, no message."""

from __future__ import annotations

from typing import Any

import psycopg

from .db import SCHEMA

COLUMNS = ("la_code", "received", "upheld", "rejected", "moot", "pending",
           "median_days_to_decision")


def challenge_stats(conn: psycopg.Connection, la_code: str | None = None, *,
                    with_names: bool = False) -> list[dict[str, Any]]:
    """One row per authority with challenges (or just ``la_code``), by code; ``with_names``
    adds the authority's English and Welsh names (``name_en``, ``name_cy``)."""
    rows = conn.execute(
        f"""SELECT la_code, count(*)::int,
                   count(*) FILTER (WHERE state = 'upheld')::int,
                   count(*) FILTER (WHERE state IN ('rejected', 'screened_out'))::int,
                   count(*) FILTER (WHERE state = 'moot')::int,
                   count(*) FILTER (WHERE state IN ('submitted', 'accepted'))::int,
                   round((percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM
                       coalesce(decided_at, screened_at) - created_at) / 86400)
                       FILTER (WHERE state NOT IN ('submitted', 'accepted')))::numeric, 1)::float8
            FROM {SCHEMA}.challenge
            WHERE la_code IS NOT NULL AND (%(la)s::text IS NULL OR la_code = %(la)s)
            GROUP BY la_code ORDER BY la_code""", {"la": la_code}).fetchall()
    out = [dict(zip(COLUMNS, row, strict=True)) for row in rows]
    if with_names and out:
        names = {code: (en, cy) for code, en, cy in conn.execute(
            f"SELECT code, name_en, name_cy FROM {SCHEMA}.area WHERE level = 'la' "
            "AND code = ANY(%s)", ([r["la_code"] for r in out],))}
        for row in out:
            row["name_en"], row["name_cy"] = names.get(row["la_code"], (None, None))
    return out
