"""Benchmark: premises tile latency through the app beside the raw ``ST_AsMVT`` query for the
same tiles, and postcode lookup latency, on the database the settings point at (classified)."""

from __future__ import annotations

import math
import statistics
import time

import psycopg

from connectivity.settings import load_settings


def _tiles_around(lon: float, lat: float, z: int, n: int) -> list[tuple[int, int, int]]:
    count = 2 ** z
    x = int((lon + 180) / 360 * count)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * count)
    side = int(math.ceil(math.sqrt(n)))
    return [(z, x + dx, y + dy) for dx in range(-side // 2, side - side // 2)
            for dy in range(-side // 2, side - side // 2)][:n]


def _p95(values: list[float]) -> float:
    return round(statistics.quantiles(values, n=20)[18] * 1000, 2) if len(values) >= 20 else \
        round(max(values) * 1000, 2)


def run(conninfo: str | None = None, tiles: int = 64, lookups: int = 200) -> dict:
    from connectivity.lookup import premises_tile
    from webmap import create_app

    settings = load_settings({"database_url": conninfo} if conninfo else None)
    app = create_app(settings)
    client = app.test_client()
    with psycopg.connect(settings.conninfo, autocommit=True) as conn:
        # the densest 1 km square: tiles with many premises, the expensive ones
        lon, lat = conn.execute(
            "SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_Transform(ST_SetSRID(ST_MakePoint("
            "floor(ST_X(geom) / 1000) * 1000 + 500, floor(ST_Y(geom) / 1000) * 1000 + 500), 27700), "
            "4326) AS c, count(*) AS n FROM gapmap.premises GROUP BY 1 ORDER BY 2 DESC LIMIT 1) d"
        ).fetchone()
        postcodes = [r[0] for r in conn.execute(
            "SELECT postcode FROM gapmap.premises_class WHERE postcode IS NOT NULL "
            "GROUP BY postcode ORDER BY md5(postcode) LIMIT %s", (lookups,))]
        boxes = _tiles_around(lon, lat, 15, tiles)
        for z, x, y in boxes[:5]:  # warm up the pool and the caches of both paths
            premises_tile(conn, z, x, y)
            client.get(f"/tiles/premises/{z}/{x}/{y}.pbf")
        raw, app_times, sizes = [], [], []
        for z, x, y in boxes:
            start = time.perf_counter()
            tile, _ = premises_tile(conn, z, x, y)
            raw.append(time.perf_counter() - start)
            start = time.perf_counter()
            response = client.get(f"/tiles/premises/{z}/{x}/{y}.pbf")
            app_times.append(time.perf_counter() - start)
            sizes.append(len(response.data))
        lookup = []
        for pc in postcodes:
            start = time.perf_counter()
            assert client.get(f"/api/v1/postcodes/{pc.replace(' ', '')}").status_code == 200
            lookup.append(time.perf_counter() - start)
    app.extensions["gapmap_db"].close()
    return {"benchmark": "web", "tiles": len(boxes), "tile_bytes_median": statistics.median(sizes),
            "raw_st_asmvt_p50_ms": round(statistics.median(raw) * 1000, 2),
            "app_tile_p50_ms": round(statistics.median(app_times) * 1000, 2),
            "raw_st_asmvt_p95_ms": _p95(raw), "app_tile_p95_ms": _p95(app_times),
            "app_vs_raw": round(_p95(app_times) / _p95(raw), 2),
            "postcode_lookups": len(lookup), "postcode_p95_ms": _p95(lookup)}


def markdown(report: dict) -> str:
    return ("| tiles (z15) | raw ST_AsMVT p95 ms | app tile p95 ms | ratio | postcode lookup p95 ms |\n"
            "|---:|---:|---:|---:|---:|\n"
            f"| {report['tiles']} | {report['raw_st_asmvt_p95_ms']} | {report['app_tile_p95_ms']} | "
            f"{report['app_vs_raw']} | {report['postcode_p95_ms']} |")
