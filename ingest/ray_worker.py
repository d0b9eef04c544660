"""The body of one distributed embedding task: claim an entry, compute its vector, store it.

Plain Python (no Ray import) so that it runs and is tested the same inside a Ray task or in a
process of its own. A worker holds its entry under a lease that a heartbeat thread renews; if the
worker dies, the lease runs out and another worker reclaims the entry. Vectors go to SQL only,
fenced by the lease (``registry.leases.store_held``); the index is published by the driver.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import select

from ingest.engine import Engine
from ingest.jobs import ENTRY_ERRORS
from registry.api import Registry
from registry.leases import LeaseLostError, claim_next, held_entry, renew, settle, store_held
from registry.models import Embedding, EmbeddingSpace, Subject
from registry.settings import Settings
from registry.spaces import get_space


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
    with reg.db.transaction() as session:
        entry = claim_next(session, job_id, me, opts.lease_s, opts.max_attempts)
        if entry is None:
            return None
        entry_id, key = entry.id, entry.key
    start = time.perf_counter()
    with _Heartbeat(reg, entry_id, me, opts.lease_s):
        status, error = _process(reg, engine, entry_id, key, me)
        seconds = round(time.perf_counter() - start, 3)
        if status in ("failed", "skipped"):
            _settle(reg, entry_id, me, status, error, seconds, opts.max_attempts)
    return {"key": key, "status": status, "error": error, "seconds": seconds, "worker": me}


def _process(reg: Registry, engine: Engine, entry_id: int, key: str, me: str) -> tuple[str, str | None]:
    """Embed the entry's subject and store it; returns (status, error or skip reason)."""
    space, kind, name = parse_key(key)
    try:
        skip = _skip_reason(reg, space, kind, name)
        if skip:
            return "skipped", skip
        vec = engine.compute(space, name, kind)
        with reg.db.transaction() as session:
            seconds = vec.provenance.get("seconds")
            stored = store_held(
                session, entry_id, me, space, vec.subject_id, vec.vector, vec.provenance, seconds
            )
        return ("done", None) if stored is not None else ("skipped", "already embedded")
    except LeaseLostError as exc:
        return "lost", str(exc)
    except ENTRY_ERRORS as exc:
        return "failed", f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


def _skip_reason(reg: Registry, space_name: str, kind: str, name: str) -> str | None:
    """Why an entry needs no work (same rules as the single-process job)."""
    with reg.db.read() as session:
        sp: EmbeddingSpace = get_space(session, space_name)
        subject_id = session.scalar(select(Subject.id).where(Subject.kind == kind, Subject.name == name))
        done = session.scalar(
            select(Embedding.id).where(Embedding.space_id == sp.id, Embedding.subject_id == subject_id)
        )
    if done is not None:
        return "already embedded"
    if subject_id is None:
        return None  # let compute raise the clear "not found" error
    if kind != "dataset" and (sp.method == "textemb" or sp.probe_set_id is None):
        return f"{sp.method} space without probe set embeds datasets only"
    return None


def _settle(
    reg: Registry, entry_id: int, me: str, status: str, error: str | None, seconds: float, max_attempts: int
) -> None:
    """Record a failure (back to pending while attempts remain) or a skip, if still ours."""
    try:
        with reg.db.transaction() as session:
            settle(held_entry(session, entry_id, me), status, error, seconds, max_attempts)
    except LeaseLostError:
        pass  # another worker owns it now; its outcome wins


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
            with reg.db.transaction() as session:
                if not renew(session, entry_id, worker, lease_s):
                    return


def options_dict(opts: WorkerOptions) -> dict[str, Any]:
    """JSON form of the options (job params)."""
    return asdict(opts)
