"""Reading the registry never loads torch or transformers: they load only when something is
embedded, fine-tuned or probed (issue 18). Each check runs in a fresh interpreter, because the test
process itself has long imported both."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from registry.api import Registry
from registry.settings import Settings
from tests.registry.helpers import make_datasets, put, space

HEAVY = ("torch", "transformers")

# Runs one CLI command in-process, then prints which heavy modules it pulled in, as JSON on stderr.
PROBE = f"""
import json, sys
from fute.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
print(json.dumps({{"code": code, "loaded": [m for m in {HEAVY!r} if m in sys.modules]}}), file=sys.stderr)
"""


def _loaded(argv: list[str]) -> dict[str, Any]:
    """Run `fute ARGV` in a fresh interpreter; the exit code and the heavy modules it loaded."""
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, timeout=300, check=False
    )
    report = json.loads(proc.stderr.strip().splitlines()[-1])
    assert isinstance(report, dict)
    return report


def test_importing_the_cli_leaves_torch_and_transformers_unloaded() -> None:
    code = f"import sys, fute.cli, fute; print([m for m in {HEAVY!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A small registry with vectors (stored directly: reading them is what is under test)."""
    folder = tmp_path_factory.mktemp("lazy")
    reg = Registry(Settings.build(home=folder))
    reg.init()
    subjects = make_datasets(reg, 6)
    space(reg, "alpha")
    put(reg, "alpha", subjects)
    reg.close()
    return str(folder)


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["stats", "--json"],
        ["spaces", "list", "--json"],
        ["datasets", "list", "--json"],
        ["query", "sources", "--target", "d0", "--space", "alpha", "--json"],
        ["query", "similar", "d0", "--space", "alpha", "--json"],
    ],
    ids=lambda a: " ".join(a[:2]),
)
def test_read_commands_never_load_torch_or_transformers(home: str, argv: list[str]) -> None:
    report = _loaded([*argv, "--home", home] if argv != ["--help"] else argv)
    assert report["code"] == 0, report
    assert report["loaded"] == [], f"`fute {' '.join(argv)}` loaded {report['loaded']}"


def test_the_probe_sees_a_command_that_does_load_torch(home: str, tmp_path: Path) -> None:
    # the mutant direction: a command that embeds must show torch, or the check above proves nothing
    report = _loaded(["spaces", "create", "tmp", "--method", "textemb", "--home", home, "--json"])
    assert "torch" in report["loaded"], report
