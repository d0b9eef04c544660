"""``fute maintain dedupe``: datasets registered twice with identical content.

Two datasets are duplicates when their ``content_hash`` (the order-independent hash of the sampled,
normalised examples) is equal. A group keeps its **oldest** member (lowest id: ids are monotonic)
and ``merge`` folds every other member into it:

* tags: the keeper gets the union of the group's tags;
* transfer results: re-pointed from the duplicate to the keeper; a row that then collides with
  one of the keeper's (same source, target, setting, origin) is dropped when the scores are equal;
* embeddings: for a space where only the duplicate has a vector, the keeper gets that vector (a
  new row through the normal write path, provenance ``merged_from``); the keeper's own win;
* then the duplicate is deleted with its remaining vectors, every index kept in step.

A group is **ambiguous**, reported and never merged, when its members disagree on task format or
label set, when a transfer result links two members, or when re-pointing would collide with a
different score. Safe to interrupt: every step above is idempotent, so a re-run finishes the merge.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from registry.models import Dataset, Embedding, EmbeddingSpace, Tag, TransferResult
from registry.subjects import set_tags

if TYPE_CHECKING:  # the facade imports this module's siblings; avoid an import cycle at runtime
    from registry.api import Registry

TransferKey = tuple[int, int, str, str]


@dataclass
class DupGroup:
    """Datasets sharing one content hash; ``ambiguous`` says why a merge is refused."""

    content_hash: str
    keep: str
    duplicates: list[str]
    ambiguous: str | None = None
    merged: bool = False


@dataclass
class DedupeReport:
    """Every duplicate group, and whether it was merged."""

    merge: bool
    groups: list[DupGroup] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON form: ``{"merge", "groups": [{"content_hash", "keep", "duplicates", "ambiguous", "merged"}]}``."""
        return {"merge": self.merge, "groups": [asdict(g) for g in self.groups]}


def dedupe(reg: Registry, merge: bool = False) -> DedupeReport:
    """Report (and with ``merge`` fold together) datasets with identical content hashes.

    Args:
        reg: The registry.
        merge: Merge every unambiguous group into its oldest member.

    Returns:
        The report.
    """
    report = DedupeReport(merge=merge)
    with reg.db.read() as session:
        report.groups = [_describe(session, members) for members in _groups(session)]
    if merge:
        for group in report.groups:
            if group.ambiguous is None:
                _merge_group(reg, group)
                group.merged = True
    return report


def _groups(session: Session) -> list[list[Dataset]]:
    hashes = session.scalars(
        select(Dataset.content_hash)
        .group_by(Dataset.content_hash)
        .having(func.count() > 1)
        .order_by(Dataset.content_hash)
    ).all()
    return [
        list(session.scalars(select(Dataset).where(Dataset.content_hash == h).order_by(Dataset.id)))
        for h in hashes
    ]


def _describe(session: Session, members: list[Dataset]) -> DupGroup:
    keep, dups = members[0], members[1:]
    group = DupGroup(keep.content_hash, keep.name, [d.name for d in dups])
    for dup in dups:
        if (dup.task_format, dup.label_set) != (keep.task_format, keep.label_set):
            group.ambiguous = f"{dup.name!r} differs from {keep.name!r} in task format or label set"
            return group
    ids = {m.id for m in members}
    linked = session.scalar(
        select(TransferResult.id).where(TransferResult.source_id.in_(ids), TransferResult.target_id.in_(ids))
    )
    if linked is not None:
        group.ambiguous = "a transfer result links two members of the group"
        return group
    group.ambiguous = _transfer_conflict(session, keep.id, [d.id for d in dups])
    return group


def _transfer_conflict(session: Session, keep_id: int, dup_ids: list[int]) -> str | None:
    """A message when re-pointing the duplicates' transfer results would contradict a stored score."""
    seen: dict[TransferKey, float] = {}
    ids = [keep_id, *dup_ids]
    rows = session.scalars(
        select(TransferResult)
        .where(TransferResult.source_id.in_(ids) | TransferResult.target_id.in_(ids))
        .order_by(TransferResult.id)
    )
    for row in rows:
        key = _repointed(row, keep_id, dup_ids)
        if key in seen and seen[key] != row.score:
            return f"transfer results {key[2]}/{key[3]} disagree ({seen[key]} vs {row.score})"
        seen[key] = row.score
    return None


def _repointed(row: TransferResult, keep_id: int, dup_ids: list[int]) -> TransferKey:
    src = keep_id if row.source_id in dup_ids else row.source_id
    tgt = keep_id if row.target_id in dup_ids else row.target_id
    return (src, tgt, row.setting, row.origin)


def _merge_group(reg: Registry, group: DupGroup) -> None:
    """Fold each duplicate into the keeper: SQL re-pointing, vectors, then deletion."""
    from registry.api import EmbeddingItem  # runtime import: api imports registry modules

    for name in group.duplicates:
        with reg.db.transaction() as session:
            keep = _dataset(session, group.keep)
            dup = _dataset(session, name)
            set_tags(session, keep, [(t.key, t.value) for t in dup.tags])
            _move_transfers(session, keep.id, dup.id)
            moves = _vectors_to_move(session, keep.id, dup.id)
            keep_id = keep.id
        for space_name, vector, provenance in moves:
            item = EmbeddingItem(keep_id, vector, {**provenance, "merged_from": name})
            reg.put_embeddings(space_name, [item])
        reg.delete_subject(name, "dataset")


def _dataset(session: Session, name: str) -> Dataset:
    return session.scalars(select(Dataset).where(Dataset.name == name)).one()


def _move_transfers(session: Session, keep_id: int, dup_id: int) -> None:
    """Re-point the duplicate's transfer results; drop those the keeper already holds."""
    keep_rows = session.scalars(
        select(TransferResult).where(
            (TransferResult.source_id == keep_id) | (TransferResult.target_id == keep_id)
        )
    ).all()
    held = {(r.source_id, r.target_id, r.setting, r.origin) for r in keep_rows}
    rows = session.scalars(
        select(TransferResult).where(
            (TransferResult.source_id == dup_id) | (TransferResult.target_id == dup_id)
        )
    ).all()
    for row in rows:
        key = _repointed(row, keep_id, [dup_id])
        if key in held:  # equal score (checked by _transfer_conflict): the keeper's row stays
            session.execute(delete(TransferResult).where(TransferResult.id == row.id))
            continue
        row.source_id, row.target_id = key[0], key[1]
        held.add(key)
    session.flush()


def _vectors_to_move(
    session: Session, keep_id: int, dup_id: int
) -> list[tuple[str, npt.NDArray[np.float32], dict[str, Any]]]:
    """(space name, vector, provenance) of the duplicate's vectors in spaces the keeper lacks."""
    keeper_spaces = select(Embedding.space_id).where(Embedding.subject_id == keep_id)
    rows = session.execute(
        select(EmbeddingSpace.name, Embedding.vector, Embedding.provenance)
        .join(EmbeddingSpace, EmbeddingSpace.id == Embedding.space_id)
        .where(Embedding.subject_id == dup_id, Embedding.space_id.not_in(keeper_spaces))
        .order_by(EmbeddingSpace.id)
    ).all()
    return [(n, np.frombuffer(v, dtype="<f4").copy(), dict(p or {})) for n, v, p in rows]


def tag_pairs(session: Session, subject_id: int) -> set[tuple[str, str]]:
    """The (key, value) tags of a subject (used by tests and the report)."""
    return {
        (k, v) for k, v in session.execute(select(Tag.key, Tag.value).where(Tag.subject_id == subject_id))
    }
