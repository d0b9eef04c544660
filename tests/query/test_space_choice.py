"""The one space rule (``query.space_choice``) through the CLI, HTTP, the pages and the map:
``--space``, else the stored default (``fute spaces default NAME``), else ``FUTE_DEFAULT_SPACE``, else
the only space, else the space with the most vectors, with a one-line note naming the space."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from fute.http import create_app
from query.space_choice import choose_spaces
from registry.api import Registry
from registry.defaults import set_default_space, stored_default_space
from registry.settings import Settings
from tests.query.conftest import Run


def test_two_spaces_no_longer_break_a_default_query(two_spaces: Registry, fute: Run) -> None:
    # before: exit 2, "several spaces exist (fake, small); pass --space or set FUTE_DEFAULT_SPACE"
    code, out, err = fute("query", "similar", "sent-a", "--json")
    assert code == 0, err
    assert out["space"] == "fake" and "most vectors" in out["query"]["space_note"]
    assert "note: space 'fake' (the space with the most vectors" in err
    code, text, err = fute("query", "sources", "--target", "sent-a")
    assert code == 0 and text.startswith("space fake") and "note: space 'fake'" in err
    code, out, err = fute("query", "similar", "sent-a", "--space", "small", "--json")
    assert code == 0 and out["space"] == "small" and "space_note" not in out["query"] and err == ""


def test_stored_default_beats_the_environment_and_the_counts(
    two_spaces: Registry, fute: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = fute("spaces", "default", "small", "--json")
    assert code == 0 and out == {"default": "small", "previous": None}
    assert stored_default_space(two_spaces.db) == "small"
    code, out, _ = fute("query", "similar", "sent-a", "--json")
    assert code == 0 and out["space"] == "small" and "registry default" in out["query"]["space_note"]
    _, listing, _ = fute("spaces", "list", "--json")
    assert {r["name"]: r["default"] for r in listing} == {"fake": False, "small": True}
    _, text, _ = fute("spaces", "list")
    assert text.splitlines()[1].startswith("* small")
    monkeypatch.setenv("FUTE_DEFAULT_SPACE", "fake")
    env = Registry(Settings.build(home=two_spaces.settings.home))
    assert choose_spaces(env).name == "small"  # stored default first
    set_default_space(env.db, None)
    assert (choose_spaces(env).name, choose_spaces(env).reason) == ("fake", "FUTE_DEFAULT_SPACE")
    env.close()
    code, out, _ = fute("spaces", "default", "--json")
    assert code == 0 and out["default"] is None and out["in_use"] == "fake"


def test_unknown_spaces_are_named_with_the_known_ones(
    two_spaces: Registry, fute: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    # before: "'sent-a' has no vector in space 'nope'; run `fute embed sent-a --space nope`"
    code, _, err = fute("query", "sources", "--target", "sent-a", "--space", "nope")
    assert code == 2 and "--space 'nope': no embedding space has this name; known spaces: fake, small" in err
    assert "fute embed" not in err
    code, _, err = fute("spaces", "default", "nope")
    assert code == 2 and "known spaces: fake, small" in err
    monkeypatch.setenv("FUTE_DEFAULT_SPACE", "gone")
    code, _, err = fute("query", "similar", "sent-a")
    assert code == 2 and "FUTE_DEFAULT_SPACE 'gone'" in err


def test_http_uses_the_rule_and_names_space_parameter(two_spaces: Registry) -> None:
    client = TestClient(create_app(two_spaces.settings, token=None))
    got = client.get("/query/similar", params={"name": "sent-a"})
    assert got.status_code == 200 and got.json()["space"] == "fake" and got.json()["query"]["space_note"]
    bad = client.get("/query/sources", params={"target": "sent-a", "space": "nope"})
    assert bad.status_code == 404 and bad.json()["detail"].startswith("space='nope': no embedding space")
    set_default_space(two_spaces.db, "small")
    assert client.get("/query/similar", params={"name": "sent-a"}).json()["space"] == "small"


def test_pages_and_map_follow_the_stored_default(two_spaces: Registry, fute: Run, tmp_path: Path) -> None:
    set_default_space(two_spaces.db, "small")
    code, out, err = fute("map", "--out", str(tmp_path / "m.html"), "--json")
    assert code == 0 and out["space"] == "small" and "registry default" in err
    client = TestClient(create_app(two_spaces.settings, token=None))
    page = client.get("/ui/subject/dataset/sent-a").text
    assert 'id="space-switch"' in page and 'id="space-note"' in page
    assert '<option value="small" selected>small</option>' in page and '<option value="fake">' in page
    page = client.get("/ui/subject/dataset/sent-a", params={"space": "fake"}).text
    assert '<option value="fake" selected>fake</option>' in page and 'id="space-note"' not in page
    # topic-a has no vector in the default space: its page falls back to the space that has one
    page = client.get("/ui/subject/dataset/topic-a").text
    assert '<option value="fake" selected>fake</option>' in page and "the only space" in page
    assert client.get("/ui/subject/dataset/sent-a", params={"space": "nope"}).status_code == 404
    assert "registry default" in client.get("/ui/map").text
