"""TextEmb baseline: a dataset's vector is the mean over its examples of the surrogate's
mask-weighted mean token states."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import torch

from ingest.surrogate import Surrogate


def encode_texts(
    sur: Surrogate, texts: Sequence[str], max_length: int = 128, batch_size: int = 32
) -> npt.NDArray[np.float32]:
    """Mean-pooled token states of each text.

    Batches are formed from length-sorted texts (dynamic padding: about 2x faster on CPU than
    arrival order) and results are put back in input order.

    Args:
        sur: Loaded surrogate.
        texts: n texts.
        max_length: Truncation length in tokens.
        batch_size: Texts per forward pass.

    Returns:
        float32 array of shape (n, hidden_size).
    """
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = np.zeros((len(texts), sur.hidden_size), dtype=np.float32)
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            enc = sur.tokenizer(
                [texts[i] for i in idx],
                truncation=True,
                max_length=max_length,
                padding=True,
                return_tensors="pt",
            )
            states = sur.model(**enc).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).to(states.dtype)
            pooled = (states * mask).sum(1) / mask.sum(1).clamp(min=1.0)
            out[idx] = pooled.float().numpy()
    return out


def textemb(sur: Surrogate, texts: Sequence[str], max_length: int = 128) -> npt.NDArray[np.float32]:
    """TextEmb of a dataset: mean over examples of the pooled states.

    Raises:
        ValueError: No texts.
    """
    if not texts:
        raise ValueError("TextEmb needs at least one example text")
    mean: npt.NDArray[np.float32] = encode_texts(sur, texts, max_length).mean(axis=0).astype(np.float32)
    return mean
