"""The `connectivity` command: help, exit codes, --json, and the local PostGIS lifecycle."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from gapmap.cli import main
from tests.conftest import ROOT, free_port

#: every migration, in order (tests/test_migrate.py checks the same list against a fresh database)
MIGRATIONS = ["0001_initial", "0002_classification", "0003_membership", "0004_places_and_map",
              "0005_officers", "0006_lists", "0007_challenges", "0008_plans",
              "0009_membership_indexes", "0010_place_welsh_names", "0011_list_speedtests", "0012_addresses", "0013_list_oa_fwa", "0014_list_addresses", "0015_performance_bands", "0016_area_summary"]

BIN = Path(sys.executable).parent / "connectivity"


def run(settings, *args, input=None):
    result = CliRunner().invoke(main, ["--database-url", settings.database_url, *args], input=input)
    return result


def test_help_lists_the_command_groups():
    out = subprocess.run([BIN, "--help"], capture_output=True, text=True, check=True).stdout
    for command in ("config", "db", "demo", "load", "rejects", "serve", "status"):
        assert f"  {command} " in out
    db_help = subprocess.run([BIN, "db", "--help"], capture_output=True, text=True, check=True).stdout
    for command in ("down", "migrate", "reset", "status", "up"):
        assert f"  {command} " in db_help


def test_every_command_has_help():
    groups = {"": main}
    for name, command in main.commands.items():
        result = CliRunner().invoke(main, [name, "--help"])
        assert result.exit_code == 0, name
        assert "Usage:" in result.output
        if hasattr(command, "commands"):
            groups[name] = command
            for sub in command.commands:
                sub_result = CliRunner().invoke(main, [name, sub, "--help"])
                assert sub_result.exit_code == 0, f"{name} {sub}"


def test_db_status_json_reports_server_postgis_and_schema(settings):
    result = run(settings, "db", "status", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["reachable"] is True
    assert data["server_version"].startswith("15.")
    assert data["postgis_version"].startswith("3.")
    assert (data["schema_version"], data["schema_latest"], data["schema_current"]) == (
        len(MIGRATIONS), len(MIGRATIONS), True)
    assert data["contents"] == {"postcodes": 0, "premises": 0}


def test_db_status_exits_3_when_the_server_is_unreachable():
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/nothing"
    result = CliRunner().invoke(main, ["--database-url", url, "db", "status", "--json"])
    assert result.exit_code == 3
    data = json.loads(result.output)
    assert data["reachable"] is False
    assert "cannot connect to PostgreSQL" in data["error"]


def test_load_status_and_rejects(settings, tmp_path):
    path = tmp_path / "pcs.csv"
    path.write_text("postcode,eastings,northings\nCF10 1AA,318284,176230\nnope,1,2\n")
    result = run(settings, "load", "postcodes", str(path), "--release", "2025-10", "--json")
    assert result.exit_code == 0, result.output
    loaded = json.loads(result.output)
    assert (loaded["status"], loaded["rows_read"], loaded["rows_loaded"], loaded["rows_rejected"]) == (
        "succeeded", 2, 1, 1)
    again = run(settings, "load", "postcodes", str(path), "--release", "2025-10")
    assert again.exit_code == 0
    assert again.output == f"postcodes: already loaded as run {loaded['run_id']}; use --force to load again\n"

    status = json.loads(run(settings, "status", "--json").output)
    assert len(status) == 1
    assert {"id", "kind", "release", "files", "rows_read", "rows_loaded", "rows_rejected",
            "started_at", "finished_at"} <= set(status[0])
    assert (status[0]["kind"], status[0]["release"]) == ("postcodes", "2025-10")

    rejects = run(settings, "rejects", str(loaded["run_id"]), "--csv")
    assert rejects.output.splitlines() == [
        "file,line,column,value,reason", "pcs.csv,3,postcode,nope,not a UK postcode"]
    missing = run(settings, "rejects", "999")
    assert missing.exit_code == 7
    assert "no load run 999" in missing.output


def test_a_bad_file_exits_6_with_a_one_line_message(settings, tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    result = run(settings, "load", "postcodes", str(path))
    assert result.exit_code == 6
    assert result.output == "error: empty.csv: the file is empty\n"
    result = run(settings, "load", "postcodes", str(tmp_path / "absent.csv"))
    assert result.exit_code == 6
    assert result.output == (f"error: {tmp_path / 'absent.csv'}: file not found\n"
                             "  hint: check the path\n")


def test_a_bad_setting_exits_2():
    result = CliRunner().invoke(main, ["--database-url", "mysql://x", "db", "status"])
    assert result.exit_code == 2
    assert "must start with postgresql://" in result.output


def test_config_json_shows_values_and_sources(settings):
    data = json.loads(run(settings, "config", "--json").output)
    by_name = {d["name"]: d for d in data}
    assert by_name["database_url"]["source"] == "cli"
    assert by_name["port"] == {**by_name["port"], "value": 5000, "source": "default",
                               "env": "CONNECTIVITY_PORT"}


def test_demo_loads_the_bundled_data_and_a_second_run_skips(settings, monkeypatch):
    monkeypatch.setenv("CONNECTIVITY_DATA_DIR", str(ROOT / "data"))
    first = run(settings, "demo", "--no-serve", "--scale", "small", "--json")
    assert first.exit_code == 0, first.output
    data = json.loads(first.output)
    loads = [(r["kind"], r["release"], r["status"], r["rows_loaded"]) for r in data["loads"]]
    assert loads[:9] == [("boundaries", None, "succeeded", 22),
                         ("boundaries", None, "succeeded", 852),
                         ("boundaries", None, "succeeded", 1_909),
                         ("boundaries", None, "succeeded", 410),
                         ("boundaries", None, "succeeded", 32),
                         ("postcodes", None, "succeeded", 92_247),
                         ("wimd", None, "succeeded", 1_909),
                         ("places", None, "succeeded", 3_842),
                         ("uprn", None, "succeeded", 63_225)]
    assert [(k, r) for k, r, _, _ in loads[9:]] == [
        (kind, release) for release in ("2026-01", "2026-07")
        for kind in ("bduk", "ofcom-coverage", "ofcom-performance", "ofcom-api", "speed-raster")]
    assert all(status == "succeeded" and n > 0 for _, _, status, n in loads)
    assert [(c["label"], c["premises"]) for c in data["classifications"]] == [
        ("2026-01", 63_225), ("2026-07", 63_225)]
    second = json.loads(run(settings, "demo", "--no-serve", "--scale", "small", "--json").output)
    assert {r["status"] for r in second["loads"]} == {"skipped"}
    assert second["classifications"] == []
    assert second["migrations_applied"] == []
    # the demo at another scale would mix two sets of synthetic premises: refused, nothing done
    other = run(settings, "demo", "--no-serve")  # the default scale is all of Wales
    assert other.exit_code != 0
    assert ("error: this database already holds synthetic demo premises of another scale than "
            "wales") in other.output
    assert "the project-local one is emptied by: connectivity db reset" in other.output
    # no default account anywhere: the demo says how to make the first admin
    third = run(settings, "demo", "--no-serve", "--scale", "small").output
    assert "no officer accounts yet: create the first admin with\n" \
           "  connectivity users add EMAIL --role admin --name NAME --password-stdin" in third


def test_reset_drops_data_and_migrates(settings, tmp_path):
    path = tmp_path / "pcs.csv"
    path.write_text("postcode,eastings,northings\nCF10 1AA,318284,176230\n")
    run(settings, "load", "postcodes", str(path))
    result = run(settings, "db", "reset", "--yes")
    assert result.output == "reset; applied: " + ", ".join(MIGRATIONS) + "\n"
    assert json.loads(run(settings, "status", "--json").output) == []


@pytest.mark.skipif(not Path("/usr/lib/postgresql").exists(),
                    reason="needs PostgreSQL server binaries (a DATABASE_URL-only machine has none)")
def test_local_cluster_lifecycle(tmp_path):
    """`db up` creates and starts a cluster (as the postgres user when root), `db down` stops it."""
    env = {k: v for k, v in os.environ.items()
           if k != "DATABASE_URL" and not k.startswith("PG")}
    env.update(CONNECTIVITY_CACHE_DIR=str(tmp_path / "cache"),
               CONNECTIVITY_LOCAL_PORT=str(free_port()), CONNECTIVITY_LOCAL_DBNAME="lifecycle")

    def cli(*args, check=True):
        return subprocess.run([BIN, *args], capture_output=True, text=True, env=env, check=check,
                              cwd=tmp_path, timeout=180)

    from connectivity.db.cluster import LocalCluster
    from connectivity.settings import load_settings

    cluster = LocalCluster.from_settings(load_settings(environ=env))
    try:
        up = json.loads(cli("db", "up", "--json").stdout)
        assert (up["initialised"], up["started"], up["database_created"]) == (True, True, True)
        assert up["migrations_applied"] == MIGRATIONS
        again = json.loads(cli("db", "up", "--json").stdout)
        assert (again["initialised"], again["started"], again["database_created"]) == (False, False, False)
        status = json.loads(cli("db", "status", "--json").stdout)
        assert status["local_cluster"]["running"] is True
        assert status["schema_version"] == len(MIGRATIONS)
        assert status["postgis_version"].startswith("3.")
        assert cli("db", "down").stdout == "stopped\n"
        down = cli("db", "status", "--json", check=False)
        assert down.returncode == 3
        assert json.loads(down.stdout)["local_cluster"]["running"] is False
        assert cli("db", "down").stdout == "not running\n"
    finally:
        cluster.destroy()


def test_export_chooses_by_probability_in_a_stable_order_with_the_attribution_once(
        loaded_settings, tmp_path):
    import csv
    import sqlite3

    import pyogrio

    from connectivity.outputs import ATTRIBUTION, EXPORT_COLUMNS

    def export(name, *args):
        result = run(loaded_settings, "export", "-o", str(tmp_path / name), "--json", *args)
        assert result.exit_code == 0, result.output
        return json.loads(result.output)["rows"]

    def rows(name):
        with (tmp_path / name).open(encoding="utf-8-sig", newline="") as fh:
            return list(csv.DictReader(fh))

    everything = export("lbf.csv", "--format", "csv", "--scheme", "lbf")
    lbf = rows("lbf.csv")
    assert len(lbf) == everything and list(lbf[0]) == EXPORT_COLUMNS  # no attribution column
    kinds = {r["eligible_lbf"] for r in lbf}
    assert kinds == {"eligible", "possibly"}
    # by authority, postcode and UPRN
    assert [(r["la_code"], r["postcode"], int(r["uprn"])) for r in lbf] == sorted(
        (r["la_code"], r["postcode"], int(r["uprn"])) for r in lbf)
    assert [r["la_code"] for r in lbf][0] == "W06000008" and lbf[-1]["la_code"] == "W06000024"
    meta = json.loads((tmp_path / "lbf.csv-metadata.json").read_text(encoding="utf-8"))
    assert meta["dc:rights"] == ATTRIBUTION and meta["url"] == "lbf.csv"
    assert (tmp_path / "lbf.csv").read_bytes().count(b"Contains OS data") == 0

    assert export("certain.csv", "--format", "csv", "--scheme", "lbf",
                  "--min-probability", "1") == sum(r["eligible_lbf"] == "eligible" for r in lbf)
    assert {r["eligible_lbf"] for r in rows("certain.csv")} == {"eligible"}
    likely = [r for r in lbf if float(r["probability_below"] or -1) >= 0.5]
    assert export("likely.csv", "--format", "csv", "--scheme", "lbf",
                  "--min-probability", "0.5") == len(likely) < everything
    assert [r["uprn"] for r in rows("likely.csv")] == [r["uprn"] for r in likely]
    bad = run(loaded_settings, "export", "--format", "csv", "-o", str(tmp_path / "x.csv"),
              "--min-probability", "1.5")
    assert bad.exit_code == 2 and "1.5 is not in the range 0<=x<=1" in bad.output
    help_text = " ".join(run(loaded_settings, "export", "--help").output.split())
    assert "lbf, the same but in no planned build" in help_text
    assert "--min-probability P" in help_text and "at least P" in help_text

    # the GeoPackage: version 1.3, styled by status for QGIS, the attribution in its metadata
    n = export("lbf.gpkg", "--format", "gpkg", "--scheme", "lbf", "--min-probability", "1")
    gpkg = tmp_path / "lbf.gpkg"
    with sqlite3.connect(gpkg) as db:
        assert db.execute("PRAGMA application_id").fetchone()[0] == 0x47504B47  # "GPKG"
        assert db.execute("PRAGMA user_version").fetchone()[0] == 10300  # 1.3
        styles = db.execute("SELECT f_table_name, styleName, useAsDefault, styleQML "
                            "FROM layer_styles").fetchall()
    assert [s[:3] for s in styles] == [("premises", "status", 1)]
    assert 'attr="status"' in styles[0][3] and 'value="possibly_below"' in styles[0][3]
    assert pyogrio.read_info(gpkg, layer="premises")["layer_metadata"]["DESCRIPTION"].endswith(
        ATTRIBUTION)
    frame = pyogrio.read_dataframe(gpkg, layer="premises")
    assert len(frame) == n and "attribution" not in frame.columns
    assert not (tmp_path / "lbf.gpkg-metadata.json").exists()
