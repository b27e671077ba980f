"""Ofcom Connected Nations: fixed coverage (postcode, output-area and local-authority files),
postcode performance files, and saved coverage-API responses (premises level).

Headers drift between releases; the alias maps below list every spelling we know, newest first.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psycopg
import psycopg.sql

from connectivity.db import SCHEMA
from connectivity.errors import InputError

from .checks import normalise_postcodes, parse_uprn, reject_duplicates, reject_where
from .columns import Field
from .reading import STREAM_ERRORS, damaged, members, normalise_header
from .releases import ensure_release
from .runs import Counts, LoadContext, Loader, copy_rows
from .staging import Column, Stage, parse_float, peek_header


def _number(name: str, *aliases: str) -> Column:
    """An optional numeric column (percentages and counts alike; counts are rounded on publish)."""
    return Column(Field(name, aliases, required=False), "float8")


PERCENT_COLUMNS = [
    _number("pct_down_0_2", "% of premises with 0<2Mbit/s download speed"),
    _number("pct_down_2_5", "% of premises with 2<5Mbit/s download speed"),
    _number("pct_down_5_10", "% of premises with 5<10Mbit/s download speed"),
    _number("pct_down_10_30", "% of premises with 10<30Mbit/s download speed"),
    _number("pct_down_30_300", "% of premises with 30<300Mbit/s download speed"),
    _number("pct_down_300", "% of premises with >=300Mbit/s download speed"),
    _number("sfbb_pct", "SFBB availability (% premises)"),
    _number("ufbb100_pct", "UFBB (100Mbit/s) availability (% premises)"),
    _number("ufbb_pct", "UFBB availability (% premises)"),
    _number("gigabit_pct", "Gigabit availability (% premises)"),
    _number("unable_2_pct", "% of premises unable to receive 2Mbit/s"),
    _number("unable_5_pct", "% of premises unable to receive 5Mbit/s"),
    _number("unable_10_pct", "% of premises unable to receive 10Mbit/s"),
    _number("unable_30_pct", "% of premises unable to receive 30Mbit/s"),
    _number("unable_decent_pct", "% of premises unable to receive decent broadband from fixed or FWA",
         "% of premises below the USO", "% of premises unable meet USO"),
    _number("nga_pct", "% of premises with NGA"),
    _number("fwa_decent_pct", "% of premises able to receive decent broadband from FWA"),
]
POSTCODE_COLUMNS = [
    Column(Field("postcode", ("postcode_space", "postcode", "pcds", "pcd"))),
    Column(Field("all_premises", ("All Premises",), required=False), "float8"),
    *PERCENT_COLUMNS,
]
AREA_COLUMNS = [
    Column(Field("code", ("output_area", "oa11cd", "oa21cd", "laua", "lad_code"))),
    Column(Field("all_premises", ("All Premises",), required=False), "float8"),
    Column(Field("matched_premises", ("All Matched Premises",), required=False), "float8"),
    _number("unable_30_count", "Number of premises unable to receive 30Mbit/s"),
    _number("unable_decent_count",
           "Number of premises unable to receive decent broadband from fixed or FWA",
           "Number of premises below the USO", "Number of premises unable meet USO"),
    _number("sfbb_pct", "SFBB availability (% premises)"),
    _number("gigabit_pct", "Gigabit availability (% premises)"),
    _number("full_fibre_pct", "Full Fibre availability (% premises)", "FTTP availability (% premises)"),
    _number("unable_30_pct", "% of premises unable to receive 30Mbit/s"),
    _number("unable_decent_pct", "% of premises unable to receive decent broadband from fixed or FWA",
         "% of premises below the USO", "% of premises unable meet USO"),
]
NEED_ONE_OF = [("unable_30_pct",), ("sfbb_pct",)]
#: larger values are mistakes (and would not fit the evidence tables' integer and real columns)
MAX_COUNT = 100_000_000
MAX_SPEED = 1_000_000  # Mbit/s


def _level_of(header: list[str]) -> str:
    names = {normalise_header(h) for h in header}
    if names & {"output_area", "oa11cd", "oa21cd"}:
        return "oa"
    if names & {"laua", "lad_code"}:
        return "la"
    return "postcode"


def _reject_out_of_range(ctx: LoadContext, table: str, columns: list[Column], low: float | None,
                         high: float | None, what: str) -> None:
    """One pass: reject rows with any value outside [low, high] (``None``: no limit on that
    side), naming the first such column."""
    names = [c.name for c in columns]
    if not names:
        return

    def outside(n: str) -> str:
        return " OR ".join(([f"{n} < {low}"] if low is not None else [])
                           + ([f"{n} > {high}"] if high is not None else []))

    def literal(text: str) -> str:  # a header as an SQL string; % doubled for the placeholders
        return psycopg.sql.Literal(text).as_string(ctx.conn).replace("%", "%%")

    bad = " OR ".join(outside(n) for n in names)
    first = "CASE " + " ".join(
        f"WHEN {outside(n)} THEN {literal(h)}"
        for n, h in zip(names, [c.field.aliases[0] for c in columns], strict=True)) + " END"
    value = "CASE " + " ".join(f"WHEN {outside(n)} THEN {n}::text" for n in names) + " END"
    # the column name goes in as text, so build the reject here rather than in reject_where
    n = ctx.conn.execute(
        f"""WITH gone AS (DELETE FROM {table} WHERE {bad}
                          RETURNING file, line, {first} AS col, {value} AS value)
            INSERT INTO {SCHEMA}.reject (run_id, file, line, column_name, value, reason)
            SELECT %s, file, line, col, value, %s FROM gone""",
        (ctx.run_id, what)).rowcount
    ctx.rejects.counted(n)


class OfcomCoverageLoader(Loader):
    kind = "ofcom-coverage"
    describes = "Ofcom Connected Nations fixed coverage (CSV)"

    def load(self, ctx: LoadContext, paths: Sequence[Path]) -> Counts:
        inputs = [m for p in paths for m in members(p, r"\.csv$")]
        levels = {m.label: _level_of(peek_header(m)) for m in inputs}
        if len(set(levels.values())) > 1:
            raise InputError(
                "these files mix levels: " + ", ".join(f"{k} ({v})" for k, v in levels.items()),
                hint="load postcode, output-area and local-authority files separately")
        level = next(iter(levels.values()))
        release_id = ensure_release(ctx, "ofcom-coverage", paths)
        ctx.notes.append(f"format: Ofcom fixed coverage, {level} level")
        if level == "postcode":
            return self._postcodes(ctx, inputs, release_id)
        return self._areas(ctx, inputs, release_id, level)

    def _postcodes(self, ctx: LoadContext, inputs, release_id: int) -> Counts:
        stage = Stage(ctx, "stage_cov", POSTCODE_COLUMNS)
        ctx.conn.execute("ALTER TABLE stage_cov ADD COLUMN residential_only boolean DEFAULT false")
        read = 0
        for i, member in enumerate(inputs):
            residential = bool(re.search(r"_res(_|idential)", member.label, re.I))
            ctx.conn.execute(f"ALTER TABLE stage_cov ALTER COLUMN residential_only SET DEFAULT {residential}")
            read += stage.load(i, member, any_of=NEED_ONE_OF)
        _careful_note(ctx, stage)
        normalise_postcodes(ctx, "stage_cov", header="postcode_space", required=True)
        _reject_out_of_range(ctx, "stage_cov", PERCENT_COLUMNS, 0, 100,
                             "percentage outside 0-100")
        reject_where(ctx, "stage_cov", "all_premises < 0 OR all_premises <> trunc(all_premises) "
                     f"OR all_premises > {MAX_COUNT}", "All Premises", "all_premises",
                     f"'premises count must be a whole number from 0 to {MAX_COUNT:,}'")
        reject_duplicates(ctx, "stage_cov", ["postcode", "residential_only"], "postcode",
                          "postcode_space", value="postcode")
        cols = ["all_premises"] + [c.name for c in PERCENT_COLUMNS]
        loaded = ctx.conn.execute(
            f"""INSERT INTO {SCHEMA}.ev_postcode_coverage (release_id, postcode, residential_only,
                    {', '.join(cols)})
                SELECT %s, postcode, residential_only, {', '.join(cols)} FROM stage_cov
                ON CONFLICT (release_id, postcode, residential_only) DO UPDATE SET
                    {', '.join(f'{c} = EXCLUDED.{c}' for c in cols)}""",
            (release_id,)).rowcount
        return Counts(read, loaded)

    def _areas(self, ctx: LoadContext, inputs, release_id: int, level: str) -> Counts:
        stage = Stage(ctx, "stage_cov", AREA_COLUMNS)
        read = sum(stage.load(i, m, any_of=NEED_ONE_OF) for i, m in enumerate(inputs))
        _careful_note(ctx, stage)
        ctx.conn.execute("UPDATE stage_cov SET code = upper(btrim(code)) "
                         "WHERE code IS DISTINCT FROM upper(btrim(code))")
        reject_where(ctx, "stage_cov", "code IS NULL OR code !~ '^[A-Z][0-9A-Z]{2,15}$'",
                     "code", "code", "'missing or malformed area code'")
        pct = [c for c in AREA_COLUMNS if c.name.endswith("_pct")]
        counts = [c for c in AREA_COLUMNS[1:] if not c.name.endswith("_pct")]
        _reject_out_of_range(ctx, "stage_cov", pct, 0, 100, "percentage outside 0-100")
        _reject_out_of_range(ctx, "stage_cov", counts, 0, None, "negative premises count")
        _reject_out_of_range(ctx, "stage_cov", counts, None, MAX_COUNT,
                             f"implausible premises count (over {MAX_COUNT:,})")
        reject_duplicates(ctx, "stage_cov", ["code"], "area code", "code")
        cols = [c.name for c in AREA_COLUMNS[1:]]
        loaded = ctx.conn.execute(
            f"""INSERT INTO {SCHEMA}.ev_area_coverage (release_id, level, code, {', '.join(cols)})
                SELECT %s, %s, code, {', '.join(f'round({c})' if c in [x.name for x in counts] else c for c in cols)}
                FROM stage_cov
                ON CONFLICT (release_id, level, code) DO UPDATE SET
                    {', '.join(f'{c} = EXCLUDED.{c}' for c in cols)}""",
            (release_id, level)).rowcount
        return Counts(read, loaded)


PERFORMANCE_COLUMNS = [
    Column(Field("postcode", ("postcode_space", "postcode", "pcds"))),
    *[Column(Field(name, (header,), required=False), "float8") for name, header in [
        ("median_down", "Median download speed (Mbit/s)"),
        ("avg_down", "Average download speed (Mbit/s)"),
        ("min_down", "Minimum download speed (Mbit/s)"),
        ("max_down", "Maximum download speed (Mbit/s)"),
        ("median_up", "Median upload speed (Mbit/s)"),
        ("avg_up", "Average upload speed (Mbit/s)"),
        ("min_up", "Minimum upload speed (Mbit/s)"),
        ("max_up", "Maximum upload speed (Mbit/s)"),
    ]],
    *[Column(Field(name, (f"Number of connections {band} Mbit/s (number of lines)",),
                   required=False), "float8")
      for name, band in [("lines_0_2", "< 2"), ("lines_2_5", "2<5"), ("lines_5_10", "5<10"),
                         ("lines_10_30", "10<30"), ("lines_30_300", "30<300"),
                         ("lines_300", ">= 300")]],
]


class OfcomPerformanceLoader(Loader):
    kind = "ofcom-performance"
    describes = "Ofcom Connected Nations postcode performance (CSV)"

    def load(self, ctx: LoadContext, paths: Sequence[Path]) -> Counts:
        release_id = ensure_release(ctx, "ofcom-performance", paths)
        stage = Stage(ctx, "stage_perf", PERFORMANCE_COLUMNS)
        read = sum(stage.load(i, m, any_of=[("median_down",), ("avg_down",)])
                   for i, m in enumerate(m for p in paths for m in members(p, r"\.csv$")))
        _careful_note(ctx, stage)
        normalise_postcodes(ctx, "stage_perf", header="postcode_space", required=True)
        _reject_out_of_range(ctx, "stage_perf", PERFORMANCE_COLUMNS[1:], 0, None,
                             "negative speed or count")
        _reject_out_of_range(ctx, "stage_perf", PERFORMANCE_COLUMNS[1:9], None, MAX_SPEED,
                             f"implausible speed (over {MAX_SPEED:,} Mbit/s)")
        _reject_out_of_range(ctx, "stage_perf", PERFORMANCE_COLUMNS[9:], None, MAX_COUNT,
                             f"implausible count of lines (over {MAX_COUNT:,})")
        reject_duplicates(ctx, "stage_perf", ["postcode"], "postcode", "postcode_space")
        lines = [c.name for c in PERFORMANCE_COLUMNS if c.name.startswith("lines_")]
        below = ["lines_0_2", "lines_2_5", "lines_5_10", "lines_10_30"]
        speeds = ["median_down", "avg_down", "min_down", "max_down", "median_up", "avg_up",
                  "min_up", "max_up"]
        # each band as published (an empty cell stays NULL: migration 0015); the two sums count
        # an empty band as 0 lines, as they always have
        kept = [*speeds, *lines, "lines_below_30", "lines_total"]
        loaded = ctx.conn.execute(
            f"""INSERT INTO {SCHEMA}.ev_postcode_performance (release_id, postcode, {', '.join(kept)})
                SELECT %s, postcode, {', '.join(speeds)}, {', '.join(f'round({c})' for c in lines)},
                       round({' + '.join(f'coalesce({c}, 0)' for c in below)}),
                       round({' + '.join(f'coalesce({c}, 0)' for c in lines)})
                FROM stage_perf
                ON CONFLICT (release_id, postcode) DO UPDATE SET
                    {', '.join(f'{c} = EXCLUDED.{c}' for c in kept)}""",
            (release_id,)).rowcount
        return Counts(read, loaded)


_REJECTED = object()  # a line already kept as a reject (counts as read)

API_FIELDS = {  # in the order the API publishes them
    "bb_down": "MaxBbPredictedDown", "bb_up": "MaxBbPredictedUp",
    "sfbb_down": "MaxSfbbPredictedDown", "sfbb_up": "MaxSfbbPredictedUp",
    "ufbb_down": "MaxUfbbPredictedDown", "ufbb_up": "MaxUfbbPredictedUp",
    "max_down": "MaxPredictedDown", "max_up": "MaxPredictedUp",
}


class OfcomApiLoader(Loader):
    """Saved responses of ``GET /broadband/coverage/{PostCode}``: one JSON document per file, or
    JSON lines. ``-1`` means not available (stored as NULL); other negative speeds are rejected.
    A reject's line is the JSON-lines line, or the item's position in a one-document file."""

    kind = "ofcom-api"
    describes = "Ofcom coverage-API responses (JSON / JSON lines)"
    suffixes = (".json", ".jsonl", ".ndjson", ".zip", ".gz")

    def load(self, ctx: LoadContext, paths: Sequence[Path]) -> Counts:
        conn = ctx.conn
        release_id = ensure_release(ctx, "ofcom-api", paths)
        conn.execute(
            f"""CREATE TEMP TABLE stage_api (file_no int, file text, line bigint, uprn bigint,
                {', '.join(f'{c} real' for c in API_FIELDS)}) ON COMMIT DROP""")
        read = 0
        rows: list[tuple] = []

        def flush() -> None:
            copy_rows(conn, "stage_api", ("file_no", "file", "line", "uprn", *API_FIELDS), rows)
            rows.clear()
            ctx.rejects.flush()

        inputs = [m for p in paths for m in members(p, r"\.(json|jsonl|ndjson)$")]
        for file_no, member in enumerate(inputs):
            for line, item in self._items(ctx, member):
                read += 1
                if item is _REJECTED:
                    continue
                row = self._row(ctx, member.label, line, item)
                if row is not None:
                    rows.append((file_no, member.label, line, *row))
                if len(rows) >= 50_000:
                    flush()
        flush()
        if read == 0:
            raise InputError("no premises in the responses", file=", ".join(m.label for m in inputs))
        reject_duplicates(ctx, "stage_api", ["uprn"], "UPRN", "UPRN")
        loaded = conn.execute(
            f"""INSERT INTO {SCHEMA}.ev_premises_speed (release_id, uprn, {', '.join(API_FIELDS)})
                SELECT %s, uprn, {', '.join(API_FIELDS)} FROM stage_api
                ON CONFLICT (release_id, uprn) DO UPDATE SET
                    {', '.join(f'{c} = EXCLUDED.{c}' for c in API_FIELDS)}""",
            (release_id,)).rowcount
        return Counts(read, loaded)

    @staticmethod
    def _items(ctx: LoadContext, member):
        """(line, item) for every Availability item; a bad JSON line is one reject."""
        if member.label.lower().endswith((".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz")):
            documents = OfcomApiLoader._lines(ctx, member)
        else:
            try:
                with member.open_binary() as raw:
                    text = raw.read().decode("utf-8-sig", errors="replace")
            except STREAM_ERRORS as exc:
                raise damaged(exc, member.label) from None
            if not text.strip():
                raise InputError("the file is empty", file=member.label)
            try:
                documents = iter([(None, json.loads(text))])
            except json.JSONDecodeError as exc:
                raise InputError(f"not valid JSON ({exc.msg} at line {exc.lineno})",
                                 file=member.label, hint="JSON lines files should end in .jsonl") from None
        for number, doc in documents:
            if doc is _REJECTED:
                yield number, _REJECTED
                continue
            if not isinstance(doc, dict) or not isinstance(doc.get("Availability"), list):
                if number is None:
                    raise InputError("not a coverage-API response: expected an object with "
                                     "'PostCode' and 'Availability'", file=member.label)
                ctx.rejects.add(member.label, number, "Availability", str(doc)[:200],
                                "not a coverage-API response (no Availability list)")
                yield number, _REJECTED
                continue
            for index, item in enumerate(doc["Availability"], start=1):
                yield (number if number is not None else index), item

    @staticmethod
    def _lines(ctx: LoadContext, member):
        try:
            yield from OfcomApiLoader._read_lines(ctx, member)
        except STREAM_ERRORS as exc:
            raise damaged(exc, member.label) from None

    @staticmethod
    def _read_lines(ctx: LoadContext, member):
        with member.open_binary() as raw:
            empty = True
            for number, line in enumerate(raw, start=1):
                text = line.decode("utf-8-sig" if number == 1 else "utf-8", errors="replace").strip()
                if not text:
                    continue
                empty = False
                try:
                    yield number, json.loads(text)
                except json.JSONDecodeError as exc:
                    ctx.rejects.add(member.label, number, None, text[:200], f"not valid JSON ({exc.msg})")
                    yield number, _REJECTED
            if empty:
                raise InputError("the file is empty", file=member.label)

    @staticmethod
    def _row(ctx: LoadContext, label: str, line: int, item: Any):
        if not isinstance(item, dict):
            ctx.rejects.add(label, line, None, str(item)[:200], "an Availability item must be an object")
            return None
        uprn = item.get("UPRN")
        try:
            uprn = parse_uprn(uprn)
        except ValueError:
            ctx.rejects.add(label, line, "UPRN", _json_text(uprn), "missing or malformed UPRN")
            return None
        values = []
        for field in API_FIELDS.values():
            value = item.get(field)
            if value is None:
                values.append(None)
                continue
            if isinstance(value, float) and not math.isfinite(value):  # JSON NaN, Infinity
                ctx.rejects.add(label, line, field, _json_text(value), "not a finite number")
                return None
            try:
                if isinstance(value, bool) or not isinstance(value, int | float | str):
                    raise ValueError
                number = parse_float(value.strip()) if isinstance(value, str) else float(value)
            except (ValueError, OverflowError):
                ctx.rejects.add(label, line, field, _json_text(value), "not a number")
                return None
            if number == -1:
                values.append(None)  # Ofcom's "not available"
            elif number < 0:
                ctx.rejects.add(label, line, field, _json_text(value),
                                "negative speed (only -1 means not available)")
                return None
            elif number > MAX_SPEED:
                ctx.rejects.add(label, line, field, _json_text(value),
                                f"implausible speed (over {MAX_SPEED:,} Mbit/s)")
                return None
            else:
                values.append(number)
        return (uprn, *values)


def _json_text(value: Any) -> str | None:
    """A JSON value as the file spells it (``true``, not ``True``), for a reject."""
    return None if value is None else value if isinstance(value, str) else json.dumps(value)


def _careful_note(ctx: LoadContext, stage: Stage) -> None:
    if stage.careful_files:
        ctx.notes.append("read row by row (COPY refused the file): " + "; ".join(stage.careful_files))
