"""Filter columns persisted beside the index snapshot: used by a fresh process, never when stale."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from registry import filter_search, filter_store
from registry import snapshot as snap
from registry.api import Registry
from registry.filters import SearchFilter, allowed_embedding_ids
from registry.settings import Settings
from registry.spaces import get_space
from tests.registry.helpers import make_datasets, open_registry, put, space, vec

ROOT = Path(__file__).resolve().parents[2]
EVEN = SearchFilter(tags_all=(("family", "even"),))


def _setup(tmp_path: Path, db_url: str, n: int = 300) -> tuple[Registry, list[int]]:
    reg = open_registry(tmp_path, db_url)
    subjects = make_datasets(reg, n, tags=True)
    space(reg)
    put(reg, "s", subjects)
    return reg, subjects


def _fresh(reg: Registry) -> Registry:
    """A second registry on the same store: empty caches, like a new process."""
    return Registry(reg.settings)


def _hit_ids(reg: Registry, flt: SearchFilter, seed: int = 3, k: int = 400) -> list[int]:
    return [h.subject_id for h in reg.search("s", vec(seed), k=k, flt=flt)[0]]


def _sql_subjects(reg: Registry, flt: SearchFilter) -> set[int]:
    """Subjects passing the filter by the SQL path (the reference)."""
    with reg.db.read() as session:
        sp = get_space(session, "s")
        allowed = allowed_embedding_ids(session, sp.id, flt)
    hits = reg.search("s", vec(1), k=1000)[0]
    by_embedding = {h.embedding_id: h.subject_id for h in hits}
    return {by_embedding[e] for e in allowed}


def _no_sql_build(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("filter columns were read from SQL")

    monkeypatch.setattr(filter_search, "build_columns", refuse)


def _run(tmp_path: Path, db_url: str, code: str) -> None:
    """Run registry code in another process."""
    prelude = (
        "from registry.api import Registry\nfrom registry.settings import Settings\n"
        f"reg = Registry(Settings.build(home={str(tmp_path)!r}, db={db_url!r}))\n"
    )
    subprocess.run([sys.executable, "-c", prelude + code], cwd=ROOT, check=True)


def test_a_fresh_process_maps_the_persisted_columns(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    reg, _ = _setup(tmp_path, db_url)
    want = _hit_ids(reg, EVEN)
    folder = reg.indexes.folder(reg.spaces()[0][0].id)
    assert sorted(p.name for p in folder.glob("filters.*")) == ["filters.1.fcol"]
    _no_sql_build(monkeypatch)
    fresh = _fresh(reg)
    assert _hit_ids(fresh, EVEN) == want
    loaded = next(iter(fresh.indexes._cache.values()))
    assert loaded.mapped  # the published snapshot is memory-mapped, not read into memory
    assert fresh.verify().ok


def test_tags_changed_by_another_process_are_never_missed(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    reg, subjects = _setup(tmp_path, db_url)
    _hit_ids(reg, EVEN)  # persist generation 1's columns
    new_tag = SearchFilter(tags_all=(("fresh", "yes"),))
    _run(
        tmp_path,
        db_url,
        "from registry.edits import add_tags\nadd_tags(reg.db, 'dataset', 'd5', [('fresh', 'yes')])",
    )
    with monkeypatch.context() as m:
        _no_sql_build(m)  # an added tag is merged into the persisted columns, not rebuilt
        assert _hit_ids(_fresh(reg), new_tag) == [subjects[5]]
    assert _hit_ids(reg, new_tag) == [subjects[5]]  # the first process's cache sees it too
    _run(
        tmp_path,
        db_url,
        "from registry.edits import edit_tags\nedit_tags(reg.db, 'dataset', 'd4', remove=[('family', 'even')])",
    )
    for r in (reg, _fresh(reg)):
        got = set(_hit_ids(r, EVEN))
        assert subjects[4] not in got and got == _sql_subjects(r, EVEN)
    _run(
        tmp_path,
        db_url,
        "from tests.registry.helpers import put\nput(reg, 's', [" + str(subjects[0]) + "], salt=7)",
    )
    fresh = _fresh(reg)
    assert set(_hit_ids(fresh, EVEN)) == _sql_subjects(fresh, EVEN)
    assert fresh.verify().ok


def test_a_damaged_or_wrong_file_is_ignored_reported_and_rebuilt(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    reg, _ = _setup(tmp_path, db_url)
    want = _hit_ids(reg, EVEN)
    sp = reg.spaces()[0][0]
    path = reg.indexes.folder(sp.id) / filter_store.file_name(sp.generation)
    raw = bytearray(path.read_bytes())
    raw[-10] ^= 0xFF  # one flipped byte in the body
    path.write_bytes(bytes(raw))
    assert filter_store.load(path.parent, sp.generation) is None
    assert any("fails its checksum" in p for p in reg.verify().problems)
    assert _hit_ids(_fresh(reg), EVEN) == want  # built from SQL instead
    # A well-formed file that disagrees with SQL (the even rows swapped for the odd ones).
    cols = filter_store.load(path.parent, sp.generation)
    assert cols is not None
    cols.tags[("family", "even")] = cols.tags[("family", "odd")]
    filter_store.save(path.parent, cols)
    assert any("differs from SQL" in p for p in reg.verify().problems)
    reg.rebuild("s")
    assert reg.verify().ok
    assert _hit_ids(_fresh(reg), EVEN) == want


def test_a_crash_before_the_manifest_leaves_the_old_generation_readable(tmp_path: Path, db_url: str) -> None:
    reg, subjects = _setup(tmp_path, db_url)
    _hit_ids(reg, EVEN)

    def crash(step: str) -> None:
        if step == "after_index_write":
            raise KeyboardInterrupt  # stands in for a kill: nothing after this step runs

    writer = Registry(reg.settings, hook=crash)
    with pytest.raises(KeyboardInterrupt):
        put(writer, "s", [subjects[0]], salt=9)  # committed in SQL; its snapshot is never published
    folder = reg.indexes.folder(reg.spaces()[0][0].id)
    manifest = snap.read_manifest(folder)
    assert manifest is not None and manifest.generation == 1
    replica = Registry(Settings(home=reg.settings.home, db_url=reg.settings.db_url, index_mmap=True))
    # The replica serves generation 1 with its persisted columns; the replaced vector of subjects[0]
    # is unknown to SQL now, so it is dropped at hydration like any vector deleted since.
    evens = {s for i, s in enumerate(subjects) if i % 2 == 0}
    assert set(_hit_ids(replica, EVEN)) == evens - {subjects[0]}
    fresh = _fresh(reg)  # a normal process reconciles to SQL's generation 2
    hits = fresh.search("s", vec(subjects[0] + 9), k=1, flt=EVEN)[0]
    assert hits[0].subject_id == subjects[0] and np.isclose(hits[0].score, 1.0, atol=1e-5)
