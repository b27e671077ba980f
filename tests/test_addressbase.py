"""connectivity load addressbase: AddressBase Plus (with and without its header, zipped) and
Premium (multi-record) against hand-made truth; rejects, change-only refusal, replacement."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from connectivity.errors import InputError
from etl import LOADERS, run_load
from etl.runs import list_rejects

DATA = Path(__file__).parent / "data" / "addressbase"
PLUS = DATA / "AddressBasePlus_FULL_2026-01-01_001.csv"
PLUS_ZIP = DATA / "AddressBasePlus_FULL_2026-01-01_001_csv.zip"
PLUS_HEADER = DATA / "addressbase_plus_header.csv"
PREMIUM = DATA / "AddressBasePremium_FULL_2026-01-01_001.csv"

R = "parent shell: the building holding premises of their own (P)"
PLUS_TRUTH = [
    (100100000001, None, "RD04", "residential", None, "12 OAK STREET, ABERYSTWYTH, SY23 1AA",
     "12 STRYD Y DDERWEN, ABERYSTWYTH, SY23 1AA", "SY23 1AA"),
    (100100000002, None, "PP", "not_premises", R, "TY GWYN, Bridge Street, Aberystwyth, SY23 1AB",
     "TY GWYN, Stryd y Bont, Aberystwyth, SY23 1AB", "SY23 1AB"),
    (100100000003, 100100000002, "RD06", "residential", None,
     "FLAT 1, TY GWYN, BRIDGE STREET, ABERYSTWYTH, SY23 1AB", None, "SY23 1AB"),
    (100100000004, None, "CR08", "business", None,
     "SIOP Y GORNEL, 1 GREAT DARKGATE STREET, ABERYSTWYTH, SY23 1DE", None, "SY23 1DE"),
    (100100000005, None, "X", "dual_use", None,
     "FFERM Y WAEN, LLANBADARN FAWR, ABERYSTWYTH, SY23 3AA",
     "FFERM Y WAEN, LLANBADARN FAWR, ABERYSTWYTH, SY23 3AA", "SY23 3AA"),
    (100100000006, None, "PS", "not_premises", "street record (PS)",
     "Bridge Street, Aberystwyth", None, None),
    (100100000007, None, "CU01", "not_premises",
     "not a postal address (ADDRESSBASE_POSTAL N) and not a dwelling",
     "SUB STATION, Bridge Street, Aberystwyth", None, None),
]
HEADER_TRUTH = [
    (100200000001, None, "RD02", "residential", None,
     "BRYN AWEL, 3 MAES Y LLAN, HIGH STREET, BALA, LL23 7AA",
     "BRYN AWEL, 3 MAES Y LLAN, STRYD FAWR, BALA, LL23 7AA", "LL23 7AA"),
    (100200000002, 100200000001, "RG02", "not_premises",
     "ancillary to a dwelling: an outbuilding, garage or parking space (RB, RC, RG)",
     "GARAGE, 3 High Street, Bala, LL23 7AA", None, "LL23 7AA"),
    (100200000003, None, "CO01", "business", None,
     "ADRAN GYLLID, CYNGOR GWYNEDD, PO Box 12, BALA, LL23 7ZZ", None, "LL23 7ZZ"),
]
PREMIUM_TRUTH = [
    (200000000001, None, "RD04", "residential", None, "5 QUEEN STREET, CARMARTHEN, SA31 1AA",
     "5 HEOL Y FRENHINES, CAERFYRDDIN, SA31 1AA", "SA31 1AA"),
    (200000000002, None, "LA01", "not_premises", "land (L)",
     "CAE MAWR, QUEEN STREET, CARMARTHEN, SA31 1AB", None, "SA31 1AB"),
    (200000000003, 200000000004, "RD06", "residential", None,
     "FLAT 2, 7 QUEEN STREET, CARMARTHEN, SA31 1AA",
     "FFLAT 2, 7 HEOL Y FRENHINES, CAERFYRDDIN, SA31 1AA", "SA31 1AA"),
]


def addresses(db) -> list[tuple]:
    return db.execute(
        "SELECT uprn, parent_uprn, class_code, kind, not_premises_reason, address_en, "
        "address_cy, postcode FROM gapmap.address ORDER BY uprn").fetchall()


def test_plus_without_header(settings, db):
    result = run_load(settings, LOADERS["addressbase"](), [PLUS])
    assert (result.status, result.rows_read, result.rows_loaded, result.rows_rejected,
            result.rows_filtered) == ("succeeded", 7, 7, 0, 0)
    assert addresses(db) == PLUS_TRUTH
    assert result.notes == [
        "layout: AddressBase Plus without a header 1 file(s)",
        "addresses: 7 (residential 2, business 1, dual use 1, not premises 3)",
        "Welsh-language addresses: 3"]
    assert result.format == "OS AddressBase Plus or Premium (CSV)"


def test_plus_with_header_bom_crlf_and_zip(settings, db):
    result = run_load(settings, LOADERS["addressbase"](), [PLUS_HEADER, PLUS_ZIP])
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (10, 10, 0)
    assert addresses(db) == sorted(PLUS_TRUTH + HEADER_TRUTH)
    assert result.notes[0] == ("layout: AddressBase Plus without a header 1 file(s), "
                               "AddressBase Plus with a header 1 file(s)")
    assert result.format == "OS AddressBase Plus or Premium (CSV), from zip"


def test_premium_multi_record(settings, db):
    result = run_load(settings, LOADERS["addressbase"](), [PREMIUM])
    # 19 records: 3 BLPUs published; 5 LPIs, 1 DPA, 3 classifications and 2 street descriptors
    # used; the header, street, metadata and trailer records and the ended classification filtered
    assert (result.rows_read, result.rows_loaded, result.rows_rejected,
            result.rows_filtered) == (19, 14, 0, 5)
    assert addresses(db) == PREMIUM_TRUTH
    assert result.notes[1:] == [
        "addresses: 3 (residential 2, business 0, dual use 0, not premises 1)",
        "Welsh-language addresses: 2"]


def test_full_supply_replaces_and_reload_is_safe(settings, db):
    loader = LOADERS["addressbase"]
    run_load(settings, loader(), [PLUS])
    again = run_load(settings, loader(), [PLUS])
    assert again.status == "skipped"
    forced = run_load(settings, loader(), [PLUS], force=True)
    assert forced.status == "succeeded" and addresses(db) == PLUS_TRUTH
    run_load(settings, loader(), [PREMIUM])
    assert addresses(db) == PREMIUM_TRUTH  # the Plus addresses are gone: a full supply replaces
    runs = db.execute("SELECT DISTINCT run_id FROM gapmap.address").fetchall()
    assert len(runs) == 1


def test_bad_rows_are_rejected(settings, db, tmp_path):
    bad = tmp_path / "plus_bad.csv"
    good = PLUS.read_text().splitlines()
    fields = good[0].split(",")

    def row(**at):
        f = list(fields)
        for i, v in at.items():
            f[int(i[1:])] = v
        return ",".join(f)
    bad.write_text("\n".join([
        good[0],
        row(c0="12A"),                                  # malformed UPRN
        row(c0="100100000011", c5=""),                  # missing class
        row(c0="100100000001"),                         # duplicate of line 1
        row(c0="100100000012", c6="100100000012"),      # its own parent
        row(c0="100100000013", c5="Q1"),                # unknown class letter
        "100100000014,,I",                              # a short row
    ]) + "\n")
    result = run_load(settings, LOADERS["addressbase"](), [bad])
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (7, 1, 6)
    assert [(r["line"], r["column"], r["value"], r["reason"])
            for r in list_rejects(db, result.run_id)] == [
        (2, "UPRN", "12A", "UPRN must be a positive whole number of at most 12 digits"),
        (3, "CLASS", None, "missing class"),
        (4, "UPRN", "100100000001", "duplicate UPRN: first seen in plus_bad.csv line 1"),
        (5, "PARENT_UPRN", "100100000012", "parent UPRN equal to the UPRN itself"),
        (6, "CLASS", "Q1", "unknown classification: the first letter must be one of C, L, M, "
                           "O, P, R, U, X, Z"),
        (7, None, "100100000014,,I", "row has 3 fields, expected 77"),
    ]


def test_change_only_update_is_refused(settings, db, tmp_path):
    cou = tmp_path / "cou.csv"
    line = PLUS.read_text().splitlines()[0].replace(",I,", ",U,", 1)
    cou.write_text(line + "\n")
    with pytest.raises(InputError) as caught:
        run_load(settings, LOADERS["addressbase"](), [cou])
    assert str(caught.value).startswith(
        "cou.csv, line 1, column 'CHANGE_TYPE': a change-only update (COU) record "
        "(CHANGE_TYPE 'U'): only full supplies are loaded")
    assert addresses(db) == []


def test_zip_member_names_the_rejects(settings, db, tmp_path):
    archive = tmp_path / "ab.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("data/ab.csv", PLUS.read_text().splitlines()[0].replace("100100000001", "0")
                   + "\n")
    result = run_load(settings, LOADERS["addressbase"](), [archive])
    assert [(r["file"], r["line"], r["column"], r["value"])
            for r in list_rejects(db, result.run_id)] == [("ab.zip!data/ab.csv", 1, "UPRN", "0")]
