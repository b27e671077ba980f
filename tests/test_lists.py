"""Saved target lists: filters, polygons, snapshots, refresh across the two demo releases,
exports re-read with pyogrio, scoping, the command line and the officer API. Every count is
checked against one made independently in the test (shapely over the exported points, or plain
SQL over the run's table)."""

from __future__ import annotations

import csv
import json
import re
import sqlite3

import psycopg
import pyogrio
import pytest
import shapely
from shapely.geometry import Polygon, box, mapping

from connectivity.errors import BadRequest, Forbidden, NotFound
from connectivity.officers import accounts as acc
from connectivity.officers import lists, session_scope
from connectivity.officers.listfilters import ListFilters
from connectivity.officers.polygons import polygon_from_geojson, read_polygon_file
from connectivity.outputs import ATTRIBUTION
from connectivity.settings import load_settings
from tests.conftest import TEST_SECRET, app_for, copy_of

PASSWORD = "correct horse battery staple"
CEREDIGION, MERTHYR = "W06000008", "W06000024"


@pytest.fixture(scope="module")
def lw(server, base_db):
    """The demo data with both releases classified (2026-01, then 2026-07, current), every
    boundary level and WIMD, and accounts: an officer and a viewer in Ceredigion, an officer in
    Merthyr Tydfil, an admin; a token each."""
    from connectivity.classify import classify
    from connectivity.db import connect
    from connectivity.rules import load_rules
    from etl import LOADERS, run_load
    from gapmap.demo import bundled_inputs, synthetic_inputs

    name, url = copy_of(server, base_db)
    settings = load_settings({"database_url": url}, environ={}).replace(secret_key=TEST_SECRET)
    for kind, paths, options, extra in bundled_inputs(settings) + synthetic_inputs(settings):
        if kind == "wimd" or (kind == "boundaries" and options["level"] != "la") \
                or any("2026-07" in str(p) for p in paths):
            run_load(settings, LOADERS[kind](), paths, options=options, **extra)
    with connect(settings, autocommit=True) as conn:
        classify(conn, load_rules(settings.rules_file), up_to="2026-07")
    tokens = {}
    with session_scope(settings) as s:
        for key, email, role, areas in (
                ("officer", "officer@ceredigion.gov.uk", "officer", [CEREDIGION]),
                ("viewer", "viewer@ceredigion.gov.uk", "viewer", [CEREDIGION]),
                ("other", "officer@merthyr.gov.uk", "officer", [MERTHYR]),
                ("admin", "admin@gov.wales", "admin", [])):
            acc.add_account(s, email=email, role=role, areas=areas, password=PASSWORD, actor="t")
            tokens[key] = acc.create_token(s, email, "tests", actor="t")[1]
    yield {"settings": settings, "url": url, "tokens": tokens}
    server.drop(name)


def account(s, email):
    return acc.find_account(s, email)


def points_of(conn, run: str, la: str) -> list[tuple]:
    """(uprn, easting, northing, status, probability, scheme eligibilities...) of every premises
    of ``la`` on ``run``, read with plain SQL (the independent side of the checks)."""
    rid = conn.execute("SELECT id FROM gapmap.classification_run WHERE label = %s", (run,)).fetchone()[0]
    return conn.execute(
        f"""SELECT c.uprn, ST_X(p.geom), ST_Y(p.geom), c.status, c.probability_below,
                   c.eligible_abc, c.eligible_lbf, c.planned_build
            FROM gapmap.premises_class_{rid} c JOIN gapmap.premises p USING (uprn)
            WHERE ST_Covers((SELECT geom FROM gapmap.area WHERE level = 'la' AND code = %s),
                            p.geom) ORDER BY 1""", (la,)).fetchall()


def test_filters_parse_one_definition_and_refuse_unknown_names():
    f = ListFilters.from_dict({"status": "below,possibly_below", "probability": "0.5",
                               "area": ["w06000008"], "scheme": ["abc"], "planned": "exclude",
                               "wimd_decile": ["1", "2"], "coverage_before": "2027-01-01"})
    assert f.status == ("below", "possibly_below") and f.area == ("W06000008",)
    assert f.to_dict() == {"area": ["W06000008"], "status": ["below", "possibly_below"],
                           "probability": 0.5, "scheme": ["abc"], "planned": "exclude",
                           "coverage_before": "2027-01-01", "wimd_decile": [1, 2]}
    assert ListFilters.from_dict(f.to_dict()) == f
    with pytest.raises(BadRequest, match="unknown filter.s. colour"):
        ListFilters.from_dict({"colour": "red"})
    with pytest.raises(BadRequest, match="filter status: 'bellow' is not valid"):
        ListFilters.from_dict({"status": "bellow"})
    with pytest.raises(BadRequest, match="probability"):
        ListFilters.from_dict({"probability": "1.5"})
    with pytest.raises(BadRequest, match="takes one value"):
        ListFilters.from_dict({"planned": ["only", "exclude"]})


def _square(conn, la: str, share: float = 0.5):
    """A square over part of the authority's premises, in 27700."""
    x0, y0, x1, y1 = conn.execute(
        "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(p.geom) e "
        "FROM gapmap.premises p JOIN gapmap.premises_place m USING (uprn) WHERE m.la = %s) q",
        (la,)).fetchone()
    return box(x0, y0, x0 + (x1 - x0) * share, y0 + (y1 - y0) * share)


def test_counts_for_polygons_and_filter_combinations_match_an_independent_count(lw):
    with session_scope(lw["settings"]) as s:
        conn = lists.raw(s)
        officer = account(s, "officer@ceredigion.gov.uk")
        pts = points_of(conn, "2026-07", CEREDIGION)
        square = _square(conn, CEREDIGION)
        triangle = Polygon([square.bounds[:2], (square.bounds[2], square.bounds[1]),
                            square.bounds[2:]])
        cases = [
            ({}, None, lambda r: True),
            ({"status": "below"}, None, lambda r: r[3] == "below"),
            ({"status": ["below", "possibly_below"], "probability": "0.5"}, None,
             lambda r: r[3] in ("below", "possibly_below") and r[4] is not None and r[4] >= 0.5),
            ({"scheme": "abc", "planned": "exclude"}, square,
             lambda r: r[5] in ("eligible", "possibly") and not r[7]),
            ({"status": "below"}, triangle, lambda r: r[3] == "below"),
            ({"planned": "only"}, None, lambda r: bool(r[7])),
        ]
        for raw_filters, poly, keep in cases:
            got = lists.count(conn, officer, ListFilters.from_dict(raw_filters), polygon=poly)
            expected = [r for r in pts if keep(r)
                        and (poly is None or poly.intersects(shapely.Point(r[1], r[2])))]
            assert got["total"] == len(expected), raw_filters
            assert got["total"] > 0, raw_filters
            assert got["status"]["below"] == sum(r[3] == "below" for r in expected)
            assert got["authorities"] == [CEREDIGION]
        # an officer's count never reaches into another authority
        away = lists.count(conn, officer, ListFilters.from_dict({"area": MERTHYR}))
        assert away["total"] == 0
        with pytest.raises(NotFound):
            lists.count(conn, officer, ListFilters(), authorities=[MERTHYR])


def test_areas_of_several_levels_at_once_and_wimd_deciles(lw):
    with session_scope(lw["settings"]) as s:
        conn = lists.raw(s)
        admin = account(s, "admin@gov.wales")
        ward, lsoa = conn.execute(
            "SELECT ward, lsoa FROM gapmap.premises_place WHERE la = %s AND ward IS NOT NULL "
            "AND lsoa IS NOT NULL ORDER BY uprn LIMIT 1", (MERTHYR,)).fetchone()
        expected = conn.execute(
            "SELECT count(*) FROM gapmap.premises_place m JOIN gapmap.premises_class c USING (uprn) "
            "WHERE m.ward = %s OR m.lsoa = %s", (ward, lsoa)).fetchone()[0]
        got = lists.count(conn, admin, ListFilters.from_dict({"area": [ward, lsoa]}))
        assert got["total"] == expected > 0
        deciles = conn.execute(
            """SELECT count(*) FROM gapmap.premises_place m JOIN gapmap.premises_class c USING (uprn)
               JOIN gapmap.wimd w ON w.lsoa_code = m.lsoa
               WHERE ceil(w.wimd_rank * 10.0 / (SELECT count(*) FROM gapmap.wimd)) IN (1, 2)
            """).fetchone()[0]
        got = lists.count(conn, admin, ListFilters.from_dict({"wimd_decile": "1,2"}))
        assert got["total"] == deciles > 0
        with pytest.raises(BadRequest, match="unknown area code.s. W05999999"):
            lists.count(conn, admin, ListFilters.from_dict({"area": "W05999999"}))


def test_counts_summed_from_statistics_or_leaving_premises_out_match_the_join(lw, monkeypatch):
    """The count's short cuts (authorities alone from the run's statistics; premises outside
    the authorities left out by UPRN instead of a join) give the join's figures, on the current
    run and on an older one (which always joins)."""
    taken = []

    def spy(name):
        real = getattr(lists, name)

        def wrapper(*args, **kwargs):
            result = real(*args, **kwargs)
            taken.append((name, result is not None))
            return result
        monkeypatch.setattr(lists, name, wrapper)
    spy("_from_statistics")
    spy("_outside")
    monkeypatch.setattr(lists, "OUTSIDE_MAX", 10**9)  # leave out a whole authority, too
    with session_scope(lw["settings"]) as s:
        conn = lists.raw(s)
        admin, officer = account(s, "admin@gov.wales"), account(s, "officer@ceredigion.gov.uk")
        every = [r[0] for r in conn.execute("SELECT code FROM gapmap.area WHERE level = 'la'")]
        for run in ("2026-07", "2026-01"):
            rid = conn.execute("SELECT id FROM gapmap.classification_run WHERE label = %s",
                               (run,)).fetchone()[0]
            for who, wanted, las in ((admin, None, every), (officer, None, [CEREDIGION]),
                                     (None, [MERTHYR], [MERTHYR]), (admin, [CEREDIGION], [CEREDIGION])):
                for raw_filters, where in (({}, "true"), ({"status": "below"}, "c.status = 'below'"),
                                           ({"area": MERTHYR}, f"m.la = '{MERTHYR}'"),
                                           ({"scheme": "abc"}, "c.eligible_abc IN ('eligible', 'possibly')")):
                    got = lists.count(conn, who, ListFilters.from_dict(raw_filters),
                                      authorities=wanted, run=run)
                    expected = conn.execute(
                        f"""SELECT count(*), count(*) FILTER (WHERE c.status = 'below'),
                                   count(*) FILTER (WHERE c.eligible_abc = 'possibly'),
                                   count(*) FILTER (WHERE c.eligible_voucher = 'eligible'),
                                   count(*) FILTER (WHERE c.eligible_voucher = 'possibly')
                            FROM gapmap.premises_class_{rid} c JOIN gapmap.premises_place m USING (uprn)
                            WHERE m.la = ANY(%s) AND {where}""", (las,)).fetchone()
                    assert (got["total"], got["status"]["below"], got["scheme"]["abc"]["possibly"],
                            got["scheme"]["voucher"]["eligible"],
                            got["scheme"]["voucher"]["possibly"]) == expected, (run, las, raw_filters)
    assert ("_from_statistics", True) in taken and ("_outside", True) in taken


def _geojson(path, geom, crs=None):
    doc = {"type": "FeatureCollection",
           "features": [{"type": "Feature", "properties": {}, "geometry": mapping(geom)}]}
    if crs:
        doc["crs"] = {"type": "name", "properties": {"name": crs}}
    path.write_text(json.dumps(doc))
    return path


def test_polygon_files_are_read_with_their_crs_and_bad_ones_are_clear_errors(tmp_path):
    import geopandas as gpd

    bng = box(255_000, 260_000, 265_000, 270_000)  # near Aberystwyth
    gdf = gpd.GeoDataFrame(geometry=[bng], crs="EPSG:27700")
    gdf.to_file(tmp_path / "area.gpkg", driver="GPKG")
    gdf.to_crs(4326).to_file(tmp_path / "area.kml", driver="KML")
    gdf.to_crs(4326).to_file(tmp_path / "area.geojson", driver="GeoJSON")
    for name in ("area.gpkg", "area.kml", "area.geojson"):
        got = read_polygon_file(tmp_path / name)
        assert got.geom_type == "MultiPolygon"
        assert abs(got.area - bng.area) / bng.area < 1e-3, name
    # British National Grid coordinates in a GeoJSON that says nothing (so WGS84)
    with pytest.raises(BadRequest, match="bng.geojson: the coordinates .* are not longitude and latitude"):
        read_polygon_file(_geojson(tmp_path / "bng.geojson", bng))
    # declared, but in another country
    with pytest.raises(BadRequest, match="far.geojson is outside Wales"):
        read_polygon_file(_geojson(tmp_path / "far.geojson", box(2.3, 48.8, 2.4, 48.9)))
    bowtie = Polygon([(-4.1, 52.4), (-4.0, 52.5), (-4.0, 52.4), (-4.1, 52.5)])
    with pytest.raises(BadRequest, match="bowtie.geojson: feature 1 is not a valid polygon "
                                         r"\(Self-intersection"):
        read_polygon_file(_geojson(tmp_path / "bowtie.geojson", bowtie))
    (tmp_path / "empty.geojson").write_text('{"type": "FeatureCollection", "features": []}')
    with pytest.raises(BadRequest, match="empty.geojson holds no polygon"):
        read_polygon_file(tmp_path / "empty.geojson")
    with pytest.raises(BadRequest, match="feature 1 is an empty polygon"):
        polygon_from_geojson({"type": "Polygon", "coordinates": []})
    with pytest.raises(BadRequest, match="is a Point, not a polygon"):
        polygon_from_geojson({"type": "Point", "coordinates": [-4.0, 52.4]})
    gpd.GeoDataFrame(geometry=[bng]).to_file(tmp_path / "nocrs.gpkg", driver="GPKG")
    with pytest.raises(BadRequest, match="nocrs.gpkg has no coordinate reference system"):
        read_polygon_file(tmp_path / "nocrs.gpkg")


def test_a_list_refreshed_across_the_two_releases_names_exactly_the_changed_premises(lw, tmp_path):
    with session_scope(lw["settings"]) as s:
        officer = account(s, "officer@ceredigion.gov.uk")
        target = lists.create_list(
            s, name="Ceredigion below or possibly", owner=officer, by=officer, actor=officer.email,
            filters=ListFilters.from_dict({"status": ["below", "possibly_below"]}), run="2026-01",
            notes="first pass")
        assert target.la_codes == [CEREDIGION] and target.latest.run_label == "2026-01"
        conn = lists.raw(s)
        before = {r[0]: r for r in points_of(conn, "2026-01", CEREDIGION)
                  if r[3] in ("below", "possibly_below")}
        assert target.latest.premises == len(before) > 0
        after = {r[0]: r for r in points_of(conn, "2026-07", CEREDIGION)
                 if r[3] in ("below", "possibly_below")}
        preview = lists.refresh(s, target, accept=False, actor=officer.email)
        assert preview["from"] == "2026-01" and preview["to"] == "2026-07"
        added = {p["uprn"] for p in preview["premises"] if p["change"] == "added"}
        removed = {p["uprn"] for p in preview["premises"] if p["change"] == "removed"}
        assert added == set(after) - set(before) and removed == set(before) - set(after)
        assert preview["added"] == len(added) and preview["removed"] == len(removed)
        # kept on both sides: exactly those whose status (among the compared fields) moved
        changed = {p["uprn"]: p for p in preview["premises"] if p["change"] == "changed"}
        status_moved = {u for u in set(before) & set(after) if before[u][3] != after[u][3]}
        assert status_moved <= set(changed)
        assert {u for u, p in changed.items() if p["status_before"] != p["status_after"]} == status_moved
        assert added | removed | status_moved, "the demo releases must change something here"
        for p in preview["premises"]:
            if p["change"] == "changed":
                assert p["abc_reason_before"] and p["abc_reason_after_text"]
        assert len(target.snapshots) == 1 and not preview["accepted"]
        done = lists.refresh(s, target, accept=True, actor=officer.email, by=officer)
        assert done["accepted"] and len(target.snapshots) == 2
        assert target.latest.premises == len(after) and target.latest.run_label == "2026-07"
        # the old snapshot is kept and still exports as it was
        rows = lists.export_list(s, target, tmp_path / "old.csv", "csv", actor="t",
                                 snapshot=target.snapshots[0].id)
        assert rows == len(before)
        with (tmp_path / "old.csv").open(encoding="utf-8-sig") as fh:
            assert {int(r["uprn"]) for r in csv.DictReader(fh)} == set(before)
        again = lists.refresh(s, target, accept=False, actor=officer.email)
        assert again["added"] == again["removed"] == again["changed"] == 0


def test_exports_reread_with_pyogrio_carry_reasons_releases_attribution_and_a_qgis_style(lw, tmp_path):
    with session_scope(lw["settings"]) as s:
        officer = account(s, "officer@ceredigion.gov.uk")
        conn = lists.raw(s)
        square = _square(conn, CEREDIGION, 0.6)
        target = lists.create_list(s, name="Square", owner=officer, by=officer, actor="t",
                                   filters=ListFilters(), polygon=shapely.MultiPolygon([square]))
        inside = {r[0] for r in points_of(conn, "2026-07", CEREDIGION)
                  if square.intersects(shapely.Point(r[1], r[2]))}
        assert target.latest.premises == len(inside) > 0
        for fmt, lang in (("gpkg", "cy"), ("geojson", "en"), ("csv", "cy")):
            out = tmp_path / f"list.{fmt}"
            n = lists.export_list(s, target, out, fmt, actor="t", lang=lang, by=officer)
            assert n == len(inside)
            if fmt == "csv":
                assert out.read_bytes().startswith(b"\xef\xbb\xbf")
                with out.open(encoding="utf-8-sig") as fh:
                    frame = list(csv.DictReader(fh))
                uprns = {int(r["uprn"]) for r in frame}
                first = frame[0]
            else:
                gdf = pyogrio.read_dataframe(out, layer="premises" if fmt == "gpkg" else None)
                uprns = set(gdf["uprn"].astype(int))
                first = gdf.iloc[0].to_dict()
                # the independent count: shapely over the exported points
                pts = gdf.to_crs(27700).geometry if fmt == "geojson" else gdf.geometry
                assert sum(square.buffer(0.01).intersects(p) for p in pts) == n
            assert uprns == inside
            # the attribution once per file, not a column
            assert "attribution" not in first
            if fmt == "csv":
                meta = json.loads((tmp_path / "list.csv-metadata.json").read_text(encoding="utf-8"))
                stated = meta["dc:description"]
                assert meta["dc:rights"] == ATTRIBUTION
                assert [c["name"] for c in meta["tableSchema"]["columns"]] == \
                    lists.LIST_EXPORT_COLUMNS
            elif fmt == "gpkg":
                stated = pyogrio.read_info(out, layer="premises")["layer_metadata"]["DESCRIPTION"]
            else:
                stated = json.loads(out.read_text(encoding="utf-8"))["description"]
            assert stated.startswith("SYNTHETIC") and stated.endswith(ATTRIBUTION)
            assert first["abc_reason"] and first["release_published"] not in (None, "")
            assert first["list_name"] == "Square"
        with sqlite3.connect(tmp_path / "list.gpkg") as db:
            qml, default = db.execute("SELECT styleQML, useAsDefault FROM layer_styles "
                                      "WHERE f_table_name = 'premises'").fetchone()
        assert default == 1 and 'attr="status"' in qml and 'value="below"' in qml
        assert db.execute("PRAGMA user_version").fetchone()[0] == 10300  # GeoPackage 1.3
        assert pyogrio.read_info(tmp_path / "list.gpkg", layer="premises")["crs"] == "EPSG:27700"
    with psycopg.connect(lw["url"]) as c:
        exports = c.execute("SELECT detail->>'format', (detail->>'rows')::int FROM gapmap.audit_event "
                            "WHERE action = 'list.export' AND object_id = %s ORDER BY id",
                            (str(target.id),)).fetchall()
    assert exports == [("gpkg", len(inside)), ("geojson", len(inside)), ("csv", len(inside))]


def test_lists_are_scoped_and_viewers_read_only(lw):
    with session_scope(lw["settings"]) as s:
        officer = account(s, "officer@ceredigion.gov.uk")
        viewer = account(s, "viewer@ceredigion.gov.uk")
        other = account(s, "officer@merthyr.gov.uk")
        admin = account(s, "admin@gov.wales")
        target = lists.create_list(s, name="Scoped", owner=officer, by=officer, actor="t",
                                   filters=ListFilters.from_dict({"status": "below"}))
        assert lists.get_list(s, viewer, target.id) is target
        assert lists.get_list(s, admin, "Scoped") is target
        for ident in (target.id, "Scoped", 999999, "1 OR 1=1"):
            with pytest.raises(NotFound):
                lists.get_list(s, other, ident)
        assert target not in lists.visible_lists(s, other)
        with pytest.raises(Forbidden):
            lists.refresh(s, target, accept=True, actor="t", by=viewer)
        with pytest.raises(Forbidden):
            lists.create_list(s, name="No", owner=viewer, by=viewer, actor="t", filters=ListFilters())
        with pytest.raises(BadRequest, match="not an authority of officer@ceredigion"):
            lists.create_list(s, name="Away", owner=officer, by=officer, actor="t",
                              filters=ListFilters(), authorities=[MERTHYR])
        with pytest.raises(BadRequest, match="exists already"):
            lists.create_list(s, name="Scoped", owner=officer, by=officer, actor="t",
                              filters=ListFilters())
        # an admin's list without authorities belongs to those of its premises
        both = lists.create_list(s, name="Everywhere below", owner=admin, by=admin, actor="t",
                                 filters=ListFilters.from_dict({"status": "below"}))
        assert both.la_codes == [CEREDIGION, MERTHYR]
        assert lists.get_list(s, other, both.id) is both
        s.rollback()


def _cli(lw, *args):
    from click.testing import CliRunner

    from gapmap.cli import main

    return CliRunner().invoke(main, ["--database-url", lw["url"], *args], catch_exceptions=False)


def test_the_lists_commands(lw, tmp_path):
    import geopandas as gpd

    with psycopg.connect(lw["url"]) as conn:
        square = _square(conn, MERTHYR, 0.7)
        pts = points_of(conn, "2026-07", MERTHYR)
    # the polygon in WGS84, as a GeoPackage: read, transformed to 27700
    gpd.GeoDataFrame(geometry=[square], crs="EPSG:27700").to_crs(4326).to_file(
        tmp_path / "draw.gpkg", driver="GPKG")
    r = _cli(lw, "lists", "create", "Merthyr ABC in the square", "--owner", "officer@merthyr.gov.uk",
             "--polygon", str(tmp_path / "draw.gpkg"), "--scheme", "abc", "--notes", "for the bid",
             "--json")
    assert r.exit_code == 0, r.output
    made = json.loads(r.output)
    inside = [p for p in pts if p[5] in ("eligible", "possibly")
              and square.buffer(0.5).intersects(shapely.Point(p[1], p[2]))]
    assert made["authorities"] == [MERTHYR] and made["filters"] == {"scheme": ["abc"]}
    # the polygon went through WGS84 and back: allow for points within half a metre of an edge
    near_edge = [p for p in inside if square.exterior.distance(shapely.Point(p[1], p[2])) < 0.5]
    assert abs(made["snapshots"][0]["premises"] - len(inside)) <= len(near_edge)
    shown = json.loads(_cli(lw, "lists", "show", "Merthyr ABC in the square", "--json").output)
    assert shown["counts"]["total"] == made["snapshots"][0]["premises"]
    assert shown["notes"] == "for the bid" and shown["polygon"] is True
    r = _cli(lw, "lists", "count", "--authority", MERTHYR, "--status", "below", "--json")
    assert json.loads(r.output)["total"] == sum(p[3] == "below" for p in pts)
    r = _cli(lw, "lists", "refresh", "Merthyr ABC in the square")
    assert r.exit_code == 0 and "0 added, 0 removed, 0 changed" in r.output
    assert "run again with --accept" in r.output
    out = tmp_path / "m.gpkg"
    r = _cli(lw, "lists", "export", "Merthyr ABC in the square", "--format", "gpkg", "-o", str(out))
    assert r.exit_code == 0, r.output
    assert len(pyogrio.read_dataframe(out, layer="premises")) == made["snapshots"][0]["premises"]
    r = _cli(lw, "lists", "create", "Bad", "--owner", "officer@merthyr.gov.uk", "--status", "bellow")
    assert r.exit_code == 2 and "filter status: 'bellow' is not valid" in r.output
    bad = _geojson(tmp_path / "bowtie.geojson",
                   Polygon([(-3.4, 51.7), (-3.3, 51.8), (-3.3, 51.7), (-3.4, 51.8)]))
    r = _cli(lw, "lists", "create", "Bad", "--owner", "officer@merthyr.gov.uk", "--polygon", str(bad))
    assert r.exit_code == 2 and "bowtie.geojson: feature 1 is not a valid polygon" in r.output
    assert _cli(lw, "lists", "show", "No such list").exit_code == 7
    assert "Merthyr ABC in the square" in _cli(lw, "lists", "list").output


@pytest.fixture(scope="module")
def lw_app(lw):
    with app_for(lw["settings"]) as app:
        yield app


def test_the_officer_api_for_lists(lw, lw_app, tmp_path):
    api = lw_app.test_client()

    def as_(who):
        return {"Authorization": f"Bearer {lw['tokens'][who]}"}
    with psycopg.connect(lw["url"]) as conn:
        square = _square(conn, CEREDIGION, 0.4)
        pts = points_of(conn, "2026-07", CEREDIGION)
    from pyproj import Transformer

    drawn = shapely.transform(square, Transformer.from_crs(27700, 4326, always_xy=True).transform,
                              interleaved=False)
    # the live count, with the same filter names as the command line and the stored definition
    r = api.get("/api/v1/officer/lists/count?status=below&status=possibly_below", headers=as_("officer"))
    assert r.status_code == 200
    assert r.json["total"] == sum(p[3] in ("below", "possibly_below") for p in pts)
    r = api.get("/api/v1/officer/lists/count?colour=red", headers=as_("officer"))
    assert r.status_code == 400 and "unknown filter(s) colour" in r.json["error"]["message"]
    r = api.get(f"/api/v1/officer/lists/count?authority={MERTHYR}", headers=as_("officer"))
    assert r.status_code == 404
    body = {"name": "Drawn in Ceredigion", "filters": {"planned": "exclude"},
            "polygon": mapping(drawn)}
    assert api.post("/api/v1/officer/lists", json=body, headers=as_("viewer")).status_code == 403
    r = api.post("/api/v1/officer/lists", json=body, headers=as_("officer"))
    assert r.status_code == 201, r.json
    made = r.json
    expected = [p for p in pts if not p[7] and square.buffer(0.5).intersects(shapely.Point(p[1], p[2]))]
    near = [p for p in expected if square.exterior.distance(shapely.Point(p[1], p[2])) < 0.5]
    assert abs(made["counts"]["total"] - len(expected)) <= len(near)
    bad = dict(body, name="Bowtie", polygon={"type": "Polygon", "coordinates": [
        [[-4.1, 52.4], [-4.0, 52.5], [-4.0, 52.4], [-4.1, 52.5], [-4.1, 52.4]]]})
    r = api.post("/api/v1/officer/lists", json=bad, headers=as_("officer"))
    assert r.status_code == 400 and "not a valid polygon" in r.json["error"]["message"]
    lid = made["id"]
    assert api.get(f"/api/v1/officer/lists/{lid}", headers=as_("other")).status_code == 404
    assert api.get(f"/api/v1/officer/lists/{lid}", headers=as_("viewer")).status_code == 200
    listed = api.get("/api/v1/officer/lists", headers=as_("other")).json["lists"]
    assert lid not in [x["id"] for x in listed]
    page = api.get(f"/api/v1/officer/lists/{lid}/premises?per_page=5&sort=best_down&order=desc",
                   headers=as_("viewer")).json
    assert page["total"] == made["counts"]["total"] and len(page["premises"]) == min(5, page["total"])
    downs = [p["best_down"] for p in page["premises"] if p["best_down"] is not None]
    assert downs == sorted(downs, reverse=True)
    r = api.get(f"/api/v1/officer/lists/{lid}/export?format=csv&lang=cy", headers=as_("viewer"))
    assert r.status_code == 200 and r.data.startswith(b"\xef\xbb\xbf")
    assert r.headers["Content-Disposition"] == 'attachment; filename="Drawn-in-Ceredigion.csv"'
    rows = list(csv.DictReader(r.data.decode("utf-8-sig").splitlines()))
    assert len(rows) == made["counts"]["total"]
    r = api.get(f"/api/v1/officer/lists/{lid}/export?format=geojson", headers=as_("officer"))
    (tmp_path / "a.geojson").write_bytes(r.data)
    assert len(pyogrio.read_dataframe(tmp_path / "a.geojson")) == made["counts"]["total"]
    r = api.post(f"/api/v1/officer/lists/{lid}/refresh", headers=as_("officer"))
    assert r.status_code == 200 and r.json["accepted"] and r.json["changed"] == 0
    with psycopg.connect(lw["url"]) as conn:
        actions = [a for (a,) in conn.execute(
            "SELECT action FROM gapmap.audit_event WHERE object_type = 'list' AND object_id = %s "
            "ORDER BY id", (str(lid),))]
    assert actions == ["list.create", "list.export", "list.export", "list.refresh"]


def test_lists_and_their_snapshots_are_in_the_workspace_backup(lw, server, template_db, tmp_path):
    with session_scope(lw["settings"]) as s:
        officer = account(s, "officer@ceredigion.gov.uk")
        lists.create_list(s, name="Kept in the backup", owner=officer, by=officer, actor="t",
                          filters=ListFilters.from_dict({"status": "below"}),
                          polygon=shapely.MultiPolygon([_square(lists.raw(s), CEREDIGION)]))
    tables = ("target_list", "target_list_area", "target_list_snapshot", "target_list_premises")

    def rows(url):
        with psycopg.connect(url) as conn:
            return {t: conn.execute(f"SELECT * FROM gapmap.{t} ORDER BY 1, 2").fetchall()
                    for t in tables}
    dump = tmp_path / "ws.dump"
    assert _cli(lw, "backup", "-o", str(dump)).exit_code == 0
    fresh = server.create(template=template_db)
    try:
        r = _cli({"url": server.url(fresh)}, "restore", str(dump))
        assert r.exit_code == 0, r.output
        before, after = rows(lw["url"]), rows(server.url(fresh))
        assert after == before and before["target_list_premises"]
    finally:
        server.drop(fresh)


@pytest.mark.parametrize("lang", ["en", "cy"])
def test_the_list_pages_build_count_save_refresh_and_export_without_javascript(lw, lw_app, lang, tmp_path):
    import io

    from tests.test_officer_web import csrf_of, signed_in

    officer = signed_in(lw_app, "officer@ceredigion.gov.uk", lang)
    with psycopg.connect(lw["url"]) as conn:
        square = _square(conn, CEREDIGION, 0.5)
        pts = points_of(conn, "2026-07", CEREDIGION)
    expected = [p for p in pts if p[3] == "below"
                and square.intersects(shapely.Point(p[1], p[2]))]
    form = officer.get(f"/{lang}/officer/lists/new")
    assert form.status_code == 200
    assert ('name="csrf_token"' in form.text and 'name="status"' in form.text
            and 'name="polygon_file"' in form.text)
    counted = officer.get(f"/{lang}/officer/lists/new?status=below&count=1")
    below = sum(p[3] == "below" for p in pts)
    assert counted.status_code == 200 and f"{below:,}" in counted.text
    gpkg = tmp_path / "square.gpkg"
    import geopandas as gpd

    gpd.GeoDataFrame(geometry=[square], crs="EPSG:27700").to_file(gpkg, driver="GPKG")
    name = f"Square below {lang}"
    r = officer.post(f"/{lang}/officer/lists/new", content_type="multipart/form-data", data={
        "csrf_token": csrf_of(form.text), "name": name, "status": "below", "notes": "llinell\r\ndwy",
        "polygon_file": (io.BytesIO(gpkg.read_bytes()), "square.gpkg")})
    assert r.status_code == 303, r.text
    page = officer.get(r.headers["Location"])
    assert page.status_code == 200 and name in page.text
    words = {"en": "premises on classification 2026-07", "cy": "safle ar ddosbarthiad 2026-07"}
    assert f"{len(expected):,} {words[lang]}" in page.text
    lid = r.headers["Location"].rstrip("/").split("/")[-1]
    # the page's map gets every premises of the list, not the table's page of them
    points = officer.get(f"/{lang}/officer/lists/{lid}/points.json").get_json()
    assert points["statuses"] == ["below", "possibly_below", "above", "unknown"]
    assert not points["truncated"] and points["premises"] == len(expected)
    assert sorted(p[3] for p in points["points"]) == sorted(p[0] for p in expected)
    assert {p[2] for p in points["points"]} == {0}  # all "below"
    assert all(-5.5 < lon < -2.6 and 51.3 < lat < 53.5 for lon, lat, _s, _u in points["points"])
    assert f'data-points="/{lang}/officer/lists/{lid}/points.json' in page.text
    csv_file = officer.get(f"/{lang}/officer/lists/{lid}/export?format=csv")
    assert csv_file.status_code == 200
    # its attribution is in its CSVW metadata, which the CSV's Link header names
    link = csv_file.headers["Link"]
    assert link.endswith('>; rel="describedby"; type="application/csvm+json"')
    meta = officer.get(link[1:link.index(">")])
    assert meta.status_code == 200 and meta.mimetype == "application/csvm+json"
    described = meta.get_json()
    assert "Contains OS data (c) Crown copyright" in json.dumps(described)
    assert described["url"] == csv_file.headers["Content-Disposition"].split('"')[1]
    assert len(list(csv.DictReader(csv_file.data.decode("utf-8-sig").splitlines()))) == len(expected)
    preview = officer.get(f"/{lang}/officer/lists/{lid}/refresh")
    assert preview.status_code == 200
    form = preview
    r = officer.post(f"/{lang}/officer/lists/{lid}/refresh", data={"csrf_token": csrf_of(form.text)})
    assert r.status_code == 303
    # a bad polygon is a clear error on the form, nothing saved
    bad = _geojson(tmp_path / "bowtie.geojson",
                   Polygon([(-4.1, 52.4), (-4.0, 52.5), (-4.0, 52.4), (-4.1, 52.5)]))
    r = officer.post(f"/{lang}/officer/lists/new", content_type="multipart/form-data", data={
        "csrf_token": csrf_of(form.text), "name": "Bowtie " + lang, "status": "below",
        "polygon_file": (io.BytesIO(bad.read_bytes()), "bowtie.geojson")})
    assert r.status_code == 400 and "bowtie.geojson: feature 1 is not a valid polygon" in r.text
    viewer = signed_in(lw_app, "viewer@ceredigion.gov.uk", lang)
    assert viewer.get(f"/{lang}/officer/lists/new").status_code == 403
    assert viewer.get(f"/{lang}/officer/lists/{lid}").status_code == 200
    other = signed_in(lw_app, "officer@merthyr.gov.uk", lang)
    assert other.get(f"/{lang}/officer/lists/{lid}").status_code == 404
    assert other.get(f"/{lang}/officer/lists/{lid}/points.json").status_code == 404


def test_the_dashboard_shows_the_officers_figures_with_their_change_and_stale_sources(lw, lw_app):
    from connectivity.officers import dashboard
    from tests.test_officer_web import signed_in

    with psycopg.connect(lw["url"]) as conn:
        now = points_of(conn, "2026-07", CEREDIGION)
        before = points_of(conn, "2026-01", CEREDIGION)
        board = dashboard.figures(conn, [CEREDIGION])
        fresh = dashboard.freshness(conn, 1200)
        stale = dashboard.freshness(conn, 1)
    below_now = sum(p[3] == "below" for p in now)
    below_change = below_now - sum(p[3] == "below" for p in before)
    rows = {r["figure"]: r for r in board["figures"]}
    assert (board["run"], board["previous"]) == ("2026-07", "2026-01")
    assert rows["below"]["now"] == below_now and rows["below"]["change"] == below_change
    assert rows["abc_eligible"]["now"] == sum(p[5] == "eligible" for p in now)
    assert rows["planned_build"]["now"] == sum(bool(p[7]) for p in now)
    assert fresh and not any(r["stale"] for r in fresh if r["published"])
    assert all(r["stale"] for r in stale)
    page = signed_in(lw_app, "officer@ceredigion.gov.uk").get("/en/officer/")
    assert page.status_code == 200
    assert (f'<th scope="row">Below 30 Mbit/s</th><td>{below_now:,}</td><td>{below_change:+d}</td>'
            in page.text)
    assert "How fresh the data is" in page.text
    cy = signed_in(lw_app, "officer@ceredigion.gov.uk", "cy").get("/cy/officer/")
    assert cy.status_code == 200 and "Eich dangosfwrdd" in cy.text
    assert "Pa mor ddiweddar yw" in cy.text and "o dan 30 Mbit/s" in cy.text


@pytest.mark.browser
@pytest.mark.parametrize("lang", ["en", "cy"])
def test_draw_a_polygon_save_and_export_in_a_real_browser(lw, lw_app, lang, tmp_path,
                                                          browser):
    """Sign in, draw a rectangle on the builder's map (Leaflet-Geoman), watch the live count,
    save, open the list and download its GeoPackage: in Welsh and English, axe-clean, no CSP
    violation."""
    from tests.conftest import axe_serious, serve_in_thread, watch_csp

    with serve_in_thread(lw_app) as base:
        context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
        page = context.new_page()
        csp = watch_csp(page)
        page.goto(f"{base}/{lang}/sign-in")
        page.fill("#field-email", "officer@ceredigion.gov.uk")
        page.fill("#field-password", PASSWORD)
        page.keyboard.press("Enter")
        page.wait_for_url("**/officer/")  # in the account's own language
        page.goto(f"{base}/{lang}/officer/lists/new")
        page.wait_for_selector("#list-map .leaflet-pm-toolbar")
        # the drawing tool speaks the page's language (its words come from the catalogue)
        title = page.get_attribute(".leaflet-pm-icon-rectangle >> xpath=../..", "title")
        assert title == {"en": "Draw a rectangle", "cy": "Lluniadu petryal"}[lang]
        assert axe_serious(page) == []
        # a live count as the filters change, before any drawing
        page.check("input[name=status][value=below]")
        page.wait_for_function("() => document.getElementById('live-count').textContent !== ''")
        page.click(".leaflet-pm-icon-rectangle")
        box = page.locator("#list-map").bounding_box()
        cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.mouse.click(cx - 150, cy - 120)
        page.mouse.click(cx + 150, cy + 120)
        page.wait_for_function("() => document.querySelector('input[name=polygon]').value !== ''")
        drawn = json.loads(page.input_value("input[name=polygon]"))
        page.fill("#name", f"Drawn {lang}")
        page.click("form#list-builder button[type=submit]:not([name])")
        page.wait_for_load_state()
        assert re.search(r"/officer/lists/\d+$", page.url), page.locator("main").inner_text()[:600]
        # the map draws every premises of the list (the table shows a page of them)
        page.wait_for_selector("#list-premises-map[data-drawn]", state="attached")
        drawn_points = int(page.get_attribute("#list-premises-map", "data-drawn"))
        assert axe_serious(page) == []
        with page.expect_download() as download:
            page.click("a[href*='format=gpkg']")
        path = tmp_path / "drawn.gpkg"
        download.value.save_as(path)
        assert csp == []
        context.close()
    saved = polygon_from_geojson(drawn)
    with psycopg.connect(lw["url"]) as conn:
        expected = {p[0] for p in points_of(conn, "2026-07", CEREDIGION)
                    if p[3] == "below" and saved.intersects(shapely.Point(p[1], p[2]))}
    got = pyogrio.read_dataframe(path, layer="premises")
    assert set(got["uprn"].astype(int)) == expected
    assert drawn_points == len(expected)


def test_a_run_classified_before_speed_tests_still_exports_and_snapshots(server, base_db, tmp_path):
    """A deployment's current run made before speed tests were evidence has no speedtest_*
    columns; the reason sentences read them (as NULL there), so exports and list snapshots of
    that run work as they did."""
    from connectivity import runs
    from connectivity.outputs import export

    name, url = copy_of(server, base_db)
    settings = load_settings({"database_url": url}, environ={})
    with psycopg.connect(url, autocommit=True) as conn:
        run = runs.require_current(conn)
        premises = conn.execute("SELECT count(*) FROM gapmap.premises_class").fetchone()[0]
        with conn.transaction():
            conn.execute(f"ALTER TABLE gapmap.premises_class_{run.id} "
                         "DROP COLUMN speedtest_down CASCADE, DROP COLUMN speedtest_tests CASCADE, "
                         "DROP COLUMN speedtest_release CASCADE")
            runs.make_current(conn, run.id, premises)
        n = export(conn, tmp_path / "old.csv", "csv", areas=[CEREDIGION])
        with (tmp_path / "old.csv").open(encoding="utf-8-sig") as fh:
            rows = list(csv.DictReader(fh))
        below = conn.execute(
            """SELECT count(*) FROM gapmap.premises_class c JOIN gapmap.premises p USING (uprn)
                JOIN gapmap.area a ON a.level = 'la' AND a.code = %s AND ST_Covers(a.geom, p.geom)
                WHERE c.status = 'below'""", (CEREDIGION,)).fetchone()[0]
    assert n == len(rows) > 1000 and sum(r["status"] == "below" for r in rows) == below
    assert all(r["abc_reason"] and "?" not in r["abc_reason"] for r in rows)
    with session_scope(settings) as s:
        officer = acc.add_account(s, email="old@ceredigion.gov.uk", role="officer",
                                  areas=[CEREDIGION], password=PASSWORD, actor="t")
        target = lists.create_list(s, name="Old run", owner=officer, by=officer, actor="t",
                                   filters=ListFilters(status=("below",)))
        assert target.latest.premises == below
        assert lists.export_list(s, target, tmp_path / "list.csv", "csv", actor="t") == below
    server.drop(name)
