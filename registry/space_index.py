"""Per-process manager of the FAISS indexes of all spaces: load, recover, apply, publish.

SQL is the source of truth; a FAISS snapshot is a rebuildable cache that records the space
generation it reflects. Loading trusts a snapshot only if its manifest, checksum, fingerprint, dim
and ntotal agree; a snapshot behind SQL is reconciled by id sets (ids are never reused, rows never
change), anything else is rebuilt from SQL. Only a writer holding the space's file lock publishes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy.orm import Session

from registry import faiss_index as fx
from registry import snapshot as snap
from registry.embeddings import WriteResult, embedding_ids, iter_vectors
from registry.errors import ConfigError, IndexCorruptError, LockTimeoutError
from registry.models import EmbeddingSpace
from registry.spaces import index_spec

Hook = Callable[[str], None]


@dataclass
class LoadedIndex:
    """An index in memory and the SQL generation it reflects.

    Attributes:
        index: The FAISS index.
        generation: Space generation whose rows the index holds exactly.
        fingerprint: Fingerprint of the space it was built for.
        published: True when the in-memory state equals the published snapshot.
        mapped: True while ``index`` is the published file memory-mapped read-only; it is copied
            into memory before its first change (FAISS aborts on a write to mapped lists).
    """

    index: Any
    generation: int
    fingerprint: str
    published: bool
    mapped: bool = False

    def owned(self) -> Any:
        """The index, copied into memory first if it is mapped (call before changing it)."""
        if self.mapped:
            self.index = fx.clone(self.index)
            self.mapped = False
        return self.index


class SpaceIndexes:
    """Open indexes of one registry home, cached per process."""

    def __init__(
        self, index_dir: Path, lock_timeout_s: float, hook: Hook | None = None, mmap: bool = False
    ) -> None:
        """Args:
        index_dir: ``<home>/indexes``.
        lock_timeout_s: How long to wait for another writer of a space.
        hook: Optional ``callable(step)`` called between write steps (crash-injection tests).
        mmap: Read replica: open published snapshots memory-mapped and read-only, as published
            (never reconciled in place); this process may not write.
        """
        self.index_dir = index_dir
        self.mmap = mmap
        self.lock_timeout_s = lock_timeout_s
        self.hook = hook
        self._cache: dict[int, LoadedIndex] = {}
        self._mutex = threading.RLock()

    def folder(self, space_id: int) -> Path:
        """Folder of one space's snapshots."""
        return self.index_dir / f"space-{space_id}"

    @contextmanager
    def writer(self, space_id: int) -> Iterator[None]:
        """Hold the space's writer file lock (one writer per space across processes).

        Raises:
            LockTimeoutError: Another process kept the lock past the timeout.
            ConfigError: This process is a memory-mapped read replica.
        """
        if self.mmap:
            raise ConfigError(
                "this process opens indexes memory-mapped read-only (FUTE_INDEX_MMAP=1) and cannot "
                "write; run writes (ingest, maintain) in a process without FUTE_INDEX_MMAP"
            )
        from filelock import FileLock  # writers only: a read-only command need not load it
        from filelock import Timeout as FileLockTimeout

        folder = self.folder(space_id)
        folder.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(folder / snap.LOCK), timeout=self.lock_timeout_s)
        try:
            lock.acquire()
        except FileLockTimeout as exc:
            raise LockTimeoutError(
                f"another process is writing space {space_id} ({folder / snap.LOCK}); retry later "
                "or raise FUTE_LOCK_TIMEOUT_S"
            ) from exc
        try:
            with self._mutex:
                yield
        finally:
            lock.release()

    def load(self, session: Session, space: EmbeddingSpace) -> LoadedIndex:
        """The index of a space, current with SQL (published snapshot, reconciled or rebuilt)."""
        with self._mutex:
            if self.mmap:
                return self._load_replica(session, space)
            cached = self._cache.get(space.id)
            if cached and cached.generation == space.generation and cached.fingerprint == space.fingerprint:
                return cached
            loaded = self._load_published(space)
            if loaded is None:
                loaded = self._build(session, space)
            elif loaded.generation != space.generation:
                self._reconcile(session, space, loaded)
            self._cache[space.id] = loaded
            return loaded

    def cached(self, space_id: int, generation: int, fingerprint: str) -> LoadedIndex | None:
        """The cached index of a space when it reflects exactly that SQL state (None otherwise).

        Never for read replicas, whose snapshot may lag SQL by design (``load`` decides there).
        """
        with self._mutex:
            cached = self._cache.get(space_id)
        if self.mmap or cached is None:
            return None
        if cached.generation != generation or cached.fingerprint != fingerprint:
            return None
        return cached

    def recover(self, session: Session, space: EmbeddingSpace) -> LoadedIndex:
        """Writer-side load: delete stray temp files and publish if memory differs from disk.

        Call only while holding ``writer(space.id)``.
        """
        folder = self.folder(space.id)
        loaded = self.load(session, space)
        try:
            manifest = snap.read_manifest(folder)
            if loaded.mapped and manifest is not None:
                snap.read_index_bytes(folder, manifest)  # a mapped load skipped the checksum
        except IndexCorruptError:
            manifest = None
            if loaded.mapped:  # the mapped file fails its checksum: never trust it again
                with self._mutex:
                    loaded = self._cache[space.id] = self._build(session, space)
        current = (
            loaded.published
            and manifest is not None
            and manifest.generation == loaded.generation
            and (folder / manifest.file).exists()
        )
        if current and manifest is not None:
            # A crash between the manifest replace and the clean-up leaves old files behind.
            snap.remove_stale_files(folder, keep=manifest.file)
        else:
            self.publish(space, loaded)  # publishing also removes stray and stale files
        return loaded

    def rebuild(self, session: Session, space: EmbeddingSpace) -> LoadedIndex:
        """Build from SQL, ignoring any snapshot, and publish (caller holds the writer lock)."""
        with self._mutex:
            loaded = self._build(session, space)
            self._cache[space.id] = loaded
        self.publish(space, loaded)
        return loaded

    def apply(
        self, space: EmbeddingSpace, result: WriteResult, vectors: npt.NDArray[np.float32] | None
    ) -> LoadedIndex:
        """Apply a committed write to the cached index (remove old ids, then add new ones).

        Args:
            space: The space (its ``generation`` may be stale; ``result.generation`` wins).
            result: Ids removed and added by the committed transaction.
            vectors: Prepared vectors of ``result.added_ids``, shape (n_added, dim).
        """
        with self._mutex:
            loaded = self._cache[space.id]
            index = loaded.owned()
            fx.remove(index, np.asarray(result.removed_ids, dtype=np.int64))
            if result.added_ids and vectors is not None:
                ids = np.asarray(result.added_ids, dtype=np.int64)
                fx.remove(index, ids)  # never add an id twice (IndexIDMap2 would corrupt)
                index.add_with_ids(vectors, ids)
            loaded.generation = result.generation
            loaded.published = False
            return loaded

    def publish(self, space: EmbeddingSpace, loaded: LoadedIndex) -> None:
        """Write the snapshot and its manifest atomically (caller holds the writer lock)."""
        data = fx.serialize(loaded.index)
        manifest = snap.Manifest(
            space_id=space.id,
            fingerprint=space.fingerprint,
            dim=space.dim,
            metric=space.metric,
            index_type=space.index_type,
            ntotal=int(loaded.index.ntotal),
            generation=loaded.generation,
            file=snap.index_file_name(loaded.generation),
            sha256=snap.sha256(data),
            size=len(data),
        )
        snap.publish(self.folder(space.id), manifest, data, self.hook)
        loaded.published = True

    def needs_training(self, space: EmbeddingSpace) -> bool:
        """True when an approximate space has outgrown its exact bootstrap index and should be
        rebuilt as a trained IVF index."""
        loaded = self._cache.get(space.id)
        return loaded is not None and fx.should_train(index_spec(space), loaded.index)

    def forget(self, space_id: int) -> None:
        """Drop a cached index (after the space is deleted or its files removed)."""
        with self._mutex:
            self._cache.pop(space_id, None)

    def _load_published(self, space: EmbeddingSpace) -> LoadedIndex | None:
        """The published snapshot if it can be trusted for this space, else None.

        A snapshot of SQL's current generation is memory-mapped (a fresh process then reads only
        the pages its searches touch); one that lags SQL is read into memory, checksummed, because
        it is reconciled in place.
        """
        folder = self.folder(space.id)
        for _attempt in range(3):  # a writer may replace the files between our two reads
            try:
                manifest = snap.read_manifest(folder)
                if manifest is None or not _matches(manifest, space):
                    return None
                mapped = manifest.generation == space.generation
                if mapped:
                    index = snap.map_index(folder, manifest)
                else:
                    index = fx.deserialize(snap.read_index_bytes(folder, manifest))
            except IndexCorruptError:
                continue
            except RuntimeError:  # FAISS could not parse the bytes
                return None
            if index.ntotal != manifest.ntotal or index.d != space.dim:
                return None
            return LoadedIndex(index, manifest.generation, manifest.fingerprint, True, mapped)
        return None

    def _load_replica(self, session: Session, space: EmbeddingSpace) -> LoadedIndex:
        """Read-replica load: the latest published snapshot, memory-mapped (reopened when a newer
        one is published); an in-memory build from SQL only when nothing usable is published."""
        folder = self.folder(space.id)
        cached = self._cache.get(space.id)
        for _attempt in range(3):  # the writer may delete the file we were about to map
            try:
                manifest = snap.read_manifest(folder)
            except IndexCorruptError:
                break
            if manifest is None or not _matches(manifest, space):
                break
            if cached and cached.published and cached.generation == manifest.generation:
                return cached
            try:
                snap.read_index_bytes(folder, manifest)  # checksum, once per published generation
                index = fx.read_mmap(str(folder / manifest.file))
            except (IndexCorruptError, RuntimeError):
                continue
            if index.ntotal == manifest.ntotal and index.d == space.dim:
                self._cache[space.id] = LoadedIndex(index, manifest.generation, manifest.fingerprint, True)
                return self._cache[space.id]
        if cached and not cached.published and cached.generation == space.generation:
            return cached
        self._cache[space.id] = self._build(session, space)
        return self._cache[space.id]

    def _build(self, session: Session, space: EmbeddingSpace) -> LoadedIndex:
        """A fresh index holding every SQL vector of the space, streamed from SQL in batches.

        An approximate index is trained on a random sample of at most ``fx.TRAIN_MAX`` vectors;
        the rest never has to be in memory at once (what IVF-PQ is for).
        """
        spec = index_spec(space)
        all_ids = embedding_ids(session, space.id)
        train = None
        if fx.trains(spec, len(all_ids)):
            rng = np.random.default_rng(1234)  # deterministic sample: rebuilds give the same index
            sample = np.sort(rng.choice(all_ids, size=min(len(all_ids), fx.TRAIN_MAX), replace=False))
            train = np.concatenate([v for _, v in iter_vectors(session, space, ids=sample.tolist())])
        index = fx.empty(spec, len(all_ids), train)
        del train
        for ids, vecs in iter_vectors(session, space):
            index.add_with_ids(vecs, ids)
        return LoadedIndex(index, space.generation, space.fingerprint, published=False)

    def _reconcile(self, session: Session, space: EmbeddingSpace, loaded: LoadedIndex) -> None:
        """Make the index hold exactly SQL's ids: add missing vectors, remove extra ids."""
        sql_ids = embedding_ids(session, space.id)
        index = loaded.owned()
        idx_ids = fx.all_ids(index)
        extra = np.setdiff1d(idx_ids, sql_ids, assume_unique=True)
        missing = np.setdiff1d(sql_ids, idx_ids, assume_unique=True)
        fx.remove(index, extra)
        for ids, vecs in iter_vectors(session, space, ids=missing.tolist()):
            index.add_with_ids(vecs, ids)
        loaded.generation = space.generation
        loaded.published = False


def _matches(manifest: snap.Manifest, space: EmbeddingSpace) -> bool:
    """True when a manifest was written for this space's current configuration."""
    return (
        manifest.space_id == space.id
        and manifest.fingerprint == space.fingerprint
        and manifest.dim == space.dim
        and manifest.metric == space.metric
        and manifest.index_type == space.index_type
    )
