#!/usr/bin/env bash
# Copy the pinned front-end assets from node_modules (npm ci) into webmap/static/vendor.
# The copies are committed, so the app serves them with no network and no npm at run time;
# re-run this after changing a version in package.json.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules/leaflet ] || npm ci --no-audit --no-fund
dest=webmap/static/vendor
rm -rf "$dest/leaflet" "$dest/leaflet.vectorgrid" "$dest/leaflet-geoman"
mkdir -p "$dest/leaflet/images" "$dest/leaflet.vectorgrid" "$dest/leaflet-geoman"
cp node_modules/leaflet/dist/leaflet.js node_modules/leaflet/dist/leaflet.css "$dest/leaflet/"
cp node_modules/leaflet/dist/images/*.png "$dest/leaflet/images/"
cp node_modules/leaflet/LICENSE "$dest/leaflet/LICENSE"
cp node_modules/leaflet.vectorgrid/dist/Leaflet.VectorGrid.bundled.min.js "$dest/leaflet.vectorgrid/"
cp node_modules/leaflet.vectorgrid/LICENSE "$dest/leaflet.vectorgrid/LICENSE" 2>/dev/null \
  || node -e "console.log('Leaflet.VectorGrid ' + require('./node_modules/leaflet.vectorgrid/package.json').version + ' - licence: ' + require('./node_modules/leaflet.vectorgrid/package.json').license)" > "$dest/leaflet.vectorgrid/LICENSE"
# Leaflet-Geoman (free edition, MIT): drawing a list's polygon on the map
geoman=node_modules/@geoman-io/leaflet-geoman-free
cp "$geoman/dist/leaflet-geoman.min.js" "$geoman/dist/leaflet-geoman.css" "$geoman/LICENSE" \
  "$dest/leaflet-geoman/"
node -e '
const pkgs = ["leaflet", "leaflet.vectorgrid", "@geoman-io/leaflet-geoman-free"];
const out = pkgs.map(p => { const j = require("./node_modules/" + p + "/package.json"); return `${p} ${j.version} (${j.license})`; });
console.log(out.join("\n"));' > "$dest/VERSIONS.txt"
cat "$dest/VERSIONS.txt"
