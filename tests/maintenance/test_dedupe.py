"""fute maintain dedupe: groups by content hash, merge into the oldest, refuse the ambiguous."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from registry.api import EmbeddingItem, Registry
from registry.dedupe import dedupe, tag_pairs
from registry.errors import SubjectNotFoundError
from registry.models import TransferResult
from registry.subjects import add_subject, get_subject, record_transfer
from tests.maintenance.helpers import dataset
from tests.registry.helpers import open_registry, space, vec


def _setup(reg: Registry) -> dict[str, int]:
    with reg.db.transaction() as s:
        ids = {
            "a": add_subject(s, dataset("a", "H1"), [("domain", "news")]).id,
            "a-copy": add_subject(s, dataset("a-copy", "H1"), [("domain", "web")]).id,
            "b": add_subject(s, dataset("b", "H2")).id,
            "c": add_subject(s, dataset("c", "H3")).id,
        }
        subj = {n: get_subject(s, n) for n in ids}
        record_transfer(s, subj["b"], subj["a-copy"], 0.5)
        record_transfer(s, subj["a-copy"], subj["c"], 0.2)
        record_transfer(s, subj["a"], subj["c"], 0.2, origin="user")
    space(reg, "s1")
    space(reg, "s2", variant=2)
    reg.put_embeddings("s1", [EmbeddingItem(ids["a"], vec(1)), EmbeddingItem(ids["a-copy"], vec(2))])
    reg.put_embeddings("s2", [EmbeddingItem(ids["a-copy"], vec(3)), EmbeddingItem(ids["b"], vec(4))])
    return ids


def test_report_then_merge_into_the_oldest(db_url: str, tmp_path: Path) -> None:
    reg = open_registry(tmp_path / "h", db_url)
    ids = _setup(reg)
    report = dedupe(reg)
    assert [(g.keep, g.duplicates, g.ambiguous, g.merged) for g in report.groups] == [
        ("a", ["a-copy"], None, False)
    ]
    merged = dedupe(reg, merge=True)
    assert merged.groups[0].merged
    with reg.db.read() as s:
        with pytest.raises(SubjectNotFoundError):
            get_subject(s, "a-copy")
        assert tag_pairs(s, ids["a"]) == {("domain", "news"), ("domain", "web")}
        pairs = {(r.source_id, r.target_id, r.score) for r in s.scalars(select(TransferResult))}
    assert pairs == {(ids["b"], ids["a"], 0.5), (ids["a"], ids["c"], 0.2)}
    np.testing.assert_allclose(reg.vector_of("s1", ids["a"]), vec(1) / np.linalg.norm(vec(1)), rtol=1e-6)
    np.testing.assert_allclose(reg.vector_of("s2", ids["a"]), vec(3) / np.linalg.norm(vec(3)), rtol=1e-6)
    assert reg.verify().ok and dedupe(reg).groups == []


def test_ambiguous_groups_are_refused(tmp_path: Path) -> None:
    reg = open_registry(tmp_path / "h", f"sqlite:///{tmp_path / 'r.db'}")
    with reg.db.transaction() as s:
        add_subject(s, dataset("x", "H"))
        add_subject(s, dataset("x2", "H", label_set=["b", "a"]))
        y = add_subject(s, dataset("y", "K"))
        y2 = add_subject(s, dataset("y2", "K"))
        z = add_subject(s, dataset("z", "Z"))
        record_transfer(s, y, z, 0.1)
        record_transfer(s, y2, z, 0.9)
    report = dedupe(reg, merge=True)
    reasons = {g.keep: g.ambiguous for g in report.groups}
    assert "label set" in (reasons["x"] or "") and "disagree" in (reasons["y"] or "")
    assert not any(g.merged for g in report.groups)
    with reg.db.read() as s:
        assert get_subject(s, "x2") and get_subject(s, "y2")  # nothing was merged
