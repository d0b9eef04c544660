"""Catalogue statistics: counts per kind and space, sizes on disk, the last job."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry.models import SUBJECT_KINDS, Job, ProbeSet, Subject, TransferResult
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
        ``{"subjects": {kind: n}, "spaces": [...], "probe_sets", "transfer_results",
        "disk_bytes": {"database", "indexes"}, "last_job"}``.
    """
    per_kind = {
        kind: n for kind, n in session.execute(select(Subject.kind, func.count()).group_by(Subject.kind))
    }
    spaces = [
        {
            "name": space.name,
            "method": space.method,
            "n_embeddings": n,
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
        "disk_bytes": {"database": db_bytes, "indexes": folder_size(index_dir)},
        "last_job": None
        if job is None
        else {
            "id": job.id,
            "kind": job.kind,
            "status": job.status,
            "n_done": job.n_done,
            "n_total": job.n_total,
        },
    }
