"""Ingestion and query speed benchmarks (issue 7, sections 4-5): one command, JSON results.

Usage: python -m bench.speed [--quick] [--only query|ingest|transfer] [--out DIR]
Full mode writes bench/results/{ingest,query}.json; --quick (CI, a few minutes) writes
bench/results/quick/. Single-threaded BLAS/OpenMP unless set otherwise: one query is one thread,
and the machine is shared.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # before numpy/faiss load their thread pools

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

RESULTS = Path(__file__).parent / "results"
# (n, dim, data, with Chroma): clustered at every scale; uniform once, as the worst case for
# approximate search. Chroma only where its build fits the time on this machine (~2 min per 100k).
FULL_QUERY = [
    (10_000, 384, "clustered", True),
    (100_000, 384, "clustered", True),
    (10_000, 1024, "clustered", True),
    (100_000, 1024, "clustered", True),
    (100_000, 384, "uniform", True),  # issue 19: Chroma on uniform-like data too
    # Last: the largest memory (1M x 1024 floats = 4 GB per copy; the catalogue, the index and the
    # filter partitions hold several), so a failure there keeps every record before it.
    (1_000_000, 384, "clustered", False),
    (1_000_000, 1024, "clustered", False),
]
QUICK_QUERY = [(20_000, 384, "clustered", True)]


def log(msg: str) -> None:
    """Progress line with a UTC timestamp."""
    print(time.strftime("%H:%M:%S", time.gmtime()), msg, flush=True)


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "threads": os.environ.get("OMP_NUM_THREADS"),
        # Measured, not asserted: how busy the machine was (1, 5, 15-minute load averages) at the end.
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
    }


def run_query(
    out: Path,
    quick: bool,
    sizes: list[int] | None = None,
    n_queries: int | None = None,
    chroma_ok: bool = True,
    dims: list[int] | None = None,
    data: str | None = None,
) -> None:
    """Section 5: write query.json record by record (a partial run keeps what it measured)."""
    from bench.query_speed import run_config

    configs = QUICK_QUERY if quick else FULL_QUERY
    configs = [c for c in configs if sizes is None or c[0] in sizes]
    configs = [c for c in configs if dims is None or c[1] in dims]
    configs = [c for c in configs if data is None or c[2] == data]
    n_queries = n_queries or (300 if quick else 1000)
    records: list[dict[str, Any]] = []

    def save(partial: list[dict[str, Any]]) -> None:
        (out / "query.json").write_text(json.dumps(records + partial, indent=1) + "\n", encoding="utf-8")

    for n, dim, kind, chroma in configs:
        log(f"query: n={n} dim={dim} data={kind}")
        records += run_config(n, dim, kind, n_queries, n if chroma and chroma_ok else 0, 300, log, save)
        save([])
    (out / "query_machine.json").write_text(json.dumps(machine(), indent=1) + "\n", encoding="utf-8")


def run_ingest(out: Path, quick: bool) -> None:
    """Section 4: write ingest.json."""
    from bench.ingest_speed import run_ingest as ingest
    from bench.mte_speed import run_mte

    # Three alternating product / floor runs per method in full mode (medians); one in CI.
    result = ingest(n_examples=128 if quick else 1000, log=log, runs=1 if quick else 3)
    (out / "ingest.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    small = {"train_steps": 4, "grad_examples": 64} if quick else None
    result["mte"] = run_mte(64 if quick else 1000, 8 if quick else 60, log, small)
    result["machine"] = machine()
    (out / "ingest.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")


def main() -> None:
    """Parse arguments and run the selected benchmarks."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="reduced mode for CI (a few minutes)")
    ap.add_argument("--only", choices=["query", "ingest", "transfer"], default=None)
    ap.add_argument("--out", default=None, help="results folder (default bench/results[/quick])")
    ap.add_argument("--sizes", type=int, nargs="*", default=None, help="only these catalogue sizes")
    ap.add_argument("--queries", type=int, default=None, help="queries per record (default 1000, quick 300)")
    ap.add_argument("--no-chroma", action="store_true", help="skip the Chroma peer")
    ap.add_argument("--dims", type=int, nargs="*", default=None, help="only these dimensions")
    ap.add_argument("--data", choices=["clustered", "uniform"], default=None, help="only this data")
    args = ap.parse_args()
    out = Path(args.out) if args.out else (RESULTS / "quick" if args.quick else RESULTS)
    out.mkdir(parents=True, exist_ok=True)
    if args.only in (None, "query"):
        run_query(out, args.quick, args.sizes, args.queries, not args.no_chroma, args.dims, args.data)
    if args.only in (None, "ingest"):
        run_ingest(out, args.quick)
    if args.only in (None, "transfer"):
        from bench.transfer_speed import measure, write  # issue 14: transfer-aware query at scale

        write(out, measure(args.quick))


if __name__ == "__main__":
    main()
