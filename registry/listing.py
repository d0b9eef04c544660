"""Read-only listings of the catalogue for the CLI and the HTTP layer (JSON-ready dicts)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry.catalog import tags_of
from registry.errors import NotFoundError
from registry.models import Dataset, Embedding, EmbeddingSpace, Example, ProbeSet


def dataset_dict(ds: Dataset, tags: dict[str, list[str]]) -> dict[str, Any]:
    """Public fields of one dataset."""
    return {
        "name": ds.name,
        "format": ds.task_format,
        "n_examples": ds.n_examples,
        "n_source": (ds.sampling or {}).get("n_source", ds.n_examples),
        "content_hash": ds.content_hash,
        "tags": tags,
        "source": ds.source,
        "label_set": ds.label_set,
        "sampling": ds.sampling,
        "created_at": ds.created_at.isoformat(),
    }


def list_datasets(session: Session) -> list[dict[str, Any]]:
    """Every dataset, by name."""
    rows = session.scalars(select(Dataset).order_by(Dataset.name)).all()
    tags = tags_of(session, [d.id for d in rows])
    return [dataset_dict(d, tags[d.id]) for d in rows]


def show_dataset(session: Session, name: str, n_preview: int = 3) -> dict[str, Any]:
    """One dataset with a preview of its examples and its embeddings per space.

    Raises:
        NotFoundError: Unknown name.
    """
    ds = session.scalar(select(Dataset).where(Dataset.name == name))
    if ds is None:
        raise NotFoundError(f"no dataset named {name!r}; see `fute datasets list`")
    out = dataset_dict(ds, tags_of(session, [ds.id])[ds.id])
    out["examples_preview"] = list(
        session.scalars(
            select(Example.data)
            .where(Example.dataset_id == ds.id)
            .order_by(Example.position)
            .limit(n_preview)
        )
    )
    spaces = session.execute(
        select(EmbeddingSpace.name, Embedding.provenance, Embedding.created_at)
        .join(Embedding, Embedding.space_id == EmbeddingSpace.id)
        .where(Embedding.subject_id == ds.id)
    ).all()
    out["embeddings"] = [{"space": s, "provenance": p, "created_at": c.isoformat()} for s, p, c in spaces]
    return out


def list_probe_sets(session: Session) -> list[dict[str, Any]]:
    """Every probe set with the spaces that use it."""
    users = session.execute(
        select(EmbeddingSpace.probe_set_id, func.count()).group_by(EmbeddingSpace.probe_set_id)
    ).all()
    used = {pid: n for pid, n in users if pid is not None}
    return [
        {
            "name": p.name,
            "n_texts": p.n_texts,
            "content_hash": p.content_hash,
            "seed": p.seed,
            "sources": p.sources,
            "n_spaces": used.get(p.id, 0),
            "immutable": used.get(p.id, 0) > 0,
            "created_at": p.created_at.isoformat(),
        }
        for p in session.scalars(select(ProbeSet).order_by(ProbeSet.name))
    ]
