"""A classified benchmark database: the bundled real data (boundaries, postcodes, WIMD, places)
plus the synthetic premises and one speed release at a scale, loaded and classified as
``connectivity demo`` would. The generated files are cached under the bench cache."""

from __future__ import annotations

import time
from pathlib import Path

from connectivity.settings import load_settings

from .load_uprn import Server

ROOT = Path(__file__).resolve().parent.parent


def demo_files(scale: str, cache: Path) -> Path:
    """The synthetic data for ``scale`` (small, wales or a premises count), generated once."""
    folder = cache / f"classify-{scale}"
    if not (folder / "manifest.json").exists():
        from gapmap.demodata import generate

        generate(folder, data_dir=ROOT / "data", scale=scale, seed=2026)
    return folder


def release_loads(folder: Path, release: str = "2026-01") -> list[tuple[str, list[Path], dict]]:
    return [("bduk", [folder / f"bduk/{release}"], {}),
            ("ofcom-coverage", [folder / f"ofcom_coverage/{release}"], {}),
            ("ofcom-api", [folder / f"ofcom_api/{release}/coverage_api.jsonl"], {}),
            ("speed-raster", [folder / f"speed_raster/{release}/modelled_download_100m.tif"],
             {"band": 1})]


def load_inputs(settings, folder: Path, bundled_kinds: tuple[str, ...] | None = None
                ) -> dict[str, float]:
    """Load the bundled real data (only ``bundled_kinds`` if given), the synthetic premises of
    ``folder`` and its release 2026-01 into the database of ``settings``; seconds per load."""
    from etl import LOADERS, run_load
    from gapmap.demo import bundled_inputs

    seconds: dict[str, float] = {}

    def timed(kind: str, *args, **kwargs) -> None:
        t0 = time.perf_counter()
        run_load(settings, LOADERS[kind](), *args, **kwargs)
        seconds[kind] = round(seconds.get(kind, 0) + time.perf_counter() - t0, 1)

    for kind, paths, options, _ in bundled_inputs(settings):
        if bundled_kinds is None or kind in bundled_kinds:
            timed(kind, paths, options=options)
    timed("uprn", [folder / "os_open_uprn/osopenuprn_demo.csv"], synthetic=True)
    for kind, paths, options in release_loads(folder):
        timed(kind, paths, options=options, release="2026-01", synthetic=True)
    return seconds


def build(server: Server, name: str, scale: str, cache: Path, *, classify: bool = True) -> dict:
    """Create database ``name`` with everything loaded (and classified); returns its URL and how
    long each part took."""
    folder = demo_files(scale, cache)
    url = server.fresh(name, migrate=True)
    settings = load_settings({"database_url": url}, environ={})
    started = time.perf_counter()
    load_inputs(settings, folder)
    out = {"url": url, "load_seconds": round(time.perf_counter() - started, 1)}
    if classify:
        import psycopg

        from connectivity.classify import classify as run_classify
        from connectivity.rules import load_rules

        with psycopg.connect(url, autocommit=True) as conn:
            result = run_classify(conn, load_rules(), up_to="2026-01")
        out["classify_seconds"] = result["seconds"]
    return out
