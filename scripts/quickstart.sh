#!/usr/bin/env bash
# README command 1: install what is missing, start a project-local PostGIS, migrate, load the
# bundled Welsh data and serve the map on http://127.0.0.1:5000 (Ctrl+C stops the server; the
# database keeps running: `.venv/bin/connectivity db down` stops it). Safe and quick to re-run.
# With DATABASE_URL set, that database is used and no local server is started.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
# The server signs officers' sessions with CONNECTIVITY_SECRET_KEY. For this local trial one is
# made once and kept in .cache/secret-key (mode 600, ignored by git); a deployment sets its own.
if [ -z "${CONNECTIVITY_SECRET_KEY:-}" ]; then
  mkdir -p .cache
  if [ ! -s .cache/secret-key ]; then
    (umask 077; .venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(32))' > .cache/secret-key)
  fi
  CONNECTIVITY_SECRET_KEY=$(cat .cache/secret-key)
  export CONNECTIVITY_SECRET_KEY
fi
exec .venv/bin/connectivity demo "$@"
