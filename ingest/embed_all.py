"""``fute embed --all --space S [--kind K] [--where ...]``: embed every matching subject into a space.

One resumable job (kind ``embed``, run by the one job frame ``ingest.jobs.run_job``): a row in
``jobs`` and one ``job_entries`` row per subject, each subject its own committed write. A re-run
skips subjects the space already holds, marks an interrupted job with the same parameters
``cancelled`` (naming its successor) and goes on, so killing it at any moment loses at most the
subject being computed. Models and prompts are skipped (with the reason) in a space that cannot
embed them (``textemb``, or no probe set). Progress: one line (or a bar) per subject, and the
stages inside each (fine-tuning, probing) from ``ingest.progress``.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from ingest.engine import Engine
from ingest.jobs import JobOptions, JobReport, Step, embed_action, run_job
from registry.api import Registry
from registry.filters import SearchFilter
from registry.job_targets import space_record, subjects_matching

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
    space_record(reg, space)  # unknown space: one clear error before any job row
    steps: list[Step] = [
        (f"embed/{space}/{kind}/{name}", embed_action(reg, engine, space, name, kind))
        for kind, name in subjects_matching(reg, flt)
    ]
    params = {"space": space, "filter": _filter_params(flt)}
    return run_job(reg, KIND, params, steps, JobOptions(show_progress))


def _filter_params(flt: SearchFilter) -> dict[str, Any]:
    """The filter as the JSON the job row stores (times as ISO strings; compared on re-runs)."""
    out = asdict(flt)
    for key in ("created_after", "created_before"):
        out[key] = out[key].isoformat() if out[key] is not None else None
    kept = {k: v for k, v in out.items() if v not in (None, (), [])}
    return dict(json.loads(json.dumps(kept)))  # tuples as lists, as read back from SQL
