"""Registry-wide defaults stored in SQL (``registry_defaults``): the default space of
``fute spaces default NAME``. Facade functions: each frames its own transaction.

The stored row points at the space by id with ``ON DELETE CASCADE``, so a removed space also removes
its default. Re-running ``fute spaces default NAME`` is idempotent; an interruption leaves either the
old or the new default (one transaction).
"""

from __future__ import annotations

from sqlalchemy import delete, select

from registry.db import Database
from registry.models import EmbeddingSpace, RegistryDefault
from registry.spaces import get_space

SPACE_KEY = "space"


def stored_default_space(db: Database) -> str | None:
    """The space stored with ``fute spaces default NAME``, or None when none is stored.

    Args:
        db: The registry's database.

    Returns:
        The space name, or None.
    """
    with db.read() as session:
        return session.scalar(
            select(EmbeddingSpace.name)
            .join(RegistryDefault, RegistryDefault.space_id == EmbeddingSpace.id)
            .where(RegistryDefault.key == SPACE_KEY)
        )


def set_default_space(db: Database, name: str | None) -> str | None:
    """Store (or, with None, clear) the registry's default space.

    Args:
        db: The registry's database.
        name: An existing space, or None to clear the stored default.

    Returns:
        The previously stored default, or None.

    Raises:
        SpaceNotFoundError: No space has that name (the message lists the known ones).
    """
    previous = stored_default_space(db)
    with db.transaction() as session:
        space_id = get_space(session, name).id if name is not None else None
        session.execute(delete(RegistryDefault).where(RegistryDefault.key == SPACE_KEY))
        if space_id is not None:
            session.add(RegistryDefault(key=SPACE_KEY, space_id=space_id))
    return previous


def space_names(db: Database) -> list[str]:
    """Every space name, by creation order (a cheap read: no vector counts).

    Args:
        db: The registry's database.

    Returns:
        The names.
    """
    with db.read() as session:
        return list(session.scalars(select(EmbeddingSpace.name).order_by(EmbeddingSpace.id)))
