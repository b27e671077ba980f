"""Loaders: one module per source format, plus the shared machinery (reading, staging, checks,
load runs, rejects). ``LOADERS`` maps a load kind (``connectivity load KIND``) to its loader."""

from .bduk import BdukLoader
from .boundaries import BoundariesLoader
from .codepoint import PostcodesLoader
from .ofcom import OfcomApiLoader, OfcomCoverageLoader, OfcomPerformanceLoader
from .os_open_uprn import UprnLoader
from .premises import PremisesLoader
from .raster import SpeedRasterLoader
from .runs import LoadResult, run_load

LOADERS = {
    loader.kind: loader
    for loader in (
        BoundariesLoader, PostcodesLoader, UprnLoader, PremisesLoader, BdukLoader,
        OfcomCoverageLoader, OfcomPerformanceLoader, OfcomApiLoader, SpeedRasterLoader,
    )
}

__all__ = ["LOADERS", "LoadResult", "run_load"]
