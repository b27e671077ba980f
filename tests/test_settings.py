from pathlib import Path

import pytest

from connectivity.errors import ConfigError
from connectivity.settings import SETTINGS, load_settings, redact_url


def test_defaults_apply_with_an_empty_environment(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = load_settings(environ={})
    assert s.database_url is None
    assert s.uses_local_cluster
    assert s.conninfo == "postgresql://postgres@127.0.0.1:54329/gapmap"
    assert s.port == 5000 and s.host == "127.0.0.1"
    assert s.online_basemap is False
    assert set(s.sources.values()) == {"default"}


def test_file_then_environment_then_cli_win_in_that_order(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "connectivity.toml").write_text(
        '[connectivity]\nport = 6000\nlocal_port = 6001\nonline_basemap = true\n'
    )
    env = {"CONNECTIVITY_PORT": "7000"}
    s = load_settings({"port": 8000}, environ=env)
    assert (s.port, s.local_port, s.online_basemap) == (8000, 6001, True)
    assert s.sources["port"] == "cli"
    assert s.sources["local_port"].startswith("file ")
    s = load_settings(environ=env)
    assert s.port == 7000 and s.sources["port"] == "env CONNECTIVITY_PORT"


def test_database_url_from_database_url_or_pg_variables(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = load_settings(environ={"DATABASE_URL": "postgresql://u:secret@db:5432/x"})
    assert s.conninfo == "postgresql://u:secret@db:5432/x"
    assert s.redacted_conninfo() == "postgresql://u:***@db:5432/x"
    assert s.as_dict()["database_url"] == "postgresql://u:***@db:5432/x"
    s = load_settings(environ={"PGHOST": "db", "PGUSER": "u"})
    assert s.conninfo == "" and s.sources["database_url"] == "env PG*"
    assert not s.uses_local_cluster


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CONNECTIVITY_PORT": "http"}, "setting port (env CONNECTIVITY_PORT) has the value 'http'"),
        ({"CONNECTIVITY_PORT": "70000"}, "expected a TCP port between 1 and 65535"),
        ({"CONNECTIVITY_ONLINE_BASEMAP": "maybe"}, "expected true or false"),
        ({"CONNECTIVITY_DEFAULT_LANGUAGE": "fr"}, "expected 'en' (English) or 'cy' (Cymraeg)"),
        ({"DATABASE_URL": "mysql://x"}, "database_url (env DATABASE_URL) must start with postgresql://"),
        ({"CONNECTIVITY_POOL_MIN_SIZE": "9"}, "pool_min_size (9) is larger than pool_max_size (8)"),
    ],
)
def test_bad_values_say_which_setting_and_how_to_fix(env, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as err:
        load_settings(environ=env)
    assert message in str(err.value)


def test_unknown_keys_in_the_config_file_are_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "connectivity.toml").write_text("prot = 1\n")
    with pytest.raises(ConfigError, match="unknown setting\\(s\\) prot"):
        load_settings(environ={})
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(config_file=Path("nope.toml"), environ={})


def test_every_setting_has_help_and_an_environment_name():
    for setting in SETTINGS:
        assert setting.help.endswith((".", ")")), setting.name
        assert setting.env == "CONNECTIVITY_" + setting.name.upper()


def test_redact_url_leaves_urls_without_password_alone():
    assert redact_url("postgresql://postgres@127.0.0.1:5/x") == "postgresql://postgres@127.0.0.1:5/x"


def test_publish_dir_is_unset_by_default_and_a_path_when_given(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_settings(environ={}).publish_dir is None
    s = load_settings(environ={"CONNECTIVITY_PUBLISH_DIR": str(tmp_path / "open-data")})
    assert s.publish_dir == tmp_path / "open-data"
    assert s.sources["publish_dir"] == "env CONNECTIVITY_PUBLISH_DIR"
    assert load_settings(environ={"CONNECTIVITY_PUBLISH_DIR": " "}).publish_dir is None


def test_public_addresses_is_off_and_measured_speeds_need_four_lines_by_default(tmp_path,
                                                                               monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = load_settings(environ={})
    assert (s.public_addresses, s.performance_min_lines) == (False, 4)
    assert "Public Sector Geospatial Agreement" in next(
        x.help for x in SETTINGS if x.name == "public_addresses")
    s = load_settings(environ={"CONNECTIVITY_PUBLIC_ADDRESSES": "yes",
                               "CONNECTIVITY_PERFORMANCE_MIN_LINES": "10"})
    assert (s.public_addresses, s.performance_min_lines) == (True, 10)
    assert s.sources["public_addresses"] == "env CONNECTIVITY_PUBLIC_ADDRESSES"
    with pytest.raises(ConfigError, match="expected a whole number of at least 1"):
        load_settings(environ={"CONNECTIVITY_PERFORMANCE_MIN_LINES": "0"})
