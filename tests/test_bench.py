"""The benchmark suite at the small scale, as CI's smoke test: every benchmark runs, each
contender does the same work, nothing fails. Figures are printed, never asserted (timings on a
shared machine are not a test)."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT


def test_the_small_benchmarks_run_and_compare_like_with_like(tmp_path, server):
    done = subprocess.run([sys.executable, "-m", "bench", "--scale", "small", "--out", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    print(done.stdout)
    report = json.loads((tmp_path / "small.json").read_text())
    assert (tmp_path / "small.md").read_text().startswith("# Benchmarks (small)")
    kinds = [b["benchmark"] for b in report["benchmarks"]]
    assert kinds == ["load_uprn", "classify", "classify_peer", "web", "lists", "plan", "publish"]
    load, classify, peer, web, lists, plan, publish = report["benchmarks"]
    for entry in load["results"]:
        rows = {name: entry[name]["rows"] for name in ("raw_copy", "ogr2ogr", "geopandas", "ours")}
        assert len(set(rows.values())) == 1, rows  # every contender loaded the same rows
        assert entry["ours"]["peak_rss_mb"] > 0
    assert classify["premises"] == 63225 and classify["classify_seconds"] > 0
    # the geopandas peer gives the same classification and statistics, row by row
    assert peer["premises"] == peer["ours"]["premises"] == 63225
    assert peer["agreement"]["premises"]["same"] and peer["agreement"]["areas"]["same"]
    assert peer["floor"]["rows"] == 63225 and peer["again"]["seconds"] > 0
    assert web["premises"] == 63225 and web["tiles"] == 256
    assert web["ours_throughput"]["failed"] == 0 and web["tipg_throughput"]["failed"] == 0
    assert web["ours_throughput"]["requests"] == web["tipg_throughput"]["requests"] == 8 * 256 * 2
    assert web["postcode_lookups"] == 200
    assert web["first_render"]["runs"] == 5
    assert lists["premises"] == 63225 and len(lists["counts"]) == 6
    assert lists["list_premises"] == lists["export_rows"] == lists["ogr2ogr_rows"] > 0
    assert plan["targets"] > 0 and plan["comparison"]["same"]  # PostGIS and scikit-learn agree
    assert plan["largest"]["clusters"] > 0
    # the static archive serves every fetched tile it holds, with nothing failed on either side
    assert publish["premises"] == 63225 and publish["archive_tiles"] > 0
    assert 0 < publish["archive_tiles_found"] <= publish["tiles_fetched"]
    assert [d["failed"] for d in publish["dynamic"] + publish["static"]] == [0, 0, 0, 0]
    # nothing left behind on the server
    left = server.admin.execute("SELECT datname FROM pg_database WHERE datname LIKE 'bench_%'").fetchall()
    assert left == []


def test_web_load_serves_every_answer_from_the_old_snapshot_or_the_new(tmp_path, server):
    """bench.web_load at the small scale as a smoke test (the fewest clients and seconds that
    exercise it: 2 clients, 2 s a round): nothing fails, and while release 2026-07 loads and
    classifies every answer is wholly 2026-01's or 2026-07's."""
    done = subprocess.run([sys.executable, "-m", "bench", "--scale", "small", "--only", "web_load",
                           "--load-seconds", "2", "--load-clients", "2", "--out", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    print(done.stdout)
    assert "63,225 premises; 2 clients (2 processes) for 2.0 s per row" in done.stdout
    (load,) = json.loads((tmp_path / "small.json").read_text())["benchmarks"]
    assert load["benchmark"] == "web_load" and load["premises"] == 63225 and load["clients"] == 2
    assert load["seconds"] == 2 and load["processes"] == 2
    for name in ("mixed", "tiles_only", "tipg_tiles_only", "with_writes"):
        assert load[name]["failed"] == 0, (name, load[name]["errors"])
    assert sorted(load["mixed"]["kinds"]) == ["areas", "postcode", "resident", "tile"]
    assert [w["exit"] for w in load["writer"]] == [0, 0, 0, 0, 0]
    snapshots = load["snapshots"]
    assert (snapshots["old_label"], snapshots["new_label"]) == ("2026-01", "2026-07")
    assert snapshots["neither"] == 0, snapshots["neither_examples"]
    assert snapshots["urls_changed"] > 0  # the check could see a difference
    answers = snapshots["answers"]
    assert sum(a.get("old", 0) + a.get("new", 0) for a in answers.values()) \
        == load["with_writes"]["requests"]
    assert any(a.get("new", 0) for a in answers.values())  # the switch happened under load
