"""The plan pages over HTTP, by role and scope, with exact outputs: the clusters page's table
and map carry exactly the clusters ``connectivity.officers.plans`` finds, a saved plan's page
shows exactly its totals, the bid pack downloads (audited), two plans side by side, and
viewers and other authorities' officers get no forms and 403 or 404."""

from __future__ import annotations

import io
import json
import re
import zipfile
from html.parser import HTMLParser

import psycopg
import pytest
from babel.numbers import format_decimal

from connectivity.costs import OPTION_NAMES, load_costs
from connectivity.officers import accounts as acc
from connectivity.officers import plans, session_scope
from connectivity.planning import params_from
from connectivity.settings import load_settings
from tests.conftest import TEST_SECRET, app_for, copy_of

PASSWORD = "correct horse battery staple"
CEREDIGION, MERTHYR = "W06000008", "W06000024"
MODEL = load_costs()
EMAILS = {"officer": "officer@ceredigion.gov.uk", "viewer": "viewer@ceredigion.gov.uk",
          "other": "officer@merthyr.gov.uk", "admin": "admin@gov.wales"}


@pytest.fixture(scope="module")
def site(server, base_db):
    """The demo data with LSOAs and WIMD (so the most deprived quintile counts), 2026-07
    classified current, an account of each role, and a plan in each demo authority."""
    from connectivity.classify import classify
    from connectivity.db import connect
    from connectivity.rules import load_rules
    from etl import LOADERS, run_load
    from gapmap.demo import bundled_inputs, synthetic_inputs

    name, url = copy_of(server, base_db)
    settings = load_settings({"database_url": url}, environ={}).replace(secret_key=TEST_SECRET)
    for kind, paths, options, extra in bundled_inputs(settings) + synthetic_inputs(settings):
        if kind == "wimd" or (kind == "boundaries" and options["level"] == "lsoa") \
                or any("2026-07" in str(p) for p in paths):
            run_load(settings, LOADERS[kind](), paths, options=options, **extra)
    with connect(settings, autocommit=True) as conn:
        classify(conn, load_rules(settings.rules_file), up_to="2026-07")
    made = {}
    with session_scope(settings) as s:
        for key, role, areas in (("officer", "officer", [CEREDIGION]),
                                 ("viewer", "viewer", [CEREDIGION]),
                                 ("other", "officer", [MERTHYR]), ("admin", "admin", [])):
            acc.add_account(s, email=EMAILS[key], role=role, areas=areas, password=PASSWORD,
                            actor="t")
        for la, who in ((CEREDIGION, "officer"), (MERTHYR, "other")):
            owner = acc.find_account(s, EMAILS[who])
            made[la] = plans.create_plan(s, name=f"Everything in {la}", owner=owner, by=owner,
                                         la=la, model=MODEL, params=params_from(MODEL),
                                         actor="t").id
    with app_for(settings) as app:
        yield {"settings": settings, "url": url, "app": app, "plans": made}
    server.drop(name)


def csrf_of(html: str) -> str:
    return re.search(r'<input[^>]*name="csrf_token"[^>]*value="([^"]+)"', html)[1]


def signed_in(site, who: str, lang: str = "en"):
    client = site["app"].test_client()
    page = client.get(f"/{lang}/sign-in")
    r = client.post(f"/{lang}/sign-in", data={"email": EMAILS[who], "password": PASSWORD,
                                               "csrf_token": csrf_of(page.text)})
    assert r.status_code == 303, r.text
    return client


class Tables(HTMLParser):
    """Every table of a page by id: its rows as (the row's attributes, [cell texts])."""

    def __init__(self, html: str):
        super().__init__()
        self.tables: dict[str, list[tuple[dict, list[str]]]] = {}
        self._table = self._row = self._cell = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self._table = self.tables.setdefault(attrs.get("id", ""), [])
        elif tag == "tr" and self._table is not None:
            self._row = (attrs, [])
            self._table.append(self._row)
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row[1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "table":
            self._table = self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def gbp(value, lang="en") -> str:
    if value is None:
        return "–"
    return "£" + format_decimal(round(value), locale="cy_GB" if lang == "cy" else "en_GB")


def num(value, lang="en") -> str:
    return format_decimal(value, locale="cy_GB" if lang == "cy" else "en_GB")


def body_rows(html: str, table: str = "cluster-table") -> list[tuple[dict, list[str]]]:
    return [r for r in Tables(html).tables[table] if "data-id" in r[0]]


def expected_row(c: dict, lang: str, choosing: bool) -> list[str]:
    """A cluster's row as the page must show it, from the domain's figures."""
    per = c.get("options") or c.get("per_option")
    words = {"en": ("Cluster", "Isolated premises", "Yes", "No"),
             "cy": ("Clwstwr", "Safleoedd ar wahân", "Ydy", "Nac ydy")}[lang]
    name = f"{words[0]} {c['id']}" if c["id"] else words[1]

    def whole(v):
        return "–" if v is None else num(round(v), lang)

    option = OPTION_NAMES[c["recommended"]][1 if lang == "cy" else 0]
    choose = {"en": "Choose", "cy": "Dewis"}[lang]
    return ([f"{choose} {name}"] if choosing else []) + [
        name, num(c["premises"], lang), num(c["settled"], lang),
        num(round(c["expected"], 1), lang), whole(c["need_wimd_rank"]),
        num(c["most_deprived"], lang), whole(c["served_distance_m"]),
        num(c["planned_members"], lang),
        "–" if c["planned_nearby"] is None else num(c["planned_nearby"], lang),
        whole(c["route_m"]),
        *[gbp(per[o]["gbp"] if per.get(o) else None, lang)
          for o in ("fibre", "fixed_wireless", "leo_satellite")],
        option + ("" if c["meets_target"] else {"en": " (does not meet the target)",
                                                "cy": " (nid yw'n cyrraedd y targed)"}[lang]),
        gbp(c["per_premises_gbp"], lang),
        words[2] if c["very_high_cost"] else words[3],
        "–" if c["robust"] is None else (words[2] if c["robust"] else words[3])]


def domain_clusters(site, la=CEREDIGION, **settings) -> dict:
    with session_scope(site["settings"]) as s:
        result = plans.clusters_for(s, None, MODEL, params_from(MODEL, **settings), la=la)
        s.rollback()
    return result


# -- the plans page -----------------------------------------------------------------------------
def test_the_plans_page_lists_the_plans_in_scope_and_the_form_for_those_who_may_change(site):
    home, away = site["plans"][CEREDIGION], site["plans"][MERTHYR]
    for who, lang, seen, form in (("officer", "en", [home], True), ("viewer", "cy", [home], False),
                                  ("other", "en", [away], True), ("admin", "en", [home, away], True)):
        page = signed_in(site, who, lang).get(f"/{lang}/officer/plans")
        assert page.status_code == 200
        rows = body_rows(page.text, "plans-table")
        assert sorted(int(a["data-id"]) for a, _ in rows) == sorted(seen), who
        main = page.text.split('<main', 1)[1]
        assert (f'action="/{lang}/officer/plans/new"' in main) == form, who
        assert main.count("<form") == (1 if form else 0), who  # viewers: no forms at all
    # the row shows the plan's totals exactly
    with session_scope(site["settings"]) as s:
        t = plans.plan_totals(plans.get_plan(s, None, home))
    page = signed_in(site, "officer").get("/en/officer/plans")
    (_, cells), = body_rows(page.text, "plans-table")
    assert cells == [f"Everything in {CEREDIGION}", "Ceredigion", EMAILS["officer"],
                     "at least 30 Mbit/s", num(t["clusters"]), num(t["premises"]),
                     num(t["expected"]), gbp(t["recommended_gbp"]), gbp(t["per_premises_gbp"]),
                     f"{t['share_of_targets'] * 100:.1f} %"]
    # the navigation and the dashboard link to the plans
    home_page = signed_in(site, "viewer", "cy").get("/cy/officer/")
    assert 'href="/cy/officer/plans">Cynlluniau</a>' in home_page.text
    assert f'href="/cy/officer/plans/{home}"' in home_page.text
    assert f'href="/cy/officer/plans/{away}"' not in home_page.text
    assert 'href="/cy/officer/plans/new"' not in home_page.text  # viewers make no plans


# -- the clusters page --------------------------------------------------------------------------
@pytest.mark.parametrize("lang", ["en", "cy"])
def test_the_clusters_page_carries_exactly_the_domains_clusters(site, lang):
    client = signed_in(site, "officer", lang)
    page = client.get(f"/{lang}/officer/plans/new?area={CEREDIGION}&target=gigabit"
                      "&distance_m=100&min_premises=5")
    assert page.status_code == 200, page.text
    found = domain_clusters(site, target="gigabit")
    groups = found["clusters"] + [found["isolated"]]
    rows = body_rows(page.text)
    assert [int(a["data-id"]) for a, _ in rows] == [g["id"] for g in groups]
    assert [cells for _, cells in rows] == [expected_row(g, lang, True) for g in groups]
    # the map draws every cluster (the isolated premises have no outline: the table has them)
    features = json.loads(re.search(r'<script type="application/json" id="plan-clusters"[^>]*>'
                                    r"(.*?)</script>", page.text, re.S)[1])
    assert [f["id"] for f in features] == [c["id"] for c in found["clusters"]]
    assert {f["option"] for f in features} == {"fibre"}  # gigabit: fibre for every cluster
    assert all(f["outline"]["type"] == "Polygon" for f in features)
    proxy = {"en": "is a proxy for the nearest network", "cy": "ddirprwy ar gyfer y rhwydwaith agosaf"}
    assert proxy[lang] in page.text
    assert ('name="cluster" value="1" id="choose-1"') in page.text
    # sorted by cost per premises, most expensive first (on the server, without JavaScript)
    page = client.get(f"/{lang}/officer/plans/new?area={CEREDIGION}&target=gigabit"
                      "&sort=per_premises_gbp&order=desc")
    ids = [int(a["data-id"]) for a, _ in body_rows(page.text)]
    costs = {g["id"]: g["per_premises_gbp"] for g in found["clusters"]}
    assert ids == sorted(costs, key=lambda i: (-costs[i], i)) + [0]  # isolated: always last
    assert 'aria-sort="descending"' in page.text
    assert client.get(f"/{lang}/officer/plans/new?area={CEREDIGION}&sort=colour").status_code == 400


def test_the_clusters_page_by_role_scope_and_bad_settings(site):
    assert signed_in(site, "viewer").get(
        f"/en/officer/plans/new?area={CEREDIGION}").status_code == 403
    assert signed_in(site, "other").get(
        f"/en/officer/plans/new?area={CEREDIGION}").status_code == 404
    officer = signed_in(site, "officer")
    r = officer.get(f"/en/officer/plans/new?area={CEREDIGION}&distance_m=0")
    assert r.status_code == 400 and "clustering distance must be above 0" in r.text
    r = officer.get(f"/en/officer/plans/new?area={CEREDIGION}&min_premises=many")
    assert r.status_code == 400 and "min_premises must be a number" in r.text
    form = officer.get("/en/officer/plans/new")
    assert form.status_code == 200 and 'value="100"' in form.text and 'value="5"' in form.text


# -- saving, the plan page, the bid pack, comparing ---------------------------------------------
def test_saving_two_clusters_makes_a_plan_whose_page_shows_its_totals(site):
    officer = signed_in(site, "officer", "cy")
    page = officer.get(f"/cy/officer/plans/new?area={CEREDIGION}")
    token = csrf_of(page.text)
    found = domain_clusters(site)
    first, second = found["clusters"][0]["id"], found["clusters"][-1]["id"]
    form = {"csrf_token": token, "area": CEREDIGION, "list": "", "target": "30",
            "distance_m": "100", "min_premises": "5", "notes": "Dau glwstwr"}
    r = officer.post("/cy/officer/plans/new", data={**form, "name": "Dau glwstwr"})
    assert r.status_code == 400 and "Dewiswch o leiaf un clwstwr" in r.text
    r = officer.post("/cy/officer/plans/new", data={**form, "cluster": [str(first)]})
    assert r.status_code == 400 and "Rhowch enw i&#39;r cynllun" in r.text
    assert f'id="choose-{first}" checked' in r.text  # the choice survives the error
    r = officer.post("/cy/officer/plans/new", data={**form, "name": f"Everything in {CEREDIGION}",
                                                     "cluster": [str(first)]})
    assert r.status_code == 400 and "exists already" in r.text
    viewer = signed_in(site, "viewer")
    assert viewer.post("/en/officer/plans/new", data={
        **form, "csrf_token": csrf_of(viewer.get("/en/sign-out").text),
        "name": "x", "cluster": [str(first)]}).status_code == 403
    with psycopg.connect(site["url"]) as conn:
        before = conn.execute("SELECT max(id) FROM gapmap.audit_event").fetchone()[0]
    r = officer.post("/cy/officer/plans/new", data={**form, "name": "Dau glwstwr",
                                                     "cluster": [str(first), str(second)]})
    assert r.status_code == 303, r.text
    pid = int(r.headers["Location"].rsplit("/", 1)[1])
    assert r.headers["Location"] == f"/cy/officer/plans/{pid}"
    with psycopg.connect(site["url"]) as conn:
        assert conn.execute("SELECT actor, action, object_id FROM gapmap.audit_event "
                            "WHERE id > %s ORDER BY id", (before,)).fetchall() == [
            (EMAILS["officer"], "plan.create", str(pid))]
    with session_scope(site["settings"]) as s:
        plan = plans.get_plan(s, None, pid)
        data = plans.plan_dict(s, plan)
    t = data["totals"]
    assert [c["id"] for c in data["clusters"]] == [first, second]
    for lang in ("cy", "en"):
        page = signed_in(site, "viewer", lang).get(f"/{lang}/officer/plans/{pid}")
        assert page.status_code == 200
        shown = dict(re.findall(r'data-total="(\w+)">([^<]*)<', page.text))
        assert shown == {
            "premises": num(t["premises"], lang), "expected": num(t["expected"], lang),
            "clusters": num(2, lang), "isolated_premises": num(0, lang),
            "recommended_gbp": gbp(t["recommended_gbp"], lang),
            "per_premises_gbp": gbp(t["per_premises_gbp"], lang),
            "share_of_targets": f"{t['share_of_targets'] * 100:.1f} % ("
                                f"{num(t['targets'], lang)} {'o' if lang == 'cy' else 'of'} "
                                f"{num(t['authority_targets'], lang)})",
            "most_deprived": num(t["most_deprived"], lang),
            "very_high_cost": num(t["very_high_cost"], lang)}, lang
        assert len(Tables(page.text).tables["plan-totals"]) == len(shown) == 9
        by_option = [cells for _, cells in Tables(page.text).tables["plan-by-option"][1:]]
        assert by_option == [[OPTION_NAMES[o][1 if lang == "cy" else 0],
                              num(b["groups"], lang), num(b["premises"], lang),
                              gbp(b["gbp"], lang)] for o, b in t["by_option"].items()]
        rows = body_rows(page.text)
        assert [cells for _, cells in rows] == [expected_row(c, lang, False)
                                                for c in data["clusters"]]
        assert "2026-07" in page.text and "2026.1" in page.text
        main = page.text.split('<main', 1)[1]
        assert 'method="post"' not in main and 'name="cluster"' not in main  # read-only
        features = json.loads(re.search(r'id="plan-clusters"[^>]*>(.*?)</script>', page.text,
                                        re.S)[1])
        assert [f["id"] for f in features] == [first, second]
    assert "Dau glwstwr" in page.text  # the notes
    # the totals the page shows are the domain's: premises add up over the chosen clusters
    chosen = {c["id"]: c for c in found["clusters"]}
    assert t["premises"] == chosen[first]["premises"] + chosen[second]["premises"]
    assert t["recommended_gbp"] == pytest.approx(chosen[first]["recommended_gbp"]
                                                 + chosen[second]["recommended_gbp"])
    # out of scope: 404, like a plan that does not exist
    other = signed_in(site, "other")
    for path in (f"/en/officer/plans/{pid}", f"/en/officer/plans/{pid}/bidpack",
                 f"/en/officer/plans/compare?a={pid}&b={site['plans'][MERTHYR]}"):
        assert other.get(path).status_code == 404, path


def test_the_bid_pack_downloads_from_the_page_and_is_audited(site):
    pid = site["plans"][CEREDIGION]
    viewer = signed_in(site, "viewer")
    page = viewer.get(f"/en/officer/plans/{pid}")
    assert f'href="/en/officer/plans/{pid}/bidpack"' in page.text
    with psycopg.connect(site["url"]) as conn:
        before = conn.execute("SELECT max(id) FROM gapmap.audit_event").fetchone()[0]
    r = viewer.get(f"/en/officer/plans/{pid}/bidpack")
    assert r.status_code == 200 and r.mimetype == "application/zip"
    assert r.headers["Content-Disposition"] == \
        f'attachment; filename="Everything-in-{CEREDIGION}.zip"'
    assert r.headers["Cache-Control"] == "no-store"
    with zipfile.ZipFile(io.BytesIO(r.data)) as z:
        assert {"plan.gpkg", "premises.csv", "summary.html", "manifest.json"} <= set(z.namelist())
        manifest = json.loads(z.read("manifest.json"))
    with psycopg.connect(site["url"]) as conn:
        rows = conn.execute("SELECT actor, action, object_id FROM gapmap.audit_event "
                            "WHERE id > %s ORDER BY id", (before,)).fetchall()
    assert rows == [(EMAILS["viewer"], "plan.export", str(pid))]
    assert manifest["layers"]["clusters"] == clusters_count(site, pid)


def clusters_count(site, pid: int) -> int:
    with psycopg.connect(site["url"]) as conn:
        return conn.execute("SELECT count(*) FROM gapmap.plan_cluster WHERE plan_id = %s "
                            "AND cluster_id > 0", (pid,)).fetchone()[0]


def test_two_plans_side_by_side(site):
    admin = signed_in(site, "admin")
    a, b = site["plans"][CEREDIGION], site["plans"][MERTHYR]
    page = admin.get(f"/en/officer/plans/compare?a={a}&b={b}")
    assert page.status_code == 200
    with session_scope(site["settings"]) as s:
        side = plans.compare(s, plans.get_plan(s, None, a), plans.get_plan(s, None, b))
    rows = {r[0].get("data-figure"): r[1] for r in Tables(page.text).tables["compare-table"]}
    ta, tb, d = side["a"]["totals"], side["b"]["totals"], side["difference"]
    assert rows["premises"] == ["Premises", num(ta["premises"]), num(tb["premises"]),
                                f"{d['premises']:+g}"]
    assert rows["recommended_gbp"][1:3] == [gbp(ta["recommended_gbp"]), gbp(tb["recommended_gbp"])]
    assert rows["shared_premises"] == ["Premises in both plans", "0"]
    assert rows["share_of_targets"][1:] == [f"{ta['share_of_targets'] * 100:.1f} %",
                                            f"{tb['share_of_targets'] * 100:.1f} %",
                                            f"{d['share_of_targets'] * 100:.1f} %"]
    # the form without a and b; the officer of one authority cannot name the other's plan
    assert admin.get("/cy/officer/plans/compare").status_code == 200
    assert signed_in(site, "officer").get(
        f"/en/officer/plans/compare?a={a}&b={b}").status_code == 404
    # a plan's page offers the comparison with the others in scope
    plan_page = admin.get(f"/en/officer/plans/{a}")
    assert f'<option value="{b}">' in plan_page.text
