"""`connectivity challenges`: the review queue, screening and decisions, bulk challenge files,
publishing corrections and the conflicts with newer releases. Every change is audited with the
acting account (``--by``) or the operating-system user."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from connectivity.vocab import CHALLENGE_KINDS, CHALLENGE_REASONS, CHALLENGE_STATES

from .clitools import Group, emit, json_option, load_command, settings_of


def register(main: click.Group) -> None:
    main.add_command(challenges)


def _row(c: dict[str, Any]) -> str:
    flag = " OVERDUE" if c["overdue"] else ""
    where = c["uprn"] if c["uprn"] is not None else "(missing premises)"
    return (f"{c['id']:>6}  {c['state']:<12} {c['kind']:<16} {where!s:<16} "
            f"{c['postcode'] or '':<9} {c['la_code'] or '':<10} due {c['due_at']:%Y-%m-%d}{flag}")


@click.group(cls=Group)
def challenges() -> None:
    """Challenges to the map: review queue, screening, decisions, bulk files, corrections."""


def _require_account(session, email: str):
    from connectivity.officers.accounts import find_account
    return find_account(session, email)


@challenges.command("list")
@click.option("--state", type=click.Choice(["open", *CHALLENGE_STATES.codes]), default=None,
              help="Only challenges in this state (open: submitted or accepted).")
@click.option("--kind", type=click.Choice(CHALLENGE_KINDS.codes), default=None)
@click.option("--overdue", is_flag=True, help="Only open challenges past their deadline.")
@click.option("--by", "email", default=None, metavar="EMAIL",
              help="As this account sees them (its authorities); default: every authority.")
@click.option("--limit", type=click.IntRange(1, 500), default=200, show_default=True)
@json_option
@click.pass_context
def challenges_list(ctx, state, kind, overdue, email, limit, as_json) -> None:
    """The review queue, the nearest deadline first."""
    from connectivity.officers import session_scope
    from connectivity.officers.challenges import challenge_dict, challenges_in_scope

    with session_scope(settings_of(ctx)) as session:
        account = _require_account(session, email) if email else _operator(session)
        rows, total = challenges_in_scope(session, account, state=state, kind=kind,
                                          overdue=overdue, per_page=limit)
        data = {"total": total, "challenges": [challenge_dict(c) for c in rows]}

    def human(d):
        for c in d["challenges"]:
            click.echo(_row(c))
        click.echo(f"{d['total']:,} challenge(s)" + (f", {len(d['challenges'])} shown"
                                                     if d["total"] > len(d["challenges"]) else ""))
    emit(data, as_json, human)


def _operator(session):
    """The operator at the server's shell acts with an admin's view: the first active admin
    account's scope (scoping is by account in SQL), or a clear error when there is none."""
    from sqlalchemy import select

    from connectivity.errors import BadRequest
    from connectivity.officers.models import Account

    admin = session.scalars(select(Account).where(Account.role == "admin",
                                                  Account.disabled_at.is_(None))
                            .order_by(Account.id)).first()
    if admin is None:
        raise BadRequest("no admin account exists to act for",
                         "create one (`connectivity users add EMAIL --role admin`) or name the "
                         "acting account with --by")
    return admin


@challenges.command("show")
@click.argument("challenge_id", type=int)
@json_option
@click.pass_context
def challenges_show(ctx, challenge_id, as_json) -> None:
    """One challenge: what it says, its evidence check, neighbours, building and history."""
    from connectivity.officers import session_scope
    from connectivity.officers.challenges import (
        building,
        challenge_dict,
        challenge_in_scope,
        neighbours,
    )

    settings = settings_of(ctx)
    with session_scope(settings) as session:
        c = challenge_in_scope(session, _operator(session), challenge_id)
        data = challenge_dict(c, settings=settings)
        data["neighbours"] = neighbours(session, c)
        data["building"] = {k: v for k, v in building(session, c, settings).items() if k != "uprns"}

    def human(d):
        click.echo(_row(d))
        for key in ("origin", "availability_reason", "claimed_down", "claimed_up",
                    "evidence_ref", "observed_on", "reason", "corrected_down", "corrected_up",
                    "valid_until"):
            if d[key] is not None:
                click.echo(f"  {key}: {d[key]}")
        e = d["evidence"]
        click.echo(f"  evidence: {e['tests']} test(s) on {e['days']} day(s), median "
                   f"{e['median_down']}/{e['median_up']} Mbit/s; "
                   + ("enough" if e["enough"] else "missing: " + ", ".join(e["problems"])))
        n, b = d["neighbours"], d["building"]
        click.echo(f"  same postcode: {n['same_kind']} challenge(s) of this kind, "
                   f"{n['reports']} other report(s)")
        if b["units"] > 1:
            click.echo(f"  building: {b['challenged']} of {b['units']} units challenged"
                       + (" (escalates to the whole building)" if b["escalates"] else ""))
        for h in d["history"]:
            click.echo(f"  {h['at']:%Y-%m-%d %H:%M} {h['actor']}: {h['from'] or '-'} -> {h['to']}"
                       + (f" ({h['reason']})" if h["reason"] else ""))
    emit(data, as_json, human)


def _reasons_for(state: str) -> list[str]:
    return [r.code for r in CHALLENGE_REASONS if r.state == state]


@challenges.command("screen")
@click.argument("challenge_id", type=int)
@click.option("--by", "email", required=True, metavar="EMAIL", help="The officer screening it.")
@click.option("--accept", "decision", flag_value="accept", help="Accept it for review.")
@click.option("--screen-out", "decision", flag_value="out",
              help="Reject it for lack of evidence.")
@click.option("--reason", type=click.Choice(_reasons_for("accepted") + _reasons_for("screened_out")),
              default=None, help="Default: evidence_complete, or what the evidence check finds.")
@click.option("--kind", type=click.Choice(CHALLENGE_KINDS.codes), default=None,
              help="Correct the kind first.")
@click.option("--message", default=None, help="Words to the filer (sent as written).")
@json_option
@click.pass_context
def challenges_screen(ctx, challenge_id, email, decision, reason, kind, message, as_json) -> None:
    """Screen a submitted challenge."""
    from connectivity.errors import BadRequest
    from connectivity.officers import session_scope
    from connectivity.officers.challenges import challenge_dict, challenge_in_scope, screen

    if decision is None:
        raise BadRequest("say --accept or --screen-out")
    settings = settings_of(ctx)
    with session_scope(settings) as session:
        account = _require_account(session, email)
        c = challenge_in_scope(session, account, challenge_id)
        screen(session, c, account, settings, accept=decision == "accept", reason=reason,
               kind=kind, message=message, client="cli")
        data = challenge_dict(c)
    emit(data, as_json, lambda d: click.echo(_row(d) + f"  ({d['reason']})"))


@challenges.command("decide")
@click.argument("challenge_id", type=int)
@click.option("--by", "email", required=True, metavar="EMAIL", help="The officer deciding.")
@click.option("--uphold", "outcome", flag_value="upheld", help="The map was wrong: correct it.")
@click.option("--reject", "reject_reason", type=click.Choice(_reasons_for("rejected")),
              default=None, help="The map was right, for this reason.")
@click.option("--moot", "moot_reason", type=click.Choice(_reasons_for("moot")), default=None,
              help="No longer needed, for this reason.")
@click.option("--reason", type=click.Choice(_reasons_for("upheld")), default=None,
              help="Why it is upheld (default: evidence_confirms).")
@click.option("--down", type=float, default=None, help="Upheld: the download really available, Mbit/s.")
@click.option("--up", type=float, default=None, help="Upheld: the upload really available, Mbit/s.")
@click.option("--valid-until", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Upheld: the correction's last day (default: correction_valid_months on).")
@click.option("--whole-building", is_flag=True,
              help="Upheld: apply the correction to every premises at the same point.")
@click.option("--message", default=None, help="Words to the filer (sent as written).")
@json_option
@click.pass_context
def challenges_decide(ctx, challenge_id, email, outcome, reject_reason, moot_reason, reason,
                      down, up, valid_until, whole_building, message, as_json) -> None:
    """Decide an accepted challenge: --uphold [--down D --up U] | --reject REASON | --moot REASON."""
    from connectivity.errors import BadRequest
    from connectivity.officers import session_scope
    from connectivity.officers.challenges import challenge_dict, challenge_in_scope, decide

    chosen = [x for x in (outcome, reject_reason, moot_reason) if x]
    if len(chosen) != 1:
        raise BadRequest("say exactly one of --uphold, --reject REASON, --moot REASON")
    if outcome:
        result, why = "upheld", reason
    elif reject_reason:
        result, why = "rejected", reject_reason
    else:
        result, why = "moot", moot_reason
    settings = settings_of(ctx)
    with session_scope(settings) as session:
        account = _require_account(session, email)
        c = challenge_in_scope(session, account, challenge_id)
        decide(session, c, account, settings, outcome=result, reason=why, message=message,
               down=down, up=up, valid_until=valid_until.date() if valid_until else None,
               whole_building=whole_building, client="cli")
        data = challenge_dict(c)
        account_id, actor = account.id, account.email
    if result == "upheld" and settings.classify_after_decision:
        from etl.corrections import publish_and_classify
        data["published"] = publish_and_classify(settings, actor=actor, account_id=account_id)
    emit(data, as_json, lambda d: click.echo(_row(d) + f"  ({d['reason']})"))


@challenges.command("load")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--by", default=None, metavar="EMAIL",
              help="The filer's account: only premises in its authorities are accepted.")
@click.option("--force", is_flag=True, help="Load even if this exact file was loaded before.")
@json_option
@click.pass_context
def challenges_load(ctx, paths, by, force, as_json) -> None:
    """A bulk challenge file (the same as `connectivity load challenges FILE`)."""
    load_command(ctx, "challenges", paths, None, force, as_json,
                 {"by": by, "screen_days": settings_of(ctx).challenge_screen_days})


@challenges.command("publish")
@click.option("--classify", "and_classify", is_flag=True,
              help="Then run a classification, so the map shows the corrections.")
@json_option
@click.pass_context
def challenges_publish(ctx, and_classify, as_json) -> None:
    """Publish the corrections in force as a new correction release (listing conflicts with
    newer releases first); skipped when they have not changed."""
    from connectivity.officers.audit import cli_actor
    from etl.corrections import publish, publish_and_classify

    settings = settings_of(ctx)
    show = not as_json and sys.stderr.isatty()
    if and_classify:
        data = publish_and_classify(settings, actor=cli_actor(), show_progress=show)
    else:
        data = {"publish": publish(settings, actor=cli_actor(), show_progress=show)}

    def human(d):
        p = d["publish"]
        if p["status"] == "skipped":
            click.echo(f"corrections: {p['message']}")
        else:
            click.echo(f"corrections: release {p['release']} holds {p['corrections']:,} "
                       f"correction(s) (run {p['run_id']})")
        if p["conflicts_found"]:
            click.echo(f"  {p['conflicts_found']} new conflict(s) with newer releases: "
                       "connectivity challenges conflicts")
        if "classification" in d:
            r = d["classification"]
            click.echo(f"classified {r['premises']:,} premises as {r['label']} in {r['seconds']} s")
    emit(data, as_json, human)


@challenges.command("conflicts")
@click.option("--all", "everything", is_flag=True, help="Resolved ones too.")
@json_option
@click.pass_context
def challenges_conflicts(ctx, everything, as_json) -> None:
    """Upheld corrections a newer Ofcom or BDUK release disagrees with."""
    from connectivity.officers import session_scope
    from connectivity.officers.challenges import conflict_dict, conflicts_in_scope

    with session_scope(settings_of(ctx)) as session:
        data = [conflict_dict(k) for k in
                conflicts_in_scope(session, _operator(session), open_only=not everything)]

    def human(rows):
        for k in rows:
            click.echo(f"{k['id']:>5}  challenge {k['challenge_id']}  UPRN {k['uprn']}  "
                       f"{k['source']} {k['release']}  {k['detail']}"
                       + (f"  resolved: {k['resolution']}" if k["resolved_at"] else ""))
        click.echo(f"{len(rows)} conflict(s)")
    emit(data, as_json, human)


@challenges.command("resolve")
@click.argument("conflict_id", type=int)
@click.option("--by", "email", required=True, metavar="EMAIL")
@click.option("--keep-correction", "resolution", flag_value="keep_correction",
              help="The correction stays in force.")
@click.option("--accept-release", "resolution", flag_value="accept_release",
              help="The release is right: withdraw the correction.")
@json_option
@click.pass_context
def challenges_resolve(ctx, conflict_id, email, resolution, as_json) -> None:
    """Resolve a conflict (the next publication carries the result)."""
    from connectivity.errors import BadRequest
    from connectivity.officers import session_scope
    from connectivity.officers.challenges import conflict_dict, resolve_conflict

    if resolution is None:
        raise BadRequest("say --keep-correction or --accept-release")
    with session_scope(settings_of(ctx)) as session:
        account = _require_account(session, email)
        data = conflict_dict(resolve_conflict(session, conflict_id, account,
                                              resolution=resolution, client="cli"))
    emit(data, as_json, lambda k: click.echo(f"conflict {k['id']}: {k['resolution']}"))

