/* The offline base map: land and place labels from our own API, for maps with no online tiles.
 *
 * window.GapMapBase(map, cfg), cfg = {lang, landUrl, labelsUrl}, adds beneath everything else
 * the land (the union of the authorities from landUrl?zoom=, refetched when the zoom changes
 * the simplification) in its own pane, and above the data the place and postcode labels of the
 * visible box (labelsUrl?bbox=&zoom=&lang=, refetched on moveend, debounced, a stale request
 * aborted). Both panes are non-interactive and hidden from screen readers: they orient, the
 * page's text says the rest. Labels arrive best first; one that would overlap a better one is
 * hidden. Names go in with textContent, never as HTML; styles are classes in app.css (the
 * Content-Security-Policy allows no inline script). Calling it twice on one map returns the first.
 * docs/basemap.md says what is drawn and why.
 */
(function () {
  "use strict";

  var LAND_ZOOMS = [5, 13];    // connectivity/basemap.py LAND_TOLERANCE_M: one answer per zoom between
  var LABEL_MIN_ZOOM = 8;      // PLACE_KINDS: nothing is labelled below it
  var GAP = 3;                 // pixels kept clear around a label
  var DEBOUNCE_MS = 150;

  function withQuery(url, params) {
    var parts = [];
    for (var k in params) parts.push(k + "=" + encodeURIComponent(params[k]));
    return url + (url.indexOf("?") >= 0 ? "&" : "?") + parts.join("&");
  }

  function pane(map, name, zIndex) {
    var node = map.getPane(name) || map.createPane(name);
    node.style.zIndex = String(zIndex);
    node.style.pointerEvents = "none";
    node.setAttribute("aria-hidden", "true");
    node.classList.add("gapmap-base-pane");
    return node;
  }

  // the box to ask for: the view grown to whole 256-pixel tiles, so that small pans ask for
  // the same box again (cached by the browser and the server)
  function tileBox(map, zoom) {
    var bounds = map.getPixelBounds(), size = 256, scale = map.getZoomScale(zoom, map.getZoom());
    var min = bounds.min.multiplyBy(scale).divideBy(size).floor().multiplyBy(size);
    var max = bounds.max.multiplyBy(scale).divideBy(size).ceil().multiplyBy(size);
    var nw = map.unproject(min, zoom), se = map.unproject(max, zoom);
    function clamp(v, lim) { return Math.max(-lim, Math.min(lim, v)); }
    var w = clamp(nw.lng, 180), e = clamp(se.lng, 180);
    var s = clamp(se.lat, 85.05), n = clamp(nw.lat, 85.05);
    return [w, s, e, n].map(function (v) { return v.toFixed(5); }).join(",");
  }

  function overlaps(a, b) {
    return a.left < b.right + GAP && b.left < a.right + GAP &&
      a.top < b.bottom + GAP && b.top < a.bottom + GAP;
  }

  function GapMapBase(map, cfg) {
    if (map._gapmapBase) return map._gapmapBase;
    pane(map, "gapmapLand", 150);      // below tiles (200) and overlays (400)
    pane(map, "gapmapLabels", 450);    // above the areas' fills, below markers and tooltips (600+)
    var land = null, landZoom = null, landAbort = null;
    var labels = L.layerGroup([], {pane: "gapmapLabels"}).addTo(map);
    var labelAbort = null, timer = null, lastKey = null;
    var state = {land: null, labels: labels, requests: 0, shown: 0};

    function fetchJson(url, controller) {
      state.requests += 1;
      return fetch(url, {signal: controller.signal, credentials: "same-origin",
                         headers: {Accept: "application/geo+json"}})
        .then(function (r) { if (!r.ok) throw new Error(String(r.status)); return r.json(); });
    }

    function refreshLand() {
      var z = Math.max(LAND_ZOOMS[0], Math.min(LAND_ZOOMS[1], Math.round(map.getZoom())));
      if (z === landZoom) return;
      landZoom = z;
      if (landAbort) landAbort.abort();
      var controller = landAbort = new AbortController();
      fetchJson(withQuery(cfg.landUrl, {zoom: z}), controller).then(function (data) {
        if (controller !== landAbort) return;
        var next = L.geoJSON(data, {
          pane: "gapmapLand", interactive: false, attribution: null,
          style: function () {
            return {stroke: false, fill: true, fillColor: "#f4f1ea", fillOpacity: 1,
                    className: "gapmap-land"};
          }
        }).addTo(map);
        if (land) map.removeLayer(land);
        state.land = land = next;
      }).catch(function () {
        // aborted, or the server did not answer: keep what is drawn, and let the next move ask
        // again (a failed first answer must not leave the map without land for good)
        if (controller === landAbort) { landZoom = null; }
      });
    }

    function label(feature) {
      var p = feature.properties, c = feature.geometry.coordinates;
      var text = document.createElement("span");
      text.className = "gapmap-label-text";
      text.textContent = p.name;
      var icon = L.divIcon({html: text, className: "gapmap-label kind-" + p.kind,
                            iconSize: [0, 0]});
      return L.marker([c[1], c[0]], {icon: icon, pane: "gapmapLabels", interactive: false,
                                     keyboard: false});
    }

    // best first: a label that would touch one already kept is hidden
    function declutter() {
      var kept = [], shown = 0;
      var items = [];
      labels.eachLayer(function (m) { if (m._icon) items.push(m); });
      items.sort(function (a, b) { return a.rank - b.rank; });
      var boxes = items.map(function (m) {
        m._icon.classList.remove("gapmap-label-hidden");
        return m._icon.firstChild.getBoundingClientRect();
      });
      items.forEach(function (m, i) {
        var hit = kept.some(function (b) { return overlaps(boxes[i], b); });
        if (hit) { m._icon.classList.add("gapmap-label-hidden"); } else { kept.push(boxes[i]); shown++; }
      });
      state.shown = shown;
    }

    function refreshLabels() {
      var zoom = Math.round(map.getZoom());
      if (zoom < LABEL_MIN_ZOOM) {
        if (labelAbort) labelAbort.abort();
        labels.clearLayers(); lastKey = null; state.shown = 0;
        return;
      }
      var bbox = tileBox(map, zoom), key = zoom + "/" + bbox;
      if (key === lastKey) { declutter(); return; }
      lastKey = key;
      if (labelAbort) labelAbort.abort();
      var controller = labelAbort = new AbortController();
      fetchJson(withQuery(cfg.labelsUrl, {bbox: bbox, zoom: zoom, lang: cfg.lang}), controller)
        .then(function (data) {
          if (controller !== labelAbort) return;
          labels.clearLayers();
          data.features.forEach(function (f) {
            var m = label(f);
            m.rank = f.properties.rank;
            labels.addLayer(m);
          });
          declutter();
          map.fire("gapmapbase:labels", {count: data.features.length, shown: state.shown});
        })
        .catch(function () { if (controller === labelAbort) lastKey = null; });
    }

    function schedule() {
      if (timer) clearTimeout(timer);
      timer = setTimeout(function () { timer = null; refreshLand(); refreshLabels(); }, DEBOUNCE_MS);
    }

    map.on("moveend", schedule);
    refreshLand();
    refreshLabels();
    state.refresh = function () { lastKey = null; landZoom = null; refreshLand(); refreshLabels(); };
    map._gapmapBase = state;
    return state;
  }

  window.GapMapBase = GapMapBase;
})();
