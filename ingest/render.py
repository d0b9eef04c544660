"""What the surrogate reads: one rendering of canonical examples, shared by every method (TextEmb,
TaskEmb, TuPaTE) and by every black box's pseudo-labelled probes.

Three modes, a space parameter (``render``) and part of its fingerprint:

* ``raw``: the example's own texts, nothing added (the behaviour of spaces created before rendering
  existed).
* ``labels``: the task's label names (classification) or the example's answer options (multiple
  choice) in front of the first text, so that two sentiment tasks with the same texts but
  different classes read differently.
* ``template``: a generic prompt per task format ("Premise: ... Hypothesis: ..."), with the label
  names or options in front. Retrieval-of-Experts renders examples as prompts with their answer
  choices; an embedding then sees what the task *asks*, not only what its texts are about.

Rendering never changes the labels or answers, so a rendered example is still a canonical example
of its format: the heads of TaskEmb and TuPaTE train on it unchanged (extractive QA keeps its
context untouched, because answer spans are found in it by character offset).
"""

from __future__ import annotations

from typing import Any

from registry.errors import ConfigError

RENDERS = ("raw", "labels", "template")
MAX_NAMES = 20  # a 1,000-class label set in front of every text would crowd out the text itself


def check_render(mode: str) -> str:
    """The mode, checked.

    Raises:
        ConfigError: Not one of ``RENDERS``.
    """
    if mode not in RENDERS:
        raise ConfigError(f"render={mode!r} is not one of {', '.join(RENDERS)}")
    return mode


def label_words(label_names: list[Any] | None) -> list[str]:
    """Label names worth showing: none when the names are bare numbers ("0", "1") or absent,
    because digits tell the surrogate nothing about the task."""
    if not label_names:
        return []
    names = [" ".join(str(n).replace("_", " ").split()) for n in label_names]
    if all(_is_number(n) for n in names) or not any(names):
        return []
    return names[:MAX_NAMES]


def render_examples(
    examples: list[dict[str, Any]], task_format: str, mode: str, label_names: list[Any] | None = None
) -> list[dict[str, Any]]:
    """Canonical examples rendered for the surrogate (``raw`` returns them unchanged).

    Args:
        examples: Canonical examples of one format (see ``ingest.formats``).
        task_format: Their format; probes of black boxes are ``classification``.
        mode: ``raw``, ``labels`` or ``template``.
        label_names: The task's label set (class names), or a black box's class names; None or
            numeric names render without a label line.

    Returns:
        New example dicts of the same format, labels and answers untouched.

    Raises:
        ConfigError: Unknown mode.
    """
    check_render(mode)
    if mode == "raw":
        return examples
    words = label_words(label_names)
    return [render_example(e, task_format, mode, words) for e in examples]


def render_example(example: dict[str, Any], task_format: str, mode: str, words: list[str]) -> dict[str, Any]:
    """One example rendered (see ``render_examples``); ``words`` are the shown label names."""
    out = dict(example)
    if "choices" in example:
        out["context"] = _choice_stem(example, mode)
        out["question"] = ""
        return out
    if "answers" in example:  # the context must stay verbatim: answer spans are found in it
        question = _text(example.get("question"))
        out["question"] = f"Answer from the passage. Question: {question}" if mode == "template" else question
        return out
    text, pair = _text(example.get("text")), example.get("text_pair")
    head = f"Labels: {', '.join(words)}. " if words else ""
    if mode == "labels":
        out["text"] = head + text
        return out
    out["text"] = head + _template(task_format, text, None if pair is None else _text(pair))
    out["text_pair"] = None  # a prompt is one text: the pair is inside the template
    return out


def _template(task_format: str, text: str, pair: str | None) -> str:
    """The generic prompt of a (pair) classification or regression example."""
    if pair is None:
        if task_format.endswith("regression"):
            return f"Text: {text} Score:"
        return f"Text: {text} Label:"
    if task_format.endswith("regression"):
        return f"Sentence 1: {text} Sentence 2: {pair} Score:"
    return f"Premise: {text} Hypothesis: {pair} Label:"


def _choice_stem(example: dict[str, Any], mode: str) -> str:
    """A multiple-choice stem with the example's options in front (both modes)."""
    choices = [_text(c) for c in example.get("choices") or []]
    options = " ".join(f"({chr(65 + i)}) {c}" for i, c in enumerate(choices[:26]))
    stem = " ".join(x for x in (_text(example.get("context")), _text(example.get("question"))) if x)
    if mode == "labels":
        return f"Options: {options} Context: {stem}".strip()
    return f"Options: {options} Question: {stem} Answer:".strip()


def _text(value: Any) -> str:
    """A field as text; a missing field is empty (never the string "None")."""
    return "" if value is None else str(value)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
