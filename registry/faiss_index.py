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

INDEX_TYPES = ("flat", "ivf")
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
    if spec.index_type == "ivf" and len(ids) >= spec.min_train:
        index = _trained_ivf(spec, vectors)
    else:
        quantizer = faiss.IndexFlatL2(spec.dim) if spec.metric == "l2" else faiss.IndexFlatIP(spec.dim)
        index = faiss.IndexIDMap2(quantizer)
    if len(ids):
        index.add_with_ids(vectors, ids)
    return index


def should_train(spec: IndexSpec, index: Any) -> bool:
    """True when an ``ivf`` space still runs on its exact bootstrap index but now holds enough
    vectors to train IVF (below ``min_train`` exact search is both better and cheap)."""
    return (
        spec.index_type == "ivf" and not isinstance(index, faiss.IndexIVF) and index.ntotal >= spec.min_train
    )


def _trained_ivf(spec: IndexSpec, vectors: npt.NDArray[np.float32]) -> Any:
    """An IVF index trained on ``vectors`` with a direct map (so ids can be removed and read back)."""
    nlist = max(1, min(spec.nlist, len(vectors) // _POINTS_PER_LIST))
    quantizer = faiss.IndexFlatL2(spec.dim) if spec.metric == "l2" else faiss.IndexFlatIP(spec.dim)
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
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    """k-nearest search, optionally restricted to ``allowed`` ids before ranking.

    Restricting inside FAISS (a bitmap or batch id selector) instead of post-filtering a global top-k is what
    guarantees k results whenever k allowed vectors exist. A filtered IVF search visits every list
    (exact over the allowed subset).

    Args:
        index: The space's index.
        queries: float32 array of shape (nq, dim), already normalised for cosine.
        k: Results per query.
        allowed: Optional int64 array of permitted ids.
        nprobe: IVF lists an unfiltered search visits (None: the index's own setting); the
            recall/speed knob of approximate spaces.

    Returns:
        (scores, ids), each of shape (nq, k); missing slots have id -1. Scores are similarities
        (higher is better): inner products, or negated squared L2 distances.
    """
    k = max(1, min(k, max(index.ntotal, 1)))
    params = None
    if allowed is not None:
        selector, _keep = _selector(allowed)
        if isinstance(index, faiss.IndexIVF):
            params = faiss.SearchParametersIVF(sel=selector, nprobe=index.nlist)
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


def _selector(allowed: npt.NDArray[np.int64]) -> tuple[Any, Any]:
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


def read_mmap(path: str) -> Any:
    """Open a serialised index memory-mapped and read-only (``IO_FLAG_MMAP_IFC``): the vectors stay
    in the page cache shared by every reader process instead of one heap copy each. The result must
    never be modified (FAISS aborts the process on a write to read-only mapped lists).

    Raises:
        RuntimeError: FAISS could not parse the file.
    """
    return faiss.read_index(path, faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY)
