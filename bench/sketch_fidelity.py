"""Section 3: does the count-sketch keep the geometry of the uncompressed TaskEmb statistic?

The uncompressed statistic (one value per surrogate parameter, 22.7M for MiniLM) is captured from
the product's own ``taskemb-fute`` DTE jobs: while a job runs, the sketch function the method calls
is wrapped so that its input is saved before the real sketch is computed. Nothing is recomputed or
re-implemented; the vectors the registry stores are checked against a re-sketch of the capture.
For every pair of tasks the cosine of the uncompressed statistics is compared with the cosine of
the sketched ones (Spearman correlation over all pairs), for each sketch dimension.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

import ingest.methods.taskemb as taskemb_module
from bench.taskweb_data import Gold, Orders, mean_over_settings, score_orders, single_settings
from ingest.methods.sketch import count_sketch
from ingest.methods.taskemb import TaskEmbParams
from registry.api import Registry
from registry.subjects import get_subject

Vector = npt.NDArray[np.float64]
CHUNK = 1 << 20  # parameters per block of the uncompressed Gram matrix (22 x 1M float64 = 176 MB)


class StatisticCapture:
    """Saves the uncompressed statistic of the DTE currently labelled (``current``) as float32 .npy."""

    def __init__(self, folder: Path) -> None:
        """Args:
        folder: Where ``<task>.npy`` files go (about 91 MB each for MiniLM).
        """
        self.folder = folder
        self.current: str | None = None
        folder.mkdir(parents=True, exist_ok=True)

    def label(self, task: str | None) -> None:
        """Name the DTE that runs next (None: stop capturing)."""
        self.current = task

    def wrap(self, real: Callable[[Vector, int, int], Vector]) -> Callable[[Vector, int, int], Vector]:
        """The sketch function with the capture in front of it."""

        def sketch(vector: Vector, dim: int, seed: int) -> Vector:
            if self.current is not None:
                np.save(self.folder / f"{self.current}.npy", np.asarray(vector, dtype=np.float32))
            return real(vector, dim, seed)

        return sketch

    def path(self, task: str) -> Path:
        """The captured statistic of a task."""
        return self.folder / f"{task}.npy"


@contextmanager
def capturing(capture: StatisticCapture) -> Iterator[StatisticCapture]:
    """Route the TaskEmb method's sketch call through ``capture`` for the duration of the block."""
    real = taskemb_module.count_sketch
    taskemb_module.count_sketch = capture.wrap(real)
    try:
        yield capture
    finally:
        taskemb_module.count_sketch = real


def spearman(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> float:
    """Spearman rank correlation (ties share their average rank)."""
    return float(np.corrcoef(_ranks(a), _ranks(b))[0, 1])


def _ranks(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """1-based ranks; equal values share the average of the ranks they occupy."""
    order = np.argsort(x, kind="stable")
    ordered = x[order]
    ranks = np.empty(len(x), dtype=np.float64)
    i = 0
    while i < len(x):
        j = i
        while j + 1 < len(x) and ordered[j + 1] == ordered[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def full_cosines(paths: list[Path]) -> npt.NDArray[np.float64]:
    """Cosine matrix of the uncompressed statistics, accumulated block by block (memory-mapped)."""
    stats = [np.load(p, mmap_mode="r") for p in paths]
    n = stats[0].shape[0]
    gram = np.zeros((len(stats), len(stats)))
    for start in range(0, n, CHUNK):
        block = np.stack([s[start : start + CHUNK] for s in stats]).astype(np.float64)
        gram += block @ block.T
    norms = np.sqrt(np.diag(gram))
    return np.asarray(gram / np.outer(norms, norms), dtype=np.float64)


def sketched_cosines(paths: list[Path], dim: int, seed: int) -> npt.NDArray[np.float64]:
    """Cosine matrix of the statistics sketched to ``dim`` with the product's count-sketch."""
    rows = []
    for p in paths:
        v = count_sketch(np.load(p).astype(np.float64), dim, seed)
        rows.append(v / np.linalg.norm(v))
    m = np.stack(rows)
    return np.asarray(m @ m.T, dtype=np.float64)


def stored_agreement(reg: Registry, space: str, paths: dict[str, Path], dim: int, seed: int) -> float:
    """Smallest cosine between a stored vector and the re-sketch of its captured statistic (1.0 =
    the capture is exactly what the product sketched)."""
    worst = 1.0
    for task, p in paths.items():
        v = count_sketch(np.load(p).astype(np.float64), dim, seed)
        with reg.db.read() as session:
            stored = reg.vector_of(space, get_subject(session, task, "dataset").id)
        worst = min(worst, float(np.dot(v / np.linalg.norm(v), stored.astype(np.float64))))
    return worst


def fidelity(
    reg: Registry,
    capture: StatisticCapture,
    tasks: tuple[str, ...],
    dims: tuple[int, ...],
    allow_partial: bool = False,
    gold: Gold | None = None,
) -> dict[str, Any]:
    """The ``sketch.json`` document: Spearman per dimension, the default and whether it holds.

    Args:
        reg: The registry holding the ``taskemb-fute`` vectors.
        capture: Where the statistics were captured.
        tasks: Tasks to compare.
        dims: Sketch dimensions.
        allow_partial: Use only the tasks whose statistic was captured (listed as ``missing_tasks``).
        gold: TaskWeb transfer scores; when given, the document also holds the mean NDCG over the
            single settings of source rankings taken straight from each cosine matrix
            (uncompressed and every sketch dimension): what compression costs in ranking quality.

    Raises:
        FileNotFoundError: A task's statistic was not captured (its DTE ran outside the capture)
            and ``allow_partial`` is off, or fewer than 3 were captured.
    """
    paths = {t: capture.path(t) for t in tasks}
    missing = [t for t, p in paths.items() if not p.is_file()]
    if missing and (not allow_partial or len(paths) - len(missing) < 3):
        raise FileNotFoundError(
            f"no captured statistic for {missing}; delete their taskemb-fute vectors and rerun"
        )
    paths = {t: p for t, p in paths.items() if t not in missing}
    tasks = tuple(paths)
    ordered = [paths[t] for t in tasks]
    upper = np.triu_indices(len(tasks), k=1)
    full_matrix = full_cosines(ordered)
    full = full_matrix[upper]
    default = TaskEmbParams()
    per_dim: dict[str, Any] = {}
    ndcg: dict[str, float] = {}
    if gold is not None:
        ndcg["uncompressed"] = ranking_ndcg(full_matrix, tasks, gold)
    for dim in dims:
        matrix = sketched_cosines(ordered, dim, default.sketch_seed)
        sketched = matrix[upper]
        if gold is not None:
            ndcg[str(dim)] = ranking_ndcg(matrix, tasks, gold)
        per_dim[str(dim)] = {
            "spearman": round(spearman(full, sketched), 6),
            "max_abs_cosine_error": round(float(np.max(np.abs(full - sketched))), 6),
        }
    chosen = per_dim.get(str(default.dim), {}).get("spearman")
    stored_dim, stored_seed = _stored_sketch(reg, "taskemb-fute")
    return {
        **({"taskweb_ndcg_mean_single_settings": ndcg} if gold is not None else {}),
        "spearman": {d: v["spearman"] for d, v in per_dim.items()},
        "max_abs_cosine_error": {d: v["max_abs_cosine_error"] for d, v in per_dim.items()},
        "default_dim": default.dim,
        "default_spearman": chosen,
        "default_meets_0_99": chosen is not None and chosen >= 0.99,
        "n_tasks": len(tasks),
        "missing_tasks": missing,
        "n_pairs": int(full.size),
        "n_parameters": int(np.load(ordered[0], mmap_mode="r").shape[0]),
        "uncompressed_cosine_range": [round(float(full.min()), 6), round(float(full.max()), 6)],
        "stored_vs_resketch_min_cosine": round(
            stored_agreement(reg, "taskemb-fute", paths, stored_dim, stored_seed), 6
        ),
        "stored_dim": stored_dim,
    }


def _stored_sketch(reg: Registry, space: str) -> tuple[int, int]:
    """Sketch dimension and seed of the stored space (it may predate the current default)."""
    found = next(s for s, _ in reg.spaces() if s.name == space)
    return int(found.dim), int(found.params.get("sketch_seed", 0))


def ranking_ndcg(cosines: npt.NDArray[np.float64], tasks: tuple[str, ...], gold: Gold) -> float:
    """Mean NDCG over TaskWeb's single settings of every target's sources ranked by cosine."""
    orders: Orders = {}
    for i, target in enumerate(tasks):
        others = [j for j in range(len(tasks)) if j != i]
        orders[target] = [tasks[j] for j in sorted(others, key=lambda j: (-cosines[i, j], tasks[j]))]
    return mean_over_settings(score_orders(orders, gold), single_settings(gold))["ndcg"]
