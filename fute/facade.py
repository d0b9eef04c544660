"""The Python facade in three lines::

    import fute
    reg = fute.open(".fute")                       # creates the registry when the folder is new
    reg.ingest_dataset("pkg:rte", name="rte")      # registers, then embeds into the default space
    reg.sources_for("rte", k=5)                    # typed results

Everything goes through the same functions as the CLI and HTTP (``ingest.register``,
``ingest.engine``, ``query.service``), so answers are identical. The embedding engine (torch and the
surrogate) is loaded on the first call that computes a vector, never by ``fute.open`` or a query.
When no space exists, ``ingest_dataset`` creates ``text`` (TextEmb on the default surrogate: seconds
on a CPU); otherwise the one space rule picks the space (``query.space_choice``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ingest.register import DatasetRequest, DatasetResult, register_dataset
from query import service as qs
from query.answers import Evidence, Measured, QueryAnswer, ResultItem
from query.space_choice import choose_spaces
from registry.api import Registry
from registry.defaults import set_default_space, space_names
from registry.errors import RegistryNotInitializedError
from registry.settings import Settings

if TYPE_CHECKING:  # heavy: torch and the surrogate load only when a vector is computed
    from ingest.blackbox import BlackBox
    from ingest.engine import EmbedResult, Engine

FIRST_SPACE = "text"  # created by ingest_dataset when the registry has no space yet


@dataclass(frozen=True)
class RankedEntry:
    """One result of a ranking (the items of ``fute query ... --json``)."""

    rank: int
    name: str
    kind: str
    score: float
    space: str
    tags: dict[str, list[str]] = field(default_factory=dict)
    format: str | None = None
    similarity: dict[str, float] = field(default_factory=dict)
    # Transfer-aware source rankings only (empty otherwise): results measured into the target,
    # the score's parts, and the pivots that support it.
    measured: list[Measured] = field(default_factory=list)
    transfer: Mapping[str, Any] = field(default_factory=dict)  # TransferParts' keys when present
    evidence: list[Evidence] = field(default_factory=list)


@dataclass(frozen=True)
class Ranking:
    """A ranking: its space(s), results best first, and the notes and warnings of the answer."""

    space: str
    results: list[RankedEntry]
    note: str | None = None
    warnings: list[str] = field(default_factory=list)
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)  # the QueryAnswer

    def __iter__(self) -> Iterator[RankedEntry]:
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)

    def names(self) -> list[str]:
        """Result names, best first."""
        return [r.name for r in self.results]

    @classmethod
    def from_answer(cls, answer: QueryAnswer) -> Ranking:
        """Wrap a ``query_*`` answer."""
        results = [_entry(item) for item in answer["results"]]
        note = answer["query"].get("space_note")
        return cls(answer["space"], results, note, list(answer["warnings"]), answer)


def _entry(item: ResultItem) -> RankedEntry:
    """One result of an answer as a ``RankedEntry``.

    Args:
        item: A result of a ``query_*`` answer.

    Returns:
        The entry (the keys a ranking shows; not the provenance of ``explain``).
    """
    return RankedEntry(
        rank=item["rank"],
        name=item["name"],
        kind=item["kind"],
        score=item["score"],
        space=item["space"],
        tags=item["tags"],
        format=item["format"],
        similarity=item["similarity"],
        measured=item.get("measured", []),
        transfer=item.get("transfer", {}),
        evidence=item.get("evidence", []),
    )


class FuteRegistry:
    """A registry opened for Python use (see the module docstring)."""

    def __init__(self, registry: Registry) -> None:
        """Args:
        registry: An opened, initialised registry.
        """
        self.registry = registry
        self._engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        """The embedding engine, loaded on first use."""
        if self._engine is None:
            from ingest.engine import Engine

            self._engine = Engine(self.registry)
        return self._engine

    def spaces(self) -> list[str]:
        """Every space name, by creation order."""
        return space_names(self.registry.db)

    def create_space(self, name: str, method: str = "textemb", **params: Any) -> str:
        """Define a space (``textemb``, ``taskemb``, ``tupate``); ``params`` override the method's defaults.

        Returns:
            The space name.
        """
        probe_set = params.pop("probe_set", None)
        self.engine.create_space(name, method, overrides=params or None, probe_set=probe_set)
        return name

    def set_default_space(self, name: str | None) -> None:
        """Store (None: clear) the default space, as ``fute spaces default NAME``."""
        set_default_space(self.registry.db, name)

    def ingest_dataset(
        self, source: str, name: str, *, space: str | None = None, embed: bool = True, **options: Any
    ) -> DatasetResult:
        """Register a dataset and (by default) embed it.

        Args:
            source: ``pkg:NAME``, a local CSV/TSV/JSON/JSONL/Parquet file, or a hub id.
            name: Registry name.
            space: Space to embed into (default: the space rule; ``text`` is created when none exists).
            embed: False registers only.
            options: ``DatasetRequest`` fields: ``limit``, ``seed``, ``task_format``, ``tags`` (a dict or
                pairs), ``columns`` (``ingest.formats.ColumnMap``), ``allow_duplicate``.

        Returns:
            What was registered (format, counts, columns, label set).
        """
        tags = options.pop("tags", ())
        pairs = tuple(tags.items()) if isinstance(tags, dict) else tuple(tags)
        result = register_dataset(
            self.registry, DatasetRequest(source=source, name=name, tags=pairs, **options)
        )
        if embed:
            self.embed(name, self._space_for_new(space), "dataset")
        return result

    def ingest_model(
        self, name: str, box: BlackBox | None = None, *, space: str | None = None, kind: str = "callable"
    ) -> EmbedResult:
        """Register a model and embed it (MTE) with ``box``, your own black box
        (``fute.CallableBlackBox(fn, n_classes)``), in a space with a probe set (``taskemb``/``tupate``).

        Returns:
            The stored vector's record.
        """
        from ingest.register_entries import register_model

        register_model(self.registry, name, "python" if box is not None else name, kind)
        return self.embed(name, space, "model", box=box)

    def embed(
        self, name: str, space: str | None = None, kind: str | None = None, box: BlackBox | None = None
    ) -> EmbedResult:
        """(Re)compute one subject's vector; ``box`` is your own black box for a model
        (``fute.CallableBlackBox(fn, n_classes)``)."""
        chosen = choose_spaces(self.registry, (space,) if space else ()).name
        return self.engine.embed(chosen, name, kind, box=box)

    def sources_for(self, target: str, k: int = 5, **options: Any) -> Ranking:
        """Datasets ranked as transfer sources for ``target`` (``QueryOptions`` fields as keywords)."""
        include_models = options.pop("include_models", False)
        return Ranking.from_answer(qs.query_sources(self.registry, target, _opts(k, options), include_models))

    def models_for(self, target: str, k: int = 5, **options: Any) -> Ranking:
        """Models ranked for a dataset."""
        return Ranking.from_answer(qs.query_models(self.registry, target, _opts(k, options)))

    def prompts_for(self, target: str, k: int = 5, llm: str | None = None, **options: Any) -> Ranking:
        """Prompt+LLM pairs ranked for a dataset (optionally on one LLM)."""
        return Ranking.from_answer(qs.query_prompts(self.registry, target, _opts(k, options), llm))

    def similar_to(self, name: str, k: int = 5, kind: str | None = None, **options: Any) -> Ranking:
        """The nearest catalogue entries of any subject (optionally of one kind)."""
        return Ranking.from_answer(qs.query_similar(self.registry, name, _opts(k, options), kind))

    def close(self) -> None:
        """Release database connections."""
        self.registry.close()

    def __enter__(self) -> FuteRegistry:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _space_for_new(self, space: str | None) -> str:
        if space is None and not self.spaces():
            return self.create_space(FIRST_SPACE, "textemb")
        return choose_spaces(self.registry, (space,) if space else ()).name


def _opts(k: int, options: dict[str, Any]) -> qs.QueryOptions:
    """``QueryOptions`` from keywords; ``space="a,b"`` or a tuple, ``where={"family": "nli"}`` accepted."""
    space = options.pop("space", None) or options.pop("spaces", ())
    spaces = tuple(space.split(",")) if isinstance(space, str) else tuple(space)
    where = options.pop("where", ())
    pairs = tuple(where.items()) if isinstance(where, dict) else tuple(where)
    return qs.QueryOptions(k=k, spaces=spaces, where=pairs, **options)


def open(home: str | Path = ".fute", db: str | None = None, create: bool = True) -> FuteRegistry:
    """Open (and, with ``create``, initialise when new) the registry in ``home``.

    Args:
        home: Registry folder (``registry.db`` + ``indexes/``).
        db: A database URL instead of SQLite in ``home`` (e.g. PostgreSQL).
        create: Create the schema when the database has none (False: raise instead).

    Returns:
        The facade.

    Raises:
        RegistryNotInitializedError: No schema and ``create`` is False.
        SchemaOutdatedError: The schema is older than this code: run ``fute db upgrade``.
    """
    settings = Settings.build(home=home, db=db)
    try:
        return FuteRegistry(Registry.open(settings))
    except RegistryNotInitializedError:
        if not create:
            raise
    reg = Registry(settings)
    reg.init()
    return FuteRegistry(reg)
