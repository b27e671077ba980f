/* The gap map's layers and themes, on a Leaflet map that folium set up.
 *
 * GapMap.init(map, config) adds: the local authorities (GeoJSON, shaded by the chosen theme),
 * wards, LSOAs and hexagons (vector tiles at middle zooms), premises (vector tiles from zoom 12),
 * and wires the panel beside the map: the theme radios ("colour by") and the layer checkboxes.
 * GapMap.postcode(map, config) adds a postcode's premises, coloured by status, to a small map.
 * Both draw premises with the one premises layer below (premisesLayer). Every vector-tile layer
 * reads the dynamic /tiles routes, or a PMTiles archive when the page names one (tileLayer).
 * Everything the user reads comes from the config (translated on the server); values from the
 * data are put into the page with textContent, never as HTML. No inline handlers: the page's
 * Content-Security-Policy allows no inline script but the nonce'd map set-up.
 */
(function () {
  "use strict";

  function el(tag, text, cls) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = text;
    if (cls) node.className = cls;
    return node;
  }

  function classColour(value, breaks, palette) {
    for (var i = 0; i < breaks.length; i++) {
      if (value <= breaks[i]) return palette[i];
    }
    return palette[palette.length - 1];
  }

  function fmtPct(share, lang) {
    if (share === null || share === undefined) return "-";
    return (Math.round(share * 1000) / 10).toLocaleString(lang === "cy" ? "cy-GB" : "en-GB") + " %";
  }

  function fmtNum(n, lang) {
    if (n === null || n === undefined) return "-";
    return Number(n).toLocaleString(lang === "cy" ? "cy-GB" : "en-GB");
  }

  // Leaflet 1.9 asks a clicked circle for its position (getLatLng); Leaflet.VectorGrid's points
  // only know their pixel position inside their tile, so answer from that (else clicks throw).
  var circleLatLng = L.CircleMarker.prototype.getLatLng;
  L.CircleMarker.prototype.getLatLng = function () {
    if (this._latlng) return circleLatLng.call(this);
    var r = this._renderer;
    if (this._point && r && r._map && r._tileCoord && r._size) {
      // pixel position at the tile's own zoom (tiles past maxNativeZoom are scaled up)
      return r._map.unproject(r._tileCoord.scaleBy(r._size).add(this._point), r._tileCoord.z);
    }
    return undefined;
  };

  var GapMap = {};

  // The attribution, folded: a small "©" button (its name, `label`, in the page's language) at
  // the bottom right shows and hides the full text, so three lines of sources cover neither a
  // small map nor the scale bar. Leaflet rewrites the attribution's own box whenever a layer adds
  // one, so the button is a control of its own beside it.
  var attributionCount = 0;
  GapMap.attribution = function (map, text, label) {
    var control = map.attributionControl;
    control.setPrefix(false);
    control.addAttribution(text);
    var box = control.getContainer();
    box.id = box.id || "gm-attribution-" + (++attributionCount);
    box.classList.add("gm-attribution");
    box.hidden = true;
    var toggle = L.control({position: "bottomright"});
    toggle.onAdd = function () {
      var wrap = L.DomUtil.create("div", "leaflet-control gm-attribution-toggle");
      var button = L.DomUtil.create("button", "", wrap);
      button.type = "button";
      button.textContent = "\u00a9";
      button.setAttribute("aria-label", label);
      button.title = label;
      button.setAttribute("aria-expanded", "false");
      button.setAttribute("aria-controls", box.id);
      L.DomEvent.disableClickPropagation(wrap);
      L.DomEvent.on(button, "click", function () {
        box.hidden = !box.hidden;
        button.setAttribute("aria-expanded", box.hidden ? "false" : "true");
      });
      return wrap;
    };
    toggle.addTo(map);
    return toggle;
  };

  // A layer drawn at the whole zooms lo to hi, in the options Leaflet wants. Leaflet draws a grid's
  // tiles at the rounded zoom (Math.round: 9.75 asks for zoom 10 tiles) but removes them all when
  // the map's own, fractional zoom is outside minZoom..maxZoom; so a grid of zoom 10 only vanished
  // at 9.75 and at 10.25, and the map could stop between two layers with nothing drawn. These
  // bounds make both tests agree: the layer shows exactly when lo <= Math.round(zoom) <= hi.
  function wholeZooms(lo, hi) {
    var out = {minZoom: lo - 0.5};
    if (hi !== undefined) { out.maxZoom = hi + 0.49; out.maxNativeZoom = hi; }
    return out;
  }
  GapMap.wholeZooms = wholeZooms;

  // -- premises: the one vector-tile layer every map draws them with ----------------------
  function dotStyle(fill, zoom) {
    return {
      radius: zoom >= 15 ? 5 : 3, weight: 1, color: "#333333", fill: true, fillOpacity: 0.9,
      fillColor: fill || "#ffffff"
    };
  }

  // a vector-tile layer: from the dynamic route `url`, or, when the map has a tile archive
  // (cfg.tilesArchive, the tiles_archive_url setting), the archive's layer `archiveLayer`
  // under the name the styles use (`layer`): see pmtiles-grid.js
  function tileLayer(cfg, url, archiveLayer, layer, options) {
    if (!cfg.tilesArchive) return L.vectorGrid.protobuf(url, options);
    var names = {};
    names[archiveLayer] = layer;
    return L.vectorGrid.pmtiles(cfg.tilesArchive, L.extend({layers: names}, options));
  }

  // style(properties, zoom) gives each point's style, onClick(properties, latlng) answers a click
  function premisesLayer(cfg, url, minZoom, style, onClick) {
    return tileLayer(cfg, url, "premises", "premises", {
      minZoom: wholeZooms(minZoom).minZoom, maxNativeZoom: 16, maxZoom: 18, interactive: true,
      getFeatureId: function (f) { return f.properties.uprn; },
      vectorTileLayerStyles: {premises: style}
    }).on("click", function (e) { onClick(e.layer.properties, e.latlng); });
  }

  // the offline base map (static/js/basemap.js: land and labels from our own data), if loaded
  function baseMap(map, cfg) {
    if (window.GapMapBase && !cfg.onlineBasemap) { window.GapMapBase(map, cfg.base); }
  }

  // a postcode's map: its own premises (cfg.postcode) large, the others smaller and paler
  function postcodeDot(cfg, p, zoom) {
    var style = dotStyle(cfg.statusColours[p.status], zoom);
    if (!cfg.postcode || p.postcode === cfg.postcode) {
      style.radius += 2;
      style.weight = 2;
      style.color = "#000000";
      return style;
    }
    style.radius = Math.max(2, style.radius - 1);
    style.fillOpacity = 0.35;
    style.opacity = 0.5;
    return style;
  }

  GapMap.postcode = function (map, cfg) {
    map.options.maxZoom = cfg.maxZoom || 18;
    // open on the postcode's own premises (lookup.postcode_detail's bounds), else the centroid;
    // before any layer asks for what it shows
    if (cfg.bounds) map.fitBounds(cfg.bounds, {maxZoom: map.options.maxZoom, animate: false});
    baseMap(map, cfg);
    var layer = premisesLayer(cfg, cfg.premisesTiles, cfg.premisesMinZoom,
      function (p, zoom) { return postcodeDot(cfg, p, zoom); },
      function (p, latlng) {
        var text = cfg.popup
          .replace("{status}", cfg.statusNames[p.status] || p.status)
          .replace("{down}", p.best_down === null || p.best_down === undefined ? "?" : fmtNum(p.best_down, cfg.lang))
          .replace("{uprn}", p.uprn);
        var box = el("div", null, "gm-popup");
        box.appendChild(el("div", text));
        if (cfg.reportUrl) {
          var a = el("a", cfg.reportText);
          a.href = cfg.reportUrl + "?uprn=" + encodeURIComponent(p.uprn);
          box.appendChild(a);
        }
        L.popup().setLatLng(latlng).setContent(box).openOn(map);
      });
    layer.addTo(map);
    return layer;
  };

  GapMap.init = function (map, cfg) {
    var state = {theme: cfg.theme, layers: {}};
    var T = cfg.text;
    // the map's own zoom range: without it Leaflet narrows the map to the zooms of its layers
    map.options.minZoom = cfg.minZoom;
    map.options.maxZoom = cfg.maxZoom;

    // the value an area is shaded by in a theme, in the units of the theme's breaks
    function areaValue(theme, p) {
      var t = cfg.themes[theme];
      var v = p[t.area];
      if (v === null || v === undefined) return null;
      return t.percent ? 100 * v : v;
    }

    function areaFill(theme, p) {
      if (cfg.themes[theme].needsPremises && !p.premises) return cfg.noData;
      var v = areaValue(theme, p);
      if (v === null) return null;  // not shaded in this theme (e.g. deprivation outside LSOAs)
      return classColour(v, cfg.themes[theme].breaks, cfg.themes[theme].palette);
    }

    function areaStyle(p, selected, filled) {
      var fill = filled ? areaFill(state.theme, p) : null;
      return {
        color: selected ? "#000000" : cfg.outline, weight: selected ? 4 : 1, opacity: 1,
        fill: fill !== null, fillColor: fill || "#000000", fillOpacity: fill ? 0.7 : 0
      };
    }

    function premisesStyle(p, zoom) {
      var t = cfg.themes[state.theme];
      var colours = cfg.premisesColours[t.premises];
      var value = p[t.premises];
      if (t.premises === "planned_build") value = value ? "yes" : "no";
      return dotStyle(colours[value], zoom);
    }

    function areaPopup(p, levelName) {
      var box = el("div", null, "gm-popup");
      var name = cfg.lang === "cy" ? (p.name_cy || p.name_en) : p.name_en;
      var other = cfg.lang === "cy" ? p.name_en : p.name_cy;
      box.appendChild(el("strong", name || p.code));
      if (other && other !== name) box.appendChild(el("span", " (" + other + ")"));
      box.appendChild(el("div", levelName + " " + (p.code || "")));
      var rows = [
        [T.premises, fmtNum(p.premises, cfg.lang)],
        [T.share_below, fmtPct(p.share_below, cfg.lang)],
        [T.expected_below, fmtNum(p.expected_below_30, cfg.lang)],
        [T.abc, fmtNum(p.abc, cfg.lang)],
        [T.lbf, fmtNum(p.lbf, cfg.lang)],
        [T.planned, fmtNum(p.planned_build, cfg.lang)]
      ];
      if (p.wimd_rank !== undefined && p.wimd_rank !== null) rows.push([T.wimd, fmtNum(p.wimd_rank, cfg.lang)]);
      var dl = el("dl");
      rows.forEach(function (r) { dl.appendChild(el("dt", r[0])); dl.appendChild(el("dd", r[1])); });
      box.appendChild(dl);
      if (p.code && cfg.areaUrl && levelName === T.level_la) {
        var a = el("a", T.area_link);
        a.href = cfg.areaUrl.replace("CODE", encodeURIComponent(p.code));
        box.appendChild(a);
      }
      return box;
    }

    function premisesPopup(p, latlng) {
      var box = el("div", null, "gm-popup");
      box.appendChild(el("strong", T.uprn + " " + p.uprn));
      var dl = el("dl");
      function row(k, v) { dl.appendChild(el("dt", k)); dl.appendChild(el("dd", v)); }
      row(T.status, cfg.statusNames[p.status] || p.status);
      row(T.best_down, p.best_down === null || p.best_down === undefined ? "?" : fmtNum(p.best_down, cfg.lang) + " Mbit/s");
      row(T.evidence, cfg.evidenceNames[p.evidence] || p.evidence || "-");
      box.appendChild(dl);
      var more = el("div", T.loading, "gm-more");
      box.appendChild(more);
      var popup = L.popup({maxWidth: 320}).setLatLng(latlng).setContent(box).openOn(map);
      // the answer makes the popup taller after Leaflet panned it into view: lay it out and pan
      // again once it is filled (update() re-measures and auto-pans), so it is never clipped
      function refit() { if (map.hasLayer(popup)) popup.update(); }
      fetch(cfg.premisesApi.replace("UPRN", encodeURIComponent(p.uprn)))
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (d) {
          more.textContent = "";
          if (!d) return;
          if (d.evidence_release) more.appendChild(el("div", T.release + " " + d.evidence_release));
          if (d.planned_build) more.appendChild(el("div", T.planned_build + (d.contract_name ? " (" + d.contract_name + ")" : "")));
          var ul = el("ul");
          ["abc", "lbf", "uso"].forEach(function (s) {
            if (d.schemes && d.schemes[s] && d.schemes[s].reason) ul.appendChild(el("li", d.schemes[s].reason));
          });
          more.appendChild(ul);
          if (d.postcode && cfg.postcodeUrl) {
            var a = el("a", T.postcode_link + " " + d.postcode);
            a.href = cfg.postcodeUrl.replace("PC", encodeURIComponent(d.postcode.replace(" ", "")));
            more.appendChild(a);
          }
          refit();
        })
        .catch(function () { more.textContent = ""; refit(); });
    }

    // -- local authorities (GeoJSON: drawn at every zoom, shaded at low zooms only) -------------
    var selected = {};
    (cfg.selected || []).forEach(function (c) { selected[c] = true; });
    function laFilled() { return Math.round(map.getZoom()) < cfg.laFilledBelow; }
    var la = L.geoJSON(cfg.authorities, {
      style: function (f) { return areaStyle(f.properties, selected[f.properties.code], laFilled()); },
      onEachFeature: function (f, layer) {
        var p = f.properties;
        var tip = el("div");
        tip.appendChild(el("strong", p.label));
        tip.appendChild(el("div", T.share_below + ": " + p.share_text));
        tip.appendChild(el("div", T.premises + ": " + p.premises_text));
        tip.appendChild(el("div", T.postcodes + ": " + p.postcodes_text));
        layer.bindTooltip(tip, {sticky: true});
        layer.on("click", function (e) {
          L.popup({maxWidth: 320}).setLatLng(e.latlng).setContent(areaPopup(p, T.level_la)).openOn(map);
        });
        layer.on("mouseover", function () { layer.setStyle({weight: 3}); });
        layer.on("mouseout", function () { la.resetStyle(layer); });
      }
    });
    state.layers.la = la;
    map.on("zoomend", function () { la.setStyle(function (f) {
      return areaStyle(f.properties, selected[f.properties.code], laFilled()); }); });

    // -- vector tile layers ---------------------------------------------------------------
    function areaGrid(id, url, archiveLayer, layerName, levelName, minZoom, maxZoom) {
      var styles = {};
      styles[layerName] = function (p) { return areaStyle(p, false, true); };
      var grid = tileLayer(cfg, url, archiveLayer, layerName, L.extend(wholeZooms(minZoom, maxZoom), {
        interactive: true, vectorTileLayerStyles: styles, pane: "overlayPane",
        getFeatureId: function (f) { return f.properties.code; }
      })).on("click", function (e) {
        L.popup({maxWidth: 320}).setLatLng(e.latlng).setContent(areaPopup(e.layer.properties, levelName)).openOn(map);
      });
      state.layers[id] = grid;
      return grid;
    }
    // several grids can make one layer of the panel (hexagons of two sizes at their zooms)
    cfg.grids.forEach(function (g) {
      var grid = areaGrid(g.id, g.url, g.archiveLayer, g.layer, g.name, g.minZoom, g.maxZoom);
      delete state.layers[g.id];
      if (!state.layers[g.group]) state.layers[g.group] = L.layerGroup();
      state.layers[g.group].addLayer(grid);
    });

    var premises = premisesLayer(cfg, cfg.premisesTiles, cfg.premisesMinZoom, premisesStyle,
                                 premisesPopup);
    state.layers.premises = premises;

    // -- the panel: layers and theme ------------------------------------------------------
    function setLayer(id, on) {
      var layer = state.layers[id];
      if (!layer) return;
      if (on && !map.hasLayer(layer)) layer.addTo(map);
      if (!on && map.hasLayer(layer)) map.removeLayer(layer);
    }
    // GridLayer.redraw() ignores the layer's zoom range (and would ask for tiles at fractional
    // zooms): redraw only grids drawn now; the others restyle when their tiles are next made.
    function redrawGrid(grid) {
      var z = Math.round(map.getZoom());
      if (!grid.redraw || !map.hasLayer(grid)) return;
      if (grid.options.minZoom !== undefined && z < grid.options.minZoom) return;
      if (grid.options.maxZoom !== undefined && z > grid.options.maxZoom) return;
      grid.redraw();
    }
    function restyle() {
      la.setStyle(function (f) { return areaStyle(f.properties, selected[f.properties.code], laFilled()); });
      Object.keys(state.layers).forEach(function (id) {
        var layer = state.layers[id];
        if (layer === la || !map.hasLayer(layer)) return;
        if (layer.redraw) redrawGrid(layer);
        else layer.eachLayer(redrawGrid);
      });
      document.querySelectorAll("[data-legend]").forEach(function (node) {
        node.hidden = node.getAttribute("data-legend") !== state.theme;
      });
    }
    GapMap.setTheme = function (theme) {
      if (!cfg.themes[theme]) return;
      state.theme = theme;
      if (theme === "wimd") {
        var box = document.querySelector("input[name=layer][value=lsoa]");
        if (box && !box.checked) { box.checked = true; setLayer("lsoa", true); }
      }
      restyle();
    };
    GapMap.setLayer = setLayer;
    document.querySelectorAll("input[name=layer]").forEach(function (box) {
      setLayer(box.value, box.checked);
      box.addEventListener("change", function () { setLayer(box.value, box.checked); });
    });
    document.querySelectorAll("input[name=theme]").forEach(function (radio) {
      if (radio.checked) state.theme = radio.value;
      radio.addEventListener("change", function () { if (radio.checked) GapMap.setTheme(radio.value); });
    });
    restyle();
    if (!document.querySelector("input[name=layer]")) {  // no panel (small maps): defaults
      la.addTo(map);
      premises.addTo(map);
    }

    // -- where to look first --------------------------------------------------------------
    if (cfg.view) {
      map.setView([cfg.view.lat, cfg.view.lon], cfg.view.zoom);
      if (cfg.view.label) {
        L.circleMarker([cfg.view.lat, cfg.view.lon], {radius: 10, color: "#1b1b1b", weight: 3, fill: false})
          .bindTooltip(el("span", cfg.view.label)).addTo(map);  // the label comes from the URL: text only
      }
    } else if (cfg.selected && cfg.selected.length) {
      var bounds = null;
      la.eachLayer(function (l) {
        if (selected[l.feature.properties.code]) bounds = bounds ? bounds.extend(l.getBounds()) : l.getBounds();
      });
      if (bounds) map.fitBounds(bounds);
    }
    baseMap(map, cfg);  // once the view is set: it asks for the labels of what is in view
    GapMap.state = state;
    return state;
  };

  window.GapMap = GapMap;
})();
