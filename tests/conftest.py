"""Fixtures: a real PostGIS, one migrated template database per session, a fresh copy per test.

The server is the one the settings point at: ``DATABASE_URL`` / ``PG*`` if set, else the
project-local cluster (``scripts/test.sh`` starts it with ``connectivity db up``). The role needs
CREATEDB. Databases made here are named ``gapmap_test_<pid>_...`` and dropped afterwards.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from connectivity.db import migrate
from connectivity.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
_counter = itertools.count()
#: the secret key of the apps the tests build (never a real deployment's)
TEST_SECRET = "test-only-secret-key-0123456789abcdef"


def _url(base: str, dbname: str) -> str:
    params = conninfo_to_dict(base)
    user = quote(params.get("user") or os.environ.get("PGUSER") or "postgres")
    password = params.get("password") or os.environ.get("PGPASSWORD")
    auth = f"{user}:{quote(password)}@" if password else f"{user}@"
    host = params.get("host") or os.environ.get("PGHOST") or "127.0.0.1"
    port = params.get("port") or os.environ.get("PGPORT") or "5432"
    return f"postgresql://{auth}{host}:{port}/{dbname}"


class Server:
    """Creates and drops databases on the test server."""

    def __init__(self):
        self.base = load_settings().conninfo
        self.admin_url = _url(self.base, "postgres")
        try:
            self.admin = psycopg.connect(self.admin_url, autocommit=True, connect_timeout=5)
        except psycopg.OperationalError as exc:
            pytest.exit(
                f"no PostgreSQL for the tests at {self.admin_url}: {exc}\n"
                "run the tests with scripts/test.sh (it starts the local PostGIS), "
                "or set DATABASE_URL to a server where you may create databases",
                returncode=3,
            )
        self.prefix = f"gapmap_test_{os.getpid()}"
        self.created: list[str] = []

    def create(self, template: str | None = None) -> str:
        name = f"{self.prefix}_{next(_counter)}"
        self.admin.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        self.created.append(name)
        return name

    def drop(self, name: str) -> None:
        self.admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if name in self.created:
            self.created.remove(name)

    def url(self, name: str) -> str:
        return _url(self.base, name)

    def close(self) -> None:
        for name in list(reversed(self.created)):
            self.drop(name)
        self.admin.close()


@pytest.fixture(scope="session")
def server():
    srv = Server()
    yield srv
    srv.close()


@pytest.fixture(scope="session")
def template_db(server) -> str:
    """An empty database migrated to the latest schema; copied for each test."""
    name = server.create()
    with psycopg.connect(server.url(name), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        migrate(conn)
    return name


@pytest.fixture()
def settings(server, template_db, tmp_path, monkeypatch):
    """Settings for a fresh, migrated, empty database of this test's own."""
    name = server.create(template=template_db)
    monkeypatch.chdir(tmp_path)  # no stray connectivity.toml
    yield load_settings({"database_url": server.url(name)}, environ={})
    server.drop(name)


@pytest.fixture()
def empty_settings(server, tmp_path, monkeypatch):
    """Settings for a fresh database with nothing in it (not even PostGIS)."""
    name = server.create()
    monkeypatch.chdir(tmp_path)
    yield load_settings({"database_url": server.url(name)}, environ={})
    server.drop(name)


@pytest.fixture()
def db(settings):
    with psycopg.connect(settings.conninfo, autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="session")
def loaded_settings(server, template_db):
    """A database loaded and classified as `connectivity demo` does it: the bundled real Welsh
    data, the synthetic small-scale premises and two releases, one classification per release
    (once per session; read-only)."""
    from etl import LOADERS, run_load
    from gapmap.demo import bundled_inputs, demo_classify, synthetic_inputs

    name = server.create(template=template_db)
    settings = load_settings({"database_url": server.url(name)}, environ={})
    for kind, paths, options, extra in bundled_inputs(settings) + synthetic_inputs(settings):
        run_load(settings, LOADERS[kind](), paths, options=options, **extra)
    demo_classify(settings)
    return settings


@pytest.fixture(scope="session")
def app(loaded_settings):
    from webmap import create_app

    # the report limits are tested on their own (test_officer_web.py); here they would only
    # count the whole session's forms against one address
    application = create_app(loaded_settings.replace(secret_key=TEST_SECRET,
                                                      report_limit_per_client=10_000,
                                                      report_limit_per_postcode=10_000))
    application.config["TESTING"] = True
    yield application
    application.extensions["gapmap_db"].close()


@pytest.fixture()
def client(app):
    return app.test_client()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def app_for(settings):
    """A test app for ``settings``, its database pools closed afterwards."""
    from webmap import create_app

    app = create_app(settings)
    app.config["TESTING"] = True
    try:
        yield app
    finally:
        app.extensions["gapmap_db"].close()
        app.extensions["gapmap_orm_engine"].dispose()


@contextlib.contextmanager
def serve_in_thread(app):
    """``app`` served over real HTTP on loopback (Werkzeug, threaded); yields its base URL."""
    from werkzeug.serving import make_server

    port = free_port()
    httpd = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        httpd.shutdown()


@pytest.fixture(scope="session")
def live_server(app):
    """The app served over real HTTP on loopback, for the browser tests."""
    with serve_in_thread(app) as base:
        yield base


BIN = Path(sys.executable).parent / "connectivity"


@contextlib.contextmanager
def gunicorn(url: str, folder: Path, workers: int = 2, env: dict | None = None):
    """`connectivity serve` (gunicorn) on a free loopback port; yields (base URL, log path)."""
    port = free_port()
    log_path = folder / f"gunicorn-{port}.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [BIN, "--database-url", url, "serve", "--port", str(port), "--workers", str(workers)],
            cwd=folder, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, "CONNECTIVITY_SECRET_KEY": TEST_SECRET, **(env or {})})
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                assert proc.poll() is None, log_path.read_text()
                with contextlib.suppress(OSError):
                    if urllib.request.urlopen(base + "/api/v1/health", timeout=5).status == 200:
                        break
                assert time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.1)
            yield base, log_path
            assert proc.poll() is None, "gunicorn stopped by itself: " + log_path.read_text()
        finally:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@pytest.fixture(scope="session")
def base_db(server, template_db):
    """The demo data as `connectivity demo` loads it (authorities, postcodes, the synthetic
    premises) with only the first release, 2026-01, loaded and classified, once per session.
    Tests copy it (copy_of) and never write to it; a template takes no other connection while
    it is copied, so close any you open to it."""
    from connectivity.classify import classify
    from connectivity.db import connect
    from connectivity.rules import load_rules
    from etl import LOADERS, run_load
    from gapmap.demo import bundled_inputs, synthetic_inputs

    name = server.create(template=template_db)
    settings = load_settings({"database_url": server.url(name)}, environ={})
    for kind, paths, options, extra in bundled_inputs(settings) + synthetic_inputs(settings):
        if kind == "wimd" or (kind == "boundaries" and options["level"] != "la") \
                or any("2026-07" in str(p) for p in paths):
            continue
        run_load(settings, LOADERS[kind](), paths, options=options, **extra)
    with connect(settings, autocommit=True) as conn:
        classify(conn, load_rules(settings.rules_file), up_to="2026-01")
    yield name
    server.drop(name)


def copy_of(server, name: str) -> tuple[str, str]:
    """A writable copy of database ``name``: (its name, its URL)."""
    copy = server.create(template=name)
    return copy, server.url(copy)


# -- a real browser: Debian's Chromium driven by Playwright, axe-core for accessibility ---------

CHROMIUM = "/usr/bin/chromium"
AXE = ROOT / "node_modules/axe-core/axe.min.js"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
#: the axe-core rules every page is checked against
AXE_TAGS = ("{runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', "
            "'wcag22aa', 'best-practice']}}")


# Module scope: every browser test takes this fixture now (none starts Playwright of its own), so
# it could be session-scoped; it is kept per module so that no Chromium stays open through the
# modules that use none, at the cost of a launch (about a second) per browser module.
@pytest.fixture(scope="module")
def browser():
    """Chromium, one per test module."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield instance
        instance.close()


def watch_csp(pg) -> list[str]:
    """Every Content-Security-Policy violation the page reports, on any document it loads."""
    seen: list[str] = []
    pg.on("console", lambda m: seen.append(m.text) if "Content Security Policy" in m.text else None)
    return seen


def open_page(browser, base: str, *, lang: str = "en", javascript: bool = True,
              viewport: tuple[int, int] = (1280, 900), request_failures: bool = True,
              expected_abort=None):
    """A page in a context of its own that refuses, and records in ``page.external``, every
    request not to ``base`` (the service must work offline). It records too: ``page.failed``,
    the answers of status 400 or more (and, with ``request_failures``, the requests that failed,
    except those ``expected_abort(request)`` calls expected: they go to ``page.aborted``);
    ``page.errors``, the script errors and console errors (a 404 or 400 page logs "Failed to
    load resource": not counted); ``page.csp``, the CSP violations (watch_csp). Close it with
    ``page.context.close()``."""
    context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]},
                                  locale="cy-GB" if lang == "cy" else "en-GB",
                                  java_script_enabled=javascript)
    pg = context.new_page()
    pg.failed, pg.external, pg.aborted, pg.errors = [], [], [], []

    def failed(request):
        if expected_abort is not None and expected_abort(request):
            pg.aborted.append(request.url)
        else:
            pg.failed.append(request.url)

    if request_failures:
        pg.on("requestfailed", failed)
    pg.on("response", lambda r: pg.failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    pg.on("pageerror", lambda exc: pg.errors.append(str(exc)))
    pg.on("console", lambda m: pg.errors.append(m.text) if m.type == "error"
          and not m.text.startswith("Failed to load resource: the server responded") else None)

    def offline(route):
        pg.external.append(route.request.url)
        route.abort()

    pg.route(lambda url: not url.startswith(base), offline)
    pg.csp = watch_csp(pg)
    return pg


@pytest.fixture()
def page(browser, live_server):
    """A page of the session's app (open_page), with no CSP violation by the end of the test."""
    pg = open_page(browser, live_server)
    yield pg
    pg.context.close()
    assert pg.csp == [], "Content-Security-Policy violations"


@functools.cache
def _axe_source() -> str:
    return AXE.read_text()


def axe_run(page) -> dict:
    """axe-core's results for the page as it is (AXE_TAGS). The script goes in through DevTools:
    the pages' CSP allows no inline script."""
    page.evaluate(_axe_source())
    return page.evaluate(f"async () => await axe.run(document, {AXE_TAGS})")


def axe_serious(page) -> list:
    """The serious and critical axe violations: (rule, the first three nodes' targets)."""
    return [(v["id"], [n["target"] for n in v["nodes"]][:3]) for v in axe_run(page)["violations"]
            if v["impact"] in ("serious", "critical")]
