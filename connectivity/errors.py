"""Typed errors. Every error a user can meet says what went wrong and how to fix it.

The CLI prints ``str(error)`` (one line, plus the hint) and exits with ``error.exit_code``;
the web layer maps them onto one JSON error shape. No stack traces reach users.
"""

from __future__ import annotations


class GapmapError(Exception):
    """Base class: a message for users and an optional hint on how to fix it."""

    exit_code = 1
    http_status = 500
    code = "internal_error"

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


class ConfigError(GapmapError):
    """A setting is missing or malformed."""

    exit_code = 2
    code = "config_error"


class DatabaseUnavailable(GapmapError):
    """PostgreSQL cannot be reached (not started, wrong URL, restarting)."""

    exit_code = 3
    http_status = 503
    code = "database_unavailable"


class SchemaError(GapmapError):
    """The database schema is missing, older or newer than this code, or was edited."""

    exit_code = 4
    http_status = 503
    code = "schema_error"


class ClusterError(GapmapError):
    """The project-local PostgreSQL cluster could not be created, started or stopped."""

    exit_code = 5


class InputError(GapmapError):
    """An input file cannot be read as the format it claims to be (the whole file is refused)."""

    exit_code = 6
    http_status = 400
    code = "bad_input"

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        column: str | None = None,
        value: str | None = None,
        hint: str | None = None,
    ):
        where = ", ".join(
            part
            for part in (
                file,
                f"line {line}" if line is not None else None,
                f"column {column!r}" if column else None,
            )
            if part
        )
        text = f"{where}: {message}" if where else message
        if value is not None:
            text += f" (value {value!r})"
        super().__init__(text, hint)
        self.file, self.line, self.column, self.value = file, line, column, value


class NotFound(GapmapError):
    """A requested object (area, postcode, premises, run) does not exist."""

    exit_code = 7
    http_status = 404
    code = "not_found"


class BadRequest(GapmapError):
    """A request parameter is malformed or out of range."""

    exit_code = 2
    http_status = 400
    code = "bad_request"


class Unauthorized(GapmapError):
    """No valid credentials: not signed in, or a missing, wrong, revoked or disabled token."""

    exit_code = 2
    http_status = 401
    code = "unauthorized"


class Forbidden(GapmapError):
    """Signed in, but the role may not do this (a viewer asking to change or export)."""

    exit_code = 2
    http_status = 403
    code = "forbidden"


class TooManyRequests(GapmapError):
    """A rate limit was reached; ``retry_after`` says in how many seconds to try again."""

    exit_code = 2
    http_status = 429
    code = "too_many_requests"

    def __init__(self, message: str, retry_after: int, hint: str | None = None):
        super().__init__(message, hint)
        self.retry_after = retry_after
