"""verify's fingerprint checks and stats' per-kind, per-space counts."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import update

from registry.api import EmbeddingItem
from registry.models import EmbeddingSpace
from tests.maintenance.helpers import build_catalogue
from tests.registry.helpers import open_registry, vec


def test_verify_finds_fingerprint_mismatches(db_url: str, tmp_path: Path) -> None:
    reg = open_registry(tmp_path / "h", db_url)
    ids = build_catalogue(reg, n=6)
    assert reg.verify().ok
    reg.put_embeddings("flat", [EmbeddingItem(ids[0], vec(5), {"space_fingerprint": "0" * 64})])
    problems = reg.verify().problems
    assert len(problems) == 1 and "another space fingerprint" in problems[0]
    with reg.db.transaction() as s:
        s.execute(update(EmbeddingSpace).where(EmbeddingSpace.name == "l2").values(params={"changed": 1}))
    problems = reg.verify().problems
    assert any("does not match its configuration" in p and "'l2'" in p for p in problems)


def test_stats_counts_per_kind_and_space(db_url: str, tmp_path: Path) -> None:
    reg = open_registry(tmp_path / "h", db_url)
    build_catalogue(reg, n=6)
    out = reg.stats()
    assert out["subjects"] == {"dataset": 6, "model": 1, "prompt": 0}
    by_space = {s["name"]: s for s in out["spaces"]}
    assert by_space["flat"]["by_kind"] == {"dataset": 6, "model": 0, "prompt": 0}
    assert by_space["l2"]["by_kind"] == {"dataset": 6, "model": 1, "prompt": 0}
    assert by_space["l2"]["metric"] == "l2" and out["index_types"] == ["flat"]
    assert out["cached_outputs"] == 4 and out["last_job"]["status"] == "done"
    assert out["disk_bytes"]["indexes"] > 0
