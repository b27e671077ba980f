"""A plan made end to end in a real browser (Debian's Chromium through Playwright), in English
and in Welsh: an officer opens the plans, asks for the clusters of Ceredigion, chooses one on the
map and one in the table, switches the map's colouring, saves the plan, sees its totals, and
downloads the bid pack (re-read: the GeoPackage's layers with pyogrio). Every page is checked
with axe-core and for CSP violations; no request leaves the service."""

from __future__ import annotations

import re
import zipfile

import pyogrio
import pytest

from connectivity.costs import load_costs
from connectivity.officers import accounts as acc
from connectivity.officers import plans, session_scope
from connectivity.planning import params_from
from connectivity.settings import load_settings
from tests.conftest import TEST_SECRET, app_for, axe_serious, copy_of, serve_in_thread, watch_csp

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery staple"
CEREDIGION = "W06000008"
OFFICER = "officer@ceredigion.gov.uk"
WORDS = {"en": {"sign_in": "Sign in", "show": "Show the clusters", "save": "Save plan",
                "plans": "Plans", "chosen": "2 chosen"},
         "cy": {"sign_in": "Mewngofnodi", "show": "Dangos y clystyrau", "save": "Cadw'r cynllun",
                "plans": "Cynlluniau", "chosen": "2 wedi'u dewis"}}


@pytest.fixture(scope="module")
def site(server, base_db, tmp_path_factory):
    name, url = copy_of(server, base_db)
    settings = load_settings({"database_url": url,
                              "cache_dir": str(tmp_path_factory.mktemp("cache"))},
                             environ={}).replace(secret_key=TEST_SECRET)
    with session_scope(settings) as s:
        acc.add_account(s, email=OFFICER, role="officer", areas=[CEREDIGION], lang="en",
                        password=PASSWORD, actor="test")
    with app_for(settings) as app, serve_in_thread(app) as base:
        yield {"base": base, "settings": settings}
    server.drop(name)


@pytest.mark.parametrize("lang", ["en", "cy"])
def test_an_officer_makes_a_plan_on_the_map_and_downloads_its_bid_pack(browser, site, lang,
                                                                       tmp_path):
    base, words = site["base"], WORDS[lang]
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True,
                                  locale="cy-GB" if lang == "cy" else "en-GB")
    page = context.new_page()
    failed, external = [], []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)

    def offline(route):
        external.append(route.request.url)
        route.abort()

    page.route(lambda u: not u.startswith(base), offline)
    csp = watch_csp(page)
    page.goto(f"{base}/{lang}/sign-in")
    page.fill("#field-email", OFFICER)
    page.fill("#field-password", PASSWORD)
    page.get_by_role("button", name=words["sign_in"]).click()
    page.wait_for_url("**/officer/")
    page.goto(f"{base}/{lang}/officer/")
    page.locator(".officer-nav").get_by_role("link", name=words["plans"]).click()
    page.wait_for_url(f"**/{lang}/officer/plans")
    assert axe_serious(page) == []
    page.select_option("#plan-area", CEREDIGION)
    page.get_by_role("button", name=words["show"]).click()
    page.wait_for_url(f"**/{lang}/officer/plans/new?**")
    page.wait_for_function("document.querySelectorAll('.leaflet-marker-icon.plan-mark').length > 1")
    assert axe_serious(page) == []
    # one cluster chosen on the map (a click on its mark ticks its box), one in the table
    page.locator(".leaflet-marker-icon.cluster-1").dispatch_event("click")
    assert page.is_checked("#choose-1")
    page.wait_for_function("document.querySelector('.cluster-1').classList.contains('chosen')")
    page.check("#choose-2")
    assert page.locator("#chosen-summary").inner_text().startswith(words["chosen"])
    # the colour switch: the option legend replaces the cost one, the marks carry its letters
    page.check("#colour-option")
    assert page.is_visible("#legend-option") and not page.is_visible("#legend-cost")
    page.wait_for_function("document.querySelector('.cluster-1').classList.contains('cat-fibre')"
                           " || document.querySelector('.cluster-1').className.includes('cat-')")
    assert axe_serious(page) == []
    # the table sorts in place by keyboard, keeping the choice
    page.locator("#cluster-table a.sort[data-col=premises]").focus()
    page.keyboard.press("Enter")
    page.wait_for_function("document.querySelector('#cluster-table a.sort[data-col=premises]')"
                           ".closest('th').getAttribute('aria-sort') === 'ascending'")
    assert page.is_checked("#choose-1") and page.is_checked("#choose-2")
    page.fill("#plan-name", f"Two clusters {lang}")
    page.get_by_role("button", name=words["save"]).click()
    page.wait_for_url(re.compile(rf".*/{lang}/officer/plans/\d+$"))
    pid = int(page.url.rsplit("/", 1)[1])
    with session_scope(site["settings"]) as s:
        plan = plans.get_plan(s, None, pid)
        t = plans.plan_totals(plan)
        ids = [c.cluster_id for c in plan.clusters]
        found = plans.clusters_for(s, None, load_costs(), params_from(load_costs()),
                                   la=CEREDIGION)
        s.rollback()
    assert ids == [1, 2]
    sizes = {c["id"]: c["premises"] for c in found["clusters"]}
    assert t["premises"] == sizes[1] + sizes[2]
    assert page.locator("[data-total=premises]").inner_text() == f"{t['premises']:,}"
    page.wait_for_function("document.querySelectorAll('.leaflet-marker-icon.plan-mark').length"
                           " === 2")
    assert axe_serious(page) == []
    with page.expect_download() as info:
        page.click("#bidpack-link")
    path = tmp_path / "pack.zip"
    info.value.save_as(path)
    with zipfile.ZipFile(path) as z:
        z.extract("plan.gpkg", tmp_path)
    gpkg = tmp_path / "plan.gpkg"
    assert sorted(map(tuple, pyogrio.list_layers(gpkg))) == [
        ("boundary", "MultiPolygon"), ("clusters", "Polygon"), ("layer_styles", None),
        ("premises", "Point")]
    clusters = pyogrio.read_dataframe(gpkg, layer="clusters")
    assert sorted(clusters["cluster_id"]) == [1, 2]
    assert len(pyogrio.read_dataframe(gpkg, layer="premises")) == t["premises"]
    assert csp == [] and failed == [] and external == []
    context.close()
