"""Start-up time of read-only commands (issue 18): `fute --help`, `fute stats --json` and
`fute query sources --json` on a small registry, each in a fresh process, side by side with a bare
interpreter that imports the read path's own libraries (numpy, SQLAlchemy, faiss, pydantic-settings).

Usage: python -m bench.startup [--rounds 7] [--out bench/results/startup.json]
The rounds interleave every command, so load drifts hit all of them alike; medians are reported,
with each command's ratio to the bare-imports baseline and the load average before and after.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import RESULTS, write_json

GOAL_RATIO = 1.5  # issue 18: each command within 1.5x the bare imports
FUTE = str(Path(sys.executable).parent / "fute")
BASELINES = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "bare imports (numpy, sqlalchemy, faiss, pydantic-settings)": [
        sys.executable,
        "-c",
        "import numpy, sqlalchemy, faiss, pydantic_settings",
    ],
}


def build_registry(home: Path) -> str:
    """A small real registry: the starter datasets (32 examples each) embedded with TextEmb.

    Returns:
        The name of a dataset to query sources for.
    """
    from ingest.engine import Engine  # the builder may load torch; the timed commands must not
    from ingest.starter import register_starter
    from registry.api import Registry
    from registry.settings import Settings

    reg = Registry(Settings.build(home=home))
    reg.init()
    names = [str(d["name"]) for d in register_starter(reg, limit=32)]
    engine = Engine(reg)
    engine.create_space("textemb", "textemb")
    for name in names:
        engine.embed("textemb", name, "dataset")
    reg.close()
    return names[0]


def commands(home: Path, target: str, before: Path | None) -> dict[str, list[str]]:
    """Every timed command line, baselines first; with ``before``, the same commands of that
    checkout (run through its ``fute.cli.main`` on this interpreter) after ours."""
    at = ["--home", str(home)]
    argvs = {
        "fute --help": ["--help"],
        "fute stats --json": ["stats", "--json", *at],
        "fute query sources --json": ["query", "sources", "--target", target, "--json", *at],
    }
    out = {**BASELINES, **{label: [FUTE, *argv] for label, argv in argvs.items()}}
    if before is not None:
        run = f"import sys; sys.path.insert(0, {str(before)!r}); from fute.cli import main; sys.exit(main())"
        out |= {f"before: {label}": [sys.executable, "-c", run, *argv] for label, argv in argvs.items()}
    return out


def time_once(argv: list[str]) -> float:
    """Wall seconds of one run in a fresh process (its output discarded; a failure stops the bench)."""
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - start


def measure(cmds: dict[str, list[str]], rounds: int) -> dict[str, list[float]]:
    """`rounds` interleaved runs of every command (one warm-up round first, not kept)."""
    runs: dict[str, list[float]] = {label: [] for label in cmds}
    for r in range(rounds + 1):
        for label, argv in cmds.items():
            seconds = time_once(argv)
            if r:
                runs[label].append(seconds)
    return runs


def summarise(runs: dict[str, list[float]]) -> dict[str, Any]:
    """Medians, and each command's ratio to the bare-imports baseline."""
    medians = {label: statistics.median(ts) for label, ts in runs.items()}
    bare = medians[list(BASELINES)[1]]
    return {
        label: {
            "median_s": round(medians[label], 3),
            "runs_s": [round(t, 3) for t in ts],
            "ratio_to_bare_imports": round(medians[label] / bare, 2),
            "goal_met": None
            if label in BASELINES or label.startswith("before")
            else medians[label] <= GOAL_RATIO * bare,
        }
        for label, ts in runs.items()
    }


def main() -> None:
    """Build the registry, time the commands, write the JSON record."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--out", default=str(RESULTS / "startup.json"))
    ap.add_argument("--before", type=Path, help="another checkout (e.g. the commit before) timed alongside")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        target = build_registry(home)
        load_before = [round(x, 2) for x in os.getloadavg()]
        runs = measure(commands(home, target, args.before), args.rounds)
        load_after = [round(x, 2) for x in os.getloadavg()]
    record = {
        "benchmark": "startup",
        "goal": f"each command <= {GOAL_RATIO}x the bare imports, torch not imported",
        "rounds": args.rounds,
        "registry": f"starter datasets (32 examples each) in one TextEmb space; target {target}",
        "before": None if args.before is None else str(args.before),
        "results": summarise(runs),
        "load_average_before": load_before,
        "load_average_after": load_after,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    write_json(Path(args.out), record)
    for label, row in record["results"].items():
        print(f"{label:<60} {row['median_s']:>7.3f} s  x{row['ratio_to_bare_imports']}")


if __name__ == "__main__":
    main()
