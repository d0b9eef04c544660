"""In-memory filter columns of one space: resolve a ``SearchFilter`` without asking SQL per query.

SQL stays the source of truth. The columns are a cache built from SQL for the ids of one loaded
FAISS index and stamped with a ``FilterToken``; the search path reads the current token (the space
generation it already reads, plus ``max(tags.id)`` and the ``tag_removals`` counter, two indexed
look-ups) and rebuilds the columns when it differs. Why that token is enough for every product write path:

* adding or deleting vectors (also deleting a subject that has vectors in the space) bumps the
  space generation in the same transaction;
* tag ids are never reused, so any new tag (``subjects.set_tags``) raises ``max(tags.id)``; a tag
  removed from a live subject (``fute tag --remove``, ``registry.edits.remove_tags``) bumps the
  ``tag_removals`` counter in the same transaction (a removal does not move ``max(tags.id)``, and
  bumping space generations would republish whole indexes); tags that disappear with their subject
  bump the generation of every space the subject had a vector in (subjects without a vector here
  never matter here);
* kind, task format, creation time and the subject of an embedding row never change (a rename
  changes only the name, which the columns do not hold).

Read the token *before* the rows, so a write that lands in between makes the token older than the
data (the next search rebuilds) and never newer.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt
from sqlalchemy import func, literal_column, select
from sqlalchemy.orm import Session

from registry.filters import SearchFilter
from registry.models import Dataset, Embedding, RegistryCounter, Subject, Tag

Mask = npt.NDArray[np.bool_]
Rows = npt.NDArray[np.int64]
TagPair = tuple[str, str]


@dataclass(frozen=True)
class FilterToken:
    """The SQL state a set of columns reflects.

    Attributes:
        generation: Space generation of the loaded index the columns were built for.
        max_tag_id: ``max(tags.id)`` read before the rows (0 with no tags).
        tag_removals: The ``tag_removals`` counter read before the rows (0 before any removal).
    """

    generation: int
    max_tag_id: int
    tag_removals: int


def read_max_tag_id(session: Session) -> int:
    """``max(tags.id)``: an index look-up on the primary key on SQLite and PostgreSQL."""
    return int(session.scalar(select(func.max(Tag.id))) or 0)


TAG_REMOVALS = "tag_removals"
# The key as a SQL literal, not a bound parameter: the search's freshness probe embeds this statement
# and binds only the space name, positionally.
TAG_REMOVALS_STMT = select(RegistryCounter.value).where(
    RegistryCounter.key == literal_column(f"'{TAG_REMOVALS}'")
)


def read_tag_removals(session: Session) -> int:
    """The ``tag_removals`` counter (a primary-key look-up; 0 before the first removal)."""
    return int(session.scalar(TAG_REMOVALS_STMT) or 0)


def to_micros(value: datetime) -> int:
    """A datetime as integer microseconds since the epoch; naive values are taken as UTC (that is
    how SQLite hands back the UTC times the registry stores)."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    delta = aware - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


@dataclass
class FilterColumns:
    """Per-embedding metadata of one space as numpy arrays, one row per embedding id (sorted).

    Attributes:
        token: The SQL state these columns reflect.
        ids: Embedding ids, sorted.
        subjects: Subject id of each row.
        kinds: Kind code of each row (index into ``kind_names``).
        formats: Task-format code of each row (-1: not a dataset).
        created: Subject creation time of each row, microseconds since the epoch.
        tags: Sorted row positions carrying each (key, value) tag.
        kind_names / format_names: Code of each kind / format name.
        subject_order: Rows in ascending subject id (computed when not given; persisted columns
            carry it so a fresh process need not sort).
    """

    token: FilterToken
    ids: Rows
    subjects: Rows
    kinds: npt.NDArray[np.int8]
    formats: npt.NDArray[np.int16]
    created: npt.NDArray[np.int64]
    tags: dict[TagPair, Rows]
    kind_names: dict[str, int]
    format_names: dict[str, int]
    subject_order: Rows | None = None

    def __post_init__(self) -> None:
        # Sorted subject ids with their rows: resolve subject-id lists by binary search.
        if self.subject_order is None:
            self.subject_order = np.argsort(self.subjects, kind="stable")
        self._subject_order: Rows = self.subject_order
        self._subjects_sorted = self.subjects[self._subject_order]

    @property
    def n(self) -> int:
        """Number of rows."""
        return len(self.ids)

    def rows_of_subjects(self, subject_ids: tuple[int, ...]) -> Rows:
        """Row positions of the given subjects (unknown subjects are skipped)."""
        wanted = np.asarray(subject_ids, dtype=np.int64)
        if self.n == 0 or len(wanted) == 0:
            return np.zeros(0, dtype=np.int64)
        # A subject has at most one vector per space, so an exact binary-search hit is its row.
        at = np.minimum(np.searchsorted(self._subjects_sorted, wanted), self.n - 1)
        found = at[self._subjects_sorted[at] == wanted]
        return sorted_unique(self._subject_order[found])

    def tag_rows(self, pair: TagPair) -> Rows:
        """Sorted rows carrying a tag (empty when no row does)."""
        return self.tags.get(pair, np.zeros(0, dtype=np.int64))


def build_columns(session: Session, space_id: int, index_ids: Rows, token: FilterToken) -> FilterColumns:
    """Read the filter metadata of the space's embeddings that are in the loaded index.

    Args:
        session: Open read session (read ``token`` in it before calling).
        space_id: The space.
        index_ids: Ids held by the loaded FAISS index (rows outside it can never be hits).
        token: The state read before the rows.

    Returns:
        The columns, one row per id known to both SQL and the index.
    """
    # Core tables, not the ORM classes: joined inheritance would alias ``datasets`` away.
    subjects, datasets = Subject.__table__, Dataset.__table__
    stmt = (
        select(
            Embedding.id, Embedding.subject_id, subjects.c.kind, datasets.c.task_format, subjects.c.created_at
        )
        .join(subjects, subjects.c.id == Embedding.subject_id)
        .outerjoin(datasets, datasets.c.id == Embedding.subject_id)
        .where(Embedding.space_id == space_id)
        .order_by(Embedding.id)
    )
    rows = session.execute(stmt).all()
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    keep = np.isin(ids, index_ids)
    rows = [r for r, k in zip(rows, keep.tolist(), strict=True) if k]
    kind_names = _codes(r[2] for r in rows)
    format_names = _codes(r[3] for r in rows if r[3] is not None)
    cols = FilterColumns(
        token=token,
        ids=ids[keep],
        subjects=np.fromiter((r[1] for r in rows), dtype=np.int64, count=len(rows)),
        kinds=np.fromiter((kind_names[r[2]] for r in rows), dtype=np.int8, count=len(rows)),
        formats=np.fromiter(
            (format_names[r[3]] if r[3] is not None else -1 for r in rows), dtype=np.int16, count=len(rows)
        ),
        created=np.fromiter((to_micros(r[4]) for r in rows), dtype=np.int64, count=len(rows)),
        tags={},
        kind_names=kind_names,
        format_names=format_names,
    )
    cols.tags = _tag_rows(session, space_id, cols)
    return cols


def _codes(names: object) -> dict[str, int]:
    """Dense codes of the distinct names, in sorted order."""
    return {name: code for code, name in enumerate(sorted(set(names)))}  # type: ignore[call-overload]


def sorted_unique(values: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """The distinct values, ascending (``np.unique`` for 1-D integers).

    ``np.unique`` imports ``numpy.ma`` on first use (14 ms), which a fresh process's first filtered
    query would pay; sorting and dropping repeats needs nothing beyond the core.

    Args:
        values: A 1-D integer array.

    Returns:
        A new sorted array without repeats.
    """
    out = np.sort(values)
    if out.size:
        out = out[np.concatenate(([True], out[1:] != out[:-1]))]
    return out


def _tag_rows(session: Session, space_id: int, cols: FilterColumns) -> dict[TagPair, Rows]:
    """Sorted row positions of every (key, value) tag of the space's subjects.

    Vectorised: one binary search over all tag rows, one sort by (pair, row), one split; a Python
    loop per tag row cost 2.4 s of the 3.4 s build at 100k subjects.
    """
    in_space = select(Embedding.subject_id).where(Embedding.space_id == space_id)
    stmt = select(Tag.subject_id, Tag.key, Tag.value).where(Tag.subject_id.in_(in_space))
    rows = session.execute(stmt).all()
    if not rows or cols.n == 0:
        return {}
    codes: dict[TagPair, int] = {}
    code = np.fromiter((codes.setdefault((r[1], r[2]), len(codes)) for r in rows), np.int64, len(rows))
    subjects = np.fromiter((r[0] for r in rows), np.int64, len(rows))
    at = np.minimum(np.searchsorted(cols._subjects_sorted, subjects), cols.n - 1)
    ok = cols._subjects_sorted[at] == subjects
    code, pos = code[ok], cols._subject_order[at[ok]]
    order = np.lexsort((pos, code))
    code, pos = code[order], pos[order]
    bounds = np.flatnonzero(np.diff(code)) + 1
    pairs = {c: pair for pair, c in codes.items()}
    return {
        pairs[int(part_codes[0])]: sorted_unique(part)
        for part_codes, part in zip(np.split(code, bounds), np.split(pos, bounds), strict=True)
        if len(part)
    }


def merge_new_tags(session: Session, cols: FilterColumns, token: FilterToken) -> FilterColumns | None:
    """Columns brought forward to ``token`` by merging tags added since ``cols.token``.

    Valid only when nothing but tag additions happened in between: the same generation and the
    same removal count, and a ``max(tags.id)`` that only grew (tag ids are never reused, so the new
    tags are exactly those above the old maximum: a primary-key range).

    Returns:
        New columns stamped with ``token`` (arrays shared with ``cols`` where unchanged), or None
        when ``token`` is not reachable from ``cols.token`` by tag additions alone.
    """
    old = cols.token
    if (old.generation, old.tag_removals) != (token.generation, token.tag_removals):
        return None
    if token.max_tag_id < old.max_tag_id:
        return None
    stmt = select(Tag.subject_id, Tag.key, Tag.value).where(
        Tag.id > old.max_tag_id, Tag.id <= token.max_tag_id
    )
    added: dict[TagPair, list[int]] = {}
    for subject_id, key, value in session.execute(stmt):
        rows = cols.rows_of_subjects((int(subject_id),))
        if len(rows):  # a subject without a vector here never matters here
            added.setdefault((key, value), []).append(int(rows[0]))
    tags = dict(cols.tags)
    for pair, rows_added in added.items():
        tags[pair] = sorted_unique(np.concatenate([cols.tag_rows(pair), np.asarray(rows_added, np.int64)]))
    return replace(cols, token=token, tags=tags)


def resolve(cols: FilterColumns, flt: SearchFilter, skip: TagPair | None = None) -> Mask | None:
    """Rows passing a filter, as a boolean mask over ``cols`` rows; None when every row passes.

    Args:
        cols: The space's columns.
        flt: The filter (same semantics as ``registry.filters.allowed_embedding_ids``).
        skip: A ``tags_all`` pair the caller already restricts to (its partition); not re-checked.

    Returns:
        A mask of shape (n,), or None for "no constraint".
    """
    mask: Mask | None = None

    def both(part: Mask) -> None:
        nonlocal mask
        mask = part if mask is None else (mask & part)

    if flt.kinds:
        both(np.isin(cols.kinds, [cols.kind_names[k] for k in flt.kinds if k in cols.kind_names]))
    if flt.formats:
        both(np.isin(cols.formats, [cols.format_names[f] for f in flt.formats if f in cols.format_names]))
    if flt.subject_ids is not None:
        both(_rows_mask(cols.n, cols.rows_of_subjects(flt.subject_ids)))
    if flt.exclude_subject_ids:
        both(~_rows_mask(cols.n, cols.rows_of_subjects(flt.exclude_subject_ids)))
    if flt.created_after is not None:
        both(cols.created >= to_micros(flt.created_after))
    if flt.created_before is not None:
        both(cols.created <= to_micros(flt.created_before))
    for pair in flt.tags_all:
        if pair != skip:
            both(_rows_mask(cols.n, cols.tag_rows(pair)))
    if flt.tags_any:
        both(_rows_mask(cols.n, np.concatenate([cols.tag_rows(p) for p in flt.tags_any])))
    return mask


def _rows_mask(n: int, rows: Rows) -> Mask:
    """A boolean mask of length n, True at ``rows``."""
    mask = np.zeros(n, dtype=np.bool_)
    mask[rows] = True
    return mask
