"""Job runs for the floors above ``registry/``: one transaction per call, typed answers.

``ingest.jobs.run_job`` (the one job frame) opens, records and closes its job through these
functions; the Ray driver and workers share entries through the lease functions. No session or
ORM row leaves this module.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from registry import leases
from registry.jobs import (
    EntryRecord,
    add_entry,
    cancel_interrupted,
    entries_of,
    finish_job,
    progress,
    set_total,
    start_job,
)

if TYPE_CHECKING:
    from registry.api import Registry


@dataclass(frozen=True)
class ClaimedEntry:
    """An entry a worker holds under a lease.

    Attributes:
        id: Row id (what renew, settle and store name).
        key: ``embed/SPACE/KIND/NAME``.
    """

    id: int
    key: str


def open_job(
    reg: Registry, kind: str, params: dict[str, Any], match: Mapping[str, Any] | None = None, n_total: int = 0
) -> int:
    """Insert a running job and cancel the interrupted runs of the same work, in one transaction.

    Args:
        reg: The registry.
        kind: Job kind (``catalogue``, ``reembed``, ``embed``).
        params: Params stored on the row.
        match: Params that identify the same work; None: all of ``params``.
        n_total: Entries known at the start.

    Returns:
        The new job's id.
    """
    with reg.db.transaction() as session:
        job_id = start_job(session, kind, n_total, params).id
        cancel_interrupted(session, kind, params if match is None else match, job_id)
    return job_id


def record_entry(
    reg: Registry, job_id: int, entry: EntryRecord, n_total: int, n_done: int, n_failed: int
) -> None:
    """Store a settled entry with the job's progress in one transaction (a killed job keeps it).

    Args:
        reg: The registry.
        job_id: The job.
        entry: The entry's outcome.
        n_total: Entries of the job known so far.
        n_done: Entries settled so far, this one included.
        n_failed: Failed entries so far.
    """
    with reg.db.transaction() as session:
        add_entry(session, job_id, entry)
        set_total(session, job_id, n_total)
        progress(session, job_id, n_done, n_failed, entry.error if entry.status == "failed" else None)


def close_job(
    reg: Registry, job_id: int, status: str, error: str | None, counts: tuple[int, int] | None = None
) -> None:
    """Close a job, with its final (done, failed) counts when given.

    Raises:
        ValueError: Unknown status.
    """
    with reg.db.transaction() as session:
        if counts is not None:
            progress(session, job_id, counts[0], counts[1])
        finish_job(session, job_id, status, error)


def job_entries(reg: Registry, job_id: int) -> list[EntryRecord]:
    """Every entry of a job, in insertion order."""
    with reg.db.read() as session:
        return entries_of(session, job_id)


def add_pending_entries(reg: Registry, job_id: int, keys: Sequence[str], n_total: int) -> int:
    """Insert a pending (leasable) entry per new key and set the job's total; returns how many."""
    with reg.db.transaction() as session:
        added = leases.add_pending(session, job_id, keys)
        set_total(session, job_id, n_total)
    return added


def lease_counts(reg: Registry, job_id: int, max_attempts: int) -> tuple[int, int, datetime | None]:
    """Fail the entries out of attempts, then count them: (claimable, running, earliest expiry)."""
    with reg.db.transaction() as session:
        leases.fail_exhausted(session, job_id, max_attempts)
        return leases.open_counts(session, job_id, max_attempts)


def claim_entry(
    reg: Registry, job_id: int, worker: str, lease_s: float, max_attempts: int
) -> ClaimedEntry | None:
    """Take the job's next claimable entry for ``lease_s`` seconds (committed at once)."""
    with reg.db.transaction() as session:
        entry = leases.claim_next(session, job_id, worker, lease_s, max_attempts)
        return None if entry is None else ClaimedEntry(entry.id, entry.key)


def renew_lease(reg: Registry, entry_id: int, worker: str, lease_s: float) -> bool:
    """Extend a held lease; False when the entry is no longer this worker's."""
    with reg.db.transaction() as session:
        return leases.renew(session, entry_id, worker, lease_s)


def settle_entry(
    reg: Registry,
    entry_id: int,
    worker: str,
    status: str,
    error: str | None,
    seconds: float,
    max_attempts: int,
) -> None:
    """Record a held entry's failure (back to pending while attempts remain) or skip.

    Raises:
        LeaseLostError: Another worker holds the entry now.
    """
    with reg.db.transaction() as session:
        leases.settle(leases.held_entry(session, entry_id, worker), status, error, seconds, max_attempts)


def store_entry_vector(
    reg: Registry,
    entry: ClaimedEntry,
    worker: str,
    space: str,
    subject_id: int,
    vector: npt.NDArray[np.float32],
    provenance: dict[str, Any],
) -> int | None:
    """Store a worker's vector in SQL (fenced by its lease) and mark the entry done.

    Returns:
        The new embedding id, or None when the subject already had a vector in the space.

    Raises:
        LeaseLostError: The entry is no longer this worker's (nothing is stored).
    """
    seconds = provenance.get("seconds")
    with reg.db.transaction() as session:
        return leases.store_held(session, entry.id, worker, space, subject_id, vector, provenance, seconds)
