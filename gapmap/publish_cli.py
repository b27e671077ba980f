"""`connectivity publish`: a classification as open data files with CSVW and DCAT metadata
(connectivity/publishing.py), and `connectivity publish tiles`: the map's tiles as one static
PMTiles archive (connectivity/tilearchive.py). docs/publishing.md."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .clitools import Group, emit, json_option, settings_of


def register(main: click.Group) -> None:
    main.add_command(publish)


def _progress(as_json: bool):
    show = not as_json or not sys.stdout.isatty()
    return (lambda m: click.echo(f"  {m}", err=True)) if show else (lambda m: None)


@click.group(cls=Group, invoke_without_command=True)
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="The folder releases are published in: each goes to OUT/<release label>, "
                   "and OUT/catalog.jsonld lists them all.")
@click.option("--run", default=None, help="Classification run label (default: the current one).")
@click.option("--replace", is_flag=True,
              help="Publish a release again that OUT holds already (replaced in one step).")
@json_option
@click.pass_context
def publish(ctx: click.Context, out: Path | None, run: str | None, replace: bool,
            as_json: bool) -> None:
    """Publish a classification as open data: for all of Wales and for each authority, the
    premises (CSV and GeoPackage), the area statistics per level and the changes since the
    previous run (CSV), each CSV with CSVW metadata, and a DCAT catalogue (JSON-LD) with every
    file's licence, size and SHA-256. A reader never sees half a release: it is written beside
    OUT and renamed into place.

    `connectivity publish tiles --out map.pmtiles` writes the map's tiles instead."""
    if ctx.invoked_subcommand is not None:
        return
    if out is None:
        raise click.UsageError("give the folder to publish in with --out DIR")
    from connectivity.db import connect
    from connectivity.publishing import publish as publish_release

    with connect(settings_of(ctx), autocommit=True) as conn:
        summary = publish_release(conn, out, run=run, replace=replace,
                                  progress=_progress(as_json))
    emit(summary, as_json, lambda d: click.echo(
        f"published {d['release']} ({d['datasets']} datasets, {d['files']} files, "
        f"{d['bytes'] / 1e6:,.1f} MB) to {d['folder']}; the catalogue lists "
        f"{d['releases_in_catalog']} release(s)"))


@publish.command("tiles")
@click.option("--out", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="The archive to write, e.g. map.pmtiles (replaced in one step).")
@click.option("--min-zoom", type=click.IntRange(0, 22), default=6, show_default=True)
@click.option("--max-zoom", type=click.IntRange(0, 22), default=15, show_default=True)
@click.option("--area", default=None, metavar="CODE",
              help="Only the tiles over this area (an authority, a ward, ...), e.g. for tests.")
@click.option("--workers", type=click.IntRange(1, 32), default=2, show_default=True,
              help="Database connections making tiles at once.")
@json_option
@click.pass_context
def publish_tiles(ctx, out, min_zoom, max_zoom, area, workers, as_json) -> None:
    """The public map's tiles (areas, hexagons, premises: the same as /tiles/...) of the current
    classification in one PMTiles archive, for a static file host or CDN."""
    from connectivity.tilearchive import build_archive

    settings = settings_of(ctx)
    summary = build_archive(settings.conninfo, out, min_zoom=min_zoom, max_zoom=max_zoom,
                            area=area.strip().upper() if area else None, workers=workers,
                            progress=_progress(as_json))
    emit(summary, as_json, lambda d: click.echo(
        f"wrote {d['tiles']:,} tiles (zooms {d['min_zoom']} to {d['max_zoom']}, "
        f"{d['empty_skipped']:,} empty skipped, {d['bytes'] / 1e6:,.1f} MB) of classification "
        f"{d['classification']} to {d['archive']} in {d['seconds']} s"))
