"""`fute quickstart` end to end: real packaged data, real MiniLM, SQLite + FAISS, offline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fute.cli import main


def test_quickstart_registers_embeds_queries_verifies_and_resumes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = str(tmp_path / "home")
    assert main(["--home", home, "quickstart", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["registered"]) == 12 and out["probe_set"]["n_texts"] == 1000
    assert sorted(out["embedded"]) == sorted(out["registered"])
    assert out["verify"]["ok"] and out["verify"]["spaces"][0]["sql_count"] == 12
    nearest = {name: hits[0][0] for name, hits in out["neighbours"].items()}
    # measured on this machine (seeded, deterministic): topic tasks find each other, as do the
    # sentence-pair tasks; other families are less tidy under the TextEmb baseline
    assert nearest["20newsgroups"] == "reuters-r8" and nearest["reuters-r8"] == "20newsgroups"
    assert nearest["mrpc"] == "rte" and nearest["rte"] == "mrpc"

    assert main(["--home", home, "quickstart", "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["registered"] == [] and again["embedded"] == [] and len(again["skipped"]) == 12
    assert again["probe_set"] == {"name": "default", "skipped": True}
    assert main(["--home", home, "stats", "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["last_job"]["status"] == "done" and stats["subjects"]["dataset"] == 12
