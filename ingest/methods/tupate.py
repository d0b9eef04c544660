"""FUTE-TuPaTE: freeze the surrogate, train a prefix (key and value slots per layer) plus the task
head; the embedding is the trained prefix, pooled.

Two recipes share the code (``TuPaTEParams``):

* after the original (JetRunner/TuPaTE, the defaults): a Xavier start, prefix dropout 0.1 in
  training, an epoch budget, and the prefix averaged over prefix POSITIONS with every layer kept
  (``2 x layers x hidden`` values, the reference's ``prefix_encoder.weight.mean(0)``);
* the first FUTE recipe (``LEGACY``, spaces created before these fields existed): a seeded normal
  start, no dropout, ``train_steps`` steps, the prefix averaged over LAYERS
  (``2 x prefix_len x hidden`` values).

``centered`` (ours) subtracts the initial prefix, pooled the same way, with either recipe.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from ingest.heads import head_for
from ingest.methods.prefix import INITS, POOLINGS, PrefixTuner
from ingest.methods.training import TrainConfig, train
from ingest.surrogate import Surrogate

__all__ = ["INITS", "LEGACY", "POOLINGS", "TuPaTEParams", "embed", "train_steps", "vector_dim"]

# The value of every field added after the first release that reproduces the old vectors exactly.
LEGACY: dict[str, Any] = {"pooling": "layers", "init": "seeded", "prefix_dropout": 0.0, "epochs": 0.0}


@dataclass(frozen=True)
class TuPaTEParams:
    """Hyper-parameters of a ``tupate`` space (CPU-sized step budget by default).

    ``epochs`` > 0 replaces ``train_steps`` by ceil(epochs x examples / batch_size).
    """

    prefix_len: int = 16
    train_steps: int = 24
    batch_size: int = 16
    lr: float = 1e-2
    max_length: int = 128
    seed: int = 0
    # (ours) subtract the initial prefix: with CPU-sized step budgets the shared starting
    # point would otherwise dominate every cosine (measured: RTE-MRPC 0.33 raw vs 0.15 centred).
    centered: bool = True
    pooling: str = "positions"
    init: str = "xavier"
    # The reference drops out its prefix with the model's hidden dropout: 0.1 (RTE script).
    prefix_dropout: float = 0.1
    epochs: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON form (stored in the space)."""
        return asdict(self)


def vector_dim(params: TuPaTEParams, sur: Surrogate) -> int:
    """Length of the vectors of a tupate space.

    Args:
        params: The space's parameters.
        sur: The surrogate.

    Returns:
        2 x prefix_len x hidden for ``layers`` pooling, 2 x layers x hidden for ``positions``.
    """
    if params.pooling == "positions":
        return 2 * int(sur.model.config.num_hidden_layers) * sur.hidden_size
    return 2 * int(params.prefix_len) * sur.hidden_size


def train_steps(params: TuPaTEParams, n_examples: int) -> int:
    """Optimiser steps of one embedding: ceil(epochs x n / batch_size) when ``epochs`` > 0, else
    ``train_steps``."""
    if params.epochs > 0:
        return math.ceil(params.epochs * n_examples / params.batch_size)
    return int(params.train_steps)


def _check(p: TuPaTEParams, examples: list[dict[str, Any]]) -> None:
    """Refuse parameters the catalogue may not have validated (direct callers, old spaces).

    Raises:
        ValueError: Unknown pooling or init, dropout outside [0, 1), or no examples.
    """
    if p.pooling not in POOLINGS:
        raise ValueError(f"unknown tupate pooling {p.pooling!r}; choose one of {', '.join(POOLINGS)}")
    if p.init not in INITS:
        raise ValueError(f"unknown tupate init {p.init!r}; choose one of {', '.join(INITS)}")
    if not 0.0 <= p.prefix_dropout < 1.0:
        raise ValueError(f"tupate prefix_dropout must be in [0, 1), got {p.prefix_dropout}")
    if not examples:
        raise ValueError("tupate needs at least one example")


def embed(
    sur: Surrogate, task_format: str, examples: list[dict[str, Any]], n_labels: int, p: TuPaTEParams
) -> npt.NDArray[np.float32]:
    """The TuPaTE vector of (pseudo-)labelled examples (the same function for DTEs and MTEs).

    Args:
        sur: Surrogate (left unchanged: the prefix is removed afterwards).
        task_format: Canonical format of the examples.
        examples: Canonical, already rendered examples (``soft`` targets for an MTE).
        n_labels: Classes of a classification head.
        p: Hyper-parameters.

    Returns:
        float32 vector of shape (vector_dim(p, sur),): the trained prefix pooled by ``p.pooling``
        (minus the initial prefix, pooled the same way, when ``centered``).

    Raises:
        ValueError: Unknown pooling or init, bad dropout, or no examples.
    """
    _check(p, examples)
    torch.manual_seed(p.seed)  # the head's start and the dropout masks
    tuner = PrefixTuner(sur.model, p.prefix_len, p.seed, init=p.init, dropout=p.prefix_dropout)
    try:
        head = head_for(task_format, sur.hidden_size, n_labels, sur.device)
        cfg = TrainConfig(train_steps(p, len(examples)), p.batch_size, p.lr, p.max_length, p.seed)
        initial = tuner.embedding(p.pooling)
        tuner.train()  # prefix dropout on (the surrogate itself stays in eval mode)
        train(tuner.prefix_parameters(), head, tuner, (sur.tokenizer, task_format, examples), cfg)
        tuner.eval()
        vec = tuner.embedding(p.pooling)  # read from the parameter: no dropout mask in the vector
        if p.centered:
            vec = vec - initial
    finally:
        tuner.remove()  # the surrogate is shared by every entry of the job
    return vec
