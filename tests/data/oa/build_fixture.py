"""Build the output-area fixture of tests/test_oa_coverage.py from real postcodes.

Output areas are not bundled (ONS OA 2021 boundaries for Wales are 10,000 polygons), so the
fixture makes a few of its own, the way ONS built them from postcodes: 24 real postcodes of
Borth, Ceredigion (OS Code-Point Open, October 2025, data/postcodes/), their Voronoi cells
(PostGIS ST_VoronoiPolygons) clipped to Ceredigion (data/boundaries/, ONS May 2025), grouped
south to north, six postcodes each, into four output areas W00090001..W00090004 (codes in the
OA21CD form, outside the range ONS uses for Wales, which ends near W00010300). Writes
``output_areas.geojson`` (OA21CD, WGS84 as ONS publishes) and ``postcodes.csv`` (each
postcode, its output area and its Code-Point centroid) beside this file.

    .venv/bin/python tests/data/oa/build_fixture.py postgresql://...   # any PostGIS; reads only
"""

from __future__ import annotations

import csv
import gzip
import json
import sys
from pathlib import Path

import psycopg

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent.parent
POSTCODES = ("SY24 5AA SY24 5AJ SY24 5AL SY24 5AR SY24 5AS SY24 5AT SY24 5AU SY24 5AW SY24 5AX "
             "SY24 5AY SY24 5AZ SY24 5BA SY24 5BB SY24 5BD SY24 5BE SY24 5BF SY24 5BG SY24 5BH "
             "SY24 5BJ SY24 5BL SY24 5BN SY24 5BP SY24 5BQ SY24 5BW")
CEREDIGION = "W06000008"


def main(url: str) -> None:
    wanted = [" ".join(pair) for pair in zip(*[iter(POSTCODES.split())] * 2, strict=True)]
    with gzip.open(ROOT / "data/postcodes/wales_postcodes_codepoint_open_2025_10.csv.gz",
                   "rt", encoding="utf-8") as fh:
        points = {r["postcode"]: (int(r["eastings"]), int(r["northings"]))
                  for r in csv.DictReader(fh) if r["postcode"] in wanted}
    assert sorted(points) == sorted(wanted), sorted(set(wanted) - set(points))
    # south to north (then west to east), six postcodes an output area
    ordered = sorted(wanted, key=lambda pc: (points[pc][1], points[pc][0]))
    oa_of = {pc: f"W0009000{1 + i // 6}" for i, pc in enumerate(ordered)}
    with gzip.open(ROOT / "data/boundaries/wales_lad_2025_05_bgc.geojson.gz", "rt") as fh:
        la = next(f["geometry"] for f in json.load(fh)["features"]
                  if f["properties"]["LAD25CD"] == CEREDIGION)
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            """WITH pts AS (
                   SELECT pc, oa, ST_SetSRID(ST_MakePoint(e, n), 27700) AS g
                   FROM unnest(%s::text[], %s::text[], %s::float8[], %s::float8[]) AS u(pc, oa, e, n)
               ), la AS (
                   SELECT ST_MakeValid(ST_Transform(ST_SetSRID(ST_GeomFromGeoJSON(%s), 4326),
                                                    27700)) AS g
               ), cells AS (
                   SELECT (ST_Dump(ST_VoronoiPolygons(ST_Collect(pts.g), 0,
                                                      (SELECT ST_Envelope(g) FROM la)))).geom
                   FROM pts
               )
               SELECT p.oa, ST_AsGeoJSON(ST_Multi(ST_Transform(ST_Union(
                          ST_Intersection(c.geom, la.g)), 4326)), 6)
               FROM cells c JOIN pts p ON ST_Contains(c.geom, p.g) CROSS JOIN la
               GROUP BY p.oa ORDER BY p.oa""",
            (ordered, [oa_of[pc] for pc in ordered], [points[pc][0] for pc in ordered],
             [points[pc][1] for pc in ordered], json.dumps(la))).fetchall()
    features = [{"type": "Feature", "properties": {"OA21CD": oa},
                 "geometry": json.loads(geometry)} for oa, geometry in rows]
    (HERE / "output_areas.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": features}) + "\n")
    with (HERE / "postcodes.csv").open("w", newline="") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(["postcode", "oa21cd", "easting", "northing"])
        for pc in ordered:
            out.writerow([pc, oa_of[pc], *points[pc]])


if __name__ == "__main__":
    main(sys.argv[1])
