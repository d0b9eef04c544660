"""Catalogue edits in the CLI: ``fute delete`` (confirmation or --yes, same function as HTTP DELETE)
and ``fute tag`` (tags reach the SQL-side filters of the next query)."""

from __future__ import annotations

import io

import pytest

from registry.api import Registry
from tests.query.conftest import Run


def test_delete_needs_confirmation_then_removes_subject_and_vectors(
    two_spaces: Registry, fute: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = fute("delete", "dataset", "sent-b")  # stdin is no terminal here
    assert code == 2 and "needs confirmation: pass --yes" in err
    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    code, text, _ = fute("delete", "dataset", "sent-b")
    assert code == 1 and "nothing deleted" in text
    code, out, err = fute("delete", "dataset", "sent-b", "--yes", "--json")
    assert code == 0, err
    assert out == {"deleted": "sent-b", "kind": "dataset", "vectors": 2}
    code, _, err = fute("delete", "dataset", "sent-b", "--yes")
    assert code == 2 and "no dataset named 'sent-b'" in err
    assert two_spaces.verify().ok


def test_tag_adds_tags_that_filters_see(two_spaces: Registry, fute: Run) -> None:
    code, out, err = fute("tag", "dataset", "topic-a", "family=sentiment", "lang=en", "--json")
    assert code == 0, err
    assert out["tags"] == {"family": ["topic", "sentiment"], "lang": ["en"]}
    code, out, _ = fute("query", "similar", "sent-a", "--space", "fake", "--where", "lang=en", "--json")
    assert [r["name"] for r in out["results"]] == ["topic-a"]
    code, out, _ = fute("tag", "dataset", "topic-a", "lang=en", "--json")  # re-run: kept once
    assert out["tags"]["lang"] == ["en"]
    code, _, err = fute("tag", "dataset", "topic-a", "broken")
    assert code == 2 and "tag needs key=value" in err
