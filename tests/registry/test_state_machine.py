"""Hypothesis state machine over the vector store: add / delete / upsert / snapshot / restart.

Invariants after every step: SQL ids == index ids, ntotal == row count, and every stored vector's
top-1 neighbour is itself (its own subject, score 1).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from registry import faiss_index as fx
from registry.api import EmbeddingItem, Registry
from registry.embeddings import embedding_ids
from registry.spaces import get_space
from tests.conftest import fresh_database
from tests.registry.helpers import make_datasets, open_registry, space

N_SUBJECTS = 24
DIM = 8


def _vector(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=DIM).astype(np.float32)


def machine_for(backend: str, index_type: str) -> type[RuleBasedStateMachine]:
    """A state machine class bound to one backend and index type."""

    class StoreMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.folder = Path(tempfile.mkdtemp(prefix="fute-sm-"))
            self.url, self.drop = fresh_database(backend, self.folder)
            self.reg = open_registry(self.folder, self.url)
            self.subjects = make_datasets(self.reg, N_SUBJECTS)
            space(self.reg, "s", dim=DIM, index_type=index_type, ivf_nlist=2, ivf_min_train=8)
            self.model: dict[int, int] = {}  # subject id -> seed of its current vector

        @initialize()
        def start(self) -> None:
            self.model.clear()

        def teardown(self) -> None:
            self.reg.close()
            self.drop()
            shutil.rmtree(self.folder, ignore_errors=True)

        @rule(
            picks=st.lists(st.integers(0, N_SUBJECTS - 1), min_size=1, max_size=5, unique=True),
            seed=st.integers(0, 10**6),
        )
        def add_or_upsert(self, picks: list[int], seed: int) -> None:
            items = [EmbeddingItem(self.subjects[p], _vector(seed * 100 + p)) for p in picks]
            self.reg.put_embeddings("s", items)
            self.model.update({self.subjects[p]: seed * 100 + p for p in picks})

        @rule(picks=st.lists(st.integers(0, N_SUBJECTS - 1), min_size=1, max_size=4, unique=True))
        def delete(self, picks: list[int]) -> None:
            self.reg.delete_embeddings("s", [self.subjects[p] for p in picks])
            for p in picks:
                self.model.pop(self.subjects[p], None)

        @rule()
        def snapshot(self) -> None:
            self.reg.rebuild("s")

        @rule()
        def restart(self) -> None:
            self.reg.close()
            self.reg = Registry.open(self.reg.settings)

        @invariant()
        def ids_match(self) -> None:
            with self.reg.db.read() as s:
                sp = get_space(s, "s")
                sql = embedding_ids(s, sp.id)
                index = self.reg.indexes.load(s, sp).index
                assert np.array_equal(sql, fx.all_ids(index))
                assert index.ntotal == len(sql) == len(self.model)

        @invariant()
        def top1_is_self(self) -> None:
            for sid, seed in self.model.items():
                hit = self.reg.search("s", _vector(seed), k=1)[0][0]
                assert hit.subject_id == sid and abs(hit.score - 1.0) < 1e-4

    return StoreMachine


def test_store_state_machine_flat(backend: str) -> None:
    run_state_machine_as_test(
        machine_for(backend, "flat"),
        settings=settings(
            max_examples=15, stateful_step_count=12, deadline=None, suppress_health_check=list(HealthCheck)
        ),
    )


def test_store_state_machine_ivf(backend: str) -> None:
    run_state_machine_as_test(
        machine_for(backend, "ivf"),
        settings=settings(
            max_examples=10, stateful_step_count=12, deadline=None, suppress_health_check=list(HealthCheck)
        ),
    )
