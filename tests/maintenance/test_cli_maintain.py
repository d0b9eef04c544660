"""The maintenance commands through ``fute``: --json shapes, exit codes, clear errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fute.cli import main
from registry.subjects import add_subject
from tests.maintenance.helpers import answers, build_catalogue, dataset
from tests.registry.helpers import open_registry


def _run(capsys: pytest.CaptureFixture[str], home: Path, *args: str) -> tuple[int, Any, str]:
    capsys.readouterr()
    code = main([*args, "--home", str(home), "--json"])
    out = capsys.readouterr()
    return code, json.loads(out.out) if out.out.strip() else None, out.err


def test_commands_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "home"
    reg = open_registry(home, f"sqlite:///{home / 'registry.db'}")
    build_catalogue(reg, n=10)
    with reg.db.transaction() as s:
        add_subject(s, dataset("d0-again", "d0"))  # same content hash as d0
    before = answers(reg)

    code, out, _ = _run(capsys, home, "stats")
    assert code == 0 and out["subjects"]["dataset"] == 11 and out["spaces"][0]["by_kind"]["dataset"] == 10
    code, out, _ = _run(capsys, home, "maintain", "dedupe")
    assert code == 0 and out["groups"][0]["keep"] == "d0" and not out["groups"][0]["merged"]
    code, out, _ = _run(capsys, home, "maintain", "dedupe", "--merge")
    assert code == 0 and out["groups"][0]["merged"]
    (reg.settings.index_dir / "stray.tmp").write_text("x")
    code, out, _ = _run(capsys, home, "maintain", "verify")
    assert code == 1 and any("stray.tmp" in p for p in out["problems"])
    code, out, _ = _run(capsys, home, "maintain", "prune", "--dry-run")
    assert code == 0 and out["dry_run"] and len(out["files"]) == 1
    code, out, _ = _run(capsys, home, "maintain", "prune")
    assert code == 0 and out["files"] == [str(reg.settings.index_dir / "stray.tmp")]
    code, out, _ = _run(capsys, home, "maintain", "verify")
    assert code == 0 and out["ok"]

    code, out, _ = _run(capsys, home, "export", str(tmp_path / "exp"))
    assert code == 0 and out["tables"]["subjects"]["rows"] == 11 and len(out["schema_revision"]) > 0
    new = tmp_path / "new"
    assert main(["init", "--home", str(new)]) == 0
    code, out, _ = _run(capsys, new, "import", str(tmp_path / "exp"))
    assert code == 0 and sorted(out["rebuilt"]) == ["flat", "l2"]
    copy = open_registry(new, f"sqlite:///{new / 'registry.db'}")
    assert answers(copy) == before
    code, _, err = _run(capsys, new, "import", str(tmp_path / "exp"))
    assert code == 2 and "not empty" in err and "fute --home NEW init" in err
    code, _, err = _run(capsys, new, "export", str(tmp_path / "exp"))
    assert code == 2 and "already holds an export" in err
    code, _, err = _run(capsys, new, "maintain", "reembed", "--from", "flat", "--to", "nope")
    assert code == 2 and "no embedding space named 'nope'" in err
