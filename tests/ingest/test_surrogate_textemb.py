"""The real packaged surrogate (all-MiniLM-L6-v2) and the TextEmb baseline, offline."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from ingest.methods.textemb import encode_texts, textemb
from ingest.surrogate import DEFAULT_SURROGATE, Surrogate, load_surrogate, resolve
from registry.errors import ConfigError, NotFoundError


@pytest.fixture(scope="session")
def minilm() -> Surrogate:
    """The real surrogate, loaded once per test session."""
    return load_surrogate(DEFAULT_SURROGATE)


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


def test_packaged_minilm_gives_sensible_similarities(minilm: Surrogate) -> None:
    vecs = encode_texts(
        minilm,
        ["A man is playing a guitar.", "Someone plays the guitar.", "The stock market fell sharply today."],
    )
    assert vecs.shape == (3, 384) and minilm.hidden_size == 384
    assert _cos(vecs[0], vecs[1]) > 0.5 > _cos(vecs[0], vecs[2]) + 0.3
    assert len(minilm.weights_hash) == 64


def test_textemb_is_deterministic_and_order_independent(minilm: Surrogate) -> None:
    texts = ["great movie", "terrible plot and acting", "I would watch it again", "a waste of two hours"]
    first = textemb(minilm, texts)
    again = textemb(minilm, texts)
    shuffled = textemb(minilm, texts[::-1])
    assert np.array_equal(first, again)  # bitwise on this machine
    assert _cos(first, shuffled) > 0.9999
    with pytest.raises(ValueError, match="at least one"):
        textemb(minilm, [])


def test_local_model_folder_loads_through_the_hub_code_path(tmp_path: Path, minilm: Surrogate) -> None:
    local = tmp_path / "my-encoder"
    shutil.copytree(resolve(DEFAULT_SURROGATE), local)
    sur = load_surrogate(str(local))
    assert sur.weights_hash == minilm.weights_hash
    assert np.allclose(encode_texts(sur, ["hello world"]), encode_texts(minilm, ["hello world"]), atol=1e-6)


def test_unknown_surrogates_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="known: pkg:all-minilm-l6-v2"):
        resolve("pkg:nope")
    with pytest.raises(ConfigError, match="cannot load surrogate"):
        load_surrogate(str(tmp_path / "missing-model"))


def test_pairs_are_encoded_jointly_and_mixed_batches_keep_order(minilm: Surrogate) -> None:
    """The second text of a pair reaches the surrogate ([CLS] a [SEP] b [SEP]), and a mix of single
    texts and pairs comes back in input order, each row as if encoded alone."""
    first = ["A man plays guitar.", "The market fell.", "Cats sleep a lot."]
    second: list[str | None] = ["Someone is making music.", None, "Stocks rose sharply."]
    mixed = encode_texts(minilm, first, pairs=second, batch_size=2)
    alone = [
        encode_texts(minilm, [t], pairs=[p] if p else None)[0] for t, p in zip(first, second, strict=True)
    ]
    assert np.allclose(mixed, np.stack(alone), atol=1e-5)
    first_only = encode_texts(minilm, first[:1])[0]
    assert _cos(mixed[0], first_only) < 0.999  # the pair's second text changed the encoding
    enc = minilm.tokenizer(first[0], text_pair=second[0])
    assert enc["input_ids"].count(minilm.tokenizer.sep_token_id) == 2
