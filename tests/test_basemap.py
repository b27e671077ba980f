"""The offline base map: land and labels from /api/v1/base against the bundled data, its errors
and caching, and the layer in a real browser (basemap.js called on the real map page)."""

from __future__ import annotations

import json
import math

import psycopg
import pytest

from connectivity.basemap import CELL_PX, MAX_LABELS, has_welsh_names
from tests.conftest import TEST_SECRET, app_for, open_page

CARDIGAN_BAY = "-5.0,51.9,-4.3,52.3"  # Fishguard to Newcastle Emlyn
CARDIGAN = "-4.72,52.05,-4.6,52.12"
CARDIGAN_CENTRE = "-4.668,52.078,-4.652,52.088"


def names(response) -> list[tuple[str, str, int]]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return [(f["properties"]["name"], f["properties"]["kind"], f["properties"]["rank"])
            for f in response.get_json()["features"]]


def test_land_at_zoom_7_is_one_multipolygon_covering_the_authorities(client, loaded_settings):
    response = client.get("/api/v1/base/land.geojson?zoom=7")
    assert response.status_code == 200
    assert response.mimetype == "application/geo+json"
    assert response.headers["Cache-Control"] == "public, max-age=300"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    data = response.get_json()
    assert data["type"] == "FeatureCollection" and len(data["features"]) == 1
    feature = data["features"][0]
    assert feature["properties"] == {"zoom": 7, "tolerance_m": 500}
    assert feature["geometry"]["type"] == "MultiPolygon"
    with psycopg.connect(loaded_settings.conninfo) as conn:
        covered, authorities, ratio = conn.execute(
            """WITH land AS (SELECT ST_Transform(ST_SetSRID(ST_GeomFromGeoJSON(%s), 4326), 27700)
                                    AS g)
               SELECT count(*) FILTER (WHERE ST_DWithin(land.g, ST_PointOnSurface(a.geom), 500)),
                      count(*),
                      ST_Area(land.g) / (SELECT ST_Area(ST_Union(geom)) FROM gapmap.area
                                         WHERE level = 'la')
               FROM land, gapmap.area a WHERE a.level = 'la' GROUP BY land.g""",
            (json.dumps(feature["geometry"]),)).fetchone()
    assert (covered, authorities) == (22, 22)
    assert 0.98 < ratio < 1.02


def test_land_is_finer_as_the_zoom_grows_and_shared_outside_zooms_5_to_13(client):
    def vertices(zoom):
        geometry = client.get(f"/api/v1/base/land.geojson?zoom={zoom}").get_json()[
            "features"][0]["geometry"]
        return sum(len(ring) for polygon in geometry["coordinates"] for ring in polygon)

    assert vertices(5) < vertices(7) < vertices(9) < vertices(11) < vertices(13)
    low = client.get("/api/v1/base/land.geojson?zoom=0")
    assert low.get_json()["features"][0]["properties"] == {"zoom": 5, "tolerance_m": 2000}
    assert low.headers["ETag"] == client.get("/api/v1/base/land.geojson?zoom=5").headers["ETag"]
    high = client.get("/api/v1/base/land.geojson?zoom=18").get_json()
    assert high["features"][0]["properties"] == {"zoom": 13, "tolerance_m": 5}


def test_labels_at_zoom_9_around_cardigan_are_its_towns_largest_first(client):
    assert names(client.get(f"/api/v1/base/labels.geojson?bbox={CARDIGAN_BAY}&zoom=9&lang=en")) \
        == [("Fishguard", "town", 1), ("Cardigan", "town", 2), ("Newcastle Emlyn", "town", 3)]
    # towns are not labelled at zoom 8 (cities only: none here), nothing below it
    assert names(client.get(f"/api/v1/base/labels.geojson?bbox={CARDIGAN_BAY}&zoom=8&lang=en")) \
        == []
    response = client.get(f"/api/v1/base/labels.geojson?bbox={CARDIGAN_BAY}&zoom=7&lang=en")
    assert response.get_json() == {"type": "FeatureCollection", "features": []}


def test_labels_in_welsh_use_the_welsh_name_where_one_is_known(client, loaded_settings):
    cy = names(client.get(f"/api/v1/base/labels.geojson?bbox={CARDIGAN_BAY}&zoom=9&lang=cy"))
    with psycopg.connect(loaded_settings.conninfo) as conn:
        welsh = has_welsh_names(conn)
    if welsh:  # migration 0010 and data/osm/wales_place_names_cy.csv
        assert cy == [("Abergwaun", "town", 1), ("Aberteifi", "town", 2),
                      ("Castellnewydd Emlyn", "town", 3)]
    else:
        assert cy == [("Fishguard", "town", 1), ("Cardigan", "town", 2),
                      ("Newcastle Emlyn", "town", 3)]


def test_villages_from_zoom_11_thinned_to_one_label_a_cell(client, loaded_settings):
    labels = names(client.get(f"/api/v1/base/labels.geojson?bbox={CARDIGAN}&zoom=11&lang=en"))
    assert labels == [("Cardigan", "town", 1), ("Cilgerran", "village", 2),
                      ("Llangoedmor", "village", 3), ("St Dogmaels", "village", 4),
                      ("Penparc", "village", 5), ("Gwbert", "village", 6)]
    with psycopg.connect(loaded_settings.conninfo) as conn:
        in_box = conn.execute(
            """SELECT count(*) FROM gapmap.place WHERE kind IN ('town', 'village')
               AND ST_Transform(geom, 4326) && ST_MakeEnvelope(-4.72, 52.05, -4.6, 52.12, 4326)
            """).fetchone()[0]
    assert in_box > len(labels)  # the grid left some out
    # no hamlets before zoom 13, no farms before 15
    kinds = {k for _, k, _ in names(client.get(
        f"/api/v1/base/labels.geojson?bbox={CARDIGAN}&zoom=12&lang=en"))}
    assert kinds <= {"city", "town", "village", "suburb"}
    kinds = {k for _, k, _ in names(client.get(
        f"/api/v1/base/labels.geojson?bbox={CARDIGAN}&zoom=13&lang=en"))}
    assert "hamlet" in kinds and "farm" not in kinds


def test_no_two_labels_share_a_grid_cell_and_the_answer_is_bounded(client):
    response = client.get("/api/v1/base/labels.geojson?bbox=-5.4,51.3,-2.6,53.5&zoom=11&lang=en")
    features = response.get_json()["features"]
    assert 0 < len(features) <= MAX_LABELS
    resolution = 2 * math.pi * 6378137 / (256 * 2 ** 11)
    cells = set()
    for f in features:
        lon, lat = f["geometry"]["coordinates"]
        x = math.radians(lon) * 6378137
        y = 6378137 * math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))
        cells.add((math.floor(x / (CELL_PX[0] * resolution)),
                   math.floor(y / (CELL_PX[1] * resolution))))
    assert len(cells) == len(features)
    assert [f["properties"]["rank"] for f in features] == list(range(1, len(features) + 1))


def test_postcodes_are_labelled_from_zoom_14_after_the_places(client):
    labels = names(client.get(
        f"/api/v1/base/labels.geojson?bbox={CARDIGAN_CENTRE}&zoom=14&lang=en"))
    assert labels == [("Cardigan", "town", 1), ("SA43 1AA", "postcode", 2),
                      ("SA43 1AB", "postcode", 3), ("SA43 1BJ", "postcode", 4),
                      ("SA43 1BS", "postcode", 5), ("SA43 1BT", "postcode", 6),
                      ("SA43 1DD", "postcode", 7), ("SA43 3AA", "postcode", 8),
                      ("SA43 3AD", "postcode", 9), ("SA43 3AJ", "postcode", 10),
                      ("SA43 3AN", "postcode", 11)]
    assert "postcode" not in {k for _, k, _ in names(client.get(
        f"/api/v1/base/labels.geojson?bbox={CARDIGAN_CENTRE}&zoom=13&lang=en"))}


def test_an_unchanged_answer_is_304_with_its_etag(client):
    url = f"/api/v1/base/labels.geojson?bbox={CARDIGAN_BAY}&zoom=9&lang=en"
    first = client.get(url)
    etag = first.headers["ETag"]
    again = client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.headers["ETag"] == etag
    assert client.get(url.replace("lang=en", "lang=cy")).headers["ETag"] != etag


@pytest.mark.parametrize("query, message", [
    ("land.geojson", "zoom must be a whole number from 0 to 22, got None"),
    ("land.geojson?zoom=x", "zoom must be a whole number from 0 to 22, got 'x'"),
    ("land.geojson?zoom=23", "zoom must be a whole number from 0 to 22, got 23"),
    ("land.geojson?zoom=-1", "zoom must be a whole number from 0 to 22, got '-1'"),
    ("land.geojson?zoom=%C2%B2", "zoom must be a whole number from 0 to 22, got '²'"),
    (f"labels.geojson?bbox={CARDIGAN}&zoom=9", "lang must be en or cy, got None"),
    (f"labels.geojson?bbox={CARDIGAN}&zoom=9&lang=fr", "lang must be en or cy, got 'fr'"),
    ("labels.geojson?zoom=9&lang=en", "bbox must be four numbers: west,south,east,north (WGS84)"),
    ("labels.geojson?bbox=1,2,3&zoom=9&lang=en",
     "bbox must be four numbers: west,south,east,north (WGS84)"),
    ("labels.geojson?bbox=-4,52,-5,53&zoom=9&lang=en",
     "bbox must be west,south,east,north with -180 <= west < east <= 180 and -90 <= south < "
     "north <= 90"),
    ("labels.geojson?bbox=-4,52,-3,89&zoom=9&lang=en",
     "bbox latitudes must be within -85.0511 and 85.0511 (the web map's projection)"),
    ("labels.geojson?bbox=-5.4,51.3,-2.6,53.5&zoom=14&lang=en",
     "bbox is too large for zoom 14: at most 8192 pixels a side, this one is 42021; zoom in or "
     "ask for less"),
])
def test_bad_requests_get_400_in_the_api_error_shape(client, query, message):
    response = client.get(f"/api/v1/base/{query}")
    assert response.status_code == 400
    assert response.get_json() == {"error": {"status": 400, "code": "bad_request",
                                             "message": message}}


def test_answers_follow_the_data_version_and_are_empty_before_any_load(settings):
    from etl import LOADERS, run_load

    with app_for(settings.replace(secret_key=TEST_SECRET)) as app:
        client = app.test_client()
        empty = client.get("/api/v1/base/land.geojson?zoom=7")
        assert empty.get_json() == {"type": "FeatureCollection", "features": []}
        assert client.get(f"/api/v1/base/labels.geojson?bbox={CARDIGAN}&zoom=11&lang=cy"
                          ).get_json() == {"type": "FeatureCollection", "features": []}
        run_load(settings, LOADERS["boundaries"](),
                 [settings.data_dir / "boundaries/wales_lad_2025_05_bgc.geojson.gz"],
                 options={"level": "la"})
        loaded = client.get("/api/v1/base/land.geojson?zoom=7")
        assert len(loaded.get_json()["features"]) == 1  # not the cached empty answer
        assert loaded.headers["ETag"] != empty.headers["ETag"]


# -- in a real browser ------------------------------------------------------------------------

def wait_until(page, script: str, arg=None, timeout: float = 10.0):
    """Poll ``script`` (a function) until it returns something true; wait_for_function would
    evaluate a string, which the page's Content-Security-Policy forbids."""
    import time

    end = time.monotonic() + timeout
    while True:
        value = page.evaluate(script, arg)
        if value or time.monotonic() > end:
            assert value, f"timed out waiting for {script}"
            return value
        page.wait_for_timeout(100)


@pytest.fixture()
def page(browser, live_server):
    """The shared page (conftest.open_page), but stale label requests the layer cancels are
    expected, not failures: they are kept in ``page.aborted``."""
    pg = open_page(browser, live_server, expected_abort=lambda r: r.failure == "net::ERR_ABORTED"
                   and "/api/v1/base/" in r.url)
    yield pg
    pg.context.close()
    assert pg.csp == [], "Content-Security-Policy violations"


@pytest.mark.browser
@pytest.mark.parametrize("lang", ["en", "cy"])
def test_the_base_map_draws_land_and_labels_on_the_real_map_page(page, live_server, lang,
                                                                 loaded_settings):
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(f"{live_server}/{lang}/")
    page.wait_for_selector("path.leaflet-interactive")
    # the page calls the base map itself once its first view is set (gapmap.js), then folium
    # fits Wales with a zoom animation: move the map only once that has ended, or the end of the
    # animation would move it back
    wait_until(page, "() => window.gapmap && window.gapmap._gapmapBase !== undefined "
                     "&& !window.gapmap._animatingZoom && window.gapmap.getZoom() === 7.75")
    page.evaluate("""(lang) => {
        window.gapmap.setView([52.083, -4.66], 11, {animate: false});
        window.testBase = window.GapMapBase(window.gapmap, {lang: lang,
            landUrl: '/api/v1/base/land.geojson', labelsUrl: '/api/v1/base/labels.geojson'});
    }""", lang)
    with psycopg.connect(loaded_settings.conninfo) as conn:
        welsh = has_welsh_names(conn)
    cardigan = "Aberteifi" if lang == "cy" and welsh else "Cardigan"
    # the labels of zoom 11 around Cardigan replace the page's first ones once the map settles
    visible = """() => Array.from(document.querySelectorAll(
        '.gapmap-label:not(.gapmap-label-hidden) .gapmap-label-text')).map(e => e.textContent)"""
    wait_until(page, f"() => ({visible})().includes({json.dumps(cardigan)})")
    wait_until(page, "() => window.testBase.land !== null")
    texts = page.evaluate(visible)
    if lang == "en":  # the villages around it (St Dogmaels would touch Cardigan: hidden)
        assert {"Cilgerran", "Gwbert", "Penparc", "Aberporth"} <= set(texts)
    assert len(texts) == page.evaluate("window.testBase.shown")
    assert "Cardiff" not in texts and "Caerdydd" not in texts  # out of view
    # the panes sit beneath / above as designed, take no pointer and are hidden from readers
    panes = page.evaluate("""() => ['gapmapLand', 'gapmapLabels'].map(n => {
        const p = window.gapmap.getPane(n);
        return [p.style.zIndex, getComputedStyle(p).pointerEvents, p.getAttribute('aria-hidden'),
                p.querySelectorAll('path').length];
    })""")
    assert panes[0][:3] == ["150", "none", "true"] and panes[0][3] >= 1
    assert panes[1][:3] == ["450", "none", "true"]
    # the labels left visible do not overlap
    overlaps = page.evaluate("""() => {
        const r = Array.from(document.querySelectorAll(
            '.gapmap-label:not(.gapmap-label-hidden) .gapmap-label-text'))
            .map(e => e.getBoundingClientRect());
        let n = 0;
        for (let i = 0; i < r.length; i++) for (let j = i + 1; j < r.length; j++)
            if (r[i].left < r[j].right && r[j].left < r[i].right && r[i].top < r[j].bottom &&
                r[j].top < r[i].bottom) n++;
        return n;
    }""")
    assert overlaps == 0
    # the land's pixels: the land colour is drawn where the authorities are not filled (zoom 11)
    from io import BytesIO

    from PIL import Image

    image = Image.open(BytesIO(page.locator(".map-frame").screenshot())).convert("RGB")
    land = sum(n for n, c in image.getcolors(maxcolors=1 << 20) if c == (0xF4, 0xF1, 0xEA))
    assert land > 0.05 * image.width * image.height
    # panning refetches the labels once the map settles
    before = sum("/api/v1/base/labels.geojson" in u for u in requests)
    page.evaluate("window.gapmap.panBy([600, 0], {animate: false})")
    wait_until(page, """(before) => performance.getEntriesByType('resource').filter(
        e => e.name.includes('/api/v1/base/labels.geojson')).length > before""", before)
    assert page.evaluate("window.GapMapBase(window.gapmap, {}) === window.testBase")
    assert errors == [] and page.failed == [] and page.external == []
    assert all(u.startswith(live_server) for u in requests)
