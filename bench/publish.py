"""Benchmark: the static tile archive (``connectivity publish tiles``) on a classified database.

Measured in the same run, against the same database:

* building the archive (zooms 6 to 15 by default): seconds, tiles, bytes, peak memory of the
  command, beside the tiles per second the dynamic tile route serves under load;
* the same premises tiles at z15 around the densest square kilometre, fetched from the archive
  through a static file server (gunicorn serving the file with Werkzeug's ``send_file``: range
  requests, no database; the client holds the archive's directories, as a PMTiles client does
  after its first requests, so each tile is one range request) beside the dynamic route
  (``connectivity serve``, ``/tiles/premises/...``), each with 2 worker processes, at 8 and 64
  concurrent clients. An archive tile holds every layer of its zoom (wards, LSOAs, 500 m
  hexagons and premises at z15), the dynamic premises tile only the premises.
"""

from __future__ import annotations

import concurrent.futures
import http.client
import os
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

from . import web

CLIENTS = (8, 64)
#: the static file server: one WSGI callable serving the archive with ranges
STATIC_APP = "bench.publish:static_app"


def static_app(environ, start_response):
    """WSGI: ``GET /map.pmtiles`` with Range, from ``$BENCH_ARCHIVE``; nothing else."""
    from werkzeug.utils import send_file
    from werkzeug.wrappers import Request, Response

    if Request(environ).path != "/map.pmtiles":
        return Response("not found", 404)(environ, start_response)
    # without gunicorn's file wrapper, which cannot seek: a range would be read from the start
    plain = {k: v for k, v in environ.items() if k != "wsgi.file_wrapper"}
    response = send_file(os.environ["BENCH_ARCHIVE"], plain, mimetype="application/vnd.pmtiles",
                         conditional=True)
    return response(environ, start_response)


def _get_ranges(port: int, jobs: list[tuple[int, int]]) -> list[tuple[float, int, int]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    out = []
    for offset, length in jobs:
        start = time.perf_counter()
        conn.request("GET", "/map.pmtiles",
                     headers={"Range": f"bytes={offset}-{offset + length - 1}"})
        response = conn.getresponse()
        body = response.read()
        out.append((time.perf_counter() - start, 200 if response.status == 206 else
                    response.status, len(body)))
    conn.close()
    return out


def _load(fetch, items: list, clients: int, rounds: int) -> dict:
    jobs = [[items[(i * 7 + k) % len(items)] for k in range(len(items))] * rounds
            for i in range(clients)]
    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        results = [r for batch in pool.map(fetch, jobs) for r in batch]
    seconds = time.perf_counter() - start
    return {"clients": clients, "requests": len(results), "seconds": round(seconds, 2),
            "failed": sum(1 for _s, status, _b in results if status != 200),
            "tiles_per_s": round(len(results) / seconds, 1),
            "p50_ms": web._ms([s for s, _st, _b in results], 0.5),
            "p95_ms": web._ms([s for s, _st, _b in results], 0.95)}


def run(url: str, tiles: int = 256, rounds: int = 2, min_zoom: int = 6, max_zoom: int = 15,
        area: str | None = None) -> dict:
    """Measure against the classified database at ``url`` (see bench.dataset.build)."""
    from pmtiles.reader import MmapSource, Reader
    from pmtiles.tile import deserialize_directory, find_tile, zxy_to_tileid

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
        premises = conn.execute("SELECT count(*) FROM gapmap.premises").fetchone()[0]
        lon, lat = conn.execute(
            "SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_Transform(ST_SetSRID(ST_MakePoint("
            "floor(ST_X(geom) / 1000) * 1000 + 500, floor(ST_Y(geom) / 1000) * 1000 + 500), 27700), "
            "4326) AS c, count(*) AS n FROM gapmap.premises GROUP BY 1 ORDER BY 2 DESC LIMIT 1) d"
        ).fetchone()
    boxes = web._tiles_around(lon, lat, 15, tiles)
    report = {"benchmark": "publish", "premises": premises, "min_zoom": min_zoom,
              "max_zoom": max_zoom, "area": area, "tiles_fetched": len(boxes),
              "workers": web.WORKERS}
    folder = Path(tempfile.mkdtemp(prefix="bench-publish-"))
    archive = folder / "map.pmtiles"
    try:
        command = [str(web.BIN / "connectivity"), "--database-url", url, "publish", "tiles",
                   "--out", str(archive), "--min-zoom", str(min_zoom), "--max-zoom",
                   str(max_zoom), "--json", *(["--area", area] if area else [])]
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"publish tiles failed: {done.stderr.strip()}")
        import json

        built = json.loads(done.stdout)
        report["build_seconds"] = round(time.perf_counter() - started, 1)
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        report["build_peak_rss_mb"] = round(peak / 1024, 1) if peak > before else None
        report["archive_tiles"] = built["tiles"]
        report["empty_skipped"] = built["empty_skipped"]
        report["archive_mb"] = round(built["bytes"] / 1e6, 1)
        report["build_tiles_per_s"] = round(built["tiles"] / max(built["seconds"], 0.1), 1)
        print(f"bench publish: archive {report}", file=sys.stderr, flush=True)

        # where each fetched tile lies in the archive (a warmed client's directory cache)
        with archive.open("rb") as fh:
            source = MmapSource(fh)
            header = Reader(source).header()
            ranges = []
            for z, x, y in boxes:
                tile_id = zxy_to_tileid(z, x, y)
                offset, length = header["root_offset"], header["root_length"]
                for _depth in range(4):
                    entry = find_tile(deserialize_directory(source(offset, length)), tile_id)
                    if entry is None:
                        break
                    if entry.run_length == 0:
                        offset = header["leaf_directory_offset"] + entry.offset
                        length = entry.length
                        continue
                    ranges.append((header["tile_data_offset"] + entry.offset, entry.length))
                    break
        report["archive_tiles_found"] = len(ranges)

        env = dict(os.environ, DATABASE_URL=url, CONNECTIVITY_DATABASE_URL=url,
                   CONNECTIVITY_SECRET_KEY=secrets.token_urlsafe(32), BENCH_ARCHIVE=str(archive))
        paths = [f"/tiles/premises/{z}/{x}/{y}.pbf" for z, x, y in boxes]
        port = web._free_port()
        with web._server([str(web.BIN / "connectivity"), "--database-url", url, "serve",
                          "--port", str(port), "--workers", str(web.WORKERS)], env, port,
                         "/api/v1/health") as proc:
            web._get_all(port, paths * 2)
            report["dynamic"] = [_load(lambda job: web._get_all(port, job), paths, n, rounds)
                                 for n in CLIENTS]
            report["dynamic_peak_rss_mb"] = web._peak_rss_mb(proc.pid)
            print(f"bench publish: dynamic {report['dynamic']}", file=sys.stderr, flush=True)
        port = web._free_port()
        root = Path(__file__).resolve().parent.parent
        with web._server([str(web.BIN / "gunicorn"), "--workers", str(web.WORKERS), "--bind",
                          f"127.0.0.1:{port}", "--chdir", str(root), STATIC_APP], env, port,
                         "/map.pmtiles") as proc:
            _get_ranges(port, ranges[:5])
            report["static"] = [_load(lambda job: _get_ranges(port, job), ranges, n, rounds)
                                for n in CLIENTS]
            report["static_peak_rss_mb"] = web._peak_rss_mb(proc.pid)
        report["static_vs_dynamic"] = [
            round(s["tiles_per_s"] / d["tiles_per_s"], 2)
            for s, d in zip(report["static"], report["dynamic"], strict=True)]
    finally:
        archive.unlink(missing_ok=True)
        folder.rmdir()
    return report


def markdown(r: dict) -> str:
    lines = [
        f"{r['premises']:,} premises; archive zooms {r['min_zoom']} to {r['max_zoom']}"
        + (f" over {r['area']}" if r.get("area") else " (all of Wales)")
        + f"; {r['tiles_fetched']} tiles at z15 around the densest square kilometre "
        f"({r['archive_tiles_found']} of them in the archive); {r['workers']} server workers.\n",
        "| figure | archive | beside | ratio |", "|---|---:|---:|---:|",
        f"| build: seconds, tiles, MB, peak RSS MB | {r['build_seconds']} s, "
        f"{r['archive_tiles']:,} tiles ({r['empty_skipped']:,} empty skipped), "
        f"{r['archive_mb']} MB, {r['build_peak_rss_mb']} MB | | |",
        f"| tiles/s made | {r['build_tiles_per_s']} (build, all layers) | dynamic route "
        f"{r['dynamic'][0]['tiles_per_s']} (premises layer, {r['dynamic'][0]['clients']} "
        "clients) | |",
    ]
    for s, d, ratio in zip(r["static"], r["dynamic"], r["static_vs_dynamic"], strict=True):
        lines.append(f"| tiles/s, {s['clients']} clients (failed) | static {s['tiles_per_s']} "
                     f"({s['failed']}) | dynamic {d['tiles_per_s']} ({d['failed']}) | {ratio}x |")
        lines.append(f"| p50 / p95 ms, {s['clients']} clients | {s['p50_ms']} / {s['p95_ms']} "
                     f"| {d['p50_ms']} / {d['p95_ms']} | |")
    lines.append(f"| server peak RSS MB | {r['static_peak_rss_mb']} | {r['dynamic_peak_rss_mb']} "
                 "| |")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    sys.exit("run it with python -m bench --only publish")
