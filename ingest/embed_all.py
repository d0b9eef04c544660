"""``fute embed --all --space S [--kind K] [--where ...]``: embed every matching subject into a space.

One resumable job (kind ``embed``): a row in ``jobs`` and one ``job_entries`` row per subject, each
subject its own committed write. A re-run skips subjects the space already holds, marks an
interrupted job with the same parameters ``cancelled`` (naming its successor) and goes on, so
killing it at any moment loses at most the subject being computed. Models and prompts are skipped
(with the reason) in a space that cannot embed them (``textemb``, or no probe set). Progress: one
line (or a bar) per subject, and the stages inside each (fine-tuning, probing) from
``ingest.progress``.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ingest.engine import Engine
from ingest.jobs import JobReport, Step, _run_steps, ends_job
from ingest.reembed import _action
from registry.api import Registry
from registry.filters import SearchFilter, matching_subjects
from registry.jobs import finish_job, start_job
from registry.models import Job, utcnow
from registry.spaces import get_space

KIND = "embed"


def embed_all(
    reg: Registry, engine: Engine, space: str, flt: SearchFilter, show_progress: bool = False
) -> JobReport:
    """Embed into ``space`` every subject that passes ``flt`` and has no vector there yet.

    Args:
        reg: The registry.
        engine: Engine that computes the vectors.
        space: Target space.
        flt: Which subjects (kinds, formats, tags, creation times).
        show_progress: Print one line (or a bar) per subject on stderr.

    Returns:
        The job report (entries done / skipped / failed with reasons).

    Raises:
        SpaceNotFoundError: No such space.
    """
    with reg.db.read() as session:
        get_space(session, space)  # unknown space: one clear error before any job row
        subjects = matching_subjects(session, flt)
    params = {"space": space, "filter": _filter_params(flt)}
    with reg.db.transaction() as session:
        job = start_job(session, KIND, len(subjects), params)
        _cancel_interrupted(session, params, job.id)
    report = JobReport(job.id, "running")
    steps: list[Step] = [
        (f"embed/{space}/{kind}/{name}", _action(reg, engine, space, name, kind, None))
        for kind, name in subjects
    ]
    with ends_job(reg, job.id):
        _run_steps(reg, job.id, steps, report, show_progress, offset=0)
    report.status = "failed" if report.count("failed") else "done"
    with reg.db.transaction() as session:
        failed = [f"{e['key']}: {e['error']}" for e in report.entries if e["status"] == "failed"]
        finish_job(session, job.id, report.status, "; ".join(failed)[:4000] or None)
    return report


def _filter_params(flt: SearchFilter) -> dict[str, Any]:
    """The filter as the JSON the job row stores (times as ISO strings; compared on re-runs)."""
    out = asdict(flt)
    for key in ("created_after", "created_before"):
        out[key] = out[key].isoformat() if out[key] is not None else None
    kept = {k: v for k, v in out.items() if v not in (None, (), [])}
    return dict(json.loads(json.dumps(kept)))  # tuples as lists, as read back from SQL


def _cancel_interrupted(session: Session, params: dict[str, Any], new_id: int) -> None:
    """A still-running embed job with the same parameters was killed: mark it, name its successor."""
    rows = session.scalars(select(Job).where(Job.kind == KIND, Job.status == "running", Job.id != new_id))
    for old in rows:
        if old.params == params:
            old.status, old.finished_at = "cancelled", utcnow()
            old.error = f"interrupted; resumed by job {new_id}"
