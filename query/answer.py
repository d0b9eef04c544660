"""The result items every ranking query prints: names, kinds, scores, tags, formats and methods
hydrated from SQL for an already ordered list of hits (similarity, fused or transfer-aware)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from registry.api import Hit, Registry
from registry.subject_reads import hit_details, space_methods


@dataclass(frozen=True)
class Ranked:
    """One ordered result before hydration.

    Attributes:
        hit: The search hit (its own score is the raw similarity in its space).
        score: The ranking score shown (similarity, RRF, or transfer-aware score).
        similarity: Raw similarity per space.
        provenance: Provenance of the hit's vector per space (shown with ``explain``).
        extra: Fields added to the item as they are (``measured``, ``evidence``, ...).
    """

    hit: Hit
    score: float
    similarity: dict[str, float]
    provenance: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


def hydrate(reg: Registry, spaces: list[str], ranked: list[Ranked], explain: bool) -> list[dict[str, Any]]:
    """Result items ``{rank, name, kind, score, tags, format, space, method, similarity, ...}``.

    Args:
        reg: Registry.
        spaces: The spaces the ranking came from.
        ranked: Hits in their final order (already cut to k).
        explain: Add each hit's provenance.

    Returns:
        One dict per hit, ranks from 1.
    """
    # the hits' own tags and formats only, in one read with the spaces' methods
    details = hit_details(reg, spaces, [r.hit.subject_id for r in ranked])
    methods, tags, formats = details.methods, details.tags, details.formats
    results = []
    for rank, r in enumerate(ranked, start=1):
        item = {
            "rank": rank,
            "name": r.hit.name,
            "kind": r.hit.kind,
            "score": round(r.score, 6),
            "tags": tags.get(r.hit.subject_id, {}),
            "format": formats.get(r.hit.subject_id),
            "space": ",".join(spaces),
            "method": ",".join(methods[s] for s in spaces),
            "similarity": r.similarity,
            **r.extra,
        }
        if explain:
            item["provenance"] = r.provenance
        results.append(item)
    return results


def methods_of(reg: Registry, spaces: list[str]) -> dict[str, str]:
    """The method of each space.

    Args:
        reg: Registry.
        spaces: Space names.

    Returns:
        Space name -> method.

    Raises:
        SpaceNotFoundError: A space does not exist.
    """
    return space_methods(reg, spaces)
