"""Issue 17, cases 6, 8 and 9: query and eval options are range-checked on the CLI and in Python
(``QueryOptions``, ``evaluate``, ``random_baseline``), and repeated transfer rows are reported and
resolved by ``--on-conflict keep|replace|error``."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from ingest.register import DatasetRequest, register_dataset
from query.evaluate import evaluate
from query.metrics import random_baseline
from query.service import QueryOptions
from query.transfer import import_transfer_rows
from registry.api import EmbeddingItem, Registry
from registry.errors import InvalidDataError
from registry.models import Subject, TransferResult
from registry.spaces import SpaceConfig
from tests.reliability.hardening import Home, make_home, write_jsonl


@pytest.fixture
def home(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Home:
    """Datasets a, b, c with vectors in two 4-dim spaces and two transfer rows into c."""
    home = make_home(tmp_path, capsys)
    reg = Registry.open(home.settings)
    register_dataset(
        reg, DatasetRequest(source=str(write_jsonl(home.files / "c.jsonl", prefix="c")), name="c")
    )
    with reg.db.read() as session:
        ids = dict(session.execute(select(Subject.name, Subject.id)).all())
    rng = np.random.default_rng(0)
    for space in ("s1", "s2"):
        reg.create_space(SpaceConfig(name=space, surrogate="fake", method=space, dim=4))
        reg.put_embeddings(
            space, [EmbeddingItem(i, rng.normal(size=4).astype(np.float32)) for i in ids.values()]
        )
    import_transfer_rows(
        reg, [{"source": "a", "target": "c", "score": 0.5}, {"source": "b", "target": "c", "score": 0.2}]
    )
    reg.close()
    return home


def stored(home: Home) -> dict[tuple[str, str], float]:
    reg = Registry.open(home.settings)
    with reg.db.read() as session:
        rows = session.scalars(select(TransferResult)).all()
        names = dict(session.execute(select(Subject.id, Subject.name)).all())
        out = {(names[r.source_id], names[r.target_id]): r.score for r in rows}
    reg.close()
    return out


@pytest.mark.parametrize("value", ["-1", "0", "-60", "1e9", "x"])
def test_case06_rrf_k_out_of_range_is_refused(home: Home, value: str) -> None:
    home.refuses(
        "query", "sources", "--target", "c", "--space", "s1,s2", "--rrf-k", value, fragment="--rrf-k"
    )


def test_case06_rrf_k_in_range_fuses(home: Home) -> None:
    code, out, err = home.cli(
        "query", "sources", "--target", "c", "--space", "s1,s2", "--rrf-k", "1", "--json"
    )
    assert code == 0, err
    assert json.loads(out)["results"]


@pytest.mark.parametrize("value", ["0", "-5", "99999999999999999999"])
def test_case08_eval_draws_out_of_range_is_refused(home: Home, value: str) -> None:
    home.refuses("eval", "--space", "s1", "--draws", value, fragment="--draws")


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"k": 0}, "k must be between 1 and 100, got 0"),
        ({"k": 101}, "k must be between 1 and 100, got 101"),
        ({"k": True}, "k must be an integer"),
        ({"k": 2.5}, "k must be an integer"),
        ({"rrf_k": 0}, "rrf_k must be >= 1, got 0"),
        ({"rrf_k": -60}, "rrf_k must be >= 1, got -60"),
        ({"rrf_k": "60"}, "rrf_k must be an integer"),
    ],
)
def test_case06_query_options_are_range_checked_in_python(options: dict[str, object], fragment: str) -> None:
    with pytest.raises(InvalidDataError, match=re.escape(fragment)):
        QueryOptions(**options)  # type: ignore[arg-type]


def test_case06_query_options_in_range_are_kept() -> None:
    opts = QueryOptions(k=np.int64(100), rrf_k=1)  # type: ignore[arg-type]
    assert (opts.k, opts.rrf_k) == (100, 1)


@pytest.mark.parametrize("draws", [0, -5])
def test_case08_eval_draws_out_of_range_is_refused_in_python(home: Home, draws: int) -> None:
    reg = Registry.open(home.settings)
    try:
        with pytest.raises(InvalidDataError, match=f"n_draws must be >= 1.*got {draws}"):
            evaluate(reg, "s1", None, n_draws=draws)
        with pytest.raises(InvalidDataError, match="n_draws must be >= 1"):
            random_baseline({"a": 0.5, "b": 0.2}, n_draws=draws)
    finally:
        reg.close()


def _csv(home: Home, text: str) -> str:
    path = home.files / "t.csv"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_case09_duplicate_rows_are_reported_and_the_last_replaces_by_default(home: Home) -> None:
    path = _csv(home, "source,target,score\na,b,0.1\na,b,0.3\n")
    code, out, err = home.cli("transfer", "import", path)
    assert code == 0, err
    assert "imported 1 transfer results" in out and "1 duplicate rows" in out and "1 conflicts" in out
    assert stored(home)[("a", "b")] == 0.3


def test_case09_on_conflict_keep_keeps_the_first_and_the_stored(home: Home) -> None:
    path = _csv(home, "source,target,score\na,b,0.1\na,b,0.3\na,c,0.9\n")
    code, out, err = home.cli("transfer", "import", path, "--on-conflict", "keep", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["imported"] == 1 and report["unchanged"] == 1 and report["duplicates"] == 1
    assert len(report["conflicts"]) == 2  # a,b within the file; a,c against the stored 0.5
    assert stored(home)[("a", "b")] == 0.1 and stored(home)[("a", "c")] == 0.5


def test_case09_on_conflict_error_imports_nothing(home: Home) -> None:
    path = _csv(home, "source,target,score\nb,a,0.4\na,b,0.1\na,b,0.3\n")
    msg = home.refuses(
        "transfer", "import", path, "--on-conflict", "error", fragment="conflicting transfer scores"
    )
    assert "a -> b [default]: 0.1 vs 0.3" in msg


def test_case09_identical_duplicates_and_reimports_are_not_conflicts(home: Home) -> None:
    reg = Registry.open(home.settings)
    rows = [{"source": "a", "target": "c", "score": 0.5}] * 2 + [{"source": "b", "target": "c", "score": 0.2}]
    report = import_transfer_rows(reg, rows, on_conflict="error")
    reg.close()
    assert (report.stored, report.unchanged, report.duplicates, report.conflicts) == (0, 2, 1, [])


@pytest.mark.parametrize(
    ("row", "fragment"),
    [
        ({"source": 1, "target": "c", "score": 0.1}, "source"),
        ({"source": "a", "target": "c", "score": True}, "score"),
        ({"source": "a", "target": "c", "score": "1e999"}, "finite"),
        ({"source": "a", "target": "c", "score": 0.1, "setting": "x" * 101}, "setting"),
        ({"source": "a", "target": "c", "score": 0.1, "setting": 3}, "setting"),
    ],
)
def test_transfer_rows_of_the_wrong_type_are_refused(
    home: Home, row: dict[str, object], fragment: str
) -> None:
    before = home.state()
    reg = Registry.open(home.settings)
    with pytest.raises(InvalidDataError, match=fragment):
        import_transfer_rows(reg, [row])
    reg.close()
    assert home.state() == before
