"""A plan's bid pack: one zip with

* ``plan.gpkg``: GeoPackage 1.3 in EPSG:27700 with the layers ``boundary`` (the union of the
  clusters' outlines), ``clusters`` (outlines with every figure) and ``premises`` (points with
  their cluster), each with an embedded QGIS style (``layer_styles``) so QGIS opens it coloured;
* ``premises.csv``: the premises, UTF-8 with a BOM and CRLF (Excel);
* ``summary.html``: a printable summary in Welsh and English (print CSS) naming the data
  releases, the cost model version with its sources, the network proxy and the attributions;
* ``summary.pdf``: the same page through WeasyPrint, when it can render here (else
  ``manifest.json`` says why).

Written to a temporary file and renamed; audited (``plan.export``) with the row counts."""

from __future__ import annotations

import csv
import datetime as dt
import html
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from ..costs import OPTION_NAMES, OPTIONS, value_keys
from ..db import SCHEMA
from ..errors import GapmapError
from ..geopackage import GPKG_OPTIONS, add_styles, categorised_qml, status_style
from ..outputs import ATTRIBUTION, SYNTHETIC_NOTICE, address_attribution
from ..planning import NETWORK_PROXY, NETWORK_PROXY_CY
from . import audit
from .lists import raw, supply_label
from .models import Account, Plan
from .plans import plan_dict

#: the summary's words, Welsh and English (plain strings: the web catalogue is not used here)
TEXT = {
    "title": {"en": "Intervention plan", "cy": "Cynllun ymyrraeth"},
    "authority": {"en": "Local authority", "cy": "Awdurdod lleol"},
    "target": {"en": "Target", "cy": "Targed"},
    "target_30": {"en": "at least 30 Mbit/s", "cy": "o leiaf 30 Mbit/s"},
    "target_gigabit": {"en": "gigabit-capable", "cy": "yn gallu rhoi gigabit"},
    "owner": {"en": "Owner", "cy": "Perchennog"},
    "made": {"en": "Made", "cy": "Lluniwyd"},
    "source": {"en": "Premises", "cy": "Safleoedd"},
    "source_targets": {"en": "the authority's targets (below 30 Mbit/s, or possibly below with "
                              "probability at least {p}, and in no planned build)",
                       "cy": "targedau'r awdurdod (o dan 30 Mbit/s, neu o bosibl o dan gyda "
                             "thebygolrwydd o {p} o leiaf, a heb fod mewn cynllun adeiladu)"},
    "source_list": {"en": "the saved list {name}, snapshot {snapshot}",
                    "cy": "y rhestr a gadwyd {name}, ciplun {snapshot}"},
    "clustering": {"en": "Clustering", "cy": "Clystyru"},
    "clustering_text": {"en": "premises within {d} m of each other, at least {n} to a cluster "
                               "(DBSCAN); the rest are isolated and priced for wireless or "
                               "satellite only",
                        "cy": "safleoedd o fewn {d} m i'w gilydd, o leiaf {n} mewn clwstwr "
                              "(DBSCAN); mae'r gweddill ar wahân ac yn cael eu prisio ar gyfer "
                              "di-wifr neu loeren yn unig"},
    "totals": {"en": "Totals", "cy": "Cyfansymiau"},
    "premises": {"en": "Premises", "cy": "Safleoedd"},
    "expected": {"en": "Expected premises below 30 Mbit/s", "cy": "Safleoedd disgwyliedig o dan 30 Mbit/s"},
    "clusters": {"en": "Clusters", "cy": "Clystyrau"},
    "isolated": {"en": "Isolated premises", "cy": "Safleoedd ar wahân"},
    "cost": {"en": "Cost of the recommended options", "cy": "Cost yr opsiynau a argymhellir"},
    "per_premises": {"en": "Cost per premises", "cy": "Cost fesul safle"},
    "share": {"en": "Share of the authority's targets reached",
              "cy": "Cyfran o dargedau'r awdurdod a gyrhaeddir"},
    "deprived": {"en": "Premises in the most deprived fifth of Wales (WIMD)",
                 "cy": "Safleoedd ym mhumed mwyaf difreintiedig Cymru (MALlC)"},
    "by_option": {"en": "By recommended option", "cy": "Yn ôl yr opsiwn a argymhellir"},
    "option": {"en": "Option", "cy": "Opsiwn"},
    "cluster": {"en": "Cluster", "cy": "Clwstwr"},
    "need": {"en": "Need (median WIMD rank)", "cy": "Angen (rheng MALlC ganolrifol)"},
    "served": {"en": "Nearest served premises (m)*", "cy": "Safle agosaf â gwasanaeth (m)*"},
    "route": {"en": "Route (m)", "cy": "Llwybr (m)"},
    "recommended": {"en": "Recommended", "cy": "Argymhellir"},
    "flags": {"en": "Flags", "cy": "Baneri"},
    "very_high": {"en": "very high cost", "cy": "cost uchel iawn"},
    "not_robust": {"en": "changes within ±{s} %", "cy": "yn newid o fewn ±{s} %"},
    "no_target": {"en": "meets no option's target", "cy": "nid yw'n cyrraedd y targed"},
    "proxy": {"en": "* The " + NETWORK_PROXY + ".", "cy": "* Y " + NETWORK_PROXY_CY + "."},
    "releases": {"en": "Data releases", "cy": "Rhyddhadau data"},
    "classification": {"en": "Classification", "cy": "Dosbarthiad"},
    "model": {"en": "Cost model {v}: values and sources", "cy": "Model costau {v}: gwerthoedd a ffynonellau"},
    "key": {"en": "Setting", "cy": "Gosodiad"},
    "value": {"en": "Value", "cy": "Gwerth"},
    "where": {"en": "Source", "cy": "Ffynhonnell"},
    "attribution": {"en": "Attribution", "cy": "Priodoli"},
    "attribution_cy": {"en": "", "cy": "Yn cynnwys data OS © Hawlfraint y Goron a hawl cronfa "
                                       "ddata 2025; data'r Post Brenhinol © hawlfraint a hawl "
                                       "cronfa ddata'r Post Brenhinol 2025; data'r Ystadegau "
                                       "Gwladol © Hawlfraint y Goron a hawl cronfa ddata 2025; "
                                       "data Ofcom a BDUK o dan y Drwydded Llywodraeth Agored "
                                       "v3.0."},
    "synthetic": {"en": "SYNTHETIC DEMO DATA: premises and speeds are invented.",
                  "cy": "DATA ARDDANGOS SYNTHETIG: mae'r safleoedd a'r cyflymderau wedi'u "
                        "dyfeisio."},
    "yes": {"en": "yes", "cy": "ydy"}, "no": {"en": "no", "cy": "nac ydy"},
}

PRINT_CSS = """
body { font-family: "DejaVu Sans", Arial, sans-serif; font-size: 10pt; color: #111; margin: 1.5cm; }
h1 { font-size: 18pt; } h2 { font-size: 13pt; margin-top: 1.2em; }
table { border-collapse: collapse; width: 100%; margin: 0.5em 0; }
th, td { border: 1px solid #999; padding: 2px 4px; text-align: left; vertical-align: top; }
td.n { text-align: right; }
.notice { border: 2px solid #b00; padding: 4px; font-weight: bold; }
section.lang + section.lang { page-break-before: always; }
@page { size: A4; margin: 1.5cm; @bottom-right { content: counter(page) " / " counter(pages); } }
@media print { body { margin: 0; } a { color: inherit; text-decoration: none; } }
"""

#: QGIS colours of the recommended options
OPTION_COLOURS = {"fibre": "33,102,172", "fixed_wireless": "230,145,56",
                  "leo_satellite": "118,42,131", "": "150,150,150"}


def _t(key: str, lang: str, **values: Any) -> str:
    return TEXT[key][lang].format(**values)


def _money(value: float | None, lang: str) -> str:
    return "–" if value is None else f"£{value:,.0f}"


def _num(value: float | None, spec: str) -> str:
    return "–" if value is None else format(value, spec)


def _esc(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def summary_html(data: dict[str, Any], model: dict[str, Any], names: dict[str, str]) -> str:
    """The printable summary, Welsh then English, from a plan's :func:`plan_dict`, its stored
    cost model and the authority's names ({"en": ..., "cy": ...})."""
    sections = [_section(data, model, names, lang) for lang in ("cy", "en")]
    return ("<!DOCTYPE html>\n<html lang=\"cy\"><head><meta charset=\"utf-8\">"
            f"<title>{_esc(TEXT['title']['cy'])} / {_esc(TEXT['title']['en'])}: "
            f"{_esc(data['name'])}</title><style>{PRINT_CSS}</style></head><body>"
            + "".join(sections) + "</body></html>\n")


def _section(data: dict[str, Any], model: dict[str, Any], names: dict[str, str],
             lang: str) -> str:
    t = data["totals"]
    s = int(round(model["flags"]["sensitivity"] * 100))
    source = (_t("source_list", lang, name=_esc(data["list"]), snapshot=data["snapshot"])
              if data["list"] else
              _t("source_targets", lang, p=f"{data['clustering']['probability_below']:g}"))
    out = [f'<section class="lang" lang="{lang}">',
           f"<h1>{_esc(_t('title', lang))}: {_esc(data['name'])}</h1>"]
    if data["synthetic"]:
        out.append(f'<p class="notice">{_esc(_t("synthetic", lang))}</p>')
    made = data["created_at"]
    made = made.strftime("%Y-%m-%d") if isinstance(made, dt.datetime) else str(made)[:10]
    out.append("<table>" + "".join(
        f"<tr><th>{_esc(_t(k, lang))}</th><td>{v}</td></tr>" for k, v in (
            ("authority", f"{_esc(names.get(lang) or names.get('en'))} ({data['authority']})"),
            ("target", _esc(_t('target_' + data['target'], lang))),
            ("owner", _esc(data["owner"])), ("made", made), ("source", source),
            ("clustering", _esc(_t("clustering_text", lang,
                                   d=f"{data['clustering']['distance_m']:g}",
                                   n=data['clustering']['min_premises']))))) + "</table>")
    share = "–" if t["share_of_targets"] is None else f"{t['share_of_targets'] * 100:.1f} %"
    out.append(f"<h2>{_esc(_t('totals', lang))}</h2><table>" + "".join(
        f'<tr><th>{_esc(_t(k, lang))}</th><td class="n">{v}</td></tr>' for k, v in (
            ("clusters", f"{t['clusters']:,}"), ("premises", f"{t['premises']:,}"),
            ("isolated", f"{t['isolated_premises']:,}"), ("expected", f"{t['expected']:,.1f}"),
            ("cost", _money(t["recommended_gbp"], lang)),
            ("per_premises", _money(t["per_premises_gbp"], lang)), ("share", share),
            ("deprived", f"{t['most_deprived']:,}"))) + "</table>")
    out.append(f"<h2>{_esc(_t('by_option', lang))}</h2><table><tr>"
               f"<th>{_esc(_t('option', lang))}</th><th>{_esc(_t('clusters', lang))}</th>"
               f"<th>{_esc(_t('premises', lang))}</th><th>£</th></tr>" + "".join(
                   f"<tr><td>{_esc(OPTION_NAMES[o][lang == 'cy'])}</td>"
                   f'<td class="n">{b["groups"]:,}</td><td class="n">{b["premises"]:,}</td>'
                   f'<td class="n">{_money(b["gbp"], lang)}</td></tr>'
                   for o, b in t["by_option"].items()) + "</table>")
    head = "".join(f"<th>{_esc(_t(k, lang))}</th>" for k in (
        "cluster", "premises", "expected", "need", "served", "route", "recommended",
        "per_premises", "flags"))
    rows = []
    for c in data["clusters"]:
        flags = []
        if c["very_high_cost"]:
            flags.append(_t("very_high", lang))
        if c["robust"] is False:
            flags.append(_t("not_robust", lang, s=s))
        if not c["meets_target"]:
            flags.append(_t("no_target", lang))
        label = c["id"] if c["id"] else _t("isolated", lang)
        rec = OPTION_NAMES[c["recommended"]][lang == "cy"] if c["recommended"] else "–"
        rows.append(
            f"<tr><td>{_esc(label)}</td><td class=\"n\">{c['premises']:,}</td>"
            f"<td class=\"n\">{c['expected']:,.1f}</td>"
            f"<td class=\"n\">{_num(c['need_wimd_rank'], 'g')}</td>"
            f"<td class=\"n\">{_num(c['served_distance_m'], ',.0f')}</td>"
            f"<td class=\"n\">{_num(c['route_m'], ',.0f')}</td>"
            f"<td>{_esc(rec)}</td><td class=\"n\">{_money(c['per_premises_gbp'], lang)}</td>"
            f"<td>{_esc('; '.join(flags))}</td></tr>")
    out.append(f"<h2>{_esc(_t('clusters', lang))}</h2><table><tr>{head}</tr>{''.join(rows)}"
               f"</table><p>{_esc(_t('proxy', lang))}</p>")
    out.append(f"<h2>{_esc(_t('releases', lang))}</h2><table>"
               f"<tr><th>{_esc(_t('classification', lang))}</th><td>{_esc(data['run'])}</td></tr>"
               + "".join(f"<tr><th>{_esc(k)}</th><td>{_esc(v)}</td></tr>"
                         for k, v in sorted(data["releases"].items())) + "</table>")
    sources = model["sources"][lang]
    out.append(f"<h2>{_esc(_t('model', lang, v=model['version']))}</h2><table><tr>"
               f"<th>{_esc(_t('key', lang))}</th><th>{_esc(_t('value', lang))}</th>"
               f"<th>{_esc(_t('where', lang))}</th></tr>" + "".join(
                   f"<tr><td>{_esc(k)}</td><td>{_esc(_value(model, k, lang))}</td>"
                   f"<td>{_esc(sources.get(k))}</td></tr>" for k in value_keys()) + "</table>")
    out.append(f"<h2>{_esc(_t('attribution', lang))}</h2><p>"
               + _esc(_t("attribution_cy", lang) if lang == "cy" else ATTRIBUTION) + "</p>")
    out.append("</section>")
    return "".join(out)


def _value(model: dict[str, Any], key: str, lang: str) -> str:
    value: Any = model
    for part in key.split("."):
        value = value[part]
    if isinstance(value, bool):
        return _t("yes" if value else "no", lang)
    return f"{value:g}" if isinstance(value, float) else str(value)


# -- the GeoPackage -----------------------------------------------------------------------------
def _frame(conn, sql: str, params: dict[str, Any]):
    import geopandas
    import shapely

    cur = conn.execute(sql, params)
    names = [d.name for d in cur.description]
    rows = cur.fetchall()
    geoms = shapely.from_wkb([bytes(r[-1]) if r[-1] is not None else None for r in rows])
    records = [dict(zip(names[:-1], r[:-1], strict=True)) for r in rows]
    import pandas

    frame = pandas.DataFrame.from_records(records, columns=names[:-1])
    if "parent_uprn" in frame:  # a UPRN, not a float, where some premises have none
        frame["parent_uprn"] = frame["parent_uprn"].astype("Int64")
    return geopandas.GeoDataFrame(frame, geometry=list(geoms), crs="EPSG:27700")


def _boundary_qml() -> str:
    return ('<!DOCTYPE qgis PUBLIC \'http://mrcc.com/qgis.dtd\' \'SYSTEM\'>'
            '<qgis version="3.28" styleCategories="Symbology"><renderer-v2 type="singleSymbol">'
            '<symbols><symbol name="0" type="fill" alpha="1"><layer class="SimpleLine" '
            'enabled="1"><Option type="Map"><Option name="line_color" type="QString" '
            'value="0,0,0,255"/><Option name="line_width" type="QString" value="0.8"/></Option>'
            '<prop k="line_color" v="0,0,0,255"/><prop k="line_width" v="0.8"/></layer></symbol>'
            '</symbols></renderer-v2></qgis>')


def styles() -> dict[str, tuple[str, str]]:
    """{layer: (style name, QML)} of the bid pack's GeoPackage."""
    option_labels = {o: OPTION_NAMES[o][0] for o in OPTIONS}
    return {
        "boundary": ("outline", _boundary_qml()),
        "clusters": ("recommended", categorised_qml(
            "recommended", {o: OPTION_COLOURS[o] for o in OPTIONS}, "fill", option_labels)),
        "premises": status_style(),
    }


PREMISES_COLUMNS = ("uprn", "cluster_id", "kind", "recommended", "status", "probability_below",
                    "planned_build", "is_target", "lsoa", "wimd_rank", "easting", "northing",
                    "latitude", "longitude", "la_code", "address_en", "address_cy",
                    "parent_uprn", "class_code", "plan", "classification", "attribution")


def _premises_sql() -> str:
    return f"""
        SELECT pp.uprn, pp.cluster_id, pc.kind, pc.recommended, pp.status, pp.probability_below,
               pp.planned_build, pp.is_target, pp.lsoa, pp.wimd_rank,
               round(ST_X(pp.geom)::numeric, 2)::float8 AS easting,
               round(ST_Y(pp.geom)::numeric, 2)::float8 AS northing,
               round(ST_Y(ST_Transform(pp.geom, 4326))::numeric, 7)::float8 AS latitude,
               round(ST_X(ST_Transform(pp.geom, 4326))::numeric, 7)::float8 AS longitude,
               p.la_code, a.address_en, a.address_cy, a.parent_uprn, a.class_code,
               p.name AS plan, p.run_label AS classification,
               %(attribution)s AS attribution, ST_AsBinary(pp.geom)
        FROM {SCHEMA}.plan_premises pp
        JOIN {SCHEMA}.plan_cluster pc USING (plan_id, cluster_id)
        JOIN {SCHEMA}.plan p ON p.id = pp.plan_id
        -- the addresses AddressBase holds as the pack is written (a plan keeps no addresses)
        LEFT JOIN {SCHEMA}.address a ON a.uprn = pp.uprn
        WHERE pp.plan_id = %(plan)s ORDER BY pp.cluster_id, pp.uprn"""


def write_gpkg(conn, plan: Plan, path: Path, attribution: str) -> dict[str, int]:
    """The plan's three layers in a GeoPackage 1.3 with their QGIS styles; rows per layer."""
    import pyogrio

    params = {"plan": plan.id, "attribution": attribution}
    option_cols = ", ".join(f"{o}_gbp" for o in OPTIONS)
    layers = {
        "boundary": _frame(conn, f"""
            SELECT p.name AS plan, p.la_code, p.target, p.costs_version, p.run_label AS
                   classification, %(attribution)s AS attribution,
                   ST_AsBinary(ST_Multi(ST_Union(c.outline)))
            FROM {SCHEMA}.plan p JOIN {SCHEMA}.plan_cluster c ON c.plan_id = p.id
            WHERE p.id = %(plan)s AND c.outline IS NOT NULL
            GROUP BY p.id""", params),
        "clusters": _frame(conn, f"""
            SELECT cluster_id, premises, settled, expected, targets, planned_members,
                   planned_nearby, need_wimd_rank, lsoas, most_deprived,
                   served_distance_m AS served_distance_m_proxy, mst_m, link_m, route_m,
                   {option_cols}, recommended, recommended_gbp, per_premises_gbp, meets_target,
                   very_high_cost, robust, ST_AsBinary(outline)
            FROM {SCHEMA}.plan_cluster WHERE plan_id = %(plan)s AND outline IS NOT NULL
            ORDER BY cluster_id""", params),
        "premises": _frame(conn, _premises_sql(), params),
    }
    counts = {}
    for name, frame in layers.items():
        options = {"dataset_options": GPKG_OPTIONS} if not counts else {}
        pyogrio.write_dataframe(frame, path, layer=name, driver="GPKG",
                                promote_to_multi=name == "boundary", **options)
        counts[name] = len(frame)
    add_styles(path, styles())
    return counts


def write_csv(conn, plan: Plan, path: Path, attribution: str) -> int:
    cur = conn.execute(_premises_sql(), {"plan": plan.id, "attribution": attribution})
    n = 0
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        out = csv.writer(f, lineterminator="\r\n")
        out.writerow(PREMISES_COLUMNS)
        for row in cur:
            out.writerow(["" if v is None else v for v in row[:-1]])
            n += 1
    return n


def write_pdf(page: str, path: Path) -> str | None:
    """The summary as PDF through WeasyPrint; None when written, else why not."""
    try:
        import weasyprint
    except (ImportError, OSError) as exc:  # not installed, or its system libraries missing
        return f"WeasyPrint cannot be used here: {type(exc).__name__}: {exc}".splitlines()[0]
    try:
        weasyprint.HTML(string=page).write_pdf(path)
    except Exception as exc:  # a rendering failure must not lose the rest of the pack
        return f"WeasyPrint failed: {type(exc).__name__}: {exc}".splitlines()[0]
    return None


def _address_year(conn, plan: Plan) -> int | None:
    """The year of the AddressBase supply whose addresses the plan's premises have now (for
    the attribution); None when none of them has one."""
    row = conn.execute(
        f"""SELECT r.release, r.files, r.finished_at::date FROM {SCHEMA}.load_run r
            WHERE r.id = (SELECT a.run_id FROM {SCHEMA}.address a
                          JOIN {SCHEMA}.plan_premises pp ON pp.uprn = a.uprn
                          WHERE pp.plan_id = %s LIMIT 1)""", (plan.id,)).fetchone()
    if row is None:
        return None
    label = supply_label(*row)
    return int(label[:4]) if label[:4].isdigit() else row[2].year


def export_bidpack(session: Session, plan: Plan, out: Path, *, actor: str,
                   by: Account | None = None, client: str | None = None) -> dict[str, Any]:
    """Write the plan's bid pack to ``out`` (a zip); audited with the row counts."""
    out = Path(out)
    if out.is_dir():
        raise GapmapError(f"cannot write {out}: it is a folder", "give a file name, e.g. plan.zip")
    if not out.resolve().parent.is_dir():
        raise GapmapError(f"cannot write {out}: the folder {out.resolve().parent} does not exist",
                          "create it first, or give another path with -o")
    conn = raw(session)
    data = plan_dict(session, plan)
    names = dict(zip(("en", "cy"), conn.execute(
        f"SELECT name_en, coalesce(name_cy, name_en) FROM {SCHEMA}.area "
        "WHERE level = 'la' AND code = %s", (plan.la_code,)).fetchone() or (plan.la_code,) * 2,
        strict=True))
    year = _address_year(conn, plan)
    attribution = ((SYNTHETIC_NOTICE if plan.synthetic else "") + ATTRIBUTION
                   + (f" {address_attribution(year)}" if year else ""))
    with tempfile.TemporaryDirectory(prefix="gapmap-bidpack-") as folder:
        work = Path(folder)
        layers = write_gpkg(conn, plan, work / "plan.gpkg", attribution)
        rows = write_csv(conn, plan, work / "premises.csv", attribution)
        page = summary_html(data, plan.costs, names)
        (work / "summary.html").write_text(page, encoding="utf-8")
        pdf_problem = write_pdf(page, work / "summary.pdf")
        manifest = {"plan": plan.name, "authority": plan.la_code, "classification": plan.run_label,
                    "releases": plan.releases, "costs_version": plan.costs_version,
                    "layers": layers, "premises_csv_rows": rows,
                    "pdf": None if pdf_problem else "summary.pdf", "pdf_note": pdf_problem,
                    "network_proxy": NETWORK_PROXY, "attribution": attribution}
        (work / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False),
                                            encoding="utf-8")
        fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".zip",
                                   dir=out.resolve().parent)
        os.close(fd)
        try:
            with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
                for name in ("summary.html", "summary.pdf", "plan.gpkg", "premises.csv",
                             "manifest.json"):
                    if (work / name).exists():
                        z.write(work / name, name)
            os.chmod(tmp, 0o644)
            os.replace(tmp, out)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    detail = {"layers": layers, "csv_rows": rows, "pdf": pdf_problem is None}
    audit.record(session, "plan.export", account=by, actor=actor, object_type="plan",
                 object_id=plan.id, client=client, detail=detail)
    return {"file": str(out), **manifest}
