"""Catalogue edits in the CLI: ``fute delete`` (confirmation or --yes, same function as HTTP DELETE),
``fute tag`` (tags reach the SQL-side filters of the next query; ``--remove`` too, also from a warm
filter cache), ``fute rename``; and ``PATCH /subjects/...`` over the same registry functions."""

from __future__ import annotations

import io
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fute.http import create_app
from query.service import QueryOptions, query_similar
from registry.api import Registry
from registry.edits import edit_tags
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


def _names(answer: dict[str, Any]) -> list[str]:
    return [r["name"] for r in answer["results"]]


def test_removed_tag_stops_matching_where_in_the_same_process(two_spaces: Registry) -> None:
    """The search filter cache is stamped with max(tags.id), which removing an older tag does not
    move: without the tag_removals counter the second query returned topic-a from the cached columns."""
    opts = QueryOptions(k=5, spaces=("fake",), where=(("lang", "en"),))
    edit_tags(two_spaces.db, "dataset", "topic-a", add=[("lang", "en")])
    edit_tags(two_spaces.db, "dataset", "sent-b", add=[("lang", "de")])  # the newest tag is not removed
    assert _names(query_similar(two_spaces, "sent-a", opts)) == ["topic-a"]  # builds the cached columns
    tags = edit_tags(two_spaces.db, "dataset", "topic-a", remove=[("lang", None)])
    assert "lang" not in tags
    assert _names(query_similar(two_spaces, "sent-a", opts)) == []
    # one value of a key: the other stays and still matches
    edit_tags(two_spaces.db, "dataset", "topic-a", add=[("family", "news")])
    assert edit_tags(two_spaces.db, "dataset", "topic-a", remove=[("family", "topic")])["family"] == ["news"]
    news = QueryOptions(k=5, spaces=("fake",), where=(("family", "news"),))
    topic = QueryOptions(k=9, spaces=("fake",), where=(("family", "topic"),))
    assert _names(query_similar(two_spaces, "sent-a", news)) == ["topic-a"]
    assert "topic-a" not in _names(query_similar(two_spaces, "sent-a", topic))


def test_tag_remove_asks_then_removes(
    two_spaces: Registry, fute: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = fute("tag", "dataset", "topic-a", "--remove", "family")
    assert code == 2 and "needs confirmation: pass --yes" in err
    code, out, err = fute("tag", "dataset", "topic-a", "lang=en", "--remove", "family", "--yes", "--json")
    assert code == 0, err
    assert out["tags"] == {"lang": ["en"]}
    code, out, _ = fute("tag", "dataset", "topic-a", "--remove", "family", "--yes", "--json")  # re-run
    assert code == 0 and out["tags"] == {"lang": ["en"]}
    code, _, err = fute("tag", "dataset", "topic-a")
    assert code == 2 and "needs KEY=VALUE tags to add or --remove" in err
    code, _, err = fute("tag", "dataset", "topic-a", "--remove", "=x", "--yes")
    assert code == 2 and "--remove needs KEY or KEY=VALUE" in err


def test_rename_keeps_vectors_and_refuses_taken_or_bad_names(two_spaces: Registry, fute: Run) -> None:
    code, _, err = fute("rename", "dataset", "sent-b", "sentiment-b")
    assert code == 2 and "needs confirmation: pass --yes" in err
    code, out, err = fute("rename", "dataset", "sent-b", "sentiment-b", "--yes", "--json")
    assert code == 0, err
    assert out == {"renamed": "sent-b", "to": "sentiment-b", "kind": "dataset"}
    code, out, _ = fute("query", "similar", "sentiment-b", "--space", "fake", "-k", "1", "--json")
    assert code == 0 and out["query"]["name"] == "sentiment-b" and len(out["results"]) == 1
    code, _, err = fute("rename", "dataset", "sent-b", "x", "--yes")  # re-run: the old name is gone
    assert code == 2 and "no dataset named 'sent-b'" in err
    code, _, err = fute("rename", "dataset", "sentiment-b", "sent-a", "--yes")
    assert code == 2 and "a dataset named 'sent-a' already exists" in err
    code, _, err = fute("rename", "dataset", "sentiment-b", "has space", "--yes")
    assert code == 2 and "invalid name 'has space'" in err
    assert two_spaces.verify().ok


def test_http_patch_edits_tags_and_renames_through_the_same_functions(two_spaces: Registry) -> None:
    with TestClient(create_app(two_spaces.settings, "tok")) as client:
        url = "/subjects/dataset/topic-a"
        assert client.patch(url, json={"rename": "x"}).status_code == 401
        auth = {"Authorization": "Bearer tok"}
        body = {"add_tags": {"lang": ["en"]}, "remove_tags": ["family=topic"], "rename": "topic-z"}
        response = client.patch(url, json=body, headers=auth)
        assert response.status_code == 200, response.text
        assert response.json() == {"name": "topic-z", "kind": "dataset", "tags": {"lang": ["en"]}}
        taken = client.patch("/subjects/dataset/topic-z", json={"rename": "sent-a"}, headers=auth)
        assert taken.status_code == 409 and "already exists" in taken.json()["detail"]
        missing = client.patch(url, json={"rename": "y"}, headers=auth)
        assert missing.status_code == 404
