"""Versioned migrations against a real PostgreSQL."""

from __future__ import annotations

import dataclasses
import importlib

import psycopg
import pytest

from connectivity.db import current_version, migrate, pending_migrations
from connectivity.db.migrate import available_migrations, require_current
from connectivity.errors import SchemaError

migrate_module = importlib.import_module("connectivity.db.migrate")


def test_an_empty_database_migrates_once_and_then_is_current(empty_settings):
    with psycopg.connect(empty_settings.conninfo, autocommit=True) as conn:
        assert current_version(conn) == 0
        with pytest.raises(SchemaError, match="run `connectivity db migrate`"):
            require_current(conn)
        applied = migrate(conn)
        assert [f"{m.version:04d}_{m.name}" for m in applied] == [
            "0001_initial", "0002_classification", "0003_membership", "0004_places_and_map",
            "0005_officers", "0006_lists", "0007_challenges", "0008_plans",
            "0009_membership_indexes", "0010_place_welsh_names",
            "0011_list_speedtests", "0012_addresses", "0013_list_oa_fwa", "0014_list_addresses", "0015_performance_bands", "0016_area_summary"]
        assert migrate(conn) == []
        assert current_version(conn) == available_migrations()[-1].version
        assert pending_migrations(conn) == []


def test_geometry_columns_declare_type_and_srid(db):
    rows = db.execute(
        "SELECT f_table_name, f_geometry_column, type, srid FROM geometry_columns "
        "WHERE f_table_schema = 'gapmap' ORDER BY 1, 2"
    ).fetchall()
    assert rows == [
        ("area", "geom", "MULTIPOLYGON", 27700),
        ("area", "geom_3857", "MULTIPOLYGON", 3857),
        ("area", "geom_simple", "MULTIPOLYGON", 4326),
        ("area_part", "geom", "POLYGON", 27700),
        ("challenge", "geom", "POINT", 27700),
        ("ev_correction", "geom", "POINT", 27700),
        ("ev_correction", "previous_geom", "POINT", 27700),
        ("ev_speedtest_tile", "geom", "POLYGON", 27700),
        ("hex_cell", "geom", "POLYGON", 27700),
        ("place", "geom", "POINT", 27700),
        ("plan_cluster", "centroid", "POINT", 27700),
        ("plan_cluster", "outline", "POLYGON", 27700),
        ("plan_premises", "geom", "POINT", 27700),
        ("postcode", "geom", "POINT", 27700),
        ("postcode", "geom_3857", "POINT", 3857),
        ("premises", "geom", "POINT", 27700),
        ("target_list", "polygon", "MULTIPOLYGON", 27700),
        ("target_list_premises", "geom", "POINT", 27700),
    ]


def test_schema_tables(db):
    tables = [r[0] for r in db.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'gapmap' "
        "AND table_type = 'BASE TABLE' ORDER BY 1")]
    assert tables == ["account", "account_area", "account_session", "address", "api_token", "area",
                      "area_part", "area_summary", "audit_event", "challenge", "challenge_event",
                      "classification_run", "correction_conflict", "ev_area_coverage",
                      "ev_bduk", "ev_correction", "ev_postcode_coverage", "ev_postcode_performance",
                      "ev_premises_speed", "ev_speedtest_tile", "hex_cell", "load_run",
                      "membership_state", "place", "plan", "plan_cluster", "plan_premises", "postcode", "premises", "premises_place",
                      "rate_event", "reject", "release", "report", "report_token", "schema_migration", "target_list",
                      "target_list_area", "target_list_premises", "target_list_snapshot", "wimd"]


def test_constraints_refuse_impossible_values(db):
    run = db.execute(
        "INSERT INTO gapmap.load_run (kind, status, fingerprint, started_at) "
        "VALUES ('t', 'succeeded', 'x', now()) RETURNING id").fetchone()[0]
    with pytest.raises(psycopg.errors.CheckViolation):
        db.execute("UPDATE gapmap.load_run SET rows_read = 3, rows_loaded = 1 WHERE id = %s", (run,))
    with pytest.raises(psycopg.errors.CheckViolation):
        db.execute("INSERT INTO gapmap.postcode (postcode, geom, run_id) VALUES "
                   "('cf10 1aa', ST_SetSRID(ST_MakePoint(1, 1), 27700), %s)", (run,))
    with pytest.raises(psycopg.errors.InvalidParameterValue):  # wrong SRID for the column
        db.execute("INSERT INTO gapmap.premises (uprn, geom, run_id) VALUES "
                   "(1, ST_SetSRID(ST_MakePoint(-3, 51), 4326), %s)", (run,))
    rel = db.execute("INSERT INTO gapmap.release (source, label) VALUES ('ofcom-coverage', '2026-01') "
                     "RETURNING id").fetchone()[0]
    with pytest.raises(psycopg.errors.CheckViolation):
        db.execute("INSERT INTO gapmap.ev_postcode_coverage (release_id, postcode, unable_30_pct) "
                   "VALUES (%s, 'CF10 1AA', 101)", (rel,))


def test_an_edited_applied_migration_is_refused(db, monkeypatch):
    real = available_migrations()
    edited = [dataclasses.replace(real[0], sql=real[0].sql + "\n-- edited")] + real[1:]
    monkeypatch.setattr(migrate_module, "available_migrations", lambda: edited)
    with pytest.raises(SchemaError, match="0001_initial was edited after it was applied"):
        pending_migrations(db)


def test_a_database_from_newer_code_is_refused(db):
    db.execute("INSERT INTO gapmap.schema_migration (version, name, checksum) VALUES (9999, 'future', 'x')")
    with pytest.raises(SchemaError, match="9999_future, which this code does not know"):
        pending_migrations(db)
