"""The read path of ``Registry.search``: one cheap freshness probe, then in-memory search.

Every search must answer from an index and filter columns that match SQL (the source of truth),
also when another process wrote since the last search. The general path opens an ORM session,
loads the space entity, asks the index cache for the index and the filter cache for the columns:
about half a millisecond of fixed cost per call, more than the vector search itself on filtered
queries. The fast path asks SQL one indexed question instead, on a plain Core connection:
``(space id, generation, fingerprint, max(tags.id), tag removals)`` for the space name; when the cached index and
filter columns were built for exactly that state (see ``registry.filter_index`` for why this token
covers every write), the search runs from memory and only the hits are hydrated on the same
connection. Anything else (first use, a write by anyone, read replicas) takes the general path,
which brings the caches current.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import bindparam, func, select

from registry import embeddings as emb
from registry import faiss_index as fx
from registry.db import Database
from registry.filter_index import TAG_REMOVALS_STMT, FilterToken
from registry.filter_ivf import is_ivf
from registry.filter_search import FilterCache, FilterPlan, Finder
from registry.filter_search import plan as plan_filter
from registry.filters import SearchFilter
from registry.models import EmbeddingSpace, Tag
from registry.space_index import LoadedIndex, SpaceIndexes
from registry.spaces import get_space
from registry.vectors import prepare

Row = tuple[int, str, str, Any]  # subject id, name, kind, provenance of one embedding id
Pair = tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]

# One statement for the whole freshness check (the compiled form is cached by SQLAlchemy).
_PROBE = select(
    EmbeddingSpace.id,
    EmbeddingSpace.generation,
    EmbeddingSpace.fingerprint,
    EmbeddingSpace.dim,
    EmbeddingSpace.metric,
    select(func.max(Tag.id)).scalar_subquery(),
    TAG_REMOVALS_STMT.scalar_subquery(),
).where(EmbeddingSpace.name == bindparam("name"))


@dataclass(frozen=True)
class Probe:
    """The SQL state of one space that a search must match."""

    space_id: int
    generation: int
    fingerprint: str
    dim: int
    metric: str
    max_tag_id: int
    tag_removals: int


@dataclass
class Prepared:
    """What one search call needs: the space, prepared queries, the search function (None: no
    stored vector passes the filter) and the index size."""

    space_id: int
    queries: npt.NDArray[np.float32]
    finder: Finder | None
    ntotal: int


class Searcher:
    """Searches over the registry's caches (shared with the write path of ``Registry``)."""

    def __init__(self, db: Database, indexes: SpaceIndexes, filters: FilterCache) -> None:
        """Args:
        db: The registry's database.
        indexes: The per-space index cache (writes keep it current in this process).
        filters: The per-space filter-column cache.
        """
        self.db = db
        self.indexes = indexes
        self.filters = filters
        self._probe_sql: tuple[str, Any] | None = None  # the probe compiled for this dialect

    def hits(
        self,
        space_name: str,
        queries: npt.ArrayLike,
        k: int,
        flt: SearchFilter | None,
        nprobe: int | None,
        provenance: bool = True,
    ) -> list[list[tuple[int, float, Row]]]:
        """(embedding id, score, SQL row) of each query's k best hits that SQL knows, best first.

        ``provenance=False`` leaves each row's provenance empty and skips reading it.

        Raises:
            SpaceNotFoundError: Unknown space.
            InvalidVectorError: Queries of the wrong dimension or with non-finite values.
        """
        prep = self._fast(space_name, queries, flt, nprobe)
        if prep is not None:
            if not provenance:
                found = self._fast_hits(prep, k)
                if found is not None:
                    return found
            with self.db.connect() as conn:
                return [_search_one(_on(conn, prep, provenance), prep, row, k) for row in prep.queries]
        with self.db.read() as session:
            prep = self._general(session, space_name, queries, flt, nprobe)
            return [_search_one(_on(session, prep, provenance), prep, row, k) for row in prep.queries]

    def _fast_hits(self, prep: Prepared, k: int) -> list[list[tuple[int, float, Row]]] | None:
        """Hits hydrated on the driver directly (None on a driver error: use the other path)."""
        failed = False

        def raw(ids: list[int]) -> dict[int, Row]:
            nonlocal failed
            got = emb.hydrate_raw(self.db.engine, prep.space_id, ids)
            failed = failed or got is None
            return got or {}

        out = [_search_one(raw, prep, row, k) for row in prep.queries]
        return None if failed else out

    def ids(
        self, space_name: str, queries: npt.ArrayLike, k: int, flt: SearchFilter | None, nprobe: int | None
    ) -> list[Pair]:
        """(scores, embedding ids) of each query's k best hits, not checked against SQL rows."""
        prep = self._fast(space_name, queries, flt, nprobe)
        if prep is None:
            with self.db.read() as session:
                prep = self._general(session, space_name, queries, flt, nprobe)
        finder = prep.finder
        if finder is None:
            empty = (np.full(k, -np.inf, dtype=np.float32), np.full(k, -1, dtype=np.int64))
            return [empty for _ in range(len(prep.queries))]
        return [(s[0], i[0]) for s, i in (finder(row, k) for row in prep.queries)]

    def describe(self, space_name: str, flt: SearchFilter | None, nprobe: int | None) -> dict[str, Any]:
        """How a search of this space with this filter runs (``--explain``): the index, its size,
        and for a filter the plan (``FilterPlan.describe``); IVF spaces add nlist and nprobe.

        Raises:
            SpaceNotFoundError: Unknown space.
        """
        with self.db.read() as session:
            prep_space = get_space(session, space_name)
            loaded = self.indexes.load(session, prep_space)
            index = loaded.index
            out: dict[str, Any] = {"index": type(index).__name__, "vectors": int(index.ntotal)}
            if is_ivf(index):
                out |= {"nlist": int(index.nlist), "nprobe": int(nprobe or index.nprobe)}
            if flt is None:
                return {**out, "path": "ivf" if is_ivf(index) else "exact"}
            resolved = plan_filter(self.filters.get(session, prep_space, loaded), flt)
            return {**out, **resolved.describe()}

    def _fast(
        self, space_name: str, queries: npt.ArrayLike, flt: SearchFilter | None, nprobe: int | None
    ) -> Prepared | None:
        """The search from the caches when they match SQL's current state; None otherwise."""
        if self.indexes.mmap:
            return None  # replicas serve the published snapshot, which may lag SQL: general path
        probe = self._probe(space_name)
        if probe is None:
            return None  # the general path raises the helpful error (unknown space, no database)
        loaded = self.indexes.cached(probe.space_id, probe.generation, probe.fingerprint)
        if loaded is None:
            return None
        q = prepare(queries, probe.dim, probe.metric)
        if flt is None:
            return Prepared(probe.space_id, q, _unfiltered(loaded, nprobe), int(loaded.index.ntotal))
        sf = self.filters.cached(
            probe.space_id, FilterToken(probe.generation, probe.max_tag_id, probe.tag_removals), loaded
        )
        if sf is None:
            return None
        return _filtered(probe.space_id, q, plan_filter(sf, flt), loaded)

    def _probe(self, space_name: str) -> Probe | None:
        """Read the space's state with one statement on a pooled DBAPI connection.

        The driver is called directly: SQLAlchemy's Core execution (autobegin, BEGIN, result
        processing, ROLLBACK) cost six times the query itself here (66 vs 10 microseconds).
        Any driver error means "take the general path", which reports it properly.
        """
        engine = self.db.engine
        if self._probe_sql is None:
            compiled = _PROBE.compile(dialect=engine.dialect)
            self._probe_sql = (str(compiled), compiled.positiontup)
        sql, positions = self._probe_sql
        params: Any = (space_name,) if positions else {"name": space_name}
        try:
            conn = engine.raw_connection()
            try:
                cur = conn.cursor()
                cur.execute(sql, params)
                row = cur.fetchone()
                cur.close()
            finally:
                conn.close()  # back to the pool, which rolls back any open read transaction
        except engine.dialect.loaded_dbapi.Error:
            return None
        if row is None:
            return None
        return Probe(
            int(row[0]),
            int(row[1]),
            str(row[2]),
            int(row[3]),
            str(row[4]),
            int(row[5] or 0),
            int(row[6] or 0),
        )

    def _general(
        self,
        session: Any,
        space_name: str,
        queries: npt.ArrayLike,
        flt: SearchFilter | None,
        nprobe: int | None,
    ) -> Prepared:
        """The search after bringing the index and filter caches current with SQL."""
        space = get_space(session, space_name)
        q = prepare(queries, space.dim, space.metric)
        loaded = self.indexes.load(session, space)
        if flt is None:
            return Prepared(space.id, q, _unfiltered(loaded, nprobe), int(loaded.index.ntotal))
        # Resolved in memory from columns checked against SQL (registry.filter_index).
        return _filtered(space.id, q, plan_filter(self.filters.get(session, space, loaded), flt), loaded)


def _unfiltered(loaded: LoadedIndex, nprobe: int | None) -> Finder:
    index = loaded.index
    return lambda row, want: fx.search(index, row[None, :], want, None, nprobe)


def _filtered(
    space_id: int, q: npt.NDArray[np.float32], resolved: FilterPlan, loaded: LoadedIndex
) -> Prepared:
    ntotal = int(loaded.index.ntotal)
    if resolved.empty:
        return Prepared(space_id, q, None, ntotal)
    return Prepared(space_id, q, resolved.finder(loaded.index), ntotal)


def _on(conn: Any, prep: Prepared, provenance: bool) -> Callable[[list[int]], dict[int, Row]]:
    """Hydration of one space's ids on a Session or Core connection."""
    return lambda ids: emb.hydrate(conn, prep.space_id, ids, provenance)


def _search_one(
    hydrate: Callable[[list[int]], dict[int, Row]], prep: Prepared, query: Any, k: int
) -> list[tuple[int, float, Row]]:
    """Search one query, widening k when hits unknown to SQL had to be dropped.

    Args:
        hydrate: Embedding ids -> the rows SQL knows of them in this space.
        prep: The prepared search.
        query: One prepared query vector.
        k: Hits wanted.
    """
    if prep.finder is None:
        return []
    want = k
    while True:
        scores, ids = prep.finder(query, want)
        found = [(float(s), int(i)) for s, i in zip(scores[0], ids[0], strict=True) if i >= 0]
        known = hydrate([i for _, i in found])
        hits = [(i, s, known[i]) for s, i in found if i in known]
        if len(hits) >= k or len(found) < want or want >= prep.ntotal:
            return hits[:k]
        want *= 2
