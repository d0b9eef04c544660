"""Recorded transfer results (read, and stored by ``fute transfer import``) and dataset vectors
for transfer-aware ranking.

The query layer ranks sources with the *graph* of measured transfers (``query.transfer_rank``); it
reads that graph and every dataset's vector in a space through this module, the storage door.
Both are cached per process and checked against SQL on every call with one cheap statement each:

* the graph by ``(max id of transfer_results, count and max id of subjects)``. ``record_transfer``
  replaces a row (new id) when its score changes and ids are never reused, so inserts and updates
  move the first; results are deleted only with a subject (cascade, or ``dedupe`` merging
  duplicates), which moves the others. A ``count(*)`` of 1M results would cost ~100 ms per query;
  these three are index look-ups over the (far smaller) subjects table;
* the dataset matrix by the space's ``(generation, fingerprint)``; every vector write bumps the
  generation.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from registry.db import Database
from registry.models import Dataset, Embedding, EmbeddingSpace, Subject, TransferResult
from registry.spaces import get_space
from registry.subjects import record_transfer
from registry.vectors import decode

Token = tuple[int, int, int]
ResultKey = tuple[str, str, str]  # (source, target, setting) names


class GoldRow(NamedTuple):
    """One recorded result, by names."""

    setting: str
    target: str
    source: str
    score: float


@dataclass(frozen=True)
class TransferGraph:
    """Every recorded transfer result, as parallel arrays (one entry per row).

    Attributes:
        source_ids: Subject id of each row's source.
        target_ids: Subject id of each row's target.
        scores: The recorded score.
        settings: Index into ``setting_names`` of each row's setting.
        setting_names: The settings recorded, sorted.
        token: The SQL state this graph reflects.
    """

    source_ids: npt.NDArray[np.int64]
    target_ids: npt.NDArray[np.int64]
    scores: npt.NDArray[np.float64]
    settings: npt.NDArray[np.int64]
    setting_names: tuple[str, ...]
    token: Token

    @property
    def empty(self) -> bool:
        """Whether no result is recorded."""
        return len(self.scores) == 0


@dataclass(frozen=True)
class DatasetMatrix:
    """The vectors of every dataset in one space, with the formats of those datasets.

    Attributes:
        subject_ids: Dataset ids, one per row of ``vectors``.
        embedding_ids: The id of each row's embedding (what ``Registry.search_ids`` returns).
        vectors: Stored vectors (normalised for cosine spaces), shape (n, dim).
        formats: Task format of each row's dataset.
        metric: The space's metric.
        key: ``(space id, generation, fingerprint)`` this matrix reflects.
    """

    subject_ids: npt.NDArray[np.int64]
    embedding_ids: npt.NDArray[np.int64]
    vectors: npt.NDArray[np.float32]
    formats: tuple[str, ...]
    metric: str
    key: tuple[int, int, str]


class TransferStore:
    """Cached reads of the transfer graph and of dataset matrices (thread-safe)."""

    def __init__(self, db: Database) -> None:
        """Args:
        db: The registry's database.
        """
        self.db = db
        self._lock = threading.Lock()
        self._graph: TransferGraph | None = None
        self._matrices: dict[str, DatasetMatrix] = {}

    def graph(self) -> TransferGraph:
        """The transfer graph as SQL holds it now (from the cache when nothing changed)."""
        with self.db.read() as session:
            row = session.execute(
                select(
                    select(func.max(TransferResult.id)).scalar_subquery(),
                    select(func.count(Subject.id)).scalar_subquery(),
                    select(func.max(Subject.id)).scalar_subquery(),
                )
            ).one()
            token = (int(row[0] or 0), int(row[1] or 0), int(row[2] or 0))
            with self._lock:
                if self._graph is not None and self._graph.token == token:
                    return self._graph
            graph = _read_graph(session, token)
        with self._lock:
            self._graph = graph
        return graph

    def datasets(self, space_name: str) -> DatasetMatrix:
        """Every dataset vector of a space (from the cache while the space's generation holds).

        Raises:
            SpaceNotFoundError: Unknown space.
        """
        with self.db.read() as session:
            space = get_space(session, space_name)
            key = (int(space.id), int(space.generation), str(space.fingerprint))
            with self._lock:
                cached = self._matrices.get(space_name)
                if cached is not None and cached.key == key:
                    return cached
            matrix = _read_matrix(session, space, key)
        with self._lock:
            self._matrices[space_name] = matrix
        return matrix

    def ids_of(self, names: list[str]) -> dict[str, int]:
        """Dataset ids by name (unknown names are left out)."""
        if not names:
            return {}
        with self.db.read() as session:
            rows = session.execute(select(Dataset.name, Dataset.id).where(Dataset.name.in_(names))).all()
        return {str(n): int(i) for n, i in rows}

    def names_of(self, subject_ids: list[int]) -> dict[int, str]:
        """Names of subjects by id (unknown ids are left out)."""
        if not subject_ids:
            return {}
        with self.db.read() as session:
            rows = session.execute(select(Subject.id, Subject.name).where(Subject.id.in_(subject_ids))).all()
        return {int(i): str(n) for i, n in rows}

    def gold_rows(self) -> list[GoldRow]:
        """Every recorded result by dataset names (what ``fute eval`` scores rankings against)."""
        src, tgt = aliased(Dataset), aliased(Dataset)
        with self.db.read() as session:
            rows = session.execute(
                select(TransferResult.setting, tgt.name, src.name, TransferResult.score)
                .join(src, src.id == TransferResult.source_id)
                .join(tgt, tgt.id == TransferResult.target_id)
            ).all()
        return [GoldRow(str(s), str(t), str(n), float(v)) for s, t, n, v in rows]

    def dataset_names(self) -> set[str]:
        """The names of every registered dataset."""
        with self.db.read() as session:
            return {str(n) for n in session.scalars(select(Dataset.name))}

    def stored_scores(self, origin: str) -> dict[ResultKey, float]:
        """Scores recorded from one origin, by ``(source, target, setting)`` names."""
        src, tgt = aliased(Subject), aliased(Subject)
        stmt = (
            select(src.name, tgt.name, TransferResult.setting, TransferResult.score)
            .join(src, src.id == TransferResult.source_id)
            .join(tgt, tgt.id == TransferResult.target_id)
            .where(TransferResult.origin == origin)
        )
        with self.db.read() as session:
            return {(str(s), str(t), str(g)): float(v) for s, t, g, v in session.execute(stmt)}

    def store_scores(self, scores: dict[ResultKey, float], origin: str) -> None:
        """Record (or replace) results, all in one transaction: every one is stored, or none.

        Args:
            scores: ``(source, target, setting)`` dataset names -> score.
            origin: Where the numbers come from.

        Raises:
            KeyError: A name is not a registered dataset (callers check names first).
            ValueError: A score is not finite, or a dataset is paired with itself.
        """
        if not scores:
            return
        with self.db.transaction() as session:
            ids = dict(session.execute(select(Dataset.name, Dataset.id)).all())
            for (source, target, setting), score in scores.items():
                record_transfer(
                    session,
                    session.get_one(Dataset, ids[source]),
                    session.get_one(Dataset, ids[target]),
                    score,
                    setting,
                    origin,
                )


def measured_into(graph: TransferGraph, target_id: int) -> dict[int, list[dict[str, Any]]]:
    """Results recorded *into* a target: source id -> ``[{"setting", "score"}]`` (never used to
    predict; shown beside predictions as ``measured``)."""
    out: dict[int, list[dict[str, Any]]] = {}
    for i in np.flatnonzero(graph.target_ids == target_id):
        out.setdefault(int(graph.source_ids[i]), []).append(
            {"setting": graph.setting_names[int(graph.settings[i])], "score": float(graph.scores[i])}
        )
    return out


def _read_graph(session: Any, token: Token) -> TransferGraph:
    """Load every transfer row (columns only; 1M rows stay a few tens of MB)."""
    rows = session.execute(
        select(
            TransferResult.source_id, TransferResult.target_id, TransferResult.score, TransferResult.setting
        )
    ).all()
    names = tuple(sorted({r[3] for r in rows}))
    code = {n: i for i, n in enumerate(names)}
    return TransferGraph(
        source_ids=np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows)),
        target_ids=np.fromiter((r[1] for r in rows), dtype=np.int64, count=len(rows)),
        scores=np.fromiter((r[2] for r in rows), dtype=np.float64, count=len(rows)),
        settings=np.fromiter((code[r[3]] for r in rows), dtype=np.int64, count=len(rows)),
        setting_names=names,
        token=token,
    )


def _read_matrix(session: Any, space: EmbeddingSpace, key: tuple[int, int, str]) -> DatasetMatrix:
    """Every dataset vector of the space, ordered by subject id."""
    ds = aliased(Dataset)
    rows = session.execute(
        select(Embedding.subject_id, Embedding.vector, ds.task_format, Embedding.id)
        .join(ds, ds.id == Embedding.subject_id)
        .where(Embedding.space_id == space.id)
        .order_by(Embedding.subject_id)
    ).all()
    vectors = np.zeros((len(rows), space.dim), dtype=np.float32)
    for i, row in enumerate(rows):
        vectors[i] = decode(row[1], space.dim)
    return DatasetMatrix(
        subject_ids=np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows)),
        embedding_ids=np.fromiter((r[3] for r in rows), dtype=np.int64, count=len(rows)),
        vectors=vectors,
        formats=tuple(str(r[2]) for r in rows),
        metric=str(space.metric),
        key=key,
    )
