"""`--ray` without Ray installed, and with SQLite on a cluster: clear errors, exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from fute.cli import main
from tests.scale.conftest import write_catalogue

# Ray hidden from the import system (as if the extra were not installed), then the real CLI.
HIDE_RAY = "import sys; sys.modules['ray'] = None; from fute.cli import main; sys.exit(main(sys.argv[1:]))"


def test_without_ray_the_error_names_the_extra(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert main(["--home", str(home), "init"]) == 0
    path = write_catalogue(tmp_path, ["cb"])
    cmd = [sys.executable, "-c", HIDE_RAY, "--home", str(home), "ingest", "catalogue", str(path), "--ray"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 2, proc.stderr
    assert "pip install 'fute-registry[ray]'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_cluster_address_with_sqlite_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "home"
    assert main(["--home", str(home), "init"]) == 0
    path = write_catalogue(tmp_path, ["cb"])
    code = main(["--home", str(home), "ingest", "catalogue", str(path), "--ray", "ray://10.0.0.1:10001"])
    assert code == 2
    err = capsys.readouterr().err
    assert "PostgreSQL" in err and "--db" in err
