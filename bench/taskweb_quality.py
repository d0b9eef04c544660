"""Section 1: quality of each method space (and of their fusion) against TaskWeb's published transfer
scores, beside a random order and TaskWeb's shipped baselines, all scored by the same code.

Every DTE is computed by the product's engine into a registry; every ranking comes from the
product's query path (``query_sources``: the FAISS search with its SQL filters, reciprocal rank
fusion for several spaces), exactly what ``fute query sources --space ... -k 21`` prints.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from bench.common import RunConfig, SpaceSpec, ensure_space, has_vector, say, shared_dir
from bench.taskweb_data import (
    Gold,
    Orders,
    baseline_orders,
    load_gold,
    mean_over_settings,
    score_orders,
    score_random,
    single_settings,
)
from ingest.engine import Engine
from query.service import QueryOptions, query_sources
from query.transfer_query import TransferOptions
from registry.api import Registry
from registry.models import Dataset, Embedding, EmbeddingSpace

FUSED = "fused"
FUSED_NEW = "fused-new"  # RRF of the new recipe of each method (issue 15)
OnTask = Callable[[str | None], None]


def taskweb_gold(cfg: RunConfig) -> Gold:
    """TaskWeb's gold scores restricted to the run's tasks."""
    return load_gold(shared_dir() / "groundtruth" / "taskweb" / "taskweb_pairwise_scores.csv", cfg.tasks)


def embed_space(
    engine: Engine,
    spec: SpaceSpec,
    tasks: tuple[str, ...],
    probe_set: str | None,
    on_task: OnTask | None = None,
) -> float:
    """Create the space and compute the DTE of every task not embedded yet.

    Args:
        engine: The engine (one surrogate load for the whole run).
        spec: The space.
        tasks: Registered dataset names.
        probe_set: Probe set of the space (only needed for MTEs later).
        on_task: Called with the task name before its DTE and with None after the last one
            (the sketch benchmark uses it to label the statistic it captures).

    Returns:
        Seconds spent computing DTEs in this call (0 when every vector existed).
    """
    ensure_space(engine, spec, probe_set)
    spent = 0.0
    for task in tasks:
        if has_vector(engine.reg, spec.label, task, "dataset"):
            continue
        if on_task is not None:
            on_task(task)
        result = engine.embed(spec.label, task, "dataset")
        spent += result.seconds
        say(f"{spec.label}: {task} {result.seconds:.1f} s")
    if on_task is not None:
        on_task(None)
    return spent


def ranked_sources(reg: Registry, spaces: tuple[str, ...], targets: list[str], n_tasks: int) -> Orders:
    """Every target's sources ranked by the product's query path (several spaces: fused by RRF).

    ``n_tasks`` is the number of registered datasets: every other one is ranked (the scorer drops
    names outside the gold candidates, e.g. when only a subset of tasks is scored).
    """
    orders: Orders = {}
    for target in targets:
        # similarity only: once the transfer part has imported TaskWeb's results into this registry,
        # the product's default ("auto") would rank transfer-aware, and these rows are the spaces alone
        opts = QueryOptions(k=n_tasks - 1, spaces=spaces, transfer=TransferOptions(ranking="similarity"))
        orders[target] = [r["name"] for r in query_sources(reg, target, opts)["results"]]
    return orders


def n_registered(reg: Registry) -> int:
    """Number of registered datasets."""
    with reg.db.read() as session:
        return len(session.scalars(select(Dataset.id)).all())


def dte_seconds(reg: Registry, space: str) -> float:
    """Total DTE time of a space, from the provenance the engine stored with each vector (so a
    resumed run still reports the time of every vector, not only of the ones it computed)."""
    with reg.db.read() as session:
        rows = session.scalars(
            select(Embedding.provenance)
            .join(EmbeddingSpace, EmbeddingSpace.id == Embedding.space_id)
            .where(EmbeddingSpace.name == space)
        ).all()
    return round(sum(float(p.get("seconds", 0.0)) for p in rows if p and p.get("kind") == "dte"), 2)


def score_all(reg: Registry, cfg: RunConfig, gold: Gold) -> dict[str, Any]:
    """Rank with every space of ``cfg`` and their fusion; score them, the baselines and a random
    order against ``gold``.

    Returns:
        The ``taskweb.json`` document.
    """
    seconds = {spec.label: dte_seconds(reg, spec.label) for spec in cfg.spaces}
    seconds[FUSED] = round(sum(seconds[s.label] for s in cfg.spaces if s.fused), 2)
    seconds[FUSED_NEW] = round(sum(seconds[s.label] for s in cfg.spaces if s.fused_new), 2)
    targets = sorted({t for by_target in gold.values() for t in by_target})
    labels = tuple(s.label for s in cfg.spaces)
    fused = tuple(s.label for s in cfg.spaces if s.fused)
    methods: dict[str, Any] = {}
    rank_seconds: dict[str, float] = {}
    fused_new = tuple(s.label for s in cfg.spaces if s.fused_new)
    rows = [*((label, (label,)) for label in labels), (FUSED, fused)]
    if len(fused_new) > 1:
        rows.append((FUSED_NEW, fused_new))
    for name, spaces in rows:
        start = time.perf_counter()
        orders = ranked_sources(reg, spaces, targets, n_registered(reg))
        rank_seconds[name] = round(time.perf_counter() - start, 3)
        methods[name] = score_orders(orders, gold)
    candidates = {t: sorted(next(iter(gold.values()))[t]) for t in targets}
    shipped = baseline_orders(
        shared_dir() / "groundtruth" / "taskweb" / "taskweb_baseline_predictions.csv", candidates
    )
    baselines = {name: score_orders(orders, gold) for name, orders in shipped.items()}
    baselines["random"] = score_random(gold, cfg.n_random, cfg.seed)
    singles = single_settings(gold)
    return {
        "methods": methods,
        "baselines": baselines,
        "mean_over_single_settings": {
            "settings": singles,
            "methods": {m: mean_over_settings(v, singles) for m, v in methods.items()},
            "baselines": {b: mean_over_settings(v, singles) for b, v in baselines.items()},
        },
        "config": {
            **cfg.to_dict(),
            "fused_spaces": list(fused),
            "fused_new_spaces": list(fused_new),
            "rrf_k": QueryOptions().rrf_k,
        },
        "seconds": seconds,
        "ranking_seconds": rank_seconds,
    }
