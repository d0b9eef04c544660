"""``fute export DIR`` / ``fute import DIR``: the catalogue as Parquet tables plus a manifest.

An export is one Parquet file per table (``<table>.parquet``, every row with its id) and
``manifest.json``: format, schema revision, source backend, and per table the file, row count and
sha256. FAISS indexes are not exported: they are caches, rebuilt from SQL after an import, and
since ids are kept the rebuilt indexes answer every query exactly as the source did.

Column encoding: integers int64, floats float64, text string, vectors and black-box outputs
binary (the stored little-endian float32 bytes, untouched), times timestamp[us, UTC], JSON
columns as their JSON text (so any JSON value survives, whatever the backend).

Safe to interrupt. Export reads every table in one snapshot transaction (REPEATABLE READ on
PostgreSQL, one WAL read transaction on SQLite), writes each file through a temp file and writes
the manifest last: a folder without ``manifest.json`` is an unfinished export that a re-run
overwrites. Import checks everything (manifest, revision, checksums, an empty target) before it
stores anything, inserts all rows in one transaction (all or nothing), then rebuilds the indexes;
an import killed after its commit is finished by ``fute maintain rebuild``.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import JSON, DateTime, Float, Integer, LargeBinary, Table, func, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from registry import snapshot as snap
from registry.db import head_revision
from registry.errors import AlreadyExistsError, InvalidDataError, SchemaOutdatedError, SourceUnavailableError
from registry.exchange_check import check_export
from registry.models import Base

if TYPE_CHECKING:  # the facade imports this module's siblings; avoid an import cycle at runtime
    from registry.api import Registry

MANIFEST = "manifest.json"
FORMAT = "fute-export"
VERSION = 1
_BATCH = 1000


def tables() -> list[Table]:
    """Every catalogue table, parents before children (the insertion order)."""
    return list(Base.metadata.sorted_tables)


def export_registry(reg: Registry, folder: Path) -> dict[str, Any]:
    """Write every table to ``folder`` as Parquet, then the manifest.

    Args:
        reg: The registry to export.
        folder: Target folder: new, empty, or an unfinished export (no manifest).

    Returns:
        The manifest (also written to ``folder/manifest.json``).

    Raises:
        AlreadyExistsError: The folder holds a finished export or unrelated files.
    """
    _check_target(folder)
    folder.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "schema_revision": head_revision(),
        "backend": reg.db.backend,
        "created_at": datetime.now(UTC).isoformat(),
        "tables": {},
    }
    with _snapshot_session(reg) as session:
        for table in tables():
            data = _table_to_arrow(session, table)
            path = folder / f"{table.name}.parquet"
            pq.write_table(data, path.with_name(path.name + ".tmp"))
            os.replace(path.with_name(path.name + ".tmp"), path)
            digest = snap.sha256(path.read_bytes())
            manifest["tables"][table.name] = {"file": path.name, "rows": data.num_rows, "sha256": digest}
    snap.atomic_write(folder / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True).encode())
    return manifest


def _check_target(folder: Path) -> None:
    if not folder.exists():
        return
    if not folder.is_dir():
        raise AlreadyExistsError(f"{folder} is a file; export into a new or empty folder")
    names = {p.name for p in folder.iterdir()}
    if MANIFEST in names:
        raise AlreadyExistsError(f"{folder} already holds an export; choose a new or empty folder")
    foreign = [n for n in names if not (n.endswith(".parquet") or n.endswith(".parquet.tmp"))]
    if foreign:
        raise AlreadyExistsError(
            f"{folder} holds other files ({', '.join(sorted(foreign)[:3])}); choose a new or empty folder"
        )


def _snapshot_session(reg: Registry) -> Session:
    """A session whose reads all see one consistent state of the database."""
    engine = reg.db.engine
    if reg.db.backend == "postgresql":  # READ COMMITTED would let each table see another state
        engine = engine.execution_options(isolation_level="REPEATABLE READ")
    return Session(engine)


def _arrow_type(column: Any) -> pa.DataType:
    kind = column.type
    if isinstance(kind, JSON):
        return pa.string()
    if isinstance(kind, LargeBinary):
        return pa.binary()
    if isinstance(kind, DateTime):
        return pa.timestamp("us", tz="UTC")
    if isinstance(kind, Float):
        return pa.float64()
    if isinstance(kind, Integer):
        return pa.int64()
    return pa.string()


def _encode(column: Any, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(column.type, JSON):
        return json.dumps(value, sort_keys=True)
    if isinstance(value, memoryview):
        return bytes(value)
    if isinstance(value, datetime) and value.tzinfo is None:  # SQLite returns naive UTC times
        return value.replace(tzinfo=UTC)
    return value


def _table_to_arrow(session: Session, table: Table) -> pa.Table:
    columns = list(table.columns)
    rows = session.execute(select(table).order_by(*table.primary_key.columns)).all()
    arrays = {
        c.name: pa.array([_encode(c, r._mapping[c]) for r in rows], type=_arrow_type(c)) for c in columns
    }
    return pa.table(arrays, schema=pa.schema([pa.field(c.name, _arrow_type(c)) for c in columns]))


def import_registry(reg: Registry, folder: Path) -> dict[str, Any]:
    """Load an export into an empty registry (same schema revision), then rebuild its indexes.

    Args:
        reg: An initialised, empty registry.
        folder: A folder written by ``export_registry``.

    Returns:
        ``{"tables": {name: rows}, "rebuilt": [space names]}``.

    Raises:
        SourceUnavailableError: No export at ``folder``.
        InvalidDataError: Malformed manifest, missing file or checksum mismatch.
        SchemaOutdatedError: The export was made at another schema revision.
        AlreadyExistsError: The target registry is not empty.
    """
    manifest = read_manifest(folder)
    data = {name: pq.read_table(folder / entry["file"]) for name, entry in manifest["tables"].items()}
    check_export(data)  # before the first write: a refusal leaves the target as it was
    try:
        with reg.db.transaction() as session:
            _check_empty(session)
            for table in tables():
                _insert_rows(session, table, data[table.name])
            if reg.db.backend == "postgresql":
                _advance_sequences(session)
    except IntegrityError as exc:  # a constraint the checks above do not cover; rolled back
        first = str(exc.orig).splitlines()[0] if exc.orig is not None else "constraint failed"
        raise InvalidDataError(
            f"the export breaks a constraint ({first}); nothing imported; export again"
        ) from exc
    rebuilt = reg.rebuild()
    return {"tables": {name: t.num_rows for name, t in data.items()}, "rebuilt": rebuilt}


def read_manifest(folder: Path) -> dict[str, Any]:
    """The manifest of an export, with every file's checksum verified.

    Raises:
        SourceUnavailableError, InvalidDataError, SchemaOutdatedError: See ``import_registry``.
    """
    path = folder / MANIFEST
    if not path.is_file():
        raise SourceUnavailableError(
            f"no export at {folder} ({MANIFEST} missing); pass a folder made by `fute export`"
        )
    try:
        manifest: dict[str, Any] = json.loads(path.read_bytes())
        entries = dict(manifest["tables"])
        revision = manifest["schema_revision"]
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidDataError(f"{path} is not a valid export manifest ({exc}); export again") from exc
    if manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
        raise InvalidDataError(
            f"{path} is not a {FORMAT} v{VERSION} manifest; export again with this version"
        )
    if revision != head_revision():
        raise SchemaOutdatedError(
            f"the export is at schema revision {revision}, this registry at {head_revision()}; "
            "import with the fute version that made it, upgrade, and export again"
        )
    expected = {t.name for t in tables()}
    if set(entries) != expected:
        raise InvalidDataError(
            f"{path} lists tables {sorted(entries)}, expected {sorted(expected)}; export again"
        )
    for name, entry in entries.items():
        _check_file(folder, name, entry)
    return manifest


def _check_file(folder: Path, name: str, entry: dict[str, Any]) -> None:
    # The manifest names files; never let it point outside the export folder.
    if entry.get("file") != f"{name}.parquet":
        raise InvalidDataError(
            f"manifest entry of table {name!r} names {entry.get('file')!r}; expected {name}.parquet"
        )
    file = folder / entry["file"]
    if not file.is_file():
        raise InvalidDataError(f"{file} is missing from the export; copy the whole export folder")
    if snap.sha256(file.read_bytes()) != entry.get("sha256"):
        raise InvalidDataError(
            f"{file} does not match its checksum in {MANIFEST}; the export is damaged, export again"
        )


def _check_empty(session: Session) -> None:
    for table in tables():
        n = int(session.scalar(select(func.count()).select_from(table)) or 0)
        if n:
            raise AlreadyExistsError(
                f"the target registry is not empty (table {table.name} has {n} rows); "
                "import into a fresh registry (`fute --home NEW init`)"
            )


def _decode(column: Any, value: Any) -> Any:
    if value is not None and isinstance(column.type, JSON):
        return json.loads(value)
    return value


def _insert_rows(session: Session, table: Table, data: pa.Table) -> None:
    names = {c.name for c in table.columns}
    if set(data.column_names) != names:
        raise InvalidDataError(
            f"table {table.name}: columns {sorted(data.column_names)} do not match {sorted(names)}; export again"
        )
    columns = list(table.columns)
    for batch in data.to_batches(max_chunksize=_BATCH):
        values = batch.to_pydict()
        rows = [{c.name: _decode(c, values[c.name][i]) for c in columns} for i in range(batch.num_rows)]
        if rows:
            session.execute(insert(table), rows)


def _advance_sequences(session: Session) -> None:
    """Move PostgreSQL identity sequences past the imported ids (ids are never reused)."""
    for table in tables():
        if "id" not in table.columns:
            continue
        top = session.scalar(select(func.max(table.c.id)))
        if top is not None:
            session.execute(
                text("SELECT setval(pg_get_serial_sequence(:t, 'id'), :v)"), {"t": table.name, "v": int(top)}
            )
