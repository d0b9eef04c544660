"""Read-only data behind the catalogue pages (``fute.web``): subject lists, one subject's metadata
and embedding provenance, the queries of a subject page, recent jobs. Plain dicts, no HTML."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fute.http_routes import job_dict, job_entries
from query import service as qs
from query.space_choice import SpaceChoice, choose_spaces
from registry.api import Registry
from registry.catalog import get_subject, tags_of
from registry.errors import RegistryError
from registry.models import Dataset, Embedding, EmbeddingSpace, Job, ModelEntry, Prompt, Subject

KINDS = ("dataset", "model", "prompt")
MAX_ENTRIES = 500  # entries shown per job: a big catalogue job must not make a megabyte page


@dataclass(frozen=True)
class ListFilter:
    """Filters of the list page (all optional; tags must all match).

    Attributes:
        kind: Only this kind.
        fmt: Only datasets of this task format.
        tags: (key, value) pairs the subject must carry.
        q: Case-insensitive substring of the name or of a tag value.
    """

    kind: str | None = None
    fmt: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
    q: str = ""

    def keep(self, row: dict[str, Any]) -> bool:
        """Whether a list row passes every filter."""
        if self.kind and row["kind"] != self.kind:
            return False
        if self.fmt and row["format"] != self.fmt:
            return False
        if not all(v in row["tags"].get(k, []) for k, v in self.tags):
            return False
        needle = self.q.strip().lower()
        haystack = [row["name"], *(v for vs in row["tags"].values() for v in vs)]
        return not needle or any(needle in s.lower() for s in haystack)


def _details(session: Session) -> dict[int, tuple[str | None, str]]:
    """Per subject id: (format, one-line detail) - examples of a dataset, kind of a model, LLM of a prompt."""
    out: dict[int, tuple[str | None, str]] = {}
    for ds in session.scalars(select(Dataset)):
        out[ds.id] = (ds.task_format, f"{ds.n_examples} examples")
    for m in session.scalars(select(ModelEntry)):
        out[m.id] = (None, f"{m.model_kind} model")
    llms = dict(session.execute(select(ModelEntry.id, ModelEntry.name)).all())
    for p in session.scalars(select(Prompt)):
        out[p.id] = (None, f"prompt on {llms.get(p.llm_id, '?')}")
    return out


def list_subjects(session: Session, flt: ListFilter) -> list[dict[str, Any]]:
    """Every subject passing the filter, by kind then name, with tags, format and its spaces.

    Returns:
        Rows ``{"name", "kind", "format", "tags", "detail", "spaces"}``.
    """
    subjects = session.execute(
        select(Subject.id, Subject.name, Subject.kind).order_by(Subject.kind, Subject.name)
    ).all()
    tags = tags_of(session, [s[0] for s in subjects])
    details = _details(session)
    spaces: dict[int, list[str]] = {}
    for sid, space in session.execute(
        select(Embedding.subject_id, EmbeddingSpace.name).join(
            EmbeddingSpace, EmbeddingSpace.id == Embedding.space_id
        )
    ):
        spaces.setdefault(sid, []).append(space)
    rows = []
    for sid, name, kind in subjects:
        fmt, detail = details.get(sid, (None, ""))
        row = {
            "name": name,
            "kind": kind,
            "format": fmt,
            "tags": tags[sid],
            "detail": detail,
            "spaces": sorted(spaces.get(sid, [])),
        }
        if flt.keep(row):
            rows.append(row)
    return rows


def facets(session: Session) -> dict[str, list[str]]:
    """Choices of the list filters: formats and tag keys=values present in the catalogue."""
    formats = sorted(set(session.scalars(select(Dataset.task_format))))
    all_tags = tags_of(session, list(session.scalars(select(Subject.id))))
    pairs = sorted({f"{k}={v}" for t in all_tags.values() for k, vs in t.items() for v in vs})
    return {"formats": formats, "tags": pairs}


def subject_info(session: Session, kind: str, name: str) -> dict[str, Any]:
    """Metadata of one subject and the provenance of each of its embeddings.

    Raises:
        SubjectNotFoundError: Unknown kind or name.
    """
    subject = get_subject(session, name, kind)
    meta: dict[str, Any] = {
        "name": subject.name,
        "kind": subject.kind,
        "created_at": subject.created_at.isoformat(),
    }
    if isinstance(subject, Dataset):
        meta |= {"format": subject.task_format, "source": subject.source, "n_examples": subject.n_examples,
                 "label_set": subject.label_set, "content_hash": subject.content_hash, "sampling": subject.sampling}  # fmt: skip
    elif isinstance(subject, ModelEntry):
        meta |= {"model_kind": subject.model_kind, "source": subject.source, "label_set": subject.label_set}
    elif isinstance(subject, Prompt):
        llm = session.get(ModelEntry, subject.llm_id)
        meta |= {
            "llm": llm.name if llm else None,
            "template": subject.template,
            "verbalizers": subject.verbalizers,
        }
    meta["tags"] = tags_of(session, [subject.id])[subject.id]
    rows = session.execute(
        select(EmbeddingSpace.name, EmbeddingSpace.method, Embedding.provenance, Embedding.created_at)
        .join(Embedding, Embedding.space_id == EmbeddingSpace.id)
        .where(Embedding.subject_id == subject.id)
        .order_by(EmbeddingSpace.name)
    ).all()
    meta["embeddings"] = [
        {"space": s, "method": m, "provenance": p or {}, "created_at": c.isoformat()} for s, m, p, c in rows
    ]
    return meta


def provenance_rows(prov: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """An embedding's provenance as (field, value) text rows a person can read.

    Nested mappings become dotted fields (``params.max_examples``), lists of plain values are
    joined with commas, numbers keep their digits, and everything is sorted by field.

    Args:
        prov: The stored provenance (any JSON object).
        prefix: Dotted path of ``prov`` inside the whole provenance (for the recursion).

    Returns:
        Rows ``(field, value)``; plain text, not escaped.
    """
    rows: list[tuple[str, str]] = []
    for key in sorted(prov, key=str):
        value, field = prov[key], f"{prefix}{key}"
        if isinstance(value, dict) and value:
            rows += provenance_rows(value, f"{field}.")
        else:
            rows.append((field, _plain(value)))
    return rows


def _plain(value: Any) -> str:
    """One provenance value as text: lists of scalars comma-joined, None as ``-``, else JSON."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str | int | float):
        return str(value)
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return ", ".join(str(v) for v in value) or "(empty)"
    return json.dumps(value, sort_keys=True, default=str)


def pick_space(reg: Registry, spaces: list[str], wanted: str | None) -> SpaceChoice | None:
    """The space a subject page shows, by the one rule of ``query.space_choice`` applied to the
    spaces holding the subject's vector (``space=`` is honoured when the subject has a vector there).

    Args:
        reg: The registry.
        spaces: The spaces holding a vector of the subject.
        wanted: The page's ``space=`` parameter.

    Returns:
        The choice, or None when the subject has no vector anywhere.

    Raises:
        SpaceNotFoundError: ``space=`` names no space at all.
    """
    if not spaces:
        return None
    named = (wanted,) if wanted in spaces else ()
    if wanted and not named:
        choose_spaces(reg, (wanted,), flag="space=")  # an unknown name is an error; a known one falls back
    return choose_spaces(reg, named, among=spaces)


def subject_queries(reg: Registry, kind: str, name: str, space: str, k: int = 5) -> dict[str, dict[str, Any]]:
    """The rankings a subject page shows, by the same functions as ``fute query ... --json``.

    Returns:
        For a dataset ``{"sources", "models", "prompts"}``, for a model or prompt ``{"datasets"}``
        (the datasets nearest to it); each value is the query's JSON dict, or ``{"error": message}``.
    """
    opts = qs.QueryOptions(k=k, spaces=(space,))
    calls: dict[str, Any]
    if kind == "dataset":
        calls = {
            "sources": lambda: qs.query_sources(reg, name, opts),
            "models": lambda: qs.query_models(reg, name, opts),
            "prompts": lambda: qs.query_prompts(reg, name, opts),
        }
    else:
        calls = {"datasets": lambda: qs.query_similar(reg, name, opts, kind="dataset")}
    out: dict[str, dict[str, Any]] = {}
    for key, call in calls.items():
        try:
            out[key] = call()
        except RegistryError as exc:  # one failing query must not hide the rest of the page
            out[key] = {"error": str(exc)}
    return out


def recent_jobs(session: Session, limit: int = 20, with_entries: int = 5) -> dict[str, Any]:
    """The newest jobs; running ones and the newest ``with_entries`` carry their entries.

    Returns:
        ``{"total", "items": [job_dict + optional "entries"]}``.
    """
    total = int(session.scalar(select(func.count()).select_from(Job)) or 0)
    rows = session.scalars(select(Job).order_by(Job.id.desc()).limit(limit)).all()
    items = []
    for i, job in enumerate(rows):
        item = job_dict(job)
        if job.status == "running" or i < with_entries:
            item["entries"] = job_entries(session, job.id)[:MAX_ENTRIES]
        items.append(item)
    return {"total": total, "items": items}
