"""The map reading its tiles from a PMTiles archive (tiles_archive_url), in Chromium: an archive of
one ward (`connectivity publish tiles --area`) served as a static file through /data, the map's
premises and hexagon layers given the same features as from the dynamic /tiles routes, with no
request to /tiles, no CSP violation and no axe violation; and the open data page, axe-clean."""

from __future__ import annotations

import json
import math

import psycopg
import pytest
from click.testing import CliRunner

from gapmap.cli import main
from tests.conftest import TEST_SECRET, app_for, axe_run, serve_in_thread, watch_csp

pytestmark = pytest.mark.browser
MERTHYR = "W06000024"


@pytest.fixture(scope="module")
def ward(loaded_settings) -> dict:
    """The smallest ward of Merthyr Tydfil with premises, and a point inside it."""
    with psycopg.connect(loaded_settings.conninfo) as conn:
        code, lat, lon = conn.execute(
            """SELECT a.code, ST_Y(p), ST_X(p) FROM (
                 SELECT a.code, ST_Transform(ST_PointOnSurface(a.geom), 4326) AS p, a.geom
                 FROM gapmap.area a JOIN gapmap.premises_place m
                   ON a.level = 'ward' AND a.code = m.ward
                 WHERE m.la = %s GROUP BY a.code, a.geom ORDER BY ST_Area(a.geom) LIMIT 1) a""",
            (MERTHYR,)).fetchone()
    return {"code": code, "lat": lat, "lon": lon}


@pytest.fixture(scope="module")
def servers(loaded_settings, ward, tmp_path_factory):
    """Two apps: the dynamic tiles, and the archive through /data/tiles/map.pmtiles."""
    folder = tmp_path_factory.mktemp("static") / "open-data"
    (folder / "tiles").mkdir(parents=True)
    result = CliRunner().invoke(main, ["--database-url", loaded_settings.conninfo, "publish",
                                       "tiles", "--out", str(folder / "tiles/map.pmtiles"),
                                       "--min-zoom", "10", "--max-zoom", "15",
                                       "--area", ward["code"], "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["tiles"] > 0
    base = loaded_settings.replace(secret_key=TEST_SECRET)
    with app_for(base) as dynamic, app_for(base.replace(
            publish_dir=folder, tiles_archive_url="/data/tiles/map.pmtiles")) as static:
        with serve_in_thread(dynamic) as one, serve_in_thread(static) as two:
            yield {"dynamic": one, "archive": two}


#: every tile a grid drew, with the ids of its features (premises: UPRN; hexagons: code)
FEATURES = """(grid) => {
    const out = {};
    for (const [key, renderer] of Object.entries(grid._vectorTiles || {})) {
        out[key] = Object.keys(renderer._features || {}).sort();
    }
    return out;
}"""


def _drawn(browser, base: str, view: str, grid: str,
           axe: bool = False) -> tuple[dict, list[str], list[str]]:
    """The features of `grid` ('premises' or 'hex500') on the map at `view`, the requests to
    /tiles and the CSP violations (and, with `axe`, no serious axe violation)."""
    context = browser.new_context(viewport={"width": 800, "height": 600}, locale="en-GB")
    page = context.new_page()
    tiles, csp = [], watch_csp(page)
    page.on("request", lambda r: tiles.append(r.url) if r.url.startswith(f"{base}/tiles/") else None)
    page.route(lambda url: not url.startswith(base), lambda route: route.abort())
    page.goto(f"{base}/en/?at={view}")
    pick = ("GapMap.state.layers.premises" if grid == "premises" else
            "GapMap.state.layers.hex.getLayers().find(g => g.options.maxNativeZoom === 11)")
    page.wait_for_function(f"""() => {{
        const g = window.GapMap && GapMap.state && {pick};
        return g && g._vectorTiles && Object.keys(g._vectorTiles).length > 0 && !g.isLoading();
    }}""")
    features = page.evaluate(f"() => ({FEATURES})({pick})")
    if axe:
        result = axe_run(page)
        serious = [v["id"] for v in result["violations"] if v["impact"] in ("serious", "critical")]
        assert serious == []
    context.close()
    return features, tiles, csp


@pytest.mark.parametrize("zoom, grid", [(15, "premises"), (13, "premises"), (11, "hex500")])
def test_the_map_draws_the_same_features_from_the_archive(browser, servers, ward, zoom, grid):
    view = f"{ward['lat']:.5f},{ward['lon']:.5f},{zoom}"
    dynamic, dynamic_tiles, dynamic_csp = _drawn(browser, servers["dynamic"], view, grid)
    archive, archive_tiles, archive_csp = _drawn(browser, servers["archive"], view, grid,
                                                   axe=True)
    assert dynamic_tiles and archive_tiles == []  # the archive map never asks /tiles
    assert dynamic_csp == [] and archive_csp == []
    assert archive.keys() == dynamic.keys()
    # the archive holds the tiles around the ward: each of them exactly as the dynamic one
    held = {key: ids for key, ids in archive.items() if ids}
    assert held and sum(map(len, held.values())) > 5
    assert held == {key: dynamic[key] for key in held}
    # the tile over the ward itself is in the archive
    z, n = zoom, 2 ** zoom
    x = int((ward["lon"] + 180) / 360 * n)
    lat = math.radians(ward["lat"])
    y = int((1 - math.asinh(math.tan(lat)) / math.pi) / 2 * n)
    assert archive[f"{x}:{y}:{z}"] == dynamic[f"{x}:{y}:{z}"] != []


@pytest.fixture(scope="module")
def published(loaded_settings, tmp_path_factory):
    """The open data folder `connectivity publish` writes (once for both languages: read only)."""
    out = tmp_path_factory.mktemp("published") / "open-data"
    result = CliRunner().invoke(main, ["--database-url", loaded_settings.conninfo, "publish",
                                       "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.parametrize("lang", ["en", "cy"])
def test_the_open_data_page_is_axe_clean_with_no_csp_violation(browser, loaded_settings,
                                                               published, lang):
    out = published
    settings = loaded_settings.replace(secret_key=TEST_SECRET, publish_dir=out)
    with app_for(settings) as app, serve_in_thread(app) as base:
        for folder in (out, None):
            app.config["GAPMAP_SETTINGS"] = settings.replace(publish_dir=folder)
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            page = context.new_page()
            csp = watch_csp(page)
            page.goto(f"{base}/{lang}/data")
            assert page.locator("html").get_attribute("lang") == lang
            if folder:
                assert page.locator("details").count() == 23
                page.locator("summary").nth(1).click()  # the next area opens with the keyboard too
                assert page.locator("details").nth(1).get_attribute("open") is not None
            else:
                assert page.locator("[role=status] h2").count() == 1
            result = axe_run(page)
            serious = [(v["id"], [n["target"] for n in v["nodes"]][:3])
                       for v in result["violations"] if v["impact"] in ("serious", "critical")]
            assert serious == [] and csp == []
            context.close()
