/* Intervention plans: the clusters on a map, coloured by cost per premises or by recommended
   option (a switch; each mark also carries its key's letter or number), a click on a cluster
   ticks or unticks its checkbox in the table (the form that saves the plan), and the table
   sorted in place (its header links sort on the server without this file). Everything but the
   map works without this file. */
(function () {
  "use strict";

  var OPTION_COLOURS = {fibre: "#2166ac", fixed_wireless: "#e69138", leo_satellite: "#762a83",
                        none: "#969696"};
  var BAND_COLOURS = ["#969696", "#006837", "#a6d96a", "#fdae61", "#a50026"];

  function clusterMap(section) {
    var data = JSON.parse(document.getElementById("plan-clusters").textContent);
    if (!window.L || !data.length) { return; }
    section.hidden = false;
    var map = L.map("plan-map", {zoomSnap: 0.5});
    var mode = "cost";
    var items = {};
    var all = L.featureGroup().addTo(map);

    function box(id) { return document.getElementById("choose-" + id); }
    function colour(d) { return mode === "cost" ? BAND_COLOURS[d.band] : OPTION_COLOURS[d.option]; }
    function mark(d) {
      var cls = mode === "cost" ? "band-" + d.band : "cat-" + d.option;
      var chosen = box(d.id) && box(d.id).checked ? " chosen" : "";
      return L.divIcon({className: "plan-mark cluster-" + d.id + " " + cls + chosen, iconSize: [20, 20],
                        html: mode === "cost" ? String(d.band || "?") : d.symbol});
    }
    function paint(d) {
      var item = items[d.id];
      var chosen = box(d.id) && box(d.id).checked;
      item.shape.setStyle({color: chosen ? "#0b0c0c" : colour(d), weight: chosen ? 4 : 2,
                           fillColor: colour(d), fillOpacity: 0.45});
      item.marker.setIcon(mark(d));
    }
    function toggle(d) {
      var b = box(d.id);
      if (!b) { return; }
      b.checked = !b.checked;
      b.dispatchEvent(new Event("change", {bubbles: true}));
    }

    data.forEach(function (d) {
      var shape = L.geoJSON(d.outline, {}).getLayers()[0];
      var marker = L.marker(shape.getBounds().getCenter(), {keyboard: false, title: d.title,
                                                            icon: mark(d)});
      shape.bindTooltip(d.title);
      [shape, marker].forEach(function (layer) {
        layer.on("click", function () { toggle(d); });
        all.addLayer(layer);
      });
      items[d.id] = {shape: shape, marker: marker, data: d};
      paint(d);
    });
    map.fitBounds(all.getBounds().pad(0.1));
    fetch("/api/v1/areas.geojson?level=la").then(function (r) { return r.json(); })
      .then(function (outlines) {
        L.geoJSON(outlines, {interactive: false, style: {color: "#555", weight: 1, fill: false}})
          .addTo(map).bringToBack();
      }).catch(function () { /* the outlines are a backdrop only */ });

    document.querySelectorAll("input[name=colour-by]").forEach(function (radio) {
      radio.addEventListener("change", function () {
        mode = radio.value;
        document.getElementById("legend-cost").hidden = mode !== "cost";
        document.getElementById("legend-option").hidden = mode !== "option";
        Object.keys(items).forEach(function (id) { paint(items[id].data); });
      });
    });
    document.addEventListener("change", function (e) {
      if (e.target.name === "cluster" && items[e.target.value]) { paint(items[e.target.value].data); }
    });
  }

  function chosenSummary(form) {
    var out = document.getElementById("chosen-summary");
    if (!out) { return; }
    function update() {
      var boxes = form.querySelectorAll("input[name=cluster]:checked");
      var premises = 0;
      boxes.forEach(function (b) {
        var cell = b.closest("tr").querySelector("td.num");
        premises += Number(cell.getAttribute("data-value")) || 0;
      });
      out.textContent = out.getAttribute("data-template")
        .replace("{clusters}", boxes.length.toLocaleString())
        .replace("{premises}", premises.toLocaleString());
    }
    form.addEventListener("change", update);
    update();
  }

  function sortable(table) {
    var heads = table.querySelectorAll("thead th");
    table.querySelectorAll("thead a.sort").forEach(function (link) {
      link.addEventListener("click", function (e) {
        e.preventDefault();
        var th = link.closest("th");
        var index = Array.prototype.indexOf.call(heads, th);
        var descending = th.getAttribute("aria-sort") === "ascending";
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        function value(row) { return row.cells[index].getAttribute("data-value"); }
        rows.sort(function (a, b) {
          if (a.dataset.id === "0" || b.dataset.id === "0") {  // the isolated premises: last
            return (a.dataset.id === "0") - (b.dataset.id === "0");
          }
          var x = value(a), y = value(b);
          if (x === "" || y === "") { return (x === "") - (y === "") || a.dataset.id - b.dataset.id; }
          var nx = Number(x), ny = Number(y);
          var c = (isNaN(nx) || isNaN(ny)) ? x.localeCompare(y) : nx - ny;
          return (descending ? -c : c) || a.dataset.id - b.dataset.id;
        });
        rows.forEach(function (row) { body.appendChild(row); });
        heads.forEach(function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", descending ? "descending" : "ascending");
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var section = document.getElementById("plan-map-section");
    if (section) { clusterMap(section); }
    var form = document.getElementById("plan-save");
    if (form) { chosenSummary(form); }
    var table = document.getElementById("cluster-table");
    if (table) { sortable(table); }
  });
})();
