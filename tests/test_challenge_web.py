"""Challenges on the web: the review queue, a challenge's page and its screening and decision
forms, filing a challenge, conflicts, the admin's publish-and-classify, the dashboard, the
officer API, the resident's status link and the public transparency figures (areas page and
API). Against a real PostGIS with the demo data; the route walk by role and scope is in
tests/test_officer_web.py."""

from __future__ import annotations

import datetime as dt
import html
import re

import psycopg
import pytest

from connectivity.classify import classify
from connectivity.officers import accounts as acc
from connectivity.officers import challenges as ch
from connectivity.officers import session_scope
from connectivity.rules import load_rules
from connectivity.settings import load_settings
from tests.conftest import TEST_SECRET, app_for, copy_of

PASSWORD = "correct horse battery staple"
CEREDIGION, MERTHYR = "W06000008", "W06000024"
CONTACT = "resident-07700900456@example.org"
OFFICER, VIEWER, OTHER, ADMIN = ("officer@ceredigion.gov.uk", "viewer@ceredigion.gov.uk",
                                 "officer@merthyr.gov.uk", "admin@gov.wales")


@pytest.fixture()
def cw(server, base_db, tmp_path):
    """A copy of the demo database (2026-01 classified) with an officer (Welsh) and a viewer in
    Ceredigion, an officer in Merthyr Tydfil and an admin, a token each, and an app over it."""
    name, url = copy_of(server, base_db)
    settings = load_settings({"database_url": url, "cache_dir": str(tmp_path)},
                             environ={}).replace(secret_key=TEST_SECRET)
    tokens = {}
    with session_scope(settings) as s:
        for email, role, areas, lang in ((OFFICER, "officer", [CEREDIGION], "cy"),
                                         (VIEWER, "viewer", [CEREDIGION], "en"),
                                         (OTHER, "officer", [MERTHYR], "en"),
                                         (ADMIN, "admin", [], "en")):
            acc.add_account(s, email=email, role=role, areas=areas, lang=lang, password=PASSWORD,
                            actor="test")
            tokens[email] = acc.create_token(s, email, "tests", actor="test")[1]
    with app_for(settings) as app:
        yield {"settings": settings, "url": url, "app": app, "tokens": tokens}
    server.drop(name)


def csrf_of(html: str) -> str:
    return re.search(r'<input[^>]*name="csrf_token"[^>]*value="([^"]+)"', html)[1]


def signed_in(cw, email: str):
    client = cw["app"].test_client()
    page = client.get("/en/sign-in")
    r = client.post("/en/sign-in", data={"email": email, "password": PASSWORD,
                                          "csrf_token": csrf_of(page.text)})
    assert r.status_code == 303, r.text
    client.csrf = csrf_of(client.get("/en/sign-out").text)
    return client


def bearer(cw, email: str) -> dict:
    return {"Authorization": f"Bearer {cw['tokens'][email]}"}


def one(cw, sql: str, params=()):
    with psycopg.connect(cw["url"]) as conn:
        return conn.execute(sql, params).fetchone()


def rows(cw, sql: str, params=()) -> list[tuple]:
    with psycopg.connect(cw["url"]) as conn:
        return conn.execute(sql, params).fetchall()


def premises(cw, la: str = CEREDIGION, n: int = 1, status: str = "above") -> list[tuple]:
    """``n`` premises of ``la`` with ``status``, each in a postcode of its own: (uprn, postcode)."""
    found = rows(cw, "SELECT DISTINCT ON (c.postcode) c.uprn, c.postcode FROM gapmap.premises_class c "
                     "JOIN gapmap.premises_place m USING (uprn) WHERE m.la = %s AND c.status = %s "
                     "AND c.postcode IS NOT NULL ORDER BY c.postcode, c.uprn LIMIT %s",
                 (la, status, n))
    assert len(found) == n
    return found


def file(cw, email: str, **kw) -> int:
    with session_scope(cw["settings"]) as s:
        return ch.file_challenge(s, acc.find_account(s, email), cw["settings"], **kw).id


def audit_since(cw, start: int) -> list[tuple]:
    return rows(cw, "SELECT actor, action, object_id FROM gapmap.audit_event WHERE id > %s "
                    "ORDER BY id", (start,))


def last_audit(cw) -> int:
    return one(cw, "SELECT coalesce(max(id), 0) FROM gapmap.audit_event")[0]


def text_of(html: str) -> str:
    """The visible text, tags dropped and white space squeezed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


# -- the whole path through the pages ---------------------------------------------------------
@pytest.mark.parametrize("lang, upheld, submitted", [("en", "Upheld", "Submitted"),
                                                     ("cy", "Wedi'i gadarnhau", "Wedi'i gyflwyno")])
def test_a_report_is_screened_upheld_published_and_the_resident_sees_it(cw, lang, upheld,
                                                                       submitted):
    [(uprn, postcode)] = premises(cw)
    compact = postcode.replace(" ", "")
    resident = cw["app"].test_client()
    form = resident.get(f"/{lang}/postcode/{compact}/report?uprn={uprn}")
    done = resident.post(f"/{lang}/postcode/{compact}/report", data={
        "csrf_token": csrf_of(form.text), "problem": "slower", "uprn": str(uprn),
        "measured_down": "5,5", "measured_up": "0.6", "message": "Never above 6",
        "contact": CONTACT})
    assert done.status_code == 200
    link = re.search(r'id="status-link" href="([^"]+)"', done.text)[1].replace("&amp;", "&")
    ref, token = re.fullmatch(rf"/{lang}/reports/(\d+)\?t=([\w-]+)", link).groups()
    status = resident.get(link)
    assert status.status_code == 200
    assert f'data-state="submitted">{submitted}<' in html.unescape(status.text)
    assert status.headers["Cache-Control"] == "private, no-store"
    assert status.headers["Referrer-Policy"] == "no-referrer"
    for wrong in (f"/{lang}/reports/{ref}", f"/{lang}/reports/{ref}?t=", f"/{lang}/reports/{ref}?t=x",
                  f"/{lang}/reports/{ref}?t={token}x", f"/{lang}/reports/{int(ref) + 1}?t={token}",
                  f"/{lang}/reports/abc?t={token}"):
        r = resident.get(wrong)
        assert r.status_code == 404 and CONTACT not in r.text and "Never above" not in r.text, wrong
    [(cid,)] = rows(cw, "SELECT id FROM gapmap.challenge WHERE report_id = %s", (int(ref),))

    officer = signed_in(cw, OFFICER)
    queue = officer.get(f"/{lang}/officer/challenges?state=open")
    assert queue.status_code == 200
    assert f'href="/{lang}/officer/challenges/{cid}"' in queue.text
    start = last_audit(cw)
    page = officer.get(f"/{lang}/officer/challenges/{cid}")
    assert page.status_code == 200 and CONTACT in page.text and "Never above 6" in page.text
    assert audit_since(cw, start) == [(OFFICER, "challenge.view", str(cid))]
    # the premises as the map shows it now, beside the challenge
    evidence_now = one(cw, "SELECT evidence FROM gapmap.premises_class WHERE uprn = %s", (uprn,))[0]
    assert evidence_now != "correction"
    r = officer.post(f"/{lang}/officer/challenges/{cid}/screen",
                     data={"csrf_token": officer.csrf, "decision": "accept", "kind": "speed"})
    assert (r.status_code, r.headers["Location"]) == (303, f"/{lang}/officer/challenges/{cid}")
    r = officer.post(f"/{lang}/officer/challenges/{cid}/decide", data={
        "csrf_token": officer.csrf, "outcome": "upheld", "reason_upheld": "evidence_confirms",
        "down": "4.5", "up": "0.5", "message": "Diolch / Thank you"})
    assert r.status_code == 303
    shown = officer.get(r.headers["Location"])
    assert f'data-state="upheld">{upheld}<' in html.unescape(shown.text)
    assert one(cw, "SELECT state, reason, corrected_down, corrected_up, decided_by IS NOT NULL "
                   "FROM gapmap.challenge WHERE id = %s", (cid,)) == \
        ("upheld", "evidence_confirms", 4.5, 0.5, True)
    # the map does not change until an admin publishes and classifies
    assert one(cw, "SELECT evidence FROM gapmap.premises_class WHERE uprn = %s", (uprn,))[0] == \
        evidence_now
    admin = signed_in(cw, ADMIN)
    start = last_audit(cw)
    r = admin.post(f"/{lang}/officer/challenges/publish", data={"csrf_token": admin.csrf})
    assert (r.status_code, r.headers["Location"]) == (303, f"/{lang}/officer/challenges")
    release, run = one(cw, "SELECT r.label, c.label FROM gapmap.release r, gapmap.classification_run c "
                           "WHERE r.source = 'correction' AND c.is_current")
    assert release == run
    after = admin.get(f"/{lang}/officer/challenges")
    expected_notice = {"en": f"Published correction release {release} (corrections in force: "
                             f"1). The map now shows classification {run}.",
                       "cy": f"Cyhoeddwyd rhyddhad cywiro {release} (cywiriadau mewn grym: 1). "
                             f"Mae'r map bellach yn dangos dosbarthiad {run}."}[lang]
    assert expected_notice in html.unescape(text_of(after.text))
    assert [a for _, a, _ in audit_since(cw, start)] == ["corrections.publish",
                                                         "classification.run"]
    public = cw["app"].test_client()
    data = public.get(f"/api/v1/premises/{uprn}?lang={lang}").json
    assert (data["evidence"], data["best_down"], data["best_up"], data["status"],
            data["evidence_release"]) == ("correction", 4.5, 0.5, "below", release)
    page = public.get(f"/{lang}/postcode/{compact}")
    row = re.search(rf'<tr id="uprn-{uprn}">(.*?)</tr>', page.text, re.S)[1]
    words = {"en": "accepted correction", "cy": "cywiriad a dderbyniwyd"}[lang]
    assert words in row and ">4.5<" in row
    status = resident.get(link)
    seen = html.unescape(status.text)
    assert f'data-state="upheld">{upheld}<' in seen and "Diolch / Thank you" in seen
    message = {"en": "You were right. We have corrected the map",
               "cy": "Roeddech chi'n iawn. Rydym wedi cywiro'r map"}[lang]
    assert message in seen
    # public transparency: the figures, and no person in them
    stats = public.get("/api/v1/challenges/stats").json
    assert stats == {"authorities": [{
        "la_code": CEREDIGION, "received": 1, "upheld": 1, "rejected": 0, "moot": 0,
        "pending": 0, "median_days_to_decision": 0.0, "name_en": "Ceredigion",
        "name_cy": "Ceredigion"}]}
    areas = public.get(f"/{lang}/areas")
    assert CONTACT not in areas.text
    table = areas.text.split('id="challenges"', 1)[1]
    cells = re.findall(r'<td class="num">([^<]*)</td>', table)
    assert cells == ["1", "1", "0", "0", "0", "0"]


# -- the queue --------------------------------------------------------------------------------
def test_the_queue_filters_counts_pages_and_marks_overdue_rows_in_words(cw):
    (u1, _), (u2, _), (u3, _) = premises(cw, n=3)
    [(u4, _)] = premises(cw, MERTHYR)
    a = file(cw, OFFICER, kind="speed", uprn=u1)
    b = file(cw, OFFICER, kind="availability", uprn=u2, availability_reason="refused",
             evidence_ref="letter")
    c = file(cw, OFFICER, kind="not_premises", uprn=u3, note="a substation")
    d = file(cw, OTHER, kind="speed", uprn=u4)
    with psycopg.connect(cw["url"], autocommit=True) as conn:  # b is overdue; due order: b c a
        conn.execute("UPDATE gapmap.challenge SET due_at = now() - interval '2 days' WHERE id = %s", (b,))
        conn.execute("UPDATE gapmap.challenge SET due_at = now() + interval '1 day' WHERE id = %s", (c,))
    officer = signed_in(cw, OFFICER)

    def listed(query: str) -> list[int]:
        r = officer.get(f"/en/officer/challenges{query}")
        assert r.status_code == 200, (query, r.text)
        return [int(i) for i in re.findall(r'<th scope="row"><a href="/en/officer/challenges/(\d+)"',
                                           r.text)]

    assert listed("") == [b, c, a]  # the nearest deadline first; never another authority's
    assert listed("?state=open") == [b, c, a]
    assert listed("?kind=speed") == [a]
    assert listed("?overdue=1") == [b]
    assert listed("?state=accepted") == []
    page = officer.get("/en/officer/challenges")
    row = re.search(rf'<tr class="overdue">\s*<th scope="row"><a href="/en/officer/challenges/{b}"'
                    r'.*?</tr>', page.text, re.S)[0]
    assert '<strong class="overdue-mark">Overdue</strong>' in row  # a word, not colour alone
    assert page.text.count('class="overdue"') == 1
    counts = re.findall(r'<li><a href="[^"]+">([^<]+)</a>: (?:<strong>)?(\d+)', page.text)
    assert counts == [("Submitted", "3"), ("Accepted for review", "0"),
                      ("Rejected: not enough evidence", "0"), ("Upheld", "0"), ("Rejected", "0"),
                      ("No longer needed", "0"), ("Overdue", "1"),
                      ("Open conflicts with newer releases", "0")]
    two = officer.get("/en/officer/challenges?per_page=2&page=1")
    assert "3 challenges (page 1 of 2)" in two.text
    assert 'href="/en/officer/challenges?state=all&amp;kind=&amp;overdue=&amp;page=2" rel="next"' \
        in two.text
    assert listed("?per_page=2&page=2") == [a]
    welsh = officer.get("/cy/officer/challenges")
    assert "Yn hwyr" in welsh.text and "Wedi'i gyflwyno".replace("'", "&#39;") in welsh.text
    for bad in ("?state=nonsense", "?kind=x", "?page=0", "?page=x"):
        assert officer.get(f"/en/officer/challenges{bad}").status_code == 400, bad
    # the admin sees every authority's; the other officer only theirs
    assert [int(i) for i in re.findall(r'/en/officer/challenges/(\d+)"',
                                       signed_in(cw, ADMIN).get("/en/officer/challenges").text)] \
        == [b, c, a, d]
    assert re.findall(r'/en/officer/challenges/(\d+)"',
                      signed_in(cw, OTHER).get("/en/officer/challenges").text) == [str(d)]


def test_the_dashboard_shows_open_and_overdue_challenges_and_conflicts(cw):
    (u1, _), (u2, _) = premises(cw, n=2)
    file(cw, OFFICER, kind="speed", uprn=u1)
    late = file(cw, OFFICER, kind="speed", uprn=u2)
    with psycopg.connect(cw["url"], autocommit=True) as conn:
        conn.execute("UPDATE gapmap.challenge SET due_at = now() - interval '1 day' WHERE id = %s",
                     (late,))
        release = conn.execute("SELECT id, label FROM gapmap.release ORDER BY id LIMIT 1").fetchone()
        conn.execute("INSERT INTO gapmap.correction_conflict (challenge_id, uprn, release_id, source, "
                     "release, la_code) VALUES (%s, %s, %s, 'ofcom-api', %s, %s)",
                     (late, u2, release[0], release[1], CEREDIGION))
    home = signed_in(cw, OFFICER).get("/en/officer/")
    table = home.text.split("Open challenges and conflicts in your local authorities", 1)[1]
    table = table.split("</table>", 1)[0]
    assert re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", table.split("<tbody>", 1)[1]) == \
        ["Ceredigion", "2", "<strong>1</strong>", "1"]
    assert 'href="/en/officer/challenges?state=open&amp;overdue=1"' in home.text
    other = signed_in(cw, OTHER).get("/en/officer/")
    assert "No open challenges or conflicts." in other.text


# -- one challenge ----------------------------------------------------------------------------
def test_a_challenge_page_shows_the_evidence_neighbours_and_building_and_who_sees_contacts(cw):
    [(uprn, postcode)] = premises(cw)
    compact = postcode.replace(" ", "")
    neighbour = rows(cw, "SELECT uprn FROM gapmap.premises_class WHERE postcode = %s AND uprn <> %s "
                         "ORDER BY uprn LIMIT 1", (postcode, uprn))
    assert neighbour, f"the demo data has a second premises in {postcode}"
    resident = cw["app"].test_client()
    for chosen, contact in ((uprn, CONTACT), (neighbour[0][0], None)):
        form = resident.get(f"/en/postcode/{compact}/report")
        assert resident.post(f"/en/postcode/{compact}/report", data={
            "csrf_token": csrf_of(form.text), "problem": "slower", "uprn": str(chosen),
            "measured_down": "3", "contact": contact or ""}).status_code == 200
    [(cid,)] = rows(cw, "SELECT id FROM gapmap.challenge WHERE uprn = %s", (uprn,))
    officer, viewer = signed_in(cw, OFFICER), signed_in(cw, VIEWER)
    start = last_audit(cw)
    page = officer.get(f"/en/officer/challenges/{cid}")
    seen = text_of(page.text)
    assert "1 neighbours in the same postcode report the same (1 open or upheld challenges " \
           "there in all; 1 other residents' reports)." in seen.replace("&#39;", "'")
    assert "1 speed tests on 1 different days (at least 3 are needed for a speed challenge)." \
        in seen
    assert "Missing: Too few speed tests" in seen
    assert "Median of the tests: 3 Mbit/s down, – up." in seen
    evidence, release = one(cw, "SELECT evidence, evidence_release FROM gapmap.premises_class "
                                "WHERE uprn = %s", (uprn,))
    names = {"ofcom-api": "Ofcom premises prediction", "postcode": "Ofcom postcode coverage",
             "oa": "Ofcom output-area coverage", "bduk": "BDUK release"}
    assert "What the map shows now Status 30 Mbit/s or more" in seen
    assert f"Evidence {names[evidence]} ({release})" in seen and CONTACT in page.text
    assert f'action="/en/officer/challenges/{cid}/screen"' in page.text
    v = viewer.get(f"/en/officer/challenges/{cid}")
    assert v.status_code == 200 and CONTACT not in v.text and "<form method=\"post\" class" \
        not in v.text and "/screen" not in v.text and "/decide" not in v.text
    assert audit_since(cw, start) == [(OFFICER, "challenge.view", str(cid)),
                                      (VIEWER, "challenge.view", str(cid))]
    for action in ("screen", "decide"):
        r = viewer.post(f"/en/officer/challenges/{cid}/{action}",
                        data={"csrf_token": viewer.csrf, "decision": "accept",
                              "outcome": "moot"})
        assert r.status_code == 403, action
    assert one(cw, "SELECT state FROM gapmap.challenge WHERE id = %s", (cid,)) == ("submitted",)
    away = signed_in(cw, OTHER)
    assert away.get(f"/en/officer/challenges/{cid}").status_code == 404
    assert away.post(f"/en/officer/challenges/{cid}/screen",
                     data={"csrf_token": away.csrf, "decision": "accept"}).status_code == 404
    # a form without its CSRF token is refused
    assert officer.post(f"/en/officer/challenges/{cid}/screen",
                        data={"decision": "accept"}).status_code == 400


def test_flats_escalate_to_the_whole_building_on_the_page(cw):
    [(uprn, _)] = premises(cw)
    with psycopg.connect(cw["url"], autocommit=True) as conn:
        run = conn.execute("SELECT run_id FROM gapmap.premises WHERE uprn = %s", (uprn,)).fetchone()[0]
        conn.execute("INSERT INTO gapmap.premises (uprn, geom, postcode, run_id) "
                     "SELECT 999000000 + i, p.geom, p.postcode, %s FROM gapmap.premises p, "
                     "generate_series(1, 11) i WHERE p.uprn = %s", (run, uprn))
        conn.execute("UPDATE gapmap.membership_state SET built_for = 'flats added by hand'")
        classify(conn, load_rules(cw["settings"].rules_file), label="with the flats")
    ids = [file(cw, OFFICER, kind="availability", uprn=u, availability_reason="refused",
                evidence_ref=f"letter {u}") for u in (uprn, 999000001, 999000002)]
    officer = signed_in(cw, OFFICER)
    page = text_of(officer.get(f"/en/officer/challenges/{ids[0]}").text)
    assert "3 of 12 units report: escalate to the whole building." in page
    r = officer.post(f"/en/officer/challenges/{ids[0]}/screen",
                     data={"csrf_token": officer.csrf, "decision": "accept"})
    assert r.status_code == 303
    form = officer.get(f"/en/officer/challenges/{ids[0]}").text
    assert re.search(r'<input type="checkbox" name="whole_building" id="decide-whole-building" '
                     r'checked> <label for="decide-whole-building">The whole building \(12 units\)',
                     form)
    r = officer.post(f"/en/officer/challenges/{ids[0]}/decide", data={
        "csrf_token": officer.csrf, "outcome": "upheld", "down": "8", "up": "1",
        "whole_building": "on", "valid_until": "2099-01-31"})
    assert r.status_code == 303
    assert one(cw, "SELECT whole_building, valid_until FROM gapmap.challenge WHERE id = %s",
               (ids[0],)) == (True, dt.date(2099, 1, 31))


def test_screening_out_changing_the_kind_and_placing_the_point(cw):
    (u1, _), (u2, _) = premises(cw, n=2)
    [(x, y)] = rows(cw, "SELECT ST_X(geom), ST_Y(geom) FROM gapmap.premises WHERE uprn = %s", (u2,))
    a = file(cw, OFFICER, kind="speed", uprn=u1)
    b = file(cw, OFFICER, kind="availability", uprn=u2, note="the house moved")
    officer = signed_in(cw, OFFICER)
    r = officer.post(f"/cy/officer/challenges/{a}/screen", data={
        "csrf_token": officer.csrf, "decision": "screen_out", "reason": "too_few_tests",
        "message": "Anfonwch dri phrawf"})
    assert r.status_code == 303
    assert one(cw, "SELECT state, reason, message FROM gapmap.challenge WHERE id = %s", (a,)) == \
        ("screened_out", "too_few_tests", "Anfonwch dri phrawf")
    page = officer.get(f"/cy/officer/challenges/{a}")
    assert f"Statws her {a} nawr: Wedi&#39;i wrthod: dim digon o dystiolaeth." in page.text
    assert "/screen" not in page.text and "/decide" not in page.text  # closed: no forms
    # a reason of the wrong state, half a point, a closed challenge: the page again, with why
    for data, words in (
            ({"decision": "screen_out", "reason": "evidence_confirms"},
             "is not a reason to make a challenge screened_out"),
            ({"decision": "accept", "easting": str(x + 50)}, "give both the easting and the northing"),
            ({"decision": "accept", "easting": "x", "northing": "1"}, "easting &#39;x&#39; is not a number"),
            ({}, "Choose whether to accept the challenge for review or screen it out.")):
        r = officer.post(f"/en/officer/challenges/{b}/screen", data={"csrf_token": officer.csrf,
                                                                     **data})
        assert r.status_code == 400 and words in r.text, (data, r.text[-3000:])
        assert 'role="alert"' in r.text
    r = officer.post(f"/en/officer/challenges/{a}/screen",
                     data={"csrf_token": officer.csrf, "decision": "accept"})
    assert r.status_code == 400 and "it is closed" in r.text
    r = officer.post(f"/en/officer/challenges/{b}/screen", data={
        "csrf_token": officer.csrf, "decision": "accept", "kind": "wrong_location",
        "easting": f"{x + 50:.1f}", "northing": f"{y:.1f}"})
    assert r.status_code == 303
    assert one(cw, "SELECT kind, state, round(ST_X(geom)::numeric, 1)::float8, "
                   "round(ST_Y(geom)::numeric, 1)::float8 FROM gapmap.challenge WHERE id = %s",
               (b,)) == ("wrong_location", "accepted", round(x + 50, 1), round(y, 1))
    r = officer.post(f"/en/officer/challenges/{b}/decide", data={
        "csrf_token": officer.csrf, "outcome": "rejected", "reason_rejected": "provider_rebuttal"})
    assert r.status_code == 303
    assert one(cw, "SELECT state, reason FROM gapmap.challenge WHERE id = %s", (b,)) == \
        ("rejected", "provider_rebuttal")
    assert [(e[1], e[2]) for e in rows(
        cw, "SELECT actor, from_state, to_state FROM gapmap.challenge_event WHERE challenge_id = %s "
            "ORDER BY id", (b,))] == [(None, "submitted"), ("submitted", "accepted"),
                                      ("accepted", "rejected")]


def test_upholding_needs_the_corrected_speeds_and_moot_needs_no_review(cw):
    (u1, _), (u2, _) = premises(cw, n=2)
    a = file(cw, OFFICER, kind="speed", uprn=u1)
    b = file(cw, OFFICER, kind="speed", uprn=u2)
    officer = signed_in(cw, OFFICER)
    officer.post(f"/en/officer/challenges/{a}/screen",
                 data={"csrf_token": officer.csrf, "decision": "accept"})
    r = officer.post(f"/en/officer/challenges/{a}/decide",
                     data={"csrf_token": officer.csrf, "outcome": "upheld"})
    assert r.status_code == 400 and "corrected download: give a speed in Mbit/s" in r.text
    r = officer.post(f"/en/officer/challenges/{a}/decide", data={
        "csrf_token": officer.csrf, "outcome": "upheld", "down": "4", "up": "1",
        "valid_until": "someday"})
    assert r.status_code == 400 and "valid until &#39;someday&#39; is not a date" in r.text
    assert one(cw, "SELECT state FROM gapmap.challenge WHERE id = %s", (a,)) == ("accepted",)
    # a submitted challenge can only become moot: the decision form offers nothing else
    page = officer.get(f"/en/officer/challenges/{b}").text
    assert re.findall(r'name="outcome" value="(\w+)"', page) == ["moot"]
    r = officer.post(f"/en/officer/challenges/{b}/decide", data={
        "csrf_token": officer.csrf, "outcome": "moot", "reason_moot": "newer_release"})
    assert r.status_code == 303
    assert one(cw, "SELECT state, reason FROM gapmap.challenge WHERE id = %s", (b,)) == \
        ("moot", "newer_release")


def test_the_setting_classify_after_decision_classifies_after_every_upheld_one(server, base_db,
                                                                              tmp_path):
    name, url = copy_of(server, base_db)
    settings = load_settings({"database_url": url, "cache_dir": str(tmp_path)}, environ={}) \
        .replace(secret_key=TEST_SECRET, classify_after_decision=True)
    try:
        with session_scope(settings) as s:
            acc.add_account(s, email=OFFICER, role="officer", areas=[CEREDIGION],
                            password=PASSWORD, actor="test")
        with app_for(settings) as app:
            cw = {"settings": settings, "url": url, "app": app, "tokens": {}}
            (u1, _), (u2, _) = premises(cw, n=2)
            a = file(cw, OFFICER, kind="speed", uprn=u1)
            b = file(cw, OFFICER, kind="speed", uprn=u2)
            runs = one(cw, "SELECT count(*) FROM gapmap.classification_run")[0]
            officer = signed_in(cw, OFFICER)
            for cid in (a, b):
                officer.post(f"/en/officer/challenges/{cid}/screen",
                             data={"csrf_token": officer.csrf, "decision": "accept"})
            r = officer.post(f"/en/officer/challenges/{b}/decide", data={
                "csrf_token": officer.csrf, "outcome": "rejected"})
            assert r.status_code == 303
            assert one(cw, "SELECT count(*) FROM gapmap.classification_run")[0] == runs
            r = officer.post(f"/en/officer/challenges/{a}/decide", data={
                "csrf_token": officer.csrf, "outcome": "upheld", "down": "2", "up": "0.5"})
            assert r.status_code == 303
            assert one(cw, "SELECT count(*) FROM gapmap.classification_run")[0] == runs + 1
            assert one(cw, "SELECT evidence, best_down FROM gapmap.premises_class WHERE uprn = %s",
                       (u1,)) == ("correction", 2.0)
            page = officer.get(r.headers["Location"]).text
            assert "(corrections in force: 1). The map now shows classification" in page
            assert [a for _, a, _ in rows(cw, "SELECT actor, action, object_id FROM "
                                              "gapmap.audit_event WHERE action IN "
                                              "('corrections.publish', 'classification.run')")] \
                == ["corrections.publish", "classification.run"]
    finally:
        server.drop(name)


# -- filing -----------------------------------------------------------------------------------
def test_an_officer_files_a_challenge_with_speed_tests_and_a_point(cw):
    [(uprn, postcode)] = premises(cw)
    [(away, _)] = premises(cw, MERTHYR)
    officer = signed_in(cw, OFFICER)
    form = officer.get(f"/cy/officer/challenges/new?uprn={uprn}")
    assert form.status_code == 200 and f'value="{uprn}"' in form.text
    assert form.text.count('name="test_date"') == 5
    data = {"csrf_token": officer.csrf, "kind": "speed", "uprn": str(uprn),
            "availability_reason": "", "claimed_down": "30", "claimed_up": "",
            "test_date": ["2026-01-05", "2026-01-06", "2026-01-08", "", ""],
            "test_down": ["4.1", "3,9", "5", "", ""], "test_up": ["0.5", "", "0.7", "", ""],
            "evidence_ref": "speedtest.net results", "observed_on": "2026-01-08",
            "note": "Slow every evening", "easting": "", "northing": ""}
    r = officer.post("/cy/officer/challenges/new", data=data)
    assert r.status_code == 303
    cid = int(r.headers["Location"].rsplit("/", 1)[1])
    assert one(cw, "SELECT kind, origin, uprn, postcode, la_code, claimed_down, claimed_up, tests, "
                   "evidence_ref, observed_on, note, lang, state FROM gapmap.challenge "
                   "WHERE id = %s", (cid,)) == (
        "speed", "officer", uprn, postcode, CEREDIGION, 30.0, None,
        [{"date": "2026-01-05", "down": 4.1, "up": 0.5}, {"date": "2026-01-06", "down": 3.9, "up": None},
         {"date": "2026-01-08", "down": 5.0, "up": 0.7}],
        "speedtest.net results", dt.date(2026, 1, 8), "Slow every evening", "cy", "submitted")
    page = text_of(officer.get(f"/en/officer/challenges/{cid}").text)
    assert "3 speed tests on 3 different days" in page and "The evidence is enough to review." in page
    # the same premises again, another authority's, a missing premises without its point
    for changes, status, words in (
            ({}, 400, f"already has an open speed challenge ({cid})"),
            ({"uprn": str(away)}, 404, "not in your authorities"),
            ({"uprn": "", "kind": "missing_premises"}, 400, "needs its point"),
            ({"uprn": "12x"}, 400, "is not a UPRN"),
            ({"test_date": ["2026-01-05"], "test_down": ["fast"], "test_up": [""]}, 400,
             "is not a number of Mbit/s")):
        r = officer.post("/en/officer/challenges/new", data={**data, **changes})
        assert r.status_code == status and words in r.text.replace("&#39;", "'"), changes
        assert 'value="Slow every evening"' not in r.text and "Slow every evening" in r.text
    [(x, y)] = rows(cw, "SELECT ST_X(geom), ST_Y(geom) FROM gapmap.premises WHERE uprn = %s", (uprn,))
    r = officer.post("/en/officer/challenges/new", data={
        "csrf_token": officer.csrf, "kind": "missing_premises", "easting": str(x + 30),
        "northing": str(y), "note": "The new bungalow"})
    assert r.status_code == 303
    assert signed_in(cw, VIEWER).get("/en/officer/challenges/new").status_code == 403


# -- conflicts --------------------------------------------------------------------------------
def test_conflicts_are_listed_and_resolved_in_scope(cw):
    (u1, _), (u2, _) = premises(cw, n=2)
    ids = [file(cw, OFFICER, kind="speed", uprn=u) for u in (u1, u2)]
    with psycopg.connect(cw["url"], autocommit=True) as conn:
        rel = conn.execute("SELECT id, label FROM gapmap.release WHERE source = 'ofcom-api' "
                           "ORDER BY id LIMIT 1").fetchone()
        conflicts = [conn.execute(
            "INSERT INTO gapmap.correction_conflict (challenge_id, uprn, release_id, source, "
            "release, la_code, detail) VALUES (%s, %s, %s, 'ofcom-api', %s, %s, %s) RETURNING id",
            (cid, u, rel[0], rel[1], CEREDIGION,
             '{"corrected_down": 5.0, "release_down": 80.0, "line": 30.0}')).fetchone()[0]
            for cid, u in zip(ids, (u1, u2), strict=True)]
    officer = signed_in(cw, OFFICER)
    page = officer.get("/en/officer/conflicts")
    assert page.status_code == 200 and "2 open conflicts, oldest first" in page.text
    assert page.text.count('value="keep_correction"') == 2
    assert "<td>5.0</td>" in page.text and "<td>80.0</td>" in page.text
    viewer = signed_in(cw, VIEWER)
    v = viewer.get("/en/officer/conflicts")
    assert "2 open conflicts" in v.text and "keep_correction" not in v.text
    assert viewer.post(f"/en/officer/conflicts/{conflicts[0]}/resolve", data={
        "csrf_token": viewer.csrf, "resolution": "keep_correction"}).status_code == 403
    other = signed_in(cw, OTHER)
    assert "No open conflicts." in other.get("/en/officer/conflicts").text
    assert other.post(f"/en/officer/conflicts/{conflicts[0]}/resolve", data={
        "csrf_token": other.csrf, "resolution": "keep_correction"}).status_code == 404
    start = last_audit(cw)
    r = officer.post(f"/en/officer/conflicts/{conflicts[0]}/resolve",
                     data={"csrf_token": officer.csrf, "resolution": "keep_correction"})
    assert (r.status_code, r.headers["Location"]) == (303, "/en/officer/conflicts")
    r = officer.post(f"/en/officer/conflicts/{conflicts[1]}/resolve",
                     data={"csrf_token": officer.csrf, "resolution": "accept_release"})
    assert r.status_code == 303
    r = officer.post(f"/en/officer/conflicts/{conflicts[1]}/resolve",
                     data={"csrf_token": officer.csrf, "resolution": "accept_release"})
    assert r.status_code == 400 and "was resolved already (accept_release)" in r.text
    assert "No open conflicts." in officer.get("/en/officer/conflicts").text
    assert [a for _, a, _ in audit_since(cw, start)] == ["conflict.resolve", "conflict.resolve"]
    assert rows(cw, "SELECT resolution, (SELECT withdrawn_at IS NOT NULL FROM gapmap.challenge c "
                    "WHERE c.id = k.challenge_id) FROM gapmap.correction_conflict k ORDER BY id") \
        == [("keep_correction", False), ("accept_release", True)]


# -- the officer API --------------------------------------------------------------------------
def test_the_officer_api_lists_reads_screens_and_decides_in_scope(cw):
    (u1, _), (u2, _) = premises(cw, n=2)
    a = file(cw, OFFICER, kind="speed", uprn=u1,
             tests=ch.parse_tests(["2026-01-01", "2026-01-02", "2026-01-03"], ["4", "5", "6"],
                                  ["1", "1", "1"]))
    b = file(cw, OFFICER, kind="not_premises", uprn=u2)
    client = cw["app"].test_client()
    officer, viewer, other = bearer(cw, OFFICER), bearer(cw, VIEWER), bearer(cw, OTHER)
    listing = client.get("/api/v1/officer/challenges?state=open", headers=officer).json
    assert [c["id"] for c in listing["challenges"]] == [a, b]
    assert (listing["total"], listing["page"], listing["per_page"]) == (2, 1, 25)
    assert listing["counts"] == {"submitted": 2, "accepted": 0, "screened_out": 0, "upheld": 0,
                                 "rejected": 0, "moot": 0, "overdue": 0}
    assert [c["id"] for c in client.get("/api/v1/officer/challenges?kind=not_premises",
                                        headers=officer).json["challenges"]] == [b]
    assert client.get("/api/v1/officer/challenges?overdue=1", headers=officer).json["total"] == 0
    assert client.get("/api/v1/officer/challenges", headers=other).json["total"] == 0
    r = client.get("/api/v1/officer/challenges?state=bogus", headers=officer)
    assert r.status_code == 400 and r.json["error"]["code"] == "bad_request"
    start = last_audit(cw)
    got = client.get(f"/api/v1/officer/challenges/{a}", headers=viewer).json
    assert got["evidence"] == {"tests": 3, "days": 3, "median_down": 5.0, "median_up": 1.0,
                               "enough": True, "problems": []}
    assert (got["state"], got["kind"], got["uprn"], got["la_code"], got["overdue"]) == \
        ("submitted", "speed", u1, CEREDIGION, False)
    assert got["neighbours"] == {"challenges": 0, "same_kind": 0, "reports": 0}
    assert got["building"]["units"] >= 1 and re.fullmatch(r"\d{4}-\d\d-\d\dT.*", got["due_at"])
    assert [(e["from"], e["to"], e["actor"]) for e in got["history"]] == [(None, "submitted", OFFICER)]
    assert [(actor, action) for actor, action, _ in audit_since(cw, start)] == \
        [(VIEWER, "token.use"), (VIEWER, "challenge.view")]
    assert client.get(f"/api/v1/officer/challenges/{a}", headers=other).status_code == 404
    assert client.get("/api/v1/officer/challenges/1%20OR%201=1", headers=officer).status_code == 404
    # writes: viewers 403, other authorities 404, bad bodies 400
    assert client.post(f"/api/v1/officer/challenges/{a}/screen", headers=viewer,
                       json={"accept": True}).status_code == 403
    assert client.post(f"/api/v1/officer/challenges/{a}/screen", headers=other,
                       json={"accept": True}).status_code == 404
    for body, words in (({}, "accept: true"), ({"accept": True, "colour": "red"},
                                              "unknown field(s) colour"),
                        ({"accept": True, "message": 5}, "message must be a string"),
                        ({"accept": "yes"}, "accept: true")):
        r = client.post(f"/api/v1/officer/challenges/{a}/screen", headers=officer, json=body)
        assert r.status_code == 400 and words in r.json["error"]["message"], body
    r = client.post(f"/api/v1/officer/challenges/{a}/screen", headers=officer, data="accept",
                    content_type="text/plain")
    assert r.status_code == 400
    r = client.post(f"/api/v1/officer/challenges/{a}/screen", headers=officer,
                    json={"accept": True, "message": "Under review"})
    assert r.status_code == 200 and (r.json["state"], r.json["reason"], r.json["message"]) == \
        ("accepted", "evidence_complete", "Under review")
    r = client.post(f"/api/v1/officer/challenges/{a}/decide", headers=officer,
                    json={"outcome": "upheld"})
    assert r.status_code == 400 and "corrected download" in r.json["error"]["message"]
    r = client.post(f"/api/v1/officer/challenges/{a}/decide", headers=officer,
                    json={"outcome": "upheld", "down": 5, "up": 1, "valid_until": "2099-12-31",
                          "reason": "provider_confirms"})
    assert r.status_code == 200
    assert (r.json["state"], r.json["corrected_down"], r.json["corrected_up"],
            r.json["valid_until"], r.json["decided_by"]) == \
        ("upheld", 5.0, 1.0, "2099-12-31", OFFICER)
    assert "classification" not in r.json  # classify_after_decision is off
    r = client.post(f"/api/v1/officer/challenges/{b}/screen", headers=officer,
                    json={"accept": False, "reason": "bare_assertion"})
    assert (r.status_code, r.json["state"]) == (200, "screened_out")
    r = client.post(f"/api/v1/officer/challenges/{b}/decide", headers=officer,
                    json={"outcome": "moot"})
    assert r.status_code == 400 and "it is closed" in r.json["error"]["message"]
    assert client.get("/api/v1/officer/challenges", headers={}).status_code == 401
    assert [(a_, o) for _, a_, o in audit_since(cw, start) if a_.startswith("challenge.")] == [
        ("challenge.view", str(a)), ("challenge.accepted", str(a)), ("challenge.upheld", str(a)),
        ("challenge.screened_out", str(b))]


# -- public transparency ----------------------------------------------------------------------
def test_the_public_figures_per_authority_in_both_languages(cw):
    client = cw["app"].test_client()
    assert client.get("/api/v1/challenges/stats").json == {"authorities": []}
    assert "No challenges have been received yet." in client.get("/en/areas").text
    (u1, _), (u2, _) = premises(cw, n=2)
    [(u3, _)] = premises(cw, MERTHYR)
    a = file(cw, OFFICER, kind="speed", uprn=u1)
    file(cw, OFFICER, kind="speed", uprn=u2)
    c = file(cw, OTHER, kind="not_premises", uprn=u3)
    with session_scope(cw["settings"]) as s:
        for cid, email in ((a, OFFICER), (c, OTHER)):
            account = acc.find_account(s, email)
            challenge = ch.challenge_in_scope(s, account, cid)
            ch.screen(s, challenge, account, cw["settings"], accept=cid == c)
            if cid == c:
                ch.decide(s, challenge, account, cw["settings"], outcome="moot")
    stats = client.get("/api/v1/challenges/stats").json["authorities"]
    assert [(r["la_code"], r["name_en"], r["name_cy"], r["received"], r["upheld"],
             r["rejected"], r["moot"], r["pending"], r["median_days_to_decision"])
            for r in stats] == [
        (CEREDIGION, "Ceredigion", "Ceredigion", 2, 0, 1, 0, 1, 0.0),
        (MERTHYR, "Merthyr Tydfil", "Merthyr Tudful", 1, 0, 0, 1, 0, 0.0)]
    assert client.get(f"/api/v1/challenges/stats?la={MERTHYR}").json["authorities"] == [stats[1]]
    assert client.get("/api/v1/challenges/stats?la=W06999999").json == {"authorities": []}
    for lang, name in (("en", "Merthyr Tydfil"), ("cy", "Merthyr Tudful")):
        table = client.get(f"/{lang}/areas").text.split('id="challenges"', 1)[1]
        assert re.findall(r'<th scope="row">([^<]+)</th>', table) == ["Ceredigion", name]
        assert re.findall(r'<td class="num">([^<]*)</td>', table) == \
            ["2", "0", "1", "0", "1", "0", "1", "0", "0", "1", "0", "0"]
    assert OFFICER not in client.get("/api/v1/challenges/stats").text


def test_a_report_naming_no_premises_stays_a_report_with_its_status_link(cw):
    [(_, postcode)] = premises(cw)
    compact = postcode.replace(" ", "")
    resident = cw["app"].test_client()
    form = resident.get(f"/cy/postcode/{compact}/report")
    done = resident.post(f"/cy/postcode/{compact}/report", data={
        "csrf_token": csrf_of(form.text), "problem": "other", "uprn": "",
        "message": "Mae'r stryd gyfan yn araf"})
    assert done.status_code == 200
    link = re.search(r'id="status-link" href="([^"]+)"', done.text)[1].replace("&amp;", "&")
    assert one(cw, "SELECT count(*) FROM gapmap.challenge")[0] == 0  # no premises to challenge
    status = html.unescape(resident.get(link).text)
    assert 'data-state="submitted">Wedi\'i gyflwyno<' in status
    assert "Bydd swyddog yn edrych ar eich adroddiad cyn bo hir." in status
