"""The method catalogue: hyper-parameters of each method, the space configuration they define, and
one ``embed`` entry point over canonical examples."""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
import transformers

from ingest.methods import taskemb, tupate
from ingest.methods.textemb import example_inputs, textemb
from ingest.surrogate import Surrogate
from registry.errors import ConfigError
from registry.spaces import SpaceConfig

METHODS = ("textemb", "taskemb", "tupate")


@dataclass(frozen=True)
class TextEmbParams:
    """Hyper-parameters of a ``textemb`` space."""

    max_length: int = 128
    max_examples: int = 1000
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return asdict(self)


PARAM_TYPES: dict[str, Any] = {
    "textemb": TextEmbParams,
    "taskemb": taskemb.TaskEmbParams,
    "tupate": tupate.TuPaTEParams,
}


def method_params(method: str, overrides: dict[str, Any] | None = None) -> Any:
    """The method's parameter object with overrides (strings from the CLI are converted).

    Raises:
        ConfigError: Unknown method or parameter, or a value of the wrong type.
    """
    if method not in PARAM_TYPES:
        raise ConfigError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    cls = PARAM_TYPES[method]
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    for key, raw in (overrides or {}).items():
        if key not in fields:
            raise ConfigError(f"unknown {method} parameter {key!r}; valid: {', '.join(fields)}")
        default = getattr(cls(), key)
        try:
            values[key] = type(default)(raw) if not isinstance(raw, type(default)) else raw
        except ValueError as exc:
            raise ConfigError(f"{method} parameter {key}={raw!r} is not a {type(default).__name__}") from exc
    return cls(**values)


def dim_of(method: str, params: Any, sur: Surrogate) -> int:
    """Vector dimension a method produces with this surrogate."""
    if method == "textemb":
        return sur.hidden_size
    if method == "taskemb":
        return int(params.dim)
    return 2 * int(params.prefix_len) * sur.hidden_size


def space_config(
    name: str,
    method: str,
    sur: Surrogate,
    overrides: dict[str, Any] | None = None,
    probe_set: str | None = None,
) -> SpaceConfig:
    """Everything that defines a space: method params plus surrogate weights and library versions."""
    params = method_params(method, overrides)
    recorded = {
        **params.to_dict(),
        "weights_sha256": sur.weights_hash,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
    }
    return SpaceConfig(
        name=name,
        surrogate=sur.name,
        method=method,
        dim=dim_of(method, params, sur),
        params=recorded,
        probe_set=probe_set,
    )


def params_from_space(method: str, stored: dict[str, Any]) -> Any:
    """Rebuild the parameter object from a space's stored params (extra keys ignored)."""
    names = {f.name for f in dataclasses.fields(PARAM_TYPES[method])}
    return method_params(method, {k: v for k, v in stored.items() if k in names})


def embed(
    sur: Surrogate, method: str, params: Any, task_format: str, examples: list[dict[str, Any]], n_labels: int
) -> npt.NDArray[np.float32]:
    """The vector of (pseudo-)labelled canonical examples under a method.

    Raises:
        ConfigError: Unknown method.
        ValueError: No examples.
    """
    if method == "textemb":
        chosen = examples[: params.max_examples]
        inputs = [example_inputs(e) for e in chosen]
        return textemb(sur, [t for t, _ in inputs], params.max_length, pairs=[p for _, p in inputs])
    if method == "taskemb":
        return taskemb.embed(sur, task_format, examples, n_labels, params)
    if method == "tupate":
        return tupate.embed(sur, task_format, examples, n_labels, params)
    raise ConfigError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
