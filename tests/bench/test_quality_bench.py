"""Fast checks of the quality benchmark's own code (issue 7, sections 1-3): the TaskWeb scorer
reproduces TaskWeb's published baseline figures, the shape checks reject malformed result files,
and the sketch-fidelity pieces (capture, Spearman, blockwise cosines) compute what they claim.
The full pipeline runs in ``make bench-quick`` (CI), which checks its own output with bench.schema."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import bench.sketch_fidelity as sf
import ingest.methods.taskemb as taskemb_module
from bench.common import ALL_TASKS, shared_dir
from bench.schema import MalformedResultError, check_sketch, check_taskweb, check_unified
from bench.taskweb_data import (
    baseline_orders,
    load_gold,
    mean_over_settings,
    score_orders,
    score_random,
    single_settings,
)
from ingest.methods.sketch import count_sketch
from tests.shared_data import needs_shared

TASKWEB = shared_dir() / "groundtruth" / "taskweb"
needs_taskweb = needs_shared("groundtruth/taskweb/taskweb_pairwise_scores.csv")


@pytest.fixture(scope="module")
def gold() -> Any:
    return load_gold(TASKWEB / "taskweb_pairwise_scores.csv", ALL_TASKS)


@needs_taskweb
def test_gold_has_8_settings_of_21_targets(gold: Any) -> None:
    assert len(gold) == 8 and "all/all" in gold and "finetune/t5l" in gold
    assert len(single_settings(gold)) == 7
    for by_target in gold.values():
        assert len(by_target) == 21 and all(len(s) == 21 for s in by_target.values())


@needs_taskweb
def test_shipped_baselines_match_taskweb_published_ndcg(gold: Any) -> None:
    # TaskWeb's README figures on finetune/t5l (3-decimal roundings): RoE 0.646, TaskShop-RoE 0.722,
    # LLM-similarity 0.582, TaskShop-LLM 0.611.
    candidates = {t: sorted(s) for t, s in gold["finetune/t5l"].items()}
    orders = baseline_orders(TASKWEB / "taskweb_baseline_predictions.csv", candidates)
    t5l = {"finetune/t5l": gold["finetune/t5l"]}
    published = {"roe": 0.646, "taskshop_roe": 0.722, "llm_similarity": 0.582, "taskshop_llm": 0.611}
    for name, value in published.items():
        assert score_orders(orders[name], t5l)["finetune/t5l"]["ndcg"] == pytest.approx(value, abs=1e-3), name


@needs_taskweb
def test_gold_order_is_perfect_and_random_is_about_045(gold: Any) -> None:
    perfect = {t: sorted(s, key=lambda x: -s[x]) for t, s in gold["finetune/t5l"].items()}
    scores = score_orders(perfect, gold)
    assert scores["finetune/t5l"] == {"ndcg": 1.0, "rho": 1.0, "regret_at_3": 0.0, "n_targets": 21}
    assert scores["all/all"]["ndcg"] < 1.0  # another setting's gold order differs
    rnd = score_random({"finetune/t5l": gold["finetune/t5l"]}, n_draws=50)
    assert rnd["finetune/t5l"]["ndcg"] == pytest.approx(0.45, abs=0.02)
    assert mean_over_settings(scores, ["finetune/t5l", "all/all"])["ndcg"] < 1.0


@needs_taskweb
def test_load_gold_keeps_only_registered_tasks(gold: Any) -> None:
    small = load_gold(TASKWEB / "taskweb_pairwise_scores.csv", ("rte", "cb", "imdb", "squad_v2"))
    assert set(small["finetune/t5l"]) == {"rte", "cb", "imdb"}  # squad_v2 is a source only
    assert set(small["finetune/t5l"]["rte"]) == {"cb", "imdb", "squad_v2"}


def _taskweb_doc() -> dict[str, Any]:
    block = {"finetune/t5l": {"ndcg": 0.6, "rho": 3.0, "regret_at_3": 0.01, "n_targets": 21}}
    return {
        "methods": {"textemb": block, "fused": block},
        "baselines": {"random": block, "roe": block},
        "config": {},
        "seconds": {"textemb": 1.0, "fused": 1.0},
    }


def test_taskweb_shape_check_accepts_good_and_rejects_malformed() -> None:
    check_taskweb(_taskweb_doc(), {"textemb", "fused"}, {"random", "roe"})
    bad_ndcg = _taskweb_doc()
    bad_ndcg["methods"]["textemb"] = {
        "finetune/t5l": {"ndcg": 1.5, "rho": 3.0, "regret_at_3": 0.0, "n_targets": 21}
    }
    missing = _taskweb_doc()
    del missing["seconds"]
    bad_setting = copy.deepcopy(_taskweb_doc())
    bad_setting["baselines"]["roe"] = {"t5l": bad_setting["baselines"]["roe"]["finetune/t5l"]}
    for doc in (bad_ndcg, missing, bad_setting):
        with pytest.raises(MalformedResultError):
            check_taskweb(doc, {"textemb", "fused"}, {"random", "roe"})
    with pytest.raises(MalformedResultError):
        check_taskweb(_taskweb_doc(), {"textemb", "fused", "tupate"}, {"random"})


def test_unified_and_sketch_shape_checks() -> None:
    check_unified({"mte_to_dte_top1": 0.5, "mte_to_dte_mrr": 0.7, "n_models": 6}, {"models"})
    with pytest.raises(MalformedResultError):
        check_unified({"mte_to_dte_top1": 0.5, "n_models": 6}, {"models"})
    with pytest.raises(MalformedResultError):
        check_unified({"prompt_family_top1": 0.5, "n_prompts": 0}, {"prompts"})
    good = {"spearman": {"1024": 0.98, "4096": 0.995}, "default_dim": 4096, "n_tasks": 6, "n_pairs": 15}
    check_sketch(good, (1024, 4096))
    with pytest.raises(MalformedResultError):
        check_sketch(good, (1024, 4096, 16384))


def test_spearman_is_rank_based_with_average_ties() -> None:
    x = np.array([0.1, 0.5, 0.3, 0.9, 0.7])
    assert sf.spearman(x, np.exp(x)) == pytest.approx(1.0)
    assert sf.spearman(x, -x) == pytest.approx(-1.0)
    assert list(sf._ranks(np.array([3.0, 1.0, 3.0, 2.0]))) == [3.5, 1.0, 3.5, 2.0]
    y = np.array([0.2, 0.1, 0.4, 0.3, 0.5])  # ranks 2,1,4,3,5 against 1,3,2,5,4
    d2 = np.sum((np.array([1, 3, 2, 5, 4]) - np.array([2, 1, 4, 3, 5])) ** 2)
    assert sf.spearman(x, y) == pytest.approx(1 - 6 * d2 / (5 * (25 - 1)))


def test_capture_saves_the_input_and_returns_the_real_sketch(tmp_path: Path) -> None:
    vec = np.random.default_rng(0).normal(size=1000)
    capture = sf.StatisticCapture(tmp_path)
    real = taskemb_module.count_sketch
    with sf.capturing(capture):
        assert taskemb_module.count_sketch is not real
        out_unlabelled = taskemb_module.count_sketch(vec, 64, 0)
        capture.label("rte")
        out = taskemb_module.count_sketch(vec, 64, 0)
    assert taskemb_module.count_sketch is real
    assert np.array_equal(out, count_sketch(vec, 64, 0)) and np.array_equal(out_unlabelled, out)
    assert [p.name for p in tmp_path.iterdir()] == ["rte.npy"]
    assert np.allclose(np.load(tmp_path / "rte.npy"), vec.astype(np.float32))


def test_blockwise_cosines_equal_direct_and_sketch_keeps_geometry(tmp_path: Path, monkeypatch: Any) -> None:
    rng = np.random.default_rng(1)
    base = rng.normal(size=5000)
    vecs = [np.abs(base + rng.normal(scale=s, size=5000)) for s in (0.1, 0.5, 1.0, 2.0, 4.0)]
    paths = []
    for i, v in enumerate(vecs):
        paths.append(tmp_path / f"t{i}.npy")
        np.save(paths[-1], v.astype(np.float32))
    monkeypatch.setattr(sf, "CHUNK", 777)  # several blocks, the last one partial
    m = np.stack([v / np.linalg.norm(v) for v in vecs])
    assert np.allclose(sf.full_cosines(paths), m @ m.T, atol=1e-6)
    upper = np.triu_indices(5, k=1)
    wide = sf.sketched_cosines(paths, 4096, 0)[upper]
    assert sf.spearman(sf.full_cosines(paths)[upper], wide) > 0.9
    assert not np.allclose(sf.sketched_cosines(paths, 4, 0), m @ m.T, atol=1e-3)  # 4 buckets distort
