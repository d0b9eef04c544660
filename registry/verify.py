"""Read-only consistency check of SQL against the published FAISS snapshots.

Checks, per space: vector byte lengths against the dim, non-finite values, the space fingerprint
against its stored configuration and each vector's provenance fingerprint against the space,
manifest presence and parse, fingerprint / dim / metric, the index file's checksum and ntotal, SQL ids == index ids, and
the snapshot generation, persisted filter columns against SQL; then orphan folders and stray files under ``indexes/``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from registry import faiss_index as fx
from registry import snapshot as snap
from registry.errors import IndexCorruptError
from registry.filter_verify import check_filters
from registry.models import Embedding, EmbeddingSpace, ProbeSet
from registry.spaces import SpaceConfig, fingerprint, list_spaces


@dataclass
class SpaceCheck:
    """Counts of one space as SQL and its published index see them."""

    name: str
    id: int
    sql_count: int
    index_count: int | None
    generation: int
    index_generation: int | None


@dataclass
class VerifyReport:
    """Outcome of ``verify``: ``ok`` is true exactly when ``problems`` is empty."""

    spaces: list[SpaceCheck] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: ``{"ok", "spaces", "problems"}``."""
        return {"ok": self.ok, "spaces": [asdict(s) for s in self.spaces], "problems": list(self.problems)}


def verify(session: Session, index_dir: Path) -> VerifyReport:
    """Check every space; never modifies anything.

    Args:
        session: A read session.
        index_dir: ``<home>/indexes``.

    Returns:
        The report.
    """
    report = VerifyReport()
    known_folders = set()
    for space, count in list_spaces(session):
        folder = index_dir / f"space-{space.id}"
        known_folders.add(folder.name)
        check = SpaceCheck(space.name, space.id, count, None, space.generation, None)
        report.spaces.append(check)
        report.problems.extend(_check_vectors(session, space))
        report.problems.extend(_check_fingerprints(session, space))
        report.problems.extend(_check_snapshot(session, space, folder, check))
    if index_dir.exists():
        for path in sorted(index_dir.iterdir()):
            if path.name not in known_folders:
                report.problems.append(
                    f"orphan {path} belongs to no space; remove it with `fute maintain prune`"
                )
    return report


def _check_vectors(session: Session, space: EmbeddingSpace) -> list[str]:
    """Byte-length and finiteness problems of the stored vectors of one space."""
    problems = []
    rows = session.execute(
        select(Embedding.id, Embedding.vector)
        .where(Embedding.space_id == space.id)
        .execution_options(yield_per=4096)
    )
    for emb_id, blob in rows:
        if len(blob) != 4 * space.dim:
            problems.append(
                f"space {space.name!r}: embedding {emb_id} has {len(blob)} bytes, expected {4 * space.dim}"
            )
        elif not np.isfinite(np.frombuffer(blob, dtype="<f4")).all():
            problems.append(f"space {space.name!r}: embedding {emb_id} holds NaN or infinite values")
    return problems


def _check_fingerprints(session: Session, space: EmbeddingSpace) -> list[str]:
    """The space's fingerprint against its stored configuration, and each vector's provenance
    fingerprint against the space (a vector made for another configuration must not be mixed in)."""
    where = f"space {space.name!r}"
    probe = session.get(ProbeSet, space.probe_set_id) if space.probe_set_id is not None else None
    cfg = SpaceConfig(space.name, space.surrogate, space.method, space.dim, space.params, space.metric)
    problems = []
    if fingerprint(cfg, probe.content_hash if probe else None) != space.fingerprint:
        problems.append(
            f"{where}: stored fingerprint does not match its configuration (surrogate, method, params, "
            "dim, metric, probe set); recreate the space and `fute maintain reembed` into it"
        )
    rows = session.execute(
        select(Embedding.id, Embedding.provenance)
        .where(Embedding.space_id == space.id)
        .execution_options(yield_per=4096)
    )
    stray = [
        emb_id
        for emb_id, prov in rows
        if (prov or {}).get("space_fingerprint", space.fingerprint) != space.fingerprint
    ]
    if stray:
        problems.append(
            f"{where}: embeddings {stray[:5]} (of {len(stray)}) were computed for another space "
            "fingerprint; re-embed those subjects"
        )
    return problems


def _check_snapshot(session: Session, space: EmbeddingSpace, folder: Path, check: SpaceCheck) -> list[str]:
    """Problems of the published snapshot of one space; fills the index side of ``check``."""
    where = f"space {space.name!r}"
    try:
        manifest = snap.read_manifest(folder)
        if manifest is None:
            return [f"{where}: no published index ({folder / snap.MANIFEST}); run `fute maintain rebuild`"]
        index = fx.deserialize(snap.read_index_bytes(folder, manifest))
    except (IndexCorruptError, RuntimeError) as exc:
        return [f"{where}: {exc}"]
    check.index_count = int(index.ntotal)
    check.index_generation = manifest.generation
    problems = []
    if manifest.fingerprint != space.fingerprint or manifest.dim != space.dim:
        problems.append(
            f"{where}: index was built for another fingerprint or dim; run `fute maintain rebuild`"
        )
    if manifest.ntotal != index.ntotal:
        problems.append(f"{where}: manifest says {manifest.ntotal} vectors, index holds {index.ntotal}")
    if manifest.generation != space.generation:
        problems.append(
            f"{where}: index reflects generation {manifest.generation}, SQL is at {space.generation}; "
            "run `fute maintain rebuild`"
        )
    sql_ids = np.asarray(
        session.scalars(
            select(Embedding.id).where(Embedding.space_id == space.id).order_by(Embedding.id)
        ).all(),
        dtype=np.int64,
    )
    if not np.array_equal(sql_ids, fx.all_ids(index)):
        problems.append(f"{where}: SQL ids and index ids differ; run `fute maintain rebuild`")
    allowed = {manifest.file, snap.MANIFEST, snap.LOCK}
    stray = [
        p for p in sorted(folder.iterdir()) if p.name not in allowed and not p.name.startswith("filters.")
    ]
    problems.extend(f"{where}: stray file {p}" for p in stray)
    problems.extend(check_filters(session, space.name, folder, manifest.generation, index))
    return problems
