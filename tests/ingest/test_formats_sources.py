"""Sources, format detection, label normalisation, sampling and probe sets (real files, offline)."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import pytest

from ingest.formats import ColumnMap, normalise
from ingest.labels import classification_labels
from ingest.probes import ProbeRequest, build_probes, norm
from ingest.register import DatasetRequest, register_dataset
from ingest.sampling import content_hash, subsample
from ingest.sources import load_table
from registry.api import Registry
from registry.settings import Settings
from tests.ingest.conftest import SHARED
from tests.shared_data import needs_shared

ROWS = [{"text": f"sentence number {i}", "label": ["neg", "pos", "neu"][i % 3]} for i in range(30)]


def _write_all_formats(folder: Path) -> dict[str, Path]:
    import pandas as pd

    paths = {ext: folder / f"data.{ext}" for ext in ("csv", "tsv", "json", "jsonl", "parquet")}
    for ext, delim in (("csv", ","), ("tsv", "\t")):
        with open(paths[ext], "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=["text", "label"], delimiter=delim)
            writer.writeheader()
            writer.writerows(ROWS)
    paths["json"].write_text(json.dumps(ROWS), encoding="utf-8")  # a top-level JSON array
    paths["jsonl"].write_text("".join(json.dumps(r) + "\n" for r in ROWS), encoding="utf-8")
    pd.DataFrame(ROWS).to_parquet(paths["parquet"])
    return paths


def test_every_local_format_yields_the_same_examples(tmp_path: Path) -> None:
    hashes = set()
    for ext, path in _write_all_formats(tmp_path).items():
        table = load_table(str(path))
        data = normalise(table.rows, table.columns, None, ColumnMap())
        assert data.task_format == "classification" and len(data.examples) == 30, ext
        assert data.label_set == ["neg", "neu", "pos"]
        hashes.add(content_hash(data.task_format, data.examples))
    assert len(hashes) == 1


@needs_shared("datasets/taskweb")
def test_hub_code_path_runs_offline_on_a_local_folder(tmp_path: Path) -> None:
    repo = tmp_path / "my_org_dataset"
    repo.mkdir()
    lines = (SHARED / "taskweb" / "rte.jsonl").read_text().splitlines()[:50]
    (repo / "train.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    table = load_table(f"{repo}@train")  # name[@split] -> datasets.load_dataset(name, split=...)
    assert table.origin == f"hf:{repo}@train" and len(table.rows) == 50
    data = normalise(table.rows, table.columns, None, ColumnMap())
    assert data.task_format == "pair-classification" and data.label_set == ["entailment", "not_entailment"]


def test_detection_and_column_flags() -> None:
    rows = [{"s1": f"a{i}", "s2": f"b{i}", "y": i * 0.37} for i in range(10)]
    data = normalise(rows, ["s1", "s2", "y"], None, ColumnMap(text="s1", text_pair="s2", label="y"))
    assert data.task_format == "pair-regression" and data.examples[1]["label"] == pytest.approx(0.37)
    squad = [
        {
            "context": "Paris is in France.",
            "question": "Where is Paris?",
            "answers": {"text": ["France"], "answer_start": [12]},
        }
    ]
    qa = normalise(squad, ["context", "question", "answers"], None, ColumnMap())
    assert qa.task_format == "extractive-qa" and qa.examples[0]["answers"] == ["France"]


def test_integer_labels_keep_order_and_take_names() -> None:
    ids, names = classification_labels(
        [(0, 2), (1, 0), (2, 1)], "label", ["contradiction", "entailment", "neutral"]
    )
    assert ids == [2, 0, 1] and names == ["entailment", "neutral", "contradiction"]
    ids, names = classification_labels([(0, True), (1, False)], "label")
    assert ids == [1, 0] and names == ["0", "1"]


def test_stratified_sampling_is_seeded_and_proportional() -> None:
    examples = [{"text": str(i), "label": 0 if i < 900 else 1} for i in range(1000)]
    sample, info = subsample(examples, 100, seed=3, stratify=True)
    assert Counter(e["label"] for e in sample) == {0: 90, 1: 10} and info["stratified"]
    assert subsample(examples, 100, seed=3, stratify=True)[0] == sample
    assert subsample(examples, 100, seed=4, stratify=True)[0] != sample
    rare = [{"text": str(i), "label": 0} for i in range(999)] + [{"text": "x", "label": 1}]
    assert Counter(e["label"] for e in subsample(rare, 10, 0, True)[0])[1] == 1  # every class kept


@needs_shared("datasets/taskweb")
def test_probe_sets_exclude_evaluation_texts_and_are_seeded(tmp_path: Path) -> None:
    reg = Registry(Settings.build(home=tmp_path))
    reg.init()
    register_dataset(reg, DatasetRequest(source=str(SHARED / "taskweb" / "cb.jsonl"), name="cb"))
    mixed = tmp_path / "mixed.jsonl"
    cb_rows = [json.loads(x) for x in (SHARED / "taskweb" / "cb.jsonl").read_text().splitlines()[:20]]
    own = [{"text": f"an unrelated probe sentence {i}"} for i in range(30)]
    mixed.write_text(
        "".join(json.dumps({"text": r["text"].upper()}) + "\n" for r in cb_rows)  # same text, other case
        + "".join(json.dumps(r) + "\n" for r in own),
        encoding="utf-8",
    )
    req = ProbeRequest(name="u", sources=(str(mixed),), n=1000, seed=1, exclude=("cb",))
    probes = build_probes(reg, req)
    assert len(probes) == 30 and {norm(t) for t, _ in probes} == {norm(r["text"]) for r in own}
    assert build_probes(reg, req) == probes
    assert build_probes(reg, ProbeRequest(name="u", sources=(str(mixed),), seed=2, exclude=("cb",))) != probes


def test_default_pool_excludes_starter_texts() -> None:
    from ingest import packaged

    pool = packaged.probe_pool_texts()
    sources = Counter(src for _, _, src in pool)
    assert len(pool) >= 2000 and len(sources) >= 4
    assert not any("socialiqa" in s or "copa" in s for s in sources)  # TaskWeb tasks stay out of U
