"""The postcode loader against a real PostGIS: exact rows loaded, exact rejects, nothing lost."""

from __future__ import annotations

import gzip
import zipfile

import pytest

from connectivity.errors import InputError
from etl import run_load
from etl.codepoint import PostcodesLoader
from etl.runs import list_rejects, list_runs

HEADER = (
    "postcode,postcode_nospace,postcode_area,postcode_district,positional_quality_indicator,"
    "eastings,northings,latitude,longitude,country_code,nhs_ha_code,admin_district_code,"
    "admin_district_name,admin_ward_code,admin_ward_name\n"
)


def row(pc: str, e: str, n: str, pqi: str = "10", la: str = "W06000015") -> str:
    return f"{pc},{pc.replace(' ', '')},CF,CF10,{pqi},{e},{n},,,W92000004,W11000029,{la},Cardiff,W05001274,Cathays ED\n"


def postcodes(db) -> dict[str, tuple]:
    return {
        pc: (x, y, pqi, la)
        for pc, x, y, pqi, la in db.execute(
            "SELECT postcode, ST_X(geom), ST_Y(geom), positional_quality, la_code "
            "FROM gapmap.postcode ORDER BY postcode"
        ).fetchall()
    }


def test_good_and_bad_rows_are_each_loaded_or_rejected_with_a_reason(settings, db, tmp_path):
    path = tmp_path / "pcs.csv"
    text = (
        HEADER
        + row("CF10 1AA", "318284", "176230")  # line 2: good
        + row("cf10 1ab", "318296", "176178")  # line 3: good, normalised
        + row("CF10 1AA", "318000", "176000")  # line 4: duplicate of line 2
        + row("XX 999", "318296", "176178")  # line 5: not a postcode
        + row("SY18 9AA", "0", "0", pqi="90")  # line 6: no coordinates
        + row("CF10 1AD", "abc", "176178")  # line 7: not a number
        + row("CF10 1AE", "900000", "176178")  # line 8: outside GB grid
        + row("CF10 1AF", "318300", "176100", pqi="x")  # line 9: bad PQI
        + "CF10 1AG,CF101AG,CF\n"  # line 10: truncated row
        + row("CF10 1AH", "318310", "176120")  # line 11: good
    )
    path.write_text(text)
    result = run_load(settings, PostcodesLoader(), [path])
    assert (result.status, result.rows_read, result.rows_loaded, result.rows_rejected) == (
        "succeeded", 10, 3, 7)
    assert postcodes(db) == {
        "CF10 1AA": (318284.0, 176230.0, 10, "W06000015"),
        "CF10 1AB": (318296.0, 176178.0, 10, "W06000015"),
        "CF10 1AH": (318310.0, 176120.0, 10, "W06000015"),
    }
    rejects = [(r["line"], r["column"], r["value"], r["reason"]) for r in list_rejects(db, result.run_id)]
    assert rejects == [
        (4, "postcode", "CF10 1AA", "duplicate postcode: first seen in pcs.csv line 2"),
        (5, "postcode", "XX 999", "not a UK postcode"),
        (6, "eastings/northings", "0,0", "no coordinates (0,0); positional quality 90"),
        (7, "eastings/northings", "abc,176178", "eastings and northings must be numbers"),
        (8, "eastings/northings", "900000,176178", "outside Great Britain's National Grid extent"),
        (9, "pqi", "x", "positional quality must be a whole number"),
        (10, None, "CF10 1AG,CF101AG,CF", "row has 3 fields, expected at least 14 (truncated line?)"),
    ]
    assert all(r["file"] == "pcs.csv" for r in list_rejects(db, result.run_id))


def test_bom_crlf_latin1_and_quoted_commas_are_read(settings, db, tmp_path):
    path = tmp_path / "excel.csv"
    body = (
        "\ufeffPostcode,Eastings,Northings,Admin_district_code,Admin_ward_code,Name\r\n"
        '"CF10 1AA",318284,176230,W06000015,W05001274,"Caerdydd, Cardiff"\r\n'
    ).encode("utf-8") + b"LL57 7DR,258000,371000,W06000002,W05000001,Ysbyty Gwynedd\r\n" + "SA1 1AA,265000,193000,W06000011,W05000002,Abertawe\xe9\r\n".encode("latin-1")
    path.write_bytes(body)
    result = run_load(settings, PostcodesLoader(), [path])
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (3, 3, 0)
    assert result.notes == ["excel.csv: 1 line(s) were not UTF-8 and were read as Windows-1252/latin-1"]
    assert sorted(postcodes(db)) == ["CF10 1AA", "LL57 7DR", "SA1 1AA"]


def test_headerless_codepoint_files_in_a_zip_and_gzip(settings, db, tmp_path):
    zipped = tmp_path / "codepo_gb.zip"
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("Doc/Code-Point_Open_Column_Headers.csv", "PC,PQ,EA,NO,CY,RH,LH,CC,DC,WC\n")
        archive.writestr(
            "Data/CSV/cf.csv",
            '"CF10 1AA",10,318284,176230,"W92000004","W11000029","","","W06000015","W05001274"\n'
            '"CF10 1AB",10,318296,176178,"W92000004","W11000029","","","W06000015","W05001274"\n',
        )
        archive.writestr(
            "Data/CSV/ll.csv",
            '"LL57 7DR",20,258000,371000,"W92000004","W11000031","","","W06000002","W05000001"\n',
        )
    gz = tmp_path / "more.csv.gz"
    gz.write_bytes(gzip.compress(b"pcds,oseast1m,osnrth1m,lad25cd\nNP20 1AA,331000,188000,W06000022\n"))
    result = run_load(settings, PostcodesLoader(), [zipped, gz])
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (4, 4, 0)
    assert postcodes(db)["LL57 7DR"] == (258000.0, 371000.0, 20, "W06000002")
    assert postcodes(db)["NP20 1AA"] == (331000.0, 188000.0, None, "W06000022")


def test_latitude_longitude_files_are_transformed_and_swaps_caught(settings, db, tmp_path):
    path = tmp_path / "wgs84.csv"
    path.write_text(
        "postcode,latitude,longitude\n"
        "CF10 1AA,51.479102,-3.178085\n"
        "CF10 1AB,-3.1779,51.478636\n"
        "CF10 1AD,0,0\n"
        "CF10 1AE,40.0,-3.0\n"
    )
    result = run_load(settings, PostcodesLoader(), [path])
    assert (result.rows_loaded, result.rows_rejected) == (1, 3)
    x, y, _, _ = postcodes(db)["CF10 1AA"]
    assert abs(x - 318284) < 10 and abs(y - 176230) < 10  # OSGB36 Helmert vs grid: metres
    reasons = [r["reason"] for r in list_rejects(db, result.run_id)]
    assert reasons == ["latitude and longitude look swapped", "no coordinates (0,0)",
                       "outside Great Britain"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (HEADER.encode(), "the file has a header but no rows"),
        (b"code,x,y\nCF10 1AA,1,2\n", "missing column(s): postcode (one of: postcode, pcds"),
        (b"postcode,foo\nCF10 1AA,1\n", "eastings+northings or latitude+longitude"),
    ],
)
def test_unreadable_files_fail_whole_with_a_clear_message(settings, db, tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(InputError) as err:
        run_load(settings, PostcodesLoader(), [path])
    assert message in str(err.value)
    assert str(err.value).startswith("bad.csv")
    assert db.execute("SELECT count(*) FROM gapmap.postcode").fetchone()[0] == 0
    runs = list_runs(db)
    assert [(r["status"], r["rows_loaded"]) for r in runs] == [("failed", 0)]
    assert message in runs[0]["message"]


def test_missing_columns_message_lists_what_was_found(settings, tmp_path):
    path = tmp_path / "renamed.csv"
    path.write_text("post_code,E,N\nCF10 1AA,1,2\n")
    with pytest.raises(InputError) as err:
        run_load(settings, PostcodesLoader(), [path])
    assert "Found: 'post_code', 'E', 'N'" in str(err.value)
    assert "line 1" in str(err.value)


def test_corrupt_zip_is_refused(settings, tmp_path):
    path = tmp_path / "broken.zip"
    good = tmp_path / "ok.zip"
    with zipfile.ZipFile(good, "w") as archive:
        archive.writestr("a.csv", "postcode,eastings,northings\n" + "CF10 1AA,318284,176230\n" * 50)
    data = bytearray(good.read_bytes())
    data[60:70] = b"XXXXXXXXXX"  # damage the compressed member
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match="broken.zip"):
        run_load(settings, PostcodesLoader(), [path])


def test_a_failure_midway_leaves_the_database_as_it_was(settings, db, tmp_path):
    first = tmp_path / "first.csv"
    first.write_text("postcode,eastings,northings\nCF10 1AA,318284,176230\n")
    run_load(settings, PostcodesLoader(), [first])
    before = postcodes(db)
    good = tmp_path / "good.csv"
    good.write_text("postcode,eastings,northings\nCF10 1AA,1000,2000\nCF10 1AB,318296,176178\n")
    bad = tmp_path / "bad.csv"
    bad.write_text("")
    with pytest.raises(InputError):
        run_load(settings, PostcodesLoader(), [good, bad])  # good.csv is staged, then bad.csv fails
    assert postcodes(db) == before
    assert db.execute("SELECT count(*) FROM gapmap.reject").fetchone()[0] == 0
    assert [r["status"] for r in list_runs(db)] == ["failed", "succeeded"]


def test_loading_the_same_file_again_is_a_no_op_unless_forced(settings, db, tmp_path):
    path = tmp_path / "pcs.csv"
    path.write_text("postcode,eastings,northings\nCF10 1AA,318284,176230\n")
    first = run_load(settings, PostcodesLoader(), [path], release="2025-10")
    again = run_load(settings, PostcodesLoader(), [path], release="2025-10")
    assert again.status == "skipped" and again.run_id == first.run_id
    assert again.message == f"already loaded as run {first.run_id}; use --force to load again"
    forced = run_load(settings, PostcodesLoader(), [path], release="2025-10", force=True)
    assert forced.status == "succeeded" and forced.run_id != first.run_id
    assert db.execute("SELECT count(*) FROM gapmap.postcode").fetchone()[0] == 1
    runs = list_runs(db)
    assert [r["id"] for r in runs] == [forced.run_id, first.run_id]
    assert runs[0]["release"] == "2025-10"
    assert runs[0]["files"][0]["name"] == "pcs.csv" and len(runs[0]["files"][0]["sha256"]) == 64


def test_a_codepoint_folder_skips_its_doc_files(settings, db, tmp_path):
    root = tmp_path / "codepo_gb"
    (root / "Data/CSV").mkdir(parents=True)
    (root / "Doc").mkdir()
    (root / "Doc/Code-Point_Open_Column_Headers.csv").write_text("PC,PQ,EA,NO,CY,RH,LH,CC,DC,WC\n")
    (root / "Data/CSV/cf.csv").write_text(
        '"CF10 1AA",10,318284,176230,"W92000004","W11000029","","","W06000015","W05001274"\n')
    result = run_load(settings, PostcodesLoader(), [root])
    assert (result.rows_read, result.rows_loaded) == (1, 1)
    assert [f["name"] for f in result.files] == ["cf.csv"]
