"""Label-aware rendering (issue 15, item 1): every template on every format, hostile strings and
missing fields; labels and answers never change; the render mode is a space parameter."""

from __future__ import annotations

from typing import Any

import pytest

from ingest.formats import FORMATS
from ingest.methods.table import method_params, space_render, stored_render
from ingest.methods.textemb import example_inputs
from ingest.render import RENDERS, label_words, render_examples
from registry.errors import ConfigError

HOSTILE = "<script>alert(1)</script> {text} {{label_space}} \x00 Ω 😀 '; DROP TABLE datasets; --"

EXAMPLES: dict[str, dict[str, Any]] = {
    "classification": {"text": "a fine film", "text_pair": None, "label": 1},
    "pair-classification": {"text": "A man sleeps.", "text_pair": "Someone rests.", "label": 0},
    "regression": {"text": "five stars", "text_pair": None, "label": 4.5},
    "pair-regression": {"text": "A dog runs.", "text_pair": "A dog is running.", "label": 4.8},
    "multiple-choice": {
        "context": "The sun rose.",
        "question": "effect",
        "choices": ["light", "dark"],
        "label": 0,
    },
    "extractive-qa": {"context": "Paris is in France.", "question": "Where is Paris?", "answers": ["France"]},
}
NAMES = {"classification": ["neg", "pos"], "pair-classification": ["entailment", "not_entailment"]}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("mode", RENDERS)
def test_every_mode_renders_every_format_and_keeps_its_targets(fmt: str, mode: str) -> None:
    example = EXAMPLES[fmt]
    (out,) = render_examples([example], fmt, mode, NAMES.get(fmt))
    targets = ("label", "answers", "choices")
    assert {k: out.get(k) for k in targets} == {k: example.get(k) for k in targets}
    first, second = example_inputs(out)
    assert first.strip() and "None" not in first and "None" not in (second or "")
    if fmt == "extractive-qa":
        assert out["context"] == example["context"]  # answer spans are found in it by offset
    if mode == "raw":
        assert out is example
    elif fmt in NAMES:
        assert first.startswith("Labels: ") and NAMES[fmt][0].replace("_", " ") in first
    elif fmt == "multiple-choice":
        assert first.startswith("Options: (A) light (B) dark")


def test_templates_name_the_parts_of_a_pair() -> None:
    (pair,) = render_examples([EXAMPLES["pair-classification"]], "pair-classification", "template", None)
    assert pair["text"] == "Premise: A man sleeps. Hypothesis: Someone rests. Label:"
    assert pair["text_pair"] is None  # a prompt is one text
    (reg,) = render_examples([EXAMPLES["pair-regression"]], "pair-regression", "template", None)
    assert reg["text"].startswith("Sentence 1: A dog runs. Sentence 2: A dog is running.")
    (qa,) = render_examples([EXAMPLES["extractive-qa"]], "extractive-qa", "template", None)
    assert qa["question"] == "Answer from the passage. Question: Where is Paris?"


def test_hostile_strings_and_missing_fields_render_as_plain_text() -> None:
    examples = [
        {"text": HOSTILE, "text_pair": HOSTILE, "label": 0},
        {"text": "", "label": 1},  # no text_pair key at all
    ]
    out = render_examples(examples, "pair-classification", "template", [HOSTILE, "b"])
    assert out[0]["text"].count(HOSTILE) == 2  # verbatim: nothing is interpreted or formatted
    shown = label_words([HOSTILE])[0]  # label names: whitespace collapsed, "_" read as a space
    assert shown == " ".join(HOSTILE.replace("_", " ").split())
    assert out[1]["text"] == f"Labels: {shown}, b. Text:  Label:"
    mc = render_examples([{"choices": [HOSTILE, None], "label": 1}], "multiple-choice", "labels", None)
    assert mc[0]["context"].startswith("Options: (A) <script>") and "(B)  Context:" in mc[0]["context"]


def test_label_names_that_say_nothing_are_not_shown() -> None:
    assert label_words(None) == [] and label_words([]) == []
    assert label_words(["0", "1", "2"]) == [] and label_words([1.5, 2]) == []
    assert label_words(["not_duplicate", "duplicate"]) == ["not duplicate", "duplicate"]
    assert len(label_words([f"class {i}" for i in range(50)])) == 20
    (out,) = render_examples([EXAMPLES["classification"]], "classification", "labels", ["0", "1"])
    assert out["text"] == "a fine film"  # integer labels without names: the text alone


def test_render_is_a_checked_space_parameter_of_every_method() -> None:
    assert space_render({"render": "Template"}) == "template"
    # defaults per method: TextEmb reads the template; TaskEmb and TuPaTE the raw texts (the
    # template broke the unified space's family order for TaskEmb, tests/ingest/test_unified_space.py)
    assert [space_render(None, m) for m in ("textemb", "taskemb", "tupate")] == ["template", "raw", "raw"]
    assert space_render({"render": "labels"}, "taskemb") == "labels"  # an explicit choice is kept
    for method in ("textemb", "taskemb", "tupate"):
        method_params(method, {"render": "labels"})  # accepted by every method
    with pytest.raises(ConfigError, match="render='prompt' is not one of raw, labels, template"):
        method_params("textemb", {"render": "prompt"})
    with pytest.raises(ConfigError, match=r"valid: .*render"):
        method_params("textemb", {"rendr": "raw"})
    assert stored_render({}) == "raw"  # a space created before rendering existed keeps reading raw text
    with pytest.raises(ConfigError, match="not one of raw, labels, template"):
        render_examples([EXAMPLES["classification"]], "classification", "fancy")
