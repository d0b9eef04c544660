"""Every TaskWeb file and the probe pool in ../shared register through the CLI."""

from __future__ import annotations

import json

import pytest

from tests.ingest.conftest import SHARED, Run
from tests.shared_data import needs_shared

pytestmark = needs_shared("datasets/taskweb/manifest.json", "datasets/probe/probe_pool.jsonl")

FORMAT_OF = {
    "classification": "classification",
    "pair classification": "pair-classification",
    "pair regression": "pair-regression",
    "multiple choice": "multiple-choice",
    "extractive QA": "extractive-qa",
}


def test_all_22_taskweb_files_register_with_format_and_count(fute: Run) -> None:
    # read here, not at import: a fresh clone without ../shared must still collect this module
    manifest = json.loads((SHARED / "taskweb" / "manifest.json").read_text())
    assert len(manifest) == 22
    for task in manifest:
        code, out, err = fute(
            "ingest",
            "dataset",
            str(SHARED / "taskweb" / f"{task['task']}.jsonl"),
            "--name",
            task["task"],
            "--limit",
            "5000",
            "--json",
        )
        assert code == 0, err
        assert out["format"] == FORMAT_OF[task["format"].split(" (")[0]], task["task"]
        assert out["n_examples"] == task["n"], task["task"]
    code, listing, _ = fute("datasets", "list", "--json")
    assert code == 0 and len(listing) == 22
    by_name = {row["name"]: row for row in listing}
    assert by_name["stsb"]["format"] == "pair-regression" and by_name["stsb"]["label_set"] is None
    assert by_name["anli_r3"]["label_set"] == ["entailment", "neutral", "contradiction"]
    assert by_name["scitail"]["label_set"] == ["entails", "neutral"]
    for row in listing:
        assert {"name", "format", "n_examples", "content_hash", "tags"} <= set(row)


def test_default_limit_samples_1000_stratified(fute: Run) -> None:
    code, out, _ = fute(
        "ingest",
        "dataset",
        str(SHARED / "taskweb" / "rte.jsonl"),
        "--name",
        "rte",
        "--json",
        "--tag",
        "family=nli",
        "--tag",
        "family=pair",
    )
    assert code == 0 and out["n_examples"] == 1000 and out["n_source"] == 2000
    _, shown, _ = fute("datasets", "show", "rte", "--json")
    assert shown["sampling"]["stratified"] and shown["tags"] == {"family": ["nli", "pair"]}


def test_probe_pool_registers_as_a_probe_set(fute: Run) -> None:
    rows = [json.loads(line) for line in (SHARED / "probe" / "probe_pool.jsonl").read_text().splitlines()]
    distinct = {(r["text"], r["text_pair"]) for r in rows}  # the file repeats 3 one-word texts
    code, out, err = fute(
        "probes",
        "create",
        "shared-u",
        "--from",
        str(SHARED / "probe" / "probe_pool.jsonl"),
        "--n",
        "5000",
        "--json",
    )
    assert code == 0, err
    assert out["n_texts"] == len(distinct) == 4997
    assert out["n_pairs"] == sum(1 for _, pair in distinct if pair) == 1373
    _, listing, _ = fute("probes", "list", "--json")
    assert [p["name"] for p in listing] == ["shared-u"] and listing[0]["n_texts"] == 4997


@pytest.mark.parametrize("task", ["boolq", "copa", "squad_v2"])
def test_registered_examples_keep_their_fields(fute: Run, task: str) -> None:
    code, _, err = fute("ingest", "dataset", str(SHARED / "taskweb" / f"{task}.jsonl"), "--name", task)
    assert code == 0, err
    _, shown, _ = fute("datasets", "show", task, "--json")
    example = shown["examples_preview"][0]
    expected = {
        "boolq": {"text", "text_pair", "label"},
        "copa": {"context", "question", "choices", "label"},
        "squad_v2": {"context", "question", "answers"},
    }[task]
    assert set(example) == expected
