"""Issue 17, cases 1, 12, 13 and the tag-key part of 15 on the CLI: one line, exit 2, nothing stored."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from tests.reliability.hardening import Home, make_home, write_jsonl


@pytest.fixture
def home(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Home:
    return make_home(tmp_path, capsys)


def test_case01_parquet_with_a_garbage_footer_is_one_line(home: Home) -> None:
    body = b"\x15\x04" + bytes(range(256)) * 4
    path = home.files / "bad.parquet"
    path.write_bytes(b"PAR1" + body + struct.pack("<i", len(body)) + b"PAR1")
    home.refuses("ingest", "dataset", str(path), "--name", "p", fragment="not a readable Parquet file")


@pytest.mark.parametrize("flag", ["--probes", "--limit", "--seed"])
def test_case12_starter_bad_counts_refused_before_any_dataset(home: Home, flag: str) -> None:
    home.refuses("ingest", "starter", flag, "-1", fragment=flag)


def test_case13_rerun_of_an_interrupted_ingest_names_fute_embed(home: Home) -> None:
    # the state a kill -9 between registration and embedding leaves: dataset a, no vector
    source = write_jsonl(home.files / "a2.jsonl", prefix="a")
    msg = home.refuses(
        "ingest", "dataset", str(source), "--name", "a", "--space", "txt", fragment="already exists"
    )
    assert "fute embed a --space txt" in msg


@pytest.mark.parametrize("tag", ["bad key=x", "1abc=x", "k=", "=v", "key!=x"])
def test_case15_tag_keys_are_checked(home: Home, tag: str) -> None:
    source = write_jsonl(home.files / "t.jsonl", prefix="tag")
    home.refuses("ingest", "dataset", str(source), "--name", "t", "--tag", tag, fragment="tag")
