"""The README's Python blocks run as written (in order, one interpreter, a fresh folder); a block after
``<!-- readme-test: skip (reason) -->`` is left out, and only for a stated reason."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BLOCK = re.compile(r"(<!-- readme-test: skip \((?P<why>[^)]+)\) -->\n)?```python\n(?P<code>.*?)```", re.S)


def python_blocks() -> tuple[list[str], list[str]]:
    """(blocks to run, reasons of the skipped ones), in README order."""
    run, skipped = [], []
    for m in BLOCK.finditer((ROOT / "README.md").read_text(encoding="utf-8")):
        (skipped if m["why"] else run).append(m["why"] or m["code"])
    return run, skipped


def test_readme_python_blocks_run(tmp_path: Path) -> None:
    run, skipped = python_blocks()
    assert len(run) >= 2 and len(skipped) <= 1, skipped
    script = tmp_path / "readme.py"
    script.write_text("\n".join(run), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "mrpc" in done.stdout and "cb" in done.stdout, done.stdout
    assert (tmp_path / ".fute-demo" / "registry.db").is_file()
