"""``fute maintain reembed --from OLD --to NEW``: compute a new space for everything in an old one.

NEW must exist already (``fute spaces create NEW --method ... [--surrogate ...] [--probe ...]``):
a space is defined in one place, with the same checks, whatever fills it. Every subject with a
vector in OLD gets one in NEW through the ``Engine`` (so with full provenance); model and prompt
vectors reuse the black-box outputs cached in SQL when NEW uses the same probe set (a different
probe set needs the black box on its new probes only).

OLD is only read, never written, so it stays queryable while NEW fills up. Resumable: the job has a
row in ``jobs`` (kind ``reembed``) and one ``job_entries`` row per subject; a re-run skips subjects
already in NEW, marks the interrupted job ``cancelled`` and goes on. Killing it at any moment loses
at most the subject being computed (each vector is its own committed write).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from ingest.blackbox import BlackBox
from ingest.engine import Engine
from ingest.jobs import JobReport, Step, _run_steps, ends_job
from registry.api import Registry
from registry.errors import ConfigError
from registry.jobs import finish_job, start_job
from registry.models import Embedding, Job, Subject, utcnow
from registry.spaces import get_space

KIND = "reembed"


def reembed(
    reg: Registry,
    engine: Engine,
    old: str,
    new: str,
    boxes: Mapping[str, BlackBox] | None = None,
    show_progress: bool = False,
) -> JobReport:
    """Embed into NEW every subject that has a vector in OLD.

    Args:
        reg: The registry.
        engine: Engine that computes the vectors (loads NEW's surrogate once).
        old: Source space (read only).
        new: Target space, created beforehand.
        boxes: Black boxes by subject name, for models the catalogue cannot rebuild (Python callables).
        show_progress: Print one line per subject on stderr.

    Returns:
        The job report (entries done / skipped / failed with reasons).

    Raises:
        SpaceNotFoundError: OLD or NEW does not exist.
        ConfigError: OLD and NEW are the same space.
    """
    with reg.db.read() as session:
        old_space, new_space = get_space(session, old), get_space(session, new)
        if old_space.id == new_space.id:
            raise ConfigError(
                f"--from and --to both name {old!r}; create the new space first and pass its name"
            )
        subjects = session.execute(
            select(Subject.kind, Subject.name)
            .join(Embedding, Embedding.subject_id == Subject.id)
            .where(Embedding.space_id == old_space.id)
            .order_by(Subject.id)
        ).all()
    params = {"from": old, "to": new}
    with reg.db.transaction() as session:
        job = start_job(session, KIND, len(subjects), params)
        _cancel_interrupted(session, params, job.id)
    report = JobReport(job.id, "running")
    steps: list[Step] = [
        (f"reembed/{new}/{kind}/{name}", _action(reg, engine, new, name, kind, (boxes or {}).get(name)))
        for kind, name in subjects
    ]
    with ends_job(reg, job.id):
        _run_steps(reg, job.id, steps, report, show_progress, offset=0)
    report.status = "failed" if report.count("failed") else "done"
    with reg.db.transaction() as session:
        failed = [f"{e['key']}: {e['error']}" for e in report.entries if e["status"] == "failed"]
        finish_job(session, job.id, report.status, "; ".join(failed)[:4000] or None)
    return report


def _cancel_interrupted(session: Session, params: dict[str, str], new_id: int) -> None:
    """A still-running reembed job of the same spaces was killed: mark it, name its successor."""
    rows = session.scalars(select(Job).where(Job.kind == KIND, Job.status == "running", Job.id != new_id))
    for old in rows:
        if old.params == params:
            old.status, old.finished_at = "cancelled", utcnow()
            old.error = f"interrupted; resumed by job {new_id}"


def _action(
    reg: Registry, engine: Engine, space: str, name: str, kind: str, box: BlackBox | None
) -> Callable[[], str | None]:
    def action() -> str | None:
        with reg.db.read() as session:
            sp = get_space(session, space)
            done = session.scalar(
                select(Embedding.id)
                .join(Subject, Subject.id == Embedding.subject_id)
                .where(Embedding.space_id == sp.id, Subject.kind == kind, Subject.name == name)
            )
        if done is not None:
            return "already embedded"
        if kind != "dataset" and (sp.method == "textemb" or sp.probe_set_id is None):
            return f"{sp.method} space without probe set embeds datasets only"
        engine.embed(space, name, kind, box=box)
        return None

    return action
