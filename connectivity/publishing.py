"""Publishing a classification as open data: ``connectivity publish --out DIR``.

For one classification run, for all of Wales and for each local authority: the premises (CSV and
GeoPackage, the export columns of :mod:`connectivity.outputs`: no personal data), the area
statistics per level (CSV), and the premises that changed since the previous run (CSV); each CSV
with its CSVW metadata (``<file>-metadata.json``: columns, datatypes, units, titles and
descriptions in English and Welsh from :mod:`connectivity.datadict`), and a DCAT catalogue
(``catalog.jsonld``) listing every file with its licence, attribution, release dates, byte size
and SHA-256.

The release is written into a temporary folder beside DIR and renamed to ``DIR/<label>`` in one
step, so a reader sees the whole release or none of it; a failure removes the temporary folder.
Earlier releases stay, and ``DIR/catalog.jsonld`` (replaced in one step too) lists every
release in DIR.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from . import datadict, runs
from .classify import HEX_SIZES
from .db import SCHEMA
from .errors import BadRequest, GapmapError
from .outputs import (
    ATTRIBUTION,  # noqa: F401 (re-exported: the OGL sources' attribution)
    DIFF_COLUMNS,
    EXPORT_COLUMNS,
    OGL,  # noqa: F401 (re-exported: webmap.data names the licence)
    SYNTHETIC_NOTICE,
    attribution,
    changed_sql,
    export,
    licences,
    stats,
    used_speedtests,
    write_query,
)
from .vocab import STATISTICS_LEVELS

CATALOG = "catalog.jsonld"
WALES = ("wales", "W92000004", "Wales", "Cymru")
#: statistics published for all of Wales: the boundary levels, postcodes, hexagons
WALES_LEVELS = ("la", "ward", "lsoa", "msoa", "constituency", "postcode",
                *(f"hex{s}" for s in HEX_SIZES))
#: ... and for each authority, the areas its premises lie in
AUTHORITY_LEVELS = ("la", "ward", "lsoa", "msoa", "constituency", "postcode")
MEDIA_TYPES = {".csv": "text/csv", ".json": "application/csvm+json",
               ".gpkg": "application/geopackage+sqlite3", ".jsonld": "application/ld+json",
               ".pmtiles": "application/vnd.pmtiles"}
CONFORMS = {".json": "http://www.w3.org/TR/tabular-metadata/",
            ".gpkg": "http://www.opengis.net/doc/IS/geopackage/1.3",
            ".csv": "https://www.rfc-editor.org/rfc/rfc4180"}
CONTEXT = {
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "spdx": "http://spdx.org/rdf/terms#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}
PUBLISHER = "Wales broadband gap map"


def _text(en: str, cy: str) -> list[dict[str, str]]:
    return [{"@value": en, "@language": "en"}, {"@value": cy, "@language": "cy"}]


def _level_names(level: str) -> tuple[str, str]:
    if level.startswith("hex"):
        term = STATISTICS_LEVELS["hex"]
        return f"{term.en} {level[3:]} m", f"{term.cy} {level[3:]} m"
    term = STATISTICS_LEVELS[level]
    return term.en, term.cy


@dataclass
class _File:
    """One published file and what the catalogue says of it."""

    name: str
    title_en: str
    title_cy: str
    rows: int | None = None


@dataclass
class _Dataset:
    slug: str
    title_en: str
    title_cy: str
    description_en: str
    description_cy: str
    spatial: str
    files: list[_File] = field(default_factory=list)
    #: the run read speed tests (Ookla): its statuses, counts and changes are partly theirs,
    #: so the files carry CC BY-NC-SA 4.0 and Ookla's attribution beside the OGL
    speedtests: bool = False


@dataclass(frozen=True)
class _Release:
    run: runs.Run
    previous: str | None
    previous_id: int | None
    finished_at: dt.datetime
    sources: list[dict[str, Any]]


def _release(conn: psycopg.Connection, label: str | None) -> _Release:
    run = runs.by_label(conn, label)
    listed = runs.list_runs(conn)
    row = next(r for r in listed if r["id"] == run.id)
    earlier = [r for r in listed if r["id"] < run.id]
    previous = earlier[-1] if earlier else None
    sources = conn.execute(
        f"""SELECT r.source, r.label, r.published FROM {SCHEMA}.release r
            JOIN jsonb_each_text(%s::jsonb) u ON u.key = r.source AND u.value = r.label
            ORDER BY r.source""", (json.dumps(row["releases"]),)).fetchall()
    return _Release(run, previous and previous["label"], previous and previous["id"],
                    row["finished_at"],
                    [{"source": s, "label": lab, "published": p} for s, lab, p in sources])


def publish(conn: psycopg.Connection, out: Path, *, run: str | None = None,
            replace: bool = False, progress: Callable[[str], None] = lambda m: None
            ) -> dict[str, Any]:
    """Publish run ``run`` (default: the current one) into ``out/<label>``; returns a summary.
    ``conn`` must be in autocommit mode (each file is written in a transaction of its own,
    from the run's own tables, which never change)."""
    out = Path(out)
    release = _release(conn, run)
    label = release.run.label
    if "/" in label or label.startswith("."):
        raise BadRequest(f"the run label {label!r} cannot name a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GapmapError(f"cannot create {out}: {exc.strerror}",
                          "give another folder with --out") from None
    final = out / label
    if final.exists() and not replace:
        raise BadRequest(f"{final} is published already",
                         "add --replace to publish it again (the old folder is replaced in "
                         "one step)")
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.resolve().name}-{label}.",
                                    dir=out.resolve().parent))
    except OSError as exc:
        raise GapmapError(f"cannot write beside {out}: {exc.strerror}",
                          "the folder that holds --out must be writable") from None
    try:
        datasets = _write_release(conn, tmp, release, progress)
        progress("writing the catalogue")
        catalog = _release_catalog(tmp, release, datasets)
        _write_json(tmp / CATALOG, catalog)
        os.chmod(tmp, 0o777 & ~_umask())
        old = None
        if final.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{label}.old.", dir=out))
            os.rename(final, old / label)
        os.rename(tmp, final)
        tmp = None
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    top = write_top_catalog(out)
    files = [f for d in datasets for f in d.files]
    return {"release": label, "previous": release.previous, "folder": str(final),
            "datasets": len(datasets), "files": len(files) + 1,
            "bytes": sum((final / f.name).stat().st_size for f in files),
            "releases_in_catalog": top}


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _scopes(conn: psycopg.Connection) -> list[tuple[str, str | None, str, str]]:
    """(file part, authority code or None for Wales, English name, Welsh name)."""
    rows = conn.execute(f"SELECT code, name_en, coalesce(name_cy, name_en) FROM {SCHEMA}.area "
                        "WHERE level = 'la' ORDER BY code").fetchall()
    return [(WALES[0], None, WALES[2], WALES[3])] + [(c, c, en, cy) for c, en, cy in rows]


def _memberships(conn: psycopg.Connection, run_id: int) -> dict[tuple[str, str], set[str]]:
    """(authority, level) -> the codes of the areas of that level its premises lie in."""
    parts = [f"SELECT la, '{lvl}' AS level, {lvl} AS code FROM {SCHEMA}.premises_place "
             f"WHERE la IS NOT NULL AND {lvl} IS NOT NULL GROUP BY 1, 3"
             for lvl in AUTHORITY_LEVELS if lvl != "postcode"]
    parts.append(f"""SELECT m.la, 'postcode', c.postcode FROM {SCHEMA}.premises_place m
                     JOIN {SCHEMA}.premises_class_{run_id} c USING (uprn)
                     WHERE m.la IS NOT NULL AND c.postcode IS NOT NULL GROUP BY 1, 3""")
    found: dict[tuple[str, str], set[str]] = {}
    for la, level, code in conn.execute(" UNION ALL ".join(parts)):
        found.setdefault((la, level), set()).add(code)
    return found


def _write_release(conn, folder: Path, release: _Release, progress) -> list[_Dataset]:
    run = release.run
    label = run.label
    notice = SYNTHETIC_NOTICE if run.synthetic else ""
    scopes = _scopes(conn)
    members = _memberships(conn, run.id)
    wales_stats: dict[str, list[dict]] = {}
    datasets: list[_Dataset] = []
    speedtests = used_speedtests(conn, label)
    for number, (part, code, name_en, name_cy) in enumerate(scopes, 1):
        where = f"{name_en} ({number}/{len(scopes)})"
        spatial = code or WALES[1]
        premises = _Dataset(
            f"premises-{part}", f"Premises, {name_en}, classification {label}",
            f"Safleoedd, {name_cy}, dosbarthiad {label}",
            notice + f"Every premises in {name_en} with its best known speeds, the evidence, its "
            "status against 30 Mbit/s and its eligibility for each scheme, with reasons.",
            notice + f"Pob safle yn {name_cy} gyda'i gyflymderau gorau hysbys, y dystiolaeth, ei "
            "statws o'i gymharu â 30 Mbit/s a'i gymhwysedd ar gyfer pob cynllun, gyda "
            "rhesymau.", spatial, speedtests=speedtests)
        progress(f"premises of {where}")
        areas = [code] if code else []
        for fmt in ("csv", "gpkg"):
            name = f"premises-{part}.{fmt}"
            rows = export(conn, folder / name, fmt, run=label, areas=areas)
            premises.files.append(_File(name, premises.title_en, premises.title_cy, rows))
        _csvw(folder, premises, premises.files[0], datadict.PREMISES, EXPORT_COLUMNS, ["uprn"])
        datasets.append(premises)

        if release.previous_id is not None:
            progress(f"changes since {release.previous} in {where}")
            changes = _Dataset(
                f"changes-{part}", f"Changes from {release.previous} to {label}, {name_en}",
                f"Newidiadau o {release.previous} i {label}, {name_cy}",
                notice + f"Premises in {name_en} whose status, band or eligibility changed from "
                f"classification {release.previous} to {label}, before and after.",
                notice + f"Safleoedd yn {name_cy} y newidiodd eu statws, eu band neu eu "
                f"cymhwysedd o ddosbarthiad {release.previous} i {label}, cyn ac ar ôl.",
                spatial, speedtests=speedtests)
            sql, params = changed_sql(release.previous_id, run.id), {}
            if code:
                sql = (f"SELECT d.* FROM ({sql}) d JOIN {SCHEMA}.premises_place m USING (uprn) "
                       "WHERE m.la = %(la)s ORDER BY d.uprn")
                params = {"la": code}
            name = f"changes-{part}.csv"
            rows = write_query(conn, folder / name, "csv", sql, params, label, run.synthetic,
                               columns=DIFF_COLUMNS, speedtests=speedtests)
            changes.files.append(_File(name, changes.title_en, changes.title_cy, rows))
            _csvw(folder, changes, changes.files[0], datadict.changes(DIFF_COLUMNS),
                  DIFF_COLUMNS, ["uprn"])
            datasets.append(changes)

        progress(f"area statistics of {where}")
        for level in (WALES_LEVELS if code is None else AUTHORITY_LEVELS):
            if level not in wales_stats:
                size = int(level[3:]) if level.startswith("hex") else None
                wales_stats[level] = stats(conn, "hex" if size else level, label, size)
            rows = wales_stats[level]
            if code is not None:
                keep = {code} if level == "la" else members.get((code, level), set())
                rows = [r for r in rows if r["code"] in keep]
            level_en, level_cy = _level_names(level)
            ds = _Dataset(
                f"statistics-{part}-{level}", f"Statistics by {level_en.lower()}, {name_en}",
                f"Ystadegau fesul {level_cy.lower()}, {name_cy}",
                notice + f"For each {level_en.lower()} "
                + (f"with premises in {name_en}" if code else "in Wales")
                + ": premises by status, band and scheme eligibility, classification "
                f"{label}.",
                notice + f"Ar gyfer pob {level_cy.lower()} "
                + (f"â safleoedd yn {name_cy}" if code else "yng Nghymru")
                + ": safleoedd yn ôl statws, band a chymhwysedd ar gyfer cynlluniau, "
                f"dosbarthiad {label}.", spatial, speedtests=speedtests)
            name = f"statistics-{part}-{level}.csv"
            columns = list(datadict.STATISTICS)
            _write_rows(folder / name, columns, rows)
            ds.files.append(_File(name, ds.title_en, ds.title_cy, len(rows)))
            _csvw(folder, ds, ds.files[0], datadict.STATISTICS, columns, ["level", "code"])
            datasets.append(ds)
    return datasets


def _write_rows(path: Path, columns: list[str], rows: list[dict]) -> None:
    """Rows as the exports write CSV: UTF-8 with BOM, CRLF, empty for null, true/false."""
    import csv

    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\r\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow(["" if (v := row[c]) is None else
                             ("true" if v is True else "false" if v is False else v)
                             for c in columns])


def _csvw(folder: Path, dataset: _Dataset, csv_file: _File, columns: dict, names: list[str],
          key: list[str]) -> None:
    """Write ``<csv>-metadata.json`` (CSVW) for ``csv_file`` and list it in ``dataset``."""
    name = f"{csv_file.name}-metadata.json"
    document = {
        "@context": ["http://www.w3.org/ns/csvw", {"@language": "en"}],
        "url": csv_file.name,
        "dc:title": _text(dataset.title_en, dataset.title_cy),
        "dc:description": _text(dataset.description_en, dataset.description_cy),
        "dc:license": _licence(dataset.speedtests),
        "dc:rights": attribution(dataset.speedtests),
        "dc:publisher": PUBLISHER,
        "dialect": {"encoding": "utf-8", "header": True, "lineTerminators": ["\r\n"]},
        "tableSchema": {"columns": [columns[n].csvw() for n in names],
                        "primaryKey": key[0] if len(key) == 1 else key},
    }
    _write_json(folder / name, document)
    dataset.files.append(_File(name, f"{dataset.title_en}: CSVW metadata",
                               f"{dataset.title_cy}: metadata CSVW"))


def _write_json(path: Path, document: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(document, indent=1, ensure_ascii=False, default=str) + "\n",
                   encoding="utf-8")
    os.replace(tmp, path)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _licence(speedtests: bool) -> dict | list[dict]:
    """The licence member of a document: the OGL, or with speed tests a list of the OGL and
    CC BY-NC-SA 4.0 (JSON-LD: both apply)."""
    ids = [{"@id": url} for url in licences(speedtests)]
    return ids if speedtests else ids[0]


def _rights(speedtests: bool) -> dict:
    return {"@type": "dct:RightsStatement", "rdfs:label": attribution(speedtests)}


def _licence_ids(value: Any) -> list[str]:
    """The licence URLs of a ``dct:license`` member (one object or a list of them)."""
    items = value if isinstance(value, list) else [value] if value else []
    return [item["@id"] for item in items if isinstance(item, dict) and "@id" in item]


def distribution(path: Path, url: str, title_en: str, title_cy: str, issued: str,
                 speedtests: bool = False) -> dict:
    """A dcat:Distribution of the file at ``path``, downloaded from ``url`` (relative); with
    ``speedtests`` under CC BY-NC-SA 4.0 too, with Ookla's attribution."""
    suffix = path.suffix
    out = {
        "@type": "dcat:Distribution",
        "dct:title": _text(title_en, title_cy),
        "dcat:downloadURL": {"@id": url},
        "dcat:mediaType": {"@id": f"https://www.iana.org/assignments/media-types/"
                                  f"{MEDIA_TYPES[suffix]}"},
        "dct:conformsTo": {"@id": CONFORMS[suffix]} if suffix in CONFORMS else None,
        "dcat:byteSize": {"@value": str(path.stat().st_size), "@type": "xsd:nonNegativeInteger"},
        "spdx:checksum": {"@type": "spdx:Checksum",
                          "spdx:algorithm": {"@id": "spdx:checksumAlgorithm_sha256"},
                          "spdx:checksumValue": _sha256(path)},
        "dct:license": _licence(speedtests),
        "dct:rights": _rights(speedtests),
        "dct:issued": {"@value": issued, "@type": "xsd:dateTime"},
    }
    return {k: v for k, v in out.items() if v is not None}


def _release_catalog(folder: Path, release: _Release, datasets: list[_Dataset]) -> dict:
    run = release.run
    issued = release.finished_at.astimezone(dt.UTC).isoformat(timespec="seconds")
    sources = [{"@type": "dcat:Dataset",
                "dct:title": f"{s['source']} {s['label']}",
                "dcat:version": s["label"],
                **({"dct:issued": {"@value": s["published"].isoformat(), "@type": "xsd:date"}}
                   if s["published"] else {})} for s in release.sources]
    described = []
    for ds in datasets:
        described.append({
            "@id": f"#{ds.slug}",
            "@type": "dcat:Dataset",
            "dct:identifier": f"{run.label}/{ds.slug}",
            "dct:title": _text(ds.title_en, ds.title_cy),
            "dct:description": _text(ds.description_en, ds.description_cy),
            "dcat:version": run.label,
            "dct:issued": {"@value": issued, "@type": "xsd:dateTime"},
            "dct:spatial": {"@id": f"http://statistics.data.gov.uk/id/statistical-geography/"
                                   f"{ds.spatial}"},
            "dct:source": sources,
            "dct:license": _licence(ds.speedtests),
            "dct:rights": _rights(ds.speedtests),
            "dcat:distribution": [distribution(folder / f.name, f.name, f.title_en, f.title_cy,
                                               issued, ds.speedtests) for f in ds.files],
        })
    return _catalog(described, issued, release=run.label, synthetic=run.synthetic)


def _catalog(datasets: list[dict], modified: str | None, *, release: str | None = None,
             synthetic: bool = False) -> dict:
    notice = SYNTHETIC_NOTICE if synthetic else ""
    speedtests = any(len(_licence_ids(d.get("dct:license"))) > 1 for d in datasets)
    what_en = f"classification {release}" if release else "every published classification"
    what_cy = f"dosbarthiad {release}" if release else "pob dosbarthiad a gyhoeddwyd"
    out = {
        "@context": CONTEXT,
        "@type": "dcat:Catalog",
        "dct:title": _text(f"Broadband gap map for Wales: open data, {what_en}",
                           f"Map bylchau band eang Cymru: data agored, {what_cy}"),
        "dct:description": _text(
            notice + "Premises, area statistics and changes between classifications: which "
            "premises in Wales cannot get 30 Mbit/s, on what evidence, and which schemes could "
            "help them.",
            notice + "Safleoedd, ystadegau ardal a newidiadau rhwng dosbarthiadau: pa safleoedd "
            "yng Nghymru na allant gael 30 Mbit/s, ar ba dystiolaeth, a pha gynlluniau a allai "
            "eu helpu."),
        "dct:publisher": {"@type": "foaf:Agent", "foaf:name": PUBLISHER},
        "dct:language": [{"@id": "http://id.loc.gov/vocabulary/iso639-1/en"},
                         {"@id": "http://id.loc.gov/vocabulary/iso639-1/cy"}],
        "dct:license": _licence(speedtests),
        "dct:rights": _rights(speedtests),
        "dct:modified": {"@value": modified, "@type": "xsd:dateTime"} if modified else None,
        "dcat:dataset": datasets,
    }
    return {k: v for k, v in out.items() if v is not None}


def published_releases(out: Path) -> list[str]:
    """The release folders in ``out`` that hold a catalogue, oldest first."""
    if not Path(out).is_dir():
        return []
    return sorted(p.name for p in Path(out).iterdir()
                  if p.is_dir() and not p.name.startswith(".") and (p / CATALOG).is_file())


def write_top_catalog(out: Path) -> int:
    """``out/catalog.jsonld``: the datasets of every release in ``out``, their links relative to
    ``out``. Replaced in one step. Returns how many releases it lists."""
    out = Path(out)
    datasets, catalogs, modified = [], [], []
    labels = published_releases(out)
    for label in labels:
        catalog = json.loads((out / label / CATALOG).read_text(encoding="utf-8"))
        if "dct:modified" in catalog:
            modified.append(catalog["dct:modified"]["@value"])
        for ds in catalog["dcat:dataset"]:
            ds = dict(ds, **{"@id": f"{label}/{CATALOG}{ds['@id']}"})
            ds["dcat:distribution"] = [
                dict(d, **{"dcat:downloadURL": {"@id": f"{label}/{d['dcat:downloadURL']['@id']}"}})
                for d in ds["dcat:distribution"]]
            datasets.append(ds)
        catalogs.append({
            "@id": f"{label}/{CATALOG}", "@type": "dcat:Catalog",
            "dct:title": _text(f"Classification {label}", f"Dosbarthiad {label}"),
            "dcat:version": label})
    top = _catalog(datasets, max(modified) if modified else None)
    top["dcat:catalog"] = catalogs
    _write_json(out / CATALOG, top)
    return len(labels)


# -- the catalogue for people (``/<lang>/data``) ---------------------------------------------
#: a distribution's format as people name it, by IANA media type
FORMAT_NAMES = {"text/csv": "CSV", "application/geopackage+sqlite3": "GeoPackage",
                "application/csvm+json": "CSVW (JSON)", "application/ld+json": "JSON-LD",
                "application/vnd.pmtiles": "PMTiles"}


def scope_names(conn: psycopg.Connection) -> dict[str, tuple[str, str]]:
    """The English and Welsh names of every scope a release is published for, by the ONS code
    its datasets' ``dct:spatial`` ends with (W92000004 for Wales)."""
    return {code or WALES[1]: (en, cy) for _part, code, en, cy in _scopes(conn)}


def _in(texts: Any, lang: str) -> str:
    """The ``lang`` text of a JSON-LD value (a list of language-tagged values, or a string)."""
    if isinstance(texts, str):
        return texts
    by_lang = {t.get("@language"): t.get("@value", "") for t in texts or []}
    return by_lang.get(lang) or by_lang.get("en") or next(iter(by_lang.values()), "")


def catalogue_page(out: Path | None, lang: str,
                   names: dict[str, tuple[str, str]] | None = None) -> list[dict[str, Any]]:
    """What ``out/catalog.jsonld`` lists, for a page in ``lang``: the releases, newest first,
    each with when it was issued, its source releases, licence and attribution, and its
    datasets grouped by area (Wales first), each with its files (title, link relative to
    ``out``, format, byte size, SHA-256). Empty when nothing is published in ``out``."""
    top = Path(out) / CATALOG if out is not None else None
    if top is None or not top.is_file():
        return []
    catalog = json.loads(top.read_text(encoding="utf-8"))
    names = names or {}
    releases: dict[str, dict[str, Any]] = {}
    for entry in catalog.get("dcat:catalog", []):
        releases[entry["dcat:version"]] = {"label": entry["dcat:version"], "areas": {}}
    for ds in catalog.get("dcat:dataset", []):
        label = ds["dcat:version"]
        release = releases.setdefault(label, {"label": label, "areas": {}})
        release.setdefault("issued", ds.get("dct:issued", {}).get("@value"))
        release.setdefault("sources", [
            {"title": s.get("dct:title", ""), "version": s.get("dcat:version", ""),
             "issued": s.get("dct:issued", {}).get("@value")} for s in ds.get("dct:source", [])])
        ids = _licence_ids(ds.get("dct:license"))
        # the first is the OGL; with speed tests CC BY-NC-SA 4.0 follows ("licences")
        release.setdefault("licence", ids[0] if ids else None)
        release.setdefault("licences", ids)
        release.setdefault("attribution", ds.get("dct:rights", {}).get("rdfs:label"))
        code = ds.get("dct:spatial", {}).get("@id", "").rsplit("/", 1)[-1]
        en, cy = names.get(code, (code, code))
        area = release["areas"].setdefault(code, {"code": code, "name": cy if lang == "cy" else en,
                                                  "datasets": []})
        files = []
        for dist in ds.get("dcat:distribution", []):
            media = dist.get("dcat:mediaType", {}).get("@id", "").split("media-types/")[-1]
            url = dist["dcat:downloadURL"]["@id"]
            files.append({
                "title": _in(dist.get("dct:title"), lang), "url": url,
                "name": url.rsplit("/", 1)[-1], "media_type": media,
                "format": FORMAT_NAMES.get(media, media),
                "bytes": int(dist.get("dcat:byteSize", {}).get("@value", 0)),
                "sha256": dist.get("spdx:checksum", {}).get("spdx:checksumValue", ""),
            })
        area["datasets"].append({"title": _in(ds.get("dct:title"), lang),
                                 "description": _in(ds.get("dct:description"), lang),
                                 "files": files})
    ordered = sorted(releases.values(), key=lambda r: r["label"], reverse=True)
    for release in ordered:
        areas = release["areas"].values()
        release["areas"] = sorted(areas, key=lambda a: (a["code"] != WALES[1], a["name"]))
    return ordered
