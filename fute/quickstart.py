"""``fute quickstart``: the main job on the embedded default (SQLite + FAISS), fully offline.

Registers three real packaged datasets, embeds each with the TextEmb baseline on the real
MiniLM surrogate, stores the vectors, answers a nearest-task query for each, and verifies the
registry. Re-running skips what is already embedded.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from typing import Any

import transformers

from ingest import packaged
from ingest.surrogate import DEFAULT_SURROGATE, load_surrogate
from ingest.textemb import textemb
from registry.api import EmbeddingItem, Registry
from registry.catalog import add_subject, get_subject
from registry.embeddings import subject_embedding_ids
from registry.errors import SpaceNotFoundError, SubjectNotFoundError
from registry.filters import SearchFilter
from registry.jobs import finish_job, progress, start_job
from registry.models import Dataset
from registry.spaces import SpaceConfig, canonical_json, get_space

SPACE = "quickstart-textemb"
DATASETS = {
    "drugreview-sentiment": ("pkg:drugreview-sentiment", "sentiment"),
    "drugreview-condition": ("pkg:drugreview-condition", "topic"),
    "bbcnews-topic": ("pkg:bbcnews", "topic"),
}


@dataclass(frozen=True)
class QuickstartConfig:
    """Knobs of the quickstart job."""

    n_examples: int = 64
    max_length: int = 128
    seed: int = 0


def run(reg: Registry, cfg: QuickstartConfig) -> dict[str, Any]:
    """Run the job.

    Returns:
        ``{"space", "embedded", "skipped", "neighbours": {name: [(other, score)]}, "verify"}``.
    """
    sur = load_surrogate(DEFAULT_SURROGATE)
    _ensure_space(reg, cfg, sur.weights_hash, sur.hidden_size)
    with reg.db.transaction() as session:
        job_id = start_job(session, "quickstart", len(DATASETS), {"space": SPACE}).id
    embedded, skipped = [], []
    for n, (name, (source, family)) in enumerate(DATASETS.items()):
        subject_id, texts, fresh = _register(reg, name, source, family, cfg)
        if fresh:
            vec = textemb(sur, texts, cfg.max_length)
            reg.put_embeddings(SPACE, [EmbeddingItem(subject_id, vec, {"source": source, "n": len(texts)})])
            embedded.append(name)
        else:
            skipped.append(name)
        with reg.db.transaction() as session:
            progress(session, job_id, n + 1)
    neighbours = _neighbours(reg)
    report = reg.verify()
    with reg.db.transaction() as session:
        finish_job(session, job_id, "done" if report.ok else "failed", "; ".join(report.problems) or None)
    return {
        "space": SPACE,
        "embedded": embedded,
        "skipped": skipped,
        "neighbours": neighbours,
        "verify": report.to_dict(),
    }


def _ensure_space(reg: Registry, cfg: QuickstartConfig, weights: str, dim: int) -> None:
    with reg.db.read() as session:
        try:
            get_space(session, SPACE)
            return
        except SpaceNotFoundError:
            pass
    params = {
        "max_length": cfg.max_length,
        "pooling": "mask-mean",
        "weights_sha256": weights,
        "transformers": transformers.__version__,
    }
    reg.create_space(
        SpaceConfig(name=SPACE, surrogate=DEFAULT_SURROGATE, method="textemb", dim=dim, params=params)
    )


def _register(
    reg: Registry, name: str, source: str, family: str, cfg: QuickstartConfig
) -> tuple[int, list[str], bool]:
    """Register a dataset (seeded subsample); returns (subject id, texts, needs embedding)."""
    examples = packaged.load(source)
    random.Random(f"{cfg.seed}:{name}").shuffle(examples)
    sample = examples[: cfg.n_examples]
    texts = [t for t, _ in sample]
    with reg.db.transaction() as session:
        try:
            subject = get_subject(session, name, "dataset")
            return subject.id, texts, not _embedded(reg, subject.id)
        except SubjectNotFoundError:
            pass
        labels = sorted({lab for _, lab in sample})
        ds = Dataset(
            name=name,
            source=source,
            task_format="classification",
            label_set=labels,
            n_examples=len(sample),
            content_hash=hashlib.sha256(canonical_json(sample).encode()).hexdigest(),
            sampling={"limit": cfg.n_examples, "seed": cfg.seed},
        )
        subject = add_subject(session, ds, [("family", family), ("origin", "packaged")])
        return subject.id, texts, True


def _embedded(reg: Registry, subject_id: int) -> bool:
    """True when the subject already has a vector in the quickstart space."""
    with reg.db.read() as session:
        space_id = get_space(session, SPACE).id
        return any(s == space_id for s, _ in subject_embedding_ids(session, subject_id))


def _neighbours(reg: Registry) -> dict[str, list[tuple[str, float]]]:
    """Nearest other datasets of each quickstart dataset."""
    out = {}
    for name in DATASETS:
        with reg.db.read() as session:
            subject = get_subject(session, name, "dataset")
        vec = reg.vector_of(SPACE, subject.id)
        hits = reg.search(SPACE, vec, k=len(DATASETS), flt=SearchFilter(exclude_subject_ids=(subject.id,)))[0]
        out[name] = [(h.name, round(h.score, 4)) for h in hits]
    return out
