"""Catalogue ingestion jobs: every entry is its own unit with a status in ``job_entries``.

A failing entry is recorded with its reason and the rest go on. A re-run skips what is already
registered or embedded (by name and space), so an interrupted job resumes where it stopped; the
interrupted job row is marked ``cancelled`` and points at the job that resumed it.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from ingest.catalogue import Catalogue
from ingest.engine import Engine
from ingest.setup import setup_steps
from registry.api import Registry
from registry.errors import RegistryError
from registry.jobs import finish_job, progress, start_job
from registry.models import Embedding, EmbeddingSpace, Job, JobEntry, Subject, utcnow

log = logging.getLogger(__name__)

# Errors that fail one entry, not the job: bad data, model loading, numerical trouble, I/O.
ENTRY_ERRORS = (RegistryError, ValueError, RuntimeError, OSError, KeyError, TypeError)


@dataclass
class JobReport:
    """Outcome of a job."""

    job_id: int
    status: str
    entries: list[dict[str, Any]] = field(default_factory=list)

    def count(self, status: str) -> int:
        """Number of entries with that status."""
        return sum(1 for e in self.entries if e["status"] == status)

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        counts = {s: self.count(s) for s in ("done", "skipped", "failed")}
        return {"job_id": self.job_id, "status": self.status, "counts": counts, "entries": self.entries}


Step = tuple[str, Callable[[], str | None]]  # (key, action returning a skip reason or None)


def run_catalogue(reg: Registry, engine: Engine, cat: Catalogue, show_progress: bool) -> JobReport:
    """Run a catalogue file: set-up entries first, then one embedding entry per subject and space."""
    # A job killed between an embedding's commit and its index publish left a snapshot behind SQL;
    # the re-run skips that entry and would never write the space again, so publish it first.
    reg.recover()
    steps = setup_steps(reg, engine, cat)
    with reg.db.transaction() as session:
        job = start_job(session, "catalogue", 0, {"file": str(cat.path)})
        _cancel_interrupted(session, str(cat.path), job.id)
    report = JobReport(job.id, "running")
    with ends_job(reg, job.id):
        _run_steps(reg, job.id, steps, report, show_progress, offset=0)
        embed_steps = embedding_steps(reg, engine, cat)
        _run_steps(reg, job.id, embed_steps, report, show_progress, offset=len(steps))
    report.status = "failed" if report.count("failed") else "done"
    with reg.db.transaction() as session:
        failed = [f"{e['key']}: {e['error']}" for e in report.entries if e["status"] == "failed"]
        finish_job(session, job.id, report.status, "; ".join(failed)[:4000] or None)
    return report


@contextmanager
def ends_job(reg: Registry, job_id: int) -> Iterator[None]:
    """Close the job row when anything escapes the block (a bug, Ctrl-C, a lost database), then
    re-raise: a job must never stay ``running`` because of an exception. A killed process cannot
    run this; its row is closed by the next run of the same catalogue (``_cancel_interrupted``).

    Raises:
        BaseException: Whatever the block raised, unchanged.
    """
    try:
        yield
    except BaseException as exc:
        status = "cancelled" if isinstance(exc, KeyboardInterrupt) else "failed"
        try:
            with reg.db.transaction() as session:
                finish_job(session, job_id, status, _reason(exc))
        except Exception:  # the database itself may be what failed; the original error matters more
            log.warning("could not close job %s after %s", job_id, type(exc).__name__)
        raise


def _reason(exc: BaseException) -> str:
    """``TypeName: first line of the message`` (what a failed entry or job records)."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}"[:4000]


def _cancel_interrupted(session: Any, path: str, new_id: int) -> None:
    for old in session.scalars(
        select(Job).where(Job.kind == "catalogue", Job.status == "running", Job.id != new_id)
    ):
        if old.params.get("file") == path:
            old.status, old.finished_at = "cancelled", utcnow()
            old.error = f"interrupted; resumed by job {new_id}"


def embedding_steps(reg: Registry, engine: Engine, cat: Catalogue) -> list[Step]:
    """One step per (space, subject) of the catalogue."""
    steps: list[Step] = []
    kinds = (("datasets", "dataset"), ("models", "model"), ("prompts", "prompt"))
    for space in cat.entries("spaces"):
        for section, kind in kinds:
            for entry in cat.entries(section):
                key = f"embed/{space['name']}/{kind}/{entry['name']}"
                steps.append((key, _embed_action(reg, engine, space["name"], entry["name"], kind)))
    return steps


def _embed_action(
    reg: Registry, engine: Engine, space: str, name: str, kind: str
) -> Callable[[], str | None]:
    def action() -> str | None:
        with reg.db.read() as session:
            sp = session.scalars(select(EmbeddingSpace).where(EmbeddingSpace.name == space)).one()
            subject_id = session.scalar(select(Subject.id).where(Subject.kind == kind, Subject.name == name))
            done = session.scalar(
                select(Embedding.id).where(Embedding.space_id == sp.id, Embedding.subject_id == subject_id)
            )
        if done is not None:
            return "already embedded"
        if kind != "dataset" and (sp.method == "textemb" or sp.probe_set_id is None):
            return f"{sp.method} space without probe set embeds datasets only"
        engine.embed(space, name, kind)
        return None

    return action


def _run_steps(
    reg: Registry, job_id: int, steps: list[Step], report: JobReport, show: bool, offset: int
) -> None:
    bar = _progress_bar(len(steps), show)
    for n, (key, action) in enumerate(steps):
        start = time.perf_counter()
        status, error = "done", None
        try:
            skip = action()
            status = "skipped" if skip else "done"
            error = skip
        except ENTRY_ERRORS as exc:
            status, error = "failed", _reason(exc)
        except Exception as exc:  # a bug: fail this entry, keep its traceback in the log, go on
            log.debug("entry %s of job %s failed unexpectedly", key, job_id, exc_info=True)
            status, error = "failed", _reason(exc)
        seconds = round(time.perf_counter() - start, 3)
        report.entries.append({"key": key, "status": status, "error": error, "seconds": seconds})
        with reg.db.transaction() as session:
            session.add(JobEntry(job_id=job_id, key=key, status=status, error=error, seconds=seconds))
            job = session.get_one(Job, job_id)
            job.n_total = offset + len(steps)
            progress(
                session, job_id, offset + n + 1, report.count("failed"), error if status == "failed" else None
            )
        if bar is not None:
            bar.set_postfix_str(key[-40:])
            bar.update(1)
        elif show:  # not a terminal (a pipe, a log file): one line per entry instead of a bar
            note = f" ({error})" if error else ""
            print(
                f"[{offset + n + 1}/{offset + len(steps)}] {key}: {status}{note} {seconds:.1f}s",
                file=sys.stderr,
            )
    if bar is not None:
        bar.close()


def _progress_bar(total: int, show: bool) -> Any:
    """A tqdm bar with ETA on an interactive terminal; None otherwise (``--json``, pipes, CI)."""
    if not show or not sys.stderr.isatty() or total == 0:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="entry", file=sys.stderr, dynamic_ncols=True)
