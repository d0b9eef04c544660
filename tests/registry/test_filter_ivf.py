"""Filtered search on IVF spaces: calibrated nprobe, exact when asked for recall 1.0 or cheaper."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import insert

from registry.api import EmbeddingItem, Registry
from registry.errors import ConfigError
from registry.filter_search import plan as plan_filter
from registry.filters import SearchFilter
from registry.models import Dataset, Subject, Tag
from registry.spaces import get_space
from tests.registry.helpers import open_registry, space

N, DIM, K = 20_000, 8, 10  # half of N passes HALF: above filter_ivf.EXACT_MAX
HALF = SearchFilter(tags_all=(("family", "even"),))


def _clustered(n: int, seed: int) -> np.ndarray:
    """n points around the 64 fixed centres (the stored vectors and fresh queries alike)."""
    centres = np.random.default_rng(0).normal(size=(64, DIM))
    rng = np.random.default_rng(seed)
    return (centres[rng.integers(64, size=n)] + 0.3 * rng.normal(size=(n, DIM))).astype(np.float32)


def _registry(tmp_path: Path, recall: float | None) -> tuple[Registry, np.ndarray]:
    reg = open_registry(tmp_path, f"sqlite:///{tmp_path / 'r.db'}")
    with reg.db.transaction() as session:  # bulk rows: the ORM path would take minutes here
        session.execute(
            insert(Subject.__table__),
            [{"id": i + 1, "kind": "dataset", "name": f"d{i}"} for i in range(N)],
        )
        session.execute(
            insert(Dataset.__table__),
            [
                {
                    "id": i + 1,
                    "source": "t",
                    "task_format": "classification",
                    "n_examples": 1,
                    "content_hash": f"h{i}",
                }
                for i in range(N)
            ],
        )
        tags = [
            {"subject_id": i + 1, "key": "family", "value": "even" if i % 2 == 0 else "odd"} for i in range(N)
        ]
        session.execute(insert(Tag.__table__), tags)
    params: dict[str, object] = {"ivf_nlist": 64, "ivf_nprobe": 2, "ivf_min_train": 1024}
    if recall is not None:
        params["ivf_filter_recall"] = recall
    space(reg, dim=DIM, index_type="ivf", **params)
    x = _clustered(N, 1)
    reg.put_embeddings("s", [EmbeddingItem(i + 1, x[i]) for i in range(N)])
    return reg, x


def _brute(x: np.ndarray, q: np.ndarray, allowed: np.ndarray) -> list[int]:
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    scores = xn[allowed] @ (q / np.linalg.norm(q))
    return [int(allowed[i]) + 1 for i in np.argsort(-scores, kind="stable")[:K]]


def _choice(reg: Registry, flt: SearchFilter) -> dict[str, object]:
    with reg.db.read() as session:
        sp = get_space(session, "s")
        loaded = reg.indexes.load(session, sp)
        resolved = plan_filter(reg.filters.get(session, sp, loaded), flt)
    assert resolved.ivf is not None
    return resolved.ivf.choice.to_dict()


@pytest.mark.parametrize("flt", [HALF, SearchFilter(exclude_subject_ids=(1, 2, 3))])
def test_recall_target_one_returns_the_brute_force_answer(tmp_path: Path, flt: SearchFilter) -> None:
    reg, x = _registry(tmp_path, recall=1.0)
    allowed = np.arange(0, N, 2) if flt is HALF else np.arange(3, N)
    queries = _clustered(25, 7)
    for q in queries:
        got = [h.subject_id for h in reg.search("s", q, k=K, flt=flt)[0]]
        assert got == _brute(x, q, allowed)
    assert _choice(reg, flt)["path"] == "exact"


def test_the_default_target_probes_fewer_lists_and_keeps_recall(tmp_path: Path) -> None:
    reg, x = _registry(tmp_path, recall=None)
    choice = _choice(reg, HALF)
    assert choice["path"] == "ivf" and isinstance(choice["nprobe"], int) and choice["nprobe"] < 32
    assert float(choice["calibrated_recall"]) >= 0.95  # type: ignore[arg-type]
    allowed = np.arange(0, N, 2)
    recalls = []
    for q in _clustered(60, 11):  # fresh queries, not the calibration sample
        got = {h.subject_id for h in reg.search("s", q, k=K, flt=HALF)[0]}
        assert all((s - 1) % 2 == 0 for s in got)  # the filter holds exactly
        recalls.append(len(got & set(_brute(x, q, allowed))) / K)
    assert np.mean(recalls) >= 0.95
    # A similarity query's exclusions reuse the same calibrated plan and never return the excluded.
    excl = SearchFilter(tags_all=HALF.tags_all, exclude_subject_ids=(1, 3, 5))
    hits = reg.search("s", x[0], k=K, flt=excl)[0]
    assert len(hits) == K and not {1, 3, 5} & {h.subject_id for h in hits}


@pytest.mark.parametrize("bad", ["0.9", 0, -1, 1.5, True])
def test_a_bad_filter_recall_is_refused_and_nothing_is_stored(tmp_path: Path, bad: object) -> None:
    reg = open_registry(tmp_path, f"sqlite:///{tmp_path / 'r.db'}")
    with pytest.raises(ConfigError, match="ivf_filter_recall must be a number in"):
        space(reg, dim=DIM, index_type="ivf", ivf_filter_recall=bad)
    assert reg.spaces() == []
