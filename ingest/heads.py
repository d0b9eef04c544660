"""Task heads on the surrogate and the batches they read.

One head per format family:

* classification: mean-pooled states -> Linear(hidden, K); cross-entropy on gold labels, or soft
  cross-entropy on a black box's probabilities (MTE; soft CE, not the reference code's BCE).
* regression: mean-pooled states -> Linear(hidden, 1); MSE.
* multiple choice: one (context, choice) sequence per choice -> Linear(hidden, 1) -> softmax over
  the example's choices; cross-entropy.
* extractive QA: token states -> Linear(hidden, 2) start/end logits; answers are re-aligned to the
  surrogate's tokens through the tokenizer's offset mapping (unanswerable or truncated -> position 0).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ingest.device import module_device

Encoder = Callable[..., torch.Tensor]  # tokenizer outputs -> last hidden states (b, L, hidden)


@dataclass
class Batch:
    """Tokenised inputs and targets of one batch."""

    inputs: dict[str, torch.Tensor]
    targets: torch.Tensor
    groups: list[int] | None = None  # multiple choice: number of choices of each example

    def to(self, device: str | torch.device) -> Batch:
        """The same batch with inputs and targets on ``device`` (no copy where they already are)."""
        inputs = {key: value.to(device) for key, value in self.inputs.items()}
        return Batch(inputs, self.targets.to(device), self.groups)


def mean_pool(states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mask-weighted mean over tokens: (b, L, h) -> (b, h)."""
    m = mask.unsqueeze(-1).to(states.dtype)
    return (states * m).sum(1) / m.sum(1).clamp(min=1.0)


def head_for(
    task_format: str, hidden: int, n_labels: int, device: str | torch.device | None = None
) -> nn.Module:
    """A freshly initialised head (call under a fixed torch seed for determinism).

    Args:
        task_format: Canonical format of the examples.
        hidden: Width of the encoder's states.
        n_labels: Classes of a classification head.
        device: Where the head goes (None: the CPU). It is always initialised on the CPU and then
            moved, so a seed gives the same starting head on every device.

    Returns:
        A ``Linear`` head.
    """
    if task_format in ("classification", "pair-classification"):
        head = nn.Linear(hidden, n_labels)
    elif task_format == "extractive-qa":
        head = nn.Linear(hidden, 2)
    else:
        head = nn.Linear(hidden, 1)  # regression, multiple choice
    return head.to(device) if device is not None else head


def make_batch(
    tokenizer: Any,
    task_format: str,
    examples: Sequence[dict[str, Any]],
    max_length: int,
    device: str | torch.device | None = None,
) -> Batch:
    """Tokenise canonical examples of one format into a batch with its targets.

    Args:
        tokenizer: The surrogate's tokenizer.
        task_format: Canonical format of the examples.
        examples: Canonical examples (``soft`` targets for MTE).
        max_length: Truncation length in tokens.
        device: Where the tensors go (None: left on the CPU, where the tokenizer makes them).

    Returns:
        The batch.
    """
    batch = _cpu_batch(tokenizer, task_format, examples, max_length)
    return batch.to(device) if device is not None else batch


def _cpu_batch(
    tokenizer: Any, task_format: str, examples: Sequence[dict[str, Any]], max_length: int
) -> Batch:
    if task_format == "multiple-choice":
        return _choice_batch(tokenizer, examples, max_length)
    if task_format == "extractive-qa":
        return _qa_batch(tokenizer, examples, max_length)
    texts = [e["text"] for e in examples]
    pairs = [e.get("text_pair") for e in examples]
    if all(p is not None for p in pairs):
        enc = tokenizer(
            texts, pairs, truncation=True, max_length=max_length, padding=True, return_tensors="pt"
        )
    else:
        enc = tokenizer(texts, truncation=True, max_length=max_length, padding=True, return_tensors="pt")
    if "soft" in examples[0]:
        targets = torch.tensor([e["soft"] for e in examples], dtype=torch.float32)
    elif task_format.endswith("regression"):
        targets = torch.tensor([float(e["label"]) for e in examples], dtype=torch.float32)
    else:
        targets = torch.tensor([int(e["label"]) for e in examples], dtype=torch.long)
    return Batch(dict(enc), targets)


def _choice_batch(tokenizer: Any, examples: Sequence[dict[str, Any]], max_length: int) -> Batch:
    firsts, seconds, groups = [], [], []
    for e in examples:
        stem = " ".join(x for x in (e.get("context"), e.get("question")) if x)
        firsts += [stem] * len(e["choices"])
        seconds += list(e["choices"])
        groups.append(len(e["choices"]))
    enc = tokenizer(
        firsts, seconds, truncation=True, max_length=max_length, padding=True, return_tensors="pt"
    )
    targets = torch.tensor([int(e["label"]) for e in examples], dtype=torch.long)
    return Batch(dict(enc), targets, groups)


def _qa_batch(tokenizer: Any, examples: Sequence[dict[str, Any]], max_length: int) -> Batch:
    questions = [e["question"] for e in examples]
    contexts = [e["context"] for e in examples]
    enc = tokenizer(
        questions,
        contexts,
        truncation="only_second",
        max_length=max_length,
        padding=True,
        return_offsets_mapping=True,
        return_tensors="pt",
    )
    offsets = enc.pop("offset_mapping")
    targets = torch.zeros((len(examples), 2), dtype=torch.long)
    for i, e in enumerate(examples):
        targets[i] = torch.tensor(answer_span(e, enc.sequence_ids(i), offsets[i].tolist()))
    return Batch(dict(enc), targets)


def answer_span(
    example: dict[str, Any], seq_ids: list[int | None], offsets: list[list[int]]
) -> tuple[int, int]:
    """Token (start, end) of the first answer found in the context; (0, 0) when unanswerable or cut."""
    context = example["context"]
    for answer in example["answers"]:
        char_start = context.find(answer)
        if not answer or char_start < 0:
            continue
        char_end = char_start + len(answer)
        tokens = [
            i
            for i, s in enumerate(seq_ids)
            if s == 1 and offsets[i][0] < char_end and offsets[i][1] > char_start
        ]
        if tokens:
            return tokens[0], tokens[-1]
    return 0, 0


def loss_of(task_format: str, head: nn.Module, encoder: Encoder, batch: Batch) -> torch.Tensor:
    """Forward the batch through encoder and head; return the task loss.

    The batch is moved to the head's device first (a no-op when it is there already), so callers
    that build CPU batches work unchanged with a surrogate and head on a GPU.
    """
    batch = batch.to(module_device(head))
    states = encoder(**batch.inputs)
    if task_format == "extractive-qa":
        logits = head(states)  # (b, L, 2)
        return (
            nn.functional.cross_entropy(logits[..., 0], batch.targets[:, 0])
            + nn.functional.cross_entropy(logits[..., 1], batch.targets[:, 1])
        ) / 2
    pooled = mean_pool(states, batch.inputs["attention_mask"])
    out = head(pooled)
    if task_format == "multiple-choice":
        if batch.groups is None:
            raise ValueError("a multiple-choice batch needs its choice groups (use make_batch)")
        scores = out.squeeze(-1).split(batch.groups)
        return torch.stack(
            [
                nn.functional.cross_entropy(s[None, :], t[None])
                for s, t in zip(scores, batch.targets, strict=True)
            ]
        ).mean()
    if batch.targets.dtype == torch.float32 and batch.targets.ndim == 2:  # soft targets (MTE)
        return -(batch.targets * nn.functional.log_softmax(out, dim=-1)).sum(-1).mean()
    if task_format.endswith("regression"):
        return nn.functional.mse_loss(out.squeeze(-1), batch.targets)
    return nn.functional.cross_entropy(out, batch.targets)
