"""Fixtures of the map and web tests: a small registry with fake vectors (storage and rendering
only; the browser tests build a real MiniLM catalogue themselves)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from registry.api import EmbeddingItem, Registry
from registry.jobs import start_job
from registry.models import Dataset, JobEntry, ModelEntry, Prompt
from registry.settings import Settings
from registry.spaces import SpaceConfig
from registry.subjects import add_subject

HOSTILE = '<script>alert("x")</script>&"\'/..'
DIM = 16
# (name, family): two well separated families, one hostile name among the sentiment tasks
DATASETS = [("sent-a", "sentiment"), ("sent-b", "sentiment"), (HOSTILE, "sentiment"),
            ("topic-a", "topic"), ("topic-b", "topic"), ("topic-c", "topic")]  # fmt: skip


def cluster_vector(family: str, seed: int) -> np.ndarray:
    """A vector near its family's centre: sentiment along +e0, topic along +e1, small noise."""
    centre = np.zeros(DIM)
    centre[0 if family == "sentiment" else 1] = 1.0
    return (centre + 0.05 * np.random.default_rng(seed).normal(size=DIM)).astype(np.float32)


def build_fake(reg: Registry) -> dict[str, int]:
    """Six datasets, a classifier, an LLM and a prompt in space ``fake``, and one job with entries."""
    reg.create_space(SpaceConfig(name="fake", surrogate="fake", method="fake", dim=DIM))
    ids: dict[str, int] = {}
    with reg.db.transaction() as s:
        for i, (name, family) in enumerate(DATASETS):
            fmt = "pair-classification" if name == "topic-c" else "classification"
            ds = Dataset(name=name, source="test", task_format=fmt, n_examples=10, content_hash=f"h{i}")
            ids[name] = add_subject(s, ds, [("family", family)]).id
        clf = add_subject(
            s, ModelEntry(name="clf", source="test", model_kind="classifier"), [("family", "sentiment")]
        )
        llm = add_subject(s, ModelEntry(name="llm", source="test", model_kind="llm"))
        prompt = Prompt(name="p-sent", template="{text}", verbalizers=[["a"], ["b"]], llm_id=llm.id)
        ids["clf"], ids["p-sent"] = clf.id, add_subject(s, prompt, [("family", "sentiment")]).id
        job = start_job(s, "catalogue", 2, {"file": "x.yaml"})
        s.add(JobEntry(job_id=job.id, key="dataset/sent-a", status="done", seconds=1.5))
        s.add(JobEntry(job_id=job.id, key="embed/fake/dataset/<b>x</b>", status="failed", error="boom <i>"))
    families = dict(DATASETS) | {"clf": "sentiment", "p-sent": "sentiment"}
    items = [EmbeddingItem(ids[n], cluster_vector(families[n], i)) for i, n in enumerate(ids)]
    reg.put_embeddings("fake", items)
    return ids


@pytest.fixture
def fake_reg(db_url: str, tmp_path: Path) -> Iterator[Registry]:
    """The fake catalogue on SQLite and (when configured) PostgreSQL."""
    reg = Registry(Settings.build(home=tmp_path / "home", db=db_url))
    reg.init()
    build_fake(reg)
    yield reg
    reg.close()
