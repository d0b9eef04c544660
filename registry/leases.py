"""Leased job entries: many workers share one job through the ``job_entries`` table.

A worker claims one claimable entry (pending, or running with an expired lease) and holds it until
``lease_until``, renewing it while it works. On PostgreSQL the claim is ``SELECT ... FOR UPDATE SKIP
LOCKED``, so concurrent workers never wait on or take the same row; on SQLite the write transaction
is ``BEGIN IMMEDIATE`` (one writer at a time), which serialises claims on one machine. A worker
whose lease was taken over is fenced off: completing requires the entry to still be ``running``
under its name (the caller checks that in the same transaction that stores its result).

Data access only; the caller frames (and commits) the transactions.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from registry.embeddings import put_embeddings
from registry.errors import RegistryError
from registry.models import Embedding, JobEntry, utcnow
from registry.spaces import get_space
from registry.vectors import prepare


class LeaseLostError(RegistryError):
    """The entry is no longer held by this worker (its lease expired and another took it)."""


def add_pending(session: Session, job_id: int, keys: Sequence[str]) -> int:
    """Insert a pending entry per key not yet in the job; returns how many were added."""
    existing = set(session.scalars(select(JobEntry.key).where(JobEntry.job_id == job_id)))
    new = [k for k in dict.fromkeys(keys) if k not in existing]
    session.add_all(JobEntry(job_id=job_id, key=k, status="pending", attempts=0) for k in new)
    session.flush()
    return len(new)


def _claimable(job_id: int, now: datetime, max_attempts: int) -> list[object]:
    """WHERE clause of the entries a worker may take now."""
    expired = and_(JobEntry.status == "running", JobEntry.lease_until < now)
    return [
        JobEntry.job_id == job_id,
        or_(JobEntry.status == "pending", expired),
        JobEntry.attempts < max_attempts,
    ]


def claim_next(
    session: Session, job_id: int, worker: str, lease_s: float, max_attempts: int
) -> JobEntry | None:
    """Take the first claimable entry of a job for ``lease_s`` seconds.

    Args:
        session: Open write transaction (commit it right away so the claim is visible).
        job_id: The job.
        worker: Worker identity stored in ``claimed_by`` (``host:pid``).
        lease_s: Lease length; another worker may take the entry once it has expired.
        max_attempts: Entries already tried this many times are not claimed again.

    Returns:
        The claimed entry (status ``running``, attempts incremented), or None.
    """
    now = utcnow()
    stmt = (
        select(JobEntry)
        .where(*_claimable(job_id, now, max_attempts))  # type: ignore[arg-type]
        .order_by(JobEntry.id)
        .limit(1)
        .with_for_update(skip_locked=True)  # ignored on SQLite, where BEGIN IMMEDIATE serialises
    )
    entry = session.scalars(stmt).first()
    if entry is None:
        return None
    entry.status, entry.claimed_by = "running", worker
    entry.lease_until = now + timedelta(seconds=lease_s)
    entry.attempts += 1
    entry.updated_at = now
    session.flush()
    return entry


def held_entry(session: Session, entry_id: int, worker: str) -> JobEntry:
    """Lock an entry this worker holds (fencing before its result is stored).

    Raises:
        LeaseLostError: The entry is not running under ``worker`` any more.
    """
    entry = session.scalars(select(JobEntry).where(JobEntry.id == entry_id).with_for_update()).one()
    if entry.status != "running" or entry.claimed_by != worker:
        raise LeaseLostError(
            f"job entry {entry.key!r} is held by {entry.claimed_by!r} ({entry.status}), not {worker!r}; "
            "its lease expired: raise the lease timeout (--lease-s) for long entries"
        )
    return entry


def renew(session: Session, entry_id: int, worker: str, lease_s: float) -> bool:
    """Extend a held lease; False when the entry is no longer this worker's."""
    entry = session.get(JobEntry, entry_id)
    if entry is None or entry.status != "running" or entry.claimed_by != worker:
        return False
    entry.lease_until = utcnow() + timedelta(seconds=lease_s)
    session.flush()
    return True


def settle(entry: JobEntry, status: str, error: str | None, seconds: float | None, max_attempts: int) -> None:
    """Record the outcome of a held entry; a failure with attempts left goes back to pending."""
    retry = status == "failed" and entry.attempts < max_attempts
    entry.status = "pending" if retry else status
    entry.error, entry.seconds, entry.updated_at = error, seconds, utcnow()
    entry.lease_until = None  # claimed_by stays: which worker settled the entry


def fail_exhausted(session: Session, job_id: int, max_attempts: int) -> int:
    """Mark failed the entries whose workers died ``max_attempts`` times; returns how many."""
    now = utcnow()
    rows = session.scalars(
        select(JobEntry).where(
            JobEntry.job_id == job_id,
            JobEntry.status == "running",
            JobEntry.lease_until < now,
            JobEntry.attempts >= max_attempts,
        )
    ).all()
    for entry in rows:
        entry.status, entry.updated_at = "failed", now
        entry.error = f"worker {entry.claimed_by} stopped {entry.attempts} times (lease expired); see its log"
    session.flush()
    return len(rows)


def open_counts(session: Session, job_id: int, max_attempts: int) -> tuple[int, int, datetime | None]:
    """(claimable now, running under a live lease, earliest lease expiry) of a job."""
    now = utcnow()
    claimable = session.scalar(
        select(func.count()).select_from(JobEntry).where(*_claimable(job_id, now, max_attempts))  # type: ignore[arg-type]
    )
    live = and_(JobEntry.job_id == job_id, JobEntry.status == "running", JobEntry.lease_until >= now)
    running = session.scalar(select(func.count()).select_from(JobEntry).where(live))
    earliest = session.scalar(select(func.min(JobEntry.lease_until)).where(live))
    return int(claimable or 0), int(running or 0), earliest


def store_held(
    session: Session,
    entry_id: int,
    worker: str,
    space_name: str,
    subject_id: int,
    vector: npt.NDArray[np.float32],
    provenance: dict[str, Any],
    seconds: float | None = None,
) -> int | None:
    """Store a worker's vector in SQL only and mark its entry done, in the caller's transaction.

    The entry row is locked and checked first (fencing), and a vector already stored for the
    subject is kept, so no entry is ever embedded twice even when a slow worker outlives its lease.
    The FAISS index is not touched: one process publishes it from SQL (the driver, or
    ``fute maintain rebuild``).

    Returns:
        The new embedding id, or None when the subject already had a vector in the space.

    Raises:
        LeaseLostError: The entry is no longer this worker's (nothing is stored).
    """
    entry = held_entry(session, entry_id, worker)
    space = get_space(session, space_name)
    existing = session.scalar(
        select(Embedding.id).where(Embedding.space_id == space.id, Embedding.subject_id == subject_id)
    )
    if existing is not None:
        entry.status, entry.error = "skipped", "already embedded"
        entry.lease_until, entry.updated_at = None, utcnow()
        return None
    prepared = prepare(vector[None, :], space.dim, space.metric)
    result = put_embeddings(session, space, [(subject_id, prepared[0], provenance)])
    entry.status, entry.error, entry.lease_until, entry.updated_at = "done", None, None, utcnow()
    entry.seconds = seconds
    return result.added_ids[0]
