"""Nested leave-one-target-out selection of the transfer-aware parameters (``fute eval --select
nested``): for each held-out target, the grid point with the best mean NDCG over the *other*
targets, each of them ranked with its own results and the held-out target's results hidden. The
held-out target's results are therefore used neither to rank nor to choose."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace

from query.metrics import ndcg
from query.transfer_rank import F64, I64, Edges, TransferParams, score_target

GRID = tuple(
    replace(TransferParams(), lam=lam, tau=tau, alpha=alpha)
    for lam in (0.25, 0.5, 0.75, 0.9)
    for tau in (0.5, 1.0, 2.0, 4.0)
    for alpha in (0.0, 0.5, 1.0, 2.0)
)
GoldPos = Mapping[int, Mapping[int, float]]  # target position -> source position -> score


def order_of(score: F64, candidates: list[int]) -> list[str]:
    """Candidate positions by descending score (ties by position), as strings for the scorer."""
    return [str(p) for p in sorted(candidates, key=lambda p: (-float(score[p]), p))]


def select(
    held_out: int,
    gold: GoldPos,
    zsim: Callable[[int], F64],
    edges: Edges,
    formats: I64,
) -> tuple[TransferParams, float]:
    """The grid point chosen for one held-out target.

    Args:
        held_out: Position of the held-out target.
        gold: Recorded scores by target and source position (every target of the evaluation).
        zsim: Standardised similarity row of a target position (cached by the caller).
        edges: Standardised results of the evaluated setting.
        formats: Format code per position.

    Returns:
        (parameters, their inner mean NDCG); ties keep the first grid point.
    """
    best, best_score = GRID[0], float("-inf")
    inner = [u for u in gold if u != held_out]
    for params in GRID:
        total = 0.0
        for u in inner:
            scored = score_target(u, zsim(u), edges, formats, params, also=(held_out,))
            cands = list(gold[u])
            total += ndcg(order_of(scored.score, cands), {str(c): s for c, s in gold[u].items()})
        mean = total / max(len(inner), 1)
        if mean > best_score:
            best, best_score = params, mean
    return best, best_score
