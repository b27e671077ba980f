"""``python -m bench --scale small|wales [--json] [--only NAME]``"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

from connectivity.settings import load_settings

from . import classify, load_uprn, web

ROOT = Path(__file__).resolve().parent.parent
SCALES = {
    # file sizes (premises) for the OS Open UPRN load; two sizes show memory does not grow
    "small": [50_000, 200_000],
    "wales": [500_000, 2_000_000],
}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--scale", choices=sorted(SCALES), default="small")
    parser.add_argument("--json", action="store_true", help="print JSON instead of Markdown")
    parser.add_argument("--only", choices=["load_uprn", "classify", "web"], default=None,
                        help="web measures the database the settings point at (run the demo first)")
    args = parser.parse_args()
    settings = load_settings()
    cache = settings.cache_dir / "bench"
    report = {
        "scale": args.scale,
        "machine": {"cpus": __import__("os").cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
        "benchmarks": [],
    }
    if args.only in (None, "load_uprn"):
        report["benchmarks"].append(load_uprn.run(settings.conninfo, SCALES[args.scale], cache))
    if args.only in (None, "classify"):
        report["benchmarks"].append(classify.run(settings.conninfo, args.scale, cache))
    if args.only == "web":
        report["benchmarks"].append(web.run())
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        print()
        return
    print(f"# Benchmarks ({args.scale}) on {report['machine']['cpus']} CPUs, {report['machine']['platform']}\n")
    for bench in report["benchmarks"]:
        if bench["benchmark"] == "load_uprn":
            print("## OS Open UPRN load\n")
            print(load_uprn.markdown(bench) + "\n")
        elif bench["benchmark"] == "classify":
            print(f"## Classification and statistics ({bench['scale']})\n")
            print(classify.markdown(bench) + "\n")
        else:
            print("## Tiles and postcode lookups (in-process, loopback database)\n")
            print(web.markdown(bench) + "\n")


if __name__ == "__main__":
    main()
