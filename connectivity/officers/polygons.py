"""A list's polygon, from a file (GeoJSON, GeoPackage, KML: read with pyogrio, its CRS read and
the polygons transformed to British National Grid with pyproj) or from a GeoJSON geometry drawn
on the map (WGS84). Refused, with a message naming the input: no polygons, an empty or invalid
(self-intersecting) polygon, no CRS, coordinates that do not fit the CRS, or a polygon outside
Wales."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import BadRequest

#: Wales in British National Grid, with a margin: a polygon that misses it is in the wrong CRS
#: (or the wrong country)
WALES_BNG = (140_000.0, 160_000.0, 360_000.0, 400_000.0)
FORMATS = {".geojson": "GeoJSON", ".json": "GeoJSON", ".gpkg": "GPKG", ".kml": "KML"}


def read_polygon_file(path: Path | str) -> Any:
    """A valid shapely MultiPolygon in EPSG:27700 from ``path``."""
    import pyogrio
    import shapely

    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise BadRequest(f"{path.name}: unknown polygon format {path.suffix or '(no extension)'}",
                         "give a GeoJSON (.geojson), GeoPackage (.gpkg) or KML (.kml) file")
    if not path.is_file():
        raise BadRequest(f"{path}: no such file")
    try:
        info = pyogrio.read_info(path)
        frame = pyogrio.read_dataframe(path)
    except Exception as exc:  # GDAL's errors: a corrupt or truncated file
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise BadRequest(f"{path.name}: cannot be read as {FORMATS[path.suffix.lower()]} "
                         f"({first})") from None
    crs = info.get("crs")
    if frame.crs is None or not crs:
        raise BadRequest(f"{path.name} has no coordinate reference system",
                         "save it with one (EPSG:27700 or EPSG:4326)")
    geoms = [g for g in frame.geometry if g is not None]
    return _checked(path.name, geoms, frame.crs.to_string(), shapely)


def polygon_from_geojson(geometry: Any, name: str = "the drawn polygon",
                         crs: str = "EPSG:4326") -> Any:
    """A valid MultiPolygon in EPSG:27700 from a GeoJSON geometry (or Feature) in ``crs``."""
    import shapely
    from shapely.geometry import shape

    if isinstance(geometry, dict) and geometry.get("type") == "Feature":
        geometry = geometry.get("geometry")
    if isinstance(geometry, dict) and geometry.get("type") == "FeatureCollection":
        geoms = [f.get("geometry") for f in geometry.get("features") or []]
    else:
        geoms = [geometry]
    try:
        shapes = [shape(g) for g in geoms if g]
    except Exception:
        raise BadRequest(f"{name} is not a GeoJSON geometry") from None
    return _checked(name, shapes, crs, shapely)


def _checked(name: str, geoms: list, crs: str, shapely) -> Any:
    from pyproj import CRS, Transformer
    from pyproj.exceptions import CRSError
    from shapely.geometry import MultiPolygon

    polygons = []
    for i, geom in enumerate(geoms, 1):
        if geom.geom_type not in ("Polygon", "MultiPolygon"):
            raise BadRequest(f"{name}: feature {i} is a {geom.geom_type}, not a polygon")
        if geom.is_empty:
            raise BadRequest(f"{name}: feature {i} is an empty polygon")
        if not geom.is_valid:
            raise BadRequest(f"{name}: feature {i} is not a valid polygon "
                             f"({shapely.is_valid_reason(geom)})",
                             "a polygon's edges must not cross each other")
        polygons.append(geom)
    if not polygons:
        raise BadRequest(f"{name} holds no polygon")
    try:
        source = CRS.from_user_input(crs)
    except CRSError:
        raise BadRequest(f"{name}: unknown coordinate reference system {crs!r}") from None
    if source.is_geographic:
        minx, miny, maxx, maxy = shapely.union_all(polygons).bounds
        if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
            raise BadRequest(f"{name}: the coordinates ({minx:g}, {miny:g}) are not longitude and "
                             f"latitude, as its CRS {source.to_string()} says",
                             "save the file with the CRS its coordinates are in (EPSG:27700?)")
    transformer = Transformer.from_crs(source, 27700, always_xy=True)
    moved = shapely.union_all([shapely.transform(g, transformer.transform, interleaved=False)
                               for g in polygons])
    if not moved.is_valid:
        raise BadRequest(f"{name}: the polygons overlap into an invalid shape "
                         f"({shapely.is_valid_reason(moved)})")
    minx, miny, maxx, maxy = moved.bounds
    wx0, wy0, wx1, wy1 = WALES_BNG
    if maxx < wx0 or minx > wx1 or maxy < wy0 or miny > wy1:
        raise BadRequest(f"{name} is outside Wales (its CRS is {source.to_string()})",
                         "check the file's coordinate reference system")
    if moved.geom_type == "Polygon":
        moved = MultiPolygon([moved])
    return moved
