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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .tomlconfig import DottedKeys, Reader, dotted_keys, read
from .tomlconfig import fail as _fail
from .vocab import EVIDENCE

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
class SpeedTests:
    """Crowd-sourced speed test tiles (Ookla open data): supporting evidence only."""

    #: a tile is shown beside a premises' prediction only with at least this many tests ...
    min_tests: int
    #: ... from at least this many devices
    min_devices: int
    #: whether a shown tile may move a "possibly below" premises to below the superfast line
    move_below: bool
    #: Mbit/s: ... when its average download is below this (well below the superfast line)
    below_down: float
    #: whether a shown tile may move a "possibly below" premises to above the superfast line
    move_above: bool
    #: Mbit/s: ... when its average download is at least this (well above the superfast line)
    above_down: float


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
class Rules(DottedKeys):
    version: str
    thresholds: Thresholds
    evidence: EvidenceRules
    speedtests: SpeedTests
    schemes: Schemes

    def as_dict(self) -> dict[str, Any]:
        """The rules as the TOML file has them (what a classification run stores)."""
        return _plain(dataclasses.asdict(self))

    def replace(self, key: str, value: Any) -> Rules:
        """A copy with the dotted ``key`` set to ``value`` (checked as a file's value is)."""
        return parse_rules(self._replaced(self.as_dict(), key, value), f"rules with {key} replaced")


def keys() -> list[str]:
    """Every dotted key of a rules file, in the order of the fields."""
    return dotted_keys(Rules)


def load_rules(path: Path | str | None = None) -> Rules:
    """Read and check the rules; ``path`` None means the packaged default."""
    return parse_rules(*read(path, "rules.toml", "rules file"))


def parse_rules(data: dict[str, Any], where: str) -> Rules:
    """Rules from a parsed TOML document; ``where`` names it in messages ("rules file F")."""
    rules = _STRICT.build(Rules, data, "", where)
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
    return _LENIENT.build(Rules, merged, "",
                          f"the rules stored with classification run {run_label!r}")


@functools.lru_cache(maxsize=1)
def _packaged() -> dict[str, Any]:
    return load_rules().as_dict()


# -- checking -----------------------------------------------------------------------------------
_STRICT = Reader("rules.toml", strict=True,
                 dropped={k: f"{k} was dropped in rules 2026.2: {why}" for k, why in DROPPED.items()})
#: runs store the rules of their time: keys since dropped are ignored
_LENIENT = Reader("rules.toml", strict=False)


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
    st, superfast = rules.speedtests, rules.thresholds.superfast_down
    if st.below_down >= superfast:
        raise _fail(where, "speedtests.below_down",
                    f"must be below thresholds.superfast_down ({superfast:g})", st.below_down)
    if st.above_down <= superfast:
        raise _fail(where, "speedtests.above_down",
                    f"must be above thresholds.superfast_down ({superfast:g})", st.above_down)
    if st.min_tests < 1:
        raise _fail(where, "speedtests.min_tests", "must be at least 1", st.min_tests)


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


__all__ = ["Abc", "EvidenceRules", "Lbf", "RasterStep", "Rules", "Schemes", "SpeedTests",
           "Thresholds", "Uso", "Voucher", "keys", "load_rules", "parse_rules", "stored_rules"]
