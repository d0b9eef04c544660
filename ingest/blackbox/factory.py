"""Build the black box of a registered model or prompt+LLM pair from its catalogue row."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ingest.blackbox import BlackBox
from ingest.names import MODEL_KINDS as MODEL_KINDS  # re-exported: its historic home
from registry.errors import ConfigError
from registry.models import ModelEntry, Prompt


def box_for(subject: Any, llm: ModelEntry | None, models_dir: Path, device: str = "cpu") -> BlackBox:
    """The black box behind a model (a classifier) or a prompt (template + verbalizers on an LLM).

    Args:
        subject: A ``ModelEntry`` or ``Prompt`` row.
        llm: The prompt's LLM row (None for a model).
        models_dir: Cache folder for converted model weights.
        device: Where a local torch model runs (``cpu``, ``cuda``, ``cuda:N`` or ``auto``; the
            engine passes its resolved device). An OpenAI-compatible endpoint ignores it.

    Returns:
        The black box.

    Raises:
        ConfigError: A kind that cannot be rebuilt from the catalogue (``callable``: pass the
            callable to the API instead), an LLM registered without a prompt, or a bad device.
    """
    if isinstance(subject, Prompt):
        if llm is None:
            raise ConfigError(f"prompt {subject.name!r} has no LLM; register it with --llm")
        verbalizers = [[v] if isinstance(v, str) else list(v) for v in subject.verbalizers]
        if llm.model_kind == "openai":
            from ingest.blackbox.openai_http import OpenAICompletionsBox

            return OpenAICompletionsBox(llm.source, llm.name, subject.template, verbalizers)
        from ingest.blackbox.llm import PromptLLM

        return PromptLLM(llm.source, subject.template, verbalizers, models_dir, device=device)
    if isinstance(subject, ModelEntry) and subject.model_kind == "classifier":
        from ingest.blackbox.hf_classifier import HFClassifier

        return HFClassifier(subject.source, device=device)
    kind = getattr(subject, "model_kind", type(subject).__name__)
    raise ConfigError(
        f"{subject.name!r} ({kind}) cannot be queried on its own: an LLM needs a prompt (fute ingest prompt), "
        "a callable is passed through the Python API (Engine.embed(..., box=...))"
    )
