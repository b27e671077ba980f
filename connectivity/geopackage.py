"""What every GeoPackage the project writes shares: the version GDAL writes (1.3, which Debian's
GDAL 3.6 and QGIS 3.22 open without a warning; 1.4 "may only be partially supported" there) and
the QGIS layer styles embedded in it (the ``layer_styles`` table QGIS reads, so layers open
coloured rather than in QGIS's random default)."""

from __future__ import annotations

import html
import sqlite3
from pathlib import Path

from .vocab import STATUSES

#: GDAL's creation options of a GeoPackage 1.3 (``PRAGMA user_version`` 10300)
GPKG_OPTIONS = {"VERSION": "1.3"}

#: the colours of the map's legend, by status ("r,g,b")
STATUS_COLOURS = {"below": "215,48,39", "possibly_below": "252,141,89", "above": "26,152,80",
                  "unknown": "150,150,150"}


def categorised_qml(attribute: str, categories: dict[str, str], kind: str,
                    labels: dict[str, str]) -> str:
    """A QGIS style (QML) colouring ``kind`` symbols (``marker`` or ``fill``) by the value of
    ``attribute``: ``categories`` maps each value to its colour, ``labels`` to its legend text."""
    cats = "".join(f'<category render="true" symbol="{i}" value="{v}" label="{html.escape(labels.get(v, v))}"/>'
                   for i, v in enumerate(categories))
    layer = {"marker": "SimpleMarker", "fill": "SimpleFill"}[kind]
    symbols = "".join(
        f'<symbol name="{i}" type="{kind}" alpha="1"><layer class="{layer}" enabled="1">'
        f'<Option type="Map"><Option name="color" type="QString" value="{c},{180 if kind == "fill" else 255}"/>'
        f'<Option name="outline_color" type="QString" value="{c},255"/>'
        + ('<Option name="name" type="QString" value="circle"/><Option name="size" type="QString" value="2"/>'
           if kind == "marker" else "")
        + f'</Option><prop k="color" v="{c},{180 if kind == "fill" else 255}"/>'
          f'<prop k="outline_color" v="{c},255"/></layer></symbol>'
        for i, c in enumerate(categories.values()))
    return ('<!DOCTYPE qgis PUBLIC \'http://mrcc.com/qgis.dtd\' \'SYSTEM\'>'
            '<qgis version="3.28" styleCategories="Symbology">'
            f'<renderer-v2 type="categorizedSymbol" attr="{attribute}" enableorderby="0" '
            f'forceraster="0"><categories>{cats}</categories><symbols>{symbols}</symbols>'
            '</renderer-v2></qgis>')


def status_style() -> tuple[str, str]:
    """(style name, QML) of premises points by status, in the map's colours."""
    return "status", categorised_qml("status", STATUS_COLOURS, "marker",
                                     {s: STATUSES.name(s, "en") for s in STATUSES.codes})


def add_styles(path: Path, styles: dict[str, tuple[str, str]]) -> None:
    """Embed each ``{layer: (style name, QML)}`` as the layer's default style in the GeoPackage
    at ``path`` (the ``layer_styles`` table, registered in gpkg_contents as attributes)."""
    with sqlite3.connect(path) as db:
        db.execute("""CREATE TABLE IF NOT EXISTS layer_styles (
            id INTEGER PRIMARY KEY AUTOINCREMENT, f_table_catalog TEXT(256),
            f_table_schema TEXT(256), f_table_name TEXT(256), f_geometry_column TEXT(256),
            styleName TEXT(30), styleQML TEXT, styleSLD TEXT, useAsDefault BOOLEAN,
            description TEXT, owner TEXT(30), ui TEXT(30), update_time DATETIME DEFAULT
            (strftime('%Y-%m-%dT%H:%M:%fZ','now')))""")
        for layer, (style, qml) in styles.items():
            geom = db.execute("SELECT column_name FROM gpkg_geometry_columns WHERE table_name = ?",
                              (layer,)).fetchone()[0]
            db.execute("INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, "
                       "f_geometry_column, styleName, styleQML, styleSLD, useAsDefault, "
                       "description) VALUES ('', '', ?, ?, ?, ?, '', 1, ?)",
                       (layer, geom, style, qml, f"{layer} by {style}"))
        db.execute("INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier) "
                   "VALUES ('layer_styles', 'attributes', 'layer_styles')")
    Path(f"{path}-journal").unlink(missing_ok=True)
