"""Read-only views of the subjects for the catalogue pages: one row per subject, one subject's
metadata with the provenance of its embeddings, and the tag keys in use.

Every function opens and closes its own read session and returns frozen records, so the web
layer renders them without touching storage.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.models import Dataset, Embedding, EmbeddingSpace, ModelEntry, Prompt, Subject
from registry.subjects import get_subject, tags_of

if TYPE_CHECKING:
    from registry.api import Registry


@dataclass(frozen=True)
class SubjectRow:
    """One subject as the catalogue list shows it.

    Attributes:
        name: Subject name.
        kind: ``dataset``, ``model`` or ``prompt``.
        format: Task format of a dataset (None for models and prompts).
        tags: Tag key -> values.
        detail: One line: examples of a dataset, kind of a model, LLM of a prompt.
        spaces: Names of the spaces holding its vector, sorted.
    """

    name: str
    kind: str
    format: str | None
    tags: dict[str, list[str]]
    detail: str
    spaces: tuple[str, ...]


@dataclass(frozen=True)
class EmbeddingInfo:
    """Where one embedding of a subject came from.

    Attributes:
        space: The space's name.
        method: The space's method.
        provenance: The stored provenance ({} when none).
        created_at: When the vector was written.
    """

    space: str
    method: str
    provenance: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class SubjectDetail:
    """One subject's metadata and the provenance of each of its embeddings.

    Attributes:
        name: Subject name.
        kind: ``dataset``, ``model`` or ``prompt``.
        created_at: When it was registered.
        fields: The fields of its kind, in display order (format, source, ... of a dataset).
        tags: Tag key -> values.
        embeddings: One per space holding its vector, by space name.
    """

    name: str
    kind: str
    created_at: datetime
    fields: dict[str, Any]
    tags: dict[str, list[str]]
    embeddings: tuple[EmbeddingInfo, ...]


def _details(session: Session) -> dict[int, tuple[str | None, str]]:
    """Per subject id: (format, one-line detail)."""
    out: dict[int, tuple[str | None, str]] = {}
    for ds in session.scalars(select(Dataset)):
        out[ds.id] = (ds.task_format, f"{ds.n_examples} examples")
    for m in session.scalars(select(ModelEntry)):
        out[m.id] = (None, f"{m.model_kind} model")
    llms = dict(session.execute(select(ModelEntry.id, ModelEntry.name)).all())
    for p in session.scalars(select(Prompt)):
        out[p.id] = (None, f"prompt on {llms.get(p.llm_id, '?')}")
    return out


def subject_rows(reg: Registry) -> list[SubjectRow]:
    """Every subject, by kind then name, with its tags, format, detail and spaces.

    Args:
        reg: The registry.

    Returns:
        One row per subject.
    """
    with reg.db.read() as session:
        stmt = select(Subject.id, Subject.name, Subject.kind).order_by(Subject.kind, Subject.name)
        subjects = session.execute(stmt).all()
        tags = tags_of(session, [s[0] for s in subjects])
        details = _details(session)
        spaces: dict[int, list[str]] = {}
        joined = select(Embedding.subject_id, EmbeddingSpace.name).join(
            EmbeddingSpace, EmbeddingSpace.id == Embedding.space_id
        )
        for sid, space in session.execute(joined):
            spaces.setdefault(sid, []).append(space)
    rows = []
    for sid, name, kind in subjects:
        fmt, detail = details.get(sid, (None, ""))
        rows.append(SubjectRow(name, kind, fmt, tags[sid], detail, tuple(sorted(spaces.get(sid, [])))))
    return rows


def tag_keys(reg: Registry) -> list[str]:
    """Every tag key some subject carries, sorted."""
    with reg.db.read() as session:
        all_tags = tags_of(session, list(session.scalars(select(Subject.id))))
    return sorted({k for t in all_tags.values() for k in t})


def _kind_fields(session: Session, subject: Subject) -> dict[str, Any]:
    """The fields of a subject's own kind, in the order the subject page shows them."""
    if isinstance(subject, Dataset):
        return {"format": subject.task_format, "source": subject.source, "n_examples": subject.n_examples,
                "label_set": subject.label_set, "content_hash": subject.content_hash, "sampling": subject.sampling}  # fmt: skip
    if isinstance(subject, ModelEntry):
        return {"model_kind": subject.model_kind, "source": subject.source, "label_set": subject.label_set}
    if isinstance(subject, Prompt):
        llm = session.get(ModelEntry, subject.llm_id)
        return {
            "llm": llm.name if llm else None,
            "template": subject.template,
            "verbalizers": subject.verbalizers,
        }
    return {}


def subject_detail(reg: Registry, kind: str, name: str) -> SubjectDetail:
    """Metadata of one subject and the provenance of each of its embeddings.

    Args:
        reg: The registry.
        kind: ``dataset``, ``model`` or ``prompt``.
        name: Subject name.

    Returns:
        The subject's detail.

    Raises:
        SubjectNotFoundError: Unknown kind or name.
    """
    with reg.db.read() as session:
        subject = get_subject(session, name, kind)
        stmt = (
            select(EmbeddingSpace.name, EmbeddingSpace.method, Embedding.provenance, Embedding.created_at)
            .join(Embedding, Embedding.space_id == EmbeddingSpace.id)
            .where(Embedding.subject_id == subject.id)
            .order_by(EmbeddingSpace.name)
        )
        embeddings = tuple(EmbeddingInfo(s, m, p or {}, c) for s, m, p, c in session.execute(stmt))
        return SubjectDetail(
            name=subject.name,
            kind=subject.kind,
            created_at=subject.created_at,
            fields=_kind_fields(session, subject),
            tags=tags_of(session, [subject.id])[subject.id],
            embeddings=embeddings,
        )
