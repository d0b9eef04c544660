"""Issue 17, the lesser items of case 15: mixed-type CSV labels, a duplicated header, ``stats`` on a
missing home, a model source that is not a model, ``--db`` in a missing folder outside the home,
and messages that named the wrong problem or fix. Each: one line, exit 2, nothing stored or created."""

from __future__ import annotations

from pathlib import Path

import pytest

from registry.settings import Settings
from tests.reliability.hardening import Home, make_home, write_jsonl


@pytest.fixture
def home(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Home:
    return make_home(tmp_path, capsys)


def one_line_error(code: int, err: str) -> str:
    """Assert exit 2 with a single ``fute: error:`` line and no traceback; returns the line."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, (code, err)
    assert lines[0].startswith("fute: error:"), err
    return lines[0]


def write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


MIXED_CSV = "text,label\nhello world one,1\nfoo bar two,pos\nbaz qux three,1\nquux four,neg\n"
MIXED_JSONL = '{"text": "hello world one", "label": 1}\n{"text": "foo bar two", "label": "pos"}\n'


@pytest.mark.parametrize(("name", "text"), [("m.csv", MIXED_CSV), ("m.jsonl", MIXED_JSONL)])
def test_case15_mixed_type_labels_are_refused_in_csv_as_in_jsonl(home: Home, name: str, text: str) -> None:
    path = write(home.files / name, text)
    msg = home.refuses("ingest", "dataset", path, "--name", "m", fragment="mix numbers and strings")
    assert "make them one type" in msg


def test_case15_numeric_and_named_csv_labels_alone_are_accepted(home: Home) -> None:
    numbers = write(home.files / "n.csv", "text,label\nhello world one,1\nfoo bar two,2\nbaz three,1\n")
    names = write(home.files / "s.csv", "text,label\nhello world one,pos\nfoo bar two,neg\nbaz three,pos\n")
    assert home.cli("ingest", "dataset", numbers, "--name", "n")[0] == 0
    assert home.cli("ingest", "dataset", names, "--name", "s")[0] == 0


@pytest.mark.parametrize(("name", "sep"), [("d.csv", ","), ("d.tsv", "\t")])
def test_case15_duplicated_header_is_refused(home: Home, name: str, sep: str) -> None:
    rows = ["text", "label", "label"], ["hello world one", "1", "0"], ["foo bar two", "0", "1"]
    path = write(home.files / name, "".join(sep.join(r) + "\n" for r in rows))
    msg = home.refuses("ingest", "dataset", path, "--name", "d", fragment="appears twice in the header")
    assert "'label'" in msg and "rename or drop one" in msg


@pytest.mark.parametrize("command", [["stats"], ["datasets", "list"], ["maintain", "verify"]])
def test_case15_reading_a_missing_home_does_not_create_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    missing, empty = tmp_path / "missing", tmp_path / "empty"
    empty.mkdir()
    for folder in (missing, empty):
        code, _out, err = Home(Settings.build(home=folder), tmp_path, capsys).cli(*command)
        msg = one_line_error(code, err)
        assert "no registry here" in msg and "run `fute init`" in msg
    assert not missing.exists() and list(empty.iterdir()) == []


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("/etc", "a folder without config.json, not a model"),
        ("{files}/a.jsonl", "is not a folder"),
        ("{files}/no-such-model", "does not exist"),
    ],
)
def test_case15_ingest_model_of_something_not_a_model_is_refused(
    home: Home, source: str, fragment: str
) -> None:
    path = source.format(files=home.files)
    msg = home.refuses("ingest", "model", path, "--name", "m", fragment=fragment)
    assert "save_pretrained" in msg and "hub id" in msg


def test_case15_prompt_on_an_llm_folder_that_is_not_a_model_is_refused(home: Home) -> None:
    home.refuses(
        "ingest", "prompt", "--llm", "/etc", "--template", "{text}", "--verbalizers", '["a", "b"]',
        "--name", "p", fragment="not a model",
    )  # fmt: skip


def test_case15_db_in_a_missing_folder_outside_the_home_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outside = tmp_path / "nonexistent" / "dir"
    settings = Settings.build(home=tmp_path / "home")
    code, _out, err = Home(settings, tmp_path, capsys).cli("--db", f"sqlite:///{outside}/x.db", "init")
    msg = one_line_error(code, err)
    assert f"folder {outside} does not exist" in msg and "create it first" in msg
    assert not (tmp_path / "nonexistent").exists() and not (tmp_path / "home").exists()


def test_case15_db_in_a_new_folder_inside_the_home_is_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "home" / "sub" / "x.db"
    code, _out, err = Home(Settings.build(home=tmp_path / "home"), tmp_path, capsys).cli(
        "--db", f"sqlite:///{db}", "init"
    )
    assert code == 0 and db.is_file(), err


def test_case15_a_folder_without_data_files_is_not_called_a_network_problem(home: Home) -> None:
    folder = home.files / "empty-folder"
    folder.mkdir()
    msg = home.refuses("ingest", "dataset", str(folder), "--name", "e", fragment="cannot load folder")
    assert "network" not in msg and "pass a data file" in msg


def test_case15_transfer_import_of_a_folder_says_it_is_a_folder(home: Home) -> None:
    msg = home.refuses("transfer", "import", str(home.files), fragment="is a folder, not a file")
    assert "source, target, score" in msg


def test_case15_catalogue_that_is_a_folder_names_the_fix(home: Home) -> None:
    home.refuses("ingest", "catalogue", str(home.files), fragment="pass a YAML catalogue file")


@pytest.mark.parametrize(
    "command",
    [
        ["probes", "create", "p", "--from", "{files}/a.jsonl", "--n", "2"],
        ["ingest", "dataset", "{files}/c.jsonl", "--name", "c", "--limit", "2"],
    ],
)
@pytest.mark.parametrize("seed", ["99999999999999999999", "-1"])
def test_case15_seeds_are_range_checked_at_parsing(home: Home, command: list[str], seed: str) -> None:
    write_jsonl(home.files / "c.jsonl", prefix="c")
    args = [a.format(files=home.files) for a in command]
    home.refuses(*args, "--seed", seed, fragment="--seed")
