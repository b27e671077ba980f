"""Source releases and whether synthetic demo data is loaded (the map must say so)."""

from __future__ import annotations

import psycopg

from .db import SCHEMA


def synthetic_loaded(conn: psycopg.Connection) -> bool:
    """True while any successful load was marked synthetic (the demo data)."""
    return conn.execute(
        f"SELECT EXISTS (SELECT 1 FROM {SCHEMA}.load_run WHERE synthetic AND status = 'succeeded')"
    ).fetchone()[0]


def list_releases(conn: psycopg.Connection) -> list[dict]:
    rows = conn.execute(
        f"""SELECT source, label, published, synthetic, run_id FROM {SCHEMA}.release
            ORDER BY source, label""").fetchall()
    return [{"source": s, "label": label, "published": p.isoformat() if p else None,
             "synthetic": syn, "run_id": run} for s, label, p, syn, run in rows]
