"""Catalogue entries: subjects and their tags, probe sets, transfer results, black-box cache, jobs.

Data access only: functions take the caller's Session, flush when they need ids, never commit.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.errors import AlreadyExistsError, ImmutableError, NotFoundError, SubjectNotFoundError
from registry.models import (
    SUBJECT_KINDS,
    BlackBoxOutput,
    EmbeddingSpace,
    Example,
    ProbeSet,
    ProbeText,
    Subject,
    Tag,
    TransferResult,
)
from registry.spaces import canonical_json

S = TypeVar("S", bound=Subject)


def add_subject(session: Session, subject: S, tags: Iterable[tuple[str, str]] = ()) -> S:
    """Insert a dataset, model or prompt with its tags.

    Raises:
        AlreadyExistsError: A subject of the same kind already has that name.
    """
    kind = subject.__mapper__.polymorphic_identity
    taken = session.scalar(select(Subject.id).where(Subject.kind == kind, Subject.name == subject.name))
    if taken is not None:
        raise AlreadyExistsError(f"a {kind} named {subject.name!r} already exists; choose another name")
    session.add(subject)
    session.flush()
    set_tags(session, subject, tags)
    return subject


def get_subject(session: Session, name: str, kind: str | None = None) -> Subject:
    """Find a subject by name (and kind when names collide across kinds).

    Raises:
        SubjectNotFoundError: No such subject, or the name is ambiguous without a kind.
    """
    stmt = select(Subject).where(Subject.name == name)
    if kind is not None:
        if kind not in SUBJECT_KINDS:
            raise SubjectNotFoundError(f"unknown kind {kind!r}; choose one of {', '.join(SUBJECT_KINDS)}")
        stmt = stmt.where(Subject.kind == kind)
    found = session.scalars(stmt).all()
    if not found:
        raise SubjectNotFoundError(f"no {kind or 'dataset, model or prompt'} named {name!r}")
    if len(found) > 1:
        kinds = ", ".join(s.kind for s in found)
        raise SubjectNotFoundError(f"{name!r} names several subjects ({kinds}); pass a kind")
    return found[0]


def set_tags(session: Session, subject: Subject, tags: Iterable[tuple[str, str]]) -> None:
    """Add (key, value) tags to a subject; a key may carry several values, duplicates are ignored."""
    existing = {(t.key, t.value) for t in subject.tags}
    for key, value in tags:
        if (key, value) not in existing:
            session.add(Tag(subject_id=subject.id, key=key, value=value))
            existing.add((key, value))
    session.flush()


def tags_of(session: Session, subject_ids: Sequence[int]) -> dict[int, dict[str, list[str]]]:
    """Tags of several subjects as {subject_id: {key: [values]}}."""
    out: dict[int, dict[str, list[str]]] = {sid: {} for sid in subject_ids}
    rows = session.execute(
        select(Tag.subject_id, Tag.key, Tag.value)
        .where(Tag.subject_id.in_(list(subject_ids)))
        .order_by(Tag.id)
    ).all()
    for sid, key, value in rows:
        out[sid].setdefault(key, []).append(value)
    return out


def probe_hash(texts: Sequence[tuple[str, str | None]]) -> str:
    """Canonical content hash of an ordered list of (text, text_pair) probes."""
    return hashlib.sha256(canonical_json([list(t) for t in texts]).encode()).hexdigest()


def add_probe_set(
    session: Session, name: str, texts: Sequence[tuple[str, str | None]], seed: int | None = None
) -> ProbeSet:
    """Store a probe set and its texts in order.

    Raises:
        AlreadyExistsError: The name or the exact same content is already stored.
        ValueError: No texts were given.
    """
    if not texts:
        raise ValueError("a probe set needs at least one text")
    digest = probe_hash(texts)
    twin = session.scalar(select(ProbeSet).where((ProbeSet.name == name) | (ProbeSet.content_hash == digest)))
    if twin is not None:
        raise AlreadyExistsError(f"probe set {twin.name!r} already has this name or content; reuse it")
    probe = ProbeSet(name=name, content_hash=digest, n_texts=len(texts), seed=seed)
    session.add(probe)
    session.flush()
    session.add_all(
        ProbeText(probe_set_id=probe.id, position=i, text=t, text_pair=p) for i, (t, p) in enumerate(texts)
    )
    session.flush()
    return probe


def ensure_probe_set_mutable(session: Session, probe: ProbeSet) -> None:
    """Refuse to change a probe set that a space already uses.

    Raises:
        ImmutableError: Some space references the probe set.
    """
    user = session.scalar(select(EmbeddingSpace.name).where(EmbeddingSpace.probe_set_id == probe.id))
    if user is not None:
        raise ImmutableError(
            f"probe set {probe.name!r} is used by space {user!r} and cannot change; create a new probe set"
        )


def cache_output(
    session: Session, blackbox_id: int, probe_text_id: int, output: npt.NDArray[np.float32]
) -> None:
    """Store (or replace) a black box's float32 output on one probe text."""
    row = session.scalar(
        select(BlackBoxOutput).where(
            BlackBoxOutput.blackbox_id == blackbox_id, BlackBoxOutput.probe_text_id == probe_text_id
        )
    )
    blob = np.ascontiguousarray(output, dtype="<f4").tobytes()
    if row is None:
        session.add(BlackBoxOutput(blackbox_id=blackbox_id, probe_text_id=probe_text_id, output=blob))
    else:
        row.output = blob
    session.flush()


def cached_outputs(
    session: Session, blackbox_id: int, probe_set_id: int
) -> dict[int, npt.NDArray[np.float32]]:
    """Cached outputs of a black box over a probe set as {position: float32 array}."""
    rows = session.execute(
        select(ProbeText.position, BlackBoxOutput.output)
        .join(BlackBoxOutput, BlackBoxOutput.probe_text_id == ProbeText.id)
        .where(ProbeText.probe_set_id == probe_set_id, BlackBoxOutput.blackbox_id == blackbox_id)
    ).all()
    return {int(pos): np.frombuffer(blob, dtype="<f4").astype(np.float32) for pos, blob in rows}


def record_transfer(
    session: Session,
    source: Subject,
    target: Subject,
    score: float,
    setting: str = "default",
    origin: str = "user",
) -> TransferResult:
    """Store (or update) a measured transfer score.

    Raises:
        ValueError: The score is not finite, or source equals target.
    """
    if not np.isfinite(score):
        raise ValueError(f"transfer score must be a finite number, got {score!r}")
    if source.id == target.id:
        raise ValueError(f"a task cannot be its own transfer source ({source.name!r})")
    row = session.scalar(
        select(TransferResult).where(
            TransferResult.source_id == source.id,
            TransferResult.target_id == target.id,
            TransferResult.setting == setting,
            TransferResult.origin == origin,
        )
    )
    if row is not None and row.score == score:
        return row
    if row is not None:
        # Replace rather than update: the new row's fresh id tells cached transfer graphs
        # (registry.transfers, keyed on count and max id) that a score changed.
        session.delete(row)
        session.flush()
    row = TransferResult(
        source_id=source.id, target_id=target.id, score=score, setting=setting, origin=origin
    )
    session.add(row)
    session.flush()
    return row


def get_probe_set(session: Session, name: str) -> ProbeSet:
    """The probe set with that name.

    Raises:
        NotFoundError: Unknown name.
    """
    probe = session.scalar(select(ProbeSet).where(ProbeSet.name == name))
    if probe is None:
        raise NotFoundError(f"no probe set named {name!r}; list them with `fute probes list`")
    return probe


def dataset_examples(session: Session, dataset_id: int) -> list[dict[str, Any]]:
    """The stored (sampled, normalised) examples of a dataset, in position order."""
    return list(
        session.scalars(
            select(Example.data).where(Example.dataset_id == dataset_id).order_by(Example.position)
        )
    )
