"""FUTE-TaskEmb: fine-tune the surrogate with the format's head (bounded steps), then one gradient
pass over the same data; the statistic is normalised per block and compressed by a seeded count-sketch.

Variants: ``fute`` = element-wise square of the mean gradient (the reference code);
``fisher`` = mean of squared per-batch gradients (empirical Fisher, Vu et al. 2020);
``activation`` = empirical Fisher of each layer's attention output and layer output (Vu et al.'s
per-layer Fisher of hidden states), mask-averaged over tokens: 2 x layers x hidden values, no sketch.

Block normalisation (``block_norm``, see ``fisher_blocks``) gives every layer x {attention, FFN}
block (or, for ``activation``, every layer x {attention output, layer output}) the same share of the
vector, so that no single parameter matrix decides the cosines.
"""

from __future__ import annotations

import copy
import math
import random
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from ingest.heads import head_for, loss_of, make_batch
from ingest.methods.fisher_blocks import attention_outputs, group_blocks, normalise_blocks
from ingest.methods.sketch import count_sketch
from ingest.methods.training import TrainConfig, ordered_batches, train
from ingest.progress import stage
from ingest.surrogate import Surrogate

VARIANTS = ("fute", "fisher", "activation")

# Values of the parameters added after the first taskemb spaces that reproduce their vectors: no
# block normalisation, every parameter (embeddings, LayerNorm, pooler) and the step budget.
LEGACY: dict[str, Any] = {"block_norm": False, "include_embeddings": True, "epochs": 0.0}

Data = tuple[Any, str, list[dict[str, Any]]]  # (tokenizer, task format, canonical examples)


@dataclass(frozen=True)
class TaskEmbParams:
    """Hyper-parameters of a ``taskemb`` space (CPU-sized defaults: about a minute per 1,000 examples).

    ``grad_examples`` at or above the number of examples uses all of them; ``epochs`` > 0 replaces
    ``train_steps`` by ceil(epochs x examples / batch_size).
    """

    variant: str = "fute"
    # 16,384: the smallest of 1,024 / 4,096 / 16,384 that keeps the Spearman correlation of the 22
    # TaskWeb tasks' pairwise cosines >= 0.99 against the uncompressed statistic at the default
    # budget (0.935 / 0.983 / 0.996; docs/BENCHMARKS.md, section 3). 64 KiB per float32 vector.
    # Ignored by ``activation`` (its vector is short and not sketched; see ``vector_dim``).
    dim: int = 16384
    sketch_seed: int = 0
    train_steps: int = 16
    batch_size: int = 16
    lr: float = 5e-5
    grad_examples: int = 256
    grad_batch_size: int = 32
    max_length: int = 128
    seed: int = 0
    block_norm: bool = True
    include_embeddings: bool = False
    epochs: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON form (stored in the space)."""
        return asdict(self)


def vector_dim(params: TaskEmbParams, sur: Surrogate) -> int:
    """Length of the vectors of a taskemb space: ``params.dim``, or 2 x layers x hidden for ``activation``."""
    if params.variant == "activation":
        return 2 * int(sur.model.config.num_hidden_layers) * sur.hidden_size
    return int(params.dim)


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
        float32 vector of shape (vector_dim(p, sur),), L2-normalised.

    Raises:
        ValueError: Unknown variant or no examples.
    """
    vector, _ = statistic(sur, task_format, examples, n_labels, p)
    if p.variant != "activation":
        vector = count_sketch(vector, p.dim, p.sketch_seed)
    norm = float(np.linalg.norm(vector))
    return (vector / norm if norm > 0 else vector).astype(np.float32)


def statistic(
    sur: Surrogate, task_format: str, examples: list[dict[str, Any]], n_labels: int, p: TaskEmbParams
) -> tuple[npt.NDArray[np.float64], list[tuple[str, int]]]:
    """The uncompressed statistic (block-normalised when ``p.block_norm``) and its blocks.

    Args: as ``embed``.

    Returns:
        (vector (n,), [(block name, length)] in vector order); without block normalisation the
        vector is the per-parameter statistic in parameter-name order and the blocks are one ``all``.

    Raises:
        ValueError: Unknown variant or no examples.
    """
    if p.variant not in VARIANTS:
        raise ValueError(f"unknown taskemb variant {p.variant!r}; choose one of {', '.join(VARIANTS)}")
    if not examples:
        raise ValueError("taskemb needs at least one example")
    model, head = fine_tuned(sur, task_format, examples, n_labels, p)
    data = (sur.tokenizer, task_format, _grad_subset(examples, p.grad_examples, p.seed))
    if p.variant == "activation":
        blocks = _activation_statistic(model, head, data, p)
    else:
        blocks = _parameter_blocks(model, head, data, p)
    parts = list(blocks.values())
    if not p.block_norm:
        return np.concatenate(parts), [("all", sum(len(x) for x in parts))]
    return normalise_blocks(parts), [(name, len(x)) for name, x in blocks.items()]


def fine_tuned(
    sur: Surrogate, task_format: str, examples: list[dict[str, Any]], n_labels: int, p: TaskEmbParams
) -> tuple[Any, torch.nn.Module]:
    """A fine-tuned copy of the surrogate (eval mode) and its head; seeded by ``p.seed``."""
    torch.manual_seed(p.seed)
    model = copy.deepcopy(sur.model)
    head = head_for(task_format, sur.hidden_size, n_labels)
    model.train()
    steps = math.ceil(p.epochs * len(examples) / p.batch_size) if p.epochs > 0 else p.train_steps
    cfg = TrainConfig(steps, p.batch_size, p.lr, p.max_length, p.seed)
    train(
        list(model.parameters()),
        head,
        lambda **kw: model(**kw).last_hidden_state,
        (sur.tokenizer, task_format, examples),
        cfg,
    )
    model.eval()  # no dropout in the gradient pass: the statistic should not depend on noise
    return model, head


def _grad_subset(examples: list[dict[str, Any]], n: int, seed: int) -> list[dict[str, Any]]:
    """A seeded subset for the gradient pass, kept in the examples' order (all when n >= len)."""
    if len(examples) <= n:
        return examples
    picked = sorted(random.Random(seed).sample(range(len(examples)), n))
    return [examples[i] for i in picked]


def _parameter_blocks(model: Any, head: Any, data: Data, p: TaskEmbParams) -> dict[str, Any]:
    """The per-parameter statistic flattened per block (block_norm) or as one name-ordered ``all``."""
    names = [name for name, _ in model.named_parameters()]
    plan = group_blocks(names, p.include_embeddings)
    if not p.block_norm and p.include_embeddings:
        kept = sorted(names)  # the legacy recipe: every parameter, whatever its block
    else:
        kept = sorted(n for members in plan.blocks.values() for n in members)
    stats = parameter_statistic(model, head, data, p, kept)
    if not p.block_norm:
        return {"all": np.concatenate([stats[n] for n in kept])}
    return {block: np.concatenate([stats[n] for n in members]) for block, members in plan.blocks.items()}


def parameter_statistic(
    model: Any, head: Any, data: Data, p: TaskEmbParams, names: list[str]
) -> dict[str, npt.NDArray[np.float64]]:
    """Per-parameter statistic of the named backbone parameters (head excluded), flattened.

    Returns:
        Name -> float64 vector; ``fisher``: mean of squared batch gradients; else square of the mean.
    """
    tokenizer, task_format, examples = data
    wanted = set(names)
    params = {n: param for n, param in model.named_parameters() if n in wanted}
    for n, param in model.named_parameters():
        param.requires_grad_(n in wanted)  # skip the backward work of excluded (embedding) matrices
    acc = {n: torch.zeros_like(param, dtype=torch.float64) for n, param in params.items()}
    n_batches = 0
    shown = stage("gradient pass", -(-len(examples) // p.grad_batch_size))
    for chunk in ordered_batches(examples, p.grad_batch_size):
        model.zero_grad(set_to_none=True)
        head.zero_grad(set_to_none=True)
        batch = make_batch(tokenizer, task_format, chunk, p.max_length)
        loss_of(task_format, head, lambda **kw: model(**kw).last_hidden_state, batch).backward()
        for n, param in params.items():
            if param.grad is not None:
                g = param.grad.to(torch.float64)
                acc[n] += g * g if p.variant == "fisher" else g
        n_batches += 1
        shown.advance()
    shown.close()
    done = {n: (a / n_batches) if p.variant == "fisher" else (a / n_batches) ** 2 for n, a in acc.items()}
    return {n: x.flatten().cpu().numpy() for n, x in done.items()}


def _activation_statistic(model: Any, head: Any, data: Data, p: TaskEmbParams) -> dict[str, Any]:
    """Empirical Fisher of each layer's attention output and layer output, per example, mask-averaged
    over tokens: ``layer.{i}.attention`` and ``layer.{i}.output`` blocks of hidden values each."""
    hooked = attention_outputs(model)
    captured: list[torch.Tensor] = []

    def keep(_module: Any, _inputs: Any, out: Any) -> None:
        captured.append(out[0] if isinstance(out, tuple) else out)

    def encoder(**kw: Any) -> torch.Tensor:
        out = model(**kw, output_hidden_states=True)
        captured.extend(out.hidden_states[1:])  # the embedding output is not a layer
        states: torch.Tensor = out.last_hidden_state
        return states

    handles = [module.register_forward_hook(keep) for _, module in hooked]
    try:
        acc = _accumulate_activation_fisher(encoder, captured, head, data, p)
    finally:
        for h in handles:
            h.remove()
    n = len(hooked)
    names = [f"layer.{i}.{kind}" for i in range(n) for kind in ("attention", "output")]
    order = [j for i in range(n) for j in (i, n + i)]  # captured: attention outputs, then layer outputs
    return {name: acc[j].cpu().numpy() for name, j in zip(names, order, strict=True)}


def _accumulate_activation_fisher(
    encoder: Any, captured: list[torch.Tensor], head: Any, data: Data, p: TaskEmbParams
) -> torch.Tensor:
    """Mean over sequences of the mask-averaged squared per-example gradient of each captured state."""
    tokenizer, task_format, examples = data
    total: torch.Tensor | None = None
    n_seq = 0
    shown = stage("activation gradient pass", -(-len(examples) // p.grad_batch_size))
    for chunk in ordered_batches(examples, p.grad_batch_size):
        captured.clear()
        batch = make_batch(tokenizer, task_format, chunk, p.max_length)
        grads = torch.autograd.grad(loss_of(task_format, head, encoder, batch), captured)
        mask = batch.inputs["attention_mask"].unsqueeze(-1).to(grads[0].device, torch.float64)
        # The loss is a mean over the chunk's examples: times len(chunk) is each example's own gradient.
        sq = torch.stack([(g.to(torch.float64) * len(chunk)) ** 2 for g in grads])  # (states, b, L, h)
        per_seq = (sq * mask).sum(2) / mask.sum(1).clamp(min=1.0)  # (states, b, h)
        total = per_seq.sum(1) if total is None else total + per_seq.sum(1)
        n_seq += int(mask.shape[0])
        shown.advance()
    shown.close()
    if total is None:
        raise ValueError("taskemb needs at least one example")
    return total / n_seq
