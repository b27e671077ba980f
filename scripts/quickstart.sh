#!/usr/bin/env bash
# README command 1: install what is missing, start a project-local PostGIS, migrate, load the
# bundled Welsh data and serve the map on http://127.0.0.1:5000 (Ctrl+C stops the server; the
# database keeps running: `.venv/bin/connectivity db down` stops it). Safe and quick to re-run.
# With DATABASE_URL set, that database is used and no local server is started.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/connectivity demo "$@"
