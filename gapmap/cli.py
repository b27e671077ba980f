"""The ``connectivity`` command: one group, verbs as subcommands, ``--json`` where scripts read.

Exit codes: 0 success, 1 unexpected error, 2 usage or configuration error, 3 database unreachable,
4 schema out of date, 5 local cluster error, 6 bad input file, 7 not found.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Any

import click

from connectivity import __version__
from connectivity.errors import GapmapError
from connectivity.settings import SETTINGS, Settings, load_settings
from connectivity.vocab import LANGS, SCHEMES, STATISTICS_LEVELS, STATUSES

from .clitools import Group as _Group
from .clitools import emit as _emit
from .clitools import json_option
from .clitools import load_command as _do_load
from .clitools import settings_of as _settings
from .demo import SCALES, bundled_inputs, demo_classify, other_scale_loaded, synthetic_inputs


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="connectivity")
@click.option("--config", type=click.Path(path_type=Path), default=None,
              help="TOML config file (default: $CONNECTIVITY_CONFIG, else ./connectivity.toml).")
@click.option("--database-url", default=None, metavar="URL",
              help="PostgreSQL URL; overrides DATABASE_URL and the config file.")
@click.pass_context
def main(ctx: click.Context, config: Path | None, database_url: str | None) -> None:
    """Broadband gap map for Wales: load open data into PostGIS, classify premises, serve the map.

    Start with `connectivity demo`, which sets up a local PostGIS, loads the bundled Welsh data
    and serves the map on http://127.0.0.1:5000.
    """
    try:
        settings = load_settings({"database_url": database_url}, config_file=config)
    except GapmapError as exc:
        click.echo(f"error: {exc}", err=True)
        ctx.exit(exc.exit_code)
    ctx.obj = {"settings": settings}


# ---------------------------------------------------------------------------------------------
@main.command("config")
@json_option
@click.pass_context
def config_cmd(ctx: click.Context, as_json: bool) -> None:
    """Show every setting, its value and where the value came from."""
    settings = _settings(ctx)
    values = settings.as_dict()
    data = [{"name": s.name, "value": values[s.name], "source": settings.sources[s.name],
             "env": s.env, "help": s.help} for s in SETTINGS]

    def human(rows):
        for row in rows:
            click.echo(f"{row['name']:<22} {row['value']!s:<45} [{row['source']}]")
    _emit(data, as_json, human)


# ---------------------------------------------------------------------------------------------
@main.group(cls=_Group)
def db() -> None:
    """The database: a project-local PostGIS (up/down) and the schema (migrate/reset/status)."""


def _local_cluster(settings: Settings):
    from connectivity.db.cluster import LocalCluster

    if not settings.uses_local_cluster:
        raise GapmapError(
            "DATABASE_URL (or PG* variables) is set, so there is no project-local cluster to manage",
            "unset DATABASE_URL to use the local cluster; manage your own server yourself",
        )
    return LocalCluster.from_settings(settings)


@db.command("up")
@click.option("--no-migrate", is_flag=True, help="Start the server but leave the schema alone.")
@json_option
@click.pass_context
def db_up(ctx: click.Context, no_migrate: bool, as_json: bool) -> None:
    """Create (once) and start the project-local PostGIS, then migrate the schema."""
    settings = _settings(ctx)
    cluster = _local_cluster(settings)
    result = cluster.up() | {"data_dir": str(cluster.data_dir), "url": settings.conninfo}
    if not no_migrate:
        result["migrations_applied"] = _migrate(settings)

    def human(r):
        state = "started" if r["started"] else "already running"
        click.echo(f"PostGIS {state} at {r['url']} (data in {r['data_dir']})")
        if r.get("migrations_applied"):
            click.echo("applied migrations: " + ", ".join(r["migrations_applied"]))
    _emit(result, as_json, human)


@db.command("down")
@click.pass_context
def db_down(ctx: click.Context) -> None:
    """Stop the project-local PostGIS (data is kept)."""
    cluster = _local_cluster(_settings(ctx))
    click.echo("stopped" if cluster.stop() else "not running")


def _migrate(settings: Settings) -> list[str]:
    from connectivity.db import connect, migrate

    with connect(settings, autocommit=True) as conn:
        return [f"{m.version:04d}_{m.name}" for m in migrate(conn)]


@db.command("migrate")
@json_option
@click.pass_context
def db_migrate(ctx: click.Context, as_json: bool) -> None:
    """Apply pending schema migrations (safe to run any time)."""
    applied = _migrate(_settings(ctx))
    _emit({"applied": applied}, as_json, lambda d: click.echo(
        "applied: " + ", ".join(d["applied"]) if d["applied"] else "schema is up to date"))


@db.command("reset")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def db_reset(ctx: click.Context, yes: bool) -> None:
    """Drop every table of the product (all loaded data) and migrate from nothing."""
    from connectivity.db import connect, reset

    settings = _settings(ctx)
    if not yes:
        click.confirm(f"Delete all gap-map data in {settings.redacted_conninfo()}?", abort=True)
    with connect(settings, autocommit=True) as conn:
        applied = reset(conn)
    click.echo("reset; applied: " + ", ".join(f"{m.version:04d}_{m.name}" for m in applied))


@db.command("status")
@json_option
@click.pass_context
def db_status(ctx: click.Context, as_json: bool) -> None:
    """Server, PostGIS and schema versions, and the local cluster's state. Exit 3 if unreachable."""
    from connectivity.areas import counts
    from connectivity.db import connect, server_info
    from connectivity.db.migrate import applied_migrations, available_migrations, current_version

    settings = _settings(ctx)
    data: dict[str, Any] = {"url": settings.redacted_conninfo(), "reachable": False}
    if settings.uses_local_cluster:
        from connectivity.db.cluster import LocalCluster

        data["local_cluster"] = LocalCluster.from_settings(settings).status()
    latest = available_migrations()[-1].version
    data["schema_latest"] = latest
    error = None
    try:
        with connect(settings, autocommit=True, connect_timeout=5) as conn:
            data.update(server_info(conn), reachable=True)
            data["schema_version"] = current_version(conn)
            data["schema_current"] = data["schema_version"] == latest
            if applied_migrations(conn):
                data["contents"] = counts(conn)
    except GapmapError as exc:
        error = exc
        data["error"] = exc.message

    def human(d):
        click.echo(f"database:  {d['url']}")
        if d.get("local_cluster"):
            lc = d["local_cluster"]
            click.echo(f"local:     {'running' if lc['running'] else 'stopped'} "
                       f"(port {lc['port']}, data {lc['data_dir']})")
        if d["reachable"]:
            click.echo(f"server:    PostgreSQL {d['server_version']}, "
                       f"PostGIS {d['postgis_version'] or 'not installed'}")
            click.echo(f"schema:    version {d['schema_version']} of {d['schema_latest']}"
                       + ("" if d["schema_current"] else "  (run `connectivity db migrate`)"))
            if d.get("contents"):
                click.echo("contents:  " + ", ".join(f"{k} {v:,}" for k, v in d["contents"].items()))
        else:
            click.echo(f"unreachable: {d['error']}")
    _emit(data, as_json, human)
    if error is not None:
        ctx.exit(error.exit_code)


# ---------------------------------------------------------------------------------------------
@main.group(cls=_Group)
def load() -> None:
    """Load source files into PostGIS (one transaction per load; safe to re-run)."""


def _load_common(func):
    func = click.option("--release", default=None, metavar="LABEL",
                        help="Release label recorded with the load, e.g. 2025-10.")(func)
    func = click.option("--force", is_flag=True,
                        help="Load even if these exact files were loaded before.")(func)
    func = click.option("--synthetic", is_flag=True,
                        help="Label the data as synthetic demo data (shown on the map).")(func)
    func = json_option(func)
    func = click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))(func)
    return func


@load.command("postcodes")
@_load_common
@click.pass_context
def load_postcodes(ctx, paths, release, force, synthetic, as_json) -> None:
    """Postcode centroids: OS Code-Point Open (area CSVs, the Data/CSV folder or the zip),
    headered CSVs, ONS NSPL/ONSPD."""
    _do_load(ctx, "postcodes", paths, release, force, as_json, synthetic=synthetic)


@load.command("uprn")
@_load_common
@click.option("--within", default=None, metavar="AREAS",
              help="Keep only premises in these loaded areas: 'wales' (every authority) or "
                   "comma-separated codes. Others are counted as filtered.")
@click.pass_context
def load_uprn(ctx, paths, release, force, synthetic, as_json, within) -> None:
    """OS Open UPRN premises (CSV with BOM, plain, .gz or .zip)."""
    _do_load(ctx, "uprn", paths, release, force, as_json, {"within": within}, synthetic)


@load.command("premises")
@_load_common
@click.option("--crs", default=None, help="CRS of x/y columns in CSVs (default EPSG:27700), or for "
              "vector files that declare none.")
@click.pass_context
def load_premises(ctx, paths, release, force, synthetic, as_json, crs) -> None:
    """Premises from CSV / GeoPackage / GeoJSON: UPRN with coordinates, lat/lon, or a postcode."""
    _do_load(ctx, "premises", paths, release, force, as_json, {"crs": crs}, synthetic)


def _simple_load_command(kind: str, help_text: str) -> None:
    """A `load KIND` command with only the common options."""

    @load.command(kind, help=help_text)
    @_load_common
    @click.pass_context
    def command(ctx, paths, release, force, synthetic, as_json) -> None:
        _do_load(ctx, kind, paths, release, force, as_json, synthetic=synthetic)


for _kind, _help in (
    ("bduk", "BDUK UPRN release CSVs (one or many, a folder or the zip); release from YYYYMM_ names."),
    ("ofcom-coverage", "Ofcom Connected Nations fixed coverage: postcode files (many, a folder or "
     "the release zip), output-area or local-authority files. Every header vintage we know is "
     "recognised."),
    ("ofcom-performance", "Ofcom Connected Nations postcode performance files (measured line speeds)."),
    ("ofcom-api", "Saved Ofcom coverage-API responses (JSON per postcode, or JSON lines): "
     "premises level."),
    ("wimd", "Welsh Index of Multiple Deprivation ranks by LSOA (CSV)."),
    ("places", "Named places for the search box: OpenStreetMap place points (GeoJSON or "
     "GeoPackage with name and fclass or place); each load replaces the places."),
    ("ookla", "Ookla open data fixed-network speed test tiles (Parquet or zipped Shapefile; "
     "CC BY-NC-SA, non-commercial), --release YYYY-QN: tiles touching the loaded Welsh "
     "authorities."),
    ("addressbase", "OS AddressBase Plus (with or without its header) or Premium (multi-record) "
     "CSV, plain or zipped: each premises' address in English and Welsh, class, parent UPRN and "
     "kind. A full supply: each load replaces the addresses; change-only updates are refused."),
):
    _simple_load_command(_kind, _help)


@load.command("speed-raster")
@_load_common
@click.option("--band", type=int, default=1, show_default=True, help="Band holding the speed.")
@click.option("--nodata", type=float, default=None, help="Nodata value, when the file has none.")
@click.option("--crs", default=None, help="CRS, when the file declares none.")
@click.pass_context
def load_speed_raster(ctx, paths, release, force, synthetic, as_json, band, nodata, crs) -> None:
    """A GeoTIFF speed surface (Mbit/s), sampled at every loaded premises."""
    _do_load(ctx, "speed-raster", paths, release, force, as_json,
             {"band": band, "nodata": nodata, "crs": crs}, synthetic)


@load.command("challenges")
@_load_common
@click.option("--by", default=None, metavar="EMAIL",
              help="The filer's account (an officer or admin): only premises in its authorities "
                   "are accepted. Default: filed from the command line, unscoped.")
@click.option("--screen-days", type=click.IntRange(min=1), default=None,
              help="Days to screen each challenge (default: the challenge_screen_days setting).")
@click.pass_context
def load_challenges(ctx, paths, release, force, synthetic, as_json, by, screen_days) -> None:
    """A bulk challenge file (CSV: uprn, kind, claimed speeds, speed tests, evidence, date):
    each row a challenge in state submitted, or a reject with its reason."""
    if screen_days is None:
        screen_days = _settings(ctx).challenge_screen_days
    _do_load(ctx, "challenges", paths, release, force, as_json,
             {"by": by, "screen_days": screen_days}, synthetic)


@load.command("boundaries")
@_load_common
@click.option("--level", required=True,
              type=click.Choice(["country", "la", "ward", "lsoa", "msoa", "constituency", "oa"]),
              help="What the polygons are.")
@click.option("--code-column", default=None, help="Code column (default: found by prefix, e.g. LAD25CD).")
@click.option("--name-column", default=None, help="English name column (default: <prefix>NM).")
@click.option("--name-cy-column", default=None, help="Welsh name column (default: <prefix>NMW).")
@click.option("--crs", default=None, help="CRS for files that declare none, e.g. EPSG:27700.")
@click.pass_context
def load_boundaries(ctx, paths, release, force, synthetic, as_json, level, code_column,
                    name_column, name_cy_column, crs) -> None:
    """Area boundaries from GeoJSON, GeoPackage or Shapefile (plain, .gz or .zip)."""
    _do_load(ctx, "boundaries", paths, release, force, as_json, {
        "level": level, "code_column": code_column, "name_column": name_column,
        "name_cy_column": name_cy_column, "crs": crs}, synthetic)


# ---------------------------------------------------------------------------------------------
@main.command("classify")
@click.option("--release", "up_to", default=None, metavar="LABEL",
              help="Use, for each source, the newest release labelled on or before this one.")
@click.option("--label", default=None, help="Name of this run (default: the newest release used).")
@click.option("--list", "list_only", is_flag=True, help="List the classification runs and stop.")
@json_option
@click.pass_context
def classify_cmd(ctx, up_to, label, list_only, as_json) -> None:
    """Classify every premises: best speed, evidence, status, scheme eligibility; then the
    statistics of every area. The new run becomes current in one step."""
    from connectivity.classify import classify
    from connectivity.db import connect
    from connectivity.rules import load_rules
    from connectivity.runs import list_runs

    settings = _settings(ctx)
    with connect(settings, autocommit=True) as conn:
        if list_only:
            runs = list_runs(conn)
            _emit(runs, as_json, lambda rs: [click.echo(
                f"{r['label']:<12} {'current' if r['is_current'] else '':<8} "
                f"{r['premises']:>10,} premises  rules {r['rules_version']}  "
                + ", ".join(f"{k} {v}" for k, v in r["releases"].items())) for r in rs])
            return
        result = classify(conn, load_rules(settings.rules_file), up_to=up_to, label=label)

    def human(r):
        click.echo(f"classified {r['premises']:,} premises as {r['label']} in {r['seconds']} s "
                   f"(rules {r['rules_version']})")
        click.echo("  status:   " + ", ".join(f"{k} {v:,}" for k, v in r["status"].items()))
        click.echo("  evidence: " + ", ".join(f"{k} {v:,}" for k, v in r["evidence"].items()))
        click.echo("  releases: " + ", ".join(f"{k} {v}" for k, v in r["releases"].items()))
    _emit(result, as_json, human)


@main.command("stats")
@click.option("--level", required=True,
              type=click.Choice(STATISTICS_LEVELS.codes))
@click.option("--hex-size", type=int, default=None, help="Hexagon edge in metres (500, 2000, 8000).")
@click.option("--run", default=None, help="Classification run label (default: the current one).")
@json_option
@click.pass_context
def stats_cmd(ctx, level, hex_size, run, as_json) -> None:
    """Statistics per area: premises, status counts, expected number below 30 Mbit/s, share,
    median speed, counts per band and per scheme (and WIMD rank for LSOAs)."""
    from connectivity.db import connect
    from connectivity.outputs import stats

    with connect(_settings(ctx), autocommit=True) as conn:
        rows = stats(conn, level, run, hex_size)

    def human(items):
        click.echo(f"{'code':<12} {'name':<28} {'premises':>9} {'below':>7} {'possibly':>8} "
                   f"{'exp. <30':>9} {'share':>6} {'ABC':>6} {'LBF':>6}")
        for r in items:
            name = (r.get("name_en") or "")[:28]
            click.echo(f"{r['code']:<12} {name:<28} {r['premises']:>9,} {r['below']:>7,} "
                       f"{r['possibly_below']:>8,} {r['expected_below_30']:>9,.1f} "
                       f"{(r['share_below'] or 0) * 100:>5.1f}% {r['abc_eligible']:>6,} "
                       f"{r['lbf_eligible']:>6,}")
    _emit(rows, as_json, human)


@main.command("diff")
@click.option("--from", "before", required=True, help="Classification run label (older).")
@click.option("--to", "after", required=True, help="Classification run label (newer).")
@click.option("--level", default="la", show_default=True,
              type=click.Choice(["la", "ward", "lsoa", "msoa", "constituency", "postcode"]))
@click.option("--limit", type=int, default=20, show_default=True,
              help="How many changed premises to list (0: all).")
@json_option
@click.pass_context
def diff_cmd(ctx, before, after, level, limit, as_json) -> None:
    """What changed between two classification runs: premises and areas."""
    from connectivity.db import connect
    from connectivity.outputs import diff

    with connect(_settings(ctx), autocommit=True) as conn:
        result = diff(conn, before, after, level, limit or None)

    def human(d):
        click.echo(f"{d['premises_changed']:,} premises changed from {d['from']} to {d['to']}")
        for t in d["status_changes"]:
            click.echo(f"  {t['from']} -> {t['to']}: {t['premises']:,}")
        for a in d["areas"]:
            click.echo(f"  {a['code']} {a['name_en'] or '':<24} expected below 30: "
                       f"{a['expected_below_30_before'] or 0:,.1f} -> {a['expected_below_30_after'] or 0:,.1f}")
    _emit(result, as_json, human)


@main.command("export")
@click.option("--format", "fmt", required=True, type=click.Choice(["csv", "gpkg", "geojson"]))
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--area", "areas", multiple=True, help="Only premises in this area code (repeatable).")
@click.option("--status", "statuses", multiple=True,
              type=click.Choice(STATUSES.codes), help="Only premises of this status (repeatable).")
@click.option("--scheme", default=None, type=click.Choice(SCHEMES.codes),
              help="Only premises eligible or possibly eligible for the scheme "
                   "(eligible_<scheme> 'eligible' or 'possibly'): abc, those below 30 Mbit/s and "
                   "possibly below (at any probability); lbf, the same but in no planned build; "
                   "uso, those below 10 down or 1 up, and possibly (a postcode share between 0 "
                   "and 100 %); voucher, none while suspended in Wales. Add --min-probability "
                   "to leave out the unlikely 'possibly' ones.")
@click.option("--min-probability", type=click.FloatRange(0, 1), default=None, metavar="P",
              help="Only premises whose probability_below (of being below 30 Mbit/s, for "
                   "every scheme) is at least P, 0 to 1: with --scheme lbf, 1 keeps the "
                   "eligible premises only, 0.5 adds the possibly eligible ones at least as "
                   "likely below as not. Premises with no probability are left out.")
@click.option("--run", default=None, help="Classification run label (default: the current one).")
@click.option("--lang", default="en", type=click.Choice(LANGS), help="Language of the reasons.")
@json_option
@click.pass_context
def export_cmd(ctx, fmt, output, areas, statuses, scheme, min_probability, run, lang,
               as_json) -> None:
    """Export classified premises with evidence, reasons and release, by authority, postcode
    and UPRN. The attribution is stated once: a CSV gets FILE.csv-metadata.json (CSVW) beside
    it, a GeoPackage (1.3, styled by status for QGIS) or GeoJSON carries it in its metadata."""
    from connectivity.db import connect
    from connectivity.outputs import export

    with connect(_settings(ctx), autocommit=True) as conn:
        rows = export(conn, output, fmt, run=run, areas=list(areas), statuses=list(statuses),
                      scheme=scheme, min_probability=min_probability, lang=lang)
    _emit({"rows": rows, "output": str(output), "format": fmt}, as_json,
          lambda d: click.echo(f"wrote {d['rows']:,} premises to {d['output']}"))


# ---------------------------------------------------------------------------------------------
@main.command("status")
@click.option("--limit", default=50, show_default=True, help="How many recent runs to list.")
@json_option
@click.pass_context
def status_cmd(ctx: click.Context, limit: int, as_json: bool) -> None:
    """List load runs, newest first."""
    from connectivity.db import connect
    from etl.runs import list_runs

    with connect(_settings(ctx)) as conn:
        runs = list_runs(conn, limit)

    def human(rows):
        if not rows:
            click.echo("no loads yet")
        for r in rows:
            names = ", ".join(f["name"] for f in r["files"])
            click.echo(f"{r['id']:>5} {r['status']:<9} {r['kind']:<12} {r['release'] or '-':<9} "
                       f"read {r['rows_read']:>9,} loaded {r['rows_loaded']:>9,} "
                       f"rejected {r['rows_rejected']:>7,}  {names}")
            if r["status"] == "failed":
                click.echo(f"      {r['message']}")
    _emit(runs, as_json, human)


@main.command("rejects")
@click.argument("run_id", type=int)
@click.option("--csv", "as_csv", is_flag=True, help="Write CSV (file, line, column, value, reason).")
@click.option("--limit", type=int, default=None, help="At most this many rows.")
@json_option
@click.pass_context
def rejects_cmd(ctx: click.Context, run_id: int, as_csv: bool, limit: int | None, as_json: bool) -> None:
    """List the rows a load rejected, with file, line, column, value and reason."""
    from connectivity.db import connect
    from connectivity.errors import NotFound
    from etl.runs import list_rejects

    with connect(_settings(ctx)) as conn:
        if conn.execute("SELECT 1 FROM gapmap.load_run WHERE id = %s", (run_id,)).fetchone() is None:
            raise NotFound(f"no load run {run_id}", "list runs with `connectivity status`")
        rows = list_rejects(conn, run_id, limit)
    if as_csv:
        writer = csv.DictWriter(sys.stdout, ["file", "line", "column", "value", "reason"])
        writer.writeheader()
        writer.writerows(rows)
        return

    def human(items):
        if not items:
            click.echo(f"run {run_id} rejected nothing")
        for r in items:
            click.echo(f"{r['file']}:{r['line']} [{r['column'] or '-'}] {r['value']!r}: {r['reason']}")
    _emit(rows, as_json, human)


# ---------------------------------------------------------------------------------------------
@main.command("serve")
@click.option("--host", default=None, help="Address to listen on (default: setting host).")
@click.option("--port", type=int, default=None, help="Port (default: setting port, 5000).")
@click.option("--workers", type=int, default=2, show_default=True, help="gunicorn worker processes.")
@click.option("--dev", is_flag=True, help="Flask's development server with reloading.")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None, workers: int, dev: bool) -> None:
    """Serve the web map and API (gunicorn; --dev for Flask's development server)."""
    settings = _settings(ctx)
    settings = settings.replace(host=host or settings.host, port=port or settings.port)
    _check_ready(settings)
    _serve(settings, workers, dev)


def _check_ready(settings: Settings) -> None:
    from connectivity.db import connect
    from connectivity.db.migrate import require_current

    with connect(settings, autocommit=True) as conn:
        require_current(conn)


def _serve(settings: Settings, workers: int, dev: bool) -> None:
    from webmap import create_app, require_secret_key

    if not dev:
        require_secret_key(settings)
    _first_admin_hint(settings)
    click.echo(f"serving the map on http://{settings.host}:{settings.port}/ (Ctrl+C to stop)")
    if dev:
        create_app(settings, dev=True).run(host=settings.host, port=settings.port, debug=True)
        return
    from webmap.server import run_gunicorn

    run_gunicorn(settings, workers=workers)


def _first_admin_hint(settings: Settings) -> None:
    """Say how to create the first admin while there is no account (there is no default one)."""
    from connectivity.db import connect

    with connect(settings, autocommit=True) as conn:
        none = conn.execute("SELECT NOT EXISTS (SELECT 1 FROM gapmap.account)").fetchone()[0]
    if none:
        click.echo("no officer accounts yet: create the first admin with\n"
                   "  connectivity users add EMAIL --role admin --name NAME --password-stdin\n"
                   "(the password is read from standard input: at least 12 characters), then sign "
                   f"in at http://{settings.host}:{settings.port}/en/sign-in", err=True)


@main.command("demo")
@click.option("--serve/--no-serve", "do_serve", default=True, show_default=True,
              help="Serve the map when the data is in.")
@click.option("--workers", type=int, default=2, show_default=True, help="gunicorn worker processes.")
@click.option("--scale", type=click.Choice(SCALES), default="wales", show_default=True,
              help="The synthetic premises: wales (all 22 authorities, 1,500,001; about 3.5 "
                   "minutes and 3.3 GB of disk the first time) or small (Ceredigion and Merthyr "
                   "Tydfil, 63,225; under a minute; what the tests use). One scale per database.")
@json_option
@click.pass_context
def demo(ctx: click.Context, do_serve: bool, workers: int, scale: str, as_json: bool) -> None:
    """Set up everything and run the main job on the bundled Welsh data, then serve the map.

    Starts the project-local PostGIS (unless DATABASE_URL is set), migrates, loads the 22 local
    authorities and 92,247 Welsh postcodes (92,248 rows, one without coordinates) from data/,
    generates and loads the synthetic premises and speed releases of --scale (labelled
    synthetic), classifies both releases, and serves. Loads already done are skipped, so it is
    safe and quick to run again.
    """
    from etl import LOADERS, run_load

    settings = _settings(ctx)
    steps: dict[str, Any] = {}
    if settings.uses_local_cluster:
        from connectivity.db.cluster import LocalCluster

        steps["database"] = LocalCluster.from_settings(settings).up()
    steps["migrations_applied"] = _migrate(settings)
    show = not as_json and sys.stderr.isatty()
    results = []
    conflict = other_scale_loaded(settings, scale)
    if conflict:
        raise GapmapError(conflict, "use a fresh database for another scale (the project-local "
                                    "one is emptied by: connectivity db reset)")
    synthetic = synthetic_inputs(settings, say=None if as_json else click.echo, scale=scale)
    for kind, paths, options, extra in bundled_inputs(settings) + synthetic:
        result = run_load(settings, LOADERS[kind](), paths, options=options, show_progress=show,
                          **extra)
        results.append(result.as_dict())
        if not as_json:
            what = f"{kind} {result.release}" if result.release else kind
            if result.status == "skipped":
                click.echo(f"{what}: already loaded (run {result.run_id})")
            else:
                filtered = (f", {result.rows_filtered:,} filtered" if result.rows_filtered
                            else "")
                click.echo(f"{what}: loaded {result.rows_loaded:,} of {result.rows_read:,} rows "
                           f"({result.rows_rejected:,} rejected{filtered}) in "
                           f"{result.seconds:.1f} s")
    steps["loads"] = results
    steps["classifications"] = demo_classify(settings, say=None if as_json else click.echo)
    if as_json:
        _emit(steps, True, None)
    if do_serve:
        _serve(settings, workers, dev=False)
    elif not as_json:
        _first_admin_hint(settings)


@main.command("demo-data")
@click.option("--out", "out", required=True, type=click.Path(path_type=Path, file_okay=False),
              help="Folder to write into (created if missing).")
@click.option("--scale", default="small", show_default=True,
              help="small (Ceredigion + Merthyr Tydfil), wales (about 1.5 million premises), "
                   "or a premises total for all of Wales such as 2000000 or 0.5m.")
@click.option("--seed", type=int, default=2026, show_default=True, help="Random seed.")
@click.option("--authorities", default=None, metavar="CODES",
              help="Comma-separated W06 codes to generate instead of the scale's set.")
@click.option("--api-share", type=float, default=0.2, show_default=True,
              help="Share of postcodes with saved Ofcom coverage-API responses.")
@json_option
@click.pass_context
def demo_data(ctx: click.Context, out: Path, scale: str, seed: int, authorities: str | None,
              api_share: float, as_json: bool) -> None:
    """Generate synthetic premises and speed releases in the real published formats.

    Deterministic (same seed, same bytes), calibrated to Ofcom's January 2026 gigabit figure for
    each authority, with a second release six months later and a ground-truth file. Everything is
    labelled synthetic; see docs/demo-data.md.
    """
    from gapmap.demodata import generate

    settings = _settings(ctx)
    codes = [c.strip().upper() for c in authorities.split(",") if c.strip()] if authorities else None
    show = not as_json and sys.stderr.isatty()
    manifest = generate(out, data_dir=settings.data_dir, scale=scale, seed=seed,
                        authorities=codes, api_share=api_share,
                        progress=(lambda m: click.echo(f"  {m}", err=True)) if show else
                        (lambda m: None))
    summary = {k: manifest[k] for k in ("scale", "seed", "authorities", "premises", "summary",
                                         "per_authority", "seconds", "peak_rss_mb")}
    summary["files"] = len(manifest["files"])
    summary["out"] = str(out)

    def human(d):
        click.echo(f"wrote {d['files']} files for {d['premises']:,} synthetic premises to {d['out']} "
                   f"in {d['seconds']} s (peak memory {d['peak_rss_mb']:.0f} MB)")
        for release, figures in d["summary"].items():
            click.echo(f"  {release}: gigabit {figures['gigabit']:,}, below 30 Mbit/s "
                       f"{figures['below_30']:,}, below USO {figures['below_uso']:,}")
    _emit(summary, as_json, human)


from . import challenges_cli, officers_cli, publish_cli  # noqa: E402  (users, ..., publish)

officers_cli.register(main)
challenges_cli.register(main)
publish_cli.register(main)

from . import plans_cli  # noqa: E402  (plan)

plans_cli.register(main)

if __name__ == "__main__":  # pragma: no cover
    main()
