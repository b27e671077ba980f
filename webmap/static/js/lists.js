/* Target lists: the live count of the list builder as its form changes, the polygon drawn on a
   map (Leaflet-Geoman) into the form's hidden "polygon" field (GeoJSON, WGS84), and a list's
   premises on a map. Everything but the drawing works without this file. */
(function () {
  "use strict";

  function authorities(map) {
    fetch("/api/v1/areas.geojson?level=la").then(function (r) { return r.json(); })
      .then(function (data) {
        var layer = L.geoJSON(data, {pmIgnore: true, interactive: false,
                                     style: {color: "#555", weight: 1, fill: false}}).addTo(map);
        if (!map._gapmapFitted) { map.fitBounds(layer.getBounds()); }
      }).catch(function () { /* the outlines are a backdrop only */ });
  }

  function builder(form) {
    var count = document.getElementById("live-count");
    var countUrl = form.getAttribute("data-count-url");
    var timer = null;
    function update() {
      var params = new URLSearchParams();
      new FormData(form).forEach(function (value, key) {
        if (key !== "csrf_token" && key !== "name" && key !== "notes" && typeof value === "string" && value !== "") {
          params.append(key, value);
        }
      });
      fetch(countUrl + "?" + params.toString(), {credentials: "same-origin"})
        .then(function (r) { return r.json(); })
        .then(function (data) {
          count.textContent = data.text || (data.error && data.error.message) || "";
        });
    }
    function later() { clearTimeout(timer); timer = setTimeout(update, 250); }
    form.addEventListener("change", later);
    form.addEventListener("input", later);

    var box = document.getElementById("list-map");
    if (!box || !window.L || !L.PM) { return; }
    box.hidden = false;
    var map = L.map(box, {zoomSnap: 0.5}).setView([52.3, -3.7], 7);
    authorities(map);
    var field = form.querySelector("input[name=polygon]");
    // the drawing tool's words come from the page (the translation catalogue), in its language
    var words = document.getElementById("draw-words");
    if (words) {
      map.pm.setLang("page", JSON.parse(words.textContent), "en");
    }
    map.pm.addControls({position: "topleft", drawMarker: false, drawCircleMarker: false,
                        drawPolyline: false, drawCircle: false, drawText: false,
                        cutPolygon: false, rotateMode: false});
    // Geoman's buttons are links named only by their container's title: name them for screen readers
    box.querySelectorAll(".leaflet-buttons-control-button").forEach(function (a) {
      var title = a.parentNode.getAttribute("title");
      if (title) { a.setAttribute("aria-label", title); }
    });
    var drawn = L.featureGroup();  // only what the officer drew, never the outlines
    function store() {
      var polys = drawn.toGeoJSON().features.filter(function (f) {
        return f.geometry && /Polygon$/.test(f.geometry.type);
      });
      field.value = polys.length ? JSON.stringify({type: "FeatureCollection", features: polys}) : "";
      later();
    }
    map.on("pm:create", function (e) {
      drawn.addLayer(e.layer);
      e.layer.on("pm:edit", store);
      store();
    });
    map.on("pm:remove", function (e) { drawn.removeLayer(e.layer); store(); });
  }

  function listMap(box) {
    // every premises of the snapshot (the table below shows one page of them), drawn on one
    // canvas: a list of every below-30 premises in Wales is about 120,000 points
    if (!window.L || !box.dataset.points) { return; }
    var colours = {below: "#d73027", possibly_below: "#fc8d59", above: "#1a9850", unknown: "#969696"};
    fetch(box.dataset.points, {credentials: "same-origin"})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data || !data.points.length) { return; }
        box.hidden = false;
        var map = L.map(box, {preferCanvas: true});
        map._gapmapFitted = true;
        var renderer = L.canvas({padding: 0.2});
        var layer = L.featureGroup(data.points.map(function (p) {
          var status = data.statuses[p[2]];
          return L.circleMarker([p[1], p[0]], {radius: 3, color: colours[status] || "#333",
                                              weight: 1, fillOpacity: 0.8, renderer: renderer})
            .bindTooltip(String(p[3]));
        })).addTo(map);
        map.fitBounds(layer.getBounds().pad(0.2));
        box.dataset.drawn = String(data.points.length);
        authorities(map);
      });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("list-builder");
    if (form) { builder(form); }
    var box = document.getElementById("list-premises-map");
    if (box) { listMap(box); }
  });
})();
