"""The filters of a target list: one typed definition, parsed from a dict, shared by the command
line (``--status below``), the officer API (query string or JSON) and the web form, with the same
names everywhere (the command line writes ``_`` as ``-``). Unknown names are refused.

Several values of one filter are alternatives (status below OR possibly_below); different
filters must all hold (AND). The SQL here is a WHERE clause over a classification run's
premises (``c``), their areas (``m``, gapmap.premises_place) and their point (``p``); the WIMD
filters become the list of LSOAs they select (:func:`wimd_lsoas`), looked up before the count
so that the planner knows how many premises they leave; connectivity/officers/lists.py puts it
together.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..db import SCHEMA
from ..errors import BadRequest
from ..vocab import AREA_LEVELS, BANDS, SCHEMES, STATUSES
from ..vocab import GIGABIT_CLASSES as GIGABIT_VOCAB

#: BDUK subsidy control classes: filter code -> the value the BDUK release publishes
GIGABIT_CLASSES = {t.code: t.published for t in GIGABIT_VOCAB}
PLANNED = ("only", "exclude")
#: how each filter is described (command-line help, the API documentation, docs/lists.md)
HELP = {
    "area": "Area codes of any level (authority, ward, LSOA, MSOA, constituency, output area); "
            "premises in any of them.",
    "status": f"Classification statuses ({', '.join(STATUSES.codes)}).",
    "probability": "Probability below 30 Mbit/s at least this (0 to 1).",
    "scheme": f"Eligible or possibly eligible for any of these schemes ({', '.join(SCHEMES.codes)}).",
    "planned": "Planned build: 'only' (premises in a planned build) or 'exclude' (premises in none).",
    "coverage_before": "The planned build's final coverage date is before this date (YYYY-MM-DD).",
    "coverage_after": "The planned build's final coverage date is on or after this date (YYYY-MM-DD).",
    "gigabit_class": f"BDUK gigabit classes ({', '.join(GIGABIT_CLASSES)}).",
    "band": f"Ofcom download bands ({', '.join(BANDS.codes)}).",
    "wimd_rank_max": "The LSOA's WIMD 2019 rank at most this (1 is the most deprived).",
    "wimd_decile": "The LSOA's WIMD decile, 1 (most deprived) to 10; several allowed.",
}


@dataclass(frozen=True)
class ListFilters:
    area: tuple[str, ...] = ()
    status: tuple[str, ...] = ()
    probability: float | None = None
    scheme: tuple[str, ...] = ()
    planned: str | None = None
    coverage_before: dt.date | None = None
    coverage_after: dt.date | None = None
    gigabit_class: tuple[str, ...] = ()
    band: tuple[str, ...] = ()
    wimd_rank_max: int | None = None
    wimd_decile: tuple[int, ...] = field(default=())

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def multiple(cls) -> frozenset[str]:
        return frozenset(f.name for f in dataclasses.fields(cls) if str(f.type).startswith("tuple"))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> ListFilters:
        """Filters from a dict of names to values (a value may be a string, a comma-separated
        string, a list, or empty: empty means no filter). Unknown names and bad values are a
        BadRequest naming them."""
        data = dict(data or {})
        unknown = sorted(set(data) - set(cls.names()))
        if unknown:
            raise BadRequest(f"unknown filter(s) {', '.join(unknown)}",
                             f"the filters are {', '.join(cls.names())}")
        values: dict[str, Any] = {}
        for name, raw in data.items():
            items = _items(raw)
            if not items:
                continue
            if name in cls.multiple():
                values[name] = tuple(dict.fromkeys(_parse(name, v) for v in items))
            elif len(items) > 1:
                raise BadRequest(f"filter {name} takes one value, not {len(items)}")
            else:
                values[name] = _parse(name, items[0])
        filters = cls(**values)
        if (filters.coverage_before and filters.coverage_after
                and filters.coverage_after >= filters.coverage_before):
            raise BadRequest("coverage_after must be earlier than coverage_before")
        return filters

    def to_dict(self) -> dict[str, Any]:
        """The filters that are set, JSON-ready (what a list stores and the API answers)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value in ((), None):
                continue
            out[f.name] = (list(value) if isinstance(value, tuple)
                           else value.isoformat() if isinstance(value, dt.date) else value)
        return out

    def where(self, area_levels: Mapping[str, str],
              wimd_lsoas: Iterable[str] | None = None) -> tuple[list[str], dict[str, Any]]:
        """SQL conditions and their parameters. ``area_levels``: each area code's level (from
        :func:`area_levels`); ``wimd_lsoas``: the LSOAs the WIMD filters select (from
        :func:`wimd_lsoas`), needed when :attr:`needs_wimd`."""
        where: list[str] = []
        params: dict[str, Any] = {}
        if self.area:
            by_level: dict[str, list[str]] = {}
            for code in self.area:
                by_level.setdefault(area_levels[code], []).append(code)
            ors = []
            for level, codes in sorted(by_level.items()):
                params[f"area_{level}"] = codes
                ors.append(f"m.{AREA_LEVELS.check(level)} = ANY(%(area_{level})s)")
            where.append(f"({' OR '.join(ors)})")
        if self.status:
            where.append("c.status = ANY(%(f_status)s)")
            params["f_status"] = list(self.status)
        if self.probability is not None:
            where.append("c.probability_below >= %(f_probability)s")
            params["f_probability"] = self.probability
        if self.scheme:
            where.append("(" + " OR ".join(f"c.eligible_{s} IN ('eligible', 'possibly')"
                                           for s in self.scheme) + ")")
        if self.planned == "only":
            where.append("c.planned_build")
        elif self.planned == "exclude":
            where.append("NOT coalesce(c.planned_build, false)")
        if self.coverage_before:
            where.append(f"{COVERAGE_DATE_SQL} < %(f_coverage_before)s")
            params["f_coverage_before"] = self.coverage_before
        if self.coverage_after:
            where.append(f"{COVERAGE_DATE_SQL} >= %(f_coverage_after)s")
            params["f_coverage_after"] = self.coverage_after
        if self.gigabit_class:
            where.append("c.gigabit_class = ANY(%(f_gigabit_class)s)")
            params["f_gigabit_class"] = [GIGABIT_CLASSES[g] for g in self.gigabit_class]
        if self.band:
            where.append("c.band = ANY(%(f_band)s)")
            params["f_band"] = list(self.band)
        if self.needs_wimd:
            if wimd_lsoas is None:
                raise ValueError("the WIMD filters need wimd_lsoas")
            where.append("m.lsoa = ANY(%(f_wimd_lsoas)s)")
            params["f_wimd_lsoas"] = sorted(wimd_lsoas)
        return where, params

    @property
    def needs_wimd(self) -> bool:
        return self.wimd_rank_max is not None or bool(self.wimd_decile)


#: BDUK publishes the final coverage date as free text: a date (YYYY-MM-DD) or a month (YYYY-MM,
#: taken as its first day) is compared; anything else (a quarter, "TBC") matches neither filter.
COVERAGE_DATE_SQL = (
    r"(CASE WHEN c.final_coverage_date ~ '^\d{4}-\d{2}-\d{2}' "
    r"THEN to_date(left(c.final_coverage_date, 10), 'YYYY-MM-DD') "
    r"WHEN c.final_coverage_date ~ '^\d{4}-\d{2}' "
    r"THEN to_date(left(c.final_coverage_date, 7), 'YYYY-MM') END)")

#: the WIMD ranks with deciles: decile = ceil(rank x 10 / number of LSOAs ranked)
WIMD_SQL = (f"(SELECT lsoa_code, wimd_rank, ceil(wimd_rank * 10.0 / count(*) OVER ())::int "
            f"AS decile FROM {SCHEMA}.wimd)")


def wimd_lsoas(conn, filters: ListFilters) -> list[str] | None:
    """The LSOAs whose WIMD rank and decile the filters accept (None without WIMD filters).
    Looked up first rather than joined: joined, the planner cannot tell how many LSOAs a decile
    holds (it guessed 29 of 572), and looked premises up one by one instead of hashing."""
    if not filters.needs_wimd:
        return None
    where, params = [], {}
    if filters.wimd_rank_max is not None:
        where.append("w.wimd_rank <= %(rank)s")
        params["rank"] = filters.wimd_rank_max
    if filters.wimd_decile:
        where.append("w.decile = ANY(%(deciles)s)")
        params["deciles"] = list(filters.wimd_decile)
    return [r[0] for r in conn.execute(
        f"SELECT lsoa_code FROM {WIMD_SQL} w WHERE {' AND '.join(where)} ORDER BY 1", params)]


def area_levels(conn, codes: Iterable[str]) -> dict[str, str]:
    """Each code's level; unknown codes are a BadRequest naming them."""
    wanted = sorted(set(codes))
    if not wanted:
        return {}
    found = dict(conn.execute(
        f"SELECT DISTINCT ON (code) code, level FROM {SCHEMA}.area WHERE code = ANY(%s) "
        "ORDER BY code, level", (wanted,)).fetchall())
    unknown = [c for c in wanted if c not in found]
    if unknown:
        raise BadRequest(f"unknown area code(s) {', '.join(unknown)}",
                         "use the codes of loaded areas (connectivity stats --level LEVEL)")
    return found


def _items(raw: Any) -> list[str]:
    if raw is None:
        return []
    if isinstance(raw, str | int | float) and not isinstance(raw, bool):
        raw = [raw]
    if not isinstance(raw, list | tuple):
        raise BadRequest(f"a filter value must be text or a list, not {type(raw).__name__}")
    items: list[str] = []
    for value in raw:
        items.extend(p.strip() for p in str(value).split(",") if p.strip())
    return items


def _parse(name: str, value: str) -> Any:
    try:
        return _PARSERS[name](value)
    except BadRequest:
        raise
    except (ValueError, KeyError):
        raise BadRequest(f"filter {name}: {value!r} is not valid", HELP[name]) from None


def _choice(options) -> Any:
    def parse(value: str) -> str:
        if value not in options:
            raise ValueError(value)
        return value
    return parse


def _probability(value: str) -> float:
    p = float(value)
    if not 0 <= p <= 1:
        raise ValueError(value)
    return p


def _date(value: str) -> dt.date:
    return dt.date.fromisoformat(value)


def _positive(value: str) -> int:
    n = int(value)
    if n < 1:
        raise ValueError(value)
    return n


def _decile(value: str) -> int:
    n = int(value)
    if not 1 <= n <= 10:
        raise ValueError(value)
    return n


def _area(value: str) -> str:
    code = value.upper()
    if not re.fullmatch(r"[A-Z][0-9]{8}", code):
        raise ValueError(value)
    return code


_PARSERS = {
    "area": _area, "status": _choice(STATUSES.codes), "probability": _probability,
    "scheme": _choice(SCHEMES.codes), "planned": _choice(PLANNED), "coverage_before": _date,
    "coverage_after": _date, "gigabit_class": _choice(GIGABIT_CLASSES), "band": _choice(BANDS.codes),
    "wimd_rank_max": _positive, "wimd_decile": _decile,
}
