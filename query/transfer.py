"""Measured transfer results in: ``fute transfer import FILE.csv`` (source, target, score[, setting])."""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from registry.api import Registry
from registry.errors import InvalidDataError, SourceUnavailableError
from registry.validate import shown

REQUIRED = ("source", "target", "score")


def read_csv(path: Path) -> list[dict[str, Any]]:
    """Rows of a transfer CSV.

    Raises:
        SourceUnavailableError: Missing or non-UTF-8 file.
        InvalidDataError: Missing columns.
    """
    if not path.is_file():
        problem = f"{path} is a folder, not a file" if path.is_dir() else f"file not found: {path}"
        raise SourceUnavailableError(
            f"{problem}; pass a CSV file with columns source, target, score[, setting]"
        )
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


ON_CONFLICT = ("keep", "replace", "error")
MAX_SETTING, MAX_ORIGIN = 100, 200  # the column widths of transfer_results
Key = tuple[str, str, str]  # (source, target, setting)


@dataclass
class TransferImport:
    """What an import did.

    Attributes:
        rows: Rows given.
        stored: Rows written (new keys, or scores replaced).
        unchanged: Keys already stored with the same score, or kept under ``on_conflict="keep"``.
        duplicates: Rows that repeat a key given earlier in the input (same or another score).
        conflicts: ``source -> target [setting]: a vs b`` for every key with two different scores
            (within the input, or input against the stored row of the same origin).
        on_conflict: The policy applied.
    """

    rows: int
    stored: int
    unchanged: int
    duplicates: int
    conflicts: list[str] = field(default_factory=list)
    on_conflict: str = "replace"

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return dict(self.__dict__)

    def summary(self) -> str:
        """One line for the CLI."""
        text = f"imported {self.stored} transfer results ({self.unchanged} unchanged"
        if self.duplicates:
            text += f", {self.duplicates} duplicate rows"
        if self.conflicts:
            verb = "kept the first/stored score" if self.on_conflict == "keep" else "used the last score"
            text += f"; {len(self.conflicts)} conflicts, {verb}: {'; '.join(self.conflicts[:3])}"
        return text + ")"


def import_transfers(reg: Registry, rows: list[dict[str, Any]], origin: str = "user") -> int:
    """``import_transfer_rows`` with ``on_conflict="replace"``; returns the number of rows written."""
    return import_transfer_rows(reg, rows, origin).stored


def import_transfer_rows(
    reg: Registry, rows: list[dict[str, Any]], origin: str = "user", on_conflict: str = "replace"
) -> TransferImport:
    """Validate every row, resolve repeated keys, then store them all in one transaction (or none).

    Args:
        reg: Registry.
        rows: ``{"source", "target", "score", "setting"?}`` dicts; source and target are dataset names.
        origin: Where the numbers come from (e.g. ``taskweb``), 1-200 characters.
        on_conflict: A key given twice with different scores, or stored (same origin) with another
            score: ``keep`` the first / stored score, ``replace`` it with the last, or ``error``.

    Returns:
        What was stored, kept and found repeated.

    Raises:
        InvalidDataError: Unknown dataset names (listed), non-numeric or non-finite scores, a task
            paired with itself, a bad setting or origin, no rows, or conflicts under ``error``.
    """
    if on_conflict not in ON_CONFLICT:
        raise InvalidDataError(f"--on-conflict {on_conflict!r}: choose one of {', '.join(ON_CONFLICT)}")
    if not isinstance(origin, str) or not 1 <= len(origin) <= MAX_ORIGIN:
        raise InvalidDataError(f"origin {shown(origin)} must be a string of 1-{MAX_ORIGIN} characters")
    if not rows:
        raise InvalidDataError("no transfer rows to import")
    clean = [_row(i, r) for i, r in enumerate(rows)]
    known = reg.transfers.dataset_names()
    stored = reg.transfers.stored_scores(origin)
    unknown = sorted({name for row in clean for name in row[:2]} - known)
    if unknown:
        raise InvalidDataError(f"unknown datasets {unknown[:10]}; register them first (fute ingest dataset)")
    chosen, report = _resolve(clean, stored, on_conflict)
    if report.conflicts and on_conflict == "error":
        raise InvalidDataError(
            f"{len(report.conflicts)} conflicting transfer scores ({'; '.join(report.conflicts[:3])}); "
            "nothing imported; pass --on-conflict keep or replace, or fix the file"
        )
    reg.transfers.store_scores(chosen, origin)  # one transaction: every row or none
    return report


def _resolve(
    clean: list[tuple[str, str, float, str]], stored: dict[Key, float], on_conflict: str
) -> tuple[dict[Key, float], TransferImport]:
    """The score to write per key (only keys that change) and the report."""
    given: dict[Key, float] = {}
    conflicts: dict[Key, str] = {}
    duplicates = 0
    for source, target, score, setting in clean:
        key = (source, target, setting)
        if key in given:
            duplicates += 1
            if given[key] != score:
                conflicts[key] = f"{source} -> {target} [{setting}]: {given[key]:g} vs {score:g}"
            if on_conflict == "keep":
                continue
        given[key] = score
    chosen: dict[Key, float] = {}
    for key, score in given.items():
        old = stored.get(key)
        if old is not None and old != score:
            conflicts.setdefault(key, f"{key[0]} -> {key[1]} [{key[2]}]: stored {old:g} vs {score:g}")
        if old is None or (old != score and on_conflict != "keep"):
            chosen[key] = score
    report = TransferImport(
        rows=len(clean),
        stored=len(chosen),
        unchanged=len(given) - len(chosen),
        duplicates=duplicates,
        conflicts=list(conflicts.values()),
        on_conflict=on_conflict,
    )
    return chosen, report


def _row(i: int, row: dict[str, Any]) -> tuple[str, str, float, str]:
    if not isinstance(row, dict):
        raise InvalidDataError(f"row {i}: expected a mapping with source, target, score, got {shown(row)}")
    for key in ("source", "target"):
        if not isinstance(row.get(key), str) or not row[key]:
            raise InvalidDataError(f"row {i}: {key} {shown(row.get(key))} must be a dataset name")
    raw = row.get("score")
    try:
        if isinstance(raw, bool):
            raise TypeError("a boolean is not a score")
        score = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidDataError(f"row {i}: score {shown(raw)} is not a number") from exc
    if not math.isfinite(score):
        raise InvalidDataError(f"row {i}: score {shown(raw)} is not finite")
    if row["source"] == row["target"]:
        raise InvalidDataError(f"row {i}: {row['source']!r} cannot be its own transfer source")
    setting = row.get("setting") or "default"
    if not isinstance(setting, str) or len(setting) > MAX_SETTING:
        raise InvalidDataError(
            f"row {i}: setting {shown(setting)} must be a string of 1-{MAX_SETTING} characters"
        )
    return row["source"], row["target"], score, setting
