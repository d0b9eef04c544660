"""Transfer-aware query speed at scale (issue 14): a registry of 10k datasets and 1M recorded
results; one ``query_sources`` call (the product path: freshness tokens, prepared matrices, scoring,
filter resolution, hydration) timed cold (first call of a process) and warm (median over targets).

Usage: python -m bench.transfer_speed [--quick] [--out DIR]; also run by ``python -m bench.speed``.
Adds (or replaces) the record ``{"record": "transfer_aware", ...}`` in ``query.json``. Vectors and
scores are seeded random numbers: this measures speed, not quality.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import insert

from query.service import QueryOptions, query_sources
from registry.api import EmbeddingItem, Registry
from registry.models import Dataset, TransferResult
from registry.settings import Settings
from registry.spaces import SpaceConfig
from registry.subjects import add_subject

RESULTS = Path(__file__).parent / "results"
FULL = {"n_datasets": 10_000, "n_results": 1_000_000, "dim": 384, "n_queries": 100}
QUICK = {"n_datasets": 1_000, "n_results": 50_000, "dim": 384, "n_queries": 30}


def build(home: Path, n: int, n_results: int, dim: int, seed: int = 0) -> Registry:
    """A registry with ``n`` datasets (two formats, a tag on 10 %), vectors and random results.

    Bulk SQL inserts for the results: the row-by-row importer would dominate the set-up time; the
    rows are the same ones ``fute transfer import`` stores.
    """
    rng = np.random.default_rng(seed)
    reg = Registry(Settings.build(home=home))
    reg.init()
    reg.create_space(SpaceConfig(name="s", surrogate="random", method="probe-text", dim=dim))
    with reg.db.transaction() as session:
        ids = [
            add_subject(
                session,
                Dataset(
                    name=f"d{i}",
                    source="bench",
                    task_format="classification" if i % 2 else "pair-classification",
                    n_examples=100,
                    content_hash=f"h{i}",
                ),
                [("family", "rare")] if i % 10 == 0 else [],
            ).id
            for i in range(n)
        ]
    vectors = rng.standard_normal((n, dim)).astype(np.float32)
    reg.put_embeddings("s", [EmbeddingItem(i, v) for i, v in zip(ids, vectors, strict=True)])
    per_target = n_results // n
    rows = []
    for t in range(n):
        for s in rng.choice(n - 1, size=per_target, replace=False):
            source = int(s) + (int(s) >= t)  # never the target itself
            rows.append(
                {"source_id": ids[source], "target_id": ids[t], "score": float(rng.normal()), "setting": "x"}
            )
    with reg.db.transaction() as session:
        for start in range(0, len(rows), 100_000):
            session.execute(insert(TransferResult), rows[start : start + 100_000])
    return reg


def timed(reg: Registry, target: str, where: tuple[tuple[str, str], ...]) -> float:
    """Milliseconds of one transfer-aware ``query_sources`` call (k = 10)."""
    start = time.perf_counter()
    out = query_sources(reg, target, QueryOptions(k=10, where=where))
    assert out["query"]["ranking"]["mode"] == "transfer"
    return (time.perf_counter() - start) * 1000


def measure(quick: bool) -> dict[str, Any]:
    """Build the registry in a temporary home, then time cold and warm queries."""
    cfg = QUICK if quick else FULL
    with tempfile.TemporaryDirectory(prefix="fute-transfer-speed-") as tmp:
        start = time.perf_counter()
        reg = build(Path(tmp), cfg["n_datasets"], cfg["n_results"], cfg["dim"])
        setup_s = time.perf_counter() - start
        cold_ms = timed(reg, "d1", ())
        targets = [f"d{i}" for i in range(3, cfg["n_datasets"], cfg["n_datasets"] // cfg["n_queries"])]
        warm = [timed(reg, t, ()) for t in targets]
        filtered = [timed(reg, t, (("family", "rare"),)) for t in targets]
        reg.close()
    return {
        "record": "transfer_aware",
        **cfg,
        "cold_first_query_ms": round(cold_ms, 1),
        "warm_p50_ms": round(statistics.median(warm), 2),
        "warm_p99_ms": round(float(np.percentile(warm, 99)), 2),
        "filtered_10pct_p50_ms": round(statistics.median(filtered), 2),
        "filtered_10pct_p99_ms": round(float(np.percentile(filtered, 99)), 2),
        "setup_s": round(setup_s, 1),
        "goal_ms": 50,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def write(out: Path, record: dict[str, Any]) -> None:
    """Replace the ``transfer_aware`` record of ``query.json`` (other records kept)."""
    path = out / "query.json"
    records = json.loads(path.read_text(encoding="utf-8")) if path.exists() else []
    records = [r for r in records if r.get("record") != "transfer_aware"] + [record]
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(records, indent=1) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    """Entry point."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    out = args.out or (RESULTS / "quick" if args.quick else RESULTS)
    record = measure(args.quick)
    write(out, record)
    print(json.dumps(record))


if __name__ == "__main__":
    main()
