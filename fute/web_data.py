"""Read-only data behind the catalogue pages (``fute.web``): subject lists, one subject's metadata
and embedding provenance, the queries of a subject page, recent jobs. Plain dicts, no HTML."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from query import service as qs
from query.space_choice import SpaceChoice, choose_spaces
from registry.api import Registry
from registry.errors import RegistryError
from registry.job_listing import EntriesWanted, list_jobs
from registry.subject_listing import SubjectRow, subject_detail, subject_rows

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


def _row(row: SubjectRow) -> dict[str, Any]:
    """A subject row as the list page reads it."""
    return {
        "name": row.name,
        "kind": row.kind,
        "format": row.format,
        "tags": row.tags,
        "detail": row.detail,
        "spaces": list(row.spaces),
    }


def list_subjects(reg: Registry, flt: ListFilter) -> list[dict[str, Any]]:
    """Every subject passing the filter, by kind then name, with tags, format and its spaces.

    Args:
        reg: The registry.
        flt: The list page's filter.

    Returns:
        Rows ``{"name", "kind", "format", "tags", "detail", "spaces"}``.
    """
    return [row for row in map(_row, subject_rows(reg)) if flt.keep(row)]


def facets(rows: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Choices of the list filters: formats and tag keys=values present in the catalogue.

    Args:
        rows: ``list_subjects`` rows of the whole catalogue (no filter).

    Returns:
        ``{"formats": [...], "tags": ["key=value", ...]}``, each sorted.
    """
    formats = sorted({r["format"] for r in rows if r["kind"] == "dataset"})
    pairs = sorted({f"{k}={v}" for r in rows for k, vs in r["tags"].items() for v in vs})
    return {"formats": formats, "tags": pairs}


def subject_info(reg: Registry, kind: str, name: str) -> dict[str, Any]:
    """Metadata of one subject and the provenance of each of its embeddings.

    Args:
        reg: The registry.
        kind: ``dataset``, ``model`` or ``prompt``.
        name: Subject name.

    Returns:
        ``{"name", "kind", "created_at", <fields of its kind>, "tags", "embeddings"}``.

    Raises:
        SubjectNotFoundError: Unknown kind or name.
    """
    detail = subject_detail(reg, kind, name)
    meta: dict[str, Any] = {
        "name": detail.name,
        "kind": detail.kind,
        "created_at": detail.created_at.isoformat(),
    }
    meta |= detail.fields
    meta["tags"] = detail.tags
    meta["embeddings"] = [
        {
            "space": e.space,
            "method": e.method,
            "provenance": e.provenance,
            "created_at": e.created_at.isoformat(),
        }
        for e in detail.embeddings
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


def recent_jobs(reg: Registry, limit: int = 20, with_entries: int = 5) -> dict[str, Any]:
    """The newest jobs; running ones and the newest ``with_entries`` carry their entries.

    Args:
        reg: The registry.
        limit: Jobs shown.
        with_entries: The newest this many carry their entries (running ones always do).

    Returns:
        ``{"total", "items": [job dict + optional "entries"]}``, as ``GET /jobs`` shows jobs.
    """
    wanted = EntriesWanted(first=with_entries, running=True, limit=MAX_ENTRIES)
    page = list_jobs(reg, limit, entries=wanted)
    items = []
    for job in page.items:
        item = job.as_dict()
        if job.id in page.entries:
            item["entries"] = [e.to_dict() for e in page.entries[job.id]]
        items.append(item)
    return {"total": page.total, "items": items}
