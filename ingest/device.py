"""Which torch device the surrogate passes, fine-tunes and local black boxes run on.

``FUTE_DEVICE`` / ``--device``: ``auto`` (CUDA when torch sees a GPU, else the CPU), ``cpu``, ``cuda``
or ``cuda:N``. The device is not part of a space's fingerprint: CPU and GPU vectors of the same space
agree to within float rounding (cosine >= 0.999, checked by a test on a CUDA machine).

No mixed precision: measured on an H200, a full-regime TaskEmb DTE took 1.75 s in fp32 and 15.6 s
under bf16 autocast, so every pass stays fp32 on every device.

Dropout: fine-tuning (TaskEmb) runs the surrogate in train mode, and a GPU draws dropout masks from
its own generator, not from the CPU's. Measured on the CPU by swapping the dropout stream alone, that
moves a default TaskEmb vector to cosine 0.980 of its CPU twin (0.993 after 2 steps): the device would
become part of the recipe. ``cpu_drawn_dropout`` therefore draws the masks of GPU tensors from the
CPU generator, op for op as the CPU kernels do (``bernoulli_`` on an ``empty_like``), so a GPU run
uses the very masks a CPU run uses and only float rounding differs.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
import torch.nn.functional as F

from registry.errors import ConfigError
from registry.settings import check_device

_NATIVE_DROPOUT = F.dropout
_NATIVE_SDPA = F.scaled_dot_product_attention
_PATCH_LOCK = threading.Lock()
_patch_users = 0
# Tests set this to run the CPU-drawn path on CPU tensors too (no GPU needed to check it draws the
# very masks the native CPU ops draw).
_EMULATE_ON_CPU = False


def resolve_device(value: str = "auto") -> str:
    """The concrete torch device of a setting: ``auto`` picks CUDA when torch sees it.

    Args:
        value: A device setting (see ``registry.settings.check_device``).

    Returns:
        ``cpu``, ``cuda`` or ``cuda:N``.

    Raises:
        ConfigError: A bad value, CUDA asked for where torch sees no GPU, or a GPU index past the
            last visible one.
    """
    text = check_device(value)
    if text == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if text == "cpu":
        return text
    if not torch.cuda.is_available():
        raise ConfigError("no CUDA device is visible to torch; use --device cpu or auto")
    index = int(text.partition(":")[2] or 0)
    if index >= torch.cuda.device_count():
        raise ConfigError(
            f"device {text!r}: torch sees {torch.cuda.device_count()} CUDA device(s) (cuda:0 upwards)"
        )
    return text


def module_device(module: torch.nn.Module) -> torch.device:
    """Where a module's weights live (the CPU for a module without parameters)."""
    first = next(module.parameters(), None)
    return first.device if first is not None else torch.device("cpu")


def _emulated(tensor: torch.Tensor) -> bool:
    """Whether dropout on this tensor goes through the CPU-drawn path."""
    return tensor.device.type != "cpu" or _EMULATE_ON_CPU


def _cpu_mask(like: torch.Tensor, keep: float) -> torch.Tensor:
    """A keep-mask drawn from the CPU generator exactly as CPU dropout draws it, moved to ``like``'s device."""
    mask = torch.empty_like(like, device="cpu").bernoulli_(keep)
    return mask.div_(keep).to(like.device)  # CPU dropout scales the mask, then multiplies: same rounding


def _dropout(
    input: torch.Tensor, p: float = 0.5, training: bool = True, inplace: bool = False
) -> torch.Tensor:
    """``F.dropout`` with CPU-drawn masks for tensors off the CPU (everything else: the native op)."""
    if not _emulated(input) or not training or p <= 0.0 or p >= 1.0:
        return _NATIVE_DROPOUT(input, p, training, inplace)
    mask = _cpu_mask(input, 1.0 - p)
    return input.mul_(mask) if inplace else input * mask


def _sdpa(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attn_mask: torch.Tensor | None = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
    enable_gqa: bool = False,
    **kwargs: Any,
) -> torch.Tensor:
    """``F.scaled_dot_product_attention``; with dropout off the CPU, the math path with a CPU-drawn mask
    on the attention probabilities (what the CPU kernel does: softmax, dropout, then times values)."""
    if not _emulated(query) or dropout_p <= 0.0 or kwargs:
        return _NATIVE_SDPA(
            query, key, value, attn_mask, dropout_p, is_causal, scale=scale, enable_gqa=enable_gqa, **kwargs
        )
    if enable_gqa:  # grouped-query attention: each key/value head serves several query heads
        key = key.repeat_interleave(query.size(-3) // key.size(-3), dim=-3)
        value = value.repeat_interleave(query.size(-3) // value.size(-3), dim=-3)
    scores = query @ key.transpose(-2, -1) * (1.0 / math.sqrt(query.size(-1)) if scale is None else scale)
    if is_causal:
        length, keys = scores.shape[-2:]
        causal = torch.ones(length, keys, dtype=torch.bool, device=scores.device).tril(keys - length)
        scores = scores.masked_fill(~causal, float("-inf"))
    if attn_mask is not None:
        scores = (
            scores.masked_fill(~attn_mask, float("-inf"))
            if attn_mask.dtype == torch.bool
            else scores + attn_mask
        )
    probs = scores.softmax(dim=-1)
    return (probs * _cpu_mask(probs, 1.0 - dropout_p)) @ value


@contextmanager
def cpu_drawn_dropout() -> Iterator[None]:
    """While open, dropout on non-CPU tensors draws its masks from torch's CPU generator.

    Patches ``torch.nn.functional.dropout`` (used by ``nn.Dropout`` and eager attention) and
    ``scaled_dot_product_attention`` (sdpa attention with dropout) for every thread; CPU tensors go
    to the native ops unchanged, so a CPU job in another thread is not affected. Re-entrant.

    Costs a CPU draw and a host-to-device copy per dropout (about 25 ms for one batch of 16 x 128
    tokens' attention probabilities of one MiniLM layer, measured on this project's CPU).
    """
    global _patch_users
    with _PATCH_LOCK:
        _patch_users += 1
        if _patch_users == 1:
            F.dropout = _dropout
            F.scaled_dot_product_attention = _sdpa
    try:
        yield
    finally:
        with _PATCH_LOCK:
            _patch_users -= 1
            if _patch_users == 0:
                F.dropout = _NATIVE_DROPOUT
                F.scaled_dot_product_attention = _NATIVE_SDPA
