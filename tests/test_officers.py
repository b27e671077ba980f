"""The officers' records: ORM classes against the migrated tables, accounts, passwords, sessions,
tokens, scoping, the append-only audit log, retention and backup/restore (real PostGIS)."""

from __future__ import annotations

import datetime as dt
import json

import psycopg
import pytest
from click.testing import CliRunner
from geoalchemy2 import Geometry
from sqlalchemy import BigInteger, Boolean, Date, DateTime, Integer, Text, inspect
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import DOUBLE_PRECISION, REAL

from connectivity.errors import BadRequest, NotFound, TooManyRequests, Unauthorized
from connectivity.officers import MAPPED, Report, session_scope
from connectivity.officers import accounts as acc
from connectivity.officers.passwords import PasswordRejected, check_new_password
from connectivity.officers.reports import purge_contacts, report_in_scope, reports_in_scope
from connectivity.officers.scope import visible_authorities
from gapmap.cli import main
from tests.conftest import TEST_SECRET

PASSWORD = "correct horse battery staple"
CEREDIGION, MERTHYR, POWYS = "W06000008", "W06000024", "W06000023"
PG_TYPES = {BigInteger: "bigint", Integer: "integer", Text: "text", DateTime: "timestamp with time zone",
            REAL: "real", DOUBLE_PRECISION: "double precision", JSONB: "jsonb", Boolean: "boolean",
            Geometry: "USER-DEFINED", Date: "date"}


@pytest.fixture()
def ws(settings):
    """Settings with a secret key, three authorities loaded (areas are what scoping reads)."""
    s = settings.replace(secret_key=TEST_SECRET)
    with psycopg.connect(s.conninfo, autocommit=True) as conn:
        run = conn.execute(
            "INSERT INTO gapmap.load_run (kind, status, fingerprint, started_at) "
            "VALUES ('boundaries', 'succeeded', 'test', now()) RETURNING id").fetchone()[0]
        for i, code in enumerate((CEREDIGION, MERTHYR, POWYS)):
            conn.execute(
                "INSERT INTO gapmap.area (level, code, name_en, run_id, geom) VALUES ('la', %s, %s, %s,"
                " ST_Multi(ST_MakeEnvelope(%s, 0, %s, 1000, 27700)))",
                (code, f"LA {i}", run, i * 1000, i * 1000 + 1000))
    return s


def add(session, email, role="officer", areas=(CEREDIGION,), lang="en"):
    return acc.add_account(session, email=email, role=role, areas=areas, lang=lang,
                           password=PASSWORD, actor="test")


def audit_rows(s) -> list[tuple]:
    with psycopg.connect(s.conninfo) as conn:
        return conn.execute("SELECT actor, action, object_type, detail FROM gapmap.audit_event "
                            "ORDER BY id").fetchall()


def test_every_mapped_class_matches_its_migrated_table(settings):
    with session_scope(settings) as session:
        insp = inspect(session.connection())
        for cls in MAPPED:
            table = cls.__table__
            columns = {c["name"]: c for c in insp.get_columns(table.name, schema="gapmap")}
            assert set(columns) == {c.name for c in table.columns}, table.name
            with psycopg.connect(settings.conninfo) as conn:
                types = dict(conn.execute(
                    "SELECT column_name, data_type FROM information_schema.columns "
                    "WHERE table_schema = 'gapmap' AND table_name = %s", (table.name,)).fetchall())
            for column in table.columns:
                expected = next(v for k, v in PG_TYPES.items() if isinstance(column.type, k))
                assert types[column.name] == expected, (table.name, column.name)
                assert columns[column.name]["nullable"] == column.nullable, (table.name, column.name)
            pk = insp.get_pk_constraint(table.name, schema="gapmap")["constrained_columns"]
            assert pk == [c.name for c in table.primary_key.columns], table.name
            fks = {(tuple(f["constrained_columns"]), f["referred_table"])
                   for f in insp.get_foreign_keys(table.name, schema="gapmap")}
            mapped_fks = {((f.parent.name,), f.column.table.name) for f in table.foreign_keys}
            assert mapped_fks <= fks, table.name


@pytest.mark.parametrize("password, reason", [
    ("short pass", "too_short"),
    ("x" * 257, "too_long"),
    ("password1234", "common"),
    ("PASSWORD1234", "common"),
    ("dragon!!!!!!2026", "common"),
    ("qwertyuiop123", "common"),
    ("zzzzzzzzzzzzzz", "common"),
    ("annwyn.jones-broadband", "personal"),
])
def test_weak_passwords_are_refused_with_their_reason(password, reason):
    with pytest.raises(PasswordRejected) as err:
        check_new_password(password, email="annwyn.jones@ceredigion.gov.uk", name="Annwyn Jones")
    assert err.value.reason == reason


def test_a_long_passphrase_is_accepted():
    check_new_password(PASSWORD, email="a@b.gov.wales")
    check_new_password("Llanfair pwll 2026 ynys", email="a@b.gov.wales")


def test_accounts_are_created_changed_and_disabled_with_an_audit_row_each(ws):
    with session_scope(ws) as session:
        a = add(session, "Officer@Ceredigion.gov.uk", lang="cy")
        assert (a.email, a.role, a.la_codes, a.lang) == ("officer@ceredigion.gov.uk", "officer",
                                                         [CEREDIGION], "cy")
        assert a.password_hash.startswith("$argon2id$") and PASSWORD not in a.password_hash
        with pytest.raises(BadRequest, match="exists already"):
            add(session, "officer@ceredigion.gov.uk")
        with pytest.raises(BadRequest, match="needs at least one authority"):
            add(session, "v@x.gov.wales", role="viewer", areas=())
        with pytest.raises(BadRequest, match="no local authority W06000099"):
            add(session, "v@x.gov.wales", areas=("W06000099",))
        with pytest.raises(BadRequest, match="not local authority codes: E06000001"):
            add(session, "v@x.gov.wales", areas=("E06000001",))
        acc.set_account(session, "officer@ceredigion.gov.uk", areas=[CEREDIGION, MERTHYR],
                        actor="test")
        acc.set_account(session, "officer@ceredigion.gov.uk", role="viewer", actor="test")
        acc.disable_account(session, "officer@ceredigion.gov.uk", actor="test")
        with pytest.raises(NotFound):
            acc.find_account(session, "nobody@x.gov.wales")
    rows = audit_rows(ws)
    assert [r[1] for r in rows] == ["account.create", "account.update", "account.update",
                                    "account.disable"]
    assert rows[1][3]["changes"] == {"areas": [[CEREDIGION], [CEREDIGION, MERTHYR]]}
    assert rows[2][3]["changes"] == {"role": ["officer", "viewer"]}
    assert all(PASSWORD not in json.dumps(r[3]) for r in rows)


def test_sign_in_opens_a_server_side_session_that_ends_at_sign_out(ws):
    with session_scope(ws) as session:
        add(session, "o@ceredigion.gov.uk")
        result = acc.sign_in(session, ws, "O@ceredigion.gov.uk ", PASSWORD, client="192.0.2.1")
        sid = result.session_id
        assert acc.load_session(session, ws, sid).email == "o@ceredigion.gov.uk"
        assert acc.load_session(session, ws, sid + "x") is None
        acc.sign_out(session, sid, client="192.0.2.1")
        assert acc.load_session(session, ws, sid) is None
    with psycopg.connect(ws.conninfo) as conn:
        stored = conn.execute("SELECT id_hash FROM gapmap.account_session").fetchone()[0]
    assert stored != sid and len(stored) == 64
    assert [r[1] for r in audit_rows(ws)] == ["account.create", "sign_in", "sign_out"]


def test_sessions_end_after_the_idle_and_the_absolute_timeouts(ws):
    with session_scope(ws) as session:
        add(session, "o@ceredigion.gov.uk")
        idle = acc.sign_in(session, ws, "o@ceredigion.gov.uk", PASSWORD, client="c").session_id
        old = acc.sign_in(session, ws, "o@ceredigion.gov.uk", PASSWORD, client="c").session_id
    with psycopg.connect(ws.conninfo, autocommit=True) as conn:
        conn.execute("UPDATE gapmap.account_session SET last_seen_at = now() - interval '31 minutes' "
                     "WHERE id_hash = encode(sha256(%s::bytea), 'hex')", (idle.encode(),))
        conn.execute("UPDATE gapmap.account_session SET created_at = now() - interval '13 hours' "
                     "WHERE id_hash = encode(sha256(%s::bytea), 'hex')", (old.encode(),))
    with session_scope(ws) as session:
        assert acc.load_session(session, ws, idle) is None
        assert acc.load_session(session, ws, old) is None
    expired = [r[3]["why"] for r in audit_rows(ws) if r[1] == "session.expired"]
    assert sorted(expired) == ["absolute", "idle"]


def test_failed_sign_ins_are_limited_per_account_and_per_client(ws):
    with session_scope(ws) as session:
        add(session, "o@ceredigion.gov.uk")
    for _ in range(ws.sign_in_max_failures):
        with session_scope(ws) as session, pytest.raises(Unauthorized):
            acc.sign_in(session, ws, "o@ceredigion.gov.uk", "wrong password!!", client="198.51.100.7")
    # the right password from another address: the account is limited
    with session_scope(ws) as session, pytest.raises(TooManyRequests) as limited:
        acc.sign_in(session, ws, "o@ceredigion.gov.uk", PASSWORD, client="203.0.113.9")
    assert 0 < limited.value.retry_after <= ws.sign_in_window_minutes * 60
    # the same address trying another account: the client is limited
    with session_scope(ws) as session:
        add(session, "p@ceredigion.gov.uk")
    with session_scope(ws) as session, pytest.raises(TooManyRequests):
        acc.sign_in(session, ws, "p@ceredigion.gov.uk", PASSWORD, client="198.51.100.7")
    # nobody else is affected
    with session_scope(ws) as session:
        acc.sign_in(session, ws, "p@ceredigion.gov.uk", PASSWORD, client="203.0.113.9")
    actions = [r[1] for r in audit_rows(ws)]
    assert actions.count("sign_in.failed") == 5 and actions.count("sign_in.limited") == 2
    with psycopg.connect(ws.conninfo) as conn:
        keys = [r[0] for r in conn.execute("SELECT key FROM gapmap.rate_event")]
    assert keys and not any("198.51.100.7" in k or "@" in k for k in keys)


def test_a_disabled_account_cannot_sign_in_and_its_sessions_end(ws):
    with session_scope(ws) as session:
        add(session, "o@ceredigion.gov.uk")
        sid = acc.sign_in(session, ws, "o@ceredigion.gov.uk", PASSWORD, client="c").session_id
        acc.disable_account(session, "o@ceredigion.gov.uk", actor="test")
        assert acc.load_session(session, ws, sid) is None
        with pytest.raises(Unauthorized):
            acc.sign_in(session, ws, "o@ceredigion.gov.uk", PASSWORD, client="c")


def test_tokens_are_shown_once_stored_hashed_scoped_and_revocable(ws):
    with session_scope(ws) as session:
        add(session, "o@ceredigion.gov.uk")
        token, plain = acc.create_token(session, "o@ceredigion.gov.uk", "nightly", actor="test")
        assert plain.startswith("gmt_") and len(plain) > 40 and plain[4:] not in token.token_hash
        assert acc.authenticate_token(session, plain, client="c", route="/x").email == \
            "o@ceredigion.gov.uk"
        assert token.last_used_at is not None
        for bad in ("", "gmt_nope", plain + "x", "Bearer " + plain):
            with pytest.raises(Unauthorized):
                acc.authenticate_token(session, bad, client="c", route="/x")
        acc.revoke_token(session, token.id, actor="test")
        with pytest.raises(Unauthorized):
            acc.authenticate_token(session, plain, client="c", route="/x")
        _, second = acc.create_token(session, "o@ceredigion.gov.uk", "other", actor="test")
        acc.disable_account(session, "o@ceredigion.gov.uk", actor="test")
        with pytest.raises(Unauthorized):
            acc.authenticate_token(session, second, client="c", route="/x")
    actions = [r[1] for r in audit_rows(ws)]
    assert actions == ["account.create", "token.create", "token.use", "token.revoke",
                       "token.refused", "token.create", "account.disable", "token.refused"]
    assert not any(plain in json.dumps(r[3]) or second in json.dumps(r[3]) for r in audit_rows(ws))


def _report(conn, postcode: str, la: str | None, contact: str | None = "ann@example.com",
            status: str = "new") -> int:
    return conn.execute(
        "INSERT INTO gapmap.report (postcode, problem, lang, contact, la_code, status) "
        "VALUES (%s, 'slower', 'en', %s, %s, %s) RETURNING id",
        (postcode, contact, la, status)).fetchone()[0]


def test_scope_is_decided_in_sql_per_account(ws):
    with psycopg.connect(ws.conninfo, autocommit=True) as conn:
        ids = {la: _report(conn, pc, la) for pc, la in
               (("SA43 1AA", CEREDIGION), ("CF47 8AA", MERTHYR), ("LD1 5AA", POWYS))}
        orphan = _report(conn, "SA43 1AB", None)
    with session_scope(ws) as session:
        officer = add(session, "o@ceredigion.gov.uk")
        both = add(session, "b@gov.wales", areas=(CEREDIGION, MERTHYR))
        viewer = add(session, "v@ceredigion.gov.uk", role="viewer")
        admin = add(session, "a@gov.wales", role="admin", areas=())
        assert visible_authorities(session, officer) == [CEREDIGION]
        assert visible_authorities(session, admin) == [CEREDIGION, POWYS, MERTHYR]
        seen = {name: sorted(r.id for r in reports_in_scope(session, who)[0])
                for name, who in (("officer", officer), ("both", both), ("viewer", viewer),
                                  ("admin", admin))}
        assert seen == {"officer": [ids[CEREDIGION]], "viewer": [ids[CEREDIGION]],
                        "both": sorted([ids[CEREDIGION], ids[MERTHYR]]),
                        "admin": sorted([*ids.values(), orphan])}
        assert report_in_scope(session, officer, ids[CEREDIGION]).id == ids[CEREDIGION]
        for other in (ids[POWYS], orphan, 10**9, "x", "1 OR 1=1"):
            with pytest.raises(NotFound):
                report_in_scope(session, officer, other)
        acc.disable_account(session, "o@ceredigion.gov.uk", actor="test")
        assert reports_in_scope(session, officer)[0] == []


def test_the_audit_log_refuses_update_delete_and_truncate(ws):
    with session_scope(ws) as session:
        add(session, "o@ceredigion.gov.uk")
    with psycopg.connect(ws.conninfo, autocommit=True) as conn:
        for sql in ("UPDATE gapmap.audit_event SET actor = 'someone else'",
                    "DELETE FROM gapmap.audit_event",
                    "TRUNCATE gapmap.audit_event"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
                conn.execute(sql)
        assert conn.execute("SELECT count(*) FROM gapmap.audit_event").fetchone()[0] == 1


def test_reports_are_closed_by_status_and_purged_after_the_retention(ws):
    with psycopg.connect(ws.conninfo, autocommit=True) as conn:
        old = _report(conn, "SA43 1AA", CEREDIGION)
        recent = _report(conn, "SA43 1AA", CEREDIGION)
        still_open = _report(conn, "SA43 1AA", CEREDIGION)
        conn.execute("UPDATE gapmap.report SET status = 'accepted' WHERE id IN (%s, %s)",
                     (old, recent))
        conn.execute("UPDATE gapmap.report SET closed_at = now() - interval '13 months', "
                     "created_at = now() - interval '14 months' WHERE id = %s", (old,))
        conn.execute("UPDATE gapmap.report SET created_at = now() - interval '3 years' "
                     "WHERE id = %s", (still_open,))
    with session_scope(ws) as session:
        assert purge_contacts(session, months=12, actor="test") == 1
        rows = {r.id: r for r in session.query(Report)}
        assert rows[old].contact is None and rows[old].contact_purged_at is not None
        assert rows[recent].contact == "ann@example.com" and rows[recent].closed_at is not None
        assert rows[still_open].contact == "ann@example.com" and rows[still_open].closed_at is None
    purge = [r for r in audit_rows(ws) if r[1] == "reports.purge"]
    assert purge[0][3]["purged"] == 1 and "ann@example.com" not in json.dumps(purge)


def _cli(s, *args, stdin=None):
    return CliRunner().invoke(main, ["--database-url", s.conninfo, *args], input=stdin,
                              catch_exceptions=False)


def test_the_users_commands(ws):
    r = _cli(ws, "users", "list")
    assert r.exit_code == 0 and "create the first admin" in r.output
    r = _cli(ws, "users", "add", "a@gov.wales", "--role", "admin", "--name", "Ann",
             "--password-stdin", stdin=PASSWORD + "\n")
    assert r.exit_code == 0, r.output
    assert r.output == "created admin a@gov.wales\n"
    r = _cli(ws, "users", "add", "o@ceredigion.gov.uk", "--role", "officer", "--area", CEREDIGION,
             "--lang", "cy", "--password-stdin", stdin="password1234\n")
    assert r.exit_code == 2 and "common passwords" in r.output
    r = _cli(ws, "users", "add", "o@ceredigion.gov.uk", "--role", "officer", "--area", CEREDIGION,
             "--lang", "cy", "--password-stdin", stdin=PASSWORD + "\n")
    assert r.exit_code == 0, r.output
    r = _cli(ws, "users", "set", "o@ceredigion.gov.uk", "--area", CEREDIGION, "--area", MERTHYR)
    assert r.output == f"o@ceredigion.gov.uk: officer, {CEREDIGION}, {MERTHYR}\n"
    r = _cli(ws, "users", "token", "o@ceredigion.gov.uk", "--name", "nightly", "--json")
    token = json.loads(r.output)
    assert token["token"].startswith("gmt_") and token["name"] == "nightly"
    r = _cli(ws, "users", "list", "--json")
    listed = json.loads(r.output)
    assert [(u["email"], u["role"], u["areas"], u["lang"]) for u in listed] == [
        ("a@gov.wales", "admin", [], "en"), ("o@ceredigion.gov.uk", "officer",
                                             [CEREDIGION, MERTHYR], "cy")]
    assert token["token"] not in r.output and "password_hash" not in r.output
    r = _cli(ws, "users", "revoke-token", str(token["id"]))
    assert r.output == f"token {token['id']} (nightly) revoked\n"
    r = _cli(ws, "users", "disable", "o@ceredigion.gov.uk")
    assert r.output == "o@ceredigion.gov.uk disabled\n"
    r = _cli(ws, "users", "disable", "nobody@gov.wales")
    assert r.exit_code == 7
    r = _cli(ws, "audit", "--json")
    events = json.loads(r.output)
    assert [e["action"] for e in events] == ["account.disable", "token.revoke", "token.create",
                                             "account.update", "account.create", "account.create"]
    assert all(e["actor"].startswith("cli:") for e in events)
    r = _cli(ws, "audit", "--user", "a@gov.wales", "--json")
    assert json.loads(r.output) == []  # the CLI acts as the OS user, not as an account
    r = _cli(ws, "audit", "--since", "tomorrow")
    assert r.exit_code == 2 and "is not a date" in r.output
    assert PASSWORD not in _cli(ws, "audit").output


def test_backup_drop_restore_gives_back_every_row(ws, server, template_db, tmp_path):
    with session_scope(ws) as session:
        add(session, "o@ceredigion.gov.uk", lang="cy")
        acc.create_token(session, "o@ceredigion.gov.uk", "nightly", actor="test")
    with psycopg.connect(ws.conninfo, autocommit=True) as conn:
        _report(conn, "SA43 1AA", CEREDIGION, contact="Siân, 01970 000000\ttab")
        _report(conn, "SA43 1AA", CEREDIGION, contact=None, status="rejected")
    dump = tmp_path / "workspace.dump"
    r = _cli(ws, "backup", "-o", str(dump), "--json")
    assert r.exit_code == 0, r.output
    made = json.loads(r.output)
    assert made["rows"] == {"account": 1, "account_area": 1, "api_token": 1, "report": 2,
                            "audit_event": 2, "target_list": 0, "target_list_area": 0,
                            "target_list_snapshot": 0, "target_list_premises": 0}

    def snapshot(url):
        with psycopg.connect(url) as conn:
            return {t: conn.execute(f"SELECT * FROM gapmap.{t} ORDER BY 1, 2").fetchall()
                    for t in ("account", "account_area", "api_token", "report", "audit_event")}

    before = snapshot(ws.conninfo)
    fresh = server.create(template=template_db)
    url = server.url(fresh)
    r = _cli(ws.replace(database_url=url), "restore", str(dump), "--json")
    assert r.exit_code == 0, r.output
    after = snapshot(url)
    # the backup is audited after the dump, the restore on top of the restored log
    log_before, log_after = before.pop("audit_event"), after.pop("audit_event")
    assert log_before[-1][4] == "backup" and log_after[-1][4] == "restore"
    assert log_after[:-1] == log_before[:-1]
    assert after == before
    # a second restore is refused: the tables are not empty
    r = _cli(ws.replace(database_url=url), "restore", str(dump))
    assert r.exit_code == 1 and "not empty" in r.output
    # new rows after the restore get new ids
    with session_scope(ws.replace(database_url=url)) as session:
        assert add(session, "n@ceredigion.gov.uk").id == 2
    bad = tmp_path / "bad.dump"
    bad.write_text("not a dump")
    r = _cli(ws.replace(database_url=url), "restore", str(bad))
    assert r.exit_code == 6 and "not a backup" in r.output
    server.drop(fresh)


def test_reports_listing_is_audited_and_a_closed_pipe_is_a_normal_end(ws, tmp_path):
    with psycopg.connect(ws.conninfo, autocommit=True) as conn:
        for _ in range(3):
            _report(conn, "SA43 1AA", CEREDIGION)
    r = _cli(ws, "reports", "--status", "all", "--csv")
    assert r.exit_code == 0 and r.output.count("\n") == 4
    assert [e[1] for e in audit_rows(ws)] == ["reports.export"]
    assert audit_rows(ws)[0][3] == {"rows": 3, "status": "all", "format": "csv"}
    import subprocess
    import sys
    from pathlib import Path

    binary = Path(sys.executable).parent / "connectivity"
    proc = subprocess.run(f"'{binary}' --database-url '{ws.conninfo}' reports --status all --csv "
                          "| head -1", shell=True, capture_output=True, text=True,
                          executable="/bin/bash")
    assert proc.stdout.startswith("id,") and proc.stderr == ""


def test_secrets_never_come_from_a_config_file_and_are_never_shown(tmp_path, monkeypatch):
    from connectivity.errors import ConfigError
    from connectivity.settings import load_settings

    monkeypatch.chdir(tmp_path)
    (tmp_path / "connectivity.toml").write_text('secret_key = "' + "s" * 40 + '"\n')
    with pytest.raises(ConfigError, match="may only come from the environment"):
        load_settings(environ={})
    (tmp_path / "connectivity.toml").unlink()
    s = load_settings(environ={"CONNECTIVITY_SECRET_KEY": "k" * 40})
    assert s.secret_key == "k" * 40 and "k" * 40 not in repr(s)
    assert s.as_dict()["secret_key"] == "(set)"
    with pytest.raises(ConfigError) as err:
        load_settings(environ={"CONNECTIVITY_SECRET_KEY": "short-secret"})
    assert "short-secret" not in str(err.value) and "(hidden)" in str(err.value)


def test_purge_command_uses_the_retention_setting(ws):
    with psycopg.connect(ws.conninfo, autocommit=True) as conn:
        rid = _report(conn, "SA43 1AA", CEREDIGION, status="rejected")
        conn.execute("UPDATE gapmap.report SET closed_at = %s WHERE id = %s",
                     (dt.datetime.now(dt.UTC) - dt.timedelta(days=400), rid))
    r = _cli(ws, "reports", "purge", "--json")
    assert json.loads(r.output) == {"purged": 1, "retention_months": 12}
    with psycopg.connect(ws.conninfo) as conn:
        assert conn.execute("SELECT contact FROM gapmap.report").fetchone() == (None,)
