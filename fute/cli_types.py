"""argparse value types that check ranges, so a bad number is one usage line (exit 2) instead of
a traceback deep in the library (``--rrf-k -1`` divided by zero, ``--draws 0`` raised ValueError)."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def int_range(low: int, high: int) -> Callable[[str], int]:
    """An argparse ``type=`` that accepts integers in ``[low, high]``.

    Args:
        low: Smallest allowed value.
        high: Largest allowed value.

    Returns:
        The converter; it raises ``argparse.ArgumentTypeError`` naming the range.
    """

    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer; give {low}..{high}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is out of range; give {low}..{high}")
        return value

    convert.__name__ = f"integer {low}..{high}"
    return convert
