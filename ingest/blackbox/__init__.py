"""Black boxes for model task embeddings (MTE): anything that maps probe texts to class
probabilities. FUTE never needs a black box's weights or gradients, only these outputs.

Every implementation satisfies :class:`BlackBox`. Outputs are cached in SQL per (black box, probe
text) by ``ingest.mte``, so a new space never queries a black box again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

Probe = tuple[str, str | None]


class BlackBox(Protocol):
    """A model seen only through its class probabilities."""

    @property
    def n_classes(self) -> int:
        """Number of classes (columns of ``predict``)."""
        ...

    def predict(self, probes: Sequence[Probe]) -> npt.NDArray[np.float32]:
        """Class probabilities of each probe (text, optional second text).

        Args:
            probes: n probes.

        Returns:
            float32 array of shape (n, n_classes); rows are finite, non-negative and sum to 1.
        """
        ...


def check_probabilities(probs: npt.ArrayLike, n: int, n_classes: int) -> npt.NDArray[np.float32]:
    """Validate a black box's output.

    Raises:
        ValueError: Wrong shape, non-finite or negative values, or rows not summing to 1.
    """
    arr = np.asarray(probs, dtype=np.float32)
    if arr.shape != (n, n_classes):
        raise ValueError(f"black box returned shape {arr.shape}, expected ({n}, {n_classes})")
    if not np.isfinite(arr).all() or (arr < 0).any():
        raise ValueError("black box returned NaN, infinite or negative probabilities")
    if not np.allclose(arr.sum(axis=1), 1.0, atol=1e-3):
        raise ValueError("black box probabilities do not sum to 1 per probe")
    return arr
