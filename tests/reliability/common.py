"""Shared pieces of the reliability suite: mode (reduced / full), figures on disk, state hashes.

Reduced mode (the default, what CI runs) uses small counts; full mode (``FUTE_RELIABILITY_FULL=1``
or ``python -m tests.reliability.run --full``) uses the counts of issue 6 and its figures go into
``docs/RELIABILITY.md``.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, inspect, text

ROOT = Path(__file__).resolve().parents[2]
RESULTS = Path(__file__).resolve().parent / "results"
PYTHON = sys.executable


def full_mode() -> bool:
    """Whether the full-count mode is selected (``FUTE_RELIABILITY_FULL=1``)."""
    return os.environ.get("FUTE_RELIABILITY_FULL", "") not in ("", "0")


def child_env(**extra: str) -> dict[str, str]:
    """Environment of a child process: offline, quiet, one torch thread (the machine is shared)."""
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TRANSFORMERS_VERBOSITY": "error",
        "FUTE_THREADS": "1",
        "PYTHONPATH": str(ROOT),
    }
    env.update(extra)
    return env


def write_figures(part: str, figures: dict[str, Any]) -> Path:
    """Write one part's figures as JSON: ``results/<part>.json`` (full) or ``results/reduced/``.

    Args:
        part: Name of the part (``crash``, ``concurrency``...).
        figures: The measured figures.

    Returns:
        The file written.
    """
    folder = RESULTS if full_mode() else RESULTS / "reduced"
    folder.mkdir(parents=True, exist_ok=True)
    stamp = {
        "mode": "full" if full_mode() else "reduced",
        "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores (shared with other work)",
    }
    path = folder / f"{part}.json"
    path.write_text(json.dumps({**stamp, **figures}, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def table_hashes(db_url: str) -> dict[str, str]:
    """sha256 of every table's rows, in a fixed order (an ordered dump).

    Args:
        db_url: SQLAlchemy URL of the registry database.

    Returns:
        Table name -> hex digest.
    """
    engine = create_engine(db_url)
    try:
        out = {}
        with engine.connect() as conn:
            for table in sorted(inspect(conn).get_table_names()):
                cols = [c["name"] for c in inspect(conn).get_columns(table)]
                quoted = ", ".join(f'"{c}"' for c in cols)
                rows = conn.execute(text(f'SELECT {quoted} FROM "{table}"')).all()
                digest = hashlib.sha256()
                for line in sorted(repr(tuple(row)) for row in rows):  # sorted here: JSON has no SQL order
                    digest.update(line.encode())
                out[table] = digest.hexdigest()
        return out
    finally:
        engine.dispose()


def file_hashes(home: Path) -> dict[str, str]:
    """sha256 of every file under ``home``.

    The SQLite files are left out (``table_hashes`` covers their content; a checkpoint rewrites
    their bytes without changing a row), and so are the empty ``write.lock`` files that a writer
    creates to take its lock and never deletes (``filelock`` on POSIX), and the persisted filter
    columns (``*.fcol``) that any filtered search may write: a cache of SQL rows, stamped with
    the SQL state it reflects and checked by ``fute maintain verify`` (``registry.filter_store``).
    """
    out = {}
    for path in sorted(home.rglob("*")):
        skip = path.name.startswith("registry.db") or path.suffix in (".lock", ".fcol")
        if path.is_file() and not skip:
            out[str(path.relative_to(home))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out
