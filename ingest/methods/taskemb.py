"""FUTE-TaskEmb: fine-tune the surrogate with the format's head (bounded steps), then one gradient
pass over the same data; the per-parameter statistic is compressed by a seeded count-sketch.

Variants: ``fute`` = element-wise square of the mean gradient (the reference code);
``fisher`` = mean of squared per-batch gradients (empirical Fisher, Vu et al. 2020).
"""

from __future__ import annotations

import copy
import random
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from ingest.heads import head_for, loss_of, make_batch
from ingest.methods.sketch import count_sketch
from ingest.methods.training import TrainConfig, ordered_batches, train
from ingest.progress import stage
from ingest.surrogate import Surrogate

VARIANTS = ("fute", "fisher")


@dataclass(frozen=True)
class TaskEmbParams:
    """Hyper-parameters of a ``taskemb`` space (CPU-sized defaults: about a minute per 1,000 examples)."""

    variant: str = "fute"
    # 16,384: the smallest of 1,024 / 4,096 / 16,384 that keeps the Spearman correlation of the 22
    # TaskWeb tasks' pairwise cosines >= 0.99 against the uncompressed statistic at the default
    # budget (0.935 / 0.983 / 0.996; docs/BENCHMARKS.md, section 3). 64 KiB per float32 vector.
    dim: int = 16384
    sketch_seed: int = 0
    train_steps: int = 16
    batch_size: int = 16
    lr: float = 5e-5
    grad_examples: int = 256
    grad_batch_size: int = 32
    max_length: int = 128
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON form (stored in the space)."""
        return asdict(self)


def embed(
    sur: Surrogate, task_format: str, examples: list[dict[str, Any]], n_labels: int, p: TaskEmbParams
) -> npt.NDArray[np.float32]:
    """The task embedding of (pseudo-)labelled examples.

    Args:
        sur: Surrogate (left untouched: a copy is fine-tuned).
        task_format: Canonical format of the examples.
        examples: Canonical examples (``soft`` targets for MTE).
        n_labels: Classes of a classification head.
        p: Hyper-parameters.

    Returns:
        float32 vector of shape (p.dim,), L2-normalised.

    Raises:
        ValueError: Unknown variant or no examples.
    """
    if p.variant not in VARIANTS:
        raise ValueError(f"unknown taskemb variant {p.variant!r}; choose one of {', '.join(VARIANTS)}")
    if not examples:
        raise ValueError("taskemb needs at least one example")
    torch.manual_seed(p.seed)
    model = copy.deepcopy(sur.model)
    head = head_for(task_format, sur.hidden_size, n_labels)
    model.train()
    cfg = TrainConfig(p.train_steps, p.batch_size, p.lr, p.max_length, p.seed)
    train(
        list(model.parameters()),
        head,
        lambda **kw: model(**kw).last_hidden_state,
        (sur.tokenizer, task_format, examples),
        cfg,
    )
    model.eval()  # no dropout in the gradient pass: the statistic should not depend on noise
    subset = _grad_subset(examples, p.grad_examples, p.seed)
    stat = _gradient_statistic(model, head, (sur.tokenizer, task_format, subset), p)
    sketch = count_sketch(stat, p.dim, p.sketch_seed)
    norm = float(np.linalg.norm(sketch))
    return (sketch / norm if norm > 0 else sketch).astype(np.float32)


def _grad_subset(examples: list[dict[str, Any]], n: int, seed: int) -> list[dict[str, Any]]:
    """A seeded subset for the gradient pass, kept in the examples' order."""
    if len(examples) <= n:
        return examples
    picked = sorted(random.Random(seed).sample(range(len(examples)), n))
    return [examples[i] for i in picked]


def _gradient_statistic(
    model: Any, head: Any, data: tuple[Any, str, list[dict[str, Any]]], p: TaskEmbParams
) -> Any:
    """Per-parameter statistic of the backbone (head excluded), flattened in parameter-name order."""
    tokenizer, task_format, examples = data
    params = [param for _, param in sorted(model.named_parameters(), key=lambda kv: kv[0])]
    acc = [torch.zeros_like(param, dtype=torch.float64) for param in params]
    n_batches = 0
    shown = stage("gradient pass", -(-len(examples) // p.grad_batch_size))
    for chunk in ordered_batches(examples, p.grad_batch_size):
        model.zero_grad(set_to_none=True)
        head.zero_grad(set_to_none=True)
        batch = make_batch(tokenizer, task_format, chunk, p.max_length)
        loss_of(task_format, head, lambda **kw: model(**kw).last_hidden_state, batch).backward()
        for a, param in zip(acc, params, strict=True):
            if param.grad is not None:
                g = param.grad.to(torch.float64)
                a += g * g if p.variant == "fisher" else g
        n_batches += 1
        shown.advance()
    shown.close()
    parts = [(a / n_batches) if p.variant == "fisher" else (a / n_batches) ** 2 for a in acc]
    return torch.cat([x.flatten() for x in parts]).numpy()
