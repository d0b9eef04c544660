"""Where the tests find the research data in ``../shared`` (TaskWeb files, the probe pool, TaskWeb's
published scores), and the marker for tests that need it.

A fresh clone has no ``../shared``: tests marked ``@needs_shared(...)`` are then skipped with a reason
naming the missing path (``tests/conftest.py`` checks the marker before any fixture runs). CI sets
``FUTE_REQUIRE_SHARED=1`` so that the same absence fails instead: CI must never pass by skipping.
The folder is ``FUTE_SHARED`` when set, else ``shared`` beside the repository (as ``bench.common``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REQUIRE_ENV = "FUTE_REQUIRE_SHARED"
MARKER = "shared_data"


def shared_dir() -> Path:
    """The shared research-data folder (``FUTE_SHARED`` or ``../shared`` beside the repository).

    Returns:
        The folder path; it may not exist (a fresh clone).
    """
    return Path(os.environ.get("FUTE_SHARED", ROOT.parent / "shared"))


SHARED = shared_dir()
TASKWEB_DATA = SHARED / "datasets" / "taskweb"
PROBE_POOL = SHARED / "datasets" / "probe" / "probe_pool.jsonl"
TASKWEB_GOLD = SHARED / "groundtruth" / "taskweb"


def needs_shared(*relative: str) -> pytest.MarkDecorator:
    """Mark a test (or a module, via ``pytestmark``) as needing these paths under the shared folder.

    Args:
        relative: paths relative to the shared folder, e.g. ``"datasets/taskweb"``.

    Returns:
        The ``shared_data`` marker carrying the paths.
    """
    return getattr(pytest.mark, MARKER)(*relative)


def missing_shared(paths: tuple[str, ...]) -> list[Path]:
    """The required shared paths that do not exist.

    Args:
        paths: paths relative to the shared folder (empty: the folder itself).

    Returns:
        The absent absolute paths, in the order given.
    """
    wanted = [shared_dir() / p for p in paths] or [shared_dir()]
    return [p for p in wanted if not p.exists()]


def shared_required() -> bool:
    """Whether an absent shared path must fail the test (CI) rather than skip it."""
    return os.environ.get(REQUIRE_ENV, "") in ("1", "true", "yes")


def require_shared(path: Path) -> None:
    """Inside a test or fixture: skip (or fail under ``FUTE_REQUIRE_SHARED=1``) when ``path`` is absent.

    Args:
        path: an absolute path under the shared folder.

    Raises:
        pytest.skip.Exception: the path is absent (a fresh clone).
        pytest.fail.Exception: the path is absent and ``FUTE_REQUIRE_SHARED=1`` (CI).
    """
    if path.exists():
        return
    reason = f"research data not found: {path} (set FUTE_SHARED to the shared folder)"
    if shared_required():
        pytest.fail(f"{reason}; {REQUIRE_ENV}=1 makes this a failure", pytrace=False)
    pytest.skip(reason)
