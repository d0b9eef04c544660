"""Fixtures of the ingestion tests: an initialised registry home and a CLI runner."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from fute.cli import main
from tests.shared_data import shared_dir

# ../shared beside the repository (CI puts it there); FUTE_SHARED overrides. Tests that read it carry
# @needs_shared (tests/shared_data.py): skipped on a fresh clone, failed in CI.
SHARED = shared_dir() / "datasets"

Run = Callable[..., tuple[int, Any, str]]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """An initialised registry home (SQLite)."""
    path = tmp_path / "home"
    assert main(["--home", str(path), "init"]) == 0
    return path


@pytest.fixture
def fute(home: Path, capsys: pytest.CaptureFixture[str]) -> Run:
    """Run ``fute --home HOME ARGS...``; returns (exit code, parsed JSON or text, stderr)."""

    def run(*args: str) -> tuple[int, Any, str]:
        capsys.readouterr()
        code = main(["--home", str(home), *args])
        out = capsys.readouterr()
        try:
            return code, json.loads(out.out), out.err
        except ValueError:
            return code, out.out, out.err

    return run


@pytest.fixture(scope="session")
def llm_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Conversion cache for SmolLM2 (removed after the session unless FUTE_TEST_LLM_CACHE names it)."""
    kept = os.environ.get("FUTE_TEST_LLM_CACHE")
    path = Path(kept) if kept else tmp_path_factory.mktemp("llm-cache")
    yield path
    if not kept:
        shutil.rmtree(path, ignore_errors=True)  # 538 MB of fp32 weights
