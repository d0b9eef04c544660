"""Typed reads of catalogue subjects for the query floor, each in its own read session.

A query names a subject, ranks hits, then shows each hit with its tags, task format and the
method of its space; the task map draws every vector of a space with the same details. These
functions are those reads: they return plain values (no ORM objects outlive their session).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.api import Registry
from registry.embeddings import iter_vectors
from registry.filters import SearchFilter, allowed_embedding_ids
from registry.models import Dataset, Embedding, ModelEntry, Prompt, Subject
from registry.spaces import get_space
from registry.subjects import get_subject, tags_of

Tags = dict[str, list[str]]


@dataclass(frozen=True)
class SubjectRef:
    """A subject's identity.

    Attributes:
        id: Subject id.
        name: Its name.
        kind: ``dataset``, ``model`` or ``prompt``.
    """

    id: int
    name: str
    kind: str


def find_subject(reg: Registry, name: str, kind: str | None = None) -> SubjectRef:
    """The subject of that name (and kind, when names collide across kinds).

    Args:
        reg: The registry.
        name: Subject name.
        kind: ``dataset``, ``model``, ``prompt``, or ``None`` for any.

    Returns:
        Its id, name and kind.

    Raises:
        SubjectNotFoundError: No such subject, or the name is ambiguous without a kind.
    """
    with reg.db.read() as session:
        subject = get_subject(session, name, kind)
        return SubjectRef(int(subject.id), str(subject.name), str(subject.kind))


@dataclass(frozen=True)
class HitDetails:
    """What a result list shows beside each hit.

    Attributes:
        methods: Space name -> its method.
        tags: Subject id -> its tags (key -> values); every asked id is present.
        formats: Subject id -> task format, for the asked ids that are datasets.
    """

    methods: dict[str, str]
    tags: dict[int, Tags]
    formats: dict[int, str]


def hit_details(reg: Registry, spaces: Sequence[str], subject_ids: Sequence[int]) -> HitDetails:
    """Methods of the spaces, tags and formats of the hits: only the rows the hits need.

    Args:
        reg: The registry.
        spaces: Spaces the ranking came from.
        subject_ids: The hits' subject ids.

    Returns:
        The details.

    Raises:
        SpaceNotFoundError: A space does not exist.
    """
    ids = list(subject_ids)
    with reg.db.read() as session:
        methods = {s: str(get_space(session, s).method) for s in spaces}
        tags = tags_of(session, ids)
        formats = _formats(session, ids)
    return HitDetails(methods, tags, formats)


def space_methods(reg: Registry, spaces: Sequence[str]) -> dict[str, str]:
    """The method of each space.

    Args:
        reg: The registry.
        spaces: Space names.

    Returns:
        Space name -> method, in the order given.

    Raises:
        SpaceNotFoundError: A space does not exist.
    """
    with reg.db.read() as session:
        return {s: str(get_space(session, s).method) for s in spaces}


def prompt_ids_on_llm(reg: Registry, llm: str) -> tuple[int, ...]:
    """Ids of the prompts that run on the LLM (a registered model) of that name.

    Args:
        reg: The registry.
        llm: The model's name.

    Returns:
        Prompt ids; empty when no model has that name or none of its prompts exists.
    """
    with reg.db.read() as session:
        # a subquery, not a join: Prompt and ModelEntry share the subjects table, and a join
        # makes SQLAlchemy alias one implicitly (an SAWarning on the user's terminal)
        llm_ids = select(ModelEntry.id).where(ModelEntry.name == llm)
        return tuple(int(i) for i in session.scalars(select(Prompt.id).where(Prompt.llm_id.in_(llm_ids))))


def llms_with_prompts(reg: Registry) -> list[str]:
    """Names of the models that at least one prompt runs on.

    Args:
        reg: The registry.

    Returns:
        Model names, in the database's order.
    """
    with reg.db.read() as session:
        # a subquery for the same reason as in ``prompt_ids_on_llm``
        llm_ids = select(Prompt.llm_id).distinct().scalar_subquery()
        return [str(n) for n in session.scalars(select(ModelEntry.name).where(ModelEntry.id.in_(llm_ids)))]


@dataclass(frozen=True)
class SpacePoint:
    """One embedded subject of a space, as the task map draws it.

    Attributes:
        name: Subject name.
        kind: Subject kind.
        tags: Its tags.
        format: Task format (datasets only).
    """

    name: str
    kind: str
    tags: Tags
    format: str | None


@dataclass(frozen=True)
class SpacePoints:
    """The subjects of a space that pass a filter, with their vectors.

    Attributes:
        points: One per vector, in embedding id order.
        vectors: Stored vectors, one row per point; shape (0, 0) when there is none.
        metric: The space's metric.
    """

    points: list[SpacePoint]
    vectors: npt.NDArray[np.float32]
    metric: str


def space_points(reg: Registry, space_name: str, flt: SearchFilter) -> SpacePoints:
    """Every embedding of a space whose subject passes the filter, with the subject's details.

    Args:
        reg: The registry.
        space_name: The space.
        flt: The filter (``query.options.parse_where``).

    Returns:
        Points and their vectors, in embedding id order.

    Raises:
        SpaceNotFoundError: Unknown space.
        InvalidVectorError: A stored vector has the wrong length.
    """
    with reg.db.read() as session:
        space = get_space(session, space_name)
        ids = allowed_embedding_ids(session, space.id, flt)
        rows = session.execute(
            select(Embedding.id, Subject.id, Subject.name, Subject.kind)
            .join(Subject, Subject.id == Embedding.subject_id)
            .where(Embedding.space_id == space.id, Embedding.id.in_(ids.tolist()))
            .order_by(Embedding.id)
        ).all()
        parts = [v for _, v in iter_vectors(session, space, [r[0] for r in rows])] if rows else []
        subject_ids = [int(r[1]) for r in rows]
        tags = tags_of(session, subject_ids)
        formats = _formats(session, subject_ids)  # the drawn subjects' only, not every dataset's
        metric = str(space.metric)
    points = [SpacePoint(str(r[2]), str(r[3]), tags.get(r[1], {}), formats.get(r[1])) for r in rows]
    vectors = np.concatenate(parts) if parts else np.zeros((0, 0), dtype=np.float32)
    return SpacePoints(points, vectors, metric)


def _formats(session: Session, subject_ids: list[int]) -> dict[int, str]:
    """Task format of the given subjects that are datasets (in the caller's session)."""
    rows = session.execute(select(Dataset.id, Dataset.task_format).where(Dataset.id.in_(subject_ids))).all()
    return {int(i): str(f) for i, f in rows}
