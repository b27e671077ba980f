"""What every command shares: the error-to-exit-code group, settings from the context, output
as text or JSON."""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from connectivity.errors import GapmapError
from connectivity.settings import Settings


class Group(click.Group):
    """Turns :class:`GapmapError` into a one-line message (plus hint) and its exit code, and any
    other failure into one line too (the traceback with CONNECTIVITY_DEBUG=1)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except GapmapError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except BrokenPipeError:
            # the reader went away (`connectivity reports --csv | head`): a normal end for a CLI
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            ctx.exit(0)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as exc:
            if os.environ.get("CONNECTIVITY_DEBUG"):
                raise
            click.echo(f"error: internal error: {type(exc).__name__}: {exc}".splitlines()[0]
                       + "\n  hint: run again with CONNECTIVITY_DEBUG=1 for the traceback, "
                       "and report it", err=True)
            ctx.exit(1)


def settings_of(ctx: click.Context) -> Settings:
    return ctx.find_root().obj["settings"]


def emit(data: Any, as_json: bool, human) -> None:
    if as_json:
        click.echo(json.dumps(data, indent=2, default=json_default, ensure_ascii=False))
    else:
        human(data)


def json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


json_option = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")


def load_command(ctx: click.Context, kind: str, paths, release, force, as_json, options=None,
                 synthetic: bool = False) -> None:
    """`connectivity load KIND` (and `challenges load`): run the load, then print what it read,
    loaded, rejected and filtered, or the result as JSON."""
    from etl import LOADERS, run_load

    settings = settings_of(ctx)
    result = run_load(settings, LOADERS[kind](), paths, release=release, options=options,
                      force=force, show_progress=not as_json and sys.stderr.isatty(),
                      synthetic=synthetic)

    def human(r):
        if r["status"] == "skipped":
            click.echo(f"{kind}: {r['message']}")
            return
        filtered = f", filtered {r['rows_filtered']:,}" if r["rows_filtered"] else ""
        click.echo(f"{kind}: {r['format']}")
        click.echo(f"{kind}: run {r['run_id']}"
                   + (f" (release {r['release']})" if r["release"] else "")
                   + f": read {r['rows_read']:,}, loaded {r['rows_loaded']:,}, "
                   f"rejected {r['rows_rejected']:,}{filtered} in {r['seconds']:.1f} s")
        for note in r["notes"]:
            click.echo(f"  note: {note}")
        if r["rows_rejected"]:
            click.echo(f"  see the rejects with: connectivity rejects {r['run_id']}")
    emit(result.as_dict(), as_json, human)
