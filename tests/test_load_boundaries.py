"""The boundaries loader: columns by prefix, CRS handling, repairs and rejects."""

from __future__ import annotations

import json

import geopandas as gpd
import pytest
from shapely.geometry import Point, Polygon

from connectivity.errors import InputError
from etl import run_load
from etl.boundaries import BoundariesLoader
from etl.runs import list_rejects

SQUARE = [[-3.2, 51.4], [-3.1, 51.4], [-3.1, 51.5], [-3.2, 51.5], [-3.2, 51.4]]
BOWTIE = [[-3.0, 51.4], [-2.9, 51.5], [-2.9, 51.4], [-3.0, 51.5], [-3.0, 51.4]]  # self-crossing
SQUARE2 = [[-4.2, 52.4], [-4.1, 52.4], [-4.1, 52.5], [-4.2, 52.5], [-4.2, 52.4]]


def feature(props, geometry):
    return {"type": "Feature", "properties": props, "geometry": geometry}


def write_geojson(path, features):
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def areas(db):
    return db.execute(
        "SELECT level, code, name_en, name_cy, vintage, ST_IsValid(geom), ST_SRID(geom), "
        "ST_GeometryType(geom) FROM gapmap.area ORDER BY code"
    ).fetchall()


def test_columns_found_by_prefix_invalid_polygons_repaired_bad_features_rejected(settings, db, tmp_path):
    path = write_geojson(tmp_path / "lad.geojson", [
        feature({"LAD25CD": "W06000015", "LAD25NM": "Cardiff", "LAD25NMW": "Caerdydd"},
                {"type": "Polygon", "coordinates": [SQUARE]}),
        feature({"LAD25CD": "W06000022", "LAD25NM": "Newport", "LAD25NMW": "Casnewydd"},
                {"type": "Polygon", "coordinates": [BOWTIE]}),
        feature({"LAD25CD": "W06000008", "LAD25NM": "Ceredigion", "LAD25NMW": None},
                {"type": "Point", "coordinates": [-4.1, 52.4]}),
        feature({"LAD25CD": "", "LAD25NM": "No code", "LAD25NMW": None},
                {"type": "Polygon", "coordinates": [SQUARE2]}),
        feature({"LAD25CD": "W06000001", "LAD25NM": None, "LAD25NMW": "Ynys Môn"},
                {"type": "Polygon", "coordinates": [SQUARE2]}),
        feature({"LAD25CD": "W06000015", "LAD25NM": "Cardiff again", "LAD25NMW": None},
                {"type": "Polygon", "coordinates": [SQUARE2]}),
        feature({"LAD25CD": "W06000023", "LAD25NM": "Powys", "LAD25NMW": "Powys"}, None),
    ])
    result = run_load(settings, BoundariesLoader(), [path], options={"level": "la"})
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (7, 2, 5)
    assert result.notes == ["repaired 1 invalid polygon(s) with ST_MakeValid"]
    assert areas(db) == [
        ("la", "W06000015", "Cardiff", "Caerdydd", "LAD25", True, 27700, "ST_MultiPolygon"),
        ("la", "W06000022", "Newport", "Casnewydd", "LAD25", True, 27700, "ST_MultiPolygon"),
    ]
    assert [(r["line"], r["column"], r["value"], r["reason"]) for r in list_rejects(db, result.run_id)] == [
        (3, "geometry", "Point", "not a polygon: boundaries must be polygons"),
        (4, "LAD25CD", None, "missing or malformed area code"),
        (5, "LAD25NM", None, "missing area name"),
        (6, "code", "W06000015", "duplicate area code: first seen in lad.geojson line 1"),
        (7, "geometry", None, "missing or empty geometry"),
    ]
    # the generated web-mercator and simplified copies exist and agree with the original
    row = db.execute(
        "SELECT ST_SRID(geom_3857), ST_SRID(geom_simple), "
        "ST_Area(ST_Transform(geom_3857, 27700)) / ST_Area(geom) FROM gapmap.area "
        "WHERE code = 'W06000015'").fetchone()
    assert row[0] == 3857 and row[1] == 4326 and abs(row[2] - 1) < 1e-6


@pytest.mark.filterwarnings("ignore:'crs' was not provided")
def test_a_file_without_crs_needs_crs_and_other_crs_are_reprojected(settings, db, tmp_path):
    bng = gpd.GeoDataFrame(
        {"WD13CD": ["W05000001"], "WD13NM": ["Aberdaron"], "WD13NMW": ["Aberdaron"]},
        geometry=[Polygon([(215000, 325000), (220000, 325000), (220000, 330000), (215000, 325000)])],
        crs=None,
    )
    path = tmp_path / "wards.gpkg"
    bng.to_file(path, driver="GPKG")
    with pytest.raises(InputError, match="declares no coordinate reference system"):
        run_load(settings, BoundariesLoader(), [path], options={"level": "ward"})
    result = run_load(settings, BoundariesLoader(), [path], options={"level": "ward", "crs": "EPSG:27700"})
    assert result.rows_loaded == 1
    assert db.execute("SELECT round(ST_Area(geom)) FROM gapmap.area").fetchone()[0] == 12_500_000
    assert areas(db)[0][:5] == ("ward", "W05000001", "Aberdaron", "Aberdaron", "WD13")


def test_explicit_columns_and_missing_code_column(settings, db, tmp_path):
    path = write_geojson(tmp_path / "x.geojson", [
        feature({"id": "W02000001", "label": "MSOA one"}, {"type": "Polygon", "coordinates": [SQUARE]}),
    ])
    with pytest.raises(InputError) as err:
        run_load(settings, BoundariesLoader(), [path], options={"level": "msoa"})
    assert "no msoa code column: expected a name like MSOA25CD. Found: id, label" in str(err.value)
    result = run_load(settings, BoundariesLoader(), [path], options={
        "level": "msoa", "code_column": "id", "name_column": "label"})
    assert result.rows_loaded == 1
    with pytest.raises(InputError, match="unknown or missing boundary level 'parish'"):
        run_load(settings, BoundariesLoader(), [path], options={"level": "parish"})


def test_unreadable_vector_file(settings, tmp_path):
    path = tmp_path / "junk.geojson"
    path.write_text("{not json")
    with pytest.raises(InputError, match="junk.geojson: cannot read as a vector dataset"):
        run_load(settings, BoundariesLoader(), [path], options={"level": "la"})


def test_points_only_file_rejects_every_feature(settings, db, tmp_path):
    frame = gpd.GeoDataFrame({"LAD25CD": ["W06000015"], "LAD25NM": ["Cardiff"]},
                             geometry=[Point(-3.2, 51.5)], crs="EPSG:4326")
    path = tmp_path / "points.geojson"
    frame.to_file(path, driver="GeoJSON")
    result = run_load(settings, BoundariesLoader(), [path], options={"level": "la"})
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (1, 0, 1)
