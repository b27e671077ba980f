"""Challenges: from a resident's report (or an officer, or a bulk file) through screening and a
decision to a correction release the classification uses; flats escalation, conflicts with newer
releases, scoping and the audit trail of every transition, the resident's private status link,
and the public transparency figures. Against a real PostGIS with the demo data."""

from __future__ import annotations

import datetime as dt
import json

import psycopg
import pytest

from connectivity.classify import classify
from connectivity.db import connect
from connectivity.errors import BadRequest, Forbidden, NotFound
from connectivity.officers import accounts as acc
from connectivity.officers import challenges as ch
from connectivity.officers import session_scope
from connectivity.officers.models import Account, AuditEvent, Challenge
from connectivity.reports import report_status, submit_report
from connectivity.rules import load_rules
from connectivity.settings import load_settings
from connectivity.transparency import challenge_stats
from etl.corrections import publish
from tests.conftest import TEST_SECRET, copy_of

PASSWORD = "correct horse battery staple"
CEREDIGION, MERTHYR = "W06000008", "W06000024"


@pytest.fixture()
def cw(server, base_db, tmp_path):
    """A copy of the demo database (2026-01 classified) with an officer and a viewer in
    Ceredigion, an officer in Merthyr Tydfil and an admin."""
    name, url = copy_of(server, base_db)
    settings = load_settings({"database_url": url, "cache_dir": str(tmp_path)},
                             environ={}).replace(secret_key=TEST_SECRET)
    with session_scope(settings) as s:
        for email, role, areas in (("officer@ceredigion.gov.uk", "officer", [CEREDIGION]),
                                   ("viewer@ceredigion.gov.uk", "viewer", [CEREDIGION]),
                                   ("officer@merthyr.gov.uk", "officer", [MERTHYR]),
                                   ("admin@gov.wales", "admin", [])):
            acc.add_account(s, email=email, role=role, areas=areas, password=PASSWORD, actor="t")
    yield settings
    server.drop(name)


def who(s, email: str) -> Account:
    return acc.find_account(s, email)


def premises_where(settings, sql: str, params=()) -> list[tuple]:
    with psycopg.connect(settings.conninfo) as conn:
        return conn.execute(sql, params).fetchall()


def a_premises(settings, la: str, status: str = "above", evidence: str | None = None):
    """A premises of authority ``la`` with ``status`` (and evidence): (uprn, postcode)."""
    rows = premises_where(
        settings,
        "SELECT c.uprn, c.postcode FROM gapmap.premises_class c JOIN gapmap.premises_place m "
        "USING (uprn) WHERE m.la = %s AND c.status = %s AND (%s::text IS NULL OR c.evidence = %s) "
        "AND c.postcode IS NOT NULL ORDER BY c.uprn LIMIT 1", (la, status, evidence, evidence))
    assert rows, f"no {status} premises in {la}"
    return rows[0]


def reclassify(settings, label: str | None = None) -> dict:
    with connect(settings, autocommit=True) as conn:
        return classify(conn, load_rules(settings.rules_file), label=label)


def class_of(settings, uprn: int) -> dict | None:
    with psycopg.connect(settings.conninfo) as conn:
        cur = conn.execute("SELECT status, evidence, best_down, best_up, evidence_release, "
                           "planned_build, added_by_correction FROM gapmap.premises_class "
                           "WHERE uprn = %s", (uprn,))
        row = cur.fetchone()
        return None if row is None else dict(zip([d.name for d in cur.description], row, strict=True))


def audit_actions(s, challenge_id: int) -> list[tuple[str, str]]:
    return [(e.action, e.actor) for e in s.query(AuditEvent).filter(
        AuditEvent.object_type == "challenge", AuditEvent.object_id == str(challenge_id))
        .order_by(AuditEvent.id)]


# -- a resident's report ----------------------------------------------------------------------
def test_a_report_becomes_a_challenge_with_a_private_status_link(cw):
    uprn, postcode = a_premises(cw, CEREDIGION, "above")
    with psycopg.connect(cw.conninfo, autocommit=True) as conn:
        done = submit_report(conn, postcode=postcode, uprn=uprn, problem="slower",
                             measured_down="6.5", measured_up="0.7", message="Never above 7",
                             contact="me@example.org", lang="cy", screen_days=10)
        again = submit_report(conn, postcode=postcode, uprn=uprn, problem="slower",
                              measured_down="6.5", measured_up="0.7", message="Never above 7",
                              contact="me@example.org", lang="cy", screen_days=10)
        assert again.ref == done.ref and again.token != done.token  # one report, two links
        row = conn.execute(
            "SELECT kind, origin, uprn, postcode, la_code, claimed_down, claimed_up, tests, note, "
            "lang, state, due_at::date - created_at::date FROM gapmap.challenge "
            "WHERE report_id = %s", (done.ref,)).fetchone()
        assert row == ("speed", "report", uprn, postcode, CEREDIGION, 6.5, 0.7,
                       [{"date": dt.date.today().isoformat(), "down": 6.5, "up": 0.7}],
                       "Never above 7", "cy", "submitted", 10)
        assert conn.execute("SELECT count(*) FROM gapmap.challenge").fetchone()[0] == 1
        # the token is not stored, only its hash
        stored = [r[0] for r in conn.execute("SELECT token_hash FROM gapmap.report_token")]
        assert len(stored) == 2 and done.token not in stored
        status = report_status(conn, done.ref, done.token)
        assert (status["ref"], status["state"], status["problem"], status["lang"]) == \
            (done.ref, "submitted", "slower", "cy")
        assert report_status(conn, done.ref, again.token)["ref"] == done.ref
        # a wrong, missing, foreign or malformed token shows nothing
        other = submit_report(conn, postcode=postcode, uprn=None, problem="missing",
                              message="The new house at the end", lang="en")
        for ref, token in ((done.ref, "x" * 32), (done.ref, None), (done.ref, ""),
                           (done.ref, other.token), (other.ref, done.token), ("abc", done.token),
                           (10**30, done.token), (done.ref, done.token + "a")):
            assert report_status(conn, ref, token) is None, (ref, token)
        # a missing premises is a missing_premises challenge placed at the postcode
        assert conn.execute(
            "SELECT kind, uprn, ST_Equals(c.geom, p.geom) FROM gapmap.challenge c "
            "JOIN gapmap.postcode p USING (postcode) WHERE report_id = %s",
            (other.ref,)).fetchone() == ("missing_premises", None, True)


# -- the whole path ---------------------------------------------------------------------------
def test_an_upheld_report_becomes_a_correction_the_classification_uses(cw):
    uprn, postcode = a_premises(cw, CEREDIGION, "above")
    before = class_of(cw, uprn)
    with psycopg.connect(cw.conninfo, autocommit=True) as conn:
        done = submit_report(conn, postcode=postcode, uprn=uprn, problem="unavailable",
                             message="Openreach refused the order", lang="en")
    with session_scope(cw) as s:
        officer = who(s, "officer@ceredigion.gov.uk")
        [c], total = ch.challenges_in_scope(s, officer, state="open")
        assert total == 1 and c.report_id == done.ref and c.kind == "availability"
        assert ch.check_evidence(c, cw).problems == ("bare_assertion",)
        # the officer completes the evidence (the provider's refusal) and accepts it
        c.availability_reason, c.evidence_ref = "refused", "OR-REF-123"
        ch.screen(s, c, officer, cw, accept=True)
        assert c.state == "accepted" and c.reason == "evidence_complete"
        with pytest.raises(BadRequest, match="corrected download: give a speed"):
            ch.decide(s, c, officer, cw, outcome="upheld")
    with session_scope(cw) as s:
        officer = who(s, "officer@ceredigion.gov.uk")
        c = ch.challenge_in_scope(s, officer, c.id)
        ch.decide(s, c, officer, cw, outcome="upheld", reason="provider_confirms", down=4.5,
                  up=0.5, message="Thank you for the refusal letter.")
        assert (c.state, c.corrected_down, c.corrected_up) == ("upheld", 4.5, 0.5)
        assert c.valid_until == ch._add_months(dt.date.today(), 24)
        assert [e.to_state for e in c.events] == ["submitted", "accepted", "upheld"]
        assert [a for a, _ in audit_actions(s, c.id)] == ["challenge.accepted", "challenge.upheld"]
        cid = c.id
    # nothing changes until the corrections are published and classified
    assert class_of(cw, uprn) == before
    out = publish(cw, actor="cli:test")
    assert (out["status"], out["rows_read"], out["rows_loaded"], out["rows_rejected"],
            out["corrections"]) == ("succeeded", 1, 1, 0, 1)
    assert publish(cw, actor="cli:test")["status"] == "skipped"  # the same corrections again
    result = reclassify(cw)
    assert result["releases"]["correction"] == out["release"]
    after = class_of(cw, uprn)
    assert after == {"status": "below", "evidence": "correction", "best_down": 4.5,
                     "best_up": 0.5, "evidence_release": out["release"],
                     "planned_build": before["planned_build"], "added_by_correction": False}
    with psycopg.connect(cw.conninfo) as conn:
        assert conn.execute(
            "SELECT e.challenge_id, e.kind, e.decided_by, e.valid_until, e.max_down, e.max_up "
            "FROM gapmap.ev_correction e JOIN gapmap.release r ON r.id = e.release_id "
            "WHERE r.label = %s", (out["release"],)).fetchall() == [
                (cid, "availability", "officer@ceredigion.gov.uk",
                 ch._add_months(dt.date.today(), 24), 4.5, 0.5)]
        status = report_status(conn, done.ref, done.token)
        assert (status["state"], status["reason"], status["message"]) == \
            ("upheld", "provider_confirms", "Thank you for the refusal letter.")
        # the report closed with its challenge (retention counts from then)
        assert conn.execute("SELECT status, closed_at IS NOT NULL FROM gapmap.report "
                            "WHERE id = %s", (done.ref,)).fetchone() == ("accepted", True)


def test_transitions_follow_the_states_and_reasons(cw):
    uprn, _ = a_premises(cw, CEREDIGION, "above")
    with session_scope(cw) as s:
        officer = who(s, "officer@ceredigion.gov.uk")
        c = ch.file_challenge(s, officer, cw, kind="speed", uprn=uprn,
                              tests=ch.parse_tests(["2026-11-01", "2026-11-02"], ["5", "6"],
                                                   ["0.5", "0.6"]))
        assert ch.check_evidence(c, cw).as_dict() == {
            "tests": 2, "days": 2, "median_down": 5.5, "median_up": 0.55, "enough": False,
            "problems": ["too_few_tests"]}
        with pytest.raises(BadRequest, match="is submitted: it cannot become upheld"):
            ch.decide(s, c, officer, cw, outcome="upheld", down=5, up=1)
        with pytest.raises(BadRequest, match="not a reason to make a challenge accepted"):
            ch.screen(s, c, officer, cw, accept=True, reason="evidence_confirms")
        ch.screen(s, c, officer, cw, accept=False)
        assert (c.state, c.reason) == ("screened_out", "too_few_tests")
        with pytest.raises(BadRequest, match="it is closed"):
            ch.decide(s, c, officer, cw, outcome="moot")
        viewer = who(s, "viewer@ceredigion.gov.uk")
        c2 = ch.file_challenge(s, officer, cw, kind="not_premises", uprn=uprn, note="substation")
        with pytest.raises(Forbidden):
            ch.screen(s, c2, viewer, cw, accept=True)
        with pytest.raises(Forbidden):
            ch.file_challenge(s, viewer, cw, kind="speed", uprn=uprn)
        with pytest.raises(BadRequest, match="already has an open not_premises challenge"):
            ch.file_challenge(s, officer, cw, kind="not_premises", uprn=uprn)
        with pytest.raises(BadRequest, match="carries no speeds"):
            ch.screen(s, c2, officer, cw, accept=True)
            ch.decide(s, c2, officer, cw, outcome="upheld", down=3, up=1)
        assert [(e.from_state, e.to_state, e.reason) for e in c.events] == [
            (None, "submitted", None), ("submitted", "screened_out", "too_few_tests")]


def test_scope_every_read_and_transition(cw):
    uprn, _ = a_premises(cw, CEREDIGION, "above")
    with session_scope(cw) as s:
        officer = who(s, "officer@ceredigion.gov.uk")
        other = who(s, "officer@merthyr.gov.uk")
        admin = who(s, "admin@gov.wales")
        c = ch.file_challenge(s, officer, cw, kind="availability", uprn=uprn,
                              availability_reason="no_install", evidence_ref="email 3 Nov")
        assert ch.challenges_in_scope(s, other)[1] == 0
        assert ch.challenges_in_scope(s, admin)[1] == 1
        with pytest.raises(NotFound):
            ch.challenge_in_scope(s, other, c.id)
        with pytest.raises(NotFound, match="not in your authorities"):
            ch.file_challenge(s, other, cw, kind="speed", uprn=uprn)
        assert ch.counts_in_scope(s, officer)["submitted"] == 1
        assert ch.counts_in_scope(s, other)["submitted"] == 0


# -- the kinds of correction ------------------------------------------------------------------
def _uphold(settings, kind, uprn=None, point=None, **decision):
    with session_scope(settings) as s:
        officer = who(s, "officer@ceredigion.gov.uk")
        c = ch.file_challenge(s, officer, settings, kind=kind, uprn=uprn, point=point,
                              note="checked on site")
        ch.screen(s, c, officer, settings, accept=True)
        ch.decide(s, c, officer, settings, outcome="upheld", **decision)
        return c.id, c.uprn


def test_missing_premises_are_added_and_non_premises_excluded(cw):
    uprn, postcode = a_premises(cw, CEREDIGION, "above")
    [(x, y)] = premises_where(cw, "SELECT ST_X(geom), ST_Y(geom) FROM gapmap.premises "
                                  "WHERE uprn = %s", (uprn,))
    counted = premises_where(cw, "SELECT count(*) FROM gapmap.premises_class")[0][0]
    added_id, added = _uphold(cw, "missing_premises", point=(x + 40, y + 25), down=2, up=0.5)
    assert added == ch.PROVISIONAL_BASE + added_id
    _uphold(cw, "not_premises", uprn=uprn)
    out = publish(cw, actor="t")
    assert out["rows_loaded"] == 2 and "premises added, moved or restored" in out["notes"][0]
    reclassify(cw)
    assert class_of(cw, uprn) is None  # kept in premises, left out of every count
    assert premises_where(cw, "SELECT count(*) FROM gapmap.premises WHERE uprn = %s", (uprn,)) == [(1,)]
    assert class_of(cw, added) == {"status": "below", "evidence": "correction", "best_down": 2.0,
                                   "best_up": 0.5, "evidence_release": out["release"],
                                   "planned_build": False, "added_by_correction": True}
    assert premises_where(cw, "SELECT count(*) FROM gapmap.premises_class")[0][0] == counted
    assert premises_where(cw, "SELECT la FROM gapmap.premises_place WHERE uprn = %s",
                          (added,)) == [(CEREDIGION,)]


def test_a_wrong_location_moves_the_premises_and_a_withdrawal_puts_it_back(cw):
    uprn, _ = a_premises(cw, CEREDIGION, "above")
    [(x, y)] = premises_where(cw, "SELECT ST_X(geom), ST_Y(geom) FROM gapmap.premises "
                                  "WHERE uprn = %s", (uprn,))
    cid, _ = _uphold(cw, "wrong_location", uprn=uprn, point=(x + 100, y))
    publish(cw, actor="t")
    assert premises_where(cw, "SELECT ST_X(geom), ST_Y(geom) FROM gapmap.premises "
                              "WHERE uprn = %s", (uprn,)) == [(x + 100, y)]
    with psycopg.connect(cw.conninfo, autocommit=True) as conn:
        conn.execute("UPDATE gapmap.challenge SET withdrawn_at = now() WHERE id = %s", (cid,))
    out = publish(cw, actor="t")
    assert out["rows_read"] == 0 and out["status"] == "succeeded"
    assert premises_where(cw, "SELECT ST_X(geom), ST_Y(geom) FROM gapmap.premises "
                              "WHERE uprn = %s", (uprn,)) == [(x, y)]


def test_a_slipped_build_loses_its_planned_flag(cw):
    rows = premises_where(cw, "SELECT c.uprn FROM gapmap.premises_class c JOIN gapmap.premises_place m "
                              "USING (uprn) WHERE m.la = %s AND c.planned_build ORDER BY 1 LIMIT 1",
                          (CEREDIGION,))
    assert rows, "the demo data has planned builds in Ceredigion"
    uprn = rows[0][0]
    _uphold(cw, "planned_build", uprn=uprn)
    publish(cw, actor="t")
    reclassify(cw)
    assert class_of(cw, uprn)["planned_build"] is False


# -- flats ------------------------------------------------------------------------------------
def test_three_units_of_a_building_escalate_it_and_a_correction_covers_it(cw):
    uprn, postcode = a_premises(cw, CEREDIGION, "above")
    with psycopg.connect(cw.conninfo, autocommit=True) as conn:
        run = conn.execute("SELECT run_id FROM gapmap.premises WHERE uprn = %s", (uprn,)).fetchone()[0]
        # a block of 40 flats at the same point as the premises (3 units escalate it before
        # 10 % of them, 4, do)
        conn.execute("INSERT INTO gapmap.premises (uprn, geom, postcode, run_id) "
                     "SELECT 999000000 + i, p.geom, p.postcode, %s FROM gapmap.premises p, "
                     "generate_series(1, 39) i WHERE p.uprn = %s", (run, uprn))
        conn.execute("UPDATE gapmap.membership_state SET built_for = 'flats added by hand'")
    reclassify(cw, "with the flats")
    flats = [uprn] + [999000000 + i for i in range(1, 40)]
    with session_scope(cw) as s:
        officer = who(s, "officer@ceredigion.gov.uk")
        filed = []
        for n, flat in enumerate(flats[:3]):
            c = ch.file_challenge(s, officer, cw, kind="availability", uprn=flat,
                                  availability_reason="refused", evidence_ref=f"letter {n}")
            filed.append(c)
            b = ch.building(s, c, cw)
            assert (b["units"], b["challenged"], b["escalates"]) == (40, n + 1, n + 1 >= 3)
        c = filed[-1]
        ch.screen(s, c, officer, cw, accept=True)
        ch.decide(s, c, officer, cw, outcome="upheld", down=8, up=1, whole_building=True)
        assert c.whole_building
    out = publish(cw, actor="t")
    assert out["rows_loaded"] == 40
    reclassify(cw)
    assert {class_of(cw, f)["best_down"] for f in flats} == {8.0}


# -- conflicts --------------------------------------------------------------------------------
def test_a_newer_release_that_disagrees_is_listed_and_the_setting_says_who_wins(cw):
    uprn, postcode = a_premises(cw, CEREDIGION, "above")
    cid, _ = _uphold(cw, "speed", uprn=uprn, down=5, up=0.5)
    publish(cw, actor="t")
    # a newer Ofcom premises release says 80 Mbit/s
    with psycopg.connect(cw.conninfo, autocommit=True) as conn:
        run = conn.execute(
            "INSERT INTO gapmap.load_run (kind, status, fingerprint, started_at, finished_at) "
            "VALUES ('ofcom-api', 'succeeded', 'x', now(), clock_timestamp()) RETURNING id"
        ).fetchone()[0]
        rel = conn.execute("INSERT INTO gapmap.release (source, label, run_id) "
                           "VALUES ('ofcom-api', '2026-11', %s) RETURNING id", (run,)).fetchone()[0]
        conn.execute("INSERT INTO gapmap.ev_premises_speed (release_id, uprn, max_down, max_up) "
                     "VALUES (%s, %s, 80, 20)", (rel, uprn))
    out = publish(cw, actor="t")
    assert out["conflicts_found"] == 1 and out["status"] == "skipped"  # the correction stands
    assert publish(cw, actor="t")["conflicts_found"] == 0  # listed once
    reclassify(cw)
    assert class_of(cw, uprn)["evidence"] == "correction"
    # with the release winning, the correction drops out while the conflict is open
    release_wins = cw.replace(correction_conflict_winner="release")
    assert publish(release_wins, actor="t")["rows_loaded"] == 0
    reclassify(cw)
    assert (class_of(cw, uprn)["evidence"], class_of(cw, uprn)["best_down"]) == ("ofcom-api", 80.0)
    with session_scope(cw) as s:
        officer = who(s, "officer@ceredigion.gov.uk")
        [conflict] = ch.conflicts_in_scope(s, officer)
        assert (conflict.challenge_id, conflict.source, conflict.release, conflict.detail) == \
            (cid, "ofcom-api", "2026-11",
             {"corrected_down": 5.0, "release_down": 80.0, "line": 30.0})
        assert ch.conflicts_in_scope(s, who(s, "officer@merthyr.gov.uk")) == []
        ch.resolve_conflict(s, conflict.id, officer, resolution="keep_correction")
        with pytest.raises(BadRequest, match="resolved already"):
            ch.resolve_conflict(s, conflict.id, officer, resolution="accept_release")
    assert publish(release_wins, actor="t")["rows_loaded"] == 1  # resolved: in force again


# -- transparency -----------------------------------------------------------------------------
def test_transparency_counts_per_authority_without_personal_data(cw):
    uprn, postcode = a_premises(cw, CEREDIGION, "above")
    _uphold(cw, "speed", uprn=uprn, down=5, up=0.5)
    with session_scope(cw) as s:
        officer = who(s, "officer@ceredigion.gov.uk")
        c = ch.file_challenge(s, officer, cw, kind="not_premises", uprn=uprn)
        ch.screen(s, c, officer, cw, accept=True)
        ch.decide(s, c, officer, cw, outcome="rejected")
        ch.file_challenge(s, officer, cw, kind="availability", uprn=uprn,
                          availability_reason="refused", evidence_ref="x")
    with psycopg.connect(cw.conninfo) as conn:
        stats = challenge_stats(conn)
    assert stats == [{"la_code": CEREDIGION, "received": 3, "upheld": 1, "rejected": 1,
                      "moot": 0, "pending": 1, "median_days_to_decision": 0.0}]
    assert set(json.dumps(stats, default=str)) and "officer@" not in json.dumps(stats)


def test_audit_names_every_transition_and_its_actor(cw):
    uprn, _ = a_premises(cw, CEREDIGION, "above")
    cid, _ = _uphold(cw, "speed", uprn=uprn, down=5, up=0.5)
    with session_scope(cw) as s:
        assert audit_actions(s, cid) == [
            ("challenge.create", "officer@ceredigion.gov.uk"),
            ("challenge.accepted", "officer@ceredigion.gov.uk"),
            ("challenge.upheld", "officer@ceredigion.gov.uk")]
        detail = s.query(AuditEvent).filter(AuditEvent.action == "challenge.upheld").one().detail
        assert detail == {"from": "accepted", "reason": "evidence_confirms", "down": 5.0,
                          "up": 0.5, "valid_until": ch._add_months(dt.date.today(), 24).isoformat()}
        assert s.get(Challenge, cid).decider.email == "officer@ceredigion.gov.uk"


# -- the command line -------------------------------------------------------------------------
def cli(settings, *args):
    from click.testing import CliRunner

    from gapmap.cli import main

    return CliRunner().invoke(main, ["--database-url", settings.database_url, *args],
                              env={"CONNECTIVITY_CACHE_DIR": str(settings.cache_dir)},
                              catch_exceptions=False)


def test_the_challenges_commands(cw):
    uprn, postcode = a_premises(cw, CEREDIGION, "above")
    with psycopg.connect(cw.conninfo, autocommit=True) as conn:
        done = submit_report(conn, postcode=postcode, uprn=uprn, problem="slower",
                             measured_down="6", measured_up="0.5", lang="en")
    listed = cli(cw, "challenges", "list", "--state", "open", "--json")
    assert listed.exit_code == 0, listed.output
    [row] = json.loads(listed.output)["challenges"]
    assert (row["report_id"], row["kind"], row["state"], row["uprn"]) == \
        (done.ref, "speed", "submitted", uprn)
    shown = cli(cw, "challenges", "show", str(row["id"]))
    assert "evidence: 1 test(s) on 1 day(s), median 6.0/0.5 Mbit/s; missing: too_few_tests" \
        in shown.output
    # a viewer cannot screen; an officer elsewhere does not see it
    refused = cli(cw, "challenges", "screen", str(row["id"]), "--by", "viewer@ceredigion.gov.uk",
                  "--accept")
    assert refused.exit_code != 0 and "viewers cannot change challenges" in refused.output
    hidden = cli(cw, "challenges", "screen", str(row["id"]), "--by", "officer@merthyr.gov.uk",
                 "--accept")
    assert hidden.exit_code != 0 and f"no challenge {row['id']}" in hidden.output
    assert cli(cw, "challenges", "screen", str(row["id"]), "--by", "officer@ceredigion.gov.uk",
               "--accept").exit_code == 0
    both = cli(cw, "challenges", "decide", str(row["id"]), "--by", "officer@ceredigion.gov.uk",
               "--uphold", "--reject", "evidence_contradicts")
    assert both.exit_code != 0 and "exactly one of" in both.output
    decided = cli(cw, "challenges", "decide", str(row["id"]), "--by", "officer@ceredigion.gov.uk",
                  "--uphold", "--down", "6", "--up", "0.5", "--json")
    assert decided.exit_code == 0 and json.loads(decided.output)["state"] == "upheld"
    published = cli(cw, "challenges", "publish", "--classify", "--json")
    assert published.exit_code == 0, published.output
    out = json.loads(published.output)
    assert out["publish"]["corrections"] == 1
    assert out["classification"]["label"] == out["publish"]["release"]
    assert class_of(cw, uprn)["evidence"] == "correction"
    # the export carries the corrected premises with its evidence and the correction release
    out_file = cw.cache_dir / "export.csv"
    exported = cli(cw, "export", "--format", "csv", "-o", str(out_file), "--area", CEREDIGION)
    assert exported.exit_code == 0, exported.output
    import csv
    with out_file.open(encoding="utf-8-sig", newline="") as fh:
        [row] = [r for r in csv.DictReader(fh) if r["uprn"] == str(uprn)]
    assert (row["status"], row["evidence"], row["evidence_release"], row["best_down_mbps"]) == \
        ("below", "correction", out["publish"]["release"], "6.0")
    again = cli(cw, "challenges", "publish", "--classify")
    assert "holds these corrections" in again.output and "classified" in again.output
    assert cli(cw, "challenges", "conflicts").output.strip() == "0 conflict(s)"
