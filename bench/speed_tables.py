"""Markdown tables of bench/results/{query,ingest}.json for docs/BENCHMARKS.md.

Usage: python -m bench.speed_tables [results folder]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"


def _f(value: Any, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def query_table(records: list[dict[str, Any]]) -> str:
    """One row per record: our path (full and core; wall and CPU), the numpy floor, Chroma."""
    head = (
        "| N | dim | data | index | filter | full p50 ms (p99) | core p50 ms (p99) | core CPU p50 ms |"
        " numpy subset p50 ms (CPU) | core / numpy, CPU | recall@10 | SQL id filter p50 ms (old path) |"
        " Chroma p50 ms (recall@10) |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    rows = []
    for r in (r for r in records if "peers" in r):  # other records (transfer_aware) have own tables
        chroma = r["peers"].get("chroma")
        ch = f"{_f(chroma['p50_ms'])} ({_f(chroma['recall_at_10'])})" if chroma else "–"
        index = r["index"] + (f" nprobe={r['nprobe']}/{r['nlist']}" if r.get("nprobe") else "")
        peer = r["peers"]["numpy_subset"]
        rows.append(
            f"| {r['n']:,} | {r['dim']} | {r['data']} | {index} | {int(r['selectivity'] * 100)}% |"
            f" {_f(r['p50_ms'])} ({_f(r['p99_ms'])}) | {_f(r['core_p50_ms'])} ({_f(r['core_p99_ms'])}) |"
            f" {_f(r.get('core_cpu_p50_ms'), 3)} | {_f(peer['p50_ms'], 3)} ({_f(peer.get('cpu_p50_ms'), 3)}) |"
            f" {_f(r.get('core_over_numpy_cpu_p50'))} | {_f(r['recall_at_10'], 3)} |"
            f" {_f(r.get('sql_filter_p50_ms'))} | {ch} |"
        )
    return head + "\n".join(rows) + "\n"


def ingest_table(result: dict[str, Any]) -> str:
    """One row per method."""
    head = (
        "| method | n | product s (CPU s) | raw-torch floor s (CPU s) | wall ratio | CPU ratio (goal) |"
        " peak RSS MB |\n|---|---|---|---|---|---|---|\n"
    )
    rows = [
        f"| {m} | {r['n_examples']} | {_f(r['seconds'], 1)} ({_f(r.get('cpu_seconds'), 1)}) |"
        f" {_f(r['floor_seconds'], 1)} ({_f(r.get('floor_cpu_seconds'), 1)}) | {_f(r['ratio'])} |"
        f" {_f(r.get('cpu_ratio'))} (<= {r['goal_ratio']}) | {_f(r['peak_rss_mb'], 0)} |"
        for m, r in result.items()
        if isinstance(r, dict) and "ratio" in r
    ]
    return head + "\n".join(rows) + "\n" + mte_table(result.get("mte"))


def mte_table(mte: dict[str, Any] | None) -> str:
    """MTE rows (classifier, prompt): cold time, the black box's part, time with cached outputs."""
    if not mte:
        return ""
    head = (
        f"\nMTE over {mte['n_probes']} probes:\n\n| subject | MTE s (cold) | black box s (share) |"
        " MTE s with cached black-box outputs |\n|---|---|---|---|\n"
    )
    rows = [
        f"| {label} | {_f(r['seconds'], 1)} | {_f(r['blackbox_seconds'], 1)} ({_f(r['blackbox_share'])}) |"
        f" {_f(r['cached_seconds'], 1)} |"
        for label, r in mte.items()
        if isinstance(r, dict) and "blackbox_seconds" in r
    ]
    return head + "\n".join(rows) + "\n"


def main() -> None:
    """Print the tables of whatever results exist."""
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else RESULTS
    if (folder / "query.json").exists():
        print(query_table(json.loads((folder / "query.json").read_text())))
    if (folder / "ingest.json").exists():
        print(ingest_table(json.loads((folder / "ingest.json").read_text())))


if __name__ == "__main__":
    main()
