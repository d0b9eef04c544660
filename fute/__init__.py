"""FUTE Registry: the Python facade.

from fute import Registry, Settings, SpaceConfig, EmbeddingItem
reg = Registry.open(Settings.build(home=".fute"))
"""

from ingest.engine import Engine
from registry.api import EmbeddingItem, Hit, Registry
from registry.errors import RegistryError
from registry.filters import SearchFilter
from registry.settings import Settings
from registry.spaces import SpaceConfig

__all__ = [
    "EmbeddingItem",
    "Engine",
    "Hit",
    "Registry",
    "RegistryError",
    "SearchFilter",
    "Settings",
    "SpaceConfig",
]
