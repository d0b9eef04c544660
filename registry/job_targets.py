"""What the job floor reads about spaces and subjects: typed records, one session per call.

The rule that decides whether an embedding entry has work to do (``ingest.jobs.skip_reason``)
reads ``embed_target``; re-embedding and ``embed --all`` list their subjects here; the Ray
probe pre-fill reads and fills the black-box output cache here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from sqlalchemy import select

from registry.filters import SearchFilter, matching_subjects
from registry.models import Embedding, EmbeddingSpace, ModelEntry, Prompt, Subject
from registry.spaces import get_space
from registry.subjects import cache_output, cached_outputs

if TYPE_CHECKING:
    from registry.api import Registry


@dataclass(frozen=True)
class SpaceRecord:
    """The columns of a space that decide what it can embed.

    Attributes:
        id: Space id.
        name: Space name.
        method: ``textemb``, ``taskemb`` or ``tupate``.
        probe_set_id: Its probe set (None: it embeds datasets only).
    """

    id: int
    name: str
    method: str
    probe_set_id: int | None

    @classmethod
    def of(cls, space: EmbeddingSpace) -> SpaceRecord:
        """The record of a space row."""
        return cls(space.id, space.name, space.method, space.probe_set_id)


@dataclass(frozen=True)
class EmbedTarget:
    """One (space, subject) pair of an embedding entry.

    Attributes:
        space: The space.
        subject_id: The subject, None when no subject has that kind and name.
        embedded: The space already holds a vector of the subject.
    """

    space: SpaceRecord
    subject_id: int | None
    embedded: bool


def space_record(reg: Registry, name: str) -> SpaceRecord:
    """The space with that name.

    Raises:
        SpaceNotFoundError: Unknown name (the message lists the known spaces).
    """
    with reg.db.read() as session:
        return SpaceRecord.of(get_space(session, name))


def embed_target(reg: Registry, space: str, kind: str, name: str) -> EmbedTarget:
    """The space, the subject's id and whether its vector is there already.

    Raises:
        SpaceNotFoundError: Unknown space.
    """
    with reg.db.read() as session:
        sp = SpaceRecord.of(get_space(session, space))
        subject_id = session.scalar(select(Subject.id).where(Subject.kind == kind, Subject.name == name))
        done = None
        if subject_id is not None:
            done = session.scalar(
                select(Embedding.id).where(Embedding.space_id == sp.id, Embedding.subject_id == subject_id)
            )
    return EmbedTarget(sp, subject_id, done is not None)


def subjects_in_space(reg: Registry, space_id: int) -> list[tuple[str, str]]:
    """``(kind, name)`` of every subject with a vector in the space, oldest subject first."""
    with reg.db.read() as session:
        rows = session.execute(
            select(Subject.kind, Subject.name)
            .join(Embedding, Embedding.subject_id == Subject.id)
            .where(Embedding.space_id == space_id)
            .order_by(Subject.id)
        ).all()
    return [(str(kind), str(name)) for kind, name in rows]


def subjects_matching(reg: Registry, flt: SearchFilter) -> list[tuple[str, str]]:
    """``(kind, name)`` of every subject that passes the filter (vector or not), oldest first."""
    with reg.db.read() as session:
        return matching_subjects(session, flt)


def probe_set_ids(reg: Registry, spaces: Sequence[str]) -> list[int]:
    """The probe sets of the named spaces that probe black boxes (not TextEmb), sorted."""
    with reg.db.read() as session:
        rows = session.scalars(select(EmbeddingSpace).where(EmbeddingSpace.name.in_(spaces)))
        return sorted(
            {int(sp.probe_set_id) for sp in rows if sp.probe_set_id is not None and sp.method != "textemb"}
        )


def subject_ids(reg: Registry, subjects: Iterable[tuple[str, str]]) -> list[int]:
    """Ids of the ``(kind, name)`` subjects that exist, in the given order."""
    with reg.db.read() as session:
        ids = [
            session.scalar(select(Subject.id).where(Subject.kind == kind, Subject.name == name))
            for kind, name in subjects
        ]
    return [int(i) for i in ids if i is not None]


def blackbox_rows(reg: Registry, subject_id: int) -> tuple[Subject, ModelEntry | None]:
    """A model or prompt row and, for a prompt, its LLM's row (detached; column reads only).

    Raises:
        NoResultFound: No subject with that id.
    """
    with reg.db.read() as session:
        subject = session.get_one(Subject, subject_id)
        llm = session.get(ModelEntry, subject.llm_id) if isinstance(subject, Prompt) else None
    return subject, llm


def cached_positions(reg: Registry, blackbox_id: int, probe_set_id: int) -> set[int]:
    """Positions of the probe texts whose output of this black box is cached."""
    with reg.db.read() as session:
        return set(cached_outputs(session, blackbox_id, probe_set_id))


def cache_outputs(
    reg: Registry, blackbox_id: int, outputs: Iterable[tuple[int, npt.NDArray[np.float32]]]
) -> None:
    """Store (or replace) a black box's outputs on probe texts, ``(probe_text_id, output)``, in one
    transaction."""
    with reg.db.transaction() as session:
        for text_id, row in outputs:
            cache_output(session, blackbox_id, text_id, np.asarray(row, dtype=np.float32))
