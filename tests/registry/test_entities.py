"""Round trips of every catalogue entity, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from registry.errors import AlreadyExistsError, ImmutableError, SubjectNotFoundError
from registry.jobs import finish_job, progress, start_job
from registry.models import Dataset, Embedding, Job, ModelEntry, ProbeText, Prompt, TransferResult
from registry.spaces import SpaceConfig, get_space
from registry.subjects import (
    add_probe_set,
    add_subject,
    cache_output,
    cached_outputs,
    ensure_probe_set_mutable,
    get_subject,
    record_transfer,
    tags_of,
)
from tests.registry.helpers import make_datasets, open_registry, put


def test_dataset_model_prompt_and_tags_round_trip(tmp_path: Path, db_url: str) -> None:
    reg = open_registry(tmp_path, db_url)
    with reg.db.transaction() as s:
        add_subject(
            s,
            Dataset(
                name="rte",
                source="pkg:rte",
                task_format="classification",
                label_set=["no", "yes"],
                n_examples=277,
                content_hash="h1",
                sampling={"limit": 1000, "seed": 0},
            ),
            [("family", "nli"), ("family", "pair"), ("lang", "en")],
        )
        llm = add_subject(
            s, ModelEntry(name="smollm2", source="pkg:smollm2", model_kind="llm", label_set=None)
        )
        add_subject(
            s, ModelEntry(name="bert-sst2", source="/models/x", model_kind="classifier", label_set=[0, 1])
        )
        add_subject(
            s,
            Prompt(
                name="sent@smollm2",
                template="Review: {text} Sentiment:",
                verbalizers=[" negative", " positive"],
                llm_id=llm.id,
            ),
        )
    with reg.db.read() as s:
        ds = get_subject(s, "rte", "dataset")
        assert isinstance(ds, Dataset)
        assert (ds.source, ds.task_format, ds.label_set, ds.n_examples) == (
            "pkg:rte",
            "classification",
            ["no", "yes"],
            277,
        )
        assert ds.sampling == {"limit": 1000, "seed": 0}
        assert tags_of(s, [ds.id])[ds.id] == {"family": ["nli", "pair"], "lang": ["en"]}
        model = get_subject(s, "bert-sst2")
        assert isinstance(model, ModelEntry) and model.label_set == [0, 1]
        prompt = get_subject(s, "sent@smollm2", "prompt")
        assert isinstance(prompt, Prompt) and prompt.llm_id == get_subject(s, "smollm2").id
        assert prompt.verbalizers == [" negative", " positive"]


def test_duplicate_and_unknown_names_are_clear_errors(tmp_path: Path, db_url: str) -> None:
    reg = open_registry(tmp_path, db_url)
    make_datasets(reg, 1, prefix="x")
    with pytest.raises(AlreadyExistsError, match="already exists"), reg.db.transaction() as s:
        add_subject(
            s, Dataset(name="x0", source="t", task_format="classification", n_examples=1, content_hash="z")
        )
    with pytest.raises(SubjectNotFoundError, match="no dataset named 'nope'"), reg.db.read() as s:
        get_subject(s, "nope", "dataset")
    with pytest.raises(LookupError), reg.db.read() as s:  # leaves also subclass the builtin
        get_subject(s, "nope")


def test_probe_set_space_embedding_cache_transfer_job(tmp_path: Path, db_url: str) -> None:
    reg = open_registry(tmp_path, db_url)
    a, b = make_datasets(reg, 2)
    with reg.db.transaction() as s:
        probe = add_probe_set(s, "u1", [("a text", None), ("premise", "hypothesis")], seed=3)
        model = add_subject(
            s, ModelEntry(name="m", source="local", model_kind="classifier", label_set=[0, 1])
        )
        first_text = s.scalar(
            select(ProbeText).where(ProbeText.probe_set_id == probe.id, ProbeText.position == 0)
        )
        assert first_text is not None
        cache_output(s, model.id, first_text.id, np.array([0.25, 0.75], dtype=np.float32))
        record_transfer(
            s, get_subject(s, "d0"), get_subject(s, "d1"), 0.61, setting="finetune/t5l", origin="taskweb"
        )
        job = start_job(s, "ingest", n_total=5, params={"file": "cat.yaml"})
        progress(s, job.id, 3, n_failed=1, error="entry 2: empty dataset")
        finish_job(s, job.id, "done")
    reg.create_space(SpaceConfig(name="mte", surrogate="fake", method="fake", dim=4, probe_set="u1"))
    put(reg, "mte", [a, b], dim=4)
    with reg.db.read() as s:
        assert cached_outputs(s, model.id, probe.id)[0].tolist() == [0.25, 0.75]
        texts = s.scalars(
            select(ProbeText).where(ProbeText.probe_set_id == probe.id).order_by(ProbeText.position)
        )
        assert [(t.text, t.text_pair) for t in texts] == [("a text", None), ("premise", "hypothesis")]
        space = get_space(s, "mte")
        assert space.probe_set_id == probe.id and space.dim == 4 and len(space.fingerprint) == 64
        rows = s.scalars(select(Embedding).where(Embedding.space_id == space.id)).all()
        assert sorted(r.subject_id for r in rows) == [a, b] and all(len(r.vector) == 16 for r in rows)
        tr = s.scalars(select(TransferResult)).one()
        assert (tr.score, tr.setting, tr.origin) == (0.61, "finetune/t5l", "taskweb")
        job_row = s.get_one(Job, job.id)
        assert (job_row.status, job_row.n_done, job_row.n_failed) == ("done", 3, 1)
        assert job_row.error == "entry 2: empty dataset" and job_row.finished_at is not None
        with pytest.raises(ImmutableError, match="used by space 'mte'"):
            ensure_probe_set_mutable(s, probe)


def test_ids_are_monotonic_and_never_reused(tmp_path: Path, db_url: str) -> None:
    reg = open_registry(tmp_path, db_url)
    ids = make_datasets(reg, 3)
    reg.delete_subject("d2")
    (new,) = make_datasets(reg, 1, prefix="again")
    assert new > max(ids)
    from tests.registry.helpers import space

    space(reg)
    first = put(reg, "s", [ids[0]])
    reg.delete_embeddings("s", [ids[0]])
    second = put(reg, "s", [ids[0]])
    assert second[0] > first[0]
