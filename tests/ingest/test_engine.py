"""The embedding engine on the real MiniLM surrogate with tiny budgets (fast tier)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from ingest.blackbox.callable_box import CallableBlackBox
from ingest.engine import Engine
from ingest.register import DatasetRequest, register_dataset
from ingest.register_entries import register_model
from ingest.starter import ensure_default_probe_set
from registry.api import Registry
from registry.errors import ConfigError
from registry.settings import Settings
from tests.ingest.conftest import SHARED
from tests.shared_data import needs_shared

TINY = {
    "textemb": {"max_examples": 16},
    "taskemb": {"train_steps": 2, "batch_size": 8, "grad_examples": 16, "grad_batch_size": 8, "dim": 512},
    "tupate": {"train_steps": 2, "batch_size": 8, "prefix_len": 4},
}
FILES = {
    "pair-classification": "rte",
    "pair-regression": "stsb",
    "multiple-choice": "copa",
    "extractive-qa": "squad_v2",
    "classification": "imdb",
}


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """A registry with one small dataset per format, a probe set and one space per method."""
    home = tmp_path_factory.mktemp("engine")
    reg = Registry(Settings.build(home=home))
    reg.init()
    for task in FILES.values():
        register_dataset(
            reg, DatasetRequest(source=str(SHARED / "taskweb" / f"{task}.jsonl"), name=task, limit=24)
        )
    from ingest.probes import ProbeRequest, create_probe_set

    create_probe_set(reg, ProbeRequest("u", (str(SHARED / "probe" / "probe_pool.jsonl"),), n=24))
    eng = Engine(reg)
    for method, params in TINY.items():
        eng.create_space(method, method, overrides=params, probe_set="u")
    return eng


@pytest.mark.parametrize("method", list(TINY))
@pytest.mark.parametrize("fmt", list(FILES))
@needs_shared("datasets/taskweb", "datasets/probe/probe_pool.jsonl")
def test_each_method_and_format_gives_a_finite_vector(engine: Engine, method: str, fmt: str) -> None:
    res = engine.embed(method, FILES[fmt], "dataset")
    stored = _vector(engine, method, FILES[fmt])
    assert stored.shape == (_dim(engine, method),) and np.isfinite(stored).all() and res.embedding_id > 0


@pytest.mark.parametrize("method", ["taskemb", "tupate"])
@needs_shared("datasets/taskweb", "datasets/probe/probe_pool.jsonl")
def test_same_data_same_space_same_vector(engine: Engine, method: str) -> None:
    engine.embed(method, "rte", "dataset")
    first = _vector(engine, method, "rte")
    engine.embed(method, "rte", "dataset")  # an upsert: a new row, same vector
    second = _vector(engine, method, "rte")
    assert float(first @ second) >= 0.9999
    assert np.array_equal(first, second)  # bitwise on this machine


@needs_shared("datasets/taskweb", "datasets/probe/probe_pool.jsonl")
def test_changed_hyper_parameter_is_a_new_space(engine: Engine) -> None:
    engine.create_space(
        "taskemb-fisher", "taskemb", overrides={**TINY["taskemb"], "variant": "fisher"}, probe_set="u"
    )
    spaces = {s.name: s for s, _ in engine.reg.spaces()}
    assert spaces["taskemb-fisher"].fingerprint != spaces["taskemb"].fingerprint
    engine.embed("taskemb-fisher", "rte", "dataset")
    fisher, fute = _vector(engine, "taskemb-fisher", "rte"), _vector(engine, "taskemb", "rte")
    assert not np.allclose(fisher, fute)  # never the same vector under another definition
    with pytest.raises(ConfigError, match="unknown taskemb parameter 'epoch'"):
        engine.create_space("bad", "taskemb", overrides={"epoch": 3})


@needs_shared("datasets/taskweb", "datasets/probe/probe_pool.jsonl")
def test_blackbox_outputs_are_cached_across_spaces(engine: Engine) -> None:
    calls: list[int] = []

    def fake_classifier(probes: Sequence[tuple[str, str | None]]) -> np.ndarray:
        calls.append(len(probes))  # a deterministic rule: longer texts lean to class 1
        p1 = np.array([min(0.9, 0.1 + len(t) / 400) for t, _ in probes], dtype=np.float32)
        return np.stack([1 - p1, p1], axis=1)

    register_model(engine.reg, "length-model", "python:fake", "callable")
    box = CallableBlackBox(fake_classifier, 2)
    first = engine.embed("taskemb", "length-model", "model", box=box)
    assert first.blackbox_queries == 24 and sum(calls) == 24
    second = engine.embed("tupate", "length-model", "model", box=box)
    assert second.blackbox_queries == 0 and sum(calls) == 24  # served from the SQL cache
    with pytest.raises(ConfigError, match="embeds datasets only"):
        engine.embed("textemb", "length-model", "model", box=box)


def _dim(engine: Engine, space: str) -> int:
    return next(s.dim for s, _ in engine.reg.spaces() if s.name == space)


def _vector(engine: Engine, space: str, name: str) -> np.ndarray:
    from registry.subjects import get_subject

    with engine.reg.db.read() as s:
        sid = get_subject(s, name).id
    return engine.reg.vector_of(space, sid)


def test_default_probe_set_exists_offline(tmp_path: Path) -> None:
    reg = Registry(Settings.build(home=tmp_path))
    reg.init()
    assert ensure_default_probe_set(reg, n=50)["n_texts"] == 50
