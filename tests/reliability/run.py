"""Runner of the reliability suite: ``python -m tests.reliability.run [--full] [--parts a,b]``.

Runs the chosen parts through pytest (each part writes its figures as JSON under
``tests/reliability/results/`` in full mode, ``results/reduced/`` otherwise) and prints a summary.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

from tests.reliability.common import RESULTS, ROOT

PARTS = {
    "crash": "tests/reliability/test_crash.py",
    "concurrency": "tests/reliability/test_concurrency.py",
    "bad_input": "tests/reliability/test_bad_input.py",
    "migrations": "tests/reliability/test_migrations.py",
    "security": "tests/reliability/test_security.py",
}


def main(argv: list[str] | None = None) -> int:
    """Run the selected parts; returns pytest's exit code (0 when every part passed)."""
    parser = argparse.ArgumentParser(prog="python -m tests.reliability.run")
    parser.add_argument(
        "--full", action="store_true", help="full counts (100 crash trials, 60 s concurrency)"
    )
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated, of {', '.join(PARTS)}")
    parser.add_argument(
        "--budget-min", type=float, help="crash trials: stop starting new ones after N minutes"
    )
    args = parser.parse_args(argv)
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = set(parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown parts {sorted(unknown)}; choose from {', '.join(PARTS)}")
    env = {**os.environ, "FUTE_RELIABILITY_FULL": "1" if args.full else "0"}
    if args.budget_min:
        env["FUTE_RELIABILITY_BUDGET_S"] = str(args.budget_min * 60)
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *(PARTS[p] for p in parts)]
    code = subprocess.call(cmd, cwd=ROOT, env=env)
    folder = RESULTS if args.full else RESULTS / "reduced"
    for part in parts:
        path = folder / f"{part}.json"
        if path.exists():
            figures = json.loads(path.read_text(encoding="utf-8"))
            figures.pop("records", None)
            print(part, json.dumps(figures, sort_keys=True))
    return code


if __name__ == "__main__":
    sys.exit(main())
