"""Docs that cannot drift: the README's commands are the ones CI and the CLI really have."""

from __future__ import annotations

import re

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


def test_every_command_in_the_readme_table_exists():
    documented = re.findall(r"^\| `connectivity ([a-z-]+)(?: ([a-z-]+))?", README, re.M)
    assert len(documented) >= 9
    for group, sub in documented:
        args = [group] + ([sub] if sub and group in ("db", "load") else []) + ["--help"]
        assert CliRunner().invoke(main, args).exit_code == 0, args


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
