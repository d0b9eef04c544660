"""`fute quickstart` end to end: real packaged data, real MiniLM, SQLite + FAISS, offline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fute.cli import main


def test_quickstart_embeds_queries_verifies_and_resumes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = str(tmp_path / "home")
    assert main(["--home", home, "quickstart", "--json", "--limit", "32"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert sorted(out["embedded"]) == ["bbcnews-topic", "drugreview-condition", "drugreview-sentiment"]
    assert out["verify"]["ok"] and out["verify"]["spaces"][0]["sql_count"] == 3
    # the two drug-review tasks share a domain: each is the other's nearest task, BBC news is farther
    nearest = {name: hits[0][0] for name, hits in out["neighbours"].items()}
    assert nearest["drugreview-sentiment"] == "drugreview-condition"
    assert nearest["drugreview-condition"] == "drugreview-sentiment"
    drug_pair = out["neighbours"]["drugreview-sentiment"][0][1]
    assert all(score < drug_pair for _, score in out["neighbours"]["bbcnews-topic"])

    assert main(["--home", home, "quickstart", "--json", "--limit", "32"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["embedded"] == [] and len(again["skipped"]) == 3
    assert main(["--home", home, "stats", "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["last_job"]["status"] == "done" and stats["subjects"]["dataset"] == 3
