"""Commands for the officers' workspace: accounts and tokens, the audit log, residents' reports,
backup and restore. Every change is audited with the operating-system user as the actor."""

from __future__ import annotations

import csv
import datetime as dt
import sys
from pathlib import Path

import click

from connectivity.errors import BadRequest

from .clitools import Group, emit, json_option, settings_of


def register(main: click.Group) -> None:
    for command in (users, audit_cmd, reports, backup_cmd, restore_cmd):
        main.add_command(command)


def _read_password(confirm_prompt: bool) -> str:
    if sys.stdin.isatty() and confirm_prompt:
        return click.prompt("password", hide_input=True, confirmation_prompt=True)
    text = sys.stdin.readline()
    if not text:
        raise BadRequest("no password on standard input",
                         "pipe it in, e.g. `printf '%s\\n' \"$PW\" | connectivity users add ...`")
    return text.rstrip("\r\n")


# -- users ------------------------------------------------------------------------------------
@click.group(cls=Group)
def users() -> None:
    """Officers' accounts (admin, officer, viewer), their authorities and API tokens."""


@users.command("add")
@click.argument("email")
@click.option("--role", required=True, type=click.Choice(["admin", "officer", "viewer"]),
              help="admin: manages accounts, every authority; officer: works within its "
                   "authorities; viewer: read-only, no contact details.")
@click.option("--area", "areas", multiple=True, metavar="CODE",
              help="A local authority (W06 code) the account works in; repeatable.")
@click.option("--name", default="", help="The person's name.")
@click.option("--lang", default="en", show_default=True, type=click.Choice(["en", "cy"]),
              help="The language the person chose: everything sent to them uses it.")
@click.option("--password-stdin", is_flag=True, required=True,
              help="Read the password from standard input (at least 12 characters).")
@json_option
@click.pass_context
def users_add(ctx, email, role, areas, name, lang, password_stdin, as_json) -> None:
    """Create an account. The password is read from standard input, never from the command line."""
    from connectivity.officers import session_scope
    from connectivity.officers.accounts import account_dict, add_account
    from connectivity.officers.audit import cli_actor

    password = _read_password(confirm_prompt=True)
    with session_scope(settings_of(ctx)) as session:
        account = add_account(session, email=email, role=role, areas=areas, name=name, lang=lang,
                              password=password, actor=cli_actor())
        data = account_dict(account)
    emit(data, as_json, lambda d: click.echo(
        f"created {d['role']} {d['email']}" + (f" for {', '.join(d['areas'])}" if d["areas"] else "")))


@users.command("list")
@json_option
@click.pass_context
def users_list(ctx, as_json) -> None:
    """Every account with its role, authorities, language, last sign-in and tokens."""
    from connectivity.officers import session_scope
    from connectivity.officers.accounts import account_dict, list_accounts, token_dict

    with session_scope(settings_of(ctx)) as session:
        data = [account_dict(a) | {"tokens": [token_dict(t) for t in a.tokens]}
                for a in list_accounts(session)]

    def human(rows):
        if not rows:
            click.echo("no accounts: create the first admin with\n"
                       "  connectivity users add EMAIL --role admin --password-stdin")
        for r in rows:
            state = " (disabled)" if r["disabled_at"] else ""
            last = f"{r['last_sign_in_at']:%Y-%m-%d %H:%M}" if r["last_sign_in_at"] else "never"
            areas = ", ".join(r["areas"]) if r["role"] != "admin" else "all authorities"
            click.echo(f"{r['email']:<36} {r['role']:<8} {r['lang']}  {areas}  last sign-in {last}"
                       f"{state}")
            for t in r["tokens"]:
                click.echo(f"    token {t['id']} {t['name']!r}"
                           + (" revoked" if t["revoked_at"] else "")
                           + (f" last used {t['last_used_at']:%Y-%m-%d %H:%M}" if t["last_used_at"]
                              else ""))
    emit(data, as_json, human)


@users.command("set")
@click.argument("email")
@click.option("--role", default=None, type=click.Choice(["admin", "officer", "viewer"]))
@click.option("--area", "areas", multiple=True, metavar="CODE",
              help="Replace the account's authorities with these (repeatable).")
@click.option("--name", default=None)
@click.option("--lang", default=None, type=click.Choice(["en", "cy"]))
@click.option("--password-stdin", is_flag=True, help="Set a new password read from standard input.")
@json_option
@click.pass_context
def users_set(ctx, email, role, areas, name, lang, password_stdin, as_json) -> None:
    """Change an account's role, authorities, name, language or password."""
    from connectivity.officers import session_scope
    from connectivity.officers.accounts import account_dict, set_account, set_password
    from connectivity.officers.audit import cli_actor

    password = _read_password(confirm_prompt=True) if password_stdin else None
    with session_scope(settings_of(ctx)) as session:
        account = set_account(session, email, role=role, areas=areas or None, name=name,
                              lang=lang, actor=cli_actor())
        if password is not None:
            set_password(session, email, password, actor=cli_actor())
        data = account_dict(account)
    emit(data, as_json, lambda d: click.echo(f"{d['email']}: {d['role']}, "
                                             f"{', '.join(d['areas']) or 'all authorities'}"))


@users.command("disable")
@click.argument("email")
@click.option("--enable", is_flag=True, help="Enable the account again instead.")
@json_option
@click.pass_context
def users_disable(ctx, email, enable, as_json) -> None:
    """Disable an account: it cannot sign in, its sessions end and its tokens stop working."""
    from connectivity.officers import session_scope
    from connectivity.officers.accounts import account_dict, disable_account
    from connectivity.officers.audit import cli_actor

    with session_scope(settings_of(ctx)) as session:
        data = account_dict(disable_account(session, email, actor=cli_actor(), enable=enable))
    emit(data, as_json, lambda d: click.echo(
        f"{d['email']} {'enabled' if not d['disabled_at'] else 'disabled'}"))


@users.command("token")
@click.argument("email")
@click.option("--name", required=True, help="What uses the token, e.g. 'nightly export'.")
@json_option
@click.pass_context
def users_token(ctx, email, name, as_json) -> None:
    """Make an API token for the account and print it once (it is stored only as a hash)."""
    from connectivity.officers import session_scope
    from connectivity.officers.accounts import create_token, token_dict
    from connectivity.officers.audit import cli_actor

    with session_scope(settings_of(ctx)) as session:
        token, plain = create_token(session, email, name, actor=cli_actor())
        data = token_dict(token) | {"token": plain}
    emit(data, as_json, lambda d: click.echo(
        f"token {d['id']} ({d['name']}), shown only now:\n{d['token']}\n"
        "send it as 'Authorization: Bearer <token>' to /api/v1/officer/..."))


@users.command("revoke-token")
@click.argument("token_id", type=int)
@json_option
@click.pass_context
def users_revoke_token(ctx, token_id, as_json) -> None:
    """Revoke an API token (its id is in `connectivity users list`)."""
    from connectivity.officers import session_scope
    from connectivity.officers.accounts import revoke_token, token_dict
    from connectivity.officers.audit import cli_actor

    with session_scope(settings_of(ctx)) as session:
        data = token_dict(revoke_token(session, token_id, actor=cli_actor()))
    emit(data, as_json, lambda d: click.echo(f"token {d['id']} ({d['name']}) revoked"))


# -- audit ------------------------------------------------------------------------------------
@click.command("audit")
@click.option("--since", default=None, metavar="DATE", help="Only events from this date (YYYY-MM-DD) on.")
@click.option("--user", "email", default=None, metavar="EMAIL", help="Only this account's events.")
@click.option("--limit", type=click.IntRange(1, 100000), default=200, show_default=True)
@json_option
@click.pass_context
def audit_cmd(ctx, since, email, limit, as_json) -> None:
    """The audit log, newest first: sign-ins, account and token changes, exports, decisions."""
    from connectivity.officers import session_scope
    from connectivity.officers.audit import as_dict, list_events

    start = None
    if since:
        try:
            start = dt.datetime.fromisoformat(since)
        except ValueError:
            raise BadRequest(f"--since {since!r} is not a date", "for example --since 2026-11-01") from None
        if start.tzinfo is None:
            start = start.replace(tzinfo=dt.UTC)
    with session_scope(settings_of(ctx)) as session:
        data = [as_dict(e) for e in list_events(session, since=start, email=email, limit=limit)]

    def human(rows):
        for r in rows:
            what = f" {r['object_type']} {r['object_id']}" if r["object_type"] else ""
            click.echo(f"{r['at']:%Y-%m-%d %H:%M:%S} {r['actor']:<30} {r['action']}{what}"
                       + (f" {r['detail']}" if r["detail"] else ""))
    emit(data, as_json, human)


# -- reports ----------------------------------------------------------------------------------
@click.group("reports", cls=Group, invoke_without_command=True)
@click.option("--status", type=click.Choice(["new", "accepted", "rejected", "all"]), default="new",
              show_default=True, help="Which reports to list.")
@click.option("--csv", "as_csv", is_flag=True, help="Write CSV (one row per report).")
@json_option
@click.pass_context
def reports(ctx: click.Context, status: str, as_csv: bool, as_json: bool) -> None:
    """List residents' reports that the map is wrong (from the postcode pages), oldest first,
    with contact details (the listing is audited); `reports purge` blanks old contact details."""
    if ctx.invoked_subcommand is not None:
        return
    from connectivity.db import connect
    from connectivity.officers import session_scope
    from connectivity.officers.audit import cli_actor, record
    from connectivity.reports import list_reports

    settings = settings_of(ctx)
    with connect(settings) as conn:
        rows = list_reports(conn, None if status == "all" else status)
    with session_scope(settings) as session:
        record(session, "reports.export", actor=cli_actor(), object_type="report",
               detail={"rows": len(rows), "status": status,
                       "format": "csv" if as_csv else "json" if as_json else "text"})
    if as_csv:
        writer = csv.DictWriter(sys.stdout, list(rows[0]) if rows else ["id"])
        writer.writeheader()
        writer.writerows(rows)
        return

    def human(items):
        if not items:
            click.echo(f"no {status if status != 'all' else ''} reports".replace("  ", " "))
        for r in items:
            speeds = ""
            if r["measured_down"] is not None or r["measured_up"] is not None:
                speeds = f" measured {r['measured_down'] or '?'}/{r['measured_up'] or '?'} Mbit/s"
            click.echo(f"#{r['id']} {r['created_at']:%Y-%m-%d %H:%M} {r['postcode']}"
                       f" UPRN {r['uprn'] or '-'}: {r['problem']}{speeds} [{r['status']}]"
                       + (f"\n    {r['message']}" if r["message"] else "")
                       + (f"\n    contact: {r['contact']}" if r["contact"] else ""))
    emit(rows, as_json, human)


@reports.command("purge")
@click.option("--months", type=click.IntRange(1, 1200), default=None,
              help="Retention in months after a report is closed (default: the "
                   "report_retention_months setting, 12).")
@json_option
@click.pass_context
def reports_purge(ctx, months, as_json) -> None:
    """Blank the contact details of reports closed longer ago than the retention period."""
    from connectivity.officers import session_scope
    from connectivity.officers.audit import cli_actor
    from connectivity.officers.reports import purge_contacts

    settings = settings_of(ctx)
    months = months or settings.report_retention_months
    with session_scope(settings) as session:
        n = purge_contacts(session, months=months, actor=cli_actor())
    emit({"purged": n, "retention_months": months}, as_json, lambda d: click.echo(
        f"blanked the contact details of {d['purged']} report(s) closed more than "
        f"{d['retention_months']} months ago"))


# -- backup -----------------------------------------------------------------------------------
@click.command("backup")
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="The backup file (PostgreSQL custom format).")
@json_option
@click.pass_context
def backup_cmd(ctx, output, as_json) -> None:
    """Back up the officers' records (accounts, tokens, reports, audit log): the only data that
    cannot be loaded again from open sources."""
    from connectivity.officers import session_scope
    from connectivity.officers.audit import cli_actor, record
    from connectivity.officers.backup import backup

    settings = settings_of(ctx)
    result = backup(settings.conninfo, output)
    with session_scope(settings) as session:
        record(session, "backup", actor=cli_actor(), detail={"file": str(output),
                                                             "rows": result["rows"]})
    emit(result, as_json, lambda d: click.echo(
        f"wrote {d['file']} ({d['bytes']:,} bytes, schema {d['schema_version']}): "
        + ", ".join(f"{t} {n}" for t, n in d["rows"].items())))


@click.command("restore")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--replace", is_flag=True, help="Empty the workspace tables first.")
@json_option
@click.pass_context
def restore_cmd(ctx, file, replace, as_json) -> None:
    """Restore the officers' records from `connectivity backup`, then check every table's rows
    against the backup (all or nothing)."""
    from connectivity.officers import session_scope
    from connectivity.officers.audit import cli_actor, record
    from connectivity.officers.backup import restore

    settings = settings_of(ctx)
    result = restore(settings.conninfo, file, replace=replace)
    with session_scope(settings) as session:
        record(session, "restore", actor=cli_actor(), detail={"file": str(file),
                                                              "rows": result["rows"]})
    emit(result, as_json, lambda d: click.echo(
        f"restored {d['file']} (schema {d['schema_version']}), checked: "
        + ", ".join(f"{t} {n}" for t, n in d["rows"].items())))
