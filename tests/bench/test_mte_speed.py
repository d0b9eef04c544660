"""The MTE benchmark's black-box timer passes outputs through and counts what it timed."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from bench.mte_speed import TimedBox


class SlowBox:
    """Two classes; sleeps 10 ms per call so the timer has something to see."""

    n_classes = 2

    def predict(self, probes: Sequence[Any]) -> npt.NDArray[np.float32]:
        time.sleep(0.01)
        return np.tile(np.asarray([[0.25, 0.75]], dtype=np.float32), (len(probes), 1))


def test_timed_box_passes_outputs_through_and_accumulates_time_and_probes() -> None:
    box = TimedBox(SlowBox())
    assert box.n_classes == 2
    first = box.predict([("a", None), ("b", None), ("c", None)])
    box.predict([("d", None)])
    assert first.shape == (3, 2) and np.allclose(first[:, 1], 0.75)
    assert box.probes == 4
    assert 0.02 <= box.seconds < 1.0
