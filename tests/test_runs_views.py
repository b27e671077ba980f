"""connectivity/runs.py make_current: the views gapmap.premises_class and gapmap.area_stats are
replaced in place, so views others built on them survive a new run becoming current; a run with
a column added still becomes current; where the columns changed so the views must be dropped,
dependent views are never dropped with them: the run is refused, naming them."""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest

from connectivity import runs
from connectivity.classify import classify
from connectivity.rules import load_rules
from etl import LOADERS, run_load
from gapmap.demo import bundled_inputs

CEREDIGION = "W06000008"


def _premises(settings, tmp_path, name: str, count: int) -> None:
    """``count`` premises in Aberystwyth (OS Open UPRN)."""
    path = tmp_path / name
    path.write_text("UPRN,X_COORDINATE,Y_COORDINATE,LATITUDE,LONGITUDE\n" + "".join(
        f"{900000000 + n},{258500 + 10 * n}.00,281600.00,52.4,-4.0\n" for n in range(count)),
        encoding="utf-8")
    run_load(settings, LOADERS["uprn"](), [path])


@pytest.fixture()
def classified(settings, tmp_path):
    """Authorities, three premises in Ceredigion, classified once ("first"); an analyst's views
    on both current views."""
    for kind, paths, options, extra in bundled_inputs(settings):
        if kind == "boundaries" and options["level"] == "la":
            run_load(settings, LOADERS[kind](), paths, options=options, **extra)
    _premises(settings, tmp_path, "osopenuprn_1.csv", 3)
    with psycopg.connect(settings.conninfo, autocommit=True) as conn:
        classify(conn, load_rules(settings.rules_file), label="first")
        conn.execute("CREATE SCHEMA analyst")
        conn.execute("CREATE VIEW analyst.la_premises AS SELECT code, premises "
                     "FROM gapmap.area_stats WHERE level = 'la'")
        conn.execute("CREATE VIEW analyst.statuses AS SELECT status, count(*) AS n "
                     "FROM gapmap.premises_class GROUP BY status")
        # a view on the analyst's view: two levels deep
        conn.execute("CREATE VIEW analyst.ceredigion AS SELECT premises FROM analyst.la_premises "
                     "WHERE code = 'W06000008'")
    return settings


def _ceredigion(conn) -> int:
    return conn.execute("SELECT premises FROM analyst.ceredigion").fetchone()[0]


def _copy_run(conn, label: str, area_stats_select: str) -> int:
    """A new run whose tables copy the current run's, the statistics through
    ``area_stats_select`` (a select list over the current run's statistics table)."""
    current = runs.current(conn, with_rules=True)
    new = runs.start(conn, label, {}, current.rules, False, dt.datetime.now(dt.UTC))
    conn.execute(f"CREATE TABLE gapmap.premises_class_{new} AS "
                 f"SELECT * FROM gapmap.premises_class_{current.id}")
    conn.execute(f"CREATE TABLE gapmap.area_stats_{new} AS SELECT {area_stats_select} "
                 f"FROM gapmap.area_stats_{current.id}")
    return new


def test_dependent_views_survive_a_new_run_becoming_current(classified, tmp_path):
    with psycopg.connect(classified.conninfo, autocommit=True) as conn:
        assert _ceredigion(conn) == 3
    _premises(classified, tmp_path, "osopenuprn_2.csv", 5)
    with psycopg.connect(classified.conninfo, autocommit=True) as conn:
        classify(conn, load_rules(classified.rules_file), label="second")
        assert runs.current(conn).label == "second"
        # the analyst's views are there and read the new run
        assert _ceredigion(conn) == 5
        assert conn.execute("SELECT sum(n) FROM analyst.statuses").fetchone()[0] == 5
        assert runs.dependent_views(conn, "area_stats") == ["analyst.la_premises"]
        assert runs.dependent_views(conn, "premises_class") == ["analyst.statuses"]


def test_a_run_with_an_added_column_becomes_current(classified):
    with psycopg.connect(classified.conninfo, autocommit=True) as conn:
        with conn.transaction():
            new = _copy_run(conn, "with-a-new-figure", "*, premises * 2 AS new_figure")
            runs.make_current(conn, new, 3)
        assert runs.current(conn).label == "with-a-new-figure"
        assert conn.execute("SELECT premises, new_figure FROM gapmap.area_stats "
                            "WHERE level = 'la' AND code = %s", (CEREDIGION,)).fetchone() == (3, 6)
        assert _ceredigion(conn) == 3


def test_a_dropped_column_with_dependent_views_is_refused_naming_them(classified):
    with psycopg.connect(classified.conninfo, autocommit=True) as conn:
        columns = [c for (c,) in conn.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = 'gapmap.area_stats'::regclass "
            "AND attnum > 0 AND NOT attisdropped ORDER BY attnum") if c != "below"]
        with pytest.raises(runs.ViewsInTheWay) as caught, conn.transaction():
            new = _copy_run(conn, "without-below", ", ".join(columns))
            runs.make_current(conn, new, 3)
        assert caught.value.message == (
            f"cannot make area_stats_{new} current: its columns differ from gapmap.area_stats's "
            "in a way that needs the view dropped, and these views depend on it: "
            "analyst.la_premises")
        # rolled back: the first run is current, the views and the analyst's are as they were
        assert runs.current(conn).label == "first"
        assert _ceredigion(conn) == 3
        assert conn.execute("SELECT count(*) FROM gapmap.area_stats WHERE below IS NOT NULL"
                            ).fetchone()[0] > 0


def test_a_dropped_column_without_dependent_views_drops_and_makes_the_view_again(classified):
    with psycopg.connect(classified.conninfo, autocommit=True) as conn:
        conn.execute("DROP SCHEMA analyst CASCADE")
        columns = [c for (c,) in conn.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = 'gapmap.area_stats'::regclass "
            "AND attnum > 0 AND NOT attisdropped ORDER BY attnum") if c != "below"]
        with conn.transaction():
            new = _copy_run(conn, "without-below", ", ".join(columns))
            runs.make_current(conn, new, 3)
        assert runs.current(conn).label == "without-below"
        names = {c for (c,) in conn.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = 'gapmap.area_stats'::regclass "
            "AND attnum > 0 AND NOT attisdropped")}
        assert "below" not in names and "premises" in names
