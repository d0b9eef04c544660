"""Query speed and scale (issue 7, section 5): the registry's own search path against its peers.

For one (n, dim, data) configuration: build a real registry (SQLite rows, FAISS index built from
SQL), then for each index type (``flat`` exact, ``ivf`` approximate) and filter (none, 10 %, 1 %)
time single top-10 queries through ``Registry.search`` (SQL space look-up, in-memory filter
resolution with its validity check, FAISS or partition search, SQL hydration of the hits), and
beside them, on the same data and filters: numpy brute force on a pre-materialised subset (the
floor for exact filtered search) and Chroma (HNSW, ``where`` filter). Recall@10 is measured
against exact search on the same filter.
"""

from __future__ import annotations

import math
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bench.query_data import Catalogue, load_space, load_subjects, make_catalogue, make_vectors
from registry.api import Registry
from registry.filters import SearchFilter, allowed_embedding_ids
from registry.settings import Settings
from registry.spaces import get_space

K = 10
FILTERS: dict[str, tuple[float, SearchFilter | None]] = {
    "none": (1.0, None),
    "10%": (0.1, SearchFilter(tags_all=(("group", "g3"),))),
    "1%": (0.01, SearchFilter(tags_all=(("shard", "s42"),))),
}
NPROBES = (1, 2, 4, 8, 16, 32, 64, 128, 256)
TARGET_RECALL = 0.95


def masks(cat: Catalogue) -> dict[str, npt.NDArray[np.bool_] | None]:
    """Row masks equal to ``FILTERS`` (checked against SQL in ``check_masks``)."""
    return {"none": None, "10%": cat.group == 3, "1%": cat.shard == 42}


def timed(fn: Callable[[int], Any], n: int) -> tuple[list[float], list[Any]]:
    """Call fn(i) for i < n; returns per-call milliseconds and results."""
    times, out = [], []
    for i in range(n):
        start = time.perf_counter_ns()
        out.append(fn(i))
        times.append((time.perf_counter_ns() - start) / 1e6)
    return times, out


def pct(times: list[float]) -> dict[str, float]:
    """p50 and p99 in milliseconds."""
    return {
        "p50_ms": round(float(np.percentile(times, 50)), 4),
        "p99_ms": round(float(np.percentile(times, 99)), 4),
    }


def recall(found: list[npt.NDArray[np.int64]], truth: npt.NDArray[np.int64]) -> float:
    """Mean recall@10 of found row ids against exact top-10 rows."""
    hits = [
        len(set(f.tolist()) & set(t.tolist())) / max(1, min(K, len(t)))
        for f, t in zip(found, truth, strict=False)
    ]
    return round(float(np.mean(hits)), 4)


def exact_truth(
    x: npt.NDArray[np.float32], rows: npt.NDArray[np.int64], q: npt.NDArray[np.float32]
) -> npt.NDArray[np.int64]:
    """Exact top-10 rows of every query among ``rows`` (batched matrix product)."""
    out = np.zeros((len(q), K), dtype=np.int64)
    for start in range(0, len(q), 256):
        scores = q[start : start + 256] @ x[rows].T if len(rows) < len(x) else q[start : start + 256] @ x.T
        top = np.argpartition(-scores, K - 1, axis=1)[:, :K]
        out[start : start + 256] = rows[top] if len(rows) < len(x) else top
    return out


def numpy_subset(x: npt.NDArray[np.float32], mask: npt.NDArray[np.bool_] | None) -> Callable[[Any], Any]:
    """numpy brute force on the pre-materialised subset (materialised here, outside any timing)."""
    rows = np.arange(len(x)) if mask is None else np.flatnonzero(mask)
    sub = x if mask is None else np.ascontiguousarray(x[rows])
    return lambda query: rows[np.argpartition(-(sub @ query), K - 1)[:K]]


def interleaved(
    reg: Registry,
    name: str,
    flt: SearchFilter | None,
    q: Any,
    nprobe: int | None,
    peer: Callable[[Any], Any],
    n_peer: int,
) -> dict[str, Any]:
    """Per query, back to back: ``Registry.search``, ``Registry.search_ids`` and the numpy peer.

    Interleaving makes the comparison fair on a shared machine whose load changes by the minute.
    """
    reg.search(name, q[0], k=K, flt=flt, nprobe=nprobe)  # warm: index load, filter columns
    wall: dict[str, list[float]] = {"full": [], "explain": [], "core": [], "numpy": []}
    cpu: dict[str, list[float]] = {"full": [], "explain": [], "core": [], "numpy": []}
    found = []

    def full(i: int, provenance: bool) -> Any:
        return reg.search(name, q[i], k=K, flt=flt, nprobe=nprobe, provenance=provenance)[0]

    # "full" is a query's path without --explain (no provenance read), "explain" the path with it.
    calls = {
        "full": lambda i: found.append(np.asarray([h.subject_id - 1 for h in full(i, False)])),
        "explain": lambda i: full(i, True),
        "core": lambda i: reg.search_ids(name, q[i], k=K, flt=flt, nprobe=nprobe),
        "numpy": lambda i: peer(q[i]),
    }
    for i in range(len(q)):
        for label, call in calls.items():
            if label == "numpy" and i >= n_peer:
                continue
            # Wall time, and this thread's CPU time: on a shared machine the latter is what the
            # code costs, the former adds however long the scheduler kept it waiting.
            w0, c0 = time.perf_counter_ns(), time.thread_time_ns()
            call(i)
            cpu[label].append((time.thread_time_ns() - c0) / 1e6)
            wall[label].append((time.perf_counter_ns() - w0) / 1e6)
    ratio = float(np.median(np.asarray(wall["core"][:n_peer]) / np.asarray(wall["numpy"])))
    full_ratio = float(np.median(np.asarray(wall["full"][:n_peer]) / np.asarray(wall["numpy"])))
    cpu_ratio = float(np.median(np.asarray(cpu["core"][:n_peer]) / np.asarray(cpu["numpy"])))
    return {
        "full": wall["full"],
        "explain": wall["explain"],
        "core": wall["core"],
        "numpy": wall["numpy"],
        "found": found,
        "cpu": cpu,
        "core_over_numpy": round(ratio, 3),
        "full_over_numpy": round(full_ratio, 3),
        "core_over_numpy_cpu": round(cpu_ratio, 3),
    }


def sql_filter_ms(reg: Registry, name: str, flt: SearchFilter, reps: int = 20) -> float:
    """p50 of the old per-query SQL resolution (``allowed_embedding_ids``), for comparison."""

    def one(_: int) -> int:
        with reg.db.read() as session:
            return len(allowed_embedding_ids(session, get_space(session, name).id, flt))

    return round(float(np.median(timed(one, reps)[0])), 3)


def calibrate_nprobe(
    reg: Registry, name: str, cal: npt.NDArray[np.float32], truth: npt.NDArray[np.int64]
) -> tuple[int, float]:
    """Smallest nprobe whose unfiltered recall@10 on calibration queries reaches the target."""
    for nprobe in NPROBES:
        found = [
            np.asarray([h.subject_id - 1 for h in hits]) for hits in reg.search(name, cal, k=K, nprobe=nprobe)
        ]
        r = recall(found, truth)
        if r >= TARGET_RECALL + 0.01 or nprobe == NPROBES[-1]:
            return nprobe, r
    raise AssertionError("unreachable")


def nlist_for(n: int) -> int:
    """IVF lists: about sqrt(n), at most 1,024 (training cost on this machine)."""
    return int(min(1024, max(16, round(math.sqrt(n)))))


def run_config(
    n: int,
    dim: int,
    data: str,
    n_queries: int,
    chroma_max: int,
    peer_queries: int,
    log: Callable[[str], None],
    sink: Callable[[list[dict[str, Any]]], None] = lambda records: None,
) -> list[dict[str, Any]]:
    """Every record of one (n, dim, data) configuration (``sink`` sees each index type's records
    as soon as they exist, so an interrupted run keeps them)."""
    cat = make_catalogue(n, dim, data)
    qall = make_vectors(n_queries + 200, dim, data, seed=99, n_centres_of=n)
    q, cal = qall[:n_queries], qall[n_queries:]
    home = Path(tempfile.mkdtemp(prefix=f"fute-qbench-{n}-{dim}-"))
    try:
        reg = Registry(Settings.build(home=home))
        reg.init()
        t0 = time.perf_counter()
        load_subjects(reg, cat)
        log(f"  subjects loaded in {time.perf_counter() - t0:.1f}s")
        ms = masks(cat)
        truths = {
            label: exact_truth(cat.vectors, np.arange(n) if m is None else np.flatnonzero(m), q)
            for label, m in ms.items()
        }
        peers = {label: numpy_subset(cat.vectors, m) for label, m in ms.items()}
        n_peer = {
            label: n_queries if m is not None else min(peer_queries, n_queries) for label, m in ms.items()
        }
        chroma = chroma_peer(cat, q, truths, min(peer_queries, n_queries), log) if n <= chroma_max else {}
        records = []
        for index_type in ("flat", "ivf"):
            records += _index_records(reg, cat, index_type, (q, cal), truths, (peers, n_peer), chroma, log)
            sink(records)
        reg.close()
        return records
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _index_records(
    reg: Registry,
    cat: Catalogue,
    index_type: str,
    queries: tuple[Any, Any],
    truths: dict[str, Any],
    peers: tuple[dict[str, Any], dict[str, int]],
    chroma: dict[str, Any],
    log: Callable[[str], None],
) -> list[dict[str, Any]]:
    """The three filter records of one index type (the space is freed afterwards)."""
    (n, dim), (q, cal) = cat.vectors.shape, queries
    t0 = time.perf_counter()
    load_space(reg, index_type, cat, index_type, nlist_for(n))
    log(f"  {index_type} space loaded and indexed in {time.perf_counter() - t0:.1f}s")
    nprobe, cal_recall = None, None
    if index_type == "ivf":
        nprobe, cal_recall = calibrate_nprobe(
            reg, index_type, cal, exact_truth(cat.vectors, np.arange(n), cal)
        )
        log(f"  nprobe={nprobe} (calibration recall {cal_recall})")
    out = []
    for label, (share, flt) in FILTERS.items():
        t0 = time.perf_counter()
        reg.search(index_type, q[0], k=K, flt=flt, nprobe=nprobe)  # builds the filter columns
        warm_s = time.perf_counter() - t0
        run = interleaved(reg, index_type, flt, q, nprobe, peers[0][label], peers[1][label])
        core, numpy_t = pct(run["core"]), pct(run["numpy"])
        rec = {
            "n": n,
            "dim": dim,
            "data": cat.data,
            "index": index_type,
            "selectivity": share,
            **pct(run["full"]),
            "recall_at_10": recall(run["found"], truths[label]),
            "n_queries": len(q),
            "core_p50_ms": core["p50_ms"],
            "core_p99_ms": core["p99_ms"],
            "core_over_numpy_p50": run["core_over_numpy"],
            "full_over_numpy_p50": run["full_over_numpy"],
            "explain_p50_ms": pct(run["explain"])["p50_ms"],
            "cpu_p50_ms": pct(run["cpu"]["full"])["p50_ms"],
            "core_cpu_p50_ms": pct(run["cpu"]["core"])["p50_ms"],
            "core_cpu_p99_ms": pct(run["cpu"]["core"])["p99_ms"],
            "core_over_numpy_cpu_p50": run["core_over_numpy_cpu"],
            "nprobe": nprobe,
            "nlist": nlist_for(n) if index_type == "ivf" else None,
            "calibration_recall": cal_recall,
            "first_query_s": round(warm_s, 3),
            "plan": reg.search_plan(index_type, flt, nprobe),  # issue 19: the path that ran
            "sql_filter_p50_ms": sql_filter_ms(reg, index_type, flt) if flt is not None else None,
            "peers": {
                "numpy_subset": {
                    **numpy_t,
                    "cpu_p50_ms": pct(run["cpu"]["numpy"])["p50_ms"],
                    "n_queries": len(run["numpy"]),
                },
                **({"chroma": chroma[label]} if label in chroma else {}),
            },
        }
        log(
            f"  {index_type} {label}: p50 {rec['p50_ms']} (explain {rec['explain_p50_ms']}, full/numpy {run['full_over_numpy']}) core {core['p50_ms']} ms p99 {rec['p99_ms']} recall {rec['recall_at_10']} | numpy {numpy_t['p50_ms']} | core/numpy {run['core_over_numpy']} cpu {run['core_over_numpy_cpu']} (core cpu {rec['core_cpu_p50_ms']}) | chroma {chroma.get(label)}"
        )
        out.append(rec)
    with reg.db.read() as session:
        space_id = get_space(session, index_type).id
    reg.filters.forget(space_id)  # free partitions and the index before the next space
    reg.indexes.forget(space_id)
    return out


def chroma_peer(
    cat: Catalogue, q: Any, truths: dict[str, Any], n_queries: int, log: Callable[[str], None]
) -> dict[str, Any]:
    """Chroma (HNSW, cosine) on the same vectors and metadata; empty when chromadb is missing."""
    try:
        import chromadb
        from chromadb.config import Settings as ChromaSettings
    except ImportError:
        log("  chromadb not installed: no Chroma peer (pip install -e '.[bench]')")
        return {}
    client = chromadb.EphemeralClient(settings=ChromaSettings(anonymized_telemetry=False))
    col = client.create_collection(
        f"bench{len(cat.vectors)}", embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
    )
    t0 = time.perf_counter()
    batch = client.get_max_batch_size()
    for start in range(0, len(cat.vectors), batch):
        rows = range(start, min(len(cat.vectors), start + batch))
        metas = [
            {"kind": str(cat.kinds[i]), "group": f"g{cat.group[i]}", "shard": f"s{cat.shard[i]}"}
            for i in rows
        ]
        col.add(ids=[str(i) for i in rows], embeddings=cat.vectors[start : rows.stop], metadatas=metas)  # type: ignore[arg-type]
    log(f"  chroma built in {time.perf_counter() - t0:.1f}s")
    wheres = {"none": None, "10%": {"group": "g3"}, "1%": {"shard": "s42"}}
    out = {}
    for label, where in wheres.items():

        def one(i: int, where: Any = where) -> npt.NDArray[np.int64]:
            res = col.query(query_embeddings=q[i : i + 1], n_results=K, where=where, include=[])
            return np.asarray([int(x) for x in res["ids"][0]], dtype=np.int64)

        c0 = time.process_time()
        times, found = timed(one, n_queries)
        cpu_ms = (time.process_time() - c0) / n_queries * 1e3  # all threads: Chroma's are its own
        out[label] = {
            **pct(times),
            "cpu_mean_ms": round(cpu_ms, 4),
            "recall_at_10": recall(found, truths[label][:n_queries]),
            "n_queries": n_queries,
        }
    client.delete_collection(col.name)
    return out
