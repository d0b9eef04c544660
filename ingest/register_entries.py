"""Set-up steps of a catalogue job: probe sets, spaces, datasets, models, prompts (idempotent)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ingest.blackbox.prompt import template_fields
from ingest.engine import Engine
from ingest.formats import ColumnMap
from ingest.job_file import Catalogue
from ingest.probes import ProbeRequest, create_probe_set
from ingest.register import DatasetRequest, check_name, register_dataset
from registry.api import Registry
from registry.errors import AlreadyExistsError, ConfigError
from registry.lookups import find_space, probe_set_exists, subject_exists
from registry.models import EmbeddingSpace
from registry.registration import NewPrompt, store_model, store_prompt
from registry.validate import check_tag, check_tags

Step = tuple[str, Callable[[], str | None]]


def setup_steps(reg: Registry, engine: Engine, cat: Catalogue) -> list[Step]:
    """Steps that register everything the catalogue names (each skipped when it already exists)."""
    steps: list[Step] = []
    steps += [(f"probe_set/{e['name']}", _probe_action(reg, e)) for e in cat.entries("probe_sets")]
    steps += [(f"space/{e['name']}", _space_action(reg, engine, e)) for e in cat.entries("spaces")]
    steps += [(f"dataset/{e['name']}", _dataset_action(reg, e)) for e in cat.entries("datasets")]
    steps += [(f"model/{e['name']}", _model_action(reg, e)) for e in cat.entries("models")]
    steps += [(f"prompt/{e['name']}", _prompt_action(reg, e)) for e in cat.entries("prompts")]
    return [(key, _race_safe(reg, key, action)) for key, action in steps]


EXISTS_BY_SECTION: dict[str, Callable[[Registry, str], bool]] = {
    "probe_set": probe_set_exists,
    "space": lambda reg, name: find_space(reg, name) is not None,
    "dataset": lambda reg, name: subject_exists(reg, name, "dataset"),
    "model": lambda reg, name: subject_exists(reg, name, "model"),
    "prompt": lambda reg, name: subject_exists(reg, name, "prompt"),
}


def _race_safe(reg: Registry, key: str, action: Callable[[], str | None]) -> Callable[[], str | None]:
    """Two identical jobs started at once both pass the "exists?" check; the slower one's insert
    then meets the faster one's row. That is a skip, not a failure (issue 17, case 14)."""

    def guarded() -> str | None:
        try:
            return action()
        except AlreadyExistsError:
            if not _exists(reg, key):
                raise  # e.g. the same content under another name: a real conflict
            # The row now exists: the action's own "exists" path decides (a skip, or for a space
            # with other parameters a clear error).
            return action()

    return guarded


def _exists(reg: Registry, key: str) -> bool:
    """Whether the entry a step key names (``dataset/NAME``, ``space/NAME``, ...) is stored."""
    section, _, name = key.partition("/")
    return EXISTS_BY_SECTION[section](reg, name)


def _tags(entry: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    out: list[tuple[str, str]] = []
    for key, value in (entry.get("tags") or {}).items():
        values = value if isinstance(value, list) else [value]
        out += [check_tag(key, v) for v in values]  # validated at load; this also normalises to str
    return tuple(out)


def _probe_action(reg: Registry, e: dict[str, Any]) -> Callable[[], str | None]:
    def action() -> str | None:
        if _exists(reg, f"probe_set/{e['name']}"):
            return "already exists"
        sources = tuple(e["from"]) if isinstance(e["from"], list) else (str(e["from"]),)
        create_probe_set(
            reg,
            ProbeRequest(
                e["name"], sources, int(e.get("n", 1000)), int(e.get("seed", 13)), tuple(e.get("exclude", ()))
            ),
        )
        return None

    return action


def _space_action(reg: Registry, engine: Engine, e: dict[str, Any]) -> Callable[[], str | None]:
    def action() -> str | None:
        stored = find_space(reg, e["name"])
        surrogate = e.get("surrogate") or "pkg:all-minilm-l6-v2"
        if stored is not None:
            _same_space_or_raise(stored, e, surrogate)
            return "already exists"
        engine.create_space(
            e["name"],
            e["method"],
            surrogate,
            e.get("params") or {},
            e.get("probe_set"),
            e.get("index_type", "flat"),
        )
        return None

    return action


def _same_space_or_raise(stored: EmbeddingSpace, e: dict[str, Any], surrogate: str) -> None:
    """Compare a catalogue's space entry with the stored space of that name, cheaply (no model load).

    Raises:
        AlreadyExistsError: Method, surrogate, index type, probe set or a parameter differs.
    """
    from ingest.methods.table import method_params

    asked: dict[str, Any] = {"method": e["method"], "surrogate": surrogate}
    asked["index_type"] = e.get("index_type", "flat")
    have: dict[str, Any] = {"method": stored.method, "surrogate": stored.surrogate}
    have["index_type"] = stored.index_type
    if stored.method == e["method"]:  # parameters are only comparable within one method
        asked |= method_params(e["method"], e.get("params")).to_dict()
        have |= {k: stored.params.get(k) for k in asked if k not in have}
    diff = [f"{k} {have.get(k)!r} -> {v!r}" for k, v in asked.items() if have.get(k) != v]
    if diff:
        raise AlreadyExistsError(
            f"space {stored.name!r} already exists with other parameters ({', '.join(diff[:5])}); "
            "give the new space another name"
        )


def _dataset_action(reg: Registry, e: dict[str, Any]) -> Callable[[], str | None]:
    def action() -> str | None:
        if _exists(reg, f"dataset/{e['name']}"):
            return "already registered"
        cols = ColumnMap(e.get("text"), e.get("text_pair"), e.get("label"))
        register_dataset(
            reg,
            DatasetRequest(
                e["source"],
                e["name"],
                e.get("format"),
                cols,
                int(e.get("limit", 1000)),
                int(e.get("seed", 0)),
                _tags(e),
                bool(e.get("allow_duplicate", False)),
            ),
        )
        return None

    return action


def register_model(
    reg: Registry, name: str, source: str, kind: str, tags: tuple[tuple[str, str], ...] = ()
) -> int:
    """Register a model (classifier, LLM, OpenAI-compatible endpoint or callable); returns its id.

    Raises:
        ConfigError: Unknown kind, or a local source that is not a model folder.
        AlreadyExistsError: The name is taken.
    """
    from ingest.blackbox.factory import MODEL_KINDS

    if kind not in MODEL_KINDS:
        raise ConfigError(f"unknown model kind {kind!r}; choose one of {', '.join(MODEL_KINDS)}")
    check_name(name)
    check_model_source(source, kind)
    tags = check_tags(tags)
    return store_model(reg, name, source, kind, tags)


def check_model_source(source: str, kind: str) -> None:
    """Refuse a classifier or LLM source that names a local path but not a model folder (``/etc``
    was registered unchecked and failed only when embedded). Hub ids and ``pkg:`` sources are
    checked when the model loads.

    Args:
        source: The model's source as given.
        kind: The model kind; only ``classifier`` and ``llm`` load from a folder.

    Raises:
        ConfigError: The path is missing, not a folder, or a folder without ``config.json``.
    """
    if kind not in ("classifier", "llm") or source.startswith("pkg:"):
        return
    path = Path(source).expanduser()
    if not (path.is_absolute() or source.startswith((".", "~")) or path.exists()):
        return  # a hub id such as org/name
    fix = "pass a folder saved by save_pretrained (config.json, weights, tokenizer) or a hub id (org/name)"
    if not path.is_dir():
        problem = "is not a folder" if path.exists() else "does not exist"
        raise ConfigError(f"model source {source!r} {problem}; {fix}")
    if not (path / "config.json").is_file():
        raise ConfigError(f"model source {source!r} is a folder without config.json, not a model; {fix}")


def _model_action(reg: Registry, e: dict[str, Any]) -> Callable[[], str | None]:
    def action() -> str | None:
        if _exists(reg, f"model/{e['name']}"):
            return "already registered"
        register_model(reg, e["name"], str(e["source"]), e.get("kind", "classifier"), _tags(e))
        return None

    return action


def llm_name(source: str) -> str:
    """Catalogue name of an LLM source: ``pkg:smollm2`` -> ``smollm2``; paths and ids keep their last part."""
    return source.removeprefix("pkg:").rstrip("/").split("/")[-1]


def register_prompt(reg: Registry, entry: dict[str, Any]) -> int:
    """Register a prompt (and its LLM as a model when new); returns the prompt's id.

    Raises:
        InvalidDataError / ConfigError: Bad name, template or verbalizers.
    """
    check_name(entry["name"])
    verbalizers = entry["verbalizers"]
    if not isinstance(verbalizers, list) or len(verbalizers) < 2:
        raise ConfigError(
            "verbalizers must be a JSON list with one entry (a word or a list of words) per class, >= 2"
        )
    template = str(entry["template"])
    if "text" not in template_fields(template):  # the renderer's own parser: {{premise}} counts too
        raise ConfigError(
            "the prompt template must contain {text} (or FUTE's {{text}} / {{premise}}) where the probe text goes"
        )
    source, kind = str(entry["llm"]), entry.get("llm_kind", "llm")
    new = NewPrompt(entry["name"], template, verbalizers, llm_name(source), source, kind)
    # the source is checked only when the LLM is new (an existing one is reused as it is)
    return store_prompt(reg, new, _tags(entry), lambda: check_model_source(source, kind))


def _prompt_action(reg: Registry, e: dict[str, Any]) -> Callable[[], str | None]:
    def action() -> str | None:
        if _exists(reg, f"prompt/{e['name']}"):
            return "already registered"
        register_prompt(reg, e)
        return None

    return action
