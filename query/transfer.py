"""Measured transfer results in: ``fute transfer import FILE.csv`` (source, target, score[, setting])."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

from sqlalchemy import select

from registry.api import Registry
from registry.catalog import record_transfer
from registry.errors import InvalidDataError, SourceUnavailableError
from registry.models import Dataset

REQUIRED = ("source", "target", "score")


def read_csv(path: Path) -> list[dict[str, Any]]:
    """Rows of a transfer CSV.

    Raises:
        SourceUnavailableError: Missing or non-UTF-8 file.
        InvalidDataError: Missing columns.
    """
    if not path.is_file():
        raise SourceUnavailableError(f"file not found: {path}; check the path")
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
            if missing:
                raise InvalidDataError(
                    f"{path.name} lacks columns {missing}; it needs source, target, score[, setting] "
                    f"(columns seen: {', '.join(reader.fieldnames or []) or 'none'})"
                )
            return list(reader)
    except UnicodeDecodeError as exc:
        raise SourceUnavailableError(f"{path} is not UTF-8 text; re-save it as UTF-8") from exc


def import_transfers(reg: Registry, rows: list[dict[str, Any]], origin: str = "user") -> int:
    """Validate every row, then store them all in one transaction (or none).

    Args:
        reg: Registry.
        rows: ``{"source", "target", "score", "setting"?}`` dicts; source and target are dataset names.
        origin: Where the numbers come from (e.g. ``taskweb``).

    Returns:
        Number of rows stored (a re-import updates scores in place).

    Raises:
        InvalidDataError: Unknown dataset names (listed), non-numeric or non-finite scores, a task
            paired with itself, or no rows.
    """
    if not rows:
        raise InvalidDataError("no transfer rows to import")
    with reg.db.read() as session:
        known = set(session.scalars(select(Dataset.name)))
    unknown = sorted({str(r.get(k)) for r in rows for k in ("source", "target")} - known)
    if unknown:
        raise InvalidDataError(f"unknown datasets {unknown[:10]}; register them first (fute ingest dataset)")
    clean = [_row(i, r) for i, r in enumerate(rows)]
    with reg.db.transaction() as session:
        ids = dict(session.execute(select(Dataset.name, Dataset.id)).all())
        for source, target, score, setting in clean:
            record_transfer(
                session,
                session.get_one(Dataset, ids[source]),
                session.get_one(Dataset, ids[target]),
                score,
                setting,
                origin,
            )
    return len(clean)


def _row(i: int, row: dict[str, Any]) -> tuple[str, str, float, str]:
    try:
        score = float(row["score"])
    except (TypeError, ValueError) as exc:
        raise InvalidDataError(f"row {i}: score {row.get('score')!r} is not a number") from exc
    if not math.isfinite(score):
        raise InvalidDataError(f"row {i}: score {row.get('score')!r} is not finite")
    if row["source"] == row["target"]:
        raise InvalidDataError(f"row {i}: {row['source']!r} cannot be its own transfer source")
    return str(row["source"]), str(row["target"]), score, str(row.get("setting") or "default")
