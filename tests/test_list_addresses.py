"""Officers see premises addresses (issue 17): a target list's snapshot keeps each premises'
AddressBase address, parent UPRN and class as they were when it was taken; the list page shows
the address in the page's language; the list's CSV, GeoPackage and GeoJSON carry the four
columns with AddressBase's attribution (and Ookla's licence when the run read speed tests); the
challenge page reads the address live; the bid pack lists it. Real PostGIS, the AddressBase
fixture loaded with the loader onto real demo UPRNs, hand-made expected values."""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile

import psycopg
import pyogrio
import pytest
import shapely

from connectivity.officers import accounts as acc
from connectivity.officers import challenges as ch
from connectivity.officers import lists, plans, session_scope
from connectivity.officers.bidpack import export_bidpack
from connectivity.officers.listfilters import ListFilters
from connectivity.outputs import ATTRIBUTION, CC_BY_NC_SA, OGL, PSGA
from connectivity.settings import load_settings
from tests.conftest import DATA, TEST_SECRET, app_for, copy_of
from tests.test_officer_web import PASSWORD, signed_in
from tests.test_ookla import tile, write_parquet

CEREDIGION, MERTHYR = "W06000008", "W06000024"
PLUS = DATA / "addressbase" / "AddressBasePlus_FULL_2026-01-01_001.csv"
OFFICER, OTHER = "officer@ceredigion.gov.uk", "officer@merthyr.gov.uk"
#: what a file holding AddressBase addresses adds to its attribution (the fixture's supply is
#: of 2026-01-01, as its file name says)
ADDRESSES_2026 = ("Addresses from OS AddressBase under the Public Sector Geospatial Agreement: "
                  "Contains OS data \u00a9 Crown copyright and database rights 2026.")
OOKLA = ("Speedtest\u00ae by Ookla\u00ae Global Fixed and Mobile Network Performance Maps, "
         "CC BY-NC-SA 4.0: non-commercial use only.")
NO_ADDRESS = {"No address held (load AddressBase)",  # until the lead merges the catalogue
              "Dim cyfeiriad ar gael (llwythwch AddressBase)"}


@pytest.fixture(scope="module")
def aw(server, base_db, tmp_path_factory):
    """The demo data, then AddressBase (the Plus fixture, its seven UPRNs renumbered to the
    first seven premises of Ceredigion, u[0] to u[6]; u[7] a Welsh-only record inserted by hand;
    u[8] none), an Ookla tile over u[0], the 2026-07 release classified (current; 2026-01 was
    classified before the addresses and the speed tests), accounts and a list "Addressed" round
    u[0] to u[8]."""
    from connectivity.classify import classify
    from connectivity.db import connect
    from connectivity.rules import load_rules
    from etl import LOADERS, run_load
    from gapmap.demo import bundled_inputs, synthetic_inputs

    name, url = copy_of(server, base_db)
    settings = load_settings({"database_url": url}, environ={}).replace(secret_key=TEST_SECRET)
    folder = tmp_path_factory.mktemp("addresses")
    with psycopg.connect(url, autocommit=True) as conn:
        u = [r[0] for r in conn.execute(
            "SELECT uprn FROM gapmap.premises_place WHERE la = %s ORDER BY uprn LIMIT 9",
            (CEREDIGION,))]
        points = {r[0]: (r[1], r[2], r[3], r[4]) for r in conn.execute(
            "SELECT uprn, ST_X(geom), ST_Y(geom), ST_X(ST_Transform(geom, 4326)), "
            "ST_Y(ST_Transform(geom, 4326)) FROM gapmap.premises WHERE uprn = ANY(%s)", (u,))}
    assert len(u) == 9
    plus = folder / PLUS.name
    plus.write_text(renumbered(PLUS.read_text(), u))
    loaded = run_load(settings, LOADERS["addressbase"](), [plus])
    assert loaded.status == "succeeded" and loaded.rows_loaded == 7
    welsh_only(url, u[7])
    parquet = write_parquet(folder / "2025-10-01_performance_fixed_tiles.parquet",
                            [tile(points[u[0]][2:], 4_100, 700, 31, 50, 10)])
    assert run_load(settings, LOADERS["ookla"](), [parquet]).status == "succeeded"
    for kind, paths, options, extra in bundled_inputs(settings) + synthetic_inputs(settings):
        if any("2026-07" in str(p) for p in paths):
            run_load(settings, LOADERS[kind](), paths, options=options, **extra)
    with connect(settings, autocommit=True) as conn:
        classify(conn, load_rules(settings.rules_file), up_to="2026-07")
    tokens = {}
    with session_scope(settings) as s:
        for key, email, area in (("officer", OFFICER, CEREDIGION), ("other", OTHER, MERTHYR)):
            acc.add_account(s, email=email, role="officer", areas=[area], password=PASSWORD,
                            actor="t")
            tokens[key] = acc.create_token(s, email, "tests", actor="t")[1]
        officer = acc.find_account(s, OFFICER)
        target = lists.create_list(s, name="Addressed", owner=officer, by=officer, actor="t",
                                   filters=ListFilters(), polygon=around(points, u))
        list_id = target.id
    with app_for(settings) as app:
        yield {"settings": settings, "url": url, "u": u, "points": points, "list": list_id,
               "app": app, "tokens": tokens, "folder": folder}
    server.drop(name)


def welsh_only(url: str, uprn: int) -> None:
    """A record with a Welsh-language address and no English one (by hand, in the latest
    AddressBase load)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO gapmap.address (uprn, class_code, kind, address_en, address_cy, postcode, "
            "run_id) VALUES (%s, 'RD03', 'residential', NULL, 'BWTHYN Y FELIN, LLAN-NON, SY23 5AA', "
            "'SY23 5AA', (SELECT max(run_id) FROM gapmap.address))", (uprn,))


def renumbered(text: str, u: list[int]) -> str:
    """The Plus fixture with its UPRNs 100100000001..7 (and the parent reference to the
    second) replaced by ``u[0]``..``u[6]``."""
    for i in range(7, 0, -1):
        text = text.replace(f"10010000000{i}", str(u[i - 1]))
    return text


def around(points: dict, u: list[int]):
    """A polygon of 30 m circles round each of ``u``'s points (united: they may overlap)."""
    union = shapely.unary_union([shapely.Point(points[x][:2]).buffer(30) for x in u])
    return union if union.geom_type == "MultiPolygon" else shapely.MultiPolygon([union])


def expected(u: list[int]) -> dict[int, tuple]:
    """(address_en, address_cy, parent_uprn, class_code) of each premises of the list: the
    Plus fixture's records (docs/etl.md; tests/test_addressbase.py's truth), the hand-made
    Welsh-only one and one without a record."""
    return {
        u[0]: ("12 OAK STREET, ABERYSTWYTH, SY23 1AA", "12 STRYD Y DDERWEN, ABERYSTWYTH, SY23 1AA",
               None, "RD04"),
        u[2]: ("FLAT 1, TY GWYN, BRIDGE STREET, ABERYSTWYTH, SY23 1AB", None, u[1], "RD06"),
        u[3]: ("SIOP Y GORNEL, 1 GREAT DARKGATE STREET, ABERYSTWYTH, SY23 1DE", None, None,
               "CR08"),
        u[4]: ("FFERM Y WAEN, LLANBADARN FAWR, ABERYSTWYTH, SY23 3AA",
               "FFERM Y WAEN, LLANBADARN FAWR, ABERYSTWYTH, SY23 3AA", None, "X"),
        u[7]: (None, "BWTHYN Y FELIN, LLAN-NON, SY23 5AA", None, "RD03"),
        u[8]: (None, None, None, None),
    }


def snapshot_rows(url: str, list_id: int) -> dict[int, tuple]:
    with psycopg.connect(url) as conn:
        return {r[0]: r[1:] for r in conn.execute(
            """SELECT t.uprn, t.address_en, t.address_cy, t.parent_uprn, t.class_code
               FROM gapmap.target_list_premises t
               WHERE t.snapshot_id = (SELECT max(id) FROM gapmap.target_list_snapshot
                                      WHERE list_id = %s)""", (list_id,))}


def cells(html: str) -> dict[int, str]:
    """UPRN -> the address cell's text of each row of a list page's premises table."""
    found = re.findall(r'<th scope="row"><a [^>]*>(\d+)</a></th>\s*<td class="address">(.*?)</td>',
                       html, re.S)
    return {int(uprn): re.sub(r"<[^>]+>", "", cell).strip() for uprn, cell in found}


def test_the_snapshot_keeps_each_address_and_leaves_out_what_is_not_premises(aw):
    u = aw["u"]
    got = snapshot_rows(aw["url"], aw["list"])
    want = expected(u)
    # u[1] (a parent shell), u[5] (a street record) and u[6] (a substation) are not premises:
    # the current classification left them out, so the list, drawn round them too, has none
    assert not {u[1], u[5], u[6]} & set(got)
    with psycopg.connect(aw["url"]) as conn:
        kinds = dict(conn.execute("SELECT uprn, kind FROM gapmap.address WHERE uprn = ANY(%s)",
                                  ([u[1], u[5], u[6]],)).fetchall())
        in_premises = conn.execute("SELECT count(*) FROM gapmap.premises WHERE uprn = ANY(%s)",
                                   ([u[1], u[5], u[6]],)).fetchone()[0]
    assert kinds == {u[1]: "not_premises", u[5]: "not_premises", u[6]: "not_premises"}
    assert in_premises == 3
    assert {x: got[x] for x in want} == want
    with session_scope(aw["settings"]) as s:
        target = lists.get_list(s, None, aw["list"])
        assert target.latest.releases["addressbase"] == "2026-01-01"
        assert lists.address_year(s, target.latest) == 2026


@pytest.mark.parametrize("lang", ["en", "cy"])
def test_the_list_page_shows_each_address_in_the_page_language(aw, lang):
    u = aw["u"]
    page = signed_in(aw["app"], OFFICER, lang).get(f"/{lang}/officer/lists/{aw['list']}")
    assert page.status_code == 200
    shown = cells(page.text)
    if lang == "en":
        assert shown[u[0]] == "12 OAK STREET, ABERYSTWYTH, SY23 1AA"
        assert shown[u[7]] == "BWTHYN Y FELIN, LLAN-NON, SY23 5AA"  # Welsh only: the Welsh
    else:
        assert shown[u[0]] == "12 STRYD Y DDERWEN, ABERYSTWYTH, SY23 1AA"
        assert shown[u[7]] == "BWTHYN Y FELIN, LLAN-NON, SY23 5AA"
    # no Welsh-language variant: the English on both pages
    assert shown[u[2]] == "FLAT 1, TY GWYN, BRIDGE STREET, ABERYSTWYTH, SY23 1AB"
    assert shown[u[3]] == "SIOP Y GORNEL, 1 GREAT DARKGATE STREET, ABERYSTWYTH, SY23 1DE"
    assert shown[u[4]] == "FFERM Y WAEN, LLANBADARN FAWR, ABERYSTWYTH, SY23 3AA"
    assert shown[u[8]] in NO_ADDRESS
    assert not {u[1], u[5], u[6]} & set(shown)
    assert f'<a href="/api/v1/premises/{u[0]}' in page.text  # the UPRN stays, linked


def test_the_api_gives_the_snapshot_addresses_and_is_scoped(aw):
    api = aw["app"].test_client()
    u = aw["u"]

    def get(path, who):
        return api.get(path, headers={"Authorization": f"Bearer {aw['tokens'][who]}"})
    page = get(f"/api/v1/officer/lists/{aw['list']}/premises?per_page=100", "officer").json
    by = {p["uprn"]: p for p in page["premises"]}
    for x, (en, cy, parent, code) in expected(u).items():
        assert (by[x]["address_en"], by[x]["address_cy"], by[x]["parent_uprn"],
                by[x]["class_code"]) == (en, cy, parent, code)
    # an officer of another authority sees neither the list nor its premises nor its files
    assert get(f"/api/v1/officer/lists/{aw['list']}/premises", "other").status_code == 404
    assert get(f"/api/v1/officer/lists/{aw['list']}/export?format=csv", "other").status_code == 404
    other = signed_in(aw["app"], OTHER)
    assert other.get(f"/en/officer/lists/{aw['list']}").status_code == 404
    assert other.get(f"/en/officer/lists/{aw['list']}/export?format=gpkg").status_code == 404


def _reread(path, fmt: str) -> dict[int, tuple]:
    """UPRN -> (address_en, address_cy, parent_uprn, class_code) as the file holds them."""
    if fmt == "csv":
        with path.open(encoding="utf-8-sig") as fh:
            return {int(r["uprn"]): (r["address_en"] or None, r["address_cy"] or None,
                                     int(r["parent_uprn"]) if r["parent_uprn"] else None,
                                     r["class_code"] or None) for r in csv.DictReader(fh)}
    frame = pyogrio.read_dataframe(path, layer="premises" if fmt == "gpkg" else None)

    def value(v):
        return None if v is None or v != v else v  # NaN or None: empty
    return {int(r.uprn): (value(r.address_en), value(r.address_cy),
                          None if value(r.parent_uprn) is None else int(r.parent_uprn),
                          value(r.class_code)) for r in frame.itertuples()}


def _stated(path, fmt: str) -> tuple[str, list[str] | None]:
    """What the file says of itself (description) and, for a CSV, its licences."""
    if fmt == "csv":
        meta = json.loads(path.with_name(f"{path.name}-metadata.json").read_text(encoding="utf-8"))
        ids = meta["dc:license"]
        ids = [i["@id"] for i in ids] if isinstance(ids, list) else [ids["@id"]]
        assert [c["name"] for c in meta["tableSchema"]["columns"]] == lists.LIST_EXPORT_COLUMNS
        assert meta["dc:description"].endswith(meta["dc:rights"])
        return meta["dc:rights"], ids
    if fmt == "gpkg":
        return pyogrio.read_info(path, layer="premises")["layer_metadata"]["DESCRIPTION"], None
    return json.loads(path.read_text(encoding="utf-8"))["description"], None


@pytest.mark.parametrize("fmt", ["csv", "gpkg", "geojson"])
def test_exports_carry_the_addresses_and_their_attribution(aw, tmp_path, fmt):
    u = aw["u"]
    with session_scope(aw["settings"]) as s:
        target = lists.get_list(s, None, aw["list"])
        out = tmp_path / f"addressed.{fmt}"
        n = lists.export_list(s, target, out, fmt, actor="t", lang="cy")
    got = _reread(out, fmt)
    assert n == len(got) == len(snapshot_rows(aw["url"], aw["list"]))
    assert {x: got[x] for x in expected(u)} == expected(u)
    assert not {u[1], u[5], u[6]} & set(got)
    if fmt != "csv":
        types = dict(zip(*[pyogrio.read_info(out, layer="premises" if fmt == "gpkg" else None)[k]
                           for k in ("fields", "dtypes")], strict=True))
        assert types["parent_uprn"] == "int64" and types["class_code"] == "object"
    text, ids = _stated(out, fmt)
    # the 2026-07 run read Ookla's speed tests; the list holds AddressBase addresses
    assert text.endswith(f"{ATTRIBUTION} {OOKLA} {ADDRESSES_2026}")
    if ids is not None:
        assert ids == [OGL, CC_BY_NC_SA, PSGA]


def test_attribution_follows_what_the_list_holds_and_what_its_run_read(aw, tmp_path):
    """A list on the run made before the speed tests has no Ookla licence (the export passes
    the run's use of them on); a list holding no address has no AddressBase attribution."""
    with session_scope(aw["settings"]) as s:
        officer = acc.find_account(s, OFFICER)
        old = lists.create_list(s, name="On 2026-01", owner=officer, by=officer, actor="t",
                                run="2026-01", filters=ListFilters(),
                                polygon=around(aw["points"], aw["u"][:1]))
        lists.export_list(s, old, tmp_path / "old.csv", "csv", actor="t")
        other = acc.find_account(s, OTHER)
        away = lists.create_list(s, name="Merthyr below", owner=other, by=other, actor="t",
                                 filters=ListFilters(status=("below",)))
        assert away.latest.premises > 0 and "addressbase" not in away.latest.releases
        lists.export_list(s, away, tmp_path / "away.csv", "csv", actor="t")
        lists.export_list(s, away, tmp_path / "away.geojson", "geojson", actor="t")
    text, ids = _stated(tmp_path / "old.csv", "csv")
    assert (text, ids) == (f"{ATTRIBUTION} {ADDRESSES_2026}", [OGL, PSGA])
    text, ids = _stated(tmp_path / "away.csv", "csv")
    assert (text, ids) == (f"{ATTRIBUTION} {OOKLA}", [OGL, CC_BY_NC_SA])
    text, _ = _stated(tmp_path / "away.geojson", "geojson")
    assert text.endswith(f"{ATTRIBUTION} {OOKLA}")
    assert all(v == (None, None, None, None) for v in _reread(tmp_path / "away.csv", "csv").values())


def test_the_challenge_page_shows_the_address_held_now(aw):
    u = aw["u"]
    with session_scope(aw["settings"]) as s:
        officer = acc.find_account(s, OFFICER)
        ids = {x: ch.file_challenge(s, officer, aw["settings"], kind="speed", uprn=x,
                                    claimed_down=4.0, actor=OFFICER).id
               for x in (u[0], u[2], u[8])}
    en, cy = signed_in(aw["app"], OFFICER), signed_in(aw["app"], OFFICER, "cy")
    page = en.get(f"/en/officer/challenges/{ids[u[0]]}").text
    assert '<dd class="address">12 OAK STREET, ABERYSTWYTH, SY23 1AA</dd>' in page
    page = cy.get(f"/cy/officer/challenges/{ids[u[0]]}").text
    assert '<dd class="address">12 STRYD Y DDERWEN, ABERYSTWYTH, SY23 1AA</dd>' in page
    page = en.get(f"/en/officer/challenges/{ids[u[2]]}").text
    assert ('<dd class="address">FLAT 1, TY GWYN, BRIDGE STREET, ABERYSTWYTH, SY23 1AB '
            f"(in the building with UPRN {u[1]})</dd>") in page
    page = en.get(f"/en/officer/challenges/{ids[u[8]]}")
    assert page.status_code == 200 and 'class="address"' not in page.text
    api = aw["app"].test_client().get(
        f"/api/v1/officer/challenges/{ids[u[2]]}",
        headers={"Authorization": f"Bearer {aw['tokens']['officer']}"}).json
    assert api["address"] == {"address_en": "FLAT 1, TY GWYN, BRIDGE STREET, ABERYSTWYTH, SY23 1AB",
                              "address_cy": None, "parent_uprn": u[1], "class_code": "RD06",
                              "kind": "residential"}
    assert signed_in(aw["app"], OTHER).get(
        f"/en/officer/challenges/{ids[u[0]]}").status_code == 404


def test_the_bid_pack_lists_the_addresses(aw, tmp_path):
    from connectivity.costs import load_costs
    from connectivity.planning import params_from

    u = aw["u"]
    model = load_costs()
    with session_scope(aw["settings"]) as s:
        officer = acc.find_account(s, OFFICER)
        plan = plans.create_plan(s, name="From the addressed list", owner=officer, by=officer,
                                 la=CEREDIGION, model=model, params=params_from(model),
                                 list_ident=aw["list"], actor="t")
        made = export_bidpack(s, plan, tmp_path / "pack.zip", actor="t")
    assert made["attribution"].endswith(f"{ATTRIBUTION} {ADDRESSES_2026}")
    with zipfile.ZipFile(tmp_path / "pack.zip") as z:
        rows = list(csv.DictReader(io.StringIO(z.read("premises.csv").decode("utf-8-sig"))))
        z.extract("plan.gpkg", tmp_path)
    by = {int(r["uprn"]): (r["address_en"] or None, r["address_cy"] or None,
                           int(r["parent_uprn"]) if r["parent_uprn"] else None,
                           r["class_code"] or None) for r in rows}
    assert {x: by[x] for x in expected(u)} == expected(u)
    layer = pyogrio.read_dataframe(tmp_path / "plan.gpkg", layer="premises")
    flat = layer[layer["uprn"] == u[2]].iloc[0]
    assert (flat["address_en"], int(flat["parent_uprn"]), flat["class_code"]) == (
        "FLAT 1, TY GWYN, BRIDGE STREET, ABERYSTWYTH, SY23 1AB", u[1], "RD06")


def test_a_later_addressbase_load_does_not_rewrite_a_snapshot(aw, tmp_path):
    """The list keeps the address it was made with; the challenge page reads the new one; a
    refresh accepted takes the new one into its new snapshot. (The original supply is loaded
    again afterwards.)"""
    from etl import LOADERS, run_load

    u = aw["u"]
    with session_scope(aw["settings"]) as s:
        officer = acc.find_account(s, OFFICER)
        kept = lists.create_list(s, name="Kept", owner=officer, by=officer, actor="t",
                                 filters=ListFilters(), polygon=around(aw["points"], u[:1]))
        kept_id = kept.id
        challenge = ch.file_challenge(s, officer, aw["settings"], kind="availability", uprn=u[0],
                                      availability_reason="refused", actor=OFFICER).id
    newer = tmp_path / "newer"
    newer.mkdir()
    later = newer / "AddressBasePlus_FULL_2026-07-01_001.csv"
    later.write_text(renumbered(PLUS.read_text(), u).replace(",12,,,,,,,12,", ",14,,,,,,,14,", 1))
    try:
        assert run_load(aw["settings"], LOADERS["addressbase"](), [later]).status == "succeeded"
        with psycopg.connect(aw["url"]) as conn:
            now = conn.execute("SELECT address_en FROM gapmap.address WHERE uprn = %s",
                               (u[0],)).fetchone()[0]
        assert now == "14 OAK STREET, ABERYSTWYTH, SY23 1AA"
        assert snapshot_rows(aw["url"], kept_id)[u[0]][0] == "12 OAK STREET, ABERYSTWYTH, SY23 1AA"
        officer_web = signed_in(aw["app"], OFFICER)
        assert cells(officer_web.get(f"/en/officer/lists/{kept_id}").text)[u[0]] == \
            "12 OAK STREET, ABERYSTWYTH, SY23 1AA"
        with session_scope(aw["settings"]) as s:
            target = lists.get_list(s, None, kept_id)
            lists.export_list(s, target, tmp_path / "kept.csv", "csv", actor="t")
            assert target.latest.releases["addressbase"] == "2026-01-01"
        assert _reread(tmp_path / "kept.csv", "csv")[u[0]][0] == "12 OAK STREET, ABERYSTWYTH, SY23 1AA"
        page = officer_web.get(f"/en/officer/challenges/{challenge}").text
        assert '<dd class="address">14 OAK STREET, ABERYSTWYTH, SY23 1AA</dd>' in page
        with session_scope(aw["settings"]) as s:
            target = lists.get_list(s, None, kept_id)
            lists.refresh(s, target, accept=True, actor="t")
            assert target.latest.releases["addressbase"] == "2026-07-01"
        assert snapshot_rows(aw["url"], kept_id)[u[0]][0] == "14 OAK STREET, ABERYSTWYTH, SY23 1AA"
    finally:
        original = aw["folder"] / PLUS.name
        run_load(aw["settings"], LOADERS["addressbase"](), [original], force=True)
        welsh_only(aw["url"], u[7])
