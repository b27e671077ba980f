"""Atom change feeds: one entry per classification run, for an area or for all of Wales, with
the counts that changed since the run before (premises below 30 Mbit/s, eligible or possibly
eligible for Access Broadband Cymru and for the Local Broadband Fund, in a planned build) and a
link to the changes. Every run's statistics table is kept (``gapmap.area_stats_<id>``), so the
history is read from them in one query; Wales is the sum of its authorities.

Built with ``xml.etree.ElementTree`` (RFC 4287), in English or Welsh.
"""

from __future__ import annotations

import datetime as dt
import uuid
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import quote

import psycopg

from . import runs
from .db import SCHEMA
from .errors import NotFound
from .vocab import AREA_LEVELS, LANGS, SCHEMES, STATUSES

ATOM = "http://www.w3.org/2005/Atom"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
#: the levels an area feed can be asked for
FEED_LEVELS = ("la", "ward", "lsoa", "msoa", "constituency")
#: the counts an entry reports: (key, area_stats expression, English, Welsh)
COUNTS = (
    ("below", "below", STATUSES["below"].en, STATUSES["below"].cy),
    ("abc", "abc_eligible + abc_possibly", SCHEMES["abc"].en, SCHEMES["abc"].cy),
    ("lbf", "lbf_eligible + lbf_possibly", SCHEMES["lbf"].en, SCHEMES["lbf"].cy),
    ("planned_build", "planned_build", "Planned build", "Cynllun adeiladu"),
)
#: the feeds' own few words
WORDS = {
    "en": {"wales": "Wales", "feed": "Broadband gap map: changes in {name}",
           "first": "first classification", "since": "since {previous}",
           "entry": "Classification {label}", "premises": "premises",
           "subtitle": "One entry per classification: premises below 30 Mbit/s, eligible for "
                       "Access Broadband Cymru or the Local Broadband Fund (or possibly), and "
                       "in a planned build."},
    "cy": {"wales": "Cymru", "feed": "Map bylchau band eang: newidiadau yn {name}",
           "first": "y dosbarthiad cyntaf", "since": "ers {previous}",
           "entry": "Dosbarthiad {label}", "premises": "safle",
           "subtitle": "Un cofnod ar gyfer pob dosbarthiad: safleoedd o dan 30 Mbit/s, yn "
                       "gymwys ar gyfer Allwedd Band Eang Cymru neu'r Gronfa Band Eang Lleol "
                       "(neu o bosibl), ac mewn cynllun adeiladu."},
}


def _area(conn: psycopg.Connection, code: str) -> tuple[str, str, str]:
    row = conn.execute(
        f"""SELECT level, name_en, coalesce(name_cy, name_en) FROM {SCHEMA}.area
            WHERE code = %s AND level = ANY(%s)
            ORDER BY array_position(%s, level) LIMIT 1""",
        (code, list(FEED_LEVELS), list(FEED_LEVELS))).fetchone()
    if row is None:
        raise NotFound(f"no area with code {code!r} (feeds are for "
                       + ", ".join(AREA_LEVELS.name(lv, "en").lower() for lv in FEED_LEVELS)
                       + " codes, or wales)")
    return row


def history(conn: psycopg.Connection, code: str | None) -> list[dict[str, Any]]:
    """Every classification run, oldest first, with the counts of area ``code`` (None: Wales)."""
    listed = runs.list_runs(conn)
    if not listed:
        return []
    where = "level = 'la'" if code is None else "code = %(code)s"
    sums = ", ".join(f"sum({expr})::bigint AS {key}" for key, expr, _en, _cy in COUNTS)
    parts = [f"SELECT {r['id']} AS run_id, count(*) AS areas, sum(premises)::bigint AS premises, "
             f"{sums} FROM {SCHEMA}.area_stats_{int(r['id'])} WHERE {where}" for r in listed]
    rows = conn.execute(" UNION ALL ".join(parts), {"code": code}).fetchall()
    by_id = {r[0]: r[1:] for r in rows}
    out = []
    for r in listed:
        areas, premises, *counts = by_id[r["id"]]
        out.append({"id": r["id"], "label": r["label"], "finished_at": r["finished_at"],
                    "synthetic": r["synthetic"], "premises": premises if areas else None,
                    "counts": {key: (value if areas else None)
                               for (key, *_), value in zip(COUNTS, counts, strict=True)}})
    return out


def _stamp(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _change(before: int | None, after: int | None) -> str:
    if before is None or after is None:
        return ""
    delta = after - before
    return f" ({'+' if delta > 0 else ''}{delta:,})" if delta else " (0)"


def feed(conn: psycopg.Connection, code: str | None, lang: str = "en",
         base_url: str = "http://127.0.0.1:5000") -> bytes:
    """The Atom feed (UTF-8 bytes) of area ``code`` (None: all of Wales), newest entry first.
    ``base_url`` is where the map is served (links and the feed's own address)."""
    lang = lang if lang in LANGS else "en"
    words = WORDS[lang]
    base = base_url.rstrip("/")
    if code is None:
        name, slug = words["wales"], "wales"
    else:
        code = code.strip().upper()
        _level, name_en, name_cy = _area(conn, code)
        name, slug = (name_cy if lang == "cy" else name_en), code
    entries = history(conn, code)

    ET.register_namespace("", ATOM)
    root = ET.Element(f"{{{ATOM}}}feed", {XML_LANG: lang})

    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
        if text is not None:
            element.text = text
        return element

    self_url = f"{base}/feeds/{quote(slug)}.atom" + ("?lang=cy" if lang == "cy" else "")
    sub(root, "id", f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'gapmap/feeds/{slug}/{lang}')}")
    sub(root, "title", words["feed"].format(name=name))
    sub(root, "subtitle", words["subtitle"])
    sub(root, "updated", _stamp(entries[-1]["finished_at"]) if entries
        else "1970-01-01T00:00:00Z")
    sub(root, "link", rel="self", type="application/atom+xml", href=self_url)
    # the page of the published releases, with their changes files (webmap's /<lang>/data)
    sub(root, "link", rel="alternate", type="text/html", href=f"{base}/{lang}/data")
    author = sub(root, "author")
    sub(author, "name", "Broadband gap map for Wales" if lang == "en"
        else "Map bylchau band eang Cymru")
    sub(root, "generator", "connectivity.feeds")

    for index in range(len(entries) - 1, -1, -1):
        run = entries[index]
        previous = entries[index - 1] if index else None
        entry = sub(root, "entry")
        key = f"gapmap/feeds/{slug}/{run['label']}"
        sub(entry, "id", f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, key)}")
        when = words["since"].format(previous=previous["label"]) if previous else words["first"]
        sub(entry, "title", f"{words['entry'].format(label=run['label'])}: "
            f"{STATUSES['below'].name(lang)} {run['counts']['below'] or 0:,}"
            f"{_change(previous and previous['counts']['below'], run['counts']['below'])}")
        sub(entry, "updated", _stamp(run["finished_at"]))
        if previous:
            href = f"{base}/api/v1/diff?from={quote(previous['label'])}&to={quote(run['label'])}"
        else:
            href = f"{base}/api/v1/areas/{quote(code)}" if code else f"{base}/api/v1/releases"
        sub(entry, "link", rel="alternate", type="application/json", href=href)
        lines = [f"{when}."]
        for key, _expr, en, cy in COUNTS:
            after = run["counts"][key]
            before = previous["counts"][key] if previous else None
            lines.append(f"{cy if lang == 'cy' else en}: "
                         + ("-" if after is None else f"{after:,}") + _change(before, after))
        sub(entry, "summary", "\n".join(lines), type="text")
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
