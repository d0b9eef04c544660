"""Catalogue jobs on Ray: one Ray task per subject and space, entries leased from SQL.

The driver runs the set-up steps itself (registration is cheap and must precede embedding),
inserts one pending ``job_entries`` row per (space, subject), then keeps one Ray task in flight
per claimable entry. Each task claims an entry (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), embeds
it and commits the vector to SQL. A task whose worker died leaves its entry ``running`` until the
lease expires; the driver then submits a new task, which reclaims it. The driver is the one process
that publishes the FAISS indexes, periodically and at the end.

SQLite works with a local Ray instance only (one machine, serialised writes); a cluster needs
PostgreSQL, so ``--ray ADDRESS`` with SQLite is refused.
"""

from __future__ import annotations

import importlib
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ingest.engine import Engine
from ingest.job_file import Catalogue
from ingest.jobs import ENTRY_ERRORS, JobOptions, JobReport, embedding_steps, run_job
from ingest.ray_probes import ProbeOptions, prefill
from ingest.ray_worker import WorkerOptions, options_dict, work_one
from ingest.register_entries import setup_steps
from registry.api import Registry
from registry.errors import ConfigError, RegistryError
from registry.job_runs import add_pending_entries, job_entries, lease_counts


class ExtraMissingError(RegistryError):
    """An optional dependency (an extra of the package) is not installed."""


@dataclass(frozen=True)
class RayOptions:
    """Where and how to run the distributed job.

    Attributes:
        address: Ray cluster address (``auto``, ``ray://host:10001``); None starts a local instance.
        num_cpus: CPUs reserved by each embedding task.
        num_gpus: GPUs reserved by each embedding task.
        publish_every_s: How often the driver publishes the indexes while the job runs.
        worker: Lease and retry options of the workers.
        probes: When black-box inference over probe texts goes through Ray Data.
    """

    address: str | None = None
    num_cpus: float = 1.0
    num_gpus: float = 0.0
    publish_every_s: float = 60.0
    worker: WorkerOptions = field(default_factory=WorkerOptions)
    probes: ProbeOptions = field(default_factory=ProbeOptions)


def import_ray() -> Any:
    """The ``ray`` module.

    Raises:
        ExtraMissingError: Ray is not installed; names the extra to install.
    """
    try:
        return importlib.import_module("ray")
    except ImportError as exc:
        raise ExtraMissingError(
            "--ray needs Ray, which is not installed; install the extra: pip install 'fute-registry[ray]'"
        ) from exc


def run_catalogue_ray(
    reg: Registry, engine: Engine, cat: Catalogue, opts: RayOptions, show: bool
) -> JobReport:
    """Run a catalogue file with its embedding entries spread over Ray workers.

    Raises:
        ExtraMissingError: Ray is not installed.
        ConfigError: A Ray cluster address with an SQLite database.
    """
    if opts.address and reg.db.backend == "sqlite":
        raise ConfigError(
            "a Ray cluster needs a shared PostgreSQL database; pass --db postgresql+psycopg://... "
            "(SQLite is supported with a local Ray instance only: --ray without an address)"
        )
    ray = import_ray()
    steps = setup_steps(reg, engine, cat)
    params = {"file": str(cat.path), "ray": opts.address or "local", **options_dict(opts.worker)}

    def distribute(report: JobReport) -> None:
        """Lease one entry per (space, subject) to the Ray workers; fold their outcomes in."""
        keys = [key for key, _ in embedding_steps(reg, engine, cat)]
        add_pending_entries(reg, report.job_id, keys, len(steps) + len(keys))
        if not ray.is_initialized():
            ray.init(address=opts.address, include_dashboard=False, log_to_driver=show)
        _prefill(ray, reg, cat, opts.probes)
        _drive(ray, reg, report.job_id, opts, show)
        reg.recover()  # the one publisher: bring every snapshot current with SQL
        _fold(reg, report)

    frame = JobOptions(show, resume_on=("file",), after=distribute)
    return run_job(reg, "catalogue", params, steps, frame)


def _prefill(ray: Any, reg: Registry, cat: Catalogue, opts: ProbeOptions) -> None:
    """Black-box outputs of the catalogue's models and prompts with Ray Data (many probe texts).

    A failure here is not the job's: the embedding task of that subject queries the black box
    itself and records the error on its own entry.
    """
    subjects = [("model", e["name"]) for e in cat.entries("models")]
    subjects += [("prompt", e["name"]) for e in cat.entries("prompts")]
    if not subjects:
        return
    spaces = [e["name"] for e in cat.entries("spaces")]
    try:
        prefill(ray, reg, spaces, subjects, opts)
    except (*ENTRY_ERRORS, ray.exceptions.RayError) as exc:
        print(f"probe inference with Ray Data failed ({exc}); embedding tasks will query", file=sys.stderr)


def _drive(ray: Any, reg: Registry, job_id: int, opts: RayOptions, show: bool) -> None:
    """Keep one task per claimable entry in flight until every entry is settled."""
    task = ray.remote(work_one).options(num_cpus=opts.num_cpus, num_gpus=opts.num_gpus, max_retries=0)
    settings_json = reg.settings.model_dump_json()
    in_flight: list[Any] = []
    last_publish = time.monotonic()
    while True:
        claimable, running, earliest = lease_counts(reg, job_id, opts.worker.max_attempts)
        if not (claimable or running or in_flight):
            return
        for _ in range(max(0, claimable - len(in_flight))):
            in_flight.append(task.remote(settings_json, job_id, opts.worker))
        if in_flight:
            ready, in_flight = ray.wait(in_flight, num_returns=1, timeout=1.0)
            for ref in ready:
                _collect(ray, ref, show)
        else:  # only dead workers' leases left: wait for the earliest to expire
            wait = (_aware(earliest) - datetime.now(UTC)).total_seconds() if earliest else 1.0
            time.sleep(min(max(wait, 0.1), 5.0))
        if time.monotonic() - last_publish > opts.publish_every_s:
            reg.recover()
            last_publish = time.monotonic()


def _aware(moment: datetime) -> datetime:
    """SQLite returns naive datetimes (stored as UTC); PostgreSQL returns aware ones."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _collect(ray: Any, ref: Any, show: bool) -> None:
    """Fetch one task's outcome; a crashed worker is logged (its lease brings the entry back)."""
    try:
        out = ray.get(ref)
    except ray.exceptions.RayError as exc:
        print(
            f"a worker stopped ({type(exc).__name__}); its entry is reclaimed after the lease",
            file=sys.stderr,
        )
        return
    if show and out is not None:
        note = f" ({out['error']})" if out["error"] else ""
        print(
            f"{out['key']}: {out['status']}{note} {out['seconds']:.1f}s on {out['worker']}", file=sys.stderr
        )


def _fold(reg: Registry, report: JobReport) -> None:
    """Add the settled embedding entries (written by the workers) to the driver's report."""
    done_keys = {e["key"] for e in report.entries}
    report.entries += [e.to_dict() for e in job_entries(reg, report.job_id) if e.key not in done_keys]
