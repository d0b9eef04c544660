"""Transfer-aware source ranking (issue 14): a 4-task toy graph scored by hand, the no-leakage
property (with a mutant that must be caught), cache invalidation on writes, ``measured`` and
``--prefer-measured``, ``fute eval`` (fixed and nested), and ``--explain`` through the CLI and HTTP.

The vectors are hand-made 2-D directions: these tests check ranking arithmetic and plumbing, not
embedding quality (that is bench/transfer_quality.py on TaskWeb with the real surrogate)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

import query.transfer_rank as transfer_rank
from fute.cli import main
from fute.http import create_app
from query.service import QueryOptions, query_sources
from query.transfer import import_transfers
from query.transfer_query import TransferOptions
from query.transfer_rank import TransferParams
from registry.api import EmbeddingItem, Registry
from registry.errors import InvalidDataError
from registry.models import Dataset
from registry.settings import Settings
from registry.spaces import SpaceConfig
from registry.subjects import add_subject

# Cosines to t: a 0.8, b 0.6, c 0.0 (unit vectors in 2-D).
VECTORS = {"t": (1.0, 0.0), "a": (0.8, 0.6), "b": (0.6, 0.8), "c": (0.0, 1.0)}
FORMATS = {"t": "classification", "a": "classification", "b": "pair-classification", "c": "classification"}
RESULTS = [  # (source, target, score); setting "x"
    ("b", "a", 0.2), ("c", "a", 0.0), ("t", "a", 0.1),
    ("a", "b", 0.3), ("c", "b", 0.1),
    ("a", "c", 0.0), ("b", "c", 0.4),
    ("a", "t", 5.0), ("b", "t", -5.0), ("c", "t", 0.7),  # into the target: never read to predict
]  # fmt: skip
DEFAULTS = TransferParams()  # the shipped defaults (the prior reads every visible result)
PLAIN = TransferParams(lam=0.5, tau=1.0, kappa=0.0, alpha=0.0, center=False)


def toy(home: Path) -> Registry:
    """Four datasets in one cosine space with the results above."""
    reg = Registry(Settings.build(home=home))
    reg.init()
    reg.create_space(SpaceConfig(name="s", surrogate="hand", method="probe-text", dim=2))
    with reg.db.transaction() as session:
        ids = {
            n: add_subject(
                session, Dataset(name=n, source="toy", task_format=FORMATS[n], n_examples=1, content_hash=n)
            ).id
            for n in VECTORS
        }
    reg.put_embeddings("s", [EmbeddingItem(ids[n], np.array(v)) for n, v in VECTORS.items()])
    rows = [{"source": s, "target": t, "score": v, "setting": "x"} for s, t, v in RESULTS]
    import_transfers(reg, rows)
    return reg


def sources(reg: Registry, params: TransferParams = PLAIN, **kw: object) -> dict[str, object]:
    topts = TransferOptions(params=params, **kw)  # type: ignore[arg-type]
    return query_sources(reg, "t", QueryOptions(k=3, transfer=topts))


def zs(values: list[float]) -> list[float]:
    mean = sum(values) / len(values)
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
    return [(v - mean) / sd for v in values]


def test_toy_graph_scores_by_hand(tmp_path: Path) -> None:
    reg = toy(tmp_path)
    got = {r["name"]: r["score"] for r in sources(reg)["results"]}
    zsim = dict(zip("abc", zs([0.8, 0.6, 0.0]), strict=True))
    w = {p: math.exp(zsim[p]) for p in "abc"}
    # zT per pivot column: a <- {b .2, c 0, t .1}; b <- {a .3, c .1}; c <- {a 0, b .4}
    za = dict(zip("bct", zs([0.2, 0.0, 0.1]), strict=True))
    zt = {("b", "a"): za["b"], ("c", "a"): za["c"], ("a", "b"): 1.0, ("c", "b"): -1.0}
    zt |= {("a", "c"): -1.0, ("b", "c"): 1.0}
    graph = {}
    for s in "abc":
        pivots = [p for p in "abc" if (s, p) in zt]
        graph[s] = sum(w[p] * zt[(s, p)] for p in pivots) / sum(w[p] for p in pivots)
    zg = dict(zip("abc", zs([graph[s] for s in "abc"]), strict=True))
    want = {s: 0.5 * zg[s] + 0.5 * zsim[s] for s in "abc"}
    assert got == pytest.approx(want, abs=1e-5)
    assert want == pytest.approx({"a": 0.7136, "b": 0.6655, "c": -1.3791}, abs=1e-3)  # worked on paper
    assert list(got) == ["a", "b", "c"]


def test_format_term_and_prior_shrinkage_move_scores(tmp_path: Path) -> None:
    reg = toy(tmp_path)
    base = {r["name"]: r["score"] for r in sources(reg)["results"]}
    fmt = {
        r["name"]: r["score"]
        for r in sources(reg, TransferParams(**{**PLAIN.to_dict(), "alpha": 1.0}))["results"]
    }
    assert fmt["a"] == pytest.approx(base["a"] + 1.0) and fmt["b"] == pytest.approx(base["b"])
    shrunk = {
        r["name"]: r["score"]
        for r in sources(reg, TransferParams(**{**PLAIN.to_dict(), "kappa": 5.0}))["results"]
    }
    assert shrunk != pytest.approx(base)


def ranking_ignores_results_into_target(home: Path) -> bool:
    """Change, then delete, every result into t: its ranking and scores must not move."""
    reg = toy(home)
    before = [(r["name"], r["score"]) for r in sources(reg, DEFAULTS)["results"]]
    import_transfers(
        reg, [{"source": s, "target": "t", "score": 99.0 * i, "setting": "x"} for i, s in enumerate("abc")]
    )
    changed = [(r["name"], r["score"]) for r in sources(reg, DEFAULTS)["results"]]
    reg.delete_subject("t", "dataset")  # drops every result into t, then re-add t without results
    with reg.db.transaction() as session:
        tid = add_subject(
            session, Dataset(name="t", source="toy", task_format=FORMATS["t"], n_examples=1, content_hash="t")
        ).id
    reg.put_embeddings("s", [EmbeddingItem(tid, np.array(VECTORS["t"]))])
    import_transfers(reg, [{"source": "t", "target": "a", "score": 0.1, "setting": "x"}])
    deleted = [(r["name"], r["score"]) for r in sources(reg, DEFAULTS)["results"]]
    return all(same(before, after) for after in (changed, deleted))


def same(x: list[tuple[str, float]], y: list[tuple[str, float]]) -> bool:
    return [n for n, _ in x] == [n for n, _ in y] and all(
        abs(a - b) < 1e-9 for (_, a), (_, b) in zip(x, y, strict=True)
    )


def test_no_leakage(tmp_path: Path) -> None:
    assert ranking_ignores_results_into_target(tmp_path)


def test_leaking_mutant_is_caught(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A ranking that forgets to hide the target's own results must fail the property above.
    monkeypatch.setattr(transfer_rank, "hidden", lambda edges, target, also=(): np.zeros(0, dtype=np.int64))
    assert not ranking_ignores_results_into_target(tmp_path)


def test_measured_prefer_measured_and_cache_invalidation(tmp_path: Path) -> None:
    reg = toy(tmp_path)
    hits = sources(reg)["results"]
    assert {h["name"]: h["measured"] for h in hits}["c"] == [{"setting": "x", "score": 0.7}]
    preferred = [h["name"] for h in sources(reg, prefer_measured=True)["results"]]
    assert preferred == ["a", "c", "b"]  # measured into t: a 5.0 > c 0.7 > b -5.0
    import_transfers(reg, [{"source": "c", "target": "t", "score": 9.0, "setting": "x"}])
    assert sources(reg, prefer_measured=True)["results"][0]["name"] == "c"
    hit = sources(reg)["results"][0]
    assert hit["evidence"][0]["pivot"] in {"b", "c"} and 0 < hit["transfer"]["graph_share"] < 1


def test_modes_and_errors(tmp_path: Path) -> None:
    reg = toy(tmp_path)
    assert sources(reg)["query"]["ranking"]["mode"] == "transfer"
    assert sources(reg, ranking="similarity")["query"]["ranking"]["mode"] == "similarity"
    with pytest.raises(InvalidDataError, match="no transfer results in setting 'y'"):
        sources(reg, setting="y")
    with pytest.raises(InvalidDataError, match="tau"):
        TransferParams(tau=0.0)
    with pytest.raises(InvalidDataError, match="datasets only"):
        query_sources(
            reg, "t", QueryOptions(transfer=TransferOptions(ranking="transfer")), include_models=True
        )


def test_where_filter_applies(tmp_path: Path) -> None:
    reg = toy(tmp_path)
    opts = QueryOptions(k=3, where=(("format", "classification"),), transfer=TransferOptions(params=PLAIN))
    assert [r["name"] for r in query_sources(reg, "t", opts)["results"]] == ["a", "c"]


def test_eval_cli_fixed_and_nested(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    toy(tmp_path)
    home = ["--home", str(tmp_path)]
    assert (
        main(
            [
                *home,
                "eval",
                "--space",
                "s",
                "--setting",
                "x",
                "--json",
                "--kappa",
                "0",
                "--alpha",
                "0",
                "--no-center",
            ]
        )
        == 0
    )
    fixed = json.loads(capsys.readouterr().out)
    assert fixed["ranking"] == "transfer" and fixed["targets"]["t"]["predicted"] == ["a", "b", "c"]
    assert main([*home, "eval", "--space", "s", "--setting", "x", "--json", "--select", "nested"]) == 0
    nested = json.loads(capsys.readouterr().out)
    assert "lam" in nested["targets"]["t"]["selected"] and nested["n_targets"] == 4
    assert main([*home, "eval", "--space", "s", "--setting", "x", "--ranking", "similarity", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["targets"]["t"]["predicted"] == ["a", "b", "c"]


def test_explain_cli_and_http(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    toy(tmp_path)
    assert (
        main(["--home", str(tmp_path), "query", "sources", "--target", "t", "--space", "s", "--explain"]) == 0
    )
    text = capsys.readouterr().out
    assert "ranking: transfer-aware" in text and "via " in text and "measured into the target (x)" in text
    with TestClient(create_app(Settings.build(home=tmp_path), None)) as client:
        got = client.get(
            "/query/sources", params={"target": "t", "space": "s", "explain": "true", "kappa": 0}
        )
        assert got.status_code == 200, got.text
        body = got.json()
        assert body["query"]["ranking"]["params"]["kappa"] == 0.0
        assert body["results"][0]["evidence"] and "provenance" in body["results"][0]
        assert client.get("/query/sources", params={"target": "t", "tau": 0}).status_code == 422
        assert (
            client.get("/eval", params={"space": "s", "setting": "x", "selection": "nested"}).json()[
                "selection"
            ]
            == "nested"
        )


def test_python_facade_is_transfer_aware(tmp_path: Path) -> None:
    import fute

    toy(tmp_path)
    ranking = fute.open(tmp_path).sources_for("t", k=3, space="s")
    assert ranking.raw["query"]["ranking"]["mode"] == "transfer"
    assert sorted(r.name for r in ranking) == ["a", "b", "c"]
    assert all(r.transfer and r.evidence for r in ranking)
