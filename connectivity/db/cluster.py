"""A project-local PostgreSQL + PostGIS cluster for development, the demo and the tests.

The cluster lives in ``<cache_dir>/pg`` (``data/`` is PGDATA, ``run/`` the socket folder,
``postgres.log`` the server log), listens on 127.0.0.1 only, and trusts local connections: it is a
development database, never a production one. PostgreSQL refuses to run as root, so when this runs
as root the server runs as the ``postgres`` system user (``runuser``), and if that user cannot reach
the cache folder (a checkout under /root, say) the cluster moves to ``/var/tmp``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import psycopg

from ..errors import ClusterError
from ..settings import Settings

SYSTEM_USER = "postgres"


def _postgres_bindirs() -> list[Path]:
    """Installed server binaries, newest major version first, those with PostGIS before others."""
    found = []
    for bindir in Path("/usr/lib/postgresql").glob("*/bin"):
        if (bindir / "pg_ctl").exists() and bindir.parent.name.isdigit():
            found.append(bindir)
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=True)
            candidate = Path(out.stdout.strip())
            if (candidate / "pg_ctl").exists() and candidate not in found:
                found.append(candidate)
        except (subprocess.CalledProcessError, OSError):
            pass

    def key(bindir: Path) -> tuple[bool, int]:
        major = bindir.parent.name
        has_postgis = Path(f"/usr/share/postgresql/{major}/extension/postgis.control").exists()
        return (has_postgis, int(major) if major.isdigit() else 0)

    return sorted(found, key=key, reverse=True)


@dataclasses.dataclass
class LocalCluster:
    root: Path
    port: int
    dbname: str
    bindir: Path | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> LocalCluster:
        root = settings.cache_dir / "pg"
        if _running_as_root() and not _reachable_by_system_user(root):
            digest = hashlib.sha1(str(root.resolve()).encode()).hexdigest()[:10]
            root = Path("/var/tmp") / f"wales-gapmap-pg-{digest}"
        return cls(root=root, port=settings.local_port, dbname=settings.local_dbname)

    # -- paths ---------------------------------------------------------------------------------
    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root / "run"

    @property
    def log_file(self) -> Path:
        return self.root / "postgres.log"

    @property
    def initialised(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def _bin(self, name: str) -> str:
        if self.bindir is None:
            bindirs = _postgres_bindirs()
            if not bindirs:
                raise ClusterError(
                    "no PostgreSQL server binaries found (looked in /usr/lib/postgresql/*/bin)",
                    "install them: apt-get install postgresql-15 postgresql-15-postgis-3, "
                    "or set DATABASE_URL to a server you already have",
                )
            self.bindir = bindirs[0]
        return str(self.bindir / name)

    # -- running commands ----------------------------------------------------------------------
    def _run(self, args: list[str], what: str) -> subprocess.CompletedProcess:
        command = (["runuser", "-u", SYSTEM_USER, "--"] if _running_as_root() else []) + args
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ClusterError(f"{what} failed: {exc}") from None
        if result.returncode != 0:
            tail = (result.stderr or result.stdout).strip().splitlines()[-5:]
            raise ClusterError(
                f"{what} failed (exit {result.returncode}): " + " | ".join(tail),
                f"see {self.log_file}" if self.log_file.exists() else None,
            )
        return result

    # -- lifecycle -----------------------------------------------------------------------------
    def pid(self) -> int | None:
        pidfile = self.data_dir / "postmaster.pid"
        try:
            pid = int(pidfile.read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return pid

    def status(self) -> dict:
        return {
            "data_dir": str(self.data_dir),
            "initialised": self.initialised,
            "running": self.pid() is not None,
            "pid": self.pid(),
            "port": self.port,
            "log_file": str(self.log_file),
        }

    def init(self) -> bool:
        """Create the cluster folder if it does not exist. Returns True when it created one."""
        if self.initialised:
            return False
        self.root.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(exist_ok=True)
        if _running_as_root():
            shutil.chown(self.root, SYSTEM_USER, SYSTEM_USER)
            shutil.chown(self.socket_dir, SYSTEM_USER, SYSTEM_USER)
        self._run(
            [
                self._bin("initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            ],
            "initdb",
        )
        conf = self.data_dir / "postgresql.conf"
        with conf.open("a") as fh:
            fh.write("\ninclude_if_exists = 'gapmap.conf'\n")
        return True

    def _write_conf(self) -> None:
        # Rewritten at every start so a changed port takes effect. Tuned for bulk loads on a
        # developer machine; durability is relaxed because this cluster holds only re-loadable data.
        settings = {
            "port": str(self.port),
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{self.socket_dir}'",
            "shared_buffers": "'512MB'",
            "work_mem": "'64MB'",
            "maintenance_work_mem": "'512MB'",
            "max_wal_size": "'4GB'",
            "synchronous_commit": "off",
            # bulk loads build new tables in their own transaction: minimal WAL skips logging them
            "wal_level": "minimal",
            "max_wal_senders": "0",
            "max_connections": "100",
        }
        text = "".join(f"{k} = {v}\n" for k, v in settings.items())
        path = self.data_dir / "gapmap.conf"
        path.write_text(text)
        if _running_as_root():
            shutil.chown(path, SYSTEM_USER, SYSTEM_USER)

    def start(self) -> bool:
        """Start the server if it is not running. Returns True when it started it."""
        if self.pid() is not None:
            return False
        if _port_in_use(self.port):
            raise ClusterError(
                f"port {self.port} on 127.0.0.1 is already in use by another program",
                "choose another with CONNECTIVITY_LOCAL_PORT=... or --port",
            )
        self._write_conf()
        if _running_as_root():
            # the socket folder may have been recreated by root since initdb
            self.socket_dir.mkdir(exist_ok=True)
            shutil.chown(self.socket_dir, SYSTEM_USER, SYSTEM_USER)
        self._run(
            [
                self._bin("pg_ctl"),
                "-D",
                str(self.data_dir),
                "-l",
                str(self.log_file),
                "-w",
                "-t",
                "60",
                "start",
            ],
            "starting PostgreSQL",
        )
        return True

    def stop(self) -> bool:
        """Stop the server if it runs. Returns True when it stopped it."""
        if self.pid() is None:
            return False
        self._run(
            [self._bin("pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop"],
            "stopping PostgreSQL",
        )
        return True

    def ensure_database(self) -> bool:
        """Create the project database with PostGIS if missing. Returns True when created."""
        created = False
        admin = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        deadline = time.monotonic() + 30
        while True:
            try:
                conn = psycopg.connect(admin, autocommit=True, connect_timeout=5)
                break
            except psycopg.OperationalError as exc:
                if time.monotonic() > deadline:
                    raise ClusterError(f"the local server does not accept connections: {exc}") from None
                time.sleep(0.3)
        with conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (self.dbname,)
            ).fetchone()
            if not exists:
                if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", self.dbname):
                    raise ClusterError(f"unsafe database name {self.dbname!r}")
                conn.execute(f'CREATE DATABASE "{self.dbname}"')
                created = True
        with psycopg.connect(
            f"postgresql://postgres@127.0.0.1:{self.port}/{self.dbname}", autocommit=True
        ) as conn:
            try:
                conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
            except psycopg.Error as exc:
                raise ClusterError(
                    f"PostGIS is not available in the local server: {exc}".strip(),
                    f"install it: apt-get install postgresql-{self.bindir.parent.name if self.bindir else '15'}-postgis-3",
                ) from None
        return created

    def up(self) -> dict:
        created = self.init()
        started = self.start()
        db_created = self.ensure_database()
        return {"initialised": created, "started": started, "database_created": db_created}

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def _running_as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _reachable_by_system_user(folder: Path) -> bool:
    """Can the postgres user reach (create or use) ``folder``? Checks the nearest existing parent."""
    probe = folder
    while not probe.exists():
        probe = probe.parent
    try:
        result = subprocess.run(
            ["runuser", "-u", SYSTEM_USER, "--", "test", "-x", str(probe)],
            capture_output=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


def _port_in_use(port: int) -> bool:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0
