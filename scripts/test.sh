#!/usr/bin/env bash
# README command 2 (and what CI runs): install what is missing, start the project-local PostGIS
# unless DATABASE_URL is set, run the whole test suite, and stop the server again if this script
# started it. Extra arguments go to pytest, e.g. scripts/test.sh -k browser.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
started=false
if [ -z "${DATABASE_URL:-}" ] && [ -z "${PGHOST:-}" ]; then
  if .venv/bin/connectivity db up --no-migrate --json | .venv/bin/python -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)["started"] else 1)'; then
    started=true
  fi
fi
cleanup() { if $started; then .venv/bin/connectivity db down >/dev/null; fi; }
trap cleanup EXIT
.venv/bin/ruff check .
.venv/bin/python -m pytest "$@"
