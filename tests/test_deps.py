"""No declared dependency that nothing imports, and no import that is not declared.

The runtime dependencies in ``pyproject.toml`` are compared with the imports of the installed
packages (``connectivity``, ``etl``, ``webmap``, ``gapmap``), imports inside functions included;
the ``[test]`` extra the same way against ``tests/`` and ``bench/``. A distribution's import names
come from its installed metadata (``top_level.txt``, else the files in its ``RECORD``), so
``pillow`` is ``PIL`` and ``psycopg-pool`` is ``psycopg_pool``.

A few dependencies are needed without being imported: they are listed below with the reason, and
each entry fails once something imports it, so the lists cannot go stale.
"""

from __future__ import annotations

import ast
import importlib.metadata as metadata
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("connectivity", "etl", "webmap", "gapmap")
TEST_TREES = ("tests", "bench")
LOCAL = set(PACKAGES) | set(TEST_TREES)

# Runtime dependencies declared but (deliberately) imported by nothing yet.
RUNTIME_WITHOUT_IMPORT: dict[str, str] = {}

# [test] dependencies run as programs, never imported: each with a file that runs it.
TEST_WITHOUT_IMPORT = {
    "ruff": "scripts/test.sh",    # .venv/bin/ruff check .
    "tipg": "bench/web.py",       # uvicorn tipg.main:app, the peer tile server
    "uvicorn": "bench/web.py",    # serves tipg
}


def normalise(name: str) -> str:
    """PEP 503: ``Flask_Babel`` and ``flask-babel`` are the same distribution."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    """``psycopg[binary]>=3.2,<4`` -> ``psycopg`` (extras pull in more, imported by psycopg)."""
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    assert match, f"cannot read the requirement {requirement!r}"
    return normalise(match.group(1))


def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def runtime_requirements() -> set[str]:
    return {requirement_name(r) for r in project()["dependencies"]}


def extra_requirements(extra: str) -> set[str]:
    self_name = normalise(project()["name"])
    return {requirement_name(r) for r in project()["optional-dependencies"][extra]} - {self_name}


def import_names(distribution: str) -> set[str]:
    """The top-level modules an installed distribution provides."""
    try:
        dist = metadata.distribution(distribution)
    except metadata.PackageNotFoundError:
        raise AssertionError(
            f"{distribution} is declared in pyproject.toml but not installed here: "
            f"run .venv/bin/pip install -e '.[test]'") from None
    declared = (dist.read_text("top_level.txt") or "").split()
    if declared:
        return set(declared)
    names = set()
    for file in dist.files or ():
        top = file.parts[0]
        if top.endswith((".dist-info", ".egg-info", ".data")) or top in ("..", "__pycache__"):
            continue
        if len(file.parts) > 1:
            names.add(top)
        elif file.suffix in (".py", ".so", ".pyd"):
            names.add(top.split(".")[0])
    return names


def third_party_imports(trees: tuple[str, ...]) -> dict[str, list[str]]:
    """Top-level name -> the places (file:line) that import it, for every absolute import of a
    module that is neither in the standard library nor one of ours, anywhere in the files."""
    found: dict[str, list[str]] = {}
    for tree in trees:
        for path in sorted((ROOT / tree).rglob("*.py")):
            if "vendor" in path.parts:
                continue
            module = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for node in ast.walk(module):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and not node.level:
                    names = [node.module or ""]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top and top not in sys.stdlib_module_names and top not in LOCAL:
                        found.setdefault(top, []).append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def check(declared: set[str], imported: dict[str, list[str]], also_available: set[str],
          without_import: dict[str, str]) -> list[str]:
    """Problems: declared and not imported (unless listed), listed but imported or not declared,
    imported and not provided by a declared (or ``also_available``) distribution."""
    names = {dist: import_names(dist) for dist in declared | also_available}
    problems = []
    for dist in sorted(declared):
        users = sorted(set().union(*(imported.get(n, []) for n in names[dist])))
        if dist in without_import and users:
            problems.append(f"{dist} is listed as needed without an import, but {users[0]} "
                            f"imports it: delete its entry in tests/test_deps.py")
        elif dist not in without_import and not users:
            problems.append(f"{dist} is declared in pyproject.toml but nothing imports "
                            f"{' or '.join(sorted(names[dist]))}: remove it, or list it in "
                            f"tests/test_deps.py with the reason it is needed without an import")
    for dist in sorted(set(without_import) - declared):
        problems.append(f"{dist} is listed in tests/test_deps.py but not declared: delete its entry")
    provided = set().union(*names.values()) if names else set()
    for top, places in sorted(imported.items()):
        if top not in provided:
            problems.append(f"{places[0]} imports {top}, which no declared dependency provides: "
                            f"declare its distribution in pyproject.toml")
    return problems


def test_every_runtime_dependency_is_imported_and_every_import_is_declared():
    problems = check(runtime_requirements(), third_party_imports(PACKAGES), set(),
                     RUNTIME_WITHOUT_IMPORT)
    assert not problems, "\n".join(problems)


def test_every_test_dependency_is_imported_and_every_test_import_is_declared():
    # tests and benchmarks may import runtime dependencies too; they must import each [test] one
    programs = {dist: f"runs as a program in {where}" for dist, where in TEST_WITHOUT_IMPORT.items()}
    problems = check(extra_requirements("test"), third_party_imports(TEST_TREES),
                     runtime_requirements(), programs)
    assert not problems, "\n".join(problems)


def test_each_program_listed_is_run_where_it_says():
    for dist, where in TEST_WITHOUT_IMPORT.items():
        assert dist in (ROOT / where).read_text(), f"{where} no longer runs {dist}"


def test_the_names_come_from_the_installed_metadata():
    assert import_names("pillow") == {"PIL"}
    assert import_names("psycopg-pool") == {"psycopg_pool"}
    assert "yaml" in import_names("PyYAML")
    assert requirement_name("psycopg[binary]>=3.2,<4") == "psycopg"
    assert requirement_name("Flask_Babel >= 4") == "flask-babel"


def test_the_walk_sees_imports_inside_functions():
    found = third_party_imports(PACKAGES)
    assert "gapmap/cli.py" in " ".join(found["click"])
    # geopandas is imported only inside connectivity.outputs._write_vector
    assert any(place.startswith("connectivity/outputs.py") for place in found["geopandas"])


def test_the_check_finds_each_kind_of_problem():
    imported = {"click": ["a.py:1"], "PIL": ["b.py:2"], "yaml": ["c.py:3"]}
    problems = check({"click", "rich", "pyyaml"}, imported, set(), {"pyyaml": "reason", "ruff": "x"})
    assert problems == [
        "pyyaml is listed as needed without an import, but c.py:3 imports it: delete its entry "
        "in tests/test_deps.py",
        "rich is declared in pyproject.toml but nothing imports rich: remove it, or list it in "
        "tests/test_deps.py with the reason it is needed without an import",
        "ruff is listed in tests/test_deps.py but not declared: delete its entry",
        "b.py:2 imports PIL, which no declared dependency provides: declare its distribution in "
        "pyproject.toml",
    ]
