"""Output-area coverage in the classification, against hand-made truth.

Four output areas made from 24 real postcodes of Borth, Ceredigion (Voronoi cells of their
Code-Point centroids clipped to the authority: tests/data/oa/build_fixture.py), Ofcom's
output-area file in its published header (tests/data/oa/202601_fixed_oa_coverage_r01.csv, with
bad rows), premises placed at the postcodes, premises-level and postcode evidence inserted by
hand, and AddressBase kinds inserted into gapmap.address directly (the loader is not under test
here). Every premises' status, probability, evidence and reasons are stated exactly.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from connectivity.classify import classify
from connectivity.reasons import render
from connectivity.rules import load_rules
from etl import LOADERS, run_load
from etl.runs import list_rejects

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "oa"
OA_FILE = DATA / "202601_fixed_oa_coverage_r01.csv"
LA = ROOT / "data" / "boundaries" / "wales_lad_2025_05_bgc.geojson.gz"
with (DATA / "postcodes.csv").open(encoding="utf-8") as _fh:
    POSTCODES = {r["postcode"]: r for r in csv.DictReader(_fh)}

#: uprn -> postcode (each premises 2 m from its postcode's centroid, east or west)
PREMISES = {
    # W00090001: Ofcom counts none of 9 unable to get 30 Mbit/s
    1001: "SY24 5AT", 1002: "SY24 5BW", 1003: "SY24 5BJ", 1004: "SY24 5BH", 1005: "SY24 5AS",
    1006: "SY24 5AR", 1007: "SY24 5AT",  # 1007: AddressBase says it is not a premises
    # W00090002: 12 of 12 unable
    2001: "SY24 5AU", 2002: "SY24 5AL", 2003: "SY24 5AX", 2004: "SY24 5BN", 2005: "SY24 5AZ",
    2006: "SY24 5AY",
    # W00090003: 4 of 10 unable, no postcode figures but for 3001's
    3001: "SY24 5BA", 3002: "SY24 5BL", 3003: "SY24 5BB", 3004: "SY24 5BD", 3005: "SY24 5BE",
    3006: "SY24 5BF",
    # W00090004: 4 of 8 unable; two postcodes with figures of their own, one without
    4001: "SY24 5BP", 4002: "SY24 5BP", 4003: "SY24 5BG", 4004: "SY24 5BG", 4005: "SY24 5BQ",
    4006: "SY24 5BQ",
}
#: Ofcom premises predictions: uprn -> (down, up)
PREDICTIONS = {1001: (50, 10), 2001: (80, 20), 3001: (5, 0.5)}
#: Ofcom postcode figures: postcode -> (% unable 30, % unable decent, % decent by FWA)
POSTCODE_FIGURES = {"SY24 5BA": (100, 0, 60), "SY24 5BP": (100, 50, 40), "SY24 5BG": (0, 0, 0)}
#: AddressBase: uprn -> (kind, class code)
ADDRESSES = {1007: ("not_premises", "PP"), 1001: ("residential", "RD04"),
             1002: ("business", "CR08"), 1003: ("dual_use", "X"), 2001: ("residential", "RD02"),
             2002: ("residential", "RD03")}

#: uprn -> (status, probability_below, evidence, abc_reason, uso, probability_uso, uso_reason)
TRUTH = {
    1001: ("above", 0.0, "ofcom-api", "not_below_30", False, None, "decent_available"),
    **{u: ("above", 0.0, "oa", "not_below_30_oa", False, 0.0, "decent_available")
       for u in range(1002, 1007)},
    2001: ("above", 0.0, "ofcom-api", "not_below_30", False, None, "decent_available"),
    # 12 of 12 unable: the five open premises are below; 2001's own prediction stands.
    # USO: 3 of 12 unable, a quarter of our 6 is 1.5, shared by the 5 open premises
    **{u: ("below", 1.0, "oa", "below_30_oa", None, 0.3, "possibly_below_uso_oa")
       for u in range(2002, 2007)},
    3001: ("below", 1.0, "ofcom-api", "below_30", True, None, "below_uso_fwa"),
    # 0.4 of our 6 is 2.4, less 3001 known below, shared by 5: 0.28; USO (0.2 x 6 - 1) / 5
    **{u: ("possibly_below", 0.28, "oa", "possibly_below_30_oa", None, 0.04,
           "possibly_below_uso_oa") for u in range(3002, 3007)},
    # the output area does not settle (0.5): postcode figures refine it where there are any
    4001: ("below", 1.0, "postcode", "below_30_area", None, 0.5, "possibly_below_uso_fwa"),
    4002: ("below", 1.0, "postcode", "below_30_area", None, 0.5, "possibly_below_uso_fwa"),
    4003: ("above", 0.0, "postcode", "not_below_30_area", False, 0.0, "decent_available"),
    4004: ("above", 0.0, "postcode", "not_below_30_area", False, 0.0, "decent_available"),
    # and the rest share what the count leaves: 0.5 x 6 - 2 over 2; USO (1.5 - 1) / 2
    4005: ("possibly_below", 0.5, "oa", "possibly_below_30_oa", None, 0.25,
           "possibly_below_uso_oa"),
    4006: ("possibly_below", 0.5, "oa", "possibly_below_30_oa", None, 0.25,
           "possibly_below_uso_oa"),
}


@pytest.fixture()
def borth(settings, db):
    run_load(settings, LOADERS["boundaries"](), [LA], options={"level": "la"})
    oa = run_load(settings, LOADERS["boundaries"](), [DATA / "output_areas.geojson"],
                  options={"level": "oa"})
    assert (oa.status, oa.rows_loaded) == ("succeeded", 4)
    counts = run_load(settings, LOADERS["ofcom-coverage"](), [OA_FILE])
    run = db.execute("INSERT INTO gapmap.load_run (kind, status, fingerprint, started_at) "
                     "VALUES ('premises', 'succeeded', 'hand-made', now()) RETURNING id").fetchone()[0]
    coverage = db.execute("SELECT id FROM gapmap.release WHERE source = 'ofcom-coverage'"
                          ).fetchone()[0]
    api = db.execute("INSERT INTO gapmap.release (source, label, run_id) VALUES "
                     "('ofcom-api', '2026-01', %s) RETURNING id", (run,)).fetchone()[0]
    seen: dict[str, int] = {}
    for uprn, postcode in PREMISES.items():
        pc = POSTCODES[postcode]
        step = seen[postcode] = seen.get(postcode, -1) + 1
        db.execute("INSERT INTO gapmap.premises (uprn, geom, postcode, run_id) VALUES "
                   "(%s, ST_SetSRID(ST_MakePoint(%s, %s), 27700), %s, %s)",
                   (uprn, float(pc["easting"]) + (2 if step else -2), float(pc["northing"]),
                    postcode, run))
    for uprn, (down, up) in PREDICTIONS.items():
        db.execute("INSERT INTO gapmap.ev_premises_speed (release_id, uprn, max_down, max_up) "
                   "VALUES (%s, %s, %s, %s)", (api, uprn, down, up))
    for postcode, (u30, decent, fwa) in POSTCODE_FIGURES.items():
        db.execute("INSERT INTO gapmap.ev_postcode_coverage (release_id, postcode, unable_30_pct, "
                   "unable_decent_pct, fwa_decent_pct) VALUES (%s, %s, %s, %s, %s)",
                   (coverage, postcode, u30, decent, fwa))
    for uprn, (kind, code) in ADDRESSES.items():
        db.execute("INSERT INTO gapmap.address (uprn, class_code, kind, not_premises_reason, "
                   "run_id) VALUES (%s, %s, %s, %s, %s)",
                   (uprn, code, kind, "a parent shell" if kind == "not_premises" else None, run))
    return settings, counts


def test_the_output_area_file_loads_with_its_rejects(borth, db):
    _, result = borth
    assert (result.status, result.release) == ("succeeded", "2026-01")
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (9, 5, 4)
    name = OA_FILE.name
    assert [(r["file"], r["line"], r["column"], r["value"], r["reason"])
            for r in list_rejects(db, result.run_id)] == [
        (name, 7, "code", "X1", "missing or malformed area code"),
        (name, 8, "% of premises unable to receive 30Mbit/s", "140",
         "percentage outside 0-100"),
        (name, 9, "Number of premises unable to receive 30Mbit/s", "-3",
         "negative premises count"),
        (name, 10, "code", "W00090001", f"duplicate area code: first seen in {name} line 2"),
    ]
    assert db.execute("SELECT code, all_premises, matched_premises, unable_30_count, "
                      "unable_decent_count, unable_30_pct FROM gapmap.ev_area_coverage "
                      "ORDER BY code").fetchall() == [
        ("W00090001", 9, 9, 0, 0, 0.0), ("W00090002", 12, 12, 12, 3, 100.0),
        ("W00090003", 10, 10, 4, 2, 40.0), ("W00090004", 8, 8, 4, 2, 50.0),
        ("W00090005", 20, 20, 5, 1, 25.0)]


def _classes(db) -> dict[int, dict]:
    cur = db.execute("SELECT * FROM gapmap.premises_class ORDER BY uprn")
    names = [d.name for d in cur.description]
    return {r[0]: dict(zip(names, r, strict=True)) for r in cur.fetchall()}


def _round(value):
    return None if value is None else round(value, 4)


def test_output_area_counts_decide_between_premises_and_postcode_evidence(borth, db):
    rules = load_rules()
    summary = classify(db, rules)
    assert summary["premises"] == 24  # 1007 is not a premises
    got = _classes(db)
    assert 1007 not in got
    assert {u: (r["status"], _round(r["probability_below"]), r["evidence"], r["abc_reason"],
                r["uso"], _round(r["probability_uso"]), r["uso_reason"])
            for u, r in got.items()} == TRUTH
    assert {u: r["oa_code"] for u, r in got.items()} == {
        u: POSTCODES[pc]["oa21cd"] for u, pc in PREMISES.items() if u != 1007}
    assert [got[2002][k] for k in ("oa_premises", "oa_unable_30", "oa_unable_decent",
                                   "evidence_release", "fwa_decent_pct", "address_kind")] == [
        12, 12, 3, "2026-01", None, "residential"]
    assert (got[3001]["fwa_decent_pct"], got[1003]["address_kind"], got[1004]["address_kind"]) \
        == (60.0, "dual_use", None)
    assert {u: r["eligible_uso"] for u, r in got.items() if r["eligible_uso"] != "not_eligible"} \
        == {**{u: "possibly" for u in (*range(2002, 2007), *range(3002, 3007), 4001, 4002, 4005,
                                       4006)}, 3001: "eligible"}

    en = {code: render(s, code, "en", got[u], rules) for s, code, u in (
        ("abc", "below_30_oa", 2002), ("abc", "possibly_below_30_oa", 3002),
        ("abc", "not_below_30_oa", 1002), ("uso", "below_uso_fwa", 3001),
        ("uso", "possibly_below_uso_oa", 4005), ("uso", "possibly_below_uso_fwa", 4001))}
    assert en == {
        "below_30_oa": "Eligible for Access Broadband Cymru: below 30 Mbit/s by output-area "
        "counts: 12 of 12 premises in output area W00090002 cannot get 30 Mbit/s (Ofcom "
        "output-area coverage, 2026-01). Assumes no ABC funding in the last 48 months. A grant "
        "of up to £800 may apply.",
        "possibly_below_30_oa": "Possibly eligible for Access Broadband Cymru: a 28% chance that "
        "it cannot receive 30 Mbit/s by output-area counts: 4 of 10 premises in output area "
        "W00090003 cannot get 30 Mbit/s (Ofcom output-area coverage, 2026-01). Check this "
        "premises.",
        "not_below_30_oa": "Not eligible for Access Broadband Cymru: by output-area counts this "
        "premises can receive 30 Mbit/s: 0 of 9 premises in output area W00090001 cannot get "
        "it, each known from premises-level evidence (Ofcom output-area coverage, 2026-01).",
        "below_uso_fwa": "May request a Universal Service Obligation connection: below decent "
        "broadband by fixed line, below 10 Mbit/s down or 1 Mbit/s up (5 down, 0.5 up; Ofcom "
        "premises prediction). Ofcom says 60% of premises in the postcode can get decent "
        "broadband by fixed wireless, which can meet a USO request. The provider pays up to "
        "£3,400 of the cost of connecting it.",
        "possibly_below_uso_oa": "Possibly below decent broadband (10 Mbit/s down, 1 Mbit/s up), "
        "by output-area counts: 2 of 8 premises in output area W00090004 cannot get it (Ofcom "
        "output-area coverage). Check this premises.",
        "possibly_below_uso_fwa": "Possibly below decent broadband (10 Mbit/s down, 1 Mbit/s up), "
        "from the postcode's coverage figures (Ofcom postcode coverage). Ofcom says 40% of "
        "premises in the postcode can get decent broadband by fixed wireless, which can meet a "
        "USO request. Check this premises.",
    }
    assert render("abc", "below_30_oa", "cy", got[2002], rules) == (
        "Yn gymwys ar gyfer Allwedd Band Eang Cymru: o dan 30 Mbit/s yn ôl cyfrifon yr ardal "
        "gynnyrch: ni all 12 o 12 safle yn ardal gynnyrch W00090002 gael 30 Mbit/s (darpariaeth "
        "ardal allbwn Ofcom, 2026-01). Yn cymryd nad oes cyllid Allwedd Band Eang yn ystod y 48 "
        "mis diwethaf. Gallai grant o hyd at £800 fod ar gael.")

    # the statistics: each output area's expected count is Ofcom's share of our premises
    stats = db.execute(
        "SELECT code, premises, below, possibly_below, above, expected_below_30, residential, "
        "business, evidence_oa, uso_eligible, uso_possibly, uso_eligible_fwa FROM "
        "gapmap.area_stats WHERE level IN ('oa', 'la') ORDER BY level, code").fetchall()
    assert stats == [
        ("W06000008", 24, 8, 7, 9, 10.4, 4, 2, 17, 1, 14, 1),
        ("W00090001", 6, 0, 0, 6, 0.0, 2, 2, 5, 0, 0, 0),
        ("W00090002", 6, 5, 0, 1, 5.0, 2, 0, 5, 0, 5, 0),
        ("W00090003", 6, 1, 5, 0, 2.4, 0, 0, 5, 1, 5, 1),
        ("W00090004", 6, 2, 2, 2, 3.0, 0, 0, 2, 0, 4, 0),
    ]


def test_export_carries_the_output_area_columns(borth, db, tmp_path):
    from connectivity.outputs import EXPORT_COLUMNS, export

    classify(db, load_rules())
    out = tmp_path / "borth.csv"
    assert export(db, out, "csv", statuses=["possibly_below"]) == 7
    with out.open(encoding="utf-8-sig", newline="") as fh:
        rows = {int(r["uprn"]): r for r in csv.DictReader(fh)}
    assert list(rows[3002]) == EXPORT_COLUMNS
    assert [rows[3002][k] for k in ("evidence", "probability_below", "oa_code", "oa_premises",
                                    "oa_unable_30", "fwa_decent_pct", "address_kind")] == [
        "oa", "0.28", "W00090003", "10", "4", "", ""]
    assert rows[3002]["abc_reason"].startswith(
        "Possibly eligible for Access Broadband Cymru: a 28% chance that it cannot receive "
        "30 Mbit/s by output-area counts: 4 of 10 premises in output area W00090003")


def test_without_oa_in_the_order_the_counts_are_not_read(borth, db):
    rules = load_rules().replace("evidence.order",
                                 ["correction", "ofcom-api", "bduk", "postcode", "speed-raster"])
    classify(db, rules)
    got = _classes(db)
    assert {u: (r["status"], r["evidence"]) for u, r in got.items()
            if u in (1002, 2002, 3002, 4001, 4003, 4005)} == {
        1002: ("unknown", "none"), 2002: ("unknown", "none"), 3002: ("unknown", "none"),
        4001: ("below", "postcode"), 4003: ("above", "postcode"), 4005: ("unknown", "none")}
    assert got[2002]["oa_code"] is None


def test_the_premises_answer_quotes_the_output_area_counts(borth, db):
    """The API's (and the postcode page's) reasons read the columns the exports read."""
    from connectivity.lookup import premises_detail

    classify(db, load_rules())
    got = premises_detail(db, 2002)
    assert got["schemes"]["abc"]["reason"] == (
        "Eligible for Access Broadband Cymru: below 30 Mbit/s by output-area counts: 12 of 12 "
        "premises in output area W00090002 cannot get 30 Mbit/s (Ofcom output-area coverage, "
        "2026-01). Assumes no ABC funding in the last 48 months. A grant of up to £800 may apply.")
    assert not {k for k in got if k.startswith("oa_") or k == "fwa_decent_pct"}
    fwa = premises_detail(db, 3001, "en")["schemes"]["uso"]["reason"]
    assert "Ofcom says 60% of premises in the postcode can get decent broadband by fixed " \
        "wireless" in fwa
