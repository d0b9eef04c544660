"""Migrations: head creates exactly the ORM schema (what `alembic check` asserts), on both backends."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from registry.db import SCHEMA_HEAD, Database, head_revision
from registry.errors import RegistryNotInitializedError, SchemaOutdatedError
from registry.models import Base
from registry.settings import Settings


def test_upgrade_matches_models_and_is_idempotent(tmp_path: Path, db_url: str) -> None:
    db = Database(Settings.build(home=tmp_path, db=db_url))
    with pytest.raises(RegistryNotInitializedError, match="fute init"):
        db.check_schema()
    assert db.upgrade() == head_revision() == SCHEMA_HEAD  # the constant check_schema uses is Alembic's head
    assert db.upgrade() == head_revision()  # a second upgrade is a no-op
    db.check_schema()
    with db.engine.connect() as conn:  # the plain SQL read of the stamp agrees with Alembic's own
        assert db.current_revision() == MigrationContext.configure(conn).get_current_revision() == SCHEMA_HEAD
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diff == []
    db.dispose()


def test_sqlite_runs_in_wal_with_foreign_keys(tmp_path: Path) -> None:
    db = Database(Settings.build(home=tmp_path))
    db.upgrade()
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000


def test_schema_at_another_revision_is_refused(tmp_path: Path) -> None:
    db = Database(Settings.build(home=tmp_path))
    db.upgrade()
    with db.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = 'ffff'")
    with pytest.raises(SchemaOutdatedError, match="fute db upgrade"):
        db.check_schema()
