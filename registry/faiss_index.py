"""FAISS index of one space: build, add, remove, search, (de)serialise.

Exact search is ``IndexIDMap2(IndexFlatIP|L2)``; ``ivf`` is an ``IndexIVFFlat`` with a direct map,
trained from the vectors it is built with. FAISS ids are the SQL primary keys of the embeddings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import faiss as _faiss
import numpy as np
import numpy.typing as npt

from registry.errors import ConfigError

# faiss's SWIG-generated stubs miss keyword arguments (SearchParameters(sel=...)) and nullable
# returns; treat the module as untyped rather than scatter ignores.
faiss: Any = _faiss

# ivfpq: IVF with product-quantised codes (m bytes per vector at 8 bits), for spaces whose raw
# vectors do not fit in memory. No HNSW: FAISS's HNSW cannot remove ids, and rows are deleted.
INDEX_TYPES = ("flat", "ivf", "ivfpq")
# Training sample drawn from SQL for approximate indexes (the rest is streamed in batches).
TRAIN_MAX = 100_000
# FAISS warns below ~39 training points per centroid; keep lists populated.
_POINTS_PER_LIST = 39


@dataclass(frozen=True)
class IndexSpec:
    """What kind of FAISS index a space uses.

    Attributes:
        dim: Vector dimension.
        metric: ``cosine`` (inner product on normalised vectors), ``ip`` or ``l2``.
        index_type: ``flat`` (exact) or ``ivf`` (approximate, trained).
        nlist: Upper bound on IVF lists; the real count shrinks for small spaces.
        nprobe: IVF lists visited by an unfiltered search.
    """

    dim: int
    metric: str
    index_type: str = "flat"
    nlist: int = 256
    nprobe: int = 16
    min_train: int = 1024
    pq_m: int = 0
    pq_nbits: int = 8

    def validate(self) -> None:
        """Raise ConfigError for an unknown index type or metric, or a bad dimension."""
        if self.index_type not in INDEX_TYPES:
            raise ConfigError(
                f"unknown index type {self.index_type!r}; choose one of {', '.join(INDEX_TYPES)}"
            )
        if self.metric not in ("cosine", "ip", "l2"):
            raise ConfigError(f"unknown metric {self.metric!r}; choose one of cosine, ip, l2")
        if self.dim <= 0:
            raise ConfigError(f"dimension must be positive, got {self.dim}")

    @property
    def faiss_metric(self) -> int:
        """FAISS metric constant."""
        return int(faiss.METRIC_L2 if self.metric == "l2" else faiss.METRIC_INNER_PRODUCT)


def build(spec: IndexSpec, ids: npt.NDArray[np.int64], vectors: npt.NDArray[np.float32]) -> Any:
    """Build an index holding exactly ``ids`` → ``vectors`` (already normalised for cosine).

    Args:
        spec: The space's index spec.
        ids: int64 array of shape (n,), unique.
        vectors: float32 array of shape (n, dim).

    Returns:
        A populated FAISS index.
    """
    index = empty(spec, len(ids), vectors[:TRAIN_MAX] if trains(spec, len(ids)) else None)
    if len(ids):
        index.add_with_ids(vectors, ids)
    return index


def trains(spec: IndexSpec, n: int) -> bool:
    """True when a space of ``n`` vectors gets a trained (approximate) index rather than exact
    search (below the threshold exact search is both better and cheap)."""
    return spec.index_type != "flat" and n >= train_threshold(spec)


def train_threshold(spec: IndexSpec) -> int:
    """Vectors needed to train: ``min_train``, and for IVF-PQ at least one per PQ centroid."""
    return max(spec.min_train, 2**spec.pq_nbits) if spec.index_type == "ivfpq" else spec.min_train


def empty(spec: IndexSpec, n: int, train: npt.NDArray[np.float32] | None) -> Any:
    """An empty index for a space of ``n`` vectors: trained on ``train`` when ``trains`` says so,
    else the exact bootstrap index."""
    if train is not None and trains(spec, n):
        return _trained_ivf(spec, train)
    quantizer = faiss.IndexFlatL2(spec.dim) if spec.metric == "l2" else faiss.IndexFlatIP(spec.dim)
    return faiss.IndexIDMap2(quantizer)


def should_train(spec: IndexSpec, index: Any) -> bool:
    """True when an approximate space still runs on its exact bootstrap index but now holds
    enough vectors to train."""
    return not isinstance(index, faiss.IndexIVF) and trains(spec, int(index.ntotal))


def pq_subquantizers(dim: int, wanted: int) -> int:
    """PQ sub-vectors: ``wanted`` if it divides ``dim``, else the largest divisor of ``dim`` of at
    most 64 that leaves at least 4 dimensions per sub-vector (1 when none)."""
    if wanted and dim % wanted == 0:
        return wanted
    return max([m for m in range(1, min(64, dim // 4) + 1) if dim % m == 0] or [1])


def _trained_ivf(spec: IndexSpec, vectors: npt.NDArray[np.float32]) -> Any:
    """An IVF index trained on ``vectors`` with a direct map (so ids can be removed and read back)."""
    nlist = max(1, min(spec.nlist, len(vectors) // _POINTS_PER_LIST))
    quantizer = faiss.IndexFlatL2(spec.dim) if spec.metric == "l2" else faiss.IndexFlatIP(spec.dim)
    if spec.index_type == "ivfpq":
        m = pq_subquantizers(spec.dim, spec.pq_m)
        index = faiss.IndexIVFPQ(quantizer, spec.dim, nlist, m, spec.pq_nbits, spec.faiss_metric)
    else:
        index = faiss.IndexIVFFlat(quantizer, spec.dim, nlist, spec.faiss_metric)
    index.cp.seed = 1234  # deterministic k-means
    index.train(vectors)
    index.set_direct_map_type(faiss.DirectMap.Hashtable)
    index.nprobe = min(spec.nprobe, nlist)
    return index


def remove(index: Any, ids: npt.NDArray[np.int64]) -> int:
    """Remove ids from the index; returns how many were removed."""
    if len(ids) == 0:
        return 0
    arr = np.ascontiguousarray(ids, dtype=np.int64)
    # An IVF hashtable direct map only accepts an explicit id array, not a batch selector.
    selector = faiss.IDSelectorArray(len(arr), faiss.swig_ptr(arr))
    return int(index.remove_ids(selector))


def all_ids(index: Any) -> npt.NDArray[np.int64]:
    """Every id stored in the index, sorted."""
    if isinstance(index, faiss.IndexIDMap2):
        return np.sort(faiss.vector_to_array(index.id_map).astype(np.int64))
    ivf = faiss.extract_index_ivf(index)
    invlists = ivf.invlists
    parts = [
        faiss.rev_swig_ptr(invlists.get_ids(i), invlists.list_size(i)).copy()
        for i in range(ivf.nlist)
        if invlists.list_size(i) > 0
    ]
    return np.sort(np.concatenate(parts).astype(np.int64)) if parts else np.zeros(0, dtype=np.int64)


def search(
    index: Any,
    queries: npt.NDArray[np.float32],
    k: int,
    allowed: npt.NDArray[np.int64] | None = None,
    nprobe: int | None = None,
    filter_nprobe: int | None = None,
    selector: Any = None,
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    """k-nearest search, optionally restricted to ``allowed`` ids before ranking.

    Restricting inside FAISS (a bitmap or batch id selector) instead of post-filtering a global top-k is what
    guarantees k results whenever k allowed vectors exist. A filtered IVF search visits every list
    (exact over the allowed subset) unless ``filter_nprobe`` says how many (``registry.filter_ivf``
    calibrates it per filter).

    Args:
        index: The space's index.
        queries: float32 array of shape (nq, dim), already normalised for cosine.
        k: Results per query.
        allowed: Optional int64 array of permitted ids.
        nprobe: IVF lists an unfiltered search visits (None: the index's own setting); the
            recall/speed knob of approximate spaces.
        filter_nprobe: IVF lists a filtered search visits (None: all of them, exact).
        selector: A prepared ``make_selector(allowed)[0]`` (its buffer kept alive by the caller),
            so repeated searches with one filter do not rebuild the bitmap.

    Returns:
        (scores, ids), each of shape (nq, k); missing slots have id -1. Scores are similarities
        (higher is better): inner products, or negated squared L2 distances.
    """
    k = max(1, min(k, max(index.ntotal, 1)))
    params = None
    if allowed is not None:
        _keep = None
        if selector is None:
            selector, _keep = make_selector(allowed)
        if isinstance(index, faiss.IndexIVF):
            probe = index.nlist if filter_nprobe is None else max(1, min(filter_nprobe, index.nlist))
            params = faiss.SearchParametersIVF(sel=selector, nprobe=probe)
        else:
            params = faiss.SearchParameters(sel=selector)
    elif nprobe is not None and isinstance(index, faiss.IndexIVF):
        params = faiss.SearchParametersIVF(nprobe=max(1, min(nprobe, index.nlist)))
    dist, ids = index.search(queries, k, params=params)
    if index.metric_type == faiss.METRIC_L2:
        dist = -dist
    return dist.astype(np.float32), ids.astype(np.int64)


# A bitmap costs (max id) / 8 bytes; past this many bytes per allowed id a hash set is smaller.
_BITMAP_BYTES_PER_ID = 64


def make_selector(allowed: npt.NDArray[np.int64]) -> tuple[Any, Any]:
    """A FAISS id selector for ``allowed`` and the buffer it points into (keep it alive).

    A bitmap makes membership one bit test per stored vector (``IDSelectorBatch`` probes a
    bloom filter and a hash set); it is used unless ids are so sparse that it would be large.
    """
    ids = np.ascontiguousarray(allowed, dtype=np.int64)
    top = int(ids.max()) + 1 if len(ids) else 1
    if top // 8 > _BITMAP_BYTES_PER_ID * max(len(ids), 1024):
        return faiss.IDSelectorBatch(ids), ids
    flags = np.zeros(top, dtype=np.bool_)
    flags[ids] = True
    bits = np.packbits(flags, bitorder="little")
    return faiss.IDSelectorBitmap(len(bits), faiss.swig_ptr(bits)), bits  # length in bytes


def serialize(index: Any) -> bytes:
    """Index as bytes (FAISS's own format)."""
    return bytes(faiss.serialize_index(index).tobytes())


def deserialize(blob: bytes) -> Any:
    """Bytes back to an index (raises RuntimeError from FAISS on garbage)."""
    return faiss.deserialize_index(np.frombuffer(blob, dtype=np.uint8))


def clone(index: Any) -> Any:
    """An in-memory copy of an index (also of a memory-mapped one)."""
    return deserialize(serialize(index))


def read_mmap(path: str) -> Any:
    """Open a serialised index memory-mapped and read-only (``IO_FLAG_MMAP_IFC``): the vectors stay
    in the page cache shared by every reader process instead of one heap copy each. The result must
    never be modified (FAISS aborts the process on a write to read-only mapped lists).

    Raises:
        RuntimeError: FAISS could not parse the file.
    """
    return faiss.read_index(path, faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY)
