"""A fresh process's first query (issue 19): `fute query similar NAME --where ...` in a new process.

Builds (once, reusing it on a rerun) a real registry of ``n`` synthetic subjects with one exact
space holding ``n`` vectors of ``dim`` dimensions (SQLite rows, published FAISS snapshot), then runs
each command in a fresh interpreter through ``bench.fresh_child``, which imports the read path's
libraries first and times only what comes after: the CLI's own work (settings, SQL probe, index
load, filter resolution, search, hydration, printing). ``fresh_process_ms`` is that time; the
import time and the whole process's wall time are reported beside it.

The first round after the build is the cold one (no persisted filter structures yet where the
product writes them lazily); later rounds show what every further process pays. Rounds interleave
the filters so load drifts hit them alike; medians are reported with the load average.

Usage: python -m bench.fresh_query [--n 100000] [--dim 384] [--rounds 5] [--out PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import RESULTS, write_json

GOAL_S = 1.0  # issue 19: first filtered query at 1M x 384 within 1.0 s beyond start and imports
WHERE = {"none": [], "10%": ["--where", "group=g3"], "1%": ["--where", "shard=s42"]}


def build(home: Path, n: int, dim: int) -> float:
    """Build the registry at ``home`` unless a finished one is there; returns build seconds (0 when reused)."""
    done = home / "BUILT"
    if done.exists():
        return 0.0
    from bench.query_data import load_space, load_subjects, make_catalogue
    from registry.api import Registry
    from registry.settings import Settings

    t0 = time.perf_counter()
    reg = Registry(Settings.build(home=home))
    reg.init()
    cat = make_catalogue(n, dim, "clustered")
    load_subjects(reg, cat)
    load_space(reg, "flat", cat, "flat", 256)
    reg.close()
    done.write_text("ok\n")
    return time.perf_counter() - t0


def run_child(home: Path, where: list[str]) -> dict[str, float]:
    """One fresh process; returns its own import and command seconds and its wall seconds."""
    cmd = [sys.executable, "-m", "bench.fresh_child", "query", "similar", "s17", "--space", "flat"]
    cmd += ["--home", str(home), "--json", "-k", "10", *where]
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - t0
    timing = json.loads(out.stderr.strip().splitlines()[-1])
    hits = json.loads(out.stdout)["results"]
    if len(hits) != 10:
        raise RuntimeError(f"expected 10 hits, got {len(hits)}")
    return {"wall_s": wall, **timing}


def measure(home: Path, rounds: int) -> dict[str, Any]:
    """Interleaved rounds over the filters; the first round is reported apart."""
    runs: dict[str, list[dict[str, float]]] = {label: [] for label in WHERE}
    for _ in range(rounds + 1):
        for label, where in WHERE.items():
            runs[label].append(run_child(home, where))
    out = {}
    for label, rs in runs.items():
        warm = rs[1:]
        out[label] = {
            "first_run_command_ms": round(rs[0]["command_s"] * 1000, 1),
            "fresh_process_ms": round(statistics.median(r["command_s"] for r in warm) * 1000, 1),
            "import_ms": round(statistics.median(r["import_s"] for r in warm) * 1000, 1),
            "wall_ms": round(statistics.median(r["wall_s"] for r in warm) * 1000, 1),
            "rounds": len(warm),
        }
    return out


def main() -> None:
    """Run one (n, dim) configuration and write its record."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--home", type=Path, default=None, help="registry to build or reuse")
    ap.add_argument("--label", default="after")
    ap.add_argument("--out", type=Path, default=RESULTS / "fresh_query.json")
    args = ap.parse_args()
    home = args.home or Path(f"/tmp/fute-fresh-{args.n}-{args.dim}")
    built_s = build(home, args.n, args.dim)
    load_before = os.getloadavg()
    record = {
        "n": args.n,
        "dim": args.dim,
        "label": args.label,
        "build_s": round(built_s, 1),
        "filters": measure(home, args.rounds),
        "load_avg_before": [round(x, 2) for x in load_before],
        "load_avg_after": [round(x, 2) for x in os.getloadavg()],
        "goal_s": GOAL_S,
    }
    old = json.loads(args.out.read_text()) if args.out.exists() else {"records": []}
    keep = [r for r in old["records"] if (r["n"], r["dim"], r["label"]) != (args.n, args.dim, args.label)]
    write_json(args.out, {"records": [*keep, record]})
    print(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
