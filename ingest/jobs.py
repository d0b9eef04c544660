"""The one job frame: every entry is its own unit with a status in ``job_entries``.

``run_job`` opens the job row (cancelling the interrupted run of the same work), runs its steps,
records each entry and closes the row; catalogue jobs, ``embed --all``, re-embedding and the Ray
driver all go through it. A failing entry is recorded with its reason and the rest go on. A re-run
skips what is already registered or embedded (by name and space), so an interrupted job resumes
where it stopped; the interrupted job row is marked ``cancelled`` and points at the job that
resumed it.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from ingest.blackbox import BlackBox
from ingest.engine import Engine
from ingest.job_file import Catalogue
from ingest.register_entries import setup_steps
from registry.api import Registry
from registry.errors import RegistryError
from registry.job_runs import close_job, open_job, record_entry
from registry.job_targets import embed_target
from registry.jobs import EntryRecord

log = logging.getLogger(__name__)

# Errors that fail one entry as bad input, not as a bug: the registry's own errors, I/O (files,
# network, model downloads), bad values (data, numpy, pydantic) and runtime failures of the model
# libraries (torch raises RuntimeError, out-of-memory included). A TypeError or KeyError is a bug:
# it still fails only its entry (the job goes on) but its traceback is logged.
ENTRY_ERRORS: tuple[type[Exception], ...] = (RegistryError, OSError, ValueError, RuntimeError)

Step = tuple[str, Callable[[], str | None]]  # (key, action returning a skip reason or None)


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


@dataclass(frozen=True)
class JobOptions:
    """How ``run_job`` runs a job beyond its steps.

    Attributes:
        show_progress: A bar (terminal) or one line per entry (pipe) on stderr.
        resume_on: Param names that identify the same work: a still-running job of the same kind
            with equal values was killed and is cancelled. None: all params.
        job_id: A job row opened already (``POST /jobs`` answers with its id before the job runs).
        later: Further step lists, each built when the earlier steps have run (embedding entries
            need the spaces and subjects that the set-up entries register).
        after: Runs inside the frame after every step (the Ray driver settles its leased entries
            there and folds them into the report).
    """

    show_progress: bool = False
    resume_on: tuple[str, ...] | None = None
    job_id: int | None = None
    later: tuple[Callable[[], list[Step]], ...] = ()
    after: Callable[[JobReport], None] | None = None


def run_job(
    reg: Registry, kind: str, params: dict[str, Any], steps: Sequence[Step], opts: JobOptions | None = None
) -> JobReport:
    """Run a job: open its row, run every step as its own entry, close the row.

    Args:
        reg: The registry.
        kind: Job kind (``catalogue``, ``reembed``, ``embed``).
        params: Params stored on the row (and compared to find the interrupted run).
        steps: ``(key, action)`` pairs; an action returns a skip reason or None when it did the work.
        opts: Progress display, resume rule, an opened row, later steps, a final hook.

    Returns:
        The report; its status is ``failed`` when any entry failed, ``done`` otherwise.

    Raises:
        BaseException: Whatever escapes the entries (Ctrl-C, a lost database) after closing the row.
    """
    opts = opts or JobOptions()
    job_id = opts.job_id
    if job_id is None:
        match = None if opts.resume_on is None else {k: params.get(k) for k in opts.resume_on}
        job_id = open_job(reg, kind, params, match, n_total=len(steps))
    report = JobReport(job_id, "running")
    with ends_job(reg, job_id):
        _run_steps(reg, report, steps, opts.show_progress)
        for build in opts.later:
            _run_steps(reg, report, build(), opts.show_progress)
        if opts.after is not None:
            opts.after(report)
    report.status = "failed" if report.count("failed") else "done"
    failed = [f"{e['key']}: {e['error']}" for e in report.entries if e["status"] == "failed"]
    close_job(reg, job_id, report.status, "; ".join(failed)[:4000] or None, _counts(report))
    return report


def _counts(report: JobReport) -> tuple[int, int]:
    return len(report.entries), report.count("failed")


def run_catalogue(
    reg: Registry, engine: Engine, cat: Catalogue, show_progress: bool, job_id: int | None = None
) -> JobReport:
    """Run a catalogue file: set-up entries first, then one embedding entry per subject and space.

    Args:
        reg: The registry.
        engine: Engine that computes the vectors.
        cat: The validated catalogue.
        show_progress: Progress on stderr.
        job_id: The job row, when the caller opened it (``catalogue_job``).

    Returns:
        The job report.
    """
    # A job opened by the caller must not stay running if the preparation fails.
    with ends_job(reg, job_id) if job_id is not None else nullcontext():
        # A job killed between an embedding's commit and its index publish left a snapshot behind
        # SQL; the re-run skips that entry and would never write the space again: publish it first.
        reg.recover()
        steps = setup_steps(reg, engine, cat)
    later = (lambda: embedding_steps(reg, engine, cat),)
    opts = JobOptions(show_progress, resume_on=("file",), job_id=job_id, later=later)
    return run_job(reg, "catalogue", {"file": str(cat.path)}, steps, opts)


def catalogue_job(reg: Registry, cat: Catalogue) -> int:
    """Open the job row of a catalogue run before it starts (its id is known at once).

    Returns:
        The job id to pass to ``run_catalogue``.
    """
    params = {"file": str(cat.path)}
    return open_job(reg, "catalogue", params, params)


@contextmanager
def ends_job(reg: Registry, job_id: int) -> Iterator[None]:
    """Close the job row when anything escapes the block (a bug, Ctrl-C, a lost database), then
    re-raise: a job must never stay ``running`` because of an exception. A killed process cannot
    run this; its row is closed by the next run of the same work (``open_job``).

    Raises:
        BaseException: Whatever the block raised, unchanged.
    """
    try:
        yield
    except BaseException as exc:
        status = "cancelled" if isinstance(exc, KeyboardInterrupt) else "failed"
        try:
            close_job(reg, job_id, status, reason(exc))
        except Exception:  # the database itself may be what failed; the original error matters more
            log.warning("could not close job %s after %s", job_id, type(exc).__name__)
        raise


def reason(exc: BaseException) -> str:
    """``TypeName: first line of the message`` (what a failed entry or job records)."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}"[:4000]


def outcome(key: str, action: Callable[[], str | None]) -> tuple[str, str | None]:
    """Run one entry's action: ``(done|skipped|failed, skip or failure reason)``.

    An error in ``ENTRY_ERRORS`` is bad input; any other ``Exception`` is a bug, which fails the
    entry as well (one entry's bug must not stop a job) but is logged with its traceback.
    """
    try:
        skip = action()
    except ENTRY_ERRORS as exc:
        return "failed", reason(exc)
    except Exception as exc:
        log.error("entry %s failed on a bug (%s)", key, type(exc).__name__, exc_info=True)
        return "failed", reason(exc)
    return ("skipped", skip) if skip else ("done", None)


def skip_reason(reg: Registry, space: str, kind: str, name: str) -> str | None:
    """Why an embedding entry has no work: the vector exists, or the space cannot embed the kind.

    A missing subject is not a skip: computing it raises the clear "not found" error.

    Raises:
        SpaceNotFoundError: No such space.
    """
    target = embed_target(reg, space, kind, name)
    if target.embedded:
        return "already embedded"
    sp = target.space
    if kind != "dataset" and (sp.method == "textemb" or sp.probe_set_id is None):
        return f"{sp.method} space without probe set embeds datasets only"
    return None


def embed_action(
    reg: Registry, engine: Engine, space: str, name: str, kind: str, box: BlackBox | None = None
) -> Callable[[], str | None]:
    """The action of one embedding entry: skip (with the reason) or compute and store the vector."""

    def action() -> str | None:
        skip = skip_reason(reg, space, kind, name)
        if skip:
            return skip
        engine.embed(space, name, kind, box=box)
        return None

    return action


def embedding_steps(reg: Registry, engine: Engine, cat: Catalogue) -> list[Step]:
    """One step per (space, subject) of the catalogue."""
    steps: list[Step] = []
    kinds = (("datasets", "dataset"), ("models", "model"), ("prompts", "prompt"))
    for space in cat.entries("spaces"):
        for section, kind in kinds:
            for entry in cat.entries(section):
                key = f"embed/{space['name']}/{kind}/{entry['name']}"
                steps.append((key, embed_action(reg, engine, space["name"], entry["name"], kind)))
    return steps


def _run_steps(reg: Registry, report: JobReport, steps: Sequence[Step], show: bool) -> None:
    """Run one list of steps, recording each entry with the job's progress as it settles."""
    offset = len(report.entries)
    bar = _progress_bar(len(steps), show)
    for n, (key, action) in enumerate(steps):
        start = time.perf_counter()
        status, error = outcome(key, action)
        entry = EntryRecord(key, status, error, round(time.perf_counter() - start, 3))
        report.entries.append(entry.to_dict())
        record_entry(reg, report.job_id, entry, offset + len(steps), offset + n + 1, report.count("failed"))
        if bar is not None:
            bar.set_postfix_str(key[-40:])
            bar.update(1)
        elif show:  # not a terminal (a pipe, a log file): one line per entry instead of a bar
            note = f" ({error})" if error else ""
            print(
                f"[{offset + n + 1}/{offset + len(steps)}] {key}: {status}{note} {entry.seconds:.1f}s",
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
