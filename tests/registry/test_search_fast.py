"""The search fast path (registry.search): repeat searches skip the ORM path, writes never go unseen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from registry.api import EmbeddingItem, Registry
from registry.errors import InvalidVectorError, SpaceNotFoundError
from registry.filters import SearchFilter
from registry.subjects import get_subject, set_tags
from tests.registry.helpers import make_datasets, open_registry, put, space, vec

RARE = SearchFilter(tags_all=(("rare", "yes"),))


def _count_general(reg: Registry) -> list[int]:
    """Record every call of the general (cache-refreshing) path of ``reg``'s searcher."""
    calls: list[int] = []
    general = reg.searcher._general

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return general(*args, **kwargs)

    reg.searcher._general = counting  # type: ignore[method-assign]
    return calls


@pytest.mark.parametrize("flt", [None, RARE], ids=["unfiltered", "filtered"])
def test_repeat_searches_are_served_from_the_caches(tmp_path: Path, db_url: str, flt: SearchFilter) -> None:
    reg = open_registry(tmp_path, db_url)
    put(reg, space(reg), make_datasets(reg, 300, tags=True))
    calls = _count_general(reg)
    first = reg.search("s", vec(5), k=3, flt=flt)
    ids_first = reg.search_ids("s", vec(5), k=3, flt=flt)
    warm = len(calls)
    for _ in range(5):
        assert reg.search("s", vec(5), k=3, flt=flt) == first
        again = reg.search_ids("s", vec(5), k=3, flt=flt)
        assert [list(i) for _, i in again] == [list(i) for _, i in ids_first]
    assert len(calls) == warm  # no general-path call after the caches were warm
    assert [h.embedding_id for h in first[0]] == list(ids_first[0][1])
    reg.close()


def test_writes_by_another_instance_are_seen_by_the_next_search(tmp_path: Path, db_url: str) -> None:
    reader = open_registry(tmp_path, db_url)
    writer = Registry.open(reader.settings)  # separate caches, like another process
    put(reader, space(reader), make_datasets(reader, 300, tags=True))
    calls = _count_general(reader)
    query = vec(9999)
    assert reader.search("s", query, k=1)[0][0].name != "n0"
    assert sorted(h.name for h in reader.search("s", query, k=10, flt=RARE)[0]) == ["d0", "d100", "d200"]
    warm = len(calls)

    new = make_datasets(writer, 1, prefix="n")
    writer.put_embeddings("s", [EmbeddingItem(new[0], query)])  # the query's own vector: top hit
    assert reader.search("s", query, k=1)[0][0].name == "n0"
    assert len(calls) == warm + 1  # the write moved the generation: one general-path refresh

    with writer.db.transaction() as session:  # a tag only: the generation stays, max(tags.id) moves
        set_tags(session, get_subject(session, "n0"), [("rare", "yes")])
    assert reader.search("s", query, k=1, flt=RARE)[0][0].name == "n0"

    writer.delete_subject("n0")
    assert reader.search("s", query, k=1)[0][0].name != "n0"
    assert "n0" not in {h.name for h in reader.search("s", query, k=10, flt=RARE)[0]}
    writer.close()
    reader.close()


def test_errors_on_the_fast_path_are_the_general_ones(tmp_path: Path, db_url: str) -> None:
    reg = open_registry(tmp_path, db_url)
    put(reg, space(reg), make_datasets(reg, 20))
    reg.search("s", vec(1), k=3)  # warm
    with pytest.raises(SpaceNotFoundError, match="known spaces: s"):
        reg.search("nope", vec(1), k=3)
    with pytest.raises(InvalidVectorError):
        reg.search("s", np.ones(7, dtype=np.float32), k=3)
    with pytest.raises(InvalidVectorError):
        reg.search("s", np.full(16, np.nan, dtype=np.float32), k=3)
    reg.close()
