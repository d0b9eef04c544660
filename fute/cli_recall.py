"""``fute maintain recall --space S``: recall@k of a space's index against exact search."""

from __future__ import annotations

import argparse
from typing import Any

from fute.cli_common import Leaf, print_json
from registry.api import Registry
from registry.catalogue_reads import space_recall
from registry.settings import Settings


def cmd_recall(args: argparse.Namespace, settings: Settings) -> int:
    """Measure recall on a sample of the space's own vectors; exit 1 below ``--min``."""
    report = space_recall(Registry.open(settings), args.space, sample=args.sample, k=args.k)
    if args.json:
        print_json(report.to_dict())
    else:
        print(
            f"{report.space} ({report.index_type}, {report.index_class}, {report.n_vectors} vectors): "
            f"recall@{report.k} = {report.recall:.3f} over {report.n_queries} queries"
        )
    return 1 if args.min is not None and report.recall < args.min else 0


def add_recall_command(maintain: Any, leaf: Leaf) -> None:
    """Attach ``fute maintain recall``."""
    p = leaf(maintain, "recall", cmd_recall, "recall@k of a space's index against exact search, on a sample")
    p.add_argument("--space", required=True)
    p.add_argument("--sample", type=int, default=200, help="query vectors sampled from the space (200)")
    p.add_argument("--k", type=int, default=10, help="neighbours compared per query (10)")
    p.add_argument("--min", type=float, help="exit 1 when recall is below this value")
