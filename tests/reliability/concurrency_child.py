"""Child process of the concurrency test: one writer or one reader for a fixed time.

Usage: python -m tests.reliability.concurrency_child ROLE HOME DB_URL SECONDS SEED

The writer embeds the datasets d0.. (made by the parent) three at a time and, one write in three,
upserts three stored subjects with their next version; version v of subject s is ``vec(s + 1000 v)``.
A reader repeatedly checks what it reads: the embedding count never goes down, a subject's stored
vector is one of the vectors the writer could have written for it, that vector's top-1 is the
subject itself, and every hit of a random query is a subject SQL holds a vector for.
Each prints one JSON line of counts at the end; an exception is counted, never fatal.
"""

from __future__ import annotations

import json
import random
import sys
import time
from typing import Any

import numpy as np
from sqlalchemy import select

from registry.api import EmbeddingItem, Registry
from registry.models import Embedding, Subject
from registry.settings import Settings
from tests.registry.helpers import vec

VERSION_STEP = 1000
MAX_VERSIONS = 200


def unit(v: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """L2-normalised copy (the space is cosine: the registry stores unit vectors)."""
    return v / np.linalg.norm(v)


def count_error(counts: dict[str, Any], exc: Exception) -> None:
    """Count an exception, separately when it is SQLite's 'database is locked'."""
    counts["errors"] += 1
    counts["locked"] += int("database is locked" in str(exc))
    if len(counts["examples"]) < 5:
        counts["examples"].append(f"{type(exc).__name__}: {str(exc)[:300]}")


def writer(reg: Registry, seconds: float, rng: random.Random) -> dict[str, Any]:
    """Insert new subjects and upsert stored ones until the time is up."""
    counts: dict[str, Any] = {"role": "writer", "writes": 0, "errors": 0, "locked": 0, "examples": []}
    with reg.db.read() as s:
        todo = [row.id for row in s.scalars(select(Subject).order_by(Subject.id))]
    version: dict[int, int] = {}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if todo and (counts["writes"] % 3 != 2 or not version):
            batch, todo = todo[:3], todo[3:]
        else:
            batch = rng.sample(sorted(version), min(3, len(version)))
        try:
            nxt = {sid: version.get(sid, -1) + 1 for sid in batch}
            if max(nxt.values()) >= MAX_VERSIONS:
                continue
            reg.put_embeddings(
                "s", [EmbeddingItem(sid, vec(sid + VERSION_STEP * v)) for sid, v in nxt.items()]
            )
            version.update(nxt)
            counts["writes"] += 1
        except Exception as exc:  # counted: the figure is the number of errors
            count_error(counts, exc)
        time.sleep(0.01)
    counts["stored"] = len(version)
    return counts


def check_subject(reg: Registry, sid: int, counts: dict[str, Any]) -> None:
    """The stored vector is a version the writer wrote, and its top-1 is the subject itself."""
    got = reg.vector_of("s", sid)
    if not any(np.allclose(got, unit(vec(sid + VERSION_STEP * v)), atol=1e-5) for v in range(MAX_VERSIONS)):
        counts["violations"] += 1
        counts["examples"].append(f"subject {sid}: stored vector is none the writer wrote")
        return
    hit = reg.search("s", got, k=1)[0]
    # an upsert between the two reads replaces the vector: only a violation if it did not
    if (not hit or hit[0].subject_id != sid) and np.allclose(reg.vector_of("s", sid), got):
        counts["violations"] += 1
        counts["examples"].append(f"subject {sid}: top-1 is {hit[0].subject_id if hit else None}")


def reader_step(reg: Registry, rng: random.Random, counts: dict[str, Any]) -> None:
    """One round of reads: count, one subject, one random query."""
    with reg.db.read() as s:
        stored = s.scalars(select(Embedding.subject_id)).all()
    if len(stored) < counts["last_count"]:
        counts["violations"] += 1
        counts["examples"].append(f"count went down: {counts['last_count']} -> {len(stored)}")
    counts["last_count"] = len(stored)
    if not stored:
        return
    check_subject(reg, rng.choice(stored), counts)
    query = np.random.default_rng(rng.randrange(1 << 30)).normal(size=16).astype(np.float32)
    for hit in reg.search("s", query, k=5)[0]:
        with reg.db.read() as s:
            known = s.scalar(select(Embedding.id).where(Embedding.subject_id == hit.subject_id))
        counts["violations"] += int(known is None)
    counts["reads"] += 1


def reader(reg: Registry, seconds: float, rng: random.Random) -> dict[str, Any]:
    """Read and check until the time is up."""
    counts: dict[str, Any] = {
        "role": "reader",
        "reads": 0,
        "errors": 0,
        "locked": 0,
        "violations": 0,
        "last_count": 0,
        "examples": [],
    }
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            reader_step(reg, rng, counts)
        except Exception as exc:  # counted: the figure is the number of errors
            count_error(counts, exc)
    return counts


def main() -> None:
    role, home, db_url, seconds, seed = sys.argv[1:6]
    reg = Registry.open(Settings.build(home=home, db=db_url))
    run = writer if role == "writer" else reader
    print(json.dumps(run(reg, float(seconds), random.Random(int(seed)))), flush=True)
    reg.close()


if __name__ == "__main__":
    main()
