"""Crash trials: ``kill -9`` at a random moment of a real ingestion job, then restart it.

Each trial copies an initialised registry home, starts ``fute ingest catalogue`` (real MiniLM
surrogate, packaged datasets subsampled to 16 examples, two TextEmb spaces), waits a random time
within the length of an uninterrupted run, freezes the child (SIGSTOP) so that what is committed
cannot change, reads every committed embedding from SQL, and kills it (SIGKILL). The job is then
run again to completion and checked: exit 0 and nothing failed, ``verify`` clean, every embedding
committed before the kill still there (same row id, same bytes), one row per (space, subject),
every vector its own top-1, no job left ``running``.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from sqlalchemy import select

from registry.api import Registry
from registry.models import Embedding, EmbeddingSpace, Job
from registry.settings import Settings
from tests.reliability.common import PYTHON, ROOT, child_env

DATASETS = {"sst2": "pkg:sst2", "rte": "pkg:rte", "cb": "pkg:cb", "mrpc": "pkg:mrpc"}
SPACES = {"t8": 8, "t4": 4}  # two TextEmb spaces (max_examples) -> two fingerprints, two indexes
EXPECTED = len(DATASETS) * len(SPACES)
Row = tuple[str, int, int, str]  # (space name, subject id, embedding id, sha256 of the vector bytes)


@dataclass
class Trial:
    """What one trial saw."""

    index: int
    kill_at_s: float
    killed: bool = False
    committed_before: int = 0
    lost: int = 0
    duplicates: int = 0
    verify_ok: bool = False
    resumed: bool = False
    top1_misses: int = 0
    jobs_running: int = 0
    restart_s: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        """No loss, no duplicate, verify clean, the job finished, every vector found."""
        return (
            self.verify_ok
            and self.resumed
            and not (self.lost or self.duplicates or self.top1_misses or self.jobs_running)
        )


def write_catalogue(folder: Path) -> Path:
    """The catalogue of every trial (packaged data only: nothing outside the product is read)."""
    body = {
        "spaces": [
            {"name": s, "method": "textemb", "params": {"max_examples": n}} for s, n in SPACES.items()
        ],
        "datasets": [{"source": src, "name": name, "limit": 16} for name, src in DATASETS.items()],
    }
    path = folder / "catalogue.yaml"
    path.write_text(yaml.safe_dump(body), encoding="utf-8")
    return path


def job_command(home: Path, catalogue: Path) -> list[str]:
    """``fute --home HOME ingest catalogue FILE --json`` as a child process."""
    return [PYTHON, "-m", "fute.cli", "--home", str(home), "ingest", "catalogue", str(catalogue), "--json"]


def committed_rows(home: Path) -> set[Row]:
    """Every embedding committed in the registry at ``home``, read from SQL."""
    reg = Registry.open(Settings.build(home=home))
    try:
        with reg.db.read() as s:
            rows = s.execute(
                select(EmbeddingSpace.name, Embedding.subject_id, Embedding.id, Embedding.vector).join(
                    EmbeddingSpace, EmbeddingSpace.id == Embedding.space_id
                )
            ).all()
        return {(sp, sid, eid, hashlib.sha256(vec).hexdigest()) for sp, sid, eid, vec in rows}
    finally:
        reg.close()


def run_to_completion(home: Path, catalogue: Path) -> tuple[int, dict[str, Any], float]:
    """Run the job uninterrupted; returns (exit code, its JSON report or {}, seconds)."""
    start = time.monotonic()
    done = subprocess.run(
        job_command(home, catalogue), cwd=ROOT, env=child_env(), capture_output=True, text=True, timeout=900
    )
    try:
        report = json.loads(done.stdout)
    except ValueError:
        report = {"stderr": done.stderr[-2000:]}
    return done.returncode, report, time.monotonic() - start


def wait_stopped(pid: int, timeout_s: float = 10.0) -> None:
    """Wait until ``pid`` is really stopped: a signal is delivered asynchronously, and on a busy
    machine the child can run (and commit) for a moment after ``kill`` returned."""
    deadline = time.monotonic() + timeout_s
    stat = Path(f"/proc/{pid}/stat")
    while time.monotonic() < deadline:
        if stat.read_text().rpartition(")")[2].split()[0] in ("T", "t"):
            return
        time.sleep(0.001)
    raise RuntimeError(f"process {pid} did not stop within {timeout_s} s")


def kill_at(home: Path, catalogue: Path, delay_s: float, log: Path) -> tuple[bool, set[Row]]:
    """Start the job, SIGSTOP it after ``delay_s``, read what is committed, SIGKILL it.

    Returns:
        (whether the kill landed while the job ran, rows committed at the kill).
    """
    with log.open("wb") as out:
        proc = subprocess.Popen(
            job_command(home, catalogue), cwd=ROOT, env=child_env(), stdout=subprocess.DEVNULL, stderr=out
        )
    time.sleep(delay_s)
    if proc.poll() is not None:
        return False, committed_rows(home)
    os.kill(proc.pid, signal.SIGSTOP)  # frozen: no commit can land between the read and the kill
    try:
        wait_stopped(proc.pid)
        rows = committed_rows(home)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    return True, rows


def check_after(home: Path, trial: Trial, before: set[Row]) -> None:
    """Fill the trial's figures from the registry after the restart finished."""
    after = committed_rows(home)
    trial.lost = len(before - after)
    pairs = [(sp, sid) for sp, sid, _, _ in after]
    trial.duplicates = len(pairs) - len(set(pairs))
    if len(after) != EXPECTED:
        trial.resumed = False
        trial.problems.append(f"{len(after)} embeddings after restart, expected {EXPECTED}")
    reg = Registry.open(Settings.build(home=home))
    try:
        report = reg.verify()
        trial.verify_ok = report.ok
        trial.problems += [str(p) for p in report.problems]
        for sp, sid, _, _ in after:
            hit = reg.search(sp, reg.vector_of(sp, sid), k=1)[0]
            trial.top1_misses += int(not hit or hit[0].subject_id != sid)
        with reg.db.read() as s:
            trial.jobs_running = len(s.scalars(select(Job.id).where(Job.status == "running")).all())
    finally:
        reg.close()


def run_trial(template: Path, catalogue: Path, work: Path, index: int, delay_s: float) -> Trial:
    """One kill-and-restart trial in a fresh copy of ``template``."""
    home = work / f"trial-{index:03d}"
    shutil.copytree(template, home)
    trial = Trial(index=index, kill_at_s=round(delay_s, 2))
    trial.killed, before = kill_at(home, catalogue, delay_s, work / f"trial-{index:03d}.log")
    trial.committed_before = len(before)
    code, report, trial.restart_s = run_to_completion(home, catalogue)
    trial.resumed = code == 0 and report.get("counts", {}).get("failed") == 0
    if not trial.resumed:
        trial.problems.append(f"restart exit {code}: {json.dumps(report)[-1000:]}")
    check_after(home, trial, before)
    if trial.clean:
        shutil.rmtree(home, ignore_errors=True)  # a failed trial's home is kept for inspection
    return trial


def make_template(work: Path) -> Path:
    """An initialised, empty registry home that every trial copies."""
    template = work / "template"
    reg = Registry(Settings.build(home=template))
    reg.init()
    reg.close()
    return template


def calibrate(home: Path, catalogue: Path) -> tuple[float, float, float]:
    """One uninterrupted run, polling SQL every 0.1 s.

    Returns:
        (seconds to finish, seconds to the first committed embedding, seconds to the last).
    """
    start = time.monotonic()
    proc = subprocess.Popen(
        job_command(home, catalogue),
        cwd=ROOT,
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    first = last = 0.0
    seen = 0
    while proc.poll() is None:
        n = len(committed_rows(home)) if (home / "registry.db").exists() else 0
        now = time.monotonic() - start
        if n > seen:
            first, last, seen = first or now, now, n
        time.sleep(0.1)
    out, _ = proc.communicate()
    if proc.returncode != 0 or len(committed_rows(home)) != EXPECTED:
        raise RuntimeError(f"uninterrupted run failed ({proc.returncode}): {out[-2000:]!r}")
    return time.monotonic() - start, first, last


def kill_moment(rng: random.Random, index: int, full_s: float, first_s: float, last_s: float) -> float:
    """When to kill trial ``index``: even trials anywhere in the run, odd ones while it commits.

    Most of a small job's time is start-up (imports, loading the surrogate), so uniform moments alone
    rarely land between two commits; odd trials aim at the committing window seen in calibration.
    """
    if index % 2 == 0:
        return rng.uniform(0.2, full_s)
    return rng.uniform(max(0.2, first_s - 1.0), last_s + 0.5)


def run_crash_trials(
    work: Path, n_trials: int, seed: int = 2402, budget_s: float | None = None
) -> dict[str, Any]:
    """Calibrate on one uninterrupted run, then run up to ``n_trials`` kill-and-restart trials.

    Args:
        work: Scratch folder.
        n_trials: Trials wanted.
        seed: Seed of the kill moments.
        budget_s: Stop starting trials after this many seconds (the true count is reported).

    Returns:
        Figures: trials, kills landed, committed before kills, lost, duplicates, failures.
    """
    start = time.monotonic()
    template, catalogue = make_template(work), write_catalogue(work)
    calib = work / "calibration"
    shutil.copytree(template, calib)
    full_s, first_s, last_s = calibrate(calib, catalogue)
    rng = random.Random(seed)
    trials: list[Trial] = []
    for i in range(n_trials):
        if budget_s is not None and time.monotonic() - start > budget_s:
            break
        delay = kill_moment(rng, i, full_s, first_s, last_s)
        trials.append(run_trial(template, catalogue, work, i, delay))
    return {
        **summarise(trials, full_s, seed),
        "commit_window_s": [round(first_s, 1), round(last_s, 1)],
        "wall_s": round(time.monotonic() - start),
    }


def summarise(trials: list[Trial], full_s: float, seed: int) -> dict[str, Any]:
    """Totals over the trials, with every trial's record."""
    landed = [t for t in trials if t.killed]
    committed = np.array([t.committed_before for t in landed] or [0])
    return {
        "trials": len(trials),
        "kills_landed_mid_job": len(landed),
        "kills_with_partial_commits": sum(0 < t.committed_before < EXPECTED for t in landed),
        "embeddings_per_job": EXPECTED,
        "committed_before_kill_total": int(committed.sum()),
        "lost": sum(t.lost for t in trials),
        "duplicates": sum(t.duplicates for t in trials),
        "verify_failures": sum(not t.verify_ok for t in trials),
        "resume_failures": sum(not t.resumed for t in trials),
        "top1_misses": sum(t.top1_misses for t in trials),
        "jobs_left_running": sum(t.jobs_running for t in trials),
        "clean_trials": sum(t.clean for t in trials),
        "uninterrupted_run_s": round(full_s, 1),
        "median_restart_s": round(float(np.median([t.restart_s for t in trials] or [0.0])), 1),
        "seed": seed,
        "records": [asdict(t) for t in trials],
    }
