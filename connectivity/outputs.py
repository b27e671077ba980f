"""What classification gives people: area statistics, release-to-release change, and exports
(CSV for Excel, GeoPackage for QGIS, GeoJSON) that carry evidence, reasons, releases and the data
attribution, stated once per file: in a CSV's CSVW metadata beside it (``FILE.csv-metadata.json``),
in the GeoPackage layer's metadata and in the GeoJSON's ``description``. Exports are written to a
temporary file and renamed, so a failure leaves nothing (a device or pipe such as /dev/stdout is
written in place, from a temporary file, with no metadata file beside it)."""

from __future__ import annotations

import csv
import errno
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import psycopg

from . import runs
from .classify import HEX_SIZES
from .db import SCHEMA
from .errors import BadRequest, GapmapError
from .geopackage import GPKG_OPTIONS, add_styles, status_style
from .reasons import missing_columns_sql, reason_sql, source_name_sql
from .vocab import LANGS, SCHEMES, SPEEDTEST_ATTRIBUTION, STATISTICS_LEVELS, STATUSES

ATTRIBUTION = (
    "Contains OS data (c) Crown copyright and database right 2025; Royal Mail data (c) Royal Mail "
    "copyright and database right 2025; National Statistics data (c) Crown copyright and database "
    "right 2025; Ofcom and BDUK data under the Open Government Licence v3.0. Classification by the "
    "Wales broadband gap map."
)
SYNTHETIC_NOTICE = "SYNTHETIC DEMO DATA: premises and speeds are invented. "
OGL = "http://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/"
#: the licence of Ookla's open data: a file with speed test figures, or statuses they moved,
#: carries it beside the OGL (non-commercial, share-alike)
CC_BY_NC_SA = "https://creativecommons.org/licenses/by-nc-sa/4.0/"
#: AddressBase (OS) is held under the Public Sector Geospatial Agreement, not the OGL: a file
#: holding addresses (an officer's target list) carries OS's attribution for it, with the year
#: of the AddressBase supply, and the PSGA beside the OGL. Public files never hold addresses.
PSGA = "https://www.ordnancesurvey.co.uk/customers/public-sector/public-sector-licensing"


def address_attribution(year: int) -> str:
    """OS's attribution of the AddressBase addresses a file holds (supplied in ``year``)."""
    return (f"Addresses from OS AddressBase under the Public Sector Geospatial Agreement: "
            f"Contains OS data \u00a9 Crown copyright and database rights {int(year)}.")


def used_speedtests(conn: psycopg.Connection, run_label: str) -> bool:
    """Whether classification run ``run_label`` read a release of speed tests (Ookla): its
    files then carry speed test figures, and statuses those moved, under CC BY-NC-SA 4.0."""
    row = conn.execute(f"SELECT releases ? 'ookla' FROM {SCHEMA}.classification_run "
                       "WHERE label = %s", (run_label,)).fetchone()
    return bool(row and row[0])


def stats(conn: psycopg.Connection, level: str, run: str | None = None,
          hex_size: int | None = None) -> list[dict[str, Any]]:
    """Statistics per area of ``level`` for a classification run (default: the current one)."""
    STATISTICS_LEVELS.check(level)
    run_id = runs.by_label(conn, run).id
    stored = level
    if level == "hex":
        size = hex_size or HEX_SIZES[1]
        if size not in HEX_SIZES:
            raise BadRequest(f"hexagon size {size} is not kept; use one of {HEX_SIZES}")
        stored = f"hex{size}"
    cur = conn.execute(
        f"""SELECT s.*, a.name_en, a.name_cy FROM {SCHEMA}.area_stats_{run_id} s
            LEFT JOIN {SCHEMA}.area a ON a.level = s.level AND a.code = s.code
            WHERE s.level = %s ORDER BY s.code""", (stored,))
    names = [d.name for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


#: the premises columns compared between two runs (a change in any is a change)
DIFF_FIELDS = ("status", "band", "eligible_abc", "eligible_lbf", "eligible_uso", "eligible_voucher")
#: the columns of :func:`changed_sql`, in order
DIFF_COLUMNS = ["uprn", "postcode",
                *(f"{f}_{when}" for f in DIFF_FIELDS for when in ("before", "after")),
                "best_down_before", "best_down_after"]


def changed_sql(before_id: int, after_id: int) -> str:
    """The premises whose status, band or eligibility differ between runs ``before_id`` and
    ``after_id`` (added or removed premises too), one row each with :data:`DIFF_COLUMNS`, by UPRN."""
    return f"""
        SELECT coalesce(n.uprn, o.uprn) AS uprn, coalesce(n.postcode, o.postcode) AS postcode,
               {', '.join(f'o.{f} AS {f}_before, n.{f} AS {f}_after' for f in DIFF_FIELDS)},
               o.best_down AS best_down_before, n.best_down AS best_down_after
        FROM {SCHEMA}.premises_class_{before_id} o
        FULL JOIN {SCHEMA}.premises_class_{after_id} n USING (uprn)
        WHERE ({', '.join(f'o.{f}' for f in DIFF_FIELDS)})
              IS DISTINCT FROM ({', '.join(f'n.{f}' for f in DIFF_FIELDS)})
        ORDER BY 1"""


def diff(conn: psycopg.Connection, before: str, after: str, level: str = "la",
         limit: int | None = None) -> dict[str, Any]:
    """Premises whose status, band or eligibility changed between two runs, and change per area."""
    old, new = runs.by_label(conn, before), runs.by_label(conn, after)
    a, b = old.id, new.id
    changed = changed_sql(a, b)
    total = conn.execute(f"SELECT count(*) FROM ({changed}) c").fetchone()[0]
    cur = conn.execute(changed + (f" LIMIT {int(limit)}" if limit else ""))
    names = [d.name for d in cur.description]
    premises = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    transitions = conn.execute(
        f"""SELECT o.status, n.status, count(*) FROM {SCHEMA}.premises_class_{a} o
            JOIN {SCHEMA}.premises_class_{b} n USING (uprn) WHERE o.status <> n.status
            GROUP BY 1, 2 ORDER BY 3 DESC""").fetchall()
    cur = conn.execute(
        f"""SELECT coalesce(n.code, o.code) AS code, ar.name_en, ar.name_cy,
                   o.premises AS premises_before, n.premises AS premises_after,
                   o.expected_below_30 AS expected_below_30_before,
                   n.expected_below_30 AS expected_below_30_after,
                   o.abc_eligible AS abc_eligible_before, n.abc_eligible AS abc_eligible_after,
                   o.lbf_eligible AS lbf_eligible_before, n.lbf_eligible AS lbf_eligible_after
            FROM (SELECT * FROM {SCHEMA}.area_stats_{a} WHERE level = %(l)s) o
            FULL JOIN (SELECT * FROM {SCHEMA}.area_stats_{b} WHERE level = %(l)s) n USING (level, code)
            LEFT JOIN {SCHEMA}.area ar ON ar.level = %(l)s AND ar.code = coalesce(n.code, o.code)
            ORDER BY 1""", {"l": level})
    names = [d.name for d in cur.description]
    areas = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    return {"from": old.label, "to": new.label, "premises_changed": total,
            "status_changes": [{"from": f, "to": t, "premises": n} for f, t, n in transitions],
            "areas": areas, "premises": premises}


EXPORT_COLUMNS = [
    "uprn", "postcode", "status", "probability_below", "best_down_mbps", "best_up_mbps", "band",
    "uso", "evidence", "evidence_release", "gigabit_class", "planned_build", "contract_name",
    "supplier", "final_coverage_date", "eligible_abc", "abc_reason", "eligible_lbf", "lbf_reason",
    "eligible_uso", "uso_reason", "eligible_voucher", "voucher_reason",
    "oa_code", "oa_premises", "oa_unable_30", "oa_unable_decent", "fwa_decent_pct",
    "address_kind", "speedtest_down", "speedtest_up", "speedtest_tests", "speedtest_release",
    "speedtest_moved", "classification",
    "easting", "northing", "latitude", "longitude", "la_code",
]


def export_columns_sql(lang: str, rules, geom: str) -> str:
    """The columns every premises export starts with (``c`` a premises_class row, ``geom`` its
    British National Grid point), reasons in ``lang`` from ``rules``; ``%(run)s`` is the run."""
    return f"""c.uprn, c.postcode, c.status, c.probability_below, c.best_down AS best_down_mbps,
               c.best_up AS best_up_mbps, c.band, c.uso, c.evidence, c.evidence_release,
               c.gigabit_class, c.planned_build, c.contract_name, c.supplier, c.final_coverage_date,
               c.eligible_abc, {reason_sql('abc', lang, rules)} AS abc_reason,
               c.eligible_lbf, {reason_sql('lbf', lang, rules)} AS lbf_reason,
               c.eligible_uso, {reason_sql('uso', lang, rules)} AS uso_reason,
               c.eligible_voucher, {reason_sql('voucher', lang, rules)} AS voucher_reason,
               c.oa_code, c.oa_premises, c.oa_unable_30, c.oa_unable_decent, c.fwa_decent_pct,
               c.address_kind, c.speedtest_down, c.speedtest_up, c.speedtest_tests,
               c.speedtest_release, c.speedtest_moved,
               %(run)s AS classification,
               round(ST_X({geom})::numeric, 2) AS easting, round(ST_Y({geom})::numeric, 2) AS northing,
               round(ST_Y(ST_Transform({geom}, 4326))::numeric, 7) AS latitude,
               round(ST_X(ST_Transform({geom}, 4326))::numeric, 7) AS longitude"""


def _export_query(run: runs.Run, lang: str, areas: list[str], statuses: list[str],
                  scheme: str | None, min_probability: float | None,
                  missing: str = "") -> tuple[str, dict]:
    where, params = [], {}
    if areas:
        where.append(f"""EXISTS (SELECT 1 FROM {SCHEMA}.area a WHERE a.code = ANY(%(areas)s)
                                 AND ST_Covers(a.geom, p.geom))""")
        params["areas"] = [a.upper() for a in areas]
    if statuses:
        unknown = sorted(set(statuses) - set(STATUSES.codes))
        if unknown:
            raise BadRequest(f"unknown status(es) {', '.join(unknown)}; "
                             f"expected {', '.join(STATUSES.codes)}")
        where.append("c.status = ANY(%(statuses)s)")
        params["statuses"] = statuses
    if scheme:
        SCHEMES.check(scheme)
        where.append(f"c.eligible_{scheme} IN ('eligible', 'possibly')")
    if min_probability is not None:
        if not 0 <= min_probability <= 1:
            raise BadRequest(f"--min-probability {min_probability:g} is not a probability; "
                             "give a number from 0 to 1")
        where.append("c.probability_below >= %(min_probability)s")
        params["min_probability"] = min_probability
    rules = run.rules
    sql = f"""
        SELECT {export_columns_sql(lang, rules, "p.geom")},
               (SELECT a.code FROM {SCHEMA}.area a WHERE a.level = 'la' AND ST_Covers(a.geom, p.geom)
                LIMIT 1) AS la_code
        FROM (SELECT *{missing}, {source_name_sql(lang)} AS source_name
              FROM {SCHEMA}.premises_class_{run.id}) c
        JOIN {SCHEMA}.premises p USING (uprn)
        {('WHERE ' + ' AND '.join(where)) if where else ''}
        ORDER BY la_code, c.postcode COLLATE "C", c.uprn"""
    params["run"] = run.label
    return sql, params


def export(conn: psycopg.Connection, out: Path, fmt: str, *, run: str | None = None,
           areas: list[str] = (), statuses: list[str] = (), scheme: str | None = None,
           min_probability: float | None = None, lang: str = "en") -> int:
    """Write the premises of a run to ``out``, by authority, postcode and UPRN; returns the
    number of rows. Filters: in any of ``areas``, of any of ``statuses``, eligible or possibly
    eligible for ``scheme``, ``probability_below`` at least ``min_probability``."""
    if fmt not in ("csv", "gpkg", "geojson"):
        raise BadRequest(f"unknown format {fmt!r}; expected csv, gpkg or geojson")
    if lang not in LANGS:
        raise BadRequest("--lang must be en or cy")
    chosen = runs.by_label(conn, run, with_rules=True)
    sql, params = _export_query(chosen, lang, list(areas), list(statuses), scheme,
                                min_probability,
                                missing_columns_sql(conn, f"premises_class_{chosen.id}"))
    return write_query(conn, out, fmt, sql, params, chosen.label, chosen.synthetic,
                       speedtests=used_speedtests(conn, chosen.label))


def write_query(conn: psycopg.Connection, out: Path, fmt: str, sql: str, params: dict,
                run_label: str, synthetic: bool, *, columns: list[str] = EXPORT_COLUMNS,
                speedtests: bool = False, addresses: int | None = None) -> int:
    """Write the rows of ``sql`` (its columns: ``columns``, with easting/northing and
    latitude/longitude for the points) to ``out`` as ``fmt``, through a temporary file renamed
    into place, with the attribution once: a CSV gets ``<out>-metadata.json`` (CSVW) beside it, a
    GeoPackage (1.3, with a QGIS style by status when there is a status) its layer metadata, a
    GeoJSON its ``description``. With ``speedtests`` (the run read Ookla's speed tests) the
    attribution and licence add Ookla's and CC BY-NC-SA 4.0; with ``addresses`` (the year of
    the AddressBase supply whose addresses the rows hold) OS's AddressBase attribution and the
    PSGA. Returns the number of rows."""
    out = Path(out)
    if out.is_dir():
        raise GapmapError(f"cannot write {out}: it is a folder",
                          "give a file name, e.g. premises.csv")
    # A device or pipe (/dev/stdout, /dev/null, a FIFO) is written in place, never renamed over.
    special = out.exists() and not out.is_file()
    target = out if special else out.resolve()
    folder = Path(tempfile.gettempdir()) if special else target.parent
    if not folder.is_dir():
        raise GapmapError(f"cannot write {out}: the folder {folder} does not exist",
                          "create it first, or give another path with -o")
    tmp: Path | None = None
    sidecar: Path | None = None
    try:
        try:
            fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=f".{fmt}", dir=folder)
        except OSError as exc:
            raise _write_error(out, exc, folder) from None
        os.close(fd)
        tmp = Path(name)
        try:
            with conn.transaction():  # the server-side cursor lives in a transaction
                rows = _write_csv(conn, sql, params, tmp, columns) if fmt == "csv" else \
                    _write_vector(conn, sql, params, tmp, fmt, run_label, synthetic, columns,
                                  speedtests, addresses)
            if fmt == "gpkg" and "status" in columns:
                add_styles(tmp, {"premises": status_style()})
        except _gdal_errors() as exc:
            # GDAL says only "disk I/O error" or "Cannot write feature": find the real cause
            raise _write_error(out, _probe_write(tmp) or exc) from None
        if special:
            with tmp.open("rb") as source, out.open("wb") as sink:
                shutil.copyfileobj(source, sink, 1 << 20)
        else:
            if fmt == "csv":
                sidecar = tmp.with_name(f"{tmp.name}-metadata.json")
                _write_csv_metadata(sidecar, target.name, columns, run_label, synthetic,
                                    speedtests, addresses)
            for written in (tmp, sidecar):
                if written is not None:
                    os.chmod(written, 0o666 & ~_umask())  # as a new file, not mkstemp's 0600
            os.replace(tmp, target)
            tmp = None
            if sidecar is not None:
                os.replace(sidecar, target.with_name(f"{target.name}-metadata.json"))
                sidecar = None
    except OSError as exc:
        raise _write_error(out, exc) from None
    finally:
        if sidecar is not None:
            sidecar.unlink(missing_ok=True)
        if tmp is not None:
            for leftover in (tmp, *(Path(f"{tmp}{s}") for s in ("-journal", "-wal", "-shm"))):
                leftover.unlink(missing_ok=True)
    return rows


def attribution(speedtests: bool = False, addresses: int | None = None) -> str:
    """The attribution a file carries: the OGL sources', Ookla's when it holds speed test
    figures or statuses they moved, and AddressBase's when it holds addresses (``addresses``:
    the year of their supply)."""
    return (ATTRIBUTION + (f" {SPEEDTEST_ATTRIBUTION.en}." if speedtests else "")
            + (f" {address_attribution(addresses)}" if addresses else ""))


def licences(speedtests: bool = False, addresses: int | None = None) -> list[str]:
    """The licences of a file's contents: the OGL, CC BY-NC-SA 4.0 with speed tests, the PSGA
    with addresses."""
    return [OGL, *([CC_BY_NC_SA] if speedtests else []), *([PSGA] if addresses else [])]


def describe(run_label: str, synthetic: bool, speedtests: bool = False,
             addresses: int | None = None) -> str:
    """What an export says once about itself: the classification and the attribution."""
    return ((SYNTHETIC_NOTICE if synthetic else "") + f"Classification {run_label}. "
            + attribution(speedtests, addresses))


def _write_csv_metadata(path: Path, csv_name: str, columns: list[str], run_label: str,
                        synthetic: bool, speedtests: bool = False,
                        addresses: int | None = None) -> None:
    """The CSV's CSVW metadata (W3C: ``<file>-metadata.json`` is where CSVW tools look), holding
    the attribution and licence the rows no longer repeat."""
    ids = licences(speedtests, addresses)
    document = {
        "@context": ["http://www.w3.org/ns/csvw", {"@language": "en"}],
        "url": csv_name,
        "dc:description": describe(run_label, synthetic, speedtests, addresses),
        "dc:license": {"@id": OGL} if len(ids) == 1 else [{"@id": url} for url in ids],
        "dc:rights": attribution(speedtests, addresses),
        "dialect": {"encoding": "utf-8", "header": True, "lineTerminators": ["\r\n"]},
        "tableSchema": {"columns": [{"name": c, "titles": c} for c in columns]},
    }
    path.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_WRITE_ERRORS = {
    # errno: (cause, hint)
    errno.ENOSPC: ("no space left on the device (the disk is full)",
                   "free some space, or write somewhere else with -o"),
    errno.EDQUOT: ("the disk quota is exceeded",
                   "free some space, or write somewhere else with -o"),
    errno.EFBIG: ("the file is larger than this process may write (file size limit, ulimit -f)",
                  "raise the limit, or export less with --area, --status or --scheme"),
    errno.EROFS: ("the file system is read-only", "write somewhere else with -o"),
    errno.EACCES: ("permission denied", "write to a folder you may write to, with -o"),
    errno.EPERM: ("permission denied", "write to a folder you may write to, with -o"),
}


def _write_error(out: Path, exc: BaseException, folder: Path | None = None) -> GapmapError:
    """``cannot write PATH: CAUSE`` with a hint, for an OS error (or a GDAL one)."""
    code = getattr(exc, "errno", None)
    if code in _WRITE_ERRORS:
        cause, hint = _WRITE_ERRORS[code]
    elif isinstance(exc, OSError):
        cause, hint = (exc.strerror or str(exc)).lower(), None
    else:
        text = str(exc).strip()
        cause, hint = (text.splitlines()[0] if text else type(exc).__name__), None
    if folder is not None and code in (errno.EACCES, errno.EPERM, errno.EROFS):
        cause = f"the folder {folder} is not writable ({cause})"
    return GapmapError(f"cannot write {out}: {cause}", hint)


def _probe_write(path: Path | None) -> OSError | None:
    """The OS error (disk full, file size limit) that writing more meets now, if any: appended to
    the largest of the file and its SQLite journals, the one that met the limit."""
    if path is None:
        return None
    files = [f for f in (path, *(Path(f"{path}{s}") for s in ("-journal", "-wal"))) if f.exists()]
    if not files:
        return None
    try:
        with max(files, key=lambda f: f.stat().st_size).open("ab") as fh:
            fh.write(b"\0" * (1 << 20))
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        return exc
    return None


def _gdal_errors() -> tuple[type[Exception], ...]:
    from pyogrio.errors import DataLayerError, DataSourceError

    return (DataLayerError, DataSourceError)


def _write_csv(conn, sql: str, params: dict, path: Path, columns: list[str]) -> int:
    """UTF-8 with BOM and CRLF, which Excel opens cleanly (Welsh letters included)."""
    rows = 0
    with path.open("w", encoding="utf-8-sig", newline="") as fh, conn.cursor(name="export") as cur:
        writer = csv.writer(fh, lineterminator="\r\n")
        writer.writerow(columns)
        cur.itersize = 20_000
        cur.execute(sql, params)
        for row in cur:
            writer.writerow(["" if v is None else ("true" if v is True else "false" if v is False else v)
                             for v in row])
            rows += 1
    return rows


def _write_vector(conn, sql: str, params: dict, path: Path, fmt: str, run_label: str,
                  synthetic: bool, columns: list[str], speedtests: bool = False,
                  addresses: int | None = None) -> int:
    """GeoPackage 1.3 (EPSG:27700) or GeoJSON (WGS84), written in chunks with pyogrio; the
    attribution in the layer's metadata (GeoPackage) or ``description`` (GeoJSON)."""
    import geopandas as gpd
    import pandas as pd
    import pyogrio
    from shapely import points

    rows = 0
    first = True
    with conn.cursor(name="export") as cur:
        cur.itersize = 50_000
        cur.execute(sql, params)
        while chunk := cur.fetchmany(50_000):
            frame = pd.DataFrame(chunk, columns=columns)
            for col in ("probability_below", "best_down_mbps", "best_up_mbps", "easting",
                        "northing", "latitude", "longitude", "fwa_decent_pct",
                        "speedtest_down", "speedtest_up"):
                if col in frame:
                    frame[col] = frame[col].astype("float64")
            for col in ("oa_premises", "oa_unable_30", "oa_unable_decent", "speedtest_tests",
                        "parent_uprn"):
                if col in frame:
                    frame[col] = frame[col].astype("Int64")
            if fmt == "gpkg":
                geom, crs = points(frame["easting"], frame["northing"]), "EPSG:27700"
            else:
                geom, crs = points(frame["longitude"], frame["latitude"]), "EPSG:4326"
            gdf = gpd.GeoDataFrame(frame, geometry=geom, crs=crs)
            kwargs = _vector_options(fmt, run_label, synthetic, speedtests, addresses) if first else \
                ({"layer": "premises"} if fmt == "gpkg" else {})
            pyogrio.write_dataframe(gdf, path, driver="GPKG" if fmt == "gpkg" else "GeoJSON",
                                    append=not first, **kwargs)
            first = False
            rows += len(frame)
    if first:  # no rows: still a valid, empty file with the columns
        gdf = gpd.GeoDataFrame(pd.DataFrame(columns=columns), geometry=[],
                               crs="EPSG:27700" if fmt == "gpkg" else "EPSG:4326")
        pyogrio.write_dataframe(gdf, path, driver="GPKG" if fmt == "gpkg" else "GeoJSON",
                                **_vector_options(fmt, run_label, synthetic, speedtests,
                                                  addresses))
    return rows


def _vector_options(fmt: str, run_label: str, synthetic: bool,
                    speedtests: bool = False, addresses: int | None = None) -> dict[str, Any]:
    """pyogrio's options for the first write of a GeoPackage or GeoJSON export."""
    text = describe(run_label, synthetic, speedtests, addresses)
    if fmt == "gpkg":
        return {"layer": "premises", "dataset_options": GPKG_OPTIONS,
                "metadata": {"DESCRIPTION": text}}
    return {"layer_options": {"DESCRIPTION": text}}
