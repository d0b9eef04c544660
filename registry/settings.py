"""One typed settings object, built at the entry point and passed down.

Environment variables use the ``FUTE_`` prefix (``FUTE_HOME``, ``FUTE_DB_URL``); CLI flags
(``--home``, ``--db``) override them. Nothing here runs at import time.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from registry.errors import ConfigError

DEVICE_CHOICES = "auto, cpu, cuda or cuda:N"
_DEVICE = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


def check_device(value: object) -> str:
    """Normalise a device setting and refuse anything else (no torch import: checked at start-up).

    Args:
        value: ``auto``, ``cpu``, ``cuda`` or ``cuda:N`` (case and surrounding spaces ignored).

    Returns:
        The value, stripped and lower-cased.

    Raises:
        ConfigError: Any other value (``gpu``, ``cuda:x``, ``mps`` ...).
    """
    text = str(value).strip().lower()
    if not _DEVICE.match(text):
        raise ConfigError(f"device {str(value)!r} is not one of {DEVICE_CHOICES} (--device or FUTE_DEVICE)")
    return text


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
        device: torch device of surrogate passes, fine-tunes and local black boxes (``FUTE_DEVICE``):
            ``auto`` (CUDA when torch sees a GPU, else the CPU), ``cpu``, ``cuda`` or ``cuda:N``. Not
            part of any space's fingerprint; resolved by ``ingest.device.resolve_device`` on the
            machine that computes (a Ray worker resolves ``auto`` on its own node).
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
    device: str = "auto"

    @field_validator("device", mode="before")
    @classmethod
    def _valid_device(cls, value: object) -> str:
        return check_device(value)

    @classmethod
    def build(
        cls, home: str | Path | None = None, db: str | None = None, device: str | None = None
    ) -> Settings:
        """Build settings from the environment, with explicit overrides from the CLI.

        Args:
            home: ``--home`` value; None keeps ``FUTE_HOME`` or the default.
            db: ``--db`` value; None keeps ``FUTE_DB_URL`` or the SQLite default.
            device: ``--device`` value; None keeps ``FUTE_DEVICE`` or ``auto``.

        Returns:
            The settings object.

        Raises:
            ConfigError: A flag or ``FUTE_*`` variable with an invalid value (one line, naming it).
        """
        overrides: dict[str, object] = {}
        if home is not None:
            overrides["home"] = Path(home)
        if db is not None:
            overrides["db_url"] = db
        if device is not None:
            overrides["device"] = device
        try:
            return cls(**overrides)  # type: ignore[arg-type]
        except ValidationError as exc:  # pydantic's report is several lines; the CLI shows one
            raise ConfigError(_first_problem(exc)) from None

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


def _first_problem(exc: ValidationError) -> str:
    """One line for the first invalid setting: our own message when a validator wrote one."""
    error = exc.errors()[0]
    cause = error.get("ctx", {}).get("error")
    if isinstance(cause, ConfigError):
        return str(cause)
    name = ".".join(str(part) for part in error["loc"])
    return f"setting {name} (FUTE_{name.upper()}): {error['msg']}"
