"""Query layer: rankings equal a brute-force numpy cosine ranking on real embeddings (with and
without SQL filters), fusion, errors; `fute eval` against values computed by hand."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from fute.cli import main
from ingest.methods.textemb import encode_texts
from ingest.surrogate import load_surrogate
from query.service import QueryOptions, query_similar, query_sources, query_vector
from registry.api import EmbeddingItem, Registry
from registry.errors import InvalidDataError, NotFoundError
from registry.models import Dataset, Embedding
from registry.settings import Settings
from registry.spaces import SpaceConfig
from registry.subjects import add_subject
from tests.ingest.conftest import SHARED
from tests.shared_data import needs_shared

N = 400


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    """400 subjects whose vectors are real MiniLM embeddings of real probe texts."""
    reg = Registry(Settings.build(home=tmp_path_factory.mktemp("q")))
    reg.init()
    lines = (SHARED / "probe" / "probe_pool.jsonl").read_text().splitlines()[:N]
    rows = [json.loads(line) for line in lines]
    vectors = encode_texts(load_surrogate(), [r["text"] for r in rows])
    reg.create_space(SpaceConfig(name="real", surrogate="pkg:all-minilm-l6-v2", method="probe-text", dim=384))
    with reg.db.transaction() as s:
        ids = []
        for i, r in enumerate(rows):
            tags = [("source", r["source"]), ("parity", "even" if i % 2 == 0 else "odd")]
            if i % 100 == 7:
                tags.append(("rare", "yes"))  # 1% of the catalogue
            fmt = "pair-classification" if r["text_pair"] else "classification"
            ds = Dataset(name=f"t{i}", source="probe", task_format=fmt, n_examples=1, content_hash=f"h{i}")
            ids.append(add_subject(s, ds, tags).id)
    reg.put_embeddings("real", [EmbeddingItem(sid, v) for sid, v in zip(ids, vectors, strict=True)])
    return reg


def brute_force(reg: Registry, query: np.ndarray, allowed: set[str] | None, k: int) -> list[str]:
    with reg.db.read() as s:
        rows = s.execute(
            select(Dataset.name, Embedding.vector).join(Embedding, Embedding.subject_id == Dataset.id)
        ).all()
    names = [n for n, _ in rows if allowed is None or n in allowed]
    mat = np.stack([np.frombuffer(b, dtype="<f4") for n, b in rows if allowed is None or n in allowed])
    mat = mat / np.linalg.norm(mat, axis=1, keepdims=True)
    scores = mat @ (query / np.linalg.norm(query))
    return [names[i] for i in np.argsort(-scores, kind="stable")[:k]]


@needs_shared("datasets/probe/probe_pool.jsonl")
def test_rankings_match_brute_force_cosine(catalogue: Registry) -> None:
    query = catalogue.vector_of("real", 5)
    got = [r["name"] for r in query_vector(catalogue, "real", query.tolist(), QueryOptions(k=10))["results"]]
    assert got == brute_force(catalogue, query, None, 10)
    odd = {f"t{i}" for i in range(1, N, 2)}
    opts = QueryOptions(k=10, where=(("parity", "odd"),))
    got = [r["name"] for r in query_vector(catalogue, "real", query.tolist(), opts)["results"]]
    assert got == brute_force(catalogue, query, odd, 10)


@needs_shared("datasets/probe/probe_pool.jsonl")
def test_a_one_percent_filter_returns_exactly_k(catalogue: Registry) -> None:
    rare = {f"t{i}" for i in range(N) if i % 100 == 7}
    out = query_similar(catalogue, "t0", QueryOptions(k=3, where=(("rare", "yes"),)))
    names = [r["name"] for r in out["results"]]
    assert len(names) == 3 and set(names) <= rare
    assert names == brute_force(catalogue, catalogue.vector_of("real", 1), rare, 3)
    everything = query_similar(catalogue, "t0", QueryOptions(k=10, where=(("rare", "yes"),)))["results"]
    assert len(everything) == 4  # fewer matches than k: all of them, never padding
    scores = [r["score"] for r in everything]
    assert scores == sorted(scores, reverse=True) and [r["rank"] for r in everything] == [1, 2, 3, 4]


@needs_shared("datasets/probe/probe_pool.jsonl")
def test_json_shape_fusion_and_errors(catalogue: Registry) -> None:
    out = query_sources(catalogue, "t3", QueryOptions(k=4, where=(("format", "classification"),)))
    assert set(out) == {"space", "query", "results", "warnings"} and out["space"] == "real"
    assert {"rank", "name", "kind", "score", "tags", "method"} <= set(out["results"][0])
    assert all(r["format"] == "classification" and r["name"] != "t3" for r in out["results"])
    if "copy" not in [s.name for s, _ in catalogue.spaces()]:
        catalogue.create_space(
            SpaceConfig(name="copy", surrogate="pkg:all-minilm-l6-v2", method="copy", dim=384)
        )
        with catalogue.db.read() as s:
            rows = s.execute(select(Embedding.subject_id, Embedding.vector)).all()
        catalogue.put_embeddings("copy", [EmbeddingItem(i, np.frombuffer(b, dtype="<f4")) for i, b in rows])
    single = query_sources(catalogue, "t3", QueryOptions(k=4, spaces=("real",)))
    fused = query_sources(catalogue, "t3", QueryOptions(k=4, spaces=("real", "copy"), rrf_k=10))
    assert fused["query"]["fusion"] == {"rrf_k": 10} and fused["space"] == "real,copy"
    assert fused["results"][0]["score"] == pytest.approx(2 / 11)  # rank 1 in both spaces: 1/11 + 1/11
    assert [r["name"] for r in fused["results"]] == [r["name"] for r in single["results"]]
    with pytest.raises(InvalidDataError, match="k must be between 1 and 100"):
        query_sources(catalogue, "t3", QueryOptions(k=0))
    with pytest.raises(NotFoundError):
        query_sources(catalogue, "ghost", QueryOptions())
    with pytest.raises(InvalidDataError, match="kind='thing'"):
        query_sources(catalogue, "t3", QueryOptions(where=(("kind", "thing"),)))


def test_eval_reproduces_hand_computed_values(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = str(tmp_path / "h")
    assert main(["--home", home, "init"]) == 0
    reg = Registry.open(Settings.build(home=home))
    # target T and sources A, B, C on a circle: similarity to T is A > B > C
    angles = {"T": 0.0, "A": 0.3, "B": 0.9, "C": 2.0}
    reg.create_space(SpaceConfig(name="hand", surrogate="none", method="hand", dim=2))
    with reg.db.transaction() as s:
        ids = {
            n: add_subject(
                s, Dataset(name=n, source="x", task_format="classification", n_examples=1, content_hash=n)
            ).id
            for n in angles
        }
    reg.put_embeddings("hand", [EmbeddingItem(ids[n], [np.cos(a), np.sin(a)]) for n, a in angles.items()])
    csv = tmp_path / "t.csv"
    csv.write_text("source,target,score,setting\nA,T,0.5,s\nB,T,0.9,s\nC,T,0.1,s\n", encoding="utf-8")
    assert main(["--home", home, "transfer", "import", str(csv)]) == 0
    capsys.readouterr()
    assert main(["--home", home, "eval", "--space", "hand", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    # gold ranks: B=1, A=2, C=3 -> relevance (N - rank): B=2, A=1, C=0; gains 2^rel - 1: B=3, A=1, C=0
    # predicted A, B, C: DCG = 1/log2(2) + 3/log2(3) + 0 = 1 + 1.892789 = 2.892789
    # ideal B, A, C:     DCG = 3/log2(2) + 1/log2(3) + 0 = 3 + 0.630930 = 3.630930
    assert out["targets"]["T"]["ndcg"] == pytest.approx(2.892789 / 3.630930, abs=1e-6)
    assert out["targets"]["T"]["rho"] == 2  # the best source, B, is predicted second
    assert out["targets"]["T"]["regret_at_1"] == pytest.approx(0.9 - 0.5)  # top-1 is A (0.5), best is 0.9
    assert out["targets"]["T"]["regret_at_3"] == pytest.approx(0.0)
    assert out["n_targets"] == 1 and out["setting"] == "s" and 0 < out["random"]["ndcg"] < 1


@needs_shared("groundtruth/taskweb/taskweb_pairwise_scores.csv")
@pytest.mark.parametrize("order", ["gold", "reverse"])
def test_fute_eval_on_taskweb_scores_with_a_known_ranking(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], order: str
) -> None:
    """One TaskWeb target (rte, finetune/t5l): vectors placed on a circle so that similarity to the
    target follows the gold order (NDCG 1) or its reverse (the formula's minimum)."""
    import csv as csvlib

    from query.metrics import ndcg

    with open(
        SHARED.parent / "groundtruth" / "taskweb" / "taskweb_pairwise_scores.csv", encoding="utf-8"
    ) as fh:
        rows = [
            r
            for r in csvlib.DictReader(fh)
            if r["target"] == "rte" and r["adaptation"] == "finetune" and r["model"] == "t5l"
        ]
    gold = {r["source"]: float(r["transfer_score"]) for r in rows}
    assert len(gold) == 21
    ranked = sorted(gold, key=lambda s: -gold[s])
    placed = ranked if order == "gold" else ranked[::-1]
    home = str(tmp_path / "h")
    assert main(["--home", home, "init"]) == 0
    reg = Registry.open(Settings.build(home=home))
    reg.create_space(SpaceConfig(name="circle", surrogate="none", method="hand", dim=2))
    angles = {"rte": 0.0} | {name: 0.1 + 0.14 * i for i, name in enumerate(placed)}
    with reg.db.transaction() as s:
        ids = {
            n: add_subject(
                s, Dataset(name=n, source="x", task_format="classification", n_examples=1, content_hash=n)
            ).id
            for n in angles
        }
    reg.put_embeddings("circle", [EmbeddingItem(ids[n], [np.cos(a), np.sin(a)]) for n, a in angles.items()])
    path = tmp_path / "rte.csv"
    path.write_text(
        "source,target,score,setting\n" + "".join(f"{s},rte,{v},finetune/t5l\n" for s, v in gold.items()),
        encoding="utf-8",
    )
    assert main(["--home", home, "transfer", "import", str(path), "--origin", "taskweb"]) == 0
    capsys.readouterr()
    # The space's own order (the default ranking would also use the other targets' results).
    assert main(["--home", home, "eval", "--space", "circle", "--ranking", "similarity", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)["targets"]["rte"]
    if order == "gold":
        assert result["ndcg"] == pytest.approx(1.0) and result["rho"] == 1 and result["regret_at_1"] == 0
    else:
        assert result["ndcg"] == pytest.approx(ndcg(ranked[::-1], gold)) and result["rho"] == 21
        assert result["ndcg"] < 0.5
