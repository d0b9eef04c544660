"""``fute maintain prune``: remove what nothing references any more.

What goes:

* embeddings whose subject no longer exists (foreign keys cascade normally; rows can survive a
  database that ran without ``foreign_keys=ON`` or an interrupted manual clean-up);
* probe sets that no space uses, with their probe texts and every black-box output cached on them;
  black-box outputs whose subject or probe text is gone;
* in each space folder: index files of older generations and stray ``*.tmp`` files (under the
  space's writer lock, so a running writer is never disturbed);
* folders and files under ``indexes/`` that belong to no space.

Safe to interrupt: the SQL part is one transaction (all or nothing), each file removal is
independent and re-checked, so a re-run finishes whatever an interrupted run left.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from registry import snapshot as snap
from registry.errors import IndexCorruptError
from registry.models import BlackBoxOutput, Embedding, EmbeddingSpace, ProbeSet, ProbeText, Subject

if TYPE_CHECKING:  # the facade imports this module's siblings; avoid an import cycle at runtime
    from registry.api import Registry


@dataclass
class PruneReport:
    """What prune removed (or, with ``dry_run``, would remove)."""

    dry_run: bool
    orphan_embeddings: list[int] = field(default_factory=list)
    probe_sets: list[str] = field(default_factory=list)
    cached_outputs: int = 0
    files: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON form: ``{"dry_run", "orphan_embeddings", "probe_sets", "cached_outputs", "files"}``."""
        return asdict(self)

    @property
    def empty(self) -> bool:
        """True when there was nothing to prune."""
        return not (self.orphan_embeddings or self.probe_sets or self.cached_outputs or self.files)


def prune(reg: Registry, dry_run: bool = False, keep_probe_sets: Sequence[str] = ()) -> PruneReport:
    """Remove unreferenced rows and files (see the module docstring).

    Args:
        reg: The registry.
        dry_run: List what would go without changing anything.
        keep_probe_sets: Names of unused probe sets to keep anyway (e.g. ``default``, which
            ``fute spaces create --probe default`` expects; ``fute ingest starter`` rebuilds it).

    Returns:
        The report.
    """
    report = PruneReport(dry_run=dry_run)
    with reg.db.read() as session:
        _find_rows(session, report, keep_probe_sets)
    if not dry_run and not report.empty:
        with reg.db.transaction() as session:
            _delete_rows(session, report, keep_probe_sets)
    _prune_files(reg, report, dry_run)
    return report


def _unused_probe_sets(session: Session, keep: Sequence[str]) -> list[ProbeSet]:
    used = select(EmbeddingSpace.probe_set_id).where(EmbeddingSpace.probe_set_id.is_not(None))
    stmt = select(ProbeSet).where(ProbeSet.id.not_in(used), ProbeSet.name.not_in(list(keep)))
    return list(session.scalars(stmt.order_by(ProbeSet.id)))


def _dead_outputs(probe_set_ids: list[int]) -> Any:
    """A WHERE clause selecting cached outputs that nothing can use any more."""
    dead_texts = select(ProbeText.id).where(ProbeText.probe_set_id.in_(probe_set_ids))
    return (
        BlackBoxOutput.probe_text_id.in_(dead_texts)
        | BlackBoxOutput.blackbox_id.not_in(select(Subject.id))
        | BlackBoxOutput.probe_text_id.not_in(select(ProbeText.id))
    )


def _find_rows(session: Session, report: PruneReport, keep: Sequence[str]) -> None:
    report.orphan_embeddings = list(
        session.scalars(
            select(Embedding.id).where(Embedding.subject_id.not_in(select(Subject.id))).order_by(Embedding.id)
        )
    )
    unused = _unused_probe_sets(session, keep)
    report.probe_sets = [p.name for p in unused]
    where = _dead_outputs([p.id for p in unused])
    report.cached_outputs = int(
        session.scalar(select(func.count()).select_from(BlackBoxOutput).where(where)) or 0
    )


def _delete_rows(session: Session, report: PruneReport, keep: Sequence[str]) -> None:
    """Delete inside the caller's transaction, re-selecting so that a concurrent change is respected."""
    unused = _unused_probe_sets(session, keep)
    ids = [p.id for p in unused]
    session.execute(delete(BlackBoxOutput).where(_dead_outputs(ids)))
    session.execute(delete(ProbeText).where(ProbeText.probe_set_id.in_(ids)))
    session.execute(delete(ProbeSet).where(ProbeSet.id.in_(ids)))
    if report.orphan_embeddings:
        spaces = session.scalars(
            select(EmbeddingSpace).where(
                EmbeddingSpace.id.in_(
                    select(Embedding.space_id).where(Embedding.id.in_(report.orphan_embeddings))
                )
            )
        ).all()
        session.execute(delete(Embedding).where(Embedding.id.in_(report.orphan_embeddings)))
        for space in spaces:  # the published index still holds those ids: make it out of date
            space.generation += 1
    report.probe_sets = [p.name for p in unused]


def _prune_files(reg: Registry, report: PruneReport, dry_run: bool) -> None:
    index_dir = reg.settings.index_dir
    if not index_dir.exists():
        return
    spaces = {s.id: s for s, _ in reg.spaces()}
    for space in spaces.values():
        folder = reg.indexes.folder(space.id)
        if not folder.exists():
            continue
        if dry_run:
            report.files.extend(str(p) for p in _stale_files(folder))
            continue
        with reg.indexes.writer(space.id):
            report.files.extend(str(folder / n) for n in _remove_stale(folder))
        if report.orphan_embeddings:
            reg.rebuild(space.name)
    known = {f"space-{sid}" for sid in spaces}
    for path in sorted(index_dir.iterdir()):
        if path.name in known or _space_exists(reg, path.name):
            continue
        report.files.append(str(path))
        if not dry_run:
            shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)


def _stale_files(folder: Path) -> list[Path]:
    """Files of a space folder other than the manifest, the lock, the index it names and the
    filter columns of its generation."""
    try:
        manifest = snap.read_manifest(folder)
    except IndexCorruptError:
        return []  # an unreadable manifest is rebuild's job, not prune's: keep everything
    keep = {snap.MANIFEST, snap.LOCK}
    if manifest is not None:
        keep |= {manifest.file, snap.filters_file_name(manifest.generation)}
    return [p for p in sorted(folder.iterdir()) if p.name not in keep]


def _remove_stale(folder: Path) -> list[str]:
    """Delete the stale files of a space folder (caller holds the writer lock)."""
    removed = []
    for path in _stale_files(folder):
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
        removed.append(path.name)
    return removed


def _space_exists(reg: Registry, folder_name: str) -> bool:
    """Re-check SQL right before deleting: a space created since the listing owns its folder."""
    if not folder_name.startswith("space-") or not folder_name[6:].isdigit():
        return False
    with reg.db.read() as session:
        return session.get(EmbeddingSpace, int(folder_name[6:])) is not None
