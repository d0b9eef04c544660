"""Bounded, seeded training: the loop shared by FUTE-TaskEmb and FUTE-TuPaTE.

AdamW (weight decay 0.01), linear schedule with 5% warm-up, gradient clipping at 1.0, as the
reference code; the epoch budget of a GPU run becomes a fixed number of steps, recorded in the space.
Training runs where the trainable parameters live (the surrogate's device), in fp32: no autocast,
which was measured slower (ingest/device.py).
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ingest.device import cpu_drawn_dropout, module_device
from ingest.heads import Encoder, loss_of, make_batch
from ingest.progress import stage


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of one bounded training run (all enter the space fingerprint)."""

    steps: int
    batch_size: int
    lr: float
    max_length: int
    seed: int
    weight_decay: float = 0.01
    warmup: float = 0.05
    clip: float = 1.0


def seeded_batches(
    examples: Sequence[dict[str, Any]], batch_size: int, seed: int
) -> Iterator[list[dict[str, Any]]]:
    """Endless batches: each epoch is a fresh ``random.Random(seed + epoch)`` shuffle."""
    epoch = 0
    while True:
        order = list(range(len(examples)))
        random.Random(seed + epoch).shuffle(order)
        for start in range(0, len(order), batch_size):
            yield [examples[i] for i in order[start : start + batch_size]]
        epoch += 1


def ordered_batches(examples: Sequence[dict[str, Any]], batch_size: int) -> Iterator[list[dict[str, Any]]]:
    """One pass in a fixed order (the gradient pass)."""
    for start in range(0, len(examples), batch_size):
        yield list(examples[start : start + batch_size])


def train(
    params: list[nn.Parameter],
    head: nn.Module,
    encoder: Encoder,
    data: tuple[Any, str, Sequence[dict[str, Any]]],
    cfg: TrainConfig,
) -> float:
    """Train ``params`` and the head for ``cfg.steps`` steps; returns the mean loss of the last 5 steps.

    Args:
        params: Trainable encoder parameters (all weights for TaskEmb, the prefix for TuPaTE).
        head: The task head (always trained).
        encoder: Callable from tokenizer outputs to last hidden states.
        data: (tokenizer, task format, canonical examples).
        cfg: Step budget and optimiser settings.

    Returns:
        The mean loss of the last 5 steps (NaN when ``cfg.steps`` is 0).
    """
    tokenizer, task_format, examples = data
    device = params[0].device if params else module_device(head)
    head.to(device)  # in place: the caller's head (used again for TaskEmb's gradient pass) moves too
    trainable = [p for p in params if p.requires_grad] + list(head.parameters())
    opt = torch.optim.AdamW(trainable, lr=cfg.lr, weight_decay=cfg.weight_decay)
    warm = max(1, int(cfg.warmup * cfg.steps))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (cfg.steps - s) / max(1, cfg.steps - warm)))
    )
    losses: list[float] = []
    batches = seeded_batches(examples, cfg.batch_size, cfg.seed)
    # Off the CPU, dropout masks come from the CPU generator: the vector must not depend on the device.
    same_masks = cpu_drawn_dropout() if device.type != "cpu" else nullcontext()
    with same_masks, stage("fine-tuning", cfg.steps) as shown:
        for _ in range(cfg.steps):
            batch = make_batch(tokenizer, task_format, next(batches), cfg.max_length, device)
            loss = loss_of(task_format, head, encoder, batch)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trainable, cfg.clip)
            opt.step()
            sched.step()
            losses.append(float(loss.detach()))
            shown.advance()
    tail = losses[-5:]
    return sum(tail) / len(tail) if tail else float("nan")
