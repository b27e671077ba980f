"""A modelled speed surface (GeoTIFF) sampled at every premises, vectorised.

Premises coordinates are fetched in chunks with a server-side cursor, transformed to the raster's
CRS (in PostGIS when the CRS has an EPSG code, else with pyproj), turned into row/column indexes
with the inverse affine transform, and looked up in the band array in one numpy operation per
chunk. Premises outside the raster or on nodata cells are counted as filtered; negative or
non-finite values are rejected.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from pyproj import CRS, Transformer

from connectivity.db import SCHEMA
from connectivity.errors import InputError

from .checks import crs_option
from .releases import ensure_release
from .runs import Counts, LoadContext, Loader, copy_rows

CHUNK = 200_000
MAX_SPEED = 1_000_000  # Mbit/s: larger values are mistakes (and do not fit a real column)
MAX_CELLS = 400_000_000


class SpeedRasterLoader(Loader):
    kind = "speed-raster"
    describes = "speed surface (GeoTIFF)"
    suffixes = (".tif", ".tiff")

    def check_options(self, paths: Sequence[Path], options: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"band": 1 if options.get("band") is None else int(options["band"])}
        if options.get("nodata") is not None:
            out["nodata"] = float(options["nodata"])
        if options.get("crs"):
            out["crs"] = crs_option(options["crs"])
        return out

    def load(self, ctx: LoadContext, paths: Sequence[Path]) -> Counts:
        conn = ctx.conn
        premises = conn.execute(f"SELECT count(*) FROM {SCHEMA}.premises").fetchone()[0]
        if premises == 0:
            raise InputError("no premises are loaded to sample the raster at",
                             hint="load premises first (connectivity load uprn ...)")
        if len(paths) != 1:
            raise InputError(f"give one raster per load, not {len(paths)}",
                             hint="each raster is a release of its own: load them one by one")
        release_id = ensure_release(ctx, "speed-raster", paths)
        conn.execute("CREATE TEMP TABLE stage_raster (uprn bigint PRIMARY KEY, value real) "
                     "ON COMMIT DROP")
        read = loaded = filtered = 0
        for path in paths:
            r, lo, fi = self._sample(ctx, path)
            read, loaded, filtered = read + r, loaded + lo, filtered + fi
            ctx.progress.advance(path.stat().st_size)
        conn.execute(
            f"""INSERT INTO {SCHEMA}.ev_premises_speed (release_id, uprn, max_down)
                SELECT %s, uprn, value FROM stage_raster
                ON CONFLICT (release_id, uprn) DO UPDATE SET max_down = EXCLUDED.max_down""",
            (release_id,))
        return Counts(read, loaded, filtered)

    def _sample(self, ctx: LoadContext, path: Path) -> tuple[int, int, int]:
        label = path.name
        try:
            src = rasterio.open(path)
        except (rasterio.errors.RasterioError, OSError) as exc:
            raise InputError(f"cannot read as a raster ({exc})", file=label) from None
        with src:
            band = ctx.options["band"]
            if not 1 <= band <= src.count:
                raise InputError(f"the raster has {src.count} band(s); --band {band} does not exist",
                                 file=label)
            crs = src.crs or (CRS.from_user_input(ctx.options["crs"]) if ctx.options.get("crs") else None)
            if crs is None:
                raise InputError("the raster declares no coordinate reference system", file=label,
                                 hint="say which with --crs EPSG:27700")
            if src.width * src.height > MAX_CELLS:
                raise InputError(f"the raster has {src.width * src.height:,} cells, more than "
                                 f"{MAX_CELLS:,}", file=label, hint="clip it to the area of interest")
            nodata = ctx.options.get("nodata", src.nodata)
            if nodata is None:
                ctx.notes.append(f"{label}: no nodata value declared; every cell is taken as data "
                                 "(set --nodata to change that)")
            try:
                data = src.read(band)
            except (rasterio.errors.RasterioError, OSError):
                raise InputError(f"cannot read band {band} of the raster: the file is damaged or "
                                 "truncated", file=label) from None
            inverse = ~src.transform
            epsg = CRS.from_user_input(crs).to_epsg()
            ctx.notes.append(f"{label}: {src.width}x{src.height} cells, CRS "
                             f"{'EPSG:' + str(epsg) if epsg else crs.to_string()}")
        return self._lookup(ctx, label, data, inverse, nodata, crs, epsg, band)

    def _lookup(self, ctx, label, data, inverse, nodata, crs, epsg, band) -> tuple[int, int, int]:
        conn = ctx.conn
        transformer = None
        if epsg:
            sql = (f"SELECT uprn, ST_X(g), ST_Y(g) FROM (SELECT uprn, "
                   f"ST_Transform(geom, {int(epsg)}) AS g FROM {SCHEMA}.premises) p")
        else:
            transformer = Transformer.from_crs(27700, crs, always_xy=True)
            sql = f"SELECT uprn, ST_X(geom), ST_Y(geom) FROM {SCHEMA}.premises"
        read = loaded = filtered = 0
        height, width = data.shape
        with conn.cursor(name="raster_premises") as cur:
            cur.itersize = CHUNK
            cur.execute(sql)
            while rows := cur.fetchmany(CHUNK):
                uprn = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
                x = np.fromiter((r[1] for r in rows), dtype=np.float64, count=len(rows))
                y = np.fromiter((r[2] for r in rows), dtype=np.float64, count=len(rows))
                if transformer is not None:
                    x, y = transformer.transform(x, y)
                a, b, c, d, e, f = inverse[:6]
                col = np.floor(a * x + b * y + c).astype(np.int64)
                row = np.floor(d * x + e * y + f).astype(np.int64)
                inside = (row >= 0) & (row < height) & (col >= 0) & (col < width)
                values = np.full(len(rows), np.nan)
                values[inside] = data[row[inside], col[inside]]
                has = inside & ~np.isnan(values)
                if nodata is not None and not np.isnan(nodata):
                    has &= values != nodata
                bad = has & ((values < 0) | ~np.isfinite(values) | (values > MAX_SPEED))
                good = has & ~bad
                for i in np.flatnonzero(bad):
                    too_fast = np.isfinite(values[i]) and values[i] > MAX_SPEED
                    ctx.rejects.add(label, None, f"band {band}", float(values[i]),
                                    f"implausible speed (over {MAX_SPEED:,} Mbit/s) in the cell "
                                    f"of premises {uprn[i]}" if too_fast else
                                    f"negative or infinite speed in the cell of premises {uprn[i]}")
                copy_rows(conn, "stage_raster", ("uprn", "value"),
                          zip(uprn[good].tolist(), values[good].tolist(), strict=True))
                ctx.rejects.flush()
                read += len(rows)
                loaded += int(good.sum())
                filtered += int((~has).sum())
        return read, loaded, filtered
