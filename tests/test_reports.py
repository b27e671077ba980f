"""Residents report that the map is wrong: the form checks, stores and thanks; officers list."""

from __future__ import annotations

import json
import re

import psycopg
import pytest
from babel.numbers import format_decimal
from click.testing import CliRunner

from gapmap.cli import main


@pytest.fixture()
def premises_here(loaded_settings):
    """A postcode with premises, its first UPRN, a UPRN of another postcode; reports are removed
    afterwards (the loaded database is shared by the session)."""
    with psycopg.connect(loaded_settings.conninfo, autocommit=True) as conn:
        postcode, uprn = conn.execute(
            "SELECT postcode, min(uprn) FROM gapmap.premises_class WHERE status = 'below' "
            "GROUP BY postcode ORDER BY postcode LIMIT 1").fetchone()
        other = conn.execute("SELECT min(uprn) FROM gapmap.premises WHERE postcode <> %s",
                             (postcode,)).fetchone()[0]
        yield postcode, uprn, other
        conn.execute("DELETE FROM gapmap.challenge")
        conn.execute("DELETE FROM gapmap.report")


def post_report(client, path: str, data: dict):
    """Send the form as a browser does: with the CSRF token of the page it came from."""
    page = client.get(path).get_data(as_text=True)
    token = re.search(r'<input[^>]*name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    return client.post(path, data={**data, "csrf_token": token})


def reports(settings) -> list[tuple]:
    with psycopg.connect(settings.conninfo) as conn:
        return conn.execute(
            "SELECT postcode, uprn, problem, measured_down, measured_up, message, contact, lang, "
            "classification, status FROM gapmap.report ORDER BY id").fetchall()


def test_the_postcode_page_links_to_the_form(client, premises_here):
    postcode, uprn, _ = premises_here
    compact = postcode.replace(" ", "")
    html = client.get(f"/en/postcode/{compact}").get_data(as_text=True)
    assert f'href="/en/postcode/{compact}/report"' in html
    assert f'href="/en/postcode/{compact}/report?uprn={uprn}"' in html
    assert 'href="https://www.gov.wales/access-broadband-cymru-grant-scheme-guidance-html"' in html
    form = client.get(f"/cy/postcode/{compact}/report?uprn={uprn}").get_data(as_text=True)
    assert f"Dywedwch wrthym fod y map yn anghywir am {postcode}" in form
    assert f'<option value="{uprn}" selected>' in form


def test_a_report_is_stored_and_thanked(client, loaded_settings, premises_here):
    postcode, uprn, _ = premises_here
    compact = postcode.replace(" ", "")
    response = post_report(client, f"/cy/postcode/{compact}/report", {
        "problem": "slower", "uprn": str(uprn), "measured_down": "4,5", "measured_up": "0.6",
        "message": "  Dim ond 4 Mbit/s <b>byth</b>  ", "contact": "", "website": ""})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    ref = re.search(r"Eich cyfeirnod yw (\d+)\.", html).group(1)
    assert int(ref) > 0
    assert reports(loaded_settings) == [
        (postcode, uprn, "slower", 4.5, 0.6, "Dim ond 4 Mbit/s <b>byth</b>", None, "cy", "2026-07", "new")]
    with psycopg.connect(loaded_settings.conninfo) as conn:  # its authority, for scoping
        assert conn.execute("SELECT r.la_code = p.la_code AND r.la_code LIKE 'W06%%' FROM "
                            "gapmap.report r JOIN gapmap.postcode p USING (postcode)").fetchone() \
            == (True,)
    listed = CliRunner().invoke(main, ["--database-url", loaded_settings.database_url, "reports", "--json"])
    assert listed.exit_code == 0
    rows = json.loads(listed.output)
    assert [(r["id"], r["postcode"], r["uprn"], r["problem"]) for r in rows] == [
        (int(ref), postcode, uprn, "slower")]


@pytest.mark.parametrize(("form", "field", "sentence"), [
    ({"problem": ""}, "problem", "Choose what is wrong."),
    ({"problem": "slower", "measured_down": "fast"}, "measured_down",
     "Give the speed as a number of Mbit/s, for example 7.5."),
    ({"problem": "faster", "measured_up": "-3"}, "measured_up", "Give a speed between 0 and 10,000 Mbit/s."),
    ({"problem": "other", "message": "   "}, "message", "Tell us what is wrong."),
    ({"problem": "slower", "message": "x" * 2001}, "message", "This is too long: shorten it."),
    ({"problem": "slower", "uprn": "OTHER"}, "uprn", "Choose a premises from the list."),
])
def test_a_wrong_form_says_which_field_and_keeps_what_was_typed(client, loaded_settings, premises_here,
                                                                 form, field, sentence):
    postcode, _, other = premises_here
    if form.get("uprn") == "OTHER":
        form = dict(form, uprn=str(other))
    response = post_report(client, f"/en/postcode/{postcode.replace(' ', '')}/report", form)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    anchor = "problem-slower" if field == "problem" else f"field-{field}"
    assert f'<li><a href="#{anchor}">{sentence}</a></li>' in html
    # beside its field too, named by the field's aria-describedby
    assert (f'<p class="field-error" id="error-{field}"><span class="visually-hidden">Error: '
            f'</span>{sentence}</p>') in html
    described = re.search(rf'id="{"field-" + field}"[^>]*aria-describedby="([^"]+)"[^>]*>', html)
    assert f"error-{field}" in described.group(1).split()
    assert html.count(' aria-invalid="true"') == 1
    if form.get("measured_down"):
        assert f'value="{form["measured_down"]}"' in html
    assert reports(loaded_settings) == []


def test_robots_filling_the_hidden_field_are_refused(client, loaded_settings, premises_here):
    postcode, _, _ = premises_here
    response = post_report(client, f"/en/postcode/{postcode.replace(' ', '')}/report",
                           {"problem": "slower", "website": "http://spam.example"})
    assert response.status_code == 400
    assert reports(loaded_settings) == []
    assert client.get("/en/postcode/W1A0AX/report").status_code == 404


def test_the_same_report_twice_is_stored_once(client, loaded_settings, premises_here):
    postcode, uprn, _ = premises_here
    path = f"/en/postcode/{postcode.replace(' ', '')}/report"
    form = {"problem": "slower", "uprn": str(uprn), "measured_down": "3", "message": "slow"}
    refs = [re.search(r"Your reference is (\d+)\.", post_report(client, path, form)
                      .get_data(as_text=True)).group(1) for _ in range(3)]
    assert len(set(refs)) == 1 and len(reports(loaded_settings)) == 1
    post_report(client, path, {**form, "message": "slower still"})
    assert len(reports(loaded_settings)) == 2


def test_every_wrong_field_is_named_at_once_beside_itself_in_both_languages(client, loaded_settings,
                                                                           premises_here):
    postcode, _, other = premises_here
    path = f"/{{lang}}/postcode/{postcode.replace(' ', '')}/report"
    form = {"problem": "", "uprn": str(other), "measured_down": "fast", "measured_up": "-3",
            "message": "x" * 2001, "contact": "y" * 201}
    en = post_report(client, path.format(lang="en"), form)
    assert en.status_code == 400
    html = en.get_data(as_text=True)
    summary = re.search(r'<div class="error-summary".*?</div>', html, re.S).group(0)
    assert re.findall(r'<a href="#([^"]+)">([^<]+)</a>', summary) == [
        ("problem-slower", "Choose what is wrong."),
        ("field-uprn", "Choose a premises from the list."),
        ("field-measured_down", "Give the speed as a number of Mbit/s, for example 7.5."),
        ("field-measured_up", "Give a speed between 0 and 10,000 Mbit/s."),
        ("field-message", "This is too long: shorten it."),
        ("field-contact", "This is too long: shorten it."),
    ]
    assert re.findall(r'class="field-error" id="error-([a-z_]+)"', html) == [
        "problem", "uprn", "measured_down", "measured_up", "message", "contact"]
    assert html.count(' aria-invalid="true"') == 6
    assert '<select name="uprn" id="field-uprn" aria-describedby="uprn-hint error-uprn" ' \
           'aria-invalid="true">' in html
    assert "<title>Error: Tell us the map is wrong" in html
    cy = post_report(client, path.format(lang="cy"), form).get_data(as_text=True)
    summary = re.search(r'<div class="error-summary".*?</div>', cy, re.S).group(0)
    assert re.findall(r'<a href="#([^"]+)">([^<]+)</a>', summary)[0] == (
        "problem-slower", "Dewiswch beth sy&#39;n anghywir.")
    assert '<span class="visually-hidden">Gwall: </span>' in cy
    assert reports(loaded_settings) == []


def test_the_form_offers_the_premises_of_the_postcode_by_number_and_status(client, loaded_settings,
                                                                          premises_here):
    postcode, uprn, _ = premises_here
    compact = postcode.replace(" ", "")
    with psycopg.connect(loaded_settings.conninfo) as conn:
        rows = conn.execute("SELECT uprn, status, best_down FROM gapmap.premises_class "
                            "WHERE postcode = %s ORDER BY uprn", (postcode,)).fetchall()
    names = {"below": "Below 30 Mbit/s", "possibly_below": "Possibly below 30 Mbit/s",
             "above": "30 Mbit/s or more", "unknown": "No evidence yet"}
    html = client.get(f"/en/postcode/{compact}/report?uprn={rows[-1][0]}").get_data(as_text=True)
    options = re.findall(r'<option value="([^"]*)"( selected)?>([^<]*)</option>', html)
    down = [f"best download {format_decimal(d, locale='en_GB')} Mbit/s" if d is not None
            else "best download not known" for _, _, d in rows]
    assert options == [("", "", "I can't find my premises, or it is missing")] + [
        (str(u), " selected" if i == len(rows) else "",
         f"Premises {i} of {len(rows)}: UPRN {u}. {names[s]}, {d}")
        for i, ((u, s, _), d) in enumerate(zip(rows, down, strict=True), start=1)]
    assert (f"Our data has no addresses: the {len(rows)} premises of {postcode} are listed by "
            "UPRN") in html


def test_the_report_form_shows_the_synthetic_data_banner(client, premises_here):
    postcode, uprn, _ = premises_here
    compact = postcode.replace(" ", "")
    for lang, words in (("en", "Synthetic demo data."), ("cy", "Data arddangos synthetig.")):
        form = client.get(f"/{lang}/postcode/{compact}/report").get_data(as_text=True)
        assert f'<p class="synthetic-banner" role="note"><strong>{words}</strong>' in form
    done = post_report(client, f"/en/postcode/{compact}/report", {"problem": "slower",
                                                                  "uprn": str(uprn)})
    assert "Thank you: your report is sent" in done.get_data(as_text=True)
    assert '<p class="synthetic-banner" role="note">' in done.get_data(as_text=True)
