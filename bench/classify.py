"""Benchmark: classification plus every statistic at one scale, beside ``CREATE TABLE AS SELECT *
FROM premises`` measured in the same run on the same database (issue 5's baseline), with what a
deployment needs to know at that scale (issue 18's series): seconds per step (the loads and the
classification's own steps), table and index sizes, peak memory of the client and of its
PostgreSQL backend, and disk.

The first classification runs in a Python of its own under GNU time (bench.classify_peer's
OURS_SCRIPT: what ``connectivity classify`` imports), so its peak RSS is its own; its backend's
peak is VmHWM (parallel workers not counted; shared buffers it touched counted). Disk: the
database's size after both runs, the generated files, and the smallest free space seen on the
file system while the benchmark ran (shared with other work, so an upper bound of ours).

For a premises count as the scale (the series), the generated files are deleted afterwards
unless ``keep_files``: the series writes several GB.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path

import psycopg

from connectivity.settings import load_settings

from .dataset import demo_files, load_inputs
from .load_uprn import Server

SIZES_SQL = """
SELECT c.relname, pg_table_size(c.oid), pg_indexes_size(c.oid)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname IN ('gapmap', 'public') AND c.relkind IN ('r', 'm')
ORDER BY pg_total_relation_size(c.oid) DESC
"""


class DiskWatch(threading.Thread):
    """The smallest free space on the file system holding ``path``, sampled every second."""

    def __init__(self, path: Path):
        super().__init__(daemon=True)
        self.path, self.stop = path, threading.Event()
        self.start_free = self.min_free = shutil.disk_usage(path).free

    def run(self) -> None:
        while not self.stop.wait(1):
            self.min_free = min(self.min_free, shutil.disk_usage(self.path).free)


def _plan_lines(node: dict, depth: int = 0, out: list | None = None) -> list[str]:
    """A plan as indented lines: node, relation, actual ms (inclusive), rows, loops, memory."""
    out = [] if out is None else out
    what = node["Node Type"] + (f" on {node['Relation Name']}" if "Relation Name" in node else "")
    extra = [f"{k} {node[k]}" for k in ("Sort Method", "Sort Space Used", "Peak Memory Usage",
                                         "Hash Batches", "Workers Launched") if k in node]
    out.append(f"{'  ' * depth}{what}: {node.get('Actual Total Time', 0):.0f} ms, rows "
               f"{node.get('Actual Rows', 0):,} x {node.get('Actual Loops', 1)} loops"
               + (f" ({', '.join(map(str, extra))})" if extra else ""))
    for child in node.get("Plans", []):
        _plan_lines(child, depth + 1, out)
    return out


def explained(conn: psycopg.Connection, label: str, min_ms: int = 500) -> list[dict]:
    """One more classification (after the measured ones, so it moves no figure) with its area
    membership rebuilt and ``auto_explain`` on: every statement of at least ``min_ms``, slowest
    first, with its ``EXPLAIN (ANALYZE, BUFFERS)`` plan (received as notices)."""
    from connectivity.classify import classify
    from connectivity.rules import load_rules

    notices: list[str] = []

    def keep(diag) -> None:
        if (diag.message_primary or "").startswith("duration:"):
            notices.append(diag.message_primary)

    conn.add_notice_handler(keep)
    conn.execute("UPDATE gapmap.membership_state SET built_for = 'bench: rebuild'")
    conn.execute("LOAD 'auto_explain'")
    for name, value in (("log_min_duration", str(min_ms)), ("log_analyze", "on"),
                        ("log_buffers", "on"), ("log_timing", "on"), ("log_level", "notice"),
                        ("log_format", "json")):
        conn.execute(f"SET auto_explain.{name} = '{value}'")
    result = classify(conn, load_rules(), up_to="2026-01", label=label)
    conn.execute("SET auto_explain.log_min_duration = -1")
    conn.remove_notice_handler(keep)
    out = []
    for text in notices:
        head, _, body = text.partition("\n")
        plan = json.loads(body)
        out.append({"ms": round(float(head.split()[1])),
                    "query": " ".join(plan["Query Text"].split())[:160],
                    "plan": _plan_lines(plan["Plan"])})
    out.sort(key=lambda e: -e["ms"])
    return [{"classify_seconds": result["seconds"], "steps": result["steps"]}, *out]


def _loadavg() -> list[str]:
    return Path("/proc/loadavg").read_text().split()[:3]


def _du_mb(folder: Path) -> float:
    return round(sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20, 1)


def run(conninfo: str, scale: str, cache: Path, keep_files: bool | None = None,
        explain: bool | None = None) -> dict:
    from connectivity.classify import classify
    from connectivity.rules import load_rules

    from .classify_peer import OURS_SCRIPT, _backend_hwm_mb, _timed_child

    keep_files = scale in ("small", "wales") if keep_files is None else keep_files
    explain = scale != "small" if explain is None else explain
    load_before = _loadavg()
    watch = DiskWatch(cache if cache.exists() else Path("/"))
    watch.start()
    t0 = time.perf_counter()
    existed = (cache / f"classify-{scale}" / "manifest.json").exists()
    folder = demo_files(scale, cache)
    generate_seconds = None if existed else round(time.perf_counter() - t0, 1)
    files_mb = _du_mb(folder)
    server = Server(conninfo)
    dbname = f"bench_classify_{scale}"  # scales may run at once, each in its own database
    url = server.fresh(dbname, migrate=True)
    try:
        settings = load_settings({"database_url": url}, environ={})
        started = time.perf_counter()
        load_steps = load_inputs(settings, folder, bundled_kinds=("boundaries", "wimd"))
        load_seconds = time.perf_counter() - started
        with psycopg.connect(url, autocommit=True) as conn:
            premises = conn.execute("SELECT count(*) FROM gapmap.premises").fetchone()[0]
            conn.execute("CHECKPOINT")
            t0 = time.perf_counter()
            conn.execute("CREATE TABLE public.ctas_baseline AS SELECT * FROM gapmap.premises")
            ctas = time.perf_counter() - t0
            conn.execute("DROP TABLE public.ctas_baseline")
            conn.execute("CHECKPOINT")
            result, wall, client_rss = _timed_child(["-c", OURS_SCRIPT, url, "2026-01"])
            sizes = conn.execute(SIZES_SQL).fetchall()
            db_after_first = conn.execute(
                "SELECT pg_database_size(current_database())").fetchone()[0]
            # the usual case afterwards: a new release, premises and boundaries unchanged, so
            # area membership is reused (the same inputs here, under another label)
            conn.execute("CHECKPOINT")
            again = classify(conn, load_rules(), up_to="2026-01", label="again")
            again_backend = _backend_hwm_mb(conn)
            db_size = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
            plans = explained(conn, "explained") if explain else None
    finally:
        server.drop(dbname)
        server.admin.close()
        watch.stop.set()
        watch.join()
        if not keep_files:
            shutil.rmtree(folder, ignore_errors=True)
    mb = 2**20
    run_id = result["run_id"]
    tables = {name: {"table_mb": round(t / mb, 1), "indexes_mb": round(i / mb, 1)}
              for name, t, i in sizes
              if (t + i) >= 1 * mb or name.endswith(f"_{run_id}")}
    return {"benchmark": "classify", "scale": scale, "premises": premises,
            "generate_seconds": generate_seconds, "files_mb": files_mb,
            "load_seconds": round(load_seconds, 1), "load_steps": load_steps,
            "ctas_seconds": round(ctas, 2),
            "classify_seconds": result["seconds"], "steps": result["steps"],
            "classify_wall_seconds": round(wall, 1),
            "client_peak_rss_mb": round(client_rss, 1),
            "backend_peak_mb": result.get("backend_peak_mb"),
            "classify_vs_ctas": round(result["seconds"] / ctas, 1),
            "again_seconds": again["seconds"], "again_steps": again["steps"],
            "again_backend_peak_mb": again_backend,
            "again_vs_ctas": round(again["seconds"] / ctas, 1),
            "tables": tables, "database_mb_after_first": round(db_after_first / mb),
            "database_mb": round(db_size / mb),
            "disk_used_peak_mb": round((watch.start_free - watch.min_free) / mb),
            "explained": plans,
            "loadavg_before": load_before, "loadavg_after": _loadavg()}


def markdown(report: dict) -> str:
    steps = ", ".join(f"{name} {seconds}" for name, seconds in report["steps"].items())
    again = ", ".join(f"{name} {seconds}" for name, seconds in report["again_steps"].items())
    return ("| premises | CREATE TABLE AS SELECT * (s) | classify + statistics (s) | ratio | "
            "steps (s) |\n|---:|---:|---:|---:|---|\n"
            f"| {report['premises']:,} | {report['ctas_seconds']} | {report['classify_seconds']} | "
            f"{report['classify_vs_ctas']}x | {steps} |\n"
            f"| (again, membership kept) | | {report['again_seconds']} | "
            f"{report['again_vs_ctas']}x | {again} |")


def series_markdown(reports: list[dict]) -> str:
    """The series: one row per scale, what grows with the premises."""
    lines = ["| premises | loads s | classify s (premises, membership, statistics, swap) | "
             "again s | client / backend peak MB | run tables MB (premises_class, area_stats) | "
             "premises_place MB | database MB | disk used peak MB | load avg |",
             "|---:|---:|---|---:|---|---|---:|---:|---:|---|"]
    for r in reports:
        s = r["steps"]
        t = r["tables"]
        run = [v for k, v in t.items() if k.startswith("premises_class_")]
        stats = [v for k, v in t.items() if k.startswith("area_stats_")]
        place = t.get("premises_place", {"table_mb": 0, "indexes_mb": 0})

        def total(x):
            return round(x["table_mb"] + x["indexes_mb"]) if x else "?"
        lines.append(
            f"| {r['premises']:,} | {r['load_seconds']} | {r['classify_seconds']} ("
            f"{s.get('premises')}, {s.get('membership')}, {s.get('statistics')}, "
            f"{s.get('swap')}) | {r['again_seconds']} | {r['client_peak_rss_mb']} / "
            f"{r['backend_peak_mb']} | {total(run[-1] if run else None)}, "
            f"{total(stats[-1] if stats else None)} | {total(place)} | {r['database_mb']:,} | "
            f"{r['disk_used_peak_mb']:,} | {' '.join(r['loadavg_before'])} |")
    return "\n".join(lines)
