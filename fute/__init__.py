"""FUTE Registry: the Python facade.

from fute import Registry, Settings, SpaceConfig, EmbeddingItem
reg = Registry.open(Settings.build(home=".fute"))
"""

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

__all__ = [
    "EmbeddingItem",
    "Engine",
    "Hit",
    "QueryOptions",
    "Registry",
    "RegistryError",
    "SearchFilter",
    "Settings",
    "SpaceConfig",
    "evaluate",
    "import_transfers",
    "query_models",
    "query_prompts",
    "query_similar",
    "query_sources",
    "query_vector",
]
