"""Figures for several areas taken together (an officer's selection of authorities, say):
the sums of the current classification's statistics, and each area's own row."""

from __future__ import annotations

from typing import Any

import psycopg

from . import runs
from .db import SCHEMA
from .errors import BadRequest

FIGURES = ("premises", "below", "possibly_below", "above", "unknown", "expected_below_30",
           "abc_eligible", "abc_possibly", "lbf_eligible", "lbf_possibly", "uso_eligible",
           "uso_possibly", "planned_build")


def selection_summary(conn: psycopg.Connection, codes: list[str], level: str = "la") -> dict[str, Any]:
    """Each selected area of ``level`` with its figures, and their total (with the share below
    30 Mbit/s of the total). Unknown codes are a BadRequest naming them."""
    wanted = sorted({c.strip().upper() for c in codes if c.strip()})
    if not wanted:
        return {"areas": [], "total": None}
    known = {row[0] for row in conn.execute(
        f"SELECT code FROM {SCHEMA}.area WHERE level = %s AND code = ANY(%s)", (level, wanted))}
    unknown = [c for c in wanted if c not in known]
    if unknown:
        raise BadRequest(f"unknown {level} code(s): {', '.join(unknown)}")
    classified = runs.current(conn) is not None

    def cast(f: str) -> str:
        return "float8" if f == "expected_below_30" else "bigint"
    figures = ", ".join(f"coalesce({'s.' + f if classified else 'NULL'}, 0)::{cast(f)} AS {f}"
                        for f in FIGURES)
    join = (f"LEFT JOIN {SCHEMA}.area_stats s ON s.level = a.level AND s.code = a.code"
            if classified else "")
    cur = conn.execute(
        f"""SELECT a.code, a.name_en, a.name_cy, {figures}
            FROM {SCHEMA}.area a {join}
            WHERE a.level = %s AND a.code = ANY(%s) ORDER BY a.code""", (level, wanted))
    names = [d.name for d in cur.description]
    areas = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    total = {f: sum(a[f] for a in areas) for f in FIGURES}
    total["share_below"] = total["expected_below_30"] / total["premises"] if total["premises"] else None
    for a in areas:
        a["share_below"] = a["expected_below_30"] / a["premises"] if a["premises"] else None
    return {"areas": areas, "total": total}
