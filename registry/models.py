"""SQLAlchemy 2 typed ORM of the catalogue: the single source of truth, vectors included.

Ids are monotonic and never reused (SQLite ``AUTOINCREMENT``, PostgreSQL identity columns), because
an embedding's primary key is also its FAISS id: a reused id could resurrect a deleted vector in a
stale index snapshot.

Subjects (datasets, models, prompt+LLM pairs) share one ``subjects`` table (joined-table
inheritance) so that embeddings, tags, cached black-box outputs and transfer results can point at
any of them with one foreign key.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Named constraints make Alembic migrations reproducible (SQLite batch mode needs names to drop).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BIGINT for PostgreSQL (FAISS ids are int64); SQLite only autoincrements "INTEGER PRIMARY KEY".
IdType = BigInteger().with_variant(Integer(), "sqlite")
AUTOINC = {"sqlite_autoincrement": True}

SUBJECT_KINDS = ("dataset", "model", "prompt")


def utcnow() -> datetime:
    """Current time, timezone-aware UTC (stored the same way on SQLite and PostgreSQL)."""
    return datetime.now(UTC)


def id_column() -> Mapped[int]:
    """A monotonic, never-reused integer primary key."""
    return mapped_column(IdType, Identity(), primary_key=True)


def fk_column(target: str, *, nullable: bool = False, index: bool = True) -> Mapped[Any]:
    """A foreign key that deletes its row together with the referenced row."""
    return mapped_column(IdType, ForeignKey(target, ondelete="CASCADE"), nullable=nullable, index=index)


class Base(DeclarativeBase):
    """Declarative base with the constraint naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Subject(Base):
    """Anything that gets an embedding: a dataset, a model, or a prompt+LLM pair."""

    __tablename__ = "subjects"
    __table_args__ = (UniqueConstraint("kind", "name"), AUTOINC)

    id: Mapped[int] = id_column()
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    tags: Mapped[list[Tag]] = relationship(
        back_populates="subject", cascade="all, delete-orphan", passive_deletes=True
    )

    __mapper_args__ = {"polymorphic_on": "kind", "polymorphic_identity": "subject"}


class Dataset(Subject):
    """A labelled task: its source, format, label set, size and content hash."""

    __tablename__ = "datasets"

    id: Mapped[int] = mapped_column(IdType, ForeignKey("subjects.id", ondelete="CASCADE"), primary_key=True)
    source: Mapped[str] = mapped_column(Text)
    task_format: Mapped[str] = mapped_column(String(32))
    label_set: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)
    n_examples: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    sampling: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)

    __mapper_args__ = {"polymorphic_identity": "dataset", "polymorphic_load": "inline"}


class Example(Base):
    """One normalised example of a dataset (the registered sample), kept so that embeddings can
    be recomputed later without the original source (which may be offline or changed)."""

    __tablename__ = "examples"
    __table_args__ = (UniqueConstraint("dataset_id", "position"), AUTOINC)

    id: Mapped[int] = id_column()
    dataset_id: Mapped[int] = fk_column("datasets.id")
    position: Mapped[int] = mapped_column(Integer)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class ModelEntry(Subject):
    """A fine-tuned model (or an LLM that prompts run on), probed as a black box."""

    __tablename__ = "models"

    id: Mapped[int] = mapped_column(IdType, ForeignKey("subjects.id", ondelete="CASCADE"), primary_key=True)
    source: Mapped[str] = mapped_column(Text)
    model_kind: Mapped[str] = mapped_column(String(32))
    label_set: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)

    __mapper_args__ = {"polymorphic_identity": "model", "polymorphic_load": "inline"}


class Prompt(Subject):
    """A prompt template with verbalizers, bound to the LLM it runs on."""

    __tablename__ = "prompts"

    id: Mapped[int] = mapped_column(IdType, ForeignKey("subjects.id", ondelete="CASCADE"), primary_key=True)
    template: Mapped[str] = mapped_column(Text)
    verbalizers: Mapped[list[Any]] = mapped_column(JSON)
    llm_id: Mapped[int] = mapped_column(IdType, ForeignKey("models.id", ondelete="CASCADE"), index=True)

    __mapper_args__ = {"polymorphic_identity": "prompt", "polymorphic_load": "inline"}


class Tag(Base):
    """A list-valued tag: a subject may carry several values for one key."""

    __tablename__ = "tags"
    __table_args__ = (
        UniqueConstraint("subject_id", "key", "value"),
        Index("ix_tags_key_value", "key", "value"),
        AUTOINC,
    )

    id: Mapped[int] = id_column()
    subject_id: Mapped[int] = fk_column("subjects.id")
    key: Mapped[str] = mapped_column(String(100))
    value: Mapped[str] = mapped_column(String(300))
    subject: Mapped[Subject] = relationship(back_populates="tags")


class ProbeSet(Base):
    """FUTE's unlabelled probe pool U; immutable once an embedding space uses it."""

    __tablename__ = "probe_sets"
    __table_args__ = (AUTOINC,)

    id: Mapped[int] = id_column()
    name: Mapped[str] = mapped_column(String(200), unique=True)
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)
    n_texts: Mapped[int] = mapped_column(Integer)
    seed: Mapped[int | None] = mapped_column(Integer, nullable=True)
    sources: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ProbeText(Base):
    """One probe text (or text pair) at a fixed position in its probe set."""

    __tablename__ = "probe_texts"
    __table_args__ = (UniqueConstraint("probe_set_id", "position"), AUTOINC)

    id: Mapped[int] = id_column()
    probe_set_id: Mapped[int] = fk_column("probe_sets.id")
    position: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    text_pair: Mapped[str | None] = mapped_column(Text, nullable=True)


class EmbeddingSpace(Base):
    """One vector space: everything that changes vectors is hashed into its fingerprint."""

    __tablename__ = "embedding_spaces"
    __table_args__ = (AUTOINC,)

    id: Mapped[int] = id_column()
    name: Mapped[str] = mapped_column(String(200), unique=True)
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    surrogate: Mapped[str] = mapped_column(Text)
    method: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    dim: Mapped[int] = mapped_column(Integer)
    metric: Mapped[str] = mapped_column(String(16))
    index_type: Mapped[str] = mapped_column(String(32))
    probe_set_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("probe_sets.id", ondelete="RESTRICT"), nullable=True, index=True
    )
    # Bumped in the same transaction as every embedding write: the index snapshot records the
    # generation it reflects, so a lagging snapshot is detected on open.
    generation: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Embedding(Base):
    """A float32 vector of one subject in one space; rows are immutable (upsert = new row)."""

    __tablename__ = "embeddings"
    __table_args__ = (UniqueConstraint("space_id", "subject_id"), AUTOINC)

    id: Mapped[int] = id_column()
    space_id: Mapped[int] = fk_column("embedding_spaces.id")
    subject_id: Mapped[int] = fk_column("subjects.id")
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    provenance: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class BlackBoxOutput(Base):
    """Cached output (float32 scores) of a model or prompt+LLM on one probe text."""

    __tablename__ = "blackbox_outputs"
    __table_args__ = (UniqueConstraint("blackbox_id", "probe_text_id"), AUTOINC)

    id: Mapped[int] = id_column()
    blackbox_id: Mapped[int] = fk_column("subjects.id")
    probe_text_id: Mapped[int] = fk_column("probe_texts.id")
    output: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class TransferResult(Base):
    """A measured transfer score from a source task to a target task in some setting."""

    __tablename__ = "transfer_results"
    __table_args__ = (UniqueConstraint("source_id", "target_id", "setting", "origin"), AUTOINC)

    id: Mapped[int] = id_column()
    source_id: Mapped[int] = fk_column("subjects.id")
    target_id: Mapped[int] = fk_column("subjects.id")
    score: Mapped[float] = mapped_column(Float)
    setting: Mapped[str] = mapped_column(String(100), default="default")
    origin: Mapped[str] = mapped_column(String(200), default="user")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Job(Base):
    """A long-running job (ingestion, maintenance) with progress and its last error."""

    __tablename__ = "jobs"
    __table_args__ = (AUTOINC,)

    id: Mapped[int] = id_column()
    kind: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    n_total: Mapped[int] = mapped_column(Integer, default=0)
    n_done: Mapped[int] = mapped_column(Integer, default=0)
    n_failed: Mapped[int] = mapped_column(Integer, default=0)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class JobEntry(Base):
    """One unit of a job (e.g. one subject in one space), with its own status and failure reason."""

    __tablename__ = "job_entries"
    __table_args__ = (UniqueConstraint("job_id", "key"), AUTOINC)

    id: Mapped[int] = id_column()
    job_id: Mapped[int] = fk_column("jobs.id")
    key: Mapped[str] = mapped_column(String(600))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Leases (issue 8): a worker claims an entry until lease_until; a killed worker's entry is
    # reclaimed by another once the lease has expired; attempts bounds the retries.
    claimed_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class RegistryDefault(Base):
    """A registry-wide default that names a row, e.g. ``key="space"``: the space a command uses when
    it names none (``fute spaces default NAME``). The foreign key cascades, so deleting the space
    clears its default instead of leaving a dangling name."""

    __tablename__ = "registry_defaults"

    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    space_id: Mapped[int] = fk_column("embedding_spaces.id")


class RegistryCounter(Base):
    """A registry-wide counter that only grows, e.g. ``key="tag_removals"``: bumped in the transaction
    that removes tags, so the search filter cache (whose token is otherwise ``max(tags.id)``, which a
    removal does not move) sees the change (``registry.filter_index``)."""

    __tablename__ = "registry_counters"

    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)
