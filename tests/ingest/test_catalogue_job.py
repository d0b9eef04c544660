"""Catalogue jobs: per-entry isolation, resume after a kill -9, no duplicates, verify clean."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from registry.api import Registry
from registry.models import Embedding, Job, JobEntry
from registry.settings import Settings
from tests.ingest.conftest import SHARED, Run
from tests.shared_data import needs_shared

pytestmark = needs_shared("datasets/taskweb")

ROOT = Path(__file__).resolve().parents[2]
TINY_TASKEMB = {"train_steps": 2, "batch_size": 8, "grad_examples": 16, "grad_batch_size": 8, "dim": 256}


def catalogue(tmp_path: Path, tasks: list[str], extra: list[dict[str, object]] | None = None) -> Path:
    datasets = [{"source": str(SHARED / "taskweb" / f"{t}.jsonl"), "name": t, "limit": 24} for t in tasks]
    body = {
        "spaces": [
            {"name": "te", "method": "taskemb", "params": TINY_TASKEMB},
            {"name": "txt", "method": "textemb", "params": {"max_examples": 8}},
        ],
        "datasets": datasets + (extra or []),
    }
    path = tmp_path / "catalogue.yaml"
    path.write_text(yaml.safe_dump(body), encoding="utf-8")
    return path


def test_a_bad_entry_fails_alone_and_a_rerun_skips_what_is_done(
    fute: Run, tmp_path: Path, home: Path
) -> None:
    bad = tmp_path / "one_class.jsonl"
    bad.write_text(
        "".join(json.dumps({"text": f"t{i}", "label": 1}) + "\n" for i in range(5)), encoding="utf-8"
    )
    path = catalogue(tmp_path, ["rte", "cb"], [{"source": str(bad), "name": "broken"}])
    code, out, _ = fute("ingest", "catalogue", str(path), "--json")
    assert code == 1 and out["status"] == "failed"
    by_key = {e["key"]: e for e in out["entries"]}
    assert (
        by_key["dataset/broken"]["status"] == "failed"
        and "only one class" in by_key["dataset/broken"]["error"]
    )
    assert (
        by_key["embed/te/dataset/rte"]["status"] == "done"
        and by_key["embed/txt/dataset/cb"]["status"] == "done"
    )
    assert by_key["embed/te/dataset/broken"]["status"] == "failed"
    code, again, _ = fute("ingest", "catalogue", str(path), "--json")
    assert out["counts"] == {
        "done": 8,
        "skipped": 0,
        "failed": 3,
    }  # 2 spaces, 2 datasets, 4 vectors; broken x3
    assert again["counts"] == {"done": 0, "skipped": 8, "failed": 3}
    reg = Registry.open(Settings.build(home=home))
    with reg.db.read() as s:
        assert (
            s.scalar(select(func.count()).select_from(JobEntry).where(JobEntry.job_id == out["job_id"])) == 11
        )
    assert reg.verify().ok


@pytest.mark.slow
def test_kill_9_mid_job_then_rerun_finishes_without_duplicates(tmp_path: Path) -> None:
    home = tmp_path / "home"
    tasks = ["rte", "cb", "mrpc", "boolq", "wic", "qnli", "snli", "qqp"]
    path = catalogue(tmp_path, tasks)
    base = [sys.executable, "-m", "fute.cli", "--home", str(home)]
    assert subprocess.run([*base, "init"], cwd=ROOT, capture_output=True, timeout=120).returncode == 0
    proc = subprocess.Popen(
        [*base, "ingest", "catalogue", str(path), "--json"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    reg = Registry.open(Settings.build(home=home))
    deadline = time.time() + 300
    while time.time() < deadline:  # wait until some, but not all, embeddings are committed
        with reg.db.read() as s:
            n = s.scalar(select(func.count()).select_from(Embedding)) or 0
        if n >= 3:
            break
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    with reg.db.read() as s:
        before = s.scalar(select(func.count()).select_from(Embedding)) or 0
    assert 3 <= before < 2 * len(tasks)
    rerun = subprocess.run(
        [*base, "ingest", "catalogue", str(path), "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    report = json.loads(rerun.stdout)
    assert report["counts"]["failed"] == 0 and report["counts"]["skipped"] >= before
    with reg.db.read() as s:
        rows = s.execute(select(Embedding.space_id, Embedding.subject_id)).all()
        statuses = dict(s.execute(select(Job.id, Job.status)).all())
    assert len(rows) == len(set(rows)) == 2 * len(tasks)  # every (space, subject) exactly once
    assert sorted(statuses.values()) == ["cancelled", "done"]
    fresh = Registry.open(Settings.build(home=home))
    fresh.recover()
    assert fresh.verify().ok
