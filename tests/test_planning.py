"""Intervention planning: the cost model file, clusters of hand-made layouts with exact expected
members, route lengths and costs computed independently here (scipy's minimum spanning tree over
the full distance matrix; the cost formulas written out again), isolated premises, plans and
their totals, scope and roles over the officer API, the command line, and the bid pack re-read
with pyogrio and sqlite3 with its summary checked in Welsh and English."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import zipfile

import numpy as np
import psycopg
import pyogrio
import pytest
from click.testing import CliRunner
from scipy.sparse.csgraph import minimum_spanning_tree
from scipy.spatial import distance_matrix
from sklearn.cluster import DBSCAN

from connectivity import planning
from connectivity.costs import load_costs, parse_costs
from connectivity.errors import BadRequest, ConfigError, Forbidden, NotFound
from connectivity.officers import accounts as acc
from connectivity.officers import plans, session_scope
from connectivity.officers.bidpack import export_bidpack
from connectivity.settings import load_settings
from gapmap.cli import main
from tests.conftest import TEST_SECRET, app_for, copy_of

PASSWORD = "correct horse battery staple"
CEREDIGION, MERTHYR = "W06000008", "W06000024"
MODEL = load_costs()


def scipy_mst(points) -> float:
    """The minimum spanning tree's length from the full distance matrix (the independent side)."""
    pts = np.unique(np.asarray(points, dtype=float), axis=0)
    if len(pts) < 2:
        return 0.0
    return float(minimum_spanning_tree(distance_matrix(pts, pts)).sum())


def expected_costs(n: int, mst: float | None, link: float | None, target: str) -> dict:
    """The cost formulas of docs/planning.md written out with the packaged defaults."""
    per_m = 0.3 * 2 + 0.4 * 25 + 0.2 * 42.5 + 0.1 * 100  # 29.1 GBP per metre
    options = {"fixed_wireless": n * 800.0, "leo_satellite": n * 990.0}
    route = None
    if mst is not None:
        route = (mst + link) * 1.2
        options["fibre"] = route * per_m + n * 600.0
    meets = {o: (o == "fibre") or target == "30" for o in options}
    pool = {o: c for o, c in options.items() if meets[o]} or options
    best = min(pool, key=pool.get)
    robust = all(pool[best] * 1.25 <= c * 0.75 for o, c in pool.items() if o != best)
    return {"route": route, "options": options, "recommended": best, "gbp": pool[best],
            "robust": robust, "very_high": pool[best] / n > 3400}


# -- the cost model ---------------------------------------------------------------------------
def test_the_cost_model_has_a_source_for_every_value_and_refuses_bad_files(tmp_path):
    assert MODEL.version == "2026.1"
    assert MODEL.civils.gbp_per_m == pytest.approx(29.1)
    assert MODEL.flags.very_high_cost_gbp == 3400 and MODEL.flags.sensitivity == 0.25
    assert MODEL.reaches("fibre", "gigabit") and not MODEL.reaches("fixed_wireless", "gigabit")
    data = MODEL.as_dict()
    assert "USO cost cap" in data["sources"]["en"]["flags.very_high_cost_gbp"]
    assert "cap cost y USO" in data["sources"]["cy"]["flags.very_high_cost_gbp"]
    with pytest.raises(ConfigError, match=r"unknown key civils\.tarmac = 3"):
        parse_costs({**data, "civils": {**data["civils"], "tarmac": 3}}, "t")
    with pytest.raises(ConfigError, match=r"\[civils.mix\] must add up to 1, got 0.3 \+ 0.4 "
                                          r"\+ 0.2 \+ 0.2 = 1.1"):
        MODEL.replace("civils.mix.carriageway", 0.2)
    with pytest.raises(ConfigError, match=r"route.routing_factor must be a number, got '1.2'"):
        MODEL.replace("route.routing_factor", "1.2")
    with pytest.raises(ConfigError, match="route.routing_factor must be at least 1"):
        MODEL.replace("route.routing_factor", 0.9)
    no_source = {**data, "sources": {**data["sources"], "cy": {
        k: v for k, v in data["sources"]["cy"].items() if k != "fibre.reaches_30"}}}
    with pytest.raises(ConfigError, match=r"\[sources.cy\] gives no source for fibre.reaches_30"):
        parse_costs(no_source, "t")
    bad = tmp_path / "costs.toml"
    bad.write_text("version = 1\n")
    with pytest.raises(ConfigError, match=f"costs file {bad}: version must be a string, got 1"):
        load_costs(bad)


def test_the_minimum_spanning_tree_matches_scipy_on_awkward_points():
    rng = np.random.default_rng(15)
    layouts = [rng.uniform(0, 1000, (400, 2)),
               np.column_stack([np.arange(30) * 7.0, np.zeros(30)]),           # collinear
               np.array([[0, 0], [0, 0], [3, 4], [3, 4], [10, 0]], float),    # flats
               np.array([[5, 5]], float), np.array([[0, 0], [6, 8]], float),
               np.round(rng.uniform(0, 50, (200, 2))),                        # a grid
               ]
    for pts in layouts:
        assert planning.mst_length(pts) == pytest.approx(scipy_mst(pts), rel=1e-9, abs=1e-9)


# -- a hand-made layout -----------------------------------------------------------------------
A = [(1, 1000, 1000, "below", None, "W01000002"), (2, 1060, 1000, "below", None, "W01000002"),
     (3, 1120, 1000, "below", None, "W01000002"), (4, 1120, 1070, "possibly_below", 0.6, "W01000015"),
     (5, 1190, 1070, "possibly_below", 0.6, "W01000015")]
B = [(10, 5000, 5000, "below", None, "W01000007"), (11, 5030, 5040, "below", None, "W01000007"),
     (12, 5080, 5000, "possibly_below", 0.25, "W01000007"),
     (13, 5050, 4950, "below", None, "W01000007")]
LONE = [(20, 3000, 3000, "below", None, None), (21, 8000, 1000, "possibly_below", 0.5, None),
        (22, 9000, 9000, "below", None, None), (23, 9050, 9000, "below", None, None)]
SERVED = [(900, 1000), (5000, 5300), (20000, 20000)]
PLANNED = [(1130, 1100), (7000, 7000)]


@pytest.fixture()
def layout(db):
    run = db.execute("INSERT INTO gapmap.load_run (kind, status, fingerprint, started_at) "
                     "VALUES ('wimd', 'succeeded', 't', now()) RETURNING id").fetchone()[0]
    for rank in range(1, 21):  # 20 LSOAs ranked: the most deprived fifth is ranks 1 to 4
        db.execute("INSERT INTO gapmap.wimd (lsoa_code, wimd_rank, run_id) VALUES (%s, %s, %s)",
                   (f"W010000{rank:02d}", rank, run))
    with db.transaction():
        planning.create_input_tables(db)
        for uprn, x, y, status, p, lsoa in A + B + LONE:
            db.execute("INSERT INTO plan_input (uprn, status, probability_below, lsoa, la, geom) "
                       "VALUES (%s, %s, %s, %s, 'W06000008', ST_SetSRID(ST_MakePoint(%s, %s), "
                       "27700))", (uprn, status, p, lsoa, x, y))
        for table, pts in (("plan_served", SERVED), ("plan_planned", PLANNED)):
            for x, y in pts:
                db.execute(f"INSERT INTO {table} (geom) VALUES "
                           "(ST_SetSRID(ST_MakePoint(%s, %s), 27700))", (x, y))
    yield db


@pytest.mark.parametrize("target", ["30", "gigabit"])
def test_a_hand_made_layout_gives_exact_clusters_routes_and_costs(layout, target):
    params = planning.params_from(MODEL, distance_m=100, min_premises=3, target=target)
    with layout.transaction():
        result = planning.analyse(layout, MODEL, params)
        members = dict(layout.execute("SELECT cluster_id, array_agg(uprn ORDER BY uprn) "
                                      "FROM plan_member GROUP BY 1").fetchall())
    assert members == {1: [1, 2, 3, 4, 5], 2: [10, 11, 12, 13], 0: [20, 21, 22, 23]}
    # the same clusters from scikit-learn's DBSCAN on the same points and parameters
    pts = np.array([(x, y) for _, x, y, *_ in A + B + LONE], float)
    labels = DBSCAN(eps=100, min_samples=3).fit(pts).labels_
    assert [list(labels[:5]), list(labels[5:9]), list(labels[9:])] == \
        [[labels[0]] * 5, [labels[5]] * 4, [-1] * 4] and labels[0] != labels[5] != -1
    one, two = result["clusters"]
    assert (one["premises"], one["settled"], one["expected"]) == (5, 3, 4.2)
    assert (two["premises"], two["settled"], two["expected"]) == (4, 3, 3.25)
    assert (one["need_wimd_rank"], one["lsoas"], one["most_deprived"]) == (8.5, 2, 3)
    assert (two["need_wimd_rank"], two["most_deprived"]) == (7.0, 0)
    assert one["served_distance_m"] == 100.0
    assert two["served_distance_m"] == pytest.approx(np.hypot(30, 260), abs=0.05)
    assert (one["planned_nearby"], two["planned_nearby"]) == (1, 0)
    assert one["centroid"] == [1098.0, 1028.0]
    for group, rows in ((one, A), (two, B)):
        mst = scipy_mst([(x, y) for _, x, y, *_ in rows])
        want = expected_costs(len(rows), mst, group["served_distance_m"], target)
        assert group["mst_m"] == pytest.approx(mst, abs=0.05)
        assert group["route_m"] == pytest.approx(want["route"], abs=0.1)
        for option, gbp in want["options"].items():
            assert group["options"][option]["gbp"] == pytest.approx(gbp, abs=5)
        assert (group["recommended"], group["robust"], group["very_high_cost"]) == \
            (want["recommended"], want["robust"], want["very_high"])
    lone = result["isolated"]
    assert (lone["id"], lone["premises"], lone["expected"]) == (0, 4, 3.5)
    assert lone["options"]["fibre"] is None and lone["route_m"] is None
    want = expected_costs(4, None, None, target)
    assert lone["recommended"] == "fixed_wireless"
    assert lone["meets_target"] is (target == "30")  # no wireless or satellite reaches gigabit
    assert lone["recommended_gbp"] == want["gbp"] == 3200
    t = result["totals"]
    assert (t["clusters"], t["clustered_premises"], t["isolated_premises"], t["premises"]) == \
        (2, 9, 4, 13)
    assert t["expected"] == pytest.approx(4.2 + 3.25 + 3.5)
    assert t["recommended_gbp"] == pytest.approx(
        one["recommended_gbp"] + two["recommended_gbp"] + lone["recommended_gbp"])
    assert t["most_deprived"] == 3


def test_a_larger_distance_joins_the_pair_and_fewer_premises_make_it_a_cluster(layout):
    with layout.transaction():
        result = planning.analyse(layout, MODEL, planning.params_from(
            MODEL, distance_m=100, min_premises=2))
    assert [c["premises"] for c in result["clusters"]] == [5, 4, 2]
    assert result["isolated"]["premises"] == 2
    with pytest.raises(BadRequest, match="clustering distance must be above 0"):
        planning.params_from(MODEL, distance_m=0)
    with pytest.raises(BadRequest, match="unknown target '100'"):
        planning.params_from(MODEL, target="100")


# -- on the demo data -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def pw(server, base_db):
    """The demo data with 2026-07 classified current, LSOAs and WIMD, accounts of each role."""
    from connectivity.classify import classify
    from connectivity.db import connect
    from connectivity.rules import load_rules
    from etl import LOADERS, run_load
    from gapmap.demo import bundled_inputs, synthetic_inputs

    name, url = copy_of(server, base_db)
    settings = load_settings({"database_url": url}, environ={}).replace(secret_key=TEST_SECRET)
    for kind, paths, options, extra in bundled_inputs(settings) + synthetic_inputs(settings):
        if kind == "wimd" or (kind == "boundaries" and options["level"] == "lsoa") \
                or any("2026-07" in str(p) for p in paths):
            run_load(settings, LOADERS[kind](), paths, options=options, **extra)
    with connect(settings, autocommit=True) as conn:
        classify(conn, load_rules(settings.rules_file), up_to="2026-07")
    tokens = {}
    with session_scope(settings) as s:
        for key, email, role, areas in (
                ("officer", "officer@ceredigion.gov.uk", "officer", [CEREDIGION]),
                ("viewer", "viewer@ceredigion.gov.uk", "viewer", [CEREDIGION]),
                ("other", "officer@merthyr.gov.uk", "officer", [MERTHYR]),
                ("admin", "admin@gov.wales", "admin", [])):
            acc.add_account(s, email=email, role=role, areas=areas, password=PASSWORD, actor="t")
            tokens[key] = acc.create_token(s, email, "tests", actor="t")[1]
    yield {"settings": settings, "url": url, "tokens": tokens}
    server.drop(name)


def targets_of(conn, la: str) -> list[tuple]:
    """(uprn, x, y) of the authority's targets on the current run, by plain SQL."""
    return conn.execute(
        """SELECT c.uprn, ST_X(p.geom), ST_Y(p.geom) FROM gapmap.premises_class c
           JOIN gapmap.premises p USING (uprn) JOIN gapmap.premises_place m USING (uprn)
           WHERE m.la = %s AND NOT coalesce(c.planned_build, false)
             AND (c.status = 'below' OR (c.status = 'possibly_below'
                                         AND c.probability_below >= 0.5))
           ORDER BY 1""", (la,)).fetchall()


def test_the_clusters_of_an_authority_are_dbscans_and_every_target_is_in_one_group(pw):
    params = planning.params_from(MODEL, min_premises=2)  # no border points: exact partitions
    with session_scope(pw["settings"]) as s:
        result = plans.clusters_for(s, None, MODEL, params, la=CEREDIGION)
        members = plans.raw(s).execute(
            "SELECT uprn, cluster_id FROM plan_member ORDER BY uprn").fetchall()
    with psycopg.connect(pw["url"]) as conn:
        rows = targets_of(conn, CEREDIGION)
    assert [r[0] for r in rows] == [m[0] for m in members]
    labels = DBSCAN(eps=100, min_samples=2).fit(np.array([r[1:] for r in rows])).labels_
    ours = {}
    for (_, cid), theirs in zip(members, labels, strict=True):
        ours.setdefault(cid, set()).add(int(theirs))
    assert ours[0] == {-1}
    assert all(len(v) == 1 and v != {-1} for k, v in ours.items() if k)
    assert len(ours) - 1 == len(set(labels) - {-1}) == len(result["clusters"])
    t = result["totals"]
    assert t["premises"] == len(rows) == t["authority_targets"] and t["share_of_targets"] == 1.0
    assert t["premises"] == sum(c["premises"] for c in result["clusters"]) + \
        result["isolated"]["premises"]
    assert result["network_proxy"].startswith("distance to the nearest premises with 30 Mbit/s")


def test_plans_totals_comparison_scope_and_the_bid_pack(pw, tmp_path):
    params = planning.params_from(MODEL, target="gigabit")
    with session_scope(pw["settings"]) as s:
        officer = acc.find_account(s, "officer@ceredigion.gov.uk")
        viewer = acc.find_account(s, "viewer@ceredigion.gov.uk")
        other = acc.find_account(s, "officer@merthyr.gov.uk")
        found = plans.clusters_for(s, officer, MODEL, params, la=CEREDIGION)
        chosen = [c for c in found["clusters"]][:3]
        with pytest.raises(Forbidden):
            plans.create_plan(s, name="Viewer's", owner=viewer, by=viewer, la=CEREDIGION,
                              model=MODEL, params=params, actor="t")
        with pytest.raises(NotFound):
            plans.create_plan(s, name="Elsewhere", owner=other, by=other, la=CEREDIGION,
                              model=MODEL, params=params, actor="t")
        with pytest.raises(BadRequest, match="no cluster 999999"):
            plans.create_plan(s, name="Bad id", owner=officer, by=officer, la=CEREDIGION,
                              model=MODEL, params=params, cluster_ids=[999999], actor="t")
        small = plans.create_plan(s, name="Three clusters", owner=officer, by=officer,
                                  la=CEREDIGION, model=MODEL, params=params, actor="t",
                                  cluster_ids=[c["id"] for c in chosen])
        whole = plans.create_plan(s, name="Everything", owner=officer, by=officer,
                                  la=CEREDIGION, model=MODEL, params=params, actor="t")
        data = plans.plan_dict(s, small)
        t = data["totals"]
        assert [c["id"] for c in data["clusters"]] == [c["id"] for c in chosen]
        assert t["premises"] == sum(c["premises"] for c in chosen)
        assert t["expected"] == pytest.approx(sum(c["expected"] for c in chosen), abs=0.1)
        assert t["recommended_gbp"] == pytest.approx(sum(c["recommended_gbp"] for c in chosen))
        assert t["per_premises_gbp"] == pytest.approx(t["recommended_gbp"] / t["premises"],
                                                      abs=0.01)
        assert t["share_of_targets"] == pytest.approx(
            t["premises"] / found["totals"]["authority_targets"], abs=1e-4)
        assert t["most_deprived"] == sum(c["most_deprived"] for c in chosen)
        assert all(c["recommended"] == "fibre" for c in data["clusters"])  # gigabit: fibre only
        side = plans.compare(s, small, whole)
        assert side["shared_premises"] == t["premises"]
        assert side["difference"]["premises"] == plans.plan_totals(whole)["premises"] - t["premises"]
        assert plans.plan_totals(whole)["premises"] == found["totals"]["premises"]
        with pytest.raises(NotFound):
            plans.get_plan(s, other, small.id)
        assert plans.get_plan(s, viewer, "Three clusters").id == small.id
        info = export_bidpack(s, small, tmp_path / "pack.zip", actor="t", by=viewer)
        actions = [a for (a,) in plans.raw(s).execute(
            "SELECT action FROM gapmap.audit_event ORDER BY id")]
        assert actions[-3:] == ["plan.create", "plan.create", "plan.export"]
        frozen = plans.raw(s).execute(
            "SELECT uprn, cluster_id FROM gapmap.plan_premises WHERE plan_id = %s ORDER BY uprn",
            (small.id,)).fetchall()
    assert info["pdf"] == "summary.pdf", info["pdf_note"]
    check_bid_pack(tmp_path, tmp_path / "pack.zip", frozen, data)


def check_bid_pack(folder, path, frozen, data):
    with zipfile.ZipFile(path) as z:
        assert sorted(z.namelist()) == ["manifest.json", "plan.gpkg", "premises.csv",
                                        "summary.html", "summary.pdf"]
        z.extractall(folder / "pack")
        page = z.read("summary.html").decode()
        rows = list(csv.DictReader(io.StringIO(z.read("premises.csv").decode("utf-8-sig"))))
        assert z.read("premises.csv").startswith(b"\xef\xbb\xbfuprn,cluster_id")
        assert z.read("summary.pdf").startswith(b"%PDF")
        manifest = json.loads(z.read("manifest.json"))
    gpkg = folder / "pack" / "plan.gpkg"
    assert sorted(map(tuple, pyogrio.list_layers(gpkg))) == [
        ("boundary", "MultiPolygon"), ("clusters", "Polygon"), ("layer_styles", None),
        ("premises", "Point")]
    premises = pyogrio.read_dataframe(gpkg, layer="premises")
    assert sorted(zip(premises["uprn"], premises["cluster_id"], strict=True)) == frozen
    assert [(int(r["uprn"]), int(r["cluster_id"])) for r in rows] == sorted(frozen, key=lambda f: (f[1], f[0]))
    clusters = pyogrio.read_dataframe(gpkg, layer="clusters")
    assert sorted(clusters["cluster_id"]) == [c["id"] for c in data["clusters"]]
    assert pyogrio.read_info(gpkg, layer="clusters")["crs"] == "EPSG:27700"
    boundary = pyogrio.read_dataframe(gpkg, layer="boundary")
    assert len(boundary) == 1 and boundary.geometry[0].buffer(0.01).covers(clusters.union_all())
    assert manifest["layers"] == {"boundary": 1, "clusters": len(clusters),
                                  "premises": len(premises)}
    with sqlite3.connect(gpkg) as db:
        assert db.execute("PRAGMA application_id").fetchone()[0] == 0x47504B47
        assert db.execute("PRAGMA user_version").fetchone()[0] == 10300  # GeoPackage 1.3
        styled = db.execute("SELECT f_table_name, styleName, useAsDefault FROM layer_styles "
                            "ORDER BY 1").fetchall()
    assert styled == [("boundary", "outline", 1), ("clusters", "recommended", 1),
                      ("premises", "status", 1)]
    # the summary, in both languages, with the releases, the cost model and the attributions
    cy, en = page.split('<section class="lang" lang="en">')
    assert '<section class="lang" lang="cy">' in cy and "@media print" in page
    assert "Cynllun ymyrraeth: Three clusters" in cy and "Intervention plan: Three clusters" in en
    assert "Ceredigion" in cy and "yn gallu rhoi gigabit" in cy and "gigabit-capable" in en
    assert "Model costau 2026.1" in cy and "Cost model 2026.1: values and sources" in en
    assert "cap cost y USO" in cy and "Ofcom: the USO cost cap" in en
    assert "dirprwy ar gyfer y rhwydwaith agosaf" in cy and "a proxy for the nearest network" in en
    assert "2026-07" in cy and "2026-07" in en
    assert "Hawlfraint y Goron" in cy and "Crown copyright and database right 2025" in en
    assert "DATA ARDDANGOS SYNTHETIG" in cy and "SYNTHETIC DEMO DATA" in en
    share = f"{data['totals']['share_of_targets'] * 100:.1f} %"
    assert share in cy and share in en


def test_the_officer_api_for_plans_is_scoped_and_viewers_read_only(pw):
    with app_for(pw["settings"]) as app:
        api = app.test_client()

        def as_(who):
            return {"Authorization": f"Bearer {pw['tokens'][who]}"}
        body = {"name": "By the API", "area": CEREDIGION, "clusters": [1, 2], "target": "30"}
        assert api.post("/api/v1/officer/plans", json=body, headers=as_("viewer")).status_code == 403
        r = api.post("/api/v1/officer/plans", json={**body, "area": MERTHYR}, headers=as_("officer"))
        assert r.status_code == 404
        r = api.post("/api/v1/officer/plans", json={**body, "colour": "red"}, headers=as_("officer"))
        assert r.status_code == 400 and "unknown field(s) colour" in r.json["error"]["message"]
        r = api.post("/api/v1/officer/plans", json=body, headers=as_("officer"))
        assert r.status_code == 201, r.json
        made = r.json
        assert [c["id"] for c in made["clusters"]] == [1, 2]
        assert made["totals"]["premises"] == sum(c["premises"] for c in made["clusters"])
        pid = made["id"]
        assert api.get(f"/api/v1/officer/plans/{pid}", headers=as_("other")).status_code == 404
        assert api.get(f"/api/v1/officer/plans/{pid}/bidpack", headers=as_("other")).status_code == 404
        assert api.get(f"/api/v1/officer/plans/{pid}", headers=as_("viewer")).json["name"] == "By the API"
        listed = api.get("/api/v1/officer/plans", headers=as_("other")).json["plans"]
        assert pid not in [p["id"] for p in listed]
        r = api.get(f"/api/v1/officer/plans/{pid}/bidpack", headers=as_("viewer"))
        assert r.status_code == 200 and r.mimetype == "application/zip"
        assert r.headers["Content-Disposition"] == 'attachment; filename="By-the-API.zip"'
        with zipfile.ZipFile(io.BytesIO(r.data)) as z:
            assert "plan.gpkg" in z.namelist()
        assert api.get(f"/api/v1/officer/plans/{pid}").status_code == 401


def _cli(pw, *args):
    return CliRunner().invoke(main, ["--database-url", pw["url"], *args])


def test_the_command_line_clusters_creates_shows_compares_and_exports(pw, tmp_path):
    r = _cli(pw, "plan", "clusters", "--area", MERTHYR, "--json")
    assert r.exit_code == 0, r.output
    found = json.loads(r.output)
    assert found["authority"] == MERTHYR and found["params"]["distance_m"] == 100.0
    text = _cli(pw, "plan", "clusters", "--area", MERTHYR).output
    assert "a proxy for the network" in text and "recommended:" in text
    assert _cli(pw, "plan", "clusters", "--area", "W06999999").exit_code == 7
    assert _cli(pw, "plan", "clusters", "--area", MERTHYR, "--distance", "-1").exit_code == 2
    r = _cli(pw, "plan", "create", "Merthyr all", "--owner", "officer@merthyr.gov.uk",
             "--area", MERTHYR, "--all", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["totals"]["premises"] == found["totals"]["premises"]
    r = _cli(pw, "plan", "create", "Merthyr none", "--owner", "officer@merthyr.gov.uk",
             "--area", MERTHYR)
    assert r.exit_code == 2 and "--cluster ID" in r.output
    r = _cli(pw, "plan", "create", "Merthyr isolated", "--owner", "officer@merthyr.gov.uk",
             "--area", MERTHYR, "--cluster", "0")
    assert r.exit_code == 0, r.output
    shown = json.loads(_cli(pw, "plan", "show", "Merthyr isolated", "--json").output)
    assert [c["id"] for c in shown["clusters"]] == [0]
    assert shown["clusters"][0]["fibre_gbp"] is None
    r = _cli(pw, "plan", "compare", "Merthyr all", "Merthyr isolated", "--json")
    assert json.loads(r.output)["shared_premises"] == shown["totals"]["premises"]
    assert "premises in both" in _cli(pw, "plan", "compare", "Merthyr all", "Merthyr isolated").output
    assert _cli(pw, "plan", "show", "No such plan").exit_code == 7
    r = _cli(pw, "plan", "export", "Merthyr all", "-o", str(tmp_path / "m.zip"))
    assert r.exit_code == 0 and "wrote" in r.output, r.output
    assert zipfile.is_zipfile(tmp_path / "m.zip")
    assert "Merthyr all" in _cli(pw, "plan", "list").output
