"""1 writer and 4 reader processes on one registry, on SQLite (WAL) and PostgreSQL.

Reduced: 10 s; full (``FUTE_RELIABILITY_FULL=1``): 60 s. Figures: writes, reads, errors,
"database is locked", consistency violations (see ``concurrency_child``).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tests.registry.helpers import make_datasets, open_registry, space
from tests.reliability.common import PYTHON, ROOT, child_env, full_mode, write_figures

READERS = 4


def run_processes(home: Path, db_url: str, seconds: float) -> list[dict[str, Any]]:
    """Start the writer and the readers together; returns each one's JSON counts."""
    roles = ["writer"] + ["reader"] * READERS
    procs = [
        subprocess.Popen(
            [
                PYTHON,
                "-m",
                "tests.reliability.concurrency_child",
                role,
                str(home),
                db_url,
                str(seconds),
                str(i),
            ],
            cwd=ROOT,
            env=child_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i, role in enumerate(roles)
    ]
    out = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=seconds + 300)
        assert proc.returncode == 0, stderr[-3000:]
        out.append(json.loads(stdout.strip().splitlines()[-1]))
    return out


def test_one_writer_four_readers(tmp_path: Path, db_url: str) -> None:
    seconds = 60.0 if full_mode() else 10.0
    reg = open_registry(tmp_path, db_url)
    make_datasets(reg, 500)  # more than the writer reaches; then it only upserts
    space(reg)
    reg.close()
    results = run_processes(tmp_path, db_url, seconds)
    writer, readers = results[0], results[1:]
    backend = db_url.split(":")[0].split("+")[0]
    figures = {
        "backend": backend,
        "seconds": seconds,
        "writes": writer["writes"],
        "subjects_stored": writer["stored"],
        "reads": sum(r["reads"] for r in readers),
        "errors": sum(r["errors"] for r in results),
        "database_is_locked": sum(r["locked"] for r in results),
        "violations": sum(r["violations"] for r in readers),
        "examples": [e for r in results for e in r["examples"]][:10],
    }
    write_figures(f"concurrency-{backend}", figures)
    assert figures["errors"] == figures["database_is_locked"] == figures["violations"] == 0, figures
    assert figures["writes"] >= 5 and all(r["reads"] >= 1 for r in readers), figures
    final = open_registry(tmp_path, db_url)
    assert final.verify().ok and final.spaces()[0][1] == writer["stored"]
