"""The postcode page and the report form as residents meet them (issue 19), through Flask's test
client against the loaded demo database: postcodes with no premises, postcodes outside our data,
texts that are not postcodes."""

from __future__ import annotations

import re

import psycopg
import pytest

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
