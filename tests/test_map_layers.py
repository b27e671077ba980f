"""Area and hexagon vector tiles, map themes and layers, several authorities at once, and place
search: decoded tiles and pages checked against the statistics in a real PostGIS."""

from __future__ import annotations

import json
import re

import mapbox_vector_tile
import psycopg
import pytest

from connectivity.places import fold, search_places
from etl import LOADERS, run_load

CEREDIGION, MERTHYR = "W06000008", "W06000024"
#: the z7 tiles that cover Wales
WALES_Z7 = [(62, 41), (63, 41), (62, 42), (63, 42)]


@pytest.fixture(scope="module")
def stats(loaded_settings):
    with psycopg.connect(loaded_settings.conninfo) as conn:
        cur = conn.execute("SELECT * FROM gapmap.area_stats")
        names = [d.name for d in cur.description]
        return {(r[0], r[1]): dict(zip(names, r, strict=True)) for r in cur.fetchall()}


def decode(response) -> dict:
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.mapbox-vector-tile"
    return mapbox_vector_tile.decode(response.data) if response.data else {}


def test_authority_tiles_carry_every_theme_figure(client, stats):
    features = {}
    for x, y in WALES_Z7:
        for f in decode(client.get(f"/tiles/areas/la/7/{x}/{y}.pbf")).get("la", {"features": []})["features"]:
            features[f["properties"]["code"]] = f["properties"]
    assert len(features) == 22
    cere, s = features[CEREDIGION], stats[("la", CEREDIGION)]
    assert cere["name_en"] == "Ceredigion" and cere["name_cy"] == "Ceredigion"
    assert cere["premises"] == s["premises"] == 34623
    assert cere["below"] == s["below"] and cere["possibly_below"] == s["possibly_below"]
    assert cere["abc"] == s["abc_eligible"] + s["abc_possibly"]
    assert cere["lbf"] == s["lbf_eligible"] + s["lbf_possibly"]
    assert cere["planned_build"] == s["planned_build"]
    assert cere["share_below"] == pytest.approx(round(s["share_below"], 4), abs=1e-6)
    assert cere["share_abc"] == pytest.approx(round(cere["abc"] / s["premises"], 4), abs=1e-9)
    assert cere["share_planned"] == pytest.approx(round(s["planned_build"] / s["premises"], 4), abs=1e-9)
    # authorities without premises carry names only: the map shows them as "no premises loaded"
    assert "premises" not in features["W06000015"] and features["W06000015"]["name_cy"] == "Caerdydd"


def test_hexagon_tiles_hold_every_occupied_cell_with_its_statistics(client, stats):
    cells = {}
    for x, y in WALES_Z7:
        tile = decode(client.get(f"/tiles/hex/2000/7/{x}/{y}.pbf"))
        for f in tile.get("hex", {"features": []})["features"]:
            assert f["geometry"]["type"] == "Polygon"
            cells[f["properties"]["code"]] = f["properties"]
    expected = {code: s for (level, code), s in stats.items() if level == "hex2000"}
    assert set(cells) == set(expected)
    assert sum(c["premises"] for c in cells.values()) == 63225
    for code, props in cells.items():
        assert props["premises"] == expected[code]["premises"]
        assert props["below"] == expected[code]["below"]


def test_lsoa_tiles_carry_the_deprivation_rank(client, loaded_settings):
    with psycopg.connect(loaded_settings.conninfo) as conn:
        code, rank, lon, lat = conn.execute(
            """SELECT w.lsoa_code, w.wimd_rank,
                      ST_X(ST_Transform(ST_PointOnSurface(a.geom), 4326)),
                      ST_Y(ST_Transform(ST_PointOnSurface(a.geom), 4326))
               FROM gapmap.wimd w JOIN gapmap.area a ON a.level = 'lsoa' AND a.code = w.lsoa_code
               WHERE w.wimd_rank = 1""").fetchone()
    import math

    z = 10
    x = int((lon + 180) / 360 * 2 ** z)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * 2 ** z)
    layer = decode(client.get(f"/tiles/areas/lsoa/{z}/{x}/{y}.pbf"))["lsoa"]
    found = [f["properties"] for f in layer["features"] if f["properties"]["code"] == code]
    assert found and found[0]["wimd_rank"] == rank == 1


@pytest.mark.parametrize(("url", "status"), [
    ("/tiles/areas/la/3/1/1.pbf", 200),       # outside the zooms served: an empty tile
    ("/tiles/hex/500/8/125/84.pbf", 200),
    ("/tiles/areas/oa/10/1/1.pbf", 404),      # not a tiled level
    ("/tiles/hex/1000/10/1/1.pbf", 404),      # not a hexagon size
    ("/tiles/areas/la/4/99/1.pbf", 400),      # no such tile
])
def test_tile_edges(client, url, status):
    response = client.get(url)
    assert response.status_code == status
    if status == 200:
        assert response.data == b""
    else:
        assert set(response.get_json()["error"]) >= {"code", "message"}


def test_area_tiles_have_etags_that_change_with_the_classification(client):
    first = client.get("/tiles/areas/la/7/62/41.pbf")
    etag = first.headers["ETag"]
    again = client.get("/tiles/areas/la/7/62/41.pbf", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    assert first.headers["Access-Control-Allow-Origin"] == "*"


def test_the_map_page_offers_themes_layers_and_authorities(client):
    html = client.get("/en/").get_data(as_text=True)
    themes = re.findall(r'name="theme" id="theme-(\w+)"', html)
    assert themes == ["need", "abc", "lbf", "planned", "wimd"]
    assert re.findall(r'name="layer" id="layer-(\w+)" value="\w+"( checked)?', html) == [
        ("la", " checked"), ("ward", ""), ("lsoa", ""), ("hex", " checked"), ("premises", " checked")]
    assert len(re.findall(r'name="la" id="la-W06\d{6}"', html)) == 22
    # one legend per theme, only the chosen one shown
    assert len(re.findall(r'data-legend="\w+"', html)) == 5
    assert len(re.findall(r'data-legend="\w+" hidden', html)) == 4
    config = json.loads(re.search(r"GapMap\.init\(\w+, (\{.*\})\);", html).group(1))
    assert config["theme"] == "need" and config["premisesMinZoom"] == 12
    assert config["themes"]["wimd"]["breaks"] == [382, 764, 1145, 1527, 1909]
    assert [g["url"] for g in config["grids"]] == [
        "/tiles/areas/ward/{z}/{x}/{y}.pbf", "/tiles/areas/lsoa/{z}/{x}/{y}.pbf",
        "/tiles/hex/2000/{z}/{x}/{y}.pbf", "/tiles/hex/500/{z}/{x}/{y}.pbf"]
    assert config["premisesTiles"] == "/tiles/premises/{z}/{x}/{y}.pbf"
    assert config["premisesApi"] == "/api/v1/premises/UPRN?lang=en"


def test_several_authorities_selected_give_their_figures_and_total(client, stats):
    html = client.get(f"/cy/?la={CEREDIGION}&la={MERTHYR}&theme=lbf").get_data(as_text=True)
    assert 'id="theme-lbf" value="lbf" checked' in html
    assert f'id="la-{CEREDIGION}" value="{CEREDIGION}" checked' in html
    rows = re.findall(r'<tr><th scope="row">([^<]+)</th>\s*<td class="num">([\d,]+)</td>', html)
    c, m = stats[("la", CEREDIGION)], stats[("la", MERTHYR)]
    assert rows == [("Ceredigion", f"{c['premises']:,}"), ("Merthyr Tudful", f"{m['premises']:,}"),
                    ("Pob un a ddewiswyd", "63,225")]
    config = json.loads(re.search(r"GapMap\.init\(\w+, (\{.*\})\);", html).group(1))
    assert config["selected"] == [CEREDIGION, MERTHYR]
    bad = client.get("/en/?la=W06999999")
    assert bad.status_code == 400


def test_fold_matches_names_however_typed():
    assert fold("Llanfair-ym-Muallt") == fold("llanfair ym muallt") == "llanfair ym muallt"
    assert fold("Ynys Môn") == "ynys mon" and fold("St. David's") == "st david s"
    assert fold("  ") == ""


def test_place_search_finds_towns_villages_and_welsh_authority_names(loaded_settings):
    with psycopg.connect(loaded_settings.conninfo) as conn:
        aberaeron = search_places(conn, "aberaeron")
        assert aberaeron[0]["name"] == "Aberaeron" and aberaeron[0]["kind"] == "town"
        assert aberaeron[0]["exact"] and aberaeron[0]["la_code"] == CEREDIGION
        caerdydd = search_places(conn, "Caerdydd")  # the city (data/osm's table) and the authority
        assert [(p["name"], p["name_cy"], p["kind"]) for p in caerdydd] == [
            ("Cardiff", "Caerdydd", "city"), ("Cardiff", "Caerdydd", "la")]
        prefix = search_places(conn, "llanfair", limit=50)
        assert len(prefix) > 5 and all(fold(p["name"]).startswith("llanfair")
                                       or fold(p["name_cy"] or "").startswith("llanfair")
                                       for p in prefix)
        assert (prefix[0]["name"], prefix[0]["name_cy"]) == ("Builth Wells", "Llanfair-ym-Muallt")
        assert search_places(conn, "x") == [] and search_places(conn, "%") == []


def test_search_box_goes_to_a_place_on_the_map(client):
    found = client.get("/en/search?q=Aberaeron")
    assert found.status_code == 302
    assert found.headers["Location"].startswith("/en/?at=52.2")
    assert found.headers["Location"].endswith(",14&label=Aberaeron")
    page = client.get(found.headers["Location"]).get_data(as_text=True)
    view = json.loads(re.search(r"GapMap\.init\(\w+, (\{.*\})\);", page).group(1))["view"]
    assert view["zoom"] == 14 and view["label"] == "Aberaeron"
    several = client.get("/cy/search?q=llanfa")  # no place is called just that: a list
    assert several.status_code == 200
    html = several.get_data(as_text=True)
    assert "Lleoedd o'r enw “llanfa”" in html
    assert '<li><a href="/cy/?at=' in html and "(pentref, " in html
    nothing = client.get("/en/search?q=Atlantis")
    assert nothing.status_code == 404
    assert client.get("/en/?at=99,0,8").status_code == 400


def test_places_loader_counts_every_row(settings, tmp_path):
    path = tmp_path / "places.geojson"
    feature = lambda props, geom: {"type": "Feature", "properties": props, "geometry": geom}  # noqa: E731
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        feature({"name": "Tregaron", "fclass": "town", "population": "1200"},
                {"type": "Point", "coordinates": [-3.93, 52.22]}),
        feature({"name": None, "fclass": "farm"}, {"type": "Point", "coordinates": [-3.9, 52.2]}),
        feature({"name": "Nowhere", "fclass": "village"}, {"type": "Point", "coordinates": [40.0, 10.0]}),
        feature({"name": "Line", "fclass": "locality"},
                {"type": "LineString", "coordinates": [[-3.9, 52.2], [-3.8, 52.3]]}),
    ]}))
    result = run_load(settings, LOADERS["places"](), [path])
    assert (result.rows_read, result.rows_loaded, result.rows_rejected, result.rows_filtered) == (4, 1, 2, 1)
    with psycopg.connect(settings.conninfo) as conn:
        assert conn.execute("SELECT name, name_key, kind, population FROM gapmap.place").fetchall() == [
            ("Tregaron", "tregaron", "town", 1200)]
        rejects = conn.execute("SELECT line, column_name, value, reason FROM gapmap.reject "
                               "ORDER BY line").fetchall()
    assert rejects == [(3, "geometry", "5446707,-4047874", "outside Great Britain (British National Grid extent)"),
                       (4, "geometry", "LineString", "a place must be a point")]


def _pixel(lon: float, lat: float, z: int) -> tuple[float, float]:
    """A WGS84 point's position in web-mercator pixels (256 a tile) at zoom ``z``."""
    import math

    n = 256 * 2 ** z
    return ((lon + 180) / 360 * n,
            (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)


def test_premises_tiles_hold_the_dots_just_beyond_their_edges(client, loaded_settings):
    """A dot is drawn up to 6 px (radius 5, outline 1) round its premises: the tile beside the
    premises' own must hold it too, or the dot is cut at the tile's edge (issue 19)."""
    from connectivity.tilearchive import archive_tile

    with psycopg.connect(loaded_settings.conninfo) as conn:
        rows = conn.execute(
            "SELECT c.uprn, ST_X(ST_Transform(p.geom, 4326)), ST_Y(ST_Transform(p.geom, 4326)) "
            "FROM gapmap.premises_class c JOIN gapmap.premises p USING (uprn) "
            "ORDER BY c.uprn LIMIT 2000").fetchall()
        # a premises 2 to 6 px right of a zoom 15 tile's left edge: inside its own tile, and
        # outside the left neighbour by more than the old 1 px buffer
        uprn, px, tx, ty = next(
            (u, x % 256, int(x // 256), int(y // 256)) for u, lon, lat in rows
            for x, y in [_pixel(lon, lat, 15)] if 2 <= x % 256 <= 6 and 8 <= y % 256 <= 248)
        tile = decode(client.get(f"/tiles/premises/15/{tx - 1}/{ty}.pbf"))
        found = [f for f in tile["premises"]["features"] if f["properties"]["uprn"] == uprn]
        assert len(found) == 1
        x, _y = found[0]["geometry"]["coordinates"]
        assert x == round(4096 + px * 16)  # beyond the tile's right edge (4096), where it is
        # the static archive's tiles are made by the same function: the same dot is there
        archived = mapbox_vector_tile.decode(archive_tile(conn, 15, tx - 1, ty))
        assert uprn in {f["properties"]["uprn"] for f in archived["premises"]["features"]}
        # and the tiles carry each premises' postcode (the postcode map highlights its own)
        postcode = conn.execute("SELECT postcode FROM gapmap.premises_class WHERE uprn = %s",
                                (uprn,)).fetchone()[0]
        assert found[0]["properties"]["postcode"] == postcode


def test_a_postcodes_bounds_are_its_premises_padded_and_none_without_premises(loaded_settings):
    import math

    from connectivity.lookup import postcode_detail

    with psycopg.connect(loaded_settings.conninfo) as conn:
        postcode = conn.execute(
            "SELECT postcode FROM gapmap.premises_class WHERE postcode IS NOT NULL "
            "GROUP BY 1 HAVING count(*) >= 3 ORDER BY count(*) DESC, 1 LIMIT 1").fetchone()[0]
        data = postcode_detail(conn, postcode)
        empty = conn.execute(
            "SELECT p.postcode FROM gapmap.postcode p WHERE NOT EXISTS (SELECT 1 FROM "
            "gapmap.premises_class c WHERE c.postcode = p.postcode) ORDER BY 1 LIMIT 1").fetchone()[0]
        none = postcode_detail(conn, empty)
    (south, west), (north, east) = data["bounds"]
    lats = [p["location"]["lat"] for p in data["premises"]]
    lons = [p["location"]["lon"] for p in data["premises"]]
    metres_lat = 111_320
    metres_lon = 111_320 * math.cos(math.radians(min(lats)))
    # every side 40 m beyond the outermost premises (give or take the grid's few degrees' turn)
    for pad in ((min(lats) - south) * metres_lat, (north - max(lats)) * metres_lat,
                (min(lons) - west) * metres_lon, (east - max(lons)) * metres_lon):
        assert 37 <= pad <= 45, data["bounds"]
    assert none["premises"] == [] and none["bounds"] is None
