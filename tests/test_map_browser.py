"""The web map's faults residents and planners tripped over (issue 19), in a real Chromium."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


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
    assert page.locator(".folium-map").count() == 1  # the map is drawn, premises or none
    centre = page.evaluate("[window.gapmap.getCenter().lat, window.gapmap.getCenter().lng, window.gapmap.getZoom()]")
    assert abs(centre[0] - lat) < 1e-5 and abs(centre[1] - lon) < 1e-5 and centre[2] == 16


def _premises(conn, where: str = "TRUE") -> tuple[int, float, float]:
    return conn.execute(
        f"""SELECT c.uprn, ST_Y(ST_Transform(p.geom, 4326)), ST_X(ST_Transform(p.geom, 4326))
            FROM gapmap.premises_class c JOIN gapmap.premises p USING (uprn)
            WHERE {where} ORDER BY c.uprn LIMIT 1""").fetchone()


def _click(page, lat: float, lon: float) -> None:
    """Click the map at a point once a vector tile's dot is drawn there."""
    page.wait_for_function("""([lat, lon]) => { const p = window.gapmap.latLngToContainerPoint([lat, lon]);
        const r = window.gapmap.getContainer().getBoundingClientRect();
        const e = document.elementFromPoint(r.left + p.x, r.top + p.y);
        return e && e.tagName === 'path' && !!e.closest('.leaflet-tile'); }""", arg=[lat, lon])
    point = page.evaluate("""([lat, lon]) => { const p = window.gapmap.latLngToContainerPoint([lat, lon]);
        const r = window.gapmap.getContainer().getBoundingClientRect();
        return {x: r.left + p.x, y: r.top + p.y}; }""", [lat, lon])
    page.mouse.click(point["x"], point["y"])


def _settled(page) -> None:
    """Wait until the map has stopped panning."""
    page.wait_for_function("() => !(window.gapmap._panAnim && window.gapmap._panAnim._inProgress)")
    page.wait_for_timeout(400)
    page.wait_for_function("() => !(window.gapmap._panAnim && window.gapmap._panAnim._inProgress)")


def test_a_premises_popup_near_the_top_edge_opens_inside_the_map(page, live_server, loaded_settings):
    import psycopg

    with psycopg.connect(loaded_settings.conninfo) as conn:
        uprn, lat, lon = _premises(conn, "c.status = 'below' AND c.evidence = 'ofcom-api'")
    page.goto(f"{live_server}/en/")
    page.wait_for_load_state("networkidle")
    # the premises 30 px below the map's top edge, at zoom 17
    page.evaluate("""([lat, lon]) => { const m = window.gapmap, h = m.getSize().y;
        const p = m.project([lat, lon], 17).add([0, h / 2 - 30]);
        m.setView(m.unproject(p, 17), 17, {animate: false}); }""", [lat, lon])
    page.wait_for_load_state("networkidle")
    _click(page, lat, lon)
    page.wait_for_function("() => document.querySelector('.gm-more') && "
                           "document.querySelector('.gm-more').textContent.includes('Access Broadband Cymru')")
    _settled(page)
    assert f"UPRN {uprn}" in page.locator(".gm-popup").inner_text()
    popup = page.locator(".leaflet-popup").bounding_box()
    frame = page.locator(".folium-map").bounding_box()
    assert popup["y"] >= frame["y"] and popup["y"] + popup["height"] <= frame["y"] + frame["height"]
    assert popup["x"] >= frame["x"] and popup["x"] + popup["width"] <= frame["x"] + frame["width"]
    assert page.failed == []


#: what the map draws at its zoom now: authorities filled, and the vector tiles of each grid at
#: the tile zoom it now shows (tiles of other zooms kept for the transition do not count)
DRAWN = """() => { const m = window.gapmap; let filled = 0, paths = 0;
    GapMap.state.layers.la.eachLayer(l => { if (m.hasLayer(l) && l.options.fill && l.options.fillOpacity > 0) filled++; });
    m.eachLayer(l => { if (!l._tiles || !l.options.vectorTileLayerStyles || l._tileZoom === undefined) return;
        Object.values(l._tiles).forEach(t => { if (t.current && t.coords.z === l._tileZoom && t.loaded)
            paths += t.el.querySelectorAll('path').length; }); });
    return filled + paths; }"""


#: the zooms the walk below visits: each band of zooms the map draws differently, at its first
#: and its last quarter zoom and where its style or its labels change within. Leaflet draws a
#: grid at Math.round(zoom) (gapmap.js wholeZooms; webmap/mapview.py gives the bands):
#: authorities filled while round(zoom) < 10 (laFilledBelow); 2 km hexagons at round 10, 500 m
#: hexagons at 11; premises from 12 (PREMISES_MIN_ZOOM), native to 16 and scaled up to 18 (the
#: map's maxZoom), dots larger from 15; the base map labels cities from 8, postcodes from 14
#: (connectivity/basemap.py). A quarter zoom either side of each break is where nothing was
#: once drawn (9.75, 10.25).
ZOOM_WALK = (6, 8, 9.25,                 # authorities filled: the map's minZoom, labels, last
             9.5, 9.75, 10.25,           # 2 km hexagons
             10.5, 10.75, 11.25,         # 500 m hexagons
             11.5, 11.75, 13, 14, 15, 16.25,  # premises tiles of their own zoom
             16.5, 18)                   # premises tiles of zoom 16 scaled up, to the maxZoom


def test_every_zoom_band_the_map_can_reach_draws_something(page, live_server, loaded_settings):
    import psycopg

    with psycopg.connect(loaded_settings.conninfo) as conn:
        _uprn, lat, lon = _premises(conn, "c.status = 'below' AND c.evidence = 'ofcom-api'")
    page.goto(f"{live_server}/en/")
    page.wait_for_load_state("networkidle")
    empty = []
    for zoom in ZOOM_WALK:
        page.evaluate("([lat, lon, z]) => window.gapmap.setView([lat, lon], z, {animate: false})",
                      [lat, lon, zoom])
        assert page.evaluate("window.gapmap.getZoom()") == zoom
        try:
            page.wait_for_function(DRAWN, timeout=5000)
        except Exception:  # noqa: BLE001 - playwright's TimeoutError: nothing drawn
            empty.append(zoom)
    assert empty == []
    # an authority chosen in the address is fitted to a fractional zoom, and drawn there
    for code, fitted in (("W06000008", 9.75), ("W06000024", 11.25)):
        page.goto(f"{live_server}/en/?la={code}")
        page.wait_for_load_state("networkidle")
        assert page.evaluate("window.gapmap.getZoom()") == fitted
        page.wait_for_function(DRAWN, timeout=5000)
    assert page.failed == []


@pytest.mark.parametrize(("lang", "name"), [("en", "Map data sources and copyright"),
                                            ("cy", "Ffynonellau data'r map a hawlfraint")])
@pytest.mark.parametrize("which", ["main", "postcode"])
def test_the_attribution_is_folded_and_the_scale_bar_shows(page, live_server, loaded_settings,
                                                           lang, name, which):
    import psycopg

    path = f"/{lang}/"
    if which == "postcode":
        with psycopg.connect(loaded_settings.conninfo) as conn:
            path = f"/{lang}/postcode/{_postcode_with_premises(conn).replace(' ', '')}"
    page.goto(live_server + path)
    page.wait_for_load_state("networkidle")
    attribution = page.locator(".leaflet-control-attribution")
    button = page.locator(".gm-attribution-toggle button")
    assert not attribution.is_visible()
    assert button.get_attribute("aria-label") == name
    assert button.get_attribute("aria-expanded") == "false"
    box = button.bounding_box()
    assert box["width"] <= 40 and box["height"] <= 40
    # the scale bar is drawn and nothing lies over it
    scale = page.locator(".leaflet-control-scale-line").first
    assert scale.is_visible()
    s = scale.bounding_box()
    on_top = page.evaluate("([x, y]) => !!document.elementFromPoint(x, y).closest('.leaflet-control-scale')",
                           [s["x"] + s["width"] / 2, s["y"] + s["height"] / 2])
    assert on_top
    # by keyboard: Tab reaches the button, Enter opens the sources, Space folds them again
    button.focus()
    page.keyboard.press("Enter")
    assert attribution.is_visible() and button.get_attribute("aria-expanded") == "true"
    assert "OpenStreetMap" in attribution.inner_text()
    page.keyboard.press("Space")
    assert not attribution.is_visible() and button.get_attribute("aria-expanded") == "false"
    assert page.failed == []


def test_the_postcode_map_popup_links_to_a_report_about_that_premises(page, live_server, loaded_settings):
    import psycopg

    with psycopg.connect(loaded_settings.conninfo) as conn:
        postcode = _postcode_with_premises(conn)
        uprn, lat, lon = _premises(conn, f"c.postcode = '{postcode}'")
    compact = postcode.replace(" ", "")
    page.goto(f"{live_server}/en/postcode/{compact}")
    page.wait_for_load_state("networkidle")
    page.wait_for_function("() => document.querySelectorAll('.leaflet-tile path').length > 0")
    _click(page, lat, lon)
    popup = page.wait_for_selector(".gm-popup")
    clicked = int(popup.inner_text().split("UPRN ")[1].split(":")[0])  # dots may touch: the one hit
    link = page.locator(".gm-popup a")
    assert link.inner_text() == "Report a problem with this premises"
    assert link.get_attribute("href") == f"/en/postcode/{compact}/report?uprn={clicked}"
    assert clicked == uprn or clicked > 0
    assert page.failed == []
