"""The task map: every subject of one space projected to 2D (``fute map`` and the web map page).

PCA (numpy SVD, no extra dependency) is the default; UMAP (``umap-learn``) and t-SNE
(``scikit-learn``) are used when installed. Vectors are L2-normalised first for cosine spaces, so
the picture shows the same geometry the cosine queries rank by.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from query.options import parse_where
from query.space_choice import SpaceChoice, choose_spaces
from registry.api import Registry
from registry.errors import ConfigError, InvalidDataError
from registry.subject_reads import space_points

METHODS = ("pca", "umap", "tsne")
# Optional projections: method -> (import name, PyPI package to install)
OPTIONAL = {"umap": ("umap", "umap-learn"), "tsne": ("sklearn", "scikit-learn")}


@dataclass(frozen=True)
class MapPoint:
    """One subject on the map.

    Attributes:
        name: Subject name.
        kind: ``dataset``, ``model`` or ``prompt``.
        x, y: Projected coordinates.
        tags: The subject's tags (key -> values).
        format: Task format (datasets only).
    """

    name: str
    kind: str
    x: float
    y: float
    tags: dict[str, list[str]] = field(default_factory=dict)
    format: str | None = None

    def colour_key(self, color_by: str) -> str:
        """The legend group of this point: its kind, or the first value of tag ``KEY`` for
        ``tag:KEY`` (``(none)`` when the subject has no such tag)."""
        if color_by == "kind":
            return self.kind
        values = self.tags.get(color_by.removeprefix("tag:"), [])
        return values[0] if values else "(none)"


@dataclass(frozen=True)
class TaskMap:
    """A projected space: its points and how they were made."""

    space: str
    method: str
    points: list[MapPoint]
    explained: list[float]  # PCA: share of variance of each axis; empty otherwise

    def to_dict(self) -> dict[str, Any]:
        """The ``fute map --json`` shape: ``{"space", "method", "explained", "points": [...]}``."""
        return {
            "space": self.space,
            "method": self.method,
            "explained": self.explained,
            "points": [
                {"name": p.name, "kind": p.kind, "x": p.x, "y": p.y, "tags": p.tags, "format": p.format}
                for p in self.points
            ],
        }


def check_color(color_by: str) -> None:
    """Validate a ``--color`` value.

    Raises:
        InvalidDataError: Neither ``kind`` nor ``tag:KEY``.
    """
    if color_by != "kind" and not (color_by.startswith("tag:") and len(color_by) > 4):
        raise InvalidDataError(f"--color {color_by!r}: use 'kind' or 'tag:KEY' (e.g. tag:family)")


def pca_2d(mat: npt.NDArray[np.float64]) -> tuple[npt.NDArray[np.float64], list[float]]:
    """First two principal components of the rows, via SVD of the centred matrix.

    Args:
        mat: (n, d) matrix, n >= 1.

    Returns:
        (n, 2) coordinates (a missing component is zeros) and each axis' share of the variance.
    """
    centred = mat - mat.mean(axis=0, keepdims=True)
    u, s, vt = np.linalg.svd(centred, full_matrices=False)
    coords = np.zeros((mat.shape[0], 2))
    n = min(2, len(s))
    coords[:, :n] = u[:, :n] * s[:n]
    # SVD signs are arbitrary; fix them (largest loading positive) so reruns draw the same picture
    for axis in range(n):
        if vt[axis, np.argmax(np.abs(vt[axis]))] < 0:
            coords[:, axis] *= -1
    total = float((s**2).sum())
    explained = [round(float(v**2) / total, 4) if total > 0 else 0.0 for v in s[:2]]
    return coords, explained


def _optional(method: str) -> Any:
    module, package = OPTIONAL[method]
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ConfigError(
            f"--method {method} needs the {package} package; `pip install {package}` or use --method pca"
        ) from exc


def project(mat: npt.NDArray[np.float64], method: str, seed: int = 0) -> tuple[npt.NDArray[Any], list[float]]:
    """Project rows to 2D.

    Args:
        mat: (n, d) vectors.
        method: ``pca``, ``umap`` or ``tsne``.
        seed: Random state of UMAP / t-SNE.

    Returns:
        (n, 2) coordinates and the explained variance (PCA only).

    Raises:
        InvalidDataError: Unknown method.
        ConfigError: The method's package is not installed.
    """
    if method not in METHODS:
        raise InvalidDataError(f"--method {method!r}: choose one of {', '.join(METHODS)}")
    if method == "pca" or mat.shape[0] < 4:  # UMAP / t-SNE need a few neighbours; PCA is exact here
        return pca_2d(mat)
    if method == "umap":
        reducer = _optional("umap").UMAP(
            n_components=2, n_neighbors=min(15, mat.shape[0] - 1), random_state=seed
        )
        return np.asarray(reducer.fit_transform(mat)), []
    _optional("tsne")
    manifold = importlib.import_module("sklearn.manifold")  # by name: no stubs, optional package
    tsne = manifold.TSNE(
        n_components=2, perplexity=min(30.0, (mat.shape[0] - 1) / 3), random_state=seed, init="pca"
    )
    return np.asarray(tsne.fit_transform(mat)), []


def map_space(reg: Registry, wanted: str | None) -> SpaceChoice:
    """The space to draw, by the one rule of ``query.space_choice`` (named, stored default,
    ``FUTE_DEFAULT_SPACE``, the only space, the space with the most vectors).

    Raises:
        SpaceNotFoundError: The named space does not exist.
        ConfigError: No space exists yet.
    """
    return choose_spaces(reg, (wanted,) if wanted else ())


def build_map(
    reg: Registry, space: str, where: tuple[tuple[str, str], ...] = (), method: str = "pca", seed: int = 0
) -> TaskMap:
    """Project every subject of a space that passes the filters.

    Args:
        reg: The registry.
        space: Space name.
        where: ``--where`` pairs (the query layer's filters).
        method: ``pca`` (default), ``umap`` or ``tsne``.
        seed: Random state of UMAP / t-SNE.

    Returns:
        The map, points in embedding order.

    Raises:
        NotFoundError: Unknown space.
        InvalidDataError: Nothing to draw, a bad filter or method.
        ConfigError: The method's package is missing.
    """
    found = space_points(reg, space, parse_where(where))
    if not found.points:
        raise InvalidDataError(
            f"space {space!r} has no embeddings matching the filters; embed something or relax --where"
        )
    mat = found.vectors.astype(np.float64)
    if found.metric == "cosine":
        mat = mat / np.maximum(np.linalg.norm(mat, axis=1, keepdims=True), 1e-12)
    coords, explained = project(mat, method, seed)
    points = [
        MapPoint(p.name, p.kind, round(float(x), 6), round(float(y), 6), p.tags, p.format)
        for p, (x, y) in zip(found.points, coords, strict=True)
    ]
    return TaskMap(space, method, points, explained)
