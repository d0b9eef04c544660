"""Child process of the random-kill test: embeds subjects d0..d(N-1) in batches of 3, skipping
those already stored (so a restarted child resumes), printing each committed batch.

Usage: python -m tests.registry.writer_child HOME DB_URL N PAUSE_S

PAUSE_S stands in for the embedding work a real ingestion job does between writes.
"""

from __future__ import annotations

import sys
import time

from sqlalchemy import select

from registry.api import EmbeddingItem, Registry
from registry.models import Embedding, Subject
from registry.settings import Settings
from tests.registry.helpers import vec


def main() -> None:
    home, db_url, n, pause = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    reg = Registry.open(Settings.build(home=home, db=db_url))
    with reg.db.read() as s:
        ids = {row.name: row.id for row in s.scalars(select(Subject))}
        done = set(s.scalars(select(Embedding.subject_id)).all())
    todo = [ids[f"d{i}"] for i in range(n) if ids[f"d{i}"] not in done]
    for start in range(0, len(todo), 3):
        time.sleep(pause)
        batch = todo[start : start + 3]
        reg.put_embeddings("s", [EmbeddingItem(sid, vec(sid)) for sid in batch])
        print("committed", *batch, flush=True)


if __name__ == "__main__":
    main()
