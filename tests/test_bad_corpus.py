"""The bad-input corpus: every malformed file in tests/data/bad is loaded with the real command
(``connectivity load KIND FILE --json`` in a subprocess) into a fresh database, and the outcome is
exactly the one tests/data/bad/expected.toml writes down: the exit code and message of a refused
file (and the database as it was), or the counts and every reject of a loaded one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from etl import LOADERS, run_load
from etl.runs import list_rejects
from tests.conftest import DATA

BAD = DATA / "bad"
MANIFEST = tomllib.loads((BAD / "expected.toml").read_text(encoding="utf-8"))
CASES: dict[str, dict] = MANIFEST["case"]
CONTEXT: dict[str, dict] = MANIFEST["context"]
BIN = Path(sys.executable).parent / "connectivity"
KINDS = sorted(LOADERS)  # every kind `connectivity load` knows
#: files of the corpus that are not inputs
NOT_INPUTS = {"README.md", "expected.toml", "make_binary.py"}
MAX_BYTES = 20 * 1024

#: the rows a run published, per kind (to check that rows_loaded is what reached the tables)
PUBLISHED = {
    "boundaries": "SELECT count(*) FROM gapmap.area WHERE run_id = %(run)s",
    "postcodes": "SELECT count(*) FROM gapmap.postcode WHERE run_id = %(run)s",
    "uprn": "SELECT count(*) FROM gapmap.premises WHERE run_id = %(run)s",
    "premises": "SELECT count(*) FROM gapmap.premises WHERE run_id = %(run)s",
    "wimd": "SELECT count(*) FROM gapmap.wimd WHERE run_id = %(run)s",
    "bduk": "SELECT count(*) FROM gapmap.ev_bduk e JOIN gapmap.release r ON r.id = e.release_id "
            "WHERE r.run_id = %(run)s",
    "ofcom-coverage": "SELECT (SELECT count(*) FROM gapmap.ev_postcode_coverage e JOIN gapmap.release r "
                      "ON r.id = e.release_id WHERE r.run_id = %(run)s) + (SELECT count(*) FROM "
                      "gapmap.ev_area_coverage e JOIN gapmap.release r ON r.id = e.release_id "
                      "WHERE r.run_id = %(run)s)",
    "ofcom-performance": "SELECT count(*) FROM gapmap.ev_postcode_performance e JOIN gapmap.release r "
                         "ON r.id = e.release_id WHERE r.run_id = %(run)s",
    "ofcom-api": "SELECT count(*) FROM gapmap.ev_premises_speed e JOIN gapmap.release r "
                 "ON r.id = e.release_id WHERE r.run_id = %(run)s",
    "speed-raster": "SELECT count(*) FROM gapmap.ev_premises_speed e JOIN gapmap.release r "
                    "ON r.id = e.release_id WHERE r.run_id = %(run)s",
    "places": "SELECT count(*) FROM gapmap.place WHERE run_id = %(run)s",
    "challenges": "SELECT count(*) FROM gapmap.challenge WHERE load_run_id = %(run)s",
    "ookla": "SELECT count(*) FROM gapmap.ev_speedtest_tile e JOIN gapmap.release r "
             "ON r.id = e.release_id WHERE r.run_id = %(run)s",
    "addressbase": "SELECT count(*) FROM gapmap.address WHERE run_id = %(run)s",
}


def snapshot(db) -> dict[str, tuple]:
    """Every table of the schema but the load record: its row count and a digest of its rows."""
    tables = [r[0] for r in db.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'gapmap' AND tablename <> 'load_run' "
        "ORDER BY 1")]
    return {t: db.execute(f"SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), ''))"
                          f" FROM gapmap.{t} t").fetchone() for t in tables}


def load_context(settings, names: list[str]) -> None:
    for name in names:
        spec = CONTEXT[name]
        run_load(settings, LOADERS[spec["kind"]](), [BAD / spec["file"]],
                 options=spec.get("options", {}))


def cli_load(settings, kind: str, path: Path, options: list[str]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "CONNECTIVITY_DEBUG"}
    return subprocess.run(
        [BIN, "--database-url", settings.database_url, "load", kind, str(path), *options, "--json"],
        capture_output=True, text=True, env=env, timeout=300)


def reject_key(r: dict) -> tuple:
    return (r["file"], r["line"] is None, r["line"] or 0, r["column"] or "", r["value"] or "")


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_bad_file_has_exactly_its_expected_outcome(name, settings, db):
    spec = CASES[name]
    load_context(settings, spec.get("context", []))
    before = snapshot(db)
    last_run = db.execute("SELECT coalesce(max(id), 0) FROM gapmap.load_run").fetchone()[0]

    proc = cli_load(settings, spec["kind"], BAD / name, spec.get("options", []))

    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr
    runs = db.execute("SELECT status, message, rows_read, rows_loaded, rows_rejected, rows_filtered, "
                      "id FROM gapmap.load_run WHERE id > %s ORDER BY id", (last_run,)).fetchall()
    if "error" in spec:
        error = spec["error"]
        assert (proc.returncode, proc.stdout) == (error["exit"], ""), proc.stderr
        assert proc.stderr.startswith("error: ")
        assert error["message"] in proc.stderr, proc.stderr
        assert snapshot(db) == before, "a refused file changed the database"
        if error.get("recorded", True):  # option errors stop the load before it starts
            assert [(status, error["message"] in message) for status, message, *_ in runs] == [
                ("failed", True)], runs
        else:
            assert runs == []
        return

    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    counts = spec["counts"]
    got = {k: result[f"rows_{k}"] for k in ("read", "loaded", "rejected", "filtered")}
    assert got == {"filtered": 0, **counts}
    assert got["read"] == got["loaded"] + got["rejected"] + got["filtered"]
    assert result["status"] == "succeeded"
    assert [r[:1] + r[2:6] for r in runs] == [
        ("succeeded", got["read"], got["loaded"], got["rejected"], got["filtered"])]
    assert db.execute(PUBLISHED[spec["kind"]], {"run": result["run_id"]}).fetchone()[0] == got["loaded"]
    if "release" in spec:
        assert result["release"] == spec["release"]
    for note in spec.get("notes", []):
        assert any(note in n for n in result["notes"]), result["notes"]

    default_file = Path(name).name
    expected = sorted(({"file": default_file, "line": None, "column": None, "value": None} | r
                       for r in spec.get("rejects", [])), key=reject_key)
    actual = sorted(list_rejects(db, result["run_id"]), key=reject_key)
    assert len(actual) == got["rejected"]
    assert [{k: r[k] for k in ("file", "line", "column", "value")} for r in actual] == [
        {k: r[k] for k in ("file", "line", "column", "value")} for r in expected]
    for want, have in zip(expected, actual, strict=True):
        assert want["reason"] in have["reason"], (want, have)


def test_the_manifest_lists_every_file_and_every_file_exists():
    on_disk = {p.relative_to(BAD).as_posix() for p in BAD.rglob("*") if p.is_file()
               and "__pycache__" not in p.parts} - NOT_INPUTS
    listed = set(CASES) | {spec["file"] for spec in CONTEXT.values()}
    assert sorted(on_disk - listed) == [], "files in tests/data/bad without an entry in expected.toml"
    assert sorted(listed - on_disk) == [], "entries in expected.toml without their file"


def test_the_corpus_covers_every_kind_with_tiny_files():
    per_kind = {kind: sum(1 for spec in CASES.values() if spec["kind"] == kind) for kind in KINDS}
    assert all(n >= 3 for n in per_kind.values()), per_kind
    assert sum(per_kind.values()) == len(CASES) >= 45
    assert set(PUBLISHED) == set(LOADERS)
    for name, spec in CASES.items():
        assert name.split("/")[0] == spec["kind"] and spec.get("why"), name
        assert ("error" in spec) != ("counts" in spec), f"{name}: give either error or counts"
        assert set(spec.get("context", [])) <= set(CONTEXT), name
    big = [p.name for p in BAD.rglob("*") if p.is_file() and p.name not in NOT_INPUTS
           and p.stat().st_size > MAX_BYTES]
    assert big == []
