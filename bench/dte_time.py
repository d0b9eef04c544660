"""Time a 1,000-example DTE per method on this machine (median of N runs, default hyper-parameters).

Usage: python -m bench.dte_time [--task rte] [--runs 3] [--shared ../shared]
Writes bench/results/dte_time.json. Reads task data from ../shared (benchmarks only).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import torch

from ingest.formats import ColumnMap, normalise
from ingest.methods.table import embed, method_params
from ingest.sources import load_table
from ingest.surrogate import DEFAULT_SURROGATE, load_surrogate

METHODS = {
    "textemb": ("textemb", {}),
    "taskemb-fute": ("taskemb", {"variant": "fute"}),
    "taskemb-fisher": ("taskemb", {"variant": "fisher"}),
    "tupate": ("tupate", {}),
}


def main() -> None:
    """Run the benchmark and write its JSON result."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--task", default="rte")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--shared", default=str(Path(__file__).resolve().parents[2] / "shared"))
    args = ap.parse_args()
    table = load_table(str(Path(args.shared) / "datasets" / "taskweb" / f"{args.task}.jsonl"))
    data = normalise(table.rows, table.columns, None, ColumnMap())
    examples = data.examples[:1000]
    sur = load_surrogate(DEFAULT_SURROGATE)
    results = {}
    for label, (method, overrides) in METHODS.items():
        params = method_params(method, overrides)
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            embed(sur, method, params, data.task_format, examples, len(data.label_set or [0]))
            times.append(time.perf_counter() - start)
        results[label] = {
            "median_s": round(statistics.median(times), 2),
            "runs_s": [round(t, 2) for t in times],
            "params": params.to_dict(),
        }
        print(label, results[label]["median_s"], flush=True)
    out = {
        "task": args.task,
        "n_examples": len(examples),
        "format": data.task_format,
        "results": results,
        "machine": {
            "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
    }
    path = Path(__file__).parent / "results" / "dte_time.json"
    path.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
