"""Commands for the officers' workspace: accounts and tokens, the audit log, residents' reports,
backup and restore. Every change is audited with the operating-system user as the actor."""

from __future__ import annotations

import csv
import datetime as dt
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from connectivity.errors import BadRequest

from .clitools import Group, emit, json_option, settings_of

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


def register(main: click.Group) -> None:
    for command in (users, audit_cmd, reports, backup_cmd, restore_cmd, lists_cmd):
        main.add_command(command)


def _in_session(ctx: click.Context, action: Callable[[Session, str], Any]) -> Any:
    """Run ``action(session, actor)`` in one transaction; the actor is the operating-system
    user, for the audit log."""
    from connectivity.officers import session_scope
    from connectivity.officers.audit import cli_actor

    with session_scope(settings_of(ctx)) as session:
        return action(session, cli_actor())


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
    from connectivity.officers.accounts import account_dict, add_account

    password = _read_password(confirm_prompt=True)
    data = _in_session(ctx, lambda session, actor: account_dict(add_account(
        session, email=email, role=role, areas=areas, name=name, lang=lang, password=password,
        actor=actor)))
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
    from connectivity.officers.accounts import account_dict, set_account, set_password

    password = _read_password(confirm_prompt=True) if password_stdin else None

    def change(session, actor):
        account = set_account(session, email, role=role, areas=areas or None, name=name,
                              lang=lang, actor=actor)
        if password is not None:
            set_password(session, email, password, actor=actor)
        return account_dict(account)
    data = _in_session(ctx, change)
    emit(data, as_json, lambda d: click.echo(f"{d['email']}: {d['role']}, "
                                             f"{', '.join(d['areas']) or 'all authorities'}"))


@users.command("disable")
@click.argument("email")
@click.option("--enable", is_flag=True, help="Enable the account again instead.")
@json_option
@click.pass_context
def users_disable(ctx, email, enable, as_json) -> None:
    """Disable an account: it cannot sign in, its sessions end and its tokens stop working."""
    from connectivity.officers.accounts import account_dict, disable_account

    data = _in_session(ctx, lambda session, actor: account_dict(
        disable_account(session, email, actor=actor, enable=enable)))
    emit(data, as_json, lambda d: click.echo(
        f"{d['email']} {'enabled' if not d['disabled_at'] else 'disabled'}"))


@users.command("token")
@click.argument("email")
@click.option("--name", required=True, help="What uses the token, e.g. 'nightly export'.")
@json_option
@click.pass_context
def users_token(ctx, email, name, as_json) -> None:
    """Make an API token for the account and print it once (it is stored only as a hash)."""
    from connectivity.officers.accounts import create_token, token_dict

    def make(session, actor):
        token, plain = create_token(session, email, name, actor=actor)
        return token_dict(token) | {"token": plain}
    data = _in_session(ctx, make)
    emit(data, as_json, lambda d: click.echo(
        f"token {d['id']} ({d['name']}), shown only now:\n{d['token']}\n"
        "send it as 'Authorization: Bearer <token>' to /api/v1/officer/..."))


@users.command("revoke-token")
@click.argument("token_id", type=int)
@json_option
@click.pass_context
def users_revoke_token(ctx, token_id, as_json) -> None:
    """Revoke an API token (its id is in `connectivity users list`)."""
    from connectivity.officers.accounts import revoke_token, token_dict

    data = _in_session(ctx, lambda session, actor: token_dict(
        revoke_token(session, token_id, actor=actor)))
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
    from connectivity.officers.reports import purge_contacts

    months = months or settings_of(ctx).report_retention_months
    n = _in_session(ctx, lambda session, actor: purge_contacts(session, months=months,
                                                               actor=actor))
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


# -- target lists -----------------------------------------------------------------------------
def filter_options(command):
    """One option per list filter (connectivity/officers/listfilters.py), named as in the API
    and the web form (``_`` written ``-``); repeatable where the filter takes several values."""
    from connectivity.officers.listfilters import HELP, ListFilters

    multiple = ListFilters.multiple()
    for name in reversed(ListFilters.names()):
        command = click.option(f"--{name.replace('_', '-')}", f"f_{name}", multiple=name in multiple,
                               default=None, help=HELP[name] + (" Repeatable." if name in multiple
                                                                else ""))(command)
    return command


def _filters_of(options: dict):
    from connectivity.officers.listfilters import ListFilters

    return ListFilters.from_dict({k[2:]: v for k, v in options.items()
                                  if k.startswith("f_") and v not in (None, ())})


@click.group("lists", cls=Group)
def lists_cmd() -> None:
    """Saved target lists: premises chosen by filters and a polygon, frozen as snapshots of a
    classification, refreshed on a newer one and exported (CSV, GeoPackage, GeoJSON)."""


@lists_cmd.command("create")
@click.argument("name")
@click.option("--owner", required=True, metavar="EMAIL", help="The account that owns the list.")
@click.option("--authority", "authorities", multiple=True, metavar="CODE",
              help="An authority (W06 code) the list belongs to; repeatable (default: the owner's).")
@click.option("--polygon", type=click.Path(path_type=Path, dir_okay=False),
              help="Only premises inside this polygon (GeoJSON, GeoPackage or KML, any CRS).")
@click.option("--notes", default="", help="Notes kept with the list.")
@click.option("--run", default=None, metavar="LABEL", help="Evaluate on this classification (default: the current one).")
@filter_options
@json_option
@click.pass_context
def lists_create(ctx, name, owner, authorities, polygon, notes, run, as_json, **filters) -> None:
    """Save a list and its first snapshot."""
    from connectivity.officers import session_scope
    from connectivity.officers.accounts import find_account
    from connectivity.officers.audit import cli_actor
    from connectivity.officers.lists import create_list, list_dict
    from connectivity.officers.polygons import read_polygon_file

    definition = _filters_of(filters)
    shape = read_polygon_file(polygon) if polygon else None
    with session_scope(settings_of(ctx)) as session:
        target = create_list(session, name=name, owner=find_account(session, owner),
                             filters=definition, polygon=shape, authorities=list(authorities),
                             notes=notes, run=run, actor=cli_actor())
        data = list_dict(session, target)
    emit(data, as_json, lambda d: click.echo(
        f"saved list {d['name']!r} ({d['id']}) for {', '.join(d['authorities'])}: "
        f"{d['snapshots'][-1]['premises']:,} premises on classification {d['snapshots'][-1]['run']}"))


@lists_cmd.command("count")
@click.option("--authority", "authorities", multiple=True, metavar="CODE",
              help="Count within these authorities (default: all).")
@click.option("--polygon", type=click.Path(path_type=Path, dir_okay=False),
              help="Only premises inside this polygon (GeoJSON, GeoPackage or KML).")
@click.option("--run", default=None, metavar="LABEL", help="The classification (default: the current one).")
@filter_options
@json_option
@click.pass_context
def lists_count(ctx, authorities, polygon, run, as_json, **filters) -> None:
    """How many premises a definition selects, by status and scheme (nothing is saved)."""
    from connectivity.db import connect
    from connectivity.officers.lists import count
    from connectivity.officers.polygons import read_polygon_file

    definition = _filters_of(filters)
    shape = read_polygon_file(polygon) if polygon else None
    with connect(settings_of(ctx)) as conn:
        data = count(conn, None, definition, polygon=shape, authorities=list(authorities), run=run)
    emit(data, as_json, lambda d: click.echo(
        f"{d['total']:,} premises on classification {d['run']}: "
        + ", ".join(f"{k} {v:,}" for k, v in d["status"].items())))


@lists_cmd.command("list")
@json_option
@click.pass_context
def lists_list(ctx, as_json) -> None:
    """Every saved list with its owner, authorities and latest snapshot."""
    from connectivity.officers import session_scope
    from connectivity.officers.lists import list_dict, visible_lists

    with session_scope(settings_of(ctx)) as session:
        data = [list_dict(session, t, with_summary=False) for t in visible_lists(session, None)]

    def human(rows):
        if not rows:
            click.echo("no lists: save one with `connectivity lists create NAME --owner EMAIL ...`")
        for r in rows:
            last = r["snapshots"][-1] if r["snapshots"] else None
            click.echo(f"{r['id']:>4} {r['name']:<36} {r['owner']:<30} {', '.join(r['authorities'])}"
                       + (f"  {last['premises']:,} premises ({last['run']})" if last else ""))
    emit(data, as_json, human)


@lists_cmd.command("show")
@click.argument("name")
@json_option
@click.pass_context
def lists_show(ctx, name, as_json) -> None:
    """A list: its definition, snapshots, and counts by status and scheme of the latest."""
    from connectivity.officers import session_scope
    from connectivity.officers.lists import get_list, list_dict

    with session_scope(settings_of(ctx)) as session:
        data = list_dict(session, get_list(session, None, name))

    def human(d):
        click.echo(f"{d['name']} ({d['id']}), owner {d['owner']}, authorities "
                   f"{', '.join(d['authorities'])}")
        if d["notes"]:
            click.echo(f"  notes: {d['notes']}")
        click.echo("  filters: " + (json.dumps(d["filters"], ensure_ascii=False) if d["filters"]
                                    else "none") + ("; a polygon" if d["polygon"] else ""))
        for snap in d["snapshots"]:
            click.echo(f"  snapshot {snap['id']}: classification {snap['run']}, "
                       f"{snap['premises']:,} premises, {snap['created_at']:%Y-%m-%d %H:%M} by "
                       f"{snap['created_by']}")
        counts = d.get("counts")
        if counts:
            click.echo("  by status: " + ", ".join(f"{k} {v:,}" for k, v in counts["status"].items()))
            click.echo("  by scheme: " + ", ".join(
                f"{k} {v['eligible']:,} eligible, {v['possibly']:,} possibly"
                for k, v in counts["scheme"].items()))
    emit(data, as_json, human)


@lists_cmd.command("refresh")
@click.argument("name")
@click.option("--accept", is_flag=True, help="Keep the result as the list's new snapshot "
                                              "(the old ones are kept).")
@click.option("--run", default=None, metavar="LABEL", help="The classification (default: the current one).")
@click.option("--limit", type=click.IntRange(1), default=None, help="Show at most this many premises.")
@json_option
@click.pass_context
def lists_refresh(ctx, name, accept, run, limit, as_json) -> None:
    """Evaluate a list again on a newer classification: the premises added, removed and changed
    (status, band, eligibility, planned build) with the old and new reasons."""
    from connectivity.officers import session_scope
    from connectivity.officers.audit import cli_actor
    from connectivity.officers.lists import get_list, refresh

    with session_scope(settings_of(ctx)) as session:
        data = refresh(session, get_list(session, None, name), accept=accept, actor=cli_actor(),
                       run=run, limit=limit)

    def human(d):
        click.echo(f"{d['list']}: snapshot {d['from_snapshot']} (classification {d['from']}) -> "
                   f"classification {d['to']}: {d['added']:,} added, {d['removed']:,} removed, "
                   f"{d['changed']:,} changed")
        for p in d["premises"]:
            moved = [f"{f} {p[f + '_before']} -> {p[f + '_after']}" for f in
                     ("status", "band", "eligible_abc", "eligible_lbf", "eligible_uso",
                      "eligible_voucher", "planned_build")
                     if p[f + "_before"] != p[f + "_after"] and p["change"] == "changed"]
            click.echo(f"  {p['change']:<7} {p['uprn']} {p['postcode'] or ''} "
                       + ("; ".join(moved) if moved else "")
                       + f" [ABC: {p['abc_reason_before_text'] or '-'} -> "
                         f"{p['abc_reason_after_text'] or '-'}]")
        click.echo(f"accepted as snapshot {d['snapshot']}" if d["accepted"]
                   else "not saved: run again with --accept to keep it as a new snapshot")
    emit(data, as_json, human)


@lists_cmd.command("export")
@click.argument("name")
@click.option("--format", "fmt", required=True, type=click.Choice(["csv", "gpkg", "geojson"]),
              help="csv (UTF-8 with BOM, for Excel), gpkg (GeoPackage, styled by status in QGIS) "
                   "or geojson (WGS84).")
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path),
              help="The file to write.")
@click.option("--snapshot", default=None, metavar="ID", help="An older snapshot (default: the latest).")
@click.option("--lang", default="en", show_default=True, type=click.Choice(["en", "cy"]),
              help="The language of the reasons.")
@json_option
@click.pass_context
def lists_export(ctx, name, fmt, output, snapshot, lang, as_json) -> None:
    """Write a list's snapshot with reasons, release dates and the attribution (audited)."""
    from connectivity.officers import session_scope
    from connectivity.officers.audit import cli_actor
    from connectivity.officers.lists import export_list, get_list

    with session_scope(settings_of(ctx)) as session:
        rows = export_list(session, get_list(session, None, name), output, fmt, actor=cli_actor(),
                           snapshot=snapshot, lang=lang)
    emit({"rows": rows, "file": str(output), "format": fmt}, as_json,
         lambda d: click.echo(f"wrote {d['rows']:,} premises to {d['file']}"))
