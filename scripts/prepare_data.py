"""Rebuild the bundled data in data/ from the staged originals in ../shared/data/wales/.

A developer tool, run by hand when a source is refreshed; the product and CI never run it and never
read ../shared. Output is deterministic (gzip without timestamps), so a re-run changes no bytes
unless a source changed.

    .venv/bin/python scripts/prepare_data.py [--shared ../shared/data/wales]
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import tempfile
from pathlib import Path

import pyogrio

ROOT = Path(__file__).resolve().parent.parent


def gzip_file(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    with src.open("rb") as fin, dest.open("wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as fout:
            shutil.copyfileobj(fin, fout)


def local_authorities(shared: Path) -> None:
    lad = pyogrio.read_dataframe(shared / "wales_boundaries_ons_2024_2025/wales_lad_2025_05_bgc.geojson")
    ua = pyogrio.read_dataframe(shared / "wales_ua_2021_census_martinjc/wales_ctyua_2021.geojson",
                                read_geometry=False)
    welsh = dict(zip(ua["CTYUA21CD"], ua["CTYUA21NMW"], strict=True))
    lad["LAD25NMW"] = lad["LAD25CD"].map(welsh)
    missing = lad[lad["LAD25NMW"].isna()]
    if len(missing):
        raise SystemExit(f"no Welsh name for {list(missing['LAD25CD'])}")
    lad = lad[["LAD25CD", "LAD25NM", "LAD25NMW", "geometry"]].sort_values("LAD25CD")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "la.geojson"
        pyogrio.write_dataframe(lad, out, driver="GeoJSON", layer_options={
            "COORDINATE_PRECISION": 6, "RFC7946": "YES", "WRITE_NAME": "NO"})
        gzip_file(out, ROOT / "data/boundaries/wales_lad_2025_05_bgc.geojson.gz")


def statistical_boundaries(shared: Path) -> None:
    """Wards (2013, with Welsh names), LSOAs and MSOAs (2011, matching WIMD 2019) and Westminster
    constituencies (2024), WGS84, with their code and name columns only."""
    sources = {
        "wales_electoral_wards_2013": ("wales_boundaries_ukgeojson/wales_electoral_wards_2013.geojson",
                                       ["WD13CD", "WD13NM", "WD13NMW"]),
        "wales_lsoa_2011": ("wales_boundaries_ukgeojson/wales_lsoa_2011.geojson", ["LSOA11CD", "LSOA11NM"]),
        "wales_msoa_2011": ("wales_boundaries_ukgeojson/wales_msoa_2011.geojson", ["MSOA11CD", "MSOA11NM"]),
        "wales_westminster_constituencies_2024_07_bgc": (
            "wales_boundaries_ons_2024_2025/wales_westminster_constituencies_2024_07_bgc.geojson",
            ["PCON24CD", "PCON24NM"]),
    }
    for name, (src, columns) in sources.items():
        frame = pyogrio.read_dataframe(shared / src)[columns + ["geometry"]].sort_values(columns[0])
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / f"{name}.geojson"
            pyogrio.write_dataframe(frame, out, driver="GeoJSON", layer_options={
                "COORDINATE_PRECISION": 6, "RFC7946": "YES", "WRITE_NAME": "NO"})
            gzip_file(out, ROOT / f"data/boundaries/{name}.geojson.gz")


def wimd(shared: Path) -> None:
    dest = ROOT / "data/wimd/wimd_2019_ranks_by_lsoa.csv"
    dest.parent.mkdir(parents=True, exist_ok=True)
    text = (shared / "wales_wimd_2019/wimd_2019_ranks_by_lsoa.csv").read_text(encoding="utf-8-sig")
    dest.write_text(text, encoding="utf-8")


def postcodes(shared: Path) -> None:
    gzip_file(shared / "wales_postcodes_codepoint_open/wales_postcodes_codepoint_open_2025_10.csv",
              ROOT / "data/postcodes/wales_postcodes_codepoint_open_2025_10.csv.gz")


def calibration_targets(shared: Path) -> None:
    """Ofcom gigabit-capable % by authority (every period), Census 2021 population density."""
    import csv

    src = shared / "wales_ofcom_la_indicators_ons/wales_la_connectivity_indicators_ofcom_via_ons.csv"
    dest = ROOT / "data/ofcom/wales_la_gigabit_capable_ofcom_via_ons.csv"
    dest.parent.mkdir(parents=True, exist_ok=True)
    with src.open(newline="") as fin, dest.open("w", newline="") as fout:
        writer = csv.writer(fout, lineterminator="\n")
        writer.writerow(["areacd", "areanm", "period", "gigabit_capable_pct_premises"])
        rows = [r for r in csv.DictReader(fin)
                if r["indicator"] == "gigabit_capable_broadband_pct_premises"]
        for r in sorted(rows, key=lambda r: (r["areacd"], r["period"])):
            writer.writerow([r["areacd"], r["areanm"], r["period"][:7], r["value"]])
    dest = ROOT / "data/census/wales_la_population_density_census2021.csv"
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shared / "wales_ua_2021_census_martinjc/wales_la_population_density_census2021.csv",
                    dest)


def osm_places(shared: Path) -> None:
    gzip_file(shared / "wales_osm_places_geofabrik_2021/wales_osm_places_2021-01-17.geojson",
              ROOT / "data/osm/wales_osm_places_2021-01-17.geojson.gz")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared/data/wales")
    args = parser.parse_args()
    local_authorities(args.shared)
    postcodes(args.shared)
    calibration_targets(args.shared)
    osm_places(args.shared)
    statistical_boundaries(args.shared)
    wimd(args.shared)
    for path in sorted(p for p in (ROOT / "data").rglob("*") if p.is_file() and p.name != "README.md"):
        print(f"{path.relative_to(ROOT)}  {path.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
