"""Damaged snapshots are detected by verify and recovered from SQL on open."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import update

from registry import snapshot as snap
from registry.api import Registry
from registry.models import EmbeddingSpace
from tests.registry.helpers import make_datasets, open_registry, put, space, vec


def _folder(reg: Registry) -> Path:
    ((sp, _),) = reg.spaces()
    return reg.indexes.folder(sp.id)


def _truncate_index(reg: Registry) -> None:
    manifest = snap.read_manifest(_folder(reg))
    assert manifest is not None
    path = _folder(reg) / manifest.file
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _truncate_manifest(reg: Registry) -> None:
    path = _folder(reg) / snap.MANIFEST
    path.write_bytes(path.read_bytes()[:40])


def _delete_manifest(reg: Registry) -> None:
    (_folder(reg) / snap.MANIFEST).unlink()


def _stale_tmp(reg: Registry) -> None:
    (_folder(reg) / "index.99.faiss.tmp").write_bytes(b"half a file")
    (_folder(reg) / "manifest.json.tmp").write_bytes(b"{")


def _changed_fingerprint(reg: Registry) -> None:
    path = _folder(reg) / snap.MANIFEST
    data = json.loads(path.read_bytes())
    data["fingerprint"] = "0" * 64
    path.write_text(json.dumps(data))


def _snapshot_behind_sql(reg: Registry) -> None:
    # SQL moves on while the published files stay where they were (a writer died before publishing)
    with reg.db.transaction() as s:
        s.execute(update(EmbeddingSpace).values(generation=EmbeddingSpace.generation + 1))
        from sqlalchemy import delete, select

        from registry.models import Embedding

        victim = s.scalars(select(Embedding.id).order_by(Embedding.id).limit(1)).one()
        s.execute(delete(Embedding).where(Embedding.id == victim))


DAMAGE: dict[str, Callable[[Registry], None]] = {
    "truncated index": _truncate_index,
    "truncated manifest": _truncate_manifest,
    "missing manifest": _delete_manifest,
    "stale tmp": _stale_tmp,
    "changed fingerprint": _changed_fingerprint,
    "snapshot behind SQL": _snapshot_behind_sql,
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damage_is_reported_then_recovered(tmp_path: Path, db_url: str, damage: str) -> None:
    reg = open_registry(tmp_path, db_url)
    subjects = make_datasets(reg, 20)
    space(reg)
    put(reg, "s", subjects)
    DAMAGE[damage](reg)

    fresh = Registry.open(reg.settings)  # a new process: no cached index
    report = fresh.verify()
    assert not report.ok, f"verify missed: {damage}"
    # readers already get answers consistent with SQL, without touching the files
    ((_, n),) = fresh.spaces()
    hits = fresh.search("s", vec(subjects[-1]), k=1)[0]
    assert hits[0].subject_id == subjects[-1]

    fresh.recover()
    after = Registry.open(reg.settings).verify()
    assert after.ok, after.problems
    assert after.spaces[0].sql_count == after.spaces[0].index_count == n
    assert not list(_folder(fresh).glob("*.tmp"))


def test_rebuild_moves_to_a_new_generation(tmp_path: Path, db_url: str) -> None:
    reg = open_registry(tmp_path, db_url)
    subjects = make_datasets(reg, 5)
    space(reg)
    put(reg, "s", subjects)
    before = snap.read_manifest(_folder(reg))
    assert reg.rebuild("s") == ["s"]
    after = snap.read_manifest(_folder(reg))
    assert before is not None and after is not None
    assert after.generation == before.generation + 1 and after.ntotal == 5
    files = [snap.filters_file_name(after.generation), after.file, snap.MANIFEST, snap.LOCK]
    assert sorted(p.name for p in _folder(reg).iterdir()) == files  # rebuild persists the filter columns


def test_verify_reports_orphans_and_bad_vectors(tmp_path: Path, db_url: str) -> None:
    reg = open_registry(tmp_path, db_url)
    subjects = make_datasets(reg, 3)
    space(reg)
    put(reg, "s", subjects)
    (reg.settings.index_dir / "space-999").mkdir()
    from registry.models import Embedding

    with reg.db.transaction() as s:
        s.execute(update(Embedding).where(Embedding.subject_id == subjects[0]).values(vector=b"\x00" * 7))
    problems = " | ".join(reg.verify().problems)
    assert "space-999" in problems and "has 7 bytes" in problems
