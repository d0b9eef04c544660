"""In-memory filter resolution: equal to the SQL path, never stale across Registry instances."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from registry.api import Registry
from registry.embeddings import iter_vectors
from registry.filter_search import FilterPlan
from registry.filter_search import plan as plan_filter
from registry.filters import SearchFilter, allowed_embedding_ids
from registry.models import Dataset, ModelEntry
from registry.spaces import get_space
from registry.subjects import add_subject, get_subject, set_tags
from tests.registry.helpers import make_datasets, open_registry, put, space, vec

T0 = datetime(2026, 1, 1, tzinfo=UTC)
KEYS = {"domain": [f"v{i}" for i in range(8)], "lang": ["en", "de", "fr"], "rare": ["yes"]}
FORMATS = ("classification", "nli", "regression")


def _catalogue(reg: Registry, n: int, seed: int) -> list[int]:
    """n subjects (datasets of three formats, some models), random tags, spread creation times."""
    rng = np.random.default_rng(seed)
    ids = []
    with reg.db.transaction() as session:
        for i in range(n):
            created = T0 + timedelta(hours=i)
            if i % 7 == 0:
                subject: Dataset | ModelEntry = ModelEntry(
                    name=f"m{i}", source="t", model_kind="classifier", created_at=created
                )
            else:
                fmt = FORMATS[i % 3]
                subject = Dataset(
                    name=f"d{i}",
                    source="t",
                    task_format=fmt,
                    n_examples=1,
                    content_hash=f"h{i}",
                    created_at=created,
                )
            tags = [("domain", f"v{rng.integers(8)}"), ("lang", str(rng.choice(KEYS["lang"])))]
            if rng.random() < 0.3:
                tags.append(("domain", f"v{rng.integers(8)}"))  # list-valued key
            if rng.random() < 0.05:
                tags.append(("rare", "yes"))
            ids.append(add_subject(session, subject, tags).id)
    return ids


def _random_filter(rng: np.random.Generator, subjects: list[int]) -> SearchFilter:
    """A random combination of every filter field (each present with some probability)."""

    def pairs(m: int) -> tuple[tuple[str, str], ...]:
        keys = list(KEYS)
        out = []
        for _ in range(m):
            key = keys[rng.integers(len(keys))]
            out.append((key, str(rng.choice(KEYS[key] + ["absent"]))))
        return tuple(out)

    some = lambda p: rng.random() < p  # noqa: E731
    return SearchFilter(
        kinds=tuple(rng.choice(["dataset", "model", "prompt"], size=rng.integers(1, 3))) if some(0.3) else (),
        formats=tuple(rng.choice([*FORMATS, "qa"], size=rng.integers(1, 3))) if some(0.3) else (),
        tags_all=pairs(int(rng.integers(1, 3))) if some(0.6) else (),
        tags_any=pairs(int(rng.integers(1, 4))) if some(0.3) else (),
        subject_ids=tuple(int(s) for s in rng.choice(subjects, 60)) if some(0.2) else None,
        exclude_subject_ids=tuple(int(s) for s in rng.choice(subjects, 20)) if some(0.3) else (),
        created_after=T0 + timedelta(hours=int(rng.integers(0, 300))) if some(0.3) else None,
        created_before=T0 + timedelta(hours=int(rng.integers(100, 400))) if some(0.3) else None,
    )


def _plan(reg: Registry, name: str, flt: SearchFilter) -> FilterPlan:
    with reg.db.read() as session:
        sp = get_space(session, name)
        return plan_filter(reg.filters.get(session, sp, reg.indexes.load(session, sp)), flt)


def _memory_ids(reg: Registry, name: str, flt: SearchFilter) -> set[int]:
    """The ids the in-memory plan allows."""
    p = _plan(reg, name, flt)
    cols = p.sf.cols
    if p.pair is not None:
        ids = cols.ids[cols.tag_rows(p.pair)]
        return set((ids if p.mask is None else ids[p.mask]).tolist())
    return set((cols.ids if p.allowed is None else p.allowed).tolist())


def _sql_ids(reg: Registry, name: str, flt: SearchFilter) -> set[int]:
    with reg.db.read() as session:
        return set(allowed_embedding_ids(session, get_space(session, name).id, flt).tolist())


def test_random_filters_resolve_like_sql_and_search_exactly(tmp_path: Path, db_url: str) -> None:
    reg = open_registry(tmp_path, db_url)
    subjects = _catalogue(reg, 400, seed=1)
    space(reg)
    put(reg, "s", subjects)
    rng = np.random.default_rng(7)
    with reg.db.read() as session:
        sp = get_space(session, "s")
        stored = {
            int(i): v for ids, vecs in iter_vectors(session, sp) for i, v in zip(ids, vecs, strict=True)
        }
    used_partition = used_bitmap = 0
    for _ in range(80):
        flt = _random_filter(rng, subjects)
        expected = _sql_ids(reg, "s", flt)
        assert _memory_ids(reg, "s", flt) == expected, flt
        p = _plan(reg, "s", flt)
        used_partition += p.pair is not None
        used_bitmap += p.pair is None
        # the search returns the exact top-5 of the SQL-allowed set
        query = vec(int(rng.integers(10_000)))
        hits = reg.search("s", query, k=5, flt=flt)[0]
        unit = query / np.linalg.norm(query)
        best = sorted(expected, key=lambda i: -float(stored[i] @ unit))[:5]
        assert [h.embedding_id for h in hits] == best
    assert used_partition > 5 and used_bitmap > 5  # both execution paths were exercised


def test_no_stale_answer_after_writes_from_another_instance(tmp_path: Path, db_url: str) -> None:
    reader = open_registry(tmp_path, db_url)
    writer = Registry.open(reader.settings)
    subjects = make_datasets(reader, 200, tags=True)  # d0, d100 carry rare=yes; all carry family
    space(reader)
    put(reader, "s", subjects)
    rare = SearchFilter(tags_all=(("rare", "yes"),))
    names = lambda flt: sorted(h.name for h in reader.search("s", vec(1), k=50, flt=flt)[0])  # noqa: E731
    assert names(rare) == ["d0", "d100"]

    with writer.db.transaction() as session:  # a new tag, written by another instance
        set_tags(session, get_subject(session, "d7"), [("rare", "yes")])
    assert names(rare) == ["d0", "d100", "d7"]

    writer.delete_subject("d100")  # the subject goes, its tags with it
    assert names(rare) == ["d0", "d7"]

    new = make_datasets(writer, 1, prefix="n")  # a new subject, tagged, then embedded
    with writer.db.transaction() as session:
        set_tags(session, get_subject(session, "n0"), [("rare", "yes")])
    assert names(rare) == ["d0", "d7"]  # no vector yet
    put(writer, "s", new)
    assert names(rare) == ["d0", "d7", "n0"]

    writer.delete_embeddings("s", [subjects[0]])
    assert names(rare) == ["d7", "n0"]
    fam = SearchFilter(tags_all=(("family", "even"),), exclude_subject_ids=(subjects[2],))
    assert _memory_ids(reader, "s", fam) == _sql_ids(reader, "s", fam)
    writer.close()
    reader.close()


@pytest.mark.parametrize("index_type", ["flat", "ivf"])
def test_partition_path_equals_bitmap_path_on_both_index_types(tmp_path: Path, index_type: str) -> None:
    reg = open_registry(tmp_path, f"sqlite:///{tmp_path / 'r.db'}")
    subjects = _catalogue(reg, 1100, seed=2)
    space(reg, index_type=index_type, ivf_min_train=1024, ivf_nlist=16)
    put(reg, "s", subjects)
    flt = SearchFilter(
        tags_all=(("domain", "v3"),), kinds=("dataset",), created_after=T0 + timedelta(hours=50)
    )
    assert _plan(reg, "s", flt).pair == ("domain", "v3")
    queries = np.stack([vec(i) for i in range(20)])
    via_partition = [[h.embedding_id for h in hits] for hits in reg.search("s", queries, k=10, flt=flt)]
    reg.filters.budget = 0.0  # no partitions: the FAISS bitmap path
    reg.filters.forget(_space_id(reg))
    assert _plan(reg, "s", flt).pair is None
    via_bitmap = [[h.embedding_id for h in hits] for hits in reg.search("s", queries, k=10, flt=flt)]
    assert via_partition == via_bitmap
    assert all(len(ids) == 10 for ids in via_bitmap)
    assert {i for ids in via_bitmap for i in ids} <= _sql_ids(reg, "s", flt)


def _space_id(reg: Registry) -> int:
    with reg.db.read() as session:
        return get_space(session, "s").id
