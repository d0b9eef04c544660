"""PrefixTuner: exactness when empty/removed, gradients, padding, determinism (offline MiniLM)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import torch

from ingest.methods.prefix import PrefixTuner
from ingest.surrogate import DEFAULT_SURROGATE, Surrogate, load_surrogate
from registry.errors import ConfigError
from tests.shared_data import TASKWEB_DATA, needs_shared

pytestmark = needs_shared("datasets/taskweb/rte.jsonl")

RTE = TASKWEB_DATA / "rte.jsonl"
IMPLS = ["sdpa", "eager"]


@pytest.fixture(scope="module")
def sur() -> Surrogate:
    """The default surrogate, loaded once for the module."""
    return load_surrogate(DEFAULT_SURROGATE)


@pytest.fixture
def model(sur: Surrogate, request: pytest.FixtureRequest) -> Iterator[Any]:
    """The shared model, switched to the parametrised attention backend and back to sdpa."""
    sur.model.set_attn_implementation(getattr(request, "param", "sdpa"))
    yield sur.model
    sur.model.set_attn_implementation("sdpa")
    for attn in (layer.attention.self for layer in sur.model.encoder.layer):
        assert "forward" not in vars(attn), "a test left a prefix installed"


def sentences(n: int) -> list[dict[str, Any]]:
    """The first ``n`` RTE rows (real text pairs)."""
    with RTE.open() as fh:
        return [json.loads(line) for _, line in zip(range(n), fh, strict=False)]


def encode(sur: Surrogate, rows: list[dict[str, Any]], max_length: int = 128) -> dict[str, torch.Tensor]:
    """Tokenise text pairs, padded to the longest (so the batch has padding)."""
    texts, pairs = [r["text"] for r in rows], [r["text_pair"] for r in rows]
    return dict(
        sur.tokenizer(texts, pairs, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
    )


@pytest.fixture(scope="module")
def batch(sur: Surrogate) -> dict[str, torch.Tensor]:
    """Three RTE pairs plus a very short pair, so the batch has long padding."""
    rows = [*sentences(3), {"text": "Short one.", "text_pair": "Yes."}]
    return encode(sur, rows)


@pytest.mark.parametrize("model", IMPLS, indirect=True)
def test_empty_or_removed_prefix_is_exact(model: Any, batch: dict[str, torch.Tensor]) -> None:
    with torch.no_grad():
        base = model(**batch).last_hidden_state
        empty = PrefixTuner(model, prefix_len=0)
        assert torch.allclose(empty(**batch), base, atol=1e-5)
        empty.remove()
        tuner = PrefixTuner(model, prefix_len=16)
        keys = set(model.state_dict())
        assert not torch.allclose(tuner(**batch), base, atol=1e-3)
        tuner.remove()
        assert set(model.state_dict()) == keys  # patching never changed the module tree
        assert torch.allclose(model(**batch).last_hidden_state, base, atol=1e-5)
    assert all(p.requires_grad for p in model.parameters())  # flags restored


def test_gradients_reach_only_the_prefix(model: Any, batch: dict[str, torch.Tensor]) -> None:
    tuner = PrefixTuner(model, prefix_len=4)
    try:
        assert not any(p.requires_grad for p in model.parameters())
        assert list(tuner.parameters()) == tuner.prefix_parameters()
        tuner(**batch).pow(2).mean().backward()
        assert all(p.grad is None for p in model.parameters())
        grad = tuner.prefix.grad
        assert grad is not None
        # Every layer's key and value slots receive gradient, so all of them belong in the vector.
        assert bool((grad.flatten(2).abs().sum(-1) > 0).all())
    finally:
        tuner.remove()


def test_changing_prefix_values_changes_outputs(model: Any, batch: dict[str, torch.Tensor]) -> None:
    tuner = PrefixTuner(model, prefix_len=4)
    try:
        with torch.no_grad():
            before = tuner(**batch)
            tuner.prefix[:, 1] += 1.0
            after = tuner(**batch)
        assert not torch.allclose(before, after, atol=1e-3)
    finally:
        tuner.remove()


@pytest.mark.parametrize("model", IMPLS, indirect=True)
def test_padding_still_masked_and_prefix_always_visible(
    model: Any, sur: Surrogate, batch: dict[str, torch.Tensor]
) -> None:
    short = batch["attention_mask"][-1].bool()
    alone = {k: v[-1:, short] for k, v in batch.items()}
    tuner = PrefixTuner(model, prefix_len=8)
    try:
        with torch.no_grad():
            padded = tuner(**batch)[-1, short]
            single = tuner(**alone)[0]
            attentions = (
                model(**batch, output_attentions=True).attentions
                if model.config._attn_implementation == "eager"
                else None
            )
    finally:
        tuner.remove()
    assert torch.allclose(padded, single, atol=1e-5)  # padding is invisible with the prefix installed
    if attentions is not None:
        weights = attentions[0]  # (batch, heads, queries, 8 + keys)
        assert weights.shape[-1] == 8 + batch["input_ids"].shape[1]
        assert bool((weights[..., :8] > 0).all())  # every query, padded ones included, sees the prefix
        assert float(weights[-1, :, :, 8:][..., ~short].abs().max()) == 0.0


def test_sdpa_and_eager_agree_with_a_prefix(model: Any, batch: dict[str, torch.Tensor]) -> None:
    tuner = PrefixTuner(model, prefix_len=16, init_std=0.5)
    try:
        with torch.no_grad():
            sdpa = tuner(**batch)
            model.set_attn_implementation("eager")
            eager = tuner(**batch)
    finally:
        tuner.remove()
    mask = batch["attention_mask"].bool()
    assert torch.allclose(sdpa[mask], eager[mask], atol=1e-4)


def test_seeded_initialisation_and_embedding_shape(model: Any) -> None:
    first = PrefixTuner(model, prefix_len=16, seed=7)
    first_prefix = first.prefix.detach().clone()
    first.remove()
    again, other = PrefixTuner(model, prefix_len=16, seed=7), None
    try:
        assert torch.equal(again.prefix.detach(), first_prefix)
        vector = again.embedding()
        assert vector.dtype == np.float32 and vector.shape == (2 * 16 * 384,)
        assert np.array_equal(vector, first_prefix.mean(0).flatten().numpy())
    finally:
        again.remove()
    other = PrefixTuner(model, prefix_len=16, seed=8)
    other.remove()
    assert not torch.equal(other.prefix.detach(), first_prefix)


def train_embedding(
    sur: Surrogate, rows: list[dict[str, Any]]
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """5 AdamW steps (lr 1e-2) of prefix + linear head on mean-pooled states; (initial, final) vector."""
    torch.manual_seed(0)
    tuner = PrefixTuner(sur.model, prefix_len=16, seed=0)
    head = torch.nn.Linear(sur.hidden_size, 2)
    inputs, labels = encode(sur, rows, max_length=48), torch.tensor([int(r["label"]) for r in rows])
    weights = inputs["attention_mask"].unsqueeze(-1).float()
    opt = torch.optim.AdamW([*tuner.prefix_parameters(), *head.parameters()], lr=1e-2, weight_decay=0.01)
    initial = tuner.embedding()
    try:
        for _ in range(5):
            pooled = (tuner(**inputs) * weights).sum(1) / weights.sum(1)
            loss = torch.nn.functional.cross_entropy(head(pooled), labels)
            opt.zero_grad(set_to_none=True)
            torch.autograd.backward(loss)  # typed, unlike Tensor.backward
            opt.step()
        return initial, tuner.embedding()
    finally:
        tuner.remove()


def test_training_is_deterministic(sur: Surrogate, model: Any) -> None:
    rows = sentences(16)
    initial, first = train_embedding(sur, rows)
    _, second = train_embedding(sur, rows)
    cosine = float(first @ second / (np.linalg.norm(first) * np.linalg.norm(second)))
    assert cosine >= 0.9999
    assert np.array_equal(first, second)  # bitwise on one machine with a fixed thread count
    assert not np.allclose(first, initial)  # training moved the prefix


def test_invalid_setups_are_refused(model: Any, batch: dict[str, torch.Tensor]) -> None:
    with pytest.raises(ConfigError):
        PrefixTuner(model, prefix_len=-1)
    with pytest.raises(ConfigError):
        PrefixTuner(torch.nn.Linear(2, 2))
    tuner = PrefixTuner(model, prefix_len=2)
    with pytest.raises(ConfigError, match="already has a prefix"):
        PrefixTuner(model)
    model.config._attn_implementation = "flex_attention"  # bypass the setter: only the dispatch is tested
    try:
        with pytest.raises(ConfigError, match="supports"):
            model.encoder.layer[0].attention.self(torch.zeros(1, 3, 384))
    finally:
        model.config._attn_implementation = "sdpa"
        tuner.remove()
    tuner.remove()  # idempotent
    assert not tuner.installed
    with pytest.raises(RuntimeError, match="removed"):
        tuner(**batch)


def test_xavier_initialisation_is_seeded_and_xavier_scaled(model: Any) -> None:
    first = PrefixTuner(model, prefix_len=16, seed=3, init="xavier")
    start = first.prefix.detach().clone()
    first.remove()
    again = PrefixTuner(model, prefix_len=16, seed=3, init="xavier")
    again.remove()
    seeded = PrefixTuner(model, prefix_len=16, seed=3)
    seeded.remove()
    assert torch.equal(again.prefix.detach(), start)
    assert not torch.allclose(seeded.prefix.detach(), start)
    # Xavier over the reference's (prefix_len) x (2 x layers x hidden) matrix: var = 2 / (fan_in + fan_out).
    variance, bound = 2.0 / (16 + 2 * 6 * 384), (6.0 / (16 + 2 * 6 * 384)) ** 0.5
    assert abs(float(start.var()) / variance - 1.0) < 0.03
    assert float(start.abs().max()) <= bound and abs(float(start.mean())) < 1e-3
    with pytest.raises(ConfigError, match="init"):
        PrefixTuner(model, init="normal")


def test_prefix_dropout_only_in_training(model: Any, batch: dict[str, torch.Tensor]) -> None:
    plain = PrefixTuner(model, prefix_len=8, init_std=0.5)
    with torch.no_grad():
        reference = plain(**batch)
    plain.remove()
    tuner = PrefixTuner(model, prefix_len=8, init_std=0.5, dropout=0.5)
    try:
        with torch.no_grad():
            assert tuner.training  # nn.Module default: dropout is live until eval()
            dropped = [tuner(**batch), tuner(**batch)]
            before = tuner.embedding()
            tuner.eval()
            evaluated = [tuner(**batch), tuner(**batch)]
    finally:
        tuner.remove()
    assert not torch.allclose(dropped[0], dropped[1], atol=1e-3)
    assert not torch.allclose(dropped[0], reference, atol=1e-3)
    assert torch.equal(evaluated[0], evaluated[1]) and torch.equal(evaluated[0], reference)
    assert np.array_equal(before, tuner.embedding())  # the vector never sees a mask
    with pytest.raises(ConfigError, match="dropout"):
        PrefixTuner(model, dropout=1.0)


def test_positions_pooling_keeps_every_layer(model: Any) -> None:
    tuner = PrefixTuner(model, prefix_len=5, seed=1, init="xavier")
    tuner.remove()
    vector, prefix = tuner.embedding("positions"), tuner.prefix.detach()
    assert vector.dtype == np.float32 and vector.shape == (2 * 6 * 384,)
    # Layer-major, as the reference's (2 x layers x hidden) row: layer 0 keys, layer 0 values, ...
    assert np.array_equal(vector[:384], prefix[0, 0].mean(0).numpy())
    assert np.array_equal(vector[384:768], prefix[0, 1].mean(0).numpy())
    assert np.array_equal(vector[-384:], prefix[5, 1].mean(0).numpy())
    assert np.array_equal(tuner.embedding("layers"), tuner.embedding())
    with pytest.raises(ConfigError, match="pooling"):
        tuner.embedding("mean")
    empty = PrefixTuner(model, prefix_len=0)
    empty.remove()
    with pytest.raises(ConfigError, match="prefix_len"):
        empty.embedding("positions")
