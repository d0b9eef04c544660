"""Filter columns persisted beside a space's index snapshot, so a fresh process need not scan SQL.

Building ``FilterColumns`` from SQL reads one row per embedding and one per tag: 24 s at 1M rows.
Whoever builds them (any process, on its first filtered search, or ``fute maintain rebuild``) also
writes them to ``filters.<generation>.fcol`` in the space's index folder; the next process maps
that file instead. The file is a cache of SQL, like the snapshot beside it:

* it records the ``FilterToken`` it reflects and is trusted only for that token's generation; a
  file whose generation differs from the loaded index is never read;
* a newer ``max(tags.id)`` with the same generation and tag-removal count means tags were only
  *added*: those rows (``tags.id`` above the recorded maximum, a primary-key range) are merged in,
  and the file is rewritten; any other difference rebuilds from SQL;
* it is written through a temp file and ``os.replace`` (a crash leaves the old file or none, never
  a torn one), and carries the sha256 of its body, checked on every load;
* the writer's clean-up after publishing a new generation deletes files of older generations.

Layout: the magic line, an 8-byte little-endian header length, a JSON header, then the arrays,
each starting at a multiple of 64 bytes, read as views of one memory map.
"""

from __future__ import annotations

import hashlib
import json
import mmap
import os
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from registry.filter_index import FilterColumns, FilterToken, TagPair
from registry.snapshot import atomic_write, filters_file_name

MAGIC = b"FUTE-FCOL 1\n"
_ALIGN = 64
_ARRAYS = ("ids", "subjects", "kinds", "formats", "created", "subject_order", "tag_rows")


def file_name(generation: int) -> str:
    """File name of the persisted columns of one generation."""
    return filters_file_name(generation)


def save(folder: Path, cols: FilterColumns) -> Path | None:
    """Write the columns atomically; returns the path, or None when the folder is not writable.

    Args:
        folder: The space's index folder.
        cols: Columns as built for ``cols.token``.
    """
    pairs = sorted(cols.tags)
    rows = [cols.tags[p] for p in pairs]
    arrays: dict[str, npt.NDArray[Any]] = {
        "ids": cols.ids,
        "subjects": cols.subjects,
        "kinds": cols.kinds,
        "formats": cols.formats,
        "created": cols.created,
        "subject_order": cols._subject_order.astype(np.int64),
        "tag_rows": np.concatenate(rows).astype(np.int64) if rows else np.zeros(0, dtype=np.int64),
    }
    body, layout = _pack(arrays)
    header = {
        "token": [cols.token.generation, cols.token.max_tag_id, cols.token.tag_removals],
        "kind_names": cols.kind_names,
        "format_names": cols.format_names,
        "pairs": [[k, v, len(r)] for (k, v), r in zip(pairs, rows, strict=True)],
        "arrays": layout,
        "sha256": hashlib.sha256(body).hexdigest(),
    }
    head = json.dumps(header, sort_keys=True).encode()
    prefix = MAGIC + len(head).to_bytes(8, "little") + head
    pad = b"\0" * (-len(prefix) % _ALIGN)
    path = folder / file_name(cols.token.generation)
    tmp_name = f"{path.name}.{os.getpid()}.tmp"  # one temp file per process: readers may race
    try:
        atomic_write(path, prefix + pad + body, tmp_name)
    except OSError:  # a cache: a read-only folder, or a writer's clean-up took the temp file
        (folder / tmp_name).unlink(missing_ok=True)
        return None
    return path


def _pack(arrays: dict[str, npt.NDArray[Any]]) -> tuple[bytes, dict[str, list[Any]]]:
    """Concatenate arrays at aligned offsets; returns the body and {name: [offset, dtype, count]}."""
    parts, layout, at = [], {}, 0
    for name in _ARRAYS:
        arr = np.ascontiguousarray(arrays[name])
        raw = arr.tobytes()
        layout[name] = [at, arr.dtype.str, int(arr.size)]
        parts.append(raw + b"\0" * (-len(raw) % _ALIGN))
        at += len(parts[-1])
    return b"".join(parts), layout


def load(folder: Path, generation: int) -> FilterColumns | None:
    """The persisted columns of one generation, or None when absent, torn or failing its checksum.

    The arrays are read-only views of a memory map (the map lives as long as they do).
    """
    path = folder / file_name(generation)
    try:
        with open(path, "rb") as fh:
            mapped = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError):  # absent, or empty (mmap refuses zero bytes)
        return None
    try:
        return _parse(mapped, generation)
    except (ValueError, KeyError, TypeError, IndexError):
        return None


def _parse(mapped: mmap.mmap, generation: int) -> FilterColumns | None:
    """Columns from a mapped file (None when its magic, token or checksum is wrong)."""
    if mapped[: len(MAGIC)] != MAGIC:
        return None
    size = int.from_bytes(mapped[len(MAGIC) : len(MAGIC) + 8], "little")
    start = len(MAGIC) + 8
    header = json.loads(mapped[start : start + size])
    body_at = start + size + (-(start + size) % _ALIGN)
    body = memoryview(mapped)[body_at:]
    if hashlib.sha256(body).hexdigest() != header["sha256"]:
        return None
    token = FilterToken(*(int(x) for x in header["token"]))
    if token.generation != generation:
        return None
    arr = {
        name: np.frombuffer(body, dtype=np.dtype(dt), count=count, offset=off)
        for name, (off, dt, count) in header["arrays"].items()
    }
    tags: dict[TagPair, npt.NDArray[np.int64]] = {}
    at = 0
    for key, value, count in header["pairs"]:
        tags[(str(key), str(value))] = arr["tag_rows"][at : at + count]
        at += count
    return FilterColumns(
        token=token,
        ids=arr["ids"],
        subjects=arr["subjects"],
        kinds=arr["kinds"],
        formats=arr["formats"],
        created=arr["created"],
        tags=tags,
        kind_names={str(k): int(v) for k, v in header["kind_names"].items()},
        format_names={str(k): int(v) for k, v in header["format_names"].items()},
        subject_order=arr["subject_order"],
    )
