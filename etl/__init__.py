"""Loaders: one module per source format, plus the shared machinery (reading, load runs, rejects).

``LOADERS`` maps a load kind (the CLI's ``connectivity load KIND``) to its loader.
"""

from .boundaries import BoundariesLoader
from .codepoint import PostcodesLoader
from .os_open_uprn import UprnLoader
from .runs import LoadResult, run_load

LOADERS = {
    BoundariesLoader.kind: BoundariesLoader,
    PostcodesLoader.kind: PostcodesLoader,
    UprnLoader.kind: UprnLoader,
}

__all__ = ["LOADERS", "LoadResult", "run_load"]
