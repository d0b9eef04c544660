"""kill -9 at random moments of a writer process, many times, until its work is complete.

After every kill: a writer reopens (recovers), verify is clean, and every batch the child reported
as committed is stored and findable as its own top-1. The restarted child resumes; at the end all
subjects are stored exactly once.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from registry.api import Registry
from tests.registry.helpers import make_datasets, open_registry, space, vec

ROOT = Path(__file__).resolve().parents[2]
N_SUBJECTS = 1200
KILL_TRIALS = 60  # then one run is left alone to finish: a slow CI machine makes less progress per try


@pytest.mark.slow
def test_random_kills_lose_nothing_and_the_writer_resumes(tmp_path: Path, db_url: str) -> None:
    reg = open_registry(tmp_path, db_url)
    make_datasets(reg, N_SUBJECTS)
    space(reg)
    rng = random.Random(7)
    committed: set[int] = set()
    kills = 0
    for trial in range(KILL_TRIALS + 1):
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.registry.writer_child",
                str(tmp_path),
                db_url,
                str(N_SUBJECTS),
                "0.02",
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        last = trial == KILL_TRIALS
        if not last:
            time.sleep(rng.uniform(0.4, 1.6))  # the child needs ~0.6 s to start, ~10 s to finish
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                kills += 1
        out, _ = proc.communicate(timeout=600 if last else 60)
        committed |= {
            int(x) for line in out.splitlines() if line.startswith("committed") for x in line.split()[1:]
        }

        reopened = Registry.open(reg.settings)
        reopened.recover()
        report = reopened.verify()
        assert report.ok, report.problems
        stored = reopened.spaces()[0][1]
        assert stored >= len(committed)  # a kill after commit but before the print may add more
        for sid in rng.sample(sorted(committed), min(40, len(committed))):
            assert reopened.search("s", vec(sid), k=1)[0][0].subject_id == sid
        reopened.close()
        if proc.returncode == 0:
            break
    assert kills >= 10, "too few kills landed mid-run to test anything"
    assert proc.returncode == 0, f"the last, unkilled writer failed (exit {proc.returncode})"
    final = Registry.open(reg.settings)
    assert final.spaces()[0][1] == N_SUBJECTS and final.verify().ok
