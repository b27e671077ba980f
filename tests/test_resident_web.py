"""The postcode page and the report form as residents meet them (issue 19), through Flask's test
client against the loaded demo database: postcodes with no premises, postcodes outside our data,
texts that are not postcodes."""

from __future__ import annotations

import re

import psycopg
import pytest

from tests.conftest import app_for, copy_of

#: a real Cardiff postcode: in the postcode table, with no premises (the synthetic premises are in
#: Ceredigion and Merthyr Tydfil only)
EMPTY = "CF10 1AA"


@pytest.fixture(scope="module")
def counts(loaded_settings):
    with psycopg.connect(loaded_settings.conninfo) as conn:
        return {
            "postcodes": conn.execute("SELECT count(*) FROM gapmap.postcode").fetchone()[0],
            "cf10": conn.execute("SELECT count(*) FROM gapmap.postcode WHERE postcode LIKE 'CF10 %'"
                                 ).fetchone()[0],
            "empty_known": conn.execute("SELECT count(*) FROM gapmap.postcode WHERE postcode = %s",
                                        (EMPTY,)).fetchone()[0],
            "empty_premises": conn.execute(
                "SELECT (SELECT count(*) FROM gapmap.premises WHERE postcode = %s)"
                " + (SELECT count(*) FROM gapmap.premises_class WHERE postcode = %s)",
                (EMPTY, EMPTY)).fetchone()[0],
        }


def main_of(html: str) -> str:
    return re.search(r'<main id="main" tabindex="-1">(.*)</main>', html, re.S).group(1)


@pytest.mark.parametrize(("lang", "heading", "explains", "link"), [
    ("en", "No premises recorded here",
     "No premises are recorded at this postcode in our data, so we cannot say what can be got "
     "here or which help applies.",
     '<a id="report-missing" href="/en/postcode/CF101AA/report?problem=missing">'
     "Tell us a premises is missing</a>"),
    ("cy", "Dim safleoedd wedi'u cofnodi yma",
     "Does dim safleoedd wedi'u cofnodi yn y cod post hwn yn ein data, felly ni allwn ddweud "
     "beth sydd ar gael yma na pha gymorth sy'n berthnasol.",
     '<a id="report-missing" href="/cy/postcode/CF101AA/report?problem=missing">'
     "Rhowch wybod i ni fod safle ar goll</a>"),
])
def test_a_postcode_with_no_premises_gets_its_map_an_explanation_and_the_report_link(
        client, counts, lang, heading, explains, link):
    assert counts["empty_known"] == 1 and counts["empty_premises"] == 0
    response = client.get(f"/{lang}/postcode/cf101aa")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    main = main_of(html)
    # the map is drawn (its container is on the page), at the postcode's centroid
    name = re.search(r'<div class="folium-map" id="(map_[0-9a-f]+)"', main).group(1)
    assert f"var {name} = L.map(" in html and f"window.gapmap = {name};" in html
    assert f'<h2 id="none-title">{heading}</h2>' in main
    assert explains in main
    assert link in main
    # and nothing that needs premises: no empty table, no help paragraph
    assert "<table" not in main and "Access Broadband Cymru" not in main


def test_the_missing_premises_link_opens_the_form_on_that_problem(client):
    html = client.get("/en/postcode/CF101AA/report?problem=missing").get_data(as_text=True)
    assert re.findall(r'<input type="radio" name="problem" id="problem-(\w+)" value="\w+"( checked)?>',
                      html) == [("slower", ""), ("faster", ""), ("unavailable", ""),
                                ("missing", " checked"), ("other", "")]
    assert re.findall(r"<option[^>]*>([^<]*)</option>", html) == [
        "I can't find my premises, or it is missing"]
    assert ("No premises are recorded at CF10 1AA in our data. If yours is here, choose "
            "“My premises is not on the map” above.") in html
    # an unknown problem in the address chooses nothing
    other = client.get("/en/postcode/CF101AA/report?problem=nonsense").get_data(as_text=True)
    assert " checked>" not in other


@pytest.mark.parametrize("path", ["/{lang}/postcode/SW1A1AA", "/{lang}/postcode/sw1a%201aa",
                                  "/{lang}/postcode/SW1A1AA/report"])
def test_a_postcode_outside_wales_says_so_and_links_to_ofcom_in_both_languages(client, counts, path):
    n = f"{counts['postcodes']:,}"
    expected = {
        "en": ("SW1A 1AA is not a postcode in Wales in our data",
               f"This map covers Wales only. Our data holds {n} postcodes in Wales, and none of "
               "them is in SW1A.",
               "Ofcom's broadband checker covers every postcode in the UK:\n    "
               '<a id="ofcom-checker" href="https://checker.ofcom.org.uk/">'
               "check broadband on Ofcom's website</a>"),
        "cy": ("Nid yw SW1A 1AA yn god post yng Nghymru yn ein data",
               f"Cymru yn unig y mae'r map hwn yn ei chwmpasu. Mae ein data yn cynnwys {n} cod "
               "post yng Nghymru, a does dim un ohonynt yn SW1A.",
               "Mae gwiriwr band eang Ofcom yn cwmpasu pob cod post yn y DU:\n    "
               '<a id="ofcom-checker" href="https://checker.ofcom.org.uk/">'
               "gwirio band eang ar wefan Ofcom</a>"),
    }
    for lang, (h1, says, link) in expected.items():
        response = client.get(path.format(lang=lang))
        assert response.status_code == 404
        assert response.headers["Content-Language"] == lang
        main = main_of(response.get_data(as_text=True))
        assert f"<h1>{h1}</h1>" in main
        assert f"<p>{says}</p>" in main
        assert link in main
        assert "Page not found" not in main and "Heb ddod o hyd i'r dudalen" not in main


def test_a_missing_postcode_of_a_welsh_district_is_told_apart(client, counts):
    n, cf10 = f"{counts['postcodes']:,}", f"{counts['cf10']:,}"
    html = main_of(client.get("/en/postcode/CF109ZZ").get_data(as_text=True))
    assert "<h1>CF10 9ZZ is not a postcode in Wales in our data</h1>" in html
    assert (f"<p>Our data holds {n} postcodes in Wales, {cf10} of them in CF10, but not CF10 9ZZ. "
            "It may be newer than our data or no longer in use; some districts on the border also "
            "have postcodes in England.</p>") in html


@pytest.mark.parametrize(("lang", "raw", "h1", "hint"), [
    ("en", "hello", "“hello” is not a postcode",
     "A postcode is two to four letters and numbers, a space, then a number and two letters, as "
     "in CF10 1AA or SA43 2BN."),
    ("cy", "CF10", "Nid yw “CF10” yn god post",
     "Mae cod post yn ddwy i bedair llythyren a rhif, bwlch, yna rhif a dwy lythyren, fel "
     "CF10 1AA neu SA43 2BN."),
    ("en", "<b>x", "“&lt;b&gt;x” is not a postcode", "CF10 1AA or SA43 2BN"),
])
def test_a_text_that_is_not_a_postcode_is_told_apart_from_one_outside_our_data(client, lang, raw,
                                                                             h1, hint):
    for path in (f"/{lang}/postcode/{raw}", f"/{lang}/postcode/{raw}/report"):
        response = client.get(path)
        assert response.status_code == 404, path
        main = main_of(response.get_data(as_text=True))
        assert f"<h1>{h1}</h1>" in main
        assert hint in main
        assert "ofcom" not in main.lower()  # not a postcode: nowhere else would know it either


def test_a_long_text_is_shortened_on_the_page(client):
    main = main_of(client.get("/en/postcode/" + "x" * 300).get_data(as_text=True))
    assert f"<h1>“{'x' * 20}” is not a postcode</h1>" in main


def test_the_postcode_count_says_what_it_counts(client, loaded_settings, counts):
    """The figure on the not-in-our-data page is the postcode table's rows: the postcodes file's
    rows less the one kept as a reject (no coordinates)."""
    with psycopg.connect(loaded_settings.conninfo) as conn:
        read, loaded, rejected = conn.execute(
            "SELECT rows_read, rows_loaded, rows_rejected FROM gapmap.load_run "
            "WHERE kind = 'postcodes' AND status = 'succeeded' ORDER BY id DESC LIMIT 1").fetchone()
    assert (read, loaded, rejected) == (92_248, 92_247, 1)
    assert counts["postcodes"] == loaded
    html = client.get("/en/postcode/SY11AA").get_data(as_text=True)
    assert "Our data holds 92,247 postcodes in Wales, and none of them is in SY1." in html


def test_the_postcode_map_is_given_the_postcode_its_bounds_and_the_report_form(client,
                                                                             loaded_settings):
    with psycopg.connect(loaded_settings.conninfo) as conn:
        postcode = conn.execute("SELECT postcode FROM gapmap.premises_class WHERE status = 'below' "
                                "ORDER BY uprn LIMIT 1").fetchone()[0]
    compact = postcode.replace(" ", "")
    html = client.get(f"/cy/postcode/{compact}").get_data(as_text=True)
    assert f'"postcode": "{postcode}"' in html
    assert f'"reportUrl": "/cy/postcode/{compact}/report"' in html
    assert re.search(r'"bounds": \[\[5[12]\.\d+, -[34]\.\d+\], \[5[12]\.\d+, -[34]\.\d+\]\]', html)
    # no premises: no bounds, the map stands at the centroid
    empty = client.get("/en/postcode/CF101AA").get_data(as_text=True)
    assert '"bounds": null' in empty and '"reportUrl": "/en/postcode/CF101AA/report"' in empty


# --- Measured speeds, fixed wireless, speed tests and addresses (issue 17) ---------------------

#: what the hand-made evidence says for the chosen postcode (written over the demo's rows)
MEASURED = {"median_down": 12.5, "avg_down": 20.3, "median_up": 1.5, "avg_up": 2.4,
            "lines_below_30": 3, "lines_total": 8, "lines_0_2": 1, "lines_2_5": 0,
            "lines_5_10": 1, "lines_10_30": 1, "lines_30_300": 4, "lines_300": 1}
COVERAGE = {"unable_10_pct": 12.5, "fwa_decent_pct": 40, "unable_decent_pct": 5}
ADDRESSES = {0: ("1 HIGH STREET, ABERAERON", "1 STRYD FAWR, ABER-AERON"),
             1: ("2 HIGH STREET, ABERAERON", None)}  # the third premises has no address row
LICENCE_URL = "https://creativecommons.org/licenses/by-nc-sa/4.0/"


def build_evidence_db(server, base_db: str) -> dict:
    """A copy of ``base_db`` (the demo with its first release, 2026-01: tests/conftest.py; the
    session's fully loaded database cannot be copied while the session's app is connected to
    it) where one postcode (``full``) has hand-made measured speeds
    (8 lines), coverage, addresses for two of its premises and an Ookla tile over its first
    premises, classified again so the current run reads the speed tests; a second postcode
    (``few``) has 2 lines measured, a third (``none``) no performance row."""
    from connectivity.classify import classify
    from connectivity.rules import load_rules
    from connectivity.settings import load_settings
    from etl.ookla import quadkey_of, tile_bounds

    name, url = copy_of(server, base_db)
    with psycopg.connect(url, autocommit=True) as db:
        perf = db.execute("SELECT id FROM gapmap.release WHERE source = 'ofcom-performance' "
                          "AND label = '2026-01'").fetchone()[0]
        cov = db.execute("SELECT id FROM gapmap.release WHERE source = 'ofcom-coverage' "
                         "AND label = '2026-01'").fetchone()[0]
        # postcodes of three premises or more, each with a performance row
        full, few, none = [r[0] for r in db.execute(
            "SELECT c.postcode FROM gapmap.premises_class c JOIN gapmap.ev_postcode_performance e "
            "ON e.postcode = c.postcode AND e.release_id = %s GROUP BY c.postcode "
            "HAVING count(*) >= 3 ORDER BY c.postcode LIMIT 3", (perf,)).fetchall()]
        db.execute("UPDATE gapmap.ev_postcode_performance SET median_down = %(median_down)s, "
                   "avg_down = %(avg_down)s, median_up = %(median_up)s, avg_up = %(avg_up)s, "
                   "lines_below_30 = %(lines_below_30)s, lines_total = %(lines_total)s, "
                   "lines_0_2 = %(lines_0_2)s, lines_2_5 = %(lines_2_5)s, "
                   "lines_5_10 = %(lines_5_10)s, lines_10_30 = %(lines_10_30)s, "
                   "lines_30_300 = %(lines_30_300)s, lines_300 = %(lines_300)s "
                   "WHERE release_id = %(perf)s AND postcode = %(pc)s",
                   {**MEASURED, "perf": perf, "pc": full})
        db.execute("UPDATE gapmap.ev_postcode_performance SET lines_below_30 = 1, lines_total = 2 "
                   "WHERE release_id = %s AND postcode = %s", (perf, few))
        db.execute("DELETE FROM gapmap.ev_postcode_performance WHERE postcode = %s", (none,))
        uprns = [r[0] for r in db.execute("SELECT uprn FROM gapmap.premises_class WHERE "
                                          "postcode = %s ORDER BY uprn", (full,)).fetchall()]
        lon, lat = db.execute("SELECT ST_X(ST_Transform(geom, 4326)), ST_Y(ST_Transform(geom, "
                              "4326)) FROM gapmap.premises WHERE uprn = %s", (uprns[0],)).fetchone()
        run = db.execute("INSERT INTO gapmap.load_run (kind, status, fingerprint, started_at) "
                         "VALUES ('ookla', 'succeeded', 'hand-made', now()) RETURNING id").fetchone()[0]
        ookla = db.execute("INSERT INTO gapmap.release (source, label, run_id, synthetic) VALUES "
                           "('ookla', '2026-Q2', %s, true) RETURNING id", (run,)).fetchone()[0]
        quadkey = quadkey_of(lon, lat)
        db.execute("INSERT INTO gapmap.ev_speedtest_tile (release_id, quadkey, avg_down, avg_up, "
                   "avg_lat_ms, tests, devices, geom) VALUES (%s, %s, 6.2, 0.8, 33, 41, 9, "
                   "ST_Transform(ST_MakeEnvelope(%s, %s, %s, %s, 4326), 27700))",
                   (ookla, quadkey, *tile_bounds(quadkey)))
        settings = load_settings({"database_url": url}, environ={})
        classify(db, load_rules(settings.rules_file), label="2026-01 with speed tests")
        # after classifying: the page reads these rows, the statuses stay the demo's
        db.execute("UPDATE gapmap.ev_postcode_coverage SET unable_10_pct = %(unable_10_pct)s, "
                   "fwa_decent_pct = %(fwa_decent_pct)s, unable_decent_pct = %(unable_decent_pct)s "
                   "WHERE release_id = %(cov)s AND postcode = %(pc)s AND NOT residential_only",
                   {**COVERAGE, "cov": cov, "pc": full})
        address_run = db.execute(
            "INSERT INTO gapmap.load_run (kind, status, fingerprint, started_at) VALUES "
            "('addressbase', 'succeeded', 'hand-made', now()) RETURNING id").fetchone()[0]
        for i, (en, cy) in ADDRESSES.items():
            db.execute("INSERT INTO gapmap.address (uprn, class_code, kind, address_en, "
                       "address_cy, postcode, run_id) VALUES (%s, 'RD04', 'residential', %s, %s, "
                       "%s, %s)", (uprns[i], en, cy, full, address_run))
        tested = db.execute("SELECT uprn FROM gapmap.premises_class WHERE speedtest_down IS NOT "
                            "NULL ORDER BY uprn").fetchall()
    return {"name": name, "settings": settings, "full": full, "few": few, "none": none,
            "uprns": uprns, "tested": [r[0] for r in tested], "at": (lon, lat)}


@pytest.fixture(scope="module")
def evidence(server, base_db):
    built = build_evidence_db(server, base_db)
    yield built
    server.drop(built["name"])


@pytest.fixture(scope="module")
def evidence_apps(evidence):
    """Two apps over the evidence copy: addresses off (the default) and on."""
    from tests.conftest import TEST_SECRET

    base = evidence["settings"].replace(secret_key=TEST_SECRET)
    with app_for(base) as off, app_for(base.replace(public_addresses=True)) as on:
        yield {"off": off.test_client(), "on": on.test_client()}


SPEEDTEST = {"down": 6.2, "up": 0.8, "latency_ms": 33.0, "tests": 41, "devices": 9,
             "release": "2026-Q2", "licence": "CC BY-NC-SA 4.0", "licence_url": LICENCE_URL,
             "non_commercial": True}


def test_the_api_gives_measured_speeds_fixed_wireless_and_speed_tests(evidence, evidence_apps):
    client = evidence_apps["off"]
    full = evidence["full"]
    data = client.get(f"/api/v1/postcodes/{full}").get_json()
    assert data["classification"] == "2026-01 with speed tests"
    assert data["measured"] == {"release": "2026-01", "lines": 8, "min_lines": 4, "shown": True,
                                "median_down": 12.5, "avg_down": 20.3, "median_up": 1.5,
                                "avg_up": 2.4, "lines_below_30_pct": 37.5,
                                "lines_30_or_more_pct": 62.5, "lines_300_or_more_pct": 12.5,
                                "bands": [
        {"band": "0<2", "name": "Under 2 Mbit/s", "lines": 1},
        {"band": "2<5", "name": "2 to 5 Mbit/s", "lines": 0},
        {"band": "5<10", "name": "5 to 10 Mbit/s", "lines": 1},
        {"band": "10<30", "name": "10 to 30 Mbit/s", "lines": 1},
        {"band": "30<300", "name": "30 to 300 Mbit/s", "lines": 4},
        {"band": ">=300", "name": "300 Mbit/s or more", "lines": 1}]}
    assert data["decent_broadband"] == {"release": "2026-01", "fixed_unable_10_pct": 12.5,
                                        "fwa_decent_pct": 40.0, "unable_decent_pct": 5.0}
    # the tile covers the first premises (and perhaps neighbours in the same tile)
    first = data["premises"][0]
    assert evidence["uprns"][0] in evidence["tested"]
    assert first["speedtest"] == {**SPEEDTEST, "moved": first["speedtest"]["moved"],
                                  "attribution": "Speedtest\u00ae by Ookla\u00ae Global Fixed and "
                                  "Mobile Network Performance Maps, CC BY-NC-SA 4.0: "
                                  "non-commercial use only"}
    assert first["speedtest"]["moved"] in (None, "below", "above")
    assert [p["speedtest"] is not None for p in data["premises"]] == [
        p in evidence["tested"] for p in evidence["uprns"]]
    assert all("speedtest_down" not in p and "address" not in p for p in data["premises"])
    one = client.get(f"/api/v1/premises/{evidence['uprns'][0]}?lang=cy").get_json()
    # the same figures; the bands named in Welsh
    assert one["measured"] == {**data["measured"], "bands": [
        {**band, "name": name} for band, name in zip(data["measured"]["bands"], [
            "O dan 2 Mbit/s", "2 i 5 Mbit/s", "5 i 10 Mbit/s", "10 i 30 Mbit/s",
            "30 i 300 Mbit/s", "300 Mbit/s neu fwy"], strict=True)]}
    assert one["decent_broadband"] == data["decent_broadband"]
    assert one["speedtest"]["attribution"].endswith("CC BY-NC-SA 4.0: at ddefnydd anfasnachol yn unig")
    assert "address" not in one
    # too few lines: the figures are withheld; no row: nothing at all
    few = client.get(f"/api/v1/postcodes/{evidence['few']}").get_json()["measured"]
    assert few == {"release": "2026-01", "lines": 2, "min_lines": 4, "shown": False,
                   "median_down": None, "avg_down": None, "median_up": None, "avg_up": None,
                   "lines_below_30_pct": None, "lines_30_or_more_pct": None,
                   "lines_300_or_more_pct": None, "bands": None}
    assert client.get(f"/api/v1/postcodes/{evidence['none']}").get_json()["measured"] is None


def test_addresses_are_shown_only_with_the_setting_on(evidence, evidence_apps):
    full, uprns = evidence["full"], evidence["uprns"]
    on = evidence_apps["on"]
    en = on.get(f"/api/v1/postcodes/{full}").get_json()["premises"]
    cy = on.get(f"/api/v1/postcodes/{full}?lang=cy").get_json()["premises"]
    assert [p["address"] for p in en[:3]] == ["1 HIGH STREET, ABERAERON", "2 HIGH STREET, ABERAERON",
                                              None]
    assert [p["address"] for p in cy[:3]] == ["1 STRYD FAWR, ABER-AERON", "2 HIGH STREET, ABERAERON",
                                              None]
    assert on.get(f"/api/v1/premises/{uprns[0]}?lang=cy").get_json()["address"] == \
        "1 STRYD FAWR, ABER-AERON"
    near = f"/api/v1/premises?lon={evidence['at'][0]}&lat={evidence['at'][1]}&radius=1"
    assert [f["properties"]["address"] for f in on.get(near).get_json()["features"]] == [
        "1 HIGH STREET, ABERAERON"]
    page = main_of(on.get(f"/cy/postcode/{full.replace(' ', '')}").get_data(as_text=True))
    assert '<th scope="col">Cyfeiriad</th>' in page
    assert '<td class="address">1 STRYD FAWR, ABER-AERON</td>' in page
    assert '<td class="address">2 HIGH STREET, ABERAERON</td>' in page
    assert '<td class="address">–</td>' in page
    # off (the default): never, in any answer or page
    off = evidence_apps["off"]
    for url in (f"/api/v1/postcodes/{full}", f"/api/v1/premises/{uprns[0]}",
                f"/en/postcode/{full.replace(' ', '')}", f"/cy/postcode/{full.replace(' ', '')}",
                near.replace("radius=1", "radius=500")):
        body = off.get(url).get_data(as_text=True)
        assert "HIGH STREET" not in body and "STRYD FAWR" not in body, url
    assert '"address"' not in off.get(f"/api/v1/postcodes/{full}").get_data(as_text=True)


@pytest.mark.parametrize(("lang", "texts"), [
    ("en", [
        '<h2 id="decent-title">Decent broadband and fixed wireless</h2>',
        "<li>Cannot get 10 Mbit/s by a fixed line: <strong>12.5%</strong></li>",
        "<li>Can get decent broadband (10 Mbit/s down, 1 Mbit/s up) by fixed wireless: "
        "<strong>40%</strong></li>",
        "<li>Cannot get decent broadband by either: <strong>5%</strong></li>",
        "<p>A Universal Service Obligation request may be met by fixed wireless: where a fixed "
        "wireless network gives decent broadband, the provider may offer that instead of a line.</p>",
        '<h2 id="measured-title">Measured speeds</h2>',
        "<p>Measured on the lines people here use, so what they buy, not what they could get "
        "(Ofcom fixed performance, release 2026-01).</p>",
        "<dt>Median download</dt><dd>12.5 Mbit/s</dd>",
        "<dt>Average download</dt><dd>20.3 Mbit/s</dd>",
        "<dt>Median upload</dt><dd>1.5 Mbit/s</dd>",
        "<dt>Average upload</dt><dd>2.4 Mbit/s</dd>",
        "<dt>Lines measured</dt><dd>8</dd>",
        "<dt>Lines below 30 Mbit/s</dt><dd>37.5%</dd>",
        "<dt>Lines at 30 Mbit/s or more</dt><dd>62.5%</dd>",
        "<dt>Lines at 300 Mbit/s or more</dt><dd>12.5%</dd>",
        "<caption>Lines measured in each download speed band (Ofcom fixed performance)</caption>",
        '<tr><th scope="row">Under 2 Mbit/s</th><td>1</td></tr>',
        '<tr><th scope="row">300 Mbit/s or more</th><td>1</td></tr>',
        "Since July 2024 Ofcom publishes its average measured speeds as robust only down to local "
        "authority level: a postcode's figures are indicative.",
        '<th scope="col">Speed tests in its tile (Speedtest by Ookla, CC BY-NC-SA 4.0, '
        'non-commercial use)</th>',
        '<td class="speedtest">6.2 Mbit/s down, 0.8 up; latency 33 ms; 41 tests from 9 devices '
        '(2026-Q2)</td>',
        f'non-commercial use only, under the licence <a href="{LICENCE_URL}" hreflang="en">'
        "CC BY-NC-SA 4.0</a>.</p>",
    ]),
    ("cy", [
        '<h2 id="decent-title">Band eang teilwng a diwifr sefydlog</h2>',
        "<li>Methu cael 10 Mbit/s drwy linell sefydlog: <strong>12.5%</strong></li>",
        "<li>Gallu cael band eang teilwng (10 Mbit/s i lawr, 1 Mbit/s i fyny) drwy ddiwifr "
        "sefydlog: <strong>40%</strong></li>",
        "<li>Methu cael band eang teilwng drwy'r naill na'r llall: <strong>5%</strong></li>",
        '<h2 id="measured-title">Cyflymderau wedi\'u mesur</h2>',
        "<dt>Cyflymder lawrlwytho canolrifol</dt><dd>12.5 Mbit/s</dd>",
        "<dt>Llinellau o dan 30 Mbit/s</dt><dd>37.5%</dd>",
        '<td class="speedtest">6.2 Mbit/s i lawr, 0.8 i fyny; hwyrni 33 ms; 41 prawf o 9 dyfais '
        '(2026-Q2)</td>',
        f'<a href="{LICENCE_URL}" hreflang="en">CC BY-NC-SA 4.0</a>.</p>',
    ]),
])
def test_the_postcode_page_shows_the_new_evidence(evidence, evidence_apps, lang, texts):
    page = main_of(evidence_apps["off"].get(f"/{lang}/postcode/{evidence['full'].replace(' ', '')}")
                   .get_data(as_text=True))
    for text in texts:
        assert text in page, text
    assert "<th scope=\"col\">Address</th>" not in page and "Cyfeiriad" not in page


def test_few_lines_withhold_the_figures_and_no_row_says_nothing(evidence, evidence_apps):
    client = evidence_apps["off"]
    few = main_of(client.get(f"/en/postcode/{evidence['few'].replace(' ', '')}").get_data(as_text=True))
    assert ("<p>Too few lines are measured here (2, fewer than 4) for their speeds to be shown.</p>"
            in few)
    assert "<dt>Median download</dt>" not in few and 'class="measured-bands"' not in few
    cy = main_of(client.get(f"/cy/postcode/{evidence['few'].replace(' ', '')}").get_data(as_text=True))
    assert ("<p>Mae rhy ychydig o linellau wedi'u mesur yma (2, llai na 4) i ddangos eu "
            "cyflymderau.</p>") in cy
    none = main_of(client.get(f"/en/postcode/{evidence['none'].replace(' ', '')}").get_data(as_text=True))
    assert "Measured speeds" not in none and "Ofcom fixed performance" not in none


def test_the_map_names_ookla_only_while_the_classification_read_speed_tests(client, evidence,
                                                                           evidence_apps):
    added = (f'.attributionControl.addAttribution("Speed tests 2026-Q2: Speedtest\u00ae by '
             f'Ookla\u00ae, non-commercial use only (\\u003ca href=\\"{LICENCE_URL}\\"\\u003eCC '
             'BY-NC-SA 4.0\\u003c/a\\u003e)");')
    for url in ("/en/", f"/en/postcode/{evidence['full'].replace(' ', '')}"):
        assert added in evidence_apps["off"].get(url).get_data(as_text=True), url
        # the demo's own classifications read no speed tests
        assert "addAttribution(\"Speed tests" not in client.get(url).get_data(as_text=True)
    cy = evidence_apps["off"].get("/cy/").get_data(as_text=True)
    assert "Profion cyflymder 2026-Q2: Speedtest\u00ae gan Ookla\u00ae, at ddefnydd anfasnachol yn unig" in cy


def test_the_new_fields_keep_the_openapi_contract(evidence, evidence_apps):
    """The answers with speed tests, measured speeds, a withheld postcode and addresses (which the
    demo database behind tests/test_schemathesis.py lacks) match the OpenAPI document."""
    from jsonschema import Draft202012Validator, ValidationError

    from webmap.openapi import DOCUMENT

    def check(schema: dict, answer: dict) -> None:
        Draft202012Validator({**schema, "components": DOCUMENT["components"]}).validate(answer)

    paths = DOCUMENT["paths"]
    postcode = paths["/api/v1/postcodes/{postcode}"]["get"]["responses"]["200"]
    premises = paths["/api/v1/premises/{uprn}"]["get"]["responses"]["200"]
    many = paths["/api/v1/premises"]["get"]["responses"]["200"]
    for client in evidence_apps.values():
        for pc in (evidence["full"], evidence["few"], evidence["none"]):
            check(postcode["content"]["application/json"]["schema"],
                  client.get(f"/api/v1/postcodes/{pc}?lang=cy").get_json())
        check(premises["content"]["application/json"]["schema"],
              client.get(f"/api/v1/premises/{evidence['uprns'][0]}").get_json())
        check(many["content"]["application/geo+json"]["schema"], client.get(
            f"/api/v1/premises?lon={evidence['at'][0]}&lat={evidence['at'][1]}&radius=300"
        ).get_json())
    # and a wrong answer does not (the check can fail)
    answer = evidence_apps["on"].get(f"/api/v1/postcodes/{evidence['full']}").get_json()
    answer["premises"][0]["speedtest"]["licence"] = "OGL"
    with pytest.raises(ValidationError, match=r"'licence': 'OGL'.* is not valid under any of "):
        check(postcode["content"]["application/json"]["schema"], answer)
