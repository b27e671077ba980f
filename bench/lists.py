"""Benchmark: saved target lists on a classified database (``python -m bench --only lists``).

Measured in the same run, against the same database:

* the live count (``connectivity.officers.lists.count``, what the list builder asks as filters
  change) for a few filter combinations, as an admin and as an officer of one authority, each
  beside the plain ``count(*)`` of the current run's premises with the same status condition
  (the floor); target p95 under 300 ms. The indexes of the run's table and of premises_place
  are reported with the figures: they decide most of them (docs/performance.md);
* saving a list of every premises below 30 Mbit/s in Wales (the record and its snapshot, one
  INSERT ... SELECT) and exporting it to GeoPackage (``export_list``: reasons, release dates,
  the QGIS style) beside ``ogr2ogr -f GPKG`` of the same SQL selection (points and columns, no
  reason sentences or style): the peer a GIS officer would reach for.
"""

from __future__ import annotations

import secrets
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

REPEAT = 30


def _ms(values: list[float], q: float) -> float:
    if len(values) < 20:
        return round((max(values) if q > 0.5 else statistics.median(values)) * 1000, 1)
    return round(statistics.quantiles(values, n=100)[int(q * 100) - 1] * 1000, 1)


def _timed(fn, repeat: int = REPEAT) -> list[float]:
    fn()  # warm
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def run(url: str) -> dict:
    from connectivity.officers import accounts, lists, session_scope
    from connectivity.officers.listfilters import ListFilters
    from connectivity.settings import load_settings

    settings = load_settings({"database_url": url}, environ={})
    out: dict = {"benchmark": "lists", "counts": []}
    with session_scope(settings) as s:
        email = f"bench-{secrets.token_hex(4)}@example.gov.wales"
        admin = accounts.add_account(s, email=email, role="admin", actor="bench",
                                     password=secrets.token_urlsafe(24))
        conn = lists.raw(s)
        premises = conn.execute("SELECT count(*) FROM gapmap.premises_class").fetchone()[0]
        la, x0, y0 = conn.execute(
            "SELECT m.la, min(ST_X(p.geom)), min(ST_Y(p.geom)) FROM gapmap.premises_place m "
            "JOIN gapmap.premises p USING (uprn) GROUP BY 1 ORDER BY count(*) DESC LIMIT 1").fetchone()
        officer = accounts.add_account(s, email=f"bench-{secrets.token_hex(4)}@example.gov.wales",
                                       role="officer", areas=[la], actor="bench",
                                       password=secrets.token_urlsafe(24))
        run_id = conn.execute("SELECT id FROM gapmap.classification_run WHERE is_current").fetchone()[0]
        out["indexes"] = [r[0] for r in conn.execute(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = 'gapmap' AND tablename = ANY(%s) "
            "ORDER BY tablename, indexname", ([f"premises_class_{run_id}", "premises_place"],))]
        from shapely.geometry import box

        square = box(x0, y0, x0 + 10_000, y0 + 10_000)
        combos = [
            ("status below, Wales", admin, {"status": "below"}, None, "status = 'below'"),
            ("below or possibly, p >= 0.5, one authority", admin,
             {"status": ["below", "possibly_below"], "probability": "0.5", "area": la}, None,
             "status IN ('below', 'possibly_below') AND probability_below >= 0.5"),
            ("ABC eligible, no planned build, WIMD deciles 1-3", admin,
             {"scheme": "abc", "planned": "exclude", "wimd_decile": "1,2,3"}, None,
             "eligible_abc IN ('eligible', 'possibly') AND NOT coalesce(planned_build, false)"),
            ("below, a 10 km square", admin, {"status": "below"}, square, "status = 'below'"),
            ("an officer's authority, no filter (the builder's first count)", officer, {}, None,
             "true"),
            ("an officer's authority, below", officer, {"status": "below"}, None,
             "status = 'below'"),
        ]
        for name, who, raw, polygon, floor_where in combos:
            filters = ListFilters.from_dict(raw)
            result = {}

            def ours(who=who, filters=filters, polygon=polygon, result=result):
                result.update(lists.count(conn, who, filters, polygon=polygon))
            times = _timed(ours)

            def floor(w=floor_where):
                conn.execute(f"SELECT count(*) FROM gapmap.premises_class WHERE {w}").fetchone()
            floor_times = _timed(floor)
            out["counts"].append({"filters": name, "premises": result["total"],
                                  "p50_ms": _ms(times, 0.5), "p95_ms": _ms(times, 0.95),
                                  "floor_p50_ms": _ms(floor_times, 0.5),
                                  "floor_p95_ms": _ms(floor_times, 0.95)})
        s.commit()
        t0 = time.perf_counter()
        target = lists.create_list(s, name=f"bench below 30 {secrets.token_hex(3)}", owner=admin,
                                   by=admin, actor="bench",
                                   filters=ListFilters.from_dict({"status": "below"}))
        s.commit()
        out["save_seconds"] = round(time.perf_counter() - t0, 2)
        out["list_premises"] = target.latest.premises
        out["premises"] = premises
        folder = Path(tempfile.mkdtemp(prefix="bench-lists-"))
        try:
            t0 = time.perf_counter()
            rows = lists.export_list(s, target, folder / "ours.gpkg", "gpkg", actor="bench")
            out["export_gpkg_seconds"] = round(time.perf_counter() - t0, 2)
            out["export_rows"] = rows
            out["export_mb"] = round((folder / "ours.gpkg").stat().st_size / 2**20, 1)
            if shutil.which("ogr2ogr"):
                sql = ("SELECT c.*, p.geom FROM gapmap.premises_class c "
                       "JOIN gapmap.premises p USING (uprn) WHERE c.status = 'below'")
                dsn = psycopg.conninfo.conninfo_to_dict(url)
                pg = "PG:" + " ".join(f"{k}={v}" for k, v in dsn.items() if v)
                t0 = time.perf_counter()
                subprocess.run(["ogr2ogr", "-f", "GPKG", str(folder / "ogr.gpkg"), pg, "-sql", sql,
                                "-nln", "premises"], check=True, capture_output=True)
                out["ogr2ogr_gpkg_seconds"] = round(time.perf_counter() - t0, 2)
                out["ogr2ogr_mb"] = round((folder / "ogr.gpkg").stat().st_size / 2**20, 1)
                import pyogrio

                out["ogr2ogr_rows"] = pyogrio.read_info(folder / "ogr.gpkg")["features"]
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        s.commit()
    return out


def markdown(bench: dict) -> str:
    indexes = "; ".join(bench.get("indexes", [])) or "none"
    lines = [f"{bench['premises']:,} premises classified. Indexes: {indexes}.\n",
             "| live count | premises | p50 ms | p95 ms | plain count(*) p50 / p95 ms |",
             "|---|---:|---:|---:|---:|"]
    for c in bench["counts"]:
        lines.append(f"| {c['filters']} | {c['premises']:,} | {c['p50_ms']} | {c['p95_ms']} | "
                     f"{c['floor_p50_ms']} / {c['floor_p95_ms']} |")
    lines += ["", "| every premises below 30 Mbit/s | seconds | MB |", "|---|---:|---:|",
              f"| save the list and its snapshot ({bench['list_premises']:,} premises) | "
              f"{bench['save_seconds']} | |",
              f"| export_list to GeoPackage (reasons, releases, QGIS style) | "
              f"{bench['export_gpkg_seconds']} | {bench['export_mb']} |"]
    if "ogr2ogr_gpkg_seconds" in bench:
        lines.append(f"| ogr2ogr -f GPKG of the same SQL selection | "
                     f"{bench['ogr2ogr_gpkg_seconds']} | {bench['ogr2ogr_mb']} |")
    return "\n".join(lines)
