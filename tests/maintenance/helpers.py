"""A small catalogue with every kind of row, on fake vectors (storage logic only)."""

from __future__ import annotations

from itertools import pairwise

import numpy as np

from registry.api import Registry
from registry.jobs import finish_job, start_job
from registry.models import Dataset, ModelEntry, ProbeText, Subject
from registry.spaces import SpaceConfig
from registry.subjects import add_probe_set, add_subject, cache_output, record_transfer
from tests.registry.helpers import make_datasets, put, vec


def build_catalogue(reg: Registry, n: int = 30) -> list[int]:
    """Datasets with tags, a model, a probe set with cached outputs, transfer results, a job and
    two spaces (flat cosine, l2 on the probe set) holding fake vectors; returns the dataset ids."""
    ids = make_datasets(reg, n, tags=True)
    with reg.db.transaction() as s:
        model = add_subject(s, ModelEntry(name="m", source="x", model_kind="classifier"), [("family", "m")])
        probe = add_probe_set(s, "u", [(f"probe {i}", None) for i in range(4)], seed=1)
        for text in s.query(ProbeText).filter_by(probe_set_id=probe.id):
            cache_output(s, model.id, text.id, np.array([0.25, 0.75], dtype=np.float32))
        subjects = {x.id: x for x in s.query(Subject).filter(Subject.id.in_(ids))}
        for a, b in list(pairwise(ids))[:10]:
            record_transfer(s, subjects[a], subjects[b], score=0.1 * a, setting="full")
        job = start_job(s, "catalogue", 3, {"file": "x.yaml"})
        finish_job(s, job.id, "done")
        model_id = model.id
    reg.create_space(SpaceConfig(name="flat", surrogate="fake", method="fake", dim=16))
    reg.create_space(
        SpaceConfig(name="l2", surrogate="fake", method="fake2", dim=8, metric="l2", probe_set="u")
    )
    put(reg, "flat", ids)
    put(reg, "l2", [*ids[:20], model_id], dim=8, salt=7)
    return ids


def answers(reg: Registry, queries: int = 5) -> list[list[tuple[str, str, float]]]:
    """Top-10 answers of a few fixed queries in each space: (kind, name, rounded score)."""
    out = []
    for name, dim in (("flat", 16), ("l2", 8)):
        for q in range(queries):
            hits = reg.search(name, vec(1000 + q, dim), k=10)[0]
            out.append([(h.kind, h.name, round(h.score, 5)) for h in hits])
    return out


def dataset(name: str, content_hash: str, **kw: object) -> Dataset:
    """An unsaved dataset row with a chosen content hash."""
    fields = {"source": "test", "task_format": "classification", "label_set": ["a", "b"], "n_examples": 10}
    return Dataset(name=name, content_hash=content_hash, **{**fields, **kw})  # type: ignore[arg-type]
