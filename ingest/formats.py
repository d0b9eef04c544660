"""Task formats: detect columns, normalise rows into canonical examples, validate labels.

Canonical examples (stored as JSON in the ``examples`` table):

* classification / pair-classification: ``{"text", "text_pair", "label": int}`` + a label set
* regression / pair-regression: ``{"text", "text_pair", "label": float}``
* multiple-choice: ``{"context", "question", "choices": [str], "label": int}``
* extractive-qa: ``{"context", "question", "answers": [str]}`` (empty list = unanswerable)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ingest.column_check import refusal, unused_text_columns
from ingest.labels import classification_labels, regression_label
from registry.errors import InvalidDataError

FORMATS = (
    "classification",
    "pair-classification",
    "regression",
    "pair-regression",
    "multiple-choice",
    "extractive-qa",
)
MAX_CHARS = 20_000  # longer texts are truncated (with a warning): the surrogate reads <= 512 tokens
TEXT_COLS = ("text", "sentence", "sentence1", "premise", "question", "review", "content", "document", "tweet")
# question/answer, question/context and prompt/response tables are pairs (second text after the first)
PAIR_COLS = ("text_pair", "sentence2", "hypothesis", "passage", "answer", "context", "response")
LABEL_COLS = ("label", "labels", "class", "category", "target", "score", "rating", "sentiment")
CONTEXT_COLS = ("context", "goal", "ctx", "sentence", "passage", "text")
CHOICE_COLS = ("choices", "endings", "options")


@dataclass(frozen=True)
class ColumnMap:
    """Columns named by the user (``--text``, ``--text-pair``, ``--label``); None = detect."""

    text: str | None = None
    text_pair: str | None = None
    label: str | None = None


@dataclass
class TaskData:
    """Normalised examples of one task."""

    task_format: str
    examples: list[dict[str, Any]]
    label_set: list[str] | None
    columns: dict[str, str | None]
    warnings: list[str] = field(default_factory=list)


def canonical_format(name: str) -> str:
    """Accept ``pair classification``, ``pair_classification`` ...; return the canonical name.

    Raises:
        InvalidDataError: Unknown format (lists the valid ones).
    """
    norm = name.strip().lower().replace(" ", "-").replace("_", "-")
    if norm not in FORMATS:
        raise InvalidDataError(f"unknown task format {name!r}; choose one of {', '.join(FORMATS)}")
    return norm


def pick(columns: list[str], wanted: str | None, candidates: tuple[str, ...], role: str, flag: str) -> str:
    """The column for a role: the user's choice (checked) or the first known candidate.

    Raises:
        InvalidDataError: The named column is missing, or none can be detected; lists the columns.
    """
    seen = ", ".join(columns) or "none"
    if wanted is not None:
        if wanted not in columns:
            raise InvalidDataError(f"no column {wanted!r} for the {role}; columns seen: {seen}")
        return wanted
    for cand in candidates:
        if cand in columns:
            return cand
    raise InvalidDataError(
        f"cannot tell which column holds the {role}; pass {flag} COL (columns seen: {seen})"
    )


def optional(
    columns: list[str], wanted: str | None, candidates: tuple[str, ...], taken: set[str]
) -> str | None:
    """Like ``pick`` for an optional role: None when nothing suitable exists."""
    if wanted is not None:
        return pick(columns, wanted, (), "text pair", "--text-pair")
    return next((c for c in candidates if c in columns and c not in taken), None)


def detect_format(columns: list[str], rows: list[dict[str, Any]], cmap: ColumnMap) -> str:
    """Guess the format from the columns (and label values for regression)."""
    if "answers" in columns and any(c in columns for c in CONTEXT_COLS):
        return "extractive-qa"
    if any(c in columns for c in CHOICE_COLS):
        return "multiple-choice"
    label = pick(columns, cmap.label, LABEL_COLS, "label", "--label")
    text = pick(columns, cmap.text, TEXT_COLS, "text", "--text")
    pair = optional(columns, cmap.text_pair, PAIR_COLS, {text, label})
    if pair is not None and cmap.text_pair is None and not _mostly_filled(rows, pair):
        pair = None  # e.g. a "text_pair" column that is null on every row of a single-text task
    values = [r.get(label) for r in rows]
    numeric = [v for v in values if isinstance(v, float) and not math.isnan(v)]
    is_regression = bool(numeric) and any(not v.is_integer() for v in numeric)
    kind = "regression" if is_regression else "classification"
    return f"pair-{kind}" if pair else kind


def _mostly_filled(rows: list[dict[str, Any]], column: str) -> bool:
    """True when at least half the rows hold a non-empty value in ``column``."""
    filled = sum(1 for r in rows if r.get(column) not in (None, ""))
    return filled * 2 >= len(rows)


def clean_text(value: Any, row: int, column: str, warnings: list[str]) -> str | None:
    """A stripped string; None for missing / empty; NUL bytes removed; long text truncated."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).replace("\x00", "").strip()
    if len(text) > MAX_CHARS:
        warnings.append(f"row {row}: {column!r} truncated from {len(text)} to {MAX_CHARS} characters")
        text = text[:MAX_CHARS]
    return text or None


def normalise(rows: list[dict[str, Any]], columns: list[str], fmt: str | None, cmap: ColumnMap) -> TaskData:
    """Turn raw rows into canonical, validated examples of one format.

    Args:
        rows: Raw rows (dicts keyed by column).
        columns: Column names in source order.
        fmt: Task format, or None to detect.
        cmap: Column choices from the user.

    Returns:
        The normalised task data.

    Raises:
        InvalidDataError: Empty data, unknown columns, missing/NaN/mixed labels, one class, text in a
            regression column, bad choices or answers.
    """
    if not rows:
        raise InvalidDataError("the dataset is empty (0 rows); check the file or the split")
    task_format = canonical_format(fmt) if fmt else detect_format(columns, rows, cmap)
    if task_format == "multiple-choice":
        data = _multiple_choice(rows, columns, cmap)
    elif task_format == "extractive-qa":
        data = _extractive_qa(rows, columns, cmap)
    else:
        data = _text_task(rows, columns, cmap, task_format)
    if not data.examples:
        raise InvalidDataError("no usable rows: every row lacks text; check --text / --text-pair")
    return data


def _text_task(rows: list[dict[str, Any]], columns: list[str], cmap: ColumnMap, fmt: str) -> TaskData:
    text_col = pick(columns, cmap.text, TEXT_COLS, "text", "--text")
    label_col = pick(columns, cmap.label, LABEL_COLS, "label", "--label")
    pair_col = (
        optional(columns, cmap.text_pair, PAIR_COLS, {text_col, label_col})
        if fmt.startswith("pair")
        else None
    )
    if fmt.startswith("pair") and pair_col is None:
        raise InvalidDataError(
            f"format {fmt} needs a second text; pass --text-pair COL (columns seen: {', '.join(columns)})"
        )
    warnings: list[str] = []
    _check_unused(
        rows, columns, cmap, {"text": text_col, "text_pair": pair_col, "label": label_col}, warnings
    )
    kept: list[dict[str, Any]] = []
    raw_labels: list[tuple[int, Any]] = []
    dropped = 0
    for i, row in enumerate(rows):
        text = clean_text(row.get(text_col), i, text_col, warnings)
        pair = clean_text(row.get(pair_col), i, pair_col, warnings) if pair_col else None
        if text is None or (pair_col and pair is None):
            dropped += 1
            continue
        kept.append({"text": text, "text_pair": pair})
        raw_labels.append((i, row.get(label_col)))
    if not kept:
        missing = f"{text_col!r}" + (f" and {pair_col!r}" if pair_col else "")
        raise InvalidDataError(
            f"no usable rows: every row lacks text in {missing}; check --text / --text-pair"
        )
    if dropped:
        warnings.append(f"{dropped} rows without text were skipped")
    names = [r.get("label_name") for r in rows] if "label_name" in columns else None
    label_set = _attach_labels(kept, raw_labels, label_col, fmt, names)
    cols = {"text": text_col, "text_pair": pair_col, "label": label_col}
    return TaskData(fmt, kept, label_set, cols, warnings)


def _check_unused(
    rows: list[dict[str, Any]],
    columns: list[str],
    cmap: ColumnMap,
    chosen: dict[str, str | None],
    warnings: list[str],
) -> None:
    """Refuse to drop a text-like column unless the user named the text columns (then warn).

    Raises:
        InvalidDataError: A text-like column would be dropped by detected columns.
    """
    unused = unused_text_columns(rows, columns, set(chosen.values()))
    if not unused:
        return
    if cmap.text is None and cmap.text_pair is None:
        raise InvalidDataError(refusal(unused, chosen, columns))
    warnings.append(f"column(s) {', '.join(unused)} not used (not named by --text / --text-pair)")


def _attach_labels(
    kept: list[dict[str, Any]], raw: list[tuple[int, Any]], column: str, fmt: str, names: list[Any] | None
) -> list[str] | None:
    """Set each kept example's normalised label; returns the label set (None for regression)."""
    if fmt.endswith("regression"):
        for example, (i, value) in zip(kept, raw, strict=True):
            example["label"] = regression_label(value, i, column)
        return None
    ids, label_set = classification_labels(raw, column, names)
    for example, label_id in zip(kept, ids, strict=True):
        example["label"] = label_id
    return label_set


def _multiple_choice(rows: list[dict[str, Any]], columns: list[str], cmap: ColumnMap) -> TaskData:
    context_col = pick(columns, cmap.text, CONTEXT_COLS, "context", "--text")
    choice_col = pick(columns, None, CHOICE_COLS, "choices", "--format")
    label_col = pick(columns, cmap.label, LABEL_COLS, "label", "--label")
    question_col = optional(columns, cmap.text_pair, ("question",), {context_col})
    warnings: list[str] = []
    examples = []
    for i, row in enumerate(rows):
        choices = row.get(choice_col)
        if not isinstance(choices, list) or len(choices) < 2:
            raise InvalidDataError(
                f"row {i}: {choice_col!r} must be a list of at least 2 choices, got {choices!r:.60}"
            )
        label = row.get(label_col)
        if isinstance(label, bool) or not isinstance(label, int) or not 0 <= label < len(choices):
            raise InvalidDataError(
                f"row {i}: label {label!r} is not an index into its {len(choices)} choices (0..{len(choices) - 1})"
            )
        examples.append(
            {
                "context": clean_text(row.get(context_col), i, context_col, warnings) or "",
                "question": clean_text(row.get(question_col), i, question_col, warnings)
                if question_col
                else None,
                "choices": [clean_text(c, i, choice_col, warnings) or "" for c in choices],
                "label": label,
            }
        )
    cols = {"text": context_col, "text_pair": question_col, "label": label_col, "choices": choice_col}
    return TaskData("multiple-choice", examples, None, cols, warnings)


def _extractive_qa(rows: list[dict[str, Any]], columns: list[str], cmap: ColumnMap) -> TaskData:
    context_col = pick(columns, cmap.text, CONTEXT_COLS, "context", "--text")
    question_col = pick(columns, cmap.text_pair, ("question",), "question", "--text-pair")
    answers_col = pick(columns, cmap.label, ("answers",), "answers", "--label")
    warnings: list[str] = []
    examples = []
    for i, row in enumerate(rows):
        answers = row.get(answers_col)
        if isinstance(answers, dict):  # Hugging Face SQuAD layout: {"text": [...], "answer_start": [...]}
            answers = answers.get("text")
        if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
            raise InvalidDataError(
                f"row {i}: {answers_col!r} must be a list of answer strings, got {answers!r:.60}"
            )
        context = clean_text(row.get(context_col), i, context_col, warnings)
        question = clean_text(row.get(question_col), i, question_col, warnings)
        if context is None or question is None:
            raise InvalidDataError(f"row {i}: extractive QA needs both a context and a question")
        examples.append({"context": context, "question": question, "answers": answers})
    cols: dict[str, str | None] = {"text": context_col, "text_pair": question_col, "label": answers_col}
    return TaskData("extractive-qa", examples, None, cols, warnings)
