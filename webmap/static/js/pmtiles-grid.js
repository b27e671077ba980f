/* Vector tiles from a PMTiles archive, for Leaflet.VectorGrid.
 *
 * L.vectorGrid.pmtiles(url, options) is a VectorGrid layer like L.vectorGrid.protobuf, but it
 * reads each z/x/y from the archive at `url` with the vendored pmtiles library (one HTTP range
 * request per tile once the header and directories are read), so the map's tiles can come from
 * any static host. `options.layers` maps the archive's layers to the names the layer's styles
 * use ({hex2000: "hex"}); the archive's other layers are left out of the tile. Zooms above the
 * archive's highest are drawn from its highest-zoom tile, scaled (overzoom); zooms below its
 * lowest are empty. The vector tiles are decoded here (a small reader of the Mapbox Vector Tile
 * protobuf), into the shape VectorGrid draws: {layers: {name: {extent, features}}}.
 * connect-src of the page's CSP must allow the archive's origin (webmap/security.py does).
 */
(function () {
  "use strict";

  var archives = {};  // one PMTiles reader (and its header and directory cache) per URL
  function archive(url) {
    if (!archives[url]) archives[url] = new pmtiles.PMTiles(url);
    return archives[url];
  }

  // -- a reader of protobuf wire format: just what vector tiles use --------------------------
  function Reader(bytes, start, end) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = start || 0;
    this.end = end === undefined ? bytes.length : end;
  }
  Reader.prototype.varint = function () {
    var result = 0, scale = 1, b;
    do {
      b = this.bytes[this.pos++];
      result += (b & 0x7f) * scale;
      scale *= 128;
    } while (b & 0x80);
    return result;
  };
  Reader.prototype.skip = function (wire) {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.pos += this.varint();
    else if (wire === 5) this.pos += 4;
    else throw new Error("unsupported protobuf wire type " + wire);
  };
  Reader.prototype.sub = function () {
    var length = this.varint();
    var sub = new Reader(this.bytes, this.pos, this.pos + length);
    this.pos += length;
    return sub;
  };
  var utf8 = new TextDecoder("utf-8");
  Reader.prototype.string = function () {
    var length = this.varint();
    var text = utf8.decode(this.bytes.subarray(this.pos, this.pos + length));
    this.pos += length;
    return text;
  };
  Reader.prototype.packed = function () {
    var sub = this.sub(), out = [];
    while (sub.pos < sub.end) out.push(sub.varint());
    return out;
  };
  function zigzag(n) { return n % 2 === 1 ? -(n + 1) / 2 : n / 2; }

  function readValue(r) {
    var value = null;
    while (r.pos < r.end) {
      var key = r.varint(), field = Math.floor(key / 8), wire = key & 7;
      if (field === 1) value = r.string();
      else if (field === 2) { value = r.view.getFloat32(r.pos, true); r.pos += 4; }
      else if (field === 3) { value = r.view.getFloat64(r.pos, true); r.pos += 8; }
      else if (field === 4) { value = r.varint(); if (value >= 9223372036854775808) value -= 18446744073709551616; }
      else if (field === 5) value = r.varint();
      else if (field === 6) value = zigzag(r.varint());
      else if (field === 7) value = r.varint() !== 0;
      else r.skip(wire);
    }
    return value;
  }

  // geometry commands to rings of {x, y} (as @mapbox/vector-tile's loadGeometry gives them)
  function geometry(commands) {
    var rings = [], ring = null, x = 0, y = 0, i = 0;
    while (i < commands.length) {
      var command = commands[i] & 7, count = Math.floor(commands[i] / 8);
      i++;
      if (command === 7) {  // ClosePath: the ring's first point is not repeated
        continue;
      }
      for (var k = 0; k < count; k++) {
        x += zigzag(commands[i++]);
        y += zigzag(commands[i++]);
        if (command === 1) {  // MoveTo starts a ring (or a point of a multipoint)
          ring = [];
          rings.push(ring);
        }
        ring.push({x: x, y: y});
      }
    }
    return rings;
  }

  function readFeature(r, keys, values) {
    var feature = {type: 0, properties: {}, geometry: []}, tags = [], commands = [];
    while (r.pos < r.end) {
      var key = r.varint(), field = Math.floor(key / 8), wire = key & 7;
      if (field === 1) feature.id = r.varint();
      else if (field === 2) tags = r.packed();
      else if (field === 3) feature.type = r.varint();
      else if (field === 4) commands = r.packed();
      else r.skip(wire);
    }
    for (var i = 0; i + 1 < tags.length; i += 2) feature.properties[keys[tags[i]]] = values[tags[i + 1]];
    feature.geometry = geometry(commands);
    return feature;
  }

  // a layer of the tile; its features only if `wanted` names it
  function readLayer(r, wanted) {
    var name = "", extent = 4096, keys = [], values = [], raw = [];
    while (r.pos < r.end) {
      var key = r.varint(), field = Math.floor(key / 8), wire = key & 7;
      if (field === 1) name = r.string();
      else if (field === 2) raw.push(r.sub());  // features are read once keys and values are
      else if (field === 3) keys.push(r.string());
      else if (field === 4) values.push(readValue(r.sub()));
      else if (field === 5) extent = r.varint();
      else r.skip(wire);
    }
    if (!Object.prototype.hasOwnProperty.call(wanted, name)) return null;
    return {name: name, extent: extent,
            features: raw.map(function (f) { return readFeature(f, keys, values); })};
  }

  // the tile's layers named in `wanted` ({archive name: name}), under their new names
  function decode(buffer, wanted) {
    var bytes = new Uint8Array(buffer), r = new Reader(bytes), layers = {};
    while (r.pos < r.end) {
      var key = r.varint(), field = Math.floor(key / 8), wire = key & 7;
      if (field !== 3) { r.skip(wire); continue; }
      var layer = readLayer(r.sub(), wanted);
      if (layer) layers[wanted[layer.name]] = layer;
    }
    return {layers: layers};
  }

  // a tile `dz` zooms below the one drawn: its coordinates scaled into the child tile's
  function overzoom(tile, coords, dz) {
    var scale = Math.pow(2, dz);
    var ox = coords.x - Math.floor(coords.x / scale) * scale;
    var oy = coords.y - Math.floor(coords.y / scale) * scale;
    Object.keys(tile.layers).forEach(function (name) {
      var layer = tile.layers[name], e = layer.extent;
      layer.features.forEach(function (f) {
        f.geometry = f.geometry.map(function (ring) {
          return ring.map(function (p) { return {x: p.x * scale - ox * e, y: p.y * scale - oy * e}; });
        });
      });
    });
    return tile;
  }

  L.VectorGrid.PMTiles = L.VectorGrid.extend({
    initialize: function (url, options) {
      this._archive = archive(url);
      L.VectorGrid.prototype.initialize.call(this, options);
    },

    _getVectorTilePromise: function (coords) {
      var wanted = this.options.layers || {};
      var source = this._archive;
      return source.getHeader().then(function (header) {
        if (coords.z < header.minZoom) return {layers: {}};
        var dz = Math.max(0, coords.z - header.maxZoom), scale = Math.pow(2, dz);
        return source.getZxy(coords.z - dz, Math.floor(coords.x / scale), Math.floor(coords.y / scale))
          .then(function (found) {
            if (!found || !found.data) return {layers: {}};
            var tile = decode(found.data, wanted);
            return dz ? overzoom(tile, coords, dz) : tile;
          });
      }).catch(function () { return {layers: {}}; });  // as VectorGrid does for a failed fetch
    }
  });

  L.vectorGrid.pmtiles = function (url, options) { return new L.VectorGrid.PMTiles(url, options); };
})();
