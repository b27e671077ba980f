"""Faults (issue 7): loads and classification killed with SIGKILL at random moments, the map and
API under concurrent load while a release loads and classification runs, PostGIS stopped and
started under a running app, and exports to read-only or full locations.

Everything is real: the ``connectivity`` command in subprocesses, gunicorn over loopback HTTP,
PostgreSQL (the shared test server, and a throwaway cluster of its own for the restart). The kill
moments come from ``random.Random(SEED)``; every assertion message carries the seed, and
``GAPMAP_FAULT_SEED=<seed>`` replays a run.
"""

from __future__ import annotations

import collections
import contextlib
import csv
import gzip
import json
import os
import random
import resource
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import mapbox_vector_tile
import psycopg
import pytest

from connectivity.lookup import PREMISES_BUFFER
from connectivity.settings import load_settings

from .conftest import copy_of, free_port, gunicorn

BIN = Path(sys.executable).parent / "connectivity"
SEED = int(os.environ.get("GAPMAP_FAULT_SEED") or random.SystemRandom().randrange(1, 1_000_000))
SEEDED = f"seed {SEED}; replay with GAPMAP_FAULT_SEED={SEED}"
DEMO_RELEASES = ("2026-01", "2026-07")
LAS = ("W06000008", "W06000024")  # Ceredigion, Merthyr Tydfil: where the demo premises are


# -- helpers ---------------------------------------------------------------------------------
def _settings(url: str):
    return load_settings({"database_url": url}, environ={})


def cli(url: str, *args: str, cwd: Path, timeout: float = 120,
        **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([BIN, "--database-url", url, *args], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout, **kwargs)


def snapshot(conn: psycopg.Connection) -> dict:
    """Everything in schema gapmap: the relations (tables, views, indexes, sequences) by name, and
    for each table its row count and a checksum of its rows, for each view its definition."""
    relations = conn.execute(
        """SELECT c.relname, c.relkind::text FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = 'gapmap' AND c.relkind IN ('r', 'p', 'v', 'm', 'i', 'S')
           ORDER BY 1""").fetchall()
    shot: dict = {"relations": relations}
    for name, kind in relations:
        if kind in ("r", "p"):
            shot[name] = conn.execute(
                f'SELECT count(*), coalesce(sum(hashtextextended(t::text, 0)::numeric), 0) '
                f'FROM gapmap."{name}" t').fetchone()
        elif kind == "v":
            shot[name] = conn.execute("SELECT pg_get_viewdef(%s::regclass)",
                                      (f'gapmap."{name}"',)).fetchone()
    return shot


def differences(before: dict, after: dict) -> list[str]:
    return [f"{key}: {before.get(key)} -> {after.get(key)}"
            for key in sorted(set(before) | set(after)) if before.get(key) != after.get(key)]


def _backend(conn, dbname: str, app: str) -> str | None:
    """What the client ``app`` runs in database ``dbname`` once it has a transaction open."""
    row = conn.execute(
        """SELECT coalesce(query, '') FROM pg_stat_activity
           WHERE datname = %s AND application_name = %s AND backend_type = 'client backend'
             AND xact_start IS NOT NULL AND pid <> pg_backend_pid()""", (dbname, app)).fetchone()
    return row[0] if row else None


def _wait_gone(conn, dbname: str, app: str, timeout: float = 60) -> None:
    """The server rolls a dead client's transaction back when it notices; wait for that."""
    deadline = time.monotonic() + timeout
    while conn.execute(
            """SELECT 1 FROM pg_stat_activity WHERE datname = %s AND application_name = %s
               AND backend_type = 'client backend' AND pid <> pg_backend_pid()""",
            (dbname, app)).fetchone():
        assert time.monotonic() < deadline, f"the backend of a killed {app} is still there"
        time.sleep(0.02)


def _phase(query: str) -> str:
    words = query.split()
    return " ".join(words[:2]).upper() if words else "(between statements)"


def kill_at_random_moment(args: list[str], conn, dbname: str, app: str, delay: float,
                          cwd: Path) -> tuple[str, str]:
    """Start ``connectivity ARGS``, wait until its transaction is open, wait ``delay`` seconds,
    SIGKILL it. Returns ("killed", what the server was running) or ("finished", exit code)."""
    proc = subprocess.Popen([BIN, *args], cwd=cwd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while proc.poll() is None and _backend(conn, dbname, app) is None:
            assert time.monotonic() < deadline, f"{app} never opened a transaction"
            time.sleep(0.005)
        time.sleep(delay)
        if proc.poll() is not None:
            return "finished", str(proc.returncode)
        doing = _phase(_backend(conn, dbname, app) or "")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        return ("killed", doing) if proc.returncode == -signal.SIGKILL else \
            ("finished", str(proc.returncode))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        _wait_gone(conn, dbname, app)


def demo_inputs(release: str, kinds: tuple[str, ...]) -> list[tuple[str, list[Path], dict, dict]]:
    from gapmap.demo import synthetic_inputs

    settings = load_settings({"database_url": "postgresql://unused"}, environ={})
    return [i for i in synthetic_inputs(settings)
            if i[0] in kinds and any(release in str(p) for p in i[1])]


def _load_args(kind: str, paths: list[Path], options: dict, extra: dict) -> list[str]:
    args = ["load", kind, *map(str, paths)]
    for key, value in options.items():
        if value is not None:
            args += [f"--{key.replace('_', '-')}", str(value)]
    if extra.get("release"):
        args += ["--release", extra["release"]]
    return args + (["--synthetic"] if extra.get("synthetic") else [])


# -- 1. SIGKILL at random moments ------------------------------------------------------------
def _big_inputs(folder: Path, data_dir: Path) -> dict[str, Path]:
    """Inputs that take a second or more to load: 300,000 OS Open UPRN rows, 150,000 generic
    premises rows, and Ofcom postcode coverage for release 2026-07 covering every Welsh postcode
    (the demo's files plus a 100 % gigabit row for each postcode they leave out)."""
    uprn = folder / "osopenuprn_big.csv"
    with uprn.open("w") as fh:
        fh.write("UPRN,X_COORDINATE,Y_COORDINATE,LATITUDE,LONGITUDE\n")
        fh.writelines(f"{i},{310000 + i % 500 * 40},{170000 + i // 500 * 25},,\n"
                      for i in range(1, 300_001))
    premises = folder / "premises_big.csv"
    with premises.open("w") as fh:
        fh.write("uprn,easting,northing\n")
        fh.writelines(f"{500_000 + i},{260000 + i % 400 * 50},{200000 + i // 400 * 30}\n"
                      for i in range(1, 150_001))
    coverage = folder / "ofcom_coverage"
    coverage.mkdir()
    covered = set()
    (_, demo_files, _, _), = demo_inputs(DEMO_RELEASES[1], ("ofcom-coverage",))
    for path in sorted(demo_files[0].glob("*.csv")):
        shutil.copy(path, coverage / path.name)
        with path.open(newline="") as fh:
            rows = csv.reader(fh)
            header = next(rows)
            covered.update(row[1] for row in rows)
    postcodes = data_dir / "postcodes/wales_postcodes_codepoint_open_2025_10.csv.gz"
    with gzip.open(postcodes, "rt") as fh:
        every = [row[0] for row in csv.reader(fh)][1:]
    with (coverage / "202607_fixed_pc_coverage_r01_XX.csv").open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(header)
        out.writerows([pc.replace(" ", ""), pc, pc.split()[0].rstrip("0123456789"),
                       0, 100, 0, 0, 0, 0, 100, 100, 100, 0, 0, 0, 0, 100, 0, 100, 0]
                      for pc in every if pc not in covered)
    return {"uprn": uprn, "premises": premises, "ofcom-coverage": coverage}


def _release_rows(table: str, source: str, label: str) -> str:
    return (f"SELECT count(*) FROM gapmap.{table} e JOIN gapmap.release r ON r.id = e.release_id "
            f"WHERE r.source = '{source}' AND r.label = '{label}'")


def kill_until(landed: int, command, conn, dbname: str, app: str, rng: random.Random,
               seconds: float, committed, cwd: Path) -> list[tuple[float, str]]:
    """Kill ``connectivity command(attempt)`` at moments drawn from ``rng`` (0 to ``seconds``
    after its transaction opened) until ``landed`` kills landed, each leaving the database
    exactly as it was. A run that wins the race (finished, or killed after its commit) must have
    done all of its work (``committed()``); it becomes the new baseline, and later moments are
    drawn from half the time."""
    kills: list[tuple[float, str]] = []
    before = snapshot(conn)
    for attempt in range(landed + 4):
        delay = rng.uniform(0, seconds)
        outcome, doing = kill_at_random_moment(command(attempt), conn, dbname, app, delay, cwd)
        after = snapshot(conn)
        if outcome == "killed" and after == before:
            kills.append((delay, doing))
            if len(kills) == landed:
                return kills
        elif outcome == "finished" and doing != "0":
            pytest.fail(f"{app} failed by itself with exit code {doing} ({SEEDED})")
        elif committed():
            before, seconds = after, seconds / 2
        else:
            pytest.fail(f"{app} {outcome} {delay:.3f} s after its transaction opened "
                        f"({doing}) and changed the database without completing ({SEEDED}): "
                        f"{differences(before, after)}")
    pytest.fail(f"{app}: the runs kept finishing before the kill ({SEEDED})")


@pytest.mark.slow
def test_loads_killed_at_random_moments_leave_the_database_as_it_was(server, base_db, tmp_path):
    """Seven kinds of load killed with SIGKILL at random moments after their transaction opened,
    twice each for the long ones and once for the short (12 kills): every time, every table (rows
    and checksums), view, index, load run and reject is exactly as before. Then each load, run
    again, completes with the expected counts."""
    name, url = copy_of(server, base_db)
    settings = _settings(url)
    rng = random.Random(SEED)
    big = _big_inputs(tmp_path, settings.data_dir)
    (_, bduk, _, _), = demo_inputs(DEMO_RELEASES[1], ("bduk",))
    (_, raster, _, _), = demo_inputs(DEMO_RELEASES[1], ("speed-raster",))
    data = settings.data_dir
    released = "--release", DEMO_RELEASES[1]
    # kind, arguments, kills, seconds its transaction lasts (about), expected (read, loaded,
    # rejected), and a query with the count it must give once loaded
    loads = [
        ("boundaries", [str(data / "boundaries/wales_lsoa_2011.geojson.gz"), "--level", "lsoa"],
         2, 1.0, (1909, 1909, 0), "SELECT count(*) FROM gapmap.area WHERE level = 'lsoa'", 1909),
        ("postcodes", [str(data / "postcodes/wales_postcodes_codepoint_open_2025_10.csv.gz")],
         2, 2.0, (92_248, 92_247, 1), "SELECT count(*) FROM gapmap.postcode", 92_247),
        ("ofcom-coverage", [str(big["ofcom-coverage"])], 2, 2.0, (92_248, 92_248, 0),
         _release_rows("ev_postcode_coverage", "ofcom-coverage", DEMO_RELEASES[1]), 92_248),
        ("bduk", [*map(str, bduk), "--synthetic"], 1, 1.0, (63_225, 63_225, 0),
         _release_rows("ev_bduk", "bduk", DEMO_RELEASES[1]), 63_225),
        ("speed-raster", [*map(str, raster), *released, "--band", "1", "--synthetic"], 1, 0.5,
         (63_225, 63_225, 0), _release_rows("ev_premises_speed", "speed-raster", DEMO_RELEASES[1]),
         63_225),
        ("uprn", [str(big["uprn"])], 2, 1.5, (300_000, 300_000, 0),
         "SELECT count(*) FROM gapmap.premises", 363_225),
        ("premises", [str(big["premises"])], 2, 2.0, (150_000, 150_000, 0),
         "SELECT count(*) FROM gapmap.premises", 513_225),
    ]
    kills: list[tuple[str, float, str]] = []
    with psycopg.connect(url, autocommit=True, application_name="test_faults") as conn:
        for kind, args, landed, seconds, counts, query, loaded in loads:
            last = "SELECT max(id) FROM gapmap.load_run WHERE kind = %s AND status = 'succeeded'"
            baseline = [conn.execute(last, (kind,)).fetchone()[0]]

            def committed(kind=kind, counts=counts, query=query, loaded=loaded,
                          baseline=baseline) -> bool:
                run = conn.execute(
                    "SELECT id, rows_read, rows_loaded, rows_rejected FROM gapmap.load_run "
                    "WHERE kind = %s AND status = 'succeeded' ORDER BY id DESC LIMIT 1",
                    (kind,)).fetchone()
                if run[0] == baseline[0] or tuple(run[1:]) != counts \
                        or conn.execute(query).fetchone()[0] != loaded:
                    return False
                baseline[0] = run[0]
                return True

            command = ["--database-url", url, "load", kind, *args, "--force"]
            kills += [(kind, delay, doing) for delay, doing in kill_until(
                landed, lambda _, command=command: command, conn, name,
                f"connectivity load {kind}", rng, seconds, committed, tmp_path)]
            done = cli(url, "load", kind, *args, "--force", "--json", cwd=tmp_path)
            assert done.returncode == 0, done.stderr
            result = json.loads(done.stdout)
            assert result["status"] == "succeeded"
            assert (result["rows_read"], result["rows_loaded"], result["rows_rejected"]) == counts
            assert conn.execute(query).fetchone()[0] == loaded
        # SIGKILL leaves no trace, not even a failed run
        assert conn.execute("SELECT count(*) FROM gapmap.load_run WHERE status = 'failed'"
                            ).fetchone()[0] == 0
    server.drop(name)
    print(f"killed {len(kills)} loads ({SEEDED}):",
          ", ".join(f"{k} at {d:.2f} s during {w}" for k, d, w in kills))
    assert len(kills) == 12


def test_classification_killed_at_random_moments_keeps_the_previous_run_current(server, base_db,
                                                                                tmp_path):
    """`connectivity classify` killed mid-run: the views premises_class and area_stats still show
    the previous run (2026-01), nothing else changed; run again, it completes and 2026-07 is
    current."""
    from etl import LOADERS, run_load

    name, url = copy_of(server, base_db)
    settings = _settings(url)
    for kind, paths, options, extra in demo_inputs(DEMO_RELEASES[1], ("bduk", "ofcom-coverage")):
        run_load(settings, LOADERS[kind](), paths, options=options, **extra)
    rng = random.Random(SEED + 1)

    def shown(conn) -> tuple:
        """What the current views show: the run, and the rows of both views (count, checksum)."""
        return (conn.execute("SELECT label FROM gapmap.classification_run WHERE is_current")
                .fetchone(),
                conn.execute("SELECT count(*), sum(hashtextextended(t::text, 0)::numeric) "
                             "FROM gapmap.premises_class t").fetchone(),
                conn.execute("SELECT count(*), sum(hashtextextended(t::text, 0)::numeric) "
                             "FROM gapmap.area_stats t").fetchone())

    with psycopg.connect(url, autocommit=True, application_name="test_faults") as conn:
        views = shown(conn)
        assert views[0] == (DEMO_RELEASES[0],) and views[1][0] == 63_225
        current = [views[0]]

        def committed() -> bool:  # a run that finished first is a whole run, and current
            label, premises, _ = shown(conn)
            if label == current[0] or not label[0].startswith("race-") or premises[0] != 63_225:
                return False
            current[0] = label
            return True

        kills = kill_until(2, lambda attempt: ["--database-url", url, "classify", "--label",
                                               f"race-{attempt}"],
                           conn, name, "connectivity", rng, 1.2, committed, tmp_path)
        if current[0] == views[0]:  # no run won the race: the views show what they did before
            assert shown(conn) == views
        done = cli(url, "classify", "--json", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        result = json.loads(done.stdout)
        assert (result["label"], result["premises"]) == (DEMO_RELEASES[1], 63_225)
        label, premises, stats = shown(conn)
        assert label == (DEMO_RELEASES[1],) and premises[0] == 63_225 and stats != views[2]
        assert conn.execute("SELECT pg_get_viewdef('gapmap.premises_class')").fetchone()[0] \
            .strip().endswith(f"FROM gapmap.premises_class_{result['run_id']};")
    server.drop(name)
    print(f"killed classify {len(kills)} times ({SEEDED}):",
          ", ".join(f"at {d:.2f} s during {w}" for d, w in kills))

# -- serving over HTTP -----------------------------------------------------------------------
def http_get(url: str, timeout: float = 30, lang: str = "en") -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, headers={"Accept-Language": lang})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def _tiles_with_premises(conn, z: int, limit: int, table: str = "gapmap.premises") -> list[tuple]:
    """The ``limit`` tiles of zoom ``z`` holding most premises, as (z, x, y)."""
    size = 40075016.685578488 / 2 ** z
    return [(z, x, y) for x, y in conn.execute(
        f"""SELECT floor((ST_X(g) + 20037508.342789244) / %(s)s)::int AS x,
                   floor((20037508.342789244 - ST_Y(g)) / %(s)s)::int AS y
            FROM (SELECT ST_Transform(geom, 3857) AS g FROM {table}) p
            GROUP BY 1, 2 ORDER BY count(*) DESC, 1, 2 LIMIT %(n)s""",
        {"s": size, "n": limit}).fetchall()]


def _tile_statuses(body: bytes) -> collections.Counter:
    """Premises per status in a tile; every feature must carry a status."""
    layers = mapbox_vector_tile.decode(body)
    features = layers["premises"]["features"] if layers else []
    assert all(f["properties"].get("status") for f in features), "a feature without status"
    return collections.Counter(f["properties"]["status"] for f in features)


# -- 2. concurrent requests while a release loads and classification runs ---------------------
def _expected(conn, run_id: int, tiles: list[tuple], postcodes: list[str]) -> dict[str, object]:
    """What each URL must show when run ``run_id`` is current, from its own tables."""
    label = conn.execute("SELECT label FROM gapmap.classification_run WHERE id = %s",
                         (run_id,)).fetchone()[0]
    want: dict[str, object] = {}
    for z, x, y in tiles:
        # a premises tile has one feature per premises that ST_AsMVTGeom keeps (inside the tile
        # or its PREMISES_BUFFER/4096 buffer, after rounding to the tile grid), looked for well
        # beyond it
        rows = conn.execute(
            f"""WITH b AS (SELECT ST_TileEnvelope(%(z)s, %(x)s, %(y)s) AS env)
                SELECT c.status, count(*) FROM b, gapmap.premises p
                JOIN gapmap.premises_class_{run_id} c USING (uprn)
                WHERE ST_Intersects(ST_Transform(p.geom, 3857), ST_Expand(b.env,
                          (ST_XMax(b.env) - ST_XMin(b.env)) * %(look)s / 4096))
                  AND ST_AsMVTGeom(ST_Transform(p.geom, 3857), b.env, 4096, %(buffer)s, true)
                      IS NOT NULL
                GROUP BY 1""", {"z": z, "x": x, "y": y, "buffer": PREMISES_BUFFER,
                                "look": 4 * PREMISES_BUFFER}).fetchall()
        want[f"/tiles/premises/{z}/{x}/{y}.pbf"] = tuple(sorted(rows))
    for postcode in postcodes:
        rows = conn.execute(
            f"""SELECT uprn, status FROM gapmap.premises_class_{run_id} WHERE postcode = %s
                ORDER BY uprn""", (postcode,)).fetchall()
        want[f"/api/v1/postcodes/{postcode.replace(' ', '')}"] = (label, tuple(rows))
    stats = dict(((code, (premises, expected)) for code, premises, expected in conn.execute(
        f"""SELECT code, premises, expected_below_30 FROM gapmap.area_stats_{run_id}
            WHERE level = 'la'""").fetchall()))
    codes = [c for (c,) in conn.execute(
        "SELECT code FROM gapmap.area WHERE level = 'la' ORDER BY 1")]
    want["/api/v1/areas?level=la"] = tuple((c, *stats.get(c, (0, None))) for c in codes)
    for code in LAS:
        want[f"/api/v1/areas/{code}"] = stats[code]
    return want


def _observe(path: str, body: bytes) -> object:
    """What a response shows, in the shape of :func:`_expected`."""
    if path.startswith("/tiles/"):
        return tuple(sorted(_tile_statuses(body).items()))
    data = json.loads(body)
    if path.startswith("/api/v1/postcodes/"):
        return data["classification"], tuple((p["uprn"], p["status"]) for p in data["premises"])
    if path.startswith("/api/v1/areas?"):
        return tuple((a["code"], a["premises"], a["expected_below_30"]) for a in data["areas"])
    return data["premises"], data["expected_below_30"]


PAGES = {"/en/": "Broadband gap map for Wales", "/cy/": "lang=\"cy\"",
         "/en/areas": ">63,225<", "/cy/areas": ">63,225<"}


@pytest.mark.slow
def test_concurrent_requests_while_a_release_loads_and_classification_runs(server, base_db,
                                                                           tmp_path):
    """8 client threads over loopback HTTP against gunicorn while the premises are reloaded
    (the table is swapped), release 2026-07 loads and classification runs: no request fails,
    and every tile, postcode and statistic is wholly the 2026-01 run's or wholly the 2026-07
    run's, never a mixture or a half-built one."""
    name, url = copy_of(server, base_db)
    rng = random.Random(SEED)
    with psycopg.connect(url, autocommit=True) as conn:
        (run_a,) = conn.execute(
            "SELECT id FROM gapmap.classification_run WHERE is_current").fetchone()
        tiles = [t for z in (14, 15) for t in rng.sample(_tiles_with_premises(conn, z, 60), 6)]
        postcodes = rng.sample([pc for (pc,) in conn.execute(
            """SELECT postcode FROM gapmap.premises_class GROUP BY 1 HAVING count(*) >= 5
               ORDER BY 1""")], 6)
        want_a = _expected(conn, run_a, tiles, postcodes)
    assert sum(n for _, n, _ in want_a["/api/v1/areas?level=la"]) == 63_225
    paths = list(want_a) + list(PAGES) + ["/api/v1/health"]

    writer_steps = [
        ["load", "uprn", "--force", "--synthetic", str(demo_inputs("", ("uprn",))[0][1][0])],
        *(_load_args(*i) for i in demo_inputs(DEMO_RELEASES[1], (
            "bduk", "ofcom-coverage"))),
        ["classify"],
    ]
    lock = threading.Lock()
    bodies: dict[str, set[bytes]] = collections.defaultdict(set)
    failures: list[str] = []
    served = collections.Counter()
    stop = threading.Event()

    def client(number: int, base: str) -> None:
        pick = random.Random(SEED * 100 + number)
        while not stop.is_set() and sum(served.values()) < 20_000:
            path = pick.choice(paths)
            try:
                status, _, body = http_get(base + path, timeout=30,
                                           lang="cy" if path.startswith("/cy/") else "en")
            except Exception as exc:  # connection refused, reset, timeout: all failures
                with lock:
                    failures.append(f"{path}: {type(exc).__name__}: {exc}")
                continue
            if status != 200:
                with lock:
                    failures.append(f"{path}: HTTP {status} {body[:200]!r}")
                continue
            with lock:  # decoded afterwards, once per distinct body: the clients stay light
                served[path] += 1
                bodies[path].add(body)

    with gunicorn(url, tmp_path) as (base, _):
        threads = [threading.Thread(target=client, args=(n, base)) for n in range(8)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        try:
            time.sleep(1)
            steps = []
            for step in writer_steps:
                done = cli(url, *step, cwd=tmp_path)
                steps.append((step[:2], done.returncode, time.monotonic() - started))
                assert done.returncode == 0, (step, done.stderr)
            time.sleep(1)
        finally:
            stop.set()
            for thread in threads:
                thread.join(60)
        seconds = time.monotonic() - started
    with psycopg.connect(url, autocommit=True) as conn:
        run_b, label_b = conn.execute(
            "SELECT id, label FROM gapmap.classification_run WHERE is_current").fetchone()
        want_b = _expected(conn, run_b, tiles, postcodes)
    server.drop(name)

    total = sum(served.values())
    print(f"concurrent: {total} requests served in {seconds:.1f} s by 8 threads, "
          f"{len(failures)} failed; writer steps (exit code, seconds from the start): {steps}")
    assert label_b == DEMO_RELEASES[1] and run_b != run_a
    # the authorities' totals of either run add up to every premises
    for want in (want_a, want_b):
        assert sum(n for _, n, _ in want["/api/v1/areas?level=la"]) == 63_225
    changed = [p for p in want_a if want_a[p] != want_b[p]]
    assert len(changed) >= 10, "the new release should change what most URLs show"
    problems = [f"failed: {failure}" for failure in failures]
    for path, texts in PAGES.items():
        problems += [f"{path} without {texts!r}" for body in bodies[path]
                     if texts not in body.decode()]
    problems += [f"health: {body!r}" for body in bodies["/api/v1/health"]
                 if json.loads(body)["status"] != "ok"]
    seen = {path: {_observe(path, body) for body in bodies[path]} for path in want_a}
    for path in want_a:
        problems += [f"{path} showed something neither run has: {odd}; 2026-01: {want_a[path]}; "
                     f"2026-07: {want_b[path]}"
                     for odd in seen[path] - {want_a[path], want_b[path]}]
    assert problems == [], \
        f"{len(problems)} problems in {total + len(failures)} requests: {problems[:10]}"
    # both states were served while the writer ran: the switch happened under load
    assert any(want_a[p] in seen[p] and want_b[p] in seen[p] for p in changed), SEEDED


# -- 3. PostGIS stopped and started under the running app -------------------------------------
ERROR_503 = {"error": {"status": 503, "code": "database_unavailable",
                       "message": "the database is unavailable; try again shortly"}}


def test_postgis_restart_gives_503_then_the_app_recovers_by_itself(tmp_path):
    """A throwaway cluster of its own (never the shared one): stopped under a running app,
    requests get a prompt 503 in the one error shape (pages: a readable page); started again,
    the same app processes answer 200 by themselves, tiles included."""
    from connectivity.classify import classify
    from connectivity.db import connect, migrate
    from connectivity.db.cluster import LocalCluster
    from connectivity.rules import load_rules
    from etl import LOADERS, run_load

    port = free_port()
    settings = load_settings({"local_port": port, "cache_dir": str(tmp_path / "cache")}, environ={})
    assert settings.uses_local_cluster and settings.local_port != 54329
    cluster = LocalCluster.from_settings(settings)  # as root: in /var/tmp, named for tmp_path
    try:
        cluster.up()
        with connect(settings, autocommit=True) as conn:
            migrate(conn)
        premises = tmp_path / "premises.csv"
        demo_uprn = demo_inputs("", ("uprn",))[0][1][0]
        with demo_uprn.open(encoding="utf-8-sig") as src, premises.open("w") as dst:
            for _, line in zip(range(3001), src, strict=False):
                dst.write(line)
        run_load(settings, LOADERS["boundaries"](),
                 [settings.data_dir / "boundaries/wales_lad_2025_05_bgc.geojson.gz"],
                 options={"level": "la"})
        run_load(settings, LOADERS["uprn"](), [premises])
        with connect(settings, autocommit=True) as conn:
            classify(conn, load_rules(settings.rules_file))
            (tile,) = _tiles_with_premises(conn, 14, 1)
        urls = {
            "api": "/api/v1/areas?level=la", "area": f"/api/v1/areas/{LAS[0]}",
            "tile": "/tiles/premises/{}/{}/{}.pbf".format(*tile),
            "map_en": "/en/", "areas_cy": "/cy/areas",
        }
        with gunicorn(settings.conninfo, tmp_path) as (base, log_path):
            def round_of_requests(times: int = 2) -> list[tuple[str, int, dict, bytes, float]]:
                def one(name):
                    started = time.monotonic()
                    status, headers, body = http_get(base + urls[name], timeout=20,
                                                     lang="cy" if name.endswith("cy") else "en")
                    return name, status, headers, body, time.monotonic() - started
                names = [n for n in urls for _ in range(times)]
                with ThreadPoolExecutor(len(names)) as threads:
                    return list(threads.map(one, names))

            for path in urls.values():  # one at a time first: each worker fills its map cache
                assert http_get(base + path)[0] == 200, path
            ok = round_of_requests(4)  # every worker has pooled connections
            assert [(n, s) for n, s, *_ in ok] == [(n, 200) for n, *_ in ok]
            tile_before = _tile_statuses(next(b for n, _, _, b, _ in ok if n == "tile"))
            assert sum(tile_before.values()) > 100

            stopped_at = time.monotonic()
            cluster.stop()  # pg_ctl stop -m fast
            down = round_of_requests()  # pooled connections are broken now
            time.sleep(1)
            down += round_of_requests()  # the pool is empty, new connections are refused
            slowest_503 = max(t for *_, t in down)
            for name, status, headers, body, took in down:
                assert status == 503, (name, status, body[:300])
                assert took < 5, f"{name} took {took:.1f} s to answer while the database was down"
                assert (headers["Retry-After"], headers["Cache-Control"]) == ("5", "no-store")
                if name in ("api", "area", "tile"):
                    assert json.loads(body) == ERROR_503, body
                    assert headers["Content-Type"] == "application/json"
                else:
                    page = body.decode()
                    assert headers["Content-Type"].startswith("text/html")
                    assert "Traceback" not in page and "psycopg" not in page
                    if name.endswith("cy"):
                        assert "<h1>Nid yw&#39;r map ar gael dros dro</h1>" in page, page
                        assert "Nid yw&#39;r gronfa ddata yn ateb." in page
                    else:
                        assert "<h1>The map is temporarily unavailable</h1>" in page, page
                        assert "The database is not answering." in page
            downtime = time.monotonic() - stopped_at

            cluster.start()
            started_at = time.monotonic()
            while True:  # the same gunicorn processes, nothing restarted
                statuses = [(n, s) for n, s, *_ in round_of_requests()]
                if all(s == 200 for _, s in statuses):
                    break
                assert {s for _, s in statuses} <= {200, 503}, statuses
                assert time.monotonic() - started_at < 15, f"no recovery: {statuses}"
                time.sleep(0.2)
            recovery = time.monotonic() - started_at
            after = round_of_requests(4)
            assert [(n, s) for n, s, *_ in after] == [(n, 200) for n, *_ in after]
            assert _tile_statuses(next(b for n, _, _, b, _ in after if n == "tile")) == tile_before
            boots = log_path.read_text().count("Booting worker")
        print(f"PostGIS restart: {len(down)} requests during {downtime:.1f} s down, all 503, "
              f"slowest {slowest_503:.2f} s; recovered {recovery:.2f} s after the start; "
              f"workers booted {boots}")
        assert boots == 2, "a gunicorn worker was restarted"
    finally:
        cluster.destroy()


# -- 4. exports to read-only or full locations ---------------------------------------------
def _no_traceback(stderr: str) -> None:
    assert "Traceback" not in stderr and "internal error" not in stderr, stderr


def _limit_file_size(limit: int):
    def set_limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return set_limit


@contextlib.contextmanager
def tiny_tmpfs(folder: Path, size: str, read_only: bool = False):
    folder.mkdir()
    options = f"size={size},mode=0777" + (",ro" if read_only else "")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "gapmap-test", str(folder)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


FULL = ("no space left on the device (the disk is full)",
        "free some space, or write somewhere else with -o")
TOO_BIG = ("the file is larger than this process may write (file size limit, ulimit -f)",
           "raise the limit, or export less with --area, --status or --scheme")


def test_exports_to_full_or_read_only_locations_fail_cleanly(server, base_db, tmp_path):
    """`connectivity export` to a read-only place, past a file size limit or onto a full device:
    exit 1 with one line naming the path and the cause (and a hint), no traceback, and no file,
    partial or temporary, left anywhere. Written files get the usual permissions; a device or
    pipe is written in place, never replaced."""
    url = server.url(base_db)
    scratch = tmp_path / "tmp"  # the exporter's TMPDIR: writes to devices go through it
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch)}
    out = tmp_path / "out"
    out.mkdir()

    def refused(fmt: str, path: Path, cause: str, hint: str, *args: str, **kwargs) -> None:
        done = cli(url, "export", "--format", fmt, "-o", str(path), *args, cwd=tmp_path, env=env,
                   **kwargs)
        assert (done.returncode, done.stdout) == (1, ""), done.stderr
        _no_traceback(done.stderr)
        assert done.stderr == f"error: cannot write {path}: {cause}\n  hint: {hint}\n"
        assert list(out.iterdir()) == [] and list(scratch.iterdir()) == []

    for fmt in ("csv", "gpkg", "geojson"):
        # read-only for root too: sysfs refuses new files
        refused(fmt, Path(f"/sys/gapmap-export.{fmt}"),
                "the folder /sys is not writable (permission denied)",
                "write to a folder you may write to, with -o")
        # a file size limit (works for any user): the write fails with EFBIG part way through
        refused(fmt, out / f"premises.{fmt}", *TOO_BIG, "--status", "below",
                preexec_fn=_limit_file_size(256 * 1024))
        if fmt != "geojson":  # a device is written through a temporary file, whatever the format
            # a full disk: /dev/full fails every write with ENOSPC; it must stay the device it is
            refused(fmt, Path("/dev/full"), *FULL, "--status", "below")
            assert stat.S_ISCHR(os.stat("/dev/full").st_mode)

    # what is written has the usual permissions (rw-r--r-- under umask 022), not mkstemp's rw-------
    for fmt in ("csv", "gpkg"):
        done = cli(url, "export", "--format", fmt, "-o", str(out / f"below.{fmt}"), "--status",
                   "below", cwd=tmp_path, env=env, preexec_fn=lambda: os.umask(0o022))
        assert done.returncode == 0, done.stderr
        assert stat.S_IMODE(os.stat(out / f"below.{fmt}").st_mode) == 0o644, fmt
    assert sorted(p.name for p in out.iterdir()) == [
        "below.csv", "below.csv-metadata.json", "below.gpkg"]
    assert stat.S_IMODE(os.stat(out / "below.csv-metadata.json").st_mode) == 0o644
    assert list(scratch.iterdir()) == []

    # a device or pipe is written in place, not renamed over: a named pipe stays a pipe
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    received = []
    reader = threading.Thread(target=lambda: received.append(pipe.read_bytes()), daemon=True)
    reader.start()
    try:
        done = cli(url, "export", "--format", "csv", "-o", str(pipe), "--area", "W06000024",
                   "--status", "below", "--json", cwd=tmp_path, env=env)
        reader.join(30)
    finally:
        if reader.is_alive():  # the export never opened the pipe: let the reader go
            pipe.open("wb").close()
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)["rows"]
    assert stat.S_ISFIFO(os.stat(pipe).st_mode) and list(scratch.iterdir()) == []
    lines = received[0].decode("utf-8-sig").splitlines()
    assert len(lines) == rows + 1 and lines[0].startswith("uprn,postcode,status,") and rows > 0


def test_exports_to_a_full_or_read_only_file_system_fail_cleanly(server, base_db, tmp_path):
    """The same on real file systems: a 256 KiB tmpfs (ENOSPC part way through) and a read-only
    one (EROFS). Mounting needs root (CI runs as root); elsewhere this one is skipped."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    url = server.url(base_db)
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    with tiny_tmpfs(tmp_path / "small", "256k") as small:
        for fmt in ("csv", "gpkg", "geojson"):
            done = cli(url, "export", "--format", fmt, "-o", str(small / f"premises.{fmt}"),
                       "--status", "below", cwd=tmp_path, env=env)
            assert done.returncode == 1 and done.stderr == (
                f"error: cannot write {small}/premises.{fmt}: {FULL[0]}\n  hint: {FULL[1]}\n")
            assert list(small.iterdir()) == []
    with tiny_tmpfs(tmp_path / "ro", "256k", read_only=True) as ro:
        done = cli(url, "export", "--format", "csv", "-o", str(ro / "premises.csv"), cwd=tmp_path)
        assert done.returncode == 1 and done.stderr == (
            f"error: cannot write {ro}/premises.csv: the folder {ro} is not writable "
            "(the file system is read-only)\n  hint: write somewhere else with -o\n")
