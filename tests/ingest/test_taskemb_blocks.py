"""TaskEmb with block normalisation, the activation variant, the epoch budget and the legacy recipe,
on the packaged MiniLM surrogate and 16 tiny examples (a few seconds per embedding on one core)."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import torch

from ingest.heads import head_for, loss_of, make_batch
from ingest.methods import taskemb
from ingest.methods.fisher_blocks import (
    block_of,
    block_shares,
    group_blocks,
    normalise_blocks,
    sketched_shares,
)
from ingest.methods.sketch import count_sketch
from ingest.methods.training import TrainConfig, ordered_batches, train
from ingest.surrogate import DEFAULT_SURROGATE, Surrogate, load_surrogate

EPS = 1e-9  # exact shares, up to float64 rounding
SKETCH_TOL = 0.15  # |K x share - 1| after the 16,384-dim sketch (measured: 0.043 on these examples)
WORDS = ["good", "bad", "great", "awful", "fine", "poor", "nice", "dull"]
EXAMPLES = [
    {"text": f"the film was {w} and {WORDS[(i + 3) % 8]}", "label": i % 2} for i, w in enumerate(WORDS * 2)
]
SMALL = taskemb.TaskEmbParams(train_steps=2, grad_examples=16, max_length=32)
FORMAT = "classification"


@pytest.fixture(scope="module")
def sur() -> Surrogate:
    """MiniLM, loaded once for the module."""
    torch.set_num_threads(1)
    return load_surrogate(DEFAULT_SURROGATE)


@pytest.fixture(scope="module")
def block_stat(sur: Surrogate) -> tuple[npt.NDArray[np.float64], list[tuple[str, int]]]:
    """The block-normalised ``fute`` statistic (unsketched) of the tiny examples."""
    return taskemb.statistic(sur, FORMAT, EXAMPLES, 2, SMALL)


def test_minilm_blocks(sur: Surrogate) -> None:
    names = [n for n, _ in sur.model.named_parameters()]
    plan = group_blocks(names)
    assert list(plan.blocks) == [f"layer.{i}.{k}" for i in range(6) for k in ("attention", "ffn")]
    # attention: q, k, v, out (weight + bias each); FFN: intermediate, output (weight + bias each)
    assert [len(m) for m in plan.blocks.values()] == [8, 4] * 6
    assert "encoder.layer.2.output.dense.weight" in plan.blocks["layer.2.ffn"]
    assert "encoder.layer.2.attention.output.dense.bias" in plan.blocks["layer.2.attention"]
    # 5 embedding, 6 x 4 LayerNorm, 2 pooler parameters left out; nothing else.
    assert len(plan.excluded) == 5 + 24 + 2 and len(plan.excluded) + 72 == len(names)
    assert all(block_of(n) in ("embeddings", "norm", "pooler") for n in plan.excluded)
    extra = group_blocks(names, include_embeddings=True)
    assert list(extra.blocks) == ["embeddings", *plan.blocks, "norm", "pooler"]
    assert not extra.excluded


def test_generic_names_fall_back_to_layer_number_and_keywords() -> None:
    names = [
        "model.layers.1.self_attn.q_proj.weight",
        "model.layers.1.mlp.up_proj.weight",
        "model.layers.1.input_layernorm.weight",
        "lm_head.weight",
        "model.layers.0.mlp.down_proj.weight",
    ]
    plan = group_blocks(names)
    assert plan.blocks == {
        "layer.0.ffn": ["model.layers.0.mlp.down_proj.weight"],
        "layer.1.attention": ["model.layers.1.self_attn.q_proj.weight"],
        "layer.1.ffn": ["model.layers.1.mlp.up_proj.weight"],
    }
    assert set(plan.excluded) == {"model.layers.1.input_layernorm.weight", "lm_head.weight"}


def test_normalise_blocks_skips_zero_blocks() -> None:
    v = normalise_blocks([np.array([3.0, 4.0]), np.zeros(3), np.array([1e-12])])
    assert np.isclose(np.linalg.norm(v), 1.0) and np.allclose(block_shares(v, [2, 3, 1]), [0.5, 0.0, 0.5])


def test_block_balance_before_and_after_sketch(
    block_stat: tuple[npt.NDArray[np.float64], list[tuple[str, int]]],
) -> None:
    vector, blocks = block_stat
    sizes = [n for _, n in blocks]
    k = len(blocks)
    assert k == 12 and len(vector) == sum(sizes)
    assert np.isclose(np.linalg.norm(vector), 1.0)
    assert max(block_shares(vector, sizes)) <= (1 + EPS) / k
    after = sketched_shares(vector, sizes, SMALL.dim, SMALL.sketch_seed)
    assert max(abs(s * k - 1) for s in after) <= SKETCH_TOL, after


def test_embed_is_the_deterministic_sketch_of_the_statistic(
    sur: Surrogate, block_stat: tuple[npt.NDArray[np.float64], list[tuple[str, int]]]
) -> None:
    v = taskemb.embed(sur, FORMAT, EXAMPLES, 2, SMALL)  # same seed as the fixture's run
    sketch = count_sketch(block_stat[0], SMALL.dim, SMALL.sketch_seed)
    assert v.shape == (taskemb.vector_dim(SMALL, sur),) and np.isclose(np.linalg.norm(v), 1.0)
    assert np.array_equal(v, (sketch / np.linalg.norm(sketch)).astype(np.float32))


def test_activation_variant(sur: Surrogate) -> None:
    p = dataclasses.replace(SMALL, variant="activation")
    vector, blocks = taskemb.statistic(sur, FORMAT, EXAMPLES, 2, p)
    v = taskemb.embed(sur, FORMAT, EXAMPLES, 2, p)
    assert v.shape == (2 * 6 * 384,) == (taskemb.vector_dim(p, sur),)
    assert np.isfinite(v).all() and np.isclose(np.linalg.norm(v), 1.0)
    assert [n for n, _ in blocks][:3] == ["layer.0.attention", "layer.0.output", "layer.1.attention"]
    assert max(block_shares(vector, [n for _, n in blocks])) <= (1 + EPS) / 12
    assert np.array_equal(v, (vector / np.linalg.norm(vector)).astype(np.float32))  # same seed


def _old_formula(sur: Surrogate, p: taskemb.TaskEmbParams) -> npt.NDArray[np.float32]:
    """The recipe before block normalisation, written out: all parameters in name order, square of
    the mean batch gradient, one count-sketch of the concatenation."""
    torch.manual_seed(p.seed)
    model = copy.deepcopy(sur.model)
    head = head_for(FORMAT, sur.hidden_size, 2)
    model.train()
    encoder: Any = lambda **kw: model(**kw).last_hidden_state  # noqa: E731
    train(
        list(model.parameters()),
        head,
        encoder,
        (sur.tokenizer, FORMAT, EXAMPLES),
        TrainConfig(p.train_steps, p.batch_size, p.lr, p.max_length, p.seed),
    )
    model.eval()
    params = [w for _, w in sorted(model.named_parameters(), key=lambda kv: kv[0])]
    acc = [torch.zeros_like(w, dtype=torch.float64) for w in params]
    batches = list(ordered_batches(EXAMPLES, p.grad_batch_size))
    for chunk in batches:
        model.zero_grad(set_to_none=True)
        torch.autograd.backward(
            loss_of(FORMAT, head, encoder, make_batch(sur.tokenizer, FORMAT, chunk, p.max_length))
        )
        for a, w in zip(acc, params, strict=True):
            if w.grad is not None:  # the pooler takes no part in the loss
                a += w.grad.to(torch.float64)
    stat = torch.cat([((a / len(batches)) ** 2).flatten() for a in acc]).numpy()
    sketch = count_sketch(stat, p.dim, p.sketch_seed)
    return (sketch / np.linalg.norm(sketch)).astype(np.float32)


def test_legacy_values_reproduce_the_old_vector(sur: Surrogate) -> None:
    assert set(taskemb.LEGACY) == {"block_norm", "include_embeddings", "epochs"}
    legacy = dataclasses.replace(SMALL, **taskemb.LEGACY)
    assert np.array_equal(taskemb.embed(sur, FORMAT, EXAMPLES, 2, legacy), _old_formula(sur, legacy))


def test_epochs_set_the_step_count(sur: Surrogate, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []

    def stop(*args: Any) -> float:
        seen.append(args[-1].steps)
        raise RuntimeError("stop after the budget is known")

    monkeypatch.setattr(taskemb, "train", stop)
    for epochs, steps in ((0.0, 2), (1.0, 1), (2.5, 3)):  # 16 examples, batch 16
        with pytest.raises(RuntimeError, match="stop"):
            taskemb.embed(sur, FORMAT, EXAMPLES, 2, dataclasses.replace(SMALL, epochs=epochs))
        assert seen[-1] == steps


def test_unknown_variant_is_refused(sur: Surrogate) -> None:
    with pytest.raises(ValueError, match="fute, fisher, activation"):
        taskemb.embed(sur, FORMAT, EXAMPLES, 2, dataclasses.replace(SMALL, variant="fishr"))
