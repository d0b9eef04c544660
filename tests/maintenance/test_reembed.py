"""fute maintain reembed on the real MiniLM surrogate: every subject of OLD lands in NEW, cached
black-box outputs are reused, an interrupted job resumes, OLD stays queryable."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select, update

from fute.cli import main
from ingest.blackbox.callable_box import CallableBlackBox
from ingest.engine import Engine
from ingest.probes import ProbeRequest, create_probe_set
from ingest.reembed import reembed
from ingest.register import DatasetRequest, register_dataset
from ingest.register_entries import register_model
from registry.api import Registry
from registry.errors import ConfigError, SpaceNotFoundError
from registry.models import Job
from registry.settings import Settings
from registry.subjects import get_subject
from tests.ingest.conftest import SHARED
from tests.shared_data import needs_shared

pytestmark = needs_shared("datasets/taskweb", "datasets/probe/probe_pool.jsonl")

TASKEMB = {"train_steps": 2, "batch_size": 8, "grad_examples": 16, "grad_batch_size": 8}


@pytest.mark.slow  # real surrogate, TaskEmb of 3 subjects in 2 spaces: 8 min on the shared 2-core machine
def test_reembed_fills_new_space_and_resumes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "home"
    reg = Registry(Settings.build(home=home))
    reg.init()
    for task in ("rte", "imdb"):
        src = str(SHARED / "taskweb" / f"{task}.jsonl")
        register_dataset(reg, DatasetRequest(source=src, name=task, limit=24))
    create_probe_set(reg, ProbeRequest("u", (str(SHARED / "probe" / "probe_pool.jsonl"),), n=24))
    calls: list[int] = []

    def classifier(probes: Sequence[tuple[str, str | None]]) -> np.ndarray:
        calls.append(len(probes))
        p1 = np.array([min(0.9, 0.1 + len(t) / 400) for t, _ in probes], dtype=np.float32)
        return np.stack([1 - p1, p1], axis=1)

    register_model(reg, "length-model", "python:fake", "callable")
    box = CallableBlackBox(classifier, 2)
    eng = Engine(reg)
    eng.create_space("old", "taskemb", overrides={**TASKEMB, "dim": 512}, probe_set="u")
    eng.create_space("new", "taskemb", overrides={**TASKEMB, "dim": 256}, probe_set="u")
    for name, kind in (("rte", "dataset"), ("imdb", "dataset"), ("length-model", "model")):
        eng.embed("old", name, kind, box=box if kind == "model" else None)
    assert sum(calls) == 24

    report = reembed(reg, eng, "old", "new", boxes={"length-model": box})
    assert report.status == "done" and report.count("done") == 3
    assert sum(calls) == 24  # the model's outputs came from the SQL cache, not the black box
    with reg.db.read() as s:
        ids = [get_subject(s, n).id for n in ("rte", "imdb", "length-model")]
    assert all(reg.vector_of("new", i).shape == (256,) for i in ids)
    assert {h.name for h in reg.search("old", reg.vector_of("old", ids[0]), k=5)[0]} == {
        "rte",
        "imdb",
        "length-model",
    }

    # A kill leaves the job "running" and a subject without its NEW vector: a re-run resumes.
    reg.delete_embeddings("new", [ids[1]])
    with reg.db.transaction() as s:
        s.execute(update(Job).where(Job.id == report.job_id).values(status="running"))
    again = reembed(reg, eng, "old", "new", boxes={"length-model": box})
    assert (again.count("done"), again.count("skipped")) == (1, 2)
    with reg.db.read() as s:
        first = s.scalars(select(Job).where(Job.id == report.job_id)).one()
    assert first.status == "cancelled" and str(again.job_id) in (first.error or "")
    assert reg.verify().ok

    with pytest.raises(ConfigError, match="both name"):
        reembed(reg, eng, "old", "old")
    with pytest.raises(SpaceNotFoundError, match="known spaces"):
        reembed(reg, eng, "old", "missing")

    # The CLI on a dataset-only space: the model is skipped with its reason, exit 0.
    eng.create_space("text", "textemb", overrides={"max_examples": 8})
    capsys.readouterr()
    code = main(["--home", str(home), "maintain", "reembed", "--from", "old", "--to", "text", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["counts"] == {"done": 2, "skipped": 1, "failed": 0}
    assert main(["--home", str(home), "maintain", "reembed", "--from", "nope", "--to", "text"]) == 2
