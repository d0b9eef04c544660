"""``--explain`` is readable without ``--json``, and fused rankings show each result's rank per space."""

from __future__ import annotations

import re

from fute.cli_show import provenance_text
from tests.query.conftest import Run


def test_fused_ranking_shows_per_space_ranks(fute: Run) -> None:
    code, text, err = fute("query", "similar", "sent-a", "--space", "fake,small", "-k", "8")
    assert code == 0, err
    assert "fused by reciprocal rank fusion" in text.splitlines()[0]
    assert re.search(r"sent-b\s+dataset\s+0\.\d{4}\s+#\d fake, #1 small", text), text
    assert re.search(r"topic-a\s+dataset\s+0\.\d{4}\s+#\d fake, - small", text), text
    code, out, _ = fute("query", "similar", "sent-a", "--space", "fake,small", "--json")
    assert {r["name"]: r["ranks"] for r in out["results"]}["sent-b"]["small"] == 1
    code, out, _ = fute("query", "similar", "sent-a", "--space", "fake", "--json")
    assert all("ranks" not in r for r in out["results"])  # one space: the score is the similarity


def test_explain_prints_similarity_and_provenance_in_text_mode(fute: Run) -> None:
    # before: --explain printed nothing more without --json
    code, text, err = fute("query", "similar", "sent-a", "--space", "fake", "--explain", "-k", "2")
    assert code == 0, err
    lines = text.splitlines()
    assert "why: cosine similarity per space, and how each vector was made" in lines
    assert any(line.startswith("  query sent-a in fake: created_at=") for line in lines)
    assert re.search(r"^  1\. \S+: similarity fake=0\.\d{4}$", text, re.M), text


def test_provenance_text_is_one_readable_line() -> None:
    prov = {"method": "taskemb", "steps": 60, "params": {"a": 1, "b": 2}, "hash": "x" * 80}
    line = provenance_text(prov)
    assert line.startswith("hash=" + "x" * 45 + "...")
    assert "method=taskemb" in line and "params=<2 entries>" in line and "steps=60" in line
    assert provenance_text({}) == "none recorded"
