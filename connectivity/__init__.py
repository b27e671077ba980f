"""Broadband gap map for Wales: the domain and the database (never imports Flask).

Public API: settings, errors, area queries and postcode normalisation.
"""

__version__ = "0.1.0"

from .errors import (  # noqa: E402
    BadRequest,
    ConfigError,
    DatabaseUnavailable,
    GapmapError,
    InputError,
    NotFound,
    SchemaError,
)
from .postcodes import normalise_postcode  # noqa: E402
from .settings import Settings, load_settings  # noqa: E402

__all__ = [
    "BadRequest",
    "ConfigError",
    "DatabaseUnavailable",
    "GapmapError",
    "InputError",
    "NotFound",
    "SchemaError",
    "Settings",
    "__version__",
    "load_settings",
    "normalise_postcode",
]
