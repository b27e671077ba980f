"""The map in a real browser: Debian's Chromium driven by Playwright, axe-core for accessibility."""

from __future__ import annotations

import pytest

from tests.conftest import axe_run

pytestmark = pytest.mark.browser


def test_the_map_renders_22_authorities_with_no_failed_or_external_requests(page, live_server):
    page.goto(f"{live_server}/en/")
    page.wait_for_selector("path.leaflet-interactive")
    assert page.locator("path.leaflet-interactive").count() == 22
    assert page.failed == [] and page.external == []
    # pixels: the map frame is not blank - the fills of the authorities are drawn
    png = page.locator(".map-frame").screenshot()
    from io import BytesIO

    from PIL import Image

    image = Image.open(BytesIO(png)).convert("RGB")
    colours = image.getcolors(maxcolors=1 << 20)
    background = (0xD4, 0xE4, 0xF2)
    drawn = sum(n for n, c in colours if c != background and c != (255, 255, 255))
    assert drawn > 0.15 * image.width * image.height


def test_hovering_an_authority_shows_its_names_and_count(page, live_server):
    page.goto(f"{live_server}/cy/")
    page.wait_for_selector("path.leaflet-interactive")
    box = page.evaluate("""() => {
        const layers = []; window.gapmap.eachLayer(l => { if (l.feature) layers.push(l); });
        const cardiff = layers.find(l => l.feature.properties.code === 'W06000015');
        const p = window.gapmap.latLngToContainerPoint(cardiff.getBounds().getCenter());
        const r = window.gapmap.getContainer().getBoundingClientRect();
        return {x: r.left + p.x, y: r.top + p.y};
    }""")
    page.mouse.move(box["x"], box["y"])
    tooltip = page.wait_for_selector(".leaflet-tooltip")
    text = tooltip.inner_text()
    assert "Caerdydd (Cardiff)" in text and "7,678" in text


def test_the_language_switch_and_keyboard_skip_link(page, live_server):
    page.goto(f"{live_server}/en/")
    page.click("text=Cymraeg")
    page.wait_for_url(f"{live_server}/cy/")
    assert page.locator("html").get_attribute("lang") == "cy"
    assert page.locator("h1").inner_text() == "Map bylchau band eang Cymru"
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent")
    assert focused == "Neidio i'r prif gynnwys"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    # the zoom buttons are labelled in Welsh and reachable by keyboard
    assert page.locator("a.leaflet-control-zoom-in").get_attribute("title") == "Chwyddo i mewn"


@pytest.mark.parametrize("path", ["/en/", "/cy/", "/en/areas", "/cy/areas", "/en/missing",
                                  "/en/postcode/{pc}", "/cy/postcode/{pc}", "/en/search?q=nowhere",
                                  "/cy/search?q=llanfa", "/en/postcode/{pc}/report",
                                  "/cy/postcode/{pc}/report", "/en/?la=W06000008,W06000024"])
def test_axe_finds_no_serious_or_critical_violations(page, live_server, path, loaded_settings):
    import psycopg

    with psycopg.connect(loaded_settings.conninfo) as conn:
        pc = conn.execute("SELECT replace(postcode, ' ', '') FROM gapmap.premises_class "
                          "WHERE status = 'below' ORDER BY uprn LIMIT 1").fetchone()[0]
    page.goto(f"{live_server}{path.format(pc=pc)}")
    result = axe_run(page)
    serious = [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert serious == []


def test_a_phone_screen_gets_the_map_and_legend_stacked(browser, live_server):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    pg = context.new_page()
    pg.route(lambda url: not url.startswith(live_server), lambda route: route.abort())
    pg.goto(f"{live_server}/en/")
    pg.wait_for_selector("path.leaflet-interactive")
    frame = pg.locator(".map-frame").bounding_box()
    legend = pg.locator(".legend").bounding_box()
    assert frame["width"] <= 390 and legend["y"] >= frame["y"] + frame["height"]
    assert pg.evaluate("document.documentElement.scrollWidth") <= 390
    context.close()


def test_premises_tiles_draw_coloured_by_status_when_zoomed_in(page, live_server, loaded_settings):
    import psycopg

    with psycopg.connect(loaded_settings.conninfo) as conn:
        lon, lat = conn.execute(
            "SELECT ST_X(ST_Transform(p.geom, 4326)), ST_Y(ST_Transform(p.geom, 4326)) "
            "FROM gapmap.premises_class c JOIN gapmap.premises p USING (uprn) "
            "WHERE c.status = 'below' ORDER BY c.uprn LIMIT 1").fetchone()
    page.goto(f"{live_server}/en/")
    page.wait_for_load_state("networkidle")  # the initial fitBounds must be over
    assert page.evaluate("document.querySelectorAll('.leaflet-tile path').length") == 0  # zoom < 11
    page.evaluate(f"window.gapmap.setView([{lat}, {lon}], 15, {{animate: false}})")
    page.wait_for_function("() => document.querySelectorAll('.leaflet-tile path').length > 0", timeout=15000)
    fills = page.evaluate(
        "Array.from(document.querySelectorAll('.leaflet-tile path')).map(p => p.getAttribute('fill'))")
    assert "#d7191c" in fills  # the premises below 30 Mbit/s is drawn in red
    assert set(fills) <= {"#d7191c", "#fdae61", "#2c7bb6", "#ffffff"}
    assert page.failed == [] and page.external == []


def _la_fill(page, code: str) -> str:
    return page.evaluate("""(code) => {
        let fill = null;
        GapMap.state.layers.la.eachLayer(l => { if (l.feature.properties.code === code) fill = l.options.fillColor; });
        return fill; }""", code)


def test_the_theme_and_layer_controls_work_by_keyboard(page, live_server):
    page.goto(f"{live_server}/en/")
    page.wait_for_selector("path.leaflet-interactive")
    assert _la_fill(page, "W06000008") == "#f03b20"  # Ceredigion: 10 to 25 % below
    assert _la_fill(page, "W06000015") == "#d9d9d9"  # Cardiff: no premises loaded
    # keyboard: focus the first theme radio, arrow down to "Access Broadband Cymru"
    page.focus("#theme-need")
    page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.id") == "theme-abc"
    assert page.locator('[data-legend="abc"]').is_visible()
    assert not page.locator('[data-legend="need"]').is_visible()
    assert _la_fill(page, "W06000008") in ("#54278f", "#756bb1")  # purple: share eligible
    # deprivation turns the LSOAs on
    page.check("#theme-wimd")
    assert page.is_checked("#layer-lsoa")
    # switch the authorities off and on with the keyboard
    page.focus("#layer-la")
    page.keyboard.press("Space")
    page.wait_for_function("() => document.querySelectorAll('.leaflet-overlay-pane path.leaflet-interactive').length === 0")
    page.keyboard.press("Space")
    page.wait_for_function("() => document.querySelectorAll('.leaflet-overlay-pane path.leaflet-interactive').length === 22")
    assert page.failed == [] and page.external == []


def test_hexagons_draw_at_middle_zoom_and_premises_popups_give_reasons(page, live_server, loaded_settings):
    import psycopg

    with psycopg.connect(loaded_settings.conninfo) as conn:
        uprn, lon, lat = conn.execute(
            "SELECT c.uprn, ST_X(ST_Transform(p.geom, 4326)), ST_Y(ST_Transform(p.geom, 4326)) "
            "FROM gapmap.premises_class c JOIN gapmap.premises p USING (uprn) "
            "WHERE c.status = 'below' AND c.evidence = 'ofcom-api' ORDER BY c.uprn LIMIT 1").fetchone()
    page.goto(f"{live_server}/en/")
    page.wait_for_load_state("networkidle")
    page.evaluate(f"window.gapmap.setView([{lat}, {lon}], 10, {{animate: false}})")
    page.wait_for_function("() => document.querySelectorAll('.leaflet-tile path').length > 0", timeout=15000)
    fills = set(page.evaluate(
        "Array.from(document.querySelectorAll('.leaflet-tile path')).map(p => p.getAttribute('fill'))"))
    assert fills and fills <= {"#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026", "#d9d9d9"}
    # zoom in on the premises and click it: the popup gives its reasons from the API
    page.evaluate(f"window.gapmap.setView([{lat}, {lon}], 17, {{animate: false}})")
    page.wait_for_load_state("networkidle")
    point = page.evaluate(f"""() => {{
        const p = window.gapmap.latLngToContainerPoint([{lat}, {lon}]);
        const r = window.gapmap.getContainer().getBoundingClientRect();
        return {{x: r.left + p.x, y: r.top + p.y}}; }}""")
    page.mouse.click(point["x"], point["y"])
    popup = page.wait_for_selector(".gm-popup")
    page.wait_for_function("() => document.querySelector('.gm-more') && "
                           "document.querySelector('.gm-more').textContent.includes('Access Broadband Cymru')")
    text = popup.inner_text()
    anchor = page.evaluate("(() => { const p = window.gapmap._popup.getLatLng(); return [p.lat, p.lng]; })()")
    assert abs(anchor[0] - lat) < 1e-4 and abs(anchor[1] - lon) < 1e-4  # the popup is on the premises
    assert f"UPRN {uprn}" in text and "Below 30 Mbit/s" in text and "Ofcom premises prediction" in text
    assert page.failed == [] and page.external == []


def test_search_jumps_to_a_place(page, live_server):
    page.goto(f"{live_server}/cy/")
    page.fill("#search-q", "Aberaeron")
    page.keyboard.press("Enter")
    page.wait_for_url("**/cy/?at=*")
    page.wait_for_load_state("networkidle")
    centre = page.evaluate("[window.gapmap.getCenter().lat, window.gapmap.getCenter().lng, window.gapmap.getZoom()]")
    assert abs(centre[0] - 52.243) < 0.01 and abs(centre[1] + 4.26) < 0.01 and centre[2] == 14
    assert page.locator(".leaflet-tooltip-pane, .leaflet-marker-pane").count() >= 1


def test_a_label_in_the_address_is_shown_as_text_never_as_html(page, live_server):
    page.goto(f"{live_server}/en/?at=52.24,-4.26,13&label=%3Cimg%20src%3Dx%20onerror%3D%22window.pwned%3D1%22%3E")
    page.wait_for_load_state("networkidle")
    tooltip = page.evaluate("(() => { let t = null; window.gapmap.eachLayer(l => { if (l.getTooltip && "
                            "l.getTooltip() && l.getLatLng) t = l.getTooltip().getContent().textContent; }); return t; })()")
    assert tooltip == '<img src=x onerror="window.pwned=1">'
    assert page.evaluate("window.pwned") is None
    assert page.locator(".leaflet-container img[src=x]").count() == 0
