"""The `fute` command line as users run it (a real subprocess for the entry point, in-process
calls of ``main`` for the rest)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fute.cli import main
from registry.api import Registry
from registry.settings import Settings
from tests.registry.helpers import make_datasets, put, space


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_init_then_verify_json_is_ok(tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    home = str(tmp_path / "home")
    code, out, _ = run_cli(capsys, "--home", home, "--db", db_url, "init", "--json")
    assert code == 0 and json.loads(out)["revision"]
    code, out, _ = run_cli(capsys, "maintain", "verify", "--json", "--home", home, "--db", db_url)
    report = json.loads(out)
    assert code == 0 and report == {"ok": True, "spaces": [], "problems": []}


def test_spaces_list_stats_rebuild_and_a_failing_verify(
    tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    reg = Registry(Settings.build(home=tmp_path, db=db_url))
    reg.init()
    subjects = make_datasets(reg, 4)
    space(reg, "alpha")
    put(reg, "alpha", subjects)
    base = ["--home", str(tmp_path), "--db", db_url]
    code, out, _ = run_cli(capsys, *base, "spaces", "list", "--json")
    (row,) = json.loads(out)
    assert code == 0
    assert {k: row[k] for k in ("name", "method", "surrogate", "dim", "n_embeddings")} == {
        "name": "alpha",
        "method": "fake",
        "surrogate": "fake",
        "dim": 16,
        "n_embeddings": 4,
    }
    assert len(row["fingerprint"]) == 64
    code, out, _ = run_cli(capsys, *base, "stats", "--json")
    stats = json.loads(out)
    assert stats["subjects"]["dataset"] == 4 and stats["spaces"][0]["n_embeddings"] == 4
    (reg.settings.index_dir / "space-1" / "manifest.json").write_text("{broken")
    code, out, _ = run_cli(capsys, *base, "maintain", "verify", "--json")
    report = json.loads(out)
    assert code == 1 and not report["ok"] and "manifest is unreadable" in report["problems"][0]
    code, out, _ = run_cli(capsys, *base, "maintain", "rebuild", "--space", "alpha", "--json")
    assert code == 0 and json.loads(out) == {"rebuilt": ["alpha"]}
    code, out, _ = run_cli(capsys, *base, "maintain", "verify")
    assert code == 0 and out.strip().endswith("ok")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--db", "nonsense://x", "stats"], "unsupported database backend"),
        (["--db", "::not a url::", "stats"], "cannot parse database URL"),
        (["maintain", "rebuild", "--space", "ghost"], "no embedding space named 'ghost'"),
        (
            [
                "ingest",
                "prompt",
                "--llm",
                "pkg:smollm2",
                "--template",
                "@/no/such/file.txt",
                "--verbalizers",
                '[["a"], ["b"]]',
                "--name",
                "p",
            ],
            "cannot read the template file",
        ),
        (
            [
                "ingest",
                "prompt",
                "--llm",
                "pkg:smollm2",
                "--template",
                "Q: {text} A:",
                "--verbalizers",
                "[oops",
                "--name",
                "p",
            ],
            "--verbalizers must be JSON",
        ),
        (
            [
                "ingest",
                "prompt",
                "--llm",
                "pkg:smollm2",
                "--template",
                "no placeholder",
                "--verbalizers",
                '[["a"], ["b"]]',
                "--name",
                "p",
            ],
            "must contain {text}",
        ),
        (
            ["spaces", "create", "s", "--method", "taskemb", "--param", "epoch=3"],
            "unknown taskemb parameter",
        ),
        (["query", "sources", "--target", "ghost"], "no dataset named 'ghost'"),
        (["transfer", "import", "/no/such.csv"], "file not found"),
        (["ingest", "catalogue", "/no/such.yaml"], "cannot read catalogue"),
    ],
)
def test_errors_are_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(["--home", str(tmp_path), "init"]) == 0
    capsys.readouterr()
    code, _, err = run_cli(capsys, "--home", str(tmp_path), *argv)
    assert code == 2 and message in err and err.startswith("fute: error:") and err.count("\n") == 1


def test_commands_on_an_uninitialised_home_say_run_init(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_cli(capsys, "--home", str(tmp_path / "empty"), "stats")
    assert code == 2 and "run `fute init` first" in err


def test_console_script_runs(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "fute"
    proc = subprocess.run(
        [str(exe), "--home", str(tmp_path), "init"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    proc = subprocess.run(
        [str(exe), "--home", str(tmp_path), "spaces", "list", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0 and json.loads(proc.stdout) == []


def test_prompt_accepts_fute_jinja_fields(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """FUTE's NLI templates name their fields {{premise}}/{{hypothesis}}; the renderer fills them, so
    registration must accept them too (it once looked for the literal "{text}")."""
    assert main(["--home", str(tmp_path), "init"]) == 0
    template = "Given that {{premise}} Does it follow that {{hypothesis}} yes, no, or maybe?"
    verbalizers = '[["yes"], ["maybe"], ["no"]]'
    argv = ["ingest", "prompt", "--llm", "pkg:smollm2", "--template", template]
    code, out, err = run_cli(
        capsys, "--home", str(tmp_path), *argv, "--verbalizers", verbalizers, "--name", "nli-0", "--json"
    )
    assert code == 0, err
    assert "nli-0" in out
    code, _, err = run_cli(
        capsys,
        "--home",
        str(tmp_path),
        *argv[:-1],
        "{{hypothesis}} only",
        "--verbalizers",
        verbalizers,
        "--name",
        "nli-1",
    )
    assert code == 2 and "must contain {text}" in err
