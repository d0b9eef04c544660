"""Flags of the transfer-aware ranking, shared by ``fute query sources`` and ``fute eval``."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import Any

from query.transfer_query import TransferOptions
from query.transfer_rank import TransferParams

SOURCES_HELP = """Datasets ranked as transfer sources for a target (the target itself excluded).

When transfer results are recorded (`fute transfer import`), the ranking is transfer-aware
(--ranking auto, the default; --ranking similarity ignores them):
  zsim(x)  = similarity(t, x) standardised over every dataset but t (several spaces: mean)
  zT(s,p)  = recorded transfer s->p standardised over the sources measured into p
             (no --setting: each setting standardised, then averaged)
  w(p)     = exp(zsim(p) / tau)                       over pivots p != t, s
  graph(s) = (sum_p w(p) zT(s,p) + kappa*wbar*prior(s)) / (sum_p w(p) + kappa*wbar)
  score(s) = lam*z(graph)(s) + (1-lam)*zsim(s) + alpha*[format(s) = format(t)]
prior(s) is s's unweighted mean zT, wbar the mean pivot weight. Defaults, fixed before any
measurement: lam 0.5, tau 1, kappa 1, alpha 0.5, vectors centred on the catalogue mean.
A result measured INTO the target is never used to predict; it is shown as `measured`
(--prefer-measured puts those sources first). --json adds `transfer` (score parts, graph share)
and `evidence` (the pivots, their weights and recorded scores) to each hit."""


def float_in(low: float, high: float) -> Callable[[str], float]:
    """An argparse ``type=`` accepting finite floats in ``[low, high]``."""

    def convert(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not math.isfinite(value) or not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text} is out of range; give a number in [{low:g}, {high:g}]")
        return value

    convert.__name__ = f"number {low:g}..{high:g}"
    return convert


def add_param_flags(p: argparse.ArgumentParser) -> None:
    """``--lam --tau --kappa --alpha --no-center`` (defaults: ``TransferParams``)."""
    d = TransferParams()
    p.add_argument("--lam", type=float_in(0, 1), default=d.lam, help=f"graph weight (default {d.lam})")
    p.add_argument("--tau", type=float_in(1e-3, 1e3), default=d.tau, help=f"pivot temperature ({d.tau})")
    p.add_argument("--kappa", type=float_in(0, 1e6), default=d.kappa, help=f"source-prior weight ({d.kappa})")
    p.add_argument("--alpha", type=float_in(-10, 10), default=d.alpha, help=f"same-format bonus ({d.alpha})")
    p.add_argument("--no-center", action="store_true", help="cosine of raw vectors (not centred)")


def add_source_flags(p: argparse.ArgumentParser) -> None:
    """The transfer flags of ``query sources``."""
    p.add_argument(
        "--ranking", choices=("auto", "transfer", "similarity"), default="auto",
        help="auto: transfer-aware when results are recorded (default)",
    )  # fmt: skip
    p.add_argument("--setting", help="use only results of this setting (default: all, standardised)")
    p.add_argument("--prefer-measured", action="store_true", help="sources measured into the target first")
    add_param_flags(p)


def params_from(args: argparse.Namespace) -> TransferParams:
    """The parameters given on the command line."""
    return TransferParams(
        lam=args.lam, tau=args.tau, kappa=args.kappa, alpha=args.alpha, center=not args.no_center
    )


def transfer_options(args: argparse.Namespace) -> TransferOptions:
    """Transfer options of ``query sources``; defaults for the other query commands."""
    if getattr(args, "what", None) != "sources":
        return TransferOptions()
    return TransferOptions(
        ranking=args.ranking,
        setting=args.setting,
        prefer_measured=args.prefer_measured,
        params=params_from(args),
    )


def transfer_lines(answer: dict[str, Any], explain: bool) -> list[str]:
    """Text lines under a transfer-aware ranking: the rule used, and with ``--explain`` each hit's
    score parts, pivots (weight share, recorded score) and results measured into the target.

    Args:
        answer: A ``query_sources`` answer whose ``query.ranking.mode`` is ``transfer``.
        explain: Add the per-hit evidence.

    Returns:
        Lines without newlines.
    """
    block = answer["query"]["ranking"]
    p = block["params"]
    lines = [
        f"ranking: transfer-aware over recorded results ({block['settings_used']}); "
        f"lam={p['lam']} tau={p['tau']} kappa={p['kappa']} alpha={p['alpha']}; results into the target never used"
    ]
    if not explain:
        return lines
    for r in answer["results"]:
        t = r["transfer"]
        lines.append(
            f"  {r['rank']}. {r['name']}: graph z={t['graph_z']:+.2f} ({t['graph_share']:.0%} of the score), "
            f"similarity z={t['similarity_z']:+.2f}, same format={'yes' if t['same_format'] else 'no'}, "
            f"{t['n_pivots']} pivots"
        )
        for e in r["evidence"]:
            lines.append(f"       via {e['pivot']}: weight {e['weight']:.2f}, recorded {e['score']:+.4f}")
        for m in r["measured"]:
            lines.append(f"       measured into the target ({m['setting']}): {m['score']:+.4f}")
    return lines
