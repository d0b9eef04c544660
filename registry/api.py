"""The registry facade: SQL catalogue + one FAISS index per space behind a few verbs.

Write path of ``put_embeddings`` (see docs/ARCHITECTURE.md): validate vectors outside any
transaction → take the space's writer lock → bring the index current with SQL → one transaction
stores rows and bumps the generation (commit = durability point) → update the in-memory index →
publish the snapshot (index file, then manifest).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import select

from registry import embeddings as emb
from registry.db import Database, prepare_sqlite_folder
from registry.errors import InvalidVectorError, SubjectNotFoundError
from registry.filter_search import FilterCache
from registry.filters import SearchFilter
from registry.models import Embedding, EmbeddingSpace, Subject
from registry.search import Searcher
from registry.settings import Settings
from registry.space_index import Hook, SpaceIndexes
from registry.spaces import SpaceConfig, create_space, get_space, list_spaces
from registry.stats import stats
from registry.subjects import get_subject
from registry.transfers import TransferStore
from registry.vectors import decode, prepare
from registry.verify import VerifyReport, verify


@dataclass(frozen=True)
class Hit:
    """One search result, hydrated from SQL."""

    embedding_id: int
    subject_id: int
    name: str
    kind: str
    score: float
    provenance: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EmbeddingItem:
    """A vector to store for one subject."""

    subject_id: int
    vector: npt.ArrayLike
    provenance: dict[str, Any] = field(default_factory=dict)


class Registry:
    """Catalogue and vector store of one registry home (or database URL)."""

    def __init__(self, settings: Settings, hook: Hook | None = None) -> None:
        """Args:
        settings: Registry settings (built at the entry point).
        hook: Optional crash-injection callback, called with the name of each write step.
        """
        self.settings = settings
        self.db = Database(settings)
        self.hook = hook
        self.indexes = SpaceIndexes(settings.index_dir, settings.lock_timeout_s, hook, settings.index_mmap)
        self.filters = FilterCache(folder=self.indexes.folder)
        self.searcher = Searcher(self.db, self.indexes, self.filters)
        self.transfers = TransferStore(self.db)

    @classmethod
    def open(cls, settings: Settings, hook: Hook | None = None) -> Registry:
        """Open an initialised registry.

        Raises:
            RegistryNotInitializedError: ``fute init`` was never run on this database.
            SchemaOutdatedError: Run ``fute db upgrade``.
        """
        reg = cls(settings, hook)
        reg.db.check_schema()
        return reg

    def init(self) -> str:
        """Create the home folder and bring the schema to head; returns the revision.

        Raises:
            ConfigError: ``--db`` names a SQLite file in a missing folder outside the home.
        """
        prepare_sqlite_folder(self.settings)
        self.settings.home.mkdir(parents=True, exist_ok=True)
        self.settings.index_dir.mkdir(parents=True, exist_ok=True)
        return self.db.upgrade()

    def close(self) -> None:
        """Release database connections."""
        self.db.dispose()

    def create_space(self, cfg: SpaceConfig) -> EmbeddingSpace:
        """Register a space and publish its empty index.

        Raises:
            AlreadyExistsError, ConfigError: See ``registry.spaces.create_space``.
        """
        with self.db.transaction() as session:
            space = create_space(session, cfg)
        with self.indexes.writer(space.id), self.db.read() as session:
            self.indexes.recover(session, get_space(session, cfg.name))
        return space

    def spaces(self) -> list[tuple[EmbeddingSpace, int]]:
        """Every space with its embedding count."""
        with self.db.read() as session:
            rows = list_spaces(session)
            session.expunge_all()
            return rows

    def put_embeddings(self, space_name: str, items: Sequence[EmbeddingItem]) -> list[int]:
        """Store (or replace) the vectors of several subjects in one space.

        Returns:
            The new embedding ids, in the order of ``items``.

        Raises:
            SpaceNotFoundError: Unknown space.
            InvalidVectorError: Wrong dimension, non-finite values, or a subject listed twice.
            SubjectNotFoundError: A subject id is not in the catalogue.
        """
        if not items:
            return []
        with self.db.read() as session:
            space = get_space(session, space_name)
        vectors = prepare(_stack(items, space.dim), space.dim, space.metric)
        subject_ids = [int(i.subject_id) for i in items]
        if len(set(subject_ids)) != len(subject_ids):
            raise InvalidVectorError("a subject appears twice in one write; send one vector per subject")
        with self.indexes.writer(space.id):
            self._recover(space_name)
            with self.db.transaction() as session:
                space = get_space(session, space_name)
                _check_subjects(session, subject_ids)
                triples = [(sid, vectors[n], dict(items[n].provenance)) for n, sid in enumerate(subject_ids)]
                result = emb.put_embeddings(session, space, triples)
                self._step("before_commit")
            self._finish_write(space, result, vectors)
        return result.added_ids

    def delete_embeddings(self, space_name: str, subject_ids: Sequence[int]) -> int:
        """Delete the vectors of some subjects from one space; returns how many were deleted."""
        with self.db.read() as session:
            space = get_space(session, space_name)
        with self.indexes.writer(space.id):
            self._recover(space_name)
            with self.db.transaction() as session:
                space = get_space(session, space_name)
                result = emb.delete_embeddings(session, space, subject_ids)
            self._finish_write(space, result, None)
        return len(result.removed_ids)

    def delete_subject(self, name: str, kind: str | None = None) -> None:
        """Delete a subject with its tags and vectors, keeping every index in step.

        Raises:
            SubjectNotFoundError: Unknown or ambiguous name.
        """
        with self.db.read() as session:
            subject = get_subject(session, name, kind)
            sid = subject.id
            space_ids = sorted({s for s, _ in emb.subject_embedding_ids(session, sid)})
        with ExitStack() as stack:
            for space_id in space_ids:  # sorted: two deleters never wait on each other in a cycle
                stack.enter_context(self.indexes.writer(space_id))
                with self.db.read() as session:  # this process may never have loaded the space
                    self.indexes.recover(session, session.get_one(EmbeddingSpace, space_id))
            results = []
            with self.db.transaction() as session:
                for space_id in space_ids:
                    space = session.get_one(EmbeddingSpace, space_id)
                    results.append((space, emb.delete_embeddings(session, space, [sid])))
                session.delete(session.get_one(Subject, sid))
            for space, result in results:
                self._finish_write(space, result, None)

    def search(
        self,
        space_name: str,
        queries: npt.ArrayLike,
        k: int = 10,
        flt: SearchFilter | None = None,
        nprobe: int | None = None,
        provenance: bool = True,
    ) -> list[list[Hit]]:
        """Nearest subjects of each query vector, filtered before (not after) the vector search.

        Args:
            space_name: Space to search.
            queries: float32 array of shape (dim,) or (nq, dim).
            k: Results per query; fewer only when fewer entries pass the filter.
            flt: Optional filter (kinds, tags, subject ids to include / exclude).
            nprobe: IVF lists an unfiltered search of an ``ivf`` space visits (None: the space's
                ``ivf_nprobe``); filtered searches stay exact over the allowed subset.
            provenance: Fill each hit's provenance (False: leave it empty and never read it).

        Returns:
            One list of hits per query, best first; hits SQL does not know are dropped.

        Raises:
            SpaceNotFoundError: Unknown space.
            InvalidVectorError: Queries of the wrong dimension or with non-finite values.
        """
        found = self.searcher.hits(space_name, queries, k, flt, nprobe, provenance)
        return [[_hit(i, row, score) for i, score, row in one] for one in found]

    def search_plan(
        self, space_name: str, flt: SearchFilter | None = None, nprobe: int | None = None
    ) -> dict[str, Any]:
        """How ``search`` runs for this space and filter (index, size, filtered path, calibrated
        nprobe); what ``--explain`` reports."""
        return self.searcher.describe(space_name, flt, nprobe)

    def search_ids(
        self,
        space_name: str,
        queries: npt.ArrayLike,
        k: int = 10,
        flt: SearchFilter | None = None,
        nprobe: int | None = None,
    ) -> list[tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]]:
        """Like ``search`` without hydrating hits from SQL: (scores, embedding ids) per query.

        For callers that only need ids (batch jobs, benchmarks of the vector path). An id may
        belong to a vector deleted by a concurrent writer; ``search`` drops those.

        Returns:
            One pair of arrays of shape (k,) per query; missing slots have id -1.
        """
        return self.searcher.ids(space_name, queries, k, flt, nprobe)

    def vector_of(self, space_name: str, subject_id: int) -> npt.NDArray[np.float32]:
        """The stored (normalised) vector of a subject in a space.

        Raises:
            SubjectNotFoundError: The subject has no vector in that space.
        """
        with self.db.read() as session:
            space = get_space(session, space_name)
            blob = session.scalar(
                select(Embedding.vector).where(
                    Embedding.space_id == space.id, Embedding.subject_id == subject_id
                )
            )
            if blob is None:
                raise SubjectNotFoundError(
                    f"subject {subject_id} has no vector in space {space_name!r}; embed it"
                )
            return decode(blob, space.dim)

    def rebuild(self, space_name: str | None = None) -> list[str]:
        """Rebuild indexes from SQL into a new generation; returns the rebuilt space names."""
        names = [space_name] if space_name else [s.name for s, _ in self.spaces()]
        for name in names:
            with self.db.read() as session:
                space_id = get_space(session, name).id
            with self.indexes.writer(space_id), self.db.transaction() as session:
                space = get_space(session, name)
                emb.bump_generation(session, space)
                self.indexes.rebuild(session, space)
            with self.db.read() as session:  # after the commit: never persist an uncommitted generation
                space = get_space(session, name)
                self.filters.forget(space.id)
                self.filters.get(session, space, self.indexes.load(session, space))  # persists them
        return names

    def verify(self) -> VerifyReport:
        """Read-only consistency report of SQL against the published indexes."""
        with self.db.read() as session:
            return verify(session, self.settings.index_dir)

    def stats(self) -> dict[str, Any]:
        """Counts per kind and space, sizes on disk, last job (see ``registry.stats``)."""
        url = self.db.engine.url
        sqlite_file = Path(url.database) if self.db.backend == "sqlite" and url.database else None
        with self.db.read() as session:
            return stats(session, self.settings.index_dir, sqlite_file)

    def recover(self) -> None:
        """Bring every space's published snapshot current with SQL (run after a crash)."""
        for space, _ in self.spaces():
            with self.indexes.writer(space.id):
                self._recover(space.name)

    def _recover(self, space_name: str) -> None:
        with self.db.read() as session:
            self.indexes.recover(session, get_space(session, space_name))

    def _finish_write(
        self, space: EmbeddingSpace, result: emb.WriteResult, vectors: npt.NDArray[np.float32] | None
    ) -> None:
        """After commit: update the in-memory index and publish it (caller holds the lock)."""
        self._step("after_commit")
        loaded = self.indexes.apply(space, result, vectors)
        self._step("after_index_update")
        if self.indexes.needs_training(space):
            with self.db.read() as session:
                loaded = self.indexes.rebuild(session, get_space(session, space.name))
            return
        self.indexes.publish(space, loaded)

    def _step(self, name: str) -> None:
        if self.hook is not None:
            self.hook(name)


def _stack(items: Sequence[EmbeddingItem], dim: int) -> npt.NDArray[np.float32]:
    """Stack item vectors into (n, dim), naming the first malformed item."""
    rows = []
    for n, item in enumerate(items):
        try:
            row = np.asarray(item.vector, dtype=np.float32)
        except (TypeError, ValueError) as exc:
            raise InvalidVectorError(f"item {n}: vector is not numeric ({exc}); pass {dim} floats") from exc
        if row.shape != (dim,):
            raise InvalidVectorError(
                f"item {n}: vector shape {row.shape} does not match the space's dimension; pass shape ({dim},)"
            )
        rows.append(row)
    return np.stack(rows)


def _check_subjects(session: Any, subject_ids: Sequence[int]) -> None:
    known = set(session.scalars(select(Subject.id).where(Subject.id.in_(list(subject_ids)))).all())
    unknown = [sid for sid in subject_ids if sid not in known]
    if unknown:
        raise SubjectNotFoundError(f"subject ids {unknown[:5]} are not in the catalogue; register them first")


def _hit(embedding_id: int, row: tuple[int, str, str, Any], score: float) -> Hit:
    subject_id, name, kind, provenance = row
    return Hit(embedding_id, subject_id, name, kind, score, dict(provenance or {}))
