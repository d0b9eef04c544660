"""Approximate indexes per space: IVF-PQ trained from SQL in batches, recall against exact search."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fute.cli import main
from registry import faiss_index as fx
from registry.api import EmbeddingItem
from registry.errors import ConfigError
from registry.recall import measure_recall
from registry.spaces import get_space
from tests.registry.helpers import make_datasets, open_registry, space


def _clustered(n: int, dim: int, seed: int = 0) -> np.ndarray:
    """Vectors around 20 centres (real embeddings are clustered; uniform noise is IVF's worst case)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(20, dim))
    return (centres[rng.integers(0, 20, n)] + 0.3 * rng.normal(size=(n, dim))).astype(np.float32)


def test_ivfpq_is_trained_from_sql_and_recall_is_measured(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home, url = tmp_path / "home", f"sqlite:///{tmp_path / 'r.db'}"
    reg = open_registry(home, url)
    ids = make_datasets(reg, 1200)
    params = {"ivf_min_train": 1000, "ivf_nlist": 16, "ivf_nprobe": 4, "pq_nbits": 8, "pq_m": 16}
    name = space(reg, "pq", dim=32, index_type="ivfpq", **params)
    exact = space(reg, "flat", dim=32)
    vecs = _clustered(len(ids), 32)
    for sp in (name, exact):
        for start in (0, 600):  # the second write reaches min_train: rebuilt from SQL as IVF-PQ
            part = ids[start : start + 600]
            reg.put_embeddings(sp, [EmbeddingItem(s, vecs[i + start]) for i, s in enumerate(part)])
    with reg.db.read() as session:
        pq_space = get_space(session, name)
        index = reg.indexes.load(session, pq_space).index
        assert isinstance(index, fx.faiss.IndexIVFPQ) and index.ntotal == len(ids)
        approx = measure_recall(session, pq_space, index, sample=100, k=10)
        flat_space = get_space(session, exact)
        perfect = measure_recall(session, flat_space, reg.indexes.load(session, flat_space).index, sample=100)
    assert perfect.recall == 1.0  # exact search agrees with the streamed exact top-k
    assert 0.5 < approx.recall < 1.0  # compressed codes: close, not exact
    reg.close()
    capsys.readouterr()
    cli = ["--home", str(home), "--db", url, "maintain", "recall", "--space", name, "--sample", "100"]
    assert main([*cli, "--json"]) == 0
    out = capsys.readouterr().out
    assert '"index_class": "IndexIVFPQ"' in out and f'"recall": {approx.recall}' in out
    assert main([*cli, "--min", "0.999"]) == 1  # below the asked-for recall: exit 1


def test_pq_subquantizers_divide_the_dimension() -> None:
    assert fx.pq_subquantizers(384, 0) == 64 and fx.pq_subquantizers(32, 0) == 8
    assert fx.pq_subquantizers(30, 0) == 6 and fx.pq_subquantizers(16, 8) == 8


def test_recall_of_an_empty_space_names_the_fix(tmp_path: Path) -> None:
    reg = open_registry(tmp_path / "home", f"sqlite:///{tmp_path / 'r.db'}")
    name = space(reg, "e", dim=8, index_type="ivf")
    with reg.db.read() as session, pytest.raises(ConfigError, match="embed something"):
        sp = get_space(session, name)
        measure_recall(session, sp, reg.indexes.load(session, sp).index)
    reg.close()
