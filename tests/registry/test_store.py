"""Vector store behaviour: ids in step with SQL, upserts, deletes, filters, bad vectors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from registry import faiss_index as fx
from registry.api import EmbeddingItem, Registry
from registry.errors import AlreadyExistsError, InvalidVectorError, SpaceNotFoundError, SubjectNotFoundError
from registry.filters import SearchFilter
from registry.spaces import SpaceConfig, get_space
from tests.registry.helpers import make_datasets, open_registry, put, space, vec


def index_ids(reg: Registry, name: str) -> list[int]:
    with reg.db.read() as s:
        return fx.all_ids(reg.indexes.load(s, get_space(s, name)).index).tolist()


def sql_ids(reg: Registry, name: str) -> list[int]:
    from registry.embeddings import embedding_ids

    with reg.db.read() as s:
        return embedding_ids(s, get_space(s, name).id).tolist()


def test_add_upsert_delete_keep_sql_and_faiss_ids_equal(tmp_path: Path, db_url: str) -> None:
    reg = open_registry(tmp_path, db_url)
    subjects = make_datasets(reg, 12)
    space(reg)
    put(reg, "s", subjects[:8])
    put(reg, "s", subjects[4:12], salt=1000)  # upserts 4, adds 4
    reg.delete_embeddings("s", subjects[:2])
    reg.delete_subject("d5")
    assert sql_ids(reg, "s") == index_ids(reg, "s")
    assert len(sql_ids(reg, "s")) == 9
    hits = reg.search("s", vec(subjects[6] + 1000), k=1)[0]
    assert hits[0].subject_id == subjects[6] and hits[0].score == pytest.approx(1.0, abs=1e-5)
    # a fresh process (new Registry) reads the published snapshot and agrees
    other = Registry.open(reg.settings)
    assert index_ids(other, "s") == sql_ids(reg, "s")
    assert other.verify().ok


def test_filter_keeping_one_percent_still_returns_k(tmp_path: Path, db_url: str) -> None:
    reg = open_registry(tmp_path, db_url)
    subjects = make_datasets(reg, 1000, tags=True)
    space(reg)
    put(reg, "s", subjects)
    rare = SearchFilter(tags_all=(("rare", "yes"),))
    query = vec(subjects[1])  # an odd subject: its global top-k holds no rare subject
    hits = reg.search("s", query, k=5, flt=rare)[0]
    assert len(hits) == 5
    assert {h.name for h in hits} <= {f"d{i}" for i in range(0, 1000, 100)}
    # fewer matches than k: all of them, never padding
    assert len(reg.search("s", query, k=50, flt=rare)[0]) == 10
    excluded = reg.search("s", vec(subjects[0]), k=3, flt=SearchFilter(exclude_subject_ids=(subjects[0],)))[0]
    assert subjects[0] not in [h.subject_id for h in excluded] and len(excluded) == 3


def test_ivf_space_trains_and_filters_exactly(tmp_path: Path, db_url: str) -> None:
    reg = open_registry(tmp_path, db_url)
    subjects = make_datasets(reg, 300, tags=True)
    space(reg, index_type="ivf", ivf_nlist=4, ivf_min_train=200)
    put(reg, "s", subjects[:100])
    assert sql_ids(reg, "s") == index_ids(reg, "s")
    put(reg, "s", subjects[100:])  # crosses min_train: rebuilt as a trained IVF index
    with reg.db.read() as s:
        assert isinstance(reg.indexes.load(s, get_space(s, "s")).index, fx.faiss.IndexIVF)
    reg.delete_subject("d7")
    assert sql_ids(reg, "s") == index_ids(reg, "s")
    hits = reg.search("s", vec(subjects[1]), k=3, flt=SearchFilter(tags_all=(("rare", "yes"),)))[0]
    assert len(hits) == 3
    assert reg.verify().ok


def test_bad_vectors_are_rejected_and_nothing_is_stored(tmp_path: Path, db_url: str) -> None:
    reg = open_registry(tmp_path, db_url)
    (a,) = make_datasets(reg, 1)
    space(reg)
    bad = [np.zeros(15), np.full(16, np.nan), np.zeros(16), "not a vector", np.zeros((2, 16))]
    for v in bad:
        with pytest.raises(InvalidVectorError):
            reg.put_embeddings("s", [EmbeddingItem(a, v)])
    with pytest.raises(InvalidVectorError, match="twice"):
        reg.put_embeddings("s", [EmbeddingItem(a, vec(1)), EmbeddingItem(a, vec(2))])
    with pytest.raises(SubjectNotFoundError, match="not in the catalogue"):
        reg.put_embeddings("s", [EmbeddingItem(a + 999, vec(1))])
    with pytest.raises(SpaceNotFoundError, match="known spaces: s"):
        reg.put_embeddings("nope", [EmbeddingItem(a, vec(1))])
    assert sql_ids(reg, "s") == [] and index_ids(reg, "s") == []
    assert reg.verify().ok


def test_space_names_and_fingerprints_are_unique(tmp_path: Path, db_url: str) -> None:
    reg = open_registry(tmp_path, db_url)
    space(reg, "a")
    with pytest.raises(AlreadyExistsError, match="already exists"):
        space(reg, "a", dim=8)
    with pytest.raises(AlreadyExistsError, match="exact configuration"):
        space(reg, "b")  # identical configuration under another name
    with pytest.raises(ValueError, match="unknown index type"):
        reg.create_space(SpaceConfig(name="c", surrogate="f", method="f", dim=4, index_type="hnswx"))


def test_hits_unknown_to_sql_are_dropped_and_k_is_still_filled(tmp_path: Path, db_url: str) -> None:
    reg = open_registry(tmp_path, db_url)
    subjects = make_datasets(reg, 10)
    space(reg)
    put(reg, "s", subjects)
    reg.search("s", vec(subjects[0]), k=1)  # cache the index in this process
    from sqlalchemy import delete

    from registry.models import Subject

    with reg.db.transaction() as s:  # behind the registry's back: no generation bump, no index update
        s.execute(delete(Subject).where(Subject.id.in_(subjects[:3])))
    hits = reg.search("s", vec(subjects[0]), k=5)[0]
    assert len(hits) == 5
    assert not {h.subject_id for h in hits} & set(subjects[:3])
