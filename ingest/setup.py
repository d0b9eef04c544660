"""Set-up steps of a catalogue job: probe sets, spaces, datasets, models, prompts (idempotent)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from ingest.blackbox.prompt import template_fields
from ingest.catalogue import Catalogue
from ingest.engine import Engine
from ingest.formats import ColumnMap
from ingest.probes import ProbeRequest, create_probe_set
from ingest.register import DatasetRequest, check_name, register_dataset
from registry.api import Registry
from registry.catalog import add_subject
from registry.errors import ConfigError
from registry.models import EmbeddingSpace, ModelEntry, ProbeSet, Prompt, Subject
from registry.validate import check_tag

Step = tuple[str, Callable[[], str | None]]


def setup_steps(reg: Registry, engine: Engine, cat: Catalogue) -> list[Step]:
    """Steps that register everything the catalogue names (each skipped when it already exists)."""
    steps: list[Step] = []
    steps += [(f"probe_set/{e['name']}", _probe_action(reg, e)) for e in cat.entries("probe_sets")]
    steps += [(f"space/{e['name']}", _space_action(reg, engine, e)) for e in cat.entries("spaces")]
    steps += [(f"dataset/{e['name']}", _dataset_action(reg, e)) for e in cat.entries("datasets")]
    steps += [(f"model/{e['name']}", _model_action(reg, e)) for e in cat.entries("models")]
    steps += [(f"prompt/{e['name']}", _prompt_action(reg, e)) for e in cat.entries("prompts")]
    return steps


def _exists(reg: Registry, stmt: Any) -> bool:
    with reg.db.read() as session:
        return session.scalar(stmt) is not None


def _tags(entry: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    out: list[tuple[str, str]] = []
    for key, value in (entry.get("tags") or {}).items():
        values = value if isinstance(value, list) else [value]
        out += [check_tag(key, v) for v in values]  # validated at load; this also normalises to str
    return tuple(out)


def _probe_action(reg: Registry, e: dict[str, Any]) -> Callable[[], str | None]:
    def action() -> str | None:
        if _exists(reg, select(ProbeSet.id).where(ProbeSet.name == e["name"])):
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
        if _exists(reg, select(EmbeddingSpace.id).where(EmbeddingSpace.name == e["name"])):
            return "already exists"
        surrogate = e.get("surrogate") or "pkg:all-minilm-l6-v2"
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


def _dataset_action(reg: Registry, e: dict[str, Any]) -> Callable[[], str | None]:
    def action() -> str | None:
        if _exists(reg, select(Subject.id).where(Subject.kind == "dataset", Subject.name == e["name"])):
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
        ConfigError: Unknown kind.
        AlreadyExistsError: The name is taken.
    """
    from ingest.blackbox.factory import MODEL_KINDS

    if kind not in MODEL_KINDS:
        raise ConfigError(f"unknown model kind {kind!r}; choose one of {', '.join(MODEL_KINDS)}")
    check_name(name)
    with reg.db.transaction() as session:
        return add_subject(session, ModelEntry(name=name, source=source, model_kind=kind), tags).id


def _model_action(reg: Registry, e: dict[str, Any]) -> Callable[[], str | None]:
    def action() -> str | None:
        if _exists(reg, select(Subject.id).where(Subject.kind == "model", Subject.name == e["name"])):
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
    llm = llm_name(str(entry["llm"]))
    with reg.db.transaction() as session:
        row = session.scalar(select(ModelEntry).where(ModelEntry.name == llm))
        if row is None:
            row = add_subject(
                session,
                ModelEntry(name=llm, source=str(entry["llm"]), model_kind=entry.get("llm_kind", "llm")),
            )
        prompt = Prompt(name=entry["name"], template=template, verbalizers=verbalizers, llm_id=row.id)
        return add_subject(session, prompt, _tags(entry)).id


def _prompt_action(reg: Registry, e: dict[str, Any]) -> Callable[[], str | None]:
    def action() -> str | None:
        if _exists(reg, select(Subject.id).where(Subject.kind == "prompt", Subject.name == e["name"])):
            return "already registered"
        register_prompt(reg, e)
        return None

    return action
