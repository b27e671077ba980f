"""The database: connections, the project-local cluster, migrations and the SQL the domain uses."""

from .connection import SCHEMA, connect, server_info
from .migrate import current_version, migrate, pending_migrations, reset

__all__ = [
    "SCHEMA",
    "connect",
    "current_version",
    "migrate",
    "pending_migrations",
    "reset",
    "server_info",
]
