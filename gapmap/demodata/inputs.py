"""The real inputs the synthetic data is built on, read from the bundled ``data/`` folder."""

from __future__ import annotations

import csv
import dataclasses
import gzip
import json
from pathlib import Path

import numpy as np
import pyogrio
import shapely
from pyproj import Transformer

from connectivity.errors import GapmapError


@dataclasses.dataclass
class Authority:
    code: str
    name_en: str
    name_cy: str
    index: int  # position among all 22, fixes its random stream whatever subset is generated
    geom: shapely.Geometry  # EPSG:27700
    area_km2: float
    density: float  # Census 2021 usual residents per km2
    gigabit_target: dict[str, float]  # Ofcom gigabit-capable % by period (YYYY-MM)


@dataclasses.dataclass
class Postcodes:
    """Postcode centroids (EPSG:27700) with the authority whose polygon contains them."""

    postcode: np.ndarray  # str
    x: np.ndarray
    y: np.ndarray
    pqi: np.ndarray
    la_index: np.ndarray  # index into the authorities list, -1 when outside every polygon


@dataclasses.dataclass
class Places:
    """OSM place points (EPSG:27700) by class."""

    x: np.ndarray
    y: np.ndarray
    fclass: np.ndarray


@dataclasses.dataclass
class Inputs:
    authorities: list[Authority]
    postcodes: Postcodes
    places: Places
    sources: dict[str, str]


def _require(path: Path) -> Path:
    if not path.exists():
        raise GapmapError(f"bundled data file {path} is missing",
                          "run from a full checkout, or set CONNECTIVITY_DATA_DIR")
    return path


def read_inputs(data_dir: Path) -> Inputs:
    files = {
        "boundaries": data_dir / "boundaries/wales_lad_2025_05_bgc.geojson.gz",
        "postcodes": data_dir / "postcodes/wales_postcodes_codepoint_open_2025_10.csv.gz",
        "population": data_dir / "census/wales_la_population_density_census2021.csv",
        "gigabit": data_dir / "ofcom/wales_la_gigabit_capable_ofcom_via_ons.csv",
        "places": data_dir / "osm/wales_osm_places_2021-01-17.geojson.gz",
    }
    for path in files.values():
        _require(path)

    frame = pyogrio.read_dataframe(f"/vsigzip/{files['boundaries']}").to_crs(27700)
    frame = frame.sort_values("LAD25CD").reset_index(drop=True)
    with files["population"].open(newline="") as fh:
        density = {r["ctyua21cd"]: float(r["population_density_per_km2_census2021"])
                   for r in csv.DictReader(fh)}
    targets: dict[str, dict[str, float]] = {}
    with files["gigabit"].open(newline="") as fh:
        for r in csv.DictReader(fh):
            targets.setdefault(r["areacd"], {})[r["period"]] = float(r["gigabit_capable_pct_premises"])
    authorities = []
    for i, row in frame.iterrows():
        geom = row.geometry
        shapely.prepare(geom)
        authorities.append(Authority(
            code=row["LAD25CD"], name_en=row["LAD25NM"], name_cy=row["LAD25NMW"], index=int(i),
            geom=geom, area_km2=geom.area / 1e6, density=density[row["LAD25CD"]],
            gigabit_target=targets[row["LAD25CD"]],
        ))

    pcs, xs, ys, pqis = [], [], [], []
    with gzip.open(files["postcodes"], "rt", newline="", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            e, n = int(r["eastings"]), int(r["northings"])
            if e == 0 and n == 0:
                continue  # no coordinates (positional quality 90)
            pcs.append(r["postcode"])
            xs.append(e)
            ys.append(n)
            pqis.append(int(r["positional_quality_indicator"]))
    x = np.asarray(xs, dtype=np.float64)
    y = np.asarray(ys, dtype=np.float64)
    la_index = np.full(len(x), -1, dtype=np.int32)
    for authority in authorities:
        inside = shapely.contains_xy(authority.geom, x, y)
        la_index[inside & (la_index < 0)] = authority.index
    postcodes = Postcodes(np.asarray(pcs), x, y, np.asarray(pqis, dtype=np.int16), la_index)

    with gzip.open(files["places"], "rt", encoding="utf-8") as fh:
        features = json.load(fh)["features"]
    lon = np.array([f["geometry"]["coordinates"][0] for f in features])
    lat = np.array([f["geometry"]["coordinates"][1] for f in features])
    px, py = Transformer.from_crs(4326, 27700, always_xy=True).transform(lon, lat)
    places = Places(np.asarray(px), np.asarray(py),
                    np.array([f["properties"]["fclass"] for f in features]))
    return Inputs(authorities, postcodes, places, {k: str(v.name) for k, v in files.items()})
