"""Register a dataset: load → normalise → validate → sample → hash → one transaction.

Nothing is stored unless every step succeeds: all checks run before the transaction, and the
subject, its tags and its examples are written together.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ingest.formats import ColumnMap, normalise
from ingest.sampling import DEFAULT_LIMIT, content_hash, subsample
from ingest.sources import load_table
from registry.api import Registry
from registry.errors import AlreadyExistsError, InvalidDataError
from registry.lookups import example_data, subject_exists
from registry.registration import NewDataset, store_dataset
from registry.validate import check_name as check_name  # re-exported: ingest.probes, ingest.register_entries
from registry.validate import check_tags


@dataclass(frozen=True)
class DatasetRequest:
    """What ``fute ingest dataset`` asks for.

    Attributes:
        source: ``pkg:NAME``, a local file, or a Hugging Face id ``name[:config][@split]``.
        name: Unique dataset name.
        task_format: A format from ``ingest.formats.FORMATS``, or None to detect.
        columns: Column choices (``--text``, ``--text-pair``, ``--label``).
        limit: Maximum examples kept (seeded, stratified for classification).
        seed: Sampling seed.
        tags: (key, value) tags.
        allow_duplicate: Register even if the same content exists under another name.
    """

    source: str
    name: str
    task_format: str | None = None
    columns: ColumnMap = field(default_factory=ColumnMap)
    limit: int = DEFAULT_LIMIT
    seed: int = 0
    tags: tuple[tuple[str, str], ...] = ()
    allow_duplicate: bool = False


@dataclass
class DatasetResult:
    """What was registered."""

    id: int
    name: str
    format: str
    n_examples: int
    n_source: int
    content_hash: str
    label_set: list[str] | None
    warnings: list[str]
    duplicate_of: str | None = None
    columns: dict[str, str | None] | None = None  # the source columns read as text, text_pair, label

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return dict(self.__dict__)


def register_dataset(reg: Registry, req: DatasetRequest) -> DatasetResult:
    """Load, validate, sample and store one dataset.

    Raises:
        InvalidDataError, SourceUnavailableError: Bad or unreadable data (nothing stored).
        AlreadyExistsError: The name is taken.
        DuplicateDataError: Same content under another name, without ``allow_duplicate``.
    """
    check_name(req.name)
    check_tags(req.tags)
    _ensure_name_free(reg, req.name)  # fail before the (possibly slow) load
    if req.limit < 1:
        raise InvalidDataError(f"--limit must be at least 1, got {req.limit}")
    table = load_table(req.source)
    data = normalise(table.rows, table.columns, req.task_format, req.columns)
    digest = content_hash(data.task_format, data.examples)
    sample, info = subsample(data.examples, req.limit, req.seed, data.label_set is not None)
    if data.label_set is not None and len({e["label"] for e in sample}) < 2:
        raise InvalidDataError("the sample holds a single class; raise --limit")
    info["columns"] = data.columns
    new = NewDataset(req.name, table.origin, data.task_format, data.label_set, digest, info, sample)
    # one transaction: duplicate check, dataset row, tags, examples (DuplicateDataError unless allowed)
    stored = store_dataset(reg, new, req.tags, req.allow_duplicate)
    return DatasetResult(
        stored.id,
        req.name,
        data.task_format,
        len(sample),
        len(data.examples),
        digest,
        data.label_set,
        data.warnings,
        stored.duplicate_of,
        data.columns,
    )


def _ensure_name_free(reg: Registry, name: str) -> None:
    if subject_exists(reg, name, "dataset"):
        raise AlreadyExistsError(f"a dataset named {name!r} already exists; choose another --name")


def dataset_texts(reg: Registry, dataset_id: int) -> list[str]:
    """Every text field of a registered dataset's stored examples (for probe-set exclusion)."""
    out: list[str] = []
    for data in example_data(reg, dataset_id):
        for key in ("text", "text_pair", "context", "question"):
            value = data.get(key)
            if isinstance(value, str) and value:
                out.append(value)
    return out
