"""The geopandas peer of the classification (bench/classify_peer.py) gives, for every premises
and every area row, exactly what connectivity.classify wrote: the comparison that makes the
speed comparison in the benchmark honest. Against a real PostGIS with the small demo data."""

from __future__ import annotations

import psycopg
import pytest

from bench.classify_peer import compare, run_peer
from connectivity.classify import classify
from connectivity.officers import accounts as acc
from connectivity.officers import challenges as ch
from connectivity.officers import session_scope
from connectivity.rules import load_rules
from connectivity.settings import load_settings
from etl.corrections import publish
from tests.conftest import TEST_SECRET, copy_of

CEREDIGION = "W06000008"
SAME = {"only_ours": 0, "only_peer": 0, "columns_missing": [], "differ": {}, "same": True}


def _peer_against(url: str, rules, up_to: str | None, run_id: int) -> dict:
    classified, stats, _ = run_peer(url, rules, up_to)
    with psycopg.connect(url) as conn:
        return compare(conn, run_id, classified, stats) | {"classified": classified,
                                                          "stats": stats}


def _run_id(url: str, label: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT id FROM gapmap.classification_run WHERE label = %s",
                            (label,)).fetchone()[0]


def _without_rows(result: dict) -> dict:
    return {k: v for k, v in result.items() if k != "rows"}


@pytest.mark.parametrize("label", ["2026-01", "2026-07"])
def test_the_peer_agrees_with_every_premises_and_area_of_the_demo(loaded_settings, label):
    url = loaded_settings.conninfo
    rules = load_rules(loaded_settings.rules_file)
    result = _peer_against(url, rules, label, _run_id(url, label))
    assert _without_rows(result["premises"]) == SAME
    assert _without_rows(result["areas"]) == SAME
    assert result["premises"]["rows"] == 63225
    classified, stats = result["classified"], result["stats"]
    # a few totals, exactly (the same on both sides: the comparison above found no difference)
    levels = stats.groupby("level").size().to_dict()
    assert set(levels) == {"la", "ward", "lsoa", "msoa", "constituency", "postcode",
                           "hex500", "hex2000", "hex8000"}
    assert levels["la"] == 2  # Ceredigion and Merthyr Tydfil
    assert stats.loc[stats["level"].eq("la"), "premises"].sum() == 63225
    assert EXPECTED[label] == {
        "status": classified["status"].value_counts().sort_index().to_dict(),
        "evidence": classified["evidence"].value_counts().sort_index().to_dict(),
        "eligible_abc": int(classified["eligible_abc"].eq("eligible").sum()),
        "eligible_lbf": int(classified["eligible_lbf"].eq("eligible").sum()),
        "eligible_uso": int(classified["eligible_uso"].eq("eligible").sum()),
        "planned_build": int(classified["planned_build"].sum()),
    }


EXPECTED = {
    "2026-01": {"status": {"above": 52082, "below": 1227, "possibly_below": 9916},
                "evidence": {"bduk": 34492, "ofcom-api": 12419, "postcode": 16314},
                "eligible_abc": 1227, "eligible_lbf": 943, "eligible_uso": 116,
                "planned_build": 11457},
    "2026-07": {"status": {"above": 53261, "below": 1109, "possibly_below": 8855},
                "evidence": {"bduk": 36254, "ofcom-api": 12419, "postcode": 14552},
                "eligible_abc": 1109, "eligible_lbf": 891, "eligible_uso": 102,
                "planned_build": 9222},
}


@pytest.fixture()
def corrected(server, base_db, tmp_path):
    """A copy of the demo database (2026-01, authorities only) with published corrections of
    every kind the classification reads: a speed, a missing premises, a non-premises and a
    slipped build; classified again."""
    name, url = copy_of(server, base_db)
    settings = load_settings({"database_url": url, "cache_dir": str(tmp_path)},
                             environ={}).replace(secret_key=TEST_SECRET)
    with psycopg.connect(url) as conn:
        above, planned, gone = (conn.execute(
            "SELECT c.uprn FROM gapmap.premises_class c JOIN gapmap.premises_place m USING (uprn) "
            f"WHERE m.la = %s AND {cond} ORDER BY c.uprn LIMIT 1", (CEREDIGION,)).fetchone()[0]
            for cond in ("c.evidence = 'ofcom-api' AND c.status = 'above'", "c.planned_build",
                         "c.status = 'above' AND c.evidence = 'postcode'"))
        x, y = conn.execute("SELECT ST_X(geom), ST_Y(geom) FROM gapmap.premises WHERE uprn = %s",
                            (above,)).fetchone()
    with session_scope(settings) as s:
        officer = acc.add_account(s, email="officer@ceredigion.gov.uk", role="officer",
                                  areas=[CEREDIGION], password="correct horse battery staple",
                                  actor="t")
        for kind, target, decision in (
                ("availability", {"uprn": above, "availability_reason": "refused",
                                  "evidence_ref": "OR-1"}, {"down": 4.5, "up": 0.5}),
                ("missing_premises", {"point": (x + 40, y + 25)}, {"down": 2, "up": 0.5}),
                ("not_premises", {"uprn": gone}, {}),
                ("planned_build", {"uprn": planned}, {})):
            c = ch.file_challenge(s, officer, settings, kind=kind, note="checked", **target)
            ch.screen(s, c, officer, settings, accept=True)
            ch.decide(s, c, officer, settings, outcome="upheld", **decision)
    assert publish(settings, actor="t")["rows_loaded"] == 4
    with psycopg.connect(url, autocommit=True) as conn:
        classify(conn, load_rules(settings.rules_file), label="corrected")
    yield url, {"above": above, "planned": planned, "gone": gone}
    server.drop(name)


def test_the_peer_agrees_when_corrections_are_in_force(corrected):
    url, uprns = corrected
    result = _peer_against(url, load_rules(), None, _run_id(url, "corrected"))
    assert _without_rows(result["premises"]) == SAME
    assert _without_rows(result["areas"]) == SAME
    classified = result["classified"].set_index("uprn")
    assert uprns["gone"] not in classified.index
    assert classified.loc[uprns["above"], ["status", "evidence", "best_down"]].tolist() == \
        ["below", "correction", 4.5]
    assert not classified.loc[uprns["planned"], "planned_build"]
    assert classified["added_by_correction"].sum() == 1


def test_a_rule_change_moves_both(corrected):
    """Scheme lines other than the superfast line ('unsettled' postcode evidence), planned
    builds not excluded, the voucher in force, the modelled surface ranked above postcodes."""
    url, _ = corrected
    rules = (load_rules().replace("schemes.abc.max_down", 24.0)
             .replace("schemes.lbf.max_down", 60.0)
             .replace("schemes.lbf.exclude_planned_builds", False)
             .replace("schemes.voucher.suspended_in_wales", False)
             .replace("thresholds.uso_down", 12.5)
             .replace("evidence.order", ["correction", "ofcom-api", "bduk", "speed-raster",
                                         "postcode", "oa"]))
    with psycopg.connect(url, autocommit=True) as conn:
        classify(conn, rules, label="changed")
    result = _peer_against(url, rules, None, _run_id(url, "changed"))
    assert _without_rows(result["premises"]) == SAME
    assert _without_rows(result["areas"]) == SAME
    reasons = result["classified"]
    assert reasons["abc_reason"].eq("line_not_settled").sum() > 0
    assert reasons["eligible_voucher"].eq("eligible").sum() > 0
    assert reasons["evidence"].eq("speed-raster").sum() > 0


def test_the_peer_agrees_where_speed_tests_move_premises(settings, db, tmp_path):
    """The hand-made premises and Ookla tiles of tests/test_ookla.py: tiles move 'possibly
    below' premises to below and to above, one has too few tests to be shown, one premises has
    nothing but a tile; then the same with moves to above turned off."""
    from etl import LOADERS, run_load
    from etl.ookla import OoklaLoader
    from tests.test_ookla import LA, ROWS, _predictions, write_parquet

    run_load(settings, LOADERS["boundaries"](), [LA], options={"level": "la"})
    _predictions(db)
    run_load(settings, OoklaLoader(), [write_parquet(
        tmp_path / "2025-10-01_performance_fixed_tiles.parquet", [r for r, _ in ROWS])])
    for label, rules in (("tests", load_rules()),
                         ("no-move-above", load_rules().replace("speedtests.move_above", False))):
        classify(db, rules, label=label)
        result = _peer_against(settings.conninfo, rules, None, _run_id(settings.conninfo, label))
        assert _without_rows(result["premises"]) == SAME, label
        assert _without_rows(result["areas"]) == SAME, label
        moved = result["classified"].set_index("uprn")["speedtest_moved"].dropna().to_dict()
        assert moved == ({101: "below"} if label == "no-move-above" else
                         {101: "below", 102: "above", 107: "above"}), label
