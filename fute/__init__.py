"""FUTE Registry: the Python facade.

    import fute
    reg = fute.open(".fute")                    # one way to open a registry (created when new)
    reg.ingest_dataset("pkg:rte", name="rte")   # register, then embed into the default space
    reg.sources_for("rte", k=5)                 # a typed Ranking of RankedEntry

Lower layers stay importable from here (``Registry``, ``Settings``, ``query_sources``, ...), and every
black-box kind is public: ``CallableBlackBox`` (any Python function), ``HFClassifier``, ``PromptLLM``,
``OpenAICompletionsBox``. Names that need torch (``Engine`` and the black boxes) are imported on first
use, so ``import fute`` and the read-only CLI commands stay light.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from fute.facade import FuteRegistry, RankedEntry, Ranking, open
from query.service import (
    QueryOptions,
    evaluate,
    import_transfers,
    query_models,
    query_prompts,
    query_similar,
    query_sources,
    query_vector,
)
from registry.api import EmbeddingItem, Hit, Registry
from registry.errors import RegistryError
from registry.filters import SearchFilter
from registry.settings import Settings
from registry.spaces import SpaceConfig

# name -> module of the names imported on first use (they load torch / transformers)
LAZY = {
    "Engine": "ingest.engine",
    "CallableBlackBox": "ingest.blackbox.callable_box",
    "HFClassifier": "ingest.blackbox.hf_classifier",
    "PromptLLM": "ingest.blackbox.llm",
    "OpenAICompletionsBox": "ingest.blackbox.openai_http",
}

__all__ = [
    "CallableBlackBox",
    "EmbeddingItem",
    "Engine",
    "FuteRegistry",
    "HFClassifier",
    "Hit",
    "OpenAICompletionsBox",
    "PromptLLM",
    "QueryOptions",
    "RankedEntry",
    "Ranking",
    "Registry",
    "RegistryError",
    "SearchFilter",
    "Settings",
    "SpaceConfig",
    "evaluate",
    "import_transfers",
    "open",
    "query_models",
    "query_prompts",
    "query_similar",
    "query_sources",
    "query_vector",
]


def __getattr__(name: str) -> Any:
    """Import the heavy names (``LAZY``) on first access."""
    if name in LAZY:
        return getattr(import_module(LAZY[name]), name)
    raise AttributeError(f"module 'fute' has no attribute {name!r}")
