"""Benchmark (issue 18): classification and statistics beside a geopandas peer, and a new
release beside the floor of its evidence joins.

**The peer** is the classification of connectivity/classify.py written the way a GIS analyst
would: premises, evidence tables and boundaries read from PostGIS with
``geopandas.read_postgis`` / ``pandas.read_sql``, area membership by ``geopandas.sjoin``, the
evidence by merges, the rules of connectivity/rules.toml (read through
``connectivity.rules.load_rules``, so a rule change moves both) applied with pandas and numpy,
and the per-area statistics by ``groupby``. It produces every column of
``gapmap.premises_class_<id>`` and ``gapmap.area_stats_<id>``; :func:`compare` counts, column
by column, the premises and area rows where it and ours disagree (tests/test_classify_peer.py
asserts none do). Corners of our SQL mirrored on purpose, each marked "mirrors" below:

* a premises on the line between two areas goes to the lowest code (``min(code COLLATE "C")``);
  Python compares strings by code point, which is the C collation's order;
* hexagon cells: the grid is PostGIS's own (``ST_HexagonGrid``, read with ``read_postgis``) and
  a point on an edge goes to the lowest (i, j) among the cells it intersects, as in
  classify._hex_cells;
* the postcode probabilities are ``round(x::numeric, 4)::real`` of a float8: PostgreSQL turns
  the float8 into 15 significant digits, then rounds half away from zero (numpy's ``round``
  rounds half to even on the binary value: 0.03125 would become 0.0312, ours is 0.0313);
* expected premises below 30 Mbit/s are the exact decimal sum of ``probability_below::numeric``
  (a real becomes 6 significant digits), rounded half away from zero to 2 places: summed here
  as integers, where a float sum could differ in the last place;
* the median is ``percentile_cont(0.5)``: lo + (hi - lo) / 2, which for real speeds is exactly
  pandas' (lo + hi) / 2;
* comparisons of real speeds with the rules' thresholds are made in float64, as PostgreSQL
  compares a real with a numeric constant.

**The floor** of a new release (membership kept) is a ``CREATE TABLE AS`` with the same evidence
joins as the premises step (speed test tiles included), writing the same rows (one per counted
premises) without the rules.

``python -m bench --only classify_peer``; the peer and ours each run in a subprocess of their own
so that their peak resident memory can be read (GNU time), and each reports its PostgreSQL
backend's peak (VmHWM, when the server runs on this machine).
"""

from __future__ import annotations

import argparse
import json
import pickle
import re
import resource
import subprocess
import sys
import tempfile
import time
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg

ROOT = Path(__file__).resolve().parent.parent
#: levels of gapmap.area_stats that come from the boundaries (connectivity.vocab.AREA_LEVELS)
HEX_SIZES = (500, 2000, 8000)
STRONG = ("correction", "ofcom-api")


# -- reading ------------------------------------------------------------------------------------
def _engine(url: str):
    import sqlalchemy as sa

    return sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))


def _ids(ids) -> str:
    """A SQL list of release ids (integers from the release table); NULL matches nothing."""
    ids = [int(i) for i in ids if i is not None]
    return ", ".join(map(str, ids)) if ids else "NULL"


def _month(label):
    """A release label as a month, so that quarters compare with months (mirrors
    classify._month_key): ``2026-Q1`` is ``2026-03``; other labels are themselves."""
    if label is not None and re.fullmatch(r"[0-9]{4}-Q[1-4]", label):
        return f"{label[:5]}{int(label[-1]) * 3:02d}"
    return label


def read_inputs(con, up_to: str | None, rules) -> dict:
    """Everything the classification reads, as DataFrames (``con``: a SQLAlchemy connection)."""
    import geopandas as gpd

    from connectivity.vocab import CLASSIFIED_SOURCES

    releases = pd.read_sql("SELECT id, source, label FROM gapmap.release", con)
    releases = releases[releases["source"].isin(CLASSIFIED_SOURCES)]
    releases["month"] = releases["label"].map(_month)
    if up_to is not None:
        releases = releases[releases["month"] <= _month(up_to)]
    # the newest per source, by month then label (labels compare in the C collation, as Python
    # compares them)
    chosen = (releases.sort_values(["month", "label"]).groupby("source").tail(1)
              .set_index("source"))
    rid = {s: (int(chosen.at[s, "id"]) if s in chosen.index else None)
           for s in CLASSIFIED_SOURCES}
    label = {s: (chosen.at[s, "label"] if s in chosen.index else None)
             for s in CLASSIFIED_SOURCES}
    out = {"releases": rid, "labels": label}
    out["premises"] = gpd.read_postgis("SELECT uprn, postcode, geom FROM gapmap.premises", con,
                                       geom_col="geom")
    out["speeds"] = pd.read_sql(
        "SELECT release_id, uprn, max_down, max_up FROM gapmap.ev_premises_speed "
        f"WHERE release_id IN ({_ids([rid[s] for s in (*STRONG, 'speed-raster')])})", con)
    out["bduk"] = pd.read_sql(
        "SELECT uprn, postcode, current_gigabit, future_gigabit, gis, subsidy_control_status, "
        "gis_contract_name, gis_supplier, gis_final_coverage_date FROM gapmap.ev_bduk "
        f"WHERE release_id IN ({_ids([rid['bduk']])})", con)
    out["coverage"] = pd.read_sql(
        "SELECT postcode, unable_30_pct, unable_decent_pct, pct_down_0_2, pct_down_2_5, "
        "pct_down_5_10, pct_down_10_30, pct_down_30_300, pct_down_300, fwa_decent_pct "
        "FROM gapmap.ev_postcode_coverage "
        f"WHERE release_id IN ({_ids([rid['ofcom-coverage']])}) AND NOT residential_only", con)
    out["corrections"] = pd.read_sql(
        "SELECT uprn, added, excluded, no_planned_build FROM gapmap.ev_correction "
        f"WHERE release_id IN ({_ids([rid['correction']])})", con)
    out["addresses"] = pd.read_sql("SELECT uprn, kind AS address_kind FROM gapmap.address", con)
    out["areas"] = gpd.read_postgis("SELECT level, code, geom FROM gapmap.area", con,
                                    geom_col="geom")
    # the peer has no output-area evidence (docs/classification.md, "The geopandas peer"): say
    # so rather than disagree
    if "oa" in rules.evidence.order and pd.read_sql(
            "SELECT EXISTS (SELECT 1 FROM gapmap.ev_area_coverage WHERE level = 'oa' AND "
            f"release_id IN ({_ids([rid['ofcom-coverage']])})) AND EXISTS (SELECT 1 FROM "
            "gapmap.area WHERE level = 'oa') AS oa", con)["oa"].iloc[0]:
        raise NotImplementedError("the geopandas peer does not read output-area counts")
    # mirrors: the cells are ST_HexagonGrid's (origin 0,0), over the premises' extent
    out["hexes"] = {
        size: gpd.read_postgis(
            f"SELECT h.i, h.j, h.geom FROM ST_HexagonGrid({size}, "
            "(SELECT ST_SetSRID(ST_Extent(geom), 27700) FROM gapmap.premises)) AS h", con,
            geom_col="geom")
        for size in HEX_SIZES}
    st = rules.speedtests
    out["tiles"] = gpd.read_postgis(
        "SELECT quadkey, avg_down, avg_up, avg_lat_ms, tests, devices, geom "
        f"FROM gapmap.ev_speedtest_tile WHERE release_id IN ({_ids([rid['ookla']])}) "
        f"AND tests >= {int(st.min_tests)} AND devices >= {int(st.min_devices)}", con,
        geom_col="geom", crs=27700)  # (the SRID is not read from an empty answer)
    out["wimd"] = pd.read_sql("SELECT lsoa_code, wimd_rank FROM gapmap.wimd", con)
    # mirrors: real columns are float32 (psycopg hands them over as the float8 nearest their
    # text, 33.3, where PostgreSQL works with the float4 value, 33.2999992...)
    for name, columns in (("speeds", ["max_down", "max_up"]),
                          ("tiles", ["avg_down", "avg_up", "avg_lat_ms"]),
                          ("coverage", [c for c in out["coverage"].columns if c != "postcode"])):
        out[name] = out[name].astype({c: np.float32 for c in columns})
    return out


# -- what PostgreSQL does with numbers ----------------------------------------------------------
def pg_round(x: np.ndarray, places: int) -> np.ndarray:
    """``round(x::numeric, places)`` of float8 values ``x`` >= 0, as PostgreSQL works it out:
    the float8 becomes a numeric of 15 significant digits, which is rounded half away from
    zero. Exact: values within a millionth of a unit of a tie are worked out in Decimal."""
    scaled = x * 10.0 ** places
    out = np.floor(scaled + 0.5)
    near = np.abs(scaled - np.floor(scaled) - 0.5) < 1e-6
    quantum = Decimal(1).scaleb(-places)
    for k in np.flatnonzero(near):
        d = Decimal(format(float(x[k]), ".15g")).quantize(quantum, ROUND_HALF_UP)
        out[k] = float(d.scaleb(places))
    return out / 10.0 ** places


def _decimal_units(values: np.ndarray, scale: int = 10) -> np.ndarray:
    """``value::numeric`` of reals (6 significant digits, as PostgreSQL converts a real) in
    integer units of 10^-scale, so that sums are exact."""
    uniq, inverse = np.unique(values, return_inverse=True)
    units = np.empty(len(uniq), dtype=np.int64)
    for k, v in enumerate(uniq):
        d = Decimal(format(float(v), ".6g")).scaleb(scale)
        if d != d.to_integral_value():
            raise ValueError(f"probability {v} needs more than {scale} decimal places")
        units[k] = int(d)
    return units[inverse]


def _case(n: int, whens: list, default=None) -> np.ndarray:
    """SQL's CASE: the value of the first condition that holds (an object array)."""
    out = np.full(n, default, dtype=object)
    for cond, value in reversed(whens):
        out = np.where(np.asarray(cond, dtype=bool), value, out)
    return out


def _true(s: pd.Series) -> np.ndarray:
    """A nullable boolean column where NULL counts as not true (``x IS TRUE``)."""
    return s.eq(True).to_numpy(dtype=bool)


# -- the rules ------------------------------------------------------------------------------------
def classify_premises(inputs: dict, rules) -> pd.DataFrame:
    """Every counted premises' classification: the columns of gapmap.premises_class_<id>."""
    from connectivity.vocab import BANDS

    t, schemes = rules.thresholds, rules.schemes
    sf = t.superfast_down
    rid, labels = inputs["releases"], inputs["labels"]
    source_of = {rid[s]: s for s in STRONG if rid[s] is not None}

    speeds = inputs["speeds"]
    strong = speeds[speeds["release_id"].isin(list(source_of))].copy()
    strong["s_source"] = strong["release_id"].map(source_of)
    strong["s_label"] = strong["s_source"].map(labels)
    strong["s_down"] = strong["max_down"].fillna(0.0)
    strong["s_up"] = strong["max_up"].fillna(0.0)
    # a correction outranks Ofcom's prediction for the same premises
    strong = (strong.assign(_corr=strong["s_source"].eq("correction"))
              .sort_values("_corr", ascending=False, kind="stable")
              .drop_duplicates("uprn"))
    raster = speeds.loc[speeds["release_id"].eq(rid["speed-raster"]), ["uprn", "max_down"]]
    corrections = (inputs["corrections"].groupby("uprn")[["added", "excluded", "no_planned_build"]]
                   .any().add_prefix("x_").reset_index())
    bduk = inputs["bduk"].add_prefix("b_").rename(columns={"b_uprn": "uprn"})
    # the speed test tile holding each premises; mirrors: on a shared edge, the lowest quadkey
    import geopandas as gpd

    tiles = pd.DataFrame(gpd.sjoin(inputs["tiles"], inputs["premises"][["uprn", "geom"]],
                                   predicate="intersects").drop(columns="geom"))
    tiles = (tiles.sort_values(["uprn", "quadkey"]).drop_duplicates("uprn")
             [["uprn", "avg_down", "avg_up", "avg_lat_ms", "tests", "devices"]]
             .rename(columns={"avg_down": "st_down", "avg_up": "st_up", "avg_lat_ms": "st_lat",
                              "tests": "st_tests", "devices": "st_devices"}))

    df = pd.DataFrame(inputs["premises"][["uprn", "postcode"]])
    df = df.merge(strong[["uprn", "s_down", "s_up", "s_source", "s_label"]], on="uprn", how="left")
    df = df.merge(tiles, on="uprn", how="left")
    df = df.merge(bduk, on="uprn", how="left")
    df["postcode"] = df["postcode"].fillna(df["b_postcode"])
    # (no coverage row has a NULL postcode, so pandas' NaN-matches-NaN merge cannot bite)
    df = df.merge(inputs["coverage"], on="postcode", how="left")
    df = df.merge(raster.rename(columns={"max_down": "r_down"}), on="uprn", how="left")
    df = df.merge(corrections, on="uprn", how="left")
    df = df.merge(inputs["addresses"], on="uprn", how="left")
    # corrections that take a premises out, and AddressBase records that are not premises
    df = df[~_true(df["x_excluded"]) & ~df["address_kind"].eq("not_premises")
            ].reset_index(drop=True)
    n = len(df)

    no_plan = _true(df["x_no_planned_build"])
    current_gigabit = _true(df["b_current_gigabit"])
    future_gigabit = _true(df["b_future_gigabit"]) & ~no_plan
    in_contract = _true(df["b_gis"]) & ~no_plan
    planned = future_gigabit | in_contract
    s_down = df["s_down"].to_numpy(dtype=float)  # NaN where there is no strong evidence
    s_up = df["s_up"].to_numpy(dtype=float)
    r_down = df["r_down"].to_numpy(dtype=float)
    conditions = {
        "correction": df["s_source"].eq("correction").to_numpy(dtype=bool),
        "ofcom-api": df["s_source"].eq("ofcom-api").to_numpy(dtype=bool),
        "bduk": current_gigabit,
        "oa": np.zeros(n, dtype=bool),  # not read by the peer (read_inputs refuses OA data)
        "postcode": df["unable_30_pct"].notna().to_numpy(),
        "speed-raster": ~np.isnan(r_down),
    }
    evidence = _case(n, [(conditions[s], s) for s in rules.evidence.order], "none")
    is_strong = np.isin(evidence, STRONG)
    is_pc = evidence == "postcode"
    is_raster = evidence == "speed-raster"

    # the postcode pool: Ofcom's share less the premises stronger evidence settled, shared by
    # the premises that rest on the postcode (NULL postcodes are one partition, as in SQL)
    with np.errstate(invalid="ignore"):
        known_below = is_strong & (s_down < sf)
        known_uso = is_strong & ((s_down < t.uso_down) | (s_up < t.uso_up))
    pool = pd.DataFrame({"postcode": df["postcode"], "all": 1, "kb": known_below.astype(int),
                         "ku": known_uso.astype(int), "open": is_pc.astype(int)})
    pooled = pool.groupby("postcode", dropna=False)[["all", "kb", "ku", "open"]].transform("sum")
    open_ = np.where(is_pc, pooled["open"].to_numpy(), 1)

    def share(pct_col: str, known: str) -> np.ndarray:
        pct = df[pct_col].to_numpy(dtype=float)
        raw = (pct / 100.0 * pooled["all"].to_numpy() - pooled[known].to_numpy()) / open_
        return pg_round(np.clip(np.where(is_pc, raw, 0.0), 0.0, 1.0), 4)

    pc_below, pc_uso = share("unable_30_pct", "kb"), share("unable_decent_pct", "ku")
    raster_p = np.zeros(n)
    for step in reversed(rules.evidence.raster_probability_below):
        raster_p = np.where(r_down < step.below, step.probability, raster_p)
    with np.errstate(invalid="ignore"):
        probability = np.select(
            [is_strong, evidence == "bduk", is_pc, is_raster],
            [(s_down < sf).astype(float), np.zeros(n), pc_below, raster_p], np.nan)
    probability_uso = np.where(is_pc, pc_uso, np.nan)
    best_down = np.select([is_strong, evidence == "bduk", is_raster],
                          [s_down, np.full(n, t.gigabit_down), r_down], np.nan).astype(np.float32)
    best_up = np.where(is_strong, s_up, np.nan).astype(np.float32)
    evidence_release = _case(n, [(is_strong, df["s_label"].to_numpy(dtype=object)),
                                 (evidence == "bduk", labels["bduk"]),
                                 (is_pc, labels["ofcom-coverage"]),
                                 (is_raster, labels["speed-raster"])])
    # a shown speed test tile may move a "possibly below" premises (classify._speedtest_move)
    st = rules.speedtests
    st_down = df["st_down"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        movable = ~np.isnan(st_down) & (is_raster | (is_pc & (probability > 0)
                                                     & (probability < 1)))
        moves = []
        if st.move_below:
            moves.append((st_down < st.below_down, "below"))
        if st.move_above:
            moves.append((st_down >= st.above_down, "above"))
    moved = np.where(movable, _case(n, moves), None)
    possibly = np.where(moved == None, "possibly_below", moved)  # noqa: E711 (elementwise)
    status = _case(n, [(evidence == "none", "unknown"), (is_raster, possibly),
                       (probability >= 1, "below"), (probability <= 0, "above")], possibly)
    moved_below, moved_above = moved == "below", moved == "above"
    # speed tests that move a premises settle it as far as the figures go
    probability = np.where(moved_below, 1.0, np.where(moved_above, 0.0, probability))
    fwa = df["fwa_decent_pct"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        some_fwa = fwa > 0
    with np.errstate(invalid="ignore"):
        uso = _case(n, [(is_strong, (s_down < t.uso_down) | (s_up < t.uso_up)),
                        (evidence == "bduk", False),
                        (is_pc & (probability_uso >= 1), True),
                        (is_pc & (probability_uso <= 0), False)])
    bounded = [b for b in BANDS if b.below is not None]
    by_speed = _case(n, [(best_down < b.below, b.code) for b in bounded], BANDS.codes[-1])
    by_postcode = _case(n, [(df[f"pct_down_{b.column.removeprefix('b_')}"].to_numpy(dtype=float)
                             >= 100, b.code) for b in BANDS])
    band = _case(n, [(~np.isnan(best_down) & ~is_raster, by_speed), (is_pc, by_postcode)])

    def line_status(line: float) -> np.ndarray:
        """Mirrors classify._line_status: the status against a scheme's own line."""
        if line == sf:
            return status
        follows = (status == "above", "above") if line < sf else (status == "below", "below")
        with np.errstate(invalid="ignore"):
            own = np.where(s_down < line, "below", "above")
        return _case(n, [(is_strong, own), (status == "unknown", "unknown"),
                         (evidence == "bduk", "above"), follows], "unsettled")

    abc, lbf = line_status(schemes.abc.max_down), line_status(schemes.lbf.max_down)
    unknown = status == "unknown"
    lbf_open = np.isin(lbf, ("below", "possibly_below", "unsettled"))
    excluded = planned if schemes.lbf.exclude_planned_builds else np.zeros(n, dtype=bool)
    uso_true = np.array([v is True for v in uso])
    uso_false = np.array([v is False for v in uso])
    with np.errstate(invalid="ignore"):
        uso_possible = probability_uso > 0
    if schemes.voucher.suspended_in_wales:
        voucher_reason = np.full(n, "suspended_in_wales", dtype=object)
    else:
        with np.errstate(invalid="ignore"):
            cheap = best_down < schemes.voucher.max_down
        voucher_reason = _case(n, [(evidence == "none", "no_evidence"),
                                   (cheap & ~planned, "below_100_no_plan")], "not_eligible")
    out = pd.DataFrame({
        "uprn": df["uprn"].to_numpy(), "postcode": df["postcode"].to_numpy(dtype=object),
        "status": status, "probability_below": probability.astype(np.float32),
        "best_down": best_down, "best_up": best_up, "band": band, "uso": uso,
        "probability_uso": probability_uso.astype(np.float32), "evidence": evidence,
        "evidence_release": evidence_release,
        "gigabit_class": df["b_subsidy_control_status"].to_numpy(dtype=object),
        "current_gigabit": current_gigabit, "future_gigabit": future_gigabit,
        "planned_build": planned, "added_by_correction": _true(df["x_added"]),
        "contract_name": df["b_gis_contract_name"].to_numpy(dtype=object),
        "speedtest_down": df["st_down"].to_numpy(dtype=np.float32),
        "speedtest_up": df["st_up"].to_numpy(dtype=np.float32),
        "speedtest_latency_ms": df["st_lat"].to_numpy(dtype=np.float32),
        "speedtest_tests": df["st_tests"].astype("Int64").to_numpy(dtype=object),
        "speedtest_devices": df["st_devices"].astype("Int64").to_numpy(dtype=object),
        "speedtest_release": np.where(~np.isnan(st_down), labels["ookla"], None),
        "speedtest_moved": moved,
        "supplier": df["b_gis_supplier"].to_numpy(dtype=object),
        "final_coverage_date": df["b_gis_final_coverage_date"].to_numpy(dtype=object),
        "eligible_abc": _case(n, [(abc == "below", "eligible"),
                                  (np.isin(abc, ("possibly_below", "unsettled")), "possibly"),
                                  (abc == "above", "not_eligible")], "unknown"),
        "abc_reason": _case(n, [
            (unknown, "no_evidence"), (abc == "unsettled", "line_not_settled"),
            ((abc == "below") & moved_below, "below_30_speedtests"),
            ((abc == "below") & is_pc, "below_30_area"), (abc == "below", "below_30"),
            ((abc == "possibly_below") & is_raster, "possibly_below_30_modelled"),
            (abc == "possibly_below", "possibly_below_30"),
            (moved_above, "not_below_30_speedtests"),
            (evidence == "bduk", "gigabit_available"), (is_pc, "not_below_30_area")],
            "not_below_30"),
        "eligible_lbf": _case(n, [(unknown, "unknown"), (lbf_open & excluded, "not_eligible"),
                                  (lbf == "below", "eligible"), (lbf_open, "possibly")],
                              "not_eligible"),
        "lbf_reason": _case(n, [(unknown, "no_evidence"), (lbf_open & excluded, "in_planned_build"),
                                ((lbf == "below") & moved_below, "target_speedtests"),
                                (lbf == "below", "target"),
                                (lbf == "possibly_below", "possible_target"),
                                (lbf == "unsettled", "line_not_settled"),
                                (moved_above, "not_below_30_speedtests")], "not_below_30"),
        "eligible_uso": _case(n, [(uso_true, "eligible"), (uso_false, "not_eligible"),
                                  (uso_possible, "possibly")], "unknown"),
        "uso_reason": _case(n, [(uso_true & is_pc, "below_uso_area"),
                                (uso_true & some_fwa, "below_uso_fwa"), (uso_true, "below_uso"),
                                (uso_false, "decent_available"),
                                (uso_possible & some_fwa, "possibly_below_uso_fwa"),
                                (uso_possible, "possibly_below_uso")], "no_evidence"),
        "eligible_voucher": np.where(voucher_reason == "below_100_no_plan", "eligible",
                                     "not_eligible").astype(object),
        "voucher_reason": voucher_reason,
        "oa_code": None, "oa_premises": None, "oa_unable_30": None, "oa_unable_decent": None,
        "fwa_decent_pct": fwa.astype(np.float32),
        "address_kind": df["address_kind"].to_numpy(dtype=object),
    })
    return out


def membership(inputs: dict) -> pd.DataFrame:
    """Which area of each level, and which hexagon of each size, holds each premises."""
    import geopandas as gpd

    from connectivity.vocab import AREA_LEVELS

    points = inputs["premises"][["uprn", "geom"]]
    out = pd.DataFrame({"uprn": points["uprn"].to_numpy()})
    # areas on the left: the spatial index is built over the points, and each area polygon,
    # prepared once, is tested against the points in its bounding box
    pairs = pd.DataFrame(gpd.sjoin(inputs["areas"], points, predicate="intersects")
                         [["level", "code", "uprn"]])
    # mirrors: on the line between two areas of a level, the lowest code
    first = pairs.groupby(["uprn", "level"])["code"].min().unstack("level")
    for level in AREA_LEVELS.codes:
        out[level] = out["uprn"].map(first[level]) if level in first else None
    for size, grid in inputs["hexes"].items():
        cells = pd.DataFrame(gpd.sjoin(grid, points, predicate="intersects")[["uprn", "i", "j"]])
        # mirrors: on an edge, the lowest (i, j) among the cells the point intersects
        cells = cells.sort_values(["uprn", "i", "j"]).drop_duplicates("uprn").set_index("uprn")
        out[f"hex{size}"] = ("H" + str(size) + "_" + out["uprn"].map(cells["i"]).astype(str)
                             + "_" + out["uprn"].map(cells["j"]).astype(str))
    return out


def area_stats(classified: pd.DataFrame, places: pd.DataFrame, wimd: pd.DataFrame) -> pd.DataFrame:
    """The columns of gapmap.area_stats_<id> for every level, postcode and hexagon size."""
    from connectivity.classify import COUNTS, MORE_COUNTS
    from connectivity.vocab import AREA_LEVELS, BANDS, STATUSES

    c = classified.merge(places, on="uprn")
    flags = {}
    for code in STATUSES.codes:
        flags[code] = c["status"].eq(code)
    for band in BANDS:
        flags[band.column] = c["band"].eq(band.code)
    for scheme in ("abc", "lbf", "uso"):
        flags[f"{scheme}_eligible"] = c[f"eligible_{scheme}"].eq("eligible")
        flags[f"{scheme}_possibly"] = c[f"eligible_{scheme}"].eq("possibly")
    flags["voucher_eligible"] = c["eligible_voucher"].eq("eligible")
    flags["planned_build"] = c["planned_build"]
    flags["residential"] = c["address_kind"].isin(("residential", "dual_use"))
    flags["business"] = c["address_kind"].isin(("business", "dual_use"))
    flags["evidence_oa"] = c["evidence"].eq("oa")
    flags["uso_eligible_fwa"] = c["eligible_uso"].eq("eligible") & (c["fwa_decent_pct"] > 0)
    everything = {**COUNTS, **MORE_COUNTS}
    if set(flags) != set(everything):
        raise ValueError(f"the peer counts {sorted(flags)}, ours {sorted(everything)}")
    work = pd.DataFrame({name: flags[name].astype(np.int64) for name in everything})
    work["premises"] = 1
    # expected premises below the line, exactly: 1 per 'below', the probability per 'possibly'
    units = _decimal_units(c["probability_below"].fillna(0).to_numpy(dtype=np.float32))
    work["units"] = np.select([c["status"].eq("below"), c["status"].eq("possibly_below")],
                              [10 ** 10, units], 0)
    keys = [*AREA_LEVELS.codes, "postcode", *(f"hex{s}" for s in HEX_SIZES)]
    for key in keys:
        work[key] = c[key]
    median_of = c["best_down"].astype(float).where(c["evidence"].isin(STRONG))
    frames = []
    for key in keys:
        sums = work.groupby(key)[["premises", *everything, "units"]].sum()
        if sums.empty:
            continue
        sums["median_down"] = median_of.groupby(work[key]).median()
        sums.index.name = "code"
        sums = sums.reset_index()
        sums.insert(0, "level", key)
        frames.append(sums)
    stats = pd.concat(frames, ignore_index=True)
    # mirrors: round(sum, 2) half away from zero, then float8
    cents = (stats["units"].to_numpy(dtype=np.int64) + 5 * 10 ** 7) // 10 ** 8
    stats["expected_below_30"] = cents / 100.0
    stats["share_below"] = (stats["expected_below_30"] / stats["premises"]).astype(np.float32)
    ranks = wimd.set_index("lsoa_code")["wimd_rank"]
    stats["wimd_rank"] = stats["code"].map(ranks).where(stats["level"].eq("lsoa"))
    counts = list(COUNTS)
    return stats[["level", "code", "premises", *counts[:4], "expected_below_30", "median_down",
                  *counts[4:], "share_below", "wimd_rank", *MORE_COUNTS]]


def run_peer(url: str, rules, up_to: str | None) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """The whole peer: (premises classification, area statistics, seconds per step and the
    backend's peak memory)."""
    engine = _engine(url)
    steps = {}
    with engine.connect() as con:
        t0 = time.perf_counter()
        inputs = read_inputs(con, up_to, rules)
        steps["read"] = time.perf_counter() - t0
        backend = _backend_hwm_mb(con.connection.dbapi_connection)
    t0 = time.perf_counter()
    classified = classify_premises(inputs, rules)
    steps["classify"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    places = membership(inputs)
    steps["membership"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    stats = area_stats(classified, places, inputs["wimd"])
    steps["statistics"] = time.perf_counter() - t0
    engine.dispose()
    return classified, stats, {"steps": {k: round(v, 2) for k, v in steps.items()},
                               "seconds": round(sum(steps.values()), 2),
                               "backend_peak_mb": backend}


# -- the comparison -------------------------------------------------------------------------------
def _differ(a: pd.Series, b: pd.Series) -> int:
    a, b = a.astype(object), b.astype(object)
    missing_a, missing_b = a.isna().to_numpy(), b.isna().to_numpy()
    same = (missing_a & missing_b) | (~missing_a & ~missing_b
                                      & (a.to_numpy() == b.to_numpy()))
    return int((~same).sum())


def compare_frames(ours: pd.DataFrame, peer: pd.DataFrame, keys: list[str]) -> dict:
    """How far two tables differ: rows on one side only, and per column the rows (on both
    sides) whose values differ (NULL equals NULL; numbers compare as numbers)."""
    missing = [col for col in ours.columns if col not in peer.columns]
    both = ours.merge(peer, on=keys, how="outer", suffixes=("", "__peer"), indicator=True)
    only_ours = int(both["_merge"].eq("left_only").sum())
    only_peer = int(both["_merge"].eq("right_only").sum())
    both = both[both["_merge"].eq("both")]
    columns = {}
    for col in ours.columns:
        if col in keys or col in missing:
            continue
        a, b = both[col], both[f"{col}__peer"]
        if pd.api.types.is_numeric_dtype(a) or pd.api.types.is_numeric_dtype(b):
            a, b = pd.to_numeric(a), pd.to_numeric(b)
            if np.float32 in (a.dtype, b.dtype):  # a real column: compared as reals
                a, b = a.astype(np.float32), b.astype(np.float32)
        columns[col] = _differ(a, b)
    rows = int(len(both))
    return {"rows": rows, "only_ours": only_ours, "only_peer": only_peer,
            "columns_missing": missing, "differ": {k: v for k, v in columns.items() if v},
            "same": not (only_ours or only_peer or missing or any(columns.values()))}


def compare(conn: psycopg.Connection, run_id: int, classified: pd.DataFrame,
            stats: pd.DataFrame) -> dict:
    """The peer's results beside classification run ``run_id``'s tables."""
    def table(name: str) -> pd.DataFrame:
        cur = conn.execute(f"SELECT * FROM gapmap.{name}_{int(run_id)}")
        return pd.DataFrame(cur.fetchall(), columns=[d.name for d in cur.description])

    return {"premises": compare_frames(table("premises_class"), classified, ["uprn"]),
            "areas": compare_frames(table("area_stats"), stats, ["level", "code"])}


# -- the benchmark --------------------------------------------------------------------------------
def _backend_hwm_mb(conn) -> float | None:
    """The peak resident memory (VmHWM) of ``conn``'s PostgreSQL backend, when readable."""
    pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:  # a remote server, or another user's process
        return None
    return None


#: ours in a Python of its own that imports only what `connectivity classify` imports (not
#: pandas: that would count the peer's libraries against ours); argv: database URL, up_to
OURS_SCRIPT = """
import json, sys
from pathlib import Path
import psycopg
from connectivity.classify import classify
from connectivity.rules import load_rules
with psycopg.connect(sys.argv[1], autocommit=True) as conn:
    result = classify(conn, load_rules(), up_to=sys.argv[2])
    pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
    try:
        hwm = [int(line.split()[1]) / 1024 for line in
               Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("VmHWM:")]
    except OSError:
        hwm = []
    result["backend_peak_mb"] = round(hwm[0], 1) if hwm else None
print(json.dumps(result, default=str))
"""


def _peer(url: str, up_to: str | None, out: Path, write_back: bool) -> dict:
    from connectivity.rules import load_rules

    classified, stats, figures = run_peer(url, load_rules(), up_to)
    figures["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    with (out / "peer.pickle").open("wb") as f:
        pickle.dump((classified, stats), f)
    if write_back:  # what the analyst would do to publish: to_sql, as geopandas users do
        engine = _engine(url)
        t0 = time.perf_counter()
        classified.to_sql("peer_premises_class", engine, schema="public", index=False,
                          chunksize=50_000)
        stats.to_sql("peer_area_stats", engine, schema="public", index=False, chunksize=50_000)
        figures["write_seconds"] = round(time.perf_counter() - t0, 2)
        engine.dispose()
    return figures


def _timed_child(args: list[str]) -> tuple[dict, float, float]:
    """Run ``python ARGS`` under GNU time: (its JSON answer, wall seconds, its peak RSS in MB).
    (A child's own rusage would include this process's memory, inherited at fork.)"""
    with tempfile.NamedTemporaryFile("r") as rss:
        t0 = time.perf_counter()
        done = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss.name, sys.executable,
                               *args], cwd=ROOT, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if done.returncode != 0:
            raise RuntimeError(f"python {args[0]} failed: {done.stderr[-3000:]}")
        return (json.loads(done.stdout.splitlines()[-1]), wall,
                int(rss.read().strip().splitlines()[-1]) / 1024.0)


#: the floor of a new release: the premises step's evidence joins, the same rows, no rules
FLOOR_SQL = """
CREATE TABLE public.floor_joins AS
WITH strong AS (
    SELECT DISTINCT ON (e.uprn) e.uprn, coalesce(e.max_down, 0) AS down,
           coalesce(e.max_up, 0) AS up, r.source, r.label
    FROM gapmap.ev_premises_speed e JOIN gapmap.release r ON r.id = e.release_id
    WHERE e.release_id = ANY(%(strong)s)
    ORDER BY e.uprn, (r.source = 'correction') DESC
), tile AS (
    SELECT DISTINCT ON (p.uprn) p.uprn, t.avg_down, t.avg_up, t.avg_lat_ms, t.tests, t.devices
    FROM gapmap.ev_speedtest_tile t
    JOIN gapmap.premises p ON ST_Intersects(t.geom, p.geom)
    WHERE t.release_id = %(ookla)s AND t.tests >= %(min_tests)s AND t.devices >= %(min_devices)s
    ORDER BY p.uprn, t.quadkey COLLATE "C"
)
SELECT p.uprn, coalesce(p.postcode, b.postcode) AS postcode,
       s.down AS s_down, s.up AS s_up, s.source AS s_source, s.label AS s_label,
       b.current_gigabit, b.future_gigabit, b.gis, x.added, x.no_plan, b.subsidy_control_status,
       b.gis_contract_name, b.gis_supplier, b.gis_final_coverage_date,
       c.unable_30_pct, c.unable_decent_pct, c.pct_down_0_2, c.pct_down_2_5,
       c.pct_down_5_10, c.pct_down_10_30, c.pct_down_30_300, c.pct_down_300,
       r.max_down AS r_down, st.avg_down AS st_down, st.avg_up AS st_up,
       st.avg_lat_ms AS st_lat, st.tests AS st_tests, st.devices AS st_devices
FROM gapmap.premises p
LEFT JOIN strong s ON s.uprn = p.uprn
LEFT JOIN tile st ON st.uprn = p.uprn
LEFT JOIN gapmap.ev_bduk b ON b.uprn = p.uprn AND b.release_id = %(bduk)s
LEFT JOIN gapmap.ev_postcode_coverage c
       ON c.postcode = coalesce(p.postcode, b.postcode) AND c.release_id = %(pc)s
      AND NOT c.residential_only
LEFT JOIN gapmap.ev_premises_speed r ON r.uprn = p.uprn AND r.release_id = %(raster)s
LEFT JOIN (SELECT uprn, bool_or(added) AS added, bool_or(excluded) AS excluded,
                  bool_or(no_planned_build) AS no_plan
           FROM gapmap.ev_correction WHERE release_id = %(correction)s
           GROUP BY uprn) x ON x.uprn = p.uprn
WHERE x.excluded IS NOT TRUE
"""


def floor_joins(conn: psycopg.Connection, up_to: str | None) -> tuple[float, int]:
    """The floor, in a transaction with the classification's settings: (seconds, rows)."""
    from connectivity.classify import choose_releases
    from connectivity.rules import load_rules

    st = load_rules().speedtests

    with conn.transaction():
        conn.execute("SET LOCAL work_mem = '256MB'")
        conn.execute("SET LOCAL jit = off")
        rel = choose_releases(conn, up_to)
        rid = {s: rel.get(s, (None, None))[0] for s in
               ("correction", "ofcom-api", "bduk", "ofcom-coverage", "speed-raster", "ookla")}
        t0 = time.perf_counter()
        conn.execute(FLOOR_SQL, {"strong": [rid[s] for s in STRONG if rid[s] is not None],
                                 "bduk": rid["bduk"], "pc": rid["ofcom-coverage"],
                                 "raster": rid["speed-raster"], "correction": rid["correction"],
                                 "ookla": rid["ookla"], "min_tests": int(st.min_tests),
                                 "min_devices": int(st.min_devices)})
        seconds = time.perf_counter() - t0
    rows = conn.execute("SELECT count(*) FROM public.floor_joins").fetchone()[0]
    conn.execute("DROP TABLE public.floor_joins")
    return seconds, rows


def run(conninfo: str, scale: str, cache: Path) -> dict:
    from connectivity.settings import load_settings

    from .dataset import demo_files, load_inputs
    from .load_uprn import Server

    folder = demo_files(scale, cache)
    server = Server(conninfo)
    url = server.fresh("bench_classify_peer", migrate=True)
    try:
        settings = load_settings({"database_url": url}, environ={})
        load_inputs(settings, folder, bundled_kinds=("boundaries", "wimd"))
        with psycopg.connect(url, autocommit=True) as conn:
            premises = conn.execute("SELECT count(*) FROM gapmap.premises").fetchone()[0]
            conn.execute("CHECKPOINT")
            ours, ours_wall, ours_rss = _timed_child(["-c", OURS_SCRIPT, url, "2026-01"])
            conn.execute("CHECKPOINT")
            with tempfile.TemporaryDirectory() as tmp:
                peer, peer_wall, peer_rss = _timed_child(
                    ["-m", "bench.classify_peer", url, "--up-to", "2026-01", "--out", tmp,
                     "--write-back"])
                with (Path(tmp) / "peer.pickle").open("rb") as f:
                    classified, stats = pickle.load(f)
            agreement = compare(conn, ours["run_id"], classified, stats)
            conn.execute("DROP TABLE public.peer_premises_class, public.peer_area_stats")
            # (b) a new release, membership kept, beside the floor of its evidence joins
            conn.execute("CHECKPOINT")
            floor_seconds, floor_rows = floor_joins(conn, "2026-01")
            conn.execute("CHECKPOINT")
            from connectivity.classify import classify
            from connectivity.rules import load_rules

            again = classify(conn, load_rules(), up_to="2026-01", label="again")
    finally:
        server.drop("bench_classify_peer")
        server.admin.close()
    ours_total = ours_rss + (ours["backend_peak_mb"] or 0)
    # the peer with its results in memory (before writing them back), as for its seconds
    peer_total = peer["peak_rss_mb"] + (peer["backend_peak_mb"] or 0)
    return {
        "benchmark": "classify_peer", "scale": scale, "premises": premises,
        "ours": {"seconds": ours["seconds"], "steps": ours["steps"],
                 "wall_seconds": round(ours_wall, 2), "peak_rss_mb": round(ours_rss, 1),
                 "backend_peak_mb": ours["backend_peak_mb"], "premises": ours["premises"]},
        "peer": {"seconds": peer["seconds"], "steps": peer["steps"],
                 "write_seconds": peer.get("write_seconds"),
                 "wall_seconds": round(peer_wall, 2), "peak_rss_mb": round(peer_rss, 1),
                 "peak_rss_before_write_mb": peer["peak_rss_mb"],
                 "backend_peak_mb": peer["backend_peak_mb"]},
        "agreement": agreement,
        "peer_vs_ours_seconds": round(peer["seconds"] / ours["seconds"], 1),
        "ours_vs_peer_memory": round(ours_total / peer_total, 2),
        "again": {"seconds": again["seconds"], "steps": again["steps"]},
        "floor": {"seconds": round(floor_seconds, 2), "rows": floor_rows},
        "again_vs_floor": round(again["seconds"] / floor_seconds, 1),
        "premises_step_vs_floor": round(again["steps"]["premises"] / floor_seconds, 1),
    }


def markdown(r: dict) -> str:
    o, p, a = r["ours"], r["peer"], r["agreement"]
    def mem(x):
        return f"{x['peak_rss_mb']} + {x['backend_peak_mb'] or 'n/a'}"
    steps = ", ".join(f"{k} {v}" for k, v in o["steps"].items())
    peer_steps = ", ".join(f"{k} {v}" for k, v in p["steps"].items())
    same = "yes" if a["premises"]["same"] and a["areas"]["same"] else "NO"
    lines = [
        f"{r['premises']:,} premises ({r['scale']}). Classification of every premises and the "
        "statistics of every level; each side in a subprocess of its own.\n",
        "| contender | seconds | wall s (with start-up) | peak MB: client + server backend | "
        "steps (s) |",
        "|---|---:|---:|---:|---|",
        f"| ours (SQL; membership built) | {o['seconds']} | {o['wall_seconds']} | {mem(o)} | "
        f"{steps} |",
        f"| geopandas peer, results in memory | {p['seconds']} | {p['wall_seconds']} | "
        f"{p['peak_rss_before_write_mb']} + {p['backend_peak_mb'] or 'n/a'} | {peer_steps} |",
        f"| ... and written back (to_sql) | {round(p['seconds'] + (p['write_seconds'] or 0), 2)} | "
        f"| {mem(p)} | write {p['write_seconds']} |",
        f"| ratio | peer / ours = {r['peer_vs_ours_seconds']}x (target >= 5x) | | ours / peer = "
        f"{r['ours_vs_peer_memory']} (target <= 0.33) | |",
        "",
        f"Same results: {same} ({a['premises']['rows']:,} premises and {a['areas']['rows']:,} "
        f"area rows compared column by column; differing: premises {a['premises']['differ'] or 0}"
        f", areas {a['areas']['differ'] or 0}; rows on one side only: "
        f"{a['premises']['only_ours'] + a['premises']['only_peer'] + a['areas']['only_ours'] + a['areas']['only_peer']}).",
        "",
        "| a new release, membership kept | seconds | ratio |",
        "|---|---:|---:|",
        f"| floor: CREATE TABLE AS with the same evidence joins, same rows, no rules "
        f"({r['floor']['rows']:,} rows) | {r['floor']['seconds']} | 1x |",
        f"| ours: classify + statistics | {r['again']['seconds']} | {r['again_vs_floor']}x "
        "(target <= 3x) |",
        f"| ... of which the premises step | {r['again']['steps']['premises']} | "
        f"{r['premises_step_vs_floor']}x |",
    ]
    return "\n".join(lines)


def main() -> None:
    """The peer in a process of its own: ``python -m bench.classify_peer URL --out DIR``
    classifies, pickles (premises, statistics) into DIR and prints its figures as JSON."""
    parser = argparse.ArgumentParser(prog="python -m bench.classify_peer")
    parser.add_argument("url")
    parser.add_argument("--up-to", default=None)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--write-back", action="store_true")
    args = parser.parse_args()
    print(json.dumps(_peer(args.url, args.up_to, args.out, args.write_back), default=str))


if __name__ == "__main__":
    main()
