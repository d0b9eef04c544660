"""Ranking metrics for source-task selection: NDCG (TaskWeb's formula), rho and Regret@k.

For one target, a method outputs an ordering ``predicted`` of candidate sources; the gold truth is
``gold_scores`` (source -> measured transfer score, higher is better, e.g. TaskWeb's
``transfer_score``). The candidates are exactly the keys of ``gold_scores``; N = their number.

Conventions shared by every function here:

* **Gold rank** (1 = highest score). Tied sources share the *average* of the ranks they occupy
  (a tie at ranks 3 and 4 gives both 3.5), so neither the metric nor its ideal depends on how ties
  are broken. Where a strict order is needed (the ideal order, the worst-case completion below),
  ties are ordered by name. TaskWeb itself breaks gold ties by name (stable sort of an alphabetical
  list). On its ``finetune/t5l`` scores only ``wsc`` has ties (deep in the list); there the two
  rules differ by up to 5e-4 per order, and the shipped baselines' 21-target means by <= 1.1e-5.
* **Relevance** ``rel(s) = N - gold_rank(s)``: the best source gets N - 1, the worst 0.
  (TaskWeb's code uses the 0-based position, i.e. N .. 1; the gain 2^(r+1) - 1 = 2(2^r - 1) + 1, so
  NDCG moves by under 2e-6 for N = 21, but the two differ visibly for tiny N.)
* **The predicted order is cleaned** before scoring: entries that are not keys of ``gold_scores``
  are dropped (they take no position), a repeated entry raises ``ValueError``, and gold sources
  absent from ``predicted`` are appended *worst first* (ascending gold score, ties by name). That is
  the worst-case completion: leaving a source out can never improve NDCG, rho or regret.
* ``k`` counts positions in the cleaned order; ``k > N`` behaves like ``k = N``; ``k < 1`` raises.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from registry.errors import InvalidDataError

DEFAULT_KS: tuple[int, ...] = (1, 3, 5)


def _gold_order(gold_scores: Mapping[str, float]) -> list[str]:
    """Sources from best to worst gold score, ties by name; validates ``gold_scores``."""
    if not gold_scores:
        raise ValueError("gold_scores is empty: there are no candidate sources")
    bad = sorted(name for name, score in gold_scores.items() if not math.isfinite(score))
    if bad:
        raise ValueError(f"gold scores must be finite numbers; not finite for {bad}")
    return sorted(gold_scores, key=lambda name: (-gold_scores[name], name))


def _relevance(gold_scores: Mapping[str, float]) -> dict[str, float]:
    """``rel = N - gold_rank`` with 1-based gold ranks, tied sources sharing their average rank."""
    order = _gold_order(gold_scores)
    n = len(order)
    rel: dict[str, float] = {}
    start = 0
    while start < n:
        end = start
        while end + 1 < n and gold_scores[order[end + 1]] == gold_scores[order[start]]:
            end += 1
        average_rank = (start + 1 + end + 1) / 2
        for name in order[start : end + 1]:
            rel[name] = n - average_rank
        start = end + 1
    return rel


def _complete(predicted: Sequence[str], gold_scores: Mapping[str, float]) -> list[str]:
    """Cleaned predicted order: unknown names dropped, missing gold sources appended worst first.

    Raises:
        ValueError: if ``gold_scores`` is empty or not finite, or a name repeats in ``predicted``.
    """
    order = _gold_order(gold_scores)
    if isinstance(predicted, str):
        raise ValueError("predicted must be a sequence of source names, not one string")
    seen: set[str] = set()
    kept: list[str] = []
    for name in predicted:
        if name in seen:
            raise ValueError(f"source {name!r} appears more than once in predicted")
        seen.add(name)
        if name in gold_scores:
            kept.append(name)
    missing = [name for name in reversed(order) if name not in seen]
    return kept + missing


def _check_k(k: int) -> None:
    """Raise ``ValueError`` unless ``k >= 1``."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")


def _dcg(rels: Sequence[float], top_rel: float) -> float:
    """``sum_i (2^rel_i - 1) / log2(i + 1)`` divided by ``2^top_rel`` (overflow-safe; ratios unchanged)."""
    r = np.asarray(rels, dtype=np.float64)
    gains = np.exp2(r - top_rel) - np.exp2(-top_rel)
    discounts = np.log2(np.arange(2, r.size + 2, dtype=np.float64))
    return float(np.sum(gains / discounts))


def ndcg(predicted: Sequence[str], gold_scores: Mapping[str, float], k: int | None = None) -> float:
    """NDCG of a predicted source order, with TaskWeb's exponential gain.

    ``DCG@k = sum_{i=1..k} (2^{rel_i} - 1) / log2(i + 1)`` over the cleaned predicted order,
    ``rel = N - gold_rank`` (best N - 1, worst 0; ties share their average rank), and
    ``NDCG@k = DCG@k(predicted) / DCG@k(gold order)``. ``k=None`` scores the whole order (k = N).
    Missing gold sources are appended worst first, unknown names dropped (module docstring).
    With a single candidate (no gain anywhere) the result is 1.0. Gains are scaled by
    ``2^-max(rel)`` before summing, which cancels in the ratio and avoids overflow for N > 1000.

    Args:
        predicted: Source names, best first, as ranked by the method under test.
        gold_scores: Source name -> gold transfer score (higher is better); defines the candidates.
        k: Cut-off applied to both the predicted and the ideal order; None = all N positions.

    Returns:
        NDCG in [0, 1]; 1.0 when the predicted order matches the gold order up to ties.

    Raises:
        ValueError: if ``gold_scores`` is empty or not finite, ``k < 1``, or a name repeats.
    """
    if k is not None:
        _check_k(k)
    rel = _relevance(gold_scores)
    order = _complete(predicted, gold_scores)
    cut = len(order) if k is None else min(k, len(order))
    top_rel = max(rel.values())
    ideal = _dcg(sorted(rel.values(), reverse=True)[:cut], top_rel)
    if ideal == 0.0:
        return 1.0
    return _dcg([rel[name] for name in order[:cut]], top_rel) / ideal


def rho(predicted: Sequence[str], gold_scores: Mapping[str, float]) -> float:
    """1-based position, in the cleaned predicted order, of the truly best source (lower is better).

    If several sources tie for the highest gold score, the first of them in the predicted order
    counts. A best source missing from ``predicted`` is appended (worst first, so it lands last
    among the missing: position N when it is the only best source and is absent).

    Args:
        predicted: Source names, best first.
        gold_scores: Source name -> gold transfer score (higher is better).

    Returns:
        A value in [1, N], as a float so it can be averaged over targets.

    Raises:
        ValueError: if ``gold_scores`` is empty or not finite, or a name repeats in ``predicted``.
    """
    order = _complete(predicted, gold_scores)
    best = max(gold_scores.values())
    return float(next(i for i, name in enumerate(order, start=1) if gold_scores[name] == best))


def regret_at_k_abs(predicted: Sequence[str], gold_scores: Mapping[str, float], k: int) -> float:
    """Regret@k in gold-score units: ``max_s gold(s) - max_{s in predicted top k} gold(s)``.

    Args:
        predicted: Source names, best first (cleaned as described in the module docstring).
        gold_scores: Source name -> gold transfer score (higher is better).
        k: How many predicted sources one would try; ``k > N`` behaves like ``k = N``.

    Returns:
        A value >= 0 in the units of ``gold_scores`` (e.g. TaskWeb ``transfer_score``); 0 when a
        best source is among the predicted top k.

    Raises:
        ValueError: if ``gold_scores`` is empty or not finite, ``k < 1``, or a name repeats.
    """
    _check_k(k)
    order = _complete(predicted, gold_scores)
    best = max(gold_scores.values())
    return float(best - max(gold_scores[name] for name in order[:k]))


def regret_at_k(predicted: Sequence[str], gold_scores: Mapping[str, float], k: int) -> float:
    """FUTE's normalised Regret@k: ``(best - best among predicted top k) / best``.

    ``best = max_s gold(s)``; the numerator is :func:`regret_at_k_abs`. The ratio only means
    "fraction of the achievable gain lost" when ``best > 0``. TaskWeb transfer scores can all be
    negative (no source helps), so for ``best <= 0`` this returns ``nan`` (never a silently
    re-defined value); use :func:`regret_at_k_abs` there. :func:`mean_over_targets` skips NaNs.

    Args:
        predicted: Source names, best first (cleaned as described in the module docstring).
        gold_scores: Source name -> gold transfer score (higher is better).
        k: How many predicted sources one would try.

    Returns:
        A value >= 0 (0 = no regret), or ``nan`` when ``max(gold_scores) <= 0``.

    Raises:
        ValueError: if ``gold_scores`` is empty or not finite, ``k < 1``, or a name repeats.
    """
    absolute = regret_at_k_abs(predicted, gold_scores, k)
    best = max(gold_scores.values())
    return absolute / best if best > 0 else math.nan


def evaluate_target(
    predicted: Sequence[str], gold_scores: Mapping[str, float], ks: Sequence[int] = DEFAULT_KS
) -> dict[str, float]:
    """All metrics for one target.

    Args:
        predicted: Source names, best first.
        gold_scores: Source name -> gold transfer score (higher is better).
        ks: Cut-offs for regret.

    Returns:
        ``{"ndcg": NDCG over all N positions, "rho": rank of the best source,
        "regret_at_<k>": regret in score units, "regret_at_<k>_rel": normalised regret (nan when
        the best score <= 0)}`` for each k in ``ks``.

    Raises:
        ValueError: if ``gold_scores`` is empty or not finite, some k < 1, or a name repeats.
    """
    result = {"ndcg": ndcg(predicted, gold_scores), "rho": rho(predicted, gold_scores)}
    for k in ks:
        result[f"regret_at_{k}"] = regret_at_k_abs(predicted, gold_scores, k)
        result[f"regret_at_{k}_rel"] = regret_at_k(predicted, gold_scores, k)
    return result


def random_baseline(
    gold_scores: Mapping[str, float], n_draws: int = 200, seed: int = 0, ks: Sequence[int] = DEFAULT_KS
) -> dict[str, float]:
    """Expected metrics of a random ordering, estimated from seeded permutations.

    Draws ``n_draws`` permutations of the sources (sorted by name first, so the result does not
    depend on the mapping's order) with ``numpy.random.default_rng(seed)`` and averages
    :func:`evaluate_target` over them (a NaN ``_rel`` regret stays NaN).

    Args:
        gold_scores: Source name -> gold transfer score (higher is better).
        n_draws: Number of random permutations.
        seed: Seed of the numpy Generator.
        ks: Cut-offs for regret.

    Returns:
        The same keys as :func:`evaluate_target`, each the mean over the draws.

    Raises:
        InvalidDataError: ``n_draws < 1`` (a ``ValueError`` too).
        ValueError: if ``gold_scores`` is empty or not finite, or some k < 1.
    """
    if n_draws < 1:
        raise InvalidDataError(f"n_draws must be >= 1 (random orders averaged), got {n_draws}")
    names = sorted(gold_scores)
    rng = np.random.default_rng(seed)
    draws = [
        evaluate_target([names[i] for i in rng.permutation(len(names))], gold_scores, ks)
        for _ in range(n_draws)
    ]
    return {key: float(np.mean([draw[key] for draw in draws])) for key in draws[0]}


def mean_over_targets(per_target: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
    """Average each metric over targets (macro average, every target weighs the same).

    NaN values (the normalised regret of a target whose best score is <= 0) are skipped, so such
    a key is averaged over fewer targets; a key that is NaN for every target stays NaN.

    Args:
        per_target: Target name -> metric dict (e.g. from :func:`evaluate_target`).

    Returns:
        Metric name -> mean over targets.

    Raises:
        ValueError: if ``per_target`` is empty or the targets do not all have the same metric keys.
    """
    if not per_target:
        raise ValueError("per_target is empty")
    keys = set(next(iter(per_target.values())))
    odd = sorted(target for target, metrics in per_target.items() if set(metrics) != keys)
    if odd:
        raise ValueError(f"targets {odd} do not have the same metric keys as the others")
    result: dict[str, float] = {}
    for key in sorted(keys):
        values = [float(m[key]) for m in per_target.values() if not math.isnan(m[key])]
        result[key] = float(np.mean(values)) if values else math.nan
    return result
