#!/usr/bin/env bash
# Copy the pinned front-end assets from node_modules (npm ci) into webmap/static/vendor.
# The copies are committed, so the app serves them with no network and no npm at run time;
# re-run this after changing a version in package.json.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules/leaflet ] || npm ci --no-audit --no-fund
dest=webmap/static/vendor
rm -rf "$dest/leaflet" "$dest/leaflet.vectorgrid" "$dest/leaflet-geoman" "$dest/pmtiles"
mkdir -p "$dest/leaflet/images" "$dest/leaflet.vectorgrid" "$dest/leaflet-geoman" "$dest/pmtiles"
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
# PMTiles (BSD-3-Clause): the map's tiles from a static archive (tiles_archive_url). Its browser
# build bundles fflate (MIT) for gzip where DecompressionStream is missing. The npm package ships
# no licence file: the LICENSE written here is the one of github.com/protomaps/PMTiles.
cp node_modules/pmtiles/dist/pmtiles.js "$dest/pmtiles/"
{
  echo "pmtiles $(node -p 'require("./node_modules/pmtiles/package.json").version') (BSD-3-Clause), https://github.com/protomaps/PMTiles"
  echo
  cat <<'LICENCE'
Copyright 2021 Protomaps LLC

Redistribution and use in source and binary forms, with or without modification, are permitted provided that the following conditions are met:

1. Redistributions of source code must retain the above copyright notice, this list of conditions and the following disclaimer.

2. Redistributions in binary form must reproduce the above copyright notice, this list of conditions and the following disclaimer in the documentation and/or other materials provided with the distribution.

3. Neither the name of the copyright holder nor the names of its contributors may be used to endorse or promote products derived from this software without specific prior written permission.

THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS" AND ANY EXPRESS OR IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE IMPLIED WARRANTIES OF MERCHANTABILITY AND FITNESS FOR A PARTICULAR PURPOSE ARE DISCLAIMED. IN NO EVENT SHALL THE COPYRIGHT HOLDER OR CONTRIBUTORS BE LIABLE FOR ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL, EXEMPLARY, OR CONSEQUENTIAL DAMAGES (INCLUDING, BUT NOT LIMITED TO, PROCUREMENT OF SUBSTITUTE GOODS OR SERVICES; LOSS OF USE, DATA, OR PROFITS; OR BUSINESS INTERRUPTION) HOWEVER CAUSED AND ON ANY THEORY OF LIABILITY, WHETHER IN CONTRACT, STRICT LIABILITY, OR TORT (INCLUDING NEGLIGENCE OR OTHERWISE) ARISING IN ANY WAY OUT OF THE USE OF THIS SOFTWARE, EVEN IF ADVISED OF THE POSSIBILITY OF SUCH DAMAGE.
LICENCE
} > "$dest/pmtiles/LICENSE"
cp node_modules/fflate/LICENSE "$dest/pmtiles/LICENSE.fflate"
node -e '
const pkgs = ["leaflet", "leaflet.vectorgrid", "@geoman-io/leaflet-geoman-free", "pmtiles", "fflate"];
const out = pkgs.map(p => { const j = require("./node_modules/" + p + "/package.json"); return `${p} ${j.version} (${j.license})`; });
console.log(out.join("\n"));' > "$dest/VERSIONS.txt"
cat "$dest/VERSIONS.txt"
