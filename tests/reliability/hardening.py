"""A small registry for the hardening cases (issue 17): no model needed, real SQL and files.

``Home`` runs the CLI in-process (``fute.cli.main``) and hashes every table and file, so a test can
check "clear one-line error, exit 2, nothing changed, no job left running" in one call.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from ingest.register import DatasetRequest, register_dataset
from registry.api import Registry
from registry.models import Job
from registry.settings import Settings
from tests.reliability.common import file_hashes, table_hashes

State = tuple[dict[str, str], dict[str, str]]


def write_jsonl(path: Path, n: int = 8, prefix: str = "t") -> Path:
    """A small two-class classification file."""
    rows = [{"text": f"{prefix} example {i}", "label": i % 2} for i in range(n)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@dataclass
class Home:
    """A registry with two datasets (``a``, ``b``) and the CLI bound to it."""

    settings: Settings
    files: Path
    capsys: pytest.CaptureFixture[str]

    def cli(self, *args: str) -> tuple[int, str, str]:
        """Run ``fute --home HOME ARGS`` in this process; returns (exit code, stdout, stderr)."""
        from fute.cli import main

        self.capsys.readouterr()
        try:
            code = main(["--home", str(self.settings.home), *args])
        except SystemExit as exc:  # argparse errors
            code = int(exc.code or 0)
        out, err = self.capsys.readouterr()
        return code, out, err

    def state(self) -> State:
        """Hashes of every table and every file of the registry."""
        return table_hashes(self.settings.database_url), file_hashes(self.settings.home)

    def running_jobs(self) -> int:
        """Job rows still marked ``running``."""
        engine = create_engine(self.settings.database_url)
        try:
            with engine.connect() as conn:
                return len(conn.execute(select(Job.id).where(Job.status == "running")).all())
        finally:
            engine.dispose()

    def refuses(self, *args: str, fragment: str) -> str:
        """Assert that ``fute ARGS`` exits 2 with one clear line containing ``fragment``, changes
        nothing and leaves no job running; returns the message."""
        before = self.state()
        code, _out, err = self.cli(*args)
        lines = [line for line in err.splitlines() if line.strip()]
        assert code == 2, (code, err)
        assert "Traceback" not in err, err
        # one line; argparse puts its usage block above its error line
        assert len(lines) == 1 or lines[0].startswith("usage:"), err
        assert lines[-1].startswith(("fute: error:", "fute ")) and ": error:" in lines[-1], err
        assert fragment.lower() in err.lower(), err
        assert self.state() == before, f"fute {' '.join(args)} changed the registry"
        assert self.running_jobs() == 0
        return lines[-1]


def make_home(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Home:
    """Initialise a registry under ``tmp_path/home`` with datasets ``a`` and ``b`` (8 examples)."""
    settings = Settings.build(home=tmp_path / "home")
    reg = Registry(settings)
    reg.init()
    files = tmp_path / "files"
    files.mkdir()
    for name in ("a", "b"):
        source = write_jsonl(files / f"{name}.jsonl", prefix=name)
        register_dataset(reg, DatasetRequest(source=str(source), name=name, tags=(("family", name),)))
    reg.close()
    return Home(settings, files, capsys)
