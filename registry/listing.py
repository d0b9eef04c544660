"""Read-only listings of the catalogue for the CLI and the HTTP layer (JSON-ready dicts).

The ``session`` functions serve callers inside a registry session (``registry.catalogue_reads``
wraps them for the CLI); ``page_datasets`` opens its own read session, so ``GET /datasets`` pages
and filters the catalogue without touching storage.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry.errors import NotFoundError
from registry.models import Dataset, Embedding, EmbeddingSpace, Example, ProbeSet
from registry.subjects import tags_of

if TYPE_CHECKING:
    from registry.api import Registry


@dataclass(frozen=True)
class DatasetRecord:
    """The public fields of one dataset (field order is the JSON key order).

    Attributes:
        name: Dataset name.
        format: Task format (``classification``, ...).
        n_examples: Examples stored.
        n_source: Examples in the source before sampling.
        content_hash: Hash of the stored examples.
        tags: Tag key -> values.
        source: Where it was read from.
        label_set: Its labels, when known.
        sampling: How it was sampled, when it was.
        created_at: When it was registered (ISO 8601).
    """

    name: str
    format: str
    n_examples: int
    n_source: int
    content_hash: str
    tags: dict[str, list[str]]
    source: str
    label_set: list[Any] | None
    sampling: dict[str, Any] | None
    created_at: str

    def as_dict(self) -> dict[str, Any]:
        """The dataset as ``fute datasets list --json`` and ``GET /datasets`` show it."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class DatasetFilter:
    """Which datasets a listing keeps (all optional).

    Attributes:
        fmt: Only this task format.
        tags: (key, value) pairs the dataset must all carry.
    """

    fmt: str | None = None
    tags: tuple[tuple[str, str], ...] = ()

    def keep(self, ds: DatasetRecord) -> bool:
        """Whether a dataset passes every filter."""
        fmt_ok = self.fmt is None or ds.format == self.fmt
        return fmt_ok and all(v in ds.tags.get(k, []) for k, v in self.tags)


@dataclass(frozen=True)
class DatasetPage:
    """One page of datasets, by name.

    Attributes:
        items: The datasets of the page.
        total: Datasets passing the filter, on every page.
    """

    items: tuple[DatasetRecord, ...]
    total: int


def dataset_record(ds: Dataset, tags: dict[str, list[str]]) -> DatasetRecord:
    """The public fields of one dataset row and its tags."""
    return DatasetRecord(
        name=ds.name,
        format=ds.task_format,
        n_examples=ds.n_examples,
        n_source=(ds.sampling or {}).get("n_source", ds.n_examples),
        content_hash=ds.content_hash,
        tags=tags,
        source=ds.source,
        label_set=ds.label_set,
        sampling=ds.sampling,
        created_at=ds.created_at.isoformat(),
    )


def dataset_dict(ds: Dataset, tags: dict[str, list[str]]) -> dict[str, Any]:
    """Public fields of one dataset."""
    return dataset_record(ds, tags).as_dict()


def dataset_records(session: Session) -> list[DatasetRecord]:
    """Every dataset, by name."""
    rows = session.scalars(select(Dataset).order_by(Dataset.name)).all()
    tags = tags_of(session, [d.id for d in rows])
    return [dataset_record(d, tags[d.id]) for d in rows]


def page_datasets(
    reg: Registry, limit: int, offset: int = 0, flt: DatasetFilter | None = None
) -> DatasetPage:
    """One page of the datasets that pass a filter, by name.

    Args:
        reg: The registry.
        limit: Page size.
        offset: Datasets to skip.
        flt: Keep only matching datasets (default: every dataset).

    Returns:
        The page and the number of matching datasets.
    """
    flt = flt or DatasetFilter()
    with reg.db.read() as session:
        kept = [d for d in dataset_records(session) if flt.keep(d)]
    return DatasetPage(items=tuple(kept[offset : offset + limit]), total=len(kept))


def list_datasets(session: Session) -> list[dict[str, Any]]:
    """Every dataset, by name, as JSON-ready dicts."""
    return [d.as_dict() for d in dataset_records(session)]


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
