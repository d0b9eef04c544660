"""The stored provenance of one vector (``--explain``), read in its own session."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from registry.api import Registry
from registry.models import Embedding, EmbeddingSpace


@dataclass(frozen=True)
class StoredProvenance:
    """How a vector was made, as its row records it.

    Attributes:
        provenance: Method, surrogate, space fingerprint, content hash, seconds, ... (as stored).
        created_at: When the vector was stored.
    """

    provenance: dict[str, Any]
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        """The provenance with ``created_at`` as an ISO time (the ``--explain`` shape)."""
        return {**self.provenance, "created_at": self.created_at.isoformat()}


def vector_provenance(reg: Registry, space: str, subject_id: int) -> StoredProvenance | None:
    """The provenance of a subject's vector in a space.

    Args:
        reg: The registry.
        space: Space name.
        subject_id: The subject.

    Returns:
        The provenance, or ``None`` when the subject has no vector there (or the space is unknown).
    """
    with reg.db.read() as session:
        row = session.execute(
            select(Embedding.provenance, Embedding.created_at)
            .join(EmbeddingSpace, EmbeddingSpace.id == Embedding.space_id)
            .where(EmbeddingSpace.name == space, Embedding.subject_id == subject_id)
        ).first()
    return None if row is None else StoredProvenance(dict(row[0] or {}), row[1])
