"""Published index snapshots: atomic files and the manifest that commits them.

Protocol (one writer per space, holding ``write.lock`` in the space's folder):

1. write ``index.<gen>.faiss.tmp`` in the space folder, fsync, ``os.replace`` to ``index.<gen>.faiss``;
2. write ``manifest.json.tmp`` (fingerprint, dim, metric, ntotal, generation, sha256), fsync,
   ``os.replace`` to ``manifest.json``; fsync the folder. Replacing the manifest is the single
   commit point: readers only ever open the file the manifest names, checked by its sha256;
3. delete index files of older generations.

A crash before step 2 leaves the old manifest pointing at the old, intact file.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from registry.errors import IndexCorruptError

MANIFEST = "manifest.json"
LOCK = "write.lock"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class Manifest:
    """What a published snapshot holds and which SQL state it reflects."""

    space_id: int
    fingerprint: str
    dim: int
    metric: str
    index_type: str
    ntotal: int
    generation: int
    file: str
    sha256: str
    format: int = FORMAT_VERSION
    size: int = -1  # bytes of the index file (-1 in manifests written before it was recorded)

    def to_json(self) -> bytes:
        """Canonical JSON bytes."""
        return json.dumps(asdict(self), sort_keys=True, indent=1).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Manifest:
        """Parse a manifest.

        Raises:
            IndexCorruptError: Not JSON, or fields missing / of the wrong type.
        """
        try:
            data: dict[str, Any] = json.loads(raw)
            manifest = cls(**data)
        except (ValueError, TypeError) as exc:
            raise IndexCorruptError(f"manifest is unreadable ({exc}); run `fute maintain rebuild`") from exc
        if manifest.format != FORMAT_VERSION:
            raise IndexCorruptError(f"manifest format {manifest.format} is not {FORMAT_VERSION}; rebuild")
        return manifest


def sha256(data: bytes) -> str:
    """Hex sha256 of bytes."""
    return hashlib.sha256(data).hexdigest()


def fsync_dir(folder: Path) -> None:
    """Make a rename inside ``folder`` durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, tmp_name: str | None = None) -> None:
    """Write ``data`` to ``path`` via a fsynced temp file in the same folder and ``os.replace``.

    Args:
        path: The target.
        data: Its bytes.
        tmp_name: The temp file's name (default ``<name>.tmp``; writers that may race need their own).
    """
    tmp = path.with_name(tmp_name or path.name + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def index_file_name(generation: int) -> str:
    """File name of the snapshot of one generation."""
    return f"index.{generation}.faiss"


def read_manifest(folder: Path) -> Manifest | None:
    """The published manifest, or None when there is none.

    Raises:
        IndexCorruptError: The manifest exists but cannot be parsed.
    """
    path = folder / MANIFEST
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    return Manifest.from_json(raw)


def read_index_bytes(folder: Path, manifest: Manifest) -> bytes:
    """Bytes of the index file the manifest names, checked against its sha256.

    Raises:
        IndexCorruptError: The file is missing or its checksum differs.
    """
    path = folder / manifest.file
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        # Also the normal race of a reader with a writer: the manifest we read was replaced and its
        # file removed before we opened it; callers re-read the manifest on this error.
        raise IndexCorruptError(
            f"{path} named by the manifest is missing; run `fute maintain rebuild`"
        ) from None
    if sha256(data) != manifest.sha256:
        raise IndexCorruptError(f"{path} checksum differs from its manifest; run `fute maintain rebuild`")
    return data


def publish(folder: Path, manifest: Manifest, data: bytes, hook: Any = None) -> None:
    """Publish a snapshot: index file first, then the manifest (the commit point).

    Args:
        folder: The space's index folder (created if needed).
        manifest: The manifest to commit; ``file`` and ``sha256`` must describe ``data``.
        data: Serialised index bytes.
        hook: Optional ``callable(step_name)`` for crash-injection tests.
    """
    folder.mkdir(parents=True, exist_ok=True)
    _step(hook, "before_index_write")
    atomic_write(folder / manifest.file, data)
    _step(hook, "after_index_write")
    atomic_write(folder / MANIFEST, manifest.to_json())
    fsync_dir(folder)
    _step(hook, "after_manifest_write")
    remove_stale_files(folder, keep=manifest.file)


def map_index(folder: Path, manifest: Manifest) -> Any:
    """Open the index file the manifest names memory-mapped and read-only, without hashing it.

    Hashing costs a full read (1.5 GB at 1M x 384) on every process start; a mapped open reads
    only the pages a search touches. The file's size is checked against the manifest; the full
    checksum stays with in-memory loads and ``fute maintain verify``.

    Raises:
        IndexCorruptError: The file is missing or its size differs from the manifest's.
        RuntimeError: FAISS could not parse the file.
    """
    from registry import faiss_index as fx  # faiss only where an index is opened

    path = folder / manifest.file
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise IndexCorruptError(
            f"{path} named by the manifest is missing; run `fute maintain rebuild`"
        ) from None
    if manifest.size >= 0 and size != manifest.size:
        raise IndexCorruptError(f"{path} size differs from its manifest; run `fute maintain rebuild`")
    return fx.read_mmap(str(path))


def filters_file_name(generation: int) -> str:
    """File name of the persisted filter columns of one generation (``registry.filter_store``)."""
    return f"filters.{generation}.fcol"


def filters_file_generation(name: str) -> int | None:
    """The generation in a persisted filter-columns file name (``filters.<gen>.fcol``), else None."""
    parts = name.split(".")
    if len(parts) == 3 and parts[0] == "filters" and parts[2] == "fcol" and parts[1].isdigit():
        return int(parts[1])
    return None


def remove_stale_files(folder: Path, keep: str | None) -> list[str]:
    """Delete stray ``*.tmp`` files, index files other than ``keep`` and persisted filter columns
    of other generations than ``keep``'s (caller holds the lock).

    Returns:
        Names of the deleted files.
    """
    keep_gen = int(keep.split(".")[1]) if keep else None
    removed = []
    for path in folder.iterdir():
        gen = filters_file_generation(path.name)
        stale_filters = gen is not None and gen != keep_gen
        stale_index = (path.name.startswith("index.") and path.name != keep) or stale_filters
        if path.name.endswith(".tmp") or stale_index:
            path.unlink(missing_ok=True)
            removed.append(path.name)
    return removed


def _step(hook: Any, name: str) -> None:
    if hook is not None:
        hook(name)
