"""Catalogue edits of ``fute tag``, ``fute tag --remove`` and ``fute rename`` (and the look-up
``fute delete`` confirms with), shared with HTTP (``PATCH /subjects/{kind}/{name}``). Facade
functions: each frames its own transaction, so an interrupted edit is all or nothing and re-running
it is safe. Deleting a subject is ``Registry.delete_subject`` (also behind ``DELETE /subjects/...``).

The search filter cache is stamped with ``max(tags.id)`` and the ``tag_removals`` counter (see
``registry.filter_index``): new tags raise the first; ``remove_tags`` bumps the second in the same
transaction as the deletion, so the next ``--where`` no longer matches a removed tag.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from registry.db import Database
from registry.errors import AlreadyExistsError
from registry.filter_index import TAG_REMOVALS
from registry.models import Embedding, RegistryCounter, Subject, Tag
from registry.subjects import get_subject, set_tags, tags_of
from registry.validate import check_name, check_tag

TagRemoval = tuple[str, str | None]  # (key, value); value None removes every value of the key


def add_tags(db: Database, kind: str, name: str, tags: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
    """Add ``(key, value)`` tags to a subject (present ones are kept; re-running is a no-op).

    Raises:
        SubjectNotFoundError: No such subject.
    """
    return edit_tags(db, kind, name, add=tags)


def edit_tags(
    db: Database,
    kind: str,
    name: str,
    add: Sequence[tuple[str, str]] = (),
    remove: Sequence[TagRemoval] = (),
) -> dict[str, list[str]]:
    """Remove, then add, tags of a subject in one transaction (``fute tag``, ``PATCH /subjects``).

    Removing ``(key, None)`` drops every value of the key, ``(key, value)`` one value; absent tags
    are ignored and present ones kept once, so re-running is a no-op. When a row goes, the
    ``tag_removals`` counter is bumped in the same transaction (cached search filters rebuild).

    Args:
        db: The registry's database.
        kind: ``dataset``, ``model`` or ``prompt``.
        name: The subject's name.
        add: Pairs to add.
        remove: What to remove.

    Returns:
        The subject's tags afterwards.

    Raises:
        SubjectNotFoundError: No such subject.
        InvalidDataError: A malformed key or value.
    """
    add = [check_tag(k, v) for k, v in add]
    for key, value in remove:
        check_tag(key, "x" if value is None else value)
    with db.transaction() as session:
        subject = get_subject(session, name, kind)
        match = [Tag.key == k if v is None else (Tag.key == k) & (Tag.value == v) for k, v in remove]
        if match:
            gone = session.execute(delete(Tag).where(Tag.subject_id == subject.id, or_(*match)))
            if getattr(gone, "rowcount", 0):
                bump_tag_removals(session)
            session.expire(subject, ["tags"])
        set_tags(session, subject, add)
        session.flush()
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


def bump_tag_removals(session: Session) -> None:
    """Add one to the ``tag_removals`` counter (created at 1 on the first removal)."""
    stmt = update(RegistryCounter).where(RegistryCounter.key == TAG_REMOVALS)
    bumped = session.execute(stmt.values(value=RegistryCounter.value + 1))
    if not getattr(bumped, "rowcount", 0):
        session.add(RegistryCounter(key=TAG_REMOVALS, value=1))


def rename_subject(db: Database, kind: str, old: str, new: str) -> None:
    """Rename a dataset, model or prompt; its id, tags, vectors and transfer results stay.

    Indexes and search filters hold ids, not names, so nothing else changes.

    Args:
        db: The registry's database.
        kind: ``dataset``, ``model`` or ``prompt``.
        old: The current name.
        new: The new name (the subject-name rule of ``registry.validate.check_name``).

    Raises:
        SubjectNotFoundError: No subject ``old`` of that kind.
        AlreadyExistsError: A subject of that kind is already called ``new``.
        InvalidDataError: ``new`` is not a valid name.
    """
    check_name(new)
    with db.transaction() as session:
        subject = get_subject(session, old, kind)
        if new == old:
            return
        taken = session.scalar(select(Subject.id).where(Subject.kind == subject.kind, Subject.name == new))
        if taken is not None:
            raise AlreadyExistsError(f"a {subject.kind} named {new!r} already exists; choose another name")
        subject.name = new


def get_tags(db: Database, kind: str, name: str) -> dict[str, list[str]]:
    """A subject's tags (what ``fute tag --remove`` shows before asking).

    Raises:
        SubjectNotFoundError: No such subject.
    """
    with db.read() as session:
        subject = get_subject(session, name, kind)
        return tags_of(session, [subject.id])[subject.id]
