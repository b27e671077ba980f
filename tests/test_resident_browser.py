"""The postcode page and the report form as residents meet them (issue 19), in a real Chromium:
no console errors, no CSP violation, nothing fetched from elsewhere, axe-clean, both languages."""

from __future__ import annotations

import re

import psycopg
import pytest

from tests.conftest import axe_serious, open_page

pytestmark = pytest.mark.browser


@pytest.fixture()
def resident(browser, live_server):
    pg = open_page(browser, live_server)
    yield pg
    pg.context.close()
    assert pg.csp == [] and pg.external == []


@pytest.fixture(scope="module")
def premises_here(loaded_settings):
    with psycopg.connect(loaded_settings.conninfo, autocommit=True) as conn:
        postcode, total = conn.execute(
            "SELECT postcode, count(*) FROM gapmap.premises_class WHERE status = 'below' "
            "GROUP BY postcode ORDER BY postcode LIMIT 1").fetchone()
        uprns = [r[0] for r in conn.execute(
            "SELECT uprn FROM gapmap.premises_class WHERE postcode = %s ORDER BY uprn",
            (postcode,)).fetchall()]
        yield postcode, uprns
        conn.execute("DELETE FROM gapmap.challenge")
        conn.execute("DELETE FROM gapmap.report")


@pytest.mark.parametrize(("lang", "link", "heading"), [
    ("en", "Tell us a premises is missing", "Tell us the map is wrong about CF10 1AA"),
    ("cy", "Rhowch wybod i ni fod safle ar goll", "Dywedwch wrthym fod y map yn anghywir am CF10 1AA"),
])
def test_a_postcode_with_no_premises_draws_its_map_and_leads_to_the_form(resident, live_server,
                                                                       lang, link, heading):
    resident.goto(f"{live_server}/{lang}/postcode/CF101AA")
    resident.wait_for_selector(".leaflet-container")
    # the map stands at the postcode's centroid (Code-Point Open: 51.479102, -3.178085)
    centre = resident.evaluate("(() => { const c = window.gapmap.getCenter(); "
                               "return [c.lat, c.lng]; })()")
    assert centre == pytest.approx([51.479102, -3.178085], abs=0.01)
    assert resident.locator(".leaflet-container").bounding_box()["height"] > 100
    assert resident.errors == []
    assert axe_serious(resident) == []
    resident.get_by_role("link", name=link).click()
    resident.wait_for_url(f"{live_server}/{lang}/postcode/CF101AA/report?problem=missing")
    assert resident.locator("h1").inner_text() == heading
    assert resident.locator("#problem-missing").is_checked()
    assert resident.locator(".synthetic-banner").is_visible()
    assert resident.errors == []


@pytest.mark.parametrize(("lang", "h1", "link"), [
    ("en", "SW1A 1AA is not a postcode in Wales in our data", "check broadband on Ofcom's website"),
    ("cy", "Nid yw SW1A 1AA yn god post yng Nghymru yn ein data", "gwirio band eang ar wefan Ofcom"),
])
def test_a_postcode_outside_wales_is_explained_with_a_link_to_ofcom(resident, live_server, lang,
                                                                  h1, link):
    # searched for, as a resident would
    resident.goto(f"{live_server}/{lang}/")
    resident.fill("#search-q", "sw1a 1aa")
    with resident.expect_response(lambda r: "/postcode/" in r.url) as answer:
        resident.press("#search-q", "Enter")
    assert answer.value.status == 404
    assert resident.locator("h1").inner_text() == h1
    ofcom = resident.get_by_role("link", name=link)
    assert ofcom.get_attribute("href") == "https://checker.ofcom.org.uk/"
    assert resident.errors == []
    assert axe_serious(resident) == []
    assert resident.external == []  # a link only: nothing was fetched from Ofcom


@pytest.mark.parametrize(("lang", "words"), [
    ("en", {"summary": "There is a problem", "error": "Error: ", "choose": "Choose what is wrong.",
            "speed": "Give the speed as a number of Mbit/s, for example 7.5.",
            "missing": "My premises is not on the map", "send": "Send the report",
            "thanks": "Thank you: your report is sent", "premises": "Premises {n} of {total}: "}),
    ("cy", {"summary": "Mae problem", "error": "Gwall: ", "choose": "Dewiswch beth sy'n anghywir.",
            "speed": None, "missing": "Nid yw fy safle ar y map", "send": "Anfon yr adroddiad",
            "thanks": None, "premises": "Safle {n} o {total}: "}),
])
def test_the_form_shows_each_error_beside_its_field_and_in_the_summary(resident, live_server,
                                                                     premises_here, lang, words):
    postcode, uprns = premises_here
    compact = postcode.replace(" ", "")
    resident.goto(f"{live_server}/{lang}/postcode/{compact}/report?uprn={uprns[2]}")
    # the premises from the map is chosen, named by its place in the list
    chosen = resident.locator("#field-uprn option:checked").inner_text()
    assert chosen.startswith(words["premises"].format(n=3, total=len(uprns)) + f"UPRN {uprns[2]}. ")
    assert resident.locator(".synthetic-banner").is_visible()
    resident.fill("#field-measured_down", "fast")
    resident.get_by_role("button", name=words["send"]).click()
    resident.wait_for_selector(".error-summary")
    summary = resident.locator(".error-summary")
    assert summary.locator("h2").inner_text() == words["summary"]
    links = summary.locator("a")
    assert links.count() == 2
    assert links.nth(0).inner_text() == words["choose"]
    # the summary has the focus (screen readers read it first), and its links lead to the fields
    # (autofocus is applied when the page is next rendered: wait for it, a moment at most)
    resident.wait_for_function("() => document.activeElement && "
                               "document.activeElement.className === 'error-summary'", timeout=5000)
    links.nth(1).click()
    assert resident.evaluate("document.activeElement.id") == "field-measured_down"
    links.nth(0).click()
    assert resident.evaluate("document.activeElement.id") == "problem-slower"
    # beside each field, and part of its accessible description
    beside = resident.locator("#error-measured_down")
    assert beside.is_visible()
    assert beside.text_content() == words["error"] + links.nth(1).inner_text()
    described = resident.evaluate(
        "document.getElementById('field-measured_down').getAttribute('aria-describedby')")
    assert described.split() == ["speed-hint", "error-measured_down"]
    assert resident.locator("#field-measured_down").get_attribute("aria-invalid") == "true"
    assert resident.locator("#field-problem").get_attribute("aria-invalid") == "true"
    assert resident.locator("#field-measured_down").input_value() == "fast"
    if words["speed"]:
        assert links.nth(1).inner_text() == words["speed"]
    assert axe_serious(resident) == []
    assert resident.errors == []


def test_the_form_works_without_javascript(browser, live_server, loaded_settings, premises_here):
    postcode, uprns = premises_here
    compact = postcode.replace(" ", "")
    page = open_page(browser, live_server, javascript=False)
    try:
        page.goto(f"{live_server}/en/postcode/{compact}/report")
        label = page.locator(f"#field-uprn option[value='{uprns[-1]}']").inner_text()
        assert re.fullmatch(rf"Premises {len(uprns)} of {len(uprns)}: UPRN {uprns[-1]}\. .+", label)
        page.select_option("#field-uprn", label=label)
        page.check("#problem-slower")
        page.fill("#field-measured_down", "3.5")
        page.get_by_role("button", name="Send the report").click()
        page.wait_for_selector("#status-link")
        assert page.locator("h1").inner_text() == "Thank you: your report is sent"
        assert page.locator(".synthetic-banner").is_visible()
        assert page.csp == [] and page.external == []
    finally:
        page.context.close()
    with psycopg.connect(loaded_settings.conninfo) as conn:
        assert conn.execute("SELECT postcode, uprn, problem, measured_down FROM gapmap.report "
                            "ORDER BY id DESC LIMIT 1").fetchone() == (postcode, uprns[-1],
                                                                         "slower", 3.5)


@pytest.fixture(scope="module")
def evidence_server(server, base_db):
    """The demo copy with measured speeds, fixed wireless, a speed test tile and addresses
    (tests/test_resident_web.build_evidence_db), served with public_addresses on."""
    from tests.conftest import TEST_SECRET, app_for, serve_in_thread
    from tests.test_resident_web import build_evidence_db

    built = build_evidence_db(server, base_db)
    settings = built["settings"].replace(secret_key=TEST_SECRET, public_addresses=True)
    with app_for(settings) as app, serve_in_thread(app) as base:
        yield base, built
    server.drop(built["name"])


@pytest.mark.parametrize(("lang", "headings", "address", "ookla"), [
    ("en", ["Decent broadband and fixed wireless", "Measured speeds"], "1 HIGH STREET, ABERAERON",
     "Speed tests 2026-Q2: Speedtest® by Ookla®, non-commercial use only (CC BY-NC-SA 4.0)"),
    ("cy", ["Band eang teilwng a diwifr sefydlog", "Cyflymderau wedi'u mesur"],
     "1 STRYD FAWR, ABER-AERON",
     "Profion cyflymder 2026-Q2: Speedtest® gan Ookla®, at ddefnydd anfasnachol yn unig "
     "(CC BY-NC-SA 4.0)"),
])
def test_the_postcode_page_with_measured_speeds_speed_tests_and_addresses_is_accessible(
        browser, evidence_server, lang, headings, address, ookla):
    base, built = evidence_server
    page = open_page(browser, base)
    try:
        page.goto(f"{base}/{lang}/postcode/{built['full'].replace(' ', '')}")
        page.wait_for_selector(".leaflet-container")
        for heading in headings:
            assert page.get_by_role("heading", name=heading).is_visible()
        first = page.locator(f"#uprn-{built['uprns'][0]}")
        assert first.locator("td.address").inner_text() == address
        assert "41" in first.locator("td.speedtest").inner_text()
        assert page.locator("#speedtest-licence a").get_attribute("href") == (
            "https://creativecommons.org/licenses/by-nc-sa/4.0/")
        # the map's folded sources name Ookla, with its licence linked
        page.locator(".gm-attribution-toggle button").click()
        sources = page.locator(".gm-attribution")
        assert ookla in sources.inner_text()
        assert sources.locator("a", has_text="CC BY-NC-SA 4.0").count() == 1
        assert axe_serious(page) == []
        assert page.errors == []
    finally:
        page.context.close()
    assert page.csp == [] and page.external == []
