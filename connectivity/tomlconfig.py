"""What the versioned TOML settings files share (the classification rules, rules.py; the cost
model, costs.py): reading one, building typed frozen dataclasses from it with messages that name
the file and the key, and dotted keys (``schemes.abc.max_down``) to read or replace one value."""

from __future__ import annotations

import dataclasses
import functools
import tomllib
import typing
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from .errors import ConfigError

T = TypeVar("T")
TYPE_NAMES = {str: "a string", float: "a number", int: "a whole number", bool: "true or false"}


def read(path: Path | str | None, packaged: str, what: str) -> tuple[dict[str, Any], str]:
    """The parsed file and how to name it: ``path``, or None for the packaged ``packaged``."""
    where = f"connectivity/{packaged}" if path is None else str(path)
    try:
        if path is None:
            text = resources.files("connectivity").joinpath(packaged).read_text("utf-8")
        else:
            text = Path(path).read_text("utf-8")
        return tomllib.loads(text), f"{what} {where}"
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read the {what} {where}: {exc}") from None


@functools.cache
def hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def dotted_keys(cls: type) -> list[str]:
    """Every dotted key of a file read into ``cls``, in the order of the fields."""
    out = []
    for field, hint in hints(cls).items():
        if dataclasses.is_dataclass(hint):
            out += [f"{field}.{k}" for k in dotted_keys(hint)]
        else:
            out.append(field)
    return out


def toml(value: Any) -> str:
    """A value as it would be written in TOML (what the user wrote)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(toml(v) for v in value) + "]"
    return str(value)


def fail(where: str, key: str, message: str, value: Any = dataclasses.MISSING,
         hint: str | None = None) -> ConfigError:
    shown = "" if value is dataclasses.MISSING else f", got {toml(value)}"
    return ConfigError(f"{where}: {key} {message}{shown}", hint)


@dataclasses.dataclass(frozen=True)
class Reader:
    """How one kind of file is read: its packaged name (for hints), whether unknown keys are
    refused, and hints for keys that were dropped from it."""

    packaged: str
    strict: bool = True
    dropped: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def build(self, cls: type[T], data: Any, prefix: str, where: str) -> T:
        if not prefix:
            table = "the top of the file"
        else:  # a table of an array of tables has no [header] of its own
            table = prefix[:-1] if prefix.endswith("].") else f"[{prefix[:-1]}]"
        if not isinstance(data, dict):
            raise fail(where, prefix[:-1], "must be a table", data)
        fields = hints(cls)
        if self.strict:
            for key, value in data.items():
                if key not in fields:
                    hint = f"the keys of {table} are {', '.join(fields)}"
                    if key in self.dropped:
                        hint += f"; {self.dropped[key]}"
                    raise ConfigError(f"{where}: unknown key {prefix}{key} = {toml(value)}", hint)
        values = {}
        for field, hint in fields.items():
            key = prefix + field
            if field not in data:
                raise fail(where, key, "is missing",
                           hint=f"add it to {table}; connectivity/{self.packaged} has its default")
            values[field] = self.value(hint, data[field], key, where)
        return cls(**values)

    def value(self, hint: Any, value: Any, key: str, where: str) -> Any:
        if dataclasses.is_dataclass(hint):
            return self.build(hint, value, key + ".", where)
        if typing.get_origin(hint) is tuple:
            item = typing.get_args(hint)[0]
            if not isinstance(value, list):
                raise fail(where, key, "must be a list", value)
            return tuple(self.value(item, v, f"{key}[{i}]", where) for i, v in enumerate(value))
        if typing.get_origin(hint) is dict:
            if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
                raise ConfigError(f"{where}: [{key}] must be a table of texts")
            return dict(value)
        ok = isinstance(value, hint) and not (hint is not bool and isinstance(value, bool))
        if hint is float and isinstance(value, int) and not isinstance(value, bool):
            value, ok = float(value), True
        if not ok:
            raise fail(where, key, f"must be {TYPE_NAMES[hint]}", value)
        return value


class DottedKeys:
    """``get`` by dotted key, and the plain data with one dotted key replaced (for the class's
    ``replace``, which checks the result as a file's values are checked), for a frozen dataclass
    read by a :class:`Reader`."""

    def get(self, key: str) -> Any:
        """The value of a dotted key, e.g. ``schemes.abc.max_down``."""
        value: Any = self
        for part in key.split("."):
            value = getattr(value, part)
        return value

    def _replaced(self, data: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
        """``data`` (this object as the file has it) with the dotted ``key`` set to ``value``."""
        *parents, last = key.split(".")
        table = data
        for part in parents:
            table = table[part]
        if last not in table:
            raise KeyError(key)
        table[last] = value
        return data
