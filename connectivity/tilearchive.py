"""A static archive of the public map's tiles: ``connectivity publish tiles --out map.pmtiles``.

One PMTiles v3 archive (the ``pmtiles`` package's writer) holding, for each zoom, every layer the
dynamic tile routes serve at that zoom, made by the same functions
(:func:`connectivity.maptiles.area_tile`, :func:`~connectivity.maptiles.hex_tile`,
:func:`connectivity.lookup.premises_tile`), so features and properties are the same. A tile of
the archive is those layers' tiles put one after another (a vector tile is a sequence of layers),
gzipped: area layers named by level (``la``, ``ward``, ...), hexagons by size (``hex500``,
``hex2000``, ``hex8000``: the dynamic route calls each ``hex``), and ``premises``.

Which tiles: those that can hold a feature, found in SQL at the highest zoom (grid squares of
the tile size meeting a boundary, an occupied hexagon or a premises, with their neighbours for
the tiles' buffer), and their parents at the lower zooms; tiles that come out empty are skipped.
Tiles are made by a few connections in parallel, in batches, and written in tile-id order to the
writer, which keeps their bytes in a temporary file: memory holds the tile index, not the tiles.
The archive is written beside ``out`` and renamed into place.
"""

from __future__ import annotations

import concurrent.futures
import gzip
import os
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from . import runs
from .db import SCHEMA
from .errors import BadRequest, GapmapError, NotFound
from .lookup import TILE_MIN_ZOOM, premises_tile
from .maptiles import AREA_TILE_ZOOMS, HEX_TILE_ZOOMS, area_tile, hex_tile
from .outputs import ATTRIBUTION, SYNTHETIC_NOTICE

#: web mercator's width, metres
WORLD = 40075016.68557849
BATCH = 256

_AREA_FIELDS = {"code": "String", "name_en": "String", "name_cy": "String", "premises": "Number",
                "below": "Number", "possibly_below": "Number", "expected_below_30": "Number",
                "share_below": "Number", "abc": "Number", "lbf": "Number", "uso": "Number",
                "planned_build": "Number", "share_abc": "Number", "share_lbf": "Number",
                "share_planned": "Number"}
_PREMISES_FIELDS = {"uprn": "Number", "postcode": "String", "status": "String", "probability_below": "Number",
                    "best_down": "Number", "band": "String", "evidence": "String",
                    "eligible_abc": "String", "eligible_lbf": "String",
                    "eligible_uso": "String", "planned_build": "Boolean"}


def layers_at(z: int) -> list[str]:
    """The archive's layers served at zoom ``z``."""
    return ([level for level, (lo, hi) in AREA_TILE_ZOOMS.items() if lo <= z <= hi]
            + [f"hex{size}" for size, (lo, hi) in HEX_TILE_ZOOMS.items() if lo <= z <= hi]
            + (["premises"] if z >= TILE_MIN_ZOOM else []))


def archive_tile(conn: psycopg.Connection, z: int, x: int, y: int) -> bytes:
    """The archive's tile z/x/y, uncompressed: every layer served at ``z``, one after another."""
    parts = []
    for layer in layers_at(z):
        if layer == "premises":
            parts.append(premises_tile(conn, z, x, y)[0])
        elif layer.startswith("hex"):
            parts.append(hex_tile(conn, int(layer[3:]), z, x, y, layer=layer)[0])
        else:
            parts.append(area_tile(conn, layer, z, x, y)[0])
    return b"".join(parts)


def _vector_layers(min_zoom: int, max_zoom: int) -> list[dict[str, Any]]:
    out = []
    for level, (lo, hi) in AREA_TILE_ZOOMS.items():
        fields = dict(_AREA_FIELDS, **({"wimd_rank": "Number"} if level == "lsoa" else {}))
        out.append({"id": level, "fields": fields, "minzoom": lo, "maxzoom": hi})
    for size, (lo, hi) in HEX_TILE_ZOOMS.items():
        out.append({"id": f"hex{size}", "fields": _AREA_FIELDS, "minzoom": lo, "maxzoom": hi})
    out.append({"id": "premises", "fields": _PREMISES_FIELDS, "minzoom": TILE_MIN_ZOOM,
                "maxzoom": 22})
    return [dict(v, minzoom=max(v["minzoom"], min_zoom), maxzoom=min(v["maxzoom"], max_zoom))
            for v in out if v["minzoom"] <= max_zoom and v["maxzoom"] >= min_zoom]


def candidate_tiles(conn: psycopg.Connection, z: int, area: str | None = None) -> set[tuple[int, int]]:
    """The tiles (x, y) of zoom ``z`` that can hold a feature: grid squares of the tile size that
    meet a boundary, an occupied hexagon of the current run or a premises (only those meeting
    area ``area``, if given), and their eight neighbours (a tile's buffer reaches into them)."""
    size = WORLD / 2 ** z
    params: dict[str, Any] = {"size": size, "area": area}
    if area:
        shapes = f"SELECT geom_3857 AS g FROM {SCHEMA}.area WHERE code = %(area)s"
        points = "SELECT NULL::float8 AS x, NULL::float8 AS y WHERE false"
    else:
        shapes = f"""SELECT geom_3857 AS g FROM {SCHEMA}.area
                     WHERE level = ANY(%(levels)s)
                     UNION ALL
                     SELECT ST_Transform(h.geom, 3857) FROM {SCHEMA}.hex_cell h
                     JOIN {SCHEMA}.area_stats s ON s.level = 'hex' || h.size AND s.code = h.code"""
        points = f"""SELECT ST_X(g) AS x, ST_Y(g) AS y FROM (
                         SELECT ST_Transform(geom, 3857) AS g FROM {SCHEMA}.premises) p"""
        params["levels"] = list(AREA_TILE_ZOOMS)
    rows = conn.execute(
        f"""WITH shapes AS ({shapes})
            SELECT DISTINCT c.i, c.j FROM shapes s, ST_SquareGrid(%(size)s, s.g) c
            WHERE ST_Intersects(c.geom, s.g)
            UNION
            SELECT DISTINCT floor(x / %(size)s)::int, floor(y / %(size)s)::int
            FROM ({points}) p""", params, prepare=False).fetchall()
    half = 2 ** (z - 1)
    found: set[tuple[int, int]] = set()
    for i, j in rows:
        x, y = i + half, half - 1 - j  # the grid's origin is the tile grid's centre
        for dx in (-1, 0, 1):
            for dy in (-1, 0, 1):
                if 0 <= x + dx < 2 ** z and 0 <= y + dy < 2 ** z:
                    found.add((x + dx, y + dy))
    return found


def build_archive(conninfo: str, out: Path, *, min_zoom: int = 6, max_zoom: int = 15,
                  area: str | None = None, workers: int = 2,
                  progress: Callable[[str], None] = lambda m: None) -> dict[str, Any]:
    """Write the archive of the current classification's tiles to ``out``; returns a summary
    (tiles written, empty ones skipped, bytes, seconds)."""
    from pmtiles.tile import Compression, TileType, zxy_to_tileid
    from pmtiles.writer import Writer

    if not 0 <= min_zoom <= max_zoom <= 22:
        raise BadRequest(f"zooms {min_zoom} to {max_zoom}: expected 0 <= min <= max <= 22")
    out = Path(out)
    if out.is_dir():
        raise GapmapError(f"cannot write {out}: it is a folder", "give a file name, e.g. map.pmtiles")
    started = time.monotonic()
    local = threading.local()
    connections: list[psycopg.Connection] = []
    lock = threading.Lock()

    def connection() -> psycopg.Connection:
        if getattr(local, "conn", None) is None:
            local.conn = psycopg.connect(conninfo, autocommit=True)
            local.conn.execute("SET jit = off")  # as the web app's pool does
            with lock:
                connections.append(local.conn)
        return local.conn

    def make(tile: tuple[int, int, int]) -> bytes:
        return archive_tile(connection(), *tile)

    with psycopg.connect(conninfo, autocommit=True) as conn:
        run = runs.require_current(conn)
        if area and not conn.execute(f"SELECT EXISTS (SELECT 1 FROM {SCHEMA}.area WHERE code = %s)",
                                     (area,)).fetchone()[0]:
            raise NotFound(f"no area with code {area!r}")
        progress(f"finding the tiles of zoom {max_zoom} that can hold features")
        top = candidate_tiles(conn, max_zoom, area)
    levels = {max_zoom: top}
    for z in range(max_zoom - 1, min_zoom - 1, -1):
        levels[z] = {(x >> 1, y >> 1) for x, y in levels[z + 1]}

    folder = out.resolve().parent
    if not folder.is_dir():
        raise GapmapError(f"cannot write {out}: the folder {folder} does not exist")
    fd, name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=folder)
    tmp: Path | None = Path(name)
    written = skipped = 0
    raw_bytes = 0
    bounds = [180.0, 90.0, -180.0, -90.0]
    try:
        with os.fdopen(fd, "wb") as fh, \
                concurrent.futures.ThreadPoolExecutor(max(1, workers)) as pool:
            writer = Writer(fh)
            for z in range(min_zoom, max_zoom + 1):
                tiles = sorted(levels.pop(z), key=lambda t, z=z: zxy_to_tileid(z, *t))
                progress(f"zoom {z}: {len(tiles):,} tiles to make")
                for start in range(0, len(tiles), BATCH):
                    batch = [(z, x, y) for x, y in tiles[start:start + BATCH]]
                    for (tz, tx, ty), data in zip(batch, pool.map(make, batch), strict=True):
                        if not data:
                            skipped += 1
                            continue
                        raw_bytes += len(data)
                        writer.write_tile(zxy_to_tileid(tz, tx, ty),
                                          gzip.compress(data, compresslevel=6, mtime=0))
                        written += 1
                        _grow(bounds, tz, tx, ty)
            if written == 0:
                raise NotFound("no tile holds a feature: nothing to write",
                               "load boundaries and classify first")
            with psycopg.connect(conninfo, autocommit=True) as conn:
                now = runs.require_current(conn)
            if now.id != run.id:
                raise GapmapError(f"classification {now.label} became current while the archive "
                                  f"of {run.label} was made", "run the command again")
            header = {"tile_type": TileType.MVT, "tile_compression": Compression.GZIP,
                      "min_lon_e7": int(bounds[0] * 1e7), "min_lat_e7": int(bounds[1] * 1e7),
                      "max_lon_e7": int(bounds[2] * 1e7), "max_lat_e7": int(bounds[3] * 1e7),
                      "center_zoom": min_zoom}
            writer.finalize(header, {
                "name": "Broadband gap map for Wales",
                "description": (SYNTHETIC_NOTICE if run.synthetic else "")
                + f"Classification {run.label}: authorities, wards, LSOAs, MSOAs, "
                "constituencies and hexagons with their statistics, and every premises.",
                "attribution": ATTRIBUTION, "classification": run.label,
                "synthetic": run.synthetic, "type": "overlay", "format": "pbf",
                "vector_layers": _vector_layers(min_zoom, max_zoom)})
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, out)
        tmp = None
    except OSError as exc:
        raise GapmapError(f"cannot write {out}: {(exc.strerror or str(exc)).lower()}") from None
    finally:
        for conn in connections:
            conn.close()
        if tmp is not None:
            tmp.unlink(missing_ok=True)
    return {"archive": str(out), "classification": run.label, "min_zoom": min_zoom,
            "max_zoom": max_zoom, "area": area, "tiles": written, "empty_skipped": skipped,
            "bytes": out.stat().st_size, "uncompressed_tile_bytes": raw_bytes,
            "seconds": round(time.monotonic() - started, 1)}


def _grow(bounds: list[float], z: int, x: int, y: int) -> None:
    import math

    n = 2 ** z

    def lat(row: int) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * row / n))))

    bounds[0] = min(bounds[0], x / n * 360 - 180)
    bounds[2] = max(bounds[2], (x + 1) / n * 360 - 180)
    bounds[1] = min(bounds[1], lat(y + 1))
    bounds[3] = max(bounds[3], lat(y))


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
