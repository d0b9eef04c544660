"""Section 2: FUTE's unified space. Models and prompt+LLM pairs (MTE) must land near the datasets
(DTE) of their own task.

* Classifiers: the surrogate fine-tuned on TaskWeb classification tasks (bounded budget), registered
  as models and embedded through the default probe set in the ``taskemb-fute`` space. Score: how
  often the model's own training task is the nearest DTE among all registered tasks, and the MRR.
* Prompts: SmolLM2 with FUTE's sentiment and NLI templates (``fute_prompts/``), embedded in a
  FUTE-TaskEmb space of their own (smaller probe set: an LLM pass per probe is the dominant cost).
  Score: the share of prompts whose nearest DTE among the pack's sentiment and NLI tasks is of the
  prompt's own family.

Rankings come from the product's query path (``query_similar`` restricted to datasets).
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from sqlalchemy import select

from bench.common import (
    RunConfig,
    SpaceSpec,
    ensure_space,
    has_subject,
    has_vector,
    say,
    shared_dir,
    timed,
    wait_for_vectors,
)
from bench.taskweb_quality import embed_space
from ingest.engine import Engine
from ingest.finetune import finetune_classifier
from ingest.probes import DEFAULT_POOL, ProbeRequest, create_probe_set
from ingest.register_entries import register_model, register_prompt
from query.service import QueryOptions, query_similar
from registry.models import ProbeSet

FAMILIES = {
    "sentiment": ("imdb", "rotten_tomatoes"),
    "nli": ("anli_r3", "cb", "rte", "scitail", "snli"),
}
PROMPT_FILES = {"sentiment": "sa_use.json", "nli": "nli_use.json"}
PROMPT_SPACE = "taskemb-fute-prompts"


def ensure_probe_set(engine: Engine, name: str, n: int, tasks: tuple[str, ...]) -> str:
    """A probe set from the packaged default pool (seed 13) without any text of the TaskWeb tasks."""
    with engine.reg.db.read() as session:
        exists = session.scalar(select(ProbeSet.id).where(ProbeSet.name == name)) is not None
    if not exists:
        create_probe_set(engine.reg, ProbeRequest(name, (DEFAULT_POOL,), n=n, seed=13, exclude=tasks))
    return name


def nearest_datasets(engine: Engine, space: str, name: str, k: int) -> list[str]:
    """Datasets nearest to a model or prompt in a space, by the product's query path."""
    opts = QueryOptions(k=k, spaces=(space,))
    return [r["name"] for r in query_similar(engine.reg, name, opts, kind="dataset")["results"]]


def run_models(engine: Engine, cfg: RunConfig, space: str) -> dict[str, Any]:
    """Fine-tune, register and embed one classifier per task; rank every task's DTE for each.

    Args:
        engine: Engine over a registry whose ``space`` holds the DTE of every run task.
        cfg: Run configuration (tasks, classifier budget).
        space: A TaskEmb space with the default probe set.

    Returns:
        ``{"mte_to_dte_top1", "mte_to_dte_mrr", "n_models", "models": {...}, "seconds": {...}}``.
    """
    home = engine.reg.settings.home
    per_model: dict[str, Any] = {}
    seconds = {"finetune": 0.0, "mte": 0.0}
    for task in cfg.classifier_tasks:
        name, folder = f"clf-{task}", home / "models" / f"clf-{task}"
        if not (folder / "config.json").is_file():
            with timed(seconds, "finetune"):
                finetune_classifier(engine.reg, task, folder, steps=cfg.classifier_steps, seed=cfg.seed)
        if not has_subject(engine.reg, name, "model"):
            register_model(engine.reg, name, str(folder), "classifier", (("trained_on", task),))
        if not has_vector(engine.reg, space, name, "model"):
            seconds["mte"] += engine.embed(space, name, "model").seconds
        wait_for_vectors(engine.reg, space, cfg.tasks)
        ranked = nearest_datasets(engine, space, name, len(cfg.tasks))
        rank = ranked.index(task) + 1
        per_model[name] = {"trained_on": task, "rank_of_own_task": rank, "nearest": ranked[:3]}
        say(f"{name}: own task at rank {rank}; nearest {ranked[:3]}")
    ranks = [m["rank_of_own_task"] for m in per_model.values()]
    return {
        "mte_to_dte_top1": round(sum(r == 1 for r in ranks) / len(ranks), 6),
        "mte_to_dte_mrr": round(sum(1 / r for r in ranks) / len(ranks), 6),
        "n_models": len(ranks),
        "n_candidate_datasets": len(cfg.tasks),
        "models": per_model,
        "seconds": {k: round(v, 2) for k, v in seconds.items()},
    }


def fute_prompts(cfg: RunConfig) -> list[dict[str, Any]]:
    """FUTE's templates (first ``prompts_per_family`` of each file) as catalogue prompt entries,
    alternating families so that an interrupted run has embedded both."""
    by_family = []
    for family, file in PROMPT_FILES.items():
        rows = json.loads((shared_dir() / "groundtruth" / "fute_prompts" / file).read_text(encoding="utf-8"))
        by_family.append([_prompt_entry(family, row) for row in rows[: cfg.prompts_per_family]])
    return [entry for group in zip(*by_family, strict=True) for entry in group]


def _prompt_entry(family: str, row: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": f"{family}-{row['id']}@smollm2",
        "llm": "pkg:smollm2",
        "template": row["jinja"],  # the product fills FUTE's {{text}}/{{premise}} fields as they are
        "verbalizers": [list(words) for words in row["answer_choices"].values()],
        "tags": {"family": family},
    }


def run_prompts(engine: Engine, cfg: RunConfig, fute: SpaceSpec) -> dict[str, Any]:
    """Embed the family tasks and the FUTE prompts in the prompt space; nearest DTE per prompt.

    Returns:
        ``{"prompt_family_top1", "n_prompts", "prompts": {...}, ...}``.
    """
    family_of = {t: f for f, tasks in FAMILIES.items() for t in tasks if t in cfg.tasks}
    probes = ensure_probe_set(engine, f"prompt-probes-{cfg.prompt_probes}", cfg.prompt_probes, cfg.tasks)
    spec = replace(fute, label=PROMPT_SPACE)
    ensure_space(engine, spec, probes)
    dte_seconds = embed_space(engine, spec, tuple(family_of), probes)
    per_prompt: dict[str, Any] = {}
    mte_seconds = 0.0
    for entry in fute_prompts(cfg):
        if not has_subject(engine.reg, entry["name"], "prompt"):
            register_prompt(engine.reg, entry)
        if not has_vector(engine.reg, PROMPT_SPACE, entry["name"], "prompt"):
            mte_seconds += engine.embed(PROMPT_SPACE, entry["name"], "prompt").seconds
        ranked = nearest_datasets(engine, PROMPT_SPACE, entry["name"], len(family_of))
        family = entry["tags"]["family"]
        per_prompt[entry["name"]] = {
            "family": family,
            "nearest": ranked[0],
            "hit": family_of[ranked[0]] == family,
        }
        say(f"{entry['name']}: nearest {ranked[:3]}")
    hits = [p["hit"] for p in per_prompt.values()]
    return {
        "prompt_family_top1": round(sum(hits) / len(hits), 6),
        "n_prompts": len(hits),
        "prompt_candidates": family_of,
        "prompt_probes": cfg.prompt_probes,
        "prompts": per_prompt,
        "prompt_seconds": {"dte": round(dte_seconds, 2), "mte": round(mte_seconds, 2)},
    }
