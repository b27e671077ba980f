"""Pages and API through Flask's test client, against the bundled data in a real PostGIS."""

from __future__ import annotations

import re

import pytest

from connectivity.settings import load_settings
from tests.conftest import TEST_SECRET, free_port
from webmap import create_app


@pytest.mark.parametrize(
    ("accept", "target"),
    [("cy-GB,cy;q=0.9,en;q=0.5", "/cy/"), ("en-GB,en;q=0.9", "/en/"), ("fr", "/en/"), (None, "/en/")],
)
def test_root_redirects_by_accept_language(client, accept, target):
    headers = {"Accept-Language": accept} if accept else {}
    response = client.get("/", headers=headers)
    assert response.status_code == 302
    assert response.headers["Location"] == target


@pytest.mark.parametrize(
    ("lang", "title", "lead", "switch"),
    [
        ("en", "Broadband gap map for Wales",
         "The 22 local authorities of Wales and the 92,244 postcodes whose centre lies inside them.",
         '<a class="lang-switch" href="/cy/" hreflang="cy" lang="cy">Cymraeg</a>'),
        ("cy", "Map bylchau band eang Cymru",
         "22 awdurdod lleol Cymru a'r 92,244 cod post y mae eu canol ynddynt.",
         '<a class="lang-switch" href="/en/" hreflang="en" lang="en">English</a>'),
    ],
)
def test_map_page_in_both_languages(client, lang, title, lead, switch):
    response = client.get(f"/{lang}/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert f'<html lang="{lang}">' in html
    assert f"<title>{title}</title>" in html
    assert lead in html
    assert switch in html
    assert response.headers["Content-Language"] == lang
    # vendored assets only: nothing from another host
    assert re.findall(r'(?:src|href)="(https?://[^"]+)"', html) == []
    assert '<script src="/static/vendor/leaflet/leaflet.js"></script>' in html
    assert html.count('"type": "Feature"') == 22 or html.count('"type":"Feature"') == 22


def test_welsh_names_lead_on_the_welsh_map(client):
    cy = client.get("/cy/").get_data(as_text=True)
    assert '"label": "Caerdydd (Cardiff)"' in cy
    en = client.get("/en/").get_data(as_text=True)
    assert '"label": "Cardiff (Caerdydd)"' in en
    assert '"label": "Powys"' in en  # same in both languages: shown once


def test_areas_table_page(client):
    html = client.get("/cy/areas").get_data(as_text=True)
    assert ("<caption>Awdurdodau lleol (Cymru): 22, gyda safleoedd wedi'u llwytho ar gyfer 2 "
            "ohonynt.") in html
    rows = re.findall(r"<tr>\s*<td>(W06\d{6})</td>\s*<th scope=\"row\">([^<]+)<", html)
    assert len(rows) == 22
    assert ("W06000015", "Caerdydd ") in rows and ("W06000023", "Powys") in rows
    assert '<td class="num">7,678</td>' in html
    assert '<td class="num">92,244</td>' in html
    assert "<td class=\"num none\" colspan=\"10\">Dim safleoedd wedi'u llwytho</td>" in html


def test_unknown_language_and_page_are_404_pages_in_the_right_language(client):
    response = client.get("/fr/", headers={"Accept-Language": "cy"})
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert '<html lang="cy">' in html and "Heb ddod o hyd i&#39;r dudalen" in html


def test_api_areas(client):
    response = client.get("/api/v1/areas?level=la")
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["Cache-Control"] == "public, max-age=300"
    data = response.get_json()
    assert (data["level"], data["count"]) == ("la", 22)
    cardiff = next(a for a in data["areas"] if a["code"] == "W06000015")
    assert cardiff == {"code": "W06000015", "name_en": "Cardiff", "name_cy": "Caerdydd",
                       "vintage": "LAD25", "area_km2": 142.4, "postcodes": 7678, "premises": 0,
                       "expected_below_30": None, "share_below": None,
                       "residential": None, "business": None, "level": "la"}


def test_api_area_detail_and_geojson(client):
    detail = client.get("/api/v1/areas/w06000015").get_json()
    assert detail["name_cy"] == "Caerdydd" and detail["postcodes"] == 7678
    west, south, east, north = detail["bbox"]
    assert -3.35 < west < east < -3.06 and 51.37 < south < north < 51.57
    response = client.get("/api/v1/areas.geojson?level=la")
    assert response.mimetype == "application/geo+json"
    collection = response.get_json()
    assert collection["type"] == "FeatureCollection" and len(collection["features"]) == 22
    assert collection["features"][0]["geometry"]["type"] == "MultiPolygon"


@pytest.mark.parametrize(
    ("url", "status", "code", "message"),
    [
        ("/api/v1/areas/W06999999", 404, "not_found", "no area with code 'W06999999'"),
        ("/api/v1/areas?level=county", 400, "bad_request",
         "unknown area level 'county'; expected one of country, la, ward, lsoa, msoa, constituency, oa"),
        ("/api/v1/nothing", 404, "not_found", None),
    ],
)
def test_api_errors_share_one_shape(client, url, status, code, message):
    response = client.get(url)
    assert response.status_code == status
    body = response.get_json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"status", "code", "message"}
    assert (body["error"]["status"], body["error"]["code"]) == (status, code)
    if message:
        assert body["error"]["message"] == message


def test_health(client):
    data = client.get("/api/v1/health").get_json()
    from connectivity.db.migrate import available_migrations

    assert data["status"] == "ok" and data["schema_version"] == available_migrations()[-1].version


def test_database_down_gives_503_not_a_stack_trace(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = load_settings(
        {"database_url": f"postgresql://postgres@127.0.0.1:{free_port()}/none"}, environ={})
    app = create_app(settings.replace(secret_key=TEST_SECRET))
    try:
        client = app.test_client()
        api = client.get("/api/v1/areas")
        assert api.status_code == 503
        assert api.headers["Retry-After"] == "5"
        assert api.get_json() == {"error": {
            "status": 503, "code": "database_unavailable",
            "message": "the database is unavailable; try again shortly"}}
        page = client.get("/en/")
        assert page.status_code == 503
        assert "The map is temporarily unavailable" in page.get_data(as_text=True)
        assert "Traceback" not in page.get_data(as_text=True)
    finally:
        app.extensions["gapmap_db"].close()


def test_create_app_reads_nothing_at_import():
    import importlib
    import sys

    for name in [m for m in sys.modules if m == "webmap" or m.startswith("webmap.")]:
        del sys.modules[name]
    module = importlib.import_module("webmap")
    assert callable(module.create_app)


@pytest.mark.parametrize(("lang", "text"), [
    ("en", "<strong>Synthetic demo data.</strong>"),
    ("cy", "<strong>Data arddangos synthetig.</strong>"),
])
def test_synthetic_demo_data_is_labelled_on_every_data_page(client, lang, text):
    for page in (f"/{lang}/", f"/{lang}/areas"):
        html = client.get(page).get_data(as_text=True)
        assert text in html, page
    assert "Synthetic demo premises and speeds" in client.get("/en/").get_data(as_text=True)


def test_areas_table_counts_premises(client):
    html = client.get("/en/areas").get_data(as_text=True)
    merthyr = re.search(r"<td>W06000024</td>(.*?)</tr>", html, re.S).group(1)
    # postcodes, then premises: the second figure of the row
    assert re.findall(r'<td class="num">([^<]+)</td>', merthyr)[1] == "28,602"
    assert '<td class="num">63,225</td>' in html



def test_the_language_switch_keeps_the_query(client):
    html = client.get("/en/areas?level=ward&la=W06000008&sort=premises&order=desc").text
    assert ('href="/cy/areas?level=ward&amp;la=W06000008&amp;sort=premises&amp;order=desc"'
            in html)
    assert 'href="/en/?la=W06000024"' in client.get("/cy/?la=W06000024").text


def test_a_search_for_a_superscript_digit_is_a_place_search_not_a_server_error(client):
    # "²".isdigit() is true in Python, but int("²") fails: a UPRN is ASCII digits only
    r = client.get("/en/search?q=%C2%B2")
    assert r.status_code == 404 and "<html lang=\"en\"" in r.text

@pytest.fixture(scope="module")
def below_postcode(loaded_settings):
    import psycopg

    with psycopg.connect(loaded_settings.conninfo) as conn:
        return conn.execute(
            "SELECT postcode, uprn FROM gapmap.premises_class WHERE status = 'below' "
            "AND evidence = 'ofcom-api' ORDER BY uprn LIMIT 1").fetchone()


def test_resident_postcode_page(client, below_postcode):
    postcode, uprn = below_postcode
    compact = postcode.replace(" ", "")
    html = client.get(f"/en/postcode/{compact.lower()}").get_data(as_text=True)
    assert f"<h1>Broadband in {postcode}</h1>" in html
    assert f'<tr id="uprn-{uprn}">' in html
    assert "Access Broadband Cymru: " in html and "may qualify for a Welsh Government grant" in html
    assert "Eligible for Access Broadband Cymru: best download" in html
    cy = client.get(f"/cy/postcode/{compact}").get_data(as_text=True)
    assert f"<h1>Band eang yn {postcode}</h1>" in cy and "Yn gymwys ar gyfer Allwedd Band Eang Cymru" in cy
    missing = client.get("/en/postcode/W1A0AX")
    assert missing.status_code == 404


def test_search_goes_to_postcode_or_premises(client, below_postcode):
    postcode, uprn = below_postcode
    compact = postcode.replace(" ", "")
    to_pc = client.get(f"/en/search?q={postcode.lower()}")
    assert to_pc.status_code == 302 and to_pc.headers["Location"] == f"/en/postcode/{compact}"
    to_premises = client.get(f"/cy/search?q={uprn}")
    assert to_premises.headers["Location"] == f"/cy/postcode/{compact}#uprn-{uprn}"
    nothing = client.get("/en/search?q=Atlantis")
    assert nothing.status_code == 404
    assert "Nothing found for “Atlantis”" in nothing.get_data(as_text=True)


def test_pages_work_before_anything_is_classified(settings):
    """A fresh database: the map falls back to postcode counts, search finds nothing, no 500s."""
    app = create_app(settings.replace(secret_key=TEST_SECRET))
    try:
        client = app.test_client()
        from etl import LOADERS, run_load
        from tests.conftest import ROOT

        run_load(settings, LOADERS["boundaries"](), [ROOT / "data/boundaries/wales_lad_2025_05_bgc.geojson.gz"],
                 options={"level": "la"})
        page = client.get("/en/")
        assert page.status_code == 200
        assert "Postcodes per local authority" in page.get_data(as_text=True)
        assert client.get("/en/search?q=12345").status_code == 404
        assert client.get("/api/v1/premises/1").get_json()["error"]["message"] == "nothing is classified yet"
        assert client.get("/tiles/premises/15/1/1.pbf").status_code == 404
        assert client.get("/en/areas").status_code == 200
    finally:
        app.extensions["gapmap_db"].close()
