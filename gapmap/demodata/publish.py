"""Writing the synthetic truth as the files the real publishers release, byte-for-byte repeatable.

Streams one authority at a time: memory is bounded by the largest authority, not by the scale.
Per-premises files (OS Open UPRN, BDUK, API responses, truth) are appended as each authority is
done; the per-postcode files (Ofcom coverage, performance) keep one small row per postcode and are
written sorted at the end; the raster accumulates per-cell sums on a fixed grid.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
from pathlib import Path

import numpy as np
from pyproj import Transformer

from connectivity.postcodes import postcode_area
from etl import formats

from .inputs import Authority
from .model import CLASS_NAMES, Availability, Plans, Premises

USO_DOWN, USO_UP, SFBB = 10.0, 1.0, 30.0
RASTER_CELL_M = 100.0
TF = np.array(["false", "true"])
#: authorities of North Wales (for the synthetic BDUK lots)
NORTH = {"W06000001", "W06000002", "W06000003", "W06000004", "W06000005", "W06000006"}
COVERAGE_KEYS = ["d30_300", "d300", "d0_2", "d2_5", "d5_10", "d10_30", "sfbb", "ufbb100", "ufbb",
                 "unable2", "unable5", "unable10", "unable30", "gigabit", "unable_decent", "nga",
                 "fwa_decent"]
TRUTH_HEADER = ["uprn", "postcode", "la_code", "rurality", "technology", "true_down_mbps",
                "true_up_mbps", "band", "gigabit", "below_30", "below_uso", "bduk_status",
                "planned_build", "contract_final_coverage_date", "eligible_abc", "eligible_lbf",
                "eligible_uso"]


def _chunks(n: int, size: int = 100_000):
    """Slices of ``size`` rows: text is formatted a chunk at a time to bound memory."""
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


def _fmt(values: np.ndarray, decimals: int) -> list[str]:
    """Numbers as text without trailing zeros (100.0 -> '100', 33.3 -> '33.3')."""
    out = np.char.mod(f"%.{decimals}f", np.round(values.astype(np.float64), decimals))
    return [s.rstrip("0").rstrip(".") if "." in s else s for s in out.tolist()]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def bduk_status(a: Availability, plans: Plans) -> np.ndarray:
    return np.where((a.down >= 1000) | plans.future_gigabit, "Gigabit Grey/Black",
                    np.where(plans.under_review, "Gigabit Under Review", "Gigabit White"))


def coverage_by_postcode(p: Premises, a: Availability) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Per postcode (sorted): the Ofcom percentages computed from the truth."""
    order = np.argsort(p.postcode, kind="stable")
    pcs, starts, counts = np.unique(p.postcode[order], return_index=True, return_counts=True)
    down, up, tech = a.down[order], a.up[order], a.tech[order]

    def pct(mask: np.ndarray) -> np.ndarray:
        return np.add.reduceat(mask.astype(np.int64), starts) * 100.0 / counts

    return pcs, {
        "d30_300": pct((down >= 30) & (down < 300)), "d300": pct(down >= 300),
        "d0_2": pct(down < 2), "d2_5": pct((down >= 2) & (down < 5)),
        "d5_10": pct((down >= 5) & (down < 10)), "d10_30": pct((down >= 10) & (down < 30)),
        "sfbb": pct(down >= 30), "ufbb100": pct(down >= 100), "ufbb": pct(down >= 300),
        "unable2": pct(down < 2), "unable5": pct(down < 5), "unable10": pct(down < 10),
        "unable30": pct(down < 30), "gigabit": pct(down >= 1000),
        "unable_decent": pct((down < USO_DOWN) | (up < USO_UP)),
        "nga": pct(np.isin(tech, ["fttc", "fttp", "altnet", "cable"])),
        # the model has no fixed wireless (see docs/demo-data.md)
        "fwa_decent": np.zeros(len(pcs)),
    }


def _api_speed(v: float) -> float | int:
    if np.isnan(v):
        return -1
    return int(v) if float(v).is_integer() else round(float(v), 1)


@dataclasses.dataclass
class _Release:
    label: str
    api: object
    truth: object
    truth_writer: object
    coverage: list  # per authority: (postcodes, percentages n x 17) - numbers, formatted at the end
    performance: list  # per authority: (postcodes, speed stats n x 9, line counts n x 7)
    sums: np.ndarray
    counts: np.ndarray
    api_postcodes: int = 0
    api_premises: int = 0
    figures: dict = dataclasses.field(default_factory=lambda: dict.fromkeys(
        ("premises", "gigabit", "below_30", "below_uso", "eligible_lbf", "planned_build"), 0))


class Publisher:
    """Writes every published view for each authority handed to :meth:`add`."""

    def __init__(self, out: Path, releases: list[str], seed: int, api_share: float,
                 extent: tuple[float, float, float, float]):
        self.out, self.seed, self.api_share = out, seed, api_share
        self.files: list[dict] = []
        self._to_wgs84 = Transformer.from_crs(27700, 4326, always_xy=True)
        xmin, ymin, xmax, ymax = extent
        self.x0 = np.floor(xmin / RASTER_CELL_M) * RASTER_CELL_M
        self.y1 = np.ceil(ymax / RASTER_CELL_M) * RASTER_CELL_M
        self.width = int(np.ceil((xmax - self.x0) / RASTER_CELL_M)) + 1
        self.height = int(np.ceil((self.y1 - ymin) / RASTER_CELL_M)) + 1
        self.uprn_path = out / "os_open_uprn/osopenuprn_demo.csv"
        self.uprn_path.parent.mkdir(parents=True, exist_ok=True)
        self.uprn_fh = self.uprn_path.open("w", encoding="utf-8-sig", newline="")
        self.uprn_writer = csv.writer(self.uprn_fh, lineterminator="\r\n")
        self.uprn_writer.writerow(formats.OS_OPEN_UPRN_HEADER)
        self.uprn_rows = 0
        self.releases: dict[str, _Release] = {}
        for label in releases:
            api_path = self._api_path(label)
            api_path.parent.mkdir(parents=True, exist_ok=True)
            truth_path = self._truth_path(label)
            truth_path.parent.mkdir(parents=True, exist_ok=True)
            truth_fh = truth_path.open("w", encoding="utf-8", newline="")
            writer = csv.writer(truth_fh, lineterminator="\n")
            writer.writerow(TRUTH_HEADER)
            self.releases[label] = _Release(
                label, api_path.open("w", encoding="utf-8", newline="\n"), truth_fh, writer, [], [],
                np.zeros(self.width * self.height, np.float32),
                np.zeros(self.width * self.height, np.int32))

    def _api_path(self, label: str) -> Path:
        return self.out / f"ofcom_api/{label}/coverage_api.jsonl"

    def _truth_path(self, label: str) -> Path:
        return self.out / f"truth/truth_{label}.csv"

    def _record(self, path: Path, rows: int, kind: str, release: str | None) -> None:
        self.files.append({"path": path.relative_to(self.out).as_posix(), "kind": kind,
                           "release": release, "rows": rows, "bytes": path.stat().st_size,
                           "sha256": _sha256(path)})

    # -- per authority ---------------------------------------------------------------------------
    def add(self, authority: Authority, p: Premises,
            releases: dict[str, tuple[Availability, Plans]]) -> None:
        self._uprn(p)
        api_rng = np.random.default_rng([self.seed, 99, authority.index])
        pcs = np.unique(p.postcode)
        api_chosen = set(pcs[api_rng.random(len(pcs)) < self.api_share].tolist())
        api_keep = api_rng.random(len(p)) >= 0.03  # about 3 % of premises missing, as in life
        for number, (label, (a, plans)) in enumerate(releases.items()):
            rel = self.releases[label]
            self._coverage(rel, p, a)
            self._api(rel, p, a, api_chosen, api_keep)
            self._bduk(rel, authority, p, a, plans)
            self._raster(rel, p, a)
            self._performance(rel, p, a, np.random.default_rng([self.seed, 97, authority.index, number]))
            self._truth(rel, authority, p, a, plans)

    def _uprn(self, p: Premises) -> None:
        lon, lat = self._to_wgs84.transform(p.x, p.y)
        for sl in _chunks(len(p)):
            self.uprn_writer.writerows(zip(
                p.uprn[sl].tolist(), _fmt(p.x[sl], 2), _fmt(p.y[sl], 2), _fmt(lat[sl], 7),
                _fmt(lon[sl], 7), strict=True))
        self.uprn_rows += len(p)

    @staticmethod
    def _coverage(rel: _Release, p: Premises, a: Availability) -> None:
        pcs, values = coverage_by_postcode(p, a)
        rel.coverage.append((pcs, np.column_stack([values[k] for k in COVERAGE_KEYS])))

    @staticmethod
    def _api(rel: _Release, p: Premises, a: Availability, chosen: set, keep: np.ndarray) -> None:
        order = np.argsort(p.postcode, kind="stable")
        pcs, starts = np.unique(p.postcode[order], return_index=True)
        ends = np.append(starts[1:], len(order))
        for j, pc in enumerate(pcs.tolist()):
            if pc not in chosen:
                continue
            items = []
            for i in order[starts[j]:ends[j]].tolist():
                if not keep[i]:
                    continue
                ultrafast = a.down[i] >= 300
                items.append({
                    "UPRN": int(p.uprn[i]),
                    "AddressShortDescription": f"{int(p.uprn[i]) % 1000} SYNTHETIC ROAD",
                    "MaxBbPredictedDown": _api_speed(a.adsl_down[i]),
                    "MaxBbPredictedUp": _api_speed(a.adsl_up[i]),
                    "MaxSfbbPredictedDown": _api_speed(a.fttc_down[i]),
                    "MaxSfbbPredictedUp": _api_speed(a.fttc_up[i]),
                    "MaxUfbbPredictedDown": _api_speed(a.down[i] if ultrafast else np.nan),
                    "MaxUfbbPredictedUp": _api_speed(a.up[i] if ultrafast else np.nan),
                    "MaxPredictedDown": _api_speed(a.down[i]),
                    "MaxPredictedUp": _api_speed(a.up[i]),
                })
            rel.api.write(json.dumps({"PostCode": pc.replace(" ", ""), "Availability": items},
                                     separators=(",", ":")) + "\n")
            rel.api_postcodes += 1
            rel.api_premises += len(items)

    def _bduk(self, rel: _Release, authority: Authority, p: Premises, a: Availability,
              plans: Plans) -> None:
        folder = self.out / f"bduk/{rel.label}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / formats.bduk_release_name(rel.label, "Wales", authority.name_en)
        region = "North" if authority.code in NORTH else "South"
        gig = a.down >= 1000
        status = bduk_status(a, plans)
        with path.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(formats.BDUK_UPRN_HEADER)
            for i in range(len(p)):
                contract = bool(plans.contract[i])
                superfast = bool(plans.superfast_programme[i])
                writer.writerow([
                    int(p.uprn[i]), str(int(p.uprn[i])), TF[int(plans.recognised[i])], "Wales",
                    p.postcode[i], f"W-{region[0]}", f"Wales {region} (synthetic lot)", status[i],
                    TF[int(gig[i])], TF[int(plans.future_gigabit[i])], authority.code,
                    authority.name_en, "W99999999", "Wales", TF[int(contract)],
                    "In scope" if contract else "", plans.contract_date[i],
                    f"Project Gigabit Wales {region} (synthetic)" if contract else "",
                    "Synthetic Fibre Cyf" if contract else "", "false", "", "", TF[int(superfast)],
                    "Superfast programme (synthetic)" if superfast else "",
                    "Synthetic Openreach" if superfast else "", "false", "", "",
                ])
        self._record(path, len(p), "bduk", rel.label)

    def _raster(self, rel: _Release, p: Premises, a: Availability) -> None:
        cols = np.floor((p.x - self.x0) / RASTER_CELL_M).astype(np.int64)
        rows = np.floor((self.y1 - p.y) / RASTER_CELL_M).astype(np.int64)
        flat = rows * self.width + cols
        rel.sums += np.bincount(flat, weights=np.log1p(np.minimum(a.down, 1000.0)),
                                minlength=len(rel.sums)).astype(np.float32)
        rel.counts += np.bincount(flat, minlength=len(rel.counts)).astype(np.int32)

    @staticmethod
    def _performance(rel: _Release, p: Premises, a: Availability, rng: np.random.Generator) -> None:
        """About 85 % of premises have a line, on a package no faster than what is available."""
        n = len(p)
        has_line = rng.random(n) < 0.85
        packages = np.array([1000.0, 500.0, 150.0, 67.0, 36.0])
        package = packages[np.minimum((rng.random(n) * len(packages)).astype(int), len(packages) - 1)]
        efficiency = rng.uniform(0.85, 1.0, n)
        down = np.minimum(package, a.down) * efficiency
        up = np.where(package >= 500, a.up, np.minimum(a.up, package / 5)) * efficiency
        usage = rng.lognormal(np.log(420.0), 0.6, n)
        idx = np.flatnonzero(has_line)
        idx = idx[np.argsort(p.postcode[idx], kind="stable")]
        pcs, starts, counts = np.unique(p.postcode[idx], return_index=True, return_counts=True)
        bands = [(0, 2), (2, 5), (5, 10), (10, 30), (30, 300), (300, np.inf), (30, np.inf)]
        stats = np.zeros((len(pcs), 9))
        lines = np.zeros((len(pcs), len(bands)), dtype=np.int64)
        for j in range(len(pcs)):
            sel = idx[starts[j]:starts[j] + counts[j]]
            d, u = down[sel], up[sel]
            stats[j] = (np.median(d), d.mean(), d.min(), d.max(), np.median(u), u.mean(), u.min(),
                        u.max(), usage[sel].mean())
            lines[j] = [((d >= lo) & (d < hi)).sum() for lo, hi in bands]
        rel.performance.append((pcs, stats, lines))

    @staticmethod
    def _truth(rel: _Release, authority: Authority, p: Premises, a: Availability,
               plans: Plans) -> None:
        """Ground truth per premises and the schemes it should qualify for (DOMAIN.md rules)."""
        below30 = a.down < SFBB
        uso = (a.down < USO_DOWN) | (a.up < USO_UP)
        planned = plans.future_gigabit | plans.contract
        lbf = below30 & ~planned
        gig = a.down >= 1000
        status = bduk_status(a, plans)
        band = np.select([a.down < 2, a.down < 5, a.down < 10, a.down < 30, a.down < 300],
                         ["0<2", "2<5", "5<10", "10<30", "30<300"], ">=300")
        for sl in _chunks(len(p)):
            downs, ups = _fmt(a.down[sl], 1), _fmt(a.up[sl], 1)
            for k, i in enumerate(range(sl.start, sl.stop)):
                rel.truth_writer.writerow([
                    int(p.uprn[i]), p.postcode[i], authority.code, CLASS_NAMES[int(p.rurality[i])],
                    a.tech[i], downs[k], ups[k], band[i], TF[int(gig[i])], TF[int(below30[i])],
                    TF[int(uso[i])], status[i], TF[int(planned[i])], plans.contract_date[i],
                    TF[int(below30[i])], TF[int(lbf[i])], TF[int(uso[i])],
                ])
        f = rel.figures
        f["premises"] += len(p)
        f["gigabit"] += int(gig.sum())
        f["below_30"] += int(below30.sum())
        f["below_uso"] += int(uso.sum())
        f["eligible_lbf"] += int(lbf.sum())
        f["planned_build"] += int(planned.sum())

    # -- the end ---------------------------------------------------------------------------------
    def close(self) -> tuple[list[dict], dict]:
        self.uprn_fh.close()
        self._record(self.uprn_path, self.uprn_rows, "os-open-uprn", None)
        summary = {}
        for number, rel in enumerate(self.releases.values()):
            self._write_coverage(rel)
            rel.api.close()
            self._record(self._api_path(rel.label), rel.api_postcodes, "ofcom-api", rel.label)
            self._write_raster(rel, number)
            self._write_performance(rel)
            rel.truth.close()
            self._record(self._truth_path(rel.label), rel.figures["premises"], "truth", rel.label)
            summary[rel.label] = rel.figures | {"postcodes": sum(len(c[0]) for c in rel.coverage),
                                                "premises_in_ofcom_api": rel.api_premises,
                                                "postcodes_in_ofcom_api": rel.api_postcodes}
        self.files.sort(key=lambda f: (f["release"] or "", f["path"]))
        return self.files, summary

    def _write_coverage(self, rel: _Release) -> None:
        folder = self.out / f"ofcom_coverage/{rel.label}"
        folder.mkdir(parents=True, exist_ok=True)
        pcs = np.concatenate([c[0] for c in rel.coverage])
        values = np.concatenate([c[1] for c in rel.coverage])
        order = np.argsort(pcs, kind="stable")
        pcs, values = pcs[order], values[order]
        areas = np.array([postcode_area(pc) for pc in pcs.tolist()])
        for area in sorted(set(areas.tolist())):
            idx = np.flatnonzero(areas == area)
            path = folder / formats.ofcom_pc_coverage_name(rel.label, area)
            with path.open("w", encoding="utf-8", newline="") as fh:
                writer = csv.writer(fh, lineterminator="\r\n")
                writer.writerow(formats.OFCOM_PC_COVERAGE_HEADER_2026_01)
                texts = [_fmt(values[idx, k], 2) for k in range(values.shape[1])]
                for row, pc in enumerate(pcs[idx].tolist()):
                    writer.writerow([pc.replace(" ", ""), pc, area, *(t[row] for t in texts)])
            self._record(path, len(idx), "ofcom-coverage", rel.label)

    def _write_raster(self, rel: _Release, number: int) -> None:
        """A modelled download surface: geometric mean of the premises in each 100 m cell with
        model error; Float32 GeoTIFF in EPSG:27700, nodata -9999 where no premises."""
        import rasterio
        from rasterio.transform import from_origin

        rng = np.random.default_rng([self.seed, 98, number])
        grid = np.full(len(rel.sums), -9999.0, dtype=np.float32)
        has = rel.counts > 0
        error = rng.lognormal(0, 0.15, int(has.sum()))
        grid[has] = np.round(np.clip(np.expm1(rel.sums[has] / rel.counts[has]) * error, 0.5, 1000.0), 1)
        path = self.out / f"speed_raster/{rel.label}/modelled_download_100m.tif"
        path.parent.mkdir(parents=True, exist_ok=True)
        profile = {
            "driver": "GTiff", "width": self.width, "height": self.height, "count": 1,
            "dtype": "float32", "crs": "EPSG:27700", "nodata": -9999.0,
            "transform": from_origin(self.x0, self.y1, RASTER_CELL_M, RASTER_CELL_M),
            "compress": "deflate", "predictor": 3, "tiled": True, "blockxsize": 256, "blockysize": 256,
        }
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(grid.reshape(self.height, self.width), 1)
            dst.update_tags(synthetic="true", release=rel.label, units="Mbit/s",
                            description="Synthetic modelled best download speed (demo data)")
        self._record(path, int(has.sum()), "speed-raster", rel.label)

    def _write_performance(self, rel: _Release) -> None:
        path = self.out / (f"ofcom_performance/{rel.label}/"
                           f"{formats.ofcom_pc_performance_name(rel.label)}")
        path.parent.mkdir(parents=True, exist_ok=True)
        pcs = np.concatenate([r[0] for r in rel.performance])
        stats = np.concatenate([r[1] for r in rel.performance])
        lines = np.concatenate([r[2] for r in rel.performance])
        order = np.argsort(pcs, kind="stable")
        with path.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh, lineterminator="\r\n")
            writer.writerow(formats.OFCOM_PC_PERFORMANCE_HEADER)
            for sl in _chunks(len(order)):
                chunk = order[sl]
                texts = [_fmt(stats[chunk, k], 1) for k in range(stats.shape[1])]
                for row, i in enumerate(chunk.tolist()):
                    pc = str(pcs[i])
                    writer.writerow([pc, postcode_area(pc), *(t[row] for t in texts),
                                     *lines[i].tolist()])
        self._record(path, len(pcs), "ofcom-performance", rel.label)
