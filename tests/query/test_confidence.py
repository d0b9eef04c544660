"""Confidence signals (issue 20, item 9): every answer carries a ``warnings`` list (JSON) printed under
the table in text mode: a small target, budgets below the benchmarked defaults, few probes, near ties."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from fute.cli_show import answer_lines
from query import confidence
from query.service import QueryOptions, query_models, query_similar, query_sources, query_vector
from registry.api import EmbeddingItem, Registry
from registry.models import Dataset, ModelEntry
from registry.settings import Settings
from registry.spaces import SpaceConfig
from registry.subjects import add_subject
from tests.query.conftest import Run

# a target, a clear nearest source, and two orthogonal datasets ("far" and "small", added below)
VECTORS = {"target": [1, 0, 0], "near": [0.8, 0.2, 0], "far": [0, 1, 0]}


@pytest.fixture
def budget_reg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Registry]:
    """Datasets of 1,000 and 12 examples in a default-budget ``taskemb`` space and a 4-step one."""
    monkeypatch.delenv("FUTE_DEFAULT_SPACE", raising=False)
    reg = Registry(Settings.build(home=tmp_path / "home"))
    reg.init()
    reg.create_space(
        SpaceConfig(name="full", surrogate="s", method="taskemb", dim=3, params={"train_steps": 16})
    )
    reg.create_space(
        SpaceConfig(name="cheap", surrogate="s", method="taskemb", dim=3, params={"train_steps": 4})
    )
    with reg.db.transaction() as s:
        ids = {
            n: add_subject(
                s, Dataset(name=n, source="t", task_format="classification", n_examples=1000, content_hash=n)
            ).id
            for n in ("target", "near", "far")
        }
        small = Dataset(
            name="small", source="t", task_format="classification", n_examples=12, content_hash="small"
        )
        ids["small"] = add_subject(s, small).id
        ids["clf"] = add_subject(s, ModelEntry(name="clf", source="t", model_kind="classifier")).id
    for space in ("full", "cheap"):
        items = [EmbeddingItem(ids[n], np.array(v, dtype=np.float32)) for n, v in VECTORS.items() if n in ids]
        items.append(EmbeddingItem(ids["small"], np.array([0, 0, 1], dtype=np.float32)))
        reg.put_embeddings(space, items)
    yield reg
    reg.close()


def test_solid_answer_has_an_empty_warnings_list(budget_reg: Registry) -> None:
    answer = query_sources(budget_reg, "target", QueryOptions(k=2, spaces=("full",)))
    assert [r["name"] for r in answer["results"]] == ["near", "far"]
    assert answer["warnings"] == []


def test_budget_below_default_and_small_target_are_named(budget_reg: Registry) -> None:
    answer = query_similar(budget_reg, "small", QueryOptions(k=2, spaces=("cheap",)), kind="dataset")
    assert answer["warnings"][:2] == [
        "target 'small' has 12 examples, fewer than the 1,000 the rankings were benchmarked with",
        "space 'cheap' (taskemb) uses train_steps=4, below the benchmarked default 16",
    ]


def test_near_tie_at_the_top_is_flagged(budget_reg: Registry) -> None:
    clear = query_vector(budget_reg, "full", [1.0, 0.0, 0.0], QueryOptions(k=3))
    assert [r["name"] for r in clear["results"]][:2] == ["target", "near"] and clear["warnings"] == []
    tied = query_vector(budget_reg, "full", [0.0, 0.7, 0.7], QueryOptions(k=2))
    assert sorted(r["name"] for r in tied["results"]) == ["far", "small"]
    first, second = (r["name"] for r in tied["results"])
    assert tied["warnings"] == [
        f"the top two results ({first}, {second}) are within 0.01 in score: treat them as tied"
    ]


def test_models_through_a_small_probe_set_are_flagged() -> None:
    budget = confidence.SpaceBudget("te", "taskemb", {}, 256)
    assert confidence.probe_warning(budget) == (
        "space 'te' probes models and prompts with 256 texts, fewer than the 1,000 benchmarked"
    )
    assert confidence.probe_warning(confidence.SpaceBudget("te", "taskemb", {}, 1000)) is None
    assert confidence.probe_warning(confidence.SpaceBudget("t", "textemb", {}, None)) is None


def test_every_query_answer_carries_warnings(budget_reg: Registry) -> None:
    answer = query_models(budget_reg, "small", QueryOptions(k=1, spaces=("full",)))
    assert answer["warnings"][0].startswith("target 'small' has 12 examples")


def test_warnings_print_under_the_table_and_in_json(two_spaces: Registry, fute: Run) -> None:
    code, text, _ = fute("query", "similar", "sent-a", "--space", "fake", "-k", "2")
    assert code == 0
    lines = text.splitlines()
    assert lines[-1].startswith("warning: ") and lines[1].startswith("  1. ")
    assert "warning: target 'sent-a' has 10 examples" in text
    code, out, _ = fute("query", "similar", "sent-a", "--space", "fake", "-k", "2", "--json")
    assert out["warnings"][0].startswith("target 'sent-a' has 10 examples")
    assert answer_lines({**out, "warnings": []})[-1].startswith("  2. ")


def test_benchmarked_budgets_are_the_methods_defaults() -> None:
    from ingest.methods.table import PARAM_TYPES

    for method, budget in confidence.BENCHMARKED_BUDGETS.items():
        defaults = PARAM_TYPES[method]().to_dict()
        assert {k: defaults[k] for k in budget} == budget
