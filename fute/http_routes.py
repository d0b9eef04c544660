"""Read-only routes of the HTTP service: catalogue listings, jobs, queries, evaluation.

Every handler is a plain ``def``: FastAPI runs it in its thread pool, so a long ingestion job (its
own thread, its own connections) never blocks the event loop, and SQLite in WAL mode lets these
readers run while the job writes. Routers are built by functions (nothing is created at import).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any, Literal, cast

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi import Path as FastPath
from pydantic import BaseModel, ConfigDict, Field

from fute.http_transfer import transfer_options, transfer_params
from query import service as qs
from query.answers import EvalReport, QueryAnswer
from query.listings import DatasetDetail, DatasetPage, Health, JobPage, JobRow, ProbeSetRow, SpaceRow, Stats
from query.transfer_query import TransferOptions
from query.transfer_rank import TransferParams
from registry.api import Registry
from registry.catalogue_reads import dataset_info, probe_sets
from registry.job_listing import EntriesWanted, job_detail, list_jobs
from registry.listing import DatasetFilter, page_datasets

MAX_LIMIT = 500
MAX_K = 100


def registry_of(request: Request) -> Registry:
    """The registry the app was created with (``app.state.registry``)."""
    return cast(Registry, request.app.state.registry)


Reg = Annotated[Registry, Depends(registry_of)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"page size (at most {MAX_LIMIT})")]
# SQL integers are 64-bit: a larger offset or id overflowed inside the driver (HTTP 500).
MAX_SQL_INT = 2**63 - 1
Offset = Annotated[int, Query(ge=0, le=MAX_SQL_INT, description="items to skip")]
JobId = Annotated[int, FastPath(ge=1, le=MAX_SQL_INT, description="job id")]
Target = Annotated[str, Query(min_length=1, max_length=300, description="target dataset name")]


def parse_pairs(values: list[str] | None, what: str) -> tuple[tuple[str, str], ...]:
    """``key=value`` query values to pairs.

    Args:
        values: Raw values of a repeatable query parameter.
        what: Parameter name, for the error message.

    Returns:
        The (key, value) pairs, stripped.

    Raises:
        HTTPException: 422 when a value has no ``=`` or an empty key or value.
    """
    out = []
    for raw in values or []:
        key, sep, value = raw.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise HTTPException(422, f"{what} needs key=value, got {raw!r}")
        out.append((key.strip(), value.strip()))
    return tuple(out)


def query_options(
    k: Annotated[int, Query(ge=1, le=MAX_K, description="results to return")] = 5,
    space: Annotated[str | None, Query(description="comma-separated space names")] = None,
    where: Annotated[list[str] | None, Query(description="key=value filter, repeatable")] = None,
    explain: bool = False,
    rrf_k: Annotated[int, Query(ge=1, le=10_000)] = 60,
) -> qs.QueryOptions:
    """Dependency: the query parameters shared by every ``/query/...`` endpoint.

    Raises:
        HTTPException: 422 on a malformed ``where``.
    """
    spaces = tuple(s.strip() for s in (space or "").split(",") if s.strip())
    return qs.QueryOptions(
        k=k, spaces=spaces, where=parse_pairs(where, "where"), explain=explain, rrf_k=rrf_k
    )


Opts = Annotated[qs.QueryOptions, Depends(query_options)]


class VectorQuery(BaseModel):
    """Body of ``POST /query/vector``."""

    model_config = ConfigDict(extra="forbid")

    space: str = Field(min_length=1, max_length=200)
    vector: list[float] = Field(min_length=1, max_length=100_000)
    k: int = Field(default=5, ge=1, le=MAX_K)
    where: list[str] = Field(default_factory=list, max_length=100)
    explain: bool = False


def space_row(space: Any, n_embeddings: int) -> SpaceRow:
    """One space as ``fute spaces list --json`` prints it."""
    return {
        "name": space.name,
        "method": space.method,
        "surrogate": space.surrogate,
        "dim": space.dim,
        "metric": space.metric,
        "index_type": space.index_type,
        "n_embeddings": n_embeddings,
        "fingerprint": space.fingerprint,
        "generation": space.generation,
    }


def catalogue_router() -> APIRouter:
    """Routes: ``/health``, ``/spaces``, ``/datasets``, ``/probes``, ``/stats``.

    Returns:
        A router to include in the app.
    """
    router = APIRouter(tags=["catalogue"])

    @router.get("/health", response_model=Health)
    def health() -> Health:
        """Liveness: the server answers."""
        return Health(ok=True)

    @router.get("/spaces", response_model=list[SpaceRow])
    def spaces(reg: Reg) -> list[SpaceRow]:
        """Embedding spaces, as ``fute spaces list --json``."""
        return [space_row(s, n) for s, n in reg.spaces()]

    @router.get("/datasets", response_model=DatasetPage)
    def datasets(
        reg: Reg,
        limit: Limit = 50,
        offset: Offset = 0,
        fmt: Annotated[str | None, Query(alias="format")] = None,
        tag: Annotated[list[str] | None, Query(description="key=value, repeatable (all must match)")] = None,
    ) -> dict[str, Any]:
        """Registered datasets, by name, one page at a time."""
        page = page_datasets(reg, limit, offset, DatasetFilter(fmt, parse_pairs(tag, "tag")))
        items = [d.as_dict() for d in page.items]
        return {"items": items, "total": page.total, "limit": limit, "offset": offset}

    @router.get("/datasets/{name}", response_model=DatasetDetail)
    def dataset(reg: Reg, name: str) -> dict[str, Any]:
        """One dataset with an example preview and its embeddings (404 when unknown)."""
        return dataset_info(reg, name)

    @router.get("/probes", response_model=list[ProbeSetRow])
    def probes(reg: Reg) -> list[dict[str, Any]]:
        """Probe sets with the number of spaces that use each."""
        return probe_sets(reg)

    @router.get("/stats", response_model=Stats)
    def stats(reg: Reg) -> dict[str, Any]:
        """Counts per kind and space, sizes on disk, last job."""
        return reg.stats()

    return router


def jobs_router() -> APIRouter:
    """Routes: ``/jobs`` (newest first) and ``/jobs/{id}`` (with its entries).

    Returns:
        A router to include in the app.
    """
    router = APIRouter(tags=["jobs"])

    @router.get("/jobs", response_model=JobPage)
    def jobs(reg: Reg, limit: Limit = 50, offset: Offset = 0, entries: bool = False) -> dict[str, Any]:
        """Job rows, newest first; ``entries=true`` adds each job's entries."""
        page = list_jobs(reg, limit, offset, entries=EntriesWanted(first=limit if entries else 0))
        items = [j.as_dict() for j in page.items]
        for item in items:
            if item["id"] in page.entries:
                item["entries"] = [e.to_dict() for e in page.entries[item["id"]]]
        return {"items": items, "total": page.total, "limit": limit, "offset": offset}

    @router.get("/jobs/{job_id}", response_model=JobRow)
    def job(reg: Reg, job_id: JobId) -> dict[str, Any]:
        """One job with its entries (key, status, error, seconds)."""
        found = job_detail(reg, job_id)
        if found is None:
            raise HTTPException(404, f"no job with id {job_id}; see GET /jobs")
        row, entries = found
        return {**row.as_dict(), "entries": [e.to_dict() for e in entries]}

    return router


def query_router() -> APIRouter:
    """Routes: ``/query/{sources,models,prompts,similar}``, ``POST /query/vector``, ``/eval``.

    Returns:
        A router to include in the app.
    """
    router = APIRouter(tags=["query"])

    @router.get("/query/sources", response_model=QueryAnswer)
    def sources(
        reg: Reg,
        opts: Opts,
        target: Target,
        transfer: Annotated[TransferOptions, Depends(transfer_options)],
        include_models: bool = False,
    ) -> QueryAnswer:
        """Datasets to transfer from for a target dataset (transfer-aware when results are recorded)."""
        return qs.query_sources(reg, target, replace(opts, transfer=transfer), include_models=include_models)

    @router.get("/query/models", response_model=QueryAnswer)
    def models(reg: Reg, opts: Opts, target: Target) -> QueryAnswer:
        """Models that fit a target dataset."""
        return qs.query_models(reg, target, opts)

    @router.get("/query/prompts", response_model=QueryAnswer)
    def prompts(reg: Reg, opts: Opts, target: Target, llm: str | None = None) -> QueryAnswer:
        """Prompt+LLM pairs that fit a target dataset (optionally on one LLM)."""
        return qs.query_prompts(reg, target, opts, llm=llm)

    @router.get("/query/similar", response_model=QueryAnswer)
    def similar(
        reg: Reg,
        opts: Opts,
        name: Annotated[str, Query(min_length=1, max_length=300)],
        kind: Annotated[str | None, Query(pattern="^(dataset|model|prompt)$")] = None,
    ) -> QueryAnswer:
        """Subjects nearest to a named subject."""
        return qs.query_similar(reg, name, opts, kind=kind)

    @router.post("/query/vector", response_model=QueryAnswer)
    def vector(reg: Reg, body: VectorQuery) -> QueryAnswer:
        """Subjects nearest to a raw vector in one space."""
        opts = qs.QueryOptions(k=body.k, where=parse_pairs(body.where, "where"), explain=body.explain)
        return qs.query_vector(reg, body.space, body.vector, opts)

    @router.get("/eval", response_model=EvalReport)
    def evaluate(
        reg: Reg,
        params: Annotated[TransferParams, Depends(transfer_params)],
        space: str | None = None,
        setting: str | None = None,
        n_draws: Annotated[int, Query(ge=1, le=10_000)] = 200,
        seed: Annotated[int, Query(ge=0, le=2**32 - 1)] = 0,
        ranking: Annotated[Literal["auto", "transfer", "similarity"], Query()] = "auto",
        selection: Annotated[Literal["fixed", "nested"], Query()] = "fixed",
    ) -> EvalReport:
        """Ranking quality against recorded transfer results (each target's results hidden)."""
        return qs.evaluate(
            reg,
            space,
            setting,
            n_draws=n_draws,
            seed=seed,
            ranking=ranking,
            selection=selection,
            params=params,
        )

    return router
