"""Read-only listings of jobs and their entries, for the HTTP routes and the jobs page.

The one place the jobs are paged: ``GET /jobs``, ``GET /jobs/{id}`` and ``/ui/jobs`` all read
through here. Every function opens and closes its own read session and returns frozen records
(never ORM rows), so callers hold no session and touch no SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from registry.jobs import EntryRecord, entries_of
from registry.models import Job

if TYPE_CHECKING:
    from registry.api import Registry

STAMPS = ("created_at", "started_at", "updated_at", "finished_at")


@dataclass(frozen=True)
class JobRecord:
    """The public fields of one job row.

    Attributes:
        id: Job id.
        kind: ``catalogue``, ``embed``, ``reembed``, ...
        status: ``pending``, ``running``, ``done``, ``failed`` or ``cancelled``.
        n_total: Entries planned.
        n_done: Entries done.
        n_failed: Entries failed.
        params: The job's parameters as stored.
        error: The last error, if any.
        created_at: When the row was made.
        started_at: When it started running.
        updated_at: Last progress.
        finished_at: When it ended.
    """

    id: int
    kind: str
    status: str
    n_total: int
    n_done: int
    n_failed: int
    params: dict[str, Any]
    error: str | None
    created_at: datetime | None
    started_at: datetime | None
    updated_at: datetime | None
    finished_at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        """The job as the HTTP API shows it: every field, timestamps in ISO 8601 (or None)."""
        out: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "status": self.status,
            "n_total": self.n_total,
            "n_done": self.n_done,
            "n_failed": self.n_failed,
            "params": self.params,
            "error": self.error,
        }
        for name in STAMPS:
            value: datetime | None = getattr(self, name)
            out[name] = value.isoformat() if value is not None else None
        return out


@dataclass(frozen=True)
class JobFilter:
    """Which jobs a listing keeps (all optional).

    Attributes:
        status: Only jobs with this status.
        kind: Only jobs of this kind.
    """

    status: str | None = None
    kind: str | None = None


@dataclass(frozen=True)
class EntriesWanted:
    """Which jobs of a page carry their entries, and how many each.

    Attributes:
        first: The newest ``first`` jobs of the page carry them.
        running: Running jobs carry them too, wherever they are on the page.
        limit: At most this many entries per job, in the order they ran (None: all).
    """

    first: int = 0
    running: bool = False
    limit: int | None = None

    def wants(self, position: int, job: JobRecord) -> bool:
        """Whether the job at ``position`` on the page carries its entries."""
        return position < self.first or (self.running and job.status == "running")


@dataclass(frozen=True)
class JobPage:
    """One page of jobs, newest first.

    Attributes:
        items: The jobs of the page.
        total: Jobs passing the filter, on every page.
        entries: Job id -> its entries, for the jobs that ``EntriesWanted`` picked.
    """

    items: tuple[JobRecord, ...]
    total: int
    entries: dict[int, tuple[EntryRecord, ...]]


def _record(job: Job) -> JobRecord:
    return JobRecord(
        id=job.id,
        kind=job.kind,
        status=job.status,
        n_total=job.n_total,
        n_done=job.n_done,
        n_failed=job.n_failed,
        params=job.params,
        error=job.error,
        created_at=job.created_at,
        started_at=job.started_at,
        updated_at=job.updated_at,
        finished_at=job.finished_at,
    )


def _filtered(stmt: Select[Any], flt: JobFilter) -> Select[Any]:
    if flt.status is not None:
        stmt = stmt.where(Job.status == flt.status)
    if flt.kind is not None:
        stmt = stmt.where(Job.kind == flt.kind)
    return stmt


def _entries(session: Session, job_id: int, limit: int | None) -> tuple[EntryRecord, ...]:
    return tuple(entries_of(session, job_id, limit))


def list_jobs(
    reg: Registry,
    limit: int,
    offset: int = 0,
    flt: JobFilter | None = None,
    entries: EntriesWanted | None = None,
) -> JobPage:
    """One page of jobs, newest first, with the entries of the jobs that ``entries`` picks.

    Args:
        reg: The registry.
        limit: Page size.
        offset: Jobs to skip.
        flt: Keep only matching jobs (default: every job).
        entries: Which jobs carry their entries (default: none).

    Returns:
        The page, the total count of matching jobs, and the picked jobs' entries; all read in
        one session, so the page and its entries agree.
    """
    flt = flt or JobFilter()
    wanted = entries or EntriesWanted()
    with reg.db.read() as session:
        total = int(session.scalar(_filtered(select(func.count()).select_from(Job), flt)) or 0)
        stmt = _filtered(select(Job), flt).order_by(Job.id.desc()).offset(offset).limit(limit)
        items = tuple(_record(j) for j in session.scalars(stmt))
        picked = {
            job.id: _entries(session, job.id, wanted.limit)
            for i, job in enumerate(items)
            if wanted.wants(i, job)
        }
    return JobPage(items=items, total=total, entries=picked)


def job_detail(reg: Registry, job_id: int) -> tuple[JobRecord, tuple[EntryRecord, ...]] | None:
    """One job with all its entries, in the order they ran.

    Args:
        reg: The registry.
        job_id: The job's id.

    Returns:
        (the job, its entries), or None when no job has that id.
    """
    with reg.db.read() as session:
        row = session.get(Job, job_id)
        if row is None:
            return None
        return _record(row), _entries(session, job_id, None)
