"""Label normalisation: class labels to ids with a stored label set; regression targets to floats."""

from __future__ import annotations

import math
import re
from typing import Any

from registry.errors import InvalidDataError

_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value == ""


def _as_int(value: Any) -> int | None:
    """The integer a label stands for (1, 1.0, True -> 1), or None for a string label."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def classification_labels(
    labels: list[tuple[int, Any]], column: str, names: list[Any] | None = None
) -> tuple[list[int], list[str]]:
    """Map raw class labels to ids 0..K-1 and a label set.

    Integer labels keep their order (label set = their names from ``names`` when given, else the
    numbers as text); string labels are sorted.

    Args:
        labels: (row number, raw label) pairs.
        column: Label column name, for messages.
        names: Optional per-row label names (a ``label_name`` column), aligned with the raw rows.

    Returns:
        (label id per item, label set).

    Raises:
        InvalidDataError: Missing/NaN labels, mixed numbers and strings, non-integer floats, or
            fewer than two classes.
    """
    missing = [row for row, value in labels if _is_missing(value)]
    if missing:
        raise InvalidDataError(
            f"{len(missing)} rows have no label in {column!r} (first rows: {missing[:5]}); "
            "drop or fix them, or pick another column with --label"
        )
    ints = [_as_int(v) for _, v in labels]
    strings = [v for (_, v), n in zip(labels, ints, strict=True) if n is None]
    odd = [v for v in strings if not isinstance(v, str)]
    if odd:
        raise InvalidDataError(
            f"label {odd[0]!r} in {column!r} is neither a class name nor an integer; "
            "use --format regression for numeric targets"
        )
    if strings and len(strings) != len(labels):
        raise InvalidDataError(
            f"labels in {column!r} mix numbers and strings (e.g. {strings[0]!r}); make them one type"
        )
    _check_text_numbers(strings, column)
    if strings:
        label_set = sorted(set(strings))
        index = {name: i for i, name in enumerate(label_set)}
        ids = [index[s] for s in strings]
    else:
        distinct = sorted({n for n in ints if n is not None})
        index = {value: i for i, value in enumerate(distinct)}
        ids = [index[n] for n in ints if n is not None]
        label_set = _int_names(distinct, labels, ints, names)
    if len(label_set) < 2:
        raise InvalidDataError(
            f"only one class ({label_set[0]!r}) in {column!r}; a classification task needs at least two "
            "(check --label, or the sample limit)"
        )
    return ids, label_set


def _check_text_numbers(strings: list[str], column: str) -> None:
    """Refuse string labels that mix numbers written as text with other names: a CSV column of
    ``1`` and ``pos`` arrives as strings, where JSONL keeps the number and is refused above.

    Args:
        strings: The string labels (all of them, or none).
        column: Label column name, for the message.

    Raises:
        InvalidDataError: Some labels are numbers written as text and others are not.
    """
    numeric = [s for s in strings if _NUMBER.fullmatch(s.strip())]
    if numeric and len(numeric) != len(strings):
        other = next(s for s in strings if not _NUMBER.fullmatch(s.strip()))
        raise InvalidDataError(
            f"labels in {column!r} mix numbers and strings (e.g. {numeric[0]!r} and {other!r}); "
            "make them one type"
        )


def _int_names(
    distinct: list[int], labels: list[tuple[int, Any]], ints: list[int | None], names: list[Any] | None
) -> list[str]:
    """Names of integer classes: from a label-name column when present, else the numbers."""
    found: dict[int, str] = {}
    if names is not None:
        for (row, _), value in zip(labels, ints, strict=True):
            name = names[row]
            if value is not None and isinstance(name, str) and name:
                found.setdefault(value, name)
    return [found.get(v, str(v)) for v in distinct]


def regression_label(value: Any, row: int, column: str) -> float:
    """A finite float target.

    Raises:
        InvalidDataError: Missing, NaN, infinite, or text that is not a number.
    """
    if _is_missing(value):
        raise InvalidDataError(f"row {row}: no regression target in {column!r}; drop or fix the row")
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise InvalidDataError(
            f"row {row}: regression column {column!r} holds text ({str(value)[:40]!r}); pick a numeric "
            "column with --label, or use --format classification"
        ) from exc
    if isinstance(value, bool) or not math.isfinite(number):
        raise InvalidDataError(f"row {row}: regression target {value!r} in {column!r} is not a finite number")
    return number
