"""`filter_index.sorted_unique` equals `np.unique` on 1-D integer arrays (it replaces it on the read
path because `np.unique` imports `numpy.ma`)."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from registry.filter_index import sorted_unique


@given(st.lists(st.integers(min_value=-(2**62), max_value=2**62), max_size=200))
def test_sorted_unique_equals_numpy_unique(values: list[int]) -> None:
    arr = np.asarray(values, dtype=np.int64)
    got = sorted_unique(arr)
    assert got.dtype == np.int64 and np.array_equal(got, np.unique(arr))
