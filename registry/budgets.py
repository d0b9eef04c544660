"""The facts a ranking's confidence rests on: how many examples a subject was embedded from, and
each space's method, hyper-parameters and probe-set size (read by ``query.confidence``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from registry.db import Database
from registry.models import Dataset, EmbeddingSpace, ProbeSet


@dataclass(frozen=True)
class SpaceBudget:
    """What one space's vectors were computed with.

    Attributes:
        name: The space.
        method: ``textemb``, ``taskemb``, ``tupate`` (or a test method).
        params: The method's stored hyper-parameters.
        n_probes: Texts of the space's probe set (``None``: the space has none).
    """

    name: str
    method: str
    params: dict[str, Any]
    n_probes: int | None


def space_budgets(db: Database, spaces: Sequence[str]) -> list[SpaceBudget]:
    """The budgets of the named spaces, in the order given (unknown names are left out).

    Args:
        db: The registry's database.
        spaces: Space names.

    Returns:
        One ``SpaceBudget`` per known space.
    """
    stmt = (
        select(EmbeddingSpace.name, EmbeddingSpace.method, EmbeddingSpace.params, ProbeSet.n_texts)
        .outerjoin(ProbeSet, ProbeSet.id == EmbeddingSpace.probe_set_id)
        .where(EmbeddingSpace.name.in_(list(spaces)))
    )
    with db.read() as session:
        rows = {r[0]: SpaceBudget(r[0], r[1], dict(r[2] or {}), r[3]) for r in session.execute(stmt)}
    return [rows[s] for s in spaces if s in rows]


def dataset_size(db: Database, name: str) -> int | None:
    """Examples stored for a dataset (``None``: no dataset of that name)."""
    with db.read() as session:
        return session.scalar(select(Dataset.n_examples).where(Dataset.name == name))
