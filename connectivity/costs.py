"""The cost model of intervention planning (connectivity/costs.toml, or the ``costs_file``
setting) as a typed, immutable object, checked like the classification rules (rules.py).

Every key of the file is a field here and is read by planning.py; a file with an unknown key, a
missing key, a value of the wrong type, a civils mix that does not add up to 1, or a value
without its source in both languages is refused with a :class:`ConfigError` naming the file,
the key and the value. Each plan stores the model it was costed with (:meth:`CostModel.as_dict`).
Design and defaults: docs/planning.md.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .tomlconfig import DottedKeys, Reader, dotted_keys, read
from .tomlconfig import toml as _shown

#: the options a cluster may be connected by, in the order they are shown
OPTIONS = ("fibre", "fixed_wireless", "leo_satellite")
#: what a plan aims for: 30 Mbit/s (superfast) or gigabit
TARGETS = ("30", "gigabit")
#: options' names in English and Welsh
OPTION_NAMES = {
    "fibre": ("fibre extension", "estyn ffibr"),
    "fixed_wireless": ("fixed wireless", "di-wifr sefydlog"),
    "leo_satellite": ("low-earth-orbit satellite", "lloeren orbit isel"),
}


@dataclass(frozen=True)
class Clusters:
    distance_m: float
    min_premises: int
    probability_below: float


@dataclass(frozen=True)
class Mix:
    field: float
    verge: float
    footway: float
    carriageway: float


@dataclass(frozen=True)
class Civils:
    field_gbp_per_m: float
    verge_gbp_per_m: float
    footway_gbp_per_m: float
    carriageway_gbp_per_m: float
    mix: Mix

    @property
    def gbp_per_m(self) -> float:
        """The average price of a metre of route at the assumed mix."""
        return (self.mix.field * self.field_gbp_per_m + self.mix.verge * self.verge_gbp_per_m
                + self.mix.footway * self.footway_gbp_per_m
                + self.mix.carriageway * self.carriageway_gbp_per_m)


@dataclass(frozen=True)
class Route:
    routing_factor: float


@dataclass(frozen=True)
class Fibre:
    connection_gbp_per_premises: float
    reaches_30: bool
    reaches_gigabit: bool


@dataclass(frozen=True)
class PerPremises:
    gbp_per_premises: float
    reaches_30: bool
    reaches_gigabit: bool


@dataclass(frozen=True)
class Flags:
    very_high_cost_gbp: float
    sensitivity: float


@dataclass(frozen=True)
class Sources:
    en: dict[str, str]
    cy: dict[str, str]


@dataclass(frozen=True)
class CostModel(DottedKeys):
    version: str
    clusters: Clusters
    civils: Civils
    route: Route
    fibre: Fibre
    fixed_wireless: PerPremises
    leo_satellite: PerPremises
    flags: Flags
    sources: Sources

    def as_dict(self) -> dict[str, Any]:
        """The model as the TOML file has it (what a plan stores)."""
        return dataclasses.asdict(self)

    def replace(self, key: str, value: Any) -> CostModel:
        """A copy with the dotted ``key`` set to ``value`` (checked as a file's value is)."""
        return parse_costs(self._replaced(self.as_dict(), key, value),
                           f"cost model with {key} replaced")

    def reaches(self, option: str, target: str) -> bool:
        """Whether ``option`` meets ``target`` ('30' or 'gigabit')."""
        o = getattr(self, option)
        return o.reaches_gigabit if target == "gigabit" else o.reaches_30

    def option_cost(self, option: str, premises: int, route_m: float | None) -> float | None:
        """What connecting ``premises`` by ``option`` costs, in GBP; fibre needs the route
        length (None: no route, so no fibre price)."""
        if option == "fibre":
            if route_m is None:
                return None
            return route_m * self.civils.gbp_per_m + premises * self.fibre.connection_gbp_per_premises
        return premises * getattr(self, option).gbp_per_premises


def value_keys() -> list[str]:
    """Every dotted key of a costs file that holds a value (the keys that need a source)."""
    return [k for k in dotted_keys(CostModel)
            if k != "version" and not k.startswith("sources.")]


def load_costs(path: Path | str | None = None) -> CostModel:
    """Read and check the cost model; ``path`` None means the packaged default."""
    return parse_costs(*read(path, "costs.toml", "costs file"))


def parse_costs(data: dict[str, Any], where: str) -> CostModel:
    model = _READER.build(CostModel, data, "", where)
    _check(model, where)
    return model


# -- checking -----------------------------------------------------------------------------------
_READER = Reader("costs.toml")


def _check(model: CostModel, where: str) -> None:
    """What types alone do not say."""
    for key in value_keys():
        value = model.get(key)
        if isinstance(value, bool):
            continue
        if isinstance(value, float | int) and (not math.isfinite(value) or value < 0):
            raise ConfigError(f"{where}: {key} must not be negative, got {_shown(value)}")
    if model.clusters.distance_m <= 0:
        raise ConfigError(f"{where}: clusters.distance_m must be above 0 metres, "
                          f"got {_shown(model.clusters.distance_m)}")
    if model.clusters.min_premises < 1:
        raise ConfigError(f"{where}: clusters.min_premises must be at least 1, "
                          f"got {model.clusters.min_premises}")
    if not 0 <= model.clusters.probability_below <= 1:
        raise ConfigError(f"{where}: clusters.probability_below must be between 0 and 1, "
                          f"got {_shown(model.clusters.probability_below)}")
    if model.route.routing_factor < 1:
        raise ConfigError(f"{where}: route.routing_factor must be at least 1 (a route is never "
                          f"shorter than the straight line), got {model.route.routing_factor}")
    mix = dataclasses.asdict(model.civils.mix)
    if abs(sum(mix.values()) - 1) > 1e-9:
        raise ConfigError(f"{where}: the shares of [civils.mix] must add up to 1, got "
                          f"{' + '.join(f'{v:g}' for v in mix.values())} = {sum(mix.values()):g}")
    if not 0 <= model.flags.sensitivity < 1:
        raise ConfigError(f"{where}: flags.sensitivity must be from 0 to below 1, "
                          f"got {_shown(model.flags.sensitivity)}")
    wanted = value_keys()
    for lang in ("en", "cy"):
        given = getattr(model.sources, lang)
        unknown = sorted(set(given) - set(wanted))
        if unknown:
            raise ConfigError(f"{where}: [sources.{lang}] names unknown key(s) "
                              f"{', '.join(unknown)}")
        missing = [k for k in wanted if not str(given.get(k, "")).strip()]
        if missing:
            raise ConfigError(f"{where}: [sources.{lang}] gives no source for "
                              f"{', '.join(missing)}",
                              "every value says where it comes from, in English and Welsh")


__all__ = ["OPTIONS", "OPTION_NAMES", "TARGETS", "CostModel", "load_costs", "parse_costs",
           "value_keys"]
