"""Publishing: the release folder's files read back (CSV, GeoPackage, CSVW, DCAT with sizes and
SHA-256), atomic publication, the Atom feeds in both languages, downloads with range requests,
and the static tile archive compared feature by feature with the dynamic tiles."""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path

import mapbox_vector_tile
import psycopg
import pyogrio
import pytest
from click.testing import CliRunner

from connectivity import publishing
from connectivity.datadict import PREMISES, STATISTICS
from connectivity.feeds import feed
from connectivity.outputs import DIFF_COLUMNS, EXPORT_COLUMNS, diff, stats
from gapmap.cli import main
from tests.conftest import TEST_SECRET, app_for

CEREDIGION, MERTHYR = "W06000008", "W06000024"
ATOM = "{http://www.w3.org/2005/Atom}"
WALES_LEVELS = ["la", "ward", "lsoa", "msoa", "constituency", "postcode", "hex500", "hex2000",
                "hex8000"]
LA_LEVELS = ["la", "ward", "lsoa", "msoa", "constituency", "postcode"]


def read_csv(path: Path) -> tuple[list[str], list[dict]]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames), list(reader)


@pytest.fixture(scope="module")
def authorities(loaded_settings) -> list[str]:
    with psycopg.connect(loaded_settings.conninfo) as conn:
        return [c for (c,) in conn.execute("SELECT code FROM gapmap.area WHERE level = 'la' "
                                           "ORDER BY code")]


@pytest.fixture(scope="module")
def published(loaded_settings, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("pub") / "open-data"
    result = CliRunner().invoke(main, ["--database-url", loaded_settings.conninfo, "publish",
                                       "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["release"] == "2026-07" and summary["previous"] == "2026-01"
    assert summary["releases_in_catalog"] == 1
    assert "premises of Wales (1/23)" in result.stderr
    return out


def test_the_release_folder_holds_exactly_the_files_for_wales_and_each_authority(
        published, authorities):
    assert sorted(p.name for p in published.iterdir()) == ["2026-07", "catalog.jsonld"]
    assert not [p for p in published.parent.iterdir() if p.name.startswith(".")]
    expected = {"catalog.jsonld"}
    for part, levels in [("wales", WALES_LEVELS)] + [(c, LA_LEVELS) for c in authorities]:
        csvs = [f"premises-{part}.csv", f"changes-{part}.csv",
                *(f"statistics-{part}-{lv}.csv" for lv in levels)]
        expected |= {*csvs, *(f"{c}-metadata.json" for c in csvs), f"premises-{part}.gpkg"}
    assert {p.name for p in (published / "2026-07").iterdir()} == expected


def test_premises_files_read_back_with_their_rows(published, loaded_settings):
    folder = published / "2026-07"
    header, rows = read_csv(folder / "premises-wales.csv")
    assert header == EXPORT_COLUMNS and len(rows) == 63225
    assert {r["classification"] for r in rows} == {"2026-07"}
    assert all("@" not in r["supplier"] for r in rows)  # no contact details of anyone
    _, cere = read_csv(folder / "premises-W06000008.csv")
    _, merthyr = read_csv(folder / "premises-W06000024.csv")
    assert len(cere) == 34623 and len(merthyr) == 63225 - 34623
    assert {r["la_code"] for r in cere} == {CEREDIGION}
    assert read_csv(folder / "premises-W06000015.csv")[1] == []  # Cardiff: no premises loaded
    frame = pyogrio.read_dataframe(folder / "premises-W06000008.gpkg")
    assert len(frame) == 34623 and frame.crs.to_epsg() == 27700
    assert list(frame.columns) == [*EXPORT_COLUMNS, "geometry"]
    assert sorted(frame["uprn"].astype(str)) == sorted(r["uprn"] for r in cere)
    with sqlite3.connect(folder / "premises-wales.gpkg") as db:
        assert db.execute("PRAGMA application_id").fetchone()[0] == 0x47504B47  # "GPKG"
        assert db.execute("PRAGMA user_version").fetchone()[0] == 10300  # version 1.3


def test_statistics_and_changes_files_hold_what_stats_and_diff_say(published, loaded_settings):
    folder = published / "2026-07"
    with psycopg.connect(loaded_settings.conninfo, autocommit=True) as conn:
        ward = stats(conn, "ward")
        hexes = stats(conn, "hex", hex_size=2000)
        changed = diff(conn, "2026-01", "2026-07", limit=None)
        cere_wards = {c for (c,) in conn.execute(
            "SELECT DISTINCT ward FROM gapmap.premises_place WHERE la = %s AND ward IS NOT NULL",
            (CEREDIGION,))}
    header, rows = read_csv(folder / "statistics-wales-ward.csv")
    assert header == list(STATISTICS)
    assert [r["code"] for r in rows] == [r["code"] for r in ward]
    assert [int(r["below"]) for r in rows] == [r["below"] for r in ward]
    assert len(read_csv(folder / "statistics-wales-hex2000.csv")[1]) == len(hexes)
    _, cere = read_csv(folder / "statistics-W06000008-ward.csv")
    assert {r["code"] for r in cere} == cere_wards and cere_wards
    _, la = read_csv(folder / "statistics-W06000008-la.csv")
    assert [r["code"] for r in la] == [CEREDIGION] and int(la[0]["premises"]) == 34623
    header, rows = read_csv(folder / "changes-wales.csv")
    assert header == DIFF_COLUMNS and len(rows) == changed["premises_changed"] > 0
    assert [int(r["uprn"]) for r in rows[:20]] == [p["uprn"] for p in changed["premises"][:20]]
    _, cere_changes = read_csv(folder / "changes-W06000008.csv")
    _, merthyr_changes = read_csv(folder / "changes-W06000024.csv")
    assert len(cere_changes) + len(merthyr_changes) == len(rows)


def test_each_csv_has_csvw_metadata_in_english_and_welsh(published):
    folder = published / "2026-07"
    for path in sorted(folder.glob("*.csv")):
        meta = json.loads((folder / f"{path.name}-metadata.json").read_text())
        assert set(meta) == {"@context", "url", "dc:title", "dc:description", "dc:license",
                             "dc:rights", "dc:publisher", "dialect", "tableSchema"}
        assert meta["@context"] == ["http://www.w3.org/ns/csvw", {"@language": "en"}]
        assert meta["url"] == path.name
        assert [t["@language"] for t in meta["dc:title"]] == ["en", "cy"]
        assert meta["dc:license"] == {"@id": publishing.OGL}
        header, _ = read_csv(path)
        columns = meta["tableSchema"]["columns"]
        assert [c["name"] for c in columns] == header
        for column in columns:
            assert set(column) <= {"name", "titles", "dc:description", "datatype", "required",
                                   "schema:unitText"}
            assert set(column["titles"]) == {"en", "cy"} and all(column["titles"].values())
            assert [d["@language"] for d in column["dc:description"]] == ["en", "cy"]
    meta = json.loads((folder / "premises-wales.csv-metadata.json").read_text())
    columns = {c["name"]: c for c in meta["tableSchema"]["columns"]}
    assert columns["best_down_mbps"]["schema:unitText"] == "Mbit/s"
    assert columns["best_down_mbps"]["datatype"] == "double"
    assert columns["uprn"] == PREMISES["uprn"].csvw() and columns["uprn"]["required"] is True
    assert columns["planned_build"]["datatype"] == {"base": "boolean", "format": "true|false"}
    assert columns["eligible_abc"]["titles"] == {"en": "Access Broadband Cymru",
                                                 "cy": "Allwedd Band Eang Cymru"}
    assert "below (O dan 30 Mbit/s)" in columns["status"]["dc:description"][1]["@value"]
    assert meta["tableSchema"]["primaryKey"] == "uprn"


def test_the_dcat_catalogue_lists_every_file_with_size_checksum_licence_and_releases(published):
    folder = published / "2026-07"
    catalog = json.loads((folder / "catalog.jsonld").read_text())
    assert set(catalog) == {"@context", "@type", "dct:title", "dct:description",
                            "dct:publisher", "dct:language", "dct:license", "dct:rights",
                            "dct:modified", "dcat:dataset"}
    assert catalog["@type"] == "dcat:Catalog"
    assert catalog["@context"]["dcat"] == "http://www.w3.org/ns/dcat#"
    listed = []
    for ds in catalog["dcat:dataset"]:
        assert set(ds) == {"@id", "@type", "dct:identifier", "dct:title", "dct:description",
                           "dcat:version", "dct:issued", "dct:spatial", "dct:source",
                           "dct:license", "dct:rights", "dcat:distribution"}
        assert ds["@type"] == "dcat:Dataset" and ds["dcat:version"] == "2026-07"
        assert ds["dct:rights"]["rdfs:label"] == publishing.ATTRIBUTION
        assert {s["dct:title"]: s["dct:issued"]["@value"] for s in ds["dct:source"]} == {
            "bduk 2026-07": "2026-07-01", "ofcom-api 2026-07": "2026-07-01",
            "ofcom-coverage 2026-07": "2026-07-01", "speed-raster 2026-07": "2026-07-01"}
        for dist in ds["dcat:distribution"]:
            assert set(dist) >= {"@type", "dct:title", "dcat:downloadURL", "dcat:mediaType",
                                 "dcat:byteSize", "spdx:checksum", "dct:license", "dct:rights",
                                 "dct:issued"}
            path = folder / dist["dcat:downloadURL"]["@id"]
            data = path.read_bytes()
            assert dist["dcat:byteSize"] == {"@value": str(len(data)),
                                             "@type": "xsd:nonNegativeInteger"}
            assert dist["spdx:checksum"]["spdx:checksumValue"] == hashlib.sha256(data).hexdigest()
            assert dist["spdx:checksum"]["spdx:algorithm"] == {"@id": "spdx:checksumAlgorithm_sha256"}
            assert dist["dct:license"] == {"@id": publishing.OGL}
            listed.append(path.name)
    assert sorted(listed) == sorted(p.name for p in folder.iterdir() if p.name != "catalog.jsonld")
    wales = next(d for d in catalog["dcat:dataset"] if d["@id"] == "#premises-wales")
    assert wales["dct:title"][1] == {"@value": "Safleoedd, Cymru, dosbarthiad 2026-07",
                                     "@language": "cy"}
    assert wales["dct:spatial"]["@id"].endswith("/W92000004")
    assert [d["dcat:mediaType"]["@id"].rsplit("/", 2)[-2:] for d in wales["dcat:distribution"]] \
        == [["text", "csv"], ["application", "geopackage+sqlite3"], ["application", "csvm+json"]]


def test_an_earlier_release_is_published_beside_and_the_top_catalogue_lists_both(
        published, loaded_settings):
    before = (published / "2026-07" / "catalog.jsonld").read_bytes()
    with psycopg.connect(loaded_settings.conninfo, autocommit=True) as conn:
        summary = publishing.publish(conn, published, run="2026-01")
        with pytest.raises(publishing.BadRequest, match="is published already"):
            publishing.publish(conn, published, run="2026-01")
    assert summary["previous"] is None and summary["releases_in_catalog"] == 2
    assert not list((published / "2026-01").glob("changes-*"))  # nothing to compare it with
    assert (published / "2026-07" / "catalog.jsonld").read_bytes() == before
    top = json.loads((published / "catalog.jsonld").read_text())
    assert [c["@id"] for c in top["dcat:catalog"]] == ["2026-01/catalog.jsonld",
                                                       "2026-07/catalog.jsonld"]
    urls = [d["dcat:downloadURL"]["@id"] for ds in top["dcat:dataset"]
            for d in ds["dcat:distribution"]]
    assert "2026-01/premises-wales.csv" in urls and "2026-07/changes-wales.csv" in urls
    for url in urls:
        assert (published / url).is_file()


def test_a_failure_half_way_leaves_no_partial_release(loaded_settings, tmp_path, monkeypatch):
    out = tmp_path / "site"
    calls = []

    def failing_export(*args, **kwargs):
        calls.append(args[1])
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return real(*args, **kwargs)

    real = publishing.export
    monkeypatch.setattr(publishing, "export", failing_export)
    with psycopg.connect(loaded_settings.conninfo, autocommit=True) as conn, \
            pytest.raises(OSError):
        publishing.publish(conn, out)
    assert len(calls) == 3
    assert [p.name for p in out.iterdir()] == []
    assert [p.name for p in tmp_path.iterdir()] == ["site"]  # no temporary folder left beside


def test_publish_command_usage_and_not_found(loaded_settings, tmp_path):
    runner = CliRunner()
    url = loaded_settings.conninfo
    result = runner.invoke(main, ["--database-url", url, "publish"])
    assert result.exit_code == 2 and "--out" in result.output
    result = runner.invoke(main, ["--database-url", url, "publish", "--out", str(tmp_path / "x"),
                                  "--run", "1999-01"])
    assert result.exit_code == 7 and "no classification run labelled '1999-01'" in result.output
    result = runner.invoke(main, ["--database-url", url, "publish", "tiles", "--out",
                                  str(tmp_path / "m.pmtiles"), "--area", "W99999999"])
    assert result.exit_code == 7 and "no area with code 'W99999999'" in result.output


# -- Atom ------------------------------------------------------------------------------------
def _run_counts(conninfo: str, code: str | None) -> list[dict]:
    where = "level = 'la'" if code is None else "code = %(c)s"
    with psycopg.connect(conninfo) as conn:
        out = []
        for rid, label in conn.execute("SELECT id, label FROM gapmap.classification_run "
                                       "ORDER BY id").fetchall():
            out.append(dict(zip(("label", "below", "abc", "lbf", "planned"), (label, *conn.execute(
                f"""SELECT sum(below), sum(abc_eligible + abc_possibly),
                           sum(lbf_eligible + lbf_possibly), sum(planned_build)
                    FROM gapmap.area_stats_{rid} WHERE {where}""", {"c": code}).fetchone()),
                strict=True)))
        return out


@pytest.mark.parametrize("code", [CEREDIGION, None])
def test_atom_feeds_have_one_entry_per_run_in_both_languages(loaded_settings, code):
    counts = _run_counts(loaded_settings.conninfo, code)
    first, second = counts
    with psycopg.connect(loaded_settings.conninfo) as conn:
        en, cy = (ET.fromstring(feed(conn, code, lang, "http://example.org/"))
                  for lang in ("en", "cy"))
    assert en.tag == f"{ATOM}feed" and en.get("{http://www.w3.org/XML/1998/namespace}lang") == "en"
    name_en, name_cy = ("Ceredigion", "Ceredigion") if code else ("Wales", "Cymru")
    assert en.findtext(f"{ATOM}title") == f"Broadband gap map: changes in {name_en}"
    assert cy.findtext(f"{ATOM}title") == f"Map bylchau band eang: newidiadau yn {name_cy}"
    slug = code or "wales"
    assert en.find(f"{ATOM}link[@rel='self']").get("href") == f"http://example.org/feeds/{slug}.atom"
    assert cy.find(f"{ATOM}link[@rel='self']").get("href") == \
        f"http://example.org/feeds/{slug}.atom?lang=cy"
    for root in (en, cy):
        assert root.findtext(f"{ATOM}id").startswith("urn:uuid:")
        assert root.findtext(f"{ATOM}author/{ATOM}name")
    entries = en.findall(f"{ATOM}entry")
    assert [e.findtext(f"{ATOM}title") for e in entries] == [
        f"Classification 2026-07: Below 30 Mbit/s {second['below']:,} "
        f"({second['below'] - first['below']:+,})",
        f"Classification 2026-01: Below 30 Mbit/s {first['below']:,}"]

    def change(key):
        delta = second[key] - first[key]
        return f" ({delta:+,})" if delta else " (0)"
    assert entries[0].findtext(f"{ATOM}summary").split("\n") == [
        "since 2026-01.",
        f"Below 30 Mbit/s: {second['below']:,}{change('below')}",
        f"Access Broadband Cymru: {second['abc']:,}{change('abc')}",
        f"Local Broadband Fund: {second['lbf']:,}{change('lbf')}",
        f"Planned build: {second['planned']:,}{change('planned')}"]
    assert entries[0].find(f"{ATOM}link").get("href") == \
        "http://example.org/api/v1/diff?from=2026-01&to=2026-07"
    assert entries[1].findtext(f"{ATOM}summary").split("\n")[0] == "first classification."
    cy_entries = cy.findall(f"{ATOM}entry")
    assert [e.findtext(f"{ATOM}title") for e in cy_entries][1] == \
        f"Dosbarthiad 2026-01: O dan 30 Mbit/s {first['below']:,}"
    assert cy_entries[0].findtext(f"{ATOM}summary").split("\n")[:3] == [
        "ers 2026-01.", f"O dan 30 Mbit/s: {second['below']:,}{change('below')}",
        f"Allwedd Band Eang Cymru: {second['abc']:,}{change('abc')}"]
    assert len({e.findtext(f"{ATOM}id") for e in entries}) == 2
    assert entries[0].findtext(f"{ATOM}updated").endswith("Z")


def test_feed_routes_and_downloads_with_ranges(loaded_settings, published, client):
    response = client.get(f"/feeds/{CEREDIGION}.atom?lang=cy")
    assert response.status_code == 200 and response.mimetype == "application/atom+xml"
    root = ET.fromstring(response.data)
    assert root.findtext(f"{ATOM}title") == "Map bylchau band eang: newidiadau yn Ceredigion"
    assert len(ET.fromstring(client.get("/feeds/wales.atom").data).findall(f"{ATOM}entry")) == 2
    assert client.get("/feeds/W99999999.atom").status_code == 404
    assert client.get("/data/catalog.jsonld").status_code == 404  # publish_dir unset

    settings = loaded_settings.replace(publish_dir=published, secret_key=TEST_SECRET)
    with app_for(settings) as app:
        web = app.test_client()
        top = web.get("/data/catalog.jsonld")
        assert top.status_code == 200 and top.mimetype == "application/ld+json"
        assert top.get_json(force=True) == json.loads((published / "catalog.jsonld").read_text())
        path = published / "2026-07" / "premises-wales.csv"
        data = path.read_bytes()
        whole = web.get("/data/2026-07/premises-wales.csv")
        assert whole.status_code == 200 and whole.mimetype == "text/csv"
        assert whole.data == data and whole.headers["Accept-Ranges"] == "bytes"
        part = web.get("/data/2026-07/premises-wales.csv", headers={"Range": "bytes=100-199"})
        assert part.status_code == 206 and part.data == data[100:200]
        assert part.headers["Content-Range"] == f"bytes 100-199/{len(data)}"
        again = web.get("/data/2026-07/premises-wales.csv",
                        headers={"If-None-Match": whole.headers["ETag"]})
        assert again.status_code == 304
        for name, mimetype in [("premises-wales.gpkg", "application/geopackage+sqlite3"),
                               ("premises-wales.csv-metadata.json", "application/csvm+json"),
                               ("catalog.jsonld", "application/ld+json")]:
            response = web.get(f"/data/2026-07/{name}")
            assert response.status_code == 200 and response.mimetype == mimetype, name
        assert web.get("/data/2026-07/nothing.csv").status_code == 404
        assert web.get("/data/1999-01/premises-wales.csv").status_code == 404
        assert web.get("/data/2026-07/../catalog.jsonld").status_code == 404


# -- the tile archive ------------------------------------------------------------------------
def _features(tile: bytes) -> dict[str, list]:
    decoded = mapbox_vector_tile.decode(tile) if tile else {}
    return {name: sorted(([f["properties"], f["geometry"]] for f in layer["features"]),
                         key=lambda f: json.dumps(f, sort_keys=True))
            for name, layer in decoded.items()}


@pytest.fixture(scope="module")
def archive(loaded_settings, tmp_path_factory):
    with psycopg.connect(loaded_settings.conninfo) as conn:
        ward = conn.execute(
            """SELECT m.ward FROM gapmap.premises_place m JOIN gapmap.area a
                 ON a.level = 'ward' AND a.code = m.ward
               WHERE m.la = %s GROUP BY m.ward, a.geom
               ORDER BY ST_Area(a.geom) LIMIT 1""", (MERTHYR,)).fetchone()[0]
    out = tmp_path_factory.mktemp("tiles") / "map.pmtiles"
    result = CliRunner().invoke(main, ["--database-url", loaded_settings.conninfo, "publish",
                                       "tiles", "--out", str(out), "--min-zoom", "7",
                                       "--max-zoom", "15", "--area", ward, "--json"])
    assert result.exit_code == 0, result.output
    return out, json.loads(result.stdout)


def test_the_archive_holds_the_dynamic_tiles_feature_by_feature(archive, client):
    from pmtiles.reader import MmapSource, Reader, all_tiles
    from pmtiles.tile import Compression, TileType

    path, summary = archive
    with path.open("rb") as fh:
        source = MmapSource(fh)
        header = Reader(source).header()
        metadata = Reader(source).metadata()
        tiles = {zxy: gzip.decompress(data) for zxy, data in all_tiles(source)}
    assert header["tile_type"] == TileType.MVT and header["tile_compression"] == Compression.GZIP
    assert (header["min_zoom"], header["max_zoom"]) == (7, 15)
    assert metadata["classification"] == "2026-07" and metadata["synthetic"] is True
    assert {v["id"] for v in metadata["vector_layers"]} == {
        "la", "ward", "lsoa", "msoa", "constituency", "hex500", "hex2000", "hex8000", "premises"}
    assert len(tiles) == summary["tiles"] > 0
    assert {z for z, _x, _y in tiles} == set(range(7, 16))
    compared = {"premises": 0, "hex": 0, "areas": 0}
    for (z, x, y), data in sorted(tiles.items()):
        if z not in (7, 10, 12, 15):
            continue
        ours = _features(data)
        assert ours  # no empty tile is kept
        expected = {}
        for level in ("la", "ward", "lsoa", "msoa", "constituency"):
            expected.update(_features(client.get(f"/tiles/areas/{level}/{z}/{x}/{y}.pbf").data))
        for size in (500, 2000, 8000):
            layer = _features(client.get(f"/tiles/hex/{size}/{z}/{x}/{y}.pbf").data)
            if layer:
                expected[f"hex{size}"] = layer["hex"]
        expected.update(_features(client.get(f"/tiles/premises/{z}/{x}/{y}.pbf").data))
        assert ours == expected, (z, x, y)
        compared["premises"] += len(ours.get("premises", []))
        compared["hex"] += sum(len(v) for k, v in ours.items() if k.startswith("hex"))
        compared["areas"] += sum(len(v) for k, v in ours.items()
                                 if k in ("la", "ward", "lsoa", "msoa", "constituency"))
    assert all(compared.values()), compared


def test_every_tile_over_the_area_is_kept_with_its_parents(archive, loaded_settings):
    from pmtiles.reader import MmapSource, all_tiles

    path, summary = archive
    with path.open("rb") as fh:
        kept = {zxy for zxy, _ in all_tiles(MmapSource(fh))}
    with psycopg.connect(loaded_settings.conninfo) as conn:
        over = {(15, x, y) for x, y in conn.execute(
            """SELECT t.x, t.y FROM gapmap.area a,
                      generate_series(0, 0) AS z0,
                      LATERAL (SELECT x, y FROM
                          generate_series(floor((ST_XMin(a.geom_3857) + 20037508.342789244)
                                          / (40075016.68557849 / 32768))::int,
                                          floor((ST_XMax(a.geom_3857) + 20037508.342789244)
                                          / (40075016.68557849 / 32768))::int) x,
                          generate_series(floor((20037508.342789244 - ST_YMax(a.geom_3857))
                                          / (40075016.68557849 / 32768))::int,
                                          floor((20037508.342789244 - ST_YMin(a.geom_3857))
                                          / (40075016.68557849 / 32768))::int) y) t
               WHERE a.code = %s AND ST_Intersects(ST_TileEnvelope(15, t.x, t.y), a.geom_3857)""",
            (summary["area"],)).fetchall()}
    assert over and over <= kept  # a tile over the ward always holds the ward itself
    for z, x, y in kept:
        if z > 7:
            assert (z - 1, x >> 1, y >> 1) in kept
