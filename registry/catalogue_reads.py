"""Read-only catalogue listings for the entry layer (CLI and HTTP), each in its own read session.

The session-taking listings they wrap live in `listing.py`; these are the doors `fute/` uses, so the
entry layer never handles a session itself.
"""

from __future__ import annotations

from typing import Any

from registry.api import Registry
from registry.listing import list_datasets, list_probe_sets, show_dataset
from registry.recall import RecallReport, measure_recall
from registry.spaces import get_space


def datasets(reg: Registry) -> list[dict[str, Any]]:
    """Every dataset, by name, as `fute datasets list --json` shows it.

    Args:
        reg: The open registry.

    Returns:
        One JSON-ready dict per dataset.
    """
    with reg.db.read() as session:
        return list_datasets(session)


def dataset_info(reg: Registry, name: str) -> dict[str, Any]:
    """One dataset with an example preview and its embeddings per space.

    Args:
        reg: The open registry.
        name: The dataset's name.

    Returns:
        The JSON-ready dict of `fute datasets show NAME --json`.

    Raises:
        NotFoundError: No dataset has that name.
    """
    with reg.db.read() as session:
        return show_dataset(session, name)


def probe_sets(reg: Registry) -> list[dict[str, Any]]:
    """Every probe set with its size, hash and the number of spaces that use it.

    Args:
        reg: The open registry.

    Returns:
        One JSON-ready dict per probe set.
    """
    with reg.db.read() as session:
        return list_probe_sets(session)


def space_recall(reg: Registry, space_name: str, sample: int, k: int) -> RecallReport:
    """Recall@k of a space's published index against exact search, on a sample of its own vectors.

    Args:
        reg: The open registry.
        space_name: The space to measure.
        sample: How many of its vectors to use as queries.
        k: Neighbours compared per query.

    Returns:
        The recall report.

    Raises:
        NotFoundError: No such space.
        ConfigError: The sample or k is out of range.
    """
    with reg.db.read() as session:
        space = get_space(session, space_name)
        index = reg.indexes.load(session, space).index
        return measure_recall(session, space, index, sample=sample, k=k)
