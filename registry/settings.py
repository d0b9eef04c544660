"""One typed settings object, built at the entry point and passed down.

Environment variables use the ``FUTE_`` prefix (``FUTE_HOME``, ``FUTE_DB_URL``); CLI flags
(``--home``, ``--db``) override them. Nothing here runs at import time.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Where the registry lives and how it talks to its storage.

    Attributes:
        home: Folder holding ``registry.db`` (SQLite default) and ``indexes/``.
        db_url: SQLAlchemy URL that overrides the SQLite default, e.g.
            ``postgresql+psycopg://user:pw@host/db``.
        busy_timeout_s: How long SQLite waits on a locked database before failing.
        lock_timeout_s: How long a writer waits for another writer of the same space.
        default_space: Space used when a command names none.
        threads: torch threads of embedding jobs (None: torch's default, one per core). Set it
            deliberately when several jobs share a machine: two jobs with 2 threads each on 2 cores
            run slower than with 1 thread each.
        api_token: Bearer token of the HTTP service's write endpoints (``FUTE_API_TOKEN``); none
            means the service is read-only.
        index_mmap: Read replica (``FUTE_INDEX_MMAP=1``): open the published index snapshots
            memory-mapped and read-only, as the single index publisher last wrote them; such a
            process cannot write.
        http_roots: Folders (``os.pathsep``-separated, ``FUTE_HTTP_ROOTS``) whose files a catalogue
            sent to ``POST /jobs`` may name; none means such a catalogue may name no file at all
            (only ``pkg:`` sources, ``dataset:`` references and endpoint URLs).
    """

    model_config = SettingsConfigDict(env_prefix="FUTE_", extra="ignore")

    home: Path = Field(default=Path(".fute"))
    db_url: str | None = None
    busy_timeout_s: float = 30.0
    lock_timeout_s: float = 120.0
    default_space: str | None = None
    threads: int | None = None
    api_token: str | None = None
    index_mmap: bool = False
    http_roots: str | None = None

    @classmethod
    def build(cls, home: str | Path | None = None, db: str | None = None) -> Settings:
        """Build settings from the environment, with explicit overrides from the CLI.

        Args:
            home: ``--home`` value; None keeps ``FUTE_HOME`` or the default.
            db: ``--db`` value; None keeps ``FUTE_DB_URL`` or the SQLite default.

        Returns:
            The settings object.
        """
        overrides: dict[str, object] = {}
        if home is not None:
            overrides["home"] = Path(home)
        if db is not None:
            overrides["db_url"] = db
        return cls(**overrides)  # type: ignore[arg-type]

    @property
    def database_url(self) -> str:
        """The SQLAlchemy URL in use: ``db_url`` or SQLite at ``home/registry.db``."""
        if self.db_url:
            return self.db_url
        return f"sqlite:///{(self.home / 'registry.db').resolve()}"

    @property
    def allowed_roots(self) -> list[Path]:
        """``http_roots`` as resolved folders (symlinks followed), in the order given."""
        parts = (self.http_roots or "").split(os.pathsep)
        return [Path(p).expanduser().resolve() for p in parts if p.strip()]

    @property
    def index_dir(self) -> Path:
        """Folder of the published FAISS snapshots, one sub-folder per space."""
        return self.home / "indexes"
