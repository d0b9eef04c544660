"""The ingest floor's door to storage: `registry.registration` (writes) and `registry.lookups` (reads)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from registry import lookups
from registry.errors import AlreadyExistsError, DuplicateDataError, NotFoundError, SubjectNotFoundError
from registry.models import Dataset, ModelEntry, Prompt
from registry.registration import (
    NewDataset,
    NewPrompt,
    cache_blackbox_outputs,
    store_dataset,
    store_model,
    store_probe_set,
    store_prompt,
)
from tests.registry.helpers import open_registry, space

EXAMPLES = [{"text": "good film", "label": "pos"}, {"text": "bad film", "label": "neg"}]


def _new(name: str, digest: str = "h1") -> NewDataset:
    return NewDataset(name, "pkg:x", "classification", ["neg", "pos"], digest, {"limit": 2}, EXAMPLES)


def test_store_dataset_writes_row_tags_and_examples_in_one_transaction(tmp_path: Path, db_url: str) -> None:
    reg = open_registry(tmp_path, db_url)
    stored = store_dataset(reg, _new("a"), [("family", "sentiment")], allow_duplicate=False)
    assert stored.duplicate_of is None
    assert lookups.subject_exists(reg, "a", "dataset") and not lookups.subject_exists(reg, "a", "model")
    assert lookups.dataset_names(reg) == {"a"}
    assert lookups.dataset_id_by_key(reg, "a") == stored.id == lookups.dataset_id_by_key(reg, "h1")
    assert lookups.dataset_id_by_key(reg, "nope") is None
    assert lookups.stored_examples(reg, stored.id) == EXAMPLES
    assert sorted(d["text"] for d in lookups.example_data(reg, stored.id)) == ["bad film", "good film"]
    ds, examples = lookups.dataset_and_examples(reg, "a")
    assert isinstance(ds, Dataset) and ds.n_examples == 2 and examples == EXAMPLES
    with pytest.raises(DuplicateDataError, match="already registered as 'a'"):
        store_dataset(reg, _new("b"), [], allow_duplicate=False)
    assert lookups.dataset_names(reg) == {"a"}  # nothing of the refused dataset was stored
    assert store_dataset(reg, _new("b"), [], allow_duplicate=True).duplicate_of == "a"
    with pytest.raises(AlreadyExistsError):
        store_dataset(reg, _new("b", "h2"), [], allow_duplicate=False)
    with pytest.raises(SubjectNotFoundError):
        lookups.dataset_and_examples(reg, "missing")
    reg.close()


def test_store_prompt_adds_its_llm_once_and_checks_only_a_new_one(tmp_path: Path, db_url: str) -> None:
    reg = open_registry(tmp_path, db_url)
    checked: list[str] = []
    new = NewPrompt("p1", "{text}?", ["no", "yes"], "smollm2", "pkg:smollm2", "llm")
    p1 = store_prompt(reg, new, [("lang", "en")], lambda: checked.append("p1"))
    p2 = store_prompt(
        reg,
        NewPrompt("p2", "{text}!", ["no", "yes"], "smollm2", "pkg:smollm2", "llm"),
        [],
        lambda: checked.append("p2"),
    )
    assert checked == ["p1"] and p1 != p2

    def refuse() -> None:
        raise ValueError("bad source")

    with pytest.raises(ValueError, match="bad source"):
        store_prompt(reg, NewPrompt("p3", "{text}", ["a", "b"], "other", "/nope", "llm"), [], refuse)
    assert not lookups.subject_exists(reg, "other", "model") and not lookups.subject_exists(
        reg, "p3", "prompt"
    )
    model_id = store_model(reg, "clf", "pkg:clf", "classifier", [("family", "nli")])
    with pytest.raises(AlreadyExistsError):
        store_model(reg, "clf", "pkg:clf", "classifier")
    space(reg, "s")
    inputs = lookups.embedding_inputs(reg, "s", "p1", "prompt")
    assert isinstance(inputs.subject, Prompt) and isinstance(inputs.llm, ModelEntry)
    assert inputs.llm.name == "smollm2" and inputs.space.name == "s"
    clf = lookups.embedding_inputs(reg, "s", "clf", None)
    assert clf.subject.id == model_id and clf.llm is None
    reg.close()


def test_probe_sets_and_black_box_cache_round_trip(tmp_path: Path, db_url: str) -> None:
    reg = open_registry(tmp_path, db_url)
    probes = [("one", None), ("two", "pair"), ("three", None)]
    stored = store_probe_set(reg, "ps", probes, 13, {"sources": ["x"], "exclude": [], "n_requested": 3})
    assert (stored.name, stored.n_texts) == ("ps", 3) and len(stored.content_hash) == 64
    assert lookups.probe_set_exists(reg, "ps") and not lookups.probe_set_exists(reg, "other")
    with pytest.raises(AlreadyExistsError):
        store_probe_set(reg, "ps2", probes, 13, {})
    pid = lookups.probe_set_id(reg, "ps")
    with pytest.raises(NotFoundError):
        lookups.probe_set_id(reg, "nope")
    texts = lookups.probe_set_texts(reg, pid)
    assert [(p, t, q) for p, _, t, q in texts] == [(0, "one", None), (1, "two", "pair"), (2, "three", None)]
    model_id = store_model(reg, "m", "pkg:m", "classifier")
    assert lookups.cached_blackbox_outputs(reg, model_id, pid) == {}
    rows = np.array([[0.25, 0.75], [0.5, 0.5]], dtype=np.float32)
    cache_blackbox_outputs(reg, model_id, [(texts[0][1], rows[0]), (texts[2][1], rows[1])])
    cache_blackbox_outputs(reg, model_id, [(texts[2][1], rows[0])])  # replaces
    cached = lookups.cached_blackbox_outputs(reg, model_id, pid)
    assert sorted(cached) == [0, 2] and cached[2].tolist() == [0.25, 0.75]
    assert lookups.find_space(reg, "s") is None
    space(reg, "s")
    found = lookups.find_space(reg, "s")
    assert found is not None and found.method == "fake"
    reg.close()
