"""A challenge end to end in a real browser (Debian's Chromium through Playwright), in Welsh and
in English: a resident reports a premises through the report page and keeps the status link,
an officer accepts and upholds the challenge with a corrected speed, an admin publishes and
classifies from the workspace, and then the map's popup, the postcode page, the API and the OGC
API show the premises with evidence "accepted correction" and the corrected speed, and the
resident's status page says upheld. Every page is checked with axe-core and for CSP violations;
every request to another host is refused (the service works offline)."""

from __future__ import annotations

import psycopg
import pytest

from connectivity.officers import accounts as acc
from connectivity.officers import session_scope
from connectivity.settings import load_settings
from tests.conftest import TEST_SECRET, app_for, axe_serious, copy_of, open_page, serve_in_thread

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery staple"
CEREDIGION = "W06000008"
OFFICER, ADMIN = "officer@ceredigion.gov.uk", "admin@gov.wales"
WORDS = {
    "en": {"send": "Send the report", "upheld": "Upheld", "submitted": "Submitted",
           "accepted": "Accepted for review", "evidence": "accepted correction",
           "screen": "Save the screening", "decide": "Save the decision",
           "publish": "Publish corrections and run a classification",
           "published": "Published correction release", "sign_in": "Sign in"},
    "cy": {"send": "Anfon yr adroddiad", "upheld": "Wedi'i gadarnhau",
           "submitted": "Wedi'i gyflwyno", "accepted": "Wedi'i dderbyn i'w adolygu",
           "evidence": "cywiriad a dderbyniwyd", "screen": "Cadw'r sgrinio",
           "decide": "Cadw'r penderfyniad", "publish": "Cyhoeddi'r cywiriadau a rhedeg dosbarthiad",
           "published": "Cyhoeddwyd rhyddhad cywiro", "sign_in": "Mewngofnodi"},
}


@pytest.fixture(scope="module")
def site(server, base_db, tmp_path_factory):
    """A copy of the demo database with an officer of Ceredigion and an admin, served over HTTP;
    and one premises per language to challenge: above 30 Mbit/s, alone at its point (so a click
    on the map finds it), each in a postcode of its own."""
    name, url = copy_of(server, base_db)
    settings = load_settings({"database_url": url,
                              "cache_dir": str(tmp_path_factory.mktemp("cache"))},
                             environ={}).replace(secret_key=TEST_SECRET)
    with session_scope(settings) as s:
        acc.add_account(s, email=OFFICER, role="officer", areas=[CEREDIGION], lang="cy",
                        password=PASSWORD, actor="test")
        acc.add_account(s, email=ADMIN, role="admin", areas=[], lang="en", password=PASSWORD,
                        actor="test")
    with psycopg.connect(url) as conn:
        chosen = conn.execute(
            """SELECT DISTINCT ON (c.postcode) c.uprn, c.postcode,
                      ST_X(ST_Transform(p.geom, 4326)), ST_Y(ST_Transform(p.geom, 4326))
               FROM gapmap.premises_class c JOIN gapmap.premises p USING (uprn)
               JOIN gapmap.premises_place m USING (uprn)
               WHERE m.la = %s AND c.status = 'above' AND NOT p.approximate
                 AND NOT EXISTS (SELECT 1 FROM gapmap.premises o WHERE o.uprn <> p.uprn
                                 AND ST_DWithin(o.geom, p.geom, 25))
               ORDER BY c.postcode, c.uprn LIMIT 2""", (CEREDIGION,)).fetchall()
    assert len(chosen) == 2
    with app_for(settings) as app, serve_in_thread(app) as base:
        yield {"base": base, "url": url,
               "premises": dict(zip(("en", "cy"), chosen, strict=True))}
    server.drop(name)


def new_page(browser, base: str, lang: str):
    # the answers of 400 or more only: requests cancelled by a navigation are no failure here
    return open_page(browser, base, lang=lang, request_failures=False)


def sign_in(page, base: str, lang: str, email: str) -> None:
    page.goto(f"{base}/{lang}/sign-in")
    page.fill("#field-email", email)
    page.fill("#field-password", PASSWORD)
    page.get_by_role("button", name=WORDS[lang]["sign_in"]).click()
    page.wait_for_url("**/officer/")


@pytest.mark.parametrize("lang", ["en", "cy"])
def test_a_report_becomes_a_correction_on_the_map_in_the_browser(browser, site, lang):
    base, words = site["base"], WORDS[lang]
    uprn, postcode, lon, lat = site["premises"][lang]
    compact = postcode.replace(" ", "")
    pages = []

    # a resident reports the premises and keeps the link on the confirmation page
    resident = new_page(browser, base, lang)
    pages.append(resident)
    resident.goto(f"{base}/{lang}/postcode/{compact}/report?uprn={uprn}")
    resident.check("#problem-slower")
    resident.fill("#field-measured_down", "6")
    resident.fill("#field-measured_up", "0.8")
    resident.fill("#field-contact", "resident@example.org")
    resident.get_by_role("button", name=words["send"]).click()
    link = resident.locator("#status-link")
    link.wait_for()
    status_url = link.get_attribute("href")
    assert status_url.startswith(f"/{lang}/reports/") and "?t=" in status_url
    assert link.inner_text() == base + status_url  # the whole address, to copy
    resident.goto(base + status_url)
    assert resident.locator("[data-state]").inner_text() == words["submitted"]
    assert axe_serious(resident) == []
    ref = int(status_url.split("/")[3].split("?")[0])
    with psycopg.connect(site["url"]) as conn:
        cid = conn.execute("SELECT id FROM gapmap.challenge WHERE report_id = %s",
                           (ref,)).fetchone()[0]

    # an officer finds it in the queue, accepts it and upholds it with a corrected speed
    officer = new_page(browser, base, lang)
    pages.append(officer)
    sign_in(officer, base, lang, OFFICER)
    officer.goto(f"{base}/{lang}/officer/challenges?state=open")
    assert axe_serious(officer) == []
    officer.click(f'a[href="/{lang}/officer/challenges/{cid}"]')
    officer.wait_for_url(f"**/{lang}/officer/challenges/{cid}")
    assert "resident@example.org" in officer.content()
    assert axe_serious(officer) == []
    officer.check("#decision-accept")
    officer.get_by_role("button", name=words["screen"]).click()
    officer.wait_for_function(
        "() => document.querySelector('[data-state]').dataset.state === 'accepted'")
    assert officer.locator(".notice").inner_text().endswith(words["accepted"] + ".")
    assert axe_serious(officer) == []  # the decision form
    officer.check("#outcome-upheld")
    officer.fill("#decide-down", "4.5")
    officer.fill("#decide-up", "0.5")
    officer.get_by_role("button", name=words["decide"]).click()
    officer.wait_for_function(
        "() => document.querySelector('[data-state]').dataset.state === 'upheld'")
    assert officer.locator("[data-state]").inner_text() == words["upheld"]

    # an admin publishes the corrections and classifies from the workspace
    admin = new_page(browser, base, lang)
    pages.append(admin)
    sign_in(admin, base, lang, ADMIN)
    admin.goto(f"{base}/{lang}/officer/challenges")
    with admin.expect_navigation(url=f"**/{lang}/officer/challenges", timeout=60000):
        admin.get_by_role("button", name=words["publish"]).click()
    assert words["published"] in admin.locator(".notice").inner_text()
    assert axe_serious(admin) == []

    # the public map's popup: evidence "accepted correction" and the corrected speed
    public = new_page(browser, base, lang)
    pages.append(public)
    public.goto(f"{base}/{lang}/")
    public.wait_for_load_state("networkidle")
    public.evaluate(f"window.gapmap.setView([{lat}, {lon}], 18, {{animate: false}})")
    public.wait_for_load_state("networkidle")
    public.wait_for_function("() => document.querySelectorAll('.leaflet-tile path').length > 0",
                             timeout=15000)
    point = public.evaluate(f"""() => {{
        const p = window.gapmap.latLngToContainerPoint([{lat}, {lon}]);
        const r = window.gapmap.getContainer().getBoundingClientRect();
        return {{x: r.left + p.x, y: r.top + p.y}}; }}""")
    public.mouse.click(point["x"], point["y"])
    popup = public.wait_for_selector(".gm-popup")
    public.wait_for_function("() => document.querySelector('.gm-more') && "
                             "document.querySelector('.gm-more').textContent.length > 10")
    text = popup.inner_text()
    assert f"UPRN {uprn}" in text and words["evidence"] in text and "4.5 Mbit/s" in text, text

    # the postcode page
    public.goto(f"{base}/{lang}/postcode/{compact}")
    row = public.locator(f"#uprn-{uprn}").inner_text()
    assert words["evidence"] in row and "4.5" in row, row

    # the API and the OGC API
    data = public.request.get(f"{base}/api/v1/premises/{uprn}?lang={lang}").json()
    assert (data["evidence"], data["best_down"], data["best_up"], data["status"]) == \
        ("correction", 4.5, 0.5, "below")
    feature = public.request.get(f"{base}/ogc/collections/premises/items/{uprn}?f=json").json()
    assert (feature["properties"]["evidence"], feature["properties"]["best_down_mbps"]) == \
        ("correction", 4.5)

    # the resident's page says upheld, in the language; a wrong or missing token shows nothing
    resident.goto(base + status_url)
    assert resident.locator("[data-state]").inner_text() == words["upheld"]
    assert axe_serious(resident) == []
    for wrong in (status_url.split("?")[0], status_url.split("?")[0] + "?t=wrong",
                  status_url + "x"):
        response = resident.goto(base + wrong)
        assert response.status == 404, wrong
        assert "resident@example.org" not in resident.content()
        assert words["upheld"] not in resident.locator("main").inner_text()

    for page in pages:
        assert page.csp == [], page.csp
        assert page.external == []
        assert [f for f in page.failed if "/reports/" not in f] == []
        page.context.close()
