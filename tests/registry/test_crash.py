"""Crash injection at every step of the write path: a child process dies with ``os._exit``.

After each crash, reopening the registry (a writer recovers) must leave verify clean, every
committed vector present and searchable as its own top-1, and nothing uncommitted visible.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from registry.api import Registry
from registry.subjects import get_subject
from tests.registry.helpers import make_datasets, open_registry, space, vec

STEPS = [
    "before_commit",
    "after_commit",
    "after_index_update",
    "before_index_write",
    "after_index_write",
    "after_manifest_write",
]
ROOT = Path(__file__).resolve().parents[2]


def _committed_vectors(reg: Registry) -> dict[int, int]:
    """subject id -> salt of the vector SQL holds (0 = first write, 500 = upsert)."""
    from sqlalchemy import select

    from registry.models import Embedding

    out = {}
    with reg.db.read() as s:
        for sid, blob in s.execute(select(Embedding.subject_id, Embedding.vector)).all():
            import numpy as np

            stored = np.frombuffer(blob, dtype="<f4")
            for salt in (0, 500):
                ref = vec(sid + salt)
                if np.allclose(stored, ref / np.linalg.norm(ref), atol=1e-6):
                    out[sid] = salt
    return out


@pytest.mark.parametrize("crash_batch", [1, 3])
@pytest.mark.parametrize("step", STEPS)
def test_crash_at_each_write_step(tmp_path: Path, db_url: str, step: str, crash_batch: int) -> None:
    reg = open_registry(tmp_path, db_url)
    make_datasets(reg, 12)
    space(reg)
    proc = subprocess.run(
        [sys.executable, "-m", "tests.registry.crash_child", str(tmp_path), db_url, step, str(crash_batch)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 77, proc.stderr
    reported = [int(line.split()[1]) for line in proc.stdout.splitlines() if line.startswith("committed")]
    assert reported == list(range(crash_batch))

    reopened = Registry.open(reg.settings)
    reopened.recover()
    report = reopened.verify()
    assert report.ok, report.problems

    with reopened.db.read() as s:
        ids = {i: get_subject(s, f"d{i}", "dataset").id for i in range(12)}
    stored = _committed_vectors(reopened)
    committed_batch = crash_batch if step != "before_commit" else crash_batch - 1
    expected_subjects = {
        ids[i]
        for b in range(committed_batch + 1)
        for i in [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11], [0, 1, 2, 3]][b]
    }
    assert set(stored) == expected_subjects  # nothing lost, nothing uncommitted visible
    upserted = crash_batch == 3 and step != "before_commit"
    assert all(stored[ids[i]] == (500 if upserted else 0) for i in range(4))
    for sid, salt in stored.items():
        top = reopened.search("s", vec(sid + salt), k=1)[0][0]
        assert top.subject_id == sid
    assert report.spaces[0].sql_count == report.spaces[0].index_count == len(expected_subjects)
