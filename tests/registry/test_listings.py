"""The typed listings the HTTP routes and the web pages read through (issue 18): jobs with their
entries, datasets by page and filter, subject rows and one subject's detail."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from registry.api import Registry
from registry.errors import SubjectNotFoundError
from registry.job_listing import EntriesWanted, JobFilter, job_detail, list_jobs
from registry.jobs import finish_job, start_job
from registry.listing import DatasetFilter, page_datasets
from registry.models import JobEntry
from registry.settings import Settings
from registry.subject_listing import subject_detail, subject_rows, tag_keys
from tests.web.conftest import HOSTILE, build_fake


@pytest.fixture
def reg(db_url: str, tmp_path: Path) -> Iterator[Registry]:
    """The web tests' fake catalogue plus jobs 2..7: kinds alternate, job 4 is still running."""
    reg = Registry(Settings.build(home=tmp_path / "home", db=db_url))
    reg.init()
    build_fake(reg)  # job 1: a catalogue job with two entries, left running
    with reg.db.transaction() as s:
        for i in range(2, 8):
            job = start_job(s, "embed" if i % 2 else "reembed", 3, {"i": i})
            s.add_all(JobEntry(job_id=job.id, key=f"k{e}", status="done") for e in range(3))
            if i != 4:
                finish_job(s, job.id, "failed" if i == 5 else "done", "bad" if i == 5 else None)
    yield reg
    reg.close()


def test_jobs_page_newest_first_with_total_and_filters(reg: Registry) -> None:
    page = list_jobs(reg, limit=3, offset=1)
    assert [j.id for j in page.items] == [6, 5, 4] and page.total == 7 and page.entries == {}
    assert page.items[1].as_dict()["error"] == "bad" and page.items[1].status == "failed"
    assert list(page.items[0].as_dict())[-4:] == ["created_at", "started_at", "updated_at", "finished_at"]
    running = list_jobs(reg, limit=50, flt=JobFilter(status="running"))
    assert [j.id for j in running.items] == [4, 1] and running.total == 2
    embeds = list_jobs(reg, limit=1, flt=JobFilter(kind="embed", status="done"))
    assert [j.id for j in embeds.items] == [7] and embeds.total == 2  # 3 and 7 (5 failed)


def test_entries_go_to_the_newest_and_the_running_jobs(reg: Registry) -> None:
    page = list_jobs(reg, limit=10, entries=EntriesWanted(first=2, running=True, limit=2))
    assert sorted(page.entries) == [1, 4, 6, 7]
    assert [e.key for e in page.entries[7]] == ["k0", "k1"]  # in the order they ran, cut at 2
    assert page.entries[1][1].to_dict() == {
        "key": "embed/fake/dataset/<b>x</b>",
        "status": "failed",
        "error": "boom <i>",
        "seconds": None,
    }
    every = list_jobs(reg, limit=3, entries=EntriesWanted(first=3))
    assert all(len(every.entries[j.id]) == 3 for j in every.items)


def test_one_job_with_all_its_entries(reg: Registry) -> None:
    found = job_detail(reg, 1)
    assert found is not None
    job, entries = found
    assert job.kind == "catalogue" and job.params == {"file": "x.yaml"} and len(entries) == 2
    assert job_detail(reg, 999) is None


def test_datasets_by_page_and_filter(reg: Registry) -> None:
    page = page_datasets(reg, limit=2, offset=1)
    assert page.total == 6 and [d.name for d in page.items] == ["sent-a", "sent-b"]  # HOSTILE sorts first
    topic = page_datasets(reg, 50, 0, DatasetFilter(tags=(("family", "topic"),)))
    assert [d.name for d in topic.items] == ["topic-a", "topic-b", "topic-c"]
    pair = page_datasets(reg, 50, 0, DatasetFilter(fmt="pair-classification", tags=(("family", "topic"),)))
    assert [d.name for d in pair.items] == ["topic-c"] and pair.total == 1
    assert list(pair.items[0].as_dict()) == ["name", "format", "n_examples", "n_source", "content_hash",
                                             "tags", "source", "label_set", "sampling", "created_at"]  # fmt: skip


def test_subject_rows_and_tag_keys(reg: Registry) -> None:
    rows = {(r.kind, r.name): r for r in subject_rows(reg)}
    assert len(rows) == 9 and rows[("dataset", HOSTILE)].spaces == ("fake",)
    assert rows[("prompt", "p-sent")].detail == "prompt on llm" and rows[("prompt", "p-sent")].format is None
    assert rows[("model", "llm")].detail == "llm model" and rows[("model", "llm")].tags == {}
    assert rows[("dataset", "topic-c")].format == "pair-classification"
    assert tag_keys(reg) == ["family"]


def test_subject_detail_per_kind(reg: Registry) -> None:
    ds = subject_detail(reg, "dataset", "sent-a")
    assert list(ds.fields) == ["format", "source", "n_examples", "label_set", "content_hash", "sampling"]
    assert [e.space for e in ds.embeddings] == ["fake"] and ds.tags == {"family": ["sentiment"]}
    prompt = subject_detail(reg, "prompt", "p-sent")
    assert prompt.fields == {"llm": "llm", "template": "{text}", "verbalizers": [["a"], ["b"]]}
    assert subject_detail(reg, "model", "clf").fields["model_kind"] == "classifier"
    with pytest.raises(SubjectNotFoundError):
        subject_detail(reg, "dataset", "nope")
