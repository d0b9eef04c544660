"""Recall of a space's approximate index against exact search, on a sample of its own vectors.

Exact neighbours are computed by streaming every SQL vector of the space in batches and keeping a
running top-k per query, so the check works for spaces whose vectors do not fit in memory.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy.orm import Session

from registry import faiss_index as fx
from registry.embeddings import embedding_ids, iter_vectors
from registry.errors import ConfigError
from registry.models import EmbeddingSpace


@dataclass
class RecallReport:
    """recall@k of the published index of one space."""

    space: str
    index_type: str
    index_class: str
    n_vectors: int
    n_queries: int
    k: int
    recall: float

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return asdict(self)


def measure_recall(
    session: Session, space: EmbeddingSpace, index: Any, sample: int = 200, k: int = 10, seed: int = 0
) -> RecallReport:
    """Mean fraction of the exact top-k that the index returns, over sampled stored vectors.

    Args:
        session: Read session.
        space: The space.
        index: Its loaded FAISS index (as searches use it).
        sample: Query vectors drawn from the space.
        k: Neighbours compared per query.
        seed: Sampling seed.

    Raises:
        ConfigError: The space holds no vectors or ``k``/``sample`` is not positive.
    """
    if k <= 0 or sample <= 0:
        raise ConfigError(
            f"k and sample must be positive (got k={k}, sample={sample}); pass --k 10 --sample 200"
        )
    ids = embedding_ids(session, space.id)
    if len(ids) == 0:
        raise ConfigError(f"space {space.name!r} holds no vectors; embed something before measuring recall")
    rng = np.random.default_rng(seed)
    query_ids = np.sort(rng.choice(ids, size=min(sample, len(ids)), replace=False))
    queries = np.concatenate([v for _, v in iter_vectors(session, space, ids=query_ids.tolist())])
    k = min(k, len(ids))
    exact = _exact_top_k(session, space, queries, k)
    _, found = fx.search(index, queries, k)
    hits = [len(set(exact[i].tolist()) & set(found[i].tolist())) for i in range(len(queries))]
    return RecallReport(
        space.name,
        space.index_type,
        type(index).__name__,
        len(ids),
        len(queries),
        k,
        float(np.mean(hits)) / k,
    )


def _exact_top_k(
    session: Session, space: EmbeddingSpace, queries: npt.NDArray[np.float32], k: int
) -> npt.NDArray[np.int64]:
    """Ids of the exact top-k of each query (similarity as the index scores it), streamed."""
    best_s = np.full((len(queries), k), -np.inf, dtype=np.float32)
    best_i = np.full((len(queries), k), -1, dtype=np.int64)
    for ids, vecs in iter_vectors(session, space):
        if space.metric == "l2":
            # -|q - v|^2 expanded: no (queries x batch x dim) temporary
            sq = (queries**2).sum(axis=1)[:, None] + (vecs**2).sum(axis=1)[None, :]
            scores = 2 * (queries @ vecs.T) - sq
        else:
            scores = queries @ vecs.T
        all_s = np.concatenate([best_s, scores.astype(np.float32)], axis=1)
        all_i = np.concatenate([best_i, np.broadcast_to(ids, scores.shape)], axis=1)
        top = np.argsort(-all_s, axis=1, kind="stable")[:, :k]
        best_s = np.take_along_axis(all_s, top, axis=1)
        best_i = np.take_along_axis(all_i, top, axis=1)
    return best_i
