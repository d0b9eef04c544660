"""``fute quickstart``: the README's main job, offline on the embedded default (SQLite + FAISS).

1. registers the starter catalogue (real packaged datasets) and the default probe set;
2. fine-tunes the surrogate into a real SST-2 sentiment classifier (about a minute) and registers
   it as a model; registers SmolLM2 with a sentiment prompt and an NLI prompt;
3. embeds everything as one resumable catalogue job: TextEmb (datasets) and FUTE-TaskEmb
   (datasets, the classifier and both prompts, on the quickstart probe set);
4. prints the top transfer sources for a target, the best prompt and model for a dataset, and where
   the registry lives. Re-running skips what is already done.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingest import packaged
from ingest.engine import Engine
from ingest.finetune import finetune_classifier
from ingest.job_file import Catalogue
from ingest.jobs import run_catalogue
from ingest.probes import DEFAULT_POOL
from ingest.starter import ensure_default_probe_set, register_starter, starter_name
from query.service import QueryOptions, query_models, query_prompts, query_sources
from query.transfer_query import TransferOptions
from registry.api import Registry

TEXTEMB, TASKEMB = "textemb", "fute-taskemb"
CLASSIFIER = "sst2-classifier"
PROMPTS = [
    {
        "name": "sentiment@smollm2",
        "llm": "pkg:smollm2",
        "tags": {"family": "sentiment"},
        "template": "Review: {text}\nIs this review positive or negative? Answer:",
        "verbalizers": [["negative"], ["positive"]],
    },
    {
        "name": "nli@smollm2",
        "llm": "pkg:smollm2",
        "tags": {"family": "nli"},
        "template": "Premise: {text}\nHypothesis: {text_pair}\nDoes the premise entail the hypothesis? Answer:",
        "verbalizers": [["yes"], ["maybe"], ["no"]],
    },
]


@dataclass(frozen=True)
class QuickstartConfig:
    """Budgets of the quickstart (recorded in its spaces where they change vectors)."""

    probes: int = 256
    classifier_steps: int = 60
    taskemb: tuple[tuple[str, Any], ...] = (("train_steps", 12), ("grad_examples", 192))
    target: str = "rte"
    dataset: str = "sst2"


def say(message: str) -> None:
    """Progress on stderr (stdout stays clean for ``--json``)."""
    print(f"[quickstart] {message}", file=sys.stderr, flush=True)


def run(reg: Registry, cfg: QuickstartConfig, show_progress: bool = True) -> dict[str, Any]:
    """Run the job; returns the rankings, the job report and where the registry lives."""
    say("registering the starter catalogue and the default probe set")
    register_starter(reg, limit=1000)
    ensure_default_probe_set(reg)
    engine = Engine(reg)
    model_dir = reg.settings.home / "models" / CLASSIFIER
    if not (model_dir / "config.json").exists():
        say(f"fine-tuning the surrogate into a sentiment classifier on sst2 ({cfg.classifier_steps} steps)")
        finetune_classifier(reg, "sst2", model_dir, steps=cfg.classifier_steps)
    say("embedding (progress per entry; SmolLM2 is converted once to a cached folder)")
    report = run_catalogue(reg, engine, _catalogue(reg, cfg, model_dir), show_progress)
    return {
        "home": str(reg.settings.home.resolve()),
        "database": reg.db.engine.url.render_as_string(hide_password=True),
        "job": report.to_dict(),
        "sources": _ranked(reg, TASKEMB, cfg.target, "dataset"),
        "prompts": _ranked(reg, TASKEMB, cfg.dataset, "prompt"),
        "models": _ranked(reg, TASKEMB, cfg.dataset, "model"),
        "verify": reg.verify().to_dict(),
    }


def _catalogue(reg: Registry, cfg: QuickstartConfig, model_dir: Path) -> Catalogue:
    datasets = [{"name": starter_name(s.name), "source": s.name} for s in packaged.starter_catalogue()]
    return Catalogue(
        path=reg.settings.home.resolve() / "quickstart.yaml",
        sections={
            "probe_sets": [{"name": "quickstart", "from": [DEFAULT_POOL], "n": cfg.probes}],
            "spaces": [
                {"name": TEXTEMB, "method": "textemb"},
                {
                    "name": TASKEMB,
                    "method": "taskemb",
                    "probe_set": "quickstart",
                    "params": dict(cfg.taskemb),
                },
            ],
            "datasets": datasets,
            "models": [
                {
                    "name": CLASSIFIER,
                    "source": str(model_dir),
                    "kind": "classifier",
                    "tags": {"family": "sentiment"},
                }
            ],
            "prompts": PROMPTS,
        },
    )


def _ranked(reg: Registry, space: str, name: str, kind: str, k: int = 5) -> list[tuple[str, float]]:
    """The k nearest subjects of one kind to a dataset (itself excluded), by similarity in one
    space: ``query_sources`` / ``query_models`` / ``query_prompts``, the answers of ``fute query``.

    Args:
        reg: Registry.
        space: The space ranked in.
        name: The dataset.
        kind: ``dataset`` (transfer sources), ``model`` or ``prompt``.
        k: Results wanted.

    Returns:
        (name, similarity rounded to 4 places) pairs, best first; empty when the dataset has no vector.
    """
    # similarity only: the quickstart shows what its spaces rank, not recorded transfer results
    opts = QueryOptions(k=k, spaces=(space,), transfer=TransferOptions(ranking="similarity"))
    query = {"dataset": query_sources, "model": query_models, "prompt": query_prompts}[kind]
    try:
        answer = query(reg, name, opts)
    except LookupError:  # no vector in the space yet (an entry of the job failed)
        return []
    return [(r["name"], round(r["score"], 4)) for r in answer["results"]]
