"""Measure catalogue throughput: single process vs Ray with 1 and 2 workers (docs/SCALING.md).

Run: ``FUTE_TEST_PG_URL=... .venv/bin/python -m tests.scale.throughput [--limit N] [--out FILE]``.
Each run gets a fresh PostgreSQL database and home; the embedding phase is timed from the end of
the set-up entries to the last embedding entry (worker start-up and surrogate loading included).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from ingest.engine import Engine
from ingest.job_file import load_catalogue
from ingest.jobs import run_catalogue
from ingest.ray_jobs import RayOptions, run_catalogue_ray
from ingest.ray_worker import WorkerOptions
from registry.api import Registry
from registry.models import JobEntry
from registry.settings import Settings
from tests.conftest import fresh_database

os.environ.setdefault("HF_HUB_OFFLINE", "1")
STARTERS = ["sst2", "drugreview-sentiment", "20newsgroups", "reuters-r8", "bbcnews", "election-tweets",
            "book-excerpts", "seinfeld-laughs", "mrpc", "rte", "cb", "boolq"]  # fmt: skip
TASKEMB = {"train_steps": 2, "batch_size": 8, "grad_examples": 16, "grad_batch_size": 8, "dim": 256}


def catalogue(folder: Path, limit: int, names: list[str], taskemb: bool = False) -> Path:
    """Every starter dataset in a TextEmb space (and a small TaskEmb space with ``taskemb``: on a
    shared 2-core machine a TaskEmb entry takes minutes, too long for three runs)."""
    import yaml

    body = {
        "spaces": [{"name": "txt", "method": "textemb"}]
        + ([{"name": "te", "method": "taskemb", "params": TASKEMB}] if taskemb else []),
        "datasets": [{"source": f"pkg:{n}", "name": n, "limit": limit} for n in names],
    }
    path = folder / "catalogue.yaml"
    path.write_text(yaml.safe_dump(body), encoding="utf-8")
    return path


def embed_phase(reg: Registry, job_id: int) -> tuple[float, int]:
    """(seconds from the last set-up entry to the last embedding entry, embedding entries done)."""
    with reg.db.read() as s:
        rows = s.execute(
            select(JobEntry.key, JobEntry.updated_at, JobEntry.status).where(JobEntry.job_id == job_id)
        ).all()
        _ = s.scalar(select(func.count()).select_from(JobEntry))
    setup_end = max(t for k, t, _ in rows if not k.startswith("embed/"))
    embeds = [(t, st) for k, t, st in rows if k.startswith("embed/")]
    return (max(t for t, _ in embeds) - setup_end).total_seconds(), sum(st == "done" for _, st in embeds)


def one_run(mode: str, workers: int, limit: int, n_datasets: int, lease_s: float) -> dict[str, Any]:
    """Run the catalogue once on a fresh database; returns the timing row."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        url, drop = fresh_database("postgresql", folder)
        reg = Registry(Settings.build(home=folder / "home", db=url))
        reg.init()
        try:
            path = catalogue(folder, limit, STARTERS[:n_datasets])
            start = time.perf_counter()
            if mode == "single":
                report = run_catalogue(
                    reg, Engine(reg, threads=workers), load_catalogue(path), show_progress=False
                )
            else:
                import ray

                ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
                opts = RayOptions(worker=WorkerOptions(lease_s=lease_s, threads=1))
                report = run_catalogue_ray(
                    reg, Engine(reg, threads=1), load_catalogue(path), opts, show=False
                )
                ray.shutdown()
            total = time.perf_counter() - start
            seconds, done = embed_phase(reg, report.job_id)
        finally:
            reg.close()
            drop()
    return {"mode": mode, "workers": workers, "status": report.status, "entries": done,
            "embed_seconds": round(seconds, 1), "entries_per_min": round(60 * done / seconds, 2),
            "job_seconds": round(total, 1)}  # fmt: skip


def main() -> None:
    """Run single (2 torch threads), Ray x1 and Ray x2 (1 thread each) and print/save the rows."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=256)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--datasets", type=int, default=len(STARTERS), help="first N starter datasets")
    ap.add_argument("--lease-s", type=float, default=120.0)
    args = ap.parse_args()
    rows = []
    for mode, workers in (("single", 2), ("ray", 1), ("ray", 2)):
        rows.append(one_run(mode, workers, args.limit, args.datasets, args.lease_s))
        print(json.dumps(rows[-1]), flush=True)
    if args.out:
        args.out.write_text(json.dumps({"limit": args.limit, "cpus": os.cpu_count(), "runs": rows}, indent=1))


if __name__ == "__main__":
    main()
