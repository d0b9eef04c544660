"""Prompt templates and verbalizers shared by the LLM black boxes (local and over HTTP).

Placeholders (filled in one pass, so a probe text that itself contains ``{text_pair}`` is left alone):

* ``{text}``, ``{{text}}``, ``{{premise}}``: the probe's first text.
* ``{text_pair}``, ``{{text_pair}}``, ``{{hypothesis}}``: the probe's second text.
* ``{label_space}``, ``{{label_space}}``: every verbalizer, comma-separated (FUTE's instruction suffix
  "Write your answer ({{label_space}}) ..." uses it).

The ``{{...}}`` spellings are the jinja fields of FUTE's prompt files (``sa_use.json``: ``{{text}}``;
``nli_use.json``: ``{{premise}}``/``{{hypothesis}}``), so those templates work unchanged. Spaces inside
the braces are allowed (``{{ text }}``). Other braces are ordinary text.

Where the answer starts: the LLM is scored on the token that comes right after the filled prompt. A
plain-text prompt should end where the answer begins (``... Sentiment:``). Trailing spaces and tabs are
stripped from the filled prompt and the verbalizer is scored with a leading space (`` positive``), because
BPE tokenizers glue the space to the following word; after a trailing newline, or at the start of a chat
assistant turn, the verbalizer is scored as written (``positive``).
"""

from __future__ import annotations

import re

from ingest.blackbox import Probe
from registry.errors import ConfigError

_FIELDS = {
    "text": "text",
    "premise": "text",
    "text_pair": "text_pair",
    "hypothesis": "text_pair",
    "label_space": "label_space",
}
# {{ name }} (jinja, any field above) or {name} (the three canonical names only).
_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}|\{(text|text_pair|label_space)\}")


def _field(match: re.Match[str]) -> str | None:
    """Canonical field of a placeholder match, or None for unknown ``{{names}}`` (left as text)."""
    return _FIELDS.get(match.group(1) or match.group(2))


def template_fields(template: str) -> set[str]:
    """Canonical fields (``text``, ``text_pair``, ``label_space``) a template uses."""
    return {f for m in _PLACEHOLDER.finditer(template) if (f := _field(m)) is not None}


def check_prompt_config(template: str, verbalizers: list[list[str]]) -> None:
    """Validate a template and its verbalizers once, before any model runs.

    Args:
        template: Prompt template (placeholders: see the module docstring).
        verbalizers: One list of answer words per class.

    Raises:
        ConfigError: No ``{text}`` placeholder, fewer than two classes, or an empty verbalizer.
    """
    if "text" not in template_fields(template):
        raise ConfigError(f"prompt template has no {{text}} placeholder: {template[:80]!r}")
    if len(verbalizers) < 2:
        raise ConfigError(f"a prompt needs verbalizers for at least 2 classes, got {len(verbalizers)}")
    for i, words in enumerate(verbalizers):
        if not words or any(not w.strip() for w in words):
            raise ConfigError(f"class {i} has no verbalizer or an empty one: {words!r}")


def fill_template(template: str, probe: Probe, verbalizers: list[list[str]]) -> str:
    """Fill a template with one probe.

    Args:
        template: Prompt template.
        probe: (text, text_pair or None).
        verbalizers: For ``{label_space}``.

    Returns:
        The filled prompt, unchanged otherwise.

    A probe set mixes single texts and pairs, and FUTE queries every black box with the same set, so
    a template gets what it asks for: a single-text template sees a pair's two texts joined by a space;
    a pair template sees an empty second text for a single-text probe.
    """
    text, pair = probe
    has_pair_field = "text_pair" in template_fields(template)
    if pair is not None and not has_pair_field:
        text, pair = f"{text} {pair}", None
    values = {
        "text": text,
        "text_pair": pair or "",
        "label_space": ", ".join(w for ws in verbalizers for w in ws),
    }

    def substitute(match: re.Match[str]) -> str:
        field = _field(match)
        return values[field] if field is not None else match.group(0)

    return _PLACEHOLDER.sub(substitute, template)


def answer_position(prompt: str) -> tuple[str, bool]:
    """Trim the prompt to where the answer starts and say whether the answer token has a leading space.

    Args:
        prompt: A filled plain-text prompt.

    Returns:
        (prompt without trailing spaces/tabs, True unless it is empty or ends in a line break).
    """
    trimmed = prompt.rstrip(" \t")
    return trimmed, bool(trimmed) and not trimmed.endswith(("\n", "\r"))
