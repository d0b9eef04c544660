"""Column detection never drops a text-like column silently (issue 20, item 4).

A column is *text-like* when most rows hold a string, most of those strings are several words, and
they are mostly distinct: a sentence, an answer, a passage. Ids (one word), categories (repeated
values) and ``label_name`` are not. After the text, pair and label columns are chosen, any other
text-like column would vanish from the stored examples; ``_text_task`` then refuses (or, when the
user named the text columns, records a warning).
"""

from __future__ import annotations

from typing import Any

SAMPLE_ROWS = 200  # enough rows to tell prose from ids or categories, cheap on a large table
NOT_TEXT = frozenset({"label_name", "id", "idx", "uid", "guid"})


def is_text_like(rows: list[dict[str, Any]], column: str) -> bool:
    """Whether ``column`` holds free text (see the module docstring).

    Args:
        rows: Raw rows.
        column: A column name.

    Returns:
        True for prose-like columns.
    """
    values = [r.get(column) for r in rows[:SAMPLE_ROWS]]
    strings = [v.strip() for v in values if isinstance(v, str) and v.strip()]
    if not strings or len(strings) * 2 < len(values):
        return False
    several_words = sum(1 for v in strings if len(v.split()) >= 2)
    return several_words * 2 >= len(strings) and len(set(strings)) * 2 > len(strings)


def unused_text_columns(rows: list[dict[str, Any]], columns: list[str], used: set[str | None]) -> list[str]:
    """Text-like columns that the chosen column map leaves out.

    Args:
        rows: Raw rows.
        columns: Every column, in source order.
        used: The columns the task reads (text, text pair, label).

    Returns:
        The left-out text-like columns, in source order.
    """
    return [c for c in columns if c not in used and c.lower() not in NOT_TEXT and is_text_like(rows, c)]


def refusal(unused: list[str], chosen: dict[str, str | None], columns: list[str]) -> str:
    """The message that refuses to drop ``unused`` (the problem, the columns, the fix).

    Args:
        unused: Text-like columns left out.
        chosen: The detected column map.
        columns: Every column seen.

    Returns:
        One line.
    """
    picked = ", ".join(f"{role}={col}" for role, col in chosen.items() if col)
    return (
        f"column(s) {', '.join(unused)} hold text that the detected columns ({picked}) would drop; "
        f"pass --text COL and --text-pair COL to say which texts the task reads (columns seen: "
        f"{', '.join(columns)})"
    )
