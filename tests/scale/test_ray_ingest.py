"""Catalogue jobs on a local Ray instance with the real PostgreSQL: same vectors as the single-process
path, a worker killed mid-entry (kill -9) is recovered from, no duplicates, verify clean."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import func, select

from fute.cli import main
from ingest.blackbox.callable_box import CallableBlackBox
from ingest.engine import Engine
from ingest.job_file import load_catalogue
from ingest.jobs import run_catalogue
from ingest.mte import pseudo_labelled
from ingest.probes import DEFAULT_POOL, ProbeRequest, create_probe_set
from ingest.ray_jobs import RayOptions, run_catalogue_ray
from ingest.ray_probes import ProbeOptions, fill_probe_cache
from ingest.ray_worker import WorkerOptions
from registry.api import Registry
from registry.models import Embedding, EmbeddingSpace, Job, JobEntry, ModelEntry, ProbeSet, Subject
from registry.settings import Settings
from registry.subjects import add_subject
from tests.scale.conftest import STARTERS, pg_registry, write_catalogue

pytestmark = pytest.mark.postgres


def vectors(reg: Registry) -> dict[tuple[str, str], np.ndarray]:
    """(space, subject) -> stored vector."""
    with reg.db.read() as s:
        rows = s.execute(
            select(EmbeddingSpace.name, Subject.name, Embedding.vector)
            .join(EmbeddingSpace, EmbeddingSpace.id == Embedding.space_id)
            .join(Subject, Subject.id == Embedding.subject_id)
        ).all()
    return {(sp, su): np.frombuffer(v, dtype=np.float32) for sp, su, v in rows}


def assert_clean(reg: Registry, job_id: int, n_entries: int) -> None:
    """Every embedding entry done once, one vector per (space, subject), verify clean."""
    with reg.db.read() as s:
        job = s.get_one(Job, job_id)
        entries = s.scalars(
            select(JobEntry).where(JobEntry.job_id == job_id, JobEntry.key.like("embed/%"))
        ).all()
        per_pair = s.execute(
            select(func.count()).select_from(Embedding).group_by(Embedding.space_id, Embedding.subject_id)
        ).scalars()
        assert set(per_pair) == {1}
    assert job.status == "done", job.error
    assert len(entries) == n_entries and {e.status for e in entries} == {"done"}
    assert len({e.key for e in entries}) == n_entries
    report = reg.verify()
    assert report.ok, report.to_dict()


def test_two_workers_give_the_single_process_vectors(ray_local: Any, tmp_path: Path) -> None:
    path = write_catalogue(tmp_path, STARTERS[:4])
    single = Registry(Settings.build(home=tmp_path / "single"))
    single.init()
    run_catalogue(single, Engine(single, threads=1), load_catalogue(path), show_progress=False)
    reg, drop = pg_registry(tmp_path / "pg")
    try:
        opts = RayOptions(worker=WorkerOptions(lease_s=30, threads=1))
        report = run_catalogue_ray(reg, Engine(reg, threads=1), load_catalogue(path), opts, show=False)
        assert report.status == "done", report.to_dict()
        want, got = vectors(single), vectors(reg)
        assert set(got) == set(want) and len(got) == 8
        for pair, vec in want.items():
            np.testing.assert_allclose(got[pair], vec, rtol=1e-4, atol=1e-5, err_msg=str(pair))
        with reg.db.read() as s:
            workers = set(s.scalars(select(JobEntry.claimed_by).where(JobEntry.key.like("embed/%"))))
        assert len(workers) >= 2, workers  # really spread over two worker processes
        assert_clean(reg, report.job_id, 8)
    finally:
        reg.close()
        drop()


def _kill_first_claimant(reg: Registry, killed: list[int], stop: threading.Event) -> None:
    """Wait for a worker to hold an entry, then kill -9 its process (mid-entry)."""
    while not stop.is_set():
        with reg.db.read() as s:
            holder = s.scalar(select(JobEntry.claimed_by).where(JobEntry.status == "running"))
        if holder:
            pid = int(holder.rsplit(":", 1)[1])
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
            return
        time.sleep(0.05)


def test_a_worker_killed_mid_entry_is_reclaimed_without_duplicates(ray_local: Any, tmp_path: Path) -> None:
    path = write_catalogue(tmp_path, STARTERS[4:6])
    reg, drop = pg_registry(tmp_path / "pg")
    killed: list[int] = []
    stop = threading.Event()
    killer = threading.Thread(target=_kill_first_claimant, args=(reg, killed, stop), daemon=True)
    try:
        killer.start()
        opts = RayOptions(worker=WorkerOptions(lease_s=3, threads=1))
        report = run_catalogue_ray(reg, Engine(reg, threads=1), load_catalogue(path), opts, show=False)
        stop.set()
        assert killed, "no worker was killed"
        assert report.status == "done", report.to_dict()
        with reg.db.read() as s:
            attempts = list(s.scalars(select(JobEntry.attempts).where(JobEntry.key.like("embed/%"))))
            owners = set(s.scalars(select(JobEntry.claimed_by).where(JobEntry.key.like("embed/%"))))
        assert max(attempts) >= 2  # the killed worker's entry was claimed again
        assert all(not o.endswith(f":{killed[0]}") for o in owners)  # and finished by another
        assert_clean(reg, report.job_id, 4)
    finally:
        stop.set()
        reg.close()
        drop()


class LengthBox:
    """Picklable factory of a real, deterministic black box: class probabilities from text length
    (a Python callable, the ``callable`` black-box kind)."""

    def __call__(self) -> CallableBlackBox:
        def fn(probes: list[tuple[str, str | None]]) -> np.ndarray:
            p = np.array([1 / (1 + np.exp(-(len(t) - 60) / 20)) for t, _ in probes], dtype=np.float32)
            return np.stack([p, 1 - p], axis=1)

        return CallableBlackBox(fn, 2)


def test_ray_data_fills_the_probe_cache_like_the_single_process_path(ray_local: Any, tmp_path: Path) -> None:
    reg = Registry(Settings.build(home=tmp_path / "home"))
    reg.init()
    create_probe_set(reg, ProbeRequest("p", (DEFAULT_POOL,), n=60, seed=13))
    with reg.db.transaction() as s:
        ids = [add_subject(s, ModelEntry(name=n, source="fn", model_kind="callable")).id for n in ("a", "b")]
        probe_set_id = s.scalars(select(ProbeSet.id)).one()
    few = ProbeOptions(threshold=61)
    assert fill_probe_cache(ray_local, reg, ids[0], probe_set_id, LengthBox(), few) == 0  # below threshold
    many = ProbeOptions(threshold=10, batch_size=16, concurrency=1)
    assert fill_probe_cache(ray_local, reg, ids[0], probe_set_id, LengthBox(), many) == 60
    distributed, queried = pseudo_labelled(reg, ids[0], probe_set_id, LengthBox()())
    assert queried == 0  # everything came from the SQL cache Ray Data filled
    single, queried = pseudo_labelled(reg, ids[1], probe_set_id, LengthBox()())
    assert queried == 60
    np.testing.assert_allclose([e["soft"] for e in distributed], [e["soft"] for e in single], rtol=1e-6)
    reg.close()


def test_the_cli_runs_a_catalogue_on_local_ray_with_sqlite(
    ray_local: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    assert main(["--home", str(home), "init"]) == 0
    path = write_catalogue(tmp_path, ["cb"], limit=16)
    capsys.readouterr()
    code = main(["--home", str(home), "ingest", "catalogue", str(path), "--ray", "--lease-s", "30", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["status"] == "done"
    by_key = {e["key"]: e["status"] for e in out["entries"]}
    assert by_key["embed/te/dataset/cb"] == "done" and by_key["embed/txt/dataset/cb"] == "done"
    reg = Registry.open(Settings.build(home=home))
    assert_clean(reg, out["job_id"], 2)
    reg.close()
