"""The map itself, composed with folium and rendered into our own page.

folium writes the Leaflet set-up; we render its element and script into ``map.html`` (not folium's
own page head, which disables pinch-zoom and links CDNs) and point it at the vendored Leaflet, so
the map needs no network. Online base tiles are added only when the setting asks for them.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import folium
from branca.element import MacroElement
from flask_babel import format_decimal
from flask_babel import gettext as _
from jinja2 import Template

from connectivity.lookup import TILE_MIN_ZOOM
from connectivity.settings import Settings
from connectivity.vocab import AREA_LEVELS, ELIGIBILITY, EVIDENCE, STATISTICS_LEVELS, STATUSES

from .i18n import area_name, other_language

# ColorBrewer YlGnBu, 5 classes: light to dark, each darker than the one before.
PALETTE = ["#ffffcc", "#a1dab4", "#41b6c4", "#2c7fb8", "#253494"]
# ColorBrewer YlOrRd for the share of premises below 30 Mbit/s: more red, more need.
NEED_PALETTE = ["#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026"]
NO_DATA = "#d9d9d9"
#: premises points by status (distinct in hue and lightness, outlined in dark grey)
STATUS_COLOURS = {"below": "#d7191c", "possibly_below": "#fdae61", "above": "#2c7bb6",
                  "unknown": "#ffffff"}
#: fixed classes for the share below 30 Mbit/s (upper bounds, %), so maps of two releases compare
SHARE_BREAKS = [1, 3, 10, 25, 100]
OUTLINE = "#333333"
#: ColorBrewer Purples: the share eligible for a scheme
SCHEME_PALETTE = ["#f2f0f7", "#cbc9e2", "#9e9ac8", "#756bb1", "#54278f"]
#: ColorBrewer Greens: the share in a planned build
PLANNED_PALETTE = ["#edf8e9", "#bae4b3", "#74c476", "#31a354", "#006d2c"]
PLANNED_BREAKS = [5, 10, 25, 50, 100]
#: ColorBrewer BrBG (5): most deprived quintile darkest brown, least deprived teal
WIMD_PALETTE = ["#a6611a", "#dfc27d", "#f5f5f5", "#80cdc1", "#018571"]
ELIGIBILITY_COLOURS = {"eligible": "#54278f", "possibly": "#9e9ac8", "not_eligible": "#f0f0f0",
                       "unknown": "#ffffff"}
PLANNED_COLOURS = {"yes": "#006d2c", "no": "#f0f0f0"}
PREMISES_MIN_ZOOM = 12
WALES_BOUNDS = [[51.33, -5.35], [53.45, -2.64]]
#: the offline base map's script (another module's): linked only when it is there
BASEMAP_JS = Path(__file__).parent / "static/js/basemap.js"



class _GapLayers(MacroElement):
    """The map's layers, all in static/js/gapmap.js: ``GapMap.init`` (the main map's layers and
    themes) or ``GapMap.postcode`` (a postcode's premises), called with their settings."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        GapMap.{{ this.entry }}({{ this._parent.get_name() }}, {{ this.config|tojson }});
        {% endmacro %}
        """
    )

    def __init__(self, entry: str, config: dict[str, Any]):
        super().__init__()
        self._name = "GapLayers"
        self.entry, self.config = entry, config


class _Controls(MacroElement):
    """Zoom buttons with translated labels (Leaflet's are English only), and the attribution
    folded behind a small button (GapMap.attribution), so it covers neither a small map nor the
    scale bar."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        L.control.zoom({
            zoomInTitle: {{ this.zoom_in|tojson }},
            zoomOutTitle: {{ this.zoom_out|tojson }}
        }).addTo({{ this._parent.get_name() }});
        GapMap.attribution({{ this._parent.get_name() }}, {{ this.attribution|tojson }},
                           {{ this.sources|tojson }});
        {{ this._parent.get_name() }}.getContainer().setAttribute("aria-label", {{ this.label|tojson }});
        {{ this._parent.get_name() }}.getContainer().setAttribute("role", "region");
        {% endmacro %}
        """
    )

    def __init__(self, zoom_in: str, zoom_out: str, attribution: str, label: str):
        super().__init__()
        self._name = "Controls"
        self.zoom_in, self.zoom_out = zoom_in, zoom_out
        self.attribution, self.label = attribution, label
        self.sources = _("Map data sources and copyright")


@dataclasses.dataclass
class LegendClass:
    colour: str
    low: int
    high: int


@dataclasses.dataclass
class Theme:
    """One way of colouring the map: areas by ``area`` (a statistic; ``percent`` when a share),
    premises by ``premises`` (a property of the premises tiles), with their legends."""

    id: str
    label: str
    area: str
    percent: bool
    breaks: list[int]
    palette: list[str]
    premises: str
    legend_title: str
    legend: list[tuple[str, str]]  # (colour, text)
    premises_legend: list[tuple[str, str]]
    needs_premises: bool = True

    def js(self) -> dict[str, Any]:
        return {"area": self.area, "percent": self.percent, "breaks": self.breaks,
                "palette": self.palette, "premises": self.premises,
                "needsPremises": self.needs_premises}


@dataclasses.dataclass
class RenderedMap:
    name: str  # the JavaScript variable holding the Leaflet map
    html: str
    script: str
    js: list[str]
    css: list[str]
    legend: list[LegendClass]
    measure: str  # what the areas are shaded by: "share_below", "postcodes" or "premises"
    statuses: list[tuple[str, str, str]]  # (status, colour, name) for the premises legend
    themes: list[Theme] = dataclasses.field(default_factory=list)
    theme: str = ""
    layers: list[tuple[str, str, bool]] = dataclasses.field(default_factory=list)  # id, label, on


def class_breaks(values: list[int], classes: int = len(PALETTE)) -> list[int]:
    """Upper bounds of ``classes`` quantile classes (the last is the maximum)."""
    if not values:
        return [0] * classes
    ordered = sorted(values)
    breaks = []
    for k in range(1, classes + 1):
        index = min(len(ordered) - 1, math.ceil(k * len(ordered) / classes) - 1)
        breaks.append(ordered[index])
    return breaks


def _share_legend(palette: list[str], breaks: list[int]) -> list[tuple[str, str]]:
    out, low = [], 0
    for colour, high in zip(palette, breaks, strict=True):
        out.append((colour, _("%(low)s to %(high)s", low=format_decimal(low),
                              high=format_decimal(high)) + " %"))
        low = high
    return out


def themes(wimd_count: int, lang: str) -> list[Theme]:
    """The map's themes. Shares use fixed classes (SHARE_BREAKS) so two releases compare;
    deprivation uses WIMD rank quintiles of ``wimd_count`` LSOAs (rank 1 = most deprived)."""
    eligibility = [(ELIGIBILITY_COLOURS[k], v) for k, v in ELIGIBILITY.names(lang).items()]
    by_status = [(STATUS_COLOURS[k], v) for k, v in STATUSES.names(lang).items()]
    quintiles = [max(1, round(wimd_count * k / 5)) for k in range(1, 6)]
    wimd_legend = [(WIMD_PALETTE[0], _("Most deprived 20 %")),
                   (WIMD_PALETTE[1], _("20 to 40 %")), (WIMD_PALETTE[2], _("40 to 60 %")),
                   (WIMD_PALETTE[3], _("60 to 80 %")),
                   (WIMD_PALETTE[4], _("Least deprived 20 %"))]
    return [
        Theme("need", _("Below 30 Mbit/s"), "share_below", True, SHARE_BREAKS, NEED_PALETTE,
              "status", _("Share of premises below 30 Mbit/s"),
              _share_legend(NEED_PALETTE, SHARE_BREAKS), by_status),
        Theme("abc", _("Access Broadband Cymru"), "share_abc", True, SHARE_BREAKS,
              SCHEME_PALETTE, "eligible_abc",
              _("Share of premises eligible or possibly eligible for Access Broadband Cymru"),
              _share_legend(SCHEME_PALETTE, SHARE_BREAKS), eligibility),
        Theme("lbf", _("Local Broadband Fund targets"), "share_lbf", True, SHARE_BREAKS,
              SCHEME_PALETTE, "eligible_lbf",
              _("Share of premises a Local Broadband Fund project could target"),
              _share_legend(SCHEME_PALETTE, SHARE_BREAKS), eligibility),
        Theme("planned", _("Planned build"), "share_planned", True, PLANNED_BREAKS,
              PLANNED_PALETTE, "planned_build",
              _("Share of premises in a planned gigabit build"),
              _share_legend(PLANNED_PALETTE, PLANNED_BREAKS),
              [(PLANNED_COLOURS["yes"], _("In a planned build")),
               (PLANNED_COLOURS["no"], _("No build planned"))]),
        Theme("wimd", _("Deprivation (WIMD 2019)"), "wimd_rank", False, quintiles, WIMD_PALETTE,
              "status", _("Welsh Index of Multiple Deprivation 2019, by LSOA"), wimd_legend,
              by_status, needs_premises=False),
    ]


def _map(location, zoom: int, static_url, min_zoom: int, archive: bool = False) -> folium.Map:
    """A folium map with the vendored scripts; with ``archive``, the PMTiles reader and our
    VectorGrid layer over it (static/js/pmtiles-grid.js) as well."""
    fmap = folium.Map(location=location, zoom_start=zoom, tiles=None, zoom_control=False,
                      control_scale=True, prefer_canvas=False, min_zoom=min_zoom, max_zoom=18,
                      zoom_snap=0.25)
    fmap.default_js = [("leaflet", static_url("vendor/leaflet/leaflet.js")),
                       ("vectorgrid", static_url("vendor/leaflet.vectorgrid/Leaflet.VectorGrid.bundled.min.js")),
                       *([("pmtiles", static_url("vendor/pmtiles/pmtiles.js")),
                          ("pmtiles_grid", static_url("js/pmtiles-grid.js"))] if archive else []),
                       ("gapmap", static_url("js/gapmap.js")),
                       *([("basemap", static_url("js/basemap.js"))] if BASEMAP_JS.exists() else [])]
    fmap.default_css = [("leaflet_css", static_url("vendor/leaflet/leaflet.css"))]
    return fmap


def _base(lang: str) -> dict[str, str]:
    """What static/js/basemap.js (GapMapBase: the offline land shading and labels) reads."""
    return {"lang": lang, "landUrl": "/api/v1/base/land.geojson",
            "labelsUrl": "/api/v1/base/labels.geojson"}


def _attribution(synthetic: bool) -> str:
    attribution = _(
        "Boundaries and postcodes: © Crown copyright and database right 2025 (OS, Royal Mail, "
        "ONS), OGL v3"
    ) + " | " + _("Places: © OpenStreetMap contributors, ODbL") + " | " + _(
        "WIMD 2019: Welsh Government, OGL v3")
    if synthetic:
        attribution = _("Synthetic demo premises and speeds") + " | " + attribution
    return attribution


def _render(fmap: folium.Map, **fields) -> RenderedMap:
    root = fmap.get_root()
    root.render()
    return RenderedMap(name=fmap.get_name(), html=root.html.render(),
                       script=root.script.render(),
                       js=[url for _n, url in fmap.default_js],
                       css=[url for _n, url in fmap.default_css], **fields)


def build_map(
    geojson: dict[str, Any], lang: str, settings: Settings, static_url, synthetic: bool = False,
    urls: dict[str, str] | None = None, selected: list[str] | None = None,
    view: dict[str, Any] | None = None, theme: str = "need", wimd_count: int = 0,
) -> RenderedMap:
    """The main map: authorities shaded by the chosen theme (by postcode count while nothing is
    classified), wards, LSOAs and hexagons at middle zooms, premises from zoom 12, in ``lang``.

    ``urls`` holds the tile URL templates (premises, areas, hex) and the page links the popups
    use; ``selected`` the authorities to outline and fit; ``view`` a place to centre on."""
    urls = urls or {}
    features = geojson["features"]
    classified = any(f["properties"].get("premises") for f in features)
    all_themes = themes(wimd_count, lang) if classified else []
    if classified:
        measure, breaks, palette = "share_below", SHARE_BREAKS, NEED_PALETTE
    else:
        measure, palette = "postcodes", PALETTE
        breaks = class_breaks([f["properties"]["postcodes"] for f in features])
    other = other_language(lang)
    for feature in features:
        props = feature["properties"]
        name = area_name(props, lang)
        alt = area_name(props, other)
        props["label"] = name if alt == name else f"{name} ({alt})"
        props["postcodes_text"] = format_decimal(props["postcodes"])
        props["premises_text"] = format_decimal(props["premises"])
        if classified and props.get("premises"):
            props["share_text"] = format_decimal(round(100 * props["share_below"], 1)) + " %"
        elif classified:
            props["share_text"] = _("no premises loaded")
        else:
            props["share_text"] = "-"

    archive = settings.tiles_archive_url
    fmap = _map([52.35, -3.9], 8, static_url, 6, archive=bool(archive))
    if settings.online_basemap:
        folium.TileLayer(settings.basemap_url, attr=settings.basemap_attribution,
                         name=_("Base map"), max_zoom=19).add_to(fmap)
    names = STATUSES.names(lang)
    js_themes = {t.id: t.js() for t in all_themes} or {
        "postcodes": {"area": "postcodes", "percent": False, "breaks": breaks,
                      "palette": palette, "premises": "status", "needsPremises": False}}
    text = {
        "premises": _("Premises"), "postcodes": _("Postcodes"),
        "share_below": _("Share below 30 Mbit/s"),
        "expected_below": _("Expected below 30 Mbit/s"),
        "abc": _("Eligible for Access Broadband Cymru (incl. possibly)"),
        "lbf": _("Local Broadband Fund targets (incl. possibly)"),
        "planned": _("In a planned build"), "wimd": _("WIMD 2019 rank (1 = most deprived)"),
        "area_link": _("Select this authority and show its figures"), "uprn": _("UPRN"), "status": _("Status"),
        "best_down": _("Best download"), "evidence": _("Evidence"), "release": _("Release:"),
        "planned_build": _("In a planned gigabit build"), "loading": _("Loading…"),
        "postcode_link": _("Everything at postcode"),
        **{f"level_{level}": AREA_LEVELS.name(level, lang) for level in ("la", "ward", "lsoa")},
        "level_hex": STATISTICS_LEVELS.name("hex", lang),
    }
    grids = [
        {"id": "ward", "archiveLayer": "ward", "group": "ward", "layer": "ward", "name": text["level_ward"],
         "url": urls.get("areas", "").replace("LEVEL", "ward"), "minZoom": 9, "maxZoom": 14},
        {"id": "lsoa", "archiveLayer": "lsoa", "group": "lsoa", "layer": "lsoa", "name": text["level_lsoa"],
         "url": urls.get("areas", "").replace("LEVEL", "lsoa"), "minZoom": 9, "maxZoom": 14},
        {"id": "hex2000", "archiveLayer": "hex2000", "group": "hex", "layer": "hex", "name": text["level_hex"] + " 2 km",
         "url": urls.get("hex", "").replace("SIZE", "2000"), "minZoom": 10, "maxZoom": 10},
        {"id": "hex500", "archiveLayer": "hex500", "group": "hex", "layer": "hex", "name": text["level_hex"] + " 500 m",
         "url": urls.get("hex", "").replace("SIZE", "500"), "minZoom": 11, "maxZoom": 11},
    ] if classified else []
    config = {
        "lang": lang, "theme": theme if theme in js_themes else next(iter(js_themes)),
        "themes": js_themes, "minZoom": 6, "maxZoom": 18, "noData": NO_DATA, "outline": OUTLINE, "laFilledBelow": 10,
        "premisesColours": {"status": STATUS_COLOURS, "eligible_abc": ELIGIBILITY_COLOURS,
                            "eligible_lbf": ELIGIBILITY_COLOURS, "planned_build": PLANNED_COLOURS},
        "authorities": geojson, "grids": grids,
        "premisesTiles": urls.get("premises", "") if classified else "",
        "premisesMinZoom": PREMISES_MIN_ZOOM, "tilesArchive": archive,
        "premisesApi": urls.get("premises_api", ""), "postcodeUrl": urls.get("postcode", ""),
        "areaUrl": urls.get("area", ""),
        "text": text, "statusNames": names, "evidenceNames": EVIDENCE.names(lang),
        "selected": selected or [], "view": view,
        "onlineBasemap": bool(settings.online_basemap), "base": _base(lang),
    }
    _GapLayers("init", config).add_to(fmap)
    _Controls(_("Zoom in"), _("Zoom out"), _attribution(synthetic),
              _("Map of Welsh local authorities")).add_to(fmap)
    if not view and not selected:
        fmap.fit_bounds(WALES_BOUNDS)

    legend = []
    low = 0
    for colour, upper in zip(palette, breaks, strict=True):
        legend.append(LegendClass(colour, low, upper))
        low = upper if classified else upper + 1
    layers = [("la", _("Local authorities"), True), ("ward", _("Wards"), False),
              ("lsoa", _("LSOAs (small areas)"), False), ("hex", _("Hexagons"), True),
              ("premises", _("Premises (from zoom 12)"), True)] if classified else []
    return _render(fmap, legend=legend, measure=measure,
                   statuses=[(k, STATUS_COLOURS[k], v) for k, v in names.items()] if classified else [],
                   themes=all_themes, theme=config["theme"], layers=layers)


def build_postcode_map(lat: float, lon: float, label: str, lang: str, static_url,
                       tiles_url: str, synthetic: bool, archive_url: str = "", *,
                       bounds: list[list[float]] | None = None, postcode: str = "",
                       report_url: str = "", online_basemap: bool = False) -> RenderedMap:
    """A small map of one postcode: every premises (vector tiles, by status), those of
    ``postcode`` drawn larger and the others smaller and paler; fitted to ``bounds``
    ([[south, west], [north, east]], WGS84: lookup.postcode_detail's), or around the centroid
    when there are none. From the PMTiles archive at ``archive_url`` when one is named; with
    ``report_url``, each premises' popup links to it (``?uprn=``)."""
    fmap = _map([lat, lon], 16, static_url, TILE_MIN_ZOOM, archive=bool(archive_url))
    names = STATUSES.names(lang)
    _GapLayers("postcode", {
        "lang": lang, "premisesTiles": tiles_url, "premisesMinZoom": TILE_MIN_ZOOM,
        "tilesArchive": archive_url, "postcode": postcode, "bounds": bounds,
        "maxZoom": 18, "reportUrl": report_url, "onlineBasemap": online_basemap,
        "base": _base(lang),
        "statusColours": STATUS_COLOURS, "statusNames": names,
        "popup": _("UPRN {uprn}: {status}, best download {down} Mbit/s"),
        "reportText": _("Report a problem with this premises"),
    }).add_to(fmap)
    folium.CircleMarker([lat, lon], radius=9, color="#1b1b1b", weight=3, fill=False,
                        tooltip=label).add_to(fmap)
    _Controls(_("Zoom in"), _("Zoom out"), _attribution(synthetic),
              _("Map of the postcode")).add_to(fmap)
    return _render(fmap, legend=[], measure="premises",
                   statuses=[(k, STATUS_COLOURS[k], v) for k, v in names.items()])
