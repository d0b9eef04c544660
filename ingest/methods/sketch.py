"""A fixed, seeded count-sketch: compresses a per-parameter vector (22.7M entries for MiniLM) to the
space's dimension. Each input index i goes to bucket h(i) with sign s(i); the sketch preserves inner
products in expectation, so cosine similarities between task embeddings survive compression."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import numpy.typing as npt


@lru_cache(maxsize=2)
def _hashes(n_in: int, dim: int, seed: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Bucket and sign of every input index (cached: computed once per job)."""
    rng = np.random.default_rng(seed)
    buckets = rng.integers(0, dim, size=n_in, dtype=np.int64)
    signs = rng.integers(0, 2, size=n_in, dtype=np.int8).astype(np.float64) * 2.0 - 1.0
    return buckets, signs


def count_sketch(vector: npt.NDArray[np.float64], dim: int, seed: int) -> npt.NDArray[np.float64]:
    """Compress ``vector`` (n,) to (dim,) with the sketch of (n, dim, seed).

    Raises:
        ValueError: ``dim`` < 1.
    """
    if dim < 1:
        raise ValueError(f"sketch dimension must be positive, got {dim}")
    buckets, signs = _hashes(len(vector), dim, seed)
    return np.asarray(np.bincount(buckets, weights=signs * vector, minlength=dim), dtype=np.float64)
