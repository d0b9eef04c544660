"""Transfer-aware source ranking: task similarity combined with transfers measured among *other*
tasks (after TaskShop's pivot idea, Kim et al. 2023), never reading a result into the target.

For target t and candidate source s (every dataset with a vector, t excluded)::

    zsim(x)  = similarity of t and x, standardised over every dataset but t
               (several spaces: the mean of each space's standardised similarity)
    zT(s, p) = recorded transfer s -> p, standardised over the sources measured into pivot p
               (no setting chosen: each setting standardised, then averaged)
    w(p)     = exp(zsim(p) / tau)                       pivots p != t, p != s
    graph(s) = (sum_p w(p) zT(s, p) + kappa * wbar * prior(s)) / (sum_p w(p) + kappa * wbar)
    prior(s) = mean over the same pivots of zT(s, p)    (the source prior; wbar = mean weight)
    score(s) = lam * z(graph)(s) + (1 - lam) * zsim(s) + alpha * [format(s) == format(t)]

``kappa`` shrinks a source with few (or only dissimilar) pivots towards its prior; a source with no
recorded result gets the neutral graph value 0. The defaults below were fixed before any
measurement (docs/BENCHMARKS.md); ``fute eval --select nested`` can instead pick them per target
by nested leave-one-target-out selection.

No leakage: ``visible`` is the one place that drops results whose target is t; every prediction
goes through it (tests/query/test_transfer_rank.py checks that a mutant without it is caught).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt

from registry.errors import InvalidDataError

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class TransferParams:
    """Parameters of the transfer-aware score (defaults fixed a priori, see the module docstring).

    Attributes:
        lam: Weight of the graph term against similarity (0: similarity only, 1: graph only).
        tau: Temperature of the pivot weights (smaller: only the most similar pivots count).
        kappa: Pseudo-count of the source prior, in units of an average pivot's weight.
        alpha: Bonus for a source of the target's task format, in standard deviations.
        center: Centre each space's dataset vectors on their mean before the cosine.
    """

    lam: float = 0.5
    tau: float = 1.0
    kappa: float = 1.0
    alpha: float = 0.5
    center: bool = True

    def __post_init__(self) -> None:
        """Raises:
        InvalidDataError: A value out of range (lam in [0, 1], tau > 0, kappa >= 0, all finite).
        """
        checks = (
            ("lam", 0.0 <= self.lam <= 1.0, "between 0 and 1"),
            ("tau", math.isfinite(self.tau) and self.tau > 0, "a positive number"),
            ("kappa", math.isfinite(self.kappa) and self.kappa >= 0, "zero or more"),
            ("alpha", math.isfinite(self.alpha), "a finite number"),
        )
        for name, ok, want in checks:
            if not ok:
                raise InvalidDataError(f"transfer parameter {name}={getattr(self, name)!r} must be {want}")

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return asdict(self)


@dataclass(frozen=True)
class Edges:
    """Standardised transfer results over dataset positions (one entry per source->pivot pair).

    Attributes:
        source: Position of the source.
        pivot: Position of the pivot (the result's target).
        z: The standardised score (averaged over settings when several).
        raw: The recorded score (mean over settings when several).
        n: Number of positions.

    Edges are sorted by source, so ``source_rows(p)`` is a slice; ``by_pivot`` orders them by
    pivot (``pivot_rows``). Per-source totals over *all* edges are kept so that a query subtracts
    its few hidden edges instead of masking a million.
    """

    source: I64
    pivot: I64
    z: F64
    raw: F64
    n: int = 0

    @cached_property
    def source_starts(self) -> I64:
        """Row where each source's edges start (length n + 1)."""
        return np.searchsorted(self.source, np.arange(self.n + 1)).astype(np.int64)

    @cached_property
    def by_pivot(self) -> I64:
        """Edge rows ordered by pivot."""
        return np.argsort(self.pivot, kind="stable").astype(np.int64)

    @cached_property
    def pivot_starts(self) -> I64:
        """Offset in ``by_pivot`` where each pivot's edges start (length n + 1)."""
        return np.searchsorted(self.pivot[self.by_pivot], np.arange(self.n + 1)).astype(np.int64)

    @cached_property
    def totals(self) -> tuple[F64, F64]:
        """(sum of z, number of edges) per source over every edge."""
        sums: F64 = np.bincount(self.source, self.z, self.n).astype(np.float64)
        counts: F64 = np.bincount(self.source, minlength=self.n).astype(np.float64)
        return sums, counts

    def source_rows(self, p: int) -> I64:
        """Rows of the edges whose source is ``p``."""
        return np.arange(self.source_starts[p], self.source_starts[p + 1])

    def pivot_rows(self, p: int) -> I64:
        """Rows of the edges whose pivot (result target) is ``p``."""
        return self.by_pivot[self.pivot_starts[p] : self.pivot_starts[p + 1]]


@dataclass(frozen=True)
class Scored:
    """Scores of every position for one target.

    Attributes:
        score: The transfer-aware score (NaN at the target).
        zsim: Standardised similarity.
        zgraph: Standardised graph term.
        same_format: 1.0 where the format equals the target's.
        n_pivots: Pivots with a recorded result from each source.
        weights: Pivot weight of each position (0 at the target).
    """

    score: F64
    zsim: F64
    zgraph: F64
    same_format: F64
    n_pivots: I64
    weights: F64


def standardise(values: F64, mask: npt.NDArray[np.bool_]) -> F64:
    """z-scores over ``mask`` (0 where the spread is 0); NaN outside the mask."""
    out = np.full(values.shape, np.nan)
    chosen = values[mask]
    if chosen.size == 0:
        return out
    spread = chosen.std()
    out[mask] = (chosen - chosen.mean()) / spread if spread > 1e-12 else 0.0
    return out


def standardise_groups(values: F64, groups: I64) -> F64:
    """z-scores of ``values`` within each group (0 for a group of one or with no spread)."""
    n = int(groups.max()) + 1 if groups.size else 0
    count = np.bincount(groups, minlength=n).astype(np.float64)
    mean = np.bincount(groups, values, minlength=n) / np.maximum(count, 1)
    centred = values - mean[groups]
    var = np.bincount(groups, centred**2, minlength=n) / np.maximum(count, 1)
    sd = np.sqrt(var)[groups]
    return np.where(sd > 1e-12, centred / np.where(sd > 1e-12, sd, 1.0), 0.0)


def build_edges(source: I64, pivot: I64, setting: I64, raw: F64, n: int) -> Edges:
    """Standardise each (setting, pivot) column over its sources, then average over settings.

    Args:
        source: Position of each result's source.
        pivot: Position of each result's target.
        setting: Setting code of each result.
        raw: Recorded scores.
        n: Number of positions.

    Returns:
        One edge per distinct (source, pivot) pair.
    """
    if raw.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Edges(empty, empty, np.zeros(0), np.zeros(0), n)
    z = standardise_groups(raw, setting * n + pivot)
    pair = source * n + pivot
    keys, inverse = np.unique(pair, return_inverse=True)
    count = np.bincount(inverse).astype(np.float64)
    return Edges(
        source=keys // n,
        pivot=keys % n,
        z=np.bincount(inverse, z) / count,
        raw=np.bincount(inverse, raw) / count,
        n=n,
    )


def hidden(edges: Edges, target: int, also: tuple[int, ...] = ()) -> I64:
    """The edges a prediction for ``target`` must not read: every result whose target is
    ``target`` or one of ``also`` (nested selection also hides the held-out target). The one place
    that hides them; ``score_target`` and the evidence go through it."""
    return np.concatenate([edges.pivot_rows(p) for p in (target, *also)]).astype(np.int64)


def visible(edges: Edges, target: int, also: tuple[int, ...] = ()) -> npt.NDArray[np.bool_]:
    """Mask of the edges a prediction for ``target`` may read (the complement of ``hidden``)."""
    keep = np.ones(len(edges.z), dtype=bool)
    keep[hidden(edges, target, also)] = False
    return keep


def score_target(
    target: int, zsim: F64, edges: Edges, formats: I64, params: TransferParams, also: tuple[int, ...] = ()
) -> Scored:
    """Transfer-aware scores of every position for one target.

    Args:
        target: Position of the target.
        zsim: Standardised similarity of the target to each position (NaN at the target).
        edges: Standardised results (``build_edges``).
        formats: Format code of each position.
        params: Score parameters.
        also: Further targets whose results stay hidden (nested selection's held-out target).

    Returns:
        The score and its parts per position.
    """
    n = zsim.shape[0]
    gone = hidden(edges, target, also)
    others = ~np.isnan(zsim)
    weights = np.where(others, np.exp(np.nan_to_num(zsim) / params.tau), 0.0)
    wpiv = weights.copy()
    wpiv[edges.pivot[gone]] = 0.0  # a hidden pivot contributes no weight
    w = wpiv[edges.pivot]
    num = np.bincount(edges.source, w * edges.z, n)
    den = np.bincount(edges.source, w, n)
    sum_z, cnt = edges.totals
    sum_z = sum_z - np.bincount(edges.source[gone], edges.z[gone], n)
    cnt = cnt - np.bincount(edges.source[gone], minlength=n)
    prior = sum_z / np.maximum(cnt, 1)
    wbar = float(weights[others].mean()) if others.any() else 1.0
    graph = (num + params.kappa * wbar * prior) / np.maximum(den + params.kappa * wbar, 1e-12)
    graph = np.where(cnt > 0, graph, 0.0)
    zgraph = standardise(graph, others)
    same = (formats == formats[target]).astype(np.float64)
    score = params.lam * zgraph + (1 - params.lam) * zsim + params.alpha * same
    return Scored(score, zsim, zgraph, same, cnt.astype(np.int64), wpiv * others)


def similarity_z(matrices: list[npt.NDArray[np.float32]], metrics: list[str], target: int) -> F64:
    """Standardised similarity of the target row to every row, averaged over spaces.

    Args:
        matrices: Per space, ``comparable`` matrices aligned on the same positions.
        metrics: Per space, its metric (``cosine``, ``ip`` or ``l2``).
        target: Position of the target.

    Returns:
        The mean standardised similarity (NaN at the target).
    """
    others = np.ones(matrices[0].shape[0], dtype=bool)
    others[target] = False
    parts = [
        standardise(row_similarity(v, m, target), others) for v, m in zip(matrices, metrics, strict=True)
    ]
    out: F64 = np.mean(parts, axis=0) if parts else np.full(others.shape, np.nan)
    return out


def comparable(v: npt.NDArray[np.float32], metric: str, center: bool) -> npt.NDArray[np.float32]:
    """The matrix whose row products are the similarities: centred on the mean row on request (a
    fixed, label-free transform of the catalogue), then unit rows for cosine (or centred) spaces.
    Computed once per prepared state, not per query."""
    if metric == "l2":
        return v
    m = v.astype(np.float64)
    if center:
        m = m - m.mean(axis=0)
    if metric == "cosine" or center:
        norms = np.linalg.norm(m, axis=1)
        m = m / np.where(norms > 1e-12, norms, 1.0)[:, None]
    return m.astype(np.float32)


def row_similarity(m: npt.NDArray[np.float32], metric: str, target: int) -> F64:
    """Similarity of the target row to every row of a ``comparable`` matrix."""
    if metric == "l2":
        dist: F64 = np.sum((m.astype(np.float64) - m[target]) ** 2, axis=1)
        return -dist
    sims: F64 = (m @ m[target]).astype(np.float64)
    return sims
