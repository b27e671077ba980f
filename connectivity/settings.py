"""Settings, declared once.

Every setting has a name, a type, a default and a help text, and is read from (later wins):

    defaults  <  config file (TOML)  <  environment  <  command-line flags

The config file is ``--config PATH``, else ``$CONNECTIVITY_CONFIG``, else ``connectivity.toml`` in the
working directory if it exists. Environment variables are ``CONNECTIVITY_<NAME>`` (upper case);
the database also honours the standard ``DATABASE_URL`` and libpq's ``PG*`` variables.
Nothing here is read at import time: call :func:`load_settings`.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from .errors import ConfigError

PACKAGE_DIR = Path(__file__).resolve().parent
#: The checkout the package runs from, when it runs from one (editable install or source tree).
SOURCE_ROOT = PACKAGE_DIR.parent if (PACKAGE_DIR.parent / "pyproject.toml").exists() else None

ENV_PREFIX = "CONNECTIVITY_"
PG_ENV_VARS = ("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE", "PGSERVICE")


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError("expected true or false")


def _port(value: Any) -> int:
    port = int(value)
    if not 1 <= port <= 65535:
        raise ValueError("expected a TCP port between 1 and 65535")
    return port


def _positive_int(value: Any) -> int:
    number = int(value)
    if number < 1:
        raise ValueError("expected a whole number of at least 1")
    return number


def _path(value: Any) -> Path:
    return Path(str(value)).expanduser()


def _optional_path(value: Any) -> Path | None:
    text = str(value).strip() if value is not None else ""
    return Path(text).expanduser() if text else None


def _optional_str(value: Any) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None


def _archive_url(value: Any) -> str:
    text = str(value).strip() if value is not None else ""
    if text and not (text.startswith("/") and not text.startswith("//")
                     or text.lower().startswith(("https://", "http://"))):
        raise ValueError("expected the archive's URL: a path on this site (/data/tiles/map.pmtiles) "
                         "or an http(s):// URL, or empty for the dynamic /tiles routes")
    return text


def _language(value: Any) -> str:
    text = str(value).strip().lower()
    if text not in {"en", "cy"}:
        raise ValueError("expected 'en' (English) or 'cy' (Cymraeg)")
    return text


def _default_cache_dir() -> Path:
    if SOURCE_ROOT is not None:
        return SOURCE_ROOT / ".cache"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "wales-gapmap"


def _default_data_dir() -> Path:
    if SOURCE_ROOT is not None:
        return SOURCE_ROOT / "data"
    return Path.cwd() / "data"


def _non_negative_int(value: Any) -> int:
    number = int(value)
    if number < 0:
        raise ValueError("expected a whole number of at least 0")
    return number


def _conflict_winner(value: Any) -> str:
    text = str(value).strip().lower()
    if text not in {"correction", "release"}:
        raise ValueError("expected 'correction' (the upheld correction counts until an officer "
                         "decides) or 'release' (the newer release counts)")
    return text


def _percent(value: Any) -> float:
    number = float(value)
    if not 0 < number <= 100:
        raise ValueError("expected a percentage above 0 and at most 100")
    return number


def _secret(value: Any) -> str | None:
    text = str(value).strip() if value is not None else ""
    if not text:
        return None
    if len(text) < 32:
        raise ValueError("expected at least 32 characters (make one with: python3 -c "
                         "'import secrets; print(secrets.token_urlsafe(32))')")
    return text


@dataclasses.dataclass(frozen=True)
class Setting:
    name: str
    parse: Callable[[Any], Any]
    default: Any
    help: str
    #: secrets come only from the environment (never a config file) and are never shown
    secret: bool = False

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()

    def resolve_default(self) -> Any:
        return self.default() if callable(self.default) else self.default


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "database_url",
        _optional_str,
        None,
        "PostgreSQL/PostGIS connection URL. Also read from DATABASE_URL, or from libpq's PG* "
        "variables. Unset: the project-local cluster started by `connectivity db up`.",
    ),
    Setting(
        "local_port", _port, 54329, "TCP port of the project-local PostgreSQL cluster (loopback only)."
    ),
    Setting("local_dbname", str, "gapmap", "Database name in the project-local cluster."),
    Setting(
        "cache_dir",
        _path,
        _default_cache_dir,
        "Folder for the project-local cluster and other caches (default: .cache in the checkout).",
    ),
    Setting(
        "data_dir",
        _path,
        _default_data_dir,
        "Folder of the bundled data that `connectivity demo` loads.",
    ),
    Setting(
        "rules_file",
        _optional_path,
        None,
        "Classification and eligibility rules (TOML). Unset: the packaged connectivity/rules.toml.",
    ),
    Setting(
        "costs_file",
        _optional_path,
        None,
        "The cost model of intervention planning (TOML). Unset: the packaged "
        "connectivity/costs.toml.",
    ),
    Setting(
        "publish_dir",
        _optional_path,
        None,
        "A folder written by `connectivity publish --out DIR`, served at /data/catalog.jsonld "
        "and /data/<release>/<file>. Unset: no downloads are served.",
    ),
    Setting("host", str, "127.0.0.1", "Address the web map listens on."),
    Setting("port", _port, 5000, "Port the web map listens on."),
    Setting("default_language", _language, "en", "Language when the browser states none: en or cy."),
    Setting(
        "online_basemap",
        _bool,
        False,
        "Show online base tiles under the map. Off by default: the map needs no network.",
    ),
    Setting(
        "basemap_url",
        str,
        "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        "Tile URL template used when online_basemap is on.",
    ),
    Setting(
        "tiles_archive_url",
        _archive_url,
        "",
        "A PMTiles archive of the map (`connectivity publish tiles`) the map reads its vector "
        "tiles from: a path on this site or an http(s) URL on any static host with range "
        "requests (and CORS). Empty: the dynamic /tiles routes.",
    ),
    Setting(
        "basemap_attribution",
        str,
        '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors',
        "Attribution shown for the online base tiles.",
    ),
    Setting(
        "abc_guidance_url",
        str,
        "https://www.gov.wales/access-broadband-cymru-grant-scheme-guidance-html",
        "Where residents read how to apply for Access Broadband Cymru (linked from postcode pages).",
    ),
    Setting(
        "abc_guidance_url_cy",
        str,
        "",
        "The Welsh version of abc_guidance_url, for the Welsh pages (empty: the English page, "
        "marked as English).",
    ),
    Setting(
        "uso_guidance_url",
        str,
        "https://www.ofcom.org.uk/phones-and-broadband/broadband-and-mobile-coverage/"
        "universal-service-obligation",
        "Where residents read how to ask for a Universal Service Obligation connection.",
    ),
    Setting(
        "public_addresses",
        _bool,
        False,
        "Show each premises' address (from `connectivity load addressbase`) on the public "
        "postcode pages and in the public API. Off by default: address licences differ by "
        "deployment (AddressBase held under the Public Sector Geospatial Agreement may not be "
        "shown to the public); officers see addresses whatever this says.",
    ),
    Setting(
        "performance_min_lines",
        _positive_int,
        4,
        "Ofcom's measured speeds of a postcode are withheld when its performance file counts "
        "fewer lines than this (Ofcom itself withheld postcodes with fewer than four "
        "connections); a file without line counts is shown.",
    ),
    Setting("pool_min_size", _positive_int, 1, "Web app: smallest number of pooled connections."),
    Setting("pool_max_size", _positive_int, 8, "Web app: largest number of pooled connections."),
    Setting(
        "statement_timeout_ms",
        _positive_int,
        15000,
        "Web app: longest a single query may run before the request fails with 503.",
    ),
    Setting(
        "secret_key",
        _secret,
        None,
        "Signs session cookies and CSRF tokens, and keys the hashes in rate-limit counters. Only "
        "from the environment (CONNECTIVITY_SECRET_KEY); the server refuses to start without it "
        "outside --dev.",
        secret=True,
    ),
    Setting(
        "cookie_secure",
        _bool,
        True,
        "Send the session cookie over HTTPS only. Browsers treat http://localhost as secure; "
        "turn it off only for a trial on a private network without TLS.",
    ),
    Setting(
        "trusted_proxies",
        _non_negative_int,
        0,
        "How many reverse proxies in front of the app set X-Forwarded-For/-Proto (0: none; the "
        "client address is the socket's).",
    ),
    Setting("session_idle_minutes", _positive_int, 30,
            "Officers are signed out after this many minutes without a request."),
    Setting("session_absolute_hours", _positive_int, 12,
            "Officers are signed out this many hours after signing in, however active."),
    Setting("sign_in_max_failures", _positive_int, 5,
            "Failed sign-ins allowed per account, and per client address, within the window; "
            "further attempts get 429 until the window passes."),
    Setting("sign_in_window_minutes", _positive_int, 15,
            "The window for sign_in_max_failures, in minutes."),
    Setting("report_limit_per_client", _positive_int, 5,
            "Residents' reports accepted from one client address per report window."),
    Setting("report_limit_per_postcode", _positive_int, 30,
            "Residents' reports accepted for one postcode per report window."),
    Setting("report_window_minutes", _positive_int, 60,
            "The window for the report limits, in minutes."),
    Setting("report_retention_months", _positive_int, 12,
            "Contact details on a resident's report are blanked this many months after the "
            "report is closed (`connectivity reports purge`)."),
    Setting("stale_release_months", _positive_int, 12,
            "The officer's dashboard warns about a data source whose newest release was "
            "published longer ago than this many months."),
    Setting("challenge_min_speed_tests", _positive_int, 3,
            "A speed challenge needs at least this many speed tests, on different days; their "
            "median is the measured speed (NTIA BEAD's rule)."),
    Setting("challenge_building_units", _positive_int, 3,
            "Challenges from this many units of one building (premises at the same point) "
            "escalate it: the building is reviewed, and may be corrected, as a whole."),
    Setting("challenge_building_percent", _percent, 10.0,
            "... or from this percentage of its units, whichever is reached first."),
    Setting("challenge_screen_days", _positive_int, 10,
            "Days an officer has to screen a new challenge before it shows as overdue."),
    Setting("challenge_decide_days", _positive_int, 60,
            "Days an officer has to decide an accepted challenge before it shows as overdue."),
    Setting("correction_valid_months", _positive_int, 24,
            "An upheld correction is evidence for this many months after its decision, unless "
            "the officer gives another date."),
    Setting("correction_conflict_winner", _conflict_winner, "correction",
            "When a newer Ofcom or BDUK release disagrees with an upheld correction, which "
            "counts until an officer resolves the conflict: correction or release."),
    Setting("classify_after_decision", _bool, False,
            "Publish the corrections and run a classification after every upheld decision "
            "(otherwise an admin starts one from the workspace or with `connectivity "
            "challenges publish --classify`, e.g. nightly from cron)."),
)
_BY_NAME = {s.name: s for s in SETTINGS}


@dataclasses.dataclass(frozen=True)
class Settings:
    database_url: str | None
    local_port: int
    local_dbname: str
    cache_dir: Path
    data_dir: Path
    rules_file: Path | None
    publish_dir: Path | None
    costs_file: Path | None
    host: str
    port: int
    default_language: str
    online_basemap: bool
    basemap_url: str
    tiles_archive_url: str
    basemap_attribution: str
    abc_guidance_url: str
    abc_guidance_url_cy: str
    uso_guidance_url: str
    public_addresses: bool
    performance_min_lines: int
    pool_min_size: int
    pool_max_size: int
    statement_timeout_ms: int
    secret_key: str | None = dataclasses.field(repr=False)
    cookie_secure: bool
    trusted_proxies: int
    session_idle_minutes: int
    session_absolute_hours: int
    sign_in_max_failures: int
    sign_in_window_minutes: int
    report_limit_per_client: int
    report_limit_per_postcode: int
    report_window_minutes: int
    report_retention_months: int
    stale_release_months: int
    challenge_min_speed_tests: int
    challenge_building_units: int
    challenge_building_percent: float
    challenge_screen_days: int
    challenge_decide_days: int
    correction_valid_months: int
    correction_conflict_winner: str
    classify_after_decision: bool
    #: where each value came from: default, file, env or cli (for `connectivity config`)
    sources: Mapping[str, str] = dataclasses.field(default_factory=dict, compare=False)

    @property
    def uses_local_cluster(self) -> bool:
        return self.database_url is None

    @property
    def conninfo(self) -> str:
        """The libpq connection string: the explicit URL, the PG* variables, or the local cluster."""
        if self.database_url is not None:
            return "" if self.database_url == "libpq-env" else self.database_url
        return local_cluster_url(self.local_port, self.local_dbname)

    def redacted_conninfo(self) -> str:
        return redact_url(self.conninfo) if self.conninfo else "(libpq PG* environment variables)"

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        out = {}
        for setting in SETTINGS:
            value = getattr(self, setting.name)
            if setting.name == "database_url" and value:
                value = redact_url(value)
            if setting.secret:
                value = "(set)" if value else "(not set)"
            out[setting.name] = str(value) if isinstance(value, Path) else value
        return out


def local_cluster_url(port: int, dbname: str) -> str:
    return f"postgresql://postgres@127.0.0.1:{port}/{quote(dbname)}"


def redact_url(url: str) -> str:
    """Hide a password in a connection URL."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(unparseable URL)"
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return parts._replace(netloc=netloc).geturl()
    return url


def _read_config_file(path: Path | None, environ: Mapping[str, str]) -> tuple[dict, Path | None]:
    explicit = path is not None or bool(environ.get(ENV_PREFIX + "CONFIG"))
    if path is None:
        path = Path(environ[ENV_PREFIX + "CONFIG"]) if environ.get(ENV_PREFIX + "CONFIG") else None
    if path is None:
        candidate = Path.cwd() / "connectivity.toml"
        path = candidate if candidate.exists() else None
    if path is None:
        return {}, None
    if not path.exists():
        if explicit:
            raise ConfigError(f"config file {path} does not exist", "check the --config path")
        return {}, None
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    section = data.get("connectivity", data)
    secrets_in_file = sorted(k for k in section if k in _BY_NAME and _BY_NAME[k].secret)
    if secrets_in_file:
        raise ConfigError(
            f"config file {path}: {', '.join(secrets_in_file)} may only come from the environment",
            "remove it from the file and set " + ", ".join(_BY_NAME[k].env for k in secrets_in_file),
        )
    unknown = sorted(set(section) - set(_BY_NAME))
    if unknown:
        raise ConfigError(
            f"config file {path}: unknown setting(s) {', '.join(unknown)}",
            "known settings: " + ", ".join(_BY_NAME),
        )
    return section, path


def load_settings(
    overrides: Mapping[str, Any] | None = None,
    *,
    config_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Build validated settings: defaults < config file < environment < ``overrides`` (CLI)."""
    environ = os.environ if environ is None else environ
    file_values, file_path = _read_config_file(config_file, environ)
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for setting in SETTINGS:
        raw, origin = None, "default"
        if setting.name in file_values:
            raw, origin = file_values[setting.name], f"file {file_path}"
        if setting.env in environ:
            raw, origin = environ[setting.env], f"env {setting.env}"
        elif setting.name == "database_url" and environ.get("DATABASE_URL"):
            raw, origin = environ["DATABASE_URL"], "env DATABASE_URL"
        elif (
            setting.name == "database_url"
            and origin == "default"
            and any(environ.get(v) for v in PG_ENV_VARS)
        ):
            raw, origin = "libpq-env", "env PG*"
        if overrides and overrides.get(setting.name) is not None:
            raw, origin = overrides[setting.name], "cli"
        if raw is None:
            values[setting.name] = setting.resolve_default()
        else:
            try:
                values[setting.name] = setting.parse(raw)
            except (TypeError, ValueError) as exc:
                shown = "(hidden)" if setting.secret else repr(raw)
                raise ConfigError(
                    f"setting {setting.name} ({origin}) has the value {shown}: {exc}",
                    f"{setting.help} Set it with {setting.env}=..."
                    + ("" if setting.secret else " or in the config file."),
                ) from None
        sources[setting.name] = origin
    url = values["database_url"]
    if url and url != "libpq-env" and not url.startswith(("postgresql://", "postgres://")):
        raise ConfigError(
            f"database_url ({sources['database_url']}) must start with postgresql://, got "
            f"{redact_url(url)!r}",
            "for example DATABASE_URL=postgresql://user:password@host:5432/dbname",
        )
    if values["pool_min_size"] > values["pool_max_size"]:
        raise ConfigError(
            f"pool_min_size ({values['pool_min_size']}) is larger than pool_max_size "
            f"({values['pool_max_size']})"
        )
    return Settings(**values, sources=sources)
