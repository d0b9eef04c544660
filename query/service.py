"""The query layer: transfer sources, models and prompts for a dataset, similar entries, raw
vectors; several spaces fused by reciprocal rank fusion. The CLI, the HTTP service and the Python
facade all call these functions and print the dicts they return.

``--where`` filters (resolved in SQL before the vector search):
``kind=dataset|model|prompt`` (repeatable: any of them), ``format=F`` (repeatable),
``created_after=ISO-TIME``, ``created_before=ISO-TIME``, ``any:KEY=VALUE`` (at least one of these
tags), and any other ``KEY=VALUE`` (a tag that must be present; repeat for several).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from numbers import Integral
from typing import Any

from sqlalchemy import select

from query.answer import Ranked, hydrate
from query.confidence import with_warnings
from query.evaluate import evaluate
from query.hints import unknown_llm_message
from query.space_choice import choose_spaces
from query.transfer import import_transfers
from query.transfer_answer import transfer_sources
from query.transfer_query import TransferOptions, transfer_graph
from registry.api import Hit, Registry
from registry.catalog import get_subject
from registry.errors import InvalidDataError
from registry.filters import SearchFilter
from registry.models import Embedding, EmbeddingSpace, ModelEntry, Prompt

__all__ = [
    "QueryOptions",
    "evaluate",
    "import_transfers",
    "query_models",
    "query_prompts",
    "query_similar",
    "query_sources",
    "query_vector",
]
MAX_K = 100


@dataclass(frozen=True)
class QueryOptions:
    """Options shared by every query.

    Attributes:
        k: Results wanted (1..100); fewer only when fewer entries pass the filters.
        spaces: Spaces to search; several are fused by reciprocal rank fusion; empty = the default.
        where: ``(key, value)`` filters (see the module docstring).
        explain: Add the provenance of the query's and each result's vector.
        rrf_k: The constant of reciprocal rank fusion, score = sum over spaces of 1 / (rrf_k + rank).
        transfer: How ``query_sources`` uses recorded transfer results (``query.transfer_query``).
    """

    k: int = 5
    spaces: tuple[str, ...] = ()
    where: tuple[tuple[str, str], ...] = ()
    explain: bool = False
    rrf_k: int = 60
    transfer: TransferOptions = field(default_factory=TransferOptions)

    def __post_init__(self) -> None:
        """Check the integer options' types and ranges (the CLI and HTTP bound them too).

        Raises:
            InvalidDataError: ``k`` is not an integer in 1..MAX_K or ``rrf_k`` not an integer >= 1.
        """
        _check_int("k", self.k, 1, MAX_K)
        _check_int("rrf_k", self.rrf_k, 1, None)


def _check_int(name: str, value: object, low: int, high: int | None) -> None:
    """Refuse a non-integer (a bool included) or an integer outside ``low..high``.

    Args:
        name: The option's name, for the message.
        value: The value given.
        low: The smallest allowed value.
        high: The largest allowed value; ``None`` for no upper bound.

    Raises:
        InvalidDataError: The value is not an integer or is out of range.
    """
    wanted = f"between {low} and {high}" if high is not None else f">= {low}"
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise InvalidDataError(f"{name} must be an integer {wanted}, got {value!r}")
    number = int(value)
    if number < low or (high is not None and number > high):
        raise InvalidDataError(f"{name} must be {wanted}, got {value}")


def parse_where(where: tuple[tuple[str, str], ...]) -> SearchFilter:
    """Turn ``--where`` pairs into a SQL-side filter.

    Raises:
        InvalidDataError: A bad kind or time.
    """
    kinds, formats, tags_all, tags_any = [], [], [], []
    after = before = None
    for key, value in where:
        if key == "kind":
            if value not in ("dataset", "model", "prompt"):
                raise InvalidDataError(f"--where kind={value!r}: choose dataset, model or prompt")
            kinds.append(value)
        elif key == "format":
            formats.append(value)
        elif key in ("created_after", "created_before"):
            try:
                moment = datetime.fromisoformat(value)
            except ValueError as exc:
                raise InvalidDataError(
                    f"--where {key}={value!r} is not an ISO time (2026-01-31T12:00)"
                ) from exc
            after, before = (moment, before) if key == "created_after" else (after, moment)
        elif key.startswith("any:"):
            tags_any.append((key[4:], value))
        else:
            tags_all.append((key, value))
    return SearchFilter(
        kinds=tuple(kinds),
        tags_all=tuple(tags_all),
        tags_any=tuple(tags_any),
        formats=tuple(formats),
        created_after=after,
        created_before=before,
    )


def resolve_spaces(reg: Registry, opts: QueryOptions) -> list[str]:
    """The spaces of a query by the one rule of ``query.space_choice`` (named, stored default,
    ``FUTE_DEFAULT_SPACE``, the only space, the space with the most vectors).

    Raises:
        SpaceNotFoundError: A named space does not exist.
        ConfigError: No space exists.
    """
    return list(choose_spaces(reg, opts.spaces).names)


def _check(opts: QueryOptions) -> None:
    if not 1 <= opts.k <= MAX_K:
        raise InvalidDataError(f"k must be between 1 and {MAX_K}, got {opts.k}")


def _subject_query(
    reg: Registry, name: str, kind: str | None, opts: QueryOptions, base: SearchFilter, label: str
) -> dict[str, Any]:
    """Rank entries near a registered subject's vector in each space, fused when several."""
    _check(opts)
    with reg.db.read() as session:
        subject = get_subject(session, name, kind)
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
            rankings[space] = reg.search(space, vec, k=_depth(opts, len(spaces)), flt=flt)[0]
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
    with reg.db.read() as session:
        row = session.execute(
            select(Embedding.provenance, Embedding.created_at)
            .join(EmbeddingSpace, EmbeddingSpace.id == Embedding.space_id)
            .where(EmbeddingSpace.name == space, Embedding.subject_id == subject_id)
        ).first()
    return {} if row is None else {**(row[0] or {}), "created_at": row[1].isoformat()}


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
) -> dict[str, Any]:
    """Datasets (and optionally models) ranked as transfer sources for a target dataset (excluded)."""
    kinds = ("dataset", "model") if include_models else ("dataset",)
    return with_warnings(
        reg, _subject_query(reg, target, "dataset", opts, SearchFilter(kinds=kinds), "sources")
    )


def query_models(reg: Registry, target: str, opts: QueryOptions) -> dict[str, Any]:
    """Fine-tuned models ranked by MTE-DTE similarity for a dataset."""
    return with_warnings(
        reg, _subject_query(reg, target, "dataset", opts, SearchFilter(kinds=("model",)), "models")
    )


def query_prompts(reg: Registry, target: str, opts: QueryOptions, llm: str | None = None) -> dict[str, Any]:
    """Prompt+LLM pairs ranked for a dataset (FUTE's zero-shot prompt selection)."""
    ids = None
    if llm is not None:
        with reg.db.read() as session:
            # a subquery, not a join: Prompt and ModelEntry share the subjects table, and a join
            # makes SQLAlchemy alias one implicitly (an SAWarning on the user's terminal)
            llm_ids = select(ModelEntry.id).where(ModelEntry.name == llm)
            ids = tuple(session.scalars(select(Prompt.id).where(Prompt.llm_id.in_(llm_ids))))
        if not ids:
            raise InvalidDataError(unknown_llm_message(reg, llm))
    answer = _subject_query(
        reg, target, "dataset", opts, SearchFilter(kinds=("prompt",), subject_ids=ids), "prompts"
    )
    return with_warnings(reg, answer)


def query_similar(reg: Registry, name: str, opts: QueryOptions, kind: str | None = None) -> dict[str, Any]:
    """The nearest catalogue entries of any subject (itself excluded), optionally of one kind."""
    base = SearchFilter(kinds=(kind,) if kind else ())
    return with_warnings(reg, _subject_query(reg, name, None, opts, base, "similar"))


def query_vector(reg: Registry, space: str, vector: list[float], opts: QueryOptions) -> dict[str, Any]:
    """Nearest entries of a raw vector in one space (the Python API's raw query)."""
    _check(opts)
    hits = reg.search(space, vector, k=opts.k, flt=parse_where(opts.where))[0]
    query = {"type": "vector", "k": opts.k, "where": dict(opts.where)}
    return with_warnings(reg, _answer(reg, [space], {space: hits}, query, replace(opts, spaces=(space,))))
