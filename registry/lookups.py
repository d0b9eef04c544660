"""Reads the ingest floor needs: does a name exist, a dataset's stored examples, a probe set's texts,
a black box's cached outputs, and the rows one embedding is computed from.

Each function opens and closes its own read session. Rows handed back are column reads only
(sessions keep loaded objects usable after they close); relationships are never followed outside.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import select

from registry.api import Registry
from registry.models import Dataset, EmbeddingSpace, Example, ModelEntry, ProbeSet, ProbeText, Prompt, Subject
from registry.spaces import get_space
from registry.subjects import cached_outputs, dataset_examples, get_probe_set, get_subject

ProbeRow = tuple[int, int, str, str | None]


@dataclass(frozen=True)
class EmbeddingInputs:
    """What one vector is computed from: the space, the subject and (for a prompt) its LLM.

    Attributes:
        space: The space's row (column reads only).
        subject: The dataset, model or prompt row (column reads only).
        llm: The prompt's LLM row; None for a dataset or a model.
    """

    space: EmbeddingSpace
    subject: Subject
    llm: ModelEntry | None


def subject_exists(reg: Registry, name: str, kind: str) -> bool:
    """Whether a subject of that kind and name is registered.

    Args:
        reg: The registry.
        name: Subject name.
        kind: ``dataset``, ``model`` or ``prompt``.

    Returns:
        True when the row exists.
    """
    with reg.db.read() as session:
        stmt = select(Subject.id).where(Subject.kind == kind, Subject.name == name)
        return session.scalar(stmt) is not None


def probe_set_exists(reg: Registry, name: str) -> bool:
    """Whether a probe set of that name is stored.

    Args:
        reg: The registry.
        name: Probe-set name.

    Returns:
        True when the row exists.
    """
    with reg.db.read() as session:
        return session.scalar(select(ProbeSet.id).where(ProbeSet.name == name)) is not None


def find_space(reg: Registry, name: str) -> EmbeddingSpace | None:
    """The space of that name, or None (unlike ``get_space``, absence is no error).

    Args:
        reg: The registry.
        name: Space name.

    Returns:
        The space's row (column reads only), or None.
    """
    with reg.db.read() as session:
        return session.scalar(select(EmbeddingSpace).where(EmbeddingSpace.name == name))


def dataset_names(reg: Registry) -> set[str]:
    """Names of every registered dataset.

    Args:
        reg: The registry.

    Returns:
        The set of names.
    """
    with reg.db.read() as session:
        return set(session.scalars(select(Dataset.name)))


def dataset_id_by_key(reg: Registry, key: str) -> int | None:
    """Id of the dataset whose name or content hash is ``key``.

    Args:
        reg: The registry.
        key: A dataset name or content hash.

    Returns:
        The id, or None when nothing matches.
    """
    with reg.db.read() as session:
        return session.scalar(select(Dataset.id).where((Dataset.name == key) | (Dataset.content_hash == key)))


def example_data(reg: Registry, dataset_id: int) -> list[dict[str, Any]]:
    """The stored examples' data of a dataset, unordered (for sets of texts, e.g. exclusion).

    Args:
        reg: The registry.
        dataset_id: The dataset's subject id.

    Returns:
        One dict per stored example.
    """
    with reg.db.read() as session:
        return list(session.scalars(select(Example.data).where(Example.dataset_id == dataset_id)).all())


def stored_examples(reg: Registry, dataset_id: int) -> list[dict[str, Any]]:
    """The stored (sampled, normalised) examples of a dataset, in position order.

    Args:
        reg: The registry.
        dataset_id: The dataset's subject id.

    Returns:
        One dict per example.
    """
    with reg.db.read() as session:
        return dataset_examples(session, dataset_id)


def dataset_and_examples(reg: Registry, name: str) -> tuple[Subject, list[dict[str, Any]]]:
    """A dataset's row and its stored examples (position order), read in one session.

    Args:
        reg: The registry.
        name: Dataset name.

    Returns:
        (the dataset's row, column reads only; its examples).

    Raises:
        SubjectNotFoundError: No dataset of that name.
    """
    with reg.db.read() as session:
        ds = get_subject(session, name, "dataset")
        return ds, dataset_examples(session, ds.id)


def probe_set_id(reg: Registry, name: str) -> int:
    """Id of the probe set of that name.

    Args:
        reg: The registry.
        name: Probe-set name.

    Returns:
        Its id.

    Raises:
        NotFoundError: Unknown name.
    """
    with reg.db.read() as session:
        return get_probe_set(session, name).id


def probe_set_texts(reg: Registry, probe_set_id: int) -> list[ProbeRow]:
    """(position, probe text id, text, text_pair) of a probe set, in position order.

    Args:
        reg: The registry.
        probe_set_id: The probe set's id.

    Returns:
        One tuple per probe text.
    """
    with reg.db.read() as session:
        rows = session.execute(
            select(ProbeText.position, ProbeText.id, ProbeText.text, ProbeText.text_pair)
            .where(ProbeText.probe_set_id == probe_set_id)
            .order_by(ProbeText.position)
        ).all()
    return [(int(p), int(i), t, q) for p, i, t, q in rows]


def cached_blackbox_outputs(
    reg: Registry, blackbox_id: int, probe_set_id: int
) -> dict[int, npt.NDArray[np.float32]]:
    """A black box's cached outputs over a probe set.

    Args:
        reg: The registry.
        blackbox_id: Subject id of the model or prompt.
        probe_set_id: The probe set's id.

    Returns:
        {probe position: float32 output}.
    """
    with reg.db.read() as session:
        return cached_outputs(session, blackbox_id, probe_set_id)


def embedding_inputs(reg: Registry, space_name: str, subject_name: str, kind: str | None) -> EmbeddingInputs:
    """The space, subject and (for a prompt) LLM rows one vector is computed from, in one session.

    Args:
        reg: The registry.
        space_name: The space.
        subject_name: Dataset, model or prompt name.
        kind: The subject's kind when the name is ambiguous, else None.

    Returns:
        The rows.

    Raises:
        SpaceNotFoundError: Unknown space.
        SubjectNotFoundError: Unknown or ambiguous subject.
    """
    with reg.db.read() as session:
        space = get_space(session, space_name)
        subject = get_subject(session, subject_name, kind)
        llm = session.get(ModelEntry, subject.llm_id) if isinstance(subject, Prompt) else None
    return EmbeddingInputs(space, subject, llm)
