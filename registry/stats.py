"""Catalogue statistics: counts per kind and space, sizes on disk, the last job."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry.models import SUBJECT_KINDS, BlackBoxOutput, Embedding, Job, ProbeSet, Subject, TransferResult
from registry.spaces import list_spaces


def folder_size(path: Path) -> int:
    """Total bytes of the files under ``path`` (0 when it does not exist)."""
    if not path.exists():
        return 0
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def stats(session: Session, index_dir: Path, sqlite_file: Path | None) -> dict[str, Any]:
    """Counts and sizes of the registry.

    Args:
        session: A read session.
        index_dir: ``<home>/indexes``.
        sqlite_file: The SQLite database file, or None for a server database.

    Returns:
        ``{"subjects": {kind: n}, "spaces": [{..., "by_kind": {kind: n}, "index_type"}],
        "probe_sets", "transfer_results", "cached_outputs", "index_types",
        "disk_bytes": {"database", "indexes", "models"}, "last_job"}``.
    """
    per_kind = {
        kind: n for kind, n in session.execute(select(Subject.kind, func.count()).group_by(Subject.kind))
    }
    by_space_kind = _counts_per_space_and_kind(session)
    spaces = [
        {
            "name": space.name,
            "method": space.method,
            "n_embeddings": n,
            "by_kind": {kind: by_space_kind.get((space.id, kind), 0) for kind in SUBJECT_KINDS},
            "dim": space.dim,
            "metric": space.metric,
            "index_type": space.index_type,
            "generation": space.generation,
            "index_bytes": folder_size(index_dir / f"space-{space.id}"),
        }
        for space, n in list_spaces(session)
    ]
    job = session.scalar(select(Job).order_by(Job.id.desc()).limit(1))
    db_bytes = 0
    if sqlite_file is not None:
        db_bytes = sum(p.stat().st_size for p in (sqlite_file, Path(f"{sqlite_file}-wal")) if p.exists())
    return {
        "subjects": {kind: int(per_kind.get(kind, 0)) for kind in SUBJECT_KINDS},
        "spaces": spaces,
        "probe_sets": int(session.scalar(select(func.count()).select_from(ProbeSet)) or 0),
        "transfer_results": int(session.scalar(select(func.count()).select_from(TransferResult)) or 0),
        "cached_outputs": int(session.scalar(select(func.count()).select_from(BlackBoxOutput)) or 0),
        "index_types": sorted({s["index_type"] for s in spaces}),
        "disk_bytes": {
            "database": db_bytes,
            "indexes": folder_size(index_dir),
            "models": folder_size(index_dir.parent / "models"),
        },
        "last_job": None
        if job is None
        else {
            "id": job.id,
            "kind": job.kind,
            "status": job.status,
            "n_done": job.n_done,
            "n_total": job.n_total,
            "n_failed": job.n_failed,
            "created_at": job.created_at,
            "finished_at": job.finished_at,
            "error": job.error,
        },
    }


def _counts_per_space_and_kind(session: Session) -> dict[tuple[int, str], int]:
    """Number of embeddings per (space id, subject kind)."""
    rows = session.execute(
        select(Embedding.space_id, Subject.kind, func.count())
        .join(Subject, Subject.id == Embedding.subject_id)
        .group_by(Embedding.space_id, Subject.kind)
    )
    return {(int(space_id), str(kind)): int(n) for space_id, kind, n in rows}
