"""The areas page (/<lang>/areas): every figure the map shows, at every level, filtered by
authority, sorted by any column without JavaScript, and the same table as CSV. Against the demo
data in a real PostGIS (loaded_settings: both releases classified, 2026-07 current)."""

from __future__ import annotations

import csv
import html as htmllib
import io
import re
from pathlib import Path

import pytest

from connectivity.areas import area_summaries, area_table
from tests.conftest import app_for

ROW = re.compile(r"<tr>\s*<td>(W0\d{7})</td>\s*<th scope=\"row\">(.*?)</th>(.*?)</tr>", re.S)
CELL = re.compile(r"<td[^>]*>(.*?)</td>", re.S)


def rows_of(page: str) -> list[tuple[str, str, list[str]]]:
    """(code, name as shown, the other cells' text) for each body row of the areas table."""
    body = page[page.index("<tbody>"):page.index("</tbody>")]
    return [(code, re.sub(r"<[^>]+>", "", name).strip(), [c.strip() for c in CELL.findall(rest)])
            for code, name, rest in ROW.findall(body)]


def caption_of(page: str) -> str:
    caption = re.search(r"<caption>(.*?)</caption>", page, re.S).group(1)
    return htmllib.unescape(" ".join(caption.split()))


def test_authorities_show_every_figure_and_no_premises_loaded_is_not_zero(client):
    page = client.get("/en/areas").get_data(as_text=True)
    assert caption_of(page) == ("Local authorities (Wales): 22, of which 2 have premises loaded. "
                                "Sorted by “Code”, ascending.")
    headers = re.findall(r'<th scope="col"[^>]*><a [^>]*>([^<]+)</a>', page)
    assert headers == ["Code", "Local authority", "Postcodes", "Premises", "Residential premises",
                       "Business premises", "Below 30 Mbit/s",
                       "Possibly below 30 Mbit/s", "Expected below 30 Mbit/s",
                       "Share below 30 Mbit/s",
                       "Eligible for Access Broadband Cymru (incl. possibly)",
                       "Local Broadband Fund targets (incl. possibly)", "In a planned build"]
    assert page.count('aria-sort="ascending"') == 1 and 'aria-sort="descending"' not in page
    assert '<th scope="col" aria-sort="ascending"><a href="/en/areas?sort=code&amp;order=desc">' \
           'Code</a>' in page
    rows = {code: (name, cells) for code, name, cells in rows_of(page)}
    assert len(rows) == 22 and list(rows) == sorted(rows)
    # the demo loads no AddressBase: residential and business are not known, not 0
    assert rows["W06000008"] == ("Ceredigion", ["3,077", "34,623", "Not known (no AddressBase loaded)", "1,043", "7,707", "4,025.0",
                                                "11.6 %", "8,750", "5,942", "4,653"])
    # no premises loaded in Cardiff: said so, not shown as 0
    assert rows["W06000015"] == ("Cardiff (Caerdydd)", ["7,678", "No premises loaded"])
    total = re.search(r"<tfoot>(.*?)</tfoot>", page, re.S).group(1)
    assert [c.strip() for c in CELL.findall(total)] == [
        "92,244", "63,225", "Not known (no AddressBase loaded)", "1,109", "8,855", "4,250.0", "6.7 %", "9,964", "6,250", "9,222"]


def test_a_zero_is_shown_as_zero(client):
    page = client.get("/en/areas?level=constituency&sort=premises").get_data(as_text=True)
    rows = rows_of(page)
    assert [r[0] for r in rows[:3]] == ["W07000093", "W07000099", "W07000088"]
    # Caerphilly: one premises, none below: zeros, not "no premises loaded"
    assert rows[2] == ("W07000088", "Caerphilly", ["2,282", "1", "Not known (no AddressBase loaded)", "0", "0", "0.0",
                                                   "0.0 %", "0", "0", "0"])
    # the 29 without premises come after, in code order (ties by code)
    rest = [code for code, _, cells in rows[3:]]
    assert len(rest) == 29 and rest == sorted(rest)
    assert all(cells[1] == "No premises loaded" for _, _, cells in rows[3:])
    assert caption_of(page).endswith("Sorted by “Premises”, descending.")


def test_wards_of_one_authority_sorted_by_share_below_descending(client):
    page = client.get("/en/areas?level=ward&la=W06000008&sort=share_below&order=desc"
                      ).get_data(as_text=True)
    assert caption_of(page) == ("Wards (Ceredigion): 40, of which 40 have premises loaded. "
                                "Sorted by “Share below 30 Mbit/s”, descending.")
    rows = rows_of(page)
    assert len(rows) == 40
    assert rows[0] == ("W05000383", "Llangybi", ["68", "603", "Not known (no AddressBase loaded)", "61", "349", "269.5",
                                                 "44.7 %", "410", "351", "131"])
    assert rows[1][:2] == ("W05000381", "Llanfihangel Ystrad")
    shares = [float(cells[6].removesuffix(" %")) for _, _, cells in rows]
    assert shares == sorted(shares, reverse=True)
    # the sorted header says so and its link reverses the order; the others start largest first
    assert ('<th scope="col" class="num" aria-sort="descending"><a href="/en/areas?level=ward&amp;'
            'la=W06000008&amp;sort=share_below&amp;order=asc">Share below 30 Mbit/s</a>') in page
    assert 'href="/en/areas?level=ward&amp;la=W06000008&amp;sort=premises&amp;order=desc"' in page
    # the level links keep the authority for the fine levels only
    assert '<a href="/en/areas?level=lsoa&amp;la=W06000008">LSOAs</a>' in page
    assert '<a href="/en/areas?level=constituency">Constituencies</a>' in page
    assert '<option value="W06000008" selected>Ceredigion</option>' in page
    # a filtered table does not repeat the authority on every row
    assert "la_code" not in page and len(rows[0][2]) == 10


def test_all_wales_wards_name_their_authority(client):
    page = client.get("/cy/areas?level=ward&sort=la").get_data(as_text=True)
    assert caption_of(page) == ("Wardiau (Cymru): 852, gyda safleoedd wedi'u llwytho ar gyfer 54 "
                                "ohonynt. Wedi'u trefnu yn ôl “Awdurdod lleol”, esgynnol.")
    rows = rows_of(page)
    assert len(rows) == 852
    # sorted by the authority's Welsh name: Abertawe (Swansea) first, ties by ward code
    assert rows[0][0] == "W05000524" and rows[0][2][:2] == ["Abertawe", "141"]
    swansea = [code for code, _, cells in rows if cells[0] == "Abertawe"]
    assert swansea == sorted(swansea) and len(swansea) == 36


def test_lsoas_carry_the_wimd_rank_in_welsh(client):
    page = client.get("/cy/areas?level=lsoa&la=W06000008&sort=wimd_rank").get_data(as_text=True)
    assert '<html lang="cy">' in page
    assert "Safle MALlC 2019 (1 = mwyaf difreintiedig)" in page
    rows = rows_of(page)
    assert len(rows) == 46
    assert rows[0] == ("W01000511", "Ceredigion 009E", ["69", "814", "Anhysbys (dim "
                                                         "AddressBase wedi'i lwytho)", "0", "0",
                                                         "0.0", "0.0 %", "0", "0", "80", "125"])
    ranks = [int(cells[-1].replace(",", "")) for _, _, cells in rows]
    assert ranks == sorted(ranks)


@pytest.mark.parametrize(("query", "english", "welsh"), [
    ("level=county", "Unknown level “county”. Levels: la, ward, lsoa, msoa, constituency.",
     "Lefel anhysbys “county”. Lefelau: la, ward, lsoa, msoa, constituency."),
    ("sort=colour", "This table cannot be sorted by “colour”. Sorts: code, name, postcodes, "
     "premises, residential, business, below, possibly_below, expected_below_30, share_below, abc_incl_possibly, "
     "lbf_incl_possibly, planned_build.",
     "Ni ellir trefnu'r tabl hwn yn ôl “colour”. Trefniadau: code, name, postcodes, premises, "
     "residential, business, below, possibly_below, expected_below_30, share_below, abc_incl_possibly, "
     "lbf_incl_possibly, planned_build."),
    ("level=ward&sort=wimd_rank", "This table cannot be sorted by “wimd_rank”. Sorts: code, "
     "name, la, postcodes, premises, residential, business, below, possibly_below, expected_below_30, share_below, "
     "abc_incl_possibly, lbf_incl_possibly, planned_build.", None),
    ("level=ward&la=W06000099", "There is no local authority with the code “W06000099”. Codes "
     "run from W06000001 to W06000024.",
     "Nid oes awdurdod lleol â'r cod “W06000099”. Mae'r codau'n rhedeg o W06000001 i W06000024."),
    ("la=W06000008", "The authority filter applies to wards, LSOAs and MSOAs, not to level “la”.",
     "Mae'r hidlydd awdurdod yn berthnasol i wardiau, ACEHI ac ACEHG, nid i'r lefel “la”."),
    ("sort=premises&order=up", "Unknown order “up”. Orders: asc, desc.",
     "Trefn anhysbys “up”. Trefnau: asc, desc."),
    ("colour=red", "Unknown parameter “colour”. This page takes: level, la, sort, order.",
     "Paramedr anhysbys “colour”. Mae'r dudalen hon yn derbyn: level, la, sort, order."),
    ("level=ward&level=lsoa", "The parameter “level” is given more than once.",
     "Rhoddir y paramedr “level” fwy nag unwaith."),
])
def test_a_wrong_parameter_is_a_400_that_says_why_in_the_page_language(client, query, english,
                                                                       welsh):
    for lang, message in (("en", english), ("cy", welsh)):
        if message is None:
            continue
        for path in ("areas", "areas.csv", "areas.csv-metadata.json"):
            response = client.get(f"/{lang}/{path}?{query}")
            assert response.status_code == 400, (lang, path)
            page = htmllib.unescape(response.get_data(as_text=True))
            assert f"<p>{message}</p>" in page and f'<html lang="{lang}">' in page


def test_the_csv_is_the_table_shown(client, tmp_path):
    query = "level=lsoa&la=W06000008&sort=wimd_rank"
    page = client.get(f"/en/areas?{query}").get_data(as_text=True)
    assert f'<a href="/en/areas.csv?{query.replace("&", "&amp;")}&amp;order=asc" download>' in page
    response = client.get(f"/en/areas.csv?{query}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="gapmap-areas-lsoa-W06000008-2026-07-wimd_rank-asc.csv"')
    assert response.headers["Link"] == (
        f'</en/areas.csv-metadata.json?{query}&order=asc>; rel="describedby"; '
        'type="application/csvm+json"')
    data = response.get_data()
    assert data.startswith("\ufeffcode,".encode()) and b"\r\n" in data
    records = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    header = ["code", "name_en", "name_cy", "postcodes", "premises", "residential", "business",
              "below", "possibly_below",
              "expected_below_30", "share_below", "abc_incl_possibly", "lbf_incl_possibly",
              "planned_build", "wimd_rank"]
    assert list(records[0]) == header
    assert [r["code"] for r in records] == [code for code, _, _ in rows_of(page)]
    assert records[0] == {"code": "W01000511", "name_en": "Ceredigion 009E", "name_cy": "",
                          "postcodes": "69", "premises": "814", "residential": "",
                          "business": "", "below": "0",
                          "possibly_below": "0", "expected_below_30": "0.0", "share_below": "0.0",
                          "abc_incl_possibly": "0", "lbf_incl_possibly": "0",
                          "planned_build": "80", "wimd_rank": "125"}
    # no attribution or source on the rows: it is said once, in the CSVW metadata
    assert not any("Crown" in value for r in records for value in r.values())
    import pyogrio

    path = tmp_path / "areas.csv"
    path.write_bytes(data)
    frame = pyogrio.read_dataframe(path)
    assert list(frame.columns) == header and len(frame) == 46
    assert frame["code"].tolist() == [r["code"] for r in records]
    assert pyogrio.read_info(path)["features"] == 46


def test_the_csv_keeps_the_page_language_sort_and_all_wales_authority_columns(client):
    response = client.get("/cy/areas.csv?level=ward&sort=la")
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="gapmap-areas-ward-wales-2026-07-la-asc.csv"')
    records = list(csv.DictReader(io.StringIO(response.get_data().decode("utf-8-sig"))))
    assert len(records) == 852
    assert list(records[0])[:6] == ["code", "name_en", "name_cy", "la_code", "la_name_en",
                                    "la_name_cy"]
    assert (records[0]["code"], records[0]["la_name_cy"], records[0]["name_cy"]) == (
        "W05000524", "Abertawe", "Gwyr")
    # a ward with no premises loaded: empty cells, not zeros
    assert (records[0]["premises"], records[0]["share_below"]) == ("", "")


def test_the_csvw_metadata_gives_the_attribution_once_and_bilingual_titles(client):
    response = client.get("/en/areas.csv-metadata.json?level=ward&la=W06000008")
    assert response.mimetype == "application/csvm+json"
    meta = response.get_json(force=True)
    assert meta["url"] == "http://localhost/en/areas.csv?level=ward&la=W06000008"
    assert meta["dc:license"] == {
        "@id": "http://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/"}
    assert "WIMD 2019: Contains Welsh Government data" in meta["dc:rights"]
    assert meta["dc:description"].startswith("SYNTHETIC DEMO DATA")
    columns = meta["tableSchema"]["columns"]
    assert [c["name"] for c in columns][:4] == ["code", "name_en", "name_cy", "postcodes"]
    assert "Residential and business are empty for every area: not known" in meta[
        "dc:description"]
    assert columns[5] == {"name": "residential", "titles": {
        "en": "Residential premises", "cy": "Safleoedd preswyl"}}
    assert columns[11] == {"name": "abc_incl_possibly", "titles": {
        "en": "Eligible for Access Broadband Cymru (incl. possibly)",
        "cy": "Yn gymwys ar gyfer Allwedd Band Eang Cymru (gan gynnwys o bosibl)"}}
    assert columns[1]["titles"] == {"en": "Ward (English name)", "cy": "Ward (Enw Saesneg)"}


def test_the_page_states_the_attribution(client):
    page = htmllib.unescape(client.get("/cy/areas").get_data(as_text=True))
    assert "MALlC 2019: Yn cynnwys data Llywodraeth Cymru" in page
    assert "“UK Boundary Data by Martin Chorley”, CC BY 4.0" in page


def test_before_any_classification_every_area_has_no_premises_loaded(settings):
    import psycopg

    from etl import LOADERS, run_load
    from gapmap.demo import bundled_inputs

    for kind, paths, options, extra in bundled_inputs(settings):
        if kind == "boundaries" and options["level"] == "la":
            run_load(settings, LOADERS[kind](), paths, options=options, **extra)
    with psycopg.connect(settings.conninfo, autocommit=True) as conn:
        table = area_table(conn, "la", sort="share_below", order="desc")
    assert table["run"] is None and table["with_premises"] == 0 and len(table["rows"]) == 22
    assert table["addresses"] is False
    assert table["rows"][13] == {"code": "W06000015", "name_en": "Cardiff", "name_cy": "Caerdydd",
                                "postcodes": 0, "premises": None, "residential": None,
                                "business": None, "below": None,
                                "possibly_below": None, "expected_below_30": None,
                                "share_below": None, "abc_incl_possibly": None,
                                "lbf_incl_possibly": None, "planned_build": None}
    assert table["total"]["premises"] is None and table["total"]["postcodes"] == 0
    with app_for(settings.replace(secret_key="x" * 40)) as app:
        page = app.test_client().get("/en/areas").get_data(as_text=True)
    assert "No classification has been run yet" in page
    assert rows_of(page)[13] == ("W06000015", "Cardiff (Caerdydd)", ["0", "No premises loaded"])
    assert caption_of(page).startswith("Local authorities (Wales): 22, of which 0 have premises")


def test_the_api_summaries_keep_their_shape(client, loaded_settings):
    """The table is new functions; area_summaries (the areas API) answers as before, with the
    residential and business counts added at the end (null here: the demo has no AddressBase)."""
    import psycopg

    with psycopg.connect(loaded_settings.conninfo) as conn:
        summaries = area_summaries(conn, "la")
    assert list(summaries[0]) == ["code", "name_en", "name_cy", "vintage", "area_km2",
                                  "postcodes", "premises", "expected_below_30", "share_below",
                                  "residential", "business", "level"]
    assert {(s["residential"], s["business"]) for s in summaries} == {(None, None)}


@pytest.mark.browser
@pytest.mark.parametrize("path", ["/en/areas?level=lsoa&la=W06000008",
                                  "/cy/areas?level=ward&sort=share_below&order=desc"])
def test_in_a_real_browser_the_table_is_axe_clean_and_sorts_and_filters_by_keyboard(
        live_server, path, browser):
    from tests.conftest import axe_serious, watch_csp

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        failed, external = [], []
        page.on("response", lambda r: failed.append(f"{r.status} {r.url}")
                if r.status >= 400 else None)
        page.route(lambda url: not url.startswith(live_server),
                   lambda route: (external.append(route.request.url), route.abort()))
        csp = watch_csp(page)
        page.goto(f"{live_server}{path}")
        assert axe_serious(page) == []
        lang = path[1:3]
        share = "Share below 30 Mbit/s" if lang == "en" else "Cyfran o dan 30 Mbit/s"
        header = page.locator("thead th", has_text=share)
        before = header.get_attribute("aria-sort")
        # sort by keyboard: focus the header's link and press Enter
        header.locator("a").focus()
        page.keyboard.press("Enter")
        page.wait_for_load_state()
        after = page.locator("thead th", has_text=share).get_attribute("aria-sort")
        assert (before, after) == ((None, "descending") if lang == "en"
                                   else ("descending", "ascending"))
        assert page.locator("th[aria-sort]").count() == 1
        # the authority filter is a plain GET form: choose, then press the button
        page.select_option("#la-filter", "W06000024")
        page.locator(".table-filter button").press("Enter")
        page.wait_for_load_state()
        assert "la=W06000024" in page.url and "sort=share_below" in page.url
        caption = " ".join(page.locator("caption").inner_text().split())
        assert caption.startswith(("LSOAs (Merthyr Tydfil): ", "Wardiau (Merthyr Tudful): "))
        assert axe_serious(page) == []
        assert failed == [] and external == [] and csp == []
    finally:
        context.close()


# --- Residential and business counts (AddressBase), a small database of its own ---

ADDRESSBASE = Path(__file__).parent / "data" / "addressbase"
#: the AddressBase Plus fixtures' UPRNs, placed in Aberystwyth (Ceredigion) and Bala (Gwynedd)
UPRNS = [(100100000000 + n, 258500 + 10 * n, 281600) for n in range(1, 8)] + [
    (100200000000 + n, 292300 + 10 * n, 335900) for n in range(1, 4)]
CEREDIGION, GWYNEDD = "W06000008", "W06000002"
NOT_KNOWN = "Not known (no AddressBase loaded)"


@pytest.fixture()
def addressed(settings, tmp_path):
    """Authorities and postcodes (bundled), the ten premises of the AddressBase Plus fixtures
    (OS Open UPRN), classified once with no AddressBase loaded ("before"), then AddressBase
    loaded (Plus without and with its header) and classified again ("with-addresses")."""
    import psycopg

    from connectivity.classify import classify
    from connectivity.rules import load_rules
    from etl import LOADERS, run_load
    from gapmap.demo import bundled_inputs

    for kind, paths, options, extra in bundled_inputs(settings):
        if kind == "postcodes" or (kind == "boundaries" and options["level"] == "la"):
            run_load(settings, LOADERS[kind](), paths, options=options, **extra)
    uprn = tmp_path / "osopenuprn_202601.csv"
    uprn.write_text("UPRN,X_COORDINATE,Y_COORDINATE,LATITUDE,LONGITUDE\n" + "".join(
        f"{u},{x}.00,{y}.00,52.4,-4.0\n" for u, x, y in UPRNS), encoding="utf-8")
    run_load(settings, LOADERS["uprn"](), [uprn])
    with psycopg.connect(settings.conninfo, autocommit=True) as conn:
        classify(conn, load_rules(settings.rules_file), label="before")
    run_load(settings, LOADERS["addressbase"](), [ADDRESSBASE / "AddressBasePlus_FULL_2026-01-01_001.csv",
                                                  ADDRESSBASE / "addressbase_plus_header.csv"])
    with psycopg.connect(settings.conninfo, autocommit=True) as conn:
        classify(conn, load_rules(settings.rules_file), label="with-addresses")
    return settings


def _page(settings, path: str) -> str:
    with app_for(settings.replace(secret_key="x" * 40)) as app:
        response = app.test_client().get(path)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_residential_and_business_counts_from_addressbase(addressed):
    import psycopg

    with psycopg.connect(addressed.conninfo, autocommit=True) as conn:
        table = area_table(conn, "la", sort="residential", order="desc")
    assert table["run"] == "with-addresses" and table["addresses"] is True
    rows = {r["code"]: r for r in table["rows"]}
    # Aberystwyth: 12 Oak Street (RD04), Flat 1 Ty Gwyn (RD06), Siop y Gornel (CR08), Fferm y
    # Waen (X, dual use: in both); Ty Gwyn itself (PP), the street (PS) and the substation are
    # not premises. Bala: Bryn Awel (RD02) and Adran Gyllid (CO01); the garage is not premises.
    assert {k: rows[CEREDIGION][k] for k in ("premises", "residential", "business")} == {
        "premises": 4, "residential": 3, "business": 2}
    assert {k: rows[GWYNEDD][k] for k in ("premises", "residential", "business")} == {
        "premises": 2, "residential": 1, "business": 1}
    assert [r["code"] for r in table["rows"][:2]] == [CEREDIGION, GWYNEDD]
    assert rows["W06000015"]["residential"] is None  # Cardiff: no premises loaded
    assert {k: table["total"][k] for k in ("premises", "residential", "business")} == {
        "premises": 6, "residential": 4, "business": 3}
    page = _page(addressed, "/en/areas?sort=business")
    found = {code: cells for code, _, cells in rows_of(page)}
    assert found[CEREDIGION][:4] == ["3,077", "4", "3", "2"]
    assert found[GWYNEDD][:4] == ["5,600", "2", "1", "1"]
    assert [code for code, _, _ in rows_of(page)][:2] == [CEREDIGION, GWYNEDD]
    assert NOT_KNOWN not in page
    total = re.search(r"<tfoot>(.*?)</tfoot>", page, re.S).group(1)
    assert [c.strip() for c in CELL.findall(total)][:4] == ["92,244", "6", "4", "3"]
    with app_for(addressed.replace(secret_key="x" * 40)) as app:
        client = app.test_client()
        data = client.get("/en/areas.csv").get_data().decode("utf-8-sig")
        api = {a["code"]: a for a in client.get("/api/v1/areas?level=la").get_json()["areas"]}
        one = client.get(f"/api/v1/areas/{GWYNEDD}").get_json()
        geo = {f["id"]: f["properties"] for f in
               client.get("/api/v1/areas.geojson?level=la").get_json()["features"]}
    records = {r["code"]: r for r in csv.DictReader(io.StringIO(data))}
    assert (records[CEREDIGION]["residential"], records[CEREDIGION]["business"]) == ("3", "2")
    assert (records["W06000015"]["residential"], records["W06000015"]["business"]) == ("", "")
    # the areas API says the same (Cardiff: no premises, so no statistics row: null)
    assert (api[CEREDIGION]["residential"], api[CEREDIGION]["business"]) == (3, 2)
    assert (one["residential"], one["business"]) == (1, 1)
    assert (geo[CEREDIGION]["residential"], geo[CEREDIGION]["business"]) == (3, 2)
    assert (api["W06000015"]["residential"], api["W06000015"]["business"]) == (None, None)


def test_a_run_with_no_addressbase_says_not_known_not_zero(addressed):
    """The run made before AddressBase was loaded has 0 in its statistics; the page says the
    counts are not known."""
    import psycopg

    from connectivity import runs

    with psycopg.connect(addressed.conninfo, autocommit=True) as conn:
        before = next(r for r in runs.list_runs(conn) if r["label"] == "before")
        assert conn.execute(
            f"SELECT residential, business FROM gapmap.area_stats_{before['id']} "
            "WHERE level = 'la' AND code = %s", (CEREDIGION,)).fetchone() == (0, 0)
        with conn.transaction():
            runs.make_current(conn, before["id"], 10)
        table = area_table(conn, "la")
    assert table["addresses"] is False and table["run"] == "before"
    rows = {r["code"]: r for r in table["rows"]}
    assert (rows[CEREDIGION]["premises"], rows[CEREDIGION]["residential"],
            rows[CEREDIGION]["business"]) == (7, None, None)
    assert table["total"]["residential"] is None
    cells = {code: cells for code, _, cells in rows_of(_page(addressed, "/en/areas"))}
    assert cells[CEREDIGION][:3] == ["3,077", "7", NOT_KNOWN]


def test_a_run_made_before_the_counts_existed_still_shows(addressed):
    """A current run whose statistics have no residential or business column (made before
    the classification counted them): the page works and says they are not known."""
    import psycopg

    from connectivity import runs

    with psycopg.connect(addressed.conninfo, autocommit=True) as conn:
        current = runs.current(conn, with_rules=True)
        columns = [c for (c,) in conn.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 "
            "AND NOT attisdropped ORDER BY attnum", (f"gapmap.area_stats_{current.id}",))
            if c not in ("residential", "business")]
        with conn.transaction():
            import datetime as dt

            old = runs.start(conn, "old", {}, current.rules, False, dt.datetime.now(dt.UTC))
            conn.execute(f"CREATE TABLE gapmap.premises_class_{old} AS "
                         f"SELECT * FROM gapmap.premises_class_{current.id}")
            conn.execute(f"CREATE TABLE gapmap.area_stats_{old} AS SELECT {', '.join(columns)} "
                         f"FROM gapmap.area_stats_{current.id}")
            runs.make_current(conn, old, 6)
        table = area_table(conn, "la", sort="residential")
        assert "residential" not in {c for (c,) in conn.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = 'gapmap.area_stats'::regclass")}
    assert table["run"] == "old" and table["addresses"] is False
    rows = {r["code"]: r for r in table["rows"]}
    assert (rows[CEREDIGION]["premises"], rows[CEREDIGION]["residential"]) == (4, None)
    page = _page(addressed, "/cy/areas?sort=business&order=desc")
    cells = {code: cells for code, _, cells in rows_of(page)}
    assert cells[CEREDIGION][:3] == ["3,077", "4", "Anhysbys (dim AddressBase wedi'i lwytho)"]
    with app_for(addressed.replace(secret_key="x" * 40)) as app:
        data = app.test_client().get("/en/areas.csv").get_data().decode("utf-8-sig")
    record = next(r for r in csv.DictReader(io.StringIO(data)) if r["code"] == CEREDIGION)
    assert (record["premises"], record["residential"], record["business"]) == ("4", "", "")
    with app_for(addressed.replace(secret_key="x" * 40)) as app:
        area = app.test_client().get(f"/api/v1/areas/{CEREDIGION}").get_json()
    assert (area["premises"], area["residential"], area["business"]) == (4, None, None)


# --- The stored summary (gapmap.area_summary) against the spatial joins it replaces ---

def test_the_stored_summary_equals_the_st_covers_counts_it_replaces(loaded_settings):
    """Every level of the demo data: the postcodes and authorities stored when the boundaries
    and postcodes were loaded are those ST_Covers finds over the whole polygons."""
    import psycopg

    with psycopg.connect(loaded_settings.conninfo) as conn:
        live = conn.execute(
            """SELECT a.level, a.code,
                      (SELECT count(*) FROM gapmap.postcode p WHERE ST_Covers(a.geom, p.geom)),
                      CASE WHEN a.level IN ('ward', 'lsoa', 'msoa') THEN
                          (SELECT l.code FROM gapmap.area l WHERE l.level = 'la'
                           AND ST_Covers(l.geom, ST_PointOnSurface(a.geom))
                           ORDER BY l.code LIMIT 1) END
               FROM gapmap.area a ORDER BY 1, 2""").fetchall()
        stored = conn.execute("SELECT level, code, postcodes, la_code FROM gapmap.area_summary "
                              "ORDER BY 1, 2").fetchall()
    assert len(stored) == 22 + 852 + 1909 + 410 + 32
    assert stored == live
    summary = {(level, code): (n, la) for level, code, n, la in stored}
    # hand-checked figures the page showed before (the tests above): Ceredigion, a ward in it
    assert summary[("la", "W06000008")] == (3077, None)
    assert summary[("ward", "W05000383")] == (68, "W06000008")
    assert summary[("la", "W06000015")] == (7678, None)


def test_the_summary_follows_the_loads_and_a_failed_load_leaves_it(settings, tmp_path):
    """Boundaries then postcodes, each refreshing the summary in its own transaction; a load
    that fails rolls the summary back with it."""
    import psycopg

    from etl import LOADERS, run_load
    from gapmap.demo import bundled_inputs

    inputs = {(kind, options.get("level")): (paths, options)
              for kind, paths, options, _ in bundled_inputs(settings)}

    def summary() -> dict:
        with psycopg.connect(settings.conninfo) as conn:
            return {(level, code): (n, la) for level, code, n, la in conn.execute(
                "SELECT level, code, postcodes, la_code FROM gapmap.area_summary")}

    paths, options = inputs[("boundaries", "ward")]
    run_load(settings, LOADERS["boundaries"](), paths, options=options)
    # wards before any authority or postcode: none counted, no authority yet
    assert summary()[("ward", "W05000383")] == (0, None) and len(summary()) == 852
    paths, options = inputs[("boundaries", "la")]
    run_load(settings, LOADERS["boundaries"](), paths, options=options)
    assert summary()[("ward", "W05000383")] == (0, "W06000008")
    paths, options = inputs[("postcodes", None)]
    run_load(settings, LOADERS["postcodes"](), paths, options=options)
    good = summary()
    assert good[("ward", "W05000383")] == (68, "W06000008")
    assert good[("la", "W06000008")] == (3077, None)
    # one more postcode, in Llangybi ward: a load that gets as far as its last statement and
    # fails there (the database refuses to mark it finished) after refreshing the summary
    more = tmp_path / "one_more_postcode.csv"
    more.write_text("postcode,eastings,northings\nSA48 0ZZ,261000,253000\n", encoding="utf-8")
    with psycopg.connect(settings.conninfo, autocommit=True) as conn:
        inside = conn.execute(
            "SELECT level, code FROM gapmap.area WHERE ST_Covers(geom, "
            "ST_SetSRID(ST_MakePoint(261000, 253000), 27700)) ORDER BY 1, 2").fetchall()
        assert inside == [("la", "W06000008"), ("ward", "W05000383")]
        conn.execute("ALTER TABLE gapmap.load_run ADD CONSTRAINT refuse_postcodes CHECK ("
                     "kind <> 'postcodes' OR status <> 'succeeded' OR finished_at IS NULL) "
                     "NOT VALID")
    with pytest.raises(psycopg.errors.CheckViolation):
        run_load(settings, LOADERS["postcodes"](), [more])
    assert summary() == good
    with psycopg.connect(settings.conninfo, autocommit=True) as conn:
        conn.execute("ALTER TABLE gapmap.load_run DROP CONSTRAINT refuse_postcodes")
    run_load(settings, LOADERS["postcodes"](), [more])
    after = summary()
    assert after[("ward", "W05000383")] == (69, "W06000008")
    assert after[("la", "W06000008")] == (3078, None)
    assert {k: v for k, v in after.items() if k not in (("ward", "W05000383"),
                                                         ("la", "W06000008"))} == {
        k: v for k, v in good.items() if k not in (("ward", "W05000383"), ("la", "W06000008"))}
