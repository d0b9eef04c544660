"""``fute maintain reembed --from OLD --to NEW``: compute a new space for everything in an old one.

NEW must exist already (``fute spaces create NEW --method ... [--surrogate ...] [--probe ...]``):
a space is defined in one place, with the same checks, whatever fills it. Every subject with a
vector in OLD gets one in NEW through the ``Engine`` (so with full provenance); model and prompt
vectors reuse the black-box outputs cached in SQL when NEW uses the same probe set (a different
probe set needs the black box on its new probes only).

OLD is only read, never written, so it stays queryable while NEW fills up. Resumable: the job has a
row in ``jobs`` (kind ``reembed``) and one ``job_entries`` row per subject; a re-run skips subjects
already in NEW, marks the interrupted job ``cancelled`` and goes on (the one job frame,
``ingest.jobs.run_job``). Killing it at any moment loses at most the subject being computed (each
vector is its own committed write).
"""

from __future__ import annotations

from collections.abc import Mapping

from ingest.blackbox import BlackBox
from ingest.engine import Engine
from ingest.jobs import JobOptions, JobReport, Step, embed_action, run_job
from registry.api import Registry
from registry.errors import ConfigError
from registry.job_targets import space_record, subjects_in_space

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
    old_space, new_space = space_record(reg, old), space_record(reg, new)
    if old_space.id == new_space.id:
        raise ConfigError(f"--from and --to both name {old!r}; create the new space first and pass its name")
    steps: list[Step] = [
        (f"reembed/{new}/{kind}/{name}", embed_action(reg, engine, new, name, kind, (boxes or {}).get(name)))
        for kind, name in subjects_in_space(reg, old_space.id)
    ]
    return run_job(reg, KIND, {"from": old, "to": new}, steps, JobOptions(show_progress))
