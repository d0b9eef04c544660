"""CLI commands for task data: ``fute ingest ...``, ``fute datasets ...``, ``fute probes ...``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from fute.cli_common import Leaf, embed_into, parse_tags, print_json
from fute.cli_types import int_range
from ingest.formats import FORMATS, ColumnMap
from ingest.names import DEFAULT_POOL
from ingest.sampling import DEFAULT_LIMIT
from registry.errors import AlreadyExistsError, DuplicateDataError
from registry.settings import Settings

# Handlers import the registry and ingestion code they use: building the parser (every command,
# `--help` included) must not pay for modules only some commands need.


def cmd_ingest_dataset(args: argparse.Namespace, settings: Settings) -> int:
    """``fute ingest dataset SOURCE --name NAME``: register (and sample) one dataset."""
    from ingest.register import DatasetRequest, register_dataset
    from registry.api import Registry

    req = DatasetRequest(
        source=args.source,
        name=args.name,
        task_format=args.format,
        columns=ColumnMap(text=args.text, text_pair=args.text_pair, label=args.label),
        limit=args.limit,
        seed=args.seed,
        tags=parse_tags(args.tag),
        allow_duplicate=args.allow_duplicate,
    )
    reg = Registry.open(settings)
    try:
        result = register_dataset(reg, req)
    except AlreadyExistsError as exc:
        if not args.space or isinstance(exc, DuplicateDataError):
            raise
        # a re-run after an interrupted `ingest dataset --space`: the dataset is there, a vector may not be
        spaces = " ".join(f"--space {s}" for s in args.space)
        raise AlreadyExistsError(
            f"a dataset named {args.name!r} already exists; if an earlier run was interrupted before its "
            f"vector was stored, finish it with `fute embed {args.name} {spaces}`; otherwise choose another --name"
        ) from exc
    for warning in result.warnings:
        print(f"fute: warning: {warning}", file=sys.stderr)
    embedded = []
    if args.space:
        from ingest.engine import Engine

        embedded = embed_into(Engine(reg), args.space, result.name, "dataset", args.json)
    if args.json:
        print_json({**result.to_dict(), "embeddings": embedded})
    else:
        labels = f", labels {result.label_set}" if result.label_set else ""
        cols = ", ".join(f"{role}={col}" for role, col in (result.columns or {}).items() if col)
        print(
            f"registered {result.name}: {result.format}, {result.n_examples} of {result.n_source} examples{labels}"
            + (f"; columns {cols}" if cols else "")
        )
    return 0


def cmd_ingest_starter(args: argparse.Namespace, settings: Settings) -> int:
    """``fute ingest starter``: the offline starter catalogue and the default probe set."""
    from ingest.starter import ensure_default_probe_set, register_starter
    from registry.api import Registry

    reg = Registry.open(settings)
    datasets = register_starter(reg, args.limit, args.seed)
    probes = ensure_default_probe_set(reg, args.probes)
    if args.json:
        print_json({"datasets": datasets, "probe_set": probes})
        return 0
    for entry in datasets:
        state = (
            "already registered"
            if entry.get("skipped")
            else f"{entry['format']}, {entry['n_examples']} examples"
        )
        print(f"{entry['name']}: {state}")
    print(
        f"probe set {probes['name']}: "
        + ("already exists" if probes.get("skipped") else f"{probes['n_texts']} texts")
    )
    return 0


def cmd_datasets_list(args: argparse.Namespace, settings: Settings) -> int:
    """``fute datasets list``."""
    from registry import catalogue_reads
    from registry.api import Registry

    rows = catalogue_reads.datasets(Registry.open(settings))
    if args.json:
        print_json(rows)
        return 0
    for r in rows:
        print(
            f"{r['name']:<24} {r['format']:<20} n={r['n_examples']:<6} {r['content_hash'][:12]}  {r['source']}"
        )
    if not rows:
        print("no datasets yet (try `fute ingest starter`)")
    return 0


def cmd_datasets_show(args: argparse.Namespace, settings: Settings) -> int:
    """``fute datasets show NAME``."""
    from registry import catalogue_reads
    from registry.api import Registry

    info = catalogue_reads.dataset_info(Registry.open(settings), args.name)
    if args.json:
        print_json(info)
        return 0
    for key in ("name", "format", "n_examples", "label_set", "source", "content_hash", "tags", "sampling"):
        print(f"{key}: {info[key]}")
    print("spaces: " + (", ".join(e["space"] for e in info["embeddings"]) or "none"))
    for example in info["examples_preview"]:
        print(f"  example: {json.dumps(example, ensure_ascii=False)[:160]}")
    return 0


def cmd_probes_create(args: argparse.Namespace, settings: Settings) -> int:
    """``fute probes create NAME --from SOURCE ...``."""
    from ingest.probes import ProbeRequest, create_probe_set
    from registry.api import Registry

    sources = tuple(args.sources or ([DEFAULT_POOL] if args.default_pool else []))
    req = ProbeRequest(name=args.name, sources=sources, n=args.n, seed=args.seed, exclude=tuple(args.exclude))
    summary = create_probe_set(Registry.open(settings), req)
    print_json(summary) if args.json else print(
        f"probe set {summary['name']}: {summary['n_texts']} texts "
        f"({summary['n_pairs']} pairs), hash {str(summary['content_hash'])[:12]}"
    )
    return 0


def cmd_probes_list(args: argparse.Namespace, settings: Settings) -> int:
    """``fute probes list``."""
    from registry import catalogue_reads
    from registry.api import Registry

    rows = catalogue_reads.probe_sets(Registry.open(settings))
    if args.json:
        print_json(rows)
        return 0
    for r in rows:
        print(f"{r['name']:<20} n={r['n_texts']:<6} {r['content_hash'][:12]} spaces={r['n_spaces']}")
    return 0


def add_commands(sub: Any, ingest: Any, leaf: Leaf) -> None:
    """Attach the data commands to the top-level subparsers (``ingest`` is the ingest group)."""
    p = leaf(
        ingest, "dataset", cmd_ingest_dataset, "register a dataset (pkg:NAME, a local file, or a hub id)"
    )
    p.add_argument(
        "source", help="pkg:NAME | FILE.csv/.tsv/.json/.jsonl/.parquet | hub id name[:config][@split]"
    )
    p.add_argument("--name", required=True, help="unique dataset name")
    p.add_argument("--format", choices=FORMATS, help="task format (detected when omitted)")
    p.add_argument("--text", help="column of the (first) text / the context")
    p.add_argument("--text-pair", help="column of the second text / the question")
    p.add_argument("--label", help="column of the label / the answers")
    p.add_argument(
        "--limit", type=int, default=DEFAULT_LIMIT, help=f"examples kept (default {DEFAULT_LIMIT})"
    )
    p.add_argument("--seed", type=int_range(0, 2**32 - 1), default=0, help="sampling seed (default 0)")
    p.add_argument("--tag", action="append", default=[], metavar="KEY=VALUE", help="tag (repeatable)")
    p.add_argument("--allow-duplicate", action="store_true", help="register even if the same data exists")
    p.add_argument(
        "--space", action="append", default=[], help="embed into this space after registering (repeatable)"
    )
    p = leaf(
        ingest, "starter", cmd_ingest_starter, "register the offline starter catalogue and default probe set"
    )
    # range-checked at parsing: a bad --probes used to fail after the 9 datasets were registered
    p.add_argument(
        "--limit", type=int_range(1, 1_000_000), default=DEFAULT_LIMIT, help="examples per dataset"
    )
    p.add_argument("--seed", type=int_range(0, 2**32 - 1), default=0, help="sampling seed")
    p.add_argument(
        "--probes", type=int_range(1, 1_000_000), default=1000, help="size of the default probe set"
    )
    datasets = sub.add_parser("datasets", help="registered datasets").add_subparsers(
        dest="ds_command", required=True
    )
    leaf(datasets, "list", cmd_datasets_list, "list datasets")
    leaf(datasets, "show", cmd_datasets_show, "show one dataset").add_argument("name")
    probes = sub.add_parser("probes", help="probe sets (FUTE's pool U)").add_subparsers(
        dest="pr_command", required=True
    )
    p = leaf(probes, "create", cmd_probes_create, "create a probe set from one or more sources")
    p.add_argument("name")
    p.add_argument(
        "--from",
        dest="sources",
        action="append",
        metavar="SOURCE",
        help=f"{DEFAULT_POOL} | pkg:NAME | FILE (.txt: one probe per line) | dataset:NAME (repeatable)",
    )
    p.add_argument("--default-pool", action="store_true", help=f"same as --from {DEFAULT_POOL}")
    p.add_argument("--n", type=int, default=1000, help="probes kept (default 1000)")
    # range-checked at parsing: a 20-digit seed reached SQLite ("Python int too large")
    p.add_argument("--seed", type=int_range(0, 2**32 - 1), default=13, help="shuffle seed (default 13)")
    p.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="DATASET",
        help="registered dataset name or content hash whose texts must not appear (repeatable)",
    )
    leaf(probes, "list", cmd_probes_list, "list probe sets")
