"""Ookla open data speed test tiles: the loader (Parquet and zipped Shapefile in the published
format, every row loaded, rejected or filtered, a re-run skipped, a killed load leaving nothing)
and what classification does with them (supporting evidence only), against hand-made truth.

The inputs are written here from hand-made rows with Ookla's column names and types (int64
kbit/s, the tile as WKT in EPSG:4326), over the demo authorities Ceredigion (W06000008) and
Merthyr Tydfil (W06000024).
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyproj import Transformer

from connectivity.classify import classify
from connectivity.errors import InputError
from connectivity.reasons import render, speedtest_figures
from connectivity.rules import load_rules
from etl import LOADERS, run_load
from etl.ookla import OoklaLoader, quadkey_of, tile_bounds
from etl.runs import list_rejects

ROOT = Path(__file__).resolve().parent.parent
LA = ROOT / "data" / "boundaries" / "wales_lad_2025_05_bgc.geojson.gz"
TO_BNG = Transformer.from_crs(4326, 27700, always_xy=True)

#: where each hand-made premises is (lon, lat): Aberystwyth (Ceredigion) and Merthyr Tydfil,
#: each in a tile of its own
PLACES = {
    101: (-4.0820, 52.4150), 102: (-4.0600, 52.4000), 103: (-4.0400, 52.3850),
    104: (-4.0200, 52.3700), 105: (-4.1000, 52.3500), 106: (-4.0700, 52.3300),
    107: (-3.3780, 51.7460),
}
BRISTOL = (-2.5900, 51.4500)  # outside Wales: filtered


def wkt(quadkey: str) -> str:
    w, s, e, n = tile_bounds(quadkey)
    return f"POLYGON(({w} {s}, {e} {s}, {e} {n}, {w} {n}, {w} {s}))"


def tile(place, down_kbps, up_kbps, lat_ms, tests, devices, *, quadkey=None, polygon="same"):
    quadkey = quadkey or quadkey_of(*place)
    return {"quadkey": quadkey, "tile": wkt(quadkey) if polygon == "same" else polygon,
            "avg_d_kbps": down_kbps, "avg_u_kbps": up_kbps, "avg_lat_ms": lat_ms,
            "tests": tests, "devices": devices, "avg_lat_down_ms": None, "avg_lat_up_ms": None}


def near(uprn: int, step: int) -> tuple[float, float]:
    """A place a few tiles east of premises ``uprn`` (a tile no premises is in)."""
    lon, lat = PLACES[uprn]
    return lon + 0.006 * step, lat


#: line -> (row, what becomes of it); line 1 is the first row (Parquet has no header)
ROWS = [
    (tile(PLACES[101], 4_100, 700, 31, 50, 10), "loaded"),
    (tile(PLACES[102], 150_000, 20_000, 9, 40, 8), "loaded"),
    (tile(PLACES[103], 20_000, 2_000, 15, 30, 6), "loaded"),
    (tile(PLACES[104], 4_000, 500, 40, 5, 2), "loaded"),  # too few tests to be shown
    (tile(PLACES[105], 4_000, 500, 40, 60, 12), "loaded"),
    (tile(PLACES[106], 4_000, 500, 40, 60, 12), "loaded"),
    (tile(PLACES[107], 120_000, 18_000, 12, 25, 5), "loaded"),
    (tile(near(101, 1), 1_000, 100, 20, 10, 3, quadkey="0313131"), "rejected"),
    (tile(BRISTOL, 50_000, 5_000, 20, 10, 3), "filtered"),
    (tile(near(101, 2), 1_000, 100, 20, 10, 3, polygon=wkt(quadkey_of(*near(101, 3)))),
     "rejected"),
    (tile(near(101, 4), -5, 100, 20, 10, 3), "rejected"),
    (tile(near(101, 5), 1_000, 100, 20, 0, 0), "rejected"),
    (tile(near(101, 6), 1_000, 100, 20, 3, 4), "rejected"),
    (tile(PLACES[101], 9_999, 100, 20, 10, 3), "rejected"),  # the same quadkey again
    (tile(near(107, 1), 2_000, 300, 25, 12, 4, polygon=None), "loaded"),  # rebuilt
]

SCHEMA = pa.schema([
    ("quadkey", pa.string()), ("tile", pa.string()), ("avg_d_kbps", pa.int64()),
    ("avg_u_kbps", pa.int64()), ("avg_lat_ms", pa.int64()), ("tests", pa.int64()),
    ("devices", pa.int64()), ("avg_lat_down_ms", pa.float64()), ("avg_lat_up_ms", pa.float64()),
])


def write_parquet(path: Path, rows: list[dict]) -> Path:
    pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMA), path)
    return path


@pytest.fixture()
def wales(settings):
    run_load(settings, LOADERS["boundaries"](), [LA], options={"level": "la"})
    return settings


def test_tiles_are_ookla_s(wales):
    # quadkey 0313 is the zoom-4 tile holding Wales
    assert quadkey_of(*PLACES[101]).startswith("0313")
    w, s, e, n = tile_bounds(quadkey_of(*PLACES[101]))
    assert w <= PLACES[101][0] < e and s <= PLACES[101][1] < n
    assert round(e - w, 9) == round(360 / 2**16, 9)


def test_parquet_rows_loaded_rejected_and_filtered(wales, db, tmp_path):
    path = write_parquet(tmp_path / "2025-10-01_performance_fixed_tiles.parquet",
                         [r for r, _ in ROWS])
    result = run_load(wales, OoklaLoader(), [path])
    assert (result.status, result.release) == ("succeeded", "2025-Q4")
    assert (result.rows_read, result.rows_loaded, result.rows_rejected, result.rows_filtered) == (
        15, 8, 6, 1)
    name = path.name
    q = {line: ROWS[line - 1][0]["quadkey"] for line in range(1, 16)}
    assert [(r["file"], r["line"], r["column"], r["value"], r["reason"])
            for r in list_rejects(db, result.run_id)] == [
        (name, 8, "quadkey", "0313131",
         "malformed quadkey: expected 16 digits 0-3 (a zoom-16 tile)"),
        (name, 10, "tile", ROWS[9][0]["tile"][:500],
         _disagree(q[10], quadkey_of(*near(101, 3)))),
        (name, 11, "avg_d_kbps", "-5", "negative speed"),
        (name, 12, "tests", "0", "tests must be at least 1"),
        (name, 13, "devices", "4 > 3", "more devices than tests (4 devices, 3 tests)"),
        (name, 14, "quadkey", q[1], f"duplicate quadkey: first seen in {name} line 1"),
    ]
    rows = db.execute("SELECT quadkey, avg_down, avg_up, avg_lat_ms, tests, devices, "
                      "round(ST_Area(geom)) FROM gapmap.ev_speedtest_tile ORDER BY quadkey").fetchall()
    assert sorted(r[0] for r in rows) == sorted(q[n] for n in (1, 2, 3, 4, 5, 6, 7, 15))
    by_key = {r[0]: r[1:6] for r in rows}
    assert by_key[q[1]] == (4.1, 0.7, 31.0, 50, 10)
    assert by_key[q[15]] == (2.0, 0.3, 25.0, 12, 4)
    # a zoom-16 tile at 52 degrees north is about 375 m square in British National Grid
    assert all(130_000 < r[6] < 150_000 for r in rows), rows
    # the premises point lies in its tile's polygon
    x, y = TO_BNG.transform(*PLACES[101])
    assert db.execute("SELECT ST_Contains(geom, ST_SetSRID(ST_MakePoint(%s, %s), 27700)) "
                      "FROM gapmap.ev_speedtest_tile WHERE quadkey = %s", (x, y, q[1])).fetchone()[0]

    again = run_load(wales, OoklaLoader(), [path])
    assert (again.status, again.run_id) == ("skipped", result.run_id)


def _disagree(quadkey: str, polygon_quadkey: str) -> str:
    w, s, e, n = tile_bounds(quadkey)
    pw, ps, pe, pn = tile_bounds(polygon_quadkey)
    return (f"the tile and the quadkey disagree: quadkey {quadkey} is the tile {w:.6f},{s:.6f} "
            f"to {e:.6f},{n:.6f}; the polygon spans {pw:.6f},{ps:.6f} to {pe:.6f},{pn:.6f}")


def test_zipped_shapefile(wales, db, tmp_path):
    import geopandas
    import shapely

    rows = [ROWS[0][0], ROWS[8][0], ROWS[6][0]]
    frame = geopandas.GeoDataFrame(
        {k: [r[k] for r in rows] for k in ("quadkey", "avg_d_kbps", "avg_u_kbps", "avg_lat_ms",
                                          "tests", "devices")},
        geometry=[shapely.from_wkt(r["tile"]) for r in rows], crs="EPSG:4326")
    folder = tmp_path / "shp"
    folder.mkdir()
    frame.to_file(folder / "gps_fixed_tiles.shp", engine="pyogrio")
    archive = tmp_path / "2025-10-01_performance_fixed_tiles.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for part in sorted(folder.iterdir()):
            z.write(part, part.name)
    result = run_load(wales, OoklaLoader(), [archive], release="2025-Q4")
    assert (result.rows_read, result.rows_loaded, result.rows_rejected, result.rows_filtered) == (
        3, 2, 0, 1)
    assert db.execute("SELECT count(*), sum(tests) FROM gapmap.ev_speedtest_tile").fetchone() == (
        2, 75)


def test_whole_file_problems_are_refused(wales, db, tmp_path):
    bad = tmp_path / "2025-10-01_performance_fixed_tiles.parquet"
    bad.write_bytes(b"not parquet at all")
    with pytest.raises(InputError, match="cannot read as Parquet"):
        run_load(wales, OoklaLoader(), [bad])
    table = pa.Table.from_pylist([{"quadkey": "0313", "avg_d_kbps": 1}])
    no_columns = tmp_path / "x.parquet"
    pq.write_table(table, no_columns)
    with pytest.raises(InputError, match="missing column"):
        run_load(wales, OoklaLoader(), [no_columns], release="2025-Q4")
    good = write_parquet(tmp_path / "y.parquet", [ROWS[0][0]])
    with pytest.raises(InputError, match="is not a quarter"):
        run_load(wales, OoklaLoader(), [good], release="2025-10")
    with pytest.raises(InputError, match="cannot tell which quarter"):
        run_load(wales, OoklaLoader(), [good])
    named = write_parquet(tmp_path / "2025-10-01_performance_fixed_tiles.parquet", [ROWS[0][0]])
    with pytest.raises(InputError, match="--release 2025-Q3 but the files carry 2025-Q4"):
        run_load(wales, OoklaLoader(), [named], release="2025-Q3")
    mobile = write_parquet(tmp_path / "2025-10-01_performance_mobile_tiles.parquet", [ROWS[0][0]])
    with pytest.raises(InputError, match="mobile"):
        run_load(wales, OoklaLoader(), [mobile])
    assert db.execute("SELECT count(*) FROM gapmap.ev_speedtest_tile").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM gapmap.release").fetchone()[0] == 0


def test_no_welsh_authorities_no_load(settings, tmp_path):
    good = write_parquet(tmp_path / "y.parquet", [ROWS[0][0]])
    with pytest.raises(InputError, match="no Welsh authority boundaries"):
        run_load(settings, OoklaLoader(), [good], release="2025-Q4")


_KILLER = """
import os, signal, sys
from pathlib import Path
import etl.ookla as ookla
from connectivity.settings import load_settings
from etl import run_load

def counts(*args, **kwargs):  # the tiles are published: die before the run is committed
    os.kill(os.getpid(), signal.SIGKILL)

ookla.Counts = counts
settings = load_settings({"database_url": sys.argv[1]}, environ={})
run_load(settings, ookla.OoklaLoader(), [Path(sys.argv[2])])
"""


def test_a_killed_load_leaves_nothing(wales, db, tmp_path):
    path = write_parquet(tmp_path / "2025-10-01_performance_fixed_tiles.parquet",
                         [r for r, _ in ROWS])

    def snapshot():
        return [db.execute(f"SELECT count(*) FROM gapmap.{t}").fetchone()[0]
                for t in ("ev_speedtest_tile", "release", "load_run", "reject")]

    before = snapshot()
    proc = subprocess.run([sys.executable, "-c", _KILLER, wales.database_url, str(path)],
                          capture_output=True, text=True, timeout=120, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == -9, proc.stderr
    for _ in range(200):  # the server notices the dead client and rolls back
        if not db.execute("SELECT 1 FROM pg_stat_activity WHERE application_name = "
                          "'connectivity load ookla'").fetchone():
            break
        import time
        time.sleep(0.05)
    assert snapshot() == before
    done = run_load(wales, OoklaLoader(), [path])
    assert (done.status, done.rows_loaded) == ("succeeded", 8)


# -- classification ------------------------------------------------------------------------------
#: uprn -> (prediction, expected status, speed test move, ABC reason, LBF reason, figures shown)
TRUTH = {
    101: ("postcode 50 %", "below", "below", "below_30_speedtests", "target_speedtests", True),
    102: ("postcode 50 %", "above", "above", "not_below_30_speedtests",
          "not_below_30_speedtests", True),
    103: ("postcode 50 %", "possibly_below", None, "possibly_below_30", "possible_target", True),
    104: ("postcode 50 %", "possibly_below", None, "possibly_below_30", "possible_target", False),
    105: ("Ofcom 50 Mbit/s", "above", None, "not_below_30", "not_below_30", True),
    106: ("nothing", "unknown", None, "no_evidence", "no_evidence", True),
    107: ("modelled 20 Mbit/s", "above", "above", "not_below_30_speedtests",
          "not_below_30_speedtests", True),
}


def _predictions(db) -> None:
    """Hand-made premises and their predictions (the evidence the tiles sit beside)."""
    run = db.execute("INSERT INTO gapmap.load_run (kind, status, fingerprint, started_at) "
                     "VALUES ('premises', 'succeeded', 'hand-made', now()) RETURNING id").fetchone()[0]
    release = {s: db.execute("INSERT INTO gapmap.release (source, label, run_id) VALUES "
                             "(%s, '2026-01', %s) RETURNING id", (s, run)).fetchone()[0]
               for s in ("ofcom-api", "ofcom-coverage", "speed-raster")}
    for uprn, (lon, lat) in PLACES.items():
        x, y = TO_BNG.transform(lon, lat)
        postcode = f"SY23 {uprn - 100}AA" if uprn <= 104 else None
        db.execute("INSERT INTO gapmap.premises (uprn, geom, postcode, run_id) VALUES "
                   "(%s, ST_SetSRID(ST_MakePoint(%s, %s), 27700), %s, %s)",
                   (uprn, x, y, postcode, run))
        if postcode:
            db.execute("INSERT INTO gapmap.ev_postcode_coverage (release_id, postcode, "
                       "unable_30_pct, unable_decent_pct) VALUES (%s, %s, 50, 0)",
                       (release["ofcom-coverage"], postcode))
    db.execute("INSERT INTO gapmap.ev_premises_speed (release_id, uprn, max_down, max_up) "
               "VALUES (%s, 105, 50, 10)", (release["ofcom-api"],))
    db.execute("INSERT INTO gapmap.ev_premises_speed (release_id, uprn, max_down) "
               "VALUES (%s, 107, 20)", (release["speed-raster"],))


def test_speed_tests_support_the_predictions(wales, db, tmp_path):
    _predictions(db)
    path = write_parquet(tmp_path / "2025-10-01_performance_fixed_tiles.parquet",
                         [r for r, _ in ROWS])
    run_load(wales, OoklaLoader(), [path])
    rules = load_rules()
    summary = classify(db, rules)
    assert summary["label"] == "2026-01"  # labelled by the predictions, not the tests' quarter
    assert summary["releases"]["ookla"] == "2025-Q4"
    cur = db.execute("SELECT * FROM gapmap.premises_class ORDER BY uprn")
    names = [d.name for d in cur.description]
    got = {r[0]: dict(zip(names, r, strict=True)) for r in cur.fetchall()}
    for uprn, (_, status, moved, abc, lbf, shown) in TRUTH.items():
        row = got[uprn]
        assert (row["status"], row["speedtest_moved"], row["abc_reason"], row["lbf_reason"],
                row["speedtest_down"] is not None) == (status, moved, abc, lbf, shown), uprn
    assert [got[101][k] for k in ("speedtest_down", "speedtest_up", "speedtest_latency_ms",
                                  "speedtest_tests", "speedtest_devices", "speedtest_release")] == [
        4.1, 0.7, 31.0, 50, 10, "2025-Q4"]
    # a premises moved by speed tests is settled as far as the figures go: 1 below, 0 above
    # (the statistics' expected count follows the status the same way)
    assert {u: got[u]["probability_below"] for u in (101, 102, 103, 107)} == {
        101: 1.0, 102: 0.0, 103: 0.5, 107: 0.0}
    assert db.execute("SELECT code, expected_below_30, below, possibly_below FROM "
                      "gapmap.area_stats WHERE level = 'la' ORDER BY code").fetchall() == [
        ("W06000008", 2.0, 1, 2), ("W06000024", 0.0, 0, 0)]
    assert (got[101]["eligible_abc"], got[102]["eligible_abc"], got[103]["eligible_abc"]) == (
        "eligible", "not_eligible", "possibly")
    assert got[104]["speedtest_release"] is None
    assert render("abc", "below_30_speedtests", "en", got[101], rules) == (
        "Eligible for Access Broadband Cymru: the prediction leaves it possibly unable to "
        "receive 30 Mbit/s (Ofcom postcode coverage, 2026-01), and speed tests in its tile "
        "average 4.1 Mbit/s download over 50 tests (Speedtest\u00ae by Ookla\u00ae, 2025-Q4, "
        "non-commercial), below 10 Mbit/s. Assumes no ABC funding in the last 48 months. "
        "A grant of up to \u00a3800 may apply.")
    assert render("lbf", "not_below_30_speedtests", "cy", got[107], rules) == (
        "Ddim yn darged y Gronfa Band Eang Lleol: efallai o dan 30 Mbit/s yn ôl y rhagfynegiad "
        "(arwyneb cyflymder wedi'i fodelu, 2026-01), ond mae profion cyflymder yn ei deilsen yn "
        "120.0 "
        "Mbit/s lawrlwytho ar gyfartaledd dros 25 prawf (Speedtest\u00ae gan Ookla\u00ae, "
        "2025-Q4, anfasnachol), o leiaf 100 Mbit/s.")
    assert speedtest_figures(got[105], "en") == (
        "Speed tests in this premises' tile (2025-Q4): on average 4.0 Mbit/s down and 0.5 Mbit/s "
        "up, latency 40 ms, 60 tests from 12 devices. Speedtest\u00ae by Ookla\u00ae Global Fixed "
        "and Mobile Network Performance Maps, CC BY-NC-SA 4.0: non-commercial use only.")
    assert speedtest_figures(got[105], "cy").endswith("at ddefnydd anfasnachol yn unig.")
    assert speedtest_figures(got[104], "en") is None
    # the API and the pages (connectivity.lookup) quote the same figures, never "?"
    from connectivity.lookup import premises_detail

    api = premises_detail(db, 101, "en")["schemes"]["abc"]
    assert api["reason_code"] == "below_30_speedtests"
    assert api["reason"] == render("abc", "below_30_speedtests", "en", got[101], rules)
    assert "speedtest_down" not in premises_detail(db, 101, "en")

    # the rules decide: no moves at all, or stricter minimums
    still = rules.replace("speedtests.move_below", False).replace("speedtests.move_above", False)
    classify(db, still, label="no moves")
    statuses = dict(db.execute("SELECT uprn, status FROM gapmap.premises_class "
                               "WHERE uprn IN (101, 102, 107)").fetchall())
    assert statuses == {101: "possibly_below", 102: "possibly_below", 107: "possibly_below"}
    classify(db, rules.replace("speedtests.min_devices", 11), label="eleven devices")
    shown = dict(db.execute("SELECT uprn, speedtest_tests FROM gapmap.premises_class").fetchall())
    assert shown == {101: None, 102: None, 103: None, 104: None, 105: 60, 106: 60, 107: None}


def test_quarters_compare_with_months(wales, db):
    from connectivity.classify import choose_releases

    run = db.execute("INSERT INTO gapmap.load_run (kind, status, fingerprint, started_at) "
                     "VALUES ('ookla', 'succeeded', 'x', now()) RETURNING id").fetchone()[0]
    for label in ("2025-Q4", "2026-Q1"):
        db.execute("INSERT INTO gapmap.release (source, label, run_id) VALUES ('ookla', %s, %s)",
                   (label, run))
    assert choose_releases(db, None)["ookla"][1] == "2026-Q1"
    assert choose_releases(db, "2026-03")["ookla"][1] == "2026-Q1"
    assert choose_releases(db, "2026-02")["ookla"][1] == "2025-Q4"
    assert choose_releases(db, "2025-Q4")["ookla"][1] == "2025-Q4"


def test_files_of_a_run_with_speed_tests_carry_ookla_s_licence(wales, db, tmp_path):
    import json

    from connectivity.outputs import CC_BY_NC_SA, OGL, export

    _predictions(db)
    run_load(wales, OoklaLoader(), [write_parquet(
        tmp_path / "2025-10-01_performance_fixed_tiles.parquet", [r for r, _ in ROWS])])
    classify(db, load_rules())
    out = tmp_path / "premises.csv"
    assert export(db, out, "csv") == 7
    meta = json.loads((tmp_path / "premises.csv-metadata.json").read_text(encoding="utf-8"))
    assert meta["dc:license"] == [{"@id": OGL}, {"@id": CC_BY_NC_SA}]
    assert meta["dc:rights"].endswith(
        "Speedtest\u00ae by Ookla\u00ae Global Fixed and Mobile Network Performance Maps, "
        "CC BY-NC-SA 4.0: non-commercial use only.")
    import csv

    with out.open(encoding="utf-8-sig", newline="") as fh:
        rows = {int(r["uprn"]): r for r in csv.DictReader(fh)}
    assert [rows[101][k] for k in ("speedtest_down", "speedtest_up", "speedtest_tests",
                                   "speedtest_release", "speedtest_moved",
                                   "probability_below")] == ["4.1", "0.7", "50", "2025-Q4",
                                                             "below", "1.0"]
    # a run without speed tests stays under the OGL alone
    db.execute("DELETE FROM gapmap.release WHERE source = 'ookla'")
    classify(db, load_rules(), label="no tests")
    export(db, out, "csv", run="no tests")
    meta = json.loads((tmp_path / "premises.csv-metadata.json").read_text(encoding="utf-8"))
    assert meta["dc:license"] == {"@id": OGL}
