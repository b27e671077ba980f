"""Ofcom fixed performance kept band by band (migration 0015, issue 17 item 4): a hand-made
performance file in the real header loaded over the demo's first release, then the postcode API,
the premises API and the postcode page against hand-made truth: every band, an empty band, a
postcode under ``performance_min_lines`` and a row loaded before the bands were kept."""

from __future__ import annotations

import csv
import re

import psycopg
import pytest

from tests.conftest import TEST_SECRET, app_for, copy_of

#: per postcode: median, average, minimum and maximum download; the same four for upload; data
#: usage; lines < 2, 2<5, 5<10, 10<30, 30<300, >= 300 and >= 30 ("" is an empty cell)
ROWS = {
    "full": [45.5, 60.3, 3, 900, 9.5, 15.7, 0.5, 110, 400, 1, 1, 2, 3, 9, 8, 17],
    "gap": [20, 31.4, 2, 80, 2, 5.4, 0.3, 20, 250, 0, 2, "", 5, 13, "", 13],
    "few": [8, 9.1, 1, 12, 0.8, 0.9, 0.1, 1, 90, 1, 0, 0, 1, 1, 0, 1],
    "old": [25, 27.5, 4, 60, 3, 3.5, 0.4, 10, 120, 2, 2, 0, 0, 4, 0, 4],
}
EN = ["Under 2 Mbit/s", "2 to 5 Mbit/s", "5 to 10 Mbit/s", "10 to 30 Mbit/s", "30 to 300 Mbit/s",
      "300 Mbit/s or more"]
CY = ["O dan 2 Mbit/s", "2 i 5 Mbit/s", "5 i 10 Mbit/s", "10 i 30 Mbit/s", "30 i 300 Mbit/s",
      "300 Mbit/s neu fwy"]
CODES = ["0<2", "2<5", "5<10", "10<30", "30<300", ">=300"]


def bands(lines: list, names: list[str] = EN) -> list[dict]:
    return [{"band": c, "name": n, "lines": v} for c, n, v in zip(CODES, names, lines, strict=True)]


#: what the API answers, worked out by hand from ROWS (release 2026-01, 4 lines needed)
WITHHELD = {"median_down": None, "avg_down": None, "median_up": None, "avg_up": None,
            "lines_below_30_pct": None, "lines_30_or_more_pct": None,
            "lines_300_or_more_pct": None, "bands": None}
EXPECTED = {
    # 24 lines, 7 below 30 (29.2%), 17 at 30 or more (70.8%), 8 at 300 or more (33.3%)
    "full": {"release": "2026-01", "lines": 24, "min_lines": 4, "shown": True,
             "median_down": 45.5, "avg_down": 60.3, "median_up": 9.5, "avg_up": 15.7,
             "lines_below_30_pct": 29.2, "lines_30_or_more_pct": 70.8,
             "lines_300_or_more_pct": 33.3, "bands": bands([1, 1, 2, 3, 9, 8])},
    # the empty bands count 0 lines in the sums (20 lines, 7 below 30) and stay null; the share
    # at 300 or more is unknown, not 0
    "gap": {"release": "2026-01", "lines": 20, "min_lines": 4, "shown": True,
            "median_down": 20.0, "avg_down": 31.4, "median_up": 2.0, "avg_up": 5.4,
            "lines_below_30_pct": 35.0, "lines_30_or_more_pct": 65.0,
            "lines_300_or_more_pct": None, "bands": bands([0, 2, None, 5, 13, None])},
    # 3 lines, fewer than 4: every figure withheld, the bands too
    "few": {"release": "2026-01", "lines": 3, "min_lines": 4, "shown": False, **WITHHELD},
    # loaded before 0015 (the bands NULL): today's figures, no bands
    "old": {"release": "2026-01", "lines": 8, "min_lines": 4, "shown": True,
            "median_down": 25.0, "avg_down": 27.5, "median_up": 3.0, "avg_up": 3.5,
            "lines_below_30_pct": 50.0, "lines_30_or_more_pct": 50.0,
            "lines_300_or_more_pct": None, "bands": None},
}


@pytest.fixture(scope="module")
def banded(server, base_db, tmp_path_factory):
    """A copy of the demo's first release with ROWS loaded as more of its performance release
    (2026-01, which the classification reads), "old"'s bands then emptied as a row loaded before
    migration 0015 has them."""
    from connectivity.settings import load_settings
    from etl import run_load
    from etl.formats import OFCOM_PC_PERFORMANCE_HEADER
    from etl.ofcom import OfcomPerformanceLoader

    name, url = copy_of(server, base_db)
    settings = load_settings({"database_url": url}, environ={})
    with psycopg.connect(url, autocommit=True) as db:
        chosen = [r[0] for r in db.execute(
            "SELECT postcode FROM gapmap.premises_class WHERE postcode IS NOT NULL "
            "GROUP BY postcode ORDER BY postcode LIMIT 4").fetchall()]
        postcodes = dict(zip(ROWS, chosen, strict=True))
        uprn = db.execute("SELECT min(uprn) FROM gapmap.premises_class WHERE postcode = %s",
                          (postcodes["full"],)).fetchone()[0]
    path = tmp_path_factory.mktemp("perf") / "202601_fixed_pc_performance_r01_HM.csv"
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(OFCOM_PC_PERFORMANCE_HEADER)
        for key, values in ROWS.items():
            out.writerow([postcodes[key], postcodes[key].split(" ")[0].rstrip("0123456789"),
                          *values])
    result = run_load(settings, OfcomPerformanceLoader(), [path])
    assert (result.rows_loaded, result.rows_rejected) == (4, 0)
    with psycopg.connect(url, autocommit=True) as db:
        db.execute("UPDATE gapmap.ev_postcode_performance SET lines_0_2 = NULL, lines_2_5 = NULL, "
                   "lines_5_10 = NULL, lines_10_30 = NULL, lines_30_300 = NULL, lines_300 = NULL "
                   "WHERE postcode = %s", (postcodes["old"],))
    base = settings.replace(secret_key=TEST_SECRET)
    with app_for(base) as four, app_for(base.replace(performance_min_lines=3)) as three:
        yield {"postcodes": postcodes, "uprn": uprn, "four": four.test_client(),
               "three": three.test_client()}
    server.drop(name)


def test_the_loader_keeps_every_band(banded, server):
    postcodes = banded["postcodes"]
    client = banded["four"]
    got = {key: client.get(f"/api/v1/postcodes/{pc}").get_json()["measured"]
           for key, pc in postcodes.items()}
    assert got == EXPECTED


def test_the_premises_answer_carries_its_postcodes_bands_named_in_welsh(banded):
    one = banded["four"].get(f"/api/v1/premises/{banded['uprn']}?lang=cy").get_json()
    assert one["postcode"] == banded["postcodes"]["full"]
    assert one["measured"] == {**EXPECTED["full"], "bands": bands([1, 1, 2, 3, 9, 8], CY)}


def test_the_minimum_lines_setting_withholds_the_bands_as_the_other_figures(banded):
    few = banded["three"].get(f"/api/v1/postcodes/{banded['postcodes']['few']}").get_json()
    # 3 lines, 2 below 30 (66.7%), 1 at 30 or more (33.3%), none at 300 or more
    assert few["measured"] == {
        "release": "2026-01", "lines": 3, "min_lines": 3, "shown": True,
        "median_down": 8.0, "avg_down": 9.1, "median_up": 0.8, "avg_up": 0.9,
        "lines_below_30_pct": 66.7, "lines_30_or_more_pct": 33.3, "lines_300_or_more_pct": 0.0,
        "bands": bands([1, 0, 0, 1, 1, 0])}


def measured_part(client, postcode: str, lang: str = "en") -> str:
    """The measured-speed part of the postcode page, its whitespace collapsed."""
    html = client.get(f"/{lang}/postcode/{postcode.replace(' ', '')}").get_data(as_text=True)
    start = html.index('<h2 id="measured-title">')
    end = html.index("<h2>", start)
    return re.sub(r">\s+<", "><", re.sub(r"\s+", " ", html[start:end])).strip()


def rows_of(part: str) -> list[tuple[str, str]]:
    return re.findall(r'<tr><th scope="row">(.*?)</th><td>(.*?)</td></tr>', part)


CAVEAT = ('<p class="hint">Since July 2024 Ofcom publishes its average measured speeds as robust '
          "only down to local authority level: a postcode's figures are indicative.</p>")


def test_the_page_shows_each_band_in_a_table(banded):
    part = measured_part(banded["four"], banded["postcodes"]["full"])
    assert ("<dt>Lines measured</dt><dd>24</dd><dt>Lines below 30 Mbit/s</dt><dd>29.2%</dd>"
            "<dt>Lines at 30 Mbit/s or more</dt><dd>70.8%</dd>"
            "<dt>Lines at 300 Mbit/s or more</dt><dd>33.3%</dd></dl>") in part
    assert ('<table class="measured-bands"><caption>Lines measured in each download speed band '
            '(Ofcom fixed performance)</caption><thead><tr><th scope="col">Download speed</th>'
            '<th scope="col">Lines measured</th></tr></thead><tbody>') in part
    assert rows_of(part) == [("Under 2 Mbit/s", "1"), ("2 to 5 Mbit/s", "1"),
                             ("5 to 10 Mbit/s", "2"), ("10 to 30 Mbit/s", "3"),
                             ("30 to 300 Mbit/s", "9"), ("300 Mbit/s or more", "8")]
    assert part.endswith(CAVEAT)
    cy = measured_part(banded["four"], banded["postcodes"]["full"], "cy")
    assert rows_of(cy) == [("O dan 2 Mbit/s", "1"), ("2 i 5 Mbit/s", "1"), ("5 i 10 Mbit/s", "2"),
                           ("10 i 30 Mbit/s", "3"), ("30 i 300 Mbit/s", "9"),
                           ("300 Mbit/s neu fwy", "8")]
    assert "<dt>Llinellau wedi'u mesur</dt><dd>24</dd>" in cy


def test_an_empty_band_is_not_given_and_its_share_not_shown(banded):
    part = measured_part(banded["four"], banded["postcodes"]["gap"])
    assert rows_of(part) == [("Under 2 Mbit/s", "0"), ("2 to 5 Mbit/s", "2"),
                             ("5 to 10 Mbit/s", "not given"), ("10 to 30 Mbit/s", "5"),
                             ("30 to 300 Mbit/s", "13"), ("300 Mbit/s or more", "not given")]
    assert ("<dt>Lines measured</dt><dd>20</dd><dt>Lines below 30 Mbit/s</dt><dd>35%</dd>"
            "<dt>Lines at 30 Mbit/s or more</dt><dd>65%</dd></dl>") in part
    assert "300 Mbit/s or more</dt>" not in part and "None" not in part


def test_too_few_lines_and_rows_from_before_the_bands_show_what_they_showed(banded):
    few = measured_part(banded["four"], banded["postcodes"]["few"])
    assert few == (
        '<h2 id="measured-title">Measured speeds</h2><p>Measured on the lines people here use, so '
        "what they buy, not what they could get (Ofcom fixed performance, release 2026-01).</p>"
        "<p>Too few lines are measured here (3, fewer than 4) for their speeds to be shown.</p>"
        + CAVEAT)
    old = measured_part(banded["four"], banded["postcodes"]["old"])
    assert old == (
        '<h2 id="measured-title">Measured speeds</h2><p>Measured on the lines people here use, so '
        "what they buy, not what they could get (Ofcom fixed performance, release 2026-01).</p>"
        '<dl class="facts measured"><dt>Median download</dt><dd>25 Mbit/s</dd>'
        "<dt>Average download</dt><dd>27.5 Mbit/s</dd><dt>Median upload</dt><dd>3 Mbit/s</dd>"
        "<dt>Average upload</dt><dd>3.5 Mbit/s</dd><dt>Lines measured</dt><dd>8</dd>"
        "<dt>Lines below 30 Mbit/s</dt><dd>50%</dd><dt>Lines at 30 Mbit/s or more</dt>"
        "<dd>50%</dd></dl>" + CAVEAT)


def test_the_answers_keep_the_openapi_contract(banded):
    from jsonschema import Draft202012Validator

    from webmap.openapi import DOCUMENT

    paths = DOCUMENT["paths"]
    postcode = paths["/api/v1/postcodes/{postcode}"]["get"]["responses"]["200"]
    premises = paths["/api/v1/premises/{uprn}"]["get"]["responses"]["200"]

    def check(response: dict, answer: dict) -> None:
        schema = response["content"]["application/json"]["schema"]
        Draft202012Validator({**schema, "components": DOCUMENT["components"]}).validate(answer)

    for client in (banded["four"], banded["three"]):
        for pc in banded["postcodes"].values():
            check(postcode, client.get(f"/api/v1/postcodes/{pc}?lang=cy").get_json())
        check(premises, client.get(f"/api/v1/premises/{banded['uprn']}").get_json())
