"""Database engine, transactions and schema migrations.

The caller frames transactions: data-access functions receive a ``Session`` and never commit.
SQLite runs in WAL mode with a busy timeout; write transactions start with ``BEGIN IMMEDIATE`` so
that two writers queue on the busy timeout instead of failing with "database is locked" when a
deferred read transaction tries to upgrade to a write.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError
from sqlalchemy.orm import Session

from registry.errors import (
    ConfigError,
    DatabaseDamagedError,
    DatabaseUnavailableError,
    RegistryNotInitializedError,
    SchemaOutdatedError,
)
from registry.settings import Settings

if TYPE_CHECKING:
    from alembic.config import Config

# The newest migration revision (migrations/versions): check_schema compares against it on every
# open without loading Alembic. Bump it with each new migration; a test compares it with Alembic's head.
SCHEMA_HEAD = "0006"
VERSION_TABLE = "alembic_version"


def _sqlite_pragmas(engine: Engine, busy_timeout_s: float) -> None:
    """Install the SQLite connection setup: WAL, busy timeout, foreign keys, explicit BEGIN."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control away from pysqlite so that we can emit BEGIN IMMEDIATE.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA foreign_keys = ON")
        # FULL: a commit survives power loss, not only a process crash (commit = durability point).
        cur.execute("PRAGMA synchronous = FULL")
        # Reads map the file instead of copying pages through the 2 MB page cache: hydrating 10
        # random hits of a 1M-row registry took 1.0-1.3 ms, mapped 0.25-0.7 ms (SQLite caps the
        # size at its compile-time maximum, 2 GiB here; pages past it are read as before).
        cur.execute("PRAGMA mmap_size = 2147418112")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get("fute_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def make_engine(settings: Settings) -> Engine:
    """Create the SQLAlchemy engine for the configured database.

    Args:
        settings: Registry settings; ``database_url`` picks SQLite or PostgreSQL.

    Returns:
        A configured engine (no connection is opened yet).

    Raises:
        ConfigError: The URL cannot be parsed or names an unsupported backend.
    """
    url_text = settings.database_url
    try:
        url = make_url(url_text)
    except ArgumentError as exc:
        raise ConfigError(
            f"cannot parse database URL {url_text!r}; use e.g. sqlite:///path/registry.db "
            "or postgresql+psycopg://user:password@host/dbname"
        ) from exc
    backend = url.get_backend_name()
    if backend == "sqlite":  # folders are made by ``prepare_sqlite_folder`` (``fute init``) only
        engine = create_engine(url, connect_args={"timeout": settings.busy_timeout_s})
        _sqlite_pragmas(engine, settings.busy_timeout_s)
        return engine
    if backend == "postgresql":
        return create_engine(url, pool_pre_ping=True)
    raise ConfigError(f"unsupported database backend {backend!r}; use sqlite:/// or postgresql+psycopg://")


def sqlite_file(settings: Settings) -> Path | None:
    """The database file of a file-based SQLite URL.

    Args:
        settings: Registry settings.

    Returns:
        The file's path, or None for PostgreSQL, an in-memory database or an unparsable URL.
    """
    try:
        url = make_url(settings.database_url)
    except ArgumentError:
        return None
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


def prepare_sqlite_folder(settings: Settings) -> None:
    """Create the SQLite file's folder when it lies inside the home; refuse to create one elsewhere.

    Args:
        settings: Registry settings.

    Raises:
        ConfigError: ``--db`` names a SQLite file in a folder outside the home that does not exist.
    """
    path = sqlite_file(settings)
    if path is None or path.parent.is_dir():
        return
    if not path.parent.resolve().is_relative_to(settings.home.resolve()):
        raise ConfigError(
            f"--db {settings.database_url}: folder {path.parent} does not exist; create it first, "
            f"or leave out --db to keep the database in the home ({settings.home})"
        )
    path.parent.mkdir(parents=True, exist_ok=True)


class Database:
    """The engine plus transaction helpers; one per process and settings object."""

    def __init__(self, settings: Settings) -> None:
        """Args:
        settings: Registry settings.
        """
        self.settings = settings
        self.engine = make_engine(settings)
        self._write_engine = self.engine.execution_options(fute_write=True)

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.url.get_backend_name()

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read session; its transaction is discarded on exit (nothing is committed).

        Raises:
            DatabaseUnavailableError: The database cannot be opened.
        """
        # Closing (not rolling back) ends the transaction without expiring loaded objects, so
        # callers may keep reading attributes of what they fetched.
        with _translate_operational(self.settings), Session(self.engine, expire_on_commit=False) as session:
            yield session

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """A plain Core connection for a few cheap reads (no ORM); its transaction is discarded.

        Raises:
            DatabaseUnavailableError: The database cannot be opened.
        """
        with _translate_operational(self.settings), self.engine.connect() as conn:
            yield conn

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A write transaction: commits on normal exit, rolls back on an exception.

        Raises:
            DatabaseUnavailableError: The database cannot be opened.
        """
        with (
            _translate_operational(self.settings),
            Session(self._write_engine, expire_on_commit=False) as session,
            session.begin(),
        ):
            yield session

    def dispose(self) -> None:
        """Close pooled connections (call before a fork, or when done)."""
        self.engine.dispose()

    def current_revision(self) -> str | None:
        """The Alembic revision stamped in the database, or None on an empty database.

        Read with one SQL statement rather than through Alembic's migration context: every command
        opens the registry, and importing Alembic's runtime would add a third of a second to each.
        """
        with _translate_operational(self.settings), self.engine.connect() as conn:
            if not inspect(conn).has_table(VERSION_TABLE):
                return None
            rows = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
        if len(rows) > 1:  # one linear history: Alembic itself would refuse several heads here
            raise DatabaseDamagedError(damaged_message(self.settings, f"{len(rows)} rows in {VERSION_TABLE}"))
        return str(rows[0]) if rows else None

    def check_schema(self) -> None:
        """Fail unless the database schema is exactly at this code's head revision.

        Raises:
            RegistryNotInitializedError: The database has no schema.
            SchemaOutdatedError: The schema is at another revision.
        """
        path = sqlite_file(self.settings)
        if path is not None and not path.exists():  # connecting would create an empty file
            raise RegistryNotInitializedError(
                f"no registry here ({path} does not exist); run `fute init` first, or check --home / --db"
            )
        current = self.current_revision()
        head = SCHEMA_HEAD
        if current is None:
            raise RegistryNotInitializedError(
                f"no registry schema in {self.engine.url.render_as_string(hide_password=True)}; "
                "run `fute init` first"
            )
        if current != head:
            raise SchemaOutdatedError(
                f"database schema is at revision {current}, this code expects {head}; run `fute db upgrade`"
            )
        self._check_tables()

    def _check_tables(self) -> None:
        """Fail when a table of the schema is missing although the revision says head (a database
        edited by hand or half restored): later reads would fail one by one, some silently.

        Raises:
            DatabaseDamagedError: Tables are missing (named).
        """
        from registry.models import Base  # models import nothing from here; deferred to stay light

        with _translate_operational(self.settings), self.engine.connect() as conn:
            present = set(inspect(conn).get_table_names())
        missing = sorted(set(Base.metadata.tables) - present)
        if missing:
            raise DatabaseDamagedError(damaged_message(self.settings, f"missing tables {', '.join(missing)}"))

    def upgrade(self) -> str:
        """Apply every pending Alembic migration.

        Returns:
            The head revision now stamped in the database.
        """
        from alembic import command  # migrations are rare: Alembic loads only for them

        cfg = alembic_config()
        with _translate_operational(self.settings), self.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
        return head_revision()


def alembic_config() -> Config:
    """Alembic configuration pointing at the packaged ``migrations`` folder."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("migrations")))
    return cfg


def head_revision() -> str:
    """The newest migration revision shipped with this code, read from the migration scripts.

    ``SCHEMA_HEAD`` states the same value without loading Alembic (a test keeps the two equal).
    """
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships revisions
        raise SchemaOutdatedError("no migration revisions are packaged; reinstall fute-registry")
    return head


# Driver messages that mean the file or schema is damaged, not that the server is unreachable:
# SQLite's for a truncated / overwritten file, and both backends' for missing tables or columns.
DAMAGED = (
    "file is not a database",
    "database disk image is malformed",
    "no such table",
    "no such column",
    "UndefinedTable",  # PostgreSQL: relation "x" does not exist
    "UndefinedColumn",
)


@contextmanager
def _translate_operational(settings: Settings) -> Iterator[None]:
    """Turn driver-level connection failures and a damaged database into a RegistryError with a fix."""
    try:
        yield
    except (DBAPIError, sqlite3.DatabaseError) as exc:
        orig = getattr(exc, "orig", None) or exc
        text = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
        if any(mark in f"{type(orig).__name__}: {text}" for mark in DAMAGED):
            raise DatabaseDamagedError(damaged_message(settings, text)) from exc
        if isinstance(exc, OperationalError) and (
            "unable to open database file" in text or "connection" in text.lower()
        ):
            raise DatabaseUnavailableError(
                f"cannot open the database ({text}); check --db / FUTE_DB_URL "
                f"or --home / FUTE_HOME (now {settings.home})"
            ) from exc
        raise


def damaged_message(settings: Settings, problem: str) -> str:
    """One line: what is wrong, where, and what to do about it."""
    where = make_url(settings.database_url).render_as_string(hide_password=True)
    return (
        f"the registry database is damaged ({problem}) at {where}; restore it from a `fute export` "
        "copy (`fute --home NEW init && fute --home NEW import DIR`), or run `fute maintain rebuild` "
        "if only the indexes are damaged"
    )
