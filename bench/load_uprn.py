"""Benchmark: loading an OS Open UPRN file, side by side in one run with

* ``ogr2ogr`` (GDAL, ``PG_USE_COPY=YES``) loading the same file into a new table with its default
  GiST index (what a GIS engineer would reach for), and
* a raw ``COPY`` of the same file into an unlogged all-text table (the floor: no parsing into
  numbers, no geometry, no index, no validation).

Each contender loads into a fresh database on the same server; every figure is rows per second
and peak resident memory of the loading process. Run at two file sizes to show that our memory
does not grow with the file.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent / "connectivity"


def uprn_file(rows: int, cache: Path) -> Path:
    """A synthetic OS Open UPRN file with about ``rows`` premises for all of Wales (cached)."""
    folder = cache / f"uprn-{rows}"
    path = folder / "os_open_uprn/osopenuprn_demo.csv"
    if not path.exists():
        from gapmap.demodata import generate

        generate(folder, data_dir=ROOT / "data", scale=str(rows), seed=2026, api_share=0.0)
    return path


class Server:
    def __init__(self, conninfo: str):
        self.conninfo = conninfo
        params = conninfo_to_dict(conninfo)
        self.params = params
        self.admin = psycopg.connect(conninfo, dbname="postgres", autocommit=True)

    def fresh(self, name: str, migrate: bool) -> str:
        self.admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        try:  # start every contender from a quiet server: no checkpoint left over from the last
            self.admin.execute("CHECKPOINT")
        except psycopg.errors.InsufficientPrivilege:
            pass
        self.admin.execute(f'CREATE DATABASE "{name}"')
        url = self.url(name)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
            if migrate:
                from connectivity.db import migrate as run_migrations

                run_migrations(conn)
        return url

    def drop(self, name: str) -> None:
        self.admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def url(self, name: str) -> str:
        p = self.params
        auth = p.get("user", "postgres") + (f":{p['password']}" if p.get("password") else "")
        return f"postgresql://{auth}@{p.get('host', '127.0.0.1')}:{p.get('port', '5432')}/{name}"

    def pg_string(self, name: str) -> str:
        p = self.params
        parts = [f"host={p.get('host', '127.0.0.1')}", f"port={p.get('port', '5432')}",
                 f"user={p.get('user', 'postgres')}", f"dbname={name}"]
        if p.get("password"):
            parts.append(f"password={p['password']}")
        return "PG:" + " ".join(parts)


def _timed(command: list[str], env: dict | None = None) -> tuple[float, float]:
    """Run a command under GNU time; return (seconds, peak RSS in MB of the command).

    (A child's own rusage would include this process's memory, inherited at fork.)"""
    with tempfile.NamedTemporaryFile("r") as rss:
        start = time.perf_counter()
        result = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss.name, *command],
                                capture_output=True, text=True, env=env)
        seconds = time.perf_counter() - start
        if result.returncode != 0:
            raise RuntimeError(f"{command[0]} failed: {result.stderr.strip()[-500:]}")
        return seconds, int(rss.read().strip().splitlines()[-1]) / 1024.0


def ours(server: Server, path: Path) -> dict:
    url = server.fresh("bench_ours", migrate=True)
    seconds, rss = _timed([str(BIN), "--database-url", url, "load", "uprn", str(path), "--json"])
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT count(*) FROM gapmap.premises").fetchone()[0]
    server.drop("bench_ours")
    return {"seconds": seconds, "rows": rows, "peak_rss_mb": rss,
            "what": "validated, geometry, PK + GiST + postcode index, load record"}


def ogr2ogr(server: Server, path: Path) -> dict | None:
    exe = shutil.which("ogr2ogr")
    if exe is None:
        return None
    server.fresh("bench_ogr", migrate=False)
    env = dict(os.environ, PG_USE_COPY="YES")
    seconds, rss = _timed([
        exe, "-f", "PostgreSQL", server.pg_string("bench_ogr"), str(path),
        "-oo", "X_POSSIBLE_NAMES=X_COORDINATE", "-oo", "Y_POSSIBLE_NAMES=Y_COORDINATE",
        "-oo", "KEEP_GEOM_COLUMNS=NO", "-a_srs", "EPSG:27700", "-nln", "premises",
        "-lco", "GEOMETRY_NAME=geom", "-gt", "100000"], env=env)
    with psycopg.connect(server.url("bench_ogr")) as conn:
        rows = conn.execute("SELECT count(*) FROM premises").fetchone()[0]
    server.drop("bench_ogr")
    return {"seconds": seconds, "rows": rows, "peak_rss_mb": rss,
            "what": "no validation, text columns, geometry + GiST index"}


def _python_script(server: Server, dbname: str, script: str, path: Path, table: str,
                   what: str) -> dict:
    """Run ``script`` (argv: database URL, file) in a fresh Python into a fresh database; time it
    and count the rows it left in ``table``."""
    url = server.fresh(dbname, migrate=False)
    seconds, rss = _timed([sys.executable, "-c", script, url, str(path)])
    with psycopg.connect(url) as conn:
        rows = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    server.drop(dbname)
    return {"seconds": seconds, "rows": rows, "peak_rss_mb": rss, "what": what}


def raw_copy(server: Server, path: Path) -> dict:
    script = (
        "import sys, psycopg\n"
        "with psycopg.connect(sys.argv[1]) as c:\n"
        "    c.execute('CREATE UNLOGGED TABLE raw (uprn text, x text, y text, lat text, lon text)')\n"
        "    with open(sys.argv[2], 'rb') as f, c.cursor().copy(\"COPY raw FROM STDIN (FORMAT csv, HEADER true)\") as cp:\n"
        "        f.read(3)\n"
        "        while b := f.read(1 << 20):\n"
        "            cp.write(b)\n")
    return _python_script(server, "bench_copy", script, path, "raw",
                          "unlogged all-text table: no parsing, geometry, index or validation")


def geopandas_to_postgis(server: Server, path: Path) -> dict:
    """For reference: what a data scientist would write (pandas reads the whole file)."""
    script = (
        "import sys, geopandas as gpd, pandas as pd, sqlalchemy as sa\n"
        "df = pd.read_csv(sys.argv[2], usecols=['UPRN', 'X_COORDINATE', 'Y_COORDINATE'],\n"
        "                 encoding='utf-8-sig')\n"
        "gdf = gpd.GeoDataFrame(df[['UPRN']], geometry=gpd.points_from_xy(df.X_COORDINATE,\n"
        "                       df.Y_COORDINATE), crs=27700)\n"
        "engine = sa.create_engine(sys.argv[1].replace('postgresql://', 'postgresql+psycopg://'))\n"
        "gdf.to_postgis('premises', engine, chunksize=100000, index=False)\n"
        "with engine.begin() as c:\n"
        "    c.exec_driver_sql('CREATE INDEX ON premises USING gist (geometry)')\n")
    return _python_script(server, "bench_gpd", script, path, "premises",
                          "geopandas to_postgis (whole file in memory), GiST index; no validation")


def run(conninfo: str, sizes: list[int], cache: Path) -> dict:
    server = Server(conninfo)
    results = []
    for size in sizes:
        path = uprn_file(size, cache)
        entry = {"file_rows": size, "file_mb": round(path.stat().st_size / 1e6, 1)}
        for name, fn in (("raw_copy", raw_copy), ("ogr2ogr", ogr2ogr),
                         ("geopandas", geopandas_to_postgis), ("ours", ours)):
            figures = fn(server, path)
            if figures is not None:
                figures["rows_per_s"] = round(figures["rows"] / figures["seconds"])
                figures["seconds"] = round(figures["seconds"], 2)
                figures["peak_rss_mb"] = round(figures["peak_rss_mb"], 1)
            entry[name] = figures
        if entry.get("geopandas"):
            entry["ours_vs_geopandas"] = round(entry["ours"]["rows_per_s"] / entry["geopandas"]["rows_per_s"], 2)
        if entry.get("ogr2ogr"):
            entry["ours_vs_ogr2ogr"] = round(entry["ours"]["rows_per_s"] / entry["ogr2ogr"]["rows_per_s"], 2)
        entry["ours_vs_raw_copy"] = round(entry["ours"]["rows_per_s"] / entry["raw_copy"]["rows_per_s"], 2)
        results.append(entry)
    server.admin.close()
    return {"benchmark": "load_uprn", "results": results}


def markdown(report: dict) -> str:
    lines = ["| file rows | contender | seconds | rows/s | peak RSS MB | what it does |",
             "|---:|---|---:|---:|---:|---|"]
    for entry in report["results"]:
        for name in ("raw_copy", "ogr2ogr", "geopandas", "ours"):
            f = entry.get(name)
            if f:
                lines.append(f"| {entry['file_rows']:,} | {name} | {f['seconds']} | {f['rows_per_s']:,} "
                             f"| {f['peak_rss_mb']} | {f['what']} |")
        ratio = [f"ours / raw COPY = {entry['ours_vs_raw_copy']}"]
        if "ours_vs_ogr2ogr" in entry:
            ratio.insert(0, f"ours / ogr2ogr = {entry['ours_vs_ogr2ogr']}")
        if "ours_vs_geopandas" in entry:
            ratio.append(f"ours / geopandas = {entry['ours_vs_geopandas']}")
        lines.append(f"| {entry['file_rows']:,} | ratio | | {'; '.join(ratio)} | | |")
    return "\n".join(lines)
