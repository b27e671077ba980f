"""Evidence loaders (BDUK, Ofcom coverage / performance / API, speed raster, generic premises)
against a real PostGIS: exact rows, exact rejects, releases side by side."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from connectivity.errors import InputError
from etl import run_load
from etl.bduk import BdukLoader
from etl.formats import BDUK_UPRN_HEADER, OFCOM_PC_COVERAGE_HEADER_2026_01
from etl.ofcom import OfcomApiLoader, OfcomCoverageLoader, OfcomPerformanceLoader
from etl.os_open_uprn import UprnLoader
from etl.premises import PremisesLoader
from etl.raster import SpeedRasterLoader
from etl.releases import release_from_names
from etl.runs import list_rejects


def rejects(db, run_id):
    return [(r["line"], r["column"], r["value"], r["reason"]) for r in list_rejects(db, run_id)]


def csv_text(header: list[str], rows: list[list]) -> str:
    def cell(v):
        v = "" if v is None else str(v)
        return f'"{v}"' if "," in v else v
    return "\n".join([",".join(cell(h) for h in header)] + [",".join(cell(v) for v in r) for r in rows]) + "\n"


# -- releases --------------------------------------------------------------------------------------
def test_release_labels_come_from_names_or_the_option(tmp_path):
    assert release_from_names([tmp_path / "202601_fixed_pc_coverage_r01_CF.csv"]) == "2026-01"
    assert release_from_names([tmp_path / "2026-07" / "coverage_api.jsonl"]) == "2026-07"
    assert release_from_names([tmp_path / "coverage.csv"]) is None
    assert release_from_names([tmp_path / "201913_x.csv"]) is None  # month 13 is no month
    with pytest.raises(InputError, match="different releases \\(2026-01, 2026-05\\)"):
        release_from_names([tmp_path / "202601_a.csv", tmp_path / "202605_b.csv"])


# -- BDUK ------------------------------------------------------------------------------------------
def bduk_row(uprn, status="Gigabit White", current="false", future="false", postcode="CF10 1AA",
             gis="false", date=""):
    row = dict.fromkeys(BDUK_UPRN_HEADER, "")
    row.update(uprn=uprn, struprn=uprn, bduk_recognised_premises="true", country="Wales",
               postcode=postcode, subsidy_control_status=status, current_gigabit=current,
               future_gigabit=future, local_authority_district_ons_code="W06000015",
               bduk_gis=gis, bduk_gis_final_coverage_date=date, bduk_vouchers="false",
               bduk_superfast="false", bduk_hubs="false")
    return [row[h] for h in BDUK_UPRN_HEADER]


def test_bduk_release_loads_flags_and_contracts_and_rejects_bad_rows(settings, db, tmp_path):
    path = tmp_path / "202601_BDUK_uprn_release_Wales_Cardiff.csv"
    path.write_text(csv_text(BDUK_UPRN_HEADER, [
        bduk_row(1, "Gigabit Grey/Black", current="true"),
        bduk_row(2, "gigabit white", postcode="cf101ab", gis="true", date="2027-03-31"),
        bduk_row(3, "Gigabit Purple"),
        bduk_row(4, current="maybe"),
        bduk_row(5, postcode="NOT A PC"),
        bduk_row(1, "Gigabit White"),
    ]))
    result = run_load(settings, BdukLoader(), [path])
    assert (result.release, result.rows_read, result.rows_loaded, result.rows_rejected) == ("2026-01", 6, 2, 4)
    assert "read row by row (COPY refused the file)" in result.notes[0]
    assert rejects(db, result.run_id) == [
        (4, "subsidy_control_status", "Gigabit Purple",
         "subsidy control status must be one of Gigabit White, Gigabit Grey/Black, Gigabit Under Review"),
        (5, "current_gigabit", "maybe", "not true or false"),
        (6, "postcode", "NOT A PC", "not a UK postcode"),
        (7, "uprn", "1", "duplicate UPRN: first seen in 202601_BDUK_uprn_release_Wales_Cardiff.csv line 2"),
    ]
    rows = db.execute("SELECT r.label, b.uprn, b.postcode, b.subsidy_control_status, b.current_gigabit, "
                      "b.gis, b.gis_final_coverage_date FROM gapmap.ev_bduk b JOIN gapmap.release r "
                      "ON r.id = b.release_id ORDER BY uprn").fetchall()
    assert rows == [("2026-01", 1, "CF10 1AA", "Gigabit Grey/Black", True, False, None),
                    ("2026-01", 2, "CF10 1AB", "Gigabit White", False, True, "2027-03-31")]


def test_a_new_bduk_release_sits_beside_the_old_one(settings, db, tmp_path):
    for stamp, status in (("202601", "Gigabit White"), ("202605", "Gigabit Grey/Black")):
        path = tmp_path / f"{stamp}_BDUK_uprn_release_Wales_Cardiff.csv"
        path.write_text(csv_text(BDUK_UPRN_HEADER, [bduk_row(1, status)]))
        run_load(settings, BdukLoader(), [path])
    assert db.execute("SELECT r.label, b.subsidy_control_status FROM gapmap.ev_bduk b JOIN "
                      "gapmap.release r ON r.id = b.release_id ORDER BY 1").fetchall() == [
        ("2026-01", "Gigabit White"), ("2026-05", "Gigabit Grey/Black")]


def test_a_release_is_needed(settings, tmp_path):
    path = tmp_path / "bduk.csv"
    path.write_text(csv_text(BDUK_UPRN_HEADER, [bduk_row(1)]))
    with pytest.raises(InputError, match="cannot tell which bduk release"):
        run_load(settings, BdukLoader(), [path])
    assert run_load(settings, BdukLoader(), [path], release="2026-01").release == "2026-01"


# -- Ofcom coverage --------------------------------------------------------------------------------
def coverage_row(pc: str, unable30: float, **overrides) -> list:
    values = {h: "0" for h in OFCOM_PC_COVERAGE_HEADER_2026_01}
    values.update({"postcode": pc.replace(" ", ""), "postcode_space": pc, "postcode area": pc[:2],
                   "% of premises unable to receive 30Mbit/s": unable30,
                   "SFBB availability (% premises)": 100 - unable30})
    values.update(overrides)
    return [values[h] for h in OFCOM_PC_COVERAGE_HEADER_2026_01]


def test_postcode_coverage_files_in_a_zip_with_percentages_checked(settings, db, tmp_path):
    archive = tmp_path / "202601_fixed_postcode_coverage_r01.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("postcode_files/202601_fixed_pc_coverage_r01_CF.csv", csv_text(
            OFCOM_PC_COVERAGE_HEADER_2026_01,
            [coverage_row("CF10 1AA", 40), coverage_row("CF10 1AB", 101),
             coverage_row("CF10 1AD", 0, **{"Gigabit availability (% premises)": -3})]))
        z.writestr("postcode_files/202601_fixed_pc_coverage_r01_SA.csv", csv_text(
            OFCOM_PC_COVERAGE_HEADER_2026_01, [coverage_row("SA1 1AA", 100), coverage_row("sa11aa", 0)]))
        z.writestr("postcode_res_files/202601_fixed_pc_coverage_res_r01_CF.csv", csv_text(
            OFCOM_PC_COVERAGE_HEADER_2026_01, [coverage_row("CF10 1AA", 50)]))
    result = run_load(settings, OfcomCoverageLoader(), [archive])
    assert (result.release, result.rows_read, result.rows_loaded, result.rows_rejected) == ("2026-01", 6, 3, 3)
    assert [(r["file"].split("!")[1], r["line"], r["column"], r["value"], r["reason"])
            for r in list_rejects(db, result.run_id)] == [
        # 101 % unable makes SFBB -1 %: the first offending column in the file is named
        ("postcode_files/202601_fixed_pc_coverage_r01_CF.csv", 3,
         "SFBB availability (% premises)", "-1", "percentage outside 0-100"),
        ("postcode_files/202601_fixed_pc_coverage_r01_CF.csv", 4,
         "Gigabit availability (% premises)", "-3", "percentage outside 0-100"),
        ("postcode_files/202601_fixed_pc_coverage_r01_SA.csv", 3, "postcode_space", "SA1 1AA",
         "duplicate postcode: first seen in 202601_fixed_postcode_coverage_r01.zip!"
         "postcode_files/202601_fixed_pc_coverage_r01_SA.csv line 2"),
    ]
    assert db.execute("SELECT postcode, residential_only, unable_30_pct, sfbb_pct FROM "
                      "gapmap.ev_postcode_coverage ORDER BY 1, 2").fetchall() == [
        ("CF10 1AA", False, 40.0, 60.0), ("CF10 1AA", True, 50.0, 50.0), ("SA1 1AA", False, 100.0, 0.0)]


def test_older_header_vintages_are_recognised(settings, db, tmp_path):
    path = tmp_path / "201809_fixed_pc_coverage_r01_CF.csv"
    path.write_text(
        "postcode,postcode_space,postcode area,All Premises,SFBB availability (% premises),"
        "FTTP availability (% premises),% of premises unable to receive 30Mbit/s,"
        "% of premises below the USO\n"
        "CF101AA,CF10 1AA,CF,12,75,10,25,8.3\n")
    result = run_load(settings, OfcomCoverageLoader(), [path])
    assert result.rows_loaded == 1
    assert db.execute("SELECT all_premises, sfbb_pct, unable_30_pct, unable_decent_pct, gigabit_pct "
                      "FROM gapmap.ev_postcode_coverage").fetchone() == (12, 75.0, 25.0, 8.3, None)


def test_output_area_and_authority_files_and_mixed_levels(settings, db, tmp_path):
    oa = tmp_path / "202601_fixed_oa_coverage_r01.csv"
    oa.write_text("output_area,All Premises,All Matched Premises,SFBB availability (% premises),"
                  "% of premises unable to receive 30Mbit/s,Number of premises unable to receive 30Mbit/s\n"
                  "W00000001,120,118,95,5,6\nW00000002,80,80,100,0,-1\n")
    result = run_load(settings, OfcomCoverageLoader(), [oa])
    assert (result.rows_loaded, result.rows_rejected) == (1, 1)
    assert rejects(db, result.run_id) == [
        (3, "Number of premises unable to receive 30Mbit/s", "-1", "negative premises count")]
    assert db.execute("SELECT level, code, all_premises, matched_premises, unable_30_count FROM "
                      "gapmap.ev_area_coverage").fetchall() == [("oa", "W00000001", 120, 118, 6)]
    pc = tmp_path / "202601_fixed_pc_coverage_r01_CF.csv"
    pc.write_text(csv_text(OFCOM_PC_COVERAGE_HEADER_2026_01, [coverage_row("CF10 1AA", 0)]))
    with pytest.raises(InputError, match="these files mix levels"):
        run_load(settings, OfcomCoverageLoader(), [oa, pc])


# -- Ofcom performance -----------------------------------------------------------------------------
def test_performance_file(settings, db, tmp_path):
    from etl.formats import OFCOM_PC_PERFORMANCE_HEADER

    path = tmp_path / "202305_fixed_pc_performance_r01.csv"
    path.write_text(csv_text(OFCOM_PC_PERFORMANCE_HEADER, [
        ["CF10 1AA", "CF", 50, 60, 5, 200, 10, 12, 1, 20, 300, 1, 0, 2, 3, 4, 5, 9],
        ["CF10 1AB", "CF", -5, 60, 5, 200, 10, 12, 1, 20, 300, 1, 0, 2, 3, 4, 5, 9],
        # two bands left empty: kept NULL, and counted as 0 lines in the two sums
        ["CF10 1AD", "CF", 30, 40, 2, 100, 5, 6, 1, 10, 250, 2, "", 1, 4, 7, "", 7],
    ]))
    result = run_load(settings, OfcomPerformanceLoader(), [path])
    assert (result.rows_loaded, result.rows_rejected) == (2, 1)
    assert rejects(db, result.run_id) == [
        (3, "Median download speed (Mbit/s)", "-5", "negative speed or count")]
    assert db.execute("SELECT postcode, median_down, lines_below_30, lines_total, lines_0_2, "
                      "lines_2_5, lines_5_10, lines_10_30, lines_30_300, lines_300 FROM "
                      "gapmap.ev_postcode_performance ORDER BY postcode").fetchall() == [
        ("CF10 1AA", 50.0, 6, 15, 1, 0, 2, 3, 4, 5),
        ("CF10 1AD", 30.0, 7, 14, 2, None, 1, 4, 7, None)]


# -- Ofcom coverage API ----------------------------------------------------------------------------
def api_item(uprn, down=80, up=20, **extra):
    item = {"UPRN": uprn, "AddressShortDescription": "1 HIGH ST", "MaxBbPredictedDown": 10,
            "MaxBbPredictedUp": 1, "MaxSfbbPredictedDown": down, "MaxSfbbPredictedUp": up,
            "MaxUfbbPredictedDown": -1, "MaxUfbbPredictedUp": -1, "MaxPredictedDown": down,
            "MaxPredictedUp": up}
    item.update(extra)
    return item


def test_api_json_lines_with_sentinels_and_bad_lines(settings, db, tmp_path):
    path = tmp_path / "2026-01" / "coverage_api.jsonl"
    path.parent.mkdir()
    path.write_text("\n".join([
        json.dumps({"PostCode": "CF101AA", "Availability": [api_item(1), api_item(2, down=-1, up=-1)]}),
        "{not json",
        json.dumps({"PostCode": "CF101AB", "Availability": [api_item(3, down=-7), api_item("x"),
                                                             api_item(1, down=5)]}),
        json.dumps({"PostCode": "CF101AD"}),
    ]) + "\n")
    result = run_load(settings, OfcomApiLoader(), [path])
    assert (result.release, result.rows_read, result.rows_loaded, result.rows_rejected) == ("2026-01", 7, 2, 5)
    assert rejects(db, result.run_id) == [
        (2, None, "{not json", "not valid JSON (Expecting property name enclosed in double quotes)"),
        (3, "MaxSfbbPredictedDown", "-7", "negative speed (only -1 means not available)"),
        (3, "UPRN", "x", "missing or malformed UPRN"),
        (3, "UPRN", "1", "duplicate UPRN: first seen in coverage_api.jsonl line 1"),
        (4, "Availability", "{'PostCode': 'CF101AD'}", "not a coverage-API response (no Availability list)"),
    ]
    assert db.execute("SELECT uprn, max_down, max_up, bb_down, ufbb_down FROM gapmap.ev_premises_speed "
                      "ORDER BY uprn").fetchall() == [(1, 80.0, 20.0, 10.0, None), (2, None, None, 10.0, None)]


def test_api_one_document_per_postcode(settings, db, tmp_path):
    folder = tmp_path / "api_202601"
    folder.mkdir()
    (folder / "CF101AA.json").write_text(json.dumps({"PostCode": "CF101AA", "Availability": [api_item(1)]}))
    (folder / "CF101AB.json").write_text(json.dumps({"PostCode": "CF101AB", "Availability": [api_item(2), api_item(3)]}))
    result = run_load(settings, OfcomApiLoader(), [folder])
    assert (result.rows_read, result.rows_loaded) == (3, 3)
    (folder / "CF101AD.json").write_text("[1, 2")
    with pytest.raises(InputError, match="CF101AD.json: not valid JSON"):
        run_load(settings, OfcomApiLoader(), [folder])


# -- speed raster ----------------------------------------------------------------------------------
def load_points(settings, tmp_path, points):
    path = tmp_path / "uprn.csv"
    path.write_text("UPRN,X_COORDINATE,Y_COORDINATE,LATITUDE,LONGITUDE\n"
                    + "".join(f"{u},{x},{y},,\n" for u, x, y in points))
    run_load(settings, UprnLoader(), [path])


def write_raster(path, values, crs="EPSG:27700", nodata=-9999.0, origin=(318000, 177000), cell=100):
    data = np.asarray(values, dtype=np.float32)
    with rasterio.open(path, "w", driver="GTiff", width=data.shape[1], height=data.shape[0], count=1,
                       dtype="float32", crs=crs, nodata=nodata,
                       transform=from_origin(origin[0], origin[1], cell, cell)) as dst:
        dst.write(data, 1)


def test_raster_is_sampled_at_every_premises(settings, db, tmp_path):
    load_points(settings, tmp_path, [(1, 318050, 176950), (2, 318150, 176950), (3, 318050, 176850),
                                     (4, 318150, 176850), (5, 400000, 300000)])
    tif = tmp_path / "surface.tif"
    write_raster(tif, [[35.5, -9999], [-2, 80]])
    result = run_load(settings, SpeedRasterLoader(), [tif], release="2026-01", options={"band": 1})
    # 1 valued; 2 nodata; 3 negative; 4 valued; 5 outside the raster
    assert (result.rows_read, result.rows_loaded, result.rows_rejected, result.rows_filtered) == (5, 2, 1, 2)
    assert rejects(db, result.run_id) == [(None, "band 1", "-2.0", "negative or infinite speed in the cell of premises 3")]
    assert db.execute("SELECT uprn, max_down FROM gapmap.ev_premises_speed ORDER BY uprn").fetchall() == [
        (1, 35.5), (4, 80.0)]


def test_raster_in_another_crs_and_without_nodata(settings, db, tmp_path):
    load_points(settings, tmp_path, [(1, 318284, 176230)])  # Cardiff, about -3.1781 51.4791
    tif = tmp_path / "wgs84.tif"
    write_raster(tif, [[12.0]], crs="EPSG:4326", nodata=None, origin=(-3.2, 51.5), cell=0.05)
    result = run_load(settings, SpeedRasterLoader(), [tif], release="2026-01", options={"band": 1})
    assert result.rows_loaded == 1
    assert "wgs84.tif: no nodata value declared; every cell is taken as data (set --nodata to change that)" in result.notes
    assert db.execute("SELECT max_down FROM gapmap.ev_premises_speed").fetchone() == (12.0,)
    with pytest.raises(InputError, match="--band 2 does not exist"):
        run_load(settings, SpeedRasterLoader(), [tif], release="2026-02", options={"band": 2})
    notiff = tmp_path / "broken.tif"
    notiff.write_text("not a tiff")
    with pytest.raises(InputError, match="broken.tif: cannot read as a raster"):
        run_load(settings, SpeedRasterLoader(), [notiff], release="2026-03")


def test_raster_needs_premises(settings, tmp_path):
    tif = tmp_path / "s.tif"
    write_raster(tif, [[1.0]])
    with pytest.raises(InputError, match="no premises are loaded"):
        run_load(settings, SpeedRasterLoader(), [tif], release="2026-01")


# -- generic premises ------------------------------------------------------------------------------
def test_generic_premises_csv_with_latlon_postcodes_and_swaps(settings, db, tmp_path):
    from etl.codepoint import PostcodesLoader

    pcs = tmp_path / "pcs.csv"
    pcs.write_text("postcode,eastings,northings\nCF10 1AA,318284,176230\n")
    run_load(settings, PostcodesLoader(), [pcs])
    path = tmp_path / "premises.csv"
    path.write_text("uprn,latitude,longitude,postcode\n"
                    "1,51.4791,-3.1781,\n"
                    "2,,,cf10 1aa\n"
                    "3,-3.1781,51.4791,\n"
                    "4,,,CF99 9ZZ\n"
                    "5,0,0,\n")
    result = run_load(settings, PremisesLoader(), [path])
    assert (result.rows_loaded, result.rows_rejected) == (2, 3)
    assert rejects(db, result.run_id) == [
        (4, "latitude/longitude", "-3.1781,51.4791", "latitude and longitude look swapped"),
        (5, "coordinates", "CF99 9ZZ", "no coordinates, and the postcode is not loaded"),
        (6, "coordinates", "0,0", "no coordinates (0,0)"),
    ]
    rows = db.execute("SELECT uprn, round(ST_X(geom)), round(ST_Y(geom)), postcode, approximate "
                      "FROM gapmap.premises ORDER BY uprn").fetchall()
    assert rows[1] == (2, 318284, 176230, "CF10 1AA", True)
    assert rows[0][0] == 1 and abs(rows[0][1] - 318284) < 20 and rows[0][4] is False
    assert "1 premises placed at their postcode centroid (approximate)" in result.notes


def test_generic_premises_geojson_and_crs_errors(settings, db, tmp_path):
    import geopandas as gpd
    from shapely.geometry import Point, Polygon

    frame = gpd.GeoDataFrame({"UPRN": [7, 8]}, geometry=[Point(-3.1781, 51.4791), Polygon(
        [(0, 0), (1, 0), (1, 1)])], crs="EPSG:4326")
    path = tmp_path / "premises.geojson"
    frame.to_file(path, driver="GeoJSON")
    result = run_load(settings, PremisesLoader(), [path])
    assert (result.rows_loaded, result.rows_rejected) == (1, 1)
    assert rejects(db, result.run_id) == [(2, "geometry", "Polygon", "premises must be points")]
    with pytest.raises(InputError, match="--crs 'EPSG:99999999' is not a coordinate reference system"):
        run_load(settings, PremisesLoader(), [path], options={"crs": "EPSG:99999999"})
