"""Ookla open data: "Speedtest by Ookla Global Fixed and Mobile Network Performance Maps", the
quarterly fixed-network tiles (CC BY-NC-SA 4.0: non-commercial), as Parquet or zipped Shapefile.

Each row is a zoom-16 web-mercator tile, named by its quadkey, with average download and upload
(kbit/s), latency (ms), tests and devices. The tile's polygon (``tile``, WKT, or the Shapefile's
geometry) is checked against the one its quadkey names; a row whose two disagree is rejected.
Rows are read in batches: a malformed quadkey cannot be placed and is rejected; a tile outside
the loaded Welsh authorities (level ``la``, ``W06`` codes) is counted as filtered; the rest are
checked (speeds, latency, tests, devices, duplicates) in SQL, each row rejected for its first
problem, and published to ``gapmap.ev_speedtest_tile`` (speeds in Mbit/s, the tile in EPSG:27700,
rebuilt from the quadkey). Latency under load (``avg_lat_down_ms``, ``avg_lat_up_ms``, in files
from 2023) is read past: nothing uses it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from connectivity.db import SCHEMA
from connectivity.errors import InputError

from .checks import reject_duplicates, reject_where
from .formats import OOKLA_PARQUET_COLUMNS, OOKLA_SHAPEFILE_FIELDS, OOKLA_ZOOM
from .releases import ensure_release
from .runs import Counts, LoadContext, Loader, copy_rows

KIND = "ookla"
SOURCE = "ookla"
BATCH = 100_000
#: degrees: how far a tile's corner may be from its quadkey's (the published WKT has 15 digits)
TOLERANCE = 1e-6
MAX_KBPS = 1_000_000_000  # 1,000,000 Mbit/s: larger is a mistake
MAX_COUNT = 100_000_000
NUMBERS = ("avg_d_kbps", "avg_u_kbps", "avg_lat_ms", "tests", "devices")
_QUADKEY = re.compile(rf"[0-3]{{{OOKLA_ZOOM}}}")
_RELEASE = re.compile(r"20\d{2}-Q[1-4]")
# Ookla's names: 2025-10-01_performance_fixed_tiles.parquet, .../year=2025/quarter=4/...
_NAME = re.compile(r"(20\d{2})-(01|04|07|10)-01_performance_(fixed|mobile)_tiles")


# -- tiles ----------------------------------------------------------------------------------------
def quadkey_xy(quadkey: str) -> tuple[int, int]:
    """The tile column and row of a zoom-16 quadkey (Bing Maps tile system)."""
    x = y = 0
    for i, digit in enumerate(quadkey):
        mask = 1 << (len(quadkey) - 1 - i)
        d = ord(digit) - 48
        if d & 1:
            x |= mask
        if d & 2:
            y |= mask
    return x, y


def quadkey_of(lon: float, lat: float, zoom: int = OOKLA_ZOOM) -> str:
    """The quadkey of the tile holding a WGS84 point."""
    n = 1 << zoom
    x = int((lon + 180) / 360 * n)
    lat_r = math.radians(lat)
    y = int((1 - math.asinh(math.tan(lat_r)) / math.pi) / 2 * n)
    return "".join(str(((x >> b) & 1) | (((y >> b) & 1) << 1)) for b in range(zoom - 1, -1, -1))


def _lon(x):
    return x / (1 << OOKLA_ZOOM) * 360.0 - 180.0


def _lat(y):
    return np.degrees(np.arctan(np.sinh(np.pi * (1 - 2 * np.asarray(y, dtype=float)
                                                 / (1 << OOKLA_ZOOM)))))


def tile_bounds(quadkey: str) -> tuple[float, float, float, float]:
    """(west, south, east, north) in degrees of a quadkey's tile."""
    x, y = quadkey_xy(quadkey)
    return _lon(x), float(_lat(y + 1)), _lon(x + 1), float(_lat(y))


def _xy_arrays(quadkeys: list[str]) -> tuple[np.ndarray, np.ndarray]:
    digits = np.frombuffer("".join(quadkeys).encode("ascii"), dtype=np.uint8).reshape(
        -1, OOKLA_ZOOM).astype(np.int64) - 48
    weights = 1 << np.arange(OOKLA_ZOOM - 1, -1, -1, dtype=np.int64)
    return (digits & 1) @ weights, ((digits >> 1) & 1) @ weights


# -- the loader -----------------------------------------------------------------------------------
class OoklaLoader(Loader):
    kind = KIND
    describes = "Ookla open data speed test tiles (Parquet / zipped Shapefile)"
    suffixes = (".parquet", ".zip", ".shp")

    def check_options(self, paths: Sequence[Path], options: dict[str, Any]) -> dict[str, Any]:
        for path in paths:
            if "mobile" in path.name.lower():
                raise InputError("these are Ookla's mobile-network tiles; the gap map takes the "
                                 "fixed-network ones (..._performance_fixed_tiles)", file=path.name)
        return {}

    def load(self, ctx: LoadContext, paths: Sequence[Path]) -> Counts:
        conn = ctx.conn
        ctx.release = _release(ctx.release, paths)
        wales = conn.execute(
            f"""SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (
                    SELECT ST_Transform(ST_SetSRID(ST_Extent(geom)::geometry, 27700), 4326) AS e
                    FROM {SCHEMA}.area WHERE level = 'la' AND code LIKE 'W06%') x""").fetchone()
        if wales[0] is None:
            raise InputError("no Welsh authority boundaries are loaded to keep the tiles in",
                             hint="load them first (connectivity load boundaries --level la ...)")
        release_id = ensure_release(ctx, SOURCE, paths)
        conn.execute(
            """CREATE TEMP TABLE stage_ookla (file_no int, file text, line bigint, quadkey text,
               west float8, south float8, east float8, north float8, tile_problem text,
               tile_value text, avg_d_kbps float8, avg_u_kbps float8, avg_lat_ms float8,
               tests float8, devices float8) ON COMMIT DROP""")
        # the tile range around Wales (a tile's margin: the extent's corners are transformed)
        n = 1 << OOKLA_ZOOM
        box = (int((wales[0] + 180) / 360 * n) - 1, int((wales[2] + 180) / 360 * n) + 1,
               _tile_row(wales[3]) - 1, _tile_row(wales[1]) + 1)
        read = filtered = 0
        for file_no, path in enumerate(paths):
            r, f = self._stage_file(ctx, file_no, path, box)
            read, filtered = read + r, filtered + f
            ctx.progress.advance(path.stat().st_size)
        filtered += self._outside_wales(ctx)
        self._check(ctx)
        loaded = conn.execute(
            f"""INSERT INTO {SCHEMA}.ev_speedtest_tile (release_id, quadkey, avg_down, avg_up,
                    avg_lat_ms, tests, devices, geom)
                SELECT %s, quadkey, avg_d_kbps / 1000, avg_u_kbps / 1000, avg_lat_ms, tests,
                       devices, ST_Transform(ST_MakeEnvelope(west, south, east, north, 4326), 27700)
                FROM stage_ookla
                ON CONFLICT (release_id, quadkey) DO UPDATE SET avg_down = EXCLUDED.avg_down,
                    avg_up = EXCLUDED.avg_up, avg_lat_ms = EXCLUDED.avg_lat_ms,
                    tests = EXCLUDED.tests, devices = EXCLUDED.devices, geom = EXCLUDED.geom""",
            (release_id,)).rowcount
        return Counts(read, loaded, filtered)

    # -- reading ----------------------------------------------------------------------------------
    def _stage_file(self, ctx: LoadContext, file_no: int, path: Path, box) -> tuple[int, int]:
        label = path.name
        batches = _parquet(path) if path.name.lower().endswith(".parquet") else _shapefile(path)
        read = filtered = 0
        for start, batch in batches:
            rows, outside = _stage_batch(ctx, file_no, label, start, batch, box)
            copy_rows(ctx.conn, "stage_ookla",
                      ("file_no", "file", "line", "quadkey", "west", "south", "east", "north",
                       "tile_problem", "tile_value", *NUMBERS), rows)
            ctx.rejects.flush()
            read += len(batch["quadkey"])
            filtered += outside
        if read == 0:
            raise InputError("the file holds no tiles", file=label)
        return read, filtered

    @staticmethod
    def _outside_wales(ctx: LoadContext) -> int:
        """Filter (count, not reject) the tiles that touch no loaded Welsh authority."""
        return ctx.conn.execute(
            f"""DELETE FROM stage_ookla s WHERE NOT EXISTS (
                    SELECT 1 FROM {SCHEMA}.area_part a
                    WHERE a.level = 'la' AND a.code LIKE 'W06%' AND ST_Intersects(a.geom,
                        ST_Transform(ST_MakeEnvelope(s.west, s.south, s.east, s.north, 4326),
                                     27700)))""").rowcount

    @staticmethod
    def _check(ctx: LoadContext) -> None:
        """Each row's first problem makes it a reject (set-based, in this order)."""
        t = "stage_ookla"
        reject_where(ctx, t, "tile_problem IS NOT NULL", "tile", "tile_value", "tile_problem")
        for name in NUMBERS:
            reject_where(ctx, t, f"{name} IS NULL OR {name} IN ('NaN', 'Infinity', '-Infinity')",
                         name, name, f"CASE WHEN {name} IS NULL THEN 'missing {name}' "
                         "ELSE 'not a number' END")
        for name in ("avg_d_kbps", "avg_u_kbps"):
            reject_where(ctx, t, f"{name} < 0 OR {name} > {MAX_KBPS}", name, name,
                         f"CASE WHEN {name} < 0 THEN 'negative speed' ELSE 'implausible speed "
                         f"(over {MAX_KBPS:,} kbit/s)' END")
        reject_where(ctx, t, "avg_lat_ms < 0", "avg_lat_ms", "avg_lat_ms", "'negative latency'")
        for name in ("tests", "devices"):
            reject_where(ctx, t, f"{name} < 1 OR {name} > {MAX_COUNT} OR {name} <> trunc({name})",
                         name, name,
                         f"CASE WHEN {name} < 1 THEN '{name} must be at least 1' "
                         f"WHEN {name} > {MAX_COUNT} THEN 'implausible count (over "
                         f"{MAX_COUNT:,})' ELSE '{name} must be a whole number' END")
        reject_where(ctx, t, "devices > tests", "devices", "devices || ' > ' || tests",
                     "'more devices than tests (' || devices || ' devices, ' || tests || ' tests)'")
        reject_duplicates(ctx, t, ["quadkey"], "quadkey", "quadkey")


def _tile_row(lat: float) -> int:
    return int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * (1 << OOKLA_ZOOM))


def _release(given: str | None, paths: Sequence[Path]) -> str:
    """``--release YYYY-QN``, or the quarter Ookla's file names carry (they must agree)."""
    found = set()
    for path in paths:
        match = _NAME.search(path.name) or _NAME.search(path.parent.name)
        if match:
            found.add(f"{match[1]}-Q{(int(match[2]) - 1) // 3 + 1}")
    if given is not None:
        if not _RELEASE.fullmatch(given):
            raise InputError(f"release {given!r} is not a quarter",
                             hint="name it as YYYY-QN, e.g. --release 2025-Q4")
        if found and found != {given}:
            raise InputError(f"--release {given} but the files carry "
                             f"{', '.join(sorted(found))}",
                             hint="give the quarter the files are of, or leave --release out")
        return given
    if len(found) > 1:
        raise InputError(f"the files carry different quarters ({', '.join(sorted(found))})",
                         hint="load each quarter on its own, or name it with --release")
    if not found:
        raise InputError("cannot tell which quarter these tiles are: no "
                         "YYYY-MM-01_performance_fixed_tiles in their names",
                         hint="name it with --release, e.g. --release 2025-Q4")
    return found.pop()


def _parquet(path: Path) -> Iterator[tuple[int, dict[str, list]]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        file = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"cannot read as Parquet ({exc})", file=path.name) from None
    names = file.schema_arrow.names
    missing = [c for c in OOKLA_PARQUET_COLUMNS if c not in names and c != "tile"]
    if missing:
        raise InputError(f"missing column(s) {', '.join(missing)}: expected "
                         f"{', '.join(OOKLA_PARQUET_COLUMNS)}; found {', '.join(names)}",
                         file=path.name)
    schema = file.schema_arrow
    for name in NUMBERS:
        kind = schema.field(name).type
        if not (pa.types.is_integer(kind) or pa.types.is_floating(kind)):
            raise InputError(f"column {name} holds {kind}, expected numbers (int64)",
                             file=path.name)
    if not (pa.types.is_string(schema.field("quadkey").type)
            or pa.types.is_large_string(schema.field("quadkey").type)):
        raise InputError(f"column quadkey holds {schema.field('quadkey').type}, expected text "
                         "(a number loses the quadkey's leading zeros)", file=path.name)
    columns = ["quadkey", *NUMBERS] + (["tile"] if "tile" in names else [])
    start = 0
    try:
        for batch in file.iter_batches(batch_size=BATCH, columns=columns):
            data = {c: batch.column(c).to_pylist() for c in columns}
            if "tile" in data:
                data["tile_text"] = data["tile"]
                data["tile"] = _wkt(data["tile"])
            yield start, data
            start += batch.num_rows
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"the Parquet file is damaged or truncated ({exc})",
                         file=path.name) from None


def _wkt(texts: list) -> list:
    """Each WKT as a shapely geometry; False where it is not WKT; None where missing."""
    import shapely

    out = []
    for text in texts:
        if text is None or not str(text).strip():
            out.append(None)
            continue
        try:
            out.append(shapely.from_wkt(text))
        except shapely.errors.ShapelyError:
            out.append(False)
    return out


def _shapefile(path: Path) -> Iterator[tuple[int, dict[str, list]]]:
    import pyogrio

    source = f"/vsizip/{path}" if path.name.lower().endswith(".zip") else str(path)
    try:
        info = pyogrio.read_info(source)
    except Exception as exc:  # pyogrio raises several types for unreadable data
        raise InputError(f"cannot read as a Shapefile ({exc})", file=path.name) from None
    fields = [str(f) for f in info["fields"]]
    lower = {f.lower(): f for f in fields}
    missing = [f for f in OOKLA_SHAPEFILE_FIELDS if f not in lower]
    if missing:
        raise InputError(f"missing field(s) {', '.join(missing)}: expected "
                         f"{', '.join(OOKLA_SHAPEFILE_FIELDS)}; found {', '.join(fields)}",
                         file=path.name)
    crs = info.get("crs")
    if crs and crs.upper() not in ("EPSG:4326", "OGC:CRS84"):
        raise InputError(f"the tiles are in {crs}; Ookla publishes them in EPSG:4326",
                         file=path.name)
    total = info["features"]
    for start in range(0, max(total, 0), BATCH):
        frame = pyogrio.read_dataframe(source, skip_features=start, max_features=BATCH)
        data = {name: [_plain(v) for v in frame[lower[name]]] for name in OOKLA_SHAPEFILE_FIELDS}
        data["tile"] = [g if g is not None else None for g in frame.geometry]
        yield start, data


def _plain(value):
    if value is None or (isinstance(value, float) and value != value):
        return None
    return value.item() if hasattr(value, "item") else value


def _number(value) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    return float(value)


def _stage_batch(ctx: LoadContext, file_no: int, label: str, start: int, batch: dict,
                 box) -> tuple[list[tuple], int]:
    """The rows of one batch to stage: malformed quadkeys rejected, tiles outside the box
    around Wales counted, the tile polygon checked against the quadkey's."""
    quadkeys = batch["quadkey"]
    tiles = batch.get("tile")
    texts = batch.get("tile_text")
    good = []
    for i, quadkey in enumerate(quadkeys):
        text = quadkey.strip() if isinstance(quadkey, str) else None
        if text is None or not _QUADKEY.fullmatch(text):
            ctx.rejects.add(label, start + i + 1, "quadkey", quadkey,
                            f"malformed quadkey: expected {OOKLA_ZOOM} digits 0-3 "
                            f"(a zoom-{OOKLA_ZOOM} tile)")
            continue
        good.append((i, text))
    if not good:
        return [], 0
    x, y = _xy_arrays([q for _, q in good])
    x0, x1, y0, y1 = box
    inside = (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)
    rows = []
    for (i, quadkey), xi, yi, keep in zip(good, x.tolist(), y.tolist(), inside.tolist(),
                                          strict=True):
        if not keep:
            continue
        west, east = _lon(xi), _lon(xi + 1)
        north, south = float(_lat(yi)), float(_lat(yi + 1))
        problem = value = None
        tile = None if tiles is None else tiles[i]
        if tile is False:
            problem = "the tile is not a WKT polygon"
        if tile is not None:
            value = (texts[i] if texts is not None else tile.wkt)[:500]
        if tile is not None and tile is not False:
            if tile.geom_type != "Polygon" or tile.is_empty:
                problem = f"the tile is a {tile.geom_type}, not a polygon"
            else:
                b = tile.bounds
                if max(abs(b[0] - west), abs(b[1] - south), abs(b[2] - east),
                       abs(b[3] - north)) > TOLERANCE:
                    problem = (f"the tile and the quadkey disagree: quadkey {quadkey} is the tile "
                               f"{west:.6f},{south:.6f} to {east:.6f},{north:.6f}; the polygon "
                               f"spans {b[0]:.6f},{b[1]:.6f} to {b[2]:.6f},{b[3]:.6f}")
        rows.append((file_no, label, start + i + 1, quadkey, west, south, east, north, problem,
                     value, *(_number(batch[name][i]) for name in NUMBERS)))
    return rows, len(good) - len(rows)
