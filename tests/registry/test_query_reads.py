"""The storage doors of the query floor: subject reads, vector provenance, gold scores and the
transfer import's reads and single write transaction (issue 18)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from registry.api import Registry
from registry.errors import SpaceNotFoundError, SubjectNotFoundError
from registry.filters import SearchFilter
from registry.provenance import vector_provenance
from registry.settings import Settings
from registry.subject_reads import (
    find_subject,
    hit_details,
    llms_with_prompts,
    prompt_ids_on_llm,
    space_methods,
    space_points,
)
from tests.web.conftest import DIM, build_fake


@pytest.fixture
def fake(db_url: str, tmp_path: Path) -> Iterator[tuple[Registry, dict[str, int]]]:
    """The fake catalogue of the web tests (six datasets, a classifier, an LLM and a prompt) and
    its subject ids by name."""
    registry = Registry(Settings.build(home=tmp_path / "home", db=db_url))
    registry.init()
    ids = build_fake(registry)
    yield registry, ids
    registry.close()


@pytest.fixture
def reg(fake: tuple[Registry, dict[str, int]]) -> Registry:
    """The fake catalogue's registry."""
    return fake[0]


@pytest.fixture
def ids(fake: tuple[Registry, dict[str, int]]) -> dict[str, int]:
    """The fake catalogue's subject ids by name."""
    return fake[1]


def test_find_subject_returns_plain_values(reg: Registry, ids: dict[str, int]) -> None:
    ref = find_subject(reg, "sent-a", "dataset")
    assert (ref.id, ref.name, ref.kind) == (ids["sent-a"], "sent-a", "dataset")
    assert find_subject(reg, "clf").kind == "model"
    with pytest.raises(SubjectNotFoundError):
        find_subject(reg, "nope")


def test_hit_details_reads_only_the_hits(reg: Registry, ids: dict[str, int]) -> None:
    details = hit_details(reg, ["fake"], [ids["topic-c"], ids["clf"]])
    assert details.methods == {"fake": "fake"}
    assert details.formats == {ids["topic-c"]: "pair-classification"}  # the model has no format
    assert details.tags == {ids["topic-c"]: {"family": ["topic"]}, ids["clf"]: {"family": ["sentiment"]}}
    assert hit_details(reg, ["fake"], []).formats == {}
    with pytest.raises(SpaceNotFoundError):
        space_methods(reg, ["fake", "missing"])


def test_prompts_by_llm(reg: Registry, ids: dict[str, int]) -> None:
    assert prompt_ids_on_llm(reg, "llm") == (ids["p-sent"],)
    assert prompt_ids_on_llm(reg, "clf") == ()
    assert prompt_ids_on_llm(reg, "unknown") == ()
    assert llms_with_prompts(reg) == ["llm"]


def test_space_points_follow_the_filter(reg: Registry) -> None:
    found = space_points(reg, "fake", SearchFilter(kinds=("dataset",), tags_all=(("family", "topic"),)))
    assert [p.name for p in found.points] == ["topic-a", "topic-b", "topic-c"]
    assert found.vectors.shape == (3, DIM) and found.metric in ("cosine", "l2", "ip")
    assert [p.format for p in found.points] == ["classification", "classification", "pair-classification"]
    assert space_points(reg, "fake", SearchFilter(tags_all=(("family", "none"),))).vectors.shape == (0, 0)


def test_vector_provenance(reg: Registry, ids: dict[str, int]) -> None:
    stored = vector_provenance(reg, "fake", ids["sent-a"])
    assert stored is not None
    assert stored.to_dict()["created_at"] == stored.created_at.isoformat()
    assert vector_provenance(reg, "other", ids["sent-a"]) is None


def test_transfer_import_doors(reg: Registry) -> None:
    store = reg.transfers
    assert {"sent-a", "topic-c"} <= store.dataset_names() and "clf" not in store.dataset_names()
    store.store_scores({("sent-a", "topic-a", "default"): 0.5, ("sent-b", "topic-a", "x"): -1.0}, "t")
    assert store.stored_scores("t") == {
        ("sent-a", "topic-a", "default"): 0.5,
        ("sent-b", "topic-a", "x"): -1.0,
    }
    assert store.stored_scores("other") == {}
    assert sorted(store.gold_rows()) == [
        ("default", "topic-a", "sent-a", 0.5),
        ("x", "topic-a", "sent-b", -1.0),
    ]


def test_store_scores_is_one_transaction(reg: Registry) -> None:
    # the second key names an unknown dataset: nothing of the batch may be stored
    with pytest.raises(KeyError):
        reg.transfers.store_scores(
            {("sent-a", "topic-a", "default"): 0.5, ("sent-a", "gone", "default"): 1.0}, "t"
        )
    assert reg.transfers.gold_rows() == []
