"""The JSON API, the OpenAPI document and the premises vector tiles, on the classified demo data."""

from __future__ import annotations

import math
import re

import mapbox_vector_tile
import psycopg
import pytest
from openapi_spec_validator import validate

from webmap.openapi import DOCUMENT


@pytest.fixture(scope="module")
def sample(loaded_settings):
    """A postcode in Merthyr Tydfil with several premises, one premises below 30 with API evidence."""
    with psycopg.connect(loaded_settings.conninfo) as conn:
        postcode = conn.execute(
            "SELECT postcode FROM gapmap.premises_class GROUP BY postcode HAVING count(*) >= 5 "
            "AND bool_or(evidence = 'ofcom-api') ORDER BY postcode LIMIT 1").fetchone()[0]
        uprn, lon, lat = conn.execute(
            "SELECT c.uprn, ST_X(ST_Transform(p.geom, 4326)), ST_Y(ST_Transform(p.geom, 4326)) "
            "FROM gapmap.premises_class c JOIN gapmap.premises p USING (uprn) "
            "WHERE c.status = 'below' AND c.evidence = 'ofcom-api' ORDER BY c.uprn LIMIT 1").fetchone()
        count = conn.execute("SELECT count(*) FROM gapmap.premises_class WHERE postcode = %s",
                             (postcode,)).fetchone()[0]
    return {"postcode": postcode, "count": count, "uprn": uprn, "lon": lon, "lat": lat}


def test_openapi_document_is_valid_and_matches_the_routes(app, client):
    validate(DOCUMENT)
    assert client.get("/openapi.json").get_json() == DOCUMENT
    routes = set()
    for rule in app.url_map.iter_rules():
        # /ogc (OGC API - Features) has its own document at /ogc/api, checked in test_ogc.py
        if rule.rule.startswith(("/api/v1", "/tiles")):
            routes.add(re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule))
    assert routes == set(DOCUMENT["paths"])


def test_postcode_lookup_in_both_languages(client, sample):
    data = client.get(f"/api/v1/postcodes/{sample['postcode'].lower().replace(' ', '')}").get_json()
    assert data["postcode"] == sample["postcode"] and data["synthetic"] is True
    assert data["classification"] == "2026-07"
    assert data["summary"]["premises"] == len(data["premises"]) == sample["count"]
    first = data["premises"][0]
    assert set(first["schemes"]) == {"abc", "lbf", "uso", "voucher"}
    assert first["schemes"]["voucher"]["reason"] == "Gigabit vouchers are suspended in Wales."
    cy = client.get(f"/api/v1/postcodes/{sample['postcode']}?lang=cy").get_json()
    assert cy["premises"][0]["schemes"]["voucher"]["reason"] == "Mae talebau gigabit wedi'u hatal yng Nghymru."
    assert cy["local_authority"]["name_cy"] == "Merthyr Tudful"


@pytest.mark.parametrize(("url", "status", "message"), [
    ("/api/v1/postcodes/NOTAPC", 400, "'NOTAPC' is not a UK postcode; for example CF10 1AA"),
    ("/api/v1/postcodes/W1A0AX", 404, "postcode W1A 0AX is not in the service's data (Welsh postcodes only)"),
    ("/api/v1/premises/1", 404, "no premises with UPRN 1"),
    ("/api/v1/premises", 400, "give bbox=west,south,east,north (WGS84), or lon=, lat= and radius="),
    ("/api/v1/premises?bbox=1,2,3", 400, "bbox must be four numbers: west,south,east,north (WGS84)"),
    ("/api/v1/premises?bbox=-4,51,-3,52", 400,
     "bbox is too large: at most 0.25 square degrees; zoom in or use an export"),
    ("/api/v1/premises?bbox=-3.4,51.7,-3.3,51.8&limit=x", 400, "limit must be a whole number, got 'x'"),
    ("/api/v1/diff?from=2026-01", 400, "give from= and to=, two classification labels (see /api/v1/releases)"),
    ("/tiles/premises/3/9/0.pbf", 400, "no tile 3/9/0"),
    # found by tests/test_schemathesis.py: each was a 500 or an undocumented answer
    ("/api/v1/diff?from=2026-01&to=2026-07&limit=-1", 400, "limit must be between 1 and 5000"),
    ("/api/v1/diff?from=2026-01%00&to=2026-07", 400, "parameters must not contain NUL or other control characters (%00-%1F, %7F)"),
    ("/api/v1/areas/W06%0000024", 400, "parameters must not contain NUL or other control characters (%00-%1F, %7F)"),
    ("/api/v1/premises?bbox=-3.4,51.7,-3.3,51.8&offset=99999999999999999999", 400,
     "offset must be between 0 and 2147483647"),
    ("/api/v1/premises?bbox=nan,51.7,-3.3,51.8", 400,
     "bbox must be four numbers: west,south,east,north (WGS84)"),
    ("/tiles/premises/-1/0/0.pbf", 404, "The requested URL was not found on the server. If you "
                                        "entered the URL manually please check your spelling and try again."),
    # points
    ("/api/v1/premises?lon=-4.44", 400, "give both lon= and lat= (WGS84 degrees)"),
    ("/api/v1/premises?lon=-4.44&lat=52.08&radius=5000", 400,
     "radius must be more than 0 and at most 2000 metres"),
    ("/api/v1/premises?lon=-4.44&lat=52.08&radius=near", 400, "radius must be a number, got 'near'"),
    ("/api/v1/premises?lon=-4.44&lat=52.08&bbox=-4.45,52.07,-4.43,52.09", 400,
     "give bbox= or lon= and lat=, not both"),
    ("/api/v1/areas?lon=x&lat=52", 400, "lon and lat must be numbers, got 'x' and '52'"),
    ("/api/v1/areas?lon=-200&lat=52", 400, "lon must be between -180 and 180 and lat between -90 and 90"),
    ("/api/v1/areas?lon=-4.4&lat=52.1&level=county", 400,
     "unknown area level 'county'; expected one of country, la, ward, lsoa, msoa, constituency, oa"),
])
def test_bad_requests_get_one_error_shape(client, url, status, message):
    response = client.get(url)
    assert response.status_code == status
    assert response.get_json() == {"error": {"status": status, "code": response.get_json()["error"]["code"],
                                             "message": message}}


def test_premises_detail_says_why(client, sample):
    data = client.get(f"/api/v1/premises/{sample['uprn']}").get_json()
    assert data["status"] == "below" and data["evidence"] == "ofcom-api"
    assert data["schemes"]["abc"]["eligible"] == "eligible"
    assert data["schemes"]["abc"]["reason"].startswith("Eligible for Access Broadband Cymru: best download ")
    assert data["location"] == {"lon": pytest.approx(sample["lon"], abs=1e-6),
                                "lat": pytest.approx(sample["lat"], abs=1e-6)}


def test_premises_in_a_box_are_paged_geojson(client, sample):
    box = f"{sample['lon'] - 0.01},{sample['lat'] - 0.01},{sample['lon'] + 0.01},{sample['lat'] + 0.01}"
    page = client.get(f"/api/v1/premises?bbox={box}&limit=5")
    assert page.mimetype == "application/geo+json"
    data = page.get_json()
    assert data["numberReturned"] == 5 and data["numberMatched"] > 5
    second = client.get(f"/api/v1/premises?bbox={box}&limit=5&offset=5").get_json()
    assert {f["id"] for f in data["features"]}.isdisjoint(f["id"] for f in second["features"])
    below = client.get(f"/api/v1/premises?bbox={box}&status=below&limit=5000").get_json()
    assert below["features"] and all(f["properties"]["status"] == "below" for f in below["features"])
    assert sample["uprn"] in {f["id"] for f in below["features"]}


def test_areas_at_a_point(client):
    data = client.get("/api/v1/areas?lon=-4.441936&lat=52.080683").get_json()
    assert (data["level"], data["location"], data["count"]) == (
        None, {"lon": -4.441936, "lat": 52.080683}, 5)
    assert [(a["level"], a["code"], a["name_en"], a["premises"]) for a in data["areas"]] == [
        ("la", "W06000008", "Ceredigion", 34623), ("ward", "W05000395", "Troedyraur", 817),
        ("lsoa", "W01000551", "Ceredigion 010E", 817), ("msoa", "W02000125", "Ceredigion 010", 4402),
        ("constituency", "W07000093", "Ceredigion Preseli", 34616)]
    assert data["areas"][1] == client.get("/api/v1/areas/W05000395").get_json()
    ward = client.get("/api/v1/areas?lon=-4.441936&lat=52.080683&level=ward").get_json()
    assert (ward["level"], [a["code"] for a in ward["areas"]]) == ("ward", ["W05000395"])
    assert client.get("/api/v1/areas?lon=10&lat=10").get_json() == {
        "level": None, "location": {"lon": 10.0, "lat": 10.0}, "count": 0, "areas": []}


def test_premises_near_a_point(client):
    response = client.get("/api/v1/premises?lon=-4.441936&lat=52.080683&radius=300")
    assert response.mimetype == "application/geo+json"
    data = response.get_json()
    assert (data["numberMatched"], data["location"], data["radius"]) == (
        5, {"lon": -4.441936, "lat": 52.080683}, 300.0)
    assert [(f["id"], f["properties"]["distance_m"], f["properties"]["status"])
            for f in data["features"]] == [
        (990600000216, 0.0, "below"), (990600000185, 93.6, "above"),
        (990600000182, 155.6, "above"), (990600000195, 157.1, "possibly_below"),
        (990600000215, 298.5, "below")]
    below = client.get("/api/v1/premises?lon=-4.441936&lat=52.080683&radius=300&status=below")
    assert [f["id"] for f in below.get_json()["features"]] == [990600000216, 990600000215]
    nearby = client.get("/api/v1/premises?lon=-4.441936&lat=52.080683").get_json()  # 100 m
    assert [f["id"] for f in nearby["features"]] == [990600000216, 990600000185]
    far = client.get("/api/v1/premises?lon=10&lat=10&radius=2000").get_json()
    assert (far["numberMatched"], far["features"]) == (0, [])
    # so far out that PROJ refuses to put the point on the grid (schemathesis found it: a 500)
    outside = client.get("/api/v1/premises?lon=85.0511&lat=-5.960464477539063e-08&status=unknown")
    assert outside.status_code == 200
    assert (outside.get_json()["numberMatched"], outside.get_json()["features"]) == (0, [])


def test_releases_and_diff(client):
    data = client.get("/api/v1/releases").get_json()
    assert [c["label"] for c in data["classifications"]] == ["2026-01", "2026-07"]
    assert {(r["source"], r["label"]) for r in data["releases"]} >= {("bduk", "2026-01"), ("ofcom-api", "2026-07")}
    change = client.get("/api/v1/diff?from=2026-01&to=2026-07&limit=2").get_json()
    assert change["premises_changed"] > 1000 and len(change["premises"]) == 2


def _tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2 ** z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def test_premises_tiles_decode_and_carry_status(client, sample):
    x, y = _tile_of(sample["lon"], sample["lat"], 15)
    response = client.get(f"/tiles/premises/15/{x}/{y}.pbf")
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.mapbox-vector-tile"
    layers = mapbox_vector_tile.decode(response.data)
    features = layers["premises"]["features"]
    ours = [f for f in features if f["properties"]["uprn"] == sample["uprn"]]
    assert len(ours) == 1 and ours[0]["properties"]["status"] == "below"
    assert ours[0]["geometry"]["type"] == "Point"
    assert {f["properties"]["status"] for f in features} <= {"below", "possibly_below", "above", "unknown"}
    etag = response.headers["ETag"]
    again = client.get(f"/tiles/premises/15/{x}/{y}.pbf", headers={"If-None-Match": etag})
    assert again.status_code == 304
    low = client.get(f"/tiles/premises/8/{x >> 7}/{y >> 7}.pbf")
    assert low.status_code == 200 and low.data == b""
