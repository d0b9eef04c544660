"""TuPaTE after the original (issue 15, item 4): pooling, Xavier start, prefix dropout, epoch budget,
legacy recipe reproducing the first FUTE vectors, MTEs from soft targets (offline MiniLM)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import numpy as np
import pytest
import torch

from ingest.heads import head_for
from ingest.methods import tupate
from ingest.methods.prefix import PrefixTuner
from ingest.methods.training import TrainConfig, train
from ingest.surrogate import Surrogate, load_surrogate
from tests.shared_data import TASKWEB_DATA, needs_shared

pytestmark = needs_shared("datasets/taskweb/rte.jsonl")

PAIR = "pair-classification"
# CPU-sized: 16 examples, 3 steps of 8, short sequences.
SMALL = {"prefix_len": 4, "train_steps": 3, "batch_size": 8, "max_length": 48}


@pytest.fixture(scope="module")
def sur() -> Surrogate:
    """The packaged MiniLM surrogate, loaded once for the module."""
    return load_surrogate()


@pytest.fixture(scope="module")
def rte() -> list[dict[str, Any]]:
    """16 canonical RTE examples {text, text_pair, label}."""
    with (TASKWEB_DATA / "rte.jsonl").open() as fh:
        rows = [json.loads(line) for _, line in zip(range(16), fh, strict=False)]
    return [{"text": r["text"], "text_pair": r["text_pair"], "label": int(r["label"])} for r in rows]


def params(**overrides: Any) -> tupate.TuPaTEParams:
    """Small-budget parameters with the new defaults unless overridden."""
    return tupate.TuPaTEParams(**{**SMALL, **overrides})


def old_recipe(
    sur: Surrogate, examples: list[dict[str, Any]], p: tupate.TuPaTEParams
) -> np.ndarray[Any, Any]:
    """The first FUTE-TuPaTE formula, recomputed independently: a N(0, 0.02²) prefix from a seeded
    generator, ``train_steps`` steps without dropout, the prefix averaged over layers minus its start."""
    torch.manual_seed(p.seed)
    tuner = PrefixTuner(sur.model, prefix_len=p.prefix_len, seed=p.seed)
    try:
        shape = (6, 2, p.prefix_len, sur.hidden_size)
        start = torch.randn(shape, generator=torch.Generator().manual_seed(p.seed)) * 0.02
        assert torch.equal(tuner.prefix.detach(), start)
        head = head_for(PAIR, sur.hidden_size, 2, sur.device)
        cfg = TrainConfig(p.train_steps, p.batch_size, p.lr, p.max_length, p.seed)
        train(tuner.prefix_parameters(), head, tuner, (sur.tokenizer, PAIR, examples), cfg)
        trained = tuner.prefix.detach()
    finally:
        tuner.remove()
    pooled = [x.mean(0).reshape(-1).numpy().astype(np.float32) for x in (trained, start)]
    return pooled[0] - pooled[1] if p.centered else pooled[0]


def test_defaults_follow_the_original() -> None:
    p = tupate.TuPaTEParams()
    assert (p.pooling, p.init, p.prefix_dropout, p.epochs, p.train_steps) == (
        "positions",
        "xavier",
        0.1,
        0.0,
        24,
    )
    assert set(tupate.LEGACY) == {"pooling", "init", "prefix_dropout", "epochs"}
    assert set(tupate.LEGACY) <= {f.name for f in dataclasses.fields(tupate.TuPaTEParams)}


@pytest.mark.parametrize(("pooling", "dim"), [("layers", 2 * 4 * 384), ("positions", 2 * 6 * 384)])
def test_shape_per_pooling(sur: Surrogate, rte: list[dict[str, Any]], pooling: str, dim: int) -> None:
    p = params(pooling=pooling)
    vector = tupate.embed(sur, PAIR, rte, 2, p)
    assert tupate.vector_dim(p, sur) == dim
    assert vector.dtype == np.float32 and vector.shape == (dim,)
    assert np.isfinite(vector).all() and float(np.abs(vector).max()) > 0


def test_deterministic_with_dropout(sur: Surrogate, rte: list[dict[str, Any]]) -> None:
    first = tupate.embed(sur, PAIR, rte, 2, params(prefix_dropout=0.3))
    second = tupate.embed(sur, PAIR, rte, 2, params(prefix_dropout=0.3))
    without = tupate.embed(sur, PAIR, rte, 2, params(prefix_dropout=0.0))
    assert np.array_equal(first, second)
    assert not np.allclose(first, without)  # the dropout is live while training


@pytest.mark.parametrize("centered", [True, False])
def test_legacy_values_reproduce_the_old_vector(
    sur: Surrogate, rte: list[dict[str, Any]], centered: bool
) -> None:
    p = params(**tupate.LEGACY, centered=centered)
    assert np.array_equal(tupate.embed(sur, PAIR, rte, 2, p), old_recipe(sur, rte, p))


def test_vector_is_read_without_dropout(sur: Surrogate, rte: list[dict[str, Any]]) -> None:
    # No training step: the vector is the pooled starting prefix, whatever the dropout rate.
    untrained = {"train_steps": 0, "centered": False}
    heavy = tupate.embed(sur, PAIR, rte, 2, params(**untrained, prefix_dropout=0.9))
    plain = tupate.embed(sur, PAIR, rte, 2, params(**untrained, prefix_dropout=0.0))
    assert np.array_equal(heavy, plain)
    seeded = tupate.embed(sur, PAIR, rte, 2, params(**untrained, init="seeded"))
    assert not np.allclose(heavy, seeded)  # xavier and seeded starts differ


def test_centered_subtracts_the_start_with_either_pooling(sur: Surrogate, rte: list[dict[str, Any]]) -> None:
    for pooling in tupate.POOLINGS:
        centred = tupate.embed(sur, PAIR, rte, 2, params(pooling=pooling, train_steps=0))
        assert float(np.abs(centred).max()) == 0.0


def test_epochs_set_the_number_of_steps(
    sur: Surrogate, rte: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert tupate.train_steps(params(epochs=1.0), 16) == 2  # 16 examples / batches of 8
    assert tupate.train_steps(params(epochs=0.5), 17) == 2  # ceil(8.5 / 8)
    assert tupate.train_steps(params(epochs=3.0), 1000) == 375
    assert tupate.train_steps(params(), 1000) == 3  # epochs 0: train_steps
    seen: list[int] = []

    def spy(*args: Any) -> float:
        seen.append(args[-1].steps)
        return train(*args)

    monkeypatch.setattr(tupate, "train", spy)
    tupate.embed(sur, PAIR, rte, 2, params(epochs=1.5))
    assert seen == [3]


def test_mte_from_soft_targets(sur: Surrogate, rte: list[dict[str, Any]]) -> None:
    # A black box's probabilities on single texts (classification), the MTE path.
    probs = np.linspace(0.05, 0.95, len(rte))
    probes = [{"text": e["text"], "soft": [float(1 - q), float(q)]} for e, q in zip(rte, probs, strict=True)]
    soft = tupate.embed(sur, "classification", probes, 2, params())
    hard = [{"text": e["text"], "label": int(q > 0.5)} for e, q in zip(rte, probs, strict=True)]
    gold = tupate.embed(sur, "classification", hard, 2, params())
    assert soft.shape == gold.shape == (2 * 6 * 384,)
    assert np.isfinite(soft).all() and not np.allclose(soft, gold)
    cosine = float(soft @ gold / (np.linalg.norm(soft) * np.linalg.norm(gold)))
    assert cosine > 0.5  # the same decision rule, softly or hard labelled


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"pooling": "mean"}, "unknown tupate pooling 'mean'; choose one of layers, positions"),
        ({"init": "normal"}, "unknown tupate init 'normal'; choose one of seeded, xavier"),
        ({"prefix_dropout": 1.0}, "prefix_dropout must be in"),
    ],
)
def test_bad_values_are_refused(
    sur: Surrogate, rte: list[dict[str, Any]], overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        tupate.embed(sur, PAIR, rte, 2, params(**overrides))
    for attn in (layer.attention.self for layer in sur.model.encoder.layer):
        assert "forward" not in vars(attn)  # nothing was installed


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_gpu_reproduces_the_cpu_vector(sur: Surrogate, rte: list[dict[str, Any]]) -> None:
    gpu = load_surrogate(device="cuda")
    on_gpu = tupate.embed(gpu, PAIR, rte, 2, params())
    on_cpu = tupate.embed(sur, PAIR, rte, 2, params())
    cosine = float(on_gpu @ on_cpu / (np.linalg.norm(on_gpu) * np.linalg.norm(on_cpu)))
    assert cosine > 0.999  # dropout masks come from the CPU generator on every device
