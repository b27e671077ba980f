"""The synthetic demo data: real formats, calibration, consistency with its own ground truth."""

from __future__ import annotations

import csv
import hashlib
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
import rasterio
import shapely
from click.testing import CliRunner

from gapmap.cli import main
from gapmap.demodata import generate
from gapmap.demodata.inputs import read_inputs
from tests.conftest import ROOT

DATA = ROOT / "data"
# Headers verbatim from ../shared/FORMATS.md (typed out here, not imported, so a drift in
# etl/formats.py fails the test).
UPRN_HEADER = "UPRN,X_COORDINATE,Y_COORDINATE,LATITUDE,LONGITUDE"
OFCOM_HEADER = (
    "postcode,postcode_space,postcode area,% of premises with 30<300Mbit/s download speed,% of "
    "premises with >=300Mbit/s download speed,% of premises with 0<2Mbit/s download speed,% of "
    "premises with 2<5Mbit/s download speed,% of premises with 5<10Mbit/s download speed,% of "
    "premises with 10<30Mbit/s download speed,SFBB availability (% premises),UFBB (100Mbit/s) "
    "availability (% premises),UFBB availability (% premises),% of premises unable to receive "
    "2Mbit/s,% of premises unable to receive 5Mbit/s,% of premises unable to receive 10Mbit/s,% "
    "of premises unable to receive 30Mbit/s,Gigabit availability (% premises),% of premises "
    "unable to receive decent broadband from fixed or FWA,% of premises with NGA,% of premises "
    "able to receive decent broadband from FWA"
)
BDUK_HEADER = (
    "uprn,struprn,bduk_recognised_premises,country,postcode,lot_id,lot_name,subsidy_control_status,"
    "current_gigabit,future_gigabit,local_authority_district_ons_code,local_authority_district_ons,"
    "region_ons_code,region_ons,bduk_gis,bduk_gis_contract_scope,bduk_gis_final_coverage_date,"
    "bduk_gis_contract_name,bduk_gis_supplier,bduk_vouchers,bduk_vouchers_contract_name,"
    "bduk_vouchers_supplier,bduk_superfast,bduk_superfast_contract_name,bduk_superfast_supplier,"
    "bduk_hubs,bduk_hubs_contract_name,bduk_hubs_supplier"
)
PERFORMANCE_HEADER = (
    "postcode_space,postcode area,Median download speed (Mbit/s),Average download speed (Mbit/s),"
    "Minimum download speed (Mbit/s),Maximum download speed (Mbit/s),Median upload speed (Mbit/s),"
    "Average upload speed (Mbit/s),Minimum upload speed (Mbit/s),Maximum upload speed (Mbit/s),"
    "Average data usage (GB),Number of connections < 2 Mbit/s (number of lines),Number of "
    "connections 2<5 Mbit/s (number of lines),Number of connections 5<10 Mbit/s (number of lines),"
    "Number of connections 10<30 Mbit/s (number of lines),Number of connections 30<300 Mbit/s "
    "(number of lines),Number of connections >= 300 Mbit/s (number of lines),Number of "
    "connections >= 30 Mbit/s (number of lines)"
)
API_FIELDS = ["UPRN", "AddressShortDescription", "MaxBbPredictedDown", "MaxBbPredictedUp",
              "MaxSfbbPredictedDown", "MaxSfbbPredictedUp", "MaxUfbbPredictedDown",
              "MaxUfbbPredictedUp", "MaxPredictedDown", "MaxPredictedUp"]


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("demo") / "small"
    return out, generate(out, data_dir=DATA, scale="small", seed=7)


def read_csv(path: Path) -> list[dict]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def truth(out: Path, release: str) -> dict[int, dict]:
    return {int(r["uprn"]): r for r in read_csv(out / f"truth/truth_{release}.csv")}


def test_same_seed_same_bytes_and_another_seed_differs(tmp_path):
    a = generate(tmp_path / "a", data_dir=DATA, authorities=["W06000024"], seed=11)
    b = generate(tmp_path / "b", data_dir=DATA, authorities=["W06000024"], seed=11)
    c = generate(tmp_path / "c", data_dir=DATA, authorities=["W06000024"], seed=12)
    assert [f["sha256"] for f in a["files"]] == [f["sha256"] for f in b["files"]]
    assert (tmp_path / "a/manifest.json").read_bytes() == (tmp_path / "b/manifest.json").read_bytes()
    assert a["files"][0]["sha256"] != c["files"][0]["sha256"]
    for f in a["files"]:
        assert hashlib.sha256((tmp_path / "a" / f["path"]).read_bytes()).hexdigest() == f["sha256"]


def test_an_authority_gets_the_same_premises_alone_or_with_others(tmp_path, small):
    out, _ = small
    alone = generate(tmp_path / "m", data_dir=DATA, authorities=["W06000024"], seed=7)
    together = {int(r["UPRN"]): r for r in read_csv(out / "os_open_uprn/osopenuprn_demo.csv")}
    mine = read_csv(tmp_path / "m/os_open_uprn/osopenuprn_demo.csv")
    assert alone["premises"] == len(mine)
    assert all(together[int(r["UPRN"])] == r for r in mine)


def test_headers_are_exactly_as_published_and_only_os_open_uprn_has_a_bom(small):
    out, manifest = small
    raw = (out / "os_open_uprn/osopenuprn_demo.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf" + UPRN_HEADER.encode() + b"\r\n")
    kinds = defaultdict(list)
    for f in manifest["files"]:
        kinds[f["kind"]].append(out / f["path"])
    for path in kinds["ofcom-coverage"]:
        assert path.read_bytes().split(b"\r\n", 1)[0].decode() == OFCOM_HEADER
    assert sorted(p.name for p in kinds["ofcom-coverage"]) == [
        "202601_fixed_pc_coverage_r01_CF.csv", "202601_fixed_pc_coverage_r01_SA.csv",
        "202601_fixed_pc_coverage_r01_SY.csv", "202607_fixed_pc_coverage_r01_CF.csv",
        "202607_fixed_pc_coverage_r01_SA.csv", "202607_fixed_pc_coverage_r01_SY.csv"]
    for path in kinds["bduk"]:
        assert path.read_text().split("\n", 1)[0] == BDUK_HEADER
    assert sorted(p.name for p in kinds["bduk"])[:2] == [
        "202601_BDUK_uprn_release_Wales_Ceredigion.csv",
        "202601_BDUK_uprn_release_Wales_Merthyr_Tydfil.csv"]
    for path in kinds["ofcom-performance"]:
        assert path.read_text().split("\n", 1)[0].rstrip("\r") == PERFORMANCE_HEADER
    for path in kinds["ofcom-coverage"] + kinds["bduk"] + kinds["ofcom-performance"]:
        assert not path.read_bytes().startswith(b"\xef\xbb\xbf"), path.name


def test_every_premises_is_inside_its_authority_and_near_its_postcode(small):
    out, _ = small
    inputs = read_inputs(DATA)
    by_code = {a.code: a for a in inputs.authorities}
    rows = read_csv(out / "os_open_uprn/osopenuprn_demo.csv")
    facts = truth(out, "2026-01")
    x = np.array([float(r["X_COORDINATE"]) for r in rows])
    y = np.array([float(r["Y_COORDINATE"]) for r in rows])
    codes = np.array([facts[int(r["UPRN"])]["la_code"] for r in rows])
    for code in set(codes.tolist()):
        mask = codes == code
        assert shapely.contains_xy(by_code[code].geom, x[mask], y[mask]).all(), code
    centroid = dict(zip(inputs.postcodes.postcode.tolist(),
                        zip(inputs.postcodes.x.tolist(), inputs.postcodes.y.tolist(), strict=True),
                        strict=True))
    dist = np.array([np.hypot(x[i] - centroid[facts[int(r["UPRN"])]["postcode"]][0],
                              y[i] - centroid[facts[int(r["UPRN"])]["postcode"]][1])
                     for i, r in enumerate(rows)])
    urban = np.array([facts[int(r["UPRN"])]["rurality"] == "urban" for r in rows])
    assert np.median(dist[urban]) < 60 < np.median(dist[~urban])
    # WGS84 columns agree with the grid columns
    lat = np.array([float(r["LATITUDE"]) for r in rows])
    assert 51.3 < lat.min() and lat.max() < 53.5


def test_gigabit_share_matches_ofcom_january_2026_per_authority(small):
    out, manifest = small
    with (DATA / "ofcom/wales_la_gigabit_capable_ofcom_via_ons.csv").open() as fh:
        target = {r["areacd"]: float(r["gigabit_capable_pct_premises"])
                  for r in csv.DictReader(fh) if r["period"] == "2026-01"}
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in truth(out, "2026-01").values():
        counts[r["la_code"]][0] += r["gigabit"] == "true"
        counts[r["la_code"]][1] += 1
    assert set(counts) == {"W06000008", "W06000024"}
    for code, (gig, n) in counts.items():
        assert abs(100.0 * gig / n - target[code]) < 3.0, code
        assert abs(100.0 * gig / n - target[code]) < 0.01, code  # exact by construction
    rural, urban = (next(a for a in manifest["per_authority"] if a["code"] == c)
                    for c in ("W06000008", "W06000024"))
    assert rural["below_30_pct"] > 4 * urban["below_30_pct"]
    assert 20_000 < rural["premises"] < 60_000 and 20_000 < urban["premises"] < 60_000


def test_ofcom_postcode_percentages_come_from_the_truth(small):
    out, _ = small
    for release in ("2026-01", "2026-07"):
        per_pc: dict[str, list[dict]] = defaultdict(list)
        for r in truth(out, release).values():
            per_pc[r["postcode"]].append(r)
        seen = 0
        for path in sorted((out / f"ofcom_coverage/{release}").glob("*.csv")):
            for row in read_csv(path):
                facts = per_pc[row["postcode_space"]]
                down = np.array([float(f["true_down_mbps"]) for f in facts])
                up = np.array([float(f["true_up_mbps"]) for f in facts])
                expected = {
                    "% of premises unable to receive 30Mbit/s": (down < 30).mean() * 100,
                    "SFBB availability (% premises)": (down >= 30).mean() * 100,
                    "Gigabit availability (% premises)": (down >= 1000).mean() * 100,
                    "% of premises with 10<30Mbit/s download speed":
                        ((down >= 10) & (down < 30)).mean() * 100,
                    "% of premises unable to receive decent broadband from fixed or FWA":
                        ((down < 10) | (up < 1)).mean() * 100,
                }
                for column, value in expected.items():
                    assert abs(float(row[column]) - value) <= 0.005 + 1e-9, (row["postcode"], column)
                assert row["postcode"] == row["postcode_space"].replace(" ", "")
                seen += 1
        assert seen == len(per_pc)


def test_api_responses_are_premises_level_truth_for_a_share_of_postcodes(small):
    out, manifest = small
    facts = truth(out, "2026-01")
    lines = (out / "ofcom_api/2026-01/coverage_api.jsonl").read_text().splitlines()
    all_postcodes = {r["postcode"] for r in facts.values()}
    assert 0.15 < len(lines) / len(all_postcodes) < 0.25
    items = 0
    for line in lines:
        doc = json.loads(line)
        assert set(doc) == {"PostCode", "Availability"} and " " not in doc["PostCode"]
        for item in doc["Availability"]:
            assert list(item) == API_FIELDS
            fact = facts[item["UPRN"]]
            assert fact["postcode"].replace(" ", "") == doc["PostCode"]
            assert item["MaxPredictedDown"] == float(fact["true_down_mbps"])
            assert item["MaxPredictedUp"] == float(fact["true_up_mbps"])
            if fact["technology"] == "adsl":
                assert item["MaxSfbbPredictedDown"] == -1
            if fact["gigabit"] == "false":
                assert item["MaxUfbbPredictedDown"] == -1
            items += 1
    assert items == manifest["summary"]["2026-01"]["premises_in_ofcom_api"]


def test_bduk_release_agrees_with_truth_and_has_below_30_premises_in_planned_builds(small):
    out, _ = small
    facts = truth(out, "2026-01")
    rows = [r for p in sorted((out / "bduk/2026-01").glob("*.csv")) for r in read_csv(p)]
    assert len(rows) == len(facts)
    statuses = {r["subsidy_control_status"] for r in rows}
    assert statuses == {"Gigabit White", "Gigabit Grey/Black", "Gigabit Under Review"}
    below_planned = 0
    for r in rows:
        fact = facts[int(r["uprn"])]
        assert r["struprn"] == r["uprn"] and r["region_ons_code"] == "W99999999"
        assert r["current_gigabit"] == fact["gigabit"]
        assert r["postcode"] == fact["postcode"]
        assert {r[k] for k in ("current_gigabit", "future_gigabit", "bduk_gis")} <= {"true", "false"}
        planned = r["future_gigabit"] == "true" or r["bduk_gis"] == "true"
        assert (fact["planned_build"] == "true") == planned
        below_planned += planned and fact["below_30"] == "true"
        if r["current_gigabit"] == "true":
            assert r["subsidy_control_status"] == "Gigabit Grey/Black"
    assert below_planned > 100


def test_second_release_upgrades_and_never_downgrades(small):
    out, manifest = small
    first, second = truth(out, "2026-01"), truth(out, "2026-07")
    assert first.keys() == second.keys()
    upgraded = sum(float(second[u]["true_down_mbps"]) > float(first[u]["true_down_mbps"]) for u in first)
    downgraded = sum(float(second[u]["true_down_mbps"]) < float(first[u]["true_down_mbps"]) for u in first)
    assert downgraded == 0 and upgraded > 500
    g1, g2 = (manifest["summary"][r]["gigabit"] for r in ("2026-01", "2026-07"))
    assert 0.005 < (g2 - g1) / manifest["premises"] < 0.06  # a few points in six months


def test_raster_surface_covers_the_premises(small):
    out, _ = small
    with rasterio.open(out / "speed_raster/2026-01/modelled_download_100m.tif") as src:
        assert src.crs.to_epsg() == 27700 and src.nodata == -9999.0
        assert src.res == (100.0, 100.0) and src.dtypes == ("float32",)
        assert src.tags()["synthetic"] == "true"
        rows = read_csv(out / "os_open_uprn/osopenuprn_demo.csv")[::97]
        values = [v[0] for v in src.sample([(float(r["X_COORDINATE"]), float(r["Y_COORDINATE"]))
                                            for r in rows])]
        assert min(values) >= 0.5 and max(values) <= 1000


def test_performance_file_counts_lines_per_band(small):
    out, _ = small
    for row in read_csv(out / "ofcom_performance/2026-01/202601_fixed_pc_performance_r01.csv"):
        bands = [int(row[f"Number of connections {b} Mbit/s (number of lines)"])
                 for b in ("< 2", "2<5", "5<10", "10<30", "30<300", ">= 300")]
        assert sum(bands) >= 1
        assert int(row["Number of connections >= 30 Mbit/s (number of lines)"]) == sum(bands[4:])
        assert (float(row["Minimum download speed (Mbit/s)"])
                <= float(row["Median download speed (Mbit/s)"])
                <= float(row["Maximum download speed (Mbit/s)"]))


def test_manifest_lists_every_file_with_rows_and_is_labelled_synthetic(small):
    out, manifest = small
    on_disk = json.loads((out / "manifest.json").read_text())
    assert on_disk["synthetic"] is True and "SYNTHETIC" in on_disk["notice"]
    assert (on_disk["seed"], on_disk["scale"]) == (7, "small")
    assert on_disk["authorities"] == ["W06000008", "W06000024"]
    files = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert files - {"manifest.json"} == {f["path"] for f in on_disk["files"]}
    uprn = next(f for f in on_disk["files"] if f["kind"] == "os-open-uprn")
    with (out / uprn["path"]).open(encoding="utf-8-sig") as fh:
        assert sum(1 for _ in fh) == uprn["rows"] + 1


def test_cli_demo_data_and_its_errors(tmp_path):
    result = CliRunner().invoke(main, ["demo-data", "--out", str(tmp_path / "x"),
                                       "--authorities", "W06000024", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    # OS Open UPRN, then per release: one Ofcom area file (CF), API, BDUK, raster, performance, truth
    assert data["authorities"] == ["W06000024"] and data["files"] == 1 + 2 * 6
    bad = CliRunner().invoke(main, ["demo-data", "--out", str(tmp_path / "y"), "--scale", "huge"])
    assert bad.exit_code == 2 and "unknown scale 'huge'" in bad.output
    bad = CliRunner().invoke(main, ["demo-data", "--out", str(tmp_path / "y"), "--authorities", "W0"])
    assert bad.exit_code == 2 and "unknown authority code(s) W0" in bad.output
