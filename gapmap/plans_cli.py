"""`connectivity plan`: clusters of an authority's target premises with the cost of connecting
each, plans made of chosen clusters, two plans side by side, and a plan's bid pack. Run as the
service's operator (every authority); changes and exports are audited as ``cli:<user>``.
Design: docs/planning.md."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .clitools import Group, emit, json_option, settings_of


def register(main: click.Group) -> None:
    main.add_command(plan)


@click.group("plan", cls=Group)
def plan() -> None:
    """Intervention planning: clusters, their costs, plans and bid packs (docs/planning.md)."""


def _progress(as_json: bool):
    if as_json or not sys.stderr.isatty():
        return None
    return lambda message: click.echo(f"  {message}...", err=True)


def _model(ctx):
    from connectivity.costs import load_costs

    return load_costs(settings_of(ctx).costs_file)


def _cluster_options(f):
    for option in reversed((
        click.option("--area", "area", required=True, metavar="CODE",
                     help="The local authority (W06 code)."),
        click.option("--list", "list_name", default=None, metavar="NAME",
                     help="Cluster a saved target list's latest snapshot (its premises in the "
                          "authority) instead of the authority's current targets."),
        click.option("--distance", type=float, default=None, metavar="M",
                     help="Premises this close (metres) join a cluster (default: the cost "
                          "model's clusters.distance_m, 100)."),
        click.option("--min-premises", type=int, default=None, metavar="N",
                     help="The fewest premises of a cluster (default: clusters.min_premises, 5)."),
        click.option("--probability", type=float, default=None, metavar="P",
                     help="A possibly-below premises is a target from this probability "
                          "(default: clusters.probability_below, 0.5)."),
        click.option("--target", type=click.Choice(["30", "gigabit"]), default="30",
                     show_default=True,
                     help="What the recommended option must reach: 30 Mbit/s or gigabit."),
    )):
        f = option(f)
    return f


def _params(model, distance, min_premises, probability, target):
    from connectivity.planning import params_from

    return params_from(model, distance_m=distance, min_premises=min_premises,
                       probability_below=probability, target=target)


def _money(v) -> str:
    return "-" if v is None else f"£{v:,.0f}"


def _cluster_line(c) -> str:
    label = f"{c['id']:>5}" if c["id"] else "isol."
    flags = ("  VERY HIGH COST" if c["very_high_cost"] else "") + \
            ("  not robust" if c["robust"] is False else "") + \
            ("" if c["meets_target"] else "  misses the target")
    served = "-" if c["served_distance_m"] is None else f"{c['served_distance_m']:,.0f} m"
    route = "-" if c["route_m"] is None else f"{c['route_m']:,.0f} m"
    need = "-" if c["need_wimd_rank"] is None else f"{c['need_wimd_rank']:g}"
    return (f"{label} {c['premises']:>6,} {c['expected']:>8,.1f}  need {need:>6}  "
            f"served {served:>9}  route {route:>9}  {c['recommended'] or '-':<14} "
            f"{_money(c['per_premises_gbp']):>8}/premises{flags}")


def _totals_lines(t) -> None:
    click.echo(f"{t['clusters']:,} cluster(s) holding {t['clustered_premises']:,} premises, "
               f"{t['isolated_premises']:,} isolated; {t['premises']:,} premises, "
               f"{t['expected']:,.1f} expected below 30 Mbit/s")
    share = "-" if t.get("share_of_targets") is None else f"{t['share_of_targets'] * 100:.1f} %"
    click.echo(f"recommended: {_money(t['recommended_gbp'])} ({_money(t['per_premises_gbp'])} "
               f"per premises); {share} of the authority's {t.get('authority_targets', 0):,} "
               f"targets; {t['most_deprived']:,} in the most deprived WIMD quintile")
    click.echo("  by option: " + ", ".join(
        f"{o} {b['premises']:,} premises {_money(b['gbp'])}" for o, b in t["by_option"].items()))


@plan.command("clusters")
@_cluster_options
@json_option
@click.pass_context
def plan_clusters(ctx, area, list_name, distance, min_premises, probability, target,
                  as_json) -> None:
    """Cluster an authority's targets (or a list's premises) and cost each cluster: premises,
    need, distance to the nearest served premises (a proxy for the network), route, the cost of
    each option and the recommended one."""
    from connectivity.officers import session_scope
    from connectivity.officers.plans import clusters_for

    model = _model(ctx)
    params = _params(model, distance, min_premises, probability, target)
    with session_scope(settings_of(ctx)) as session:
        data = clusters_for(session, None, model, params, la=area, list_ident=list_name,
                            progress=_progress(as_json))

    def human(d):
        click.echo(f"{d['authority']} on classification {d['run']}"
                   + (f", list {d['list']}" if d["list"] else "")
                   + f"; cost model {d['costs_version']}; target {d['params']['target']}")
        click.echo("   id premises expected  (served: the nearest premises with 30 Mbit/s or "
                   "more, a proxy for the network)")
        for c in d["clusters"] + ([d["isolated"]] if d["isolated"] else []):
            click.echo(_cluster_line(c))
        _totals_lines(d["totals"])
    emit(data, as_json, human)


@plan.command("create")
@click.argument("name")
@click.option("--owner", required=True, metavar="EMAIL", help="The plan's owner (an officer "
                                                              "of the authority, or an admin).")
@_cluster_options
@click.option("--cluster", "cluster_ids", multiple=True, type=click.IntRange(min=0),
              metavar="ID", help="A cluster to include (repeatable; 0: the isolated premises), "
                                 "as `connectivity plan clusters` numbers them.")
@click.option("--all", "take_all", is_flag=True, help="Every cluster and the isolated premises.")
@click.option("--notes", default="", help="Free text kept with the plan.")
@json_option
@click.pass_context
def plan_create(ctx, name, owner, area, list_name, distance, min_premises, probability, target,
                cluster_ids, take_all, notes, as_json) -> None:
    """Save chosen clusters as a plan, frozen with their figures and premises (audited)."""
    from connectivity.errors import BadRequest
    from connectivity.officers import session_scope
    from connectivity.officers.accounts import find_account
    from connectivity.officers.audit import cli_actor
    from connectivity.officers.plans import create_plan, plan_dict

    if take_all == bool(cluster_ids):
        raise BadRequest("give the clusters to include (--cluster ID, repeatable) or --all")
    model = _model(ctx)
    params = _params(model, distance, min_premises, probability, target)
    with session_scope(settings_of(ctx)) as session:
        made = create_plan(session, name=name, owner=find_account(session, owner), la=area,
                           model=model, params=params,
                           cluster_ids=None if take_all else list(cluster_ids),
                           list_ident=list_name, notes=notes, actor=cli_actor(),
                           progress=_progress(as_json))
        data = plan_dict(session, made, with_clusters=False)

    def human(d):
        click.echo(f"saved plan {d['name']} ({d['id']}) for {d['authority']}")
        _totals_lines(d["totals"])
    emit(data, as_json, human)


@plan.command("list")
@json_option
@click.pass_context
def plan_list(ctx, as_json) -> None:
    """The saved plans."""
    from connectivity.officers import session_scope
    from connectivity.officers.plans import plan_dict, visible_plans

    with session_scope(settings_of(ctx)) as session:
        data = [plan_dict(session, p, with_clusters=False) for p in visible_plans(session, None)]

    def human(d):
        if not d:
            click.echo("no plans: make one with `connectivity plan create NAME --owner EMAIL "
                       "--area CODE --all`")
        for p in d:
            t = p["totals"]
            click.echo(f"{p['id']:>5}  {p['name']}  {p['authority']}  target {p['target']}  "
                       f"{t['premises']:,} premises  {_money(t['recommended_gbp'])}")
    emit(data, as_json, human)


@plan.command("show")
@click.argument("name")
@json_option
@click.pass_context
def plan_show(ctx, name, as_json) -> None:
    """A plan: where its premises came from, its clusters with their figures, its totals."""
    from connectivity.officers import session_scope
    from connectivity.officers.plans import get_plan, plan_dict

    with session_scope(settings_of(ctx)) as session:
        data = plan_dict(session, get_plan(session, None, name))

    def human(d):
        click.echo(f"{d['name']} ({d['id']}), {d['authority']}, owner {d['owner']}, target "
                   f"{d['target']}; classification {d['run']}, cost model {d['costs_version']}"
                   + (f", list {d['list']}" if d["list"] else ""))
        if d["notes"]:
            click.echo(f"  notes: {d['notes']}")
        for c in d["clusters"]:
            click.echo(_cluster_line(c))
        _totals_lines(d["totals"])
    emit(data, as_json, human)


@plan.command("compare")
@click.argument("first")
@click.argument("second")
@json_option
@click.pass_context
def plan_compare(ctx, first, second, as_json) -> None:
    """Two plans side by side: totals, the difference (second - first), premises shared."""
    from connectivity.officers import session_scope
    from connectivity.officers.plans import compare, get_plan

    with session_scope(settings_of(ctx)) as session:
        data = compare(session, get_plan(session, None, first), get_plan(session, None, second))

    def human(d):
        a, b = d["a"]["totals"], d["b"]["totals"]
        click.echo(f"{'':<22}{d['a']['name'][:20]:>20}{d['b']['name'][:20]:>20}{'difference':>14}")
        for key in ("clusters", "premises", "expected", "targets", "most_deprived",
                    "recommended_gbp", "per_premises_gbp", "share_of_targets", "very_high_cost"):
            diff = d["difference"][key]
            click.echo(f"{key:<22}{a[key] if a[key] is not None else '-'!s:>20}"
                       f"{b[key] if b[key] is not None else '-'!s:>20}"
                       f"{diff if diff is not None else '-'!s:>14}")
        click.echo(f"premises in both: {d['shared_premises']:,}")
    emit(data, as_json, human)


@plan.command("export")
@click.argument("name")
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path),
              help="The zip to write: plan.gpkg, premises.csv, summary.html (and .pdf).")
@json_option
@click.pass_context
def plan_export(ctx, name, output, as_json) -> None:
    """Write a plan's bid pack (audited): a GeoPackage styled for QGIS, the premises CSV and a
    printable summary in Welsh and English."""
    from connectivity.officers import session_scope
    from connectivity.officers.audit import cli_actor
    from connectivity.officers.bidpack import export_bidpack
    from connectivity.officers.plans import get_plan

    with session_scope(settings_of(ctx)) as session:
        data = export_bidpack(session, get_plan(session, None, name), output, actor=cli_actor())

    def human(d):
        layers = ", ".join(f"{k} {v:,}" for k, v in d["layers"].items())
        click.echo(f"wrote {d['file']}: GeoPackage ({layers}), {d['premises_csv_rows']:,} "
                   f"premises in the CSV, summary.html"
                   + (", summary.pdf" if d["pdf"] else f" (no PDF: {d['pdf_note']})"))
    emit(data, as_json, human)
