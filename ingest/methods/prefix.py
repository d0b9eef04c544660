"""Prefix tuning on a frozen encoder surrogate: the trainable core of FUTE-TuPaTE.

The prefix is ``prefix_len`` extra key and value vectors per self-attention layer (the slots that
prefix tuning / PEFT feed in as ``past_key_values``). Every query attends to them, they are never
masked, and the surrogate's own weights never change. The task embedding is the prefix averaged over
layers and flattened (FUTE.md, "TuPaTE → FUTE-TuPaTE"). An encoder has no cross-attention, so every
slot receives gradient and all of them enter the vector.

Injection: each self-attention module (``BertSelfAttention`` and its copies in BERT-like models) gets
an instance-level ``forward`` that reuses the module's own projections, prepends the layer's prefix
to keys and values, widens the attention mask, and calls the attention backend the model is
configured with (``sdpa`` or ``eager``). Patching instances rather than replacing modules keeps the
surrogate's module tree and ``state_dict`` keys unchanged, and ``remove`` undoes it exactly.

Initialisation (``init``), always drawn from ``torch.Generator().manual_seed(seed)``, so the same seed
gives the same starting prefix (the reference code leaves it unseeded):

* ``seeded``: ``N(0, init_std²)``.
* ``xavier``: Xavier-uniform over the reference code's prefix matrix, ``prefix_len`` rows by
  ``2 x layers x hidden`` columns (its ``nn.Embedding``), i.e. ``U(-b, b)`` with
  ``b = sqrt(6 / (prefix_len + 2 x layers x hidden))``: variance ``2 / (fan_in + fan_out)``.

A near-zero key gives every prefix slot an attention logit of about 0, so an untrained prefix only
mildly dilutes attention; it needs no tokenizer or text, so the space is defined by the seed alone.

Prefix dropout (``dropout``) acts in training mode only, per example, as the reference drops out its
``past_key_values``; ``embedding`` reads the parameter itself, so a vector never holds a mask. It
pools over ``layers`` or over prefix ``positions`` (layer-major, every layer kept; the reference's
``prefix_encoder.weight.mean(0)``).
"""

from __future__ import annotations

import functools
import math
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from registry.errors import ConfigError

SUPPORTED_ATTENTION = ("sdpa", "eager")
INITS = ("seeded", "xavier")
POOLINGS = ("layers", "positions")
_NEEDED = ("query", "key", "value", "attention_head_size", "scaling", "config", "dropout")


def _self_attentions(model: Any) -> list[Any]:
    """The self-attention modules of every encoder layer, checked to be patchable.

    Args:
        model: A BERT-like transformers encoder (``model.encoder.layer[i].attention.self``).

    Returns:
        One self-attention module per layer.

    Raises:
        ConfigError: Not a BERT-like encoder, a decoder, or a prefix is already installed.
    """
    try:
        modules = [layer.attention.self for layer in model.encoder.layer]
    except (AttributeError, TypeError) as exc:
        raise ConfigError(
            f"prefix tuning needs a BERT-like encoder (model.encoder.layer[i].attention.self); got {type(model).__name__}"
        ) from exc
    for attn in modules:
        if any(not hasattr(attn, name) for name in _NEEDED) or getattr(attn, "is_causal", False):
            raise ConfigError(f"{type(attn).__name__} is not a bidirectional BERT-style self-attention")
        source = sys.modules[type(attn).__module__]  # the backends the original forward dispatches to
        if not all(hasattr(source, name) for name in ("eager_attention_forward", "ALL_ATTENTION_FUNCTIONS")):
            raise ConfigError(
                f"{type(attn).__module__} lacks the attention backends prefix tuning dispatches to"
            )
        if "forward" in vars(attn):
            raise ConfigError(
                "the surrogate already has a prefix installed; call remove() on that PrefixTuner first"
            )
    return modules


def _widen_mask(mask: torch.Tensor | None, prefix_len: int) -> torch.Tensor | None:
    """Prepend ``prefix_len`` always-visible key columns to a 4-D attention mask.

    Args:
        mask: None (everything visible), a boolean mask (True = attend, sdpa) or an additive float
            mask (0 = attend, eager), shaped (batch, 1, queries, keys).
        prefix_len: Number of prefix key positions.

    Returns:
        The widened mask, or None when nothing is masked.
    """
    if mask is None or prefix_len == 0:
        return mask
    # "Visible" is True for boolean masks and 0.0 for additive ones.
    fill = torch.ones if mask.dtype == torch.bool else torch.zeros
    pad = fill(*mask.shape[:-1], prefix_len, dtype=mask.dtype, device=mask.device)
    return torch.cat([pad, mask], dim=-1)


def _prefixed_forward(
    attn: Any,
    slots_of: Callable[[int, int, int, torch.dtype], torch.Tensor],
    layer: int,
    hidden_states: torch.Tensor,
    attention_mask: torch.Tensor | None = None,
    cache: Any = None,
    **kwargs: Any,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Self-attention whose keys and values start with the layer's prefix (mirrors BertSelfAttention).

    Args:
        attn: The patched self-attention module (its projections and settings are reused).
        slots_of: ``PrefixTuner.slots``: (layer, batch, head_dim, dtype) -> the layer's key and value
            slots, shape (2, batch, heads, prefix_len, head_dim).
        layer: Index of this layer in the prefix.
        hidden_states: (batch, length, hidden).
        attention_mask: The mask the model built for this layer (see ``_widen_mask``).
        cache: Must be None: an encoder has no KV cache.
        **kwargs: Passed on to the attention backend, as the original forward does.

    Returns:
        (attention output (batch, length, hidden), attention weights or None).

    Raises:
        ConfigError: A KV cache, or an attention implementation other than sdpa/eager.
    """
    impl = attn.config._attn_implementation
    if cache is not None or impl not in SUPPORTED_ATTENTION:
        raise ConfigError(
            f"prefix tuning supports {SUPPORTED_ATTENTION} attention without a cache, got {impl!r}"
        )
    batch, length = hidden_states.shape[:2]
    split = (batch, length, -1, attn.attention_head_size)
    query, key, value = (
        p(hidden_states).view(split).transpose(1, 2) for p in (attn.query, attn.key, attn.value)
    )
    slots = slots_of(layer, batch, attn.attention_head_size, key.dtype)
    prefix_len = slots.shape[3]
    key = torch.cat([slots[0], key], dim=2)
    value = torch.cat([slots[1], value], dim=2)
    source = sys.modules[type(attn).__module__]
    interface = source.ALL_ATTENTION_FUNCTIONS.get_interface(impl, source.eager_attention_forward)
    output, weights = interface(
        attn,
        query,
        key,
        value,
        _widen_mask(attention_mask, prefix_len),
        dropout=attn.dropout.p if attn.training else 0.0,
        scaling=attn.scaling,
        **kwargs,
    )
    return output.reshape(batch, length, -1).contiguous(), weights


def initial_prefix(shape: tuple[int, int, int, int], init: str, seed: int, init_std: float) -> torch.Tensor:
    """The seeded starting prefix (CPU, float32).

    Args:
        shape: (layers, 2, prefix_len, hidden).
        init: ``seeded`` (``N(0, init_std²)``) or ``xavier`` (see the module docstring).
        seed: Seed of a private ``torch.Generator`` (the global RNG is left alone).
        init_std: Standard deviation of ``seeded``.

    Returns:
        Tensor of ``shape``.

    Raises:
        ConfigError: Unknown ``init``.
    """
    generator = torch.Generator().manual_seed(seed)
    if init == "seeded":
        return torch.randn(shape, generator=generator) * init_std
    if init == "xavier":
        layers, _, prefix_len, hidden = shape
        bound = math.sqrt(6.0 / max(1, prefix_len + 2 * layers * hidden))
        return torch.empty(shape).uniform_(-bound, bound, generator=generator)
    raise ConfigError(f"unknown prefix init {init!r}; choose one of {', '.join(INITS)}")


class PrefixTuner(torch.nn.Module):
    """Trainable prefix (key and value slots per layer) on a FROZEN encoder surrogate.

    Only the prefix is registered with ``nn.Module``: ``parameters()``, ``state_dict()`` and
    ``train()`` / ``eval()`` see the prefix alone. The surrogate keeps its own train/eval mode
    (``load_surrogate`` gives eval: no dropout, which keeps the vectors deterministic).

    Attributes:
        prefix: Parameter of shape (n_layers, 2, prefix_len, hidden); index 0 = keys, 1 = values.
        dropout: Prefix dropout probability (used only while ``training``; ``eval()`` turns it off).
        model: The surrogate (not a registered submodule).
    """

    model: Any

    def __init__(
        self,
        model: Any,
        prefix_len: int = 16,
        seed: int = 0,
        init_std: float = 0.02,
        *,
        init: str = "seeded",
        dropout: float = 0.0,
    ) -> None:
        """Freeze ``model`` and install a seeded prefix into every self-attention layer.

        Args:
            model: A BERT-like transformers encoder (e.g. ``load_surrogate().model``).
            prefix_len: Prefix positions per layer (0 gives the untouched model).
            seed: Seed of the prefix initialisation.
            init_std: Standard deviation of the ``seeded`` (normal) initialisation.
            init: ``seeded`` (normal, ``init_std``) or ``xavier`` (see the module docstring).
            dropout: Prefix dropout probability, applied only in training mode.

        Raises:
            ConfigError: Negative ``prefix_len`` or ``init_std``, unknown ``init``, ``dropout`` outside
                [0, 1), or a model that cannot take a prefix.
        """
        super().__init__()
        if prefix_len < 0 or init_std < 0:
            raise ConfigError(f"prefix_len and init_std must be >= 0, got {prefix_len} and {init_std}")
        if not 0.0 <= dropout < 1.0:
            raise ConfigError(f"prefix dropout must be in [0, 1), got {dropout}")
        self._attentions = _self_attentions(model)
        shape = (len(self._attentions), 2, prefix_len, int(model.config.hidden_size))
        weight = next(model.parameters())
        start = initial_prefix(shape, init, seed, init_std)
        self.prefix = torch.nn.Parameter(start.to(dtype=weight.dtype, device=weight.device))
        self.dropout = dropout
        # Bypass nn.Module registration so the surrogate stays out of parameters() and state_dict().
        object.__setattr__(self, "model", model)
        self._grad_flags = [p.requires_grad for p in model.parameters()]
        model.requires_grad_(False)
        for layer, attn in enumerate(self._attentions):
            attn.forward = functools.partial(_prefixed_forward, attn, self.slots, layer)
        self._installed = True

    @property
    def installed(self) -> bool:
        """Whether the prefix is currently installed in the surrogate."""
        return self._installed

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Run the surrogate with the prefix.

        Args:
            input_ids: (batch, length) token ids.
            attention_mask: (batch, length), 1 = real token, 0 = padding.
            token_type_ids: Optional segment ids.

        Returns:
            The last hidden state, (batch, length, hidden); prefix positions are not in it.

        Raises:
            RuntimeError: The prefix was removed.
        """
        if not self._installed:
            raise RuntimeError("this PrefixTuner was removed; create a new one")
        out = self.model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
        return out.last_hidden_state  # type: ignore[no-any-return]

    def prefix_parameters(self) -> list[torch.nn.Parameter]:
        """The trainable parameters (the prefix only; the task head is the caller's)."""
        return [self.prefix]

    def slots(self, layer: int, batch: int, head_dim: int, dtype: torch.dtype) -> torch.Tensor:
        """The key and value slots one layer feeds to attention (prefix dropout in training mode).

        Args:
            layer: Layer index.
            batch: Batch size (each example gets its own dropout mask, as in the reference code).
            head_dim: Size of one attention head.
            dtype: dtype of the layer's keys.

        Returns:
            Tensor of shape (2, batch, heads, prefix_len, head_dim); index 0 = keys, 1 = values.
        """
        # An explicit head count: view(..., -1, ...) is ambiguous when prefix_len is 0.
        prefix_len, heads = self.prefix.shape[2], self.prefix.shape[3] // head_dim
        slots = self.prefix[layer].to(dtype).view(2, 1, prefix_len, heads, head_dim)
        slots = slots.transpose(2, 3).expand(-1, batch, -1, -1, -1)
        if self.training and self.dropout > 0:
            # Looked up at call time: off the CPU, ingest.device patches F.dropout to CPU-drawn masks.
            slots = torch.nn.functional.dropout(slots, p=self.dropout, training=True)
        return slots

    def embedding(self, pooling: str = "layers") -> npt.NDArray[np.float32]:
        """The FUTE-TuPaTE vector of the current prefix (never dropped out).

        Args:
            pooling: ``layers`` (mean over layers) or ``positions`` (mean over prefix positions,
                every layer kept; see the module docstring).

        Returns:
            float32 array: (2 * prefix_len * hidden,) for ``layers``, keys first, then values;
            (layers * 2 * hidden,) for ``positions``, layer-major.

        Raises:
            ConfigError: Unknown pooling, or ``positions`` with an empty prefix.
        """
        if pooling not in POOLINGS:
            raise ConfigError(f"unknown prefix pooling {pooling!r}; choose one of {', '.join(POOLINGS)}")
        if pooling == "positions" and self.prefix.shape[2] == 0:
            raise ConfigError("positions pooling needs prefix_len >= 1")
        pooled = self.prefix.detach().mean(dim=0 if pooling == "layers" else 2)
        return pooled.reshape(-1).cpu().numpy().astype(np.float32)

    def remove(self) -> None:
        """Uninstall the prefix and restore the surrogate's ``requires_grad`` flags (idempotent)."""
        if not self._installed:
            return
        for attn in self._attentions:
            del attn.forward  # the class's own forward is visible again
        for param, flag in zip(self.model.parameters(), self._grad_flags, strict=True):
            param.requires_grad_(flag)
        self._installed = False
