"""The demo pipeline: what `connectivity demo` loads and classifies, as a library.

Tests (``tests/conftest.py``, ``tests/test_faults.py``) and ``bench/dataset.py`` build their
databases from the same lists, so the demo, the tests and the benchmarks load the same files.
Each input is ``(kind, paths, options, extra)``: a loader kind from ``etl.LOADERS``, its files,
its options, and keyword arguments for ``etl.run_load`` (``synthetic``, ``release``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from connectivity.errors import GapmapError
from connectivity.settings import Settings

Input = tuple[str, list[Path], dict, dict]
Say = Callable[[str], object] | None


def bundled_inputs(settings: Settings) -> list[Input]:
    """The real data `demo` loads from the bundled data folder."""
    data = settings.data_dir
    inputs: list[Input] = [
        ("boundaries", [data / "boundaries/wales_lad_2025_05_bgc.geojson.gz"], {"level": "la"}, {}),
        ("boundaries", [data / "boundaries/wales_electoral_wards_2013.geojson.gz"],
         {"level": "ward"}, {}),
        ("boundaries", [data / "boundaries/wales_lsoa_2011.geojson.gz"], {"level": "lsoa"}, {}),
        ("boundaries", [data / "boundaries/wales_msoa_2011.geojson.gz"], {"level": "msoa"}, {}),
        ("boundaries", [data / "boundaries/wales_westminster_constituencies_2024_07_bgc.geojson.gz"],
         {"level": "constituency"}, {}),
        ("postcodes", [data / "postcodes/wales_postcodes_codepoint_open_2025_10.csv.gz"], {}, {}),
        ("wimd", [data / "wimd/wimd_2019_ranks_by_lsoa.csv"], {}, {}),
        ("places", [data / "osm/wales_osm_places_2021-01-17.geojson.gz"], {}, {}),
    ]
    for _, paths, _, _ in inputs:
        for path in paths:
            if not path.exists():
                raise GapmapError(f"bundled data file {path} is missing",
                                  "run from a full checkout, or set CONNECTIVITY_DATA_DIR")
    return inputs


def synthetic_inputs(settings: Settings, say: Say = None) -> list[Input]:
    """The synthetic small-scale premises and releases `demo` loads, generated once into the cache."""
    from .demodata import GENERATOR_VERSION, RELEASES, generate

    folder = settings.cache_dir / f"demo-data/small-seed2026-v{GENERATOR_VERSION}"
    if not (folder / "manifest.json").exists():
        if say:
            say(f"generating synthetic demo premises into {folder} ...")
        generate(folder, data_dir=settings.data_dir, scale="small", seed=2026)
    marked = {"synthetic": True}
    inputs: list[Input] = [("uprn", [folder / "os_open_uprn/osopenuprn_demo.csv"], {}, marked)]
    for release in RELEASES:
        inputs += [
            ("bduk", [folder / f"bduk/{release}"], {}, marked),
            ("ofcom-coverage", [folder / f"ofcom_coverage/{release}"], {}, marked),
            ("ofcom-performance", [folder / f"ofcom_performance/{release}"], {}, marked),
            ("ofcom-api", [folder / f"ofcom_api/{release}/coverage_api.jsonl"], {}, marked),
            ("speed-raster", [folder / f"speed_raster/{release}/modelled_download_100m.tif"],
             {"band": 1}, {"synthetic": True, "release": release}),
        ]
    return inputs


def demo_classify(settings: Settings, say: Say = None) -> list[dict]:
    """Classify each demo release once (2026-01, then 2026-07, which ends up current)."""
    from connectivity.classify import classify
    from connectivity.db import connect
    from connectivity.rules import load_rules
    from connectivity.runs import list_runs

    from .demodata import RELEASES

    done = []
    with connect(settings, autocommit=True) as conn:
        existing = {r["label"] for r in list_runs(conn)}
        for release in RELEASES:
            if release in existing:
                if say:
                    say(f"classification {release}: already done")
                continue
            result = classify(conn, load_rules(settings.rules_file), up_to=release)
            done.append(result)
            if say:
                say(f"classification {release}: {result['premises']:,} premises in "
                    f"{result['seconds']} s")
    return done
