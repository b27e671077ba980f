"""Writes the binary files of the bad-input corpus (gzip, zip, GeoTIFF, GeoPackage, UTF-16 and
NUL-laden CSVs). The files are committed; run this only to make them again after a change:

    .venv/bin/python tests/data/bad/make_binary.py

Each file is a few hundred bytes to a few KB. Their expected outcomes are in expected.toml.
"""

from __future__ import annotations

import gzip
import io
import tempfile
import warnings
import zipfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
UPRN_HEADER = "UPRN,X_COORDINATE,Y_COORDINATE,LATITUDE,LONGITUDE"
#: zip members get this timestamp so the archives come out byte for byte the same
WHEN = (2026, 1, 1, 0, 0, 0)


def write(rel: str, data: bytes) -> None:
    path = HERE / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    print(f"{rel}: {len(data)} bytes")


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def zipped(members: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(zipfile.ZipInfo(name, WHEN), data)
    return buffer.getvalue()


def uprn_rows(first: int, n: int) -> bytes:
    rows = "".join(f"{first + i},{318000 + i * 10},{176000 + i * 10},,\r\n" for i in range(n))
    return (UPRN_HEADER + "\r\n" + rows).encode()


def csv_files() -> None:
    # Excel's "Unicode Text" / UTF-16 CSV
    write("uprn/utf16.csv", (UPRN_HEADER + "\r\n1,318284,176230,,\r\n").encode("utf-16"))
    write("wimd/excel_utf16.csv", "lsoa_code,lsoa_name,wimd_2019\r\nW01000001,Llŷn 1,1200\r\n"
          .encode("utf-16"))
    # a file whose writer died: NUL bytes inside a value and NUL padding at the end
    write("uprn/nul_bytes.csv", (UPRN_HEADER + "\n70001,318284,176230,,\n70002,318290,176230,,\n"
                                 "70003,3182\x0084,176230,,\n").encode() + b"\x00" * 8)
    write("postcodes/nul_in_code.csv", b"postcode,eastings,northings,laua\n"
          b"CF10 1AA,318284,176230,W06000015\nCF10 1AB,318300,176300,W06\x00\x00\x00\n")


def compressed_files() -> None:
    # a download cut short: the gzip stream ends early
    whole = gz(uprn_rows(1, 400))
    write("uprn/truncated.csv.gz", whole[: len(whole) // 2])
    # a gzip header followed by bytes that are no deflate stream
    write("postcodes/corrupt.csv.gz", gz(b"postcode,eastings,northings\n")[:10] + b"\xff" * 40)
    perf = gz(b"postcode_space,postcode area,Median download speed (Mbit/s)\n"
              + b"".join(b"CF10 %dAA,CF,%d\n" % (i % 10, i) for i in range(300)))
    write("ofcom-performance/202301_fixed_pc_performance_r01.csv.gz", perf[: len(perf) * 2 // 3])
    api = gz(b"".join(b'{"PostCode": "CF10 1AA", "Availability": [{"UPRN": %d, "MaxPredictedDown": 80}]}\n'
                      % (230000 + i) for i in range(200)))
    write("ofcom-api/202601_coverage_api.jsonl.gz", api[: len(api) // 2])
    geo = gz(b'{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": '
             b'{"LAD25CD": "W06000015", "LAD25NM": "Cardiff"}, "geometry": {"type": "Polygon", '
             b'"coordinates": [[[-3.2, 51.45], [-3.15, 51.45], [-3.15, 51.5], [-3.2, 51.45]]]}}]}\n')
    write("boundaries/corrupt.geojson.gz", geo[:30] + bytes(reversed(geo[30:])))
    # a member whose stored bytes were changed after its CRC was written
    archive = bytearray(zipped({"osopenuprn_202601.csv": uprn_rows(1, 5)}, zipfile.ZIP_STORED))
    at = archive.index(b"318000")
    archive[at:at + 6] = b"999999"
    write("uprn/corrupt_member.zip", bytes(archive))
    write("uprn/no_csv_inside.zip", zipped({"readme.txt": b"OS Open UPRN, see the CSV\n",
                                            "data/": b""}))
    # macOS adds __MACOSX/._name resource forks (binary) beside every file it zips
    write("uprn/macos_zip_with_resource_fork.zip", zipped({
        "osopenuprn_202601.csv": uprn_rows(81001, 2),
        "__MACOSX/._osopenuprn_202601.csv": b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        "
                                            b"\x00\x02\x00\x00\x00\x09\x00\x00\x002\x00\x00\x0e\xb0",
    }))
    # a zip cut short: no central directory
    cov = zipped({"202601_fixed_pc_coverage_r01_CF.csv": b"postcode,postcode_space\n" * 40})
    write("ofcom-coverage/202601_fixed_pc_coverage_r01.zip", cov[: len(cov) // 2])


def challenge_files() -> None:
    header = b"uprn,kind,claimed_down,claimed_up,test_dates,test_down,test_up,evidence_ref,date\r\n"
    # an authority's file in two parts, the second repeating a row of the first
    write("challenges/two_parts.zip", zipped({
        "part1.csv": header + b"300001,speed,30,5,2026-11-01;2026-11-02;2026-11-03,6;5;7,1;1;1,"
                              b"T-1,2026-11-04\r\n300002,not_premises,,,,,,T-2,2026-11-04\r\n",
        "part2.csv": header + b"300003,planned_build,,,,,,T-3,2026-11-04\r\n"
                              b"300001,Speed,30,5,,,,T-1 again,2026-11-04\r\n",
    }))
    write("challenges/gzipped.csv.gz", gz(header + b"300005,not_premises,,,,,,T-5,2026-11-04\r\n"))


def vector_files() -> None:
    import geopandas
    from shapely.geometry import Point, Polygon

    cardiff = Polygon([(310000, 170000), (320000, 170000), (320000, 180000), (310000, 180000)])
    with tempfile.TemporaryDirectory() as tmp:
        # a Shapefile zipped without its .prj: no CRS
        frame = geopandas.GeoDataFrame({"LAD25CD": ["W06000015"], "LAD25NM": ["Cardiff"]},
                                       geometry=[cardiff], crs=None)
        frame.to_file(Path(tmp) / "la.shp", driver="ESRI Shapefile")
        members = {p.name: p.read_bytes() for p in sorted(Path(tmp).iterdir())
                   if p.suffix in (".shp", ".shx", ".dbf")}
        write("boundaries/no_prj_shapefile.zip", zipped(members))
        # a GeoPackage whose layer has an undefined spatial reference system
        points = geopandas.GeoDataFrame({"uprn": [94001]}, geometry=[Point(318284, 176230)], crs=None)
        gpkg = Path(tmp) / "p.gpkg"
        points.to_file(gpkg, driver="GPKG", layer="premises", SPATIAL_INDEX="NO")
        write("premises/no_crs.gpkg", _small_gpkg(gpkg))


def _small_gpkg(path: Path) -> bytes:
    """The GeoPackage without what GDAL adds beyond the required tables, in 512-byte pages:
    about 9 KB instead of 96 KB."""
    import sqlite3

    conn = sqlite3.connect(path)
    for table in ("gpkg_ogr_contents", "gpkg_tile_matrix", "gpkg_tile_matrix_set"):
        conn.execute(f"DROP TABLE IF EXISTS {table}")
    for (trigger,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        conn.execute(f"DROP TRIGGER {trigger}")
    conn.commit()
    conn.execute("PRAGMA page_size = 512")
    conn.execute("VACUUM")
    conn.close()
    return path.read_bytes()


def raster(rel: str, values, *, crs="EPSG:27700", nodata=None, origin=(318000, 177000), cell=100.0,
           bands=1, cut: float | None = None) -> None:
    import rasterio
    from rasterio.transform import from_origin

    data = np.asarray(values, dtype="float32")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "r.tif"
        with rasterio.open(path, "w", driver="GTiff", width=data.shape[1], height=data.shape[0],
                           count=bands, dtype="float32", crs=crs, nodata=nodata,
                           transform=from_origin(*origin, cell, cell)) as dst:
            for band in range(1, bands + 1):
                dst.write(data, band)
        blob = path.read_bytes()
    write(rel, blob if cut is None else blob[: int(len(blob) * cut)])


def raster_files() -> None:
    # 10 x 10 cells of 100 m from (318000, 177000) down to (319000, 176000); the context premises
    # 300001/2/5/6 lie in row 0 columns 0/1/2/3, 300003 in row 9 column 9, 300004 outside
    grid = np.full((10, 10), 50.0)
    plain = grid.copy()
    plain[0, :4] = [0.0, 12.5, 30.0, 45.0]
    plain[9, 9] = 80.0
    raster("speed-raster/202601_speed_no_nodata.tif", plain)
    bad = grid.copy()
    bad[0, :4] = [-5.0, np.inf, np.nan, 2e6]
    bad[9, 9] = -9999.0
    raster("speed-raster/202601_speed_negative_inf.tif", bad, nodata=-9999.0)
    raster("speed-raster/202601_speed_no_crs.tif", plain, crs=None)
    raster("speed-raster/202601_speed_one_band.tif", plain)
    raster("speed-raster/202601_speed_truncated.tif", plain, cut=0.5)
    raster("speed-raster/speed_no_date.tif", plain)
    raster("speed-raster/202601_speed_no_premises.tif", plain)
    # around Paris: no premises in Wales falls on it
    raster("speed-raster/202601_speed_wgs84_elsewhere.tif", plain, crs="EPSG:4326",
           origin=(2.2, 48.9), cell=0.01)


def ookla_files() -> None:
    """Ookla open data tiles as published (Parquet: quadkey and tile as text, the rest int64)
    over the context authority (a box around Cardiff)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from etl.ookla import quadkey_of, tile_bounds

    def row(lon, lat, down, tests, devices, quadkey=None):
        quadkey = quadkey or quadkey_of(lon, lat)
        w, s, e, n = tile_bounds(quadkey_of(lon, lat))
        return {"quadkey": quadkey, "tile": f"POLYGON(({w} {s}, {e} {s}, {e} {n}, {w} {n}, {w} {s}))",
                "avg_d_kbps": down, "avg_u_kbps": 900, "avg_lat_ms": 20, "tests": tests,
                "devices": devices}

    schema = pa.schema([("quadkey", pa.string()), ("tile", pa.string()),
                        *((c, pa.int64()) for c in ("avg_d_kbps", "avg_u_kbps", "avg_lat_ms",
                                                    "tests", "devices"))])

    def parquet(rows, schema=schema) -> bytes:
        buffer = io.BytesIO()
        pq.write_table(pa.Table.from_pylist(rows, schema=schema), buffer)
        return buffer.getvalue()

    write("ookla/2025-10-01_performance_fixed_tiles_bad_rows.parquet", parquet([
        row(-3.18, 51.48, 12_000, 20, 5),
        row(-3.17, 51.48, 12_000, 20, 5, quadkey="03131313"),
        row(-2.59, 51.45, 12_000, 20, 5),  # Bristol
        row(-3.16, 51.48, -1, 20, 5),
        row(-3.15, 51.48, 12_000, 2, 5),
    ]))
    write("ookla/2025-10-01_performance_fixed_tiles_not_parquet.parquet",
          b"quadkey,tile\n0313131311,POLYGON\n")
    write("ookla/2025-10-01_performance_fixed_tiles_no_devices.parquet", parquet(
        [{k: v for k, v in row(-3.18, 51.48, 12_000, 20, 5).items() if k != "devices"}],
        pa.schema([f for f in schema if f.name != "devices"])))


if __name__ == "__main__":
    warnings.filterwarnings("ignore", "'crs' was not provided")  # on purpose, here
    csv_files()
    compressed_files()
    challenge_files()
    vector_files()
    raster_files()
    ookla_files()
