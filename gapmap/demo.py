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
#: the demo's synthetic scales: the tests use small; wales is every authority
SCALES = ("small", "wales")
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


def demo_folder(settings: Settings, scale: str) -> Path:
    """Where the synthetic files of ``scale`` are generated (once) in the cache."""
    from .demodata import GENERATOR_VERSION

    if scale not in SCALES:
        raise GapmapError(f"no demo scale {scale!r}", f"choose one of {', '.join(SCALES)}")
    return settings.cache_dir / f"demo-data/{scale}-seed2026-v{GENERATOR_VERSION}"


def synthetic_inputs(settings: Settings, say: Say = None, scale: str = "small") -> list[Input]:
    """The synthetic premises and releases `demo` loads (``small``: Ceredigion and Merthyr Tydfil;
    ``wales``: all 22 authorities, about 1.5 million premises), generated once into the cache."""
    from .demodata import RELEASES, generate

    folder = demo_folder(settings, scale)
    if not (folder / "manifest.json").exists():
        if say:
            say(f"generating synthetic demo premises ({scale}) into {folder} ...")
        generate(folder, data_dir=settings.data_dir, scale=scale, seed=2026)
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


def other_scale_loaded(settings: Settings, scale: str) -> str | None:
    """The message to refuse with when the database already holds synthetic premises other than
    those of ``scale`` (the demo at another scale): the two would mix. Checked before anything is
    generated: a scale not generated yet cannot be the one loaded."""
    from connectivity.db import connect
    from etl.runs import sha256_file

    with connect(settings) as conn:
        row = conn.execute(
            "SELECT files -> 0 ->> 'sha256' FROM gapmap.load_run WHERE kind = 'uprn' "
            "AND status = 'succeeded' AND synthetic ORDER BY id DESC LIMIT 1").fetchone()
    if row is None:
        return None
    uprn = demo_folder(settings, scale) / "os_open_uprn/osopenuprn_demo.csv"
    if uprn.exists() and sha256_file(uprn) == row[0]:
        return None
    return (f"this database already holds synthetic demo premises of another scale than "
            f"{scale}")
