"""Any Python function that returns class probabilities, as a black box."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

from ingest.blackbox import Probe, check_probabilities
from registry.errors import ConfigError

ProbabilityFn = Callable[[Sequence[Probe]], npt.ArrayLike]


class CallableBlackBox:
    """Wraps ``fn(probes) -> (n, n_classes) probabilities`` and checks every output."""

    def __init__(self, fn: ProbabilityFn, n_classes: int) -> None:
        """Wrap a function.

        Args:
            fn: Called with the list of probes; returns anything array-like of shape (n, n_classes)
                whose rows are non-negative and sum to 1 (it must return probabilities, not logits).
            n_classes: Number of classes (at least 2).

        Raises:
            ConfigError: fn is not callable, or n_classes < 2.
        """
        if not callable(fn):
            raise ConfigError(f"CallableBlackBox needs a callable, got {type(fn).__name__}")
        if n_classes < 2:
            raise ConfigError(f"a black box needs at least 2 classes, got {n_classes}")
        self._fn = fn
        self._n_classes = n_classes

    @property
    def n_classes(self) -> int:
        """Number of classes."""
        return self._n_classes

    def predict(self, probes: Sequence[Probe]) -> npt.NDArray[np.float32]:
        """Call the function and validate what it returns.

        Args:
            probes: n probes.

        Returns:
            float32 array (n, n_classes).

        Raises:
            ValueError: Wrong shape, NaN/inf/negative values, or rows not summing to 1 (the message names
                the function).
        """
        output = self._fn(list(probes))  # the function's own errors pass through unchanged
        try:
            return check_probabilities(output, len(probes), self._n_classes)
        except (TypeError, ValueError) as exc:  # TypeError: output not convertible to a float array
            name = getattr(self._fn, "__qualname__", type(self._fn).__name__)
            raise ValueError(f"callable black box {name}: {exc}") from exc
