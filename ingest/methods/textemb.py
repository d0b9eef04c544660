"""TextEmb: a dataset's vector is the mean over its examples of the surrogate's mask-weighted mean
token states.

Two pooling rules (the ``pool`` parameter):

* ``mean``: the plain mean of the example vectors, compared by cosine (the original baseline);
* ``normed``: the mean of the L2-normalised example vectors, stored as it is (not re-normalised) in
  an ``l2`` space, so a query scores ``-||mu_t - mu_s||^2``: the linear MMD between the two sets
  of examples, a distance between distributions rather than between two directions.

``center=probe`` subtracts a reference mean fixed when the space is created (the probe pool's mean,
stored with the space and part of its fingerprint): the direction every text shares dominates raw
cosines, and removing it is a fixed, label-free transform.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import torch

from ingest.progress import stage
from ingest.surrogate import Surrogate


def encode_texts(
    sur: Surrogate,
    texts: Sequence[str],
    max_length: int = 128,
    batch_size: int = 32,
    pairs: Sequence[str | None] | None = None,
) -> npt.NDArray[np.float32]:
    """Mean-pooled token states of each text.

    Batches are formed from length-sorted texts (dynamic padding: about 2x faster on CPU than
    arrival order) and results are put back in input order.

    Args:
        sur: Loaded surrogate.
        texts: n texts.
        pairs: Optional second texts (None entries allowed), encoded as ``[CLS] a [SEP] b [SEP]``.
        max_length: Truncation length in tokens.
        batch_size: Texts per forward pass.

    Returns:
        float32 array of shape (n, hidden_size).
    """
    second = list(pairs) if pairs is not None else [None] * len(texts)
    if len(second) != len(texts):
        raise ValueError(f"{len(second)} second texts for {len(texts)} texts; give one per text (or None)")
    out = np.zeros((len(texts), sur.hidden_size), dtype=np.float32)
    batches = _batches(texts, second, batch_size)
    with torch.inference_mode(), stage("encoding", len(batches)) as shown:
        for idx in batches:
            enc = sur.tokenizer(
                [texts[i] for i in idx],
                text_pair=[str(second[i]) for i in idx] if second[idx[0]] is not None else None,
                truncation=True,
                max_length=max_length,
                padding=True,
                return_tensors="pt",
            )
            enc = enc.to(sur.device)  # tokenizers make CPU tensors
            states = sur.model(**enc).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).to(states.dtype)
            pooled = (states * mask).sum(1) / mask.sum(1).clamp(min=1.0)
            out[idx] = pooled.float().cpu().numpy()
            shown.advance()
    return out


def _batches(texts: Sequence[str], second: Sequence[str | None], batch_size: int) -> list[list[int]]:
    """Index batches, length-sorted, with single texts and pairs never mixed in one batch (a
    tokenizer call takes a second text for all rows or for none)."""
    batches: list[list[int]] = []
    for has_pair in (False, True):
        group = [i for i in range(len(texts)) if (second[i] is not None) == has_pair]
        group.sort(key=lambda i: len(texts[i]) + len(second[i] or ""))
        batches += [group[j : j + batch_size] for j in range(0, len(group), batch_size)]
    return batches


POOLS = ("mean", "normed")
CENTERS = ("none", "probe")
# Spaces created before ``pool`` and ``center`` existed used the plain mean, uncentred.
LEGACY: dict[str, object] = {"pool": "mean", "center": "none"}


def textemb(
    sur: Surrogate,
    texts: Sequence[str],
    max_length: int = 128,
    pairs: Sequence[str | None] | None = None,
    pool: str = "mean",
) -> npt.NDArray[np.float32]:
    """TextEmb of a dataset: mean over examples of the pooled states.

    Args:
        sur: Loaded surrogate.
        texts: The examples' first texts.
        max_length: Truncation length in tokens.
        pairs: Optional second texts.
        pool: ``mean`` (plain mean) or ``normed`` (mean of unit-length example vectors).

    Returns:
        float32 vector of shape (hidden_size,).

    Raises:
        ValueError: No texts, or an unknown pool.
    """
    if not texts:
        raise ValueError("TextEmb needs at least one example text")
    if pool not in POOLS:
        raise ValueError(f"unknown textemb pool {pool!r}; choose one of {', '.join(POOLS)}")
    states = encode_texts(sur, texts, max_length, pairs=pairs)
    if pool == "normed":
        norms = np.linalg.norm(states, axis=1, keepdims=True)
        states = (states / np.where(norms > 0, norms, 1.0)).astype(np.float32)
    mean: npt.NDArray[np.float32] = states.mean(axis=0).astype(np.float32)
    return mean


def example_inputs(example: dict[str, object]) -> tuple[str, str | None]:
    """The (text, second text) a canonical example shows the surrogate, for every task format."""
    if "choices" in example:  # multiple choice: context (+ question) vs the choices
        first = " ".join(str(example[k]) for k in ("context", "question") if example.get(k))
        return first, " / ".join(str(c) for c in example["choices"])  # type: ignore[attr-defined]
    if "answers" in example:  # extractive QA: question vs context
        return str(example["question"]), str(example["context"])
    pair = example.get("text_pair")
    return str(example["text"]), None if pair is None else str(pair)
