"""Classification against the demo data's ground truth, statistics, change, exports, rules."""

from __future__ import annotations

import csv
import json
import re
from collections import defaultdict
from pathlib import Path

import psycopg
import pyogrio
import pytest

from connectivity.classify import classify
from connectivity.errors import BadRequest, ConfigError, NotFound
from connectivity.outputs import ATTRIBUTION, EXPORT_COLUMNS, diff, export, stats
from connectivity.reasons import ARGS, TEMPLATES, render
from connectivity.rules import load_rules
from connectivity.runs import list_runs
from connectivity.vocab import SCHEMES
from gapmap.demodata import GENERATOR_VERSION


@pytest.fixture(scope="module")
def conn(loaded_settings):
    with psycopg.connect(loaded_settings.conninfo, autocommit=True) as c:
        yield c


def truth(settings, release: str) -> dict[int, dict]:
    folder = settings.cache_dir / f"demo-data/small-seed2026-v{GENERATOR_VERSION}"
    with (folder / f"truth/truth_{release}.csv").open() as fh:
        return {int(r["uprn"]): r for r in csv.DictReader(fh)}


def classified(conn, run_id: int) -> dict[int, dict]:
    cur = conn.execute(f"SELECT * FROM gapmap.premises_class_{run_id}")
    names = [d.name for d in cur.description]
    return {r[0]: dict(zip(names, r, strict=True)) for r in cur.fetchall()}


def run_ids(conn) -> dict[str, int]:
    return {r["label"]: r["id"] for r in list_runs(conn)}


@pytest.mark.parametrize("release", ["2026-01", "2026-07"])
def test_premises_level_evidence_agrees_exactly_with_the_truth(loaded_settings, conn, release):
    facts = truth(loaded_settings, release)
    ours = classified(conn, run_ids(conn)[release])
    assert ours.keys() == facts.keys()
    api = [u for u, c in ours.items() if c["evidence"] == "ofcom-api"]
    assert len(api) == 12_419
    for u in api:
        c, t = ours[u], facts[u]
        assert c["status"] == ("below" if t["below_30"] == "true" else "above"), u
        assert c["best_down"] == pytest.approx(float(t["true_down_mbps"]))
        assert (c["eligible_abc"] == "eligible") == (t["eligible_abc"] == "true"), u
        assert (c["eligible_lbf"] == "eligible") == (t["eligible_lbf"] == "true"), u
        assert (c["eligible_uso"] == "eligible") == (t["eligible_uso"] == "true"), u
        assert c["planned_build"] == (t["planned_build"] == "true"), u
    for u, c in ours.items():
        if c["evidence"] == "bduk":  # BDUK says gigabit: settled above
            assert facts[u]["gigabit"] == "true" and c["status"] == "above"


@pytest.mark.parametrize("release", ["2026-01", "2026-07"])
def test_expected_counts_per_postcode_match_the_truth_within_rounding(loaded_settings, conn, release):
    facts = truth(loaded_settings, release)
    ours = classified(conn, run_ids(conn)[release])
    expected, actual, size = defaultdict(float), defaultdict(int), defaultdict(int)
    for u, c in ours.items():
        weight = {"below": 1.0, "above": 0.0}.get(c["status"], c["probability_below"] or 0.0)
        expected[c["postcode"]] += weight
        actual[c["postcode"]] += facts[u]["below_30"] == "true"
        size[c["postcode"]] += 1
    assert len(expected) == 4_707
    worst = max(abs(expected[pc] - actual[pc]) - 0.0001 * size[pc] for pc in expected)
    # Ofcom's percentages carry 2 decimals; probabilities are stored to 4
    assert worst < 0.01
    settled_wrong = [u for u, c in ours.items() if c["evidence"] == "postcode"
                     and c["status"] in ("below", "above")
                     and (c["status"] == "below") != (facts[u]["below_30"] == "true")]
    assert settled_wrong == []
    statuses = {c["status"] for c in ours.values()}
    assert statuses == {"below", "above", "possibly_below"}


def test_area_statistics(loaded_settings, conn):
    facts = truth(loaded_settings, "2026-07")
    las = {r["code"]: r for r in stats(conn, "la")}
    assert set(las) == {"W06000008", "W06000024"}
    assert sum(r["premises"] for r in las.values()) == 63_225
    for code, row in las.items():
        true_below = sum(1 for t in facts.values() if t["la_code"] == code and t["below_30"] == "true")
        assert abs(row["expected_below_30"] - true_below) < 0.01 * row["premises"] ** 0.5 + 1
        assert row["below"] + row["possibly_below"] + row["above"] + row["unknown"] == row["premises"]
        assert row["share_below"] == pytest.approx(row["expected_below_30"] / row["premises"], rel=1e-5)
        assert row["name_en"] in ("Ceredigion", "Merthyr Tydfil")
    ceredigion, merthyr = las["W06000008"], las["W06000024"]
    assert ceredigion["share_below"] > 5 * merthyr["share_below"]  # rural needs more help
    lsoas = stats(conn, "lsoa")
    assert all(r["wimd_rank"] is not None for r in lsoas) and len(lsoas) > 50
    assert {r["level"] for r in stats(conn, "hex", hex_size=2000)} == {"hex2000"}
    cells = conn.execute("SELECT count(*) FROM gapmap.hex_cell WHERE size = 2000").fetchone()[0]
    assert cells == len(stats(conn, "hex", hex_size=2000))
    assert sum(r["premises"] for r in stats(conn, "postcode")) == 63_225
    with pytest.raises(BadRequest, match="unknown level 'county'"):
        stats(conn, "county")


def test_current_views_and_runs(conn):
    runs = list_runs(conn)
    assert [(r["label"], r["is_current"], r["synthetic"]) for r in runs] == [
        ("2026-01", False, True), ("2026-07", True, True)]
    assert runs[1]["releases"] == {"bduk": "2026-07", "ofcom-api": "2026-07",
                                   "ofcom-coverage": "2026-07", "speed-raster": "2026-07"}
    current = conn.execute("SELECT count(*) FROM gapmap.premises_class").fetchone()[0]
    assert current == 63_225


def test_diff_lists_every_change(conn):
    ids = run_ids(conn)
    result = diff(conn, "2026-01", "2026-07", limit=5)
    a, b = classified(conn, ids["2026-01"]), classified(conn, ids["2026-07"])
    fields = ["status", "band", "eligible_abc", "eligible_lbf", "eligible_uso", "eligible_voucher"]
    changed = [u for u in a if [a[u][f] for f in fields] != [b[u][f] for f in fields]]
    assert result["premises_changed"] == len(changed) > 1000
    assert len(result["premises"]) == 5
    assert sum(t["premises"] for t in result["status_changes"]) == sum(
        a[u]["status"] != b[u]["status"] for u in a)
    by_area = {r["code"]: r for r in result["areas"]}
    assert by_area["W06000008"]["expected_below_30_after"] < by_area["W06000008"]["expected_below_30_before"]
    with pytest.raises(NotFound, match="no classification run labelled '2025-01'"):
        diff(conn, "2025-01", "2026-07")


def test_exports_reread_with_gdal(conn, tmp_path):
    path = tmp_path / "lbf.csv"
    rows = export(conn, path, "csv", scheme="lbf", areas=["W06000008"])
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw
    with path.open(encoding="utf-8-sig", newline="") as fh:
        data = list(csv.DictReader(fh))
    assert len(data) == rows > 100 and list(data[0]) == EXPORT_COLUMNS
    assert {r["eligible_lbf"] for r in data} <= {"eligible", "possibly"}
    assert {r["la_code"] for r in data} == {"W06000008"}
    # the attribution once, in the CSVW metadata beside the file, not on every row
    meta = json.loads((tmp_path / "lbf.csv-metadata.json").read_text(encoding="utf-8"))
    assert meta["url"] == "lbf.csv" and meta["dc:rights"] == ATTRIBUTION
    assert meta["dc:description"].startswith("SYNTHETIC DEMO DATA")
    assert [c["name"] for c in meta["tableSchema"]["columns"]] == EXPORT_COLUMNS
    assert b"Contains OS data" not in raw
    gpkg = tmp_path / "below.gpkg"
    n = export(conn, gpkg, "gpkg", statuses=["below"], lang="cy")
    frame = pyogrio.read_dataframe(gpkg, layer="premises")
    assert len(frame) == n and frame.crs.to_epsg() == 27700
    assert frame["abc_reason"].str.startswith("Yn gymwys ar gyfer Allwedd Band Eang Cymru").all()
    description = pyogrio.read_info(gpkg, layer="premises")["layer_metadata"]["DESCRIPTION"]
    assert description.startswith("SYNTHETIC DEMO DATA") and description.endswith(ATTRIBUTION)
    geojson = tmp_path / "below.geojson"
    export(conn, geojson, "geojson", statuses=["below"], areas=["W06000024"])
    frame = pyogrio.read_dataframe(geojson)
    assert frame.crs.to_epsg() == 4326 and (frame["status"] == "below").all()
    assert frame.geometry.y.between(51.6, 51.9).all()
    assert json.loads(geojson.read_text())["description"].endswith(ATTRIBUTION)


def test_export_failures_leave_no_file(conn, tmp_path):
    with pytest.raises(Exception, match="does not exist"):
        export(conn, tmp_path / "missing" / "x.csv", "csv")
    readonly = tmp_path / "ro"
    readonly.mkdir()
    readonly.chmod(0o500)
    try:
        import os
        if os.geteuid() != 0:  # root may write anywhere
            with pytest.raises(Exception, match="not writable"):
                export(conn, readonly / "x.csv", "csv")
    finally:
        readonly.chmod(0o700)
    with pytest.raises(BadRequest, match="unknown status"):
        export(conn, tmp_path / "x.csv", "csv", statuses=["maybe"])
    assert list(tmp_path.rglob("*.csv")) == []


def test_reasons_exist_in_both_languages_with_matching_placeholders():
    for (scheme, code), (args, en, cy) in TEMPLATES.items():
        assert scheme in SCHEMES and set(args) <= set(ARGS)
        for text in (en, cy):
            assert len(re.findall(r"%s", text)) == len(args), (scheme, code)
        assert en != cy
    row = {"best_down": 6.5, "best_up": 0.8, "evidence": "ofcom-api", "evidence_release": "2026-01"}
    assert render("abc", "below_30", "en", row, load_rules()) == (
        "Eligible for Access Broadband Cymru: best download 6.5 Mbit/s, below 30 Mbit/s "
        "(Ofcom premises prediction, 2026-01). Assumes no ABC funding in the last 48 months. "
        "A grant of up to £800 may apply.")
    assert render("uso", "below_uso", "cy", row, load_rules()).startswith(
        "Gall ofyn am gysylltiad dan y Rhwymedigaeth Gwasanaeth Cyffredinol: o dan 10 Mbit/s i lawr "
        "neu 1 Mbit/s i fyny (6.5 i lawr, 0.8 i fyny; rhagfynegiad safle Ofcom)")


def test_rules_file_is_checked_and_used(settings, db, tmp_path):
    from etl import run_load
    from etl.ofcom import OfcomApiLoader
    from etl.os_open_uprn import UprnLoader

    uprn = tmp_path / "u.csv"
    uprn.write_text("UPRN,X_COORDINATE,Y_COORDINATE,LATITUDE,LONGITUDE\n1,318284,176230,,\n")
    run_load(settings, UprnLoader(), [uprn])
    api = tmp_path / "api_202601.jsonl"
    api.write_text('{"PostCode":"CF101AA","Availability":[{"UPRN":1,"MaxPredictedDown":25,'
                   '"MaxPredictedUp":5}]}\n')
    run_load(settings, OfcomApiLoader(), [api])
    rules = load_rules()
    first = classify(db, rules, label="default")
    assert first["status"] == {"below": 1}
    rules = rules.replace("thresholds.superfast_down", 24.0)  # the UK Government's old line
    second = classify(db, rules, label="old-line")
    assert second["status"] == {"above": 1}
    with pytest.raises(BadRequest, match="labelled 'old-line' exists already"):
        classify(db, rules, label="old-line")
    bad = tmp_path / "rules.toml"
    bad.write_text('version = "x"\n[thresholds]\nsuperfast_down = 30\n')
    with pytest.raises(ConfigError, match="uso_down is missing"):
        load_rules(Path(bad))


def test_classify_needs_premises(settings, db):
    with pytest.raises(BadRequest, match="no premises are loaded"):
        classify(db, load_rules())


def test_cli_classify_stats_diff_export(loaded_settings, tmp_path):
    import json

    from click.testing import CliRunner

    from gapmap.cli import main

    def run(*args):
        result = CliRunner().invoke(main, ["--database-url", loaded_settings.database_url, *args])
        assert result.exit_code == 0, result.output
        return result.output

    runs = json.loads(run("classify", "--list", "--json"))
    assert [r["label"] for r in runs] == ["2026-01", "2026-07"]
    las = json.loads(run("stats", "--level", "la", "--json"))
    assert [r["code"] for r in las] == ["W06000008", "W06000024"]
    table = run("stats", "--level", "la")
    assert table.splitlines()[1].startswith("W06000008    Ceredigion")
    changes = json.loads(run("diff", "--from", "2026-01", "--to", "2026-07", "--json", "--limit", "3"))
    assert changes["premises_changed"] > 1000 and len(changes["premises"]) == 3
    out = tmp_path / "abc.csv"
    written = json.loads(run("export", "--format", "csv", "-o", str(out), "--scheme", "abc",
                             "--status", "below", "--json"))
    assert written["rows"] > 0 and out.exists()
    bad = CliRunner().invoke(main, ["--database-url", loaded_settings.database_url, "stats",
                                    "--level", "hex", "--hex-size", "123"])
    assert bad.exit_code == 2 and "hexagon size 123 is not kept" in bad.output


def test_area_membership_is_reused_until_premises_or_boundaries_load(settings, db, tmp_path):
    from connectivity.classify import _membership
    from etl import run_load
    from etl.os_open_uprn import UprnLoader

    path = tmp_path / "u.csv"
    path.write_text("UPRN,X_COORDINATE,Y_COORDINATE,LATITUDE,LONGITUDE\n1,318284,176230,,\n")
    run_load(settings, UprnLoader(), [path])
    with db.transaction():
        assert _membership(db) is True
    with db.transaction():
        assert _membership(db) is False
    path.write_text("UPRN,X_COORDINATE,Y_COORDINATE,LATITUDE,LONGITUDE\n2,318300,176230,,\n")
    run_load(settings, UprnLoader(), [path])
    with db.transaction():
        assert _membership(db) is True
    assert db.execute("SELECT level, uprn FROM gapmap.premises_area WHERE level = 'hex500' "
                      "ORDER BY uprn").fetchall() == [("hex500", 1), ("hex500", 2)]


def test_hexagon_cells_are_those_of_st_hexagongrid(settings, db):
    """Hexagon cells are worked out by arithmetic: they must be ST_HexagonGrid's, also for
    premises exactly on a corner or an edge (the lowest i, then j, as the spatial join chose)."""
    from connectivity.classify import HEX_SIZES, _membership

    run = db.execute("INSERT INTO gapmap.load_run (kind, status, fingerprint, started_at) "
                     "VALUES ('uprn', 'succeeded', 'x', now()) RETURNING id").fetchone()[0]
    # corners and edge midpoints of every cell of each grid around (300000, 250000), and
    # points scattered over the same square
    db.execute(
        """INSERT INTO gapmap.premises (uprn, geom, run_id)
           SELECT row_number() OVER (), geom, %s FROM (
               SELECT DISTINCT ST_AsEWKB(pt) AS key, pt AS geom FROM (
                   SELECT (ST_DumpPoints(h.geom)).geom AS pt
                   FROM unnest(%s::int[]) AS s (size),
                        ST_HexagonGrid(s.size, ST_MakeEnvelope(297000, 247000, 303000, 253000, 27700)) h
                   UNION ALL
                   SELECT ST_LineInterpolatePoint(ST_MakeLine(a.geom, b.geom), 0.5)
                   FROM unnest(%s::int[]) AS s (size),
                        ST_HexagonGrid(s.size, ST_MakeEnvelope(297000, 247000, 303000, 253000, 27700)) h,
                        ST_DumpPoints(h.geom) a, ST_DumpPoints(h.geom) b
                   WHERE b.path[2] = a.path[2] + 1
                   UNION ALL
                   SELECT ST_SetSRID(ST_MakePoint(297000 + 6000 * random(), 247000 + 6000 * random()), 27700)
                   FROM generate_series(1, 2000)) p) d""",
        (run, list(HEX_SIZES), list(HEX_SIZES)))
    with db.transaction():
        assert _membership(db) is True
    for size in HEX_SIZES:
        expected = db.execute(
            f"""SELECT DISTINCT ON (p.uprn) p.uprn, h.i, h.j
                FROM (SELECT ST_Extent(geom)::geometry AS e FROM gapmap.premises) x,
                     LATERAL ST_HexagonGrid({size}, ST_SetSRID(x.e, 27700)) h
                JOIN gapmap.premises p ON ST_Intersects(h.geom, p.geom)
                ORDER BY p.uprn, h.i, h.j""").fetchall()
        actual = db.execute(f"SELECT uprn, hex{size}_i, hex{size}_j FROM gapmap.premises_place "
                            "ORDER BY uprn").fetchall()
        assert len(actual) > 2500 and actual == expected, size
    # the outlines kept for the map are ST_HexagonGrid's cells, vertex for vertex
    assert db.execute(
        """SELECT bool_and(ST_AsBinary(ST_Hexagon(500, h.i, h.j, 'SRID=27700;POINT(0 0)'::geometry))
                           = ST_AsBinary(h.geom))
           FROM ST_HexagonGrid(500, ST_MakeEnvelope(297000, 247000, 303000, 253000, 27700)) h"""
    ).fetchone()[0] is True


def test_area_membership_is_spatial_with_the_lowest_code_on_a_shared_edge(settings, db):
    """Boundaries are cut into pieces when they are loaded (and again when one is replaced);
    a premises on the line between two areas goes to the lower code, one outside every area
    of a level to none."""
    from connectivity.classify import _membership

    run = db.execute("INSERT INTO gapmap.load_run (kind, status, fingerprint, started_at) "
                     "VALUES ('boundaries', 'succeeded', 'x', now()) RETURNING id").fetchone()[0]
    db.execute(
        """INSERT INTO gapmap.area (level, code, name_en, run_id, geom) VALUES
           ('la', 'W06000002', 'East', %(run)s,
            ST_Multi(ST_MakeEnvelope(301000, 250000, 302000, 251000, 27700))),
           ('la', 'W06000001', 'West', %(run)s,
            ST_Multi(ST_MakeEnvelope(300000, 250000, 301000, 251000, 27700))),
           ('ward', 'W05000001', 'Big', %(run)s,
            ST_Multi(ST_Buffer(ST_SetSRID(ST_MakePoint(301000, 250500), 27700), 900, 64)))""",
        {"run": run})
    pieces = db.execute("SELECT code, count(*) FROM gapmap.area_part GROUP BY 1").fetchall()
    assert dict(pieces) == {"W06000001": 1, "W06000002": 1, "W05000001": 8}  # 257 vertices
    db.execute(
        """INSERT INTO gapmap.premises (uprn, geom, run_id) VALUES
           (1, ST_SetSRID(ST_MakePoint(300500, 250500), 27700), %(run)s),
           (2, ST_SetSRID(ST_MakePoint(301000, 250500), 27700), %(run)s),
           (3, ST_SetSRID(ST_MakePoint(301500, 250500), 27700), %(run)s),
           (4, ST_SetSRID(ST_MakePoint(303000, 250500), 27700), %(run)s)""", {"run": run})
    with db.transaction():
        assert _membership(db) is True
    assert db.execute("SELECT uprn, la, ward FROM gapmap.premises_place ORDER BY uprn").fetchall() == [
        (1, "W06000001", "W05000001"), (2, "W06000001", "W05000001"),
        (3, "W06000002", "W05000001"), (4, None, None)]
    db.execute("UPDATE gapmap.area SET geom = ST_Multi(ST_MakeEnvelope(301000, 250000, 304000, "
               "251000, 27700)) WHERE code = 'W06000002'")
    db.execute("DELETE FROM gapmap.area WHERE code = 'W05000001'")
    assert db.execute("SELECT code, ST_XMax(ST_Extent(geom)) FROM gapmap.area_part GROUP BY code "
                      "ORDER BY code").fetchall() == [("W06000001", 301000), ("W06000002", 304000)]
