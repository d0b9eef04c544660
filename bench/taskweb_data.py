"""TaskWeb's published data for section 1: gold transfer scores per setting and the source orders
of the baselines TaskWeb ships, plus one scorer used for every method, baseline and random order."""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from query.metrics import evaluate_target, mean_over_targets, random_baseline

Gold = dict[str, dict[str, dict[str, float]]]  # setting -> target -> source -> transfer_score
Orders = dict[str, list[str]]  # target -> sources, best first

# Display name -> method id in taskweb_baseline_predictions.csv.
BASELINES = {
    "llm_similarity": "llm_similarity_text-davinci-003_directed",
    "roe": "roe_all-MiniLM-L6-v2_dot_32",
    "taskshop_llm": "taskshop_llm_text-davinci-003_t5l_finetune_lmbda0.7",
    "taskshop_roe": "taskshop_roe_all-MiniLM-L6-v2_dot_100_t5l_finetune_lmbda0.7",
}
ALL_SETTING = "all/all"


def load_gold(path: Path, tasks: Sequence[str]) -> Gold:
    """Gold ``transfer_score`` per setting (``adaptation/model``), restricted to ``tasks``.

    Args:
        path: ``taskweb_pairwise_scores.csv``.
        tasks: Registered tasks; pairs with a task outside them are dropped (quick mode).

    Returns:
        setting -> target -> source -> score; targets with fewer than 2 sources are dropped.
    """
    keep = set(tasks)
    gold: Gold = defaultdict(lambda: defaultdict(dict))
    with path.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["target"] in keep and row["source"] in keep:
                setting = f"{row['adaptation']}/{row['model']}"
                gold[setting][row["target"]][row["source"]] = float(row["transfer_score"])
    return {s: {t: dict(src) for t, src in by_t.items() if len(src) >= 2} for s, by_t in sorted(gold.items())}


def single_settings(gold: Gold) -> list[str]:
    """The 7 single settings (every setting but the ``all/all`` average)."""
    return [s for s in gold if s != ALL_SETTING]


def baseline_orders(path: Path, targets: Mapping[str, Sequence[str]]) -> dict[str, Orders]:
    """Source orders of TaskWeb's shipped baselines, as TaskWeb's evaluator forms them.

    LLM-similarity scores both directed pairs and TaskWeb averages them; the other baselines score
    (key_a = target, key_b = source). Ties keep name order (a stable sort of sorted names).

    Args:
        path: ``taskweb_baseline_predictions.csv``.
        targets: target -> candidate sources.

    Returns:
        baseline name -> target -> sources, best first.

    Raises:
        KeyError: A baseline lacks a score for a needed pair.
    """
    scores: dict[str, dict[tuple[str, str], float]] = defaultdict(dict)
    with path.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            scores[row["method"]][(row["key_a"], row["key_b"])] = float(row["score"])
    result: dict[str, Orders] = {}
    for name, method in BASELINES.items():
        table = scores[method]
        orders: Orders = {}
        for target, sources in targets.items():
            if name == "llm_similarity":
                pred = {s: (table[(s, target)] + table[(target, s)]) / 2 for s in sources}
            else:
                pred = {s: table[(target, s)] for s in sources}
            orders[target] = sorted(sorted(sources), key=lambda s: -pred[s])
        result[name] = orders
    return result


def score_orders(orders: Orders, gold: Gold) -> dict[str, dict[str, Any]]:
    """Mean NDCG, rho and Regret@3 of one method's orders against every setting.

    Args:
        orders: target -> predicted sources (best first); a target missing here is not scored.
        gold: setting -> target -> source -> score.

    Returns:
        setting -> ``{"ndcg", "rho", "regret_at_3", "n_targets"}`` (means over targets).
    """
    out: dict[str, dict[str, Any]] = {}
    for setting, by_target in gold.items():
        per_target = {t: evaluate_target(orders[t], g) for t, g in by_target.items() if t in orders}
        out[setting] = _summary(per_target)
    return out


def score_random(gold: Gold, n_draws: int, seed: int = 0) -> dict[str, dict[str, Any]]:
    """The same metrics for a random order: per target the mean of ``n_draws`` seeded permutations."""
    out: dict[str, dict[str, Any]] = {}
    for setting, by_target in gold.items():
        per_target = {t: random_baseline(g, n_draws=n_draws, seed=seed) for t, g in by_target.items()}
        out[setting] = _summary(per_target)
    return out


def _summary(per_target: Mapping[str, Mapping[str, float]]) -> dict[str, Any]:
    mean = mean_over_targets(per_target)
    return {
        "ndcg": round(mean["ndcg"], 6),
        "rho": round(mean["rho"], 6),
        "regret_at_3": round(mean["regret_at_3"], 6),
        "n_targets": len(per_target),
    }


def mean_over_settings(scores: Mapping[str, Mapping[str, Any]], settings: Sequence[str]) -> dict[str, float]:
    """Unweighted mean of each metric over the given settings (the issue's goal uses the 7 single ones)."""
    keys = ("ndcg", "rho", "regret_at_3")
    return {k: round(sum(float(scores[s][k]) for s in settings) / len(settings), 6) for k in keys}
