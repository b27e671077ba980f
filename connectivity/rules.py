"""The classification rules (connectivity/rules.toml, or the `rules_file` setting) as a typed,
immutable object.

Every key of the file is a field here and every field is read by classification or by the reason
sentences (docs/classification.md lists them). A file with an unknown key, a missing key or a
value of the wrong type is refused with a :class:`ConfigError` naming the file, the key and the
value, so an edit that the code would not read can never pass silently.

Each classification run stores its rules (:meth:`Rules.as_dict`); :func:`stored_rules` reads
them back, also for runs made by older versions of this file.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import tomllib
import typing
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .vocab import EVIDENCE

PACKAGED = "connectivity/rules.toml"
#: keys earlier rules files had, and why they went (said when a file still has one)
DROPPED = {
    "ultrafast_down": "nothing read it (Ofcom's bands, >=300 among them, are Ofcom's own: "
                      "connectivity/vocab.py)",
    "name": "the schemes' names, in English and Welsh, are in connectivity/vocab.py",
    "source": "each source is a comment beside its values, and in docs/classification.md",
}


@dataclass(frozen=True)
class Thresholds:
    #: Mbit/s: the line of the status (below / above), Ofcom's and the Welsh schemes' superfast
    superfast_down: float
    #: Mbit/s: decent broadband (USO) is >= uso_down down AND >= uso_up up
    uso_down: float
    uso_up: float
    #: Mbit/s: the best download of a premises BDUK says is gigabit-capable
    gigabit_down: float


@dataclass(frozen=True)
class RasterStep:
    below: float
    probability: float


@dataclass(frozen=True)
class EvidenceRules:
    #: evidence sources, strongest first (codes of connectivity.vocab.EVIDENCE but ``none``)
    order: tuple[str, ...]
    #: a modelled speed below ``below`` is below the superfast line with ``probability``
    raster_probability_below: tuple[RasterStep, ...]


@dataclass(frozen=True)
class Abc:
    max_down: float
    funding_window_months: int
    grant_gbp: int


@dataclass(frozen=True)
class Lbf:
    max_down: float
    exclude_planned_builds: bool


@dataclass(frozen=True)
class Uso:
    cost_cap_gbp: int


@dataclass(frozen=True)
class Voucher:
    suspended_in_wales: bool
    max_down: float


@dataclass(frozen=True)
class Schemes:
    abc: Abc
    lbf: Lbf
    uso: Uso
    voucher: Voucher


@dataclass(frozen=True)
class Rules:
    version: str
    thresholds: Thresholds
    evidence: EvidenceRules
    schemes: Schemes

    def as_dict(self) -> dict[str, Any]:
        """The rules as the TOML file has them (what a classification run stores)."""
        return _plain(dataclasses.asdict(self))

    def get(self, key: str) -> Any:
        """The value of a dotted key, e.g. ``schemes.abc.max_down``."""
        value: Any = self
        for part in key.split("."):
            value = getattr(value, part)
        return value

    def replace(self, key: str, value: Any) -> Rules:
        """A copy with the dotted ``key`` set to ``value`` (checked as a file's value is)."""
        data = self.as_dict()
        *parents, last = key.split(".")
        table = data
        for part in parents:
            table = table[part]
        if last not in table:
            raise KeyError(key)
        table[last] = value
        return parse_rules(data, f"rules with {key} replaced")


def keys() -> list[str]:
    """Every dotted key of a rules file, in the order of the fields."""
    def walk(cls: type, prefix: str) -> list[str]:
        out = []
        for field, hint in _hints(cls).items():
            if dataclasses.is_dataclass(hint):
                out += walk(hint, f"{prefix}{field}.")
            else:
                out.append(prefix + field)
        return out

    return walk(Rules, "")


def load_rules(path: Path | str | None = None) -> Rules:
    """Read and check the rules; ``path`` None means the packaged default."""
    where = PACKAGED if path is None else str(path)
    try:
        if path is None:
            text = resources.files("connectivity").joinpath("rules.toml").read_text("utf-8")
        else:
            text = Path(path).read_text("utf-8")
        data = tomllib.loads(text)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read the rules file {where}: {exc}") from None
    return parse_rules(data, f"rules file {where}")


def parse_rules(data: dict[str, Any], where: str) -> Rules:
    """Rules from a parsed TOML document; ``where`` names it in messages ("rules file F")."""
    rules = _build(Rules, data, "", where, strict=True)
    _check(rules, where)
    return rules


def stored_rules(data: dict[str, Any], run_label: str) -> Rules:
    """The rules a classification run stored. Runs made with an older rules file may lack keys
    added since (the packaged value is taken: what the code of their time did) or carry keys
    since dropped (ignored). Read for every answer that gives reasons, so kept once read."""
    return _stored(json.dumps(data, sort_keys=True), run_label)


@functools.lru_cache(maxsize=64)
def _stored(data: str, run_label: str) -> Rules:
    merged = _merge(_packaged(), json.loads(data))
    return _build(Rules, merged, "", f"the rules stored with classification run {run_label!r}",
                  strict=False)


@functools.lru_cache(maxsize=1)
def _packaged() -> dict[str, Any]:
    return load_rules().as_dict()


# -- checking -----------------------------------------------------------------------------------
@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


_TYPE_NAMES = {str: "a string", float: "a number", int: "a whole number", bool: "true or false"}


def _fail(where: str, key: str, message: str, value: Any = dataclasses.MISSING,
          hint: str | None = None) -> ConfigError:
    shown = "" if value is dataclasses.MISSING else f", got {_toml(value)}"
    return ConfigError(f"{where}: {key} {message}{shown}", hint)


def _toml(value: Any) -> str:
    """A value as it would be written in TOML (what the user wrote)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return str(value)


def _build(cls: type, data: Any, prefix: str, where: str, *, strict: bool) -> Any:
    if not prefix:
        table = "the top of the file"
    else:  # a table of an array of tables has no [header] of its own
        table = prefix[:-1] if prefix.endswith("].") else f"[{prefix[:-1]}]"
    if not isinstance(data, dict):
        raise _fail(where, prefix[:-1], "must be a table", data)
    hints = _hints(cls)
    if strict:
        for key, value in data.items():
            if key not in hints:
                hint = f"the keys of {table} are {', '.join(hints)}"
                if key in DROPPED:
                    hint += f"; {key} was dropped in rules 2026.2: {DROPPED[key]}"
                raise ConfigError(f"{where}: unknown key {prefix}{key} = {_toml(value)}", hint)
    values = {}
    for field, hint in hints.items():
        key = prefix + field
        if field not in data:
            raise _fail(where, key, "is missing",
                        hint=f"add it to {table}; {PACKAGED} has its default")
        values[field] = _value(hint, data[field], key, where, strict=strict)
    return cls(**values)


def _value(hint: Any, value: Any, key: str, where: str, *, strict: bool) -> Any:
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, key + ".", where, strict=strict)
    if typing.get_origin(hint) is tuple:
        item = typing.get_args(hint)[0]
        if not isinstance(value, list):
            raise _fail(where, key, "must be a list", value)
        return tuple(_value(item, v, f"{key}[{i}]", where, strict=strict)
                     for i, v in enumerate(value))
    ok = isinstance(value, hint) and not (hint is not bool and isinstance(value, bool))
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        value, ok = float(value), True
    if not ok:
        raise _fail(where, key, f"must be {_TYPE_NAMES[hint]}", value)
    return value


def _check(rules: Rules, where: str) -> None:
    """What types alone do not say."""
    for key in keys():
        value = rules.get(key)
        if isinstance(value, float) and not 0 < value < float("inf"):
            raise _fail(where, key, "must be a number of Mbit/s above 0", value)
        if isinstance(value, int) and not isinstance(value, bool) and value < 0:
            raise _fail(where, key, "must not be negative", value)
    order = rules.evidence.order
    known = [c for c in EVIDENCE.codes if c != "none"]
    for i, code in enumerate(order):
        if code not in known:
            raise _fail(where, f"evidence.order[{i}]", "is not an evidence source", code,
                        "known sources: " + ", ".join(known))
        if code in order[:i]:
            raise _fail(where, f"evidence.order[{i}]", "repeats an earlier source", code)
    steps = rules.evidence.raster_probability_below
    if not steps:
        raise _fail(where, "evidence.raster_probability_below", "must have at least one step",
                    [])
    for i, step in enumerate(steps):
        key = f"evidence.raster_probability_below[{i}]"
        if not 0 <= step.probability <= 1:
            raise _fail(where, f"{key}.probability", "must be between 0 and 1", step.probability)
        if i and step.below <= steps[i - 1].below:
            raise _fail(where, f"{key}.below", "must be larger than the step before's",
                        step.below)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            out[key] = _merge(base[key], value)
        else:
            out[key] = value
    return out


__all__ = ["Abc", "EvidenceRules", "Lbf", "RasterStep", "Rules", "Schemes", "Thresholds", "Uso",
           "Voucher", "keys", "load_rules", "parse_rules", "stored_rules"]
