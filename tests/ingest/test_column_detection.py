"""Column detection never drops a text-like column: question/answer and question/context are pairs,
an unrecognised text column is refused with the columns listed, the success line names the columns."""

from __future__ import annotations

import csv
from pathlib import Path

from ingest.column_check import is_text_like
from tests.ingest.conftest import Run

QUESTIONS = [
    ("what is the capital of france", "paris is the capital", 1),
    ("how many legs does a spider have", "spiders have eight legs", 1),
    ("who wrote hamlet", "the moon is made of cheese", 0),
    ("what colour is the sky", "cats are small mammals", 0),
    ("when did the war end", "it ended in nineteen forty five", 1),
    ("is water wet", "trains run on rails today", 0),
]


def write_csv(path: Path, header: list[str], rows: list[tuple[object, ...]]) -> str:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return str(path)


def test_question_answer_is_a_pair_and_the_columns_are_printed(fute: Run, tmp_path: Path) -> None:
    # before: single-text classification on `question`; `answer` vanished without a word
    src = write_csv(tmp_path / "qa.csv", ["question", "answer", "label"], QUESTIONS)
    code, text, err = fute("ingest", "dataset", src, "--name", "qa")
    assert code == 0, err
    assert "pair-classification" in text and "columns text=question, text_pair=answer, label=label" in text
    code, shown, _ = fute("datasets", "show", "qa", "--json")
    assert shown["examples_preview"][0]["text_pair"] and shown["sampling"]["columns"]["text_pair"] == "answer"


def test_question_context_is_a_pair(fute: Run, tmp_path: Path) -> None:
    src = write_csv(
        tmp_path / "qc.csv", ["context", "question", "label"], [(a, q, y) for q, a, y in QUESTIONS]
    )
    code, out, err = fute("ingest", "dataset", src, "--name", "qc", "--json")
    assert code == 0, err
    assert out["format"] == "pair-classification"
    assert out["columns"] == {"text": "question", "text_pair": "context", "label": "label"}


def test_an_unknown_text_column_is_refused_with_the_columns(fute: Run, tmp_path: Path) -> None:
    rows = [(q, a, y) for q, a, y in QUESTIONS]
    src = write_csv(tmp_path / "n.csv", ["text", "notes", "label"], rows)
    code, _, err = fute("ingest", "dataset", src, "--name", "n")
    assert code == 2
    assert "column(s) notes hold text that the detected columns (text=text, label=label) would drop" in err
    assert "pass --text COL and --text-pair COL" in err and "columns seen: text, notes, label" in err
    _, listing, _ = fute("datasets", "list", "--json")
    assert listing == []  # nothing stored
    # naming the text column is a decision: the other column is left out with a warning
    code, out, err = fute("ingest", "dataset", src, "--name", "n", "--text", "text", "--json")
    assert code == 0 and out["format"] == "classification"
    assert "column(s) notes not used" in err


def test_ids_categories_and_label_names_are_not_text() -> None:
    rows = [
        {"id": f"row{i}", "cat": "sports news", "label_name": "yes", "t": f"a sentence number {i}"}
        for i in range(10)
    ]
    assert not is_text_like(rows, "id")  # one word each
    assert not is_text_like(rows, "cat")  # one repeated value
    assert is_text_like(rows, "t")
