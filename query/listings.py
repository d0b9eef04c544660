"""Typed listings: stats, spaces, datasets, probe sets, jobs, tags, health (issue 18).

The shapes built in ``registry/`` and ``fute/`` for the CLI's ``--json`` and the HTTP responses
(their ``response_model``), split from ``query/answers.py`` (the query answers) along the line that
file already drew. They are ``TypedDict`` s for the same reason as the answers: plain dicts at run
time, checked keys for mypy, schemas for OpenAPI. The registry floor cannot import upward, so the
contract lives here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NotRequired

from typing_extensions import TypedDict


class SpaceRow(TypedDict):
    """One embedding space (``fute spaces list --json``, ``GET /spaces``)."""

    name: str
    method: str
    surrogate: str
    dim: int
    metric: str
    index_type: str
    n_embeddings: int
    fingerprint: str
    generation: int


class DatasetRow(TypedDict):
    """One dataset (``fute datasets list --json``, ``GET /datasets``)."""

    name: str
    format: str
    n_examples: int
    n_source: int
    content_hash: str
    tags: dict[str, list[str]]
    source: str
    label_set: list[Any] | None
    sampling: dict[str, Any] | None
    created_at: str


class DatasetEmbedding(TypedDict):
    """A dataset's vector in one space."""

    space: str
    provenance: dict[str, Any]
    created_at: str


class DatasetDetail(DatasetRow):
    """One dataset with an example preview and its vectors (``fute datasets show``)."""

    examples_preview: list[dict[str, Any]]
    embeddings: list[DatasetEmbedding]


class DatasetPage(TypedDict):
    """A page of ``GET /datasets``."""

    items: list[DatasetRow]
    total: int
    limit: int
    offset: int


class ProbeSetRow(TypedDict):
    """One probe set with the number of spaces that use it."""

    name: str
    n_texts: int
    content_hash: str
    seed: int | None
    sources: Any
    n_spaces: int
    immutable: bool
    created_at: str


class JobEntryRow(TypedDict):
    """One unit of a job, in the order it ran."""

    key: str
    status: str
    error: str | None
    seconds: float | None


class JobRow(TypedDict):
    """One job (times in ISO 8601); ``entries`` when asked for."""

    id: int
    kind: str
    status: str
    n_total: int
    n_done: int
    n_failed: int
    params: dict[str, Any] | None
    error: str | None
    created_at: str | None
    started_at: str | None
    updated_at: str | None
    finished_at: str | None
    entries: NotRequired[list[JobEntryRow]]


class JobPage(TypedDict):
    """A page of ``GET /jobs``, newest first."""

    items: list[JobRow]
    total: int
    limit: int
    offset: int


class SpaceStats(TypedDict):
    """Counts and index size of one space in ``fute stats``."""

    name: str
    method: str
    n_embeddings: int
    by_kind: dict[str, int]
    dim: int
    metric: str
    index_type: str
    generation: int
    index_bytes: int


class DiskBytes(TypedDict):
    """Bytes on disk: the SQLite files (0 on a server database), indexes and converted models."""

    database: int
    indexes: int
    models: int


class LastJob(TypedDict):
    """The newest job in ``fute stats``."""

    id: int
    kind: str
    status: str
    n_done: int
    n_total: int
    n_failed: int
    created_at: datetime | None
    finished_at: datetime | None
    error: str | None


class Stats(TypedDict):
    """``fute stats --json`` and ``GET /stats``."""

    subjects: dict[str, int]
    spaces: list[SpaceStats]
    probe_sets: int
    transfer_results: int
    cached_outputs: int
    index_types: list[str]
    disk_bytes: DiskBytes
    last_job: LastJob | None


class SubjectTags(TypedDict):
    """A subject's name, kind and tags after an edit (``PATCH /subjects/...``, ``fute tag``)."""

    name: str
    kind: str
    tags: dict[str, list[str]]


class Health(TypedDict):
    """``GET /health``."""

    ok: bool


class Deleted(TypedDict):
    """``DELETE /subjects/{kind}/{name}``."""

    deleted: str
    kind: str


class JobSubmitted(TypedDict):
    """``POST /jobs``: the catalogue was saved and its job started (``job_id`` once known)."""

    status: str
    job_id: int | None
    file: str
