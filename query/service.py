"""The query layer: transfer sources, models and prompts for a dataset, similar entries, raw
vectors; several spaces fused by reciprocal rank fusion. The CLI, the HTTP service and the Python
facade all call these functions and print the dicts they return.

``--where`` filters (resolved in SQL before the vector search):
``kind=dataset|model|prompt`` (repeatable: any of them), ``format=F`` (repeatable),
``created_after=ISO-TIME``, ``created_before=ISO-TIME``, ``any:KEY=VALUE`` (at least one of these
tags), and any other ``KEY=VALUE`` (a tag that must be present; repeat for several).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from query.answer import Ranked, hydrate
from query.answers import QueryAnswer
from query.confidence import with_warnings
from query.evaluate import evaluate
from query.hints import unknown_llm_message
from query.options import MAX_K, QueryOptions, parse_where, resolve_spaces
from query.options import check_k as _check
from query.space_choice import choose_spaces
from query.transfer import import_transfers
from query.transfer_answer import transfer_sources
from query.transfer_query import transfer_graph
from registry.api import Hit, Registry
from registry.errors import InvalidDataError
from registry.filters import SearchFilter
from registry.provenance import vector_provenance
from registry.subject_reads import find_subject, prompt_ids_on_llm

# MAX_K, QueryOptions, parse_where and resolve_spaces live in query.options; re-exported here for
# the callers outside query/ (fute, bench, tests); modules in query/ import them from there
__all__ = [
    "MAX_K",
    "QueryOptions",
    "evaluate",
    "import_transfers",
    "parse_where",
    "query_models",
    "query_prompts",
    "query_similar",
    "query_sources",
    "query_vector",
    "resolve_spaces",
]


def _subject_query(
    reg: Registry, name: str, kind: str | None, opts: QueryOptions, base: SearchFilter, label: str
) -> dict[str, Any]:
    """Rank entries near a registered subject's vector in each space, fused when several."""
    _check(opts)
    subject = find_subject(reg, name, kind)
    flt = parse_where(opts.where)
    flt = replace(
        flt, kinds=flt.kinds or base.kinds, subject_ids=base.subject_ids, exclude_subject_ids=(subject.id,)
    )
    choice = choose_spaces(reg, opts.spaces)
    spaces = list(choice.names)
    graph = transfer_graph(reg, opts.transfer, base.kinds) if label == "sources" else None
    use_transfer = graph is not None
    rankings = {}
    for space in spaces:
        vec = _vector(reg, space, subject.id, name)
        if not use_transfer:
            k = _depth(opts, len(spaces))
            rankings[space] = reg.search(space, vec, k=k, flt=flt, provenance=opts.explain)[0]
    query = {
        "type": label,
        "name": subject.name,
        "kind": subject.kind,
        "k": opts.k,
        "where": dict(opts.where),
    }
    if choice.note:  # the rule, not the caller, picked the space: say which
        query["space_note"] = choice.note
    if opts.explain:
        query["provenance"] = {s: _provenance(reg, s, subject.id) for s in spaces}
        query["search"] = {s: reg.search_plan(s, flt) for s in spaces}
    if graph is not None:
        results, block = transfer_sources(
            reg, (subject.id, subject.name), spaces, flt, opts.k, opts.explain, opts.transfer, graph
        )
        return {
            "space": ",".join(spaces),
            "query": {**query, "fusion": None, "ranking": block},
            "results": results,
        }
    if label == "sources":
        query["ranking"] = {"mode": "similarity"}
    return _answer(reg, spaces, rankings, query, opts)


def _depth(opts: QueryOptions, n_spaces: int) -> int:
    """How deep to read each space: k for one space; deeper for fusion so late ranks still count."""
    return opts.k if n_spaces == 1 else max(4 * opts.k, 50)


def _vector(reg: Registry, space: str, subject_id: int, name: str) -> Any:
    try:
        return reg.vector_of(space, subject_id)
    except LookupError as exc:
        raise type(exc)(
            f"{name!r} has no vector in space {space!r}; run `fute embed {name} --space {space}`"
        ) from exc


def _provenance(reg: Registry, space: str, subject_id: int) -> dict[str, Any]:
    stored = vector_provenance(reg, space, subject_id)
    return {} if stored is None else stored.to_dict()


def _answer(
    reg: Registry,
    spaces: list[str],
    rankings: dict[str, list[Hit]],
    query: dict[str, Any],
    opts: QueryOptions,
) -> dict[str, Any]:
    """Fuse (or pass through) the per-space rankings and hydrate names, tags and methods."""
    fused: dict[int, dict[str, Any]] = {}
    for space, hits in rankings.items():
        for rank, hit in enumerate(hits, start=1):
            entry = fused.setdefault(
                hit.subject_id, {"hit": hit, "rrf": 0.0, "similarity": {}, "prov": {}, "ranks": {}}
            )
            entry["rrf"] += 1.0 / (opts.rrf_k + rank)
            entry["ranks"][space] = rank  # per-space rank: fused RRF scores alone are near-ties
            entry["similarity"][space] = round(hit.score, 6)
            entry["prov"][space] = hit.provenance
    single = len(spaces) == 1
    order = sorted(fused.values(), key=lambda e: (-(e["hit"].score if single else e["rrf"]), e["hit"].name))
    ranked = [
        Ranked(
            e["hit"],
            e["hit"].score if single else e["rrf"],
            e["similarity"],
            e["prov"],
            {} if single else {"ranks": e["ranks"]},
        )
        for e in order[: opts.k]
    ]
    return {
        "space": ",".join(spaces),
        "query": {**query, "fusion": None if single else {"rrf_k": opts.rrf_k}},
        "results": hydrate(reg, spaces, ranked, opts.explain),
    }


def query_sources(
    reg: Registry, target: str, opts: QueryOptions, include_models: bool = False
) -> QueryAnswer:
    """Datasets (and optionally models) ranked as transfer sources for a target dataset (excluded)."""
    kinds = ("dataset", "model") if include_models else ("dataset",)
    return with_warnings(
        reg, _subject_query(reg, target, "dataset", opts, SearchFilter(kinds=kinds), "sources")
    )


def query_models(reg: Registry, target: str, opts: QueryOptions) -> QueryAnswer:
    """Fine-tuned models ranked by MTE-DTE similarity for a dataset."""
    return with_warnings(
        reg, _subject_query(reg, target, "dataset", opts, SearchFilter(kinds=("model",)), "models")
    )


def query_prompts(reg: Registry, target: str, opts: QueryOptions, llm: str | None = None) -> QueryAnswer:
    """Prompt+LLM pairs ranked for a dataset (FUTE's zero-shot prompt selection)."""
    ids = None
    if llm is not None:
        ids = prompt_ids_on_llm(reg, llm)
        if not ids:
            raise InvalidDataError(unknown_llm_message(reg, llm))
    answer = _subject_query(
        reg, target, "dataset", opts, SearchFilter(kinds=("prompt",), subject_ids=ids), "prompts"
    )
    return with_warnings(reg, answer)


def query_similar(reg: Registry, name: str, opts: QueryOptions, kind: str | None = None) -> QueryAnswer:
    """The nearest catalogue entries of any subject (itself excluded), optionally of one kind."""
    base = SearchFilter(kinds=(kind,) if kind else ())
    return with_warnings(reg, _subject_query(reg, name, None, opts, base, "similar"))


def query_vector(reg: Registry, space: str, vector: list[float], opts: QueryOptions) -> QueryAnswer:
    """Nearest entries of a raw vector in one space (the Python API's raw query)."""
    _check(opts)
    hits = reg.search(space, vector, k=opts.k, flt=parse_where(opts.where), provenance=opts.explain)[0]
    query = {"type": "vector", "k": opts.k, "where": dict(opts.where)}
    return with_warnings(reg, _answer(reg, [space], {space: hits}, query, replace(opts, spaces=(space,))))
