"""Small builders shared by the registry tests (fake vectors; storage logic only)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

from registry.api import EmbeddingItem, Registry
from registry.models import Dataset
from registry.settings import Settings
from registry.spaces import SpaceConfig
from registry.subjects import add_subject


def open_registry(home: Path, db_url: str, **kwargs: object) -> Registry:
    """An initialised registry at ``home`` on ``db_url``."""
    reg = Registry(Settings.build(home=home, db=db_url), **kwargs)  # type: ignore[arg-type]
    reg.init()
    return reg


def make_datasets(reg: Registry, n: int, prefix: str = "d", tags: bool = False) -> list[int]:
    """Register n datasets; with ``tags``, every 100th carries ``rare=yes``, all carry ``family``."""
    with reg.db.transaction() as session:
        ids = []
        for i in range(n):
            ds = Dataset(
                name=f"{prefix}{i}",
                source="test",
                task_format="classification",
                label_set=["a", "b"],
                n_examples=10,
                content_hash=f"{prefix}{i}",
            )
            tag_list = [("family", "even" if i % 2 == 0 else "odd")] if tags else []
            if tags and i % 100 == 0:
                tag_list.append(("rare", "yes"))
            ids.append(add_subject(session, ds, tag_list).id)
    return ids


def vec(seed: int, dim: int = 16) -> npt.NDArray[np.float32]:
    """A deterministic random vector for subject ``seed``."""
    return np.random.default_rng(seed).normal(size=dim).astype(np.float32)


def space(reg: Registry, name: str = "s", dim: int = 16, index_type: str = "flat", **params: object) -> str:
    """Create a space with fake-method params; returns its name."""
    reg.create_space(
        SpaceConfig(
            name=name, surrogate="fake", method="fake", dim=dim, index_type=index_type, params=dict(params)
        )
    )
    return name


def put(reg: Registry, space_name: str, subject_ids: list[int], dim: int = 16, salt: int = 0) -> list[int]:
    """Store deterministic vectors (seed = subject id + salt)."""
    return reg.put_embeddings(space_name, [EmbeddingItem(s, vec(s + salt, dim)) for s in subject_ids])
