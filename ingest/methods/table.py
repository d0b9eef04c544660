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
from ingest.names import METHODS as METHODS  # re-exported: its historic home
from ingest.render import RENDERS, render_examples
from ingest.surrogate import Surrogate
from registry.errors import ConfigError, InvalidDataError
from registry.spaces import SpaceConfig
from registry.validate import MAX_SEED, finite_float, int_in_range, shown


@dataclass(frozen=True)
class TextEmbParams:
    """Hyper-parameters of a ``textemb`` space."""

    max_length: int = 128
    max_examples: int = 1000
    seed: int = 0
    # the mean of unit example vectors in an l2 space (linear MMD): docs/BENCHMARKS.md, section 1c
    pool: str = "normed"
    center: str = "none"

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return asdict(self)


@dataclass(frozen=True)
class EmbedView:
    """How the surrogate reads a subject's examples in one space.

    Attributes:
        render: ``raw``, ``labels`` or ``template`` (see ``ingest.render``).
        label_names: The dataset's label set, or a black box's class names.
        reference: A mean subtracted from TextEmb vectors (``center=probe``), or None.
    """

    render: str = "raw"
    label_names: list[Any] | None = None
    reference: npt.NDArray[np.float32] | None = None


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
        if key == "render":  # a parameter of every method: checked here, recorded by space_config
            space_render({key: raw})
            continue
        if key not in fields:
            valid = ", ".join([*fields, "render"])
            raise ConfigError(f"unknown {method} parameter {key!r}; valid: {valid}")
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
FLOAT_RANGES = {"lr": (0.0, 10.0), "epochs": (0.0, 1000.0), "prefix_dropout": (0.0, 0.9)}
ZERO_MEANS_OFF = frozenset({"epochs", "prefix_dropout"})
CHOICES = {
    "variant": taskemb.VARIANTS,
    "pool": textemb_module.POOLS,
    "center": textemb_module.CENTERS,
    "pooling": tupate.POOLINGS,
    "init": tupate.INITS,
}
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
        elif isinstance(default, float) and key in ZERO_MEANS_OFF and _as_float(raw) == 0:
            value = 0.0  # "off" (epochs: use train_steps; no prefix dropout), not a degenerate rate
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


# What new spaces read (issue 15), per method. TextEmb reads the template (+0.098 mean NDCG on
# TaskWeb, docs/BENCHMARKS.md section 1d). TaskEmb and TuPaTE keep the raw texts: the template
# gained them nothing on TaskWeb (Fisher 0.532 -> 0.522, TuPaTE 0.486 -> 0.491), and with it a
# topic classifier's TaskEmb MTE sat nearer the sentiment datasets than the topic ones
# (tests/ingest/test_unified_space.py: 0.258 vs 0.278), which the raw texts keep in order.
DEFAULT_RENDER = {"textemb": "template", "taskemb": "raw", "tupate": "raw"}
LEGACY_RENDER = "raw"  # spaces created before rendering existed read the raw texts


def space_render(overrides: dict[str, Any] | None, method: str = "textemb") -> str:
    """The ``render`` parameter of a new space (the method's ``DEFAULT_RENDER`` when not given).

    Args:
        overrides: The space's parameter overrides.
        method: The space's method (its default rendering).

    Returns:
        ``raw``, ``labels`` or ``template``.

    Raises:
        ConfigError: Not one of ``raw``, ``labels``, ``template``.
    """
    raw = (overrides or {}).get("render", DEFAULT_RENDER.get(method, LEGACY_RENDER))
    value = str(raw).strip().lower()
    if value not in RENDERS:
        raise ConfigError(f"parameter render={shown(raw)} is not one of {', '.join(RENDERS)}")
    return value


def stored_render(stored: dict[str, Any]) -> str:
    """The render mode of an existing space (its stored params; ``raw`` for older spaces)."""
    return str(stored.get("render", LEGACY_RENDER))


def dim_of(method: str, params: Any, sur: Surrogate) -> int:
    """Vector dimension a method produces with this surrogate."""
    if method == "textemb":
        return sur.hidden_size
    if method == "taskemb":
        return taskemb.vector_dim(params, sur)  # the activation variant is not sketched
    return tupate.vector_dim(params, sur)  # 2 x layers x hidden for pooling=positions


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
        "render": space_render(overrides, method),
        "weights_sha256": sur.weights_hash,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
    }
    return SpaceConfig(
        name=name,
        surrogate=sur.name,
        method=method,
        dim=dim_of(method, params, sur),
        # the normed TextEmb mean is a distribution summary: compared by distance (linear MMD)
        metric="l2" if method == "textemb" and params.pool == "normed" else "cosine",
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
    sur: Surrogate,
    method: str,
    params: Any,
    task_format: str,
    examples: list[dict[str, Any]],
    n_labels: int,
    view: EmbedView | None = None,
) -> npt.NDArray[np.float32]:
    """The vector of (pseudo-)labelled canonical examples under a method.

    Args:
        sur: Loaded surrogate.
        method: ``textemb``, ``taskemb`` or ``tupate``.
        params: The method's parameter object.
        task_format: Canonical format of the examples.
        examples: Canonical examples (``soft`` targets for an MTE).
        n_labels: Classes of a classification head.
        view: How the surrogate reads them (render mode, label names, reference mean); None is the
            raw texts, uncentred.

    Returns:
        float32 vector of the space's dimension.

    Raises:
        ConfigError: Unknown method.
        ValueError: No examples.
    """
    view = view or EmbedView()
    if method == "textemb":
        chosen = render_examples(examples[: params.max_examples], task_format, view.render, view.label_names)
        inputs = [example_inputs(e) for e in chosen]
        vec = textemb(sur, [t for t, _ in inputs], params.max_length, [p for _, p in inputs], params.pool)
        return vec if view.reference is None else (vec - view.reference).astype(np.float32)
    rendered = render_examples(examples, task_format, view.render, view.label_names)
    if method == "taskemb":
        return taskemb.embed(sur, task_format, rendered, n_labels, params)
    if method == "tupate":
        return tupate.embed(sur, task_format, rendered, n_labels, params)
    raise ConfigError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
