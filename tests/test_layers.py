"""The floors: every module of the four packages imports only downward, and no module imports
itself back through others (no cycles), counting imports inside functions too.

    gapmap (the shell: command line, demo pipeline, synthetic generator)
      -> webmap (Flask)  -> etl (loaders)  -> connectivity (domain and database)

``connectivity`` imports neither ``etl`` nor ``webmap`` nor Flask; ``etl`` never imports
``webmap`` or Flask; nothing imports ``gapmap``.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FLOORS = {"connectivity": 0, "etl": 1, "webmap": 2, "gapmap": 3}
WEB_ONLY = ("flask", "flask_babel", "flask_login", "flask_wtf", "werkzeug", "jinja2", "folium",
            "gunicorn", "wtforms")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    found = {}
    for package in FLOORS:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "vendor" not in path.parts:
                found[module_name(path)] = path
    return found


def imports_of(name: str, path: Path, known: set[str]) -> list[tuple[str, int]]:
    """Every module imported by ``name`` (absolute names), with the line number."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append((target, node.lineno))
            for alias in node.names:  # `from pkg import module` imports the module
                if f"{target}.{alias.name}" in known:
                    found.append((f"{target}.{alias.name}", node.lineno))
    return found


def graph() -> tuple[dict[str, set[str]], list[str]]:
    mods = modules()
    known = set(mods)
    edges: dict[str, set[str]] = {m: set() for m in mods}
    problems = []
    for name, path in mods.items():
        floor = FLOORS[name.split(".")[0]]
        for target, line in imports_of(name, path, known):
            top = target.split(".")[0]
            where = f"{path.relative_to(ROOT)}:{line} imports {target}"
            if top in FLOORS and FLOORS[top] > floor:
                problems.append(f"upward: {where}")
            if top in WEB_ONLY and floor < FLOORS["webmap"]:
                problems.append(f"web library below webmap: {where}")
            if target in known and target != name:
                edges[name].add(target)
    return edges, problems


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_every_import_goes_down_a_floor():
    _, problems = graph()
    assert problems == []


def test_no_import_cycles():
    edges, _ = graph()
    assert cycles(edges) == []


def test_the_walk_sees_every_package_and_its_imports():
    edges, _ = graph()
    assert {m.split(".")[0] for m in edges} == set(FLOORS)
    assert "connectivity.settings" in edges["gapmap.cli"]
    assert "connectivity.errors" in edges["etl.runs"]


def test_the_walk_catches_an_upward_import(tmp_path):
    path = tmp_path / "connectivity" / "bad.py"
    path.parent.mkdir()
    path.write_text("def f():\n    from webmap import create_app\n    from . import settings\n")
    found = imports_of("connectivity.bad", path, {"connectivity.settings"})
    assert found == [("webmap", 2), ("connectivity", 3), ("connectivity.settings", 3)]


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
