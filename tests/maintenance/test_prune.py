"""fute maintain prune: orphan rows, unreferenced probe sets and cached outputs, stale files."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from registry.models import BlackBoxOutput, Embedding, ProbeSet
from registry.prune import prune
from registry.subjects import add_probe_set
from tests.maintenance.helpers import answers, build_catalogue
from tests.registry.helpers import open_registry


def _count(reg, model) -> int:  # type: ignore[no-untyped-def]
    with reg.db.read() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_prune_removes_only_the_unreferenced(db_url: str, tmp_path: Path) -> None:
    reg = open_registry(tmp_path / "h", db_url)
    build_catalogue(reg, n=12)
    before = answers(reg)
    with reg.db.transaction() as s:
        add_probe_set(s, "unused", [("x", None), ("y", None)])
    folder = reg.indexes.folder(1)
    (folder / "index.0.faiss").write_bytes(b"old generation")
    (folder / "index.9.faiss.tmp").write_bytes(b"half-written")
    (reg.settings.index_dir / "space-99").mkdir()
    (reg.settings.index_dir / "junk.txt").write_text("stray")
    assert not reg.verify().ok

    assert prune(reg, dry_run=True, keep_probe_sets=["unused"]).probe_sets == []
    dry = prune(reg, dry_run=True)
    assert dry.probe_sets == ["unused"] and len(dry.files) == 4 and dry.cached_outputs == 0
    assert (folder / "index.0.faiss").exists() and _count(reg, ProbeSet) == 2  # dry run changes nothing

    done = prune(reg)
    assert done.probe_sets == ["unused"] and sorted(done.files) == sorted(dry.files)
    assert _count(reg, ProbeSet) == 1 and _count(reg, BlackBoxOutput) == 4  # "u" is used by space l2
    assert reg.verify().ok and answers(reg) == before
    assert prune(reg).empty  # nothing left: a re-run (or a resumed run) is a no-op


def test_prune_embeddings_of_deleted_subjects(tmp_path: Path) -> None:
    # SQLite without foreign keys (an old tool, a manual delete) leaves orphan vectors behind.
    reg = open_registry(tmp_path / "h", f"sqlite:///{tmp_path / 'r.db'}")
    ids = build_catalogue(reg, n=12)
    raw = reg.db.engine.raw_connection()  # autocommit (pysqlite's isolation_level is None)
    try:
        raw.execute("PRAGMA foreign_keys = OFF")
        raw.execute("DELETE FROM datasets WHERE id = ?", (ids[0],))
        raw.execute("DELETE FROM subjects WHERE id = ?", (ids[0],))
    finally:
        raw.close()
    assert _count(reg, Embedding) == 25
    report = prune(reg)
    assert len(report.orphan_embeddings) == 2 and _count(reg, Embedding) == 23
    assert reg.verify().ok
    assert all(h.subject_id != ids[0] for h in reg.search("flat", [1.0] * 16, k=20)[0])
