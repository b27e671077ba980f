"""The shared vocabulary (connectivity/vocab.py): written once, used everywhere.

Its Welsh names are those the Welsh pages showed before the vocabulary existed; every code
classification stores is in it; and no other module of connectivity/ or webmap/ writes a list
of its codes, a box parser, an offset limit or a query for the current run of its own.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import psycopg
import pytest

from connectivity.errors import BadRequest
from connectivity.vocab import (
    AREA_LEVELS,
    BANDS,
    ELIGIBILITY,
    EVIDENCE,
    REASONS,
    RELEASE_SOURCES,
    SCHEMES,
    STATISTICS_LEVELS,
    STATUSES,
    Term,
    Vocabulary,
)

ROOT = Path(__file__).resolve().parent.parent


def test_status_names_are_those_the_pages_show():
    assert STATUSES.names("en") == {
        "below": "Below 30 Mbit/s", "possibly_below": "Possibly below 30 Mbit/s",
        "above": "30 Mbit/s or more", "unknown": "No evidence yet"}
    assert STATUSES.names("cy") == {
        "below": "O dan 30 Mbit/s", "possibly_below": "Efallai o dan 30 Mbit/s",
        "above": "30 Mbit/s neu fwy", "unknown": "Dim tystiolaeth eto"}


def test_evidence_eligibility_and_level_names():
    assert EVIDENCE.name("ofcom-api", "cy") == "rhagfynegiad safle Ofcom"
    assert EVIDENCE.name("speed-raster", "en") == "modelled speed surface"
    assert ELIGIBILITY.names("cy") == {"eligible": "Yn gymwys", "possibly": "Yn gymwys o bosibl",
                                       "not_eligible": "Ddim yn gymwys", "unknown": "Anhysbys"}
    assert [AREA_LEVELS.name(c, "cy") for c in ("la", "ward", "lsoa")] == [
        "Awdurdod lleol", "Ward", "ACEHI"]
    assert STATISTICS_LEVELS.name("hex", "cy") == "Hecsagon"
    assert SCHEMES.name("abc", "cy") == "Allwedd Band Eang Cymru"
    assert BANDS.name(">=300", "cy") == "300 Mbit/s neu fwy"


def test_codes_in_order():
    assert STATUSES.codes == ("below", "possibly_below", "above", "unknown")
    assert EVIDENCE.codes == ("correction", "ofcom-api", "bduk", "oa", "postcode", "speed-raster",
                              "none")
    assert RELEASE_SOURCES == ("correction", "ofcom-api", "bduk", "ofcom-coverage", "speed-raster")
    assert BANDS.codes == ("0<2", "2<5", "5<10", "10<30", "30<300", ">=300")
    assert [b.column for b in BANDS] == ["b_0_2", "b_2_5", "b_5_10", "b_10_30", "b_30_300", "b_300"]
    assert SCHEMES.codes == tuple(REASONS) == ("abc", "lbf", "uso", "voucher")
    assert AREA_LEVELS.codes == ("country", "la", "ward", "lsoa", "msoa", "constituency", "oa")
    assert STATISTICS_LEVELS.codes == ("la", "ward", "lsoa", "msoa", "constituency", "postcode",
                                       "hex")


def test_every_term_has_two_names():
    for vocabulary in (STATUSES, EVIDENCE, BANDS, SCHEMES, ELIGIBILITY, AREA_LEVELS,
                       STATISTICS_LEVELS, *REASONS.values()):
        for term in vocabulary:
            assert term.en.strip() and term.cy.strip(), term


def test_helpers():
    assert STATUSES.name("maybe", "cy") == "maybe"  # an unknown code is its own name
    assert "below" in STATUSES and "maybe" not in STATUSES and len(STATUSES) == 4
    assert STATUSES["above"].name("cy") == "30 Mbit/s neu fwy"
    with pytest.raises(BadRequest) as caught:
        STATUSES.check("maybe")
    assert caught.value.message == ("unknown status 'maybe'; expected one of below, "
                                    "possibly_below, above, unknown")
    assert AREA_LEVELS.check("la") == "la"
    with pytest.raises(ValueError, match="duplicate x codes"):
        Vocabulary("x", (Term("a", "A", "A"), Term("a", "B", "B")))


def test_every_code_classification_stores_is_in_the_vocabulary(loaded_settings):
    with psycopg.connect(loaded_settings.conninfo) as conn:
        def codes(column: str) -> set[str]:
            return {r[0] for r in conn.execute(
                f"SELECT DISTINCT {column} FROM gapmap.premises_class WHERE {column} IS NOT NULL")}

        assert codes("status") <= set(STATUSES.codes)
        assert codes("evidence") <= set(EVIDENCE.codes)
        assert codes("band") <= set(BANDS.codes)
        for scheme in SCHEMES.codes:
            assert codes(f"eligible_{scheme}") <= set(ELIGIBILITY.codes)
            assert codes(f"{scheme}_reason") <= set(REASONS[scheme].codes)
        # the sources releases are loaded as (the demo has every one classification reads but
        # corrections, and one it does not read)
        sources = {r[0] for r in conn.execute("SELECT DISTINCT source FROM gapmap.release")}
        assert sources - set(RELEASE_SOURCES) == {"ofcom-performance"}
        assert set(RELEASE_SOURCES) - sources == {"correction"}


def test_the_map_page_takes_its_names_from_the_vocabulary(client):
    html = client.get("/cy/").get_data(as_text=True)
    config = json.loads(re.search(r"GapMap\.init\(\w+, (\{.*\})\);", html).group(1))
    assert config["statusNames"] == STATUSES.names("cy")
    assert config["evidenceNames"] == EVIDENCE.names("cy")
    assert config["text"]["level_lsoa"] == "ACEHI"


# -- written once -------------------------------------------------------------------------------
VOCABULARY_NAMES = {"STATUSES", "LEVELS", "AREA_LEVELS", "BANDS", "SOURCES", "EVIDENCE_SOURCES",
                    "ELIGIBILITY", "SCHEMES"}
#: the same names for other things
OTHER_THINGS = {("connectivity/officers/reports.py", "STATUSES"): "a report's, not a premises'"}
#: names of the one place each thing is written
OWNERS = {"MAX_OFFSET": "connectivity/lookup.py", "parse_bbox": "connectivity/lookup.py",
          "status_names": "webmap/i18n.py"}


def _modules():
    for package in ("connectivity", "webmap"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if "vendor" not in path.parts:
                yield path.relative_to(ROOT).as_posix(), path


def test_no_module_but_the_vocabulary_writes_a_list_of_codes():
    found = []
    for name, path in _modules():
        if name == "connectivity/vocab.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            targets = node.targets if isinstance(node, ast.Assign) else \
                [node.target] if isinstance(node, ast.AnnAssign) else []
            for target in targets:
                if isinstance(target, ast.Name) and target.id in VOCABULARY_NAMES \
                        and (name, target.id) not in OTHER_THINGS:
                    found.append(f"{name}:{node.lineno} {target.id}")
    assert found == []


def test_box_parser_offset_limit_and_status_names_are_written_once():
    found = []
    for name, path in _modules():
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            names = [node.name] if isinstance(node, ast.FunctionDef) else \
                [t.id for t in getattr(node, "targets", []) if isinstance(t, ast.Name)]
            found += [(n, name) for n in names if n in OWNERS]
    assert sorted(found) == sorted((n, owner) for n, owner in OWNERS.items())


def test_only_runs_asks_for_the_current_run():
    """`WHERE is_current` (which run is current) is asked in connectivity/runs.py only."""
    found = [name for name, path in _modules()
             if name != "connectivity/runs.py"
             and re.search(r"WHERE\s+(\w+\.)?is_current\b", path.read_text(encoding="utf-8"))]
    assert found == []
