"""Job rows: kind, status, progress and the last error (data access; never commits).

The functions here take the caller's ``Session``; ``registry.job_runs`` wraps them in one
transaction each for the floors above, which hold no sessions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.models import Job, JobEntry, utcnow

JOB_STATUSES = ("pending", "running", "done", "failed", "cancelled")


@dataclass(frozen=True)
class EntryRecord:
    """One settled unit of a job, as a report lists it.

    Attributes:
        key: What the entry did (``dataset/NAME``, ``embed/SPACE/KIND/NAME``, ...).
        status: ``done``, ``skipped``, ``failed`` (or ``pending`` / ``running`` on a leased job).
        error: The failure or skip reason.
        seconds: How long the entry took.
    """

    key: str
    status: str
    error: str | None
    seconds: float | None

    def to_dict(self) -> dict[str, Any]:
        """JSON form (the ``entries`` of a job report)."""
        return {"key": self.key, "status": self.status, "error": self.error, "seconds": self.seconds}


def start_job(session: Session, kind: str, n_total: int, params: dict[str, Any] | None = None) -> Job:
    """Insert a running job."""
    now = utcnow()
    job = Job(
        kind=kind, status="running", n_total=n_total, params=params or {}, started_at=now, updated_at=now
    )
    session.add(job)
    session.flush()
    return job


def cancel_interrupted(session: Session, kind: str, match: Mapping[str, Any], new_id: int) -> int:
    """Mark cancelled the still-running jobs of ``kind`` whose params hold ``match``: their process
    was killed (a live one would have closed its row), and job ``new_id`` resumes their work.

    Args:
        session: Open write transaction.
        kind: Job kind.
        match: Params that identify the same work (e.g. ``{"file": path}`` of a catalogue).
        new_id: The resuming job (named in the cancelled rows' error).

    Returns:
        How many rows were cancelled.
    """
    rows = session.scalars(select(Job).where(Job.kind == kind, Job.status == "running", Job.id != new_id))
    n = 0
    for old in rows:
        params = old.params or {}
        if all(params.get(k) == v for k, v in match.items()):
            old.status, old.finished_at = "cancelled", utcnow()
            old.error = f"interrupted; resumed by job {new_id}"
            n += 1
    session.flush()
    return n


def progress(session: Session, job_id: int, n_done: int, n_failed: int = 0, error: str | None = None) -> None:
    """Record progress of a running job (and the latest entry error, if any)."""
    job = session.get_one(Job, job_id)
    job.n_done, job.n_failed, job.updated_at = n_done, n_failed, utcnow()
    if error is not None:
        job.error = error
    session.flush()


def add_entry(session: Session, job_id: int, entry: EntryRecord) -> None:
    """Insert a settled entry of a single-process job."""
    session.add(
        JobEntry(job_id=job_id, key=entry.key, status=entry.status, error=entry.error, seconds=entry.seconds)
    )
    session.flush()


def set_total(session: Session, job_id: int, n_total: int) -> None:
    """Set how many entries the job has (known phase by phase)."""
    session.get_one(Job, job_id).n_total = n_total
    session.flush()


def entries_of(session: Session, job_id: int, limit: int | None = None) -> list[EntryRecord]:
    """The entries of a job in insertion order (the first ``limit`` of them, or all)."""
    stmt = select(JobEntry).where(JobEntry.job_id == job_id).order_by(JobEntry.id).limit(limit)
    return [EntryRecord(r.key, r.status, r.error, r.seconds) for r in session.scalars(stmt)]


def finish_job(session: Session, job_id: int, status: str, error: str | None = None) -> None:
    """Mark a job done, failed or cancelled.

    Raises:
        ValueError: Unknown status.
    """
    if status not in JOB_STATUSES:
        raise ValueError(f"unknown job status {status!r}; choose one of {', '.join(JOB_STATUSES)}")
    job = session.get_one(Job, job_id)
    job.status, job.finished_at, job.updated_at = status, utcnow(), utcnow()
    if error is not None:
        job.error = error
    session.flush()
