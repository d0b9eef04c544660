"""Shared fixtures: every test gets its own registry home and its own database.

``db_url`` runs a test on SQLite and, when ``FUTE_TEST_PG_URL`` points at a PostgreSQL server
(``.ci/run`` starts one), on PostgreSQL too, each time in a freshly created database.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.shared_data import MARKER, REQUIRE_ENV, missing_shared, shared_required

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

PG_URL = os.environ.get("FUTE_TEST_PG_URL")
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def _pg_admin(sql: str) -> None:
    import psycopg

    url = make_url(PG_URL or "")
    with psycopg.connect(
        host=url.host,
        port=url.port,
        user=url.username,
        password=url.password,
        dbname=url.database,
        autocommit=True,
    ) as conn:
        conn.execute(sql)


def fresh_database(backend: str, folder: Path) -> tuple[str, Callable[[], None]]:
    """Create an empty database on ``backend``; returns its URL and a function that drops it."""
    if backend == "sqlite":
        folder.mkdir(parents=True, exist_ok=True)  # --db outside the home must name an existing folder
        return f"sqlite:///{folder / 'registry.db'}", lambda: None
    if not PG_URL:
        pytest.skip('FUTE_TEST_PG_URL is not set (run `eval "$(.ci/pg-start)"` to start PostgreSQL)')
    name = f"fute_t_{uuid.uuid4().hex[:12]}"
    _pg_admin(f'CREATE DATABASE "{name}"')
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    return url, lambda: _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database URL on each backend."""
    url, drop = fresh_database(request.param, tmp_path)
    yield url
    drop()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The backend name, for tests that create several databases themselves."""
    if request.param == "postgresql" and not PG_URL:
        pytest.skip("FUTE_TEST_PG_URL is not set")
    return str(request.param)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip (or, with ``FUTE_REQUIRE_SHARED=1``, fail) a ``shared_data`` test whose data is absent.

    Runs before fixtures, so a module fixture that reads ``../shared`` never starts on a fresh clone.
    """
    for mark in item.iter_markers(MARKER):
        missing = missing_shared(tuple(mark.args))
        if not missing:
            continue
        reason = f"research data not found: {missing[0]} (set FUTE_SHARED to the shared folder)"
        if shared_required():
            pytest.fail(f"{reason}; {REQUIRE_ENV}=1 makes this a failure", pytrace=False)
        pytest.skip(reason)
