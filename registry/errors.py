"""Typed error hierarchy of the registry.

Every leaf also subclasses the builtin that matches its meaning, so callers that only know
Python's builtins (``except LookupError``) still catch it. Messages name the problem and the fix.
"""

from __future__ import annotations


class RegistryError(Exception):
    """Base class of every error the registry raises on purpose."""


class ConfigError(RegistryError, ValueError):
    """A setting is invalid (bad URL, unusable home folder, unknown option)."""


class NotFoundError(RegistryError, LookupError):
    """A named object does not exist."""


class SpaceNotFoundError(NotFoundError):
    """No embedding space has that name."""


class SubjectNotFoundError(NotFoundError):
    """No dataset, model or prompt has that name."""


class RegistryNotInitializedError(NotFoundError):
    """The database has no schema yet (``fute init`` was never run)."""


class AlreadyExistsError(RegistryError, ValueError):
    """A unique name or fingerprint is taken."""


class InvalidVectorError(RegistryError, ValueError):
    """A vector has the wrong shape, dtype, byte length or non-finite values."""


class ImmutableError(RegistryError, PermissionError):
    """An object that is frozen once used (a probe set) was asked to change."""


class SchemaOutdatedError(RegistryError, RuntimeError):
    """The database schema is older or newer than this version of the code."""


class IndexCorruptError(RegistryError, OSError):
    """A published index file or manifest cannot be trusted."""


class LockTimeoutError(RegistryError, TimeoutError):
    """The writer lock of a space is held by another process for too long."""


class DatabaseUnavailableError(RegistryError, ConnectionError):
    """The database cannot be reached or opened."""


class InvalidDataError(RegistryError, ValueError):
    """A dataset or probe source is malformed (missing column, empty, one class, bad labels)."""


class DuplicateDataError(AlreadyExistsError):
    """The same content is already registered under another name."""


class SourceUnavailableError(RegistryError, OSError):
    """A data source cannot be read (missing file, not UTF-8, hub unreachable)."""


class DatabaseDamagedError(DatabaseUnavailableError):
    """The database file exists but is not a usable registry (truncated, overwritten, wrong schema)."""
