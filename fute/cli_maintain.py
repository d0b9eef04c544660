"""CLI commands of the maintenance jobs: reembed, prune, dedupe (under ``fute maintain``), and
``fute export`` / ``fute import``. Logic lives in ``registry/prune.py``, ``registry/dedupe.py``,
``registry/exchange.py`` and ``ingest/reembed.py``; these handlers parse, call and print."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from fute.cli_common import Leaf, print_json
from registry.api import Registry
from registry.settings import Settings


def cmd_reembed(args: argparse.Namespace, settings: Settings) -> int:
    """``fute maintain reembed --from OLD --to NEW``: exit 1 when a subject failed."""
    from ingest.engine import Engine
    from ingest.reembed import reembed

    reg = Registry.open(settings)
    report = reembed(reg, Engine(reg), args.old, args.new, show_progress=not args.json)
    if args.json:
        print_json(report.to_dict())
    else:
        counts = report.to_dict()["counts"]
        print(
            f"reembed job {report.job_id} {args.old} -> {args.new}: {counts['done']} done, "
            f"{counts['skipped']} skipped, {counts['failed']} failed"
        )
        for e in report.entries:
            if e["status"] == "failed":
                print(f"FAILED {e['key']}: {e['error']}")
    return 0 if report.status == "done" else 1


def cmd_prune(args: argparse.Namespace, settings: Settings) -> int:
    """``fute maintain prune [--dry-run]``."""
    from registry.prune import prune

    report = prune(Registry.open(settings), dry_run=args.dry_run, keep_probe_sets=args.keep_probe_set)
    if args.json:
        print_json(report.to_dict())
        return 0
    verb = "would remove" if args.dry_run else "removed"
    if report.empty:
        print("nothing to prune")
    if report.orphan_embeddings:
        print(f"{verb} {len(report.orphan_embeddings)} embeddings of deleted subjects")
    for name in report.probe_sets:
        print(f"{verb} unreferenced probe set {name}")
    if report.cached_outputs:
        print(f"{verb} {report.cached_outputs} cached black-box outputs")
    for path in report.files:
        print(f"{verb} {path}")
    return 0


def cmd_dedupe(args: argparse.Namespace, settings: Settings) -> int:
    """``fute maintain dedupe [--merge]``."""
    from registry.dedupe import dedupe

    report = dedupe(Registry.open(settings), merge=args.merge)
    if args.json:
        print_json(report.to_dict())
        return 0
    if not report.groups:
        print("no duplicate datasets")
    for g in report.groups:
        state = f"AMBIGUOUS ({g.ambiguous}), not merged" if g.ambiguous else ("merged" if g.merged else "")
        print(f"{g.content_hash[:12]}: keep {g.keep}; duplicates {', '.join(g.duplicates)} {state}".rstrip())
    if report.groups and not args.merge:
        print("merge them into the oldest with `fute maintain dedupe --merge`")
    return 0


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    """``fute export DIR``."""
    from registry.exchange import export_registry

    manifest = export_registry(Registry.open(settings), Path(args.dir))
    if args.json:
        print_json({"dir": args.dir, **manifest})
    else:
        rows = sum(t["rows"] for t in manifest["tables"].values())
        print(f"exported {len(manifest['tables'])} tables ({rows} rows) to {args.dir}")
    return 0


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    """``fute import DIR`` (into an initialised, empty registry)."""
    from registry.exchange import import_registry

    out: dict[str, Any] = import_registry(Registry.open(settings), Path(args.dir))
    if args.json:
        print_json({"dir": args.dir, **out})
    else:
        print(
            f"imported {sum(out['tables'].values())} rows; rebuilt indexes: {', '.join(out['rebuilt']) or 'none'}"
        )
    return 0


def add_commands(sub: Any, maintain: Any, leaf: Leaf) -> None:
    """Register the maintenance commands on the ``fute`` and ``fute maintain`` parsers."""
    p = leaf(maintain, "reembed", cmd_reembed, "compute space NEW for every subject with a vector in OLD")
    p.add_argument("--from", dest="old", required=True, help="source space (stays queryable)")
    p.add_argument(
        "--to", dest="new", required=True, help="target space (create it with `fute spaces create`)"
    )
    p = leaf(
        maintain, "prune", cmd_prune, "remove unreferenced rows, probe sets, cached outputs, stale files"
    )
    p.add_argument("--dry-run", action="store_true", help="list what would be removed, change nothing")
    p.add_argument(
        "--keep-probe-set", action="append", default=[], metavar="NAME", help="keep this unused probe set"
    )
    p = leaf(maintain, "dedupe", cmd_dedupe, "report datasets with identical content hashes")
    p.add_argument("--merge", action="store_true", help="merge each unambiguous group into its oldest member")
    p = leaf(
        sub, "export", cmd_export, "write the catalogue as Parquet tables plus a manifest with checksums"
    )
    p.add_argument("dir", help="new or empty folder")
    p = leaf(sub, "import", cmd_import, "load an export into an empty registry and rebuild its indexes")
    p.add_argument("dir", help="folder written by `fute export`")
