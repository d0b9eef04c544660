"""Catalogue edits of ``fute tag`` (and the look-up ``fute delete`` confirms with). Facade functions:
each frames its own transaction. Deleting a subject is ``Registry.delete_subject`` (also behind
``DELETE /subjects/{kind}/{name}``). Tags are only ever added here: the search filter cache relies on
new tags raising ``max(tags.id)`` (see ``registry.filter_index``).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select

from registry.catalog import get_subject, set_tags, tags_of
from registry.db import Database
from registry.models import Embedding


def add_tags(db: Database, kind: str, name: str, tags: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
    """Add ``(key, value)`` tags to a subject (present ones are kept; re-running is a no-op).

    Args:
        db: The registry's database.
        kind: ``dataset``, ``model`` or ``prompt``.
        name: The subject's name.
        tags: Pairs to add.

    Returns:
        The subject's tags afterwards.

    Raises:
        SubjectNotFoundError: No such subject.
    """
    with db.transaction() as session:
        subject = get_subject(session, name, kind)
        set_tags(session, subject, tags)
        return tags_of(session, [subject.id])[subject.id]


def vector_count(db: Database, kind: str, name: str) -> int:
    """How many vectors (over all spaces) a subject has; what a deletion would remove.

    Raises:
        SubjectNotFoundError: No such subject.
    """
    with db.read() as session:
        subject = get_subject(session, name, kind)
        stmt = select(func.count(Embedding.id)).where(Embedding.subject_id == subject.id)
        return int(session.scalar(stmt) or 0)
