#!/usr/bin/env bash
# Install everything the project needs on Debian or Ubuntu, and nothing twice:
#   system packages (PostgreSQL + PostGIS, GDAL, Chromium for the browser tests, Node.js/npm),
#   the Python environment in .venv (the package with its test extra, editable),
#   the npm packages the tests use (axe-core; Leaflet is vendored in webmap/static/vendor).
# Runs apt-get as root directly, otherwise through sudo. Safe and quick to re-run.
# Environment: PYTHON (default python3, must be 3.11+), PG_MAJOR (default: 15 if available).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

# -- system packages ------------------------------------------------------------------------------
if command -v apt-get >/dev/null 2>&1; then
  pg_major=${PG_MAJOR:-}
  if [ -z "$pg_major" ]; then
    for v in 15 16 17 14 13; do
      if installed "postgresql-$v-postgis-3"; then pg_major=$v; break; fi
    done
  fi
  # libpango: WeasyPrint renders the bid pack's PDF with it
  want=(gdal-bin chromium fonts-dejavu-core time libpango-1.0-0 libpangoft2-1.0-0)
  [ -n "$pg_major" ] && want+=("postgresql-$pg_major" "postgresql-$pg_major-postgis-3")
  command -v npm >/dev/null 2>&1 || want+=(nodejs npm)
  missing=()
  for p in "${want[@]}"; do installed "$p" || missing+=("$p"); done
  if [ -z "$pg_major" ]; then
    say "choosing a PostgreSQL with PostGIS 3 from the package lists"
    as_root apt-get update -qq
    for v in 15 16 17 14 13; do
      if apt-cache show "postgresql-$v-postgis-3" >/dev/null 2>&1; then pg_major=$v; break; fi
    done
    [ -n "$pg_major" ] || { echo "no postgresql-*-postgis-3 package found" >&2; exit 1; }
    missing+=("postgresql-$pg_major" "postgresql-$pg_major-postgis-3")
  fi
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing Debian packages: ${missing[*]}"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
else
  echo "not a Debian/Ubuntu system: install PostgreSQL 15+ with PostGIS 3, GDAL, Chromium and npm" \
       "yourself, or use docker compose (see README)" >&2
fi

# -- Python ---------------------------------------------------------------------------------------
python=${PYTHON:-python3}
"$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
  || { echo "Python 3.11 or newer is needed (PYTHON=$python is older)" >&2; exit 1; }
if [ ! -x .venv/bin/python ]; then
  say "creating .venv"
  "$python" -m venv .venv || { as_root apt-get install -y -qq python3-venv >/dev/null && "$python" -m venv .venv; }
fi
stamp=.venv/.gapmap-installed
want_stamp=$(cat pyproject.toml | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want_stamp" ]; then
  say "installing the Python packages into .venv"
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  .venv/bin/python -m pip install -q -e ".[test]"
  echo "$want_stamp" > "$stamp"
fi

# -- npm (test tools) -----------------------------------------------------------------------------
npm_stamp=node_modules/.gapmap-installed
want_npm=$(cat package.json package-lock.json | sha256sum | cut -d' ' -f1)
if [ ! -f "$npm_stamp" ] || [ "$(cat "$npm_stamp")" != "$want_npm" ]; then
  say "installing npm packages (axe-core for the accessibility tests)"
  npm ci --no-audit --no-fund --silent
  echo "$want_npm" > "$npm_stamp"
fi
