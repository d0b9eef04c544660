"""Length-sorted batching shared by the local model black boxes."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt


def length_sorted_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Split indices into batches of similar length.

    Padding to the longest item of a batch wastes compute on short items; sorting first roughly halves
    CPU time on real text (measured on this project's probe pool). The stable sort keeps the result deterministic.

    Args:
        lengths: Token count of each item.
        batch_size: Items per batch (at least 1).

    Returns:
        Index lists, shortest items first; together they cover every index once.

    Raises:
        ValueError: batch_size < 1.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    order: npt.NDArray[np.int64] = np.argsort(np.asarray(lengths, dtype=np.int64), kind="stable")
    return [order[i : i + batch_size].tolist() for i in range(0, len(order), batch_size)]
