"""Benchmark: classification plus every statistic, beside ``CREATE TABLE AS SELECT * FROM
premises`` measured in the same run on the same database (the baseline the issue names)."""

from __future__ import annotations

import time
from pathlib import Path

import psycopg

from connectivity.settings import load_settings

from .dataset import demo_files, load_inputs
from .load_uprn import Server


def run(conninfo: str, scale: str, cache: Path) -> dict:
    from connectivity.classify import classify
    from connectivity.rules import load_rules

    folder = demo_files(scale, cache)
    server = Server(conninfo)
    url = server.fresh("bench_classify", migrate=True)
    settings = load_settings({"database_url": url}, environ={})
    started = time.perf_counter()
    load_inputs(settings, folder, bundled_kinds=("boundaries", "wimd"))
    load_seconds = time.perf_counter() - started
    with psycopg.connect(url, autocommit=True) as conn:
        premises = conn.execute("SELECT count(*) FROM gapmap.premises").fetchone()[0]
        conn.execute("CHECKPOINT")
        t0 = time.perf_counter()
        conn.execute("CREATE TABLE public.ctas_baseline AS SELECT * FROM gapmap.premises")
        ctas = time.perf_counter() - t0
        conn.execute("CHECKPOINT")
        result = classify(conn, load_rules(), up_to="2026-01")
        # the usual case afterwards: a new release, premises and boundaries unchanged, so area
        # membership is reused (the same inputs here, under another label)
        conn.execute("CHECKPOINT")
        again = classify(conn, load_rules(), up_to="2026-01", label="again")
    server.drop("bench_classify")
    server.admin.close()
    return {"benchmark": "classify", "scale": scale, "premises": premises,
            "load_seconds": round(load_seconds, 1), "ctas_seconds": round(ctas, 2),
            "classify_seconds": result["seconds"], "steps": result["steps"],
            "classify_vs_ctas": round(result["seconds"] / ctas, 1),
            "again_seconds": again["seconds"], "again_steps": again["steps"],
            "again_vs_ctas": round(again["seconds"] / ctas, 1)}


def markdown(report: dict) -> str:
    steps = ", ".join(f"{name} {seconds}" for name, seconds in report["steps"].items())
    again = ", ".join(f"{name} {seconds}" for name, seconds in report["again_steps"].items())
    return ("| premises | CREATE TABLE AS SELECT * (s) | classify + statistics (s) | ratio | "
            "steps (s) |\n|---:|---:|---:|---:|---|\n"
            f"| {report['premises']:,} | {report['ctas_seconds']} | {report['classify_seconds']} | "
            f"{report['classify_vs_ctas']}x | {steps} |\n"
            f"| (again, membership kept) | | {report['again_seconds']} | "
            f"{report['again_vs_ctas']}x | {again} |")
