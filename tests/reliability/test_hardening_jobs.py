"""Issue 17, cases 2-4 and 14: bad catalogue entries are refused before a job row exists, and a job
never stays ``running`` because of an exception (one entry's bug fails that entry only)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import select

from fute.http import create_app
from ingest.engine import Engine
from ingest.job_file import load_catalogue
from ingest.jobs import run_catalogue
from registry.api import Registry
from registry.models import Job, JobEntry
from tests.reliability.hardening import Home, make_home, write_jsonl

TOKEN = "hardening-token"

BAD_TAGS = {
    "list": "tags: [a, b]",
    "string": "tags: family",
    "self_alias": "tags: &loop [*loop]",
    "bad_key": "tags: {'bad key!': x}",
}


@pytest.fixture
def home(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Home:
    return make_home(tmp_path, capsys)


def _catalogue(home: Home, entry: str) -> Path:
    path = home.files / "cat.yaml"
    source = write_jsonl(home.files / "c.jsonl", prefix="c")
    path.write_text(
        f"datasets:\n  - {{source: {source}, name: c}}\n  - {{source: {source}, name: d, {entry}}}\n"
    )
    return path


@pytest.mark.parametrize("kind", sorted(BAD_TAGS))
def test_case02_catalogue_tags_of_the_wrong_type_refused_before_the_job(home: Home, kind: str) -> None:
    path = _catalogue(home, BAD_TAGS[kind])
    home.refuses("ingest", "catalogue", str(path), fragment="datasets[1]")


def test_case03_catalogue_source_int_and_name_list_refused(home: Home) -> None:
    path = home.files / "cat.yaml"
    path.write_text("datasets:\n  - {source: 123, name: [1, 2]}\n", encoding="utf-8")
    msg = home.refuses("ingest", "catalogue", str(path), fragment="datasets[0]")
    assert "source" in msg and "123" in msg


def test_case04_http_job_with_bad_tags_is_422_and_no_job_row(home: Home) -> None:
    before = home.state()
    app = create_app(home.settings, TOKEN)
    with TestClient(app) as client:
        body = {"datasets": [{"source": "pkg:sst2", "name": "x", "tags": ["a", "b"]}]}
        resp = client.post("/jobs", json=body, headers={"Authorization": f"Bearer {TOKEN}"})
    assert resp.status_code == 422, resp.text
    assert "tags" in resp.json()["detail"]
    assert home.state() == before
    assert home.running_jobs() == 0


def test_case02_unexpected_error_in_one_entry_fails_it_and_the_job_goes_on(
    home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ingest.register_entries as setup

    real = setup.register_dataset

    def flaky(reg: Registry, req: setup.DatasetRequest) -> object:
        if req.name == "c":
            raise AttributeError("'list' object has no attribute 'items'")
        return real(reg, req)

    monkeypatch.setattr(setup, "register_dataset", flaky)
    path = _catalogue(home, "tags: {family: d}")
    reg = Registry.open(home.settings)
    report = run_catalogue(reg, Engine(reg), load_catalogue(path), show_progress=False)
    assert report.status == "failed"
    assert [(e["key"], e["status"]) for e in report.entries] == [
        ("dataset/c", "failed"),
        ("dataset/d", "done"),
    ]
    assert "AttributeError" in report.entries[0]["error"]
    with reg.db.read() as session:
        job = session.get_one(Job, report.job_id)
        assert job.status == "failed" and job.finished_at is not None
        assert len(session.scalars(select(JobEntry).where(JobEntry.job_id == job.id)).all()) == 2
    reg.close()
    assert home.running_jobs() == 0


def test_case02_an_error_escaping_the_entries_still_closes_the_job(
    home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ingest.jobs as jobs

    def broken(*_args: object) -> list[object]:
        raise AttributeError("boom")

    monkeypatch.setattr(jobs, "embedding_steps", broken)
    path = _catalogue(home, "tags: {family: d}")
    reg = Registry.open(home.settings)
    with pytest.raises(AttributeError):
        run_catalogue(reg, Engine(reg), load_catalogue(path), show_progress=False)
    with reg.db.read() as session:
        (job,) = session.scalars(select(Job)).all()
        assert job.status == "failed" and job.error == "AttributeError: boom"
    reg.close()


def test_catalogue_literals_match_the_code() -> None:
    from typing import get_args

    from ingest.blackbox.factory import MODEL_KINDS
    from ingest.formats import FORMATS
    from ingest.job_file_schema import Format, IndexType, Method, ModelKind
    from ingest.methods.table import METHODS
    from registry.faiss_index import INDEX_TYPES

    assert get_args(Method) == METHODS
    assert set(get_args(Format)) == set(FORMATS)
    assert get_args(ModelKind) == MODEL_KINDS
    assert get_args(IndexType) == INDEX_TYPES


def test_valid_catalogue_still_loads(home: Home) -> None:
    path = home.files / "ok.yaml"
    body = {
        "probe_sets": [{"name": "p", "from": ["pkg:default-pool"], "n": 10}],
        "spaces": [{"name": "s", "method": "textemb", "params": {"max_examples": 8}}],
        "datasets": [
            {"source": "pkg:sst2", "name": "x", "tags": {"family": ["a", "b"], "n": 3}, "limit": 16}
        ],
        "prompts": [{"name": "q", "llm": "pkg:smollm2", "template": "{text}", "verbalizers": [[" a"], " b"]}],
    }
    path.write_text(yaml.safe_dump(body), encoding="utf-8")
    cat = load_catalogue(path)
    assert [e["name"] for e in cat.entries("datasets")] == ["x"]
