"""Embedding spaces: creation, fingerprints, look-up and listing (data access; never commits)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry.errors import AlreadyExistsError, ConfigError, SpaceNotFoundError
from registry.faiss_index import IndexSpec
from registry.models import Embedding, EmbeddingSpace, ProbeSet


@dataclass(frozen=True)
class SpaceConfig:
    """Everything that defines a space.

    Attributes:
        name: Unique, human-chosen name.
        surrogate: Surrogate model id or path (its weights hash belongs in ``params``).
        method: ``textemb``, ``taskemb``, ``tupate``, ...
        dim: Vector dimension.
        params: Every hyper-parameter that changes vectors (JSON-serialisable).
        metric: ``cosine`` (default), ``ip`` or ``l2``.
        index_type: ``flat`` (exact, default), ``ivf`` or ``ivfpq`` (approximate, trained).
        probe_set: Name of the probe set the space uses, if any.
    """

    name: str
    surrogate: str
    method: str
    dim: int
    params: dict[str, Any] = field(default_factory=dict)
    metric: str = "cosine"
    index_type: str = "flat"
    probe_set: str | None = None


def canonical_json(payload: Any) -> str:
    """Deterministic JSON: sorted keys, no whitespace, ASCII only."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def fingerprint(cfg: SpaceConfig, probe_hash: str | None) -> str:
    """sha256 of the canonical JSON of everything that changes vectors (not the index type)."""
    payload = {
        "surrogate": cfg.surrogate,
        "method": cfg.method,
        "params": cfg.params,
        "dim": cfg.dim,
        "metric": cfg.metric,
        "probe_set_hash": probe_hash,
    }
    return hashlib.sha256(canonical_json(payload).encode()).hexdigest()


def create_space(session: Session, cfg: SpaceConfig) -> EmbeddingSpace:
    """Insert a new space; a space of that name with the very same configuration is returned as it
    is (creating a space is idempotent, so two identical jobs started at once both succeed).

    Raises:
        AlreadyExistsError: The name is taken by a space with another configuration (the message
            names what differs), or another space has this fingerprint.
        ConfigError: Bad dimension, metric, index type or ``ivf_filter_recall``.
        NotFoundError: The named probe set does not exist.
    """
    IndexSpec(cfg.dim, cfg.metric, cfg.index_type).validate()
    _check_filter_recall(cfg.params.get("ivf_filter_recall"))
    probe = _probe_set(session, cfg.probe_set) if cfg.probe_set else None
    fp = fingerprint(cfg, probe.content_hash if probe else None)
    same_name = session.scalar(select(EmbeddingSpace).where(EmbeddingSpace.name == cfg.name))
    if same_name is not None:
        if same_name.fingerprint == fp and same_name.index_type == cfg.index_type:
            return same_name
        raise AlreadyExistsError(
            f"space {cfg.name!r} already exists with other parameters ({_differences(same_name, cfg)}); "
            "pick another name, or `fute maintain reembed --from OLD --to NEW` into a new space"
        )
    twin = session.scalar(select(EmbeddingSpace).where(EmbeddingSpace.fingerprint == fp))
    if twin is not None:
        raise AlreadyExistsError(
            f"space {twin.name!r} already has this exact configuration (fingerprint {fp[:12]}); reuse it"
        )
    space = EmbeddingSpace(
        name=cfg.name,
        fingerprint=fp,
        surrogate=cfg.surrogate,
        method=cfg.method,
        params=cfg.params,
        dim=cfg.dim,
        metric=cfg.metric,
        index_type=cfg.index_type,
        probe_set_id=probe.id if probe else None,
        generation=0,
    )
    session.add(space)
    session.flush()
    return space


def _differences(space: EmbeddingSpace, cfg: SpaceConfig) -> str:
    """``key stored -> asked`` for what differs between a stored space and a configuration."""
    stored = {"method": space.method, "surrogate": space.surrogate, "dim": space.dim, "metric": space.metric}
    stored |= {"index_type": space.index_type, **space.params}
    asked = {"method": cfg.method, "surrogate": cfg.surrogate, "dim": cfg.dim, "metric": cfg.metric}
    asked |= {"index_type": cfg.index_type, **cfg.params}
    diff = [
        f"{k} {stored.get(k)!r} -> {asked.get(k)!r}"
        for k in sorted(stored | asked)
        if stored.get(k) != asked.get(k)
    ]
    return ", ".join(diff[:5]) or "probe set content"


def _probe_set(session: Session, name: str) -> ProbeSet:
    probe = session.scalar(select(ProbeSet).where(ProbeSet.name == name))
    if probe is None:
        known = session.scalars(select(ProbeSet.name).order_by(ProbeSet.name)).all()
        raise SpaceNotFoundError(f"no probe set named {name!r}; known: {', '.join(known) or 'none'}")
    return probe


def get_space(session: Session, name: str) -> EmbeddingSpace:
    """The space with that name.

    Raises:
        SpaceNotFoundError: Unknown name (the message lists the known spaces).
    """
    space = session.scalar(select(EmbeddingSpace).where(EmbeddingSpace.name == name))
    if space is None:
        known = session.scalars(select(EmbeddingSpace.name).order_by(EmbeddingSpace.name)).all()
        raise SpaceNotFoundError(
            f"no embedding space named {name!r}; known spaces: {', '.join(known) or 'none (create one first)'}"
        )
    return space


def list_spaces(session: Session) -> list[tuple[EmbeddingSpace, int]]:
    """Every space with its number of stored embeddings, ordered by id."""
    counts = (
        select(Embedding.space_id, func.count(Embedding.id).label("n"))
        .group_by(Embedding.space_id)
        .subquery()
    )
    rows = session.execute(
        select(EmbeddingSpace, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.space_id == EmbeddingSpace.id)
        .order_by(EmbeddingSpace.id)
    ).all()
    return [(space, int(n)) for space, n in rows]


def _check_filter_recall(value: object) -> None:
    """Raise ConfigError unless ``ivf_filter_recall`` is absent or a number in (0, 1]."""
    if value is None:
        return
    ok = isinstance(value, int | float) and not isinstance(value, bool) and 0 < value <= 1
    if not ok:
        raise ConfigError(
            f"ivf_filter_recall must be a number in (0, 1], got {value!r}; e.g. 0.95 (1.0: filtered search stays exact)"
        )


def index_spec(space: EmbeddingSpace) -> IndexSpec:
    """The FAISS index spec of a space (IVF knobs come from its params when set)."""
    return IndexSpec(
        dim=space.dim,
        metric=space.metric,
        index_type=space.index_type,
        nlist=int(space.params.get("ivf_nlist", 256)),
        nprobe=int(space.params.get("ivf_nprobe", 16)),
        min_train=int(space.params.get("ivf_min_train", 1024)),
        pq_m=int(space.params.get("pq_m", 0)),
        pq_nbits=int(space.params.get("pq_nbits", 8)),
    )
