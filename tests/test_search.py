"""The search box with Welsh place names and ambiguous names (issue 19): the shipped table of Welsh
names, the places load that applies it, the search, when it jumps to the map and when it lists,
and the same typed into the box in a real Chromium."""

from __future__ import annotations

import gzip
import json
import re
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest

from connectivity.errors import InputError
from connectivity.places import best_match, search_places
from etl import LOADERS, run_load
from etl.places import english_part, read_names_table
from tests.conftest import ROOT, axe_serious, watch_csp

TABLE = ROOT / "data/osm/wales_place_names_cy.csv"
PLACES = ROOT / "data/osm/wales_osm_places_2021-01-17.geojson.gz"
LAD = ROOT / "data/boundaries/wales_lad_2025_05_bgc.geojson.gz"
CEREDIGION, PEMBROKESHIRE, POWYS = "W06000008", "W06000009", "W06000023"


def _view(html: str) -> dict:
    return json.loads(re.search(r"GapMap\.init\(\w+, (\{.*\})\);", html).group(1))["view"]


def _label(location: str) -> str:
    return parse_qs(urlsplit(location).query)["label"][0]


# --- the table -----------------------------------------------------------------------------------

def test_the_table_names_every_city_and_town_and_each_row_one_bundled_place():
    places = [f["properties"] for f in json.loads(gzip.decompress(PLACES.read_bytes()))["features"]
              if f["properties"]["name"]]
    rows = read_names_table(TABLE)
    assert len(rows) == 256
    covered = {(r[1], r[4], r[5]) for r in rows}
    towns = [p for p in places if p["fclass"] in ("city", "town")]
    assert len(towns) == 149
    missing = [p["name"] for p in towns if (p["name"], None, None) not in covered
               and (p["name"], p["fclass"], p["CTYUA21CD"]) not in covered]
    assert missing == []
    for _line, osm_name, _cy, _key, kind, la_code in rows:
        same = [p for p in places if p["name"] == osm_name
                and (kind is None or (p["fclass"], p["CTYUA21CD"]) == (kind, la_code))]
        # a row for all places of a name only where they all take that Welsh name (Leckwith)
        assert len(same) == (2 if osm_name == "Leckwith" else 1), osm_name
    by_name = {r[1]: r[2] for r in rows if r[4] is None}
    assert (by_name["Cardigan"], by_name["Milford Haven"], by_name["Swansea"]) == \
        ("Aberteifi", "Aberdaugleddau", "Abertawe")
    assert (by_name["Brecon"], by_name["Holyhead"], by_name["Fishguard"]) == \
        ("Aberhonddu", "Caergybi", "Abergwaun")
    pinned = {r[1]: (r[2], r[4], r[5]) for r in rows if r[4]}
    assert pinned["Newtown"] == ("Y Drenewydd", "town", POWYS)
    assert pinned["Newport"] == ("Casnewydd", "city", "W06000022")


def test_a_bilingual_osm_name_keeps_its_english_part():
    assert english_part("Biwmares / Beaumaris", {"Biwmares"}) == "Beaumaris"
    assert english_part("Newport / Trefdraeth", {"Trefdraeth"}) == "Newport"
    assert english_part("Y Glôg / Glogue", {"Y Glog"}) == "Glogue"
    assert english_part("Cymer / Cymmer", {"Aberteifi"}) == "Cymer / Cymmer"
    assert english_part("Cardigan", {"Aberteifi"}) == "Cardigan"


@pytest.mark.parametrize("text, message", [
    ("osm_name,welsh\nCardigan,Aberteifi\n",
     "names.csv, line 1: a table of Welsh names needs the columns osm_name,name_cy,kind,la_code "
     "(value 'osm_name,welsh')"),
    ("osm_name,name_cy,kind,la_code\nCardigan,,,\n", "names.csv, line 2, column 'name_cy': is empty"),
    ("osm_name,name_cy,kind,la_code\nNewtown,Y Drenewydd,town,Powys\n",
     "names.csv, line 2, column 'la_code': is not a Welsh authority code (W06 and six digits) "
     "(value 'Powys')"),
    ("osm_name,name_cy,kind,la_code\nNewtown,Y Drenewydd,town,\n",
     "names.csv, line 2, column 'la_code': a row for one of several places of a name needs both "
     "its kind and its authority"),
    ("osm_name,name_cy,kind,la_code\nCardigan,Aberteifi,,\n\nCardigan,Aberteifi,,\n",
     "names.csv, line 4: names the same place as line 2 (value 'Cardigan')"),
    ("osm_name,name_cy,kind,la_code\nCardigan,Aberteifi\n",
     "names.csv, line 2: has 2 fields, expected 4 (value 'Cardigan,Aberteifi')"),
])
def test_a_malformed_table_is_refused_with_its_line(tmp_path, text, message):
    path = tmp_path / "names.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as caught:
        read_names_table(path)
    assert str(caught.value) == message


# --- the load ------------------------------------------------------------------------------------

def _feature(name, kind, lon, lat, population=None):
    return {"type": "Feature", "properties": {"name": name, "fclass": kind, "population": population},
            "geometry": {"type": "Point", "coordinates": [lon, lat]}}


def test_the_places_load_gives_welsh_names_from_the_table_beside_it(settings, tmp_path):
    run_load(settings, LOADERS["boundaries"](), [LAD], options={"level": "la"})
    folder = tmp_path / "osm"
    folder.mkdir()
    (folder / "places.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": [
        _feature("Cardigan", "town", -4.661, 52.083, "4184"),
        _feature("Newtown", "town", -3.316, 52.513, "11357"),   # Powys: Y Drenewydd
        _feature("Newtown", "suburb", -3.211, 51.778),           # Blaenau Gwent: no Welsh name
        _feature("Biwmares / Beaumaris", "town", -4.093, 53.264),
        _feature("Tregaron", "town", -3.93, 52.22),
        _feature("Line", "locality", -3.9, 52.2) | {"geometry": {
            "type": "LineString", "coordinates": [[-3.9, 52.2], [-3.8, 52.3]]}},
    ]}), encoding="utf-8")
    (folder / "wales_place_names_cy.csv").write_text(
        "osm_name,name_cy,kind,la_code\nCardigan,Aberteifi,,\nNewtown,Y Drenewydd,town,W06000023\n"
        "Biwmares / Beaumaris,Biwmares,,\nKidwelly,Cydweli,,\n", encoding="utf-8")
    result = run_load(settings, LOADERS["places"](), [folder / "places.geojson"])
    assert (result.rows_read, result.rows_loaded, result.rows_rejected, result.rows_filtered) == \
        (6, 5, 1, 0)
    assert result.notes == ["3 of 5 places got a Welsh name from wales_place_names_cy.csv "
                            "(4 rows; 1 matched no place: Kidwelly)"]
    with psycopg.connect(settings.conninfo) as conn:
        assert conn.execute("SELECT name, name_key, name_cy, name_cy_key, kind FROM gapmap.place "
                            "ORDER BY name, kind").fetchall() == [
            ("Beaumaris", "beaumaris", "Biwmares", "biwmares", "town"),
            ("Cardigan", "cardigan", "Aberteifi", "aberteifi", "town"),
            ("Newtown", "newtown", None, None, "suburb"),
            ("Newtown", "newtown", "Y Drenewydd", "y drenewydd", "town"),
            ("Tregaron", "tregaron", None, None, "town")]
        options = conn.execute("SELECT options FROM gapmap.load_run WHERE id = %s",
                               (result.run_id,)).fetchone()[0]
    assert options["welsh_names"] == str(folder / "wales_place_names_cy.csv")
    # a changed table is a new load, not "already loaded"
    (folder / "wales_place_names_cy.csv").write_text(
        "osm_name,name_cy,kind,la_code\nCardigan,Aberteifi,,\n", encoding="utf-8")
    again = run_load(settings, LOADERS["places"](), [folder / "places.geojson"])
    assert again.status == "succeeded" and again.notes == [
        "1 of 5 places got a Welsh name from wales_place_names_cy.csv (1 rows)"]
    # and none at all, on request
    bare = run_load(settings, LOADERS["places"](), [folder / "places.geojson"],
                    options={"welsh_names": ""})
    assert bare.notes == ["no table of Welsh names: places are found by their OSM name only"]


# --- the search ----------------------------------------------------------------------------------

def _found(conn, query):
    return [(p["name"], p["name_cy"], p["kind"], p["exact"]) for p in search_places(conn, query)]


def test_welsh_names_are_found_exactly_and_by_prefix(loaded_settings):
    with psycopg.connect(loaded_settings.conninfo) as conn:
        assert _found(conn, "Aberteifi") == [("Cardigan", "Aberteifi", "town", True)]
        assert _found(conn, "aberdaugleddau") == [("Milford Haven", "Aberdaugleddau", "town", True)]
        assert _found(conn, "Aberdaugle") == [("Milford Haven", "Aberdaugleddau", "town", False)]
        assert _found(conn, "Y Drenewydd") == [("Newtown", "Y Drenewydd", "town", True)]
        assert _found(conn, "Beaumaris") == [("Beaumaris", "Biwmares", "town", True)]
        cardigan = search_places(conn, "Aberteifi")[0]
        assert (cardigan["la_code"], cardigan["zoom"], cardigan["rank"]) == (CEREDIGION, 14, 1)
        assert _found(conn, "Caerdydd") == [("Cardiff", "Caerdydd", "city", True),
                                            ("Cardiff", "Caerdydd", "la", True)]


def test_a_short_prefix_lists_the_biggest_places_first_and_keeps_the_exact_hamlet(loaded_settings):
    with psycopg.connect(loaded_settings.conninfo) as conn:
        aber = search_places(conn, "Aber")
    assert [(p["name"], p["kind"]) for p in aber[:6]] == [
        ("Swansea", "city"), ("Aberdare", "town"), ("Milford Haven", "town"),
        ("Abergavenny", "town"), ("Aberystwyth", "town"), ("Mountain Ash", "town")]
    assert len(aber) == 20
    assert [(p["name"], p["kind"], p["la_code"]) for p in aber if p["exact"]] == [
        ("Aber", "hamlet", POWYS)]
    ranks = [p["rank"] for p in aber]
    assert ranks == sorted(ranks)
    assert best_match(aber) is None


def _place(name, kind, rank, exact, la_code="W06000001"):
    return {"name": name, "kind": kind, "rank": rank, "exact": exact, "la_code": la_code}


def test_best_match_jumps_only_to_an_unambiguous_place():
    town, la = _place("Wrexham", "town", 1, True, "W06000006"), _place("Wrexham", "la", 0, True, "W06000006")
    assert best_match([la, town]) is town  # an authority and its town of the same name: the town
    city, village = _place("Newport", "city", 0, True), _place("Newport", "village", 3, True)
    assert best_match([city, village]) is city
    one, other = _place("Gelli", "hamlet", 4, True), _place("Gelli", "hamlet", 4, True, "W06000009")
    assert best_match([one, other]) is None
    assert best_match([one]) is one
    assert best_match([_place("Aberaeron", "town", 1, False), one]) is None
    assert best_match([_place("Llanfair", "village", 3, True), _place("Llanfairfechan", "village", 3, False)])["name"] == "Llanfair"
    assert best_match([town, _place("Wrexham", "town", 1, True, "W06000005")]) is None
    assert best_match([_place("Abc", "village", 3, False)]) is None


@pytest.mark.parametrize("lang, query, label, zoom", [
    ("cy", "Aberteifi", "Aberteifi (Cardigan)", 14),
    ("en", "Aberteifi", "Cardigan (Aberteifi)", 14),
    ("cy", "Aberdaugleddau", "Aberdaugleddau (Milford Haven)", 14),
    ("en", "aberdaugleddau", "Milford Haven (Aberdaugleddau)", 14),
    ("en", "Cardigan", "Cardigan (Aberteifi)", 14),
    ("cy", "Caerdydd", "Caerdydd (Cardiff)", 13),
    ("en", "Wrexham", "Wrexham (Wrecsam)", 14),
    ("cy", "Aberystwyth", "Aberystwyth", 14),
    ("en", "Aberdare", "Aberdare (Aberdâr)", 14),
    ("cy", "Cwmbran", "Cwmbrân", 14),
])
def test_an_unambiguous_name_goes_to_the_map_labelled_in_the_readers_language(client, lang, query,
                                                                               label, zoom):
    found = client.get(f"/{lang}/search?q={query}")
    assert found.status_code == 302
    location = found.headers["Location"]
    assert location.startswith(f"/{lang}/?at=") and _label(location) == label
    view = _view(client.get(location).get_data(as_text=True))
    assert (view["zoom"], view["label"]) == (zoom, label)


def test_aber_lists_towns_first_and_the_box_keeps_what_was_typed(client):
    page = client.get("/cy/search?q=Aber")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    items = re.findall(r'<li><a href="(/cy/\?at=[^"]+)">([^<]+)</a>\s*\(([^)]*)\)</li>', html)
    assert [(text, kind) for _url, text, kind in items[:4]] == [
        ("Abertawe (Swansea)", "dinas, Abertawe"), ("Aberdâr (Aberdare)", "tref, Rhondda Cynon Taf"),
        ("Aberdaugleddau (Milford Haven)", "tref, Sir Benfro"), ("Y Fenni (Abergavenny)", "tref, Sir Fynwy")]
    assert ("Aber", "pentrefan, Powys") in [(text, kind) for _url, text, kind in items]
    assert "Lleoedd o'r enw “Aber”, neu'n dechrau gydag ef, y mwyaf yn gyntaf:" in html
    assert '<input id="search-q" name="q" type="search" required value="Aber">' in html
    english = client.get("/en/search?q=aber%22%3E").get_data(as_text=True)  # escaped, never markup
    assert 'value="aber&#34;&gt;"' in english
    assert client.get("/en/").get_data(as_text=True).count('required value="">') == 1


def test_postcodes_and_uprns_still_go_to_their_page(client):
    assert client.get("/en/search?q=sy23 1aa").headers["Location"] == "/en/postcode/SY231AA"
    assert client.get("/cy/search?q=Atlantis").status_code == 404


# --- in a browser --------------------------------------------------------------------------------

@pytest.mark.browser
def test_typing_a_welsh_town_name_in_welsh_lands_on_the_map_at_that_town(browser, live_server):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="cy-GB")
    page = context.new_page()
    external = []
    page.route(lambda url: not url.startswith(live_server),
               lambda route: (external.append(route.request.url), route.abort()))
    csp = watch_csp(page)
    try:
        page.goto(f"{live_server}/cy/search?q=Aber")
        assert page.input_value("#search-q") == "Aber"
        assert axe_serious(page) == []
        page.fill("#search-q", "Aberdaugleddau")
        page.keyboard.press("Enter")
        page.wait_for_url("**/cy/?at=*")
        page.wait_for_load_state("networkidle")
        lat, lon, zoom = page.evaluate(
            "[window.gapmap.getCenter().lat, window.gapmap.getCenter().lng, window.gapmap.getZoom()]")
        # Milford Haven's OSM point
        assert abs(lat - 51.7117) < 0.001 and abs(lon + 5.0293) < 0.001 and zoom == 14
        tooltip = page.evaluate(
            "(() => { let t = null; window.gapmap.eachLayer(l => { if (l.getTooltip && l.getTooltip() "
            "&& l.getLatLng) t = l.getTooltip().getContent().textContent; }); return t; })()")
        assert tooltip == "Aberdaugleddau (Milford Haven)"
        assert external == [] and csp == []
    finally:
        context.close()
