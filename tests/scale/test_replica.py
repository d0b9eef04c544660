"""Read replicas: published snapshots opened memory-mapped and read-only (FUTE_INDEX_MMAP)."""

from __future__ import annotations

from pathlib import Path

import pytest

from registry.api import Registry
from registry.errors import ConfigError
from registry.settings import Settings
from tests.registry.helpers import make_datasets, open_registry, put, space, vec


def _mapped_files() -> str:
    return Path("/proc/self/maps").read_text(encoding="utf-8")


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs /proc (Linux) to see mappings")
def test_a_replica_maps_the_published_snapshot_and_follows_new_ones(tmp_path: Path, db_url: str) -> None:
    writer = open_registry(tmp_path / "home", db_url)
    ids = make_datasets(writer, 60)
    name = space(writer, dim=16)
    put(writer, name, ids[:40])
    replica = Registry(Settings(home=tmp_path / "home", db_url=db_url, index_mmap=True))
    want = writer.search(name, vec(ids[3]), k=5)
    got = replica.search(name, vec(ids[3]), k=5)
    assert [h.subject_id for h in got[0]] == [h.subject_id for h in want[0]] and got[0][0].subject_id == ids[
        3
    ]
    index_files = list((tmp_path / "home" / "indexes").rglob("index.*.faiss"))
    assert len(index_files) == 1 and str(index_files[0]) in _mapped_files()  # really memory-mapped
    put(writer, name, ids[40:])  # the writer publishes a newer generation
    hits = replica.search(name, vec(ids[50]), k=1)
    assert hits[0][0].subject_id == ids[50]
    with pytest.raises(ConfigError, match="FUTE_INDEX_MMAP"):
        put(replica, name, ids[:1])
    replica.close()
    writer.close()
