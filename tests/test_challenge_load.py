"""Bulk challenge files (`connectivity load challenges`): exact rows in gapmap.challenge, their
first events and the load's audit event; rows read = loaded + rejected; the filer's scope; a
second load skipped, a forced one rejecting what is still open; a failed or killed load leaving
the database as it was. The malformed files are in tests/data/bad/challenges/."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from connectivity.errors import Forbidden, NotFound
from connectivity.officers import accounts as acc
from connectivity.officers import session_scope
from connectivity.officers.audit import ACTIONS, cli_actor
from etl import LOADERS, run_load
from etl.runs import list_rejects
from gapmap.cli import main
from tests.test_bad_corpus import snapshot

BIN = Path(sys.executable).parent / "connectivity"
PASSWORD = "correct horse battery staple"
CEREDIGION, MERTHYR = "W06000008", "W06000024"
HEADER = ("uprn,kind,claimed_down,claimed_up,test_dates,test_down,test_up,evidence_ref,date,"
          "availability_reason,easting,northing,postcode,note\n")
GOOD = HEADER + (
    "10001,speed,30,5,2026-10-01;2026-10-03;2026-10-05,6.1;5.8;6.4,0.8;0.7;0.9,OR-100,"
    "2026-10-06,,,,,Slow every evening\n"
    "10002,availability,,,,,,refusal letter 12,2026-10-07,refused,,,sy23 1ab,\n"
    ",missing_premises,,,,,,new build,2026-10-08,,255500,255500,,Plot 4\n"
    "10003,wrong_location,,,,,,survey 3,2026-10-09,,305100,205100,,\n"
    "10004,not_premises,,,,,,site visit,2026-10-10,,,,,a substation\n"
    "10001,planned_build,,,,,,contract LOT-2,2026-10-11,,,,,\n"
    "99999,speed,,,,,,ticket,2026-10-12,,,,,\n"
)
COLUMNS = ("kind, origin, source_line, uprn, postcode, la_code, ST_AsText(geom), "
           "availability_reason, claimed_down, claimed_up, tests, evidence_ref, "
           "observed_on::text, note, lang, state, due_at - created_at")


@pytest.fixture()
def places(settings, tmp_path):
    """Two authorities (Ceredigion and Merthyr Tydfil, as boxes) and four premises: two in
    Ceredigion (one with a postcode), one in Merthyr, one in neither."""
    with psycopg.connect(settings.conninfo, autocommit=True) as conn:
        run = conn.execute(
            "INSERT INTO gapmap.load_run (kind, status, fingerprint, started_at) "
            "VALUES ('boundaries', 'succeeded', 'test', now()) RETURNING id").fetchone()[0]
        for code, name, box in ((CEREDIGION, "Ceredigion", (250000, 250000, 270000, 270000)),
                                (MERTHYR, "Merthyr Tydfil", (300000, 200000, 310000, 210000))):
            conn.execute("INSERT INTO gapmap.area (level, code, name_en, run_id, geom) VALUES "
                         "('la', %s, %s, %s, ST_Multi(ST_MakeEnvelope(%s, %s, %s, %s, 27700)))",
                         (code, name, run, *box))
    premises = tmp_path / "premises.csv"
    premises.write_text("uprn,x,y,postcode\n10001,255000,255000,SY23 1AA\n10002,256000,255000,\n"
                        "10003,305000,205000,CF47 8AA\n10004,330000,180000,\n")
    assert run_load(settings, LOADERS["premises"](), [premises]).rows_loaded == 4
    return settings


def challenge_file(tmp_path, text: str = GOOD, name: str = "challenges.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def cli(settings, *args: str, env: dict | None = None):
    result = CliRunner().invoke(main, ["--database-url", settings.database_url, *args],
                                env=env, catch_exceptions=False)
    return result


def load(settings, path: Path, *options: str, env: dict | None = None) -> dict:
    result = cli(settings, "load", "challenges", str(path), *options, "--json", env=env)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def add(settings, email: str, role: str, areas=(CEREDIGION,)) -> int:
    with session_scope(settings) as session:
        return acc.add_account(session, email=email, role=role, areas=areas, password=PASSWORD,
                               actor="test").id


def rows(db, run_id: int) -> list[tuple]:
    return db.execute(f"SELECT {COLUMNS} FROM gapmap.challenge WHERE load_run_id = %s "
                      "ORDER BY source_line", (run_id,)).fetchall()


def test_a_good_file_loads_with_exact_rows_events_and_audit(places, db, tmp_path):
    # where the classification placed a premises comes first (10004 lies in no authority)
    db.execute("INSERT INTO gapmap.premises_place (uprn, la, hex500_i, hex500_j, hex2000_i, "
               "hex2000_j, hex8000_i, hex8000_j) VALUES (10004, %s, 0, 0, 0, 0, 0, 0)", (MERTHYR,))
    result = load(places, challenge_file(tmp_path))

    assert (result["status"], result["rows_read"], result["rows_loaded"], result["rows_rejected"],
            result["rows_filtered"]) == ("succeeded", 7, 6, 1, 0)
    run = result["run_id"]
    assert list_rejects(db, run) == [{"file": "challenges.csv", "line": 8, "column": "uprn",
                                      "value": "99999",
                                      "reason": "unknown UPRN: no such premises is loaded"}]
    ten = dt.timedelta(days=10)
    tests = [{"date": "2026-10-01", "down": 6.1, "up": 0.8},
             {"date": "2026-10-03", "down": 5.8, "up": 0.7},
             {"date": "2026-10-05", "down": 6.4, "up": 0.9}]
    assert rows(db, run) == [
        ("speed", "bulk", 2, 10001, "SY23 1AA", CEREDIGION, None, None, 30.0, 5.0, tests,
         "OR-100", "2026-10-06", "Slow every evening", "en", "submitted", ten),
        ("availability", "bulk", 3, 10002, "SY23 1AB", CEREDIGION, None, "refused", None, None,
         [], "refusal letter 12", "2026-10-07", None, "en", "submitted", ten),
        ("missing_premises", "bulk", 4, None, None, CEREDIGION, "POINT(255500 255500)", None,
         None, None, [], "new build", "2026-10-08", "Plot 4", "en", "submitted", ten),
        ("wrong_location", "bulk", 5, 10003, "CF47 8AA", MERTHYR, "POINT(305100 205100)", None,
         None, None, [], "survey 3", "2026-10-09", None, "en", "submitted", ten),
        ("not_premises", "bulk", 6, 10004, None, MERTHYR, None, None, None, None, [],
         "site visit", "2026-10-10", "a substation", "en", "submitted", ten),
        ("planned_build", "bulk", 7, 10001, "SY23 1AA", CEREDIGION, None, None, None, None, [],
         "contract LOT-2", "2026-10-11", None, "en", "submitted", ten),
    ]
    assert db.execute("SELECT count(*) FROM gapmap.challenge WHERE filed_by IS NOT NULL OR "
                      "report_id IS NOT NULL OR reason IS NOT NULL").fetchone()[0] == 0
    events = db.execute(
        "SELECT e.challenge_id = c.id, e.account_id, e.actor, e.from_state, e.to_state, e.reason "
        "FROM gapmap.challenge_event e JOIN gapmap.challenge c ON c.id = e.challenge_id "
        "ORDER BY c.source_line").fetchall()
    assert events == [(True, None, cli_actor(), None, "submitted", None)] * 6
    assert db.execute("SELECT account_id, actor, action, object_type, object_id, detail "
                      "FROM gapmap.audit_event").fetchall() == [
        (None, cli_actor(), "challenges.load", "load_run", str(run), {"loaded": 6, "rejected": 1})]
    assert "challenges.load" in ACTIONS


def test_screen_days_come_from_the_option_or_the_setting(places, db, tmp_path):
    first = load(places, challenge_file(tmp_path, HEADER + "10001,speed,,,,,,t,2026-10-06,,,,,\n",
                                        "a.csv"), "--screen-days", "3")
    second = load(places, challenge_file(tmp_path, HEADER + "10002,speed,,,,,,t,2026-10-06,,,,,\n",
                                         "b.csv"), env={"CONNECTIVITY_CHALLENGE_SCREEN_DAYS": "4"})
    assert [r[-1] for r in rows(db, first["run_id"]) + rows(db, second["run_id"])] == [
        dt.timedelta(days=3), dt.timedelta(days=4)]
    bad = cli(places, "load", "challenges", str(tmp_path / "a.csv"), "--screen-days", "0")
    assert bad.exit_code == 2 and "0 is not in the range x>=1" in bad.output


def test_a_note_over_2000_characters_is_rejected(places, db, tmp_path):
    path = challenge_file(tmp_path, HEADER + f"10001,speed,,,,,,t,2026-10-06,,,,,{'n' * 2001}\n"
                                             f"10002,speed,,,,,,t,2026-10-06,,,,,{'n' * 2000}\n")
    result = load(places, path)
    assert (result["rows_read"], result["rows_loaded"], result["rows_rejected"]) == (2, 1, 1)
    [reject] = list_rejects(db, result["run_id"])
    assert (reject["line"], reject["column"], reject["reason"]) == (
        2, "note", "longer than 2,000 characters (2001)")


def test_by_an_officer_accepts_only_premises_in_their_authorities(places, db, tmp_path):
    officer = add(places, "officer@ceredigion.gov.wales", "officer")
    result = load(places, challenge_file(tmp_path), "--by", "Officer@Ceredigion.gov.wales")
    assert (result["rows_read"], result["rows_loaded"], result["rows_rejected"]) == (7, 4, 3)
    outside = "outside the authorities of officer@ceredigion.gov.wales: "
    assert [(r["line"], r["column"], r["value"], r["reason"])
            for r in list_rejects(db, result["run_id"])] == [
        (5, "uprn", "10003", outside + f"the premises is in {MERTHYR}"),
        (6, "uprn", "10004", outside + "no authority found for it"),
        (8, "uprn", "99999", "unknown UPRN: no such premises is loaded"),
    ]
    assert db.execute("SELECT source_line, filed_by, la_code FROM gapmap.challenge "
                      "ORDER BY source_line").fetchall() == [
        (2, officer, CEREDIGION), (3, officer, CEREDIGION), (4, officer, CEREDIGION),
        (7, officer, CEREDIGION)]
    assert db.execute("SELECT DISTINCT account_id, actor FROM gapmap.challenge_event").fetchall() == [
        (officer, "officer@ceredigion.gov.wales")]
    assert db.execute("SELECT account_id, actor, detail FROM gapmap.audit_event "
                      "WHERE action = 'challenges.load'").fetchall() == [
        (officer, "officer@ceredigion.gov.wales", {"loaded": 4, "rejected": 3})]


def test_by_an_admin_accepts_every_authority_and_premises_in_none(places, db, tmp_path):
    admin = add(places, "admin@gov.wales", "admin", areas=())
    result = load(places, challenge_file(tmp_path), "--by", "admin@gov.wales")
    assert (result["rows_read"], result["rows_loaded"], result["rows_rejected"]) == (7, 6, 1)
    assert db.execute("SELECT source_line, filed_by, la_code FROM gapmap.challenge "
                      "WHERE source_line IN (5, 6) ORDER BY 1").fetchall() == [
        (5, admin, MERTHYR), (6, admin, None)]


def test_by_must_be_an_enabled_account_that_may_file(places, db, tmp_path):
    add(places, "viewer@ceredigion.gov.wales", "viewer")
    add(places, "gone@ceredigion.gov.wales", "officer")
    with session_scope(places) as session:
        acc.disable_account(session, "gone@ceredigion.gov.wales", actor="test")
    path = challenge_file(tmp_path)
    before = snapshot(db)
    for email, error, message in (
            ("viewer@ceredigion.gov.wales", Forbidden, "a viewer cannot file challenges"),
            ("gone@ceredigion.gov.wales", Forbidden, "the account is disabled"),
            ("nobody@ceredigion.gov.wales", NotFound, "no such account")):
        with pytest.raises(error, match=message):
            run_load(places, LOADERS["challenges"](), [path], options={"by": email})
        result = cli(places, "load", "challenges", str(path), "--by", email)
        assert result.exit_code == error.exit_code and message in result.output
    assert snapshot(db) == before
    assert db.execute("SELECT count(*) FROM gapmap.load_run WHERE kind = 'challenges' "
                      "AND status = 'failed'").fetchone()[0] == 6


def test_loading_again_is_skipped_and_force_rejects_what_is_still_open(places, db, tmp_path):
    path = challenge_file(tmp_path)
    first = load(places, path)
    again = load(places, path)
    assert (again["status"], again["run_id"]) == ("skipped", first["run_id"])
    assert db.execute("SELECT count(*) FROM gapmap.challenge").fetchone()[0] == 6

    forced = load(places, path, "--force")
    assert (forced["status"], forced["rows_read"], forced["rows_loaded"],
            forced["rows_rejected"]) == ("succeeded", 7, 0, 7)
    ids = dict(db.execute("SELECT source_line, id FROM gapmap.challenge").fetchall())
    expected = [(line, "uprn/kind", f"already challenged: challenge {ids[line]} is open")
                for line in range(2, 8)] + [(8, "uprn", "unknown UPRN: no such premises is loaded")]
    assert [(r["line"], r["column"], r["reason"]) for r in list_rejects(db, forced["run_id"])] == \
        expected
    assert db.execute("SELECT count(*) FROM gapmap.challenge").fetchone()[0] == 6

    # once a challenge is closed, the same row may challenge the premises again
    db.execute("UPDATE gapmap.challenge SET state = 'screened_out', reason = 'too_few_tests' "
               "WHERE source_line IN (2, 4)")
    db.execute("UPDATE gapmap.challenge SET state = 'accepted' WHERE source_line = 3")
    third = load(places, path, "--force")
    assert (third["rows_loaded"], third["rows_rejected"]) == (2, 5)
    assert db.execute("SELECT source_line FROM gapmap.challenge WHERE load_run_id = %s "
                      "ORDER BY 1", (third["run_id"],)).fetchall() == [(2,), (4,)]


def test_a_failed_load_leaves_the_database_as_it_was(places, db, tmp_path, monkeypatch):
    import etl.challenges

    path = challenge_file(tmp_path)
    before = snapshot(db)
    real = etl.challenges._publish

    def publish_then_fail(ctx, filer):
        assert real(ctx, filer) == 6  # the rows are in, inside the transaction
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(etl.challenges, "_publish", publish_then_fail)
    with pytest.raises(RuntimeError):
        run_load(places, LOADERS["challenges"](), [path])
    assert snapshot(db) == before
    assert db.execute("SELECT status, message FROM gapmap.load_run WHERE kind = 'challenges'"
                      ).fetchall() == [("failed", "the disk is full")]
    monkeypatch.undo()
    assert run_load(places, LOADERS["challenges"](), [path]).rows_loaded == 6


def test_a_killed_load_leaves_the_database_as_it_was(places, db, tmp_path):
    """Killed (SIGKILL) after its challenges and events are written, while it waits to write
    the audit event: nothing of it stays."""
    path = challenge_file(tmp_path)
    before = snapshot(db)
    runs_before = db.execute("SELECT count(*) FROM gapmap.load_run").fetchone()[0]
    with psycopg.connect(places.conninfo) as blocker:
        blocker.execute("LOCK TABLE gapmap.audit_event IN SHARE MODE")
        proc = subprocess.Popen([BIN, "--database-url", places.database_url, "load",
                                 "challenges", str(path)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 60
            waiting = None
            while time.monotonic() < deadline and proc.poll() is None and not waiting:
                waiting = db.execute(
                    "SELECT query FROM pg_stat_activity WHERE application_name = "
                    "'connectivity load challenges' AND wait_event_type = 'Lock'").fetchone()
                time.sleep(0.01)
            assert waiting and "audit_event" in waiting[0], waiting
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        blocker.rollback()
    for _ in range(200):
        if not db.execute("SELECT 1 FROM pg_stat_activity WHERE application_name = "
                          "'connectivity load challenges'").fetchone():
            break
        time.sleep(0.05)
    assert snapshot(db) == before
    assert db.execute("SELECT count(*) FROM gapmap.load_run").fetchone()[0] == runs_before
