"""``python -m bench --scale small|wales|series|national [--json] [--only NAME...] [--out DIR]``

Runs every benchmark at the chosen scale, each figure beside its baseline or peer measured in the
same run, and prints a Markdown table per benchmark (or JSON). ``small`` takes a few minutes and
is what CI runs as a smoke test; ``wales`` is about 1.5 million premises; ``series`` repeats the
load and classification at 0.25, 0.5, 1, 2 and 4 million premises to show how each cost grows;
``national`` is the classification at 10 million premises (a third of Great Britain). The web
load benchmark (``web_load``: 64 clients for 60 s, then the same while a release loads and
classifies) runs at the wales scale, or at any scale with ``--only web_load``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
from pathlib import Path

import psycopg

from connectivity.settings import load_settings

from . import classify, classify_peer, dataset, load_uprn, web, web_load
from . import lists as lists_bench
from . import plan as plan_bench
from . import publish as publish_bench

BENCHMARKS = ("load_uprn", "classify", "classify_peer", "web", "lists", "plan", "publish",
              "web_load")
#: OS Open UPRN file sizes for the load; the classification scale; the web database scale
SCALES = {
    "small": {"load_uprn": [50_000, 200_000], "classify": ["small"], "web": "small"},
    "wales": {"load_uprn": [500_000, 2_000_000], "classify": ["wales"], "web": "wales"},
    "series": {"load_uprn": [250_000, 500_000, 1_000_000, 2_000_000, 4_000_000],
               "classify": ["250000", "500000", "1000000", "2000000", "4000000"], "web": None},
    "national": {"load_uprn": [], "classify": ["10000000"], "web": None},
}
#: left out of a run without --only at these scales (minutes of fixed duration)
NOT_BY_DEFAULT = {"small": {"web_load"}}


def _server_info(conninfo: str) -> dict:
    with psycopg.connect(conninfo) as conn:
        version = conn.execute("SELECT current_setting('server_version')").fetchone()[0]
        postgis = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'postgis'").fetchone()
        settings = dict(conn.execute(
            "SELECT name, current_setting(name) FROM pg_settings WHERE name IN "
            "('shared_buffers', 'work_mem', 'max_parallel_workers_per_gather', 'wal_level', "
            "'synchronous_commit')").fetchall())
    return {"postgresql": version, "postgis": postgis[0] if postgis else None, "settings": settings}


def run(scale: str, only: list[str], cache: Path, conninfo: str,
        load_seconds: float = web_load.SECONDS, load_clients: int = web_load.CLIENTS) -> dict:
    report = {
        "scale": scale,
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform(),
                    "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30)},
        "server": _server_info(conninfo),
        "benchmarks": [],
    }
    plan = SCALES[scale]
    if "load_uprn" in only:
        report["benchmarks"].append(load_uprn.run(conninfo, plan["load_uprn"], cache))
    if "classify" in only:
        for size in plan["classify"]:
            report["benchmarks"].append(classify.run(conninfo, size, cache))
    if "classify_peer" in only and plan["web"]:
        report["benchmarks"].append(classify_peer.run(conninfo, plan["web"], cache))
    if {"web", "lists", "plan", "publish", "web_load"} & set(only) and plan["web"]:
        # one classified database for the web and the list benchmarks
        server = load_uprn.Server(conninfo)
        try:
            built = dataset.build(server, "bench_web", plan["web"], cache)
            if "web" in only:
                figures = web.run(built["url"])
                figures["scale"] = plan["web"]
                report["benchmarks"].append(figures)
            if "lists" in only:
                figures = lists_bench.run(built["url"])
                figures["scale"] = plan["web"]
                report["benchmarks"].append(figures)
            if "plan" in only:
                figures = plan_bench.run(built["url"])
                figures["scale"] = plan["web"]
                report["benchmarks"].append(figures)
            if "publish" in only:
                figures = publish_bench.run(built["url"])
                figures["scale"] = plan["web"]
                report["benchmarks"].append(figures)
            if "web_load" in only:  # last: it loads and classifies release 2026-07
                figures = web_load.run(built["url"], dataset.demo_files(plan["web"], cache),
                                       seconds=load_seconds, clients=load_clients)
                figures["scale"] = plan["web"]
                report["benchmarks"].append(figures)
        finally:
            server.drop("bench_web")
            server.admin.close()
    report["bench_process_peak_rss_mb"] = round(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    report["seconds"] = round(time.time() - time.mktime(time.strptime(report["started"], "%Y-%m-%d %H:%M:%S")))
    return report


def markdown(report: dict) -> str:
    m, s = report["machine"], report["server"]
    out = [f"# Benchmarks ({report['scale']}), {report['started']}\n",
           f"{m['cpus']} CPUs, {m['memory_gb']} GB, {m['platform']}, Python {m['python']}; "
           f"PostgreSQL {s['postgresql']}, PostGIS {s['postgis']} "
           f"({', '.join(f'{k}={v}' for k, v in sorted(s['settings'].items()))}).\n"]
    classify_rows = [b for b in report["benchmarks"] if b["benchmark"] == "classify"]
    for bench in report["benchmarks"]:
        if bench["benchmark"] == "load_uprn":
            out += ["## OS Open UPRN load\n", load_uprn.markdown(bench) + "\n"]
        elif bench["benchmark"] == "classify_peer":
            out += [f"## Classification beside a geopandas peer ({bench['scale']})\n",
                    classify_peer.markdown(bench) + "\n"]
        elif bench["benchmark"] == "web":
            out += [f"## Web map and API under gunicorn ({bench['scale']})\n", web.markdown(bench) + "\n"]
        elif bench["benchmark"] == "lists":
            out += [f"## Target lists ({bench['scale']})\n", lists_bench.markdown(bench) + "\n"]
        elif bench["benchmark"] == "plan":
            out += [f"## Intervention planning ({bench['scale']})\n",
                    plan_bench.markdown(bench) + "\n"]
        elif bench["benchmark"] == "publish":
            out += [f"## Static tile archive ({bench['scale']})\n",
                    publish_bench.markdown(bench) + "\n"]
        elif bench["benchmark"] == "web_load":
            out += [f"## Web under load, and under load while a release loads ({bench['scale']})\n",
                    web_load.markdown(bench) + "\n"]
    if classify_rows:
        out.append("## Classification and statistics\n")
        table = []
        for row in classify_rows:
            table += classify.markdown(row).splitlines()[len(table) and 2:]
        out.append("\n".join(table) + "\n")
        out.append("What grows with the premises:\n")
        out.append(classify.series_markdown(classify_rows) + "\n")
    out.append(f"Whole run: {report['seconds']} s.")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", choices=sorted(SCALES), default="small")
    parser.add_argument("--json", action="store_true", help="print JSON instead of Markdown")
    parser.add_argument("--only", choices=BENCHMARKS, action="append", default=None,
                        help="run only this benchmark (repeatable; default: all)")
    parser.add_argument("--load-seconds", type=float, default=web_load.SECONDS,
                        help="seconds of each web_load round (default: %(default)s)")
    parser.add_argument("--load-clients", type=int, default=web_load.CLIENTS,
                        help="concurrent clients of web_load (default: %(default)s; fewer for a "
                        "smoke test)")
    parser.add_argument("--out", type=Path, default=None,
                        help="also write <scale>.json and <scale>.md into this folder")
    args = parser.parse_args()
    settings = load_settings()
    only = args.only or [b for b in BENCHMARKS if b not in NOT_BY_DEFAULT.get(args.scale, ())]
    report = run(args.scale, only, settings.cache_dir / "bench",
                 settings.conninfo, load_seconds=args.load_seconds,
                 load_clients=args.load_clients)
    text = markdown(report)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / f"{args.scale}.json").write_text(json.dumps(report, indent=2) + "\n")
        (args.out / f"{args.scale}.md").write_text(text + "\n")
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        print()
    else:
        print(text)


if __name__ == "__main__":
    main()
