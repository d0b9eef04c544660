"""`fute quickstart` end to end (slow tier): real packaged data, a real fine-tuned classifier,
SmolLM2 prompts, real MiniLM surrogate, SQLite + FAISS, offline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fute.cli import main


@pytest.mark.slow
def test_quickstart_builds_ranks_verifies_and_resumes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = str(tmp_path / "home")
    assert main(["--home", home, "quickstart", "--json", "--probes", "64"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["job"]["status"] == "done" and out["job"]["counts"]["failed"] == 0
    assert out["verify"]["ok"]
    assert len(out["sources"]) == 5 and "rte" not in [n for n, _ in out["sources"]]
    assert {n for n, _ in out["prompts"]} == {"sentiment@smollm2", "nli@smollm2"}
    assert [n for n, _ in out["models"]] == ["sst2-classifier"]
    scores = [s for _, s in out["sources"]]
    assert scores == sorted(scores, reverse=True)

    assert main(["--home", home, "spaces", "list", "--json"]) == 0
    spaces = {s["name"]: s for s in json.loads(capsys.readouterr().out)}
    assert spaces["textemb"]["n_embeddings"] == 12  # datasets only
    assert spaces["fute-taskemb"]["n_embeddings"] == 12 + 1 + 2  # datasets, classifier, prompts

    assert main(["--home", home, "quickstart", "--json", "--probes", "64"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["job"]["counts"]["done"] == 0 and again["job"]["counts"]["failed"] == 0
    assert again["sources"] == out["sources"]
