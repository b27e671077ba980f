"""Benchmark (issue 18): the web map under load, and under load while a release loads and
classifies.

64 concurrent clients (``CLIENTS``: 4 client processes of 16 threads each, so that the clients'
own Python is not one GIL) for ``SECONDS`` against ``connectivity serve`` (gunicorn, 2 workers)
over loopback, each client picking requests from a fixed mix (``MIX``): premises tiles, postcode
lookups (``/api/v1/postcodes/<pc>``), the resident's postcode page (``/<lang>/postcode/<pc>``)
and the areas page (``/<lang>/areas``, several levels). Beside it, in the same run, the same
tiles alone from our app and from tipg (uvicorn, 2 workers, the view bench.web makes).

Then the same mix while release 2026-07 loads (``connectivity load`` in subprocesses: BDUK,
Ofcom coverage, the Ofcom API, the modelled surface) and ``connectivity classify`` runs: no
request may fail, and every answer must be wholly the old snapshot's or the new one's. Each
distinct URL is fetched once before the writer starts and once after it ends (the two
snapshots); every body served meanwhile must equal one of the two (tiles and the postcode API:
the bytes; pages: the release label they print, since they carry a per-request nonce), and a
tile's ETag must be the one its snapshot gives.

Figures: requests, failures, p50/p95/p99 ms per kind, throughput, server memory (the peak of the
summed proportional set size, PSS, of the gunicorn processes and of this database's PostgreSQL
backends, sampled twice a second; PSS shares shared buffers out among the processes that touch
them, so the sum is not inflated by them), and the machine's load average before and after.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import http.client
import multiprocessing
import os
import random
import re
import secrets
import subprocess
import threading
import time
from pathlib import Path

import psycopg

from .web import BIN, _free_port, _server, _tiles_around, _tipg_view

CLIENTS = 64
PROCESSES = 4
SECONDS = 60
WORKERS = 2
#: the share of each kind of request in the mix (a map user fetches many tiles per lookup)
MIX = {"tile": 0.6, "postcode": 0.2, "resident": 0.1, "areas": 0.1}
LABEL = {  # the release label a page prints (English and Welsh pages)
    "resident": re.compile(rb"(?:figures from release|ffigurau o ryddhad) ([0-9A-Za-z-]+)"),
    "areas": re.compile(rb"(?:current classification|dosbarthiad presennol) \(([^)<]+)\)"),
}


def _pss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, ValueError):
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
                    break
    return total / 1024


def _children(root: int) -> list[int]:
    out = [root]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                for line in (entry / "status").read_text().splitlines():
                    if line.startswith("PPid:") and int(line.split()[1]) == root:
                        out.append(int(entry.name))
    return out


class Sampler(threading.Thread):
    """The peak PSS of the server's processes and of database ``dbname``'s backends."""

    def __init__(self, url: str, dbname: str, root_pid: int):
        super().__init__(daemon=True)
        self.url, self.dbname, self.root = url, dbname, root_pid
        self.stop = threading.Event()
        self.peak_app = self.peak_db = self.peak_total = 0.0
        self.backends = 0

    def run(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self.stop.is_set():
                pids = [r[0] for r in conn.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> "
                    "pg_backend_pid()", (self.dbname,))]
                app, db = _pss_mb(_children(self.root)), _pss_mb(pids)
                self.peak_app, self.peak_db = max(self.peak_app, app), max(self.peak_db, db)
                self.peak_total = max(self.peak_total, app + db)
                self.backends = max(self.backends, len(pids))
                self.stop.wait(0.5)


def _observe(kind: str, status: int, headers: dict, body: bytes) -> str:
    """What an answer shows, compared across snapshots: the body's hash (tiles, the API) or the
    release label a page prints."""
    if status != 200:
        return ""
    if kind in LABEL:
        found = LABEL[kind].search(body)
        return found.group(1).decode() if found else "?"
    return hashlib.sha1(body).hexdigest()[:16] + "/" + headers.get("etag", "")


def _client_process(port: int, paths: dict, threads: int, seconds: float, seed: int,
                    queue) -> None:
    """``threads`` clients for ``seconds``; puts (kind, path, seconds, status, observation)."""
    kinds = [k for k in MIX if paths.get(k)]
    weights = [MIX[k] for k in kinds]
    out, lock = [], threading.Lock()
    deadline = time.monotonic() + seconds

    def client(n: int) -> None:
        pick = random.Random(seed * 1000 + n)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine = []
        while time.monotonic() < deadline:
            kind = pick.choices(kinds, weights)[0]
            path = pick.choice(paths[kind])
            start = time.perf_counter()
            try:
                conn.request("GET", path, headers={
                    "Accept-Language": "cy" if path.startswith("/cy/") else "en"})
                response = conn.getresponse()
                body = response.read()
                status, headers = response.status, {k.lower(): v for k, v in response.getheaders()}
                if response.will_close:
                    conn.close()
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                mine.append((kind, path, time.perf_counter() - start, 0, type(exc).__name__))
                continue
            mine.append((kind, path, time.perf_counter() - start, status,
                         _observe(kind, status, headers, body)))
        conn.close()
        with lock:
            out.extend(mine)

    workers = [threading.Thread(target=client, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    queue.put(out)


def load(port: int, paths: dict, seconds: float = SECONDS, clients: int = CLIENTS,
         until=None) -> list[tuple]:
    """``clients`` clients in ``PROCESSES`` processes for ``seconds`` (or, if ``until`` is given,
    until it returns true, at least ``seconds``); every answer."""
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    results: list[tuple] = []
    processes = min(PROCESSES, clients)  # fewer clients than processes: one client each
    per = clients // processes
    if until is None:
        procs = [ctx.Process(target=_client_process, args=(port, paths, per, seconds, i, queue))
                 for i in range(processes)]
        for p in procs:
            p.start()
        for _ in procs:
            results.extend(queue.get())
        for p in procs:
            p.join()
        return results
    # rounds of ``seconds`` until the writer is done (the clients never stop in between for
    # long: a round starts as soon as the last ends)
    while True:
        results.extend(load(port, paths, seconds, clients))
        if until():
            return results


def summary(results: list[tuple], seconds: float) -> dict:
    by_kind = collections.defaultdict(list)
    failed = collections.Counter()
    for kind, _path, s, status, _obs in results:
        by_kind[kind].append(s)
        if status != 200:
            failed[kind] += 1

    def q(values, p):
        values = sorted(values)
        return round(values[min(len(values) - 1, int(p * len(values)))] * 1000, 1)

    kinds = {k: {"requests": len(v), "failed": failed[k], "per_s": round(len(v) / seconds, 1),
                 "p50_ms": q(v, 0.5), "p95_ms": q(v, 0.95), "p99_ms": q(v, 0.99)}
             for k, v in sorted(by_kind.items())}
    return {"requests": len(results), "failed": sum(failed.values()),
            "seconds": round(seconds, 1), "per_s": round(len(results) / seconds, 1),
            "kinds": kinds,
            "errors": sorted({f"{k} {p}: {o or st}" for k, p, _s, st, o in results
                              if st != 200})[:10]}


def _paths(conn) -> dict:
    lon, lat = conn.execute(
        "SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_Transform(ST_SetSRID(ST_MakePoint("
        "floor(ST_X(geom) / 1000) * 1000 + 500, floor(ST_Y(geom) / 1000) * 1000 + 500), 27700), "
        "4326) AS c, count(*) AS n FROM gapmap.premises GROUP BY 1 ORDER BY 2 DESC LIMIT 1) d"
    ).fetchone()
    tiles = _tiles_around(lon, lat, 15, 256) + _tiles_around(lon, lat, 13, 16) \
        + _tiles_around(lon, lat, 11, 4)
    postcodes = [r[0] for r in conn.execute(
        "SELECT postcode FROM gapmap.premises_class WHERE postcode IS NOT NULL "
        "GROUP BY postcode ORDER BY md5(postcode) LIMIT 400")]
    las = [r[0] for r in conn.execute(
        "SELECT code FROM gapmap.area WHERE level = 'la' ORDER BY md5(code) LIMIT 4")]
    areas = ["/en/areas", "/cy/areas", "/en/areas?level=msoa", "/en/areas?level=constituency"]
    areas += [f"/{lang}/areas?level={level}&la={la}" for la in las for lang, level in
              (("en", "ward"), ("cy", "lsoa"))]
    return {
        "tile": [f"/tiles/premises/{z}/{x}/{y}.pbf" for z, x, y in tiles],
        "postcode": [f"/api/v1/postcodes/{pc.replace(' ', '')}" for pc in postcodes[:200]],
        "resident": [f"/{'cy' if i % 2 else 'en'}/postcode/{pc.replace(' ', '')}"
                     for i, pc in enumerate(postcodes[200:])],
        "areas": areas,
    }


def _snapshot(port: int, paths: dict, timings: dict | None = None) -> dict[str, str]:
    """Every URL fetched once, one after the other: what it shows (and, into ``timings``, each
    kind's p50 / p95 ms with one client)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    out = {}
    for kind, group in paths.items():
        seconds = []
        for path in group:
            start = time.perf_counter()
            conn.request("GET", path, headers={
                "Accept-Language": "cy" if path.startswith("/cy/") else "en"})
            response = conn.getresponse()
            body = response.read()
            seconds.append(time.perf_counter() - start)
            if response.status != 200:
                raise RuntimeError(f"{path}: HTTP {response.status}")
            out[path] = _observe(kind, 200, {k.lower(): v for k, v in response.getheaders()},
                                 body)
            if response.will_close:
                conn.close()
        if timings is not None:
            seconds.sort()
            timings[kind] = {"p50_ms": round(seconds[len(seconds) // 2] * 1000, 1),
                             "p95_ms": round(seconds[int(len(seconds) * 0.95)] * 1000, 1)}
    conn.close()
    return out


def _measured(url: str, dbname: str, proc, port: int, paths: dict, **kw) -> dict:
    sampler = Sampler(url, dbname, proc.pid)
    sampler.start()
    load_before = Path("/proc/loadavg").read_text().split()[:3]
    t0 = time.perf_counter()
    results = load(port, paths, **kw)
    seconds = time.perf_counter() - t0
    sampler.stop.set()
    sampler.join()
    out = summary(results, seconds)
    out.update({"server_pss_peak_mb": round(sampler.peak_total, 1),
                "app_pss_peak_mb": round(sampler.peak_app, 1),
                "backends_pss_peak_mb": round(sampler.peak_db, 1),
                "backends": sampler.backends, "loadavg_before": load_before,
                "loadavg_after": Path("/proc/loadavg").read_text().split()[:3]})
    return out, results


def writer_steps(folder: Path, release: str = "2026-07") -> list[list[str]]:
    from .dataset import release_loads

    steps = []
    for kind, paths, options in release_loads(folder, release):
        args = ["load", kind, *map(str, paths)]
        for key, value in options.items():
            args += [f"--{key.replace('_', '-')}", str(value)]
        steps.append([*args, "--release", release, "--synthetic"])
    return [*steps, ["classify"]]


def run(url: str, folder: Path, seconds: float = SECONDS, clients: int = CLIENTS) -> dict:
    """Measure against the classified database at ``url`` (bench.dataset.build); ``folder``
    holds the synthetic release 2026-07 the writer loads."""
    dbname = url.rsplit("/", 1)[1]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
        conn.execute("CHECKPOINT")
        premises = conn.execute("SELECT count(*) FROM gapmap.premises").fetchone()[0]
        paths = _paths(conn)
        label_a = conn.execute(
            "SELECT label FROM gapmap.classification_run WHERE is_current").fetchone()[0]
        # a view over gapmap.premises_class would stop classify from replacing that view
        # (DROP VIEW: "other objects depend on it"), so tipg's is made after the writes
        conn.execute("DROP VIEW IF EXISTS bench.premises_status")
    env = dict(os.environ, DATABASE_URL=url, CONNECTIVITY_DATABASE_URL=url,
               CONNECTIVITY_SECRET_KEY=secrets.token_urlsafe(32))
    report = {"benchmark": "web_load", "premises": premises, "clients": clients,
              "processes": min(PROCESSES, clients), "workers": WORKERS, "seconds": seconds, "mix": MIX,
              "urls": {k: len(v) for k, v in paths.items()}}
    port = _free_port()
    with _server([str(BIN / "connectivity"), "--database-url", url, "serve", "--port", str(port),
                  "--workers", str(WORKERS)], env, port, "/api/v1/health") as proc:
        _snapshot(port, paths)  # warms the caches
        report["one_client"] = {}
        before = _snapshot(port, paths, report["one_client"])
        report["mixed"], _ = _measured(url, dbname, proc, port, paths, seconds=seconds,
                                       clients=clients)
        report["tiles_only"], _ = _measured(url, dbname, proc, port, {"tile": paths["tile"]},
                                            seconds=seconds, clients=clients)
        # the same mix while release 2026-07 loads and classifies
        done = threading.Event()
        steps: list[dict] = []

        def writer() -> None:
            try:
                time.sleep(2)
                for step in writer_steps(folder):
                    t0 = time.perf_counter()
                    ran = subprocess.run([str(BIN / "connectivity"), "--database-url", url,
                                          *step], capture_output=True, text=True, env=env)
                    steps.append({"step": " ".join(step[:2]), "exit": ran.returncode,
                                  "seconds": round(time.perf_counter() - t0, 1),
                                  **({"stderr": ran.stderr[-500:]} if ran.returncode else {})})
                    if ran.returncode:
                        break
            finally:
                done.set()

        thread = threading.Thread(target=writer)
        thread.start()
        report["with_writes"], results = _measured(
            url, dbname, proc, port, paths, seconds=min(seconds, 20), clients=clients,
            until=done.is_set)
        thread.join()
        report["writer"] = steps
        after = _snapshot(port, paths)
    with psycopg.connect(url, autocommit=True) as conn:
        label_b = conn.execute(
            "SELECT label FROM gapmap.classification_run WHERE is_current").fetchone()[0]
    # every answer the old snapshot's or the new one's
    seen = collections.defaultdict(collections.Counter)
    odd = []
    for kind, path, _s, status, obs in results:
        if status != 200:
            continue
        if obs == before[path]:
            seen[kind]["old"] += 1
        elif obs == after[path]:
            seen[kind]["new"] += 1
        else:
            odd.append(f"{path}: {obs} (old {before[path]}, new {after[path]})")
    changed = sum(1 for p in before if before[p] != after[p])
    report["snapshots"] = {"old_label": label_a, "new_label": label_b,
                           "urls_changed": changed, "urls": len(before),
                           "answers": {k: dict(v) for k, v in sorted(seen.items())},
                           "neither": len(odd), "neither_examples": odd[:10]}

    _tipg_view(url)
    tipg_env = dict(env, TIPG_DB_SCHEMAS='["bench"]', TIPG_MVT_TILE_BUFFER="16",
                    TIPG_MAX_FEATURES_PER_TILE="100000", TIPG_DB_MAX_CONN_SIZE="8")
    tipg_paths = [re.sub(r"^/tiles/premises/(\d+)/(\d+)/(\d+)\.pbf$",
                         r"/collections/bench.premises_status/tiles/WebMercatorQuad/\1/\2/\3", p)
                  for p in paths["tile"]]
    port = _free_port()
    try:
        with _server([str(BIN / "uvicorn"), "tipg.main:app", "--port", str(port), "--workers",
                      str(WORKERS), "--log-level", "warning"], tipg_env, port,
                     "/collections") as proc:
            _snapshot(port, {"tipg": tipg_paths})
            report["tipg_tiles_only"], _ = _measured(url, dbname, proc, port,
                                                     {"tile": tipg_paths}, seconds=seconds,
                                                     clients=clients)
    except (RuntimeError, FileNotFoundError) as exc:
        report["tipg_error"] = str(exc)
    return report


def markdown(r: dict) -> str:
    lines = [f"{r['premises']:,} premises; {r['clients']} clients ({r['processes']} processes) "
             f"for {r['seconds']} s per row; {r['workers']} server workers; mix "
             + ", ".join(f"{k} {int(v * 100)} %" for k, v in r["mix"].items()) + ".\n",
             "| run | kind | requests | failed | per s | p50 / p95 / p99 ms | server PSS MB "
             "(app + backends) | load avg before, after |",
             "|---|---|---:|---:|---:|---|---|---|"]
    for kind, k in r.get("one_client", {}).items():
        lines.append(f"| one client, each URL once | {kind} | | | | {k['p50_ms']} / "
                     f"{k['p95_ms']} / | | |")
    for name in ("mixed", "tiles_only", "tipg_tiles_only", "with_writes"):
        m = r.get(name)
        if not m:
            continue
        mem = (f"{m['server_pss_peak_mb']} ({m['app_pss_peak_mb']} + "
               f"{m['backends_pss_peak_mb']}, {m['backends']} backends)")
        la = f"{' '.join(m['loadavg_before'])}; {' '.join(m['loadavg_after'])}"
        lines.append(f"| {name} | all | {m['requests']:,} | {m['failed']} | {m['per_s']} | | "
                     f"{mem} | {la} |")
        for kind, k in m["kinds"].items():
            lines.append(f"| | {kind} | {k['requests']:,} | {k['failed']} | {k['per_s']} | "
                         f"{k['p50_ms']} / {k['p95_ms']} / {k['p99_ms']} | | |")
    if "tipg_tiles_only" in r:
        ratio = r["tiles_only"]["per_s"] / max(r["tipg_tiles_only"]["per_s"], 0.1)
        lines.append(f"\nTiles alone: ours / tipg = {ratio:.2f}x the throughput.")
    s = r["snapshots"]
    lines.append(
        "\nWhile release 2026-07 loaded and classified ("
        + ", ".join(f"{w['step']} {w['seconds']} s (exit {w['exit']})" for w in r["writer"])
        + f"): {r['with_writes']['failed']} failed; answers from the old snapshot "
        f"({s['old_label']}) or the new ({s['new_label']}): "
        + "; ".join(f"{k} {v.get('old', 0):,} old, {v.get('new', 0):,} new"
                    for k, v in s["answers"].items())
        + f"; from neither: {s['neither']} ({s['urls_changed']} of {s['urls']} URLs differ "
        "between the snapshots).")
    return "\n".join(lines)
