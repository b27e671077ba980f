"""Source releases: the label of a load (``--release`` or read from the file names) and its row.

Evidence tables hang off ``gapmap.release (source, label)``: a new release sits beside the old ones
(history is a feature); loading more files of the same release (say, another postcode area) adds
to it, and a file loaded again replaces its rows.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from connectivity.db import SCHEMA
from connectivity.errors import InputError

from .runs import LoadContext

# 202601_..., 2026-01, 2026_01 in a file or folder name; months 01-12 only
_STAMP = re.compile(r"(?<!\d)(20\d{2})[-_]?(0[1-9]|1[0-2])(?!\d)")


def release_from_names(paths: Sequence[Path]) -> str | None:
    """The YYYY-MM stamp the files' names (or their folders' names) carry, if they agree."""
    found = set()
    for path in paths:
        for part in (path.name, path.parent.name):
            match = _STAMP.search(part)
            if match:
                found.add(f"{match[1]}-{match[2]}")
                break
    if len(found) > 1:
        raise InputError(
            f"the files carry different releases ({', '.join(sorted(found))})",
            hint="load each release on its own, or name it with --release",
        )
    return found.pop() if found else None


def ensure_release(ctx: LoadContext, source: str, paths: Sequence[Path]) -> int:
    """Fix ``ctx.release`` (given, or from the names) and return the release row's id."""
    label = ctx.release or release_from_names(paths)
    if not label:
        raise InputError(
            f"cannot tell which {source} release these files are: no YYYYMM in their names",
            hint="name it with --release, e.g. --release 2026-01",
        )
    if not re.fullmatch(r"[0-9A-Za-z][0-9A-Za-z._-]{0,31}", label):
        raise InputError(f"release label {label!r} should be short, like 2026-01")
    ctx.release = label
    published = f"{label}-01" if re.fullmatch(r"20\d{2}-(0[1-9]|1[0-2])", label) else None
    return ctx.conn.execute(
        f"""INSERT INTO {SCHEMA}.release (source, label, published, run_id, synthetic)
            VALUES (%s, %s, %s, %s, %s)
            ON CONFLICT (source, label) DO UPDATE SET run_id = EXCLUDED.run_id,
                synthetic = release.synthetic OR EXCLUDED.synthetic
            RETURNING id""",
        (source, label, published, ctx.run_id, ctx.synthetic),
    ).fetchone()[0]
