"""The web map's faults residents and planners tripped over (issue 19), in a real Chromium."""

from __future__ import annotations

import pytest

from tests.test_browser import ARGS, CHROMIUM, watch_csp  # noqa: F401

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield instance
        instance.close()


@pytest.fixture()
def page(browser, live_server):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    pg = context.new_page()
    pg.failed = []
    pg.on("requestfailed", lambda r: pg.failed.append(r.url))
    pg.on("response", lambda r: pg.failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    pg.route(lambda url: not url.startswith(live_server), lambda route: route.abort())
    pg.csp = watch_csp(pg)
    yield pg
    context.close()
    assert pg.csp == []


def _postcode_with_premises(conn, least: int = 3) -> str:
    """A postcode with at least ``least`` premises, spread over some ground."""
    return conn.execute(
        """SELECT c.postcode FROM gapmap.premises_class c JOIN gapmap.premises p USING (uprn)
           WHERE c.postcode IS NOT NULL GROUP BY 1 HAVING count(*) >= %s
           ORDER BY ST_XMax(ST_Extent(p.geom)) - ST_XMin(ST_Extent(p.geom)) DESC, 1 LIMIT 1""",
        (least,)).fetchone()[0]


def _in_view(page, points) -> list[bool]:
    return page.evaluate("""(points) => { const b = window.gapmap.getBounds();
        return points.map(p => b.contains([p[0], p[1]])); }""", points)


def test_the_postcode_map_fits_its_premises_and_highlights_them(page, live_server, loaded_settings):
    import psycopg

    with psycopg.connect(loaded_settings.conninfo) as conn:
        postcode = _postcode_with_premises(conn)
        ours = conn.execute(
            """SELECT ST_Y(ST_Transform(p.geom, 4326)), ST_X(ST_Transform(p.geom, 4326))
               FROM gapmap.premises_class c JOIN gapmap.premises p USING (uprn)
               WHERE c.postcode = %s""", (postcode,)).fetchall()
    page.goto(f"{live_server}/en/postcode/{postcode.replace(' ', '')}")
    page.wait_for_load_state("networkidle")
    page.wait_for_function("() => document.querySelectorAll('.leaflet-tile path').length > 0")
    # every premises of the postcode is in view, at a zoom that fits them (not a fixed 16)
    assert all(_in_view(page, ours)), postcode
    zoom = page.evaluate("window.gapmap.getZoom()")
    assert zoom != 16 and 11 <= zoom <= 18
    # its own premises are drawn larger and darker than their neighbours
    radii = page.evaluate("""(postcode) => { const out = {own: [], other: []};
        window.gapmap.eachLayer(l => { if (l._tiles && l.options.vectorTileLayerStyles) {
            Object.values(l._vectorTiles || {}).forEach(t => Object.values(t._features || {}).forEach(f => {
                (f.feature.properties.postcode === postcode ? out.own : out.other).push(f.feature.options.radius); })); } });
        return out; }""", postcode)
    assert radii["own"] and set(radii["own"]) <= {5, 7}
    assert radii["other"] and max(radii["other"]) < min(radii["own"])
    assert page.failed == []


def test_a_postcode_without_premises_opens_at_its_centroid(page, live_server, loaded_settings):
    import psycopg

    with psycopg.connect(loaded_settings.conninfo) as conn:
        postcode, lat, lon = conn.execute(
            """SELECT p.postcode, ST_Y(ST_Transform(p.geom, 4326)), ST_X(ST_Transform(p.geom, 4326))
               FROM gapmap.postcode p WHERE NOT EXISTS (SELECT 1 FROM gapmap.premises_class c
                                                         WHERE c.postcode = p.postcode)
               ORDER BY 1 LIMIT 1""").fetchone()
    page.goto(f"{live_server}/en/postcode/{postcode.replace(' ', '')}")
    page.wait_for_load_state("networkidle")
    if page.locator(".folium-map").count() == 0:
        pytest.skip("the postcode page shows no map for a postcode without premises")
    centre = page.evaluate("[window.gapmap.getCenter().lat, window.gapmap.getCenter().lng, window.gapmap.getZoom()]")
    assert abs(centre[0] - lat) < 1e-5 and abs(centre[1] - lon) < 1e-5 and centre[2] == 16
