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
    ("/api/v1/premises", 400, "give bbox=west,south,east,north (WGS84)"),
    ("/api/v1/premises?bbox=1,2,3", 400, "bbox must be four numbers: west,south,east,north (WGS84)"),
    ("/api/v1/premises?bbox=-4,51,-3,52", 400,
     "bbox is too large: at most 0.25 square degrees; zoom in or use an export"),
    ("/api/v1/premises?bbox=-3.4,51.7,-3.3,51.8&limit=x", 400, "limit must be a whole number, got 'x'"),
    ("/api/v1/diff?from=2026-01", 400, "give from= and to=, two classification labels (see /api/v1/releases)"),
    ("/tiles/premises/3/9/0.pbf", 400, "no tile 3/9/0"),
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
