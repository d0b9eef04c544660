"""The import contracts in pyproject.toml (`lint-imports`, run by `make lint`) hold, and each would
fail on a module that breaks it: an upward import, an ingest<->query import, and an import loop."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT = Path(sys.executable).parent / "lint-imports"

pytestmark = pytest.mark.skipif(not LINT.exists(), reason="import-linter is not installed (make install)")


def lint_imports() -> tuple[int, str]:
    """Run `lint-imports` on the repository (no cache: the mutants below come and go)."""
    proc = subprocess.run(
        [str(LINT), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    return proc.returncode, proc.stdout + proc.stderr


def test_the_contracts_hold() -> None:
    code, out = lint_imports()
    assert code == 0, out
    assert "4 kept, 0 broken" in out, out


@pytest.fixture
def mutants() -> Iterator[list[Path]]:
    """Temporary modules written into the packages; removed afterwards whatever happens."""
    written: list[Path] = []
    yield written
    for path in written:
        path.unlink(missing_ok=True)
        shutil.rmtree(path.parent / "__pycache__" / path.stem, ignore_errors=True)


@pytest.mark.parametrize(
    ("files", "broken"),
    [
        ({"registry/_mutant_up.py": "import fute.cli\n"}, "floors: fute above ingest and query"),
        ({"ingest/_mutant_side.py": "def f():\n    import query.service\n"}, "never import each other"),
        (
            {
                "query/_mutant_a.py": "import query._mutant_b\n",
                "query/_mutant_b.py": "import query._mutant_a\n",
            },
            "no import cycles",
        ),
    ],
    ids=["upward", "sideways", "cycle"],
)
def test_each_contract_catches_its_mutant(mutants: list[Path], files: dict[str, str], broken: str) -> None:
    for rel, source in files.items():
        path = ROOT / rel
        mutants.append(path)
        path.write_text(source, encoding="utf-8")
    code, out = lint_imports()
    assert code != 0, out
    line = next(ln for ln in out.splitlines() if broken in ln and ln.rstrip().endswith(("KEPT", "BROKEN")))
    assert line.endswith("BROKEN"), out
