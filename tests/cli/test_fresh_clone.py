"""A fresh clone has no ``../shared``: ``make test`` must still collect every module, skip the tests that
need the research data with a reason, and ``FUTE_REQUIRE_SHARED=1`` (CI) must turn those skips into
failures.

The "clone" is a copy of the working tree's tracked and unignored files in a temporary folder, so
neither ``../shared`` nor ``FUTE_SHARED`` reaches it; the venv's editable install finds packages after
``sys.path``, so the copy's own packages are the ones imported.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def copy_tree(dest: Path) -> Path:
    """Copy the files git would clone (plus untracked, unignored ones) into ``dest/fute``."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    clone = dest / "fute"
    for rel in filter(None, listed.split("\0")):
        src = ROOT / rel
        if src.is_file():  # a deleted, not yet committed file is still listed
            (clone / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, clone / rel)
    return clone


def run_pytest(clone: Path, *args: str, require: bool = False) -> subprocess.CompletedProcess[str]:
    """Run pytest inside the copy with no shared folder in reach."""
    env = {k: v for k, v in os.environ.items() if k not in ("FUTE_SHARED", "FUTE_REQUIRE_SHARED")}
    env["PYTHONPATH"] = str(clone)
    if require:
        env["FUTE_REQUIRE_SHARED"] = "1"
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rs", *args]
    return subprocess.run(cmd, cwd=clone, env=env, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the repository with no ``shared`` folder beside it."""
    path = copy_tree(tmp_path_factory.mktemp("clone"))
    assert not (path.parent / "shared").exists()
    return path


def test_collection_has_no_errors_and_shared_tests_skip_with_a_reason(clone: Path) -> None:
    # -m shared_data still collects (imports) every module, so a module that reads ../shared at import
    # shows up as a collection error; the selected tests then skip before their fixtures run.
    done = run_pytest(clone, "-m", "shared_data")
    out = done.stdout + done.stderr
    summary = out.strip().splitlines()[-1]
    assert "ERROR collecting" not in out and not re.search(r"\d+ errors?", summary), out[-3000:]
    assert done.returncode == 0, out[-3000:]
    assert re.search(r"\d+ skipped", summary) and "passed" not in summary and "failed" not in summary, summary
    assert "research data not found:" in out and "set FUTE_SHARED" in out, out[-3000:]


def test_ci_variable_turns_the_skips_into_failures(clone: Path) -> None:
    done = run_pytest(clone, "tests/ingest/test_taskweb_files.py", "-x", require=True)
    out = done.stdout + done.stderr
    assert done.returncode == 1, out[-3000:]
    assert "FUTE_REQUIRE_SHARED=1 makes this a failure" in out, out[-3000:]
