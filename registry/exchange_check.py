"""Checks of an export's rows before ``fute import`` writes any of them.

A checksum-consistent export can still hold rows this registry cannot use: a vector of the wrong
byte length or with NaN values, an embedding of an unknown space, repeated ids. Inserted as they
are, they committed and only the index rebuild afterwards failed, leaving a registry that could be
neither queried, rebuilt nor re-imported. Everything is checked here first, so a refusal leaves the
target exactly as it was.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pyarrow as pa

from registry.errors import InvalidDataError


def check_export(data: dict[str, pa.Table]) -> None:
    """Validate ids, references, vectors and scores of every table of an export.

    Args:
        data: Table name -> its rows as read from the export's Parquet file.

    Raises:
        InvalidDataError: The first problem found (table, row id, what is wrong); nothing is written.
    """
    for name, table in data.items():
        if "id" in table.column_names:
            _unique(name, table.column("id").to_pylist())
    subjects = set(_column(data, "subjects", "id"))
    spaces = {
        sid: (dim, metric)
        for sid, dim, metric in zip(
            _column(data, "embedding_spaces", "id"),
            _column(data, "embedding_spaces", "dim"),
            _column(data, "embedding_spaces", "metric"),
            strict=True,
        )
    }
    _check_embeddings(data.get("embeddings"), subjects, spaces)
    _check_transfers(data.get("transfer_results"), subjects)


def _column(data: dict[str, pa.Table], table: str, column: str) -> list[Any]:
    if table not in data or column not in data[table].column_names:
        return []
    return list(data[table].column(column).to_pylist())


def _unique(table: str, ids: list[Any]) -> None:
    repeated = [i for i, n in Counter(ids).items() if n > 1]
    if repeated or any(i is None for i in ids):
        raise InvalidDataError(f"table {table}: ids repeated or missing ({repeated[:5]}); export again")


def _check_embeddings(table: pa.Table | None, subjects: set[Any], spaces: dict[Any, tuple[int, str]]) -> None:
    if table is None or table.num_rows == 0:
        return
    rows = table.select(["id", "space_id", "subject_id", "vector"]).to_pylist()
    seen: set[tuple[Any, Any]] = set()
    for row in rows:
        where = f"embeddings row {row['id']}"
        if row["space_id"] not in spaces or row["subject_id"] not in subjects:
            raise InvalidDataError(f"{where}: refers to a space or subject the export lacks; export again")
        if (row["space_id"], row["subject_id"]) in seen:
            raise InvalidDataError(f"{where}: a second vector of one subject in one space; export again")
        seen.add((row["space_id"], row["subject_id"]))
        dim, metric = spaces[row["space_id"]]
        blob = row["vector"] or b""
        if len(blob) != 4 * int(dim):
            raise InvalidDataError(f"{where}: vector has {len(blob)} bytes, its space needs {4 * int(dim)}")
        vec = np.frombuffer(blob, dtype="<f4")
        if not np.isfinite(vec).all():
            raise InvalidDataError(f"{where}: vector holds NaN or infinite values; export again")
        if metric == "cosine" and not np.any(vec):
            raise InvalidDataError(f"{where}: zero vector in a cosine space; export again")


def _check_transfers(table: pa.Table | None, subjects: set[Any]) -> None:
    if table is None or table.num_rows == 0:
        return
    for row in table.select(["id", "source_id", "target_id", "score"]).to_pylist():
        if row["source_id"] not in subjects or row["target_id"] not in subjects:
            raise InvalidDataError(
                f"transfer_results row {row['id']}: unknown source or target; export again"
            )
        if row["score"] is None or not np.isfinite(row["score"]):
            raise InvalidDataError(f"transfer_results row {row['id']}: score is not finite; export again")
