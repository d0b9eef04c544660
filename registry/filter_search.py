"""Filtered search from in-memory columns: the per-process cache, tag partitions, execution.

A filter is resolved once per ``Registry.search`` call from ``FilterColumns`` (see
``registry.filter_index`` for why they cannot be stale). Two execution paths:

* a ``tags_all`` pair whose vectors are pre-materialised (a *partition*: a contiguous copy of the
  vectors carrying that tag) is searched by one matrix-vector product over the partition, the
  remaining conditions applied as a mask; this is the floor for exact filtered search, and it
  stays exact on approximate spaces (it is cheaper than any index scan at that size);
* anything else hands the allowed ids to FAISS as a bitmap selector (a bit test per stored
  vector, instead of a hash-set probe per vector for ``IDSelectorBatch``).

A tag gets a partition on the first search that uses it, when it holds at most ``MAX_SHARE`` of
the space and the partitions so far leave room in ``budget`` times the space's own vectors (memory
is the price of speed). The columns themselves are persisted beside the index snapshot
(``registry.filter_store``), so a fresh process maps them instead of reading SQL.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy.orm import Session

from registry import faiss_index as fx
from registry import filter_store
from registry.filter_index import (
    FilterColumns,
    FilterToken,
    TagPair,
    build_columns,
    merge_new_tags,
    read_max_tag_id,
    read_tag_removals,
    resolve,
)
from registry.filter_ivf import TARGET_RECALL, IvfPlan, is_ivf
from registry.filters import SearchFilter
from registry.models import EmbeddingSpace

MAX_SHARE = 0.25  # a tag on more rows gains little over a bitmap scan of the whole index
MIN_ROWS = 32  # below this a bitmap scan costs next to nothing: no copy
DEFAULT_BUDGET = 2.0  # partition vectors, as a multiple of the space's own vectors
MAX_IVF_PLANS = 256  # calibrated filters kept per space

Result = tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]
Finder = Callable[[npt.NDArray[np.float32], int], Result]


@dataclass
class SpaceFilters:
    """The columns of one loaded index and the partitions built from it so far.

    Partitions are built on first use (``partition``), not up front: a fresh process answering one
    query should copy one tag's vectors, not every tag's (3 GB at 1M x 384 with the default budget).
    """

    cols: FilterColumns
    index_key: int
    metric: str
    index: Any = None
    room: float = 0.0
    recall_target: float = TARGET_RECALL
    partitions: dict[TagPair, npt.NDArray[np.float32]] = field(default_factory=dict)
    sq_norms: dict[TagPair, npt.NDArray[np.float32]] = field(default_factory=dict)
    ivf_plans: dict[SearchFilter, IvfPlan] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def ivf_plan(self, flt: SearchFilter, allowed: Callable[[], npt.NDArray[np.int64]]) -> IvfPlan:
        """The calibrated plan of a filter on an IVF index (calibrated on first use).

        Args:
            flt: The filter without its exclusions (the cache key).
            allowed: Computes the ids passing ``flt`` when the plan must be built.
        """
        with self._lock:
            found = self.ivf_plans.get(flt)
        if found is not None:
            return found
        built = IvfPlan.build(self.index, allowed(), self.recall_target)
        with self._lock:
            if len(self.ivf_plans) >= MAX_IVF_PLANS:
                self.ivf_plans.clear()  # many one-off filters: start over rather than grow
            self.ivf_plans[flt] = built
        return built

    def partitionable(self, pair: TagPair) -> bool:
        """True when the pair's vectors are (or may be) held as a partition."""
        if pair in self.partitions:
            return True
        size = len(self.cols.tag_rows(pair))
        return MIN_ROWS <= size <= MAX_SHARE * self.cols.n and size <= self.room

    def partition(self, pair: TagPair) -> npt.NDArray[np.float32]:
        """The pair's vectors as one contiguous array, copied from the index on first use."""
        with self._lock:
            vecs = self.partitions.get(pair)
            if vecs is None:
                rows = self.cols.tag_rows(pair)
                vecs = np.ascontiguousarray(
                    self.index.reconstruct_batch(self.cols.ids[rows]), dtype=np.float32
                )
                if self.metric == "l2":
                    self.sq_norms[pair] = np.einsum("ij,ij->i", vecs, vecs)
                self.partitions[pair] = vecs
                self.room -= len(rows)
            return vecs


class FilterCache:
    """Per-process cache of ``SpaceFilters``, one per space, checked against SQL on every use."""

    def __init__(self, budget: float = DEFAULT_BUDGET, folder: Callable[[int], Path] | None = None) -> None:
        """Args:
        budget: Partition memory as a multiple of each space's vectors (0 disables partitions).
        folder: The index folder of a space, where columns are persisted (None: never persisted).
        """
        self.budget = budget
        self.folder = folder
        self._cache: dict[int, SpaceFilters] = {}
        self._mutex = threading.Lock()

    def get(self, session: Session, space: EmbeddingSpace, loaded: Any) -> SpaceFilters:
        """The filters of a space for the loaded index, rebuilt when SQL moved on.

        Args:
            session: Open read session (the same one that loaded the index).
            space: The space, as read in this session.
            loaded: The ``LoadedIndex`` the search will use.
        """
        token = FilterToken(loaded.generation, read_max_tag_id(session), read_tag_removals(session))
        key = id(loaded.index)
        with self._mutex:
            cached = self._cache.get(space.id)
            if cached is not None and cached.cols.token == token and cached.index_key == key:
                return cached
        cols = self.columns(session, space.id, loaded, token)
        target = float(space.params.get("ivf_filter_recall", TARGET_RECALL))
        built = SpaceFilters(cols, key, space.metric, loaded.index, self.budget * cols.n, target)
        with self._mutex:
            self._cache[space.id] = built
        return built

    def columns(self, session: Session, space_id: int, loaded: Any, token: FilterToken) -> FilterColumns:
        """Columns for ``token``: the persisted file when it matches (tag additions merged in),
        else built from SQL; what had to be built or merged is persisted for the next process."""
        folder = self.folder(space_id) if self.folder is not None else None
        if folder is not None:
            stored = filter_store.load(folder, token.generation)
            if stored is not None and stored.token == token:
                return stored
            merged = merge_new_tags(session, stored, token) if stored is not None else None
            if merged is not None:
                filter_store.save(folder, merged)
                return merged
        cols = build_columns(session, space_id, fx.all_ids(loaded.index), token)
        if folder is not None and folder.is_dir():
            filter_store.save(folder, cols)
        return cols

    def cached(self, space_id: int, token: FilterToken, loaded: Any) -> SpaceFilters | None:
        """The cached filters of a space when built for this token and this loaded index."""
        with self._mutex:
            cached = self._cache.get(space_id)
        if cached is None or cached.cols.token != token or cached.index_key != id(loaded.index):
            return None
        return cached

    def forget(self, space_id: int) -> None:
        """Drop the cached filters of a space."""
        with self._mutex:
            self._cache.pop(space_id, None)


@dataclass
class FilterPlan:
    """A filter resolved once for all queries of one search call."""

    sf: SpaceFilters
    pair: TagPair | None
    mask: npt.NDArray[np.bool_] | None
    allowed: npt.NDArray[np.int64] | None
    ivf: IvfPlan | None = None
    excluded: npt.NDArray[np.int64] | None = None

    @property
    def empty(self) -> bool:
        """True when no stored vector passes the filter."""
        if self.pair is not None:
            rows = self.sf.cols.tag_rows(self.pair)
            return len(rows) == 0 or (self.mask is not None and not self.mask.any())
        return self.allowed is not None and len(self.allowed) == 0

    def describe(self) -> dict[str, Any]:
        """How this plan searches, for ``--explain``: ``path`` is ``ivf`` (calibrated nprobe under
        the filter), ``partition`` (exact over one tag's copied vectors) or ``bitmap`` (exact over
        the allowed ids)."""
        ivf = self.ivf
        if ivf is not None and ivf.choice.nprobe is not None:
            return ivf.choice.to_dict()
        if self.pair is not None:
            rows = len(self.sf.cols.tag_rows(self.pair))
            allowed = rows if self.mask is None else int(self.mask.sum())
            out: dict[str, Any] = {"path": "partition", "tag": "=".join(self.pair), "allowed": allowed}
        else:
            n = self.sf.cols.n if self.allowed is None else len(self.allowed)
            out = {"path": "bitmap", "allowed": n}
        if ivf is not None:
            out["reason"] = ivf.choice.reason
        return out

    def finder(self, index: Any) -> Finder:
        """A ``(query of shape (dim,), k) -> (scores, ids)`` search function for this plan."""
        ivf = self.ivf
        if ivf is not None and ivf.choice.nprobe is not None:
            excluded = self.excluded if self.excluded is not None else np.zeros(0, dtype=np.int64)
            return lambda query, k: ivf.search(index, query, k, excluded)
        if self.pair is not None:
            return self._partition_search
        allowed = self.allowed
        return lambda query, k: fx.search(index, query[None, :], k, allowed)

    def _partition_search(self, query: npt.NDArray[np.float32], k: int) -> Result:
        """Exact top-k over the partition's vectors, the residual mask applied."""
        assert self.pair is not None
        rows = self.sf.cols.tag_rows(self.pair)
        scores = self.sf.partition(self.pair) @ query
        if self.sf.metric == "l2":
            scores = 2 * scores - self.sf.sq_norms[self.pair] - float(query @ query)
        ids = self.sf.cols.ids[rows]
        if self.mask is not None:
            scores, ids = scores[self.mask], ids[self.mask]
        return _top_k(scores.astype(np.float32), ids, k)


def plan(sf: SpaceFilters, flt: SearchFilter) -> FilterPlan:
    """Resolve a filter: on an IVF index, the calibrated approximate plan when it beats exact
    search (``registry.filter_ivf``); else the smallest partitioned ``tags_all`` pair, the rest
    masked; else a bitmap of the allowed ids."""
    exact = _exact_plan(sf, flt)
    if not is_ivf(sf.index) or exact.empty:
        return exact
    base = replace(flt, exclude_subject_ids=())
    ivf = sf.ivf_plan(base, lambda: _allowed_ids(sf, base))
    excluded = sf.cols.ids[sf.cols.rows_of_subjects(flt.exclude_subject_ids)]
    return replace(exact, ivf=ivf, excluded=excluded)


def _allowed_ids(sf: SpaceFilters, flt: SearchFilter) -> npt.NDArray[np.int64]:
    """Sorted ids passing a filter (every id when it constrains nothing)."""
    mask = resolve(sf.cols, flt)
    return sf.cols.ids if mask is None else sf.cols.ids[mask]


def _exact_plan(sf: SpaceFilters, flt: SearchFilter) -> FilterPlan:
    """The exact plan: the smallest partitioned ``tags_all`` pair with the rest masked, or a bitmap."""
    pairs = [p for p in flt.tags_all if sf.partitionable(p)]
    if pairs:
        pair = min(pairs, key=lambda p: len(sf.cols.tag_rows(p)))
        residual = resolve(sf.cols, flt, skip=pair)
        # The residual mask is wanted over the partition's rows only.
        sub = residual[sf.cols.tag_rows(pair)] if residual is not None else None
        return FilterPlan(sf, pair, sub, None)
    mask = resolve(sf.cols, flt)
    return FilterPlan(sf, None, None, None if mask is None else sf.cols.ids[mask])


def _top_k(scores: npt.NDArray[np.float32], ids: npt.NDArray[np.int64], k: int) -> Result:
    """The k best (score, id) pairs as arrays of shape (1, k), padded with id -1 like FAISS."""
    if len(scores) > k:
        part = np.argpartition(-scores, k - 1)[:k]
        scores, ids = scores[part], ids[part]
    order = np.argsort(-scores, kind="stable")
    out_s = np.full((1, k), -np.inf, dtype=np.float32)
    out_i = np.full((1, k), -1, dtype=np.int64)
    out_s[0, : len(order)] = scores[order]
    out_i[0, : len(order)] = ids[order]
    return out_s, out_i
