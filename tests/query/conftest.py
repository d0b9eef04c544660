"""Fixtures of the query tests: the fake catalogue in two spaces and a CLI runner."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fute.cli import main
from registry.api import EmbeddingItem, Registry
from registry.settings import Settings
from registry.spaces import SpaceConfig
from registry.subjects import get_subject
from tests.web.conftest import build_fake

Run = Callable[..., tuple[int, Any, str]]


@pytest.fixture
def two_spaces(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Registry]:
    """The fake catalogue in ``fake`` (9 vectors, a model and a prompt) plus ``small`` (2 datasets)."""
    monkeypatch.delenv("FUTE_DEFAULT_SPACE", raising=False)
    reg = Registry(Settings.build(home=tmp_path / "home"))
    reg.init()
    build_fake(reg)
    reg.create_space(SpaceConfig(name="small", surrogate="fake", method="fake2", dim=4))
    with reg.db.read() as s:
        ids = [get_subject(s, n, "dataset").id for n in ("sent-a", "sent-b")]
    reg.put_embeddings("small", [EmbeddingItem(i, np.arange(1, 5, dtype=np.float32) + i) for i in ids])
    yield reg
    reg.close()


@pytest.fixture
def fute(two_spaces: Registry, capsys: pytest.CaptureFixture[str]) -> Run:
    """Run ``fute --home HOME ARGS...`` on ``two_spaces``; returns (exit code, JSON or text, stderr)."""

    def run(*args: str) -> tuple[int, Any, str]:
        capsys.readouterr()
        code = main(["--home", str(two_spaces.settings.home), *args])
        out = capsys.readouterr()
        try:
            return code, json.loads(out.out), out.err
        except ValueError:
            return code, out.out, out.err

    return run
