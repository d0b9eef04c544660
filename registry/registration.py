"""Writes the ingest floor needs: a dataset with its tags and examples, a model, a prompt with its
LLM, a probe set, a batch of black-box outputs.

Each function is one write transaction (committed on return, rolled back on an exception), so what
a caller stores together is stored together or not at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import select

from registry.api import Registry
from registry.errors import DuplicateDataError
from registry.models import Dataset, Example, ModelEntry, Prompt
from registry.subjects import add_probe_set, add_subject, cache_output

Tags = Iterable[tuple[str, str]]


@dataclass(frozen=True)
class NewDataset:
    """A checked, sampled dataset ready to store.

    Attributes:
        name: Unique dataset name.
        source: Where it was read from.
        task_format: Its task format.
        label_set: Class names, or None for a task without labels.
        content_hash: Order-independent hash of the whole source's examples.
        sampling: How the sample was drawn (limit, seed, columns, ...).
        examples: The sampled, normalised examples, in position order.
    """

    name: str
    source: str
    task_format: str
    label_set: list[str] | None
    content_hash: str
    sampling: dict[str, Any]
    examples: list[dict[str, Any]]


@dataclass(frozen=True)
class NewPrompt:
    """A checked prompt and the LLM it runs on.

    Attributes:
        name: Unique prompt name.
        template: The template (holds ``{text}``).
        verbalizers: One entry (a word or a list of words) per class.
        llm_name: Catalogue name of the LLM.
        llm_source: Where the LLM loads from (used when it is new).
        llm_kind: The LLM's model kind (used when it is new).
    """

    name: str
    template: str
    verbalizers: list[Any]
    llm_name: str
    llm_source: str
    llm_kind: str


@dataclass(frozen=True)
class StoredDataset:
    """A stored dataset's id, and the name of an earlier dataset with the same content (or None)."""

    id: int
    duplicate_of: str | None


@dataclass(frozen=True)
class StoredProbeSet:
    """A stored probe set's name, number of texts and content hash."""

    name: str
    n_texts: int
    content_hash: str


def store_dataset(reg: Registry, new: NewDataset, tags: Tags, allow_duplicate: bool) -> StoredDataset:
    """One transaction: duplicate check, dataset row, tags, examples.

    Args:
        reg: The registry.
        new: The dataset.
        tags: (key, value) tags, already checked.
        allow_duplicate: Store it even when the same content is registered under another name.

    Returns:
        Its id and the duplicate's name.

    Raises:
        DuplicateDataError: Same content already registered and no ``allow_duplicate``.
        AlreadyExistsError: The name is taken.
    """
    with reg.db.transaction() as session:
        twin = session.scalar(select(Dataset.name).where(Dataset.content_hash == new.content_hash))
        if twin is not None and not allow_duplicate:
            raise DuplicateDataError(
                f"the same data is already registered as {twin!r} (content hash {new.content_hash[:12]}); "
                "reuse it, or pass --allow-duplicate"
            )
        ds = Dataset(
            name=new.name,
            source=new.source,
            task_format=new.task_format,
            label_set=new.label_set,
            n_examples=len(new.examples),
            content_hash=new.content_hash,
            sampling=new.sampling,
        )
        add_subject(session, ds, tags)
        session.add_all(Example(dataset_id=ds.id, position=i, data=e) for i, e in enumerate(new.examples))
    return StoredDataset(ds.id, twin)


def store_model(reg: Registry, name: str, source: str, kind: str, tags: Tags = ()) -> int:
    """Store a model entry with its tags.

    Args:
        reg: The registry.
        name: Model name.
        source: Where it loads from.
        kind: The model kind (already checked).
        tags: (key, value) tags, already checked.

    Returns:
        The model's subject id.

    Raises:
        AlreadyExistsError: The name is taken.
    """
    with reg.db.transaction() as session:
        return add_subject(session, ModelEntry(name=name, source=source, model_kind=kind), tags).id


def store_prompt(reg: Registry, new: NewPrompt, tags: Tags, check_new_llm: Callable[[], None]) -> int:
    """One transaction: the prompt's LLM (added when no model of that name exists), the prompt, its tags.

    Args:
        reg: The registry.
        new: The prompt and its LLM.
        tags: (key, value) tags of the prompt, already checked.
        check_new_llm: Called inside the transaction before a new LLM is added; raises to refuse it
            (an existing LLM is reused as it is, so its source is not checked again).

    Returns:
        The prompt's subject id.

    Raises:
        AlreadyExistsError: The prompt's name is taken.
        Exception: Whatever ``check_new_llm`` raises (nothing is stored).
    """
    with reg.db.transaction() as session:
        row = session.scalar(select(ModelEntry).where(ModelEntry.name == new.llm_name))
        if row is None:
            check_new_llm()
            row = add_subject(
                session, ModelEntry(name=new.llm_name, source=new.llm_source, model_kind=new.llm_kind)
            )
        prompt = Prompt(name=new.name, template=new.template, verbalizers=new.verbalizers, llm_id=row.id)
        return add_subject(session, prompt, tags).id


def store_probe_set(
    reg: Registry,
    name: str,
    probes: Sequence[tuple[str, str | None]],
    seed: int,
    sources: dict[str, Any],
) -> StoredProbeSet:
    """Store a probe set, its texts in order and how it was drawn, in one transaction.

    Args:
        reg: The registry.
        name: Unique probe-set name.
        probes: (text, text_pair) in order.
        seed: The shuffle seed.
        sources: How it was drawn (stored in the row's ``sources``).

    Returns:
        Name, number of texts and content hash.

    Raises:
        AlreadyExistsError: The name or the exact same content is already stored.
    """
    with reg.db.transaction() as session:
        probe = add_probe_set(session, name, probes, seed=seed)
        probe.sources = sources
    return StoredProbeSet(probe.name, probe.n_texts, probe.content_hash)


def cache_blackbox_outputs(
    reg: Registry, blackbox_id: int, outputs: Sequence[tuple[int, npt.NDArray[np.float32]]]
) -> None:
    """Store (or replace) a black box's outputs on several probe texts, in one transaction.

    Args:
        reg: The registry.
        blackbox_id: Subject id of the model or prompt.
        outputs: (probe text id, float32 output) pairs.
    """
    with reg.db.transaction() as session:
        for text_id, row in outputs:
            cache_output(session, blackbox_id, text_id, row)
