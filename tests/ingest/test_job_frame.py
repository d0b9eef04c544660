"""Issue 18, item 2: one job frame. Catalogue jobs, re-embedding and ``embed --all`` open, resume
and close their job rows through ``ingest.jobs.run_job``; one skip rule; bugs are told apart from
bad entries; ``POST /jobs`` answers with the id of a row it wrote itself (no polling)."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

import ingest.jobs as jobs
from fute.http import JobRunner, create_app
from ingest.embed_all import _filter_params, embed_all
from ingest.engine import Engine
from ingest.job_file import load_catalogue
from ingest.reembed import reembed
from registry.api import Registry
from registry.errors import SpaceNotFoundError
from registry.filters import SearchFilter
from registry.job_runs import close_job, open_job
from registry.models import Job, ModelEntry
from registry.settings import Settings
from registry.subjects import add_subject
from tests.registry.helpers import make_datasets, put, space
from tests.reliability.hardening import write_jsonl

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "frame-token"


class FakeEngine:
    """Stores a fake vector where the real engine would compute one."""

    def __init__(self, reg: Registry, ids: dict[str, int]) -> None:
        self.reg, self.ids, self.calls = reg, ids, list[tuple[str, str, str]]()

    def embed(self, space_name: str, name: str, kind: str, box: object = None) -> None:
        self.calls.append((space_name, kind, name))
        put(self.reg, space_name, [self.ids[name]])


@pytest.fixture
def reg(tmp_path: Path) -> Registry:
    registry = Registry(Settings.build(home=tmp_path / "home"))
    registry.init()
    return registry


@pytest.fixture
def frame_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    """Every open and close of a job row made by the frame."""
    calls: list[tuple[str, Any]] = []
    real_open, real_close = open_job, close_job  # what ingest.jobs calls

    def spy_open(reg: Registry, kind: str, *args: Any, **kw: Any) -> int:
        calls.append(("open", kind))
        return real_open(reg, kind, *args, **kw)

    def spy_close(reg: Registry, job_id: int, status: str, *args: Any, **kw: Any) -> None:
        calls.append(("close", status))
        real_close(reg, job_id, status, *args, **kw)

    monkeypatch.setattr(jobs, "open_job", spy_open)
    monkeypatch.setattr(jobs, "close_job", spy_close)
    return calls


def _job(reg: Registry, job_id: int) -> Job:
    with reg.db.read() as s:
        return s.get_one(Job, job_id)


def _spaces_with_vectors(reg: Registry) -> dict[str, int]:
    """Datasets d0..d2 with vectors in ``old``; ``new`` already holds d0."""
    ids = make_datasets(reg, 3)
    space(reg, "old")
    space(reg, "new", salt=1)
    put(reg, "old", ids)
    put(reg, "new", ids[:1])
    return {f"d{i}": sid for i, sid in enumerate(ids)}


def _run(kind: str, reg: Registry, tmp_path: Path) -> tuple[dict[str, Any], Any]:
    """(params of the job kind, a callable that runs it)."""
    if kind == "catalogue":
        source = write_jsonl(tmp_path / "c.jsonl", prefix="c")
        path = tmp_path / "cat.yaml"
        path.write_text(f"datasets:\n  - {{source: {source}, name: c}}\n", encoding="utf-8")
        cat = load_catalogue(path)
        return {"file": str(cat.path)}, lambda: jobs.run_catalogue(reg, Engine(reg), cat, False)
    engine: Any = FakeEngine(reg, _spaces_with_vectors(reg))
    if kind == "reembed":
        return {"from": "old", "to": "new"}, lambda: reembed(reg, engine, "old", "new")
    flt = SearchFilter(kinds=("dataset",))
    params = {"space": "new", "filter": _filter_params(flt)}
    return params, lambda: embed_all(reg, engine, "new", flt)


@pytest.mark.parametrize("kind", ["catalogue", "reembed", "embed"])
def test_a_killed_job_is_cancelled_and_resumed_through_the_one_frame(
    kind: str, reg: Registry, tmp_path: Path, frame_calls: list[tuple[str, Any]]
) -> None:
    params, run = _run(kind, reg, tmp_path)
    killed = open_job(reg, kind, params)  # a process that died: its row stays running
    frame_calls.clear()
    report = run()
    assert frame_calls == [("open", kind), ("close", "done")]
    old, new = _job(reg, killed), _job(reg, report.job_id)
    assert old.status == "cancelled" and old.error == f"interrupted; resumed by job {report.job_id}"
    assert new.status == "done" and new.kind == kind and new.params == params
    assert new.n_done == len(report.entries) > 0 and new.n_failed == 0
    if kind != "catalogue":  # d0 was in NEW already: skipped by the shared rule, the rest embedded
        assert [(e["key"].split("/")[-1], e["status"]) for e in report.entries] == [
            ("d0", "skipped"),
            ("d1", "done"),
            ("d2", "done"),
        ]
        assert report.entries[0]["error"] == "already embedded"


def test_a_finished_job_with_other_params_is_left_alone(reg: Registry) -> None:
    engine: Any = FakeEngine(reg, _spaces_with_vectors(reg))
    other = open_job(reg, "reembed", {"from": "new", "to": "old"})
    report = reembed(reg, engine, "old", "new")
    assert _job(reg, other).status == "running" and report.status == "done"
    close_job(reg, other, "done", None)


def test_skip_reason_is_one_rule(reg: Registry) -> None:
    ids = _spaces_with_vectors(reg)
    with reg.db.transaction() as s:
        add_subject(s, ModelEntry(name="m", source="x", model_kind="classifier"))
    assert jobs.skip_reason(reg, "new", "dataset", "d0") == "already embedded"
    assert jobs.skip_reason(reg, "new", "dataset", "d1") is None
    assert jobs.skip_reason(reg, "new", "model", "m") == "fake space without probe set embeds datasets only"
    assert jobs.skip_reason(reg, "new", "dataset", "missing") is None  # computing it says "not found"
    with pytest.raises(SpaceNotFoundError):
        jobs.skip_reason(reg, "nope", "dataset", "d0")
    assert ids


def test_entry_errors_leave_bugs_out_and_bugs_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    assert not {TypeError, KeyError, AttributeError} & set(jobs.ENTRY_ERRORS)

    def bad_data() -> str | None:
        raise ValueError("only one class")

    def bug() -> str | None:
        empty: dict[str, str] = {}
        return empty["missing"]

    with caplog.at_level(logging.ERROR, logger="ingest.jobs"):
        assert jobs.outcome("dataset/x", bad_data) == ("failed", "ValueError: only one class")
        assert not caplog.records
        assert jobs.outcome("dataset/y", bug) == ("failed", "KeyError: 'missing'")  # the job goes on
    (record,) = caplog.records
    assert "dataset/y" in record.getMessage() and record.exc_info is not None


def test_post_jobs_returns_the_row_it_wrote_before_the_job_runs(
    reg: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran: list[int] = []
    monkeypatch.setattr(JobRunner, "_run", lambda self, cat, job_id: ran.append(job_id))
    with TestClient(create_app(reg.settings, TOKEN)) as client:
        body = {"datasets": [{"source": "pkg:sst2", "name": "x"}]}
        resp = client.post("/jobs", json=body, headers={"Authorization": f"Bearer {TOKEN}"})
        assert resp.status_code == 202, resp.text
        out = resp.json()
        client.app.state.jobs.threads[-1].join()  # type: ignore[attr-defined]
    job = _job(reg, out["job_id"])
    assert ran == [out["job_id"]] and job.kind == "catalogue" and job.params == {"file": out["file"]}
    assert not hasattr(JobRunner, "job_id")  # nothing polls the jobs table for it
    with reg.db.read() as s:
        assert s.scalars(select(Job.id)).all() == [out["job_id"]]


def test_the_job_lifecycle_is_written_once() -> None:
    """Only ``ingest/jobs.py`` opens, records and closes job rows among the floors above registry/."""
    lifecycle = re.compile(
        r"\b(start_job|finish_job|open_job|close_job|record_entry|cancel_interrupted|_run_steps)\b"
    )
    offenders = [
        str(p.relative_to(ROOT))
        for floor in ("ingest", "query", "fute")
        for p in (ROOT / floor).rglob("*.py")
        if p != ROOT / "ingest" / "jobs.py" and lifecycle.search(p.read_text(encoding="utf-8"))
    ]
    assert offenders == []
