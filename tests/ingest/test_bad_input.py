"""Bad task data: one clear message, exit code 2, and nothing stored. One test per case."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.ingest.conftest import SHARED, Run
from tests.shared_data import needs_shared


def write_jsonl(path: Path, rows: list[dict[str, object]]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def assert_rejected(fute: Run, args: list[str], message: str) -> None:
    code, _, err = fute(*args)
    assert code == 2, err
    assert message in err, err
    assert err.startswith("fute: error:") and err.count("\n") == 1
    _, listing, _ = fute("datasets", "list", "--json")
    assert listing == [], "something was stored"


def two_class(n: int = 6) -> list[dict[str, object]]:
    return [{"text": f"example {i}", "label": "pos" if i % 2 else "neg"} for i in range(n)]


def test_missing_file(fute: Run, tmp_path: Path) -> None:
    assert_rejected(fute, ["ingest", "dataset", str(tmp_path / "nope.csv"), "--name", "x"], "file not found")


def test_not_utf8(fute: Run, tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("text,label\ncaf\xe9 au lait,1\nthé,0\n".encode("latin-1"))
    assert_rejected(fute, ["ingest", "dataset", str(path), "--name", "x"], "is not UTF-8 text (byte 0xe9")


def test_unparseable_file(fute: Run, tmp_path: Path) -> None:
    path = tmp_path / "broken.jsonl"
    path.write_text('{"text": "a", "label": 1}\n{"text": "b", "label": \n', encoding="utf-8")
    assert_rejected(fute, ["ingest", "dataset", str(path), "--name", "x"], "cannot parse file:")


def test_unsupported_extension(fute: Run, tmp_path: Path) -> None:
    path = tmp_path / "data.xlsx"
    path.write_bytes(b"PK\x03\x04")
    assert_rejected(fute, ["ingest", "dataset", str(path), "--name", "x"], "use one of .csv, .json")


def test_unknown_column_lists_the_columns(fute: Run, tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "d.jsonl", two_class())
    assert_rejected(
        fute,
        ["ingest", "dataset", src, "--name", "x", "--label", "stars"],
        "no column 'stars' for the label; columns seen: text, label",
    )


def test_undetectable_text_column_asks_for_the_flag(fute: Run, tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "d.jsonl", [{"body": f"b{i}", "label": i % 2} for i in range(4)])
    assert_rejected(
        fute, ["ingest", "dataset", src, "--name", "x"], "pass --text COL (columns seen: body, label)"
    )


def test_empty_dataset(fute: Run, tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("text,label\n", encoding="utf-8")
    assert_rejected(fute, ["ingest", "dataset", str(path), "--name", "x"], "empty")


def test_single_class(fute: Run, tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "d.jsonl", [{"text": f"t{i}", "label": "pos"} for i in range(5)])
    assert_rejected(fute, ["ingest", "dataset", src, "--name", "x"], "only one class ('pos')")


def test_missing_and_nan_labels(fute: Run, tmp_path: Path) -> None:
    path = tmp_path / "nan.csv"
    path.write_text("text,label\na,1\nb,\nc,0\nd,NaN\n", encoding="utf-8")
    assert_rejected(fute, ["ingest", "dataset", str(path), "--name", "x"], "2 rows have no label in 'label'")


def test_mixed_label_types(fute: Run, tmp_path: Path) -> None:
    rows = [{"text": "a", "label": 1}, {"text": "b", "label": "neg"}, {"text": "c", "label": 0}]
    src = write_jsonl(tmp_path / "d.jsonl", rows)
    assert_rejected(fute, ["ingest", "dataset", src, "--name", "x"], "mix numbers and strings")


def test_regression_column_with_text(fute: Run, tmp_path: Path) -> None:
    rows = [{"text": "a", "label": 0.5}, {"text": "b", "label": "high"}, {"text": "c", "label": 2.5}]
    src = write_jsonl(tmp_path / "d.jsonl", rows)
    assert_rejected(
        fute,
        ["ingest", "dataset", src, "--name", "x", "--format", "regression"],
        "regression column 'label' holds text ('high')",
    )


def test_absurdly_long_row_is_truncated_with_a_warning(fute: Run, tmp_path: Path) -> None:
    rows = two_class()
    rows[0]["text"] = "word " * 200_000
    code, out, err = fute(
        "ingest", "dataset", write_jsonl(tmp_path / "d.jsonl", rows), "--name", "long", "--json"
    )
    assert code == 0 and "truncated from 999999 to 20000 characters" in err
    _, shown, _ = fute("datasets", "show", "long", "--json")
    assert max(len(e["text"]) for e in shown["examples_preview"]) == 20_000 and out["n_examples"] == 6


def test_duplicate_name(fute: Run, tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "d.jsonl", two_class())
    assert fute("ingest", "dataset", src, "--name", "same")[0] == 0
    other = write_jsonl(tmp_path / "e.jsonl", two_class(8))
    code, _, err = fute("ingest", "dataset", other, "--name", "same")
    assert code == 2 and "a dataset named 'same' already exists" in err
    _, listing, _ = fute("datasets", "list", "--json")
    assert [d["n_examples"] for d in listing] == [6]


def test_duplicate_content_needs_the_flag(fute: Run, tmp_path: Path) -> None:
    rows = two_class()
    assert fute("ingest", "dataset", write_jsonl(tmp_path / "a.jsonl", rows), "--name", "a")[0] == 0
    shuffled = write_jsonl(tmp_path / "b.jsonl", rows[::-1])  # same data, other order
    code, _, err = fute("ingest", "dataset", shuffled, "--name", "b")
    assert code == 2 and "already registered as 'a'" in err
    code, out, _ = fute("ingest", "dataset", shuffled, "--name", "b", "--allow-duplicate", "--json")
    assert code == 0 and out["duplicate_of"] == "a"


@pytest.mark.parametrize("name", ["has space", "../etc/passwd", "", "x" * 201, "semi;colon", "new\nline"])
def test_hostile_names(fute: Run, tmp_path: Path, name: str) -> None:
    src = write_jsonl(tmp_path / "d.jsonl", two_class())
    assert_rejected(fute, ["ingest", "dataset", src, "--name", name], "invalid name")


def test_bad_tag(fute: Run, tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "d.jsonl", two_class())
    assert_rejected(
        fute, ["ingest", "dataset", src, "--name", "x", "--tag", "nokey"], "--tag needs key=value"
    )


def test_hub_id_offline(fute: Run) -> None:
    assert_rejected(fute, ["ingest", "dataset", "glue:rte@train", "--name", "x"], "without network")


def test_unknown_packaged_source(fute: Run) -> None:
    assert_rejected(
        fute, ["ingest", "dataset", "pkg:nope", "--name", "x"], "unknown packaged source 'pkg:nope'"
    )


def test_bad_multiple_choice_label(fute: Run, tmp_path: Path) -> None:
    rows = [{"context": "c", "choices": ["a", "b"], "label": 5}]
    src = write_jsonl(tmp_path / "d.jsonl", rows)
    assert_rejected(
        fute, ["ingest", "dataset", src, "--name", "x"], "label 5 is not an index into its 2 choices"
    )


def test_nul_bytes_are_removed_not_stored(fute: Run, tmp_path: Path) -> None:
    rows = two_class()
    rows[1]["text"] = "bad\x00byte"
    code, _, err = fute("ingest", "dataset", write_jsonl(tmp_path / "d.jsonl", rows), "--name", "nul")
    assert code == 0, err
    _, shown, _ = fute("datasets", "show", "nul", "--json")
    assert shown["examples_preview"][1]["text"] == "badbyte"


@needs_shared("datasets/probe")
def test_bad_probe_requests(fute: Run, tmp_path: Path) -> None:
    code, _, err = fute("probes", "create", "p", "--from", str(tmp_path / "none.txt"))
    assert code == 2 and "file not found" in err
    code, _, err = fute("probes", "create", "p", "--from", "pkg:default-pool", "--exclude", "ghost")
    assert code == 2 and "no registered dataset with name or content hash 'ghost'" in err
    code, _, err = fute("probes", "create", "p")
    assert code == 2 and "at least one --from" in err
    _, listing, _ = fute("probes", "list", "--json")
    assert listing == []
    assert (SHARED / "probe").is_dir()
