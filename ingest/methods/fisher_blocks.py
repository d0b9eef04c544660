"""Blocks of a Fisher statistic: which parameters (or activations) form one block, and the block
normalisation that keeps any one block from dominating the task embedding.

Why: on MiniLM, the unnormalised per-parameter statistic puts 37-61 % of its squared norm in the
768 values of ``embeddings.token_type_embeddings.weight`` and half of it in under a hundred of 22.7M
coordinates, so cosines between tasks compare a handful of coordinates. Grouping the parameters into
layer x {attention, FFN} blocks and giving each block unit norm (then 1/sqrt(K) overall) makes every
block carry exactly 1/K of the vector's squared norm.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ingest.methods.sketch import count_sketch

# A transformer layer index in a parameter name: BERT ``encoder.layer.3.``, GPT-2 ``h.3.``,
# Llama/BART ``layers.3.``, T5 ``block.3.``.
_LAYER = re.compile(r"(?:^|\.)(?:layer|layers|h|block|blocks)\.(\d+)(?:\.|$)")
_ATTENTION = ("attention", "attn")
_FFN = ("intermediate", "mlp", "ffn", "feed_forward", "fc1", "fc2", "output")
EXTRA_BLOCKS = ("embeddings", "norm", "pooler")  # blocks of include_embeddings=True


@dataclass(frozen=True)
class BlockPlan:
    """Parameters grouped into blocks.

    Attributes:
        blocks: Block name -> parameter names (sorted), in block order: embeddings, then
            ``layer.{i}.attention`` and ``layer.{i}.ffn`` by layer, then norm, then pooler.
        excluded: Names that belong to no block (or to an extra block that was not asked for).
    """

    blocks: dict[str, list[str]]
    excluded: tuple[str, ...]


def block_of(name: str) -> str | None:
    """The block a parameter name belongs to, extra blocks included; None when it fits none.

    Args:
        name: A ``named_parameters`` name, e.g. ``encoder.layer.3.attention.self.query.weight``.

    Returns:
        ``embeddings``, ``norm``, ``pooler``, ``layer.{i}.attention``, ``layer.{i}.ffn`` or None.
    """
    parts = name.lower().split(".")
    if any("embed" in s or s in ("wte", "wpe") for s in parts):
        return "embeddings"
    if any(s.startswith("pooler") for s in parts):
        return "pooler"
    # LayerNorm is checked before attention/FFN: BERT keeps it inside ``attention.output``.
    if any("norm" in s or re.fullmatch(r"ln(_\w+)?", s) for s in parts):
        return "norm"
    layer = _LAYER.search(name.lower())
    if layer is None:
        return None
    if any(k in s for s in parts for k in _ATTENTION):
        return f"layer.{int(layer.group(1))}.attention"
    if any(k in s for s in parts for k in _FFN):
        return f"layer.{int(layer.group(1))}.ffn"
    return None


def group_blocks(names: Iterable[str], include_embeddings: bool = False) -> BlockPlan:
    """Group parameter names into blocks (see ``block_of``).

    Args:
        names: Parameter names of any encoder (``name for name, _ in model.named_parameters()``).
        include_embeddings: Keep the embeddings, LayerNorm and pooler parameters as extra blocks.

    Returns:
        The plan; blocks with no parameters are absent.
    """
    found: dict[str, list[str]] = {}
    excluded: list[str] = []
    for name in sorted(names):
        block = block_of(name)
        if block is None or (block in EXTRA_BLOCKS and not include_embeddings):
            excluded.append(name)
        else:
            found.setdefault(block, []).append(name)
    return BlockPlan({b: found[b] for b in sorted(found, key=_block_order)}, tuple(excluded))


def _block_order(block: str) -> tuple[int, int, int]:
    """Sort key: embeddings first, layers in order (attention before FFN), norm, pooler last."""
    if block in EXTRA_BLOCKS:
        return ({"embeddings": 0, "norm": 2, "pooler": 3}[block], 0, 0)
    _, layer, kind = block.split(".")
    return (1, int(layer), 0 if kind == "attention" else 1)


def normalise_blocks(parts: Sequence[npt.NDArray[np.float64]]) -> npt.NDArray[np.float64]:
    """concat_k(F_k / ||F_k||) / sqrt(K): every non-zero block carries 1/K of the squared norm.

    Args:
        parts: One flattened statistic per block.

    Returns:
        The concatenation (sum of the parts' lengths,), unit norm unless every block is zero.
        Zero blocks stay zero and do not count in K.
    """
    norms = [float(np.linalg.norm(x)) for x in parts]
    k = sum(1 for n in norms if n > 0)
    scale = 1.0 / np.sqrt(max(k, 1))
    return np.concatenate([x * (scale / n) if n > 0 else x for x, n in zip(parts, norms, strict=True)])


def block_shares(vector: npt.NDArray[np.float64], sizes: Sequence[int]) -> list[float]:
    """Share of ``||vector||^2`` in each consecutive block of the given sizes."""
    total = float(np.dot(vector, vector))
    bounds = np.cumsum([0, *sizes])
    return [float(np.dot(vector[a:b], vector[a:b])) / total for a, b in itertools.pairwise(bounds)]


def sketched_shares(
    vector: npt.NDArray[np.float64], sizes: Sequence[int], dim: int, seed: int
) -> list[float]:
    """Share of each block after the count-sketch: each block is sketched alone (the others zeroed,
    same hashes as the whole vector) and its squared norm is divided by the sum over blocks.

    Args:
        vector: The unsketched vector (n,).
        sizes: Consecutive block lengths summing to n.
        dim: Sketch dimension.
        seed: Sketch seed.

    Returns:
        One share per block; they sum to 1.
    """
    bounds = np.cumsum([0, *sizes])
    energies = []
    for a, b in itertools.pairwise(bounds):
        alone = np.zeros_like(vector)
        alone[a:b] = vector[a:b]
        s = count_sketch(alone, dim, seed)
        energies.append(float(np.dot(s, s)))
    total = sum(energies)
    return [e / total for e in energies]


def attention_outputs(model: Any) -> list[tuple[str, Any]]:
    """The module of each layer whose output is the attention sub-layer's output, in layer order.

    BERT-like encoders have ``...layer.{i}.attention.output`` (dense + residual + LayerNorm, Vu et
    al.'s ``multihead_output``); other encoders fall back to ``...layer.{i}.{attention|self_attn|attn}``.

    Args:
        model: A ``torch.nn.Module``.

    Returns:
        (name, module) pairs, one per layer.

    Raises:
        ValueError: No attention module found.
    """
    named = list(model.named_modules())
    chosen = [(n, m) for n, m in named if n.endswith(".attention.output") and _LAYER.search(n)]
    if not chosen:
        ends = (".attention", ".self_attn", ".attn")
        chosen = [(n, m) for n, m in named if n.endswith(ends) and _LAYER.search(n)]
    if not chosen:
        raise ValueError(f"no attention sub-layer found in {type(model).__name__}")
    return sorted(chosen, key=lambda nm: int(_LAYER.search(nm[0]).group(1)))  # type: ignore[union-attr]
