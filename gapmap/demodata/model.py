"""The synthetic premises base and its true broadband availability (documented in docs/demo-data.md).

Everything is vectorised numpy, one authority at a time, with a random stream fixed by
``(seed, authority index)``: the same seed gives the same premises for an authority whatever other
authorities are generated with it.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict

import numpy as np
import shapely

from .inputs import Authority, Inputs

# Rurality classes from postcode density (postcodes in the 3 km x 3 km around a postcode's 1 km cell)
URBAN, TOWN, VILLAGE, RURAL = 0, 1, 2, 3
CLASS_NAMES = ("urban", "town", "village", "rural")
DENSITY_BREAKS = (200, 60, 15)  # >= urban, >= town, >= village, else rural

#: Wales has about 1.5 million premises for 3.1 million people (Census 2021)
PREMISES_PER_PERSON = 0.484
#: synthetic UPRNs: 99 followed by the authority index and a sequence: never a real UPRN range
UPRN_BASE = 990_000_000_000
UPRN_PER_AUTHORITY = 100_000_000

# Placement: spread (metres) of premises around their postcode centroid, by class
SPREAD_M = (35.0, 60.0, 130.0, 450.0)
FARM_SHARE = 0.35  # rural premises placed at a nearby OSM farm / hamlet point instead
FARM_SEARCH_M = 3000.0

# Gigabit propensity by class (logit scale) and its postcode-level clustering
GIGABIT_CLASS_BASE = (2.0, 1.2, 0.2, -1.5)
GIGABIT_POSTCODE_SD = 1.2
GIGABIT_PREMISES_SD = 0.3
CABLE_SHARE_URBAN = 0.3  # of urban gigabit premises, served by cable (DOCSIS 3.1)
ALTNET_SHARE = 0.1  # of FTTP premises, served by a symmetric alt-net

# Copper line length to the cabinet (metres): lognormal median by class, postcode-shared part
LINE_MEDIAN_M = (300.0, 450.0, 700.0, 1150.0)
LINE_POSTCODE_SD = 0.45
LINE_PREMISES_SD = 0.25
NO_FTTC_SHARE = (0.005, 0.015, 0.05, 0.12)  # exchange-only lines with ADSL only

# Commercial gigabit plans (BDUK future_gigabit) among non-gigabit premises, by class
PLAN_SHARE = (0.7, 0.5, 0.25, 0.06)
# Publicly funded build (BDUK Project Gigabit contract) among the remaining "White" premises
CONTRACT_SHARE = 0.35
UNDER_REVIEW_SHARE = 0.05
# Second release: how much of the pipeline is delivered six months on
COMMERCIAL_DELIVERED = 0.2
NEW_CABINET_SHARE = 0.10  # of ADSL-only premises that get FTTC


@dataclasses.dataclass
class Premises:
    """Column arrays for the premises of one or more authorities, sorted by UPRN."""

    uprn: np.ndarray
    x: np.ndarray
    y: np.ndarray
    postcode: np.ndarray
    la_index: np.ndarray
    rurality: np.ndarray
    pc_effect: np.ndarray  # postcode-level random effect, shared by the postcode's premises

    def __len__(self) -> int:
        return len(self.uprn)


@dataclasses.dataclass
class Availability:
    """True availability of every premises at one release."""

    tech: np.ndarray  # fttp | altnet | cable | fttc | adsl
    down: np.ndarray  # best fixed-line download, Mbit/s (1 decimal)
    up: np.ndarray
    adsl_down: np.ndarray  # the ADSL speed on the copper line (every premises has one)
    adsl_up: np.ndarray
    fttc_down: np.ndarray  # NaN where no cabinet
    fttc_up: np.ndarray


@dataclasses.dataclass
class Plans:
    """BDUK view: commercial plans, publicly funded contracts, subsidy control status."""

    future_gigabit: np.ndarray  # bool
    contract: np.ndarray  # bool: in a BDUK Project Gigabit contract
    contract_date: np.ndarray  # str ISO date ('' when none)
    under_review: np.ndarray  # bool
    superfast_programme: np.ndarray  # bool: built by the earlier superfast programme
    recognised: np.ndarray  # bool


def rng_for(seed: int, authority: Authority, stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, authority.index, stream])


def postcode_density(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Postcodes in the 3x3 km block of 1 km cells around each postcode (all of Wales counted)."""
    cx, cy = np.floor(x / 1000).astype(np.int64), np.floor(y / 1000).astype(np.int64)
    counts: dict[tuple[int, int], int] = defaultdict(int)
    for key in zip(cx.tolist(), cy.tolist(), strict=True):
        counts[key] += 1
    out = np.zeros(len(x), dtype=np.int64)
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            out += np.fromiter((counts.get((a + dx, b + dy), 0) for a, b in
                                zip(cx.tolist(), cy.tolist(), strict=True)), dtype=np.int64, count=len(x))
    return out


def rurality_of(density: np.ndarray) -> np.ndarray:
    urban, town, village = DENSITY_BREAKS
    return np.select([density >= urban, density >= town, density >= village],
                     [URBAN, TOWN, VILLAGE], RURAL).astype(np.int8)


def premises_targets(inputs: Inputs, factor: float) -> dict[int, int]:
    """Premises per authority: Census population x premises per person x ``factor``."""
    return {a.index: int(round(a.density * a.area_km2 * PREMISES_PER_PERSON * factor))
            for a in inputs.authorities}


def _split(total: int, weights: np.ndarray) -> np.ndarray:
    """Integer counts summing exactly to ``total``, proportional to ``weights``, at least 1 each."""
    n = len(weights)
    if total < n:
        total = n
    share = weights / weights.sum() * (total - n)
    counts = np.floor(share).astype(np.int64)
    remainder = int(total - n - counts.sum())
    if remainder:
        order = np.argsort(-(share - counts), kind="stable")[:remainder]
        counts[order] += 1
    return counts + 1


class FarmIndex:
    """OSM farm / hamlet / isolated-dwelling points bucketed by 3 km cells."""

    def __init__(self, inputs: Inputs):
        keep = np.isin(inputs.places.fclass, ["farm", "hamlet", "locality", "isolated_dwelling"])
        self.x, self.y = inputs.places.x[keep], inputs.places.y[keep]
        self.cells: dict[tuple[int, int], list[int]] = defaultdict(list)
        for i, (px, py) in enumerate(zip(self.x.tolist(), self.y.tolist(), strict=True)):
            self.cells[(int(px // FARM_SEARCH_M), int(py // FARM_SEARCH_M))].append(i)

    def near(self, x: float, y: float) -> np.ndarray:
        cx, cy = int(x // FARM_SEARCH_M), int(y // FARM_SEARCH_M)
        found = [i for dx in (-1, 0, 1) for dy in (-1, 0, 1) for i in self.cells.get((cx + dx, cy + dy), ())]
        if not found:
            return np.empty(0, dtype=np.int64)
        idx = np.asarray(found)
        d2 = (self.x[idx] - x) ** 2 + (self.y[idx] - y) ** 2
        return idx[d2 <= FARM_SEARCH_M ** 2]


def build_premises(inputs: Inputs, authority: Authority, target: int, seed: int,
                   rurality: np.ndarray, farms: FarmIndex) -> Premises:
    rng = rng_for(seed, authority, 1)
    pcs = inputs.postcodes
    mine = np.flatnonzero(pcs.la_index == authority.index)
    mine = mine[np.argsort(pcs.postcode[mine], kind="stable")]
    cls = rurality[mine]
    weights = rng.lognormal(0.0, 0.45, len(mine)) * np.array([1.0, 1.0, 0.9, 0.7])[cls]
    counts = _split(target, weights)
    n = int(counts.sum())
    owner = np.repeat(np.arange(len(mine)), counts)
    pc_index = mine[owner]
    klass = cls[owner]
    cx, cy = pcs.x[pc_index], pcs.y[pc_index]
    spread = np.asarray(SPREAD_M)[klass]
    angle = rng.uniform(0, 2 * np.pi, n)
    radius = np.where(klass == RURAL, rng.exponential(1.0, n), np.abs(rng.normal(0, 1.0, n))) * spread
    x, y = cx + radius * np.cos(angle), cy + radius * np.sin(angle)
    # scattered farms: some rural premises sit at a nearby OSM farm or hamlet point
    farm_pick = (klass == RURAL) & (rng.random(n) < FARM_SHARE)
    farm_u = rng.random(n)
    jitter = rng.normal(0, 25.0, (n, 2))
    for i in np.flatnonzero(farm_pick):
        candidates = farms.near(cx[i], cy[i])
        if len(candidates):
            j = candidates[int(farm_u[i] * len(candidates))]
            x[i], y[i] = farms.x[j] + jitter[i, 0], farms.y[j] + jitter[i, 1]
    # every premises inside its authority: redraw closer to the centroid, else at the centroid
    for attempt in range(6):
        outside = ~shapely.contains_xy(authority.geom, x, y)
        if not outside.any():
            break
        k = int(outside.sum())
        shrink = 0.5 ** (attempt + 1)
        a = rng.uniform(0, 2 * np.pi, k)
        r = np.abs(rng.normal(0, 1.0, k)) * spread[outside] * shrink
        x[outside], y[outside] = cx[outside] + r * np.cos(a), cy[outside] + r * np.sin(a)
    else:
        outside = ~shapely.contains_xy(authority.geom, x, y)
        x[outside], y[outside] = cx[outside], cy[outside]
    pc_effect_by_pc = rng.normal(0, 1.0, len(mine))
    uprn = UPRN_BASE + authority.index * UPRN_PER_AUTHORITY + np.arange(1, n + 1, dtype=np.int64)
    return Premises(
        uprn=uprn, x=np.round(x, 2), y=np.round(y, 2), postcode=pcs.postcode[pc_index],
        la_index=np.full(n, authority.index, dtype=np.int32), rurality=klass.astype(np.int8),
        pc_effect=pc_effect_by_pc[owner],
    )


def _per_postcode(p: Premises, rng: np.random.Generator) -> np.ndarray:
    """A uniform random number per postcode, repeated for each of its premises."""
    _, inverse = np.unique(p.postcode, return_inverse=True)
    return rng.random(int(inverse.max()) + 1)[inverse]


def _top_k(score: np.ndarray, k: int) -> np.ndarray:
    chosen = np.zeros(len(score), dtype=bool)
    if k > 0:
        chosen[np.argsort(-score, kind="stable")[:k]] = True
    return chosen


def vdsl_speed(length_m: np.ndarray) -> np.ndarray:
    return np.minimum(80.0, 95.0 * np.exp(-length_m / 1050.0))


def adsl_speed(length_m: np.ndarray) -> np.ndarray:
    return np.clip(24.0 * np.exp(-length_m / 1600.0), 0.5, 17.0)


def build_availability(p: Premises, authority: Authority, seed: int, period: str) -> Availability:
    """Release-1 truth: exactly the authority's Ofcom gigabit share, copper speeds for the rest."""
    rng = rng_for(seed, authority, 2)
    n = len(p)
    score = (np.asarray(GIGABIT_CLASS_BASE)[p.rurality] + GIGABIT_POSTCODE_SD * p.pc_effect
             + rng.normal(0, GIGABIT_PREMISES_SD, n))
    gigabit = _top_k(score, int(round(authority.gigabit_target[period] / 100.0 * n)))
    u = rng.random(n)
    cable = gigabit & (p.rurality == URBAN) & (u < CABLE_SHARE_URBAN)
    altnet = gigabit & ~cable & (rng.random(n) < ALTNET_SHARE)
    fttp = gigabit & ~cable & ~altnet
    # copper: line length shares a postcode (cabinet) component
    pc_line = np.exp(LINE_POSTCODE_SD * np.tanh(p.pc_effect * 0.8) * -1.0)
    length = (np.asarray(LINE_MEDIAN_M)[p.rurality] * pc_line
              * rng.lognormal(0, LINE_PREMISES_SD, n))
    has_fttc = rng.random(n) >= np.asarray(NO_FTTC_SHARE)[p.rurality]
    adsl_down = np.round(adsl_speed(length), 1)
    adsl_up = np.round(np.minimum(1.2, 0.06 * adsl_down + 0.2), 1)
    fttc_down = np.where(has_fttc, np.round(vdsl_speed(length), 1), np.nan)
    fttc_up = np.where(has_fttc, np.round(np.minimum(20.0, 0.22 * fttc_down + 0.5), 1), np.nan)
    return _combine(gigabit, cable, altnet, fttp, adsl_down, adsl_up, fttc_down, fttc_up)


def _combine(gigabit, cable, altnet, fttp, adsl_down, adsl_up, fttc_down, fttc_up) -> Availability:
    copper_down = np.fmax(adsl_down, np.nan_to_num(fttc_down, nan=0.0))
    copper_up = np.where(np.nan_to_num(fttc_down, nan=0.0) >= adsl_down,
                         np.nan_to_num(fttc_up, nan=0.0), adsl_up)
    copper_up = np.where(np.isnan(fttc_down), adsl_up, copper_up)
    down = np.select([cable, altnet, fttp], [1130.0, 1000.0, 1000.0], copper_down)
    up = np.select([cable, altnet, fttp], [104.0, 1000.0, 115.0], copper_up)
    tech = np.select([cable, altnet, fttp, ~np.isnan(fttc_down)],
                     ["cable", "altnet", "fttp", "fttc"], "adsl")
    return Availability(tech=tech, down=down, up=up, adsl_down=adsl_down, adsl_up=adsl_up,
                        fttc_down=fttc_down, fttc_up=fttc_up)


def build_plans(p: Premises, a: Availability, authority: Authority, seed: int) -> Plans:
    rng = rng_for(seed, authority, 3)
    n = len(p)
    gig = a.down >= 1000
    plan_score = rng.random(n) * 0.3 + 0.7 * (0.5 + 0.5 * np.tanh(p.pc_effect))
    future = ~gig & (plan_score < np.asarray(PLAN_SHARE)[p.rurality])
    white = ~gig & ~future
    under_review = white & (rng.random(n) < UNDER_REVIEW_SHARE)
    white &= ~under_review
    # contracts cover whole postcodes where possible: a postcode-level draw, then premises
    contract = white & ((0.5 + 0.5 * np.tanh(-p.pc_effect)) * 0.8 + rng.random(n) * 0.2
                        < CONTRACT_SHARE)
    dates = np.array(["2026-06-30", "2026-12-31", "2027-06-30", "2028-03-31", "2028-12-31"])
    # a postcode's premises share their contract's final coverage date
    date_pick = dates[np.minimum((_per_postcode(p, rng) * len(dates)).astype(int), len(dates) - 1)]
    contract_date = np.where(contract, date_pick, "")
    superfast = (a.tech == "fttc") & (p.rurality >= VILLAGE) & (rng.random(n) < 0.5)
    recognised = rng.random(n) >= 0.02
    return Plans(future, contract, contract_date, under_review, superfast, recognised)


def next_release(p: Premises, a: Availability, plans: Plans, authority: Authority, seed: int,
                 as_of: str) -> tuple[Availability, Plans]:
    """Six months on: some commercial plans and every contract due by ``as_of`` are delivered,
    and some exchange-only lines get a cabinet."""
    rng = rng_for(seed, authority, 4)
    n = len(p)
    # whole streets at a time: the postcode effect decides most of it
    delivered_commercial = plans.future_gigabit & (_per_postcode(p, rng) < COMMERCIAL_DELIVERED)
    delivered_contract = plans.contract & (plans.contract_date <= as_of) & (plans.contract_date != "")
    newly = delivered_commercial | delivered_contract
    gigabit = (a.down >= 1000) | newly
    cable = a.tech == "cable"
    altnet = (a.tech == "altnet") | (newly & (rng.random(n) < ALTNET_SHARE))
    fttp = gigabit & ~cable & ~altnet
    fttc_down, fttc_up = a.fttc_down.copy(), a.fttc_up.copy()
    cabinet = np.isnan(fttc_down) & (rng.random(n) < NEW_CABINET_SHARE)
    # a new cabinet is close: the line to it is short
    length = np.asarray(LINE_MEDIAN_M)[p.rurality] * 0.6 * rng.lognormal(0, LINE_PREMISES_SD, n)
    fttc_down[cabinet] = np.round(vdsl_speed(length[cabinet]), 1)
    fttc_up[cabinet] = np.round(np.minimum(20.0, 0.22 * fttc_down[cabinet] + 0.5), 1)
    new = _combine(gigabit, cable, altnet, fttp, a.adsl_down, a.adsl_up, fttc_down, fttc_up)
    new_plans = Plans(
        future_gigabit=plans.future_gigabit & ~newly,
        contract=plans.contract & ~delivered_contract,
        contract_date=np.where(plans.contract & ~delivered_contract, plans.contract_date, ""),
        under_review=plans.under_review & ~newly,
        superfast_programme=plans.superfast_programme,
        recognised=plans.recognised,
    )
    return new, new_plans
