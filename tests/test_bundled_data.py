"""The real Welsh data shipped in data/ loads completely and exactly."""

from __future__ import annotations

import psycopg

from connectivity.areas import area_summaries
from etl.runs import list_rejects, list_runs

WELSH_NAMES = {
    "W06000001": ("Isle of Anglesey", "Ynys Môn"), "W06000002": ("Gwynedd", "Gwynedd"),
    "W06000003": ("Conwy", "Conwy"), "W06000004": ("Denbighshire", "Sir Ddinbych"),
    "W06000005": ("Flintshire", "Sir y Fflint"), "W06000006": ("Wrexham", "Wrecsam"),
    "W06000008": ("Ceredigion", "Ceredigion"), "W06000009": ("Pembrokeshire", "Sir Benfro"),
    "W06000010": ("Carmarthenshire", "Sir Gaerfyrddin"), "W06000011": ("Swansea", "Abertawe"),
    "W06000012": ("Neath Port Talbot", "Castell-nedd Port Talbot"),
    "W06000013": ("Bridgend", "Pen-y-bont ar Ogwr"), "W06000014": ("Vale of Glamorgan", "Bro Morgannwg"),
    "W06000015": ("Cardiff", "Caerdydd"), "W06000016": ("Rhondda Cynon Taf", "Rhondda Cynon Taf"),
    "W06000018": ("Caerphilly", "Caerffili"), "W06000019": ("Blaenau Gwent", "Blaenau Gwent"),
    "W06000020": ("Torfaen", "Torfaen"), "W06000021": ("Monmouthshire", "Sir Fynwy"),
    "W06000022": ("Newport", "Casnewydd"), "W06000023": ("Powys", "Powys"),
    "W06000024": ("Merthyr Tydfil", "Merthyr Tudful"),
}


def test_every_row_of_the_bundled_data_is_loaded_or_rejected(loaded_settings):
    with psycopg.connect(loaded_settings.conninfo) as conn:
        runs = {r["kind"]: r for r in list_runs(conn)}
        assert (runs["boundaries"]["rows_read"], runs["boundaries"]["rows_loaded"],
                runs["boundaries"]["rows_rejected"]) == (22, 22, 0)
        assert (runs["postcodes"]["rows_read"], runs["postcodes"]["rows_loaded"],
                runs["postcodes"]["rows_rejected"]) == (92_248, 92_247, 1)
        assert list_rejects(conn, runs["postcodes"]["id"]) == [{
            "file": "wales_postcodes_codepoint_open_2025_10.csv.gz", "line": 89128,
            "column": "eastings/northings", "value": "0,0",
            "reason": "no coordinates (0,0); positional quality 90",
        }]
        row = conn.execute("SELECT postcode, ST_X(geom), ST_Y(geom), la_code FROM gapmap.postcode "
                           "WHERE postcode = 'CF10 1AA'").fetchone()
        assert row == ("CF10 1AA", 318284.0, 176230.0, "W06000015")


def test_the_22_authorities_have_welsh_and_english_names_and_postcode_counts(loaded_settings):
    with psycopg.connect(loaded_settings.conninfo) as conn:
        areas = area_summaries(conn, "la")
        assert {a["code"]: (a["name_en"], a["name_cy"]) for a in areas} == WELSH_NAMES
        counts = {a["code"]: a["postcodes"] for a in areas}
        assert counts["W06000015"] == 7_678  # Cardiff
        assert counts["W06000023"] == 6_127  # Powys
        # 92,247 loaded; 3 coastal centroids fall just outside the generalised (BGC) coastline
        assert sum(counts.values()) == 92_244
        # spatial membership agrees with the codes Code-Point publishes for all but a handful
        disagree = conn.execute(
            "SELECT count(*) FROM gapmap.postcode p JOIN gapmap.area a "
            "ON a.level = 'la' AND ST_Covers(a.geom, p.geom) WHERE p.la_code <> a.code"
        ).fetchone()[0]
        assert disagree <= 10
