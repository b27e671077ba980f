"""OGC API - Features at /ogc, on the classified demo data: each endpoint through the Flask test
client, then GDAL's OAPIF driver (ogrinfo, ogr2ogr) against the app served on loopback."""

from __future__ import annotations

import contextlib
import math
import re
import sqlite3
import subprocess

import psycopg
import pyogrio
import pytest
from openapi_spec_validator import validate

from connectivity.features import COLLECTIONS
from tests.conftest import TEST_SECRET

BASE = "http://localhost/ogc"
BOX = "-4.45,52.07,-4.43,52.09"  # rural Ceredigion: 35 premises, 3 of them below 30 Mbit/s
#: the classification's newer evidence (issue 17) as the demo has it: no AddressBase, no output
#: areas, no speed tests; Ofcom's fixed wireless share 0 in every postcode file
DEMO_EVIDENCE = {"address_kind": None, "oa_code": None, "oa_premises": None, "oa_unable_30": None,
                 "oa_unable_decent": None, "fwa_decent_pct": 0.0, "speedtest_down": None,
                 "speedtest_up": None, "speedtest_tests": None, "speedtest_release": None,
                 "speedtest_moved": None}
EVIDENCE_NAMES = ["address_kind", "oa_code", "oa_premises", "oa_unable_30", "oa_unable_decent",
                  "fwa_decent_pct", "speedtest_down", "speedtest_up", "speedtest_tests",
                  "speedtest_release", "speedtest_moved"]
BELOW_IN_BOX = [
    {"type": "Feature", "id": 990600000214,
     "geometry": {"type": "Point", "coordinates": [-4.435057, 52.075553]},
     "properties": {"uprn": 990600000214, "postcode": "SA38 9EX", "status": "below",
                    "probability_below": 1.0, "best_down_mbps": 20.9, "best_up_mbps": 5.1,
                    "band": "10<30", "evidence": "ofcom-api", "evidence_release": "2026-07",
                    "eligible_abc": "eligible", "eligible_lbf": "eligible",
                    "eligible_uso": "not_eligible", "planned_build": False, "approximate": False,
                    **DEMO_EVIDENCE}},
    {"type": "Feature", "id": 990600000215,
     "geometry": {"type": "Point", "coordinates": [-4.445969, 52.079673]},
     "properties": {"uprn": 990600000215, "postcode": "SA38 9EX", "status": "below",
                    "probability_below": 1.0, "best_down_mbps": 19.3, "best_up_mbps": 4.7,
                    "band": "10<30", "evidence": "ofcom-api", "evidence_release": "2026-07",
                    "eligible_abc": "eligible", "eligible_lbf": "eligible",
                    "eligible_uso": "not_eligible", "planned_build": False, "approximate": False,
                    **DEMO_EVIDENCE}},
    {"type": "Feature", "id": 990600000216,
     "geometry": {"type": "Point", "coordinates": [-4.441936, 52.080683]},
     "properties": {"uprn": 990600000216, "postcode": "SA38 9EX", "status": "below",
                    "probability_below": 1.0, "best_down_mbps": 8.0, "best_up_mbps": 0.7,
                    "band": "5<10", "evidence": "ofcom-api", "evidence_release": "2026-07",
                    "eligible_abc": "eligible", "eligible_lbf": "eligible",
                    "eligible_uso": "eligible", "planned_build": False, "approximate": False,
                    **DEMO_EVIDENCE}},
]
MERTHYR = {"code": "W06000024", "name_en": "Merthyr Tydfil", "name_cy": "Merthyr Tudful",
           "premises": 28602, "below": 66, "possibly_below": 1148, "expected_below_30": 225.0,
           "share_below": 0.007866583, "abc_eligible": 66, "lbf_eligible": 40, "uso_eligible": 5}


def get(client, url, status=200, mimetype="application/json"):
    response = client.get(url)
    assert response.status_code == status, response.data[:500]
    assert response.mimetype == mimetype
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    return response.get_json()


def links(doc) -> dict[str, tuple[str, str]]:
    return {link["rel"]: (link["href"], link["type"]) for link in doc["links"]}


def test_landing_page_and_conformance(client):
    for url in ("/ogc", "/ogc/", "/ogc?f=json"):
        doc = get(client, url)
        assert doc["title"] == "Broadband gap map for Wales"
        assert links(doc) == {
            "self": (BASE, "application/json"),
            "service-desc": (f"{BASE}/api", "application/vnd.oai.openapi+json;version=3.0"),
            "conformance": (f"{BASE}/conformance", "application/json"),
            "data": (f"{BASE}/collections", "application/json"),
        }
    assert get(client, "/ogc/conformance") == {"conformsTo": [
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    ]}


def test_collections_with_extents(client):
    doc = get(client, "/ogc/collections")
    assert links(doc) == {"self": (f"{BASE}/collections", "application/json")}
    assert [c["id"] for c in doc["collections"]] == [
        "premises", "local-authorities", "wards", "lsoas", "msoas", "constituencies"]
    premises = doc["collections"][0]
    assert premises == get(client, "/ogc/collections/premises")
    assert premises["itemType"] == "feature"
    assert premises["crs"] == ["http://www.opengis.net/def/crs/OGC/1.3/CRS84"]
    assert premises["extent"] == {"spatial": {
        "bbox": [[-4.711121, 51.624608, -3.28223, 52.562491]],
        "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}}
    # the demo's classifications read no speed tests: no licence link, the description as ever
    assert premises["description"].endswith("The feature id is the UPRN.")
    assert links(premises) == {
        "self": (f"{BASE}/collections/premises", "application/json"),
        "items": (f"{BASE}/collections/premises/items", "application/geo+json"),
        "describedBy": (f"{BASE}/collections/premises/schema", "application/schema+json"),
    }
    las = doc["collections"][1]
    assert las["extent"]["spatial"]["bbox"] == [[-5.481491, 51.375104, -2.650185, 53.435441]]


def test_premises_in_a_box_filtered_by_status(client):
    doc = get(client, f"/ogc/collections/premises/items?bbox={BOX}&status=below&limit=100",
              mimetype="application/geo+json")
    assert doc["type"] == "FeatureCollection"
    assert (doc["numberMatched"], doc["numberReturned"]) == (3, 3)
    assert (doc["classification"], doc["synthetic"]) == ("2026-07", True)
    assert doc["features"] == BELOW_IN_BOX
    assert links(doc) == {
        "self": (f"{BASE}/collections/premises/items?bbox=-4.45%2C52.07%2C-4.43%2C52.09"
                 "&status=below&limit=100", "application/geo+json"),
        "collection": (f"{BASE}/collections/premises", "application/json"),
    }
    # the same premises found by their postcode in any spelling, and by two filters at once
    by_postcode = get(client, "/ogc/collections/premises/items?postcode=sa389ex&status=below"
                              "&eligible_uso=eligible", mimetype="application/geo+json")
    assert [f["id"] for f in by_postcode["features"]] == [990600000216, 990600000218]


def test_paging_links(client):
    url = f"/ogc/collections/premises/items?bbox={BOX}&limit=10"
    first = get(client, url, mimetype="application/geo+json")
    assert (first["numberMatched"], first["numberReturned"]) == (35, 10)
    query = "bbox=-4.45%2C52.07%2C-4.43%2C52.09&limit=10"
    assert links(first)["next"] == (f"{BASE}/collections/premises/items?{query}&offset=10",
                                    "application/geo+json")
    assert "prev" not in links(first)
    last = get(client, f"{url}&offset=30", mimetype="application/geo+json")
    assert (last["numberMatched"], last["numberReturned"]) == (35, 5)
    assert links(last)["prev"][0] == f"{BASE}/collections/premises/items?{query}&offset=20"
    assert links(last)["self"][0] == f"{BASE}/collections/premises/items?{query}&offset=30"
    assert "next" not in links(last)
    ids = [f["id"] for offset in (0, 10, 20, 30)
           for f in get(client, f"{url}&offset={offset}", mimetype="application/geo+json")["features"]]
    assert len(ids) == len(set(ids)) == 35 and ids == sorted(ids)
    everything = get(client, "/ogc/collections/premises/items", mimetype="application/geo+json")
    assert (everything["numberMatched"], everything["numberReturned"]) == (63225, 10)
    assert links(everything)["next"][0] == f"{BASE}/collections/premises/items?offset=10"


def test_one_premises_and_one_area(client):
    feature = get(client, "/ogc/collections/premises/items/990600000216",
                  mimetype="application/geo+json")
    assert feature == {**BELOW_IN_BOX[2], "classification": "2026-07", "links": [
        {"href": f"{BASE}/collections/premises/items/990600000216", "rel": "self",
         "type": "application/geo+json", "title": "This feature"},
        {"href": f"{BASE}/collections/premises", "rel": "collection", "type": "application/json",
         "title": "Premises"}]}
    area = get(client, "/ogc/collections/local-authorities/items/w06000024",
               mimetype="application/geo+json")
    assert (area["id"], area["properties"]) == ("W06000024", MERTHYR)
    assert area["geometry"]["type"] == "MultiPolygon"


def test_areas_with_statistics(client):
    doc = get(client, "/ogc/collections/local-authorities/items?limit=50",
              mimetype="application/geo+json")
    assert (doc["numberMatched"], doc["numberReturned"]) == (22, 22)
    by_code = {f["id"]: f["properties"] for f in doc["features"]}
    assert by_code["W06000024"] == MERTHYR
    assert by_code["W06000008"] == {
        "code": "W06000008", "name_en": "Ceredigion", "name_cy": "Ceredigion", "premises": 34623,
        "below": 1043, "possibly_below": 7707, "expected_below_30": 4025.0,
        "share_below": 0.1162522, "abc_eligible": 1043, "lbf_eligible": 851, "uso_eligible": 97}
    # an authority without premises: counted 0, share unknown
    assert by_code["W06000001"]["premises"] == 0 and by_code["W06000001"]["share_below"] is None
    near_merthyr = get(client, "/ogc/collections/local-authorities/items?bbox=-3.4,51.7,-3.3,51.8",
                       mimetype="application/geo+json")
    assert [f["id"] for f in near_merthyr["features"]] == [
        "W06000016", "W06000018", "W06000019", "W06000023", "W06000024"]
    welsh = get(client, "/ogc/collections/local-authorities/items?name_cy=Merthyr%20Tudful",
                mimetype="application/geo+json")
    assert [f["id"] for f in welsh["features"]] == ["W06000024"]
    for cid, total in [("wards", 852), ("lsoas", 1909), ("msoas", 410), ("constituencies", 32)]:
        page = get(client, f"/ogc/collections/{cid}/items?limit=1", mimetype="application/geo+json")
        assert page["numberMatched"] == total
        assert set(page["features"][0]["properties"]) == set(MERTHYR)


@pytest.mark.parametrize(("url", "status", "message"), [
    ("/ogc/collections/nope", 404,
     "no collection 'nope'; collections: premises, local-authorities, wards, lsoas, msoas, "
     "constituencies"),
    ("/ogc/collections/nope/items", 404,
     "no collection 'nope'; collections: premises, local-authorities, wards, lsoas, msoas, "
     "constituencies"),
    ("/ogc/collections/premises/items/1", 404, "no premises with UPRN '1'"),
    ("/ogc/collections/premises/items/x1", 404, "no premises with UPRN 'x1'"),
    ("/ogc/collections/premises/items/%C2%B2", 404, "no premises with UPRN '²'"),  # a digit to isdigit()
    ("/ogc/collections/wards/items/W06000024", 404, "no area 'W06000024' in wards"),
    ("/ogc/collections/premises/items?bbox=1,2,3", 400,
     "bbox must be four numbers: west,south,east,north (CRS84 longitude, latitude)"),
    ("/ogc/collections/premises/items?bbox=-3,52,-4,53", 400,
     "bbox must be west,south,east,north with -180 <= west < east <= 180 and -90 <= south < "
     "north <= 90"),
    ("/ogc/collections/premises/items?limit=0", 400, "limit must be at least 1, got 0"),
    ("/ogc/collections/premises/items?offset=-1", 400, "offset must be between 0 and 2147483647, got -1"),
    ("/ogc/collections/premises/items?limit=ten", 400, "limit must be a whole number, got 'ten'"),
    ("/ogc/collections/premises/items?status=slow", 400,
     "status='slow' is not one of below, possibly_below, above, unknown"),
    ("/ogc/collections/premises/items?planned_build=maybe", 400,
     "planned_build must be true or false, got 'maybe'"),
    ("/ogc/collections/premises/items?postcode=nowhere", 400,
     "postcode='nowhere' is not a UK postcode; for example CF48 1AA"),
    ("/ogc/collections/local-authorities/items?status=below", 400,
     "unknown query parameter status; this resource takes bbox, code, f, limit, name_cy, "
     "name_en, offset"),
    ("/ogc/collections?f=html", 400, "f='html' is not offered; this service answers in JSON only (f=json)"),
    ("/ogc/collections/premises/items?limit=1&limit=2", 400, "give limit once"),
    ("/ogc/collections/local-authorities/items/W06%0000024", 400,
     "parameters must not contain NUL or other control characters (%00-%1F, %7F)"),
    ("/ogc/nowhere", 404, "The requested URL was not found on the server. If you entered the URL "
                          "manually please check your spelling and try again."),
])
def test_errors_have_the_one_shape(client, url, status, message):
    response = client.get(url)
    assert response.status_code == status
    assert response.mimetype == "application/json"
    assert response.get_json()["error"] == {
        "status": status, "code": response.get_json()["error"]["code"], "message": message}


def test_limit_above_the_maximum_is_lowered(client):
    doc = get(client, "/ogc/collections/premises/items?limit=20000&status=below&offset=1000",
              mimetype="application/geo+json")
    assert (doc["numberMatched"], doc["numberReturned"]) == (1109, 109)
    assert links(doc)["prev"][0] == f"{BASE}/collections/premises/items?limit=20000&status=below"


def test_api_definition_lists_every_route(app, client):
    response = client.get("/ogc/api")
    assert response.headers["Content-Type"] == "application/vnd.oai.openapi+json;version=3.0"
    document = response.get_json()
    validate(document)
    assert document["servers"] == [{"url": BASE}]
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/ogc"):
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule.removeprefix("/ogc")) or "/"
            for cid in COLLECTIONS if "{cid}" in path else [None]:
                routes.add(path.replace("{cid}", cid or "").replace("{fid}", "{featureId}"))
    assert routes == set(document["paths"])
    premises = document["paths"]["/collections/premises/items"]["get"]["parameters"]
    assert [p.get("name") or p["$ref"].rsplit("/", 1)[1] for p in premises] == [
        "f", "bbox", "limit", "offset", "uprn", "postcode", "status", "band", "evidence",
        "evidence_release", "eligible_abc", "eligible_lbf", "eligible_uso", "planned_build",
        "approximate"]


def test_before_the_first_classification(settings):
    from webmap import create_app

    app = create_app(settings.replace(secret_key=TEST_SECRET))
    try:
        client = app.test_client()
        response = client.get("/ogc/collections/premises/items")
        assert response.status_code == 404
        assert response.get_json()["error"]["message"] == "nothing is classified yet"
        empty = get(client, "/ogc/collections/local-authorities/items",
                    mimetype="application/geo+json")
        assert (empty["numberMatched"], empty["features"]) == (0, [])
        assert "extent" not in get(client, "/ogc/collections/premises")
    finally:
        app.extensions["gapmap_db"].close()


# --- GDAL ---------------------------------------------------------------------------------------

def gdal(*args: str) -> str:
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, check=True)
    return done.stdout


def test_gdal_lists_the_collections(live_server):
    out = gdal("ogrinfo", "-ro", "-so", f"OAPIF:{live_server}/ogc")
    assert re.findall(r"^\d+: (\S+) \(title: .*\) \((.*)\)$", out, re.M) == [
        ("premises", "Point"), ("local-authorities", "Multi Polygon"),
        ("wards", "Multi Polygon"), ("lsoas", "Multi Polygon"), ("msoas", "Multi Polygon"),
        ("constituencies", "Multi Polygon")]
    # GDAL's default page size (10): the first ten premises have null speeds, so without the
    # collection's schema (rel="describedBy") GDAL would type the speeds as String
    summary = gdal("ogrinfo", "-ro", "-so", f"OAPIF:{live_server}/ogc", "premises")
    assert "Feature Count: 63225" in summary
    assert "Extent: (-4.711121, 51.624608) - (-3.282230, 52.562491)" in summary
    # the newer evidence is null throughout the demo: typed from the schema too
    assert re.findall(r"^(\w+): (\S+)", summary, re.M)[-25:] == [
        ("postcode", "String"), ("status", "String"),
        ("probability_below", "Real"), ("best_down_mbps", "Real"), ("best_up_mbps", "Real"),
        ("band", "String"), ("evidence", "String"), ("evidence_release", "String"),
        ("eligible_abc", "String"), ("eligible_lbf", "String"), ("eligible_uso", "String"),
        ("planned_build", "Integer(Boolean)"), ("approximate", "Integer(Boolean)"),
        ("address_kind", "String"), ("oa_code", "String"), ("oa_premises", "Integer"),
        ("oa_unable_30", "Integer"), ("oa_unable_decent", "Integer"), ("fwa_decent_pct", "Real"),
        ("speedtest_down", "Real"), ("speedtest_up", "Real"), ("speedtest_tests", "Integer"),
        ("speedtest_release", "String"), ("speedtest_moved", "String"),
        ("uprn", "Integer64")]  # from the features: GDAL 3.6 reads a schema integer as 32-bit
    areas = gdal("ogrinfo", "-ro", "-so", f"OAPIF:{live_server}/ogc", "wards")
    assert re.findall(r"^(\w+): (\S+)", areas, re.M)[-12:] == [
        ("id", "String"), ("code", "String"), ("name_en", "String"), ("name_cy", "String"),
        ("premises", "Integer"), ("below", "Integer"), ("possibly_below", "Integer"),
        ("expected_below_30", "Real"), ("share_below", "Real"), ("abc_eligible", "Integer"),
        ("lbf_eligible", "Integer"), ("uso_eligible", "Integer")]


def test_collection_schema(client):
    schema = get(client, "/ogc/collections/premises/schema", mimetype="application/schema+json")
    assert schema["$id"] == f"{BASE}/collections/premises/schema"
    assert schema["properties"]["id"]["format"] == "int64"
    props = schema["properties"]["properties"]["properties"]
    assert list(props) == [p.name for p in COLLECTIONS["premises"].properties
                           if p.name != "uprn"] + EVIDENCE_NAMES
    assert props["best_down_mbps"] == {"type": "number", "nullable": True,
                                       "description": "Best predicted download, Mbit/s"}
    assert props["oa_premises"] == {
        "type": "integer", "nullable": True,
        "description": "Ofcom's premises in the output area (All Premises, from AddressBase: not "
                       "our count)"}
    assert props["speedtest_moved"] == {
        "type": "string", "nullable": True, "enum": ["below", "above"],
        "description": "Where speed tests moved a possibly-below premises (null: not moved)"}
    assert props["address_kind"]["enum"] == ["residential", "business", "dual_use"]
    assert "address_en" not in props  # public_addresses is off
    wards = get(client, "/ogc/collections/wards/schema", mimetype="application/schema+json")
    assert list(wards["properties"]["properties"]["properties"]) == [
        p.name for p in COLLECTIONS["wards"].properties]
    get(client, "/ogc/collections/nowhere/schema", 404)


def test_gdal_reads_a_box_filtered_on_the_server(live_server):
    # default page size (10): four pages, following the next links
    out = gdal("ogrinfo", "-ro", "-al", "-q", f"OAPIF:{live_server}/ogc", "premises",
               "-spat", "-4.45", "52.07", "-4.43", "52.09")
    assert len(re.findall(r"^OGRFeature\(premises\)", out, re.M)) == 35
    below = gdal("ogrinfo", "-ro", "-al", "-q", f"OAPIF:{live_server}/ogc", "premises",
                 "-spat", "-4.45", "52.07", "-4.43", "52.09", "-where", "status = 'below'")
    assert re.findall(r"^\s+uprn \(Integer64\) = (\d+)", below, re.M) == [
        "990600000214", "990600000215", "990600000216"]


def test_ogr2ogr_to_geopackage(live_server, tmp_path):
    out = tmp_path / "below.gpkg"
    gdal("ogr2ogr", "-f", "GPKG", str(out), f"OAPIF:{live_server}/ogc", "premises",
         "-oo", "PAGE_SIZE=1000", "-spat", "-4.45", "52.07", "-4.43", "52.09",
         "-where", "status = 'below'")
    assert pyogrio.list_layers(out).tolist() == [["premises", "Point"]]
    frame = pyogrio.read_dataframe(out)
    assert frame.crs.to_epsg() == 4326
    rows = frame.drop(columns="geometry").to_dict("records")
    # pandas reads a null number as NaN (the newer evidence is null throughout the demo)
    rows = [{k: None if isinstance(v, float) and math.isnan(v) else v for k, v in r.items()}
            for r in rows]
    assert rows == [f["properties"] for f in BELOW_IN_BOX]
    assert [(round(p.x, 6), round(p.y, 6)) for p in frame.geometry] == [
        tuple(f["geometry"]["coordinates"]) for f in BELOW_IN_BOX]
    # the collection's description is the layer's (where the speed tests' licence is said)
    with contextlib.closing(sqlite3.connect(out)) as gpkg:
        description = gpkg.execute("SELECT description FROM gpkg_contents "
                                   "WHERE table_name = 'premises'").fetchone()[0]
    assert description.startswith("Every premises of the current classification: ")
    assert description.endswith("The feature id is the UPRN.")
    areas = tmp_path / "areas.gpkg"
    gdal("ogr2ogr", "-f", "GPKG", str(areas), f"OAPIF:{live_server}/ogc", "local-authorities")
    las = pyogrio.read_dataframe(areas)
    assert len(las) == 22
    merthyr = las[las["code"] == "W06000024"].drop(columns="geometry").to_dict("records")
    assert merthyr == [{"id": "W06000024", **MERTHYR}]  # GDAL keeps a string feature id as a field


# --- The newer evidence where it is: speed tests (CC BY-NC-SA), addresses (a setting) ----------

@pytest.fixture(scope="module")
def evidence_ogc(server, base_db):
    """tests/test_resident_web.py's evidence copy (an Ookla tile over its postcode's first
    premises, AddressBase addresses for the first two), classified once more so the current run
    also reads the addresses' kind; apps with public_addresses off (the default) and on."""
    from connectivity.classify import classify
    from connectivity.rules import load_rules
    from tests.conftest import app_for
    from tests.test_resident_web import build_evidence_db

    built = build_evidence_db(server, base_db)
    settings = built["settings"]
    with psycopg.connect(settings.conninfo, autocommit=True) as db:
        classify(db, load_rules(settings.rules_file), label="2026-01 with addresses")
    base = settings.replace(secret_key=TEST_SECRET)
    with app_for(base) as off, app_for(base.replace(public_addresses=True)) as on:
        yield {**built, "off": off.test_client(), "on": on.test_client()}
    server.drop(built["name"])


LICENCE = {"href": "https://creativecommons.org/licenses/by-nc-sa/4.0/", "rel": "license",
           "type": "text/html",
           "title": "Speed test figures (speedtest_*): Speedtest\u00ae by Ookla\u00ae Global Fixed "
                    "and Mobile Network Performance Maps, CC BY-NC-SA 4.0: non-commercial use only"}


def test_speed_tests_carry_their_licence_and_addresses_need_the_setting(evidence_ogc):
    first, second, third = evidence_ogc["uprns"][:3]
    off, on = evidence_ogc["off"], evidence_ogc["on"]
    feature = get(off, f"/ogc/collections/premises/items/{first}", mimetype="application/geo+json")
    assert feature["classification"] == "2026-01 with addresses"
    props = feature["properties"]
    # the hand-made tile (6.2 down, 0.8 up, 41 tests, 2026-Q2), AddressBase's RD04 and the
    # hand-made postcode coverage (40 % by fixed wireless), which this run read
    assert {k: props[k] for k in EVIDENCE_NAMES if k != "speedtest_moved"} == {
        "address_kind": "residential", "oa_code": None, "oa_premises": None,
        "oa_unable_30": None, "oa_unable_decent": None, "fwa_decent_pct": 40.0,
        "speedtest_down": 6.2, "speedtest_up": 0.8, "speedtest_tests": 41,
        "speedtest_release": "2026-Q2"}
    assert props["speedtest_moved"] in (None, "below", "above")
    assert "address_en" not in props and "address_cy" not in props
    assert feature["links"][-1] == LICENCE
    collection = get(off, "/ogc/collections/premises")
    assert collection["links"][-1] == LICENCE
    assert collection["description"].endswith(
        " The feature id is the UPRN. Speed test figures (speedtest_*): Speedtest\u00ae by "
        "Ookla\u00ae Global Fixed and Mobile Network Performance Maps, CC BY-NC-SA 4.0: "
        "non-commercial use only (https://creativecommons.org/licenses/by-nc-sa/4.0/).")
    assert LICENCE not in get(off, "/ogc/collections/wards")["links"]
    page = get(off, f"/ogc/collections/premises/items?postcode={evidence_ogc['full']}&limit=3",
               mimetype="application/geo+json")
    assert [f["properties"]["address_kind"] for f in page["features"]] == [
        "residential", "residential", None]  # the third has no AddressBase record
    assert page["links"][-1] == LICENCE
    body = off.get(f"/ogc/collections/premises/items?postcode={evidence_ogc['full']}")
    assert "HIGH STREET" not in body.get_data(as_text=True)
    # on: the addresses, in English and in Welsh where AddressBase has it
    page = get(on, f"/ogc/collections/premises/items?postcode={evidence_ogc['full']}&limit=3",
               mimetype="application/geo+json")
    assert [(f["id"], f["properties"]["address_en"], f["properties"]["address_cy"])
            for f in page["features"]] == [
        (first, "1 HIGH STREET, ABERAERON", "1 STRYD FAWR, ABER-AERON"),
        (second, "2 HIGH STREET, ABERAERON", None), (third, None, None)]
    schema = get(on, "/ogc/collections/premises/schema", mimetype="application/schema+json")
    assert list(schema["properties"]["properties"]["properties"])[-2:] == ["address_en",
                                                                          "address_cy"]
    document = on.get("/ogc/api").get_json()
    validate(document)
    assert "address_en" in document["components"]["schemas"]["premises-feature"]["properties"][
        "properties"]["properties"]
    assert "address_en" not in off.get("/ogc/api").get_json()["components"]["schemas"][
        "premises-feature"]["properties"]["properties"]["properties"]
