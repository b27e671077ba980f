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
import tomllib
import typing
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import ConfigError

PACKAGED = "connectivity/costs.toml"
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
class CostModel:
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

    def get(self, key: str) -> Any:
        value: Any = self
        for part in key.split("."):
            value = getattr(value, part)
        return value

    def replace(self, key: str, value: Any) -> CostModel:
        """A copy with the dotted ``key`` set to ``value`` (checked as a file's value is)."""
        data = self.as_dict()
        *parents, last = key.split(".")
        table = data
        for part in parents:
            table = table[part]
        if last not in table:
            raise KeyError(key)
        table[last] = value
        return parse_costs(data, f"cost model with {key} replaced")

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
    def walk(cls: type, prefix: str) -> list[str]:
        out = []
        for name, hint in _hints(cls).items():
            if dataclasses.is_dataclass(hint):
                out += walk(hint, f"{prefix}{name}.")
            else:
                out.append(prefix + name)
        return out

    return [k for k in walk(CostModel, "") if k != "version" and not k.startswith("sources.")]


def load_costs(path: Path | str | None = None) -> CostModel:
    """Read and check the cost model; ``path`` None means the packaged default."""
    where = PACKAGED if path is None else str(path)
    try:
        if path is None:
            text = resources.files("connectivity").joinpath("costs.toml").read_text("utf-8")
        else:
            text = Path(path).read_text("utf-8")
        data = tomllib.loads(text)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read the costs file {where}: {exc}") from None
    return parse_costs(data, f"costs file {where}")


def parse_costs(data: dict[str, Any], where: str) -> CostModel:
    model = _build(CostModel, data, "", where)
    _check(model, where)
    return model


# -- checking -----------------------------------------------------------------------------------
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


_TYPE_NAMES = {str: "a string", float: "a number", int: "a whole number", bool: "true or false"}


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, str) else str(value)


def _build(cls: type, data: Any, prefix: str, where: str) -> Any:
    table = "the top of the file" if not prefix else f"[{prefix[:-1]}]"
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: {prefix[:-1]} must be a table, got {_shown(data)}")
    hints = _hints(cls)
    for key, value in data.items():
        if key not in hints:
            raise ConfigError(f"{where}: unknown key {prefix}{key} = {_shown(value)}",
                              f"the keys of {table} are {', '.join(hints)}")
    values = {}
    for name, hint in hints.items():
        key = prefix + name
        if name not in data:
            raise ConfigError(f"{where}: {key} is missing",
                              f"add it to {table}; {PACKAGED} has its default")
        value = data[name]
        if dataclasses.is_dataclass(hint):
            values[name] = _build(hint, value, key + ".", where)
        elif typing.get_origin(hint) is dict:
            if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
                raise ConfigError(f"{where}: [{key}] must be a table of texts")
            values[name] = dict(value)
        else:
            ok = isinstance(value, hint) and not (hint is not bool and isinstance(value, bool))
            if hint is float and isinstance(value, int) and not isinstance(value, bool):
                value, ok = float(value), True
            if not ok:
                raise ConfigError(f"{where}: {key} must be {_TYPE_NAMES[hint]}, "
                                  f"got {_shown(value)}")
            values[name] = value
    return cls(**values)


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
