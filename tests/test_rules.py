"""The rules file is read key by key: changing any key of connectivity/rules.toml changes the
classification or the reason sentences (in both languages, by both the SQL and the Python path),
and a file with an unknown, missing or mistyped key is refused with a message naming the file,
the key and the value.

The database is hand-made: seven premises, each there for the keys it shows.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from pyproj import Transformer

from connectivity.classify import classify
from connectivity.errors import ConfigError
from connectivity.reasons import ARGS, TEMPLATES, reason_sql, render, source_name_sql
from connectivity.rules import keys, load_rules, parse_rules, stored_rules
from connectivity.runs import by_label
from connectivity.vocab import REASONS, SCHEMES
from etl.ookla import quadkey_of, tile_bounds

RULES_TOML = Path(__file__).resolve().parent.parent / "connectivity" / "rules.toml"

#: uprn -> (what it is for, ofcom-api down/up, bduk (current, future gigabit), postcode, raster down)
PREMISES = {
    1: ("25.5 Mbit/s at the premises", (25.5, 5.5), None, None, None),
    2: ("8.5 Mbit/s down, 2.5 up: below the USO by download", (8.5, 2.5), None, None, None),
    3: ("50.5 Mbit/s down, 0.5 up: below the USO by upload", (50.5, 0.5), None, None, None),
    4: ("gigabit now (BDUK)", None, (True, False), None, None),
    5: ("a postcode no premises of which gets 30 Mbit/s, in a planned build", None,
        (False, True), "CF10 1AA", None),
    6: ("gigabit now (BDUK) in a postcode none of which gets 30 Mbit/s", None, (True, False),
        "CF10 1AB", None),
    7: ("20 Mbit/s on the modelled surface only", None, None, None, 20.0),
    8: ("20 Mbit/s on the modelled surface only, 4 km north of 7", None, None, None, 20.0),
}
#: uprn -> the speed test tile over it: average download Mbit/s, tests, devices (Ookla 2025-Q4)
SPEEDTESTS = {7: (5.0, 50, 10), 8: (60.0, 50, 10)}


def _build(conn: psycopg.Connection) -> None:
    run = conn.execute("INSERT INTO gapmap.load_run (kind, status, fingerprint, started_at) "
                       "VALUES ('premises', 'succeeded', 'hand-made', now()) RETURNING id").fetchone()[0]
    release = {source: conn.execute(
        "INSERT INTO gapmap.release (source, label, run_id) VALUES (%s, '2026-01', %s) RETURNING id",
        (source, run)).fetchone()[0] for source in ("ofcom-api", "bduk", "ofcom-coverage",
                                                    "speed-raster")}
    for uprn, (_, api, bduk, postcode, raster) in PREMISES.items():
        conn.execute("INSERT INTO gapmap.premises (uprn, geom, postcode, run_id) VALUES "
                     "(%s, ST_SetSRID(ST_MakePoint(%s, 176230), 27700), %s, %s)",
                     (uprn, 318000 + 100 * uprn, postcode, run))
        if api:
            conn.execute("INSERT INTO gapmap.ev_premises_speed (release_id, uprn, max_down, max_up) "
                         "VALUES (%s, %s, %s, %s)", (release["ofcom-api"], uprn, *api))
        if bduk:
            conn.execute(
                "INSERT INTO gapmap.ev_bduk (release_id, uprn, postcode, current_gigabit, "
                "future_gigabit, gis_contract_name) VALUES (%s, %s, %s, %s, %s, %s)",
                (release["bduk"], uprn, postcode, *bduk, "Contract X" if bduk[1] else None))
        if postcode:
            conn.execute(
                "INSERT INTO gapmap.ev_postcode_coverage (release_id, postcode, unable_30_pct, "
                "unable_decent_pct) VALUES (%s, %s, 100, 0)", (release["ofcom-coverage"], postcode))
        if raster:
            conn.execute("INSERT INTO gapmap.ev_premises_speed (release_id, uprn, max_down) "
                         "VALUES (%s, %s, %s)", (release["speed-raster"], uprn, raster))
    conn.execute("UPDATE gapmap.premises SET geom = ST_Translate(geom, 0, 4000) WHERE uprn = 8")
    ookla = conn.execute("INSERT INTO gapmap.release (source, label, run_id) "
                         "VALUES ('ookla', '2025-Q4', %s) RETURNING id", (run,)).fetchone()[0]
    to_wgs84 = Transformer.from_crs(27700, 4326, always_xy=True)
    for uprn, (down, tests, devices) in SPEEDTESTS.items():
        x, y = conn.execute("SELECT ST_X(geom), ST_Y(geom) FROM gapmap.premises WHERE uprn = %s",
                            (uprn,)).fetchone()
        quadkey = quadkey_of(*to_wgs84.transform(x, y))
        conn.execute(
            "INSERT INTO gapmap.ev_speedtest_tile (release_id, quadkey, avg_down, avg_up, "
            "avg_lat_ms, tests, devices, geom) VALUES (%s, %s, %s, 1, 20, %s, %s, "
            "ST_Transform(ST_MakeEnvelope(%s, %s, %s, %s, 4326), 27700))",
            (ookla, quadkey, down, tests, devices, *tile_bounds(quadkey)))


@pytest.fixture(scope="module")
def small_db(server, template_db):
    name = server.create(template=template_db)
    with psycopg.connect(server.url(name), autocommit=True) as conn:
        _build(conn)
    yield name
    server.drop(name)


@pytest.fixture()
def conn(server, small_db):
    copy = server.create(template=small_db)
    with psycopg.connect(server.url(copy), autocommit=True) as c:
        yield c
    server.drop(copy)


def premises_of(conn, label: str) -> dict[int, dict[str, Any]]:
    run = by_label(conn, label)
    cur = conn.execute(f"SELECT * FROM gapmap.premises_class_{run.id} ORDER BY uprn")
    names = [d.name for d in cur.description]
    return {r[0]: dict(zip(names, r, strict=True)) for r in cur.fetchall()}


def reasons_of(conn, label: str, uprn: int, lang: str) -> dict[str, str]:
    """The sentence of each scheme for one premises, made in SQL (as exports make them) and in
    Python (as the API makes them), which must agree."""
    run = by_label(conn, label, with_rules=True)
    columns = ", ".join(f"{reason_sql(s, lang, run.rules)} AS {s}" for s in SCHEMES.codes)
    in_sql = conn.execute(
        f"""SELECT {columns} FROM (SELECT *, {source_name_sql(lang)} AS source_name
                                   FROM gapmap.premises_class_{run.id}) c WHERE uprn = %s""",
        (uprn,)).fetchone()
    row = premises_of(conn, label)[uprn]
    in_python = [render(s, row[f"{s}_reason"], lang, row, run.rules) for s in SCHEMES.codes]
    assert list(in_sql) == in_python
    return dict(zip(SCHEMES.codes, in_sql, strict=True))


def column(name: str, uprn: int):
    def observe(conn, label):
        return premises_of(conn, label)[uprn][name]
    return observe


def reason(scheme: str, uprn: int):
    def observe(conn, label):
        return (reasons_of(conn, label, uprn, "en")[scheme], reasons_of(conn, label, uprn, "cy")[scheme])
    return observe


def rules_version(conn, label):
    return conn.execute("SELECT rules_version FROM gapmap.classification_run WHERE label = %s",
                        (label,)).fetchone()[0]


@dataclass
class Case:
    value: Any                      # the key's new value
    observe: Any                    # (conn, label) -> what the key changes
    before: Any
    after: Any
    base: dict[str, Any] | None = None  # other keys set first (both runs)


_RASTER = [{"below": 10.0, "probability": 0.9}, {"below": 30.0, "probability": 0.5},
           {"below": 60.0, "probability": 0.2}, {"below": 1.0e9, "probability": 0.05}]
_UNSUSPENDED = {"schemes.voucher.suspended_in_wales": False}

#: every key of rules.toml, what a change does, and to which premises
CASES: dict[str, Case] = {
    "version": Case("2099.9", rules_version, "2026.2", "2099.9"),
    "thresholds.superfast_down": Case(24.0, column("status", 1), "below", "above"),
    "thresholds.uso_down": Case(5.0, column("eligible_uso", 2), "eligible", "not_eligible"),
    "thresholds.uso_up": Case(0.4, column("eligible_uso", 3), "eligible", "not_eligible"),
    "thresholds.gigabit_down": Case(900.0, column("best_down", 4), 1000.0, 900.0),
    "evidence.order": Case(["correction", "ofcom-api", "oa", "postcode", "bduk", "speed-raster"],
                           column("evidence", 6), "bduk", "postcode"),
    # premises 8, whose tile moves nothing (7's moves it below: probability 1 either way)
    "evidence.raster_probability_below": Case(_RASTER, column("probability_below", 8),
                                              pytest.approx(0.7), pytest.approx(0.5)),
    "speedtests.min_tests": Case(51, column("speedtest_tests", 7), 50, None),
    "speedtests.min_devices": Case(11, column("speedtest_devices", 7), 10, None),
    "speedtests.move_below": Case(False, column("status", 7), "below", "possibly_below"),
    "speedtests.below_down": Case(4.0, column("status", 7), "below", "possibly_below"),
    "speedtests.move_above": Case(False, column("status", 8), "above", "possibly_below",
                                  base={"speedtests.above_down": 50.0}),
    "speedtests.above_down": Case(50.0, column("status", 8), "possibly_below", "above"),
    "schemes.abc.max_down": Case(20.0, column("eligible_abc", 1), "eligible", "not_eligible"),
    "schemes.abc.funding_window_months": Case(24, reason("abc", 1), (
        "Eligible for Access Broadband Cymru: best download 25.5 Mbit/s, below 30 Mbit/s (Ofcom "
        "premises prediction, 2026-01). Assumes no ABC funding in the last 48 months. A grant of "
        "up to £800 may apply.",
        "Yn gymwys ar gyfer Allwedd Band Eang Cymru: cyflymder lawrlwytho gorau 25.5 Mbit/s, o dan "
        "30 Mbit/s (rhagfynegiad safle Ofcom, 2026-01). Yn cymryd nad oes cyllid Allwedd Band Eang "
        "yn ystod y 48 mis diwethaf. Gallai grant o hyd at £800 fod ar gael."), (
        "Eligible for Access Broadband Cymru: best download 25.5 Mbit/s, below 30 Mbit/s (Ofcom "
        "premises prediction, 2026-01). Assumes no ABC funding in the last 24 months. A grant of "
        "up to £800 may apply.",
        "Yn gymwys ar gyfer Allwedd Band Eang Cymru: cyflymder lawrlwytho gorau 25.5 Mbit/s, o dan "
        "30 Mbit/s (rhagfynegiad safle Ofcom, 2026-01). Yn cymryd nad oes cyllid Allwedd Band Eang "
        "yn ystod y 24 mis diwethaf. Gallai grant o hyd at £800 fod ar gael.")),
    "schemes.abc.grant_gbp": Case(1200, reason("abc", 5), (
        "Eligible for Access Broadband Cymru: the postcode's coverage figures leave no premises "
        "other than this one short of 30 Mbit/s (Ofcom postcode coverage, 2026-01). Assumes no ABC "
        "funding in the last 48 months. A grant of up to £800 may apply.",
        "Yn gymwys ar gyfer Allwedd Band Eang Cymru: yn ôl ffigurau darpariaeth y cod post, ni all y "
        "safle hwn gael 30 Mbit/s (darpariaeth cod post Ofcom, 2026-01). Yn cymryd nad oes cyllid "
        "Allwedd Band Eang yn ystod y 48 mis diwethaf. Gallai grant o hyd at £800 fod ar gael."), (
        "Eligible for Access Broadband Cymru: the postcode's coverage figures leave no premises "
        "other than this one short of 30 Mbit/s (Ofcom postcode coverage, 2026-01). Assumes no ABC "
        "funding in the last 48 months. A grant of up to £1,200 may apply.",
        "Yn gymwys ar gyfer Allwedd Band Eang Cymru: yn ôl ffigurau darpariaeth y cod post, ni all y "
        "safle hwn gael 30 Mbit/s (darpariaeth cod post Ofcom, 2026-01). Yn cymryd nad oes cyllid "
        "Allwedd Band Eang yn ystod y 48 mis diwethaf. Gallai grant o hyd at £1,200 fod ar gael.")),
    "schemes.lbf.max_down": Case(20.0, column("eligible_lbf", 1), "eligible", "not_eligible"),
    "schemes.lbf.exclude_planned_builds": Case(False, column("eligible_lbf", 5), "not_eligible",
                                               "eligible"),
    "schemes.uso.cost_cap_gbp": Case(5000, reason("uso", 2), (
        "May request a Universal Service Obligation connection: below 10 Mbit/s down or 1 Mbit/s "
        "up (8.5 down, 2.5 up; Ofcom premises prediction). The provider pays up to £3,400 of the cost "
        "of connecting it.",
        "Gall ofyn am gysylltiad dan y Rhwymedigaeth Gwasanaeth Cyffredinol: o dan 10 Mbit/s i "
        "lawr neu 1 Mbit/s i fyny (8.5 i lawr, 2.5 i fyny; rhagfynegiad safle Ofcom). Mae'r darparwr "
        "yn talu hyd at £3,400 o'r gost o'i gysylltu."), (
        "May request a Universal Service Obligation connection: below 10 Mbit/s down or 1 Mbit/s "
        "up (8.5 down, 2.5 up; Ofcom premises prediction). The provider pays up to £5,000 of the cost "
        "of connecting it.",
        "Gall ofyn am gysylltiad dan y Rhwymedigaeth Gwasanaeth Cyffredinol: o dan 10 Mbit/s i "
        "lawr neu 1 Mbit/s i fyny (8.5 i lawr, 2.5 i fyny; rhagfynegiad safle Ofcom). Mae'r darparwr "
        "yn talu hyd at £5,000 o'r gost o'i gysylltu.")),
    "schemes.voucher.suspended_in_wales": Case(False, column("eligible_voucher", 1),
                                               "not_eligible", "eligible"),
    "schemes.voucher.max_down": Case(20.0, reason("voucher", 1), (
        "May qualify for a gigabit voucher: 25.5 Mbit/s, below 100 Mbit/s, and no gigabit plan.",
        "Gallai fod yn gymwys am daleb gigabit: 25.5 Mbit/s, o dan 100 Mbit/s, a dim cynllun "
        "gigabit."), (
        "No gigabit voucher: 20 Mbit/s or more is available, or a gigabit build is planned.",
        "Dim taleb gigabit: mae 20 Mbit/s neu fwy ar gael, neu mae adeiladu gigabit wedi'i "
        "gynllunio."), base=_UNSUSPENDED),
}


def _flat(table: dict[str, Any], prefix: str = "") -> list[str]:
    out = []
    for key, value in table.items():
        out += _flat(value, f"{prefix}{key}.") if isinstance(value, dict) else [prefix + key]
    return out


FILE_KEYS = _flat(tomllib.loads(RULES_TOML.read_text("utf-8")))


def test_the_file_has_exactly_the_keys_the_rules_read():
    assert FILE_KEYS == keys()


@pytest.mark.parametrize("key", FILE_KEYS)
def test_changing_a_key_changes_the_answer(conn, key):
    assert key in CASES, f"{key} is in rules.toml but no test shows what it changes"
    case = CASES[key]
    rules = load_rules()
    for other, value in (case.base or {}).items():
        rules = rules.replace(other, value)
    classify(conn, rules, label="before")
    classify(conn, rules.replace(key, case.value), label="after")
    assert case.observe(conn, "before") == case.before
    assert case.observe(conn, "after") == case.after


def test_every_case_is_a_key_of_the_file():
    assert sorted(CASES) == sorted(FILE_KEYS)


def test_a_scheme_line_other_than_the_superfast_line(conn):
    """ABC at 20 Mbit/s, LBF at 40: premises-level speeds are compared with each scheme's line;
    postcode and modelled evidence settle what follows from their 30 Mbit/s answer, and say
    they cannot settle the rest."""
    rules = load_rules().replace("schemes.abc.max_down", 20.0).replace("schemes.lbf.max_down", 40.0)
    rules = rules.replace("schemes.lbf.exclude_planned_builds", False)
    classify(conn, rules, label="lines")
    got = {u: (p["status"], p["eligible_abc"], p["abc_reason"], p["eligible_lbf"], p["lbf_reason"])
           for u, p in premises_of(conn, "lines").items()}
    assert got == {
        1: ("below", "not_eligible", "not_below_30", "eligible", "target"),
        2: ("below", "eligible", "below_30", "eligible", "target"),
        3: ("above", "not_eligible", "not_below_30", "not_eligible", "not_below_30"),
        4: ("above", "not_eligible", "gigabit_available", "not_eligible", "not_below_30"),
        5: ("below", "possibly", "line_not_settled", "eligible", "target"),
        6: ("above", "not_eligible", "gigabit_available", "not_eligible", "not_below_30"),
        # moved below by its speed tests: below 30 is below 40, but says nothing of 20
        7: ("below", "possibly", "line_not_settled", "eligible", "target_speedtests"),
        8: ("possibly_below", "possibly", "line_not_settled", "possibly", "line_not_settled"),
    }
    assert reasons_of(conn, "lines", 5, "en")["abc"] == (
        "Possibly eligible for Access Broadband Cymru: the evidence says whether this premises can "
        "receive 30 Mbit/s, not whether it can receive 20 Mbit/s (Ofcom postcode coverage, "
        "2026-01). Check this premises.")
    assert reasons_of(conn, "lines", 8, "cy")["lbf"] == (
        "Targed posibl y Gronfa Band Eang Lleol: mae'r dystiolaeth yn dweud a all y safle hwn gael "
        "30 Mbit/s, nid a all gael 40 Mbit/s (arwyneb cyflymder wedi'i fodelu, 2026-01).")
    assert reasons_of(conn, "lines", 1, "en")["lbf"] == (
        "Local Broadband Fund target: below 40 Mbit/s (Ofcom premises prediction, 2026-01).")


def test_sql_and_python_give_the_same_sentences_for_every_reason(conn):
    """Every template, in both languages, with every rule changed: format() in SQL and % in
    Python fill the same blanks the same way (checked here without classifying)."""
    rules = load_rules()
    for key, case in CASES.items():
        if key != "evidence.order":
            rules = rules.replace(key, case.value)
    row = {"best_down": 6.5, "best_up": 0.8, "evidence": "postcode", "evidence_release": "2026-01",
           "probability_below": 0.25, "contract_name": "Contract X", "final_coverage_date": "2027",
           "speedtest_down": 4.25, "speedtest_tests": 50, "speedtest_release": "2025-Q4",
           "oa_code": "W00090003", "oa_premises": 10, "oa_unable_30": 4, "oa_unable_decent": 2,
           "fwa_decent_pct": 62.5}
    types = {"best_down": "real", "best_up": "real", "probability_below": "real",
             "speedtest_down": "real", "speedtest_tests": "integer", "oa_premises": "integer",
             "oa_unable_30": "integer", "oa_unable_decent": "integer", "fwa_decent_pct": "real"}
    values = ", ".join(f"%({k})s::{types.get(k, 'text')} AS {k}" for k in row)
    for scheme, vocabulary in REASONS.items():
        for lang in ("en", "cy"):
            sql = f"""SELECT {reason_sql(scheme, lang, rules)} FROM (
                        SELECT *, {source_name_sql(lang)} AS source_name FROM (
                            SELECT {values}, %(code)s::text AS {scheme}_reason) r) c"""
            for code in vocabulary.codes:
                got = conn.execute(sql, {**row, "code": code}).fetchone()[0]
                assert got == render(scheme, code, lang, row, rules), (scheme, code, lang)
                assert got and "{" not in got and "}" not in got, (scheme, code, lang)
    assert set(TEMPLATES) == {(s, c) for s, v in REASONS.items() for c in v.codes}
    assert {a for args, _, _ in TEMPLATES.values() for a in args} <= set(ARGS)


# -- refused files ------------------------------------------------------------------------------
def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.toml"
    path.write_text(text, encoding="utf-8")
    return path


DEFAULT = RULES_TOML.read_text("utf-8")


@pytest.mark.parametrize(("change", "message", "hint"), [
    # unknown keys
    (("max_down = 30.0\nfunding", "max_down = 30.0\nmax_downn = 20\nfunding"),
     "unknown key schemes.abc.max_downn = 20",
     "the keys of [schemes.abc] are max_down, funding_window_months, grant_gbp"),
    (("gigabit_down = 1000.0\n", "gigabit_down = 1000.0\nultrafast_down = 300.0\n"),
     "unknown key thresholds.ultrafast_down = 300.0",
     "the keys of [thresholds] are superfast_down, uso_down, uso_up, gigabit_down; "
     "ultrafast_down was dropped in rules 2026.2: nothing read it (Ofcom's bands, >=300 among "
     "them, are Ofcom's own: connectivity/vocab.py)"),
    (('[schemes.lbf]\n', '[schemes.lbf]\nname = "Local Broadband Fund"\n'),
     "unknown key schemes.lbf.name = 'Local Broadband Fund'",
     "the keys of [schemes.lbf] are max_down, exclude_planned_builds; name was dropped in rules "
     "2026.2: the schemes' names, in English and Welsh, are in connectivity/vocab.py"),
    (("[schemes.voucher]", "[schemes.ookla]\nmax_down = 1.0\n\n[schemes.voucher]"),
     "unknown key schemes.ookla = { max_down = 1.0 }",
     "the keys of [schemes] are abc, lbf, uso, voucher"),
    # missing keys
    (("grant_gbp = 800\n", ""), "schemes.abc.grant_gbp is missing",
     "add it to [schemes.abc]; connectivity/rules.toml has its default"),
    (('version = "2026.2"\n', ""), "version is missing",
     "add it to the top of the file; connectivity/rules.toml has its default"),
    # wrong types and values
    (("grant_gbp = 800", 'grant_gbp = "800"'),
     "schemes.abc.grant_gbp must be a whole number, got '800'", None),
    (("funding_window_months = 48", "funding_window_months = 48.5"),
     "schemes.abc.funding_window_months must be a whole number, got 48.5", None),
    (("superfast_down = 30.0", "superfast_down = true"),
     "thresholds.superfast_down must be a number, got true", None),
    (("superfast_down = 30.0", 'superfast_down = "30 Mbit/s"'),
     "thresholds.superfast_down must be a number, got '30 Mbit/s'", None),
    (("uso_up = 1.0", "uso_up = 0"),
     "thresholds.uso_up must be a number of Mbit/s above 0, got 0.0", None),
    (("exclude_planned_builds = true", 'exclude_planned_builds = "yes"'),
     "schemes.lbf.exclude_planned_builds must be true or false, got 'yes'", None),
    (('version = "2026.2"', "version = 2026.2"), "version must be a string, got 2026.2", None),
    (('order = ["correction"', 'order = ["ookla", "correction"'),
     "evidence.order[0] is not an evidence source, got 'ookla'",
     "known sources: correction, ofcom-api, bduk, oa, postcode, speed-raster"),
    (('"postcode", "speed-raster"]', '"postcode", "bduk"]'),
     "evidence.order[5] repeats an earlier source, got 'bduk'", None),
    (("{ below = 30.0, probability = 0.7 }", "{ below = 30.0, probability = 70 }"),
     "evidence.raster_probability_below[1].probability must be between 0 and 1, got 70.0", None),
    (("{ below = 30.0, probability = 0.7 }", "{ below = 30.0 }"),
     "evidence.raster_probability_below[1].probability is missing",
     "add it to evidence.raster_probability_below[1]; connectivity/rules.toml has its default"),
    (("{ below = 60.0,", "{ below = 20.0,"),
     "evidence.raster_probability_below[2].below must be larger than the step before's, got 20.0",
     None),
])
def test_a_bad_file_is_refused_with_file_key_and_value(tmp_path, change, message, hint):
    old, new = change
    assert old in DEFAULT
    path = write(tmp_path, DEFAULT.replace(old, new, 1))
    with pytest.raises(ConfigError) as caught:
        load_rules(path)
    assert caught.value.message == f"rules file {path}: {message}"
    assert caught.value.hint == hint
    assert caught.value.exit_code == 2


def test_an_unreadable_file_is_refused(tmp_path):
    path = write(tmp_path, "version = \n")
    with pytest.raises(ConfigError, match=rf"^cannot read the rules file {path}: Invalid value"):
        load_rules(path)
    with pytest.raises(ConfigError, match="cannot read the rules file /nowhere/rules.toml"):
        load_rules("/nowhere/rules.toml")


def test_rules_are_stored_with_the_run_and_read_back(conn):
    rules = load_rules().replace("schemes.abc.grant_gbp", 650)
    classify(conn, rules, label="stored")
    assert by_label(conn, "stored", with_rules=True).rules == rules
    stored = conn.execute("SELECT rules FROM gapmap.classification_run WHERE label = 'stored'"
                          ).fetchone()[0]
    assert stored == tomllib.loads(DEFAULT) | {"schemes": {
        **tomllib.loads(DEFAULT)["schemes"],
        "abc": {"max_down": 30.0, "funding_window_months": 48, "grant_gbp": 650}}}


def test_rules_stored_by_an_older_version_are_read():
    """Runs made with rules 2026.1 carry keys since dropped and lack none that are read now."""
    old = tomllib.loads(DEFAULT)
    old["version"] = "2026.1"
    old["thresholds"]["ultrafast_down"] = 300.0
    for scheme in old["schemes"].values():
        scheme.update(name="x", source="y")
    del old["schemes"]["abc"]["grant_gbp"]  # as if it had been added since
    rules = stored_rules(old, "2026-01")
    assert rules.version == "2026.1" and rules.schemes.abc.grant_gbp == 800
    assert rules.replace("version", "2026.2") == load_rules()


def test_replacing_a_key_checks_the_value():
    with pytest.raises(ConfigError, match="schemes.abc.max_down must be a number, got 'x'"):
        load_rules().replace("schemes.abc.max_down", "x")
    with pytest.raises(KeyError):
        load_rules().replace("schemes.abc.nothing", 1)
    assert parse_rules(load_rules().as_dict(), "copy") == load_rules()
