"""Job rows: kind, status, progress and the last error (data access; never commits)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from registry.models import Job, utcnow

JOB_STATUSES = ("pending", "running", "done", "failed", "cancelled")


def start_job(session: Session, kind: str, n_total: int, params: dict[str, Any] | None = None) -> Job:
    """Insert a running job."""
    now = utcnow()
    job = Job(
        kind=kind, status="running", n_total=n_total, params=params or {}, started_at=now, updated_at=now
    )
    session.add(job)
    session.flush()
    return job


def progress(session: Session, job_id: int, n_done: int, n_failed: int = 0, error: str | None = None) -> None:
    """Record progress of a running job (and the latest entry error, if any)."""
    job = session.get_one(Job, job_id)
    job.n_done, job.n_failed, job.updated_at = n_done, n_failed, utcnow()
    if error is not None:
        job.error = error
    session.flush()


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
