"""Child process of the crash-injection tests.

Usage: python -m tests.registry.crash_child HOME DB_URL STEP BATCH

Writes batches of 4 vectors (subjects are the datasets d0..d11 created by the parent; batch b
covers d(4b)..d(4b+3), the last batch upserts batch 0) and dies with ``os._exit(77)`` when the
write path reaches STEP during batch number BATCH. After each completed write it prints the
committed subject ids, so the parent knows what must survive.
"""

from __future__ import annotations

import os
import sys

from registry.api import EmbeddingItem, Registry
from registry.settings import Settings
from registry.subjects import get_subject
from tests.registry.helpers import vec

BATCHES = [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11], [0, 1, 2, 3]]


def main() -> None:
    home, db_url, target, crash_batch = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    state = {"batch": -1}

    def hook(step: str) -> None:
        if step == target and state["batch"] == crash_batch:
            os._exit(77)

    reg = Registry.open(Settings.build(home=home, db=db_url), hook=hook)
    with reg.db.read() as s:
        ids = {i: get_subject(s, f"d{i}", "dataset").id for i in range(12)}
    for b, batch in enumerate(BATCHES):
        state["batch"] = b
        salt = 500 if b == 3 else 0
        reg.put_embeddings("s", [EmbeddingItem(ids[i], vec(ids[i] + salt)) for i in batch])
        print("committed", b, flush=True)


if __name__ == "__main__":
    main()
