"""Shape checks of the quality result files (issue 7): a run whose output is malformed fails loudly."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

METRIC_KEYS = {"ndcg", "rho", "regret_at_3", "n_targets"}
UNIFIED_MODEL_KEYS = {"mte_to_dte_top1": float, "mte_to_dte_mrr": float, "n_models": int}
UNIFIED_PROMPT_KEYS = {"prompt_family_top1": float, "n_prompts": int}


class MalformedResultError(ValueError):
    """A result file does not have the shape the issue defines."""


def _number(value: Any, where: str, lo: float = -math.inf, hi: float = math.inf) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise MalformedResultError(f"{where}: {value!r} is not a finite number")
    if not lo <= value <= hi:
        raise MalformedResultError(f"{where}: {value!r} is outside [{lo}, {hi}]")


def _settings_block(block: Any, where: str) -> None:
    """``{SETTING: {"ndcg", "rho", "regret_at_3", "n_targets"}}`` with SETTING = ``adaptation/model``."""
    if not isinstance(block, Mapping) or not block:
        raise MalformedResultError(f"{where}: expected a non-empty {{setting: metrics}} object")
    for setting, metrics in block.items():
        here = f"{where}.{setting}"
        if setting.count("/") != 1:
            raise MalformedResultError(f"{here}: settings are spelled adaptation/model as in the CSV")
        if not isinstance(metrics, Mapping) or set(metrics) != METRIC_KEYS:
            raise MalformedResultError(f"{here}: keys must be exactly {sorted(METRIC_KEYS)}")
        _number(metrics["ndcg"], f"{here}.ndcg", 0.0, 1.0)
        _number(metrics["rho"], f"{here}.rho", 1.0)
        _number(metrics["regret_at_3"], f"{here}.regret_at_3", 0.0)
        if not isinstance(metrics["n_targets"], int) or metrics["n_targets"] < 1:
            raise MalformedResultError(f"{here}.n_targets: {metrics['n_targets']!r} is not a positive int")


def check_taskweb(doc: Mapping[str, Any], methods: set[str], baselines: set[str]) -> None:
    """Raise unless ``doc`` is a ``taskweb.json`` with the given methods and baselines.

    Raises:
        MalformedResultError: Missing keys, wrong settings block, out-of-range numbers.
    """
    for key in ("methods", "baselines", "config", "seconds"):
        if key not in doc:
            raise MalformedResultError(f"taskweb: missing {key!r}")
    if set(doc["methods"]) != methods:
        raise MalformedResultError(f"taskweb.methods: {sorted(doc['methods'])} != {sorted(methods)}")
    if not baselines <= set(doc["baselines"]):
        raise MalformedResultError(f"taskweb.baselines: missing {sorted(baselines - set(doc['baselines']))}")
    for group in ("methods", "baselines"):
        for name, block in doc[group].items():
            _settings_block(block, f"taskweb.{group}.{name}")
    for name in methods:
        _number(doc["seconds"].get(name), f"taskweb.seconds.{name}", 0.0)


def check_transfer(block: Mapping[str, Any]) -> None:
    """Raise unless ``block`` is a ``transfer_aware`` block: every space has the fixed and nested
    rows for every setting, with NDCG in [0, 1].

    Raises:
        MalformedResultError: A missing row or setting, or an NDCG out of range.
    """
    for key in ("settings", "spaces", "baselines", "mean_over_single_settings"):
        if key not in block:
            raise MalformedResultError(f"transfer_aware: missing {key!r}")
    for space, rows in block["spaces"].items():
        for row in ("transfer_fixed", "transfer_nested"):
            for setting in block["settings"]:
                value = rows.get(row, {}).get(setting, {}).get("ndcg")
                _number(value, f"transfer_aware.{space}.{row}.{setting}.ndcg", 0.0, 1.0)


def check_unified(doc: Mapping[str, Any], parts: set[str]) -> None:
    """Raise unless ``doc`` has the unified keys of the parts run (``models``, ``prompts``).

    Raises:
        MalformedResultError: A key is missing or of the wrong type or range.
    """
    wanted = {
        **(UNIFIED_MODEL_KEYS if "models" in parts else {}),
        **(UNIFIED_PROMPT_KEYS if "prompts" in parts else {}),
    }
    for key, kind in wanted.items():
        if key not in doc:
            raise MalformedResultError(f"unified: missing {key!r}")
        if kind is int:
            if not isinstance(doc[key], int) or doc[key] < 1:
                raise MalformedResultError(f"unified.{key}: {doc[key]!r} is not a positive int")
        else:
            _number(doc[key], f"unified.{key}", 0.0, 1.0)


def check_sketch(doc: Mapping[str, Any], dims: tuple[int, ...]) -> None:
    """Raise unless ``doc`` has a Spearman correlation in [-1, 1] for every sketch dimension.

    Raises:
        MalformedResultError: A dimension or key is missing.
    """
    spearman = doc.get("spearman")
    if not isinstance(spearman, Mapping) or set(spearman) != {str(d) for d in dims}:
        raise MalformedResultError(f"sketch.spearman: expected one value per dim {list(dims)}")
    for dim, value in spearman.items():
        _number(value, f"sketch.spearman.{dim}", -1.0, 1.0)
    for key in ("default_dim", "n_tasks", "n_pairs"):
        if not isinstance(doc.get(key), int):
            raise MalformedResultError(f"sketch: missing int {key!r}")
