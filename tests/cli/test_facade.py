"""The Python facade: one way to open a registry, typed results, public black boxes, a light import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import fute
from registry.errors import RegistryNotInitializedError
from tests.web.conftest import build_fake


def test_open_creates_once_and_answers_with_typed_results(tmp_path: Path) -> None:
    with pytest.raises(RegistryNotInitializedError):
        fute.open(tmp_path / "none", create=False)
    reg = fute.open(tmp_path / "home")
    build_fake(reg.registry)
    reg.close()
    with fute.open(tmp_path / "home", create=False) as again:
        ranking = again.sources_for("sent-a", k=2, where={"family": "sentiment"})
        assert isinstance(ranking, fute.Ranking) and len(ranking) == 2
        first = next(iter(ranking))
        assert isinstance(first, fute.RankedEntry) and first.rank == 1 and first.kind == "dataset"
        assert first.tags == {"family": ["sentiment"]} and ranking.note and "only space" in ranking.note
        assert again.models_for("sent-a").names() == ["clf"]
        assert again.prompts_for("sent-a", llm="llm").names() == ["p-sent"]
        assert again.spaces() == ["fake"]


def test_every_black_box_kind_is_public() -> None:
    from ingest.blackbox.callable_box import CallableBlackBox
    from ingest.blackbox.hf_classifier import HFClassifier
    from ingest.blackbox.llm import PromptLLM
    from ingest.blackbox.openai_http import OpenAICompletionsBox

    assert fute.CallableBlackBox is CallableBlackBox and fute.HFClassifier is HFClassifier
    assert fute.PromptLLM is PromptLLM and fute.OpenAICompletionsBox is OpenAICompletionsBox
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = fute.Nope  # type: ignore[attr-defined]


def test_import_fute_does_not_load_torch() -> None:
    code = "import sys, fute; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
