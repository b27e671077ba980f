"""The database: connections (with messages that say how to fix a failure), the project-local
cluster and the versioned schema migrations (``migrations/*.sql``, the one schema).

The domain's queries are not here: each lives beside what it answers, as set-based SQL over a
connection the caller passes (``connectivity.classify``, ``.lookup``, ``.areas``, ``.maptiles``,
``.features``, ``.outputs``, ...), and each loader in ``etl`` holds its own staging and publishing
statements.
"""

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
