"""Transfer-aware ``query sources``: the registry's dataset vectors and recorded transfer results
prepared once per state (cached until a write), then scored per target by ``query.transfer_rank``.

Used by ``query.service.query_sources`` (ranking ``auto`` picks it whenever results are recorded in
the chosen setting) and by ``fute eval``. Results *into* the target are never read to predict; they
are attached to each hit as ``measured``.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from query.transfer_rank import (
    Edges,
    Scored,
    TransferParams,
    build_edges,
    comparable,
    score_target,
    similarity_z,
)
from registry.api import Registry
from registry.errors import InvalidDataError
from registry.transfers import TransferGraph, TransferStore

RANKINGS = ("auto", "transfer", "similarity")
ALL_SETTINGS = None  # no --setting: every setting standardised, then averaged


@dataclass(frozen=True)
class TransferOptions:
    """How ``query sources`` uses recorded transfer results.

    Attributes:
        ranking: ``auto`` (transfer-aware when results exist, else similarity), ``transfer``
            (required) or ``similarity`` (ignore results).
        setting: Only results of this setting; None: each setting standardised, then averaged.
        prefer_measured: Put sources already measured into the target first, best measured first.
        params: Score parameters (defaults fixed a priori).
    """

    ranking: str = "auto"
    setting: str | None = None
    prefer_measured: bool = False
    params: TransferParams = field(default_factory=TransferParams)


@dataclass(frozen=True)
class Prepared:
    """Everything one target's ranking needs, over positions = datasets with a vector in every space.

    Attributes:
        subject_ids: Dataset id of each position (sorted).
        embedding_ids: Per space, the embedding id of each position.
        vectors: Per space, the vectors of the positions.
        plain: Per space, ``comparable`` matrices without centring.
        centred: Per space, ``comparable`` matrices centred on the catalogue mean (None when fewer
            than 3 datasets: centring two points makes them opposite).
        metrics: Per space, its metric.
        formats: Format code of each position.
        edges: Standardised results of the chosen setting(s) between positions.
    """

    subject_ids: npt.NDArray[np.int64]
    embedding_ids: list[npt.NDArray[np.int64]]
    vectors: list[npt.NDArray[np.float32]]
    plain: list[npt.NDArray[np.float32]]
    centred: list[npt.NDArray[np.float32]] | None
    metrics: list[str]
    formats: npt.NDArray[np.int64]
    edges: Edges

    def position(self, subject_id: int) -> int | None:
        """Position of a dataset id, None when it lacks a vector in some space."""
        i = int(np.searchsorted(self.subject_ids, subject_id))
        return i if i < len(self.subject_ids) and self.subject_ids[i] == subject_id else None


_CACHE: weakref.WeakKeyDictionary[TransferStore, dict[Any, Prepared]] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def check_setting(reg: Registry, setting: str | None) -> TransferGraph | None:
    """The transfer graph when results are recorded (in ``setting`` when given), else None.

    Raises:
        InvalidDataError: A setting is named that has no results while others do.
    """
    graph = reg.transfers.graph()
    if setting is None or graph.empty:
        return None if graph.empty else graph
    if setting not in graph.setting_names:
        raise InvalidDataError(
            f"no transfer results in setting {setting!r}; recorded: {', '.join(graph.setting_names)}"
        )
    return graph


def transfer_graph(reg: Registry, topts: TransferOptions, kinds: tuple[str, ...]) -> TransferGraph | None:
    """The transfer graph when ``query sources`` ranks with recorded results (see ``TransferOptions``),
    None when it ranks by similarity.

    Raises:
        InvalidDataError: ``ranking=transfer`` with no results or with models among the candidates;
            a setting named that has no results; an unknown ranking.
    """
    if topts.ranking not in RANKINGS:
        raise InvalidDataError(f"ranking {topts.ranking!r} is unknown; choose one of {', '.join(RANKINGS)}")
    if topts.ranking == "similarity":
        return None
    recorded = check_setting(reg, topts.setting)
    if "model" in kinds:
        if topts.ranking == "transfer":
            raise InvalidDataError("transfer-aware ranking ranks datasets only; drop --include-models")
        return None
    if topts.ranking == "transfer" and recorded is None:
        raise InvalidDataError(
            "no transfer results recorded; import some with `fute transfer import FILE.csv` "
            "or rank by similarity (--ranking similarity)"
        )
    return recorded


def prepare(
    reg: Registry, spaces: list[str], setting: str | None, graph: TransferGraph | None = None
) -> Prepared:
    """The prepared matrices for these spaces and setting (cached until SQL changes).

    Args:
        reg: Registry.
        spaces: Spaces whose similarities are used.
        setting: Setting of the graph (None: all, standardised per setting).
        graph: The transfer graph when the caller has read it already (one SQL probe per query).

    Raises:
        SpaceNotFoundError: Unknown space.
    """
    graph = graph or reg.transfers.graph()
    mats = [reg.transfers.datasets(s) for s in spaces]
    key = (graph.token, tuple(m.key for m in mats), setting)
    with _LOCK:
        found = _CACHE.get(reg.transfers, {}).get(key)
    if found is not None:
        return found
    ids = mats[0].subject_ids
    for m in mats[1:]:
        ids = np.intersect1d(ids, m.subject_ids)
    rows = [np.searchsorted(m.subject_ids, ids) for m in mats]
    names = sorted(set(mats[0].formats))
    codes = {f: i for i, f in enumerate(names)}
    first = mats[0]
    formats = np.array([codes[first.formats[r]] for r in rows[0]], dtype=np.int64)
    vectors = [m.vectors[r] for m, r in zip(mats, rows, strict=True)]
    prep = Prepared(
        subject_ids=ids,
        embedding_ids=[m.embedding_ids[r] for m, r in zip(mats, rows, strict=True)],
        vectors=vectors,
        plain=[comparable(v, m.metric, False) for v, m in zip(vectors, mats, strict=True)],
        centred=[comparable(v, m.metric, True) for v, m in zip(vectors, mats, strict=True)]
        if len(ids) >= 3
        else None,
        metrics=[m.metric for m in mats],
        formats=formats,
        edges=_edges(graph, ids, setting),
    )
    with _LOCK:
        # One entry per store: a new state replaces the old (memory stays one copy per registry).
        _CACHE[reg.transfers] = {key: prep}
    return prep


def _edges(graph: TransferGraph, ids: npt.NDArray[np.int64], setting: str | None) -> Edges:
    """Results of the setting (or all) whose source and target both have positions."""
    keep = np.isin(graph.source_ids, ids) & np.isin(graph.target_ids, ids)
    if setting is not None:
        keep &= graph.settings == graph.setting_names.index(setting)
    src = np.searchsorted(ids, graph.source_ids[keep])
    piv = np.searchsorted(ids, graph.target_ids[keep])
    return build_edges(src, piv, graph.settings[keep], graph.scores[keep], len(ids))


def score_all(prep: Prepared, target: int, params: TransferParams) -> Scored:
    """Transfer-aware scores of every position for the target at position ``target``."""
    matrices = prep.centred if params.center and prep.centred is not None else prep.plain
    zsim = similarity_z(matrices, prep.metrics, target)
    return score_target(target, zsim, prep.edges, prep.formats, params)


def ranked_positions(scored: Scored, allowed: npt.NDArray[np.bool_]) -> list[int]:
    """Allowed positions by descending score (ties: position order, i.e. dataset id)."""
    positions = np.flatnonzero(allowed & ~np.isnan(scored.score))
    order = np.lexsort((positions, -scored.score[positions]))
    return [int(p) for p in positions[order]]
