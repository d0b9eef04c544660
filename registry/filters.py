"""SQL-side candidate selection for filtered vector search.

Filters are resolved to a set of embedding ids in SQL first and handed to FAISS as an id
selector: post-filtering a global top-k would under-return whenever the filter is selective.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import numpy.typing as npt
from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from registry.models import Dataset, Embedding, Subject, Tag


@dataclass(frozen=True)
class SearchFilter:
    """Which subjects a search may return.

    Attributes:
        kinds: Allowed subject kinds (``dataset``, ``model``, ``prompt``); empty = all.
        tags_all: (key, value) pairs that must all be present.
        tags_any: (key, value) pairs of which at least one must be present; empty = no constraint.
        subject_ids: Only these subjects; None = all.
        exclude_subject_ids: Never these subjects (e.g. the query's own subject).
        formats: Dataset task formats allowed (models and prompts have none and are then excluded).
        created_after / created_before: Subject creation time bounds.
    """

    kinds: tuple[str, ...] = ()
    tags_all: tuple[tuple[str, str], ...] = ()
    tags_any: tuple[tuple[str, str], ...] = ()
    subject_ids: tuple[int, ...] | None = None
    exclude_subject_ids: tuple[int, ...] = field(default_factory=tuple)
    formats: tuple[str, ...] = ()
    created_after: datetime | None = None
    created_before: datetime | None = None


def _with_tag(stmt: Select[int], pairs: tuple[tuple[str, str], ...], require_all: bool) -> Select[int]:
    """Restrict the statement to subjects carrying all (or any) of the tag pairs."""
    if require_all:
        for key, value in pairs:
            stmt = stmt.where(
                Embedding.subject_id.in_(select(Tag.subject_id).where(Tag.key == key, Tag.value == value))
            )
        return stmt
    if not pairs:
        return stmt
    clauses = [(Tag.key == key) & (Tag.value == value) for key, value in pairs]
    any_clause = clauses[0]
    for clause in clauses[1:]:
        any_clause = any_clause | clause
    return stmt.where(Embedding.subject_id.in_(select(Tag.subject_id).where(any_clause)))


def allowed_embedding_ids(session: Session, space_id: int, flt: SearchFilter) -> npt.NDArray[np.int64]:
    """Ids of the embeddings in a space whose subjects pass the filter."""
    stmt: Select[int] = select(Embedding.id).where(Embedding.space_id == space_id)
    if flt.kinds:
        stmt = stmt.join(Subject, Subject.id == Embedding.subject_id).where(Subject.kind.in_(flt.kinds))
    if flt.subject_ids is not None:
        stmt = stmt.where(Embedding.subject_id.in_(flt.subject_ids))
    if flt.exclude_subject_ids:
        stmt = stmt.where(Embedding.subject_id.not_in(flt.exclude_subject_ids))
    if flt.formats:
        stmt = stmt.where(
            Embedding.subject_id.in_(select(Dataset.id).where(Dataset.task_format.in_(flt.formats)))
        )
    if flt.created_after is not None or flt.created_before is not None:
        times = select(Subject.id)
        if flt.created_after is not None:
            times = times.where(Subject.created_at >= flt.created_after)
        if flt.created_before is not None:
            times = times.where(Subject.created_at <= flt.created_before)
        stmt = stmt.where(Embedding.subject_id.in_(times))
    stmt = _with_tag(stmt, flt.tags_all, require_all=True)
    stmt = _with_tag(stmt, flt.tags_any, require_all=False)
    return np.asarray(session.scalars(stmt).all(), dtype=np.int64)


def matching_subjects(session: Session, flt: SearchFilter) -> list[tuple[str, str]]:
    """``(kind, name)`` of every subject that passes the filter, vector or not, by id (what
    ``fute embed --all --where ...`` embeds). Subject ids and exclusions apply as in a search.

    Args:
        session: Open read session.
        flt: The filter (``kinds``, ``formats``, tags, creation times, ids).

    Returns:
        The subjects, oldest first.
    """
    stmt = select(Subject.kind, Subject.name, Subject.id).order_by(Subject.id)
    if flt.kinds:
        stmt = stmt.where(Subject.kind.in_(flt.kinds))
    if flt.subject_ids is not None:
        stmt = stmt.where(Subject.id.in_(flt.subject_ids))
    if flt.exclude_subject_ids:
        stmt = stmt.where(Subject.id.not_in(flt.exclude_subject_ids))
    if flt.formats:
        stmt = stmt.where(Subject.id.in_(select(Dataset.id).where(Dataset.task_format.in_(flt.formats))))
    if flt.created_after is not None:
        stmt = stmt.where(Subject.created_at >= flt.created_after)
    if flt.created_before is not None:
        stmt = stmt.where(Subject.created_at <= flt.created_before)
    for key, value in flt.tags_all:
        stmt = stmt.where(Subject.id.in_(select(Tag.subject_id).where(Tag.key == key, Tag.value == value)))
    if flt.tags_any:
        any_tag = or_(*[(Tag.key == k) & (Tag.value == v) for k, v in flt.tags_any])
        stmt = stmt.where(Subject.id.in_(select(Tag.subject_id).where(any_tag)))
    return [(str(kind), str(name)) for kind, name, _ in session.execute(stmt)]
