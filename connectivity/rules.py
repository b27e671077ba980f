"""The classification rules file (connectivity/rules.toml, or the `rules_file` setting)."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import ConfigError

REQUIRED = {
    "thresholds": ["superfast_down", "uso_down", "uso_up", "ultrafast_down", "gigabit_down"],
    "evidence": ["order", "raster_probability_below"],
}
SOURCES = {"correction", "ofcom-api", "bduk", "oa", "postcode", "speed-raster"}


def load_rules(path: Path | None = None) -> dict[str, Any]:
    """Read and check the rules; ``path`` None means the packaged default."""
    try:
        if path is None:
            text = resources.files("connectivity").joinpath("rules.toml").read_text("utf-8")
            where = "connectivity/rules.toml"
        else:
            text, where = Path(path).read_text("utf-8"), str(path)
        rules = tomllib.loads(text)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read the rules file: {exc}") from None
    for section, keys in REQUIRED.items():
        for key in keys:
            if key not in rules.get(section, {}):
                raise ConfigError(f"rules file {where}: [{section}] {key} is missing")
    unknown = set(rules["evidence"]["order"]) - SOURCES
    if unknown:
        raise ConfigError(f"rules file {where}: unknown evidence source(s) {sorted(unknown)}",
                          "known sources: " + ", ".join(sorted(SOURCES)))
    for scheme in ("abc", "lbf", "uso", "voucher"):
        if scheme not in rules.get("schemes", {}):
            raise ConfigError(f"rules file {where}: [schemes.{scheme}] is missing")
    if "version" not in rules:
        raise ConfigError(f"rules file {where}: 'version' is missing")
    return rules
