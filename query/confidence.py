"""Confidence signals of a ranking: the ``warnings`` list every query answer carries.

A ranking is flagged (one sentence per reason, naming the figure and the benchmarked one) when

* the target dataset has fewer examples than the benchmarks used (``BENCHMARKED_EXAMPLES``);
* a space's budget (steps, gradient examples, examples read) is below its method's default, which
  is the budget ``docs/BENCHMARKS.md`` measured (``BENCHMARKED_BUDGETS``);
* models or prompts are ranked through a probe set smaller than the default one (``BENCHMARKED_PROBES``);
* the top two scores are within noise of each other (``NOISE_COSINE``; for fused spaces, less than one
  rank step apart at the top).

The budgets are copied here rather than read from ``ingest.methods`` so that a query never loads
torch; ``tests/query/test_confidence.py`` checks that they equal the methods' defaults.
"""

from __future__ import annotations

from typing import Any

from query.answers import QueryAnswer
from registry.api import Registry
from registry.budgets import SpaceBudget, dataset_size, space_budgets

# The TaskWeb benchmark registered each task with (at most) 1,000 examples: `fute ingest --limit`'s
# default; rankings of smaller targets were not measured.
BENCHMARKED_EXAMPLES = 1000
# The probe-set size of the model benchmark (the default probe set).
BENCHMARKED_PROBES = 1000
# The methods' default budgets, at which docs/BENCHMARKS.md measured ranking quality.
BENCHMARKED_BUDGETS: dict[str, dict[str, int]] = {
    "textemb": {"max_examples": 1000},
    "taskemb": {"train_steps": 16, "grad_examples": 256},
    "tupate": {"train_steps": 24},
}
# Two cosine similarities closer than this are treated as a tie: 1 % of the similarity scale. A
# convention, not a measured seed-to-seed spread (vectors are bitwise reproducible for one seed).
NOISE_COSINE = 0.01


def with_warnings(reg: Registry, answer: dict[str, Any]) -> QueryAnswer:
    """The typed answer of a ranking: ``space``, ``query`` and ``results`` as built, and the
    top-level ``warnings`` list (empty when nothing is flagged).

    Args:
        reg: Registry the answer came from.
        answer: A ``query_*`` answer being built (``space``, ``query``, ``results``).

    Returns:
        The answer with ``warnings``.
    """
    warnings = answer_warnings(reg, answer)
    return QueryAnswer(
        space=answer["space"], query=answer["query"], results=answer["results"], warnings=warnings
    )


def answer_warnings(reg: Registry, answer: dict[str, Any]) -> list[str]:
    """The reasons to distrust an answer, one sentence each.

    Args:
        reg: Registry the answer came from.
        answer: A ``query_*`` answer.

    Returns:
        Sentences, in the order: target size, budgets, probes, noise.
    """
    query = answer.get("query", {})
    warnings = []
    if query.get("kind") == "dataset":
        n = dataset_size(reg.db, query["name"])
        if n is not None and n < BENCHMARKED_EXAMPLES:
            warnings.append(
                f"target {query['name']!r} has {n} examples, fewer than the {BENCHMARKED_EXAMPLES:,} "
                "the rankings were benchmarked with"
            )
    budgets = space_budgets(reg.db, [s for s in answer.get("space", "").split(",") if s])
    warnings += [w for b in budgets for w in budget_warnings(b)]
    if _ranks_black_boxes(answer):
        warnings += [w for b in budgets if (w := probe_warning(b))]
    tie = noise_warning(answer)
    return warnings + ([tie] if tie else [])


def budget_warnings(budget: SpaceBudget) -> list[str]:
    """One sentence per hyper-parameter of a space below its benchmarked default.

    Args:
        budget: The space's method and parameters.

    Returns:
        Sentences (none for unknown methods or parameters left at their default).
    """
    out = []
    for key, default in BENCHMARKED_BUDGETS.get(budget.method, {}).items():
        value = budget.params.get(key, default)
        if isinstance(value, int | float) and value < default:
            out.append(
                f"space {budget.name!r} ({budget.method}) uses {key}={value}, below the benchmarked "
                f"default {default}"
            )
    return out


def probe_warning(budget: SpaceBudget) -> str | None:
    """A sentence when a space probes black boxes with fewer texts than the benchmark did."""
    if budget.n_probes is None or budget.n_probes >= BENCHMARKED_PROBES:
        return None
    return (
        f"space {budget.name!r} probes models and prompts with {budget.n_probes} texts, fewer than "
        f"the {BENCHMARKED_PROBES:,} benchmarked"
    )


def noise_warning(answer: dict[str, Any]) -> str | None:
    """A sentence when the first two results are within noise of each other.

    Args:
        answer: A ``query_*`` answer.

    Returns:
        The sentence, or ``None`` (fewer than two results, a clear gap, or a transfer-aware ranking,
        whose scores are not similarities).
    """
    results = answer.get("results", [])
    query = answer.get("query", {})
    if len(results) < 2 or (query.get("ranking") or {}).get("mode", "similarity") != "similarity":
        return None
    first, second = results[0], results[1]
    fusion = query.get("fusion")
    if fusion:  # RRF: closer than one rank step at the top means the spaces disagree
        step = 1.0 / (fusion["rrf_k"] + 1) - 1.0 / (fusion["rrf_k"] + 2)
        if first["score"] - second["score"] >= step:
            return None
        gap = "less than one rank step apart in the fused ranking"
    else:
        if first["score"] - second["score"] >= NOISE_COSINE:
            return None
        # scores are cosines, or minus squared distances in an l2 space (TextEmb's default)
        gap = f"within {NOISE_COSINE} in score"
    return f"the top two results ({first['name']}, {second['name']}) are {gap}: treat them as tied"


def _ranks_black_boxes(answer: dict[str, Any]) -> bool:
    """Whether models or prompts take part (as the query's subject or among the results)."""
    query = answer.get("query", {})
    if query.get("type") in ("models", "prompts"):
        return True
    kinds = {query.get("kind")} | {r.get("kind") for r in answer.get("results", [])}
    return bool(kinds & {"model", "prompt"})
