"""The body of one distributed embedding task: claim an entry, compute its vector, store it.

Plain Python (no Ray import) so that it runs and is tested the same inside a Ray task or in a
process of its own. A worker holds its entry under a lease that a heartbeat thread renews; if the
worker dies, the lease runs out and another worker reclaims the entry. Vectors go to SQL only,
fenced by the lease (``registry.leases.store_held``); the index is published by the driver.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

from ingest.engine import Engine
from ingest.jobs import outcome, skip_reason
from registry.api import Registry
from registry.job_runs import ClaimedEntry, claim_entry, renew_lease, settle_entry, store_entry_vector
from registry.leases import LeaseLostError
from registry.settings import Settings


@dataclass(frozen=True)
class WorkerOptions:
    """How workers hold and retry entries.

    Attributes:
        lease_s: Lease length; a dead worker's entry is reclaimed this long after its last renewal.
        max_attempts: Tries per entry (a failure or a worker death each count one).
        threads: torch threads per worker (match the CPUs each Ray task reserves).
    """

    lease_s: float = 60.0
    max_attempts: int = 3
    threads: int = 1


def worker_name() -> str:
    """``host:pid`` of this process, stored in ``claimed_by`` (the pid a test may kill)."""
    return f"{socket.gethostname()}:{os.getpid()}"


@lru_cache(maxsize=4)
def _context(settings_json: str, threads: int) -> tuple[Registry, Engine]:
    """One registry and engine per worker process and settings: Ray reuses worker processes, so
    the surrogate is loaded once per process, not once per entry."""
    settings = Settings.model_validate_json(settings_json)
    reg = Registry.open(settings)
    return reg, Engine(reg, threads=threads)


def parse_key(key: str) -> tuple[str, str, str]:
    """``embed/<space>/<kind>/<name>`` → (space, kind, name); names may contain slashes."""
    _, space, kind, name = key.split("/", 3)
    return space, kind, name


def work_one(settings_json: str, job_id: int, opts: WorkerOptions) -> dict[str, Any] | None:
    """Claim and process one entry of a job.

    Args:
        settings_json: ``Settings.model_dump_json()`` of the driver (same database, same home).
        job_id: The job whose entries to claim.
        opts: Lease and retry options.

    Returns:
        ``{"key", "status", "error", "seconds", "worker"}``, or None when nothing was claimable.
    """
    reg, engine = _context(settings_json, opts.threads)
    me = worker_name()
    entry = claim_entry(reg, job_id, me, opts.lease_s, opts.max_attempts)
    if entry is None:
        return None
    start = time.perf_counter()
    with _Heartbeat(reg, entry.id, me, opts.lease_s):
        status, error = _process(reg, engine, entry, me)
        seconds = round(time.perf_counter() - start, 3)
        if status in ("failed", "skipped"):
            _settle(reg, entry.id, me, status, error, seconds, opts.max_attempts)
    return {"key": entry.key, "status": status, "error": error, "seconds": seconds, "worker": me}


def _process(reg: Registry, engine: Engine, entry: ClaimedEntry, me: str) -> tuple[str, str | None]:
    """Embed the entry's subject and store it; returns (status, error or skip reason).

    The skip rule and the error rule are the single-process job's (``ingest.jobs``); ``lost``
    means another worker owns the entry now, so this one records nothing.
    """
    space, kind, name = parse_key(entry.key)
    lost: list[str] = []

    def action() -> str | None:
        skip = skip_reason(reg, space, kind, name)
        if skip:
            return skip
        vec = engine.compute(space, name, kind)
        try:
            stored = store_entry_vector(reg, entry, me, space, vec.subject_id, vec.vector, vec.provenance)
        except LeaseLostError as exc:  # not a failure of the entry: its new holder settles it
            lost.append(str(exc))
            return "lost"
        return None if stored is not None else "already embedded"

    status, error = outcome(entry.key, action)
    return ("lost", lost[0]) if lost else (status, error)


def _settle(
    reg: Registry, entry_id: int, me: str, status: str, error: str | None, seconds: float, max_attempts: int
) -> None:
    """Record a failure (back to pending while attempts remain) or a skip, if still ours."""
    with contextlib.suppress(LeaseLostError):  # another worker owns it now; its outcome wins
        settle_entry(reg, entry_id, me, status, error, seconds, max_attempts)


class _Heartbeat:
    """Renews a lease every third of its length while the entry is being worked on."""

    def __init__(self, reg: Registry, entry_id: int, worker: str, lease_s: float) -> None:
        self.args = (reg, entry_id, worker, lease_s)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> _Heartbeat:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()

    def _run(self) -> None:
        reg, entry_id, worker, lease_s = self.args
        while not self.stop.wait(lease_s / 3):
            if not renew_lease(reg, entry_id, worker, lease_s):
                return


def options_dict(opts: WorkerOptions) -> dict[str, Any]:
    """JSON form of the options (job params)."""
    return asdict(opts)
