"""kill -9 at random moments of a real ``fute ingest catalogue`` job (reduced: 3 trials; full: 100).

Full mode: ``FUTE_RELIABILITY_FULL=1`` or ``python -m tests.reliability.run --full --parts crash``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.reliability.common import full_mode, write_figures
from tests.reliability.crash import run_crash_trials


@pytest.mark.slow
def test_kill_9_mid_ingestion_loses_nothing_and_the_job_resumes(tmp_path: Path) -> None:
    budget = os.environ.get("FUTE_RELIABILITY_BUDGET_S")
    figures = run_crash_trials(
        tmp_path, n_trials=100 if full_mode() else 3, budget_s=float(budget) if budget else None
    )
    write_figures("crash", figures)
    bad = [r for r in figures["records"] if r["problems"] or r["lost"] or r["duplicates"]]
    assert bad == []
    assert figures["clean_trials"] == figures["trials"] > 0
    assert figures["lost"] == figures["duplicates"] == figures["verify_failures"] == 0
    assert figures["kills_landed_mid_job"] >= 1, "no kill landed while the job ran"
