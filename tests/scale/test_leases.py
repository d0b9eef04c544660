"""Leased job entries on SQLite and PostgreSQL: concurrent claims never share an entry, an expired
lease is reclaimed, a worker that lost its lease cannot store, attempts are bounded."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

from registry.api import Registry
from registry.jobs import start_job
from registry.leases import (
    LeaseLostError,
    add_pending,
    claim_next,
    fail_exhausted,
    open_counts,
    settle,
    store_held,
)
from registry.models import Dataset, Embedding, JobEntry
from registry.settings import Settings
from registry.spaces import SpaceConfig
from registry.subjects import add_subject


@pytest.fixture
def reg(tmp_path: Path, db_url: str) -> Iterator[Registry]:
    """A registry with one 4-d space, one dataset and a job of three pending entries."""
    r = Registry(Settings.build(home=tmp_path / "home", db=db_url))
    r.init()
    r.create_space(SpaceConfig(name="s", method="fake", surrogate="none", params={}, dim=4, metric="cosine"))
    with r.db.transaction() as s:
        add_subject(
            s, Dataset(name="d", source="x", task_format="classification", n_examples=1, content_hash="h")
        )
        job = start_job(s, "catalogue", 3)
        add_pending(s, job.id, ["embed/s/dataset/d", "embed/s/dataset/e", "embed/s/dataset/f"])
    yield r
    r.close()


def _job_id(reg: Registry) -> int:
    with reg.db.read() as s:
        return int(s.scalar(select(func.max(JobEntry.job_id))) or 0)


def test_concurrent_claims_take_different_entries(reg: Registry) -> None:
    job = _job_id(reg)
    if reg.db.backend == "postgresql":
        # Two open transactions: the second skips the row the first has locked (SKIP LOCKED).
        with reg.db.transaction() as s1, reg.db.transaction() as s2:
            a = claim_next(s1, job, "w1", 60, 3)
            b = claim_next(s2, job, "w2", 60, 3)
            assert a is not None and b is not None and a.id != b.id
    with reg.db.transaction() as s:
        c = claim_next(s, job, "w3", 60, 3)
        assert c is not None
    with reg.db.transaction() as s:
        keys = s.scalars(select(JobEntry.claimed_by).where(JobEntry.status == "running")).all()
        assert len(keys) == len(set(keys)) >= 1


def test_an_expired_lease_is_reclaimed_and_the_old_worker_is_fenced(reg: Registry) -> None:
    job = _job_id(reg)
    with reg.db.transaction() as s:
        first = claim_next(s, job, "dead", 0.2, 3)
        assert first is not None and first.key == "embed/s/dataset/d"
        entry_id = first.id
    time.sleep(0.4)
    with reg.db.transaction() as s:
        again = claim_next(s, job, "alive", 60, 3)
        assert again is not None and again.id == entry_id and again.attempts == 2
    with reg.db.read() as s:
        subject_id = s.scalars(select(Dataset.id)).one()
    vec = np.array([1, 0, 0, 0], dtype=np.float32)
    with pytest.raises(LeaseLostError, match="lease"), reg.db.transaction() as s:
        store_held(s, entry_id, "dead", "s", subject_id, vec, {})
    with reg.db.transaction() as s:
        assert store_held(s, entry_id, "alive", "s", subject_id, vec, {}) is not None
    with reg.db.transaction() as s:  # a second store of the same subject keeps the first vector
        s.get_one(JobEntry, entry_id).status = "running"
        s.get_one(JobEntry, entry_id).claimed_by = "alive"
    with reg.db.transaction() as s:
        assert store_held(s, entry_id, "alive", "s", subject_id, vec, {}) is None
    with reg.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Embedding)) == 1
        assert s.get_one(JobEntry, entry_id).status == "skipped"


def test_retries_are_bounded(reg: Registry) -> None:
    job = _job_id(reg)
    for attempt in (1, 2):
        with reg.db.transaction() as s:
            entry = claim_next(s, job, "w", 60, 2)
            assert entry is not None and entry.key == "embed/s/dataset/d" and entry.attempts == attempt
            settle(entry, "failed", "ValueError: bad", 0.1, max_attempts=2)
    with reg.db.read() as s:
        assert s.scalars(select(JobEntry.status).where(JobEntry.key == "embed/s/dataset/d")).one() == "failed"
    with reg.db.transaction() as s:  # a worker that dies on its last attempt: failed once the lease ends
        entry = claim_next(s, job, "w", 0.1, 1)
        assert entry is not None and entry.key == "embed/s/dataset/e"
    time.sleep(0.3)
    with reg.db.transaction() as s:
        assert fail_exhausted(s, job, 1) == 1
        claimable, running, _ = open_counts(s, job, 1)
    assert (claimable, running) == (1, 0)  # only "f" is left
