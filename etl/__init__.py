"""Loaders: one module per source format, plus the shared machinery (reading, staging, checks,
load runs, rejects). ``LOADERS[kind]`` is the loader class for ``connectivity load KIND``; each
module is imported only when its kind is used (GDAL and rasterio take a while to import)."""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping

from .runs import LoadResult, run_load

_WHERE = {
    "boundaries": "etl.boundaries:BoundariesLoader",
    "postcodes": "etl.codepoint:PostcodesLoader",
    "uprn": "etl.os_open_uprn:UprnLoader",
    "premises": "etl.premises:PremisesLoader",
    "bduk": "etl.bduk:BdukLoader",
    "ofcom-coverage": "etl.ofcom:OfcomCoverageLoader",
    "ofcom-performance": "etl.ofcom:OfcomPerformanceLoader",
    "ofcom-api": "etl.ofcom:OfcomApiLoader",
    "speed-raster": "etl.raster:SpeedRasterLoader",
    "wimd": "etl.wimd:WimdLoader",
    "places": "etl.places:PlacesLoader",
    "challenges": "etl.challenges:ChallengesLoader",
    "ookla": "etl.ookla:OoklaLoader",
    "addressbase": "etl.addressbase:AddressBaseLoader",
}


class _Loaders(Mapping):
    def __getitem__(self, kind: str):
        module, _, name = _WHERE[kind].partition(":")
        return getattr(importlib.import_module(module), name)

    def __iter__(self) -> Iterator[str]:
        return iter(_WHERE)

    def __len__(self) -> int:
        return len(_WHERE)


LOADERS = _Loaders()

__all__ = ["LOADERS", "LoadResult", "run_load"]
