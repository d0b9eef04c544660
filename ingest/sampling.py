"""Seeded subsampling (stratified by label for classification) and canonical content hashes."""

from __future__ import annotations

import hashlib
import json
import random
from collections import defaultdict
from typing import Any

DEFAULT_LIMIT = 1000


def content_hash(task_format: str, examples: list[dict[str, Any]]) -> str:
    """sha256 of the normalised examples, independent of their order.

    Two files holding the same examples in another order hash equally, so re-registering the same
    data under another name is caught as a duplicate.
    """
    lines = sorted(json.dumps(e, sort_keys=True, ensure_ascii=False, separators=(",", ":")) for e in examples)
    digest = hashlib.sha256(task_format.encode())
    for line in lines:
        digest.update(b"\n" + line.encode())
    return digest.hexdigest()


def subsample(
    examples: list[dict[str, Any]], limit: int, seed: int, stratify: bool
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """At most ``limit`` examples, drawn with ``random.Random(seed)``, kept in source order.

    Stratified sampling gives each label its proportional share (largest remainder), and at least
    one example per label when the limit allows.

    Returns:
        (sample, record of how it was drawn).

    Raises:
        ValueError: ``limit`` < 1.
    """
    if limit < 1:
        raise ValueError(f"--limit must be at least 1, got {limit}")
    info: dict[str, Any] = {"limit": limit, "seed": seed, "n_source": len(examples), "stratified": False}
    if len(examples) <= limit:
        return list(examples), info
    rng = random.Random(seed)
    if not stratify:
        picked = sorted(rng.sample(range(len(examples)), limit))
        return [examples[i] for i in picked], info
    groups: dict[Any, list[int]] = defaultdict(list)
    for i, example in enumerate(examples):
        groups[example["label"]].append(i)
    quotas = _quotas({k: len(v) for k, v in groups.items()}, limit)
    picked = sorted(i for key, idx in sorted(groups.items()) for i in rng.sample(idx, quotas[key]))
    info["stratified"] = True
    return [examples[i] for i in picked], info


def _quotas(sizes: dict[Any, int], limit: int) -> dict[Any, int]:
    """Proportional per-label quotas summing to ``limit`` (largest remainder method)."""
    total = sum(sizes.values())
    exact = {k: limit * n / total for k, n in sizes.items()}
    quotas = {k: min(sizes[k], max(1 if limit >= len(sizes) else 0, int(v))) for k, v in exact.items()}
    order = sorted(sizes, key=lambda k: (exact[k] - int(exact[k]), str(k)), reverse=True)
    while sum(quotas.values()) < limit:
        grew = False
        for k in order:
            if sum(quotas.values()) < limit and quotas[k] < sizes[k]:
                quotas[k] += 1
                grew = True
        if not grew:
            break
    while sum(quotas.values()) > limit:  # the "at least one" floor can overshoot
        largest = max(quotas, key=lambda k: quotas[k])
        quotas[largest] -= 1
    return quotas
