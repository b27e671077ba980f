"""Classification runs (``gapmap.classification_run``): the current one, one by label, the list,
and the steps that record a run and make it current. Every query of that table is here.

A run's tables are ``gapmap.premises_class_<id>`` and ``gapmap.area_stats_<id>``; the views
``gapmap.premises_class`` and ``gapmap.area_stats`` show the current run's. Making a run current
replaces the views in place (CREATE OR REPLACE VIEW), so views others built on them (an analyst's,
a QGIS project's, a reporting view) keep working; only when the new run's columns are not the old
ones plus some at the end are they dropped and made again, and then never over someone's
dependent view: that is refused, naming the views.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import psycopg

from .db import SCHEMA
from .errors import GapmapError, NotFound
from .rules import Rules, stored_rules

#: what a reader is told before the first classification
NOT_CLASSIFIED = ("nothing is classified yet", "an officer must run `connectivity classify`")


@dataclass(frozen=True)
class Run:
    id: int
    label: str
    synthetic: bool
    #: how many premises it classified (every premises loaded when it ran)
    premises: int
    #: the rules the run was made with (only when asked for: most readers need none)
    rules: Rules | None = None


def _run(row: tuple | None) -> Run | None:
    if row is None:
        return None
    rid, label, synthetic, premises, rules = row
    return Run(rid, label, synthetic, premises,
               None if rules is None else stored_rules(rules, label))


def _select(with_rules: bool) -> str:
    return (f"SELECT id, label, synthetic, premises, {'rules' if with_rules else 'NULL::jsonb'} "
            f"FROM {SCHEMA}.classification_run")


def current(conn: psycopg.Connection, *, with_rules: bool = False) -> Run | None:
    """The current run, None before the first classification."""
    return _run(conn.execute(f"{_select(with_rules)} WHERE is_current").fetchone())


def require_current(conn: psycopg.Connection, *, with_rules: bool = False) -> Run:
    """The current run; NotFound before the first classification."""
    run = current(conn, with_rules=with_rules)
    if run is None:
        raise NotFound(*NOT_CLASSIFIED)
    return run


def by_label(conn: psycopg.Connection, label: str | None, *, with_rules: bool = False) -> Run:
    """The run called ``label`` (None: the current one); NotFound when there is none."""
    if label is None:
        return require_current(conn, with_rules=with_rules)
    run = _run(conn.execute(f"{_select(with_rules)} WHERE label = %s", (label,)).fetchone())
    if run is None:
        raise NotFound(f"no classification run labelled {label!r}",
                       "list them with `connectivity classify --list`")
    return run


def exists(conn: psycopg.Connection, label: str) -> bool:
    return conn.execute(f"SELECT EXISTS (SELECT 1 FROM {SCHEMA}.classification_run "
                        "WHERE label = %s)", (label,)).fetchone()[0]


_LISTED = ("id", "label", "releases", "rules_version", "premises", "synthetic", "started_at",
           "finished_at", "is_current")


def list_runs(conn: psycopg.Connection) -> list[dict]:
    """Every run, oldest first."""
    rows = conn.execute(f"SELECT {', '.join(_LISTED)} FROM {SCHEMA}.classification_run "
                        "ORDER BY id").fetchall()
    return [dict(zip(_LISTED, r, strict=True)) for r in rows]


def start(conn: psycopg.Connection, label: str, releases: dict[str, str], rules: Rules,
          synthetic: bool, started_at: dt.datetime) -> int:
    """Record a new run (not current yet); returns its id."""
    return conn.execute(
        f"""INSERT INTO {SCHEMA}.classification_run (label, releases, rules_version, rules,
                synthetic, started_at) VALUES (%s, %s, %s, %s, %s, %s) RETURNING id""",
        (label, json.dumps(releases), rules.version, json.dumps(rules.as_dict()), synthetic,
         started_at)).fetchone()[0]


def make_current(conn: psycopg.Connection, run_id: int, premises: int) -> None:
    """Mark run ``run_id`` current and point the views at its tables (in the caller's
    transaction: readers see the old run or the new one, never half of either).
    :class:`ViewsInTheWay` when a view must be dropped and other views depend on it."""
    conn.execute(f"UPDATE {SCHEMA}.classification_run SET is_current = false WHERE is_current")
    conn.execute(f"UPDATE {SCHEMA}.classification_run SET is_current = true WHERE id = %s", (run_id,))
    for view in ("premises_class", "area_stats"):
        _point_view(conn, view, f"{view}_{run_id}")
    conn.execute(f"UPDATE {SCHEMA}.classification_run SET premises = %s, "
                 "finished_at = clock_timestamp() WHERE id = %s", (premises, run_id))


class ViewsInTheWay(GapmapError):
    """A run cannot become current: its columns differ from the current run's in a way
    PostgreSQL cannot replace in place, and views built on the current views would be lost."""

    exit_code = 1
    http_status = 409
    code = "views_in_the_way"


def _point_view(conn: psycopg.Connection, view: str, table: str) -> None:
    """``gapmap.<view>`` as ``SELECT * FROM gapmap.<table>``: replaced in place where PostgreSQL
    can (same columns, some added at the end), else dropped and made again when nothing
    depends on it."""
    sql = f"VIEW {SCHEMA}.{view} AS SELECT * FROM {SCHEMA}.{table}"
    try:
        with conn.transaction():  # a savepoint: a refused replacement leaves the view as it was
            conn.execute(f"CREATE OR REPLACE {sql}")
        return
    except psycopg.errors.InvalidTableDefinition:
        pass  # columns dropped, renamed, reordered or retyped
    dependents = dependent_views(conn, view)
    if dependents:
        raise ViewsInTheWay(
            f"cannot make {table} current: its columns differ from {SCHEMA}.{view}'s in a way "
            f"that needs the view dropped, and these views depend on it: {', '.join(dependents)}",
            f"drop or change them (DROP VIEW ...), make the run current, then create them again; "
            f"{SCHEMA}.{view} is not dropped with CASCADE, so nobody's view is lost unseen")
    conn.execute(f"DROP VIEW {SCHEMA}.{view}")
    conn.execute(f"CREATE {sql}")


def dependent_views(conn: psycopg.Connection, view: str) -> list[str]:
    """The views and materialised views (schema-qualified, sorted) that read ``gapmap.<view>``
    directly."""
    return [name for (name,) in conn.execute(
        """SELECT DISTINCT format('%%I.%%I', n.nspname, c.relname)
           FROM pg_depend d
           JOIN pg_rewrite r ON r.oid = d.objid
           JOIN pg_class c ON c.oid = r.ev_class
           JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass
             AND d.refobjid = %s::regclass AND c.oid <> d.refobjid
           ORDER BY 1""", (f"{SCHEMA}.{view}",))]
