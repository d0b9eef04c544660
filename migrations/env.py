"""Alembic environment for the registry schema.

Run programmatically (``fute db upgrade`` passes a connection in ``config.attributes``) or from the
``alembic`` CLI, where the URL comes from ``FUTE_DB_URL`` / ``FUTE_HOME`` through Settings.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from registry.db import make_engine
from registry.models import Base
from registry.settings import Settings

config = context.config
target_metadata = Base.metadata


def run_with_connection(connection: Connection) -> None:
    """Run migrations on an open connection (batch mode so SQLite can alter tables)."""
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    """Use the caller's connection when given, else open one from the settings."""
    connection = config.attributes.get("connection")
    if connection is not None:
        run_with_connection(connection)
        return
    engine = make_engine(Settings())
    with engine.begin() as conn:
        run_with_connection(conn)
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run against a database")
run_online()
