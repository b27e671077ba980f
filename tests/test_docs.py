"""Docs that cannot drift: the README's commands are the ones CI and the CLI really have, and every
``connectivity ...`` command quoted in the README, in docs/, in the scripts and in the code's hints
and help texts exists, with the options quoted after it."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

import click
from click.testing import CliRunner

from gapmap.cli import main
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()


def readme_commands() -> list[str]:
    return [block.strip() for block in re.findall(r"```sh\n(.*?)```", README, re.S)]


def test_readme_starts_with_the_setup_command_then_the_test_command():
    assert readme_commands()[:2] == ["scripts/quickstart.sh", "scripts/test.sh"]
    for command in readme_commands()[:2]:
        assert (ROOT / command).exists()


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci/run").read_text()
    test_command = readme_commands()[1]
    assert re.search(rf"^bash {re.escape(test_command)}\s*$", ci, re.M)


def test_quickstart_runs_the_demo_and_the_test_script_runs_pytest():
    assert "connectivity demo" in (ROOT / "scripts/quickstart.sh").read_text()
    assert "python -m pytest" in (ROOT / "scripts/test.sh").read_text()


def test_bundled_data_has_a_readme_naming_source_and_licence_for_each_file():
    text = (ROOT / "data/README.md").read_text()
    for path in sorted(p for p in (ROOT / "data").rglob("*") if p.is_file() and p.name != "README.md"):
        assert f"`{path.relative_to(ROOT / 'data')}`" in text
    assert "Open Government Licence" in text


def test_docker_compose_wires_postgis_and_the_app():
    import yaml

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    db, app = compose["services"]["db"], compose["services"]["app"]
    assert db["image"].startswith("postgis/postgis:15")
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    env = db["environment"]
    assert app["environment"]["DATABASE_URL"] == (
        f"postgresql://{env['POSTGRES_USER']}:{env['POSTGRES_PASSWORD']}@db:5432/{env['POSTGRES_DB']}")
    assert app["depends_on"]["db"]["condition"] == "service_healthy"
    assert "pgdata" in compose["volumes"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    for source in re.findall(r"^COPY (\S+)", dockerfile, re.M):
        assert (ROOT / source).exists(), source


def test_every_loader_kind_is_registered_under_its_own_name_and_has_a_cli_command():
    from etl import LOADERS

    load_group = main.commands["load"]
    for kind in LOADERS:
        assert LOADERS[kind].kind == kind
        assert kind in load_group.commands


# -- every quoted `connectivity ...` command exists ------------------------------------------------
PACKAGES = ("connectivity", "etl", "webmap", "gapmap")
# Words that follow "connectivity" in English, not on the command line ("the connectivity officers").
PROSE = {"officer", "officers"}
# `connectivity` as a command (also `.venv/bin/connectivity`), not `connectivity/` or `.toml`;
# a quote ends at a backtick, a round bracket, ", ", a shell operator, a comment or the next quote.
QUOTE = re.compile(r"(?<![\w.-])connectivity[ \t]+(?=([^`\n]*))")
END = re.compile(r"[()]|, |;|&&|\s\|\s|\s>|\s#|(?<![\w.-])connectivity\s")


@dataclass
class Quote:
    where: str   # file:line
    text: str    # connectivity ...
    path: list[str] = field(default_factory=list)   # the command it names, e.g. ["db", "status"]
    problems: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.where}: `{self.text}`: " + "; ".join(self.problems)


def _option_names(command: click.Command) -> set[str]:
    names = {"--help", "-h"}
    for param in command.params:
        if isinstance(param, click.Option):
            names.update(param.opts + param.secondary_opts)
    return names


def _find_option(command: click.Command, name: str) -> click.Option | None:
    for param in command.params:
        if isinstance(param, click.Option) and name in param.opts + param.secondary_opts:
            return param
    return None


def resolve(where: str, rest: str) -> Quote | None:
    """The command a quote names, checked against the real command group: each verb and subverb
    must exist, and each option after them must belong to the command (after a placeholder such as
    ``load KIND``, to every command of the group). ``None`` for prose."""
    rest = END.split(rest)[0].strip()
    words = [re.sub(r"^[\[('\"]+|[\]).,:;'\"]+$", "", w) for w in rest.split()]
    words = [w for w in words if w]
    if words and words[0] in PROSE:
        return None
    quote = Quote(where, " ".join(["connectivity", *words]))
    commands: list[click.Command] = [main]
    skip_value = False
    for word in words:
        group = commands[0] if len(commands) == 1 and isinstance(commands[0], click.Group) else None
        if skip_value:
            skip_value = False
            continue
        if word.startswith("-"):
            for name in re.split(r"\\?\||/", word):
                name = name.partition("=")[0]
                if not name.startswith("-"):
                    continue
                missing = [c for c in commands if name not in _option_names(c)]
                if missing:
                    quote.problems.append(f"`{' '.join(['connectivity', *quote.path])}` has no "
                                          f"option {name}")
                option = _find_option(commands[0], name)
                if option is not None and not option.is_flag and "=" not in word:
                    skip_value = True
            continue
        if group is None:
            command = commands[0]
            takes_arguments = any(isinstance(p, click.Argument) for p in command.params)
            if len(commands) == 1 and not takes_arguments and re.fullmatch(r"[a-z][a-z0-9-]*", word):
                quote.problems.append(f"`{' '.join(['connectivity', *quote.path])}` has no "
                                      f"subcommand and takes no argument: {word}")
                break
            continue  # an argument
        if re.fullmatch(r"[a-z][a-z0-9-]*", word):
            if word not in group.commands:
                quote.problems.append(f"no command `{' '.join(['connectivity', *quote.path, word])}`"
                                      f" (there are: {', '.join(sorted(group.commands))})")
                break
            commands = [group.commands[word]]
            quote.path.append(word)
        else:  # a placeholder such as KIND: what follows holds for every command of the group
            commands = list(group.commands.values())
    return quote


def _name(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else path.name


def quotes_in_markdown(path: Path) -> list[Quote]:
    """Commands in inline code spans and in fenced blocks (one command a line)."""
    name = _name(path)
    lines = path.read_text().splitlines()
    found: list[tuple[int, str]] = []
    prose = []
    fenced = False
    for number, line in enumerate(lines, 1):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            prose.append("")
        elif fenced:
            prose.append("")
            found += [(number, m.group(1)) for m in QUOTE.finditer(line)]
        else:
            prose.append(line)
    text = "\n".join(prose)
    for span in re.finditer(r"`([^`]+)`", text):
        start = text.count("\n", 0, span.start()) + 1
        found += [(start, m.group(1)) for m in QUOTE.finditer(span.group(1).replace("\n", " "))]
    return [q for number, rest in sorted(found) if (q := resolve(f"{name}:{number}", rest))]


def quotes_in_shell(path: Path) -> list[Quote]:
    name = _name(path)
    return [q for number, line in enumerate(path.read_text().splitlines(), 1)
            for m in QUOTE.finditer(line) if (q := resolve(f"{name}:{number}", m.group(1)))]


def quotes_in_python(path: Path) -> list[Quote]:
    """Commands in every string literal: hints, messages, help texts, docstrings. An f-string's
    replacement fields read as ``{}``, a placeholder."""
    name = _name(path)
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    tree = ast.parse(source, filename=str(path))
    parts_of_fstrings = {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            text = "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in parts_of_fstrings:
            text = node.value
        else:
            continue
        for m in QUOTE.finditer(text):
            first = (m.group(1).split() or [""])[0]
            number = next((n for n in range(node.lineno, (node.end_lineno or node.lineno) + 1)
                           if f"connectivity {first}" in lines[n - 1]), node.lineno)
            if quote := resolve(f"{name}:{number}", m.group(1)):
                found.append(quote)
    return sorted(found, key=lambda q: (q.where.split(":")[0], int(q.where.split(":")[1])))


def documented_quotes() -> list[Quote]:
    paths = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    return ([q for p in paths for q in quotes_in_markdown(p)]
            + [q for p in sorted((ROOT / "scripts").glob("*.sh")) for q in quotes_in_shell(p)])


def code_quotes() -> list[Quote]:
    return [q for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))
            if "vendor" not in p.parts for q in quotes_in_python(p)]


def _check(quotes: list[Quote]) -> list[str]:
    problems = [str(q) for q in quotes if q.problems]
    for path in sorted({tuple(q.path) for q in quotes if not q.problems}):
        result = CliRunner().invoke(main, [*path, "--help"])
        if result.exit_code != 0:
            where = next(q.where for q in quotes if tuple(q.path) == path)
            problems.append(f"{where}: `connectivity {' '.join(path)} --help` exits "
                            f"{result.exit_code}: {result.output.strip()}")
    return problems


def test_every_command_quoted_in_the_readme_docs_and_scripts_exists():
    quotes = documented_quotes()
    assert sum(q.where.startswith("README.md:") for q in quotes) >= 27  # the table and the text
    problems = _check(quotes)
    assert not problems, "\n".join(problems)


def test_every_command_named_in_a_hint_message_or_help_text_exists():
    quotes = code_quotes()
    assert len(quotes) >= 15
    problems = _check(quotes)
    assert not problems, "\n".join(problems)


def test_the_command_check_finds_drift():
    good = resolve("x:1", "load boundaries FILE... --level la\\|ward [--force] --json|--csv")
    assert (good.path, good.problems) == (["load", "boundaries"], [
        "`connectivity load boundaries` has no option --csv"])
    assert resolve("x:2", "classify --drop LABEL").problems == [
        "`connectivity classify` has no option --drop"]
    assert resolve("x:3", "db migrat").problems == [
        "no command `connectivity db migrat` (there are: down, migrate, reset, status, up)"]
    # a placeholder: the options must be common to every load command
    assert resolve("x:4", "load KIND PATH... [--release LABEL] [--within W]").problems == [
        "`connectivity load` has no option --within"]
    # group options take values; shell operators and brackets end a quote; prose is not a command
    assert resolve("x:5", "--config FILE db status --json | jq .)").path == ["db", "status"]
    assert resolve("x:6", "officers read every report") is None
    assert resolve("x:7", "rejects {}").path == ["rejects"]
    assert resolve("x:8", "config everything --json").problems == [
        "`connectivity config` has no subcommand and takes no argument: everything"]
    assert resolve("x:9", "stats --level la --json").problems == []


def test_the_finders_read_code_spans_fences_and_strings(tmp_path):
    md = tmp_path / "doc.md"
    md.write_text("Run `connectivity db up`, then\n`connectivity load uprn FILE\n--within wales`.\n"
                  "Prose: connectivity nonsense. `connectivity/db/` and `connectivity.toml`.\n"
                  "```sh\nconnectivity demo --no-serve  # quick\n.venv/bin/connectivity stats "
                  "--level la | head\n```\n")
    assert [(q.where, q.text) for q in quotes_in_markdown(md)] == [
        ("doc.md:1", "connectivity db up"),
        ("doc.md:2", "connectivity load uprn FILE --within wales"),
        ("doc.md:6", "connectivity demo --no-serve"),
        ("doc.md:7", "connectivity stats --level la"),
    ]
    py = tmp_path / "hints.py"
    py.write_text('def f(run_id):\n    raise E("no run",\n            "see `connectivity status`")\n'
                  '    print(f"see: connectivity rejects {run_id} (or connectivity nope)")\n'
                  '    return _("the connectivity officers read it")\n')
    assert [(q.where, q.text, q.problems) for q in quotes_in_python(py)] == [
        ("hints.py:3", "connectivity status", []),
        ("hints.py:4", "connectivity rejects {}", []),
        ("hints.py:4", "connectivity nope", [
            "no command `connectivity nope` (there are: " + ", ".join(sorted(main.commands)) + ")"]),
    ]


def test_architecture_draws_every_module_on_its_floor():
    text = (ROOT / "docs/architecture.md").read_text()
    floors_section = text.split("\n## The floors\n", 1)[1].split("\n## ", 1)[0]
    drawing = floors_section.split("```", 2)[1]
    floors = re.findall(r"^([a-z]+)/ ", drawing, re.M)
    assert floors == ["gapmap", "webmap", "etl", "connectivity"]  # top to bottom
    parts = dict(zip(floors, re.split(r"^(?:gapmap|webmap|etl|connectivity)/ ", drawing, flags=re.M)[1:],
                     strict=True))
    missing = []
    for package, drawn in parts.items():
        words = set(re.findall(r"[\w.]+/?", drawn))
        for child in sorted((ROOT / package).iterdir()):
            if child.suffix == ".py" and child.name != "__init__.py" and child.name not in words:
                missing.append(f"{package}/{child.name}")
            elif (child / "__init__.py").exists() and f"{child.name}/" not in words:
                missing.append(f"{package}/{child.name}/")
    assert not missing, ("not drawn on its floor in docs/architecture.md (## The floors): "
                         + ", ".join(missing))
