"""OS Open UPRN loads: the fast COPY path, the careful path for bad files, filters and the swap."""

from __future__ import annotations

import gzip
import zipfile

import pytest

from connectivity.errors import InputError
from etl import run_load
from etl.boundaries import BoundariesLoader
from etl.os_open_uprn import UprnLoader
from etl.runs import list_rejects, list_runs
from tests.conftest import ROOT

BOM = "\ufeff"
HEADER = "UPRN,X_COORDINATE,Y_COORDINATE,LATITUDE,LONGITUDE\r\n"


def premises(db) -> dict[int, tuple]:
    return {u: (x, y, pc, approx) for u, x, y, pc, approx in db.execute(
        "SELECT uprn, ST_X(geom), ST_Y(geom), postcode, approximate FROM gapmap.premises ORDER BY uprn")}


def rejects(db, run_id):
    return [(r["file"], r["line"], r["column"], r["value"], r["reason"]) for r in list_rejects(db, run_id)]


def write(path, text: str, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


def test_a_clean_file_takes_the_fast_path(settings, db, tmp_path):
    path = write(tmp_path / "osopenuprn_202601.csv", BOM + HEADER
                 + "10001,318284.00,176230.00,51.4791020,-3.1780850\r\n"
                 + "10002,318296.5,176178.25,51.4786360,-3.1779000\r\n")
    result = run_load(settings, UprnLoader(), [path])
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (2, 2, 0)
    assert not any("row by row" in n for n in result.notes)
    assert premises(db) == {10001: (318284.0, 176230.0, None, False),
                            10002: (318296.5, 176178.25, None, False)}


def test_bad_values_are_rejected_with_line_column_and_reason(settings, db, tmp_path):
    path = write(tmp_path / "bad.csv", BOM + HEADER
                 + "10001,318284,176230,51.47,-3.17\r\n"       # 2 good
                 + "10002,0,0,,\r\n"                            # 3 no coordinates
                 + "10003,900000,176230,,\r\n"                  # 4 outside GB
                 + "-5,318284,176230,,\r\n"                     # 5 negative UPRN
                 + "10001,318000,176000,,\r\n"                  # 6 duplicate of line 2
                 + ",318284,176230,,\r\n"                       # 7 missing UPRN
                 + "10004,,176230,,\r\n"                        # 8 missing X
                 + "10005,318290,176240,,\r\n")                 # 9 good
    result = run_load(settings, UprnLoader(), [path])
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (8, 2, 6)
    assert sorted(premises(db)) == [10001, 10005]
    assert premises(db)[10001][:2] == (318284.0, 176230.0)  # the first occurrence wins
    assert rejects(db, result.run_id) == [
        ("bad.csv", 3, "X_COORDINATE/Y_COORDINATE", "0,0", "no coordinates (0,0)"),
        ("bad.csv", 4, "X_COORDINATE/Y_COORDINATE", "900000,176230",
         "outside Great Britain's National Grid extent"),
        ("bad.csv", 5, "UPRN", "-5", "UPRN must be a positive whole number of at most 12 digits"),
        ("bad.csv", 6, "UPRN", "10001", "duplicate UPRN: first seen in bad.csv line 2"),
        ("bad.csv", 7, "UPRN", None, "missing UPRN"),
        ("bad.csv", 8, "X_COORDINATE/Y_COORDINATE", None, "missing coordinates"),
    ]


def test_malformed_numbers_truncated_lines_and_latin1_take_the_careful_path(settings, db, tmp_path):
    path = tmp_path / "messy.csv"
    path.write_bytes(
        (BOM + HEADER + "10001,318284,176230,51.4,-3.1\r\n"
         + "10002,31x284,176230,51.4,-3.1\r\n"
         + "10003,318284,176230,51.4,-3.1,extra\r\n").encode()
        + "10004,318284,176231,51.4,-3.1 caf\xe9\r\n".encode("latin-1")
        + b"10005,3182")  # truncated last line, no newline
    result = run_load(settings, UprnLoader(), [path])
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (5, 2, 3)
    assert any(n.startswith("read row by row (COPY refused the file): messy.csv") for n in result.notes)
    assert rejects(db, result.run_id) == [
        ("messy.csv", 3, "X_COORDINATE", "31x284", "not a number"),
        ("messy.csv", 4, None, "10003,318284,176230,51.4,-3.1,extra", "row has 6 fields, the header has 5"),
        ("messy.csv", 6, None, "10005,3182", "row has 2 fields, the header has 5 (truncated line?)"),
    ]
    assert sorted(premises(db)) == [10001, 10004]


def test_duplicates_across_files_and_zip_and_gzip_inputs(settings, db, tmp_path):
    zipped = tmp_path / "osopenuprn_202601_csv.zip"
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("osopenuprn_202601.csv", BOM + HEADER + "10001,318284,176230,,\r\n10002,318290,176230,,\r\n")
    gz = tmp_path / "more.csv.gz"
    gz.write_bytes(gzip.compress((HEADER + "10002,1,1,,\r\n10003,318300,176230,,\r\n").encode()))
    result = run_load(settings, UprnLoader(), [zipped, gz])
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (4, 3, 1)
    assert result.format == "OS Open UPRN (CSV), from gzip and zip"
    assert rejects(db, result.run_id) == [(
        "more.csv.gz", 2, "UPRN", "10002",
        "duplicate UPRN: first seen in osopenuprn_202601_csv.zip!osopenuprn_202601.csv line 3")]


def test_missing_columns_and_empty_files(settings, tmp_path):
    path = write(tmp_path / "renamed.csv", "ID,X,Y\n1,2,3\n")
    with pytest.raises(InputError) as err:
        run_load(settings, UprnLoader(), [path])
    assert "missing column(s): uprn (one of: uprn)" in str(err.value)
    assert "Found: 'ID', 'X', 'Y'" in str(err.value)
    with pytest.raises(InputError, match="empty.csv: the file is empty"):
        run_load(settings, UprnLoader(), [write(tmp_path / "empty.csv", "")])
    with pytest.raises(InputError, match="header.csv: the file has a header but no rows"):
        run_load(settings, UprnLoader(), [write(tmp_path / "header.csv", BOM + HEADER)])


def test_within_keeps_premises_in_the_named_areas_and_counts_the_rest(settings, db, tmp_path):
    run_load(settings, BoundariesLoader(), [ROOT / "data/boundaries/wales_lad_2025_05_bgc.geojson.gz"],
             options={"level": "la"})
    path = write(tmp_path / "gb.csv", HEADER
                 + "1,318284,176230,,\r\n"    # Cardiff
                 + "2,258000,371000,,\r\n"    # Gwynedd
                 + "3,530000,180000,,\r\n")   # London
    result = run_load(settings, UprnLoader(), [path], options={"within": "wales"})
    assert (result.rows_read, result.rows_loaded, result.rows_rejected, result.rows_filtered) == (3, 2, 0, 1)
    assert sorted(premises(db)) == [1, 2]
    only_cardiff = run_load(settings, UprnLoader(), [path], options={"within": "W06000015"}, force=True)
    assert (only_cardiff.rows_loaded, only_cardiff.rows_filtered) == (1, 2)
    with pytest.raises(InputError, match="unknown area code"):
        run_load(settings, UprnLoader(), [path], options={"within": "W06000015,W06999999"})
    runs = list_runs(db)
    assert [(r["status"], r["rows_read"], r["rows_filtered"]) for r in runs[:2]] == [
        ("failed", 0, 0), ("succeeded", 3, 2)]


def test_small_loads_upsert_and_bulk_loads_swap_keeping_postcodes(settings, db, tmp_path):
    rows = "".join(f"{10000 + i},{318000 + i},176000,,\r\n" for i in range(50))
    first = run_load(settings, UprnLoader(), [write(tmp_path / "a.csv", HEADER + rows)])
    assert "premises table rebuilt and swapped in (bulk load)" in first.notes
    db.execute("UPDATE gapmap.premises SET postcode = 'CF10 1AA' WHERE uprn = 10001")
    small = run_load(settings, UprnLoader(), [write(tmp_path / "b.csv", HEADER + "10001,1000,2000,,\r\n")])
    assert not small.notes  # upsert, no swap
    assert premises(db)[10001] == (1000.0, 2000.0, "CF10 1AA", False)
    bulk = run_load(settings, UprnLoader(), [write(tmp_path / "c.csv", HEADER + rows.replace(",176000,", ",177000,"))])
    assert "premises table rebuilt and swapped in (bulk load)" in bulk.notes
    assert premises(db)[10001] == (318001.0, 177000.0, "CF10 1AA", False)
    assert len(premises(db)) == 50
    # the swapped-in table has the same indexes and constraints as the original
    indexes = [r[0] for r in db.execute(
        "SELECT indexname FROM pg_indexes WHERE schemaname = 'gapmap' AND tablename = 'premises' ORDER BY 1")]
    assert indexes == ["premises_geom_idx", "premises_pkey", "premises_postcode_idx"]
    with pytest.raises(Exception, match="premises_uprn_check"):
        db.execute("INSERT INTO gapmap.premises (uprn, geom, run_id) VALUES "
                   "(-1, ST_SetSRID(ST_MakePoint(1, 1), 27700), %s)", (bulk.run_id,))
