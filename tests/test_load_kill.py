"""A load killed with SIGKILL leaves the database exactly as it was; running it again completes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg

BIN = Path(sys.executable).parent / "connectivity"


def snapshot(conn) -> tuple:
    return (
        conn.execute("SELECT count(*), coalesce(sum(uprn), 0) FROM gapmap.premises").fetchone(),
        conn.execute("SELECT count(*) FROM gapmap.load_run").fetchone(),
        conn.execute("SELECT count(*) FROM gapmap.reject").fetchone(),
        conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'gapmap'").fetchone(),
    )


def test_sigkill_during_a_load(settings, db, tmp_path):
    small = tmp_path / "first.csv"
    small.write_text("UPRN,X_COORDINATE,Y_COORDINATE,LATITUDE,LONGITUDE\n1,318284,176230,,\n")
    subprocess.run([BIN, "--database-url", settings.database_url, "load", "uprn", str(small)],
                   check=True, capture_output=True)
    big = tmp_path / "big.csv"
    with big.open("w") as fh:
        fh.write("UPRN,X_COORDINATE,Y_COORDINATE,LATITUDE,LONGITUDE\n")
        for i in range(2, 600_000):
            fh.write(f"{i},{300000 + i % 50000},{200000 + i // 50000},,\n")
    before = snapshot(db)
    for wait_for in ("COPY", "INSERT", "CREATE INDEX"):
        proc = subprocess.Popen([BIN, "--database-url", settings.database_url, "load", "uprn",
                                 str(big)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        seen = False
        while time.monotonic() < deadline and proc.poll() is None:
            row = db.execute(
                "SELECT query FROM pg_stat_activity WHERE application_name = 'connectivity load uprn' "
                "AND state = 'active' AND query ILIKE %s", (f"%{wait_for}%",)).fetchone()
            if row:
                seen = True
                break
            time.sleep(0.005)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        # the server notices the dead client and rolls its transaction back
        for _ in range(200):
            if not db.execute("SELECT 1 FROM pg_stat_activity WHERE application_name = "
                              "'connectivity load uprn'").fetchone():
                break
            time.sleep(0.05)
        assert snapshot(db) == before, f"killed during {wait_for} (seen: {seen})"
    done = subprocess.run([BIN, "--database-url", settings.database_url, "load", "uprn", str(big)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    with psycopg.connect(settings.conninfo) as conn:
        assert conn.execute("SELECT count(*) FROM gapmap.premises").fetchone()[0] == 600_000 - 1
