"""Vector encoding: float32 little-endian bytes in SQL, checked against the space's dimension."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from registry.errors import InvalidVectorError

F32 = np.dtype("<f4")
METRICS = ("cosine", "ip", "l2")


def as_matrix(vectors: npt.ArrayLike, dim: int) -> npt.NDArray[np.float32]:
    """Validate and convert vectors to a C-contiguous float32 matrix.

    Args:
        vectors: One vector of shape (dim,) or a matrix of shape (n, dim).
        dim: The space's dimension.

    Returns:
        A float32 array of shape (n, dim).

    Raises:
        InvalidVectorError: Wrong rank or width, or NaN / infinite values.
    """
    arr = np.asarray(vectors, dtype=np.float32)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != dim:
        raise InvalidVectorError(
            f"vector shape {tuple(np.shape(vectors))} does not match the space's dimension {dim}; "
            f"pass shape ({dim},) or (n, {dim})"
        )
    if not np.isfinite(arr).all():
        raise InvalidVectorError(
            "vector contains NaN or infinite values; fix the embedding before storing it"
        )
    return np.ascontiguousarray(arr)


def prepare(vectors: npt.ArrayLike, dim: int, metric: str) -> npt.NDArray[np.float32]:
    """Validate vectors and apply the metric's normalisation (L2 for cosine).

    Raises:
        InvalidVectorError: As ``as_matrix``, or a zero vector under the cosine metric.
    """
    arr = as_matrix(vectors, dim)
    if metric == "cosine":
        norms = np.linalg.norm(arr, axis=1, keepdims=True)
        if (norms == 0).any():
            raise InvalidVectorError("zero vector cannot be stored in a cosine space (it has no direction)")
        arr = np.ascontiguousarray(arr / norms, dtype=np.float32)
    return arr


def encode(vector: npt.NDArray[np.float32]) -> bytes:
    """One float32 vector as little-endian bytes."""
    return np.ascontiguousarray(vector, dtype=F32).tobytes()


def decode(blob: bytes, dim: int) -> npt.NDArray[np.float32]:
    """Bytes back to a float32 vector, checked against the dimension.

    Raises:
        InvalidVectorError: The byte length is not ``4 * dim``.
    """
    if len(blob) != 4 * dim:
        raise InvalidVectorError(f"stored vector has {len(blob)} bytes, expected {4 * dim} for dim {dim}")
    return np.frombuffer(blob, dtype=F32).astype(np.float32)
