"""Progress on long steps (issue 20, item 3): a bar with ETA on a terminal, lines elsewhere, nothing
without a reporter; and ``fute embed --all`` as a resumable job that shows the stages inside."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from ingest.progress import reporting, scope, stage
from tests.ingest.conftest import Run


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_line_progress_every_tenth_with_eta_and_scope() -> None:
    out = io.StringIO()
    with reporting(True, stream=out), scope("dataset a in te"), stage("fine-tuning", 20) as shown:
        for _ in range(20):
            shown.advance()
    lines = out.getvalue().splitlines()
    assert len(lines) == 11  # the start, then every tenth
    assert lines[0].startswith("fine-tuning [dataset a in te]: 0/20 (0%), ")
    assert lines[5].startswith("fine-tuning [dataset a in te]: 10/20 (50%), ") and "ETA " in lines[5]
    assert lines[-1].startswith("fine-tuning [dataset a in te]: 20/20 (100%), ") and "ETA" not in lines[-1]


def test_bar_on_a_terminal_and_silence_without_a_reporter() -> None:
    tty = Terminal()
    with reporting(True, stream=tty), stage("probing", 4) as shown:
        shown.advance(4)
    bar = tty.getvalue()
    assert "probing:   0%|" in bar and "0/4 [00:00<?" in bar  # a tqdm bar: elapsed<ETA slot
    assert bar.endswith("\r")  # removed when done (leave=False): the next line starts clean
    quiet = io.StringIO()
    with reporting(False, stream=quiet), stage("probing", 4) as shown:
        shown.advance(4)
    with stage("probing", 4) as shown:  # no reporter at all (library use, HTTP jobs)
        shown.advance(4)
    assert quiet.getvalue() == ""


def _csv(path: Path, word: str) -> str:
    rows = [f"{word} number {i} is {'good' if i % 2 else 'bad'},{i % 2}" for i in range(16)]
    path.write_text("text,label\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return str(path)


def test_embed_all_is_a_resumable_job_with_stage_progress(fute: Run, tmp_path: Path) -> None:
    for name, family in (("alpha", "x"), ("beta", "x"), ("gamma", "y")):
        code, _, err = fute(
            "ingest",
            "dataset",
            _csv(tmp_path / f"{name}.csv", name),
            "--name",
            name,
            "--tag",
            f"family={family}",
        )
        assert code == 0, err
    params = [
        "--param",
        "train_steps=2",
        "--param",
        "batch_size=8",
        "--param",
        "grad_examples=8",
        "--param",
        "dim=64",
    ]
    assert fute("spaces", "create", "te", "--method", "taskemb", *params)[0] == 0
    code, text, err = fute("embed", "--all", "--space", "te", "--kind", "dataset", "--where", "family=x")
    assert code == 0, err
    assert "job " in text and "(te): 2 done, 0 skipped, 0 failed" in text
    assert "fine-tuning [dataset alpha in te]: 2/2 (100%)" in err
    assert "gradient pass [dataset beta in te]: 1/1 (100%)" in err
    assert "[2/2] embed/te/dataset/beta: done" in err
    code, out, _ = fute("embed", "--all", "--space", "te", "--json")  # re-run over everything
    assert code == 0
    entries = {e["key"]: (e["status"], e["error"]) for e in out[0]["entries"]}
    assert entries == {
        "embed/te/dataset/alpha": ("skipped", "already embedded"),
        "embed/te/dataset/beta": ("skipped", "already embedded"),
        "embed/te/dataset/gamma": ("done", None),
    }
    code, _, err = fute("embed", "alpha", "--all", "--space", "te")
    assert code == 2 and "a NAME or --all" in err


@pytest.mark.parametrize(
    "args", [("embed", "--space", "te"), ("embed", "alpha", "--space", "te", "--where", "a=b")]
)
def test_embed_argument_mistakes_are_one_line(fute: Run, args: tuple[str, ...]) -> None:
    code, _, err = fute(*args)
    assert code == 2 and err.count("\n") == 1


def test_readme_catalogue_example_is_a_valid_catalogue(tmp_path: Path) -> None:
    from ingest.job_file import load_catalogue

    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    block = readme.split("```yaml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "catalogue.yaml"
    path.write_text(block, encoding="utf-8")
    cat = load_catalogue(path)  # validates every entry, touches no file or model
    assert [d["name"] for d in cat.entries("datasets")] == ["sst2", "my-data"]
    assert cat.entries("prompts")[0]["template"] == "Review: {text}\nSentiment:"
