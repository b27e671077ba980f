"""The officer's dashboard: the figures of the officer's authorities on the current
classification, each beside the previous one, how fresh each source's data is, and the open and
overdue challenges and open conflicts per authority. Set-based SQL over the runs' statistics
tables (``area_stats_<id>``), ``gapmap.release``, ``gapmap.challenge`` and
``gapmap.correction_conflict``."""

from __future__ import annotations

import datetime as dt
from typing import Any

import psycopg

from .. import runs
from ..db import SCHEMA

#: the dashboard's figures: area_stats columns
FIGURES = ("premises", "below", "possibly_below", "expected_below_30", "abc_eligible",
           "lbf_eligible", "uso_eligible", "planned_build")


def _sums(conn: psycopg.Connection, run_id: int, codes: list[str]) -> dict[str, float]:
    row = conn.execute(
        f"SELECT {', '.join(f'coalesce(sum({f}), 0)::float8' for f in FIGURES)} "
        f"FROM {SCHEMA}.area_stats_{int(run_id)} WHERE level = 'la' AND code = ANY(%s)",
        (codes,)).fetchone()
    return dict(zip(FIGURES, row, strict=True))


def figures(conn: psycopg.Connection, codes: list[str]) -> dict[str, Any] | None:
    """The sums over ``codes`` (LA codes) on the current run and on the run before it, and the
    change; None before the first classification."""
    listed = runs.list_runs(conn)
    current = next((r for r in listed if r["is_current"]), None)
    if current is None:
        return None
    earlier = [r for r in listed if r["id"] < current["id"]]
    previous = earlier[-1] if earlier else None
    now = _sums(conn, current["id"], codes)
    before = _sums(conn, previous["id"], codes) if previous else None
    rows = [{"figure": f, "now": now[f], "before": None if before is None else before[f],
             "change": None if before is None else round(now[f] - before[f], 2)}
            for f in FIGURES]
    return {"run": current["label"], "previous": previous["label"] if previous else None,
            "figures": rows}


def freshness(conn: psycopg.Connection, stale_months: int,
              today: dt.date | None = None) -> list[dict[str, Any]]:
    """Each source's newest release, its publication date, and whether it is older than
    ``stale_months`` months (a release without a date is flagged too)."""
    today = today or dt.date.today()
    cutoff = _months_before(today, stale_months)
    rows = conn.execute(
        f"""SELECT DISTINCT ON (source) source, label, published, synthetic FROM {SCHEMA}.release
            ORDER BY source, published DESC NULLS LAST, label DESC""").fetchall()
    return [{"source": s, "label": label, "published": p, "synthetic": syn,
             "stale": p is None or p < cutoff} for s, label, p, syn in rows]


def challenges(conn: psycopg.Connection, codes: list[str]) -> list[dict[str, Any]]:
    """Per authority of ``codes`` (LA codes): its open challenges (submitted or accepted), how
    many of them are past their deadline, and its open conflicts with newer releases."""
    rows = conn.execute(
        f"""SELECT a.code,
                   (SELECT count(*) FROM {SCHEMA}.challenge c WHERE c.la_code = a.code
                      AND c.state IN ('submitted', 'accepted'))::int,
                   (SELECT count(*) FROM {SCHEMA}.challenge c WHERE c.la_code = a.code
                      AND c.state IN ('submitted', 'accepted') AND c.due_at < now())::int,
                   (SELECT count(*) FROM {SCHEMA}.correction_conflict k WHERE k.la_code = a.code
                      AND k.resolved_at IS NULL)::int
            FROM unnest(%s::text[]) AS a(code) ORDER BY a.code""", (list(codes),)).fetchall()
    return [{"la_code": code, "open": n_open, "overdue": overdue, "conflicts": conflicts}
            for code, n_open, overdue, conflicts in rows]


def _months_before(day: dt.date, months: int) -> dt.date:
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    return dt.date(year, month + 1, min(day.day, 28))
