"""Value checks shared by every boundary (CLI, HTTP, Python API): tag keys and values, counts,
finite floats. Each check raises ``InvalidDataError`` naming the field, the value and the fix, so a
bad value is refused before anything is written.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any

from registry.errors import InvalidDataError

# Tag keys are filter keys too (``--where family=nli``): keep them to identifier-like words so
# that they can never collide with the reserved filter keys' syntax (``any:KEY``, ``kind=``).
TAG_KEY_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")
MAX_TAG_VALUE = 200
# Subject names: no spaces, control characters or path tricks (names appear in paths and commands).
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@+-]{0,199}$")
# Seeds reach numpy and torch, which take unsigned 32-bit (numpy) / 64-bit (torch) seeds.
MAX_SEED = 2**32 - 1


def shown(value: Any, width: int = 60) -> str:
    """``repr`` of a value cut to ``width`` characters (errors never echo a whole payload)."""
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def check_tag(key: Any, value: Any) -> tuple[str, str]:
    """A valid (key, value) tag.

    Args:
        key: Tag key: a letter, then up to 63 letters, digits, ``_``, ``.`` or ``-``.
        value: Tag value: a string, number or boolean of 1-200 characters without control characters.

    Returns:
        The tag as two strings.

    Raises:
        InvalidDataError: A bad key or value (the message names it and the rule).
    """
    if not isinstance(key, str) or not TAG_KEY_RE.match(key):
        raise InvalidDataError(
            f"invalid tag key {shown(key)}: use a letter, then up to 63 letters, digits, _ . - (e.g. family)"
        )
    if isinstance(value, bool | int | float) and not (isinstance(value, float) and not math.isfinite(value)):
        value = str(value).lower() if isinstance(value, bool) else str(value)
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_TAG_VALUE:
        raise InvalidDataError(
            f"invalid value {shown(value)} for tag {key!r}: give a string of 1-{MAX_TAG_VALUE} characters"
        )
    if any(ord(c) < 32 for c in value):
        raise InvalidDataError(f"tag {key!r} has a control character in its value; remove it")
    return key, value


def check_name(name: str) -> str:
    """Validate a subject name (no spaces, control characters or path tricks).

    Raises:
        InvalidDataError: The name does not match ``NAME_RE``.
    """
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise InvalidDataError(
            f"invalid name {str(name)[:60]!r}: use 1-200 letters, digits and . _ : @ + - (starting with a letter or digit)"
        )
    return name


def check_tags(tags: Iterable[tuple[Any, Any]]) -> tuple[tuple[str, str], ...]:
    """Every tag checked with :func:`check_tag`.

    Raises:
        InvalidDataError: The first bad tag.
    """
    return tuple(check_tag(k, v) for k, v in tags)


def int_in_range(field: str, value: Any, low: int, high: int, fix: str = "") -> int:
    """An integer (not a bool, not a float) with ``low <= value <= high``.

    Args:
        field: What the value is, named in the error (``--limit``, ``max_examples``).
        value: The value to check.
        low: Smallest allowed value.
        high: Largest allowed value.
        fix: Extra advice appended to the error.

    Returns:
        The value.

    Raises:
        InvalidDataError: Not an integer, or out of range.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidDataError(f"{field} must be an integer, got {shown(value)}{fix}")
    if not low <= value <= high:
        raise InvalidDataError(f"{field} must be between {low} and {high}, got {shown(value)}{fix}")
    return value


def finite_float(field: str, value: Any, low: float, high: float, fix: str = "") -> float:
    """A finite number with ``low < value <= high`` (``low`` excluded: learning rates, scales).

    Raises:
        InvalidDataError: Not a number, not finite, or out of range.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidDataError(f"{field} must be a number, got {shown(value)}{fix}")
    if not math.isfinite(value) or not low < value <= high:
        raise InvalidDataError(f"{field} must be a finite number in ({low:g}, {high:g}], got {value!r}{fix}")
    return float(value)
