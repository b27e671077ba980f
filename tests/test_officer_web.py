"""The officers' workspace over HTTP: sign-in and sign-out, CSRF, limits across gunicorn workers,
tokens, every officer route by role and scope, security headers, and what never reaches a log."""

from __future__ import annotations

import http.cookiejar
import itertools
import json
import os
import re
import subprocess
import urllib.error
import urllib.parse
import urllib.request

import psycopg
import pytest
from sqlalchemy import text

from connectivity.costs import load_costs
from connectivity.officers import accounts as acc
from connectivity.officers import challenges, session_scope
from connectivity.officers import lists as target_lists
from connectivity.officers import plans as plan_records
from connectivity.officers.listfilters import ListFilters
from connectivity.planning import params_from
from connectivity.settings import load_settings
from tests.conftest import (
    BIN,
    TEST_SECRET,
    app_for,
    axe_serious,
    copy_of,
    free_port,
    gunicorn,
    serve_in_thread,
    watch_csp,
)

PASSWORD = "correct horse battery staple"
CEREDIGION, MERTHYR = "W06000008", "W06000024"
CONTACT = "resident-contact-07700900123@example.com"
ROLES = ("anonymous", "viewer", "officer", "other_officer", "admin")


@pytest.fixture(scope="module")
def ws(server, base_db):
    """A copy of the demo database with accounts of every role, a token each, and one report in
    each demo authority (with contact details)."""
    name, url = copy_of(server, base_db)
    settings = load_settings({"database_url": url}, environ={}).replace(secret_key=TEST_SECRET)
    tokens, reports = {}, {}
    with session_scope(settings) as session:
        for key, email, role, areas, lang in (
                ("viewer", "viewer@ceredigion.gov.uk", "viewer", [CEREDIGION], "en"),
                ("officer", "officer@ceredigion.gov.uk", "officer", [CEREDIGION], "cy"),
                ("other_officer", "officer@merthyr.gov.uk", "officer", [MERTHYR], "en"),
                ("admin", "admin@gov.wales", "admin", [], "en"),
                ("disabled", "gone@ceredigion.gov.uk", "officer", [CEREDIGION], "en")):
            acc.add_account(session, email=email, role=role, areas=areas, lang=lang,
                            password=PASSWORD, actor="test")
            tokens[key] = acc.create_token(session, email, "tests", actor="test")[1]
        acc.disable_account(session, "gone@ceredigion.gov.uk", actor="test")
    with psycopg.connect(url, autocommit=True) as conn:
        for la in (CEREDIGION, MERTHYR):
            pc = conn.execute("SELECT postcode FROM gapmap.postcode WHERE la_code = %s "
                              "ORDER BY postcode LIMIT 1", (la,)).fetchone()[0]
            reports[la] = conn.execute(
                "INSERT INTO gapmap.report (postcode, problem, lang, contact, la_code, message) "
                "VALUES (%s, 'slower', 'cy', %s, %s, 'araf iawn') RETURNING id",
                (pc, CONTACT, la)).fetchone()[0]
    lists_by_la = {}
    with session_scope(settings) as session:
        for la, email in ((CEREDIGION, "officer@ceredigion.gov.uk"),
                          (MERTHYR, "officer@merthyr.gov.uk")):
            owner = acc.find_account(session, email)
            lists_by_la[la] = target_lists.create_list(
                session, name=f"Below in {la}", owner=owner, by=owner, actor="test",
                filters=ListFilters.from_dict({"status": "below"})).id
    challenges_by_la, conflicts_by_la = {}, {}
    with session_scope(settings) as session:
        for la, email in ((CEREDIGION, "officer@ceredigion.gov.uk"),
                          (MERTHYR, "officer@merthyr.gov.uk")):
            uprn = session.execute(text(
                "SELECT uprn FROM gapmap.premises_place WHERE la = :la ORDER BY uprn LIMIT 1"),
                {"la": la}).scalar_one()
            challenges_by_la[la] = challenges.file_challenge(
                session, acc.find_account(session, email), settings, kind="speed", uprn=uprn,
                actor="test").id
    with psycopg.connect(url, autocommit=True) as conn:
        release = conn.execute("SELECT id, label FROM gapmap.release ORDER BY id LIMIT 1").fetchone()
        for la in (CEREDIGION, MERTHYR):
            conflicts_by_la[la] = conn.execute(
                "INSERT INTO gapmap.correction_conflict (challenge_id, uprn, release_id, source, "
                "release, la_code) SELECT id, uprn, %s, 'ofcom-api', %s, la_code "
                "FROM gapmap.challenge WHERE id = %s RETURNING id",
                (release[0], release[1], challenges_by_la[la])).fetchone()[0]
    plans_by_la = {}
    with session_scope(settings) as session:
        costs = load_costs()
        for la, email in ((CEREDIGION, "officer@ceredigion.gov.uk"),
                          (MERTHYR, "officer@merthyr.gov.uk")):
            owner = acc.find_account(session, email)
            plans_by_la[la] = plan_records.create_plan(
                session, name=f"Plan for {la}", owner=owner, by=owner, la=la, model=costs,
                params=params_from(costs), actor="test").id
    yield {"settings": settings, "url": url, "tokens": tokens, "reports": reports,
           "lists": lists_by_la, "plans": plans_by_la, "challenges": challenges_by_la, "conflicts": conflicts_by_la}
    server.drop(name)


@pytest.fixture(scope="module")
def ws_app(ws):
    with app_for(ws["settings"]) as app:
        yield app


def csrf_of(html: str) -> str:
    return re.search(r'<input[^>]*name="csrf_token"[^>]*value="([^"]+)"', html)[1]


def signed_in(app, email: str, lang: str = "en"):
    client = app.test_client()
    page = client.get(f"/{lang}/sign-in")
    r = client.post(f"/{lang}/sign-in", data={"email": email, "password": PASSWORD,
                                               "csrf_token": csrf_of(page.text)})
    assert r.status_code == 303, r.text
    return client


def audit_actions(ws, since_id: int = 0) -> list[tuple[str, str]]:
    with psycopg.connect(ws["url"]) as conn:
        return conn.execute("SELECT actor, action FROM gapmap.audit_event WHERE id > %s ORDER BY id",
                            (since_id,)).fetchall()


def last_audit_id(ws) -> int:
    with psycopg.connect(ws["url"]) as conn:
        return conn.execute("SELECT coalesce(max(id), 0) FROM gapmap.audit_event").fetchone()[0]


def test_sign_in_and_out_in_welsh_and_english(ws, ws_app):
    start = last_audit_id(ws)
    client = ws_app.test_client()
    page = client.get("/cy/sign-in")
    assert page.status_code == 200 and "<h1>Mewngofnodi</h1>" in page.text
    r = client.post("/cy/sign-in", data={"email": "officer@ceredigion.gov.uk",
                                          "password": PASSWORD, "csrf_token": csrf_of(page.text)})
    # the officer chose Welsh: the workspace opens in Welsh
    assert (r.status_code, r.headers["Location"]) == (303, "/cy/officer/")
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=Lax" in cookie
    home = client.get("/cy/officer/")
    assert home.status_code == 200 and "Adroddiadau preswylwyr" in home.text
    assert home.headers["Cache-Control"] == "no-store"
    assert f'/cy/officer/reports/{ws["reports"][CEREDIGION]}"' in home.text
    assert f'/cy/officer/reports/{ws["reports"][MERTHYR]}"' not in home.text
    out = client.get("/en/sign-out")
    r = client.post("/en/sign-out", data={"csrf_token": csrf_of(out.text)})
    assert (r.status_code, r.headers["Location"]) == (303, "/en/sign-in?signed_out=1")
    again = client.get("/en/officer/")
    assert again.status_code == 302 and again.headers["Location"].startswith("/en/sign-in?next=")
    assert [a for _, a in audit_actions(ws, start)] == ["sign_in", "report.view", "sign_out"]


def test_the_session_is_new_at_sign_in(ws, ws_app):
    client = ws_app.test_client()
    page = client.get("/en/sign-in")
    before = client.get_cookie("gapmap_session").value
    client.post("/en/sign-in", data={"email": "admin@gov.wales", "password": PASSWORD,
                                      "csrf_token": csrf_of(page.text)})
    after = client.get_cookie("gapmap_session").value
    assert before != after and client.get("/en/officer/").status_code == 200
    # the cookie from before sign-in does not sign anyone in
    stale = ws_app.test_client()
    stale.set_cookie("gapmap_session", before)
    assert stale.get("/en/officer/").status_code == 302



def test_the_session_cookie_is_set_at_sign_in_and_not_again_while_the_officer_works(ws, ws_app):
    """A browser loads a page's favicon and styles beside the next page. If every response
    re-sent the cookie it came with, a slow one could put back an older cookie without the form
    token the newer page had just made, and the officer's next form would be refused. So the
    form token is made at sign-in, and no later response sends the cookie until it changes."""
    client = signed_in(ws_app, "officer@ceredigion.gov.uk")
    signed_cookie = client.get_cookie("gapmap_session").value
    for path in ("/en/officer/", "/static/favicon.svg", "/en/officer/lists/new",
                 "/static/css/app.css", "/en/", "/api/v1/areas.geojson?level=la"):
        r = client.get(path)
        assert r.status_code == 200, path
        assert "Set-Cookie" not in r.headers, path
    # the token on the list builder belongs to the cookie set at sign-in: a browser that still
    # holds only that cookie saves the list
    form = client.get("/en/officer/lists/new")
    only_signed = ws_app.test_client()
    only_signed.set_cookie("gapmap_session", signed_cookie)
    r = only_signed.post("/en/officer/lists/new", data={
        "csrf_token": csrf_of(form.text), "name": "Cookie check", "status": "below"})
    assert r.status_code == 303 and re.search(r"/en/officer/lists/\d+$", r.headers["Location"])

def test_officer_pages_are_never_compressed(ws, ws_app):
    """An officer's page holds their data and a form token: compressing it beside text an
    attacker can make it repeat would leak it by size (BREACH). Public pages are compressed."""
    client = signed_in(ws_app, "officer@ceredigion.gov.uk")
    for path in ("/en/officer/", "/en/officer/lists/new", "/en/"):
        r = client.get(path, headers={"Accept-Encoding": "gzip, br"})
        assert r.status_code == 200 and "Content-Encoding" not in r.headers, path
    public = ws_app.test_client().get("/en/", headers={"Accept-Encoding": "gzip"})
    assert public.headers["Content-Encoding"] == "gzip"

def test_a_missing_csrf_token_is_refused_with_400(ws, ws_app):
    client = ws_app.test_client()
    r = client.post("/en/sign-in", data={"email": "admin@gov.wales", "password": PASSWORD})
    assert r.status_code == 400 and "This form has expired" in r.text
    r = client.post("/cy/sign-in", data={"email": "admin@gov.wales", "password": PASSWORD})
    assert r.status_code == 400 and "ffurflen hon wedi dod i ben" in r.text
    signed = signed_in(ws_app, "admin@gov.wales")
    assert signed.post("/en/sign-out", data={}).status_code == 400
    assert signed.get("/en/officer/").status_code == 200  # still signed in
    with psycopg.connect(ws["url"]) as conn:
        pc = conn.execute("SELECT replace(postcode, ' ', '') FROM gapmap.premises_class "
                          "LIMIT 1").fetchone()[0]
    r = client.post(f"/en/postcode/{pc}/report", data={"problem": "slower"})
    assert r.status_code == 400


def test_a_wrong_next_address_never_leaves_the_site(ws, ws_app):
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:x"):
        client = ws_app.test_client()
        page = client.get("/en/sign-in?next=" + urllib.parse.quote(target))
        r = client.post("/en/sign-in", data={"email": "admin@gov.wales", "password": PASSWORD,
                                              "next": target, "csrf_token": csrf_of(page.text)})
        assert r.headers["Location"] == "/en/officer/", target
    client = ws_app.test_client()
    page = client.get("/en/sign-in")
    r = client.post("/en/sign-in", data={"email": "admin@gov.wales", "password": PASSWORD,
                                          "next": "/en/officer/audit",
                                          "csrf_token": csrf_of(page.text)})
    assert r.headers["Location"] == "/en/officer/audit"


def test_sign_in_over_plain_http_to_another_host_explains_the_cookie_setting(ws, ws_app):
    host = "http://gapmap.example.gov.wales"
    start = last_audit_id(ws)
    for lang, words in (("en", "sends its sign-in cookie over HTTPS only"),
                        ("cy", "gwasanaeth hwn yn anfon ei gwci mewngofnodi dros HTTPS")):
        client = ws_app.test_client()
        page = client.get(f"/{lang}/sign-in", base_url=host)  # said before a password is typed
        assert page.status_code == 200 and words in page.text
        assert "CONNECTIVITY_COOKIE_SECURE=false" in page.text
        r = client.post(f"/{lang}/sign-in", base_url=host,
                        data={"email": "admin@gov.wales", "password": PASSWORD,
                              "csrf_token": csrf_of(page.text)},
                        headers={"Referer": f"https://gapmap.example.gov.wales/{lang}/sign-in"})
        assert r.status_code == 400 and words in r.text
        # a browser drops a Secure cookie over plain HTTP: the form arrives without its session
        bare = ws_app.test_client()
        r = bare.post(f"/{lang}/sign-in", base_url=host,
                      data={"email": "admin@gov.wales", "password": PASSWORD})
        assert r.status_code == 400 and words in r.text
    assert audit_actions(ws, start) == []  # no password was even checked over plain HTTP


# -- every officer route x role x scope ---------------------------------------------------------
def expected(endpoint: str, role: str, case: str) -> int:
    """The status each role gets on each officer route. ``case`` for routes with an object:
    "home" (in the role's authority), "away" (in another authority) or "missing"."""
    if role == "anonymous":
        return 401 if endpoint.startswith("officer_api.") else 302
    if endpoint in ("officer.audit_page", "officer.accounts_page"):
        return 200 if role == "admin" else 404
    if endpoint == "officer.challenges_publish":  # publishes and classifies, then the queue
        return 303 if role == "admin" else 404
    if case == "missing" or (case == "away" and role != "admin"):
        return 404
    if (endpoint in WRITES or endpoint in ("officer.lists_new", "officer.challenge_new",
                                           "officer.plans_new")) and role == "viewer":
        return 403  # viewers are read-only (a list in their scope: they may know it exists)
    if endpoint == "officer_api.api_list_create":
        return 400  # the walk posts an empty definition: a list needs a name
    if endpoint == "officer_api.api_plan_create":
        return 400  # the walk posts an empty body: a plan needs a name and an authority
    if endpoint in WRITES and endpoint not in ("officer_api.api_list_refresh_accept",):
        return 400  # the walk posts empty forms and bodies: a transition needs its decision
    return 200


#: officer routes that change something (POST; viewers get 403)
WRITES = {"officer_api.api_list_create", "officer_api.api_list_refresh_accept",
          "officer_api.api_challenge_screen", "officer_api.api_challenge_decide",
          "officer.challenge_screen", "officer.challenge_decide", "officer.conflict_resolve",
          "officer.challenges_publish"}


#: route argument -> the kind of object it names (a new officer route must be added here)
ROUTE_OBJECTS = {"report_id": "report", "list_id": "list", "challenge_id": "challenge",
                 "conflict_id": "conflict"}
OFFICER_ENDPOINTS = {"officer.home", "officer.report", "officer.audit_page",
                     "officer.accounts_page", "officer_api.me", "officer_api.api_reports",
                     "officer_api.api_report", "officer_api.api_lists",
                     "officer_api.api_list_create", "officer_api.api_list_count",
                     "officer_api.api_list", "officer_api.api_list_premises",
                     "officer_api.api_list_refresh", "officer_api.api_list_refresh_accept",
                     "officer_api.api_list_export", "officer.lists_page", "officer.lists_new", "officer.lists_count",
                     "officer.list_page", "officer.list_points", "officer.list_refresh",
                     "officer.list_export",
                     "officer.challenges_page", "officer.challenges_publish",
                     "officer.challenge_page", "officer.challenge_screen",
                     "officer.challenge_decide", "officer.challenge_new", "officer.conflicts_page",
                     "officer.conflict_resolve", "officer_api.api_challenges",
                     "officer_api.api_challenge", "officer_api.api_challenge_screen",
                     "officer_api.api_challenge_decide"}

#: the plan routes (webmap/plan_api.py)
OFFICER_ENDPOINTS |= {"officer_api.api_plans", "officer_api.api_plan_create",
                      "officer_api.api_plan", "officer_api.api_plan_bidpack"}
ROUTE_OBJECTS["plan_id"] = "plan"
WRITES.add("officer_api.api_plan_create")
#: the plan pages (webmap/plan_views.py): the plans, the clusters to choose from (its form
#: saves), two plans side by side, a plan and its bid pack
OFFICER_ENDPOINTS |= {"officer.plans_page", "officer.plans_new", "officer.plan_save",
                      "officer.plans_compare", "officer.plan_page", "officer.plan_bidpack"}
WRITES.add("officer.plan_save")


def officer_rules(app):
    return sorted((r for r in app.url_map.iter_rules()
                   if r.endpoint.startswith(("officer.", "officer_api."))), key=lambda r: r.rule)


def test_the_route_walk_knows_every_officer_route(ws_app):
    rules = officer_rules(ws_app)
    assert {r.endpoint for r in rules} == OFFICER_ENDPOINTS
    for rule in rules:
        assert set(rule.arguments) - {"lang"} <= set(ROUTE_OBJECTS), rule.rule


@pytest.mark.parametrize("role", ROLES)
def test_every_officer_route_by_role_and_scope(ws, ws_app, role):
    emails = {"viewer": "viewer@ceredigion.gov.uk", "officer": "officer@ceredigion.gov.uk",
              "other_officer": "officer@merthyr.gov.uk", "admin": "admin@gov.wales"}
    client = signed_in(ws_app, emails[role]) if role != "anonymous" else ws_app.test_client()
    home_la = MERTHYR if role == "other_officer" else CEREDIGION
    away_la = CEREDIGION if role == "other_officer" else MERTHYR
    token = {"Authorization": f"Bearer {ws['tokens'][role]}"} if role != "anonymous" else {}
    checked = []
    # the page forms post with this session's CSRF token (anonymous: a token of its own)
    form_token = csrf_of(client.get("/en/sign-out" if role != "anonymous" else "/en/sign-in").text)
    for rule in officer_rules(ws_app):
        cases = [("none", {})]
        for arg, objects in (("report_id", ws["reports"]), ("list_id", ws["lists"]), ("plan_id", ws["plans"]),
                             ("challenge_id", ws["challenges"]),
                             ("conflict_id", ws["conflicts"])):
            if arg in rule.arguments:
                cases = [("home", {arg: objects[home_la]}), ("away", {arg: objects[away_la]}),
                         ("missing", {arg: 999999999}), ("missing", {arg: "1 OR 1=1"})]
        method = "get" if "GET" in rule.methods else "post"
        assert (method == "post") == (rule.endpoint in WRITES), rule.endpoint
        for case, args in cases:
            values = {"lang": "en", **args} if "lang" in rule.arguments else args
            url = rule.build(values, append_unknown=False)[1]
            if rule.endpoint.startswith("officer_api."):
                send = getattr(ws_app.test_client(), method)
                r = send(url, headers=token, **({"json": {}} if method == "post" else {}))
            elif method == "post":
                r = client.post(url, data={"csrf_token": form_token})
            else:
                r = client.get(url)
            assert r.status_code == expected(rule.endpoint, role, case), (role, url, r.status_code)
            checked.append(rule.endpoint)
    # 22 routes without an object, 22 with one, each of those tried 4 ways
    assert len(checked) == 22 + 22 * 4 and set(checked) == OFFICER_ENDPOINTS


def test_viewers_never_see_contact_details(ws, ws_app):
    viewer = signed_in(ws_app, "viewer@ceredigion.gov.uk")
    officer = signed_in(ws_app, "officer@ceredigion.gov.uk")
    rid = ws["reports"][CEREDIGION]
    for path in ("/en/officer/", f"/en/officer/reports/{rid}"):
        assert CONTACT not in viewer.get(path).text
        assert CONTACT in officer.get(path).text
    api = ws_app.test_client()
    as_viewer = api.get(f"/api/v1/officer/reports/{rid}",
                        headers={"Authorization": f"Bearer {ws['tokens']['viewer']}"}).json
    as_officer = api.get(f"/api/v1/officer/reports/{rid}",
                         headers={"Authorization": f"Bearer {ws['tokens']['officer']}"}).json
    assert "contact" not in as_viewer and as_officer["contact"] == CONTACT
    listing = api.get("/api/v1/officer/reports",
                      headers={"Authorization": f"Bearer {ws['tokens']['officer']}"}).json
    assert [r["id"] for r in listing["reports"]] == [rid] and listing["total"] == 1


def test_contact_details_never_reach_public_pages_or_the_public_api(ws, ws_app):
    client = ws_app.test_client()
    with psycopg.connect(ws["url"]) as conn:
        pc = conn.execute("SELECT postcode FROM gapmap.report WHERE id = %s",
                          (ws["reports"][CEREDIGION],)).fetchone()[0]
    compact = pc.replace(" ", "")
    for path in (f"/en/postcode/{compact}", f"/cy/postcode/{compact}", f"/api/v1/postcodes/{compact}",
                 "/en/areas", "/api/v1/areas?level=la"):
        r = client.get(path)
        assert r.status_code == 200 and CONTACT not in r.text, path


def test_tokens_of_disabled_accounts_and_bad_tokens_get_401(ws, ws_app):
    client = ws_app.test_client()
    for header in (f"Bearer {ws['tokens']['disabled']}", "Bearer gmt_wrong", "Basic abc",
                   f"bearer {ws['tokens']['officer']}x", ""):
        r = client.get("/api/v1/officer/reports", headers={"Authorization": header})
        assert r.status_code == 401 and r.json["error"]["code"] == "unauthorized", header
        assert r.headers["WWW-Authenticate"].startswith("Bearer")
    ok = client.get("/api/v1/officer/me",
                    headers={"Authorization": f"Bearer {ws['tokens']['officer']}"})
    assert ok.status_code == 200 and ok.json["authorities"] == [CEREDIGION]
    assert "password_hash" not in ok.text


# -- headers ----------------------------------------------------------------------------------
def test_security_headers_on_every_kind_of_response(ws, ws_app):
    client = signed_in(ws_app, "admin@gov.wales")
    with psycopg.connect(ws["url"]) as conn:
        pc, uprn = conn.execute("SELECT replace(postcode, ' ', ''), uprn FROM gapmap.premises_class "
                                "WHERE postcode IS NOT NULL LIMIT 1").fetchone()
    paths = [rule.rule.replace("<lang>", lang) for rule in ws_app.url_map.iter_rules()
             if "GET" in rule.methods and set(rule.arguments) <= {"lang"}
             and rule.endpoint != "static" for lang in ("en", "cy")]
    paths += [f"/en/postcode/{pc}", f"/cy/postcode/{pc}/report", f"/api/v1/premises/{uprn}",
              "/tiles/premises/12/2008/1357.pbf", "/en/no-such-page", "/api/v1/nothing",
              "/static/css/app.css", f"/en/officer/reports/{ws['reports'][CEREDIGION]}"]
    for path in sorted(set(paths)):
        r = client.get(path)
        h = r.headers
        csp = h.get("Content-Security-Policy", "")
        script_src = next(p for p in csp.split("; ") if p.startswith("script-src"))
        assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src, path
        assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp, path
        assert h["X-Content-Type-Options"] == "nosniff", path
        assert h["Referrer-Policy"] == "same-origin", path
        assert h["X-Frame-Options"] == "DENY", path
        if r.mimetype == "text/html":  # every inline script carries this response's nonce
            nonce = re.search(r"'nonce-([^']+)'", script_src)[1]
            for tag in re.findall(r"<script\b[^>]*>", r.text):
                assert "src=" in tag or f'nonce="{nonce}"' in tag or \
                    'type="application/json"' in tag, (path, tag)
            assert not re.search(r"\son[a-z]+\s*=", r.text.split("<body", 1)[-1]), path


def test_the_report_form_has_limits_per_client_and_per_postcode(ws, server, base_db):
    from webmap import create_app

    name, url = copy_of(server, base_db)
    settings = load_settings({"database_url": url}, environ={}).replace(
        secret_key=TEST_SECRET, trusted_proxies=1, report_limit_per_client=3,
        report_limit_per_postcode=5)
    app = create_app(settings)
    try:
        with psycopg.connect(url) as conn:
            pcs = [r[0] for r in conn.execute(
                "SELECT replace(postcode, ' ', '') FROM gapmap.premises_class "
                "WHERE postcode IS NOT NULL GROUP BY postcode ORDER BY postcode LIMIT 2")]

        sent = itertools.count()

        def send(pc: str, address: str, **extra) -> int:
            client = app.test_client()
            env = {"REMOTE_ADDR": "127.0.0.1"}
            page = client.get(f"/en/postcode/{pc}/report", headers={"X-Forwarded-For": address},
                              environ_base=env)
            # each a different report (the same one again within a day is not stored twice)
            data = {"problem": "slower", "csrf_token": csrf_of(page.text),
                    "message": f"report {next(sent)}", **extra}
            return client.post(f"/en/postcode/{pc}/report", data=data, environ_base=env,
                               headers={"X-Forwarded-For": address}).status_code

        assert [send(pcs[0], "192.0.2.10") for _ in range(4)] == [200, 200, 200, 429]
        assert send(pcs[1], "192.0.2.10") == 429            # the address is limited everywhere
        assert [send(pcs[0], f"198.51.100.{i}") for i in (1, 2, 3)] == [200, 200, 429]
        assert send(pcs[1], "198.51.100.3") == 200          # another postcode is not
        assert send(pcs[1], "203.0.113.1", website="http://spam") == 400  # the honeypot
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT count(*) FROM gapmap.report").fetchone()[0] == 6
            keys = " ".join(r[0] for r in conn.execute("SELECT key FROM gapmap.rate_event"))
        assert "192.0.2" not in keys and "198.51" not in keys
    finally:
        app.extensions["gapmap_db"].close()
        app.extensions["gapmap_orm_engine"].dispose()
        server.drop(name)


# -- gunicorn: two workers, one limit, clean logs ---------------------------------------------
class Browserless:
    """A cookie-keeping HTTP client that opens a new connection for every request."""

    def __init__(self, bases: list[str], address: str):
        self.bases, self.address, self.sent = bases, address, 0
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
            NoRedirect())

    def request(self, path: str, data: dict | None = None, headers: dict | None = None,
                on: int | None = None):
        """To server ``on``, else to the next server in turn (as a load balancer would)."""
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        base = self.bases[(self.sent if on is None else on) % len(self.bases)]
        self.sent += 1
        req = urllib.request.Request(base + path, data=body,
                                     headers={"X-Forwarded-For": self.address, **(headers or {})})
        try:
            with self.opener.open(req, timeout=30) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@pytest.mark.slow
def test_failed_sign_ins_hit_the_limit_across_two_servers_and_logs_hold_no_secrets(ws, tmp_path):
    """Two gunicorn servers on one database, requests alternating between them: the failures
    counted by one are counted by the other (the counters are in PostgreSQL)."""
    # urllib keeps Secure cookies for https only (browsers also trust http://127.0.0.1), and
    # each client comes through a (trusted) proxy that names its address
    env = {"CONNECTIVITY_SECRET_KEY": TEST_SECRET, "CONNECTIVITY_SIGN_IN_MAX_FAILURES": "4",
           "CONNECTIVITY_COOKIE_SECURE": "false", "CONNECTIVITY_TRUSTED_PROXIES": "1"}
    with gunicorn(ws["url"], tmp_path, 1, env) as (one, log_one), \
            gunicorn(ws["url"], tmp_path, 1, env) as (two, log_two):
        servers = [one, two]
        browser = Browserless(servers, "192.0.2.50")
        statuses = []
        for attempt in range(6):  # servers one, two, one, two, ...
            _, page = browser.request("/en/sign-in", on=attempt)
            statuses.append(browser.request("/en/sign-in", {
                "email": "admin@gov.wales", "password": "not the password at all",
                "csrf_token": csrf_of(page)}, on=attempt)[0])
        assert statuses == [401, 401, 401, 401, 429, 429]
        # the right password is refused too while the limit lasts
        _, page = browser.request("/en/sign-in")
        status, text = browser.request("/en/sign-in", {"email": "admin@gov.wales",
                                                       "password": PASSWORD,
                                                       "csrf_token": csrf_of(page)})
        assert status == 429 and "Too many failed attempts" in text
        # another account signs in, uses pages, the API with a token, and a resident reports
        other = Browserless(servers, "192.0.2.51")
        _, page = other.request("/en/sign-in")
        assert other.request("/en/sign-in", {"email": "officer@ceredigion.gov.uk",
                                             "password": PASSWORD,
                                             "csrf_token": csrf_of(page)})[0] == 303
        assert other.request("/cy/officer/")[0] == 200
        token = ws["tokens"]["officer"]
        assert other.request("/api/v1/officer/reports",
                             headers={"Authorization": f"Bearer {token}"})[0] == 200
        with psycopg.connect(ws["url"]) as conn:
            pc = conn.execute("SELECT replace(postcode, ' ', '') FROM gapmap.premises_class "
                              "WHERE postcode IS NOT NULL LIMIT 1").fetchone()[0]
        resident = Browserless(servers, "192.0.2.52")
        _, page = resident.request(f"/en/postcode/{pc}/report")
        status, _ = resident.request(f"/en/postcode/{pc}/report", {
            "problem": "other", "message": "private note", "contact": "07700 900999",
            "csrf_token": csrf_of(page)})
        assert status == 200
    logs = [log_one.read_text(), log_two.read_text()]
    for log in logs:  # each server answered failed sign-ins
        assert '"POST /en/sign-in" 401' in log and '"POST /en/sign-in" 429' in log, log
    for secret in (PASSWORD, "not the password at all", token, "07700 900999", TEST_SECRET,
                   "private note", "admin@gov.wales", "csrf_token", "192.0.2.5"):
        assert not any(secret in log for log in logs), secret


def test_audit_and_accounts_pages_for_admins(ws, ws_app):
    admin = signed_in(ws_app, "admin@gov.wales")
    page = admin.get("/en/officer/audit?user=officer@ceredigion.gov.uk")
    assert page.status_code == 200 and "<code>sign_in</code>" in page.text
    assert "<code>token.create</code>" not in page.text  # made by the test, not by the officer
    assert admin.get("/en/officer/audit?since=yesterday").status_code == 400
    accounts = admin.get("/cy/officer/accounts")
    assert accounts.status_code == 200 and "gone@ceredigion.gov.uk" in accounts.text
    assert "argon2" not in accounts.text


def test_privacy_notice_and_accessibility_statement_in_both_languages(ws_app):
    client = ws_app.test_client()
    for lang, privacy, access in (("en", "Privacy notice", "Accessibility statement"),
                                  ("cy", "Hysbysiad preifatrwydd", "Datganiad hygyrchedd")):
        p = client.get(f"/{lang}/privacy")
        a = client.get(f"/{lang}/accessibility")
        assert p.status_code == 200 and f"<h1>{privacy}</h1>" in p.text
        assert a.status_code == 200 and f"<h1>{access}</h1>" in a.text
        assert "12" in p.text  # the retention setting, stated
        home = client.get(f"/{lang}/")
        assert f'href="/{lang}/privacy"' in home.text and f'href="/{lang}/accessibility"' in home.text


def test_the_server_refuses_to_start_without_a_secret_key(ws, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "CONNECTIVITY_SECRET_KEY"}
    proc = subprocess.run([BIN, "--database-url", ws["url"], "serve", "--port", str(free_port())],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert proc.returncode == 2
    assert "CONNECTIVITY_SECRET_KEY is not set" in proc.stderr
    assert "secrets.token_urlsafe(32)" in proc.stderr


def test_the_audit_log_records_web_actions_without_secrets(ws, ws_app):
    start = last_audit_id(ws)
    signed_in(ws_app, "officer@ceredigion.gov.uk").get(
        f"/en/officer/reports/{ws['reports'][CEREDIGION]}")
    ws_app.test_client().get("/api/v1/officer/me",
                             headers={"Authorization": f"Bearer {ws['tokens']['viewer']}"})
    rows = audit_actions(ws, start)
    assert rows == [("officer@ceredigion.gov.uk", "sign_in"),
                    ("officer@ceredigion.gov.uk", "report.view"),
                    ("viewer@ceredigion.gov.uk", "token.use")]
    with psycopg.connect(ws["url"]) as conn:
        everything = json.dumps(conn.execute(
            "SELECT json_agg(a) FROM gapmap.audit_event a").fetchone()[0])
    for secret in (PASSWORD, CONTACT, *ws["tokens"].values()):
        assert secret not in everything


def test_control_characters_oversized_bodies_unknown_fields_and_files_are_refused(ws, ws_app):
    client = ws_app.test_client()
    with psycopg.connect(ws["url"]) as conn:
        pc = conn.execute("SELECT replace(postcode, ' ', '') FROM gapmap.premises_class "
                          "WHERE postcode IS NOT NULL LIMIT 1").fetchone()[0]
    for path in ("/en/?la=W06%00", "/cy/search?q=Aber%00", "/api/v1/areas?level=la%01",
                 f"/en/postcode/{pc}%00", "/ogc/collections?f=json%7f",
                 # the routes of this round: challenges, plans, the resident's link, open data
                 "/en/officer/challenges?state=open%00", "/cy/officer/plans/new?area=W06%00",
                 "/en/reports/1?t=abc%00", "/cy/data?x=%01", "/feeds/wales.atom?lang=cy%00",
                 "/api/v1/challenges/stats?la=W06%00", "/api/v1/officer/challenges?kind=%7f"):
        r = client.get(path)
        assert r.status_code == 400, path
    assert client.get("/api/v1/areas?level=la%00").json["error"]["code"] == "bad_request"
    form = f"/en/postcode/{pc}/report"

    def post(data, **kwargs):
        page = client.get(form)
        return client.post(form, data={"problem": "other", "csrf_token": csrf_of(page.text),
                                       **data}, **kwargs)

    assert post({"message": "slow\x00"}).status_code == 400
    assert post({"contact": "a\x08b"}).status_code == 400
    assert post({"unknown": "x" * 100}).status_code == 400
    from io import BytesIO

    assert post({"message": "see file", "attachment": (BytesIO(b"x" * 1000), "a.txt")},
                content_type="multipart/form-data").status_code == 400
    big = post({"message": "x" * (1024 * 1024)})
    assert big.status_code == 413 and len(big.data) < 20000  # never echoed back
    ok = post({"message": "Line one\r\nLine two\tand a tab"})
    assert ok.status_code == 200


# -- in a real browser ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def officer_server(ws_app):
    with serve_in_thread(ws_app) as base:
        yield base


@pytest.mark.browser
@pytest.mark.parametrize("lang, email, heading, home_lang", [
    ("en", "admin@gov.wales", "Your dashboard", "en"),
    ("cy", "officer@ceredigion.gov.uk", "Eich dangosfwrdd", "cy"),
])
def test_sign_in_by_keyboard_in_a_real_browser_is_accessible_and_csp_clean(
        browser, ws, officer_server, lang, email, heading, home_lang):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        failed = []
        page.on("response", lambda r: failed.append(f"{r.status} {r.url}")
                if r.status >= 400 else None)
        csp = watch_csp(page)
        page.goto(f"{officer_server}/{lang}/")
        # the sign-in link is in the header of every page
        page.get_by_role("link", name="Officers: sign in" if lang == "en"
                         else "Swyddogion: mewngofnodi").click()
        page.wait_for_url(f"**/{lang}/sign-in")
        assert axe_serious(page) == []
        page.focus("#field-email")
        page.keyboard.type(email)
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.id") == "field-password"
        page.keyboard.type(PASSWORD)
        page.keyboard.press("Enter")
        page.wait_for_url(f"**/{home_lang}/officer/")
        assert page.locator("h1").inner_text() == heading
        assert axe_serious(page) == []
        pages = [f"/{home_lang}/officer/reports/{ws['reports'][CEREDIGION]}",
                 f"/{lang}/officer/lists", f"/{lang}/officer/lists/new",
                 f"/{lang}/officer/lists/new?status=below&count=1",
                 f"/{lang}/officer/lists/{ws['lists'][CEREDIGION]}",
                 f"/{lang}/officer/lists/{ws['lists'][CEREDIGION]}/refresh",
                 f"/{lang}/privacy", f"/{lang}/accessibility"]
        if email.startswith("admin"):
            pages += [f"/{code}/officer/{page}" for code in ("en", "cy")
                      for page in ("audit", "accounts")]
        for path in pages:
            page.goto(officer_server + path)
            assert axe_serious(page) == [], path
        page.goto(f"{officer_server}/{lang}/sign-out")
        page.get_by_role("button").filter(has_text="Sign out" if lang == "en"
                                          else "Allgofnodi").click()
        page.wait_for_url(f"**/{lang}/sign-in?signed_out=1")
        page.goto(f"{officer_server}/{lang}/officer/")
        assert "/sign-in?next=" in page.url
        # a positive control: an inline script without the nonce is refused and reported
        assert csp == []
        with pytest.raises(Exception, match="violates the following Content Security Policy"):
            page.add_script_tag(content="window.__ran = 1")
        page.wait_for_timeout(200)
        assert page.evaluate("window.__ran") is None and len(csp) == 1
        assert failed == [] and axe_serious(page) == []
    finally:
        context.close()
