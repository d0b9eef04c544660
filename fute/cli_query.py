"""CLI commands of the query layer: ``fute query ...``, ``fute transfer import``, ``fute eval``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, cast

from fute.cli_common import Leaf, parse_tags, print_json
from fute.cli_show import show_answer
from fute.cli_transfer import SOURCES_HELP, add_param_flags, add_source_flags, params_from, transfer_options
from fute.cli_types import int_range
from query.answers import QueryAnswer, transfer_import_answer
from query.options import QueryOptions
from query.transfer import ON_CONFLICT, import_transfer_rows, read_csv
from registry.api import Registry
from registry.settings import Settings

EVAL_HELP = """Score the registry's source rankings against imported transfer results.
Per target (candidates = the sources measured for it), with N candidates and gold rank g(s) by score:
  NDCG = DCG(predicted) / DCG(gold order), DCG = sum_i (2^rel_i - 1) / log2(i + 1), rel(s) = N - g(s)
  rho = 1-based position of the truly best source in the predicted order (lower is better)
  Regret@k = best achievable score - best score among the predicted top k (score units);
  regret_at_k_rel divides by the best achievable score.
Means over targets are shown beside a seeded random order (mean over --draws permutations).
The ranking is that of `fute query sources` (transfer-aware by default; see its --help), computed for
each target from a graph without any result into that target (leave-one-target-out); --select nested
picks lam/tau/alpha per target on the other targets only."""


def options(args: argparse.Namespace) -> QueryOptions:
    """Query options from the shared flags."""
    spaces = tuple(s for s in (args.space or "").split(",") if s)
    return QueryOptions(
        k=args.k,
        spaces=spaces,
        where=parse_tags(args.where, "--where"),
        explain=args.explain,
        rrf_k=args.rrf_k,
        transfer=transfer_options(args),
    )


def _show(result: QueryAnswer, as_json: bool) -> None:
    """Print an answer: ``--json`` is the typed answer itself; the text renderer (and its helpers in
    cli_transfer and query.hints) reads it as a plain dict, which it is at run time."""
    show_answer(cast("dict[str, Any]", result), as_json)


def cmd_query(args: argparse.Namespace, settings: Settings) -> int:
    """``fute query sources|models|prompts|similar``."""
    # the query service (rankers, fusion, evaluation) loads only for the commands that query
    from query.service import query_models, query_prompts, query_similar, query_sources

    reg, opts = Registry.open(settings), options(args)
    if args.what == "sources":
        result = query_sources(reg, args.target, opts, include_models=args.include_models)
    elif args.what == "models":
        result = query_models(reg, args.target, opts)
    elif args.what == "prompts":
        result = query_prompts(reg, args.target, opts, llm=args.llm)
    else:
        result = query_similar(reg, args.name, opts, kind=args.kind)
    _show(result, args.json)
    return 0


def cmd_transfer_import(args: argparse.Namespace, settings: Settings) -> int:
    """``fute transfer import FILE.csv``."""
    rows = read_csv(Path(args.file))
    report = import_transfer_rows(Registry.open(settings), rows, args.origin, args.on_conflict)
    print_json(transfer_import_answer(report)) if args.json else print(report.summary())
    return 0


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    """``fute eval``."""
    from query.service import evaluate

    out = evaluate(
        Registry.open(settings),
        args.space,
        args.setting,
        n_draws=args.draws,
        seed=args.seed,
        ranking=args.ranking,
        selection=args.select,
        params=params_from(args),
    )
    if args.json:
        print_json(out)
        return 0
    print(
        f"space {out['space']} ({out['method']}), setting {out['setting']}, {out['n_targets']} targets, "
        f"{out['ranking']} ranking" + (f" ({out['selection']} parameters)" if "selection" in out else "")
    )
    keys = [k for k in out["mean"] if not k.endswith("_rel")]
    print(f"{'':<22}" + "".join(f"{k:>14}" for k in keys))
    for label, row in (
        ("registry (mean)", out["mean"]),
        (f"random ({out['random_draws']} draws)", out["random"]),
    ):
        print(f"{label:<22}" + "".join(f"{row[k]:>14.4f}" for k in keys))
    return 0


def _query_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("-k", type=int, default=5, help="results (1..100)")
    p.add_argument("--space", help="space, or several comma-separated (fused by reciprocal rank fusion)")
    p.add_argument(
        "--where",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="kind=, format=, created_after=, created_before=, any:TAG=VALUE, TAG=VALUE (repeatable)",
    )
    p.add_argument("--explain", action="store_true", help="add the provenance of both vectors")
    p.add_argument(
        "--rrf-k", type=int_range(1, 10_000), default=60, help="reciprocal rank fusion constant (default 60)"
    )


def add_commands(sub: Any, leaf: Leaf) -> None:
    """Attach ``query``, ``transfer`` and ``eval``."""
    group = sub.add_parser("query", help="rank sources, models, prompts, similar entries").add_subparsers(
        dest="query_command", required=True
    )
    for what, help_text in (
        ("sources", "datasets ranked as transfer sources for a target"),
        ("models", "fine-tuned models ranked for a dataset"),
        ("prompts", "prompt+LLM pairs ranked for a dataset"),
        ("similar", "nearest catalogue entries"),
    ):
        p = leaf(group, what, cmd_query, help_text)
        p.set_defaults(what=what)
        if what == "similar":
            p.add_argument("name")
            p.add_argument("--kind", choices=["dataset", "model", "prompt"], help="only entries of this kind")
        else:
            p.add_argument("--target", required=True, help="a registered dataset")
        if what == "sources":
            p.description = SOURCES_HELP
            p.formatter_class = argparse.RawDescriptionHelpFormatter
            p.add_argument("--include-models", action="store_true")
            add_source_flags(p)
        if what == "prompts":
            p.add_argument("--llm", help="only prompts on this LLM")
        _query_flags(p)
    transfer = sub.add_parser("transfer", help="measured transfer results").add_subparsers(
        dest="transfer_command", required=True
    )
    p = leaf(transfer, "import", cmd_transfer_import, "import FILE.csv with source, target, score[, setting]")
    p.add_argument("file")
    p.add_argument("--origin", default="user", help="where the numbers come from (default user)")
    p.add_argument(
        "--on-conflict",
        choices=ON_CONFLICT,
        default="replace",
        help="a (source, target, setting) given twice with different scores, or stored with another "
        "score: keep the first/stored, replace with the last (default), or error (import nothing)",
    )
    p = leaf(sub, "eval", cmd_eval, EVAL_HELP)
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("--space")
    p.add_argument("--setting")
    p.add_argument("--draws", type=int_range(1, 10_000), default=200, help="random-order draws (default 200)")
    p.add_argument("--seed", type=int_range(0, 2**32 - 1), default=0)
    p.add_argument(
        "--ranking", choices=("auto", "transfer", "similarity"), default="auto",
        help="transfer-aware (default; every result into the scored target hidden) or similarity only",
    )  # fmt: skip
    p.add_argument(
        "--select", choices=("fixed", "nested"), default="fixed",
        help="fixed parameters (the flags below) or nested leave-one-target-out selection",
    )  # fmt: skip
    add_param_flags(p)
