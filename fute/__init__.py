"""FUTE Registry: the Python facade.

    import fute
    reg = fute.open(".fute")                    # one way to open a registry (created when new)
    reg.ingest_dataset("pkg:rte", name="rte")   # register, then embed into the default space
    reg.sources_for("rte", k=5)                 # a typed Ranking of RankedEntry

Lower layers stay importable from here (``Registry``, ``Settings``, ``query_sources``, ...), and every
black-box kind is public: ``CallableBlackBox`` (any Python function), ``HFClassifier``, ``PromptLLM``,
``OpenAICompletionsBox``. Every name is imported on first use, so ``import fute`` and the read-only
CLI commands stay light (``Engine`` and the black boxes load torch).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # type checkers see every name; at run time each loads on first access
    from fute.facade import FuteRegistry, RankedEntry, Ranking, open
    from ingest.blackbox.callable_box import CallableBlackBox
    from ingest.blackbox.hf_classifier import HFClassifier
    from ingest.blackbox.llm import PromptLLM
    from ingest.blackbox.openai_http import OpenAICompletionsBox
    from ingest.engine import Engine
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

# name -> module. Every public name is imported on first use: `fute.cli` lives in this package, so
# whatever this module imports, every command (even `fute --help`) would pay for at start-up.
# Engine and the black boxes load torch / transformers; the rest the registry's ORM and queries.
LAZY = {
    "FuteRegistry": "fute.facade",
    "RankedEntry": "fute.facade",
    "Ranking": "fute.facade",
    "open": "fute.facade",
    "QueryOptions": "query.service",
    "evaluate": "query.service",
    "import_transfers": "query.service",
    "query_models": "query.service",
    "query_prompts": "query.service",
    "query_similar": "query.service",
    "query_sources": "query.service",
    "query_vector": "query.service",
    "EmbeddingItem": "registry.api",
    "Hit": "registry.api",
    "Registry": "registry.api",
    "RegistryError": "registry.errors",
    "SearchFilter": "registry.filters",
    "Settings": "registry.settings",
    "SpaceConfig": "registry.spaces",
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
