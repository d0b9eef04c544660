"""Quality benchmarks of issue 7, sections 1-3: TaskWeb source ranking, the unified space, sketch
fidelity. One command: ``python -m bench.quality`` (full; ``make bench``) or ``--quick`` (CI).

Usage: python -m bench.quality [--quick] [--parts taskweb,sketch,models,prompts] [--home DIR]
                               [--threads N]

Writes ``bench/results/{taskweb,unified,sketch}.json`` (``--quick``: under ``bench/results/quick``)
and checks their shape before exiting (exit 1 on a malformed file). Work happens in a registry home
(SQLite + FAISS): a temporary one by default; with ``--home`` it is kept, and a rerun resumes,
skipping every vector already stored. The order puts what other parts need first: the
``taskemb-fute`` space (its statistics feed the sketch check, its DTEs the classifier MTEs), then
the sketch, the classifiers, the other spaces (``taskweb.json`` is rewritten after each), the prompts.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.common import (
    RunConfig,
    SpaceSpec,
    full_config,
    has_vector,
    open_registry,
    quick_config,
    reduced_config,
    register_tasks,
    say,
    shared_dir,
    write_json,
)
from bench.schema import check_sketch, check_taskweb, check_transfer, check_unified
from bench.sketch_fidelity import StatisticCapture, capturing, fidelity
from bench.taskweb_data import BASELINES
from bench.taskweb_quality import FUSED, FUSED_NEW, embed_space, score_all, taskweb_gold
from bench.transfer_quality import run_transfer
from bench.unified import ensure_probe_set, run_models, run_prompts
from ingest.engine import Engine

PARTS = ("taskweb", "transfer", "sketch", "models", "prompts")
FUTE_SPACE = "taskemb-fute"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    ap = argparse.ArgumentParser(description="Quality benchmarks (issue 7, sections 1-3).")
    ap.add_argument("--quick", action="store_true", help="reduced CI mode (bench/results/quick/)")
    ap.add_argument("--reduced", action="store_true", help="all tasks, smaller DTE budgets (busy machine)")
    ap.add_argument("--sketch-partial", action="store_true", help="sketch over the captured tasks only")
    ap.add_argument("--rotate", type=int, default=0, help="start embedding at the N-th task (a 3rd process)")
    ap.add_argument("--reverse", action="store_true", help="embed tasks in reverse order (a 2nd process)")
    ap.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated subset of {','.join(PARTS)}")
    ap.add_argument(
        "--home", type=Path, default=None, help="registry home to keep and resume (default: temp)"
    )
    ap.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: FUTE_THREADS or torch's)"
    )
    ap.add_argument(
        "--embed",
        default=None,
        help="comma-separated spaces this process computes (default: all); several processes may share "
        "one --home, each embedding other spaces; taskweb.json scores every space complete at the time",
    )
    ap.add_argument(
        "--prompts-per-family", type=int, default=None, help="override the number of FUTE prompts"
    )
    ap.add_argument(
        "--transfer-spaces",
        default=None,
        help="comma-separated spaces the transfer part scores, alone and together (default: every complete one)",
    )
    ap.add_argument("--out", type=Path, default=None, help="results folder (default bench/results[/quick])")
    ap.add_argument("--classifiers", default=None, help="override the comma-separated classifier tasks")
    ap.add_argument(
        "--subset",
        default=None,
        help="score TaskWeb only over the tasks that have a vector in this space (a run cut short); "
        "writes taskweb-subset.json, every method and baseline on the same tasks",
    )
    args = ap.parse_args(argv)
    args.parts = {p for p in args.parts.split(",") if p}
    args.embed = None if args.embed is None else {e for e in args.embed.split(",") if e}
    if args.transfer_spaces is not None:
        args.transfer_spaces = {e for e in args.transfer_spaces.split(",") if e}
    if not args.parts <= set(PARTS):
        ap.error(f"unknown parts {sorted(args.parts - set(PARTS))}; choose from {','.join(PARTS)}")
    return args


def merge_json(path: Path, updates: dict[str, Any]) -> dict[str, Any]:
    """Update a result file's keys, keeping keys other parts wrote (parts may run as separate processes)."""
    doc = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    doc.update(updates)
    write_json(path, doc)
    return doc


def complete_spaces(engine: Engine, cfg: RunConfig) -> list[SpaceSpec]:
    """The run's spaces that hold a vector of every task (another process may still be filling one)."""
    return [s for s in cfg.spaces if all(has_vector(engine.reg, s.label, t, "dataset") for t in cfg.tasks)]


def write_taskweb(engine: Engine, cfg: RunConfig, name: str = "taskweb.json") -> None:
    """Score every complete space (and their fusion) and write ``name``."""
    done = complete_spaces(engine, cfg)
    if not done:
        return
    doc = score_all(engine.reg, replace(cfg, spaces=tuple(done)), taskweb_gold(cfg))
    write_json(cfg.out_dir / name, doc)
    fused_new = {FUSED_NEW} if sum(s.fused_new for s in done) > 1 else set()
    check_taskweb(doc, {s.label for s in done} | {FUSED} | fused_new, set(BASELINES) | {"random"})
    say(f"{name} written with {[s.label for s in done]}")


def write_transfer(engine: Engine, cfg: RunConfig, only: set[str] | None = None) -> None:
    """Score transfer-aware ranking on every complete space (or the complete ones of ``only``) and
    merge it into ``taskweb.json``."""
    done = [s.label for s in complete_spaces(engine, cfg) if only is None or s.label in only]
    if not done:
        say("transfer: no complete space yet; skipped")
        return
    table = shared_dir() / "groundtruth" / "taskweb" / "taskweb_baseline_predictions.csv"
    block = run_transfer(engine.reg, taskweb_gold(cfg), done, table)
    check_transfer(block)
    merge_json(cfg.out_dir / "taskweb.json", {"transfer_aware": block})
    say(f"taskweb.json: transfer_aware written for {done}")


def run(
    engine: Engine,
    cfg: RunConfig,
    parts: set[str],
    capture: StatisticCapture,
    embed: set[str] | None,
    reverse: bool = False,
    partial: bool = False,
    rotate: int = 0,
    transfer_spaces: set[str] | None = None,
) -> None:
    """Run the chosen parts in dependency order, writing and checking each result file.

    Args:
        engine: Engine over the run's registry (tasks and default probe set registered).
        cfg: Run configuration.
        parts: Which of ``PARTS`` to run.
        capture: Where the uncompressed TaskEmb statistics go (sketch part).
        embed: Spaces this process computes (None: all).
        partial: Sketch fidelity over the tasks captured so far (a run cut short).
        reverse: Embed tasks last to first (so two processes filling one space meet in the middle).
        rotate: Start at this task index (wrapping round), for a third process.
        transfer_spaces: Spaces the transfer part scores (None: every complete one).
    """
    out, started = cfg.out_dir, time.perf_counter()
    specs = [s for s in cfg.spaces if embed is None or s.label in embed]
    tasks = tuple(reversed(cfg.tasks)) if reverse else cfg.tasks
    tasks = tasks[rotate:] + tasks[:rotate]
    fute = next(s for s in cfg.spaces if s.label == FUTE_SPACE)
    if fute in specs and parts & {"taskweb", "sketch", "models"}:
        with capturing(capture):
            embed_space(engine, fute, tasks, "default", capture.label if "sketch" in parts else None)
    if "sketch" in parts:
        say("sketch fidelity")
        gold = taskweb_gold(cfg)
        found = fidelity(engine.reg, capture, cfg.tasks, cfg.sketch_dims, partial, gold)
        doc = {**found, "config": cfg.to_dict()}
        write_json(out / "sketch.json", doc)
        check_sketch(doc, cfg.sketch_dims)
    if "models" in parts:
        doc = merge_json(
            out / "unified.json", {**run_models(engine, cfg, FUTE_SPACE), "config": cfg.to_dict()}
        )
        check_unified(doc, {"models"})
    if "taskweb" in parts:
        write_taskweb(engine, cfg)
        for spec in specs:
            if spec is not fute:
                embed_space(engine, spec, tasks, "default")
                write_taskweb(engine, cfg)
    if "transfer" in parts:
        write_transfer(engine, cfg, transfer_spaces)
    if "prompts" in parts:
        doc = merge_json(out / "unified.json", {**run_prompts(engine, cfg, fute), "config": cfg.to_dict()})
        check_unified(doc, {"prompts"})
    say(f"done in {time.perf_counter() - started:.0f} s; results in {out}")


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    args = parse_args(argv)
    cfg = quick_config() if args.quick else reduced_config() if args.reduced else full_config()
    if args.classifiers is not None:
        cfg = replace(cfg, classifier_tasks=tuple(t for t in args.classifiers.split(",") if t))
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        cfg = replace(cfg, out=args.out)
    if args.prompts_per_family is not None:
        cfg = replace(cfg, prompts_per_family=args.prompts_per_family)
    home = args.home or Path(tempfile.mkdtemp(prefix="fute-bench-"))
    try:
        reg = open_registry(home)
        engine = Engine(reg, threads=args.threads)
        say(f"registering {len(cfg.tasks)} TaskWeb tasks (<= {cfg.max_examples} examples each) in {home}")
        register_tasks(reg, cfg.tasks, cfg)
        if args.subset is not None:
            subset = tuple(t for t in cfg.tasks if has_vector(reg, args.subset, t, "dataset"))
            write_taskweb(engine, replace(cfg, tasks=subset), "taskweb-subset.json")
            return 0
        ensure_probe_set(engine, "default", cfg.probes, cfg.tasks)
        run(
            engine,
            cfg,
            args.parts,
            StatisticCapture(home / "sketch-stats"),
            args.embed,
            args.reverse,
            args.sketch_partial,
            args.rotate,
            args.transfer_spaces,
        )
    finally:
        if args.home is None:
            shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
