"""Property-based tests (hypothesis): postcode normalisation (Python and SQL alike), header
matching, coordinate and UPRN checks (Python and SQL alike), and reading delimited text (arbitrary
bytes never crash; rows and line numbers are what the lines say; COPY and the row-by-row path
stage the same rows)."""

from __future__ import annotations

import io
import math
import re

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from connectivity.errors import InputError
from connectivity.postcodes import normalise_postcode
from etl.checks import (
    GB_EASTINGS,
    GB_LAT,
    GB_LON,
    GB_NORTHINGS,
    MAX_UPRN,
    OUTSIDE_GB,
    OUTSIDE_GRID,
    grid_problem,
    grid_problem_sql,
    latlon_problem,
    latlon_problem_sql,
    parse_uprn,
)
from etl.codepoint import FIELDS as POSTCODE_FIELDS
from etl.columns import Field, match_columns
from etl.ofcom import POSTCODE_COLUMNS
from etl.os_open_uprn import COLUMNS as UPRN_COLUMNS
from etl.reading import DecodedLines, Member, read_csv
from etl.wimd import COLUMNS as WIMD_COLUMNS

# the database fixture is one connection for all examples of a test: they only read
DB = settings(max_examples=150, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
PURE = settings(max_examples=200, deadline=None)
CANONICAL = re.compile(r"[A-Z]{1,2}[0-9][0-9A-Z]? [0-9][A-Z]{2}")

# --------------------------------------------------------------------------------- postcodes
#: characters that make normalisation interesting: spaces of every kind (some that SQL's
#: [[:space:]] removes, some it does not), quotes, letters whose upper case is ASCII or two letters
TRICKY = (" \t\r\n\v\f\u00a0\u1680\u2000\u2007\u2009\u202f\u3000\u0085\x1c\"'`"
          "ßıſﬀﬁéŵŷ０１ＡＢ٣")
postcode_like = st.text(alphabet=st.sampled_from("ABCDEFGHJKLMNPRSTUWYZabcfgnsw0123456789" + TRICKY),
                        max_size=12)
no_nul_text = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=20)


@st.composite
def postcodes(draw) -> str:
    """A postcode of every published shape: A9, A99, AA9, AA99, A9A, AA9A, then 9AA."""
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    area = draw(st.text(alphabet=letters, min_size=1, max_size=2))
    district = draw(st.sampled_from("0123456789")) + draw(st.sampled_from(["", *"0123456789", *letters]))
    sector = draw(st.sampled_from("0123456789"))
    unit = draw(st.text(alphabet=letters, min_size=2, max_size=2))
    return f"{area}{district} {sector}{unit}"


@st.composite
def respelt(draw, postcode: str) -> str:
    """The postcode as people and files write it: any case, no or many spaces, quotes."""
    compact = postcode.replace(" ", "")
    out = []
    for char in compact:
        out.append(draw(st.sampled_from(["", " ", "  ", "\u00a0", "\t"])))
        out.append(char.lower() if draw(st.booleans()) else char)
    quote = draw(st.sampled_from(["", '"', "'"]))
    return quote + draw(st.sampled_from(["", " "])) + "".join(out) + " " * draw(st.integers(0, 2)) + quote


@DB
@given(st.lists(st.one_of(postcode_like, no_nul_text), min_size=1, max_size=40))
def test_python_and_sql_normalise_any_string_alike(db, texts):
    sql = db.execute("SELECT gapmap.normalise_postcode(t) FROM unnest(%s::text[]) WITH ORDINALITY "
                     "AS u(t, i) ORDER BY i", (texts,)).fetchall()
    assert [row[0] for row in sql] == [normalise_postcode(t) for t in texts]


@PURE
@given(st.one_of(postcode_like, st.text(max_size=20)))
def test_normalising_is_idempotent_and_yields_the_published_form_or_none(text):
    once = normalise_postcode(text)
    assert once is None or CANONICAL.fullmatch(once)
    assert normalise_postcode(once) == once


@DB
@given(st.data())
def test_every_valid_postcode_round_trips_however_it_is_spelt(db, data):
    postcode = data.draw(postcodes())
    spellings = [postcode, postcode.replace(" ", "")] + [data.draw(respelt(postcode)) for _ in range(5)]
    assert {normalise_postcode(s) for s in spellings} == {postcode}
    sql = db.execute("SELECT DISTINCT gapmap.normalise_postcode(t) FROM unnest(%s::text[]) t",
                     (spellings,)).fetchall()
    assert sql == [(postcode,)]


# ------------------------------------------------------------------------------ header matching
SPECS = {
    "uprn": [c.field for c in UPRN_COLUMNS],
    "postcodes": POSTCODE_FIELDS,
    "ofcom-coverage": [c.field for c in POSTCODE_COLUMNS],
    "wimd": [c.field for c in WIMD_COLUMNS],
}
SPACES = ["", " ", "  ", "\t", "\u00a0"]


@st.composite
def written_as(draw, alias: str) -> str:
    """An alias as a file may spell it: any case, padded, runs of (no-break) spaces, a BOM."""
    chars = [c.upper() if draw(st.booleans()) else c.lower() for c in alias]
    text = "".join(draw(st.sampled_from(SPACES[1:])) if c == " " else c for c in chars)
    return (draw(st.sampled_from(["", "\ufeff"])) + draw(st.sampled_from(SPACES)) + text
            + draw(st.sampled_from(SPACES)))


@st.composite
def headers(draw):
    """A header for one spec: some of its fields under one of their aliases, other columns,
    shuffled. Returns (spec name, header, field name -> index)."""
    spec = draw(st.sampled_from(sorted(SPECS)))
    fields: list[Field] = SPECS[spec]
    chosen = draw(st.lists(st.sampled_from(fields), unique_by=lambda f: f.name))
    cells = [(f.name, draw(written_as(draw(st.sampled_from(f.aliases))))) for f in chosen]
    cells += [(None, f"other {i} {draw(st.text(alphabet='xyz_ 0123', max_size=5))}")
              for i in range(draw(st.integers(0, 4)))]
    order = draw(st.permutations(range(len(cells))))
    header = [cells[i][1] for i in order]
    where = {cells[i][0]: position for position, i in enumerate(order) if cells[i][0]}
    return spec, header, where


@PURE
@given(headers())
def test_aliases_are_found_whatever_their_case_spaces_or_bom(case):
    spec, header, where = case
    fields = SPECS[spec]
    required = {f.name for f in fields if f.required}
    if required <= set(where):
        assert match_columns(header, fields, file="f.csv") == where
        return
    with pytest.raises(InputError) as error:
        match_columns(header, fields, file="f.csv")
    message = str(error.value)
    assert message.startswith("f.csv, line 1: missing column(s): ")
    for name in required - set(where):  # every missing column by name, with its aliases
        field = next(f for f in fields if f.name == name)
        assert f"{name} (one of: {', '.join(field.aliases + field.patterns)})" in message
    for name in set(where) & required:
        assert f"{name} (one of:" not in message
    assert "Found: " + ", ".join(repr(h) for h in header) in message


# ---------------------------------------------------------------------- coordinates and UPRNs
finite = st.floats(allow_nan=False, allow_infinity=False)
any_float = st.one_of(st.floats(), st.sampled_from(
    [float(v) for v in (0, -0.0, GB_EASTINGS[1], GB_NORTHINGS[1], *GB_LAT, *GB_LON, 90, -180)]),
    st.none())


@PURE
@given(st.floats(GB_EASTINGS[0], GB_EASTINGS[1], exclude_min=True, exclude_max=True),
       st.floats(GB_NORTHINGS[0], GB_NORTHINGS[1], exclude_min=True, exclude_max=True))
def test_grid_references_inside_britain_are_accepted(x, y):
    assert grid_problem(x, y) is None


@PURE
@given(finite, finite)
def test_grid_references_outside_britain_are_rejected(x, y):
    assume(not (GB_EASTINGS[0] < x < GB_EASTINGS[1] and GB_NORTHINGS[0] < y < GB_NORTHINGS[1]))
    assert grid_problem(x, y) in (OUTSIDE_GRID, "no coordinates (0,0)")


@PURE
@given(st.floats(*GB_LAT), st.floats(*GB_LON))
def test_latitudes_and_longitudes_inside_britain_are_accepted(lat, lon):
    assert latlon_problem(lat, lon) is None
    assert latlon_problem(lon, lat) == "latitude and longitude look swapped"


@PURE
@given(finite, finite)
def test_latitudes_and_longitudes_outside_britain_are_rejected(lat, lon):
    assume(not (GB_LAT[0] <= lat <= GB_LAT[1] and GB_LON[0] <= lon <= GB_LON[1]))
    assert latlon_problem(lat, lon) in (OUTSIDE_GB, "no coordinates (0,0)",
                                        "latitude and longitude look swapped")


@DB
@given(st.lists(st.tuples(any_float, any_float), min_size=1, max_size=30))
def test_coordinate_checks_in_python_and_sql_agree_and_never_raise(db, pairs):
    rows = db.execute(
        f"SELECT {grid_problem_sql('a', 'b')}, {latlon_problem_sql('a', 'b')} "
        "FROM unnest(%s::float8[], %s::float8[]) WITH ORDINALITY AS v(a, b, i) ORDER BY i",
        ([a for a, _ in pairs], [b for _, b in pairs])).fetchall()
    assert rows == [(grid_problem(a, b), latlon_problem(a, b)) for a, b in pairs]


@PURE
@given(st.one_of(st.integers(), st.floats(), st.text(max_size=15), st.booleans(), st.none(),
                 st.binary(max_size=4)))
def test_a_uprn_is_a_whole_number_of_1_to_12_digits_or_a_value_error(value):
    try:
        uprn = parse_uprn(value)
    except ValueError:
        return
    assert type(uprn) is int and 0 < uprn <= MAX_UPRN
    assert not isinstance(value, bool | bytes)
    if isinstance(value, str):
        assert re.fullmatch(r"\s*\+?[0-9]{1,12}\s*", value) and int(value) == uprn
    else:
        assert math.isfinite(value) and value == uprn


@PURE
@given(st.integers(1, MAX_UPRN), st.sampled_from(["{}", " {} ", "+{}", "{}.0"]))
def test_every_uprn_is_read_from_an_integer_a_whole_float_or_its_digits(uprn, spelling):
    assert parse_uprn(uprn) == parse_uprn(float(uprn)) == uprn
    text = spelling.format(uprn)
    if text.endswith(".0"):
        with pytest.raises(ValueError):
            parse_uprn(text)  # a UPRN is written in digits only
    else:
        assert parse_uprn(text) == uprn
    for wrong in (uprn + MAX_UPRN, -uprn, uprn + 0.5, True, str(uprn) + "x"):
        with pytest.raises(ValueError):
            parse_uprn(wrong)


# ------------------------------------------------------------------------------- reading rows
def read_all(data: bytes) -> list:
    return list(read_csv(DecodedLines(io.BytesIO(data), "in.csv")))


@PURE
@given(st.one_of(st.binary(max_size=400),
                 st.lists(st.sampled_from([b"a", b",", b'"', b"\r", b"\n", b"\x00", b"\xff", b"\xc3",
                                           b"\xef\xbb\xbf", b" "]), max_size=60).map(b"".join)))
def test_arbitrary_bytes_give_rows_or_a_clear_error(data):
    try:
        rows = read_all(data)
    except InputError as error:  # only a UTF-16 byte order mark makes a stream unreadable
        assert str(error).startswith("in.csv, line 1: the file is UTF-16 text")
        assert data.startswith((b"\xff\xfe", b"\xfe\xff"))
        return
    assert all(isinstance(r.line, int) and r.line >= 1 for r in rows)
    assert [r.line for r in rows] == sorted({r.line for r in rows})
    assert len(rows) <= data.count(b"\n") + data.count(b"\r") + 1


field = st.text(alphabet=st.characters(codec="utf-8", exclude_characters='",\r\n\x00'),
                max_size=8)


@PURE
@given(st.lists(st.lists(field, min_size=1, max_size=5), max_size=12),
       st.sampled_from(["\n", "\r\n", "\r"]), st.booleans(), st.booleans(),
       st.sampled_from(["utf-8", "cp1252"]))
def test_rows_read_are_the_data_lines_with_their_line_numbers(lines, end, bom, final_end, encoding):
    text = end.join(",".join(cells) for cells in lines) + (end if final_end and lines else "")
    try:
        data = text.encode(encoding)
    except UnicodeEncodeError:
        data = text.encode("utf-8")
        encoding = "utf-8"
    assume(not data.startswith((b"\xff\xfe", b"\xfe\xff")))  # "ÿþ" in Windows-1252: a UTF-16 BOM
    rows = read_all((b"\xef\xbb\xbf" if bom else b"") + data)
    # a line is data unless it is one field of nothing but spaces (read as a blank line)
    expected = [(number, cells) for number, cells in enumerate(lines, start=1)
                if not (len(cells) == 1 and not cells[0].strip())]
    assert [r.line for r in rows] == [number for number, _ in expected]
    if encoding == "utf-8":
        assert [r.values for r in rows] == [cells for _, cells in expected]
    else:  # Windows-1252 lines are read as such, unless they happen to be valid UTF-8
        assert all(len(r.values) == len(cells) for r, (_, cells) in zip(rows, expected, strict=True))


# ------------------------------------------------------ the fast and careful paths stage alike
MESSY = ["", " ", "NaN", "inf", "-Infinity", "1_000", "１２", "1e3", "12.0", " 7 ", "x", '""',
         '"5"', "0", "-1", "1e400"]
messy_cell = st.one_of(st.integers(-10, 10**13).map(str),
                       st.floats(allow_nan=False, allow_infinity=False).map(repr), st.sampled_from(MESSY))
whole_cell = st.one_of(st.integers(-10, 10**13).map(str), st.sampled_from(["", '""', " 7 ", '"5"']))
number_cell = st.one_of(st.floats(allow_nan=False, allow_infinity=False).map(repr),
                        st.integers().map(str), st.sampled_from(["", '""', "1e3", " 2.5 ", "-0"]))
text_cell = st.one_of(st.text(alphabet="ab CDé ,\"", max_size=6).map(lambda t: '"' + t.replace('"', '""') + '"'),
                      st.sampled_from(["", '""', " padded ", "x"]))


@DB
@given(st.data(), st.sampled_from(["\n", "\r\n"]))
def test_copy_and_the_row_by_row_path_stage_the_same_rows(db, data, end):
    """Files COPY takes (about half of them here) and files it refuses: the rows staged and the
    rows rejected are the same as when the file is read row by row."""
    clean = data.draw(st.booleans())
    row = st.tuples(whole_cell, number_cell, text_cell) if clean else \
        st.tuples(messy_cell, messy_cell, text_cell)
    rows = data.draw(st.lists(row, min_size=1, max_size=15))
    from etl.progress import Progress
    from etl.runs import LoadContext, RejectSink
    from etl.staging import Column, Stage

    data = ("uprn,x,name" + end + end.join(",".join(r) for r in rows) + end).encode()
    columns = [Column(Field("uprn", ("uprn",)), "bigint"), Column(Field("x", ("x",)), "float8"),
               Column(Field("name", ("name",)), "text")]
    member = Member("p.csv", lambda: io.BytesIO(data))
    staged = []
    with db.transaction(force_rollback=True):
        run = db.execute("INSERT INTO gapmap.load_run (kind, status, fingerprint, started_at) "
                         "VALUES ('test', 'succeeded', 'x', now()) RETURNING id").fetchone()[0]
        for path in ("fast", "careful"):
            sink = RejectSink(db, run)
            ctx = LoadContext(db, run, None, {}, sink, Progress("t", None, enabled=False), [])
            stage = Stage(ctx, f"stage_{path}", columns)
            if path == "fast":
                try:
                    read = stage.load(0, member)
                except InputError:
                    return  # a file that every row of has gone wrong on both paths alike
            else:
                read = stage._careful(member, ["uprn", "x", "name"],
                                      {"uprn": 0, "x": 1, "name": 2}, ["uprn", "x", "name"])
            sink.flush()
            rejects = db.execute("SELECT line, column_name, reason FROM gapmap.reject WHERE run_id = %s "
                                 "ORDER BY line", (run,)).fetchall()
            db.execute("DELETE FROM gapmap.reject WHERE run_id = %s", (run,))
            good = db.execute(f"SELECT line, uprn, x, name FROM stage_{path} ORDER BY line").fetchall()
            staged.append((read, good, [(line, column) for line, column, _ in rejects]))
    assert staged[0] == staged[1]
