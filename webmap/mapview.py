"""The map itself, composed with folium and rendered into our own page.

folium writes the Leaflet set-up; we render its element and script into ``map.html`` (not folium's
own page head, which disables pinch-zoom and links CDNs) and point it at the vendored Leaflet, so
the map needs no network. Online base tiles are added only when the setting asks for them.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import folium
from branca.element import MacroElement
from flask_babel import format_decimal
from flask_babel import gettext as _
from jinja2 import Template

from connectivity.settings import Settings

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
WALES_BOUNDS = [[51.33, -5.35], [53.45, -2.64]]



class _PremisesTiles(MacroElement):
    """Every premises from zoom 11, as vector tiles coloured by status (Leaflet.VectorGrid)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var premisesColours = {{ this.colours|tojson }};
        L.vectorGrid.protobuf({{ this.url|tojson }}, {
            maxNativeZoom: 16, maxZoom: 18, interactive: true,
            getFeatureId: function (f) { return f.properties.uprn; },
            vectorTileLayerStyles: {
                premises: function (p, zoom) {
                    return {radius: zoom >= 15 ? 5 : 3, weight: 1, color: "#333333",
                            fill: true, fillOpacity: 0.9,
                            fillColor: premisesColours[p.status] || "#ffffff"};
                }
            }
        }).on("click", function (e) {
            var p = e.layer.properties;
            L.popup().setLatLng(e.latlng).setContent(
                {{ this.popup_template|tojson }}
                    .replace("{status}", {{ this.status_names|tojson }}[p.status] || p.status)
                    .replace("{down}", p.best_down == null ? "?" : p.best_down)
                    .replace("{uprn}", p.uprn)
            ).openOn({{ this._parent.get_name() }});
        }).addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, url: str, status_names: dict[str, str], popup_template: str):
        super().__init__()
        self._name = "PremisesTiles"
        self.url, self.colours = url, STATUS_COLOURS
        self.status_names, self.popup_template = status_names, popup_template


class _Controls(MacroElement):
    """Zoom buttons and attribution with translated labels (Leaflet's are English only)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        L.control.zoom({
            zoomInTitle: {{ this.zoom_in|tojson }},
            zoomOutTitle: {{ this.zoom_out|tojson }}
        }).addTo({{ this._parent.get_name() }});
        {{ this._parent.get_name() }}.attributionControl.setPrefix(false);
        {{ this._parent.get_name() }}.attributionControl.addAttribution({{ this.attribution|tojson }});
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


@dataclasses.dataclass
class LegendClass:
    colour: str
    low: int
    high: int


@dataclasses.dataclass
class RenderedMap:
    name: str  # the JavaScript variable holding the Leaflet map
    html: str
    script: str
    js: list[str]
    css: list[str]
    legend: list[LegendClass]
    measure: str  # what the areas are shaded by: "share_below" or "postcodes"
    statuses: list[tuple[str, str, str]]  # (status, colour, name) for the premises legend


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


def status_names() -> dict[str, str]:
    return {"below": _("Below 30 Mbit/s"), "possibly_below": _("Possibly below 30 Mbit/s"),
            "above": _("30 Mbit/s or more"), "unknown": _("No evidence yet")}


def build_map(
    geojson: dict[str, Any], lang: str, settings: Settings, static_url, synthetic: bool = False,
    tiles_url: str | None = None,
) -> RenderedMap:
    """A Leaflet map of the areas in ``geojson`` shaded by the share of premises below 30 Mbit/s
    (by postcode count while nothing is classified), premises tiles from zoom 11, in ``lang``."""
    features = geojson["features"]
    classified = any(f["properties"].get("premises") for f in features)
    measure = "share_below" if classified else "postcodes"
    if classified:
        breaks, palette = SHARE_BREAKS, NEED_PALETTE
    else:
        breaks = class_breaks([f["properties"]["postcodes"] for f in features])
        palette = PALETTE
    other = other_language(lang)
    for feature in features:
        props = feature["properties"]
        name = area_name(props, lang)
        alt = area_name(props, other)
        props["label"] = name if alt == name else f"{name} ({alt})"
        props["postcodes_text"] = format_decimal(props["postcodes"])
        props["premises_text"] = format_decimal(props["premises"])
        if classified and props.get("premises"):
            share = 100 * props["share_below"]
            props["share_text"] = format_decimal(round(share, 1)) + " %"
            props["fill"] = _colour(share, breaks, palette)
        elif classified:
            props["share_text"] = _("no premises loaded")
            props["fill"] = NO_DATA
        else:
            props["share_text"] = "-"
            props["fill"] = _colour(props["postcodes"], breaks, palette)

    fmap = folium.Map(
        location=[52.35, -3.9], zoom_start=8, tiles=None, zoom_control=False,
        control_scale=True, prefer_canvas=False, min_zoom=6, max_zoom=18, zoom_snap=0.25,
    )
    fmap.default_js = [("leaflet", static_url("vendor/leaflet/leaflet.js")),
                       ("vectorgrid", static_url("vendor/leaflet.vectorgrid/Leaflet.VectorGrid.bundled.min.js"))]
    fmap.default_css = [("leaflet_css", static_url("vendor/leaflet/leaflet.css"))]
    attribution = _(
        "Boundaries and postcodes: © Crown copyright and database right 2025 (OS, Royal Mail, "
        "ONS), OGL v3"
    )
    if synthetic:
        attribution = _("Synthetic demo premises and speeds") + " | " + attribution
    if settings.online_basemap:
        folium.TileLayer(settings.basemap_url, attr=settings.basemap_attribution,
                         name=_("Base map"), max_zoom=19).add_to(fmap)
    folium.GeoJson(
        geojson,
        name=_("Local authorities"),
        style_function=lambda f: {
            "fillColor": f["properties"]["fill"], "color": OUTLINE, "weight": 1,
            "fillOpacity": 0.75,
        },
        highlight_function=lambda f: {"weight": 3, "fillOpacity": 0.9},
        tooltip=folium.GeoJsonTooltip(
            fields=["label", "share_text", "premises_text", "postcodes_text"],
            aliases=[_("Local authority"), _("Share below 30 Mbit/s"), _("Premises"),
                     _("Postcodes")],
            sticky=True,
        ),
    ).add_to(fmap)
    names = status_names()
    if tiles_url and classified:
        _PremisesTiles(tiles_url, names,
                       _("UPRN {uprn}: {status}, best download {down} Mbit/s")).add_to(fmap)
    _Controls(_("Zoom in"), _("Zoom out"), attribution,
              _("Map of Welsh local authorities")).add_to(fmap)
    fmap.fit_bounds(WALES_BOUNDS)

    root = fmap.get_root()
    root.render()
    legend = []
    low = 0
    for colour, upper in zip(palette, breaks, strict=True):
        legend.append(LegendClass(colour, low, upper))
        low = upper if classified else upper + 1
    return RenderedMap(
        name=fmap.get_name(),
        html=root.html.render(),
        script=root.script.render(),
        js=[url for _n, url in fmap.default_js],
        css=[url for _n, url in fmap.default_css],
        legend=legend,
        measure=measure,
        statuses=[(k, STATUS_COLOURS[k], v) for k, v in names.items()] if classified else [],
    )


def _colour(value: float, breaks: list[int], palette: list[str]) -> str:
    for colour, upper in zip(palette, breaks, strict=True):
        if value <= upper:
            return colour
    return palette[-1]


def build_postcode_map(lat: float, lon: float, label: str, lang: str, static_url,
                       tiles_url: str, synthetic: bool) -> RenderedMap:
    """A small map of one postcode: its premises (vector tiles, by status) around the centroid."""
    fmap = folium.Map(location=[lat, lon], zoom_start=16, tiles=None, zoom_control=False,
                      control_scale=True, min_zoom=11, max_zoom=18, zoom_snap=0.25)
    fmap.default_js = [("leaflet", static_url("vendor/leaflet/leaflet.js")),
                       ("vectorgrid", static_url("vendor/leaflet.vectorgrid/Leaflet.VectorGrid.bundled.min.js"))]
    fmap.default_css = [("leaflet_css", static_url("vendor/leaflet/leaflet.css"))]
    names = status_names()
    _PremisesTiles(tiles_url, names,
                   _("UPRN {uprn}: {status}, best download {down} Mbit/s")).add_to(fmap)
    folium.CircleMarker([lat, lon], radius=9, color="#1b1b1b", weight=3, fill=False,
                        tooltip=label).add_to(fmap)
    attribution = _("Boundaries and postcodes: © Crown copyright and database right 2025 (OS, "
                    "Royal Mail, ONS), OGL v3")
    if synthetic:
        attribution = _("Synthetic demo premises and speeds") + " | " + attribution
    _Controls(_("Zoom in"), _("Zoom out"), attribution, _("Map of the postcode")).add_to(fmap)
    root = fmap.get_root()
    root.render()
    return RenderedMap(
        name=fmap.get_name(), html=root.html.render(), script=root.script.render(),
        js=[url for _n, url in fmap.default_js], css=[url for _n, url in fmap.default_css],
        legend=[], measure="premises",
        statuses=[(k, STATUS_COLOURS[k], v) for k, v in names.items()],
    )
