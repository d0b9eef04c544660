"""``fute maintain verify`` for persisted filter columns: each file must parse, pass its checksum,
belong to the published generation, and hold exactly what SQL holds for the state it records."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from registry import faiss_index as fx
from registry import filter_store
from registry.filter_index import (
    FilterColumns,
    FilterToken,
    build_columns,
    merge_new_tags,
    read_max_tag_id,
    read_tag_removals,
)
from registry.snapshot import filters_file_generation

_FIX = "delete it or run `fute maintain rebuild`"


def check_filters(session: Session, name: str, folder: Path, generation: int, index: Any) -> list[str]:
    """Problems of the persisted filter columns in one space folder.

    Args:
        session: A read session.
        name: The space's name (for messages).
        folder: The space's index folder.
        generation: Generation of the published snapshot.
        index: The published index (its ids bound the columns).

    Returns:
        One line per problem; a file of an older tag state that tag additions explain is fine (the
        next search merges them), one that only a rebuild explains is reported.
    """
    problems = []
    for path in sorted(folder.glob("filters.*")):
        gen = filters_file_generation(path.name)
        if gen is None or gen != generation:
            problems.append(f"space {name!r}: stray file {path}")
            continue
        stored = filter_store.load(folder, gen)
        if stored is None:
            problems.append(f"space {name!r}: {path} is unreadable or fails its checksum; {_FIX}")
            continue
        token = FilterToken(gen, read_max_tag_id(session), read_tag_removals(session))
        current = stored if stored.token == token else merge_new_tags(session, stored, token)
        if current is None:
            continue  # older than a tag removal: never used, replaced on the next filtered search
        fresh = build_columns(session, _space_id(folder), fx.all_ids(index), token)
        if not same_columns(current, fresh):
            problems.append(f"space {name!r}: {path} differs from SQL; {_FIX}")
    return problems


def _space_id(folder: Path) -> int:
    return int(folder.name.removeprefix("space-"))


def same_columns(a: FilterColumns, b: FilterColumns) -> bool:
    """True when two column sets hold the same rows, codes and tag partitions."""
    arrays = ("ids", "subjects", "created")
    if any(not np.array_equal(getattr(a, x), getattr(b, x)) for x in arrays):
        return False
    if _decoded(a.kinds, a.kind_names) != _decoded(b.kinds, b.kind_names):
        return False
    if _decoded(a.formats, a.format_names) != _decoded(b.formats, b.format_names):
        return False
    pairs = set(a.tags) | set(b.tags)
    return all(np.array_equal(a.tag_rows(p), b.tag_rows(p)) for p in pairs)


def _decoded(codes: Any, names: dict[str, int]) -> list[str | None]:
    by_code = {c: n for n, c in names.items()}
    return [by_code.get(int(c)) for c in codes]
