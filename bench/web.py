"""Benchmark: the web map and API served by gunicorn over loopback, on a classified database.

Measured in the same run, against the same database:

* premises tile latency through the app (HTTP, pooled connections, ETag) beside the raw
  ``ST_AsMVT`` query for the same tiles run directly in PostgreSQL (the floor);
* tile throughput (tiles per second, 8 concurrent clients, the same tiles) from our app under
  gunicorn beside tipg (a PostGIS tile server) under uvicorn serving the same premises with the
  same properties, each with 2 worker processes and the same tile buffer;
* postcode lookup latency (``/api/v1/postcodes/<pc>``);
* the map page's first render in Chromium (navigation to the 22 authorities drawn), cold and warm;
* peak resident memory of the server processes.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import http.client
import math
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psycopg

BIN = Path(sys.executable).parent
CONCURRENCY = 8
WORKERS = 2


def _tiles_around(lon: float, lat: float, z: int, n: int) -> list[tuple[int, int, int]]:
    count = 2 ** z
    x = int((lon + 180) / 360 * count)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * count)
    side = int(math.ceil(math.sqrt(n)))
    return [(z, x + dx, y + dy) for dx in range(-side // 2, side - side // 2)
            for dy in range(-side // 2, side - side // 2)][:n]


def _ms(values: list[float], q: float) -> float:
    if len(values) < 20:
        return round((max(values) if q > 0.5 else statistics.median(values)) * 1000, 2)
    return round(statistics.quantiles(values, n=100)[int(q * 100) - 1] * 1000, 2)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(port: int, path: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, http.client.HTTPException):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", path)
            if conn.getresponse().status < 500:
                return
        time.sleep(0.2)
    raise RuntimeError(f"the server on port {port} did not answer {path}")


@contextlib.contextmanager
def _server(command: list[str], env: dict, port: int, ready: str):
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        _wait(port, ready)
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _peak_rss_mb(root_pid: int) -> float:
    """The largest peak RSS (VmHWM) among a server's processes (master and workers)."""
    peak = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            status = (entry / "status").read_text()
            fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
            if int(fields.get("PPid", "0").strip()) in (root_pid,) or int(entry.name) == root_pid:
                peak = max(peak, int(fields.get("VmHWM", "0 kB").split()[0]))
    return round(peak / 1024, 1)


def _get_all(port: int, paths: list[str]) -> list[tuple[float, int, int]]:
    """Fetch ``paths`` in order on one keep-alive connection: (seconds, status, bytes) each."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    out = []
    for path in paths:
        start = time.perf_counter()
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read()
        out.append((time.perf_counter() - start, response.status, len(body)))
    conn.close()
    return out


def _throughput(port: int, paths: list[str], rounds: int) -> dict:
    """``CONCURRENCY`` clients each fetch every path ``rounds`` times (shifted so they do not move
    in lockstep); tiles per second over the whole run, and failures."""
    jobs = [[paths[(i * 7 + k) % len(paths)] for k in range(len(paths))] * rounds
            for i in range(CONCURRENCY)]
    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(CONCURRENCY) as pool:
        results = [r for batch in pool.map(lambda job: _get_all(port, job), jobs) for r in batch]
    seconds = time.perf_counter() - start
    failed = sum(1 for _s, status, _b in results if status != 200)
    return {"requests": len(results), "seconds": round(seconds, 2), "failed": failed,
            "tiles_per_s": round(len(results) / seconds, 1),
            "p95_ms": _ms([s for s, _st, _b in results], 0.95)}


def _first_render(port: int, runs: int = 5) -> dict | None:
    """Milliseconds from navigation start to the 22 authorities drawn, in Debian's Chromium."""
    if not Path("/usr/bin/chromium").exists():
        return None
    from playwright.sync_api import sync_playwright

    times = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium",
                                    args=["--no-sandbox", "--disable-gpu"])
        for i in range(runs):
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            page = context.new_page()
            page.goto(f"http://127.0.0.1:{port}/en/", wait_until="commit")
            page.wait_for_function(
                "() => document.querySelectorAll('.leaflet-overlay-pane path.leaflet-interactive').length === 22",
                timeout=30000)
            times.append(page.evaluate("performance.now()"))
            context.close()
            if i == 0:
                cold = times[0]
        browser.close()
    return {"runs": runs, "cold_ms": round(cold), "warm_median_ms": round(statistics.median(times[1:]))}


def _tipg_view(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA IF NOT EXISTS bench")
        conn.execute(
            """CREATE OR REPLACE VIEW bench.premises_status AS
               SELECT c.uprn, c.status, c.probability_below, c.best_down, c.band, c.evidence,
                      c.eligible_abc, c.eligible_lbf, c.eligible_uso, c.planned_build, p.geom
               FROM gapmap.premises p JOIN gapmap.premises_class c USING (uprn)""")


def run(url: str, tiles: int = 256, lookups: int = 200, rounds: int = 2) -> dict:
    """Measure against the classified database at ``url`` (see bench.dataset.build)."""
    from connectivity.lookup import premises_tile

    with psycopg.connect(url, autocommit=True) as conn:
        # measure the steady state, not autovacuum catching up with a database just loaded
        conn.execute("VACUUM (ANALYZE)")
        conn.execute("CHECKPOINT")
        premises = conn.execute("SELECT count(*) FROM gapmap.premises").fetchone()[0]
        # the densest square kilometre: tiles with many premises, the expensive ones
        lon, lat = conn.execute(
            "SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_Transform(ST_SetSRID(ST_MakePoint("
            "floor(ST_X(geom) / 1000) * 1000 + 500, floor(ST_Y(geom) / 1000) * 1000 + 500), 27700), "
            "4326) AS c, count(*) AS n FROM gapmap.premises GROUP BY 1 ORDER BY 2 DESC LIMIT 1) d"
        ).fetchone()
        postcodes = [r[0].replace(" ", "") for r in conn.execute(
            "SELECT postcode FROM gapmap.premises_class WHERE postcode IS NOT NULL "
            "GROUP BY postcode ORDER BY md5(postcode) LIMIT %s", (lookups,))]
        boxes = _tiles_around(lon, lat, 15, tiles)
    _tipg_view(url)
    paths = [f"/tiles/premises/{z}/{x}/{y}.pbf" for z, x, y in boxes]
    env = dict(os.environ, DATABASE_URL=url, CONNECTIVITY_DATABASE_URL=url,
               CONNECTIVITY_SECRET_KEY=secrets.token_urlsafe(32))
    report = {"benchmark": "web", "premises": premises, "tiles": len(boxes), "workers": WORKERS,
              "concurrency": CONCURRENCY}

    port = _free_port()
    with _server([str(BIN / "connectivity"), "--database-url", url, "serve", "--port", str(port),
                  "--workers", str(WORKERS)], env, port, "/api/v1/health") as proc:
        _get_all(port, paths * 2)  # warm the pools, and the caches both ways share
        # each tile through the app and by the raw query, one after the other (same cache state)
        raw, single = [], []
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("SET jit = off")  # as the app's pool does
            for (z, x, y), path in zip(boxes, paths, strict=True):
                start = time.perf_counter()
                premises_tile(conn, z, x, y)
                raw.append(time.perf_counter() - start)
                single.extend(_get_all(port, [path]))
        report["raw_st_asmvt_p50_ms"] = _ms(raw, 0.5)
        report["raw_st_asmvt_p95_ms"] = _ms(raw, 0.95)
        report["app_tile_p50_ms"] = _ms([s for s, _st, _b in single], 0.5)
        report["app_tile_p95_ms"] = _ms([s for s, _st, _b in single], 0.95)
        report["tile_bytes_median"] = statistics.median(b for _s, _st, b in single)
        report["app_vs_raw_p95"] = round(report["app_tile_p95_ms"] / report["raw_st_asmvt_p95_ms"], 2)
        report["ours_throughput"] = _throughput(port, paths, rounds)
        lookup = _get_all(port, [f"/api/v1/postcodes/{pc}" for pc in postcodes])
        assert all(status == 200 for _s, status, _b in lookup), "a postcode lookup failed"
        report["postcode_lookups"] = len(lookup)
        report["postcode_p50_ms"] = _ms([s for s, _st, _b in lookup], 0.5)
        report["postcode_p95_ms"] = _ms([s for s, _st, _b in lookup], 0.95)
        report["first_render"] = _first_render(port)
        report["ours_peak_rss_mb"] = _peak_rss_mb(proc.pid)

    tipg_env = dict(env, TIPG_DB_SCHEMAS='["bench"]', TIPG_MVT_TILE_BUFFER="16",
                    TIPG_MAX_FEATURES_PER_TILE="100000", TIPG_DB_MAX_CONN_SIZE="8")
    tipg_paths = [f"/collections/bench.premises_status/tiles/WebMercatorQuad/{z}/{x}/{y}"
                  for z, x, y in boxes]
    port = _free_port()
    try:
        with _server([str(BIN / "uvicorn"), "tipg.main:app", "--port", str(port), "--workers",
                      str(WORKERS), "--log-level", "warning"], tipg_env, port, "/collections") as proc:
            _get_all(port, tipg_paths[:5])
            single = _get_all(port, tipg_paths)
            report["tipg_tile_p95_ms"] = _ms([s for s, _st, _b in single], 0.95)
            report["tipg_tile_bytes_median"] = statistics.median(b for _s, _st, b in single)
            report["tipg_throughput"] = _throughput(port, tipg_paths, rounds)
            report["tipg_peak_rss_mb"] = _peak_rss_mb(proc.pid)
        report["ours_vs_tipg_throughput"] = round(
            report["ours_throughput"]["tiles_per_s"] / report["tipg_throughput"]["tiles_per_s"], 2)
    except (RuntimeError, FileNotFoundError) as exc:
        report["tipg_error"] = str(exc)
    return report


def markdown(r: dict) -> str:
    lines = [
        f"{r['premises']:,} premises; {r['tiles']} premises tiles at z15 around the densest square "
        f"kilometre; {r['workers']} server workers, {r['concurrency']} concurrent clients.\n",
        "| figure | ours | beside | ratio |", "|---|---:|---:|---:|",
        f"| tile p50 / p95 ms (one client) | {r['app_tile_p50_ms']} / {r['app_tile_p95_ms']} | raw "
        f"ST_AsMVT {r['raw_st_asmvt_p50_ms']} / {r['raw_st_asmvt_p95_ms']} | {r['app_vs_raw_p95']}x |",
    ]
    if "tipg_throughput" in r:
        o, t = r["ours_throughput"], r["tipg_throughput"]
        lines.append(f"| tiles/s ({r['concurrency']} clients) | {o['tiles_per_s']} (failed "
                     f"{o['failed']}) | tipg {t['tiles_per_s']} (failed {t['failed']}) | "
                     f"{r['ours_vs_tipg_throughput']}x |")
        lines.append(f"| tile p95 ms under load | {o['p95_ms']} | tipg {t['p95_ms']} | |")
        lines.append(f"| median tile bytes | {r['tile_bytes_median']} | tipg {r['tipg_tile_bytes_median']} | |")
        lines.append(f"| server peak RSS MB | {r['ours_peak_rss_mb']} | tipg {r['tipg_peak_rss_mb']} | |")
    elif "tipg_error" in r:
        lines.append(f"| tiles/s | {r['ours_throughput']['tiles_per_s']} | tipg: {r['tipg_error']} | |")
    lines.append(f"| postcode lookup p50 / p95 ms | {r['postcode_p50_ms']} / {r['postcode_p95_ms']} "
                 "| target p95 < 20 | |")
    if r.get("first_render"):
        f = r["first_render"]
        lines.append(f"| map first render ms (Chromium) | cold {f['cold_ms']}, warm median "
                     f"{f['warm_median_ms']} | target < 2000 | |")
    return "\n".join(lines)
