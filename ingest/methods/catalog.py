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
from ingest.methods import textemb as textemb_module
from ingest.methods.textemb import example_inputs, textemb
from ingest.surrogate import Surrogate
from registry.errors import ConfigError, InvalidDataError
from registry.spaces import SpaceConfig
from registry.validate import MAX_SEED, finite_float, int_in_range, shown

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
        values[key] = check_param(method, key, raw, getattr(cls(), key))
    return cls(**values)


# Ranges of the hyper-parameters (a bad value is refused when the space is defined, not when the
# first embedding crashes: max_examples=0 crashed, -3 silently dropped the last 3 examples).
INT_RANGES = {
    "max_length": (1, 8192),
    "max_examples": (1, 1_000_000),
    "seed": (0, MAX_SEED),
    "sketch_seed": (0, MAX_SEED),
    "dim": (1, 1 << 22),
    "train_steps": (0, 100_000),
    "batch_size": (1, 4096),
    "grad_examples": (1, 1_000_000),
    "grad_batch_size": (1, 4096),
    "prefix_len": (1, 512),
}
FLOAT_RANGES = {"lr": (0.0, 10.0)}
CHOICES = {"variant": taskemb.VARIANTS}
TRUE, FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")


def check_param(method: str, key: str, raw: Any, default: Any) -> Any:
    """One hyper-parameter converted from a CLI string (or taken from YAML / JSON) and checked.

    Args:
        method: The space's method (named in errors).
        key: Parameter name.
        raw: The given value.
        default: The parameter's default (its type is the parameter's type).

    Returns:
        The value with the parameter's type.

    Raises:
        ConfigError: Wrong type, out of range, not finite or not one of the choices (the message
            names the parameter, the value and the allowed range).
    """
    field = f"{method} parameter {key}"
    try:
        if isinstance(default, bool):
            value: Any = _as_bool(field, raw)
        elif isinstance(default, int):
            value = int_in_range(field, _as_int(raw), *INT_RANGES.get(key, (0, 2**31 - 1)))
        elif isinstance(default, float):
            value = finite_float(field, _as_float(raw), *FLOAT_RANGES.get(key, (0.0, 1e9)))
        else:
            value = str(raw)
    except InvalidDataError as exc:
        raise ConfigError(str(exc)) from None
    if key in CHOICES and value not in CHOICES[key]:
        raise ConfigError(f"{field}={shown(raw)} is not one of {', '.join(CHOICES[key])}")
    return value


def _as_bool(field: str, raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text not in TRUE + FALSE:  # bool("false") is True: never convert with bool()
        raise InvalidDataError(f"{field} must be true or false, got {shown(raw)}")
    return text in TRUE


def _as_int(raw: Any) -> Any:
    """An int from an int or a string of digits; anything else is returned for the range check to refuse."""
    if isinstance(raw, str):
        try:
            return int(raw.strip())
        except ValueError:
            return raw
    return raw


def _as_float(raw: Any) -> Any:
    if isinstance(raw, str):
        try:
            return float(raw.strip())
        except ValueError:
            return raw
    return raw


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


def legacy_params(method: str) -> dict[str, Any]:
    """Values that reproduce the behaviour of spaces created before a parameter existed.

    A parameter added later (``render``, block normalisation ...) is absent from the params stored
    with an older space; filling it with today's default would silently change how that space's
    next vector is computed, and mix two recipes in one index. Each method module lists, in
    ``LEGACY``, the value that reproduces its old behaviour.
    """
    module = {"textemb": textemb_module, "taskemb": taskemb, "tupate": tupate}.get(method)
    return dict(getattr(module, "LEGACY", {}))


def params_from_space(method: str, stored: dict[str, Any]) -> Any:
    """Rebuild the parameter object from a space's stored params (extra keys ignored; keys added
    after the space was created take their legacy value, see ``legacy_params``)."""
    names = {f.name for f in dataclasses.fields(PARAM_TYPES[method])}
    values = {k: v for k, v in legacy_params(method).items() if k not in stored}
    values.update({k: v for k, v in stored.items() if k in names})
    return method_params(method, values)


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
