"""Synthetic catalogues for the query-speed benchmark: clustered (or uniform) unit vectors with
realistic metadata, loaded into a real registry (SQL rows + FAISS index built from SQL).

Vectors: a mixture of Gaussian clusters on the unit sphere (``n_centres`` random unit centres, each
point = centre + isotropic noise of norm ``noise``, re-normalised), so a point's true neighbours
(its cluster) are clearly nearer than the bulk. ``uniform`` draws i.i.d. unit vectors: every point
is nearly equidistant, the worst case for approximate indexes.

Metadata, drawn independently of the geometry (so a filter does not select whole clusters):
kind (90 % dataset, 8 % model, 2 % prompt), task format (4 values, datasets only), and tags
``group`` = g0..g9 (10 % each), ``shard`` = s0..s99 (1 % each), ``lang`` (3 values).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import insert

from registry.api import Registry
from registry.models import Dataset, Embedding, ModelEntry, Prompt, Subject, Tag
from registry.spaces import SpaceConfig, get_space

FORMATS = ("classification", "nli", "regression", "multiple-choice")
LANGS = ("en", "de", "fr")
CHUNK = 20_000


@dataclass
class Catalogue:
    """Vectors and metadata of one synthetic catalogue (row i = subject i)."""

    data: str
    vectors: npt.NDArray[np.float32]
    kinds: npt.NDArray[np.str_]
    formats: npt.NDArray[np.int64]
    group: npt.NDArray[np.int64]
    shard: npt.NDArray[np.int64]
    lang: npt.NDArray[np.int64]


def unit_rows(x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Rows scaled to unit L2 norm, in place."""
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def make_vectors(
    n: int, dim: int, data: str, seed: int, noise: float = 0.6, n_centres_of: int | None = None
) -> npt.NDArray[np.float32]:
    """n unit vectors: ``clustered`` (1,000 centres, or n/10 when smaller) or ``uniform``.

    ``n_centres_of``: draw from the centres of a catalogue of that size (queries for it).
    """
    rng = np.random.default_rng(seed)
    out = rng.standard_normal((n, dim), dtype=np.float32)
    if data == "uniform":
        return unit_rows(out)
    centres = unit_rows(
        np.random.default_rng(12345).standard_normal(
            (min(1000, max((n_centres_of or n) // 10, 1)), dim), dtype=np.float32
        )
    )
    out *= noise / np.sqrt(dim)  # noise of norm ~ ``noise``: same-cluster cosine ~ 0.75, others ~ 0
    for start in range(0, n, CHUNK):
        stop = min(n, start + CHUNK)
        out[start:stop] += centres[rng.integers(len(centres), size=stop - start)]
    return unit_rows(out)


def make_catalogue(n: int, dim: int, data: str, seed: int = 0) -> Catalogue:
    """Vectors plus independently drawn metadata."""
    rng = np.random.default_rng(seed + 1)
    kinds = rng.choice(np.array(["dataset", "model", "prompt"]), size=n, p=[0.9, 0.08, 0.02])
    return Catalogue(
        data=data,
        vectors=make_vectors(n, dim, data, seed),
        kinds=kinds,
        formats=rng.integers(len(FORMATS), size=n),
        group=rng.integers(10, size=n),
        shard=rng.integers(100, size=n),
        lang=rng.integers(len(LANGS), size=n),
    )


def load_subjects(reg: Registry, cat: Catalogue) -> list[int]:
    """Bulk-insert the subjects (with their kind rows and tags); returns subject ids by row.

    Core ``INSERT``s in chunks: the ORM path would take an hour at 1M rows, and what is measured
    here is the query path, not catalogue writes.
    """
    n = len(cat.kinds)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    ids = list(range(1, n + 1))
    llm = int(np.flatnonzero(cat.kinds == "model")[0]) + 1 if (cat.kinds == "model").any() else None
    with reg.db.transaction() as session:
        for start in range(0, n, CHUNK):
            rows = range(start, min(n, start + CHUNK))
            subj = [
                {
                    "id": i + 1,
                    "kind": str(cat.kinds[i]),
                    "name": f"s{i}",
                    "created_at": t0 + timedelta(seconds=i),
                }
                for i in rows
            ]
            session.execute(insert(Subject.__table__), subj)
            _kind_rows(session, cat, rows, llm)
            tags = []
            for i in rows:
                tags += [
                    {"subject_id": i + 1, "key": "group", "value": f"g{cat.group[i]}"},
                    {"subject_id": i + 1, "key": "shard", "value": f"s{cat.shard[i]}"},
                    {"subject_id": i + 1, "key": "lang", "value": LANGS[cat.lang[i]]},
                ]
            session.execute(insert(Tag.__table__), tags)
    return ids


def _kind_rows(session: Any, cat: Catalogue, rows: range, llm: int | None) -> None:
    """The joined-table rows of datasets, models and prompts."""
    ds = [
        {
            "id": i + 1,
            "source": "bench",
            "task_format": FORMATS[cat.formats[i]],
            "label_set": None,
            "n_examples": 1000,
            "content_hash": f"h{i}",
            "sampling": None,
        }
        for i in rows
        if cat.kinds[i] == "dataset"
    ]
    models = [
        {"id": i + 1, "source": "bench", "model_kind": "classifier", "label_set": None}
        for i in rows
        if cat.kinds[i] == "model"
    ]
    prompts = [
        {"id": i + 1, "template": "{text}", "verbalizers": ["a", "b"], "llm_id": llm}
        for i in rows
        if cat.kinds[i] == "prompt"
    ]
    for table, payload in (
        (Dataset.__table__, ds),
        (ModelEntry.__table__, models),
        (Prompt.__table__, prompts),
    ):
        if payload:
            session.execute(insert(table), payload)


def load_space(reg: Registry, name: str, cat: Catalogue, index_type: str, nlist: int) -> None:
    """Create a space, bulk-insert one embedding per subject, and build its index from SQL."""
    dim = cat.vectors.shape[1]
    params = {"bench": name, "ivf_nlist": nlist, "ivf_min_train": 1024}
    reg.create_space(
        SpaceConfig(
            name=name, surrogate="bench", method="bench", dim=dim, params=params, index_type=index_type
        )
    )
    with reg.db.transaction() as session:
        space_id = get_space(session, name).id
        for start in range(0, len(cat.vectors), CHUNK):
            stop = min(len(cat.vectors), start + CHUNK)
            rows = [
                {
                    "space_id": space_id,
                    "subject_id": i + 1,
                    "vector": cat.vectors[i].tobytes(),
                    "provenance": {},
                }
                for i in range(start, stop)
            ]
            session.execute(insert(Embedding.__table__), rows)
    reg.rebuild(name)
